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
//! The delta is cut from the same loaded rows a full answer holds (so a
//! file's row under a re-fetched day comes with it), which makes it equal to
//! the full answer by construction; what it saves is the wire and the
//! page's decoding, not the server's read.

use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};
use std::sync::OnceLock;

use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Duration as Days, NaiveDate, Utc};
use scoreboard_core::api::rows_wire;
use scoreboard_core::api::{RowScope, RowsAnswer, RowsDelta};
use scoreboard_core::{PersonKey, Source};
use serde::Deserialize;

use crate::error::{blocking, ApiError};
use crate::load::load_rows;
use crate::state::AppState;

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
    let vary = [(header::VARY, HeaderValue::from_static("accept"))];
    if not_modified(&headers, &tag) {
        return Ok((StatusCode::NOT_MODIFIED, [(header::ETAG, tag_value)], vary).into_response());
    }
    let s = state.clone();
    let marks = blocking(move || marks(&s, from, to, version.imports, since)).await??;
    let loaded = load_rows(&state, from, to, now).await?;
    let mut counts = BTreeMap::new();
    for r in &loaded.rows {
        *counts.entry(r.source).or_insert(0) += 1;
    }
    let (rows, delta) = match marks.changed {
        Some(replaced) => {
            let delta = RowsDelta { replaced };
            let rows = {
                let inside = delta.matcher();
                loaded.rows.into_iter().filter(|r| inside(r)).collect()
            };
            (rows, Some(delta))
        }
        None => (loaded.rows, None),
    };
    let answer = RowsAnswer {
        from,
        to,
        counts,
        rows,
        periods: loaded.periods,
        imported: loaded.imported,
        coverage: loaded.coverage,
        cursor: Some(marks.cursor.write()),
        delta,
    };
    let (body, content_type) = if wants_compact(&headers) {
        let body = blocking(move || rows_wire::encode(&answer)).await?;
        (body, rows_wire::CONTENT_TYPE)
    } else {
        let body = blocking(move || serde_json::to_vec(&answer))
            .await?
            .map_err(|e| ApiError::internal(e.to_string()))?;
        (body, "application/json")
    };
    Ok((
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (header::ETAG, tag_value),
        ],
        vary,
        body,
    )
        .into_response())
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
