//! ISO weeks, Monday to Sunday, UTC, named by their Monday (metrics.md §2).

use chrono::{Datelike, Duration, NaiveDate, Weekday};

/// The Monday of the ISO week containing `day`.
pub fn monday_of(day: NaiveDate) -> NaiveDate {
    day - Duration::days(i64::from(day.weekday().num_days_from_monday()))
}

/// The Sunday that ends the ISO week starting on `monday`.
pub fn sunday_of(monday: NaiveDate) -> NaiveDate {
    monday + Duration::days(6)
}

/// The ISO label of a week, e.g. `2026-W47` (the ISO year can differ from
/// the calendar year of its Monday: 2024-12-30 is in 2025-W01).
pub fn iso_label(day: NaiveDate) -> String {
    let w = day.iso_week();
    format!("{}-W{:02}", w.year(), w.week())
}

/// A week is complete once its Sunday is over, i.e. `as_of` (today, UTC) is after it.
pub fn is_complete(monday: NaiveDate, as_of: NaiveDate) -> bool {
    sunday_of(monday) < as_of
}

/// The latest complete week as of `as_of`: the week before the one containing it.
pub fn latest_complete_week(as_of: NaiveDate) -> NaiveDate {
    monday_of(as_of) - Duration::days(7)
}

/// Mondays from `first` to `last` inclusive (both must be Mondays).
pub fn mondays(first: NaiveDate, last: NaiveDate) -> impl Iterator<Item = NaiveDate> {
    let n = if last < first {
        0
    } else {
        (last - first).num_days() / 7 + 1
    };
    (0..n).map(move |i| first + Duration::days(7 * i))
}

pub fn is_monday(day: NaiveDate) -> bool {
    day.weekday() == Weekday::Mon
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn week_across_year_boundary_is_named_by_its_monday_and_iso_year() {
        // 2026-01-01 is a Thursday: its week starts on Monday 2025-12-29 and is 2026-W01.
        assert_eq!(monday_of(d("2026-01-01")), d("2025-12-29"));
        assert_eq!(iso_label(d("2025-12-29")), "2026-W01");
        // 2027-01-01 is a Friday: its week is 2026-W53, starting 2026-12-28.
        assert_eq!(monday_of(d("2027-01-03")), d("2026-12-28"));
        assert_eq!(iso_label(d("2027-01-03")), "2026-W53");
    }

    #[test]
    fn sunday_belongs_to_the_week_before_the_next_monday() {
        assert_eq!(monday_of(d("2026-11-22")), d("2026-11-16"));
        assert_eq!(monday_of(d("2026-11-23")), d("2026-11-23"));
    }

    #[test]
    fn a_week_is_complete_only_after_its_sunday() {
        let mon = d("2026-11-16");
        assert!(
            !is_complete(mon, d("2026-11-22")),
            "Sunday itself is still in progress"
        );
        assert!(is_complete(mon, d("2026-11-23")));
        assert_eq!(latest_complete_week(d("2026-11-22")), d("2026-11-09"));
        assert_eq!(latest_complete_week(d("2026-11-23")), d("2026-11-16"));
    }
}
