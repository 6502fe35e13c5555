//! Claude Code's OTLP requests for tests and benchmarks.
//!
//! - The captured sessions of the real CLI (`fixtures/otlp/<version>/<scenario>/`,
//!   reference/otlp-capture.md): [`capture`] reads one as it was sent.
//! - [`Template`]: a capture decoded ([`Export`]), to be sent again as other
//!   people, sessions and days ([`Export::restamped`]) and encoded again as
//!   JSON or protobuf, gzipped or not ([`Export::encode`]): Claude Code's
//!   batch shapes at any scale.
//! - [`sum_request`]: a protobuf metrics export built from scratch, for
//!   values and sizes no real client sends.

use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
use opentelemetry_proto::tonic::metrics::v1::{
    metric, number_data_point, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, Sum,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use prost::Message;

/// The two CLI versions captured.
pub const VERSIONS: [&str; 2] = ["claude-code-2.1.330", "claude-code-2.1.197"];

/// 2026-11-20 12:00 UTC in nanoseconds: when built exports happen.
pub const NOON_2026_11_20_NS: u64 = 1_795_176_000_000_000_000;
const NS_PER_DAY: u64 = 86_400 * 1_000_000_000;

/// `fixtures/otlp/` of `shared/`, which sits beside the repository clone
/// (here, in worktrees and in CI).
pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures/otlp")
}

/// The scenarios captured for `version`, sorted.
pub fn scenarios(version: &str) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(fixtures().join(version))
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.path().join("index.json").exists())
        .map(|e| e.file_name().to_string_lossy().to_string())
        .collect();
    v.sort();
    v
}

/// One captured request, as the CLI sent it.
#[derive(Debug, Clone)]
pub struct Captured {
    pub seq: u64,
    pub path: String,
    pub headers: Vec<(String, String)>,
    /// Exact wire bytes (gzip left compressed).
    pub body: Vec<u8>,
    pub chunked: bool,
    pub captured_status: u16,
}

impl Captured {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn is_protobuf(&self) -> bool {
        self.header("content-type")
            .is_some_and(|t| t.contains("protobuf"))
    }

    /// The body as the receiver decodes it (gunzipped when it was sent gzipped).
    pub fn decoded_body(&self) -> Result<Vec<u8>, String> {
        if self.header("content-encoding") != Some("gzip") {
            return Ok(self.body.clone());
        }
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&self.body[..])
            .read_to_end(&mut out)
            .map_err(|e| format!("{}: gunzip: {e}", self.path))?;
        Ok(out)
    }
}

/// Every request of the capture in `dir` (its `index.json`), in the order sent.
pub fn read_capture(dir: &Path) -> Result<Vec<Captured>, String> {
    let read = |p: PathBuf| std::fs::read(&p).map_err(|e| format!("{}: {e}", p.display()));
    let index: serde_json::Value = serde_json::from_slice(&read(dir.join("index.json"))?)
        .map_err(|e| format!("{}/index.json: {e}", dir.display()))?;
    let mut out = Vec::new();
    for r in index.as_array().into_iter().flatten() {
        let field = |what: &str| format!("{}/index.json: a request without {what}", dir.display());
        let headers: Vec<(String, String)> = r["headers"]
            .as_array()
            .ok_or_else(|| field("headers"))?
            .iter()
            .filter_map(|h| Some((h[0].as_str()?.to_string(), h[1].as_str()?.to_string())))
            .collect();
        let chunked = headers
            .iter()
            .any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"));
        let raw = r["files"]["raw"]
            .as_str()
            .ok_or_else(|| field("files.raw"))?;
        out.push(Captured {
            seq: r["seq"].as_u64().ok_or_else(|| field("seq"))?,
            path: r["path"].as_str().ok_or_else(|| field("path"))?.to_string(),
            headers,
            body: read(dir.join(raw))?,
            chunked,
            captured_status: r["response_status"].as_u64().unwrap_or(0) as u16,
        });
    }
    out.sort_by_key(|c| c.seq);
    Ok(out)
}

/// [`read_capture`] of `fixtures()/version/scenario`; a missing fixture fails the test.
pub fn capture(version: &str, scenario: &str) -> Vec<Captured> {
    read_capture(&fixtures().join(version).join(scenario)).unwrap_or_else(|e| panic!("{e}"))
}

/// The installation id (`user.id`) a captured session was sent under.
pub fn installation_id(version: &str, scenario: &str) -> String {
    capture(version, scenario)
        .iter()
        .filter_map(|c| Export::decode(c).ok().flatten())
        .find_map(|e| e.attribute("user.id"))
        .unwrap_or_else(|| panic!("no user.id in {version}/{scenario}"))
}

/// A metrics or logs export, decoded.
#[derive(Debug, Clone)]
pub enum Export {
    Metrics(ExportMetricsServiceRequest),
    Logs(ExportLogsServiceRequest),
}

/// An export encoded for sending.
#[derive(Debug, Clone)]
pub struct Batch {
    pub path: &'static str,
    pub content_type: &'static str,
    /// Sent with `Content-Encoding: gzip`.
    pub gzip: bool,
    pub body: Vec<u8>,
    /// Metric data points plus log records.
    pub points: usize,
}

impl Export {
    /// A captured request decoded; `None` for a signal other than metrics and logs.
    pub fn decode(c: &Captured) -> Result<Option<Export>, String> {
        let body = c.decoded_body()?;
        let what = |e: &dyn std::fmt::Display| format!("request {} ({}): {e}", c.seq, c.path);
        Ok(Some(match (c.path.as_str(), c.is_protobuf()) {
            ("/v1/metrics", false) => {
                Export::Metrics(serde_json::from_slice(&body).map_err(|e| what(&e))?)
            }
            ("/v1/metrics", true) => Export::Metrics(
                ExportMetricsServiceRequest::decode(&body[..]).map_err(|e| what(&e))?,
            ),
            ("/v1/logs", false) => {
                Export::Logs(serde_json::from_slice(&body).map_err(|e| what(&e))?)
            }
            ("/v1/logs", true) => {
                Export::Logs(ExportLogsServiceRequest::decode(&body[..]).map_err(|e| what(&e))?)
            }
            _ => return Ok(None),
        }))
    }

    pub fn path(&self) -> &'static str {
        match self {
            Export::Metrics(_) => "/v1/metrics",
            Export::Logs(_) => "/v1/logs",
        }
    }

    /// The first string value of attribute `key` on a resource, point or record.
    pub fn attribute(&self, key: &str) -> Option<String> {
        let lists: Vec<&Vec<KeyValue>> = match self {
            Export::Metrics(m) => m
                .resource_metrics
                .iter()
                .flat_map(|rm| {
                    let points = rm
                        .scope_metrics
                        .iter()
                        .flat_map(|sm| &sm.metrics)
                        .filter_map(|metric| match &metric.data {
                            Some(metric::Data::Sum(sum)) => Some(&sum.data_points),
                            _ => None,
                        })
                        .flatten()
                        .map(|p| &p.attributes);
                    rm.resource.iter().map(|r| &r.attributes).chain(points)
                })
                .collect(),
            Export::Logs(l) => l
                .resource_logs
                .iter()
                .flat_map(|rl| {
                    let records = rl
                        .scope_logs
                        .iter()
                        .flat_map(|sl| &sl.log_records)
                        .map(|r| &r.attributes);
                    rl.resource.iter().map(|r| &r.attributes).chain(records)
                })
                .collect(),
        };
        lists.into_iter().flatten().find_map(|kv| match &kv.value {
            Some(AnyValue {
                value: Some(any_value::Value::StringValue(v)),
            }) if kv.key == key => Some(v.clone()),
            _ => None,
        })
    }

    /// Metric data points plus log records.
    pub fn points(&self) -> usize {
        match self {
            Export::Metrics(m) => m
                .resource_metrics
                .iter()
                .flat_map(|rm| &rm.scope_metrics)
                .flat_map(|sm| &sm.metrics)
                .map(|metric| match &metric.data {
                    Some(metric::Data::Sum(sum)) => sum.data_points.len(),
                    _ => 0,
                })
                .sum(),
            Export::Logs(l) => l
                .resource_logs
                .iter()
                .flat_map(|rl| &rl.scope_logs)
                .map(|sl| sl.log_records.len())
                .sum(),
        }
    }

    /// The same export from another installation (`user.id`) and session
    /// (`session.id`) on every point and record, signed in as `email` when
    /// given (replacing any `user.email`), `days` later.
    pub fn restamped(
        &self,
        user_id: &str,
        session: &str,
        email: Option<&str>,
        days: u64,
    ) -> Export {
        let by = days * NS_PER_DAY;
        let shift = |t: &mut u64| {
            if *t != 0 {
                *t += by;
            }
        };
        let mut out = self.clone();
        match &mut out {
            Export::Metrics(m) => {
                for rm in &mut m.resource_metrics {
                    for sm in &mut rm.scope_metrics {
                        for metric in &mut sm.metrics {
                            if let Some(metric::Data::Sum(sum)) = &mut metric.data {
                                for p in &mut sum.data_points {
                                    restamp(&mut p.attributes, user_id, session, email);
                                    shift(&mut p.start_time_unix_nano);
                                    shift(&mut p.time_unix_nano);
                                }
                            }
                        }
                    }
                }
            }
            Export::Logs(l) => {
                for rl in &mut l.resource_logs {
                    for sl in &mut rl.scope_logs {
                        for r in &mut sl.log_records {
                            restamp(&mut r.attributes, user_id, session, email);
                            shift(&mut r.time_unix_nano);
                            shift(&mut r.observed_time_unix_nano);
                        }
                    }
                }
            }
        }
        out
    }

    /// Encoded as OTLP/HTTP JSON or protobuf, gzipped or not.
    pub fn encode(&self, protobuf: bool, gzip_it: bool) -> Batch {
        let raw = match (self, protobuf) {
            (Export::Metrics(m), true) => m.encode_to_vec(),
            (Export::Metrics(m), false) => serde_json::to_vec(m).expect("OTLP JSON"),
            (Export::Logs(l), true) => l.encode_to_vec(),
            (Export::Logs(l), false) => serde_json::to_vec(l).expect("OTLP JSON"),
        };
        Batch {
            path: self.path(),
            content_type: if protobuf {
                "application/x-protobuf"
            } else {
                "application/json"
            },
            gzip: gzip_it,
            body: if gzip_it { gzip(&raw) } else { raw },
            points: self.points(),
        }
    }
}

fn restamp(attrs: &mut Vec<KeyValue>, user_id: &str, session: &str, email: Option<&str>) {
    for kv in attrs.iter_mut() {
        match kv.key.as_str() {
            "user.id" => kv.value = string_value(user_id),
            "session.id" => kv.value = string_value(session),
            _ => {}
        }
    }
    if let Some(e) = email {
        attrs.retain(|kv| kv.key != "user.email");
        attrs.push(text("user.email", e));
    }
}

/// A captured session used as a shape: its metrics and logs, decoded.
#[derive(Debug, Clone)]
pub struct Template {
    pub version: String,
    pub scenario: String,
    /// Captured as protobuf (else JSON).
    pub protobuf: bool,
    pub requests: Vec<Export>,
}

impl Template {
    /// `fixtures/version/scenario`: its metrics and logs requests (traces are left out).
    pub fn load(fixtures: &Path, version: &str, scenario: &str) -> Result<Template, String> {
        let captured = read_capture(&fixtures.join(version).join(scenario))?;
        let mut requests = Vec::new();
        for c in &captured {
            requests.extend(Export::decode(c)?);
        }
        Ok(Template {
            version: version.to_string(),
            scenario: scenario.to_string(),
            protobuf: captured.iter().any(Captured::is_protobuf),
            requests,
        })
    }

    /// `version/scenario`.
    pub fn name(&self) -> String {
        format!("{}/{}", self.version, self.scenario)
    }

    /// One session of this shape as another person, encoded as it was captured.
    pub fn session(
        &self,
        user_id: &str,
        session: &str,
        email: Option<&str>,
        days: u64,
        gzip_it: bool,
    ) -> Vec<Batch> {
        self.requests
            .iter()
            .map(|e| {
                e.restamped(user_id, session, email, days)
                    .encode(self.protobuf, gzip_it)
            })
            .collect()
    }
}

/// What an OpenTelemetry Collector's batch processor makes of many clients'
/// exports: their resources, one after the other, in requests of at least
/// `points` points (data points or log records) per signal, the last ones
/// smaller; metrics first, then logs.
pub fn collector_batches(exports: &[Export], points: usize) -> Vec<Export> {
    let mut out = Vec::new();
    let mut metrics = (ExportMetricsServiceRequest::default(), 0usize);
    let mut logs = (ExportLogsServiceRequest::default(), 0usize);
    for e in exports {
        match e {
            Export::Metrics(m) => {
                metrics
                    .0
                    .resource_metrics
                    .extend(m.resource_metrics.iter().cloned());
                metrics.1 += e.points();
                if metrics.1 >= points {
                    out.push(Export::Metrics(std::mem::take(&mut metrics.0)));
                    metrics.1 = 0;
                }
            }
            Export::Logs(l) => {
                logs.0.resource_logs.extend(l.resource_logs.iter().cloned());
                logs.1 += e.points();
                if logs.1 >= points {
                    out.push(Export::Logs(std::mem::take(&mut logs.0)));
                    logs.1 = 0;
                }
            }
        }
    }
    if !metrics.0.resource_metrics.is_empty() {
        out.push(Export::Metrics(metrics.0));
    }
    if !logs.0.resource_logs.is_empty() {
        out.push(Export::Logs(logs.0));
    }
    out
}

pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(bytes).expect("gzip into memory");
    e.finish().expect("gzip into memory")
}

pub fn string_value(s: &str) -> Option<AnyValue> {
    Some(AnyValue {
        value: Some(any_value::Value::StringValue(s.to_string())),
    })
}

/// A string attribute.
pub fn text(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: string_value(value),
        ..Default::default()
    }
}

/// A delta `Sum` of `metric` (with attribute `type` when given): one
/// resource per entry of `resources`, each with a point per value, every
/// point a distinct interval just after [`NOON_2026_11_20_NS`].
pub fn sum_request(
    resources: Vec<Vec<KeyValue>>,
    metric: &str,
    ty: Option<&str>,
    values: &[f64],
) -> ExportMetricsServiceRequest {
    let at = |i: usize| NOON_2026_11_20_NS + i as u64 * 1_000;
    let points = |n: usize| -> Vec<NumberDataPoint> {
        values
            .iter()
            .enumerate()
            .map(|(i, v)| NumberDataPoint {
                attributes: ty.map(|t| vec![text("type", t)]).unwrap_or_default(),
                start_time_unix_nano: at((n * values.len() + i) * 2),
                time_unix_nano: at((n * values.len() + i) * 2 + 1),
                value: Some(number_data_point::Value::AsDouble(*v)),
                ..Default::default()
            })
            .collect()
    };
    ExportMetricsServiceRequest {
        resource_metrics: resources
            .into_iter()
            .enumerate()
            .map(|(n, attributes)| ResourceMetrics {
                resource: Some(Resource {
                    attributes,
                    ..Default::default()
                }),
                scope_metrics: vec![ScopeMetrics {
                    metrics: vec![Metric {
                        name: metric.into(),
                        data: Some(metric::Data::Sum(Sum {
                            data_points: points(n),
                            aggregation_temporality: 1,
                            is_monotonic: true,
                        })),
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
                ..Default::default()
            })
            .collect(),
    }
}

/// One resource of `n` empty attributes: two bytes each on the wire, far
/// more decoded (the decode-budget attack of issue 11).
pub fn empty_attributes(n: usize) -> ExportMetricsServiceRequest {
    ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: Some(Resource {
                attributes: vec![KeyValue::default(); n],
                ..Default::default()
            }),
            ..Default::default()
        }],
    }
}
