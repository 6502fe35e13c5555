//! The receiver's SQLite tables (all prefixed `otlp_`, in the file the server shares).
//!
//! Group commit: one writer thread (`crate::writer`) owns the write
//! connection and stores the requests that queued up while its last commit
//! ran in one IMMEDIATE transaction, each request inside its own savepoint
//! ([`apply_one`]); only after the COMMIT returns is any of them
//! acknowledged. A request's body digest, dedupe keys, cumulative state and
//! aggregates are committed together, so a crash before the commit loses
//! nothing a client was told was stored, and a crash after it cannot make a
//! re-sent body count twice. Requests of one group are applied in arrival
//! order on one connection, so a later one sees what an earlier one wrote:
//! two copies of the same retry in one group count once.
//!
//! Tables:
//! - `otlp_days` (day, person): sessions, lines, commits, pull requests,
//!   active time (cli / user, in ms: not part of `Measures`, kept for later use);
//! - `otlp_day_tools` (day, person, tool): accepted / rejected edit decisions;
//! - `otlp_usage` (day, person, session, origin, model): tokens and cost,
//!   once from metrics (`origin = 'metric'`) and once from `api_request`
//!   events (`origin = 'event'`); which one counts is decided when reading
//!   (see [`Store::day_rows`]), so the answer does not depend on arrival order;
//! - `otlp_cumulative` (series hash, start): last value of each cumulative series;
//! - `otlp_batches`, `otlp_delta_seen`, `otlp_events_seen`: dedupe keys
//!   (hashes only), each led by its body's, point's or event's own time so
//!   that the keys of one moment share their tables' last pages (a bare
//!   hash dirtied a random page per point, and the commit wrote each);
//! - `otlp_persons`: when each person or device was first and last heard from;
//! - `otlp_clients` (person, token): when each person or device was heard
//!   from with each ingest token (0: none known), and the Claude Code
//!   version (`service.version`) it last reported: the roll-out view;
//! - `otlp_meta`: schema version and counters for the status.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use rusqlite::{params, Connection, OptionalExtension};
use scoreboard_core::parse::parse_day;
use scoreboard_core::{DayRow, Measures, ModelUsage, PersonKey, Source, ToolDecisions};
use sha2::{Digest, Sha256};

use crate::extract::{Extracted, Measure, MetricPoint, ModelTokenKind};
use crate::{
    ActiveTime, ClientSeen, OtlpError, PersonClients, PersonSeen, TelemetryStatus, TokenId,
    TokenUsage,
};

/// Tables added since (`otlp_clients`) are created `IF NOT EXISTS` and
/// older versions ignore them, so the version stays 1: a downgrade still opens.
const SCHEMA_VERSION: i64 = 1;

/// Retried batches arrive within seconds or minutes; a week is ample.
const DEDUPE_RETENTION: TimeDelta = TimeDelta::days(7);
/// A cumulative series is re-sent for as long as its process lives.
const CUMULATIVE_RETENTION: TimeDelta = TimeDelta::days(35);
const PRUNE_EVERY: Duration = Duration::from_secs(3600);
/// WAL pages after which a commit of the writer checkpoints (see [`Store::open`]).
const WAL_AUTOCHECKPOINT_PAGES: u32 = 8192;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS otlp_meta (
    key   TEXT PRIMARY KEY,
    value INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS otlp_days (
    day            TEXT NOT NULL,
    person         TEXT NOT NULL,
    sessions       INTEGER NOT NULL DEFAULT 0,
    lines_added    INTEGER NOT NULL DEFAULT 0,
    lines_removed  INTEGER NOT NULL DEFAULT 0,
    commits        INTEGER NOT NULL DEFAULT 0,
    pull_requests  INTEGER NOT NULL DEFAULT 0,
    active_cli_ms  INTEGER NOT NULL DEFAULT 0,
    active_user_ms INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (day, person)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS otlp_day_tools (
    day      TEXT NOT NULL,
    person   TEXT NOT NULL,
    tool     TEXT NOT NULL,
    accepted INTEGER NOT NULL DEFAULT 0,
    rejected INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (day, person, tool)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS otlp_usage (
    day                   TEXT NOT NULL,
    person                TEXT NOT NULL,
    session               TEXT NOT NULL,
    origin                TEXT NOT NULL CHECK (origin IN ('metric', 'event')),
    model                 TEXT NOT NULL,
    input_tokens          INTEGER NOT NULL DEFAULT 0,
    output_tokens         INTEGER NOT NULL DEFAULT 0,
    cache_read_tokens     INTEGER NOT NULL DEFAULT 0,
    cache_creation_tokens INTEGER NOT NULL DEFAULT 0,
    cost_micros           INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (day, person, session, origin, model)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS otlp_usage_by_session ON otlp_usage (session, origin);
CREATE TABLE IF NOT EXISTS otlp_cumulative (
    series     BLOB NOT NULL,
    start_ns   INTEGER NOT NULL,
    time_ns    INTEGER NOT NULL,
    value      REAL NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (series, start_ns)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS otlp_batches (
    digest      BLOB PRIMARY KEY,
    received_at INTEGER NOT NULL,
    rejected    INTEGER NOT NULL,
    message     TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS otlp_delta_seen (
    key         BLOB PRIMARY KEY,
    received_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS otlp_events_seen (
    key         BLOB PRIMARY KEY,
    received_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS otlp_persons (
    person      TEXT PRIMARY KEY,
    device_only INTEGER NOT NULL,
    first_seen  INTEGER NOT NULL,
    last_seen   INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS otlp_clients (
    person      TEXT NOT NULL,
    token       INTEGER NOT NULL,
    device_only INTEGER NOT NULL,
    version     TEXT,
    first_seen  INTEGER NOT NULL,
    last_seen   INTEGER NOT NULL,
    PRIMARY KEY (person, token)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS otlp_clients_by_token ON otlp_clients (token);
";

/// What became of one acknowledged request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub rejected: u64,
    pub message: String,
    /// The same body was already stored: nothing was added this time.
    pub duplicate: bool,
}

impl Outcome {
    /// A request with nothing to store (no resource, or traces).
    pub fn nothing() -> Outcome {
        Outcome {
            rejected: 0,
            message: String::new(),
            duplicate: false,
        }
    }
}

pub struct Store {
    writer: crate::writer::Writer,
    reader: Mutex<Connection>,
    busy_timeout: Duration,
}

/// One decoded request, as the writer thread stores it.
pub(crate) struct Request {
    pub digest: [u8; 32],
    pub ex: Extracted,
    pub token: Option<TokenId>,
    pub now: DateTime<Utc>,
    /// Worked out on the request's own thread, so the writer (the one
    /// thread every request waits for) mostly runs statements.
    prepared: Prepared,
}

/// What storing a request needs that does not depend on the database.
struct Prepared {
    rejected: u64,
    message: String,
    /// Per point of `ex.points`: its dedupe key and its key of the form
    /// used before issue 13 (delta points; unused for cumulative ones).
    point_keys: Vec<([u8; 24], [u8; 16])>,
    /// Per event of `ex.api_requests`, the same.
    event_keys: Vec<([u8; 24], [u8; 16])>,
    /// The aggregates (and unattributed count) if every point and event
    /// turns out new, as nearly every one does; `None` when some point is
    /// cumulative (its increment depends on stored state).
    fresh: Option<(Agg, i64)>,
}

impl Request {
    pub(crate) fn new(
        digest: [u8; 32],
        ex: Extracted,
        token: Option<TokenId>,
        now: DateTime<Utc>,
    ) -> Request {
        let point_keys = ex
            .points
            .iter()
            .map(|p| {
                let old = legacy_delta_key(p);
                (timed_key(p.time_ns, &old), old)
            })
            .collect();
        let event_keys = ex
            .api_requests
            .iter()
            .map(|e| {
                let hash = event_hash(e);
                (timed_key(e.time_ns, &hash), hash)
            })
            .collect();
        let fresh = (!ex.points.iter().any(|p| p.cumulative)).then(|| {
            let mut agg = Agg::default();
            let mut unattributed = 0;
            for p in &ex.points {
                agg.add_metric(p, p.value);
                unattributed += i64::from(p.who.device_only);
            }
            for e in &ex.api_requests {
                agg.add_event(e);
                unattributed += i64::from(e.who.device_only);
            }
            (agg, unattributed)
        });
        let prepared = Prepared {
            rejected: ex.rejected.total(),
            message: ex.rejected.message(),
            point_keys,
            event_keys,
            fresh,
        };
        Request {
            digest,
            ex,
            token,
            now,
            prepared,
        }
    }
}

/// The `otlp_meta` counters a request moves, added up over a group and
/// written once per commit (only for requests whose savepoint was kept).
#[derive(Debug, Default)]
pub(crate) struct Tally {
    batches: i64,
    duplicates: i64,
    rejected: i64,
    unattributed: i64,
    last_received_ms: Option<i64>,
    /// Who was written as heard from (see [`Memory`]).
    heard: Vec<(Heard, HeardAt)>,
}

/// A person (or device) and the token it sent with.
type Heard = (String, TokenId);
/// When it was last written as heard from (ms), and with which version.
type HeardAt = (i64, Option<String>);

impl Tally {
    pub(crate) fn add(&mut self, o: Tally) {
        self.batches += o.batches;
        self.duplicates += o.duplicates;
        self.rejected = self.rejected.saturating_add(o.rejected);
        self.unattributed += o.unattributed;
        self.last_received_ms = self.last_received_ms.max(o.last_received_ms);
        self.heard.extend(o.heard);
    }
}

/// What the writer thread keeps from one group to the next (`None` before
/// its first): when it last pruned, and whom it last wrote as heard from.
pub(crate) type LastPrune = Option<Memory>;

pub(crate) struct Memory {
    pruned_at: Instant,
    /// (person, token) → when its `otlp_persons` and `otlp_clients` rows were
    /// last written, and with which Claude Code version. Rewriting them on
    /// every request dirtied two random pages per request for a time that
    /// moved by seconds; now they move at most once a [`HEARD_EVERY`], or
    /// at once when the version changes. Only committed writes are kept.
    heard: HashMap<Heard, HeardAt>,
}

/// How stale "last heard from" (`otlp_persons`, `otlp_clients`) may be.
const HEARD_EVERY_MS: i64 = 60_000;
/// Most (person, token) pairs remembered; past it the memory starts again.
const MAX_HEARD: usize = 200_000;

impl Memory {
    /// Called after a group's COMMIT returned, with what it wrote.
    pub(crate) fn committed(&mut self, tally: Tally) {
        if self.heard.len() + tally.heard.len() > MAX_HEARD {
            self.heard.clear();
        }
        self.heard.extend(tally.heard);
    }

    fn recently_heard(
        &self,
        person: &str,
        token: TokenId,
        version: Option<&str>,
        now_ms: i64,
    ) -> bool {
        // The key is borrowed only to look up; a clone is cheaper than a
        // second map type here (a few dozen bytes, once per person a request).
        match self.heard.get(&(person.to_string(), token)) {
            Some((at, v)) => {
                now_ms - *at < HEARD_EVERY_MS && (version.is_none() || version == v.as_deref())
            }
            None => false,
        }
    }
}

pub(crate) fn connect(path: &Path, busy_timeout: Duration) -> Result<Connection, rusqlite::Error> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(busy_timeout)?;
    let _mode: String = conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))?;
    // FULL: an acknowledged batch survives a power cut, not only a crash.
    conn.execute_batch("PRAGMA synchronous=FULL;")?;
    Ok(conn)
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding the lock cannot leave SQLite half-written (the
    // transaction rolls back on drop), so the connection stays usable.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

fn from_ms(v: i64) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp_millis(v)
}

fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn to_u64(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

#[derive(Default)]
struct DayAdd {
    sessions: i64,
    lines_added: i64,
    lines_removed: i64,
    commits: i64,
    pull_requests: i64,
    active_cli_ms: i64,
    active_user_ms: i64,
}

#[derive(Default)]
struct UsageAdd {
    input: i64,
    output: i64,
    cache_read: i64,
    cache_creation: i64,
    cost_micros: i64,
}

#[derive(Default)]
struct Agg {
    days: HashMap<(NaiveDate, String), DayAdd>,
    tools: HashMap<(NaiveDate, String, String), (i64, i64)>,
    usage: HashMap<(NaiveDate, String, String, &'static str, String), UsageAdd>,
}

/// The most any stored figure of one row may reach. Points are bounded by
/// `extract::MAX_COUNT` (10¹²), so this takes a thousand of the largest
/// plausible points; past it a figure stays at the cap instead of
/// overflowing SQLite's integers (which turned sums into REALs or made
/// `SUM()` fail, and `/api/rows` with it). Under 2⁵³, so `TOTAL()` over
/// stored figures is exact up to the cap.
pub const STORE_CAP: i64 = 1_000_000_000_000_000;

fn count(inc: f64) -> i64 {
    // Float → integer `as` saturates; values are already checked non-negative and finite.
    (inc.round() as i64).min(STORE_CAP)
}

/// `a + b`, never past [`STORE_CAP`].
fn add(a: &mut i64, b: i64) {
    *a = a.saturating_add(b).min(STORE_CAP);
}

impl Agg {
    fn add_event(&mut self, e: &crate::extract::ApiRequest) {
        let u = self
            .usage
            .entry((
                e.day,
                e.who.key.as_str().to_string(),
                e.session.clone(),
                "event",
                e.model.clone(),
            ))
            .or_default();
        add(&mut u.input, to_i64(e.input_tokens));
        add(&mut u.output, to_i64(e.output_tokens));
        add(&mut u.cache_read, to_i64(e.cache_read_tokens));
        add(&mut u.cache_creation, to_i64(e.cache_creation_tokens));
        add(&mut u.cost_micros, e.cost_micros.max(0));
    }

    fn add_metric(&mut self, p: &MetricPoint, inc: f64) {
        let person = p.who.key.as_str().to_string();
        match &p.measure {
            Measure::Edit { tool, accepted } => {
                let e = self.tools.entry((p.day, person, tool.clone())).or_default();
                if *accepted {
                    add(&mut e.0, count(inc));
                } else {
                    add(&mut e.1, count(inc));
                }
            }
            Measure::Tokens { model, kind } => {
                let u = self
                    .usage
                    .entry((p.day, person, p.session.clone(), "metric", model.clone()))
                    .or_default();
                let n = count(inc);
                match kind {
                    ModelTokenKind::Input => add(&mut u.input, n),
                    ModelTokenKind::Output => add(&mut u.output, n),
                    ModelTokenKind::CacheRead => add(&mut u.cache_read, n),
                    ModelTokenKind::CacheCreation => add(&mut u.cache_creation, n),
                }
            }
            Measure::Cost { model } => {
                let u = self
                    .usage
                    .entry((p.day, person, p.session.clone(), "metric", model.clone()))
                    .or_default();
                // Rounded per point (per increment for cumulative series), summed as integers.
                add(
                    &mut u.cost_micros,
                    scoreboard_core::model::usd_to_micros(inc),
                );
            }
            other => {
                let d = self.days.entry((p.day, person)).or_default();
                match other {
                    Measure::Sessions => add(&mut d.sessions, count(inc)),
                    Measure::LinesAdded => add(&mut d.lines_added, count(inc)),
                    Measure::LinesRemoved => add(&mut d.lines_removed, count(inc)),
                    Measure::Commits => add(&mut d.commits, count(inc)),
                    Measure::PullRequests => add(&mut d.pull_requests, count(inc)),
                    Measure::ActiveTime { user: false } => {
                        add(&mut d.active_cli_ms, count(inc * 1000.0))
                    }
                    Measure::ActiveTime { user: true } => {
                        add(&mut d.active_user_ms, count(inc * 1000.0))
                    }
                    Measure::Edit { .. } | Measure::Tokens { .. } | Measure::Cost { .. } => {}
                }
            }
        }
    }
}

/// The key of a delta point before issue 13 (16 bytes of a hash): still
/// looked up while keys of that form may be stored ([`LEGACY_KEYS_UNTIL`]).
fn legacy_delta_key(p: &MetricPoint) -> [u8; 16] {
    let mut h = Sha256::new();
    h.update(b"delta-v1");
    h.update(p.series);
    h.update(p.start_ns.to_le_bytes());
    h.update(p.time_ns.to_le_bytes());
    let full: [u8; 32] = h.finalize().into();
    let mut k = [0u8; 16];
    k.copy_from_slice(&full[..16]);
    k
}

/// A dedupe key: the point's or event's own time (big-endian, so keys sort
/// by it), then 16 bytes of its hash. A hash alone put every key on a
/// random page of its table, and each commit wrote a page per point to the
/// WAL (BENCHMARKS.md §5); keys of one moment now share the table's last
/// pages. A re-sent point carries the same time, so it finds its key.
fn timed_key(time_ns: u64, hash: &[u8; 16]) -> [u8; 24] {
    let mut k = [0u8; 24];
    k[..8].copy_from_slice(&time_ns.to_be_bytes());
    k[8..].copy_from_slice(hash);
    k
}

fn event_hash(e: &crate::extract::ApiRequest) -> [u8; 16] {
    let mut k = [0u8; 16];
    k.copy_from_slice(&e.key[..16]);
    k
}

/// `otlp_meta` key: until when (ms) dedupe keys of the old, untimed form
/// may still be stored (they were written before this version first opened
/// the file, and are pruned after [`DEDUPE_RETENTION`]).
const LEGACY_KEYS_UNTIL: &str = "legacy_dedupe_keys_until_ms";
/// `otlp_meta` key: set once this version (timed dedupe keys) opened the file.
const TIMED_KEYS: &str = "timed_dedupe_keys";

/// Records, the first time this version opens a file, whether keys of the
/// old form may be in it, and until when.
fn mark_key_form(conn: &Connection, now: DateTime<Utc>) -> Result<(), rusqlite::Error> {
    let tx = conn.unchecked_transaction()?;
    let marked: bool = tx.query_row(
        "SELECT EXISTS (SELECT 1 FROM otlp_meta WHERE key = ?1)",
        [TIMED_KEYS],
        |r| r.get(0),
    )?;
    if !marked {
        let old_keys: bool = tx.query_row(
            "SELECT EXISTS (SELECT 1 FROM otlp_delta_seen) OR EXISTS (SELECT 1 FROM otlp_events_seen)",
            [],
            |r| r.get(0),
        )?;
        if old_keys {
            // An hour past the pruning of the last of them.
            let until = now + DEDUPE_RETENTION + TimeDelta::hours(1);
            tx.execute(
                "INSERT OR REPLACE INTO otlp_meta (key, value) VALUES (?1, ?2)",
                params![LEGACY_KEYS_UNTIL, ms(until)],
            )?;
        }
        tx.execute(
            "INSERT INTO otlp_meta (key, value) VALUES (?1, 1)",
            [TIMED_KEYS],
        )?;
    }
    tx.commit()
}

/// Until when (ms) keys of the old form must be looked up too, if ever.
pub(crate) fn legacy_keys_until(conn: &Connection) -> Result<Option<i64>, rusqlite::Error> {
    conn.prepare_cached("SELECT value FROM otlp_meta WHERE key = ?1")?
        .query_row([LEGACY_KEYS_UNTIL], |r| r.get(0))
        .optional()
}

impl Store {
    /// Opens the tables and starts the writer thread: at most
    /// `queue_capacity` requests wait for it, at most `max_group` share a commit.
    pub fn open(
        path: &Path,
        busy_timeout: Duration,
        queue_capacity: usize,
        max_group: usize,
    ) -> Result<Store, OtlpError> {
        let open_err = |source| OtlpError::Open {
            path: path.to_path_buf(),
            source,
        };
        crate::make_private_db_file(path).map_err(|source| OtlpError::Private {
            path: path.to_path_buf(),
            source,
        })?;
        let writer = connect(path, busy_timeout).map_err(open_err)?;
        // The pages a day of telemetry upserts (aggregates, who was heard
        // from, the dedupe keys' last pages) stay in memory instead of
        // being read back from the OS on every group (BENCHMARKS.md §5).
        // SQLite's default is 2 MiB; this is an upper bound, taken as used.
        writer
            .execute_batch("PRAGMA cache_size = -32768;")
            .map_err(open_err)?;
        // A checkpoint copies each page the WAL holds into the database
        // file once, however many commits rewrote it; at SQLite's default
        // (1,000 pages, 4 MB) the pages every group rewrites (the dedupe
        // keys' last pages, the counters) were copied every few dozen
        // groups, on the writer thread, a tenth or more of its time
        // (BENCHMARKS.md §5). 8,192 pages (32 MiB of WAL at most, beside
        // a 32 MiB page cache) copies them several times less often.
        // Durability is the WAL's (`synchronous = FULL`), not the checkpoint's.
        writer
            .execute_batch(&format!(
                "PRAGMA wal_autocheckpoint = {WAL_AUTOCHECKPOINT_PAGES};"
            ))
            .map_err(open_err)?;
        // Every statement of a group stays prepared: rusqlite keeps 16 by
        // default and a group uses about as many (more with the legacy
        // dedupe lookups), so a group evicted and parsed some anew.
        writer.set_prepared_statement_cache_capacity(64);
        writer.execute_batch(SCHEMA).map_err(open_err)?;
        let found: Option<i64> = writer
            .query_row(
                "SELECT value FROM otlp_meta WHERE key = 'schema_version'",
                [],
                |r| r.get(0),
            )
            .optional()
            .map_err(open_err)?;
        match found {
            Some(v) if v > SCHEMA_VERSION => {
                return Err(OtlpError::SchemaTooNew {
                    found: v,
                    supported: SCHEMA_VERSION,
                });
            }
            Some(_) => {}
            None => {
                writer
                    .execute(
                        "INSERT INTO otlp_meta (key, value) VALUES ('schema_version', ?1)",
                        [SCHEMA_VERSION],
                    )
                    .map_err(open_err)?;
            }
        }
        mark_key_form(&writer, Utc::now()).map_err(open_err)?;
        let reader = connect(path, busy_timeout).map_err(open_err)?;
        let writer = crate::writer::Writer::start(writer, busy_timeout, queue_capacity, max_group)
            .map_err(OtlpError::Thread)?;
        Ok(Store {
            writer,
            reader: Mutex::new(reader),
            busy_timeout,
        })
    }

    fn map_err(&self, e: rusqlite::Error) -> OtlpError {
        map_err(self.busy_timeout, e)
    }

    /// Stores one decoded request (or recognises a body stored before) in
    /// the writer's next group, and answers once that group is committed.
    /// `token`: the ingest token the request carried, when the server names it.
    pub async fn apply(
        &self,
        digest: [u8; 32],
        ex: Extracted,
        token: Option<TokenId>,
        now: DateTime<Utc>,
    ) -> Result<Outcome, OtlpError> {
        // Keys, aggregates and the answer's message are worked out here, on
        // the request's thread, not on the writer's.
        self.writer
            .store(Request::new(digest, ex, token, now))
            .await
    }
    /// Person-day rows for `from..=to`.
    ///
    /// Tokens and cost: metrics when the session has any token or cost metric
    /// (on any day), else its `api_request` events — and never events for a
    /// person-day that has session-less metrics (a client with
    /// `OTEL_METRICS_INCLUDE_SESSION_ID=false`), since those may cover the
    /// same calls. Events without a session id count only where the
    /// person-day has no token or cost metrics at all.
    ///
    /// Every stored figure is read clamped to `[0, STORE_CAP]` and sums use
    /// `TOTAL()` (a float, exact below 2⁵³) clamped the same way: whatever a
    /// row holds, even a REAL an older version let through, reading never
    /// fails and never overflows.
    pub fn day_rows(&self, from: NaiveDate, to: NaiveDate) -> Result<Vec<DayRow>, OtlpError> {
        let conn = lock(&self.reader);
        self.read_rows(&conn, from, to).map_err(|e| self.map_err(e))
    }

    fn read_rows(
        &self,
        conn: &Connection,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<DayRow>, rusqlite::Error> {
        let (f, t) = (from.to_string(), to.to_string());
        let mut rows: BTreeMap<(NaiveDate, String), DayRow> = BTreeMap::new();

        let mut q = conn.prepare_cached(
            "SELECT day, person,
                    CAST(min(max(sessions, 0), 1000000000000000) AS INTEGER),
                    CAST(min(max(lines_added, 0), 1000000000000000) AS INTEGER),
                    CAST(min(max(lines_removed, 0), 1000000000000000) AS INTEGER),
                    CAST(min(max(commits, 0), 1000000000000000) AS INTEGER),
                    CAST(min(max(pull_requests, 0), 1000000000000000) AS INTEGER)
             FROM otlp_days WHERE day BETWEEN ?1 AND ?2",
        )?;
        let mut it = q.query(params![f, t])?;
        while let Some(r) = it.next()? {
            let row = entry(&mut rows, r.get(0)?, r.get(1)?)?;
            row.measures.add(&Measures {
                sessions: to_u64(r.get(2)?),
                lines_added: to_u64(r.get(3)?),
                lines_removed: to_u64(r.get(4)?),
                commits: to_u64(r.get(5)?),
                pull_requests: to_u64(r.get(6)?),
                ..Measures::default()
            });
        }

        let mut q = conn.prepare_cached(
            "SELECT day, person, tool,
                    CAST(min(max(accepted, 0), 1000000000000000) AS INTEGER),
                    CAST(min(max(rejected, 0), 1000000000000000) AS INTEGER)
             FROM otlp_day_tools
             WHERE day BETWEEN ?1 AND ?2 ORDER BY day, person, tool",
        )?;
        let mut it = q.query(params![f, t])?;
        while let Some(r) = it.next()? {
            let row = entry(&mut rows, r.get(0)?, r.get(1)?)?;
            let (accepted, rejected) = (to_u64(r.get(3)?), to_u64(r.get(4)?));
            row.measures.add(&Measures {
                edits_accepted: accepted,
                edits_rejected: rejected,
                ..Measures::default()
            });
            row.tools.push(ToolDecisions {
                tool: r.get(2)?,
                accepted,
                rejected,
            });
        }

        let mut q = conn.prepare_cached(
            "SELECT u.day, u.person, u.model,
                    CAST(min(TOTAL(max(u.input_tokens, 0)), 1000000000000000) AS INTEGER),
                    CAST(min(TOTAL(max(u.output_tokens, 0)), 1000000000000000) AS INTEGER),
                    CAST(min(TOTAL(max(u.cache_read_tokens, 0)), 1000000000000000) AS INTEGER),
                    CAST(min(TOTAL(max(u.cache_creation_tokens, 0)), 1000000000000000) AS INTEGER),
                    CAST(min(TOTAL(max(u.cost_micros, 0)), 1000000000000000) AS INTEGER)
             FROM otlp_usage u
             WHERE u.day BETWEEN ?1 AND ?2
               AND (u.origin = 'metric' OR (
                    NOT EXISTS (SELECT 1 FROM otlp_usage m WHERE m.origin = 'metric'
                                AND m.day = u.day AND m.person = u.person AND m.session = '')
                    AND CASE WHEN u.session = ''
                        THEN NOT EXISTS (SELECT 1 FROM otlp_usage m WHERE m.origin = 'metric'
                                         AND m.day = u.day AND m.person = u.person)
                        ELSE NOT EXISTS (SELECT 1 FROM otlp_usage m WHERE m.origin = 'metric'
                                         AND m.session = u.session)
                    END))
             GROUP BY u.day, u.person, u.model
             ORDER BY u.day, u.person, u.model",
        )?;
        let mut it = q.query(params![f, t])?;
        while let Some(r) = it.next()? {
            let row = entry(&mut rows, r.get(0)?, r.get(1)?)?;
            let m = ModelUsage {
                model: r.get(2)?,
                input_tokens: to_u64(r.get(3)?),
                output_tokens: to_u64(r.get(4)?),
                cache_read_tokens: to_u64(r.get(5)?),
                cache_creation_tokens: to_u64(r.get(6)?),
                cost_micros: r.get(7)?,
                cost_is_estimated: false,
            };
            row.measures.add(&Measures {
                input_tokens: m.input_tokens,
                output_tokens: m.output_tokens,
                cache_read_tokens: m.cache_read_tokens,
                cache_creation_tokens: m.cache_creation_tokens,
                cost_micros: m.cost_micros,
                ..Measures::default()
            });
            row.models.push(m);
        }
        Ok(rows.into_values().collect())
    }

    pub fn active_time(
        &self,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<ActiveTime>, OtlpError> {
        let conn = lock(&self.reader);
        let read = || -> Result<Vec<ActiveTime>, rusqlite::Error> {
            let mut q = conn.prepare_cached(
                "SELECT day, person,
                        CAST(min(max(active_cli_ms, 0), 1000000000000000) AS INTEGER),
                        CAST(min(max(active_user_ms, 0), 1000000000000000) AS INTEGER)
                 FROM otlp_days
                 WHERE day BETWEEN ?1 AND ?2 ORDER BY day, person",
            )?;
            let mut out = Vec::new();
            let mut it = q.query(params![from.to_string(), to.to_string()])?;
            while let Some(r) = it.next()? {
                let day: String = r.get(0)?;
                let person: String = r.get(1)?;
                out.push(ActiveTime {
                    day: stored_day(&day)?,
                    person: parse_person(&person),
                    cli_ms: to_u64(r.get(2)?),
                    user_ms: to_u64(r.get(3)?),
                });
            }
            Ok(out)
        };
        read().map_err(|e| self.map_err(e))
    }

    pub fn status(&self, now: DateTime<Utc>) -> Result<TelemetryStatus, OtlpError> {
        let conn = lock(&self.reader);
        let read = || -> Result<TelemetryStatus, rusqlite::Error> {
            let meta = |k: &str| -> Result<i64, rusqlite::Error> {
                Ok(conn
                    .query_row("SELECT value FROM otlp_meta WHERE key = ?1", [k], |r| {
                        r.get(0)
                    })
                    .optional()?
                    .unwrap_or(0))
            };
            let last = meta("last_received_at_ms")?;
            let day_ago = ms(now - TimeDelta::hours(24));
            let week_ago = ms(now - TimeDelta::days(7));
            let (total, in_day, in_week, devices): (i64, i64, i64, i64) = conn.query_row(
                "SELECT COUNT(*), COUNT(*) FILTER (WHERE last_seen >= ?1),
                        COUNT(*) FILTER (WHERE last_seen >= ?2), COUNT(*) FILTER (WHERE device_only)
                 FROM otlp_persons",
                params![day_ago, week_ago],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )?;
            // Most recently heard from first, at most MAX_LISTED_PERSONS: an
            // ingest token sending made-up identities cannot make this answer
            // (and every page that reads it) grow without end.
            let mut persons = Vec::new();
            let mut q = conn.prepare_cached(
                "SELECT person, device_only, first_seen, last_seen FROM otlp_persons
                 ORDER BY last_seen DESC, person LIMIT ?1",
            )?;
            let mut it = q.query([MAX_LISTED_PERSONS as i64])?;
            while let Some(r) = it.next()? {
                persons.push(person_seen(r)?);
            }
            persons.sort_by(|a, b| a.person.as_str().cmp(b.person.as_str()));
            let within = |d: TimeDelta| -> Vec<PersonKey> {
                persons
                    .iter()
                    .filter(|p| p.last_received_at >= now - d)
                    .map(|p| p.person.clone())
                    .collect()
            };
            let people_last_24h = within(TimeDelta::hours(24));
            let people_last_7d = within(TimeDelta::days(7));
            Ok(TelemetryStatus {
                last_received_at: if last > 0 { from_ms(last) } else { None },
                people_last_24h,
                people_last_7d,
                people_last_24h_total: to_u64(in_day),
                people_last_7d_total: to_u64(in_week),
                persons_total: to_u64(total),
                persons_truncated: to_u64(total) > persons.len() as u64,
                unattributed_devices: to_u64(devices),
                unattributed_points: to_u64(meta("unattributed_points")?),
                rejected_points: to_u64(meta("rejected_points")?),
                batches_received: to_u64(meta("batches_received")?),
                duplicate_batches: to_u64(meta("duplicate_batches")?),
                persons_seen: persons,
                error: None,
            })
        };
        read().map_err(|e| self.map_err(e))
    }

    /// Everyone heard from, ordered by key, `limit` from after `after`: the
    /// whole list in pages, for clients that need more than the status holds.
    pub fn persons(&self, after: &str, limit: usize) -> Result<Vec<PersonSeen>, OtlpError> {
        let conn = lock(&self.reader);
        let read = || -> Result<Vec<PersonSeen>, rusqlite::Error> {
            let mut q = conn.prepare_cached(
                "SELECT person, device_only, first_seen, last_seen FROM otlp_persons
                 WHERE person > ?1 ORDER BY person LIMIT ?2",
            )?;
            let mut it = q.query(params![after, limit.min(MAX_LISTED_PERSONS) as i64])?;
            let mut out = Vec::new();
            while let Some(r) = it.next()? {
                out.push(person_seen(r)?);
            }
            Ok(out)
        };
        read().map_err(|e| self.map_err(e))
    }
}

impl Store {
    /// Per ingest token: when it last brought telemetry and from how many
    /// people and devices (as recorded since `otlp_clients` exists).
    pub fn token_usage(&self) -> Result<Vec<TokenUsage>, OtlpError> {
        let conn = lock(&self.reader);
        let read = || -> Result<Vec<TokenUsage>, rusqlite::Error> {
            let mut q = conn.prepare_cached(
                "SELECT token, MAX(last_seen), COUNT(*) FILTER (WHERE NOT device_only),
                        COUNT(*) FILTER (WHERE device_only)
                 FROM otlp_clients GROUP BY token ORDER BY token",
            )?;
            let rows = q.query_map([], |r| {
                let token: i64 = r.get(0)?;
                Ok(TokenUsage {
                    token: (token != 0).then_some(token),
                    last_received_at: from_ms(r.get(1)?).unwrap_or_default(),
                    people: to_u64(r.get(2)?),
                    devices: to_u64(r.get(3)?),
                })
            })?;
            rows.collect()
        };
        read().map_err(|e| self.map_err(e))
    }

    /// What is known of each of `keys` that telemetry named (others are left out).
    pub fn persons_by_key(&self, keys: &[PersonKey]) -> Result<Vec<PersonClients>, OtlpError> {
        let conn = lock(&self.reader);
        let read = || -> Result<Vec<PersonClients>, rusqlite::Error> {
            let mut q = conn.prepare_cached(
                "SELECT person, device_only, first_seen, last_seen FROM otlp_persons WHERE person = ?1",
            )?;
            let mut out = Vec::new();
            for k in keys {
                if let Some(seen) = q.query_row([k.as_str()], person_seen).optional()? {
                    out.push(with_clients(&conn, seen)?);
                }
            }
            Ok(out)
        };
        read().map_err(|e| self.map_err(e))
    }

    /// Installation ids and account ids heard from, most recent first,
    /// leaving out those `mapped` says the roster ties to a person: at most
    /// `limit`, and how many there are in all.
    pub fn unattributed(
        &self,
        limit: usize,
        mapped: &dyn Fn(&PersonKey) -> bool,
    ) -> Result<(Vec<PersonClients>, u64), OtlpError> {
        let conn = lock(&self.reader);
        let read = || -> Result<(Vec<PersonClients>, u64), rusqlite::Error> {
            let mut q = conn.prepare_cached(
                "SELECT person, device_only, first_seen, last_seen FROM otlp_persons
                 WHERE (person >= 'account:' AND person < 'account;')
                    OR (person >= 'device:' AND person < 'device;')
                 ORDER BY last_seen DESC, person",
            )?;
            let mut it = q.query([])?;
            let mut listed = Vec::new();
            let mut total = 0u64;
            while let Some(r) = it.next()? {
                let seen = person_seen(r)?;
                if mapped(&seen.person) {
                    continue;
                }
                total += 1;
                if listed.len() < limit {
                    listed.push(seen);
                }
            }
            let out = listed
                .into_iter()
                .map(|s| with_clients(&conn, s))
                .collect::<Result<Vec<_>, _>>()?;
            Ok((out, total))
        };
        read().map_err(|e| self.map_err(e))
    }
}

fn with_clients(conn: &Connection, seen: PersonSeen) -> Result<PersonClients, rusqlite::Error> {
    let mut q = conn.prepare_cached(
        "SELECT token, version, first_seen, last_seen FROM otlp_clients
         WHERE person = ?1 ORDER BY last_seen DESC, token",
    )?;
    let clients = q
        .query_map([seen.person.as_str()], |r| {
            let token: i64 = r.get(0)?;
            Ok(ClientSeen {
                token: (token != 0).then_some(token),
                version: r.get(1)?,
                first_received_at: from_ms(r.get(2)?).unwrap_or_default(),
                last_received_at: from_ms(r.get(3)?).unwrap_or_default(),
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(PersonClients { seen, clients })
}

/// Most persons listed in one status or page.
pub const MAX_LISTED_PERSONS: usize = 10_000;

fn person_seen(r: &rusqlite::Row<'_>) -> Result<PersonSeen, rusqlite::Error> {
    let person: String = r.get(0)?;
    let (first, last): (i64, i64) = (r.get(2)?, r.get(3)?);
    Ok(PersonSeen {
        person: parse_person(&person),
        device_only: r.get(1)?,
        first_received_at: from_ms(first).unwrap_or_default(),
        last_received_at: from_ms(last).unwrap_or_default(),
    })
}

/// A day column, read by core's one reader of days.
fn stored_day(s: &str) -> Result<NaiveDate, rusqlite::Error> {
    parse_day(s).map_err(|why| {
        rusqlite::Error::FromSqlConversionFailure(
            0,
            rusqlite::types::Type::Text,
            format!("day {s:?} {why}").into(),
        )
    })
}

fn parse_person(s: &str) -> PersonKey {
    // Keys are written by this crate from PersonKey::as_str, so parse gives them back as typed.
    PersonKey::parse(s).unwrap_or_else(|| PersonKey::device("unknown"))
}

fn entry(
    rows: &mut BTreeMap<(NaiveDate, String), DayRow>,
    day: String,
    person: String,
) -> Result<&mut DayRow, rusqlite::Error> {
    let d = stored_day(&day)?;
    Ok(rows
        .entry((d, person.clone()))
        .or_insert_with(|| DayRow::new(d, parse_person(&person), Source::Otlp)))
}

pub(crate) fn map_err(busy_timeout: Duration, e: rusqlite::Error) -> OtlpError {
    match e.sqlite_error_code() {
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked) => {
            OtlpError::Busy(busy_timeout)
        }
        _ => OtlpError::Sqlite(e),
    }
}

/// Applies one request inside the writer's open transaction (the caller
/// wraps it in a savepoint): a body stored before is recognised by its
/// digest, every point and event is deduplicated, the aggregates and who
/// was heard from are upserted. The `otlp_meta` counters are returned, not
/// written, so a group writes them once.
///
/// `legacy`: dedupe keys of the form used before issue 13 may still be
/// stored, so a point or event new under its timed key is looked up under
/// its old key too (a read, no write): a batch sent before an upgrade and
/// re-sent after it still counts once.
pub(crate) fn apply_one(
    conn: &Connection,
    req: &Request,
    legacy: bool,
    memory: Option<&Memory>,
) -> Result<(Outcome, Tally), rusqlite::Error> {
    let Request {
        digest,
        ex,
        token,
        now,
        prepared,
    } = req;
    let now_ms = ms(*now);

    // The body's digest goes in first: what a request rejects is known
    // before it is stored, and a new body (nearly every one) then costs one
    // statement, not a lookup and an insert. A body stored before keeps its
    // row; its first answer is given again.
    let rejected = prepared.rejected;
    let message = prepared.message.clone();
    let mut batch = conn.prepare_cached(
        "INSERT OR IGNORE INTO otlp_batches (digest, received_at, rejected, message) VALUES (?1, ?2, ?3, ?4)",
    )?;
    if batch.execute(params![&digest[..], now_ms, to_i64(rejected), message])? == 0 {
        let (rejected, message): (i64, String) = conn
            .prepare_cached("SELECT rejected, message FROM otlp_batches WHERE digest = ?1")?
            .query_row([&digest[..]], |r| Ok((r.get(0)?, r.get(1)?)))?;
        let tally = Tally {
            duplicates: 1,
            ..Tally::default()
        };
        let outcome = Outcome {
            rejected: to_u64(rejected),
            message,
            duplicate: true,
        };
        return Ok((outcome, tally));
    }

    // What each point and event adds: `None` for one stored before.
    let mut point_incs: Vec<Option<f64>> = Vec::with_capacity(ex.points.len());
    let mut events_new: Vec<bool> = Vec::with_capacity(ex.api_requests.len());
    let mut heard = Vec::new();
    {
        let mut seen_delta = conn.prepare_cached(
            "INSERT OR IGNORE INTO otlp_delta_seen (key, received_at) VALUES (?1, ?2)",
        )?;
        let mut get_cum = conn.prepare_cached(
            "SELECT time_ns, value FROM otlp_cumulative WHERE series = ?1 AND start_ns = ?2",
        )?;
        let mut put_cum = conn.prepare_cached(
            "INSERT INTO otlp_cumulative (series, start_ns, time_ns, value, updated_at) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (series, start_ns) DO UPDATE SET time_ns = excluded.time_ns, value = excluded.value,
             updated_at = excluded.updated_at",
        )?;
        for (p, (key, old_key)) in ex.points.iter().zip(&prepared.point_keys) {
            let inc = if p.cumulative {
                // State per (series, start): a new start time is a new series
                // (reset); an older time is a late or repeated export (nothing new).
                let start = p.start_ns as i64;
                let prev: Option<(i64, f64)> = get_cum
                    .query_row(params![&p.series[..], start], |r| {
                        Ok((r.get(0)?, r.get(1)?))
                    })
                    .optional()?;
                let inc = match prev {
                    Some((t, _)) if to_i64(p.time_ns) <= t => None,
                    Some((_, v)) if p.value >= v => Some(p.value - v),
                    // Smaller value under the same start: the counter was reset.
                    Some(_) | None => Some(p.value),
                };
                if inc.is_some() {
                    put_cum.execute(params![
                        &p.series[..],
                        start,
                        to_i64(p.time_ns),
                        p.value,
                        now_ms
                    ])?;
                }
                inc
            } else if seen_delta.execute(params![&key[..], now_ms])? == 1
                && !(legacy && stored_before(conn, Seen::Delta, old_key)?)
            {
                Some(p.value)
            } else {
                // The same (series, start, end) window was stored already: a re-sent point.
                None
            };
            point_incs.push(inc);
        }

        let mut seen_event = conn.prepare_cached(
            "INSERT OR IGNORE INTO otlp_events_seen (key, received_at) VALUES (?1, ?2)",
        )?;
        for (key, hash) in &prepared.event_keys {
            let new = seen_event.execute(params![&key[..], now_ms])? == 1
                && !(legacy && stored_before(conn, Seen::Event, hash)?);
            events_new.push(new);
        }
    }

    // Nearly always everything is new and the aggregates were made before
    // the writer took the request; otherwise they are made here of what is new.
    let all_new = point_incs.iter().all(Option::is_some) && events_new.iter().all(|&n| n);
    let unattributed = match &prepared.fresh {
        Some((agg, unattributed)) if all_new => {
            write_agg(conn, agg)?;
            *unattributed
        }
        _ => {
            let mut agg = Agg::default();
            let mut unattributed = 0;
            for (p, inc) in ex.points.iter().zip(&point_incs) {
                if let Some(inc) = inc {
                    agg.add_metric(p, *inc);
                    unattributed += i64::from(p.who.device_only);
                }
            }
            for (e, new) in ex.api_requests.iter().zip(&events_new) {
                if *new {
                    agg.add_event(e);
                    unattributed += i64::from(e.who.device_only);
                }
            }
            write_agg(conn, &agg)?;
            unattributed
        }
    };

    {
        let mut person = conn.prepare_cached(
            "INSERT INTO otlp_persons (person, device_only, first_seen, last_seen) VALUES (?1, ?2, ?3, ?3)
             ON CONFLICT (person) DO UPDATE SET last_seen = max(last_seen, excluded.last_seen)",
        )?;
        let mut client = conn.prepare_cached(
            "INSERT INTO otlp_clients (person, token, device_only, version, first_seen, last_seen)
             VALUES (?1, ?2, ?3, ?4, ?5, ?5)
             ON CONFLICT (person, token) DO UPDATE SET last_seen = max(last_seen, excluded.last_seen),
             version = COALESCE(excluded.version, version)",
        )?;
        for (who, version) in &ex.seen {
            let (key, token) = (who.key.as_str(), token.unwrap_or(0));
            if memory.is_some_and(|m| m.recently_heard(key, token, version.as_deref(), now_ms)) {
                continue;
            }
            person.execute(params![key, who.device_only, now_ms])?;
            client.execute(params![key, token, who.device_only, version, now_ms])?;
            heard.push(((key.to_string(), token), (now_ms, version.clone())));
        }
    }

    let tally = Tally {
        batches: 1,
        rejected: to_i64(rejected),
        unattributed,
        last_received_ms: Some(now_ms),
        heard,
        ..Tally::default()
    };
    let outcome = Outcome {
        rejected,
        message,
        duplicate: false,
    };
    Ok((outcome, tally))
}

#[derive(Clone, Copy)]
enum Seen {
    Delta,
    Event,
}

/// Whether `key`, in the form used before issue 13, is stored.
fn stored_before(conn: &Connection, table: Seen, key: &[u8; 16]) -> Result<bool, rusqlite::Error> {
    let sql = match table {
        Seen::Delta => "SELECT EXISTS (SELECT 1 FROM otlp_delta_seen WHERE key = ?1)",
        Seen::Event => "SELECT EXISTS (SELECT 1 FROM otlp_events_seen WHERE key = ?1)",
    };
    conn.prepare_cached(sql)?
        .query_row([&key[..]], |r| r.get(0))
}

/// The end of a group's transaction, before its COMMIT: the counters of
/// the requests kept, and the hourly pruning of old dedupe keys and state.
pub(crate) fn finish_group(
    conn: &Connection,
    tally: &Tally,
    now: DateTime<Utc>,
    last_prune: &mut LastPrune,
) -> Result<(), rusqlite::Error> {
    let mut bump = conn.prepare_cached(
        "INSERT INTO otlp_meta (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = value + excluded.value",
    )?;
    for (key, by) in [
        ("batches_received", tally.batches),
        ("duplicate_batches", tally.duplicates),
        ("rejected_points", tally.rejected),
        ("unattributed_points", tally.unattributed),
    ] {
        if by != 0 {
            bump.execute(params![key, by])?;
        }
    }
    if let Some(last) = tally.last_received_ms {
        conn.prepare_cached(
            "INSERT INTO otlp_meta (key, value) VALUES ('last_received_at_ms', ?1)
             ON CONFLICT (key) DO UPDATE SET value = max(value, excluded.value)",
        )?
        .execute([last])?;
    }
    prune_if_due(conn, now, last_prune)
}

fn prune_if_due(
    conn: &Connection,
    now: DateTime<Utc>,
    last: &mut LastPrune,
) -> Result<(), rusqlite::Error> {
    if last
        .as_ref()
        .is_some_and(|m| m.pruned_at.elapsed() < PRUNE_EVERY)
    {
        return Ok(());
    }
    let dedupe_cut = ms(now - DEDUPE_RETENTION);
    conn.execute(
        "DELETE FROM otlp_batches WHERE received_at < ?1",
        [dedupe_cut],
    )?;
    conn.execute(
        "DELETE FROM otlp_delta_seen WHERE received_at < ?1",
        [dedupe_cut],
    )?;
    conn.execute(
        "DELETE FROM otlp_events_seen WHERE received_at < ?1",
        [dedupe_cut],
    )?;
    conn.execute(
        "DELETE FROM otlp_cumulative WHERE updated_at < ?1",
        [ms(now - CUMULATIVE_RETENTION)],
    )?;
    match last {
        Some(m) => m.pruned_at = Instant::now(),
        None => {
            *last = Some(Memory {
                pruned_at: Instant::now(),
                heard: HashMap::new(),
            })
        }
    }
    Ok(())
}

/// Upserts add with `min(old + new, STORE_CAP)`: both sides are at most the
/// cap, so the sum cannot overflow, and a row an older version left past it
/// (or as a REAL) comes back to the cap on its next write.
fn write_agg(tx: &Connection, agg: &Agg) -> Result<(), rusqlite::Error> {
    let mut days = tx.prepare_cached(
        "INSERT INTO otlp_days (day, person, sessions, lines_added, lines_removed, commits, pull_requests,
                                active_cli_ms, active_user_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
         ON CONFLICT (day, person) DO UPDATE SET
           sessions = min(sessions + excluded.sessions, 1000000000000000), lines_added = min(lines_added + excluded.lines_added, 1000000000000000),
           lines_removed = min(lines_removed + excluded.lines_removed, 1000000000000000), commits = min(commits + excluded.commits, 1000000000000000),
           pull_requests = min(pull_requests + excluded.pull_requests, 1000000000000000),
           active_cli_ms = min(active_cli_ms + excluded.active_cli_ms, 1000000000000000),
           active_user_ms = min(active_user_ms + excluded.active_user_ms, 1000000000000000)",
    )?;
    for ((day, person), d) in &agg.days {
        days.execute(params![
            day.to_string(),
            person,
            d.sessions,
            d.lines_added,
            d.lines_removed,
            d.commits,
            d.pull_requests,
            d.active_cli_ms,
            d.active_user_ms
        ])?;
    }
    let mut tools = tx.prepare_cached(
        "INSERT INTO otlp_day_tools (day, person, tool, accepted, rejected) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (day, person, tool) DO UPDATE SET
           accepted = min(accepted + excluded.accepted, 1000000000000000), rejected = min(rejected + excluded.rejected, 1000000000000000)",
    )?;
    for ((day, person, tool), (a, r)) in &agg.tools {
        tools.execute(params![day.to_string(), person, tool, a, r])?;
    }
    let mut usage = tx.prepare_cached(
        "INSERT INTO otlp_usage (day, person, session, origin, model, input_tokens, output_tokens,
                                 cache_read_tokens, cache_creation_tokens, cost_micros)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
         ON CONFLICT (day, person, session, origin, model) DO UPDATE SET
           input_tokens = min(input_tokens + excluded.input_tokens, 1000000000000000),
           output_tokens = min(output_tokens + excluded.output_tokens, 1000000000000000),
           cache_read_tokens = min(cache_read_tokens + excluded.cache_read_tokens, 1000000000000000),
           cache_creation_tokens = min(cache_creation_tokens + excluded.cache_creation_tokens, 1000000000000000),
           cost_micros = min(cost_micros + excluded.cost_micros, 1000000000000000)",
    )?;
    for ((day, person, session, origin, model), u) in &agg.usage {
        usage.execute(params![
            day.to_string(),
            person,
            session,
            origin,
            model,
            u.input,
            u.output,
            u.cache_read,
            u.cache_creation,
            u.cost_micros
        ])?;
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    //! Dedupe keys across the upgrade that ordered them by time.
    use std::path::Path;

    use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
    use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;

    use super::*;
    use crate::extract;

    /// The captured `hello` session (metrics with tokens and cost, and
    /// `api_request` events), extracted.
    fn hello() -> Vec<Extracted> {
        // `shared/` sits beside the repository clone.
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../shared/fixtures/otlp/claude-code-2.1.330/hello-json-delta/raw");
        let read = |name: &str| std::fs::read(dir.join(name)).unwrap();
        let logs: ExportLogsServiceRequest =
            serde_json::from_slice(&read("0001-logs.json")).unwrap();
        let metrics: ExportMetricsServiceRequest =
            serde_json::from_slice(&read("0002-metrics.json")).unwrap();
        let limits = extract::Limits::default();
        vec![
            extract::logs(&(&logs).into(), None, &limits),
            extract::metrics(&(&metrics).into(), None, &limits),
        ]
    }

    async fn store_all(store: &Store, digest_byte: u8) -> Vec<Outcome> {
        let mut out = Vec::new();
        for (i, ex) in hello().into_iter().enumerate() {
            let digest = [digest_byte + i as u8; 32];
            out.push(store.apply(digest, ex, None, Utc::now()).await.unwrap());
        }
        out
    }

    fn totals(store: &Store) -> (u64, i64) {
        let rows = store
            .day_rows(
                NaiveDate::from_ymd_opt(2000, 1, 1).unwrap(),
                NaiveDate::from_ymd_opt(2100, 1, 1).unwrap(),
            )
            .unwrap();
        let tokens = rows.iter().map(|r| r.measures.input_tokens).sum();
        let cost = rows.iter().map(|r| r.measures.cost_micros).sum();
        (tokens, cost)
    }

    /// The aggregates made before the writer assume every point is new; a
    /// body re-sent with points added (another digest, some points stored
    /// before) must count only the added ones.
    #[tokio::test]
    async fn a_batch_with_some_points_stored_before_counts_only_the_new_ones() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("a.db"), Duration::from_secs(5), 8, 8).unwrap();
        let [logs, metrics]: [Extracted; 2] = hello().try_into().unwrap();
        assert!(metrics.points.len() >= 2 && !logs.api_requests.is_empty());
        let whole = |ex: &Extracted| Extracted {
            points: ex.points.clone(),
            api_requests: ex.api_requests.clone(),
            seen: ex.seen.clone(),
            rejected: ex.rejected.clone(),
        };
        let mut first_half = whole(&metrics);
        first_half.points.truncate(metrics.points.len() / 2);
        store
            .apply([1; 32], first_half, None, Utc::now())
            .await
            .unwrap();
        store
            .apply([2; 32], whole(&metrics), None, Utc::now())
            .await
            .unwrap();
        store
            .apply([3; 32], whole(&logs), None, Utc::now())
            .await
            .unwrap();
        let mut some_events = whole(&logs);
        some_events.api_requests.truncate(1);
        store
            .apply([4; 32], some_events, None, Utc::now())
            .await
            .unwrap();

        let alone = tempfile::tempdir().unwrap();
        let once = Store::open(&alone.path().join("b.db"), Duration::from_secs(5), 8, 8).unwrap();
        once.apply([2; 32], metrics, None, Utc::now())
            .await
            .unwrap();
        once.apply([3; 32], logs, None, Utc::now()).await.unwrap();
        assert_eq!(totals(&store), totals(&once));
        assert_eq!(
            store
                .day_rows(
                    NaiveDate::from_ymd_opt(2000, 1, 1).unwrap(),
                    NaiveDate::from_ymd_opt(2100, 1, 1).unwrap()
                )
                .unwrap(),
            once.day_rows(
                NaiveDate::from_ymd_opt(2000, 1, 1).unwrap(),
                NaiveDate::from_ymd_opt(2100, 1, 1).unwrap()
            )
            .unwrap()
        );
    }

    #[tokio::test]
    async fn points_stored_under_the_old_untimed_keys_are_not_counted_again_after_the_upgrade() {
        let fresh = tempfile::tempdir().unwrap();
        let store = Store::open(&fresh.path().join("a.db"), Duration::from_secs(5), 8, 8).unwrap();
        store_all(&store, 1).await;
        let once = totals(&store);
        assert!(once.0 > 0 && once.1 > 0, "the capture has tokens and cost");

        // A file an older version wrote: the same points and events were
        // stored, their keys in the untimed form (its aggregates are left
        // out here, so anything counted now shows).
        let old = tempfile::tempdir().unwrap();
        let db = old.path().join("b.db");
        {
            let conn = connect(&db, Duration::from_secs(5)).unwrap();
            conn.execute_batch(SCHEMA).unwrap();
            conn.execute(
                "INSERT INTO otlp_meta (key, value) VALUES ('schema_version', 1)",
                [],
            )
            .unwrap();
            for ex in hello() {
                for p in ex.points.iter().filter(|p| !p.cumulative) {
                    conn.execute(
                        "INSERT OR IGNORE INTO otlp_delta_seen (key, received_at) VALUES (?1, ?2)",
                        params![&legacy_delta_key(p)[..], ms(Utc::now())],
                    )
                    .unwrap();
                }
                for e in &ex.api_requests {
                    conn.execute(
                        "INSERT OR IGNORE INTO otlp_events_seen (key, received_at) VALUES (?1, ?2)",
                        params![&event_hash(e)[..], ms(Utc::now())],
                    )
                    .unwrap();
                }
            }
        }
        let store = Store::open(&db, Duration::from_secs(5), 8, 8).unwrap();
        store_all(&store, 1).await;
        assert_eq!(
            totals(&store),
            (0, 0),
            "re-sent after the upgrade: nothing new"
        );

        // Without old keys in the file, nothing is looked up in the old form.
        let conn = connect(&fresh.path().join("a.db"), Duration::from_secs(5)).unwrap();
        assert_eq!(legacy_keys_until(&conn).unwrap(), None);
    }
}
