#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers: a panic is a failed assertion
//! What the canonical table costs in memory per person-day row (issue 12
//! item 3: the page's peak at 1 M rows must stay ≤ 250 MB, JS heap and wasm
//! memory together, and the table is most of it).
//!
//! Counted from what the table allocated after loading 300 days of a
//! 1,000-person organisation (rows, person keys, indexes), in the shape of
//! a usage export.

use chrono::{Days, NaiveDate};
use scoreboard_core::{DayRow, Measures, PersonKey, Source, UsageTable};

/// `people` engineers, each active on `days` consecutive days, every measure
/// of an export filled in.
fn rows(people: u32, days: u32) -> Vec<DayRow> {
    let first = NaiveDate::from_ymd_opt(2025, 12, 1).unwrap();
    let mut out = Vec::with_capacity((people * days) as usize);
    for d in 0..days {
        let day = first + Days::new(u64::from(d));
        for p in 0..people {
            let mut r = DayRow::new(
                day,
                PersonKey::email(&format!("engineer{p:05}@example.com")),
                Source::Csv,
            );
            let v = u64::from(p + d);
            r.measures = Measures {
                sessions: 1 + v % 5,
                lines_added: v % 700,
                lines_removed: v % 300,
                commits: v % 3,
                pull_requests: v % 2,
                edits_accepted: v % 40,
                edits_rejected: v % 7,
                cost_micros: (v % 5000) as i64 * 1000,
                ..Measures::default()
            };
            out.push(r);
        }
    }
    out
}

/// Bytes the table holds per person-day row once loaded, from its
/// vectors' and indexes' capacities (`UsageTable::heap_bytes`). Printed for
/// BENCHMARKS.md; bounded so that it cannot grow back unnoticed. Before the
/// columnar table (rows of `DayRow`, 184 bytes, with the person's key as a
/// string in each row and again in the row index) the same count was 434
/// bytes per row.
#[test]
fn a_loaded_table_holds_at_most_130_bytes_per_person_day() {
    let (people, days) = (1000, 300);
    let n = (people * days) as usize;
    let mut table = UsageTable::new();
    table.insert_days(rows(people, days));
    assert_eq!(table.day_count(), n);
    let per_row = table.heap_bytes() as f64 / n as f64;
    println!("table: {per_row:.1} bytes per person-day row ({n} rows, {people} persons)");
    assert!(per_row <= 130.0, "{per_row:.1} bytes per row");
}
