//! What the roll-out view reads: which client version each installation
//! reported, with which token, and that an empty export (the one
//! `scoreboard token check` sends) is acknowledged without storing anything.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_installation_is_listed_with_the_claude_code_version_it_reported() {
    let s = Server::start().await;
    replay(&s, "claude-code-2.1.330", "hello-json-delta").await;
    replay(&s, "claude-code-2.1.197", "hello-protobuf-delta").await;
    let (devices, total) = s.rx.unattributed(10, &|_| false).unwrap();
    assert_eq!(total, 2, "{devices:#?}");
    let mut versions: Vec<_> = devices
        .iter()
        .map(|d| {
            assert!(d.seen.device_only);
            assert_eq!(d.clients.len(), 1);
            assert_eq!(
                d.clients[0].token, None,
                "the test receiver names no token id"
            );
            d.clients[0].version.clone().unwrap()
        })
        .collect();
    versions.sort();
    assert_eq!(versions, ["2.1.197", "2.1.330"]);
    // A device the roster maps is no longer unattributed.
    let first = devices[0].seen.person.clone();
    let (rest, total) = s.rx.unattributed(10, &|k| *k == first).unwrap();
    assert_eq!((rest.len(), total), (1, 1));
    let known = s.rx.persons_by_key(std::slice::from_ref(&first)).unwrap();
    assert_eq!(known.len(), 1);
    assert_eq!(known[0].seen.person, first);
    let usage = s.rx.token_usage().unwrap();
    assert_eq!(usage.len(), 1);
    assert_eq!((usage[0].people, usage[0].devices), (0, 2));
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_export_passes_the_token_check_and_stores_nothing() {
    let s = Server::start().await;
    for path in ["/v1/metrics", "/v1/logs"] {
        let r = post(
            &s,
            path,
            "application/json",
            None,
            Some(TOKEN),
            b"{}".to_vec(),
        )
        .await;
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    }
    let status = s.rx.status(chrono::Utc::now());
    assert_eq!(status.batches_received, 0);
    assert_eq!(status.last_received_at, None);
    let r = post(
        &s,
        "/v1/metrics",
        "application/json",
        None,
        Some("nope"),
        b"{}".to_vec(),
    )
    .await;
    assert_eq!(r.status, 401);
    s.stop().await;
}

/// `service.version` comes from the client: a long or odd one is not kept
/// (the roll-out view shows "not reported"), and the points still count.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_huge_or_odd_client_version_is_not_stored() {
    let s = Server::start().await;
    let metrics = capture("claude-code-2.1.330", "hello-json-delta")
        .into_iter()
        .find(|c| c.path == "/v1/metrics")
        .unwrap();
    for (i, bad) in ["9".repeat(1000), "2.1.330\n<script>".to_string()]
        .into_iter()
        .enumerate()
    {
        let mut v: serde_json::Value = serde_json::from_slice(&metrics.body).unwrap();
        for a in v["resourceMetrics"][0]["resource"]["attributes"]
            .as_array_mut()
            .unwrap()
        {
            if a["key"] == "service.version" {
                a["value"]["stringValue"] = serde_json::Value::String(bad.clone());
            }
            if a["key"] == "service.name" {
                // A different body each time, so the second is not a re-sent duplicate.
                a["value"]["stringValue"] = serde_json::Value::String(format!("claude-code-{i}"));
            }
        }
        let r = post_json(&s, "/v1/metrics", serde_json::to_vec(&v).unwrap()).await;
        assert_eq!(r.status, 200);
    }
    let (devices, _) = s.rx.unattributed(10, &|_| false).unwrap();
    assert_eq!(devices.len(), 1);
    assert_eq!(devices[0].clients[0].version, None);
    assert_eq!(s.rows().len(), 1, "the points are stored all the same");
    s.stop().await;
}
