//! Bad input gets the status a client will not retry (400, 401, 413, 415, or
//! 200 with partialSuccess), a google.rpc.Status body in the request's
//! encoding, and leaves the stored rows as they were.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::Write as _;

use common::*;
use scoreboard_core::DayRow;
use scoreboard_test_support::otlp::gzip;
use serde_json::Value;

/// A server holding one real session, so "unchanged" is not trivially empty.
async fn seeded() -> (Server, Vec<DayRow>) {
    let s = Server::start().await;
    replay(&s, "claude-code-2.1.330", "write-json-delta").await;
    let rows = s.rows();
    assert_eq!(rows.len(), 1);
    (s, rows)
}

fn json_status(r: &Reply) -> (i64, String) {
    assert_eq!(r.headers.get("content-type").unwrap(), "application/json");
    let v: Value = serde_json::from_slice(&r.body).unwrap();
    (
        v["code"].as_i64().unwrap(),
        v["message"].as_str().unwrap().to_string(),
    )
}

fn proto_status(r: &Reply) -> RpcStatus {
    use prost::Message;
    assert_eq!(
        r.headers.get("content-type").unwrap(),
        "application/x-protobuf"
    );
    RpcStatus::decode(&r.body[..]).unwrap()
}

/// The seeded session's first metrics batch: its session.count point.
fn first_metrics_json() -> Value {
    let c = capture("claude-code-2.1.330", "write-json-delta");
    let m = c.iter().find(|c| c.path == "/v1/metrics").unwrap();
    serde_json::from_slice(&m.body).unwrap()
}

/// The seeded person's session.count point, edited.
fn one_metric(edit: impl Fn(&mut Value)) -> Vec<u8> {
    let mut v = first_metrics_json();
    let metrics = v["resourceMetrics"][0]["scopeMetrics"][0]["metrics"]
        .as_array_mut()
        .unwrap();
    metrics.truncate(1);
    assert_eq!(metrics[0]["name"], "claude_code.session.count");
    edit(&mut metrics[0]["sum"]["dataPoints"][0]);
    serde_json::to_vec(&v).unwrap()
}

fn set_attr(point: &mut Value, key: &str, value: Value) {
    let attrs = point["attributes"].as_array_mut().unwrap();
    attrs.retain(|kv| kv["key"] != key);
    attrs.push(serde_json::json!({ "key": key, "value": value }));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_json_gets_400_with_a_json_status_and_stores_nothing() {
    let (s, before) = seeded().await;
    for body in [
        &b"{\"resourceMetrics\": ["[..],
        b"not json at all",
        b"",
        b"{\"resourceMetrics\": {}}",
    ] {
        let r = post_json(&s, "/v1/metrics", body.to_vec()).await;
        assert_eq!(r.status, 400, "{:?}", String::from_utf8_lossy(body));
        let (code, message) = json_status(&r);
        assert_eq!(code, 3);
        assert!(message.contains("OTLP/JSON"), "{message}");
    }
    let r = post_json(&s, "/v1/logs", b"{\"resourceLogs\":[{".to_vec()).await;
    assert_eq!(r.status, 400);
    assert_eq!(s.rows(), before);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn truncated_protobuf_gets_400_with_a_protobuf_status_and_stores_nothing() {
    let (s, before) = seeded().await;
    let capture = capture("claude-code-2.1.330", "write-protobuf-delta");
    for c in &capture {
        let cut = c.body[..c.body.len() / 2].to_vec();
        let r = post(
            &s,
            &c.path,
            "application/x-protobuf",
            None,
            Some(TOKEN),
            cut,
        )
        .await;
        assert_eq!(r.status, 400, "{}", c.path);
        let st = proto_status(&r);
        assert_eq!(st.code, 3);
        assert!(st.message.contains("protobuf"), "{}", st.message);
    }
    assert_eq!(s.rows(), before);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_in_the_other_encoding_gets_400() {
    let (s, before) = seeded().await;
    let json = capture("claude-code-2.1.330", "hello-json-delta");
    let proto = capture("claude-code-2.1.330", "hello-protobuf-delta");
    for (c, claimed) in [
        (&json[1], "application/x-protobuf"),
        (&proto[1], "application/json"),
    ] {
        let r = post(&s, &c.path, claimed, None, Some(TOKEN), c.body.clone()).await;
        assert_eq!(r.status, 400, "{} sent as {claimed}", c.path);
    }
    assert_eq!(s.rows(), before);
    s.stop().await;
}

/// Guards the one-pass decoder (small inline JSON bodies), which has no
/// depth cap of its own: a value nested past the receiver's limit is
/// refused alike whether it comes inline, gzipped or padded past the size
/// the one-pass path takes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deeply_nested_value_gets_the_same_400_inline_gzipped_or_large() {
    let (s, before) = seeded().await;
    let mut value = serde_json::json!({ "stringValue": "x" });
    for _ in 0..25 {
        value = serde_json::json!({ "arrayValue": { "values": [value] } });
    }
    let deep = one_metric(|p| set_attr(p, "deep", value.clone()));
    assert!(deep.len() < 8 * 1024, "small enough for the one-pass path");
    let mut padded: Value = serde_json::from_slice(&deep).unwrap();
    padded["resourceMetrics"][0]["resource"]["attributes"]
        .as_array_mut()
        .unwrap()
        .push(serde_json::json!({
            "key": "padding",
            "value": { "stringValue": "p".repeat(40 * 1024) }
        }));
    let padded = serde_json::to_vec(&padded).unwrap();
    for (how, encoding, body) in [
        ("inline", None, deep.clone()),
        ("gzipped", Some("gzip"), gzip(&deep)),
        ("large", None, padded),
    ] {
        let r = post(
            &s,
            "/v1/metrics",
            "application/json",
            encoding,
            Some(TOKEN),
            body,
        )
        .await;
        assert_eq!(r.status, 400, "{how}");
        let (code, message) = json_status(&r);
        assert_eq!(code, 3, "{how}");
        assert!(message.contains("deep"), "{how}: {message}");
    }
    assert_eq!(s.rows(), before);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_value_types_are_rejected_points_not_stored() {
    let (s, before) = seeded().await;
    let cases: Vec<(&str, Vec<u8>)> = vec![
        (
            "time is an object",
            one_metric(|p| p["timeUnixNano"] = serde_json::json!({ "x": 1 })),
        ),
        (
            "value is a string",
            one_metric(|p| p["asDouble"] = Value::from("one")),
        ),
        (
            "value is negative",
            one_metric(|p| p["asDouble"] = Value::from(-1.0)),
        ),
        (
            "no time",
            one_metric(|p| {
                p.as_object_mut()
                    .unwrap()
                    .retain(|k, _| k != "timeUnixNano")
            }),
        ),
        (
            "no identity",
            one_metric(|p| {
                p["attributes"]
                    .as_array_mut()
                    .unwrap()
                    .retain(|kv| kv["key"] != "user.id")
            }),
        ),
        (
            "intValue that is not an integer",
            one_metric(|p| set_attr(p, "start_type", serde_json::json!({ "intValue": 1.5 }))),
        ),
    ];
    for (what, body) in cases {
        let r = post_json(&s, "/v1/metrics", body).await;
        assert_eq!(r.status, 200, "{what}");
        let v: Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(
            v["partialSuccess"]["rejectedDataPoints"], "1",
            "{what}: {v}"
        );
        assert!(!v["partialSuccess"]["errorMessage"]
            .as_str()
            .unwrap()
            .is_empty());
        assert_eq!(s.rows(), before, "{what}");
    }
    // Protobuf clients get the partial success in protobuf.
    {
        use opentelemetry_proto::tonic::collector::metrics::v1::{
            ExportMetricsServiceRequest, ExportMetricsServiceResponse,
        };
        use prost::Message;
        let body = one_metric(|p| p["asDouble"] = Value::from(-3.0));
        let req: ExportMetricsServiceRequest = serde_json::from_slice(&body).unwrap();
        let r = post(
            &s,
            "/v1/metrics",
            "application/x-protobuf",
            None,
            Some(TOKEN),
            req.encode_to_vec(),
        )
        .await;
        assert_eq!(r.status, 200);
        let resp = ExportMetricsServiceResponse::decode(&r.body[..]).unwrap();
        assert_eq!(resp.partial_success.unwrap().rejected_data_points, 1);
    }
    // A log record whose attribute cannot be decoded at all makes the batch undecodable.
    let bad_logs = br#"{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"timeUnixNano":"1795318937714000000","attributes":[{"key":"event.sequence","value":{"intValue":"seven"}}]}]}]}]}"#;
    let r = post_json(&s, "/v1/logs", bad_logs.to_vec()).await;
    assert_eq!(r.status, 400);
    assert_eq!(s.rows(), before);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn huge_attribute_values_are_refused_or_dropped_never_stored() {
    let (s, before) = seeded().await;
    let big = "x".repeat(1024 * 1024);
    for key in ["user.email", "session.id", "user.id"] {
        let body = one_metric(|p| set_attr(p, key, serde_json::json!({ "stringValue": big })));
        let r = post_json(&s, "/v1/metrics", body).await;
        assert_eq!(r.status, 200, "{key}");
        let v: Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(v["partialSuccess"]["rejectedDataPoints"], "1", "{key}");
    }
    // A huge content attribute on a point is simply not kept: the point counts.
    // (Kept apart from the seeded session: a new session id.)
    let body = one_metric(|p| {
        set_attr(p, "prompt", serde_json::json!({ "stringValue": big }));
        set_attr(
            p,
            "session.id",
            serde_json::json!({ "stringValue": "00000000-0000-4000-8000-000000000001" }),
        );
    });
    let r = post_json(&s, "/v1/metrics", body).await;
    assert_eq!((r.status, r.body.as_slice()), (200, &b"{}"[..]));
    let mut after_one_more_session = before.clone();
    after_one_more_session[0].measures.sessions += 1;
    assert_eq!(s.rows(), after_one_more_session);
    // Past the decompressed limit: 413, nothing stored.
    let huge = "y".repeat(17 * 1024 * 1024);
    let body = one_metric(|p| set_attr(p, "prompt", serde_json::json!({ "stringValue": huge })));
    let r = post_json(&s, "/v1/metrics", body.clone()).await;
    assert_eq!(r.status, 413);
    assert_eq!(json_status(&r).0, 8);
    assert_eq!(s.rows(), after_one_more_session);
    // Nearly twice the limit, declared: the client still reads the 413, not
    // a connection closed under its upload (more than the socket's buffers
    // can hold is left to send once the limit is passed).
    let nearly_twice = "z".repeat(30 * 1024 * 1024);
    let big_body = one_metric(|p| {
        set_attr(
            p,
            "prompt",
            serde_json::json!({ "stringValue": nearly_twice }),
        )
    });
    let r = post_json(&s, "/v1/metrics", big_body).await;
    assert_eq!(r.status, 413);
    assert_eq!(s.rows(), after_one_more_session);
    // The same, chunked (no Content-Length): found while reading, still a clean 413.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        body.chunks(64 * 1024).map(|c| Ok(c.to_vec())).collect();
    let r = client()
        .post(s.url("/v1/metrics"))
        .header("Content-Type", "application/json")
        .header("Authorization", format!("Bearer {TOKEN}"))
        .body(reqwest::Body::wrap_stream(futures_util::stream::iter(
            chunks,
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 413);
    assert_eq!(s.rows(), after_one_more_session);
    s.stop().await;
}

/// Peak resident memory of this process (Linux), in bytes.
fn peak_rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    line.split_whitespace()
        .nth(1)
        .unwrap()
        .parse::<u64>()
        .unwrap()
        * 1024
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gzip_bomb_gets_413_without_being_inflated() {
    let (s, before) = seeded().await;
    // 1 GiB of zeros, gzipped to about a megabyte, built without holding the GiB.
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let zeros = vec![0u8; 1024 * 1024];
    for _ in 0..1024 {
        e.write_all(&zeros).unwrap();
    }
    let bomb = e.finish().unwrap();
    assert!(
        bomb.len() < 16 * 1024 * 1024,
        "the bomb itself is under the limit: {}",
        bomb.len()
    );
    let baseline = peak_rss();
    for (ct, path) in [
        ("application/json", "/v1/metrics"),
        ("application/x-protobuf", "/v1/logs"),
    ] {
        let r = post(&s, path, ct, Some("gzip"), Some(TOKEN), bomb.clone()).await;
        assert_eq!(r.status, 413, "{ct}");
    }
    let grown = peak_rss().saturating_sub(baseline);
    assert!(
        grown < 256 * 1024 * 1024,
        "peak memory grew by {grown} bytes while refusing a 1 GiB bomb"
    );
    assert_eq!(s.rows(), before);

    // A body that says gzip but is not: 400.
    let r = post(
        &s,
        "/v1/metrics",
        "application/json",
        Some("gzip"),
        Some(TOKEN),
        b"{}".to_vec(),
    )
    .await;
    assert_eq!(r.status, 400);
    // A real gzip body still works.
    let r = post(
        &s,
        "/v1/metrics",
        "application/json",
        Some("gzip"),
        Some(TOKEN),
        gzip(b"{}"),
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(s.rows(), before);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_content_type_or_encoding_gets_415() {
    let (s, before) = seeded().await;
    let body = capture("claude-code-2.1.330", "hello-json-delta")[1]
        .body
        .clone();
    for ct in ["text/plain", "application/grpc", "application/xml", ""] {
        let r = post(&s, "/v1/metrics", ct, None, Some(TOKEN), body.clone()).await;
        assert_eq!(r.status, 415, "{ct:?}");
        assert_eq!(json_status(&r).0, 3);
    }
    // Parameters are fine.
    let r = post(
        &s,
        "/v1/metrics",
        "application/json; charset=utf-8",
        None,
        Some(TOKEN),
        b"{}".to_vec(),
    )
    .await;
    assert_eq!(r.status, 200);
    let r = post(
        &s,
        "/v1/metrics",
        "application/json",
        Some("br"),
        Some(TOKEN),
        body.clone(),
    )
    .await;
    assert_eq!(r.status, 415);
    assert_eq!(s.rows(), before);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_bad_or_revoked_token_gets_401() {
    let (s, before) = seeded().await;
    let hello = capture("claude-code-2.1.330", "hello-protobuf-delta");
    let body = hello
        .iter()
        .find(|c| c.path == "/v1/metrics")
        .unwrap()
        .body
        .clone();
    for token in [None, Some("wrong-token"), Some("")] {
        let r = post(
            &s,
            "/v1/metrics",
            "application/x-protobuf",
            None,
            token,
            body.clone(),
        )
        .await;
        assert_eq!(r.status, 401, "{token:?}");
        assert_eq!(proto_status(&r).code, 16);
        assert_eq!(r.headers.get("www-authenticate").unwrap(), "Bearer");
    }
    let r = client()
        .post(s.url("/v1/metrics"))
        .header("Content-Type", "application/json")
        .header("Authorization", format!("Basic {TOKEN}"))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
    assert_eq!(s.rows(), before);

    // Revocation takes effect on the very next request.
    s.tokens.revoke(TOKEN);
    let r = post(
        &s,
        "/v1/metrics",
        "application/x-protobuf",
        None,
        Some(TOKEN),
        body.clone(),
    )
    .await;
    assert_eq!(r.status, 401);
    assert_eq!(s.rows(), before);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_post_on_the_otlp_paths() {
    let s = Server::start().await;
    let r = client().get(s.url("/v1/metrics")).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 405);
    let r = client()
        .post(s.url("/v1/other"))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 404);
    s.stop().await;
}
