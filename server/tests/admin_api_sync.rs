//! The Admin API source against a fake Anthropic API: backfill, pagination,
//! both date forms, retries, timeouts, expired cursors, the breaker, the
//! platform-gap warnings and stale data during an outage.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use chrono::Duration as Days;
use common::*;
use scoreboard_core::metrics::{compute, ReportOptions};
use scoreboard_core::{PersonKey, Source, UsageTable};
use scoreboard_server::upstream::breaker::BreakerState;
use serde_json::json;

const USAGE: &str = USAGE_PATH;

/// Three days, five people on the 19th (three pages of two), both date forms.
fn org_data() -> FakeData {
    let mut d = FakeData {
        org: Some(("org-uuid-1".into(), "Acme Robotics".into())),
        ..Default::default()
    };
    d.usage.insert(
        day("2026-11-18"),
        vec![
            user_record("2026-11-18", "day", "Ann@Acme.io", 2, 100, 150.0),
            key_record("2026-11-18", "ci-bot", 1, 10, 25.0),
        ],
    );
    d.usage.insert(
        day("2026-11-19"),
        vec![
            user_record("2026-11-19", "rfc3339", "ann@acme.io", 3, 200, 141.0),
            user_record("2026-11-19", "day", "bob@acme.io", 1, 50, 10.0),
            user_record("2026-11-19", "rfc3339", "cy@acme.io", 4, 0, 99.5),
            record(
                "2026-11-19",
                "day",
                json!({"type": "user_actor", "email_address": "dee@acme.io"}),
                "subscription",
                1,
                5,
                1.0,
            ),
            // A second record for Ann on the same day (another terminal): summed, not replaced.
            user_record("2026-11-19", "day", "ann@acme.io", 1, 20, 9.0),
        ],
    );
    d.users = vec![
        json!({"id": "user_01", "email": "ann@acme.io", "name": "Ann A", "role": "developer", "added_at": "2026-10-01T00:00:00Z", "type": "user"}),
        json!({"id": "user_02", "email": "bob@acme.io", "name": "Bob B", "role": "user", "added_at": "2026-10-02T00:00:00Z", "type": "user"}),
        json!({"id": "user_03", "email": "eve@acme.io", "name": "Eve E", "role": "claude_code_user", "added_at": "2026-10-03T00:00:00Z", "type": "user"}),
    ];
    d.api_keys = vec![
        json!({"id": "apikey_1", "name": "ci-bot", "created_at": "2026-10-01T00:00:00Z", "created_by": {"id": "user_02", "type": "user"}, "status": "active", "type": "api_key", "workspace_id": null}),
        json!({"id": "apikey_2", "name": "ann-laptop", "created_at": "2026-10-01T00:00:00Z", "created_by": {"id": "user_01", "type": "user"}, "status": "active", "type": "api_key", "workspace_id": null}),
    ];
    d
}

#[tokio::test]
async fn backfill_pages_through_every_day_and_stores_the_figures() {
    let fake = Fake::start(org_data(), 2).await;
    let h = Harness::against(&fake);
    let outcome = h.sync(Source::AdminApi, noon("2026-11-20")).await;
    assert_eq!(outcome.error, None);
    assert_eq!(outcome.days_fetched, 3);

    // One day per call, `starting_at` and `limit=1000`, and pages followed to the end.
    assert_eq!(fake.count(USAGE, Some("2026-11-18")), 1);
    assert_eq!(
        fake.count(USAGE, Some("2026-11-19")),
        3,
        "5 records at 2 per page"
    );
    assert_eq!(fake.count(USAGE, Some("2026-11-20")), 1);
    assert_eq!(
        fake.count(USAGE, Some("2026-11-17")),
        0,
        "backfill_days = 3 counts today"
    );
    for hit in fake.hits() {
        assert_eq!(hit.version.as_deref(), Some("2023-06-01"));
        assert_eq!(hit.api_key.as_deref(), Some(ADMIN_KEY));
        assert!(
            hit.user_agent
                .as_deref()
                .unwrap()
                .starts_with("Scoreboard/"),
            "{:?}",
            hit.user_agent
        );
        if hit.path == USAGE {
            assert_eq!(hit.q("limit"), Some("1000"));
            assert!(!hit.query.contains_key("ending_at"));
        }
    }

    let rows = h
        .store
        .rows(day("2026-11-18"), day("2026-11-20"), &[Source::AdminApi])
        .unwrap();
    assert_eq!(rows.len(), 6, "{rows:#?}");
    let ann = rows
        .iter()
        .find(|r| r.day == day("2026-11-19") && r.person == PersonKey::email("ann@acme.io"))
        .unwrap();
    assert_eq!(
        ann.measures.sessions, 4,
        "two records of one person-day are summed"
    );
    assert_eq!(ann.measures.lines_added, 220);
    assert_eq!(ann.measures.cost_micros, 1_500_000, "141 + 9 cents");
    assert_eq!(
        ann.measures.edits_accepted,
        2 * (8 + 1 + 1),
        "unknown tool keys count too"
    );
    assert_eq!(
        ann.measures.edits_rejected,
        2 * (2 + 1),
        "edit_tool 2 + write_tool 0 + future_tool 1, twice"
    );
    assert!(ann.tools.iter().any(|t| t.tool == "future_tool"));
    let cy = rows
        .iter()
        .find(|r| r.person == PersonKey::email("cy@acme.io"))
        .unwrap();
    assert_eq!(cy.measures.cost_micros, 995_000, "99.5 cents");
    let first = rows
        .iter()
        .find(|r| r.day == day("2026-11-18") && r.person == PersonKey::email("ann@acme.io"))
        .unwrap();
    assert_eq!(
        first.measures.sessions, 2,
        "a YYYY-MM-DD date reads as that day"
    );
    assert!(rows
        .iter()
        .any(|r| r.person == PersonKey::api_key("ci-bot")));

    // The same rows through the HTTP API, and the engine's figures over them.
    let body = h.get_json("/api/rows?from=2026-11-18&to=2026-11-20").await;
    let served: Vec<scoreboard_core::DayRow> =
        serde_json::from_value(body["rows"].clone()).unwrap();
    assert_eq!(served, rows);
    assert_eq!(body["counts"]["admin-api"], 6);
    let mut table = UsageTable::new();
    table.insert_days(served);
    let report = compute(
        &table,
        None,
        &ReportOptions::last_weeks(day("2026-11-20"), 2),
    );
    let week = report
        .weeks
        .iter()
        .find(|w| w.week == day("2026-11-16"))
        .and_then(|w| w.figures.as_ref())
        .unwrap();
    assert_eq!(
        week.active_engineers, 5,
        "ann, bob, cy, dee and the ci-bot key"
    );
    assert_eq!(week.totals.sessions, 2 + 1 + 4 + 1 + 4 + 1);
    assert_eq!(
        week.totals.cost_micros,
        1_500_000 + 250_000 + 1_500_000 + 100_000 + 995_000 + 10_000
    );

    // The directory became a roster with API key names mapped to their creators.
    let roster = h.get_json("/api/roster").await;
    let entries = roster["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 3);
    let bob = entries
        .iter()
        .find(|e| e["person"] == "bob@acme.io")
        .unwrap();
    assert_eq!(bob["name"], "Bob B");
    assert!(bob["aliases"]
        .as_array()
        .unwrap()
        .contains(&json!("api-key:ci-bot")));
    assert!(bob["aliases"]
        .as_array()
        .unwrap()
        .contains(&json!("account:user_02")));
    assert!(
        fake.count("/v1/organizations/users", None) >= 2,
        "users paged by after_id at 2 per page"
    );

    // Status: organisation named, a subscription record seen, so no gap warning.
    let sources = h.get_json("/api/sources").await;
    let admin = source_status(&sources, "admin-api");
    assert_eq!(admin["state"], "ok");
    assert_eq!(admin["organization"]["name"], "Acme Robotics");
    assert_eq!(admin["warnings"], json!([]), "{admin:#}");
    assert_eq!(admin["stale"], false);
    assert!(admin["status_text"]
        .as_str()
        .unwrap()
        .starts_with("Last successful sync at 2026-11-20 12:00 UTC"));
}

#[tokio::test]
async fn later_syncs_fetch_only_the_newest_two_days_and_replace_them() {
    let fake = Fake::start(org_data(), 1000).await;
    let h = Harness::against_with(&fake, |cfg| {
        cfg.anthropic.backfill_days = 10;
    });
    h.syncer
        .sync(Source::AdminApi, noon("2026-11-20"))
        .await
        .unwrap();
    assert_eq!(fake.count(USAGE, None), 10);
    fake.clear_hits();

    // Bob's day 19 changes upstream (late data), and Cy vanishes from it.
    fake.with_data(|d| {
        let day19 = d.usage.get_mut(&day("2026-11-19")).unwrap();
        day19.retain(|r| r["actor"]["email_address"] != "cy@acme.io");
        for r in day19
            .iter_mut()
            .filter(|r| r["actor"]["email_address"] == "bob@acme.io")
        {
            r["core_metrics"]["num_sessions"] = json!(7);
        }
    });
    let later = noon("2026-11-20") + Days::hours(6);
    h.sync(Source::AdminApi, later).await;
    let days: Vec<String> = fake
        .hits()
        .iter()
        .filter(|h| h.path == USAGE)
        .map(|h| h.q("starting_at").unwrap().to_string())
        .collect();
    assert_eq!(days.len(), 2, "{days:?}");
    assert!(days.contains(&"2026-11-20".to_string()) && days.contains(&"2026-11-19".to_string()));

    let rows = h
        .store
        .rows(day("2026-11-19"), day("2026-11-19"), &[Source::AdminApi])
        .unwrap();
    let bob = rows
        .iter()
        .find(|r| r.person == PersonKey::email("bob@acme.io"))
        .unwrap();
    assert_eq!(bob.measures.sessions, 7, "replaced, not added");
    assert!(
        !rows
            .iter()
            .any(|r| r.person == PersonKey::email("cy@acme.io")),
        "a re-fetched day replaces the whole day"
    );
}

#[tokio::test]
async fn a_429_with_retry_after_is_retried_after_the_wait() {
    let fake = Fake::start(org_data(), 1000).await;
    fake.add_rule(
        Rule::on(
            USAGE,
            Fault::Status {
                status: 429,
                kind: "rate_limit_error",
                retry_after: Some("0.3"),
            },
        )
        .day("2026-11-18"),
    );
    let h = Harness::against(&fake);
    let started = Instant::now();
    let outcome = h.sync(Source::AdminApi, noon("2026-11-20")).await;
    assert_eq!(outcome.error, None);
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "retry-after honoured: {:?}",
        started.elapsed()
    );
    assert_eq!(fake.count(USAGE, Some("2026-11-18")), 2);
    assert_eq!(
        h.store
            .rows(day("2026-11-18"), day("2026-11-18"), &[Source::AdminApi])
            .unwrap()
            .len(),
        2
    );
}

#[tokio::test]
async fn server_errors_and_overload_are_retried_then_succeed() {
    let fake = Fake::start(org_data(), 1000).await;
    fake.add_rule(
        Rule::on(
            USAGE,
            Fault::Status {
                status: 500,
                kind: "api_error",
                retry_after: None,
            },
        )
        .day("2026-11-19"),
    );
    fake.add_rule(
        Rule::on(
            USAGE,
            Fault::Status {
                status: 529,
                kind: "overloaded_error",
                retry_after: None,
            },
        )
        .day("2026-11-18")
        .times(2),
    );
    let h = Harness::against(&fake);
    let outcome = h.sync(Source::AdminApi, noon("2026-11-20")).await;
    assert_eq!(outcome.error, None);
    assert_eq!(
        fake.count(USAGE, Some("2026-11-19")),
        2,
        "one 500, one success"
    );
    assert_eq!(
        fake.count(USAGE, Some("2026-11-18")),
        3,
        "two 529s, one success"
    );
    assert_eq!(
        h.store
            .rows(day("2026-11-19"), day("2026-11-19"), &[Source::AdminApi])
            .unwrap()
            .len(),
        4
    );
}

#[tokio::test]
async fn client_errors_are_not_retried() {
    let fake = Fake::start(org_data(), 1000).await;
    fake.add_rule(
        Rule::on(
            USAGE,
            Fault::Status {
                status: 400,
                kind: "invalid_request_error",
                retry_after: None,
            },
        )
        .day("2026-11-19"),
    );
    let h = Harness::against(&fake);
    let outcome = h.sync(Source::AdminApi, noon("2026-11-20")).await;
    assert_eq!(fake.count(USAGE, Some("2026-11-19")), 1);
    let err = outcome.error.unwrap();
    assert!(
        err.contains("1 of 3 days")
            && err.contains("HTTP 400")
            && err.contains("request-id req_fake"),
        "{err}"
    );
    assert_eq!(outcome.days_fetched, 2, "the other days are stored");
}

#[tokio::test]
async fn a_refused_key_stops_the_sync_and_says_what_to_check() {
    let fake = Fake::start(org_data(), 1000).await;
    let h = Harness::against_with(&fake, |cfg| {
        cfg.secrets = scoreboard_server::config::Secrets::from_lookup(|n| {
            (n == "ANTHROPIC_ADMIN_API_KEY").then(|| "sk-ant-admin01-WRONG".to_string())
        });
    });
    let outcome = h.sync(Source::AdminApi, noon("2026-11-20")).await;
    assert_eq!(
        fake.hits().len(),
        1,
        "no retry, no usage calls after a 401 from /me"
    );
    let err = outcome.error.unwrap();
    assert!(
        err.contains("401") && err.contains("ANTHROPIC_ADMIN_API_KEY"),
        "{err}"
    );
    let sources = h.get_json("/api/sources").await;
    assert_eq!(source_status(&sources, "admin-api")["state"], "failing");
}

#[tokio::test]
async fn a_hanging_request_times_out_and_is_retried() {
    let fake = Fake::start(org_data(), 1000).await;
    fake.add_rule(Rule::on(USAGE, Fault::Hang(Duration::from_secs(5))).day("2026-11-20"));
    let h = Harness::against(&fake);
    let started = Instant::now();
    let outcome = h.sync(Source::AdminApi, noon("2026-11-20")).await;
    assert_eq!(outcome.error, None);
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "the 300 ms timeout cut the hang: {:?}",
        started.elapsed()
    );
    assert_eq!(fake.count(USAGE, Some("2026-11-20")), 2);
}

#[tokio::test]
async fn an_expired_cursor_restarts_the_day_without_duplicates() {
    let fake = Fake::start(org_data(), 2).await;
    fake.add_rule(
        Rule::on(USAGE, Fault::ExpireCursor)
            .day("2026-11-19")
            .with_cursor(),
    );
    let h = Harness::against(&fake);
    let outcome = h.sync(Source::AdminApi, noon("2026-11-20")).await;
    assert_eq!(outcome.error, None);
    let pages: Vec<Option<String>> = fake
        .hits()
        .iter()
        .filter(|h| h.path == USAGE && h.q("starting_at") == Some("2026-11-19"))
        .map(|h| h.q("page").map(str::to_string))
        .collect();
    assert_eq!(
        pages.len(),
        5,
        "first page, expired second, then three pages again: {pages:?}"
    );
    assert_eq!(pages[0], None);
    assert_eq!(pages[2], None, "restarted from the first page");
    let rows = h
        .store
        .rows(day("2026-11-19"), day("2026-11-19"), &[Source::AdminApi])
        .unwrap();
    let ann = rows
        .iter()
        .find(|r| r.person == PersonKey::email("ann@acme.io"))
        .unwrap();
    assert_eq!(ann.measures.sessions, 4, "no record counted twice");
}

// Drift guarded: the usage report's cursor loop had no repeated-cursor
// check (the Enterprise client's had one): an upstream handing back the
// cursor it was asked with made a sync ask 10,000 times for one page.
#[tokio::test]
async fn a_usage_report_repeating_its_cursor_fails_that_day_at_once() {
    let fake = Fake::start(org_data(), 2).await;
    fake.add_rule(
        Rule::on(USAGE, Fault::RepeatCursor)
            .day("2026-11-19")
            .with_cursor()
            .always(),
    );
    let h = Harness::against(&fake);
    let outcome = h.sync(Source::AdminApi, noon("2026-11-20")).await;
    assert_eq!(
        fake.count(USAGE, Some("2026-11-19")),
        2,
        "the first page, then the page that repeats its cursor"
    );
    let err = outcome.error.unwrap();
    assert!(err.contains("repeated its cursor"), "{err}");
    assert_eq!(outcome.days_fetched, 2, "the other days are stored");
}

#[tokio::test]
async fn an_organisation_with_only_api_key_actors_is_warned_about_by_name() {
    let mut data = FakeData {
        org: Some(("org-2".into(), "Keys Only Ltd".into())),
        ..Default::default()
    };
    data.usage.insert(
        day("2026-11-19"),
        vec![key_record("2026-11-19", "deploy-key", 2, 30, 12.0)],
    );
    let fake = Fake::start(data, 1000).await;
    let h = Harness::against(&fake);
    h.syncer
        .sync(Source::AdminApi, noon("2026-11-20"))
        .await
        .unwrap();
    let sources = h.get_json("/api/sources").await;
    let admin = source_status(&sources, "admin-api");
    let warning = admin["warnings"][0].as_str().unwrap();
    assert!(warning.contains("Keys Only Ltd"), "{warning}");
    assert!(warning.contains("only API-key users"), "{warning}");
    assert!(
        warning.contains("CSV export") && warning.contains("telemetry"),
        "{warning}"
    );
    assert_eq!(admin["state"], "ok");
}

#[tokio::test]
async fn an_empty_organisation_is_a_warning_not_zero_adoption() {
    let data = FakeData {
        org: Some(("org-3".into(), "Seats Only GmbH".into())),
        ..Default::default()
    };
    let fake = Fake::start(data, 1000).await;
    let h = Harness::against(&fake);
    let outcome = h.sync(Source::AdminApi, noon("2026-11-20")).await;
    assert_eq!(outcome.error, None);
    let sources = h.get_json("/api/sources").await;
    let admin = source_status(&sources, "admin-api");
    let warning = admin["warnings"][0].as_str().unwrap();
    assert!(
        warning.contains("Seats Only GmbH") && warning.contains("no Claude Code activity at all"),
        "{warning}"
    );
    assert!(warning.contains("not zero adoption"), "{warning}");
    assert_eq!(admin["rows"], 0);
    let status = admin["status_text"].as_str().unwrap();
    assert!(
        !status.to_lowercase().contains("zero adoption") && !status.contains(" 0 %"),
        "{status}"
    );
    let rows = h.get_json("/api/rows?from=2026-11-18&to=2026-11-20").await;
    assert_eq!(rows["rows"], json!([]), "no made-up zero rows");
}

#[tokio::test]
async fn the_breaker_opens_after_repeated_failures_and_closes_by_itself() {
    let fake = Fake::start(org_data(), 1000).await;
    fake.add_rule(
        Rule::on(
            "/v1/organizations/me",
            Fault::Status {
                status: 503,
                kind: "api_error",
                retry_after: None,
            },
        )
        .always(),
    );
    let h = Harness::against_with(&fake, |cfg| {
        cfg.anthropic.max_retries = 1;
        cfg.anthropic.breaker_threshold = 2;
        cfg.anthropic.breaker_cooldown = Duration::from_millis(400);
    });

    let first = h.sync(Source::AdminApi, noon("2026-11-20")).await;
    assert!(
        first.error.unwrap().contains("paused"),
        "the second failure opened the breaker"
    );
    assert_eq!(
        fake.count("/v1/organizations/me", None),
        2,
        "first try and one retry"
    );
    assert_eq!(
        h.syncer.source(Source::AdminApi).unwrap().breaker_state(),
        BreakerState::Open
    );

    // While open: no call reaches the upstream.
    let before = fake.hits().len();
    let second = h.sync(Source::AdminApi, noon("2026-11-20")).await;
    assert!(second.error.unwrap().contains("paused"));
    assert_eq!(fake.hits().len(), before, "an open breaker makes no call");
    let sources = h.get_json("/api/sources").await;
    assert_eq!(source_status(&sources, "admin-api")["breaker"], "open");

    // The upstream recovers; after the cool-down one probe goes through and closes it.
    fake.clear_rules();
    tokio::time::sleep(Duration::from_millis(450)).await;
    let third = h.sync(Source::AdminApi, noon("2026-11-20")).await;
    assert_eq!(third.error, None);
    assert_eq!(
        h.syncer.source(Source::AdminApi).unwrap().breaker_state(),
        BreakerState::Closed
    );
    assert_eq!(
        h.store
            .rows(day("2026-11-18"), day("2026-11-20"), &[Source::AdminApi])
            .unwrap()
            .len(),
        6
    );
}

#[tokio::test]
async fn an_outage_serves_the_stored_rows_as_stale_with_the_last_success_time() {
    let fake = Fake::start(org_data(), 1000).await;
    let h = Harness::against(&fake);
    h.syncer
        .sync(Source::AdminApi, noon("2026-11-20"))
        .await
        .unwrap();
    let before = h.get_json("/api/rows?from=2026-11-18&to=2026-11-20").await;

    for path in ["/v1/organizations/me", USAGE] {
        fake.add_rule(
            Rule::on(
                path,
                Fault::Status {
                    status: 503,
                    kind: "overloaded_error",
                    retry_after: None,
                },
            )
            .always(),
        );
    }
    let later = noon("2026-11-20") + Days::hours(3);
    let outcome = h.sync(Source::AdminApi, later).await;
    assert!(outcome.error.is_some());
    h.set_now(later + Days::minutes(1));

    let after = h.get_json("/api/rows?from=2026-11-18&to=2026-11-20").await;
    assert_eq!(
        (&after["rows"], &after["counts"]),
        (&before["rows"], &before["counts"]),
        "the stored rows are still served, unchanged"
    );
    // Coverage keeps the synced days and now says the source is failing (metrics.md §2).
    let cov = &after["coverage"][0];
    assert_eq!(cov["ranges"], before["coverage"][0]["ranges"]);
    assert_eq!(cov["freshness"]["failing"], true);
    assert_eq!(cov["freshness"]["last_ok"], "2026-11-20");
    let sources = h.get_json("/api/sources").await;
    let admin = source_status(&sources, "admin-api");
    assert_eq!(admin["state"], "stale");
    assert_eq!(admin["stale"], true);
    let text = admin["status_text"].as_str().unwrap();
    assert!(
        text.starts_with("Last successful sync at 2026-11-20 12:00 UTC."),
        "{text}"
    );
    assert!(
        text.contains("latest attempt at 2026-11-20 15:00 UTC failed") && text.contains("HTTP 503"),
        "{text}"
    );
    assert_eq!(admin["last_success"], "2026-11-20T12:00:00Z");
    assert_eq!(admin["rows"], 6);
}

#[tokio::test]
async fn a_restart_does_not_fetch_settled_days_again() {
    let fake = Fake::start(org_data(), 1000).await;
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = test_config(&fake, dir.path());
    cfg.anthropic.backfill_days = 30;
    {
        let h = Harness::new(cfg.clone());
        h.syncer
            .sync(Source::AdminApi, noon("2026-11-20"))
            .await
            .unwrap();
    }
    assert_eq!(fake.count(USAGE, None), 30);
    fake.clear_hits();
    let h = Harness::new(cfg);
    h.syncer
        .sync(Source::AdminApi, noon("2026-11-20") + Days::hours(1))
        .await
        .unwrap();
    assert_eq!(fake.count(USAGE, None), 2, "only today and yesterday");
    assert_eq!(
        h.store
            .rows(day("2026-10-01"), day("2026-11-20"), &[Source::AdminApi])
            .unwrap()
            .len(),
        6
    );
}

#[tokio::test]
async fn the_server_syncs_on_start_and_stops_without_waiting_for_a_slow_upstream() {
    let fake = Fake::start(org_data(), 1000).await;
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = test_config(&fake, dir.path());
    cfg.listen = "127.0.0.1:0".parse().unwrap();
    cfg.anthropic.request_timeout = Duration::from_secs(30);
    // The server runs on the real clock: hang on its today.
    let today = chrono::Utc::now().date_naive().to_string();
    fake.add_rule(
        Rule::on(USAGE, Fault::Hang(Duration::from_secs(20)))
            .day(&today)
            .always(),
    );
    let running = scoreboard_server::serve::start(cfg).await.unwrap();
    // The loop starts the backfill by itself, in the background.
    let deadline = Instant::now() + Duration::from_secs(10);
    while fake.count(USAGE, None) < 3 {
        assert!(
            Instant::now() < deadline,
            "no sync started: {:?}",
            fake.hits()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // A request is answered at once while the sync hangs on one day.
    let url = format!("http://{}/api/sources", running.addr);
    let started = Instant::now();
    let body: serde_json::Value = reqwest::get(&url).await.unwrap().json().await.unwrap();
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(source_status(&body, "admin-api")["syncing"], true);
    let started = Instant::now();
    running.stop().await.unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "stop waited for the hung request: {:?}",
        started.elapsed()
    );
}
