//! What an OpenTelemetry Collector in front of the receiver sends
//! (`deploy/otel-collector.yaml`: the batch processor, then the `otlphttp`
//! exporter): many engineers' exports merged into one request, protobuf,
//! gzipped, with the ingest token as a configured header. The receiver must
//! store exactly what the engineers' own requests store, and a collector
//! that retries a batch after a lost answer, or re-batches the same exports
//! differently, must never make anything count twice.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use scoreboard_core::DayRow;
use scoreboard_test_support::otlp::{collector_batches, fixtures, Export, Template};

/// Every capture of the current CLI (delta and cumulative, JSON and
/// protobuf), each as `users` engineers' own sessions.
fn engineers_exports(users: usize) -> Vec<Export> {
    let version = VERSIONS[0];
    let templates: Vec<Template> = scenarios(version)
        .iter()
        .map(|s| Template::load(&fixtures(), version, s).unwrap())
        .collect();
    let mut out = Vec::new();
    for u in 0..users {
        let email = format!("engineer{u:03}@example.com");
        for (i, t) in templates.iter().enumerate() {
            let user = format!("installation-{u:03}");
            let session = format!("session-{u:03}-{i:02}");
            out.extend(
                t.requests
                    .iter()
                    .map(|e| e.restamped(&user, &session, Some(&email), 0)),
            );
        }
    }
    out
}

/// What the batch processor does: the resources of many exports, one after
/// the other, in one request per signal.
fn merged(exports: &[Export]) -> Vec<Export> {
    collector_batches(exports, usize::MAX)
}

/// Sent as the collector's `otlphttp` exporter sends (protobuf, gzip, its
/// User-Agent, the header from the config).
async fn send_as_collector(s: &Server, e: &Export) -> Reply {
    let batch = e.encode(true, true);
    let resp = client()
        .post(s.url(batch.path))
        .header("Content-Type", batch.content_type)
        .header("Content-Encoding", "gzip")
        .header(
            "User-Agent",
            "OpenTelemetry Collector Contrib/0.135.0 (linux/amd64)",
        )
        .header("Authorization", format!("Bearer {TOKEN}"))
        .body(batch.body)
        .send()
        .await
        .unwrap();
    Reply {
        status: resp.status().as_u16(),
        headers: resp.headers().clone(),
        body: resp.bytes().await.unwrap().to_vec(),
    }
}

/// Every export sent on its own, as each engineer's Claude Code sends it.
async fn sent_alone(exports: &[Export]) -> Vec<DayRow> {
    let s = Server::start().await;
    for e in exports {
        let b = e.encode(false, false);
        let r = post(&s, b.path, b.content_type, None, Some(TOKEN), b.body).await;
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    }
    let rows = s.rows();
    s.stop().await;
    rows
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_collector_batch_of_many_engineers_stores_what_their_own_requests_store() {
    let exports = engineers_exports(40);
    let want = sent_alone(&exports).await;
    assert_eq!(
        want.iter()
            .map(|r| r.person.as_str().to_string())
            .collect::<std::collections::BTreeSet<_>>()
            .len(),
        40,
        "every engineer has a row"
    );

    let s = Server::start().await;
    for e in merged(&exports) {
        let r = send_as_collector(&s, &e).await;
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    }
    assert_eq!(s.rows(), want);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_collector_retry_or_a_different_batching_of_the_same_exports_never_counts_twice() {
    let exports = engineers_exports(20);
    let want = sent_alone(&exports).await;

    let s = Server::start().await;
    for e in merged(&exports) {
        assert_eq!(send_as_collector(&s, &e).await.status, 200);
    }
    assert_eq!(s.rows(), want);

    // The same batch again (its answer was lost): recognised by its digest.
    for e in merged(&exports) {
        assert_eq!(send_as_collector(&s, &e).await.status, 200);
    }
    assert_eq!(s.rows(), want, "a retried batch counts once");

    // A collector restarted from its persistent queue, batching the same
    // exports otherwise: two batches that overlap each other and the first.
    let third = exports.len() / 3;
    for part in [&exports[..2 * third], &exports[third..]] {
        for e in merged(part) {
            assert_eq!(send_as_collector(&s, &e).await.status, 200);
        }
    }
    assert_eq!(s.rows(), want, "overlapping batches count each point once");

    // And the exports sent alone after all that add nothing either.
    for e in &exports {
        let b = e.encode(false, false);
        let r = post(&s, b.path, b.content_type, None, Some(TOKEN), b.body).await;
        assert_eq!(r.status, 200);
    }
    assert_eq!(s.rows(), want);
    s.stop().await;
}
