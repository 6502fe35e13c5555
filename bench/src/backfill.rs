//! Admin API backfill: the real `scoreboard serve` against the tests' fake
//! Anthropic Admin API (`scoreboard_test_support::anthropic`, faithful to
//! reference/sources.md) with 100 ms added to every answer. 90 days × 500 people; then the page's API answered from the store.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use chrono::{Days, NaiveDate, Utc};
use scoreboard_test_support::anthropic::{user, user_record, Fake, FakeData, ADMIN_KEY};
use serde_json::{json, Value};

use crate::proc::Server;
use crate::stats::{median, percentile};
use crate::{ctx, Result};

/// Records a page: the most the API gives, and what the server asks for.
pub const PAGE_MAX: usize = 1000;

/// An Admin API Claude Code usage record of one user on one day, its figures varied by `i`.
pub(crate) fn record(day: NaiveDate, email: &str, i: u64) -> Value {
    let mut r = user_record(
        &day.to_string(),
        "rfc3339",
        email,
        1 + i % 7,
        40 + i % 300,
        150.0 + (i % 400) as f64,
    );
    let core = &mut r["core_metrics"];
    core["lines_of_code"]["removed"] = json!(i % 40);
    core["commits_by_claude_code"] = json!(i % 3);
    core["pull_requests_by_claude_code"] = json!(u64::from(i.is_multiple_of(5)));
    r["tool_actions"] = json!({
        "edit_tool": {"accepted": 8 + i % 9, "rejected": i % 3},
        "write_tool": {"accepted": 1, "rejected": 0},
        "multi_edit_tool": {"accepted": i % 2, "rejected": 0},
        "notebook_edit_tool": {"accepted": 0, "rejected": 0}
    });
    r["model_breakdown"][0]["tokens"]["input"] = json!(1000 + i);
    r
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
        .map(|p| {
            user(
                &format!("user_{p:06}"),
                &crate::ingest::email(p),
                &format!("Engineer {p}"),
            )
        })
        .collect();
    let data = FakeData {
        org: Some((
            "11111111-2222-3333-4444-555555555555".into(),
            "Bench Org".into(),
        )),
        usage,
        users,
        ..FakeData::default()
    };
    let fake = Fake::start(data, PAGE_MAX).await;
    fake.set_delay(s.delay);
    let upstream = fake.url();

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
    let by_path = fake.count_by_path();
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
    let wire = wire(&client, &rows_url).await?;
    let mem = server.process.memory()?;
    drop(server);
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
        "rows_wire": wire,
        "server_rss_bytes": mem.rss_bytes,
    }))
}

/// One GET of `url` with `headers`: the status, the response headers'
/// size (as HTTP/1.1 writes them) and the body as sent (reqwest here does
/// not decompress, so a compressed body is measured as it travelled).
async fn fetch(
    client: &reqwest::Client,
    url: &str,
    headers: &[(&str, &str)],
) -> Result<(u16, usize, Vec<u8>, Option<String>)> {
    let mut req = client.get(url);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let r = req.send().await.map_err(ctx(url))?;
    let status = r.status().as_u16();
    let head = "HTTP/1.1 200 OK\r\n".len()
        + r.headers()
            .iter()
            .map(|(k, v)| k.as_str().len() + 2 + v.len() + 2)
            .sum::<usize>()
        + 2;
    let etag = r
        .headers()
        .get("etag")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let body = r.bytes().await.map_err(ctx(url))?.to_vec();
    Ok((status, head, body, etag))
}

/// The page's answer of the default range, per row: JSON against core's
/// compact encoding (issue 13), as decoded and on the wire with the
/// compression the server applies (gzip, brotli); decoding time natively
/// (the page's wasm is slower); and an unchanged refresh (`If-None-Match`).
async fn wire(client: &reqwest::Client, url: &str) -> Result<Value> {
    use scoreboard_core::api::{rows_wire, RowsAnswer};
    const COMPACT: &str = rows_wire::CONTENT_TYPE;
    let (_, _, json, _) = fetch(client, url, &[]).await?;
    let (_, _, compact, etag) = fetch(client, url, &[("accept", COMPACT)]).await?;
    let mut sizes = serde_json::Map::new();
    for (name, accept) in [("json", "application/json"), ("compact", COMPACT)] {
        for enc in ["gzip", "br"] {
            let (_, _, body, _) =
                fetch(client, url, &[("accept", accept), ("accept-encoding", enc)]).await?;
            sizes.insert(format!("{name}_{enc}"), json!(body.len()));
        }
    }
    let t = Instant::now();
    let from_json: RowsAnswer = serde_json::from_slice(&json).map_err(|e| e.to_string())?;
    let json_ms = t.elapsed().as_secs_f64() * 1000.0;
    let t = Instant::now();
    let from_compact = rows_wire::decode(&compact).map_err(|e| e.to_string())?;
    let compact_ms = t.elapsed().as_secs_f64() * 1000.0;
    let rows = from_compact.rows.len();
    if from_json.rows != from_compact.rows {
        return Err("the compact answer's rows differ from the JSON answer's".into());
    }
    let etag = etag.ok_or("no ETag on /api/rows")?;
    let (status, head, body, _) = fetch(
        client,
        url,
        &[
            ("accept", COMPACT),
            ("if-none-match", &etag),
            ("accept-encoding", "br"),
        ],
    )
    .await?;
    Ok(json!({
        "rows": rows,
        "json_bytes": json.len(),
        "compact_bytes": compact.len(),
        "wire": sizes,
        "decode_json_ms": json_ms,
        "decode_compact_ms": compact_ms,
        "unchanged_status": status,
        "unchanged_bytes": head + body.len(),
    }))
}
