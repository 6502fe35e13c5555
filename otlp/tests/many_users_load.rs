//! Hundreds of users and thousands of batches built from the captured
//! shapes (JSON and protobuf, gzip or not, delta and cumulative, both CLI
//! versions), sent concurrently with a share of them re-sent late, like
//! client retries. The stored rows must match the totals exactly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::io::{Read, Write};

use chrono::{NaiveDate, TimeDelta};
use common::*;
use futures_util::StreamExt;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue};
use opentelemetry_proto::tonic::metrics::v1::metric::Data;
use prost::Message;
use scoreboard_core::{DayRow, PersonKey};

const USERS: u64 = 300;
const SESSIONS_PER_USER: u64 = 2;
const NS_PER_DAY: u64 = 86_400 * 1_000_000_000;

/// A captured session used as a shape: (version, scenario, send gzipped).
const TEMPLATES: [(&str, &str, bool); 6] = [
    ("claude-code-2.1.330", "write-json-delta", false),
    ("claude-code-2.1.330", "write-protobuf-cumulative", false),
    ("claude-code-2.1.330", "edit-json-delta", true),
    ("claude-code-2.1.330", "hello-protobuf-delta", true),
    ("claude-code-2.1.330", "write-json-cumulative", false),
    ("claude-code-2.1.197", "edit-json-delta", false),
];

#[derive(Clone)]
enum Decoded {
    Metrics(ExportMetricsServiceRequest),
    Logs(ExportLogsServiceRequest),
}

struct Template {
    version: &'static str,
    scenario: &'static str,
    gzip: bool,
    protobuf: bool,
    requests: Vec<(String, Decoded)>,
}

fn gunzip_if(c: &Captured) -> Vec<u8> {
    if c.headers
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case("content-encoding") && v == "gzip")
    {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&c.body[..])
            .read_to_end(&mut out)
            .unwrap();
        out
    } else {
        c.body.clone()
    }
}

fn load_template(version: &'static str, scenario: &'static str, gzip: bool) -> Template {
    let protobuf = scenario.contains("protobuf");
    let mut requests = Vec::new();
    for c in capture(version, scenario) {
        let body = gunzip_if(&c);
        let decoded = match (c.path.as_str(), protobuf) {
            ("/v1/metrics", false) => Decoded::Metrics(serde_json::from_slice(&body).unwrap()),
            ("/v1/metrics", true) => {
                Decoded::Metrics(ExportMetricsServiceRequest::decode(&body[..]).unwrap())
            }
            ("/v1/logs", false) => Decoded::Logs(serde_json::from_slice(&body).unwrap()),
            ("/v1/logs", true) => {
                Decoded::Logs(ExportLogsServiceRequest::decode(&body[..]).unwrap())
            }
            _ => continue,
        };
        requests.push((c.path.clone(), decoded));
    }
    Template {
        version,
        scenario,
        gzip,
        protobuf,
        requests,
    }
}

fn string(s: &str) -> Option<AnyValue> {
    Some(AnyValue {
        value: Some(Value::StringValue(s.to_string())),
    })
}

/// Gives a point or record its synthetic user and session.
fn restamp(attrs: &mut Vec<KeyValue>, user_id: &str, session: &str, email: Option<&str>) {
    for kv in attrs.iter_mut() {
        match kv.key.as_str() {
            "user.id" => kv.value = string(user_id),
            "session.id" => kv.value = string(session),
            _ => {}
        }
    }
    if let Some(e) = email {
        attrs.push(KeyValue {
            key: "user.email".into(),
            value: string(e),
            ..Default::default()
        });
    }
}

fn shift(t: &mut u64, by: u64) {
    if *t != 0 {
        *t += by;
    }
}

fn personalise(
    d: &Decoded,
    user_id: &str,
    session: &str,
    email: Option<&str>,
    days: u64,
) -> Decoded {
    let by = days * NS_PER_DAY;
    match d.clone() {
        Decoded::Metrics(mut m) => {
            for rm in &mut m.resource_metrics {
                for sm in &mut rm.scope_metrics {
                    for metric in &mut sm.metrics {
                        if let Some(Data::Sum(sum)) = &mut metric.data {
                            for p in &mut sum.data_points {
                                restamp(&mut p.attributes, user_id, session, email);
                                shift(&mut p.start_time_unix_nano, by);
                                shift(&mut p.time_unix_nano, by);
                            }
                        }
                    }
                }
            }
            Decoded::Metrics(m)
        }
        Decoded::Logs(mut l) => {
            for rl in &mut l.resource_logs {
                for sl in &mut rl.scope_logs {
                    for r in &mut sl.log_records {
                        restamp(&mut r.attributes, user_id, session, email);
                        shift(&mut r.time_unix_nano, by);
                        shift(&mut r.observed_time_unix_nano, by);
                    }
                }
            }
            Decoded::Logs(l)
        }
    }
}

struct Batch {
    path: String,
    content_type: &'static str,
    gzip: bool,
    body: Vec<u8>,
}

fn encode(t: &Template, d: &Decoded) -> Batch {
    let (path, raw) = match (d, t.protobuf) {
        (Decoded::Metrics(m), true) => ("/v1/metrics", m.encode_to_vec()),
        (Decoded::Metrics(m), false) => ("/v1/metrics", serde_json::to_vec(m).unwrap()),
        (Decoded::Logs(l), true) => ("/v1/logs", l.encode_to_vec()),
        (Decoded::Logs(l), false) => ("/v1/logs", serde_json::to_vec(l).unwrap()),
    };
    let body = if t.gzip {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(&raw).unwrap();
        e.finish().unwrap()
    } else {
        raw
    };
    Batch {
        path: path.to_string(),
        content_type: if t.protobuf {
            "application/x-protobuf"
        } else {
            "application/json"
        },
        gzip: t.gzip,
        body,
    }
}

/// A small deterministic generator, so a failure can be replayed.
struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hundreds_of_users_and_thousands_of_batches_add_up_exactly() {
    let templates: Vec<Template> = TEMPLATES
        .iter()
        .map(|(v, s, g)| load_template(v, s, *g))
        .collect();
    let mut rng = Lcg(0x5eed);
    let mut batches: Vec<Batch> = Vec::new();
    let mut want: BTreeMap<(NaiveDate, PersonKey), DayRow> = BTreeMap::new();

    for u in 0..USERS {
        let user_id = format!("{:064x}", 0xa11ce_u64 * 1_000 + u);
        // A third of the users are signed in (user.email); the rest are devices only.
        let email = (u % 3 == 0).then(|| format!("User{u}@Example.com"));
        let person = match &email {
            Some(e) => PersonKey::email(e),
            None => PersonKey::device(&user_id),
        };
        for k in 0..SESSIONS_PER_USER {
            let t = &templates[((u + k) % templates.len() as u64) as usize];
            let session = format!("00000000-0000-4000-8000-{:012x}", u * 100 + k);
            let days = (u * 7 + k * 3) % 10;
            for (_, d) in &t.requests {
                batches.push(encode(
                    t,
                    &personalise(d, &user_id, &session, email.as_deref(), days),
                ));
            }
            let day = capture_day() + TimeDelta::days(days as i64);
            let row = expected(t.version, t.scenario).row(day, person.clone());
            match want.get_mut(&(day, person.clone())) {
                Some(r) => r.absorb(&row),
                None => {
                    want.insert((day, person.clone()), row);
                }
            }
        }
    }
    let unique = batches.len();
    assert!(unique >= 3000, "thousands of batches: {unique}");

    // Shuffle, then re-send a tenth of the batches somewhere later, as retries do.
    for i in (1..batches.len()).rev() {
        let j = (rng.next() as usize) % (i + 1);
        batches.swap(i, j);
    }
    let mut order: Vec<usize> = (0..unique).collect();
    let mut retries = 0;
    for i in 0..unique {
        if rng.next().is_multiple_of(10) {
            let at = i + 1 + (rng.next() as usize) % (order.len() - i).max(1);
            order.insert(at.min(order.len()), i);
            retries += 1;
        }
    }

    let s = Server::start().await;
    let c = client();
    let statuses: Vec<u16> = futures_util::stream::iter(order.iter().map(|&i| {
        let c = c.clone();
        let b = &batches[i];
        let url = s.url(&b.path);
        async move {
            // Behave like an OTLP client: honour 503 + Retry-After (none is expected here).
            loop {
                let mut req = c
                    .post(&url)
                    .header("Content-Type", b.content_type)
                    .header("Authorization", format!("Bearer {TOKEN}"));
                if b.gzip {
                    req = req.header("Content-Encoding", "gzip");
                }
                let resp = req.body(b.body.clone()).send().await.unwrap();
                let status = resp.status().as_u16();
                if status != 503 {
                    let body = resp.bytes().await.unwrap();
                    assert!(
                        body.is_empty() || &body[..] == b"{}",
                        "no partial success expected"
                    );
                    return status;
                }
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            }
        }
    }))
    .buffer_unordered(16)
    .collect()
    .await;
    assert!(
        statuses.iter().all(|&st| st == 200),
        "every batch acknowledged"
    );

    let got = s.rows();
    let want: Vec<DayRow> = want.into_values().collect();
    assert_eq!(got.len(), want.len());
    for (g, w) in got.iter().zip(&want) {
        assert_eq!(g, w);
    }
    let total = |rows: &[DayRow]| {
        rows.iter().fold((0u64, 0u64, 0u64, 0i64), |a, r| {
            (
                a.0 + r.measures.sessions,
                a.1 + r.measures.lines_added,
                a.2 + r.measures.input_tokens,
                a.3 + r.measures.cost_micros,
            )
        })
    };
    assert_eq!(total(&got), total(&want));
    assert_eq!(total(&got).0, USERS * SESSIONS_PER_USER);

    let status = s.rx.status(chrono::Utc::now());
    assert_eq!(status.batches_received, unique as u64);
    assert_eq!(status.duplicate_batches, retries);
    assert_eq!(status.persons_seen.len() as u64, USERS);
    assert_eq!(status.unattributed_devices, USERS - USERS.div_ceil(3));
    assert_eq!(status.rejected_points, 0);
    s.stop().await;
}
