//! The compact encoding of a [`RowsAnswer`] (`Accept:
//! application/vnd.scoreboard.rows`, issue 13): the same answer as the JSON,
//! about a tenth of its size to decode and far less on the wire.
//!
//! Columnar: persons, models and tools are dictionary-encoded (each name
//! once, rows hold its index); each field of a row (and of its models and
//! tools) is one column of integers, LEB128 varints (zigzag for signed
//! ones); days are written as the difference to the row before (rows come
//! ordered by day, so mostly 0). A column is written either value by value
//! or as runs (value, count), whichever is shorter: the source, the day
//! step, the measures present and the flags are one run or a few for a
//! whole answer. Columns of similar numbers side by side also compress far
//! better than rows (gzip/brotli, as served). The small parts of the answer
//! (range, periods, counts, imported, coverage, cursor, delta) are one JSON
//! document inside, so every serde rule of the JSON contract holds for them
//! unchanged.
//!
//! Layout (every number a LEB128 varint): the 4 bytes [`MAGIC`]; the JSON
//! head (its length, then its bytes); the row, model and tool counts; the
//! person, model and tool dictionaries (a count, then each name as length
//! and UTF-8 bytes); then the columns in [`COLUMNS`]' order, each as its
//! kind (0 values, 1 runs), its length in bytes and its bytes.
//!
//! The decoder keeps one cursor per column and builds each row from them
//! in one pass: no column is unpacked into memory first, so decoding a
//! body needs little more than the rows it gives. The server writes it and
//! the page reads it with this one definition. A truncated or corrupted
//! body is a [`WireError`] naming what was wrong, never a panic.

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};

use super::{RowsAnswer, RowsDelta};
use crate::coverage::SourceCoverage;
use crate::model::{
    DayRow, MeasureSet, Measures, ModelUsage, PeriodRow, PersonKey, Source, ToolDecisions,
};
use crate::table::{self, ModelEntry, ToolEntry, UsageTable};
use crate::varint::{self, put, unzigzag, zigzag, VarintError};

/// The media type of the compact answer.
pub const CONTENT_TYPE: &str = "application/vnd.scoreboard.rows";
/// "SBR" and the format's version.
pub const MAGIC: [u8; 4] = *b"SBR2";
/// The most rows one body may hold: 10,000 people × the longest range
/// (800 days) is 8 M; a body claiming more is refused before it is read.
const MAX_ROWS: usize = 10_000 * 800;

/// Why a body could not be read as a compact rows answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the rows answer cannot be read: {0}")]
pub struct WireError(String);

fn bad(what: impl Into<String>) -> WireError {
    WireError(what.into())
}

/// The columns, in the order they are written. Row columns have one entry
/// per row, model columns one per model entry (row `i`'s models are the
/// next `models[i]` entries), tool columns one per tool entry.
const COLUMNS: [&str; 29] = [
    // rows
    "source",
    "person",
    "day",
    "present",
    "sessions",
    "lines_added",
    "lines_removed",
    "commits",
    "pull_requests",
    "edits_accepted",
    "edits_rejected",
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_creation_tokens",
    "cost",
    "cost_estimated",
    "models",
    "tools",
    // models
    "model_name",
    "model_input_tokens",
    "model_output_tokens",
    "model_cache_read_tokens",
    "model_cache_creation_tokens",
    "model_cost",
    "model_estimated",
    // tools
    "tool_name",
    "tool_accepted",
    "tool_rejected",
];
const ROW_COLUMNS: usize = 19;
const MODEL_COLUMNS: usize = 7;
const TOOL_COLUMNS: usize = 3;
const _: () = assert!(ROW_COLUMNS + MODEL_COLUMNS + TOOL_COLUMNS == COLUMNS.len());

fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    put(out, b.len() as u64);
    out.extend_from_slice(b);
}

/// One column being written: its values as plain varints, and the fewest
/// bytes its runs can take (each run is its value's bytes and at least one
/// for its count), kept up as values come. A column whose runs cannot be
/// shorter stays plain without being read again; only the others (a few
/// runs: the source, the day step, the flags) are read back to write their
/// runs and compare. Reading every column back to reckon its runs was
/// about a quarter of a 1 M-row answer's making. A push is its bytes
/// appended and a comparison; a column costs its plain bytes, no copy of
/// its values.
struct ColumnWriter {
    plain: Vec<u8>,
    /// The value pushed last.
    last: u64,
    /// The fewest bytes of the runs so far: each value unlike the one
    /// before (the first is, unless it is `u64::MAX`: then this is short
    /// by a run, which only makes it a looser floor) adds its bytes and one.
    runs_floor: usize,
}

impl Default for ColumnWriter {
    fn default() -> ColumnWriter {
        ColumnWriter {
            plain: Vec::new(),
            last: u64::MAX,
            runs_floor: 0,
        }
    }
}

impl ColumnWriter {
    #[inline(always)]
    fn push(&mut self, v: u64) {
        let before = self.plain.len();
        // Most values of most columns fit one byte.
        if v < 0x80 {
            self.plain.push(v as u8);
        } else {
            put(&mut self.plain, v);
        }
        let starts_run = usize::from(v != self.last);
        self.runs_floor += starts_run * (self.plain.len() - before + 1);
        self.last = v;
    }

    /// Calls `run` with each run of equal values (value, count), in order.
    fn runs(&self, mut run: impl FnMut(u64, u64)) {
        let mut r = Reader {
            bytes: &self.plain,
            what: "a column",
        };
        let mut current: (u64, u64) = (0, 0);
        // The plain bytes are this writer's own varints: they read back.
        while let Ok(v) = r.next() {
            if current.1 > 0 && current.0 == v {
                current.1 += 1;
            } else {
                if current.1 > 0 {
                    run(current.0, current.1);
                }
                current = (v, 1);
            }
        }
        if current.1 > 0 {
            run(current.0, current.1);
        }
    }

    /// The column's kind (0 values, 1 runs) and bytes, whichever is shorter.
    fn finish(self) -> (u64, Vec<u8>) {
        if self.runs_floor >= self.plain.len() {
            return (0, self.plain);
        }
        let mut runs = Vec::new();
        self.runs(|v, n| {
            put(&mut runs, v);
            put(&mut runs, n);
        });
        if runs.len() >= self.plain.len() {
            return (0, self.plain);
        }
        (1, runs)
    }
}

/// A reader over a body's bytes.
struct Reader<'a> {
    bytes: &'a [u8],
    what: &'static str,
}

impl<'a> Reader<'a> {
    #[inline(always)]
    fn next(&mut self) -> Result<u64, WireError> {
        // Most values of most columns are one byte.
        if let Some((&b, rest)) = self.bytes.split_first() {
            if b < 0x80 {
                self.bytes = rest;
                return Ok(u64::from(b));
            }
        }
        self.next_long()
    }

    #[inline(never)]
    fn next_long(&mut self) -> Result<u64, WireError> {
        varint::take(&mut self.bytes).map_err(|e| match e {
            VarintError::TooLarge => bad(format!("a number in {} is too large", self.what)),
            VarintError::CutOff => bad(format!("{} ends inside a number (truncated?)", self.what)),
        })
    }

    /// A count of entries, at most `max`.
    fn count(&mut self, max: usize) -> Result<usize, WireError> {
        let n = self.next()?;
        usize::try_from(n)
            .ok()
            .filter(|n| *n <= max)
            .ok_or_else(|| bad(format!("{} claims {n} entries, more than {max}", self.what)))
    }

    fn bytes(&mut self) -> Result<&'a [u8], WireError> {
        let n = self.next()?;
        let Some(n) = usize::try_from(n).ok().filter(|n| *n <= self.bytes.len()) else {
            return Err(bad(format!(
                "{} claims {n} bytes, more than it holds",
                self.what
            )));
        };
        let (b, rest) = self.bytes.split_at(n);
        self.bytes = rest;
        Ok(b)
    }

    fn names(&mut self) -> Result<Vec<&'a str>, WireError> {
        // A name is at least its length byte: a count beyond the bytes is corrupt.
        let n = self.count(self.bytes.len())?;
        (0..n)
            .map(|_| {
                std::str::from_utf8(self.bytes()?)
                    .map_err(|_| bad(format!("a name in {} is not UTF-8", self.what)))
            })
            .collect()
    }
}

/// One column being read: values one by one, or runs.
struct Column<'a> {
    r: Reader<'a>,
    runs: bool,
    value: u64,
    left: u64,
}

impl<'a> Column<'a> {
    fn read(body: &mut Reader<'a>, what: &'static str) -> Result<Column<'a>, WireError> {
        let runs = match body.next()? {
            0 => false,
            1 => true,
            k => return Err(bad(format!("column {what} is of an unknown kind {k}"))),
        };
        let bytes = body.bytes()?;
        Ok(Column {
            r: Reader { bytes, what },
            runs,
            value: 0,
            left: 0,
        })
    }

    /// (Called some thirty times a row: inlined whole, the rest of a run
    /// or a one-byte value costs a few instructions.)
    #[inline(always)]
    fn next(&mut self) -> Result<u64, WireError> {
        if self.left > 0 {
            self.left -= 1;
            return Ok(self.value);
        }
        if !self.runs {
            return self.r.next();
        }
        self.next_run()
    }

    #[inline(never)]
    fn next_run(&mut self) -> Result<u64, WireError> {
        while self.left == 0 {
            self.value = self.r.next()?;
            self.left = self.r.next()?;
        }
        self.left -= 1;
        Ok(self.value)
    }

    #[inline]
    fn signed(&mut self) -> Result<i64, WireError> {
        self.next().map(unzigzag)
    }

    fn flag(&mut self) -> Result<bool, WireError> {
        match self.next()? {
            0 => Ok(false),
            1 => Ok(true),
            v => Err(bad(format!("{} holds {v} where a flag is", self.r.what))),
        }
    }

    fn index(&mut self, len: usize) -> Result<usize, WireError> {
        let i = self.next()?;
        usize::try_from(i)
            .ok()
            .filter(|i| *i < len)
            .ok_or_else(|| bad(format!("{} {i} is not in its dictionary", self.r.what)))
    }

    fn done(&self) -> Result<(), WireError> {
        if self.r.bytes.is_empty() && self.left == 0 {
            Ok(())
        } else {
            Err(bad(format!(
                "column {} holds entries no row claims",
                self.r.what
            )))
        }
    }
}

/// Names by number, in order of first use.
#[derive(Default)]
struct Dict {
    names: Vec<Box<str>>,
    index: rustc_hash::FxHashMap<Box<str>, u64>,
    /// The name after the last one asked for: names tend to come in the
    /// same order again (each day's persons, each row's tools), so it is
    /// looked at before any hashing.
    next: usize,
}

impl Dict {
    fn get(&mut self, name: &str) -> u64 {
        let i = match self.names.get(self.next) {
            Some(n) if **n == *name => self.next as u64,
            _ => match self.index.get(name) {
                Some(i) => *i,
                None => {
                    let i = self.names.len() as u64;
                    self.names.push(name.into());
                    self.index.insert(name.into(), i);
                    i
                }
            },
        };
        self.next = i as usize + 1;
        if self.next == self.names.len() {
            // After the last name, the first comes round again.
            self.next = 0;
        }
        i
    }

    fn write(&self, out: &mut Vec<u8>) {
        put(out, self.names.len() as u64);
        for n in &self.names {
            put_bytes(out, n.as_bytes());
        }
    }

    fn written_len(&self) -> usize {
        varint::len(self.names.len() as u64)
            + self
                .names
                .iter()
                .map(|n| varint::len(n.len() as u64) + n.len())
                .sum::<usize>()
    }
}

fn source_index(s: Source) -> u64 {
    Source::ALL.iter().position(|x| *x == s).unwrap_or(0) as u64
}

/// The parts of an answer besides its rows: the JSON head of the body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Head {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub counts: std::collections::BTreeMap<Source, usize>,
    #[serde(default)]
    pub periods: Vec<PeriodRow>,
    #[serde(default)]
    pub imported: std::collections::BTreeMap<Source, u64>,
    pub coverage: Vec<SourceCoverage>,
    #[serde(default)]
    pub cursor: Option<String>,
    #[serde(default)]
    pub delta: Option<RowsDelta>,
}

/// Writes a compact body row by row, from rows the caller holds only for
/// the call (the server reads them straight out of SQLite): no [`DayRow`]
/// need exist, and the encoder holds only the columns' bytes (about the
/// body's size) and the dictionaries. [`encode`] is this over an answer's rows.
///
/// A row is [`Encoder::row`], then its models ([`Encoder::model`]) and
/// tools ([`Encoder::tool`]), each in order: the row's model and tool
/// counts are what was pushed after it.
#[derive(Default)]
pub struct Encoder {
    cols: Vec<ColumnWriter>,
    persons: Dict,
    models: Dict,
    tools: Dict,
    rows: usize,
    n_models: usize,
    n_tools: usize,
    /// The open row's models and tools so far.
    open: Option<(u64, u64)>,
    last_day: i64,
    counts: std::collections::BTreeMap<Source, usize>,
}

impl Encoder {
    pub fn new() -> Encoder {
        Encoder {
            cols: (0..COLUMNS.len())
                .map(|_| ColumnWriter::default())
                .collect(),
            ..Encoder::default()
        }
    }

    fn close_row(&mut self) {
        if let Some((m, t)) = self.open.take() {
            self.cols[17].push(m);
            self.cols[18].push(t);
        }
    }

    /// Starts a row: its models and tools follow.
    pub fn row(
        &mut self,
        day: NaiveDate,
        source: Source,
        person: &str,
        present: MeasureSet,
        measures: &Measures,
    ) {
        self.close_row();
        let day = i64::from(day.num_days_from_ce());
        let mut m = *measures;
        let step = zigzag(day.wrapping_sub(self.last_day));
        self.last_day = day;
        let person = self.persons.get(person);
        let cols = &mut self.cols;
        cols[0].push(source_index(source));
        cols[1].push(person);
        cols[2].push(step);
        cols[3].push(u64::from(present.bits()));
        for (col, (_, c)) in cols[4..15].iter_mut().zip(Measures::COUNTERS) {
            col.push(*c(&mut m));
        }
        cols[15].push(zigzag(measures.cost_micros));
        cols[16].push(u64::from(measures.cost_is_estimated));
        self.open = Some((0, 0));
        self.rows += 1;
        *self.counts.entry(source).or_insert(0) += 1;
    }

    /// One model of the open row (none open: ignored).
    #[allow(clippy::too_many_arguments)]
    pub fn model(
        &mut self,
        name: &str,
        input_tokens: u64,
        output_tokens: u64,
        cache_read_tokens: u64,
        cache_creation_tokens: u64,
        cost_micros: i64,
        cost_is_estimated: bool,
    ) {
        let Some((m, _)) = &mut self.open else {
            return;
        };
        *m += 1;
        self.n_models += 1;
        let entry = [
            self.models.get(name),
            input_tokens,
            output_tokens,
            cache_read_tokens,
            cache_creation_tokens,
            zigzag(cost_micros),
            u64::from(cost_is_estimated),
        ];
        for (col, v) in self.cols[ROW_COLUMNS..].iter_mut().zip(entry) {
            col.push(v);
        }
    }

    /// One tool of the open row (none open: ignored).
    pub fn tool(&mut self, name: &str, accepted: u64, rejected: u64) {
        let Some((_, t)) = &mut self.open else {
            return;
        };
        *t += 1;
        self.n_tools += 1;
        let entry = [self.tools.get(name), accepted, rejected];
        for (col, v) in self.cols[ROW_COLUMNS + MODEL_COLUMNS..]
            .iter_mut()
            .zip(entry)
        {
            col.push(v);
        }
    }

    /// A whole row.
    pub fn push(&mut self, r: &DayRow) {
        self.row(r.day, r.source, r.person.as_str(), r.present, &r.measures);
        for u in &r.models {
            self.model(
                &u.model,
                u.input_tokens,
                u.output_tokens,
                u.cache_read_tokens,
                u.cache_creation_tokens,
                u.cost_micros,
                u.cost_is_estimated,
            );
        }
        for t in &r.tools {
            self.tool(&t.tool, t.accepted, t.rejected);
        }
    }

    /// Every day row of `table`, in its order, read from its columns (no
    /// [`DayRow`] made): the rows [`Encoder::push`] of each of
    /// [`UsageTable::day_rows`] writes.
    pub fn push_table(&mut self, rows: &UsageTable) {
        let (persons, d) = (rows.persons(), rows.columns());
        for i in 0..d.day.len() {
            let person = persons
                .get(d.person[i] as usize)
                .map_or("", PersonKey::as_str);
            let m = d.m.get(i);
            self.row(table::date(d.day[i]), d.source[i], person, d.present[i], &m);
            let (models, tools) = d.splits.entries(i as u32);
            for u in models {
                self.model(
                    d.splits.model_name(u.name),
                    u.input_tokens,
                    u.output_tokens,
                    u.cache_read_tokens,
                    u.cache_creation_tokens,
                    u.cost_micros,
                    u.cost_is_estimated,
                );
            }
            for t in tools {
                self.tool(d.splits.tool_name(t.name), t.accepted, t.rejected);
            }
        }
    }

    /// Rows pushed so far.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Rows pushed so far, per source (what [`Head::counts`] says of a
    /// full answer).
    pub fn counts(&self) -> &std::collections::BTreeMap<Source, usize> {
        &self.counts
    }

    /// The body: `head`, then the rows pushed. It is allocated once, at
    /// its size; each column's bytes are let go as soon as they are copied.
    pub fn finish(mut self, head: &Head) -> Vec<u8> {
        self.close_row();
        // Plain data: serialising it to JSON cannot fail.
        let head = serde_json::to_vec(head).unwrap_or_default();
        let cols: Vec<(u64, Vec<u8>)> = self.cols.into_iter().map(ColumnWriter::finish).collect();
        let counts = [self.rows, self.n_models, self.n_tools];
        let size = MAGIC.len()
            + varint::len(head.len() as u64)
            + head.len()
            + counts.iter().map(|c| varint::len(*c as u64)).sum::<usize>()
            + [&self.persons, &self.models, &self.tools]
                .iter()
                .map(|d| d.written_len())
                .sum::<usize>()
            + cols
                .iter()
                .map(|(k, b)| varint::len(*k) + varint::len(b.len() as u64) + b.len())
                .sum::<usize>();
        let mut out = Vec::with_capacity(size);
        out.extend_from_slice(&MAGIC);
        put_bytes(&mut out, &head);
        for count in counts {
            put(&mut out, count as u64);
        }
        for dict in [&self.persons, &self.models, &self.tools] {
            dict.write(&mut out);
        }
        for (kind, bytes) in cols {
            put(&mut out, kind);
            put_bytes(&mut out, &bytes);
        }
        debug_assert_eq!(out.len(), size, "the body's size was reckoned exactly");
        out
    }
}

/// The compact body of `answer`.
pub fn encode(answer: &RowsAnswer) -> Vec<u8> {
    let head = Head {
        from: answer.from,
        to: answer.to,
        counts: answer.counts.clone(),
        periods: answer.periods.clone(),
        imported: answer.imported.clone(),
        coverage: answer.coverage.clone(),
        cursor: answer.cursor.clone(),
        delta: answer.delta.clone(),
    };
    let mut e = Encoder::new();
    for r in &answer.rows {
        e.push(r);
    }
    e.finish(&head)
}

/// A body's parts, read up to its columns: what both decoders start from.
struct Opened<'a> {
    head: Head,
    rows: usize,
    models: usize,
    tools: usize,
    persons: Vec<PersonKey>,
    model_names: Vec<&'a str>,
    tool_names: Vec<&'a str>,
    cols: Columns<'a>,
}

/// The columns of a body, by name.
struct Columns<'a> {
    source: Column<'a>,
    person: Column<'a>,
    day_step: Column<'a>,
    present: Column<'a>,
    /// In [`Measures::COUNTERS`]' order.
    counters: [Column<'a>; 11],
    cost: Column<'a>,
    cost_estimated: Column<'a>,
    models: Column<'a>,
    tools: Column<'a>,
    model_name: Column<'a>,
    /// Input, output, cache read and cache creation tokens.
    model_tokens: [Column<'a>; 4],
    model_cost: Column<'a>,
    model_estimated: Column<'a>,
    tool_name: Column<'a>,
    tool_accepted: Column<'a>,
    tool_rejected: Column<'a>,
}

fn open(body: &[u8]) -> Result<Opened<'_>, WireError> {
    let Some(rest) = body.strip_prefix(&MAGIC) else {
        return Err(bad(if body.starts_with(b"SBR") {
            "it is of another format than this page reads; reload the page"
        } else {
            "it does not start like one (wrong content type?)"
        }));
    };
    let mut r = Reader {
        bytes: rest,
        what: "the answer",
    };
    let head: Head =
        serde_json::from_slice(r.bytes()?).map_err(|e| bad(format!("its header: {e}")))?;
    // A run column holds any number of entries in a few bytes, so the
    // counts are bounded on their own, and memory is reserved only for as
    // many rows as the body has bytes: a corrupt count fails on the way
    // instead of allocating what it claims.
    let (rows, models, tools) = (
        r.count(MAX_ROWS)?,
        r.count(MAX_ROWS * 64)?,
        r.count(MAX_ROWS * 64)?,
    );
    let persons = r
        .names()?
        .into_iter()
        .map(|p| PersonKey::parse(p).ok_or_else(|| bad(format!("person {p:?} is not a key"))))
        .collect::<Result<Vec<_>, _>>()?;
    let model_names = r.names()?;
    let tool_names = r.names()?;
    let mut c = Vec::with_capacity(COLUMNS.len());
    for what in COLUMNS {
        c.push(Column::read(&mut r, what)?);
    }
    if !r.bytes.is_empty() {
        return Err(bad(format!(
            "{} bytes follow the end of the answer",
            r.bytes.len()
        )));
    }
    let Ok(c) = <[Column; 29]>::try_from(c) else {
        return Err(bad("the columns are missing"));
    };
    let [source, person, day_step, present, c0, c1, c2, c3, c4, c5, c6, c7, c8, c9, c10, cost, cost_estimated, models_col, tools_col, model_name, t0, t1, t2, t3, model_cost, model_estimated, tool_name, tool_accepted, tool_rejected] =
        c;
    Ok(Opened {
        head,
        rows,
        models,
        tools,
        persons,
        model_names,
        tool_names,
        cols: Columns {
            source,
            person,
            day_step,
            present,
            counters: [c0, c1, c2, c3, c4, c5, c6, c7, c8, c9, c10],
            cost,
            cost_estimated,
            models: models_col,
            tools: tools_col,
            model_name,
            model_tokens: [t0, t1, t2, t3],
            model_cost,
            model_estimated,
            tool_name,
            tool_accepted,
            tool_rejected,
        },
    })
}

impl Columns<'_> {
    /// Row `i`'s day (days from the common era), given the day before.
    fn day(&mut self, i: usize, before: &mut i64) -> Result<i32, WireError> {
        let step = self.day_step.signed()?;
        if step == 0 && i > 0 {
            // The day before, already found to be a date.
            return Ok(*before as i32);
        }
        *before = before.wrapping_add(step);
        i32::try_from(*before)
            .ok()
            .filter(|d| NaiveDate::from_num_days_from_ce_opt(*d).is_some())
            .ok_or_else(|| bad(format!("row {i}: day {before} is not a date")))
    }

    fn present(&mut self, i: usize) -> Result<MeasureSet, WireError> {
        let present = self.present.next()?;
        u16::try_from(present)
            .map(MeasureSet::from_bits_truncate)
            .map_err(|_| bad(format!("row {i}: measures present {present} is not a set")))
    }

    fn measures(&mut self) -> Result<Measures, WireError> {
        let mut measures = Measures {
            cost_micros: self.cost.signed()?,
            cost_is_estimated: self.cost_estimated.flag()?,
            ..Measures::default()
        };
        for (col, (_, field)) in self.counters.iter_mut().zip(Measures::COUNTERS) {
            *field(&mut measures) = col.next()?;
        }
        Ok(measures)
    }

    /// Row `i`'s count of model (or tool) entries, at most `left`, which it takes from.
    fn entries(i: usize, col: &mut Column, left: &mut usize) -> Result<usize, WireError> {
        let k = usize::try_from(col.next()?)
            .ok()
            .filter(|k| *k <= *left)
            .ok_or_else(|| {
                bad(format!(
                    "row {i}: more {} than their columns hold",
                    col.r.what
                ))
            })?;
        *left -= k;
        Ok(k)
    }

    /// A model entry: its name's index and the rest.
    fn model(&mut self, names: usize) -> Result<(usize, [u64; 4], i64, bool), WireError> {
        let name = self.model_name.index(names)?;
        let mut tokens = [0; 4];
        for (t, col) in tokens.iter_mut().zip(&mut self.model_tokens) {
            *t = col.next()?;
        }
        Ok((
            name,
            tokens,
            self.model_cost.signed()?,
            self.model_estimated.flag()?,
        ))
    }

    /// A tool entry: its name's index, accepted, rejected.
    fn tool(&mut self, names: usize) -> Result<(usize, u64, u64), WireError> {
        Ok((
            self.tool_name.index(names)?,
            self.tool_accepted.next()?,
            self.tool_rejected.next()?,
        ))
    }

    /// Every column read to its end.
    fn done(&self, models_left: usize, tools_left: usize) -> Result<(), WireError> {
        if models_left != 0 || tools_left != 0 {
            return Err(bad("the model or tool columns hold entries no row claims"));
        }
        [
            &self.source,
            &self.person,
            &self.day_step,
            &self.present,
            &self.cost,
            &self.cost_estimated,
            &self.models,
            &self.tools,
            &self.model_name,
            &self.model_cost,
            &self.model_estimated,
            &self.tool_name,
            &self.tool_accepted,
            &self.tool_rejected,
        ]
        .into_iter()
        .chain(&self.counters)
        .chain(&self.model_tokens)
        .try_for_each(Column::done)
    }
}

/// Reads a compact body back into the answer [`encode`] was given.
pub fn decode(body: &[u8]) -> Result<RowsAnswer, WireError> {
    let Opened {
        head,
        rows: n,
        models: mut models_left,
        tools: mut tools_left,
        persons,
        model_names,
        tool_names,
        mut cols,
    } = open(body)?;
    // The dictionaries' names as the rows hold them, made once.
    let model_names: Vec<String> = model_names.into_iter().map(str::to_string).collect();
    let tool_names: Vec<String> = tool_names.into_iter().map(str::to_string).collect();
    // (A row takes ~60 bytes of a real body; fewer only in runs.)
    let mut rows = Vec::with_capacity(n.min(body.len() / 16));
    let mut day = 0i64;
    for i in 0..n {
        let date = table::date(cols.day(i, &mut day)?);
        let source = Source::ALL[cols.source.index(Source::ALL.len())?];
        let person = persons[cols.person.index(persons.len())?].clone();
        let present = cols.present(i)?;
        let measures = cols.measures()?;
        let k = Columns::entries(i, &mut cols.models, &mut models_left)?;
        let mut row_models = Vec::with_capacity(k.min(8));
        for _ in 0..k {
            let (name, [input, output, cache_read, cache_creation], cost, estimated) =
                cols.model(model_names.len())?;
            row_models.push(ModelUsage {
                model: model_names[name].clone(),
                input_tokens: input,
                output_tokens: output,
                cache_read_tokens: cache_read,
                cache_creation_tokens: cache_creation,
                cost_micros: cost,
                cost_is_estimated: estimated,
            });
        }
        let k = Columns::entries(i, &mut cols.tools, &mut tools_left)?;
        let mut row_tools = Vec::with_capacity(k.min(8));
        for _ in 0..k {
            let (name, accepted, rejected) = cols.tool(tool_names.len())?;
            row_tools.push(ToolDecisions {
                tool: tool_names[name].clone(),
                accepted,
                rejected,
            });
        }
        rows.push(DayRow {
            day: date,
            person,
            source,
            measures,
            models: row_models,
            tools: row_tools,
            present,
        });
    }
    cols.done(models_left, tools_left)?;
    Ok(RowsAnswer {
        from: head.from,
        to: head.to,
        counts: head.counts,
        rows,
        periods: head.periods,
        imported: head.imported,
        coverage: head.coverage,
        cursor: head.cursor,
        delta: head.delta,
    })
}

/// A compact answer read into a table: its day rows are the table's (no
/// period rows or coverage put in; those are in `head`).
#[derive(Debug, Clone)]
pub struct TableAnswer {
    pub head: Head,
    /// The day rows the body holds (the table has fewer when two of them
    /// are of one source, person and day: the later replaces).
    pub rows: usize,
    pub table: UsageTable,
}

/// Reads a compact body straight into a table's columns: the table
/// [`UsageTable::insert_days`] makes of [`decode`]'s rows, with no
/// [`DayRow`] made on the way. Persons are numbered as the table numbers
/// them (first row first, one number per key); the row index is left to
/// the first later load that needs it, once the rows are known to be one
/// per (source, person, day) (a body that repeats one is read as
/// `insert_days` reads it).
pub fn decode_table(body: &[u8]) -> Result<TableAnswer, WireError> {
    let Opened {
        head,
        rows: n,
        models: mut models_left,
        tools: mut tools_left,
        persons,
        model_names,
        tool_names,
        mut cols,
    } = open(body)?;
    let mut table = UsageTable::new();
    // As many rows as the body's bytes allow (see `decode`).
    let room = n.min(body.len() / 16);
    table.reserve_file_days(room);
    // The dictionaries' numbers → the table's, found at first use.
    let mut person_ids = vec![u32::MAX; persons.len()];
    let splits = table.splits_mut();
    splits.reserve(room, models_left.min(room), tools_left.min(body.len() / 4));
    let model_ids: Vec<u32> = model_names.iter().map(|m| splits.model_id(m)).collect();
    let tool_ids: Vec<u32> = tool_names.iter().map(|t| splits.tool_id(t)).collect();
    let mut day = 0i64;
    for i in 0..n {
        let row_day = cols.day(i, &mut day)?;
        let source = Source::ALL[cols.source.index(Source::ALL.len())?];
        let p = cols.person.index(persons.len())?;
        if person_ids[p] == u32::MAX {
            person_ids[p] = table.person_id(&persons[p]);
        }
        let present = cols.present(i)?;
        let measures = cols.measures()?;
        let row = table.push_day(row_day, person_ids[p], source, present, &measures) as u32;
        let splits = table.splits_mut();
        let mark = splits.mark();
        for _ in 0..Columns::entries(i, &mut cols.models, &mut models_left)? {
            let (name, [input, output, cache_read, cache_creation], cost, estimated) =
                cols.model(model_ids.len())?;
            splits.push_model(ModelEntry {
                name: model_ids[name],
                input_tokens: input,
                output_tokens: output,
                cache_read_tokens: cache_read,
                cache_creation_tokens: cache_creation,
                cost_micros: cost,
                cost_is_estimated: estimated,
            });
        }
        for _ in 0..Columns::entries(i, &mut cols.tools, &mut tools_left)? {
            let (name, accepted, rejected) = cols.tool(tool_ids.len())?;
            splits.push_tool(ToolEntry {
                name: tool_ids[name],
                accepted,
                rejected,
            });
        }
        splits.close_row(row, mark);
    }
    cols.done(models_left, tools_left)?;
    if !table.day_keys_unique() {
        // Rows of one key: the later replaces the earlier measure by
        // measure, which `insert_days` does. No server writes such a body.
        let rows: Vec<DayRow> = table.day_rows().collect();
        table = UsageTable::new();
        table.insert_days(rows);
    }
    Ok(TableAnswer {
        head,
        rows: n,
        table,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::RowScope;
    use crate::coverage::{DayRange, Freshness};
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    fn day(n: i32) -> NaiveDate {
        NaiveDate::from_num_days_from_ce_opt(739_000 + n).unwrap_or_default()
    }

    fn arb_row() -> impl Strategy<Value = DayRow> {
        arb_row_within(800)
    }

    /// A row of one of `days` days: few days make rows of one (source,
    /// person, day) likely.
    fn arb_row_within(days: i32) -> impl Strategy<Value = DayRow> {
        (
            0i32..days,
            0usize..6,
            0usize..4,
            proptest::array::uniform11(any::<u64>()),
            any::<i64>(),
            any::<bool>(),
            proptest::collection::vec(
                (0usize..3, any::<[u64; 4]>(), any::<i64>(), any::<bool>()),
                0..3,
            ),
            proptest::collection::vec((0usize..3, any::<u64>(), any::<u64>()), 0..3),
            0u16..0x800,
        )
            .prop_map(|(d, p, s, c, cost, est, models, tools, present)| {
                let mut measures = Measures {
                    cost_micros: cost,
                    cost_is_estimated: est,
                    ..Measures::default()
                };
                for (v, (_, f)) in c.iter().zip(Measures::COUNTERS) {
                    *f(&mut measures) = *v;
                }
                let persons = [
                    "a@x.io",
                    "b@x.io",
                    "api-key:ci",
                    "device:9",
                    "account:u1",
                    "é@x.io",
                ];
                DayRow {
                    day: day(d),
                    person: PersonKey::parse(persons[p])
                        .unwrap_or_else(|| PersonKey::email("z@x.io")),
                    source: Source::ALL[s],
                    measures,
                    models: models
                        .into_iter()
                        .map(|(m, t, cost, est)| ModelUsage {
                            model: ["opus", "sonnet", "haiku"][m].into(),
                            input_tokens: t[0],
                            output_tokens: t[1],
                            cache_read_tokens: t[2],
                            cache_creation_tokens: t[3],
                            cost_micros: cost,
                            cost_is_estimated: est,
                        })
                        .collect(),
                    tools: tools
                        .into_iter()
                        .map(|(t, a, r)| ToolDecisions {
                            tool: ["Edit", "Write", "MultiEdit"][t].into(),
                            accepted: a,
                            rejected: r,
                        })
                        .collect(),
                    present: MeasureSet::from_bits_truncate(present),
                }
            })
    }

    fn answer(rows: Vec<DayRow>) -> RowsAnswer {
        let mut counts = BTreeMap::new();
        for r in &rows {
            *counts.entry(r.source).or_insert(0) += 1;
        }
        let first = rows.first().map(|r| r.person.clone());
        let periods = rows
            .iter()
            .take(2)
            .map(|r| PeriodRow {
                start: r.day,
                end: r.day,
                person: r.person.clone(),
                source: Source::Csv,
                measures: r.measures,
                models: r.models.clone(),
                tools: Vec::new(),
                present: r.present,
            })
            .collect();
        RowsAnswer {
            rows,
            periods,
            from: day(0),
            to: day(800),
            counts,
            imported: BTreeMap::from([(Source::Csv, 2)]),
            coverage: vec![SourceCoverage {
                source: Source::Otlp,
                ranges: vec![DayRange::new(day(3), day(9))],
                freshness: Some(Freshness {
                    last_ok: Some(day(9)),
                    failing: false,
                }),
            }],
            cursor: Some("c1.x".into()),
            delta: first.map(|person| RowsDelta {
                replaced: vec![
                    RowScope::Person {
                        source: Source::Otlp,
                        person,
                    },
                    RowScope::Day {
                        source: Source::AdminApi,
                        day: day(4),
                    },
                ],
            }),
        }
    }

    proptest! {
        #[test]
        fn a_column_is_written_as_values_or_runs_whichever_is_shorter(
            values in proptest::collection::vec(prop_oneof![0u64..3, Just(u64::MAX), any::<u64>()], 0..200),
        ) {
            let mut w = ColumnWriter::default();
            let mut plain = Vec::new();
            for v in &values {
                w.push(*v);
                put(&mut plain, *v);
            }
            let mut runs = Vec::new();
            for chunk in values.chunk_by(|a, b| a == b) {
                put(&mut runs, chunk[0]);
                put(&mut runs, chunk.len() as u64);
            }
            let want = if runs.len() < plain.len() { (1, runs) } else { (0, plain) };
            prop_assert_eq!(w.finish(), want);
        }

        #[test]
        fn any_rows_read_back_equal_after_encoding(rows in proptest::collection::vec(arb_row(), 0..60)) {
            let a = answer(rows);
            prop_assert_eq!(decode(&encode(&a)), Ok(a));
        }

        #[test]
        fn a_truncated_or_corrupted_body_is_an_error_never_a_panic(
            rows in proptest::collection::vec(arb_row(), 1..20),
            cut in any::<prop::sample::Index>(),
            flip in any::<prop::sample::Index>(),
            byte in any::<u8>(),
        ) {
            let body = encode(&answer(rows));
            let at = cut.index(body.len());
            prop_assert!(decode(&body[..at]).is_err());
            let mut corrupted = body.clone();
            let i = flip.index(corrupted.len());
            corrupted[i] = byte;
            // Either an error or some answer: never a panic.
            let _ = decode(&corrupted);
        }
    }

    /// The table the engine held before decoding went straight into the
    /// columns: every row a `DayRow`, inserted one by one (the oracle).
    fn inserted(body: &[u8]) -> Result<UsageTable, WireError> {
        let mut t = UsageTable::new();
        t.insert_days(decode(body)?.rows);
        Ok(t)
    }

    /// Two tables hold the same rows in the same order and number the same
    /// persons: the columns the engine reads are the same.
    fn assert_same_table(got: &UsageTable, want: &UsageTable) -> Result<(), TestCaseError> {
        prop_assert_eq!(
            got.day_rows().collect::<Vec<_>>(),
            want.day_rows().collect::<Vec<_>>()
        );
        prop_assert_eq!(got.persons(), want.persons());
        prop_assert_eq!(got.day_counts(), want.day_counts());
        prop_assert_eq!(got.coverage(), want.coverage());
        Ok(())
    }

    fn arb_rows() -> impl Strategy<Value = Vec<DayRow>> {
        prop_oneof![
            proptest::collection::vec(arb_row(), 0..60),
            // Rows of one key repeated: the later replaces.
            proptest::collection::vec(arb_row_within(3), 0..30),
            // In a server's order (by day, then person), one row a key.
            proptest::collection::vec(arb_row(), 0..60).prop_map(|mut rows| {
                rows.sort_by(|a, b| (a.day, &a.person).cmp(&(b.day, &b.person)));
                rows.dedup_by(|a, b| (a.day, &a.person, a.source) == (b.day, &b.person, b.source));
                rows
            }),
        ]
    }

    proptest! {
        #[test]
        fn decoding_into_the_table_gives_the_table_of_the_decoded_rows(
            rows in arb_rows(),
            later in proptest::collection::vec(arb_row_within(20), 0..20),
        ) {
            let a = answer(rows);
            let body = encode(&a);
            let got = decode_table(&body).map_err(|e| TestCaseError::fail(e.to_string()))?;
            let mut want = inserted(&body).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(got.rows, a.rows.len());
            prop_assert_eq!(&got.head.delta, &a.delta);
            prop_assert_eq!(&got.head.cursor, &a.cursor);
            prop_assert_eq!(&got.head.periods, &a.periods);
            prop_assert_eq!(&got.head.coverage, &a.coverage);
            let mut got = got.table;
            assert_same_table(&got, &want)?;
            // A later load finds the rows again (the row index made late).
            prop_assert_eq!(got.insert_days(later.clone()), want.insert_days(later));
            assert_same_table(&got, &want)?;
        }

        #[test]
        fn a_corrupted_body_fails_into_the_table_as_it_fails_into_rows(
            rows in proptest::collection::vec(arb_row(), 1..20),
            flip in any::<prop::sample::Index>(),
            byte in any::<u8>(),
        ) {
            let mut body = encode(&answer(rows));
            let i = flip.index(body.len());
            body[i] = byte;
            match (decode_table(&body), inserted(&body)) {
                (Ok(got), Ok(want)) => assert_same_table(&got.table, &want)?,
                (got, want) => prop_assert_eq!(got.err(), want.err()),
            }
        }

        #[test]
        fn a_table_is_encoded_as_its_rows_are(rows in arb_rows()) {
            let a = answer(rows);
            let table = inserted(&encode(&a)).map_err(|e| TestCaseError::fail(e.to_string()))?;
            let head = Head {
                from: a.from,
                to: a.to,
                counts: a.counts.clone(),
                periods: Vec::new(),
                imported: BTreeMap::new(),
                coverage: Vec::new(),
                cursor: None,
                delta: None,
            };
            let mut by_row = Encoder::new();
            for r in table.day_rows() {
                by_row.push(&r);
            }
            let mut by_column = Encoder::new();
            by_column.push_table(&table);
            prop_assert_eq!(by_column.finish(&head), by_row.finish(&head));
        }
    }

    #[test]
    fn a_json_body_is_named_as_the_wrong_format() {
        let e = decode(br#"{"from":"2026-01-01"}"#).unwrap_err();
        assert!(e.to_string().contains("does not start like one"), "{e}");
        let e = decode(b"SBR1....").unwrap_err();
        assert!(e.to_string().contains("another format"), "{e}");
    }

    #[test]
    fn a_body_claiming_huge_columns_is_refused_without_allocating_them() {
        // A row count of 2^62 after a valid header.
        let mut body = MAGIC.to_vec();
        let head = serde_json::to_vec(&Head {
            from: day(0),
            to: day(1),
            counts: BTreeMap::new(),
            periods: Vec::new(),
            imported: BTreeMap::new(),
            coverage: Vec::new(),
            cursor: None,
            delta: None,
        })
        .unwrap_or_default();
        put_bytes(&mut body, &head);
        let after_head = body.len();
        put(&mut body, 1 << 62);
        body.extend([0; 8]);
        let e = decode(&body).unwrap_err();
        assert!(e.to_string().contains("claims"), "{e}");
        // A count within the bound, but runs of one row each would need
        // far more bytes than follow: an error, after little allocation.
        body.truncate(after_head);
        put(&mut body, MAX_ROWS as u64);
        body.extend([0; 8]);
        assert!(decode(&body).is_err());
    }

    #[test]
    fn constant_columns_are_written_as_runs() {
        // 10,000 rows of one source, one day and the same measures present:
        // each of those columns is a few bytes, not one per row.
        let rows: Vec<DayRow> = (0..10_000)
            .map(|i| {
                let mut r = DayRow::new(
                    day(1),
                    PersonKey::email(&format!("p{i}@x.io")),
                    Source::AdminApi,
                );
                r.measures.sessions = i % 5;
                r
            })
            .collect();
        let a = answer(rows);
        let body = encode(&a);
        // person index (2 bytes from 128 on) and sessions (1 byte) per row,
        // plus the person dictionary (~11 bytes a name).
        assert!(body.len() < 10_000 * (2 + 1 + 12), "{} bytes", body.len());
        assert_eq!(decode(&body), Ok(a));
    }

    #[test]
    fn a_delta_removes_its_scopes_and_adds_its_rows() {
        let row = |d: i32, p: &str, s: Source| DayRow::new(day(d), PersonKey::email(p), s);
        let mut held = vec![
            row(1, "a@x.io", Source::Otlp),
            row(2, "a@x.io", Source::Otlp),
            row(1, "b@x.io", Source::Otlp),
            row(4, "b@x.io", Source::AdminApi),
            row(5, "b@x.io", Source::AdminApi),
        ];
        let mut next = answer(vec![row(3, "a@x.io", Source::Otlp)]);
        next.delta = Some(RowsDelta {
            replaced: vec![
                RowScope::Person {
                    source: Source::Otlp,
                    person: PersonKey::email("a@x.io"),
                },
                RowScope::Day {
                    source: Source::AdminApi,
                    day: day(4),
                },
            ],
        });
        RowsAnswer::apply(&mut held, &mut next);
        assert_eq!(
            held,
            vec![
                row(1, "b@x.io", Source::Otlp),
                row(5, "b@x.io", Source::AdminApi),
                row(3, "a@x.io", Source::Otlp),
            ]
        );
        next.delta = None;
        next.rows = vec![row(7, "c@x.io", Source::Csv)];
        RowsAnswer::apply(&mut held, &mut next);
        assert_eq!(held, vec![row(7, "c@x.io", Source::Csv)]);
    }
}
