//! `/api/rows` answers are written from their rows as they are read (the
//! store's straight from SQLite, the exports folder's one at a time from
//! its table, telemetry's), never from the whole answer's `DayRow`s
//! (issue 13's bounded memory), by `load::AnswerRows::walk`, the server's
//! one implementation of the sources' precedence; `/api/report` reads the
//! same walk collected into a table (`load_rows`, `rows::loaded_answer`).
//! Both must be exactly the answer worked out here apart from the walk
//! ([`precedence_oracle`]: every source's rows read whole, the folder's put
//! in a core table first and the live ones over them): the same compact
//! bytes, the same JSON text, for full answers and deltas, with and
//! without an exports folder. Real store, real telemetry receiver fed a
//! captured Claude Code session, real files in a real exports folder
//! (usage CSVs, a thinner correction, a period export, an Admin API dump
//! over days the store synced too), the real router.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use std::time::{Duration, SystemTime};

use axum::http::StatusCode;
use chrono::{NaiveDate, Utc};
use common::*;
use scoreboard_core::api::{rows_wire, RowScope, RowsAnswer, RowsDelta};
use scoreboard_core::model::PersonKey;
use scoreboard_core::{Source, UsageTable};
use scoreboard_server::config::{Config, Secrets};
use scoreboard_server::load::{sync_coverage, telemetry_coverage, STORE_SOURCES};
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

/// The answer of the range with `delta`, worked out without
/// `load::AnswerRows` (as the server made every answer before it streamed
/// them): the store's and telemetry's rows read whole; with an exports
/// folder, its rows put in a core table first and the live rows inserted
/// over them, so a synced or received row replaces the file's of its
/// source and person-day measure by measure and takes its place, the
/// live rows the folder lacks following in their order.
fn precedence_oracle(h: &Harness, cursor: String, delta: Option<RowsDelta>) -> RowsAnswer {
    let (from, to) = range();
    let state = &h.state;
    let now = state.now();
    let store = state.store();
    let mut rows = store.rows(from, to, &STORE_SOURCES).unwrap();
    let mut coverage: Vec<_> = STORE_SOURCES
        .into_iter()
        .filter(|s| state.syncer().configured(*s))
        .map(|s| sync_coverage(store, s, from, to).unwrap())
        .collect();
    if let Some(t) = state.telemetry() {
        rows.extend(t.day_rows(from, to).unwrap());
        coverage.push(telemetry_coverage(&t.status(now), now, from, to));
    }
    let mut periods = Vec::new();
    let mut imported = BTreeMap::new();
    if let Some(folder) = state.imports().read(now) {
        let live: HashSet<_> = rows.iter().map(|r| (r.source, &r.person, r.day)).collect();
        let file_rows = folder.rows(from, to);
        for r in &file_rows {
            if !live.contains(&(r.source, &r.person, r.day)) {
                *imported.entry(r.source).or_insert(0) += 1;
            }
        }
        drop(live);
        periods = folder.periods(from, to);
        for p in &periods {
            *imported.entry(p.source).or_insert(0) += 1;
        }
        let mut table = UsageTable::new();
        table.insert_days(file_rows);
        table.insert_days(rows);
        rows = table.day_rows().collect();
        coverage.extend(folder.coverage(from, to));
    }
    let mut counts = BTreeMap::new();
    for r in &rows {
        *counts.entry(r.source).or_insert(0) += 1;
    }
    if let Some(d) = &delta {
        let inside = d.matcher();
        rows.retain(|r| inside(r));
    }
    RowsAnswer {
        from,
        to,
        counts,
        rows,
        periods,
        imported,
        coverage,
        cursor: Some(cursor),
        delta,
    }
}

/// The streamed bodies (compact and JSON) of the answer with `delta`, the
/// answer made from `load_rows`'s table and [`precedence_oracle`]'s: the
/// same answer, the same bytes.
async fn assert_one_answer(h: &Harness, delta: Option<RowsDelta>) -> RowsAnswer {
    let (from, to) = range();
    let cursor = "c1.test".to_string();
    let expected = precedence_oracle(h, cursor.clone(), delta.clone());
    let loaded = loaded_answer(&h.state, from, to, cursor.clone(), delta.clone())
        .await
        .unwrap();
    assert_eq!(loaded, expected, "load_rows's table");
    let compact = answer_body(&h.state, from, to, cursor.clone(), delta.clone(), true)
        .await
        .unwrap();
    assert!(
        compact[..] == rows_wire::encode(&expected)[..],
        "compact bodies differ: streamed {:#?}\nexpected {expected:#?}",
        rows_wire::decode(&compact)
    );
    let json = answer_body(&h.state, from, to, cursor, delta, false)
        .await
        .unwrap();
    assert_eq!(
        String::from_utf8(json.to_vec()).unwrap(),
        serde_json::to_string(&expected).unwrap()
    );
    expected
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
async fn streamed_and_loaded_answers_with_an_exports_folder_are_the_oracles() {
    let dir = tempfile::tempdir().unwrap();
    let h = server(dir.path(), true).await;
    let full = assert_one_answer(&h, None).await;
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

    let delta = assert_one_answer(&h, Some(scopes())).await;
    assert!(delta.rows.iter().any(|r| r.source == Source::Otlp));
    assert!(delta.rows.iter().any(|r| r.day == day("2026-11-10")));
    assert!(delta.rows.len() < full.rows.len());
    // A delta of nothing: no rows, the full answer's counts.
    let none = assert_one_answer(&h, Some(RowsDelta::default())).await;
    assert!(none.rows.is_empty());
    assert_eq!(none.counts, full.counts);
}

#[tokio::test(flavor = "multi_thread")]
async fn streamed_and_loaded_answers_without_an_exports_folder_are_the_oracles() {
    let dir = tempfile::tempdir().unwrap();
    let h = server(dir.path(), false).await;
    let full = assert_one_answer(&h, None).await;
    assert!(full.counts.contains_key(&Source::Otlp));
    assert!(full.imported.is_empty() && full.periods.is_empty());
    assert_one_answer(&h, Some(scopes())).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_handlers_answers_and_deltas_with_an_exports_folder_are_the_oracles() {
    let dir = tempfile::tempdir().unwrap();
    let h = server(dir.path(), true).await;
    let uri = format!("/api/rows?from={FROM}&to={TO}");
    let compact = [("accept", rows_wire::CONTENT_TYPE)];

    // Full, compact: the body is the oracle's answer's encoding under its cursor.
    let (status, _, body) = h.exchange("GET", &uri, &compact, Vec::new()).await;
    assert_eq!(status, StatusCode::OK);
    let first = rows_wire::decode(&body).unwrap();
    let cursor = first.cursor.clone().unwrap();
    let expected = precedence_oracle(&h, cursor.clone(), None);
    assert!(
        body == rows_wire::encode(&expected),
        "{first:#?}\n{expected:#?}"
    );

    // Full, JSON.
    let (status, _, body) = h.exchange("GET", &uri, &[], Vec::new()).await;
    assert_eq!(status, StatusCode::OK);
    let json: RowsAnswer = serde_json::from_slice(&body).unwrap();
    let expected = precedence_oracle(&h, json.cursor.clone().unwrap(), None);
    assert_eq!(
        String::from_utf8(body).unwrap(),
        serde_json::to_string(&expected).unwrap()
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
    let expected = precedence_oracle(&h, delta.cursor.clone().unwrap(), Some(scopes));
    assert!(
        body == rows_wire::encode(&expected),
        "{delta:#?}\n{expected:#?}"
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
    let expected = precedence_oracle(&h, json.cursor.clone().unwrap(), json.delta.clone());
    assert_eq!(
        String::from_utf8(body).unwrap(),
        serde_json::to_string(&expected).unwrap()
    );
}
