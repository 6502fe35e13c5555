//! The OTLP/HTTP receiver of Scoreboard.
//!
//! # Bird's-eye view
//! Each engineer's Claude Code pushes OpenTelemetry (`CLAUDE_CODE_ENABLE_TELEMETRY=1`)
//! to `POST /v1/metrics` and `POST /v1/logs` (and `/v1/traces`, accepted and
//! discarded). [`router`] answers those paths; [`Receiver`] turns each request
//! into person-day aggregates in SQLite, committed before the request is
//! acknowledged, and hands them to the rest of Scoreboard as
//! [`scoreboard_core::DayRow`]s with `Source::Otlp` ([`Receiver::day_rows`]),
//! plus a data-health summary ([`Receiver::status`]).
//!
//! # Code map
//! - `http`: the axum handlers: auth, content type, size limit (on the
//!   decompressed size, gzip bombs included), reply encoding, load shedding.
//! - `model`: the request as the allow-list reads it, borrowed from the
//!   body: OTLP/JSON read in one pass, or a decoded protobuf viewed.
//! - `extract`: `model` → allow-listed facts (pure, no I/O).
//! - `store`: SQLite tables (`otlp_*`), dedupe, cumulative state, reading rows.
//! - `writer`: the one thread that writes them: requests that queue up
//!   while a commit runs share the next transaction (group commit).
//!
//! # Invariants
//! - Nothing but allow-listed counters, identity, session id, model and tool
//!   names is ever written; prompt text, responses and tool parameters are
//!   dropped with the decoded message and never logged.
//! - A request is answered 200 only after the transaction holding it
//!   committed (one transaction holds a group of requests, each in its own
//!   savepoint: one request's failure does not fail the others).
//! - A body received twice (a client retry) counts once; so does a delta
//!   point seen twice (same series, start and end) and an `api_request`
//!   record seen twice. Cumulative series are differenced against state kept
//!   in SQLite, so a restart does not count them again.
//! - Bad input never gets a retryable status (429/502/503/504): those are kept
//!   for load shedding, because clients retry them.
//! - Money is integer micro-dollars: each point's (or cumulative increment's)
//!   USD value is rounded once and summed as integers.
//! - Tokens and cost come from one signal per session: the token/cost
//!   metrics when that `session.id` sent any (on any day), else its
//!   `api_request` events. Both are stored and the choice is made when
//!   reading, so it does not depend on which arrived first. Events are also
//!   left out for a person-day that has metrics without a `session.id`
//!   (`OTEL_METRICS_INCLUDE_SESSION_ID=false`), since those may cover the
//!   same calls. Trade-off: a session whose token metrics were partly lost
//!   (a 400 elsewhere) is not patched from its events, because metrics carry
//!   no request id to tell which calls are missing.

mod budget;
mod estimate;
mod extract;
mod http;
mod model;
mod store;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use scoreboard_core::{DayRow, PersonKey};
use serde::{Deserialize, Serialize};

pub use crate::http::router;
pub use crate::store::{MAX_LISTED_PERSONS, STORE_CAP};

/// Creates the SQLite file readable and writable by its owner only (0600)
/// before SQLite opens it, and tightens an existing file and its `-wal` and
/// `-shm` companions. SQLite gives the companions the main file's mode, so
/// one private file keeps all three private: they hold e-mails, usage and
/// token hashes. A no-op off Unix.
pub fn make_private_db_file(path: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        // An empty file is a valid empty database to SQLite. An existing
        // file is never opened here: closing any descriptor of a database
        // file drops every POSIX lock this process holds on it, and the
        // server's own connection (opened before the receiver's) then kept
        // reading an old snapshot: tokens created or revoked while it ran
        // were not seen.
        match std::fs::metadata(path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                match std::fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(0o600)
                    .open(path)
                {
                    Ok(_) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                    Err(e) => return Err(e),
                }
            }
            Err(e) => return Err(e),
            Ok(_) => {}
        }
        for suffix in ["", "-wal", "-shm", "-journal"] {
            let mut p = path.as_os_str().to_owned();
            p.push(suffix);
            let p = PathBuf::from(p);
            match std::fs::metadata(&p) {
                Ok(m) if m.permissions().mode() & 0o077 != 0 => {
                    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600))?
                }
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// Settings of the receiver. `OtlpConfig::default()` suits a team server.
#[derive(Debug, Clone)]
pub struct OtlpConfig {
    /// Largest request body after gzip decompression; past it the answer is 413.
    /// Default 16 MiB (a Claude Code batch is a few kB).
    pub max_decompressed_bytes: usize,
    /// An attribute (on the data point or the resource) naming the person
    /// when the client sends no `user.email` or account id, e.g. `enduser.id`
    /// set through `OTEL_RESOURCE_ATTRIBUTES`. Its value is taken as written:
    /// an e-mail, or a typed key such as `account:…`.
    pub identity_attribute: Option<String>,
    /// How long one request waits for SQLite's write lock before the
    /// receiver sheds it with 503 + Retry-After.
    pub busy_timeout: Duration,
    /// Requests decoded at the same time (each takes a blocking thread).
    pub max_concurrent_requests: usize,
    /// Decoded requests waiting for the writer thread, which stores those
    /// waiting together in one transaction (group commit). Past it a
    /// request gets 503 + Retry-After at once.
    pub max_queued_requests: usize,
    /// Most requests stored in one transaction.
    pub max_group: usize,
    /// Of which larger than 1 MiB (decoded): they take at most this many
    /// cores, whatever their number.
    pub max_concurrent_large_requests: usize,
    /// Memory all requests in flight may hold together: bodies as they
    /// arrive, decompressed copies, and what decoding will allocate (known
    /// before decoding). A quarter is kept for requests under 1 MiB. A
    /// request that would need more than the rest gets 413; one that finds
    /// it taken gets 503 + Retry-After. Default 256 MiB.
    pub memory_budget_bytes: usize,
    /// How long a request may wait for a processing slot before 503 + Retry-After.
    pub queue_timeout: Duration,
    /// The whole body must arrive within this time, or the answer is 408
    /// (a slow upload holds a connection, never a processing slot).
    pub body_timeout: Duration,
    /// Most attributes on one resource, scope, data point or log record;
    /// the points of a resource past it are rejected (partial success).
    /// Claude Code sends about a dozen.
    pub max_attributes: usize,
    /// The Retry-After value (seconds) sent with 503.
    pub retry_after_seconds: u32,
}

impl Default for OtlpConfig {
    fn default() -> Self {
        OtlpConfig {
            max_decompressed_bytes: 16 * 1024 * 1024,
            identity_attribute: None,
            busy_timeout: Duration::from_secs(5),
            max_concurrent_requests: 8,
            max_queued_requests: 1024,
            max_group: 256,
            max_concurrent_large_requests: 1,
            memory_budget_bytes: 256 * 1024 * 1024,
            queue_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(60),
            max_attributes: 128,
            retry_after_seconds: 5,
        }
    }
}

/// The id of an ingest token in the server's table, opaque to the receiver:
/// refusals (and what a token sent) are counted by it.
pub type TokenId = i64;

/// What the server says about the token a telemetry request carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IngestDecision {
    /// May write; the token's id when the server has one.
    Granted(Option<TokenId>),
    /// 401; the token's id when it is known (a revoked token, a viewer token).
    Denied(AuthDenial, Option<TokenId>),
    /// The token could not be checked (the database failed): 503, so the
    /// client keeps its batch and retries instead of dropping it.
    Unavailable,
}

/// Why a token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuthDenial {
    Missing,
    Unknown,
    Revoked,
    /// A token of another kind (a viewer token sending telemetry).
    WrongKind,
}

/// Why a telemetry request was refused, for counting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IngestRefusal {
    Auth(AuthDenial),
    UnsupportedMediaType,
    TooLarge,
    BadRequest,
    /// The body did not arrive within `OtlpConfig::body_timeout`.
    SlowBody,
    /// Shed under load (503 + Retry-After): no slot, no memory, SQLite busy.
    Busy,
}

/// One refused telemetry request, as [`IngestAuth::refused`] is told of it.
/// `message` is the receiver's own text (it never quotes the body or a token).
#[derive(Debug, Clone, Copy)]
pub struct RefusedIngest<'a> {
    pub signal: &'static str,
    pub status: u16,
    pub reason: IngestRefusal,
    /// The token the request carried, when the server knows it.
    pub token: Option<TokenId>,
    pub message: &'a str,
}

/// Decides whether a request may write telemetry, and hears about every
/// refused one. The server implements it over its hashed token table. It is
/// asked on every request (nothing is cached here), so a revoked token stops
/// working at once. It is asked on the async thread that took the request:
/// it must answer from memory or with a short read, never wait long (the
/// server's answers from a cache that any commit to the database empties).
pub trait IngestAuth: Send + Sync + 'static {
    /// `bearer_token` is the token of an `Authorization: Bearer …` header,
    /// `None` when the header is missing or not a bearer token.
    fn check(&self, bearer_token: Option<&str>) -> IngestDecision;

    /// Called once for each refused request (the server counts them and
    /// logs at a bounded rate). By default each one is logged.
    fn refused(&self, r: &RefusedIngest<'_>) {
        tracing::warn!(
            signal = r.signal,
            status = r.status,
            "OTLP request refused: {}",
            r.message
        );
    }
}

#[derive(Debug, thiserror::Error)]
pub enum OtlpError {
    #[error("cannot open the telemetry tables in {path}: {source}")]
    Open {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error("cannot make the telemetry database {path} private to its owner: {source}")]
    Private {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "the telemetry database stayed locked by another writer for more than {0:?}; try again"
    )]
    Busy(Duration),
    #[error("the telemetry tables are at schema version {found}, newer than this program understands ({supported}); upgrade scoreboard")]
    SchemaTooNew { found: i64, supported: i64 },
    #[error("telemetry database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The error of the group commit a request was part of.
    #[error("{0}")]
    Write(String),
    /// As many requests as `OtlpConfig::max_queued_requests` wait for the writer.
    #[error("too many telemetry requests are waiting to be stored; try again")]
    QueueFull,
    #[error("the telemetry writer has stopped")]
    WriterStopped,
    #[error("cannot start the telemetry writer thread: {0}")]
    Thread(std::io::Error),
}

// The wire types of `/api/sources`' telemetry part live in core's HTTP contract.
pub use scoreboard_core::api::{PersonSeen, TelemetryStatus};

/// One (person or device, ingest token) pair telemetry was received from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientSeen {
    /// The ingest token's id; `None` when the server named none.
    pub token: Option<TokenId>,
    /// `service.version` of the last request that carried one (Claude Code's version).
    pub version: Option<String>,
    pub first_received_at: DateTime<Utc>,
    pub last_received_at: DateTime<Utc>,
}

/// A person or device and the tokens (and versions) it sent with, most recent first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonClients {
    #[serde(flatten)]
    pub seen: PersonSeen,
    pub clients: Vec<ClientSeen>,
}

/// What one ingest token brought.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenUsage {
    pub token: Option<TokenId>,
    pub last_received_at: DateTime<Utc>,
    /// Distinct people (e-mail, account or configured identity) that sent with it.
    pub people: u64,
    /// Distinct installation ids that sent with it without naming a person.
    pub devices: u64,
}

/// Active time per person-day (`claude_code.active_time.total`), which has no
/// place in `Measures`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActiveTime {
    pub day: NaiveDate,
    pub person: PersonKey,
    /// `type=cli`: time with operations running.
    pub cli_ms: u64,
    /// `type=user`: keyboard activity (interactive sessions only).
    pub user_ms: u64,
}

pub struct Receiver {
    cfg: OtlpConfig,
    auth: Arc<dyn IngestAuth>,
    store: store::Store,
    slots: Arc<tokio::sync::Semaphore>,
    large_slots: Arc<tokio::sync::Semaphore>,
    budget: Arc<budget::Budget>,
}

impl Receiver {
    /// Opens (creating if needed) the `otlp_*` tables in the SQLite file the
    /// server shares, in WAL mode with a busy timeout.
    pub fn open(
        db_path: &Path,
        cfg: OtlpConfig,
        auth: Arc<dyn IngestAuth>,
    ) -> Result<Receiver, OtlpError> {
        let store = store::Store::open(
            db_path,
            cfg.busy_timeout,
            cfg.max_queued_requests,
            cfg.max_group,
        )?;
        let slots = Arc::new(tokio::sync::Semaphore::new(
            cfg.max_concurrent_requests.max(1),
        ));
        let large_slots = Arc::new(tokio::sync::Semaphore::new(
            cfg.max_concurrent_large_requests.max(1),
        ));
        let budget = Arc::new(budget::Budget::new(cfg.memory_budget_bytes));
        Ok(Receiver {
            cfg,
            auth,
            store,
            slots,
            large_slots,
            budget,
        })
    }

    /// Person-day rows (source `otlp`) for the UTC days `from..=to`.
    pub fn day_rows(&self, from: NaiveDate, to: NaiveDate) -> Result<Vec<DayRow>, OtlpError> {
        self.store.day_rows(from, to)
    }

    /// Everyone heard from, by key, up to `limit` (at most
    /// [`MAX_LISTED_PERSONS`]) after `after` (`""`: from the start).
    pub fn persons(&self, after: &str, limit: usize) -> Result<Vec<PersonSeen>, OtlpError> {
        self.store.persons(after, limit)
    }

    /// Per ingest token: last use, distinct people and devices.
    pub fn token_usage(&self) -> Result<Vec<TokenUsage>, OtlpError> {
        self.store.token_usage()
    }

    /// What telemetry knows of each of `keys` (those never heard from are left out).
    pub fn persons_by_key(&self, keys: &[PersonKey]) -> Result<Vec<PersonClients>, OtlpError> {
        self.store.persons_by_key(keys)
    }

    /// Device and account ids heard from that `mapped` does not tie to a
    /// person, most recent first, at most `limit`; and how many in all.
    pub fn unattributed(
        &self,
        limit: usize,
        mapped: &dyn Fn(&PersonKey) -> bool,
    ) -> Result<(Vec<PersonClients>, u64), OtlpError> {
        self.store.unattributed(limit, mapped)
    }

    /// Active time per person-day for `from..=to`.
    pub fn active_time(
        &self,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<ActiveTime>, OtlpError> {
        self.store.active_time(from, to)
    }

    /// Freshness and data health as of `now`. A database error is reported in
    /// `error` rather than hiding the whole page.
    pub fn status(&self, now: DateTime<Utc>) -> TelemetryStatus {
        self.store.status(now).unwrap_or_else(|e| TelemetryStatus {
            error: Some(e.to_string()),
            ..TelemetryStatus::default()
        })
    }

    pub fn config(&self) -> &OtlpConfig {
        &self.cfg
    }
}

/// The request side's stages, one at a time, for `otlp/benches/stages.rs`
/// (BENCHMARKS.md §5 splits a batch's cost with it). Not an API.
#[doc(hidden)]
pub mod profile {
    use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
    use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
    use prost::Message;
    use sha2::{Digest, Sha256};

    use crate::{estimate, extract, model};

    /// A metrics or logs body, JSON or protobuf.
    #[derive(Debug, Clone, Copy)]
    pub struct Body<'a> {
        pub metrics: bool,
        pub protobuf: bool,
        pub bytes: &'a [u8],
    }

    /// What decoding will allocate, found before decoding (`estimate.rs`).
    pub fn estimate(b: Body<'_>) -> u64 {
        let top = if b.metrics {
            estimate::Msg::MetricsRequest
        } else {
            estimate::Msg::LogsRequest
        };
        let r = if b.protobuf {
            estimate::protobuf(top, b.bytes, u64::MAX)
        } else {
            estimate::json(top, b.bytes, u64::MAX)
        };
        r.unwrap_or(0)
    }

    /// The general decoder (opentelemetry-proto: serde for JSON, prost for
    /// protobuf) and the view the allow-list reads; returns the resources.
    pub fn decode_general(b: Body<'_>) -> usize {
        match (b.metrics, b.protobuf) {
            (true, true) => ExportMetricsServiceRequest::decode(b.bytes)
                .map(|r| model::MetricsReq::from(&r).resource_metrics.len()),
            (false, true) => ExportLogsServiceRequest::decode(b.bytes)
                .map(|r| model::LogsReq::from(&r).resource_logs.len()),
            (true, false) => Ok(
                serde_json::from_slice::<ExportMetricsServiceRequest>(b.bytes)
                    .map(|r| model::MetricsReq::from(&r).resource_metrics.len())
                    .unwrap_or(0),
            ),
            (false, false) => Ok(serde_json::from_slice::<ExportLogsServiceRequest>(b.bytes)
                .map(|r| model::LogsReq::from(&r).resource_logs.len())
                .unwrap_or(0)),
        }
        .unwrap_or(0)
    }

    /// The one-pass JSON decoder (`None` for protobuf, or a body it leaves
    /// to the general one).
    pub fn decode_one_pass(b: Body<'_>) -> Option<usize> {
        if b.protobuf {
            return None;
        }
        if b.metrics {
            model::MetricsReq::from_json(b.bytes).map(|r| r.resource_metrics.len())
        } else {
            model::LogsReq::from_json(b.bytes).map(|r| r.resource_logs.len())
        }
    }

    /// Decoding as the receiver does it, then the allow-list; returns the
    /// points and events kept.
    pub fn decode_and_extract(b: Body<'_>) -> usize {
        let limits = extract::Limits::default();
        let ex = match (b.metrics, b.protobuf) {
            (true, false) => {
                model::MetricsReq::from_json(b.bytes).map(|r| extract::metrics(&r, None, &limits))
            }
            (false, false) => {
                model::LogsReq::from_json(b.bytes).map(|r| extract::logs(&r, None, &limits))
            }
            (true, true) => ExportMetricsServiceRequest::decode(b.bytes)
                .ok()
                .map(|r| extract::metrics(&(&r).into(), None, &limits)),
            (false, true) => ExportLogsServiceRequest::decode(b.bytes)
                .ok()
                .map(|r| extract::logs(&(&r).into(), None, &limits)),
        };
        ex.map_or(0, |e| e.points.len() + e.api_requests.len())
    }

    /// What the one-pass decoder may allocate, counted instead of the walk.
    pub fn one_pass_bound(b: Body<'_>) -> usize {
        model::one_pass_bound(b.bytes).unwrap_or(0)
    }

    /// The body's digest (a re-sent body is recognised by it).
    pub fn digest(b: Body<'_>) -> u8 {
        Sha256::digest(b.bytes)[0]
    }
}
