//! The router is a plain tower service: the server merges it into its app,
//! and it can be driven without a socket.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::*;
use http_body_util::BodyExt;
use scoreboard_otlp::{OtlpConfig, Receiver};
use tower::ServiceExt;

fn receiver(dir: &tempfile::TempDir, cfg: OtlpConfig) -> Arc<Receiver> {
    Arc::new(Receiver::open(&dir.path().join("scoreboard.db"), cfg, Tokens::with(TOKEN)).unwrap())
}

#[tokio::test]
async fn traces_are_accepted_and_discarded() {
    let dir = tempfile::tempdir().unwrap();
    let rx = receiver(&dir, OtlpConfig::default());
    for c in capture("claude-code-2.1.330", "write-protobuf-delta-traces")
        .iter()
        .filter(|c| c.path == "/v1/traces")
    {
        let req = Request::post("/v1/traces")
            .header("Content-Type", "application/x-protobuf")
            .header("Authorization", format!("Bearer {TOKEN}"))
            .body(Body::from(c.body.clone()))
            .unwrap();
        let resp = scoreboard_otlp::router(rx.clone())
            .oneshot(req)
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        assert!(resp
            .into_body()
            .collect()
            .await
            .unwrap()
            .to_bytes()
            .is_empty());
    }
    let st = rx.status(chrono::Utc::now());
    assert_eq!(
        (st.batches_received, st.persons_seen.len()),
        (0, 0),
        "traces are not stored"
    );
}

#[tokio::test]
async fn a_declared_length_past_the_limit_gets_413_before_the_body_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let rx = receiver(
        &dir,
        OtlpConfig {
            max_decompressed_bytes: 1024,
            ..OtlpConfig::default()
        },
    );
    let req = Request::post("/v1/metrics")
        .header("Content-Type", "application/json")
        .header("Content-Length", "5000")
        .header("Authorization", format!("Bearer {TOKEN}"))
        .body(Body::from("{}"))
        .unwrap();
    let resp = scoreboard_otlp::router(rx.clone())
        .oneshot(req)
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::PAYLOAD_TOO_LARGE);
    // A body just over a small limit, without a declared length, too.
    let req = Request::post("/v1/logs")
        .header("Content-Type", "application/json")
        .header("Authorization", format!("Bearer {TOKEN}"))
        .body(Body::from(vec![b' '; 1025]))
        .unwrap();
    let resp = scoreboard_otlp::router(rx).oneshot(req).await.unwrap();
    assert_eq!(resp.status(), StatusCode::PAYLOAD_TOO_LARGE);
}
