//! `/api/rows` at scale (issue 13): the compact encoding the page asks for,
//! `304 Not Modified` for an unchanged store, and deltas since a cursor
//! that, applied to what the asker held, give the full answer's rows and
//! figures. Real store, real telemetry receiver fed the captured Claude Code
//! sessions through `/v1/metrics` and `/v1/logs` with an ingest token.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;

use axum::http::StatusCode;
use chrono::Utc;
use common::*;
use scoreboard_core::api::{rows_wire, RowScope, RowsAnswer};
use scoreboard_core::model::{DayRow, PersonKey};
use scoreboard_core::{compute, ReportOptions, Source, UsageTable};
use scoreboard_server::config::{Config, Secrets};
use scoreboard_server::store::TokenKind;
use scoreboard_server::tokens;

const RANGE: &str = "from=2026-10-01&to=2026-12-31";

fn harness(dir: &Path) -> Harness {
    Harness::with_receiver(Config {
        data_dir: dir.to_path_buf(),
        secrets: Secrets::default(),
        ..Config::default()
    })
}

struct Answer {
    status: StatusCode,
    etag: Option<String>,
    content_type: Option<String>,
    body: Vec<u8>,
}

async fn get(h: &Harness, uri: &str, headers: &[(&str, &str)]) -> Answer {
    let (status, head, body) = h.exchange("GET", uri, headers, Vec::new()).await;
    let header = |name| head.get(name).map(|v| v.to_str().unwrap().to_string());
    Answer {
        status,
        etag: header("etag"),
        content_type: header("content-type"),
        body,
    }
}

/// Asks as the page does: compact, with the last answer's cursor and ETag.
async fn page_get(h: &Harness, cursor: Option<&str>, etag: Option<&str>) -> Answer {
    let uri = match cursor {
        Some(c) => format!("/api/rows?{RANGE}&cursor={c}"),
        None => format!("/api/rows?{RANGE}"),
    };
    let mut headers = vec![("accept", rows_wire::CONTENT_TYPE)];
    if let Some(e) = etag {
        headers.push(("if-none-match", e));
    }
    get(h, &uri, &headers).await
}

/// The telemetry stored so far was received an hour earlier (the receiver
/// stamps with the wall clock): the 30 s a cursor allows for batches still
/// being committed no longer reaches it.
fn an_hour_passes(h: &Harness) {
    let db = rusqlite::Connection::open(h.config.db_path()).unwrap();
    db.execute(
        "UPDATE otlp_persons SET last_seen = last_seen - 3600000",
        [],
    )
    .unwrap();
}

fn sorted(mut rows: Vec<DayRow>) -> Vec<DayRow> {
    rows.sort_by(|a, b| {
        (a.source, a.person.as_str(), a.day).cmp(&(b.source, b.person.as_str(), b.day))
    });
    rows
}

/// The report the page would compute from `rows` and `answer`'s coverage.
fn figures(rows: &[DayRow], answer: &RowsAnswer) -> serde_json::Value {
    let mut table = UsageTable::new();
    table.insert_days(rows.iter().cloned());
    for c in &answer.coverage {
        table.add_source_coverage(c);
    }
    let report = compute(
        &table,
        None,
        &ReportOptions::last_weeks(common::day("2026-11-27"), 6),
    );
    serde_json::to_value(report).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refresh_fetches_only_what_changed_and_ends_with_the_full_answers_figures() {
    let dir = tempfile::tempdir().unwrap();
    let h = harness(dir.path());
    let ingest = tokens::create(&h.store, TokenKind::Ingest, "laptops", Utc::now()).unwrap();
    for (i, d) in ["2026-11-16", "2026-11-17", "2026-11-18"]
        .iter()
        .enumerate()
    {
        admin_day(
            &h,
            d,
            &[("ana@corp.example", 3 + i as u64), ("bo@corp.example", 1)],
        );
    }
    telemetry(&h, &ingest.token, "ana@corp.example", 0).await;
    telemetry(&h, &ingest.token, "bo@corp.example", 1).await;
    an_hour_passes(&h);

    // The first load: everything, compact, equal to the JSON answer.
    let first = page_get(&h, None, None).await;
    assert_eq!(first.status, StatusCode::OK);
    assert_eq!(first.content_type.as_deref(), Some(rows_wire::CONTENT_TYPE));
    let etag = first.etag.clone().expect("an ETag");
    let mut held = rows_wire::decode(&first.body).unwrap();
    assert!(held.delta.is_none(), "the first answer is a full one");
    let json: RowsAnswer =
        serde_json::from_slice(&get(&h, &format!("/api/rows?{RANGE}"), &[]).await.body).unwrap();
    assert_eq!(sorted(held.rows.clone()), sorted(json.rows.clone()));
    assert_eq!(held.coverage, json.coverage);
    assert_eq!(held.counts[&Source::AdminApi], 6);
    assert!(held.counts[&Source::Otlp] >= 2, "{:?}", held.counts);
    let json_size = serde_json::to_vec(&json).unwrap().len();
    assert!(
        first.body.len() * 3 < json_size,
        "compact {} B vs JSON {json_size} B",
        first.body.len()
    );

    // Unchanged: 304, no body.
    let again = page_get(&h, held.cursor.as_deref(), Some(&etag)).await;
    assert_eq!(again.status, StatusCode::NOT_MODIFIED);
    assert!(again.body.is_empty());

    // New telemetry from one person: the delta holds that person's rows only.
    telemetry(&h, &ingest.token, "cy@corp.example", 0).await;
    let delta = page_get(&h, held.cursor.as_deref(), Some(&etag)).await;
    assert_eq!(delta.status, StatusCode::OK);
    assert_ne!(delta.etag.as_deref(), Some(etag.as_str()));
    let mut next = rows_wire::decode(&delta.body).unwrap();
    let scopes = next.delta.clone().expect("a delta").replaced;
    assert!(
        scopes.contains(&RowScope::Person {
            source: Source::Otlp,
            person: PersonKey::email("cy@corp.example"),
        }),
        "{scopes:?}"
    );
    assert!(
        scopes.iter().all(|s| !matches!(s, RowScope::Day { .. })),
        "{scopes:?}"
    );
    assert!(!next.rows.is_empty());
    assert_eq!(scopes.len(), 1, "{scopes:?}");
    assert!(
        next.rows
            .iter()
            .all(|r| r.source == Source::Otlp && r.person.as_str() == "cy@corp.example"),
        "{:?}",
        next.rows
    );
    assert!(delta.body.len() < first.body.len());
    let mut rows = std::mem::take(&mut held.rows);
    RowsAnswer::apply(&mut rows, &mut next);
    let full = rows_wire::decode(&page_get(&h, None, None).await.body).unwrap();
    assert_eq!(sorted(rows.clone()), sorted(full.rows.clone()));
    assert_eq!(figures(&rows, &next), figures(&full.rows, &full));

    // An Admin API day fetched again an hour later (bo gone, ana changed): that day only.
    an_hour_passes(&h);
    admin_day(&h, "2026-11-17", &[("ana@corp.example", 9)]);
    let etag = delta.etag.clone().unwrap();
    let delta = page_get(&h, next.cursor.as_deref(), Some(&etag)).await;
    assert_eq!(delta.status, StatusCode::OK);
    let mut next2 = rows_wire::decode(&delta.body).unwrap();
    assert_eq!(
        next2.delta.clone().unwrap().replaced,
        vec![RowScope::Day {
            source: Source::AdminApi,
            day: common::day("2026-11-17"),
        }]
    );
    assert_eq!(next2.rows.len(), 1);
    RowsAnswer::apply(&mut rows, &mut next2);
    let full = rows_wire::decode(&page_get(&h, None, None).await.body).unwrap();
    assert_eq!(sorted(rows.clone()), sorted(full.rows.clone()));
    assert_eq!(figures(&rows, &next2), figures(&full.rows, &full));

    // A cursor the server cannot use (made up, or another range): a full answer.
    let made_up = page_get(&h, Some("c1.0.2026-10-01.2026-12-31.0.0.0"), None).await;
    assert!(rows_wire::decode(&made_up.body).unwrap().delta.is_none());
    let other = get(
        &h,
        &format!(
            "/api/rows?from=2026-11-01&to=2026-12-31&cursor={}",
            next2.cursor.unwrap()
        ),
        &[],
    )
    .await;
    let other: RowsAnswer = serde_json::from_slice(&other.body).unwrap();
    assert!(other.delta.is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn json_stays_the_default_and_carries_the_same_etag() {
    let dir = tempfile::tempdir().unwrap();
    let h = harness(dir.path());
    admin_day(&h, "2026-11-18", &[("ana@corp.example", 2)]);
    let json = get(&h, &format!("/api/rows?{RANGE}"), &[("accept", "*/*")]).await;
    assert_eq!(json.status, StatusCode::OK);
    assert_eq!(json.content_type.as_deref(), Some("application/json"));
    let etag = json.etag.unwrap();
    let again = get(
        &h,
        &format!("/api/rows?{RANGE}"),
        &[("if-none-match", &etag)],
    )
    .await;
    assert_eq!(again.status, StatusCode::NOT_MODIFIED);
    // Another range is another answer.
    let other = get(
        &h,
        "/api/rows?from=2026-11-01&to=2026-12-31",
        &[("if-none-match", &etag)],
    )
    .await;
    assert_eq!(other.status, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_delta_read_from_the_replaced_days_only_says_what_the_full_answer_says_of_them() {
    // A delta reads only the store's replaced days (and counts the rest
    // from the days' row counts): its rows are the full answer's rows in
    // its scopes, in the same order, and its counts and coverage the full
    // answer's, in both encodings.
    let dir = tempfile::tempdir().unwrap();
    let h = harness(dir.path());
    let ingest = tokens::create(&h.store, TokenKind::Ingest, "laptops", Utc::now()).unwrap();
    for d in ["2026-11-16", "2026-11-17", "2026-11-18"] {
        admin_day(&h, d, &[("ana@corp.example", 3), ("bo@corp.example", 1)]);
    }
    telemetry(&h, &ingest.token, "ana@corp.example", 0).await;
    an_hour_passes(&h);
    let first = rows_wire::decode(&page_get(&h, None, None).await.body).unwrap();

    admin_day(
        &h,
        "2026-11-17",
        &[("cy@corp.example", 4), ("ana@corp.example", 2)],
    );
    admin_day(&h, "2026-11-19", &[("bo@corp.example", 7)]);
    telemetry(&h, &ingest.token, "bo@corp.example", 0).await;
    let delta = rows_wire::decode(&page_get(&h, first.cursor.as_deref(), None).await.body).unwrap();
    let json: RowsAnswer = serde_json::from_slice(
        &get(
            &h,
            &format!("/api/rows?{RANGE}&cursor={}", first.cursor.clone().unwrap()),
            &[],
        )
        .await
        .body,
    )
    .unwrap();
    let full = rows_wire::decode(&page_get(&h, None, None).await.body).unwrap();

    let scopes = delta.delta.clone().expect("a delta");
    assert!(scopes.replaced.contains(&RowScope::Day {
        source: Source::AdminApi,
        day: common::day("2026-11-19"),
    }));
    let inside = scopes.matcher();
    let want: Vec<DayRow> = full.rows.iter().filter(|r| inside(r)).cloned().collect();
    assert!(want.iter().any(|r| r.source == Source::Otlp));
    assert_eq!(
        want.iter().filter(|r| r.source == Source::AdminApi).count(),
        3
    );
    assert_eq!(delta.rows, want);
    assert_eq!(delta.counts, full.counts);
    assert_eq!(delta.counts[&Source::AdminApi], 7);
    assert_eq!(delta.coverage, full.coverage);
    assert_eq!(
        (json.rows, json.counts, json.coverage),
        (delta.rows, delta.counts, delta.coverage)
    );
}
