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
use scoreboard_server::guard::WRITE_HEADER;
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

/// As the page posts: with its header, from its own origin.
async fn post(h: &Harness, body: &str, headers: &[(&str, &str)]) -> (StatusCode, String) {
    let mut all = vec![(WRITE_HEADER, "1"), ("content-type", "text/plain")];
    all.extend_from_slice(headers);
    h.request("POST", "/api/snapshots", &all, body.as_bytes().to_vec())
        .await
}

async fn delete(h: &Harness, id: &str, headers: &[(&str, &str)]) -> StatusCode {
    let mut all = vec![(WRITE_HEADER, "1")];
    all.extend_from_slice(headers);
    h.request("DELETE", &format!("/api/snapshots/{id}"), &all, Vec::new())
        .await
        .0
}

fn id_of(body: &str) -> String {
    serde_json::from_str::<Value>(body).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string()
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

    assert_eq!(delete(&h, &id, &[]).await, StatusCode::NO_CONTENT);
    let (status, body) = h.get(&format!("/api/snapshots/{id}"), &[]).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(body.contains("no snapshot with this id"), "{body}");
    assert_eq!(delete(&h, &id, &[]).await, StatusCode::NOT_FOUND);
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

    assert_eq!(delete(&h, &id, &[]).await, StatusCode::UNAUTHORIZED);
    assert_eq!(
        delete(&h, &id, &[("authorization", &auth)]).await,
        StatusCode::NO_CONTENT
    );
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

#[tokio::test]
async fn a_cross_site_form_or_script_cannot_store_or_delete_a_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let h = Harness::new(offline_config(dir.path()));
    let text = link(Privacy::Names);
    // A plain HTML form on another site: form encoding, no page header (and the `=` it adds).
    let (status, body) = h
        .request(
            "POST",
            "/api/snapshots",
            &[
                ("content-type", "application/x-www-form-urlencoded"),
                ("origin", "https://evil.example"),
                ("host", "127.0.0.1:8080"),
            ],
            format!("{text}=").into_bytes(),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (status, _) = h
        .request(
            "POST",
            "/api/snapshots",
            &[("content-type", "text/plain")],
            text.clone().into_bytes(),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "text/plain without the header"
    );
    // The header from another origin (a rebinding page would also fail the Host check).
    for cross in [
        vec![
            ("origin", "https://evil.example"),
            ("host", "127.0.0.1:8080"),
        ],
        vec![("sec-fetch-site", "cross-site")],
        vec![("origin", "null")],
    ] {
        let (status, body) = post(&h, &text, &cross).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{cross:?}: {body}");
    }
    assert!(h.get_json("/api/snapshots").await["snapshots"]
        .as_array()
        .unwrap()
        .is_empty());
    // The page itself, as Chromium sends it.
    let (status, body) = post(
        &h,
        &text,
        &[
            ("origin", "http://127.0.0.1:8080"),
            ("host", "127.0.0.1:8080"),
            ("sec-fetch-site", "same-origin"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let id = id_of(&body);
    let (status, _) = h
        .request("DELETE", &format!("/api/snapshots/{id}"), &[], Vec::new())
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "a delete without the header");
    assert_eq!(delete(&h, &id, &[]).await, StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn a_viewer_cannot_delete_another_viewers_snapshot_but_an_admin_can() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = offline_config(dir.path());
    cfg.listen = "0.0.0.0:8080".parse().unwrap();
    let h = Harness::new(cfg);
    let now = Utc::now();
    let bearer = |t: &str| format!("Bearer {t}");
    let ann = bearer(
        &tokens::create(&h.store, TokenKind::Viewer, "ann", now)
            .unwrap()
            .token,
    );
    let bob = bearer(
        &tokens::create(&h.store, TokenKind::Viewer, "bob", now)
            .unwrap()
            .token,
    );
    let admin = bearer(
        &tokens::create(&h.store, TokenKind::Admin, "lead", now)
            .unwrap()
            .token,
    );
    let text = link(Privacy::Pseudonyms);
    let (_, body) = post(&h, &text, &[("authorization", &ann)]).await;
    let anns = id_of(&body);
    let (_, body) = post(&h, &text, &[("authorization", &bob)]).await;
    let bobs = id_of(&body);

    // Each viewer lists only its own.
    let (_, list) = h.get("/api/snapshots", &[("authorization", &ann)]).await;
    assert!(list.contains(&anns) && !list.contains(&bobs), "{list}");
    let (_, list) = h.get("/api/snapshots", &[("authorization", &admin)]).await;
    assert!(list.contains(&anns) && list.contains(&bobs), "{list}");

    assert_eq!(
        delete(&h, &bobs, &[("authorization", &ann)]).await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        h.get(&format!("/api/snapshots/{bobs}"), &[]).await.0,
        StatusCode::OK
    );
    assert_eq!(
        delete(&h, &anns, &[("authorization", &ann)]).await,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        delete(&h, &bobs, &[("authorization", &admin)]).await,
        StatusCode::NO_CONTENT
    );
    // The refusal is counted against ann's token.
    let sources = h.get_json_as("/api/sources", &admin).await;
    let by_reason = sources["refused"]["by_reason"].as_array().unwrap();
    assert!(
        by_reason.iter().any(|r| r["reason"] == "not_owner"),
        "{sources:#}"
    );
}

#[tokio::test]
async fn the_loopback_operator_deletes_any_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let h = Harness::new(offline_config(dir.path()));
    let viewer = tokens::create(&h.store, TokenKind::Viewer, "ann", Utc::now()).unwrap();
    let auth = format!("Bearer {}", viewer.token);
    let (_, body) = post(&h, &link(Privacy::Names), &[("authorization", &auth)]).await;
    let id = id_of(&body);
    assert_eq!(delete(&h, &id, &[]).await, StatusCode::NO_CONTENT);
}

/// `v1.` + base64url(zlib(json)), however damaged the JSON.
fn packed(json: &[u8]) -> String {
    use base64::Engine as _;
    let z = miniz_oxide::deflate::compress_to_vec_zlib(json, 9);
    format!(
        "v1.{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(z)
    )
}

#[tokio::test]
async fn a_link_that_inflates_to_millions_of_team_names_is_refused_unpacked() {
    let dir = tempfile::tempdir().unwrap();
    let h = Harness::new(offline_config(dir.path()));
    // 20 million empty team names: 60 MB of JSON from a link of a few tens of KB.
    let mut json = b"{\"version\":1,\"report\":{\"teams\":[".to_vec();
    json.extend(std::iter::repeat_n(&b"\"\","[..], 20_000_000).flatten());
    json.extend_from_slice(b"\"\"]}}");
    let bomb = packed(&json);
    drop(json);
    assert!(bomb.len() < 200_000, "{}", bomb.len());
    assert!(matches!(
        share::decode_link(&bomb),
        Err(share::ShareError::TooLarge(_))
    ));
    let (status, body) = post(&h, &bomb, &[]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body.contains("larger than Scoreboard opens"), "{body}");
    // Under the size cap but past the count of values.
    let mut json = b"[".to_vec();
    json.extend(std::iter::repeat_n(&b"0,"[..], 2_000_000).flatten());
    json.extend_from_slice(b"0]");
    assert!(matches!(
        share::decode_link(&packed(&json)),
        Err(share::ShareError::TooLarge(_))
    ));
    assert!(matches!(
        share::decode_file(&json),
        Err(share::ShareError::TooLarge(_))
    ));
}

#[tokio::test]
async fn snapshots_past_a_persons_quota_or_the_servers_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = offline_config(dir.path());
    cfg.limits.snapshots_per_owner = 3;
    let text = link(Privacy::Names);
    cfg.limits.snapshot_bytes_total = (text.len() * 5) as u64;
    let h = Harness::new(cfg);
    for _ in 0..3 {
        assert_eq!(post(&h, &text, &[]).await.0, StatusCode::CREATED);
    }
    let (status, body) = post(&h, &text, &[]).await;
    assert_eq!(status, StatusCode::INSUFFICIENT_STORAGE, "{body}");
    assert!(body.contains("already keep 3 snapshots"), "{body}");
    // Another person has a quota of their own, until the server's storage is full.
    let viewer = tokens::create(&h.store, TokenKind::Viewer, "ann", Utc::now()).unwrap();
    let auth = format!("Bearer {}", viewer.token);
    for _ in 0..2 {
        assert_eq!(
            post(&h, &text, &[("authorization", &auth)]).await.0,
            StatusCode::CREATED
        );
    }
    let (status, body) = post(&h, &text, &[("authorization", &auth)]).await;
    assert_eq!(status, StatusCode::INSUFFICIENT_STORAGE, "{body}");
    assert!(body.contains("storage"), "{body}");
}

#[tokio::test]
async fn a_burst_of_uploads_is_limited_per_person_before_anything_is_unpacked() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = offline_config(dir.path());
    cfg.limits.snapshot_uploads_per_minute = 3;
    let h = Harness::new(cfg);
    // Refused uploads count too: each one was unpacked and checked.
    for body in ["hello", "v1.AAAA", &link(Privacy::Names)] {
        let (status, _) = post(&h, body, &[]).await;
        assert_ne!(status, StatusCode::TOO_MANY_REQUESTS);
    }
    let (status, body) = post(&h, &link(Privacy::Names), &[]).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert!(body.contains("in a minute"), "{body}");
    // Someone else is not held back.
    let viewer = tokens::create(&h.store, TokenKind::Viewer, "ann", Utc::now()).unwrap();
    let auth = format!("Bearer {}", viewer.token);
    let (status, _) = post(&h, &link(Privacy::Names), &[("authorization", &auth)]).await;
    assert_eq!(status, StatusCode::CREATED);
}

#[tokio::test]
async fn snapshots_are_dated_by_the_servers_clock_and_listed_newest_first() {
    let dir = tempfile::tempdir().unwrap();
    let h = Harness::new(offline_config(dir.path()));
    let text = link(Privacy::Pseudonyms);
    h.set_now(noon("2026-11-20"));
    let (status, body) = post(&h, &text, &[]).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let older = serde_json::from_str::<Value>(&body).unwrap();
    assert_eq!(older["created_at"], "2026-11-20T12:00:00.000Z");
    h.set_now(noon("2026-11-23"));
    let (_, body) = post(&h, &text, &[]).await;
    let newer = serde_json::from_str::<Value>(&body).unwrap();
    assert_eq!(newer["created_at"], "2026-11-23T12:00:00.000Z");

    let list = h.get_json("/api/snapshots").await;
    let dated: Vec<(&str, &str)> = list["snapshots"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["id"].as_str().unwrap(), s["created_at"].as_str().unwrap()))
        .collect();
    assert_eq!(
        dated,
        vec![
            (newer["id"].as_str().unwrap(), "2026-11-23T12:00:00.000Z"),
            (older["id"].as_str().unwrap(), "2026-11-20T12:00:00.000Z"),
        ]
    );
}
