//! The page's state, as plain types: the data loaded so far (kept in the
//! browser; its rows are held by the engine, `engine_state`, and only their
//! count is here), the view (window and team), the server's rows' status in live mode,
//! the background jobs, and the signals that hold them ([`Ctx`]). Nothing
//! here reads the URL, the browser's storage or the server: `app.rs` wires
//! them into a `Ctx`, and `loader`, `storage`, `live` and `shared_view` fill it.
//!
//! The dashboard components read only the [`Report`] and the import reports,
//! never the raw table: a shared snapshot (issue 6) or the live server rows
//! (issues 4 and 5) can drive the same components.

use std::collections::{BTreeMap, VecDeque};
use std::rc::Rc;
use std::sync::Arc;

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use futures::channel::oneshot;
use leptos::prelude::*;
use scoreboard_core::api::{Health, SourcesAnswer};
use scoreboard_core::parse::{ColumnUse, CsvPreview, Field, FileKind, LikelyMeasure};
use scoreboard_core::{DayRange, MeasureSet, Problem, Report, ReportOptions, Roster, WindowSpec};
use serde::{Deserialize, Serialize};

use crate::engine_msg::{LiveInfo, TableInfo};
use crate::live_cache;

/// Everything loaded so far. Persisted in IndexedDB (see `storage`).
#[derive(Debug, Clone, Default)]
pub struct Data {
    /// The size of the user's table, which the engine holds (`engine_state`).
    pub table: TableInfo,
    pub roster: Option<Roster>,
    /// One import report per file ever loaded (newest last).
    pub files: Vec<FileReport>,
    /// Set while the data is the bundled demo: its fixed "today".
    pub demo: Option<DemoInfo>,
}

impl Data {
    pub fn is_empty(&self) -> bool {
        self.table.is_empty() && self.roster.is_none()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DemoInfo {
    /// The date the demo data was generated for (`public/demo/manifest.json`).
    pub as_of: NaiveDate,
}

/// What happened to one file: the import report the user sees.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FileReport {
    pub file: String,
    /// What the file was recognised as; `None` when it could not be read at all.
    pub kind: Option<FileKind>,
    /// Wall-clock time of the load (UTC, ISO 8601).
    pub loaded_at: String,
    pub bytes: u64,
    /// Set when the file could not be used at all (the message says why).
    pub error: Option<String>,
    pub rows_read: u64,
    pub rows_rejected: u64,
    /// The first problems (line and reason); `problems_total` counts them all.
    pub problems: Vec<Problem>,
    pub problems_total: u64,
    pub columns: Vec<ColumnUse>,
    pub ignored_columns: Vec<String>,
    /// Unrecognised columns holding numbers in most rows: the import report
    /// offers the column dialog for them (issue 10).
    #[serde(default)]
    pub likely_measures: Vec<LikelyMeasure>,
    /// The measures the file carried; a later file replaces only these
    /// (metrics.md §1). `None` for a roster or a file that could not be read.
    #[serde(default)]
    pub measures: Option<MeasureSet>,
    /// The days the file covers (metrics.md §2).
    #[serde(default)]
    pub coverage: Vec<DayRange>,
    /// The key under which the page keeps a copy of the file's bytes (in
    /// memory and with the stored data), so "Map columns again" can read it
    /// anew; `None` when no copy is kept (see `storage::keep_file`, `Ctx::kept`).
    #[serde(default)]
    pub kept: Option<String>,
    pub warnings: Vec<String>,
    /// Person-day rows the file gave, and how many of them were new or replaced earlier ones.
    pub day_rows: u64,
    pub period_rows: u64,
    pub added: u64,
    pub replaced: u64,
    pub roster_entries: u64,
    pub first_day: Option<NaiveDate>,
    pub last_day: Option<NaiveDate>,
    /// The period the user said an undated export covers.
    pub period: Option<(NaiveDate, NaiveDate)>,
    /// Notes from the page itself (mapping reused, roster replaced, demo removed…).
    pub notes: Vec<String>,
    pub millis: f64,
}

/// How many problems of one file are kept for display and storage.
pub const MAX_PROBLEMS_KEPT: usize = 200;

impl FileReport {
    pub fn new(file: &str, bytes: u64) -> FileReport {
        FileReport {
            file: file.to_string(),
            kind: None,
            loaded_at: String::from(js_sys::Date::new_0().to_iso_string()),
            bytes,
            error: None,
            rows_read: 0,
            rows_rejected: 0,
            problems: Vec::new(),
            problems_total: 0,
            columns: Vec::new(),
            ignored_columns: Vec::new(),
            likely_measures: Vec::new(),
            measures: None,
            coverage: Vec::new(),
            kept: None,
            warnings: Vec::new(),
            day_rows: 0,
            period_rows: 0,
            added: 0,
            replaced: 0,
            roster_entries: 0,
            first_day: None,
            last_day: None,
            period: None,
            notes: Vec::new(),
            millis: 0.0,
        }
    }
}

/// The weeks the dashboard covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum WindowChoice {
    Last { weeks: u32 },
    All,
    Custom,
}

pub const WINDOW_CHOICES: [(WindowChoice, &str, &str); 7] = [
    (WindowChoice::Last { weeks: 4 }, "4", "Last 4 weeks"),
    (WindowChoice::Last { weeks: 8 }, "8", "Last 8 weeks"),
    (WindowChoice::Last { weeks: 12 }, "12", "Last 12 weeks"),
    (WindowChoice::Last { weeks: 26 }, "26", "Last 26 weeks"),
    (WindowChoice::Last { weeks: 52 }, "52", "Last 52 weeks"),
    (WindowChoice::All, "all", "All data"),
    (WindowChoice::Custom, "custom", "Custom dates…"),
];

impl WindowChoice {
    pub fn key(self) -> &'static str {
        WINDOW_CHOICES
            .iter()
            .find(|(c, _, _)| *c == self)
            .map_or("12", |(_, k, _)| k)
    }
    pub fn from_key(k: &str) -> Option<WindowChoice> {
        WINDOW_CHOICES
            .iter()
            .find(|(_, key, _)| *key == k)
            .map(|(c, _, _)| *c)
    }
}

/// The view: what the filters say. Kept in localStorage, and (issue 6) the
/// part of a share link that says what to show.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ViewState {
    pub window: WindowChoice,
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    pub team: Option<String>,
}

impl Default for ViewState {
    fn default() -> ViewState {
        ViewState {
            window: WindowChoice::Last { weeks: 8 },
            from: None,
            to: None,
            team: None,
        }
    }
}

impl ViewState {
    pub fn options(&self, as_of: NaiveDate) -> ReportOptions {
        let window = match self.window {
            WindowChoice::Last { weeks } => WindowSpec::LastWeeks { weeks },
            WindowChoice::All => WindowSpec::All,
            WindowChoice::Custom => match (self.from, self.to) {
                (Some(from), Some(to)) => WindowSpec::Custom { from, to },
                (Some(from), None) => WindowSpec::Custom { from, to: as_of },
                (None, Some(to)) => WindowSpec::Custom { from: to, to },
                (None, None) => WindowSpec::LastWeeks { weeks: 12 },
            },
        };
        ReportOptions {
            as_of,
            window,
            team: self.team.clone(),
        }
    }
}

/// Why the column dialog opens: it decides what the dialog says and what
/// "skip" means.
#[derive(Debug, Clone, PartialEq)]
pub enum MappingWhy {
    /// The file cannot be read until its columns are placed; skipping leaves it out.
    Required,
    /// The file was read, but these columns the importer does not recognise
    /// hold numbers in most rows; skipping keeps the file without them.
    LikelyMeasures(Vec<LikelyMeasure>),
    /// "Map columns again" from the import report; cancelling changes nothing.
    Again,
}

/// Something the importer needs to ask the user before it can read a file.
#[derive(Debug, Clone, PartialEq)]
pub enum Question {
    /// Which field is each header?
    Mapping {
        file: String,
        message: String,
        preview: CsvPreview,
        choice: BTreeMap<String, Option<Field>>,
        why: MappingWhy,
    },
    /// An export without dates: which days does it cover?
    Period {
        file: String,
        message: String,
        from: NaiveDate,
        to: NaiveDate,
        /// True when a period was given and rejected (the message says why).
        retry: bool,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    Mapping(BTreeMap<String, Option<Field>>),
    Period(NaiveDate, NaiveDate),
    Skip,
}

/// Import progress, shown while files are read.
#[derive(Debug, Clone, PartialEq)]
pub struct Progress {
    pub file: String,
    /// 1-based index of the file in the batch, and the batch size.
    pub index: usize,
    pub count: usize,
    pub done: f64,
    pub total: f64,
    pub stage: &'static str,
    /// True while the batch can still be cancelled (its files are being
    /// read; nothing of it is in the table yet).
    pub cancellable: bool,
}

/// The page's signals, shared through context. All `Copy`. Built in one
/// place, `app::new_ctx`, which wires the report to the view, the data and
/// the live rows.
#[derive(Clone, Copy)]
pub struct Ctx {
    pub data: RwSignal<Data>,
    pub view: RwSignal<ViewState>,
    /// The figures for the view, computed by the engine (`app::new_ctx`
    /// keeps them following the view, the data and the live rows); `None`
    /// while nothing is loaded: no report is computed from no data (its
    /// weeks would have no figures, and its dates would be made up).
    pub report: RwSignal<Option<Arc<Report>>>,
    /// False from the moment data is loaded until its first report comes
    /// (the dashboard waits rather than show figures of no data).
    pub report_ready: RwSignal<bool>,
    pub progress: RwSignal<Option<Progress>>,
    pub question: RwSignal<Option<Question>>,
    pub answer: StoredValue<Option<oneshot::Sender<Answer>>>,
    /// Indexes into `data.files` of the latest batch (the import report shows them first).
    pub last_batch: RwSignal<Vec<usize>>,
    /// A one-line message for the user (storage trouble, demo removed, copied…).
    pub notice: RwSignal<Option<String>>,
    /// True once stored data has been read back (or found missing).
    pub restored: RwSignal<bool>,
    /// Set when the user is about to load files (`loader::warm_engine`): the
    /// first screen's type is laid out unseen meanwhile (`dashboard::Primer`).
    pub fonts_wanted: RwSignal<bool>,
    /// The server's rows and source status when `scoreboard serve` serves the page (`live`).
    pub live: RwSignal<Option<Live>>,
    /// The background work under way (imports, saves, live refreshes).
    pub jobs: Jobs,
    /// Copies of the files small enough to keep, for "Map columns again" (`storage::keep_file`).
    pub kept: StoredValue<KeptFiles, LocalStorage>,
    /// The engine worker that reads dropped files, once the first import started it.
    pub engine: StoredValue<crate::engine::Slot, LocalStorage>,
}

impl Ctx {
    /// `f` of the report shown, tracked; `None` while there is none (nothing
    /// loaded). The views that show figures are only mounted once there is
    /// one, so they never draw a made-up value in its place.
    pub fn with_report<T>(self, f: impl FnOnce(&Report) -> T) -> Option<T> {
        self.report.with(|r| r.as_deref().map(f))
    }

    /// The report, for a view only mounted while there is one (the
    /// dashboard's panels, an embed's figures): `None` when there is none
    /// now. It follows `report`; should the report go (the data cleared)
    /// before the view is unmounted, the view keeps the last one it showed
    /// (the same `Arc`, so nothing keyed by it is built again).
    pub fn shown_report(self) -> Option<Signal<Arc<Report>>> {
        let last = StoredValue::new(self.report.get_untracked()?);
        let report = self.report;
        Some(Signal::derive(move || match report.get() {
            Some(r) => {
                last.set_value(r.clone());
                r
            }
            None => last.get_value(),
        }))
    }
}

/// Copies of loaded files by key (`FileReport.kept`), oldest first: read
/// anew when their columns are mapped again, and stored with the data.
#[derive(Debug, Default)]
pub struct KeptFiles {
    pub files: Vec<(String, Rc<Vec<u8>>)>,
    /// The last key's number (keys stay unique within the page's life).
    pub seq: u64,
}

impl Ctx {
    /// A read-only copy that shows `report` with `view` (a shared snapshot):
    /// the components below read it instead of the page's data.
    pub fn showing(self, report: Arc<Report>, view: ViewState) -> Ctx {
        Ctx {
            data: RwSignal::new(Data::default()),
            view: RwSignal::new(view),
            report: RwSignal::new(Some(report)),
            report_ready: RwSignal::new(true),
            notice: RwSignal::new(None),
            last_batch: RwSignal::new(Vec::new()),
            ..self
        }
    }
}

/// The page's background work, one of each kind at a time: what is under
/// way and what waits. Not signals: nothing is drawn from them.
#[derive(Clone, Copy)]
pub struct Jobs {
    /// Imports waiting while another one is read (`loader`): files dropped
    /// during an import, or while the demo loads, are read next, never dropped.
    pub imports: StoredValue<VecDeque<LoadJob>, LocalStorage>,
    /// True while the loader works through `imports`.
    pub importing: StoredValue<bool>,
    /// True while a save to IndexedDB runs (`storage::schedule_save`)…
    pub saving: StoredValue<bool>,
    /// …and whether the data changed meanwhile (another save follows).
    pub save_again: StoredValue<bool>,
    /// Counts changes of the data and clears: a save the page writes itself
    /// (no engine runs) stops without writing when overtaken by a newer
    /// revision (`StorageError::Stale`); the engine's stop at a clear.
    pub revision: StoredValue<u64>,
    /// True while the live rows are fetched again (`live::refresh`).
    pub refreshing: StoredValue<bool>,
    /// Set by "Cancel" beside the progress: the batch being read stops
    /// before anything of it is merged (`loader::cancel`).
    pub cancel: StoredValue<bool>,
    /// Reports asked of the engine and not answered yet, and the number of
    /// the latest asked (an older answer arriving after it is not shown).
    pub computing: StoredValue<(u32, u64)>,
    /// "Clear all data" so far: a save that waited for the page to be idle
    /// across one writes nothing.
    pub clears: StoredValue<u32>,
    /// The dashboard's sections and the engine's sample answer were asked
    /// for on the user's way to picking files (`loader::warm_engine`), once
    /// the engine has started.
    pub dashboard_asked: StoredValue<bool>,
    /// Merges under way: asked of the engine and not taken into the page's
    /// data yet (a batch holds one from its first change of the data until
    /// its files' reports are in). A save waits for none, so the meta it
    /// sends (the files' reports) describes the table the engine writes
    /// beside it.
    pub merging: StoredValue<u32>,
    /// Who waits for the reports asked to be answered
    /// (`backend::report_settled`), woken when `computing` drops to none.
    pub settled: StoredValue<Vec<futures::channel::oneshot::Sender<()>>, LocalStorage>,
    /// Set when the engine worker failed: the rows it held are gone from
    /// this page, so nothing is saved over the stored data (a reload reads
    /// it back) and no report is asked of the empty engine that replaced it.
    pub engine_lost: StoredValue<bool>,
    /// The dashboard's lazily loaded sections were asked for
    /// (`components::preload_dashboard`).
    pub dashboard_preloaded: StoredValue<bool>,
    /// The import code's module was asked for (`loader::warm_engine`).
    pub import_code_preloaded: StoredValue<bool>,
}

impl Jobs {
    pub fn new() -> Jobs {
        Jobs {
            imports: StoredValue::new_local(VecDeque::new()),
            importing: StoredValue::new(false),
            saving: StoredValue::new(false),
            save_again: StoredValue::new(false),
            revision: StoredValue::new(0),
            refreshing: StoredValue::new(false),
            cancel: StoredValue::new(false),
            computing: StoredValue::new((0, 0)),
            clears: StoredValue::new(0),
            dashboard_asked: StoredValue::new(false),
            merging: StoredValue::new(0),
            settled: StoredValue::new_local(Vec::new()),
            engine_lost: StoredValue::new(false),
            dashboard_preloaded: StoredValue::new(false),
            import_code_preloaded: StoredValue::new(false),
        }
    }
}

/// One thing to import.
pub enum Input {
    File(web_sys::File),
    Bytes { name: String, bytes: Vec<u8> },
}

impl Input {
    pub fn name(&self) -> String {
        match self {
            Input::File(f) => f.name(),
            Input::Bytes { name, .. } => name.clone(),
        }
    }
    pub fn size(&self) -> f64 {
        match self {
            Input::File(f) => f.size(),
            Input::Bytes { bytes, .. } => bytes.len() as f64,
        }
    }
}

/// Where a batch comes from: it decides how the roster is combined.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// Dropped or picked files: a roster file replaces the roster loaded before.
    Files,
    /// E-mails pasted into the page: added to the roster.
    PastedRoster,
    /// The bundled demo: replaces everything, with its own "today".
    Demo(NaiveDate),
}

/// What the loader does, one at a time, in order.
pub enum LoadJob {
    Batch(Vec<Input>, Origin),
    /// "Map columns again" for the file whose copy is kept under this key.
    MapAgain(String),
}

/// What the server gave at the last successful refresh (`live`), and how
/// the last attempt went.
#[derive(Debug, Clone, Default)]
pub struct Live {
    pub health: Health,
    /// How many day rows and period rows (the server's exports folder) the
    /// engine holds of the server's (`engine_state`).
    pub rows: u64,
    pub periods: u64,
    /// The server's roster (roster file + Admin API users); `None` when it has none.
    pub roster: Option<Roster>,
    pub roster_problems: Vec<Problem>,
    pub sources: Option<SourcesAnswer>,
    /// When the rows shown were fetched (this browser's clock).
    pub refreshed_at: Option<DateTime<Utc>>,
    /// Why the latest refresh failed; the rows of the one before are kept.
    pub error: Option<String>,
    /// What `rows` answer to (range, cursor, `ETag`): sent back at the next refresh.
    pub held: live_cache::Held,
    /// Counts the rows answers taken: the report is computed again when it
    /// moves, not when a refresh changed only the status (a `304`).
    pub rows_taken: u64,
}

impl Live {
    /// Takes in what the engine holds after a rows answer, and what it answers to.
    pub fn take(&mut self, info: &LiveInfo, held: live_cache::Held) {
        self.rows = info.rows;
        self.periods = info.periods;
        self.held = held;
        self.rows_taken += 1;
    }

    /// True when the server holds usage rows: the dashboard then shows them
    /// even with nothing dropped. A roster alone is not enough: it would
    /// show everyone as not started (the empty-organisation trap).
    pub fn has_rows(&self) -> bool {
        self.rows > 0 || self.periods > 0
    }
}

/// The roster the report is computed with in live mode: the server's and
/// the user's merged (the user's fills in or overrides the server's
/// fields); the demo's is never mixed with real server rows.
pub fn report_roster(d: &Data, l: &Live) -> Option<Roster> {
    let mine = d.roster.as_ref().filter(|_| d.demo.is_none());
    match (&l.roster, mine) {
        (Some(server), Some(mine)) => Some(server.merged_with(mine)),
        (Some(server), None) => Some(server.clone()),
        (None, Some(mine)) => Some(mine.clone()),
        (None, None) => None,
    }
}

/// The page's state (provided by `App` before any component runs).
pub fn ctx() -> Ctx {
    expect_context::<Ctx>()
}

/// The default period for an export without dates: this month to date (UTC).
pub fn default_period(today: NaiveDate) -> (NaiveDate, NaiveDate) {
    (today.with_day(1).unwrap_or(today), today)
}
