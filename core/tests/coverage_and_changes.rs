#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers: a panic is a failed assertion
//! Issue 10 with numbers worked out by hand: no data is not zero (metrics.md
//! §2: coverage, the reference week, partial weeks, staleness), a later file
//! of the same source (§1: measure by measure), week-over-week changes, the
//! per-engineer figures, "last N weeks" and teams side by side.
//!
//! Calendar: 2026-11-02, -09, -16, -23 and -30 are Mondays.

use chrono::{Duration, NaiveDate};
use scoreboard_core::metrics::{Direction, Figures, Meaning, Report, WeekCoverage, WeekFigures};
use scoreboard_core::parse::{self, ImportOptions};
use scoreboard_core::{
    compute, DayRange, DayRow, Freshness, MeasureSet, Measures, PeriodRow, PersonKey,
    ReportOptions, Roster, RosterEntry, Source, SourceCoverage, UsageTable,
};

fn d(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

fn who(i: usize) -> PersonKey {
    PersonKey::email(&format!("p{i:02}@x.com"))
}

fn row(day: NaiveDate, person: PersonKey, sessions: u64, lines: u64) -> DayRow {
    let mut r = DayRow::new(day, person, Source::Csv);
    r.measures = Measures {
        sessions,
        lines_added: lines,
        edits_accepted: 9,
        edits_rejected: 1,
        cost_micros: 2_000_000,
        ..Measures::default()
    };
    r
}

fn week<'a>(r: &'a Report, monday: &str) -> &'a WeekFigures {
    r.weeks.iter().find(|w| w.week == d(monday)).unwrap()
}

fn figures<'a>(r: &'a Report, monday: &str) -> &'a Figures {
    week(r, monday).figures.as_ref().expect("figures")
}

/// An export from Mon 12 Oct to Wed 18 Nov: p00..p09 active on the Tuesday
/// of every week, p10 and p11 too from the week of 9 Nov, and in the week
/// of 16 Nov only p00..p04 (Mon–Wed).
fn export_ending_18_nov() -> UsageTable {
    let mut rows = Vec::new();
    let mut monday = d("2026-10-12");
    while monday <= d("2026-11-09") {
        let n = if monday >= d("2026-11-09") { 12 } else { 10 };
        for i in 0..n {
            rows.push(row(monday + Duration::days(1), who(i), 1, 10));
        }
        monday += Duration::days(7);
    }
    for i in 0..5 {
        rows.push(row(d("2026-11-18"), who(i), 1, 10));
    }
    let mut t = UsageTable::new();
    t.insert_days(rows);
    t.add_coverage(Source::Csv, DayRange::new(d("2026-10-12"), d("2026-11-18")));
    t
}

/// The first failure: data ends 18 Nov, the page opens 2 Dec.
#[test]
fn opened_14_days_after_the_newest_data_the_cards_show_the_last_covered_week_never_0() {
    let t = export_ending_18_nov();
    let r = compute(&t, None, &ReportOptions::last_weeks(d("2026-12-02"), 4));

    // Weeks: 2, 9, 16, 23 Nov complete; 30 Nov current.
    assert_eq!(r.weeks.len(), 5);
    assert_eq!(week(&r, "2026-11-09").coverage, WeekCoverage::Full);
    assert!(matches!(
        week(&r, "2026-11-16").coverage,
        WeekCoverage::Partial { days: 3, .. }
    ));
    assert!(
        week(&r, "2026-11-16").partial,
        "a partly covered week is partial"
    );
    assert_eq!(figures(&r, "2026-11-16").active_engineers, 5);
    for monday in ["2026-11-23", "2026-11-30"] {
        assert_eq!(week(&r, monday).coverage, WeekCoverage::Uncovered);
        assert_eq!(
            week(&r, monday).figures,
            None,
            "{monday}: no figures, never 0"
        );
    }

    // The reference week is the latest complete, fully covered one: 9 Nov.
    assert_eq!(r.window.reference_week, Some(d("2026-11-09")));
    let cards = r.kpis.as_ref().unwrap().cards.as_ref().unwrap();
    assert_eq!(cards.compared_with, Some(d("2026-11-02")));
    assert_eq!(cards.active_engineers.value, Some(12.0));
    let c = cards.active_engineers.change.as_ref().unwrap();
    assert_eq!((c.now, c.before, c.absolute), (12.0, 10.0, 2.0));
    assert_eq!(c.relative, Some(0.2));
    assert_eq!((c.direction, c.meaning), (Direction::Up, Meaning::Good));

    // Newest data: 18 Nov, 14 days before 2 Dec; what to do about it.
    let s = r.staleness.as_ref().expect("stale");
    assert_eq!(s.newest_covered_day, d("2026-11-18"));
    assert_eq!(s.days_ago, 14);
    assert_eq!(s.headline, "newest data: 18 Nov, 14 days ago");
    assert_eq!(s.latest_complete_week, d("2026-11-23"));
    assert_eq!(s.covered_week, Some(d("2026-11-09")));
    assert!(
        s.suggestion
            .contains("export the weeks since (19 Nov to 1 Dec)"),
        "{}",
        s.suggestion
    );

    // The sentence compares covered weeks only, and never says "to 0".
    assert_eq!(
        r.summary,
        "Weekly active engineers went from 10 to 12 over the 2 weeks to the week of 9 Nov, \
         tool acceptance is holding at 90 %, and add a roster to see who has not started."
    );
    assert!(!r.summary.contains("to 0"));

    // The tier chart spans the same weeks, with no counts where none can be computed.
    assert_eq!(
        r.tiers_by_week.iter().map(|t| t.week).collect::<Vec<_>>(),
        r.weeks.iter().map(|w| w.week).collect::<Vec<_>>()
    );
    let tiers: Vec<bool> = r.tiers_by_week.iter().map(|t| t.counts.is_some()).collect();
    assert_eq!(tiers, vec![true, true, false, false, false]);
}

/// A week only partly covered (the export starts on a Wednesday) is drawn
/// and labelled partial, has no tiers and is never the reference week.
#[test]
fn a_partly_covered_week_has_figures_flagged_partial_and_is_never_compared() {
    let mut t = UsageTable::new();
    let mut rows = Vec::new();
    for (day, n) in [("2026-11-04", 3), ("2026-11-10", 4), ("2026-11-17", 6)] {
        for i in 0..n {
            rows.push(row(d(day), who(i), 2, 30));
        }
    }
    t.insert_days(rows);
    t.add_coverage(Source::Csv, DayRange::new(d("2026-11-04"), d("2026-11-22")));
    let r = compute(&t, None, &ReportOptions::last_weeks(d("2026-11-23"), 3));
    let first = week(&r, "2026-11-02");
    assert_eq!(
        first.coverage,
        WeekCoverage::Partial {
            days: 5,
            covered: vec![DayRange::new(d("2026-11-04"), d("2026-11-08"))]
        }
    );
    assert!(first.complete && first.partial);
    assert_eq!(first.figures.as_ref().unwrap().active_engineers, 3);
    assert_eq!(r.window.reference_week, Some(d("2026-11-16")));
    assert!(r.staleness.is_none(), "the latest complete week is covered");
    let cards = r.kpis.as_ref().unwrap().cards.as_ref().unwrap();
    assert_eq!(cards.compared_with, Some(d("2026-11-09")));
    // Against the fully covered week of 9 Nov: 6 vs 4 active.
    let c = cards.active_engineers.change.as_ref().unwrap();
    assert_eq!((c.before, c.absolute, c.relative), (4.0, 2.0, Some(0.5)));
    assert!(r.tiers_by_week[0].counts.is_none());
    assert!(r.tiers_by_week[0]
        .not_computable
        .as_deref()
        .unwrap()
        .contains("only 5 of the week's 7 days"));

    // With the week of 9 Nov only partly covered, there is nothing to compare with.
    let mut gap = t.clone();
    gap.remove_source(Source::Csv);
    let mut rows = Vec::new();
    for (day, n) in [("2026-11-10", 4), ("2026-11-17", 6)] {
        for i in 0..n {
            rows.push(row(d(day), who(i), 2, 30));
        }
    }
    gap.insert_days(rows);
    gap.add_coverage(Source::Csv, DayRange::new(d("2026-11-10"), d("2026-11-22")));
    let r = compute(&gap, None, &ReportOptions::last_weeks(d("2026-11-23"), 3));
    let cards = r.kpis.as_ref().unwrap().cards.as_ref().unwrap();
    assert_eq!(cards.compared_with, None);
    assert!(cards.active_engineers.change.is_none());
    assert!(cards
        .why_no_comparison
        .as_deref()
        .unwrap()
        .contains("not fully covered"));
}

const FULL: &str = "Date,Email,Sessions,Lines accepted,Accepted edits,Rejected edits,Spend (USD)
2026-11-09,ann@x.com,3,100,8,2,4.00
2026-11-10,ann@x.com,2,50,4,0,2.00
2026-11-10,bob@x.com,5,200,10,10,6.00
2026-11-11,bob@x.com,1,10,1,1,1.00
2026-11-15,bob@x.com,1,10,0,0,1.00
";

fn load(t: &mut UsageTable, name: &str, text: &str) -> parse::Import {
    let imp = parse::import(name, text.as_bytes(), &ImportOptions::default()).unwrap();
    t.insert_import(imp.clone());
    imp
}

/// The second failure. The full export gives the week of 9 Nov:
/// sessions 12, lines 370, cost $14, acceptance 23/36. A later file with
/// date, e-mail and lines only for 10 and 11 Nov replaces the lines of those
/// person-days (ann 50 → 70, bob 200 → 0 (an empty cell), bob 10 → 15) and
/// keeps sessions, edits and cost: lines 100 + 70 + 0 + 15 + 10 = 195.
#[test]
fn a_thinner_later_file_keeps_the_measures_it_lacks() {
    let mut t = UsageTable::new();
    load(&mut t, "full.csv", FULL);
    let before = compute(&t, None, &ReportOptions::last_weeks(d("2026-11-16"), 1));
    let w = &figures(&before, "2026-11-09").totals;
    assert_eq!(
        (w.sessions, w.lines_accepted, w.cost_micros),
        (12, 370, 14_000_000)
    );

    let thin = load(
        &mut t,
        "thin.csv",
        "date,email,lines accepted\n2026-11-10,ann@x.com,70\n2026-11-10,bob@x.com,\n2026-11-11,bob@x.com,15\n",
    );
    assert_eq!(
        thin.measures.names(),
        vec!["lines_added"],
        "the import report says what it carried"
    );
    let after = compute(&t, None, &ReportOptions::last_weeks(d("2026-11-16"), 1));
    let f = figures(&after, "2026-11-09");
    assert_eq!(
        (
            f.totals.sessions,
            f.totals.lines_accepted,
            f.totals.cost_micros
        ),
        (12, 195, 14_000_000)
    );
    assert_eq!(f.totals.acceptance_rate, Some(23.0 / 36.0));
    assert_eq!(
        f.cost_per_active_engineer_usd,
        Some(7.0),
        "$14 over 2 engineers"
    );
    assert_eq!(f.sessions_per_active_engineer, Some(6.0));
    assert_eq!(f.lines_per_active_engineer, Some(97.5));

    // The same through the browser's storage form (a serialise/deserialise round trip).
    let json = serde_json::to_string(&t).unwrap();
    let back: UsageTable = serde_json::from_str(&json).unwrap();
    let reloaded = compute(&back, None, &ReportOptions::last_weeks(d("2026-11-16"), 1));
    assert_eq!(reloaded, after);

    // And loading the thin file again after the reload changes nothing more.
    let mut again = back;
    load(
        &mut again,
        "thin.csv",
        "date,email,lines accepted\n2026-11-10,ann@x.com,70\n",
    );
    let f = figures(
        &compute(&again, None, &ReportOptions::last_weeks(d("2026-11-16"), 1)),
        "2026-11-09",
    )
    .clone();
    assert_eq!((f.totals.sessions, f.totals.lines_accepted), (12, 195));
}

/// A semicolon file whose "Conversations" column is not recognised: its
/// lines replace, its unknown column is reported as a likely measure, and
/// the sessions and cost of the full export stay.
#[test]
fn a_later_file_with_an_unrecognised_column_keeps_sessions_and_cost() {
    let mut t = UsageTable::new();
    load(&mut t, "full.csv", FULL);
    let semi = load(
        &mut t,
        "semi.csv",
        "Date;Email;Conversations;Lines accepted\n2026-11-09;ann@x.com;7;120\n2026-11-10;bob@x.com;3;180\n",
    );
    assert_eq!(semi.likely_measures.len(), 1);
    assert_eq!(semi.likely_measures[0].header, "Conversations");
    let f = figures(
        &compute(&t, None, &ReportOptions::last_weeks(d("2026-11-16"), 1)),
        "2026-11-09",
    )
    .clone();
    // lines: ann 120 + 50, bob 180 + 10 + 10 = 370; sessions and cost unchanged.
    assert_eq!(
        (
            f.totals.sessions,
            f.totals.lines_accepted,
            f.totals.cost_micros
        ),
        (12, 370, 14_000_000)
    );
}

/// "Last 8 weeks" is 8 complete weeks plus the current week, flagged
/// partial; a person's active weeks count the complete ones.
#[test]
fn last_n_weeks_means_n_complete_weeks_plus_the_current_partial_week() {
    let mut rows = Vec::new();
    let mut day = d("2026-09-22");
    while day <= d("2026-11-24") {
        rows.push(row(day, who(0), 1, 5));
        day += Duration::days(7);
    }
    let mut t = UsageTable::new();
    t.insert_days(rows);
    t.add_coverage(Source::Csv, DayRange::new(d("2026-09-21"), d("2026-11-24")));
    let r = compute(&t, None, &ReportOptions::last_weeks(d("2026-11-25"), 8));
    assert_eq!(r.window.complete_weeks, 8);
    assert_eq!(r.window.current_week, Some(d("2026-11-23")));
    assert_eq!(r.weeks.len(), 9);
    assert_eq!(r.weeks.iter().filter(|w| w.complete).count(), 8);
    assert!(r.weeks.last().unwrap().partial);
    let p = &r.people[0];
    assert_eq!((p.active_weeks, p.active_this_week), (8, true));
}

/// Per-engineer figures are ratios of sums, `None` when nobody was active.
#[test]
fn per_engineer_figures_are_ratios_of_sums() {
    let mut t = UsageTable::new();
    t.insert_days(vec![
        row(d("2026-11-10"), who(0), 1, 100),
        row(d("2026-11-11"), who(0), 2, 50),
        row(d("2026-11-10"), who(1), 4, 10),
    ]);
    t.add_coverage(Source::Csv, DayRange::new(d("2026-11-02"), d("2026-11-22")));
    let r = compute(&t, None, &ReportOptions::last_weeks(d("2026-11-23"), 3));
    let f = figures(&r, "2026-11-09");
    // 160 lines and 7 sessions over 2 engineers.
    assert_eq!(f.lines_per_active_engineer, Some(80.0));
    assert_eq!(f.sessions_per_active_engineer, Some(3.5));
    let quiet = figures(&r, "2026-11-16");
    assert_eq!(
        quiet.active_engineers, 0,
        "covered and nobody active: a real 0"
    );
    assert_eq!(
        (
            quiet.lines_per_active_engineer,
            quiet.sessions_per_active_engineer
        ),
        (None, None)
    );
    assert_eq!(r.totals.figures.lines_per_active_engineer, Some(80.0));
    let cards = r.kpis.as_ref().unwrap().cards.as_ref().unwrap();
    assert_eq!(cards.lines_per_active_engineer.value, None);
    assert!(cards.lines_per_active_engineer.why_undefined.is_some());
    assert_eq!(
        cards.cost_per_active_engineer.figure,
        scoreboard_core::metrics::Figure::CostPerActiveEngineer
    );
}

/// Cost is neutral: up or down, its change has no good or bad meaning.
#[test]
fn cost_changes_are_neutral_and_acceptance_changes_are_in_points() {
    use scoreboard_core::metrics::{Change, Figure};
    let c = Change::between(Figure::CostPerActiveEngineer, 50.0, 40.0);
    assert_eq!(
        (c.direction, c.meaning, c.relative),
        (Direction::Up, Meaning::Neutral, Some(0.25))
    );
    let a = Change::between(Figure::AcceptanceRate, 0.90, 0.92);
    assert_eq!(
        (a.direction, a.meaning, a.relative),
        (Direction::Down, Meaning::Bad, None)
    );
    let n = Change::between(Figure::NonStarters, 3.0, 3.0);
    assert_eq!(
        (n.direction, n.meaning),
        (Direction::Same, Meaning::Neutral)
    );
}

/// Teams side by side for the reference week, whatever the team filter:
/// red has 3 members (2 active in W, 1 in W−1), blue 2 (both active in W);
/// a person not on the roster forms no team.
#[test]
fn teams_side_by_side_for_the_reference_week() {
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
        row(d("2026-11-03"), who(0), 1, 40),
        row(d("2026-11-10"), who(0), 1, 30),
        row(d("2026-11-10"), who(1), 1, 90),
        row(d("2026-11-10"), who(3), 1, 20),
        row(d("2026-11-11"), who(4), 1, 20),
        row(d("2026-11-11"), who(9), 1, 500),
    ]);
    t.add_coverage(Source::Csv, DayRange::new(d("2026-11-02"), d("2026-11-15")));
    let mut opts = ReportOptions::last_weeks(d("2026-11-16"), 2);
    opts.team = Some("blue".into());
    let r = compute(&t, Some(&roster), &opts);
    let tt = &r.team_table;
    assert_eq!(tt.week, Some(d("2026-11-09")));
    assert_eq!(tt.not_on_roster_active, 1);
    let names: Vec<&str> = tt.rows.iter().map(|r| r.team.as_str()).collect();
    assert_eq!(names, vec!["blue", "red"], "all teams, whatever the filter");
    let red = &tt.rows[1];
    assert_eq!(red.roster_size, 3);
    let w = red.week.as_ref().unwrap();
    assert_eq!(w.active_engineers, 2);
    assert_eq!(w.adoption_rate, Some(2.0 / 3.0));
    assert_eq!(w.lines_per_active_engineer, Some(60.0));
    assert_eq!(w.acceptance_rate, Some(0.9));
    assert_eq!(w.cost_per_active_engineer_usd, Some(2.0));
    let c = red.changes.active_engineers.as_ref().unwrap();
    assert_eq!((c.before, c.absolute, c.relative), (1.0, 1.0, Some(1.0)));
    let lines = red.changes.lines_per_active_engineer.as_ref().unwrap();
    assert_eq!((lines.before, lines.now), (40.0, 60.0));
    assert_eq!(red.series.len(), r.weeks.len());
    assert!(
        red.series.last().unwrap().is_none(),
        "the current week is not covered"
    );
}

/// A server source that stopped is named in the staleness statement.
#[test]
fn a_stopped_server_source_is_named_by_name() {
    let mut t = export_ending_18_nov();
    t.add_source_coverage(&SourceCoverage {
        source: Source::AdminApi,
        ranges: vec![DayRange::new(d("2026-10-12"), d("2026-11-18"))],
        freshness: Some(Freshness {
            last_ok: Some(d("2026-11-18")),
            failing: true,
        }),
    });
    t.add_source_coverage(&SourceCoverage {
        source: Source::Otlp,
        ranges: vec![DayRange::new(d("2026-11-01"), d("2026-11-15"))],
        freshness: Some(Freshness {
            last_ok: Some(d("2026-11-15")),
            failing: false,
        }),
    });
    let r = compute(&t, None, &ReportOptions::last_weeks(d("2026-12-02"), 4));
    let s = r.staleness.as_ref().unwrap();
    let names: Vec<&str> = s.stopped_sources.iter().map(|x| x.text.as_str()).collect();
    assert_eq!(
        names,
        vec![
            "the Admin API sync failing since its last success on 18 Nov",
            "telemetry silent for 17 days (last batch received 15 Nov)",
        ]
    );
    assert!(
        s.suggestion.contains("check the Admin API sync failing"),
        "{}",
        s.suggestion
    );
}

/// An import report names the first and last day a file covers: a period
/// row counts to its end, and a table without rows has no span (not a
/// made-up day).
#[test]
fn a_tables_day_span_runs_from_its_first_day_to_its_last_period_end() {
    let mut t = UsageTable::new();
    assert_eq!(t.day_span(), None);
    t.insert_days([
        row(d("2026-11-10"), who(1), 1, 1),
        row(d("2026-11-03"), who(2), 1, 1),
    ]);
    assert_eq!(t.day_span(), Some((d("2026-11-03"), d("2026-11-10"))));
    t.insert_periods([PeriodRow {
        start: d("2026-11-01"),
        end: d("2026-11-30"),
        person: who(3),
        source: Source::Csv,
        measures: Default::default(),
        models: Vec::new(),
        tools: Vec::new(),
        present: MeasureSet::all(),
    }]);
    assert_eq!(t.day_span(), Some((d("2026-11-01"), d("2026-11-30"))));
}
