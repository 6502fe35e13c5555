//! Issue 15, beside the other metrics: the exports folder (`serve --imports
//! DIR`) serves the files saved there with the page's precedence and says
//! which are bad and why; the metrics-only token reads `/metrics` and
//! nothing else; `/api/report` is cached until the data changes; the weekly
//! digest is posted by `scoreboard digest --webhook` and by `serve`'s
//! schedule, once per week across a restart, retried when the webhook fails.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use axum::http::StatusCode;
use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use common::{day, noon, Harness};
use scoreboard_core::parse::{self, ImportOptions};
use scoreboard_core::{Source, UsageTable};
use scoreboard_server::config::{Config, Secret};
use scoreboard_server::store::DayStats;
use serde_json::Value;

const HEADER: &str =
    "Date,Email,Sessions,Lines accepted,Accepted edits,Rejected edits,Spend (USD)\n";

/// A full export: Ann every day from Mon 26 Oct to Thu 19 Nov 2026, Bob on
/// Mondays to Wednesdays, Dee on Tuesdays.
fn full_export() -> String {
    let mut s = HEADER.to_string();
    let mut d = day("2026-10-26");
    while d <= day("2026-11-19") {
        let dow = (d - day("2026-10-26")).num_days() % 7;
        s.push_str(&format!("{d},ann@acme.io,3,120,10,2,2.50\n"));
        if dow <= 2 {
            s.push_str(&format!("{d},bob@acme.io,1,40,4,1,0.90\n"));
        }
        if dow == 1 {
            s.push_str(&format!("{d},dee@acme.io,2,15,3,0,0.30\n"));
        }
        d += chrono::Duration::days(1);
    }
    s
}

const ROSTER: &str = "email,name,team\nann@acme.io,Ann A,Platform\nbob@acme.io,Bob B,Platform\n\
dee@acme.io,Dee D,Mobile\neve@acme.io,Eve E,Mobile\n";

/// Writes `text` to `dir/name` with the given modification time (seconds
/// after an epoch far enough back), so the order of files is explicit.
fn write_file(dir: &Path, name: &str, text: &str, mtime_secs: u64) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    let f = std::fs::File::options().write(true).open(&path).unwrap();
    f.set_modified(SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000 + mtime_secs))
        .unwrap();
    path
}

struct Folder {
    dir: tempfile::TempDir,
    imports: PathBuf,
    data: PathBuf,
}

fn folder() -> Folder {
    let dir = tempfile::tempdir().unwrap();
    let imports = dir.path().join("exports");
    std::fs::create_dir_all(&imports).unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(dir.path().join("roster.csv"), ROSTER).unwrap();
    Folder { dir, imports, data }
}

fn config(f: &Folder) -> Config {
    let mut c = Config {
        data_dir: f.data.clone(),
        roster: Some(f.dir.path().join("roster.csv")),
        ..Config::default()
    };
    c.feeds.imports_dir = Some(f.imports.clone());
    c
}

/// The rows of `/api/rows` by (person, day): (sessions, lines accepted).
fn measures(rows: &Value) -> Vec<(String, String, u64, u64)> {
    let mut out: Vec<_> = rows["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["person"].as_str().unwrap().to_string(),
                r["day"].as_str().unwrap().to_string(),
                r["sessions"].as_u64().unwrap_or(0),
                r["lines_added"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    out.sort();
    out
}

/// What the page makes of the same files dropped one after the other:
/// core's table, each file inserted in turn.
fn as_the_page_does(files: &[&Path]) -> Vec<(String, String, u64, u64)> {
    let mut table = UsageTable::new();
    for p in files {
        let name = p.file_name().unwrap().to_string_lossy().to_string();
        let import =
            parse::import(&name, &std::fs::read(p).unwrap(), &ImportOptions::default()).unwrap();
        table.insert_import(import);
    }
    let mut out: Vec<_> = table
        .day_rows()
        .map(|r| {
            (
                r.person.as_str().to_string(),
                r.day.to_string(),
                r.measures.sessions,
                r.measures.lines_added,
            )
        })
        .collect();
    out.sort();
    out
}

const RANGE: &str = "/api/rows?from=2026-10-01&to=2026-11-20";

#[tokio::test(flavor = "multi_thread")]
async fn the_exports_folder_picks_up_added_and_changed_files_with_the_pages_precedence() {
    let f = folder();
    let first = write_file(&f.imports, "usage-week1.csv", &full_export(), 0);
    let h = Harness::new(config(&f));
    h.set_now(noon("2026-11-20"));

    let rows = h.get_json(RANGE).await;
    assert_eq!(measures(&rows), as_the_page_does(&[&first]));
    assert_eq!(
        rows["imported"]["csv"], rows["counts"]["csv"],
        "{}",
        rows["imported"]
    );
    let before = h.get_json("/api/report?weeks=3").await;
    assert!(before["kpis"]["week"]["active_engineers"].as_u64().unwrap() >= 2);

    // Added: a later, thinner file (no lines column) for two of Ann's days.
    // It replaces her sessions only; the lines the first file gave stay.
    let thinner = write_file(
        &f.imports,
        "a-later-correction.csv",
        "Date,Email,Sessions\n2026-11-10,ann@acme.io,9\n2026-11-11,ann@acme.io,0\n",
        60,
    );
    let rows = h.get_json(RANGE).await;
    let got = measures(&rows);
    assert_eq!(got, as_the_page_does(&[&first, &thinner]));
    let ann = |d: &str| {
        got.iter()
            .find(|r| r.0 == "ann@acme.io" && r.1 == d)
            .cloned()
            .unwrap()
    };
    assert_eq!(
        ann("2026-11-10"),
        ("ann@acme.io".into(), "2026-11-10".into(), 9, 120)
    );
    assert_eq!(
        ann("2026-11-11"),
        ("ann@acme.io".into(), "2026-11-11".into(), 0, 120)
    );
    // The same figures reach the report.
    let after = h.get_json("/api/report?weeks=3").await;
    assert_ne!(
        after["kpis"]["week"]["sessions"],
        before["kpis"]["week"]["sessions"]
    );

    // Changed: the first file saved again with one more person; it is now
    // the latest file, so its sessions win over the correction again.
    let mut more = full_export();
    more.push_str("2026-11-18,eve@acme.io,1,5,1,0,0.10\n");
    write_file(&f.imports, "usage-week1.csv", &more, 120);
    let got = measures(&h.get_json(RANGE).await);
    assert!(got.iter().any(|r| r.0 == "eve@acme.io"), "{got:?}");
    let ann10 = got
        .iter()
        .find(|r| r.0 == "ann@acme.io" && r.1 == "2026-11-10")
        .unwrap();
    assert_eq!(ann10.2, 3, "the re-saved file is newer: {ann10:?}");
    assert_eq!(got, as_the_page_does(&[&thinner, &first]));

    // Removed: its rows go.
    std::fs::remove_file(&thinner).unwrap();
    std::fs::remove_file(&first).unwrap();
    let rows = h.get_json(RANGE).await;
    assert!(rows["rows"].as_array().unwrap().is_empty(), "{rows}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bad_file_in_the_exports_folder_is_named_with_line_and_reason_and_its_good_rows_kept() {
    let f = folder();
    // Line 3 has a date that does not exist; lines 2 and 4 are good.
    write_file(
        &f.imports,
        "mixed.csv",
        &format!("{HEADER}2026-11-16,ann@acme.io,3,120,10,2,2.50\n2026-13-45,bob@acme.io,1,40,4,1,0.90\n2026-11-17,bob@acme.io,1,40,4,1,0.90\n"),
        0,
    );
    write_file(&f.imports, "broken.json", "{\"data\": [", 10);
    write_file(&f.imports, "notes.md", "not an export", 20);
    let outside = f.dir.path().join("secret.csv");
    std::fs::write(&outside, full_export()).unwrap();
    std::os::unix::fs::symlink(&outside, f.imports.join("link.csv")).unwrap();
    let h = Harness::new(config(&f));

    let rows = h.get_json(RANGE).await;
    let got = measures(&rows);
    assert_eq!(
        got,
        vec![
            ("ann@acme.io".into(), "2026-11-16".into(), 3, 120),
            ("bob@acme.io".into(), "2026-11-17".into(), 1, 40)
        ],
        "the good rows of the bad file, nothing from the link outside"
    );

    let sources = h.get_json("/api/sources").await;
    let imports = &sources["imports"];
    assert_eq!(imports["configured"], true);
    assert_eq!(imports["folder"], "exports");
    let files = imports["snapshot"]["files"].as_array().unwrap();
    let file = |name: &str| files.iter().find(|x| x["name"] == name).unwrap().clone();
    let mixed = file("mixed.csv");
    assert!(mixed["error"].is_null());
    assert_eq!(mixed["day_rows"], 2);
    let problem = &mixed["problems"][0];
    assert_eq!(problem["file"], "mixed.csv");
    assert_eq!(problem["line"], 3);
    assert!(
        problem["message"].as_str().unwrap().contains("2026-13-45"),
        "{problem}"
    );
    let broken = file("broken.json");
    assert!(
        broken["error"].as_str().unwrap().contains("broken.json"),
        "{broken}"
    );
    let skipped = imports["snapshot"]["skipped"].as_array().unwrap();
    let reason = |name: &str| {
        skipped
            .iter()
            .find(|s| s["name"] == name)
            .map(|s| s["reason"].as_str().unwrap().to_string())
            .unwrap_or_else(|| panic!("{name} not listed as skipped: {skipped:?}"))
    };
    assert!(reason("link.csv").contains("outside"));
    assert!(reason("notes.md").contains("not a .csv"));
    let text = imports["status_text"].as_str().unwrap();
    assert!(text.contains("1 file could not be used"), "{text}");
    // No full path of the server's disk in the answer.
    let body = sources.to_string();
    assert!(
        !body.contains(&f.dir.path().display().to_string()),
        "{body}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_metrics_token_reads_metrics_and_is_refused_everywhere_else() {
    let f = folder();
    write_file(&f.imports, "usage.csv", &full_export(), 0);
    let mut c = config(&f);
    // A non-loopback listener: every read needs a credential.
    c.listen = "0.0.0.0:8080".parse().unwrap();
    c.secrets.metrics_token = Secret::new("scrape-me-please-0123456789");
    let h = Harness::new(c);
    let token = [("authorization", "Bearer scrape-me-please-0123456789")];

    let (status, body) = h.get("/metrics", &token).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(
        body.contains("scoreboard_weekly_active_engineers"),
        "{body}"
    );
    for uri in ["/api/rows", "/api/report", "/api/sources", "/api/roster"] {
        let (status, body) = h.get(uri, &token).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{uri}: {body}");
        assert!(body.contains("reads /metrics only"), "{uri}: {body}");
    }
    let (status, _) = h.get("/metrics", &[]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = h
        .get(
            "/metrics",
            &[("authorization", "Bearer scrape-me-please-wrong")],
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

/// GET through the service; status, the cache header and the body.
async fn get_cached(h: &Harness, uri: &str) -> (String, String) {
    use tower::ServiceExt;
    let req = axum::http::Request::builder()
        .uri(uri)
        .body(axum::body::Body::empty())
        .unwrap();
    let resp = scoreboard_server::api::app(h.state.clone())
        .oneshot(req)
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let cache = resp.headers()["x-scoreboard-cache"]
        .to_str()
        .unwrap()
        .to_string();
    let bytes = http_body_util::BodyExt::collect(resp.into_body())
        .await
        .unwrap()
        .to_bytes();
    (cache, String::from_utf8(bytes.to_vec()).unwrap())
}

#[tokio::test(flavor = "multi_thread")]
async fn the_report_cache_answers_the_same_json_until_a_write_changes_the_data() {
    let f = folder();
    write_file(&f.imports, "usage.csv", &full_export(), 0);
    let h = Harness::new(config(&f));
    let uri = "/api/report?weeks=3";

    let (first, body) = get_cached(&h, uri).await;
    assert_eq!(first, "miss");
    let (again, cached) = get_cached(&h, uri).await;
    assert_eq!(again, "hit");
    assert_eq!(cached, body, "the cached answer is the computed one");
    let (other, _) = get_cached(&h, "/api/report?weeks=2").await;
    assert_eq!(other, "miss", "another query is computed");

    // A write to the store (a sync storing a day) moves the version on.
    let row = parse::import(
        "api.csv",
        b"Date,Email,Sessions\n2026-11-18,zed@acme.io,5\n",
        &ImportOptions::default(),
    )
    .unwrap()
    .rows
    .into_iter()
    .map(|mut r| {
        r.source = Source::AdminApi;
        r.present = Source::AdminApi.measures();
        r
    })
    .collect::<Vec<_>>();
    h.store
        .replace_day(
            Source::AdminApi,
            day("2026-11-18"),
            &row,
            &DayStats::default(),
            noon("2026-11-20"),
        )
        .unwrap();
    let (after_write, changed) = get_cached(&h, uri).await;
    assert_eq!(after_write, "miss");
    assert_ne!(changed, body, "the new row is in the report");
    assert_eq!(get_cached(&h, uri).await.0, "hit");

    // A file added to the exports folder does too.
    write_file(
        &f.imports,
        "more.csv",
        "Date,Email,Sessions\n2026-11-18,kim@acme.io,2\n",
        30,
    );
    let (after_file, _) = get_cached(&h, uri).await;
    assert_eq!(after_file, "miss");
    assert!(h.state.report_cache().len() <= scoreboard_server::state::REPORT_CACHE_ENTRIES);
}

// ---- the weekly digest --------------------------------------------------------

/// A chat's incoming webhook on 127.0.0.1: records each body it receives
/// and answers with the status set in `status`.
struct Receiver {
    url: String,
    bodies: Arc<Mutex<Vec<Value>>>,
    status: Arc<AtomicU16>,
}

impl Receiver {
    async fn start() -> Receiver {
        let bodies = Arc::new(Mutex::new(Vec::new()));
        let status = Arc::new(AtomicU16::new(200));
        let (b, s) = (bodies.clone(), status.clone());
        let app = axum::Router::new().route(
            "/hooks/{secret}",
            axum::routing::post(move |axum::Json(v): axum::Json<Value>| {
                let (b, s) = (b.clone(), s.clone());
                async move {
                    b.lock().unwrap().push(v);
                    StatusCode::from_u16(s.load(Ordering::SeqCst)).unwrap()
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Receiver {
            url: format!("http://{addr}/hooks/T0SECRET0B0SECRET0XXXXXXXX"),
            bodies,
            status,
        }
    }

    fn texts(&self) -> Vec<String> {
        self.bodies
            .lock()
            .unwrap()
            .iter()
            .map(|v| v["text"].as_str().unwrap().to_string())
            .collect()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn digest_webhook_posts_the_digest_to_a_local_receiver() {
    let f = folder();
    let usage = write_file(&f.imports, "usage.csv", &full_export(), 0);
    let hook = Receiver::start().await;
    let roster = f.dir.path().join("roster.csv");
    let run = {
        let (roster, usage) = (roster.clone(), usage.clone());
        move |extra: &[&str]| {
            let out = common::scoreboard_command()
                .args([
                    "digest",
                    "--as-of",
                    "2026-11-20",
                    "--url",
                    "https://dash.acme.io/",
                ])
                .args(extra)
                .arg("--roster")
                .arg(&roster)
                .arg(&usage)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            String::from_utf8(out.stdout).unwrap()
        }
    };
    let url = hook.url.clone();
    // The CLI blocks; the receiver answers on this runtime meanwhile.
    let (printed, posted) = tokio::task::spawn_blocking(move || {
        let printed = run(&["--dry-run", "--include-non-starters"]);
        let posted = run(&["--webhook", &url, "--include-non-starters"]);
        (printed, posted)
    })
    .await
    .unwrap();
    assert!(
        posted.contains("Posted the digest of the week of 2026-11-09"),
        "{posted}"
    );
    let texts = hook.texts();
    assert_eq!(texts.len(), 1);
    assert_eq!(texts[0], printed, "the posted text is the dry run's");

    // What it says: the report's sentence, the cards, power users, new
    // starters, the teams, who has not started, the link.
    let report: Value = serde_json::from_slice(
        &common::scoreboard_command()
            .args([
                "report",
                "--format",
                "json",
                "--as-of",
                "2026-11-20",
                "--roster",
            ])
            .arg(&roster)
            .arg(&usage)
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    let text = &texts[0];
    assert!(
        text.starts_with("**Claude Code adoption, week of 9 Nov (2026-W46)**"),
        "{text}"
    );
    assert!(text.contains(report["summary"].as_str().unwrap()), "{text}");
    assert!(text.contains("- Weekly active engineers: **3**"), "{text}");
    assert!(text.contains("**Power users to celebrate ("), "{text}");
    assert!(text.contains("**New starters (0):**"), "{text}");
    assert!(
        text.contains("**Not started yet (1):** `eve@acme.io`"),
        "{text}"
    );
    assert!(
        text.contains("[Open the dashboard](https://dash.acme.io/)"),
        "{text}"
    );
}

/// A config whose digest is due on Fridays at 09:00 Berlin time and posted
/// to `hook`, checked every 20 ms, retried fast.
fn scheduled(f: &Folder, hook: &str) -> Config {
    let mut c = config(f);
    c.listen = "127.0.0.1:0".parse().unwrap();
    c.feeds.digest_schedule =
        Some(scoreboard_server::digest::Schedule::parse("Fri 09:00 Europe/Berlin").unwrap());
    c.feeds.digest_tick = Duration::from_millis(20);
    c.secrets.digest_webhook_url = Secret::new(hook);
    c.anthropic.max_retries = 2;
    c.anthropic.retry_min_delay = Duration::from_millis(1);
    c.anthropic.retry_max_delay = Duration::from_millis(5);
    c
}

type FakeClock = Arc<Mutex<DateTime<Utc>>>;

async fn start(c: Config, clock: &FakeClock) -> scoreboard_server::serve::Running {
    let now = clock.clone();
    scoreboard_server::serve::start_with_clock(c, Arc::new(move || *now.lock().unwrap()))
        .await
        .unwrap()
}

fn berlin(d: &str, h: u32, m: u32) -> DateTime<Utc> {
    let d: NaiveDate = day(d);
    chrono_tz::Europe::Berlin
        .from_local_datetime(&d.and_hms_opt(h, m, 0).unwrap())
        .unwrap()
        .with_timezone(&Utc)
}

/// Waits (real time) until `cond` holds, at most 10 s.
async fn eventually(what: &str, cond: impl Fn() -> bool) {
    for _ in 0..500 {
        if cond() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("never happened: {what}");
}

#[tokio::test(flavor = "multi_thread")]
async fn serve_posts_the_digest_once_per_week_across_a_restart() {
    let f = folder();
    write_file(&f.imports, "usage.csv", &full_export(), 0);
    let hook = Receiver::start().await;
    let clock: FakeClock = Arc::new(Mutex::new(berlin("2026-11-20", 8, 30)));

    let server = start(scheduled(&f, &hook.url), &clock).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        hook.texts().is_empty(),
        "not due before Friday 09:00 Berlin"
    );
    *clock.lock().unwrap() = berlin("2026-11-20", 9, 1);
    eventually("the first post", || hook.texts().len() == 1).await;
    assert!(
        hook.texts()[0].contains("week of 9 Nov"),
        "{}",
        hook.texts()[0]
    );
    server.stop().await.unwrap();

    // Restarted on the same store later the same week: no second post.
    *clock.lock().unwrap() = berlin("2026-11-21", 10, 0);
    let server = start(scheduled(&f, &hook.url), &clock).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(hook.texts().len(), 1, "posted once this week");
    let sources = server_sources(&server).await;
    assert_eq!(sources["digest"]["posted_week"], "2026-11-16");
    assert_eq!(sources["digest"]["last_ok"], true);

    // The next week's Friday: posted again. The data ends on 19 Nov, so
    // the week of 16 Nov is not fully covered: the digest is still about
    // the week of 9 Nov, and says how old the data is.
    *clock.lock().unwrap() = berlin("2026-11-27", 9, 0);
    eventually("the next week's post", || hook.texts().len() == 2).await;
    let next = &hook.texts()[1];
    assert!(
        next.contains("week of 9 Nov") && next.contains("newest data"),
        "{next}"
    );
    tokio::time::sleep(Duration::from_millis(100)).await;
    let sources = server_sources(&server).await;
    assert_eq!(sources["digest"]["posted_week"], "2026-11-23");
    server.stop().await.unwrap();
}

async fn server_sources(server: &scoreboard_server::serve::Running) -> Value {
    let url = format!("http://{}/api/sources", server.addr);
    reqwest::get(url).await.unwrap().json().await.unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failing_webhook_is_retried_and_the_failure_shows_in_api_sources() {
    let f = folder();
    write_file(&f.imports, "usage.csv", &full_export(), 0);
    let hook = Receiver::start().await;
    hook.status.store(500, Ordering::SeqCst);
    let clock: FakeClock = Arc::new(Mutex::new(berlin("2026-11-20", 9, 30)));
    let server = start(scheduled(&f, &hook.url), &clock).await;

    // One attempt and its two retries, then it waits for the hour to pass.
    eventually("three tries", || hook.texts().len() == 3).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(hook.texts().len(), 3, "not again within the hour");
    let sources = server_sources(&server).await;
    let d = &sources["digest"];
    assert_eq!(d["last_ok"], false, "{d}");
    assert!(d["posted_week"].is_null(), "{d}");
    let error = d["last_error"].as_str().unwrap();
    assert!(error.contains("HTTP 500"), "{error}");
    assert!(
        !sources.to_string().contains("SECRET"),
        "the webhook URL is never shown: {sources}"
    );

    // An hour later the webhook works again: posted.
    hook.status.store(200, Ordering::SeqCst);
    *clock.lock().unwrap() = berlin("2026-11-20", 10, 31);
    eventually("the post after the failure", || hook.texts().len() == 4).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let d = server_sources(&server).await["digest"].clone();
    assert_eq!(d["last_ok"], true, "{d}");
    assert_eq!(d["posted_week"], "2026-11-16");
    server.stop().await.unwrap();
}

#[test]
fn digest_without_files_reads_the_servers_store_folder_and_roster() {
    let f = folder();
    write_file(&f.imports, "usage.csv", &full_export(), 0);
    // The store exists (a server ran here once).
    scoreboard_server::store::Store::open(&f.data.join("scoreboard.db")).unwrap();
    let config = f.dir.path().join("scoreboard.toml");
    std::fs::write(
        &config,
        format!(
            "data_dir = {:?}\nroster = {:?}\nimports_dir = {:?}\ndigest_include_non_starters = true\n",
            f.data,
            f.dir.path().join("roster.csv"),
            f.imports
        ),
    )
    .unwrap();
    let out = common::scoreboard_command()
        .args(["digest", "--dry-run", "--as-of", "2026-11-20", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("week of 9 Nov"), "{text}");
    assert!(text.contains("- Weekly active engineers: **3**"), "{text}");
    assert!(
        text.contains("**Not started yet (1):** `eve@acme.io`"),
        "{text}"
    );

    // No store there: said plainly, exit 2.
    let out = common::scoreboard_command()
        .args(["digest", "--dry-run", "--data-dir"])
        .arg(f.dir.path().join("nowhere"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no server store"));
}
