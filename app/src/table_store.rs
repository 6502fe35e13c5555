//! The stored form of a usage table (IndexedDB, `storage`): rows compactly
//! (person names interned, measures as a tuple) in JSON chunks of
//! [`CHUNK_ROWS`], period rows and the declared coverage beside them. The
//! engine owns the table, so this encoding runs where it runs (the worker,
//! `src/bin/engine_worker.rs`, which includes this file by path; or the
//! page when no worker runs), and so does the write (`engine_store`); the
//! page reads the bytes back (`storage::load`) and keeps the meta record
//! around [`TableParts`].

use std::collections::HashMap;

use chrono::NaiveDate;
use scoreboard_core::model::{
    DayRow, MeasureSet, Measures, ModelUsage, PeriodRow, PersonKey, Source, ToolDecisions,
};
use scoreboard_core::{SourceCoverage, UsageTable};
use serde::{Deserialize, Serialize};

use crate::error::StorageError;

/// Rows per stored chunk.
pub const CHUNK_ROWS: usize = 20_000;
/// 2 (issue 10): rows keep the measures they carry, and the data keeps the
/// days each source covers. Format 1 still reads (rows then carry every
/// measure, and coverage is each source's first to last day).
pub const FORMAT_VERSION: u32 = 2;

/// What the meta record keeps of the table besides its chunks of rows.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct TableParts {
    pub persons: Vec<PersonKey>,
    pub periods: Vec<PRow>,
    pub coverage: Vec<SourceCoverage>,
    pub day_rows: u64,
}

/// The table as stored: its parts, and its chunks of rows (JSON) handed to
/// `keep` in order, each as soon as it is made,
/// so a caller that moves it out of wasm memory (the engine writing to
/// IndexedDB) never holds them all there: the memory, once grown, stays.
pub fn encode_table(
    table: &UsageTable,
    mut keep: impl FnMut(Vec<u8>),
) -> Result<TableParts, StorageError> {
    let total = table.day_count();
    let mut interner = Interner::default();
    let mut start = 0;
    while start < total {
        let end = (start + CHUNK_ROWS).min(total);
        let rows: Vec<Row> = table
            .day_rows_in(start..end)
            .map(|r| encode(&r, interner.get(&r.person)))
            .collect();
        keep(serde_json::to_vec(&rows).map_err(|e| StorageError::Encode(e.to_string()))?);
        start = end;
    }
    let periods = table
        .periods()
        .iter()
        .map(|p| encode_period(p, interner.get(&p.person)))
        .collect();
    Ok(TableParts {
        persons: interner.persons,
        periods,
        coverage: table.declared_coverage().cloned().collect(),
        day_rows: total as u64,
    })
}

/// The meta record as stored: the page's part (`page_meta`, a JSON object
/// of what the page keeps beside the table: `storage::PageMeta`) with the
/// table's `parts`, its number of chunks and the format added. Read back by
/// `storage::load` as one record.
pub fn stored_meta(
    page_meta: &str,
    parts: TableParts,
    chunks: usize,
) -> Result<Vec<u8>, StorageError> {
    let encode = |e: serde_json::Error| StorageError::Encode(e.to_string());
    let mut meta: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(page_meta).map_err(encode)?;
    let serde_json::Value::Object(parts) = serde_json::to_value(parts).map_err(encode)? else {
        return Err(StorageError::Encode(
            "the table's parts are not a record".into(),
        ));
    };
    meta.extend(parts);
    meta.insert("version".into(), FORMAT_VERSION.into());
    meta.insert("chunks".into(), chunks.into());
    serde_json::to_vec(&meta).map_err(encode)
}

/// The table stored as `parts` and `chunks` in format `version` (1 or 2).
pub fn decode_table(
    version: u32,
    parts: TableParts,
    chunks: &[Vec<u8>],
) -> Result<UsageTable, StorageError> {
    let mut table = UsageTable::new();
    let mut read = 0u64;
    for chunk in chunks {
        let rows = decode_chunk(chunk, version, &parts.persons)?;
        read += rows.len() as u64;
        table.insert_days(rows);
    }
    if read != parts.day_rows {
        return Err(StorageError::Incomplete {
            read,
            expected: parts.day_rows,
        });
    }
    table.insert_periods(
        parts
            .periods
            .into_iter()
            .filter_map(|p| decode_period(p, &parts.persons)),
    );
    for c in &parts.coverage {
        table.add_source_coverage(c);
    }
    Ok(table)
}

/// One day row, compactly: (day as days from CE, person index, source index,
/// the eleven counters, cost in micro-dollars, cost estimated, models, tools,
/// the measures the row carries as [`MeasureSet`] bits).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Row(
    i32,
    u32,
    u8,
    [u64; 11],
    i64,
    bool,
    Vec<ModelUsage>,
    Vec<ToolDecisions>,
    u16,
);

/// A day row of format 1, before rows said which measures they carry.
#[derive(Deserialize)]
pub struct RowV1(
    i32,
    u32,
    u8,
    [u64; 11],
    i64,
    bool,
    Vec<ModelUsage>,
    Vec<ToolDecisions>,
);

impl From<RowV1> for Row {
    fn from(r: RowV1) -> Row {
        let RowV1(day, person, source, c, cost, est, models, tools) = r;
        Row(
            day,
            person,
            source,
            c,
            cost,
            est,
            models,
            tools,
            MeasureSet::all().bits(),
        )
    }
}

/// One period row: its last day, then the row (whose day is the first day).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PRow(pub i32, pub Row);

#[derive(Deserialize)]
pub struct PRowV1(pub i32, pub RowV1);

fn source_index(s: Source) -> u8 {
    Source::ALL.iter().position(|x| *x == s).unwrap_or(0) as u8
}

fn day_number(d: NaiveDate) -> i32 {
    use chrono::Datelike;
    d.num_days_from_ce()
}

/// A day row's parts, as both row kinds hold them.
struct Parts<'a> {
    day: NaiveDate,
    person: u32,
    source: Source,
    m: &'a Measures,
    models: &'a [ModelUsage],
    tools: &'a [ToolDecisions],
    present: MeasureSet,
}

fn row(p: Parts<'_>) -> Row {
    Row(
        day_number(p.day),
        p.person,
        source_index(p.source),
        p.m.counters(),
        p.m.cost_micros,
        p.m.cost_is_estimated,
        p.models.to_vec(),
        p.tools.to_vec(),
        p.present.bits(),
    )
}

fn encode(r: &DayRow, person: u32) -> Row {
    row(Parts {
        day: r.day,
        person,
        source: r.source,
        m: &r.measures,
        models: &r.models,
        tools: &r.tools,
        present: r.present,
    })
}

fn encode_period(p: &PeriodRow, person: u32) -> PRow {
    PRow(
        day_number(p.end),
        row(Parts {
            day: p.start,
            person,
            source: p.source,
            m: &p.measures,
            models: &p.models,
            tools: &p.tools,
            present: p.present,
        }),
    )
}

fn decode(r: Row, persons: &[PersonKey]) -> Option<DayRow> {
    let Row(day, person, source, c, cost, est, models, tools, present) = r;
    Some(DayRow {
        day: NaiveDate::from_num_days_from_ce_opt(day)?,
        person: persons.get(person as usize)?.clone(),
        source: *Source::ALL.get(usize::from(source))?,
        measures: Measures::from_counters(c, cost, est),
        models,
        tools,
        present: MeasureSet::from_bits_truncate(present),
    })
}

fn decode_period(p: PRow, persons: &[PersonKey]) -> Option<PeriodRow> {
    let PRow(end, r) = p;
    let d = decode(r, persons)?;
    Some(PeriodRow {
        start: d.day,
        end: NaiveDate::from_num_days_from_ce_opt(end)?,
        person: d.person,
        source: d.source,
        measures: d.measures,
        models: d.models,
        tools: d.tools,
        present: d.present,
    })
}

/// Person keys by number, so each row stores a small index instead of an e-mail.
#[derive(Default)]
struct Interner {
    persons: Vec<PersonKey>,
    index: HashMap<PersonKey, u32>,
}

impl Interner {
    fn get(&mut self, k: &PersonKey) -> u32 {
        if let Some(&i) = self.index.get(k) {
            return i;
        }
        let i = self.persons.len() as u32;
        self.index.insert(k.clone(), i);
        self.persons.push(k.clone());
        i
    }
}

/// One stored chunk of day rows, in the row shape of its format.
fn decode_chunk(
    bytes: &[u8],
    version: u32,
    persons: &[PersonKey],
) -> Result<Vec<DayRow>, StorageError> {
    let unreadable =
        |e: serde_json::Error| StorageError::Unreadable(format!("a chunk of rows: {e}"));
    let rows: Vec<Row> = if version == 1 {
        let old: Vec<RowV1> = serde_json::from_slice(bytes).map_err(unreadable)?;
        old.into_iter().map(Row::from).collect()
    } else {
        serde_json::from_slice(bytes).map_err(unreadable)?
    };
    Ok(rows
        .into_iter()
        .filter_map(|r| decode(r, persons))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap_or_default()
    }

    #[test]
    fn stored_rows_read_back_unchanged() {
        let mut r = DayRow::new(
            day("2026-11-16"),
            PersonKey::email("Ada@Example.com"),
            Source::AdminApi,
        );
        r.measures = Measures {
            sessions: 3,
            lines_added: 120,
            lines_removed: 7,
            commits: 1,
            pull_requests: 1,
            edits_accepted: 9,
            edits_rejected: 2,
            input_tokens: 1000,
            output_tokens: 200,
            cache_read_tokens: 30_000,
            cache_creation_tokens: 400,
            cost_micros: 1_250_000,
            cost_is_estimated: true,
        };
        r.models.push(ModelUsage {
            model: "claude-opus-5".into(),
            input_tokens: 1000,
            ..ModelUsage::default()
        });
        r.tools.push(ToolDecisions {
            tool: "edit_tool".into(),
            accepted: 9,
            rejected: 2,
        });
        let persons = vec![r.person.clone()];
        let json = serde_json::to_vec(&vec![encode(&r, 0)]).unwrap_or_default();
        let back: Vec<Row> = serde_json::from_slice(&json).unwrap_or_default();
        let back: Vec<DayRow> = back
            .into_iter()
            .filter_map(|x| decode(x, &persons))
            .collect();
        assert_eq!(back, vec![r]);
    }

    #[test]
    fn stored_period_rows_read_back_unchanged() {
        let mut p = PeriodRow {
            start: day("2026-11-01"),
            end: day("2026-11-30"),
            person: PersonKey::api_key("ci-bot"),
            source: Source::Csv,
            measures: Measures::default(),
            models: Vec::new(),
            tools: Vec::new(),
            present: MeasureSet::COST | MeasureSet::SESSIONS,
        };
        p.measures.sessions = 40;
        let persons = vec![p.person.clone()];
        let json = serde_json::to_vec(&encode_period(&p, 0)).unwrap_or_default();
        let back: Option<PRow> = serde_json::from_slice(&json).ok();
        assert_eq!(back.and_then(|x| decode_period(x, &persons)), Some(p));
    }

    /// Issue 10: a row that carries only some measures keeps saying so after
    /// a reload, so a later file still merges measure by measure.
    #[test]
    fn a_thin_row_keeps_the_measures_it_carries() {
        let mut r = DayRow::new(day("2026-11-16"), PersonKey::email("a@b.c"), Source::Csv);
        r.measures.lines_added = 40;
        r.present = MeasureSet::LINES_ADDED;
        let json = serde_json::to_vec(&vec![encode(&r, 0)]).unwrap_or_default();
        let back = decode_chunk(&json, FORMAT_VERSION, &[r.person.clone()]);
        assert_eq!(back, Ok(vec![r]));
    }

    /// Format 1 (rows without their measures) still reads: every measure carried.
    #[test]
    fn rows_stored_in_format_1_still_read() {
        let v1 = r#"[[740000,0,2,[3,120,0,0,0,9,2,0,0,0,0],1250000,false,[],[]]]"#;
        let back = decode_chunk(v1.as_bytes(), 1, &[PersonKey::email("a@b.c")]).unwrap_or_default();
        assert_eq!(back.len(), 1);
        assert_eq!(back[0].present, MeasureSet::all());
        assert_eq!(back[0].measures.lines_added, 120);
        assert_eq!(back[0].source, Source::Csv);
    }

    #[test]
    fn a_row_pointing_at_an_unknown_person_is_dropped_not_invented() {
        let r = DayRow::new(day("2026-11-16"), PersonKey::email("a@b.c"), Source::Csv);
        assert_eq!(decode(encode(&r, 5), &[]), None);
    }
}
