//! The Enterprise Analytics API source: its own key, its own field names,
//! `{data, next_page}` pages, never a day before 2026-01-01, and the newest
//! days' "not available yet" answers taken as lag rather than failure.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use scoreboard_core::{PersonKey, Source};
use scoreboard_server::config::{Config, Secrets};
use scoreboard_server::sync::SyncOutcome;

const USERS: &str = ANALYTICS_USERS_PATH;

/// The Enterprise Analytics key only, and 90 days of backfill.
fn enterprise(cfg: &mut Config) {
    cfg.anthropic.backfill_days = 90;
    cfg.secrets = Secrets::from_lookup(|n| {
        (n == "ANTHROPIC_ANALYTICS_API_KEY").then(|| ANALYTICS_KEY.to_string())
    });
}

#[tokio::test]
async fn days_are_fetched_from_2026_01_01_on_and_normalised() {
    let mut data = FakeData::default();
    data.analytics.insert(
        day("2026-01-01"),
        vec![
            analytics_record("Ann@acme.io", "user_01", 3, 40),
            analytics_record("bob@acme.io", "user_02", 1, 5),
        ],
    );
    data.analytics.insert(
        day("2026-01-02"),
        vec![analytics_record("ann@acme.io", "user_01", 2, 7)],
    );
    let fake = Fake::start(data, 1).await;
    let h = Harness::against_with(&fake, enterprise);
    assert!(!h.syncer.configured(Source::AdminApi));

    let outcome = h.sync(Source::EnterpriseApi, noon("2026-01-03")).await;
    assert_eq!(outcome.error, None);
    let asked: Vec<String> = fake
        .hits()
        .iter()
        .map(|h| h.q("date").unwrap().to_string())
        .collect();
    assert!(
        asked.iter().all(|d| d.as_str() >= "2026-01-01"),
        "never before 2026-01-01: {asked:?}"
    );
    assert!(
        !asked.contains(&"2026-01-03".to_string()),
        "today is never available"
    );
    assert_eq!(
        fake.count(USERS, Some("2026-01-01")),
        2,
        "two records at one per page"
    );
    for hit in fake.hits() {
        assert_eq!(hit.api_key.as_deref(), Some(ANALYTICS_KEY));
        assert_eq!(hit.q("limit"), Some("1000"));
    }

    let rows = h
        .store
        .rows(
            day("2025-12-01"),
            day("2026-01-03"),
            &[Source::EnterpriseApi],
        )
        .unwrap();
    assert_eq!(rows.len(), 3);
    let ann = rows
        .iter()
        .find(|r| r.day == day("2026-01-01") && r.person == PersonKey::email("ann@acme.io"))
        .unwrap();
    assert_eq!(ann.measures.sessions, 3);
    assert_eq!(ann.measures.lines_added, 40);
    assert_eq!(ann.measures.commits, 2);
    assert_eq!(ann.measures.pull_requests, 1);
    assert_eq!(ann.measures.edits_accepted, 7);
    assert_eq!(ann.measures.edits_rejected, 1);

    h.set_now(noon("2026-01-03"));
    let sources = h.get_json("/api/sources").await;
    let ent = source_status(&sources, "enterprise-api");
    assert_eq!(ent["configured"], true);
    assert_eq!(ent["state"], "ok", "{ent:#}");
    assert_eq!(
        source_status(&sources, "admin-api")["state"],
        "not_configured"
    );
    let health = h.get_json("/api/health").await;
    assert_eq!(health["sources"]["enterprise_api"], true);
    assert_eq!(health["sources"]["admin_api"], false);
}

#[tokio::test]
async fn the_newest_day_not_being_available_yet_is_lag_not_failure() {
    let mut data = FakeData::default();
    data.analytics.insert(
        day("2026-03-08"),
        vec![analytics_record("ann@acme.io", "user_01", 1, 1)],
    );
    let fake = Fake::start(data, 1000).await;
    fake.add_rule(
        Rule::on(
            USERS,
            Fault::Status {
                status: 400,
                kind: "invalid_request_error",
                retry_after: None,
            },
        )
        .day("2026-03-09"),
    );
    let h = Harness::against_with(&fake, |cfg| {
        enterprise(cfg);
        cfg.anthropic.backfill_days = 3;
    });
    let outcome = h.sync(Source::EnterpriseApi, noon("2026-03-10")).await;
    assert_eq!(outcome.error, None);
    assert_eq!(
        outcome.days_fetched, 1,
        "08 stored; 09 not available yet: {outcome:?}"
    );
    assert_eq!(
        fake.count(USERS, Some("2026-03-09")),
        1,
        "asked once, not retried"
    );
    assert_eq!(
        h.store
            .rows(
                day("2026-03-08"),
                day("2026-03-09"),
                &[Source::EnterpriseApi]
            )
            .unwrap()
            .len(),
        1
    );
    assert!(!h
        .store
        .synced_days(Source::EnterpriseApi, day("2026-03-09"), day("2026-03-09"))
        .unwrap()
        .contains_key(&day("2026-03-09")));
}

/// Three people on 2026-03-08, one a page, `fault` on every page asked for
/// with a cursor (once, or always); synced on 2026-03-09.
async fn sync_paged_day(fault: Rule) -> (Fake, Harness, SyncOutcome) {
    let mut data = FakeData::default();
    data.analytics.insert(
        day("2026-03-08"),
        vec![
            analytics_record("ann@acme.io", "user_01", 1, 1),
            analytics_record("bob@acme.io", "user_02", 2, 2),
            analytics_record("cy@acme.io", "user_03", 3, 3),
        ],
    );
    let fake = Fake::start(data, 1).await;
    fake.add_rule(fault.day("2026-03-08").with_cursor());
    let h = Harness::against_with(&fake, |cfg| {
        enterprise(cfg);
        cfg.anthropic.backfill_days = 2;
    });
    let outcome = h.sync(Source::EnterpriseApi, noon("2026-03-09")).await;
    (fake, h, outcome)
}

// Drift guarded: the Enterprise client's copy of the cursor loop was never
// run against an expired cursor (only the Admin API's was); both now share
// `upstream::paginate`, and this holds the Enterprise side to it.
#[tokio::test]
async fn an_expired_enterprise_cursor_restarts_the_day_without_duplicates() {
    let (fake, h, outcome) = sync_paged_day(Rule::on(USERS, Fault::ExpireCursor)).await;
    assert_eq!(outcome.error, None);
    let pages: Vec<Option<String>> = fake
        .hits()
        .iter()
        .filter(|h| h.q("date") == Some("2026-03-08"))
        .map(|h| h.q("page").map(str::to_string))
        .collect();
    assert_eq!(
        pages.len(),
        5,
        "first page, expired second, then three pages again: {pages:?}"
    );
    assert_eq!(pages[2], None, "restarted from the first page");
    let rows = h
        .store
        .rows(
            day("2026-03-08"),
            day("2026-03-08"),
            &[Source::EnterpriseApi],
        )
        .unwrap();
    assert_eq!(rows.len(), 3, "{rows:#?}");
    let bob = rows
        .iter()
        .find(|r| r.person == PersonKey::email("bob@acme.io"))
        .unwrap();
    assert_eq!(bob.measures.sessions, 2, "no record counted twice");
}

#[tokio::test]
async fn an_enterprise_page_repeating_its_cursor_fails_that_day_at_once() {
    let (fake, _h, outcome) = sync_paged_day(Rule::on(USERS, Fault::RepeatCursor).always()).await;
    assert_eq!(fake.count(USERS, Some("2026-03-08")), 2);
    let err = outcome.error.unwrap();
    assert!(err.contains("repeated its cursor"), "{err}");
}
