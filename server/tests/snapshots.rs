//! Frozen share snapshots on the server: stored under unguessable ids,
//! listed and deleted behind the read gate, read by id alone.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;

use axum::http::StatusCode;
use chrono::{NaiveDate, Utc};
use common::*;
use scoreboard_core::metrics::WindowSpec;
use scoreboard_core::share::{self, Privacy, View};
use scoreboard_core::{compute, DayRow, Measures, PersonKey, ReportOptions, Source, UsageTable};
use scoreboard_server::config::{Config, Secrets};
use scoreboard_server::snapshots::MAX_SNAPSHOT_BYTES;
use scoreboard_server::store::TokenKind;
use scoreboard_server::tokens;
use serde_json::Value;

fn offline_config(dir: &Path) -> Config {
    Config {
        data_dir: dir.to_path_buf(),
        secrets: Secrets::default(),
        ..Config::default()
    }
}

fn link(privacy: Privacy) -> String {
    let mut t = UsageTable::new();
    let d = NaiveDate::from_ymd_opt(2026, 11, 10).unwrap();
    let mut row = DayRow::new(d, PersonKey::email("ann@corp.example"), Source::Csv);
    row.measures = Measures {
        sessions: 3,
        lines_added: 40,
        ..Measures::default()
    };
    t.insert_days(vec![row]);
    let as_of = NaiveDate::from_ymd_opt(2026, 11, 22).unwrap();
    let report = compute(&t, None, &ReportOptions::last_weeks(as_of, 4));
    let view = View {
        window: WindowSpec::LastWeeks { weeks: 4 },
        team: None,
    };
    let s = share::make_snapshot(&report, privacy, 5, "salt", as_of, view).unwrap();
    share::encode_link(&s)
}

async fn post(h: &Harness, body: &str, headers: &[(&str, &str)]) -> (StatusCode, String) {
    h.request("POST", "/api/snapshots", headers, body.as_bytes().to_vec())
        .await
}

#[tokio::test]
async fn a_stored_snapshot_is_read_back_listed_and_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let h = Harness::new(offline_config(dir.path()));
    let text = link(Privacy::Pseudonyms);
    let (status, body) = post(&h, &text, &[]).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let created: Value = serde_json::from_str(&body).unwrap();
    let id = created["id"].as_str().unwrap().to_string();
    assert_eq!(id.len(), 64, "256 random bits as hex");
    assert!(id.bytes().all(|b| b.is_ascii_hexdigit()));
    assert_eq!(created["privacy"], "pseudonyms");
    assert_eq!(created["link"], format!("?snapshot=api/snapshots/{id}"));
    assert!(created["description"]
        .as_str()
        .unwrap()
        .starts_with("Snapshot of 2026-11-22, csv, shared with names hidden"));

    // Read back exactly as sent, and it decodes to the same snapshot.
    let (status, got) = h.get(&format!("/api/snapshots/{id}"), &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(got, text);
    assert_eq!(
        share::decode_link(&got).unwrap(),
        share::decode_link(&text).unwrap()
    );

    // A second one; two posts of the same snapshot get different ids.
    let (_, body2) = post(&h, &text, &[]).await;
    let id2 = serde_json::from_str::<Value>(&body2).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_ne!(id, id2);
    let list = h.get_json("/api/snapshots").await;
    let ids: Vec<&str> = list["snapshots"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 2);
    assert!(ids.contains(&id.as_str()) && ids.contains(&id2.as_str()));
    let first = &list["snapshots"][0];
    assert!(first["created_at"].as_str().unwrap().ends_with('Z'));
    assert_eq!(first["bytes"], text.len());

    let (status, _) = h
        .request("DELETE", &format!("/api/snapshots/{id}"), &[], Vec::new())
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, body) = h.get(&format!("/api/snapshots/{id}"), &[]).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(body.contains("no snapshot with this id"), "{body}");
    let (status, _) = h
        .request("DELETE", &format!("/api/snapshots/{id}"), &[], Vec::new())
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        h.get_json("/api/snapshots").await["snapshots"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn a_snapshot_file_is_accepted_too() {
    let dir = tempfile::tempdir().unwrap();
    let h = Harness::new(offline_config(dir.path()));
    let s = share::decode_link(&link(Privacy::AggregatesOnly)).unwrap();
    let file = share::encode_file(&s);
    let (status, body) = post(&h, &file, &[]).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let id = serde_json::from_str::<Value>(&body).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (_, got) = h.get(&format!("/api/snapshots/{id}"), &[]).await;
    assert_eq!(share::decode_file(got.as_bytes()).unwrap(), s);
}

#[tokio::test]
async fn bad_snapshots_are_refused_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let h = Harness::new(offline_config(dir.path()));
    let text = link(Privacy::Names);
    for (body, says) in [
        ("", "empty"),
        ("hello", "not a Scoreboard snapshot"),
        (&text[..text.len() / 2], "damaged or cut short"),
        ("{\"version\": 1}", "damaged"),
        ("v99.abc", "newer Scoreboard"),
    ] {
        let (status, answer) = post(&h, body, &[]).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body:?}: {answer}");
        assert!(answer.contains(says), "{body:?}: {answer}");
    }
    let big = "v1.".to_string() + &"A".repeat(MAX_SNAPSHOT_BYTES + 1);
    let (status, answer) = post(&h, &big, &[]).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(answer.contains("larger than 8 MB"), "{answer}");
    assert!(h.get_json("/api/snapshots").await["snapshots"]
        .as_array()
        .unwrap()
        .is_empty());
    // Ids that cannot exist are simply not found.
    for uri in ["/api/snapshots/abc", "/api/snapshots/..%2Fetc"] {
        let (status, _) = h.get(uri, &[]).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{uri}");
    }
}

#[tokio::test]
async fn writing_listing_and_deleting_need_a_viewer_off_loopback_and_reading_needs_the_id() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = offline_config(dir.path());
    cfg.listen = "0.0.0.0:8080".parse().unwrap();
    let h = Harness::new(cfg);
    let now = Utc::now();
    let viewer = tokens::create(&h.store, TokenKind::Viewer, "lead", now).unwrap();
    let ingest = tokens::create(&h.store, TokenKind::Ingest, "laptops", now).unwrap();
    let auth = format!("Bearer {}", viewer.token);
    let wrong = format!("Bearer {}", ingest.token);
    let text = link(Privacy::Pseudonyms);

    for headers in [vec![], vec![("authorization", wrong.as_str())]] {
        let (status, body) = post(&h, &text, &headers).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
        let (status, _) = h.get("/api/snapshots", &headers).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    let (status, body) = post(&h, &text, &[("authorization", &auth)]).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let id = serde_json::from_str::<Value>(&body).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (status, list) = h.get("/api/snapshots", &[("authorization", &auth)]).await;
    assert_eq!(status, StatusCode::OK);
    assert!(list.contains(&id));

    // The link a colleague is sent works without a token: the id is the key.
    let (status, got) = h.get(&format!("/api/snapshots/{id}"), &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(got, text);

    let uri = format!("/api/snapshots/{id}");
    let (status, _) = h.request("DELETE", &uri, &[], Vec::new()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = h
        .request("DELETE", &uri, &[("authorization", &auth)], Vec::new())
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn snapshots_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let text = link(Privacy::Names);
    let id = {
        let h = Harness::new(offline_config(dir.path()));
        let (_, body) = post(&h, &text, &[]).await;
        serde_json::from_str::<Value>(&body).unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let h = Harness::new(offline_config(dir.path()));
    let (status, got) = h.get(&format!("/api/snapshots/{id}"), &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(got, text);
}
