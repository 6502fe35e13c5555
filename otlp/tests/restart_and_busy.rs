//! What is acknowledged is committed, survives a restart, and is not counted
//! again when re-sent after it; a locked database sheds load with a
//! retryable 503 instead of losing or double-counting data.
//!
//! (The SIGKILL-in-the-middle-of-a-load test needs the `scoreboard serve`
//! binary and lives with the server's tests.)
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::*;
use scoreboard_otlp::OtlpConfig;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cumulative_state_survives_a_restart() {
    for (version, scenario) in [
        ("claude-code-2.1.330", "write-json-cumulative"),
        ("claude-code-2.1.330", "idle-json-cumulative"),
        ("claude-code-2.1.197", "write-json-cumulative"),
    ] {
        let capture = capture(version, scenario);
        let c = client();
        let s = Server::start().await;
        let db = s.db.clone();
        let tokens = s.tokens.clone();
        let half = capture.len() / 2;
        for r in &capture[..half] {
            assert_eq!(send_captured(&c, &s, r).await.status, 200);
        }
        let dir = s.stop().await;

        let s = Server::start_at(&db, OtlpConfig::default(), tokens).await;
        for r in &capture[half..] {
            assert_eq!(send_captured(&c, &s, r).await.status, 200);
        }
        assert_eq!(
            s.rows(),
            vec![expected(version, scenario).row(capture_day(), person_of(version, scenario))],
            "{scenario}"
        );
        s.stop().await;
        drop(dir);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_re_sent_after_a_restart_counts_once() {
    let (version, scenario) = ("claude-code-2.1.330", "write-json-delta");
    let want = vec![expected(version, scenario).row(capture_day(), person_of(version, scenario))];
    let s = Server::start().await;
    let (db, tokens) = (s.db.clone(), s.tokens.clone());
    replay(&s, version, scenario).await;
    assert_eq!(s.rows(), want);
    let dir = s.stop().await;

    let s = Server::start_at(&db, OtlpConfig::default(), tokens).await;
    replay(&s, version, scenario).await;
    assert_eq!(s.rows(), want);
    s.stop().await;
    drop(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_acknowledged_batch_is_already_committed() {
    let (version, scenario) = ("claude-code-2.1.330", "bash-commit-json-delta");
    let s = Server::start().await;
    let c = client();
    // Another connection (as the server, or a process restarted after a
    // crash, would have) sees each batch as soon as its 200 arrives.
    let other = rusqlite::Connection::open(&s.db).unwrap();
    let commits = || -> i64 {
        other
            .query_row("SELECT COALESCE(SUM(commits), 0) FROM otlp_days", [], |r| {
                r.get(0)
            })
            .unwrap()
    };
    for r in capture(version, scenario) {
        let has_commit = String::from_utf8_lossy(&r.body).contains("claude_code.commit.count");
        let before = commits();
        assert_eq!(send_captured(&c, &s, &r).await.status, 200);
        if has_commit {
            assert_eq!((before, commits()), (0, 1));
        }
    }
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_locked_database_sheds_with_503_and_retry_after_then_counts_once() {
    let cfg = OtlpConfig {
        busy_timeout: Duration::from_millis(200),
        retry_after_seconds: 7,
        ..OtlpConfig::default()
    };
    let s = Server::start_with(cfg).await;
    let (version, scenario) = ("claude-code-2.1.330", "write-json-delta");
    let capture = capture(version, scenario);
    let c = client();

    // Another writer (the server's own tables) holds the write lock.
    let mut other = rusqlite::Connection::open(&s.db).unwrap();
    let tx = other
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .unwrap();
    let r = send_captured(&c, &s, &capture[0]).await;
    assert_eq!(r.status, 503);
    assert_eq!(r.headers.get("retry-after").unwrap(), "7");
    assert_eq!(r.headers.get("content-type").unwrap(), "application/json");
    tx.rollback().unwrap();
    assert!(
        s.rows().is_empty(),
        "nothing was stored for the shed request"
    );

    // The client retries the same bytes, as OTel exporters do after a 503.
    replay(&s, version, scenario).await;
    assert_eq!(
        s.rows(),
        vec![expected(version, scenario).row(capture_day(), person_of(version, scenario))]
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_reports_freshness_and_data_health() {
    let s = Server::start().await;
    let before = chrono::Utc::now();
    assert_eq!(s.rx.status(before).last_received_at, None);
    replay(&s, "claude-code-2.1.330", "write-json-delta-verbose").await;
    replay(&s, "claude-code-2.1.330", "write-json-delta").await;
    // One point without a timestamp: rejected.
    let mut v: serde_json::Value =
        serde_json::from_slice(&capture("claude-code-2.1.330", "write-json-delta")[0].body)
            .unwrap();
    v["resourceMetrics"][0]["scopeMetrics"][0]["metrics"][0]["sum"]["dataPoints"][0]
        ["timeUnixNano"] = "0".into();
    let r = post_json(&s, "/v1/metrics", serde_json::to_vec(&v).unwrap()).await;
    assert_eq!(r.status, 200);

    let now = chrono::Utc::now();
    let st = s.rx.status(now);
    assert!(st.error.is_none());
    let last = st.last_received_at.unwrap();
    assert!(last >= before - chrono::TimeDelta::seconds(1) && last <= now);
    let device = device_of("claude-code-2.1.330", "write-json-delta");
    let email = scoreboard_core::PersonKey::email("dev@example.invalid");
    let mut both = vec![device.clone(), email.clone()];
    both.sort();
    assert_eq!(st.people_last_24h, both);
    assert_eq!(st.people_last_7d, both);
    assert_eq!(
        st.persons_seen
            .iter()
            .map(|p| p.person.clone())
            .collect::<Vec<_>>(),
        both
    );
    assert_eq!(
        (
            st.persons_total,
            st.people_last_24h_total,
            st.persons_truncated
        ),
        (2, 2, false)
    );
    assert_eq!(st.unattributed_devices, 1);
    // The device's stored points: 1 session, 2 lines, 2 cost, 8 token, 1 decision, 1 active
    // time, and its 2 api_request events.
    assert_eq!(st.unattributed_points, 17);
    assert_eq!(st.rejected_points, 1);
    assert_eq!(st.batches_received, 13);
    assert_eq!(st.duplicate_batches, 0);

    let later = s.rx.status(now + chrono::TimeDelta::days(2));
    assert!(later.people_last_24h.is_empty());
    assert_eq!(later.people_last_7d, both);
    assert!(s
        .rx
        .status(now + chrono::TimeDelta::days(8))
        .people_last_7d
        .is_empty());

    // It serialises for the page.
    let json = serde_json::to_value(&st).unwrap();
    assert_eq!(json["people_last_24h"].as_array().unwrap().len(), 2);

    // Active time is kept beside the rows.
    let active = s.rx.active_time(capture_day(), capture_day()).unwrap();
    let mine = active.iter().find(|a| a.person == device).unwrap();
    assert_eq!((mine.cli_ms, mine.user_ms), (2734, 0));
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_write_queue_sheds_with_503_and_the_retry_counts_once() {
    // One request waits in the writer (the database is locked), one in the
    // queue; the third finds the queue full and is shed at once.
    let cfg = OtlpConfig {
        busy_timeout: Duration::from_secs(60),
        max_queued_requests: 1,
        retry_after_seconds: 3,
        ..OtlpConfig::default()
    };
    let s = std::sync::Arc::new(Server::start_with(cfg).await);
    let (version, scenario) = ("claude-code-2.1.330", "write-json-delta");
    let capture = capture(version, scenario);
    let mut other = rusqlite::Connection::open(&s.db).unwrap();
    let lock = other
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .unwrap();

    let mut waiting = futures_util::stream::FuturesUnordered::new();
    for (i, r) in capture.iter().take(3).enumerate() {
        let (s, r) = (s.clone(), r.clone());
        waiting.push(tokio::spawn(async move {
            (i, send_captured(&client(), &s, &r).await)
        }));
    }
    use futures_util::StreamExt as _;
    // Nothing can be stored while the lock is held: what answers first was shed.
    let (shed, first) = waiting.next().await.unwrap().unwrap();
    assert_eq!(first.status, 503);
    assert_eq!(first.headers.get("retry-after").unwrap(), "3");
    lock.rollback().unwrap();
    let mut refused = vec![shed];
    while let Some(done) = waiting.next().await {
        let (i, r) = done.unwrap();
        match r.status {
            200 => {}
            503 => refused.push(i),
            other => panic!("request {i} answered {other}"),
        }
    }
    assert!(refused.len() < 3, "the writer took at least one");

    // The client retries the shed batches, then sends the rest of the session.
    let c = client();
    for i in refused {
        assert_eq!(send_captured(&c, &s, &capture[i]).await.status, 200);
    }
    for r in &capture[3..] {
        assert_eq!(send_captured(&c, &s, r).await.status, 200);
    }
    assert_eq!(
        s.rows(),
        vec![expected(version, scenario).row(capture_day(), person_of(version, scenario))]
    );
}
