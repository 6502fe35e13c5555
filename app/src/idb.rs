//! IndexedDB, from the page or from the engine worker (which includes this
//! file by path): the database's layout, its plumbing, and the one write and
//! the one clear of the user's stored data. Where the engine runs, it
//! writes the table itself (`engine_store`), so its chunks never cross to
//! the page's thread; the page reads them back (`storage::load`).

use js_sys::{Array, Promise, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{IdbDatabase, IdbFactory, IdbRequest, IdbTransaction, IdbTransactionMode};

use crate::error::{JsError, StorageError};

const DB_NAME: &str = "scoreboard";
/// 2 (issue 13): the `live` store, the server's rows (`live_cache`).
const DB_VERSION: u32 = 2;
/// The meta record (`META_KEY`) and the kept copies of files (`file_key`).
pub const META: &str = "meta";
/// The stored table's chunks of rows, keyed 0, 1, …
pub const DAYS: &str = "days";
/// The server's rows, kept apart from the user's data.
pub const LIVE: &str = "live";
pub const META_KEY: &str = "meta";

/// Where a kept copy of a file is stored in the meta store.
pub fn file_key(key: &str) -> JsValue {
    JsValue::from_str(&format!("file:{key}"))
}

/// A request's result as a promise (its error's message on failure).
pub fn request_promise(req: &IdbRequest) -> Promise {
    let req = req.clone();
    Promise::new(&mut |resolve, reject| {
        let r2 = req.clone();
        let ok = Closure::once_into_js(move || {
            let v = r2.result().unwrap_or(JsValue::UNDEFINED);
            let _ = resolve.call1(&JsValue::NULL, &v);
        });
        let r3 = req.clone();
        let fail = Closure::once_into_js(move || {
            let msg = r3
                .error()
                .ok()
                .flatten()
                .map_or_else(|| "IndexedDB request failed".to_string(), |e| e.message());
            let _ = reject.call1(&JsValue::NULL, &JsValue::from_str(&msg));
        });
        req.set_onsuccess(Some(ok.unchecked_ref()));
        req.set_onerror(Some(fail.unchecked_ref()));
    })
}

/// Resolves when the transaction commits; rejects with why it did not.
pub fn transaction_done(tx: &IdbTransaction) -> Promise {
    let tx = tx.clone();
    Promise::new(&mut |resolve, reject| {
        let ok = Closure::once_into_js(move || {
            let _ = resolve.call0(&JsValue::NULL);
        });
        let t2 = tx.clone();
        let reject2 = reject.clone();
        let fail = Closure::once_into_js(move || {
            let msg = t2.error().map_or_else(
                || "the browser refused to store the data".to_string(),
                |e| e.message(),
            );
            let _ = reject2.call1(&JsValue::NULL, &JsValue::from_str(&msg));
        });
        let t3 = tx.clone();
        let abort = Closure::once_into_js(move || {
            let msg = t3.error().map_or_else(
                || "storing the data was aborted".to_string(),
                |e| e.message(),
            );
            let _ = reject.call1(&JsValue::NULL, &JsValue::from_str(&msg));
        });
        tx.set_oncomplete(Some(ok.unchecked_ref()));
        tx.set_onerror(Some(fail.unchecked_ref()));
        tx.set_onabort(Some(abort.unchecked_ref()));
    })
}

/// The database, made or upgraded to this version's stores. The page's
/// window and a worker's scope both have `indexedDB`.
pub async fn open_db() -> Result<IdbDatabase, StorageError> {
    let factory = js_sys::Reflect::get(&js_sys::global(), &JsValue::from_str("indexedDB"))
        .ok()
        .and_then(|f| f.dyn_into::<IdbFactory>().ok())
        .ok_or(StorageError::NoIndexedDb)?;
    let req = factory
        .open_with_u32(DB_NAME, DB_VERSION)
        .map_err(|e| StorageError::Browser(e.into()))?;
    let upgrade_req = req.clone();
    let on_upgrade = Closure::once_into_js(move || {
        if let Ok(db) = upgrade_req
            .result()
            .and_then(|v| v.dyn_into::<IdbDatabase>())
        {
            // Each call fails harmlessly for a store an older version made.
            let _ = db.create_object_store(META);
            let _ = db.create_object_store(DAYS);
            let _ = db.create_object_store(LIVE);
        }
    });
    req.set_onupgradeneeded(Some(on_upgrade.unchecked_ref()));
    let db = JsFuture::from(request_promise(&req))
        .await
        .map_err(JsError::from)?;
    db.dyn_into::<IdbDatabase>()
        .map_err(|_| JsError::new("IndexedDB returned no database").into())
}

/// A transaction over the user's data: the meta store and the chunks.
pub fn data_tx(db: &IdbDatabase, mode: IdbTransactionMode) -> Result<IdbTransaction, JsError> {
    let names = Array::of2(&JsValue::from_str(META), &JsValue::from_str(DAYS));
    Ok(db.transaction_with_str_sequence_and_mode(&names, mode)?)
}

/// Replaces the stored data: the meta record, the kept copies of files (by
/// key) and the table's chunks, in one transaction, so a reload never sees
/// half a save. `still_wanted` is asked just before the transaction is
/// made: a "Clear all data" since the save began wins (transactions run in
/// the order they were made).
pub async fn write_data(
    meta: &[u8],
    files: &[(&str, &[u8])],
    chunks: &[Uint8Array],
    still_wanted: impl Fn() -> bool,
) -> Result<(), StorageError> {
    let db = open_db().await?;
    if !still_wanted() {
        db.close();
        return Err(StorageError::Stale);
    }
    let written = write_in(&db, meta, files, chunks).await;
    db.close();
    written
}

async fn write_in(
    db: &IdbDatabase,
    meta: &[u8],
    files: &[(&str, &[u8])],
    chunks: &[Uint8Array],
) -> Result<(), StorageError> {
    let tx = data_tx(db, IdbTransactionMode::Readwrite)?;
    let done = transaction_done(&tx);
    let written = put_all(&tx, meta, files, chunks).await;
    if written.is_err() {
        // Left alone, the transaction would commit what was put so far: a
        // meta record counting chunks that are not there.
        let _ = tx.abort();
        // Its end is awaited (a rejection), so none is left unhandled.
        let _ = JsFuture::from(done).await;
        return written;
    }
    JsFuture::from(done).await.map_err(JsError::from)?;
    Ok(())
}

async fn put_all(
    tx: &IdbTransaction,
    meta: &[u8],
    files: &[(&str, &[u8])],
    chunks: &[Uint8Array],
) -> Result<(), StorageError> {
    let meta_store = tx.object_store(META).map_err(JsError::from)?;
    let days_store = tx.object_store(DAYS).map_err(JsError::from)?;
    days_store.clear().map_err(JsError::from)?;
    // The meta store holds the meta and the kept files: cleared, so copies
    // of files no longer loaded go with them.
    meta_store.clear().map_err(JsError::from)?;
    meta_store
        .put_with_key(&Uint8Array::from(meta), &JsValue::from_str(META_KEY))
        .map_err(JsError::from)?;
    for (key, bytes) in files {
        meta_store
            .put_with_key(&Uint8Array::from(*bytes), &file_key(key))
            .map_err(JsError::from)?;
    }
    // One put at a time, each issued from the previous one's success: the
    // transaction stays active, and copying the chunks into the store is
    // spread over many short tasks instead of one long one.
    for (i, c) in chunks.iter().enumerate() {
        let req = days_store
            .put_with_key(c, &JsValue::from_f64(i as f64))
            .map_err(JsError::from)?;
        JsFuture::from(request_promise(&req))
            .await
            .map_err(JsError::from)?;
    }
    Ok(())
}

/// Removes the user's stored data (the meta record, the kept files, the
/// chunks) in one transaction.
pub async fn clear_data() -> Result<(), StorageError> {
    let db = open_db().await?;
    let cleared = clear_in(&db).await;
    db.close();
    cleared
}

async fn clear_in(db: &IdbDatabase) -> Result<(), StorageError> {
    let tx = data_tx(db, IdbTransactionMode::Readwrite)?;
    let done = transaction_done(&tx);
    tx.object_store(META)
        .and_then(|s| s.clear())
        .map_err(JsError::from)?;
    tx.object_store(DAYS)
        .and_then(|s| s.clear())
        .map_err(JsError::from)?;
    JsFuture::from(done).await.map_err(JsError::from)?;
    Ok(())
}
