//! The server's SQLite file: normalised person-day rows per source, what has
//! been synced, the state of each sync, the Admin API's user directory and
//! the access tokens.
//!
//! One file (`data/scoreboard.db`), WAL mode so the telemetry receiver (which
//! opens the same file and keeps its own `otlp_` tables) and the HTTP
//! handlers read while a sync writes. The schema is versioned in
//! `server_schema_version`; each migration runs once, in a transaction.
//! Money is stored as integer micro-dollars, as everywhere.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use scoreboard_core::parse::parse_day;
use scoreboard_core::{DayRow, Measures, PersonKey, RosterEntry, Source};
use serde::{Deserialize, Serialize};

mod packed;
mod snapshots;
pub use packed::{ModelSplit, Split, Splits};
pub use snapshots::{Deleted, NewSnapshot, SnapshotUsage, StoredSnapshot};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot create the data directory {path}: {reason}")]
    CreateDir { path: String, reason: String },
    #[error("cannot make the database {path} readable by its owner only (mode 0600): {reason}")]
    Private { path: String, reason: String },
    #[error("database {path}: {source}")]
    Open {
        path: String,
        source: rusqlite::Error,
    },
    #[error("database: {0}")]
    Sql(#[from] rusqlite::Error),
    #[error("database: stored value could not be read back: {0}")]
    Corrupt(String),
    #[error("the database was written by a newer Scoreboard (schema {found}, this one knows {known}); upgrade Scoreboard")]
    TooNew { found: i64, known: i64 },
}

/// One migration: SQL, or code where SQL alone cannot say it.
enum Migration {
    Sql(&'static str),
    Code(fn(&rusqlite::Transaction<'_>) -> Result<(), StoreError>),
}

/// Each entry is one migration; the index + 1 is the version it brings the file to.
const MIGRATIONS: &[Migration] = &[
    // 1: the first schema.
    Migration::Sql(
        "CREATE TABLE day_rows (
        source TEXT NOT NULL,
        person TEXT NOT NULL,
        day TEXT NOT NULL,
        sessions INTEGER NOT NULL DEFAULT 0,
        lines_added INTEGER NOT NULL DEFAULT 0,
        lines_removed INTEGER NOT NULL DEFAULT 0,
        commits INTEGER NOT NULL DEFAULT 0,
        pull_requests INTEGER NOT NULL DEFAULT 0,
        edits_accepted INTEGER NOT NULL DEFAULT 0,
        edits_rejected INTEGER NOT NULL DEFAULT 0,
        input_tokens INTEGER NOT NULL DEFAULT 0,
        output_tokens INTEGER NOT NULL DEFAULT 0,
        cache_read_tokens INTEGER NOT NULL DEFAULT 0,
        cache_creation_tokens INTEGER NOT NULL DEFAULT 0,
        cost_micros INTEGER NOT NULL DEFAULT 0,
        cost_is_estimated INTEGER NOT NULL DEFAULT 0,
        models TEXT NOT NULL DEFAULT '[]',
        tools TEXT NOT NULL DEFAULT '[]',
        fetched_at TEXT NOT NULL,
        PRIMARY KEY (source, person, day)
    );
    CREATE INDEX day_rows_by_day ON day_rows (day, source);
    CREATE TABLE synced_days (
        source TEXT NOT NULL,
        day TEXT NOT NULL,
        synced_at TEXT NOT NULL,
        records INTEGER NOT NULL DEFAULT 0,
        user_actor_records INTEGER NOT NULL DEFAULT 0,
        non_api_records INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (source, day)
    );
    CREATE TABLE sync_state (
        source TEXT PRIMARY KEY,
        last_success TEXT,
        last_attempt TEXT,
        last_error TEXT,
        org_id TEXT,
        org_name TEXT,
        warnings TEXT NOT NULL DEFAULT '[]'
    );
    CREATE TABLE directory (
        source TEXT PRIMARY KEY,
        fetched_at TEXT NOT NULL,
        entries TEXT NOT NULL
    );
    CREATE TABLE tokens (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        kind TEXT NOT NULL CHECK (kind IN ('ingest', 'viewer')),
        name TEXT NOT NULL,
        hash TEXT NOT NULL UNIQUE,
        hint TEXT NOT NULL,
        created_at TEXT NOT NULL,
        revoked_at TEXT
    );",
    ),
    // 2: frozen share snapshots (`crate::snapshots`): the encoded snapshot as
    // the page sent it, under an unguessable id.
    Migration::Sql(
        "CREATE TABLE snapshots (
        id TEXT PRIMARY KEY,
        created_at TEXT NOT NULL,
        privacy TEXT NOT NULL,
        description TEXT NOT NULL,
        body TEXT NOT NULL
    );",
    ),
    // 3: hardening (issue 11). Admin tokens (SQLite cannot alter a CHECK, so
    // the table is rebuilt with its ids); who stored each snapshot (`''` for
    // those stored before: only an admin or the operator may delete them);
    // refused requests counted per UTC hour, door, reason and token (0: none).
    Migration::Sql(
        "CREATE TABLE tokens_v3 (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        kind TEXT NOT NULL CHECK (kind IN ('ingest', 'viewer', 'admin')),
        name TEXT NOT NULL,
        hash TEXT NOT NULL UNIQUE,
        hint TEXT NOT NULL,
        created_at TEXT NOT NULL,
        revoked_at TEXT
    );
    INSERT INTO tokens_v3 (id, kind, name, hash, hint, created_at, revoked_at)
        SELECT id, kind, name, hash, hint, created_at, revoked_at FROM tokens;
    DROP TABLE tokens;
    ALTER TABLE tokens_v3 RENAME TO tokens;
    ALTER TABLE snapshots ADD COLUMN owner TEXT NOT NULL DEFAULT '';
    CREATE INDEX snapshots_by_owner ON snapshots (owner);
    CREATE TABLE refusals (
        hour INTEGER NOT NULL,
        area TEXT NOT NULL,
        reason TEXT NOT NULL,
        token_id INTEGER NOT NULL DEFAULT 0,
        count INTEGER NOT NULL,
        last_at_ms INTEGER NOT NULL,
        PRIMARY KEY (hour, area, reason, token_id)
    ) WITHOUT ROWID;",
    ),
    // 4: onboarding (issue 14): where `serve` last served, so `token create`
    // prints the address the server really answers at.
    Migration::Sql(
        "CREATE TABLE serving (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        listen TEXT NOT NULL,
        otlp_listen TEXT,
        public_url TEXT,
        started_at TEXT NOT NULL,
        stopped_at TEXT
    );",
    ),
    // 5: the weekly digest (issue 15): the ISO week last posted (at most
    // one post a week, across restarts) and the last attempt's result.
    Migration::Sql(
        "CREATE TABLE digest_state (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        posted_week TEXT,
        posted_at TEXT,
        last_attempt_at TEXT,
        last_week TEXT,
        last_ok INTEGER,
        last_error TEXT
    );",
    ),
    // 6: which source-days changed, in order (issue 13): `/api/rows` answers a
    // refresh with only the days written since the asker's cursor. One entry
    // per (source, day), moved to the newest sequence number at each write.
    Migration::Sql(
        "CREATE TABLE row_changes (
        source TEXT NOT NULL,
        day TEXT NOT NULL,
        seq INTEGER NOT NULL,
        PRIMARY KEY (source, day)
    );
    CREATE INDEX row_changes_by_seq ON row_changes (seq);",
    ),
    // 7: a fast read of a million rows (issue 13). A sync writes a whole
    // source-day at once and every reader reads whole days, so a source-day
    // is one row holding its person rows as one compact blob (`rows`,
    // `store::packed`): a year of 3,000 engineers is ~730 rows to step
    // through, in key order with nothing to sort, and no JSON to parse. The
    // rows are copied over in code.
    Migration::Code(day_rows_v7),
];

/// The schema version whose `day_rows` holds a blob per source-day.
const DAY_BLOBS_VERSION: i64 = 7;

/// Migration 7: every stored row copied into its day's blob, its `models`
/// and `tools` JSON read once (as rows were read until then); a row that
/// does not read stops the migration (rolled back, the file left as it
/// was) naming it.
fn day_rows_v7(tx: &rusqlite::Transaction<'_>) -> Result<(), StoreError> {
    tx.execute_batch(
        "CREATE TABLE day_rows_v7 (
            day TEXT NOT NULL,
            source TEXT NOT NULL,
            row_count INTEGER NOT NULL,
            fetched_at TEXT NOT NULL,
            rows BLOB NOT NULL,
            PRIMARY KEY (day, source)
        )",
    )?;
    {
        let mut read = tx.prepare(
            "SELECT day, source, person, sessions, lines_added, lines_removed, commits, pull_requests,
                    edits_accepted, edits_rejected, input_tokens, output_tokens, cache_read_tokens,
                    cache_creation_tokens, cost_micros, cost_is_estimated, models, tools, fetched_at
             FROM day_rows ORDER BY day, source, person",
        )?;
        let mut write = tx.prepare(
            "INSERT INTO day_rows_v7 (day, source, row_count, fetched_at, rows) VALUES (?1, ?2, ?3, ?4, ?5)",
        )?;
        let mut day: Option<(String, String, String)> = None;
        let mut rows: Vec<DayRow> = Vec::new();
        let mut flush = |day: &Option<(String, String, String)>, rows: &mut Vec<DayRow>| {
            if let Some((d, src, fetched)) = day {
                let blob = packed::encode_day(&rows.iter().collect::<Vec<_>>());
                write.execute(params![d, src, rows.len() as i64, fetched, blob])?;
            }
            rows.clear();
            Ok::<_, StoreError>(())
        };
        let mut rs = read.query([])?;
        while let Some(r) = rs.next()? {
            let text = |i: usize| r.get_ref(i)?.as_str().map_err(rusqlite::Error::from);
            let (day_s, source_s, fetched) = (text(0)?, text(1)?, text(18)?);
            let what = |col: &str, e: &dyn std::fmt::Display| {
                StoreError::Corrupt(format!(
                    "the {source_s} row of {:?} on {day_s}: {col}: {e}",
                    text(2).unwrap_or("?")
                ))
            };
            match &mut day {
                Some((d, s, f)) if d == day_s && s == source_s => {
                    if fetched > f.as_str() {
                        *f = fetched.to_string();
                    }
                }
                _ => {
                    flush(&day, &mut rows)?;
                    day = Some((day_s.to_string(), source_s.to_string(), fetched.to_string()));
                }
            }
            let source = Source::parse(source_s).ok_or_else(|| what("source", &"not known"))?;
            let person = PersonKey::parse(text(2)?).ok_or_else(|| what("person", &"empty"))?;
            let mut row = DayRow::new(stored_day(day_s)?, person, source);
            let m = &mut row.measures;
            for (i, v) in [
                &mut m.sessions,
                &mut m.lines_added,
                &mut m.lines_removed,
                &mut m.commits,
                &mut m.pull_requests,
                &mut m.edits_accepted,
                &mut m.edits_rejected,
                &mut m.input_tokens,
                &mut m.output_tokens,
                &mut m.cache_read_tokens,
                &mut m.cache_creation_tokens,
            ]
            .into_iter()
            .enumerate()
            {
                *v = to_u64(r.get(3 + i)?);
            }
            m.cost_micros = r.get(14)?;
            m.cost_is_estimated = r.get(15)?;
            row.models = serde_json::from_str(text(16)?).map_err(|e| what("models", &e))?;
            row.tools = serde_json::from_str(text(17)?).map_err(|e| what("tools", &e))?;
            rows.push(row);
        }
        flush(&day, &mut rows)?;
    }
    tx.execute_batch(
        "DROP TABLE day_rows;
         ALTER TABLE day_rows_v7 RENAME TO day_rows;",
    )?;
    Ok(())
}

/// Where the rows and coverage every report reads were at (see
/// [`Store::version`]): equal versions, equal data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct StoreVersion {
    /// Writes through this store that change rows, coverage or the directory.
    pub writes: u64,
    /// SQLite's `data_version`: moves when another connection commits
    /// (the telemetry receiver, another process).
    pub others: i64,
}

pub use scoreboard_core::api::DigestState;

/// One stored row, borrowed from SQLite for a [`Store::visit_rows`] call.
#[derive(Debug, Clone, Copy)]
pub struct StoredRow<'a> {
    pub day: NaiveDate,
    pub source: Source,
    /// As stored (written from [`PersonKey::as_str`]; never empty).
    pub person: &'a str,
    pub measures: Measures,
    pub splits: Splits<'a>,
}

impl StoredRow<'_> {
    /// The row, owned (what [`Store::rows`] collects).
    pub fn to_day_row(&self) -> Result<DayRow, StoreError> {
        let person = PersonKey::parse(self.person)
            .ok_or_else(|| StoreError::Corrupt("empty person key".into()))?;
        let (models, tools) = self.splits.to_vecs()?;
        Ok(DayRow {
            day: self.day,
            person,
            source: self.source,
            measures: self.measures,
            models,
            tools,
            present: self.source.measures(),
        })
    }
}

/// What the API said about one fetched day, kept so that coverage warnings
/// can be computed over the whole stored history, not just the last sync.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DayStats {
    /// Records the API returned for the day.
    pub records: u64,
    /// Of which identified a person by e-mail (`user_actor`).
    pub user_actor_records: u64,
    /// Of which were not `customer_type: "api"` (e.g. `subscription`: claude.ai seats).
    pub non_api_records: u64,
}

impl DayStats {
    pub fn add(&mut self, o: &DayStats) {
        self.records += o.records;
        self.user_actor_records += o.user_actor_records;
        self.non_api_records += o.non_api_records;
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyncedDay {
    pub day: NaiveDate,
    pub synced_at: DateTime<Utc>,
    pub stats: DayStats,
}

/// The persisted state of one source's syncs.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SyncState {
    pub last_success: Option<DateTime<Utc>>,
    pub last_attempt: Option<DateTime<Utc>>,
    /// The error of the last attempt when it failed (redacted); `None` after a success.
    pub last_error: Option<String>,
    pub org_id: Option<String>,
    pub org_name: Option<String>,
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenKind {
    /// May only send telemetry (`POST /v1/*`).
    Ingest,
    /// May only read the page API (`GET /api/*`) and manage its own share snapshots.
    Viewer,
    /// A viewer that may also delete anyone's share snapshots.
    Admin,
}

impl TokenKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TokenKind::Ingest => "ingest",
            TokenKind::Viewer => "viewer",
            TokenKind::Admin => "admin",
        }
    }
    /// May read the page API (viewers and admins).
    pub fn reads(self) -> bool {
        matches!(self, TokenKind::Viewer | TokenKind::Admin)
    }
    fn parse(s: &str) -> Option<TokenKind> {
        match s {
            "ingest" => Some(TokenKind::Ingest),
            "viewer" => Some(TokenKind::Viewer),
            "admin" => Some(TokenKind::Admin),
            _ => None,
        }
    }
}

/// A stored token: never the token itself, only its SHA-256 and a short hint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TokenRecord {
    pub id: i64,
    pub kind: TokenKind,
    pub name: String,
    /// The first characters of the token, to tell tokens apart in a list.
    pub hint: String,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// Where `scoreboard serve` serves (or last served) from this database.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Serving {
    /// The address the main listener is bound to (the real port, also when 0 was asked).
    pub listen: std::net::SocketAddr,
    /// The telemetry-only listener, when there is one.
    pub otlp_listen: Option<std::net::SocketAddr>,
    pub public_url: Option<String>,
    pub started_at: DateTime<Utc>,
    /// `None` while it runs (or when it stopped without saying so: killed).
    pub stopped_at: Option<DateTime<Utc>>,
}

/// People an upstream knows, and when they were fetched.
pub type Directory = (DateTime<Utc>, Vec<RosterEntry>);

pub struct Store {
    conn: Mutex<Connection>,
    path: PathBuf,
    /// Bumped by every write that changes rows or what covers them.
    writes: std::sync::atomic::AtomicU64,
}

impl Store {
    /// Opens (creating if needed) the database file and brings its schema up to date.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        if let Some(dir) = path.parent() {
            if !dir.as_os_str().is_empty() && !dir.exists() {
                // A directory we create is private too (0700); an existing one is the operator's.
                let mut b = std::fs::DirBuilder::new();
                b.recursive(true);
                #[cfg(unix)]
                std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
                b.create(dir).map_err(|e| StoreError::CreateDir {
                    path: dir.display().to_string(),
                    reason: e.to_string(),
                })?;
            }
        }
        scoreboard_otlp::make_private_db_file(path).map_err(|e| StoreError::Private {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
        let open_err = |source| StoreError::Open {
            path: path.display().to_string(),
            source,
        };
        let conn = Connection::open(path).map_err(open_err)?;
        conn.busy_timeout(Duration::from_secs(5))
            .map_err(open_err)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(open_err)?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(open_err)?;
        let store = Store {
            conn: Mutex::new(conn),
            path: path.to_path_buf(),
            writes: std::sync::atomic::AtomicU64::new(0),
        };
        store.migrate()?;
        Ok(store)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Where the data is at: this store's row writes and other connections'
    /// commits. Reports are cached per version (`/api/report`).
    pub fn version(&self) -> Result<StoreVersion, StoreError> {
        let others = self
            .conn()
            .query_row("PRAGMA data_version", [], |r| r.get(0))?;
        Ok(StoreVersion {
            writes: self.writes.load(std::sync::atomic::Ordering::SeqCst),
            others,
        })
    }

    fn wrote(&self) {
        self.writes
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock leaves SQLite itself consistent
        // (transactions roll back), so a poisoned lock is safe to reuse.
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn migrate(&self) -> Result<(), StoreError> {
        let mut conn = self.conn();
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS server_schema_version (version INTEGER NOT NULL)",
        )?;
        let current: i64 = conn.query_row(
            "SELECT COALESCE(MAX(version), 0) FROM server_schema_version",
            [],
            |r| r.get(0),
        )?;
        let known = MIGRATIONS.len() as i64;
        if current > known {
            return Err(StoreError::TooNew {
                found: current,
                known,
            });
        }
        for (i, step) in MIGRATIONS.iter().enumerate().skip(current as usize) {
            // IMMEDIATE takes the write lock first, and the version is read
            // again under it: a second process opening the same file at the
            // same moment (e.g. `scoreboard token create` beside a starting
            // server) waits, then finds the step done instead of running it
            // again over a schema it no longer fits.
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let done: i64 = tx.query_row(
                "SELECT COALESCE(MAX(version), 0) FROM server_schema_version",
                [],
                |r| r.get(0),
            )?;
            if done > i as i64 {
                continue;
            }
            match step {
                Migration::Sql(sql) => tx.execute_batch(sql)?,
                Migration::Code(run) => run(&tx)?,
            }
            tx.execute("DELETE FROM server_schema_version", [])?;
            tx.execute(
                "INSERT INTO server_schema_version (version) VALUES (?1)",
                [i as i64 + 1],
            )?;
            tx.commit()?;
        }
        if (1..DAY_BLOBS_VERSION).contains(&current) {
            // Migration 7 left the old rows' pages free (most of the file
            // at a million rows): give them back once. Not needed for
            // correctness (SQLite reuses free pages), so a failure (another
            // process holding the file, no room for the copy) is only logged.
            if let Err(e) = conn.execute_batch("VACUUM") {
                tracing::warn!(error = %e, "could not compact the database after its upgrade");
            }
        }
        Ok(())
    }

    pub fn schema_version(&self) -> Result<i64, StoreError> {
        Ok(self
            .conn()
            .query_row("SELECT MAX(version) FROM server_schema_version", [], |r| {
                r.get(0)
            })?)
    }

    // ---- rows -------------------------------------------------------------

    /// Replaces everything stored for one source and day with `rows` (a
    /// re-fetch supersedes; a person who vanished from the day goes too) and
    /// marks the day synced. One transaction: a failed write leaves the old day.
    pub fn replace_day(
        &self,
        source: Source,
        day: NaiveDate,
        rows: &[DayRow],
        stats: &DayStats,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let day_s = day.to_string();
        let now_s = now.to_rfc3339();
        if let Some(r) = rows.iter().find(|r| r.source != source || r.day != day) {
            return Err(StoreError::Corrupt(format!(
                "row for {} {} given while replacing {} {}",
                r.source, r.day, source, day
            )));
        }
        // One row a person, in person order; a later row of the same
        // person replaces an earlier one.
        let mut day_rows: Vec<&DayRow> = rows.iter().collect();
        day_rows.sort_by(|a, b| a.person.as_str().cmp(b.person.as_str()));
        let mut kept: Vec<&DayRow> = Vec::with_capacity(day_rows.len());
        for r in day_rows {
            match kept.last_mut() {
                Some(last) if last.person == r.person => *last = r,
                _ => kept.push(r),
            }
        }
        if kept.is_empty() {
            tx.execute(
                "DELETE FROM day_rows WHERE day = ?1 AND source = ?2",
                params![day_s, source.as_str()],
            )?;
        } else {
            tx.execute(
                "INSERT INTO day_rows (day, source, row_count, fetched_at, rows) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (day, source) DO UPDATE SET row_count = excluded.row_count,
                    fetched_at = excluded.fetched_at, rows = excluded.rows",
                params![
                    day_s,
                    source.as_str(),
                    kept.len() as i64,
                    now_s,
                    packed::encode_day(&kept)
                ],
            )?;
        }
        tx.execute(
            "INSERT INTO synced_days (source, day, synced_at, records, user_actor_records, non_api_records)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT (source, day) DO UPDATE SET synced_at = excluded.synced_at, records = excluded.records,
                user_actor_records = excluded.user_actor_records, non_api_records = excluded.non_api_records",
            params![
                source.as_str(),
                day_s,
                now_s,
                to_i64(stats.records),
                to_i64(stats.user_actor_records),
                to_i64(stats.non_api_records)
            ],
        )?;
        // In the same transaction: a reader never sees the rows without the change.
        tx.execute(
            "INSERT INTO row_changes (source, day, seq)
             VALUES (?1, ?2, (SELECT COALESCE(MAX(seq), 0) + 1 FROM row_changes))
             ON CONFLICT (source, day) DO UPDATE SET seq = excluded.seq",
            params![source.as_str(), day_s],
        )?;
        tx.commit()?;
        self.wrote();
        Ok(())
    }

    /// The newest change's sequence number (0: none yet): where a cursor
    /// handed out now stands.
    pub fn change_seq(&self) -> Result<i64, StoreError> {
        Ok(self
            .conn()
            .query_row("SELECT COALESCE(MAX(seq), 0) FROM row_changes", [], |r| {
                r.get(0)
            })?)
    }

    /// The source-days written after change `seq`, within `from..=to`.
    pub fn changed_days(
        &self,
        seq: i64,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<(Source, NaiveDate)>, StoreError> {
        let conn = self.conn();
        let mut q = conn.prepare_cached(
            "SELECT source, day FROM row_changes WHERE seq > ?1 AND day >= ?2 AND day <= ?3",
        )?;
        let mut out = Vec::new();
        let mut rs = q.query(params![seq, from.to_string(), to.to_string()])?;
        while let Some(r) = rs.next()? {
            let source_s: String = r.get(0)?;
            let source = Source::parse(&source_s)
                .ok_or_else(|| StoreError::Corrupt(format!("unknown source {source_s:?}")))?;
            let day_s: String = r.get(1)?;
            out.push((source, stored_day(&day_s)?));
        }
        Ok(out)
    }

    /// Stored rows of the given sources with `from <= day <= to`, ordered by day, source, person.
    pub fn rows(
        &self,
        from: NaiveDate,
        to: NaiveDate,
        sources: &[Source],
    ) -> Result<Vec<DayRow>, StoreError> {
        let mut out = Vec::new();
        self.visit_rows(from, to, sources, |r| {
            out.push(r.to_day_row()?);
            Ok(())
        })?;
        Ok(out)
    }

    /// Stored rows per source with `from <= day <= to` (sources without
    /// any are left out), counted from each day's row count: no row is read.
    pub fn row_counts(
        &self,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<BTreeMap<Source, usize>, StoreError> {
        let conn = self.conn();
        let mut q = conn.prepare_cached(
            "SELECT source, SUM(row_count) FROM day_rows WHERE day >= ?1 AND day <= ?2
             GROUP BY source HAVING SUM(row_count) > 0",
        )?;
        let mut rs = q.query(params![from.to_string(), to.to_string()])?;
        let mut out = BTreeMap::new();
        while let Some(r) = rs.next()? {
            let source_s: String = r.get(0)?;
            let source = Source::parse(&source_s)
                .ok_or_else(|| StoreError::Corrupt(format!("unknown source {source_s:?}")))?;
            out.insert(source, usize::try_from(r.get::<_, i64>(1)?).unwrap_or(0));
        }
        Ok(out)
    }

    /// The stored rows of the given source-days, ordered by day, source
    /// and person (as [`Store::rows`] orders them).
    pub fn rows_of_days(&self, days: &[(Source, NaiveDate)]) -> Result<Vec<DayRow>, StoreError> {
        let mut days = days.to_vec();
        days.sort_by(|a, b| (a.1, a.0.as_str()).cmp(&(b.1, b.0.as_str())));
        days.dedup();
        let mut out = Vec::new();
        for (source, day) in days {
            out.extend(self.rows(day, day, &[source])?);
        }
        Ok(out)
    }

    /// Hands each stored row of the given sources with `from <= day <= to`
    /// to `visit`, ordered by day, source and person, as SQLite holds it:
    /// nothing is allocated per row (the person and the splits are borrowed
    /// for the call). [`Store::rows`] is this, collected; `/api/rows`
    /// encodes the rows from here straight into its answer. The store's
    /// lock is held throughout.
    pub fn visit_rows(
        &self,
        from: NaiveDate,
        to: NaiveDate,
        sources: &[Source],
        mut visit: impl FnMut(StoredRow<'_>) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let conn = self.conn();
        // One row a source-day, walked in key order (EXPLAIN QUERY PLAN:
        // "SEARCH day_rows USING INDEX sqlite_autoindex_day_rows_1 (day>?
        // AND day<?)", no temporary B-tree); each day's persons come in
        // order from its blob.
        let mut q = conn.prepare_cached(
            "SELECT day, source, rows FROM day_rows WHERE day >= ?1 AND day <= ?2 ORDER BY day, source",
        )?;
        let mut rs = q.query(params![from.to_string(), to.to_string()])?;
        while let Some(r) = rs.next()? {
            let text = |i: usize| r.get_ref(i)?.as_str().map_err(rusqlite::Error::from);
            let source_s = text(1)?;
            let Some(source) = Source::parse(source_s) else {
                return Err(StoreError::Corrupt(format!("unknown source {source_s:?}")));
            };
            if !sources.contains(&source) {
                continue;
            }
            let day = stored_day(text(0)?)?;
            let blob = r.get_ref(2)?.as_blob().map_err(rusqlite::Error::from)?;
            packed::visit_day(blob, |p| {
                if p.person.trim().is_empty() {
                    return Err(StoreError::Corrupt(format!(
                        "a {source} row of {day} has an empty person key"
                    )));
                }
                visit(StoredRow {
                    day,
                    source,
                    person: p.person,
                    measures: p.measures,
                    splits: p.splits,
                })
            })?;
        }
        Ok(())
    }

    /// Days of a source already synced, with when and what the API said.
    pub fn synced_days(
        &self,
        source: Source,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<BTreeMap<NaiveDate, SyncedDay>, StoreError> {
        let conn = self.conn();
        let mut q = conn.prepare(
            "SELECT day, synced_at, records, user_actor_records, non_api_records FROM synced_days
             WHERE source = ?1 AND day >= ?2 AND day <= ?3",
        )?;
        let mut rs = q.query(params![source.as_str(), from.to_string(), to.to_string()])?;
        let mut out = BTreeMap::new();
        while let Some(r) = rs.next()? {
            let day = stored_day(&r.get::<_, String>(0)?)?;
            let synced_at = parse_time(&r.get::<_, String>(1)?)?;
            let stats = DayStats {
                records: to_u64(r.get(2)?),
                user_actor_records: to_u64(r.get(3)?),
                non_api_records: to_u64(r.get(4)?),
            };
            out.insert(
                day,
                SyncedDay {
                    day,
                    synced_at,
                    stats,
                },
            );
        }
        Ok(out)
    }

    /// Number of stored rows and the first and last day with a row, per source.
    pub fn row_summary(
        &self,
        source: Source,
    ) -> Result<(u64, Option<NaiveDate>, Option<NaiveDate>), StoreError> {
        let conn = self.conn();
        let (n, first, last): (i64, Option<String>, Option<String>) = conn.query_row(
            "SELECT COALESCE(SUM(row_count), 0), MIN(day), MAX(day) FROM day_rows WHERE source = ?1",
            [source.as_str()],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )?;
        let first = first.map(|d| stored_day(&d)).transpose()?;
        let last = last.map(|d| stored_day(&d)).transpose()?;
        Ok((to_u64(n), first, last))
    }

    // ---- sync state ---------------------------------------------------------

    pub fn sync_state(&self, source: Source) -> Result<SyncState, StoreError> {
        let conn = self.conn();
        let row = conn
            .query_row(
                "SELECT last_success, last_attempt, last_error, org_id, org_name, warnings FROM sync_state WHERE source = ?1",
                [source.as_str()],
                |r| {
                    Ok((
                        r.get::<_, Option<String>>(0)?,
                        r.get::<_, Option<String>>(1)?,
                        r.get::<_, Option<String>>(2)?,
                        r.get::<_, Option<String>>(3)?,
                        r.get::<_, Option<String>>(4)?,
                        r.get::<_, String>(5)?,
                    ))
                },
            )
            .optional()?;
        let Some((ls, la, le, oid, oname, w)) = row else {
            return Ok(SyncState::default());
        };
        Ok(SyncState {
            last_success: ls.map(|t| parse_time(&t)).transpose()?,
            last_attempt: la.map(|t| parse_time(&t)).transpose()?,
            last_error: le,
            org_id: oid,
            org_name: oname,
            warnings: serde_json::from_str(&w).map_err(|e| StoreError::Corrupt(e.to_string()))?,
        })
    }

    pub fn put_sync_state(&self, source: Source, s: &SyncState) -> Result<(), StoreError> {
        let warnings =
            serde_json::to_string(&s.warnings).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        self.conn().execute(
            "INSERT INTO sync_state (source, last_success, last_attempt, last_error, org_id, org_name, warnings)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
             ON CONFLICT (source) DO UPDATE SET last_success = excluded.last_success,
                last_attempt = excluded.last_attempt, last_error = excluded.last_error,
                org_id = excluded.org_id, org_name = excluded.org_name, warnings = excluded.warnings",
            params![
                source.as_str(),
                s.last_success.map(|t| t.to_rfc3339()),
                s.last_attempt.map(|t| t.to_rfc3339()),
                s.last_error,
                s.org_id,
                s.org_name,
                warnings
            ],
        )?;
        self.wrote();
        Ok(())
    }

    // ---- directory (people known to an upstream) ---------------------------

    pub fn put_directory(
        &self,
        name: &str,
        entries: &[RosterEntry],
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let json =
            serde_json::to_string(entries).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        self.conn().execute(
            "INSERT INTO directory (source, fetched_at, entries) VALUES (?1, ?2, ?3)
             ON CONFLICT (source) DO UPDATE SET fetched_at = excluded.fetched_at, entries = excluded.entries",
            params![name, now.to_rfc3339(), json],
        )?;
        self.wrote();
        Ok(())
    }

    // ---- the weekly digest ----------------------------------------------------

    pub fn digest_state(&self) -> Result<DigestState, StoreError> {
        type Raw = (
            Option<String>,
            Option<String>,
            Option<String>,
            Option<String>,
            Option<bool>,
            Option<String>,
        );
        let row: Option<Raw> = self
            .conn()
            .query_row(
                "SELECT posted_week, posted_at, last_attempt_at, last_week, last_ok, last_error
                 FROM digest_state WHERE id = 1",
                [],
                |r| {
                    Ok((
                        r.get(0)?,
                        r.get(1)?,
                        r.get(2)?,
                        r.get(3)?,
                        r.get(4)?,
                        r.get(5)?,
                    ))
                },
            )
            .optional()?;
        let Some((pw, pa, la, lw, ok, err)) = row else {
            return Ok(DigestState::default());
        };
        Ok(DigestState {
            posted_week: pw.map(|d| stored_day(&d)).transpose()?,
            posted_at: pa.map(|t| parse_time(&t)).transpose()?,
            last_attempt_at: la.map(|t| parse_time(&t)).transpose()?,
            last_week: lw.map(|d| stored_day(&d)).transpose()?,
            last_ok: ok,
            last_error: err,
        })
    }

    /// Records an attempt to post the digest of `week`; a success also
    /// records the week as posted (never posted again).
    pub fn record_digest(
        &self,
        week: NaiveDate,
        at: DateTime<Utc>,
        error: Option<&str>,
    ) -> Result<(), StoreError> {
        let ok = error.is_none();
        self.conn().execute(
            "INSERT INTO digest_state (id, posted_week, posted_at, last_attempt_at, last_week, last_ok, last_error)
             VALUES (1, CASE WHEN ?4 THEN ?1 END, CASE WHEN ?4 THEN ?2 END, ?2, ?1, ?4, ?3)
             ON CONFLICT (id) DO UPDATE SET
                posted_week = CASE WHEN ?4 THEN ?1 ELSE posted_week END,
                posted_at = CASE WHEN ?4 THEN ?2 ELSE posted_at END,
                last_attempt_at = ?2, last_week = ?1, last_ok = ?4, last_error = ?3",
            params![week.to_string(), at.to_rfc3339(), error, ok],
        )?;
        Ok(())
    }

    pub fn directory(&self, name: &str) -> Result<Option<Directory>, StoreError> {
        let row: Option<(String, String)> = self
            .conn()
            .query_row(
                "SELECT fetched_at, entries FROM directory WHERE source = ?1",
                [name],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        match row {
            None => Ok(None),
            Some((t, e)) => Ok(Some((
                parse_time(&t)?,
                serde_json::from_str(&e).map_err(|e| StoreError::Corrupt(e.to_string()))?,
            ))),
        }
    }

    // ---- where serve serves ----------------------------------------------------

    pub fn record_serving(&self, s: &Serving) -> Result<(), StoreError> {
        self.conn().execute(
            "INSERT INTO serving (id, listen, otlp_listen, public_url, started_at, stopped_at)
             VALUES (1, ?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (id) DO UPDATE SET listen = excluded.listen, otlp_listen = excluded.otlp_listen,
                public_url = excluded.public_url, started_at = excluded.started_at,
                stopped_at = excluded.stopped_at",
            params![
                s.listen.to_string(),
                s.otlp_listen.map(|a| a.to_string()),
                s.public_url,
                s.started_at.to_rfc3339(),
                s.stopped_at.map(|t| t.to_rfc3339()),
            ],
        )?;
        Ok(())
    }

    /// Marks the recorded server stopped, if `started_at` is still the one recorded
    /// (a second server started on the same file since keeps its record).
    pub fn record_stopped(
        &self,
        started_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.conn().execute(
            "UPDATE serving SET stopped_at = ?2 WHERE id = 1 AND started_at = ?1",
            params![started_at.to_rfc3339(), now.to_rfc3339()],
        )?;
        Ok(())
    }

    pub fn serving(&self) -> Result<Option<Serving>, StoreError> {
        let conn = self.conn();
        type Row = (
            String,
            Option<String>,
            Option<String>,
            String,
            Option<String>,
        );
        let row: Option<Row> = conn
            .query_row(
                "SELECT listen, otlp_listen, public_url, started_at, stopped_at FROM serving WHERE id = 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
            )
            .optional()?;
        let Some((listen, otlp, public_url, started, stopped)) = row else {
            return Ok(None);
        };
        let addr = |s: &str| {
            s.parse::<std::net::SocketAddr>()
                .map_err(|e| StoreError::Corrupt(format!("recorded address {s:?}: {e}")))
        };
        Ok(Some(Serving {
            listen: addr(&listen)?,
            otlp_listen: otlp.as_deref().map(addr).transpose()?,
            public_url,
            started_at: parse_time(&started)?,
            stopped_at: stopped.as_deref().map(parse_time).transpose()?,
        }))
    }

    // ---- tokens ---------------------------------------------------------------

    pub fn insert_token(
        &self,
        kind: TokenKind,
        name: &str,
        hash: &str,
        hint: &str,
        now: DateTime<Utc>,
    ) -> Result<TokenRecord, StoreError> {
        let conn = self.conn();
        conn.execute(
            "INSERT INTO tokens (kind, name, hash, hint, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![kind.as_str(), name, hash, hint, now.to_rfc3339()],
        )?;
        let id = conn.last_insert_rowid();
        Ok(TokenRecord {
            id,
            kind,
            name: name.to_string(),
            hint: hint.to_string(),
            created_at: now,
            revoked_at: None,
        })
    }

    /// The active (not revoked) token with this hash.
    pub fn active_token_by_hash(&self, hash: &str) -> Result<Option<TokenRecord>, StoreError> {
        let conn = self.conn();
        let mut q = conn.prepare_cached(
            "SELECT id, kind, name, hint, created_at, revoked_at FROM tokens WHERE hash = ?1 AND revoked_at IS NULL",
        )?;
        let mut rs = q.query([hash])?;
        match rs.next()? {
            Some(r) => Ok(Some(token_from_row(r)?)),
            None => Ok(None),
        }
    }

    /// The token with this hash, revoked or not: a refusal names the token it was for.
    pub fn token_by_hash(&self, hash: &str) -> Result<Option<TokenRecord>, StoreError> {
        token_by_hash(&self.conn(), hash)
    }

    /// A connection of its own for the telemetry token check
    /// (`auth::IngestTokens`), which answers on the request's async thread:
    /// it never waits for this store's lock, held by long reads such as
    /// `/api/rows`. It only reads.
    pub fn token_reader(&self) -> Result<TokenReader, StoreError> {
        let open_err = |source| StoreError::Open {
            path: self.path.display().to_string(),
            source,
        };
        let conn = Connection::open(&self.path).map_err(open_err)?;
        // A WAL reader waits only in rare cases (recovery after a crash);
        // a short wait keeps the async thread free, and the client retries
        // the 503 it then gets.
        conn.busy_timeout(Duration::from_millis(200))
            .map_err(open_err)?;
        Ok(TokenReader { conn })
    }

    pub fn token(&self, id: i64) -> Result<Option<TokenRecord>, StoreError> {
        let conn = self.conn();
        let mut q = conn.prepare(
            "SELECT id, kind, name, hint, created_at, revoked_at FROM tokens WHERE id = ?1",
        )?;
        let mut rs = q.query([id])?;
        match rs.next()? {
            Some(r) => Ok(Some(token_from_row(r)?)),
            None => Ok(None),
        }
    }

    pub fn tokens(&self) -> Result<Vec<TokenRecord>, StoreError> {
        let conn = self.conn();
        let mut q = conn.prepare(
            "SELECT id, kind, name, hint, created_at, revoked_at FROM tokens ORDER BY id",
        )?;
        let mut rs = q.query([])?;
        let mut out = Vec::new();
        while let Some(r) = rs.next()? {
            out.push(token_from_row(r)?);
        }
        Ok(out)
    }

    /// Marks a token revoked. Returns false when there is no such active token.
    pub fn revoke_token(&self, id: i64, now: DateTime<Utc>) -> Result<bool, StoreError> {
        let n = self.conn().execute(
            "UPDATE tokens SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL",
            params![id, now.to_rfc3339()],
        )?;
        Ok(n == 1)
    }

    pub fn active_token_count(&self, kind: TokenKind) -> Result<u64, StoreError> {
        let n: i64 = self.conn().query_row(
            "SELECT COUNT(*) FROM tokens WHERE kind = ?1 AND revoked_at IS NULL",
            [kind.as_str()],
            |r| r.get(0),
        )?;
        Ok(to_u64(n))
    }

    // ---- refused requests -------------------------------------------------------

    /// Adds counts of refused requests (one transaction) and forgets hours
    /// older than `keep_from_hour`.
    pub fn add_refusals(
        &self,
        counts: &[RefusalCount],
        keep_from_hour: i64,
    ) -> Result<(), StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        {
            let mut up = tx.prepare_cached(
                "INSERT INTO refusals (hour, area, reason, token_id, count, last_at_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT (hour, area, reason, token_id) DO UPDATE SET
                    count = min(count + excluded.count, 1000000000000),
                    last_at_ms = max(last_at_ms, excluded.last_at_ms)",
            )?;
            for c in counts {
                up.execute(params![
                    c.hour,
                    c.area,
                    c.reason,
                    c.token_id.unwrap_or(0),
                    to_i64(c.count),
                    c.last_at.timestamp_millis()
                ])?;
            }
        }
        tx.execute("DELETE FROM refusals WHERE hour < ?1", [keep_from_hour])?;
        tx.commit()?;
        Ok(())
    }

    /// Stored refusal counts from `from_hour` on, one entry per (hour, area, reason, token).
    pub fn refusals_since(&self, from_hour: i64) -> Result<Vec<RefusalCount>, StoreError> {
        let conn = self.conn();
        let mut q = conn.prepare_cached(
            "SELECT hour, area, reason, token_id, count, last_at_ms FROM refusals WHERE hour >= ?1",
        )?;
        let mut rs = q.query([from_hour])?;
        let mut out = Vec::new();
        while let Some(r) = rs.next()? {
            let token: i64 = r.get(3)?;
            let last: i64 = r.get(5)?;
            out.push(RefusalCount {
                hour: r.get(0)?,
                area: r.get(1)?,
                reason: r.get(2)?,
                token_id: (token != 0).then_some(token),
                count: to_u64(r.get(4)?),
                last_at: DateTime::from_timestamp_millis(last).unwrap_or_default(),
            });
        }
        Ok(out)
    }
}

/// Refused requests of one UTC hour, door (`read`, `write`, `ingest`,
/// `connection`), reason and token (`None`: no token, or one not known here).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefusalCount {
    /// Hours since the Unix epoch.
    pub hour: i64,
    pub area: String,
    pub reason: String,
    pub token_id: Option<i64>,
    pub count: u64,
    pub last_at: DateTime<Utc>,
}

fn token_by_hash(conn: &Connection, hash: &str) -> Result<Option<TokenRecord>, StoreError> {
    let mut q = conn.prepare_cached(
        "SELECT id, kind, name, hint, created_at, revoked_at FROM tokens WHERE hash = ?1",
    )?;
    let mut rs = q.query([hash])?;
    match rs.next()? {
        Some(r) => Ok(Some(token_from_row(r)?)),
        None => Ok(None),
    }
}

/// See [`Store::token_reader`].
pub struct TokenReader {
    conn: Connection,
}

impl TokenReader {
    /// SQLite's `data_version` on this connection: it moves whenever another
    /// connection (the store's, the telemetry writer's, `scoreboard token`
    /// in another process) committed since it was last asked.
    pub fn data_version(&self) -> Result<i64, StoreError> {
        Ok(self
            .conn
            // Asked on every telemetry request: prepared once, not parsed each time.
            .prepare_cached("PRAGMA data_version")?
            .query_row([], |r| r.get(0))?)
    }

    /// As [`Store::token_by_hash`].
    pub fn token_by_hash(&self, hash: &str) -> Result<Option<TokenRecord>, StoreError> {
        token_by_hash(&self.conn, hash)
    }
}

fn token_from_row(r: &rusqlite::Row<'_>) -> Result<TokenRecord, StoreError> {
    let kind_s: String = r.get(1)?;
    Ok(TokenRecord {
        id: r.get(0)?,
        kind: TokenKind::parse(&kind_s)
            .ok_or_else(|| StoreError::Corrupt(format!("token kind {kind_s:?}")))?,
        name: r.get(2)?,
        hint: r.get(3)?,
        created_at: parse_time(&r.get::<_, String>(4)?)?,
        revoked_at: r
            .get::<_, Option<String>>(5)?
            .map(|t| parse_time(&t))
            .transpose()?,
    })
}

fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn to_u64(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

/// A day column, read by core's one reader of days.
fn stored_day(s: &str) -> Result<NaiveDate, StoreError> {
    parse_day(s).map_err(|why| StoreError::Corrupt(format!("day {s:?} {why}")))
}

fn parse_time(s: &str) -> Result<DateTime<Utc>, StoreError> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| StoreError::Corrupt(format!("time {s:?}: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn replacing_a_day_replaces_rather_than_adds() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("x/scoreboard.db")).unwrap();
        let now = Utc::now();
        let d = day("2026-11-02");
        let mut a = DayRow::new(d, PersonKey::email("a@x.com"), Source::AdminApi);
        a.measures.sessions = 3;
        a.measures.cost_micros = 1_250_000;
        let mut b = DayRow::new(d, PersonKey::email("b@x.com"), Source::AdminApi);
        b.measures.sessions = 1;
        store
            .replace_day(
                Source::AdminApi,
                d,
                &[a.clone(), b],
                &DayStats::default(),
                now,
            )
            .unwrap();
        a.measures.sessions = 5;
        store
            .replace_day(
                Source::AdminApi,
                d,
                &[a.clone()],
                &DayStats {
                    records: 1,
                    ..Default::default()
                },
                now,
            )
            .unwrap();
        let rows = store.rows(d, d, &Source::ALL).unwrap();
        assert_eq!(rows, vec![a]);
        assert_eq!(
            store.synced_days(Source::AdminApi, d, d).unwrap()[&d]
                .stats
                .records,
            1
        );
        assert!(store.rows(d, d, &[Source::Otlp]).unwrap().is_empty());
    }

    #[cfg(unix)]
    #[test]
    fn the_database_files_are_private_to_their_owner() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("new/scoreboard.db");
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        let s = Store::open(&p).unwrap();
        s.put_directory("x", &[], Utc::now()).unwrap();
        assert_eq!(mode(&p), 0o600, "a new database is 0600");
        let wal = dir.path().join("new/scoreboard.db-wal");
        assert_eq!(mode(&wal), 0o600, "its WAL too");
        assert_eq!(
            mode(&dir.path().join("new")),
            0o700,
            "a created directory is 0700"
        );
        drop(s);
        // A file left world-readable by an older version is tightened on open.
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
        std::fs::write(&wal, b"").unwrap();
        std::fs::set_permissions(&wal, std::fs::Permissions::from_mode(0o644)).unwrap();
        let _s = Store::open(&p).unwrap();
        assert_eq!((mode(&p), mode(&wal)), (0o600, 0o600));
    }

    /// A database as Scoreboard wrote it before migration 7 (person-day
    /// rows with JSON splits), holding `rows` and a change per day.
    fn schema6_store(p: &Path, rows: &[DayRow]) {
        let conn = Connection::open(p).unwrap();
        conn.execute_batch("CREATE TABLE server_schema_version (version INTEGER NOT NULL)")
            .unwrap();
        for m in &MIGRATIONS[..6] {
            let Migration::Sql(sql) = m else {
                panic!("migrations 1-6 are SQL")
            };
            conn.execute_batch(sql).unwrap();
        }
        conn.execute("INSERT INTO server_schema_version VALUES (6)", [])
            .unwrap();
        for (i, r) in rows.iter().enumerate() {
            let m = &r.measures;
            conn.execute(
                "INSERT INTO day_rows (source, person, day, sessions, lines_added, lines_removed, commits,
                    pull_requests, edits_accepted, edits_rejected, input_tokens, output_tokens,
                    cache_read_tokens, cache_creation_tokens, cost_micros, cost_is_estimated, models, tools, fetched_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19)",
                params![
                    r.source.as_str(), r.person.as_str(), r.day.to_string(),
                    m.sessions as i64, m.lines_added as i64, m.lines_removed as i64, m.commits as i64,
                    m.pull_requests as i64, m.edits_accepted as i64, m.edits_rejected as i64,
                    m.input_tokens as i64, m.output_tokens as i64, m.cache_read_tokens as i64,
                    m.cache_creation_tokens as i64, m.cost_micros, m.cost_is_estimated,
                    serde_json::to_string(&r.models).unwrap(),
                    serde_json::to_string(&r.tools).unwrap(),
                    "2026-11-03T00:00:00+00:00",
                ],
            )
            .unwrap();
            conn.execute(
                "INSERT INTO row_changes (source, day, seq) VALUES (?1, ?2, ?3)
                 ON CONFLICT (source, day) DO UPDATE SET seq = excluded.seq",
                params![r.source.as_str(), r.day.to_string(), i as i64 + 1],
            )
            .unwrap();
        }
    }

    fn sample_rows() -> Vec<DayRow> {
        let mut rows = Vec::new();
        for (d, p, src) in [
            ("2026-11-03", "zed@x.com", Source::AdminApi),
            ("2026-11-02", "b@x.com", Source::AdminApi),
            ("2026-11-02", "a@x.com", Source::AdminApi),
            ("2026-11-02", "a@x.com", Source::EnterpriseApi),
            ("2026-11-03", "api-key:ci", Source::AdminApi),
        ] {
            let mut r = DayRow::new(day(d), PersonKey::parse(p).unwrap(), src);
            r.measures.sessions = rows.len() as u64 + 1;
            r.measures.lines_added = 1 << 40;
            if src == Source::AdminApi {
                r.measures.cost_micros = -7;
                r.measures.cost_is_estimated = true;
            }
            if rows.len() % 2 == 0 {
                r.models = vec![scoreboard_core::ModelUsage {
                    model: "claude-sonnet-4-5".into(),
                    input_tokens: 1000,
                    output_tokens: 20,
                    cost_micros: 4_500,
                    ..Default::default()
                }];
                r.tools = vec![
                    scoreboard_core::ToolDecisions {
                        tool: "edit_tool".into(),
                        accepted: 9,
                        rejected: 1,
                    },
                    scoreboard_core::ToolDecisions {
                        tool: "write_tool".into(),
                        accepted: 1,
                        rejected: 0,
                    },
                ];
            }
            rows.push(r);
        }
        rows
    }

    #[test]
    fn a_store_of_the_previous_schema_is_upgraded_in_place_with_the_same_rows() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("scoreboard.db");
        let rows = sample_rows();
        schema6_store(&p, &rows);
        let (from, to) = (day("2026-11-01"), day("2026-11-30"));
        let mut want = rows.clone();
        want.sort_by(|a, b| {
            (a.day, a.source.as_str(), a.person.as_str()).cmp(&(
                b.day,
                b.source.as_str(),
                b.person.as_str(),
            ))
        });
        for _ in 0..2 {
            // Opened twice: the second open finds nothing to do.
            let s = Store::open(&p).unwrap();
            assert_eq!(s.schema_version().unwrap(), MIGRATIONS.len() as i64);
            assert_eq!(s.rows(from, to, &Source::ALL).unwrap(), want);
            let admin: Vec<DayRow> = want
                .iter()
                .filter(|r| r.source == Source::AdminApi)
                .cloned()
                .collect();
            assert_eq!(s.rows(from, to, &[Source::AdminApi]).unwrap(), admin);
            assert_eq!(
                s.row_summary(Source::AdminApi).unwrap(),
                (4, Some(day("2026-11-02")), Some(day("2026-11-03")))
            );
            assert_eq!(
                s.row_summary(Source::EnterpriseApi).unwrap(),
                (1, Some(day("2026-11-02")), Some(day("2026-11-02")))
            );
            assert_eq!(s.change_seq().unwrap(), 5);
            let mut changed = s.changed_days(3, from, to).unwrap();
            changed.sort_by_key(|(src, d)| (*d, src.as_str()));
            assert_eq!(
                changed,
                vec![
                    (Source::EnterpriseApi, day("2026-11-02")),
                    (Source::AdminApi, day("2026-11-03"))
                ]
            );
        }
        // And it is written to as any store: a re-fetched day replaces its rows.
        let s = Store::open(&p).unwrap();
        let d = day("2026-11-03");
        let mut only = DayRow::new(d, PersonKey::email("new@x.com"), Source::AdminApi);
        only.measures.sessions = 2;
        s.replace_day(
            Source::AdminApi,
            d,
            &[only.clone()],
            &DayStats::default(),
            Utc::now(),
        )
        .unwrap();
        assert_eq!(s.rows(d, d, &Source::ALL).unwrap(), vec![only]);
    }

    #[test]
    fn an_unreadable_stored_row_stops_the_upgrade_naming_it_and_leaves_the_file_as_it_was() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("scoreboard.db");
        schema6_store(&p, &sample_rows());
        Connection::open(&p)
            .unwrap()
            .execute(
                "UPDATE day_rows SET models = '[{\"model\": 5}]' WHERE person = 'b@x.com'",
                [],
            )
            .unwrap();
        let e = Store::open(&p)
            .err()
            .expect("the upgrade fails")
            .to_string();
        assert!(
            e.contains("b@x.com") && e.contains("2026-11-02") && e.contains("models"),
            "{e}"
        );
        let conn = Connection::open(&p).unwrap();
        let (version, rows): (i64, i64) = conn
            .query_row(
                "SELECT (SELECT MAX(version) FROM server_schema_version), (SELECT COUNT(*) FROM day_rows)",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        assert_eq!((version, rows), (6, 5));
    }

    #[test]
    fn a_day_written_twice_for_one_person_keeps_the_later_row() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(&dir.path().join("scoreboard.db")).unwrap();
        let d = day("2026-11-02");
        let row = |p: &str, sessions| {
            let mut r = DayRow::new(d, PersonKey::email(p), Source::AdminApi);
            r.measures.sessions = sessions;
            r
        };
        s.replace_day(
            Source::AdminApi,
            d,
            &[row("b@x.com", 1), row("a@x.com", 2), row("b@x.com", 3)],
            &DayStats::default(),
            Utc::now(),
        )
        .unwrap();
        assert_eq!(
            s.rows(d, d, &Source::ALL).unwrap(),
            vec![row("a@x.com", 2), row("b@x.com", 3)]
        );
        // A day re-fetched empty holds no rows (and is still synced).
        s.replace_day(Source::AdminApi, d, &[], &DayStats::default(), Utc::now())
            .unwrap();
        assert!(s.rows(d, d, &Source::ALL).unwrap().is_empty());
        assert_eq!(s.row_summary(Source::AdminApi).unwrap(), (0, None, None));
        assert!(s
            .synced_days(Source::AdminApi, d, d)
            .unwrap()
            .contains_key(&d));
    }

    #[test]
    fn a_range_of_days_is_read_in_key_order_without_sorting() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(&dir.path().join("scoreboard.db")).unwrap();
        let plan: Vec<String> = {
            let conn = s.conn();
            let mut q = conn
                .prepare(
                    "EXPLAIN QUERY PLAN SELECT day, source, rows FROM day_rows
                     WHERE day >= ?1 AND day <= ?2 ORDER BY day, source",
                )
                .unwrap();
            q.query_map(["2026-01-01", "2026-12-31"], |r| r.get::<_, String>(3))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap()
        };
        let plan = plan.join("; ");
        assert!(
            plan.contains("USING INDEX sqlite_autoindex_day_rows_1"),
            "{plan}"
        );
        assert!(!plan.contains("TEMP B-TREE"), "{plan}");
    }

    /// Guards the version read again under the write lock: two processes
    /// opening an old store at the same moment (a server starting, the CLI
    /// beside it) both open it, and the upgrade ran once.
    #[test]
    fn two_opens_of_a_previous_schema_store_at_once_both_succeed_with_the_same_rows() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("scoreboard.db");
        let rows = sample_rows();
        schema6_store(&p, &rows);
        // As every store a server has opened is (journal mode is kept in the file).
        Connection::open(&p)
            .unwrap()
            .pragma_update(None, "journal_mode", "WAL")
            .unwrap();
        let (from, to) = (day("2026-11-01"), day("2026-11-30"));
        let start = std::sync::Barrier::new(2);
        let read = std::thread::scope(|scope| {
            let open = || {
                start.wait();
                let s = Store::open(&p).unwrap();
                assert_eq!(s.schema_version().unwrap(), MIGRATIONS.len() as i64);
                s.rows(from, to, &Source::ALL).unwrap()
            };
            let a = scope.spawn(open);
            let b = scope.spawn(open);
            [a.join().unwrap(), b.join().unwrap()]
        });
        assert_eq!(read[0].len(), rows.len());
        assert_eq!(read[0], read[1]);
    }

    #[test]
    fn migrations_run_once_and_reopen_cleanly() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("scoreboard.db");
        let s = Store::open(&p).unwrap();
        assert_eq!(s.schema_version().unwrap(), MIGRATIONS.len() as i64);
        drop(s);
        let s = Store::open(&p).unwrap();
        assert_eq!(s.schema_version().unwrap(), MIGRATIONS.len() as i64);
    }
}
