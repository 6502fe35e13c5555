//! Which weeks a report covers, which of them have data (metrics.md §2,
//! coverage) and which week is the reference week.

use chrono::{Duration, NaiveDate};
use serde::{Deserialize, Serialize};

use super::fold::{week_index, week_monday};
use crate::coverage::DayRange;
use crate::week;

/// Which weeks the report covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum WindowSpec {
    /// The last `n` complete weeks, plus the current partial week.
    LastWeeks { weeks: u32 },
    /// From the first week with data to the current week.
    All,
    /// The ISO weeks containing `from` … `to` (capped at the current week).
    Custom { from: NaiveDate, to: NaiveDate },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportOptions {
    /// Today (UTC). The week containing it is partial.
    pub as_of: NaiveDate,
    pub window: WindowSpec,
    /// Only people of this roster team (people not on the roster have no team).
    pub team: Option<String>,
}

impl ReportOptions {
    pub fn last_weeks(as_of: NaiveDate, weeks: u32) -> ReportOptions {
        ReportOptions {
            as_of,
            window: WindowSpec::LastWeeks { weeks },
            team: None,
        }
    }
}

/// The longest window a report covers (ten years of weeks).
pub const MAX_WINDOW_WEEKS: u32 = 530;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Window {
    /// First day of the window (a Monday).
    pub from: NaiveDate,
    /// Last day of the window: a Sunday, or `as_of` when the current week is included.
    pub to: NaiveDate,
    /// The reference week (its Monday): the latest complete, fully covered
    /// week of the window. The cards, the sentence and every change use it;
    /// `None` when the window has no such week.
    pub reference_week: Option<NaiveDate>,
    /// The week tiers and "not started yet" are judged at: the reference
    /// week; without one, the latest complete, fully covered week before the
    /// window's end; without that, the window's latest complete week.
    #[serde(default)]
    pub tier_week: Option<NaiveDate>,
    pub as_of: NaiveDate,
    pub team: Option<String>,
    /// Complete weeks in the window ("last 8 weeks" = 8 complete weeks).
    #[serde(default)]
    pub complete_weeks: u32,
    /// The current, partial week when the window includes it (its Monday).
    #[serde(default)]
    pub current_week: Option<NaiveDate>,
}

/// How much of a week the loaded sources cover (metrics.md §2).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum WeekCoverage {
    /// All seven days are covered.
    #[default]
    Full,
    /// Some days are covered: the week's figures are drawn and labelled partial.
    Partial {
        /// How many of the seven days.
        days: u8,
        /// The covered days.
        covered: Vec<DayRange>,
    },
    /// No day is covered: the week has no figures (a gap, never 0).
    Uncovered,
}

impl WeekCoverage {
    pub(crate) fn of(covered: &[DayRange], monday: NaiveDate) -> WeekCoverage {
        let sunday = week::sunday_of(monday);
        match DayRange::covered_days(covered, monday, sunday) {
            0 => WeekCoverage::Uncovered,
            7.. => WeekCoverage::Full,
            n => WeekCoverage::Partial {
                days: n as u8,
                covered: DayRange::clip(covered, monday, sunday),
            },
        }
    }

    pub fn is_full(&self) -> bool {
        matches!(self, WeekCoverage::Full)
    }
}

/// The window as week indexes, resolved from the options and the coverage.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Span {
    pub first: i32,
    pub last: i32,
    pub current: i32,
    pub latest_complete: i32,
    pub reference: Option<i32>,
    pub tier: i32,
}

impl Span {
    pub fn weeks(&self) -> std::ops::RangeInclusive<i32> {
        self.first..=self.last
    }
    pub fn is_complete(&self, w: i32) -> bool {
        w <= self.latest_complete
    }
}

/// Resolves the window; an absurd range is cut to the newest
/// [`MAX_WINDOW_WEEKS`] weeks, with a warning.
pub(crate) fn resolve(
    opts: &ReportOptions,
    first_data_day: Option<NaiveDate>,
    covered: &[DayRange],
    warnings: &mut Vec<String>,
) -> Span {
    let current = week_index(opts.as_of);
    let latest_complete = current - 1;
    let (first, last) = match opts.window {
        WindowSpec::LastWeeks { weeks } => (
            latest_complete - weeks.clamp(1, MAX_WINDOW_WEEKS) as i32 + 1,
            current,
        ),
        WindowSpec::All => (
            first_data_day
                .map_or(latest_complete, week_index)
                .min(current),
            current,
        ),
        WindowSpec::Custom { from, to } => {
            let (from, to) = if from <= to { (from, to) } else { (to, from) };
            (week_index(from).min(current), week_index(to).min(current))
        }
    };
    let first = if last - first >= MAX_WINDOW_WEEKS as i32 {
        warnings.push(format!(
            "The window was cut to the newest {MAX_WINDOW_WEEKS} weeks."
        ));
        last - MAX_WINDOW_WEEKS as i32 + 1
    } else {
        first
    };
    let end = last.min(latest_complete);
    let covered_before_end = latest_fully_covered(covered, end);
    let reference = covered_before_end.filter(|w| *w >= first);
    Span {
        first,
        last,
        current,
        latest_complete,
        reference,
        tier: covered_before_end.unwrap_or(end),
    }
}

/// The latest week at or before `w` whose seven days are all covered.
pub(crate) fn latest_fully_covered(covered: &[DayRange], w: i32) -> Option<i32> {
    let end = week::sunday_of(week_monday(w));
    // Walk the covered ranges from the newest: the first week inside one wins.
    covered.iter().rev().find_map(|r| {
        let to = r.to.min(end);
        // The last Sunday in the range, and the Monday six days before it.
        let sunday = to
            - Duration::days(i64::from(
                (chrono::Datelike::weekday(&to).num_days_from_monday() + 1) % 7,
            ));
        let monday = sunday - Duration::days(6);
        (monday >= r.from && sunday <= to).then(|| week_index(monday))
    })
}

impl Window {
    pub(crate) fn new(span: &Span, opts: &ReportOptions) -> Window {
        Window {
            from: week_monday(span.first),
            to: if span.last == span.current {
                opts.as_of
            } else {
                week::sunday_of(week_monday(span.last))
            },
            reference_week: span.reference.map(week_monday),
            tier_week: Some(week_monday(span.tier)),
            as_of: opts.as_of,
            team: opts.team.clone(),
            complete_weeks: (span.first..=span.last.min(span.latest_complete)).count() as u32,
            current_week: (span.last == span.current).then(|| week_monday(span.current)),
        }
    }
}
