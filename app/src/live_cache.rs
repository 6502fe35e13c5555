//! The server's rows, fetched incrementally and kept in this browser
//! (issue 13).
//!
//! The page asks `api/rows` in core's compact encoding
//! (`scoreboard_core::api::rows_wire`, the same definition the server
//! writes with), sending back the last answer's `ETag` (`If-None-Match`: an
//! unchanged server answers `304`, no body) and its `cursor` (a changed one
//! answers only what changed, which core's `RowsAnswer::apply` merges into the
//! rows held). The engine holds and reads the rows (`engine_state`: this
//! module only moves the bytes); they are kept, with their range, cursor
//! and `ETag`, in IndexedDB (`storage`'s `live` store, apart from the
//! user's own data), so a reload shows them at once and then asks only for
//! what changed meanwhile.
//! "Clear all data" empties the store (the rows on screen stay until the
//! page is closed; the next change keeps them again). No state of its own:
//! what the rows answer to ([`Held`]) is kept with them, in `Live`.

use chrono::NaiveDate;
use js_sys::Uint8Array;
use scoreboard_core::api::rows_wire;
use wasm_bindgen_futures::JsFuture;

use crate::engine_msg::LiveInfo;
use crate::error::{FetchError, JsError};
use crate::http;
use crate::util;

/// What the rows held answer to (kept with them, in `Live`): the next
/// request sends these back.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Held {
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
    cursor: Option<String>,
    etag: Option<String>,
}

impl Held {
    /// The `ETag` to keep with the rows.
    pub fn etag(&self) -> Option<&str> {
        self.etag.as_deref()
    }

    /// What the rows the engine holds answer to after it took an answer.
    pub fn of(info: &LiveInfo, etag: Option<String>) -> Held {
        Held {
            from: Some(info.from),
            to: Some(info.to),
            cursor: info.cursor.clone(),
            etag,
        }
    }
}

/// What `api/rows` said.
pub enum Fetched {
    /// `304`: the rows held are the server's.
    Unchanged,
    /// A full answer or a delta in the compact encoding (the engine reads
    /// and applies it), and its `ETag`.
    Changed(Uint8Array, Option<String>),
}

/// Asks for the rows of `from..=to`, with the cursor and `ETag` of what is
/// held when it is the same range (another range is asked for whole).
pub async fn fetch(from: NaiveDate, to: NaiveDate, held: &Held) -> Result<Fetched, FetchError> {
    let same = held.from == Some(from) && held.to == Some(to);
    let mut url = format!("api/rows?from={from}&to={to}");
    if let Some(c) = held.cursor.as_ref().filter(|_| same) {
        url.push_str("&cursor=");
        url.push_str(&String::from(js_sys::encode_uri_component(c)));
    }
    let req = web_sys::Request::new_with_str(&url).map_err(JsError::from)?;
    let headers = req.headers();
    let _ = headers.set("accept", rows_wire::CONTENT_TYPE);
    if let Some(e) = held.etag.as_ref().filter(|_| same) {
        let _ = headers.set("if-none-match", e);
    }
    let w = web_sys::window().ok_or_else(|| JsError::new("no window"))?;
    let resp = http::response(JsFuture::from(w.fetch_with_request(&req))).await?;
    if resp.status() == 304 {
        record_kind("unchanged", 0, 0);
        return Ok(Fetched::Unchanged);
    }
    if !resp.ok() {
        return Err(FetchError::Status {
            url,
            status: resp.status(),
            message: None,
        });
    }
    let etag = resp.headers().get("etag").ok().flatten();
    let buf = JsFuture::from(resp.array_buffer().map_err(JsError::from)?)
        .await
        .map_err(JsError::from)?;
    Ok(Fetched::Changed(Uint8Array::new(&buf), etag))
}

/// What the last `api/rows` answer was, for tests and `make bench`:
/// `window.__scoreboard_rows = {kind, rows, bytes}` (kind `full`, `delta`
/// or `unchanged`; `bytes` as decoded) and the mark `scoreboard:rows-<kind>`.
pub fn record(info: &LiveInfo, bytes: usize) {
    let kind = if info.delta { "delta" } else { "full" };
    record_kind(kind, info.answer_rows as usize, bytes);
}

fn record_kind(kind: &str, rows: usize, bytes: usize) {
    let Some(w) = web_sys::window() else { return };
    let entry = js_sys::Object::new();
    let _ = js_sys::Reflect::set(&entry, &"kind".into(), &kind.into());
    let _ = js_sys::Reflect::set(&entry, &"rows".into(), &(rows as f64).into());
    let _ = js_sys::Reflect::set(&entry, &"bytes".into(), &(bytes as f64).into());
    let _ = js_sys::Reflect::set(&w, &"__scoreboard_rows".into(), &entry);
    util::mark(&format!("scoreboard:rows-{kind}"));
}
