//! Admin API backfill: the real `scoreboard serve` against a fake Anthropic
//! Admin API (the envelope, cursors, headers and records of
//! `server/tests/common`, faithful to reference/sources.md) that adds 100 ms to
//! every answer. 90 days × 500 people; then the page's API answered from the store.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use chrono::{Days, NaiveDate, Utc};
use serde_json::{json, Value};

use crate::proc::Server;
use crate::stats::{median, percentile};
use crate::{ctx, Result};

pub const ADMIN_KEY: &str = "sk-ant-admin01-BENCHKEY-0123456789abcdef";
pub const PAGE_MAX: usize = 1000;

struct Fake {
    delay: Duration,
    usage: BTreeMap<NaiveDate, Vec<Value>>,
    users: Vec<Value>,
    requests: AtomicU64,
    by_path: std::sync::Mutex<BTreeMap<&'static str, u64>>,
}

fn answer(s: &Fake, status: StatusCode, body: Value) -> Response {
    let n = s.requests.fetch_add(1, Ordering::Relaxed);
    let mut resp = (status, Json(body)).into_response();
    if let Ok(v) = HeaderValue::from_str(&format!("req_bench{n:06}")) {
        resp.headers_mut().insert("request-id", v);
    }
    resp
}

fn error(s: &Fake, status: StatusCode, kind: &str, message: &str) -> Response {
    answer(
        s,
        status,
        json!({"type": "error", "error": {"type": kind, "message": message}, "request_id": "req_bench"}),
    )
}

/// Counts the request, waits the upstream's 100 ms, checks the key and version.
async fn gate(s: &Fake, path: &'static str, headers: &HeaderMap) -> Option<Response> {
    if let Ok(mut m) = s.by_path.lock() {
        *m.entry(path).or_insert(0) += 1;
    }
    tokio::time::sleep(s.delay).await;
    let h = |n: &str| headers.get(n).and_then(|v| v.to_str().ok());
    if h("anthropic-version") != Some("2023-06-01") {
        return Some(error(
            s,
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            "anthropic-version header is required",
        ));
    }
    if h("x-api-key") != Some(ADMIN_KEY) {
        return Some(error(
            s,
            StatusCode::UNAUTHORIZED,
            "authentication_error",
            "invalid x-api-key",
        ));
    }
    None
}

fn cursor(day: &str, offset: usize) -> String {
    let hex: String = format!("{day}|{offset}")
        .bytes()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("page_{hex}")
}

fn uncursor(c: &str) -> Option<(String, usize)> {
    let h = c.strip_prefix("page_")?;
    let bytes: Vec<u8> = (0..h.len())
        .step_by(2)
        .map(|i| h.get(i..i + 2).and_then(|x| u8::from_str_radix(x, 16).ok()))
        .collect::<Option<_>>()?;
    let s = String::from_utf8(bytes).ok()?;
    let (d, o) = s.split_once('|')?;
    Some((d.to_string(), o.parse().ok()?))
}

fn limit(q: &BTreeMap<String, String>) -> usize {
    q.get("limit")
        .and_then(|l| l.parse().ok())
        .unwrap_or(20)
        .clamp(1, PAGE_MAX)
}

async fn me(State(s): State<Arc<Fake>>, headers: HeaderMap) -> Response {
    if let Some(r) = gate(&s, "/v1/organizations/me", &headers).await {
        return r;
    }
    answer(
        &s,
        StatusCode::OK,
        json!({"id": "11111111-2222-3333-4444-555555555555", "name": "Bench Org", "type": "organization"}),
    )
}

async fn usage_handler(
    State(s): State<Arc<Fake>>,
    headers: HeaderMap,
    Query(q): Query<BTreeMap<String, String>>,
) -> Response {
    if let Some(r) = gate(&s, "/v1/organizations/usage_report/claude_code", &headers).await {
        return r;
    }
    let Some(d) = q.get("starting_at").cloned() else {
        return error(
            &s,
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            "starting_at: Field required",
        );
    };
    let Ok(date) = NaiveDate::parse_from_str(&d, "%Y-%m-%d") else {
        return error(
            &s,
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            "starting_at: must match ^\\d{4}-\\d{2}-\\d{2}$",
        );
    };
    let offset = match q.get("page").map(|p| uncursor(p)) {
        None => 0,
        Some(Some((pd, o))) if pd == d => o,
        Some(_) => {
            return error(
                &s,
                StatusCode::BAD_REQUEST,
                "invalid_request_error",
                "page: invalid cursor",
            )
        }
    };
    let empty = Vec::new();
    let all = s.usage.get(&date).unwrap_or(&empty);
    let end = (offset + limit(&q)).min(all.len());
    let data = all
        .get(offset.min(all.len())..end)
        .unwrap_or_default()
        .to_vec();
    let has_more = end < all.len();
    answer(
        &s,
        StatusCode::OK,
        json!({"data": data, "has_more": has_more, "next_page": if has_more { Value::String(cursor(&d, end)) } else { Value::Null }}),
    )
}

fn id_page(s: &Fake, all: &[Value], q: &BTreeMap<String, String>) -> Response {
    let start = match q.get("after_id") {
        None => 0,
        Some(a) => all
            .iter()
            .position(|v| v["id"] == *a)
            .map_or(all.len(), |i| i + 1),
    };
    let end = (start + limit(q)).min(all.len());
    let data = all.get(start..end).unwrap_or_default().to_vec();
    answer(
        s,
        StatusCode::OK,
        json!({
            "data": data,
            "first_id": data.first().map(|v| v["id"].clone()),
            "last_id": data.last().map(|v| v["id"].clone()),
            "has_more": end < all.len(),
        }),
    )
}

async fn users_handler(
    State(s): State<Arc<Fake>>,
    headers: HeaderMap,
    Query(q): Query<BTreeMap<String, String>>,
) -> Response {
    if let Some(r) = gate(&s, "/v1/organizations/users", &headers).await {
        return r;
    }
    id_page(&s, &s.users, &q)
}

async fn api_keys(
    State(s): State<Arc<Fake>>,
    headers: HeaderMap,
    Query(q): Query<BTreeMap<String, String>>,
) -> Response {
    if let Some(r) = gate(&s, "/v1/organizations/api_keys", &headers).await {
        return r;
    }
    id_page(&s, &[], &q)
}

/// An Admin API Claude Code usage record of one user on one day.
fn record(day: NaiveDate, email: &str, i: u64) -> Value {
    json!({
        "date": format!("{day}T00:00:00Z"),
        "actor": {"type": "user_actor", "email_address": email},
        "organization_id": "11111111-2222-3333-4444-555555555555",
        "customer_type": "api",
        "subscription_type": Value::Null,
        "terminal_type": "vscode",
        "is_remote": false,
        "core_metrics": {
            "num_sessions": 1 + i % 7,
            "lines_of_code": {"added": 40 + i % 300, "removed": i % 40},
            "commits_by_claude_code": i % 3,
            "pull_requests_by_claude_code": u64::from(i.is_multiple_of(5))
        },
        "tool_actions": {
            "edit_tool": {"accepted": 8 + i % 9, "rejected": i % 3},
            "write_tool": {"accepted": 1, "rejected": 0},
            "multi_edit_tool": {"accepted": i % 2, "rejected": 0},
            "notebook_edit_tool": {"accepted": 0, "rejected": 0}
        },
        "model_breakdown": [{
            "model": "claude-opus-5",
            "tokens": {"input": 1000 + i, "output": 200, "cache_read": 5000, "cache_creation": 300},
            "estimated_cost": {"currency": "USD", "amount": 150.0 + (i % 400) as f64}
        }]
    })
}

pub struct Settings {
    pub days: u32,
    pub people: usize,
    pub delay: Duration,
    pub api_requests: usize,
}

pub async fn run(bin: &Path, s: &Settings) -> Result<Value> {
    let today = Utc::now().date_naive();
    let mut usage = BTreeMap::new();
    let mut n = 0u64;
    for back in 0..u64::from(s.days) {
        let day = today - Days::new(back);
        let recs: Vec<Value> = (0..s.people)
            .map(|p| {
                n += 1;
                record(day, &crate::ingest::email(p), n)
            })
            .collect();
        usage.insert(day, recs);
    }
    let users: Vec<Value> = (0..s.people)
        .map(|p| json!({"id": format!("user_{p:06}"), "type": "user", "email": crate::ingest::email(p), "name": format!("Engineer {p}"), "role": "user", "added_at": "2026-01-05T09:00:00Z"}))
        .collect();
    let fake = Arc::new(Fake {
        delay: s.delay,
        usage,
        users,
        requests: AtomicU64::new(0),
        by_path: std::sync::Mutex::new(BTreeMap::new()),
    });
    let router = Router::new()
        .route("/v1/organizations/me", get(me))
        .route(
            "/v1/organizations/usage_report/claude_code",
            get(usage_handler),
        )
        .route("/v1/organizations/users", get(users_handler))
        .route("/v1/organizations/api_keys", get(api_keys))
        .with_state(fake.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(ctx("bind the fake upstream"))?;
    let upstream = format!("http://{}", listener.local_addr().map_err(ctx("address"))?);
    let fake_task = tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });

    let data = tempfile::tempdir().map_err(ctx("data dir"))?;
    std::fs::write(
        data.path().join("bench.toml"),
        format!("[anthropic]\nbackfill_days = {}\n", s.days),
    )
    .map_err(ctx("config"))?;
    let config = data.path().join("bench.toml");
    let t0 = Instant::now();
    let server = Server::start(bin, data.path(), None, |c| {
        c.env("ANTHROPIC_ADMIN_API_KEY", ADMIN_KEY)
            .arg("--anthropic-base-url")
            .arg(&upstream)
            .arg("--config")
            .arg(&config);
    })?;
    let want_rows = s.days as u64 * s.people as u64;
    let client = reqwest::Client::new();
    let sources_url = server.url("/api/sources");
    let mut last = Value::Null;
    let done = loop {
        if let Ok(r) = client.get(&sources_url).send().await {
            if let Ok(v) = r.json::<Value>().await {
                let admin = v["sources"]
                    .as_array()
                    .and_then(|a| a.iter().find(|x| x["source"] == "admin-api").cloned())
                    .unwrap_or(Value::Null);
                let rows = admin["rows"].as_u64().unwrap_or(0);
                if rows >= want_rows
                    && admin["syncing"] == false
                    && !admin["last_success"].is_null()
                {
                    break Some(t0.elapsed());
                }
                last = admin;
            }
        }
        if t0.elapsed() > Duration::from_secs(180) {
            break None;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let backfill =
        done.ok_or_else(|| format!("backfill did not finish in 180 s; last status {last}"))?;
    let by_path = fake.by_path.lock().map(|m| m.clone()).unwrap_or_default();
    let requests: u64 = by_path.values().sum();

    // The page's API from the store: the default range (the backfill window).
    let rows_url = server.url("/api/rows");
    let mut times = Vec::new();
    let mut bytes = 0usize;
    let mut count = 0usize;
    for _ in 0..s.api_requests {
        let t = Instant::now();
        let r = client.get(&rows_url).send().await.map_err(ctx(&rows_url))?;
        let body = r.bytes().await.map_err(ctx(&rows_url))?;
        times.push(t.elapsed().as_secs_f64() * 1000.0);
        bytes = body.len();
        if count == 0 {
            count = serde_json::from_slice::<Value>(&body)
                .ok()
                .and_then(|v| v["rows"].as_array().map(Vec::len))
                .unwrap_or(0);
        }
    }
    let mut small = Vec::new();
    let week_url = server.url(&format!(
        "/api/rows?from={}&to={today}",
        today - Days::new(6)
    ));
    for _ in 0..s.api_requests {
        let t = Instant::now();
        let r = client.get(&week_url).send().await.map_err(ctx(&week_url))?;
        let _ = r.bytes().await;
        small.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    let mut src = Vec::new();
    let sources_url = server.url("/api/sources");
    for _ in 0..s.api_requests {
        let t = Instant::now();
        let r = client
            .get(&sources_url)
            .send()
            .await
            .map_err(ctx(&sources_url))?;
        let _ = r.bytes().await;
        src.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    let mem = server.process.memory()?;
    drop(server);
    fake_task.abort();
    Ok(json!({
        "days": s.days,
        "people": s.people,
        "upstream_delay_ms": s.delay.as_millis() as u64,
        "page_limit": PAGE_MAX,
        "backfill_seconds": backfill.as_secs_f64(),
        "requests": requests,
        "requests_by_path": by_path,
        "rows_stored": want_rows,
        "api_rows": {
            "url": "/api/rows (default range: the 90-day backfill window)",
            "rows": count,
            "bytes": bytes,
            "p50_ms": median(&times),
            "p99_ms": percentile(&times, 99.0),
            "requests": times.len(),
        },
        "api_rows_one_week": {"p50_ms": median(&small), "p99_ms": percentile(&small, 99.0)},
        "api_sources": {"p50_ms": median(&src), "p99_ms": percentile(&src, 99.0)},
        "server_rss_bytes": mem.rss_bytes,
    }))
}
