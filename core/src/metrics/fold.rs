//! From the table to person-weeks: resolve every row's person through the
//! roster, pick the most authoritative source per person-day (metrics.md
//! §1), decide which period totals count, and fold what is left into
//! per-person, per-week accumulators. Nothing here knows the window.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{Datelike, Duration, NaiveDate, Weekday};

use super::health::{DataHealth, SourceHealth};
use crate::model::{DayRow, Measures, PeriodRow, PersonKey, Source};
use crate::roster::Roster;
use crate::table::UsageTable;
use crate::week;

/// Weeks are indexed from this Monday so that they fit an `i32` and sort.
fn epoch() -> NaiveDate {
    NaiveDate::from_ymd_opt(1970, 1, 5).unwrap_or_default() // a Monday
}

/// The index of the ISO week containing `day`.
pub(crate) fn week_index(day: NaiveDate) -> i32 {
    (week::monday_of(day) - epoch()).num_days().div_euclid(7) as i32
}

/// The Monday of week `idx`.
pub(crate) fn week_monday(idx: i32) -> NaiveDate {
    epoch() + Duration::days(i64::from(idx) * 7)
}

fn day_num(d: NaiveDate) -> i32 {
    d.num_days_from_ce()
}

/// A person's activity in one week, after source precedence.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct PersonWeek {
    pub m: Measures,
    pub active: bool,
}

/// A person's period totals spanning more than one ISO week: they count
/// only for window-level figures, never spread over weeks (§1).
#[derive(Debug, Clone, Copy)]
pub(crate) struct LongPeriod {
    pub start: NaiveDate,
    pub end: NaiveDate,
    pub m: Measures,
}

/// Everything known about one (resolved) person.
#[derive(Debug, Clone, Default)]
pub(crate) struct PersonAcc {
    pub weeks: BTreeMap<i32, PersonWeek>,
    pub first_active: Option<NaiveDate>,
    pub last_active: Option<NaiveDate>,
    pub long_periods: Vec<LongPeriod>,
    pub sources: BTreeSet<Source>,
}

impl PersonAcc {
    fn mark_active(&mut self, from: NaiveDate, to: NaiveDate) {
        self.first_active = Some(self.first_active.map_or(from, |d| d.min(from)));
        self.last_active = Some(self.last_active.map_or(to, |d| d.max(to)));
    }
    pub fn ever_active(&self) -> bool {
        self.first_active.is_some() || self.long_periods.iter().any(|p| p.m.is_active())
    }
    pub fn active_in(&self, w: i32) -> bool {
        self.weeks.get(&w).is_some_and(|pw| pw.active)
    }
    /// Lines accepted over the weeks `from..=to`.
    pub fn lines_in(&self, from: i32, to: i32) -> u64 {
        self.weeks
            .range(from..=to)
            .map(|(_, pw)| pw.m.lines_added)
            .sum()
    }
}

/// Everything the engine knows after precedence, before any window or filter.
pub(crate) struct Folded {
    /// Resolved person keys; `acc[i]` belongs to `persons[i]`.
    pub persons: Vec<PersonKey>,
    pub acc: Vec<PersonAcc>,
    /// Days with at least one row of any source, per week index.
    pub days_by_week: HashMap<i32, u8>,
    pub health: DataHealth,
    pub warnings: Vec<String>,
    /// The first day with a row or counted period totals.
    pub first_data_day: Option<NaiveDate>,
}

/// One day row's place in the precedence order: sorted, each person-day's
/// rows are adjacent, the best source first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct DayKey {
    /// Resolved person (index into `Folded::persons`).
    person: u32,
    /// Days from the common era.
    day: i32,
    /// 0 for the most authoritative source.
    rank: u8,
    source: Source,
    /// Index of the row in the table.
    row: u32,
}

/// Resolves raw person keys through the roster, one number per resolved person.
struct Persons<'a> {
    roster: Option<&'a Roster>,
    keys: Vec<PersonKey>,
    ids: HashMap<PersonKey, u32>,
    raw: HashMap<&'a PersonKey, u32>,
}

impl<'a> Persons<'a> {
    fn id(&mut self, raw: &'a PersonKey) -> u32 {
        if let Some(&id) = self.raw.get(raw) {
            return id;
        }
        let resolved = self.roster.map_or_else(|| raw.clone(), |r| r.resolve(raw));
        let next = self.keys.len() as u32;
        let id = *self.ids.entry(resolved.clone()).or_insert(next);
        if id == next {
            self.keys.push(resolved);
        }
        self.raw.insert(raw, id);
        id
    }
}

/// Resolves persons, applies source precedence and folds rows into person-weeks.
pub(crate) fn fold(table: &UsageTable, roster: Option<&Roster>) -> Folded {
    let mut persons = Persons {
        roster,
        keys: Vec::new(),
        ids: HashMap::new(),
        raw: HashMap::new(),
    };
    let days = table.days();
    let mut keys: Vec<DayKey> = days
        .iter()
        .enumerate()
        .map(|(i, row)| DayKey {
            person: persons.id(&row.person),
            day: day_num(row.day),
            rank: 3 - row.source.precedence(),
            source: row.source,
            row: i as u32,
        })
        .collect();
    keys.sort_unstable();
    let periods: Vec<(u32, &PeriodRow)> = table
        .periods()
        .iter()
        .map(|p| (persons.id(&p.person), p))
        .collect();

    let mut warnings = Vec::new();
    let mut excluded = vec![false; keys.len()];
    let kept = choose_periods(periods, &persons.keys, &keys, &mut excluded, &mut warnings);
    let mut acc = vec![PersonAcc::default(); persons.keys.len()];
    let mut health = DataHealth::default();
    let superseded = fold_days(days, &keys, &excluded, &mut acc, &mut health);
    let (sources, days_by_week, mut first) = source_health(table, &superseded);
    health.sources = sources;
    for (id, p) in &kept {
        first = Some(first.map_or(p.start, |f| f.min(p.start)));
        add_period(&mut acc[*id as usize], p);
    }
    Folded {
        persons: persons.keys,
        acc,
        days_by_week,
        health,
        warnings,
        first_data_day: first,
    }
}

/// Decides which period totals count: rows of one source over the same span
/// for one person (two aliases) add up; of overlapping spans only the earlier
/// counts; daily rows of an at least as authoritative source beat them (§1),
/// and the daily rows they beat are marked `excluded`. Each decision against
/// a period is a warning.
fn choose_periods(
    mut periods: Vec<(u32, &PeriodRow)>,
    persons: &[PersonKey],
    keys: &[DayKey],
    excluded: &mut [bool],
    warnings: &mut Vec<String>,
) -> Vec<(u32, PeriodRow)> {
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
    let mut merged: Vec<(u32, PeriodRow)> = Vec::new();
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
    let mut kept: Vec<(u32, PeriodRow)> = Vec::new();
    for (id, p) in merged {
        let who = &persons[id as usize];
        if p.end < p.start {
            warnings.push(format!(
                "Period totals for {} run from {} to {}, which ends before it starts; they were not used.",
                p.person, p.start, p.end
            ));
            continue;
        }
        if let Some((_, prev)) = kept.iter().rev().find(|(pid, _)| *pid == id) {
            if prev.end >= p.start {
                warnings.push(format!(
                    "Period totals for {who} over {}..{} overlap those over {}..{}; only the earlier ones were used.",
                    p.start, p.end, prev.start, prev.end
                ));
                continue;
            }
        }
        let lo = keys.partition_point(|k| (k.person, k.day) < (id, day_num(p.start)));
        let hi = keys.partition_point(|k| (k.person, k.day) <= (id, day_num(p.end)));
        if let Some(k) = keys[lo..hi]
            .iter()
            .find(|k| k.source.precedence() >= p.source.precedence())
        {
            warnings.push(format!(
                "Period totals ({}) for {who} over {}..{} overlap daily rows from {}; the daily rows were used.",
                p.source, p.start, p.end, k.source
            ));
            continue;
        }
        excluded[lo..hi].iter_mut().for_each(|e| *e = true);
        kept.push((id, p));
    }
    kept
}

fn agree(a: &Measures, b: &Measures) -> bool {
    a.sessions == b.sessions
        && a.lines_added == b.lines_added
        && a.edits_accepted == b.edits_accepted
        && a.edits_rejected == b.edits_rejected
}

/// Folds each person-day's winning rows into its person-week; counts
/// person-days with several sources (and whether they agree) and the
/// person-days each source lost. Returns the losses per source.
fn fold_days(
    days: &[DayRow],
    keys: &[DayKey],
    excluded: &[bool],
    acc: &mut [PersonAcc],
    health: &mut DataHealth,
) -> HashMap<Source, u64> {
    let mut superseded: HashMap<Source, u64> = HashMap::new();
    let mut i = 0;
    while i < keys.len() {
        let first = keys[i];
        let mut best = Measures::default();
        let mut others: Vec<(Source, Measures)> = Vec::new();
        let mut all_excluded = true;
        let mut j = i;
        while j < keys.len() && (keys[j].person, keys[j].day) == (first.person, first.day) {
            let k = keys[j];
            all_excluded &= excluded[j];
            let m = &days[k.row as usize].measures;
            if k.source == first.source {
                best.add(m);
            } else {
                match others.iter_mut().find(|(s, _)| *s == k.source) {
                    Some((_, om)) => om.add(m),
                    None => others.push((k.source, *m)),
                }
            }
            j += 1;
        }
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
            let day = days[first.row as usize].day;
            let a = &mut acc[first.person as usize];
            a.sources.insert(first.source);
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
    superseded
}

/// Per-source row counts, first and last day and gaps; days with data per
/// week (any source, any person); the first day with a row.
fn source_health(
    table: &UsageTable,
    superseded: &HashMap<Source, u64>,
) -> (Vec<SourceHealth>, HashMap<i32, u8>, Option<NaiveDate>) {
    #[derive(Default)]
    struct Seen<'a> {
        days: BTreeSet<NaiveDate>,
        day_rows: u64,
        people: BTreeSet<&'a PersonKey>,
        period_rows: u64,
    }
    let mut per_source: BTreeMap<Source, Seen> = BTreeMap::new();
    for row in table.days() {
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
    let mut out = Vec::new();
    for (source, seen) in &per_source {
        all_days.extend(seen.days.iter().copied());
        out.push(SourceHealth {
            source: *source,
            first_day: seen.days.first().copied(),
            last_day: seen.days.last().copied(),
            day_rows: seen.day_rows,
            period_rows: seen.period_rows,
            persons: seen.people.len() as u64,
            gaps: gaps(&seen.days),
            superseded_person_days: superseded.get(source).copied().unwrap_or(0),
        });
    }
    let mut days_by_week: HashMap<i32, u8> = HashMap::new();
    for d in &all_days {
        *days_by_week.entry(week_index(*d)).or_default() += 1;
    }
    (out, days_by_week, all_days.first().copied())
}

/// A period row that counts: inside one ISO week it counts for that week
/// (§1), a longer one only for window-level figures.
fn add_period(a: &mut PersonAcc, p: &PeriodRow) {
    a.sources.insert(p.source);
    if week::monday_of(p.start) == week::monday_of(p.end) {
        let pw = a.weeks.entry(week_index(p.start)).or_default();
        pw.m.add(&p.measures);
        if p.measures.is_active() {
            pw.active = true;
            a.mark_active(p.start, p.end);
        }
    } else {
        a.long_periods.push(LongPeriod {
            start: p.start,
            end: p.end,
            m: p.measures,
        });
    }
}

/// Runs of weekdays with no data between the first and last day of a
/// source. Weekends are never listed (a weekend without rows is ordinary),
/// so a gap from Friday to Monday is two runs: Friday, and Monday.
fn gaps(days: &BTreeSet<NaiveDate>) -> Vec<(NaiveDate, NaiveDate)> {
    let mut out: Vec<(NaiveDate, NaiveDate)> = Vec::new();
    let mut prev: Option<NaiveDate> = None;
    for &d in days {
        if let Some(p) = prev {
            let mut run: Option<(NaiveDate, NaiveDate)> = None;
            for x in (p + Duration::days(1)).iter_days().take_while(|x| *x < d) {
                if matches!(x.weekday(), Weekday::Sat | Weekday::Sun) {
                    out.extend(run.take());
                } else {
                    run = Some(run.map_or((x, x), |(a, _)| (a, x)));
                }
            }
            out.extend(run);
        }
        prev = Some(d);
    }
    out
}
