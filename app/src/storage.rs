//! Keeping what was loaded in the browser, so reopening the page shows the
//! same dashboard.
//!
//! The merged table, the roster and the import reports go to IndexedDB
//! (localStorage is limited to a few MB; a year of a large organisation is
//! ~10⁶ rows). Rows are stored compactly (person names interned, measures as
//! a tuple) in chunks, serialised between yields so a large table never
//! freezes the page, and written in one transaction so a reload never sees
//! half a save. Copies of the files small enough to keep (for "Map columns
//! again") are stored with them, under `file:<key>` in the meta store, and
//! read back with the data. Small things (the view, remembered column mappings) live in
//! localStorage under `scoreboard:`.

use std::collections::{BTreeMap, HashMap};
use std::rc::Rc;

use chrono::NaiveDate;
use js_sys::{Array, Promise, Uint8Array};
use leptos::prelude::*;
use scoreboard_core::model::{
    DayRow, MeasureSet, Measures, ModelUsage, PeriodRow, PersonKey, Source, ToolDecisions,
};
use scoreboard_core::parse::Field;
use scoreboard_core::{Roster, SourceCoverage, UsageTable};
use serde::{Deserialize, Serialize};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{IdbDatabase, IdbRequest, IdbTransaction, IdbTransactionMode};

use crate::error::{JsError, StorageError};
use crate::state::{Ctx, Data, DemoInfo, FileReport, ViewState};
use crate::util::{self, yield_now};

const DB_NAME: &str = "scoreboard";
/// 2 (issue 13): the `live` store, the server's rows ([`crate::live_cache`]).
const DB_VERSION: u32 = 2;
const META: &str = "meta";
const DAYS: &str = "days";
/// The server's rows, kept apart from the user's data.
const LIVE: &str = "live";
const META_KEY: &str = "meta";
/// Rows per stored chunk (and per serialisation step between yields).
const CHUNK_ROWS: usize = 20_000;
/// 2 (issue 10): rows keep the measures they carry, and the data keeps the
/// days each source covers. Format 1 still reads (rows then carry every
/// measure, and coverage is each source's first to last day).
const FORMAT_VERSION: u32 = 2;
const PREFIX: &str = "scoreboard:";

/// One day row, compactly: (day as days from CE, person index, source index,
/// the eleven counters, cost in micro-dollars, cost estimated, models, tools,
/// the measures the row carries as [`MeasureSet`] bits).
#[derive(Serialize, Deserialize)]
struct Row(
    i32,
    u32,
    u8,
    [u64; 11],
    i64,
    bool,
    Vec<ModelUsage>,
    Vec<ToolDecisions>,
    u16,
);

/// A day row of format 1, before rows said which measures they carry.
#[derive(Deserialize)]
struct RowV1(
    i32,
    u32,
    u8,
    [u64; 11],
    i64,
    bool,
    Vec<ModelUsage>,
    Vec<ToolDecisions>,
);

impl From<RowV1> for Row {
    fn from(r: RowV1) -> Row {
        let RowV1(day, person, source, c, cost, est, models, tools) = r;
        Row(
            day,
            person,
            source,
            c,
            cost,
            est,
            models,
            tools,
            MeasureSet::all().bits(),
        )
    }
}

/// One period row: its last day, then the row (whose day is the first day).
#[derive(Serialize, Deserialize)]
struct PRow(i32, Row);

#[derive(Deserialize)]
struct PRowV1(i32, RowV1);

/// Only the format number, read first to pick the row shape.
#[derive(Deserialize)]
struct Version {
    version: u32,
}

#[derive(Serialize, Deserialize)]
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

fn source_index(s: Source) -> u8 {
    Source::ALL.iter().position(|x| *x == s).unwrap_or(0) as u8
}

fn day_number(d: NaiveDate) -> i32 {
    use chrono::Datelike;
    d.num_days_from_ce()
}

/// A day row's parts, as both row kinds hold them.
struct Parts<'a> {
    day: NaiveDate,
    person: u32,
    source: Source,
    m: &'a Measures,
    models: &'a [ModelUsage],
    tools: &'a [ToolDecisions],
    present: MeasureSet,
}

fn row(p: Parts<'_>) -> Row {
    Row(
        day_number(p.day),
        p.person,
        source_index(p.source),
        p.m.counters(),
        p.m.cost_micros,
        p.m.cost_is_estimated,
        p.models.to_vec(),
        p.tools.to_vec(),
        p.present.bits(),
    )
}

fn encode(r: &DayRow, person: u32) -> Row {
    row(Parts {
        day: r.day,
        person,
        source: r.source,
        m: &r.measures,
        models: &r.models,
        tools: &r.tools,
        present: r.present,
    })
}

fn encode_period(p: &PeriodRow, person: u32) -> PRow {
    PRow(
        day_number(p.end),
        row(Parts {
            day: p.start,
            person,
            source: p.source,
            m: &p.measures,
            models: &p.models,
            tools: &p.tools,
            present: p.present,
        }),
    )
}

fn decode(r: Row, persons: &[PersonKey]) -> Option<DayRow> {
    let Row(day, person, source, c, cost, est, models, tools, present) = r;
    Some(DayRow {
        day: NaiveDate::from_num_days_from_ce_opt(day)?,
        person: persons.get(person as usize)?.clone(),
        source: *Source::ALL.get(usize::from(source))?,
        measures: Measures::from_counters(c, cost, est),
        models,
        tools,
        present: MeasureSet::from_bits_truncate(present),
    })
}

fn decode_period(p: PRow, persons: &[PersonKey]) -> Option<PeriodRow> {
    let PRow(end, r) = p;
    let d = decode(r, persons)?;
    Some(PeriodRow {
        start: d.day,
        end: NaiveDate::from_num_days_from_ce_opt(end)?,
        person: d.person,
        source: d.source,
        measures: d.measures,
        models: d.models,
        tools: d.tools,
        present: d.present,
    })
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

fn file_key(key: &str) -> JsValue {
    JsValue::from_str(&format!("file:{key}"))
}

// ---- IndexedDB plumbing ------------------------------------------------------

fn request_promise(req: &IdbRequest) -> Promise {
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

fn transaction_done(tx: &IdbTransaction) -> Promise {
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

async fn open_db() -> Result<IdbDatabase, StorageError> {
    let factory = web_sys::window()
        .and_then(|w| w.indexed_db().ok().flatten())
        .ok_or(StorageError::NoIndexedDb)?;
    let req = factory
        .open_with_u32(DB_NAME, DB_VERSION)
        .map_err(JsError::from)?;
    let upgrade_req = req.clone();
    let on_upgrade = Closure::once_into_js(move |_e: web_sys::IdbVersionChangeEvent| {
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

fn stores_tx(db: &IdbDatabase, mode: IdbTransactionMode) -> Result<IdbTransaction, JsError> {
    let names = Array::of2(&JsValue::from_str(META), &JsValue::from_str(DAYS));
    Ok(db.transaction_with_str_sequence_and_mode(&names, mode)?)
}

// ---- save -----------------------------------------------------------------------

/// Marks the data as changed and saves it in the background (one save at a
/// time; a change during a save triggers another one after it).
pub fn schedule_save(ctx: Ctx) {
    let jobs = ctx.jobs;
    jobs.revision.update_value(|r| *r += 1);
    if jobs.saving.get_value() {
        jobs.save_again.set_value(true);
        return;
    }
    jobs.saving.set_value(true);
    leptos::task::spawn_local(async move {
        loop {
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

/// Person keys by number, so each row stores a small index instead of an e-mail.
#[derive(Default)]
struct Interner {
    persons: Vec<PersonKey>,
    index: HashMap<PersonKey, u32>,
}

impl Interner {
    fn get(&mut self, k: &PersonKey) -> u32 {
        if let Some(&i) = self.index.get(k) {
            return i;
        }
        let i = self.persons.len() as u32;
        self.index.insert(k.clone(), i);
        self.persons.push(k.clone());
        i
    }
}

async fn save(ctx: Ctx) -> Result<(), StorageError> {
    let revision = ctx.jobs.revision;
    let rev = revision.get_value();
    let stale = || revision.get_value() != rev;
    // Serialise chunk by chunk between yields, interning persons as they come.
    let total = ctx.data.with_untracked(|d| d.table.day_count());
    let mut interner = Interner::default();
    let mut chunks: Vec<Uint8Array> = Vec::new();
    let mut start = 0;
    while start < total {
        let end = (start + CHUNK_ROWS).min(total);
        let bytes = ctx.data.with_untracked(|d| {
            let rows: Vec<Row> = d
                .table
                .day_rows_in(start..end)
                .map(|r| encode(&r, interner.get(&r.person)))
                .collect();
            serde_json::to_vec(&rows)
        });
        let bytes = bytes.map_err(|e| StorageError::Encode(e.to_string()))?;
        chunks.push(Uint8Array::from(bytes.as_slice()));
        start = end;
        yield_now().await;
        if stale() {
            return Err(StorageError::Stale);
        }
    }
    let meta = ctx.data.with_untracked(|d| {
        let periods = d
            .table
            .periods()
            .iter()
            .map(|p| encode_period(p, interner.get(&p.person)))
            .collect();
        let meta = Meta {
            coverage: d.table.declared_coverage().cloned().collect(),
            version: FORMAT_VERSION,
            saved_at: String::from(js_sys::Date::new_0().to_iso_string()),
            persons: std::mem::take(&mut interner.persons),
            periods,
            roster: d.roster.clone(),
            files: d.files.clone(),
            demo: d.demo.clone(),
            chunks: chunks.len() as u32,
            day_rows: total as u64,
        };
        serde_json::to_vec(&meta)
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

    let db = open_db().await?;
    // Checked again just before writing: a "Clear all data" (or a newer
    // change) since the start wins; transactions run in creation order.
    if stale() {
        db.close();
        return Err(StorageError::Stale);
    }
    let tx = stores_tx(&db, IdbTransactionMode::Readwrite)?;
    let done = transaction_done(&tx);
    let meta_store = tx.object_store(META).map_err(JsError::from)?;
    let days_store = tx.object_store(DAYS).map_err(JsError::from)?;
    days_store.clear().map_err(JsError::from)?;
    // The meta store holds the meta and the kept files: cleared, so copies
    // of files no longer loaded go with them.
    meta_store.clear().map_err(JsError::from)?;
    meta_store
        .put_with_key(
            &Uint8Array::from(meta.as_slice()),
            &JsValue::from_str(META_KEY),
        )
        .map_err(JsError::from)?;
    for (key, bytes) in &files {
        meta_store
            .put_with_key(&Uint8Array::from(bytes.as_slice()), &file_key(key))
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
    JsFuture::from(done).await.map_err(JsError::from)?;
    db.close();
    Ok(())
}

// ---- the server's rows (crate::live_cache encodes them) -------------------------

/// The IndexedDB keys of the kept rows and their `ETag`.
const LIVE_ROWS: &str = "rows";
const LIVE_ETAG: &str = "etag";

/// The server's rows kept at the last visit (compact encoding) and their `ETag`.
pub async fn kept_live_rows() -> Result<Option<(Vec<u8>, Option<String>)>, StorageError> {
    let db = open_db().await?;
    let tx = db
        .transaction_with_str_and_mode(LIVE, IdbTransactionMode::Readonly)
        .map_err(JsError::from)?;
    let store = tx.object_store(LIVE).map_err(JsError::from)?;
    let get = |key: &str| store.get(&JsValue::from_str(key)).map_err(JsError::from);
    let (rows_req, etag_req) = (get(LIVE_ROWS)?, get(LIVE_ETAG)?);
    let rows = JsFuture::from(request_promise(&rows_req))
        .await
        .map_err(JsError::from)?;
    let etag = JsFuture::from(request_promise(&etag_req))
        .await
        .map_err(JsError::from)?;
    db.close();
    if rows.is_undefined() || rows.is_null() {
        return Ok(None);
    }
    Ok(Some((Uint8Array::new(&rows).to_vec(), etag.as_string())))
}

/// Keeps the server's rows (replacing what was kept), in one transaction
/// with their `ETag`.
pub async fn keep_live_rows(bytes: &[u8], etag: Option<&str>) -> Result<(), StorageError> {
    if bytes.is_empty() {
        return Ok(());
    }
    let db = open_db().await?;
    let tx = db
        .transaction_with_str_and_mode(LIVE, IdbTransactionMode::Readwrite)
        .map_err(JsError::from)?;
    let done = transaction_done(&tx);
    let store = tx.object_store(LIVE).map_err(JsError::from)?;
    store
        .put_with_key(&Uint8Array::from(bytes), &JsValue::from_str(LIVE_ROWS))
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
    let db = open_db().await?;
    let result = load_from(ctx, &db).await;
    db.close();
    result
}

async fn load_from(ctx: Ctx, db: &IdbDatabase) -> Result<Option<Data>, StorageError> {
    let tx = stores_tx(db, IdbTransactionMode::Readonly)?;
    let meta_req = tx
        .object_store(META)
        .and_then(|s| s.get(&JsValue::from_str(META_KEY)))
        .map_err(JsError::from)?;
    let meta = JsFuture::from(request_promise(&meta_req))
        .await
        .map_err(JsError::from)?;
    if meta.is_undefined() || meta.is_null() {
        return Ok(None);
    }
    let bytes = Uint8Array::new(&meta).to_vec();
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
    // Chunk by chunk into the table, one short read transaction per chunk
    // (a transaction does not survive a yield), yielding in between.
    let mut table = UsageTable::new();
    let mut read = 0u64;
    for i in 0..meta.chunks {
        let tx = db
            .transaction_with_str_and_mode(DAYS, IdbTransactionMode::Readonly)
            .map_err(JsError::from)?;
        let req = tx
            .object_store(DAYS)
            .and_then(|s| s.get(&JsValue::from_f64(f64::from(i))))
            .map_err(JsError::from)?;
        let chunk = JsFuture::from(request_promise(&req))
            .await
            .map_err(JsError::from)?;
        if chunk.is_undefined() || chunk.is_null() {
            break;
        }
        let rows = decode_chunk(&Uint8Array::new(&chunk).to_vec(), version, &meta.persons)?;
        read += rows.len() as u64;
        table.insert_days(rows);
        yield_now().await;
    }
    if read != meta.day_rows {
        return Err(StorageError::Incomplete {
            read,
            expected: meta.day_rows,
        });
    }
    table.insert_periods(
        meta.periods
            .into_iter()
            .filter_map(|p| decode_period(p, &meta.persons)),
    );
    for c in &meta.coverage {
        table.add_source_coverage(c);
    }
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

/// A kept file's stored copy (one short read transaction).
async fn read_kept(db: &IdbDatabase, key: &str) -> Result<Option<Vec<u8>>, JsError> {
    let tx = db
        .transaction_with_str_and_mode(META, IdbTransactionMode::Readonly)
        .map_err(JsError::from)?;
    let req = tx
        .object_store(META)
        .and_then(|s| s.get(&file_key(key)))
        .map_err(JsError::from)?;
    let v = JsFuture::from(request_promise(&req))
        .await
        .map_err(JsError::from)?;
    Ok((!v.is_undefined() && !v.is_null()).then(|| Uint8Array::new(&v).to_vec()))
}

/// One stored chunk of day rows, in the row shape of its format.
fn decode_chunk(
    bytes: &[u8],
    version: u32,
    persons: &[PersonKey],
) -> Result<Vec<DayRow>, StorageError> {
    let unreadable =
        |e: serde_json::Error| StorageError::Unreadable(format!("a chunk of rows: {e}"));
    let rows: Vec<Row> = if version == 1 {
        let old: Vec<RowV1> = serde_json::from_slice(bytes).map_err(unreadable)?;
        old.into_iter().map(Row::from).collect()
    } else {
        serde_json::from_slice(bytes).map_err(unreadable)?
    };
    Ok(rows
        .into_iter()
        .filter_map(|r| decode(r, persons))
        .collect())
}

/// Removes everything Scoreboard stored in this browser: the data, the
/// copies of the files, the remembered column mappings and the view.
pub async fn clear_all(ctx: Ctx) -> Result<(), StorageError> {
    // A save under way sees a newer revision and writes nothing.
    ctx.jobs.revision.update_value(|r| *r += 1);
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
    let db = open_db().await?;
    let tx = stores_tx(&db, IdbTransactionMode::Readwrite)?;
    let done = transaction_done(&tx);
    tx.object_store(META)
        .and_then(|s| s.clear())
        .map_err(JsError::from)?;
    tx.object_store(DAYS)
        .and_then(|s| s.clear())
        .map_err(JsError::from)?;
    JsFuture::from(done).await.map_err(JsError::from)?;
    let tx = db
        .transaction_with_str_and_mode(LIVE, IdbTransactionMode::Readwrite)
        .map_err(JsError::from)?;
    let done = transaction_done(&tx);
    tx.object_store(LIVE)
        .and_then(|s| s.clear())
        .map_err(JsError::from)?;
    JsFuture::from(done).await.map_err(JsError::from)?;
    db.close();
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

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap_or_default()
    }

    #[test]
    fn stored_rows_read_back_unchanged() {
        let mut r = DayRow::new(
            day("2026-11-16"),
            PersonKey::email("Ada@Example.com"),
            Source::AdminApi,
        );
        r.measures = Measures {
            sessions: 3,
            lines_added: 120,
            lines_removed: 7,
            commits: 1,
            pull_requests: 1,
            edits_accepted: 9,
            edits_rejected: 2,
            input_tokens: 1000,
            output_tokens: 200,
            cache_read_tokens: 30_000,
            cache_creation_tokens: 400,
            cost_micros: 1_250_000,
            cost_is_estimated: true,
        };
        r.models.push(ModelUsage {
            model: "claude-opus-5".into(),
            input_tokens: 1000,
            ..ModelUsage::default()
        });
        r.tools.push(ToolDecisions {
            tool: "edit_tool".into(),
            accepted: 9,
            rejected: 2,
        });
        let persons = vec![r.person.clone()];
        let json = serde_json::to_vec(&vec![encode(&r, 0)]).unwrap_or_default();
        let back: Vec<Row> = serde_json::from_slice(&json).unwrap_or_default();
        let back: Vec<DayRow> = back
            .into_iter()
            .filter_map(|x| decode(x, &persons))
            .collect();
        assert_eq!(back, vec![r]);
    }

    #[test]
    fn stored_period_rows_read_back_unchanged() {
        let mut p = PeriodRow {
            start: day("2026-11-01"),
            end: day("2026-11-30"),
            person: PersonKey::api_key("ci-bot"),
            source: Source::Csv,
            measures: Measures::default(),
            models: Vec::new(),
            tools: Vec::new(),
            present: MeasureSet::COST | MeasureSet::SESSIONS,
        };
        p.measures.sessions = 40;
        let persons = vec![p.person.clone()];
        let json = serde_json::to_vec(&encode_period(&p, 0)).unwrap_or_default();
        let back: Option<PRow> = serde_json::from_slice(&json).ok();
        assert_eq!(back.and_then(|x| decode_period(x, &persons)), Some(p));
    }

    /// Issue 10: a row that carries only some measures keeps saying so after
    /// a reload, so a later file still merges measure by measure.
    #[test]
    fn a_thin_row_keeps_the_measures_it_carries() {
        let mut r = DayRow::new(day("2026-11-16"), PersonKey::email("a@b.c"), Source::Csv);
        r.measures.lines_added = 40;
        r.present = MeasureSet::LINES_ADDED;
        let json = serde_json::to_vec(&vec![encode(&r, 0)]).unwrap_or_default();
        let back = decode_chunk(&json, FORMAT_VERSION, &[r.person.clone()]);
        assert_eq!(back, Ok(vec![r]));
    }

    /// Format 1 (rows without their measures) still reads: every measure carried.
    #[test]
    fn rows_stored_in_format_1_still_read() {
        let v1 = r#"[[740000,0,2,[3,120,0,0,0,9,2,0,0,0,0],1250000,false,[],[]]]"#;
        let back = decode_chunk(v1.as_bytes(), 1, &[PersonKey::email("a@b.c")]).unwrap_or_default();
        assert_eq!(back.len(), 1);
        assert_eq!(back[0].present, MeasureSet::all());
        assert_eq!(back[0].measures.lines_added, 120);
        assert_eq!(back[0].source, Source::Csv);
    }

    #[test]
    fn a_row_pointing_at_an_unknown_person_is_dropped_not_invented() {
        let r = DayRow::new(day("2026-11-16"), PersonKey::email("a@b.c"), Source::Csv);
        assert_eq!(decode(encode(&r, 5), &[]), None);
    }
}

/// IndexedDB and localStorage in headless Chromium (`make test`).
// Two attributes, not `all(test, …)`: clippy treats only `cfg(test)` as test code.
#[cfg(test)]
#[cfg(target_arch = "wasm32")]
mod browser_tests {
    use super::*;
    use crate::state::WindowChoice;
    use crate::test_support;
    use scoreboard_core::RosterEntry;
    use wasm_bindgen_test::wasm_bindgen_test;

    /// `people` × `days` day rows with distinct measures, a period row, a
    /// roster and an import report: everything `Data` keeps.
    fn sample(people: u32, days: u32) -> Data {
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
        Data {
            table,
            roster: Some(Roster::new(vec![ada])),
            files: vec![report],
            demo: None,
        }
    }

    #[wasm_bindgen_test]
    async fn data_saved_in_indexeddb_reads_back_the_same_after_a_reload() {
        let ctx = test_support::ctx();
        clear_all(ctx).await.unwrap();
        assert!(load(ctx).await.unwrap().is_none(), "nothing stored yet");
        // More rows than two chunks, so the chunked write and read are both used.
        let data = sample(150, 300);
        assert!(data.table.day_count() > 2 * CHUNK_ROWS);
        ctx.data.set(data.clone());
        save(ctx).await.unwrap();

        let back = load(ctx).await.unwrap().expect("the saved data");
        assert!(back.table.day_rows().eq(data.table.day_rows()));
        assert_eq!(back.table.periods(), data.table.periods());
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
        let mut data = sample(2, 3);
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
        ctx.data.set(sample(2, 3));
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
        ctx.data.set(sample(20, 30));
        // The save yields after serialising its first chunk; "Clear all data"
        // starts then, so the save must notice and write nothing.
        let (saved, cleared) = futures::future::join(save(ctx), clear_all(ctx)).await;
        assert_eq!(saved, Err(StorageError::Stale));
        cleared.unwrap();
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
