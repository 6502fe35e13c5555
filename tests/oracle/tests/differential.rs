//! Differential test: the metrics engine (`scoreboard_core::compute`) and the
//! polars oracle (`scoreboard_oracle::oracle`) must agree exactly on every
//! weekly figure, the window totals, every person's tier and sums, and the
//! people lists, over randomised tables, rosters and options.
//!
//! The random data is shaped to hit the contract's edges: several sources for
//! the same person-day (admin-api and enterprise-api together too), roster
//! aliases (`api-key:…`, `account:…`, second e-mails, an alias claimed twice),
//! persons not on the roster, roster members never active, rows of zeros,
//! windows across a year boundary (ISO 2026-W53, 2020-W53), the partial
//! current week, data after `as_of`, team filters and ties in lines accepted.
//! The run fails if the cases did not actually exercise each of these.
//!
//! Integers must be equal; ratios must be equal as f64 computed num ÷ den.
//! The run is seeded (reproducible); set `SCOREBOARD_ORACLE_SEED=<u64>` to
//! explore other data and `PROPTEST_CASES=<n>` for more or fewer cases.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests state their expectations by unwrapping

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{Datelike, Duration, NaiveDate};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestRng, TestRunner};
use scoreboard_core::metrics::{Report, Tier, WeekCoverage};
use scoreboard_core::{
    compute, DayRange, DayRow, MeasureSet, Measures, PersonKey, ReportOptions, Roster, RosterEntry,
    Source, UsageTable, WindowSpec,
};
use scoreboard_oracle::oracle::{self, Input, Output};

// ---------------------------------------------------------------- the data

/// Person keys as the sources write them: e-mails 0..8, then keys that only
/// a roster alias can map onto an e-mail.
const KEYS: [&str; 12] = [
    "e0@x.com",
    "e1@x.com",
    "e2@x.com",
    "e3@x.com",
    "e4@x.com",
    "e5@x.com",
    "e6@x.com",
    "e7@x.com",
    "api-key:ci-bot",
    "api-key:laptop",
    "account:user_01abc",
    "alt@y.org",
];
/// Roster members that never appear in any source.
const IDLE: [&str; 2] = ["idle0@x.com", "idle1@x.com"];
const TEAMS: [&str; 2] = ["red", "blue"];

/// `as_of` dates: the project's "today", a Monday, and dates whose windows
/// cross a year boundary (2026-12-28..2027-01-03 is 2026-W53; 2020-W53 too).
const AS_OF: [&str; 7] = [
    "2026-11-22",
    "2026-11-23",
    "2027-01-06",
    "2027-01-04",
    "2026-01-02",
    "2021-01-05",
    "2026-02-10",
];

fn d(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("a test date")
}

#[derive(Debug, Clone)]
struct Case {
    rows: Vec<DayRow>,
    /// A thinner later file of the same sources (metrics.md §1), loaded after `rows`.
    later: Vec<DayRow>,
    roster: Option<Vec<RosterEntry>>,
    as_of: NaiveDate,
    window: WindowSpec,
    team: Option<String>,
}

const SOURCES: [Source; 4] = [
    Source::AdminApi,
    Source::EnterpriseApi,
    Source::Csv,
    Source::Otlp,
];

fn measures() -> impl Strategy<Value = Measures> {
    (
        0u8..10,
        0u64..4,
        prop::sample::select(vec![0u64, 10, 20, 30, 40]),
        0u64..5,
        0u64..3,
        prop::sample::select(vec![0i64, 1, 1_500, 250_000]),
        0u64..3,
    )
        .prop_map(
            |(kind, sessions, lines, acc, rej, cost, extra)| match kind {
                // A row of zeros: present, but not activity.
                0 | 1 => Measures::default(),
                // Activity without sessions or lines (tokens, cost, a commit).
                2 => Measures {
                    input_tokens: extra * 1000,
                    cost_micros: cost,
                    commits: u64::from(extra == 0),
                    ..Measures::default()
                },
                _ => Measures {
                    sessions,
                    lines_added: lines,
                    lines_removed: extra * 3,
                    edits_accepted: acc,
                    edits_rejected: rej,
                    output_tokens: sessions * 100,
                    cost_micros: cost,
                    ..Measures::default()
                },
            },
        )
}

/// Key index, day offset from `as_of`, which sources report it (bits of
/// [`SOURCES`]), and each source's measures.
type PersonDay = (usize, i64, u8, Vec<Measures>);
/// Key index, then per week: day of the week, measures, source index.
type Steady = (usize, Vec<(i64, Measures, usize)>);
/// Roster members (absent / no team / team), idle members, aliases (key, owner).
type RosterSpec = (Vec<Option<u8>>, Vec<Option<u8>>, Vec<(usize, usize)>);

/// One person-day as reported by one to four sources, each with its own measures.
fn person_day() -> impl Strategy<Value = PersonDay> {
    let offset = prop_oneof![
        8 => -63i64..=0,
        1 => -130i64..-63,
        1 => 1i64..=4, // after as_of: clocks, time zones, a re-run
    ];
    (
        0..KEYS.len(),
        offset,
        1u8..16,
        prop::collection::vec(measures(), 4),
    )
}

fn roster_spec() -> impl Strategy<Value = Option<RosterSpec>> {
    // Per e-mail person (0..8) and idle member: absent / no team / team.
    let member = prop_oneof![3 => Just(None), 2 => Just(Some(0u8)), 3 => Just(Some(1u8)), 3 => Just(Some(2u8))];
    prop::option::weighted(
        0.8,
        (
            prop::collection::vec(member.clone(), 8),
            prop::collection::vec(member, IDLE.len()),
            // Aliases: (key, roster candidate 0..10). Keys 8..12 are the typical ones; an
            // e-mail key as an alias is a second address (or a conflict with a member).
            prop::collection::vec(
                (prop_oneof![4 => 8usize..12, 1 => 0usize..8], 0usize..10),
                0..6,
            ),
        ),
    )
}

/// Engineers who use it every week: one row in each of the six weeks before
/// the current one, so that "active in all 4 weeks" (power, regular) is common.
fn steady() -> impl Strategy<Value = Vec<Steady>> {
    prop::collection::vec(
        (
            0usize..8,
            prop::collection::vec((0i64..7, measures(), 0..SOURCES.len()), 6),
        ),
        0..5,
    )
}

/// The measures a thinner later file carries: lines only (date, e-mail and
/// lines accepted), sessions and cost, the edits, none but the key columns.
const THIN: [MeasureSet; 4] = [
    MeasureSet::LINES_ADDED,
    MeasureSet::SESSIONS.union(MeasureSet::COST),
    MeasureSet::EDITS,
    MeasureSet::empty(),
];

/// A later file: (which earlier row's person-day, which columns, values).
type LaterSpec = Vec<(usize, usize, Measures)>;

fn later_spec() -> impl Strategy<Value = LaterSpec> {
    prop_oneof![
        1 => Just(Vec::new()),
        2 => prop::collection::vec((0usize..200, 0..THIN.len(), measures()), 1..12),
    ]
}

/// A parser gives 0 for a measure its file has no column for; `present` says it is unknown.
fn thin(m: &Measures, present: MeasureSet) -> Measures {
    let keep = |set: MeasureSet, v: u64| if present.contains(set) { v } else { 0 };
    Measures {
        sessions: keep(MeasureSet::SESSIONS, m.sessions),
        lines_added: keep(MeasureSet::LINES_ADDED, m.lines_added),
        lines_removed: keep(MeasureSet::LINES_REMOVED, m.lines_removed),
        commits: keep(MeasureSet::COMMITS, m.commits),
        pull_requests: keep(MeasureSet::PULL_REQUESTS, m.pull_requests),
        edits_accepted: keep(MeasureSet::EDITS, m.edits_accepted),
        edits_rejected: keep(MeasureSet::EDITS, m.edits_rejected),
        input_tokens: keep(MeasureSet::INPUT_TOKENS, m.input_tokens),
        output_tokens: keep(MeasureSet::OUTPUT_TOKENS, m.output_tokens),
        cache_read_tokens: keep(MeasureSet::CACHE_READ_TOKENS, m.cache_read_tokens),
        cache_creation_tokens: keep(MeasureSet::CACHE_CREATION_TOKENS, m.cache_creation_tokens),
        cost_micros: if present.contains(MeasureSet::COST) {
            m.cost_micros
        } else {
            0
        },
        cost_is_estimated: present.contains(MeasureSet::COST) && m.cost_is_estimated,
    }
}

/// The later file's rows: person-days of earlier rows, one row per key (a
/// parser sums a file's rows per person-day), carrying only its columns.
fn later_rows(rows: &[DayRow], spec: LaterSpec) -> Vec<DayRow> {
    let mut out: Vec<DayRow> = Vec::new();
    if rows.is_empty() {
        return out;
    }
    for (pick, columns, m) in spec {
        let earlier = &rows[pick % rows.len()];
        let present = THIN[columns];
        if out
            .iter()
            .any(|r| (r.source, &r.person, r.day) == (earlier.source, &earlier.person, earlier.day))
        {
            continue;
        }
        let mut r = DayRow::new(earlier.day, earlier.person.clone(), earlier.source);
        r.measures = thin(&m, present);
        r.present = present;
        out.push(r);
    }
    out
}

fn case() -> impl Strategy<Value = Case> {
    (
        (
            prop::collection::vec(person_day(), 0..70),
            steady(),
            later_spec(),
        ),
        roster_spec(),
        0..AS_OF.len(),
        prop_oneof![
            5 => (0u32..10).prop_map(|weeks| (0u8, weeks, 0i64, 0i64)),
            1 => Just((1u8, 0, 0, 0)),
            2 => (-100i64..10, -100i64..10).prop_map(|(a, b)| (2u8, 0, a, b)),
            // Only the current, partial week: no complete week in the window.
            1 => Just((3u8, 0, 0, 0)),
        ],
        prop_oneof![3 => Just(None), 1 => (0usize..3).prop_map(Some)],
    )
        .prop_map(|((days, steady, later), roster, as_of, window, team)| {
            let as_of = d(AS_OF[as_of]);
            let mut rows = Vec::new();
            let current_monday =
                as_of - Duration::days(i64::from(as_of.weekday().num_days_from_monday()));
            for (who, weeks) in steady {
                for (k, (dow, m, src)) in weeks.into_iter().enumerate() {
                    let day =
                        current_monday - Duration::days(7 * (6 - k as i64)) + Duration::days(dow);
                    let mut r = DayRow::new(day, key(KEYS[who]), SOURCES[src]);
                    r.measures = m;
                    rows.push(r);
                }
            }
            for (who, off, mask, ms) in days {
                for (i, source) in SOURCES.iter().enumerate() {
                    if mask & (1 << i) != 0 {
                        let mut r =
                            DayRow::new(as_of + Duration::days(off), key(KEYS[who]), *source);
                        r.measures = ms[i];
                        rows.push(r);
                    }
                }
            }
            let roster = roster.map(|(members, idle, aliases)| {
                let team = |t: u8| (t > 0).then(|| TEAMS[usize::from(t) - 1].to_string());
                let mut entries: Vec<(usize, RosterEntry)> = Vec::new();
                for (i, m) in members.iter().enumerate() {
                    if let Some(t) = m {
                        let mut e = RosterEntry::new(key(KEYS[i]));
                        e.team = team(*t);
                        entries.push((i, e));
                    }
                }
                for (i, m) in idle.iter().enumerate() {
                    if let Some(t) = m {
                        let mut e = RosterEntry::new(key(IDLE[i]));
                        e.team = team(*t);
                        entries.push((8 + i, e));
                    }
                }
                for (alias, owner) in aliases {
                    if let Some((_, e)) = entries.iter_mut().find(|(i, _)| *i == owner) {
                        let k = key(KEYS[alias]);
                        if k != e.person && !e.aliases.contains(&k) {
                            e.aliases.push(k);
                        }
                    }
                }
                entries.into_iter().map(|(_, e)| e).collect()
            });
            let window = match window {
                (0, weeks, _, _) => WindowSpec::LastWeeks { weeks },
                (1, _, _, _) => WindowSpec::All,
                (2, _, a, b) => WindowSpec::Custom {
                    from: as_of + Duration::days(a * 7 / 2),
                    to: as_of + Duration::days(b),
                },
                _ => WindowSpec::Custom {
                    from: as_of,
                    to: as_of,
                },
            };
            let team = team.map(|t| ["red", "blue", "nobody"][t].to_string());
            let later = later_rows(&rows, later);
            Case {
                later,
                rows,
                roster,
                as_of,
                window,
                team,
            }
        })
}

fn key(s: &str) -> PersonKey {
    PersonKey::parse(s).expect("a test key")
}

// ---------------------------------------------------------------- coverage

/// What the random cases must have exercised, counted over the whole run.
#[derive(Debug)]
struct Coverage {
    counters: BTreeMap<&'static str, AtomicU64>,
}

impl Coverage {
    fn new() -> Coverage {
        let names = [
            "person-day with several sources",
            "admin-api and enterprise-api on one person-day",
            "winning row is zeros, a weaker source has activity",
            "alias row resolved onto a roster e-mail",
            "alias claimed by two roster members",
            "person not on the roster",
            "roster member never active",
            "row of zeros",
            "window across a year boundary",
            "active in the partial current week",
            "data after as_of",
            "team filter",
            "no roster",
            "tie at the power-user threshold",
            "tier power",
            "tier regular",
            "tier occasional",
            "tier lapsed",
            "tier new",
            "tier non_starter",
            "acceptance rate undefined in a week",
            "nobody active in a week",
            "adoption rate over an empty team",
            "window with no complete week",
            "week of the window no source covers",
            "complete week partly covered",
            "later file without a measure the earlier row had",
        ];
        Coverage {
            counters: names.into_iter().map(|n| (n, AtomicU64::new(0))).collect(),
        }
    }
    fn hit(&self, name: &'static str, yes: bool) {
        if yes {
            self.counters
                .get(name)
                .unwrap_or_else(|| panic!("unknown counter {name}"))
                .fetch_add(1, Ordering::Relaxed);
        }
    }
    fn report(&self) -> String {
        self.counters
            .iter()
            .map(|(n, c)| format!("{n}: {}", c.load(Ordering::Relaxed)))
            .collect::<Vec<_>>()
            .join("\n  ")
    }
    fn missing(&self) -> Vec<&'static str> {
        self.counters
            .iter()
            .filter(|(_, c)| c.load(Ordering::Relaxed) == 0)
            .map(|(n, _)| *n)
            .collect()
    }
}

fn record(cov: &Coverage, case: &Case, table: &UsageTable, out: &Output) {
    let days: Vec<DayRow> = table.day_rows().collect();
    cov.hit(
        "later file without a measure the earlier row had",
        case.later.iter().any(|l| {
            case.rows.iter().any(|r| {
                (r.source, &r.person, r.day) == (l.source, &l.person, l.day)
                    && r.measures.is_active()
                    && !l.present.is_all()
            })
        }),
    );
    let mut by_day: BTreeMap<(String, NaiveDate), Vec<&DayRow>> = BTreeMap::new();
    let roster = case.roster.as_ref().map(|r| Roster::new(r.clone()));
    for r in &days {
        let p = roster
            .as_ref()
            .map_or(r.person.clone(), |ro| ro.resolve(&r.person));
        by_day
            .entry((p.as_str().to_string(), r.day))
            .or_default()
            .push(r);
    }
    let multi: Vec<&Vec<&DayRow>> = by_day
        .values()
        .filter(|v| v.iter().any(|r| r.source != v[0].source))
        .collect();
    cov.hit("person-day with several sources", !multi.is_empty());
    cov.hit(
        "admin-api and enterprise-api on one person-day",
        multi.iter().any(|v| {
            v.iter().any(|r| r.source == Source::AdminApi)
                && v.iter().any(|r| r.source == Source::EnterpriseApi)
        }),
    );
    cov.hit(
        "winning row is zeros, a weaker source has activity",
        multi.iter().any(|v| {
            let best = v.iter().map(|r| r.source.precedence()).max().unwrap_or(0);
            v.iter()
                .all(|r| r.source.precedence() < best || !r.measures.is_active())
                && v.iter().any(|r| r.measures.is_active())
        }),
    );
    cov.hit(
        "alias row resolved onto a roster e-mail",
        roster
            .as_ref()
            .is_some_and(|ro| days.iter().any(|r| ro.resolve(&r.person) != r.person)),
    );
    cov.hit(
        "alias claimed by two roster members",
        roster.as_ref().is_some_and(|ro| !ro.conflicts().is_empty()),
    );
    cov.hit("person not on the roster", !out.not_on_roster.is_empty());
    cov.hit("roster member never active", !out.non_starters.is_empty());
    cov.hit("row of zeros", days.iter().any(|r| !r.measures.is_active()));
    cov.hit(
        "window across a year boundary",
        out.weeks.iter().any(|w| {
            w.monday.year() != (w.monday + Duration::days(6)).year() && w.active_engineers > 0
        }),
    );
    cov.hit(
        "active in the partial current week",
        out.weeks
            .iter()
            .any(|w| !w.complete && w.active_engineers > 0),
    );
    cov.hit(
        "data after as_of",
        days.iter()
            .any(|r| r.day > case.as_of && r.measures.is_active()),
    );
    cov.hit("team filter", case.team.is_some() && !out.people.is_empty());
    cov.hit("no roster", case.roster.is_none() && !out.people.is_empty());
    if let Some(t) = out.power_threshold {
        let at = out
            .people
            .values()
            .filter(|p| p.active_weeks_of_last_4 > 0 && p.lines_accepted_last_4 == t)
            .count();
        cov.hit(
            "tie at the power-user threshold",
            at >= 2 && !out.power_users.is_empty(),
        );
    }
    for p in out.people.values() {
        cov.hit(
            match p.tier {
                Tier::Power => "tier power",
                Tier::Regular => "tier regular",
                Tier::Occasional => "tier occasional",
                Tier::Lapsed => "tier lapsed",
                Tier::New => "tier new",
                Tier::NonStarter => "tier non_starter",
            },
            true,
        );
    }
    cov.hit(
        "acceptance rate undefined in a week",
        out.weeks
            .iter()
            .any(|w| w.acceptance_rate().is_none() && w.active_engineers > 0),
    );
    cov.hit(
        "nobody active in a week",
        out.weeks.iter().any(|w| w.active_engineers == 0),
    );
    cov.hit(
        "adoption rate over an empty team",
        out.roster_size == Some(0),
    );
    cov.hit("window with no complete week", out.reference_week.is_none());
    cov.hit(
        "week of the window no source covers",
        out.weeks.iter().any(|w| w.covered_days == 0),
    );
    cov.hit(
        "complete week partly covered",
        out.weeks
            .iter()
            .any(|w| w.complete && (1..7).contains(&w.covered_days)),
    );
}

// ---------------------------------------------------------------- the comparison

fn sorted(v: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut v: Vec<String> = v.into_iter().collect();
    v.sort();
    v
}

fn keys(v: &[PersonKey]) -> Vec<String> {
    sorted(v.iter().map(|k| k.as_str().to_string()))
}

/// Tier counts of the oracle at one week, in the chart's shape.
fn tier_counts(out: &Output) -> [u64; 6] {
    let mut c = [0u64; 6];
    for p in out.people.values() {
        let i = Tier::ALL.iter().position(|t| *t == p.tier).unwrap_or(5);
        c[i] += 1;
    }
    c
}

/// A row as the figures see it: key, measures and which of them it carries.
fn row_key(r: &DayRow) -> (Source, String, NaiveDate, Measures, MeasureSet) {
    (
        r.source,
        r.person.as_str().to_string(),
        r.day,
        r.measures,
        r.present,
    )
}

fn check(case: &Case, cov: &Coverage) -> Result<(), TestCaseError> {
    let mut table = UsageTable::new();
    table.insert_days(case.rows.clone());
    table.insert_days(case.later.clone());
    // §1: the oracle merges the loads itself, from the rows as loaded.
    let loaded: Vec<DayRow> = case.rows.iter().chain(&case.later).cloned().collect();
    let merged = oracle::merge_loads(&loaded)
        .map_err(|e| TestCaseError::fail(format!("oracle merge failed: {e}")))?;
    let mut engine_rows: Vec<_> = table.day_rows().map(|r| row_key(&r)).collect();
    let mut oracle_rows: Vec<_> = merged.iter().map(row_key).collect();
    engine_rows.sort_by(|a, b| (a.0, &a.1, a.2).cmp(&(b.0, &b.1, b.2)));
    oracle_rows.sort_by(|a, b| (a.0, &a.1, a.2).cmp(&(b.0, &b.1, b.2)));
    prop_assert_eq!(
        engine_rows,
        oracle_rows,
        "the canonical table after the later file"
    );
    let roster = case.roster.as_ref().map(|r| Roster::new(r.clone()));
    let opts = ReportOptions {
        as_of: case.as_of,
        window: case.window,
        team: case.team.clone(),
    };
    let report: Report = compute(&table, roster.as_ref(), &opts);

    let coverage = table.coverage();
    let input = Input {
        rows: &merged,
        coverage: &coverage,
        roster: case.roster.as_deref(),
        as_of: case.as_of,
        window: case.window,
        team: case.team.as_deref(),
    };
    let out =
        oracle::compute(&input).map_err(|e| TestCaseError::fail(format!("oracle failed: {e}")))?;
    record(cov, case, &table, &out);

    // The window.
    prop_assert_eq!(report.window.from, out.window_from, "window start");
    prop_assert_eq!(
        report.window.reference_week,
        out.reference_week,
        "reference week"
    );
    prop_assert_eq!(report.roster_size, out.roster_size, "roster size");

    // §3, week by week.
    prop_assert_eq!(
        report.weeks.iter().map(|w| w.week).collect::<Vec<_>>(),
        out.weeks.iter().map(|w| w.monday).collect::<Vec<_>>(),
        "the weeks of the window"
    );
    for (e, o) in report.weeks.iter().zip(&out.weeks) {
        let wk = o.label();
        prop_assert_eq!(&e.label, &wk, "ISO label of {}", o.monday);
        prop_assert_eq!(e.complete, o.complete, "complete {}", wk);
        // §2: the days covered, and no figures at all for a week without one.
        let covered = match &e.coverage {
            WeekCoverage::Full => 7,
            WeekCoverage::Partial { days, .. } => *days,
            WeekCoverage::Uncovered => 0,
        };
        prop_assert_eq!(covered, o.covered_days, "covered days {}", wk);
        prop_assert_eq!(
            e.partial,
            !o.complete || o.covered_days < 7,
            "partial {}",
            wk
        );
        let Some(f) = &e.figures else {
            prop_assert_eq!(o.covered_days, 0, "figures of the covered week {}", wk);
            continue;
        };
        prop_assert!(o.covered_days > 0, "figures of the uncovered week {}", wk);
        prop_assert_eq!(f.active_engineers, o.active_engineers, "WAE {}", wk);
        prop_assert_eq!(
            f.active_roster_members,
            o.active_roster_members,
            "active roster members {}",
            wk
        );
        prop_assert_eq!(f.roster_size, o.roster_size, "roster size {}", wk);
        prop_assert_eq!(f.adoption_rate, o.adoption_rate(), "adoption rate {}", wk);
        let t = &f.totals;
        prop_assert_eq!(t.sessions, o.sessions, "sessions {}", wk);
        prop_assert_eq!(t.lines_accepted, o.lines_accepted, "lines accepted {}", wk);
        prop_assert_eq!(t.edits_accepted, o.edits_accepted, "edits accepted {}", wk);
        prop_assert_eq!(t.edits_rejected, o.edits_rejected, "edits rejected {}", wk);
        prop_assert_eq!(
            t.acceptance_rate,
            o.acceptance_rate(),
            "acceptance rate {}",
            wk
        );
        prop_assert_eq!(t.cost_micros, o.cost_micros, "cost {}", wk);
        prop_assert_eq!(
            f.cost_per_active_engineer_usd,
            o.cost_per_active_engineer_usd(),
            "cost per active engineer {}",
            wk
        );
        prop_assert_eq!(
            f.lines_per_active_engineer,
            o.lines_per_active_engineer(),
            "lines per active engineer {}",
            wk
        );
        prop_assert_eq!(
            f.sessions_per_active_engineer,
            o.sessions_per_active_engineer(),
            "sessions per active engineer {}",
            wk
        );
        prop_assert_eq!(f.new_engineers, o.new_engineers, "new engineers {}", wk);
    }

    // Window totals.
    let (t, ot) = (&report.totals.figures, &out.totals);
    prop_assert_eq!(
        t.active_engineers,
        ot.active_engineers,
        "window active engineers"
    );
    prop_assert_eq!(
        t.active_roster_members,
        ot.active_roster_members,
        "window active roster members"
    );
    prop_assert_eq!(
        t.adoption_rate,
        out.roster_size
            .and_then(|n| oracle::fraction(ot.active_roster_members, n)),
        "window adoption"
    );
    prop_assert_eq!(t.totals.sessions, ot.sessions, "window sessions");
    prop_assert_eq!(t.totals.lines_accepted, ot.lines_accepted, "window lines");
    prop_assert_eq!(
        t.totals.edits_accepted,
        ot.edits_accepted,
        "window edits accepted"
    );
    prop_assert_eq!(
        t.totals.edits_rejected,
        ot.edits_rejected,
        "window edits rejected"
    );
    prop_assert_eq!(
        t.totals.acceptance_rate,
        oracle::fraction(ot.edits_accepted, ot.edits_accepted + ot.edits_rejected),
        "window acceptance"
    );
    prop_assert_eq!(t.totals.cost_micros, ot.cost_micros, "window cost");
    prop_assert_eq!(
        t.cost_per_active_engineer_usd,
        oracle::usd_per(ot.cost_micros, ot.active_engineers),
        "window cost per engineer"
    );
    prop_assert_eq!(
        t.lines_per_active_engineer,
        oracle::fraction(ot.lines_accepted, ot.active_engineers),
        "window lines per engineer"
    );
    prop_assert_eq!(
        t.sessions_per_active_engineer,
        oracle::fraction(ot.sessions, ot.active_engineers),
        "window sessions per engineer"
    );

    // §4, person by person.
    let engine_people: BTreeMap<String, _> = report
        .people
        .iter()
        .map(|p| (p.person.as_str().to_string(), p))
        .collect();
    prop_assert_eq!(
        engine_people.keys().collect::<Vec<_>>(),
        out.people.keys().collect::<Vec<_>>(),
        "the people listed"
    );
    for (name, o) in &out.people {
        let e = engine_people[name];
        prop_assert_eq!(e.on_roster, o.on_roster, "on roster: {}", name);
        prop_assert_eq!(
            e.tier,
            o.tier,
            "tier of {} (threshold {:?}, last-4 weeks {}, lines {})",
            name,
            out.power_threshold,
            o.active_weeks_of_last_4,
            o.lines_accepted_last_4
        );
        prop_assert_eq!(e.first_active, o.first_active, "first active: {}", name);
        prop_assert_eq!(e.last_active, o.last_active, "last active: {}", name);
        prop_assert_eq!(e.active_weeks, o.active_weeks, "active weeks: {}", name);
        prop_assert_eq!(
            e.active_this_week,
            o.active_this_week,
            "active this week: {}",
            name
        );
        prop_assert_eq!(
            e.active_weeks_of_last_4,
            o.active_weeks_of_last_4,
            "active of last 4: {}",
            name
        );
        prop_assert_eq!(
            e.lines_accepted_last_4,
            o.lines_accepted_last_4,
            "lines of last 4: {}",
            name
        );
        prop_assert_eq!(e.totals.sessions, o.sessions, "sessions: {}", name);
        prop_assert_eq!(e.totals.lines_accepted, o.lines_accepted, "lines: {}", name);
        prop_assert_eq!(
            e.totals.edits_accepted,
            o.edits_accepted,
            "edits accepted: {}",
            name
        );
        prop_assert_eq!(
            e.totals.edits_rejected,
            o.edits_rejected,
            "edits rejected: {}",
            name
        );
        prop_assert_eq!(
            e.totals.acceptance_rate,
            oracle::fraction(o.edits_accepted, o.edits_accepted + o.edits_rejected),
            "acceptance: {}",
            name
        );
        prop_assert_eq!(e.totals.cost_micros, o.cost_micros, "cost: {}", name);
    }
    prop_assert_eq!(
        keys(&report.non_starters),
        out.non_starters.clone(),
        "non-starters"
    );
    prop_assert_eq!(
        keys(&report.not_on_roster),
        out.not_on_roster.clone(),
        "not on roster"
    );
    prop_assert_eq!(
        keys(&report.power_users),
        out.power_users.clone(),
        "power users"
    );
    prop_assert_eq!(
        keys(&report.new_this_week),
        out.new_this_week.clone(),
        "new this week"
    );

    // The tier chart spans the weekly series, and at the reference week
    // counts the tiers of the people list.
    prop_assert_eq!(
        report
            .tiers_by_week
            .iter()
            .map(|c| c.week)
            .collect::<Vec<_>>(),
        report.weeks.iter().map(|w| w.week).collect::<Vec<_>>(),
        "the tier chart's weeks"
    );
    if let Some(c) = report
        .tiers_by_week
        .iter()
        .find(|c| Some(c.week) == out.reference_week)
    {
        prop_assert!(c.counts.is_some(), "tier counts at the reference week");
        let c = c.counts.clone().unwrap_or_default();
        prop_assert_eq!(
            [
                c.power,
                c.regular,
                c.occasional,
                c.lapsed,
                c.new,
                c.non_starter
            ],
            tier_counts(&out),
            "tier counts (power, regular, occasional, lapsed, new, non-starter) at {:?}",
            out.reference_week
        );
    }
    Ok(())
}

#[test]
fn engine_agrees_with_polars_on_random_tables() {
    let seed = std::env::var("SCOREBOARD_ORACLE_SEED")
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .unwrap_or(20261122);
    let mut seed_bytes = [0u8; 32];
    seed_bytes[..8].copy_from_slice(&seed.to_le_bytes());
    let config = Config {
        cases: std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(1500),
        failure_persistence: None,
        ..Config::default()
    };
    let mut runner = TestRunner::new_with_rng(
        config,
        TestRng::from_seed(RngAlgorithm::ChaCha, &seed_bytes),
    );
    let cov = Coverage::new();
    if let Err(e) = runner.run(&case(), |c| check(&c, &cov)) {
        panic!("engine and oracle disagree (seed {seed}): {e}");
    }
    eprintln!(
        "cases exercising each edge (seed {seed}):\n  {}",
        cov.report()
    );
    let missing = cov.missing();
    assert!(
        missing.is_empty(),
        "the random cases never exercised: {missing:?} (seed {seed})"
    );
}

/// §4 at the reference week W = 2026-11-09 (as of 2026-11-22): ann (roster)
/// and zed (not on the roster) are first active in the current week, after W,
/// so both are tiered "new", and bob (roster) never was: "non-starter". The
/// people list says so; the tier chart's bar for W must count the same
/// people: new 2, non-starter 1.
#[test]
fn the_tier_chart_counts_people_first_active_after_w_as_new() {
    let mut rows = Vec::new();
    for who in ["ann@x.com", "zed@x.com"] {
        let mut r = DayRow::new(d("2026-11-17"), key(who), Source::Csv);
        r.measures.sessions = 1;
        rows.push(r);
    }
    let entries = vec![
        RosterEntry::new(key("ann@x.com")),
        RosterEntry::new(key("bob@x.com")),
    ];
    let case = Case {
        rows,
        later: Vec::new(),
        roster: Some(entries),
        as_of: d("2026-11-22"),
        window: WindowSpec::LastWeeks { weeks: 4 },
        team: None,
    };

    let mut table = UsageTable::new();
    table.insert_days(case.rows.clone());
    // The export ran from 1 October to its last day: W is fully covered.
    table.add_coverage(Source::Csv, DayRange::new(d("2026-10-01"), d("2026-11-17")));
    let roster = Roster::new(entries_of(&case));
    let report = compute(
        &table,
        Some(&roster),
        &ReportOptions::last_weeks(case.as_of, 4),
    );
    let coverage = table.coverage();
    let days: Vec<DayRow> = table.day_rows().collect();
    let out = oracle::compute(&Input {
        rows: &days,
        coverage: &coverage,
        roster: case.roster.as_deref(),
        as_of: case.as_of,
        window: case.window,
        team: None,
    })
    .expect("the oracle runs");

    let tier_of = |who: &str| {
        report
            .people
            .iter()
            .find(|p| p.person.as_str() == who)
            .map(|p| p.tier)
    };
    assert_eq!(
        (
            tier_of("ann@x.com"),
            tier_of("zed@x.com"),
            tier_of("bob@x.com")
        ),
        (Some(Tier::New), Some(Tier::New), Some(Tier::NonStarter))
    );
    assert_eq!(
        tier_counts(&out),
        [0, 0, 0, 0, 2, 1],
        "the oracle's tiers at W"
    );
    let bar = report
        .tiers_by_week
        .iter()
        .find(|c| c.week == d("2026-11-09"))
        .and_then(|c| c.counts.clone())
        .expect("a bar for W");
    assert_eq!(
        (bar.new, bar.non_starter),
        (2, 1),
        "the tier chart at W counts new and non-starter people differently from the people list at W"
    );
}

fn entries_of(case: &Case) -> Vec<RosterEntry> {
    case.roster.clone().unwrap_or_default()
}

/// §1 with hand-worked numbers: a full export, then a thinner later file for
/// two of the same days with date, e-mail and lines accepted only. In the week
/// of 16 Nov, lines accepted become 70 + 10 + 90 = 170 (ana's 16th and ben's
/// 17th replaced, ana's 22nd kept); the sessions (3 + 1 + 4 = 8) and the cost
/// ($2.00 + $0.50 + $3.00 = $5.50, $2.75 per active engineer) are unknown in
/// the later file, so the full export's stay. The engine and the oracle's
/// own merge must both say so.
#[test]
fn a_thinner_later_file_keeps_the_sessions_and_cost_it_lacks_in_the_engine_and_the_oracle() {
    let full = |day: &str, who: &str, sessions: u64, lines: u64, cost: i64| {
        let mut r = DayRow::new(d(day), key(who), Source::Csv);
        r.measures.sessions = sessions;
        r.measures.lines_added = lines;
        r.measures.cost_micros = cost;
        r
    };
    let lines_only = |day: &str, who: &str, lines: u64| {
        let mut r = DayRow::new(d(day), key(who), Source::Csv);
        r.measures.lines_added = lines;
        r.present = MeasureSet::LINES_ADDED;
        r
    };
    let case = Case {
        rows: vec![
            full("2026-11-09", "ana@x.com", 2, 100, 1_000_000),
            full("2026-11-16", "ana@x.com", 3, 40, 2_000_000),
            full("2026-11-17", "ben@x.com", 4, 60, 3_000_000),
            full("2026-11-22", "ana@x.com", 1, 10, 500_000),
        ],
        later: vec![
            lines_only("2026-11-16", "ana@x.com", 70),
            lines_only("2026-11-17", "ben@x.com", 90),
        ],
        roster: None,
        as_of: d("2026-11-25"),
        window: WindowSpec::LastWeeks { weeks: 4 },
        team: None,
    };
    if let Err(e) = check(&case, &Coverage::new()) {
        panic!("engine and oracle disagree: {e}");
    }

    let mut table = UsageTable::new();
    table.insert_days(case.rows.clone());
    table.insert_days(case.later.clone());
    let report = compute(&table, None, &ReportOptions::last_weeks(case.as_of, 4));
    assert_eq!(report.window.reference_week, Some(d("2026-11-16")));
    let week = report
        .weeks
        .iter()
        .find(|w| w.week == d("2026-11-16"))
        .and_then(|w| w.figures.clone())
        .expect("figures for the week of 16 Nov");
    assert_eq!(
        (
            week.active_engineers,
            week.totals.sessions,
            week.totals.lines_accepted,
            week.totals.cost_micros,
            week.cost_per_active_engineer_usd
        ),
        (2, 8, 170, 5_500_000, Some(2.75)),
        "the engine's week of 16 Nov"
    );

    let loaded: Vec<DayRow> = case.rows.iter().chain(&case.later).cloned().collect();
    let merged = oracle::merge_loads(&loaded).expect("the oracle merges");
    let coverage = table.coverage();
    let out = oracle::compute(&Input {
        rows: &merged,
        coverage: &coverage,
        roster: None,
        as_of: case.as_of,
        window: case.window,
        team: None,
    })
    .expect("the oracle runs");
    let o = out
        .weeks
        .iter()
        .find(|w| w.monday == d("2026-11-16"))
        .expect("the oracle's week of 16 Nov");
    assert_eq!(
        (
            o.active_engineers,
            o.sessions,
            o.lines_accepted,
            o.cost_micros,
            o.cost_per_active_engineer_usd()
        ),
        (2, 8, 170, 5_500_000, Some(2.75)),
        "the oracle's week of 16 Nov"
    );
}
