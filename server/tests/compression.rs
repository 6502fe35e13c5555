//! The page and the read API are compressed for browsers that ask (the wasm is
//! ~1 MB raw, BENCHMARKS.md §1); a client that does not ask gets plain bytes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use axum::http::{header, Request};
use common::*;
use http_body_util::BodyExt;
use scoreboard_server::api::app;
use tower::ServiceExt;

async fn get(h: &Harness, uri: &str, accept: Option<&str>) -> (Option<String>, Vec<u8>) {
    let mut req = Request::builder().uri(uri);
    if let Some(a) = accept {
        req = req.header(header::ACCEPT_ENCODING, a);
    }
    let resp = app(h.state.clone())
        .oneshot(req.body(axum::body::Body::empty()).unwrap())
        .await
        .unwrap();
    assert!(resp.status().is_success(), "{uri}: {}", resp.status());
    let encoding = resp
        .headers()
        .get(header::CONTENT_ENCODING)
        .map(|v| v.to_str().unwrap().to_string());
    let body = resp
        .into_body()
        .collect()
        .await
        .unwrap()
        .to_bytes()
        .to_vec();
    (encoding, body)
}

#[tokio::test]
async fn the_page_and_the_api_are_compressed_when_the_browser_asks() {
    let fake = Fake::start(FakeData::default(), 1000).await;
    let dir = tempfile::tempdir().unwrap();
    let dist = dir.path().join("dist");
    std::fs::create_dir(&dist).unwrap();
    let wasm: Vec<u8> = (0..200_000u32)
        .flat_map(|i| (i % 251).to_le_bytes())
        .collect();
    std::fs::write(
        dist.join("index.html"),
        "<!doctype html><title>Scoreboard</title>".repeat(10),
    )
    .unwrap();
    std::fs::write(dist.join("app_bg.wasm"), &wasm).unwrap();
    let mut config = test_config(&fake, dir.path());
    config.dist = Some(dist);
    let h = Harness::new(config);

    let (encoding, body) = get(&h, "/app_bg.wasm", Some("gzip, deflate, br")).await;
    assert_eq!(encoding.as_deref(), Some("br"));
    assert!(
        body.len() < wasm.len() / 4,
        "{} bytes for {}",
        body.len(),
        wasm.len()
    );

    let (encoding, body) = get(&h, "/app_bg.wasm", Some("gzip")).await;
    assert_eq!(encoding.as_deref(), Some("gzip"));
    let mut plain = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&body[..]), &mut plain).unwrap();
    assert_eq!(plain, wasm, "the compressed file decodes to the file");
    let (encoding, body) = get(&h, "/app_bg.wasm", None).await;
    assert_eq!((encoding, body.len()), (None, wasm.len()));

    let (encoding, _) = get(&h, "/api/roster", Some("gzip")).await;
    assert_eq!(
        encoding.as_deref(),
        Some("gzip"),
        "the read API is compressed too"
    );
}
