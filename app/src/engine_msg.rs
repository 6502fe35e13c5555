//! The messages between the page and its engine worker (`src/bin/engine_worker.rs`),
//! one module both binaries compile (the worker includes this file by path).
//!
//! The enums are externally tagged (serde's default): an internally tagged
//! one is read through serde's buffered `Content`, which compiles a second
//! reader of every type inside it into the page (about 10 KB brotli measured).
//!
//! Every message is a posted array: JSON text, then what does not travel as
//! JSON (the `Blob` an import reads; a chunk of rows in core's compact
//! encoding, `core::api::rows_wire`, its buffer transferred, not copied).
//! The worker answers an import with progress, its rows in chunks, then one
//! `Done`: the rows are sent apart so the page decodes them a chunk at a
//! time, each in a short task of its own, never all in one.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use scoreboard_core::parse::{Field, Import, ImportError};
use serde::{Deserialize, Serialize};

/// Problems sent back per file (all are counted in `problems_total`); the
/// page shows fewer still.
pub const PROBLEMS_SENT: usize = 5_000;

/// The page → the worker.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ToEngine {
    /// Read the `Blob` posted with this message as the file `name`.
    Import {
        id: u32,
        name: String,
        period: Option<(NaiveDate, NaiveDate)>,
        column_overrides: BTreeMap<String, Option<Field>>,
    },
    /// Stop reading import `id` (the user cancelled it): the worker answers
    /// `Cancelled` instead of its rows, or nothing more if it had ended.
    Cancel { id: u32 },
}

/// The worker → the page.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FromEngine {
    /// Loaded and warmed up: messages posted from now on are read.
    Ready,
    /// `done` bytes of import `id` read.
    Progress { id: u32, done: f64 },
    /// The next rows of import `id`, `rows_wire`-encoded in the message's
    /// second element; `left` counts them and those still to come (the page
    /// reserves room once). Its `Done` comes after the last chunk.
    Rows { id: u32, left: usize },
    /// Import `id` ended: the file's import without its rows (sent before),
    /// the count of all its problems, or why it could not be read.
    Done {
        id: u32,
        result: Result<Finished, ImportError>,
    },
    /// Import `id` stopped on the page's `Cancel`: no rows of it were sent.
    Cancelled { id: u32 },
}

/// A finished import, its rows sent apart.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Finished {
    pub import: Import,
    pub problems_total: u64,
}
