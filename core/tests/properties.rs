//! Properties of the metrics engine that hold for every table (metrics.md §1,
//! §3, §6; table.rs): how rows are loaded must never change a figure, a
//! person-day reported by two sources is counted once, reloading replaces,
//! nothing panics, and an undefined ratio is `None`, never a 0 from a zero
//! denominator.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests state their expectations by unwrapping

use std::collections::BTreeSet;

use chrono::{Duration, NaiveDate};
use proptest::prelude::*;
use scoreboard_core::metrics::{Figures, Report, WeekCoverage, WindowSpec};
use scoreboard_core::{
    compute, DayRow, MeasureSet, Measures, PeriodRow, PersonKey, ReportOptions, Roster,
    RosterEntry, Source, UsageTable,
};

// ---------------------------------------------------------------- generators

/// Keys the sources write: e-mails, and keys only a roster alias maps onto one.
const KEYS: [&str; 10] = [
    "ann@x.com",
    "bob@x.com",
    "cy@x.com",
    "dee@x.com",
    "eve@x.com",
    "fay@x.com",
    "api-key:ci",
    "api-key:laptop",
    "account:user_01",
    "ann.other@y.org",
];
const TEAMS: [&str; 2] = ["red", "blue"];
const SOURCES: [Source; 4] = [
    Source::AdminApi,
    Source::EnterpriseApi,
    Source::Csv,
    Source::Otlp,
];

fn d(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("a test date")
}

fn base() -> NaiveDate {
    d("2026-11-22")
}

fn key(s: &str) -> PersonKey {
    PersonKey::parse(s).expect("a test key")
}

fn measures() -> impl Strategy<Value = Measures> {
    (
        0u8..8,
        0u64..5,
        prop::sample::select(vec![0u64, 7, 10, 10, 25]),
        0u64..6,
        0u64..4,
        prop::sample::select(vec![0i64, 1, 12_345, 1_000_000]),
        0u64..3,
        any::<bool>(),
    )
        .prop_map(
            |(kind, sessions, lines, acc, rej, cost, extra, est)| match kind {
                0 | 1 => Measures::default(),
                2 => Measures {
                    cache_read_tokens: extra * 10,
                    pull_requests: u64::from(extra == 0),
                    cost_micros: cost,
                    ..Measures::default()
                },
                _ => Measures {
                    sessions,
                    lines_added: lines,
                    lines_removed: extra,
                    commits: extra / 2,
                    edits_accepted: acc,
                    edits_rejected: rej,
                    input_tokens: sessions * 50,
                    cost_micros: cost,
                    cost_is_estimated: est && cost > 0,
                    ..Measures::default()
                },
            },
        )
}

fn day_row() -> impl Strategy<Value = DayRow> {
    (0..KEYS.len(), -84i64..=3, 0..SOURCES.len(), measures()).prop_map(|(who, off, src, m)| {
        let mut r = DayRow::new(base() + Duration::days(off), key(KEYS[who]), SOURCES[src]);
        r.measures = m;
        r
    })
}

/// Day rows with distinct (source, person, day): what one load of a parser gives.
fn day_rows(max: usize) -> impl Strategy<Value = Vec<DayRow>> {
    prop::collection::vec(day_row(), 0..max).prop_map(|rows| {
        let mut seen = BTreeSet::new();
        rows.into_iter()
            .filter(|r| seen.insert((r.source, r.person.clone(), r.day)))
            .collect()
    })
}

/// Totals of one person over `start..=end`; a negative length is a period
/// that ends before it starts.
fn period_row(
    starts: std::ops::Range<i64>,
    lengths: std::ops::Range<i64>,
) -> impl Strategy<Value = PeriodRow> {
    (0..KEYS.len(), starts, lengths, 0..SOURCES.len(), measures()).prop_map(
        |(who, off, len, src, m)| PeriodRow {
            start: base() + Duration::days(off),
            end: base() + Duration::days(off + len),
            person: key(KEYS[who]),
            source: SOURCES[src],
            measures: m,
            models: Vec::new(),
            tools: Vec::new(),
            present: MeasureSet::all(),
        },
    )
}

/// Period rows with distinct (source, person, span), as one load gives them.
fn period_rows() -> impl Strategy<Value = Vec<PeriodRow>> {
    prop::collection::vec(period_row(-84..1, 0..20), 0..4).prop_map(|ps| {
        let mut seen = BTreeSet::new();
        ps.into_iter()
            .filter(|p| seen.insert((p.source, p.person.clone(), p.start, p.end)))
            .collect()
    })
}

/// A roster over the e-mail keys, with teams, aliases (some claimed twice) and
/// members who never appear in the data.
fn roster() -> impl Strategy<Value = Option<Roster>> {
    prop::option::weighted(
        0.75,
        (
            prop::collection::vec(prop::option::of(prop::option::of(0..TEAMS.len())), 6),
            prop::collection::vec((6usize..KEYS.len(), 0usize..6), 0..5),
            prop::collection::vec(prop::option::of(0..TEAMS.len()), 0..3),
        )
            .prop_map(|(members, aliases, idle)| {
                let mut entries: Vec<(usize, RosterEntry)> = Vec::new();
                for (i, m) in members.into_iter().enumerate() {
                    if let Some(team) = m {
                        let mut e = RosterEntry::new(key(KEYS[i]));
                        e.team = team.map(|t| TEAMS[t].to_string());
                        entries.push((i, e));
                    }
                }
                for (a, owner) in aliases {
                    if let Some((_, e)) = entries.iter_mut().find(|(i, _)| *i == owner) {
                        e.aliases.push(key(KEYS[a]));
                    }
                }
                for (i, team) in idle.into_iter().enumerate() {
                    let mut e = RosterEntry::new(key(&format!("idle{i}@x.com")));
                    e.team = team.map(|t| TEAMS[t].to_string());
                    entries.push((100 + i, e));
                }
                Roster::new(entries.into_iter().map(|(_, e)| e).collect())
            }),
    )
}

fn options() -> impl Strategy<Value = ReportOptions> {
    (
        -10i64..=10,
        prop_oneof![
            4 => (0u32..14).prop_map(|weeks| WindowSpec::LastWeeks { weeks }),
            1 => Just(WindowSpec::All),
            2 => (-120i64..10, -120i64..10).prop_map(|(a, b)| WindowSpec::Custom { from: base() + Duration::days(a), to: base() + Duration::days(b) }),
        ],
        prop_oneof![3 => Just(None), 1 => prop::sample::select(vec!["red", "blue", "green"]).prop_map(|t| Some(t.to_string()))],
    )
        .prop_map(|(shift, window, team)| ReportOptions { as_of: base() + Duration::days(shift), window, team })
}

/// Every figure the dashboard shows is equal: the report minus the
/// data-health bookkeeping about which rows were loaded (which legitimately
/// differs when a superseded row is added). Parts are compared one by one so
/// that a failure names the part that differs.
fn same_figures(a: &Report, b: &Report) -> Result<(), TestCaseError> {
    prop_assert_eq!(&a.window, &b.window, "window");
    prop_assert_eq!(&a.weeks, &b.weeks, "weeks");
    prop_assert_eq!(&a.totals, &b.totals, "window totals");
    prop_assert_eq!(&a.people, &b.people, "people");
    prop_assert_eq!(&a.tiers_by_week, &b.tiers_by_week, "tier chart");
    prop_assert_eq!(
        (
            &a.non_starters,
            &a.not_on_roster,
            &a.power_users,
            &a.new_this_week
        ),
        (
            &b.non_starters,
            &b.not_on_roster,
            &b.power_users,
            &b.new_this_week
        ),
        "people lists"
    );
    prop_assert_eq!(&a.kpis, &b.kpis, "KPI cards");
    prop_assert_eq!(&a.roster_size, &b.roster_size, "roster size");
    prop_assert_eq!(&a.summary, &b.summary, "summary");
    Ok(())
}

/// The whole report is equal, data health and warnings included.
fn same_report(a: &Report, b: &Report) -> Result<(), TestCaseError> {
    same_figures(a, b)?;
    prop_assert_eq!(&a.health, &b.health, "data health");
    prop_assert_eq!(&a.warnings, &b.warnings, "warnings");
    prop_assert_eq!(a, b, "the rest of the report");
    Ok(())
}

fn table_of(loads: &[&[DayRow]]) -> UsageTable {
    let mut t = UsageTable::new();
    for rows in loads {
        t.insert_days(rows.iter().cloned());
    }
    t
}

// ---------------------------------------------------------------- properties

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    /// The order rows arrive in (file order, parser order, map iteration order) changes nothing.
    #[test]
    fn row_order_does_not_change_any_figure(
        (rows, shuffled) in day_rows(60).prop_flat_map(|rows| (Just(rows.clone()), Just(rows).prop_shuffle())),
        (periods, shuffled_periods) in period_rows().prop_flat_map(|p| (Just(p.clone()), Just(p).prop_shuffle())),
        roster in roster(),
        opts in options(),
    ) {
        let mut a = UsageTable::new();
        a.insert_days(rows);
        a.insert_periods(periods);
        let mut b = UsageTable::new();
        b.insert_periods(shuffled_periods);
        b.insert_days(shuffled);
        same_report(&compute(&a, roster.as_ref(), &opts), &compute(&b, roster.as_ref(), &opts))?;
    }

    /// One export split into two files (overlapping on some days, as two
    /// exports of adjacent ranges do) gives the report of the single export.
    #[test]
    fn splitting_a_source_into_two_loads_changes_nothing(
        rows in day_rows(60),
        cut in (0.0f64..=1.0, 0.0f64..=0.3),
        roster in roster(),
        opts in options(),
    ) {
        let mut sorted = rows.clone();
        sorted.sort_by_key(|r| r.day);
        let end_first = (sorted.len() as f64 * cut.0) as usize;
        let start_second = end_first.saturating_sub((sorted.len() as f64 * cut.1) as usize);
        let whole = table_of(&[&rows]);
        let split = table_of(&[&sorted[..end_first], &sorted[start_second..]]);
        same_report(&compute(&whole, roster.as_ref(), &opts), &compute(&split, roster.as_ref(), &opts))?;
    }

    /// Loading the same file twice is the same as loading it once (a reload
    /// replaces, it never adds), for day rows and period rows.
    #[test]
    fn loading_the_same_file_twice_changes_nothing(
        rows in day_rows(60),
        periods in period_rows(),
        roster in roster(),
        opts in options(),
    ) {
        let mut once = UsageTable::new();
        once.insert_days(rows.clone());
        once.insert_periods(periods.clone());
        let mut twice = once.clone();
        let again = twice.insert_days(rows.clone());
        prop_assert_eq!(again.added, 0);
        prop_assert_eq!(again.replaced, rows.len());
        twice.insert_periods(periods);
        same_report(&compute(&once, roster.as_ref(), &opts), &compute(&twice, roster.as_ref(), &opts))?;
    }

    /// A corrected export replaces the earlier one's person-days: the figures
    /// are those of the corrected rows alone, not a sum. (Rows that carry every
    /// measure: a row without a measure keeps the earlier value, see below.)
    #[test]
    fn a_corrected_reload_replaces_the_earlier_rows(
        rows in day_rows(40),
        corrections in prop::collection::vec(measures(), 40),
        roster in roster(),
        opts in options(),
    ) {
        let corrected: Vec<DayRow> = rows
            .iter()
            .zip(&corrections)
            .map(|(r, m)| DayRow { measures: *m, present: MeasureSet::all(), ..r.clone() })
            .collect();
        let rows: Vec<DayRow> = rows
            .into_iter()
            .map(|r| DayRow { present: MeasureSet::all(), ..r })
            .collect();
        let reloaded = table_of(&[&rows, &corrected]);
        let only_new = table_of(&[&corrected]);
        same_report(&compute(&reloaded, roster.as_ref(), &opts), &compute(&only_new, roster.as_ref(), &opts))?;
    }

    /// §1 "a later file of the same source": a thinner later load replaces
    /// only the measures it carries, in any order of the measures chosen; the
    /// others keep the earlier load's values. Whatever the thin load carries,
    /// the result equals one full load of the merged rows.
    #[test]
    fn a_thinner_later_load_replaces_only_the_measures_it_carries(
        rows in day_rows(40),
        corrections in prop::collection::vec(measures(), 40),
        carried in 0u16..(1 << 11),
        roster in roster(),
        opts in options(),
    ) {
        let carried = MeasureSet::from_bits_truncate(carried);
        let full: Vec<DayRow> = rows
            .into_iter()
            .map(|r| DayRow { present: MeasureSet::all(), ..r })
            .collect();
        let thin: Vec<DayRow> = full
            .iter()
            .zip(&corrections)
            .map(|(r, m)| DayRow { measures: *m, present: carried, ..r.clone() })
            .collect();
        let merged: Vec<DayRow> = full
            .iter()
            .zip(&corrections)
            .map(|(r, m)| {
                let mut expected = r.measures;
                expected.replace(m, carried);
                let mut e = r.clone();
                e.measures = expected;
                if !carried.contains(MeasureSet::EDITS) {
                    e.tools = r.tools.clone();
                }
                e
            })
            .collect();
        let loaded = table_of(&[&full, &thin]);
        let expected = table_of(&[&merged]);
        same_figures(
            &compute(&loaded, roster.as_ref(), &opts),
            &compute(&expected, roster.as_ref(), &opts),
        )?;
    }

    /// §1: a person-day present in two files from different sources counts
    /// once, with the more authoritative row — also when the weaker row is
    /// filed under an alias of the same person, and whichever file is loaded
    /// first. (admin-api and enterprise-api rank equal; the engine takes admin-api.)
    #[test]
    fn a_person_day_in_two_sources_is_not_double_counted(
        base_rows in prop::collection::vec((0usize..6, -84i64..=3, measures()), 0..40),
        extra in prop::collection::vec((any::<bool>(), measures()), 0..40),
        roster in roster(),
        opts in options(),
    ) {
        // Pairs (stronger, weaker).
        const PAIRS: [(Source, Source); 6] = [
            (Source::AdminApi, Source::Csv),
            (Source::AdminApi, Source::Otlp),
            (Source::EnterpriseApi, Source::Csv),
            (Source::EnterpriseApi, Source::Otlp),
            (Source::Csv, Source::Otlp),
            (Source::AdminApi, Source::EnterpriseApi),
        ];
        // One row per person-day (by e-mail), each with a pair of sources.
        let mut seen = BTreeSet::new();
        let mut strong: Vec<DayRow> = Vec::new();
        let mut pair_of: Vec<(Source, Source)> = Vec::new();
        for (i, (who, off, m)) in base_rows.into_iter().enumerate() {
            let day = base() + Duration::days(off);
            if !seen.insert((who, day)) {
                continue;
            }
            let pair = PAIRS[i % PAIRS.len()];
            let mut r = DayRow::new(day, key(KEYS[who]), pair.0);
            r.measures = m;
            strong.push(r);
            pair_of.push(pair);
        }
        // The same person-days from the weaker source, with other measures,
        // sometimes under one of the person's aliases.
        let mut weak: Vec<DayRow> = Vec::new();
        let mut weak_seen = BTreeSet::new();
        for (i, (use_alias, m)) in extra.iter().enumerate() {
            let Some(s) = strong.get(i) else { break };
            // An alias that the roster resolves to this very person.
            let alias = roster.as_ref().and_then(|r| {
                let e = r.entry_for(&s.person)?;
                e.aliases.iter().find(|a| r.resolve(a) == s.person).cloned()
            });
            let person = if *use_alias { alias.unwrap_or_else(|| s.person.clone()) } else { s.person.clone() };
            if !weak_seen.insert((person.clone(), s.day)) {
                continue;
            }
            let mut r = DayRow::new(s.day, person, pair_of[i].1);
            r.measures = *m;
            weak.push(r);
        }
        // The weaker source still covers its days (metrics.md §2): the strong
        // rows alone, over the days both loads cover.
        let mut strong_only = table_of(&[&strong]);
        for c in table_of(&[&strong, &weak]).coverage() {
            strong_only.add_source_coverage(&c);
        }
        let only_strong = compute(&strong_only, roster.as_ref(), &opts);
        let strong_first = compute(&table_of(&[&strong, &weak]), roster.as_ref(), &opts);
        let weak_first = compute(&table_of(&[&weak, &strong]), roster.as_ref(), &opts);
        same_figures(&strong_first, &only_strong)?;
        same_figures(&weak_first, &only_strong)?;
        // The overlap is reported, not hidden (§1: the data-health panel).
        let overlapping = weak.len() as u64;
        prop_assert_eq!(strong_first.health.multi_source_person_days, overlapping);
    }

    /// Nothing panics, whatever the table, roster and options, and every
    /// ratio is `None` exactly when its denominator is zero.
    #[test]
    fn the_report_never_panics_and_undefined_ratios_are_none(
        rows in prop::collection::vec(wild_day_row(), 0..80),
        periods in prop::collection::vec(wild_period_row(), 0..6),
        roster in wild_roster(),
        opts in wild_options(),
    ) {
        let mut t = UsageTable::new();
        t.insert_days(rows);
        t.insert_periods(periods);
        let r = compute(&t, roster.as_ref(), &opts);
        check_ratios(&r)?;
    }
}

// ---------------------------------------------------------------- "never panics" inputs

/// Rows as odd as parsers may let through: any source, repeated keys within
/// one load, odd keys, zero rows, large (but summable) values, negative cost,
/// days far from `as_of` on both sides.
fn wild_day_row() -> impl Strategy<Value = DayRow> {
    let big = prop_oneof![4 => 0u64..10, 1 => 0u64..(1u64 << 40)];
    (
        prop_oneof![4 => (0..KEYS.len()).prop_map(|i| KEYS[i].to_string()), 1 => "[a-z:@.]{1,12}"],
        prop_oneof![8 => -400i64..=30, 1 => -20_000i64..20_000],
        0..SOURCES.len(),
        (big.clone(), big.clone(), big.clone(), big.clone(), big),
        prop_oneof![3 => Just(0i64), 1 => -(1i64 << 40)..(1i64 << 40)],
        any::<bool>(),
    )
        .prop_filter_map("a key", |(who, off, src, (a, b, c, e, f), cost, est)| {
            let mut r = DayRow::new(
                base() + Duration::days(off),
                PersonKey::parse(&who)?,
                SOURCES[src],
            );
            r.measures = Measures {
                sessions: a,
                lines_added: b,
                edits_accepted: c,
                edits_rejected: e,
                output_tokens: f,
                cost_micros: cost,
                cost_is_estimated: est,
                ..Measures::default()
            };
            Some(r)
        })
}

fn wild_period_row() -> impl Strategy<Value = PeriodRow> {
    period_row(-400..30, -10..60)
}

/// Rosters with duplicate persons, aliases claimed twice, aliases that are
/// other members' e-mails, empty teams and members never seen.
fn wild_roster() -> impl Strategy<Value = Option<Roster>> {
    prop::option::of(prop::collection::vec(
        (
            prop_oneof![3 => (0..KEYS.len()).prop_map(|i| KEYS[i].to_string()), 1 => "[a-z]{1,5}@x\\.com"],
            prop::option::of(prop::sample::select(vec!["red", "blue", ""])),
            prop::option::of(-400i64..30),
            prop::collection::vec((0..KEYS.len()).prop_map(|i| KEYS[i].to_string()), 0..3),
        ),
        0..10,
    ))
    .prop_map(|entries| {
        entries.map(|list| {
            Roster::new(
                list.into_iter()
                    .map(|(who, team, start, aliases)| {
                        let mut e = RosterEntry::new(key(&who));
                        e.team = team.map(str::to_string);
                        e.start = start.map(|s| base() + Duration::days(s));
                        e.aliases = aliases.iter().map(|a| key(a)).collect();
                        e
                    })
                    .collect(),
            )
        })
    })
}

fn wild_options() -> impl Strategy<Value = ReportOptions> {
    (
        -400i64..400,
        prop_oneof![
            3 => (0u32..600).prop_map(|weeks| WindowSpec::LastWeeks { weeks }),
            1 => Just(WindowSpec::All),
            2 => (-3_000i64..3_000, -3_000i64..3_000).prop_map(|(a, b)| WindowSpec::Custom { from: base() + Duration::days(a), to: base() + Duration::days(b) }),
        ],
        prop::option::of(prop::sample::select(vec!["red", "blue", "", "green"])),
    )
        .prop_map(|(shift, window, team)| ReportOptions { as_of: base() + Duration::days(shift), window, team: team.map(str::to_string) })
}

fn ratio_ok(what: &str, value: Option<f64>, num: u64, den: u64) -> Result<(), TestCaseError> {
    match value {
        None => prop_assert_eq!(
            den,
            0,
            "{} is None with a non-zero denominator {}",
            what,
            den
        ),
        Some(v) => {
            prop_assert!(den != 0, "{} is Some({}) from a zero denominator", what, v);
            prop_assert!(v.is_finite(), "{} is {}", what, v);
            prop_assert_eq!(
                v,
                num as f64 / den as f64,
                "{} is not {}/{}",
                what,
                num,
                den
            );
        }
    }
    Ok(())
}

fn cost_ratio_ok(
    what: &str,
    value: Option<f64>,
    cost: i64,
    persons: u64,
) -> Result<(), TestCaseError> {
    match value {
        None => prop_assert_eq!(
            persons,
            0,
            "{} is None with {} active persons",
            what,
            persons
        ),
        Some(v) => {
            prop_assert!(persons != 0, "{} is Some({}) with nobody active", what, v);
            prop_assert!(v.is_finite(), "{} is {}", what, v);
            prop_assert_eq!(
                v,
                cost as f64 / 1_000_000.0 / persons as f64,
                "{} is not {} µ$ / {}",
                what,
                cost,
                persons
            );
        }
    }
    Ok(())
}

fn figures_ok(what: &str, f: &Figures) -> Result<(), TestCaseError> {
    match f.roster_size {
        None => prop_assert_eq!(
            f.adoption_rate,
            None,
            "adoption without a roster in {}",
            what
        ),
        Some(n) => {
            ratio_ok(
                &format!("adoption {what}"),
                f.adoption_rate,
                f.active_roster_members,
                n,
            )?;
            prop_assert!(
                f.active_roster_members <= n,
                "{} active roster members of {} in {}",
                f.active_roster_members,
                n,
                what
            );
        }
    }
    let t = &f.totals;
    ratio_ok(
        &format!("acceptance {what}"),
        t.acceptance_rate,
        t.edits_accepted,
        t.edits_accepted + t.edits_rejected,
    )?;
    cost_ratio_ok(
        &format!("cost per engineer {what}"),
        f.cost_per_active_engineer_usd,
        t.cost_micros,
        f.active_engineers,
    )?;
    ratio_ok(
        &format!("lines per engineer {what}"),
        f.lines_per_active_engineer,
        t.lines_accepted,
        f.active_engineers,
    )?;
    ratio_ok(
        &format!("sessions per engineer {what}"),
        f.sessions_per_active_engineer,
        t.sessions,
        f.active_engineers,
    )?;
    prop_assert!(f.active_roster_members <= f.active_engineers);
    Ok(())
}

fn check_ratios(r: &Report) -> Result<(), TestCaseError> {
    let weeks = r.weeks.iter().chain(
        r.kpis
            .iter()
            .flat_map(|k| std::iter::once(&k.week).chain(k.previous.as_ref())),
    );
    for w in weeks {
        // No data is not zero: a week without coverage has no figures at all.
        prop_assert_eq!(
            w.figures.is_none(),
            w.coverage == WeekCoverage::Uncovered,
            "figures of {} vs its coverage",
            w.label
        );
        if let Some(f) = &w.figures {
            figures_ok(&w.label, f)?;
        }
    }
    if let Some(reference) = r.window.reference_week {
        let w = r.weeks.iter().find(|w| w.week == reference);
        prop_assert!(
            w.is_some_and(|w| w.is_comparable()),
            "the reference week is complete and covered"
        );
    }
    prop_assert_eq!(
        r.tiers_by_week.len(),
        r.weeks.len(),
        "the tier chart spans the weeks"
    );
    figures_ok("window", &r.totals.figures)?;
    for p in &r.people {
        ratio_ok(
            &format!("acceptance of {}", p.person),
            p.totals.acceptance_rate,
            p.totals.edits_accepted,
            p.totals.edits_accepted + p.totals.edits_rejected,
        )?;
    }
    Ok(())
}

// ---------------------------------------------------------------- fixed cases of the properties

/// The smallest case of §1, worked by hand: CSV says 5 sessions, telemetry
/// says 3 for the same person-day; the week has 5, not 8, whichever file came first.
#[test]
fn csv_beats_telemetry_on_one_person_day_whichever_loads_first() {
    let day = d("2026-11-10");
    let mut csv = DayRow::new(day, key("ann@x.com"), Source::Csv);
    csv.measures = Measures {
        sessions: 5,
        lines_added: 40,
        ..Measures::default()
    };
    let mut otlp = DayRow::new(day, key("ann@x.com"), Source::Otlp);
    otlp.measures = Measures {
        sessions: 3,
        lines_added: 90,
        cost_micros: 7,
        ..Measures::default()
    };
    let opts = ReportOptions::last_weeks(base(), 2);
    for t in [
        table_of(&[&[csv.clone()], &[otlp.clone()]]),
        table_of(&[&[otlp.clone()], &[csv.clone()]]),
    ] {
        let r = compute(&t, None, &opts);
        let w = r
            .weeks
            .iter()
            .find(|w| w.week == d("2026-11-09"))
            .and_then(|w| w.figures.as_ref())
            .expect("the week");
        assert_eq!(
            (
                w.active_engineers,
                w.totals.sessions,
                w.totals.lines_accepted,
                w.totals.cost_micros
            ),
            (1, 5, 40, 0)
        );
        assert_eq!(r.health.multi_source_person_days, 1);
    }
}

/// The same file loaded twice: 4 sessions stay 4.
#[test]
fn the_same_file_twice_is_counted_once() {
    let mut r = DayRow::new(d("2026-11-10"), key("ann@x.com"), Source::Csv);
    r.measures = Measures {
        sessions: 4,
        ..Measures::default()
    };
    let t = table_of(&[&[r.clone()], &[r]]);
    let rep = compute(&t, None, &ReportOptions::last_weeks(base(), 2));
    let w = rep
        .weeks
        .iter()
        .find(|w| w.week == d("2026-11-09"))
        .and_then(|w| w.figures.as_ref())
        .expect("the week");
    assert_eq!(w.totals.sessions, 4);
}

/// Empty table, no roster, a team filter, and weeks without decisions: every
/// ratio is `None`, no figure is a made-up 0 %.
#[test]
fn an_empty_selection_has_no_ratios() {
    let r = compute(
        &UsageTable::new(),
        None,
        &ReportOptions {
            as_of: base(),
            window: WindowSpec::LastWeeks { weeks: 4 },
            team: Some("red".into()),
        },
    );
    assert!(!r.weeks.is_empty());
    for w in &r.weeks {
        assert_eq!(w.figures, None, "{}: nothing covers it", w.label);
    }
    let t = &r.totals.figures;
    assert_eq!(
        (
            t.adoption_rate,
            t.totals.acceptance_rate,
            t.cost_per_active_engineer_usd
        ),
        (None, None, None)
    );
}

/// A roster whose selected team is empty: adoption is undefined (0 ÷ 0), not 0 %.
#[test]
fn adoption_over_an_empty_team_is_none() {
    let mut e = RosterEntry::new(key("ann@x.com"));
    e.team = Some("red".into());
    let roster = Roster::new(vec![e]);
    let mut row = DayRow::new(d("2026-11-10"), key("ann@x.com"), Source::Csv);
    row.measures.sessions = 1;
    let r = compute(
        &table_of(&[&[row]]),
        Some(&roster),
        &ReportOptions {
            as_of: base(),
            window: WindowSpec::LastWeeks { weeks: 2 },
            team: Some("blue".into()),
        },
    );
    assert_eq!(r.roster_size, Some(0));
    assert!(r
        .weeks
        .iter()
        .filter_map(|w| w.figures.as_ref())
        .all(|f| f.adoption_rate.is_none()));
    assert_eq!(r.totals.figures.adoption_rate, None);
}

/// Nothing panics on input (DEVELOPERS.md): the parsers saturate absurd
/// counts at u64::MAX (parse/lenient.rs), so two such rows in one week must
/// still give a report.
#[test]
fn saturated_counts_from_a_parser_do_not_panic_the_report() {
    let rows: Vec<DayRow> = ["ann@x.com", "bob@x.com"]
        .iter()
        .map(|who| {
            let mut r = DayRow::new(d("2026-11-10"), key(who), Source::Csv);
            r.measures = Measures {
                sessions: u64::MAX,
                edits_accepted: u64::MAX,
                cost_micros: i64::MAX,
                ..Measures::default()
            };
            r
        })
        .collect();
    let r = std::panic::catch_unwind(|| {
        compute(
            &table_of(&[&rows]),
            None,
            &ReportOptions::last_weeks(base(), 2),
        )
    });
    assert!(
        r.is_ok(),
        "compute panicked on two rows of saturated counts"
    );
}

/// Nothing panics on input: the number of weeks comes from the user
/// (`scoreboard report --weeks N`, the dashboard's range); an absurd one is
/// not a reason to crash.
#[test]
fn an_absurd_number_of_weeks_does_not_panic() {
    let mut row = DayRow::new(d("2026-11-10"), key("ann@x.com"), Source::Csv);
    row.measures.sessions = 1;
    let t = table_of(&[&[row]]);
    for weeks in [u32::MAX, 1 << 31, 20_000_000] {
        let r = std::panic::catch_unwind(|| {
            compute(&t, None, &ReportOptions::last_weeks(base(), weeks))
        });
        assert!(
            r.is_ok(),
            "compute panicked for LastWeeks {{ weeks: {weeks} }}"
        );
    }
}
