//! Import to dashboard in headless Chromium, and the same job in DuckDB-WASM
//! in the same browser on the same files.
//!
//! Each run gets a fresh WebDriver session (a fresh profile: nothing restored
//! from IndexedDB, a cold HTTP cache). The file goes into `#file-input` the way
//! a user's pick does (chromedriver sets the files and fires `change`), after
//! the pointer moved onto "Choose files…" as a user's does.
//! Timings come from the page: `performance.now()` at the `change` event
//! (captured before the app's own listener) to the app's `scoreboard:rendered`
//! mark (after the dashboard's DOM is updated and two animation frames passed).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use fantoccini::actions::{InputSource, MouseActions, PointerAction};
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde::Serialize;
use serde_json::{json, Value};

use crate::proc::{free_port, Process, Server};
use crate::stats::{max, median};
use crate::{ctx, generate, Result};

pub struct Browser {
    driver: Process,
    url: String,
}

pub(crate) fn wd<E: std::fmt::Display>(what: &str) -> impl FnOnce(E) -> String + '_ {
    move |e| format!("WebDriver ({what}): {e}")
}

impl Browser {
    pub fn start(work: &Path) -> Result<Browser> {
        let driver_bin = std::env::var("CHROMEDRIVER").unwrap_or("/usr/bin/chromedriver".into());
        let addr = free_port()?;
        let mut driver = Process::spawn(
            "chromedriver",
            Command::new(&driver_bin).arg(format!("--port={}", addr.port())),
            work.join("chromedriver.log"),
        )?;
        driver.wait_listening(addr)?;
        Ok(Browser {
            driver,
            url: format!("http://{addr}"),
        })
    }

    /// A session with a fresh profile.
    pub async fn session(&self) -> Result<(Client, tempfile::TempDir)> {
        let profile = tempfile::tempdir().map_err(ctx("profile dir"))?;
        let chromium = std::env::var("CHROMIUM").unwrap_or("/usr/bin/chromium".into());
        let mut args = vec![
            "--headless".to_string(),
            "--no-sandbox".into(),
            "--disable-gpu".into(),
            "--disable-quic".into(),
            "--no-first-run".into(),
            "--disable-background-networking".into(),
            "--disable-component-update".into(),
            "--disable-sync".into(),
            "--disable-dev-shm-usage".into(),
            "--window-size=1280,900".into(),
            // performance.memory in bytes instead of coarse buckets.
            "--enable-precise-memory-info".into(),
            format!("--user-data-dir={}", profile.path().display()),
        ];
        // `BENCH_CHROME_TRACE=DIR`: each session's first 20 s traced by Chromium
        // (main-thread tasks, V8, the page's marks) into DIR, to read a profile.
        if let Some(dir) = std::env::var_os("BENCH_CHROME_TRACE") {
            let n = SESSIONS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let file = std::path::Path::new(&dir).join(format!("trace-{n}.json"));
            let cats = std::env::var("BENCH_CHROME_TRACE_CATEGORIES").unwrap_or_else(|_| {
                "devtools.timeline,blink.user_timing,v8.execute,toplevel,disabled-by-default-devtools.timeline".into()
            });
            args.push(format!("--trace-startup={cats}"));
            args.push(format!("--trace-startup-file={}", file.display()));
            args.push("--trace-startup-duration=20".into());
            args.push("--trace-startup-format=json".into());
        }
        let caps = json!({
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium,
                "args": args
            }
        });
        let Value::Object(caps) = caps else {
            return Err("capabilities are not an object".into());
        };
        let client = ClientBuilder::new(HttpConnector::new())
            .capabilities(caps)
            .connect(&self.url)
            .await
            .map_err(|e| {
                format!(
                    "WebDriver session: {e}; chromedriver log:\n{}",
                    self.driver.log_tail()
                )
            })?;
        Ok((client, profile))
    }
}

/// Waits until `script` returns something other than null/false (at most `limit`).
pub(crate) async fn poll(c: &Client, script: &str, limit: Duration) -> Result<Value> {
    let start = Instant::now();
    loop {
        let v = c
            .execute(script, vec![])
            .await
            .map_err(wd("execute script"))?;
        if !(v.is_null() || v == Value::Bool(false)) {
            return Ok(v);
        }
        if start.elapsed() > limit {
            return Err(format!("timed out after {limit:?} waiting for: {script}"));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Sessions started, to name their traces (`BENCH_CHROME_TRACE`).
static SESSIONS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

const INSTRUMENT: &str = r#"
const b = window.__bench = { t0: null, longtasks: [], heap_max: 0, samples: 0 };
const sample = () => {
  const m = performance.memory;
  if (m) { b.heap_max = Math.max(b.heap_max, m.usedJSHeapSize); b.samples++; }
};
sample();
document.getElementById('file-input').addEventListener('change', () => { b.t0 = performance.now(); sample(); }, { capture: true, once: true });
new PerformanceObserver((l) => { for (const e of l.getEntries()) b.longtasks.push({ start: e.startTime, duration: e.duration }); }).observe({ type: 'longtask' });
setInterval(sample, 25);
return true;
"#;

const SECTIONS_BUILT: &str = r#"
const marks = (window.__scoreboard_marks || []).filter((m) => m.name.startsWith('scoreboard:section-'));
if (!marks.length) return true;
return performance.now() - marks[marks.length - 1].t > 300 ? true : null;
"#;

const APP_DONE: &str = r#"
const b = window.__bench;
const marks = window.__scoreboard_marks || [];
if (performance.memory) b.heap_max = Math.max(b.heap_max, performance.memory.usedJSHeapSize);
if (b.t0 === null || !marks.some((m) => m.name === 'scoreboard:rendered' && m.t >= b.t0)) return null;
return true;
"#;

const APP_COLLECT: &str = r#"
const b = window.__bench;
return {
  t0: b.t0,
  marks: window.__scoreboard_marks || [],
  longtasks: b.longtasks,
  heap_max: b.heap_max,
  heap_samples: b.samples,
  engine_bytes: window.__scoreboard_engine_bytes || 0,
  dashboard: !!document.querySelector('#dashboard'),
};
"#;

#[derive(Debug, Clone, Serialize)]
pub struct AppRun {
    pub drop_to_rendered_ms: f64,
    pub drop_to_parsed_ms: Option<f64>,
    pub compute_ms: Option<f64>,
    pub longest_task_ms: f64,
    pub long_tasks: usize,
    pub js_heap_peak_bytes: f64,
    pub wasm_memory_bytes: f64,
    /// The engine worker's wasm memory (where the rows are held), as the
    /// page last heard it (it only grows).
    pub engine_memory_bytes: f64,
}

fn mark_t(marks: &[Value], name: &str, after: f64) -> Option<f64> {
    marks
        .iter()
        .filter(|m| m["name"] == name)
        .filter_map(|m| m["t"].as_f64())
        .rfind(|t| *t >= after)
}

async fn app_run(b: &Browser, base: &str, file: &Path) -> Result<AppRun> {
    let (c, _profile) = b.session().await?;
    let out = async {
        c.goto(&format!("{base}/?as_of={}", generate::as_of()))
            .await
            .map_err(wd("open the page"))?;
        c.wait()
            .at_most(Duration::from_secs(60))
            .for_element(Locator::Css("#file-input"))
            .await
            .map_err(wd("find #file-input"))?;
        // A user's pointer reaches "Choose files…" before the file dialog
        // opens (a keyboard user's focus, a dragged file, the same): the page
        // starts loading its engine then. `BENCH_COLD_PICK=1` skips it, to
        // measure a pick that finds nothing loaded (no real user's path).
        if std::env::var_os("BENCH_COLD_PICK").is_none() {
            // Shown once the page has read back (nothing) from IndexedDB.
            let zone = c
                .wait()
                .at_most(Duration::from_secs(60))
                .for_element(Locator::Css("label.dropzone"))
                .await
                .map_err(wd("find the drop zone"))?;
            let hover = MouseActions::new("mouse".into()).then(PointerAction::MoveToElement {
                element: zone,
                duration: None,
                x: 0.0,
                y: 0.0,
            });
            c.perform_actions(hover)
                .await
                .map_err(wd("move the pointer to the drop zone"))?;
        }
        // Let the app finish reading back (nothing) from IndexedDB, and what
        // the pointer started loading arrive (a user takes longer in the dialog).
        // `BENCH_PICK_WAIT_MS` changes the wait (exploratory runs only).
        let wait = std::env::var("BENCH_PICK_WAIT_MS")
            .ok()
            .and_then(|v| v.parse().ok());
        tokio::time::sleep(Duration::from_millis(wait.unwrap_or(500))).await;
        c.execute(INSTRUMENT, vec![])
            .await
            .map_err(wd("instrument"))?;
        let path = file.canonicalize().map_err(ctx(file.display()))?;
        c.find(Locator::Css("#file-input"))
            .await
            .map_err(wd("find #file-input"))?
            .send_keys(&path.display().to_string())
            .await
            .map_err(wd("choose the file"))?;
        poll(&c, APP_DONE, Duration::from_secs(300)).await?;
        // The sections under the first screen are built a frame each after
        // it: their frames count too, so wait until none was built for
        // 300 ms (at most 10 s).
        let _ = poll(&c, SECTIONS_BUILT, Duration::from_secs(10)).await;
        // Long-task entries are delivered asynchronously; let the last ones arrive.
        tokio::time::sleep(Duration::from_millis(400)).await;
        let v = c
            .execute(APP_COLLECT, vec![])
            .await
            .map_err(wd("collect"))?;
        if v["dashboard"] != true {
            return Err("the dashboard is not shown after the import".to_string());
        }
        let t0 = v["t0"].as_f64().unwrap_or(0.0);
        let marks = v["marks"].as_array().cloned().unwrap_or_default();
        let rendered = mark_t(&marks, "scoreboard:rendered", t0).unwrap_or(t0);
        let parsed = mark_t(&marks, "scoreboard:parsed", t0);
        let compute = match (
            mark_t(&marks, "scoreboard:compute-start", t0),
            mark_t(&marks, "scoreboard:compute-end", t0),
        ) {
            (Some(a), Some(z)) if z >= a => Some(z - a),
            _ => None,
        };
        // What the page's main thread did after the pick: each long task
        // and the marks, from the pick (stderr only, to read a profile).
        if std::env::var_os("BENCH_TRACE").is_some() {
            for t in v["longtasks"].as_array().into_iter().flatten() {
                let start = t["start"].as_f64().unwrap_or(0.0) - t0;
                eprintln!(
                    "    long task at {start:.0} ms: {:.0} ms",
                    t["duration"].as_f64().unwrap_or(0.0)
                );
            }
            for m in &marks {
                let at = m["t"].as_f64().unwrap_or(0.0) - t0;
                // What the pointer's move started shows too (before the pick).
                if at >= -1000.0 {
                    eprintln!(
                        "    mark {} at {at:.0} ms",
                        m["name"].as_str().unwrap_or("")
                    );
                }
            }
        }
        let tasks: Vec<f64> = v["longtasks"]
            .as_array()
            .map(|a| {
                // Every task still running at the pick or after it: the
                // one that dispatches the `change` event starts a little
                // before its listeners run, and the page's handling of the
                // pick is in it (until 2026-12-05 15:00 only the tasks that
                // started after the pick counted).
                a.iter()
                    .filter(|t| {
                        let start = t["start"].as_f64().unwrap_or(0.0);
                        start + t["duration"].as_f64().unwrap_or(0.0) > t0
                    })
                    .filter_map(|t| t["duration"].as_f64())
                    .collect()
            })
            .unwrap_or_default();
        let wasm = marks
            .iter()
            .filter_map(|m| m["wasm_bytes"].as_f64())
            .fold(0.0, f64::max);
        Ok(AppRun {
            drop_to_rendered_ms: rendered - t0,
            drop_to_parsed_ms: parsed.map(|p| p - t0),
            compute_ms: compute,
            longest_task_ms: max(&tasks).unwrap_or(0.0),
            long_tasks: tasks.len(),
            js_heap_peak_bytes: v["heap_max"].as_f64().unwrap_or(0.0),
            wasm_memory_bytes: wasm,
            engine_memory_bytes: v["engine_bytes"].as_f64().unwrap_or(0.0),
        })
    }
    .await;
    let _ = c.close().await;
    out
}

const DUCK_READY: &str = r#"
const d = window.__duck;
if (!d || d.phase === 'idle') return null;
return d.phase;
"#;

const DUCK_DONE: &str = r#"
const d = window.__duck;
if (d.phase === 'done' || d.phase === 'error') return d;
return null;
"#;

#[derive(Debug, Clone, Serialize)]
pub struct DuckRun {
    pub load_engine_ms: f64,
    pub read_csv_ms: f64,
    pub query_ms: f64,
    pub weeks: Vec<Value>,
}

async fn duck_run(b: &Browser, base: &str, file: &Path) -> Result<DuckRun> {
    let (c, _profile) = b.session().await?;
    let out = async {
        c.goto(&format!("{base}/index.html"))
            .await
            .map_err(wd("open the DuckDB page"))?;
        let phase = poll(&c, DUCK_READY, Duration::from_secs(120)).await?;
        if phase != "ready" {
            let v = c
                .execute("return window.__duck", vec![])
                .await
                .map_err(wd("read error"))?;
            return Err(format!("DuckDB-WASM did not start: {v}"));
        }
        let path = file.canonicalize().map_err(ctx(file.display()))?;
        c.find(Locator::Css("#file-input"))
            .await
            .map_err(wd("find #file-input"))?
            .send_keys(&path.display().to_string())
            .await
            .map_err(wd("choose the file"))?;
        let v = poll(&c, DUCK_DONE, Duration::from_secs(300)).await?;
        if v["phase"] != "done" {
            return Err(format!("DuckDB-WASM failed: {}", v["error"]));
        }
        Ok(DuckRun {
            load_engine_ms: v["load_engine_ms"].as_f64().unwrap_or(f64::NAN),
            read_csv_ms: v["read_csv_ms"].as_f64().unwrap_or(f64::NAN),
            query_ms: v["query_ms"].as_f64().unwrap_or(f64::NAN),
            weeks: v["weeks"].as_array().cloned().unwrap_or_default(),
        })
    }
    .await;
    let _ = c.close().await;
    out
}

/// DuckDB's weekly figures against core's, computed natively from the same file.
fn agreement(csv: &[u8], weeks: &[Value]) -> Result<Value> {
    use scoreboard_core::{compute, parse, ReportOptions, UsageTable, WindowSpec};
    let import = parse::import("usage.csv", csv, &parse::ImportOptions::default())
        .map_err(ctx("core import"))?;
    let mut table = UsageTable::new();
    table.insert_days(import.rows);
    let opts = ReportOptions {
        as_of: generate::as_of(),
        window: WindowSpec::All,
        team: None,
    };
    let report = compute(&table, None, &opts);
    let mut mismatches = Vec::new();
    for w in weeks {
        let day = w["week"].as_str().unwrap_or_default();
        let Some(week) = report.weeks.iter().find(|c| c.week.to_string() == day) else {
            mismatches.push(format!("{day}: not in core's report"));
            continue;
        };
        // A week no loaded day covers has no figures in core (never 0).
        let Some(core) = &week.figures else {
            mismatches.push(format!("{day}: core has no figures (not covered)"));
            continue;
        };
        let same = w["active_engineers"].as_u64() == Some(core.active_engineers)
            && w["sessions"].as_u64() == Some(core.totals.sessions)
            && w["lines_accepted"].as_u64() == Some(core.totals.lines_accepted)
            && match (w["acceptance_rate"].as_f64(), core.totals.acceptance_rate) {
                (Some(a), Some(b)) => (a - b).abs() < 1e-9,
                (None, None) => true,
                _ => false,
            };
        if !same {
            mismatches.push(format!(
                "{day}: duckdb {w} vs core {} WAE, {} sessions, {} lines, {:?}",
                core.active_engineers,
                core.totals.sessions,
                core.totals.lines_accepted,
                core.totals.acceptance_rate
            ));
        }
    }
    Ok(json!({
        "weeks_compared": weeks.len(),
        "agree": mismatches.is_empty() && !weeks.is_empty(),
        "mismatches": mismatches.into_iter().take(5).collect::<Vec<_>>(),
    }))
}

/// Runs `job` `runs` times, printing each outcome; the successes and the errors.
async fn repeat<T, Fut>(
    what: &str,
    runs: usize,
    job: impl Fn() -> Fut,
    show: impl Fn(&T) -> String,
) -> (Vec<T>, Vec<String>)
where
    Fut: std::future::Future<Output = Result<T>>,
{
    let (mut ok, mut errors) = (Vec::new(), Vec::new());
    for i in 1..=runs {
        match job().await {
            Ok(r) => {
                eprintln!("  {what} run {i}: {}", show(&r));
                ok.push(r);
            }
            Err(e) => {
                eprintln!("  {what} run {i} failed: {e}");
                errors.push(e);
            }
        }
    }
    (ok, errors)
}

pub struct Case {
    pub rows: u64,
    pub file: PathBuf,
    pub runs: usize,
}

fn med(runs: &[f64]) -> Value {
    json!(median(runs))
}

/// Runs both jobs on every case; `server_bin`/`dist` serve the app, `duck_dir` the DuckDB page.
pub async fn run(
    bin: &Path,
    dist: &Path,
    duck_dir: &Path,
    cases: &[Case],
    work: &Path,
) -> Result<Value> {
    let data = tempfile::tempdir().map_err(ctx("data dir"))?;
    let server = Server::start(bin, data.path(), Some(dist), |_| {})?;
    let base = server.url("");
    // The DuckDB page and its engine, served from this process on another port.
    let duck_addr = free_port()?;
    let listener = tokio::net::TcpListener::bind(duck_addr)
        .await
        .map_err(ctx("bind the DuckDB page server"))?;
    let router =
        axum::Router::new().fallback_service(tower_http::services::ServeDir::new(duck_dir));
    let duck_server = tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    let duck_base = format!("http://{duck_addr}");
    let browser = Browser::start(work)?;

    let mut out = Vec::new();
    for case in cases {
        eprintln!("bench: browser, {} rows ({} runs)", case.rows, case.runs);
        let (app, app_errors) = repeat(
            "app",
            case.runs,
            || app_run(&browser, &base, &case.file),
            |r: &AppRun| {
                format!(
                    "{:.0} ms drop → rendered, longest task {:.0} ms",
                    r.drop_to_rendered_ms, r.longest_task_ms
                )
            },
        )
        .await;
        let (duck, duck_errors) = repeat(
            "duckdb",
            case.runs,
            || duck_run(&browser, &duck_base, &case.file),
            |r: &DuckRun| {
                format!(
                    "engine {:.0} ms, read {:.0} ms, query {:.0} ms",
                    r.load_engine_ms, r.read_csv_ms, r.query_ms
                )
            },
        )
        .await;
        let f = |g: fn(&AppRun) -> f64| app.iter().map(g).collect::<Vec<_>>();
        let d = |g: fn(&DuckRun) -> f64| duck.iter().map(g).collect::<Vec<_>>();
        let app_ms = median(&f(|r| r.drop_to_rendered_ms));
        let duck_job = median(&d(|r| r.read_csv_ms + r.query_ms));
        let duck_all = median(&d(|r| r.load_engine_ms + r.read_csv_ms + r.query_ms));
        let agree = match duck.first() {
            Some(r) => {
                let csv = std::fs::read(&case.file).map_err(ctx(case.file.display()))?;
                agreement(&csv, &r.weeks)?
            }
            None => Value::Null,
        };
        out.push(json!({
            "rows": case.rows,
            "file_bytes": std::fs::metadata(&case.file).map(|m| m.len()).unwrap_or(0),
            "runs": case.runs,
            "app": {
                "ok_runs": app.len(),
                "errors": app_errors,
                "drop_to_rendered_ms": med(&f(|r| r.drop_to_rendered_ms)),
                "drop_to_parsed_ms": med(&f(|r| r.drop_to_parsed_ms.unwrap_or(f64::NAN))),
                "compute_ms": med(&f(|r| r.compute_ms.unwrap_or(f64::NAN))),
                "longest_task_ms": med(&f(|r| r.longest_task_ms)),
                "longest_task_ms_max": max(&f(|r| r.longest_task_ms)),
                "long_tasks": med(&f(|r| r.long_tasks as f64)),
                "js_heap_peak_bytes": med(&f(|r| r.js_heap_peak_bytes)),
                "wasm_memory_bytes": med(&f(|r| r.wasm_memory_bytes)),
                "engine_memory_bytes": med(&f(|r| r.engine_memory_bytes)),
                "heap_peak_bytes": med(&f(|r| {
                    r.js_heap_peak_bytes + r.wasm_memory_bytes + r.engine_memory_bytes
                })),
                "samples": app,
            },
            "duckdb": {
                "ok_runs": duck.len(),
                "errors": duck_errors,
                "load_engine_ms": med(&d(|r| r.load_engine_ms)),
                "read_csv_ms": med(&d(|r| r.read_csv_ms)),
                "query_ms": med(&d(|r| r.query_ms)),
                "read_and_query_ms": duck_job,
                "with_engine_load_ms": duck_all,
                "weeks": duck.first().map(|r| r.weeks.len()),
                "agreement_with_core": agree,
            },
            "ratio_duckdb_job_to_app": match (duck_job, app_ms) { (Some(a), Some(b)) if b > 0.0 => json!(a / b), _ => Value::Null },
            "ratio_duckdb_with_load_to_app": match (duck_all, app_ms) { (Some(a), Some(b)) if b > 0.0 => json!(a / b), _ => Value::Null },
        }));
    }
    duck_server.abort();
    drop(browser);
    drop(server);
    Ok(json!({ "cases": out }))
}
