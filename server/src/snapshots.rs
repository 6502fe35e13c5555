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
use axum::extract::FromRef;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Extension;
use axum::{middleware, Json, Router};
use chrono::{DateTime, SecondsFormat, Utc};
use scoreboard_core::share::{self, Privacy, Snapshot};
use serde::Serialize;
use std::sync::Arc;

use crate::auth::{self, Actor};
use crate::clock::Clock;
use crate::config::Limits;
use crate::error::{blocking, ApiError};
use crate::guard::{self, HostCheck};
use crate::refusals::{Area, Reason, Refusals};
use crate::store::{Deleted, NewSnapshot, SnapshotUsage, Store};

/// What the snapshot routes need: the app's state hands it over through
/// axum's `FromRef` (see [`crate::state`]). Cheap to clone (one `Arc`).
#[derive(Clone)]
pub struct SnapshotState {
    inner: Arc<Parts>,
}

struct Parts {
    store: Arc<Store>,
    limits: Limits,
    refusals: Arc<Refusals>,
    uploads: UploadRate,
    decodes: Arc<tokio::sync::Semaphore>,
    clock: Clock,
}

impl SnapshotState {
    pub fn new(
        store: Arc<Store>,
        limits: Limits,
        refusals: Arc<Refusals>,
        clock: Clock,
    ) -> SnapshotState {
        SnapshotState {
            inner: Arc::new(Parts {
                uploads: UploadRate::new(limits.snapshot_uploads_per_minute),
                decodes: Arc::new(tokio::sync::Semaphore::new(CONCURRENT_DECODES)),
                store,
                limits,
                refusals,
                clock,
            }),
        }
    }
}

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

/// The routes, merged into the app (`api::app`): any state that hands out
/// this module's [`SnapshotState`] and the gates' substates.
pub fn routes<S>(state: &S) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
    SnapshotState: FromRef<S>,
    auth::Gate: FromRef<S>,
    HostCheck: FromRef<S>,
{
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
            guard::same_origin_writes,
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

fn too_large() -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        format!(
            "the snapshot is larger than {} MB, the most this server keeps; share a shorter window or a single team",
            MAX_SNAPSHOT_BYTES / (1024 * 1024)
        ),
    )
}

/// Why storing `bytes` more for this owner would pass a quota, if it would.
fn over_quota(l: &Limits, used: SnapshotUsage, bytes: u64) -> Option<String> {
    let mb = |b: u64| b / 1_000_000;
    if used.count >= l.snapshots_per_owner as u64 {
        Some(format!(
            "you already keep {} snapshots on this server, the most one person may; delete some in the Share dialog",
            used.count
        ))
    } else if used.owner_bytes + bytes > l.snapshot_bytes_per_owner {
        Some(format!(
            "your snapshots would take more than {} MB, the most one person may keep; delete some in the Share dialog",
            mb(l.snapshot_bytes_per_owner)
        ))
    } else if used.all_bytes + bytes > l.snapshot_bytes_total {
        Some(format!(
            "the server's snapshot storage ({} MB) is full; ask its operator to delete old snapshots",
            mb(l.snapshot_bytes_total)
        ))
    } else {
        None
    }
}

fn quota_refusal(state: &Parts, actor: &Actor, why: String) -> ApiError {
    state
        .refusals
        .record(Area::Write, Reason::OverQuota, actor.token_id(), &why);
    ApiError::new(StatusCode::INSUFFICIENT_STORAGE, why)
}

async fn create(
    State(snapshots): State<SnapshotState>,
    Extension(actor): Extension<Actor>,
    body: Body,
) -> Result<Response, ApiError> {
    let state = &*snapshots.inner;
    if let Err(wait) = state.uploads.admit(&actor.owner()) {
        let why = format!(
            "more than {} snapshot uploads in a minute; try again in {} s",
            state.limits.snapshot_uploads_per_minute,
            wait.as_secs() + 1
        );
        state
            .refusals
            .record(Area::Write, Reason::RateLimited, actor.token_id(), &why);
        let mut resp = ApiError::new(StatusCode::TOO_MANY_REQUESTS, why).into_response();
        resp.headers_mut()
            .insert(header::RETRY_AFTER, (wait.as_secs() + 1).into());
        return Ok(resp);
    }
    let deadline = state.limits.body_timeout;
    let refuse = |reason: Reason, e: ApiError| {
        state
            .refusals
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
    let (store, o) = (state.store.clone(), owner.clone());
    let used = blocking(move || store.snapshot_usage(&o)).await??;
    if let Some(why) = over_quota(&state.limits, used, body.len() as u64) {
        return Err(quota_refusal(state, &actor, why));
    }
    let permit =
        match tokio::time::timeout(DECODE_WAIT, state.decodes.clone().acquire_owned()).await {
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
    let decoded = blocking(move || {
        let _permit = permit;
        decode(&body)
    })
    .await?;
    let (snapshot, text) = decoded.map_err(|e| refuse(Reason::BadRequest, e))?;
    let id = new_id()?;
    let created_at = now_text((state.clock)());
    let description = describe(&snapshot);
    let privacy = snapshot.privacy;
    let row = NewSnapshot {
        id: id.clone(),
        created_at: created_at.clone(),
        privacy: privacy_key(privacy)?,
        description: description.clone(),
        body: text,
        owner,
    };
    let (store, limits) = (state.store.clone(), state.limits.clone());
    let stored = blocking(move || {
        let bytes = row.body.len() as u64;
        store.insert_snapshot(&row, |used| over_quota(&limits, used, bytes))
    })
    .await??;
    if let Some(why) = stored {
        return Err(quota_refusal(state, &actor, why));
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
    State(snapshots): State<SnapshotState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    if !valid_id(&id) {
        return Err(not_found());
    }
    let store = snapshots.inner.store.clone();
    let body = blocking(move || store.snapshot_body(&id))
        .await??
        .ok_or_else(not_found)?;
    Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], body).into_response())
}

async fn list(
    State(snapshots): State<SnapshotState>,
    Extension(actor): Extension<Actor>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let owner = actor.owner();
    let all = actor.manages_all();
    let store = snapshots.inner.store.clone();
    let rows = blocking(move || store.snapshots(&owner, all)).await??;
    let snapshots: Vec<SnapshotInfo> = rows
        .into_iter()
        .filter_map(|r| {
            Some(SnapshotInfo {
                privacy: parse_privacy(&r.privacy)?,
                id: r.id,
                created_at: r.created_at,
                description: r.description,
                bytes: r.bytes,
                mine: r.mine,
            })
        })
        .collect();
    Ok(Json(serde_json::json!({ "snapshots": snapshots })))
}

async fn remove(
    State(snapshots): State<SnapshotState>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    if !valid_id(&id) {
        return Err(not_found());
    }
    let owner = actor.owner();
    let all = actor.manages_all();
    let store = snapshots.inner.store.clone();
    match blocking(move || store.delete_snapshot(&id, &owner, all)).await?? {
        Deleted::Deleted => {}
        Deleted::NotFound => return Err(not_found()),
        Deleted::NotOwner => {
            let why = "this snapshot was stored by someone else: only they, an admin token or the server's operator can delete it";
            snapshots
                .inner
                .refusals
                .record(Area::Write, Reason::NotOwner, actor.token_id(), why);
            return Err(ApiError::new(StatusCode::FORBIDDEN, why));
        }
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
