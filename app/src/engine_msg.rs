//! The messages between the page and its engine (`src/bin/engine_worker.rs`),
//! one module both binaries compile (the worker includes this file by path).
//!
//! The engine owns the data: the user's table (every file merged), the
//! tables of files read but not merged yet, and the server's rows in live
//! mode. The page keeps what it draws (import reports, the roster, the
//! view) and asks the engine for the [`Report`]; rows never cross to the
//! page, so no large table is held, merged, encoded or computed on its thread.
//!
//! The enums are externally tagged (serde's default): an internally tagged
//! one is read through serde's buffered `Content`, which compiles a second
//! reader of every type inside it into the page (about 10 KB brotli measured).
//!
//! Every message is a posted array: JSON text, then the byte buffers that do
//! not travel as JSON (the `Blob` an import reads; stored chunks of rows;
//! the server's rows in core's compact encoding), their buffers transferred,
//! not copied.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use scoreboard_core::model::Source;
use scoreboard_core::parse::{Field, Import, ImportError};
use scoreboard_core::table::MergeCount;
use scoreboard_core::{Report, ReportOptions, Roster};
use serde::{Deserialize, Serialize};

use crate::table_store::TableParts;

/// Problems sent back per file (all are counted in `problems_total`); the
/// page shows fewer still.
pub const PROBLEMS_SENT: usize = 5_000;

/// The page → the engine.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ToEngine {
    /// Read the `Blob` posted with this message as the file `name`, and
    /// keep its table under `id` until a `Merge` adds or forgets it.
    Import {
        id: u32,
        name: String,
        period: Option<(NaiveDate, NaiveDate)>,
        column_overrides: BTreeMap<String, Option<Field>>,
        /// The file's first `head` bytes are posted back with `Done` (for the
        /// column dialog and the kept copy), so the page does not read the
        /// file too while the engine does: the browser serves one file's
        /// reads one after the other. 0 (and a page older than this field)
        /// wants none.
        #[serde(default)]
        head: u32,
    },
    /// Stop reading import `id` (the user cancelled it): the engine answers
    /// `Cancelled` instead of `Done`, or nothing more if it had ended.
    Cancel { id: u32 },
    /// A request answered by one `Reply` with the same id.
    Call { id: u32, request: Request },
}

/// What the page asks of the data the engine holds.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Request {
    /// Changes the user's table, step by step in order → `Merged`. With
    /// `next_report`, the report the page will ask for next: the engine
    /// computes it once `Merged` is posted, while the page takes the merge
    /// in, and answers that `Compute` with it; any other `Compute`, and a
    /// request that may change the table or the server's rows (`Merge`,
    /// `Restore`, `TakeLive`), drops it.
    Merge {
        steps: Vec<MergeStep>,
        #[serde(default)]
        next_report: Option<ComputeRequest>,
    },
    /// The report over the user's table and the server's rows → `Computed`,
    /// its people posted apart, as JSON chunks in order.
    Compute(ComputeRequest),
    /// Writes the user's data to IndexedDB (`engine_store`): the table as
    /// the engine holds it, beside `meta`, the page's part of the meta
    /// record (a JSON object: the roster, the import reports, …), and the
    /// kept copies of files (`files[i]`'s bytes posted with the request, in
    /// order) → `Stored`, or `Overtaken` when a `ClearStored` came first.
    Store { meta: String, files: Vec<String> },
    /// Removes the user's stored data (in order with `Store`s) → `Stored`.
    ClearStored,
    /// The user's table read back from its stored form (the chunks posted
    /// with the request, in order) → `Restored`.
    Restore { version: u32, parts: TableParts },
    /// One `api/rows` answer in core's compact encoding (posted with the
    /// request): a full answer replaces the server's rows held, a delta is
    /// merged into them → `LiveTaken`.
    TakeLive,
    /// The server's rows held, as one full compact answer, to keep in
    /// IndexedDB → `LiveBytes`, the bytes posted with it (none when none are held).
    LiveBytes,
    /// A small synthetic file's import and report, as a real file's would
    /// come (`engine_state::sample`) → `Sample`, its people posted apart as
    /// `Computed`'s are. The page reads it and drops it when the user is
    /// about to import (`loader::warm_engine`): Chromium compiles a wasm
    /// function on its first call, and the readers of an import's answer,
    /// of the report and of its people were 1,300 functions compiled
    /// between the file's parse and the first screen.
    Sample,
}

/// One change to the user's table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MergeStep {
    /// Empties it (the demo replaced, "Clear all data").
    Reset,
    /// Drops one source's rows and coverage ("Map columns again" replays it).
    RemoveSource(Source),
    /// Merges the table read by import `id` (metrics.md §1: a person-day
    /// already there is replaced measure by measure); its counts come back.
    Add(u32),
    /// Drops the table read by import `id` (cancelled, skipped, not needed).
    Forget(u32),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ComputeRequest {
    pub opts: ReportOptions,
    pub roster: Option<Roster>,
    /// Whether the server's rows are part of it (live mode with rows)…
    pub live: bool,
    /// …and, when they are, whether the user's table is merged with them
    /// (never the demo's: it is not mixed with real server rows).
    pub with_own: bool,
}

/// The engine → the page: written by the worker; the page reads it as a
/// [`Message`] (so the page's own build never uses this type).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[allow(dead_code)]
pub enum FromEngine {
    /// Loaded and warmed up: messages posted from now on are read.
    Ready,
    /// `done` bytes of import `id` read.
    Progress { id: u32, done: f64 },
    /// Import `id` ended: the file's import without its rows (its table is
    /// kept in the engine under `id`), or why it could not be read; posted
    /// with the file's head (`ToEngine::Import::head`) when asked for and read.
    Done {
        id: u32,
        result: Result<Finished, ImportError>,
    },
    /// Import `id` stopped on the page's `Cancel`: nothing of it is kept.
    Cancelled { id: u32 },
    /// The answer to `Call` `id`.
    Reply { id: u32, reply: Reply },
    /// The worker's wasm memory in bytes, after an import or a call (it
    /// only grows, so the last is the peak): `make bench` counts it with the page's.
    Memory { bytes: f64 },
}

/// A [`FromEngine`] as the page first reads it: which one, for which id.
/// The payloads stay JSON text, read into their types where they are
/// used: an import's result by the import code (`loader`'s lazily loaded
/// module), a reply by `engine::read_reply`. So serde's readers of core's
/// import types and of the `Report` are not in the page's first wasm
/// module (bench/notes/weight.md). Text, not a `serde_json::Value`: a
/// report read through a `Value` tree was built twice.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Message {
    Ready,
    Progress {
        id: u32,
        done: f64,
    },
    /// `result`: a `Result<Finished, ImportError>`.
    Done {
        id: u32,
        result: Box<serde_json::value::RawValue>,
    },
    Cancelled {
        id: u32,
    },
    /// `reply`: a [`Reply`].
    Reply {
        id: u32,
        reply: Box<serde_json::value::RawValue>,
    },
    Memory {
        bytes: f64,
    },
}

impl Message {
    /// The import or call the message answers (0 for `Ready`).
    pub fn id(&self) -> u32 {
        match self {
            Message::Ready | Message::Memory { .. } => 0,
            Message::Progress { id, .. }
            | Message::Done { id, .. }
            | Message::Cancelled { id }
            | Message::Reply { id, .. } => *id,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Reply {
    /// The counts of each `Add`, in order, and the table after the steps.
    Merged {
        counts: Vec<MergeCount>,
        table: TableInfo,
    },
    Computed(Box<Report>),
    /// The answer to `Sample`: what `Done` and `Computed` would carry.
    Sample {
        done: Result<Finished, ImportError>,
        report: Box<Report>,
    },
    /// The stored data was written (or cleared).
    Stored,
    /// A `ClearStored` overtook the `Store`: nothing was written.
    Overtaken,
    Restored(TableInfo),
    LiveTaken(LiveInfo),
    LiveBytes,
    /// The request could not be done (the message says why).
    Failed(String),
}

/// A finished import, its rows kept in the engine.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Finished {
    pub import: Import,
    pub problems_total: u64,
    pub summary: FileSummary,
}

/// What a file's rows amount to (the import report shows it).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileSummary {
    pub day_rows: u64,
    pub period_rows: u64,
    pub first_day: Option<NaiveDate>,
    pub last_day: Option<NaiveDate>,
}

/// The size of the user's table, which the engine holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableInfo {
    pub day_rows: u64,
    pub period_rows: u64,
}

impl TableInfo {
    pub fn is_empty(&self) -> bool {
        self.day_rows == 0 && self.period_rows == 0
    }
}

/// What the server's rows held answer to after an `api/rows` answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LiveInfo {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub cursor: Option<String>,
    /// Whether the answer was a delta, and how many rows it carried.
    pub delta: bool,
    pub answer_rows: u64,
    /// The rows and period rows held once it was taken.
    pub rows: u64,
    pub periods: u64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use scoreboard_core::parse::{import, import_table, ImportOptions};
    use scoreboard_core::{compute, WindowSpec};

    /// A report with weeks, people, a roster and a team.
    fn report() -> Report {
        let usage = b"Date,Email,Sessions,Lines accepted,Spend (USD)\n\
            2026-11-02,ada@x.com,3,120,1.50\n\
            2026-11-10,bob@x.com,2,40,0.25\n";
        let roster = b"email,name,team\nada@x.com,Ada,core\nbob@x.com,Bob,web\n";
        let (_, table) = import_table("usage.csv", usage, &ImportOptions::default()).unwrap();
        let roster = Roster::new(
            import("roster.csv", roster, &ImportOptions::default())
                .unwrap()
                .roster,
        );
        let opts = ReportOptions {
            as_of: NaiveDate::from_ymd_opt(2026, 11, 20).unwrap(),
            window: WindowSpec::All,
            team: None,
        };
        let report = compute(&table, Some(&roster), &opts);
        assert!(!report.people.is_empty() && !report.weeks.is_empty());
        report
    }

    /// The page reads what the worker writes: each message's kind and id,
    /// and its payload back into the worker's type, field for field.
    #[test]
    fn every_message_of_the_engine_reads_as_the_pages_message() {
        let roster = b"email,name,team\nada@x.com,Ada,core\n";
        let finished = |import| Finished {
            import,
            problems_total: 0,
            summary: FileSummary::default(),
        };
        let results = [
            import("roster.csv", roster, &ImportOptions::default()).map(finished),
            Err(ImportError::UnknownFormat {
                file: "a.csv".into(),
                reason: "why".into(),
            }),
        ];
        let replies = [
            Reply::Merged {
                counts: Vec::new(),
                table: TableInfo {
                    day_rows: 3,
                    period_rows: 1,
                },
            },
            Reply::Failed("why".into()),
            Reply::Computed(Box::new(report())),
            Reply::Sample {
                done: import("roster.csv", roster, &ImportOptions::default()).map(finished),
                report: Box::new(report()),
            },
        ];
        let mut sent = vec![
            FromEngine::Ready,
            FromEngine::Progress { id: 3, done: 10.0 },
            FromEngine::Cancelled { id: 5 },
            FromEngine::Memory { bytes: 7.0 },
        ];
        sent.extend(
            results
                .into_iter()
                .map(|result| FromEngine::Done { id: 4, result }),
        );
        sent.extend(
            replies
                .into_iter()
                .map(|reply| FromEngine::Reply { id: 6, reply }),
        );
        for m in sent {
            let text = serde_json::to_string(&m).unwrap();
            let read: Message = serde_json::from_str(&text).unwrap();
            match (&m, &read) {
                (FromEngine::Ready, Message::Ready) => assert_eq!(read.id(), 0),
                (FromEngine::Progress { id, done }, Message::Progress { id: i, done: d }) => {
                    assert_eq!((id, done), (i, d))
                }
                (FromEngine::Cancelled { id }, Message::Cancelled { id: i }) => assert_eq!(id, i),
                (FromEngine::Memory { bytes }, Message::Memory { bytes: b }) => {
                    assert_eq!(bytes, b)
                }
                (FromEngine::Done { id, result }, Message::Done { id: i, result: r }) => {
                    assert_eq!(id, i);
                    let back: Result<Finished, ImportError> =
                        serde_json::from_str(r.get()).unwrap();
                    assert_eq!(
                        serde_json::to_value(&back).unwrap(),
                        serde_json::to_value(result).unwrap()
                    );
                }
                (FromEngine::Reply { id, reply }, Message::Reply { id: i, reply: r }) => {
                    assert_eq!(id, i);
                    let back: Reply = serde_json::from_str(r.get()).unwrap();
                    assert_eq!(
                        serde_json::to_value(&back).unwrap(),
                        serde_json::to_value(reply).unwrap()
                    );
                }
                _ => panic!("{text} was read as {read:?}"),
            }
        }
    }
}
