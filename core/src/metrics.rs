//! The metrics engine: the one place where every figure is computed
//! (reference/metrics.md is the contract; section numbers below refer to it).
//!
//! Pipeline: resolve every row's person through the roster → pick, per
//! person-day, the most authoritative source (§1) → fold into person-week
//! accumulators → weekly figures (§3), window totals, people and tiers (§4),
//! data health (§6). Ratios are ratios of sums and `None` when undefined.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{Datelike, Duration, NaiveDate, Weekday};
use serde::{Deserialize, Serialize};

use crate::model::{Measures, MicroUsd, PersonKey, Problem, Source};
use crate::roster::Roster;
use crate::table::UsageTable;
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

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Window {
    /// First day of the window (a Monday).
    pub from: NaiveDate,
    /// Last day of the window: a Sunday, or `as_of` when the current week is included.
    pub to: NaiveDate,
    /// The latest complete week of the window (its Monday): tiers and KPI cards use it.
    pub reference_week: Option<NaiveDate>,
    pub as_of: NaiveDate,
    pub team: Option<String>,
}

/// One ISO week's figures (§3).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WeekFigures {
    /// The week's Monday.
    pub week: NaiveDate,
    /// ISO label, e.g. `2026-W47`.
    pub label: String,
    /// False for the current week, which is still in progress.
    pub complete: bool,
    /// Distinct persons active on at least one day of the week.
    pub active_engineers: u64,
    /// Active persons who are on the roster (the adoption numerator).
    pub active_roster_members: u64,
    pub roster_size: Option<u64>,
    /// active_roster_members ÷ roster_size; `None` without a roster.
    pub adoption_rate: Option<f64>,
    pub sessions: u64,
    pub lines_accepted: u64,
    pub lines_removed: u64,
    pub commits: u64,
    pub pull_requests: u64,
    pub edits_accepted: u64,
    pub edits_rejected: u64,
    /// Σ accepted ÷ (Σ accepted + Σ rejected); `None` when there were no decisions.
    pub acceptance_rate: Option<f64>,
    pub cost_micros: MicroUsd,
    pub cost_usd: f64,
    /// Σ cost ÷ WAE; `None` when nobody was active.
    pub cost_per_active_engineer_usd: Option<f64>,
    pub cost_is_estimated: bool,
    /// Persons active this week for the first time in the loaded data.
    pub new_engineers: u64,
    /// Days of the week on which at least one row of any source exists.
    pub days_with_data: u8,
}

/// Window-level figures: the same rules over the whole window (§3, last paragraph).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct WindowTotals {
    pub active_engineers: u64,
    pub active_roster_members: u64,
    pub adoption_rate: Option<f64>,
    pub sessions: u64,
    pub lines_accepted: u64,
    pub commits: u64,
    pub pull_requests: u64,
    pub edits_accepted: u64,
    pub edits_rejected: u64,
    pub acceptance_rate: Option<f64>,
    pub cost_micros: MicroUsd,
    pub cost_usd: f64,
    pub cost_per_active_engineer_usd: Option<f64>,
    pub cost_is_estimated: bool,
    /// Persons whose only activity in the window comes from period totals
    /// (exports without dates): "active in the period".
    pub active_in_period_only: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Tier {
    Power,
    Regular,
    Occasional,
    Lapsed,
    New,
    NonStarter,
}

impl Tier {
    pub const ALL: [Tier; 6] = [
        Tier::Power,
        Tier::Regular,
        Tier::Occasional,
        Tier::Lapsed,
        Tier::New,
        Tier::NonStarter,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Tier::Power => "Power user",
            Tier::Regular => "Regular",
            Tier::Occasional => "Occasional",
            Tier::Lapsed => "Lapsed",
            Tier::New => "New",
            Tier::NonStarter => "Not started",
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Tier::Power => "power",
            Tier::Regular => "regular",
            Tier::Occasional => "occasional",
            Tier::Lapsed => "lapsed",
            Tier::New => "new",
            Tier::NonStarter => "non_starter",
        }
    }
}

/// Per-person figures (§4). Window sums cover the selected window; first and
/// last active cover all loaded data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PersonFigures {
    pub person: PersonKey,
    pub name: Option<String>,
    pub team: Option<String>,
    pub on_roster: bool,
    pub tier: Tier,
    pub first_active: Option<NaiveDate>,
    pub last_active: Option<NaiveDate>,
    /// Weeks of the window in which the person was active.
    pub active_weeks: u32,
    /// Of the four weeks W−3 … W.
    pub active_weeks_of_last_4: u32,
    pub sessions: u64,
    pub lines_accepted: u64,
    pub lines_removed: u64,
    pub commits: u64,
    pub pull_requests: u64,
    pub edits_accepted: u64,
    pub edits_rejected: u64,
    pub acceptance_rate: Option<f64>,
    pub cost_micros: MicroUsd,
    pub cost_usd: f64,
    pub cost_is_estimated: bool,
    /// Lines accepted over W−3 … W (the power-user ranking value).
    pub lines_accepted_last_4: u64,
    /// First active day − roster start date, when both are known.
    pub days_to_first_use: Option<i64>,
    /// True when the person's activity in the window is known only from period totals.
    pub period_only: bool,
    pub sources: Vec<Source>,
}

/// How many people are in each tier when a given week is the reference week.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TierCounts {
    pub week: NaiveDate,
    pub power: u64,
    pub regular: u64,
    pub occasional: u64,
    pub lapsed: u64,
    /// First active after this week (roster or not): "new" at this week (§4).
    pub new: u64,
    /// On the roster (or seen nowhere) and never active in the loaded data.
    pub non_starter: u64,
    /// Roster members with no activity up to the end of this week: the ones
    /// who start later plus the non-starters. "Not started yet" as of the week.
    #[serde(default)]
    pub roster_not_started: u64,
}

/// Coverage of one source (§6: every gap is visible).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceHealth {
    pub source: Source,
    pub first_day: Option<NaiveDate>,
    pub last_day: Option<NaiveDate>,
    pub day_rows: u64,
    pub period_rows: u64,
    pub persons: u64,
    /// Weekday ranges inside [first_day, last_day] with no row at all (weekend-only gaps are not listed).
    pub gaps: Vec<(NaiveDate, NaiveDate)>,
    /// Person-days of this source that lost to a more authoritative source.
    pub superseded_person_days: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DataHealth {
    pub sources: Vec<SourceHealth>,
    /// Person-days reported by more than one source.
    pub multi_source_person_days: u64,
    /// Of those, how many agree on sessions, lines and edit decisions.
    pub agreeing_person_days: u64,
    /// Persons in the data who are not on the roster (empty without a roster).
    pub not_on_roster: Vec<PersonKey>,
    /// Roster members with no row in any source.
    pub roster_never_seen: Vec<PersonKey>,
    /// Person-days whose cost was estimated from tokens × the price table.
    pub estimated_cost_person_days: u64,
}

/// Week-over-week change of the KPI cards: latest complete week vs the one before.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Kpis {
    pub week: WeekFigures,
    pub previous: Option<WeekFigures>,
    pub non_starters: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub window: Window,
    pub weeks: Vec<WeekFigures>,
    pub totals: WindowTotals,
    pub kpis: Option<Kpis>,
    pub people: Vec<PersonFigures>,
    pub non_starters: Vec<PersonKey>,
    pub not_on_roster: Vec<PersonKey>,
    pub power_users: Vec<PersonKey>,
    pub new_this_week: Vec<PersonKey>,
    pub tiers_by_week: Vec<TierCounts>,
    pub roster_size: Option<u64>,
    pub teams: Vec<String>,
    /// The trend in one sentence (the top of the dashboard).
    pub summary: String,
    pub health: DataHealth,
    /// Input problems; the engine leaves this empty, callers append the parsers' problems.
    pub problems: Vec<Problem>,
    pub warnings: Vec<String>,
}

/// The longest window a report covers (ten years of weeks).
pub const MAX_WINDOW_WEEKS: u32 = 530;

/// Σ num ÷ Σ den, `None` when the denominator is zero (never 0 % or 100 %).
pub fn ratio(num: u64, den: u64) -> Option<f64> {
    if den == 0 {
        None
    } else {
        Some(num as f64 / den as f64)
    }
}

pub fn micros_to_usd(m: MicroUsd) -> f64 {
    m as f64 / 1_000_000.0
}

fn acceptance(m: &Measures) -> Option<f64> {
    ratio(m.edits_accepted, m.edits_accepted + m.edits_rejected)
}

fn cost_per(cost: MicroUsd, persons: u64) -> Option<f64> {
    if persons == 0 {
        None
    } else {
        Some(micros_to_usd(cost) / persons as f64)
    }
}

/// Weeks are indexed from this Monday so that they fit an `i32` and sort.
fn week_index(day: NaiveDate) -> i32 {
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 5).unwrap_or_default(); // a Monday
    (week::monday_of(day) - epoch).num_days().div_euclid(7) as i32
}

fn week_monday(idx: i32) -> NaiveDate {
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 5).unwrap_or_default();
    epoch + Duration::days(i64::from(idx) * 7)
}

/// A person's activity in one week, after source precedence.
#[derive(Debug, Clone, Copy, Default)]
struct PersonWeek {
    m: Measures,
    active: bool,
}

#[derive(Debug, Clone, Default)]
struct PersonAcc {
    weeks: BTreeMap<i32, PersonWeek>,
    first_active: Option<NaiveDate>,
    last_active: Option<NaiveDate>,
    /// Long period rows (spanning more than one ISO week) kept for window totals.
    long_periods: Vec<(NaiveDate, NaiveDate, Measures)>,
    sources: BTreeSet<Source>,
}

impl PersonAcc {
    fn mark_active(&mut self, from: NaiveDate, to: NaiveDate) {
        self.first_active = Some(self.first_active.map_or(from, |d| d.min(from)));
        self.last_active = Some(self.last_active.map_or(to, |d| d.max(to)));
    }
    fn ever_active(&self) -> bool {
        self.first_active.is_some() || self.long_periods.iter().any(|p| p.2.is_active())
    }
    fn active_in(&self, w: i32) -> bool {
        self.weeks.get(&w).is_some_and(|pw| pw.active)
    }
}

/// Everything the engine knows after precedence, before any window or filter.
struct Folded {
    persons: Vec<PersonKey>,
    acc: Vec<PersonAcc>,
    /// Days (as day numbers) with at least one row, per week index, for `days_with_data`.
    days_by_week: HashMap<i32, u8>,
    health: DataHealth,
    warnings: Vec<String>,
    first_data_day: Option<NaiveDate>,
    last_data_day: Option<NaiveDate>,
}

fn day_num(d: NaiveDate) -> i32 {
    d.num_days_from_ce()
}

fn agree(a: &Measures, b: &Measures) -> bool {
    a.sessions == b.sessions
        && a.lines_added == b.lines_added
        && a.edits_accepted == b.edits_accepted
        && a.edits_rejected == b.edits_rejected
}

/// Resolves persons, applies source precedence and folds rows into person-weeks.
fn fold(table: &UsageTable, roster: Option<&Roster>) -> Folded {
    let mut persons: Vec<PersonKey> = Vec::new();
    let mut person_ids: HashMap<PersonKey, u32> = HashMap::new();
    let mut raw_ids: HashMap<&PersonKey, u32> = HashMap::new();
    let mut intern = |raw: &PersonKey, persons: &mut Vec<PersonKey>| -> u32 {
        let resolved = roster.map_or_else(|| raw.clone(), |r| r.resolve(raw));
        *person_ids.entry(resolved.clone()).or_insert_with(|| {
            persons.push(resolved);
            (persons.len() - 1) as u32
        })
    };

    // (person, day, precedence rank (0 = best), source, row index), sorted so
    // that each person-day's rows are adjacent, best source first.
    let days = table.days();
    let mut keys: Vec<(u32, i32, u8, Source, u32)> = Vec::with_capacity(days.len());
    for (i, row) in days.iter().enumerate() {
        let id = match raw_ids.get(&row.person) {
            Some(&id) => id,
            None => {
                let id = intern(&row.person, &mut persons);
                raw_ids.insert(&row.person, id);
                id
            }
        };
        keys.push((
            id,
            day_num(row.day),
            3 - row.source.precedence(),
            row.source,
            i as u32,
        ));
    }
    keys.sort_unstable();

    let mut warnings = Vec::new();
    let mut excluded = vec![false; keys.len()];

    // Period rows: the more authoritative evidence wins over the same span (§1).
    let mut periods: Vec<(u32, &crate::model::PeriodRow)> = table
        .periods()
        .iter()
        .map(|p| {
            let id = match raw_ids.get(&p.person) {
                Some(&id) => id,
                None => {
                    let id = intern(&p.person, &mut persons);
                    raw_ids.insert(&p.person, id);
                    id
                }
            };
            (id, p)
        })
        .collect();
    // Sorted by person key (not by interning order) so that warnings come out
    // in the same order whatever order the rows were loaded in.
    periods.sort_by(|a, b| {
        (&persons[a.0 as usize], a.1.start, a.1.end, a.1.source).cmp(&(
            &persons[b.0 as usize],
            b.1.start,
            b.1.end,
            b.1.source,
        ))
    });
    // Rows of one source over the same span for one person (two aliases of
    // the same person) add up, as day rows of one source do.
    let mut merged: Vec<(u32, crate::model::PeriodRow)> = Vec::new();
    for (id, p) in periods {
        match merged.last_mut() {
            Some((lid, last))
                if *lid == id
                    && last.start == p.start
                    && last.end == p.end
                    && last.source == p.source =>
            {
                last.absorb(p);
            }
            _ => merged.push((id, p.clone())),
        }
    }
    let mut kept_periods: Vec<(u32, crate::model::PeriodRow)> = Vec::new();
    for (id, p) in merged {
        if p.end < p.start {
            warnings.push(format!(
                "Period totals for {} run from {} to {}, which ends before it starts; they were not used.",
                p.person, p.start, p.end
            ));
            continue;
        }
        if let Some((_, prev)) = kept_periods.iter().rev().find(|(pid, _)| *pid == id) {
            if prev.end >= p.start {
                warnings.push(format!(
                    "Period totals for {} over {}..{} overlap those over {}..{}; only the earlier ones were used.",
                    persons[id as usize], p.start, p.end, prev.start, prev.end
                ));
                continue;
            }
        }
        let lo = keys.partition_point(|k| (k.0, k.1) < (id, day_num(p.start)));
        let hi = keys.partition_point(|k| (k.0, k.1) <= (id, day_num(p.end)));
        let stronger = keys[lo..hi]
            .iter()
            .find(|k| k.3.precedence() >= p.source.precedence());
        if let Some(k) = stronger {
            warnings.push(format!(
                "Period totals ({}) for {} over {}..{} overlap daily rows from {}; the daily rows were used.",
                p.source, persons[id as usize], p.start, p.end, k.3
            ));
            continue;
        }
        for e in &mut excluded[lo..hi] {
            *e = true;
        }
        kept_periods.push((id, p));
    }

    let mut acc: Vec<PersonAcc> = vec![PersonAcc::default(); persons.len()];
    let mut days_by_week: HashMap<i32, u8> = HashMap::new();
    let mut health = DataHealth::default();
    let mut superseded: HashMap<Source, u64> = HashMap::new();

    let mut i = 0;
    while i < keys.len() {
        let (id, dn, _, best_source, _) = keys[i];
        let mut j = i;
        let mut best = Measures::default();
        let mut others: Vec<(Source, Measures)> = Vec::new();
        let mut all_excluded = true;
        while j < keys.len() && keys[j].0 == id && keys[j].1 == dn {
            let k = keys[j];
            all_excluded &= excluded[j];
            let m = &days[k.4 as usize].measures;
            if k.3 == best_source {
                best.add(m);
            } else {
                match others.iter_mut().find(|(s, _)| *s == k.3) {
                    Some((_, om)) => om.add(m),
                    None => others.push((k.3, *m)),
                }
            }
            j += 1;
        }
        let day = days[keys[i].4 as usize].day;
        if !others.is_empty() {
            health.multi_source_person_days += 1;
            if others.iter().all(|(_, om)| agree(&best, om)) {
                health.agreeing_person_days += 1;
            }
            for (s, _) in &others {
                *superseded.entry(*s).or_default() += 1;
            }
        }
        if !all_excluded {
            let a = &mut acc[id as usize];
            a.sources.insert(best_source);
            let pw = a.weeks.entry(week_index(day)).or_default();
            pw.m.add(&best);
            if best.is_active() {
                pw.active = true;
                a.mark_active(day, day);
            }
            if best.cost_is_estimated {
                health.estimated_cost_person_days += 1;
            }
        }
        i = j;
    }

    // Days with data per week (any source, any person) and per-source coverage.
    let mut first_data_day: Option<NaiveDate> = None;
    let mut last_data_day: Option<NaiveDate> = None;
    #[derive(Default)]
    struct Coverage<'a> {
        days: BTreeSet<NaiveDate>,
        day_rows: u64,
        people: BTreeSet<&'a PersonKey>,
        period_rows: u64,
    }
    let mut per_source: BTreeMap<Source, Coverage> = BTreeMap::new();
    for row in days {
        let e = per_source.entry(row.source).or_default();
        e.days.insert(row.day);
        e.day_rows += 1;
        e.people.insert(&row.person);
    }
    for p in table.periods() {
        let e = per_source.entry(p.source).or_default();
        e.period_rows += 1;
        e.people.insert(&p.person);
    }
    let mut all_days: BTreeSet<NaiveDate> = BTreeSet::new();
    for (source, cov) in &per_source {
        all_days.extend(cov.days.iter().copied());
        health.sources.push(SourceHealth {
            source: *source,
            first_day: cov.days.first().copied(),
            last_day: cov.days.last().copied(),
            day_rows: cov.day_rows,
            period_rows: cov.period_rows,
            persons: cov.people.len() as u64,
            gaps: gaps(&cov.days),
            superseded_person_days: superseded.get(source).copied().unwrap_or(0),
        });
    }
    for d in &all_days {
        *days_by_week.entry(week_index(*d)).or_default() += 1;
        first_data_day = Some(first_data_day.map_or(*d, |f| f.min(*d)));
        last_data_day = Some(last_data_day.map_or(*d, |l| l.max(*d)));
    }

    for (id, p) in &kept_periods {
        let a = &mut acc[*id as usize];
        a.sources.insert(p.source);
        first_data_day = Some(first_data_day.map_or(p.start, |f| f.min(p.start)));
        last_data_day = Some(last_data_day.map_or(p.end, |l| l.max(p.end)));
        if week::monday_of(p.start) == week::monday_of(p.end) {
            // Inside one ISO week: it counts for that week (§1).
            let pw = a.weeks.entry(week_index(p.start)).or_default();
            pw.m.add(&p.measures);
            if p.measures.is_active() {
                pw.active = true;
                a.mark_active(p.start, p.end);
            }
        } else {
            a.long_periods.push((p.start, p.end, p.measures));
        }
    }

    Folded {
        persons,
        acc,
        days_by_week,
        health,
        warnings,
        first_data_day,
        last_data_day,
    }
}

/// Ranges of weekdays with no data between the first and last day of a source.
fn gaps(days: &BTreeSet<NaiveDate>) -> Vec<(NaiveDate, NaiveDate)> {
    let mut out = Vec::new();
    let mut prev: Option<NaiveDate> = None;
    for &d in days {
        if let Some(p) = prev {
            let (start, end) = (p + Duration::days(1), d - Duration::days(1));
            if start <= end {
                let mut has_weekday = false;
                let mut x = start;
                while x <= end {
                    if !matches!(x.weekday(), Weekday::Sat | Weekday::Sun) {
                        has_weekday = true;
                        break;
                    }
                    x += Duration::days(1);
                }
                if has_weekday {
                    out.push((start, end));
                }
            }
        }
        prev = Some(d);
    }
    out
}

/// The tier of one person at reference week `w` (§4).
fn tier_at(a: &PersonAcc, w: i32, power_threshold: Option<u64>) -> Tier {
    let weeks_active = (w - 3..=w).filter(|x| a.active_in(*x)).count();
    let w_start = week_monday(w - 3);
    let w_end = week::sunday_of(week_monday(w));
    if weeks_active == 4 {
        let lines: u64 = (w - 3..=w)
            .filter_map(|x| a.weeks.get(&x))
            .map(|pw| pw.m.lines_added)
            .sum();
        if power_threshold.is_some_and(|t| lines >= t) {
            return Tier::Power;
        }
        return Tier::Regular;
    }
    if weeks_active == 3 {
        return Tier::Regular;
    }
    if weeks_active > 0 {
        return Tier::Occasional;
    }
    // Long period rows cannot be placed in a week: active in a period that
    // touches the four weeks counts as occasional, before them as lapsed.
    let period_touching = a
        .long_periods
        .iter()
        .any(|(s, e, m)| m.is_active() && *s <= w_end && *e >= w_start);
    if period_touching {
        return Tier::Occasional;
    }
    let before = a.first_active.is_some_and(|d| d < w_start)
        || a.long_periods
            .iter()
            .any(|(s, _, m)| m.is_active() && *s < w_start);
    if before {
        return Tier::Lapsed;
    }
    if a.ever_active() {
        return Tier::New;
    }
    // Never active. Callers only list such a person when on the roster.
    Tier::NonStarter
}

/// The power-user threshold at `w`: the k-th highest lines accepted over the
/// four weeks among the n persons active in any of them, k = ⌈n/4⌉.
fn power_threshold(accs: &[&PersonAcc], w: i32) -> Option<u64> {
    let mut lines: Vec<u64> = accs
        .iter()
        .filter(|a| (w - 3..=w).any(|x| a.active_in(x)))
        .map(|a| {
            (w - 3..=w)
                .filter_map(|x| a.weeks.get(&x))
                .map(|pw| pw.m.lines_added)
                .sum()
        })
        .collect();
    if lines.is_empty() {
        return None;
    }
    lines.sort_unstable_by(|a, b| b.cmp(a));
    let k = lines.len().div_ceil(4);
    lines.get(k - 1).copied()
}

/// Computes the whole report. Pure: the same table, roster and options
/// always give the same report.
pub fn compute(table: &UsageTable, roster: Option<&Roster>, opts: &ReportOptions) -> Report {
    let folded = fold(table, roster);
    let Folded {
        persons,
        acc,
        days_by_week,
        mut health,
        mut warnings,
        first_data_day,
        last_data_day,
    } = folded;

    let current_week = week_index(opts.as_of);
    let latest_complete = current_week - 1;
    let (first_week, last_week) = match opts.window {
        WindowSpec::LastWeeks { weeks } => (
            latest_complete - weeks.clamp(1, MAX_WINDOW_WEEKS) as i32 + 1,
            current_week,
        ),
        WindowSpec::All => (
            first_data_day
                .map_or(latest_complete, week_index)
                .min(current_week),
            current_week,
        ),
        WindowSpec::Custom { from, to } => {
            let (from, to) = if from <= to { (from, to) } else { (to, from) };
            (
                week_index(from).min(current_week),
                week_index(to).min(current_week),
            )
        }
    };
    // An absurd range (a typo in --weeks or a custom date in year 1) is cut to
    // the newest MAX_WINDOW_WEEKS weeks, and said so.
    let first_week = if last_week - first_week >= MAX_WINDOW_WEEKS as i32 {
        warnings.push(format!(
            "The window was cut to the newest {MAX_WINDOW_WEEKS} weeks."
        ));
        last_week - MAX_WINDOW_WEEKS as i32 + 1
    } else {
        first_week
    };
    let reference = last_week.min(latest_complete);
    let reference_week = (reference >= first_week).then(|| week_monday(reference));
    let window_from = week_monday(first_week);
    let window_to = if last_week == current_week {
        opts.as_of
    } else {
        week::sunday_of(week_monday(last_week))
    };

    // The people in scope: the team filter applies to roster teams.
    let team = opts.team.as_deref();
    let roster_entry = |p: &PersonKey| roster.and_then(|r| r.entry_for(p));
    let in_scope = |p: &PersonKey| match team {
        None => true,
        Some(t) => roster_entry(p).and_then(|e| e.team.as_deref()) == Some(t),
    };
    let roster_members: Vec<&crate::roster::RosterEntry> = roster
        .map(|r| r.entries().iter().filter(|e| in_scope(&e.person)).collect())
        .unwrap_or_default();
    let roster_size = roster.map(|_| roster_members.len() as u64);

    let scoped: Vec<usize> = (0..persons.len())
        .filter(|&i| in_scope(&persons[i]))
        .collect();
    let on_roster = |i: usize| roster_entry(&persons[i]).is_some();

    // Weekly figures.
    let mut weeks = Vec::new();
    for w in first_week..=last_week {
        let mut m = Measures::default();
        let mut wae = 0u64;
        let mut roster_active = 0u64;
        let mut new_engineers = 0u64;
        for &i in &scoped {
            if let Some(pw) = acc[i].weeks.get(&w) {
                m.add(&pw.m);
                if pw.active {
                    wae += 1;
                    if on_roster(i) {
                        roster_active += 1;
                    }
                    if acc[i].first_active.is_some_and(|d| week_index(d) == w) {
                        new_engineers += 1;
                    }
                }
            }
        }
        let monday = week_monday(w);
        weeks.push(WeekFigures {
            week: monday,
            label: week::iso_label(monday),
            complete: week::is_complete(monday, opts.as_of),
            active_engineers: wae,
            active_roster_members: roster_active,
            roster_size,
            adoption_rate: roster_size.and_then(|n| ratio(roster_active, n)),
            sessions: m.sessions,
            lines_accepted: m.lines_added,
            lines_removed: m.lines_removed,
            commits: m.commits,
            pull_requests: m.pull_requests,
            edits_accepted: m.edits_accepted,
            edits_rejected: m.edits_rejected,
            acceptance_rate: acceptance(&m),
            cost_micros: m.cost_micros,
            cost_usd: micros_to_usd(m.cost_micros),
            cost_per_active_engineer_usd: cost_per(m.cost_micros, wae),
            cost_is_estimated: m.cost_is_estimated,
            new_engineers,
            days_with_data: days_by_week.get(&w).copied().unwrap_or(0),
        });
    }

    // Per-person figures and tiers.
    let scoped_accs: Vec<&PersonAcc> = scoped.iter().map(|&i| &acc[i]).collect();
    let threshold = power_threshold(&scoped_accs, reference);
    let mut people: Vec<PersonFigures> = Vec::new();
    let mut totals_m = Measures::default();
    let mut window_active = 0u64;
    let mut window_roster_active = 0u64;
    let mut period_only = 0u64;
    for &i in &scoped {
        let a = &acc[i];
        if !a.ever_active() && !on_roster(i) {
            // Only rows of zeros and not on the roster: nobody to show.
            continue;
        }
        let mut m = Measures::default();
        let mut active_weeks = 0u32;
        for (_, pw) in a.weeks.range(first_week..=last_week) {
            m.add(&pw.m);
            active_weeks += u32::from(pw.active);
        }
        let mut active_by_period = false;
        for (s, e, pm) in &a.long_periods {
            if *s >= window_from && *e <= window_to {
                m.add(pm);
                active_by_period |= pm.is_active();
            }
        }
        let active_in_window = active_weeks > 0 || active_by_period;
        if active_in_window {
            window_active += 1;
            if on_roster(i) {
                window_roster_active += 1;
            }
            if active_weeks == 0 {
                period_only += 1;
            }
        }
        totals_m.add(&m);
        let entry = roster_entry(&persons[i]);
        let tier = tier_at(a, reference, threshold);
        let last4: u64 = (reference - 3..=reference)
            .filter_map(|x| a.weeks.get(&x))
            .map(|pw| pw.m.lines_added)
            .sum();
        people.push(PersonFigures {
            person: persons[i].clone(),
            name: entry.and_then(|e| e.name.clone()),
            team: entry.and_then(|e| e.team.clone()),
            on_roster: entry.is_some(),
            tier,
            first_active: a.first_active,
            last_active: a.last_active,
            active_weeks,
            active_weeks_of_last_4: (reference - 3..=reference)
                .filter(|x| a.active_in(*x))
                .count() as u32,
            sessions: m.sessions,
            lines_accepted: m.lines_added,
            lines_removed: m.lines_removed,
            commits: m.commits,
            pull_requests: m.pull_requests,
            edits_accepted: m.edits_accepted,
            edits_rejected: m.edits_rejected,
            acceptance_rate: acceptance(&m),
            cost_micros: m.cost_micros,
            cost_usd: micros_to_usd(m.cost_micros),
            cost_is_estimated: m.cost_is_estimated,
            lines_accepted_last_4: last4,
            days_to_first_use: match (a.first_active, entry.and_then(|e| e.start)) {
                (Some(first), Some(start)) => Some((first - start).num_days()),
                _ => None,
            },
            period_only: active_in_window && active_weeks == 0,
            sources: a.sources.iter().copied().collect(),
        });
    }

    // Roster members never seen in any source: non-starters with no rows.
    let mut seen: BTreeSet<&PersonKey> = BTreeSet::new();
    for &i in &scoped {
        seen.insert(&persons[i]);
    }
    let mut never_seen: Vec<PersonKey> = Vec::new();
    for e in &roster_members {
        if !seen.contains(&e.person) {
            never_seen.push(e.person.clone());
            people.push(PersonFigures {
                person: e.person.clone(),
                name: e.name.clone(),
                team: e.team.clone(),
                on_roster: true,
                tier: Tier::NonStarter,
                first_active: None,
                last_active: None,
                active_weeks: 0,
                active_weeks_of_last_4: 0,
                sessions: 0,
                lines_accepted: 0,
                lines_removed: 0,
                commits: 0,
                pull_requests: 0,
                edits_accepted: 0,
                edits_rejected: 0,
                acceptance_rate: None,
                cost_micros: 0,
                cost_usd: 0.0,
                cost_is_estimated: false,
                lines_accepted_last_4: 0,
                days_to_first_use: None,
                period_only: false,
                sources: Vec::new(),
            });
        }
    }
    people.sort_by(|a, b| {
        b.lines_accepted
            .cmp(&a.lines_accepted)
            .then(b.sessions.cmp(&a.sessions))
            .then(a.person.cmp(&b.person))
    });

    let non_starters: Vec<PersonKey> = people
        .iter()
        .filter(|p| p.on_roster && p.tier == Tier::NonStarter)
        .map(|p| p.person.clone())
        .collect();
    let mut not_on_roster: Vec<PersonKey> = if roster.is_some() {
        people
            .iter()
            .filter(|p| !p.on_roster)
            .map(|p| p.person.clone())
            .collect()
    } else {
        Vec::new()
    };
    not_on_roster.sort();
    let power_users: Vec<PersonKey> = people
        .iter()
        .filter(|p| p.tier == Tier::Power)
        .map(|p| p.person.clone())
        .collect();
    let reference_monday = week_monday(reference);
    let new_this_week: Vec<PersonKey> = people
        .iter()
        .filter(|p| {
            p.first_active
                .is_some_and(|d| week::monday_of(d) == reference_monday)
        })
        .map(|p| p.person.clone())
        .collect();

    // Tier counts per complete week of the window (the stacked chart).
    let mut tiers_by_week = Vec::new();
    for w in first_week..=last_week.min(latest_complete) {
        let t = power_threshold(&scoped_accs, w);
        let mut c = TierCounts {
            week: week_monday(w),
            ..TierCounts::default()
        };
        for &i in &scoped {
            match tier_at(&acc[i], w, t) {
                Tier::Power => c.power += 1,
                Tier::Regular => c.regular += 1,
                Tier::Occasional => c.occasional += 1,
                Tier::Lapsed => c.lapsed += 1,
                // First active after w: "new" at w (metrics.md §tiers), roster or not,
                // exactly as the people list tiers them at the reference week.
                Tier::New => {
                    c.new += 1;
                    if on_roster(i) {
                        c.roster_not_started += 1;
                    }
                }
                Tier::NonStarter => {
                    if on_roster(i) {
                        c.non_starter += 1;
                        c.roster_not_started += 1;
                    }
                }
            }
        }
        c.non_starter += never_seen.len() as u64;
        c.roster_not_started += never_seen.len() as u64;
        tiers_by_week.push(c);
    }

    let totals = WindowTotals {
        active_engineers: window_active,
        active_roster_members: window_roster_active,
        adoption_rate: roster_size.and_then(|n| ratio(window_roster_active, n)),
        sessions: totals_m.sessions,
        lines_accepted: totals_m.lines_added,
        commits: totals_m.commits,
        pull_requests: totals_m.pull_requests,
        edits_accepted: totals_m.edits_accepted,
        edits_rejected: totals_m.edits_rejected,
        acceptance_rate: acceptance(&totals_m),
        cost_micros: totals_m.cost_micros,
        cost_usd: micros_to_usd(totals_m.cost_micros),
        cost_per_active_engineer_usd: cost_per(totals_m.cost_micros, window_active),
        cost_is_estimated: totals_m.cost_is_estimated,
        active_in_period_only: period_only,
    };

    let kpis = weeks
        .iter()
        .position(|w| w.week == reference_monday)
        .map(|pos| Kpis {
            week: weeks[pos].clone(),
            previous: pos.checked_sub(1).map(|p| weeks[p].clone()),
            non_starters: non_starters.len() as u64,
        });

    // Data health and warnings (§6).
    health.not_on_roster = not_on_roster.clone();
    health.roster_never_seen = never_seen;
    if let Some(r) = roster {
        warnings.extend(r.conflicts().iter().cloned());
    } else {
        warnings.push(
            "No roster loaded: adoption rate and the list of people who have not started need one. Add a roster (a CSV of e-mails, or a list of e-mails).".into(),
        );
    }
    if table.is_empty() {
        warnings.push("No usage data loaded yet.".into());
    } else if let Some(last) = last_data_day {
        let lag = (opts.as_of - last).num_days();
        if lag > 7 {
            warnings.push(format!(
                "The newest data is from {last} (UTC), {lag} days before {}: recent weeks show no activity because there is no data for them, not because nobody worked.",
                opts.as_of
            ));
        }
    }
    if let Some(first) = first_data_day {
        if first > window_from && !table.is_empty() {
            warnings.push(format!(
                "The data starts on {first} (UTC), after the window's start ({window_from}): earlier weeks of the window have no data."
            ));
        }
    }
    if health.estimated_cost_person_days > 0 {
        warnings.push(format!(
            "Cost of {} person-days was estimated from token counts × the price table, because the source gave no cost.",
            health.estimated_cost_person_days
        ));
    }
    for s in &health.sources {
        if !s.gaps.is_empty() {
            let list: Vec<String> = s
                .gaps
                .iter()
                .take(5)
                .map(|(a, b)| {
                    if a == b {
                        a.to_string()
                    } else {
                        format!("{a}..{b}")
                    }
                })
                .collect();
            warnings.push(format!(
                "{} has no rows on {} weekday gap(s) inside its range: {}{}",
                s.source,
                s.gaps.len(),
                list.join(", "),
                if s.gaps.len() > 5 { ", …" } else { "" }
            ));
        }
    }
    if team.is_some() && roster.is_none() {
        warnings.push(
            "A team filter needs a roster with a team column; without one, nobody is in the team."
                .into(),
        );
    }

    let teams = roster.map(|r| r.teams()).unwrap_or_default();
    let mut report = Report {
        window: Window {
            from: window_from,
            to: window_to,
            reference_week,
            as_of: opts.as_of,
            team: opts.team.clone(),
        },
        weeks,
        totals,
        kpis,
        people,
        non_starters,
        not_on_roster,
        power_users,
        new_this_week,
        tiers_by_week,
        roster_size,
        teams,
        summary: String::new(),
        health,
        problems: Vec::new(),
        warnings,
    };
    report.summary = summary_sentence(&report);
    report
}

/// Formats a fraction as a whole percentage, e.g. `92 %`.
pub fn percent(r: f64) -> String {
    format!("{:.0} %", r * 100.0)
}

/// The trend in words, e.g. "Weekly active engineers went from 2 to 6 over
/// the last 4 weeks, tool acceptance is holding at 92 %, and 2 people have not
/// started yet."
pub fn summary_sentence(r: &Report) -> String {
    let complete: Vec<&WeekFigures> = r.weeks.iter().filter(|w| w.complete).collect();
    let (Some(first), Some(last)) = (complete.first(), complete.last()) else {
        return "No complete week in this window yet: figures appear once a full week (Monday to Sunday, UTC) has data.".into();
    };
    let n = complete.len();
    let over = if n == 1 {
        "in the last complete week".to_string()
    } else {
        format!("over the last {n} weeks")
    };
    let wae = if n == 1 || first.active_engineers == last.active_engineers {
        format!(
            "Weekly active engineers held at {} {over}",
            last.active_engineers
        )
    } else {
        format!(
            "Weekly active engineers went from {} to {} {over}",
            first.active_engineers, last.active_engineers
        )
    };
    let prev = complete.len().checked_sub(2).map(|i| complete[i]);
    let acc = match (last.acceptance_rate, prev.and_then(|p| p.acceptance_rate)) {
        (None, _) => {
            "tool acceptance cannot be computed (no edit decisions in the latest week)".to_string()
        }
        (Some(a), None) => format!("tool acceptance is {}", percent(a)),
        (Some(a), Some(b)) => {
            let diff = (a - b) * 100.0;
            if diff.abs() < 2.0 {
                format!("tool acceptance is holding at {}", percent(a))
            } else if diff > 0.0 {
                format!("tool acceptance rose from {} to {}", percent(b), percent(a))
            } else {
                format!("tool acceptance fell from {} to {}", percent(b), percent(a))
            }
        }
    };
    let starters = match r.roster_size {
        None => "add a roster to see who has not started".to_string(),
        Some(_) => match r.non_starters.len() {
            0 => "everyone on the roster has started".to_string(),
            1 => "1 person has not started yet".to_string(),
            k => format!("{k} people have not started yet"),
        },
    };
    format!("{wae}, {acc}, and {starters}.")
}

/// Why a figure shows "—" instead of a number (§6), for the UI and the CLI.
pub fn why_undefined(figure: Figure, w: &WeekFigures) -> Option<&'static str> {
    match figure {
        Figure::AdoptionRate if w.roster_size.is_none() => {
            Some("add a roster: adoption needs to know who should be using Claude Code")
        }
        Figure::AdoptionRate if w.roster_size == Some(0) => {
            Some("nobody on the roster in this selection")
        }
        Figure::AcceptanceRate if w.acceptance_rate.is_none() => {
            Some("no edit decisions (accepted or rejected) in this week")
        }
        Figure::CostPerActiveEngineer if w.cost_per_active_engineer_usd.is_none() => {
            Some("nobody was active in this week")
        }
        _ => None,
    }
}

/// The figures the dashboard shows, with their definitions (§3–§5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Figure {
    ActiveEngineers,
    AdoptionRate,
    Sessions,
    LinesAccepted,
    AcceptanceRate,
    Cost,
    CostPerActiveEngineer,
    NonStarters,
    Tiers,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Definition {
    pub figure: Figure,
    pub label: &'static str,
    pub formula: &'static str,
    pub numerator: &'static str,
    pub denominator: Option<&'static str>,
    pub undefined_when: Option<&'static str>,
}

pub const DEFINITIONS: [Definition; 9] = [
    Definition {
        figure: Figure::ActiveEngineers,
        label: "Weekly active engineers",
        formula: "number of distinct people active on at least one day of the ISO week (Monday–Sunday, UTC)",
        numerator: "people with any non-zero measure (sessions, lines, edits, commits, pull requests, tokens or cost) on a day of the week",
        denominator: None,
        undefined_when: None,
    },
    Definition {
        figure: Figure::AdoptionRate,
        label: "Adoption rate",
        formula: "active roster members ÷ roster size",
        numerator: "people on the roster who were active in the week",
        denominator: Some("people on the roster (of the selected team)"),
        undefined_when: Some("no roster is loaded"),
    },
    Definition {
        figure: Figure::Sessions,
        label: "Sessions",
        formula: "Σ Claude Code sessions started",
        numerator: "sessions of everyone in the selection",
        denominator: None,
        undefined_when: None,
    },
    Definition {
        figure: Figure::LinesAccepted,
        label: "Lines accepted",
        formula: "Σ lines added by Claude Code and accepted",
        numerator: "lines added",
        denominator: None,
        undefined_when: None,
    },
    Definition {
        figure: Figure::AcceptanceRate,
        label: "Tool acceptance rate",
        formula: "Σ accepted edits ÷ (Σ accepted + Σ rejected edits), over Edit, MultiEdit, Write and NotebookEdit; a ratio of sums, never an average of daily rates",
        numerator: "accepted edit-tool decisions",
        denominator: Some("all edit-tool decisions (accepted + rejected)"),
        undefined_when: Some("there were no edit decisions"),
    },
    Definition {
        figure: Figure::Cost,
        label: "Cost",
        formula: "Σ estimated cost at API list prices (also on seat plans, where it is not what you pay)",
        numerator: "cost reported by the source, or tokens × the price table where the source gave none (marked estimated)",
        denominator: None,
        undefined_when: None,
    },
    Definition {
        figure: Figure::CostPerActiveEngineer,
        label: "Cost per active engineer",
        formula: "Σ cost ÷ weekly active engineers",
        numerator: "cost of the week",
        denominator: Some("weekly active engineers"),
        undefined_when: Some("nobody was active"),
    },
    Definition {
        figure: Figure::NonStarters,
        label: "Not started",
        formula: "roster members never active anywhere in the loaded data",
        numerator: "roster members with no activity",
        denominator: None,
        undefined_when: Some("no roster is loaded"),
    },
    Definition {
        figure: Figure::Tiers,
        label: "Engagement tiers",
        formula: "at the reference week W, from the complete weeks W−3…W: power = active all 4 weeks and in the top quarter by lines accepted (ties included); regular = active 3–4 weeks; occasional = 1–2 weeks; lapsed = active before W−3 only; new = first active after W; not started = on the roster, never active",
        numerator: "people",
        denominator: None,
        undefined_when: None,
    },
];

pub fn definition(figure: Figure) -> &'static Definition {
    DEFINITIONS
        .iter()
        .find(|d| d.figure == figure)
        .unwrap_or(&DEFINITIONS[0])
}
