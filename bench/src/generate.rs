//! Usage exports of any size in the column layout of the claude.ai Claude Code
//! export that `public/demo/claude_code_usage.csv` uses (`scripts/gen_demo.py`):
//! one row per active person-day, a year of 52 ISO weeks, deterministic.

use chrono::{Days, NaiveDate};
use scoreboard_test_support::rng::Lcg;
use serde::Serialize;

pub const HEADER: &str = "Date,Email,Sessions,Lines accepted,Lines removed,Commits,Pull requests,Accepted edits,Rejected edits,Spend (USD)";

/// Monday of the first generated week.
pub fn first_day() -> NaiveDate {
    NaiveDate::from_ymd_opt(2025, 12, 1).unwrap_or_default()
}
pub const DAYS: u64 = 52 * 7;

/// The Monday after the last generated Sunday: the "today" every benchmark pins.
pub fn as_of() -> NaiveDate {
    first_day() + Days::new(DAYS)
}

#[derive(Debug, Clone, Serialize)]
pub struct Generated {
    pub rows: u64,
    pub people: u64,
    pub bytes: u64,
    pub first_day: NaiveDate,
    pub last_day: NaiveDate,
}

/// People in an export of `rows` rows: about 300 active days each (a year of
/// a 3,000-engineer organisation is a million rows), at least 40.
pub fn people_for(rows: u64) -> u64 {
    rows.div_ceil(300).max(40)
}

/// Exactly `rows` person-day rows (selection sampling over people × days), day by day.
pub fn usage_csv(rows: u64) -> (Vec<u8>, Generated) {
    let people = people_for(rows);
    let pairs = people * DAYS;
    let rows = rows.min(pairs);
    let mut rng = Lcg(0x5c0e_b0a2d ^ rows);
    let mut out = Vec::with_capacity(rows as usize * 72 + 128);
    out.extend_from_slice(HEADER.as_bytes());
    out.push(b'\n');
    let mut left = rows;
    let mut seen = 0u64;
    let mut last = first_day();
    for d in 0..DAYS {
        let day = first_day() + Days::new(d);
        let date = day.format("%Y-%m-%d").to_string();
        for p in 0..people {
            let remaining_pairs = pairs - seen;
            seen += 1;
            // Knuth's algorithm S: pick this pair with probability left / remaining.
            if left == 0 || (rng.unit() * remaining_pairs as f64) >= left as f64 {
                continue;
            }
            left -= 1;
            last = day;
            let k = 1 + (p % 7);
            let sessions = 1 + rng.below(3 * k);
            let added = rng.below(120 * k);
            let removed = added * rng.below(45) / 100;
            let commits = rng.below(k);
            let prs = u64::from(rng.below(6) == 0);
            let decisions = 1 + rng.below(12 * k);
            let rejected = decisions * rng.below(15) / 100;
            let cents = 20 + rng.below(500 * k);
            let line = format!(
                "{date},engineer{p:05}@example.com,{sessions},{added},{removed},{commits},{prs},{},{rejected},{}.{:02}\n",
                decisions - rejected,
                cents / 100,
                cents % 100
            );
            out.extend_from_slice(line.as_bytes());
        }
    }
    let bytes = out.len() as u64;
    (
        out,
        Generated {
            rows,
            people,
            bytes,
            first_day: first_day(),
            last_day: last,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exactly_the_asked_rows_and_the_demo_header() {
        let (bytes, g) = usage_csv(10_000);
        let text = String::from_utf8(bytes).unwrap();
        assert_eq!(text.lines().count(), 10_001);
        assert_eq!(g.rows, 10_000);
        assert!(text.starts_with(HEADER));
        let demo = include_str!("../../public/demo/claude_code_usage.csv");
        assert_eq!(demo.lines().next(), Some(HEADER));
        let (again, _) = usage_csv(10_000);
        assert_eq!(text.as_bytes(), &again[..], "deterministic");
    }
}
