//! The page's errors, one enum per kind of work: fetching from the server,
//! keeping data in the browser, making a download. Each says what went
//! wrong in words a person can act on, and the page decides what to do by
//! the variant (a refused sign-in, a save overtaken by a newer change),
//! never by reading the text.

use wasm_bindgen::{JsCast, JsValue};

/// A browser API refused or failed (fetch, IndexedDB, Blob, canvas…), in
/// the browser's own words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct JsError(pub String);

impl JsError {
    pub fn new(message: &str) -> JsError {
        JsError(message.to_string())
    }
}

impl From<JsValue> for JsError {
    fn from(e: JsValue) -> JsError {
        JsError(js_error(&e))
    }
}

/// A JS exception or rejection as text a person can read.
fn js_error(e: &JsValue) -> String {
    if let Some(s) = e.as_string() {
        return s;
    }
    if let Some(err) = e.dyn_ref::<js_sys::Error>() {
        return String::from(err.message());
    }
    if let Some(ex) = e.dyn_ref::<web_sys::DomException>() {
        return ex.message();
    }
    format!("{e:?}")
}

/// A request to `scoreboard serve` (or a file published next to the page)
/// that gave nothing usable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    /// The browser could not send it or read the answer (offline, blocked,
    /// another site without CORS).
    #[error("{0}")]
    Browser(#[from] JsError),
    /// The server answered with an error status, and its own message when it gave one.
    #[error("{url}: HTTP {status}{}", message.as_ref().map(|m| format!(": {m}")).unwrap_or_default())]
    Status {
        url: String,
        status: u16,
        message: Option<String>,
    },
    /// The answer is not what the page expects (another program at that
    /// address, or a server of another version).
    #[error("{url}: unexpected answer ({reason})")]
    Unexpected { url: String, reason: String },
}

impl FetchError {
    /// The server wants a viewer token or a sign-in this browser did not give.
    pub fn is_unauthorized(&self) -> bool {
        matches!(self, FetchError::Status { status: 401, .. })
    }
}

/// Keeping the data in this browser (IndexedDB) or reading it back failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StorageError {
    #[error("this browser offers no IndexedDB (a private window may disable it)")]
    NoIndexedDb,
    #[error("{0}")]
    Browser(#[from] JsError),
    #[error("the data could not be encoded for storage ({0})")]
    Encode(String),
    #[error(
        "the stored data cannot be read ({0}); use \"Clear all data\" and load the files again"
    )]
    Unreadable(String),
    #[error("the stored data has format {found} (this page reads {reads} and 1)")]
    Format { found: u32, reads: u32 },
    #[error("the stored data is incomplete ({read} of {expected} rows); load the files again")]
    Incomplete { read: u64, expected: u64 },
    /// The engine could not write the stored data or read it back (its own words).
    #[error("{0}")]
    Engine(String),
    /// "Clear all data" (or, when no engine runs, a newer change) overtook
    /// this save: not a failure to report, the newer state is what gets
    /// written (or nothing).
    #[error("a newer change replaced this save before it was written")]
    Stale,
}

/// A download (CSV, snapshot file, a chart as SVG or PNG) could not be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExportError {
    #[error("{0}")]
    Browser(#[from] JsError),
    #[error("the chart is not on the page")]
    ChartMissing,
    #[error("the browser could not draw the chart's SVG")]
    NotDrawn,
    #[error("this browser offers no 2d canvas")]
    NoCanvas,
}
