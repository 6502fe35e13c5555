//! The HTTP API the page reads (JSON), the built page itself, and the
//! telemetry receiver's routes, all on one origin.
//!
//! | route | answer |
//! |---|---|
//! | `GET /api/health` | `{ok, version, demo, auth_required, sources: {admin_api, enterprise_api, telemetry, roster_file, imports}}` |
//! | `GET /api/rows?from=YYYY-MM-DD&to=YYYY-MM-DD` | `{from, to, rows: [DayRow…], periods: [PeriodRow…], counts: {source: n}, imported: {source: n}, coverage}` (the exports folder's rows included) |
//! | `GET /api/roster` | `{entries: [RosterEntry…], problems, conflicts, sources: [{name, entries, fetched_at}]}` |
//! | `GET /api/sources` | `{generated_at, sources: [SourceStatus…], telemetry: {configured, status_text, status}, imports: {configured, folder, status_text, rows, snapshot}, digest: {configured, schedule, posted_week, last_ok, last_error, next_due, …}, refused: {last_24h, last_7d, by_reason, by_token}}` |
//! | `GET /api/telemetry/persons?after=KEY&limit=N` | `{persons: [PersonSeen…], next_after}`: everyone telemetry named, by key |
//! | `GET /api/telemetry/rollout` | per token, per roster member, unattributed installations ([`crate::rollout`]) |
//! | `GET /api/report?weeks=N&team=T&as_of=D` (or `from`/`to`) | the JSON of `scoreboard report --format json` for the server's rows and roster ([`crate::feeds`]) |
//! | `GET /metrics` | the reference week per team in the OpenMetrics text format ([`crate::feeds`]); also the metrics-only token |
//! | `POST /v1/metrics`, `/v1/logs`, `/v1/traces` | the OTLP receiver (ingest token) |
//! | anything else | the page (`--dist`), `index.html` for unknown paths |
//!
//! Every JSON answer's type is defined in [`scoreboard_core::api`], the one
//! wire contract the page reads too; handlers here only fill it in.
//!
//! Everything is answered from the store at once; syncs happen in the
//! background ([`crate::sync`]). Errors are `{"error": {"status", "message"}}`.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use axum::{middleware, Json, Router};
use chrono::{DateTime, Duration as Days, NaiveDate, Utc};
use scoreboard_core::api::{
    Health, HealthSources, ImportsPart, PersonsPage, RosterAnswer, RosterSource, RowsAnswer,
    SourcesAnswer, TelemetryPart,
};
use scoreboard_core::{DayRange, DayRow, Freshness, PeriodRow, Roster, Source, SourceCoverage};
use serde::Deserialize;
use serde_json::json;
use tower_http::compression::{CompressionLayer, CompressionLevel};
use tower_http::services::{ServeDir, ServeFile};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;

use crate::auth::{self, ReadAccess};
use crate::config::{Config, Limits};
use crate::guard::{self, AllowedHosts};
use crate::refusals::Refusals;
use crate::store::Store;
use crate::sync::{Syncer, ADMIN_DIRECTORY};
use scoreboard_otlp::{Receiver, TelemetryStatus};

/// The longest range `/api/rows` answers in one call.
pub const MAX_RANGE_DAYS: i64 = 800;

/// Where handlers get "now" (tests pin it; the server uses the system clock).
pub type Clock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<Store>,
    syncer: Arc<Syncer>,
    access: ReadAccess,
    /// The main listener is on a loopback address: no credential means the operator.
    loopback: bool,
    hosts: AllowedHosts,
    frames: guard::FrameAncestors,
    limits: Limits,
    refusals: Arc<Refusals>,
    snapshot_decodes: Arc<tokio::sync::Semaphore>,
    snapshot_uploads: crate::snapshots::UploadRate,
    demo: bool,
    roster_path: Option<PathBuf>,
    roster_file: Arc<crate::roster_file::RosterFile>,
    dist: Option<PathBuf>,
    backfill_days: u32,
    telemetry: Option<Arc<Receiver>>,
    clock: Clock,
    /// The exports folder (issue 15), read again when its files change.
    imports: Arc<crate::imports::ImportsDir>,
    /// `/api/report` answers per (query, data version) (issue 15).
    report_cache: crate::feeds::ReportCache,
    /// The scraper's token for `/metrics` only, hashed (issue 15).
    metrics_token: Option<String>,
    /// The weekly digest's schedule and webhook (issue 15).
    digest: Arc<crate::digest::DigestSettings>,
}

impl AppState {
    pub fn new(
        config: &Config,
        store: Arc<Store>,
        syncer: Arc<Syncer>,
        telemetry: Option<Arc<Receiver>>,
    ) -> AppState {
        AppState::with_clock(config, store, syncer, telemetry, Arc::new(Utc::now))
    }

    pub fn with_clock(
        config: &Config,
        store: Arc<Store>,
        syncer: Arc<Syncer>,
        telemetry: Option<Arc<Receiver>>,
        clock: Clock,
    ) -> AppState {
        let refusals = Arc::new(Refusals::with_clock(store.clone(), clock.clone()));
        AppState::with_parts(config, store, syncer, telemetry, refusals, clock)
    }

    /// Every part given: `refusals` is shared with the telemetry receiver's
    /// token check ([`auth::IngestTokens::counting`]), so its refusals are counted too.
    pub fn with_parts(
        config: &Config,
        store: Arc<Store>,
        syncer: Arc<Syncer>,
        telemetry: Option<Arc<Receiver>>,
        refusals: Arc<Refusals>,
        clock: Clock,
    ) -> AppState {
        AppState {
            inner: Arc::new(Inner {
                refusals,
                store,
                syncer,
                access: ReadAccess::for_config(config),
                loopback: config.listen.ip().is_loopback(),
                hosts: AllowedHosts::for_config(config),
                frames: guard::FrameAncestors::for_config(config),
                limits: config.limits.clone(),
                snapshot_decodes: Arc::new(tokio::sync::Semaphore::new(
                    crate::snapshots::CONCURRENT_DECODES,
                )),
                snapshot_uploads: crate::snapshots::UploadRate::new(
                    config.limits.snapshot_uploads_per_minute,
                ),
                demo: config.demo,
                roster_path: config.roster.clone(),
                roster_file: Arc::new(crate::roster_file::RosterFile::new(config.roster.clone())),
                dist: config.dist.clone(),
                backfill_days: config.anthropic.backfill_days,
                telemetry,
                clock,
                imports: Arc::new(crate::imports::ImportsDir::new(
                    config.feeds.imports_dir.clone(),
                )),
                report_cache: crate::feeds::ReportCache::default(),
                metrics_token: config
                    .secrets
                    .metrics_token
                    .as_ref()
                    .map(|t| crate::tokens::hash_token(t.expose())),
                digest: Arc::new(crate::digest::DigestSettings::for_config(config)),
            }),
        }
    }
    pub fn store(&self) -> &Arc<Store> {
        &self.inner.store
    }
    pub fn syncer(&self) -> &Arc<Syncer> {
        &self.inner.syncer
    }
    pub fn read_access(&self) -> &ReadAccess {
        &self.inner.access
    }
    pub fn is_loopback(&self) -> bool {
        self.inner.loopback
    }
    pub fn allowed_hosts(&self) -> &AllowedHosts {
        &self.inner.hosts
    }
    pub fn limits(&self) -> &Limits {
        &self.inner.limits
    }
    /// Refused requests, counted (the telemetry receiver's too, when built with it).
    pub fn refusals(&self) -> &Arc<Refusals> {
        &self.inner.refusals
    }
    pub fn snapshot_decodes(&self) -> &Arc<tokio::sync::Semaphore> {
        &self.inner.snapshot_decodes
    }
    pub fn snapshot_uploads(&self) -> &crate::snapshots::UploadRate {
        &self.inner.snapshot_uploads
    }
    /// The roster file, read again when it changes.
    pub fn roster_file(&self) -> &Arc<crate::roster_file::RosterFile> {
        &self.inner.roster_file
    }
    pub fn telemetry(&self) -> Option<&Arc<Receiver>> {
        self.inner.telemetry.as_ref()
    }
    /// Days of history the Anthropic syncs keep (the page's default range).
    pub fn backfill_days(&self) -> u32 {
        self.inner.backfill_days
    }
    pub fn now(&self) -> DateTime<Utc> {
        (self.inner.clock)()
    }
    /// The exports folder (none configured: reads give `None`).
    pub fn imports(&self) -> &Arc<crate::imports::ImportsDir> {
        &self.inner.imports
    }
    pub fn digest(&self) -> &Arc<crate::digest::DigestSettings> {
        &self.inner.digest
    }
    pub fn report_cache(&self) -> &crate::feeds::ReportCache {
        &self.inner.report_cache
    }
    /// SHA-256 of the `/metrics`-only token, when one is configured.
    pub fn metrics_token(&self) -> Option<&str> {
        self.inner.metrics_token.as_deref()
    }
    /// What the rows, coverage and roster every report is computed from
    /// were at: the store's row writes, other connections' commits
    /// (telemetry), the exports folder and the roster file. Equal versions
    /// mean equal data. Blocking (one SQLite pragma, a folder listing, a `stat`).
    pub fn data_version(&self) -> Result<DataVersion, crate::store::StoreError> {
        let s = &self.inner;
        let now = self.now();
        Ok(DataVersion {
            store: s.store.version()?,
            imports: s.imports.read(now).map_or(0, |i| i.generation),
            roster: s.roster_file.generation(),
        })
    }
}

/// See [`AppState::data_version`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DataVersion {
    pub store: crate::store::StoreVersion,
    pub imports: u64,
    pub roster: u64,
}

/// The whole service. Tests call it with `tower::ServiceExt::oneshot`.
pub fn app(state: AppState) -> Router {
    let reads = Router::new()
        .route("/api/rows", get(rows))
        .route("/api/roster", get(roster))
        .route("/api/sources", get(sources))
        .route("/api/telemetry/persons", get(telemetry_persons))
        .route("/api/report", get(crate::feeds::report))
        .merge(crate::rollout::routes())
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            auth::require_reader,
        ));
    // `/metrics` also lets a scraper in with the metrics-only token.
    let metrics = Router::new()
        .route("/metrics", get(crate::feeds::metrics))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            auth::require_metrics_reader,
        ));
    let api = Router::new()
        .route("/api/health", get(health))
        .merge(reads)
        .merge(metrics)
        .merge(crate::snapshots::routes(&state))
        .route("/api", any(api_not_found))
        .route("/api/{*rest}", any(api_not_found))
        .layer(SetResponseHeaderLayer::overriding(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        ))
        .layer(compression())
        .with_state(state.clone());
    let api = guard::security_headers(api, guard::API_CSP);
    // Unknown /v1/* paths answer 404 here rather than falling through to the page.
    let mut telemetry = Router::new()
        .route("/v1", any(telemetry_not_found))
        .route("/v1/{*rest}", any(telemetry_not_found));
    if let Some(t) = &state.inner.telemetry {
        telemetry = telemetry.merge(scoreboard_otlp::router(t.clone()));
    }
    let telemetry = guard::security_headers(telemetry, guard::PAGE_CSP);
    let page = match &state.inner.dist {
        Some(dist) => {
            let index = dist.join("index.html");
            let site = ServeDir::new(dist).fallback(ServeFile::new(index));
            Router::new().fallback_service(site).layer(compression())
        }
        None => Router::new().fallback(no_page),
    };
    // Only the page may be framed, and only by `frame_ancestors` (embeds).
    let page = guard::page_headers(page, &state.inner.frames);
    api.merge(telemetry)
        .fallback_service(page)
        .layer(middleware::from_fn_with_state(state, guard::known_host))
        .layer(request_trace())
}

/// gzip or brotli when the client asks: the page's wasm is ~1 MB raw and
/// ~0.35–0.42 MB compressed (BENCHMARKS.md §1), and `/api/rows` answers are
/// JSON that shrinks about tenfold. A middle level: compressing must not cost
/// more time than it saves on a fast network. Telemetry answers are left as
/// they are (tiny, and OTLP clients expect plain bodies).
fn compression() -> CompressionLayer {
    CompressionLayer::new().quality(CompressionLevel::Precise(5))
}

type RequestSpan = fn(&axum::http::Request<axum::body::Body>) -> tracing::Span;
pub type RequestTrace = TraceLayer<
    tower_http::classify::SharedClassifier<tower_http::classify::ServerErrorsAsFailures>,
    RequestSpan,
>;

/// Request logging with the path only: a query string is the one place a
/// careless client could put a token, and it stays out of the log.
pub fn request_trace() -> RequestTrace {
    fn span(req: &axum::http::Request<axum::body::Body>) -> tracing::Span {
        tracing::debug_span!("request", method = %req.method(), path = %req.uri().path())
    }
    TraceLayer::new_for_http().make_span_with(span as RequestSpan)
}

/// An error answer: `{"error": {"status": 400, "message": "…"}}`.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            message: message.into(),
        }
    }
    pub fn message(&self) -> &str {
        &self.message
    }
    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, message)
    }
    /// Internal details go to the log, not to the client.
    pub fn internal(detail: impl Into<String>) -> ApiError {
        let detail = detail.into();
        tracing::error!(error = %detail, "request failed");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the server could not read its database; see the server log",
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (
            self.status,
            Json(json!({ "error": { "status": self.status.as_u16(), "message": self.message } })),
        )
            .into_response()
    }
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, crate::store::StoreError> + Send + 'static,
) -> Result<T, ApiError> {
    match tokio::task::spawn_blocking(f).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(ApiError::internal(e.to_string())),
        Err(e) => Err(ApiError::internal(e.to_string())),
    }
}

/// Open to everyone: it says what kind of server this is, never any data.
async fn health(State(state): State<AppState>) -> Json<Health> {
    let s = &state.inner;
    Json(Health {
        ok: true,
        version: env!("CARGO_PKG_VERSION").to_string(),
        demo: s.demo,
        auth_required: !s.access.is_open(),
        sources: HealthSources {
            admin_api: s.syncer.configured(Source::AdminApi),
            enterprise_api: s.syncer.configured(Source::EnterpriseApi),
            telemetry: s.telemetry.is_some(),
            roster_file: s.roster_path.is_some(),
            imports: s.imports.configured(),
        },
    })
}

#[derive(Deserialize)]
struct RangeQuery {
    from: Option<String>,
    to: Option<String>,
}

/// A `from`/`to` query parameter, read by core's one reader of days.
fn query_day(name: &str, value: &str) -> Result<NaiveDate, ApiError> {
    scoreboard_core::parse::parse_day(value)
        .map_err(|why| ApiError::bad_request(format!("`{name}` {why}: got {value:?}")))
}

/// The days an Anthropic API source synced successfully, and its last success.
fn sync_coverage(
    store: &Store,
    source: Source,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<SourceCoverage, crate::store::StoreError> {
    let days = store.synced_days(source, from, to)?;
    let state = store.sync_state(source)?;
    Ok(SourceCoverage {
        source,
        ranges: DayRange::normalize(days.keys().copied().map(DayRange::day).collect()),
        freshness: Some(Freshness {
            last_ok: state.last_success.map(|t| t.date_naive()),
            failing: state.last_error.is_some(),
        }),
    })
}

/// Telemetry covers its first received batch to the server's clock.
fn telemetry_coverage(
    status: &TelemetryStatus,
    now: DateTime<Utc>,
    from: NaiveDate,
    to: NaiveDate,
) -> SourceCoverage {
    let first = status
        .persons_seen
        .iter()
        .map(|p| p.first_received_at.date_naive())
        .min();
    let today = now.date_naive();
    SourceCoverage {
        source: Source::Otlp,
        ranges: first
            .map(|f| DayRange::clip(&[DayRange::new(f, today)], from, to))
            .unwrap_or_default(),
        freshness: Some(Freshness {
            last_ok: status.last_received_at.map(|t| t.date_naive()),
            failing: status.error.is_some(),
        }),
    }
}

async fn rows(
    State(state): State<AppState>,
    Query(q): Query<RangeQuery>,
) -> Result<Json<RowsAnswer>, ApiError> {
    let now = (state.inner.clock)();
    let to = match &q.to {
        Some(t) => query_day("to", t)?,
        None => now.date_naive(),
    };
    let from = match &q.from {
        Some(f) => query_day("from", f)?,
        None => to - Days::days(i64::from(state.inner.backfill_days.max(1)) - 1),
    };
    if from > to {
        return Err(ApiError::bad_request(format!(
            "`from` ({from}) is after `to` ({to})"
        )));
    }
    if (to - from).num_days() >= MAX_RANGE_DAYS {
        return Err(ApiError::bad_request(format!(
            "the range {from}..{to} is longer than {MAX_RANGE_DAYS} days; ask in parts"
        )));
    }
    // Stale-while-revalidate: answer from the store now; wake the sync if it is due.
    state.inner.syncer.nudge(now);
    let loaded = load_rows(&state, from, to, now).await?;
    let mut counts = BTreeMap::new();
    for r in &loaded.rows {
        *counts.entry(r.source).or_insert(0) += 1;
    }
    Ok(Json(RowsAnswer {
        from,
        to,
        counts,
        rows: loaded.rows,
        periods: loaded.periods,
        imported: loaded.imported,
        coverage: loaded.coverage,
    }))
}

/// The server's rows of `from..=to`: the Anthropic APIs' from the store,
/// telemetry's from its receiver, the exports folder's; and the days each
/// source covers.
pub(crate) struct ServerRows {
    pub rows: Vec<DayRow>,
    pub periods: Vec<PeriodRow>,
    pub coverage: Vec<SourceCoverage>,
    /// Rows from the exports folder, per source.
    pub imported: BTreeMap<Source, u64>,
}

/// What `/api/rows` answers, and what `/api/report` and `/metrics` compute
/// from. The exports folder's rows go in first and the store's after them
/// through core's table, so a synced day replaces a file's day of the same
/// source (as the page puts the server's rows over the files dropped on it).
pub(crate) async fn load_rows(
    state: &AppState,
    from: NaiveDate,
    to: NaiveDate,
    now: DateTime<Utc>,
) -> Result<ServerRows, ApiError> {
    let store = state.inner.store.clone();
    let configured: Vec<Source> = [Source::AdminApi, Source::EnterpriseApi]
        .into_iter()
        .filter(|s| state.inner.syncer.configured(*s))
        .collect();
    let imports = state.inner.imports.clone();
    let (mut rows, mut coverage, folder) = blocking(move || {
        let rows = store.rows(from, to, &[Source::AdminApi, Source::EnterpriseApi])?;
        let coverage = configured
            .into_iter()
            .map(|s| sync_coverage(&store, s, from, to))
            .collect::<Result<Vec<_>, _>>()?;
        Ok((rows, coverage, imports.read(now)))
    })
    .await?;
    if let Some(t) = state.inner.telemetry.clone() {
        let (otlp, status) =
            tokio::task::spawn_blocking(move || (t.day_rows(from, to), t.status(now)))
                .await
                .map_err(|e| ApiError::internal(e.to_string()))?;
        rows.extend(otlp.map_err(|e| ApiError::internal(e.to_string()))?);
        coverage.push(telemetry_coverage(&status, now, from, to));
    }
    let mut periods = Vec::new();
    let mut imported = BTreeMap::new();
    if let Some(folder) = folder {
        // A synced or received row of the same source and day replaces the file's.
        let live: std::collections::HashSet<(Source, &scoreboard_core::PersonKey, NaiveDate)> =
            rows.iter().map(|r| (r.source, &r.person, r.day)).collect();
        let file_rows = folder.rows(from, to);
        for r in &file_rows {
            if !live.contains(&(r.source, &r.person, r.day)) {
                *imported.entry(r.source).or_insert(0) += 1;
            }
        }
        drop(live);
        periods = folder.periods(from, to);
        for p in &periods {
            *imported.entry(p.source).or_insert(0) += 1;
        }
        let mut table = scoreboard_core::UsageTable::new();
        table.insert_days(file_rows);
        table.insert_days(rows);
        rows = table.days().to_vec();
        coverage.extend(folder.coverage(from, to));
    }
    Ok(ServerRows {
        rows,
        periods,
        coverage,
        imported,
    })
}

/// The roster file (read again when it changes, so edits show without a
/// restart) merged with the Admin API's users list.
async fn roster(State(state): State<AppState>) -> Result<Json<RosterAnswer>, ApiError> {
    Ok(Json(load_roster(&state).await?))
}

/// The roster file merged with the Admin API's users, as `/api/roster` answers it.
pub(crate) async fn load_roster(state: &AppState) -> Result<RosterAnswer, ApiError> {
    let file = state.inner.roster_file.clone();
    let store = state.inner.store.clone();
    let (file_part, dir) = tokio::task::spawn_blocking(move || {
        let file_part = file
            .read()
            .map(|r| (r.name.clone(), r.entries.clone(), r.problems.clone()));
        (file_part, store.directory(ADMIN_DIRECTORY))
    })
    .await
    .map_err(|e| ApiError::internal(e.to_string()))?;
    let dir = dir.map_err(|e| ApiError::internal(e.to_string()))?;
    let mut sources = Vec::new();
    let mut problems = Vec::new();
    let mut all = Vec::new();
    if let Some((name, entries, p)) = file_part {
        sources.push(RosterSource {
            name: "file".into(),
            file: Some(name),
            entries: entries.len(),
            fetched_at: None,
        });
        all.extend(entries);
        problems.extend(p);
    }
    if let Some((fetched_at, entries)) = dir {
        sources.push(RosterSource {
            name: ADMIN_DIRECTORY.into(),
            file: None,
            entries: entries.len(),
            fetched_at: Some(fetched_at),
        });
        all.extend(entries);
    }
    let roster = Roster::new(all);
    Ok(RosterAnswer {
        entries: roster.entries().to_vec(),
        problems,
        conflicts: roster.conflicts().to_vec(),
        sources,
    })
}

async fn sources(State(state): State<AppState>) -> Result<Json<SourcesAnswer>, ApiError> {
    let now = (state.inner.clock)();
    state.inner.syncer.nudge(now);
    let syncer = state.inner.syncer.clone();
    let list = blocking(move || syncer.status(now)).await?;
    let refusals = state.refusals().clone();
    let refused = blocking(move || refusals.summary(now)).await?;
    let telemetry = match state.inner.telemetry.clone() {
        Some(t) => {
            let status = tokio::task::spawn_blocking(move || t.status(now))
                .await
                .map_err(|e| ApiError::internal(e.to_string()))?;
            TelemetryPart {
                configured: true,
                status_text: telemetry_text(&status),
                status: Some(status),
            }
        }
        None => TelemetryPart {
            configured: false,
            status_text: "Telemetry is not received by this server.".to_string(),
            status: None,
        },
    };
    let folder = state.inner.imports.clone();
    let folder_name = folder.name();
    let imports = match tokio::task::spawn_blocking(move || folder.read(now))
        .await
        .map_err(|e| ApiError::internal(e.to_string()))?
    {
        Some(snap) => ImportsPart {
            configured: true,
            folder: folder_name,
            status_text: snap.status_text(),
            rows: Some(snap.row_counts()),
            snapshot: Some(snap.wire()),
        },
        None => ImportsPart {
            configured: false,
            folder: None,
            status_text: "No exports folder: start the server with --imports DIR (or imports_dir in the config) to serve the usage exports saved there.".to_string(),
            rows: None,
            snapshot: None,
        },
    };
    let digest = crate::digest::status(&state).await?;
    Ok(Json(SourcesAnswer {
        generated_at: now,
        sources: list,
        telemetry,
        imports,
        digest,
        refused,
    }))
}

#[derive(Deserialize)]
struct PersonsQuery {
    after: Option<String>,
    limit: Option<usize>,
}

/// Everyone telemetry was heard from, by key, a page at a time
/// (`/api/sources` lists at most the most recent 10,000).
async fn telemetry_persons(
    State(state): State<AppState>,
    Query(q): Query<PersonsQuery>,
) -> Result<Json<PersonsPage>, ApiError> {
    let Some(t) = state.inner.telemetry.clone() else {
        return Ok(Json(PersonsPage::default()));
    };
    let after = q.after.unwrap_or_default();
    let limit = q
        .limit
        .unwrap_or(scoreboard_otlp::MAX_LISTED_PERSONS)
        .clamp(1, scoreboard_otlp::MAX_LISTED_PERSONS);
    let page = tokio::task::spawn_blocking(move || t.persons(&after, limit))
        .await
        .map_err(|e| ApiError::internal(e.to_string()))?
        .map_err(|e| ApiError::internal(e.to_string()))?;
    let next_after = (page.len() == limit)
        .then(|| page.last().map(|p| p.person.as_str().to_string()))
        .flatten();
    Ok(Json(PersonsPage {
        persons: page,
        next_after,
    }))
}

/// One or two sentences about telemetry for the source bar.
pub fn telemetry_text(s: &TelemetryStatus) -> String {
    if let Some(e) = &s.error {
        return format!("The telemetry store could not be read: {e}");
    }
    let Some(last) = s.last_received_at else {
        return "No telemetry received yet. Create an ingest token (`scoreboard token create --name NAME`) and \
                install the settings it prints on the engineers' machines."
            .to_string();
    };
    let mut text = format!(
        "Last telemetry received at {}; {} people or devices reported in the last 24 hours, {} in the last 7 days.",
        last.format("%Y-%m-%d %H:%M UTC"),
        s.people_last_24h_total,
        s.people_last_7d_total
    );
    if s.unattributed_devices > 0 {
        text.push_str(&format!(
            " {} installations send telemetry without an e-mail or account id; their usage cannot be tied to a person \
             until the engineer sets user.email in OTEL_RESOURCE_ATTRIBUTES or the roster lists the installation as an alias \
             (the telemetry roll-out lists each with its alias).",
            s.unattributed_devices
        ));
    }
    text
}

async fn api_not_found() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "no such API route; see /api/health, /api/rows, /api/roster, /api/sources, /api/report",
    )
}

async fn telemetry_not_found() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "telemetry is received on POST /v1/metrics, /v1/logs and /v1/traces",
    )
}

async fn no_page() -> (StatusCode, &'static str) {
    (
        StatusCode::NOT_FOUND,
        "Scoreboard's API is running, but no page is served: start it with --dist DIR (the built app, e.g. `make run`).",
    )
}
