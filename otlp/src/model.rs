//! An OTLP request as the allow-list reads it: the few fields `extract`
//! uses, with strings borrowed from the body wherever they can be.
//!
//! Two ways in:
//! - OTLP/JSON in one pass ([`MetricsReq::from_json`], [`LogsReq::from_json`]):
//!   serde straight into these structs, strings borrowed from the body (owned
//!   only when the JSON escapes them), no generic value and no `flatten`
//!   buffering. It is strict on purpose: every field of the message is
//!   declared with the type the general decoder (opentelemetry-proto's serde
//!   derive) gives it, and anything else (an unknown or repeated field, a
//!   `null`, an AnyValue of another kind, a second value on a point, a metric
//!   that is not a Sum) makes it give up. The caller then decodes the body
//!   with the general decoder, so what that accepts and refuses, and its
//!   error messages, stay what they were; whatever this decoder accepts, the
//!   general one accepts with the same values (`otlp/tests/json_one_pass.rs`
//!   holds it to that over the fixtures and thousands of mutations of them).
//! - From a decoded protobuf (or a body the general JSON decoder took):
//!   `From<&ExportMetricsServiceRequest>` and `From<&ExportLogsServiceRequest>`,
//!   borrowing every string from the decoded message.
//!
//! Fields of type `()` are checked (their type, as the general decoder
//! would) and not kept.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
use opentelemetry_proto::tonic::metrics::v1::{metric, number_data_point};
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::Deserialize;

/// An attribute value (OTLP `AnyValue`); an `AnyValue` with no value is `None`
/// where one can appear.
#[derive(Debug, Clone, PartialEq)]
pub enum Val<'a> {
    Str(Cow<'a, str>),
    Bool(bool),
    Int(i64),
    Double(f64),
    Array(Vec<Option<Val<'a>>>),
    Kvlist(Vec<Kv<'a>>),
    Bytes(Cow<'a, [u8]>),
    Strindex(i32),
}

/// One attribute (OTLP `KeyValue`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, bound(deserialize = "'de: 'a"))]
pub struct Kv<'a> {
    #[serde(borrow)]
    pub key: Cow<'a, str>,
    #[serde(deserialize_with = "present")]
    pub value: Option<Val<'a>>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(
    deny_unknown_fields,
    rename_all = "camelCase",
    bound(deserialize = "'de: 'a")
)]
pub struct MetricsReq<'a> {
    #[serde(default, deserialize_with = "objects")]
    pub resource_metrics: Vec<ResourceMetrics<'a>>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(
    deny_unknown_fields,
    rename_all = "camelCase",
    bound(deserialize = "'de: 'a")
)]
pub struct ResourceMetrics<'a> {
    /// The resource's attributes (none when it has no resource).
    #[serde(default, deserialize_with = "resource")]
    pub resource: Vec<Kv<'a>>,
    #[serde(default, deserialize_with = "objects")]
    pub scope_metrics: Vec<ScopeMetrics<'a>>,
    #[serde(default, deserialize_with = "text_checked")]
    schema_url: (),
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(
    deny_unknown_fields,
    rename_all = "camelCase",
    bound(deserialize = "'de: 'a")
)]
pub struct ScopeMetrics<'a> {
    /// The instrumentation scope's name ("" without a scope).
    #[serde(default, deserialize_with = "scope_name")]
    pub scope: Cow<'a, str>,
    #[serde(default, deserialize_with = "objects")]
    pub metrics: Vec<Metric<'a>>,
    #[serde(default, deserialize_with = "text_checked")]
    schema_url: (),
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(
    deny_unknown_fields,
    rename_all = "camelCase",
    bound(deserialize = "'de: 'a")
)]
pub struct Metric<'a> {
    #[serde(borrow, default)]
    pub name: Cow<'a, str>,
    #[serde(default, deserialize_with = "text_checked")]
    description: (),
    #[serde(default, deserialize_with = "text_checked")]
    unit: (),
    #[serde(default, deserialize_with = "attributes_checked")]
    metadata: (),
    /// A JSON metric is taken here only as a Sum (what Claude Code sends).
    #[serde(rename = "sum", deserialize_with = "sum")]
    pub data: Data<'a>,
}

/// A metric's data, as far as the allow-list cares.
#[derive(Debug, Clone, PartialEq)]
pub enum Data<'a> {
    Sum(Sum<'a>),
    /// A Gauge, Histogram, ExponentialHistogram or Summary of this many points.
    NotASum(usize),
    /// No data (the general JSON decoder leaves it out when a value inside
    /// it has the wrong type).
    Missing,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(
    deny_unknown_fields,
    rename_all = "camelCase",
    bound(deserialize = "'de: 'a")
)]
pub struct Sum<'a> {
    #[serde(default, deserialize_with = "objects")]
    pub data_points: Vec<NumberPoint<'a>>,
    #[serde(default)]
    pub aggregation_temporality: i32,
    #[serde(default, deserialize_with = "bool_checked")]
    is_monotonic: (),
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(
    deny_unknown_fields,
    rename_all = "camelCase",
    bound(deserialize = "'de: 'a")
)]
pub struct NumberPoint<'a> {
    #[serde(default, deserialize_with = "objects")]
    pub attributes: Vec<Kv<'a>>,
    #[serde(default, deserialize_with = "nanos")]
    pub start_time_unix_nano: u64,
    #[serde(default, deserialize_with = "nanos")]
    pub time_unix_nano: u64,
    #[serde(default, deserialize_with = "u32_checked")]
    flags: (),
    #[serde(default, deserialize_with = "empty_checked")]
    exemplars: (),
    #[serde(default, deserialize_with = "as_double")]
    as_double: Option<Number>,
    #[serde(default, deserialize_with = "as_int")]
    as_int: Option<Number>,
}

/// A data point's value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Number {
    Double(f64),
    Int(i64),
}

impl NumberPoint<'_> {
    pub fn value(&self) -> Option<Number> {
        self.as_double.or(self.as_int)
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(
    deny_unknown_fields,
    rename_all = "camelCase",
    bound(deserialize = "'de: 'a")
)]
pub struct LogsReq<'a> {
    #[serde(default, deserialize_with = "objects")]
    pub resource_logs: Vec<ResourceLogs<'a>>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(
    deny_unknown_fields,
    rename_all = "camelCase",
    bound(deserialize = "'de: 'a")
)]
pub struct ResourceLogs<'a> {
    #[serde(default, deserialize_with = "resource")]
    pub resource: Vec<Kv<'a>>,
    #[serde(default, deserialize_with = "objects")]
    pub scope_logs: Vec<ScopeLogs<'a>>,
    #[serde(default, deserialize_with = "text_checked")]
    schema_url: (),
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(
    deny_unknown_fields,
    rename_all = "camelCase",
    bound(deserialize = "'de: 'a")
)]
pub struct ScopeLogs<'a> {
    #[serde(default, deserialize_with = "scope_checked")]
    scope: (),
    #[serde(default, deserialize_with = "objects")]
    pub log_records: Vec<LogRecord<'a>>,
    #[serde(default, deserialize_with = "text_checked")]
    schema_url: (),
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(
    deny_unknown_fields,
    rename_all = "camelCase",
    bound(deserialize = "'de: 'a")
)]
pub struct LogRecord<'a> {
    #[serde(default, deserialize_with = "nanos")]
    pub time_unix_nano: u64,
    #[serde(default, deserialize_with = "nanos")]
    pub observed_time_unix_nano: u64,
    #[serde(default, deserialize_with = "i32_checked")]
    severity_number: (),
    #[serde(default, deserialize_with = "text_checked")]
    severity_text: (),
    #[serde(default, deserialize_with = "present")]
    pub body: Option<Val<'a>>,
    #[serde(default, deserialize_with = "objects")]
    pub attributes: Vec<Kv<'a>>,
    #[serde(default, deserialize_with = "u32_checked")]
    dropped_attributes_count: (),
    #[serde(default, deserialize_with = "u32_checked")]
    flags: (),
    #[serde(default, deserialize_with = "hex_checked")]
    trace_id: (),
    #[serde(default, deserialize_with = "hex_checked")]
    span_id: (),
    #[serde(borrow, default)]
    pub event_name: Cow<'a, str>,
}

impl<'a> MetricsReq<'a> {
    /// [`MetricsReq::from_json`] when `json`, else `None`.
    pub fn from_json_if(json: bool, body: &'a [u8]) -> Option<MetricsReq<'a>> {
        json.then(|| MetricsReq::from_json(body)).flatten()
    }

    /// The one-pass decoder; `None` when the body is anything but the plain
    /// shape it knows (the caller then decodes it the general way).
    pub fn from_json(body: &'a [u8]) -> Option<MetricsReq<'a>> {
        let req: MetricsReq<'a> = from_utf8_json::<Obj<_>>(body)?.0;
        // A point with both a double and an int value: the general decoder
        // keeps one of them, which is its business, not this decoder's.
        let single_values = req
            .resource_metrics
            .iter()
            .flat_map(|r| &r.scope_metrics)
            .flat_map(|s| &s.metrics)
            .all(|m| match &m.data {
                Data::Sum(s) => s
                    .data_points
                    .iter()
                    .all(|p| p.as_double.is_none() || p.as_int.is_none()),
                _ => true,
            });
        single_values.then_some(req)
    }
}

impl<'a> LogsReq<'a> {
    /// [`LogsReq::from_json`] when `json`, else `None`.
    pub fn from_json_if(json: bool, body: &'a [u8]) -> Option<LogsReq<'a>> {
        json.then(|| LogsReq::from_json(body)).flatten()
    }

    /// The one-pass decoder; `None` when the body is anything but the plain
    /// shape it knows (the caller then decodes it the general way).
    pub fn from_json(body: &'a [u8]) -> Option<LogsReq<'a>> {
        from_utf8_json::<Obj<_>>(body).map(|r| r.0)
    }
}

/// `body` decoded as JSON, `None` if it is not valid UTF-8 or not `T`.
/// The body's UTF-8 is checked once, in bulk (the standard library's check
/// runs through ASCII a word at a time), instead of string by string as
/// `serde_json::from_slice` does: for a valid body both decode the same
/// values, and a body that is not UTF-8 goes to the general decoder, whose
/// refusal is the receiver's.
fn from_utf8_json<'a, T: Deserialize<'a>>(body: &'a [u8]) -> Option<T> {
    serde_json::from_str(std::str::from_utf8(body).ok()?).ok()
}

/// The most the one-pass decoder can allocate for `body`, found without
/// decoding it: a body is decoded with that much reserved and no walk of
/// it first. It allocates lists, strings copied out of escaped ones (and
/// serde_json's scratch buffer for them), each no longer than the body.
/// Every element of every list is a JSON object (`Obj`; an AnyValue is an
/// object too), so no list has more elements than there are `{` outside
/// strings in the body; a list's capacity is at most twice its length, or
/// 4 for a short one, and a list may be copied once when its wrapper is
/// taken off. So lists take at most 8 × the largest element × that count.
/// A Claude Code batch of 5 kB has about a hundred `{`: under 100 kB
/// reserved, for the moment it is decoded.
///
/// `None` when the body nests as deep as the general path's walk refuses
/// ([`crate::estimate::MAX_DEPTH`]): the one-pass decoder has no depth cap
/// of its own, and such a body must get the same refusal whichever way it
/// was sent (inline, gzipped or large).
pub fn one_pass_bound(body: &[u8]) -> Option<usize> {
    let mut count = Brackets::default();
    let mut i = 0;
    while let Some(&b) = body.get(i) {
        i += 1;
        match b {
            // Inside a string only `\\` (the next byte is taken as it is)
            // and the closing `"` matter: jump from one to the next
            // (memchr), where a byte-by-byte loop spent most of its time
            // in the keys, ids and values of a body.
            b'"' => loop {
                let Some(at) = body.get(i..).and_then(|r| memchr::memchr2(b'"', b'\\', r)) else {
                    // A string left open runs to the end of the body.
                    i = body.len();
                    break;
                };
                let quote = body.get(i + at) == Some(&b'"');
                i += at + if quote { 1 } else { 2 };
                if quote {
                    break;
                }
            },
            _ => count.see(b)?,
        }
    }
    Some(count.bound(body.len()))
}

/// The brackets [`one_pass_bound`] counts outside strings.
#[derive(Default)]
struct Brackets {
    objects: usize,
    depth: usize,
}

impl Brackets {
    /// `None` once nested as deep as the general path's walk refuses (a
    /// level early: the general path gives the exact answer).
    fn see(&mut self, b: u8) -> Option<()> {
        match b {
            b'{' | b'[' => {
                self.objects += usize::from(b == b'{');
                self.depth += 1;
                (self.depth < 2 * crate::estimate::MAX_DEPTH as usize).then_some(())
            }
            b'}' | b']' => {
                self.depth = self.depth.saturating_sub(1);
                Some(())
            }
            _ => Some(()),
        }
    }

    fn bound(&self, body_len: usize) -> usize {
        self.objects
            .saturating_mul(8 * largest_element())
            .saturating_add(2 * body_len)
    }
}

const fn largest_element() -> usize {
    use std::mem::size_of;
    let sizes = [
        size_of::<ResourceMetrics<'_>>(),
        size_of::<ScopeMetrics<'_>>(),
        size_of::<Metric<'_>>(),
        size_of::<NumberPoint<'_>>(),
        size_of::<ResourceLogs<'_>>(),
        size_of::<ScopeLogs<'_>>(),
        size_of::<LogRecord<'_>>(),
        size_of::<Kv<'_>>(),
        size_of::<Option<Val<'_>>>(),
        size_of::<Val<'_>>(),
    ];
    let mut max = 0;
    let mut i = 0;
    while i < sizes.len() {
        if sizes[i] > max {
            max = sizes[i];
        }
        i += 1;
    }
    max
}

// ---------------------------------------------------------------------------
// JSON field decoders: each accepts what the general decoder accepts for the
// field, or less, and gives the same value.

/// A message only as a JSON object. serde's derive also takes a struct
/// written as an array of its fields, which the general decoder does not do
/// everywhere (not where a field is `flatten`ed): such a body is left to it.
#[repr(transparent)]
struct Obj<T>(T);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Obj<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = T;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
                T::deserialize(de::value::MapAccessDeserializer::new(map))
            }
        }
        d.deserialize_map(V(PhantomData)).map(Obj)
    }
}

/// A list of messages, each a JSON object.
fn objects<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Vec<T>, D::Error> {
    // `Obj` is transparent: collecting reuses the list's allocation.
    Ok(Vec::<Obj<T>>::deserialize(d)?
        .into_iter()
        .map(|o| o.0)
        .collect())
}

/// A present, non-null AnyValue.
fn present<'de: 'a, 'a, D: Deserializer<'de>>(d: D) -> Result<Option<Val<'a>>, D::Error> {
    Val::deserialize(d).map(Some)
}

fn text_checked<'de, D: Deserializer<'de>>(d: D) -> Result<(), D::Error> {
    Text::deserialize(d).map(|_| ())
}

fn u32_checked<'de, D: Deserializer<'de>>(d: D) -> Result<(), D::Error> {
    u32::deserialize(d).map(|_| ())
}

fn i32_checked<'de, D: Deserializer<'de>>(d: D) -> Result<(), D::Error> {
    i32::deserialize(d).map(|_| ())
}

fn bool_checked<'de, D: Deserializer<'de>>(d: D) -> Result<(), D::Error> {
    bool::deserialize(d).map(|_| ())
}

/// An empty list (`exemplars`, `entityRefs`: never sent by Claude Code,
/// written empty by some encoders); a list with anything in it is left to
/// the general decoder.
fn empty_checked<'de, D: Deserializer<'de>>(d: D) -> Result<(), D::Error> {
    match Vec::<de::IgnoredAny>::deserialize(d)?.len() {
        0 => Ok(()),
        _ => Err(de::Error::custom("a list this decoder does not read")),
    }
}

fn attributes_checked<'de, D: Deserializer<'de>>(d: D) -> Result<(), D::Error> {
    objects::<D, Kv<'de>>(d).map(|_| ())
}

/// A trace or span id: hex digits, two a byte (what `const_hex` decodes).
fn hex_checked<'de, D: Deserializer<'de>>(d: D) -> Result<(), D::Error> {
    let s = Text::deserialize(d)?.0;
    if s.len() % 2 == 0 && s.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(())
    } else {
        Err(de::Error::custom("not a hex id"))
    }
}

fn resource<'de: 'a, 'a, D: Deserializer<'de>>(d: D) -> Result<Vec<Kv<'a>>, D::Error> {
    // The `()` fields are checked by deserializing them, never read.
    #[allow(dead_code)]
    #[derive(Deserialize)]
    #[serde(
        deny_unknown_fields,
        rename_all = "camelCase",
        bound(deserialize = "'de: 'a")
    )]
    struct Resource<'a> {
        #[serde(default, deserialize_with = "objects")]
        attributes: Vec<Kv<'a>>,
        #[serde(default, deserialize_with = "u32_checked")]
        dropped_attributes_count: (),
        #[serde(default, deserialize_with = "empty_checked")]
        entity_refs: (),
    }
    Obj::<Resource>::deserialize(d).map(|r| r.0.attributes)
}

fn scope_name<'de: 'a, 'a, D: Deserializer<'de>>(d: D) -> Result<Cow<'a, str>, D::Error> {
    #[allow(dead_code)]
    #[derive(Deserialize)]
    #[serde(
        deny_unknown_fields,
        rename_all = "camelCase",
        bound(deserialize = "'de: 'a")
    )]
    struct Scope<'a> {
        #[serde(borrow, default)]
        name: Cow<'a, str>,
        #[serde(default, deserialize_with = "text_checked")]
        version: (),
        #[serde(default, deserialize_with = "attributes_checked")]
        attributes: (),
        #[serde(default, deserialize_with = "u32_checked")]
        dropped_attributes_count: (),
    }
    Obj::<Scope>::deserialize(d).map(|s| s.0.name)
}

fn scope_checked<'de, D: Deserializer<'de>>(d: D) -> Result<(), D::Error> {
    scope_name(d).map(|_| ())
}

fn sum<'de: 'a, 'a, D: Deserializer<'de>>(d: D) -> Result<Data<'a>, D::Error> {
    Obj::<Sum>::deserialize(d).map(|s| Data::Sum(s.0))
}

/// Nanoseconds: a JSON number or a string holding one (proto3 JSON writes
/// 64-bit integers as strings).
fn nanos<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    struct V;
    impl Visitor<'_> for V {
        type Value = u64;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a u64 or a string holding one")
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<u64, E> {
            Ok(v)
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<u64, E> {
            u64::try_from(v).map_err(E::custom)
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<u64, E> {
            v.parse().map_err(E::custom)
        }
    }
    d.deserialize_any(V)
}

/// An int64 as a number or a string (the `asInt` of a point, `intValue`).
struct Int64;

impl Visitor<'_> for Int64 {
    type Value = i64;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an i64 or a string holding one")
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<i64, E> {
        Ok(v)
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<i64, E> {
        i64::try_from(v).map_err(E::custom)
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<i64, E> {
        v.parse().map_err(E::custom)
    }
}

fn as_int<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Number>, D::Error> {
    d.deserialize_any(Int64).map(|i| Some(Number::Int(i)))
}

fn as_double<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Number>, D::Error> {
    // serde's f64 takes JSON integers too, as the general decoder does.
    f64::deserialize(d).map(|x| Some(Number::Double(x)))
}

/// A JSON string, borrowed from the body unless it holds escapes.
struct Text<'a>(Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = Text<'a>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Text<'a>, E> {
                Ok(Text(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Text<'a>, E> {
                Ok(Text(Cow::Owned(v.to_string())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Text<'a>, E> {
                Ok(Text(Cow::Owned(v)))
            }
        }
        d.deserialize_str(V(PhantomData))
    }
}

/// An AnyValue with exactly one of the value kinds Claude Code sends.
impl<'de: 'a, 'a> Deserialize<'de> for Val<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(field_identifier)]
        enum Kind {
            #[serde(rename = "stringValue")]
            Str,
            #[serde(rename = "boolValue")]
            Bool,
            #[serde(rename = "intValue")]
            Int,
            #[serde(rename = "doubleValue")]
            Double,
            #[serde(rename = "arrayValue")]
            Array,
            #[serde(rename = "kvlistValue")]
            Kvlist,
        }
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields, bound(deserialize = "T: Deserialize<'de>"))]
        struct Values<T> {
            #[serde(deserialize_with = "objects")]
            values: Vec<T>,
        }
        struct Element<'a>(Val<'a>);
        impl<'de: 'a, 'a> Deserialize<'de> for Element<'a> {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                Val::deserialize(d).map(Element)
            }
        }
        struct V<'a>(PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = Val<'a>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an AnyValue with one value")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Val<'a>, A::Error> {
                let Some(kind) = map.next_key::<Kind>()? else {
                    return Err(de::Error::custom("an AnyValue without a value"));
                };
                let v = match kind {
                    Kind::Str => Val::Str(map.next_value::<Text<'a>>()?.0),
                    Kind::Bool => Val::Bool(map.next_value()?),
                    Kind::Int => Val::Int(map.next_value::<IntValue>()?.0),
                    Kind::Double => Val::Double(map.next_value()?),
                    Kind::Array => Val::Array(
                        map.next_value::<Values<Element<'a>>>()?
                            .values
                            .into_iter()
                            .map(|e| Some(e.0))
                            .collect(),
                    ),
                    Kind::Kvlist => Val::Kvlist(map.next_value::<Obj<Values<Kv<'a>>>>()?.0.values),
                };
                if map.next_key::<Kind>()?.is_some() {
                    return Err(de::Error::custom("an AnyValue with two values"));
                }
                Ok(v)
            }
        }
        d.deserialize_map(V(PhantomData))
    }
}

struct IntValue(i64);

impl<'de> Deserialize<'de> for IntValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(Int64).map(IntValue)
    }
}

// ---------------------------------------------------------------------------
// From the decoded protobuf (or the general JSON decoder's message).

fn val(v: &any_value::Value) -> Val<'_> {
    use any_value::Value as V;
    match v {
        V::StringValue(s) => Val::Str(Cow::Borrowed(s)),
        V::BoolValue(b) => Val::Bool(*b),
        V::IntValue(i) => Val::Int(*i),
        V::DoubleValue(d) => Val::Double(*d),
        V::ArrayValue(a) => Val::Array(a.values.iter().map(any_val).collect()),
        V::KvlistValue(kv) => Val::Kvlist(kvs(&kv.values)),
        V::BytesValue(b) => Val::Bytes(Cow::Borrowed(b)),
        V::StringValueStrindex(i) => Val::Strindex(*i),
    }
}

fn any_val(v: &AnyValue) -> Option<Val<'_>> {
    v.value.as_ref().map(val)
}

fn kvs(attrs: &[KeyValue]) -> Vec<Kv<'_>> {
    attrs
        .iter()
        .map(|kv| Kv {
            key: Cow::Borrowed(&kv.key),
            value: kv.value.as_ref().and_then(any_val),
        })
        .collect()
}

impl<'a> From<&'a ExportMetricsServiceRequest> for MetricsReq<'a> {
    fn from(req: &'a ExportMetricsServiceRequest) -> MetricsReq<'a> {
        MetricsReq {
            resource_metrics: req
                .resource_metrics
                .iter()
                .map(|rm| ResourceMetrics {
                    resource: rm
                        .resource
                        .as_ref()
                        .map_or_else(Vec::new, |r| kvs(&r.attributes)),
                    scope_metrics: rm
                        .scope_metrics
                        .iter()
                        .map(|sm| ScopeMetrics {
                            scope: Cow::Borrowed(sm.scope.as_ref().map_or("", |s| &s.name)),
                            metrics: sm.metrics.iter().map(metric_of).collect(),
                            schema_url: (),
                        })
                        .collect(),
                    schema_url: (),
                })
                .collect(),
        }
    }
}

fn metric_of(m: &opentelemetry_proto::tonic::metrics::v1::Metric) -> Metric<'_> {
    use metric::Data as D;
    let data = match &m.data {
        Some(D::Sum(s)) => Data::Sum(Sum {
            data_points: s
                .data_points
                .iter()
                .map(|p| {
                    let (as_double, as_int) = match p.value {
                        Some(number_data_point::Value::AsDouble(x)) => {
                            (Some(Number::Double(x)), None)
                        }
                        Some(number_data_point::Value::AsInt(i)) => (None, Some(Number::Int(i))),
                        None => (None, None),
                    };
                    NumberPoint {
                        attributes: kvs(&p.attributes),
                        start_time_unix_nano: p.start_time_unix_nano,
                        time_unix_nano: p.time_unix_nano,
                        flags: (),
                        exemplars: (),
                        as_double,
                        as_int,
                    }
                })
                .collect(),
            aggregation_temporality: s.aggregation_temporality,
            is_monotonic: (),
        }),
        Some(D::Gauge(x)) => Data::NotASum(x.data_points.len()),
        Some(D::Histogram(x)) => Data::NotASum(x.data_points.len()),
        Some(D::ExponentialHistogram(x)) => Data::NotASum(x.data_points.len()),
        Some(D::Summary(x)) => Data::NotASum(x.data_points.len()),
        None => Data::Missing,
    };
    Metric {
        name: Cow::Borrowed(&m.name),
        description: (),
        unit: (),
        metadata: (),
        data,
    }
}

impl<'a> From<&'a ExportLogsServiceRequest> for LogsReq<'a> {
    fn from(req: &'a ExportLogsServiceRequest) -> LogsReq<'a> {
        LogsReq {
            resource_logs: req
                .resource_logs
                .iter()
                .map(|rl| ResourceLogs {
                    resource: rl
                        .resource
                        .as_ref()
                        .map_or_else(Vec::new, |r| kvs(&r.attributes)),
                    scope_logs: rl
                        .scope_logs
                        .iter()
                        .map(|sl| ScopeLogs {
                            scope: (),
                            log_records: sl
                                .log_records
                                .iter()
                                .map(|r| LogRecord {
                                    time_unix_nano: r.time_unix_nano,
                                    observed_time_unix_nano: r.observed_time_unix_nano,
                                    severity_number: (),
                                    severity_text: (),
                                    body: r.body.as_ref().and_then(any_val),
                                    attributes: kvs(&r.attributes),
                                    dropped_attributes_count: (),
                                    flags: (),
                                    trace_id: (),
                                    span_id: (),
                                    event_name: Cow::Borrowed(&r.event_name),
                                })
                                .collect(),
                            schema_url: (),
                        })
                        .collect(),
                    schema_url: (),
                })
                .collect(),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use prost::Message;
    use scoreboard_test_support::otlp::{capture, scenarios, VERSIONS};

    /// Every captured metrics and logs body as JSON: the JSON ones as sent,
    /// and every one (protobuf included) as opentelemetry-proto writes it
    /// (the shape the bench sends).
    fn json_bodies() -> &'static [(bool, Vec<u8>)] {
        static BODIES: std::sync::OnceLock<Vec<(bool, Vec<u8>)>> = std::sync::OnceLock::new();
        BODIES.get_or_init(read_json_bodies)
    }

    fn read_json_bodies() -> Vec<(bool, Vec<u8>)> {
        let mut out = Vec::new();
        for version in VERSIONS {
            for scenario in scenarios(version) {
                for c in capture(version, &scenario) {
                    let metrics = match c.path.as_str() {
                        "/v1/metrics" => true,
                        "/v1/logs" => false,
                        _ => continue,
                    };
                    let body = c.decoded_body().unwrap();
                    let rewritten = match (metrics, c.is_protobuf()) {
                        (true, true) => serde_json::to_vec(
                            &ExportMetricsServiceRequest::decode(&body[..]).unwrap(),
                        ),
                        (true, false) => serde_json::to_vec(
                            &serde_json::from_slice::<ExportMetricsServiceRequest>(&body).unwrap(),
                        ),
                        (false, true) => serde_json::to_vec(
                            &ExportLogsServiceRequest::decode(&body[..]).unwrap(),
                        ),
                        (false, false) => serde_json::to_vec(
                            &serde_json::from_slice::<ExportLogsServiceRequest>(&body).unwrap(),
                        ),
                    };
                    out.push((metrics, rewritten.unwrap()));
                    if !c.is_protobuf() {
                        out.push((metrics, body));
                    }
                }
            }
        }
        out
    }

    /// What the one-pass decoder makes of `body`, checked against the
    /// general decoder: `Some(true)` when it took the body (and agreed).
    fn agrees(metrics: bool, body: &[u8]) -> bool {
        if metrics {
            let Some(fast) = MetricsReq::from_json(body) else {
                return false;
            };
            let general: ExportMetricsServiceRequest =
                serde_json::from_slice(body).unwrap_or_else(|e| {
                    panic!(
                        "one pass took what the general decoder refuses ({e}): {}",
                        String::from_utf8_lossy(body)
                    )
                });
            assert_eq!(
                fast,
                MetricsReq::from(&general),
                "{}",
                String::from_utf8_lossy(body)
            );
        } else {
            let Some(fast) = LogsReq::from_json(body) else {
                return false;
            };
            let general: ExportLogsServiceRequest =
                serde_json::from_slice(body).unwrap_or_else(|e| {
                    panic!(
                        "one pass took what the general decoder refuses ({e}): {}",
                        String::from_utf8_lossy(body)
                    )
                });
            assert_eq!(
                fast,
                LogsReq::from(&general),
                "{}",
                String::from_utf8_lossy(body)
            );
        }
        true
    }

    #[test]
    fn every_captured_json_body_is_read_in_one_pass_as_the_general_decoder_reads_it() {
        let bodies = json_bodies();
        assert!(bodies.len() > 50, "{}", bodies.len());
        for (metrics, body) in bodies {
            assert!(
                agrees(*metrics, body),
                "the one-pass decoder gave up on {}",
                String::from_utf8_lossy(body)
            );
        }
    }

    /// One change to a JSON document, somewhere in it.
    #[derive(Debug, Clone)]
    enum Mutation {
        Remove,
        Replace(serde_json::Value),
        AddField(String, serde_json::Value),
    }

    fn any_json() -> impl Strategy<Value = serde_json::Value> {
        use serde_json::json;
        prop_oneof![
            Just(json!(null)),
            Just(json!(true)),
            Just(json!(0)),
            Just(json!(-1)),
            Just(json!(1.5)),
            Just(json!(2)),
            Just(json!(18446744073709551615u64)),
            Just(json!("")),
            Just(json!("12")),
            Just(json!("-3")),
            Just(json!("NaN")),
            Just(json!("abc")),
            Just(json!("0a1B")),
            Just(json!([])),
            Just(json!([{"stringValue": "x"}])),
            Just(json!({})),
            Just(json!({"stringValue": "x"})),
            Just(json!({"intValue": "7"})),
            Just(json!({"intValue": 7, "stringValue": "y"})),
            Just(json!({"bytesValue": "AAEC"})),
            Just(json!({"arrayValue": {"values": []}})),
            Just(json!({"kvlistValue": {"values": [{"key": "k", "value": {"boolValue": false}}]}})),
            Just(json!({"values": []})),
            Just(json!({"key": "k"})),
        ]
    }

    fn mutation() -> impl Strategy<Value = Mutation> {
        prop_oneof![
            Just(Mutation::Remove),
            any_json().prop_map(Mutation::Replace),
            (
                prop_oneof![
                    Just("sum".to_string()),
                    Just("gauge".to_string()),
                    Just("asInt".to_string()),
                    Just("asDouble".to_string()),
                    Just("exemplars".to_string()),
                    Just("entityRefs".to_string()),
                    Just("keyStrindex".to_string()),
                    Just("unknownField".to_string()),
                    Just("value".to_string()),
                    Just("body".to_string()),
                ],
                any_json()
            )
                .prop_map(|(k, v)| Mutation::AddField(k, v)),
        ]
    }

    /// Applies `m` at the `at`-th node (objects, arrays and scalars in
    /// document order, wrapping around).
    fn mutate(doc: &mut serde_json::Value, at: usize, m: &Mutation) {
        fn count(v: &serde_json::Value) -> usize {
            1 + match v {
                serde_json::Value::Array(a) => a.iter().map(count).sum(),
                serde_json::Value::Object(o) => o.values().map(count).sum(),
                _ => 0,
            }
        }
        fn go(v: &mut serde_json::Value, at: &mut usize, m: &Mutation) -> bool {
            if let serde_json::Value::Object(o) = v {
                let keys: Vec<String> = o.keys().cloned().collect();
                for k in keys {
                    if *at == 0 {
                        match m {
                            Mutation::Remove => {
                                o.remove(&k);
                            }
                            Mutation::Replace(x) => {
                                o.insert(k, x.clone());
                            }
                            Mutation::AddField(f, x) => {
                                o.insert(f.clone(), x.clone());
                            }
                        }
                        return true;
                    }
                    *at -= 1;
                    if go(o.get_mut(&k).unwrap(), at, m) {
                        return true;
                    }
                }
            } else if let serde_json::Value::Array(a) = v {
                for x in a.iter_mut() {
                    if *at == 0 {
                        match m {
                            Mutation::Replace(y) => *x = y.clone(),
                            _ => *x = serde_json::Value::Null,
                        }
                        return true;
                    }
                    *at -= 1;
                    if go(x, at, m) {
                        return true;
                    }
                }
            }
            false
        }
        let n = count(doc);
        let mut at = at % n;
        go(doc, &mut at, m);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1000))]

        /// Whatever the one-pass decoder takes, the general decoder takes
        /// too, with the same values: the receiver's answers cannot depend
        /// on which of the two read a body.
        #[test]
        fn what_the_one_pass_decoder_takes_the_general_one_takes_alike(
            pick in any::<usize>(),
            edits in proptest::collection::vec((any::<usize>(), mutation()), 1..3),
        ) {
            let bodies = json_bodies();
            let (metrics, body) = &bodies[pick % bodies.len()];
            let mut doc: serde_json::Value = serde_json::from_slice(body).unwrap();
            for (at, m) in &edits {
                mutate(&mut doc, *at, m);
            }
            let _ = agrees(*metrics, &serde_json::to_vec(&doc).unwrap());
        }
    }

    /// The scan before it jumped through strings with memchr: one byte at a time.
    fn bound_byte_by_byte(body: &[u8]) -> Option<usize> {
        let mut count = Brackets::default();
        let (mut in_string, mut escaped) = (false, false);
        for &b in body {
            match b {
                _ if in_string && escaped => escaped = false,
                b'\\' if in_string => escaped = true,
                b'"' => in_string = !in_string,
                _ if in_string => {}
                _ => count.see(b)?,
            }
        }
        Some(count.bound(body.len()))
    }

    proptest! {
        /// Strings (escapes, a string left open, a `\\` as the last byte)
        /// hide brackets from the bound exactly as a byte-by-byte scan does.
        #[test]
        fn the_bound_skips_strings_as_a_byte_by_byte_scan_does(
            body in proptest::collection::vec(
                proptest::sample::select(b"{}[]\"\\a:,".to_vec()), 0..200)
        ) {
            prop_assert_eq!(one_pass_bound(&body), bound_byte_by_byte(&body));
        }
    }

    #[test]
    fn the_bound_of_a_capture_is_what_a_byte_by_byte_scan_gives() {
        for (_, body) in json_bodies() {
            assert_eq!(one_pass_bound(body), bound_byte_by_byte(body));
        }
        let deep = "[".repeat(200);
        assert_eq!(one_pass_bound(deep.as_bytes()), None);
    }

    #[test]
    fn the_bound_of_what_one_pass_takes_stays_small_for_claude_codes_batches() {
        eprintln!("largest element: {} bytes", largest_element());
        for (_, body) in json_bodies() {
            let bound = one_pass_bound(body).expect("a real batch nests shallowly");
            // The small requests' share of the budget (a quarter of 256 MiB)
            // holds hundreds of these at once.
            assert!(
                bound < 64 * body.len() + 4096,
                "{bound} for {} bytes",
                body.len()
            );
        }
    }

    #[test]
    fn repeated_fields_and_escaped_strings_are_left_to_the_general_decoder_or_read_alike() {
        let dup = br#"{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"timeUnixNano":"1","timeUnixNano":"2"}]}]}]}"#;
        assert!(LogsReq::from_json(dup).is_none());
        let escaped = br#"{"resourceLogs":[{"resource":{"attributes":[{"key":"user.em\u0061il","value":{"stringValue":"a\"b@c.d"}}]},"scopeLogs":[]}]}"#;
        assert!(agrees(false, escaped));
        let both = br#"{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"m","sum":{"dataPoints":[{"asInt":"1","asDouble":2}]}}]}]}]}"#;
        assert!(MetricsReq::from_json(both).is_none());
    }
}
