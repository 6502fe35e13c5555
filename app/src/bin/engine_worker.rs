//! The page's engine, a Web Worker (built by Trunk from index.html's
//! `data-type="worker"` link, loaded by the page on its first file import,
//! never on a first visit): it reads a dropped `File` with `File.stream()`
//! straight into core's `ImportStream`, so parsing a large export never
//! runs on the page's thread. Messages: `engine_msg` (shared with the page).
//!
//! At start it folds a few thousand synthetic rows once before saying
//! `Ready`: Chromium runs a freshly loaded wasm function unoptimised on its
//! first call, and a large file's first call would pay for it.

#[path = "../engine_msg.rs"]
mod engine_msg;
// The page's error words, so a file the browser cannot read is described
// here as on the page (its other errors are the page's, unused here).
#[path = "../error.rs"]
#[allow(dead_code)]
mod error;

use std::cell::Cell;
use std::fmt::Write as _;
use std::rc::Rc;

use engine_msg::{Finished, FromEngine, ToEngine, PROBLEMS_SENT};
use js_sys::{Array, Uint8Array};
use scoreboard_core::api::{rows_wire, RowsAnswer};
use scoreboard_core::model::DayRow;
use scoreboard_core::parse::{ImportError, ImportOptions, ImportStream};
use scoreboard_core::UsageTable;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{Blob, DedicatedWorkerGlobalScope, MessageEvent, ReadableStreamDefaultReader};

/// Rows per `Rows` message: decoding one chunk on the page stays a short task.
const ROWS_PER_MESSAGE: usize = 1_000;

fn main() {
    console_error_panic_hook::set_once();
    let scope: DedicatedWorkerGlobalScope = js_sys::global().unchecked_into();
    warm_up();
    // The import the page cancelled last (ids start at 1): its read loop
    // stops at its next chunk.
    let cancelled = Rc::new(Cell::new(0u32));
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
                wasm_bindgen_futures::spawn_local(import(id, name, opts, blob, cancelled.clone()));
            }
            Ok(ToEngine::Cancel { id }) => cancelled.set(id),
            // Only a page of another version could send this: nothing to answer.
            Err(_) => {}
        }
    });
    scope.set_onmessage(Some(onmessage.as_ref().unchecked_ref()));
    onmessage.forget();
    post(&FromEngine::Ready);
}

fn post(msg: &FromEngine) {
    post_with(msg, None);
}

/// Posts `[json, bytes]`, the bytes' buffer transferred to the page.
fn post_with(msg: &FromEngine, bytes: Option<&[u8]>) {
    let scope: DedicatedWorkerGlobalScope = js_sys::global().unchecked_into();
    // These types always serialise; an empty message would read as a broken engine.
    let text = serde_json::to_string(msg).unwrap_or_default();
    let data = Array::of1(&JsValue::from_str(&text));
    let transfer = Array::new();
    if let Some(bytes) = bytes {
        let buf = Uint8Array::from(bytes);
        transfer.push(&buf.buffer());
        data.push(&buf);
    }
    let _ = scope.post_message_with_transfer(&data, &transfer);
}

/// A chunk of rows in core's compact encoding (`rows_wire`): an answer of rows only.
fn encode_rows(rows: Vec<DayRow>) -> Vec<u8> {
    let day = rows.first().map(|r| r.day).unwrap_or_default();
    rows_wire::encode(&RowsAnswer {
        from: day,
        to: day,
        counts: Default::default(),
        rows,
        periods: Vec::new(),
        imported: Default::default(),
        coverage: Vec::new(),
        cursor: None,
        delta: None,
    })
}

/// Reads the file and answers: progress, the rows in chunks, then `Done`;
/// or `Cancelled` when the page cancelled it before its rows were sent.
async fn import(id: u32, name: String, opts: ImportOptions, blob: Blob, cancelled: Rc<Cell<u32>>) {
    let result = match read(id, &name, opts, &blob, &cancelled).await {
        Ok(None) => {
            post(&FromEngine::Cancelled { id });
            return;
        }
        // Parsing ended while the page's `Cancel` waited to be read.
        Ok(Some(_)) if cancelled.get() == id => {
            post(&FromEngine::Cancelled { id });
            return;
        }
        Ok(Some((mut import, table))) => {
            let problems_total = import.problems.len() as u64;
            import.problems.truncate(PROBLEMS_SENT);
            // The file was folded into its own columnar table (no `DayRow` per
            // row held at once); its day rows go out a chunk at a time, from
            // the end as the page has always counted `left`. One import's rows
            // have distinct keys, so their order does not matter to the page.
            let mut end = table.day_count();
            while end > 0 {
                let start = end.saturating_sub(ROWS_PER_MESSAGE);
                let chunk = table.day_rows_in(start..end).collect();
                post_with(
                    &FromEngine::Rows { id, left: end },
                    Some(&encode_rows(chunk)),
                );
                end = start;
            }
            // Period rows are few; they travel in the import as before.
            import.periods = table.periods().to_vec();
            Ok(Finished {
                import,
                problems_total,
            })
        }
        Err(e) => Err(e),
    };
    post(&FromEngine::Done { id, result });
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
/// 4,000 person-days in two chunks, its rows then written as the page is
/// sent them), so a real file's first call runs optimised code.
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
    if let Ok((_, table)) = stream.finish_table() {
        let _ = encode_rows(table.day_rows().collect());
    }
}
