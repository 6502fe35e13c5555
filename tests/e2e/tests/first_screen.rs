//! The answer on the first screen (issue 10): with the demo loaded, the sentence
//! and the six cards are inside the viewport at 1440×900 and at 390×844, in light
//! and dark mode, measured with `getBoundingClientRect`; on a phone nothing scrolls
//! sideways, the people table is a list of cards and the dialogs fit. Also the
//! small things found while trying the page: a file that cannot be read leaves the
//! demo in place and does not pile up, files dropped anywhere on the page are
//! read, the period dialog's dates follow a pinned `?as_of`, and a static copy of
//! the site logs no error for its `api/health` probe.
//!
//! Screenshots of every size and colour scheme land in `tests/artifacts/`.

use std::{path::Path, time::Duration};

use scoreboard_e2e::harness::{failed, App, Result};
use serde_json::{json, Value};

/// The demo's "today" (`public/demo/manifest.json`).
const PAGE: &str = "/?as_of=2026-11-22";
/// Generous: the tests share two cores with cargo builds and with each other.
const TIMEOUT: Duration = Duration::from_secs(120);
const CARDS: [&str; 6] = [
    "kpi-wae",
    "kpi-sessions",
    "kpi-lines",
    "kpi-acceptance",
    "kpi-cost",
    "kpi-nonstarters",
];
/// The screens of the issue: a laptop and a phone.
const DESKTOP: (u32, u32) = (1440, 900);
const PHONE: (u32, u32) = (390, 844);

fn temp_dir() -> Result<tempfile::TempDir> {
    tempfile::Builder::new()
        .prefix("scoreboard-e2e-files-")
        .tempdir()
        .map_err(|e| failed(format!("cannot create a temporary directory: {e}")))
}

fn write(path: &Path, bytes: &[u8]) -> Result<()> {
    std::fs::write(path, bytes).map_err(|e| failed(format!("cannot write {}: {e}", path.display())))
}

/// The server with `--demo`: a first visit shows the demo data.
async fn demo_app() -> Result<Option<App>> {
    App::builder().demo().start().await
}

/// Opens the page and waits until the demo's cards carry their figures.
async fn open_demo(app: &App) -> Result<()> {
    app.open(PAGE).await?;
    wait_for_cards(app).await
}

/// The cards, and the sections under them: the page builds those a frame
/// each after the first screen (`components::frame`), the definitions last.
async fn wait_for_cards(app: &App) -> Result<()> {
    app.wait_for_js(
        "document.querySelector('#demo-banner') && document.querySelector('#definitions') && document.querySelector('#kpi-nonstarters .value')?.dataset.value",
        TIMEOUT,
    )
    .await
    .map(drop)
}

/// Two animation frames: the last layout change has been painted.
async fn settle(app: &App) -> Result<()> {
    app.execute_async(
        "const done = arguments[arguments.length - 1]; \
         requestAnimationFrame(() => requestAnimationFrame(() => done(true)));",
        Vec::new(),
    )
    .await
    .map(drop)
}

/// Where the sentence and the cards are, with the page scrolled to the top.
const RECTS_JS: &str = r#"
window.scrollTo(0, 0);
const rect = (el) => {
  if (!el) return null;
  const r = el.getBoundingClientRect();
  return { top: r.top, bottom: r.bottom, left: r.left, right: r.right };
};
const out = { viewport: { width: window.innerWidth, height: window.innerHeight }, rects: {} };
out.rects.summary = rect(document.getElementById('summary'));
for (const id of arguments[0]) out.rects[id] = rect(document.getElementById(id));
return out;
"#;

/// Checks that the sentence and the six cards lie inside a `width` × `height` screen.
async fn assert_answer_on_first_screen(app: &App, width: u32, height: u32) -> Result<()> {
    let seen = app.execute(RECTS_JS, vec![json!(CARDS)]).await?;
    assert_eq!(
        seen["viewport"],
        json!({ "width": width, "height": height }),
        "the emulated screen"
    );
    let mut outside = Vec::new();
    for (name, r) in seen["rects"].as_object().into_iter().flatten() {
        let edge = |k: &str| r[k].as_f64().unwrap_or(f64::NAN);
        let inside = edge("top") >= 0.0
            && edge("left") >= 0.0
            && edge("bottom") <= f64::from(height)
            && edge("right") <= f64::from(width);
        if !inside {
            outside.push(format!("#{name}: {r}"));
        }
    }
    assert!(
        outside.is_empty(),
        "at {width}×{height} these are not inside the first screen: {outside:#?}"
    );
    Ok(())
}

#[tokio::test]
async fn the_sentence_and_the_six_cards_are_on_the_first_screen_of_a_laptop_and_a_phone_in_light_and_dark(
) -> Result<()> {
    let Some(app) = demo_app().await? else {
        return Ok(());
    };
    app.run(async |app| {
        open_demo(app).await?;
        // Telemetry is set up but nothing was ever received: the status bar
        // says so instead of "0 people in the last 7 days" (no data is not 0).
        app.wait_for_js(
            "(document.querySelector('#sources')?.textContent || '').includes('telemetry: set up, nothing received yet')",
            TIMEOUT,
        )
        .await?;
        for (name, (width, height), mobile) in [("desktop", DESKTOP, false), ("phone", PHONE, true)]
        {
            app.set_viewport(width, height, mobile).await?;
            for dark in [false, true] {
                app.set_color_scheme(dark).await?;
                settle(app).await?;
                assert_answer_on_first_screen(app, width, height).await?;
                let scheme = if dark { "dark" } else { "light" };
                app.screenshot(&format!("first-screen-{name}-{width}x{height}-{scheme}"))
                    .await?;
                // The rest of the page, for a look below the fold.
                app.screenshot_whole_page(
                    &format!("whole-page-{name}-{width}-{scheme}"),
                    (width, height),
                    mobile,
                )
                .await?;
                app.execute("window.scrollTo(0, 0);", Vec::new()).await?;
            }
        }
        let errors = app.console_errors().await?;
        assert!(errors.is_empty(), "the page logged errors: {errors:#?}");
        Ok(())
    })
    .await
}

/// What could make a phone scroll sideways: the page wider than the screen, or
/// an element that scrolls its own content sideways.
const SIDEWAYS_JS: &str = r#"
const width = arguments[0];
const name = (el) => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') +
  (el.classList.length ? '.' + [...el.classList].join('.') : '');
const scrollers = [];
for (const el of document.querySelectorAll('body *')) {
  // Not shown (display: none, or inside a closed <details>): cannot scroll.
  if (!el.checkVisibility()) continue;
  const cs = getComputedStyle(el);
  if ((cs.overflowX === 'auto' || cs.overflowX === 'scroll') && el.scrollWidth > el.clientWidth + 1) {
    scrollers.push(`${name(el)} (${el.scrollWidth} px of content in ${el.clientWidth} px)`);
  }
}
// For the message only: what sticks out on the right, outside any clipping box.
const sticking = [];
for (const el of document.querySelectorAll('body *')) {
  const r = el.getBoundingClientRect();
  if (r.right <= width + 0.5 || r.width === 0 || !el.checkVisibility()) continue;
  let clipped = false;
  for (let a = el.parentElement; a && !clipped; a = a.parentElement) {
    clipped = getComputedStyle(a).overflowX !== 'visible';
  }
  if (!clipped) sticking.push(`${name(el)} to ${Math.round(r.right)} px`);
}
return {
  page: document.documentElement.scrollWidth,
  body: document.body.scrollWidth,
  scrollers,
  sticking: sticking.slice(0, 15),
};
"#;

async fn assert_nothing_scrolls_sideways(app: &App, width: u32, what: &str) -> Result<()> {
    settle(app).await?;
    let seen = app.execute(SIDEWAYS_JS, vec![json!(width)]).await?;
    let page = seen["page"].as_u64().unwrap_or(u64::MAX);
    assert!(
        page <= u64::from(width) && seen["scrollers"] == json!([]),
        "{what}: something scrolls sideways at {width} px: {seen:#}"
    );
    Ok(())
}

/// The people table as a phone shows it: one card per person, its heading row
/// hidden, no card wider than the screen, and no e-mail broken inside a word
/// (each piece between the `<wbr>`s of an e-mail stays on one line).
const PEOPLE_JS: &str = r#"
const width = arguments[0];
const rows = [...document.querySelectorAll('#people-table tbody tr[data-person]')];
const head = document.querySelector('#people-table thead').getBoundingClientRect();
const broken = [];
for (const el of document.querySelectorAll('#people-table .email, #people-table .who')) {
  if (!el.textContent.includes('@')) continue;
  for (const node of el.childNodes) {
    if (node.nodeType !== Node.TEXT_NODE || node.textContent.length === 0) continue;
    const range = document.createRange();
    range.selectNodeContents(node);
    if (range.getClientRects().length > 1) broken.push(el.textContent);
  }
}
return {
  rows: rows.length,
  displays: [...new Set(rows.map((r) => getComputedStyle(r).display))],
  widest: Math.max(...rows.map((r) => r.getBoundingClientRect().right)),
  heading_row_shown: head.width > 1 && head.height > 1,
  broken_emails: broken,
};
"#;

/// The element matching `selector` lies within the screen's width.
async fn assert_within_width(app: &App, selector: &str, width: u32) -> Result<()> {
    let r = app
        .execute(
            "const r = document.querySelector(arguments[0]).getBoundingClientRect(); \
             return { left: r.left, right: r.right };",
            vec![json!(selector)],
        )
        .await?;
    assert!(
        r["left"].as_f64() >= Some(0.0) && r["right"].as_f64() <= Some(f64::from(width)),
        "{selector} is not inside the {width} px screen: {r}"
    );
    Ok(())
}

/// Scrolls `selector` to the top of the screen and saves a screenshot.
async fn screenshot_of(app: &App, selector: &str, name: &str) -> Result<()> {
    app.execute(
        "document.querySelector(arguments[0]).scrollIntoView({ block: 'start' });",
        vec![json!(selector)],
    )
    .await?;
    settle(app).await?;
    app.screenshot(name).await.map(drop)
}

#[tokio::test]
async fn a_phone_shows_people_as_cards_and_nothing_on_the_page_or_in_its_dialogs_scrolls_sideways(
) -> Result<()> {
    let Some(app) = demo_app().await? else {
        return Ok(());
    };
    app.run(async |app| {
        let (width, height) = PHONE;
        app.set_viewport(width, height, true).await?;
        open_demo(app).await?;
        assert_nothing_scrolls_sideways(app, width, "the dashboard").await?;

        let people = app.execute(PEOPLE_JS, vec![json!(width)]).await?;
        assert!(
            people["rows"].as_u64() >= Some(10),
            "the demo's people are listed: {people:#}"
        );
        let displays = people["displays"].as_array().cloned().unwrap_or_default();
        assert!(
            !displays.is_empty() && !displays.contains(&json!("table-row")),
            "each person is a card, not a table row: {people:#}"
        );
        assert_eq!(people["heading_row_shown"], false, "{people:#}");
        assert!(
            people["widest"]
                .as_f64()
                .is_some_and(|w| w <= f64::from(width)),
            "a card is wider than the screen: {people:#}"
        );
        assert_eq!(people["broken_emails"], json!([]), "{people:#}");
        screenshot_of(app, "#people-table", "phone-390-people-cards").await?;
        screenshot_of(app, "#health", "phone-390-data-health").await?;

        // A definition opens inside the screen.
        app.click("#kpi-cost .info summary").await?;
        assert_nothing_scrolls_sideways(app, width, "a definition opened").await?;
        assert_within_width(app, "#kpi-cost .popover", width).await?;
        app.screenshot("phone-390-definition").await?;
        app.click("#kpi-cost .info summary").await?;

        // The share dialog.
        app.execute("window.scrollTo(0, 0);", Vec::new()).await?;
        app.click("#share-button").await?;
        app.find("#share-dialog #share-link").await?;
        assert_nothing_scrolls_sideways(app, width, "the share dialog").await?;
        assert_within_width(app, "#share-dialog", width).await?;
        app.screenshot("phone-390-share-dialog").await?;
        app.click("#share-done").await?;

        // The column dialog, for an export whose columns the importer cannot place.
        let dir = temp_dir()?;
        let odd = dir.path().join("odd-columns-export.csv");
        write(
            &odd,
            b"Person identifier,Calendar day,Usage count,Lines accepted\n\
              ana@example.com,2026-11-16,3,120\n",
        )?;
        app.upload("#file-input", &[&odd]).await?;
        app.find("#mapping-dialog").await?;
        assert_nothing_scrolls_sideways(app, width, "the column dialog").await?;
        assert_within_width(app, "#mapping-dialog", width).await?;
        app.screenshot("phone-390-column-dialog").await?;
        app.click("#mapping-skip").await?;
        // Skipping the file leaves the demo as it was.
        wait_for_cards(app).await?;
        let errors = app.console_errors().await?;
        assert!(errors.is_empty(), "the page logged errors: {errors:#?}");
        Ok(())
    })
    .await
}

/// The cards' figures, by card id.
async fn card_values(app: &App) -> Result<Value> {
    app.execute(
        "const out = {}; \
         for (const id of arguments[0]) out[id] = document.querySelector(`#${id} .value`)?.dataset.value ?? null; \
         return out;",
        vec![json!(CARDS)],
    )
    .await
}

async fn upload_and_wait(app: &App, file: &Path) -> Result<()> {
    let seen = app.mark_count("scoreboard:import-end").await?;
    app.upload("#file-input", &[file]).await?;
    app.wait_for_mark("scoreboard:import-end", seen, TIMEOUT)
        .await
}

#[tokio::test]
async fn a_file_that_cannot_be_read_leaves_the_demo_in_place_and_does_not_pile_up() -> Result<()> {
    let Some(app) = demo_app().await? else {
        return Ok(());
    };
    app.run(async |app| {
        open_demo(app).await?;
        let before = card_values(app).await?;
        assert!(before["kpi-wae"].is_string(), "{before}");
        assert!(
            app.text("#files-loaded")
                .await?
                .starts_with("2 files loaded"),
            "the demo's two files"
        );

        let dir = temp_dir()?;
        // Not text at all: the start of a PNG image.
        let picture = dir.path().join("team-photo.png");
        write(
            &picture,
            b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x10\0\0\0\x10\x08\x06\0\0\0\xff\xfe",
        )?;
        upload_and_wait(app, &picture).await?;
        // Its report says why, and the demo is still there with the same figures.
        let report = app
            .text("#import-report article.file-report.failed[data-file=\"team-photo.png\"]")
            .await?;
        assert!(report.contains("not loaded"), "{report}");
        app.find("#demo-banner").await?;
        assert_eq!(
            card_values(app).await?,
            before,
            "the demo's figures are kept"
        );
        let listed = app.text("#files-loaded").await?;
        assert!(
            listed.starts_with("2 files loaded, 1 not"),
            "the failed file is reported, not counted as loaded: {listed:?}"
        );
        app.screenshot("unreadable-file-keeps-the-demo").await?;

        // A second one: the first failure does not pile up.
        let notes = dir.path().join("notes.txt");
        write(&notes, b"hello world\n")?;
        upload_and_wait(app, &notes).await?;
        app.find("#import-report article.file-report.failed[data-file=\"notes.txt\"]")
            .await?;
        let listed = app.text("#files-loaded").await?;
        assert!(listed.starts_with("2 files loaded, 1 not"), "{listed:?}");
        assert_eq!(card_values(app).await?, before);

        // And after a reload, the demo is what the browser kept.
        app.reload().await?;
        wait_for_cards(app).await?;
        assert_eq!(card_values(app).await?, before);
        let errors = app.console_errors().await?;
        assert!(errors.is_empty(), "the page logged errors: {errors:#?}");
        Ok(())
    })
    .await
}

/// Drops `files` ({name, text}) on the page body, as the browser does when files
/// are dragged from the desktop: dragenter, dragover, then drop.
const DROP_JS: &str = r#"
const dt = new DataTransfer();
for (const f of arguments[0]) dt.items.add(new File([f.text], f.name, { type: 'text/csv' }));
const fire = (type) => document.body.dispatchEvent(new DragEvent(type, { dataTransfer: dt, bubbles: true, cancelable: true }));
fire('dragenter');
fire('dragover');
const overlay = !!document.getElementById('drop-overlay');
const accepted = !fire('drop');
return { overlay, accepted };
"#;

#[tokio::test]
async fn files_dropped_anywhere_on_the_page_are_read_with_an_overlay_while_dragging() -> Result<()>
{
    let Some(app) = App::start().await? else {
        return Ok(());
    };
    app.run(async |app| {
        app.open(PAGE).await?;
        app.find("#demo-button").await?;
        // The overlay shows while files are over the page.
        let shown = app
            .execute(
                "const dt = new DataTransfer(); dt.items.add(new File(['x'], 'x.csv')); \
                 document.body.dispatchEvent(new DragEvent('dragenter', { dataTransfer: dt, bubbles: true, cancelable: true })); \
                 return true;",
                Vec::new(),
            )
            .await?;
        assert_eq!(shown, true);
        app.find("#drop-overlay").await?;
        app.screenshot("drop-overlay").await?;

        let seen = app.mark_count("scoreboard:import-end").await?;
        let dropped = app
            .execute(
                DROP_JS,
                vec![json!([{
                    "name": "dropped-export.csv",
                    "text": "Date,Email,Sessions,Lines accepted,Accepted edits,Rejected edits,Spend (USD)\n\
                             2026-11-16,dropped.person@example.com,4,321,9,1,2.50\n",
                }])],
            )
            .await?;
        assert_eq!(dropped["accepted"], true, "the page takes the drop: {dropped}");
        app.wait_for_mark("scoreboard:import-end", seen, TIMEOUT)
            .await?;
        app.find("#people-table tr[data-person=\"dropped.person@example.com\"]")
            .await?;
        app.wait_for_js("!document.getElementById('drop-overlay')", TIMEOUT)
            .await?;
        let errors = app.console_errors().await?;
        assert!(errors.is_empty(), "the page logged errors: {errors:#?}");
        Ok(())
    })
    .await
}

#[tokio::test]
async fn the_period_dialog_suggests_the_month_of_a_pinned_as_of() -> Result<()> {
    let Some(app) = App::start().await? else {
        return Ok(());
    };
    app.run(async |app| {
        app.open("/?as_of=2026-03-17").await?;
        let dir = temp_dir()?;
        let totals = dir.path().join("march-totals.csv");
        write(
            &totals,
            b"Email,Sessions,Lines accepted\nana@example.com,3,120\n",
        )?;
        app.upload("#file-input", &[&totals]).await?;
        app.find("#period-dialog").await?;
        let dates = app
            .execute(
                "return [document.getElementById('period-from').value, document.getElementById('period-to').value];",
                Vec::new(),
            )
            .await?;
        assert_eq!(
            dates,
            json!(["2026-03-01", "2026-03-17"]),
            "this month to date, as of the pinned day"
        );
        app.click("#period-skip").await?;
        Ok(())
    })
    .await
}

#[tokio::test]
async fn a_static_copy_of_the_site_logs_no_error_for_its_server_probe() -> Result<()> {
    let Some(app) = App::builder().static_copy().start().await? else {
        return Ok(());
    };
    app.run(async |app| {
        app.open("/").await?;
        app.find("#demo-button").await?;
        // The probe has been answered (by the copy's own api/health file).
        app.wait_for_js(
            "performance.getEntriesByType('resource').some((e) => e.name.endsWith('/api/health') && e.responseEnd > 0)",
            TIMEOUT,
        )
        .await?;
        settle(app).await?;
        app.screenshot("first-visit-static-copy").await?;
        let (width, height) = PHONE;
        app.set_viewport(width, height, true).await?;
        settle(app).await?;
        assert_nothing_scrolls_sideways(app, width, "the first visit").await?;
        app.screenshot("first-visit-phone").await?;
        app.cdp("Emulation.clearDeviceMetricsOverride", json!({}))
            .await?;
        let errors = app.console_errors().await?;
        assert!(errors.is_empty(), "the static copy logged errors: {errors:#?}");
        assert!(
            app.execute("return !document.getElementById('sources');", Vec::new())
                .await?
                == true,
            "a static copy is not live mode"
        );

        // The demo works from the copy too.
        app.open("/?demo&as_of=2026-11-22").await?;
        wait_for_cards(app).await?;
        let errors = app.console_errors().await?;
        assert!(errors.is_empty(), "the static copy logged errors: {errors:#?}");
        app.screenshot("static-copy-demo").await?;
        Ok(())
    })
    .await
}
