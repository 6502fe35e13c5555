//! Loading files: read bytes, let core's parsers read them, ask the user what
//! a file does not say (column mapping, period), merge into the table.
//!
//! Every way in goes through [`import_batch`]: dropped or picked files, the
//! pasted roster and the demo data (fetched, then imported like a dropped file).
//!
//! Every file is read by the page's engine (`engine`), which holds the
//! data: in its worker it streams the file into core's `ImportStream` off
//! the page's thread and keeps the file's table; a batch's tables are then
//! merged there in one `Merge` request, and only their reports and counts
//! come back. The page reads only the head of a large file (its headers,
//! for the column dialog and the remembered mapping). Where the worker
//! cannot run, the engine runs on the page and a file is fed to an
//! `ImportStream` here in slices, the page yielding between them.

use std::cell::RefCell;
use std::collections::{BTreeMap, VecDeque};

use chrono::NaiveDate;
use futures::channel::oneshot;
use futures::StreamExt;
use js_sys::Uint8Array;
use leptos::prelude::*;
use scoreboard_core::model::Source;
use scoreboard_core::parse::{self, FileKind, Import, ImportError, ImportOptions, ImportStream};
use scoreboard_core::{Roster, UsageTable};
use wasm_bindgen_futures::JsFuture;

use crate::backend::{self, backend, engine_failed, running};
use crate::engine::{Backend, Engine, Event};
use crate::engine_msg::{
    ComputeRequest, FileSummary, Finished, MergeStep, Message, Reply, Request, PROBLEMS_SENT,
};
use crate::engine_state::{self, EngineState};
use crate::error::{FetchError, JsError};
use crate::http::{fetch_bytes, fetch_json};
use crate::state::{
    default_period, Answer, Ctx, Data, DemoInfo, FileReport, Input, LoadJob, MappingWhy, Origin,
    Progress, Question, MAX_PROBLEMS_KEPT,
};
use crate::storage;
use crate::util::{self, now_ms, yield_now};

/// Files up to this size are read and parsed in one step.
const WHOLE_FILE_LIMIT: f64 = 2.0 * 1024.0 * 1024.0;
/// The head read to recognise a large file and find its header.
const HEAD_BYTES: f64 = 256.0 * 1024.0;
/// Read on the page (no worker): each parsing step aims at this many milliseconds before yielding.
const STEP_TARGET_MS: f64 = 40.0;
const MIN_SLICE: f64 = 64.0 * 1024.0;
const MAX_SLICE: f64 = 8.0 * 1024.0 * 1024.0;

/// Starts importing in the background (one batch at a time).
pub fn start(ctx: Ctx, inputs: Vec<Input>, origin: Origin) {
    if inputs.is_empty() {
        return;
    }
    util::mark("scoreboard:import-asked");
    enqueue(ctx, LoadJob::Batch(inputs, origin));
}

/// "Map columns again" for the file whose copy is kept under `key`: reopens
/// the column dialog with the file's current mapping; applying reads the
/// kept copy again with it (after any import under way).
pub fn map_again(ctx: Ctx, key: String) {
    enqueue(ctx, LoadJob::MapAgain(key));
}

fn enqueue(ctx: Ctx, job: LoadJob) {
    let jobs = ctx.jobs;
    jobs.imports.update_value(|q| q.push_back(job));
    if jobs.importing.get_value() {
        ctx.notice.set(Some(
            "These files will be read as soon as the current ones are done.".into(),
        ));
        return;
    }
    jobs.importing.set_value(true);
    leptos::task::spawn_local(async move {
        while let Some(job) = jobs.imports.try_update_value(VecDeque::pop_front).flatten() {
            util::mark("scoreboard:import-job");
            run_job(ctx, job).await;
        }
        jobs.importing.set_value(false);
    });
}

/// One import job. With the page's `split` feature the import code (reading,
/// parsing, merging, the dialogs' questions) is a wasm module of its own,
/// fetched on the first import (or when the user is about to pick files,
/// [`warm_engine`]): a first visit that imports nothing never loads it.
#[cfg_attr(feature = "split", leptos::lazy)]
async fn run_job(ctx: Ctx, job: LoadJob) {
    match job {
        LoadJob::Batch(inputs, origin) => import_batch(ctx, inputs, origin).await,
        LoadJob::MapAgain(key) => {
            // A batch cancelled earlier does not cancel this reading.
            ctx.jobs.cancel.set_value(false);
            map_again_now(ctx, &key).await;
            ctx.progress.set(None);
        }
    }
}

/// True while files are being imported (or waiting to be).
pub fn busy(ctx: Ctx) -> bool {
    ctx.jobs.importing.get_value()
}

/// A file read by the engine: its import without rows, the count of all
/// its problems (only some are kept), and what its rows amount to; the
/// rows are in the engine, in the table it keeps under `table` until a
/// `Merge` adds or forgets it.
struct Imported {
    import: Import,
    problems_total: u64,
    summary: FileSummary,
    table: u32,
}

impl Imported {
    /// A file read on the page (no worker): its table goes to the page's engine.
    fn here(state: &RefCell<EngineState>, mut import: Import, table: UsageTable) -> Imported {
        let problems_total = import.problems.len() as u64;
        import.problems.truncate(PROBLEMS_SENT);
        let summary = engine_state::summary(&table);
        Imported {
            import,
            problems_total,
            summary,
            table: state.borrow_mut().keep_new(table),
        }
    }
}

pub async fn import_batch(ctx: Ctx, inputs: Vec<Input>, origin: Origin) {
    util::mark("scoreboard:import-start");
    ctx.notice.set(None);
    ctx.jobs.cancel.set_value(false);
    let count = inputs.len();
    let names: Vec<String> = inputs.iter().map(Input::name).collect();
    let mut results: Vec<(FileReport, Option<Imported>)> = Vec::new();
    for (i, input) in inputs.into_iter().enumerate() {
        if cancelled(ctx) {
            break;
        }
        let t0 = now_ms();
        show_reading(
            ctx,
            &input.name(),
            (i + 1, count),
            input.size(),
            "Reading",
            0.0,
        );
        // No yield before reading: the file goes to the engine first, and the
        // progress is drawn while the engine reads it.
        let (mut report, import) = import_one(ctx, input, i + 1, count).await;
        report.millis = now_ms() - t0;
        results.push((report, import));
    }
    // Nothing of the batch is in the table yet: dropping what was read
    // leaves the data as it was before it.
    if cancelled(ctx) {
        let read = results.iter().filter_map(|(_, i)| i.as_ref());
        forget(ctx, read.map(|i| i.table).collect()).await;
        ctx.progress.set(None);
        ctx.notice.set(Some(format!(
            "Import cancelled: nothing from {} was added.",
            names.join(", ")
        )));
        util::mark("scoreboard:import-cancelled");
        return;
    }
    util::mark("scoreboard:parsed");
    ctx.progress.update(|p| {
        if let Some(p) = p {
            p.stage = "Adding to the dashboard";
            p.cancellable = false;
        }
    });
    // The progress is drawn while the worker merges; the page's own engine
    // merges on this thread, so it is drawn first.
    if matches!(running(ctx), Some(Backend::Here(_))) {
        yield_now().await;
    }
    let indexes = merge_into_data(ctx, results, origin).await;
    ctx.last_batch.set(indexes);
    // The dashboard shows once its figures are computed for the new data.
    backend::report_settled(ctx).await;
    ctx.progress.set(None);
    util::mark("scoreboard:import-end");
    util::next_paint().await;
    util::mark("scoreboard:rendered");
    storage::schedule_save(ctx);
}

/// "Cancel" beside the progress: the batch being read stops (in the
/// worker, at its next chunk; a question open for it is skipped) and
/// nothing of it is added. Files queued after it are read as usual.
pub fn cancel(ctx: Ctx) {
    let reading = ctx
        .progress
        .with_untracked(|p| p.as_ref().is_some_and(|p| p.cancellable));
    if !busy(ctx) || !reading {
        return;
    }
    ctx.jobs.cancel.set_value(true);
    ctx.progress.update(|p| {
        if let Some(p) = p {
            p.stage = "Cancelling";
            p.cancellable = false;
        }
    });
    // A dialog waiting for an answer reads as skipped.
    ctx.answer.set_value(None);
    let engine = running(ctx);
    if let Some(Backend::Worker(engine)) = engine {
        engine.cancel_import();
    }
}

fn cancelled(ctx: Ctx) -> bool {
    ctx.jobs.cancel.get_value()
}

/// The progress of reading file `index` of `count` (saying "Cancelling"
/// once the batch is cancelled).
fn show_reading(
    ctx: Ctx,
    file: &str,
    (index, count): (usize, usize),
    total: f64,
    stage: &'static str,
    done: f64,
) {
    let cancelling = cancelled(ctx);
    ctx.progress.set(Some(Progress {
        file: file.to_string(),
        index,
        count,
        done,
        total,
        stage: if cancelling { "Cancelling" } else { stage },
        cancellable: !cancelling,
    }));
}

/// Adds a batch to the stored data: its tables merged in the engine (same
/// person-day of the same source: the later file's measures replace the
/// earlier ones, metrics.md §1), rosters combined by origin.
async fn merge_into_data(
    ctx: Ctx,
    results: Vec<(FileReport, Option<Imported>)>,
    origin: Origin,
) -> Vec<usize> {
    // Never merge into an empty table while the stored data is still being read back.
    while !ctx.restored.get_untracked() {
        util::sleep_ms(50).await;
    }
    // The data changes from here on: a save waits until the batch is all
    // in (`Jobs::merging`), not only while the engine merges.
    ctx.jobs.merging.update_value(|n| *n += 1);
    let mut first_note: Vec<String> = Vec::new();
    let had_demo = ctx.data.with_untracked(|d| d.demo.is_some());
    // Only a batch that gives something to show replaces the demo: a file
    // that cannot be read (or gives no row) leaves what is loaded in place.
    let usable = results.iter().any(|(_, i)| {
        i.as_ref().is_some_and(|i| {
            i.summary.day_rows > 0 || i.summary.period_rows > 0 || !i.import.roster.is_empty()
        })
    });
    // The files that failed in an earlier batch were reported then; they do
    // not pile up in the list of files loaded.
    ctx.data
        .update_untracked(|d| d.files.retain(|f| f.error.is_none()));
    let mut steps = Vec::new();
    match origin {
        Origin::Demo(as_of) => {
            steps.push(MergeStep::Reset);
            ctx.data.update_untracked(|d| {
                *d = Data {
                    demo: Some(DemoInfo { as_of }),
                    ..Data::default()
                };
            });
        }
        _ if had_demo && usable => {
            steps.push(MergeStep::Reset);
            ctx.data.update_untracked(|d| *d = Data::default());
            first_note.push("The demo data was removed first, so your files are not mixed with invented people.".into());
        }
        _ => {}
    }
    let mut roster_entries = Vec::new();
    let mut roster_loaded = false;
    // The reports whose file adds rows, in the order of their `Add` steps.
    let mut adding = Vec::new();
    let mut reports = Vec::new();
    for (n, (mut report, imported)) in results.into_iter().enumerate() {
        if n == 0 {
            report.notes.append(&mut first_note);
        }
        if let Some(mut imported) = imported {
            if imported.import.kind == FileKind::Roster {
                roster_loaded = true;
                roster_entries.append(&mut imported.import.roster);
                steps.push(MergeStep::Forget(imported.table));
            } else {
                adding.push(reports.len());
                steps.push(MergeStep::Add(imported.table));
            }
        }
        reports.push(report);
    }
    // The batch's roster first (the data is notified once, after the
    // merge), so the report the merge carries for the engine to compute
    // ahead is the one the page will ask for.
    let roster_note = roster_loaded.then(|| {
        let new = Roster::new(roster_entries);
        ctx.data
            .try_update_untracked(|d| {
                let (roster, note) = combined_roster(d.roster.take(), new, origin);
                d.roster = Some(roster);
                note
            })
            .unwrap_or_default()
    });
    let next_report = backend::next_report_request(ctx);
    match merge(ctx, steps, Some(next_report)).await {
        Ok(counts) => {
            for (i, c) in adding.iter().zip(counts) {
                reports[*i].added += c.added as u64;
                reports[*i].replaced += c.replaced as u64;
            }
        }
        Err(why) => {
            for i in adding {
                reports[i].error = Some(format!("{}: could not be added ({why})", reports[i].file));
            }
        }
    }
    let mut indexes = Vec::new();
    ctx.data.update_untracked(|d| {
        for report in reports {
            indexes.push(d.files.len());
            d.files.push(report);
        }
        if let Some(note) = roster_note {
            if let Some(i) = indexes
                .iter()
                .rev()
                .find(|&&i| d.files[i].kind == Some(FileKind::Roster))
            {
                d.files[*i].notes.push(note);
            }
        }
    });
    ctx.jobs.merging.update_value(|n| *n = n.saturating_sub(1));
    // One notification for the whole batch: the report is computed once.
    ctx.data.notify();
    indexes
}

/// The roster after a batch brought `new`: added to the old one when
/// pasted, replacing it otherwise; and the note that says so.
fn combined_roster(old: Option<Roster>, new: Roster, origin: Origin) -> (Roster, String) {
    match (old, origin) {
        (Some(old), Origin::PastedRoster) => {
            let merged = old.merged_with(&new);
            let note = format!(
                "Added to the roster: it now lists {} (it listed {}).",
                util::plural(merged.len() as u64, "person", "people"),
                old.len()
            );
            (merged, note)
        }
        (Some(old), _) => {
            let note = format!(
                "This roster replaces the one loaded before ({} then, {} now).",
                util::plural(old.len() as u64, "person", "people"),
                new.len()
            );
            (new, note)
        }
        (None, _) => {
            let note = format!(
                "Roster of {}.",
                util::plural(new.len() as u64, "person", "people")
            );
            (new, note)
        }
    }
}

/// Runs `steps` on the user's table in the engine and takes the table's
/// new size into the data (not notified: the caller notifies once); the
/// counts of the `Add` steps, in order. The caller takes the rest of the
/// merge into the data (the files' reports) before its next await, or
/// holds `Jobs::merging` itself until it has (`merge_into_data`): a save
/// waits while a merge runs, not after it.
async fn merge(
    ctx: Ctx,
    steps: Vec<MergeStep>,
    next_report: Option<ComputeRequest>,
) -> Result<Vec<scoreboard_core::table::MergeCount>, String> {
    let backend = backend(ctx).await;
    ctx.jobs.merging.update_value(|n| *n += 1);
    let answer = backend
        .call(Request::Merge { steps, next_report }, Vec::new())
        .await;
    ctx.jobs.merging.update_value(|n| *n = n.saturating_sub(1));
    match answer {
        Ok((Reply::Merged { counts, table }, _)) => {
            ctx.data.update_untracked(|d| d.table = table);
            Ok(counts)
        }
        Ok((Reply::Failed(why), _)) => Err(why),
        Ok(_) => Err("the engine answered something else".into()),
        Err(why) => {
            engine_failed(ctx, &why);
            Err(why)
        }
    }
}

/// Drops tables read but not to be merged (a cancelled batch, a file read again).
async fn forget(ctx: Ctx, tables: Vec<u32>) {
    if !tables.is_empty() {
        let _ = merge(
            ctx,
            tables.into_iter().map(MergeStep::Forget).collect(),
            None,
        )
        .await;
    }
}

/// Empties the user's table in the engine ("Clear all data"), if one runs.
pub async fn reset_engine(ctx: Ctx) {
    if running(ctx).is_some() {
        let _ = merge(ctx, vec![MergeStep::Reset], None).await;
    }
}

async fn import_one(
    ctx: Ctx,
    input: Input,
    index: usize,
    count: usize,
) -> (FileReport, Option<Imported>) {
    let name = input.name();
    let size = input.size();
    let mut report = FileReport::new(&name, size as u64);
    let progress = |stage: &'static str, done: f64| {
        show_reading(ctx, &name, (index, count), size, stage, done);
    };

    // The page needs some of the file itself: a small file whole (kept for
    // "Map columns again"), a large one's head (its headers, for the column
    // dialog and a mapping remembered for them). Usually the engine reads
    // the file at once, with the columns as they are named, and posts that
    // back; once the user has mapped some file's columns by hand, the page
    // reads the head first, so a mapping remembered for these headers
    // applies to the file's one reading.
    let mut opts = ImportOptions::default();
    progress("Reading", 0.0);
    let (first_read, own_read) = if storage::remembers_mappings() {
        (None, read_head(&input, size).await)
    } else {
        let (read, engine_head) = read_input(ctx, &input, &opts, (index, count), true).await;
        if read.is_none() {
            // Cancelled: the batch drops what it read.
            return (report, None);
        }
        let own = match engine_head {
            Some(bytes) if size <= WHOLE_FILE_LIMIT => Ok((Some(bytes), Vec::new())),
            Some(bytes) => Ok((None, cut_at_last_newline(bytes))),
            None => read_head(&input, size).await,
        };
        (Some(read), own)
    };
    let (whole, head) = match own_read {
        Ok(read) => read,
        Err(e) => {
            if let Some(Some(Ok(imported))) = first_read {
                forget(ctx, vec![imported.table]).await;
            }
            return failed(
                report,
                format!("{name}: the browser could not read the file ({e})"),
            );
        }
    };
    let head_ref: &[u8] = whole.as_deref().unwrap_or(&head);

    let headers = csv_headers(head_ref);
    // The first reading, if the engine made it, unless a remembered mapping
    // means reading again.
    let mut pending: Option<Read> = first_read;
    if let Some(m) = headers
        .as_ref()
        .and_then(|h| storage::remembered_mapping(h))
    {
        opts.column_overrides = m;
        report.notes.push(
            "Columns read with the mapping you chose before for a file with the same headers."
                .into(),
        );
        match pending.take() {
            Some(Some(Ok(imported))) => forget(ctx, vec![imported.table]).await,
            Some(Some(Err(_))) | None => {}
            // Cancelled: the batch drops what it read.
            Some(None) => return (report, None),
        }
    }

    // The mapping the user applied in the dialog, remembered once the file reads with it.
    let mut chosen: Option<BTreeMap<String, Option<parse::Field>>> = None;
    let mut asked_likely = false;
    loop {
        let read = match pending.take() {
            Some(read) => read,
            None => {
                progress("Reading", 0.0);
                read_input(ctx, &input, &opts, (index, count), false)
                    .await
                    .0
            }
        };
        let attempt = match read {
            Some(read) => read,
            // Cancelled: the batch drops what it read.
            None => return (report, None),
        };
        match attempt {
            Ok(imported) => {
                let likely = &imported.import.likely_measures;
                let preview = (!asked_likely && !likely.is_empty())
                    .then(|| parse::csv_preview(head_ref, 6).ok())
                    .flatten();
                if let Some(preview) = preview {
                    // Columns that hold numbers under names the importer does
                    // not know: ask instead of dropping them silently (issue 10).
                    asked_likely = true;
                    let question = Question::Mapping {
                        file: name.clone(),
                        message: String::new(),
                        choice: mapping_of(
                            &preview.headers,
                            &parse::column_uses(&preview.headers, &opts.column_overrides),
                        ),
                        preview,
                        why: MappingWhy::LikelyMeasures(likely.clone()),
                    };
                    waiting_for_answer(ctx);
                    if let Answer::Mapping(choice) = ask(ctx, question).await {
                        // Read again with the columns: this reading's rows go.
                        forget(ctx, vec![imported.table]).await;
                        opts.column_overrides = choice.clone();
                        chosen = Some(choice);
                        continue;
                    }
                    report.notes.push(format!(
                        "Read without {}: {} numbers, but Scoreboard does not recognise {} and the column dialog was skipped. \
                         “Map columns again” reads the file with {}.",
                        columns_named(likely.iter().map(|l| l.header.as_str())),
                        if likely.len() == 1 { "it holds" } else { "they hold" },
                        if likely.len() == 1 { "its name" } else { "their names" },
                        if likely.len() == 1 { "it" } else { "them" },
                    ));
                }
                // Remembered only now: applied, and the file read with it.
                if let (Some(h), Some(choice)) = (&headers, &chosen) {
                    storage::remember_mapping(h, choice);
                    report.notes.push(
                        "Columns mapped by hand (remembered for files with the same headers)."
                            .into(),
                    );
                }
                fill_report(&mut report, &imported);
                // A copy for "Map columns again" (CSV files read at once).
                if headers.is_some() && !report.columns.is_empty() {
                    report.kept = whole.as_deref().and_then(|b| storage::keep_file(ctx, b));
                }
                return (report, Some(imported));
            }
            Err(err) => {
                // The engine stopped: no dialog can help (its error says so).
                let question = (!ctx.jobs.engine_lost.get_value())
                    .then(|| question_for(&err, &name, head_ref, &opts))
                    .flatten();
                let Some(question) = question else {
                    return failed(report, err.to_string());
                };
                waiting_for_answer(ctx);
                match ask(ctx, question).await {
                    Answer::Mapping(choice) => {
                        opts.column_overrides = choice.clone();
                        chosen = Some(choice);
                    }
                    Answer::Period(from, to) => {
                        opts.period = Some((from, to));
                        report.period = Some((from, to));
                    }
                    Answer::Skip => return failed(report, format!("Skipped. {err}")),
                }
            }
        }
    }
}

fn waiting_for_answer(ctx: Ctx) {
    ctx.progress.update(|p| {
        if let Some(p) = p {
            p.stage = "Waiting for your answer";
        }
    });
}

/// "the column `A`" or "the columns `A`, `B`".
fn columns_named<'a>(headers: impl Iterator<Item = &'a str>) -> String {
    let list: Vec<String> = headers.map(|h| format!("`{h}`")).collect();
    format!(
        "the column{} {}",
        if list.len() == 1 { "" } else { "s" },
        list.join(", ")
    )
}

/// Header → field for every header, from the columns as they were (or would be) read.
fn mapping_of(
    headers: &[String],
    columns: &[parse::ColumnUse],
) -> BTreeMap<String, Option<parse::Field>> {
    headers
        .iter()
        .map(|h| {
            let field = columns
                .iter()
                .find(|c| &c.header == h)
                .and_then(|c| c.field);
            (h.clone(), field)
        })
        .collect()
}

/// The other files of `source` read again from their kept copies with the
/// columns they were read with: the engine's tables of (those loaded before
/// `index`, those after). `None` when one of them has no copy kept or no
/// longer reads (the tables read by then are forgotten).
async fn replay_source(ctx: Ctx, source: Source, index: usize) -> Option<(Vec<u32>, Vec<u32>)> {
    let files = ctx.data.with_untracked(|d| {
        d.files
            .iter()
            .enumerate()
            .filter(|(i, f)| {
                *i != index
                    && f.error.is_none()
                    && f.kind.and_then(FileKind::source) == Some(source)
            })
            .map(|(i, f)| (i, f.clone()))
            .collect::<Vec<_>>()
    });
    let (mut earlier, mut later) = (Vec::new(), Vec::new());
    for (i, f) in files {
        let bytes = f.kept.as_deref().and_then(|k| storage::kept_file(ctx, k));
        let opts = ImportOptions {
            column_overrides: mapping_of(
                &f.columns
                    .iter()
                    .map(|c| c.header.clone())
                    .collect::<Vec<_>>(),
                &f.columns,
            ),
            period: f.period,
            ..ImportOptions::default()
        };
        let read = match bytes {
            Some(bytes) => read_bytes(ctx, &f.file, &bytes, &opts).await.ok(),
            None => None,
        };
        let Some(read) = read else {
            forget(ctx, earlier.into_iter().chain(later).collect()).await;
            return None;
        };
        if i < index {
            earlier.push(read.table);
        } else {
            later.push(read.table);
        }
    }
    Some((earlier, later))
}

fn kind_label_of(k: Option<FileKind>) -> &'static str {
    k.map_or("file", FileKind::label)
}

/// "Map columns again": the dialog with the file's current mapping, then the
/// kept copy read with the new one. Its rows replace the file's earlier rows
/// measure by measure (metrics.md §1), and its report replaces the old one.
async fn map_again_now(ctx: Ctx, key: &str) {
    let found = ctx.data.with_untracked(|d| {
        d.files
            .iter()
            .position(|f| f.kept.as_deref() == Some(key))
            .map(|i| (i, d.files[i].clone()))
    });
    let Some((_, old)) = found else { return };
    let name = old.file.clone();
    let Some(bytes) = storage::kept_file(ctx, key) else {
        ctx.notice.set(Some(format!(
            "The page no longer keeps a copy of {name}; add it again to map its columns."
        )));
        return;
    };
    let preview = match parse::csv_preview(&bytes, 6) {
        Ok(p) => p,
        Err(e) => {
            ctx.notice.set(Some(format!("{name}: {e}")));
            return;
        }
    };
    let mut choice = mapping_of(&preview.headers, &old.columns);
    let mut message = String::new();
    let t0 = now_ms();
    let imported = loop {
        let question = Question::Mapping {
            file: name.clone(),
            message: std::mem::take(&mut message),
            preview: preview.clone(),
            choice: choice.clone(),
            why: MappingWhy::Again,
        };
        let Answer::Mapping(c) = ask(ctx, question).await else {
            return;
        };
        choice = c;
        let opts = ImportOptions {
            column_overrides: choice.clone(),
            period: old.period,
            ..ImportOptions::default()
        };
        match read_bytes(ctx, &name, &bytes, &opts).await {
            // The file stays what it was: a usage export read as a roster
            // (or the reverse) would replace the roster or leave rows behind.
            Ok(read) if Some(read.import.kind) != old.kind => {
                forget(ctx, vec![read.table]).await;
                message = format!(
                    "with these columns {name} reads as a {}, not as the {} it was loaded as; \
                     keep the columns that made it one",
                    read.import.kind,
                    kind_label_of(old.kind)
                );
            }
            Ok(read) => break read,
            // Asked again, saying why this mapping cannot be read.
            Err(e) => message = e.to_string(),
        }
    };
    // Where the file is now: "Clear all data" may have run while the dialog was open.
    let Some(index) = ctx
        .data
        .with_untracked(|d| d.files.iter().position(|f| f.kept.as_deref() == Some(key)))
    else {
        forget(ctx, vec![imported.table]).await;
        return;
    };
    storage::remember_mapping(&preview.headers, &choice);
    let mut report = FileReport::new(&name, old.bytes);
    report.period = old.period;
    report.kept = old.kept.clone();
    fill_report(&mut report, &imported);
    let kind = imported.import.kind;
    let roster_entries = imported.import.roster.clone();
    let table = imported.table;
    // Every file of the same source, in load order, with this one read anew:
    // when the page keeps a copy of each, the source's rows are rebuilt and
    // the figures are those of loading the file with these columns in the
    // first place. Otherwise this file's rows are merged measure by measure.
    let replay = match kind.source() {
        Some(source) => replay_source(ctx, source, index)
            .await
            .map(|tables| (source, tables)),
        None => None,
    };
    // "Clear all data" may have run while the other files were read.
    let still_loaded = ctx.data.with_untracked(|d| {
        d.files
            .get(index)
            .is_some_and(|f| f.kept.as_deref() == Some(key))
    });
    if !still_loaded {
        let mut read = vec![table];
        if let Some((_, (earlier, later))) = replay {
            read.extend(earlier.into_iter().chain(later));
        }
        forget(ctx, read).await;
        return;
    }
    match replay {
        Some((source, (earlier, later))) => {
            let n = earlier.len() + later.len() + 1;
            let mut steps = vec![MergeStep::RemoveSource(source)];
            steps.extend(earlier.iter().copied().map(MergeStep::Add));
            steps.push(MergeStep::Add(table));
            steps.extend(later.iter().copied().map(MergeStep::Add));
            add_counted(ctx, steps, earlier.len(), &mut report).await;
            report.notes.push(format!(
                "Columns mapped again by hand (remembered for files with the same headers). The figures are those of \
                 loading this file with these columns: the {} kept of this source were read again in the order they were loaded.",
                util::plural(n as u64, "file", "files")
            ));
        }
        None if kind == FileKind::Roster => {
            forget(ctx, vec![table]).await;
            report.notes.push(
                "Columns mapped again by hand (remembered for files with the same headers). This file, read with \
                 these columns, replaces the roster."
                    .into(),
            );
        }
        None => {
            add_counted(ctx, vec![MergeStep::Add(table)], 0, &mut report).await;
            report.notes.push(
                "Columns mapped again by hand (remembered for files with the same headers). The measures read now \
                 replace this file's earlier values for the same people and days; a measure it no longer reads keeps \
                 its earlier value (metrics.md §1: a column that is absent is unknown, not 0)."
                    .into(),
            );
        }
    }
    report.millis = now_ms() - t0;
    let roster = (kind == FileKind::Roster).then(|| Roster::new(roster_entries));
    ctx.data.update_untracked(|d| {
        if let Some(r) = roster {
            d.roster = Some(r);
        }
        if let Some(slot) = d.files.get_mut(index) {
            *slot = report;
        }
    });
    ctx.data.notify();
    ctx.last_batch.set(vec![index]);
    storage::schedule_save(ctx);
}

/// Runs `steps` and counts, in `report`, what their `Add` number `nth` added and replaced.
async fn add_counted(ctx: Ctx, steps: Vec<MergeStep>, nth: usize, report: &mut FileReport) {
    match merge(ctx, steps, None).await {
        Ok(counts) => {
            if let Some(c) = counts.get(nth) {
                report.added += c.added as u64;
                report.replaced += c.replaced as u64;
            }
        }
        Err(why) => report.error = Some(format!("{}: could not be added ({why})", report.file)),
    }
}

fn failed(mut report: FileReport, message: String) -> (FileReport, Option<Imported>) {
    report.error = Some(message);
    (report, None)
}

fn fill_report(r: &mut FileReport, imported: &Imported) {
    let i = &imported.import;
    r.kind = Some(i.kind);
    r.rows_read = i.rows_read;
    r.rows_rejected = i.rows_rejected;
    r.problems = i.problems.iter().take(MAX_PROBLEMS_KEPT).cloned().collect();
    r.problems_total = imported.problems_total;
    r.columns = i.columns.clone();
    r.ignored_columns = i.ignored_columns.clone();
    r.likely_measures = i.likely_measures.clone();
    r.measures = (i.kind != FileKind::Roster).then_some(i.measures);
    r.coverage = i.coverage.clone();
    r.warnings = i.warnings.iter().map(ToString::to_string).collect();
    r.day_rows = imported.summary.day_rows;
    r.period_rows = imported.summary.period_rows;
    r.roster_entries = i.roster.len() as u64;
    r.first_day = imported.summary.first_day;
    r.last_day = imported.summary.last_day;
}

/// Asks the user (the dialog answers through a one-shot channel).
async fn ask(ctx: Ctx, q: Question) -> Answer {
    let (tx, rx) = oneshot::channel();
    ctx.answer.set_value(Some(tx));
    ctx.question.set(Some(q));
    let answer = rx.await.unwrap_or(Answer::Skip);
    ctx.question.set(None);
    answer
}

/// What to ask for an import error, if the user can fix it from the page.
fn question_for(
    err: &ImportError,
    name: &str,
    head: &[u8],
    opts: &ImportOptions,
) -> Option<Question> {
    match err {
        ImportError::MissingIdentityColumn { .. } | ImportError::UnknownFormat { .. } => {
            if !looks_like_csv(head) {
                return None;
            }
            let preview = parse::csv_preview(head, 6).ok()?;
            // A first line of e-mails is data, not headers: mapping cannot help.
            if preview.headers.len() < 2 || preview.headers.iter().any(|h| h.contains('@')) {
                return None;
            }
            let choice = if opts.column_overrides.is_empty() {
                preview
                    .columns
                    .iter()
                    .enumerate()
                    .map(|(i, c)| (c.header.clone(), c.field.or_else(|| guess(&preview, i))))
                    .collect()
            } else {
                parse::column_uses(&preview.headers, &opts.column_overrides)
                    .into_iter()
                    .map(|c| (c.header, c.field))
                    .collect()
            };
            Some(Question::Mapping {
                file: name.to_string(),
                message: err.to_string(),
                preview,
                choice,
                why: MappingWhy::Required,
            })
        }
        ImportError::NeedsPeriod { .. } | ImportError::InvalidPeriod { .. } => {
            let (from, to) = opts.period.unwrap_or_else(|| default_period(util::today()));
            let retry = matches!(err, ImportError::InvalidPeriod { .. });
            Some(Question::Period {
                file: name.to_string(),
                message: err.to_string(),
                from,
                to,
                retry,
            })
        }
        _ => None,
    }
}

/// A first suggestion for a column no alias placed, from its values: e-mails
/// are the person, ISO dates the day. The user confirms or changes it.
fn guess(preview: &parse::CsvPreview, col: usize) -> Option<parse::Field> {
    let values: Vec<&str> = preview
        .rows
        .iter()
        .filter_map(|r| r.get(col))
        .map(String::as_str)
        .filter(|v| !v.is_empty())
        .collect();
    if values.is_empty() {
        return None;
    }
    if values.iter().all(|v| v.contains('@')) {
        return Some(parse::Field::Email);
    }
    if values
        .iter()
        .all(|v| v.get(..10).is_some_and(|d| util::day_or_none(d).is_some()))
    {
        return Some(parse::Field::Day);
    }
    None
}

fn looks_like_csv(head: &[u8]) -> bool {
    let magic: [&[u8]; 4] = [
        b"PK\x03\x04",
        &[0x1F, 0x8B],
        b"%PDF",
        &[0xD0, 0xCF, 0x11, 0xE0],
    ];
    if magic.iter().any(|m| head.starts_with(m)) {
        return false;
    }
    let t = head.strip_prefix(&[0xEF, 0xBB, 0xBF]).unwrap_or(head);
    let first = t.iter().find(|b| !b.is_ascii_whitespace());
    !matches!(first, Some(b'{') | Some(b'['))
}

/// The header row of a CSV file (to remember a mapping by), if it is one.
fn csv_headers(head: &[u8]) -> Option<Vec<String>> {
    if !looks_like_csv(head) {
        return None;
    }
    let cut = cut_at_last_newline(
        head.get(..head.len().min(64 * 1024))
            .unwrap_or(head)
            .to_vec(),
    );
    parse::csv_preview(if cut.is_empty() { head } else { &cut }, 0)
        .ok()
        .map(|p| p.headers)
}

fn cut_at_last_newline(mut b: Vec<u8>) -> Vec<u8> {
    if let Some(i) = b.iter().rposition(|&c| c == b'\n') {
        b.truncate(i + 1);
    }
    b
}

/// What the page keeps of a file, read by the page when the worker did not
/// post it back (`read_input`): a small file whole (for "Map columns
/// again"), or a large one's head (its headers) cut at its last complete line.
async fn read_head(input: &Input, size: f64) -> Result<(Option<Vec<u8>>, Vec<u8>), JsError> {
    Ok(match input {
        Input::Bytes { bytes, .. } => (Some(bytes.clone()), Vec::new()),
        Input::File(file) if size <= WHOLE_FILE_LIMIT => {
            (Some(read_slice(file, 0.0, size).await?), Vec::new())
        }
        Input::File(file) => (
            None,
            cut_at_last_newline(read_slice(file, 0.0, HEAD_BYTES.min(size)).await?),
        ),
    })
}

async fn read_slice(file: &web_sys::File, start: f64, end: f64) -> Result<Vec<u8>, JsError> {
    let blob = file.slice_with_f64_and_f64(start, end)?;
    let buf = JsFuture::from(blob.array_buffer()).await?;
    Ok(Uint8Array::new(&buf).to_vec())
}

/// A file read to its end, or `None` when the user cancelled the batch.
type Read = Option<Result<Imported, ImportError>>;

/// How much of a file the page wants back from the worker's reading
/// (`read_head`'s share: all of a small file, a large one's head).
fn head_wanted(size: f64) -> u32 {
    if size <= WHOLE_FILE_LIMIT {
        size as u32
    } else {
        HEAD_BYTES as u32
    }
}

/// Reads a file (dropped, or bytes fetched or pasted) with core's
/// `ImportStream` in the engine: in its worker, or here on the page when no
/// worker runs. File `index` of `count` in the progress. With the
/// reading, when `want_head`, the file's head as the worker read it
/// (`head_wanted`).
async fn read_input(
    ctx: Ctx,
    input: &Input,
    opts: &ImportOptions,
    (index, count): (usize, usize),
    want_head: bool,
) -> (Read, Option<Vec<u8>>) {
    let name = input.name();
    let size = input.size();
    let progress = |stage: &'static str, done: f64| {
        show_reading(ctx, &name, (index, count), size, stage, done);
    };
    match backend(ctx).await {
        Backend::Worker(engine) => {
            let blob = match input {
                Input::File(file) => Ok(web_sys::Blob::from(file.clone())),
                Input::Bytes { bytes, .. } => blob_of(bytes),
            };
            let read = match blob {
                Ok(blob) => {
                    // Bytes the page holds need not come back.
                    let from_file = matches!(input, Input::File(_));
                    let head = if want_head && from_file {
                        head_wanted(size)
                    } else {
                        0
                    };
                    read_in_engine(ctx, &engine, (&name, &blob, head), opts, progress).await
                }
                Err(e) => Err(e.to_string()),
            };
            read.unwrap_or_else(|why| {
                engine_failed(ctx, &why);
                let stopped = ImportError::UnknownFormat {
                    file: name.clone(),
                    reason: format!("the page's engine stopped ({why})"),
                };
                (Some(Err(stopped)), None)
            })
        }
        Backend::Here(state) => match input {
            Input::File(file) => {
                let read = read_here(ctx, &name, file, opts, progress).await;
                let read =
                    read.map(|r| r.map(|(import, table)| Imported::here(&state, import, table)));
                (read, None)
            }
            Input::Bytes { bytes, .. } => {
                progress("Reading rows", size * 0.5);
                yield_now().await;
                let read = parse::import_table(&name, bytes, opts)
                    .map(|(import, table)| Imported::here(&state, import, table));
                (Some(read), None)
            }
        },
    }
}

/// Bytes the page holds (a kept copy) read by the engine, outside any batch.
async fn read_bytes(
    ctx: Ctx,
    name: &str,
    bytes: &[u8],
    opts: &ImportOptions,
) -> Result<Imported, ImportError> {
    let input = Input::Bytes {
        name: name.to_string(),
        bytes: bytes.to_vec(),
    };
    read_input(ctx, &input, opts, (1, 1), false)
        .await
        .0
        .unwrap_or_else(|| {
            Err(ImportError::UnknownFormat {
                file: name.to_string(),
                reason: "reading it was cancelled".into(),
            })
        })
}

fn blob_of(bytes: &[u8]) -> Result<web_sys::Blob, JsError> {
    let parts = js_sys::Array::of1(&Uint8Array::from(bytes));
    Ok(web_sys::Blob::new_with_u8_array_sequence(&parts)?)
}

/// Starts loading the engine worker if it is not loaded yet, with the
/// import code (`run_job`'s module) when the user is about to pick or drop
/// files (pointer on "Add files", files dragged over the page), so both
/// arrive while they choose; then the dashboard's sections.
pub fn warm_engine(ctx: Ctx) {
    // Whatever started the engine (live mode, stored data) did not load the
    // import code: its first call would fetch and compile it after the pick.
    #[cfg(feature = "split")]
    if !ctx.jobs.import_code_preloaded.get_value() {
        ctx.jobs.import_code_preloaded.set_value(true);
        leptos::task::spawn_local(__preload_run_job());
    }
    backend::start(ctx);
    if !ctx.fonts_wanted.get_untracked() {
        ctx.fonts_wanted.set(true);
    }
    // After the engine, which they would slow down: fetched once the file
    // is being read, they held the page's thread (36 ms at 100 k rows) and
    // the browser's while the worker parsed.
    if !ctx.jobs.dashboard_asked.get_value() {
        ctx.jobs.dashboard_asked.set_value(true);
        leptos::task::spawn_local(async move {
            let engine = backend::backend(ctx).await;
            crate::components::preload_dashboard(ctx);
            read_sample_answer(ctx, engine).await;
        });
    }
}

/// Asks the worker for its sample answer (`Request::Sample`) and reads it
/// as a real file's answers are read, then drops it: the readers of the
/// import's answer, of the report and of its people run for the first
/// time here, while the user picks files, and not between the file's
/// parse and the first screen (their compiling took 15-30 ms there).
/// Not while files are read: it would only slow them down.
async fn read_sample_answer(ctx: Ctx, engine: Backend) {
    if !matches!(engine, Backend::Worker(_)) || busy(ctx) {
        return;
    }
    if let Ok((Reply::Sample { report, .. }, people)) =
        engine.call(Request::Sample, Vec::new()).await
    {
        let _ = backend::read_people(report, people).await;
    }
    util::mark("scoreboard:sample-read");
}

/// The file read in the worker: progress, then its import (its table kept
/// there). `Err` when the worker failed.
async fn read_in_engine(
    ctx: Ctx,
    engine: &Engine,
    (name, blob, head): (&str, &web_sys::Blob, u32),
    opts: &ImportOptions,
    progress: impl Fn(&'static str, f64),
) -> Result<(Read, Option<Vec<u8>>), String> {
    if cancelled(ctx) {
        return Ok((None, None));
    }
    let (id, mut events) = engine
        .import(blob, name, opts, head)
        .map_err(|e| e.to_string())?;
    util::mark("scoreboard:import-sent");
    let mut answer = Err("the worker stopped answering".to_string());
    let mut head = None;
    while let Some(event) = events.next().await {
        match event {
            Event::Msg(Message::Progress { done, .. }, _) => progress("Reading rows", done),
            Event::Msg(Message::Done { id, result }, buffers) => {
                head = buffers.first().map(Uint8Array::to_vec);
                // Read here, in the import code's module: the page's first
                // module carries no reader of core's import types.
                answer = serde_json::from_slice::<Result<Finished, ImportError>>(
                    result.get().as_bytes(),
                )
                .map_err(|e| format!("an answer the page cannot read ({e})"))
                .map(|result| {
                    Some(result.map(|f| Imported {
                        import: f.import,
                        problems_total: f.problems_total,
                        summary: f.summary,
                        table: id,
                    }))
                });
                break;
            }
            Event::Msg(Message::Cancelled { .. }, _) => {
                answer = Ok(None);
                break;
            }
            Event::Msg(..) => {}
            Event::Failed(message) => {
                answer = Err(message);
                break;
            }
        }
    }
    engine.finished(id);
    answer.map(|read| (read, head))
}

/// The file fed to an `ImportStream` on the page, a slice at a time, the
/// page yielding in between (the slice adapts to keep each step short).
async fn read_here(
    ctx: Ctx,
    name: &str,
    file: &web_sys::File,
    opts: &ImportOptions,
    progress: impl Fn(&'static str, f64),
) -> Option<Result<(Import, UsageTable), ImportError>> {
    let size = file.size();
    let mut stream = match ImportStream::new(name, opts.clone()) {
        Ok(s) => s,
        Err(e) => return Some(Err(e)),
    };
    stream.size_hint(size as usize);
    let mut offset = 0.0;
    let mut slice = 128.0 * 1024.0;
    while offset < size {
        if cancelled(ctx) {
            return None;
        }
        let end = (offset + slice).min(size);
        let bytes = match read_slice(file, offset, end).await {
            Ok(b) => b,
            Err(e) => {
                return Some(Err(ImportError::UnknownFormat {
                    file: name.to_string(),
                    reason: format!("the browser could not read it ({e})"),
                }))
            }
        };
        let t0 = now_ms();
        stream.feed(&bytes);
        let ms = now_ms() - t0;
        // Adapt towards the target step time, at most doubling per step.
        slice = (slice * (STEP_TARGET_MS / ms.max(1.0)).min(2.0)).clamp(MIN_SLICE, MAX_SLICE);
        offset = end;
        progress("Reading rows", offset);
        yield_now().await;
    }
    Some(stream.finish_table())
}

// ---- the demo, and fetching from the server --------------------------------------------

#[derive(serde::Deserialize)]
struct Manifest {
    as_of: NaiveDate,
    files: Vec<ManifestFile>,
}

#[derive(serde::Deserialize)]
struct ManifestFile {
    path: String,
}

/// Fetches the bundled demo files and imports them like dropped files.
/// `auto` (the server runs with `--demo`, nothing is stored): only if the
/// user has not loaded anything meanwhile.
pub fn load_demo(ctx: Ctx, auto: bool) {
    let untouched = move || !busy(ctx) && ctx.data.with_untracked(Data::is_empty);
    if auto && !untouched() {
        return;
    }
    leptos::task::spawn_local(async move {
        let show = !busy(ctx);
        if show {
            ctx.progress.set(Some(Progress {
                file: "demo data".into(),
                index: 1,
                count: 1,
                done: 0.0,
                total: 1.0,
                stage: "Fetching",
                cancellable: false,
            }));
        }
        let result: Result<(Manifest, Vec<Input>), FetchError> = async {
            let manifest: Manifest = fetch_json("demo/manifest.json").await?;
            let mut inputs = Vec::new();
            for f in &manifest.files {
                let bytes = fetch_bytes(&format!("demo/{}", f.path)).await?;
                inputs.push(Input::Bytes {
                    name: f.path.clone(),
                    bytes,
                });
            }
            Ok((manifest, inputs))
        }
        .await;
        if show && !busy(ctx) {
            ctx.progress.set(None);
        }
        match result {
            Ok(_) if auto && !untouched() => {}
            Ok((manifest, inputs)) => start(ctx, inputs, Origin::Demo(manifest.as_of)),
            Err(e) => ctx
                .notice
                .set(Some(format!("The demo data could not be loaded: {e}"))),
        }
    });
}

/// Files read by the browser (`File.slice().arrayBuffer()`) in headless Chromium (`make test`).
// Two attributes, not `all(test, …)`: clippy treats only `cfg(test)` as test code.
#[cfg(test)]
#[cfg(target_arch = "wasm32")]
mod browser_tests {
    use super::*;
    use crate::test_support;
    use scoreboard_core::model::DayRow;
    use wasm_bindgen_test::wasm_bindgen_test;

    /// A usage export of about 3 MB (over [`WHOLE_FILE_LIMIT`], so it is
    /// streamed), with what makes cutting it into parts hard: quoted cells
    /// holding a newline, rows of other products (a warning whose counts
    /// must add up over the parts), rows that cannot be read (problems whose
    /// line numbers must be the file's), and one person-day written twice
    /// far apart (summed as if read at once).
    fn large_export() -> String {
        let mut csv = String::from("Date,Email,Product,Sessions,Lines accepted,Spend (USD),Note\n");
        let first = NaiveDate::from_ymd_opt(2025, 1, 6).unwrap();
        let mut n = 0u32;
        for d in 0..800u32 {
            let day = first + chrono::Days::new(u64::from(d));
            for p in 0..60u32 {
                n += 1;
                let date = if n.is_multiple_of(997) {
                    "2025-02-30".to_string()
                } else {
                    day.to_string()
                };
                let product = if n.is_multiple_of(101) {
                    "Chat"
                } else {
                    "Claude Code"
                };
                let note = if n.is_multiple_of(503) {
                    "\"first line\nsecond, line\""
                } else {
                    ""
                };
                csv.push_str(&format!(
                    "{date},person{p}@example.com,{product},{},{},{}.{:02},{note}\n",
                    n % 9,
                    n % 400,
                    n % 7,
                    n % 100
                ));
            }
        }
        csv.push_str(&format!(
            "{first},person0@example.com,Claude Code,5,50,1.00,\n"
        ));
        csv
    }

    fn by_key(mut rows: Vec<DayRow>) -> Vec<DayRow> {
        rows.sort_by(|a, b| (a.day, &a.person, a.source).cmp(&(b.day, &b.person, b.source)));
        rows
    }

    /// "Cancel" while a large file is read on the page (no worker in these
    /// tests): nothing of it is added, and the page says so.
    #[wasm_bindgen_test]
    async fn a_cancelled_import_adds_nothing_of_its_file() {
        let ctx = test_support::ctx();
        let file = test_support::file("usage.csv", &large_export());
        start(ctx, vec![Input::File(file)], Origin::Files);
        // As the user does: once the progress offers "Cancel" while rows are read.
        let reading = move || {
            ctx.progress.with_untracked(|p| {
                p.as_ref()
                    .is_some_and(|p| p.cancellable && p.stage == "Reading rows")
            })
        };
        while busy(ctx) && !reading() {
            util::sleep_ms(1).await;
        }
        cancel(ctx);
        while busy(ctx) {
            util::sleep_ms(10).await;
        }
        assert_eq!(
            ctx.notice.get_untracked().as_deref(),
            Some("Import cancelled: nothing from usage.csv was added.")
        );
        assert!(ctx
            .data
            .with_untracked(|d| d.table.is_empty() && d.files.is_empty()));
        assert_eq!(ctx.progress.get_untracked(), None);
    }

    #[wasm_bindgen_test]
    async fn a_large_export_read_in_slices_gives_what_reading_it_at_once_gives() {
        let text = large_export();
        assert!(text.len() as f64 > WHOLE_FILE_LIMIT);
        let whole = parse::import("usage.csv", text.as_bytes(), &ImportOptions::default()).unwrap();
        assert!(whole.rows_rejected > 0 && whole.problems.iter().all(|p| p.line.is_some()));
        assert!(whole.warnings.iter().any(
            |w| matches!(w, parse::Warning::OtherProducts { rows } if rows.contains_key("Chat"))
        ));

        let ctx = test_support::ctx();
        let file = test_support::file("usage.csv", &text);
        import_batch(ctx, vec![Input::File(file)], Origin::Files).await;

        let days = test_support::held(ctx).day_rows().collect::<Vec<_>>();
        let report = ctx.data.with_untracked(|d| d.files.last().cloned());
        let report = report.expect("an import report");
        assert_eq!(report.error, None);
        assert_eq!(report.rows_read, whole.rows_read);
        assert_eq!(report.rows_rejected, whole.rows_rejected);
        assert_eq!(report.problems_total, whole.problems.len() as u64);
        assert_eq!(report.problems, whole.problems);
        let whole_warnings: Vec<String> = whole.warnings.iter().map(ToString::to_string).collect();
        assert_eq!(report.warnings, whole_warnings);
        assert_eq!(by_key(days.clone()), by_key(whole.rows));

        // The import is kept for the next visit: the background save ends with
        // the same rows stored. Waiting for it also keeps it from writing into
        // the next test's empty browser.
        let mut stored = None;
        for _ in 0..600 {
            stored = storage::load(ctx).await.unwrap();
            if stored.is_some() {
                break;
            }
            util::sleep_ms(50).await;
        }
        let stored = stored.expect("the import saved within 30 s");
        assert_eq!(stored.table.day_rows, days.len() as u64);
        assert_eq!(
            by_key(test_support::held(ctx).day_rows().collect::<Vec<_>>()),
            by_key(days)
        );
        storage::clear_all(ctx).await.unwrap();
    }
}
