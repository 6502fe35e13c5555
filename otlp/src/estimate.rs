//! How much memory a body will take once decoded, found before decoding it.
//!
//! A decoded OTLP message is much larger than its wire form when the body is
//! made of many tiny elements: an empty `KeyValue` is 2 bytes of protobuf and
//! a 64-byte struct in a `Vec` that may have doubled; an empty span is 2
//! bytes and 264. A 15 MB body of such elements decodes to gigabytes, so the
//! body size alone bounds nothing. This module walks the body once, without
//! allocating, with the OTLP schema (the field numbers of protobuf, the
//! camelCase names of JSON) and adds up what the decoder will allocate:
//! each message in a repeated field at twice its size (a `Vec` grows by
//! doubling) plus a first allocation of four, each string or bytes field at
//! its length, packed numbers at 8 bytes each (16 with growth), and for JSON
//! the copy serde buffers for the `flatten`ed parts of `Metric`, `AnyValue`,
//! `NumberDataPoint` and `Exemplar`. The receiver reserves that much of its
//! memory budget before decoding (see `http.rs`), so the sum of what
//! requests in flight can allocate is bounded by the budget, whatever their
//! shape.
//!
//! The walk also refuses nesting deeper than [`MAX_DEPTH`] messages (real
//! OTLP nests about ten deep), which keeps the decoders' recursion short.

use std::cell::Cell;
use std::fmt;
use std::mem::size_of;
use std::sync::OnceLock;

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{
    AnyValue, ArrayValue, EntityRef, InstrumentationScope, KeyValue, KeyValueList,
};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::metrics::v1::{
    exponential_histogram_data_point::Buckets, summary_data_point::ValueAtQuantile, Exemplar,
    ExponentialHistogram, ExponentialHistogramDataPoint, Gauge, Histogram, HistogramDataPoint,
    Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, Sum, Summary, SummaryDataPoint,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{span, ResourceSpans, ScopeSpans, Span, Status};
use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};

/// Deepest nesting of messages accepted (request → resource → scope →
/// metric → sum → point → attribute → value is 8; nested attribute values
/// add a few).
pub const MAX_DEPTH: u32 = 32;

/// What one heap allocation costs beyond its bytes (allocator header and rounding).
const ALLOC: u64 = 32;
/// A buffered JSON value in serde's `Content` form (a map entry holds two).
const CONTENT: u64 = 32;

/// The messages of the OTLP requests the receiver decodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Msg {
    MetricsRequest,
    LogsRequest,
    TracesRequest,
    ResourceMetrics,
    ScopeMetrics,
    Metric,
    Gauge,
    Sum,
    Histogram,
    ExpHistogram,
    Summary,
    NumberPoint,
    HistogramPoint,
    ExpHistogramPoint,
    Buckets,
    SummaryPoint,
    Quantile,
    Exemplar,
    ResourceLogs,
    ScopeLogs,
    LogRecord,
    ResourceSpans,
    ScopeSpans,
    Span,
    Event,
    Link,
    Status,
    Resource,
    Scope,
    EntityRef,
    KeyValue,
    AnyValue,
    ArrayValue,
    KeyValueList,
}

impl Msg {
    fn size(self) -> u64 {
        let s = match self {
            Msg::MetricsRequest => size_of::<ExportMetricsServiceRequest>(),
            Msg::LogsRequest => size_of::<ExportLogsServiceRequest>(),
            Msg::TracesRequest => size_of::<ExportTraceServiceRequest>(),
            Msg::ResourceMetrics => size_of::<ResourceMetrics>(),
            Msg::ScopeMetrics => size_of::<ScopeMetrics>(),
            Msg::Metric => size_of::<Metric>(),
            Msg::Gauge => size_of::<Gauge>(),
            Msg::Sum => size_of::<Sum>(),
            Msg::Histogram => size_of::<Histogram>(),
            Msg::ExpHistogram => size_of::<ExponentialHistogram>(),
            Msg::Summary => size_of::<Summary>(),
            Msg::NumberPoint => size_of::<NumberDataPoint>(),
            Msg::HistogramPoint => size_of::<HistogramDataPoint>(),
            Msg::ExpHistogramPoint => size_of::<ExponentialHistogramDataPoint>(),
            Msg::Buckets => size_of::<Buckets>(),
            Msg::SummaryPoint => size_of::<SummaryDataPoint>(),
            Msg::Quantile => size_of::<ValueAtQuantile>(),
            Msg::Exemplar => size_of::<Exemplar>(),
            Msg::ResourceLogs => size_of::<ResourceLogs>(),
            Msg::ScopeLogs => size_of::<ScopeLogs>(),
            Msg::LogRecord => size_of::<LogRecord>(),
            Msg::ResourceSpans => size_of::<ResourceSpans>(),
            Msg::ScopeSpans => size_of::<ScopeSpans>(),
            Msg::Span => size_of::<Span>(),
            Msg::Event => size_of::<span::Event>(),
            Msg::Link => size_of::<span::Link>(),
            Msg::Status => size_of::<Status>(),
            Msg::Resource => size_of::<Resource>(),
            Msg::Scope => size_of::<InstrumentationScope>(),
            Msg::EntityRef => size_of::<EntityRef>(),
            Msg::KeyValue => size_of::<KeyValue>(),
            Msg::AnyValue => size_of::<AnyValue>(),
            Msg::ArrayValue => size_of::<ArrayValue>(),
            Msg::KeyValueList => size_of::<KeyValueList>(),
        };
        s as u64
    }

    /// Messages with a `#[serde(flatten)]` field: serde buffers every member
    /// it does not know by name before deserialising the flattened part.
    fn flattens(self) -> bool {
        matches!(
            self,
            Msg::Metric | Msg::AnyValue | Msg::NumberPoint | Msg::Exemplar
        )
    }
}

/// What a field of a message holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// One message, stored inline (`Option<T>`).
    One(Msg),
    /// A repeated message (`Vec<T>`).
    Many(Msg),
    /// A string or bytes.
    Text,
    /// Repeated strings.
    Texts,
    /// Repeated numbers; `fixed`: 8 bytes each on the wire when packed.
    Numbers { fixed: bool },
}

use Kind::{Many, Numbers, One, Text, Texts};

/// Every field of the OTLP messages that allocates: (message, field number,
/// JSON name, kind). Scalar fields allocate nothing and are not listed.
const FIELDS: &[(Msg, u32, &str, Kind)] = &[
    (
        Msg::MetricsRequest,
        1,
        "resourceMetrics",
        Many(Msg::ResourceMetrics),
    ),
    (Msg::LogsRequest, 1, "resourceLogs", Many(Msg::ResourceLogs)),
    (
        Msg::TracesRequest,
        1,
        "resourceSpans",
        Many(Msg::ResourceSpans),
    ),
    (Msg::ResourceMetrics, 1, "resource", One(Msg::Resource)),
    (
        Msg::ResourceMetrics,
        2,
        "scopeMetrics",
        Many(Msg::ScopeMetrics),
    ),
    (Msg::ResourceMetrics, 3, "schemaUrl", Text),
    (Msg::ScopeMetrics, 1, "scope", One(Msg::Scope)),
    (Msg::ScopeMetrics, 2, "metrics", Many(Msg::Metric)),
    (Msg::ScopeMetrics, 3, "schemaUrl", Text),
    (Msg::Metric, 1, "name", Text),
    (Msg::Metric, 2, "description", Text),
    (Msg::Metric, 3, "unit", Text),
    (Msg::Metric, 5, "gauge", One(Msg::Gauge)),
    (Msg::Metric, 7, "sum", One(Msg::Sum)),
    (Msg::Metric, 9, "histogram", One(Msg::Histogram)),
    (
        Msg::Metric,
        10,
        "exponentialHistogram",
        One(Msg::ExpHistogram),
    ),
    (Msg::Metric, 11, "summary", One(Msg::Summary)),
    (Msg::Metric, 12, "metadata", Many(Msg::KeyValue)),
    (Msg::Gauge, 1, "dataPoints", Many(Msg::NumberPoint)),
    (Msg::Sum, 1, "dataPoints", Many(Msg::NumberPoint)),
    (Msg::Histogram, 1, "dataPoints", Many(Msg::HistogramPoint)),
    (
        Msg::ExpHistogram,
        1,
        "dataPoints",
        Many(Msg::ExpHistogramPoint),
    ),
    (Msg::Summary, 1, "dataPoints", Many(Msg::SummaryPoint)),
    (Msg::NumberPoint, 5, "exemplars", Many(Msg::Exemplar)),
    (Msg::NumberPoint, 7, "attributes", Many(Msg::KeyValue)),
    (
        Msg::HistogramPoint,
        6,
        "bucketCounts",
        Numbers { fixed: true },
    ),
    (
        Msg::HistogramPoint,
        7,
        "explicitBounds",
        Numbers { fixed: true },
    ),
    (Msg::HistogramPoint, 8, "exemplars", Many(Msg::Exemplar)),
    (Msg::HistogramPoint, 9, "attributes", Many(Msg::KeyValue)),
    (Msg::ExpHistogramPoint, 1, "attributes", Many(Msg::KeyValue)),
    (Msg::ExpHistogramPoint, 8, "positive", One(Msg::Buckets)),
    (Msg::ExpHistogramPoint, 9, "negative", One(Msg::Buckets)),
    (Msg::ExpHistogramPoint, 11, "exemplars", Many(Msg::Exemplar)),
    (Msg::Buckets, 2, "bucketCounts", Numbers { fixed: false }),
    (Msg::SummaryPoint, 6, "quantileValues", Many(Msg::Quantile)),
    (Msg::SummaryPoint, 7, "attributes", Many(Msg::KeyValue)),
    (Msg::Exemplar, 4, "spanId", Text),
    (Msg::Exemplar, 5, "traceId", Text),
    (Msg::Exemplar, 7, "filteredAttributes", Many(Msg::KeyValue)),
    (Msg::ResourceLogs, 1, "resource", One(Msg::Resource)),
    (Msg::ResourceLogs, 2, "scopeLogs", Many(Msg::ScopeLogs)),
    (Msg::ResourceLogs, 3, "schemaUrl", Text),
    (Msg::ScopeLogs, 1, "scope", One(Msg::Scope)),
    (Msg::ScopeLogs, 2, "logRecords", Many(Msg::LogRecord)),
    (Msg::ScopeLogs, 3, "schemaUrl", Text),
    (Msg::LogRecord, 3, "severityText", Text),
    (Msg::LogRecord, 5, "body", One(Msg::AnyValue)),
    (Msg::LogRecord, 6, "attributes", Many(Msg::KeyValue)),
    (Msg::LogRecord, 9, "traceId", Text),
    (Msg::LogRecord, 10, "spanId", Text),
    (Msg::LogRecord, 12, "eventName", Text),
    (Msg::ResourceSpans, 1, "resource", One(Msg::Resource)),
    (Msg::ResourceSpans, 2, "scopeSpans", Many(Msg::ScopeSpans)),
    (Msg::ResourceSpans, 3, "schemaUrl", Text),
    (Msg::ScopeSpans, 1, "scope", One(Msg::Scope)),
    (Msg::ScopeSpans, 2, "spans", Many(Msg::Span)),
    (Msg::ScopeSpans, 3, "schemaUrl", Text),
    (Msg::Span, 1, "traceId", Text),
    (Msg::Span, 2, "spanId", Text),
    (Msg::Span, 3, "traceState", Text),
    (Msg::Span, 4, "parentSpanId", Text),
    (Msg::Span, 5, "name", Text),
    (Msg::Span, 9, "attributes", Many(Msg::KeyValue)),
    (Msg::Span, 11, "events", Many(Msg::Event)),
    (Msg::Span, 13, "links", Many(Msg::Link)),
    (Msg::Span, 15, "status", One(Msg::Status)),
    (Msg::Event, 2, "name", Text),
    (Msg::Event, 3, "attributes", Many(Msg::KeyValue)),
    (Msg::Link, 1, "traceId", Text),
    (Msg::Link, 2, "spanId", Text),
    (Msg::Link, 3, "traceState", Text),
    (Msg::Link, 4, "attributes", Many(Msg::KeyValue)),
    (Msg::Status, 2, "message", Text),
    (Msg::Resource, 1, "attributes", Many(Msg::KeyValue)),
    (Msg::Resource, 3, "entityRefs", Many(Msg::EntityRef)),
    (Msg::Scope, 1, "name", Text),
    (Msg::Scope, 2, "version", Text),
    (Msg::Scope, 3, "attributes", Many(Msg::KeyValue)),
    (Msg::EntityRef, 1, "schemaUrl", Text),
    (Msg::EntityRef, 2, "type", Text),
    (Msg::EntityRef, 3, "idKeys", Texts),
    (Msg::EntityRef, 4, "descriptionKeys", Texts),
    (Msg::KeyValue, 1, "key", Text),
    (Msg::KeyValue, 2, "value", One(Msg::AnyValue)),
    (Msg::AnyValue, 1, "stringValue", Text),
    (Msg::AnyValue, 5, "arrayValue", One(Msg::ArrayValue)),
    (Msg::AnyValue, 6, "kvlistValue", One(Msg::KeyValueList)),
    (Msg::AnyValue, 7, "bytesValue", Text),
    (Msg::ArrayValue, 1, "values", Many(Msg::AnyValue)),
    (Msg::KeyValueList, 1, "values", Many(Msg::KeyValue)),
];

/// One message's fields: (field number, JSON name, kind).
type Fields = Vec<(u32, &'static str, Kind)>;

/// [`FIELDS`] grouped by message, built once. A lookup scans the few fields
/// of one message (at most nine) where a scan of the whole table, for every
/// field of every body, was a tenth of the request side's CPU (BENCHMARKS.md §5).
fn fields_of(m: Msg) -> &'static [(u32, &'static str, Kind)] {
    static BY_MSG: OnceLock<Vec<Fields>> = OnceLock::new();
    let by_msg = BY_MSG.get_or_init(|| {
        let n = FIELDS.iter().map(|f| f.0 as usize + 1).max().unwrap_or(0);
        let mut by_msg: Vec<Fields> = vec![Vec::new(); n];
        for &(msg, num, json, kind) in FIELDS {
            by_msg[msg as usize].push((num, json, kind));
        }
        by_msg
    });
    // A message with no allocating field has no entry.
    by_msg.get(m as usize).map_or(&[], Vec::as_slice)
}

fn by_number(m: Msg, n: u32) -> Option<Kind> {
    fields_of(m)
        .iter()
        .find(|(num, _, _)| *num == n)
        .map(|f| f.2)
}

fn by_name(m: Msg, name: &str) -> Option<Kind> {
    fields_of(m)
        .iter()
        .find(|(_, json, _)| *json == name)
        .map(|f| f.2)
}

/// Why a body could not be walked. Names the problem, never the data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Malformed(pub String);

fn malformed(what: &str) -> Malformed {
    Malformed(what.to_string())
}

// ---- protobuf ------------------------------------------------------------------

fn varint(buf: &mut &[u8]) -> Result<u64, Malformed> {
    let mut v: u64 = 0;
    for i in 0..10 {
        let (&b, rest) = buf
            .split_first()
            .ok_or_else(|| malformed("the protobuf body ends inside a number"))?;
        *buf = rest;
        v |= u64::from(b & 0x7f) << (7 * i);
        if b < 0x80 {
            return Ok(v);
        }
    }
    Err(malformed(
        "the protobuf body holds a number longer than 10 bytes",
    ))
}

fn take<'a>(buf: &mut &'a [u8], n: u64) -> Result<&'a [u8], Malformed> {
    let n = usize::try_from(n).map_err(|_| malformed("a protobuf length is out of range"))?;
    if n > buf.len() {
        return Err(malformed(
            "a protobuf field is longer than what is left of the body",
        ));
    }
    let (head, rest) = buf.split_at(n);
    *buf = rest;
    Ok(head)
}

/// Walks one message, adding to `cost`; stops early (`Ok`) once `cost`
/// passes `limit`: the body is refused then, the rest need not be read.
fn pb_message(
    m: Msg,
    mut buf: &[u8],
    depth: u32,
    cost: &mut u64,
    limit: u64,
) -> Result<(), Malformed> {
    if depth > MAX_DEPTH {
        return Err(malformed(&format!(
            "the protobuf body nests messages more than {MAX_DEPTH} deep"
        )));
    }
    // Repeated fields of this message that already allocated their `Vec`.
    let mut started: u64 = 0;
    let mut first = |field: u32, elem: u64, cost: &mut u64| {
        let bit = 1u64 << (field % 64);
        if started & bit == 0 {
            started |= bit;
            *cost = cost.saturating_add(ALLOC + 4 * elem);
        }
    };
    while !buf.is_empty() && *cost <= limit {
        let key = varint(&mut buf)?;
        let field =
            u32::try_from(key >> 3).map_err(|_| malformed("a field number is out of range"))?;
        let kind = by_number(m, field);
        match key & 7 {
            0 => {
                varint(&mut buf)?;
                if let Some(Numbers { .. }) = kind {
                    first(field, 8, cost);
                    *cost = cost.saturating_add(16);
                }
            }
            1 | 5 => {
                let n = if key & 7 == 1 { 8 } else { 4 };
                take(&mut buf, n)?;
                if let Some(Numbers { .. }) = kind {
                    first(field, 8, cost);
                    *cost = cost.saturating_add(16);
                }
            }
            2 => {
                let len = varint(&mut buf)?;
                let data = take(&mut buf, len)?;
                match kind {
                    Some(One(child)) => pb_message(child, data, depth + 1, cost, limit)?,
                    Some(Many(child)) => {
                        first(field, child.size(), cost);
                        *cost = cost.saturating_add(2 * child.size());
                        pb_message(child, data, depth + 1, cost, limit)?;
                    }
                    Some(Text) => *cost = cost.saturating_add(len + ALLOC),
                    Some(Texts) => {
                        first(field, 24, cost);
                        *cost = cost.saturating_add(48 + len + ALLOC);
                    }
                    Some(Numbers { fixed }) => {
                        first(field, 8, cost);
                        let count = if fixed { len / 8 } else { len };
                        *cost = cost.saturating_add(16u64.saturating_mul(count) + ALLOC);
                    }
                    // Unknown fields are skipped by the decoder without allocating.
                    None => {}
                }
            }
            _ => return Err(malformed(
                "the protobuf body uses a wire type OTLP never uses (groups or an invalid type)",
            )),
        }
    }
    Ok(())
}

/// What decoding `body` as the protobuf request `top` will allocate, in
/// bytes; once past `limit`, some figure above it (the walk stops there).
pub fn protobuf(top: Msg, body: &[u8], limit: u64) -> Result<u64, Malformed> {
    let mut cost = top.size();
    pb_message(top, body, 0, &mut cost, limit)?;
    Ok(cost)
}

// ---- JSON ----------------------------------------------------------------------------

/// What a JSON value is expected to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// A message (the object itself is inline in its parent or counted by the array).
    Message(Msg),
    /// An array of messages.
    Messages(Msg),
    Text,
    Texts,
    Numbers,
    /// Not in the schema: walked only when serde buffers it.
    Other,
}

struct Walk<'c> {
    limit: u64,
    expect: Expect,
    /// Inside a part serde buffers (`Content`) before deserialising.
    buffered: bool,
    depth: u32,
    cost: &'c Cell<u64>,
}

impl Walk<'_> {
    fn add(&self, n: u64) {
        self.cost.set(self.cost.get().saturating_add(n));
    }
    /// Stops the walk once the cost is past the limit (see [`json`]).
    fn check<E: de::Error>(&self) -> Result<(), E> {
        if self.cost.get() > self.limit {
            Err(E::custom("over the limit"))
        } else {
            Ok(())
        }
    }
    fn child(&self, expect: Expect, buffered: bool, depth: u32) -> Walk<'_> {
        Walk {
            limit: self.limit,
            expect,
            buffered,
            depth,
            cost: self.cost,
        }
    }
}

impl<'de> DeserializeSeed<'de> for Walk<'_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

/// Reads an object key without keeping it: its schema entry and its length.
struct Key(Option<Msg>);

impl<'de> DeserializeSeed<'de> for Key {
    type Value = (Option<Kind>, u64);
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for Key {
    type Value = (Option<Kind>, u64);
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object key")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok((self.0.and_then(|m| by_name(m, v)), v.len() as u64))
    }
}

impl<'de> Visitor<'de> for Walk<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an OTLP/JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        // JSON nests twice as deep as protobuf: each repeated field is an array level.
        if self.depth > 2 * MAX_DEPTH {
            return Err(de::Error::custom(format!(
                "the JSON body nests values more than {} deep",
                2 * MAX_DEPTH
            )));
        }
        let msg = match self.expect {
            Expect::Message(m) => Some(m),
            _ => None,
        };
        let flattens = msg.is_some_and(Msg::flattens);
        let mut entries: u64 = 0;
        while let Some((kind, key_len)) = map.next_key_seed(Key(msg))? {
            self.check()?;
            entries += 1;
            // A member serde does not know by name is buffered by a `flatten` parent.
            let buffered = self.buffered || (flattens && is_flattened(msg, kind));
            if buffered {
                self.add(key_len + ALLOC);
            }
            let expect = match kind {
                Some(One(m)) => Expect::Message(m),
                Some(Many(m)) => Expect::Messages(m),
                Some(Text) => Expect::Text,
                Some(Texts) => Expect::Texts,
                Some(Numbers { .. }) => Expect::Numbers,
                None if buffered => Expect::Other,
                None => {
                    map.next_value::<IgnoredAny>()?;
                    continue;
                }
            };
            map.next_value_seed(self.child(expect, buffered, self.depth + 1))?;
        }
        if self.buffered {
            self.add(ALLOC + 2 * CONTENT * entries.max(2) * 2);
        }
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        if self.depth > 2 * MAX_DEPTH {
            return Err(de::Error::custom(format!(
                "the JSON body nests values more than {} deep",
                2 * MAX_DEPTH
            )));
        }
        let (elem, size) = match self.expect {
            Expect::Messages(m) => (Expect::Message(m), m.size()),
            Expect::Texts => (Expect::Text, 24),
            Expect::Numbers => (Expect::Other, 8),
            // A list where the schema has none: the decoder refuses it, unless buffered.
            _ => (Expect::Other, 0),
        };
        // Each element costs its slot (twice: a Vec doubles) as it is walked,
        // so the limit stops a long array early; the first allocation holds at least two.
        let slot = 2 * size + if self.buffered { 2 * CONTENT } else { 0 };
        let mut n: u64 = 0;
        while seq
            .next_element_seed(self.child(elem, self.buffered, self.depth + 1))?
            .is_some()
        {
            n += 1;
            self.add(slot);
            self.check()?;
        }
        self.add(ALLOC + slot * 2u64.saturating_sub(n));
        if self.buffered {
            self.add(ALLOC);
        }
        Ok(())
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<(), E> {
        let len = v.len() as u64;
        if matches!(self.expect, Expect::Text) {
            self.add(len + ALLOC);
        }
        if self.buffered {
            self.add(len + ALLOC);
        }
        Ok(())
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_none<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }
}

/// Whether serde buffers this member of a `flatten` message: every member
/// of `AnyValue` (its only field is flattened), the metric data of `Metric`,
/// and members of the four that it does not know by name.
fn is_flattened(msg: Option<Msg>, kind: Option<Kind>) -> bool {
    matches!(
        (msg, kind),
        (Some(Msg::AnyValue), _) | (Some(Msg::Metric), Some(One(_))) | (_, None)
    )
}

/// What decoding `body` as the OTLP/JSON request `top` will allocate, in
/// bytes; once past `limit`, some figure above it (the walk stops there).
pub fn json(top: Msg, body: &[u8], limit: u64) -> Result<u64, Malformed> {
    let cost = Cell::new(top.size());
    let mut d = serde_json::Deserializer::from_slice(body);
    let walk = Walk {
        limit,
        expect: Expect::Message(top),
        buffered: false,
        depth: 0,
        cost: &cost,
    };
    let walked = walk.deserialize(&mut d).and_then(|()| d.end());
    if cost.get() > limit {
        return Ok(cost.get());
    }
    walked.map_err(|e| {
        // Our messages only: serde's may quote the data.
        Malformed(match e.classify() {
            serde_json::error::Category::Data => format!(
                "the JSON body nests values more than {} deep",
                2 * MAX_DEPTH
            ),
            serde_json::error::Category::Eof => format!(
                "the body ends before the JSON is complete (line {}, column {})",
                e.line(),
                e.column()
            ),
            _ => format!(
                "the body is not valid JSON (line {}, column {})",
                e.line(),
                e.column()
            ),
        })
    })?;
    Ok(cost.get())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use prost::Message;
    use scoreboard_test_support::otlp::empty_attributes;

    /// The per-message index must answer exactly what a scan of the whole
    /// table answers, for every field, so the estimate did not change with it.
    #[test]
    fn the_field_index_answers_what_the_whole_table_answers() {
        for &(msg, num, json, kind) in FIELDS {
            let first_by_number = FIELDS
                .iter()
                .find(|f| f.0 == msg && f.1 == num)
                .map(|f| f.3);
            let first_by_name = FIELDS
                .iter()
                .find(|f| f.0 == msg && f.2 == json)
                .map(|f| f.3);
            assert_eq!(by_number(msg, num), first_by_number, "{msg:?} {num}");
            assert_eq!(by_name(msg, json), first_by_name, "{msg:?} {json}");
            assert_eq!(first_by_number, Some(kind));
        }
        assert_eq!(by_number(Msg::KeyValue, 99), None);
        assert_eq!(by_name(Msg::Sum, "isMonotonic"), None);
        assert_eq!(by_number(Msg::Quantile, 1), None);
    }

    #[test]
    fn tiny_elements_are_charged_their_decoded_size_not_their_wire_size() {
        let req = empty_attributes(100_000);
        let wire = req.encode_to_vec();
        let est = protobuf(Msg::MetricsRequest, &wire, u64::MAX).unwrap();
        // 2 wire bytes per attribute, at least 64 decoded.
        assert!(wire.len() < 250_000, "{}", wire.len());
        assert!(est >= 100_000 * 64, "{est}");
        assert!(est <= 100_000 * 64 * 3, "not wildly above: {est}");
        let early = protobuf(Msg::MetricsRequest, &wire, 1_000_000).unwrap();
        assert!(
            early > 1_000_000 && early < est,
            "stops past the limit: {early}"
        );
        let json = serde_json::to_vec(&req).unwrap();
        let est_json = super::json(Msg::MetricsRequest, &json, u64::MAX).unwrap();
        assert!(est_json >= 100_000 * 64, "{est_json}");
        let early = super::json(Msg::MetricsRequest, &json, 1_000_000).unwrap();
        assert!(
            early > 1_000_000 && early < est_json,
            "stops past the limit: {early}"
        );
    }

    #[test]
    fn protobuf_and_json_of_the_same_request_agree_roughly() {
        let mut req = empty_attributes(0);
        let attrs = &mut req.resource_metrics[0]
            .resource
            .as_mut()
            .unwrap()
            .attributes;
        for i in 0..1000 {
            attrs.push(KeyValue {
                key: format!("attribute.{i}"),
                value: Some(AnyValue {
                    value: Some(
                        opentelemetry_proto::tonic::common::v1::any_value::Value::StringValue(
                            "x".repeat(40),
                        ),
                    ),
                }),
                ..Default::default()
            });
        }
        let pb = protobuf(Msg::MetricsRequest, &req.encode_to_vec(), u64::MAX).unwrap();
        let js = json(
            Msg::MetricsRequest,
            &serde_json::to_vec(&req).unwrap(),
            u64::MAX,
        )
        .unwrap();
        assert!(pb > 1000 * (64 + 40) && js >= pb, "{pb} {js}");
        assert!(js < pb * 4, "{pb} {js}");
    }

    #[test]
    fn deep_nesting_and_bad_wire_types_are_refused() {
        let mut v = AnyValue::default();
        for _ in 0..40 {
            v = AnyValue {
                value: Some(
                    opentelemetry_proto::tonic::common::v1::any_value::Value::ArrayValue(
                        ArrayValue { values: vec![v] },
                    ),
                ),
            };
        }
        let req = ExportLogsServiceRequest {
            resource_logs: vec![ResourceLogs {
                scope_logs: vec![ScopeLogs {
                    log_records: vec![LogRecord {
                        body: Some(v),
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
                ..Default::default()
            }],
        };
        assert!(protobuf(Msg::LogsRequest, &req.encode_to_vec(), u64::MAX).is_err());
        assert!(json(
            Msg::LogsRequest,
            &serde_json::to_vec(&req).unwrap(),
            u64::MAX
        )
        .is_err());
        assert!(
            protobuf(Msg::LogsRequest, &[0x0b], u64::MAX).is_err(),
            "start group"
        );
        assert!(
            protobuf(Msg::LogsRequest, &[0x0a, 0x05, 0x01], u64::MAX).is_err(),
            "cut short"
        );
    }
}
