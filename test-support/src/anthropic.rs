//! A fake of Anthropic's APIs, faithful to reference/sources.md §1 and §3:
//! the usage report's `{data, has_more, next_page}` envelope with opaque
//! cursors and both date forms, cents; `/me`; the id-paged `/users` and
//! `/api_keys`; Enterprise Analytics' `/analytics/users` (`{data,
//! next_page}`, nothing before 2026-01-01); the error body
//! `{"type":"error","error":{"type","message"},"request_id"}`, a `request-id`
//! header on every answer, `retry-after` on 429, `x-api-key` and
//! `anthropic-version` checked. Plus scripted faults (status codes, hangs,
//! expired or repeated cursors, redirects, keys echoed back, endless
//! bodies), an optional delay on every answer, and a log of every request.
//!
//! [`Fake::start`] serves on the caller's tokio runtime; [`Fake::spawn`] on a
//! thread of its own, for callers that block (a browser test running the
//! command line while the server syncs).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use chrono::NaiveDate;
use serde_json::{json, Value};

pub const USAGE_PATH: &str = "/v1/organizations/usage_report/claude_code";
pub const ME_PATH: &str = "/v1/organizations/me";
pub const USERS_PATH: &str = "/v1/organizations/users";
pub const API_KEYS_PATH: &str = "/v1/organizations/api_keys";
pub const ANALYTICS_USERS_PATH: &str = "/v1/organizations/analytics/users";

pub const ADMIN_KEY: &str = "sk-ant-admin01-TESTKEY-0123456789abcdef";
pub const ANALYTICS_KEY: &str = "sk-ant-analytics-TESTKEY-fedcba9876543210";

/// `YYYY-MM-DD` as a date.
pub fn day(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
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
    /// `None`: every path (an outage).
    pub path: Option<&'static str>,
    pub day: Option<String>,
    pub only_with_cursor: bool,
    pub fault: Fault,
    pub times: u32,
}

impl Rule {
    pub fn on(path: &'static str, fault: Fault) -> Rule {
        Rule {
            path: Some(path),
            day: None,
            only_with_cursor: false,
            fault,
            times: 1,
        }
    }
    /// On every path: `Rule::everywhere(Fault::Status { status: 500, .. })` is an outage.
    pub fn everywhere(fault: Fault) -> Rule {
        Rule {
            path: None,
            ..Rule::on("", fault)
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

/// The running fake; clones share it.
#[derive(Clone)]
pub struct Fake {
    pub addr: SocketAddr,
    state: Arc<FakeState>,
}

struct FakeState {
    data: Mutex<FakeData>,
    rules: Mutex<Vec<Rule>>,
    hits: Mutex<Vec<Hit>>,
    /// Records per page at most, whatever `limit` asks for.
    page_size: usize,
    /// Added to every answer (a distant upstream).
    delay: Mutex<Duration>,
    request_ids: AtomicU64,
}

impl Fake {
    /// Serves `data`, `page_size` records a page at most, on the caller's runtime.
    pub async fn start(data: FakeData, page_size: usize) -> Fake {
        let state = Arc::new(FakeState {
            data: Mutex::new(data),
            rules: Mutex::new(Vec::new()),
            hits: Mutex::new(Vec::new()),
            page_size,
            delay: Mutex::new(Duration::ZERO),
            request_ids: AtomicU64::new(1),
        });
        let router = Router::new()
            .route(ME_PATH, get(me))
            .route(USAGE_PATH, get(usage))
            .route(USERS_PATH, get(users))
            .route(API_KEYS_PATH, get(api_keys))
            .route(ANALYTICS_USERS_PATH, get(analytics))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Fake { addr, state }
    }

    /// As [`Fake::start`], on a thread and runtime of its own that live as
    /// long as the process: it answers even while the caller blocks.
    pub fn spawn(data: FakeData, page_size: usize) -> Fake {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime for the fake Anthropic API");
            rt.block_on(async move {
                let _ = tx.send(Fake::start(data, page_size).await);
                std::future::pending::<()>().await
            });
        });
        rx.recv().expect("the fake Anthropic API started")
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every answer from now on comes `delay` later.
    pub fn set_delay(&self, delay: Duration) {
        *self.state.delay.lock().unwrap() = delay;
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

    /// Requests per path.
    pub fn count_by_path(&self) -> BTreeMap<String, u64> {
        let mut by_path = BTreeMap::new();
        for h in self.hits() {
            *by_path.entry(h.path).or_insert(0) += 1;
        }
        by_path
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
    let delay = *state.delay.lock().unwrap();
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let day = query.get("starting_at").or(query.get("date")).cloned();
    let fault = {
        let mut rules = state.rules.lock().unwrap();
        let mut found = None;
        for r in rules.iter_mut() {
            let matches = r.path.is_none_or(|p| p == path)
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
            let body = if path == ANALYTICS_USERS_PATH {
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
    if let Err(r) = gate(&s, ME_PATH, &headers, &q, ADMIN_KEY).await {
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
    if let Err(r) = gate(&s, USAGE_PATH, &headers, &q, ADMIN_KEY).await {
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
    if let Err(r) = gate(&s, USERS_PATH, &headers, &q, ADMIN_KEY).await {
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
    if let Err(r) = gate(&s, API_KEYS_PATH, &headers, &q, ADMIN_KEY).await {
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
    if let Err(r) = gate(&s, ANALYTICS_USERS_PATH, &headers, &q, ANALYTICS_KEY).await {
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

// ---- records (sources.md's shapes) ------------------------------------------------

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

/// A member of the organisation, as `/v1/organizations/users` lists one.
pub fn user(id: &str, email: &str, name: &str) -> Value {
    json!({"id": id, "email": email, "name": name, "role": "developer",
           "added_at": "2026-01-05T00:00:00Z", "type": "user"})
}
