//! `GET /api/rows`: the server's person-day rows of a range, as JSON (the
//! default) or in core's compact encoding (`Accept:
//! application/vnd.scoreboard.rows`, [`scoreboard_core::api::rows_wire`]),
//! with an `ETag` per data version and a change cursor (issue 13).
//!
//! - **Unchanged:** the `ETag` names the data version
//!   ([`crate::state::AppState::data_version`], the one `/api/report`'s cache
//!   uses), the range and the server's day; `If-None-Match` with it is
//!   answered `304 Not Modified`, no body.
//! - **Changed:** `?cursor=` (the last answer's `cursor`) makes the answer a
//!   delta: only the rows of the parts that changed since, each part named
//!   in `delta.replaced` so the asker drops what it held there. A part is a
//!   source-day for the Anthropic APIs (the store's `row_changes`, migration
//!   6: a re-fetched day replaces the whole day) and a person for telemetry
//!   (everyone telemetry heard from since the cursor, less 30 s for
//!   batches still being committed; telemetry of a person may land on any
//!   day). A change of the exports folder, another range, an unreadable
//!   cursor or one from before a restart give a full answer instead.
//!
//! Every answer is written from its rows as they are read
//! (`load::AnswerRows::walk`: the exports folder's, the store's straight from
//! SQLite, telemetry's), into the compact encoder or as JSON text row by
//! row, so its making costs about its body, never a `DayRow` per row; a
//! JSON body past [`ROWS_MAX_JSON_BODY`] is refused (`413`) rather than
//! made. A delta walks the full answer's rows in its scopes (so a file's
//! row under a re-fetched day comes with it), reading only the replaced
//! days of the store. Either is, byte for byte, the answer
//! [`loaded_answer`] makes from `load::load_rows`'s table (the same walk,
//! collected: what `/api/report` reads) and the answer the tests work out
//! from the sources apart from `walk` (`tests/rows_streamed.rs`).

use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};
use std::sync::OnceLock;

use axum::body::Bytes;

use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Duration as Days, NaiveDate, Utc};
use scoreboard_core::api::rows_wire;
use scoreboard_core::api::{RowScope, RowsAnswer, RowsDelta};
use scoreboard_core::{PersonKey, Source, SourceCoverage};
use serde::{Deserialize, Serialize};

use crate::error::{blocking, ApiError};
use crate::load::{load_rows, AnswerRow, AnswerRows};
use crate::state::{AppState, FullAnswer, ROWS_MAX_JSON_BODY};

/// The longest range `/api/rows` answers in one call.
pub const MAX_RANGE_DAYS: i64 = 800;

/// Telemetry from a person stamped this long before the cursor's newest
/// counts as new again. A request is stamped (`last_received_at`) when it is
/// handed to the receiver's writer and becomes visible when its group
/// commits, so one may show after a later-stamped one: the writer gives up
/// after its busy timeout (5 s by default), so 30 s covers any that commits.
/// Sending a person's rows twice is harmless (a delta replaces them).
const TELEMETRY_MARGIN_MS: i64 = 30 * 1000;

#[derive(Deserialize)]
pub(crate) struct RowsQuery {
    from: Option<String>,
    to: Option<String>,
    cursor: Option<String>,
}

/// A `from`/`to` query parameter, read by core's one reader of days.
pub(crate) fn query_day(name: &str, value: &str) -> Result<NaiveDate, ApiError> {
    scoreboard_core::parse::parse_day(value)
        .map_err(|why| ApiError::bad_request(format!("`{name}` {why}: got {value:?}")))
}

/// This process's start, in every `ETag` and cursor: the store's write
/// counter and the exports folder's generation start again at a restart.
fn boot() -> u64 {
    static BOOT: OnceLock<u64> = OnceLock::new();
    *BOOT.get_or_init(|| {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        t ^ u64::from(std::process::id()).rotate_left(48)
    })
}

/// Where an answer left its asker.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Cursor {
    boot: u64,
    from: NaiveDate,
    to: NaiveDate,
    /// The store's newest change ([`crate::store::Store::change_seq`]).
    store_seq: i64,
    /// When telemetry was looked at (the receiver's clock, ms).
    telemetry_ms: i64,
    /// The exports folder's generation (0: no folder).
    imports: u64,
}

impl Cursor {
    fn write(&self) -> String {
        format!(
            "c1.{:x}.{}.{}.{}.{}.{}",
            self.boot, self.from, self.to, self.store_seq, self.telemetry_ms, self.imports
        )
    }

    fn read(text: &str) -> Option<Cursor> {
        let mut p = text.split('.');
        if p.next()? != "c1" {
            return None;
        }
        let c = Cursor {
            boot: u64::from_str_radix(p.next()?, 16).ok()?,
            from: p.next()?.parse().ok()?,
            to: p.next()?.parse().ok()?,
            store_seq: p.next()?.parse().ok()?,
            telemetry_ms: p.next()?.parse().ok()?,
            imports: p.next()?.parse().ok()?,
        };
        p.next().is_none().then_some(c)
    }
}

/// True when the asker wants the compact encoding.
fn wants_compact(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|v| v.split(';').next().map(str::trim) == Some(rows_wire::CONTENT_TYPE))
}

/// True when `If-None-Match` names `etag` (or `*`).
fn not_modified(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .any(|t| {
            t == "*" || t == etag || t.strip_prefix("W/") == Some(etag.trim_start_matches("W/"))
        })
}

/// The range asked for, checked.
fn range(state: &AppState, q: &RowsQuery) -> Result<(NaiveDate, NaiveDate), ApiError> {
    let now = state.now();
    let to = match &q.to {
        Some(t) => query_day("to", t)?,
        None => now.date_naive(),
    };
    let from = match &q.from {
        Some(f) => query_day("from", f)?,
        None => to - Days::days(i64::from(state.backfill_days().max(1)) - 1),
    };
    if from > to {
        return Err(ApiError::bad_request(format!(
            "`from` ({from}) is after `to` ({to})"
        )));
    }
    if (to - from).num_days() >= MAX_RANGE_DAYS {
        return Err(ApiError::bad_request(format!(
            "the range {from}..{to} is longer than {MAX_RANGE_DAYS} days; ask in parts"
        )));
    }
    Ok((from, to))
}

/// Where the data is now (read before the rows, so a write while they are
/// read shows again in the next delta rather than never), and what changed
/// since `since`.
struct Marks {
    cursor: Cursor,
    changed: Option<Vec<RowScope>>,
}

fn marks(
    state: &AppState,
    from: NaiveDate,
    to: NaiveDate,
    imports: u64,
    since: Option<Cursor>,
) -> Result<Marks, ApiError> {
    let store = state.store();
    let store_seq = store.change_seq()?;
    // The wall clock, not the injected one: the receiver stamps with it.
    let telemetry_ms = Utc::now().timestamp_millis();
    let mut seen: Vec<(PersonKey, DateTime<Utc>)> = Vec::new();
    if let Some(t) = state.telemetry() {
        let mut after = String::new();
        loop {
            let page = t
                .persons(&after, scoreboard_otlp::MAX_LISTED_PERSONS)
                .map_err(|e| ApiError::internal(e.to_string()))?;
            let full = page.len() == scoreboard_otlp::MAX_LISTED_PERSONS;
            if let Some(last) = page.last() {
                after = last.person.as_str().to_string();
            }
            seen.extend(page.into_iter().map(|p| (p.person, p.last_received_at)));
            if !full {
                break;
            }
        }
    }
    let cursor = Cursor {
        boot: boot(),
        from,
        to,
        store_seq,
        telemetry_ms,
        imports,
    };
    let changed = match since {
        Some(s)
            if s.boot == cursor.boot
                && s.from == from
                && s.to == to
                && s.imports == imports
                && s.store_seq <= store_seq =>
        {
            let mut scopes: Vec<RowScope> = store
                .changed_days(s.store_seq, from, to)?
                .into_iter()
                .map(|(source, day)| RowScope::Day { source, day })
                .collect();
            scopes.extend(
                seen.into_iter()
                    .filter(|(_, t)| t.timestamp_millis() >= s.telemetry_ms - TELEMETRY_MARGIN_MS)
                    .map(|(person, _)| RowScope::Person {
                        source: Source::Otlp,
                        person,
                    }),
            );
            Some(scopes)
        }
        _ => None,
    };
    Ok(Marks { cursor, changed })
}

/// The `ETag` of the rows of `from..=to` at `version` on `today`
/// (telemetry's coverage runs to the server's today).
fn etag(
    version: crate::state::DataVersion,
    from: NaiveDate,
    to: NaiveDate,
    today: NaiveDate,
) -> String {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    (boot(), version, from, to, today).hash(&mut h);
    format!("W/\"r{:016x}\"", h.finish())
}

pub(crate) async fn rows(
    State(state): State<AppState>,
    Query(q): Query<RowsQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let (from, to) = range(&state, &q)?;
    let now = state.now();
    // Stale-while-revalidate: answer from the store now; wake the sync if it is due.
    state.syncer().nudge(now);
    let since = q.cursor.as_deref().and_then(Cursor::read);
    let s = state.clone();
    let version = blocking(move || s.data_version()).await??;
    let tag = etag(version, from, to, now.date_naive());
    let tag_value = HeaderValue::from_str(&tag).map_err(|e| ApiError::internal(e.to_string()))?;
    if not_modified(&headers, &tag) {
        let vary = [(header::VARY, HeaderValue::from_static("accept"))];
        return Ok((StatusCode::NOT_MODIFIED, [(header::ETAG, tag_value)], vary).into_response());
    }
    let compact = wants_compact(&headers);
    // A cursor of another process, range or exports folder can only get a
    // full answer: no need to look at what changed.
    let since = since.filter(|s| {
        s.boot == boot() && s.from == from && s.to == to && s.imports == version.imports
    });
    let delta = match since {
        Some(since) => delta(&state, from, to, now, version, since, compact).await?,
        None => None,
    };
    let (body, cached) = match delta {
        Some(body) => (body, None),
        None => {
            let key = crate::state::FullKey {
                version,
                from,
                to,
                today: now.date_naive(),
                compact,
            };
            let full = state
                .rows_cache()
                .full(key, || full_answer(&state, from, to, now, version, compact))
                .await?;
            (full.body.clone(), Some(full))
        }
    };
    let content_type = if compact {
        rows_wire::CONTENT_TYPE
    } else {
        "application/json"
    };
    let mut resp = (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (header::ETAG, tag_value),
        ],
        body,
    )
        .into_response();
    // A full answer goes out compressed from the cache (the CompressionLayer
    // leaves an answer with a Content-Encoding as it is); a delta is
    // compressed by the layer, as everything else.
    let varies = match cached {
        Some(full) => match Encoding::accepted(&headers) {
            Some(enc) => {
                *resp.body_mut() = axum::body::Body::from(compressed(&full, enc).await?);
                resp.headers_mut().insert(
                    header::CONTENT_ENCODING,
                    HeaderValue::from_static(enc.name()),
                );
                "accept, accept-encoding"
            }
            None => "accept, accept-encoding",
        },
        None => "accept",
    };
    resp.headers_mut()
        .append(header::VARY, HeaderValue::from_static(varies));
    Ok(resp)
}

/// A delta since `since`, or `None` when the store's changes since it are
/// not known (a full answer is due).
async fn delta(
    state: &AppState,
    from: NaiveDate,
    to: NaiveDate,
    now: DateTime<Utc>,
    version: crate::state::DataVersion,
    since: Cursor,
    compact: bool,
) -> Result<Option<Bytes>, ApiError> {
    let s = state.clone();
    let marks = blocking(move || marks(&s, from, to, version.imports, Some(since))).await??;
    let Some(replaced) = marks.changed else {
        return Ok(None);
    };
    let delta = RowsDelta { replaced };
    body(
        state,
        from,
        to,
        now,
        marks.cursor.write(),
        Some(delta),
        compact,
    )
    .await
    .map(Some)
}

/// The full answer of `from..=to` at `version`, encoded.
async fn full_answer(
    state: &AppState,
    from: NaiveDate,
    to: NaiveDate,
    now: DateTime<Utc>,
    version: crate::state::DataVersion,
    compact: bool,
) -> Result<Bytes, ApiError> {
    let s = state.clone();
    let marks = blocking(move || marks(&s, from, to, version.imports, None)).await??;
    body(state, from, to, now, marks.cursor.write(), None, compact).await
}

/// The body of an answer (with `delta`, of the rows inside its scopes):
/// its rows handed from the store, the exports folder and telemetry
/// ([`AnswerRows::walk`]) straight into the encoder or the JSON text, so
/// it costs the body (and the encoder's columns, about the body's size),
/// not a [`scoreboard_core::DayRow`] per row. The rows, order, counts and
/// coverage are [`load_rows`]'s ([`loaded_answer`]), and the bytes what
/// [`rows_wire::encode`] and `serde_json::to_vec` write of that answer.
async fn body(
    state: &AppState,
    from: NaiveDate,
    to: NaiveDate,
    now: DateTime<Utc>,
    cursor: String,
    delta: Option<RowsDelta>,
    compact: bool,
) -> Result<Bytes, ApiError> {
    let s = state.clone();
    blocking(move || {
        let parts = AnswerRows::read(&s, from, to, now)?;
        let rows: usize = parts.counts.values().sum();
        if !compact
            && delta.is_none()
            && rows.saturating_mul(MIN_JSON_ROW_BYTES) > ROWS_MAX_JSON_BODY
        {
            // Surely past the cap: refused before any row is read.
            return Err(too_large(from, to, ROWS_MAX_JSON_BODY));
        }
        let head = rows_wire::Head {
            from,
            to,
            counts: parts.counts.clone(),
            periods: parts.periods.clone(),
            imported: parts.imported.clone(),
            coverage: parts.coverage.clone(),
            cursor: Some(cursor),
            delta,
        };
        if compact {
            let mut enc = rows_wire::Encoder::new();
            parts.walk(head.delta.as_ref(), |r| encode_row(&mut enc, r))?;
            Ok(Bytes::from(enc.finish(&head)))
        } else {
            let mut json = JsonBody::start(&head, ROWS_MAX_JSON_BODY)?;
            parts.walk(head.delta.as_ref(), |r| json.row(r))?;
            json.finish(&head).map(Bytes::from)
        }
    })
    .await?
}

fn encode_row(
    enc: &mut rows_wire::Encoder,
    row: AnswerRow<'_>,
) -> Result<(), crate::store::StoreError> {
    use crate::store::Split;
    match row {
        AnswerRow::Held(r) => {
            enc.push(r);
            Ok(())
        }
        AnswerRow::Stored(r) => {
            enc.row(r.day, r.source, r.person, r.source.measures(), &r.measures);
            r.splits.visit(|s| match s {
                Split::Model(m) => enc.model(
                    m.model,
                    m.input_tokens,
                    m.output_tokens,
                    m.cache_read_tokens,
                    m.cache_creation_tokens,
                    m.cost_micros,
                    m.cost_is_estimated,
                ),
                Split::Tool(name, accepted, rejected) => enc.tool(name, accepted, rejected),
            })
        }
    }
}

/// The JSON answer's parts before its rows ([`RowsAnswer`]'s fields, in
/// its order and with its attributes).
#[derive(Serialize)]
struct JsonHead<'a> {
    from: NaiveDate,
    to: NaiveDate,
    counts: &'a BTreeMap<Source, usize>,
}

/// The JSON answer's parts after its rows.
#[derive(Serialize)]
struct JsonTail<'a> {
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    periods: &'a [scoreboard_core::PeriodRow],
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    imported: &'a BTreeMap<Source, u64>,
    coverage: &'a [SourceCoverage],
    #[serde(skip_serializing_if = "Option::is_none")]
    cursor: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    delta: Option<&'a RowsDelta>,
}

/// A JSON answer written row by row: the text `serde_json::to_vec` writes
/// of the [`RowsAnswer`], without the answer's rows ever held. Past `cap`
/// ([`ROWS_MAX_JSON_BODY`]) its text is let go (the rows still walked,
/// unwritten) and the answer is refused.
struct JsonBody {
    out: Vec<u8>,
    cap: usize,
    rows: usize,
    over: bool,
    failed: Option<String>,
}

impl JsonBody {
    fn start(head: &rows_wire::Head, cap: usize) -> Result<JsonBody, ApiError> {
        let mut out = serde_json::to_vec(&JsonHead {
            from: head.from,
            to: head.to,
            counts: &head.counts,
        })
        .map_err(|e| ApiError::internal(format!("writing the rows' JSON: {e}")))?;
        out.pop(); // its closing brace: the rows follow
        out.extend_from_slice(b",\"rows\":[");
        Ok(JsonBody {
            out,
            cap,
            rows: 0,
            over: false,
            failed: None,
        })
    }

    fn row(&mut self, row: AnswerRow<'_>) -> Result<(), crate::store::StoreError> {
        if self.over || self.failed.is_some() {
            return Ok(());
        }
        if self.rows > 0 {
            self.out.push(b',');
        }
        self.rows += 1;
        let written = match row {
            AnswerRow::Held(r) => serde_json::to_writer(&mut self.out, r),
            AnswerRow::Stored(r) => serde_json::to_writer(&mut self.out, &r.to_day_row()?),
        };
        if let Err(e) = written {
            self.failed = Some(e.to_string());
        }
        if self.out.len() > self.cap {
            self.over = true;
            self.out = Vec::new();
        }
        Ok(())
    }

    fn finish(mut self, head: &rows_wire::Head) -> Result<Vec<u8>, ApiError> {
        if let Some(e) = self.failed {
            return Err(ApiError::internal(format!("writing the rows' JSON: {e}")));
        }
        if !self.over {
            let tail = serde_json::to_vec(&JsonTail {
                periods: &head.periods,
                imported: &head.imported,
                coverage: &head.coverage,
                cursor: head.cursor.as_deref(),
                delta: head.delta.as_ref(),
            })
            .map_err(|e| ApiError::internal(format!("writing the rows' JSON: {e}")))?;
            self.out.extend_from_slice(b"],");
            // `coverage` is always there: the tail is never `{}`.
            self.out
                .extend_from_slice(tail.get(1..).unwrap_or_default());
            if self.out.len() <= self.cap {
                return Ok(self.out);
            }
        }
        Err(too_large(head.from, head.to, self.cap))
    }
}

/// The fewest bytes a row takes in JSON (its day, source and every
/// measure are always written: about 290 with a one-letter person), so a
/// full answer of more rows than `cap / MIN_JSON_ROW_BYTES` is refused
/// before it is walked.
const MIN_JSON_ROW_BYTES: usize = 200;

/// The refusal of a JSON answer larger than `cap`.
fn too_large(from: NaiveDate, to: NaiveDate, cap: usize) -> ApiError {
    let limit = if cap >= 1 << 20 {
        format!("{} MiB", cap >> 20)
    } else {
        format!("{cap} bytes")
    };
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        format!(
            "the JSON answer of {from}..{to} would be larger than {limit}, more than the server \
             makes in one answer; ask for a shorter range (`from`, `to`) or for the compact \
             encoding (`Accept: {}`, about a twentieth of JSON's size)",
            rows_wire::CONTENT_TYPE
        ),
    )
}

/// The body of the answer of `from..=to` as `/api/rows` makes it, with
/// `cursor` written in it and, with `delta`, only the rows inside its
/// scopes: for tests that compare it with [`loaded_answer`].
pub async fn answer_body(
    state: &AppState,
    from: NaiveDate,
    to: NaiveDate,
    cursor: String,
    delta: Option<RowsDelta>,
    compact: bool,
) -> Result<Bytes, ApiError> {
    body(state, from, to, state.now(), cursor, delta, compact).await
}

/// The same answer made from `load::load_rows`'s table (what `/api/report`,
/// `/metrics` and the digest read), its rows held whole: for tests that
/// compare it with [`answer_body`] and with the precedence worked out
/// apart from [`AnswerRows`].
pub async fn loaded_answer(
    state: &AppState,
    from: NaiveDate,
    to: NaiveDate,
    cursor: String,
    delta: Option<RowsDelta>,
) -> Result<RowsAnswer, ApiError> {
    let loaded = load_rows(state, from, to, state.now()).await?;
    let counts = loaded
        .table
        .day_counts()
        .into_iter()
        .map(|(source, n)| (source, n as usize))
        .collect();
    let rows = loaded.table.day_rows();
    let rows = match &delta {
        Some(d) => {
            let inside = d.matcher();
            rows.filter(|r| inside(r)).collect()
        }
        None => rows.collect(),
    };
    Ok(RowsAnswer {
        from,
        to,
        counts,
        rows,
        periods: loaded.periods,
        imported: loaded.imported,
        coverage: loaded.coverage,
        cursor: Some(cursor),
        delta,
    })
}

/// How long the data must stay unchanged before the page's answer is made
/// ahead: a sync writes its days one after another, and under steady
/// telemetry every commit is a new version, whose answer nobody might ask
/// for (a page open meanwhile asks a delta).
pub const WARM_SETTLE: std::time::Duration = std::time::Duration::from_secs(3);
/// How often [`keep_warm`] looks at the data version (a SQLite pragma, the
/// exports folder's listing, the roster file's `stat`).
const WARM_POLL: std::time::Duration = std::time::Duration::from_secs(1);
/// After making an answer ahead, [`keep_warm`] waits this many times as
/// long before the next, so making answers nobody asked for costs at most
/// a tenth of one core.
const WARM_IDLE_FACTOR: u32 = 9;

/// Makes the full answer of the page's range ([`live_range`], compact and
/// brotli-compressed, as the page asks it) ahead of the page: at start-up,
/// then each time the data has settled on a new version ([`WARM_SETTLE`]),
/// and on a new day. It goes through the answer cache as a request does,
/// so a page asking meanwhile waits for this making instead of starting a
/// second, the answer is kept under the data version read before its rows
/// (never served for a later one), and it is one of the cache's
/// [`crate::state::ROWS_CACHE_ENTRIES`]: the server holds from start-up
/// what it held after a viewer's first ask (a 1 M-row store: ~34 MB of
/// body, ~5 MB compressed). Pushed out of the cache by other ranges, it is
/// made again; one that fails or is too large to keep is not, until the
/// data changes.
///
/// [`live_range`]: scoreboard_core::api::live_range
pub async fn keep_warm(state: AppState, mut stop: tokio::sync::watch::Receiver<bool>) {
    use std::time::Instant;
    // Made but not kept (failed, or past the cache's size bound): not
    // made again until the data changes.
    let mut not_kept: Option<crate::state::FullKey> = None;
    // The version last seen and since when it has not changed; `None` at
    // start-up, when the answer is made at once.
    let mut settling: Option<(crate::state::DataVersion, Instant)> = None;
    let mut not_before = Instant::now();
    loop {
        let s = state.clone();
        let version = match blocking(move || s.data_version()).await {
            Ok(Ok(v)) => Some(v),
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "cannot read the data version to make the rows answer ahead");
                None
            }
            Err(e) => {
                tracing::warn!(error = %e.message(), "cannot read the data version to make the rows answer ahead");
                None
            }
        };
        if let Some(version) = version {
            let settled = match settling {
                Some((v, since)) if v == version => since.elapsed() >= WARM_SETTLE,
                Some(_) => {
                    settling = Some((version, Instant::now()));
                    false
                }
                None => {
                    settling = Some((version, Instant::now()));
                    true
                }
            };
            let now = state.now();
            let today = now.date_naive();
            let (from, to) = scoreboard_core::api::live_range(today);
            let key = crate::state::FullKey {
                version,
                from,
                to,
                today,
                compact: true,
            };
            if not_kept != Some(key)
                && settled
                && Instant::now() >= not_before
                && !state.rows_cache().holds(key)
            {
                let t = Instant::now();
                // A stop does not wait for a making (seconds at 1 M rows).
                let made = tokio::select! {
                    _ = stop.wait_for(|stop| *stop) => return,
                    made = warm(&state, key, now) => made,
                };
                match made {
                    Ok((body, brotli)) => tracing::info!(
                        %from, %to, body_bytes = body, brotli_bytes = brotli,
                        ms = t.elapsed().as_millis() as u64,
                        "the page's rows answer is made ahead"
                    ),
                    Err(e) => tracing::warn!(
                        error = %e.message(),
                        "cannot make the page's rows answer ahead"
                    ),
                }
                if !state.rows_cache().holds(key) {
                    not_kept = Some(key);
                }
                not_before = Instant::now() + t.elapsed() * WARM_IDLE_FACTOR;
            }
        }
        tokio::select! {
            _ = stop.wait_for(|stop| *stop) => return,
            _ = tokio::time::sleep(WARM_POLL) => {}
        }
    }
}

/// The full answer of `key`, made (or found) in the cache with its brotli
/// copy: its body's and the copy's bytes.
async fn warm(
    state: &AppState,
    key: crate::state::FullKey,
    now: DateTime<Utc>,
) -> Result<(usize, usize), ApiError> {
    let full = state
        .rows_cache()
        .full(key, || {
            full_answer(state, key.from, key.to, now, key.version, key.compact)
        })
        .await?;
    let br = compressed(&full, Encoding::Brotli).await?;
    Ok((full.body.len(), br.len()))
}

/// Brotli's quality (and gzip's level) for a full answer: the first asker
/// waits for it. Measured on a 1 M-row compact answer (34 MB): quality 1
/// takes 60 ms for 4.8 MB, quality 5 (the CompressionLayer's) 2.2 s for
/// 2.2 MB; both are far under the 16 bytes a row the wire may cost.
const BROTLI_QUALITY: u32 = 1;
const GZIP_LEVEL: u32 = 1;

/// A content coding the cache keeps an answer in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Encoding {
    Brotli,
    Gzip,
}

impl Encoding {
    fn name(self) -> &'static str {
        match self {
            Encoding::Brotli => "br",
            Encoding::Gzip => "gzip",
        }
    }

    /// The coding to send: brotli over gzip when both are accepted (a
    /// `q=0` refuses one), none when neither is.
    fn accepted(headers: &HeaderMap) -> Option<Encoding> {
        let mut br = false;
        let mut gzip = false;
        for item in headers
            .get_all(header::ACCEPT_ENCODING)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
        {
            let mut parts = item.split(';');
            let name = parts.next().unwrap_or("").trim().to_ascii_lowercase();
            let refused = parts.any(|p| {
                p.trim()
                    .strip_prefix("q=")
                    .and_then(|q| q.trim().parse::<f32>().ok())
                    .is_some_and(|q| q <= 0.0)
            });
            match name.as_str() {
                "br" => br = !refused,
                "gzip" | "x-gzip" => gzip = !refused,
                _ => {}
            }
        }
        if br {
            Some(Encoding::Brotli)
        } else if gzip {
            Some(Encoding::Gzip)
        } else {
            None
        }
    }

    fn compress(self, body: &[u8]) -> Result<Vec<u8>, std::io::Error> {
        use std::io::Write;
        match self {
            Encoding::Brotli => {
                let mut w = brotli::CompressorWriter::new(Vec::new(), 1 << 16, BROTLI_QUALITY, 22);
                w.write_all(body)?;
                w.flush()?;
                Ok(w.into_inner())
            }
            Encoding::Gzip => {
                let mut w =
                    flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(GZIP_LEVEL));
                w.write_all(body)?;
                w.finish()
            }
        }
    }
}

/// `full`'s body in `enc`, compressed at its first ask (single flight).
async fn compressed(full: &FullAnswer, enc: Encoding) -> Result<Bytes, ApiError> {
    let cell = match enc {
        Encoding::Brotli => &full.brotli,
        Encoding::Gzip => &full.gzip,
    };
    cell.get_or_try_init(|| {
        let body = full.body.clone();
        async move {
            blocking(move || enc.compress(&body))
                .await?
                .map(Bytes::from)
                .map_err(|e| ApiError::internal(format!("compressing the rows: {e}")))
        }
    })
    .await
    .cloned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_reads_back_and_a_foreign_one_does_not() {
        let c = Cursor {
            boot: 0xabc,
            from: NaiveDate::from_ymd_opt(2026, 1, 1).unwrap_or_default(),
            to: NaiveDate::from_ymd_opt(2026, 2, 1).unwrap_or_default(),
            store_seq: 7,
            telemetry_ms: 1_700_000_000_000,
            imports: 3,
        };
        assert_eq!(Cursor::read(&c.write()), Some(c.clone()));
        assert_eq!(Cursor::read("c2.1.2"), None);
        assert_eq!(Cursor::read(&format!("{}.9", c.write())), None);
        assert_eq!(Cursor::read(""), None);
    }

    /// Rows with and without splits and with measures missing, an answer
    /// with every optional part, and its head.
    fn answer() -> (RowsAnswer, rows_wire::Head) {
        use scoreboard_core::{DayRow, ModelUsage, PeriodRow, ToolDecisions};
        let day = |d: u32| NaiveDate::from_ymd_opt(2026, 11, d).unwrap();
        let mut rows = Vec::new();
        for (i, p) in ["ann@acme.io", "bob@acme.io", "cy@acme.io"]
            .iter()
            .enumerate()
        {
            let mut r = DayRow::new(day(16 + i as u32), PersonKey::email(p), Source::AdminApi);
            r.measures.sessions = 3 + i as u64;
            r.measures.cost_micros = 1_250_000;
            if i == 1 {
                r.models = vec![ModelUsage {
                    model: "claude-opus-4-1".into(),
                    input_tokens: 900,
                    output_tokens: 30,
                    cache_read_tokens: 7,
                    cache_creation_tokens: 1,
                    cost_micros: 1_250_000,
                    cost_is_estimated: true,
                }];
                r.tools = vec![ToolDecisions {
                    tool: "edit_tool".into(),
                    accepted: 5,
                    rejected: 2,
                }];
            }
            rows.push(r);
        }
        let mut csv = DayRow::new(day(18), PersonKey::email("dee@acme.io"), Source::Csv);
        csv.present = scoreboard_core::model::MeasureSet::SESSIONS;
        rows.push(csv);
        let mut period = PeriodRow {
            start: day(1),
            end: day(18),
            person: PersonKey::email("eve@acme.io"),
            source: Source::Csv,
            measures: Default::default(),
            models: Vec::new(),
            tools: Vec::new(),
            present: scoreboard_core::model::MeasureSet::LINES_ADDED,
        };
        period.measures.lines_added = 50;
        let a = RowsAnswer {
            from: day(1),
            to: day(30),
            counts: BTreeMap::from([(Source::AdminApi, 3), (Source::Csv, 1)]),
            rows,
            periods: vec![period],
            imported: BTreeMap::from([(Source::Csv, 2)]),
            coverage: vec![SourceCoverage::new(Source::AdminApi)],
            cursor: Some("c1.0".into()),
            delta: Some(RowsDelta {
                replaced: vec![RowScope::Day {
                    source: Source::AdminApi,
                    day: day(17),
                }],
            }),
        };
        let head = rows_wire::Head {
            from: a.from,
            to: a.to,
            counts: a.counts.clone(),
            periods: a.periods.clone(),
            imported: a.imported.clone(),
            coverage: a.coverage.clone(),
            cursor: a.cursor.clone(),
            delta: a.delta.clone(),
        };
        (a, head)
    }

    fn json_body(
        head: &rows_wire::Head,
        rows: &[scoreboard_core::DayRow],
        cap: usize,
    ) -> Result<Vec<u8>, ApiError> {
        let mut json = JsonBody::start(head, cap)?;
        for r in rows {
            json.row(AnswerRow::Held(r)).unwrap();
        }
        json.finish(head)
    }

    #[test]
    fn json_written_row_by_row_is_the_text_of_the_whole_answer() {
        let (mut a, mut head) = answer();
        assert_eq!(
            json_body(&head, &a.rows, ROWS_MAX_JSON_BODY).unwrap(),
            serde_json::to_vec(&a).unwrap()
        );
        // Without the optional parts, and without rows.
        a.periods.clear();
        a.imported.clear();
        a.cursor = None;
        a.delta = None;
        head.periods.clear();
        head.imported.clear();
        head.cursor = None;
        head.delta = None;
        assert_eq!(
            json_body(&head, &a.rows, ROWS_MAX_JSON_BODY).unwrap(),
            serde_json::to_vec(&a).unwrap()
        );
        a.rows.clear();
        assert_eq!(
            json_body(&head, &[], ROWS_MAX_JSON_BODY).unwrap(),
            serde_json::to_vec(&a).unwrap()
        );
    }

    #[test]
    fn a_json_answer_past_the_cap_is_refused_naming_the_limit_and_how_to_ask_for_less() {
        let (a, head) = answer();
        let whole = serde_json::to_vec(&a).unwrap().len();
        assert!(json_body(&head, &a.rows, whole).is_ok());
        for cap in [whole - 1, 10] {
            let refused = json_body(&head, &a.rows, cap).unwrap_err();
            let message = refused.message().to_string();
            assert_eq!(
                refused.into_response().status(),
                StatusCode::PAYLOAD_TOO_LARGE
            );
            assert!(
                message.contains(&format!("larger than {cap} bytes")),
                "{message}"
            );
            assert!(message.contains("shorter range"), "{message}");
            assert!(message.contains(rows_wire::CONTENT_TYPE), "{message}");
        }
    }

    #[test]
    fn no_row_is_shorter_in_json_than_the_early_refusal_reckons() {
        use scoreboard_core::DayRow;
        let day = NaiveDate::from_ymd_opt(2026, 11, 1).unwrap();
        for source in Source::ALL {
            let mut r = DayRow::new(day, PersonKey::parse("x").unwrap(), source);
            let all = serde_json::to_vec(&r).unwrap().len();
            r.present = scoreboard_core::model::MeasureSet::empty();
            let none = serde_json::to_vec(&r).unwrap().len();
            assert!(
                all.min(none) >= MIN_JSON_ROW_BYTES,
                "{source:?}: {all}, {none}"
            );
        }
    }

    #[test]
    fn the_compact_encoding_is_chosen_only_when_asked_for() {
        let mut h = HeaderMap::new();
        assert!(!wants_compact(&h));
        h.insert(
            header::ACCEPT,
            HeaderValue::from_static("application/json, */*"),
        );
        assert!(!wants_compact(&h));
        h.insert(
            header::ACCEPT,
            HeaderValue::from_static("application/vnd.scoreboard.rows;q=1, application/json;q=0.5"),
        );
        assert!(wants_compact(&h));
    }
}
