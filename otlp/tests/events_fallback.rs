//! `api_request` events carry tokens and cost too. They count only for a
//! session that sent no token or cost metrics, whichever signal arrives
//! first, and never twice.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use prost::Message;
use scoreboard_core::{DayRow, ModelUsage};
use serde_json::Value;

fn only(version: &str, scenario: &str, path: &str) -> Vec<Captured> {
    capture(version, scenario)
        .into_iter()
        .filter(|c| c.path == path)
        .collect()
}

async fn send_all(s: &Server, reqs: &[Captured]) {
    let c = client();
    for r in reqs {
        assert_eq!(send_captured(&c, s, r).await.status, 200);
    }
}

fn json_body(c: &Captured) -> Value {
    serde_json::from_slice(&c.body).unwrap()
}

fn with_body(c: &Captured, v: &Value) -> Captured {
    Captured {
        body: serde_json::to_vec(v).unwrap(),
        chunked: false,
        ..c.clone()
    }
}

/// Applies `f` to every attribute list of every data point or log record.
fn edit_attrs(v: &mut Value, f: &dyn Fn(&mut Vec<Value>)) {
    match v {
        Value::Object(m) => {
            let is_record = m.contains_key("timeUnixNano");
            for (k, x) in m.iter_mut() {
                if is_record && k == "attributes" {
                    if let Value::Array(a) = x {
                        f(a);
                    }
                } else {
                    edit_attrs(x, f);
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(|x| edit_attrs(x, f)),
        _ => {}
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_request_events_give_tokens_and_cost_when_no_metrics_arrived() {
    for (version, model, micros) in [
        ("claude-code-2.1.330", "claude-opus-5-5", 1376),
        ("claude-code-2.1.197", "claude-opus-4-8", 1728),
    ] {
        let s = Server::start().await;
        send_all(&s, &only(version, "hello-json-delta", "/v1/logs")).await;
        let rows = s.rows();
        assert_eq!(rows.len(), 1, "{version}");
        let r = &rows[0];
        assert_eq!(r.person, device_of(version, "hello-json-delta"));
        // The event's own cost_usd_micros, and the model name events use (no [1m] suffix).
        assert_eq!(
            r.models,
            vec![ModelUsage {
                model: model.to_string(),
                input_tokens: 120,
                output_tokens: 42,
                cache_read_tokens: 30,
                cache_creation_tokens: 10,
                cost_micros: micros,
                cost_is_estimated: false,
            }]
        );
        assert_eq!(r.measures.cost_micros, micros);
        assert_eq!(
            r.measures.sessions, 0,
            "sessions only come from session.count"
        );
        s.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_and_events_never_double_count_whichever_arrives_first() {
    for version in VERSIONS {
        for scenario in ["hello-json-delta", "write-json-delta", "edit-json-delta"] {
            let want =
                vec![expected(version, scenario).row(capture_day(), person_of(version, scenario))];
            let logs = only(version, scenario, "/v1/logs");
            let metrics = only(version, scenario, "/v1/metrics");

            let s = Server::start().await;
            send_all(&s, &logs).await;
            send_all(&s, &metrics).await;
            assert_eq!(s.rows(), want, "{version}/{scenario}: events first");
            s.stop().await;

            let s = Server::start().await;
            send_all(&s, &metrics).await;
            send_all(&s, &logs).await;
            assert_eq!(s.rows(), want, "{version}/{scenario}: metrics first");
            s.stop().await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_are_not_used_beside_metrics_sent_without_session_id() {
    // OTEL_METRICS_INCLUDE_SESSION_ID=false: the metrics cannot be matched to
    // the events' session, so the person-day's events are left out.
    let (version, scenario) = ("claude-code-2.1.330", "write-json-delta");
    let strip = |a: &mut Vec<Value>| a.retain(|kv| kv["key"] != "session.id");
    let metrics: Vec<Captured> = only(version, scenario, "/v1/metrics")
        .iter()
        .map(|c| {
            let mut v = json_body(c);
            edit_attrs(&mut v, &strip);
            with_body(c, &v)
        })
        .collect();
    let s = Server::start().await;
    send_all(&s, &only(version, scenario, "/v1/logs")).await;
    send_all(&s, &metrics).await;
    assert_eq!(
        s.rows(),
        vec![expected(version, scenario).row(capture_day(), person_of(version, scenario))]
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn event_numbers_are_coerced_and_cost_usd_is_the_fallback() {
    // Numbers as strings (seen in third-party captures) and no cost_usd_micros.
    let (version, scenario) = ("claude-code-2.1.330", "hello-json-delta");
    let reshape = |a: &mut Vec<Value>| {
        a.retain(|kv| kv["key"] != "cost_usd_micros");
        for kv in a.iter_mut() {
            if kv["key"] == "input_tokens" {
                kv["value"] = serde_json::json!({ "stringValue": "120" });
            }
            if kv["key"] == "output_tokens" {
                kv["value"] = serde_json::json!({ "doubleValue": 42.0 });
            }
            if kv["key"] == "cache_read_tokens" {
                kv["value"] = serde_json::json!({ "intValue": "30" });
            }
        }
    };
    let logs: Vec<Captured> = only(version, scenario, "/v1/logs")
        .iter()
        .map(|c| {
            let mut v = json_body(c);
            edit_attrs(&mut v, &reshape);
            with_body(c, &v)
        })
        .collect();
    let s = Server::start().await;
    send_all(&s, &logs).await;
    let rows = s.rows();
    let m = rows[0].measures;
    assert_eq!(
        (
            m.input_tokens,
            m.output_tokens,
            m.cache_read_tokens,
            m.cache_creation_tokens
        ),
        (120, 42, 30, 10)
    );
    // cost_usd = 0.0013759999999999998 → 1376 micro-dollars.
    assert_eq!(m.cost_micros, 1376);
    s.stop().await;
}

fn to_protobuf(c: &Captured) -> Captured {
    let body = if c.path == "/v1/logs" {
        serde_json::from_slice::<ExportLogsServiceRequest>(&c.body)
            .unwrap()
            .encode_to_vec()
    } else {
        serde_json::from_slice::<ExportMetricsServiceRequest>(&c.body)
            .unwrap()
            .encode_to_vec()
    };
    let headers = c
        .headers
        .iter()
        .map(|(k, v)| {
            if k.eq_ignore_ascii_case("content-type") {
                (k.clone(), "application/x-protobuf".to_string())
            } else {
                (k.clone(), v.clone())
            }
        })
        .collect();
    Captured {
        body,
        headers,
        chunked: false,
        ..c.clone()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_points_and_events_re_encoded_count_once() {
    // A proxy or a client re-encoding a retried batch gives different bytes
    // for the same points: the body digest misses it, the per-point keys
    // (series, start, end) and per-record keys do not.
    for (version, scenario) in [
        ("claude-code-2.1.330", "write-json-delta"),
        ("claude-code-2.1.330", "write-json-cumulative"),
    ] {
        let capture = capture(version, scenario);
        let s = Server::start().await;
        send_all(&s, &capture).await;
        let first: Vec<DayRow> = s.rows();
        let again: Vec<Captured> = capture.iter().map(to_protobuf).collect();
        send_all(&s, &again).await;
        assert_eq!(s.rows(), first, "{scenario}");
        // Events only (no metrics for the session) re-encoded, too.
        s.stop().await;
    }
    let (version, scenario) = ("claude-code-2.1.330", "hello-json-delta");
    let logs = only(version, scenario, "/v1/logs");
    let s = Server::start().await;
    send_all(&s, &logs).await;
    let first = s.rows();
    send_all(&s, &logs.iter().map(to_protobuf).collect::<Vec<_>>()).await;
    assert_eq!(s.rows(), first);
    assert_eq!(first[0].measures.input_tokens, 120);
    s.stop().await;
}
