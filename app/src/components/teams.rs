//! Teams side by side (issue 10): each roster team's figures for the
//! reference week, the change from the week before and a small trend line
//! of its adoption. Everything is core's `Report.team_table`; the page only
//! writes it. On a phone the table becomes a list of cards (`table.stack`).

use leptos::prelude::*;
use scoreboard_core::metrics::{Change, Direction, Figure, TeamRow, TeamWeek, Teams};

use crate::charts::{Fmt, Sparkline};
use crate::components::cards::{arrow, direction_class, meaning_class, ChangeView};
use crate::components::definitions::Info;
use crate::state::ctx;
use crate::util::{self, int, DASH};

/// A figure of a team as written ("—" when undefined) and as tools read it.
fn figure_cell(
    col: &'static str,
    label: &'static str,
    v: Option<f64>,
    fmt: Fmt,
    undefined: &'static str,
) -> impl IntoView {
    let (text, raw, title) = match v {
        Some(v) => (fmt.full(v), format!("{v:.6}"), String::new()),
        None => (DASH.to_string(), String::new(), undefined.to_string()),
    };
    view! { <td data-col=col class="num" data-label=label data-value=raw title=title>{text}</td> }
}

/// One change, written the way the cards write it ("▲ +2 (+25 %)").
fn change_line(what: &'static str, figure: Figure, c: &Change) -> impl IntoView {
    let v = ChangeView::of(figure, c, String::new());
    let class = format!(
        "team-change {} {}",
        direction_class(c.direction),
        meaning_class(c.meaning)
    );
    let arrow = match c.direction {
        Direction::Same => String::new(),
        d => format!("{} ", arrow(d)),
    };
    view! {
        <span class=class data-change=what data-value=v.raw>
            <span aria-hidden="true">{arrow}</span>{v.text}" "<span class="what">{what}</span>
        </span>
    }
}

fn team_row(row: TeamRow, compared: Option<String>) -> impl IntoView {
    let w: Option<TeamWeek> = row.week.clone();
    let active = w.as_ref().map(|w| w.active_engineers);
    let ch = row.changes;
    let changes: Vec<AnyView> = [
        ch.active_engineers
            .as_ref()
            .map(|c| change_line("active", Figure::ActiveEngineers, c).into_any()),
        ch.adoption_rate
            .as_ref()
            .map(|c| change_line("adoption", Figure::AdoptionRate, c).into_any()),
        ch.lines_per_active_engineer
            .as_ref()
            .map(|c| change_line("lines/eng.", Figure::LinesPerActiveEngineer, c).into_any()),
        ch.acceptance_rate
            .as_ref()
            .map(|c| change_line("acceptance", Figure::AcceptanceRate, c).into_any()),
        ch.cost_per_active_engineer
            .as_ref()
            .map(|c| change_line("cost/eng.", Figure::CostPerActiveEngineer, c).into_any()),
    ]
    .into_iter()
    .flatten()
    .collect();
    let no_change = changes.is_empty();
    let trend: Vec<Option<f64>> = row
        .series
        .iter()
        .map(|s| s.as_ref().and_then(|s| s.adoption_rate))
        .collect();
    let trend_label = format!(
        "{}: adoption week by week, oldest first: {}",
        row.team,
        trend
            .iter()
            .map(|v| v.map_or_else(|| DASH.to_string(), util::pct))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let field = |f: fn(&TeamWeek) -> Option<f64>| w.as_ref().and_then(f);
    view! {
        <tr data-team=row.team.clone()>
            <th scope="row" data-col="team">{row.team.clone()}</th>
            <td data-col="active" class="num" data-label="Active of roster"
                data-value=active.map_or_else(String::new, |a| a.to_string())
                data-roster=row.roster_size.to_string()>
                {active.map_or_else(|| DASH.to_string(), int)}" of "{int(row.roster_size)}
            </td>
            {figure_cell("adoption_rate", "Adoption", field(|w| w.adoption_rate), Fmt::Percent, "no figures for this week")}
            {figure_cell("lines_per_active_engineer", "Lines / active engineer", field(|w| w.lines_per_active_engineer), Fmt::Decimal, "nobody in the team was active")}
            {figure_cell("acceptance_rate", "Acceptance", field(|w| w.acceptance_rate), Fmt::Percent, "no edit decisions in this week")}
            {figure_cell("cost_per_active_engineer_usd", "Cost / active engineer", field(|w| w.cost_per_active_engineer_usd), Fmt::Usd, "nobody in the team was active")}
            <td data-col="change" data-label=compared.clone().unwrap_or_else(|| "Change".to_string())>
                {if no_change {
                    view! { <span class="muted">{DASH}" no week to compare with"</span> }.into_any()
                } else {
                    view! { <span class="team-changes">{changes}</span> }.into_any()
                }}
            </td>
            <td data-col="trend" data-label="Adoption, week by week">
                {(trend.iter().flatten().count() >= 2).then(|| view! { <Sparkline values=trend label=trend_label/> })}
            </td>
        </tr>
    }
}

/// The team table, below the weekly charts; shown when the roster has teams.
/// Below the fold: its code is a module of its own, loaded when it is first shown.
#[component]
pub fn TeamTable() -> impl IntoView {
    lazily!(team_panel())
}

/// Fetches [`team_panel`]'s module (`super::preload_dashboard`).
#[cfg(feature = "split")]
pub async fn preload() {
    __preload_team_panel().await;
}

#[cfg_attr(feature = "split", leptos::lazy)]
fn team_panel() -> super::Build {
    std::rc::Rc::new(|| view! { <TeamPanel /> }.into_any())
}

#[component]
fn TeamPanel() -> impl IntoView {
    let Some(report) = ctx().shown_report() else {
        return ().into_any();
    };
    let table = move || report.with(|r| r.team_table.clone());
    let head = move || {
        report.with(|r| {
            let t: &Teams = &r.team_table;
            match (t.week, r.kpis.as_ref().and_then(|k| k.previous.as_ref())) {
                (Some(w), Some(p)) => format!(
                    "Week of {}, compared with the week of {}.",
                    util::day_month_year(w),
                    util::day_month(p.week)
                ),
                (Some(w), None) => format!("Week of {}.", util::day_month_year(w)),
                (None, _) => "No complete, fully covered week in this window yet.".to_string(),
            }
        })
    };
    view! {
        <Show when=move || report.with(|r| !r.team_table.rows.is_empty())>
            <section id="teams" class="table-card teams-block" aria-labelledby="teams-title">
                <div class="section-head">
                    <h2 id="teams-title">"Teams side by side"</h2>
                    <p class="explain">{head}" Every team of the roster, whatever the team filter; the trend line is its adoption week by week (a gap where no data covers the week)."</p>
                </div>
                <div class="table-wrap">
                    <table id="team-table" class="teams stack">
                        <thead>
                            <tr>
                                <th scope="col">"Team"</th>
                                <th scope="col" class="num">"Active of roster"<Info figure=Figure::ActiveEngineers/></th>
                                <th scope="col" class="num">"Adoption"<Info figure=Figure::AdoptionRate/></th>
                                <th scope="col" class="num">"Lines / active engineer"<Info figure=Figure::LinesPerActiveEngineer/></th>
                                <th scope="col" class="num">"Acceptance"<Info figure=Figure::AcceptanceRate/></th>
                                <th scope="col" class="num">"Cost / active engineer"<Info figure=Figure::CostPerActiveEngineer/></th>
                                <th scope="col">"Change vs week before"</th>
                                <th scope="col">"Adoption trend"</th>
                            </tr>
                        </thead>
                        <tbody>
                            {move || {
                                let compared = report.with(|r| r.kpis.as_ref().and_then(|k| k.previous.as_ref())
                                    .map(|p| format!("Change vs week of {}", util::day_month(p.week))));
                                table().rows.into_iter().map(|row| team_row(row, compared.clone())).collect_view()
                            }}
                        </tbody>
                    </table>
                </div>
                <TeamFootnotes teams=Signal::derive(table)/>
            </section>
        </Show>
    }
    .into_any()
}

/// Who the table leaves out, so nobody is dropped silently.
#[component]
fn TeamFootnotes(teams: Signal<Teams>) -> impl IntoView {
    let notes = move || {
        let t = teams.get();
        let mut out = Vec::new();
        if t.not_on_roster_active > 0 {
            out.push(format!(
                "{} active in the week but not on the roster (in no team).",
                util::plural(t.not_on_roster_active, "person", "people")
            ));
        }
        if t.roster_without_team > 0 {
            out.push(format!(
                "{} on the roster without a team.",
                util::plural(t.roster_without_team, "person", "people")
            ));
        }
        if t.hidden_small_teams > 0 {
            out.push(format!(
                "{} too small to show in a shared snapshot with names hidden.",
                util::plural(t.hidden_small_teams, "team", "teams")
            ));
        }
        out
    };
    view! {
        <ul class="team-notes explain">
            {move || notes().into_iter().map(|n| view! { <li>{n}</li> }).collect_view()}
        </ul>
    }
}
