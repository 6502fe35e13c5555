//! Durability of the telemetry receiver in the real `scoreboard serve`: the
//! process is killed with SIGKILL in the middle of a many-user load, restarted
//! on the same data directory, and then every batch whose 200 reached the
//! client must be stored, and the batches whose fate was unknown (in flight at
//! the kill) are re-sent as Claude Code would, byte for byte, and count once.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::Utc;
use common::{free_port, scoreboard_command};
use scoreboard_core::{DayRow, Source};
use serde_json::{json, Value};

/// A captured Claude Code metrics export (2.1.330, Write scenario, delta): six
/// lines added, one accepted edit, tokens and cost. Each synthetic batch is this
/// request with another user, session and time.
const TEMPLATE: &str =
    "claude-code-2.1.330/write-json-delta/claude-code-2.1.330-metrics-json-delta-02.json";
const USERS: usize = 40;
const BATCHES_PER_USER: usize = 30;
const SENDERS: usize = 8;
const LINES_PER_BATCH: u64 = 6;

fn fixture(rel: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/fixtures/otlp")
        .join(rel);
    std::fs::read(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

fn email(user: usize) -> String {
    format!("dev{user:03}@durability.test")
}

/// The template with `user.email` on the resource, a session of its own and
/// point times inside today (UTC), so every batch is a distinct delta series.
fn batch(template: &Value, user: usize, n: usize, day_start_ns: u128) -> Vec<u8> {
    let mut req = template.clone();
    let time = day_start_ns + 3_600_000_000_000 + (n as u128) * 1_000_000;
    let session = format!("00000000-0000-4000-8000-{user:04}{n:08}");
    for rm in req["resourceMetrics"].as_array_mut().unwrap() {
        rm["resource"]["attributes"]
            .as_array_mut()
            .unwrap()
            .push(json!({"key": "user.email", "value": {"stringValue": email(user)}}));
        for sm in rm["scopeMetrics"].as_array_mut().unwrap() {
            for m in sm["metrics"].as_array_mut().unwrap() {
                for p in m["sum"]["dataPoints"].as_array_mut().unwrap() {
                    p["startTimeUnixNano"] = json!((time - 1_000_000).to_string());
                    p["timeUnixNano"] = json!(time.to_string());
                    for a in p["attributes"].as_array_mut().unwrap() {
                        if a["key"] == "session.id" {
                            a["value"] = json!({"stringValue": session});
                        }
                    }
                }
            }
        }
    }
    serde_json::to_vec(&req).unwrap()
}

fn start(dir: &Path, port: u16, log: &str) -> Child {
    scoreboard_command()
        .args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--data-dir",
        ])
        .arg(dir)
        .stdout(Stdio::from(
            std::fs::File::create(dir.join(format!("{log}.out"))).unwrap(),
        ))
        .stderr(Stdio::from(
            std::fs::File::create(dir.join(format!("{log}.err"))).unwrap(),
        ))
        .spawn()
        .unwrap()
}

async fn wait_healthy(client: &reqwest::Client, base: &str, dir: &Path, log: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(r) = client.get(format!("{base}/api/health")).send().await {
            if r.status().is_success() {
                return;
            }
        }
        let err = std::fs::read_to_string(dir.join(format!("{log}.err"))).unwrap_or_default();
        assert!(
            Instant::now() < deadline,
            "scoreboard serve did not come up:\n{err}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Lines added per person in the telemetry rows the server answers with.
async fn stored_lines(client: &reqwest::Client, base: &str) -> BTreeMap<String, u64> {
    let v: Value = client
        .get(format!("{base}/api/rows"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let rows: Vec<DayRow> = serde_json::from_value(v["rows"].clone()).unwrap();
    let mut lines = BTreeMap::new();
    for r in rows.into_iter().filter(|r| r.source == Source::Otlp) {
        *lines.entry(r.person.as_str().to_string()).or_insert(0) += r.measures.lines_added;
    }
    lines
}

#[derive(Default)]
struct Outcomes {
    acked: Vec<(usize, usize)>,
    unknown: Vec<(usize, usize)>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_acknowledged_batch_survives_sigkill_and_none_counts_twice() {
    let dir = tempfile::tempdir().unwrap();
    let token = {
        let out = scoreboard_command()
            .args(["token", "create", "--name", "durability", "--data-dir"])
            .arg(dir.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8(out.stdout).unwrap();
        text.split(|c: char| c.is_whitespace() || c == '"')
            .find(|w| w.starts_with("sbi_"))
            .expect("token create prints the token")
            .to_string()
    };

    let template: Value = serde_json::from_slice(&fixture(TEMPLATE)).unwrap();
    let today = Utc::now().date_naive();
    let day_start_ns = today
        .and_hms_opt(0, 0, 0)
        .unwrap()
        .and_utc()
        .timestamp_nanos_opt()
        .unwrap() as u128;
    let mut work: Vec<(usize, usize)> = (0..BATCHES_PER_USER)
        .flat_map(|n| (0..USERS).map(move |u| (u, n)))
        .collect();
    work.reverse(); // popped from the end: batch 0 of every user first
    let bodies: Arc<BTreeMap<(usize, usize), Vec<u8>>> = Arc::new(
        work.iter()
            .map(|&(u, n)| ((u, n), batch(&template, u, n, day_start_ns)))
            .collect(),
    );

    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut server = start(dir.path(), port, "first");
    wait_healthy(&client, &base, dir.path(), "first").await;

    let queue = Arc::new(Mutex::new(work));
    let outcomes = Arc::new(Mutex::new(Outcomes::default()));
    let total = USERS * BATCHES_PER_USER;
    let mut senders = Vec::new();
    for _ in 0..SENDERS {
        let (queue, outcomes, bodies, client, token) = (
            queue.clone(),
            outcomes.clone(),
            bodies.clone(),
            client.clone(),
            token.clone(),
        );
        let url = format!("{base}/v1/metrics");
        senders.push(tokio::spawn(async move {
            loop {
                let Some(id) = queue.lock().unwrap().pop() else {
                    return;
                };
                let sent = client
                    .post(&url)
                    .bearer_auth(&token)
                    .header("content-type", "application/json")
                    .body(bodies[&id].clone())
                    .send()
                    .await;
                let mut o = outcomes.lock().unwrap();
                match sent {
                    Ok(r) if r.status().is_success() => o.acked.push(id),
                    Ok(r) => panic!(
                        "batch {id:?} was refused with {} before the kill",
                        r.status()
                    ),
                    // Connection reset or refused: the server died; whether it stored this is unknown.
                    Err(_) => o.unknown.push(id),
                }
            }
        }));
    }

    // Kill in the middle of the load: after about a third was acknowledged.
    let deadline = Instant::now() + Duration::from_secs(120);
    while outcomes.lock().unwrap().acked.len() < total / 3 {
        assert!(Instant::now() < deadline, "the load did not get going");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    server.kill().unwrap(); // SIGKILL on Unix: no shutdown hook runs
    server.wait().unwrap();
    for s in senders {
        s.await.unwrap();
    }
    let (acked, unknown) = {
        let mut o = outcomes.lock().unwrap();
        (std::mem::take(&mut o.acked), std::mem::take(&mut o.unknown))
    };
    assert!(
        acked.len() >= total / 3 && acked.len() < total,
        "the kill landed mid-load ({} acked)",
        acked.len()
    );
    assert_eq!(acked.len() + unknown.len(), total);

    let mut server = start(dir.path(), port, "second");
    wait_healthy(&client, &base, dir.path(), "second").await;

    // Every acknowledged batch is there; nothing beyond what was sent.
    let after_restart = stored_lines(&client, &base).await;
    let mut acked_per_user = vec![0u64; USERS];
    for &(u, _) in &acked {
        acked_per_user[u] += LINES_PER_BATCH;
    }
    for (u, want) in acked_per_user.iter().enumerate() {
        let got = after_restart.get(&email(u)).copied().unwrap_or(0);
        assert!(
            got >= *want && got <= (BATCHES_PER_USER as u64) * LINES_PER_BATCH,
            "{}: {got} lines stored, {want} acknowledged",
            email(u)
        );
    }

    // The client's retries of the batches it never heard back about, same bytes:
    // those stored before the kill must not count again.
    for id in &unknown {
        let r = client
            .post(format!("{base}/v1/metrics"))
            .bearer_auth(&token)
            .header("content-type", "application/json")
            .body(bodies[id].clone())
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "retry of {id:?}: {}", r.status());
    }
    // And a retry of an acknowledged batch, as a client that missed the 200 would send.
    let r = client
        .post(format!("{base}/v1/metrics"))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body(bodies[&acked[0]].clone())
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());

    let fin = stored_lines(&client, &base).await;
    for u in 0..USERS {
        assert_eq!(
            fin.get(&email(u)).copied(),
            Some((BATCHES_PER_USER as u64) * LINES_PER_BATCH),
            "{}: every batch exactly once",
            email(u)
        );
    }
    server.kill().unwrap();
    server.wait().unwrap();
}
