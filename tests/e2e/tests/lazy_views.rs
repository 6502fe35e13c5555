//! The first visit loads only what the first screen shows (issue 12 item 4):
//! the views below the fold, the dialogs and the shared/embedded pages are wasm
//! modules of their own (`wasm-split-*/`, scripts/wasm-split.sh), and the
//! browser fetches none of them until one of those views is shown. Then each
//! arrives and the view renders.
//!
//! Read from the browser's resource timing list (`performance`), so what is
//! checked is what was fetched, not how long it took.

use std::path::PathBuf;
use std::time::Duration;

use scoreboard_e2e::harness::{demo_file, failed, App, Result, DIST_VAR};
use serde_json::Value;

/// Generous: the tests share two cores with cargo builds and with each other.
const TIMEOUT: Duration = Duration::from_secs(120);

/// Every resource the page has fetched so far, as URL paths.
const FETCHED_JS: &str =
    "return performance.getEntriesByType('resource').map(e => new URL(e.name).pathname);";

async fn fetched(app: &App) -> Result<Vec<String>> {
    let v = app.execute(FETCHED_JS, vec![]).await?;
    Ok(v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default())
}

fn lazy_modules(fetched: &[String]) -> Vec<&String> {
    fetched
        .iter()
        .filter(|p| p.contains("/wasm-split-") && p.ends_with(".wasm"))
        .collect()
}

/// The lazily loaded modules the build made (so the test cannot pass by
/// there being none).
fn built_modules() -> Result<Vec<PathBuf>> {
    let dist =
        std::env::var_os(DIST_VAR).ok_or_else(|| failed(format!("{DIST_VAR} is not set")))?;
    let mut out = Vec::new();
    for d in std::fs::read_dir(&dist)
        .map_err(|e| failed(format!("cannot read {dist:?}: {e}")))?
        .flatten()
    {
        if d.file_name().to_string_lossy().starts_with("wasm-split-") {
            for e in std::fs::read_dir(d.path()).into_iter().flatten().flatten() {
                if e.path().extension().is_some_and(|x| x == "wasm") {
                    out.push(e.path());
                }
            }
        }
    }
    Ok(out)
}

#[tokio::test]
async fn the_first_visit_fetches_no_lazily_loaded_view_until_one_is_shown() -> Result<()> {
    let Some(app) = App::start().await? else {
        return Ok(());
    };
    let built = built_modules()?;
    assert!(
        !built.is_empty(),
        "the build made no lazily loaded modules (dist/wasm-split-*/*.wasm): is the `split` feature on in index.html?"
    );
    app.run(async |app| {
        // A first visit: nothing stored, no demo. The intro and the file input show.
        app.open("/").await?;
        app.wait_for("#file-input", TIMEOUT).await?;
        let at_start = fetched(app).await?;
        assert!(
            at_start.iter().any(|p| p.ends_with("/__wasm_split.js")),
            "the page's loader of its lazily loaded modules was not fetched: {at_start:#?}"
        );
        assert!(
            lazy_modules(&at_start).is_empty(),
            "the first visit fetched lazily loaded modules before any of their views was shown: {:#?}",
            lazy_modules(&at_start)
        );

        // Files picked: the dashboard shows, with the views below the fold.
        let seen = app.mark_count("scoreboard:import-end").await?;
        app.upload("#file-input", &[demo_file("claude_code_usage.csv"), demo_file("roster.csv")])
            .await?;
        app.wait_for_mark("scoreboard:import-end", seen, TIMEOUT).await?;
        for below in ["#charts-title", "#teams-title", "#people-title", "#health-title", "#definitions-title", "#export-weeks-csv"] {
            app.wait_for(below, TIMEOUT).await?;
        }
        app.wait_for_js("document.querySelectorAll('#definitions .def').length > 0", TIMEOUT)
            .await?;
        let with_data = fetched(app).await?;
        assert!(
            !lazy_modules(&with_data).is_empty(),
            "the views below the fold rendered, yet no lazily loaded module was fetched: {with_data:#?}"
        );

        // The share dialog is a module of its own too: fetched on the click.
        let before_share = lazy_modules(&with_data).len();
        app.click("#share-button").await?;
        app.wait_for("#share-dialog", TIMEOUT).await?;
        let after_share = fetched(app).await?;
        assert!(
            lazy_modules(&after_share).len() > before_share,
            "opening the share dialog fetched no module of its own: {:#?}",
            lazy_modules(&after_share)
        );
        // Never fetched twice: each module is instantiated once and kept.
        let mut names = lazy_modules(&after_share);
        let n = names.len();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), n, "a lazily loaded module was fetched more than once");

        let errors = app.console_errors().await?;
        assert!(errors.is_empty(), "the page logged errors: {errors:#?}");
        app.screenshot("lazy-views-share-dialog").await?;
        Ok(())
    })
    .await
}
