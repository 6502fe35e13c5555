//! A holder of an ingest token (every engineer's machine has one) cannot
//! break the dashboard, take the receiver's memory or CPU, or hold its
//! slots: the attacks of issue 11, each against a real receiver on
//! 127.0.0.1 over a real SQLite file.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::*;
use opentelemetry_proto::tonic::common::v1::KeyValue;
use prost::Message;
use scoreboard_otlp::{OtlpConfig, STORE_CAP};
use scoreboard_test_support::otlp::{empty_attributes, sum_request, text};
use serde_json::Value;

async fn post_pb(s: &Server, body: Vec<u8>) -> Reply {
    post(
        s,
        "/v1/metrics",
        "application/x-protobuf",
        None,
        Some(TOKEN),
        body,
    )
    .await
}

fn rejected(r: &Reply) -> i64 {
    use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceResponse;
    ExportMetricsServiceResponse::decode(&r.body[..])
        .unwrap()
        .partial_success
        .map_or(0, |p| p.rejected_data_points)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counters_of_1e300_sessions_are_rejected_and_the_rows_stay_readable() {
    let s = Server::start().await;
    let who = vec![text("user.email", "mallory@corp.example")];
    let r = post_pb(
        &s,
        sum_request(
            vec![who.clone()],
            "claude_code.session.count",
            None,
            &[1e300, 1e300],
        )
        .encode_to_vec(),
    )
    .await;
    assert_eq!((r.status, rejected(&r)), (200, 2), "refused as implausible");
    let r = post_pb(
        &s,
        sum_request(
            vec![who.clone()],
            "claude_code.token.usage",
            Some("input"),
            &[5e18, 5e18],
        )
        .encode_to_vec(),
    )
    .await;
    assert_eq!((r.status, rejected(&r)), (200, 2));
    // A plausible point of the same person still counts, and rows read.
    let r = post_pb(
        &s,
        sum_request(vec![who], "claude_code.session.count", None, &[3.0]).encode_to_vec(),
    )
    .await;
    assert_eq!((r.status, rejected(&r)), (200, 0));
    let rows = s.rows();
    assert_eq!(rows.len(), 1);
    assert_eq!(
        (rows[0].measures.sessions, rows[0].measures.input_tokens),
        (3, 0)
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sums_past_the_cap_saturate_instead_of_overflowing() {
    let s = Server::start().await;
    // 3,000 points at the plausible bound are three times the per-row cap.
    let values = vec![1e12; 3000];
    for ty in ["input", "output"] {
        let body = sum_request(
            vec![vec![text("user.email", "heavy@corp.example")]],
            "claude_code.token.usage",
            Some(ty),
            &values,
        )
        .encode_to_vec();
        let r = post_pb(&s, body).await;
        assert_eq!((r.status, rejected(&r)), (200, 0));
    }
    let rows = s.rows();
    assert_eq!(rows[0].measures.input_tokens, STORE_CAP as u64);
    assert_eq!(rows[0].measures.output_tokens, STORE_CAP as u64);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_an_older_version_let_overflow_still_reads() {
    let s = Server::start().await;
    replay(&s, "claude-code-2.1.330", "write-json-delta").await;
    let before = s.rows();
    let day = before[0].day.to_string();
    let person = before[0].person.as_str().to_string();
    {
        // What the old receiver stored for two 1e300 points: a REAL in an
        // INTEGER column, and usage rows whose SUM() overflows.
        let c = rusqlite::Connection::open(&s.db).unwrap();
        c.execute(
            "UPDATE otlp_days SET sessions = 1e300 WHERE day = ?1 AND person = ?2",
            [&day, &person],
        )
        .unwrap();
        for i in 0..3 {
            c.execute(
                "INSERT INTO otlp_usage (day, person, session, origin, model, input_tokens)
                 VALUES (?1, ?2, ?3, 'metric', 'claude-x', 5000000000000000000)",
                rusqlite::params![day, person, format!("poison-{i}")],
            )
            .unwrap();
        }
    }
    let rows = s.rows();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].measures.sessions, STORE_CAP as u64);
    assert!(rows[0].measures.input_tokens >= STORE_CAP as u64);
    // New telemetry for the poisoned row brings it back under the cap.
    replay(&s, "claude-code-2.1.330", "edit-json-delta").await;
    let c = rusqlite::Connection::open(&s.db).unwrap();
    let kind: String = c
        .query_row(
            "SELECT typeof(sessions) FROM otlp_days WHERE day = ?1 AND person = ?2",
            [&day, &person],
            |r| r.get(0),
        )
        .unwrap();
    assert!(kind == "integer" || s.rows()[0].measures.sessions == STORE_CAP as u64);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resource_of_forty_thousand_attributes_is_rejected_not_hashed_per_point() {
    let s = Server::start().await;
    let mut attrs: Vec<KeyValue> = (0..40_000).map(|i| text(&format!("a{i}"), "x")).collect();
    attrs.push(text("user.email", "mallory@corp.example"));
    let values = vec![1.0; 2000];
    let body = sum_request(vec![attrs], "claude_code.session.count", None, &values).encode_to_vec();
    let r = post_pb(&s, body).await;
    assert_eq!((r.status, rejected(&r)), (200, 2000));
    assert!(s.rows().is_empty(), "nothing of it is stored");
    let st = s.rx.status(chrono::Utc::now());
    assert_eq!(st.persons_total, 0);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_naming_twenty_thousand_people_records_each_once() {
    let s = Server::start().await;
    let people: Vec<Vec<KeyValue>> = (0..20_000)
        .map(|i| vec![text("user.email", &format!("dev{i:05}@corp.example"))])
        .collect();
    let body = sum_request(people, "claude_code.session.count", None, &[1.0]).encode_to_vec();
    let r = post_pb(&s, body).await;
    assert_eq!((r.status, rejected(&r)), (200, 0));
    let st = s.rx.status(chrono::Utc::now());
    assert_eq!(
        (st.persons_total, st.people_last_24h_total),
        (20_000, 20_000)
    );
    assert_eq!(st.persons_seen.len(), 10_000, "the answer stays bounded");
    assert!(st.persons_truncated);
    // The rest can be paged through.
    let mut after = String::new();
    let mut all = 0;
    loop {
        let page = s.rx.persons(&after, 7_000).unwrap();
        if page.is_empty() {
            break;
        }
        all += page.len();
        after = page.last().unwrap().person.as_str().to_string();
    }
    assert_eq!(all, 20_000);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_of_tiny_elements_that_would_decode_to_gigabytes_gets_413_before_decoding() {
    let s = Server::start().await;
    // 5 million empty attributes: 10 MB on the wire, 640 MB and more decoded.
    let req = empty_attributes(5_000_000);
    let body = req.encode_to_vec();
    assert!(body.len() < 11_000_000);
    let r = post_pb(&s, body).await;
    assert_eq!(r.status, 413);
    let st = RpcStatus::decode(&r.body[..]).unwrap();
    assert!(
        st.message.contains("MB of memory to decode"),
        "{}",
        st.message
    );
    // The same as JSON.
    let json = serde_json::to_vec(&serde_json::json!({
        "resourceMetrics": [{"resource": {"attributes": vec![Value::Object(Default::default()); 2_000_000]}}]
    }))
    .unwrap();
    let r = post_json(&s, "/v1/metrics", json).await;
    assert_eq!(r.status, 413);
    // An honest batch right after is taken.
    replay(&s, "claude-code-2.1.330", "write-json-delta").await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_uploads_hold_no_receiver_slot_and_are_cut_at_the_deadline() {
    let s = Server::start_with(OtlpConfig {
        max_concurrent_requests: 1,
        queue_timeout: Duration::from_millis(500),
        body_timeout: Duration::from_secs(2),
        ..OtlpConfig::default()
    })
    .await;
    // Eight uploads that send their headers and one byte, then stall.
    let mut slow = Vec::new();
    for _ in 0..8 {
        let url = s.url("/v1/metrics");
        slow.push(tokio::spawn(async move {
            use futures_util::StreamExt;
            let stalled =
                futures_util::stream::once(async { Ok::<Vec<u8>, std::io::Error>(b"{".to_vec()) })
                    .chain(futures_util::stream::pending());
            client()
                .post(url)
                .header("Content-Type", "application/json")
                .header("Authorization", format!("Bearer {TOKEN}"))
                .body(reqwest::Body::wrap_stream(stalled))
                .send()
                .await
                .map(|r| r.status().as_u16())
        }));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    // Every batch of an honest client is still taken meanwhile.
    replay(&s, "claude-code-2.1.330", "write-json-delta").await;
    for t in slow {
        let status = t.await.unwrap();
        assert!(
            matches!(status, Ok(408)) || status.is_err(),
            "a stalled upload ends at the deadline: {status:?}"
        );
    }
    s.stop().await;
}
