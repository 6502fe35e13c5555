//! Embeddable views (issue 15): the answer, or one weekly chart, for
//! another site's frame (an internal platform's tab), and nothing else: no
//! header, panels, filters, drop zone or footer.
//!
//! - `?embed=summary`: the summary sentence, the staleness headline when
//!   there is one, and the six cards of the reference week with changes;
//! - `?embed=trend&figure=<name>`: one chart of the page, by the stable
//!   names of [`CHARTS`] (`active-engineers`, `adoption`, `sessions`,
//!   `lines-accepted`, `lines-per-engineer`, `acceptance`,
//!   `cost-per-engineer`, `tiers`).
//!
//! `weeks=N` (or the page's own `window=`/`from=`/`to=`), `team=` and
//! `as_of=` choose the view. The data is what the page shows at the same
//! address (`app::load`): the server's rows in live mode, a snapshot
//! (`#s=…`, `?snapshot=…`), what this browser kept. Every figure is core's,
//! drawn by the page's own components (`AnswerLead`, `Kpis`, `Chart`). A small
//! link "Scoreboard · as of <day>" opens the full dashboard in a new tab.
//!
//! Whether another site may frame the page at all is the server's choice:
//! `frame_ancestors` (server/src/guard.rs).

use leptos::prelude::*;
use scoreboard_core::metrics::{definition, Report};

use crate::charts::Chart;
use crate::components::dashboard::{chart_named, AnswerLead, Kpis, CHARTS};
use crate::components::definitions::Info;
use crate::components::load::nothing_loaded;
use crate::components::shared_page::provide_snapshot;
use crate::shared_view::{self as sharing, share_ctx, Shown};
use crate::state::{ctx, ViewState, WindowChoice};
use crate::util;

/// The longest window an embed shows (as `scoreboard report --weeks`).
const MAX_WEEKS: u32 = 260;

/// What `?embed=` asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EmbedKind {
    Summary,
    /// `figure=` as given (checked when drawn, so a wrong name is explained).
    Trend(String),
    /// Anything else, as given.
    Unknown(String),
}

impl EmbedKind {
    fn class(&self) -> &'static str {
        match self {
            EmbedKind::Summary => "embed embed-summary",
            EmbedKind::Trend(_) => "embed embed-trend",
            EmbedKind::Unknown(_) => "embed",
        }
    }
}

/// The embed the URL asks for, if any.
pub fn requested() -> Option<EmbedKind> {
    let kind = util::url_param("embed")?;
    Some(match kind.trim() {
        "summary" => EmbedKind::Summary,
        "trend" => EmbedKind::Trend(util::url_param("figure").unwrap_or_default()),
        other => EmbedKind::Unknown(other.to_string()),
    })
}

/// The view from the URL: the page's live-link form (`window=`, `from=`,
/// `to=`, `team=`) or `weeks=N` and `team=`, as `/api/report` takes them.
/// A `weeks` that is not a number of weeks is said, not guessed.
pub fn view_from_params() -> (ViewState, Option<String>) {
    if let Some(v) = sharing::view_from_url() {
        return (v, None);
    }
    let mut note = None;
    let weeks = match util::url_param("weeks") {
        None => 8,
        Some(w) => match w.trim().parse::<u32>() {
            Ok(n) if (1..=MAX_WEEKS).contains(&n) => n,
            _ => {
                note = Some(format!(
                    "weeks={w} is not a number of weeks from 1 to {MAX_WEEKS}: showing the last 8."
                ));
                8
            }
        },
    };
    let view = ViewState {
        window: WindowChoice::Last { weeks },
        from: None,
        to: None,
        team: util::url_param("team").filter(|t| !t.trim().is_empty()),
    };
    (view, note)
}

/// The whole page when `?embed=` is given. `App` makes the page's state
/// with the view of [`view_from_params`] (`note` says what in it was not
/// understood) and loads the data; `ready` turns true once loaded.
/// Only for `?embed=`: a module of its own, loaded at once in that case.
#[component]
pub fn Embed(kind: EmbedKind, note: Option<String>, ready: RwSignal<bool>) -> impl IntoView {
    lazily!(embed_page(kind, note, ready))
}

#[cfg_attr(feature = "split", leptos::lazy)]
fn embed_page(kind: EmbedKind, note: Option<String>, ready: RwSignal<bool>) -> super::Build {
    std::rc::Rc::new(move || {
        let (kind, note) = (kind.clone(), note.clone());
        view! { <EmbedPage kind note ready/> }.into_any()
    })
}

#[component]
fn EmbedPage(kind: EmbedKind, note: Option<String>, ready: RwSignal<bool>) -> impl IntoView {
    let sc = share_ctx();
    let class = kind.class();
    let body = kind.clone();
    view! {
        <main class=class>
            {note.map(|n| view! { <p class="embed-note" role="status">{n}</p> })}
            {move || match sc.shown.get() {
                Shown::Own => view! { <Own kind=body.clone() ready/> }.into_any(),
                Shown::Loading(_) => view! { <p class="embed-message">"Opening the shared snapshot…"</p> }.into_any(),
                Shown::Failed(message) => view! {
                    <p class="embed-message error" id="embed-error" role="alert">{message}</p>
                }.into_any(),
                Shown::Open(opened) => {
                    let kind = body.clone();
                    view! { <OfSnapshot kind snapshot=opened.snapshot.clone()/> }.into_any()
                }
            }}
        </main>
    }
}

/// A shared snapshot's report in the embed.
#[component]
fn OfSnapshot(kind: EmbedKind, snapshot: scoreboard_core::share::Snapshot) -> impl IntoView {
    provide_snapshot(&snapshot);
    view! { <Content kind snapshot=true/> }
}

/// What an embed of the page's own data is showing.
#[derive(Debug, Clone, PartialEq)]
enum Phase {
    Figures,
    Failed(String),
    NotComputed(String),
    Loading,
    Empty,
}

/// The page's own data (live rows, what this browser kept): the content
/// once there is something to show, else what is happening. A memo, so a
/// live refresh redraws the figures in place instead of the whole embed.
#[component]
fn Own(kind: EmbedKind, ready: RwSignal<bool>) -> impl IntoView {
    let c = ctx();
    let phase = Memo::new(move |_| {
        let loaded = !nothing_loaded(c);
        if loaded && c.report.with(Option::is_some) {
            Phase::Figures
        } else if let Some(e) = c.live.with(|l| l.as_ref().and_then(|l| l.error.clone())) {
            Phase::Failed(e)
        } else if !ready.get() || c.progress.with(Option::is_some) || !c.report_ready.get() {
            Phase::Loading
        } else if let Some(why) = c.notice.get().filter(|_| loaded) {
            // Data, but its first report could not be had: the page's notice says why.
            Phase::NotComputed(why)
        } else if loaded {
            // Rows just arrived and their report is not asked for yet.
            Phase::Loading
        } else {
            Phase::Empty
        }
    });
    move || match phase.get() {
        Phase::Figures => {
            let kind = kind.clone();
            view! { <Content kind snapshot=false/> }.into_any()
        }
        Phase::Failed(e) => view! {
            <p class="embed-message error" id="embed-error" role="alert">
                {format!("The server's data could not be loaded: {e}.")}
            </p>
        }
        .into_any(),
        Phase::NotComputed(why) => view! {
            <p class="embed-message error" id="embed-error" role="alert">
                {format!("The figures could not be computed. {why}")}
            </p>
        }
        .into_any(),
        Phase::Loading => view! { <p class="embed-message">"Loading…"</p> }.into_any(),
        Phase::Empty => view! {
            <p class="embed-message" id="embed-empty">
                "No data yet: nothing has reached this Scoreboard (no source has rows). "
                "Figures appear here once telemetry, a sync or an export brings some."
            </p>
        }
        .into_any(),
    }
}

#[component]
fn Content(kind: EmbedKind, snapshot: bool) -> impl IntoView {
    let body = match kind {
        EmbedKind::Summary => view! { <Summary/> }.into_any(),
        EmbedKind::Trend(name) => view! { <Trend name/> }.into_any(),
        EmbedKind::Unknown(other) => view! {
            <p class="embed-message error" id="embed-error" role="alert">
                {format!(
                    "embed={other} is not a view this page has: use embed=summary (the sentence and the cards) \
                     or embed=trend&figure=<name> (one chart)."
                )}
            </p>
        }
        .into_any(),
    };
    view! {
        {body}
        <Foot snapshot/>
    }
}

/// The sentence, the staleness headline, the cards: core's, as on the page.
#[component]
fn Summary() -> impl IntoView {
    view! {
        <section class="answer" aria-labelledby="summary">
            <AnswerLead/>
            <Kpis/>
        </section>
    }
}

/// One chart of the page, by its public name.
#[component]
fn Trend(name: String) -> impl IntoView {
    let Some(spec) = chart_named(name.trim()) else {
        let names: Vec<&str> = CHARTS.iter().map(|c| c.name).collect();
        let said = if name.trim().is_empty() {
            "No figure was named".to_string()
        } else {
            format!("There is no chart called “{name}”")
        };
        return view! {
            <p class="embed-message error" id="embed-error" role="alert">
                {format!("{said}: use figure= with one of {}.", names.join(", "))}
            </p>
        }
        .into_any();
    };
    let Some(r) = ctx().shown_report() else {
        return ().into_any();
    };
    let data = Signal::derive(move || r.with(|r| (spec.data)(r)));
    let has_roster = move || r.with(|r| r.roster_size.is_some());
    let figure = spec.figure;
    view! {
        <article class="embed-chart" id=spec.uid data-figure=spec.name>
            <header>
                <h1>{spec.title}</h1>
                <Info figure/>
            </header>
            <Show when=move || !spec.needs_roster || has_roster()
                fallback=move || view! {
                    <p class="embed-message" id="embed-undefined">{format!(
                        "{} cannot be drawn: {}.",
                        spec.title,
                        definition(figure).undefined_when.unwrap_or("no roster is loaded")
                    )}</p>
                }>
                <Chart uid=spec.uid label=spec.title.to_string() data embedded=true/>
            </Show>
        </article>
    }
    .into_any()
}

/// "Scoreboard · as of 22 Nov 2026": the full dashboard, in a new tab.
#[component]
fn Foot(snapshot: bool) -> impl IntoView {
    let c = ctx();
    let text = move || {
        c.with_report(|r| {
            let team = r
                .window
                .team
                .as_ref()
                .map_or_else(String::new, |t| format!(" · {t}"));
            format!(
                "Scoreboard{team} · as of {}",
                util::day_month_year(r.window.as_of)
            )
        })
    };
    let href = move || c.with_report(|r| c.view.with(|v| full_link(snapshot, v, r)));
    view! {
        <footer class="embed-foot">
            <a id="embed-link" href=href target="_blank" rel="noopener"
                title="Open the full dashboard in a new tab">{text}</a>
        </footer>
    }
}

/// The full page showing what the embed shows: the same snapshot, or the
/// same weeks, team and as-of day over the same server.
fn full_link(snapshot: bool, v: &ViewState, r: &Report) -> String {
    if snapshot {
        let href = web_sys::window()
            .and_then(|w| w.location().href().ok())
            .unwrap_or_default();
        return match web_sys::Url::new(&href) {
            Ok(url) => {
                for p in ["embed", "figure", "weeks"] {
                    url.search_params().delete(p);
                }
                url.href()
            }
            Err(_) => href,
        };
    }
    // The page's window choices are 4, 8, 12, 26, 52 weeks; any other
    // number of weeks is the same weeks as dates.
    let listed = |w: u32| WindowChoice::from_key(&w.to_string()).is_some();
    let view = match v.window {
        WindowChoice::Last { weeks } if !listed(weeks) => ViewState {
            window: WindowChoice::Custom,
            from: Some(r.window.from),
            to: Some(r.window.to),
            team: v.team.clone(),
        },
        _ => v.clone(),
    };
    sharing::live_link(&view)
}
