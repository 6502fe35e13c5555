//! The column dialog and the measure-by-measure merge of a later file (issue 10,
//! metrics.md §1):
//! - a file with a column of numbers the importer does not recognise opens the
//!   column dialog naming it; skipping keeps the file without it (and nothing
//!   is remembered, so a reload does not bring a mapping back); "Map columns
//!   again" maps it and the figure appears; mapping it to something else
//!   makes the figure follow;
//! - a mapping applied once reads the next file with the same headers
//!   without asking;
//! - a thinner later file (date, e-mail and lines accepted only) keeps the
//!   sessions and cost it lacks, also after a reload;
//! - at 390×844 the staleness headline is inside the first screen and the
//!   column dialog fits the screen.
//!
//! Screenshots land in `tests/artifacts/columns-*.png`.

use std::{path::Path, time::Duration};

use scoreboard_e2e::harness::{failed, App, Result};
use serde_json::{json, Value};

const TIMEOUT: Duration = Duration::from_secs(120);
const DESKTOP: (u32, u32) = (1440, 900);
const PHONE: (u32, u32) = (390, 844);

/// Three days after the newest day of the files below: the reference week is
/// 16–22 Nov 2026 and the data is not stale.
const PAGE: &str = "/?as_of=2026-11-25";
/// Seventeen days after the newest day: the page says the data is old.
const STALE_PAGE: &str = "/?as_of=2026-12-09";

/// A usage export whose sessions column has a name the importer does not know.
/// Hand-worked figures of the week of 16 Nov: ana 3 + 1 "conversations", 40 + 10
/// lines, $2.50; ben 4, 60 lines, $3.00. So sessions 8 (once the column is
/// mapped), lines accepted 110, cost per active engineer $5.50 ÷ 2 = $2.75.
const CONVERSATIONS: &str = "Date,Email,Conversations,Lines accepted,Spend (USD)\n\
2026-11-09,ana@example.com,2,100,1.00\n\
2026-11-16,ana@example.com,3,40,2.00\n\
2026-11-17,ben@example.com,4,60,3.00\n\
2026-11-22,ana@example.com,1,10,0.50\n";

/// The same days as a full export: sessions 8, lines 110, cost per active engineer $2.75.
const FULL: &str = "Date,Email,Sessions,Lines accepted,Spend (USD)\n\
2026-11-09,ana@example.com,2,100,1.00\n\
2026-11-16,ana@example.com,3,40,2.00\n\
2026-11-17,ben@example.com,4,60,3.00\n\
2026-11-22,ana@example.com,1,10,0.50\n";

/// A later, thinner file for two of those days: lines accepted only. Lines of
/// the week become 70 + 10 + 90 = 170; sessions (8) and cost ($2.75 per
/// active engineer) are unknown in it, so they stay.
const THIN: &str = "Date,Email,Lines accepted\n\
2026-11-16,ana@example.com,70\n\
2026-11-17,ben@example.com,90\n";

fn write(dir: &Path, name: &str, text: &str) -> Result<std::path::PathBuf> {
    let path = dir.join(name);
    std::fs::write(&path, text)
        .map_err(|e| failed(format!("cannot write {}: {e}", path.display())))?;
    Ok(path)
}

fn temp_dir() -> Result<tempfile::TempDir> {
    tempfile::Builder::new()
        .prefix("scoreboard-e2e-columns-")
        .tempdir()
        .map_err(|e| failed(format!("cannot create a temporary directory: {e}")))
}

/// The cards' exact figures, the column dialog (if open) and the remembered mappings.
const STATE_JS: &str = r#"
const value = (id) => document.querySelector(`#${id} .value`)?.dataset.value ?? null;
const dialog = document.getElementById('mapping-dialog');
const text = (el) => (el ? el.textContent.replace(/\s+/g, ' ').trim() : null);
const mappings = [];
for (let i = 0; i < localStorage.length; i++) {
  const k = localStorage.key(i);
  if (k.startsWith('scoreboard:mapping:')) mappings.push(k);
}
const select = dialog?.querySelector('tr[data-header="Conversations"] select');
return {
  sessions: value('kpi-sessions'),
  lines: value('kpi-lines'),
  cost: value('kpi-cost'),
  wae: value('kpi-wae'),
  dialog: text(dialog),
  likely_rows: dialog ? [...dialog.querySelectorAll('tr.likely')].map((r) => r.dataset.header) : [],
  conversations_read_as: select ? select.value : null,
  mappings,
};
"#;

async fn state(app: &App) -> Result<Value> {
    app.execute(STATE_JS, Vec::new()).await
}

/// Waits until the cards say `sessions`, `lines` and `cost`.
async fn wait_for_cards(app: &App, what: &str, want: [&str; 3]) -> Result<Value> {
    app.eventually(what, TIMEOUT, async |app| {
        let s = state(app).await?;
        let seen = [&s["sessions"], &s["lines"], &s["cost"]];
        Ok(
            if seen.iter().zip(want).all(|(v, w)| v.as_str() == Some(w)) {
                Ok(s)
            } else {
                Err(format!("want sessions, lines, cost = {want:?}: {s}"))
            },
        )
    })
    .await
}

async fn upload(app: &App, file: &Path) -> Result<u64> {
    let seen = app.mark_count("scoreboard:import-end").await?;
    app.upload("#file-input", &[file]).await?;
    Ok(seen)
}

async fn upload_and_wait(app: &App, file: &Path) -> Result<()> {
    let seen = upload(app, file).await?;
    app.wait_for_mark("scoreboard:import-end", seen, TIMEOUT)
        .await
}

/// Waits until the browser's storage holds exactly these files, then reloads
/// the page and waits until the stored data is read back.
async fn saved_then_reload(app: &App, files: Value) -> Result<()> {
    app.eventually("the data to be saved in IndexedDB", TIMEOUT, async |app| {
        let meta = app.stored_meta().await?;
        let names: Vec<Value> = meta["files"]
            .as_array()
            .map(|f| f.iter().map(|x| x["file"].clone()).collect())
            .unwrap_or_default();
        Ok(if Value::Array(names) == files {
            Ok(())
        } else {
            Err(meta.to_string())
        })
    })
    .await?;
    app.reload().await?;
    app.wait_for_mark("scoreboard:restored", 0, TIMEOUT).await
}

/// Opens the files panel and every report in it, then clicks the file's
/// "Map columns again" and waits for the column dialog.
/// Opens the panel of the files loaded, every file's report unfolded.
async fn open_files_panel(app: &App) -> Result<()> {
    app.execute("window.scrollTo(0, 0);", Vec::new()).await?;
    let open = app
        .execute(
            "return document.getElementById('files-loaded')?.getAttribute('aria-expanded');",
            Vec::new(),
        )
        .await?;
    if open != json!("true") {
        app.click("#files-loaded").await?;
    }
    app.find("#files-panel").await?;
    app.execute(
        "document.querySelectorAll('#files-panel details').forEach((d) => { d.open = true; });",
        Vec::new(),
    )
    .await
    .map(drop)
}

async fn map_again(app: &App, file: &str) -> Result<()> {
    open_files_panel(app).await?;
    app.click(&format!(
        "#files-panel article.file-report[data-file=\"{file}\"] button.map-again"
    ))
    .await?;
    app.wait_for("#mapping-dialog", TIMEOUT).await.map(drop)
}

/// The element's left and right edges are inside a `width` px screen, and nothing scrolls sideways.
async fn assert_fits(app: &App, selector: &str, width: u32) -> Result<()> {
    let r = app
        .execute(
            "const r = document.querySelector(arguments[0]).getBoundingClientRect(); \
             return { left: r.left, right: r.right, page: document.documentElement.scrollWidth };",
            vec![json!(selector)],
        )
        .await?;
    let w = f64::from(width);
    assert!(
        r["left"].as_f64() >= Some(0.0)
            && r["right"].as_f64() <= Some(w)
            && r["page"].as_f64() <= Some(w),
        "{selector} does not fit the {width} px screen: {r}"
    );
    Ok(())
}

#[tokio::test]
async fn a_column_of_numbers_the_importer_does_not_know_opens_the_dialog_and_mapping_it_again_makes_the_figures_follow(
) -> Result<()> {
    let Some(app) = App::start().await? else {
        return Ok(());
    };
    app.run(async |app| {
        let dir = temp_dir()?;
        let file = write(dir.path(), "conversations.csv", CONVERSATIONS)?;
        app.set_viewport(DESKTOP.0, DESKTOP.1, false).await?;
        app.open(PAGE).await?;
        app.find("#file-input").await?;

        // The dialog names the column.
        let seen = upload(app, &file).await?;
        app.wait_for("#mapping-dialog", TIMEOUT).await?;
        let s = state(app).await?;
        assert_eq!(s["likely_rows"], json!(["Conversations"]), "{s:#}");
        let dialog = s["dialog"].as_str().unwrap_or_default();
        assert!(
            dialog.contains("the column “Conversations” holds numbers"),
            "the dialog says which column looks like a measure: {dialog}"
        );
        app.screenshot("columns-dialog-desktop").await?;

        // Skipping keeps the file without the column, and says so.
        app.click("#mapping-skip").await?;
        app.wait_for_mark("scoreboard:import-end", seen, TIMEOUT)
            .await?;
        let s = wait_for_cards(app, "the file read without it", ["0", "110", "2.750000"]).await?;
        assert_eq!(
            s["mappings"],
            json!([]),
            "a skipped dialog remembers nothing: {s:#}"
        );

        // A reload neither reopens the dialog nor applies a mapping.
        saved_then_reload(app, json!(["conversations.csv"])).await?;
        let s = wait_for_cards(
            app,
            "the same figures after the reload",
            ["0", "110", "2.750000"],
        )
        .await?;
        assert_eq!(
            s["dialog"],
            Value::Null,
            "no dialog after the reload: {s:#}"
        );
        assert_eq!(s["mappings"], json!([]), "{s:#}");

        // "Map columns again": the dialog shows the current mapping (ignored);
        // reading it as sessions makes the sessions figure appear.
        map_again(app, "conversations.csv").await?;
        let note = app
            .text("#files-panel article.file-report[data-file=\"conversations.csv\"] .notes")
            .await?;
        assert!(
            note.contains("Read without the column `Conversations`"),
            "the import report says the column was left out: {note}"
        );
        let s = state(app).await?;
        assert_eq!(s["conversations_read_as"], json!(""), "{s:#}");
        app.select(
            "#mapping-dialog tr[data-header=\"Conversations\"] select",
            "sessions",
        )
        .await?;
        app.click("#mapping-apply").await?;
        let s = wait_for_cards(
            app,
            "sessions from the mapped column",
            ["8", "110", "2.750000"],
        )
        .await?;
        assert_eq!(
            s["mappings"].as_array().map(Vec::len),
            Some(1),
            "an applied mapping is remembered: {s:#}"
        );

        // Mapped again as something else: the sessions go with it, the rest stays.
        map_again(app, "conversations.csv").await?;
        let s = state(app).await?;
        assert_eq!(s["conversations_read_as"], json!("sessions"), "{s:#}");
        app.select(
            "#mapping-dialog tr[data-header=\"Conversations\"] select",
            "commits",
        )
        .await?;
        app.click("#mapping-apply").await?;
        wait_for_cards(
            app,
            "no sessions once the column is commits",
            ["0", "110", "2.750000"],
        )
        .await?;

        // The dialog fits a phone.
        app.set_viewport(PHONE.0, PHONE.1, true).await?;
        map_again(app, "conversations.csv").await?;
        assert_fits(app, "#mapping-dialog", PHONE.0).await?;
        app.screenshot("columns-dialog-phone").await?;
        app.click("#mapping-skip").await?;
        app.wait_for_js("!document.getElementById('mapping-dialog')", TIMEOUT)
            .await?;
        let errors = app.console_errors().await?;
        assert!(errors.is_empty(), "the page logged errors: {errors:#?}");
        Ok(())
    })
    .await
}

/// A later file with the headers of `CONVERSATIONS`: ben, 18 Nov, 2
/// "conversations", 20 lines, $1.00. Read with the mapping applied to the
/// first (conversations are sessions), the week's sessions become 10, lines
/// 130, cost per active engineer $6.50 ÷ 2 = $3.25.
const CONVERSATIONS_LATER: &str = "Date,Email,Conversations,Lines accepted,Spend (USD)\n\
2026-11-18,ben@example.com,2,20,1.00\n";

#[tokio::test]
async fn a_mapping_applied_once_reads_the_next_file_with_the_same_headers_without_asking(
) -> Result<()> {
    let Some(app) = App::start().await? else {
        return Ok(());
    };
    app.run(async |app| {
        let dir = temp_dir()?;
        let first = write(dir.path(), "conversations.csv", CONVERSATIONS)?;
        let later = write(dir.path(), "conversations-later.csv", CONVERSATIONS_LATER)?;
        app.set_viewport(DESKTOP.0, DESKTOP.1, false).await?;
        app.open(PAGE).await?;
        app.find("#file-input").await?;

        let seen = upload(app, &first).await?;
        app.wait_for("#mapping-dialog", TIMEOUT).await?;
        app.select(
            "#mapping-dialog tr[data-header=\"Conversations\"] select",
            "sessions",
        )
        .await?;
        app.click("#mapping-apply").await?;
        app.wait_for_mark("scoreboard:import-end", seen, TIMEOUT)
            .await?;
        wait_for_cards(app, "the first file mapped", ["8", "110", "2.750000"]).await?;

        // No dialog (the import would wait for it): the remembered mapping is applied.
        upload_and_wait(app, &later).await?;
        let s = wait_for_cards(
            app,
            "the later file read with the mapping",
            ["10", "130", "3.250000"],
        )
        .await?;
        assert_eq!(s["dialog"], Value::Null, "{s:#}");
        open_files_panel(app).await?;
        let note = app
            .text("#files-panel article.file-report[data-file=\"conversations-later.csv\"] .notes")
            .await?;
        assert!(
            note.contains("Columns read with the mapping you chose before"),
            "the import report says which mapping read it: {note}"
        );
        let errors = app.console_errors().await?;
        assert!(errors.is_empty(), "the page logged errors: {errors:#?}");
        Ok(())
    })
    .await
}

/// Where the staleness headline is, with the page scrolled to the top.
const HEADLINE_JS: &str = r#"
window.scrollTo(0, 0);
const el = document.querySelector('#staleness .stale-headline');
if (!el) return null;
const r = el.getBoundingClientRect();
return { text: el.textContent.replace(/\s+/g, ' ').trim(), top: r.top, bottom: r.bottom, left: r.left, right: r.right };
"#;

#[tokio::test]
async fn a_thinner_later_file_keeps_the_sessions_and_cost_it_lacks_also_after_a_reload_and_a_phone_sees_how_old_the_data_is(
) -> Result<()> {
    let Some(app) = App::start().await? else {
        return Ok(());
    };
    app.run(async |app| {
        let dir = temp_dir()?;
        let full = write(dir.path(), "full-export.csv", FULL)?;
        let thin = write(dir.path(), "lines-only.csv", THIN)?;
        app.set_viewport(PHONE.0, PHONE.1, true).await?;
        app.open(STALE_PAGE).await?;
        app.find("#file-input").await?;

        upload_and_wait(app, &full).await?;
        wait_for_cards(app, "the full export's figures", ["8", "110", "2.750000"]).await?;

        // No data is not zero, and the page says how old the newest data is,
        // inside the first screen of a phone.
        let h = app
            .eventually("the staleness headline", TIMEOUT, async |app| {
                let h = app.execute(HEADLINE_JS, Vec::new()).await?;
                Ok(if h.is_null() {
                    Err("not yet".to_string())
                } else {
                    Ok(h)
                })
            })
            .await?;
        assert_eq!(
            h["text"],
            json!("newest data: 22 Nov, 17 days ago"),
            "{h:#}"
        );
        let edge = |k: &str| h[k].as_f64().unwrap_or(f64::NAN);
        assert!(
            edge("top") >= 0.0
                && edge("bottom") <= f64::from(PHONE.1)
                && edge("left") >= 0.0
                && edge("right") <= f64::from(PHONE.0),
            "the headline is inside the first screen at {}×{}: {h:#}",
            PHONE.0,
            PHONE.1
        );
        app.screenshot("columns-stale-phone").await?;

        // The thinner file replaces lines accepted only.
        upload_and_wait(app, &thin).await?;
        let before = wait_for_cards(
            app,
            "lines replaced, sessions and cost kept",
            ["8", "170", "2.750000"],
        )
        .await?;
        assert_eq!(before["wae"], json!("2"), "{before:#}");

        saved_then_reload(app, json!(["full-export.csv", "lines-only.csv"])).await?;
        let after = wait_for_cards(
            app,
            "the same figures after the reload",
            ["8", "170", "2.750000"],
        )
        .await?;
        assert_eq!(after["wae"], before["wae"]);
        Ok(())
    })
    .await
}
