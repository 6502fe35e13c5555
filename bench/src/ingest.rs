//! Telemetry ingest: Claude-Code-shaped OTLP batches for many users, built
//! from the captured requests in ../shared/fixtures/otlp (JSON and protobuf),
//! replayed against the real `scoreboard serve` on 127.0.0.1 by concurrent
//! clients. Measures acknowledged points per second, ack latency and the
//! server's memory, then checks that every acknowledged point was stored: each
//! user's stored row must equal the sum of the rows one session of each
//! replayed template gives on its own (measured first, on calibration users).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper::header::{self, HeaderValue};
use hyper_util::rt::TokioIo;
use scoreboard_core::{DayRow, Measures};
pub use scoreboard_test_support::otlp::{collector_batches, Batch, Export, Template};
use scoreboard_test_support::rng::Lcg;
use serde_json::{json, Value};

use crate::proc::{scoreboard, Server};
use crate::stats::{median, percentile};
use crate::{ctx, Result};

/// Captured sessions used as shapes: (CLI version, scenario). Delta temporality,
/// as the CLI sends by default.
pub const JSON_TEMPLATES: [(&str, &str); 4] = [
    ("claude-code-2.1.330", "write-json-delta"),
    ("claude-code-2.1.330", "edit-json-delta"),
    ("claude-code-2.1.330", "bash-commit-json-delta"),
    ("claude-code-2.1.330", "hello-json-delta"),
];
pub const PROTOBUF_TEMPLATES: [(&str, &str); 2] = [
    ("claude-code-2.1.330", "write-protobuf-delta"),
    ("claude-code-2.1.330", "hello-protobuf-delta"),
];

/// One session of `t` as `email`'s installation `user` and session `session`,
/// encoded as captured (no gzip: the CLI's default).
pub fn session_batches(t: &Template, user: &str, session: &str, email: &str) -> Vec<Batch> {
    t.session(user, session, Some(email), 0, false)
}

pub fn email(u: usize) -> String {
    format!("engineer{u:04}@example.com")
}

#[derive(Debug, Default)]
struct Sent {
    latencies_ms: Vec<f64>,
    points: usize,
    batches: usize,
    busy_503: usize,
    failed: Vec<String>,
}

/// A batch ready to send: its body shared, not copied, by each attempt.
pub struct Ready {
    path: &'static str,
    content_type: HeaderValue,
    gzip: bool,
    body: Bytes,
    points: usize,
}

/// The batches as the clients send them; done before the clock starts.
pub fn ready(batches: Vec<Batch>) -> Arc<Vec<Ready>> {
    Arc::new(
        batches
            .into_iter()
            .map(|b| Ready {
                path: b.path,
                content_type: HeaderValue::from_static(b.content_type),
                gzip: b.gzip,
                body: Bytes::from(b.body),
                points: b.points,
            })
            .collect(),
    )
}

/// One client's HTTP/1.1 connection to the server (kept alive, as an
/// exporter's is).
type Connection = hyper::client::conn::http1::SendRequest<Full<Bytes>>;

async fn connect(addr: SocketAddr) -> std::result::Result<Connection, String> {
    let tcp = tokio::net::TcpStream::connect(addr)
        .await
        .map_err(|e| format!("connect to {addr}: {e}"))?;
    // As reqwest and the OTLP exporters' HTTP clients do.
    tcp.set_nodelay(true).map_err(|e| e.to_string())?;
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(tcp))
        .await
        .map_err(|e| format!("HTTP handshake with {addr}: {e}"))?;
    tokio::spawn(connection);
    Ok(sender)
}

/// Sends one batch and reads the whole answer; its status.
async fn post(
    conn: &mut Connection,
    host: &HeaderValue,
    auth: &HeaderValue,
    b: &Ready,
) -> std::result::Result<u16, String> {
    let mut req = hyper::Request::post(b.path)
        .header(header::HOST, host)
        .header(header::CONTENT_TYPE, &b.content_type)
        .header(header::AUTHORIZATION, auth);
    if b.gzip {
        req = req.header(header::CONTENT_ENCODING, "gzip");
    }
    let req = req
        .body(Full::new(b.body.clone()))
        .map_err(|e| e.to_string())?;
    conn.ready().await.map_err(|e| e.to_string())?;
    let resp = conn.send_request(req).await.map_err(|e| e.to_string())?;
    let status = resp.status().as_u16();
    resp.into_body()
        .collect()
        .await
        .map_err(|e| format!("reading the answer: {e}"))?;
    Ok(status)
}

/// Sends every batch with `concurrency` clients, each on a connection of
/// its own (hyper's HTTP/1.1 client alone: the clients share the server's
/// 2 cores, and reqwest's pool, URL parsing and layers cost them about as
/// much again: bench/notes/ingest.md, sixth round); a 503 is retried after
/// 100 ms like an OTLP exporter would (the latency of the accepted attempt
/// is kept).
async fn send_all(
    addr: SocketAddr,
    token: &str,
    batches: Arc<Vec<Ready>>,
    concurrency: usize,
) -> Sent {
    let next = Arc::new(AtomicUsize::new(0));
    let host = HeaderValue::from_str(&addr.to_string()).ok();
    let auth = HeaderValue::from_str(&format!("Bearer {token}")).ok();
    let (Some(host), Some(auth)) = (host, auth) else {
        return Sent {
            failed: vec!["the token is not a valid header value".into()],
            ..Sent::default()
        };
    };
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (next, batches) = (next.clone(), batches.clone());
        let (host, auth) = (host.clone(), auth.clone());
        tasks.push(tokio::spawn(async move {
            let mut s = Sent::default();
            let mut conn: Option<Connection> = None;
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(b) = batches.get(i) else { break };
                loop {
                    let t = Instant::now();
                    let (sent, reused) = match conn.take() {
                        Some(c) => (Ok(c), true),
                        None => (connect(addr).await, false),
                    };
                    let status = match sent {
                        Ok(mut c) => {
                            let status = post(&mut c, &host, &auth, b).await;
                            // Only a 200 leaves the connection surely open: a
                            // 503 may come with `connection: close` (the
                            // connection cap) or before the body was read.
                            if status == Ok(200) {
                                conn = Some(c);
                            }
                            status
                        }
                        Err(e) => Err(e),
                    };
                    let status = match status {
                        Ok(st) => st,
                        // A kept-alive connection the server had closed:
                        // the batch goes again on a new one.
                        Err(_) if reused => continue,
                        Err(e) => {
                            s.failed.push(e);
                            break;
                        }
                    };
                    let ms = t.elapsed().as_secs_f64() * 1000.0;
                    match status {
                        200 => {
                            s.latencies_ms.push(ms);
                            s.points += b.points;
                            s.batches += 1;
                            break;
                        }
                        503 => {
                            s.busy_503 += 1;
                            tokio::time::sleep(Duration::from_millis(100)).await;
                        }
                        other => {
                            s.failed.push(format!("{} answered {other}", b.path));
                            break;
                        }
                    }
                }
            }
            s
        }));
    }
    let mut all = Sent::default();
    for t in tasks {
        if let Ok(s) = t.await {
            all.latencies_ms.extend(s.latencies_ms);
            all.points += s.points;
            all.batches += s.batches;
            all.busy_503 += s.busy_503;
            all.failed.extend(s.failed);
        }
    }
    all
}

async fn stored_rows(base: &str) -> Result<Vec<DayRow>> {
    // The capture day (2026-11-22) and its neighbours, whatever "today" is.
    let url = format!("{base}/api/rows?from=2026-11-01&to=2026-12-31");
    let v: Value = reqwest::get(&url)
        .await
        .map_err(ctx(&url))?
        .json()
        .await
        .map_err(ctx(&url))?;
    serde_json::from_value(v["rows"].clone()).map_err(ctx("rows of /api/rows"))
}

pub fn create_token(bin: &Path, data_dir: &Path) -> Result<String> {
    let out = scoreboard(bin)
        .args(["token", "create", "--name", "bench", "--data-dir"])
        .arg(data_dir)
        .output()
        .map_err(ctx("scoreboard token create"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    let start = text
        .find("sbi_")
        .ok_or_else(|| format!("no token in `scoreboard token create` output: {text}"))?;
    Ok(text[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
        .collect())
}

/// Pre-encoded batches, and which templates each user's sessions replayed.
type Built = (Vec<Batch>, BTreeMap<String, Vec<String>>);

/// Points in one request of the collector phase: what the batch processor
/// of `deploy/otel-collector.yaml` sends (`send_batch_size: 512`).
const COLLECTOR_BATCH_POINTS: usize = 512;

pub struct Settings {
    pub users: usize,
    /// Sessions per user and encoding phase.
    pub sessions: usize,
    pub concurrency: usize,
}

fn phase_json(sent: &Sent, wall: Duration) -> Value {
    let secs = wall.as_secs_f64();
    json!({
        "batches": sent.batches,
        "points": sent.points,
        "seconds": secs,
        "points_per_second": sent.points as f64 / secs,
        "batches_per_second": sent.batches as f64 / secs,
        "ack_p50_ms": median(&sent.latencies_ms),
        "ack_p99_ms": percentile(&sent.latencies_ms, 99.0),
        "ack_max_ms": percentile(&sent.latencies_ms, 100.0),
        "busy_503": sent.busy_503,
        "failed": sent.failed.len(),
        "first_failures": sent.failed.iter().take(3).collect::<Vec<_>>(),
    })
}

/// The 1, 5 and 15-minute load averages: other work on the 2 cores moves
/// the figures more than anything else.
fn loadavg() -> String {
    let l = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    l.split_whitespace().take(3).collect::<Vec<_>>().join(" ")
}

pub async fn run(bin: &Path, fixtures: &Path, s: &Settings) -> Result<Value> {
    let load_at_start = loadavg();
    let started_at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let data = tempfile::tempdir().map_err(ctx("data dir"))?;
    let token = create_token(bin, data.path())?;
    let json_t: Vec<Template> = JSON_TEMPLATES
        .iter()
        .map(|(v, sc)| Template::load(fixtures, v, sc))
        .collect::<Result<_>>()?;
    let proto_t: Vec<Template> = PROTOBUF_TEMPLATES
        .iter()
        .map(|(v, sc)| Template::load(fixtures, v, sc))
        .collect::<Result<_>>()?;

    let server = Server::start(bin, data.path(), None, |_| {})?;
    let base = server.url("");
    tokio::time::sleep(Duration::from_secs(2)).await;
    let idle = server.process.memory()?;

    // Calibration: one session of each template on its own user.
    let mut calib: BTreeMap<String, Measures> = BTreeMap::new();
    for (i, t) in json_t.iter().chain(&proto_t).enumerate() {
        let e = format!("calibration{i}@bench.example");
        let bs = session_batches(
            t,
            &format!("{:064x}", 0xca11b + i),
            &format!("00000000-0000-4000-9000-{i:012x}"),
            &e,
        );
        let sent = send_all(server.addr, &token, ready(bs), 1).await;
        if !sent.failed.is_empty() {
            return Err(format!("calibration {}: {:?}", t.name(), sent.failed));
        }
        let rows = stored_rows(&base).await?;
        let row = rows
            .iter()
            .find(|r| r.person.to_string().contains(&e))
            .ok_or_else(|| format!("calibration {}: no row stored for {e}", t.name()))?;
        calib.insert(t.name(), row.measures);
    }

    // Every user's sessions, pre-encoded so that the clients only send.
    let build = |templates: &[Template], phase: usize| -> Result<Built> {
        let mut batches = Vec::new();
        let mut used: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for u in 0..s.users {
            let uid = format!("{:064x}", 0xbe4c_0000_u64 + u as u64);
            for k in 0..s.sessions {
                let t = &templates[(u + k) % templates.len()];
                let session = format!("00000000-0000-4{phase:03}-8000-{:012x}", u * 1000 + k);
                batches.extend(session_batches(t, &uid, &session, &email(u)));
                used.entry(email(u)).or_default().push(t.name());
            }
        }
        // Interleave users as real traffic does.
        Lcg(0x5eed).shuffle(&mut batches);
        Ok((batches, used))
    };

    // The same sessions arriving through an OpenTelemetry Collector: many
    // engineers' exports merged into gzipped protobuf requests of about
    // 512 points. Reported apart: the goal is about Claude Code's own shapes.
    let collector = |phase: usize| -> Built {
        let all: Vec<&Template> = json_t.iter().chain(&proto_t).collect();
        let mut exports: Vec<Export> = Vec::new();
        let mut used: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for u in 0..s.users {
            let uid = format!("{:064x}", 0xbe4c_0000_u64 + u as u64);
            for k in 0..s.sessions {
                let t = all[(u + k) % all.len()];
                let session = format!("00000000-0000-4{phase:03}-8000-{:012x}", u * 1000 + k);
                exports.extend(
                    t.requests
                        .iter()
                        .map(|e| e.restamped(&uid, &session, Some(&email(u)), 0)),
                );
                used.entry(email(u)).or_default().push(t.name());
            }
        }
        Lcg(0x5eed).shuffle(&mut exports);
        let batches = collector_batches(&exports, COLLECTOR_BATCH_POINTS)
            .iter()
            .map(|e| e.encode(true, true))
            .collect();
        (batches, used)
    };

    let mut phases = serde_json::Map::new();
    let mut expected: BTreeMap<String, Measures> = BTreeMap::new();
    let mut acked_points = 0usize;
    let mut all_latencies = Vec::new();
    let mut total_wall = Duration::ZERO;
    let mut total_points = 0usize;
    let mut any_failed = 0usize;
    let mut collector_phase = Value::Null;
    for name in ["json", "protobuf", "collector"] {
        let (batches, used) = match name {
            "json" => build(&json_t, 1)?,
            "protobuf" => build(&proto_t, 2)?,
            _ => collector(3),
        };
        eprintln!(
            "bench: ingest, {name}: {} batches for {} users",
            batches.len(),
            s.users
        );
        // Bodies shared before the clock and the CPU counters start.
        let batches = ready(batches);
        let server_pid = server.process.pid().to_string();
        let writer = || crate::proc::thread_cpu_seconds(&server_pid, "otlp-writer");
        let cpu_before = (
            crate::proc::cpu_seconds(&server_pid),
            crate::proc::cpu_seconds("self"),
            writer(),
        );
        let t = Instant::now();
        let sent = send_all(server.addr, &token, batches, s.concurrency).await;
        let wall = t.elapsed();
        let cpu = (
            crate::proc::cpu_seconds(&server_pid) - cpu_before.0,
            crate::proc::cpu_seconds("self") - cpu_before.1,
            writer() - cpu_before.2,
        );
        eprintln!(
            "  {} points in {:.2} s = {:.0} points/s, p99 {:.1} ms",
            sent.points,
            wall.as_secs_f64(),
            sent.points as f64 / wall.as_secs_f64(),
            percentile(&sent.latencies_ms, 99.0).unwrap_or(f64::NAN)
        );
        let mut phase = phase_json(&sent, wall);
        phase["server_cpu_seconds"] = json!(cpu.0);
        phase["client_cpu_seconds"] = json!(cpu.1);
        phase["server_cpu_us_per_point"] = json!(cpu.0 * 1e6 / sent.points.max(1) as f64);
        phase["server_cpu_us_per_batch"] = json!(cpu.0 * 1e6 / sent.batches.max(1) as f64);
        // The single writer thread's share: what bounds ingest on any number of cores.
        phase["writer_cpu_seconds"] = json!(cpu.2);
        phase["writer_cpu_us_per_batch"] = json!(cpu.2 * 1e6 / sent.batches.max(1) as f64);
        phase["client_cpu_us_per_batch"] = json!(cpu.1 * 1e6 / sent.batches.max(1) as f64);
        eprintln!(
            "  server CPU {:.2} s ({:.1} µs a point, {:.0} µs a batch, of which the writer thread {:.0} µs), clients' CPU {:.2} s ({:.0} µs a batch)",
            cpu.0,
            cpu.0 * 1e6 / sent.points.max(1) as f64,
            cpu.0 * 1e6 / sent.batches.max(1) as f64,
            cpu.2 * 1e6 / sent.batches.max(1) as f64,
            cpu.1,
            cpu.1 * 1e6 / sent.batches.max(1) as f64
        );
        any_failed += sent.failed.len();
        if name == "collector" {
            collector_phase = phase;
        } else {
            phases.insert(name.into(), phase);
            acked_points += sent.points;
            total_points += sent.points;
            total_wall += wall;
            all_latencies.extend(sent.latencies_ms.iter().copied());
        }
        for (e, names) in used {
            let m = expected.entry(e).or_default();
            for n in names {
                if let Some(c) = calib.get(&n) {
                    m.add(c);
                }
            }
        }
    }
    let after_load = server.process.memory()?;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let settled = server.process.memory()?;

    // Every acknowledged point stored: each user's row is the sum of its sessions.
    let rows = stored_rows(&base).await?;
    let mut got: BTreeMap<String, Measures> = BTreeMap::new();
    for r in &rows {
        got.entry(r.person.to_string())
            .or_default()
            .add(&r.measures);
    }
    let mut mismatched = Vec::new();
    for (e, want) in &expected {
        let have = got
            .iter()
            .find(|(k, _)| k.contains(e.as_str()))
            .map(|(_, m)| *m);
        if have != Some(*want) {
            mismatched.push(format!("{e}: stored {have:?}, expected {want:?}"));
        }
    }
    let db = std::fs::metadata(data.path().join("scoreboard.db"))
        .map(|m| m.len())
        .unwrap_or(0);
    let secs = total_wall.as_secs_f64();
    Ok(json!({
        "started_at": started_at,
        "loadavg_at_start": load_at_start,
        "loadavg_at_end": loadavg(),
        "users": s.users,
        "sessions_per_user_per_encoding": s.sessions,
        "concurrency": s.concurrency,
        "templates": json_t.iter().chain(&proto_t).map(Template::name).collect::<Vec<_>>(),
        "phases": phases,
        "collector": collector_phase,
        "collector_batch_points": COLLECTOR_BATCH_POINTS,
        "seconds": secs,
        "points_per_second": total_points as f64 / secs,
        "ack_p50_ms": median(&all_latencies),
        "ack_p99_ms": percentile(&all_latencies, 99.0),
        "acked_points": acked_points,
        "failed_requests": any_failed,
        "verified_users": expected.len() - mismatched.len(),
        "users_checked": expected.len(),
        "all_stored": mismatched.is_empty() && any_failed == 0,
        "mismatches": mismatched.into_iter().take(5).collect::<Vec<_>>(),
        "server_rss_idle_bytes": idle.rss_bytes,
        "server_rss_peak_bytes": after_load.hwm_bytes,
        "server_rss_after_load_bytes": settled.rss_bytes,
        "db_bytes": db,
    }))
}

pub fn fixtures_dir(repo: &Path) -> PathBuf {
    repo.join("../shared/fixtures/otlp")
}
