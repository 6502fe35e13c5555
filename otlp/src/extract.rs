//! From decoded OTLP messages to the few facts Scoreboard keeps.
//!
//! This is the allow-list: a fact is built only from the attributes named
//! here (identity, session, model, tool, type, decision, start_type and the
//! api_request counters). Everything else in a request — prompt text,
//! responses, tool parameters, repository names, custom attributes — is
//! never copied out of the decoded message and goes away with it. Metric
//! series identity does look at every attribute, but only through a one-way
//! hash.
//!
//! No I/O here: the store decides, with its persisted state, how much of each
//! point is new (delta dedupe, cumulative differencing).

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, NaiveDate};
use scoreboard_core::PersonKey;
use sha2::{Digest, Sha256};

use crate::model::{
    Data, Kv as KeyValue, LogRecord, LogsReq, MetricsReq, Number, NumberPoint, Val as Value,
};

/// Longest identity, session, model or tool value we store. Real values are
/// e-mails, UUIDs, 64-hex ids and short names; anything longer is not one of
/// those and is rejected rather than written to disk.
pub const MAX_LABEL_CHARS: usize = 256;

/// Largest count one data point or event may carry (sessions, lines,
/// commits, pull requests, edit decisions, tokens), cumulative totals
/// included. A heavy user's day is about 10⁹ tokens; a value past 10¹² is
/// not usage but a broken or hostile client, and is rejected rather than
/// summed: stored sums then stay far below SQLite's 64-bit integers.
pub const MAX_COUNT: f64 = 1e12;
/// Largest cost (USD) of one point or event.
pub const MAX_COST_USD: f64 = 1e6;
/// Largest active time (seconds) of one point: about 31 years.
pub const MAX_ACTIVE_SECONDS: f64 = 1e9;

/// Points before this instant (2000-01-01T00:00:00Z) carry no real timestamp.
const MIN_TIME_NS: u64 = 946_684_800_000_000_000;

pub const METRIC_SESSIONS: &str = "claude_code.session.count";
pub const METRIC_LINES: &str = "claude_code.lines_of_code.count";
pub const METRIC_COMMITS: &str = "claude_code.commit.count";
pub const METRIC_PULL_REQUESTS: &str = "claude_code.pull_request.count";
pub const METRIC_EDIT_DECISIONS: &str = "claude_code.code_edit_tool.decision";
pub const METRIC_TOKENS: &str = "claude_code.token.usage";
pub const METRIC_COST: &str = "claude_code.cost.usage";
pub const METRIC_ACTIVE_TIME: &str = "claude_code.active_time.total";

const KNOWN_METRICS: [&str; 8] = [
    METRIC_SESSIONS,
    METRIC_LINES,
    METRIC_COMMITS,
    METRIC_PULL_REQUESTS,
    METRIC_EDIT_DECISIONS,
    METRIC_TOKENS,
    METRIC_COST,
    METRIC_ACTIVE_TIME,
];

/// Who a point belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Who {
    pub key: PersonKey,
    /// Only an installation id (`user.id`) was there: a device, not a person.
    pub device_only: bool,
}

/// The `type` of a `claude_code.token.usage` point: which of the model's
/// tokens it counts (named apart from the server's access-token kinds).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ModelTokenKind {
    Input,
    Output,
    CacheRead,
    CacheCreation,
}

/// What a counted metric point adds to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Measure {
    Sessions,
    LinesAdded,
    LinesRemoved,
    Commits,
    PullRequests,
    Edit {
        tool: String,
        accepted: bool,
    },
    Tokens {
        model: String,
        kind: ModelTokenKind,
    },
    /// USD; turned into micro-dollars per increment.
    Cost {
        model: String,
    },
    /// Seconds; stored as milliseconds.
    ActiveTime {
        user: bool,
    },
}

/// One data point of a metric we count.
#[derive(Debug, Clone)]
pub struct MetricPoint {
    /// Hash of scope, metric name, every point attribute and every resource attribute.
    pub series: [u8; 32],
    pub cumulative: bool,
    pub start_ns: u64,
    pub time_ns: u64,
    pub day: NaiveDate,
    pub value: f64,
    pub who: Who,
    /// `session.id`, or "" when the client does not send it.
    pub session: String,
    pub measure: Measure,
}

/// One `api_request` event: the fallback for tokens and cost.
#[derive(Debug, Clone)]
pub struct ApiRequest {
    /// Hash of the whole record and its resource: equal only for a re-sent record.
    pub key: [u8; 32],
    /// The record's time (or observed time): its dedupe key is ordered by it.
    pub time_ns: u64,
    pub day: NaiveDate,
    pub who: Who,
    pub session: String,
    pub model: String,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cache_read_tokens: u64,
    pub cache_creation_tokens: u64,
    pub cost_micros: i64,
}

/// Why points were not used. Messages name the problem, never a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Reason {
    NoTimestamp,
    BadValue,
    NotASum,
    UnreadableData,
    NoTemporality,
    NoIdentity,
    TooLong,
    BadEventNumber,
    Implausible,
    TooManyAttributes,
}

impl Reason {
    fn describe(self) -> &'static str {
        match self {
            Reason::NoTimestamp => "without a timestamp (timeUnixNano missing, before 2000 or out of range)",
            Reason::BadValue => "with a value that is missing, negative or not a number",
            Reason::NotASum => "of a Claude Code counter sent as something other than a Sum",
            Reason::UnreadableData => "whose metric data could not be read (wrong JSON types inside the metric)",
            Reason::NoTemporality => "with aggregationTemporality neither 1 (delta) nor 2 (cumulative)",
            Reason::NoIdentity => "with no user.email, user.account_id, user.account_uuid, configured identity attribute or user.id",
            Reason::TooLong => "with an identity, session.id, model or tool_name value longer than 256 characters",
            Reason::BadEventNumber => "api_request events whose token or cost attributes are not non-negative numbers",
            Reason::Implausible => "with a value past the plausible bound (10^12 for counts and tokens, 10^6 USD, 10^9 seconds)",
            Reason::TooManyAttributes => "whose resource, scope, point or record has more attributes than allowed",
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rejections(BTreeMap<Reason, u64>);

impl Rejections {
    pub fn add(&mut self, r: Reason) {
        self.add_n(r, 1);
    }
    pub fn add_n(&mut self, r: Reason, n: u64) {
        if n > 0 {
            *self.0.entry(r).or_insert(0) += n;
        }
    }
    pub fn total(&self) -> u64 {
        self.0.values().sum()
    }
    /// The `errorMessage` of a partial success: counts and reasons only.
    pub fn message(&self) -> String {
        if self.0.is_empty() {
            return String::new();
        }
        let parts: Vec<String> = self
            .0
            .iter()
            .map(|(r, n)| format!("{n} {}", r.describe()))
            .collect();
        format!("rejected {}: {}", self.total(), parts.join("; "))
    }
}

/// Everything one request contributes.
#[derive(Debug, Default)]
pub struct Extracted {
    pub points: Vec<MetricPoint>,
    pub api_requests: Vec<ApiRequest>,
    /// Everyone who sent anything identifiable in this request (for
    /// "reporting"), with the Claude Code version their resource reported
    /// (`service.version`), if any. A map: a collector's batch can name thousands.
    pub seen: HashMap<Who, Option<String>>,
    pub rejected: Rejections,
}

impl Extracted {
    /// The latest time of any point or counted event (0 when there is
    /// none): the body's digest and dedupe keys start with it, so that keys
    /// written together land on the same few pages of their tables.
    pub fn latest_time_ns(&self) -> u64 {
        let points = self.points.iter().map(|p| p.time_ns);
        let events = self.api_requests.iter().map(|e| e.time_ns);
        points.chain(events).max().unwrap_or(0)
    }

    /// About what these facts hold in memory (until their commit).
    pub fn heap_bytes(&self) -> usize {
        use std::mem::size_of;
        let who = |w: &Who| w.key.as_str().len();
        let measure = |m: &Measure| match m {
            Measure::Edit { tool, .. } => tool.len(),
            Measure::Tokens { model, .. } | Measure::Cost { model } => model.len(),
            _ => 0,
        };
        let points: usize = self
            .points
            .iter()
            .map(|p| size_of::<MetricPoint>() + who(&p.who) + p.session.len() + measure(&p.measure))
            .sum();
        let events: usize = self
            .api_requests
            .iter()
            .map(|e| size_of::<ApiRequest>() + who(&e.who) + e.session.len() + e.model.len())
            .sum();
        let seen: usize = self
            .seen
            .iter()
            .map(|(w, v)| {
                2 * size_of::<(Who, Option<String>)>() + who(w) + v.as_ref().map_or(0, String::len)
            })
            .sum();
        points + events + seen + size_of::<Extracted>()
    }

    fn saw(&mut self, who: &Who, version: Option<&str>) {
        match self.seen.get_mut(who) {
            Some(v) => {
                if v.is_none() {
                    *v = version.map(str::to_string);
                }
            }
            None => {
                self.seen.insert(who.clone(), version.map(str::to_string));
            }
        }
    }
}

/// Per-request bounds, from the receiver's settings.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_attributes: usize,
}

impl From<&crate::OtlpConfig> for Limits {
    fn from(c: &crate::OtlpConfig) -> Limits {
        Limits {
            max_attributes: c.max_attributes.max(1),
        }
    }
}

impl Default for Limits {
    fn default() -> Limits {
        Limits::from(&crate::OtlpConfig::default())
    }
}

/// A resource's attributes, indexed and hashed once for all its points:
/// looking them up and hashing them per point made a request of many
/// attributes × many points cost their product.
struct PreparedResource<'a> {
    index: HashMap<&'a str, &'a Value<'a>>,
    /// What [`hash_attrs`] feeds the hasher for these attributes, or for a
    /// large resource a digest of it behind a marker no real count can take.
    hashed: Vec<u8>,
}

/// Past this, a resource's attributes are fed to the series hash as a digest.
/// Claude Code's resources are a few hundred bytes, so their series keep
/// the identity they had before (cumulative state stays valid).
const INLINE_RESOURCE_HASH: usize = 4096;

impl<'a> PreparedResource<'a> {
    fn new(attrs: &'a [KeyValue<'a>]) -> PreparedResource<'a> {
        let mut index = HashMap::with_capacity(attrs.len());
        for kv in attrs {
            // The first of repeated keys wins, as a linear search would find it.
            if let Some(v) = kv.value.as_ref() {
                index.entry(&*kv.key).or_insert(v);
            }
        }
        let mut hashed = Vec::new();
        hash_attrs(&mut hashed, attrs);
        if hashed.len() > INLINE_RESOURCE_HASH {
            let digest: [u8; 32] = Sha256::digest(&hashed).into();
            hashed.clear();
            hashed.extend_from_slice(&u64::MAX.to_le_bytes());
            hashed.extend_from_slice(&digest);
        }
        PreparedResource { index, hashed }
    }

    /// The client's version (`service.version`, Claude Code's own), when it
    /// is a short printable label: shown in the roll-out view, never trusted.
    fn version(&self) -> Option<&'a str> {
        match self.index.get("service.version") {
            Some(Value::Str(s)) => {
                let s = s.trim();
                (!s.is_empty()
                    && s.len() <= MAX_VERSION_CHARS
                    && s.chars().all(|c| c.is_ascii_graphic()))
                .then_some(s)
            }
            _ => None,
        }
    }
}

/// Longer `service.version` values are not kept (Claude Code's are like `2.1.330`).
const MAX_VERSION_CHARS: usize = 64;

/// Attributes of a point or record, looked up in the point first, then the resource.
struct Attrs<'a, 'r> {
    point: &'a [KeyValue<'a>],
    resource: &'r PreparedResource<'a>,
}

impl<'a> Attrs<'a, '_> {
    fn get(&self, key: &str) -> Option<&'a Value<'a>> {
        find(self.point, key).or_else(|| self.resource.index.get(key).copied())
    }
    /// Borrowed from the decoded message when it is a string (nearly
    /// always): a point looks up half a dozen attributes, and copying each
    /// one out was most of what extracting a point allocated.
    fn string(&self, key: &str) -> Option<Cow<'a, str>> {
        let trimmed = match self.get(key).and_then(as_text)? {
            Cow::Borrowed(s) => Cow::Borrowed(s.trim()),
            Cow::Owned(s) => Cow::Owned(s.trim().to_string()),
        };
        (!trimmed.is_empty()).then_some(trimmed)
    }
}

fn find<'a>(attrs: &'a [KeyValue<'a>], key: &str) -> Option<&'a Value<'a>> {
    attrs
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref())
}

/// A label-like value as text: strings as they are, numbers and booleans written out.
fn as_text<'a>(v: &'a Value<'_>) -> Option<Cow<'a, str>> {
    match v {
        Value::Str(s) => Some(Cow::Borrowed(s)),
        Value::Int(i) => Some(Cow::Owned(i.to_string())),
        Value::Double(d) if d.is_finite() => Some(Cow::Owned(d.to_string())),
        Value::Bool(b) => Some(Cow::Owned(b.to_string())),
        _ => None,
    }
}

/// A number however it came: intValue (number or string on the wire),
/// doubleValue, or a string holding a number. `None` when absent.
/// `Some(Err)` when present but not a non-negative finite number.
fn as_count(v: Option<&Value<'_>>) -> Option<Result<f64, ()>> {
    let n = match v? {
        Value::Int(i) => Some(*i as f64),
        Value::Double(d) => Some(*d),
        Value::Str(s) => s.trim().parse::<f64>().ok(),
        _ => None,
    };
    Some(match n {
        Some(x) if x.is_finite() && x >= 0.0 => Ok(x),
        _ => Err(()),
    })
}

fn day_of(time_ns: u64) -> Option<NaiveDate> {
    if time_ns < MIN_TIME_NS {
        return None;
    }
    let ns = i64::try_from(time_ns).ok()?;
    Some(DateTime::from_timestamp_nanos(ns).date_naive())
}

fn label(s: Option<Cow<'_, str>>, default: &str) -> Result<String, Reason> {
    let s = s.as_deref().unwrap_or(default);
    if s.chars().count() > MAX_LABEL_CHARS {
        Err(Reason::TooLong)
    } else {
        Ok(s.to_string())
    }
}

/// Identity rule: `user.email`, else `user.account_id` / `user.account_uuid`,
/// else the configured attribute, else the installation `user.id` (a device).
/// Each key is looked up on the point first, then on the resource.
fn identify(a: &Attrs<'_, '_>, identity_attribute: Option<&str>) -> Result<Who, Reason> {
    fn checked(s: Cow<'_, str>) -> Result<Cow<'_, str>, Reason> {
        if s.chars().count() > MAX_LABEL_CHARS {
            Err(Reason::TooLong)
        } else {
            Ok(s)
        }
    }
    if let Some(email) = a.string("user.email") {
        return Ok(Who {
            key: PersonKey::email(&checked(email)?),
            device_only: false,
        });
    }
    for k in ["user.account_id", "user.account_uuid"] {
        if let Some(id) = a.string(k) {
            return Ok(Who {
                key: PersonKey::account(&checked(id)?),
                device_only: false,
            });
        }
    }
    if let Some(attr) = identity_attribute {
        if let Some(v) = a.string(attr) {
            if let Some(key) = PersonKey::parse(&checked(v)?) {
                let device_only = key.as_str().starts_with("device:");
                return Ok(Who { key, device_only });
            }
        }
    }
    if let Some(id) = a.string("user.id") {
        return Ok(Who {
            key: PersonKey::device(&checked(id)?),
            device_only: true,
        });
    }
    Err(Reason::NoIdentity)
}

fn session_of(a: &Attrs<'_, '_>) -> Result<String, Reason> {
    label(a.string("session.id"), "")
}

// ---------------------------------------------------------------------------
// One-way hashing of attribute sets (series identity, event identity).

/// Where attribute bytes go: a hasher, or a buffer fed to many hashers.
trait Sink {
    fn update(&mut self, b: impl AsRef<[u8]>);
}

impl Sink for Sha256 {
    fn update(&mut self, b: impl AsRef<[u8]>) {
        Digest::update(self, b);
    }
}

impl Sink for Vec<u8> {
    fn update(&mut self, b: impl AsRef<[u8]>) {
        self.extend_from_slice(b.as_ref());
    }
}

fn hash_bytes(h: &mut impl Sink, b: &[u8]) {
    h.update((b.len() as u64).to_le_bytes());
    h.update(b);
}

/// The bytes fed for each kind are those of the value's protobuf form, so
/// a value hashes the same however it was encoded (and as before the
/// one-pass JSON decoder: stored series and record keys stay valid).
fn hash_value(h: &mut impl Sink, v: Option<&Value<'_>>) {
    match v {
        None => h.update([0u8]),
        Some(Value::Str(s)) => {
            h.update([1u8]);
            hash_bytes(h, s.as_bytes());
        }
        Some(Value::Bool(b)) => h.update([2u8, u8::from(*b)]),
        Some(Value::Int(i)) => {
            h.update([3u8]);
            h.update(i.to_le_bytes());
        }
        Some(Value::Double(d)) => {
            h.update([4u8]);
            h.update(d.to_bits().to_le_bytes());
        }
        Some(Value::Array(a)) => {
            h.update([5u8]);
            h.update((a.len() as u64).to_le_bytes());
            for x in a {
                hash_value(h, x.as_ref());
            }
        }
        Some(Value::Kvlist(kv)) => {
            h.update([6u8]);
            hash_attrs(h, kv);
        }
        Some(Value::Bytes(b)) => {
            h.update([7u8]);
            hash_bytes(h, b);
        }
        Some(Value::Strindex(i)) => {
            h.update([8u8]);
            h.update(i.to_le_bytes());
        }
    }
}

/// Order-independent: attributes are hashed sorted by key.
fn hash_attrs(h: &mut impl Sink, attrs: &[KeyValue<'_>]) {
    let mut sorted: Vec<&KeyValue<'_>> = attrs.iter().collect();
    sorted.sort_by(|a, b| a.key.cmp(&b.key));
    h.update((sorted.len() as u64).to_le_bytes());
    for kv in sorted {
        hash_bytes(h, kv.key.as_bytes());
        hash_value(h, kv.value.as_ref());
    }
}

/// `resource` is what [`hash_attrs`] fed for the resource's attributes
/// ([`PreparedResource::hashed`]), so a point's hash is the one it always had.
fn series_hash(scope: &str, metric: &str, point: &[KeyValue<'_>], resource: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    hash_bytes(&mut h, b"metric-series-v1");
    hash_bytes(&mut h, scope.as_bytes());
    hash_bytes(&mut h, metric.as_bytes());
    hash_attrs(&mut h, point);
    Sink::update(&mut h, resource);
    h.finalize().into()
}

fn record_hash(rec: &LogRecord<'_>, resource: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    hash_bytes(&mut h, b"log-record-v1");
    Sink::update(&mut h, rec.time_unix_nano.to_le_bytes());
    Sink::update(&mut h, rec.observed_time_unix_nano.to_le_bytes());
    hash_value(&mut h, rec.body.as_ref());
    hash_attrs(&mut h, &rec.attributes);
    Sink::update(&mut h, resource);
    h.finalize().into()
}

// ---------------------------------------------------------------------------
// Metrics.

/// Which measure a point of a known metric feeds, from its allow-listed
/// attributes. `Ok(None)`: a valid point we do not count (e.g. a session
/// started by `claude agents`, or an attribute value we do not know).
fn measure_of(metric: &str, a: &Attrs<'_, '_>) -> Result<Option<Measure>, Reason> {
    let ty = a.string("type");
    Ok(match metric {
        METRIC_SESSIONS => match a.string("start_type").as_deref() {
            // The `claude agents` UI process, not a working session (sources.md §5.4).
            Some("agents_view") => None,
            _ => Some(Measure::Sessions),
        },
        METRIC_LINES => match ty.as_deref() {
            Some("added") => Some(Measure::LinesAdded),
            Some("removed") => Some(Measure::LinesRemoved),
            _ => None,
        },
        METRIC_COMMITS => Some(Measure::Commits),
        METRIC_PULL_REQUESTS => Some(Measure::PullRequests),
        METRIC_EDIT_DECISIONS => {
            let accepted = match a.string("decision").as_deref() {
                Some("accept") => true,
                Some("reject") => false,
                _ => return Ok(None),
            };
            Some(Measure::Edit {
                tool: label(a.string("tool_name"), "unknown")?,
                accepted,
            })
        }
        METRIC_TOKENS => {
            let kind = match ty.as_deref() {
                Some("input") => ModelTokenKind::Input,
                Some("output") => ModelTokenKind::Output,
                Some("cacheRead") => ModelTokenKind::CacheRead,
                Some("cacheCreation") => ModelTokenKind::CacheCreation,
                _ => return Ok(None),
            };
            Some(Measure::Tokens {
                model: label(a.string("model"), "unknown")?,
                kind,
            })
        }
        METRIC_COST => Some(Measure::Cost {
            model: label(a.string("model"), "unknown")?,
        }),
        METRIC_ACTIVE_TIME => match ty.as_deref() {
            Some("cli") => Some(Measure::ActiveTime { user: false }),
            Some("user") => Some(Measure::ActiveTime { user: true }),
            _ => None,
        },
        _ => None,
    })
}

/// The number of data points of a metric, whatever its kind.
fn point_count(data: &Data<'_>) -> usize {
    match data {
        Data::Sum(x) => x.data_points.len(),
        Data::NotASum(n) => *n,
        Data::Missing => 0,
    }
}

pub fn metrics(
    req: &MetricsReq<'_>,
    identity_attribute: Option<&str>,
    limits: &Limits,
) -> Extracted {
    let mut out = Extracted::default();
    for rm in &req.resource_metrics {
        let attrs = &rm.resource[..];
        if attrs.len() > limits.max_attributes {
            // Every point of ours under this resource is lost with it; say how many.
            let n: usize = rm
                .scope_metrics
                .iter()
                .flat_map(|sm| &sm.metrics)
                .filter(|m| KNOWN_METRICS.contains(&&*m.name))
                .map(|m| point_count(&m.data))
                .sum();
            out.rejected.add_n(Reason::TooManyAttributes, n as u64);
            continue;
        }
        let resource = PreparedResource::new(attrs);
        let version = resource.version();
        for sm in &rm.scope_metrics {
            let scope = &*sm.scope;
            for m in &sm.metrics {
                if !KNOWN_METRICS.contains(&&*m.name) {
                    // Someone else's metric: valid OTLP, just not ours to count.
                    continue;
                }
                let sum = match &m.data {
                    Data::Sum(s) => s,
                    other => {
                        let (reason, n) = match other {
                            // The JSON decoder leaves the data empty when a value inside
                            // it has the wrong type; its points are lost, say so.
                            Data::Missing | Data::Sum(_) => (Reason::UnreadableData, 1),
                            Data::NotASum(n) => (Reason::NotASum, *n),
                        };
                        out.rejected.add_n(reason, n as u64);
                        continue;
                    }
                };
                let cumulative = match sum.aggregation_temporality {
                    1 => false,
                    2 => true,
                    _ => {
                        out.rejected
                            .add_n(Reason::NoTemporality, sum.data_points.len() as u64);
                        continue;
                    }
                };
                for p in &sum.data_points {
                    if p.attributes.len() > limits.max_attributes {
                        out.rejected.add(Reason::TooManyAttributes);
                        continue;
                    }
                    let a = Attrs {
                        point: &p.attributes,
                        resource: &resource,
                    };
                    match metric_point(&m.name, scope, cumulative, p, &a, identity_attribute) {
                        Ok((who, point)) => {
                            out.saw(&who, version);
                            if let Some(point) = point {
                                out.points.push(point);
                            }
                        }
                        Err(r) => out.rejected.add(r),
                    }
                }
            }
        }
    }
    out
}

/// The largest plausible value of one point of `measure`.
fn bound(measure: &Measure) -> f64 {
    match measure {
        Measure::Cost { .. } => MAX_COST_USD,
        Measure::ActiveTime { .. } => MAX_ACTIVE_SECONDS,
        _ => MAX_COUNT,
    }
}

fn metric_point(
    name: &str,
    scope: &str,
    cumulative: bool,
    p: &NumberPoint<'_>,
    a: &Attrs<'_, '_>,
    identity_attribute: Option<&str>,
) -> Result<(Who, Option<MetricPoint>), Reason> {
    let who = identify(a, identity_attribute)?;
    let day = day_of(p.time_unix_nano).ok_or(Reason::NoTimestamp)?;
    let value = match p.value() {
        Some(Number::Double(d)) => d,
        Some(Number::Int(i)) => i as f64,
        None => return Err(Reason::BadValue),
    };
    if !value.is_finite() || value < 0.0 {
        return Err(Reason::BadValue);
    }
    let session = session_of(a)?;
    let Some(measure) = measure_of(name, a)? else {
        return Ok((who, None));
    };
    if value > bound(&measure) {
        return Err(Reason::Implausible);
    }
    let point = MetricPoint {
        series: series_hash(scope, name, &p.attributes, &a.resource.hashed),
        cumulative,
        start_ns: p.start_time_unix_nano,
        time_ns: p.time_unix_nano,
        day,
        value,
        who: who.clone(),
        session,
        measure,
    };
    Ok((who, Some(point)))
}

// ---------------------------------------------------------------------------
// Events (logs).

fn event_name(rec: &LogRecord<'_>) -> Option<String> {
    let strip = |s: &str| s.strip_prefix("claude_code.").unwrap_or(s).to_string();
    if let Some(n) = find(&rec.attributes, "event.name").and_then(as_text) {
        return Some(strip(&n));
    }
    if !rec.event_name.is_empty() {
        return Some(strip(&rec.event_name));
    }
    match rec.body.as_ref() {
        Some(Value::Str(s)) if s.starts_with("claude_code.") && s.len() < 128 => Some(strip(s)),
        _ => None,
    }
}

pub fn logs(req: &LogsReq<'_>, identity_attribute: Option<&str>, limits: &Limits) -> Extracted {
    let mut out = Extracted::default();
    for rl in &req.resource_logs {
        let attrs = &rl.resource[..];
        let too_many = attrs.len() > limits.max_attributes;
        let resource = PreparedResource::new(if too_many { &[] } else { attrs });
        let version = resource.version();
        for sl in &rl.scope_logs {
            for rec in &sl.log_records {
                let is_api_request = event_name(rec).as_deref() == Some("api_request");
                if too_many || rec.attributes.len() > limits.max_attributes {
                    if is_api_request {
                        out.rejected.add(Reason::TooManyAttributes);
                    }
                    continue;
                }
                let a = Attrs {
                    point: &rec.attributes,
                    resource: &resource,
                };
                match identify(&a, identity_attribute) {
                    Ok(who) => {
                        out.saw(&who, version);
                        if is_api_request {
                            match api_request(rec, &a, who) {
                                Ok(e) => out.api_requests.push(e),
                                Err(r) => out.rejected.add(r),
                            }
                        }
                    }
                    // Only the events we count can be rejected; the rest are dropped anyway.
                    Err(r) if is_api_request => out.rejected.add(r),
                    Err(_) => {}
                }
            }
        }
    }
    out
}

fn api_request(rec: &LogRecord<'_>, a: &Attrs<'_, '_>, who: Who) -> Result<ApiRequest, Reason> {
    let time = if rec.time_unix_nano != 0 {
        rec.time_unix_nano
    } else {
        rec.observed_time_unix_nano
    };
    let day = day_of(time).ok_or(Reason::NoTimestamp)?;
    let bounded = |v: Option<Result<f64, ()>>, max: f64| -> Result<Option<f64>, Reason> {
        match v {
            None => Ok(None),
            Some(Ok(x)) if x > max => Err(Reason::Implausible),
            Some(Ok(x)) => Ok(Some(x)),
            Some(Err(())) => Err(Reason::BadEventNumber),
        }
    };
    let count = |k: &str| -> Result<u64, Reason> {
        Ok(bounded(as_count(a.get(k)), MAX_COUNT)?.map_or(0, |x| x.round() as u64))
    };
    let input_tokens = count("input_tokens")?;
    let output_tokens = count("output_tokens")?;
    let cache_read_tokens = count("cache_read_tokens")?;
    let cache_creation_tokens = count("cache_creation_tokens")?;
    // The CLI sends the rounded integer too; it is exact where cost_usd carries float noise.
    let cost_micros = match bounded(as_count(a.get("cost_usd_micros")), MAX_COST_USD * 1e6)? {
        Some(m) => m.round() as i64,
        None => match bounded(as_count(a.get("cost_usd")), MAX_COST_USD)? {
            Some(usd) => scoreboard_core::model::usd_to_micros(usd),
            None => 0,
        },
    };
    Ok(ApiRequest {
        key: record_hash(rec, &a.resource.hashed),
        time_ns: time,
        day,
        session: session_of(a)?,
        model: label(a.string("model"), "unknown")?,
        who,
        input_tokens,
        output_tokens,
        cache_read_tokens,
        cache_creation_tokens,
        cost_micros,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn kv(k: &str, v: Value<'static>) -> KeyValue<'static> {
        KeyValue {
            key: Cow::Owned(k.to_string()),
            value: Some(v),
        }
    }

    #[test]
    fn identity_prefers_email_then_account_then_configured_then_device() {
        let s = |x: &'static str| Value::Str(x.into());
        let res = vec![kv("user.email", s("Dev@Example.com "))];
        let point = vec![
            kv("user.id", s("abc")),
            kv("user.account_id", s("user_01X")),
        ];
        let res = PreparedResource::new(&res);
        let none = PreparedResource::new(&[]);
        let who = identify(
            &Attrs {
                point: &point,
                resource: &res,
            },
            None,
        )
        .unwrap();
        assert_eq!(who.key.as_str(), "dev@example.com");
        let who = identify(
            &Attrs {
                point: &point,
                resource: &none,
            },
            None,
        )
        .unwrap();
        assert_eq!(who.key.as_str(), "account:user_01X");
        let point = vec![
            kv("user.id", s("abc")),
            kv("enduser.id", s("alice@corp.example")),
        ];
        let who = identify(
            &Attrs {
                point: &point,
                resource: &none,
            },
            Some("enduser.id"),
        )
        .unwrap();
        assert_eq!(
            (who.key.as_str(), who.device_only),
            ("alice@corp.example", false)
        );
        let who = identify(
            &Attrs {
                point: &point,
                resource: &none,
            },
            None,
        )
        .unwrap();
        assert_eq!((who.key.as_str(), who.device_only), ("device:abc", true));
        assert_eq!(
            identify(
                &Attrs {
                    point: &[],
                    resource: &none
                },
                None
            ),
            Err(Reason::NoIdentity)
        );
    }

    #[test]
    fn numbers_are_coerced_from_int_double_and_string() {
        assert_eq!(as_count(Some(&Value::Int(120))), Some(Ok(120.0)));
        assert_eq!(as_count(Some(&Value::Double(0.5))), Some(Ok(0.5)));
        assert_eq!(as_count(Some(&Value::Str(" 337 ".into()))), Some(Ok(337.0)));
        assert_eq!(as_count(Some(&Value::Str("many".into()))), Some(Err(())));
        assert_eq!(as_count(Some(&Value::Int(-1))), Some(Err(())));
        assert_eq!(as_count(Some(&Value::Bool(true))), Some(Err(())));
        assert_eq!(as_count(None), None);
    }

    fn prepared(attrs: &[KeyValue]) -> Vec<u8> {
        PreparedResource::new(attrs).hashed
    }

    /// The hash before resources were prepared once per request: cumulative
    /// state stored under it must keep matching after an upgrade.
    fn series_hash_v1(
        scope: &str,
        metric: &str,
        point: &[KeyValue],
        resource: &[KeyValue],
    ) -> [u8; 32] {
        let mut h = Sha256::new();
        hash_bytes(&mut h, b"metric-series-v1");
        hash_bytes(&mut h, scope.as_bytes());
        hash_bytes(&mut h, metric.as_bytes());
        hash_attrs(&mut h, point);
        hash_attrs(&mut h, resource);
        h.finalize().into()
    }

    #[test]
    fn a_prepared_resource_gives_each_point_the_series_it_always_had() {
        let res = vec![
            kv("user.email", Value::Str("a@b.c".into())),
            kv("service.name", Value::Str("claude-code".into())),
            kv("os.type", Value::Str("linux".into())),
        ];
        let point = vec![kv("type", Value::Str("input".into()))];
        assert_eq!(
            series_hash("s", "m", &point, &prepared(&res)),
            series_hash_v1("s", "m", &point, &res)
        );
        // A huge resource is hashed once, to a digest, and still tells series apart.
        let big: Vec<KeyValue> = (0..2000)
            .map(|i| kv(&format!("k{i}"), Value::Int(i)))
            .collect();
        let mut other = big.clone();
        other[7] = kv("k7", Value::Int(-7));
        assert_eq!(prepared(&big).len(), 40);
        assert_ne!(
            series_hash("s", "m", &point, &prepared(&big)),
            series_hash("s", "m", &point, &prepared(&other))
        );
    }

    #[test]
    fn series_hash_ignores_attribute_order_but_not_values() {
        let a = vec![kv("a", Value::Int(1)), kv("b", Value::Str("x".into()))];
        let b = vec![kv("b", Value::Str("x".into())), kv("a", Value::Int(1))];
        let c = vec![kv("b", Value::Str("y".into())), kv("a", Value::Int(1))];
        let none = prepared(&[]);
        assert_eq!(
            series_hash("s", "m", &a, &none),
            series_hash("s", "m", &b, &none)
        );
        assert_ne!(
            series_hash("s", "m", &a, &none),
            series_hash("s", "m", &c, &none)
        );
        assert_ne!(
            series_hash("s", "m", &a, &none),
            series_hash("s", "m", &[], &prepared(&a))
        );
    }

    #[test]
    fn rejection_message_counts_reasons_without_values() {
        let mut r = Rejections::default();
        r.add(Reason::NoTimestamp);
        r.add(Reason::NoTimestamp);
        r.add(Reason::BadValue);
        assert_eq!(r.total(), 3);
        let m = r.message();
        assert!(m.starts_with("rejected 3: 2 without a timestamp"), "{m}");
    }
}
