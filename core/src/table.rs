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

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::coverage::{DayRange, Freshness, SourceCoverage};
use crate::model::{DayRow, PeriodRow, PersonKey, Source};
use crate::parse::Import;

type DayKey = (Source, PersonKey, NaiveDate);
type PeriodKey = (Source, PersonKey, NaiveDate, NaiveDate);

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(from = "TableRows", into = "TableRows")]
pub struct UsageTable {
    days: Vec<DayRow>,
    periods: Vec<PeriodRow>,
    day_index: HashMap<DayKey, usize>,
    period_index: HashMap<PeriodKey, usize>,
    /// Declared coverage per source (normalised ranges), and server sources' freshness.
    coverage: BTreeMap<Source, SourceCoverage>,
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
            days: t.days,
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
        let mut count = MergeCount::default();
        for row in rows {
            let key = (row.source, row.person.clone(), row.day);
            match self.day_index.get(&key) {
                Some(&i) => {
                    self.days[i].update_from(row);
                    count.replaced += 1;
                }
                None => {
                    self.day_index.insert(key, self.days.len());
                    self.days.push(row);
                    count.added += 1;
                }
            }
        }
        count
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
        let mut spans: BTreeMap<Source, Vec<NaiveDate>> = BTreeMap::new();
        for r in &self.days {
            spans.entry(r.source).or_default().push(r.day);
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

    pub fn days(&self) -> &[DayRow] {
        &self.days
    }
    pub fn periods(&self) -> &[PeriodRow] {
        &self.periods
    }
    pub fn is_empty(&self) -> bool {
        self.days.is_empty() && self.periods.is_empty()
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
