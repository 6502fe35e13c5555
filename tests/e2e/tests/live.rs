//! Live mode: the real `scoreboard serve`, its Admin API source pointed at a
//! fake Anthropic API on 127.0.0.1, and the page in headless Chromium.
//!
//! The fake is the smallest faithful subset of ../shared/reference/sources.md
//! §1 the sync uses: `/v1/organizations/me`, `/usage_report/claude_code`
//! (one UTC day per call, the `{data, has_more, next_page}` envelope, cents),
//! `/users` and `/api_keys` (`{data, first_id, last_id, has_more}`), the
//! `x-api-key` and `anthropic-version` checks, a `request-id` header, and
//! Anthropic's error body for the scripted outage.
//!
//! Nothing waits for the page's two-minute timer: the tests press the
//! source bar's "Refresh now" button until what they look for appears.
#![allow(clippy::expect_used, clippy::unwrap_used)] // a failed expectation is a failed test

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use std::io::{Read as _, Write as _};
use std::net::{TcpListener, TcpStream};

use fantoccini::error::CmdError;
use fantoccini::Locator;
use scoreboard_e2e::harness::{App, Error, Result};
use serde_json::{json, Value};

const ADMIN_KEY: &str = "sk-ant-admin01-E2EFAKE-0123456789abcdef";
/// How many times a test presses "Refresh now" before giving up (about a
/// second apart): enough for the server's next one-minute sync on a busy machine.
const REFRESH_TRIES: usize = 180;

// ---- dates (the server uses the real clock, so the fake's data is relative to today) ----

/// Days since 1970-01-01 → `YYYY-MM-DD` (proleptic Gregorian, H. Hinnant's algorithm).
fn civil(days: i64) -> String {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

fn today() -> i64 {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    i64::try_from(secs / 86_400).unwrap_or(0)
}

/// Monday, Tuesday and Wednesday of the latest complete ISO week: inside
/// the 14 days the server backfills, and the week the KPI cards show.
fn last_week_days() -> [String; 3] {
    let t = today();
    // 1970-01-01 was a Thursday: (days + 3) % 7 is 0 on Mondays.
    let monday = t - (t + 3).rem_euclid(7) - 7;
    [civil(monday), civil(monday + 1), civil(monday + 2)]
}

// ---- the fake Anthropic API -------------------------------------------------------

#[derive(Default)]
struct FakeData {
    org: Option<(String, String)>,
    usage: BTreeMap<String, Vec<Value>>,
    users: Vec<Value>,
    /// Answer every request with a 500 (an upstream outage).
    down: bool,
}

struct Fake {
    url: String,
    data: Arc<Mutex<FakeData>>,
}

impl Fake {
    /// Listens on 127.0.0.1 in a thread of its own for the rest of the test process.
    fn start(data: FakeData) -> Fake {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the fake");
        let url = format!("http://{}", listener.local_addr().expect("its address"));
        let data = Arc::new(Mutex::new(data));
        let shared = data.clone();
        std::thread::spawn(move || {
            for (n, stream) in listener.incoming().enumerate() {
                let Ok(stream) = stream else { continue };
                let shared = shared.clone();
                std::thread::spawn(move || serve_one(stream, &shared, n));
            }
        });
        Fake { url, data }
    }

    fn set_down(&self, down: bool) {
        self.data.lock().expect("fake data").down = down;
    }
}

/// Reads one request (the sync only sends GETs), answers, closes.
fn serve_one(mut stream: TcpStream, data: &Mutex<FakeData>, n: usize) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(k) => buf.extend_from_slice(&chunk[..k]),
        }
        if buf.len() > 64 * 1024 {
            return;
        }
    }
    let head = String::from_utf8_lossy(&buf).to_string();
    let mut lines = head.split("\r\n");
    let target = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .unwrap_or("/")
        .to_string();
    let mut headers = BTreeMap::new();
    for l in lines {
        if let Some((k, v)) = l.split_once(':') {
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
        }
    }
    let (path, query) = target.split_once('?').unwrap_or((&target, ""));
    let query: BTreeMap<String, String> = query
        .split('&')
        .filter_map(|p| p.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let (status, body) = answer(data, path, &query, &headers);
    let reason = match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        404 => "Not Found",
        _ => "Internal Server Error",
    };
    let body = body.to_string();
    let response = format!(
        "HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\nrequest-id: req_e2e{n:06}\r\n\
         content-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(response.as_bytes());
    let _ = stream.shutdown(std::net::Shutdown::Both);
}

fn error_body(kind: &str, message: &str) -> Value {
    json!({"type": "error", "error": {"type": kind, "message": message}, "request_id": "req_e2e"})
}

fn answer(
    data: &Mutex<FakeData>,
    path: &str,
    query: &BTreeMap<String, String>,
    headers: &BTreeMap<String, String>,
) -> (u16, Value) {
    let data = data.lock().expect("fake data");
    if data.down {
        return (500, error_body("api_error", "Internal server error"));
    }
    if headers.get("anthropic-version").map(String::as_str) != Some("2023-06-01") {
        return (
            400,
            error_body(
                "invalid_request_error",
                "anthropic-version header is required",
            ),
        );
    }
    if headers.get("x-api-key").map(String::as_str) != Some(ADMIN_KEY) {
        return (401, error_body("authentication_error", "invalid x-api-key"));
    }
    let id_page = |all: &[Value]| {
        json!({
            "data": all,
            "first_id": all.first().map(|v| v["id"].clone()),
            "last_id": all.last().map(|v| v["id"].clone()),
            "has_more": false,
        })
    };
    match path {
        "/v1/organizations/me" => match &data.org {
            Some((id, name)) => (200, json!({"id": id, "name": name, "type": "organization"})),
            None => (404, error_body("not_found_error", "organization not found")),
        },
        "/v1/organizations/usage_report/claude_code" => {
            let Some(day) = query.get("starting_at") else {
                return (
                    400,
                    error_body("invalid_request_error", "starting_at: Field required"),
                );
            };
            let records = data.usage.get(day).cloned().unwrap_or_default();
            (
                200,
                json!({"data": records, "has_more": false, "next_page": null}),
            )
        }
        "/v1/organizations/users" => (200, id_page(&data.users)),
        "/v1/organizations/api_keys" => (200, id_page(&[])),
        _ => (404, error_body("not_found_error", "no such route")),
    }
}

/// An Admin API Claude Code record of a signed-in user, as sources.md §1 shows it.
fn record(
    day: &str,
    email: &str,
    sessions: u64,
    added: u64,
    accepted: u64,
    rejected: u64,
) -> Value {
    json!({
        "date": format!("{day}T00:00:00Z"),
        "actor": {"type": "user_actor", "email_address": email},
        "organization_id": "11111111-2222-3333-4444-555555555555",
        "customer_type": "api",
        "subscription_type": null,
        "terminal_type": "vscode",
        "is_remote": false,
        "core_metrics": {
            "num_sessions": sessions,
            "lines_of_code": {"added": added, "removed": 1},
            "commits_by_claude_code": 1,
            "pull_requests_by_claude_code": 0
        },
        "tool_actions": {"edit_tool": {"accepted": accepted, "rejected": rejected}},
        "model_breakdown": [{
            "model": "claude-opus-5",
            "tokens": {"input": 1000, "output": 200, "cache_read": 5000, "cache_creation": 300},
            "estimated_cost": {"currency": "USD", "amount": 150}
        }]
    })
}

fn user(id: &str, email: &str, name: &str) -> Value {
    json!({"id": id, "email": email, "name": name, "role": "developer",
           "added_at": "2026-01-05T00:00:00Z", "type": "user"})
}

/// Acme Robotics: Ann and Bob used Claude Code last week, Cy is on the roster and never did.
fn acme() -> FakeData {
    let [mon, tue, wed] = last_week_days();
    let mut usage = BTreeMap::new();
    usage.insert(
        mon.clone(),
        vec![
            record(&mon, "ann@acme.io", 3, 120, 8, 2),
            record(&mon, "bob@acme.io", 1, 10, 1, 1),
        ],
    );
    usage.insert(tue.clone(), vec![record(&tue, "ann@acme.io", 2, 30, 4, 0)]);
    usage.insert(wed.clone(), vec![record(&wed, "bob@acme.io", 4, 50, 3, 1)]);
    FakeData {
        org: Some(("org-e2e".into(), "Acme Robotics".into())),
        usage,
        users: vec![
            user("user_01", "ann@acme.io", "Ann A"),
            user("user_02", "bob@acme.io", "Bob B"),
            user("user_03", "cy@acme.io", "Cy C"),
        ],
        down: false,
    }
}

// ---- the server and the page ---------------------------------------------------

/// A config file pointing the Admin API at the fake, with a short backfill,
/// the shortest sync interval the server accepts (a minute) and no retry
/// delays (an outage fails the next sync at once).
fn config_file(dir: &Path, fake: &Fake) -> PathBuf {
    let path = dir.join("scoreboard.toml");
    let text = format!(
        "[anthropic]\nbase_url = \"{}\"\nbackfill_days = 14\nsync_interval = \"60s\"\nmax_retries = 0\n\
         retry_min_delay = \"1ms\"\nretry_max_delay = \"2ms\"\n",
        fake.url
    );
    std::fs::write(&path, text).expect("write the config");
    path
}

async fn start(fake: &Fake, config_dir: &Path) -> Result<Option<App>> {
    App::builder()
        .arg("--config")
        .arg(config_file(config_dir, fake))
        .env("ANTHROPIC_ADMIN_API_KEY", ADMIN_KEY)
        .start()
        .await
}

/// Presses "Refresh now" until `selector` matches an element whose text
/// contains `needle`, and returns that text.
async fn refresh_until(app: &App, selector: &str, needle: &str) -> Result<String> {
    app.find("#live-refresh").await?;
    let mut last = String::new();
    for _ in 0..REFRESH_TRIES {
        if let Ok(el) = app.wait_for(selector, Duration::from_millis(200)).await {
            last = el.text().await.unwrap_or_default();
            if last.contains(needle) {
                return Ok(last);
            }
        }
        if let Ok(b) = app.client().find(Locator::Css("#live-refresh")).await {
            let _ = b.click().await;
        }
        tokio::time::sleep(Duration::from_millis(800)).await;
    }
    Err(Error::ConditionTimeout {
        what: format!("`{selector}` containing {needle:?} (pressing Refresh now)"),
        waited: Duration::from_secs(REFRESH_TRIES as u64),
        url: app.base_url().to_string(),
        last,
    })
}

/// Opens the details under the one-line source status (the source cards,
/// telemetry coverage, Connect Claude Code); they start folded.
async fn open_source_details(app: &App) -> Result<()> {
    let toggle = app.find("#sources-toggle").await?;
    if toggle.attr("aria-expanded").await.ok().flatten().as_deref() != Some("true") {
        toggle
            .click()
            .await
            .map_err(wd("open the source details"))?;
    }
    app.find("#sources-details").await.map(drop)
}

fn wd(action: &'static str) -> impl FnOnce(CmdError) -> Error {
    move |source| Error::WebDriver {
        action: action.to_string(),
        source: Box::new(source),
    }
}

async fn data_value(app: &App, selector: &str) -> Result<String> {
    let el = app.find(selector).await?;
    Ok(el
        .attr("data-value")
        .await
        .ok()
        .flatten()
        .unwrap_or_default())
}

fn person_cell(email: &str, col: &str) -> String {
    format!("#people-table tr[data-person=\"{email}\"] td[data-col=\"{col}\"]")
}

// ---- telemetry -----------------------------------------------------------------

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/fixtures/otlp/claude-code-2.1.330/edit-json-delta")
}

/// `scoreboard token create` against the running server's data directory;
/// returns the token and everything the command printed.
fn create_token(data_dir: &Path, endpoint: &str) -> (String, String) {
    let bin = std::env::var_os("SCOREBOARD_BIN").expect("SCOREBOARD_BIN is set when the app runs");
    let mut command = std::process::Command::new(bin);
    command
        .args([
            "token",
            "create",
            "--name",
            "e2e laptops",
            "--endpoint",
            endpoint,
        ])
        .arg("--data-dir")
        .arg(data_dir);
    // As the harness does for the server: none of the caller's settings or keys.
    for (key, _) in std::env::vars_os() {
        let name = key.to_string_lossy();
        if name.starts_with("SCOREBOARD_") || name.starts_with("ANTHROPIC_") {
            command.env_remove(&key);
        }
    }
    let out = command.output().expect("run scoreboard token create");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "token create failed: {text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let token = text
        .split_whitespace()
        .find(|w| w.starts_with("sbi_") && w.len() == 68)
        .expect("the printed token")
        .to_string();
    (token, text)
}

/// POSTs one body to the server over a plain HTTP/1.1 connection; the status code.
fn post(base_url: &str, path: &str, token: &str, body: &[u8]) -> u16 {
    let addr = base_url.trim_start_matches("http://");
    let mut s = TcpStream::connect(addr).expect("connect to the server");
    let _ = s.set_read_timeout(Some(Duration::from_secs(30)));
    let head = format!(
        "POST {path} HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/json\r\n\
         authorization: Bearer {token}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).expect("send");
    s.write_all(body).expect("send the body");
    let mut reply = Vec::new();
    let _ = s.read_to_end(&mut reply);
    String::from_utf8_lossy(&reply)
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0)
}

/// Replays every request of the captured "edit" session, as Claude Code sent it.
fn replay_capture(base_url: &str, token: &str) -> Vec<u16> {
    let dir = fixtures();
    let index: Value =
        serde_json::from_slice(&std::fs::read(dir.join("index.json")).expect("index.json"))
            .expect("index.json is JSON");
    let mut statuses = Vec::new();
    for req in index.as_array().expect("a list of requests") {
        let body = std::fs::read(dir.join(req["files"]["raw"].as_str().expect("raw file")))
            .expect("the body");
        let path = req["path"].as_str().expect("path");
        statuses.push(post(base_url, path, token, &body));
    }
    statuses
}

// ---- the tests -------------------------------------------------------------------

#[tokio::test]
async fn the_page_shows_the_admin_api_dashboard_live_and_telemetry_after_refresh() -> Result<()> {
    let fake = Fake::start(acme());
    let tmp = tempfile::tempdir().expect("temp dir");
    let Some(app) = start(&fake, tmp.path()).await? else {
        return Ok(());
    };
    app.run(async |app| {
        app.open("/").await?;
        open_source_details(app).await?;
        // The source bar names the organisation the key belongs to.
        let card =
            refresh_until(app, "#sources [data-source=\"admin-api\"]", "Acme Robotics").await?;
        assert!(card.contains("Anthropic Admin API"), "{card}");
        // The live dashboard, from the fake's rows, computed by core in the page.
        refresh_until(app, &person_cell("ann@acme.io", "sessions"), "5").await?;
        assert_eq!(
            data_value(app, &person_cell("ann@acme.io", "sessions")).await?,
            "5"
        );
        assert_eq!(
            data_value(app, &person_cell("bob@acme.io", "sessions")).await?,
            "5"
        );
        assert_eq!(
            data_value(app, &person_cell("ann@acme.io", "lines_accepted")).await?,
            "150"
        );
        assert_eq!(
            data_value(app, &person_cell("bob@acme.io", "lines_accepted")).await?,
            "60"
        );
        // Ann: 12 of 14 edits accepted.
        let ann_rate: f64 = data_value(app, &person_cell("ann@acme.io", "acceptance_rate"))
            .await?
            .parse()
            .unwrap_or(-1.0);
        assert!(
            (ann_rate - 12.0 / 14.0).abs() < 1e-6,
            "Ann's acceptance rate {ann_rate}"
        );
        // The latest complete week: two active engineers of three on the roster, ten sessions.
        let wae = app
            .find("#kpi-wae .value")
            .await?
            .attr("data-value")
            .await
            .ok()
            .flatten();
        assert_eq!(wae.as_deref(), Some("2"));
        let sessions = app
            .find("#kpi-sessions .value")
            .await?
            .attr("data-value")
            .await
            .ok()
            .flatten();
        assert_eq!(sessions.as_deref(), Some("10"));
        // Cy is on the Admin API's users list and never used it: a non-starter, named.
        app.find("#non-starters li[data-person=\"cy@acme.io\"]")
            .await?;
        // Telemetry: nobody has sent any yet.
        let status = app.text("#telemetry-status").await?;
        assert!(status.contains("No telemetry received yet"), "{status}");
        app.screenshot("live-admin-api").await?;

        // An engineer's Claude Code sends its telemetry with an ingest token.
        let (token, printed) = create_token(app.data_dir(), app.base_url());
        let statuses = replay_capture(app.base_url(), &token);
        assert!(
            statuses.iter().all(|s| *s == 200),
            "telemetry answers {statuses:?}"
        );
        assert_eq!(refresh_until(app, "#telemetry-24h", "1").await?, "1");
        assert_eq!(app.text("#telemetry-7d").await?, "1");
        // The captured session names only its installation: a person-day row of its own.
        let row = app
            .find("#people-table tr[data-person^=\"device:\"] td[data-col=\"sessions\"]")
            .await?;
        assert_eq!(
            row.attr("data-value").await.ok().flatten().as_deref(),
            Some("1")
        );
        app.find("table.health-sources tr[data-source=\"otlp\"]")
            .await?;
        // No roster member has sent telemetry: Ann and Bob are the roll-out gap, Cy a non-starter.
        let gap = app.text("#telemetry-gap").await?;
        assert!(
            gap.contains("ann@acme.io")
                && gap.contains("bob@acme.io")
                && !gap.contains("cy@acme.io"),
            "{gap}"
        );
        let silent = app.text("#telemetry-silent").await?;
        assert!(silent.contains("cy@acme.io"), "{silent}");

        // "Connect Claude Code" shows exactly the snippet `token create` printed.
        app.find("#connect-open")
            .await?
            .click()
            .await
            .map_err(wd("open Connect Claude Code"))?;
        let input = app.find("#connect-token").await?;
        input
            .send_keys(&token)
            .await
            .map_err(wd("paste the token"))?;
        let snippet = app
            .find("#connect-snippet")
            .await?
            .prop("textContent")
            .await
            .ok()
            .flatten()
            .unwrap_or_default();
        let start = printed.find("{\n").expect("the printed settings");
        let end = printed[start..].find("\n}").expect("their end") + start + 2;
        assert_eq!(snippet, &printed[start..end]);
        app.screenshot("live-telemetry-connect").await?;
        let errors = app.console_errors().await?;
        assert!(errors.is_empty(), "the page logged errors: {errors:#?}");
        Ok(())
    })
    .await
}

#[tokio::test]
async fn an_empty_organisation_is_shown_as_a_warning_in_words_not_zero_adoption() -> Result<()> {
    let fake = Fake::start(FakeData {
        org: Some(("org-seats".into(), "Seats Only GmbH".into())),
        ..FakeData::default()
    });
    let tmp = tempfile::tempdir().expect("temp dir");
    let Some(app) = start(&fake, tmp.path()).await? else {
        return Ok(());
    };
    app.run(async |app| {
        app.open("/").await?;
        open_source_details(app).await?;
        let warning = refresh_until(
            app,
            "#sources [data-source=\"admin-api\"] .source-warnings",
            "Seats Only GmbH",
        )
        .await?;
        assert!(
            warning.contains("no Claude Code activity at all")
                && warning
                    .contains("does not report engineers who use Claude Code with a claude.ai"),
            "{warning}"
        );
        // No dashboard of zeros: without rows there are no KPI cards at all.
        assert!(
            app.client().find(Locator::Css("#kpi-wae")).await.is_err(),
            "an empty organisation must not show an adoption figure"
        );
        app.screenshot("live-empty-organisation").await?;
        Ok(())
    })
    .await
}

#[tokio::test]
async fn an_outage_shows_the_stored_figures_as_stale_with_the_last_successful_sync() -> Result<()> {
    let fake = Fake::start(acme());
    let tmp = tempfile::tempdir().expect("temp dir");
    let Some(app) = start(&fake, tmp.path()).await? else {
        return Ok(());
    };
    app.run(async |app| {
        app.open("/").await?;
        open_source_details(app).await?;
        // The backfill succeeds.
        refresh_until(app, &person_cell("ann@acme.io", "sessions"), "5").await?;
        // Anthropic goes down; the next periodic sync (a minute later) fails.
        fake.set_down(true);
        let card = refresh_until(
            app,
            "#sources [data-source=\"admin-api\"][data-state=\"stale\"]",
            "Last successful sync at",
        )
        .await?;
        assert!(card.contains("failed"), "{card}");
        assert!(card.contains("Stale"), "{card}");
        // The stored figures are still shown, not zeros.
        assert_eq!(
            data_value(app, &person_cell("ann@acme.io", "sessions")).await?,
            "5"
        );
        app.screenshot("live-outage-stale").await?;
        Ok(())
    })
    .await
}
