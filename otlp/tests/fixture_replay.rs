//! Every request the real Claude Code CLI sent (both versions, JSON and
//! protobuf, gzip, chunked and sized, delta and cumulative, the 503-retry
//! and 400-reject runs) replayed through the real HTTP endpoint, byte for
//! byte with its own headers, into a real SQLite file.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use scoreboard_core::{DayRow, Measures};

fn measures(rows: &[DayRow]) -> Measures {
    assert_eq!(rows.len(), 1, "one session gives one person-day: {rows:#?}");
    rows[0].measures
}

async fn replayed(version: &str, scenario: &str) -> Vec<DayRow> {
    let s = Server::start().await;
    replay(&s, version, scenario).await;
    let rows = s.rows();
    s.stop().await;
    rows
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_capture_replays_to_exactly_the_expected_rows() {
    let mut n = 0;
    for version in VERSIONS {
        for scenario in scenarios(version) {
            let rows = replayed(version, &scenario).await;
            let want =
                expected(version, &scenario).row(capture_day(), person_of(version, &scenario));
            assert_eq!(rows, vec![want], "{version}/{scenario}");
            n += 1;
        }
    }
    assert_eq!(
        n,
        21 + 8,
        "the fixture set has 21 scenarios for 2.1.330 and 8 for 2.1.197"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn all_captures_in_one_database_add_up_per_person() {
    let s = Server::start().await;
    let mut want: Vec<DayRow> = Vec::new();
    for version in VERSIONS {
        for scenario in scenarios(version) {
            replay(&s, version, &scenario).await;
            let row =
                expected(version, &scenario).row(capture_day(), person_of(version, &scenario));
            match want.iter_mut().find(|r| r.person == row.person) {
                Some(r) => r.absorb(&row),
                None => want.push(row),
            }
        }
    }
    want.sort_by(|a, b| a.person.cmp(&b.person));
    assert_eq!(s.rows(), want);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn write_scenario_gives_six_lines_added_and_one_accepted_edit() {
    for version in VERSIONS {
        let m = measures(&replayed(version, "write-json-delta").await);
        assert_eq!(
            (
                m.lines_added,
                m.lines_removed,
                m.edits_accepted,
                m.edits_rejected
            ),
            (6, 0, 1, 0),
            "{version}"
        );
        assert_eq!(m.sessions, 1);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edit_scenario_gives_two_lines_added_and_one_removed() {
    for version in VERSIONS {
        let rows = replayed(version, "edit-json-delta").await;
        let m = measures(&rows);
        assert_eq!(
            (m.lines_added, m.lines_removed, m.edits_accepted),
            (2, 1, 1),
            "{version}"
        );
        assert_eq!(rows[0].tools[0].tool, "Edit");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bash_commit_scenario_gives_one_commit() {
    let m = measures(&replayed("claude-code-2.1.330", "bash-commit-json-delta").await);
    assert_eq!((m.commits, m.pull_requests), (1, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn write_denied_scenario_gives_one_rejected_edit() {
    let m = measures(&replayed("claude-code-2.1.330", "write-denied-json-delta").await);
    assert_eq!(
        (m.edits_accepted, m.edits_rejected, m.lines_added),
        (0, 1, 0)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hello_gives_one_session_its_tokens_and_the_metric_cost() {
    // The metric says 0.0013759999999999998 USD (2.1.330) and 0.0017275 USD
    // (2.1.197): 1376 and 1728 micro-dollars once rounded.
    for (version, model, micros) in [
        ("claude-code-2.1.330", V330_MODEL, 1376),
        ("claude-code-2.1.197", V197_MODEL, 1728),
    ] {
        for scenario in ["hello-json-delta", "hello-protobuf-delta"] {
            let rows = replayed(version, scenario).await;
            let m = measures(&rows);
            assert_eq!(m.sessions, 1);
            assert_eq!(
                (
                    m.input_tokens,
                    m.output_tokens,
                    m.cache_read_tokens,
                    m.cache_creation_tokens
                ),
                (120, 42, 30, 10),
                "{version}/{scenario}"
            );
            assert_eq!(m.cost_micros, micros, "{version}/{scenario}");
            assert_eq!(
                rows[0].models.len(),
                1,
                "tokens come from the metrics only, not metrics + events"
            );
            assert_eq!(rows[0].models[0].model, model);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cumulative_runs_give_the_same_totals_as_delta_runs() {
    for (version, cumulative, delta) in [
        (
            "claude-code-2.1.330",
            "write-json-cumulative",
            "write-json-delta",
        ),
        (
            "claude-code-2.1.330",
            "write-protobuf-cumulative",
            "write-protobuf-delta",
        ),
        (
            "claude-code-2.1.330",
            "idle-json-cumulative",
            "idle-json-delta",
        ),
        (
            "claude-code-2.1.197",
            "write-json-cumulative",
            "write-json-delta",
        ),
    ] {
        let c = replayed(version, cumulative).await;
        let d = replayed(version, delta).await;
        assert_eq!(
            measures(&c),
            measures(&d),
            "{version}: {cumulative} vs {delta}"
        );
        assert_eq!(c[0].models, d[0].models);
        assert_eq!(c[0].tools, d[0].tools);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retried_503_batches_count_once() {
    // Replayed as it happened: requests 1-3 were answered 503 by the capture
    // server and re-sent byte for byte; the re-sent metrics batch 3 arrived
    // as request 8, after the newer batch 7. This receiver answers 200 to all
    // eight; the three re-sent bodies must not count again.
    let version = "claude-code-2.1.330";
    let scenario = "write-json-delta-retry503";
    let capture = capture(version, scenario);
    assert_eq!(
        capture.iter().filter(|c| c.captured_status == 503).count(),
        3
    );
    assert_eq!(
        capture[7].body, capture[2].body,
        "the late retry is byte-identical to batch 3"
    );

    let s = Server::start().await;
    replay(&s, version, scenario).await;
    let want = expected(version, scenario).row(capture_day(), person_of(version, scenario));
    assert_eq!(s.rows(), vec![want.clone()]);
    let status = s.rx.status(chrono::Utc::now());
    assert_eq!((status.batches_received, status.duplicate_batches), (5, 3));

    // The whole run sent again (a client retrying everything) changes nothing.
    replay(&s, version, scenario).await;
    assert_eq!(s.rows(), vec![want]);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replies_are_empty_export_responses_in_the_request_encoding() {
    let s = Server::start().await;
    let c = client();
    for (version, scenario) in [
        ("claude-code-2.1.330", "write-json-delta-traces"),
        ("claude-code-2.1.330", "write-protobuf-delta-traces"),
    ] {
        for req in capture(version, scenario) {
            let r = send_captured(&c, &s, &req).await;
            assert_eq!(r.status, 200);
            let ct = r
                .headers
                .get("content-type")
                .unwrap()
                .to_str()
                .unwrap()
                .to_string();
            if scenario.contains("protobuf") {
                assert_eq!(ct, "application/x-protobuf");
                assert!(
                    r.body.is_empty(),
                    "an empty Export*ServiceResponse encodes to no bytes"
                );
            } else {
                assert_eq!(ct, "application/json");
                assert_eq!(r.body, b"{}");
            }
        }
    }
    s.stop().await;
}
