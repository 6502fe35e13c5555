//! Admin API `usage_report/claude_code` JSON: page, bare array, array of
//! pages, both date forms, both actor types, cents, coverage warnings.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests state their expectations by unwrapping

use chrono::NaiveDate;
use scoreboard_core::parse::admin_api::{self, Actor, UsagePage, UsageRecord};
use scoreboard_core::parse::{self, FileKind, ImportOptions};
use scoreboard_core::{PersonKey, Source, ToolDecisions};

fn data(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn day(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

fn tool(name: &str, accepted: u64, rejected: u64) -> ToolDecisions {
    ToolDecisions {
        tool: name.into(),
        accepted,
        rejected,
    }
}

#[test]
fn page_with_both_date_forms_both_actors_unknown_tool_and_duplicate_actor_day() {
    let imp = parse::import(
        "admin_page.json",
        &data("admin_page.json"),
        &ImportOptions::default(),
    )
    .unwrap();
    assert_eq!(imp.kind, FileKind::AdminApiJson);
    assert_eq!(imp.problems, vec![]);
    assert_eq!((imp.rows_read, imp.rows_rejected), (3, 0));
    assert_eq!(imp.rows.len(), 2);

    // Two records of dev@example.com on 2026-09-01 (vscode, iTerm.app; one dated
    // as a timestamp, one as a date; e-mail case differs) are one row.
    let dev = &imp.rows[0];
    assert_eq!(
        (dev.day, dev.person.as_str(), dev.source),
        (day("2026-09-01"), "dev@example.com", Source::AdminApi)
    );
    let m = &dev.measures;
    assert_eq!(
        (
            m.sessions,
            m.lines_added,
            m.lines_removed,
            m.commits,
            m.pull_requests
        ),
        (5, 320, 42, 3, 1)
    );
    // edit 20/2 + write 3/0 + future_tool 5/1 + edit 1/1: unknown tools count too.
    assert_eq!((m.edits_accepted, m.edits_rejected), (29, 4));
    assert_eq!(
        dev.tools,
        vec![
            tool("edit_tool", 21, 3),
            tool("future_tool", 5, 1),
            tool("write_tool", 3, 0)
        ]
    );
    assert_eq!(
        (
            m.input_tokens,
            m.output_tokens,
            m.cache_read_tokens,
            m.cache_creation_tokens
        ),
        (53_010, 9_110, 410_000, 30_000)
    );
    // Cents: 141 + 1025 + 1 = 1167 cents = $11.67.
    assert_eq!(m.cost_micros, 11_670_000);
    assert!(!m.cost_is_estimated);
    let models: Vec<(&str, u64, i64)> = dev
        .models
        .iter()
        .map(|x| (x.model.as_str(), x.input_tokens, x.cost_micros))
        .collect();
    assert_eq!(
        models,
        vec![
            ("claude-opus-5", 53_000, 11_660_000),
            ("claude-haiku-4-5", 10, 10_000)
        ]
    );

    let bot = &imp.rows[1];
    assert_eq!(
        (bot.day, &bot.person),
        (day("2026-09-02"), &PersonKey::api_key("ci-bot"))
    );
    assert_eq!(
        (bot.measures.sessions, bot.measures.cost_micros),
        (2, 500_000)
    );
    // A subscription user_actor is present: no coverage warning.
    assert!(
        !imp.warnings
            .iter()
            .map(ToString::to_string)
            .any(|w| w.contains("claude.ai")),
        "{:?}",
        imp.warnings
    );
}

#[test]
fn estimated_cost_amount_is_cents() {
    let imp = parse::import(
        "admin_array.json",
        &data("admin_array.json"),
        &ImportOptions::default(),
    )
    .unwrap();
    assert_eq!(imp.rows.len(), 1);
    // 1025 cents = $10.25 = 10,250,000 micro-dollars.
    assert_eq!(imp.rows[0].measures.cost_micros, 10_250_000);
    assert_eq!(imp.rows[0].models[0].cost_micros, 10_250_000);
}

#[test]
fn array_of_pages_is_read_as_one_report_and_bad_records_are_problems() {
    let imp = parse::import(
        "admin_pages.json",
        &data("admin_pages.json"),
        &ImportOptions::default(),
    )
    .unwrap();
    assert_eq!(imp.kind, FileKind::AdminApiJson);
    let people: Vec<&str> = imp.rows.iter().map(|r| r.person.as_str()).collect();
    assert_eq!(people, vec!["nocost@example.com", "solo@example.com"]);
    let solo = &imp.rows[1];
    assert_eq!(
        (
            solo.measures.sessions,
            solo.measures.lines_added,
            solo.measures.lines_removed
        ),
        (3, 12, 1)
    );
    // No estimated_cost: estimated from the price table (Haiku 4.5, 1M input × $1) and marked.
    let nocost = &imp.rows[0];
    assert_eq!(
        (
            nocost.measures.cost_micros,
            nocost.measures.cost_is_estimated
        ),
        (1_000_000, true)
    );
    assert!(nocost.models[0].cost_is_estimated);
    // "yesterday", an unknown actor type and a record without actor: three problems, the rest kept.
    assert_eq!(imp.problems.len(), 3, "{:#?}", imp.problems);
    assert!(imp.problems.iter().any(|p| p.message.contains("yesterday")));
    assert!(imp
        .problems
        .iter()
        .any(|p| p.message.contains("actor type")));
    assert!(imp.problems.iter().any(|p| p.message.contains("actor")));
    assert_eq!((imp.rows_read, imp.rows_rejected), (6, 3));
    assert!(
        !imp.warnings
            .iter()
            .map(ToString::to_string)
            .any(|w| w.contains("has_more")),
        "{:?}",
        imp.warnings
    );
}

#[test]
fn a_dump_that_stops_before_the_last_page_says_so() {
    let json = r#"{"data":[{"date":"2026-09-01","actor":{"type":"user_actor","email_address":"a@example.com"},"customer_type":"subscription"}],"has_more":true,"next_page":"page_x"}"#;
    let imp = parse::import("p.json", json.as_bytes(), &ImportOptions::default()).unwrap();
    assert!(
        imp.warnings
            .iter()
            .map(ToString::to_string)
            .any(|w| w.contains("has_more")),
        "{:?}",
        imp.warnings
    );
}

#[test]
fn empty_report_warns_that_seat_users_are_not_reported() {
    let imp = parse::import(
        "admin_empty.json",
        &data("admin_empty.json"),
        &ImportOptions::default(),
    )
    .unwrap();
    assert_eq!(imp.kind, FileKind::AdminApiJson);
    assert!(imp.rows.is_empty());
    let w = imp
        .warnings
        .iter()
        .map(ToString::to_string)
        .find(|w| w.contains("claude.ai"))
        .expect("coverage warning");
    assert!(
        w.contains("not zero adoption") && w.contains("CSV") && w.contains("telemetry"),
        "{w}"
    );
    assert_eq!(
        admin_api::coverage_warning(&[]).as_deref(),
        Some(w.as_str())
    );
}

#[test]
fn api_customers_only_warns_that_seat_users_are_not_reported() {
    let imp = parse::import(
        "admin_api_customers_only.json",
        &data("admin_api_customers_only.json"),
        &ImportOptions::default(),
    )
    .unwrap();
    assert_eq!(imp.rows.len(), 2);
    assert!(
        imp.warnings
            .iter()
            .map(ToString::to_string)
            .any(|w| w.contains("customer_type") && w.contains("claude.ai")),
        "{:?}",
        imp.warnings
    );

    let page: UsagePage = serde_json::from_slice(&data("admin_api_customers_only.json")).unwrap();
    // API-key actors alone: warned too.
    let keys_only: Vec<UsageRecord> = page
        .data
        .iter()
        .filter(|r| matches!(r.actor, Actor::ApiActor { .. }))
        .cloned()
        .collect();
    assert!(admin_api::coverage_warning(&keys_only)
        .unwrap()
        .contains("API-key users"));
}

#[test]
fn server_types_deserialise_a_page_and_records_to_rows_sums() {
    let page: UsagePage = serde_json::from_slice(&data("admin_page.json")).unwrap();
    assert!(!page.has_more && page.next_page.is_none());
    let r0 = &page.data[0];
    assert_eq!(
        r0.actor,
        Actor::UserActor {
            email_address: "dev@example.com".into()
        }
    );
    assert_eq!(
        (r0.customer_type.as_deref(), r0.subscription_type.as_deref()),
        (Some("subscription"), Some("team"))
    );
    assert_eq!(
        (r0.terminal_type.as_deref(), r0.is_remote),
        (Some("vscode"), Some(false))
    );
    assert_eq!(r0.tool_actions["future_tool"].accepted, 5);
    assert_eq!(
        r0.model_breakdown[0]
            .estimated_cost
            .as_ref()
            .unwrap()
            .amount,
        141.0
    );
    assert_eq!(page.data[1].day(), Some(day("2026-09-01")));
    let (rows, problems) = admin_api::records_to_rows("api", &page.data);
    assert!(problems.is_empty());
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0].measures.sessions, 5);
    // Round trip: what the server stores reads back the same.
    let again: UsagePage = serde_json::from_str(&serde_json::to_string(&page).unwrap()).unwrap();
    assert_eq!(again, page);
}

#[test]
fn lenient_numbers_and_string_cents() {
    let json = r#"[{"date":"2026-09-01","actor":{"type":"api_actor","api_key_name":" k1 "},
        "core_metrics":{"num_sessions":"3","lines_of_code":{"added":2.0,"removed":null}},
        "model_breakdown":[{"model":"claude-opus-5","tokens":{"input":1},"estimated_cost":{"currency":"USD","amount":"12.5"}}]}]"#;
    let imp = parse::import("l.json", json.as_bytes(), &ImportOptions::default()).unwrap();
    let r = &imp.rows[0];
    assert_eq!(r.person, PersonKey::api_key("k1"));
    assert_eq!(
        (
            r.measures.sessions,
            r.measures.lines_added,
            r.measures.lines_removed
        ),
        (3, 2, 0)
    );
    assert_eq!(r.measures.cost_micros, 125_000); // 12.5 cents
}

#[test]
fn users_and_api_keys_pages_deserialise() {
    let users = r#"{"data":[{"id":"user_01A","type":"user","email":"Ana@Example.com","name":"Ana","role":"developer","added_at":"2026-03-04T10:00:00Z"}],"first_id":"user_01A","last_id":"user_01A","has_more":false}"#;
    let page: admin_api::UsersPage = serde_json::from_str(users).unwrap();
    let entry = page.data[0].roster_entry().unwrap();
    assert_eq!(entry.person, PersonKey::email("ana@example.com"));
    assert_eq!(entry.start, Some(day("2026-03-04")));
    assert_eq!(entry.aliases, vec![PersonKey::account("user_01A")]);
    let keys = r#"{"data":[{"id":"apikey_01","type":"api_key","name":"ci-bot","created_at":"2026-01-01T00:00:00Z","created_by":{"id":"user_01A","type":"user"},"expires_at":null,"partial_key_hint":"sk-ant-api03-R2D...igAA","status":"active","workspace_id":null}],"first_id":"apikey_01","last_id":"apikey_01","has_more":false}"#;
    let page: admin_api::ApiKeysPage = serde_json::from_str(keys).unwrap();
    assert_eq!(page.data[0].name, "ci-bot");
    assert_eq!(page.data[0].created_by.as_ref().unwrap().id, "user_01A");
}
