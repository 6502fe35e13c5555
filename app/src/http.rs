//! Asking the server that serves the page: the demo files, the live rows
//! and status (`live`), the roll-out, shared snapshots. Every answer is read
//! here, and every failure is a [`FetchError`] the caller can branch on.

use js_sys::Uint8Array;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

use crate::error::{FetchError, JsError};

/// The header `scoreboard serve` requires on every change (`server/src/guard.rs`):
/// a form or a script on another site cannot send it.
pub const WRITE_HEADER: &str = "x-scoreboard-request";

pub async fn response(req: JsFuture) -> Result<web_sys::Response, FetchError> {
    let resp = req.await.map_err(JsError::from)?;
    resp.dyn_into()
        .map_err(|_| JsError::new("the browser gave no response").into())
}

/// The bytes at `url` (relative to the page); an error status is an error.
pub async fn fetch_bytes(url: &str) -> Result<Vec<u8>, FetchError> {
    let w = web_sys::window().ok_or_else(|| JsError::new("no window"))?;
    let resp = response(JsFuture::from(w.fetch_with_str(url))).await?;
    if !resp.ok() {
        return Err(FetchError::Status {
            url: url.to_string(),
            status: resp.status(),
            message: None,
        });
    }
    let buf = JsFuture::from(resp.array_buffer().map_err(JsError::from)?)
        .await
        .map_err(JsError::from)?;
    Ok(Uint8Array::new(&buf).to_vec())
}

/// The JSON answer at `url`, read into `T` (mostly `core::api`'s types).
pub async fn fetch_json<T: serde::de::DeserializeOwned>(url: &str) -> Result<T, FetchError> {
    let bytes = fetch_bytes(url).await?;
    serde_json::from_slice(&bytes).map_err(|e| FetchError::Unexpected {
        url: url.to_string(),
        reason: e.to_string(),
    })
}

/// The text at `url` (a snapshot file).
pub async fn fetch_text(url: &str) -> Result<String, FetchError> {
    let bytes = fetch_bytes(url).await?;
    String::from_utf8(bytes).map_err(|_| FetchError::Unexpected {
        url: url.to_string(),
        reason: "not UTF-8 text".to_string(),
    })
}

/// Sends `method` to `url` on the server (`body` as text); its JSON answer,
/// or its error with the server's own message (`{"error": {"message"}}`).
/// A change carries [`WRITE_HEADER`].
pub async fn send_json(
    method: &str,
    url: &str,
    body: Option<&str>,
) -> Result<serde_json::Value, FetchError> {
    let init = web_sys::RequestInit::new();
    init.set_method(method);
    if let Some(b) = body {
        init.set_body(&wasm_bindgen::JsValue::from_str(b));
    }
    let req = web_sys::Request::new_with_str_and_init(url, &init).map_err(JsError::from)?;
    if body.is_some() {
        let _ = req.headers().set("content-type", "text/plain");
    }
    if method != "GET" {
        let _ = req.headers().set(WRITE_HEADER, "1");
    }
    let w = web_sys::window().ok_or_else(|| JsError::new("no window"))?;
    let resp = response(JsFuture::from(w.fetch_with_request(&req))).await?;
    let status = resp.status();
    let text = JsFuture::from(resp.text().map_err(JsError::from)?)
        .await
        .map_err(JsError::from)?
        .as_string()
        .unwrap_or_default();
    let value: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
    if !resp.ok() {
        let message = value
            .pointer("/error/message")
            .and_then(|m| m.as_str())
            .map(str::to_string);
        return Err(FetchError::Status {
            url: url.to_string(),
            status,
            message,
        });
    }
    Ok(value)
}
