//! Frozen share snapshots stored by the server (issue 6).
//!
//! The page computes a snapshot (core's `share::make_snapshot`, privacy
//! already applied) and POSTs its encoded form; the server checks that it
//! decodes, keeps it under a 256-bit random id and hands the id back. The
//! link the page shows is `?snapshot=api/snapshots/<id>`.
//!
//! | route | gate | answer |
//! |---|---|---|
//! | `POST /api/snapshots` (body: `v1.…` link text or snapshot file JSON) | reader, same origin | `201 {id, created_at, privacy, description, link}` |
//! | `GET /api/snapshots` | reader | `{snapshots: [{id, created_at, privacy, description, bytes, mine}]}`, newest first |
//! | `DELETE /api/snapshots/{id}` | reader, same origin, owner or admin | `204`, `403` (someone else's), or `404` |
//! | `GET /api/snapshots/{id}` | none: the id is the capability | the stored text, or `404` |
//!
//! Writing, listing and deleting follow the read gate ([`crate::auth`]):
//! open on loopback, a viewer or admin token or the trusted identity header
//! elsewhere. Writes also need the page's header and the same origin
//! ([`crate::guard`]). Each snapshot records who stored it ([`Actor::owner`]):
//! a viewer lists and deletes its own; the operator at a loopback server
//! and admin tokens list and delete all. Reading one snapshot needs only
//! its id, like the link a colleague is sent: 256 random bits cannot be
//! guessed, and the list that reveals ids is gated.
//!
//! Bounds: a body of at most [`MAX_SNAPSHOT_BYTES`], arriving within the
//! body timeout; the decoded snapshot within core's caps
//! (`share::MAX_SNAPSHOT_JSON_BYTES`, `MAX_SNAPSHOT_VALUES`); at most
//! [`CONCURRENT_DECODES`] decoded at once; per owner and in all, the
//! counts and bytes of `Limits` (507 past them).

use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Extension;
use axum::{middleware, Json, Router};
use chrono::{DateTime, SecondsFormat, Utc};
use rusqlite::{params, Connection, OptionalExtension};
use scoreboard_core::share::{self, Privacy, Snapshot};
use serde::Serialize;

use crate::auth::{self, Actor};
use crate::error::ApiError;
use crate::refusals::{Area, Reason};
use crate::state::AppState;

/// Recent snapshot uploads per owner: at most `per_minute` in any minute.
pub struct UploadRate {
    per_minute: usize,
    recent: std::sync::Mutex<
        std::collections::HashMap<String, std::collections::VecDeque<std::time::Instant>>,
    >,
}

impl UploadRate {
    pub fn new(per_minute: usize) -> UploadRate {
        UploadRate {
            per_minute: per_minute.max(1),
            recent: Default::default(),
        }
    }

    /// Counts an upload by `owner`; `Err(wait)` when it is one too many.
    fn admit(&self, owner: &str) -> Result<(), std::time::Duration> {
        const MINUTE: std::time::Duration = std::time::Duration::from_secs(60);
        let now = std::time::Instant::now();
        let mut recent = self.recent.lock().unwrap_or_else(|p| p.into_inner());
        // Forget owners quiet for a minute, so the map holds only the active.
        recent.retain(|_, q| q.back().is_some_and(|t| now.duration_since(*t) < MINUTE));
        let q = recent.entry(owner.to_string()).or_default();
        while q.front().is_some_and(|t| now.duration_since(*t) >= MINUTE) {
            q.pop_front();
        }
        if q.len() >= self.per_minute {
            let oldest = q.front().copied().unwrap_or(now);
            return Err(MINUTE.saturating_sub(now.duration_since(oldest)));
        }
        q.push_back(now);
        Ok(())
    }
}

/// Snapshots decoded at the same time; others wait (up to [`DECODE_WAIT`], then 503).
pub const CONCURRENT_DECODES: usize = 2;
const DECODE_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// The largest snapshot the server keeps. A link-sized snapshot is a few
/// tens of KB; a snapshot file of a few thousand people with names is about
/// 2 MB of JSON.
pub const MAX_SNAPSHOT_BYTES: usize = 8 * 1024 * 1024;

/// The routes, merged into [`crate::api::app`].
pub fn routes(state: &AppState) -> Router<AppState> {
    let gated = Router::new()
        .route("/api/snapshots", get(list).post(create))
        .route("/api/snapshots/{id}", axum::routing::delete(remove))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            auth::require_reader,
        ))
        // Runs first: a cross-site write is refused before any token lookup.
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            crate::guard::same_origin_writes,
        ))
        .layer(DefaultBodyLimit::max(MAX_SNAPSHOT_BYTES));
    Router::new()
        .route("/api/snapshots/{id}", get(fetch))
        .merge(gated)
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SnapshotInfo {
    pub id: String,
    pub created_at: String,
    pub privacy: Privacy,
    /// The snapshot's own caption and view, e.g. "Snapshot of 2026-11-22, csv, shared with names · team Platform".
    pub description: String,
    pub bytes: u64,
    /// Stored by whoever asks (the list of an admin holds everyone's).
    pub mine: bool,
}

#[derive(Serialize)]
struct Created {
    id: String,
    created_at: String,
    privacy: Privacy,
    description: String,
    /// Relative to the page: `?snapshot=api/snapshots/<id>`.
    link: String,
}

/// A new id: 32 random bytes as 64 lower-case hex digits (URL-safe).
fn new_id() -> Result<String, ApiError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| ApiError::internal(format!("random id: {e}")))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

fn valid_id(id: &str) -> bool {
    id.len() == 64
        && id
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

fn not_found() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "no snapshot with this id on this server: it may have been deleted, or the link was cut short",
    )
}

fn describe(s: &Snapshot) -> String {
    let mut d = s.caption();
    if let Some(team) = &s.view.team {
        d.push_str(&format!(" · team {team}"));
    }
    d.push_str(&format!(
        " · {} to {}",
        s.report.window.from, s.report.window.to
    ));
    d
}

/// Reads the body as a snapshot, in link or file form.
fn decode(body: &[u8]) -> Result<(Snapshot, String), ApiError> {
    let text = std::str::from_utf8(body)
        .map_err(|_| ApiError::bad_request("the snapshot is not UTF-8 text"))?
        .trim();
    if text.is_empty() {
        return Err(ApiError::bad_request(
            "the request body is empty: send the encoded snapshot (`v1.…`) or a snapshot file",
        ));
    }
    let snapshot = if text.starts_with('{') {
        share::decode_file(text.as_bytes())
    } else {
        share::decode_link(text)
    }
    .map_err(|e| ApiError::bad_request(format!("not a usable snapshot: {e}")))?;
    Ok((snapshot, text.to_string()))
}

fn open(state: &AppState) -> Result<Connection, ApiError> {
    let conn =
        Connection::open(state.store().path()).map_err(|e| ApiError::internal(e.to_string()))?;
    conn.busy_timeout(std::time::Duration::from_secs(5))
        .map_err(|e| ApiError::internal(e.to_string()))?;
    Ok(conn)
}

async fn with_db<T: Send + 'static>(
    state: &AppState,
    f: impl FnOnce(&Connection) -> Result<T, rusqlite::Error> + Send + 'static,
) -> Result<T, ApiError> {
    let state = state.clone();
    tokio::task::spawn_blocking(move || {
        let conn = open(&state)?;
        f(&conn).map_err(|e| ApiError::internal(e.to_string()))
    })
    .await
    .map_err(|e| ApiError::internal(e.to_string()))?
}

fn too_large() -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        format!(
            "the snapshot is larger than {} MB, the most this server keeps; share a shorter window or a single team",
            MAX_SNAPSHOT_BYTES / (1024 * 1024)
        ),
    )
}

/// What an owner and the whole server hold now: (owner's count, owner's bytes, all bytes).
fn usage(c: &Connection, owner: &str) -> Result<(u64, u64, u64), rusqlite::Error> {
    c.query_row(
        "SELECT COUNT(*) FILTER (WHERE owner = ?1),
                COALESCE(SUM(length(body)) FILTER (WHERE owner = ?1), 0),
                COALESCE(SUM(length(body)), 0)
         FROM snapshots",
        [owner],
        |r| {
            Ok((
                r.get::<_, i64>(0)?.max(0) as u64,
                r.get::<_, i64>(1)?.max(0) as u64,
                r.get::<_, i64>(2)?.max(0) as u64,
            ))
        },
    )
}

/// Why storing `bytes` more for this owner would pass a quota, if it would.
fn over_quota(state: &AppState, used: (u64, u64, u64), bytes: u64) -> Option<String> {
    let l = &state.limits();
    let mb = |b: u64| b / 1_000_000;
    if used.0 >= l.snapshots_per_owner as u64 {
        Some(format!(
            "you already keep {} snapshots on this server, the most one person may; delete some in the Share dialog",
            used.0
        ))
    } else if used.1 + bytes > l.snapshot_bytes_per_owner {
        Some(format!(
            "your snapshots would take more than {} MB, the most one person may keep; delete some in the Share dialog",
            mb(l.snapshot_bytes_per_owner)
        ))
    } else if used.2 + bytes > l.snapshot_bytes_total {
        Some(format!(
            "the server's snapshot storage ({} MB) is full; ask its operator to delete old snapshots",
            mb(l.snapshot_bytes_total)
        ))
    } else {
        None
    }
}

fn quota_refusal(state: &AppState, actor: &Actor, why: String) -> ApiError {
    state
        .refusals()
        .record(Area::Write, Reason::OverQuota, actor.token_id(), &why);
    ApiError::new(StatusCode::INSUFFICIENT_STORAGE, why)
}

async fn create(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    body: Body,
) -> Result<Response, ApiError> {
    if let Err(wait) = state.snapshot_uploads().admit(&actor.owner()) {
        let why = format!(
            "more than {} snapshot uploads in a minute; try again in {} s",
            state.limits().snapshot_uploads_per_minute,
            wait.as_secs() + 1
        );
        state
            .refusals()
            .record(Area::Write, Reason::RateLimited, actor.token_id(), &why);
        let mut resp = ApiError::new(StatusCode::TOO_MANY_REQUESTS, why).into_response();
        resp.headers_mut()
            .insert(header::RETRY_AFTER, (wait.as_secs() + 1).into());
        return Ok(resp);
    }
    let deadline = state.limits().body_timeout;
    let refuse = |reason: Reason, e: ApiError| {
        state
            .refusals()
            .record(Area::Write, reason, actor.token_id(), e.message());
        e
    };
    let body = match tokio::time::timeout(deadline, axum::body::to_bytes(body, MAX_SNAPSHOT_BYTES))
        .await
    {
        Err(_) => {
            return Err(refuse(
                Reason::SlowBody,
                ApiError::new(
                    StatusCode::REQUEST_TIMEOUT,
                    format!(
                        "the snapshot did not arrive within {} seconds",
                        deadline.as_secs()
                    ),
                ),
            ))
        }
        Ok(Err(e)) => {
            let too_big = std::error::Error::source(&e)
                .is_some_and(|s| s.is::<http_body_util::LengthLimitError>());
            return Err(if too_big {
                refuse(Reason::TooLarge, too_large())
            } else {
                refuse(
                    Reason::BadRequest,
                    ApiError::bad_request("the snapshot could not be read"),
                )
            });
        }
        Ok(Ok(b)) => b,
    };
    let owner = actor.owner();
    // Cheap first: a person over quota is refused before anything is decoded.
    let o = owner.clone();
    let used = with_db(&state, move |c| usage(c, &o)).await?;
    if let Some(why) = over_quota(&state, used, body.len() as u64) {
        return Err(quota_refusal(&state, &actor, why));
    }
    let permit = match tokio::time::timeout(
        DECODE_WAIT,
        state.snapshot_decodes().clone().acquire_owned(),
    )
    .await
    {
        Ok(Ok(p)) => p,
        _ => {
            return Err(refuse(
                Reason::Busy,
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "the server is busy storing other snapshots; try again in a moment",
                ),
            ))
        }
    };
    let decoded = tokio::task::spawn_blocking(move || {
        let _permit = permit;
        decode(&body)
    })
    .await
    .map_err(|e| ApiError::internal(e.to_string()))?;
    let (snapshot, text) = decoded.map_err(|e| refuse(Reason::BadRequest, e))?;
    let id = new_id()?;
    let created_at = now_text(Utc::now());
    let description = describe(&snapshot);
    let privacy = snapshot.privacy;
    let row = (
        id.clone(),
        created_at.clone(),
        privacy_key(privacy)?,
        description.clone(),
        text,
        owner,
    );
    let st = state.clone();
    let stored = with_db(&state, move |c| {
        // Checked again in the write transaction: two posts at once cannot both fit the last slot.
        let tx = c.unchecked_transaction()?;
        let used = usage(&tx, &row.5)?;
        if let Some(why) = over_quota(&st, used, row.4.len() as u64) {
            return Ok(Some(why));
        }
        tx.execute(
            "INSERT INTO snapshots (id, created_at, privacy, description, body, owner) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![row.0, row.1, row.2, row.3, row.4, row.5],
        )?;
        tx.commit()?;
        Ok(None)
    })
    .await?;
    if let Some(why) = stored {
        return Err(quota_refusal(&state, &actor, why));
    }
    tracing::info!(privacy = ?privacy, "share snapshot stored");
    let link = format!("?snapshot=api/snapshots/{id}");
    Ok((
        StatusCode::CREATED,
        Json(Created {
            id,
            created_at,
            privacy,
            description,
            link,
        }),
    )
        .into_response())
}

async fn fetch(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    if !valid_id(&id) {
        return Err(not_found());
    }
    let body = with_db(&state, move |c| {
        c.query_row("SELECT body FROM snapshots WHERE id = ?1", [id], |r| {
            r.get::<_, String>(0)
        })
        .optional()
    })
    .await?
    .ok_or_else(not_found)?;
    Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], body).into_response())
}

async fn list(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let owner = actor.owner();
    let all = actor.manages_all();
    let rows = with_db(&state, move |c| {
        let mut stmt = c.prepare(
            "SELECT id, created_at, privacy, description, length(body), owner = ?1 FROM snapshots
             WHERE ?2 OR owner = ?1
             ORDER BY created_at DESC, rowid DESC",
        )?;
        let rows = stmt
            .query_map(params![owner, all], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, i64>(4)?,
                    r.get::<_, bool>(5)?,
                ))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    })
    .await?;
    let snapshots: Vec<SnapshotInfo> = rows
        .into_iter()
        .filter_map(|(id, created_at, privacy, description, bytes, mine)| {
            Some(SnapshotInfo {
                id,
                created_at,
                privacy: parse_privacy(&privacy)?,
                description,
                bytes: bytes.max(0) as u64,
                mine,
            })
        })
        .collect();
    Ok(Json(serde_json::json!({ "snapshots": snapshots })))
}

async fn remove(
    State(state): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    if !valid_id(&id) {
        return Err(not_found());
    }
    let owner = actor.owner();
    let all = actor.manages_all();
    // (deleted, exists but someone else's)
    let (deleted, foreign) = with_db(&state, move |c| {
        let n = c.execute(
            "DELETE FROM snapshots WHERE id = ?1 AND (?3 OR owner = ?2)",
            params![id, owner, all],
        )?;
        let foreign = n == 0
            && c.query_row("SELECT 1 FROM snapshots WHERE id = ?1", [&id], |_| Ok(()))
                .optional()?
                .is_some();
        Ok((n, foreign))
    })
    .await?;
    if foreign {
        let why = "this snapshot was stored by someone else: only they, an admin token or the server's operator can delete it";
        state
            .refusals()
            .record(Area::Write, Reason::NotOwner, actor.token_id(), why);
        return Err(ApiError::new(StatusCode::FORBIDDEN, why));
    }
    if deleted == 0 {
        return Err(not_found());
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

fn now_text(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn privacy_key(p: Privacy) -> Result<String, ApiError> {
    serde_json::to_value(p)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .ok_or_else(|| ApiError::internal("privacy has no name"))
}

fn parse_privacy(s: &str) -> Option<Privacy> {
    serde_json::from_value(serde_json::Value::String(s.to_string())).ok()
}
