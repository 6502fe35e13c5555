//! The telemetry token check answers from a cache on the request's own
//! thread (issue 13): a token created, revoked or rotated elsewhere, as
//! `scoreboard token` does from another process with a connection of its
//! own, must be seen by the very next request, however warm the cache and
//! however much telemetry was committed meanwhile.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use axum::http::StatusCode;
use chrono::Utc;
use common::*;
use scoreboard_server::config::{Config, Secrets};
use scoreboard_server::store::{Store, TokenKind};
use scoreboard_server::tokens;

/// The server: its store, the receiver with the token check over it.
fn server(dir: &std::path::Path) -> (Harness, Config) {
    let cfg = Config {
        data_dir: dir.to_path_buf(),
        secrets: Secrets::default(),
        ..Config::default()
    };
    let receiver = telemetry_receiver(&cfg);
    (Harness::with_telemetry(cfg.clone(), Some(receiver)), cfg)
}

fn all(replies: &[(StatusCode, String)], want: StatusCode) -> bool {
    replies.iter().all(|(s, _)| *s == want)
}

#[tokio::test]
async fn a_token_revoked_by_another_process_is_refused_on_the_next_request() {
    let dir = tempfile::tempdir().unwrap();
    let (h, cfg) = server(dir.path());
    // What `scoreboard token …` opens: the same file, a connection of its own.
    let cli = Store::open(&cfg.db_path()).unwrap();
    let now = Utc::now();
    let laptops = tokens::create(&cli, TokenKind::Ingest, "laptops", now).unwrap();

    // A token created after the server started is taken at once; sending
    // twice leaves its answer in the cache, and the telemetry commits in
    // between move the database's version as any traffic does.
    for _ in 0..2 {
        let replies = h.send_session(&laptops.token).await;
        assert!(all(&replies, StatusCode::OK), "{replies:?}");
    }

    tokens::revoke(&cli, laptops.record.id, now).unwrap();
    let replies = h.send_session(&laptops.token).await;
    assert!(all(&replies, StatusCode::UNAUTHORIZED), "{replies:?}");
    assert!(replies[0].1.contains("revoked"), "{}", replies[0].1);

    // Rotation: the old token is refused, the new one taken, at once.
    let desks = tokens::create(&cli, TokenKind::Ingest, "desks", now).unwrap();
    assert!(all(&h.send_session(&desks.token).await, StatusCode::OK));
    let rotated = tokens::rotate(&cli, desks.record.id, now).unwrap();
    assert!(all(
        &h.send_session(&desks.token).await,
        StatusCode::UNAUTHORIZED
    ));
    assert!(all(&h.send_session(&rotated.token).await, StatusCode::OK));

    // A viewer token never sends, cached or not.
    let viewer = tokens::create(&cli, TokenKind::Viewer, "lead", now).unwrap();
    for _ in 0..2 {
        let replies = h.send_session(&viewer.token).await;
        assert!(all(&replies, StatusCode::UNAUTHORIZED), "{replies:?}");
    }
}
