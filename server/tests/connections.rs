//! The real listener holds against clients that open connections and never
//! finish them: header timeout, connection caps with a clear refusal, and
//! body deadlines. `serve::start` on 127.0.0.1, raw TCP clients.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::time::Duration;

use scoreboard_server::config::{Config, Limits, Secrets};
use scoreboard_server::serve;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

fn config(dir: &Path, limits: Limits) -> Config {
    Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: dir.to_path_buf(),
        secrets: Secrets::default(),
        limits,
        ..Config::default()
    }
}

/// A connection from `127.0.0.<from>` (every 127/8 address is this machine's).
async fn connect_from(addr: SocketAddr, from: u8) -> TcpStream {
    let s = TcpSocket::new_v4().unwrap();
    s.bind((Ipv4Addr::new(127, 0, 0, from), 0).into()).unwrap();
    s.connect(addr).await.unwrap()
}

/// Everything the server sends until it closes (or `wait` passes: `None`).
async fn read_until_closed(s: &mut TcpStream, wait: Duration) -> Option<String> {
    let mut buf = Vec::new();
    match tokio::time::timeout(wait, s.read_to_end(&mut buf)).await {
        Ok(_) => Some(String::from_utf8_lossy(&buf).to_string()),
        Err(_) => None,
    }
}

async fn health(addr: SocketAddr, from: u8) -> String {
    let mut s = connect_from(addr, from).await;
    s.write_all(b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    read_until_closed(&mut s, Duration::from_secs(10))
        .await
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_sent_headers_and_idle_sockets_are_closed_after_the_header_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let limits = Limits {
        header_timeout: Duration::from_secs(1),
        ..Limits::default()
    };
    let running = serve::start(config(dir.path(), limits)).await.unwrap();
    let addr = running.addr;
    let mut half = connect_from(addr, 1).await;
    half.write_all(b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        .await
        .unwrap();
    let mut idle = connect_from(addr, 1).await;
    // A keep-alive connection that goes quiet after one request.
    let mut kept = connect_from(addr, 1).await;
    kept.write_all(b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .await
        .unwrap();
    for (name, s) in [
        ("half-sent", &mut half),
        ("idle", &mut idle),
        ("kept-alive", &mut kept),
    ] {
        let got = read_until_closed(s, Duration::from_secs(15)).await;
        assert!(
            got.is_some(),
            "the {name} connection was still open after 15 s"
        );
    }
    assert!(health(addr, 2).await.starts_with("HTTP/1.1 200"));
    running.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_past_the_caps_get_a_clear_503_and_health_still_answers() {
    let dir = tempfile::tempdir().unwrap();
    let limits = Limits {
        max_connections: 12,
        max_connections_per_ip: 5,
        ..Limits::default()
    };
    let running = serve::start(config(dir.path(), limits)).await.unwrap();
    let addr = running.addr;
    // One client holds its share of idle sockets…
    let mut held = Vec::new();
    for _ in 0..5 {
        held.push(connect_from(addr, 10).await);
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut over = connect_from(addr, 10).await;
    let refused = read_until_closed(&mut over, Duration::from_secs(5))
        .await
        .expect("closed at once");
    assert!(refused.starts_with("HTTP/1.1 503"), "{refused}");
    assert!(refused.contains("too many open connections"), "{refused}");
    assert!(
        refused.to_ascii_lowercase().contains("retry-after: 1"),
        "{refused}"
    );
    // …and everyone else is still served.
    assert!(health(addr, 11).await.starts_with("HTTP/1.1 200"));
    // Many clients together stop at the total cap, with the same answer.
    for from in 20..27 {
        held.push(connect_from(addr, from).await);
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(health(addr, 30).await.starts_with("HTTP/1.1 503"));
    drop(held);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(health(addr, 30).await.starts_with("HTTP/1.1 200"));
    running.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_snapshot_upload_is_cut_at_the_body_deadline() {
    let dir = tempfile::tempdir().unwrap();
    let limits = Limits {
        body_timeout: Duration::from_secs(1),
        ..Limits::default()
    };
    let running = serve::start(config(dir.path(), limits)).await.unwrap();
    let mut s = connect_from(running.addr, 1).await;
    s.write_all(
        b"POST /api/snapshots HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Scoreboard-Request: 1\r\n\
          Content-Type: text/plain\r\nContent-Length: 100000\r\n\r\nv1.",
    )
    .await
    .unwrap();
    let mut buf = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(15), s.read(&mut buf))
        .await
        .expect("answered at the deadline")
        .unwrap();
    let answer = String::from_utf8_lossy(&buf[..n]);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    running.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_refused_requests_writes_a_line_or_two_not_one_each() {
    let dir = tempfile::tempdir().unwrap();
    let port = common::free_port();
    let log = dir.path().join("stderr.log");
    let mut child = common::scoreboard_command()
        .args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--data-dir",
        ])
        .arg(dir.path())
        .stderr(std::process::Stdio::from(
            std::fs::File::create(&log).unwrap(),
        ))
        .spawn()
        .unwrap();
    let client = reqwest::Client::new();
    let url = format!("http://127.0.0.1:{port}/v1/metrics");
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while client
        .get(format!("http://127.0.0.1:{port}/api/health"))
        .send()
        .await
        .is_err()
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the server did not start"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for i in 0..300 {
        let r = client
            .post(&url)
            .header("content-type", "application/json")
            .header("authorization", format!("Bearer sbi_guess_{i}"))
            .body("{}")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401);
    }
    let sources: serde_json::Value = client
        .get(format!("http://127.0.0.1:{port}/api/sources"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    child.kill().unwrap();
    let _ = child.wait();
    let text = std::fs::read_to_string(&log).unwrap();
    let lines = text.lines().filter(|l| l.contains("refused")).count();
    assert!((1..=2).contains(&lines), "{lines} lines:\n{text}");
    assert_eq!(sources["refused"]["last_24h"], 300, "{sources:#}");
}
