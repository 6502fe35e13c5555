//! Sharing (issue 6): opening a shared snapshot, and making links.
//!
//! A snapshot is core's `share::Snapshot`: the already computed `Report`
//! with a privacy choice applied. It reaches the page in one of three ways:
//! - `#s=v1.…` in the URL: the whole snapshot in the fragment, which the
//!   browser never sends to a server;
//! - `?snapshot=URL`: fetched from `URL` (a snapshot file published next to
//!   a static copy of the site, or `api/snapshots/<id>` on `scoreboard serve`);
//! - a snapshot file (`*.scoreboard.json`) dropped on the page or picked in
//!   the file chooser.
//!
//! While a snapshot is shown the page is read-only: the dashboard renders
//! the snapshot's report through the same components, with no drop zone,
//! filters or "clear". Links are made in `components::share_dialog` (with
//! the helpers at the end of this file), and shown by `components::shared_page`.
//!
//! URL knobs: `?share_limit=N` lowers the longest link (bytes of fragment)
//! the share dialog offers, to try the file path without a large data set.

use std::sync::Arc;

use leptos::prelude::*;
use scoreboard_core::share::{self, ListCounts, Privacy, Snapshot};
use scoreboard_core::WindowSpec;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

use crate::error::{FetchError, JsError};
use crate::http;
use crate::state::{ViewState, WindowChoice};
use crate::util;

/// The longest link the dialog offers, in bytes of URL fragment (core's
/// `MAX_LINK_FRAGMENT_BYTES`, which says why), unless `?share_limit=N`.
pub fn link_limit() -> usize {
    util::url_param("share_limit")
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(share::MAX_LINK_FRAGMENT_BYTES)
}

/// Where the snapshot on screen came from (named apart from the loader's
/// `Origin` of dropped files and the HTTP `Origin` header).
#[derive(Debug, Clone, PartialEq)]
pub enum OpenedFrom {
    Link,
    Url(String),
    File(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Opened {
    pub snapshot: Snapshot,
    pub from: OpenedFrom,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Shown {
    /// The page's own data.
    Own,
    /// Fetching `?snapshot=URL`.
    Loading(String),
    /// A snapshot that could not be opened, and why.
    Failed(String),
    Open(Arc<Opened>),
}

/// The shared-view state, provided by `App`.
#[derive(Clone, Copy)]
pub struct ShareCtx {
    pub shown: RwSignal<Shown>,
}

/// Provided inside a shared view whose lists are kept only as counts
/// (aggregates only): the KPI cards read the counts from here.
#[derive(Clone, Debug, PartialEq)]
pub struct SharedCounts(pub Option<ListCounts>);

impl ShareCtx {
    /// Creates the state, reads the URL, and starts listening for dropped
    /// snapshot files and for a new `#s=` pasted into the address bar.
    pub fn provide() -> ShareCtx {
        let sc = ShareCtx {
            shown: RwSignal::new(Shown::Own),
        };
        provide_context(sc);
        sc.open_from_url();
        listen(sc);
        sc
    }

    /// True when the page shows (or is opening) a snapshot instead of its own data.
    pub fn active(self) -> bool {
        self.shown.with_untracked(|s| !matches!(s, Shown::Own))
    }

    fn open_from_url(self) {
        let Some(w) = web_sys::window() else { return };
        let hash = w.location().hash().unwrap_or_default();
        if let Some(code) = hash.strip_prefix("#s=") {
            // Unpacking is asynchronous (the browser's DecompressionStream):
            // "Loading" meanwhile, so the page skips its own start-up.
            self.shown.set(Shown::Loading(String::new()));
            let code = code.to_string();
            leptos::task::spawn_local(async move {
                let shown = match read_snapshot(SnapshotText::Link(code.clone())).await {
                    Ok(snapshot) => Shown::Open(Arc::new(Opened {
                        snapshot,
                        from: OpenedFrom::Link,
                    })),
                    Err(e) => Shown::Failed(format!("This shared link cannot be opened: {e}.")),
                };
                // A newer `#s=` pasted meanwhile wins.
                let current = web_sys::window()
                    .and_then(|w| w.location().hash().ok())
                    .unwrap_or_default();
                if current.strip_prefix("#s=") == Some(code.as_str()) {
                    self.shown.set(shown);
                }
            });
            return;
        }
        if let Some(url) = util::url_param("snapshot").filter(|u| !u.trim().is_empty()) {
            self.shown.set(Shown::Loading(url.clone()));
            leptos::task::spawn_local(async move {
                let shown = match http::fetch_text(&url).await {
                    // A static host (and `scoreboard serve`) answer unknown paths with the page itself.
                    Ok(text) if text.trim_start().starts_with('<') => Shown::Failed(format!(
                        "The address {url} gives a web page, not a snapshot file: check the address, or ask for the file itself."
                    )),
                    Ok(text) => match read_snapshot(SnapshotText::Text(text)).await {
                        Ok(snapshot) => Shown::Open(Arc::new(Opened {
                            snapshot,
                            from: OpenedFrom::Url(url),
                        })),
                        Err(e) => Shown::Failed(format!(
                            "The snapshot at {url} cannot be opened: {e}."
                        )),
                    },
                    Err(e) => Shown::Failed(format!(
                        "The snapshot at {url} could not be fetched ({e}). Check the address; a snapshot on \
                         another site must be served with CORS allowing this page."
                    )),
                };
                self.shown.set(shown);
            });
        }
    }

    /// Opens a snapshot file's content.
    pub async fn open_file(self, name: String, bytes: Vec<u8>) {
        self.shown
            .set(match read_snapshot(SnapshotText::File(bytes)).await {
                Ok(snapshot) => Shown::Open(Arc::new(Opened {
                    snapshot,
                    from: OpenedFrom::File(name),
                })),
                Err(e) => Shown::Failed(format!("{name} cannot be opened as a snapshot: {e}.")),
            });
        scroll_to_top();
    }

    /// Back to the page's own data. A snapshot that came with the URL
    /// reloads the page without it (the page skipped its own start-up).
    pub fn close(self) {
        let from_url = self.shown.with_untracked(|s| match s {
            Shown::Open(o) => !matches!(o.from, OpenedFrom::File(_)),
            Shown::Own => false,
            Shown::Loading(_) | Shown::Failed(_) => true,
        });
        if from_url {
            if let Some(w) = web_sys::window() {
                let path = w.location().pathname().unwrap_or_else(|_| "./".into());
                let _ = w.location().assign(&path);
            }
        } else {
            self.shown.set(Shown::Own);
        }
    }
}

pub fn share_ctx() -> ShareCtx {
    expect_context::<ShareCtx>()
}

/// The snapshot's view as the page's filter state.
pub fn view_state(s: &Snapshot) -> ViewState {
    let (window, from, to) = match s.view.window {
        WindowSpec::LastWeeks { weeks } => (WindowChoice::Last { weeks }, None, None),
        WindowSpec::All => (WindowChoice::All, None, None),
        WindowSpec::Custom { from, to } => (WindowChoice::Custom, Some(from), Some(to)),
    };
    ViewState {
        window,
        from,
        to,
        team: s.view.team.clone(),
    }
}

/// `counts` when the snapshot keeps its lists only as counts.
pub fn hidden_counts(s: &Snapshot) -> Option<ListCounts> {
    (s.privacy == Privacy::AggregatesOnly).then(|| s.counts.clone())
}

/// What a snapshot is read from.
enum SnapshotText {
    /// The `v1.…` of a `#s=` link.
    Link(String),
    /// Text fetched from `?snapshot=URL`: either form.
    Text(String),
    /// A snapshot file's bytes.
    File(Vec<u8>),
}

/// Reads a snapshot. With the page's `split` feature, a module of its own
/// (serde's reader of the snapshot and its `Report`), fetched only when a
/// snapshot is opened: never on a first visit.
#[cfg_attr(feature = "split", leptos::lazy)]
async fn read_snapshot(from: SnapshotText) -> Result<Snapshot, share::ShareError> {
    match from {
        SnapshotText::Link(code) => decode_link(&code).await,
        SnapshotText::Text(text) => decode_text(&text).await,
        SnapshotText::File(bytes) => share::decode_file(&bytes),
    }
}

/// Reads snapshot text: the file form (JSON) or the link form (`v1.…`).
pub async fn decode_text(text: &str) -> Result<Snapshot, share::ShareError> {
    let t = text.trim_start_matches('\u{feff}').trim();
    if t.starts_with('{') {
        share::decode_file(t.as_bytes())
    } else {
        decode_link(t).await
    }
}

// ---- The link codec ------------------------------------------------------
//
// Core's `share::encode_link`/`decode_link` (the server and the CLI use
// them) do the zlib step with miniz_oxide. The page does that step with the
// browser's CompressionStream/DecompressionStream instead: their "deflate"
// format is zlib (RFC 1950, with the Adler-32 checksum that makes a damaged
// link fail), so links are the same format both ways, and the wasm carries
// no compressor (BENCHMARKS.md §1). The rest (JSON, base64url, version,
// limits) is core's, shared with `decode_link`.

/// `v<version>.` + base64url(zlib(JSON)) of a snapshot, like core's `encode_link`.
pub async fn encode_link(snapshot: &Snapshot) -> Result<String, JsError> {
    let pack = async {
        let zlib = zlib_stream("CompressionStream")?;
        read_stream(
            bytes_stream(&share::link_json(snapshot))?.pipe_through(&zlib),
            None,
        )
        .await
    };
    let packed = pack.await.map_err(JsError::from)?.unwrap_or_default();
    Ok(share::link_text(snapshot.version, &packed))
}

/// Reads a link made by [`encode_link`] or by core's `encode_link`, of this
/// or any older version. Unpacking stops at core's `MAX_SNAPSHOT_JSON_BYTES`.
pub async fn decode_link(text: &str) -> Result<Snapshot, share::ShareError> {
    let (version, packed) = share::link_parts(text)?;
    let unpack = async {
        let zlib = zlib_stream("DecompressionStream")?;
        read_stream(
            bytes_stream(&packed)?.pipe_through(&zlib),
            Some(share::MAX_SNAPSHOT_JSON_BYTES),
        )
        .await
    };
    let json = unpack
        .await
        .map_err(|e| {
            share::ShareError::Damaged(format!("cannot be unpacked: {}", JsError::from(e)))
        })?
        .ok_or_else(share::too_large_link)?;
    share::decode_link_json(&json, version)
}

/// `new CompressionStream("deflate")` (or `DecompressionStream`): a
/// readable/writable pair that `pipeThrough` takes as it is. Built through
/// the global constructor because web-sys has these classes only behind
/// `--cfg web_sys_unstable_apis`, which would rebuild web-sys and every
/// crate on top of it.
fn zlib_stream(class: &str) -> Result<web_sys::ReadableWritablePair, wasm_bindgen::JsValue> {
    let class: js_sys::Function =
        js_sys::Reflect::get(&js_sys::global(), &class.into())?.dyn_into()?;
    let stream = js_sys::Reflect::construct(&class, &js_sys::Array::of1(&"deflate".into()))?;
    Ok(stream.unchecked_into())
}

/// A stream of `bytes` (a Blob's, which the browser reads in chunks).
fn bytes_stream(bytes: &[u8]) -> Result<web_sys::ReadableStream, wasm_bindgen::JsValue> {
    let parts = js_sys::Array::of1(&js_sys::Uint8Array::from(bytes));
    Ok(web_sys::Blob::new_with_u8_array_sequence(&parts)?.stream())
}

/// Every byte of `stream`; `None` (and the stream cancelled) once it passes
/// `limit`, so a decompression bomb is never unpacked whole.
async fn read_stream(
    stream: web_sys::ReadableStream,
    limit: Option<usize>,
) -> Result<Option<Vec<u8>>, wasm_bindgen::JsValue> {
    let reader: web_sys::ReadableStreamDefaultReader = stream.get_reader().unchecked_into();
    let mut out = Vec::new();
    loop {
        let chunk: web_sys::ReadableStreamReadResult =
            JsFuture::from(reader.read()).await?.unchecked_into();
        if chunk.get_done().unwrap_or(true) {
            return Ok(Some(out));
        }
        let bytes = js_sys::Uint8Array::new(&chunk.get_value());
        let start = out.len();
        let end = start + bytes.length() as usize;
        if limit.is_some_and(|l| end > l) {
            let _ = reader.cancel();
            return Ok(None);
        }
        out.resize(end, 0);
        bytes.copy_to(&mut out[start..]);
    }
}

/// A live link's view, from `?window=8&team=…` (or `window=custom&from=…&to=…`).
pub fn view_from_url() -> Option<ViewState> {
    let window = WindowChoice::from_key(&util::url_param("window")?)?;
    Some(ViewState {
        window,
        from: util::url_param("from").and_then(|d| util::day_or_none(&d)),
        to: util::url_param("to").and_then(|d| util::day_or_none(&d)),
        team: util::url_param("team").filter(|t| !t.is_empty()),
    })
}

/// Snapshot files are recognised by name: `….scoreboard.json`, also with
/// the browser's " (1)" before `.json` when downloaded twice.
pub fn is_snapshot_name(name: &str) -> bool {
    let n = name.to_lowercase();
    n.ends_with(".json") && n.contains(".scoreboard")
}

async fn read_file(file: &web_sys::File) -> Result<Vec<u8>, JsError> {
    let buf = JsFuture::from(file.array_buffer()).await?;
    Ok(js_sys::Uint8Array::new(&buf).to_vec())
}

fn snapshot_file(list: Option<web_sys::FileList>) -> Option<web_sys::File> {
    let list = list?;
    (0..list.length())
        .filter_map(|i| list.get(i))
        .find(|f| is_snapshot_name(&f.name()))
}

fn open_picked(sc: ShareCtx, file: web_sys::File) {
    leptos::task::spawn_local(async move {
        let name = file.name();
        match read_file(&file).await {
            Ok(bytes) => sc.open_file(name, bytes).await,
            Err(e) => sc.shown.set(Shown::Failed(format!(
                "{name}: the browser could not read the file ({e})."
            ))),
        }
    });
}

fn scroll_to_top() {
    if let Some(w) = web_sys::window() {
        w.scroll_to_with_x_and_y(0.0, 0.0);
    }
}

/// Window-level listeners, in the capture phase so they run before the
/// drop zone's: a dropped or picked snapshot file opens as a snapshot
/// (other files go on to the importer); while a snapshot is shown, other
/// dropped files are refused instead of making the browser navigate to them.
fn listen(sc: ShareCtx) {
    let Some(w) = web_sys::window() else { return };
    let on_drop = Closure::<dyn Fn(web_sys::DragEvent)>::new(move |ev: web_sys::DragEvent| {
        let file = snapshot_file(ev.data_transfer().and_then(|d| d.files()));
        let reading_only = sc.shown.with_untracked(|s| matches!(s, Shown::Open(_)));
        if file.is_some() || reading_only {
            ev.prevent_default();
            ev.stop_immediate_propagation();
        }
        match file {
            Some(f) => open_picked(sc, f),
            None if reading_only => {
                if let Some(w) = web_sys::window() {
                    let _ = w.alert_with_message(
                        "This is a read-only snapshot. To load your own files, open Scoreboard without it (the button at the top).",
                    );
                }
            }
            None => {}
        }
    });
    let on_dragover = Closure::<dyn Fn(web_sys::DragEvent)>::new(move |ev: web_sys::DragEvent| {
        if sc.shown.with_untracked(|s| matches!(s, Shown::Open(_))) {
            ev.prevent_default();
        }
    });
    let on_change = Closure::<dyn Fn(web_sys::Event)>::new(move |ev: web_sys::Event| {
        let Some(input) = ev
            .target()
            .and_then(|t| t.dyn_into::<web_sys::HtmlInputElement>().ok())
        else {
            return;
        };
        if input.type_() != "file" {
            return;
        }
        if let Some(f) = snapshot_file(input.files()) {
            ev.stop_immediate_propagation();
            input.set_value("");
            open_picked(sc, f);
        }
    });
    let on_hash = Closure::<dyn Fn()>::new(move || {
        let hash = web_sys::window()
            .and_then(|w| w.location().hash().ok())
            .unwrap_or_default();
        if hash.starts_with("#s=") {
            sc.open_from_url();
            scroll_to_top();
        }
    });
    let _ =
        w.add_event_listener_with_callback_and_bool("drop", on_drop.as_ref().unchecked_ref(), true);
    let _ = w.add_event_listener_with_callback_and_bool(
        "dragover",
        on_dragover.as_ref().unchecked_ref(),
        true,
    );
    let _ = w.add_event_listener_with_callback_and_bool(
        "change",
        on_change.as_ref().unchecked_ref(),
        true,
    );
    let _ = w.add_event_listener_with_callback("hashchange", on_hash.as_ref().unchecked_ref());
    // The listeners live as long as the page.
    on_drop.forget();
    on_dragover.forget();
    on_change.forget();
    on_hash.forget();
}

/// This browser's pseudonym salt: random once, then kept, so the same
/// person gets the same pseudonym in every snapshot shared from here, and
/// nobody can recompute pseudonyms from a list of e-mails.
pub fn salt() -> String {
    const KEY: &str = "scoreboard.share.salt";
    let storage = web_sys::window().and_then(|w| w.local_storage().ok().flatten());
    if let Some(s) = storage
        .as_ref()
        .and_then(|s| s.get_item(KEY).ok().flatten())
        .filter(|s| s.len() >= 16)
    {
        return s;
    }
    let mut bytes = [0u8; 16];
    let filled = web_sys::window()
        .and_then(|w| w.crypto().ok())
        .and_then(|c| c.get_random_values_with_u8_array(&mut bytes).ok())
        .is_some();
    if !filled {
        for b in &mut bytes {
            *b = (js_sys::Math::random() * 256.0) as u8;
        }
    }
    let salt: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    if let Some(s) = storage {
        let _ = s.set_item(KEY, &salt);
    }
    salt
}

/// The page's address without query or fragment (`https://host/path/`).
pub fn page_base() -> String {
    web_sys::window()
        .and_then(|w| {
            let l = w.location();
            Some(format!("{}{}", l.origin().ok()?, l.pathname().ok()?))
        })
        .unwrap_or_default()
}

/// A live link: this page on the same server with the view in the query.
pub fn live_link(v: &ViewState) -> String {
    let mut q = vec![format!("window={}", v.window.key())];
    if v.window == WindowChoice::Custom {
        if let Some(f) = v.from {
            q.push(format!("from={f}"));
        }
        if let Some(t) = v.to {
            q.push(format!("to={t}"));
        }
    }
    if let Some(t) = &v.team {
        q.push(format!(
            "team={}",
            String::from(js_sys::encode_uri_component(t))
        ));
    }
    if let Some(a) = util::url_param("as_of") {
        q.push(format!("as_of={a}"));
    }
    format!("{}?{}", page_base(), q.join("&"))
}

/// POSTs an encoded snapshot to `scoreboard serve`; the stored id's link.
pub async fn store_on_server(code: &str) -> Result<String, FetchError> {
    let url = "api/snapshots";
    let answer = http::send_json("POST", url, Some(code)).await?;
    let link =
        answer
            .get("link")
            .and_then(|l| l.as_str())
            .ok_or_else(|| FetchError::Unexpected {
                url: url.to_string(),
                reason: "the answer has no link".to_string(),
            })?;
    Ok(format!("{}{link}", page_base()))
}

/// One stored snapshot, as `GET api/snapshots` lists it.
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
pub struct StoredSnapshot {
    pub id: String,
    pub created_at: String,
    pub privacy: Privacy,
    pub description: String,
    pub bytes: u64,
}

pub async fn stored_snapshots() -> Result<Vec<StoredSnapshot>, FetchError> {
    let url = "api/snapshots";
    let v = http::send_json("GET", url, None).await?;
    serde_json::from_value(v.get("snapshots").cloned().unwrap_or_default()).map_err(|e| {
        FetchError::Unexpected {
            url: url.to_string(),
            reason: e.to_string(),
        }
    })
}

pub async fn delete_stored(id: &str) -> Result<(), FetchError> {
    http::send_json("DELETE", &format!("api/snapshots/{id}"), None)
        .await
        .map(|_| ())
}

/// Whether `scoreboard serve` serves this page (it answers `api/health`).
pub async fn served_by_server() -> bool {
    crate::live::probe().await.is_some()
}

/// The page's link codec (the browser's zlib) against core's (miniz_oxide),
/// in headless Chromium (`make test`).
// Two attributes, not `all(test, …)`: clippy treats only `cfg(test)` as test code.
#[cfg(test)]
#[cfg(target_arch = "wasm32")]
mod browser_tests {
    use super::*;
    use wasm_bindgen_test::wasm_bindgen_test;

    // Links made by core's codec when each format was released.
    const V1: &str = include_str!("../../core/tests/share_data/v1-link.txt");
    const V2: &str = include_str!("../../core/tests/share_data/v2-link.txt");

    /// Guards links already sent: what core packed opens in the page the same.
    #[wasm_bindgen_test]
    async fn links_made_with_cores_codec_open_in_the_page_unchanged() {
        for link in [V1, V2] {
            let page = decode_link(link.trim()).await.unwrap();
            assert_eq!(page, share::decode_link(link).unwrap());
        }
        let fresh = share::encode_link(&share::decode_link(V2).unwrap());
        assert_eq!(
            decode_link(&fresh).await.unwrap(),
            share::decode_link(&fresh).unwrap()
        );
    }

    /// Guards the server's stored links (`/api/snapshots` unpacks with core)
    /// and pages of older builds: a link the page makes is core's format.
    #[wasm_bindgen_test]
    async fn a_link_the_page_makes_opens_with_cores_codec() {
        let snapshot = share::decode_link(V2).unwrap();
        let link = encode_link(&snapshot).await.unwrap();
        assert!(link.starts_with("v2."), "{link}");
        assert_eq!(share::decode_link(&link).unwrap(), snapshot);
        assert_eq!(decode_link(&link).await.unwrap(), snapshot);
    }

    /// A cut link fails loudly; a bomb stops unpacking at core's limit.
    #[wasm_bindgen_test]
    async fn damaged_links_and_bombs_are_refused() {
        let cut = &V1.trim()[..V1.trim().len() / 2];
        let msg = decode_link(cut).await.unwrap_err().to_string();
        assert!(msg.contains("damaged or cut short"), "{msg}");

        let zeros = vec![0u8; share::MAX_SNAPSHOT_JSON_BYTES + 1024 * 1024];
        let zlib = zlib_stream("CompressionStream").unwrap();
        let packed = read_stream(bytes_stream(&zeros).unwrap().pipe_through(&zlib), None)
            .await
            .unwrap()
            .unwrap();
        let bomb = share::link_text(2, &packed);
        assert!(bomb.len() < 64 * 1024, "{} bytes", bomb.len());
        let err = decode_link(&bomb).await.unwrap_err();
        assert!(matches!(err, share::ShareError::TooLarge(_)), "{err}");
    }
}
