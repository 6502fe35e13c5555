//! The page and the read API are compressed for browsers that ask (the wasm is
//! ~1.5 MB raw, BENCHMARKS.md §1); a client that does not ask gets plain bytes.
//! The build's precompressed files (scripts/precompress.sh) are sent as they are.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;

use axum::http::{header, HeaderMap, Request};
use common::*;
use http_body_util::BodyExt;
use scoreboard_server::api::app;
use tower::ServiceExt;

async fn get_with_headers(
    h: &Harness,
    uri: &str,
    accept: Option<&str>,
) -> (HeaderMap, Option<String>, Vec<u8>) {
    let mut req = Request::builder().uri(uri);
    if let Some(a) = accept {
        req = req.header(header::ACCEPT_ENCODING, a);
    }
    let resp = app(h.state.clone())
        .oneshot(req.body(axum::body::Body::empty()).unwrap())
        .await
        .unwrap();
    assert!(resp.status().is_success(), "{uri}: {}", resp.status());
    let headers = resp.headers().clone();
    let encoding = headers
        .get(header::CONTENT_ENCODING)
        .map(|v| v.to_str().unwrap().to_string());
    let body = resp
        .into_body()
        .collect()
        .await
        .unwrap()
        .to_bytes()
        .to_vec();
    (headers, encoding, body)
}

async fn get(h: &Harness, uri: &str, accept: Option<&str>) -> (Option<String>, Vec<u8>) {
    let (_, encoding, body) = get_with_headers(h, uri, accept).await;
    (encoding, body)
}

/// Bytes that compress the way a wasm module does (repetitive, not trivial).
fn wasm_like() -> Vec<u8> {
    (0..200_000u32)
        .flat_map(|i| (i % 251).to_le_bytes())
        .collect()
}

#[tokio::test]
async fn the_page_and_the_api_are_compressed_when_the_browser_asks() {
    let fake = Fake::start(FakeData::default(), 1000).await;
    let dir = tempfile::tempdir().unwrap();
    let dist = dir.path().join("dist");
    std::fs::create_dir(&dist).unwrap();
    let wasm = wasm_like();
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

fn header(headers: &HeaderMap, name: header::HeaderName) -> &str {
    headers
        .get(&name)
        .map(|v| v.to_str().unwrap())
        .unwrap_or_default()
}

fn brotli_decode(bytes: &[u8]) -> Vec<u8> {
    let mut plain = Vec::new();
    brotli_decompressor::BrotliDecompress(&mut &bytes[..], &mut plain).unwrap();
    plain
}

/// What `make build` ships: the files plus the `.br`/`.gz` the build's own
/// script writes beside them. A browser gets the brotli -q 11 bytes from disk
/// (not recompressed), with the original file's type, and any cache is told
/// that the answer depends on Accept-Encoding.
#[tokio::test]
async fn the_builds_precompressed_files_are_served_as_they_are() {
    let fake = Fake::start(FakeData::default(), 1000).await;
    let dir = tempfile::tempdir().unwrap();
    let dist = dir.path().join("dist");
    std::fs::create_dir(&dist).unwrap();
    let wasm = wasm_like();
    let html = "<!doctype html><title>Scoreboard</title><body></body>".repeat(10);
    std::fs::write(dist.join("index.html"), &html).unwrap();
    std::fs::write(dist.join("app_bg.wasm"), &wasm).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/precompress.sh");
    let out = std::process::Command::new(&script)
        .arg(&dist)
        .env_remove("TRUNK_PROFILE")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}: {}",
        script.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let on_disk_br = std::fs::read(dist.join("app_bg.wasm.br")).unwrap();
    let on_disk_gz = std::fs::read(dist.join("app_bg.wasm.gz")).unwrap();
    assert_eq!(brotli_decode(&on_disk_br), wasm, "the .br is the file");
    let mut config = test_config(&fake, dir.path());
    config.dist = Some(dist);
    let h = Harness::new(config);

    // What Chromium sends.
    let chromium = "gzip, deflate, br, zstd";
    let (headers, encoding, body) = get_with_headers(&h, "/app_bg.wasm", Some(chromium)).await;
    assert_eq!(encoding.as_deref(), Some("br"));
    assert!(
        body == on_disk_br,
        "the .br file's bytes, not compressed again"
    );
    assert_eq!(brotli_decode(&body), wasm);
    assert_eq!(header(&headers, header::CONTENT_TYPE), "application/wasm");
    assert!(
        header(&headers, header::VARY).contains("accept-encoding"),
        "Vary: {:?}",
        headers.get(header::VARY)
    );

    let (headers, encoding, body) = get_with_headers(&h, "/app_bg.wasm", Some("gzip")).await;
    assert_eq!(encoding.as_deref(), Some("gzip"));
    assert!(body == on_disk_gz, "the .gz file's bytes");
    assert_eq!(header(&headers, header::CONTENT_TYPE), "application/wasm");

    let (headers, encoding, body) = get_with_headers(&h, "/app_bg.wasm", None).await;
    assert_eq!(encoding, None);
    assert!(body == wasm, "no Accept-Encoding: the plain file");
    assert!(header(&headers, header::VARY).contains("accept-encoding"));

    // The page itself, at / and at any route the app answers (index.html fallback).
    for uri in ["/", "/some/view"] {
        let (headers, encoding, body) = get_with_headers(&h, uri, Some(chromium)).await;
        assert_eq!(encoding.as_deref(), Some("br"), "{uri}");
        assert_eq!(brotli_decode(&body), html.as_bytes(), "{uri}");
        assert!(
            header(&headers, header::CONTENT_TYPE).starts_with("text/html"),
            "{uri}"
        );
    }
}
