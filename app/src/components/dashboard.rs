//! The summary sentence, the KPI cards of the latest complete week, and the
//! weekly charts. Values come from core's Report; the page only formats them
//! and takes week-over-week differences of two core figures.

use chrono::Duration;
use leptos::prelude::*;
use scoreboard_core::metrics::{definition, why_undefined, Figure, Report, WeekFigures};
use scoreboard_core::parse::FileKind;
use scoreboard_core::week;

use crate::charts::{Chart, ChartData, Fmt, Mark, Series};
use crate::components::definitions::Info;
use crate::components::share::Downloads;
use crate::share::SharedCounts;
use crate::state::ctx;
use crate::util::{self, int, DASH};
use scoreboard_core::share::ListCounts;

#[component]
pub fn Dashboard() -> impl IntoView {
    let ctx = ctx();
    let report = ctx.report;
    // What an API source cannot see (e.g. the Admin API's empty answer for
    // seat users) is said next to the figures, not only in data health.
    let api_notes = move || {
        ctx.data.with(|d| {
            d.files
                .iter()
                .filter(|f| {
                    matches!(
                        f.kind,
                        Some(FileKind::AdminApiJson) | Some(FileKind::EnterpriseApiJson)
                    )
                })
                .flat_map(|f| f.warnings.iter().map(move |w| format!("{}: {w}", f.file)))
                .collect::<Vec<_>>()
        })
    };
    view! {
        <Show when=move || !api_notes().is_empty()>
            <aside id="source-notes" class="notice source-notes" role="note">
                <ul>{move || api_notes().into_iter().map(|n| view! { <li>{n}</li> }).collect_view()}</ul>
            </aside>
        </Show>
        <section class="summary-block" aria-labelledby="summary">
            <p id="summary" class="summary">{move || report.with(|r| r.summary.clone())}</p>
        </section>
        <Kpis/>
        <Charts/>
        <Downloads/>
    }
}

/// Where a card's figures come from: the reference week and the one before.
fn week_title(w: &WeekFigures) -> String {
    let sun = week::sunday_of(w.week);
    format!(
        "{} ({} – {})",
        w.label,
        util::day_month(w.week),
        util::day_month_year(sun)
    )
}

#[derive(Clone, PartialEq)]
struct Card {
    value: String,
    /// The raw figure for tests and tools (`data-value`), empty when undefined.
    raw: String,
    delta: String,
    delta_raw: String,
    direction: &'static str,
    note: String,
}

fn undefined(reason: &str) -> Card {
    Card {
        value: DASH.into(),
        raw: String::new(),
        delta: String::new(),
        delta_raw: String::new(),
        direction: "none",
        note: reason.to_string(),
    }
}

fn direction(d: f64) -> &'static str {
    if d > 1e-9 {
        "up"
    } else if d < -1e-9 {
        "down"
    } else {
        "flat"
    }
}

fn arrow(dir: &str) -> &'static str {
    match dir {
        "up" => "▲ ",
        "down" => "▼ ",
        "flat" => "= ",
        _ => "",
    }
}

fn count_delta(now: u64, before: Option<u64>, prev_label: &str) -> (String, String, &'static str) {
    match before {
        Some(b) => {
            let d = now as i64 - b as i64;
            let dir = direction(d as f64);
            (
                format!("{}{} vs {prev_label}", arrow(dir), util::signed_int(d)),
                d.to_string(),
                dir,
            )
        }
        None => (
            "no earlier week to compare with".into(),
            String::new(),
            "none",
        ),
    }
}

/// The change of a figure that can be undefined (a rate, a cost) from the
/// week before; `scale` sets what counts as no change (after rounding).
fn opt_delta(
    now: f64,
    before: Option<Option<f64>>,
    prev_label: &str,
    prev_undefined: &str,
    scale: f64,
    show: impl Fn(f64) -> String,
) -> (String, String, &'static str) {
    match before {
        Some(Some(b)) => {
            let d = now - b;
            let dir = direction((d * scale).round());
            let sign = if d < 0.0 { "−" } else { "+" };
            (
                format!("{}{sign}{} vs {prev_label}", arrow(dir), show(d.abs())),
                format!("{d:.4}"),
                dir,
            )
        }
        Some(None) => (
            format!("{prev_label} {prev_undefined}"),
            String::new(),
            "none",
        ),
        None => (
            "no earlier week to compare with".into(),
            String::new(),
            "none",
        ),
    }
}

/// `hidden`: a shared snapshot's list sizes when its lists were left out (aggregates only).
fn cards(
    r: &Report,
    hidden: Option<&ListCounts>,
) -> [(Figure, &'static str, &'static str, Card); 6] {
    let no_week = "no complete week (Monday to Sunday, UTC) in this window yet";
    let Some((k, w)) = r
        .kpis
        .as_ref()
        .and_then(|k| k.week.figures.as_ref().map(|w| (k, w)))
    else {
        return [
            (
                Figure::ActiveEngineers,
                "kpi-wae",
                "Weekly active engineers",
                undefined(no_week),
            ),
            (
                Figure::Sessions,
                "kpi-sessions",
                "Sessions",
                undefined(no_week),
            ),
            (
                Figure::LinesAccepted,
                "kpi-lines",
                "Lines accepted",
                undefined(no_week),
            ),
            (
                Figure::AcceptanceRate,
                "kpi-acceptance",
                "Tool acceptance rate",
                undefined(no_week),
            ),
            (
                Figure::CostPerActiveEngineer,
                "kpi-cost",
                "Cost per active engineer",
                undefined(no_week),
            ),
            (
                Figure::NonStarters,
                "kpi-nonstarters",
                "Not started yet",
                nonstarters(r, hidden),
            ),
        ];
    };
    let p = k.previous.as_ref().and_then(|p| p.figures.as_ref());
    let prev_label = k
        .previous
        .as_ref()
        .map_or_else(String::new, |p| util::short_week(&p.label));

    let (delta, delta_raw, dir) = count_delta(
        w.active_engineers,
        p.map(|p| p.active_engineers),
        &prev_label,
    );
    let adoption = match (
        w.adoption_rate,
        why_undefined(Figure::AdoptionRate, Some(w)),
    ) {
        (Some(a), _) => format!(
            "Adoption {}: {} of the {} people on the roster were active.",
            util::pct(a),
            int(w.active_roster_members),
            int(w.roster_size.unwrap_or(0))
        ),
        (None, Some(why)) => format!("Adoption rate: {DASH} ({why})."),
        (None, None) => format!("Adoption rate: {DASH}."),
    };
    let wae = Card {
        value: int(w.active_engineers),
        raw: w.active_engineers.to_string(),
        delta,
        delta_raw,
        direction: dir,
        note: adoption,
    };

    let (delta, delta_raw, dir) =
        count_delta(w.totals.sessions, p.map(|p| p.totals.sessions), &prev_label);
    let sessions = Card {
        value: int(w.totals.sessions),
        raw: w.totals.sessions.to_string(),
        delta,
        delta_raw,
        direction: dir,
        note: "Claude Code sessions started in the week.".into(),
    };

    let (delta, delta_raw, dir) = count_delta(
        w.totals.lines_accepted,
        p.map(|p| p.totals.lines_accepted),
        &prev_label,
    );
    let lines = Card {
        value: int(w.totals.lines_accepted),
        raw: w.totals.lines_accepted.to_string(),
        delta,
        delta_raw,
        direction: dir,
        note: format!(
            "Lines written by Claude Code and kept; {} removed.",
            int(w.totals.lines_removed)
        ),
    };

    let acceptance = match w.totals.acceptance_rate {
        Some(a) => {
            let (delta, delta_raw, dir) = opt_delta(
                a,
                p.map(|p| p.totals.acceptance_rate),
                &prev_label,
                "has no rate to compare with",
                1000.0,
                |d| format!("{:.1} pts", d * 100.0),
            );
            Card {
                value: util::pct(a),
                raw: format!("{a:.6}"),
                delta,
                delta_raw,
                direction: dir,
                note: format!(
                    "{} of {} edit suggestions accepted.",
                    int(w.totals.edits_accepted),
                    int(w.totals.edits_accepted + w.totals.edits_rejected)
                ),
            }
        }
        None => undefined(
            why_undefined(Figure::AcceptanceRate, Some(w))
                .unwrap_or("no edit decisions in this week"),
        ),
    };

    let estimate = if w.totals.cost_is_estimated {
        "An estimate at API list prices, partly from token counts × the price table; on a seat plan it is not what you pay."
    } else {
        "An estimate at API list prices; on a seat plan it is not what you pay."
    };
    let cost = match w.cost_per_active_engineer_usd {
        Some(c) => {
            let (delta, delta_raw, dir) = opt_delta(
                c,
                p.map(|p| p.cost_per_active_engineer_usd),
                &prev_label,
                "had nobody active",
                100.0,
                util::usd,
            );
            Card {
                value: util::usd(c),
                raw: format!("{c:.6}"),
                delta,
                delta_raw,
                direction: dir,
                note: format!(
                    "Total {} in the week. {estimate}",
                    util::usd(w.totals.cost_usd)
                ),
            }
        }
        None => undefined(
            why_undefined(Figure::CostPerActiveEngineer, Some(w)).unwrap_or("nobody was active"),
        ),
    };

    [
        (
            Figure::ActiveEngineers,
            "kpi-wae",
            "Weekly active engineers",
            wae,
        ),
        (Figure::Sessions, "kpi-sessions", "Sessions", sessions),
        (Figure::LinesAccepted, "kpi-lines", "Lines accepted", lines),
        (
            Figure::AcceptanceRate,
            "kpi-acceptance",
            "Tool acceptance rate",
            acceptance,
        ),
        (
            Figure::CostPerActiveEngineer,
            "kpi-cost",
            "Cost per active engineer",
            cost,
        ),
        (
            Figure::NonStarters,
            "kpi-nonstarters",
            "Not started yet",
            nonstarters(r, hidden),
        ),
    ]
}

fn nonstarters(r: &Report, hidden: Option<&ListCounts>) -> Card {
    let Some(size) = r.roster_size else {
        return undefined(
            definition(Figure::NonStarters)
                .undefined_when
                .unwrap_or("no roster is loaded"),
        );
    };
    let n = hidden.map_or(r.non_starters.len() as u64, |c| c.non_starters);
    // The change: core's, from the week before (not started by its end).
    let change = r
        .kpis
        .as_ref()
        .and_then(|k| k.cards.as_ref())
        .and_then(|c| c.not_started.change.as_ref());
    let (delta, delta_raw, dir) = match change {
        Some(c) => {
            let d = c.absolute as i64;
            let dir = direction(d as f64);
            let words = match d {
                0 => "no change vs the week before".to_string(),
                d if d < 0 => format!("{} fewer than the week before", -d),
                d => format!("{d} more than the week before"),
            };
            (format!("{}{words}", arrow(dir)), d.to_string(), dir)
        }
        None => (
            "no earlier week to compare with".into(),
            String::new(),
            "none",
        ),
    };
    Card {
        value: int(n),
        raw: n.to_string(),
        delta,
        delta_raw,
        direction: dir,
        note: format!(
            "Of {} on the roster, not active by the end of the week.",
            util::plural(size, "person", "people")
        ),
    }
}

#[component]
fn Kpis() -> impl IntoView {
    let ctx = ctx();
    let report = ctx.report;
    let hidden = use_context::<SharedCounts>().and_then(|c| c.0);
    let heading = move || {
        report.with(|r| match &r.kpis {
            Some(k) => format!(
                "Week {}{}",
                week_title(&k.week),
                k.previous
                    .as_ref()
                    .map_or_else(String::new, |p| format!(", compared with {}", p.label))
            ),
            None => "No complete week in this window yet".to_string(),
        })
    };
    view! {
        <section class="kpis-block" aria-labelledby="kpis-title">
            <div class="section-head">
                <h2 id="kpis-title">"Latest complete week"</h2>
                <p class="explain">{heading}" · UTC"</p>
            </div>
            <div class="kpis">
                {move || report.with(|r| cards(r, hidden.as_ref()).into_iter().map(|(figure, id, label, c)| view! {
                    <article class="kpi" id=id data-direction=c.direction>
                        <header>
                            <h3>{label}</h3>
                            <Info figure/>
                        </header>
                        <p class="value" data-value=c.raw.clone()>{c.value.clone()}</p>
                        <p class=format!("delta {}", c.direction) data-value=c.delta_raw.clone()>{c.delta.clone()}</p>
                        <p class="note">{c.note.clone()}</p>
                    </article>
                }).collect_view())}
            </div>
        </section>
    }
}

fn week_axis(r: &Report) -> (Vec<String>, Vec<String>, Vec<bool>) {
    let labels = r.weeks.iter().map(|w| util::short_week(&w.label)).collect();
    let titles = r
        .weeks
        .iter()
        .map(|w| {
            if w.complete {
                week_title(w)
            } else {
                let to = r.window.as_of;
                format!(
                    "{} (in progress: {} to {})",
                    w.label,
                    util::day_month(w.week),
                    util::day_month_year(to)
                )
            }
        })
        .collect();
    let partial = r.weeks.iter().map(|w| w.partial).collect();
    (labels, titles, partial)
}

fn weekly(
    r: &Report,
    name: &str,
    class: &'static str,
    mark: Mark,
    f: impl Fn(&WeekFigures) -> Option<f64>,
) -> Series {
    Series {
        name: name.to_string(),
        class,
        mark,
        values: r.weeks.iter().map(f).collect(),
    }
}

fn chart(r: &Report, series: Vec<Series>, fmt: Fmt, zero_based: bool) -> ChartData {
    let (labels, titles, partial) = week_axis(r);
    ChartData {
        labels,
        titles,
        partial,
        series,
        stacked: false,
        fmt,
        zero_based,
    }
}

fn active_chart(r: &Report) -> ChartData {
    let mut s = vec![weekly(r, "Active engineers", "s-blue", Mark::Line, |w| {
        w.figures.as_ref().map(|f| f.active_engineers as f64)
    })];
    if r.roster_size.is_some() {
        s.push(weekly(r, "Roster size", "s-grey", Mark::Reference, |w| {
            w.figures
                .as_ref()
                .and_then(|f| f.roster_size)
                .map(|n| n as f64)
        }));
    }
    chart(r, s, Fmt::Count, true)
}

fn tiers_chart(r: &Report) -> ChartData {
    let t = &r.tiers_by_week;
    let labels = t
        .iter()
        .map(|c| util::short_week(&week::iso_label(c.week)))
        .collect();
    let titles = t
        .iter()
        .map(|c| {
            format!(
                "{} (tiers from the 4 weeks to Sunday {})",
                week::iso_label(c.week),
                c.week + Duration::days(6)
            )
        })
        .collect();
    let mut series = vec![
        Series {
            name: "Power users".into(),
            class: "t-power",
            mark: Mark::Bar,
            values: t
                .iter()
                .map(|c| c.counts.as_ref().map(|k| k.power as f64))
                .collect(),
        },
        Series {
            name: "Regular".into(),
            class: "t-regular",
            mark: Mark::Bar,
            values: t
                .iter()
                .map(|c| c.counts.as_ref().map(|k| k.regular as f64))
                .collect(),
        },
        Series {
            name: "Occasional".into(),
            class: "t-occasional",
            mark: Mark::Bar,
            values: t
                .iter()
                .map(|c| c.counts.as_ref().map(|k| k.occasional as f64))
                .collect(),
        },
        Series {
            name: "Lapsed".into(),
            class: "t-lapsed",
            mark: Mark::Bar,
            values: t
                .iter()
                .map(|c| c.counts.as_ref().map(|k| k.lapsed as f64))
                .collect(),
        },
    ];
    if r.roster_size.is_some() {
        series.push(Series {
            name: "Not started yet".into(),
            class: "t-non_starter",
            mark: Mark::Bar,
            values: t
                .iter()
                .map(|c| c.counts.as_ref().map(|k| k.roster_not_started as f64))
                .collect(),
        });
    }
    ChartData {
        labels,
        titles,
        partial: vec![false; t.len()],
        series,
        stacked: true,
        fmt: Fmt::Count,
        zero_based: true,
    }
}

#[component]
fn ChartCard(
    uid: &'static str,
    title: &'static str,
    figure: Figure,
    explain: &'static str,
    data: Signal<ChartData>,
) -> impl IntoView {
    view! {
        <article class="chart-card" id=uid>
            <header>
                <h3>{title}</h3>
                <Info figure/>
            </header>
            <p class="explain">{explain}</p>
            <Chart uid label=title.to_string() data/>
        </article>
    }
}

#[component]
fn Charts() -> impl IntoView {
    let ctx = ctx();
    let r = ctx.report;
    let active = Signal::derive(move || r.with(|r| active_chart(r)));
    let single = move |name: &'static str,
                       class,
                       mark,
                       fmt,
                       zero_based,
                       f: fn(&WeekFigures) -> Option<f64>| {
        Signal::derive(move || {
            r.with(|r| chart(r, vec![weekly(r, name, class, mark, f)], fmt, zero_based))
        })
    };
    let sessions = single("Sessions", "s-teal", Mark::Bar, Fmt::Count, true, |w| {
        w.figures.as_ref().map(|f| f.totals.sessions as f64)
    });
    let lines = single(
        "Lines accepted",
        "s-purple",
        Mark::Bar,
        Fmt::Count,
        true,
        |w| w.figures.as_ref().map(|f| f.totals.lines_accepted as f64),
    );
    let acceptance = single(
        "Acceptance rate",
        "s-green",
        Mark::Line,
        Fmt::Percent,
        false,
        |w| w.figures.as_ref().and_then(|f| f.totals.acceptance_rate),
    );
    let cost = single(
        "Cost per active engineer",
        "s-orange",
        Mark::Line,
        Fmt::Usd,
        true,
        |w| {
            w.figures
                .as_ref()
                .and_then(|f| f.cost_per_active_engineer_usd)
        },
    );
    let tiers = Signal::derive(move || r.with(|r| tiers_chart(r)));
    view! {
        <section class="charts-block" aria-labelledby="charts-title">
            <div class="section-head">
                <h2 id="charts-title">"Week by week"</h2>
                <p class="explain">"Each point is one ISO week (Monday to Sunday, UTC). The current week is still in progress: it is drawn dashed and pale over a hatched band, and it is never used for the week-over-week changes."</p>
            </div>
            <div class="charts">
                <ChartCard uid="chart-active" title="Weekly active engineers" figure=Figure::ActiveEngineers
                    explain="People who used Claude Code on at least one day of the week, with the roster size for scale." data=active/>
                <ChartCard uid="chart-sessions" title="Sessions" figure=Figure::Sessions
                    explain="Claude Code sessions started per week." data=sessions/>
                <ChartCard uid="chart-lines" title="Lines accepted" figure=Figure::LinesAccepted
                    explain="Lines written by Claude Code and accepted, per week." data=lines/>
                <ChartCard uid="chart-acceptance" title="Tool acceptance rate" figure=Figure::AcceptanceRate
                    explain="Share of edit suggestions accepted. A week without any edit decision has no rate (a gap, not 0 %)." data=acceptance/>
                <ChartCard uid="chart-cost" title="Cost per active engineer" figure=Figure::CostPerActiveEngineer
                    explain="Estimated cost at API list prices divided by the week's active engineers; on a seat plan it is not what you pay." data=cost/>
                <ChartCard uid="chart-tiers" title="Engagement tiers" figure=Figure::Tiers
                    explain="How many people were power users, regulars, occasional or lapsed at the end of each complete week, judged on the four weeks up to it." data=tiers/>
            </div>
        </section>
    }
}
