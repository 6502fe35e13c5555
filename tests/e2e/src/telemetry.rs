//! Telemetry for browser tests: the `scoreboard` command line against the
//! running server's data directory, and captured Claude Code requests
//! replayed to the server as the CLI sent them.

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use fantoccini::Locator;
use scoreboard_test_support::otlp::{fixtures, read_capture};

use crate::harness::{App, Error, Result};

/// How many times [`refresh_until`] presses "Refresh now" (about a second apart).
const REFRESH_TRIES: usize = 180;

/// Runs `scoreboard <args> --data-dir <data_dir>` with none of the caller's
/// `SCOREBOARD_*` or `ANTHROPIC_*` variables; success and stdout + stderr.
pub fn scoreboard(args: &[&str], data_dir: &Path) -> (bool, String) {
    let Some(bin) = std::env::var_os("SCOREBOARD_BIN") else {
        return (false, "SCOREBOARD_BIN is not set".into());
    };
    let mut command = std::process::Command::new(bin);
    command.args(args).arg("--data-dir").arg(data_dir);
    for (key, _) in std::env::vars_os() {
        let name = key.to_string_lossy();
        if name.starts_with("SCOREBOARD_") || name.starts_with("ANTHROPIC_") {
            command.env_remove(&key);
        }
    }
    match command.output() {
        Ok(out) => (
            out.status.success(),
            format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        ),
        Err(e) => (false, format!("cannot run scoreboard: {e}")),
    }
}

/// `scoreboard token create --name NAME [--endpoint URL]`; the token and
/// everything printed.
pub fn create_token(data_dir: &Path, name: &str, endpoint: Option<&str>) -> (String, String) {
    let mut args = vec!["token", "create", "--name", name];
    if let Some(e) = endpoint {
        args.extend(["--endpoint", e]);
    }
    let (ok, text) = scoreboard(&args, data_dir);
    assert!(ok, "token create failed: {text}");
    let token = text
        .split_whitespace()
        .find(|w| w.starts_with("sbi_") && w.len() == 68)
        .unwrap_or_else(|| panic!("no token printed: {text}"))
        .to_string();
    (token, text)
}

/// POSTs one JSON body over a plain HTTP/1.1 connection; the status code.
pub fn post(base_url: &str, path: &str, token: &str, body: &[u8]) -> u16 {
    let addr = base_url.trim_start_matches("http://");
    let Ok(mut s) = TcpStream::connect(addr) else {
        return 0;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(30)));
    let head = format!(
        "POST {path} HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/json\r\n\
         authorization: Bearer {token}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    );
    if s.write_all(head.as_bytes()).is_err() || s.write_all(body).is_err() {
        return 0;
    }
    let mut reply = Vec::new();
    let _ = s.read_to_end(&mut reply);
    String::from_utf8_lossy(&reply)
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0)
}

/// A captured session of the real Claude Code CLI (`../shared/fixtures/otlp/`).
pub fn fixture(version: &str, scenario: &str) -> PathBuf {
    fixtures().join(version).join(scenario)
}

/// Replays every request of a captured JSON session ([`fixture`]), in order; the statuses.
pub fn replay_capture(dir: &Path, base_url: &str, token: &str) -> Vec<u16> {
    read_capture(dir)
        .unwrap_or_else(|e| panic!("{e}"))
        .iter()
        .map(|req| post(base_url, &req.path, token, &req.body))
        .collect()
}

/// Presses the source bar's "Refresh now" until `selector`'s text contains `needle`.
pub async fn refresh_until(app: &App, selector: &str, needle: &str) -> Result<String> {
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

/// Opens the details under the one-line source status; they start folded.
pub async fn open_source_details(app: &App) -> Result<()> {
    let toggle = app.find("#sources-toggle").await?;
    if toggle.attr("aria-expanded").await.ok().flatten().as_deref() != Some("true") {
        toggle.click().await.map_err(|source| Error::WebDriver {
            action: "open the source details".to_string(),
            source: Box::new(source),
        })?;
    }
    app.find("#sources-details").await.map(drop)
}
