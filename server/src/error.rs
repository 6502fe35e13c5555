//! The page API's error answer, `{"error": {"status", "message"}}`, and
//! [`blocking`], the one way a handler runs store or core work off the
//! async threads. A leaf: it imports no other module of this crate but the
//! store's error type.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use crate::store::StoreError;

/// An error answer: `{"error": {"status": 400, "message": "…"}}`.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            message: message.into(),
        }
    }
    pub fn message(&self) -> &str {
        &self.message
    }
    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, message)
    }
    /// Internal details go to the log, not to the client.
    pub fn internal(detail: impl Into<String>) -> ApiError {
        let detail = detail.into();
        tracing::error!(error = %detail, "request failed");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the server could not read its database; see the server log",
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (
            self.status,
            Json(json!({ "error": { "status": self.status.as_u16(), "message": self.message } })),
        )
            .into_response()
    }
}

/// A store that cannot be read is the server's fault: a 500, details logged.
impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> ApiError {
        ApiError::internal(e.to_string())
    }
}

/// Runs blocking work (SQLite, a folder or file read, core's computing) on
/// tokio's blocking threads, so no request waits behind it on the async
/// ones. A task that panicked or was cancelled is a 500 (logged); the
/// work's own result comes back as it is: `blocking(..).await??` when it
/// is a `Result` whose error converts into an [`ApiError`].
pub async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::internal(format!("a blocking task failed: {e}")))
}
