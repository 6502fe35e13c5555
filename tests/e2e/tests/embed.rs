//! Embeddable views (issue 15): `/?embed=summary` and `/?embed=trend&figure=…`
//! inside an iframe of another local origin, allowed by `frame_ancestors` or
//! refused without it; a trend of the server's live rows; a shared snapshot
//! embedded; and a gated server embedded through a sign-in proxy, which works
//! only where the browser sends the proxy's cookie to the frame.
//!
//! Origins: the framing site runs on its own port and is reached as
//! `localhost` or as `127.0.0.1` (two origins, and two sites: a cookie that
//! is `SameSite=Lax` on `127.0.0.1` is not sent from a `localhost` page).
#![allow(clippy::expect_used, clippy::unwrap_used)] // a failed expectation is a failed test

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use scoreboard_e2e::embed::{framing_page, HostSite, SignInProxy};
use scoreboard_e2e::harness::{demo_file, failed, App, Result, BIN_VAR};
use scoreboard_e2e::telemetry::{create_token, fixture, replay_capture};
use serde_json::Value;

/// The demo's "today" (`public/demo/manifest.json`).
const DEMO_AS_OF: &str = "2026-11-22";
/// A day after the captured telemetry session (Sunday 22 Nov 2026), so its week is complete.
const LIVE_AS_OF: &str = "2026-11-30";
const TIMEOUT: Duration = Duration::from_secs(120);
/// The frame sizes the README recommends.
const SUMMARY_FRAME: (u32, u32) = (800, 400);
const TREND_FRAME: (u32, u32) = (600, 300);

/// A config file holding `text`, in a directory that lives as long as the guard.
fn config_file(text: &str) -> Result<(tempfile::TempDir, PathBuf)> {
    let dir = tempfile::Builder::new()
        .prefix("scoreboard-e2e-config-")
        .tempdir()
        .map_err(|e| failed(format!("cannot create a temporary directory: {e}")))?;
    let path = dir.path().join("scoreboard.toml");
    std::fs::write(&path, text)
        .map_err(|e| failed(format!("cannot write {}: {e}", path.display())))?;
    Ok((dir, path))
}

/// `scoreboard report --format json --as-of <demo day> --weeks 8` over the demo's files.
fn cli_report_of_demo() -> Result<Value> {
    let bin = std::env::var_os(BIN_VAR).ok_or_else(|| failed(format!("{BIN_VAR} is not set")))?;
    let output = Command::new(&bin)
        .args([
            "report", "--format", "json", "--as-of", DEMO_AS_OF, "--weeks", "8",
        ])
        .arg(demo_file("claude_code_usage.csv"))
        .arg(demo_file("roster.csv"))
        .output()
        .map_err(|e| failed(format!("cannot run scoreboard report: {e}")))?;
    if !output.status.success() {
        return Err(failed(format!(
            "scoreboard report failed: {}",
            String::from_utf8_lossy(&output.stderr)
        )));
    }
    serde_json::from_slice(&output.stdout)
        .map_err(|e| failed(format!("scoreboard report printed no JSON: {e}")))
}

/// What an embed shows, read inside its frame: the sentence, three cards'
/// exact values, the charts, whatever of the full page is there (nothing
/// should be), the link, and whether the document overflows its frame.
const EMBED_STATE_JS: &str = r#"
const q = (s) => document.querySelector(s);
const value = (id) => { const el = q(`#${id} .value`); return el ? el.getAttribute('data-value') : null; };
const link = q('#embed-link');
const root = document.documentElement;
return {
  summary: q('#summary') ? q('#summary').textContent.replace(/\s+/g, ' ').trim() : null,
  wae: value('kpi-wae'),
  sessions: value('kpi-sessions'),
  lines: value('kpi-lines'),
  cards: document.querySelectorAll('.kpi').length,
  charts: document.querySelectorAll('svg.chart-svg').length,
  page_parts: ['header.top', '.filters', '#drop-overlay', 'footer.foot', '#dashboard', '.dropzone', '#share-button', '.chart-export', '.people-block']
    .filter((s) => q(s) !== null),
  link_text: link ? link.textContent.trim() : null,
  link_href: link ? link.href : null,
  link_target: link ? link.target : null,
  overflow_x: root.scrollWidth - root.clientWidth,
  overflow_y: root.scrollHeight - root.clientHeight,
  size: [window.innerWidth, window.innerHeight],
};
"#;

async fn embed_state(app: &App) -> Result<Value> {
    app.execute(EMBED_STATE_JS, Vec::new()).await
}

fn str_at<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key].as_str().unwrap_or_default()
}

/// Nothing of the full page, no scrollbars, the link to the dashboard in a new tab.
fn check_bare(what: &str, state: &Value, as_of_words: &str) {
    assert_eq!(
        state["page_parts"],
        Value::Array(Vec::new()),
        "{what}: an embed shows no header, panels, controls, drop zone or footer: {state}"
    );
    assert!(
        state["overflow_x"].as_i64() == Some(0) && state["overflow_y"].as_i64() == Some(0),
        "{what}: no scrollbars in its frame: {state}"
    );
    assert!(
        str_at(state, "link_text").ends_with(&format!("as of {as_of_words}"))
            && str_at(state, "link_text").starts_with("Scoreboard"),
        "{what}: the link says where the figures come from and their day: {state}"
    );
    assert_eq!(str_at(state, "link_target"), "_blank", "{what}: {state}");
    assert!(
        !str_at(state, "link_href").contains("embed="),
        "{what}: the link opens the full dashboard: {state}"
    );
}

#[tokio::test]
async fn an_allowed_origin_frames_the_summary_and_a_trend_and_another_origin_is_refused(
) -> Result<()> {
    let site = HostSite::start().await?;
    let allowed = site.origin("localhost");
    let refused = site.origin("127.0.0.1");
    let (_config_dir, config) = config_file(&format!("frame_ancestors = [\"{allowed}\"]\n"))?;
    let Some(app) = App::builder()
        .demo()
        .arg("--config")
        .arg(&config)
        .start()
        .await?
    else {
        return Ok(());
    };
    let summary = format!("{}/?embed=summary&as_of={DEMO_AS_OF}", app.base_url());
    let trend = format!(
        "{}/?embed=trend&figure=active-engineers&as_of={DEMO_AS_OF}",
        app.base_url()
    );
    site.page(
        "/platform",
        framing_page(
            "Our platform: Claude Code adoption",
            &[
                (summary.clone(), SUMMARY_FRAME.0, SUMMARY_FRAME.1),
                (trend, TREND_FRAME.0, TREND_FRAME.1),
            ],
        ),
    );
    let cli = cli_report_of_demo()?;
    app.run(async |app| {
        app.goto(&format!("{allowed}/platform")).await?;

        // The summary: core's sentence and cards, the same as `scoreboard report`.
        app.enter_frame(0).await?;
        app.wait_for("#kpi-wae .value[data-value]", TIMEOUT).await?;
        let state = embed_state(app).await?;
        assert_eq!(
            state["size"],
            serde_json::json!([SUMMARY_FRAME.0, SUMMARY_FRAME.1]),
            "the embed is sized by its frame"
        );
        assert_eq!(str_at(&state, "summary"), cli["summary"].as_str().unwrap_or("?"));
        let week = &cli["kpis"]["week"];
        for (card, field) in [
            ("wae", "active_engineers"),
            ("sessions", "sessions"),
            ("lines", "lines_accepted"),
        ] {
            assert_eq!(
                str_at(&state, card),
                week[field].to_string(),
                "the {card} card shows `scoreboard report`'s {field}: {state}"
            );
        }
        assert_eq!(state["cards"], 6, "the six cards: {state}");
        check_bare("the summary embed", &state, "22 Nov 2026");
        app.leave_frame().await?;

        // The trend: one chart and nothing else.
        app.enter_frame(1).await?;
        app.wait_for("svg.chart-svg", TIMEOUT).await?;
        let state = embed_state(app).await?;
        assert_eq!(state["charts"], 1, "one chart: {state}");
        assert_eq!(state["cards"], 0, "no cards in a trend: {state}");
        check_bare("the trend embed", &state, "22 Nov 2026");
        app.leave_frame().await?;
        app.screenshot("embed-allowed-origin").await?;

        // Another origin: the browser refuses to show the page in its frame.
        app.console().await?;
        app.goto(&format!("{refused}/platform")).await?;
        let refusal = app
            .eventually(
                "the browser's refusal to frame the page",
                TIMEOUT,
                async |app| {
                    let lines = app.console().await?;
                    Ok(lines
                        .iter()
                        .find(|l| l.message.contains("frame-ancestors"))
                        .map(|l| l.message.clone())
                        .ok_or_else(|| format!("console: {lines:?}")))
                },
            )
            .await?;
        assert!(
            refusal.contains(&allowed) && refusal.contains(app.base_url()) && refusal.contains("blocked"),
            "Chromium names the rule it applied: {refusal}"
        );
        app.enter_frame(0).await?;
        let inside = app
            .execute(
                "return {summary: !!document.querySelector('#summary, .embed'), url: location.href};",
                Vec::new(),
            )
            .await?;
        assert_eq!(
            inside["summary"], false,
            "the refused frame holds no part of the page: {inside}"
        );
        app.leave_frame().await?;
        app.screenshot("embed-refused-origin").await?;
        Ok(())
    })
    .await
}

#[tokio::test]
async fn a_trend_of_the_servers_live_rows_draws_one_chart_and_a_wrong_figure_names_the_right_ones(
) -> Result<()> {
    let Some(app) = App::start().await? else {
        return Ok(());
    };
    app.run(async |app| {
        send_telemetry(app);

        app.set_viewport(TREND_FRAME.0, TREND_FRAME.1, false)
            .await?;
        app.open(&format!(
            "/?embed=trend&figure=sessions&weeks=4&as_of={LIVE_AS_OF}"
        ))
        .await?;
        app.wait_for("svg.chart-svg", TIMEOUT).await?;
        let state = embed_state(app).await?;
        assert_eq!(state["charts"], 1, "{state}");
        check_bare("a trend of live rows", &state, "30 Nov 2026");
        assert!(
            str_at(&state, "link_href").contains("window=4")
                && str_at(&state, "link_href").contains(&format!("as_of={LIVE_AS_OF}")),
            "the dashboard link keeps the embed's weeks and day: {state}"
        );
        // The captured session's sessions, drawn in the week of 16 Nov (not 0, not a gap).
        let weeks = app
            .execute(
                "return [...document.querySelectorAll('svg.chart-svg .bar')].length;",
                Vec::new(),
            )
            .await?;
        assert!(
            weeks.as_u64().unwrap_or(0) >= 1,
            "a bar for the week with telemetry: {weeks}"
        );
        app.screenshot("embed-trend-live").await?;

        app.open("/?embed=trend&figure=adoption-rate").await?;
        let error = app.text("#embed-error").await?;
        for name in [
            "active-engineers",
            "adoption",
            "sessions",
            "lines-accepted",
            "lines-per-engineer",
            "acceptance",
            "cost-per-engineer",
            "tiers",
        ] {
            assert!(error.contains(name), "a wrong figure lists {name}: {error}");
        }
        assert!(error.contains("adoption-rate"), "{error}");

        // A shared snapshot (the v2 link of core's fixtures) embeds the same way.
        let link = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../core/tests/share_data/v2-link.txt"),
        )
        .map_err(|e| failed(format!("the v2 link fixture: {e}")))?;
        app.set_viewport(SUMMARY_FRAME.0, SUMMARY_FRAME.1, false)
            .await?;
        app.open(&format!("/?embed=summary#s={}", link.trim()))
            .await?;
        app.wait_for("#kpi-wae", TIMEOUT).await?;
        let state = embed_state(app).await?;
        assert!(!str_at(&state, "summary").is_empty(), "{state}");
        assert!(
            str_at(&state, "link_href").contains("#s=v2."),
            "the link opens the same snapshot on the full page: {state}"
        );
        app.screenshot("embed-snapshot-summary").await?;
        Ok(())
    })
    .await
}

/// The identity header the sign-in proxy sets.
const IDENTITY_HEADER: &str = "x-auth-request-email";

#[tokio::test]
async fn a_gated_server_embeds_through_the_sign_in_proxy_where_its_same_site_cookie_is_sent(
) -> Result<()> {
    let site = HostSite::start().await?;
    let same_site_page = site.origin("127.0.0.1");
    let cross_site_page = site.origin("localhost");
    let (_config_dir, config) = config_file(&format!(
        "trusted_identity_header = \"{IDENTITY_HEADER}\"\n"
    ))?;
    let Some(app) = App::builder()
        .arg("--config")
        .arg(&config)
        // The environment form of frame_ancestors, comma-separated.
        .env(
            "SCOREBOARD_FRAME_ANCESTORS",
            format!("{same_site_page},{cross_site_page}"),
        )
        .start()
        .await?
    else {
        return Ok(());
    };
    let proxy =
        SignInProxy::start(app.base_url(), IDENTITY_HEADER, "lead@example.com", "Lax").await?;
    site.page(
        "/platform",
        framing_page(
            "Our platform: Claude Code adoption",
            &[(
                format!("{}/?embed=summary&as_of={LIVE_AS_OF}", proxy.url()),
                SUMMARY_FRAME.0,
                SUMMARY_FRAME.1,
            )],
        ),
    );
    app.run(async |app| {
        send_telemetry(app);

        // Signing in at the proxy sets its session cookie (SameSite=Lax, as most proxies do).
        app.goto(&format!("{}/sign-in", proxy.url())).await?;
        app.find("#signed-in").await?;

        // A page of the same site (127.0.0.1, another port): the cookie goes with the
        // frame's requests, the proxy names the person, the server's rows show.
        app.goto(&format!("{same_site_page}/platform")).await?;
        app.enter_frame(0).await?;
        app.wait_for("#summary", TIMEOUT).await?;
        let state = embed_state(app).await?;
        assert!(!str_at(&state, "summary").is_empty(), "{state}");
        app.leave_frame().await?;
        app.screenshot("embed-gated-same-site").await?;

        // A page of another site (localhost): the browser keeps the Lax cookie back,
        // so the proxy names nobody and the server refuses to read; the embed says so.
        app.goto(&format!("{cross_site_page}/platform")).await?;
        app.enter_frame(0).await?;
        let error = app.text("#embed-error").await?;
        assert!(
            error.contains("401") && error.contains("trusted sign-in header"),
            "a cross-site frame without the proxy's cookie is refused, in words: {error}"
        );
        app.leave_frame().await?;
        app.screenshot("embed-gated-cross-site").await?;
        Ok(())
    })
    .await
}

/// One captured Claude Code session sent to the server with an ingest token
/// of its own; every request must be taken.
fn send_telemetry(app: &App) {
    let (token, _) = create_token(app.data_dir(), "embed", None);
    let statuses = replay_capture(
        &fixture("claude-code-2.1.330", "edit-json-delta"),
        app.base_url(),
        &token,
    );
    assert!(
        statuses.iter().all(|s| *s == 200),
        "telemetry taken: {statuses:?}"
    );
}
