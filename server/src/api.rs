//! The HTTP API the page reads (JSON), the built page itself, and the
//! telemetry receiver's routes, all on one origin.
//!
//! | route | answer |
//! |---|---|
//! | `GET /api/health` | `{ok, version, demo, auth_required, sources: {admin_api, enterprise_api, telemetry, roster_file, imports}}` |
//! | `GET /api/rows?from=YYYY-MM-DD&to=YYYY-MM-DD&cursor=C` | `{from, to, rows: [DayRow…], periods: [PeriodRow…], counts: {source: n}, imported: {source: n}, coverage, cursor, delta}` (the exports folder's rows included); JSON, or compact with `Accept: application/vnd.scoreboard.rows`; `ETag`/`If-None-Match` → 304; a delta since `cursor` ([`crate::rows`]) |
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

use axum::extract::{Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::routing::{any, get};
use axum::{middleware, Json, Router};
use scoreboard_core::api::{
    Health, HealthSources, ImportsPart, PersonsPage, RosterAnswer, RosterSource, SourcesAnswer,
    TelemetryPart,
};
use scoreboard_core::Source;
use serde::Deserialize;
use tower_http::compression::{CompressionLayer, CompressionLevel};
use tower_http::services::{ServeDir, ServeFile};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;

use crate::auth;
use crate::error::{blocking, ApiError};
use crate::guard;
use crate::load::load_roster;
use crate::state::AppState;
use crate::sync::ADMIN_DIRECTORY;
use scoreboard_otlp::TelemetryStatus;

pub use crate::rows::MAX_RANGE_DAYS;

/// The whole service. Tests call it with `tower::ServiceExt::oneshot`.
pub fn app(state: AppState) -> Router {
    let reads = Router::new()
        .route("/api/rows", get(crate::rows::rows))
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
    if let Some(t) = state.telemetry() {
        telemetry = telemetry.merge(scoreboard_otlp::router(t.clone()));
    }
    let telemetry = guard::security_headers(telemetry, guard::PAGE_CSP);
    let page = match state.dist() {
        Some(dist) => {
            let index = dist.join("index.html");
            // The build writes `name.br` (brotli -q 11) and `name.gz` (gzip -9)
            // beside each compressible file (scripts/precompress.sh): served as
            // they are when the browser accepts them, with the original file's
            // Content-Type. The CompressionLayer never compresses an answer that
            // already has a Content-Encoding, so it only handles files without
            // a precompressed copy (or a dist/ built without them).
            let index = ServeFile::new(index)
                .precompressed_br()
                .precompressed_gzip();
            let site = ServeDir::new(dist)
                .precompressed_br()
                .precompressed_gzip()
                .fallback(index);
            Router::new()
                .fallback_service(site)
                .layer(compression())
                .layer(middleware::map_response(vary_accept_encoding))
        }
        None => Router::new().fallback(no_page),
    };
    // Only the page may be framed, and only by `frame_ancestors` (embeds).
    let page = guard::page_headers(page, state.frame_ancestors());
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

/// A cache between server and browser must keep the brotli, gzip and plain
/// answers of one URL apart. The CompressionLayer says so on what it
/// compresses; ServeDir does not on the precompressed files it picks.
async fn vary_accept_encoding(mut resp: axum::response::Response) -> axum::response::Response {
    let varies = resp
        .headers()
        .get_all(header::VARY)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.to_ascii_lowercase().contains("accept-encoding"));
    if !varies {
        resp.headers_mut()
            .append(header::VARY, HeaderValue::from_static("accept-encoding"));
    }
    resp
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

/// Open to everyone: it says what kind of server this is, never any data.
async fn health(State(state): State<AppState>) -> Json<Health> {
    Json(Health {
        ok: true,
        version: env!("CARGO_PKG_VERSION").to_string(),
        demo: state.demo(),
        auth_required: !state.read_access().is_open(),
        sources: HealthSources {
            admin_api: state.syncer().configured(Source::AdminApi),
            enterprise_api: state.syncer().configured(Source::EnterpriseApi),
            telemetry: state.telemetry().is_some(),
            roster_file: state.roster_configured(),
            imports: state.imports().configured(),
        },
    })
}

/// The roster file (read again when it changes, so edits show without a
/// restart) merged with the Admin API's users list.
async fn roster(State(state): State<AppState>) -> Result<Json<RosterAnswer>, ApiError> {
    let loaded = load_roster(&state).await?;
    let mut sources = Vec::new();
    if let Some((name, entries)) = loaded.file {
        sources.push(RosterSource {
            name: "file".into(),
            file: Some(name),
            entries,
            fetched_at: None,
        });
    }
    if let Some((fetched_at, entries)) = loaded.directory {
        sources.push(RosterSource {
            name: ADMIN_DIRECTORY.into(),
            file: None,
            entries,
            fetched_at: Some(fetched_at),
        });
    }
    Ok(Json(RosterAnswer {
        entries: loaded.roster.entries().to_vec(),
        problems: loaded.problems,
        conflicts: loaded.roster.conflicts().to_vec(),
        sources,
    }))
}

async fn sources(State(state): State<AppState>) -> Result<Json<SourcesAnswer>, ApiError> {
    let now = state.now();
    state.syncer().nudge(now);
    let syncer = state.syncer().clone();
    let list = blocking(move || syncer.status(now)).await??;
    let refusals = state.refusals().clone();
    let refused = blocking(move || refusals.summary(now)).await??;
    let telemetry = match state.telemetry().cloned() {
        Some(t) => {
            let status = blocking(move || t.status(now)).await?;
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
    let folder = state.imports().clone();
    let folder_name = folder.name();
    let imports = match blocking(move || folder.read(now)).await? {
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
    let Some(t) = state.telemetry().cloned() else {
        return Ok(Json(PersonsPage::default()));
    };
    let after = q.after.unwrap_or_default();
    let limit = q
        .limit
        .unwrap_or(scoreboard_otlp::MAX_LISTED_PERSONS)
        .clamp(1, scoreboard_otlp::MAX_LISTED_PERSONS);
    let page = blocking(move || t.persons(&after, limit))
        .await?
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
