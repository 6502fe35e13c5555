//! The page's way to its engine, which holds the data (`engine`,
//! `engine_state`): started when there is data for it, reached by every
//! part of the page through [`backend`], and asked for the report whenever
//! the view, the data or the server's rows change ([`follow_report`]).

use std::rc::Rc;
use std::sync::Arc;

use chrono::NaiveDate;
use js_sys::Uint8Array;
use leptos::prelude::*;
use scoreboard_core::metrics::PersonFigures;
use scoreboard_core::Report;

use crate::engine::{Backend, Engine, Slot};
use crate::engine_msg::{ComputeRequest, Reply, Request};
use crate::state::{report_roster, Ctx, Data, Live, ViewState};
use crate::util;

/// Starts loading the engine worker if it is not loaded yet: when the page
/// has data for it (stored, live), a file is imported, or the user is about
/// to pick or drop files (`loader::warm_engine`). A first visit that
/// imports nothing never loads it.
pub fn start(ctx: Ctx) {
    let idle = ctx.engine.with_value(|s| matches!(s, Slot::NotStarted));
    if !idle {
        return;
    }
    ctx.engine.set_value(Slot::Starting);
    // The readers of its answers (`engine::read_reply`, [`read_people`]),
    // fetched while the worker loads.
    crate::engine::preload_reader();
    #[cfg(feature = "split")]
    leptos::task::spawn_local(__preload_read_people());
    leptos::task::spawn_local(async move {
        let started = Engine::start().await.map(Rc::new);
        util::mark(if started.is_some() {
            "scoreboard:engine-ready"
        } else {
            "scoreboard:engine-unavailable"
        });
        ctx.engine.set_value(Slot::Ready(match started {
            Some(e) => Backend::Worker(e),
            None => Backend::Here(Rc::default()),
        }));
    });
}

/// The engine (started now if nothing started it): its worker, or the page
/// itself when the browser cannot run it.
pub async fn backend(ctx: Ctx) -> Backend {
    start(ctx);
    loop {
        if let Some(b) = running(ctx) {
            return b;
        }
        util::sleep_ms(10).await;
    }
}

/// The engine if it runs (nothing is started).
pub fn running(ctx: Ctx) -> Option<Backend> {
    ctx.engine
        .try_with_value(|s| match s {
            Slot::Ready(b) => Some(b.clone()),
            _ => None,
        })
        .flatten()
}

/// The worker failed: the data it held is gone from this page. The engine
/// runs on the page from now on, and the user is told how to get the data
/// back (what was saved reads back on a reload).
pub fn engine_failed(ctx: Ctx, why: &str) {
    let was_worker = matches!(running(ctx), Some(Backend::Worker(_)));
    if let Some(Backend::Worker(engine)) = running(ctx) {
        engine.stop();
    }
    if was_worker {
        ctx.jobs.engine_lost.set_value(true);
        ctx.engine
            .set_value(Slot::Ready(Backend::Here(Rc::default())));
        ctx.notice.set(Some(format!(
            "The page's engine stopped ({why}). Reload the page to see your data again."
        )));
    }
}

/// The worker failed when nothing it held was wanted any more (the data was
/// being cleared): the page's own engine takes over, and nothing is lost.
pub fn engine_replaced(ctx: Ctx) {
    if let Some(Backend::Worker(engine)) = running(ctx) {
        engine.stop();
    }
    ctx.engine
        .set_value(Slot::Ready(Backend::Here(Rc::default())));
}

/// Keeps `ctx.report` computed for the view, the data and the server's
/// rows by the engine, which holds the rows (a roster alone too: its
/// people, none started); with nothing loaded there is no report. The
/// latest answer asked for is the one shown.
pub fn follow_report(ctx: Ctx, as_of: Memo<NaiveDate>) {
    let (data, live) = (ctx.data, ctx.live);
    // What of the server's answer the report reads. A refresh that changes
    // only the status (every `304`, every 30 s check) leaves it equal, so the
    // report is not computed again over rows that did not change.
    let live_input = Memo::new(move |_| {
        live.with(|l| {
            l.as_ref()
                .filter(|l| l.has_rows())
                .map(|l| (l.rows_taken, l.roster.clone(), l.roster_problems.clone()))
        })
    });
    // True while the report shown was computed from no rows: the first
    // report with rows is waited for, not preceded by empty figures.
    let shown_no_rows = StoredValue::new(true);
    Effect::new(move |_| {
        let as_of = as_of.get();
        let live_rows = live_input.with(Option::is_some);
        let (no_rows, request) = ctx.view.with(|v| {
            data.with(|d| {
                live.with_untracked(|l| {
                    let l = l.as_ref().filter(|_| live_rows);
                    (
                        d.table.is_empty() && !live_rows,
                        report_request(v, as_of, d, l),
                    )
                })
            })
        });
        let nothing = no_rows && request.roster.is_none();
        let seq = ctx.jobs.computing.try_update_value(|(n, latest)| {
            *latest += 1;
            if !nothing {
                *n += 1;
            }
            *latest
        });
        let Some(seq) = seq else { return };
        // The engine's rows are gone: the last figures stay, with the notice.
        if ctx.jobs.engine_lost.get_value() && !no_rows {
            answered(ctx);
            ctx.report_ready.set(true);
            return;
        }
        // Nothing loaded: no report, rather than one of no data (the page
        // shows its introduction, an embed says there is no data), and no
        // engine is started for it.
        if nothing {
            ctx.report.set(None);
            ctx.report_ready.set(true);
            shown_no_rows.set_value(true);
            return;
        }
        util::mark("scoreboard:compute-start");
        if shown_no_rows.get_value() {
            ctx.report_ready.set(false);
        }
        let request = Request::Compute(request);
        leptos::task::spawn_local(async move {
            let backend = backend(ctx).await;
            match backend.call(request, Vec::new()).await {
                Ok((Reply::Computed(report), people)) => {
                    util::mark("scoreboard:report-read");
                    match read_people(report, people).await {
                        Ok(report) => {
                            if show_report(ctx, *report, seq) {
                                shown_no_rows.set_value(no_rows);
                            }
                        }
                        Err(why) => {
                            failed_report(ctx, seq, format!("The figures could not be read: {why}"))
                        }
                    }
                }
                Ok((Reply::Failed(why), _)) => failed_report(
                    ctx,
                    seq,
                    format!("The figures could not be computed: {why}"),
                ),
                Ok(_) => {}
                Err(why) => {
                    engine_failed(ctx, &why);
                    ctx.report_ready.set(true);
                }
            }
            answered(ctx);
        });
    });
}

/// The day the report is as of: the pinned `?as_of=`, the demo's day (never
/// with real server rows), or today (UTC).
pub fn as_of(d: &Data, live_rows: bool) -> NaiveDate {
    util::as_of_param()
        .or_else(|| d.demo.as_ref().filter(|_| !live_rows).map(|x| x.as_of))
        .unwrap_or_else(util::today_utc)
}

/// The report [`follow_report`] asks the engine for: the view's, over the
/// user's data and the server's rows (`live`, when it has rows) with their
/// rosters, as of `as_of`.
pub fn report_request(
    view: &ViewState,
    as_of: NaiveDate,
    d: &Data,
    live: Option<&Live>,
) -> ComputeRequest {
    ComputeRequest {
        opts: view.options(as_of),
        roster: match live {
            Some(l) => report_roster(d, l),
            None => d.roster.clone(),
        },
        live: live.is_some(),
        // The demo is never mixed with real server rows.
        with_own: d.demo.is_none(),
    }
}

/// The request [`follow_report`] will send once the data as it is now is
/// notified: a merge carries it (`Request::Merge::next_report`), so the engine
/// computes the report while the page draws the merged data.
pub fn next_report_request(ctx: Ctx) -> ComputeRequest {
    let live_rows = ctx
        .live
        .with_untracked(|l| l.as_ref().is_some_and(Live::has_rows));
    ctx.view.with_untracked(|v| {
        ctx.data.with_untracked(|d| {
            ctx.live.with_untracked(|l| {
                let l = l.as_ref().filter(|_| live_rows);
                report_request(v, as_of(d, live_rows), d, l)
            })
        })
    })
}

/// A report asked for is answered (or will not be): when none is left,
/// whoever waits for them to settle goes on.
fn answered(ctx: Ctx) {
    let left = ctx
        .jobs
        .computing
        .try_update_value(|(n, _)| {
            *n = n.saturating_sub(1);
            *n
        })
        .unwrap_or(0);
    if left == 0 {
        for waiter in ctx
            .jobs
            .settled
            .try_update_value(std::mem::take)
            .unwrap_or_default()
        {
            let _ = waiter.send(());
        }
    }
}

/// The latest report asked for could not be had: the notice says why, and
/// the figures shown before stay (never "Computing…" for good).
fn failed_report(ctx: Ctx, seq: u64, why: String) {
    if ctx.jobs.computing.get_value().1 == seq {
        ctx.notice.set(Some(why));
        ctx.report_ready.set(true);
    }
}

/// The report's people from the chunks posted with it, one chunk a task,
/// then a task boundary before the report is shown.
/// With the page's `split` feature, in a module of its own with the
/// report's reader (`engine::read_reply`): not in the first visit's wasm.
#[cfg_attr(feature = "split", leptos::lazy)]
pub async fn read_people(
    mut report: Box<Report>,
    chunks: Vec<Uint8Array>,
) -> Result<Box<Report>, String> {
    for chunk in chunks {
        util::yield_now().await;
        let part: Vec<PersonFigures> =
            serde_json::from_slice(&chunk.to_vec()).map_err(|e| e.to_string())?;
        report.people.extend(part);
    }
    // The dashboard built from it in a task of its own: with the last
    // chunk's reading, one task of 33-51 ms at 100 k rows.
    util::yield_now().await;
    Ok(report)
}

/// Shows `report` (answer number `seq`) unless a later one was asked for,
/// with the problems of the files and of the server's roster; true when shown.
fn show_report(ctx: Ctx, mut report: Report, seq: u64) -> bool {
    if ctx.jobs.computing.get_value().1 != seq {
        return false;
    }
    util::mark("scoreboard:compute-end");
    ctx.data.with_untracked(|d| {
        for f in &d.files {
            report.problems.extend(f.problems.iter().cloned());
        }
    });
    ctx.live.with_untracked(|l| {
        if let Some(l) = l.as_ref().filter(|l| l.has_rows()) {
            report.problems.extend(l.roster_problems.iter().cloned());
        }
    });
    ctx.report.set(Some(Arc::new(report)));
    ctx.report_ready.set(true);
    util::mark("scoreboard:report-set");
    true
}

/// Waits until the report asked for is shown (after loading data, so the
/// dashboard that appears shows its figures).
pub async fn report_settled(ctx: Ctx) {
    // The effect that asks for it runs once the change that triggers it is seen.
    util::yield_now().await;
    if ctx.jobs.computing.get_value().0 == 0 {
        return;
    }
    // Woken by the last answer, in its task: polling on a timer waited
    // behind the first screen's frame (40-60 ms at 100 k rows).
    let (tx, rx) = futures::channel::oneshot::channel();
    ctx.jobs.settled.update_value(|w| w.push(tx));
    let _ = rx.await;
}
