//! The read-only shared view: what the page shows instead of its own data
//! while a snapshot is open (`shared_view` opens it), drawn by the page's
//! own components over the snapshot's report.

use std::sync::Arc;

use leptos::prelude::*;
use scoreboard_core::share::{self, Privacy, Snapshot};

use crate::components::{dashboard::Dashboard, definitions::DefinitionList, people::PeopleSection};
use crate::shared_view::{self as sharing, share_ctx, Opened, OpenedFrom, SharedCounts, Shown};
use crate::state::ctx;
use crate::util::{self, int, plural};

/// The header of a shared view: no share, no clear.
#[component]
pub fn SharedHeader() -> impl IntoView {
    view! {
        <header class="top">
            <div class="brand">
                <h1>"Scoreboard"</h1>
                <p class="tagline">"A shared snapshot of Claude Code adoption, week by week."</p>
            </div>
        </header>
    }
}

/// What the page shows instead of its own data while a snapshot is open.
/// Only for a shared link: a module of its own, loaded when first shown.
#[component]
pub fn SharedPage() -> impl IntoView {
    lazily!(shared_panel())
}

#[cfg_attr(feature = "split", leptos::lazy)]
fn shared_panel() -> super::Build {
    std::rc::Rc::new(|| view! { <SharedPanel /> }.into_any())
}

#[component]
fn SharedPanel() -> impl IntoView {
    let sc = share_ctx();
    move || {
        match sc.shown.get() {
        Shown::Own => ().into_any(),
        Shown::Loading(url) => view! {
            <p class="loading" id="share-loading">{if url.is_empty() {
                "Opening the shared snapshot…".to_string()
            } else {
                format!("Opening the shared snapshot at {url}…")
            }}</p>
        }
        .into_any(),
        Shown::Failed(message) => view! {
            <section id="share-failed" class="panel share-failed" role="alert" aria-labelledby="share-failed-title">
                <h2 id="share-failed-title">"This shared snapshot cannot be shown"</h2>
                <p id="share-failed-message">{message}</p>
                <p class="hint">"Ask the person who shared it for a new link, or for the snapshot file."</p>
                <button id="share-close" class="btn" on:click=move |_| sc.close()>"Open Scoreboard without it"</button>
            </section>
        }
        .into_any(),
        Shown::Open(opened) => view! { <SharedView opened/> }.into_any(),
    }
    }
}

fn opened_from_text(o: &OpenedFrom) -> String {
    match o {
        OpenedFrom::Link => "Opened from a link.".into(),
        OpenedFrom::Url(u) => format!("Opened from {u}."),
        OpenedFrom::File(f) => format!("Opened from the file {f}."),
    }
}

/// Makes the components below read `s`'s report instead of the page's
/// data (the shared view, and an embed of a snapshot).
pub fn provide_snapshot(s: &Snapshot) {
    let shared = ctx().showing(Arc::new(s.report.clone()), sharing::view_state(s));
    provide_context(shared);
    provide_context(SharedCounts(sharing::hidden_counts(s)));
}

#[component]
fn SharedView(opened: Arc<Opened>) -> impl IntoView {
    let sc = share_ctx();
    let s = &opened.snapshot;
    provide_snapshot(s);
    let r = &s.report;
    let team = r
        .window
        .team
        .clone()
        .map_or_else(|| "all teams".to_string(), |t| format!("team {t}"));
    let shown = format!(
        "{} from {} to {} (UTC), {}, as of {}.",
        plural(r.weeks.len() as u64, "week", "weeks"),
        r.window.from,
        r.window.to,
        team,
        r.window.as_of
    );
    let aggregates = s.privacy == Privacy::AggregatesOnly;
    let counts = s.counts.clone();
    view! {
        <section id="share-banner" class="share-banner" role="note" aria-label="Shared snapshot">
            <p class="share-caption" id="share-caption-shown"><strong>{s.caption()}</strong></p>
            <p>{format!(
                "A read-only snapshot: the figures were computed by the person who shared it and cannot be changed here. {shown} {}",
                opened_from_text(&opened.from)
            )}</p>
            <button id="share-close" class="btn quiet small" on:click=move |_| sc.close()>"Open Scoreboard without this snapshot"</button>
        </section>
        <div id="dashboard" class="dashboard shared">
            <Dashboard/>
            {if aggregates {
                view! { <SharedCountsView counts/> }.into_any()
            } else {
                view! { <PeopleSection/> }.into_any()
            }}
            <SharedHealth/>
            <DefinitionList/>
        </div>
    }
}

/// Aggregates only: the people lists as counts.
#[component]
fn SharedCountsView(counts: share::ListCounts) -> impl IntoView {
    let rows = [
        ("count-people", "People in the data", counts.people),
        ("count-power-users", "Power users", counts.power_users),
        (
            "count-non-starters",
            "On the roster, not started yet",
            counts.non_starters,
        ),
        (
            "count-new",
            "Started in the latest week",
            counts.new_this_week,
        ),
        (
            "count-not-on-roster",
            "In the data, not on the roster",
            counts.not_on_roster,
        ),
        (
            "count-never-seen",
            "On the roster, never seen in any source",
            counts.roster_never_seen,
        ),
    ];
    view! {
        <section class="people-block" aria-labelledby="people-title">
            <div class="section-head">
                <h2 id="people-title">"People"</h2>
                <p class="explain">"Shared as aggregates only: no row per person, each list as a count."</p>
            </div>
            <dl class="share-counts">
                {rows.into_iter().map(|(id, label, n)| view! {
                    <div><dt>{label}</dt><dd id=id data-value=n.to_string()>{int(n)}</dd></div>
                }).collect_view()}
            </dl>
        </section>
    }
}

/// Where the snapshot's figures come from (the shared part of data health).
#[component]
fn SharedHealth() -> impl IntoView {
    let Some(r) = ctx().shown_report() else {
        return ().into_any();
    };
    view! {
        <section id="health" class="panel health" aria-labelledby="health-title">
            <h2 id="health-title">"Where the figures come from"</h2>
            <table class="health-table stack">
                <thead><tr>
                    <th scope="col">"Source"</th><th scope="col">"First day"</th><th scope="col">"Last day"</th>
                    <th scope="col" class="num">"People"</th><th scope="col" class="num">"Days in gaps (no data)"</th>
                </tr></thead>
                <tbody>
                    {move || r.with(|r| r.health.sources.iter().map(|s| view! {
                        <tr>
                            <th scope="row">{s.source.as_str()}</th>
                            <td data-label="First day">{util::opt_day(s.first_day)}</td>
                            <td data-label="Last day">{util::opt_day(s.last_day)}</td>
                            <td class="num" data-label="People">{int(s.persons)}</td>
                            <td class="num" data-label="Days in gaps (no data)">{int(s.gaps.iter().map(|(a, b)| (*b - *a).num_days() as u64 + 1).sum())}</td>
                        </tr>
                    }).collect_view())}
                </tbody>
            </table>
        </section>
    }
    .into_any()
}
