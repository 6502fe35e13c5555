//! `/api/rows` full answers are kept, encoded and compressed, per data
//! version (issue 13): a reload or a second page on an unchanged store is
//! served without reading SQLite again, never stale after a write (the
//! store's or telemetry's), made once for askers arriving together, and
//! sent in the coding the asker accepts. Real store, real telemetry
//! receiver fed a captured Claude Code session, the real router.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::Read;

use axum::http::StatusCode;
use chrono::Utc;
use common::*;
use scoreboard_core::api::{rows_wire, RowsAnswer};
use scoreboard_core::Source;
use scoreboard_server::config::{Config, Secrets};
use scoreboard_server::state::ROWS_CACHE_ENTRIES;
use scoreboard_server::store::TokenKind;
use scoreboard_server::tokens;

const URI: &str = "/api/rows?from=2026-10-01&to=2026-12-31";

struct Answer {
    status: StatusCode,
    etag: String,
    encoding: Option<String>,
    vary: String,
    body: Vec<u8>,
}

async fn get(h: &Harness, uri: &str, headers: &[(&str, &str)]) -> Answer {
    let (status, head, body) = h.exchange("GET", uri, headers, Vec::new()).await;
    let header = |name| {
        head.get_all(name)
            .iter()
            .map(|v: &axum::http::HeaderValue| v.to_str().unwrap().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    Answer {
        status,
        etag: header("etag"),
        encoding: Some(header("content-encoding")).filter(|e| !e.is_empty()),
        vary: header("vary"),
        body,
    }
}

async fn compact(h: &Harness) -> Answer {
    get(h, URI, &[("accept", rows_wire::CONTENT_TYPE)]).await
}

fn rows_of(a: &Answer) -> RowsAnswer {
    assert_eq!(a.status, StatusCode::OK);
    rows_wire::decode(&a.body).unwrap()
}

fn harness(dir: &std::path::Path) -> Harness {
    let h = Harness::with_receiver(Config {
        data_dir: dir.to_path_buf(),
        secrets: Secrets::default(),
        ..Config::default()
    });
    h.set_now(noon("2026-12-01"));
    h
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unchanged_store_is_answered_from_the_cache_and_a_write_is_seen_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let h = harness(dir.path());
    admin_day(&h, "2026-11-02", &[("a@x.io", 3), ("b@x.io", 1)]);
    let first = compact(&h).await;
    assert_eq!(sessions(&rows_of(&first), "a@x.io"), vec![3]);
    assert_eq!(h.state.rows_cache().made(), 1);

    // A reload: the same bytes, nothing made again.
    let again = compact(&h).await;
    assert_eq!(again.body, first.body);
    assert_eq!(again.etag, first.etag);
    assert_eq!(h.state.rows_cache().made(), 1);

    // The store re-fetches the day: the next answer has the new figures.
    admin_day(&h, "2026-11-02", &[("a@x.io", 5)]);
    let after = compact(&h).await;
    assert_ne!(after.etag, first.etag);
    let a = rows_of(&after);
    assert_eq!(sessions(&a, "a@x.io"), vec![5]);
    assert_eq!(sessions(&a, "b@x.io"), Vec::<u64>::new());
    assert_eq!(h.state.rows_cache().made(), 2);

    // Telemetry commits through its own connection: seen at once too.
    let token = tokens::create(&h.store, TokenKind::Ingest, "laptops", Utc::now())
        .unwrap()
        .token;
    telemetry(&h, &token, "c@x.io", 0).await;
    let with_telemetry = rows_of(&compact(&h).await);
    assert!(
        with_telemetry
            .rows
            .iter()
            .any(|r| r.source == Source::Otlp && r.person.as_str() == "c@x.io"),
        "the telemetry just committed is in the answer"
    );
    assert_eq!(h.state.rows_cache().made(), 3);
    // Only the newest version's answers are held.
    assert_eq!(h.state.rows_cache().held().0, 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn pages_asking_together_on_a_cold_cache_make_the_answer_once() {
    let dir = tempfile::tempdir().unwrap();
    let h = harness(dir.path());
    let people: Vec<String> = (0..300).map(|i| format!("p{i}@x.io")).collect();
    let people: Vec<(&str, u64)> = people.iter().map(|p| (p.as_str(), 2)).collect();
    for d in 1..=28 {
        admin_day(&h, &format!("2026-11-{d:02}"), &people);
    }
    let answers = futures_util::future::join_all((0..8).map(|_| compact(&h))).await;
    assert_eq!(h.state.rows_cache().made(), 1);
    for a in &answers {
        assert_eq!(a.body, answers[0].body);
    }
    assert_eq!(rows_of(&answers[0]).rows.len(), 300 * 28);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_kept_answer_is_sent_in_the_coding_the_asker_accepts() {
    let dir = tempfile::tempdir().unwrap();
    let h = harness(dir.path());
    admin_day(&h, "2026-11-02", &[("a@x.io", 3), ("b@x.io", 1)]);
    let plain = compact(&h).await;
    assert_eq!(plain.encoding, None);
    assert!(plain.vary.contains("accept-encoding"), "{}", plain.vary);
    let ask = |enc: &'static str| {
        let h = &h;
        async move {
            get(
                h,
                URI,
                &[
                    ("accept", rows_wire::CONTENT_TYPE),
                    ("accept-encoding", enc),
                ],
            )
            .await
        }
    };

    let br = ask("gzip, deflate, br, zstd").await;
    assert_eq!(br.encoding.as_deref(), Some("br"));
    let mut unpacked = Vec::new();
    brotli_decompressor::Decompressor::new(&br.body[..], 4096)
        .read_to_end(&mut unpacked)
        .unwrap();
    assert_eq!(unpacked, plain.body);

    let gz = ask("gzip, br;q=0").await;
    assert_eq!(gz.encoding.as_deref(), Some("gzip"));
    let mut unpacked = Vec::new();
    flate2::read::GzDecoder::new(&gz.body[..])
        .read_to_end(&mut unpacked)
        .unwrap();
    assert_eq!(unpacked, plain.body);

    let none = ask("identity").await;
    assert_eq!(none.encoding, None);
    assert_eq!(none.body, plain.body);
    assert_eq!(h.state.rows_cache().made(), 1);

    // The JSON answer is another entry; ranges beyond the bound push the
    // oldest out.
    let (status, _) = h.get(URI, &[]).await;
    assert_eq!(status, StatusCode::OK);
    for m in 1..=ROWS_CACHE_ENTRIES + 1 {
        let a = get(
            &h,
            &format!("/api/rows?from=2026-0{m}-01&to=2026-12-31"),
            &[("accept", rows_wire::CONTENT_TYPE)],
        )
        .await;
        assert_eq!(a.status, StatusCode::OK);
    }
    assert_eq!(h.state.rows_cache().held().0, ROWS_CACHE_ENTRIES);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_compact_answer_made_from_the_stores_rows_equals_the_json_answer() {
    // The compact full answer is encoded straight from SQLite's rows (no
    // DayRow made); the JSON one goes through DayRows: both must say the
    // same, splits, sources, telemetry and coverage included.
    use scoreboard_core::{DayRow, PersonKey};
    use scoreboard_server::store::DayStats;
    let dir = tempfile::tempdir().unwrap();
    let h = harness(dir.path());
    admin_day(&h, "2026-11-02", &[("b@x.io", 3), ("a@x.io", 1)]);
    split_day(&h, Source::AdminApi, "2026-11-03", "a@x.io");
    let d = day("2026-11-03");
    let mut seat = DayRow::new(d, PersonKey::email("a@x.io"), Source::EnterpriseApi);
    seat.measures.sessions = 2;
    seat.present = Source::EnterpriseApi.measures();
    h.store
        .replace_day(
            Source::EnterpriseApi,
            d,
            &[seat],
            &DayStats::default(),
            Utc::now(),
        )
        .unwrap();
    let token = tokens::create(&h.store, TokenKind::Ingest, "laptops", Utc::now())
        .unwrap()
        .token;
    telemetry(&h, &token, "c@x.io", 0).await;

    let mut compact = rows_of(&compact(&h).await);
    let json = get(&h, URI, &[]).await;
    assert_eq!(json.status, StatusCode::OK);
    let mut json: RowsAnswer = serde_json::from_slice(&json.body).unwrap();
    assert_eq!(compact.rows.len(), 5, "{:?}", compact.rows);
    assert!(compact.rows.iter().any(|r| r.source == Source::Otlp));
    // Each answer's cursor marks its own moment.
    assert!(compact.cursor.take().is_some() && json.cursor.take().is_some());
    assert_eq!(compact, json);
}
