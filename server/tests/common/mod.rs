//! A fake of Anthropic's APIs for the tests, faithful to
//! ../shared/reference/sources.md §1 and §3: the `{data, has_more,
//! next_page}` envelope with opaque cursors, both date forms, cents, the
//! error body `{"type":"error","error":{"type","message"},"request_id"}`, a
//! `request-id` header on every answer, `retry-after` on 429, `x-api-key`
//! and `anthropic-version` checked; plus scripted faults (status codes,
//! hangs, expired cursors) and a log of every request it saw.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use scoreboard_server::api::{app, AppState};
use scoreboard_server::config::{AnthropicConfig, Config, Secrets};
use scoreboard_server::store::Store;
use scoreboard_server::sync::Syncer;
use serde_json::{json, Value};

pub const ADMIN_KEY: &str = "sk-ant-admin01-TESTKEY-0123456789abcdef";
pub const ANALYTICS_KEY: &str = "sk-ant-analytics-TESTKEY-fedcba9876543210";

pub fn day(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

/// 2026-11-20 12:00 UTC, a Friday: "now" in most tests.
pub fn noon(d: &str) -> DateTime<Utc> {
    Utc.from_utc_datetime(&day(d).and_hms_opt(12, 0, 0).unwrap())
}

/// One request the fake received.
#[derive(Debug, Clone)]
pub struct Hit {
    pub path: String,
    pub query: BTreeMap<String, String>,
    pub api_key: Option<String>,
    pub version: Option<String>,
    pub user_agent: Option<String>,
}

impl Hit {
    pub fn q(&self, k: &str) -> Option<&str> {
        self.query.get(k).map(String::as_str)
    }
}

#[derive(Debug, Clone)]
pub enum Fault {
    /// Answer with this status and Anthropic's error body.
    Status {
        status: u16,
        kind: &'static str,
        retry_after: Option<&'static str>,
    },
    /// Wait this long before answering normally.
    Hang(Duration),
    /// 410 for a request that carries a cursor.
    ExpireCursor,
    /// For a request that carries a cursor: an empty page pointing to that
    /// same cursor again (an upstream stuck in a loop).
    RepeatCursor,
    /// Put the caller's key into the error message (a careless upstream).
    EchoKey,
    /// Put the key, cut short, in the message, in `error.type` and in the
    /// `request-id` header.
    EchoKeyEverywhere,
    /// Answer 302 to this URL (plus the request's path).
    Redirect(String),
    /// Answer 200 with a body of this many bytes.
    HugeBody(usize),
}

/// A fault applied to matching requests, `times` times (u32::MAX: always).
#[derive(Debug, Clone)]
pub struct Rule {
    pub path: &'static str,
    pub day: Option<String>,
    pub only_with_cursor: bool,
    pub fault: Fault,
    pub times: u32,
}

impl Rule {
    pub fn on(path: &'static str, fault: Fault) -> Rule {
        Rule {
            path,
            day: None,
            only_with_cursor: false,
            fault,
            times: 1,
        }
    }
    pub fn day(mut self, d: &str) -> Rule {
        self.day = Some(d.to_string());
        self
    }
    pub fn times(mut self, n: u32) -> Rule {
        self.times = n;
        self
    }
    pub fn always(self) -> Rule {
        self.times(u32::MAX)
    }
    pub fn with_cursor(mut self) -> Rule {
        self.only_with_cursor = true;
        self
    }
}

#[derive(Default)]
pub struct FakeData {
    pub org: Option<(String, String)>,
    /// Usage records per day, served `page_size` at a time.
    pub usage: BTreeMap<NaiveDate, Vec<Value>>,
    pub users: Vec<Value>,
    pub api_keys: Vec<Value>,
    /// Enterprise `/analytics/users` records per day.
    pub analytics: BTreeMap<NaiveDate, Vec<Value>>,
}

pub struct Fake {
    pub addr: SocketAddr,
    state: Arc<FakeState>,
}

struct FakeState {
    data: Mutex<FakeData>,
    rules: Mutex<Vec<Rule>>,
    hits: Mutex<Vec<Hit>>,
    page_size: usize,
    request_ids: AtomicU64,
}

impl Fake {
    pub async fn start(data: FakeData, page_size: usize) -> Fake {
        let state = Arc::new(FakeState {
            data: Mutex::new(data),
            rules: Mutex::new(Vec::new()),
            hits: Mutex::new(Vec::new()),
            page_size,
            request_ids: AtomicU64::new(1),
        });
        let router = Router::new()
            .route("/v1/organizations/me", get(me))
            .route("/v1/organizations/usage_report/claude_code", get(usage))
            .route("/v1/organizations/users", get(users))
            .route("/v1/organizations/api_keys", get(api_keys))
            .route("/v1/organizations/analytics/users", get(analytics))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Fake { addr, state }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn add_rule(&self, rule: Rule) {
        self.state.rules.lock().unwrap().push(rule);
    }

    pub fn clear_rules(&self) {
        self.state.rules.lock().unwrap().clear();
    }

    pub fn hits(&self) -> Vec<Hit> {
        self.state.hits.lock().unwrap().clone()
    }

    pub fn clear_hits(&self) {
        self.state.hits.lock().unwrap().clear();
    }

    /// Requests to `path` (and for `day`, when given).
    pub fn count(&self, path: &str, day: Option<&str>) -> usize {
        self.hits()
            .iter()
            .filter(|h| {
                h.path == path && day.is_none_or(|d| h.q("starting_at").or(h.q("date")) == Some(d))
            })
            .count()
    }

    pub fn with_data(&self, f: impl FnOnce(&mut FakeData)) {
        f(&mut self.state.data.lock().unwrap());
    }
}

fn error(
    state: &FakeState,
    status: u16,
    kind: &str,
    message: &str,
    retry_after: Option<&str>,
) -> Response {
    let id = format!(
        "req_fake{:06}",
        state.request_ids.fetch_add(1, Ordering::Relaxed)
    );
    let body =
        json!({"type": "error", "error": {"type": kind, "message": message}, "request_id": id});
    let mut resp = (StatusCode::from_u16(status).unwrap(), Json(body)).into_response();
    resp.headers_mut()
        .insert("request-id", HeaderValue::from_str(&id).unwrap());
    if let Some(r) = retry_after {
        resp.headers_mut()
            .insert("retry-after", HeaderValue::from_str(r).unwrap());
    }
    resp
}

fn ok(state: &FakeState, body: Value) -> Response {
    let id = format!(
        "req_fake{:06}",
        state.request_ids.fetch_add(1, Ordering::Relaxed)
    );
    let mut resp = Json(body).into_response();
    resp.headers_mut()
        .insert("request-id", HeaderValue::from_str(&id).unwrap());
    resp
}

/// Logs the request, checks the headers, applies a matching fault.
/// `Err` is the answer to send instead of the normal one.
async fn gate(
    state: &FakeState,
    path: &'static str,
    headers: &HeaderMap,
    query: &BTreeMap<String, String>,
    key: &str,
) -> Result<(), Response> {
    let h = |n: &str| {
        headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let hit = Hit {
        path: path.to_string(),
        query: query.clone(),
        api_key: h("x-api-key"),
        version: h("anthropic-version"),
        user_agent: h("user-agent"),
    };
    state.hits.lock().unwrap().push(hit.clone());
    let day = query.get("starting_at").or(query.get("date")).cloned();
    let fault = {
        let mut rules = state.rules.lock().unwrap();
        let mut found = None;
        for r in rules.iter_mut() {
            let matches = r.path == path
                && r.times > 0
                && (r.day.is_none() || r.day == day)
                && (!r.only_with_cursor || query.contains_key("page"));
            if matches {
                if r.times != u32::MAX {
                    r.times -= 1;
                }
                found = Some(r.fault.clone());
                break;
            }
        }
        found
    };
    match fault {
        Some(Fault::Status {
            status,
            kind,
            retry_after,
        }) => return Err(error(state, status, kind, "scripted failure", retry_after)),
        Some(Fault::Hang(d)) => tokio::time::sleep(d).await,
        Some(Fault::ExpireCursor) if query.contains_key("page") => {
            return Err(error(
                state,
                410,
                "invalid_request_error",
                "the page cursor has expired",
                None,
            ))
        }
        Some(Fault::RepeatCursor) if query.contains_key("page") => {
            let page = query.get("page").cloned();
            let body = if path == "/v1/organizations/analytics/users" {
                json!({"data": [], "next_page": page})
            } else {
                json!({"data": [], "has_more": true, "next_page": page})
            };
            return Err(ok(state, body));
        }
        Some(Fault::EchoKeyEverywhere) => {
            let key = hit.api_key.clone().unwrap_or_default();
            let short: String = key.chars().take(20).collect();
            let body = json!({"type": "error",
                "error": {"type": format!("{key}_error"), "message": format!("key {short}… is not allowed")},
                "request_id": key});
            let mut resp = (StatusCode::FORBIDDEN, Json(body)).into_response();
            resp.headers_mut().insert(
                "request-id",
                HeaderValue::from_str(&format!("req_{key}")).unwrap(),
            );
            return Err(resp);
        }
        Some(Fault::Redirect(to)) => {
            let mut resp = StatusCode::FOUND.into_response();
            resp.headers_mut().insert(
                "location",
                HeaderValue::from_str(&format!("{to}{path}")).unwrap(),
            );
            return Err(resp);
        }
        Some(Fault::HugeBody(n)) => {
            let chunk = bytes_of(64 * 1024);
            let chunks = n.div_ceil(chunk.len());
            let stream = futures_util::stream::iter(
                (0..chunks).map(move |_| Ok::<_, std::io::Error>(chunk.clone())),
            );
            return Err((StatusCode::OK, axum::body::Body::from_stream(stream)).into_response());
        }
        Some(Fault::EchoKey) => {
            let msg = format!(
                "invalid x-api-key: {}",
                hit.api_key.clone().unwrap_or_default()
            );
            return Err(error(state, 401, "authentication_error", &msg, None));
        }
        _ => {}
    }
    if hit.version.as_deref() != Some("2023-06-01") {
        return Err(error(
            state,
            400,
            "invalid_request_error",
            "anthropic-version header is required",
            None,
        ));
    }
    if hit.api_key.as_deref() != Some(key) {
        return Err(error(
            state,
            401,
            "authentication_error",
            "invalid x-api-key",
            None,
        ));
    }
    Ok(())
}

fn bytes_of(n: usize) -> axum::body::Bytes {
    axum::body::Bytes::from(vec![b' '; n])
}

/// Where the `page` cursor of a request for day `d` points.
#[allow(clippy::result_large_err)] // a test fake answering with the error response
fn page_offset(s: &FakeState, q: &BTreeMap<String, String>, d: &str) -> Result<usize, Response> {
    match q.get("page") {
        None => Ok(0),
        Some(p) => match uncursor(p) {
            Some((pd, o)) if pd == d => Ok(o),
            _ => Err(error(
                s,
                400,
                "invalid_request_error",
                "page: invalid cursor",
                None,
            )),
        },
    }
}

/// Cursors are opaque to the client: base64-ish of day and offset.
fn cursor(day: &str, offset: usize) -> String {
    format!("page_{}", hex(&format!("{day}|{offset}")))
}

fn hex(s: &str) -> String {
    s.bytes().map(|b| format!("{b:02x}")).collect()
}

fn uncursor(c: &str) -> Option<(String, usize)> {
    let h = c.strip_prefix("page_")?;
    let bytes: Vec<u8> = (0..h.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&h[i..i + 2], 16).ok())
        .collect::<Option<_>>()?;
    let s = String::from_utf8(bytes).ok()?;
    let (d, o) = s.split_once('|')?;
    Some((d.to_string(), o.parse().ok()?))
}

async fn me(
    State(s): State<Arc<FakeState>>,
    headers: HeaderMap,
    Query(q): Query<BTreeMap<String, String>>,
) -> Response {
    if let Err(r) = gate(&s, "/v1/organizations/me", &headers, &q, ADMIN_KEY).await {
        return r;
    }
    let org = s.data.lock().unwrap().org.clone();
    match org {
        Some((id, name)) => ok(&s, json!({"id": id, "name": name, "type": "organization"})),
        None => error(&s, 404, "not_found_error", "organization not found", None),
    }
}

async fn usage(
    State(s): State<Arc<FakeState>>,
    headers: HeaderMap,
    Query(q): Query<BTreeMap<String, String>>,
) -> Response {
    if let Err(r) = gate(
        &s,
        "/v1/organizations/usage_report/claude_code",
        &headers,
        &q,
        ADMIN_KEY,
    )
    .await
    {
        return r;
    }
    let Some(d) = q.get("starting_at").cloned() else {
        return error(
            &s,
            400,
            "invalid_request_error",
            "starting_at: Field required",
            None,
        );
    };
    let Ok(date) = NaiveDate::parse_from_str(&d, "%Y-%m-%d") else {
        return error(
            &s,
            400,
            "invalid_request_error",
            "starting_at: must match ^\\d{4}-\\d{2}-\\d{2}$",
            None,
        );
    };
    let limit: usize = match q.get("limit").map(|l| l.parse::<usize>()) {
        None => 20,
        Some(Ok(l)) if (1..=1000).contains(&l) => l,
        _ => {
            return error(
                &s,
                400,
                "invalid_request_error",
                "limit: must be between 1 and 1000",
                None,
            )
        }
    };
    let offset = match page_offset(&s, &q, &d) {
        Ok(o) => o,
        Err(r) => return r,
    };
    let all = s
        .data
        .lock()
        .unwrap()
        .usage
        .get(&date)
        .cloned()
        .unwrap_or_default();
    let take = limit.min(s.page_size);
    let end = (offset + take).min(all.len());
    let data: Vec<Value> = all[offset.min(all.len())..end].to_vec();
    let has_more = end < all.len();
    ok(
        &s,
        json!({"data": data, "has_more": has_more, "next_page": if has_more { Value::String(cursor(&d, end)) } else { Value::Null }}),
    )
}

fn id_page(s: &FakeState, all: &[Value], q: &BTreeMap<String, String>) -> Response {
    let limit: usize = q
        .get("limit")
        .and_then(|l| l.parse().ok())
        .unwrap_or(20)
        .min(s.page_size);
    let start = match q.get("after_id") {
        None => 0,
        Some(a) => all
            .iter()
            .position(|v| v["id"] == *a)
            .map(|i| i + 1)
            .unwrap_or(all.len()),
    };
    let end = (start + limit).min(all.len());
    let data = all[start..end].to_vec();
    ok(
        s,
        json!({
            "data": data,
            "first_id": data.first().map(|v| v["id"].clone()),
            "last_id": data.last().map(|v| v["id"].clone()),
            "has_more": end < all.len(),
        }),
    )
}

async fn users(
    State(s): State<Arc<FakeState>>,
    headers: HeaderMap,
    Query(q): Query<BTreeMap<String, String>>,
) -> Response {
    if let Err(r) = gate(&s, "/v1/organizations/users", &headers, &q, ADMIN_KEY).await {
        return r;
    }
    let all = s.data.lock().unwrap().users.clone();
    id_page(&s, &all, &q)
}

async fn api_keys(
    State(s): State<Arc<FakeState>>,
    headers: HeaderMap,
    Query(q): Query<BTreeMap<String, String>>,
) -> Response {
    if let Err(r) = gate(&s, "/v1/organizations/api_keys", &headers, &q, ADMIN_KEY).await {
        return r;
    }
    let all = s.data.lock().unwrap().api_keys.clone();
    id_page(&s, &all, &q)
}

async fn analytics(
    State(s): State<Arc<FakeState>>,
    headers: HeaderMap,
    Query(q): Query<BTreeMap<String, String>>,
) -> Response {
    if let Err(r) = gate(
        &s,
        "/v1/organizations/analytics/users",
        &headers,
        &q,
        ANALYTICS_KEY,
    )
    .await
    {
        return r;
    }
    let Some(date) = q
        .get("date")
        .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
    else {
        return error(
            &s,
            400,
            "invalid_request_error",
            "date: required, YYYY-MM-DD",
            None,
        );
    };
    if date < day("2026-01-01") {
        return error(
            &s,
            400,
            "invalid_request_error",
            "date: data is available from 2026-01-01",
            None,
        );
    }
    let d = date.to_string();
    let offset = match page_offset(&s, &q, &d) {
        Ok(o) => o,
        Err(r) => return r,
    };
    let all = s
        .data
        .lock()
        .unwrap()
        .analytics
        .get(&date)
        .cloned()
        .unwrap_or_default();
    let limit: usize = q
        .get("limit")
        .and_then(|l| l.parse().ok())
        .unwrap_or(20)
        .min(s.page_size);
    let end = (offset + limit).min(all.len());
    let data = all[offset.min(all.len())..end].to_vec();
    let next = if end < all.len() {
        Value::String(cursor(&d, end))
    } else {
        Value::Null
    };
    ok(&s, json!({"data": data, "next_page": next}))
}

// ---- records -------------------------------------------------------------------

/// An Admin API record. `date_form`: "day" → `2026-11-18`, "rfc3339" → `2026-11-18T00:00:00Z`.
pub fn user_record(
    d: &str,
    date_form: &str,
    email: &str,
    sessions: u64,
    lines: u64,
    cents: f64,
) -> Value {
    record(
        d,
        date_form,
        json!({"type": "user_actor", "email_address": email}),
        "api",
        sessions,
        lines,
        cents,
    )
}

pub fn key_record(d: &str, key_name: &str, sessions: u64, lines: u64, cents: f64) -> Value {
    record(
        d,
        "rfc3339",
        json!({"type": "api_actor", "api_key_name": key_name}),
        "api",
        sessions,
        lines,
        cents,
    )
}

pub fn record(
    d: &str,
    date_form: &str,
    actor: Value,
    customer_type: &str,
    sessions: u64,
    lines: u64,
    cents: f64,
) -> Value {
    let date = if date_form == "day" {
        d.to_string()
    } else {
        format!("{d}T00:00:00Z")
    };
    json!({
        "date": date,
        "actor": actor,
        "organization_id": "11111111-2222-3333-4444-555555555555",
        "customer_type": customer_type,
        "subscription_type": if customer_type == "subscription" { json!("team") } else { Value::Null },
        "terminal_type": "vscode",
        "is_remote": false,
        "core_metrics": {
            "num_sessions": sessions,
            "lines_of_code": {"added": lines, "removed": lines / 10},
            "commits_by_claude_code": 1,
            "pull_requests_by_claude_code": 0
        },
        "tool_actions": {
            "edit_tool": {"accepted": 8, "rejected": 2},
            "write_tool": {"accepted": 1, "rejected": 0},
            "future_tool": {"accepted": 1, "rejected": 1}
        },
        "model_breakdown": [{
            "model": "claude-opus-5",
            "tokens": {"input": 1000, "output": 200, "cache_read": 5000, "cache_creation": 300},
            "estimated_cost": {"currency": "USD", "amount": cents}
        }]
    })
}

pub fn analytics_record(email: &str, id: &str, sessions: u64, lines: u64) -> Value {
    json!({
        "user": {"id": id, "email_address": email, "type": "user"},
        "last_activity_date": "2026-01-02",
        "claude_code_metrics": {
            "core_metrics": {"commit_count": 2, "distinct_session_count": sessions,
                             "lines_of_code": {"added_count": lines, "removed_count": 1},
                             "pull_request_count": 1},
            "tool_actions": {"edit_tool": {"accepted_count": 5, "rejected_count": 1},
                             "multi_edit_tool": {"accepted_count": 0, "rejected_count": 0},
                             "notebook_edit_tool": {"accepted_count": 0, "rejected_count": 0},
                             "write_tool": {"accepted_count": 2, "rejected_count": 0}}
        },
        "chat_metrics": {"message_count": 3, "distinct_conversation_count": 1},
        "web_search_count": 0
    })
}

// ---- the server side -------------------------------------------------------------

/// A port nothing listens on now (for the real binary's `--listen`).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The `scoreboard` binary with none of the caller's `SCOREBOARD_*` or
/// `ANTHROPIC_*` variables (`make test` sets SCOREBOARD_DIST, for one).
pub fn scoreboard_command() -> std::process::Command {
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_scoreboard"));
    for (k, _) in std::env::vars_os() {
        let k = k.to_string_lossy().to_string();
        if k.starts_with("SCOREBOARD_") || k.starts_with("ANTHROPIC_") {
            c.env_remove(k);
        }
    }
    c
}

/// `scoreboard serve` on 127.0.0.1:`port` with its database in `dir`.
pub fn serve_command(port: u16, dir: &Path) -> std::process::Command {
    let mut c = scoreboard_command();
    c.args([
        "serve",
        "--listen",
        &format!("127.0.0.1:{port}"),
        "--data-dir",
    ])
    .arg(dir);
    c
}

/// Settings for tests: short timeouts and backoffs, so nothing sleeps for seconds.
pub fn test_config(fake: &Fake, data_dir: &Path) -> Config {
    let anthropic = AnthropicConfig {
        base_url: fake.url(),
        sync_interval: Duration::from_secs(900),
        backfill_days: 3,
        concurrency: 4,
        request_timeout: Duration::from_millis(300),
        max_retries: 3,
        retry_min_delay: Duration::from_millis(1),
        retry_max_delay: Duration::from_millis(10),
        retry_after_max: Duration::from_secs(5),
        breaker_threshold: 50,
        breaker_cooldown: Duration::from_millis(200),
        page_limit: 1000,
        max_response_bytes: 32 * 1024 * 1024,
    };
    let secrets = Secrets::from_lookup(|n| match n {
        "ANTHROPIC_ADMIN_API_KEY" => Some(ADMIN_KEY.to_string()),
        _ => None,
    });
    Config {
        data_dir: data_dir.to_path_buf(),
        anthropic,
        secrets,
        ..Config::default()
    }
}

pub struct Harness {
    pub store: Arc<Store>,
    pub syncer: Arc<Syncer>,
    pub state: AppState,
    pub config: Config,
    now: Arc<Mutex<DateTime<Utc>>>,
}

impl Harness {
    /// The API's clock starts at [`noon`] of 2026-11-20; see [`Harness::set_now`].
    pub fn new(config: Config) -> Harness {
        Harness::with_telemetry(config, None)
    }

    pub fn with_telemetry(
        config: Config,
        telemetry: Option<Arc<scoreboard_otlp::Receiver>>,
    ) -> Harness {
        let store = Arc::new(Store::open(&config.db_path()).unwrap());
        let syncer = Arc::new(Syncer::new(&config, store.clone()).unwrap());
        let now = Arc::new(Mutex::new(noon("2026-11-20")));
        let clock_now = now.clone();
        let clock: scoreboard_server::api::Clock = Arc::new(move || *clock_now.lock().unwrap());
        let state = AppState::with_clock(&config, store.clone(), syncer.clone(), telemetry, clock);
        Harness {
            store,
            syncer,
            state,
            config,
            now,
        }
    }

    /// Around a state built elsewhere (its own clock).
    pub fn with_state(state: AppState, config: Config) -> Harness {
        let store = state.store().clone();
        let syncer = state.syncer().clone();
        Harness {
            store,
            syncer,
            state,
            config,
            now: Arc::new(Mutex::new(Utc::now())),
        }
    }

    pub fn set_now(&self, t: DateTime<Utc>) {
        *self.now.lock().unwrap() = t;
    }

    /// GET `uri` through the service (no socket); status and body text.
    pub async fn get(&self, uri: &str, headers: &[(&str, &str)]) -> (StatusCode, String) {
        self.request("GET", uri, headers, Vec::new()).await
    }

    pub async fn request(
        &self,
        method: &str,
        uri: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> (StatusCode, String) {
        use tower::ServiceExt;
        let mut req = axum::http::Request::builder().method(method).uri(uri);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let resp = app(self.state.clone())
            .oneshot(req.body(axum::body::Body::from(body)).unwrap())
            .await
            .unwrap();
        let status = resp.status();
        let bytes = http_body_util::BodyExt::collect(resp.into_body())
            .await
            .unwrap()
            .to_bytes();
        (status, String::from_utf8_lossy(&bytes).to_string())
    }

    pub async fn get_json(&self, uri: &str) -> Value {
        let (status, body) = self.get(uri, &[]).await;
        assert_eq!(status, StatusCode::OK, "{uri}: {body}");
        serde_json::from_str(&body).unwrap()
    }

    /// GET with `Authorization: <auth>` (e.g. "Bearer sbv_…").
    pub async fn get_json_as(&self, uri: &str, auth: &str) -> Value {
        let (status, body) = self.get(uri, &[("authorization", auth)]).await;
        assert_eq!(status, StatusCode::OK, "{uri}: {body}");
        serde_json::from_str(&body).unwrap()
    }
}

/// The `/api/sources` entry of one source.
pub fn source_status(sources: &Value, name: &str) -> Value {
    sources["sources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["source"] == name)
        .cloned()
        .unwrap()
}
