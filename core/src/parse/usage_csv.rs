//! Claude Code usage and spend exports from claude.ai / the Console (CSV).
//!
//! Columns are mapped by alias ([`Field`]). With a date column the file gives
//! daily rows; without one, per-person totals over a period: the period comes
//! from start/end columns when the file has both, else from
//! [`ImportOptions::period`], else the import stops with
//! [`ImportError::NeedsPeriod`]. Several rows for the same person and day (or
//! period) are summed, keeping the per-model split (a spend report has one row
//! per person × model).
//!
//! Identity: a cell with an `@` is an e-mail; a typed key (`api-key:…`,
//! `account:…`, `device:…`) is kept as typed; any other text is taken as an
//! API key name (`api-key:<text>`): the Console lists API-key users by their
//! key, and the roster's aliases use the same rule, so a roster alias `ci-bot`
//! maps that key onto a person. An empty e-mail cell falls back to an account
//! id column when the file has one.

use std::collections::hash_map::Entry;
use std::collections::BTreeMap;

use chrono::{Datelike, NaiveDate};
use rustc_hash::{FxHashMap, FxHashSet};

use super::columns::{map_headers, LikelyCounter, Mapping};
use super::records::Record;
use super::text::{is_blank, parse_count, parse_day, parse_usd_micros, shown};
use super::{
    normalise_header, text, Field, FileKind, Import, ImportError, ImportOptions, ImportStream,
    Warning,
};
use crate::coverage::DayRange;
use crate::model::{MeasureSet, Measures, ModelUsage, PeriodRow, PersonKey, Problem, Source};
use crate::table::{date, UsageTable};

/// Reads a usage export from bytes (see the module documentation), without
/// asking what kind of file it is.
pub fn parse(file_name: &str, bytes: &[u8], opts: &ImportOptions) -> Result<Import, ImportError> {
    let mut stream = ImportStream::usage_csv(file_name, opts.clone())?;
    stream.feed(bytes);
    stream.finish()
}

enum Dating {
    /// A date column: one day per row.
    Daily,
    /// Start and end columns: each row's own period.
    RowPeriod,
    /// The period given for the whole file.
    Fixed(NaiveDate, NaiveDate),
}

/// Counters behind the file-level warnings.
#[derive(Default)]
struct Tally {
    other_products: BTreeMap<String, u64>,
    non_email: u64,
    non_email_example: Option<(String, PersonKey)>,
    estimated: u64,
    unknown_model: BTreeMap<String, u64>,
    tokens_without_model: u64,
}

/// A usage export being read record by record: the header is mapped once,
/// each data row is checked and folded straight into its person-day (or
/// period) row; the records themselves are never kept.
pub(crate) struct UsageReader {
    pub(crate) file: String,
    m: Mapping,
    /// (field as index, column) of every mapped field, from `m`.
    cols: Vec<(usize, usize)>,
    /// The last date cell read and its day (a text compare instead of a parse per row).
    last_day: LastDay,
    width: usize,
    header_line: u64,
    delimiter: u8,
    /// How rows are dated, or why they cannot be (said only if the file has rows).
    dating: Result<Dating, ImportError>,
    use_edits: bool,
    carried: MeasureSet,
    import: Import,
    /// Non-blank records after the header.
    records: u64,
    persons: Persons,
    days: DayRows,
    periods: BTreeMap<(NaiveDate, NaiveDate, PersonKey), PeriodRow>,
    tally: Tally,
    likely: LikelyCounter,
    /// Reads the plain lines of a daily export (`None`: every record takes the general path).
    scanner: Option<Scanner>,
}

/// The person-day rows of a file, folded straight into the columns of a
/// table of its own, in order of appearance, and how to find a row again.
/// Exports come day by day, so a row's person-day is looked up among the
/// current day's rows by person number (an array); only a file that
/// returns to an earlier day pays for a hash map of every row.
#[derive(Default)]
struct DayRows {
    table: UsageTable,
    /// The file's person numbers ([`Persons`]) → the table's (`u32::MAX`:
    /// no row yet; a person whose every row is rejected is not in the table).
    in_table: Vec<u32>,
    /// The last day numbered ([`DayRows::number`]).
    last_date: Option<NaiveDate>,
    last_number: i32,
    /// The day being read, and the row of each person on it (`u32::MAX`: none yet).
    day: Option<i32>,
    today: Vec<u32>,
    /// The persons with a row today (to clear `today` when the day changes).
    touched: Vec<u32>,
    /// Days read before the current one.
    earlier: FxHashSet<i32>,
    /// (day, table person) → row, built once a file returns to an earlier day.
    index: Option<FxHashMap<(i32, u32), usize>>,
}

impl DayRows {
    /// `day` as days from the common era (the table's day column), worked
    /// out once per day of the file.
    fn number(&mut self, day: NaiveDate) -> i32 {
        if self.last_date != Some(day) {
            self.last_date = Some(day);
            self.last_number = day.num_days_from_ce();
        }
        self.last_number
    }

    /// The table's number of the file's person `person`, numbering it on its first row.
    fn person(&mut self, person: u32, persons: &Persons) -> u32 {
        let p = person as usize;
        if p >= self.in_table.len() {
            self.in_table.resize(p + 1, u32::MAX);
        }
        if self.in_table[p] == u32::MAX {
            self.in_table[p] = self.table.person_id(persons.key(person));
        }
        self.in_table[p]
    }

    /// The row of (`day`, `person`: the table's number) if there is one;
    /// otherwise notes that the next row pushed is that one.
    fn slot(&mut self, day: i32, person: u32) -> Option<usize> {
        let next = self.table.day_count();
        if let Some(index) = &mut self.index {
            return match index.entry((day, person)) {
                Entry::Occupied(at) => Some(*at.get()),
                Entry::Vacant(at) => {
                    at.insert(next);
                    None
                }
            };
        }
        if self.day != Some(day) {
            if let Some(previous) = self.day {
                self.earlier.insert(previous);
            }
            if self.earlier.contains(&day) {
                let cols = self.table.columns();
                let index = cols
                    .day
                    .iter()
                    .zip(&cols.person)
                    .enumerate()
                    .map(|(i, (&d, &p))| ((d, p), i))
                    .collect();
                self.index = Some(index);
                return self.slot(day, person);
            }
            for p in self.touched.drain(..) {
                self.today[p as usize] = u32::MAX;
            }
            self.day = Some(day);
        }
        let p = person as usize;
        if p >= self.today.len() {
            self.today.resize(p + 1, u32::MAX);
        }
        match self.today[p] {
            u32::MAX => {
                self.today[p] = next as u32;
                self.touched.push(person);
                None
            }
            i => Some(i as usize),
        }
    }
}

/// The people of a file, numbered in order of appearance: a row's person is
/// found from its cell as written, without building its key again.
#[derive(Default)]
struct Persons {
    /// Cells as written (trimmed, not blank), as bytes: the scanner of plain lines looks them up unchecked.
    by_cell: FxHashMap<Box<[u8]>, u32>,
    by_key: FxHashMap<PersonKey, u32>,
    keys: Vec<PersonKey>,
    /// Read as an API key name because the cell is not an e-mail (a guess worth a warning).
    guessed: Vec<bool>,
}

impl Persons {
    fn id(&mut self, key: PersonKey, guessed: bool) -> u32 {
        if let Some(&id) = self.by_key.get(&key) {
            return id;
        }
        let id = self.keys.len() as u32;
        self.by_key.insert(key.clone(), id);
        self.keys.push(key);
        self.guessed.push(guessed);
        id
    }

    fn key(&self, id: u32) -> &PersonKey {
        &self.keys[id as usize]
    }
}

impl UsageReader {
    /// Starts reading after the header record (cells as written, on `header_line`).
    pub(crate) fn new(
        file: &str,
        headers: Vec<String>,
        header_line: u64,
        delimiter: u8,
        opts: &ImportOptions,
    ) -> Result<UsageReader, ImportError> {
        if headers.is_empty() {
            return Err(ImportError::Empty {
                file: file.to_string(),
            });
        }
        let mut m = map_headers(&headers, &opts.column_overrides);
        if !m.has(Field::Email) && !m.has(Field::AccountId) {
            return Err(ImportError::MissingIdentityColumn {
                file: file.to_string(),
                seen: headers,
            });
        }
        let dating = dating(file, &mut m, opts);
        for f in [Field::Name, Field::Team, Field::Aliases] {
            m.drop_field(
                f,
                "names, teams and aliases are read from a roster file, not from usage exports",
            );
        }
        let use_edits = edit_columns(&mut m);
        let carried = m.carried(use_edits);
        let cols = m.index.iter().map(|(f, &i)| (*f as usize, i)).collect();
        let likely = LikelyCounter::new(&m);
        let scanner = matches!(dating, Ok(Dating::Daily))
            .then(|| Scanner::new(&m, &likely, use_edits, headers.len()))
            .flatten();
        Ok(UsageReader {
            file: file.to_string(),
            cols,
            last_day: LastDay::default(),
            width: headers.len(),
            header_line,
            delimiter,
            dating,
            use_edits,
            carried,
            import: Import::new(file, FileKind::UsageCsv),
            records: 0,
            persons: Persons::default(),
            days: DayRows::default(),
            periods: BTreeMap::new(),
            tally: Tally::default(),
            likely,
            scanner,
            m,
        })
    }

    /// Every record read by the general path (the scanner's reference in tests).
    pub(crate) fn without_scanner(&mut self) {
        self.scanner = None;
    }

    /// A plain line (no quote, no carriage return) after the header, read
    /// straight from its bytes when it is ASCII, has the header's width and
    /// every cell it needs is in the usual form (see [`Scanner::scan`]):
    /// exactly what [`UsageReader::record`] does with its record. False
    /// when it is not read (nothing done): split it and read it as a record.
    pub(crate) fn plain_line(&mut self, line: &[u8], opts: &ImportOptions) -> bool {
        let Some(scanner) = &mut self.scanner else {
            return false;
        };
        if !line.is_ascii() {
            return false; // the general path checks the UTF-8 and says where it is wrong
        }
        let Some(read) = scanner.scan(line, self.delimiter, &self.last_day, &self.persons) else {
            return false;
        };
        self.records += 1;
        self.likely.add_row();
        for &(k, from, to) in &scanner.unknown {
            self.likely.add_cell(k, ascii(&line[from..to]));
        }
        self.import.rows_read += 1;
        if self.persons.guessed[read.person as usize] {
            self.tally.non_email += 1;
        }
        let day = match read.day {
            DayCell::Last => self.last_day.1,
            DayCell::New(day, cell) => {
                self.last_day.0.clear();
                self.last_day.0.extend_from_slice(cell);
                self.last_day.1 = day;
                day
            }
        };
        let mut ms = Measures::from_counters(read.counts, 0, false);
        let model = read
            .model
            .map(|cell| trim(ascii(cell)))
            .filter(|v| !is_blank(v))
            .map(str::to_string);
        let model = cost_and_model(&mut ms, read.cost, model, opts, &mut self.tally);
        self.fold(Row {
            person: read.person,
            when: When::Day(day),
            measures: ms,
            model,
        });
        true
    }

    /// One record after the header, starting on `line`.
    pub(crate) fn record(&mut self, record: &Record<'_>, line: u64, opts: &ImportOptions) {
        if record.is_blank() {
            return;
        }
        self.records += 1;
        self.likely.add(|i| record.get(i).unwrap_or(""));
        let Ok(dating) = &self.dating else {
            return; // the file cannot be read without a period; only whether it has rows matters
        };
        self.import.rows_read += 1;
        let (n, width) = (record.len(), self.width);
        if n < width || (width..n).any(|i| !record.get(i).unwrap_or("").trim().is_empty()) {
            self.import.rows_rejected += 1;
            self.import.problems.push(Problem::new(
                &self.file,
                Some(line),
                format!(
                    "this row has {n} fields but the header (line {}) has {width}; a delimiter is missing or extra \
                     (a value containing `{}` must be in double quotes)",
                    self.header_line,
                    char::from(self.delimiter).escape_default()
                ),
            ));
            return;
        }
        // Each mapped cell found and trimmed once.
        let mut cells = Cells([None; Field::ALL.len()]);
        for &(f, i) in &self.cols {
            cells.0[f] = record.get(i).map(trim);
        }
        let cell = |f: Field| cells.get(f);
        if let Some(product) = cell(Field::Product) {
            if !product.is_empty() && !is_claude_code(product) {
                *self.tally.other_products.entry(shown(product)).or_default() += 1;
                return;
            }
        }
        let person = person(&self.m, &cells, &mut self.persons, &mut self.tally);
        match read_row(
            &self.m,
            &cells,
            &mut self.last_day,
            person,
            dating,
            self.use_edits,
            opts,
            &mut self.tally,
        ) {
            Ok(row) => self.fold(row),
            Err(reasons) => {
                self.import.rows_rejected += 1;
                self.import
                    .problems
                    .push(Problem::new(&self.file, Some(line), reasons.join("; ")));
            }
        }
    }

    /// Adds a row to its person-day (or person-period) row.
    fn fold(&mut self, row: Row) {
        // A cost estimated from tokens is known even without a cost column.
        let present = self.carried | row.estimated_cost();
        match row.when {
            When::Day(day) => {
                let person = self.days.person(row.person, &self.persons);
                let day = self.days.number(day);
                let models: Vec<ModelUsage> = row.model.into_iter().collect();
                match self.days.slot(day, person) {
                    Some(i) => self
                        .days
                        .table
                        .absorb_file_day(i, present, &row.measures, &models),
                    None => {
                        self.days
                            .table
                            .push_file_day(day, person, present, &row.measures, models);
                    }
                }
            }
            When::Period(start, end) => {
                let person = self.persons.key(row.person).clone();
                let new = PeriodRow {
                    start,
                    end,
                    person: person.clone(),
                    source: Source::Csv,
                    measures: row.measures,
                    models: row.model.into_iter().collect(),
                    tools: Vec::new(),
                    present,
                };
                match self.periods.get_mut(&(start, end, person.clone())) {
                    Some(have) => have.absorb(&new),
                    None => {
                        self.periods.insert((start, end, person), new);
                    }
                }
            }
        }
    }

    /// Room for about `rows` more person-day rows.
    pub(crate) fn reserve_rows(&mut self, rows: usize) {
        self.days.table.reserve_file_days(rows);
    }

    /// Everything the file gave, once its last record is read: the day rows
    /// in a table of their own (in day-then-person order, no coverage
    /// declared), everything else in the `Import` (its `rows` empty).
    pub(crate) fn finish(self) -> Result<(Import, UsageTable), ImportError> {
        let UsageReader {
            file,
            m,
            dating,
            carried,
            mut import,
            records,
            days,
            periods,
            tally,
            likely,
            ..
        } = self;
        // Before asking for a period: a header without rows has nothing to date.
        if records == 0 {
            return Err(ImportError::Empty { file });
        }
        dating?;
        let mut table = days.table;
        table.seal_file_days();
        import.problems.sort_by_key(|p| p.line);
        let cols = table.columns();
        import.measures = cols
            .present
            .iter()
            .copied()
            .chain(periods.values().map(|p| p.present))
            .fold(carried, |a, b| a | b);
        // Rows are in day order: the first and the last are the span.
        let span = cols
            .day
            .first()
            .zip(cols.day.last())
            .map(|(&a, &b)| DayRange::new(date(a), date(b)));
        import.coverage = DayRange::normalize(
            span.into_iter()
                .chain(
                    periods
                        .values()
                        .filter_map(|p| DayRange::weekly(p.start, p.end)),
                )
                .collect(),
        );
        import.periods = periods.into_values().collect();
        import.warnings = m.warnings.clone();
        import.warnings.extend(tally_warnings(tally, &m));
        if import.rows_read > 0 && table.day_count() == 0 && import.periods.is_empty() {
            import.warnings.push(Warning::NothingUsed);
        }
        import.likely_measures = likely.finish(&m);
        import.columns = m.columns;
        import.ignored_columns = m.ignored;
        Ok((import, table))
    }
}

/// How the file's rows are dated: a date column, start and end columns, or
/// the period given for the file; none of these asks for a period.
fn dating(file: &str, m: &mut Mapping, opts: &ImportOptions) -> Result<Dating, ImportError> {
    let dating = match (
        m.col(Field::Day),
        m.col(Field::StartDate),
        m.col(Field::EndDate),
        opts.period,
    ) {
        (Some(_), ..) => {
            for f in [Field::StartDate, Field::EndDate] {
                m.drop_field(f, "the date column gives each row's day");
            }
            Dating::Daily
        }
        (None, Some(_), Some(_), _) => Dating::RowPeriod,
        (None, _, _, Some((start, end))) => {
            for f in [Field::StartDate, Field::EndDate] {
                m.drop_field(
                    f,
                    "a period needs both a start and an end column; the period given for the file is used",
                );
            }
            Dating::Fixed(start, end)
        }
        (None, ..) => {
            return Err(ImportError::NeedsPeriod {
                file: file.to_string(),
                columns: m.columns.clone(),
            })
        }
    };
    Ok(dating)
}

/// Decides whether edit counts are used; warns when the file gives only a
/// rate or only one of the two counts (the engine needs both counts).
fn edit_columns(m: &mut Mapping) -> bool {
    let (acc, rej) = (m.has(Field::EditsAccepted), m.has(Field::EditsRejected));
    if acc && rej {
        return true;
    }
    if acc || rej {
        let (have, missing) = if acc {
            ("accepted", "rejected")
        } else {
            ("rejected", "accepted")
        };
        for f in [Field::EditsAccepted, Field::EditsRejected] {
            m.drop_field(
                f,
                &format!(
                    "the file gives {have} edits but no {missing} edits; the tool acceptance rate needs both counts, \
                     so this file's edits are not counted rather than making its rate read 0 % or 100 %"
                ),
            );
        }
    }
    if m.has(Field::AcceptRate) {
        let header = m.header(Field::AcceptRate).to_string();
        m.warnings.push(Warning::AcceptRateColumn { header });
    }
    false
}

/// The place of a count field among [`Measures::counters`] (the fields
/// with a measure, cost aside, are in the same order in [`Field::ALL`]).
fn count_place(f: Field) -> Option<usize> {
    Field::ALL
        .into_iter()
        .filter(|f| f.measure().is_some_and(|m| m != MeasureSet::COST))
        .position(|c| c == f)
}

/// What the scanner does with a column's cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Take {
    /// Not read: an ignored column, or one read only by a record the scanner leaves.
    Skip,
    /// A count, at this place of [`Measures::counters`].
    Count(usize),
    Cost,
    Day,
    Email,
    Model,
    Product,
    /// The `k`-th unknown column (counted for the likely measures).
    Unknown(usize),
}

/// Reads the plain lines of a daily export (almost every line of a large
/// one) in one pass over their bytes: each cell is found and decoded by its
/// column's field as the line is split, without a list of cells, a UTF-8
/// check (the line is ASCII) or a trim. Only the usual forms are taken (a
/// count of up to 19 digits, a cost of up to 9 digits and 6 decimals, an
/// ISO day, a person already seen, no blank around a cell that is read);
/// anything else leaves the whole line to the general path, which then
/// does what it always did, every lenient rule and problem included.
struct Scanner {
    /// One per header column.
    takes: Vec<Take>,
    /// The last product cell found to be Claude Code.
    product: Vec<u8>,
    /// The unknown columns' cells of the line read last: (k, from, to).
    unknown: Vec<(usize, usize, usize)>,
}

/// A plain line's decoded cells, borrowing the line.
struct Scanned<'a> {
    person: u32,
    day: DayCell<'a>,
    /// In the order of [`Measures::counters`]; 0 for a field without a column (or an empty cell).
    counts: [u64; 11],
    /// The cost the line gives (`None`: no cost column, or an empty cell).
    cost: Option<i64>,
    /// The model cell as written.
    model: Option<&'a [u8]>,
}

enum DayCell<'a> {
    /// The same text as the last date cell read.
    Last,
    /// A new day, and its cell.
    New(NaiveDate, &'a [u8]),
}

impl Scanner {
    /// The scanner of a daily export whose identity column is the e-mail's
    /// (a blank e-mail, read from the account id, is left to the general path).
    fn new(m: &Mapping, likely: &LikelyCounter, use_edits: bool, width: usize) -> Option<Scanner> {
        m.col(Field::Email)?;
        let mut takes = vec![Take::Skip; width];
        for (&f, &i) in &m.index {
            let take = match f {
                Field::Email => Take::Email,
                Field::Day => Take::Day,
                Field::CostUsd => Take::Cost,
                Field::Model => Take::Model,
                Field::Product => Take::Product,
                Field::EditsAccepted | Field::EditsRejected if !use_edits => Take::Skip,
                f => count_place(f).map_or(Take::Skip, Take::Count),
            };
            *takes.get_mut(i)? = take;
        }
        for (k, i) in likely.column_indexes().enumerate() {
            *takes.get_mut(i)? = Take::Unknown(k);
        }
        Some(Scanner {
            takes,
            product: Vec::new(),
            unknown: Vec::new(),
        })
    }

    /// The cells of `line` (ASCII, no quote, no carriage return) by their
    /// columns' fields, or `None` when the general path must read it: a
    /// field count other than the header's, a cell read that is not in its
    /// usual form (an empty date, a new person, a sign, a thousands
    /// separator, a blank around it…), a product other than Claude Code.
    fn scan<'a>(
        &mut self,
        line: &'a [u8],
        delimiter: u8,
        last_day: &LastDay,
        persons: &Persons,
    ) -> Option<Scanned<'a>> {
        let mut read = Scanned {
            person: u32::MAX,
            day: DayCell::Last,
            counts: [0; 11],
            cost: None,
            model: None,
        };
        let mut dated = false;
        self.unknown.clear();
        let width = self.takes.len();
        let mut at = 0;
        for (col, &take) in self.takes.iter().enumerate() {
            match take {
                Take::Count(k) => {
                    let from = at;
                    let mut n = 0u64;
                    while let Some(d) = line.get(at).and_then(|c| digit(*c)) {
                        n = n.wrapping_mul(10).wrapping_add(d);
                        at += 1;
                    }
                    if at - from > 19 {
                        return None; // may not fit: the general reader decides
                    }
                    read.counts[k] = n;
                }
                Take::Cost => {
                    let from = at;
                    let mut int = 0i64;
                    while let Some(d) = line.get(at).and_then(|c| digit(*c)) {
                        int = int.wrapping_mul(10).wrapping_add(d as i64);
                        at += 1;
                    }
                    let int_len = at - from;
                    let (mut frac, mut frac_len, dot) = (0i64, 0u32, line.get(at) == Some(&b'.'));
                    if dot {
                        at += 1;
                        while let Some(d) = line.get(at).and_then(|c| digit(*c)) {
                            frac = frac.wrapping_mul(10).wrapping_add(d as i64);
                            frac_len += 1;
                            at += 1;
                        }
                    }
                    read.cost = match (int_len, dot) {
                        (0, false) => None, // empty (anything else in it is refused below)
                        (1..=9, _) if (1..=6).contains(&frac_len) || (!dot && frac_len == 0) => {
                            Some(int * 1_000_000 + frac * 10i64.pow(6 - frac_len))
                        }
                        _ => return None,
                    };
                }
                _ => {
                    let to = memchr::memchr(delimiter, &line[at..]).map_or(line.len(), |i| at + i);
                    let cell = &line[at..to];
                    match take {
                        Take::Day => {
                            read.day = if !cell.is_empty() && cell == last_day.0.as_slice() {
                                DayCell::Last
                            } else {
                                DayCell::New(text::iso_day(cell)?, cell)
                            };
                            dated = true;
                        }
                        Take::Email => read.person = *persons.by_cell.get(cell)?,
                        Take::Model => read.model = Some(cell),
                        Take::Product => {
                            let p = trim(ascii(cell));
                            if !p.is_empty() && p.as_bytes() != self.product.as_slice() {
                                if !is_claude_code(p) {
                                    return None; // counted as another product's by the general path
                                }
                                self.product.clear();
                                self.product.extend_from_slice(p.as_bytes());
                            }
                        }
                        Take::Unknown(k) => self.unknown.push((k, at, to)),
                        _ => {}
                    }
                    at = to;
                }
            }
            // The cell must end at a delimiter, or at the line's end after the last column.
            match line.get(at) {
                None if col + 1 == width => {}
                Some(&c) if c == delimiter && col + 1 < width => at += 1,
                _ => return None,
            }
        }
        (dated && read.person != u32::MAX).then_some(read)
    }
}

/// The value of an ASCII digit.
fn digit(c: u8) -> Option<u64> {
    c.is_ascii_digit().then(|| u64::from(c - b'0'))
}

/// ASCII bytes as text (a plain line the scanner reads is ASCII throughout).
fn ascii(cell: &[u8]) -> &str {
    std::str::from_utf8(cell).unwrap_or_default()
}

/// A record's mapped cells by field (trimmed; `None`: no column, or past the record's end).
struct Cells<'a>([Option<&'a str>; Field::ALL.len()]);

impl<'a> Cells<'a> {
    fn get(&self, f: Field) -> Option<&'a str> {
        self.0[f as usize]
    }
}

/// The text of the last date cell read, and its day.
#[derive(Default)]
struct LastDay(Vec<u8>, NaiveDate);

/// `str::trim`, without its Unicode search for the usual cell that starts
/// and ends with a printable ASCII character (no whitespace to remove).
fn trim(cell: &str) -> &str {
    let b = cell.as_bytes();
    let plain = |c: Option<&u8>| c.is_some_and(|&c| (0x21..0x7f).contains(&c));
    if plain(b.first()) && plain(b.last()) {
        cell
    } else {
        cell.trim()
    }
}

enum When {
    Day(NaiveDate),
    Period(NaiveDate, NaiveDate),
}

struct Row {
    /// The person's number in [`Persons`].
    person: u32,
    when: When,
    measures: Measures,
    model: Option<ModelUsage>,
}

impl Row {
    /// Cost, when this row's was estimated from its tokens (no cost column needed).
    fn estimated_cost(&self) -> MeasureSet {
        if self.measures.cost_is_estimated {
            MeasureSet::COST
        } else {
            MeasureSet::empty()
        }
    }
}

/// Reads one data row; every unreadable cell is named in the error list.
// The reader's parts are passed apart: the cells borrow the record while
// the tally and the date cache are written.
#[allow(clippy::too_many_arguments)]
fn read_row(
    m: &Mapping,
    cells: &Cells<'_>,
    last_day: &mut LastDay,
    person: Result<u32, String>,
    dating: &Dating,
    use_edits: bool,
    opts: &ImportOptions,
    tally: &mut Tally,
) -> Result<Row, Vec<String>> {
    let cell = |f: Field| cells.get(f);
    let mut errors: Vec<String> = Vec::new();
    let person = match person {
        Ok(id) => Some(id),
        Err(e) => {
            errors.push(e);
            None
        }
    };
    let mut date_at = |f: Field, errors: &mut Vec<String>| -> Option<NaiveDate> {
        let v = cell(f).unwrap_or("");
        if v.is_empty() {
            errors.push(format!("the date in column `{}` is empty", m.header(f)));
            return None;
        }
        if last_day.0 == v.as_bytes() {
            return Some(last_day.1);
        }
        match parse_day(v) {
            Ok(d) => {
                // Rows come day by day: the next row's cell is most likely the same text.
                last_day.0.clear();
                last_day.0.extend_from_slice(v.as_bytes());
                last_day.1 = d;
                Some(d)
            }
            Err(why) => {
                errors.push(format!(
                    "date `{}` in column `{}` {why}",
                    shown(v),
                    m.header(f)
                ));
                None
            }
        }
    };
    let when = match *dating {
        Dating::Daily => date_at(Field::Day, &mut errors).map(When::Day),
        Dating::Fixed(s, e) => Some(When::Period(s, e)),
        Dating::RowPeriod => {
            match (
                date_at(Field::StartDate, &mut errors),
                date_at(Field::EndDate, &mut errors),
            ) {
                (Some(s), Some(e)) if s <= e => Some(When::Period(s, e)),
                (Some(s), Some(e)) => {
                    errors.push(format!(
                        "the period {s}..{e} (columns `{}` and `{}`) ends before it starts",
                        m.header(Field::StartDate),
                        m.header(Field::EndDate)
                    ));
                    None
                }
                _ => None,
            }
        }
    };
    let mut count = |f: Field| -> u64 {
        let Some(v) = cell(f) else { return 0 };
        match parse_count(v) {
            Ok(n) => n,
            Err(why) => {
                errors.push(format!("`{}` in column `{}` {why}", shown(v), m.header(f)));
                0
            }
        }
    };
    let mut ms = Measures {
        sessions: count(Field::Sessions),
        lines_added: count(Field::LinesAdded),
        lines_removed: count(Field::LinesRemoved),
        commits: count(Field::Commits),
        pull_requests: count(Field::PullRequests),
        input_tokens: count(Field::InputTokens),
        output_tokens: count(Field::OutputTokens),
        cache_read_tokens: count(Field::CacheReadTokens),
        cache_creation_tokens: count(Field::CacheCreationTokens),
        ..Measures::default()
    };
    if use_edits {
        ms.edits_accepted = count(Field::EditsAccepted);
        ms.edits_rejected = count(Field::EditsRejected);
    }
    let given_cost = match cell(Field::CostUsd) {
        None => None,
        Some(v) => match parse_usd_micros(v) {
            Ok(micros) => micros,
            Err(why) => {
                errors.push(format!(
                    "`{}` in column `{}` {why}",
                    shown(v),
                    m.header(Field::CostUsd)
                ));
                None
            }
        },
    };
    let (Some(person), Some(when), true) = (person, when, errors.is_empty()) else {
        return Err(errors);
    };
    let model = cell(Field::Model)
        .filter(|v| !is_blank(v))
        .map(str::to_string);
    let model = cost_and_model(&mut ms, given_cost, model, opts, tally);
    Ok(Row {
        person,
        when,
        measures: ms,
        model,
    })
}

/// The row's cost: the one the file gives, else estimated from its tokens
/// and model (counted in `tally` when it cannot be); and the per-model
/// split when the row names a model and has tokens or a cost.
fn cost_and_model(
    ms: &mut Measures,
    given_cost: Option<i64>,
    model: Option<String>,
    opts: &ImportOptions,
    tally: &mut Tally,
) -> Option<ModelUsage> {
    let has_tokens = ms.input_tokens != 0
        || ms.output_tokens != 0
        || ms.cache_read_tokens != 0
        || ms.cache_creation_tokens != 0;
    match given_cost {
        Some(micros) => ms.cost_micros = micros,
        None if has_tokens => match &model {
            Some(name) => match opts.prices.estimate_micros(
                name,
                ms.input_tokens,
                ms.output_tokens,
                ms.cache_read_tokens,
                ms.cache_creation_tokens,
            ) {
                Some(micros) => {
                    ms.cost_micros = micros;
                    ms.cost_is_estimated = true;
                    tally.estimated += 1;
                }
                None => *tally.unknown_model.entry(shown(name)).or_default() += 1,
            },
            None => tally.tokens_without_model += 1,
        },
        None => {}
    }
    model
        .filter(|_| has_tokens || ms.cost_micros != 0)
        .map(|name| ModelUsage {
            model: name,
            input_tokens: ms.input_tokens,
            output_tokens: ms.output_tokens,
            cache_read_tokens: ms.cache_read_tokens,
            cache_creation_tokens: ms.cache_creation_tokens,
            cost_micros: ms.cost_micros,
            cost_is_estimated: ms.cost_is_estimated,
        })
}

/// The row's person (numbered in `persons`); counts a name read as an API key.
fn person(
    m: &Mapping,
    cells: &Cells<'_>,
    persons: &mut Persons,
    tally: &mut Tally,
) -> Result<u32, String> {
    let cell = |f: Field| cells.get(f);
    if let Some(v) = cell(Field::Email).filter(|v| !is_blank(v)) {
        let id = match persons.by_cell.get(v.as_bytes()) {
            Some(&id) => id,
            None => {
                let key = person_key(v);
                // Only the API-key fallback is a guess worth a warning; typed keys and
                // account ids are what the file said.
                let guessed = key.as_str().starts_with("api-key:") && !v.starts_with("api-key:");
                let id = persons.id(key, guessed);
                persons.by_cell.insert(v.as_bytes().into(), id);
                id
            }
        };
        if persons.guessed[id as usize] {
            tally.non_email += 1;
            if tally.non_email_example.is_none() {
                tally.non_email_example = Some((shown(v), persons.key(id).clone()));
            }
        }
        return Ok(id);
    }
    if let Some(v) = cell(Field::AccountId).filter(|v| !is_blank(v)) {
        return Ok(persons.id(PersonKey::account(v), false));
    }
    Err(if m.has(Field::Email) {
        format!("the e-mail in column `{}` is empty", m.header(Field::Email))
    } else {
        format!(
            "the account id in column `{}` is empty",
            m.header(Field::AccountId)
        )
    })
}

/// The identity rule of this module: `@` → e-mail, typed key kept, else API key name.
pub(crate) fn person_key(v: &str) -> PersonKey {
    let t = v.trim();
    if let Some(address) = text::email_in(t) {
        return PersonKey::email(address);
    }
    if t.contains('@') {
        return PersonKey::email(t);
    }
    if ["api-key:", "account:", "device:"]
        .iter()
        .any(|p| t.starts_with(p))
    {
        if let Some(k) = PersonKey::parse(t) {
            return k;
        }
    }
    PersonKey::api_key(t)
}

/// `Claude Code`, `claude_code`, `Claude Code (web)`; a bare `Code` or `CC` too.
fn is_claude_code(product: &str) -> bool {
    let n = normalise_header(product);
    n.contains("claudecode") || n == "code" || n == "cc"
}

fn tally_warnings(t: Tally, m: &Mapping) -> Vec<Warning> {
    let mut out = Vec::new();
    if !t.other_products.is_empty() {
        out.push(Warning::OtherProducts {
            rows: t.other_products,
        });
    }
    if let Some((example, read_as)) = t.non_email_example {
        out.push(Warning::NonEmailPerson {
            rows: t.non_email,
            column: m.header(Field::Email).to_string(),
            example,
            read_as,
        });
    }
    if t.estimated > 0 {
        out.push(Warning::EstimatedCost { rows: t.estimated });
    }
    if !t.unknown_model.is_empty() {
        out.push(Warning::UnknownModels {
            rows: t.unknown_model.values().sum(),
            models: t.unknown_model.into_keys().collect(),
        });
    }
    if t.tokens_without_model > 0 {
        out.push(Warning::TokensWithoutModel {
            rows: t.tokens_without_model,
        });
    }
    out
}
