//! The answer (the summary sentence, where the data comes from, the six
//! cards of the reference week), the notes about the data, and the weekly
//! charts. Values and week-over-week changes come from core's Report; the
//! page only formats them.

use chrono::NaiveDate;
use leptos::prelude::*;
use scoreboard_core::metrics::{
    definition, Card, Figure, Figures, Report, Unit, WeekCoverage, WeekFigures,
};
use scoreboard_core::parse::FileKind;
use scoreboard_core::share::ListCounts;
use scoreboard_core::{week, Source};

use crate::charts::{AxisWeek, Chart, ChartData, Fmt, Mark, Series};
use crate::components::cards::{CardChange, CardView, ChangeView, KpiCard, Sub};
use crate::components::definitions::Info;
use crate::components::downloads::Downloads;
use crate::components::load::{FilesPanel, FilesToggle};
use crate::components::teams::TeamTable;
use crate::components::{frame, Later};
use crate::shared_view::SharedCounts;
use crate::state::ctx;
use crate::util::{self, int, DASH};

/// How many weeks a card's trend line shows.
const TREND_WEEKS: usize = 8;

#[component]
pub fn Dashboard() -> impl IntoView {
    view! {
        <Answer/>
        <Later step=frame::NOTES><Notes/></Later>
        <Later step=frame::CHARTS><Charts/></Later>
        <Later step=frame::TEAMS><TeamTable/></Later>
        <Later step=frame::DOWNLOADS><Downloads/></Later>
    }
}

/// The sentence in large type and, when the data is old, the staleness
/// headline beside it: the page's answer and the summary embed's alike.
#[component]
pub fn AnswerLead() -> impl IntoView {
    let c = ctx();
    view! {
        <div class="answer-lead">
            <p id="summary" class="summary">{move || c.with_report(|r| r.summary.clone())}</p>
            <Stale/>
        </div>
    }
}

/// The first screen: the sentence in large type, where the data comes from,
/// the cards.
#[component]
fn Answer() -> impl IntoView {
    view! {
        <section class="answer" aria-labelledby="summary">
            <AnswerLead/>
            <AnswerMeta/>
            <FilesPanel/>
            <ApiNotes above=true/>
            <Kpis/>
        </section>
    }
}

/// When the newest data is older than the latest complete week, or a
/// server source stopped: core's headline ("newest data: 18 Nov, 14 days
/// ago") in large type next to the sentence, what to do, and each stopped
/// source by name.
#[component]
fn Stale() -> impl IntoView {
    let c = ctx();
    let staleness = move || c.with_report(|r| r.staleness.clone()).flatten();
    move || {
        staleness().map(|s| {
            view! {
                <aside id="staleness" class="staleness" role="status"
                    data-days-ago=s.days_ago.to_string() data-newest=s.newest_covered_day.to_string()>
                    <p class="stale-headline">{s.headline}</p>
                    <p class="stale-suggestion">{s.suggestion}</p>
                    {(!s.stopped_sources.is_empty()).then(|| view! {
                        <ul class="stale-sources">
                            {s.stopped_sources.into_iter().map(|x| view! {
                                <li data-source=format!("{:?}", x.source) data-failing=x.failing.to_string()>{x.text}</li>
                            }).collect_view()}
                        </ul>
                    })}
                </aside>
            }
        })
    }
}

pub fn source_label(s: Source) -> &'static str {
    match s {
        Source::Csv => "CSV exports",
        Source::AdminApi => "Admin API",
        Source::EnterpriseApi => "Enterprise Analytics API",
        Source::Otlp => "Telemetry (OpenTelemetry)",
    }
}

/// One line under the sentence: how fresh the data is, where it comes
/// from, the files loaded (the import report behind it), the definitions.
#[component]
fn AnswerMeta() -> impl IntoView {
    let c = ctx();
    let newest = move || {
        c.with_report(|r| {
            r.health
                .sources
                .iter()
                .filter_map(|s| s.last_day)
                .max()
                .map(|d| (d, r.window.as_of))
        })
        .flatten()
    };
    let sources = move || {
        c.with_report(|r| {
            r.health
                .sources
                .iter()
                .map(|s| source_label(s.source))
                .collect::<Vec<_>>()
                .join(" + ")
        })
        .unwrap_or_default()
    };
    view! {
        <p class="answer-meta">
            {move || newest().map(|(d, as_of)| view! {
                <span id="newest-data" data-value=d.to_string() title=newest_title(d, as_of)>
                    "Newest data: "<strong>{util::day_month_year(d)}</strong>
                </span>
            })}
            <Show when=move || !sources().is_empty()>
                <span class="meta-sources">{sources}</span>
            </Show>
            <FilesToggle/>
            <a href="#definitions" class="meta-defs">"How each figure is counted"</a>
        </p>
    }
}

fn newest_title(d: NaiveDate, as_of: NaiveDate) -> String {
    let days = (as_of - d).num_days();
    format!(
        "The latest day any loaded source has a row for (UTC): {}, as of {}.",
        match days {
            0 => "the as-of day itself".to_string(),
            1 => "1 day before".to_string(),
            n if n > 1 => format!("{n} days before"),
            n => format!("{} days after", -n),
        },
        util::day_month_year(as_of)
    )
}

/// What an API source cannot see (e.g. the Admin API's empty answer for
/// seat users), per file. Said next to the figures (`above`) only while no
/// other source fills that gap; otherwise in the notes below the figures.
fn api_notes(c: crate::state::Ctx) -> Vec<String> {
    c.data.with(|d| {
        d.files
            .iter()
            .filter(|f| {
                f.error.is_none()
                    && matches!(
                        f.kind,
                        Some(FileKind::AdminApiJson) | Some(FileKind::EnterpriseApiJson)
                    )
            })
            .flat_map(|f| f.warnings.iter().map(move |w| format!("{}: {w}", f.file)))
            .collect()
    })
}

/// True when a CSV export or telemetry gives rows too, so the API's blind
/// spot is covered by the data loaded.
fn api_gap_covered(r: &Report) -> bool {
    r.health
        .sources
        .iter()
        .any(|s| matches!(s.source, Source::Csv | Source::Otlp) && s.day_rows + s.period_rows > 0)
}

#[component]
fn ApiNotes(above: bool) -> impl IntoView {
    let c = ctx();
    let shown = move || {
        above && !api_notes(c).is_empty() && !c.with_report(api_gap_covered).unwrap_or(false)
    };
    view! {
        <Show when=shown>
            <aside id="source-notes" class="notice source-notes" role="note">
                <ul>{move || api_notes(c).into_iter().map(|n| view! { <li>{n}</li> }).collect_view()}</ul>
            </aside>
        </Show>
    }
}

/// Every warning about the data, once, in a compact list below the figures:
/// core's, then each loaded file's (API notes too, when other data covers them).
#[component]
fn Notes() -> impl IntoView {
    let c = ctx();
    let notes = move || {
        let mut all: Vec<String> = c.with_report(|r| r.warnings.clone()).unwrap_or_default();
        let covered = c.with_report(api_gap_covered).unwrap_or(false);
        let api = api_notes(c);
        c.data.with(|d| {
            for f in d.files.iter().filter(|f| f.error.is_none()) {
                for w in &f.warnings {
                    let line = format!("{}: {w}", f.file);
                    if covered || !api.contains(&line) {
                        all.push(line);
                    }
                }
            }
        });
        let mut seen = std::collections::HashSet::new();
        all.retain(|w| seen.insert(w.clone()));
        all
    };
    view! {
        <Show when=move || !notes().is_empty()>
            <section id="warnings" class="notes-block" aria-labelledby="warnings-title">
                <h2 id="warnings-title">"About this data"</h2>
                <ul id="health-warnings" class="warnings">
                    {move || notes().into_iter().map(|w| view! { <li>{w}</li> }).collect_view()}
                </ul>
            </section>
        </Show>
    }
}

/// A week as a range of days: "9 Nov – 15 Nov 2026".
fn week_range(monday: NaiveDate) -> String {
    let sun = week::sunday_of(monday);
    format!(
        "{} – {}",
        util::day_month(monday),
        util::day_month_year(sun)
    )
}

/// The value of `figure` in one week's figures (for the cards' trend lines).
fn value_of(figure: Figure, x: &Figures) -> Option<f64> {
    match figure {
        Figure::ActiveEngineers => Some(x.active_engineers as f64),
        Figure::AdoptionRate => x.adoption_rate,
        Figure::Sessions => Some(x.totals.sessions as f64),
        Figure::SessionsPerActiveEngineer => x.sessions_per_active_engineer,
        Figure::LinesAccepted => Some(x.totals.lines_accepted as f64),
        Figure::LinesPerActiveEngineer => x.lines_per_active_engineer,
        Figure::AcceptanceRate => x.totals.acceptance_rate,
        Figure::Cost => Some(x.totals.cost_usd),
        Figure::CostPerActiveEngineer => x.cost_per_active_engineer_usd,
        Figure::NonStarters | Figure::Tiers => None,
    }
}

/// How a figure of `unit` is written on the page.
fn fmt_of(unit: Unit) -> Fmt {
    match unit {
        Unit::Count => Fmt::Count,
        Unit::Rate => Fmt::Percent,
        Unit::PerEngineer => Fmt::Decimal,
        Unit::Usd => Fmt::Usd,
    }
}

/// A figure as tools read it (`data-value`): whole counts, six decimals otherwise.
fn raw_of(figure: Figure, v: f64) -> String {
    match figure.unit() {
        Unit::Count => (v.round() as i64).to_string(),
        _ => format!("{v:.6}"),
    }
}

/// The last complete weeks' values of `figure`, oldest first; a complete
/// week no source covers has no figures: a gap in the trend.
fn trend(r: &Report, figure: Figure) -> Vec<Option<f64>> {
    let complete: Vec<&WeekFigures> = r.weeks.iter().filter(|x| x.complete).collect();
    let from = complete.len().saturating_sub(TREND_WEEKS);
    complete[from..]
        .iter()
        .map(|x| x.figures.as_ref().and_then(|f| value_of(figure, f)))
        .collect()
}

/// How each card is named on the page.
const CARD_LABELS: [(&str, &str, Figure); 5] = [
    (
        "kpi-wae",
        "Weekly active engineers",
        Figure::ActiveEngineers,
    ),
    ("kpi-sessions", "Sessions", Figure::Sessions),
    ("kpi-lines", "Lines accepted", Figure::LinesAccepted),
    (
        "kpi-acceptance",
        "Tool acceptance rate",
        Figure::AcceptanceRate,
    ),
    (
        "kpi-cost",
        "Cost per active engineer",
        Figure::CostPerActiveEngineer,
    ),
];

/// The cards of the reference week, drawn from core's `Cards` (values,
/// changes and reasons are core's). `hidden`: a shared snapshot's list
/// sizes when its lists were left out (aggregates only).
fn cards(r: &Report, hidden: Option<&ListCounts>) -> Vec<CardView> {
    let no_week = "no complete, fully covered week (Monday to Sunday, UTC) in this window yet";
    let Some((c, w)) = r
        .kpis
        .as_ref()
        .and_then(|k| Some((k.cards.as_ref()?, k.week.figures.as_ref()?)))
    else {
        let mut all: Vec<CardView> = CARD_LABELS
            .iter()
            .map(|&(id, label, figure)| CardView::undefined(id, label, figure, no_week))
            .collect();
        all.push(nonstarters(r, None, hidden));
        return all;
    };
    let against = c.compared_with.map_or_else(String::new, |p| {
        format!("vs week of {}", util::day_month(p))
    });
    let change = |card: &Card| -> CardChange {
        match (&card.change, c.compared_with) {
            (Some(ch), _) => CardChange::Shown(ChangeView::of(card.figure, ch, against.clone())),
            (None, Some(p)) => CardChange::Missing(format!(
                "the week of {} has no {} to compare with",
                util::day_month(p),
                definition(card.figure).label.to_lowercase()
            )),
            (None, None) => CardChange::Missing(
                c.why_no_comparison
                    .clone()
                    .unwrap_or_else(|| "no earlier week to compare with".to_string()),
            ),
        }
    };
    let view = |i: usize, card: &Card, note: String| -> CardView {
        let (id, label, figure) = CARD_LABELS[i];
        match card.value {
            Some(v) => {
                let fmt = fmt_of(figure.unit());
                let values = trend(r, figure);
                CardView {
                    id,
                    label,
                    figure,
                    value: fmt.full(v),
                    raw: raw_of(figure, v),
                    sub: None,
                    change: change(card),
                    note,
                    trend_label: trend_words(&values, fmt),
                    trend: values,
                }
            }
            None => CardView::undefined(
                id,
                label,
                figure,
                card.why_undefined
                    .as_deref()
                    .unwrap_or("cannot be computed"),
            ),
        }
    };
    // "12.5 per active engineer" under sessions and lines.
    let per_engineer = |id: &'static str, card: &Card| Sub {
        text: match (card.value, card.why_undefined.as_deref()) {
            (Some(v), _) => format!("{} per active engineer", Fmt::Decimal.full(v)),
            (None, Some(why)) => format!("{DASH} per active engineer: {why}"),
            (None, None) => format!("{DASH} per active engineer"),
        },
        figure: card.figure,
        id,
        raw: card
            .value
            .map_or_else(String::new, |v| raw_of(card.figure, v)),
    };

    let mut wae = view(
        0,
        &c.active_engineers,
        "People who used Claude Code on at least one day of the week.".into(),
    );
    let a = &c.adoption_rate;
    wae.sub = Some(Sub {
        text: match (a.value, a.why_undefined.as_deref()) {
            (Some(v), _) => format!(
                "adoption {} · {} of {} on the roster",
                util::pct(v),
                int(w.active_roster_members),
                int(w.roster_size.unwrap_or(0))
            ),
            (None, Some(why)) => format!("adoption {DASH}: {why}"),
            (None, None) => format!("adoption {DASH}"),
        },
        figure: Figure::AdoptionRate,
        id: "kpi-adoption",
        raw: a
            .value
            .map_or_else(String::new, |v| raw_of(Figure::AdoptionRate, v)),
    });
    let mut sessions = view(
        1,
        &c.sessions,
        "Claude Code sessions started in the week.".into(),
    );
    sessions.sub = Some(per_engineer(
        "kpi-sessions-per-engineer",
        &c.sessions_per_active_engineer,
    ));
    let mut lines = view(
        2,
        &c.lines_accepted,
        format!(
            "Lines written by Claude Code and kept; {} removed.",
            int(w.totals.lines_removed)
        ),
    );
    lines.sub = Some(per_engineer(
        "kpi-lines-per-engineer",
        &c.lines_per_active_engineer,
    ));
    let acceptance = view(
        3,
        &c.acceptance_rate,
        format!(
            "{} of {} edit suggestions accepted.",
            int(w.totals.edits_accepted),
            int(w.totals.edits_accepted + w.totals.edits_rejected)
        ),
    );
    let estimate = if w.totals.cost_is_estimated {
        "partly from token counts × the price table; an estimate at API list prices, not what a seat plan pays"
    } else {
        "an estimate at API list prices, not what a seat plan pays"
    };
    let cost = view(
        4,
        &c.cost_per_active_engineer,
        format!("{} in all; {estimate}.", util::usd(w.totals.cost_usd)),
    );
    let not_started = nonstarters(r, Some(change(&c.not_started)), hidden);
    vec![wae, sessions, lines, acceptance, cost, not_started]
}

/// "Last 8 complete weeks: 22, 24, —, 25".
fn trend_words(values: &[Option<f64>], fmt: Fmt) -> String {
    let list: Vec<String> = values
        .iter()
        .map(|v| v.map_or_else(|| DASH.to_string(), |v| fmt.full(v)))
        .collect();
    format!(
        "Last {} complete weeks, oldest first: {}",
        values.len(),
        list.join(", ")
    )
}

/// "Not started yet": core's count and change (a shared snapshot without
/// lists gives its count instead).
fn nonstarters(r: &Report, change: Option<CardChange>, hidden: Option<&ListCounts>) -> CardView {
    let (id, label, figure) = ("kpi-nonstarters", "Not started yet", Figure::NonStarters);
    let Some(size) = r.roster_size else {
        return CardView::undefined(
            id,
            label,
            figure,
            definition(Figure::NonStarters)
                .undefined_when
                .unwrap_or("no roster is loaded"),
        );
    };
    let n = hidden.map_or(r.non_starters.len() as u64, |c| c.non_starters);
    let change = change
        .unwrap_or_else(|| CardChange::Missing("no earlier week to compare with".to_string()));
    // A week whose tiers cannot be computed is a gap in the trend.
    let t = &r.tiers_by_week;
    let from = t.len().saturating_sub(TREND_WEEKS);
    let values: Vec<Option<f64>> = t[from..]
        .iter()
        .map(|c| c.counts.as_ref().map(|c| c.roster_not_started as f64))
        .collect();
    CardView {
        id,
        label,
        figure,
        value: int(n),
        raw: n.to_string(),
        sub: None,
        change,
        note: format!(
            "Of {} on the roster, no Claude Code activity by the end of the week of {}.",
            util::plural(size, "person", "people"),
            r.window
                .tier_week
                .map_or_else(|| "the reference week".to_string(), util::day_month)
        ),
        trend_label: trend_words(&values, Fmt::Count),
        trend: values,
    }
}

#[component]
pub fn Kpis() -> impl IntoView {
    let c = ctx();
    let hidden = use_context::<SharedCounts>().and_then(|c| c.0);
    let heading = move || {
        c.with_report(|r| match &r.kpis {
            Some(k) => format!("Week of {}", util::day_month_year(k.week.week)),
            None => "No complete week in this window yet".to_string(),
        })
    };
    let explain = move || {
        c.with_report(|r| {
            r.kpis.as_ref().map(|k| {
                format!(
                    "Monday to Sunday, {} (UTC){}",
                    k.week.label,
                    k.previous.as_ref().map_or_else(String::new, |p| format!(
                        ", compared with the week of {}",
                        util::day_month(p.week)
                    ))
                )
            })
        })
        .flatten()
    };
    view! {
        <section class="kpis-block" aria-labelledby="kpis-title">
            <div class="kpis-head">
                <h2 id="kpis-title">{heading}</h2>
                <p class="explain">{explain}</p>
            </div>
            <div class="kpis">
                {move || c.with_report(|r| cards(r, hidden.as_ref()).into_iter()
                    .map(|card| view! { <KpiCard card/> })
                    .collect_view())}
            </div>
        </section>
    }
}

// ---- the weekly charts ----------------------------------------------------------

/// The axis every chart shares: the report's weeks, dated by their Monday,
/// the current week marked partial.
fn week_axis(r: &Report) -> Vec<AxisWeek> {
    r.weeks
        .iter()
        .map(|w| {
            let label = util::day_month(w.week);
            if !w.complete {
                AxisWeek {
                    label,
                    title: format!(
                        "{} · {} to {} (partial: the week is still in progress)",
                        w.label,
                        util::day_month(w.week),
                        util::day_month_year(r.window.as_of)
                    ),
                    partial: Some("partial"),
                }
            } else if w.figures.is_none() {
                AxisWeek {
                    label,
                    title: format!(
                        "{} · {} (no loaded source covers this week: no figures, not 0)",
                        w.label,
                        week_range(w.week)
                    ),
                    partial: None,
                }
            } else if let WeekCoverage::Partial { days, .. } = &w.coverage {
                AxisWeek {
                    label,
                    title: format!(
                        "{} · {} (partial: the loaded data covers {days} of its 7 days)",
                        w.label,
                        week_range(w.week)
                    ),
                    partial: Some("partial"),
                }
            } else {
                AxisWeek {
                    label,
                    title: format!("{} · {}", w.label, week_range(w.week)),
                    partial: None,
                }
            }
        })
        .collect()
}

fn weekly(
    r: &Report,
    name: &str,
    class: &'static str,
    mark: Mark,
    gap: &'static str,
    f: impl Fn(&Figures) -> Option<f64>,
) -> Series {
    Series {
        name: name.to_string(),
        class,
        mark,
        // A week no source covers has no figures: a gap, never 0.
        values: r
            .weeks
            .iter()
            .map(|w| w.figures.as_ref().and_then(&f))
            .collect(),
        gap,
    }
}

fn chart(r: &Report, series: Vec<Series>, fmt: Fmt) -> ChartData {
    ChartData {
        weeks: week_axis(r),
        series,
        stacked: false,
        fmt,
    }
}

fn active_chart(r: &Report) -> ChartData {
    let mut s = vec![weekly(
        r,
        "Active engineers",
        "s-accent",
        Mark::Line,
        "no data",
        |w| Some(w.active_engineers as f64),
    )];
    if r.roster_size.is_some() {
        s.push(weekly(
            r,
            "Roster size",
            "s-grey",
            Mark::Reference,
            "no roster",
            |w| w.roster_size.map(|n| n as f64),
        ));
    }
    chart(r, s, Fmt::Count)
}

/// The tiers on the same weeks as the other charts: a week without tier
/// counts (the partial week: tiers are judged on complete weeks) is a gap.
fn tiers_chart(r: &Report) -> ChartData {
    let at = |w: &WeekFigures| {
        r.tiers_by_week
            .iter()
            .find(|c| c.week == w.week)
            .and_then(|c| c.counts.as_ref())
    };
    let tier = |name: &str, class, f: fn(&scoreboard_core::metrics::TierCounts) -> u64| Series {
        name: name.to_string(),
        class,
        mark: Mark::Bar,
        values: r.weeks.iter().map(|w| at(w).map(|c| f(c) as f64)).collect(),
        // Tiers are judged at the end of a complete week.
        gap: "not yet",
    };
    let mut series = vec![
        tier("Power users", "t-power", |c| c.power),
        tier("Regular", "t-regular", |c| c.regular),
        tier("Occasional", "t-occasional", |c| c.occasional),
        tier("Lapsed", "t-lapsed", |c| c.lapsed),
    ];
    if r.roster_size.is_some() {
        series.push(tier("Not started yet", "t-non_starter", |c| {
            c.roster_not_started
        }));
    }
    let mut weeks = week_axis(r);
    for (wk, w) in weeks.iter_mut().zip(&r.weeks) {
        if w.complete {
            wk.title = format!(
                "{} (tiers from the 4 weeks to Sunday {})",
                wk.title,
                util::day_month_year(week::sunday_of(w.week))
            );
        }
    }
    ChartData {
        weeks,
        series,
        stacked: true,
        fmt: Fmt::Count,
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

fn single(
    r: &Report,
    name: &str,
    mark: Mark,
    fmt: Fmt,
    gap: &'static str,
    f: fn(&Figures) -> Option<f64>,
) -> ChartData {
    chart(r, vec![weekly(r, name, "s-accent", mark, gap, f)], fmt)
}

fn adoption_chart(r: &Report) -> ChartData {
    single(
        r,
        "Adoption rate",
        Mark::Line,
        Fmt::Percent,
        "no figures",
        |w| w.adoption_rate,
    )
}

fn sessions_chart(r: &Report) -> ChartData {
    single(r, "Sessions", Mark::Bar, Fmt::Count, "no data", |w| {
        Some(w.totals.sessions as f64)
    })
}

fn lines_chart(r: &Report) -> ChartData {
    single(r, "Lines accepted", Mark::Bar, Fmt::Count, "no data", |w| {
        Some(w.totals.lines_accepted as f64)
    })
}

fn lines_per_chart(r: &Report) -> ChartData {
    single(
        r,
        "Lines per active engineer",
        Mark::Line,
        Fmt::Decimal,
        "nobody active",
        |w| w.lines_per_active_engineer,
    )
}

fn acceptance_chart(r: &Report) -> ChartData {
    single(
        r,
        "Acceptance rate",
        Mark::Line,
        Fmt::Percent,
        "no edit decisions",
        |w| w.totals.acceptance_rate,
    )
}

fn cost_chart(r: &Report) -> ChartData {
    single(
        r,
        "Cost per active engineer",
        Mark::Line,
        Fmt::Usd,
        "nobody active",
        |w| w.cost_per_active_engineer_usd,
    )
}

/// One of the page's weekly charts. `name` is its stable public name: an
/// embed asks for it (`?embed=trend&figure=<name>`), so names are never
/// changed (README, "Beside your other metrics").
pub struct ChartSpec {
    pub name: &'static str,
    pub uid: &'static str,
    pub title: &'static str,
    pub figure: Figure,
    pub explain: &'static str,
    /// Drawn only with a roster (without one the figure is undefined every week).
    pub needs_roster: bool,
    pub data: fn(&Report) -> ChartData,
}

/// Every weekly chart, in the page's order.
pub const CHARTS: [ChartSpec; 8] = [
    ChartSpec {
        name: "active-engineers",
        uid: "chart-active",
        title: "Weekly active engineers",
        figure: Figure::ActiveEngineers,
        explain: "People who used Claude Code on at least one day of the week, with the roster size for scale.",
        needs_roster: false,
        data: active_chart,
    },
    ChartSpec {
        name: "adoption",
        uid: "chart-adoption",
        title: "Adoption rate",
        figure: Figure::AdoptionRate,
        explain: "Active roster members divided by the roster size, per week.",
        needs_roster: true,
        data: adoption_chart,
    },
    ChartSpec {
        name: "sessions",
        uid: "chart-sessions",
        title: "Sessions",
        figure: Figure::Sessions,
        explain: "Claude Code sessions started per week.",
        needs_roster: false,
        data: sessions_chart,
    },
    ChartSpec {
        name: "lines-accepted",
        uid: "chart-lines",
        title: "Lines accepted",
        figure: Figure::LinesAccepted,
        explain: "Lines written by Claude Code and accepted, per week.",
        needs_roster: false,
        data: lines_chart,
    },
    ChartSpec {
        name: "lines-per-engineer",
        uid: "chart-lines-per-engineer",
        title: "Lines accepted per active engineer",
        figure: Figure::LinesPerActiveEngineer,
        explain: "Lines accepted divided by the week's active engineers: more value per person, not just more people.",
        needs_roster: false,
        data: lines_per_chart,
    },
    ChartSpec {
        name: "acceptance",
        uid: "chart-acceptance",
        title: "Tool acceptance rate",
        figure: Figure::AcceptanceRate,
        explain: "Share of edit suggestions accepted. A week without any edit decision has no rate (a gap, not 0 %).",
        needs_roster: false,
        data: acceptance_chart,
    },
    ChartSpec {
        name: "cost-per-engineer",
        uid: "chart-cost",
        title: "Cost per active engineer",
        figure: Figure::CostPerActiveEngineer,
        explain: "Estimated cost at API list prices divided by the week's active engineers; on a seat plan it is not what you pay.",
        needs_roster: false,
        data: cost_chart,
    },
    ChartSpec {
        name: "tiers",
        uid: "chart-tiers",
        title: "Engagement tiers",
        figure: Figure::Tiers,
        explain: "How many people were power users, regulars, occasional or lapsed at the end of each complete week, judged on the four weeks up to it.",
        needs_roster: false,
        data: tiers_chart,
    },
];

/// The chart called `name`, if there is one.
pub fn chart_named(name: &str) -> Option<&'static ChartSpec> {
    CHARTS.iter().find(|c| c.name == name)
}

/// The first screen's type, its cards and a chart, laid out unseen while
/// the user picks files (`Ctx::fonts_wanted`, until a dashboard shows). Each size, weight and style of the system font is loaded
/// the first time text uses it, in a synchronous round trip to the
/// browser's process: 18 of them made the first screen's layout 22-29 ms
/// at 100 k rows. And a wasm function is compiled the first time it runs:
/// the cards here are the real ones (`KpiCard`, with its definition and its
/// trend line), and so is the chart (`ChartPrimer`), so their code is
/// compiled before the first report comes (the first chart's first frame
/// was 50-78 ms at 100 k rows, 18 ms of it compiling).
/// The rest follows the first screen's classes (`filters.rs`,
/// `dashboard.rs`'s answer), so style.css picks the same fonts; out of
/// date, it only primes less. Never seen, never read: its figures are
/// not data, and `aria-hidden` keeps them from assistive technology.
#[component]
pub fn Primer() -> impl IntoView {
    use scoreboard_core::metrics::{Direction, Meaning};
    // Ids of their own: never two elements with one id on the page.
    let card = |(id, sub_id), change| CardView {
        id,
        label: "Active engineers",
        figure: Figure::ActiveEngineers,
        value: "12".into(),
        raw: "12".into(),
        sub: Some(Sub {
            text: "30 % of the roster".into(),
            figure: Figure::AdoptionRate,
            id: sub_id,
            raw: "0.3".into(),
        }),
        change,
        note: "Any activity in the week".into(),
        trend: vec![Some(3.0), None, Some(9.0), Some(12.0)],
        trend_label: "trend".into(),
    };
    let shown = CardChange::Shown(ChangeView {
        direction: Direction::Up,
        meaning: Meaning::Good,
        text: "+3 (+27 %)".into(),
        raw: "3".into(),
        against: "vs 9".into(),
    });
    view! {
        <div class="font-primer" aria-hidden="true">
            <section class="filters">
                <div class="filter"><label>"Weeks"</label><select><option>"Last 8 weeks"</option></select></div>
                <p class="window-shown">"8 weeks"</p>
            </section>
            <div class="answer-lead"><p class="summary">"12 of 40 engineers used Claude Code"</p></div>
            <p class="answer-meta"><span>"Newest data: "<strong>"30 Nov 2026"</strong></span><span class="meta-sources">"CSV"</span></p>
            <div class="kpis-head"><h2>"This week"</h2><p class="explain">"Week of 23 Nov"</p></div>
            <div class="kpis">
                <KpiCard card=card(("primer-card-1", "primer-sub-1"), shown)/>
                <KpiCard card=card(("primer-card-2", "primer-sub-2"), CardChange::Missing("No earlier week".into()))/>
            </div>
            <ChartPrimer/>
        </div>
    }
}

/// A chart of made-up weeks for [`Primer`], never seen. Its code is the
/// charts section's module's (shared with it), so the first visit does not
/// carry it.
#[component]
fn ChartPrimer() -> impl IntoView {
    lazily!(chart_primer())
}

#[cfg_attr(feature = "split", leptos::lazy)]
fn chart_primer() -> super::Build {
    std::rc::Rc::new(|| {
        let weeks = (0..TREND_WEEKS)
            .map(|i| AxisWeek {
                label: format!("{} Nov", i + 1),
                title: format!("week {i}"),
                partial: (i + 1 == TREND_WEEKS).then_some("partial"),
            })
            .collect();
        let values: Vec<Option<f64>> = (0..TREND_WEEKS)
            .map(|i| (i != 2).then_some(i as f64 * 3.0))
            .collect();
        let series = |name: &str, class, mark| Series {
            name: name.into(),
            class,
            mark,
            values: values.clone(),
            gap: "no data",
        };
        let data = ChartData {
            weeks,
            series: vec![
                series("bars", "s-accent", Mark::Bar),
                series("line", "s-grey", Mark::Line),
            ],
            stacked: false,
            fmt: Fmt::Count,
        };
        view! {
            <ChartCard uid="primer-chart" title="Weekly active engineers"
                figure=Figure::ActiveEngineers explain="" data=Signal::stored(data)/>
        }
        .into_any()
    })
}

/// Below the fold: its code is a module of its own, loaded when it is first shown.
#[component]
fn Charts() -> impl IntoView {
    lazily!(charts_panel())
}

/// Fetches [`charts_panel`]'s module (`super::preload_dashboard`).
#[cfg(feature = "split")]
pub async fn preload() {
    __preload_charts_panel().await;
}

#[cfg_attr(feature = "split", leptos::lazy)]
fn charts_panel() -> super::Build {
    std::rc::Rc::new(|| view! { <ChartsPanel /> }.into_any())
}

#[component]
fn ChartsPanel() -> impl IntoView {
    let Some(r) = ctx().shown_report() else {
        return ().into_any();
    };
    let has_roster = move || r.with(|r| r.roster_size.is_some());
    view! {
        <section class="charts-block" aria-labelledby="charts-title">
            <div class="section-head">
                <h2 id="charts-title">"Week by week"</h2>
                <p class="explain">"Each point is one ISO week (Monday to Sunday, UTC), dated by its Monday; every axis starts at 0. A partial week (still in progress) is drawn dashed and pale over a hatched band and is never used for the week-over-week changes; a week without a figure is a gap, not 0."</p>
            </div>
            // One chart a frame (`Later`), the first one too: built together
            // they made one long task, and the first with the section's head
            // (the charts' code running for the first time) took 41-46 ms.
            <div class="charts">
                {CHARTS.iter().enumerate().map(|(i, c)| {
                    let data = Signal::derive(move || r.with(|r| (c.data)(r)));
                    let card = move || view! {
                        <ChartCard uid=c.uid title=c.title figure=c.figure explain=c.explain data/>
                    };
                    let card = move || if c.needs_roster {
                        view! { <Show when=has_roster>{card()}</Show> }.into_any()
                    } else {
                        card().into_any()
                    };
                    view! { <Later step={i as u8 + 1}>{card()}</Later> }.into_any()
                }).collect_view()}
            </div>
        </section>
    }
    .into_any()
}
