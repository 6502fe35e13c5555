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
    /// Changes the user's table, step by step in order → `Merged`.
    Merge { steps: Vec<MergeStep> },
    /// The report over the user's table and the server's rows → `Computed`,
    /// its people posted apart, as JSON chunks in order.
    Compute(ComputeRequest),
    /// The user's table in its stored form → `Saved`, its chunks posted with it.
    Save,
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

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ComputeRequest {
    pub opts: ReportOptions,
    pub roster: Option<Roster>,
    /// Whether the server's rows are part of it (live mode with rows)…
    pub live: bool,
    /// …and, when they are, whether the user's table is merged with them
    /// (never the demo's: it is not mixed with real server rows).
    pub with_own: bool,
}

/// The engine → the page.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FromEngine {
    /// Loaded and warmed up: messages posted from now on are read.
    Ready,
    /// `done` bytes of import `id` read.
    Progress { id: u32, done: f64 },
    /// Import `id` ended: the file's import without its rows (its table is
    /// kept in the engine under `id`), or why it could not be read.
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

impl FromEngine {
    /// The import or call the message answers (0 for `Ready`).
    pub fn id(&self) -> u32 {
        match self {
            FromEngine::Ready | FromEngine::Memory { .. } => 0,
            FromEngine::Progress { id, .. }
            | FromEngine::Done { id, .. }
            | FromEngine::Cancelled { id }
            | FromEngine::Reply { id, .. } => *id,
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
    Saved(TableParts),
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
