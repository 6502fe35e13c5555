#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers: a panic is a failed assertion
//! One test per rule of reference/metrics.md, with numbers worked out by hand.
//!
//! Calendar used throughout: as of Sunday 2026-11-22 (UTC) the current,
//! partial week starts Monday 2026-11-16; the latest complete week (the
//! reference week W) is 2026-11-09; W−3 is 2026-10-19.

use chrono::NaiveDate;
use scoreboard_core::metrics::{self, Figure, Tier, WindowSpec};
use scoreboard_core::{
    compute, DayRange, DayRow, MeasureSet, Measures, PeriodRow, PersonKey, ReportOptions, Roster,
    RosterEntry, Source, UsageTable,
};

fn d(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

const AS_OF: &str = "2026-11-22";

fn row(day: &str, who: &str, source: Source, m: Measures) -> DayRow {
    let mut r = DayRow::new(d(day), PersonKey::parse(who).unwrap(), source);
    r.measures = m;
    r
}

fn sessions(n: u64) -> Measures {
    Measures {
        sessions: n,
        ..Measures::default()
    }
}

fn lines(n: u64) -> Measures {
    Measures {
        sessions: 1,
        lines_added: n,
        ..Measures::default()
    }
}

fn edits(accepted: u64, rejected: u64) -> Measures {
    Measures {
        sessions: 1,
        edits_accepted: accepted,
        edits_rejected: rejected,
        ..Measures::default()
    }
}

/// A table whose CSV source is declared to cover every day these tests use:
/// the rules below are about figures of covered weeks (coverage has its own
/// tests, with [`exported`]).
fn table(rows: Vec<DayRow>) -> UsageTable {
    let mut t = exported(rows);
    t.add_coverage(Source::Csv, DayRange::new(d("2020-01-01"), d("2027-12-31")));
    t
}

/// A table as loading exports makes it: each source covers its first to last day.
fn exported(rows: Vec<DayRow>) -> UsageTable {
    let mut t = UsageTable::new();
    t.insert_days(rows);
    t
}

fn roster(list: &[(&str, &str)]) -> Roster {
    Roster::new(
        list.iter()
            .map(|(email, team)| {
                let mut e = RosterEntry::new(PersonKey::email(email));
                e.team = Some(team.to_string());
                e
            })
            .collect(),
    )
}

fn opts(weeks: u32) -> ReportOptions {
    ReportOptions::last_weeks(d(AS_OF), weeks)
}

fn week_of<'a>(r: &'a scoreboard_core::Report, monday: &str) -> &'a metrics::WeekFigures {
    r.weeks.iter().find(|w| w.week == d(monday)).unwrap()
}

/// The figures of a covered week.
fn week<'a>(r: &'a scoreboard_core::Report, monday: &str) -> &'a metrics::Figures {
    week_of(r, monday).figures.as_ref().expect("a covered week")
}

fn tier(r: &scoreboard_core::Report, who: &str) -> Tier {
    r.people
        .iter()
        .find(|p| p.person.as_str() == who)
        .unwrap()
        .tier
}

#[test]
fn weekly_active_engineers_count_distinct_people_not_days() {
    let t = table(vec![
        row("2026-11-09", "a@x.com", Source::Csv, sessions(1)),
        row("2026-11-10", "a@x.com", Source::Csv, sessions(2)),
        row("2026-11-11", "b@x.com", Source::Csv, sessions(1)),
    ]);
    let r = compute(&t, None, &opts(4));
    let w = week(&r, "2026-11-09");
    assert_eq!(w.active_engineers, 2);
    assert_eq!(w.totals.sessions, 4);
}

#[test]
fn a_row_of_zeros_is_not_activity() {
    let t = table(vec![
        row("2026-11-09", "a@x.com", Source::Csv, Measures::default()),
        row(
            "2026-11-10",
            "b@x.com",
            Source::Csv,
            Measures {
                cost_micros: 1,
                ..Measures::default()
            },
        ),
    ]);
    let r = compute(&t, None, &opts(4));
    assert_eq!(
        week(&r, "2026-11-09").active_engineers,
        1,
        "only b, whose cost is non-zero"
    );
}

#[test]
fn acceptance_is_a_ratio_of_sums_not_an_average_of_daily_rates() {
    // Day 1: 1 of 1 accepted (100 %); day 2: 1 of 9 accepted (11 %).
    // Average of daily rates would be 55.6 %; ratio of sums is 2/10 = 20 %.
    let t = table(vec![
        row("2026-11-09", "a@x.com", Source::Csv, edits(1, 0)),
        row("2026-11-10", "a@x.com", Source::Csv, edits(1, 8)),
    ]);
    let r = compute(&t, None, &opts(4));
    assert_eq!(week(&r, "2026-11-09").totals.acceptance_rate, Some(0.2));
    assert_eq!(r.totals.figures.totals.acceptance_rate, Some(0.2));
}

#[test]
fn undefined_ratios_are_none_never_zero() {
    let t = table(vec![row("2026-11-09", "a@x.com", Source::Csv, sessions(1))]);
    let r = compute(&t, None, &opts(4));
    let w = week(&r, "2026-11-09");
    assert_eq!(
        w.totals.acceptance_rate, None,
        "no edit decisions: undefined, not 0 % or 100 %"
    );
    assert_eq!(
        w.adoption_rate, None,
        "no roster: add a roster, not a number"
    );
    let quiet = week(&r, "2026-11-02");
    assert_eq!(quiet.active_engineers, 0, "0 is a value for WAE");
    assert_eq!(
        quiet.cost_per_active_engineer_usd, None,
        "WAE = 0: cost per active engineer is undefined"
    );
    assert!(metrics::why_undefined(Figure::AdoptionRate, Some(w))
        .unwrap()
        .contains("roster"));
    assert!(metrics::why_undefined(Figure::CostPerActiveEngineer, Some(quiet)).is_some());
    assert_eq!(metrics::why_undefined(Figure::Sessions, Some(w)), None);
}

#[test]
fn adoption_counts_only_roster_members_in_the_numerator() {
    let t = table(vec![
        row("2026-11-09", "a@x.com", Source::Csv, sessions(1)),
        row("2026-11-09", "stranger@x.com", Source::Csv, sessions(1)),
    ]);
    let ro = roster(&[
        ("a@x.com", "T"),
        ("b@x.com", "T"),
        ("c@x.com", "T"),
        ("d@x.com", "T"),
    ]);
    let r = compute(&t, Some(&ro), &opts(4));
    let w = week(&r, "2026-11-09");
    assert_eq!(w.active_engineers, 2);
    assert_eq!(w.active_roster_members, 1);
    assert_eq!(w.adoption_rate, Some(0.25));
    assert_eq!(
        r.not_on_roster,
        vec![PersonKey::email("stranger@x.com")],
        "listed, never dropped"
    );
    assert_eq!(
        r.roster_size,
        Some(4),
        "never silently added to the denominator"
    );
}

#[test]
fn cost_per_active_engineer_divides_the_week_cost_by_wae() {
    let t = table(vec![
        row(
            "2026-11-09",
            "a@x.com",
            Source::Csv,
            Measures {
                cost_micros: 3_000_000,
                ..Measures::default()
            },
        ),
        row(
            "2026-11-10",
            "b@x.com",
            Source::Csv,
            Measures {
                cost_micros: 1_500_000,
                ..Measures::default()
            },
        ),
    ]);
    let r = compute(&t, None, &opts(4));
    let w = week(&r, "2026-11-09");
    assert_eq!(w.totals.cost_micros, 4_500_000);
    assert_eq!(w.cost_per_active_engineer_usd, Some(2.25));
}

#[test]
fn the_current_week_is_partial_and_kpis_compare_the_two_latest_complete_weeks() {
    let t = table(vec![
        row("2026-11-02", "a@x.com", Source::Csv, sessions(1)),
        row("2026-11-09", "a@x.com", Source::Csv, sessions(1)),
        row("2026-11-10", "b@x.com", Source::Csv, sessions(1)),
        row("2026-11-17", "c@x.com", Source::Csv, sessions(5)),
    ]);
    let r = compute(&t, None, &opts(4));
    let last = r.weeks.last().unwrap();
    assert_eq!(last.week, d("2026-11-16"));
    assert!(!last.complete);
    assert_eq!(r.window.reference_week, Some(d("2026-11-09")));
    let k = r.kpis.as_ref().unwrap();
    assert_eq!(k.week.week, d("2026-11-09"));
    assert_eq!(k.week.figures.as_ref().unwrap().active_engineers, 2);
    assert_eq!(
        k.previous
            .as_ref()
            .unwrap()
            .figures
            .as_ref()
            .unwrap()
            .active_engineers,
        1
    );
    assert_eq!(r.weeks.len(), 5, "4 complete weeks and the partial one");
    assert_eq!(r.window.from, d("2026-10-19"));
    assert_eq!(r.window.to, d(AS_OF));
}

#[test]
fn weeks_across_a_year_boundary_follow_iso_weeks() {
    // Thursday 2026-12-31 and Friday 2027-01-01 are in the same ISO week (2026-W53, Monday 2026-12-28).
    let t = table(vec![
        row("2026-12-31", "a@x.com", Source::Csv, sessions(1)),
        row("2027-01-01", "b@x.com", Source::Csv, sessions(1)),
        row("2027-01-04", "a@x.com", Source::Csv, sessions(1)),
    ]);
    let r = compute(&t, None, &ReportOptions::last_weeks(d("2027-01-11"), 2));
    let w = week(&r, "2026-12-28");
    assert_eq!(week_of(&r, "2026-12-28").label, "2026-W53");
    assert_eq!(w.active_engineers, 2);
    assert_eq!(week_of(&r, "2027-01-04").label, "2027-W01");
}

#[test]
fn sources_for_the_same_person_day_are_never_added_and_the_most_authoritative_wins() {
    let t = table(vec![
        row("2026-11-09", "a@x.com", Source::Otlp, lines(7)),
        row("2026-11-09", "a@x.com", Source::Csv, lines(10)),
        row("2026-11-09", "a@x.com", Source::AdminApi, lines(12)),
        row("2026-11-10", "a@x.com", Source::Otlp, lines(3)),
        row("2026-11-10", "a@x.com", Source::Csv, lines(3)),
    ]);
    let r = compute(&t, None, &opts(4));
    let w = week(&r, "2026-11-09");
    assert_eq!(
        w.totals.lines_accepted,
        12 + 3,
        "admin-api wins on the 9th, csv on the 10th"
    );
    assert_eq!(w.totals.sessions, 2);
    assert_eq!(r.health.multi_source_person_days, 2);
    assert_eq!(
        r.health.agreeing_person_days, 1,
        "the 10th agrees, the 9th does not"
    );
}

#[test]
fn roster_aliases_map_api_keys_onto_the_person_and_same_source_keys_are_summed() {
    let mut e = RosterEntry::new(PersonKey::email("alice@x.com"));
    e.aliases = vec![
        PersonKey::api_key("alice-laptop"),
        PersonKey::email("alice@old.example"),
    ];
    let ro = Roster::new(vec![e]);
    let t = table(vec![
        row(
            "2026-11-09",
            "api-key:alice-laptop",
            Source::AdminApi,
            lines(5),
        ),
        row("2026-11-09", "alice@x.com", Source::AdminApi, lines(4)),
        row("2026-11-09", "alice@old.example", Source::Csv, lines(100)),
    ]);
    let r = compute(&t, Some(&ro), &opts(4));
    assert_eq!(r.people.len(), 1);
    let p = &r.people[0];
    assert_eq!(p.person.as_str(), "alice@x.com");
    assert_eq!(
        p.totals.lines_accepted, 9,
        "two admin-api keys of one person add up; the csv row loses to them"
    );
    assert!(r.not_on_roster.is_empty());
}

#[test]
fn loading_the_same_person_day_again_replaces_it() {
    let mut t = table(vec![row("2026-11-09", "a@x.com", Source::Csv, lines(5))]);
    let c = t.insert_days(vec![row("2026-11-09", "a@x.com", Source::Csv, lines(8))]);
    assert_eq!((c.added, c.replaced), (0, 1));
    let r = compute(&t, None, &opts(4));
    assert_eq!(week(&r, "2026-11-09").totals.lines_accepted, 8);
}

/// Active in all four weeks W−3..W, with the given lines in W.
fn steady(who: &str, lines_in_w: u64) -> Vec<DayRow> {
    vec![
        row("2026-10-19", who, Source::Csv, sessions(1)),
        row("2026-10-26", who, Source::Csv, sessions(1)),
        row("2026-11-02", who, Source::Csv, sessions(1)),
        row("2026-11-09", who, Source::Csv, lines(lines_in_w)),
    ]
}

#[test]
fn power_users_are_the_top_quarter_by_lines_with_ties_included() {
    // n = 5 active people, k = ⌈5/4⌉ = 2; the 2nd highest is 50, and two people tie at 50.
    let mut rows = Vec::new();
    rows.extend(steady("a@x.com", 100));
    rows.extend(steady("b@x.com", 50));
    rows.extend(steady("c@x.com", 50));
    rows.extend(steady("d@x.com", 10));
    rows.push(row("2026-11-09", "e@x.com", Source::Csv, lines(500))); // most lines, but only 1 week
    let r = compute(&table(rows), None, &opts(4));
    // Ranking: e 500, a 100, b 50, c 50, d 10 → k-th (2nd) highest = 100.
    assert_eq!(tier(&r, "a@x.com"), Tier::Power);
    assert_eq!(tier(&r, "b@x.com"), Tier::Regular);
    assert_eq!(
        tier(&r, "e@x.com"),
        Tier::Occasional,
        "top lines but not active all 4 weeks"
    );

    let mut rows = Vec::new();
    rows.extend(steady("a@x.com", 100));
    rows.extend(steady("b@x.com", 50));
    rows.extend(steady("c@x.com", 50));
    rows.extend(steady("d@x.com", 10));
    rows.extend(steady("f@x.com", 0));
    let r = compute(&table(rows), None, &opts(4));
    // n = 5, k = 2: the 2nd highest is 50; b and c tie at 50 → both power, with a.
    let mut power: Vec<&str> = r.power_users.iter().map(|p| p.as_str()).collect();
    power.sort();
    assert_eq!(power, vec!["a@x.com", "b@x.com", "c@x.com"]);
    assert_eq!(tier(&r, "d@x.com"), Tier::Regular);
}

#[test]
fn tiers_follow_the_four_reference_weeks() {
    let ro = roster(&[
        ("regular@x.com", "T"),
        ("occasional@x.com", "T"),
        ("lapsed@x.com", "T"),
        ("new@x.com", "T"),
        ("never@x.com", "T"),
    ]);
    let t = table(vec![
        row("2026-10-19", "regular@x.com", Source::Csv, sessions(1)),
        row("2026-11-02", "regular@x.com", Source::Csv, sessions(1)),
        row("2026-11-09", "regular@x.com", Source::Csv, sessions(1)),
        row("2026-11-03", "occasional@x.com", Source::Csv, sessions(1)),
        row("2026-10-05", "lapsed@x.com", Source::Csv, sessions(1)),
        // First activity in the current partial week, after W.
        row("2026-11-17", "new@x.com", Source::Csv, sessions(1)),
    ]);
    let r = compute(&t, Some(&ro), &opts(4));
    assert_eq!(tier(&r, "regular@x.com"), Tier::Regular, "3 of 4 weeks");
    assert_eq!(tier(&r, "occasional@x.com"), Tier::Occasional);
    assert_eq!(tier(&r, "lapsed@x.com"), Tier::Lapsed);
    assert_eq!(
        tier(&r, "new@x.com"),
        Tier::New,
        "first active after W: new, not a non-starter"
    );
    assert_eq!(tier(&r, "never@x.com"), Tier::NonStarter);
    // "Not started yet" as of W (issue 10: one definition for card, chart and
    // list): new@x.com had no activity up to the end of W.
    assert_eq!(
        r.non_starters,
        vec![
            PersonKey::email("never@x.com"),
            PersonKey::email("new@x.com")
        ]
    );
    assert_eq!(
        r.health.roster_never_seen,
        vec![PersonKey::email("never@x.com")]
    );
}

#[test]
fn activity_after_the_reference_week_does_not_change_a_tier() {
    let mut rows = steady("a@x.com", 10);
    rows.push(row("2026-11-16", "b@x.com", Source::Csv, sessions(1)));
    rows.push(row("2026-10-12", "b@x.com", Source::Csv, sessions(1)));
    rows.push(row("2026-11-18", "a@x.com", Source::Csv, lines(10_000)));
    let r = compute(&table(rows), None, &opts(4));
    assert_eq!(
        tier(&r, "b@x.com"),
        Tier::Lapsed,
        "active before W−3 and only after W"
    );
    assert_eq!(
        r.people
            .iter()
            .find(|p| p.person.as_str() == "a@x.com")
            .unwrap()
            .lines_accepted_last_4,
        10
    );
}

#[test]
fn new_this_week_and_days_to_first_use() {
    let mut e = RosterEntry::new(PersonKey::email("a@x.com"));
    e.start = Some(d("2026-11-01"));
    let ro = Roster::new(vec![e]);
    let t = table(vec![row("2026-11-11", "a@x.com", Source::Csv, sessions(1))]);
    let r = compute(&t, Some(&ro), &opts(4));
    assert_eq!(r.new_this_week, vec![PersonKey::email("a@x.com")]);
    assert_eq!(r.people[0].days_to_first_use, Some(10));
    assert_eq!(week(&r, "2026-11-09").new_engineers, 1);
}

#[test]
fn a_period_row_inside_one_week_counts_for_that_week_and_a_longer_one_only_for_the_window() {
    let mut t = UsageTable::new();
    let week_long = PeriodRow {
        start: d("2026-11-09"),
        end: d("2026-11-15"),
        person: PersonKey::email("a@x.com"),
        source: Source::Csv,
        measures: lines(40),
        models: vec![],
        tools: Vec::new(),
        present: MeasureSet::all(),
    };
    let month = PeriodRow {
        start: d("2026-10-20"),
        end: d("2026-11-15"),
        person: PersonKey::email("b@x.com"),
        source: Source::Csv,
        measures: lines(300),
        models: vec![],
        tools: Vec::new(),
        present: MeasureSet::all(),
    };
    t.insert_periods(vec![week_long, month]);
    let r = compute(&t, None, &opts(4));
    let w = week(&r, "2026-11-09");
    assert_eq!(
        w.active_engineers, 1,
        "only the one-week period counts for a week"
    );
    assert_eq!(w.totals.lines_accepted, 40);
    assert_eq!(
        r.totals.figures.active_engineers, 2,
        "the month counts for the window: active in the period"
    );
    assert_eq!(r.totals.figures.totals.lines_accepted, 340);
    assert_eq!(r.totals.active_in_period_only, 1);
    let b = r
        .people
        .iter()
        .find(|p| p.person.as_str() == "b@x.com")
        .unwrap();
    assert!(b.period_only);
    assert_eq!(
        b.tier,
        Tier::Occasional,
        "a period touching W−3..W cannot be placed in weeks"
    );
}

#[test]
fn daily_rows_from_a_stronger_source_beat_overlapping_period_totals() {
    let mut t = table(vec![row(
        "2026-11-10",
        "a@x.com",
        Source::AdminApi,
        lines(5),
    )]);
    t.insert_periods(vec![PeriodRow {
        start: d("2026-11-01"),
        end: d("2026-11-15"),
        person: PersonKey::email("a@x.com"),
        source: Source::Csv,
        measures: lines(99),
        models: vec![],
        tools: Vec::new(),
        present: MeasureSet::all(),
    }]);
    let r = compute(&t, None, &opts(4));
    assert_eq!(r.totals.figures.totals.lines_accepted, 5);
    assert!(r.warnings.iter().any(|w| w.contains("overlap daily rows")));
}

#[test]
fn the_team_filter_restricts_people_figures_and_the_roster_denominator() {
    let ro = roster(&[("a@x.com", "Red"), ("b@x.com", "Blue"), ("c@x.com", "Blue")]);
    let t = table(vec![
        row("2026-11-09", "a@x.com", Source::Csv, lines(10)),
        row("2026-11-09", "b@x.com", Source::Csv, lines(20)),
        row("2026-11-09", "outsider@x.com", Source::Csv, lines(30)),
    ]);
    let mut o = opts(4);
    o.team = Some("Blue".into());
    let r = compute(&t, Some(&ro), &o);
    let w = week(&r, "2026-11-09");
    assert_eq!(w.active_engineers, 1);
    assert_eq!(w.totals.lines_accepted, 20);
    assert_eq!(w.adoption_rate, Some(0.5));
    assert_eq!(r.non_starters, vec![PersonKey::email("c@x.com")]);
    assert_eq!(r.teams, vec!["Blue".to_string(), "Red".to_string()]);
}

#[test]
fn the_summary_states_the_trend_in_words() {
    // WAE 2 → 6 over 4 weeks, acceptance 92 % in the last two weeks, 2 non-starters.
    let mut ro_list = vec![];
    let mut rows = vec![];
    let people = ["p1", "p2", "p3", "p4", "p5", "p6"];
    for (i, p) in people.iter().enumerate() {
        let email = format!("{p}@x.com");
        ro_list.push(email.clone());
        let first_week = if i < 2 { 0 } else { 3 };
        for (wi, monday) in ["2026-10-19", "2026-10-26", "2026-11-02", "2026-11-09"]
            .iter()
            .enumerate()
        {
            if wi >= first_week {
                rows.push(row(monday, &email, Source::Csv, sessions(1)));
            }
        }
    }
    rows.push(row("2026-11-03", "p1@x.com", Source::Csv, edits(23, 2)));
    rows.push(row("2026-11-10", "p1@x.com", Source::Csv, edits(46, 4)));
    ro_list.push("n1@x.com".into());
    ro_list.push("n2@x.com".into());
    let ro = Roster::new(
        ro_list
            .iter()
            .map(|e| RosterEntry::new(PersonKey::email(e)))
            .collect(),
    );
    let r = compute(&table(rows), Some(&ro), &opts(4));
    assert_eq!(
        r.summary,
        "Weekly active engineers went from 2 to 6 over the last 4 weeks, tool acceptance is holding at 92 %, and 2 people have not started yet."
    );
}

#[test]
fn an_empty_table_gives_a_report_that_says_so() {
    let r = compute(&UsageTable::new(), None, &opts(4));
    assert!(r.warnings.iter().any(|w| w.contains("No usage data")));
    assert!(r.people.is_empty());
    assert_eq!(r.weeks.len(), 5);
    // Contract change (metrics.md §2): nothing covers these weeks, so they have no figures at all.
    assert!(r.weeks.iter().all(|w| w.figures.is_none()));
    assert!(r.kpis.is_none());
}

#[test]
fn an_old_export_warns_that_recent_weeks_have_no_data() {
    let t = exported(vec![row("2026-10-01", "a@x.com", Source::Csv, sessions(1))]);
    let r = compute(&t, None, &opts(4));
    let s = r.staleness.as_ref().expect("stale");
    assert_eq!(s.headline, "newest data: 1 Oct, 52 days ago");
    assert!(r
        .warnings
        .iter()
        .any(|w| w.starts_with("Newest data: 1 Oct, 52 days ago")));
    assert!(
        r.weeks.iter().all(|w| w.figures.is_none()),
        "no week of the window is covered"
    );
}

#[test]
fn the_all_and_custom_windows() {
    let t = table(vec![
        row("2026-09-01", "a@x.com", Source::Csv, sessions(1)),
        row("2026-11-10", "a@x.com", Source::Csv, sessions(1)),
    ]);
    let all = compute(
        &t,
        None,
        &ReportOptions {
            as_of: d(AS_OF),
            window: WindowSpec::All,
            team: None,
        },
    );
    assert_eq!(all.window.from, d("2026-08-31"));
    assert_eq!(all.totals.figures.totals.sessions, 2);
    let custom = compute(
        &t,
        None,
        &ReportOptions {
            as_of: d(AS_OF),
            window: WindowSpec::Custom {
                from: d("2026-08-31"),
                to: d("2026-09-06"),
            },
            team: None,
        },
    );
    assert_eq!(custom.weeks.len(), 1);
    assert_eq!(custom.window.to, d("2026-09-06"));
    assert_eq!(custom.totals.figures.totals.sessions, 1);
    assert_eq!(custom.window.reference_week, Some(d("2026-08-31")));
}

#[test]
fn gaps_inside_a_source_range_are_reported_but_weekends_alone_are_not() {
    let t = table(vec![
        row("2026-11-06", "a@x.com", Source::Csv, sessions(1)), // Friday
        row("2026-11-09", "a@x.com", Source::Csv, sessions(1)), // Monday: only a weekend between
        row("2026-11-12", "a@x.com", Source::Csv, sessions(1)), // Thursday: Tue–Wed missing
    ]);
    let r = compute(&t, None, &opts(4));
    let csv = r
        .health
        .sources
        .iter()
        .find(|s| s.source == Source::Csv)
        .unwrap();
    assert_eq!(csv.gaps, vec![(d("2026-11-10"), d("2026-11-11"))]);

    // A gap from Friday to Monday lists its weekdays only: Friday, then Monday.
    let t = table(vec![
        row("2026-11-12", "a@x.com", Source::Csv, sessions(1)), // Thursday
        row("2026-11-17", "a@x.com", Source::Csv, sessions(1)), // Tuesday
    ]);
    let r = compute(&t, None, &opts(4));
    assert_eq!(
        r.health.sources[0].gaps,
        vec![
            (d("2026-11-13"), d("2026-11-13")),
            (d("2026-11-16"), d("2026-11-16"))
        ]
    );
}

#[test]
fn the_tier_chart_counts_roster_members_not_started_by_each_week() {
    // ann starts in W−1 (2026-11-02), bob in W (2026-11-09), cid in the partial
    // week, dan never; eve is not on the roster and starts in W.
    let t = table(vec![
        row("2026-11-03", "ann@x.com", Source::Csv, sessions(1)),
        row("2026-11-10", "bob@x.com", Source::Csv, sessions(1)),
        row("2026-11-17", "cid@x.com", Source::Csv, sessions(1)),
        row("2026-11-11", "eve@x.com", Source::Csv, sessions(1)),
    ]);
    let r = roster(&[
        ("ann@x.com", "A"),
        ("bob@x.com", "A"),
        ("cid@x.com", "A"),
        ("dan@x.com", "A"),
    ]);
    let rep = compute(&t, Some(&r), &opts(4));
    let bar = |monday: &str| {
        rep.tiers_by_week
            .iter()
            .find(|c| c.week == d(monday))
            .and_then(|c| c.counts.clone())
            .unwrap()
    };
    let (before, w) = (bar("2026-11-02"), bar("2026-11-09"));
    // At W−1: bob, cid and dan had not started; bob, cid and eve start later ("new").
    assert_eq!(
        (before.roster_not_started, before.new, before.non_starter),
        (3, 3, 1)
    );
    // At W: bob started; cid starts in the partial week, so is still "new".
    assert_eq!((w.roster_not_started, w.new, w.non_starter), (2, 1, 1));
    assert_eq!(tier(&rep, "cid@x.com"), Tier::New);
    assert_eq!(tier(&rep, "dan@x.com"), Tier::NonStarter);
    // One label, one meaning: the card, the list and the chart at W say the same.
    assert_eq!(
        rep.non_starters,
        vec![PersonKey::email("cid@x.com"), PersonKey::email("dan@x.com")]
    );
    let cards = rep.kpis.as_ref().unwrap().cards.as_ref().unwrap();
    assert_eq!(cards.not_started.value, Some(2.0));
    let change = cards.not_started.change.as_ref().unwrap();
    assert_eq!((change.before, change.absolute), (3.0, -1.0));
    assert_eq!(
        change.meaning,
        metrics::Meaning::Good,
        "fewer not started is good"
    );
}
