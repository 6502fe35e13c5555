//! The canonical table: every row loaded so far, from every source, and the
//! days each source covers.
//!
//! Loading the same person-day from the same source again **replaces** the
//! earlier row measure by measure (metrics.md §1): a measure the later row
//! carries replaces the earlier value, even when it is 0; one it does not
//! carry (its file had no such column) keeps the earlier value. Rows from
//! different sources are all kept, and the engine picks the most
//! authoritative per person-day (see [`crate::metrics`]).
//!
//! Coverage (metrics.md §2) is part of the input: each load adds the days it
//! covers ([`UsageTable::add_coverage`]), the table keeps the union per
//! source, and [`UsageTable::coverage`] adds the days rows themselves prove.

use std::collections::{BTreeMap, HashMap};
use std::hash::BuildHasher;
use std::ops::Range;

use chrono::{Datelike, NaiveDate};
use hashbrown::HashTable;
use rustc_hash::{FxBuildHasher, FxHashMap};
use serde::{Deserialize, Serialize};

use crate::coverage::{DayRange, Freshness, SourceCoverage};
use crate::model::{DayRow, MeasureSet, Measures, ModelUsage, PeriodRow, PersonKey, Source};
use crate::parse::Import;

mod splits;
pub(crate) use splits::{ModelEntry, Splits, ToolEntry};

type PeriodKey = (Source, PersonKey, NaiveDate, NaiveDate);

/// The canonical table, a struct of arrays: day row `i` is `day[i]`,
/// `person[i]`, `source[i]`, the measures' `i`-th values… Persons are
/// numbered once ([`UsageTable::person`]), days are days from the common
/// era, and the per-model and per-tool splits, which few rows carry, are
/// kept apart by row. So a person-day costs about a hundred bytes and no
/// allocation, and the engine reads only the columns it needs.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(from = "TableRows", into = "TableRows")]
pub struct UsageTable {
    persons: Vec<PersonKey>,
    person_ids: FxHashMap<PersonKey, u32>,
    days: DayColumns,
    /// Day rows by (source, person, day): row numbers, hashed from the
    /// columns. It holds rows `0..indexed`: a file's own table is built
    /// without it (its reader finds rows itself), and it is made when a
    /// later load first needs to find a row ([`UsageTable::index_days`]).
    day_index: HashTable<u32>,
    indexed: usize,
    periods: Vec<PeriodRow>,
    period_index: HashMap<PeriodKey, usize>,
    /// Declared coverage per source (normalised ranges), and server sources' freshness.
    coverage: BTreeMap<Source, SourceCoverage>,
}

/// The day rows' columns, all of the same length.
#[derive(Debug, Clone, Default)]
pub(crate) struct DayColumns {
    /// Days from the common era ([`Datelike::num_days_from_ce`]).
    pub day: Vec<i32>,
    /// Index into [`UsageTable::persons`].
    pub person: Vec<u32>,
    pub source: Vec<Source>,
    pub present: Vec<MeasureSet>,
    pub m: MeasureColumns,
    /// The per-model and per-tool splits of the rows that have one.
    pub splits: Splits,
}

/// [`Measures`], one column per field.
#[derive(Debug, Clone, Default)]
pub(crate) struct MeasureColumns {
    pub sessions: Vec<u64>,
    pub lines_added: Vec<u64>,
    pub lines_removed: Vec<u64>,
    pub commits: Vec<u64>,
    pub pull_requests: Vec<u64>,
    pub edits_accepted: Vec<u64>,
    pub edits_rejected: Vec<u64>,
    pub input_tokens: Vec<u64>,
    pub output_tokens: Vec<u64>,
    pub cache_read_tokens: Vec<u64>,
    pub cache_creation_tokens: Vec<u64>,
    pub cost_micros: Vec<i64>,
    pub cost_is_estimated: Vec<bool>,
}

/// Writes the same code for every measure column.
macro_rules! each_column {
    ($mac:ident) => {
        $mac!(
            sessions,
            lines_added,
            lines_removed,
            commits,
            pull_requests,
            edits_accepted,
            edits_rejected,
            input_tokens,
            output_tokens,
            cache_read_tokens,
            cache_creation_tokens,
            cost_micros,
            cost_is_estimated
        )
    };
}

impl MeasureColumns {
    /// Row `i`'s measures.
    #[inline]
    pub fn get(&self, i: usize) -> Measures {
        macro_rules! get {
            ($($f:ident),*) => { Measures { $($f: self.$f[i]),* } };
        }
        each_column!(get)
    }

    fn set(&mut self, i: usize, m: &Measures) {
        macro_rules! set {
            ($($f:ident),*) => {{ $(self.$f[i] = m.$f;)* }};
        }
        each_column!(set)
    }

    fn push(&mut self, m: &Measures) {
        macro_rules! push {
            ($($f:ident),*) => {{ $(self.$f.push(m.$f);)* }};
        }
        each_column!(push)
    }

    fn reserve(&mut self, n: usize) {
        macro_rules! reserve {
            ($($f:ident),*) => {{ $(self.$f.reserve(n);)* }};
        }
        each_column!(reserve)
    }

    /// Bytes the columns hold (their capacity).
    fn heap_bytes(&self) -> usize {
        macro_rules! bytes {
            ($($f:ident),*) => { 0 $(+ capacity_bytes(&self.$f))* };
        }
        each_column!(bytes)
    }
}

/// Bytes a vector holds.
fn capacity_bytes<T>(v: &Vec<T>) -> usize {
    v.capacity() * std::mem::size_of::<T>()
}

/// The hash of a (source, person, day) key.
fn day_hash(source: Source, person: u32, day: i32) -> u64 {
    FxBuildHasher.hash_one((source, person, day))
}

/// The serialised form: the rows and the declared coverage (the indexes are
/// rebuilt on load). Tables saved before coverage existed read with none.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct TableRows {
    #[serde(default)]
    pub days: Vec<DayRow>,
    #[serde(default)]
    pub periods: Vec<PeriodRow>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub coverage: Vec<SourceCoverage>,
}

impl From<TableRows> for UsageTable {
    fn from(rows: TableRows) -> UsageTable {
        let mut t = UsageTable::default();
        t.insert_days(rows.days);
        t.insert_periods(rows.periods);
        for c in &rows.coverage {
            t.add_source_coverage(c);
        }
        t
    }
}

impl From<UsageTable> for TableRows {
    fn from(t: UsageTable) -> TableRows {
        TableRows {
            days: t.day_rows().collect(),
            periods: t.periods,
            coverage: t.coverage.into_values().collect(),
        }
    }
}

/// How many rows a load added and how many it replaced.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MergeCount {
    pub added: usize,
    pub replaced: usize,
}

impl MergeCount {
    pub fn add(&mut self, o: MergeCount) {
        self.added += o.added;
        self.replaced += o.replaced;
    }
}

impl UsageTable {
    pub fn new() -> UsageTable {
        UsageTable::default()
    }

    /// Inserts one load's day rows. Rows of the same load with the same
    /// (source, person, day) must already be summed by the parser; an
    /// earlier load's row is updated measure by measure.
    pub fn insert_days(&mut self, rows: impl IntoIterator<Item = DayRow>) -> MergeCount {
        let rows = rows.into_iter();
        self.reserve_days(rows.size_hint().0);
        let mut count = MergeCount::default();
        for row in rows {
            let person = self.person_id(&row.person);
            if self.insert_day(person, row) {
                count.added += 1;
            } else {
                count.replaced += 1;
            }
        }
        count
    }

    /// Room for `n` more day rows, and for them in the row index.
    fn reserve_days(&mut self, n: usize) {
        self.reserve_file_days(n);
        self.index_days();
        let d = &self.days;
        let cols = (&d.source, &d.person, &d.day);
        self.day_index.reserve(n, |&i| row_hash(cols, i));
    }

    /// Puts the rows not yet in the row index into it.
    fn index_days(&mut self) {
        let d = &self.days;
        let (from, to) = (self.indexed, d.day.len());
        if from == to {
            return;
        }
        let cols = (&d.source, &d.person, &d.day);
        self.day_index.reserve(to - from, |&i| row_hash(cols, i));
        for i in from as u32..to as u32 {
            self.day_index
                .insert_unique(row_hash(cols, i), i, |&j| row_hash(cols, j));
        }
        self.indexed = to;
    }

    /// The number of `key` in this table, numbering it if it is new.
    pub(crate) fn person_id(&mut self, key: &PersonKey) -> u32 {
        if let Some(&id) = self.person_ids.get(key) {
            return id;
        }
        let id = self.persons.len() as u32;
        self.persons.push(key.clone());
        self.person_ids.insert(key.clone(), id);
        id
    }

    /// Adds `row` (whose person is number `person`), or updates the row of
    /// its (source, person, day) measure by measure. True when added.
    fn insert_day(&mut self, person: u32, row: DayRow) -> bool {
        self.index_days();
        let day = row.day.num_days_from_ce();
        let d = &mut self.days;
        let hash = day_hash(row.source, person, day);
        let found = self.day_index.find(hash, |&i| {
            let i = i as usize;
            d.day[i] == day && d.person[i] == person && d.source[i] == row.source
        });
        if let Some(&i) = found {
            let mut have = self.day_row(i as usize);
            have.update_from(row);
            self.days.set(i as usize, have);
            return false;
        }
        let i = d.day.len() as u32;
        let cols = (&d.source, &d.person, &d.day);
        self.day_index
            .insert_unique(hash, i, |&j| row_hash(cols, j));
        d.push(day, person, row);
        self.indexed += 1;
        true
    }

    pub fn insert_periods(&mut self, rows: impl IntoIterator<Item = PeriodRow>) -> MergeCount {
        let mut count = MergeCount::default();
        for row in rows {
            let key = (row.source, row.person.clone(), row.start, row.end);
            match self.period_index.get(&key) {
                Some(&i) => {
                    self.periods[i].update_from(row);
                    count.replaced += 1;
                }
                None => {
                    self.period_index.insert(key, self.periods.len());
                    self.periods.push(row);
                    count.added += 1;
                }
            }
        }
        count
    }

    /// Inserts everything a usage file gave: its rows and the days it covers.
    pub fn insert_import(&mut self, import: Import) -> MergeCount {
        if let Some(source) = import.kind.source() {
            for r in &import.coverage {
                self.add_coverage(source, *r);
            }
        }
        let mut count = self.insert_days(import.rows);
        count.add(self.insert_periods(import.periods));
        count
    }

    /// Adds the loads of `other` (a file's own table, e.g. from
    /// [`crate::parse::ImportStream::finish_table`]) as if its rows, periods
    /// and coverage had been inserted after this table's: the same rules as
    /// [`UsageTable::insert_import`] (a person-day already here is replaced
    /// measure by measure). Into an empty table, `other` is moved, not copied.
    pub fn merge(&mut self, other: UsageTable) -> MergeCount {
        if self.is_empty() && self.coverage.is_empty() {
            let added = other.day_count() + other.periods.len();
            *self = other;
            return MergeCount { added, replaced: 0 };
        }
        for c in other.coverage.values() {
            self.add_source_coverage(c);
        }
        let UsageTable {
            persons,
            days: d,
            periods,
            ..
        } = other;
        // Other's person numbers → this table's.
        let ids: Vec<u32> = persons.iter().map(|p| self.person_id(p)).collect();
        let n = d.day.len();
        self.reserve_days(n);
        let mut count = MergeCount::default();
        for i in 0..n {
            let (models, tools) = d.splits.get(i as u32);
            let row = DayRow {
                day: date(d.day[i]),
                person: persons[d.person[i] as usize].clone(),
                source: d.source[i],
                measures: d.m.get(i),
                models,
                tools,
                present: d.present[i],
            };
            if self.insert_day(ids[d.person[i] as usize], row) {
                count.added += 1;
            } else {
                count.replaced += 1;
            }
        }
        count.add(self.insert_periods(periods));
        count
    }

    /// Records that `source` covers `range` (metrics.md §2).
    pub fn add_coverage(&mut self, source: Source, range: DayRange) {
        let c = self
            .coverage
            .entry(source)
            .or_insert_with(|| SourceCoverage::new(source));
        c.ranges.push(range);
        c.ranges = DayRange::normalize(std::mem::take(&mut c.ranges));
    }

    /// Adds a source's covered ranges and, when given, its freshness.
    pub fn add_source_coverage(&mut self, c: &SourceCoverage) {
        for r in &c.ranges {
            self.add_coverage(c.source, *r);
        }
        if let Some(f) = c.freshness {
            self.set_freshness(c.source, f);
        }
    }

    /// How a server source is doing (last success, failing).
    pub fn set_freshness(&mut self, source: Source, freshness: Freshness) {
        self.coverage
            .entry(source)
            .or_insert_with(|| SourceCoverage::new(source))
            .freshness = Some(freshness);
    }

    /// The coverage loads declared, per source.
    pub fn declared_coverage(&self) -> impl Iterator<Item = &SourceCoverage> {
        self.coverage.values()
    }

    /// The days each source covers: what loads declared, plus every day a
    /// row of the source proves (a row is a report for its day), plus the
    /// periods inside one ISO week. A source with rows but nothing declared
    /// (rows saved before coverage existed, rows inserted directly) covers
    /// its first to its last day, as a usage export does.
    pub fn coverage(&self) -> Vec<SourceCoverage> {
        let mut out = self.coverage.clone();
        // Day numbers per source (indexed by `Source as usize`), made dates once deduplicated.
        let mut numbers: [Vec<i32>; Source::ALL.len()] = Default::default();
        for (s, d) in self.days.source.iter().zip(&self.days.day) {
            let days = &mut numbers[*s as usize];
            if days.last() != Some(d) {
                days.push(*d);
            }
        }
        let mut spans: BTreeMap<Source, Vec<NaiveDate>> = BTreeMap::new();
        for (source, mut days) in Source::ALL.into_iter().zip(numbers) {
            if !days.is_empty() {
                days.sort_unstable();
                days.dedup();
                spans.insert(source, days.into_iter().map(date).collect());
            }
        }
        for p in &self.periods {
            if let Some(w) = DayRange::weekly(p.start, p.end) {
                let days = spans.entry(p.source).or_default();
                days.push(w.from);
                days.push(w.to);
            }
        }
        for (source, mut days) in spans {
            let c = out
                .entry(source)
                .or_insert_with(|| SourceCoverage::new(source));
            days.sort_unstable();
            days.dedup();
            let mut ranges = std::mem::take(&mut c.ranges);
            if ranges.is_empty() {
                ranges.extend(DayRange::span(days.iter().copied()));
            } else {
                ranges.extend(days.into_iter().map(DayRange::day));
            }
            c.ranges = DayRange::normalize(ranges);
        }
        out.into_values().collect()
    }

    /// The number of day rows.
    pub fn day_count(&self) -> usize {
        self.days.day.len()
    }

    /// The first and last day of any row (a period row counts from its
    /// start to its end); `None` for a table without rows.
    pub fn day_span(&self) -> Option<(NaiveDate, NaiveDate)> {
        let days = self.days.day.iter().map(|&d| (d, d));
        let periods = self
            .periods
            .iter()
            .map(|p| (p.start.num_days_from_ce(), p.end.num_days_from_ce()));
        days.chain(periods)
            .reduce(|(a, b), (c, d)| (a.min(c), b.max(d)))
            .map(|(a, b)| (date(a), date(b)))
    }

    /// Day row `i` (in the order rows were first loaded), built from the columns.
    pub fn day_row(&self, i: usize) -> DayRow {
        let d = &self.days;
        let (models, tools) = d.splits.get(i as u32);
        DayRow {
            day: date(d.day[i]),
            person: self.persons[d.person[i] as usize].clone(),
            source: d.source[i],
            measures: d.m.get(i),
            models,
            tools,
            present: d.present[i],
        }
    }

    /// Every day row, in the order rows were first loaded.
    pub fn day_rows(&self) -> impl ExactSizeIterator<Item = DayRow> + '_ {
        self.day_rows_in(0..self.day_count())
    }

    /// The day rows numbered `range` (clipped to the table).
    pub fn day_rows_in(&self, range: Range<usize>) -> impl ExactSizeIterator<Item = DayRow> + '_ {
        let end = range.end.min(self.day_count());
        (range.start.min(end)..end).map(|i| self.day_row(i))
    }

    /// Day rows per source.
    pub fn day_counts(&self) -> BTreeMap<Source, u64> {
        let mut n = [0u64; Source::ALL.len()];
        for s in &self.days.source {
            n[*s as usize] += 1;
        }
        Source::ALL
            .into_iter()
            .zip(n)
            .filter(|(_, n)| *n > 0)
            .collect()
    }

    /// The persons the day rows name, by number.
    pub(crate) fn persons(&self) -> &[PersonKey] {
        &self.persons
    }

    /// The number of `key` among the day rows' persons, if any row names it.
    pub(crate) fn person_number(&self, key: &PersonKey) -> Option<u32> {
        self.person_ids.get(key).copied()
    }

    /// The day rows' columns.
    pub(crate) fn columns(&self) -> &DayColumns {
        &self.days
    }

    /// Bytes the table holds on the heap, from its vectors' and indexes'
    /// capacities (person keys counted twice: list and index). Not counted:
    /// the allocator's own overhead.
    pub fn heap_bytes(&self) -> usize {
        let d = &self.days;
        let keys: usize = self.persons.iter().map(|p| p.as_str().len()).sum();
        capacity_bytes(&self.persons)
            + 2 * keys
            + self.person_ids.capacity() * (std::mem::size_of::<(PersonKey, u32)>() + 1)
            + capacity_bytes(&d.day)
            + capacity_bytes(&d.person)
            + capacity_bytes(&d.source)
            + capacity_bytes(&d.present)
            + d.m.heap_bytes()
            + d.splits.heap_bytes()
            + self.day_index.capacity() * (std::mem::size_of::<u32>() + 1)
            + capacity_bytes(&self.periods)
    }

    pub fn periods(&self) -> &[PeriodRow] {
        &self.periods
    }
    pub fn is_empty(&self) -> bool {
        self.days.day.is_empty() && self.periods.is_empty()
    }

    /// Removes every row and the coverage of one source (e.g. before
    /// reloading it from a server).
    pub fn remove_source(&mut self, source: Source) {
        let mut rows = TableRows::from(std::mem::take(self));
        rows.days.retain(|r| r.source != source);
        rows.periods.retain(|r| r.source != source);
        rows.coverage.retain(|c| c.source != source);
        *self = UsageTable::from(rows);
    }
}

/// Building one file's table as its rows are read (`parse::usage_csv`): the
/// reader finds a row again itself (it knows which day it is on), so rows
/// are appended without the row index, and a later row of the same
/// person-day is summed into the earlier one (rows of one file add up; a
/// later load replaces). [`UsageTable::seal_file_days`] then orders the rows
/// and builds the index.
impl UsageTable {
    /// Appends a new day row without looking for its (source, person, day);
    /// returns its number.
    pub(crate) fn push_file_day(
        &mut self,
        day: i32,
        person: u32,
        present: MeasureSet,
        m: &Measures,
        models: Vec<ModelUsage>,
    ) -> usize {
        let i = self.push_day(day, person, Source::Csv, present, m);
        if !models.is_empty() {
            self.days.splits.set(i as u32, &models, &[]);
        }
        i
    }

    /// Appends a new day row (no splits) without looking for its (source,
    /// person, day); returns its number.
    pub(crate) fn push_day(
        &mut self,
        day: i32,
        person: u32,
        source: Source,
        present: MeasureSet,
        m: &Measures,
    ) -> usize {
        let d = &mut self.days;
        let i = d.day.len();
        d.day.push(day);
        d.person.push(person);
        d.source.push(source);
        d.present.push(present);
        d.m.push(m);
        i
    }

    /// The rows' per-model and per-tool splits, for a reader that appends
    /// rows with [`UsageTable::push_day`].
    pub(crate) fn splits_mut(&mut self) -> &mut Splits {
        &mut self.days.splits
    }

    /// Whether no two day rows of a table built without its index share a
    /// (source, person, day). Rows whose days rise for each source and
    /// person (a server's answer: by day, then person) are told in one pass
    /// without hashing; other tables build the row index, kept when it
    /// finds no two.
    pub(crate) fn day_keys_unique(&mut self) -> bool {
        debug_assert_eq!(self.indexed, 0, "asked of a table built without its index");
        let d = &self.days;
        let sources = Source::ALL.len();
        let mut last = vec![i32::MIN; self.persons.len() * sources];
        let rising = (0..d.day.len()).all(|i| {
            let seen = &mut last[d.person[i] as usize * sources + d.source[i] as usize];
            let later = *seen < d.day[i];
            *seen = d.day[i];
            later
        });
        if rising {
            return true;
        }
        let cols = (&d.source, &d.person, &d.day);
        self.day_index.clear();
        self.day_index.reserve(d.day.len(), |&i| row_hash(cols, i));
        for i in 0..d.day.len() as u32 {
            let hash = row_hash(cols, i);
            let same = |&j: &u32| {
                let (i, j) = (i as usize, j as usize);
                d.day[i] == d.day[j] && d.person[i] == d.person[j] && d.source[i] == d.source[j]
            };
            if self.day_index.find(hash, same).is_some() {
                self.day_index.clear();
                return false;
            }
            self.day_index
                .insert_unique(hash, i, |&j| row_hash(cols, j));
        }
        self.indexed = d.day.len();
        true
    }

    /// Adds `m` (and its per-model split) into day row `i` (saturating, as
    /// [`DayRow::absorb`] does).
    pub(crate) fn absorb_file_day(
        &mut self,
        i: usize,
        present: MeasureSet,
        m: &Measures,
        models: &[ModelUsage],
    ) {
        let d = &mut self.days;
        let mut have = d.m.get(i);
        have.add(m);
        d.m.set(i, &have);
        d.present[i] |= present;
        d.splits.absorb_models(i as u32, models);
    }

    /// Room for about `n` more rows in the columns (a file being read
    /// leaves the row index to later).
    pub(crate) fn reserve_file_days(&mut self, n: usize) {
        let d = &mut self.days;
        d.day.reserve(n);
        d.person.reserve(n);
        d.source.reserve(n);
        d.present.reserve(n);
        d.m.reserve(n);
    }

    /// Once a file's rows are all read: puts them in day-then-person order
    /// (exports usually are already; persons are then numbered in order of
    /// their first row, as [`UsageTable::insert_days`] of sorted rows
    /// numbers them). The row index is left to the first later load that
    /// needs it.
    pub(crate) fn seal_file_days(&mut self) {
        debug_assert_eq!(self.indexed, 0, "a file's table is built without its index");
        let n = self.day_count();
        // Each person's place among the keys in order: rows are then
        // compared by two integers, not by their keys' text.
        let mut by_key: Vec<u32> = (0..self.persons.len() as u32).collect();
        by_key.sort_unstable_by(|&a, &b| self.persons[a as usize].cmp(&self.persons[b as usize]));
        let mut rank = vec![0u32; by_key.len()];
        for (r, &p) in by_key.iter().enumerate() {
            rank[p as usize] = r as u32;
        }
        let d = &self.days;
        let key = |i: usize| (d.day[i], rank[d.person[i] as usize]);
        if !(1..n).all(|i| key(i - 1) <= key(i)) {
            let mut order: Vec<u32> = (0..n as u32).collect();
            order.sort_unstable_by_key(|&i| key(i as usize));
            self.days.permute(&order);
            // Persons numbered again in order of first row.
            let mut renumber = vec![u32::MAX; self.persons.len()];
            let mut persons = Vec::with_capacity(self.persons.len());
            for p in &mut self.days.person {
                let new = &mut renumber[*p as usize];
                if *new == u32::MAX {
                    *new = persons.len() as u32;
                    persons.push(self.persons[*p as usize].clone());
                }
                *p = *new;
            }
            self.person_ids = persons
                .iter()
                .enumerate()
                .map(|(i, k)| (k.clone(), i as u32))
                .collect();
            self.persons = persons;
        }
    }
}

/// The hash of row `i` of the (source, person, day) columns.
fn row_hash(cols: (&Vec<Source>, &Vec<u32>, &Vec<i32>), i: u32) -> u64 {
    let i = i as usize;
    day_hash(cols.0[i], cols.1[i], cols.2[i])
}

/// The day `n` days from the common era (as stored in [`DayColumns::day`]).
pub(crate) fn date(n: i32) -> NaiveDate {
    NaiveDate::from_num_days_from_ce_opt(n).unwrap_or_default()
}

impl DayColumns {
    /// Puts row `order[k]` at `k` in every column.
    fn permute(&mut self, order: &[u32]) {
        fn take<T: Copy>(col: &mut Vec<T>, order: &[u32]) {
            *col = order.iter().map(|&i| col[i as usize]).collect();
        }
        take(&mut self.day, order);
        take(&mut self.person, order);
        take(&mut self.source, order);
        take(&mut self.present, order);
        macro_rules! permute {
            ($($f:ident),*) => {{ $(take(&mut self.m.$f, order);)* }};
        }
        each_column!(permute);
        self.splits.permute(order);
    }

    fn push(&mut self, day: i32, person: u32, row: DayRow) {
        let i = self.day.len() as u32;
        self.day.push(day);
        self.person.push(person);
        self.source.push(row.source);
        self.present.push(row.present);
        self.m.push(&row.measures);
        self.splits.set(i, &row.models, &row.tools);
    }

    /// Row `i`'s measures, presence and splits from `row` (same key).
    fn set(&mut self, i: usize, row: DayRow) {
        self.present[i] = row.present;
        self.m.set(i, &row.measures);
        self.splits.set(i as u32, &row.models, &row.tools);
    }
}
