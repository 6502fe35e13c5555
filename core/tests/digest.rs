#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers: a panic is a failed assertion
//! The weekly digest's figures (issue 15), worked out by hand: red has 3
//! members (1 active in the week of 2 Nov, 2 in the week of 9 Nov), blue 2
//! (none, then both); p09 is not on the roster.

use chrono::NaiveDate;
use scoreboard_core::metrics::digest;
use scoreboard_core::{
    compute, DayRange, DayRow, Measures, PersonKey, ReportOptions, Roster, RosterEntry, Source,
    UsageTable,
};

fn d(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

fn who(i: usize) -> PersonKey {
    PersonKey::email(&format!("p{i:02}@x.com"))
}

fn row(day: &str, person: PersonKey, lines: u64) -> DayRow {
    let mut r = DayRow::new(d(day), person, Source::Csv);
    r.measures = Measures {
        sessions: 1,
        lines_added: lines,
        ..Measures::default()
    };
    r
}

fn report() -> scoreboard_core::metrics::Report {
    let member = |i: usize, team: &str| {
        let mut e = RosterEntry::new(who(i));
        e.team = Some(team.into());
        e
    };
    let roster = Roster::new(vec![
        member(0, "red"),
        member(1, "red"),
        member(2, "red"),
        member(3, "blue"),
        member(4, "blue"),
    ]);
    let mut t = UsageTable::new();
    t.insert_days(vec![
        row("2026-11-03", who(0), 40),
        row("2026-11-10", who(0), 30),
        row("2026-11-10", who(1), 90),
        row("2026-11-10", who(3), 20),
        row("2026-11-11", who(4), 20),
        row("2026-11-11", who(9), 500),
    ]);
    t.add_coverage(Source::Csv, DayRange::new(d("2026-11-02"), d("2026-11-15")));
    compute(
        &t,
        Some(&roster),
        &ReportOptions::last_weeks(d("2026-11-16"), 2),
    )
}

#[test]
fn the_digest_names_new_starters_and_the_teams_that_moved_most() {
    let r = report();
    let g = digest(&r, false).unwrap();
    assert_eq!(g.week, d("2026-11-09"));
    assert_eq!(g.summary, r.summary);
    assert_eq!(g.cards, r.kpis.as_ref().unwrap().cards);
    // First active in the week of 9 Nov: everyone but p00 (first on 3 Nov).
    let mut new = g.new_starters.clone();
    new.sort();
    assert_eq!(new, vec![who(1), who(3), who(4), who(9)]);
    // Blue went from 0 % to 100 % adoption, red from 33 % to 67 %.
    let teams: Vec<&str> = g.teams_moved.iter().map(|t| t.team.as_str()).collect();
    assert_eq!(teams, ["blue", "red"]);
    let blue = &g.teams_moved[0];
    assert_eq!((blue.active_engineers, blue.roster_size), (2, 2));
    let adoption = blue.adoption_rate_change.as_ref().unwrap();
    assert!((adoption.absolute - 1.0).abs() < 1e-9, "{adoption:?}");
    let red = g.teams_moved[1].adoption_rate_change.as_ref().unwrap();
    assert!((red.absolute - 1.0 / 3.0).abs() < 1e-9, "{red:?}");
    // The non-starters only when asked for.
    assert_eq!(g.non_starters, None);
    assert_eq!(digest(&r, true).unwrap().non_starters, Some(vec![who(2)]));
}

#[test]
fn no_digest_without_a_reference_week() {
    let mut t = UsageTable::new();
    t.insert_days(vec![row("2026-11-17", who(0), 5)]);
    let r = compute(&t, None, &ReportOptions::last_weeks(d("2026-11-18"), 2));
    assert!(r.kpis.is_none());
    assert!(digest(&r, true).is_none());
}
