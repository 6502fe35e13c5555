//! Data health: coverage and gaps per source, every file loaded with its
//! rejected rows, people not on the roster, roster members never seen.
//! Every gap is visible instead of reading as zero. The warnings are listed
//! once, under the figures (`dashboard::Notes`).

use leptos::prelude::*;
use scoreboard_core::metrics::SourceHealth;

use crate::components::dashboard::source_label;
use crate::components::load::FileReportView;
use crate::state::ctx;
use crate::util::{self, int, opt_day, plural};

/// Core lists a stretch of days without rows when it includes at least one
/// weekday (a weekend alone is no gap); the stretch itself may begin or end
/// on a weekend, so the heading does not claim every day is a weekday.
const GAPS: &str = "Days with no data (stretches including a weekday)";

fn gaps_text(s: &SourceHealth) -> String {
    if s.gaps.is_empty() {
        return "none".to_string();
    }
    let list: Vec<String> = s
        .gaps
        .iter()
        .take(6)
        .map(|(a, b)| {
            if a == b {
                a.to_string()
            } else {
                format!("{a} to {b}")
            }
        })
        .collect();
    format!(
        "{}{}",
        list.join(", "),
        if s.gaps.len() > 6 {
            format!(" and {} more", s.gaps.len() - 6)
        } else {
            String::new()
        }
    )
}

/// Below the fold: its code is a module of its own, loaded when it is first shown.
#[component]
pub fn Health() -> impl IntoView {
    lazily!(health_panel())
}

/// Fetches [`health_panel`]'s module (`super::preload_dashboard`).
#[cfg(feature = "split")]
pub async fn preload() {
    __preload_health_panel().await;
}

#[cfg_attr(feature = "split", leptos::lazy)]
fn health_panel() -> super::Build {
    std::rc::Rc::new(|| view! { <HealthPanel /> }.into_any())
}

#[component]
fn HealthPanel() -> impl IntoView {
    let ctx = ctx();
    let Some(r) = ctx.shown_report() else {
        return ().into_any();
    };
    // Files that could not be read are in the import report of their batch, not here.
    let files = move || {
        ctx.data.with(|d| {
            d.files
                .iter()
                .filter(|f| f.error.is_none())
                .cloned()
                .collect::<Vec<_>>()
        })
    };
    let rejected = move || files().iter().map(|f| f.rows_rejected).sum::<u64>();
    view! {
        <section id="health" class="panel health" aria-labelledby="health-title">
            <h2 id="health-title">"Data health"</h2>
            <p class="explain">
                "Where the numbers come from and what is missing: the days each source covers, stretches of days with no data, rows "
                "that could not be read, and people who could not be matched to the roster. A gap here means no data, not no use."
            </p>
            <h3>"Sources"</h3>
            <div class="table-wrap">
                <table class="health-sources stack">
                    <thead><tr>
                        <th scope="col">"Source"</th><th scope="col">"From (UTC)"</th><th scope="col">"To (UTC)"</th>
                        <th scope="col" class="num">"Person-days"</th><th scope="col" class="num">"Period totals"</th>
                        <th scope="col" class="num">"People"</th><th scope="col">{GAPS}</th>
                        <th scope="col" class="num">"Days another source gave"</th>
                    </tr></thead>
                    <tbody>
                        {move || r.with(|r| {
                            if r.health.sources.is_empty() {
                                return view! { <tr><td colspan="8">"No usage data loaded."</td></tr> }.into_any();
                            }
                            r.health.sources.iter().map(|s| view! {
                                <tr data-source=s.source.as_str()>
                                    <th scope="row">{source_label(s.source)}</th>
                                    <td data-label="From (UTC)">{opt_day(s.first_day)}</td>
                                    <td data-label="To (UTC)">{opt_day(s.last_day)}</td>
                                    <td class="num" data-label="Person-days">{int(s.day_rows)}</td>
                                    <td class="num" data-label="Period totals">{int(s.period_rows)}</td>
                                    <td class="num" data-label="People">{int(s.persons)}</td>
                                    <td class="gaps" data-label=GAPS>{gaps_text(s)}</td>
                                    <td class="num" data-label="Days another source gave" title="person-days where a more authoritative source's row was used instead">{int(s.superseded_person_days)}</td>
                                </tr>
                            }).collect_view().into_any()
                        })}
                    </tbody>
                </table>
            </div>
            {move || r.with(|r| (r.health.multi_source_person_days > 0).then(|| view! {
                <p class="hint">{format!(
                    "{} reported by more than one source; {} of them agree on sessions, lines and edit decisions. The most authoritative source is used (Admin API and Enterprise API, then CSV, then telemetry).",
                    plural(r.health.multi_source_person_days, "person-day was", "person-days were"),
                    int(r.health.agreeing_person_days)
                )}</p>
            }))}

            <div class="health-grid">
                <article>
                    <h3>"Not on the roster"</h3>
                    {move || r.with(|r| match r.roster_size {
                        None => view! { <p class="hint">"No roster loaded, so nobody can be matched."</p> }.into_any(),
                        Some(_) if r.health.not_on_roster.is_empty() => view! { <p class="hint">"Everyone in the data is on the roster."</p> }.into_any(),
                        Some(_) => view! {
                            <p class="hint">"In the data but not on the roster: counted as active engineers, but not in the adoption rate. Add them (or their alias) to the roster if they belong."</p>
                            <ul id="not-on-roster" class="plain">{r.health.not_on_roster.iter().map(|k| view! { <li data-person=k.to_string()>{k.to_string()}</li> }).collect_view()}</ul>
                        }.into_any(),
                    })}
                </article>
                <article>
                    <h3>"On the roster, never seen"</h3>
                    {move || r.with(|r| match r.roster_size {
                        None => view! { <p class="hint">"No roster loaded."</p> }.into_any(),
                        Some(_) if r.health.roster_never_seen.is_empty() => view! { <p class="hint">"Every roster member appears in the data."</p> }.into_any(),
                        Some(_) => view! {
                            <p class="hint">"No row in any source: they have not started, or they use an address or key the roster does not list as an alias."</p>
                            <ul id="roster-never-seen" class="plain">{r.health.roster_never_seen.iter().map(|k| view! { <li data-person=k.to_string()>{k.to_string()}</li> }).collect_view()}</ul>
                        }.into_any(),
                    })}
                </article>
            </div>

            <p class="hint">"Warnings about the data, when there are any, are listed once, under the figures (“About this data”)."</p>

            <h3>{move || format!("Files loaded ({}; {} rejected in all)", files().len(), plural(rejected(), "row", "rows"))}</h3>
            <div class="files">
                {move || files().into_iter().rev().map(|f| view! { <FileReportView report=f/> }).collect_view()}
            </div>
            <p class="hint">{move || ctx.data.with(|d| d.roster.as_ref().map(|ro| format!("Roster: {}.", util::plural(ro.len() as u64, "person", "people"))))}</p>
        </section>
    }
    .into_any()
}
