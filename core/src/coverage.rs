//! Coverage (metrics.md §2, "no data is not zero"): which UTC days each
//! source has reported, so that a week without data is shown as a gap and
//! never as a week of 0.
//!
//! A source covers the days of its date range: a CSV export from its first
//! to its last day (or the period it was given, when that lies inside one
//! ISO week: longer totals are never spread over weeks), the Admin and
//! Enterprise APIs the days synced successfully, telemetry from its first
//! received batch to the server's clock. The table keeps the union per
//! source ([`crate::table::UsageTable::add_coverage`]); the engine derives
//! each week's coverage and the reference week from it.

use chrono::{Duration, NaiveDate};
use serde::{Deserialize, Serialize};

use crate::model::Source;
use crate::week;

/// UTC days `from..=to`, both inclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct DayRange {
    pub from: NaiveDate,
    pub to: NaiveDate,
}

impl DayRange {
    /// The range between two days, in whichever order they are given.
    pub fn new(a: NaiveDate, b: NaiveDate) -> DayRange {
        DayRange {
            from: a.min(b),
            to: a.max(b),
        }
    }

    pub fn day(d: NaiveDate) -> DayRange {
        DayRange { from: d, to: d }
    }

    /// From the first to the last of `days`; empty when there are none.
    pub fn span(days: impl IntoIterator<Item = NaiveDate>) -> Vec<DayRange> {
        let mut it = days.into_iter();
        let Some(first) = it.next() else {
            return Vec::new();
        };
        let (lo, hi) = it.fold((first, first), |(lo, hi), d| (lo.min(d), hi.max(d)));
        vec![DayRange::new(lo, hi)]
    }

    /// The span of period totals as coverage: only when it lies inside one
    /// ISO week, where the totals count for that week; a longer period's
    /// weeks stay uncovered rather than reading 0.
    pub fn weekly(start: NaiveDate, end: NaiveDate) -> Option<DayRange> {
        (start <= end && week::monday_of(start) == week::monday_of(end))
            .then(|| DayRange::new(start, end))
    }

    pub fn contains(&self, d: NaiveDate) -> bool {
        self.from <= d && d <= self.to
    }

    /// Number of days, both ends included.
    pub fn len_days(&self) -> i64 {
        (self.to - self.from).num_days() + 1
    }

    /// Sorted, with overlapping and adjacent ranges joined.
    pub fn normalize(mut ranges: Vec<DayRange>) -> Vec<DayRange> {
        ranges.sort_unstable();
        let mut out: Vec<DayRange> = Vec::with_capacity(ranges.len());
        for r in ranges {
            match out.last_mut() {
                Some(last) if r.from <= last.to + Duration::days(1) => last.to = last.to.max(r.to),
                _ => out.push(r),
            }
        }
        out
    }

    /// The parts of normalised `ranges` inside `from..=to`.
    pub fn clip(ranges: &[DayRange], from: NaiveDate, to: NaiveDate) -> Vec<DayRange> {
        ranges
            .iter()
            .filter(|r| r.to >= from && r.from <= to)
            .map(|r| DayRange::new(r.from.max(from), r.to.min(to)))
            .collect()
    }

    /// How many days of `from..=to` normalised `ranges` cover.
    pub fn covered_days(ranges: &[DayRange], from: NaiveDate, to: NaiveDate) -> i64 {
        DayRange::clip(ranges, from, to)
            .iter()
            .map(DayRange::len_days)
            .sum()
    }
}

/// How a server source is doing, so that a source that stopped can be named
/// next to stale figures ("telemetry silent for 9 days").
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Freshness {
    /// The UTC day of the last successful sync, or of the last telemetry batch received.
    pub last_ok: Option<NaiveDate>,
    /// True when the latest sync attempt failed.
    #[serde(default)]
    pub failing: bool,
}

/// The days one source covers, and for a server source how it is doing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceCoverage {
    pub source: Source,
    /// Normalised: sorted, not overlapping.
    pub ranges: Vec<DayRange>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub freshness: Option<Freshness>,
}

impl SourceCoverage {
    pub fn new(source: Source) -> SourceCoverage {
        SourceCoverage {
            source,
            ranges: Vec::new(),
            freshness: None,
        }
    }

    /// The newest day covered, if any.
    pub fn last_day(&self) -> Option<NaiveDate> {
        self.ranges.last().map(|r| r.to)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn adjacent_and_overlapping_ranges_are_joined_and_gaps_kept() {
        let r = DayRange::normalize(vec![
            DayRange::new(d("2026-11-10"), d("2026-11-12")),
            DayRange::new(d("2026-11-01"), d("2026-11-05")),
            DayRange::new(d("2026-11-06"), d("2026-11-06")),
            DayRange::new(d("2026-11-11"), d("2026-11-15")),
        ]);
        assert_eq!(
            r,
            vec![
                DayRange::new(d("2026-11-01"), d("2026-11-06")),
                DayRange::new(d("2026-11-10"), d("2026-11-15")),
            ]
        );
        assert_eq!(
            DayRange::covered_days(&r, d("2026-11-02"), d("2026-11-08")),
            5
        );
    }

    #[test]
    fn only_a_period_inside_one_iso_week_covers_days() {
        assert!(DayRange::weekly(d("2026-11-16"), d("2026-11-22")).is_some());
        assert!(DayRange::weekly(d("2026-11-01"), d("2026-11-30")).is_none());
    }
}
