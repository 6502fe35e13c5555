//! The data the engine holds and what it does with it: the one place on the
//! page's side where tables are merged, encoded for storage and computed. It
//! runs in the engine worker (`src/bin/engine_worker.rs` includes this file
//! by path), or on the page when no worker runs (`engine::Backend::Here`),
//! answering the same [`Request`]s either way, but for the two that wait on
//! IndexedDB (`engine_store` answers them, writing what this encodes).
//! Pure: no browser API, no clock.

use std::collections::HashMap;

use scoreboard_core::api::rows_wire;
use scoreboard_core::model::PeriodRow;
use scoreboard_core::parse::{Import, ImportError, ImportOptions, ImportStream};
use scoreboard_core::{compute, ReportOptions, SourceCoverage, UsageTable, WindowSpec};

use crate::engine_msg::{
    ComputeRequest, FileSummary, Finished, LiveInfo, MergeStep, Reply, Request, TableInfo,
};
use crate::error::StorageError;
use crate::table_store::{self, TableParts};

/// The server's rows (live mode), as its last answers left them: a table of
/// their own, so a report over them alone (the usual live page) computes
/// straight over it, and a rows answer's `DayRow`s are moved in, not kept.
#[derive(Default)]
struct LiveRows {
    table: UsageTable,
    /// The last answer's period rows and coverage (in `table` too), to
    /// write them back as an answer (`LiveBytes`).
    periods: Vec<PeriodRow>,
    coverage: Vec<SourceCoverage>,
    /// The range and cursor of the last answer (kept with the rows).
    answered: Option<(chrono::NaiveDate, chrono::NaiveDate, Option<String>)>,
}

/// People per chunk of a `Computed` reply (about 300 KB of JSON).
pub const PEOPLE_PER_CHUNK: usize = 500;

#[derive(Default)]
pub struct EngineState {
    /// Every file the user loaded, merged.
    own: UsageTable,
    /// Tables of files read, by import id, until a `Merge` adds or forgets them.
    pending: HashMap<u32, UsageTable>,
    live: LiveRows,
    /// The user's table with the server's rows merged in, made when a
    /// report first needs it and dropped when either side changes: a new
    /// window or team computes again without merging again.
    merged: Option<UsageTable>,
    /// Ids for tables kept without a worker's import (`keep_new`).
    next_local: u32,
    /// The report a merge said would be asked for next (`Request::Merge`'s
    /// `next_report`), until [`EngineState::compute_ahead`] computes it…
    wanted_ahead: Option<ComputeRequest>,
    /// …and the report so computed, answered if a `Compute` asks for
    /// exactly it; the requests that may change the table or the server's
    /// rows drop it (they are answered here: `engine_store` only reads).
    ahead: Option<(ComputeRequest, Reply)>,
}

impl EngineState {
    /// Keeps the table read by import `id` until a `Merge` step names it.
    pub fn keep(&mut self, id: u32, table: UsageTable) {
        self.pending.insert(id, table);
    }

    /// Keeps a table read on the page, under a new id.
    pub fn keep_new(&mut self, table: UsageTable) -> u32 {
        self.next_local += 1;
        let id = self.next_local;
        self.keep(id, table);
        id
    }

    /// The user's table (the page's browser tests look at it).
    #[cfg(test)]
    pub fn own(&self) -> &UsageTable {
        &self.own
    }

    /// Replaces the user's table (the page's browser tests set one up).
    #[cfg(test)]
    pub fn set_own(&mut self, table: UsageTable) -> TableInfo {
        self.own = table;
        self.merged = None;
        self.ahead = None;
        self.info()
    }

    /// Answers one request; the byte buffers are the request's, then the reply's.
    pub fn answer(&mut self, request: Request, buffers: Vec<Vec<u8>>) -> (Reply, Vec<Vec<u8>>) {
        self.wanted_ahead = None;
        let ahead = match request {
            Request::Sample | Request::LiveBytes | Request::Store { .. } | Request::ClearStored => {
                None
            }
            _ => self.ahead.take(),
        };
        match request {
            Request::Merge { steps, next_report } => {
                let reply = self.merge(steps);
                if matches!(reply, Reply::Merged { .. }) {
                    self.wanted_ahead = next_report;
                }
                (reply, Vec::new())
            }
            Request::Compute(req) => people_apart(match ahead {
                Some((asked, report)) if asked == req => report,
                _ => self.compute(&req),
            }),
            Request::Sample => people_apart(sample()),
            Request::Restore { version, parts } => {
                match table_store::decode_table(version, parts, &buffers) {
                    Ok(table) => {
                        self.own = table;
                        self.merged = None;
                        (Reply::Restored(self.info()), Vec::new())
                    }
                    Err(e) => (Reply::Failed(e.to_string()), Vec::new()),
                }
            }
            Request::TakeLive => {
                let body = buffers.first().map(Vec::as_slice).unwrap_or_default();
                match rows_wire::decode_table(body) {
                    Ok(answer) => (Reply::LiveTaken(self.take_live(answer)), Vec::new()),
                    Err(e) => (
                        Reply::Failed(format!("the server's rows cannot be read ({e})")),
                        Vec::new(),
                    ),
                }
            }
            Request::LiveBytes => (Reply::LiveBytes, self.live_bytes().into_iter().collect()),
            // They wait on IndexedDB: `engine_store::answer` takes them first.
            Request::Store { .. } | Request::ClearStored => (
                Reply::Failed("the stored data's requests go to engine_store".into()),
                Vec::new(),
            ),
        }
    }

    /// Computes the report the last merge said would be asked for next, if
    /// it did (the worker calls this once the merge's answer is posted; the
    /// page's own engine does not: its thread is the page's).
    /// True when it computed one.
    #[cfg_attr(not(test), allow(dead_code))]
    pub fn compute_ahead(&mut self) -> bool {
        let Some(req) = self.wanted_ahead.take() else {
            return false;
        };
        let report = self.compute(&req);
        self.ahead = Some((req, report));
        true
    }

    /// The user's table in its stored form, each chunk handed to `keep` as
    /// it is made (`engine_store` writes them).
    pub fn encode_own(&self, keep: impl FnMut(Vec<u8>)) -> Result<TableParts, StorageError> {
        table_store::encode_table(&self.own, keep)
    }

    fn info(&self) -> TableInfo {
        TableInfo {
            day_rows: self.own.day_count() as u64,
            period_rows: self.own.periods().len() as u64,
        }
    }

    fn merge(&mut self, steps: Vec<MergeStep>) -> Reply {
        // All or nothing: a missing table fails the request before any step.
        let missing = steps.iter().find_map(|s| match s {
            MergeStep::Add(id) if !self.pending.contains_key(id) => Some(*id),
            _ => None,
        });
        if let Some(id) = missing {
            return Reply::Failed(format!(
                "the rows of a file read earlier are gone (import {id})"
            ));
        }
        let mut counts = Vec::new();
        for step in steps {
            match step {
                MergeStep::Reset => self.own = UsageTable::new(),
                MergeStep::RemoveSource(source) => self.own.remove_source(source),
                MergeStep::Add(id) => {
                    let Some(table) = self.pending.remove(&id) else {
                        return Reply::Failed(format!(
                            "the rows of a file read earlier are gone (import {id})"
                        ));
                    };
                    counts.push(self.own.merge(table));
                }
                MergeStep::Forget(id) => {
                    self.pending.remove(&id);
                }
            }
        }
        self.merged = None;
        Reply::Merged {
            counts,
            table: self.info(),
        }
    }

    fn compute(&mut self, req: &ComputeRequest) -> Reply {
        let live = &self.live.table;
        let table = if !req.live || live.is_empty() {
            &self.own
        } else if !req.with_own || self.own.is_empty() {
            live
        } else {
            // A person-day of another source is kept: core's precedence picks.
            self.merged.get_or_insert_with(|| {
                let mut t = self.own.clone();
                t.merge(live.clone());
                t
            })
        };
        Reply::Computed(Box::new(compute(table, req.roster.as_ref(), &req.opts)))
    }

    fn take_live(&mut self, answer: rows_wire::TableAnswer) -> LiveInfo {
        let rows_wire::TableAnswer {
            head,
            rows: answer_rows,
            table: answered,
        } = answer;
        let mut table = UsageTable::new();
        match &head.delta {
            // What the delta replaces goes, the rest of the rows held stay;
            // the answer's rows come after them, as if inserted one by one.
            Some(d) => {
                let inside = d.matcher();
                table.insert_days(self.live.table.day_rows().filter(|r| !inside(r)));
                table.merge(answered);
            }
            // The answer's table is the rows held (moved, not copied).
            None => table = answered,
        }
        table.insert_periods(head.periods.iter().cloned());
        for c in &head.coverage {
            table.add_source_coverage(c);
        }
        let rows = table.day_count() as u64;
        self.live = LiveRows {
            table,
            periods: head.periods,
            coverage: head.coverage,
            answered: Some((head.from, head.to, head.cursor.clone())),
        };
        self.merged = None;
        LiveInfo {
            from: head.from,
            to: head.to,
            cursor: head.cursor,
            delta: head.delta.is_some(),
            answer_rows: answer_rows as u64,
            rows,
            periods: self.live.periods.len() as u64,
        }
    }

    /// The server's rows held as one full compact answer, written row by
    /// row from the table's columns (no second copy of the rows); `None`
    /// before any answer.
    fn live_bytes(&self) -> Option<Vec<u8>> {
        let (from, to, cursor) = self.live.answered.clone()?;
        let mut e = rows_wire::Encoder::new();
        e.push_table(&self.live.table);
        let head = rows_wire::Head {
            from,
            to,
            counts: e.counts().clone(),
            periods: self.live.periods.clone(),
            imported: Default::default(),
            coverage: self.live.coverage.clone(),
            cursor,
            delta: None,
        };
        Some(e.finish(&head))
    }
}

/// A report's people taken out of `reply` (`Computed`, `Sample`), in
/// chunks the page reads one task at a time: read at once, a 3,000-person
/// list is one long task.
fn people_apart(mut reply: Reply) -> (Reply, Vec<Vec<u8>>) {
    let (Reply::Computed(report) | Reply::Sample { report, .. }) = &mut reply else {
        return (reply, Vec::new());
    };
    let people = std::mem::take(&mut report.people);
    let chunks = people
        .chunks(PEOPLE_PER_CHUNK)
        .map(|c| serde_json::to_vec(c).unwrap_or_default())
        .collect();
    (reply, chunks)
}

/// A synthetic usage export: 4,000 person-days of 97 people in 2025, with
/// every measure a usage export carries (code that reads or sums a column
/// it lacked would still run for the first time on a user's file). The
/// worker's warm-up reads it, and `Request::Sample` answers with it.
fn sample_csv() -> String {
    use std::fmt::Write as _;
    let mut csv = String::from(
        "Date,Email,Product,Sessions,Lines accepted,Lines removed,Commits,\
         Pull requests,Accepted edits,Rejected edits,Spend (USD)\n",
    );
    for n in 0..4_000u32 {
        let _ = writeln!(
            csv,
            "2025-{:02}-{:02},person{}@example.com,Claude Code,{},{},{},{},{},{},{},{}.{:02}",
            1 + n % 12,
            1 + n % 28,
            n % 97,
            n % 9,
            n % 400,
            n % 50,
            n % 3,
            n % 2,
            n % 30,
            n % 5,
            n % 7,
            n % 100
        );
    }
    csv
}

/// [`sample_csv`] read as a file is (in two chunks, through core's stream).
pub fn parse_sample() -> Result<(Import, UsageTable), ImportError> {
    let csv = sample_csv();
    let mut stream = ImportStream::new("sample.csv", ImportOptions::default())?;
    let bytes = csv.as_bytes();
    stream.size_hint(bytes.len());
    let (a, b) = bytes.split_at(bytes.len() / 2);
    stream.feed(a);
    stream.feed(b);
    stream.finish_table()
}

/// The view the sample's report is computed for: its last 8 weeks.
pub fn sample_options() -> ReportOptions {
    ReportOptions {
        as_of: chrono::NaiveDate::from_ymd_opt(2025, 12, 31).unwrap_or_default(),
        window: WindowSpec::LastWeeks { weeks: 8 },
        team: None,
    }
}

/// `Request::Sample`'s answer: [`sample_csv`]'s import and report, kept nowhere.
fn sample() -> Reply {
    match parse_sample() {
        Ok((import, table)) => Reply::Sample {
            done: Ok(Finished {
                import,
                problems_total: 0,
                summary: summary(&table),
            }),
            report: Box::new(compute(&table, None, &sample_options())),
        },
        Err(e) => Reply::Failed(e.to_string()),
    }
}

/// What a file's table amounts to, for its import report.
pub fn summary(table: &UsageTable) -> FileSummary {
    let span = table.day_span();
    FileSummary {
        day_rows: table.day_count() as u64,
        period_rows: table.periods().len() as u64,
        first_day: span.map(|s| s.0),
        last_day: span.map(|s| s.1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;
    use scoreboard_core::api::{RowScope, RowsAnswer, RowsDelta};
    use scoreboard_core::model::{DayRow, PersonKey, Source};

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap_or_default()
    }

    fn row(d: &str, who: &str, sessions: u64) -> DayRow {
        let mut r = DayRow::new(day(d), PersonKey::email(who), Source::Otlp);
        r.measures.sessions = sessions;
        r
    }

    fn answer(rows: Vec<DayRow>, delta: Option<RowsDelta>) -> Vec<u8> {
        rows_wire::encode(&RowsAnswer {
            from: day("2026-11-01"),
            to: day("2026-11-30"),
            counts: Default::default(),
            rows,
            periods: Vec::new(),
            imported: Default::default(),
            coverage: Vec::new(),
            cursor: Some("c1".into()),
            delta,
        })
    }

    fn sessions_of(state: &mut EngineState, live: bool) -> Vec<(String, u64)> {
        let req = ComputeRequest {
            opts: ReportOptions {
                as_of: day("2026-11-30"),
                window: WindowSpec::All,
                team: None,
            },
            roster: None,
            live,
            with_own: true,
        };
        let (_, chunks) = state.answer(Request::Compute(req), Vec::new());
        chunks
            .iter()
            .flat_map(|c| {
                serde_json::from_slice::<Vec<scoreboard_core::metrics::PersonFigures>>(c)
                    .unwrap_or_default()
            })
            .map(|p| (p.person.as_str().to_string(), p.totals.sessions))
            .collect()
    }

    /// The report a merge says will be asked for next is computed ahead and
    /// answers exactly that request; another request (a new window) is
    /// computed anew; a request in between that only reads (the sample)
    /// keeps it, one that may change the table drops it.
    #[test]
    fn a_report_computed_ahead_answers_only_the_request_it_was_computed_for() {
        // The sessions counted, and the weeks shown (the window's).
        let sessions = |reply: &Reply| match reply {
            Reply::Computed(r) => (r.totals.figures.totals.sessions, r.weeks.len()),
            other => panic!("not a report: {other:?}"),
        };
        let req = |weeks| ComputeRequest {
            opts: ReportOptions {
                as_of: day("2026-11-30"),
                window: WindowSpec::LastWeeks { weeks },
                team: None,
            },
            roster: None,
            live: false,
            with_own: true,
        };
        let mut state = EngineState::default();
        let merge_with = |state: &mut EngineState, sessions: u64, next_report| {
            let mut t = UsageTable::new();
            t.insert_days([row("2026-11-16", "ada@x.com", sessions)]);
            let id = state.keep_new(t);
            let steps = vec![MergeStep::Reset, MergeStep::Add(id)];
            state.answer(Request::Merge { steps, next_report }, Vec::new());
            state.compute_ahead();
        };
        merge_with(&mut state, 3, Some(req(8)));
        assert!(state.ahead.is_some());
        let (reply, _) = state.answer(Request::Compute(req(8)), Vec::new());
        assert_eq!(sessions(&reply), (3, 9));
        assert!(state.ahead.is_none(), "answered once");
        // Computed ahead for 8 weeks, asked for 4: computed for 4.
        merge_with(&mut state, 5, Some(req(8)));
        let (reply, _) = state.answer(Request::Compute(req(4)), Vec::new());
        assert_eq!(sessions(&reply), (5, 5));
        // A merge without `next_report` computes nothing ahead.
        merge_with(&mut state, 7, None);
        assert!(state.ahead.is_none());
        // A sample between the merge and the report keeps it…
        merge_with(&mut state, 9, Some(req(8)));
        state.answer(Request::Sample, Vec::new());
        assert!(state.ahead.is_some());
        let (reply, _) = state.answer(Request::Compute(req(8)), Vec::new());
        assert_eq!(sessions(&reply), (9, 9));
        // …a merge drops it, and the report follows the table.
        merge_with(&mut state, 11, Some(req(8)));
        let steps = vec![MergeStep::Reset];
        state.answer(
            Request::Merge {
                steps,
                next_report: None,
            },
            Vec::new(),
        );
        assert!(state.ahead.is_none());
        let (reply, _) = state.answer(Request::Compute(req(8)), Vec::new());
        assert!(
            matches!(&reply, Reply::Computed(r) if r.people.is_empty() && r.totals.figures.active_engineers == 0)
        );
    }

    /// The sample the page reads to compile its readers ahead of a real
    /// file carries what a real answer does (an import's columns, weeks,
    /// people apart in chunks) and leaves the engine's data as it was.
    #[test]
    fn the_sample_answer_is_a_full_answer_and_holds_nothing() {
        let mut state = EngineState::default();
        let (reply, chunks) = state.answer(Request::Sample, Vec::new());
        let Reply::Sample { done, report } = reply else {
            panic!("not a sample: {reply:?}");
        };
        let finished = done.unwrap();
        assert!(!finished.import.columns.is_empty());
        assert_eq!(finished.summary.day_rows, 4_000);
        assert!(report.people.is_empty(), "the people are posted apart");
        assert!(report.weeks.iter().any(|w| w.figures.is_some()));
        let people: Vec<scoreboard_core::metrics::PersonFigures> = chunks
            .iter()
            .flat_map(|c| serde_json::from_slice::<Vec<_>>(c).unwrap())
            .collect();
        assert_eq!(people.len(), 97);
        assert!(state.info().is_empty() && state.pending.is_empty());
    }

    /// A merge naming a table the engine does not hold fails whole: the
    /// steps before it (here a reset) are not applied, so the page's count
    /// and the engine's table never disagree.
    #[test]
    fn a_merge_naming_a_missing_table_changes_nothing() {
        let mut state = EngineState::default();
        let mut t = UsageTable::new();
        t.insert_days([row("2026-11-02", "ada@x.com", 3)]);
        let id = state.keep_new(t);
        state.answer(
            Request::Merge {
                steps: vec![MergeStep::Add(id)],
                next_report: None,
            },
            Vec::new(),
        );
        let (reply, _) = state.answer(
            Request::Merge {
                steps: vec![MergeStep::Reset, MergeStep::Add(99)],
                next_report: None,
            },
            Vec::new(),
        );
        assert!(matches!(reply, Reply::Failed(_)));
        assert_eq!(state.own().day_count(), 1);
    }

    /// Live mode: a delta replaces the rows of its scopes and keeps the
    /// rest, and the report over the server's rows follows it.
    #[test]
    fn a_live_delta_replaces_only_the_rows_of_its_scopes() {
        let mut state = EngineState::default();
        let full = answer(
            vec![
                row("2026-11-02", "ada@x.com", 3),
                row("2026-11-03", "bob@x.com", 4),
            ],
            None,
        );
        let (reply, _) = state.answer(Request::TakeLive, vec![full]);
        assert!(matches!(
            reply,
            Reply::LiveTaken(LiveInfo {
                rows: 2,
                delta: false,
                ..
            })
        ));
        let delta = answer(
            vec![row("2026-11-03", "bob@x.com", 9)],
            Some(RowsDelta {
                replaced: vec![RowScope::Day {
                    source: Source::Otlp,
                    day: day("2026-11-03"),
                }],
            }),
        );
        let (reply, _) = state.answer(Request::TakeLive, vec![delta]);
        assert!(matches!(
            reply,
            Reply::LiveTaken(LiveInfo {
                rows: 2,
                delta: true,
                answer_rows: 1,
                ..
            })
        ));
        let mut people = sessions_of(&mut state, true);
        people.sort();
        assert_eq!(
            people,
            vec![("ada@x.com".to_string(), 3), ("bob@x.com".to_string(), 9)]
        );
        // Kept and read back: the same rows.
        let (_, kept) = state.answer(Request::LiveBytes, Vec::new());
        let mut again = EngineState::default();
        again.answer(Request::TakeLive, kept);
        let mut people_again = sessions_of(&mut again, true);
        people_again.sort();
        assert_eq!(people_again, people);
    }
}
