//! What the user must know about the data behind the figures (metrics.md
//! §6): coverage per source, disagreement between sources, the warnings,
//! and how stale the figures are (§2).

use chrono::{Duration, NaiveDate};
use serde::{Deserialize, Serialize};

use super::fold::week_monday;
use super::text::short_day;
use super::window::{latest_fully_covered, Span};
use crate::coverage::{DayRange, SourceCoverage};
use crate::model::{PersonKey, Source};
use crate::week;

/// Rows of one source (§6: every gap is visible).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceHealth {
    pub source: Source,
    pub first_day: Option<NaiveDate>,
    pub last_day: Option<NaiveDate>,
    pub day_rows: u64,
    pub period_rows: u64,
    pub persons: u64,
    /// Weekday ranges inside [first_day, last_day] with no row at all (weekend-only gaps are not listed).
    pub gaps: Vec<(NaiveDate, NaiveDate)>,
    /// Person-days of this source that lost to a more authoritative source.
    pub superseded_person_days: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DataHealth {
    pub sources: Vec<SourceHealth>,
    /// Person-days reported by more than one source.
    pub multi_source_person_days: u64,
    /// Of those, how many agree on sessions, lines and edit decisions.
    pub agreeing_person_days: u64,
    /// Persons in the data who are not on the roster (empty without a roster).
    pub not_on_roster: Vec<PersonKey>,
    /// Roster members with no row in any source.
    pub roster_never_seen: Vec<PersonKey>,
    /// Person-days whose cost was estimated from tokens × the price table.
    pub estimated_cost_person_days: u64,
}

/// A server source that stopped reporting, named next to stale figures.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoppedSource {
    pub source: Source,
    /// The day it last synced successfully or last received a batch.
    pub last_ok: Option<NaiveDate>,
    /// Days from `last_ok` to the as-of date.
    pub days_silent: Option<i64>,
    /// True when its latest sync attempt failed.
    pub failing: bool,
    /// In words: "telemetry silent for 9 days (last batch 23 Nov)".
    pub text: String,
}

/// Said next to the sentence when the reference week is older than the
/// latest complete calendar week (§2): the figures are not this week's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Staleness {
    /// The newest day any loaded source covers, at or before the as-of date.
    pub newest_covered_day: NaiveDate,
    /// The as-of date − the newest covered day.
    pub days_ago: i64,
    /// The latest complete calendar week as of the as-of date (its Monday).
    pub latest_complete_week: NaiveDate,
    /// The latest complete week the loaded data fully covers, if any.
    pub covered_week: Option<NaiveDate>,
    /// Server sources that stopped reporting.
    pub stopped_sources: Vec<StoppedSource>,
    /// "newest data: 18 Nov, 14 days ago".
    pub headline: String,
    /// What to do: export the weeks since, or check a stopped source by name.
    pub suggestion: String,
}

/// A telemetry batch or a sync older than this many days means the source stopped.
const SILENT_DAYS: i64 = 2;

/// Server sources whose freshness says they stopped.
pub(crate) fn stopped_sources(coverage: &[SourceCoverage], as_of: NaiveDate) -> Vec<StoppedSource> {
    let mut out = Vec::new();
    for c in coverage {
        let Some(f) = c.freshness else { continue };
        let days = f.last_ok.map(|d| (as_of - d).num_days());
        let silent = days.is_none_or(|n| n >= SILENT_DAYS);
        let last = f.last_ok.map(short_day);
        let text = match (c.source, f.failing, last) {
            (Source::Otlp, _, Some(last)) if silent => format!(
                "telemetry silent for {} days (last batch received {last})",
                days.unwrap_or_default()
            ),
            (Source::Otlp, _, None) => "telemetry: nothing received yet".to_string(),
            (s, true, Some(last)) => format!(
                "the {} sync failing since its last success on {last}",
                label(s)
            ),
            (s, true, None) => format!("the {} sync failing, never successful", label(s)),
            (s, false, Some(last)) if silent && s != Source::Otlp => {
                format!("the {} last synced on {last}", label(s))
            }
            _ => continue,
        };
        out.push(StoppedSource {
            source: c.source,
            last_ok: f.last_ok,
            days_silent: days,
            failing: f.failing,
            text,
        });
    }
    out
}

fn label(s: Source) -> &'static str {
    match s {
        Source::AdminApi => "Admin API",
        Source::EnterpriseApi => "Enterprise Analytics API",
        Source::Csv => "CSV export",
        Source::Otlp => "telemetry",
    }
}

/// The staleness statement, when the latest complete calendar week is not
/// fully covered; `None` when it is, or when nothing is covered at all.
pub(crate) fn staleness(
    covered: &[DayRange],
    coverage: &[SourceCoverage],
    span: &Span,
    as_of: NaiveDate,
) -> Option<Staleness> {
    let covered_week = latest_fully_covered(covered, span.latest_complete);
    if covered_week == Some(span.latest_complete) {
        return None;
    }
    let newest = DayRange::clip(covered, NaiveDate::MIN, as_of)
        .last()
        .map(|r| r.to)?;
    let days_ago = (as_of - newest).num_days();
    let latest_sunday = week::sunday_of(week_monday(span.latest_complete));
    let headline = if newest >= latest_sunday {
        format!(
            "the week of {} is only partly covered by the loaded data",
            short_day(week_monday(span.latest_complete))
        )
    } else {
        format!(
            "newest data: {}, {}",
            short_day(newest),
            match days_ago {
                0 => "today".to_string(),
                1 => "1 day ago".to_string(),
                n => format!("{n} days ago"),
            }
        )
    };
    let stopped = stopped_sources(coverage, as_of);
    let suggestion = suggestion(coverage, &stopped, newest, as_of);
    Some(Staleness {
        newest_covered_day: newest,
        days_ago,
        latest_complete_week: week_monday(span.latest_complete),
        covered_week: covered_week.map(week_monday),
        stopped_sources: stopped,
        headline,
        suggestion,
    })
}

fn suggestion(
    coverage: &[SourceCoverage],
    stopped: &[StoppedSource],
    newest: NaiveDate,
    as_of: NaiveDate,
) -> String {
    let mut parts = Vec::new();
    let files = coverage.iter().any(|c| c.freshness.is_none());
    if files || stopped.is_empty() {
        let since = newest + Duration::days(1);
        let until = as_of - Duration::days(1);
        let days = if since >= until {
            short_day(since)
        } else {
            format!("{} to {}", short_day(since), short_day(until))
        };
        parts.push(format!(
            "export the weeks since ({days}) from claude.ai (Analytics › Claude Code) and load the file"
        ));
    }
    if !stopped.is_empty() {
        let names: Vec<&str> = stopped.iter().map(|s| s.text.as_str()).collect();
        parts.push(format!("check {}", names.join("; ")));
    }
    parts.join(", or ")
}

/// The warnings of a report, in the order the page lists them.
pub(crate) struct WarningInput<'a> {
    pub health: &'a DataHealth,
    pub roster_conflicts: Option<&'a [String]>,
    pub table_empty: bool,
    pub staleness: Option<&'a Staleness>,
    pub first_data_day: Option<NaiveDate>,
    pub window_from: NaiveDate,
    pub team_without_roster: bool,
}

pub(crate) fn warnings(w: WarningInput<'_>, out: &mut Vec<String>) {
    match w.roster_conflicts {
        Some(conflicts) => out.extend(conflicts.iter().cloned()),
        None => out.push(
            "No roster loaded: adoption rate and the list of people who have not started need one. Add a roster (a CSV of e-mails, or a list of e-mails).".into(),
        ),
    }
    if w.table_empty {
        out.push("No usage data loaded yet.".into());
    } else if let Some(s) = w.staleness {
        let figures = match s.covered_week {
            Some(week) => format!(
                "the figures are for the week of {}, the latest complete week the loaded data covers",
                short_day(week)
            ),
            None => "no complete week is covered by the loaded data".to_string(),
        };
        out.push(format!(
            "{}{}: {figures}; weeks after it have no figures (no data is not zero). To update: {}.",
            capitalised(&s.headline),
            if s.headline.starts_with("newest") {
                " (UTC)"
            } else {
                ""
            },
            s.suggestion
        ));
    }
    if let Some(first) = w
        .first_data_day
        .filter(|f| *f > w.window_from && !w.table_empty)
    {
        out.push(format!(
            "The data starts on {first} (UTC), after the window's start ({}): earlier weeks of the window have no data.",
            w.window_from
        ));
    }
    if w.health.estimated_cost_person_days > 0 {
        out.push(format!(
            "Cost of {} person-days was estimated from token counts × the price table, because the source gave no cost.",
            w.health.estimated_cost_person_days
        ));
    }
    for s in w.health.sources.iter().filter(|s| !s.gaps.is_empty()) {
        let list: Vec<String> = s
            .gaps
            .iter()
            .take(5)
            .map(|(a, b)| {
                if a == b {
                    a.to_string()
                } else {
                    format!("{a}..{b}")
                }
            })
            .collect();
        out.push(format!(
            "{} has no rows on {} weekday gap(s) inside its range: {}{}",
            s.source,
            s.gaps.len(),
            list.join(", "),
            if s.gaps.len() > 5 { ", …" } else { "" }
        ));
    }
    if w.team_without_roster {
        out.push(
            "A team filter needs a roster with a team column; without one, nobody is in the team."
                .into(),
        );
    }
}

fn capitalised(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

/// The union of every source's covered days.
pub(crate) fn covered_days(coverage: &[SourceCoverage]) -> Vec<DayRange> {
    DayRange::normalize(
        coverage
            .iter()
            .flat_map(|c| c.ranges.iter().copied())
            .collect(),
    )
}
