//! Live mode: when `scoreboard serve` serves the page, its normalised
//! person-day rows, its roster and its source status are loaded into the
//! same `core` table and roster the dropped files use. The page looks at the
//! server's (small) source status every [`CHECK_EVERY_MS`] and reloads the
//! rows when telemetry arrived or a sync stored rows since the last load, so
//! new data shows within a minute; it also reloads every
//! [`REFRESH_EVERY_MS`] and whenever the tab comes back into view.
//!
//! Server rows are kept apart from the user's own data: the engine holds
//! both (`engine_state`) and computes the report over them merged, but only
//! what the user dropped is stored with the data; the server's rows are
//! kept apart ([`crate::live_cache`]: fetched compact and incrementally, an
//! unchanged server answering `304`, kept in IndexedDB between visits). A
//! refresh never touches the view (filters).
//!
//! The answers are read into `core::api`'s types, the ones the server writes.

use chrono::{DateTime, Utc};
use js_sys::Uint8Array;
use leptos::prelude::*;
use scoreboard_core::api::{Health, RosterAnswer, SourcesAnswer};
use wasm_bindgen::prelude::Closure;
use wasm_bindgen::JsCast;

use crate::backend;
use crate::engine_msg::{LiveInfo, Reply, Request};
use crate::error::FetchError;
use crate::http::fetch_json;
use crate::live_cache::{self, Fetched, Held};
use crate::state::{Ctx, Live};
use crate::storage;
use crate::util;

/// How often the page asks `api/sources` whether anything new was stored (milliseconds).
pub const CHECK_EVERY_MS: i32 = 30 * 1000;
/// How often the page reloads everything even when nothing seems new (milliseconds).
pub const REFRESH_EVERY_MS: i32 = 5 * 60 * 1000;

/// Asks whether `scoreboard serve` serves this page. A static copy of the
/// site answers from its own `api/health` file (`ok: false`), so the probe
/// never meets a 404 the browser would log as an error; a host without that
/// file is not live mode either.
pub async fn probe() -> Option<Health> {
    fetch_json::<Health>("api/health")
        .await
        .ok()
        .filter(|h| h.ok)
}

/// Starts live mode: the first load now, then every [`REFRESH_EVERY_MS`]
/// and when the tab becomes visible again.
pub async fn start(ctx: Ctx, health: Health) {
    let mut live = Live {
        health,
        ..Live::default()
    };
    // The rows kept at the last visit show at once; the refresh then asks
    // only for what changed since (issue 13). The roster comes with them (a
    // small answer), so an unchanged refresh computes nothing again.
    let (kept, roster) = futures::future::join(
        storage::kept_live_rows(),
        fetch_json::<RosterAnswer>("api/roster"),
    )
    .await;
    if let Ok(roster) = roster {
        live.roster = roster.roster();
        live.roster_problems = roster.problems;
    }
    if let Ok(Some((bytes, etag))) = kept {
        if let Ok(info) = take_rows(ctx, bytes).await {
            util::mark("scoreboard:rows-restored");
            live.take(&info, Held::of(&info, etag));
        }
    }
    ctx.live.set(Some(live));
    refresh(ctx).await;
    leptos::task::spawn_local(async move {
        let mut since_full = 0;
        loop {
            util::sleep_ms(CHECK_EVERY_MS).await;
            since_full += CHECK_EVERY_MS;
            if since_full >= REFRESH_EVERY_MS || something_new(ctx).await {
                since_full = 0;
                refresh(ctx).await;
            }
        }
    });
    if let Some(doc) = web_sys::window().and_then(|w| w.document()) {
        let on_visible = Closure::<dyn Fn()>::new(move || {
            let hidden = web_sys::window()
                .and_then(|w| w.document())
                .is_none_or(|d| d.hidden());
            if !hidden {
                leptos::task::spawn_local(refresh(ctx));
            }
        });
        let _ = doc.add_event_listener_with_callback(
            "visibilitychange",
            on_visible.as_ref().unchecked_ref(),
        );
        // The listener lives as long as the page.
        on_visible.forget();
    }
}

/// Telemetry's last batch time and count, each source's last sync and row
/// count, and the exports folder's generation.
type StoredState = (
    Option<DateTime<Utc>>,
    u64,
    Vec<(Option<DateTime<Utc>>, u64)>,
    Option<u64>,
);

/// What in `api/sources` changes when the server stores new rows: telemetry
/// batches received, each source's last successful sync and row count, and
/// the exports folder read again.
fn stored_state(s: &SourcesAnswer) -> StoredState {
    let t = s.telemetry.status.as_ref();
    (
        t.and_then(|t| t.last_received_at),
        t.map_or(0, |t| t.batches_received),
        s.sources.iter().map(|x| (x.last_success, x.rows)).collect(),
        s.imports.snapshot.as_ref().map(|i| i.generation),
    )
}

/// True when the server's status shows rows stored since the last load (or
/// the status cannot be compared): the cheap question asked between reloads.
async fn something_new(ctx: Ctx) -> bool {
    let Ok(now) = fetch_json::<SourcesAnswer>("api/sources").await else {
        return true;
    };
    ctx.live.with_untracked(|l| {
        l.as_ref()
            .and_then(|l| l.sources.as_ref())
            .is_none_or(|before| stored_state(before) != stored_state(&now))
    })
}

/// Loads rows, roster and status again. One refresh at a time; a failed
/// one keeps the rows shown and says why.
pub async fn refresh(ctx: Ctx) {
    let running = ctx.jobs.refreshing;
    if running.get_value() {
        return;
    }
    running.set_value(true);
    let today = util::today_utc();
    // Core's one definition: the server makes this range's answer ahead.
    let (from, to) = scoreboard_core::api::live_range(today);
    let sources = fetch_json::<SourcesAnswer>("api/sources").await;
    let held = ctx
        .live
        .with_untracked(|l| l.as_ref().map(|l| l.held.clone()))
        .unwrap_or_default();
    let rows = match live_cache::fetch(from, to, &held).await {
        Ok(Fetched::Changed(body, etag)) => {
            let bytes = body.length() as usize;
            match take_rows(ctx, body).await {
                Ok(info) => {
                    live_cache::record(&info, bytes);
                    Ok(Some((info, etag)))
                }
                Err(reason) => Err(FetchError::Unexpected {
                    url: "api/rows".into(),
                    reason,
                }),
            }
        }
        Ok(Fetched::Unchanged) => Ok(None),
        Err(e) => Err(e),
    };
    let roster = fetch_json::<RosterAnswer>("api/roster").await;
    let now = now_utc();
    let mut changed = false;
    ctx.live.update(|live| {
        let Some(l) = live else { return };
        let mut errors: Vec<FetchError> = Vec::new();
        match sources {
            Ok(s) => l.sources = Some(s),
            Err(e) => errors.push(e),
        }
        // The rows apart from the roster: the cursor has moved with this
        // answer, so dropping it would lose its changes for good.
        match rows {
            Ok(Some((info, etag))) => {
                l.take(&info, Held::of(&info, etag));
                changed = true;
            }
            Ok(None) => {}
            Err(e) => errors.push(e),
        }
        match roster {
            Ok(roster) => {
                l.roster = roster.roster();
                l.roster_problems = roster.problems;
            }
            Err(e) => errors.push(e),
        }
        if errors.is_empty() {
            l.refreshed_at = now;
        }
        l.error = (!errors.is_empty()).then(|| {
            let mut text = errors
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; ");
            if l.health.auth_required && errors.iter().any(FetchError::is_unauthorized) {
                text.push_str(
                    ". This server needs a viewer token or a trusted sign-in header to show its data \
                     (see `scoreboard serve --help`)",
                );
            }
            text
        });
    });
    if !changed {
        running.set_value(false);
        return;
    }
    // Kept in the background, after the report they change is shown (the
    // engine answers in order: encoding them first would delay it), and
    // before the next refresh (still `running`), so an older copy never
    // overwrites a newer one. Failing to keep them only costs the next
    // visit a full fetch.
    leptos::task::spawn_local(async move {
        backend::report_settled(ctx).await;
        // The engine lost its rows: the kept copy is the last good one.
        if ctx.jobs.engine_lost.get_value() {
            running.set_value(false);
            return;
        }
        let held = ctx
            .live
            .with_untracked(|l| l.as_ref().map(|l| l.held.clone()));
        let backend = backend::backend(ctx).await;
        if let (Some(held), Ok((Reply::LiveBytes, bytes))) =
            (held, backend.call(Request::LiveBytes, Vec::new()).await)
        {
            if let Some(bytes) = bytes.first() {
                if storage::keep_live_rows(bytes, held.etag()).await.is_ok() {
                    util::mark("scoreboard:rows-kept");
                }
            }
        }
        running.set_value(false);
    });
}

/// Hands one `api/rows` answer (compact) to the engine, which holds the
/// server's rows: what they answer to once it is taken.
async fn take_rows(ctx: Ctx, body: Uint8Array) -> Result<LiveInfo, String> {
    let backend = backend::backend(ctx).await;
    match backend.call(Request::TakeLive, vec![body]).await {
        Ok((Reply::LiveTaken(info), _)) => Ok(info),
        Ok((Reply::Failed(why), _)) => Err(why),
        Ok(_) => Err("the engine answered something else".into()),
        Err(why) => {
            backend::engine_failed(ctx, &why);
            Err(why)
        }
    }
}

/// This browser's clock as a UTC time.
pub fn now_utc() -> Option<DateTime<Utc>> {
    DateTime::from_timestamp_millis(js_sys::Date::now() as i64)
}

/// `2026-03-02 14:05 UTC`.
pub fn when(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M UTC").to_string()
}
