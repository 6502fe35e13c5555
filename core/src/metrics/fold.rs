//! From the table to person-weeks: resolve every row's person through the
//! roster, pick the most authoritative source per person-day (metrics.md
//! §1), decide which period totals count, and fold what is left into
//! per-person, per-week accumulators. Nothing here knows the window.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{Datelike, Duration, NaiveDate, Weekday};

use super::health::{DataHealth, SourceHealth};
use crate::model::{Measures, PeriodRow, PersonKey, Source};
use crate::roster::Roster;
use crate::table::{self, DayColumns, UsageTable};
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
    // Roster resolution once per distinct person of the table, not per row.
    let resolved: Vec<u32> = table.persons().iter().map(|p| persons.id(p)).collect();
    let cols = table.columns();
    let sources = cols.source.iter().fold(0u8, |set, s| set | 1 << *s as u8);
    let periods: Vec<(u32, &PeriodRow)> = table
        .periods()
        .iter()
        .map(|p| (persons.id(&p.person), p))
        .collect();
    let mut warnings = Vec::new();
    let mut days = DayAcc::new(persons.keys.len(), cols);
    let mut health = DataHealth::default();
    // One source, no two keys of one person, no period totals: every row is
    // its own person-day and wins, so no precedence to sort out.
    let one_per_person_day =
        sources.count_ones() <= 1 && persons.keys.len() == resolved.len() && periods.is_empty();
    let (kept, superseded) = if one_per_person_day {
        for (row, &p) in cols.person.iter().enumerate() {
            let person = resolved[p as usize];
            days.add(
                person,
                cols.day[row],
                cols.source[row],
                &cols.m.get(row),
                &mut health,
            );
        }
        (Vec::new(), HashMap::new())
    } else {
        let mut keys: Vec<DayKey> = (0..cols.day.len())
            .map(|i| DayKey {
                person: resolved[cols.person[i] as usize],
                day: cols.day[i],
                rank: 3 - cols.source[i].precedence(),
                source: cols.source[i],
                row: i as u32,
            })
            .collect();
        keys.sort_unstable();
        let mut excluded = vec![false; keys.len()];
        let kept = choose_periods(periods, &persons.keys, &keys, &mut excluded, &mut warnings);
        let superseded = fold_days(cols, &keys, &excluded, &mut days, &mut health);
        (kept, superseded)
    };
    let mut acc = days.finish();
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

/// The person-weeks being folded from day rows. When persons × weeks is no
/// more than the rows, each person-week is a slot of one dense array (no
/// map look-up per row); otherwise (a few rows over many years) a map per
/// person. Activity days and sources are kept as numbers until the end.
struct DayAcc {
    acc: Vec<PersonAcc>,
    /// First week of the dense array, weeks in it, and the array (person-major).
    dense: Option<(i32, usize, Vec<PersonWeek>)>,
    /// First and last active day (days from the common era) per person.
    active: Vec<(i32, i32)>,
    /// Sources per person, one bit each.
    sources: Vec<u8>,
}

impl DayAcc {
    fn new(persons: usize, cols: &DayColumns) -> DayAcc {
        let weeks = cols.day.iter().fold(None, |r: Option<(i32, i32)>, &d| {
            let w = week_of_day(d);
            Some(r.map_or((w, w), |(lo, hi)| (lo.min(w), hi.max(w))))
        });
        let dense = weeks.and_then(|(lo, hi)| {
            let span = (hi - lo) as usize + 1;
            (persons.saturating_mul(span) <= cols.day.len())
                .then(|| (lo, span, vec![PersonWeek::default(); persons * span]))
        });
        DayAcc {
            acc: vec![PersonAcc::default(); persons],
            dense,
            active: vec![(i32::MAX, i32::MIN); persons],
            sources: vec![0; persons],
        }
    }

    /// Adds a person-day's winning measures.
    #[inline]
    fn add(
        &mut self,
        person: u32,
        day: i32,
        source: Source,
        m: &Measures,
        health: &mut DataHealth,
    ) {
        let p = person as usize;
        let w = week_of_day(day);
        let pw = match &mut self.dense {
            Some((lo, span, v)) => &mut v[p * *span + (w - *lo) as usize],
            None => self.acc[p].weeks.entry(w).or_default(),
        };
        pw.m.add(m);
        self.sources[p] |= 1 << source as u8;
        if m.is_active() {
            pw.active = true;
            let a = &mut self.active[p];
            *a = (a.0.min(day), a.1.max(day));
        }
        if m.cost_is_estimated {
            health.estimated_cost_person_days += 1;
        }
    }

    fn finish(self) -> Vec<PersonAcc> {
        let DayAcc {
            mut acc,
            dense,
            active,
            sources,
        } = self;
        for (p, a) in acc.iter_mut().enumerate() {
            if let Some((lo, span, v)) = &dense {
                a.weeks = v[p * span..(p + 1) * span]
                    .iter()
                    .enumerate()
                    .filter(|(_, pw)| pw.active || pw.m != Measures::default())
                    .map(|(i, pw)| (lo + i as i32, *pw))
                    .collect();
            }
            let (first, last) = active[p];
            if first <= last {
                a.mark_active(table::date(first), table::date(last));
            }
            a.sources = Source::ALL
                .into_iter()
                .filter(|s| sources[p] & 1 << *s as u8 != 0)
                .collect();
        }
        acc
    }
}

/// [`epoch`] as days from the common era (a constant: this runs per row).
const EPOCH_CE: i32 = 719_167;

/// The week index of a day given as days from the common era.
#[inline]
fn week_of_day(day: i32) -> i32 {
    (day - EPOCH_CE).div_euclid(7)
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
    cols: &DayColumns,
    keys: &[DayKey],
    excluded: &[bool],
    acc: &mut DayAcc,
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
            let m = cols.m.get(k.row as usize);
            if k.source == first.source {
                best.add(&m);
            } else {
                match others.iter_mut().find(|(s, _)| *s == k.source) {
                    Some((_, om)) => om.add(&m),
                    None => others.push((k.source, m)),
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
            acc.add(first.person, first.day, first.source, &best, health);
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
        days: Vec<i32>,
        day_rows: u64,
        /// Table persons (by number) with a day row of the source.
        people: Vec<bool>,
        /// Persons of period rows the day rows do not name.
        period_people: BTreeSet<&'a PersonKey>,
        period_rows: u64,
    }
    let cols = table.columns();
    let n = table.persons().len();
    let mut per_source: BTreeMap<Source, Seen> = BTreeMap::new();
    for ((s, d), p) in cols.source.iter().zip(&cols.day).zip(&cols.person) {
        let e = per_source.entry(*s).or_default();
        if e.days.last() != Some(d) {
            e.days.push(*d);
        }
        e.day_rows += 1;
        if e.people.is_empty() {
            e.people = vec![false; n];
        }
        e.people[*p as usize] = true;
    }
    for p in table.periods() {
        let e = per_source.entry(p.source).or_default();
        e.period_rows += 1;
        let named = table
            .person_number(&p.person)
            .is_some_and(|i| e.people.get(i as usize).copied().unwrap_or(false));
        if !named {
            e.period_people.insert(&p.person);
        }
    }
    let mut all_days: Vec<i32> = Vec::new();
    let mut out = Vec::new();
    for (source, seen) in &mut per_source {
        seen.days.sort_unstable();
        seen.days.dedup();
        all_days.extend(&seen.days);
        let days: BTreeSet<NaiveDate> = seen.days.iter().map(|d| table::date(*d)).collect();
        out.push(SourceHealth {
            source: *source,
            first_day: days.first().copied(),
            last_day: days.last().copied(),
            day_rows: seen.day_rows,
            period_rows: seen.period_rows,
            persons: seen.people.iter().filter(|x| **x).count() as u64
                + seen.period_people.len() as u64,
            gaps: gaps(&days),
            superseded_person_days: superseded.get(source).copied().unwrap_or(0),
        });
    }
    all_days.sort_unstable();
    all_days.dedup();
    let mut days_by_week: HashMap<i32, u8> = HashMap::new();
    for d in &all_days {
        *days_by_week.entry(week_of_day(*d)).or_default() += 1;
    }
    (out, days_by_week, all_days.first().map(|d| table::date(*d)))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn week_of_a_day_number_is_the_week_of_its_date() {
        assert_eq!(EPOCH_CE, day_num(epoch()));
        for d in [
            "1969-12-28",
            "1970-01-04",
            "1970-01-05",
            "2025-12-01",
            "2026-11-22",
        ] {
            let d: NaiveDate = d.parse().unwrap_or_default();
            assert_eq!(week_of_day(day_num(d)), week_index(d), "{d}");
        }
    }
}
