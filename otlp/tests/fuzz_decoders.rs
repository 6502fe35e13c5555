//! Property test over every decoder path of the receiver: captured Claude
//! Code requests (JSON and protobuf) mutated byte by byte, cut short,
//! spliced, gzip-wrapped or not, and plain random bytes, all posted through
//! the router. Whatever arrives, the answer is one a client can act on
//! (200, 400, 413 or 415): never a panic (it would surface as 500), never
//! a retryable status for bad input. Runs a few hundred cases in seconds
//! (`PROPTEST_CASES` raises it); a new parser path that can panic or blow
//! up on input fails here.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;

use axum::body::Body;
use axum::http::Request;
use common::*;
use proptest::prelude::*;
use scoreboard_otlp::{OtlpConfig, Receiver};
use scoreboard_test_support::otlp::gzip;
use tower::ServiceExt;

/// Every captured metrics and logs body, with its encoding.
fn corpus() -> Vec<(bool, String, Vec<u8>)> {
    let mut out = Vec::new();
    for version in VERSIONS {
        for scenario in scenarios(version) {
            for c in capture(version, &scenario) {
                let json = c
                    .headers
                    .iter()
                    .any(|(k, v)| k.eq_ignore_ascii_case("content-type") && v.contains("json"));
                let gz = c
                    .headers
                    .iter()
                    .any(|(k, v)| k.eq_ignore_ascii_case("content-encoding") && v.contains("gzip"));
                let body = if gz {
                    let mut d = flate2::read::GzDecoder::new(&c.body[..]);
                    let mut plain = Vec::new();
                    std::io::Read::read_to_end(&mut d, &mut plain).unwrap();
                    plain
                } else {
                    c.body.clone()
                };
                out.push((json, c.path.clone(), body));
            }
        }
    }
    out
}

#[derive(Debug, Clone)]
enum Edit {
    Flip(usize, u8),
    Cut(usize),
    Insert(usize, Vec<u8>),
    Splice(usize, usize, usize),
}

fn apply(mut b: Vec<u8>, edits: &[Edit]) -> Vec<u8> {
    for e in edits {
        if b.is_empty() {
            break;
        }
        match e {
            Edit::Flip(i, x) => {
                let i = i % b.len();
                b[i] ^= x | 1;
            }
            Edit::Cut(i) => b.truncate(i % b.len()),
            Edit::Insert(i, bytes) => {
                let i = i % (b.len() + 1);
                b.splice(i..i, bytes.iter().copied());
            }
            Edit::Splice(from, len, to) => {
                let from = from % b.len();
                let len = len % (b.len() - from + 1);
                let chunk = b[from..from + len].to_vec();
                let to = to % (b.len() + 1);
                b.splice(to..to, chunk);
            }
        }
    }
    b
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(i, x)| Edit::Flip(i, x)),
        any::<usize>().prop_map(Edit::Cut),
        (
            any::<usize>(),
            proptest::collection::vec(any::<u8>(), 1..16)
        )
            .prop_map(|(i, v)| Edit::Insert(i, v)),
        (any::<usize>(), any::<usize>(), any::<usize>())
            .prop_map(|(a, b, c)| Edit::Splice(a, b, c)),
    ]
}

/// A JSON value to put somewhere in a captured request: other types, huge
/// and negative numbers, long strings, empty containers.
fn odd_value() -> impl Strategy<Value = serde_json::Value> {
    use serde_json::json;
    prop_oneof![
        Just(json!(null)),
        Just(json!(1e300)),
        Just(json!(-1)),
        Just(json!("18446744073709551616")),
        Just(json!("NaN")),
        Just(json!([])),
        Just(json!({})),
        Just(json!({"intValue": "9223372036854775807"})),
        Just(json!({"doubleValue": 1e308})),
        Just(json!({"kvlistValue": {"values": [{"key": "k"}]}})),
        "[a-z.]{0,300}".prop_map(serde_json::Value::String),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>().prop_map(
            |x| serde_json::Number::from_f64(x).map_or(json!(0), serde_json::Value::Number)
        ),
    ]
}

/// Replaces the value at a path chosen by `steps` (an index at each level).
fn replace_somewhere(v: &mut serde_json::Value, steps: &[usize], new: serde_json::Value) {
    let Some((s, rest)) = steps.split_first() else {
        *v = new;
        return;
    };
    match v {
        serde_json::Value::Object(m) if !m.is_empty() => {
            let k = m.keys().nth(s % m.len()).cloned().unwrap_or_default();
            if let Some(child) = m.get_mut(&k) {
                replace_somewhere(child, rest, new);
            }
        }
        serde_json::Value::Array(a) if !a.is_empty() => {
            let n = a.len();
            replace_somewhere(&mut a[s % n], rest, new);
        }
        _ => *v = new,
    }
}

struct Rig {
    rt: tokio::runtime::Runtime,
    rx: Arc<Receiver>,
    corpus: Vec<(bool, String, Vec<u8>)>,
    _dir: tempfile::TempDir,
}

fn rig() -> Rig {
    let dir = tempfile::tempdir().unwrap();
    let rx = Arc::new(
        Receiver::open(
            &dir.path().join("scoreboard.db"),
            OtlpConfig {
                // Small, so that the size and memory refusals are exercised too.
                max_decompressed_bytes: 256 * 1024,
                memory_budget_bytes: 64 * 1024 * 1024,
                ..OtlpConfig::default()
            },
            Tokens::with(TOKEN),
        )
        .unwrap(),
    );
    Rig {
        rt: tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap(),
        rx,
        corpus: corpus(),
        _dir: dir,
    }
}

fn post(rig: &Rig, path: &str, json: bool, gz: bool, body: Vec<u8>) -> u16 {
    let mut req = Request::post(path)
        .header(
            "content-type",
            if json {
                "application/json"
            } else {
                "application/x-protobuf"
            },
        )
        .header("authorization", format!("Bearer {TOKEN}"));
    if gz {
        req = req.header("content-encoding", "gzip");
    }
    let req = req.body(Body::from(body)).unwrap();
    rig.rt
        .block_on(scoreboard_otlp::router(rig.rx.clone()).oneshot(req))
        .unwrap()
        .status()
        .as_u16()
}

fn acceptable(status: u16) -> bool {
    matches!(status, 200 | 400 | 413 | 415)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn mutated_captures_never_panic_or_get_a_retryable_status(
        pick in any::<usize>(),
        edits in proptest::collection::vec(edit(), 1..6),
        gz in any::<bool>(),
        swap_encoding in proptest::bool::weighted(0.1),
    ) {
        let r = rig_once();
        let (json, path, body) = &r.corpus[pick % r.corpus.len()];
        let body = apply(body.clone(), &edits);
        let body = if gz { gzip(&body) } else { body };
        let status = post(r, path, *json != swap_encoding, gz, body);
        prop_assert!(acceptable(status), "{path}: HTTP {status}");
    }

    #[test]
    fn odd_values_anywhere_in_a_json_capture_never_panic(
        pick in any::<usize>(),
        changes in proptest::collection::vec(
            (proptest::collection::vec(any::<usize>(), 1..12), odd_value()),
            1..4,
        ),
    ) {
        let r = rig_once();
        let json: Vec<_> = r.corpus.iter().filter(|c| c.0).collect();
        let (_, path, body) = json[pick % json.len()];
        let mut v: serde_json::Value = serde_json::from_slice(body).unwrap();
        for (steps, new) in changes {
            replace_somewhere(&mut v, &steps, new);
        }
        let status = post(r, path, true, false, serde_json::to_vec(&v).unwrap());
        prop_assert!(acceptable(status), "{path}: HTTP {status}");
    }

    #[test]
    fn random_bytes_and_damaged_gzip_never_panic(
        bytes in proptest::collection::vec(any::<u8>(), 0..4096),
        json in any::<bool>(),
        gz in any::<bool>(),
        signal in 0usize..3,
    ) {
        let r = rig_once();
        let path = ["/v1/metrics", "/v1/logs", "/v1/traces"][signal];
        let status = post(r, path, json, gz, bytes);
        prop_assert!(acceptable(status), "{path}: HTTP {status}");
    }
}

/// One receiver for all cases of this process (opening SQLite per case would
/// spend the time budget on set-up).
fn rig_once() -> &'static Rig {
    static RIG: std::sync::OnceLock<Rig> = std::sync::OnceLock::new();
    RIG.get_or_init(rig)
}
