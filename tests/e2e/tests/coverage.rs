//! No data is not zero (metrics.md §2, issue 10): exports whose newest day is
//! 18 Nov, opened on 2 Dec, must never show 0 weekly active engineers or a
//! sentence that went "to 0"; the page says how old the newest data is, in
//! large type next to the sentence, inside the first screen.
//!
//! The screenshot lands in `tests/artifacts/coverage-stale-desktop.png`.

use std::{
    fs,
    path::{Path, PathBuf},
    time::Duration,
};

use scoreboard_e2e::harness::{demo_file, failed, App, Result};
use serde_json::{json, Value};

/// Two weeks after the newest day of the export below.
const PAGE: &str = "/?as_of=2026-12-02";
/// The newest day the export keeps (a Wednesday).
const NEWEST: &str = "2026-11-18";
const TIMEOUT: Duration = Duration::from_secs(120);
const DESKTOP: (u32, u32) = (1440, 900);

/// The demo export cut after `NEWEST`, written into `dir`.
fn export_ending_on_the_18th(dir: &Path) -> Result<PathBuf> {
    let src = demo_file("claude_code_usage.csv");
    let text = fs::read_to_string(&src)
        .map_err(|e| failed(format!("cannot read {}: {e}", src.display())))?;
    let kept: Vec<&str> = text
        .lines()
        .enumerate()
        .filter(|(i, line)| *i == 0 || line.get(..10).is_some_and(|day| day <= NEWEST))
        .map(|(_, line)| line)
        .collect();
    let path = dir.join("usage_to_18_nov.csv");
    fs::write(&path, kept.join("\n") + "\n")
        .map_err(|e| failed(format!("cannot write {}: {e}", path.display())))?;
    Ok(path)
}

/// What the first screen says, with the page scrolled to the top.
const STATE_JS: &str = r#"
window.scrollTo(0, 0);
const text = (el) => (el ? el.textContent.replace(/\s+/g, ' ').trim() : null);
const rect = (el) => {
  if (!el) return null;
  const r = el.getBoundingClientRect();
  return { top: r.top, bottom: r.bottom, left: r.left, right: r.right };
};
const headline = document.querySelector('#staleness .stale-headline');
return {
  summary: text(document.getElementById('summary')),
  wae: document.querySelector('#kpi-wae .value')?.getAttribute('data-value') ?? null,
  wae_text: text(document.querySelector('#kpi-wae .value')),
  adoption: text(document.getElementById('kpi-adoption')),
  headline: text(headline),
  headline_rect: rect(headline),
  staleness: text(document.getElementById('staleness')),
};
"#;

#[tokio::test]
async fn two_weeks_after_the_newest_data_no_card_or_sentence_shows_zero_and_the_page_says_how_old_the_data_is(
) -> Result<()> {
    let Some(app) = App::start().await? else {
        return Ok(());
    };
    app.run(async |app| {
        let dir = tempfile::Builder::new()
            .prefix("scoreboard-e2e-files-")
            .tempdir()
            .map_err(|e| failed(format!("cannot create a temporary directory: {e}")))?;
        let files = [
            export_ending_on_the_18th(dir.path())?,
            demo_file("roster.csv"),
        ];
        app.set_viewport(DESKTOP.0, DESKTOP.1, false).await?;
        app.open(PAGE).await?;
        app.find("#file-input").await?;
        let seen = app.mark_count("scoreboard:import-end").await?;
        app.upload("#file-input", &files).await?;
        app.wait_for_mark("scoreboard:import-end", seen, TIMEOUT)
            .await?;
        let state: Value = app
            .eventually("the stale data's headline", TIMEOUT, async |app| {
                let s = app.execute(STATE_JS, Vec::new()).await?;
                Ok(if s["headline"].is_string() && s["wae"].is_string() {
                    Ok(s)
                } else {
                    Err(format!("not yet: {s}"))
                })
            })
            .await?;
        app.screenshot("coverage-stale-desktop").await?;

        let wae = state["wae"].as_str().unwrap_or_default();
        assert!(
            wae.parse::<u64>().is_ok_and(|n| n > 0),
            "the weekly active engineers card is the latest covered week's, never 0: {state:#}"
        );
        let summary = state["summary"].as_str().unwrap_or_default();
        assert!(
            !summary.contains("to 0"),
            "the sentence compares covered weeks only: {summary}"
        );
        assert!(
            !state["adoption"]
                .as_str()
                .unwrap_or_default()
                .starts_with("adoption 0 %"),
            "adoption is the covered week's: {state:#}"
        );
        assert_eq!(
            state["headline"],
            json!("newest data: 18 Nov, 14 days ago"),
            "the staleness headline: {state:#}"
        );
        let r = &state["headline_rect"];
        let edge = |k: &str| r[k].as_f64().unwrap_or(f64::NAN);
        assert!(
            edge("top") >= 0.0
                && edge("bottom") <= f64::from(DESKTOP.1)
                && edge("right") <= f64::from(DESKTOP.0),
            "the headline is inside the first screen at {}×{}: {r}",
            DESKTOP.0,
            DESKTOP.1
        );
        assert!(
            state["staleness"]
                .as_str()
                .is_some_and(|s| s.contains("export the weeks since")),
            "it says what to do: {state:#}"
        );
        Ok(())
    })
    .await
}
