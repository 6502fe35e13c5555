//! OTLP/HTTP endpoints (sources.md §6): `POST /v1/metrics`, `/v1/logs`, `/v1/traces`.
//!
//! Status codes follow what OTel clients do with them: 429, 502, 503 and
//! 504 are retried, everything else drops the batch. So bad input gets
//! 400/401/413/415 (never retried, the client's data is bad), and 503 with
//! Retry-After is kept for when the receiver sheds load (no free slot in
//! time, or SQLite stayed locked past the busy timeout).

use std::io::Read as _;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use chrono::Utc;
use http_body_util::BodyExt;
use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsPartialSuccess, ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsPartialSuccess, ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTracePartialSuccess, ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use prost::Message;
use sha2::{Digest, Sha256};

use crate::budget::{Exhausted, Reservation};
use crate::extract::Extracted;
use crate::store::Outcome;
use crate::{
    estimate, extract, model, AuthDenial, IngestDecision, IngestRefusal, OtlpError, Receiver,
    RefusedIngest, TokenId,
};

/// The OTLP/HTTP routes, state included. The server merges this into its
/// app, or serves it alone on a second listener (conventionally port 4318).
pub fn router(receiver: Arc<Receiver>) -> Router {
    Router::new()
        .route("/v1/metrics", post(metrics))
        .route("/v1/logs", post(logs))
        .route("/v1/traces", post(traces))
        .with_state(receiver)
}

// The whole request is taken, not `HeaderMap` + `Body`: axum's `HeaderMap`
// extractor clones the headers, on every telemetry request.
async fn metrics(State(rx): State<Arc<Receiver>>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    handle(rx, Signal::Metrics, parts.headers, body).await
}

async fn logs(State(rx): State<Arc<Receiver>>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    handle(rx, Signal::Logs, parts.headers, body).await
}

async fn traces(State(rx): State<Arc<Receiver>>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    handle(rx, Signal::Traces, parts.headers, body).await
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Signal {
    Metrics,
    Logs,
    Traces,
}

impl Signal {
    fn name(self) -> &'static str {
        match self {
            Signal::Metrics => "metrics",
            Signal::Logs => "logs",
            Signal::Traces => "traces",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Encoding {
    Json,
    Protobuf,
}

impl Encoding {
    fn content_type(self) -> &'static str {
        match self {
            Encoding::Json => "application/json",
            Encoding::Protobuf => "application/x-protobuf",
        }
    }
}

/// Why a request was refused. Messages are ours: they never quote the body.
enum Refusal {
    Unauthorized(AuthDenial),
    UnsupportedMediaType(&'static str),
    TooLarge(usize),
    /// The body would take more memory to decode than the budget allows.
    DecodesTooLarge {
        needs: u64,
        most: usize,
    },
    BadRequest(String),
    /// The body did not arrive within the deadline.
    SlowBody(std::time::Duration),
    Shed(&'static str),
    Internal(String),
}

impl Refusal {
    fn status(&self) -> StatusCode {
        match self {
            Refusal::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Refusal::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Refusal::TooLarge(_) | Refusal::DecodesTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Refusal::BadRequest(_) => StatusCode::BAD_REQUEST,
            Refusal::SlowBody(_) => StatusCode::REQUEST_TIMEOUT,
            Refusal::Shed(_) => StatusCode::SERVICE_UNAVAILABLE,
            Refusal::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// google.rpc.Code of the Status body.
    fn rpc_code(&self) -> i32 {
        match self {
            Refusal::Unauthorized(_) => 16, // UNAUTHENTICATED
            Refusal::UnsupportedMediaType(_) | Refusal::BadRequest(_) => 3, // INVALID_ARGUMENT
            Refusal::TooLarge(_) | Refusal::DecodesTooLarge { .. } => 8, // RESOURCE_EXHAUSTED
            Refusal::SlowBody(_) => 4,      // DEADLINE_EXCEEDED
            Refusal::Shed(_) => 14,         // UNAVAILABLE
            Refusal::Internal(_) => 13,     // INTERNAL
        }
    }

    /// The reason as the server counts it; `None` for our own failures.
    fn counted_as(&self) -> Option<IngestRefusal> {
        Some(match self {
            Refusal::Unauthorized(d) => IngestRefusal::Auth(*d),
            Refusal::UnsupportedMediaType(_) => IngestRefusal::UnsupportedMediaType,
            Refusal::TooLarge(_) | Refusal::DecodesTooLarge { .. } => IngestRefusal::TooLarge,
            Refusal::BadRequest(_) => IngestRefusal::BadRequest,
            Refusal::SlowBody(_) => IngestRefusal::SlowBody,
            Refusal::Shed(_) => IngestRefusal::Busy,
            Refusal::Internal(_) => return None,
        })
    }

    fn message(&self) -> String {
        match self {
            Refusal::Unauthorized(AuthDenial::Revoked) => {
                "this ingestion token has been revoked: install the settings of a new token \
                 (`scoreboard token create`)"
                    .to_string()
            }
            Refusal::Unauthorized(AuthDenial::WrongKind) => {
                "this token cannot send telemetry (it is a viewer or admin token): use an \
                 ingest token"
                    .to_string()
            }
            Refusal::Unauthorized(_) => {
                "missing or invalid ingestion token: send `Authorization: Bearer <token>` \
                 (OTEL_EXPORTER_OTLP_HEADERS=Authorization=Bearer <token>)"
                    .to_string()
            }
            Refusal::UnsupportedMediaType(m) => (*m).to_string(),
            Refusal::TooLarge(max) => {
                format!("request body is larger than {max} bytes after decompression")
            }
            Refusal::DecodesTooLarge { needs, most } => format!(
                "the request would take about {} MB of memory to decode, more than the {} MB \
                 this receiver decodes at once; send smaller batches",
                needs / 1_000_000 + 1,
                most / 1_000_000
            ),
            Refusal::SlowBody(d) => format!(
                "the request body did not arrive within {} seconds",
                d.as_secs()
            ),
            Refusal::BadRequest(m) | Refusal::Internal(m) => m.clone(),
            Refusal::Shed(m) => (*m).to_string(),
        }
    }
}

/// google.rpc.Status, the body of OTLP error replies (details left empty).
#[derive(Clone, PartialEq, prost::Message)]
struct RpcStatus {
    #[prost(int32, tag = "1")]
    code: i32,
    #[prost(string, tag = "2")]
    message: String,
}

fn reply(enc: Encoding, status: StatusCode, body: Vec<u8>) -> Response {
    let mut resp = (status, body).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(enc.content_type()),
    );
    resp
}

fn refuse(
    rx: &Receiver,
    signal: Signal,
    enc: Encoding,
    r: Refusal,
    token: Option<TokenId>,
) -> Response {
    let message = r.message();
    let status = r.status();
    match r.counted_as() {
        // Counted (and logged at a bounded rate) by the server.
        Some(reason) => rx.auth.refused(&RefusedIngest {
            signal: signal.name(),
            status: status.as_u16(),
            reason,
            token,
            message: &message,
        }),
        None => tracing::error!(
            signal = signal.name(),
            status = status.as_u16(),
            "OTLP request failed: {message}"
        ),
    }
    let body = match enc {
        Encoding::Json => serde_json::json!({ "code": r.rpc_code(), "message": message })
            .to_string()
            .into_bytes(),
        Encoding::Protobuf => RpcStatus {
            code: r.rpc_code(),
            message,
        }
        .encode_to_vec(),
    };
    let mut resp = reply(enc, status, body);
    match r {
        Refusal::Unauthorized(_) => {
            resp.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        Refusal::Shed(_) => {
            resp.headers_mut().insert(
                header::RETRY_AFTER,
                HeaderValue::from(rx.cfg.retry_after_seconds),
            );
        }
        _ => {}
    }
    resp
}

fn success(signal: Signal, enc: Encoding, o: &Outcome) -> Response {
    let partial = o.rejected > 0 || !o.message.is_empty();
    let rejected = i64::try_from(o.rejected).unwrap_or(i64::MAX);
    let body = match enc {
        Encoding::Json => {
            if partial {
                let count_key = match signal {
                    Signal::Metrics => "rejectedDataPoints",
                    Signal::Logs => "rejectedLogRecords",
                    Signal::Traces => "rejectedSpans",
                };
                // proto3 JSON writes int64 as a string.
                serde_json::json!({ "partialSuccess": { count_key: rejected.to_string(), "errorMessage": o.message } })
                    .to_string()
                    .into_bytes()
            } else {
                b"{}".to_vec()
            }
        }
        Encoding::Protobuf => {
            let error_message = o.message.clone();
            match signal {
                Signal::Metrics => ExportMetricsServiceResponse {
                    partial_success: partial.then_some(ExportMetricsPartialSuccess {
                        rejected_data_points: rejected,
                        error_message,
                    }),
                }
                .encode_to_vec(),
                Signal::Logs => ExportLogsServiceResponse {
                    partial_success: partial.then_some(ExportLogsPartialSuccess {
                        rejected_log_records: rejected,
                        error_message,
                    }),
                }
                .encode_to_vec(),
                Signal::Traces => ExportTraceServiceResponse {
                    partial_success: partial.then_some(ExportTracePartialSuccess {
                        rejected_spans: rejected,
                        error_message,
                    }),
                }
                .encode_to_vec(),
            }
        }
    };
    if partial {
        // Counted in the status (rejected points); a line each would let one
        // client fill the log.
        tracing::debug!(
            signal = signal.name(),
            rejected = o.rejected,
            "OTLP partial success: {}",
            o.message
        );
    }
    reply(enc, StatusCode::OK, body)
}

fn media_type(headers: &HeaderMap, name: header::HeaderName) -> Option<String> {
    let v = headers.get(name)?.to_str().ok()?;
    Some(
        v.split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase(),
    )
}

fn bearer(headers: &HeaderMap) -> Option<String> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, token) = v.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then(|| token.to_string())
}

async fn handle(rx: Arc<Receiver>, signal: Signal, headers: HeaderMap, body: Body) -> Response {
    let enc = match media_type(&headers, header::CONTENT_TYPE).as_deref() {
        Some("application/json") => Some(Encoding::Json),
        Some("application/x-protobuf") => Some(Encoding::Protobuf),
        _ => None,
    };
    let reply_enc = enc.unwrap_or(Encoding::Json);
    let max = rx.cfg.max_decompressed_bytes;

    // Asked on every request, so a revoked token stops working at once,
    // and right here: the check answers from memory or with a short read
    // (`IngestAuth`), and the hand-off to a blocking thread and back cost
    // more than that (BENCHMARKS.md §5).
    let decision = rx.auth.check(bearer(&headers).as_deref());
    let token = match decision {
        IngestDecision::Granted(t) => t,
        IngestDecision::Denied(why, t) => {
            discard(body, max).await;
            return refuse(&rx, signal, reply_enc, Refusal::Unauthorized(why), t);
        }
        IngestDecision::Unavailable => {
            discard(body, max).await;
            let r =
                Refusal::Shed("the token could not be checked; retry after the Retry-After delay");
            return refuse(&rx, signal, reply_enc, r, None);
        }
    };
    let refuse = |enc: Encoding, r: Refusal| refuse(&rx, signal, enc, r, token);
    let Some(enc) = enc else {
        discard(body, max).await;
        return refuse(
            reply_enc,
            Refusal::UnsupportedMediaType(
                "Content-Type must be application/json or application/x-protobuf \
                 (set OTEL_EXPORTER_OTLP_PROTOCOL=http/json or http/protobuf)",
            ),
        );
    };
    let gzip = match media_type(&headers, header::CONTENT_ENCODING).as_deref() {
        None | Some("") | Some("identity") => false,
        Some("gzip") | Some("x-gzip") => true,
        Some(_) => {
            discard(body, max).await;
            let r = Refusal::UnsupportedMediaType("Content-Encoding must be gzip or absent");
            return refuse(enc, r);
        }
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > max as u64) {
        // Read what is reasonable so the client sees the 413 rather than a
        // reset connection: all of a body up to twice the limit, as a
        // chunked one is read (`read_capped`; reading only `max` of it left
        // the rest unsent, and the client's upload broke on the closed
        // connection); past twice the limit, just close.
        if declared.is_some_and(|n| n <= 2 * max as u64) {
            discard(body, 2 * max).await;
        }
        return refuse(enc, Refusal::TooLarge(max));
    }

    // The body is read before a processing slot is taken, under a deadline
    // and with its bytes reserved from the memory budget as they arrive: a
    // slow upload holds neither a slot nor more memory than it sent.
    let mut reservation = rx.budget.reserve();
    let deadline = rx.cfg.body_timeout;
    let wire =
        match tokio::time::timeout(deadline, read_capped(body, max, declared, &mut reservation))
            .await
        {
            Ok(Ok(wire)) => wire,
            Ok(Err(r)) => return refuse(enc, r),
            Err(_) => return refuse(enc, Refusal::SlowBody(deadline)),
        };

    // A slot bounds the decoding done on blocking threads (the writer's
    // queue is bounded on its own); a large request also needs the one
    // large slot (for measuring, decoding and storing), so large requests
    // take at most one core and never crowd out the small batches
    // engineers send.
    let wait = rx.cfg.queue_timeout;
    let busy = || Refusal::Shed("the receiver is busy; retry after the Retry-After delay");
    let internal = || Refusal::Internal("the request could not be processed".to_string());
    let large_slot = |rx: Arc<Receiver>| async move {
        tokio::time::timeout(wait, rx.large_slots.clone().acquire_owned())
            .await
            .ok()
            .and_then(Result::ok)
    };
    let mut large = None;
    if reservation.is_large() {
        let Some(p) = large_slot(rx.clone()).await else {
            return refuse(enc, busy());
        };
        large = Some(p);
    }

    let inline = !gzip && large.is_none() && wire.len() <= INLINE_BYTES;
    let one_pass = match (inline, enc, signal) {
        (true, Encoding::Json, Signal::Metrics | Signal::Logs) => {
            decode_one_pass(&rx, signal, &wire, &mut reservation)
        }
        _ => None,
    };
    let decoded = if let Some(decoded) = one_pass {
        drop(wire);
        decoded
    } else if inline {
        // A batch as Claude Code sends it (a few kB, uncompressed) is
        // measured and decoded right here: the two hand-offs to a blocking
        // thread and back cost more than that (BENCHMARKS.md §5).
        prepare(&rx, signal, enc, false, wire, &mut reservation)
            .and_then(|body| decode_request(&rx, signal, enc, &body, false))
    } else {
        // Decompressing and measuring what decoding will allocate happen on
        // a blocking thread; the reservation grows with them.
        let worker = rx.clone();
        let prepared = tokio::task::spawn_blocking(move || {
            let r = prepare(&worker, signal, enc, gzip, wire, &mut reservation);
            (r, reservation)
        })
        .await;
        let body;
        (body, reservation) = match prepared {
            Ok((Ok(body), reservation)) => (body, reservation),
            Ok((Err(r), _)) => return refuse(enc, r),
            Err(_) => return refuse(enc, internal()),
        };
        if reservation.is_large() && large.is_none() {
            // Small on the wire, large once decompressed.
            let Some(p) = large_slot(rx.clone()).await else {
                return refuse(enc, busy());
            };
            large = Some(p);
        }
        let Ok(Ok(permit)) = tokio::time::timeout(wait, rx.slots.clone().acquire_owned()).await
        else {
            return refuse(enc, busy());
        };
        // Decoding takes a slot (and a blocking thread).
        let worker = rx.clone();
        tokio::task::spawn_blocking(move || {
            let _slot = permit;
            decode_request(&worker, signal, enc, &body, true)
        })
        .await
        .unwrap_or_else(|_| Err(internal()))
    };
    // Storing happens on the writer thread, in a group with the requests
    // that wait with this one. The memory reserved (and the large slot) are
    // kept until the commit: the extracted facts live until then.
    let (digest, extracted) = match decoded {
        Ok(Some(d)) => d,
        Ok(None) => return success(signal, enc, &Outcome::nothing()),
        Err(r) => return refuse(enc, r),
    };
    let stored = rx.store.apply(digest, extracted, token, Utc::now()).await;
    drop((large, reservation));
    match stored {
        Ok(outcome) => success(signal, enc, &outcome),
        Err(OtlpError::Busy(_)) => refuse(
            enc,
            Refusal::Shed("the telemetry database is busy; retry after the Retry-After delay"),
        ),
        Err(OtlpError::QueueFull) => refuse(enc, busy()),
        Err(other) => refuse(
            enc,
            Refusal::Internal(format!("could not store the telemetry: {other}")),
        ),
    }
}

/// Uncompressed bodies up to this size are decoded on the async thread that
/// read them: Claude Code's batches are 1–5 kB, and whatever 32 KiB holds,
/// decoding it stays short (nesting and attributes are capped, and the
/// decoded size is measured and reserved first, as for any body).
const INLINE_BYTES: usize = 32 * 1024;

fn shed_memory(e: Exhausted, most: usize, needs: u64) -> Refusal {
    match e {
        Exhausted::Now => Refusal::Shed(
            "the receiver's memory is taken by other requests; retry after the Retry-After delay",
        ),
        Exhausted::Never => Refusal::DecodesTooLarge { needs, most },
    }
}

/// Reads a body (sized or chunked) up to `max` bytes, reserving its bytes.
async fn read_capped(
    mut body: Body,
    max: usize,
    declared: Option<u64>,
    reservation: &mut Reservation,
) -> Result<Vec<u8>, Refusal> {
    let hint = declared.map_or(0, |n| usize::try_from(n).unwrap_or(max).min(max));
    reservation
        .cover(hint)
        .map_err(|e| shed_memory(e, max, hint as u64))?;
    let mut buf: Vec<u8> = Vec::with_capacity(hint);
    while let Some(frame) = body.frame().await {
        let Ok(frame) = frame else {
            return Err(Refusal::BadRequest(
                "the request body could not be read".to_string(),
            ));
        };
        if let Some(data) = frame.data_ref() {
            if buf.len() + data.len() > max {
                discard(body, max).await;
                return Err(Refusal::TooLarge(max));
            }
            // A Vec grows by doubling: reserve what this one will grow to.
            let len = buf.len() + data.len();
            let cap = if len > buf.capacity() {
                len.max(buf.capacity().saturating_mul(2))
            } else {
                buf.capacity()
            };
            reservation
                .cover(cap)
                .map_err(|e| shed_memory(e, max, cap as u64))?;
            buf.extend_from_slice(data);
        }
    }
    Ok(buf)
}

/// The body decompressed, with the memory decoding it will take reserved.
fn prepare(
    rx: &Receiver,
    signal: Signal,
    enc: Encoding,
    gzip: bool,
    wire: Vec<u8>,
    reservation: &mut Reservation,
) -> Result<Vec<u8>, Refusal> {
    let max = rx.cfg.max_decompressed_bytes;
    let most = rx.budget.largest_request_bytes();
    let body = if gzip {
        let unzipped = gunzip_capped(&wire, max, |total| {
            reservation
                .cover(wire.len().saturating_add(total))
                .map_err(|e| shed_memory(e, most, total as u64))
        })?;
        drop(wire);
        unzipped
    } else {
        wire
    };
    let top = match signal {
        Signal::Metrics => estimate::Msg::MetricsRequest,
        Signal::Logs => estimate::Msg::LogsRequest,
        Signal::Traces => estimate::Msg::TracesRequest,
    };
    let kind = match signal {
        Signal::Metrics => "ExportMetricsServiceRequest",
        Signal::Logs => "ExportLogsServiceRequest",
        Signal::Traces => "ExportTraceServiceRequest",
    };
    // The walk stops once the request could never fit: nothing more to learn.
    let limit = most as u64;
    let decoded = match enc {
        Encoding::Json => estimate::json(top, &body, limit)
            .map_err(|m| format!("{}; expected an OTLP/JSON {kind}", m.0)),
        Encoding::Protobuf => estimate::protobuf(top, &body, limit)
            .map_err(|m| format!("the body is not a valid protobuf {kind}: {}", m.0)),
    }
    .map_err(Refusal::BadRequest)?;
    let needs = (body.len() as u64).saturating_add(decoded);
    reservation
        .cover(usize::try_from(needs).unwrap_or(usize::MAX))
        .map_err(|e| shed_memory(e, most, needs))?;
    Ok(body)
}

/// Reads and drops what is left of a refused request's body (at most `cap`
/// bytes, for at most a few seconds). Answering without reading it makes
/// the connection close under a client still sending, which then sees a
/// broken pipe instead of the status that tells it what to do.
async fn discard(mut body: Body, cap: usize) {
    let drain = async {
        let mut seen = 0usize;
        while let Some(Ok(frame)) = body.frame().await {
            if let Some(d) = frame.data_ref() {
                seen = seen.saturating_add(d.len());
                if seen > cap {
                    break;
                }
            }
        }
    };
    let _ = tokio::time::timeout(std::time::Duration::from_secs(5), drain).await;
}

/// Decompresses with a hard cap: a gzip bomb is abandoned as soon as it
/// passes `max` bytes, and the output buffer never grows beyond `max`.
/// `grow` is told the buffer's size before each growth (it reserves memory).
/// The decoder inflates straight into the output buffer: no chunk buffer
/// to allocate and copy out of.
fn gunzip_capped(
    wire: &[u8],
    max: usize,
    mut grow: impl FnMut(usize) -> Result<(), Refusal>,
) -> Result<Vec<u8>, Refusal> {
    let corrupt = || {
        Refusal::BadRequest("Content-Encoding is gzip but the body is not valid gzip".to_string())
    };
    let mut dec = flate2::read::MultiGzDecoder::new(wire);
    let first = wire.len().saturating_mul(4).min(max);
    grow(first)?;
    let mut out = vec![0u8; first];
    let mut len = 0;
    loop {
        if len == out.len() {
            if len >= max {
                // Full at the limit: one byte more is too large.
                let mut probe = [0u8; 1];
                return match dec.read(&mut probe) {
                    Ok(0) => {
                        out.truncate(len);
                        Ok(out)
                    }
                    Ok(_) => Err(Refusal::TooLarge(max)),
                    Err(_) => Err(corrupt()),
                };
            }
            // Grow geometrically, but never past the limit.
            let target = len.saturating_mul(2).max(4096).min(max);
            grow(target)?;
            out.resize(target, 0);
        }
        match dec.read(&mut out[len..]) {
            Ok(0) => {
                out.truncate(len);
                return Ok(out);
            }
            Ok(n) => len += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => return Err(corrupt()),
        }
    }
}

/// Describes a JSON error by position and kind only: serde's own message can
/// quote the offending value, which may be prompt text.
fn json_error(kind: &str, e: &serde_json::Error) -> String {
    let what = match e.classify() {
        serde_json::error::Category::Io => "could not be read",
        serde_json::error::Category::Syntax => "is not valid JSON",
        serde_json::error::Category::Data => "has a field of the wrong type or value",
        serde_json::error::Category::Eof => "ends before the JSON is complete",
    };
    format!(
        "the body {what} (line {}, column {}); expected an OTLP/JSON {kind}",
        e.line(),
        e.column()
    )
}

fn decode<T>(enc: Encoding, body: &[u8], kind: &str) -> Result<T, Refusal>
where
    T: Message + Default + serde::de::DeserializeOwned,
{
    match enc {
        Encoding::Json => {
            serde_json::from_slice(body).map_err(|e| Refusal::BadRequest(json_error(kind, &e)))
        }
        Encoding::Protobuf => T::decode(body).map_err(|e| {
            // prost's message names fields and wire types, never data.
            Refusal::BadRequest(format!("the body is not a valid protobuf {kind}: {e}"))
        }),
    }
}

/// A small uncompressed JSON body read in one pass ([`model`]), with no
/// walk of it first: the memory that decoding can take is bounded by its
/// shape ([`model::one_pass_bound`], a count of its `{`) and reserved before,
/// then given back down to what the facts kept until the commit hold.
/// `None` when the body is not the plain shape the one-pass decoder knows:
/// it is then measured and decoded the general way, which gives the
/// receiver's answer to anything odd or bad.
fn decode_one_pass(
    rx: &Receiver,
    signal: Signal,
    body: &[u8],
    reservation: &mut Reservation,
) -> Option<Decoded> {
    let before = reservation.held();
    // What the body holds (already reserved) plus what decoding it can take.
    // Too deep for the one-pass decoder, or more than the budget can give
    // on its count of `{`: the general path measures the body and answers.
    let needs = body.len().saturating_add(model::one_pass_bound(body)?);
    if reservation.cover(needs).is_err() {
        reservation.release_to(before);
        return None;
    }
    let id_attr = rx.cfg.identity_attribute.as_deref();
    let limits = extract::Limits::from(&rx.cfg);
    // An export with no resource at all stores nothing (see `decode_request`).
    let extracted = match signal {
        Signal::Metrics => model::MetricsReq::from_json(body).map(|req| {
            (!req.resource_metrics.is_empty()).then(|| extract::metrics(&req, id_attr, &limits))
        }),
        Signal::Logs => model::LogsReq::from_json(body).map(|req| {
            (!req.resource_logs.is_empty()).then(|| extract::logs(&req, id_attr, &limits))
        }),
        Signal::Traces => None,
    };
    let Some(extracted) = extracted else {
        // Left to the general decoder, which reserves what it needs.
        reservation.release_to(before);
        return None;
    };
    reservation.release_to(
        body.len()
            .max(extracted.as_ref().map_or(0, Extracted::heap_bytes)),
    );
    let Some(extracted) = extracted else {
        return Some(Ok(None));
    };
    let digest = digest_of(signal, body, &extracted);
    Some(Ok(Some((digest, extracted))))
}

/// What decoding a request gives: its digest and facts, `None` when it
/// stores nothing, or the refusal.
type Decoded = Result<Option<([u8; 32], Extracted)>, Refusal>;

/// The request decoded and reduced to what is stored, with the digest of
/// its body (a re-sent body is recognised by it); `None` when there is
/// nothing to store.
/// `one_pass`: try the one-pass JSON decoder first (not when it already
/// gave up on this body).
fn decode_request(
    rx: &Receiver,
    signal: Signal,
    enc: Encoding,
    body: &[u8],
    one_pass: bool,
) -> Decoded {
    let one_pass = one_pass && enc == Encoding::Json;
    let id_attr = rx.cfg.identity_attribute.as_deref();
    let limits = extract::Limits::from(&rx.cfg);
    // An export with no resource at all (what `scoreboard token check`
    // sends) has passed the token check and stores nothing: it must not
    // move "last received" or count as a batch.
    //
    // OTLP/JSON is read in one pass into borrowed structs when it has the
    // plain shape Claude Code sends; anything else (and every bad body) goes
    // through the general decoder, whose answers are the receiver's.
    let extracted = match signal {
        Signal::Metrics => {
            let general: ExportMetricsServiceRequest;
            let req = match model::MetricsReq::from_json_if(one_pass, body) {
                Some(req) => req,
                None => {
                    general = decode(enc, body, "ExportMetricsServiceRequest")?;
                    model::MetricsReq::from(&general)
                }
            };
            if req.resource_metrics.is_empty() {
                return Ok(None);
            }
            extract::metrics(&req, id_attr, &limits)
        }
        Signal::Logs => {
            let general: ExportLogsServiceRequest;
            let req = match model::LogsReq::from_json_if(one_pass, body) {
                Some(req) => req,
                None => {
                    general = decode(enc, body, "ExportLogsServiceRequest")?;
                    model::LogsReq::from(&general)
                }
            };
            if req.resource_logs.is_empty() {
                return Ok(None);
            }
            extract::logs(&req, id_attr, &limits)
        }
        Signal::Traces => {
            // Checked so a broken exporter hears about it, then discarded.
            let _req: ExportTraceServiceRequest = decode(enc, body, "ExportTraceServiceRequest")?;
            return Ok(None);
        }
    };
    let digest = digest_of(signal, body, &extracted);
    Ok(Some((digest, extracted)))
}

/// The digest a re-sent body is recognised by.
fn digest_of(signal: Signal, body: &[u8], extracted: &Extracted) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(signal.name().as_bytes());
    h.update([0u8]);
    h.update(body);
    let hash: [u8; 32] = h.finalize().into();
    // The same body gives the same extraction, so the same digest; its
    // time first keeps the digests of one moment on the same pages of
    // `otlp_batches` (a random digest dirtied a page of its own per
    // request). 24 bytes of SHA-256 stay far from any collision.
    let mut digest = [0u8; 32];
    digest[..8].copy_from_slice(&extracted.latest_time_ns().to_be_bytes());
    digest[8..].copy_from_slice(&hash[..24]);
    digest
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use scoreboard_test_support::otlp::gzip;

    /// Inflating straight into the output buffer keeps the cap exact: a
    /// body of exactly `max` bytes is taken, one byte more is a 413, and
    /// every growth is announced before it happens, never past `max`.
    #[test]
    fn gunzip_takes_a_body_of_exactly_the_limit_and_refuses_one_byte_more() {
        let body: Vec<u8> = (0..100_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let mut grown = Vec::new();
        let out = gunzip_capped(&gzip(&body), body.len(), |n| {
            grown.push(n);
            Ok(())
        });
        assert_eq!(out.ok(), Some(body.clone()));
        assert!(grown.windows(2).all(|w| w[0] < w[1]), "{grown:?}");
        assert!(grown.iter().all(|&n| n <= body.len()), "{grown:?}");

        let over = gunzip_capped(&gzip(&body), body.len() - 1, |_| Ok(()));
        assert!(matches!(over, Err(Refusal::TooLarge(_))));

        for small in [&b""[..], b"{}"] {
            let out = gunzip_capped(&gzip(small), 16, |_| Ok(()));
            assert_eq!(out.ok().as_deref(), Some(small));
        }
        assert!(matches!(
            gunzip_capped(b"not gzip at all", 1024, |_| Ok(())),
            Err(Refusal::BadRequest(_))
        ));
    }
}
