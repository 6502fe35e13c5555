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
use std::collections::{BTreeMap, HashMap};

use chrono::NaiveDate;

use super::columns::{map_headers, Mapping};
use super::text::{is_blank, parse_count, parse_day, parse_usd, shown};
use super::{
    check_period, normalise_header, read_csv, text, Field, FileKind, Import, ImportError,
    ImportOptions, Warning,
};
use crate::coverage::DayRange;
use crate::model::{
    usd_to_micros, DayRow, MeasureSet, Measures, ModelUsage, PeriodRow, PersonKey, Problem, Source,
};

/// Reads a usage export from bytes (see the module documentation).
pub fn parse(file_name: &str, bytes: &[u8], opts: &ImportOptions) -> Result<Import, ImportError> {
    let text = text::decode(file_name, bytes)?;
    parse_text(file_name, &text, opts)
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

pub(crate) fn parse_text(
    file: &str,
    text: &str,
    opts: &ImportOptions,
) -> Result<Import, ImportError> {
    check_period(file, opts)?;
    let csv = read_csv(text, None);
    if csv.headers.is_empty() {
        return Err(ImportError::Empty {
            file: file.to_string(),
        });
    }
    let mut m = map_headers(&csv.headers, &opts.column_overrides);
    if !m.has(Field::Email) && !m.has(Field::AccountId) {
        return Err(ImportError::MissingIdentityColumn {
            file: file.to_string(),
            seen: csv.headers.clone(),
        });
    }
    // Before asking for a period: a header without rows has nothing to date.
    if csv.records.is_empty() && csv.errors.is_empty() {
        return Err(ImportError::Empty {
            file: file.to_string(),
        });
    }
    let dating = dating(file, &mut m, opts)?;
    for f in [Field::Name, Field::Team, Field::Aliases] {
        m.drop_field(
            f,
            "names, teams and aliases are read from a roster file, not from usage exports",
        );
    }
    let use_edits = edit_columns(&mut m);
    let carried = m.carried(use_edits);

    let mut import = Import::new(file, FileKind::UsageCsv);
    // Rows in file order plus an index by person-day: one hash lookup and at
    // most one key clone per row (a BTreeMap walk compared e-mails at every level).
    let mut days: Vec<DayRow> = Vec::new();
    let mut day_index: HashMap<(NaiveDate, PersonKey), usize> = HashMap::new();
    let mut periods: BTreeMap<(NaiveDate, NaiveDate, PersonKey), PeriodRow> = BTreeMap::new();
    let mut tally = Tally::default();

    for (line, record) in csv.rows_to_use(file, &mut import) {
        let cell = |f: Field| m.col(f).and_then(|i| record.get(i)).map(str::trim);
        if let Some(product) = cell(Field::Product) {
            if !product.is_empty() && !is_claude_code(product) {
                *tally.other_products.entry(shown(product)).or_default() += 1;
                continue;
            }
        }
        match read_row(&m, &cell, &dating, use_edits, opts, &mut tally) {
            Ok(row) => match row.when {
                When::Day(day) => {
                    // A cost estimated from tokens is known even without a cost column.
                    let present = carried | row.estimated_cost();
                    let new_row = |person: PersonKey| {
                        let mut new = DayRow::new(day, person, Source::Csv);
                        new.measures = row.measures;
                        new.models.extend(row.model.clone());
                        new.present = present;
                        new
                    };
                    match day_index.entry((day, row.person)) {
                        Entry::Occupied(at) => {
                            let new = new_row(at.key().1.clone());
                            days[*at.get()].absorb(&new);
                        }
                        Entry::Vacant(at) => {
                            let new = new_row(at.key().1.clone());
                            at.insert(days.len());
                            days.push(new);
                        }
                    }
                }
                When::Period(start, end) => {
                    let present = carried | row.estimated_cost();
                    let new = PeriodRow {
                        start,
                        end,
                        person: row.person.clone(),
                        source: Source::Csv,
                        measures: row.measures,
                        models: row.model.into_iter().collect(),
                        tools: Vec::new(),
                        present,
                    };
                    match periods.get_mut(&(start, end, row.person.clone())) {
                        Some(have) => have.absorb(&new),
                        None => {
                            periods.insert((start, end, row.person), new);
                        }
                    }
                }
            },
            Err(reasons) => {
                import.rows_rejected += 1;
                import
                    .problems
                    .push(Problem::new(file, Some(line), reasons.join("; ")));
            }
        }
    }
    import.problems.sort_by_key(|p| p.line);
    drop(day_index);
    // Sorted by day then person, as before; exports usually come sorted already.
    if !days.is_sorted_by(|a, b| day_order(a, b).is_le()) {
        days.sort_unstable_by(day_order);
    }
    import.measures = days
        .iter()
        .map(|r| r.present)
        .chain(periods.values().map(|p| p.present))
        .fold(carried, |a, b| a | b);
    import.coverage = DayRange::normalize(
        DayRange::span(days.iter().map(|r| r.day))
            .into_iter()
            .chain(
                periods
                    .values()
                    .filter_map(|p| DayRange::weekly(p.start, p.end)),
            )
            .collect(),
    );
    import.rows = days;
    import.periods = periods.into_values().collect();
    import.warnings = m.warnings.clone();
    import.warnings.extend(tally_warnings(tally, &m));
    if import.rows_read > 0 && import.rows.is_empty() && import.periods.is_empty() {
        import.warnings.push(Warning::NothingUsed);
    }
    import.likely_measures =
        super::columns::likely_measures(&m, csv.records.iter().map(|(_, r)| r));
    import.columns = m.columns;
    import.ignored_columns = m.ignored;
    Ok(import)
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

/// Day, then person: the order of [`Import::rows`].
fn day_order(a: &DayRow, b: &DayRow) -> std::cmp::Ordering {
    a.day.cmp(&b.day).then_with(|| a.person.cmp(&b.person))
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

enum When {
    Day(NaiveDate),
    Period(NaiveDate, NaiveDate),
}

struct Row {
    person: PersonKey,
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
fn read_row<'a>(
    m: &Mapping,
    cell: &dyn Fn(Field) -> Option<&'a str>,
    dating: &Dating,
    use_edits: bool,
    opts: &ImportOptions,
    tally: &mut Tally,
) -> Result<Row, Vec<String>> {
    let mut errors: Vec<String> = Vec::new();
    let person = match identity(m, cell) {
        Ok((key, raw)) => {
            // Only the API-key fallback is a guess worth a warning; typed keys and
            // account ids are what the file said.
            if key.as_str().starts_with("api-key:") && !raw.starts_with("api-key:") {
                tally.non_email += 1;
                if tally.non_email_example.is_none() {
                    tally.non_email_example = Some((shown(raw), key.clone()));
                }
            }
            Some(key)
        }
        Err(e) => {
            errors.push(e);
            None
        }
    };
    let date_at = |f: Field, errors: &mut Vec<String>| -> Option<NaiveDate> {
        let v = cell(f).unwrap_or("");
        if v.is_empty() {
            errors.push(format!("the date in column `{}` is empty", m.header(f)));
            return None;
        }
        match parse_day(v) {
            Ok(d) => Some(d),
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
        Some(v) => match parse_usd(v) {
            Ok(usd) => usd.map(usd_to_micros),
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

/// The row's person and the raw cell it came from.
fn identity<'a>(
    m: &Mapping,
    cell: &dyn Fn(Field) -> Option<&'a str>,
) -> Result<(PersonKey, &'a str), String> {
    if let Some(v) = cell(Field::Email).filter(|v| !is_blank(v)) {
        return Ok((person_key(v), v));
    }
    if let Some(v) = cell(Field::AccountId).filter(|v| !is_blank(v)) {
        return Ok((PersonKey::account(v), v));
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
