//! Smoke test: the real `scoreboard serve` serves the site Trunk built, and the
//! WebAssembly app starts and renders in Chromium.

use scoreboard_e2e::harness::{App, Result};

/// An element that only the running Leptos app renders (index.html's body is empty),
/// so finding it proves the wasm loaded and mounted. Change both when the page changes.
const MOUNTED: &str = "h1";
const MOUNTED_TEXT: &str = "Scoreboard";

#[tokio::test]
async fn server_serves_the_app_and_the_page_mounts() -> Result<()> {
    let Some(app) = App::start().await? else {
        return Ok(());
    };
    app.run(async |app| {
        app.open("/").await?;
        let text = app.text(MOUNTED).await?;
        assert!(
            text.contains(MOUNTED_TEXT),
            "`{MOUNTED}` reads {text:?}, expected it to contain {MOUNTED_TEXT:?}"
        );
        let errors = app.console_errors().await?;
        assert!(errors.is_empty(), "the page logged errors: {errors:#?}");
        app.screenshot("smoke-page-mounted").await?;
        Ok(())
    })
    .await
}
