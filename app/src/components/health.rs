//! Data health: coverage and gaps per source, every file loaded with its
//! rejected rows, people not on the roster, roster members never seen, and
//! core's warnings. Every gap is visible instead of reading as zero.

use leptos::prelude::*;
use scoreboard_core::metrics::SourceHealth;
use scoreboard_core::Source;

use crate::components::load::FileReportView;
use crate::state::ctx;
use crate::util::{self, int, opt_day, plural};

fn source_label(s: Source) -> &'static str {
    match s {
        Source::Csv => "CSV exports",
        Source::AdminApi => "Admin API",
        Source::EnterpriseApi => "Enterprise Analytics API",
        Source::Otlp => "Telemetry (OpenTelemetry)",
    }
}

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

#[component]
pub fn Health() -> impl IntoView {
    let ctx = ctx();
    let r = ctx.report;
    let files = move || ctx.data.with(|d| d.files.clone());
    let rejected = move || files().iter().map(|f| f.rows_rejected).sum::<u64>();
    view! {
        <section id="health" class="panel health" aria-labelledby="health-title">
            <h2 id="health-title">"Data health"</h2>
            <p class="explain">
                "Where the numbers come from and what is missing: the days each source covers, weekdays with no data, rows "
                "that could not be read, and people who could not be matched to the roster. A gap here means no data, not no use."
            </p>
            <h3>"Sources"</h3>
            <div class="table-wrap">
                <table class="health-sources">
                    <thead><tr>
                        <th scope="col">"Source"</th><th scope="col">"From (UTC)"</th><th scope="col">"To (UTC)"</th>
                        <th scope="col" class="num">"Person-days"</th><th scope="col" class="num">"Period totals"</th>
                        <th scope="col" class="num">"People"</th><th scope="col">"Weekdays with no data"</th>
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
                                    <td>{opt_day(s.first_day)}</td>
                                    <td>{opt_day(s.last_day)}</td>
                                    <td class="num">{int(s.day_rows)}</td>
                                    <td class="num">{int(s.period_rows)}</td>
                                    <td class="num">{int(s.persons)}</td>
                                    <td class="gaps">{gaps_text(s)}</td>
                                    <td class="num" title="person-days where a more authoritative source's row was used instead">{int(s.superseded_person_days)}</td>
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

            <h3>"Warnings"</h3>
            {move || {
                // Core's warnings about the data as a whole, then each file's.
                let mut all: Vec<String> = r.with(|r| r.warnings.clone());
                for f in files() {
                    all.extend(f.warnings.iter().map(|w| format!("{}: {w}", f.file)));
                }
                if all.is_empty() {
                    view! { <p class="hint">"None."</p> }.into_any()
                } else {
                    view! { <ul id="health-warnings" class="warnings">{all.into_iter().map(|w| view! { <li>{w}</li> }).collect_view()}</ul> }.into_any()
                }
            }}

            <h3>{move || format!("Files loaded ({}; {} rejected in all)", files().len(), plural(rejected(), "row", "rows"))}</h3>
            <div class="files">
                {move || files().into_iter().rev().map(|f| view! { <FileReportView report=f/> }).collect_view()}
            </div>
            <p class="hint">{move || ctx.data.with(|d| d.roster.as_ref().map(|ro| format!("Roster: {}.", util::plural(ro.len() as u64, "person", "people"))))}</p>
        </section>
    }
}
