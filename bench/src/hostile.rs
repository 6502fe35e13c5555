//! Memory and time stay bounded under the attacks of issue 11: while honest
//! engineers' Claude Code batches keep arriving, the worst requests the
//! attack review found are sent at the same time, from other addresses,
//! against the real `scoreboard serve`:
//!
//! - eight clients posting 15 MB protobuf bodies of empty attributes (each
//!   used to decode to hundreds of MB);
//! - four posting one request naming 60,000 people (was quadratic; 100,000
//!   no longer fit the decode budget and get 413);
//! - four posting a resource of 40,000 attributes with 2,000 points (was
//!   hashed and sorted per point);
//! - eight uploads of a telemetry body at one byte a second (used to hold a
//!   receiver slot each, for ever);
//! - 300 idle connections from one address (used to exhaust file descriptors);
//! - twelve clients posting a 70 KB share link that unpacks to 60 MB of team
//!   names, and one of a million JSON values.
//!
//! `HOSTILE_ONLY=<part of an attacker's name>` runs only the matching
//! attackers, to find which one costs what.
//!
//! Measured: the honest clients' ack latency (p50/p99) before and during the
//! attack and how many of their batches were shed, the server's resident
//! memory (sampled every 50 ms, and its peak from /proc), and what each
//! attacker was answered.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::common::v1::KeyValue;
use prost::Message;
use scoreboard_test_support::otlp::{empty_attributes, sum_request, text};
use serde_json::{json, Value};
use tokio::io::AsyncWriteExt;

use crate::ingest::{self, Batch, Template};
use crate::proc::{memory, Server};
use crate::stats::{median, percentile};
use crate::{ctx, Result};

pub struct Settings {
    /// Honest clients, each sending a batch, then pausing.
    pub honest_clients: usize,
    pub honest_pause: Duration,
    pub baseline: Duration,
    pub attack: Duration,
}

/// Distinct people in one request: the most the memory budget decodes (a
/// request naming 100,000 needs about 250 MB decoded and gets 413).
const PEOPLE: usize = 60_000;

/// The documented ceiling (ARCHITECTURE.md, "Security model").
pub const RSS_CEILING_BYTES: u64 = 1024 * 1024 * 1024;
/// The goal for the honest clients' p99 during the attack.
pub const P99_GOAL_MS: f64 = 100.0;

/// Delta session counts: one resource per entry of `resources`, `points` each.
fn metrics(resources: Vec<Vec<KeyValue>>, points: usize) -> Vec<u8> {
    sum_request(
        resources,
        "claude_code.session.count",
        None,
        &vec![1.0; points],
    )
    .encode_to_vec()
}

struct Bodies {
    empty_attributes: Vec<u8>,
    many_people: Vec<u8>,
    many_attributes: Vec<u8>,
    snapshot_bomb: String,
    snapshot_values: String,
}

fn pack(json: &[u8]) -> String {
    use base64::Engine as _;
    let z = miniz_oxide::deflate::compress_to_vec_zlib(json, 9);
    format!(
        "v1.{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(z)
    )
}

fn bodies() -> Bodies {
    let empty_attributes = empty_attributes(7_500_000).encode_to_vec();
    let many_people = metrics(
        (0..PEOPLE)
            .map(|i| vec![text("user.email", &format!("fake{i:06}@attack.example"))])
            .collect(),
        1,
    );
    let mut attrs: Vec<KeyValue> = (0..40_000).map(|i| text(&format!("a{i}"), "x")).collect();
    attrs.push(text("user.email", "mallory@attack.example"));
    let many_attributes = metrics(vec![attrs], 2000);
    let mut teams = b"{\"version\":1,\"report\":{\"teams\":[".to_vec();
    teams.extend(std::iter::repeat_n(&b"\"\","[..], 20_000_000).flatten());
    teams.extend_from_slice(b"\"\"]}}");
    let snapshot_bomb = pack(&teams);
    drop(teams);
    let mut zeros = b"[".to_vec();
    zeros.extend(std::iter::repeat_n(&b"0,"[..], 1_500_000).flatten());
    zeros.extend_from_slice(b"0]");
    Bodies {
        empty_attributes,
        many_people,
        many_attributes,
        snapshot_bomb,
        snapshot_values: pack(&zeros),
    }
}

/// A client whose connections come from `127.0.0.<n>` (per-address caps
/// apply to each attacker, not to the honest clients).
fn client_from(n: u8) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(IpAddr::V4(Ipv4Addr::new(127, 0, 0, n)))
        .timeout(Duration::from_secs(120))
        .build()
        .unwrap_or_default()
}

#[derive(Default)]
struct Tally(Mutex<BTreeMap<String, BTreeMap<String, usize>>>);

impl Tally {
    fn add(&self, who: &str, outcome: String) {
        let mut t = self.0.lock().unwrap_or_else(|p| p.into_inner());
        *t.entry(who.to_string())
            .or_default()
            .entry(outcome)
            .or_default() += 1;
    }
    fn json(&self) -> Value {
        let t = self.0.lock().unwrap_or_else(|p| p.into_inner());
        json!(*t)
    }
}

/// Posts `body` again and again until `stop`, counting the answers.
#[allow(clippy::too_many_arguments)]
fn attacker(
    who: &'static str,
    from: u8,
    url: String,
    headers: Vec<(&'static str, String)>,
    body: Arc<Vec<u8>>,
    stop: Arc<AtomicBool>,
    tally: Arc<Tally>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let c = client_from(from);
        while !stop.load(Ordering::Relaxed) {
            let mut r = c.post(&url);
            for (k, v) in &headers {
                r = r.header(*k, v);
            }
            let outcome = match r.body(body.as_ref().clone()).send().await {
                Ok(resp) => {
                    let s = resp.status().as_u16().to_string();
                    let _ = resp.bytes().await;
                    s
                }
                Err(e) if e.is_timeout() => "timeout".into(),
                Err(_) => "connection error".into(),
            };
            tally.add(who, outcome);
        }
    })
}

/// Honest clients: each sends its next batch, waits for the answer, pauses.
async fn honest(
    base: &str,
    token: &str,
    batches: Arc<Vec<Batch>>,
    next: Arc<AtomicUsize>,
    s: &Settings,
    run_for: Duration,
) -> (Vec<f64>, usize, usize) {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap_or_default();
    let until = Instant::now() + run_for;
    let mut tasks = Vec::new();
    for _ in 0..s.honest_clients {
        let (client, batches, next) = (client.clone(), batches.clone(), next.clone());
        let (base, auth, pause) = (base.to_string(), format!("Bearer {token}"), s.honest_pause);
        tasks.push(tokio::spawn(async move {
            let (mut lat, mut shed, mut failed) = (Vec::new(), 0usize, 0usize);
            while Instant::now() < until {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(b) = batches.get(i % batches.len()) else {
                    break;
                };
                let t = Instant::now();
                let r = client
                    .post(format!("{base}{}", b.path))
                    .header("Content-Type", b.content_type)
                    .header("Authorization", &auth)
                    .body(b.body.clone())
                    .send()
                    .await;
                match r {
                    Ok(resp) if resp.status().as_u16() == 200 => {
                        let _ = resp.bytes().await;
                        lat.push(t.elapsed().as_secs_f64() * 1000.0);
                    }
                    Ok(resp) if resp.status().as_u16() == 503 => shed += 1,
                    _ => failed += 1,
                }
                tokio::time::sleep(pause).await;
            }
            (lat, shed, failed)
        }));
    }
    let mut all = (Vec::new(), 0, 0);
    for t in tasks {
        if let Ok((l, s, f)) = t.await {
            all.0.extend(l);
            all.1 += s;
            all.2 += f;
        }
    }
    all
}

/// Eight telemetry uploads that send their headers and then a byte a second.
fn slow_uploads(addr: SocketAddr, token: &str, stop: Arc<AtomicBool>, tally: Arc<Tally>) {
    for _ in 0..8 {
        let (token, stop, tally) = (token.to_string(), stop.clone(), tally.clone());
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let Ok(sock) = tokio::net::TcpSocket::new_v4() else {
                    return;
                };
                let _ = sock.bind((Ipv4Addr::new(127, 0, 0, 40), 0).into());
                let Ok(mut s) = sock.connect(addr).await else {
                    return;
                };
                let head = format!(
                    "POST /v1/metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
                     Authorization: Bearer {token}\r\nContent-Length: 100000\r\n\r\n"
                );
                if s.write_all(head.as_bytes()).await.is_err() {
                    continue;
                }
                let mut sent = 0;
                while !stop.load(Ordering::Relaxed) && s.write_all(b" ").await.is_ok() {
                    sent += 1;
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
                tally.add(
                    "slow upload (1 byte/s)",
                    format!("cut after {}0 s", sent / 10),
                );
            }
        });
    }
}

/// 300 connections from one address that send nothing.
async fn idle_sockets(addr: SocketAddr, tally: &Tally) -> Vec<tokio::net::TcpStream> {
    let mut held = Vec::new();
    for _ in 0..300 {
        let Ok(sock) = tokio::net::TcpSocket::new_v4() else {
            break;
        };
        let _ = sock.bind((Ipv4Addr::new(127, 0, 0, 41), 0).into());
        match sock.connect(addr).await {
            Ok(s) => held.push(s),
            Err(_) => tally.add(
                "idle sockets (300 from one address)",
                "connect failed".into(),
            ),
        }
    }
    held
}

pub async fn run(bin: &Path, fixtures: &Path, s: &Settings) -> Result<Value> {
    let data = tempfile::tempdir().map_err(ctx("data dir"))?;
    let token = ingest::create_token(bin, data.path())?;
    eprintln!("bench: hostile, building the attack bodies");
    let b = bodies();
    let sizes = json!({
        "empty_attributes_protobuf_bytes": b.empty_attributes.len(),
        "sixty_thousand_people_protobuf_bytes": b.many_people.len(),
        "forty_thousand_attributes_protobuf_bytes": b.many_attributes.len(),
        "snapshot_bomb_link_bytes": b.snapshot_bomb.len(),
        "snapshot_values_link_bytes": b.snapshot_values.len(),
    });

    // Honest traffic: Claude Code's own batches (JSON), many engineers.
    let templates: Vec<Template> = ingest::JSON_TEMPLATES
        .iter()
        .map(|(v, sc)| Template::load(fixtures, v, sc))
        .collect::<Result<_>>()?;
    let mut batches = Vec::new();
    for u in 0..400 {
        for k in 0..2 {
            let t = &templates[(u + k) % templates.len()];
            batches.extend(ingest::session_batches(
                t,
                &format!("{:064x}", 0x5afe_0000_u64 + u as u64),
                &format!("00000000-0000-4000-a000-{:012x}", u * 10 + k),
                &format!("engineer{u:04}@honest.example"),
            ));
        }
    }
    let batches = Arc::new(batches);
    let next = Arc::new(AtomicUsize::new(0));

    let server = Server::start(bin, data.path(), None, |_| {})?;
    let base = server.url("");
    let pid = server.process.pid();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let idle = memory(pid)?;

    eprintln!("bench: hostile, baseline ({} s)", s.baseline.as_secs());
    let (base_lat, base_shed, base_failed) =
        honest(&base, &token, batches.clone(), next.clone(), s, s.baseline).await;

    eprintln!("bench: hostile, under attack ({} s)", s.attack.as_secs());
    let stop = Arc::new(AtomicBool::new(false));
    let tally = Arc::new(Tally::default());
    let peak_sampled = Arc::new(AtomicUsize::new(0));
    let sampler = {
        let (stop, peak) = (stop.clone(), peak_sampled.clone());
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                if let Ok(m) = memory(pid) {
                    peak.fetch_max(m.rss_bytes as usize, Ordering::Relaxed);
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
    };
    let otlp = |body: &[u8]| Arc::new(body.to_vec());
    let pb: Vec<(&'static str, String)> = vec![
        ("content-type", "application/x-protobuf".to_string()),
        ("authorization", format!("Bearer {token}")),
    ];
    let snap: Vec<(&'static str, String)> = vec![
        ("content-type", "text/plain".to_string()),
        ("x-scoreboard-request", "1".to_string()),
    ];
    let mut attackers = Vec::new();
    let metrics_url = format!("{base}/v1/metrics");
    let snapshots_url = format!("{base}/api/snapshots");
    type Plan<'a> = (
        &'static str,
        u8,
        usize,
        &'a String,
        &'a Vec<(&'static str, String)>,
        Arc<Vec<u8>>,
    );
    let plan: [Plan; 5] = [
        (
            "15 MB of empty attributes (8 clients)",
            10,
            8,
            &metrics_url,
            &pb,
            otlp(&b.empty_attributes),
        ),
        (
            "60,000 people in one request (4 clients)",
            20,
            4,
            &metrics_url,
            &pb,
            otlp(&b.many_people),
        ),
        (
            "40,000 attributes x 2,000 points (4 clients)",
            30,
            4,
            &metrics_url,
            &pb,
            otlp(&b.many_attributes),
        ),
        (
            "share link unpacking to 60 MB (12 clients)",
            50,
            12,
            &snapshots_url,
            &snap,
            Arc::new(b.snapshot_bomb.clone().into_bytes()),
        ),
        (
            "share link of 1.5 M values (2 clients)",
            60,
            2,
            &snapshots_url,
            &snap,
            Arc::new(b.snapshot_values.clone().into_bytes()),
        ),
    ];
    drop(b);
    let only = std::env::var("HOSTILE_ONLY").unwrap_or_default();
    for (who, from, n, url, headers, body) in plan {
        if !only.is_empty() && !who.contains(only.as_str()) {
            continue;
        }
        for i in 0..n {
            attackers.push(attacker(
                who,
                from + i as u8,
                url.clone(),
                headers.clone(),
                body.clone(),
                stop.clone(),
                tally.clone(),
            ));
        }
    }
    slow_uploads(server.addr, &token, stop.clone(), tally.clone());
    let held = idle_sockets(server.addr, &tally).await;
    tally.add(
        "idle sockets (300 from one address)",
        format!("{} held open", held.len()),
    );
    let (att_lat, att_shed, att_failed) =
        honest(&base, &token, batches.clone(), next.clone(), s, s.attack).await;
    stop.store(true, Ordering::Relaxed);
    let mut held = held;
    // The idle sockets still open at the end (the header timeout closes them).
    let mut closed = 0;
    for sock in &mut held {
        let mut buf = [0u8; 1];
        if let Ok(Ok(0)) = tokio::time::timeout(
            Duration::from_millis(5),
            tokio::io::AsyncReadExt::read(sock, &mut buf),
        )
        .await
        {
            closed += 1;
        }
    }
    tally.add(
        "idle sockets (300 from one address)",
        format!("{closed} closed by the server by the end"),
    );
    for a in attackers {
        let _ = tokio::time::timeout(Duration::from_secs(60), a).await;
    }
    let _ = sampler.await;
    let after = memory(pid)?;
    let health = reqwest::get(format!("{base}/api/health"))
        .await
        .map(|r| r.status().as_u16())
        .unwrap_or(0);
    let rows = reqwest::get(format!("{base}/api/rows?from=2026-11-01&to=2026-12-31"))
        .await
        .map(|r| r.status().as_u16())
        .unwrap_or(0);
    let peak = after
        .hwm_bytes
        .max(peak_sampled.load(Ordering::Relaxed) as u64);
    let p99 = percentile(&att_lat, 99.0);
    eprintln!(
        "  honest p99 {:.1} ms under attack (baseline {:.1} ms), peak RSS {:.0} MB",
        p99.unwrap_or(f64::NAN),
        percentile(&base_lat, 99.0).unwrap_or(f64::NAN),
        peak as f64 / 1e6
    );
    Ok(json!({
        "honest_clients": s.honest_clients,
        "honest_pause_ms": s.honest_pause.as_millis() as u64,
        "bodies": sizes,
        "baseline": {
            "seconds": s.baseline.as_secs_f64(),
            "acked": base_lat.len(),
            "ack_p50_ms": median(&base_lat),
            "ack_p99_ms": percentile(&base_lat, 99.0),
            "ack_max_ms": percentile(&base_lat, 100.0),
            "shed_503": base_shed,
            "failed": base_failed,
        },
        "under_attack": {
            "seconds": s.attack.as_secs_f64(),
            "acked": att_lat.len(),
            "ack_p50_ms": median(&att_lat),
            "ack_p99_ms": p99,
            "ack_max_ms": percentile(&att_lat, 100.0),
            "shed_503": att_shed,
            "failed": att_failed,
        },
        "attackers": tally.json(),
        "server_rss_idle_bytes": idle.rss_bytes,
        "server_rss_peak_bytes": peak,
        "server_rss_after_bytes": after.rss_bytes,
        "rss_ceiling_bytes": RSS_CEILING_BYTES,
        "p99_goal_ms": P99_GOAL_MS,
        "health_after": health,
        "rows_after": rows,
        "rss_within_ceiling": peak <= RSS_CEILING_BYTES,
        "p99_within_goal": p99.is_some_and(|x| x < P99_GOAL_MS),
    }))
}
