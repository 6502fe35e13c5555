//! The source bar (live mode): each source the server holds or could hold,
//! how fresh it is, and its errors and warnings in words; telemetry
//! freshness and who has never sent any; the files added in this browser.
//! Shown only when `scoreboard serve` serves the page.

use leptos::prelude::*;
use scoreboard_core::telemetry::{coverage, coverage_without_usage, TelemetryCoverage};
use scoreboard_core::PersonKey;

use crate::components::connect::Connect;
use crate::components::rollout::Rollout;
use scoreboard_core::api::{self, ImportsPart, SourceState, TelemetryPart};

use crate::live;
use crate::state::ctx;
use crate::state::Live;
use crate::util::{int, plural};

/// How many names each "never reported" list shows before "and N more".
const NAMES_SHOWN: usize = 30;

/// The one-line status of the server's sources, with the details (source
/// cards, telemetry coverage, Connect Claude Code) behind a toggle. The line
/// says each source's state in words and the first warning, so a source in
/// trouble is seen without opening anything.
#[component]
pub fn SourceBar() -> impl IntoView {
    let ctx = ctx();
    let connect_open = RwSignal::new(false);
    let details = RwSignal::new(false);
    let shown = move || ctx.live.with(Option::is_some);
    view! {
        <Show when=shown>
            <section id="sources" class="status-bar" class:bad=move || ctx.live.with(|l| l.as_ref().is_some_and(in_trouble))
                aria-labelledby="sources-title">
                <div class="status-line">
                    <h2 id="sources-title" class="status-title"><span class="live-dot" aria-hidden="true"></span>"Live"</h2>
                    <StatusItems items=Signal::derive(move || live_statuses(ctx))/>
                    <span class="status-actions">
                        <button id="live-refresh" class="btn quiet small" on:click=move |_| leptos::task::spawn_local(live::refresh(ctx))>"Refresh now"</button>
                        <button id="sources-toggle" class="btn quiet small" aria-controls="sources-details"
                            aria-expanded=move || details.get().to_string() on:click=move |_| details.update(|d| *d = !*d)>
                            "Details"<span aria-hidden="true">{move || if details.get() { " ▾" } else { " ▸" }}</span>
                        </button>
                    </span>
                </div>
                <FirstWarning/>
                <RefreshError/>
                <Show when=move || details.get()>
                    <div id="sources-details" class="sources-details">
                        <Refreshed/>
                        <p class="explain">
                            "This page is served by the Scoreboard server. It shows the usage the server fetched from Anthropic and "
                            "received from Claude Code's telemetry, together with any files you add here. Where a person-day comes "
                            "from two sources, the more authoritative one counts (Admin API and Enterprise API, then CSV exports, then telemetry); "
                            "sources are never added together."
                        </p>
                        <div class="source-cards">
                            {move || ctx.live.with(|l| l.as_ref().and_then(|l| l.sources.clone()))
                                .map(|s| s.sources.into_iter()
                                    .filter(|s| s.configured || s.rows > 0)
                                    .map(|s| view! { <SyncCard s=s/> })
                                    .collect_view())}
                            <TelemetryCard connect_open/>
                            <ImportsCard/>
                            <FilesCard/>
                        </div>
                        <NotConfigured/>
                        <Rollout/>
                    </div>
                </Show>
            </section>
            <Show when=move || connect_open.get()>
                <Connect open=connect_open/>
            </Show>
        </Show>
    }
}

/// The API sources that are set up or hold rows.
fn shown_sources(l: &Live) -> Vec<&api::SourceStatus> {
    l.sources.as_ref().map_or_else(Vec::new, |s| {
        s.sources
            .iter()
            .filter(|s| s.configured || s.rows > 0)
            .collect()
    })
}

fn bad(s: &api::SourceStatus) -> bool {
    s.stale || s.state == SourceState::Failing
}

/// A source failing or stale, a warning from one, or a failed refresh.
fn in_trouble(l: &Live) -> bool {
    l.error.is_some()
        || shown_sources(l)
            .iter()
            .any(|s| bad(s) || !s.warnings.is_empty())
}

/// One source on the status line: its state in a few words, and whether it
/// needs attention (shown with ⚠ and in the text colour, never by colour alone).
#[derive(Debug, Clone, PartialEq)]
pub struct SourceStatus {
    pub text: String,
    pub attention: bool,
}

impl SourceStatus {
    fn new(text: String, attention: bool) -> SourceStatus {
        SourceStatus { text, attention }
    }
}

/// The statuses on one line (cut with "…" where it does not fit; the
/// details have everything).
#[component]
pub fn StatusItems(#[prop(into)] items: Signal<Vec<SourceStatus>>) -> impl IntoView {
    view! {
        <ul class="status-items">
            {move || items.get().into_iter().map(|s| view! {
                <li class:warn=s.attention>{s.attention.then_some("⚠ ")}{s.text}</li>
            }).collect_view()}
        </ul>
    }
}

/// The live sources' statuses: each API source, telemetry, the files added
/// here, when the rows were loaded.
fn live_statuses(c: crate::state::Ctx) -> Vec<SourceStatus> {
    let files = c.data.with(|d| {
        if d.demo.is_some() {
            Some("demo data in this browser".to_string())
        } else {
            let n = d.files.iter().filter(|f| f.error.is_none()).count() as u64;
            (n > 0).then(|| format!("{} added here", plural(n, "file", "files")))
        }
    });
    c.live.with(|l| {
        let Some(l) = l else { return Vec::new() };
        let mut out: Vec<SourceStatus> = shown_sources(l)
            .iter()
            .map(|s| {
                let warnings = match s.warnings.len() {
                    0 => String::new(),
                    n => format!(", {}", plural(n as u64, "warning", "warnings")),
                };
                SourceStatus::new(
                    format!(
                        "{}: {}{warnings}",
                        short_label(s),
                        state_label(s).to_lowercase()
                    ),
                    bad(s) || !s.warnings.is_empty(),
                )
            })
            .collect();
        let t = l.sources.as_ref().map(|s| &s.telemetry);
        out.push(match t {
            // Nothing received yet is not "0 people": telemetry covers no
            // day until its first batch (metrics.md §2).
            Some(t) if t.configured => {
                match t.status.as_ref().filter(|s| s.last_received_at.is_some()) {
                    Some(s) => SourceStatus::new(
                        format!(
                            "telemetry: {} in the last 7 days",
                            plural(s.people_last_7d.len() as u64, "person", "people")
                        ),
                        false,
                    ),
                    None => {
                        SourceStatus::new("telemetry: set up, nothing received yet".into(), false)
                    }
                }
            }
            _ => SourceStatus::new("telemetry: not set up".into(), false),
        });
        if let Some(i) = l
            .sources
            .as_ref()
            .map(|s| &s.imports)
            .filter(|i| i.configured)
        {
            out.push(imports_status(i));
        }
        out.extend(files.map(|f| SourceStatus::new(f, false)));
        if let Some(t) = l.refreshed_at {
            out.push(SourceStatus::new(
                format!("loaded {}", live::when(t)),
                false,
            ));
        }
        out
    })
}

/// The exports folder on the status line: files read, and whether any is bad.
fn imports_status(i: &ImportsPart) -> SourceStatus {
    let snap = i.snapshot.clone().unwrap_or_default();
    let bad = snap.error.is_some() || snap.files.iter().any(|f| f.error.is_some());
    let lines = snap.files.iter().any(|f| f.problems_total > 0);
    let read = snap.files.iter().filter(|f| f.error.is_none()).count() as u64;
    let mut text = format!("exports folder: {} read", plural(read, "file", "files"));
    if bad {
        text.push_str(", some could not be used");
    } else if lines {
        text.push_str(", some lines skipped");
    }
    SourceStatus::new(text, bad || lines)
}

/// "Anthropic Admin API" → "Admin API" on the line; the card has the full name.
fn short_label(s: &api::SourceStatus) -> String {
    s.label.trim_start_matches("Anthropic ").to_string()
}

/// The first warning of any source, in its words, on the status line.
#[component]
fn FirstWarning() -> impl IntoView {
    let ctx = ctx();
    let first = move || {
        ctx.live.with(|l| {
            let l = l.as_ref()?;
            shown_sources(l).into_iter().find_map(|s| {
                s.warnings
                    .first()
                    .map(|w| format!("{}: {w}", short_label(s)))
                    .or_else(|| bad(s).then(|| format!("{}: {}", short_label(s), s.status_text)))
            })
        })
    };
    move || {
        first().map(|w| {
            let title = w.clone();
            view! { <p id="sources-warning" class="status-warning" title=title>{w}</p> }
        })
    }
}

#[component]
fn Refreshed() -> impl IntoView {
    let ctx = ctx();
    let at = move || {
        ctx.live
            .with(|l| l.as_ref().and_then(|l| l.refreshed_at))
            .map_or_else(
                || "Not loaded from the server yet.".to_string(),
                |t| {
                    format!(
                        "Loaded from the server at {}; new data shows within a minute (the page checks every {} seconds), \
                         and everything is reloaded every {} minutes and when you return to this tab.",
                        live::when(t),
                        live::CHECK_EVERY_MS / 1000,
                        live::REFRESH_EVERY_MS / 60_000
                    )
                },
            )
    };
    view! {
        <p class="refreshed hint" id="live-refreshed">{at}</p>
    }
}

#[component]
fn RefreshError() -> impl IntoView {
    let ctx = ctx();
    let error = move || ctx.live.with(|l| l.as_ref().and_then(|l| l.error.clone()));
    move || {
        error().map(|e| {
            let kept = ctx.live.with(|l| {
                l.as_ref()
                    .and_then(|l| l.refreshed_at)
                    .map(|t| format!(" The figures shown are those loaded at {}.", live::when(t)))
                    .unwrap_or_default()
            });
            view! {
                <p id="live-error" class="source-warning" role="alert">
                    {format!("The latest refresh from the server failed: {e}.{kept}")}
                </p>
            }
        })
    }
}

fn state_label(s: &api::SourceStatus) -> &'static str {
    match s.state {
        SourceState::Ok => "Up to date",
        SourceState::Stale => "Stale",
        SourceState::Failing => "Failing",
        SourceState::Pending => "Waiting for the first sync",
        SourceState::NotConfigured => "Not configured",
    }
}

#[component]
fn SyncCard(s: api::SourceStatus) -> impl IntoView {
    let org = s
        .organization
        .as_ref()
        .and_then(|o| o.name.clone().or_else(|| o.id.clone()));
    let bad = s.stale || s.state == SourceState::Failing;
    let next = match (s.syncing, s.next_sync) {
        (true, _) => Some("Syncing now.".to_string()),
        (false, Some(t)) => Some(format!("Next sync at {}.", live::when(t))),
        (false, None) => None,
    };
    let last = s
        .last_success
        .map(|t| format!("Last successful sync at {}.", live::when(t)));
    let warnings = s.warnings.clone();
    view! {
        <article class="source-card" class:bad=bad data-source=s.source.as_str() data-state=s.state.as_str()>
            <header>
                <h3>{s.label.clone()}</h3>
                <span class="badge" class:bad=bad>{state_label(&s)}</span>
            </header>
            {org.map(|o| view! { <p class="source-org">"Organisation: "<strong>{o}</strong></p> })}
            {(!warnings.is_empty()).then(|| view! {
                <ul class="source-warnings" role="alert">
                    {warnings.into_iter().map(|w| view! { <li>{w}</li> }).collect_view()}
                </ul>
            })}
            <p class="source-status">{s.status_text.clone()}</p>
            <p class="hint">
                {last}" "{next}" "
                {format!("{} stored on the server.", plural(s.rows, "person-day", "person-days"))}
            </p>
        </article>
    }
}

#[component]
fn TelemetryCard(connect_open: RwSignal<bool>) -> impl IntoView {
    let ctx = ctx();
    let part = move || {
        ctx.live.with(|l| {
            l.as_ref()
                .and_then(|l| l.sources.as_ref())
                .map(|s| s.telemetry.clone())
        })
    };
    // Compared with the roster the dashboard uses (the server's, plus one dropped here).
    let cov = Memo::new(move |_| {
        let part = part()?;
        let seen: Vec<PersonKey> = part
            .status
            .as_ref()
            .map(|s| s.persons_seen.iter().map(|p| p.person.clone()).collect())
            .unwrap_or_default();
        let roster = ctx.data.with(|d| {
            ctx.live.with(|l| {
                l.as_ref()
                    .and_then(|l: &Live| crate::state::report_roster(d, l))
            })
        });
        let team = ctx.view.with(|v| v.team.clone());
        ctx.with_report(|r| coverage(roster.as_ref(), &seen, r))
            .unwrap_or_else(|| coverage_without_usage(roster.as_ref(), &seen, team.as_deref()))
    });
    view! {
        <article class="source-card" data-source="otlp">
            <header>
                <h3>"Claude Code telemetry"</h3>
                <button id="connect-open" class="btn small" on:click=move |_| connect_open.update(|o| *o = !*o)
                    aria-expanded=move || connect_open.get().to_string()>
                    "Connect Claude Code"
                </button>
            </header>
            {move || part().map(|p| telemetry_body(&p))}
            {move || cov.get().map(|c| coverage_view(&c))}
        </article>
    }
}

fn telemetry_body(p: &TelemetryPart) -> impl IntoView {
    let status = p.status.clone().unwrap_or_default();
    let counts = (p.configured && status.error.is_none()).then(|| {
        view! {
            <dl class="facts telemetry-counts">
                <div>
                    <dt>"Reported in the last 24 hours"</dt>
                    <dd id="telemetry-24h">{int(status.people_last_24h.len() as u64)}</dd>
                </div>
                <div>
                    <dt>"Reported in the last 7 days"</dt>
                    <dd id="telemetry-7d">{int(status.people_last_7d.len() as u64)}</dd>
                </div>
                <div>
                    <dt>"Ever reported"</dt>
                    <dd id="telemetry-ever">{int(status.persons_seen.len() as u64)}</dd>
                </div>
            </dl>
            <p class="hint">
                "People (or, without an e-mail, installations) whose Claude Code sent any telemetry to this server in the "
                "24 hours or 7 days before the server's clock."
            </p>
        }
    });
    view! {
        <p class="source-status" id="telemetry-status">{p.status_text.clone()}</p>
        {counts}
    }
}

fn names(list: &[PersonKey]) -> String {
    let mut out: Vec<String> = list
        .iter()
        .take(NAMES_SHOWN)
        .map(|k| k.to_string())
        .collect();
    if list.len() > NAMES_SHOWN {
        out.push(format!("and {} more", list.len() - NAMES_SHOWN));
    }
    out.join(", ")
}

fn coverage_view(c: &TelemetryCoverage) -> impl IntoView {
    let gap = (!c.silent_but_active.is_empty()).then(|| {
        view! {
            <div id="telemetry-gap" class="telemetry-list">
                <p>
                    <strong>{format!("{} never sent telemetry but use Claude Code", plural(c.silent_but_active.len() as u64, "person", "people"))}</strong>
                    " (another source shows their usage): telemetry is most likely not installed on their machines yet."
                </p>
                <p class="names">{names(&c.silent_but_active)}</p>
            </div>
        }
    });
    let quiet = (!c.silent_and_not_started.is_empty()).then(|| {
        view! {
            <div id="telemetry-silent" class="telemetry-list">
                <p>
                    <strong>{format!("{} never sent telemetry and show no usage in any source", plural(c.silent_and_not_started.len() as u64, "person", "people"))}</strong>
                    ". They may not have started with Claude Code, or may use it on a machine without telemetry: "
                    "the data cannot tell these apart. They are the non-starters of the dashboard; check the roll-out before chasing them."
                </p>
                <p class="names">{names(&c.silent_and_not_started)}</p>
            </div>
        }
    });
    view! {
        <p id="telemetry-coverage">
            {format!("{} of the {} on the roster sent telemetry at least once.", int(c.reported), plural(c.roster_size, "person", "people"))}
        </p>
        {gap}
        {quiet}
    }
}

/// The server's exports folder: its files, the rows each gave, and the
/// files and lines that could not be read, by name, line and reason. The
/// rows of these files are served with the live sources (their source is
/// the file's kind: CSV export, Admin or Enterprise API).
#[component]
fn ImportsCard() -> impl IntoView {
    let ctx = ctx();
    let part = move || {
        ctx.live.with(|l| {
            l.as_ref()
                .and_then(|l| l.sources.as_ref())
                .map(|s| s.imports.clone())
                .filter(|i| i.configured)
        })
    };
    move || {
        part().map(|i| {
            let snap = i.snapshot.clone().unwrap_or_default();
            let title = match &i.folder {
                Some(f) => format!("Exports folder “{f}”"),
                None => "Exports folder".to_string(),
            };
            let files = snap.files.into_iter().map(|f| {
                let rows = plural(f.day_rows + f.period_rows, "row", "rows");
                let more = f.problems_total.saturating_sub(f.problems.len() as u64);
                let warn = f.error.is_some() || f.problems_total > 0;
                view! {
                    <li class:warn=warn>
                        <strong>{f.name.clone()}</strong>": "
                        {match &f.error {
                            Some(e) => format!("not used: {e}"),
                            None => rows,
                        }}
                        {(!f.problems.is_empty()).then(|| view! {
                            <ul class="problems">
                                {f.problems.iter().map(|p| view! { <li>{p.to_string()}</li> }).collect_view()}
                                {(more > 0).then(|| view! { <li>{format!("and {more} more lines")}</li> })}
                            </ul>
                        })}
                    </li>
                }
            }).collect_view();
            let skipped = snap.skipped.into_iter().map(|s| view! {
                <li><strong>{s.name}</strong>": "{s.reason}</li>
            }).collect_view();
            view! {
                <article class="source-card" data-source="imports">
                    <header><h3>{title}</h3></header>
                    <p class="source-status" id="imports-status">{i.status_text.clone()}</p>
                    <ul class="imports-files">{files}{skipped}</ul>
                    <p class="hint">
                        "Usage exports and API reports saved in this folder on the server are read again when they change; "
                        "a later file replaces the same person-day of an earlier one, measure by measure."
                    </p>
                </article>
            }
        })
    }
}

#[component]
fn FilesCard() -> impl IntoView {
    let ctx = ctx();
    let text = move || {
        ctx.data.with(|d| {
            if d.demo.is_some() {
                return "The demo data is loaded in this browser; it is not mixed with the server's rows.".to_string();
            }
            let files = d.files.len() as u64;
            if files == 0 {
                return "None. “Add files” (or files dropped on the page) adds CSV exports or a roster to the server's data here; they are read in this browser and not uploaded.".to_string();
            }
            let days: u64 = d.files.iter().map(|f| f.day_rows).sum();
            format!(
                "{} read in this browser ({}). They are kept in this browser only; the server's rows are not.",
                plural(files, "file", "files"),
                plural(days, "person-day", "person-days")
            )
        })
    };
    view! {
        <article class="source-card" data-source="files">
            <header><h3>"Files added here"</h3></header>
            <p class="source-status">{text}</p>
        </article>
    }
}

#[component]
fn NotConfigured() -> impl IntoView {
    let ctx = ctx();
    let list = move || {
        ctx.live.with(|l| {
            l.as_ref()
                .and_then(|l| l.sources.as_ref())
                .map(|s| {
                    s.sources
                        .iter()
                        .filter(|s| !s.configured && s.rows == 0)
                        .map(|s| format!("{}: {}", s.label, s.status_text))
                        .collect::<Vec<_>>()
                })
                .unwrap_or_default()
        })
    };
    move || {
        let list = list();
        (!list.is_empty()).then(|| {
            view! {
                <ul class="notes not-configured">
                    {list.into_iter().map(|t| view! { <li>{t}</li> }).collect_view()}
                </ul>
            }
        })
    }
}
