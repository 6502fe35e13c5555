//! The page's engine, a Web Worker (built by Trunk from index.html's
//! `data-type="worker"` link, loaded by the page when it has data to hold:
//! the first file import, data stored in this browser, live mode; never on
//! a first visit). It holds the data (`engine_state`): it reads a dropped
//! `File` with `File.stream()` straight into core's `ImportStream`, keeps
//! the file's table, merges it, encodes it for storage, takes the server's
//! rows and computes the report, so none of that runs on the page's
//! thread. Messages: `engine_msg` (shared with the page).
//!
//! At start it folds a few thousand synthetic rows once before saying
//! `Ready`: Chromium runs a freshly loaded wasm function unoptimised on its
//! first call, and a large file's first call would pay for it.

// Shared with the page, which uses parts the worker does not.
#[path = "../engine_msg.rs"]
#[allow(dead_code)]
mod engine_msg;
#[path = "../engine_state.rs"]
#[allow(dead_code)]
mod engine_state;
#[path = "../table_store.rs"]
#[allow(dead_code)]
mod table_store;
// The page's error words, so a file the browser cannot read is described
// here as on the page (its other errors are the page's, unused here).
#[path = "../error.rs"]
#[allow(dead_code)]
mod error;

use std::cell::{Cell, RefCell};
use std::fmt::Write as _;
use std::rc::Rc;

use engine_msg::{Finished, FromEngine, ToEngine, PROBLEMS_SENT};
use engine_state::EngineState;
use js_sys::{Array, Uint8Array};
use scoreboard_core::parse::{ImportError, ImportOptions, ImportStream};
use scoreboard_core::UsageTable;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{Blob, DedicatedWorkerGlobalScope, MessageEvent, ReadableStreamDefaultReader};

fn main() {
    console_error_panic_hook::set_once();
    let scope: DedicatedWorkerGlobalScope = js_sys::global().unchecked_into();
    warm_up();
    // The import the page cancelled last (ids start at 1): its read loop
    // stops at its next chunk.
    let cancelled = Rc::new(Cell::new(0u32));
    let state = Rc::new(RefCell::new(EngineState::default()));
    let onmessage = Closure::<dyn FnMut(MessageEvent)>::new(move |e: MessageEvent| {
        let data = Array::from(&e.data());
        let text = data.get(0).as_string().unwrap_or_default();
        match serde_json::from_str::<ToEngine>(&text) {
            Ok(ToEngine::Import {
                id,
                name,
                period,
                column_overrides,
            }) => {
                let blob: Blob = data.get(1).unchecked_into();
                // Prices are core's default, as everywhere on the page.
                let opts = ImportOptions {
                    period,
                    column_overrides,
                    ..ImportOptions::default()
                };
                wasm_bindgen_futures::spawn_local(import(
                    id,
                    name,
                    opts,
                    blob,
                    cancelled.clone(),
                    state.clone(),
                ));
            }
            Ok(ToEngine::Cancel { id }) => cancelled.set(id),
            Ok(ToEngine::Call { id, request }) => {
                let buffers = (1..data.length())
                    .map(|i| Uint8Array::new(&data.get(i)).to_vec())
                    .collect();
                let (reply, out) = state.borrow_mut().answer(request, buffers);
                post_with(&FromEngine::Reply { id, reply }, &out);
                post_memory();
            }
            // Only a page of another version could send this: nothing to answer.
            Err(_) => {}
        }
    });
    scope.set_onmessage(Some(onmessage.as_ref().unchecked_ref()));
    onmessage.forget();
    post(&FromEngine::Ready);
}

fn post(msg: &FromEngine) {
    post_with(msg, &[]);
}

/// Posts `[json, bytes…]`, the bytes' buffers transferred to the page.
fn post_with(msg: &FromEngine, buffers: &[Vec<u8>]) {
    let scope: DedicatedWorkerGlobalScope = js_sys::global().unchecked_into();
    // These types always serialise; an empty message would read as a broken engine.
    let text = serde_json::to_string(msg).unwrap_or_default();
    let data = Array::of1(&JsValue::from_str(&text));
    let transfer = Array::new();
    for bytes in buffers {
        let buf = Uint8Array::from(bytes.as_slice());
        transfer.push(&buf.buffer());
        data.push(&buf);
    }
    let _ = scope.post_message_with_transfer(&data, &transfer);
}

/// Reads the file and answers: progress, then `Done` (the file's table
/// kept under `id`); or `Cancelled` when the page cancelled it.
async fn import(
    id: u32,
    name: String,
    opts: ImportOptions,
    blob: Blob,
    cancelled: Rc<Cell<u32>>,
    state: Rc<RefCell<EngineState>>,
) {
    let result = match read(id, &name, opts, &blob, &cancelled).await {
        Ok(Some((mut import, table))) if cancelled.get() != id => {
            let problems_total = import.problems.len() as u64;
            import.problems.truncate(PROBLEMS_SENT);
            let summary = engine_state::summary(&table);
            state.borrow_mut().keep(id, table);
            Ok(Finished {
                import,
                problems_total,
                summary,
            })
        }
        Err(e) => Err(e),
        // Cancelled while reading, or parsing ended while the page's
        // `Cancel` waited to be read: nothing of it is kept.
        Ok(_) => {
            post(&FromEngine::Cancelled { id });
            return;
        }
    };
    post(&FromEngine::Done { id, result });
    post_memory();
}

/// Tells the page how large this worker's wasm memory has grown.
fn post_memory() {
    let bytes = wasm_bindgen::memory()
        .dyn_into::<js_sys::WebAssembly::Memory>()
        .ok()
        .and_then(|m| m.buffer().dyn_into::<js_sys::ArrayBuffer>().ok())
        .map_or(0.0, |b| f64::from(b.byte_length()));
    post(&FromEngine::Memory { bytes });
}

/// The file's import; `None` when the page cancelled it (`cancelled` holds its id).
async fn read(
    id: u32,
    name: &str,
    opts: ImportOptions,
    blob: &Blob,
    cancelled: &Cell<u32>,
) -> Result<Option<(scoreboard_core::parse::Import, UsageTable)>, ImportError> {
    let mut stream = ImportStream::new(name, opts)?;
    let size = blob.size();
    stream.size_hint(size as usize);
    let could_not_read = |e: JsValue| ImportError::UnknownFormat {
        file: name.to_string(),
        reason: format!(
            "the browser could not read it ({})",
            error::JsError::from(e)
        ),
    };
    let reader: ReadableStreamDefaultReader = blob.stream().get_reader().unchecked_into();
    let mut buf = Vec::new();
    let mut done = 0.0;
    let mut last_post = 0.0;
    loop {
        if cancelled.get() == id {
            // Frees the file; what was parsed is dropped with `stream`.
            let _ = reader.cancel();
            return Ok(None);
        }
        let next: web_sys::ReadableStreamReadResult = JsFuture::from(reader.read())
            .await
            .map_err(could_not_read)?
            .unchecked_into();
        if next.get_done().unwrap_or(false) {
            break;
        }
        let chunk: Uint8Array = next.get_value().unchecked_into();
        buf.resize(chunk.length() as usize, 0);
        chunk.copy_to(&mut buf);
        stream.feed(&buf);
        done += buf.len() as f64;
        let now = js_sys::Date::now();
        if now - last_post >= 50.0 {
            last_post = now;
            post(&FromEngine::Progress { id, done });
        }
    }
    post(&FromEngine::Progress { id, done: size });
    stream.finish_table().map(Some)
}

/// Runs the import path once over a small synthetic export (a usage CSV of
/// 4,000 person-days in two chunks, then merged, encoded for storage and
/// computed), so a real file's first call runs optimised code.
fn warm_up() {
    let mut csv = String::from("Date,Email,Product,Sessions,Lines accepted,Spend (USD)\n");
    for n in 0..4_000u32 {
        let _ = writeln!(
            csv,
            "2025-{:02}-{:02},person{}@example.com,Claude Code,{},{},{}.{:02}",
            1 + n % 12,
            1 + n % 28,
            n % 97,
            n % 9,
            n % 400,
            n % 7,
            n % 100
        );
    }
    let Ok(mut stream) = ImportStream::new("warm-up.csv", ImportOptions::default()) else {
        return;
    };
    let bytes = csv.as_bytes();
    stream.size_hint(bytes.len());
    let (a, b) = bytes.split_at(bytes.len() / 2);
    stream.feed(a);
    stream.feed(b);
    // Then as a file's table is: merged, stored and computed.
    if let Ok((_, table)) = stream.finish_table() {
        let mut state = EngineState::default();
        let id = state.keep_new(table);
        let _ = state.answer(
            engine_msg::Request::Merge {
                steps: vec![engine_msg::MergeStep::Add(id)],
            },
            Vec::new(),
        );
        let _ = state.answer(engine_msg::Request::Save, Vec::new());
        let opts = scoreboard_core::ReportOptions {
            as_of: chrono::NaiveDate::from_ymd_opt(2025, 12, 31).unwrap_or_default(),
            window: scoreboard_core::WindowSpec::LastWeeks { weeks: 8 },
            team: None,
        };
        let _ = state.answer(
            engine_msg::Request::Compute(engine_msg::ComputeRequest {
                opts,
                roster: None,
                live: false,
                with_own: true,
            }),
            Vec::new(),
        );
    }
}
