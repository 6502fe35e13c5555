//! A 1 M-row store opening in the page (issue 13 item 1): 3,000 engineers
//! × ~334 active days of the year to today, written straight into a fresh
//! SQLite file by the server's own `Store::replace_day` (Admin-API-shaped
//! records through core's `records_to_rows`: the real schema and change
//! log; not timed), then the real `scoreboard serve` on it (once it has
//! made the page's answer, as it does at start-up and after writes settle:
//! the first open of a running server; the cold answer is measured apart,
//! natively) and the page in headless Chromium with a fresh profile:
//! navigation → `scoreboard:rendered`
//! with every row, the bytes of the `api/rows` answer as the browser
//! received them (Resource Timing), then a reload (rows from IndexedDB, the
//! server answers `304`) timed the same way, then a change of the window
//! filter (the report again over the rows the page holds: change → painted,
//! the computation, the longest task). The page's weekly active
//! engineers and sessions of the reference week must equal core's on the
//! rows read back from the same store, and its row count the store's.

use std::path::Path;
use std::time::{Duration, Instant};

use chrono::{Days, NaiveDate, Utc};
use scoreboard_core::api::rows_wire;
use scoreboard_core::parse::admin_api::{records_to_rows, UsageRecord};
use scoreboard_core::{compute, ReportOptions, Source, UsageTable, WindowSpec};
use scoreboard_server::store::{DayStats, Store};
use serde_json::{json, Value};

use crate::browser::{poll, wd, Browser};
use crate::proc::Server;
use crate::stats::median;
use crate::{ctx, Result};

pub struct Settings {
    pub people: usize,
    pub days: u64,
    /// A person is idle on a day when `(person + day) % idle_every == 0`.
    pub idle_every: u64,
}

/// Writes the store; the rows written and the seconds it took.
pub fn write_store(db: &Path, s: &Settings, today: NaiveDate) -> Result<(u64, f64)> {
    let t = Instant::now();
    let store = Store::open(db).map_err(ctx(db.display()))?;
    let now = Utc::now();
    let mut written = 0u64;
    let mut n = 0u64;
    for back in 0..s.days {
        let day = today - Days::new(back);
        let mut records = Vec::with_capacity(s.people);
        for p in 0..s.people {
            if (p as u64 + back).is_multiple_of(s.idle_every) {
                continue;
            }
            n += 1;
            let v = crate::backfill::record(day, &crate::ingest::email(p), n);
            let r: UsageRecord = serde_json::from_value(v).map_err(ctx("bench record"))?;
            records.push(r);
        }
        let (rows, problems) = records_to_rows("bench", &records);
        if let Some(p) = problems.first() {
            return Err(format!("bench records for {day}: {p:?}"));
        }
        let stats = DayStats {
            records: records.len() as u64,
            user_actor_records: records.len() as u64,
            non_api_records: 0,
        };
        store
            .replace_day(Source::AdminApi, day, &rows, &stats, now)
            .map_err(ctx(format!("store {day}")))?;
        written += rows.len() as u64;
    }
    Ok((written, t.elapsed().as_secs_f64()))
}

/// Core's weekly active engineers of the reference week on the store's rows.
fn core_wae(db: &Path, from: NaiveDate, today: NaiveDate) -> Result<(u64, u64, u64, String)> {
    let store = Store::open(db).map_err(ctx(db.display()))?;
    let rows = store
        .rows(from, today, &[Source::AdminApi])
        .map_err(ctx("read the store back"))?;
    let n = rows.len() as u64;
    let mut table = UsageTable::new();
    table.insert_days(rows);
    let opts = ReportOptions {
        as_of: today,
        window: WindowSpec::All,
        team: None,
    };
    let report = compute(&table, None, &opts);
    let week = report
        .kpis
        .as_ref()
        .ok_or("core has no reference week for the store")?
        .week
        .clone();
    let figures = week
        .figures
        .as_ref()
        .ok_or("core's reference week has no figures")?;
    Ok((
        n,
        figures.active_engineers,
        figures.totals.sessions,
        week.label,
    ))
}

/// Waits for the dashboard after a navigation, then reads what the page
/// says about it: marks (ms since navigation), the rows answer, the WAE
/// card and the `api/rows` resource entry.
const DONE: &str = r#"
const marks = window.__scoreboard_marks || [];
const rows = window.__scoreboard_rows;
const r = marks.filter((m) => m.name === 'scoreboard:rendered').map((m) => m.t);
if (!rows || r.length === 0 || !document.querySelector('#kpi-wae .value')) return null;
const api = performance.getEntriesByType('resource').filter((e) => e.name.includes('/api/rows'));
return {
  marks,
  rows,
  wae: document.querySelector('#kpi-wae .value').getAttribute('data-value'),
  sessions: document.querySelector('#kpi-sessions .value')?.getAttribute('data-value') ?? null,
  api: api.map((e) => ({ url: e.name, transfer: e.transferSize, encoded: e.encodedBodySize, decoded: e.decodedBodySize, start: e.startTime, end: e.responseEnd })),
};
"#;

/// Changes the window filter as a user does (`arguments[0]`: the option's
/// value) and notes when the page has painted the new figures: the report
/// is computed again (by the page's engine) over the rows it already holds,
/// nothing is fetched; "painted" is the first frame after the new report
/// arrived (the mark `scoreboard:compute-end`).
const CHANGE_WINDOW: &str = r#"
const f = window.__filter = { t0: performance.now(), tasks: [], painted: null };
new PerformanceObserver((l) => { for (const e of l.getEntries()) f.tasks.push(e.duration); }).observe({ type: 'longtask', buffered: false });
const s = document.getElementById('window-select');
s.value = arguments[0];
s.dispatchEvent(new Event('change', { bubbles: true }));
const arrived = () => performance.getEntriesByName('scoreboard:compute-end').some((e) => e.startTime >= f.t0);
const wait = () => requestAnimationFrame(() => {
  if (arrived()) setTimeout(() => { f.painted = performance.now(); }, 0); else wait();
});
wait();
return true;
"#;

/// After [`CHANGE_WINDOW`]: change → painted, the computes it caused and
/// the longest main-thread task (waits for the long-task entries to arrive).
const WINDOW_CHANGED: &str = r#"
const f = window.__filter;
if (!f || f.painted === null || performance.now() - f.painted < 500) return null;
const after = (n) => performance.getEntriesByName(n).filter((e) => e.startTime >= f.t0).map((e) => e.startTime);
const cs = after('scoreboard:compute-start'), ce = after('scoreboard:compute-end');
return {
  change_to_painted_ms: f.painted - f.t0,
  computes: ce.length,
  compute_ms: cs.length && ce.length ? ce[ce.length - 1] - cs[0] : null,
  longest_task_ms: f.tasks.length ? Math.max(...f.tasks) : null,
  wae: document.querySelector('#kpi-wae .value')?.getAttribute('data-value') ?? null,
};
"#;

fn first(marks: &[Value], name: &str) -> Option<f64> {
    marks
        .iter()
        .filter(|m| m["name"] == name)
        .filter_map(|m| m["t"].as_f64())
        .reduce(f64::min)
}

/// One visit's figures from [`DONE`]'s answer.
fn visit(v: &Value) -> Value {
    let marks = v["marks"].as_array().cloned().unwrap_or_default();
    let names = [
        "scoreboard:rows-restored",
        "scoreboard:rows-full",
        "scoreboard:rows-delta",
        "scoreboard:rows-unchanged",
        "scoreboard:rendered",
    ];
    let at: serde_json::Map<String, Value> = names
        .iter()
        .map(|n| {
            (
                n.trim_start_matches("scoreboard:").to_string(),
                json!(first(&marks, n)),
            )
        })
        .collect();
    let api = v["api"].as_array().and_then(|a| a.last()).cloned();
    json!({
        "navigation_to_rendered_ms": first(&marks, "scoreboard:rendered"),
        "marks_ms": at,
        "rows_answer": v["rows"],
        "rows_url": api.as_ref().map(|a| a["url"].clone()),
        "rows_transfer_bytes": api.as_ref().map(|a| a["transfer"].clone()),
        "rows_encoded_body_bytes": api.as_ref().map(|a| a["encoded"].clone()),
        "rows_decoded_body_bytes": api.as_ref().map(|a| a["decoded"].clone()),
        "rows_request_start_ms": api.as_ref().map(|a| a["start"].clone()),
        "rows_response_end_ms": api.as_ref().map(|a| a["end"].clone()),
        "rows_request_ms": api.as_ref().and_then(|a| Some(a["end"].as_f64()? - a["start"].as_f64()?)),
        "page_wae": v["wae"],
        "page_sessions": v["sessions"],
    })
}

/// After the page's visits (the server's answer is then kept): the full
/// answer asked natively as the page asks it, brotli and plain, timed from
/// request to last byte, and core's decoder on the plain body (the page
/// runs the same code compiled to wasm), each the median of three.
async fn native(url: &str) -> Result<Value> {
    let client = reqwest::Client::new();
    let url = url.to_string();
    let get = |encoding: &'static str| {
        let (client, url) = (client.clone(), url.clone());
        async move {
            let t = Instant::now();
            let resp = client
                .get(&url)
                .header("accept", rows_wire::CONTENT_TYPE)
                .header("accept-encoding", encoding)
                .send()
                .await
                .map_err(ctx("GET /api/rows"))?;
            let body = resp.bytes().await.map_err(ctx("GET /api/rows body"))?;
            Ok::<_, String>((t.elapsed().as_secs_f64() * 1000.0, body))
        }
    };
    let (mut br_ms, mut plain_ms, mut decode_ms) = (Vec::new(), Vec::new(), Vec::new());
    let (mut br_bytes, mut plain) = (0, Default::default());
    for _ in 0..3 {
        let (ms, body) = get("br").await?;
        br_ms.push(ms);
        br_bytes = body.len();
        let (ms, body) = get("identity").await?;
        plain_ms.push(ms);
        plain = body;
    }
    let mut rows = 0;
    for _ in 0..3 {
        let t = Instant::now();
        let answer = rows_wire::decode(&plain).map_err(ctx("decode the answer"))?;
        decode_ms.push(t.elapsed().as_secs_f64() * 1000.0);
        rows = answer.rows.len();
    }
    Ok(json!({
        "kept_answer_brotli_ms": median(&br_ms),
        "kept_answer_plain_ms": median(&plain_ms),
        "brotli_bytes": br_bytes,
        "plain_bytes": plain.len(),
        "rows": rows,
        "decode_ms": median(&decode_ms),
        "wire_bytes_per_row": br_bytes as f64 / rows.max(1) as f64,
        "decoded_bytes_per_row": plain.len() as f64 / rows.max(1) as f64,
    }))
}

/// Before the page's visits: a full answer of a range the page does not
/// ask for (so the page's own first ask stays cold), asked natively as the
/// page asks it (compact, brotli) on a server that has answered nothing
/// yet: the server's cold answer, request to last byte, without a browser.
async fn cold(url: &str) -> Result<Value> {
    let t = Instant::now();
    let resp = reqwest::Client::new()
        .get(url)
        .header("accept", rows_wire::CONTENT_TYPE)
        .header("accept-encoding", "br")
        .send()
        .await
        .map_err(ctx("GET /api/rows (cold)"))?;
    let status = resp.status().as_u16();
    let body = resp
        .bytes()
        .await
        .map_err(ctx("GET /api/rows body (cold)"))?;
    Ok(json!({
        "url": url,
        "status": status,
        "ms": t.elapsed().as_secs_f64() * 1000.0,
        "brotli_bytes": body.len(),
    }))
}

/// The words of `scoreboard serve`'s log line for each making ahead.
const MADE_AHEAD: &str = "rows answer is made ahead";

/// What `scoreboard serve` logged of making the page's answer ahead
/// (`rows::keep_warm`: at start-up, before any page asks), waited for up
/// to `within`: its time and sizes, and how long after the server
/// listened it was seen. `null` when not seen in time.
fn made_ahead(log: &Path, within: Duration) -> Value {
    let t = Instant::now();
    loop {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        if let Some(line) = text.lines().find(|l| l.contains(MADE_AHEAD)) {
            let line = without_colours(line);
            let field = |name: &str| {
                line.split_whitespace()
                    .find_map(|w| w.strip_prefix(name)?.strip_prefix('='))
                    .and_then(|v| v.parse::<u64>().ok())
            };
            return json!({
                "ms": field("ms"),
                "body_bytes": field("body_bytes"),
                "brotli_bytes": field("brotli_bytes"),
                "seen_after_ms": t.elapsed().as_secs_f64() * 1000.0,
            });
        }
        if t.elapsed() > within {
            return Value::Null;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Warnings, and the line [`made_ahead`] waits for.
fn log_made_ahead(c: &mut std::process::Command) {
    c.env("RUST_LOG", "warn,scoreboard_server::rows=info");
}

/// `line` without its terminal colour codes (`ESC [ … m`).
fn without_colours(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c == 'm' {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// The exports folder of the memory runs: a usage export of every
/// engineer's last 30 days (CSV rows, beside the store's) and an Admin API
/// dump of yesterday for the first 500 engineers (the same person-days the
/// store synced: the live rows go over the file's).
fn write_exports(dir: &Path, s: &Settings, today: NaiveDate) -> Result<u64> {
    use std::fmt::Write;
    let mut csv = String::from("Date,Email,Sessions,Lines accepted,Spend (USD)\n");
    let mut rows = 0u64;
    for back in 0..30 {
        let day = today - Days::new(back);
        for p in 0..s.people {
            let _ = writeln!(csv, "{day},{},2,40,1.25", crate::ingest::email(p));
            rows += 1;
        }
    }
    std::fs::write(dir.join("usage-last-30-days.csv"), csv).map_err(ctx("write the export"))?;
    let yesterday = today - Days::new(1);
    let dump: Vec<Value> = (0..500.min(s.people))
        .map(|p| crate::backfill::record(yesterday, &crate::ingest::email(p), p as u64))
        .collect();
    std::fs::write(
        dir.join("admin-dump.json"),
        serde_json::to_vec(&dump).map_err(ctx("the dump"))?,
    )
    .map_err(ctx("write the dump"))?;
    Ok(rows + dump.len() as u64)
}

/// One answer asked of a fresh `scoreboard serve --imports DIR` on the
/// 1 M-row store, once the page's answer it makes at start-up is made (so
/// the process's peak RSS is that answer's making beside the kept page
/// answer, or the start-up making's if larger): status, time to the last
/// byte, bytes as sent, rows, and the server's resident memory before
/// asking and its peak after the answer.
async fn answer_memory(
    bin: &Path,
    data: &Path,
    exports: &Path,
    query: &str,
    compact: bool,
) -> Result<Value> {
    let server = Server::start(bin, data, None, |c| {
        log_made_ahead(c);
        c.arg("--imports").arg(exports);
    })?;
    // After the page's answer made at start-up (kept: the peak below holds it).
    let ahead = made_ahead(&server.process.log, Duration::from_secs(60));
    let before = server.process.memory()?;
    let mut req = reqwest::Client::new()
        .get(server.url(&format!("/api/rows?{query}")))
        .header("accept-encoding", "identity");
    if compact {
        req = req.header("accept", rows_wire::CONTENT_TYPE);
    }
    let t = Instant::now();
    let resp = req.send().await.map_err(ctx("GET /api/rows (exports)"))?;
    let status = resp.status().as_u16();
    let body = resp
        .bytes()
        .await
        .map_err(ctx("GET /api/rows body (exports)"))?;
    let ms = t.elapsed().as_secs_f64() * 1000.0;
    let after = server.process.memory()?;
    drop(server);
    let (rows, message) = match (status, compact) {
        (200, true) => (
            Some(rows_wire::decode(&body).map_err(ctx("decode"))?.rows.len()),
            None,
        ),
        (200, false) => (
            Some(
                serde_json::from_slice::<scoreboard_core::api::RowsAnswer>(&body)
                    .map_err(ctx("the JSON answer"))?
                    .rows
                    .len(),
            ),
            None,
        ),
        _ => (
            None,
            serde_json::from_slice::<Value>(&body)
                .ok()
                .and_then(|v| v["error"]["message"].as_str().map(str::to_string)),
        ),
    };
    Ok(json!({
        "query": query,
        "compact": compact,
        "status": status,
        "ms": ms,
        "body_bytes": body.len(),
        "rows": rows,
        "message": message,
        "server_rss_after_start_bytes": before.rss_bytes,
        "made_ahead": ahead,
        "server_peak_rss_bytes": after.hwm_bytes,
    }))
}

/// Issue 13's bounded answers: the server's peak RSS answering the whole
/// year with an exports folder configured, compact and JSON (refused past
/// `ROWS_MAX_JSON_BODY`), and JSON of the last 30 days (served), each on a
/// fresh process.
async fn with_exports(bin: &Path, data: &Path, s: &Settings, today: NaiveDate) -> Result<Value> {
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let exports = tempfile::tempdir().map_err(ctx("exports dir"))?;
    let file_rows = write_exports(exports.path(), s, today)?;
    let year = format!("from={}&to={today}", today - Days::new(s.days + 30));
    let month = format!("from={}&to={today}", today - Days::new(29));
    let mut answers = Vec::new();
    for (query, compact) in [(&year, true), (&year, false), (&month, false)] {
        let a = answer_memory(bin, data, exports.path(), query, compact).await?;
        eprintln!("  with an exports folder: {a}");
        answers.push(a);
    }
    Ok(json!({
        "loadavg": load.split_whitespace().take(3).collect::<Vec<_>>().join(" "),
        "exports_rows": file_rows,
        "compact_year": answers[0],
        "json_year": answers[1],
        "json_month": answers[2],
    }))
}

pub async fn run(bin: &Path, dist: &Path, work: &Path, s: &Settings) -> Result<Value> {
    let today = Utc::now().date_naive();
    let load_at_start = crate::proc::machine()["loadavg_at_start"].clone();
    let data = tempfile::tempdir().map_err(ctx("data dir"))?;
    let db = data.path().join("scoreboard.db");
    eprintln!(
        "bench: rows1m, writing {} people × {} days",
        s.people, s.days
    );
    let (written, setup_s) = write_store(&db, s, today)?;
    let db_bytes = std::fs::metadata(&db).map(|m| m.len()).unwrap_or(0);
    eprintln!("bench: rows1m, {written} rows stored in {setup_s:.0} s ({db_bytes} bytes)");
    let first_day = today - Days::new(s.days);
    let (read_back, wae, sessions, week) = core_wae(&db, first_day, today)?;

    let server = Server::start(bin, data.path(), Some(dist), log_made_ahead)?;
    // The server makes the page's answer at start-up: the cold answer
    // below is measured after it, not beside it, on the same cores.
    let ahead = made_ahead(&server.process.log, Duration::from_secs(60));
    eprintln!("  the page's answer made ahead: {ahead}");
    let cold_native = cold(&server.url(&format!(
        "/api/rows?from={}&to={today}",
        today - Days::new(s.days + 30)
    )))
    .await?;
    let mem_after_cold = server.process.memory()?;
    eprintln!("  cold, natively: {cold_native}");
    let browser = Browser::start(work)?;
    let (c, _profile) = browser.session().await?;
    let out = async {
        c.goto(&server.url("/"))
            .await
            .map_err(wd("open the page"))?;
        let cold = poll(&c, DONE, Duration::from_secs(300)).await?;
        eprintln!("  first open: {}", visit(&cold));
        // The page keeps the rows in IndexedDB after showing them; give it time.
        tokio::time::sleep(Duration::from_secs(15)).await;
        c.refresh().await.map_err(wd("reload"))?;
        let warm = poll(&c, DONE, Duration::from_secs(300)).await?;
        eprintln!("  reload: {}", visit(&warm));
        // A change of the filters: the report again, over the same rows.
        // Its failure is noted in its own figure, the visits' stay.
        tokio::time::sleep(Duration::from_secs(2)).await;
        let filter = async {
            c.execute(CHANGE_WINDOW, vec![json!("52")])
                .await
                .map_err(wd("change the window"))?;
            poll(&c, WINDOW_CHANGED, Duration::from_secs(120)).await
        }
        .await
        .unwrap_or_else(|e| json!({ "error": e }));
        eprintln!("  window changed to 52 weeks: {filter}");
        // The page's first ask (a full answer), asked again.
        let url = visit(&cold)["rows_url"]
            .as_str()
            .map(str::to_string)
            .ok_or("the page asked no api/rows")?;
        let native = native(&url).await?;
        eprintln!("  native: {native}");
        Ok::<_, String>((cold, warm, filter, native))
    }
    .await;
    let _ = c.close().await;
    let mem = server.process.memory()?;
    // Each making ahead is a line: more than the start-up's one means a
    // write during the visits made the server make it again.
    let makings_ahead = std::fs::read_to_string(&server.process.log)
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains(MADE_AHEAD))
        .count();
    drop(browser);
    drop(server);
    let (cold, warm, filter, native) = out?;
    let exports = with_exports(bin, data.path(), s, today).await?;
    let (cold, warm) = (visit(&cold), visit(&warm));
    let page_rows = cold["rows_answer"]["rows"].as_u64();
    let mut problems = Vec::new();
    if page_rows != Some(written) {
        problems.push(format!(
            "the page's rows answer has {page_rows:?} rows, the store {written}"
        ));
    }
    for (name, v) in [("first open", &cold), ("reload", &warm)] {
        if v["page_wae"].as_str() != Some(wae.to_string().as_str()) {
            problems.push(format!(
                "{name}: the page shows {} weekly active engineers for {week}, core says {wae}",
                v["page_wae"]
            ));
        }
        if v["page_sessions"].as_str() != Some(sessions.to_string().as_str()) {
            problems.push(format!(
                "{name}: the page shows {} sessions for {week}, core says {sessions}",
                v["page_sessions"]
            ));
        }
    }
    Ok(json!({
        "people": s.people,
        "days": s.days,
        "rows_stored": written,
        "rows_read_back": read_back,
        "store_bytes": db_bytes,
        "setup_seconds": setup_s,
        "reference_week": week,
        "core_wae": wae,
        "core_sessions": sessions,
        "agree": problems.is_empty(),
        "problems": problems,
        "first_open": cold,
        "reload": warm,
        "window_change": filter,
        "native": native,
        "server_rss_bytes": mem.rss_bytes,
        "server_peak_rss_bytes": mem.hwm_bytes,
        "cold_native": cold_native,
        "made_ahead": ahead,
        "makings_ahead": makings_ahead,
        "server_peak_rss_after_cold_bytes": mem_after_cold.hwm_bytes,
        "with_exports": exports,
        "loadavg_at_start": load_at_start,
    }))
}
