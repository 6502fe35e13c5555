//! Keeping what was loaded in the browser, so reopening the page shows the
//! same dashboard.
//!
//! The merged table, the roster and the import reports go to IndexedDB
//! (localStorage is limited to a few MB; a year of a large organisation is
//! ~10⁶ rows). The engine, which holds the table, encodes it in chunks
//! (`table_store`: person names interned, measures as a tuple) and writes
//! them itself with what this module sends it (`engine_store`), all in one
//! transaction so a reload never sees half a save; this module reads them
//! back and hands them to the engine. Copies of the files small enough to
//! keep (for "Map columns again") are stored with them, under `file:<key>`
//! in the meta store, and read back with the data. Small things (the view,
//! remembered column mappings) live in localStorage under `scoreboard:`.

use std::collections::BTreeMap;
use std::rc::Rc;

use js_sys::Uint8Array;
use leptos::prelude::*;
use scoreboard_core::model::PersonKey;
use scoreboard_core::parse::Field;
use scoreboard_core::{Roster, SourceCoverage};
use serde::{Deserialize, Serialize};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::{IdbDatabase, IdbTransactionMode};

use crate::engine_msg::{Reply, Request, TableInfo};
use crate::error::{JsError, StorageError};
use crate::state::{Ctx, Data, DemoInfo, FileReport, ViewState};
use crate::table_store::{self, PRow, PRowV1, TableParts, FORMAT_VERSION};
use crate::util;
use crate::{backend, idb};

const PREFIX: &str = "scoreboard:";

/// Only the format number, read first to pick the row shape.
#[derive(Deserialize)]
struct Version {
    version: u32,
}

/// The meta record as `table_store::stored_meta` writes it: [`PageMeta`]
/// and the table's parts.
#[derive(Deserialize)]
struct Meta<P> {
    version: u32,
    saved_at: String,
    persons: Vec<PersonKey>,
    periods: Vec<P>,
    roster: Option<Roster>,
    files: Vec<FileReport>,
    demo: Option<DemoInfo>,
    chunks: u32,
    day_rows: u64,
    /// The days each source covers, as the loads declared them (format 2).
    #[serde(default)]
    coverage: Vec<SourceCoverage>,
}

/// What the page keeps beside the table in the meta record; the engine
/// adds the table's parts when it writes it.
#[derive(Serialize)]
struct PageMeta<'a> {
    saved_at: String,
    roster: &'a Option<Roster>,
    files: &'a [FileReport],
    demo: &'a Option<DemoInfo>,
}

// ---- copies of the files, for "Map columns again" ------------------------------

/// Files up to this size are kept (the ones the page reads in one step).
pub const KEEP_FILE_LIMIT: usize = 2 * 1024 * 1024;
/// At most this much is kept in all; the oldest copies go first.
pub const KEEP_TOTAL_LIMIT: usize = 16 * 1024 * 1024;

/// Keeps a copy of a file's bytes so its columns can be mapped again, and
/// returns the key to find it by; `None` when the file is too large to keep.
/// Older copies are dropped past [`KEEP_TOTAL_LIMIT`] (their reports then
/// say that the file must be added again).
pub fn keep_file(ctx: Ctx, bytes: &[u8]) -> Option<String> {
    if bytes.len() > KEEP_FILE_LIMIT {
        return None;
    }
    ctx.kept.try_update_value(|kept| {
        kept.seq += 1;
        let key = format!("{:x}-{}", util::now_ms() as u64, kept.seq);
        kept.files.push((key.clone(), Rc::new(bytes.to_vec())));
        let mut total: usize = kept.files.iter().map(|(_, b)| b.len()).sum();
        while total > KEEP_TOTAL_LIMIT && kept.files.len() > 1 {
            total -= kept.files.remove(0).1.len();
        }
        key
    })
}

/// The copy kept under `key`, if it is still kept.
pub fn kept_file(ctx: Ctx, key: &str) -> Option<Rc<Vec<u8>>> {
    ctx.kept
        .try_with_value(|kept| {
            kept.files
                .iter()
                .find(|(x, _)| x == key)
                .map(|(_, b)| b.clone())
        })
        .flatten()
}

/// Forgets the copies no report names any more (data cleared, demo replaced).
fn forget_other_files(ctx: Ctx, files: &[FileReport]) {
    ctx.kept.update_value(|kept| {
        kept.files
            .retain(|(key, _)| files.iter().any(|f| f.kept.as_deref() == Some(key)))
    });
}

// ---- save -----------------------------------------------------------------------

/// The longest a save waits for the page to be idle.
const SAVE_WAIT_MAX_MS: u32 = 2_000;

/// Marks the data as changed and saves it in the background, once the page
/// is idle (one save at a time; a change during a save triggers another one
/// after it).
pub fn schedule_save(ctx: Ctx) {
    let jobs = ctx.jobs;
    jobs.revision.update_value(|r| *r += 1);
    if jobs.saving.get_value() {
        jobs.save_again.set_value(true);
        return;
    }
    jobs.saving.set_value(true);
    // Read now, not when the task first runs: a clear right after this
    // call would otherwise be counted as before the save.
    let mut clears = jobs.clears.get_value();
    leptos::task::spawn_local(async move {
        loop {
            // Once the page is idle: the engine's encoding and the browser's
            // writes, on a machine of two cores, made the frames that build
            // the dashboard's sections after an import 20-40 ms longer.
            util::when_idle(SAVE_WAIT_MAX_MS).await;
            // "Clear all data" meanwhile: what was to be saved is gone, and
            // an empty record written after the clear would read back. Only
            // a change since the clear (it resets `save_again`) is saved.
            let now = jobs.clears.get_value();
            if now != clears {
                clears = now;
                if !jobs.save_again.get_value() {
                    break;
                }
            }
            jobs.save_again.set_value(false);
            match save(ctx).await {
                // A newer change or a clear overtook it: nothing to tell.
                Ok(()) | Err(StorageError::Stale) => {}
                Err(e) => ctx.notice.set(Some(format!(
                    "The browser did not keep the data ({e}). The dashboard works, but reopening the page will not show it."
                ))),
            }
            if !jobs.save_again.get_value() {
                break;
            }
        }
        jobs.saving.set_value(false);
    });
}

async fn save(ctx: Ctx) -> Result<(), StorageError> {
    let revision = ctx.jobs.revision;
    let rev = revision.get_value();
    // The engine writes its table as it is when the request arrives, so the
    // page's part must not lag a merge it has already made.
    while ctx.jobs.merging.get_value() > 0 {
        util::sleep_ms(10).await;
    }
    // The engine lost its rows (its worker failed, perhaps during that
    // merge): what is stored is the data, not this page's empty engine.
    if ctx.jobs.engine_lost.get_value() {
        return Err(StorageError::Stale);
    }
    let meta = ctx.data.with_untracked(|d| {
        serde_json::to_string(&PageMeta {
            saved_at: String::from(js_sys::Date::new_0().to_iso_string()),
            roster: &d.roster,
            files: &d.files,
            demo: &d.demo,
        })
    });
    let meta = meta.map_err(|e| StorageError::Encode(e.to_string()))?;
    let files = ctx.data.with_untracked(|d| {
        forget_other_files(ctx, &d.files);
        d.files
            .iter()
            .filter_map(|f| f.kept.as_deref())
            .filter_map(|k| kept_file(ctx, k).map(|b| (k.to_string(), b)))
            .collect::<Vec<_>>()
    });
    // The engine writes the table it holds, and the rest with it.
    if let Some(backend) = backend::running(ctx) {
        let keys = files.iter().map(|(k, _)| k.clone()).collect();
        let bytes = files
            .iter()
            .map(|(_, b)| Uint8Array::from(b.as_slice()))
            .collect();
        return match backend
            .call(Request::Store { meta, files: keys }, bytes)
            .await
        {
            Ok((Reply::Stored, _)) => Ok(()),
            Ok((Reply::Overtaken, _)) => Err(StorageError::Stale),
            Ok((Reply::Failed(why), _)) => Err(StorageError::Engine(why)),
            // The stored data stays as it was; the notice says to reload.
            Err(why) => {
                backend::engine_failed(ctx, &why);
                Err(StorageError::Stale)
            }
            Ok(_) => Err(StorageError::Engine(
                "the engine answered something else".into(),
            )),
        };
    }
    // None runs: nothing was ever loaded or read back (a roster alone).
    let meta = table_store::stored_meta(&meta, TableParts::default(), 0)?;
    let files: Vec<(&str, &[u8])> = files
        .iter()
        .map(|(k, b)| (k.as_str(), b.as_slice()))
        .collect();
    // Checked just before the write's transaction is made: a "Clear all
    // data" (or a newer change) since the start wins.
    idb::write_data(&meta, &files, &[], || revision.get_value() == rev).await
}

// ---- the server's rows (crate::live_cache encodes them) -------------------------

/// The IndexedDB keys of the kept rows and their `ETag`.
const LIVE_ROWS: &str = "rows";
const LIVE_ETAG: &str = "etag";

/// The server's rows kept at the last visit (compact encoding) and their `ETag`.
pub async fn kept_live_rows() -> Result<Option<(Uint8Array, Option<String>)>, StorageError> {
    let db = idb::open_db().await?;
    let tx = db
        .transaction_with_str_and_mode(idb::LIVE, IdbTransactionMode::Readonly)
        .map_err(JsError::from)?;
    let store = tx.object_store(idb::LIVE).map_err(JsError::from)?;
    let get = |key: &str| store.get(&JsValue::from_str(key)).map_err(JsError::from);
    let (rows_req, etag_req) = (get(LIVE_ROWS)?, get(LIVE_ETAG)?);
    let rows = JsFuture::from(idb::request_promise(&rows_req))
        .await
        .map_err(JsError::from)?;
    let etag = JsFuture::from(idb::request_promise(&etag_req))
        .await
        .map_err(JsError::from)?;
    db.close();
    if rows.is_undefined() || rows.is_null() {
        return Ok(None);
    }
    Ok(Some((Uint8Array::new(&rows), etag.as_string())))
}

/// Keeps the server's rows (replacing what was kept), in one transaction
/// with their `ETag`.
pub async fn keep_live_rows(bytes: &Uint8Array, etag: Option<&str>) -> Result<(), StorageError> {
    if bytes.length() == 0 {
        return Ok(());
    }
    let db = idb::open_db().await?;
    let tx = db
        .transaction_with_str_and_mode(idb::LIVE, IdbTransactionMode::Readwrite)
        .map_err(JsError::from)?;
    let done = idb::transaction_done(&tx);
    let store = tx.object_store(idb::LIVE).map_err(JsError::from)?;
    store
        .put_with_key(bytes, &JsValue::from_str(LIVE_ROWS))
        .map_err(JsError::from)?;
    match etag {
        Some(e) => store.put_with_key(&JsValue::from_str(e), &JsValue::from_str(LIVE_ETAG)),
        None => store.delete(&JsValue::from_str(LIVE_ETAG)),
    }
    .map_err(JsError::from)?;
    JsFuture::from(done).await.map_err(JsError::from)?;
    db.close();
    Ok(())
}

// ---- load ---------------------------------------------------------------------

/// Reads the stored data back; `Ok(None)` when nothing is stored. The
/// stored copies of files go back into `ctx`'s kept files.
pub async fn load(ctx: Ctx) -> Result<Option<Data>, StorageError> {
    let db = idb::open_db().await?;
    let result = load_from(ctx, &db).await;
    db.close();
    result
}

async fn load_from(ctx: Ctx, db: &IdbDatabase) -> Result<Option<Data>, StorageError> {
    let tx = idb::data_tx(db, IdbTransactionMode::Readonly)?;
    let meta_req = tx
        .object_store(idb::META)
        .and_then(|s| s.get(&JsValue::from_str(idb::META_KEY)))
        .map_err(JsError::from)?;
    let meta = JsFuture::from(idb::request_promise(&meta_req))
        .await
        .map_err(JsError::from)?;
    if meta.is_undefined() || meta.is_null() {
        return Ok(None);
    }
    let (version, meta) = read_meta(Uint8Array::new(&meta).to_vec()).await?;
    // The chunks as stored, one short read transaction each (a
    // transaction does not survive an await), then handed to the engine,
    // which reads them into its table.
    let mut chunks = Vec::with_capacity(meta.chunks as usize);
    for i in 0..meta.chunks {
        let tx = db
            .transaction_with_str_and_mode(idb::DAYS, IdbTransactionMode::Readonly)
            .map_err(JsError::from)?;
        let req = tx
            .object_store(idb::DAYS)
            .and_then(|s| s.get(&JsValue::from_f64(f64::from(i))))
            .map_err(JsError::from)?;
        let chunk = JsFuture::from(idb::request_promise(&req))
            .await
            .map_err(JsError::from)?;
        if chunk.is_undefined() || chunk.is_null() {
            break;
        }
        chunks.push(Uint8Array::new(&chunk));
    }
    let parts = TableParts {
        persons: meta.persons,
        periods: meta.periods,
        coverage: meta.coverage,
        day_rows: meta.day_rows,
    };
    let table = restore_table(ctx, version, parts, chunks).await?;
    let mut files = meta.files;
    for f in &mut files {
        let Some(key) = f.kept.clone() else { continue };
        if kept_file(ctx, &key).is_some() {
            continue;
        }
        match read_kept(db, &key).await? {
            Some(bytes) => ctx
                .kept
                .update_value(|kept| kept.files.push((key, Rc::new(bytes)))),
            // Stored before copies were kept, or by a save that lost it.
            None => f.kept = None,
        }
    }
    Ok(Some(Data {
        table,
        roster: meta.roster,
        files,
        demo: meta.demo,
    }))
}

/// The stored meta (format 1 or 2) read into today's shape, with its
/// format. With the page's `split` feature, a module of its own: serde's
/// readers of everything the data keeps (the import reports, the roster,
/// the periods) are fetched only when something is stored, never on a
/// first visit.
#[cfg_attr(feature = "split", leptos::lazy)]
async fn read_meta(bytes: Vec<u8>) -> Result<(u32, Meta<PRow>), StorageError> {
    let unreadable = |e: serde_json::Error| StorageError::Unreadable(e.to_string());
    let version = serde_json::from_slice::<Version>(&bytes)
        .map_err(unreadable)?
        .version;
    // Format 1 rows are one field shorter; both read into today's rows.
    let meta: Meta<PRow> = match version {
        1 => {
            let m: Meta<PRowV1> = serde_json::from_slice(&bytes).map_err(unreadable)?;
            Meta {
                periods: m
                    .periods
                    .into_iter()
                    .map(|PRowV1(end, r)| PRow(end, r.into()))
                    .collect(),
                version: m.version,
                saved_at: m.saved_at,
                persons: m.persons,
                roster: m.roster,
                files: m.files,
                demo: m.demo,
                chunks: m.chunks,
                day_rows: m.day_rows,
                coverage: m.coverage,
            }
        }
        FORMAT_VERSION => serde_json::from_slice(&bytes).map_err(unreadable)?,
        found => {
            return Err(StorageError::Format {
                found,
                reads: FORMAT_VERSION,
            })
        }
    };
    Ok((version, meta))
}

/// The stored table handed to the engine (started for it; none is needed
/// for data without rows: a roster alone).
async fn restore_table(
    ctx: Ctx,
    version: u32,
    parts: TableParts,
    chunks: Vec<Uint8Array>,
) -> Result<TableInfo, StorageError> {
    if parts.day_rows == 0 && parts.periods.is_empty() && parts.coverage.is_empty() {
        return Ok(TableInfo::default());
    }
    let backend = backend::backend(ctx).await;
    match backend
        .call(Request::Restore { version, parts }, chunks)
        .await
    {
        Ok((Reply::Restored(info), _)) => Ok(info),
        Ok((Reply::Failed(why), _)) => Err(StorageError::Engine(why)),
        Ok(_) => Err(StorageError::Unreadable(
            "the engine answered something else".into(),
        )),
        Err(why) => {
            backend::engine_failed(ctx, &why);
            Err(StorageError::Unreadable(why))
        }
    }
}

/// A kept file's stored copy (one short read transaction).
async fn read_kept(db: &IdbDatabase, key: &str) -> Result<Option<Vec<u8>>, JsError> {
    let tx = db
        .transaction_with_str_and_mode(idb::META, IdbTransactionMode::Readonly)
        .map_err(JsError::from)?;
    let req = tx
        .object_store(idb::META)
        .and_then(|s| s.get(&idb::file_key(key)))
        .map_err(JsError::from)?;
    let v = JsFuture::from(idb::request_promise(&req))
        .await
        .map_err(JsError::from)?;
    Ok((!v.is_undefined() && !v.is_null()).then(|| Uint8Array::new(&v).to_vec()))
}

/// Removes everything Scoreboard stored in this browser: the data, the
/// copies of the files, the remembered column mappings and the view.
pub async fn clear_all(ctx: Ctx) -> Result<(), StorageError> {
    // A save under way writes nothing: the page's own sees a newer
    // revision, the engine's the `ClearStored` below, one waiting for the
    // page to be idle the count of clears.
    ctx.jobs.revision.update_value(|r| *r += 1);
    ctx.jobs.clears.update_value(|n| *n += 1);
    ctx.jobs.save_again.set_value(false);
    ctx.kept.update_value(|kept| kept.files.clear());
    if let Some(ls) = util::local_storage() {
        let n = ls.length().unwrap_or(0);
        let keys: Vec<String> = (0..n)
            .filter_map(|i| ls.key(i).ok().flatten())
            .filter(|k| k.starts_with(PREFIX))
            .collect();
        for k in keys {
            let _ = ls.remove_item(&k);
        }
    }
    // The engine writes the data, so it clears it too: in order with its
    // writes, a save it began before this writes nothing after it.
    // If it cannot, the page clears it (a worker that failed writes nothing
    // more); the server's rows kept go either way.
    let by_engine = match backend::running(ctx) {
        Some(backend) => match backend.call(Request::ClearStored, Vec::new()).await {
            Ok((Reply::Stored, _)) => true,
            // Nothing it held is wanted any more: no rows are lost.
            Err(_) => {
                backend::engine_replaced(ctx);
                false
            }
            Ok(_) => false,
        },
        None => false,
    };
    let cleared = if by_engine {
        Ok(())
    } else {
        idb::clear_data().await
    };
    let live_cleared = clear_live().await;
    cleared.and(live_cleared)
}

/// Forgets the server's rows kept at the last visit.
async fn clear_live() -> Result<(), StorageError> {
    let db = idb::open_db().await?;
    let cleared = clear_live_in(&db).await;
    db.close();
    cleared
}

async fn clear_live_in(db: &IdbDatabase) -> Result<(), StorageError> {
    let tx = db
        .transaction_with_str_and_mode(idb::LIVE, IdbTransactionMode::Readwrite)
        .map_err(JsError::from)?;
    let done = idb::transaction_done(&tx);
    tx.object_store(idb::LIVE)
        .and_then(|s| s.clear())
        .map_err(JsError::from)?;
    JsFuture::from(done).await.map_err(JsError::from)?;
    Ok(())
}

// ---- localStorage: the view and remembered column mappings ---------------------

pub fn load_view() -> Option<ViewState> {
    let s = util::local_storage()?
        .get_item(&format!("{PREFIX}view"))
        .ok()??;
    serde_json::from_str(&s).ok()
}

/// Keeps the view for the next visit (the default view is not stored, so a
/// cleared browser stays empty).
pub fn save_view(v: &ViewState) {
    let Some(ls) = util::local_storage() else {
        return;
    };
    let key = format!("{PREFIX}view");
    if *v == ViewState::default() {
        let _ = ls.remove_item(&key);
    } else if let Ok(s) = serde_json::to_string(v) {
        let _ = ls.set_item(&key, &s);
    }
}

/// The key a mapping is remembered under: the file's headers, normalised.
fn mapping_key(headers: &[String]) -> String {
    let sig: Vec<String> = headers
        .iter()
        .map(|h| scoreboard_core::parse::normalise_header(h))
        .collect();
    format!("{PREFIX}mapping:{}", sig.join(","))
}

/// Whether a column mapping is remembered for any headers: a file is then
/// read after its headers are (`loader::import_one`), so that a mapping
/// remembered for them applies to its one reading.
pub fn remembers_mappings() -> bool {
    let Some(ls) = util::local_storage() else {
        return false;
    };
    let prefix = format!("{PREFIX}mapping:");
    (0..ls.length().unwrap_or(0)).any(|i| {
        ls.key(i)
            .ok()
            .flatten()
            .is_some_and(|k| k.starts_with(&prefix))
    })
}

/// The column mapping the user chose for a file with these headers before.
pub fn remembered_mapping(headers: &[String]) -> Option<BTreeMap<String, Option<Field>>> {
    let s = util::local_storage()?
        .get_item(&mapping_key(headers))
        .ok()??;
    serde_json::from_str(&s).ok()
}

pub fn remember_mapping(headers: &[String], choice: &BTreeMap<String, Option<Field>>) {
    if let (Some(ls), Ok(s)) = (util::local_storage(), serde_json::to_string(choice)) {
        let _ = ls.set_item(&mapping_key(headers), &s);
    }
}

/// IndexedDB and localStorage in headless Chromium (`make test`).
// Two attributes, not `all(test, …)`: clippy treats only `cfg(test)` as test code.
#[cfg(test)]
#[cfg(target_arch = "wasm32")]
mod browser_tests {
    use super::*;
    use crate::state::WindowChoice;
    use crate::table_store::CHUNK_ROWS;
    use crate::test_support;
    use chrono::NaiveDate;
    use scoreboard_core::model::{DayRow, Measures, PeriodRow, Source};
    use scoreboard_core::{RosterEntry, UsageTable};
    use wasm_bindgen_test::wasm_bindgen_test;

    /// `people` × `days` day rows with distinct measures, a period row, a
    /// roster and an import report: everything `Data` keeps, its table
    /// held by the engine as after loading it.
    fn sample(ctx: Ctx, people: u32, days: u32) -> (Data, UsageTable) {
        let first = NaiveDate::from_ymd_opt(2025, 1, 6).unwrap();
        let mut rows = Vec::new();
        for p in 0..people {
            for d in 0..days {
                let mut r = DayRow::new(
                    first + chrono::Days::new(u64::from(d)),
                    PersonKey::email(&format!("person{p}@example.com")),
                    Source::Csv,
                );
                r.measures.sessions = u64::from(p + d + 1);
                r.measures.lines_added = u64::from(p * 1000 + d);
                r.measures.cost_micros = i64::from(p) * 1_000_003 + i64::from(d);
                rows.push(r);
            }
        }
        let mut table = UsageTable::new();
        table.insert_days(rows);
        let mut period = PeriodRow {
            start: first,
            end: first + chrono::Days::new(29),
            person: PersonKey::api_key("ci-bot"),
            source: Source::Csv,
            measures: Measures::default(),
            models: Vec::new(),
            tools: Vec::new(),
            present: scoreboard_core::MeasureSet::all(),
        };
        period.measures.sessions = 40;
        table.insert_periods([period]);
        let mut ada = RosterEntry::new(PersonKey::email("person0@example.com"));
        ada.team = Some("Platform".into());
        let mut report = FileReport::new("usage.csv", 1234);
        report.rows_read = u64::from(people * days);
        test_support::hold(ctx, table.clone());
        let data = Data {
            table: ctx.data.with_untracked(|d| d.table),
            roster: Some(Roster::new(vec![ada])),
            files: vec![report],
            demo: None,
        };
        ctx.data.set(data.clone());
        (data, table)
    }

    #[wasm_bindgen_test]
    async fn data_saved_in_indexeddb_reads_back_the_same_after_a_reload() {
        let ctx = test_support::ctx();
        clear_all(ctx).await.unwrap();
        assert!(load(ctx).await.unwrap().is_none(), "nothing stored yet");
        // More rows than two chunks, so the chunked write and read are both used.
        let (data, table) = sample(ctx, 150, 300);
        assert!(table.day_count() > 2 * CHUNK_ROWS);
        save(ctx).await.unwrap();

        // As after a reload: the engine holds nothing until the data is read back.
        test_support::hold(ctx, UsageTable::new());
        let back = load(ctx).await.unwrap().expect("the saved data");
        let held = test_support::held(ctx);
        assert!(held.day_rows().eq(table.day_rows()));
        assert_eq!(held.periods(), table.periods());
        assert_eq!(back.table, data.table);
        assert_eq!(back.roster, data.roster);
        assert_eq!(back.files, data.files);
        assert_eq!(back.demo, data.demo);
        clear_all(ctx).await.unwrap();
    }

    /// "Map columns again" after a reload needs the file: its copy is stored
    /// with the data and read back, and "Clear all data" forgets it.
    #[wasm_bindgen_test]
    async fn a_kept_copy_of_a_file_is_stored_with_the_data_and_read_back() {
        let ctx = test_support::ctx();
        clear_all(ctx).await.unwrap();
        let bytes = b"Date,Email,Conversations\n2026-11-16,a@b.c,3\n".to_vec();
        let key = keep_file(ctx, &bytes).expect("a small file is kept");
        assert_eq!(keep_file(ctx, &vec![b'x'; KEEP_FILE_LIMIT + 1]), None);
        let (mut data, _) = sample(ctx, 2, 3);
        data.files[0].kept = Some(key.clone());
        ctx.data.set(data);
        save(ctx).await.unwrap();
        // As after a reload: nothing in memory.
        ctx.kept.update_value(|kept| kept.files.clear());
        let back = load(ctx).await.unwrap().expect("the saved data");
        assert_eq!(back.files[0].kept.as_deref(), Some(key.as_str()));
        assert_eq!(kept_file(ctx, &key).as_deref(), Some(&bytes));

        clear_all(ctx).await.unwrap();
        assert_eq!(kept_file(ctx, &key), None);
    }

    #[wasm_bindgen_test]
    async fn clear_all_data_forgets_rows_view_and_mappings_but_not_other_sites_keys() {
        let ctx = test_support::ctx();
        sample(ctx, 2, 3);
        save(ctx).await.unwrap();
        let headers = vec!["Day".to_string(), "Who".to_string()];
        let choice = BTreeMap::from([("who".to_string(), Some(Field::Email))]);
        remember_mapping(&headers, &choice);
        let view = ViewState {
            window: WindowChoice::All,
            ..ViewState::default()
        };
        save_view(&view);
        let ls = util::local_storage().unwrap();
        ls.set_item("another-app:setting", "kept").unwrap();
        assert!(load(ctx).await.unwrap().is_some());
        assert_eq!(remembered_mapping(&headers), Some(choice));
        assert_eq!(load_view(), Some(view));

        clear_all(ctx).await.unwrap();
        assert!(load(ctx).await.unwrap().is_none());
        assert_eq!(remembered_mapping(&headers), None);
        assert_eq!(load_view(), None);
        assert_eq!(
            ls.get_item("another-app:setting").unwrap().as_deref(),
            Some("kept")
        );
        ls.remove_item("another-app:setting").unwrap();
    }

    #[wasm_bindgen_test]
    async fn clear_all_data_during_a_save_wins_nothing_is_written_afterwards() {
        let ctx = test_support::ctx();
        clear_all(ctx).await.unwrap();
        sample(ctx, 20, 30);
        // The save waits for the engine to open IndexedDB; "Clear all data"
        // starts then, so the save must notice and write nothing.
        let (saved, cleared) = futures::future::join(save(ctx), clear_all(ctx)).await;
        assert_eq!(saved, Err(StorageError::Stale));
        cleared.unwrap();
        assert!(load(ctx).await.unwrap().is_none());
    }

    /// A save waits for the page to be idle before it starts; "Clear all
    /// data" meanwhile must cancel it, or it would write the data back.
    #[wasm_bindgen_test]
    async fn clear_all_data_while_a_save_waits_for_an_idle_page_cancels_the_save() {
        let ctx = test_support::ctx();
        clear_all(ctx).await.unwrap();
        sample(ctx, 20, 30);
        schedule_save(ctx);
        clear_all(ctx).await.unwrap();
        while ctx.jobs.saving.get_value() {
            util::sleep_ms(10).await;
        }
        assert!(load(ctx).await.unwrap().is_none());
    }

    #[wasm_bindgen_test]
    fn a_mapping_is_remembered_for_the_same_headers_written_differently_only() {
        let choice = BTreeMap::from([("user".to_string(), Some(Field::Email))]);
        remember_mapping(&["Day".into(), "User".into()], &choice);
        // Headers are compared normalised: case, spaces and punctuation do not count.
        assert_eq!(
            remembered_mapping(&["day ".into(), "USER".into()]),
            Some(choice)
        );
        assert_eq!(remembered_mapping(&["Day".into(), "Person".into()]), None);
        assert_eq!(remembered_mapping(&["User".into(), "Day".into()]), None);
    }

    #[wasm_bindgen_test]
    fn the_default_view_is_not_stored_so_a_cleared_browser_stays_empty() {
        let view = ViewState {
            team: Some("Platform".into()),
            ..ViewState::default()
        };
        save_view(&view);
        assert_eq!(load_view(), Some(view));
        save_view(&ViewState::default());
        assert_eq!(load_view(), None);
        let ls = util::local_storage().unwrap();
        assert_eq!(ls.get_item(&format!("{PREFIX}view")).unwrap(), None);
    }
}
