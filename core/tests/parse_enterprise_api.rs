//! Enterprise Analytics API `/analytics/users` JSON.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests state their expectations by unwrapping

use chrono::NaiveDate;
use scoreboard_core::parse::enterprise_api::{self, UsersPage};
use scoreboard_core::parse::{self, FileKind, ImportError, ImportOptions};
use scoreboard_core::{PersonKey, Source, ToolDecisions};

fn data(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn day(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

#[test]
fn records_to_rows_uses_the_request_day_and_star_count_fields() {
    let page: UsersPage = serde_json::from_slice(&data("enterprise_users.json")).unwrap();
    assert!(page.next_page.is_none());
    let (rows, problems) = enterprise_api::records_to_rows("ent", day("2026-11-03"), &page.data);
    // The group total (rbac group, no user) is a problem, not a person.
    assert_eq!(problems.len(), 1);
    assert!(
        problems[0].message.contains("group"),
        "{}",
        problems[0].message
    );
    // The chat-only person has no claude_code_metrics: no row.
    let people: Vec<&str> = rows.iter().map(|r| r.person.as_str()).collect();
    assert_eq!(people, vec!["account:user_01NOMAIL", "ana@example.com"]);
    let ana = &rows[1];
    assert_eq!(
        (ana.day, ana.source),
        (day("2026-11-03"), Source::EnterpriseApi)
    );
    let m = &ana.measures;
    assert_eq!(
        (
            m.sessions,
            m.lines_added,
            m.lines_removed,
            m.commits,
            m.pull_requests
        ),
        (3, 120, 10, 2, 1)
    );
    // edit 10/1 + multi_edit 2/0 + notebook 0/0 + write 4/1 + new_tool 1/1.
    assert_eq!((m.edits_accepted, m.edits_rejected), (17, 3));
    assert_eq!(ana.tools.len(), 5);
    assert!(ana.tools.contains(&ToolDecisions {
        tool: "new_tool".into(),
        accepted: 1,
        rejected: 1
    }));
    assert_eq!(rows[0].person, PersonKey::account("user_01NOMAIL"));
    assert_eq!(rows[0].measures.sessions, 1);
}

#[test]
fn import_takes_the_day_from_the_period() {
    let opts = ImportOptions {
        period: Some((day("2026-11-03"), day("2026-11-03"))),
        ..ImportOptions::default()
    };
    let imp = parse::import(
        "enterprise_users.json",
        &data("enterprise_users.json"),
        &opts,
    )
    .unwrap();
    assert_eq!(imp.kind, FileKind::EnterpriseApiJson);
    assert_eq!(imp.rows.len(), 2);
    assert!(imp.rows.iter().all(|r| r.day == day("2026-11-03")));
    assert_eq!((imp.rows_read, imp.rows_rejected), (4, 1));
    assert!(
        imp.warnings
            .iter()
            .map(ToString::to_string)
            .any(|w| w.contains("1 of 4 records have no claude_code_metrics")),
        "{:?}",
        imp.warnings
    );
}

#[test]
fn import_of_a_range_gives_period_rows() {
    let opts = ImportOptions {
        period: Some((day("2026-11-01"), day("2026-11-30"))),
        ..ImportOptions::default()
    };
    let imp = parse::import(
        "enterprise_users.json",
        &data("enterprise_users.json"),
        &opts,
    )
    .unwrap();
    assert!(imp.rows.is_empty());
    assert_eq!(imp.periods.len(), 2);
    assert!(imp
        .periods
        .iter()
        .all(|p| p.start == day("2026-11-01") && p.end == day("2026-11-30")));
}

#[test]
fn import_without_a_day_needs_a_period_unless_the_name_or_envelope_has_one() {
    let err = parse::import(
        "enterprise_users.json",
        &data("enterprise_users.json"),
        &ImportOptions::default(),
    )
    .unwrap_err();
    assert!(matches!(err, ImportError::NeedsPeriod { .. }), "{err:?}");
    let imp = parse::import(
        "users-2026-11-05.json",
        &data("enterprise_users.json"),
        &ImportOptions::default(),
    )
    .unwrap();
    assert!(imp.rows.iter().all(|r| r.day == day("2026-11-05")));
    assert!(
        imp.warnings
            .iter()
            .map(ToString::to_string)
            .any(|w| w.contains("from its name")),
        "{:?}",
        imp.warnings
    );
    let wrapped = r#"{"date":"2026-11-06","data":[{"user":{"id":"user_1","email_address":"a@example.com"},"claude_code_metrics":{"core_metrics":{"distinct_session_count":2}}}],"next_page":null}"#;
    let imp = parse::import("u.json", wrapped.as_bytes(), &ImportOptions::default()).unwrap();
    assert_eq!(
        (imp.rows[0].day, imp.rows[0].measures.sessions),
        (day("2026-11-06"), 2)
    );
}

#[test]
fn empty_enterprise_page_is_read_without_a_day() {
    let imp = parse::import(
        "e.json",
        br#"{"data":[],"next_page":null}"#,
        &ImportOptions::default(),
    )
    .unwrap();
    assert_eq!(imp.kind, FileKind::EnterpriseApiJson);
    assert!(imp.rows.is_empty());
    assert!(imp
        .warnings
        .iter()
        .map(ToString::to_string)
        .any(|w| w.contains("no records")));
}
