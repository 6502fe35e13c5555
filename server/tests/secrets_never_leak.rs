//! The Admin API key never appears in a response body, a log line (even at
//! trace level) or a stored error, even when the upstream echoes it back.
//! Runs the real binary against the fake API on real sockets.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::Read;
use std::process::Stdio;
use std::time::{Duration, Instant};

use chrono::Utc;
use common::*;
use serde_json::Value;

const USAGE: &str = "/v1/organizations/usage_report/claude_code";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_response_log_line_or_stored_error_contains_the_key() {
    let today = Utc::now().date_naive();
    let yesterday = today.pred_opt().unwrap();
    let mut data = FakeData {
        org: Some(("org-9".into(), "Leaky Upstream Inc".into())),
        ..Default::default()
    };
    data.usage.insert(
        today,
        vec![user_record(
            &today.to_string(),
            "rfc3339",
            "ann@acme.io",
            1,
            10,
            5.0,
        )],
    );
    let fake = Fake::start(data, 1000).await;
    // A careless upstream puts the key into an error message; another day is rate limited once.
    fake.add_rule(
        Rule::on(USAGE, Fault::EchoKey)
            .day(&yesterday.to_string())
            .always(),
    );
    fake.add_rule(
        Rule::on(
            USAGE,
            Fault::Status {
                status: 429,
                kind: "rate_limit_error",
                retry_after: Some("0"),
            },
        )
        .day(&today.to_string()),
    );

    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("scoreboard.toml");
    std::fs::write(
        &config,
        "[anthropic]\nbackfill_days = 3\nretry_min_delay = \"1ms\"\nretry_max_delay = \"10ms\"\n",
    )
    .unwrap();
    let port = free_port();
    let mut child = scoreboard_command()
        .args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--anthropic-base-url",
            &fake.url(),
            "--config",
        ])
        .arg(&config)
        .arg("--data-dir")
        .arg(dir.path())
        .env("ANTHROPIC_ADMIN_API_KEY", ADMIN_KEY)
        .env("RUST_LOG", "trace")
        // Files, not pipes: a full pipe would stall the server mid-log.
        .stdout(Stdio::from(
            std::fs::File::create(dir.path().join("stdout.log")).unwrap(),
        ))
        .stderr(Stdio::from(
            std::fs::File::create(dir.path().join("stderr.log")).unwrap(),
        ))
        .spawn()
        .unwrap();

    let client = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{port}");
    let mut bodies = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    let admin = loop {
        assert!(Instant::now() < deadline, "the first sync did not finish");
        if let Ok(resp) = client.get(format!("{base}/api/sources")).send().await {
            let text = resp.text().await.unwrap();
            let v: Value = serde_json::from_str(&text).unwrap();
            let admin = source_status(&v, "admin-api");
            if admin["last_attempt"].is_string() && admin["syncing"] == false {
                bodies.push(text);
                break admin;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    for path in [
        "/api/health",
        "/api/rows",
        "/api/roster",
        "/api/sources",
        "/api/nope",
        "/v1/metrics",
    ] {
        let resp = client.get(format!("{base}{path}")).send().await.unwrap();
        bodies.push(resp.text().await.unwrap());
    }
    child.kill().unwrap();
    let _ = child.wait();
    let mut logs = String::new();
    for f in ["stderr.log", "stdout.log"] {
        std::fs::File::open(dir.path().join(f))
            .unwrap()
            .read_to_string(&mut logs)
            .unwrap();
    }

    // The failure was real and is shown, with the key scrubbed from the upstream's message.
    let error = admin["last_error"].as_str().unwrap();
    assert!(error.contains("invalid x-api-key: [redacted]"), "{error}");
    assert!(
        fake.hits()
            .iter()
            .any(|h| h.api_key.as_deref() == Some(ADMIN_KEY)),
        "the key was sent upstream"
    );
    assert!(logs.lines().count() > 10, "trace logging was on: {logs}");

    for b in &bodies {
        assert!(
            !b.contains(ADMIN_KEY) && !b.contains("TESTKEY"),
            "a response holds the key: {b}"
        );
    }
    for line in logs.lines() {
        assert!(
            !line.contains("TESTKEY"),
            "a log line holds the key: {line}"
        );
    }
    let mut db = Vec::new();
    for f in ["scoreboard.db", "scoreboard.db-wal"] {
        if let Ok(mut bytes) = std::fs::read(dir.path().join(f)) {
            db.append(&mut bytes);
        }
    }
    assert!(
        !db.windows(7).any(|w| w == b"TESTKEY"),
        "the database holds the key"
    );
}

#[test]
fn the_config_never_prints_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = scoreboard_server::config::Config {
        data_dir: dir.path().to_path_buf(),
        secrets: scoreboard_server::config::Secrets::from_lookup(|_| Some(ADMIN_KEY.to_string())),
        ..Default::default()
    };
    assert!(!format!("{cfg:?}").contains("TESTKEY"));
    assert!(!format!("{cfg:#?}").contains("TESTKEY"));
}
