//! The page's engine, a Web Worker (built by Trunk from index.html's
//! `data-type="worker"` link, loaded by the page when it has data to hold:
//! the first file import, data stored in this browser, live mode; never on
//! a first visit). It holds the data (`engine_state`): it reads a dropped
//! `File` in slices straight into core's `ImportStream`, keeps the file's
//! table, merges it, encodes and writes it to IndexedDB, takes the server's rows and
//! computes the report, so none of that runs on the page's thread.
//! Messages: `engine_msg` (shared with the page). Built for speed (Cargo
//! profile `wasm-worker`), unlike the page's own wasm.
//!
//! At start it runs a few thousand synthetic rows through the whole path
//! once before saying `Ready`, then again in up to `WARM_ROUNDS` rounds
//! until real work comes: Chromium compiles a freshly loaded wasm function
//! quickly on its first call and for speed only once it has run a while,
//! and a large file's first call would pay for both.

// Shared with the page, which uses parts the worker does not.
#[path = "../engine_msg.rs"]
#[allow(dead_code)]
mod engine_msg;
#[path = "../engine_state.rs"]
#[allow(dead_code)]
mod engine_state;
#[path = "../engine_store.rs"]
mod engine_store;
#[path = "../idb.rs"]
#[allow(dead_code)]
mod idb;
#[path = "../table_store.rs"]
#[allow(dead_code)]
mod table_store;
// The page's error words, so a file the browser cannot read is described
// here as on the page (its other errors are the page's, unused here).
#[path = "../error.rs"]
#[allow(dead_code)]
mod error;

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use engine_msg::{Finished, FromEngine, ToEngine, PROBLEMS_SENT};
use engine_state::EngineState;
use js_sys::{Array, Uint8Array};
use scoreboard_core::parse::{ImportError, ImportOptions, ImportStream};
use scoreboard_core::UsageTable;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{Blob, DedicatedWorkerGlobalScope, MessageEvent};

fn main() {
    console_error_panic_hook::set_once();
    let scope: DedicatedWorkerGlobalScope = js_sys::global().unchecked_into();
    warm_up();
    // The import the page cancelled last (ids start at 1): its read loop
    // stops at its next chunk.
    let cancelled = Rc::new(Cell::new(0u32));
    let state = Rc::new(RefCell::new(EngineState::default()));
    // Set by the first real work, which the rest of the warm-up must not slow.
    let working = Rc::new(Cell::new(false));
    let at_work = working.clone();
    let onmessage = Closure::<dyn FnMut(MessageEvent)>::new(move |e: MessageEvent| {
        let data = Array::from(&e.data());
        let text = data.get(0).as_string().unwrap_or_default();
        match serde_json::from_str::<ToEngine>(&text) {
            Ok(ToEngine::Import {
                id,
                name,
                period,
                column_overrides,
                head,
            }) => {
                at_work.set(true);
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
                    (blob, head as usize),
                    cancelled.clone(),
                    state.clone(),
                ));
            }
            Ok(ToEngine::Cancel { id }) => cancelled.set(id),
            Ok(ToEngine::Call { id, request }) => {
                let buffers: Vec<Vec<u8>> = (1..data.length())
                    .map(|i| Uint8Array::new(&data.get(i)).to_vec())
                    .collect();
                // The server's rows or a stored table: real work (the live
                // probe's empty answer is not).
                if buffers.iter().map(Vec::len).sum::<usize>() >= 64 * 1024 {
                    at_work.set(true);
                }
                // Answered in order; writing the stored data waits on
                // IndexedDB, and calls after it are answered meanwhile.
                let state = state.clone();
                wasm_bindgen_futures::spawn_local(async move {
                    mark("scoreboard:worker-call");
                    // The page asks for the sample when the user is about
                    // to import (not for stored data or live mode alone).
                    let import_ahead = matches!(request, engine_msg::Request::Sample);
                    let (reply, out) = engine_store::answer(state.clone(), request, buffers).await;
                    mark("scoreboard:worker-answered");
                    post_with(&FromEngine::Reply { id, reply }, &out);
                    // A merge's report, while the page takes the merge in.
                    if state.borrow_mut().compute_ahead() {
                        mark("scoreboard:worker-computed-ahead");
                    }
                    if import_ahead {
                        touch_memory(PREPARED_MEMORY);
                    }
                    post_memory();
                });
            }
            // Only a page of another version could send this: nothing to answer.
            Err(_) => {}
        }
    });
    scope.set_onmessage(Some(onmessage.as_ref().unchecked_ref()));
    onmessage.forget();
    post(&FromEngine::Ready);
    wasm_bindgen_futures::spawn_local(keep_warm(working));
}

/// Rounds of warm-up after `Ready`, one task each, until real work comes
/// (an import, or a call with 64 KB or more of rows; a smaller call, such as
/// live mode's empty first answer, is answered between two rounds).
/// Chromium compiles a wasm function for speed only once it has run a
/// while, and a call already running never switches to the faster code: one
/// round leaves the report's computation and the replies' encoding to run
/// unoptimised over a user's first file. (Measured in bench/notes/browser.md.)
const WARM_ROUNDS: u32 = 12;

async fn keep_warm(working: Rc<Cell<bool>>) {
    let scope: web_sys::WorkerGlobalScope = js_sys::global().unchecked_into();
    for _ in 0..WARM_ROUNDS {
        // A task of its own: a message that arrives meanwhile is answered first.
        let next_task = js_sys::Promise::new(&mut |resolve, _| {
            let _ = scope.set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, 0);
        });
        let _ = JsFuture::from(next_task).await;
        if working.get() {
            return;
        }
        warm_up();
    }
}

/// Wasm memory made ready for a file's table when the user is about to
/// import: about what a 100 k-row file's table and reading take.
const PREPARED_MEMORY: usize = 24 << 20;

/// Grows the wasm memory to hold `bytes` more and writes to each of their
/// pages once, then frees them for the allocator to hand out again (once a
/// worker's life). The system maps a page of memory the first time it is
/// written to: on this kind of machine about 2 µs a page, 5-8 ms for the
/// columns of a 100 k-row table, which a real file's parse would otherwise
/// pay while the user waits. A wasm module never gives memory back, so a
/// worker that reads a file keeps at least this much (a larger file reuses
/// it); one that does not grow (the memory is short) simply goes without.
fn touch_memory(bytes: usize) {
    thread_local! {
        static TOUCHED: Cell<bool> = const { Cell::new(false) };
    }
    if TOUCHED.replace(true) {
        return;
    }
    let mut block: Vec<u8> = Vec::new();
    if block.try_reserve_exact(bytes).is_err() {
        return;
    }
    for page in block.spare_capacity_mut().iter_mut().step_by(4096) {
        page.write(1);
    }
    std::hint::black_box(&block);
}

/// A mark in the worker's performance timeline: Chromium's traces show it
/// beside the page's (`BENCH_CHROME_TRACE`, bench/notes/browser-method.md).
fn mark(name: &str) {
    let scope: web_sys::WorkerGlobalScope = js_sys::global().unchecked_into();
    if let Some(p) = scope.performance() {
        let _ = p.mark(name);
    }
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
    (blob, head_len): (Blob, usize),
    cancelled: Rc<Cell<u32>>,
    state: Rc<RefCell<EngineState>>,
) {
    let mut head = Vec::new();
    let read = read(id, &name, opts, &blob, &cancelled, (&mut head, head_len)).await;
    let result = match read {
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
    let head = if head.is_empty() {
        Vec::new()
    } else {
        vec![head]
    };
    post_with(&FromEngine::Done { id, result }, &head);
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

/// Bytes read from a file at a time, and how many reads are asked for
/// ahead of the parsing: reads are served one after another at the
/// browser's pace (about 170 MB/s here; 6 MB in 12-16 ms when nothing
/// else runs), so parsing rarely waits once started, and at most a few
/// megabytes are held besides the table (never the whole file twice).
/// With one 4 MB read ahead, a 100 k-row file waited 15-25 ms for each
/// slice; with 128 KB slices the reads alone took 3 times as long.
const READ_SLICE: f64 = 1024.0 * 1024.0;
/// The first read is smaller, so parsing starts sooner: 128 KB came
/// 10 ms after the file was posted, 1 MB 14-24 ms.
const FIRST_SLICE: f64 = 128.0 * 1024.0;
const READS_AHEAD: usize = 6;

/// The file's import; `None` when the page cancelled it (`cancelled` holds
/// its id). The file's first `head_len` bytes are copied into `head`.
async fn read(
    id: u32,
    name: &str,
    opts: ImportOptions,
    blob: &Blob,
    cancelled: &Cell<u32>,
    (head, head_len): (&mut Vec<u8>, usize),
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
    // The file in slices of READ_SLICE bytes, READS_AHEAD of them asked for
    // before the one being parsed, so reading and parsing overlap. Each read
    // is a round trip to the browser's file store (`Blob.stream()` made it
    // in small chunks).
    let slice = |at: f64, len: f64| -> Result<JsFuture, ImportError> {
        let part = blob
            .slice_with_f64_and_f64(at, (at + len).min(size))
            .map_err(could_not_read)?;
        Ok(JsFuture::from(part.array_buffer()))
    };
    let mut reads = std::collections::VecDeque::with_capacity(READS_AHEAD);
    let mut asked = 0.0;
    let mut ask_ahead = |reads: &mut std::collections::VecDeque<JsFuture>| {
        while reads.len() < READS_AHEAD && asked < size {
            let len = if asked == 0.0 {
                FIRST_SLICE
            } else {
                READ_SLICE
            };
            reads.push_back(slice(asked, len)?);
            asked += len;
        }
        Ok::<(), ImportError>(())
    };
    ask_ahead(&mut reads)?;
    let mut buf = Vec::new();
    let mut done = 0.0;
    let mut last_post = 0.0;
    while let Some(reading) = reads.pop_front() {
        if cancelled.get() == id {
            // What was parsed is dropped with `stream`.
            return Ok(None);
        }
        let chunk = Uint8Array::new(&reading.await.map_err(could_not_read)?);
        if done == 0.0 {
            mark("scoreboard:worker-first-bytes");
        }
        let len = f64::from(chunk.length());
        if len == 0.0 {
            break;
        }
        ask_ahead(&mut reads)?;
        buf.resize(chunk.length() as usize, 0);
        chunk.copy_to(&mut buf);
        let wanted = head_len.saturating_sub(head.len()).min(buf.len());
        head.extend_from_slice(&buf[..wanted]);
        stream.feed(&buf);
        done += len;
        let now = js_sys::Date::now();
        if now - last_post >= 50.0 {
            last_post = now;
            post(&FromEngine::Progress { id, done });
        }
    }
    post(&FromEngine::Progress { id, done: size });
    let table = stream.finish_table().map(Some);
    mark("scoreboard:worker-parsed");
    table
}

/// Runs the import path once over a small synthetic export
/// (`engine_state::sample_csv`: read in two chunks, then answered, merged,
/// encoded for storage, computed and answered), so a real file's first call
/// finds its code compiled; the rounds of `keep_warm` get it compiled for speed.
fn warm_up() {
    let Ok((import, table)) = engine_state::parse_sample() else {
        return;
    };
    let mut state = EngineState::default();
    let done = FromEngine::Done {
        id: 0,
        result: Ok(Finished {
            import,
            problems_total: 0,
            summary: engine_state::summary(&table),
        }),
    };
    let _ = serde_json::to_string(&done);
    let id = state.keep_new(table);
    let _ = state.answer(
        engine_msg::Request::Merge {
            steps: vec![engine_msg::MergeStep::Add(id)],
            next_report: None,
        },
        Vec::new(),
    );
    let _ = state.encode_own(drop);
    let (reply, _) = state.answer(
        engine_msg::Request::Compute(engine_msg::ComputeRequest {
            opts: engine_state::sample_options(),
            roster: None,
            live: false,
            with_own: true,
        }),
        Vec::new(),
    );
    let _ = serde_json::to_string(&FromEngine::Reply { id: 0, reply });
}
