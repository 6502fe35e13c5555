//! The engine writes the user's stored data itself, where it runs (the
//! worker, `src/bin/engine_worker.rs`, includes this file by path; or the
//! page when no worker runs): the table's chunks are made and written on
//! the engine's thread, so a large table never crosses to the page's (at
//! 1 M rows, 35 MB whose arrival alone held the page's thread for 55 ms).
//! The page sends what it keeps beside the table (`storage::save`).

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use crate::engine_msg::{Reply, Request};
use crate::engine_state::EngineState;
use crate::error::StorageError;
use crate::{idb, table_store};

thread_local! {
    /// "Clear all data" requests answered so far: a save begun before one
    /// writes nothing.
    static CLEARS: Cell<u32> = const { Cell::new(0) };
}

/// Answers `request`, the stored data's requests here (they wait on
/// IndexedDB), every other one by the engine's state.
pub async fn answer(
    state: Rc<RefCell<EngineState>>,
    request: Request,
    buffers: Vec<Vec<u8>>,
) -> (Reply, Vec<Vec<u8>>) {
    let reply = match request {
        Request::Store { meta, files } => store(&state, &meta, &files, &buffers).await,
        Request::ClearStored => clear().await,
        other => return state.borrow_mut().answer(other, buffers),
    };
    let reply = match reply {
        Ok(()) => Reply::Stored,
        Err(StorageError::Stale) => Reply::Overtaken,
        Err(e) => Reply::Failed(e.to_string()),
    };
    (reply, Vec::new())
}

/// Writes the table as it is now, with the page's part of the meta record
/// and its kept files (`keys[i]`'s bytes are `files[i]`).
async fn store(
    state: &RefCell<EngineState>,
    page_meta: &str,
    keys: &[String],
    files: &[Vec<u8>],
) -> Result<(), StorageError> {
    let clears = CLEARS.get();
    // Each chunk moves out of wasm memory as soon as it is made (a 1 M-row
    // table's 35 MB held there grew the worker's memory for good).
    let mut chunks = Vec::new();
    let parts = state
        .borrow()
        .encode_own(|chunk| chunks.push(js_sys::Uint8Array::from(chunk.as_slice())))?;
    let meta = table_store::stored_meta(page_meta, parts, chunks.len())?;
    let files: Vec<(&str, &[u8])> = keys
        .iter()
        .map(String::as_str)
        .zip(files.iter().map(Vec::as_slice))
        .collect();
    idb::write_data(&meta, &files, &chunks, || CLEARS.get() == clears).await
}

async fn clear() -> Result<(), StorageError> {
    CLEARS.set(CLEARS.get() + 1);
    idb::clear_data().await
}
