//! `scoreboard serve` makes the page's `/api/rows` answer before the page
//! asks (issue 13: a 1 M-row store opens in ≤ 2 s): at start-up, and again
//! once writes have settled, so a first open finds it made. Never stale: a
//! page asking right after a write gets the new rows. The real
//! `serve::start` (its background tasks), the real router over its state,
//! a real SQLite store.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use common::*;
use scoreboard_core::api::{live_range, rows_wire, RowsAnswer};
use scoreboard_server::config::{Config, Secrets};
use scoreboard_server::serve;

/// The page's ask: its range, compact, as a browser accepts codings.
async fn page_ask(h: &Harness, today: &str) -> RowsAnswer {
    let (from, to) = live_range(day(today));
    let (status, head, body) = h
        .exchange(
            "GET",
            &format!("/api/rows?from={from}&to={to}"),
            &[
                ("accept", rows_wire::CONTENT_TYPE),
                ("accept-encoding", "gzip, deflate, br, zstd"),
            ],
            Vec::new(),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        head.get("content-encoding").map(|v| v.to_str().unwrap()),
        Some("br")
    );
    let mut plain = Vec::new();
    std::io::Read::read_to_end(
        &mut brotli_decompressor::Decompressor::new(&body[..], 4096),
        &mut plain,
    )
    .unwrap();
    rows_wire::decode(&plain).unwrap()
}

/// Waits (real time) until `cond` holds, at most 60 s.
async fn eventually(what: &str, cond: impl Fn() -> bool) {
    for _ in 0..600 {
        if cond() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("never happened: {what}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_pages_answer_is_made_at_start_up_and_again_once_writes_settle() {
    let dir = tempfile::tempdir().unwrap();
    let config = Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: dir.path().to_path_buf(),
        secrets: Secrets::default(),
        ..Config::default()
    };
    // A store with a synced day, as a restarted server finds it.
    admin_day(
        &Harness::new(config.clone()),
        "2026-11-02",
        &[("a@x.io", 3), ("b@x.io", 1)],
    );
    let today = "2026-12-01";
    let now = noon(today);
    let running = serve::start_with_clock(config.clone(), Arc::new(move || now))
        .await
        .unwrap();
    let h = Harness::with_state(running.state.clone(), config);
    let made = || h.state.rows_cache().made();

    // Made at start-up: the page's first ask makes nothing.
    eventually("the answer made at start-up", || made() == 1).await;
    let first = page_ask(&h, today).await;
    assert_eq!(sessions(&first, "a@x.io"), vec![3]);
    assert_eq!(made(), 1);

    // A page asking right after a write gets the new rows: what was made
    // ahead is of the version before.
    admin_day(&h, "2026-11-02", &[("a@x.io", 5)]);
    let after = page_ask(&h, today).await;
    assert_eq!(sessions(&after, "a@x.io"), vec![5]);
    assert_eq!(sessions(&after, "b@x.io"), Vec::<u64>::new());
    assert_eq!(made(), 2);

    // A write nobody asks after: its answer is made once the writes settle,
    // and the page's next ask is that answer.
    admin_day(&h, "2026-11-03", &[("c@x.io", 2)]);
    eventually("the answer after the write made ahead", || made() == 3).await;
    let later = page_ask(&h, today).await;
    assert_eq!(sessions(&later, "c@x.io"), vec![2]);
    assert_eq!(sessions(&later, "a@x.io"), vec![5]);
    assert_eq!(made(), 3);
    // Held: the newest version's answer only.
    assert_eq!(h.state.rows_cache().held().0, 1);
    running.stop().await.unwrap();
}
