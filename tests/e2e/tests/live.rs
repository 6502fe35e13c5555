//! Live mode: the real `scoreboard serve`, its Admin API source pointed at a
//! fake Anthropic API on 127.0.0.1, and the page in headless Chromium.
//!
//! The fake is the server tests' (`scoreboard_test_support::anthropic`,
//! faithful to ../shared/reference/sources.md §1), on a thread of its own so
//! it answers while a test blocks; an outage is a 500 on every path.
//!
//! Nothing waits for the page's two-minute timer: the tests press the
//! source bar's "Refresh now" button until what they look for appears.
#![allow(clippy::expect_used, clippy::unwrap_used)] // a failed expectation is a failed test

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use fantoccini::error::CmdError;
use fantoccini::Locator;

use scoreboard_e2e::harness::{failed, App, Error, Result};
use scoreboard_e2e::telemetry::{
    create_token, fixture, open_source_details, post, refresh_until, replay_capture,
};
use scoreboard_test_support::anthropic::{
    day, user, user_record, Fake, FakeData, Fault, Rule, ADMIN_KEY,
};
use scoreboard_test_support::otlp::{fixtures, Template};
use serde_json::{json, Value};

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

// ---- the fake Anthropic API (scoreboard-test-support's) ------------------------

/// An Admin API Claude Code record of a signed-in user, as sources.md §1 shows it:
/// one line removed, one commit, edits as given, $1.50.
fn record(
    day: &str,
    email: &str,
    sessions: u64,
    added: u64,
    accepted: u64,
    rejected: u64,
) -> Value {
    let mut r = user_record(day, "rfc3339", email, sessions, added, 150.0);
    r["core_metrics"]["lines_of_code"]["removed"] = json!(1);
    r["tool_actions"] = json!({"edit_tool": {"accepted": accepted, "rejected": rejected}});
    r
}

/// Acme Robotics: Ann and Bob used Claude Code last week, Cy is on the roster and never did.
fn acme() -> FakeData {
    let [mon, tue, wed] = last_week_days();
    let mut usage = BTreeMap::new();
    usage.insert(
        day(&mon),
        vec![
            record(&mon, "ann@acme.io", 3, 120, 8, 2),
            record(&mon, "bob@acme.io", 1, 10, 1, 1),
        ],
    );
    usage.insert(day(&tue), vec![record(&tue, "ann@acme.io", 2, 30, 4, 0)]);
    usage.insert(day(&wed), vec![record(&wed, "bob@acme.io", 4, 50, 3, 1)]);
    FakeData {
        org: Some(("org-e2e".into(), "Acme Robotics".into())),
        usage,
        users: vec![
            user("user_01", "ann@acme.io", "Ann A"),
            user("user_02", "bob@acme.io", "Bob B"),
            user("user_03", "cy@acme.io", "Cy C"),
        ],
        ..FakeData::default()
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
        fake.url()
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

// ---- the tests -------------------------------------------------------------------

#[tokio::test]
async fn the_page_shows_the_admin_api_dashboard_live_and_telemetry_after_refresh() -> Result<()> {
    let fake = Fake::spawn(acme(), 1000);
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
        let (token, printed) = create_token(app.data_dir(), "e2e laptops", Some(app.base_url()));
        let capture = fixture("claude-code-2.1.330", "edit-json-delta");
        let statuses = replay_capture(&capture, app.base_url(), &token);
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
    let fake = Fake::spawn(
        FakeData {
            org: Some(("org-seats".into(), "Seats Only GmbH".into())),
            ..FakeData::default()
        },
        1000,
    );
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
    let fake = Fake::spawn(acme(), 1000);
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
        fake.add_rule(
            Rule::everywhere(Fault::Status {
                status: 500,
                kind: "api_error",
                retry_after: None,
            })
            .always(),
        );
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

// ---- incremental rows (issue 13) ---------------------------------------------------

/// `window.__scoreboard_rows` (the page's last `api/rows` answer: kind,
/// rows, bytes) once the mark `scoreboard:rows-<kind>` was seen more than
/// `seen` times.
async fn rows_answer(app: &App, kind: &str, seen: u64) -> Result<Value> {
    app.wait_for_mark(
        &format!("scoreboard:rows-{kind}"),
        seen,
        Duration::from_secs(30),
    )
    .await?;
    app.execute("return window.__scoreboard_rows;", Vec::new())
        .await
}

/// Every figure the page shows with a `data-value`, keyed by where it is.
async fn figures(app: &App) -> Result<Vec<String>> {
    let v = app
        .execute(
            "return Array.from(document.querySelectorAll('[data-value]')).map(e => \
             (e.closest('[id]') ? e.closest('[id]').id : '') + '|' + \
             (e.closest('tr') && e.closest('tr').dataset.person || '') + '|' + \
             (e.dataset.col || '') + '=' + e.dataset.value).sort();",
            Vec::new(),
        )
        .await?;
    Ok(serde_json::from_value(v).unwrap_or_default())
}

/// Presses "Refresh now" until the page's rows answer is of `kind` (a
/// background sync may change the store between two presses).
async fn refresh_until_kind(app: &App, kind: &str) -> Result<Value> {
    let name = format!("scoreboard:rows-{kind}");
    for _ in 0..30 {
        let seen = app.mark_count(&name).await?;
        app.click("#live-refresh").await?;
        let waited = app.wait_for_mark(&name, seen, Duration::from_secs(3)).await;
        if waited.is_ok() {
            return app
                .execute("return window.__scoreboard_rows;", Vec::new())
                .await;
        }
    }
    Err(failed(format!(
        "no `{kind}` rows answer after 30 refreshes"
    )))
}

/// How many `api/rows` answers brought rows (a full answer or a delta).
async fn changed_answers(app: &App) -> Result<u64> {
    Ok(app.mark_count("scoreboard:rows-full").await?
        + app.mark_count("scoreboard:rows-delta").await?)
}

#[tokio::test]
async fn a_refresh_fetches_only_changed_rows_and_a_reload_opens_from_indexeddb() -> Result<()> {
    let fake = Fake::spawn(acme(), 1000);
    let tmp = tempfile::tempdir().expect("temp dir");
    let Some(app) = start(&fake, tmp.path()).await? else {
        return Ok(());
    };
    app.run(async |app| {
        app.open("/").await?;
        open_source_details(app).await?;
        // The Admin API's rows are shown.
        refresh_until(app, &person_cell("ann@acme.io", "sessions"), "5").await?;
        // Unchanged: the server answers 304 and the page keeps what it holds.
        let unchanged = refresh_until_kind(app, "unchanged").await?;
        assert_eq!(unchanged["bytes"], 0);
        let before = figures(app).await?;
        // ...and computes nothing again: the dashboard is only computed when
        // rows came (a background sync may bring some between two presses).
        let computed = app.mark_count("scoreboard:compute-start").await?;
        let rows_came = changed_answers(app).await?;
        refresh_until_kind(app, "unchanged").await?;
        let computed_again = app.mark_count("scoreboard:compute-start").await? - computed;
        assert!(
            computed_again <= changed_answers(app).await? - rows_came,
            "an unchanged refresh computed the dashboard again ({computed_again} times)"
        );

        // New telemetry from one engineer: the refresh brings her rows only.
        let (token, _) = create_token(app.data_dir(), "e2e laptops", Some(app.base_url()));
        let t = Template::load(&fixtures(), "claude-code-2.1.330", "edit-json-delta")
            .expect("the captured session");
        for b in t.session("inst-dee", "s-dee", Some("dee@acme.io"), 0, false) {
            assert_eq!(post(app.base_url(), b.path, &token, &b.body), 200);
        }
        let delta = refresh_until_kind(app, "delta").await?;
        assert_eq!(delta["rows"], 1, "only Dee's telemetry row: {delta}");
        refresh_until(app, "#people-table", "dee@acme.io").await?;
        let after = figures(app).await?;
        assert_ne!(before, after);

        // A reload opens from IndexedDB and asks only whether anything changed
        // (the rows are kept in the background once each change is shown).
        let answers = changed_answers(app).await?;
        app.wait_for_mark("scoreboard:rows-kept", answers - 1, Duration::from_secs(30))
            .await?;
        let restored = app.mark_count("scoreboard:rows-restored").await?;
        assert_eq!(restored, 0, "nothing was kept before the first visit");
        app.reload().await?;
        app.wait_for_mark("scoreboard:rows-restored", 0, Duration::from_secs(30))
            .await?;
        app.wait_for_js("window.__scoreboard_rows", Duration::from_secs(30))
            .await?;
        let first = app
            .execute("return window.__scoreboard_rows;", Vec::new())
            .await?;
        assert_ne!(first["kind"], "full", "the reload fetched everything: {first}");
        refresh_until(app, "#people-table", "dee@acme.io").await?;
        assert_eq!(figures(app).await?, after, "figures after a reload from IndexedDB");

        // A fresh full load (nothing kept) shows the same figures.
        app.execute_async(
            "const done = arguments[0]; const r = indexedDB.open('scoreboard'); \
             r.onsuccess = () => { const tx = r.result.transaction('live', 'readwrite'); \
             tx.objectStore('live').clear(); tx.oncomplete = () => { r.result.close(); done(true); }; };",
            Vec::new(),
        )
        .await?;
        app.reload().await?;
        let full = rows_answer(app, "full", 0).await?;
        assert!(full["rows"].as_u64().unwrap_or(0) > 1, "{full}");
        refresh_until(app, "#people-table", "dee@acme.io").await?;
        assert_eq!(figures(app).await?, after, "figures of a fresh full load");
        let errors = app.console_errors().await?;
        assert!(errors.is_empty(), "the page logged errors: {errors:#?}");
        Ok(())
    })
    .await
}
