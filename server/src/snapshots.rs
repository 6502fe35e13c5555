//! Frozen share snapshots stored by the server (issue 6).
//!
//! The page computes a snapshot (core's `share::make_snapshot`, privacy
//! already applied) and POSTs its encoded form; the server checks that it
//! decodes, keeps it under a 256-bit random id and hands the id back. The
//! link the page shows is `?snapshot=api/snapshots/<id>`.
//!
//! | route | gate | answer |
//! |---|---|---|
//! | `POST /api/snapshots` (body: `v1.…` link text or snapshot file JSON) | reader | `201 {id, created_at, privacy, description, link}` |
//! | `GET /api/snapshots` | reader | `{snapshots: [{id, created_at, privacy, description, bytes}]}`, newest first |
//! | `DELETE /api/snapshots/{id}` | reader | `204`, or `404` |
//! | `GET /api/snapshots/{id}` | none: the id is the capability | the stored text, or `404` |
//!
//! Writing, listing and deleting follow the read gate ([`crate::auth`]):
//! open on loopback, a viewer token or the trusted identity header
//! elsewhere. Reading one snapshot needs only its id, like the link a
//! colleague is sent: 256 random bits cannot be guessed, and the list that
//! reveals ids is gated.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{middleware, Json, Router};
use chrono::{DateTime, SecondsFormat, Utc};
use rusqlite::{params, Connection, OptionalExtension};
use scoreboard_core::share::{self, Privacy, Snapshot};
use serde::Serialize;

use crate::api::{ApiError, AppState};
use crate::auth;

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

async fn create(
    State(state): State<AppState>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let body = body.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!(
                    "the snapshot is larger than {} MB, the most this server keeps; share a shorter window or a single team",
                    MAX_SNAPSHOT_BYTES / (1024 * 1024)
                ),
            )
        } else {
            ApiError::bad_request(format!("the snapshot could not be read: {e}"))
        }
    })?;
    let (snapshot, text) = decode(&body)?;
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
    );
    with_db(&state, move |c| {
        c.execute(
            "INSERT INTO snapshots (id, created_at, privacy, description, body) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![row.0, row.1, row.2, row.3, row.4],
        )
        .map(|_| ())
    })
    .await?;
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

async fn list(State(state): State<AppState>) -> Result<Json<serde_json::Value>, ApiError> {
    let rows = with_db(&state, |c| {
        let mut stmt = c.prepare(
            "SELECT id, created_at, privacy, description, length(body) FROM snapshots
             ORDER BY created_at DESC, rowid DESC",
        )?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, i64>(4)?,
                ))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    })
    .await?;
    let snapshots: Vec<SnapshotInfo> = rows
        .into_iter()
        .filter_map(|(id, created_at, privacy, description, bytes)| {
            Some(SnapshotInfo {
                id,
                created_at,
                privacy: parse_privacy(&privacy)?,
                description,
                bytes: bytes.max(0) as u64,
            })
        })
        .collect();
    Ok(Json(serde_json::json!({ "snapshots": snapshots })))
}

async fn remove(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    if !valid_id(&id) {
        return Err(not_found());
    }
    let deleted = with_db(&state, move |c| {
        c.execute("DELETE FROM snapshots WHERE id = ?1", [id])
    })
    .await?;
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
