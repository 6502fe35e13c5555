//! `/api/rows` answers are written from their rows as they are read (the
//! store's straight from SQLite, the exports folder's one at a time from
//! its table, telemetry's), never from the whole answer's `DayRow`s
//! (issue 13's bounded memory). They must be exactly the answers made from
//! `load_rows`'s rows held whole (`rows::loaded_answer`, what `/api/report`
//! reads): the same compact bytes, the same JSON text, for full answers and
//! deltas, with and without an exports folder. Real store, real telemetry
//! receiver fed a captured Claude Code session, real files in a real
//! exports folder (usage CSVs, a thinner correction, a period export, an
//! Admin API dump over days the store synced too), the real router.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::time::{Duration, SystemTime};

use axum::http::StatusCode;
use chrono::{NaiveDate, Utc};
use common::*;
use scoreboard_core::api::{rows_wire, RowScope, RowsAnswer, RowsDelta};
use scoreboard_core::model::PersonKey;
use scoreboard_core::Source;
use scoreboard_server::config::{Config, Secrets};
use scoreboard_server::rows::{answer_body, loaded_answer};
use scoreboard_server::store::TokenKind;
use scoreboard_server::tokens;

const FROM: &str = "2026-10-01";
const TO: &str = "2026-12-31";

/// Writes `text` to `dir/name`, modified `secs` after a fixed moment (the
/// folder applies files oldest first).
fn write_file(dir: &Path, name: &str, text: &str, secs: u64) {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    let f = std::fs::File::options().write(true).open(&path).unwrap();
    f.set_modified(SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000 + secs))
        .unwrap();
}

/// One Admin API record (as the usage report endpoint and its dumps hold it).
fn admin_record(day: &str, email: &str, sessions: u64) -> serde_json::Value {
    serde_json::json!({
        "date": day,
        "actor": {"type": "user_actor", "email_address": email},
        "organization_id": "00000000-0000-0000-0000-000000000000",
        "customer_type": "api",
        "core_metrics": {
            "num_sessions": sessions,
            "lines_of_code": {"added": sessions * 11, "removed": 1},
            "commits_by_claude_code": 1,
            "pull_requests_by_claude_code": 0
        },
        "model_breakdown": [{
            "model": "claude-opus-4-8",
            "tokens": {"input": 100 * sessions, "output": 7, "cache_read": 0, "cache_creation": 0},
            "estimated_cost": {"currency": "USD", "amount": 1025}
        }]
    })
}

/// The exports folder: a usage export written newest day first, a thinner
/// correction (sessions only) over two of its person-days, a totals export
/// of a range (period rows), and an Admin API dump of three person-days,
/// one of which the store synced too.
fn fill_folder(dir: &Path) {
    let mut csv = String::from(
        "Date,Email,Sessions,Lines accepted,Accepted edits,Rejected edits,Spend (USD)\n",
    );
    for d in (2..=19).rev() {
        csv.push_str(&format!("2026-11-{d:02},ann@acme.io,3,120,10,2,2.50\n"));
        if d % 3 == 0 {
            csv.push_str(&format!("2026-11-{d:02},bob@acme.io,1,40,4,1,0.90\n"));
        }
    }
    write_file(dir, "usage.csv", &csv, 0);
    write_file(
        dir,
        "correction.csv",
        "Date,Email,Sessions\n2026-11-10,ann@acme.io,9\n2026-11-12,bob@acme.io,0\n",
        60,
    );
    write_file(
        dir,
        "totals.csv",
        "Email,start_date,end_date,Sessions,Lines accepted\nana@acme.io,2026-11-01,2026-11-14,7,300\n",
        90,
    );
    let dump = serde_json::json!([
        admin_record("2026-11-17", "ana@acme.io", 5),
        admin_record("2026-11-17", "zed@acme.io", 2),
        admin_record("2026-11-10", "ana@acme.io", 4),
    ]);
    write_file(dir, "admin-dump.json", &dump.to_string(), 120);
}

/// A server with an exports folder (or none), rows in the store for the
/// Admin API (over some of the folder's person-days) and the Enterprise
/// API (with model and tool splits), and telemetry of one person.
async fn server(dir: &Path, folder: bool) -> Harness {
    let mut config = Config {
        data_dir: dir.join("data"),
        secrets: Secrets::default(),
        ..Config::default()
    };
    if folder {
        let exports = dir.join("exports");
        std::fs::create_dir_all(&exports).unwrap();
        fill_folder(&exports);
        config.feeds.imports_dir = Some(exports);
    }
    std::fs::create_dir_all(&config.data_dir).unwrap();
    let h = Harness::with_receiver(config);
    h.set_now(noon("2026-12-01"));
    for d in ["2026-11-16", "2026-11-17", "2026-11-18"] {
        admin_day(&h, d, &[("ana@acme.io", 3), ("bob@acme.io", 1)]);
    }
    split_day(&h, Source::EnterpriseApi, "2026-11-17", "ana@acme.io");
    let token = tokens::create(&h.store, TokenKind::Ingest, "laptops", Utc::now())
        .unwrap()
        .token;
    telemetry(&h, &token, "cy@acme.io", 0).await;
    h
}

fn range() -> (NaiveDate, NaiveDate) {
    (day(FROM), day(TO))
}

/// The streamed bodies (compact and JSON) of the answer with `delta`, and
/// the reference answer made from `load_rows`: the same bytes.
async fn assert_same_as_loaded(h: &Harness, delta: Option<RowsDelta>) -> RowsAnswer {
    let (from, to) = range();
    let cursor = "c1.test".to_string();
    let loaded = loaded_answer(&h.state, from, to, cursor.clone(), delta.clone())
        .await
        .unwrap();
    let compact = answer_body(&h.state, from, to, cursor.clone(), delta.clone(), true)
        .await
        .unwrap();
    assert!(
        compact[..] == rows_wire::encode(&loaded)[..],
        "compact bodies differ: streamed {:#?}\nloaded {loaded:#?}",
        rows_wire::decode(&compact)
    );
    let json = answer_body(&h.state, from, to, cursor, delta, false)
        .await
        .unwrap();
    assert_eq!(
        String::from_utf8(json.to_vec()).unwrap(),
        serde_json::to_string(&loaded).unwrap()
    );
    loaded
}

fn scopes() -> RowsDelta {
    RowsDelta {
        replaced: vec![
            // A day the store synced and the folder's dump has too.
            RowScope::Day {
                source: Source::AdminApi,
                day: day("2026-11-17"),
            },
            // A day the folder's dump has and the store has not.
            RowScope::Day {
                source: Source::AdminApi,
                day: day("2026-11-10"),
            },
            RowScope::Day {
                source: Source::AdminApi,
                day: day("2026-11-18"),
            },
            RowScope::Day {
                source: Source::EnterpriseApi,
                day: day("2026-11-17"),
            },
            RowScope::Person {
                source: Source::Otlp,
                person: PersonKey::email("cy@acme.io"),
            },
        ],
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn streamed_answers_with_an_exports_folder_are_the_answers_made_from_loaded_rows() {
    let dir = tempfile::tempdir().unwrap();
    let h = server(dir.path(), true).await;
    let full = assert_same_as_loaded(&h, None).await;
    // What the comparison covers: every source, a live row over a file's
    // person-day, the folder's periods and imported counts.
    for s in [
        Source::AdminApi,
        Source::EnterpriseApi,
        Source::Csv,
        Source::Otlp,
    ] {
        assert!(full.counts.get(&s).copied().unwrap_or(0) > 0, "{s:?}");
    }
    assert!(!full.periods.is_empty());
    assert!(full.imported.contains_key(&Source::Csv));
    let ana_17 = full
        .rows
        .iter()
        .filter(|r| {
            r.source == Source::AdminApi
                && r.day == day("2026-11-17")
                && r.person.as_str() == "ana@acme.io"
        })
        .collect::<Vec<_>>();
    assert_eq!(ana_17.len(), 1, "one row per source and person-day");
    assert_eq!(
        ana_17[0].measures.sessions, 3,
        "the synced day's over the dump's"
    );
    assert!(
        full.rows
            .iter()
            .any(|r| r.source == Source::AdminApi && r.person.as_str() == "zed@acme.io"),
        "the dump's person-day the store lacks is kept"
    );

    let delta = assert_same_as_loaded(&h, Some(scopes())).await;
    assert!(delta.rows.iter().any(|r| r.source == Source::Otlp));
    assert!(delta.rows.iter().any(|r| r.day == day("2026-11-10")));
    assert!(delta.rows.len() < full.rows.len());
    // A delta of nothing: no rows, the full answer's counts.
    let none = assert_same_as_loaded(&h, Some(RowsDelta::default())).await;
    assert!(none.rows.is_empty());
    assert_eq!(none.counts, full.counts);
}

#[tokio::test(flavor = "multi_thread")]
async fn streamed_answers_without_an_exports_folder_are_the_answers_made_from_loaded_rows() {
    let dir = tempfile::tempdir().unwrap();
    let h = server(dir.path(), false).await;
    let full = assert_same_as_loaded(&h, None).await;
    assert!(full.counts.contains_key(&Source::Otlp));
    assert!(full.imported.is_empty() && full.periods.is_empty());
    assert_same_as_loaded(&h, Some(scopes())).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_handlers_answers_and_deltas_with_an_exports_folder_equal_the_loaded_ones() {
    let dir = tempfile::tempdir().unwrap();
    let h = server(dir.path(), true).await;
    let (from, to) = range();
    let uri = format!("/api/rows?from={FROM}&to={TO}");
    let compact = [("accept", rows_wire::CONTENT_TYPE)];

    // Full, compact: the body is the loaded answer's encoding under its cursor.
    let (status, _, body) = h.exchange("GET", &uri, &compact, Vec::new()).await;
    assert_eq!(status, StatusCode::OK);
    let first = rows_wire::decode(&body).unwrap();
    let cursor = first.cursor.clone().unwrap();
    let loaded = loaded_answer(&h.state, from, to, cursor.clone(), None)
        .await
        .unwrap();
    assert!(
        body == rows_wire::encode(&loaded),
        "{first:#?}\n{loaded:#?}"
    );

    // Full, JSON.
    let (status, _, body) = h.exchange("GET", &uri, &[], Vec::new()).await;
    assert_eq!(status, StatusCode::OK);
    let json: RowsAnswer = serde_json::from_slice(&body).unwrap();
    let loaded = loaded_answer(&h.state, from, to, json.cursor.clone().unwrap(), None)
        .await
        .unwrap();
    assert_eq!(
        String::from_utf8(body).unwrap(),
        serde_json::to_string(&loaded).unwrap()
    );

    // A re-fetched day the dump covers too, then a delta since the first
    // answer, in both encodings.
    admin_day(&h, "2026-11-17", &[("zed@acme.io", 6), ("bob@acme.io", 2)]);
    let since = format!("{uri}&cursor={cursor}");
    let (status, _, body) = h.exchange("GET", &since, &compact, Vec::new()).await;
    assert_eq!(status, StatusCode::OK);
    let delta = rows_wire::decode(&body).unwrap();
    let scopes = delta.delta.clone().expect("a delta");
    assert!(scopes.replaced.contains(&RowScope::Day {
        source: Source::AdminApi,
        day: day("2026-11-17"),
    }));
    let loaded = loaded_answer(
        &h.state,
        from,
        to,
        delta.cursor.clone().unwrap(),
        Some(scopes),
    )
    .await
    .unwrap();
    assert!(
        body == rows_wire::encode(&loaded),
        "{delta:#?}\n{loaded:#?}"
    );
    assert!(
        delta
            .rows
            .iter()
            .any(|r| r.person.as_str() == "zed@acme.io" && r.measures.sessions == 6),
        "the synced row over the dump's: {:?}",
        delta.rows
    );
    let (status, _, body) = h.exchange("GET", &since, &[], Vec::new()).await;
    assert_eq!(status, StatusCode::OK);
    let json: RowsAnswer = serde_json::from_slice(&body).unwrap();
    let loaded = loaded_answer(
        &h.state,
        from,
        to,
        json.cursor.clone().unwrap(),
        json.delta.clone(),
    )
    .await
    .unwrap();
    assert_eq!(
        String::from_utf8(body).unwrap(),
        serde_json::to_string(&loaded).unwrap()
    );
}
