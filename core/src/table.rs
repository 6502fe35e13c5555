//! The canonical table: every row loaded so far, from every source.
//!
//! Loading the same person-day from the same source again **replaces** the
//! earlier row (a later export supersedes an earlier one); rows from
//! different sources are all kept, and the engine picks the most
//! authoritative per person-day (see [`crate::metrics`]).

use std::collections::HashMap;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::model::{DayRow, PeriodRow, PersonKey, Source};

type DayKey = (Source, PersonKey, NaiveDate);
type PeriodKey = (Source, PersonKey, NaiveDate, NaiveDate);

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(from = "TableRows", into = "TableRows")]
pub struct UsageTable {
    days: Vec<DayRow>,
    periods: Vec<PeriodRow>,
    day_index: HashMap<DayKey, usize>,
    period_index: HashMap<PeriodKey, usize>,
}

/// The serialised form: just the rows (the indexes are rebuilt on load).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct TableRows {
    #[serde(default)]
    pub days: Vec<DayRow>,
    #[serde(default)]
    pub periods: Vec<PeriodRow>,
}

impl From<TableRows> for UsageTable {
    fn from(rows: TableRows) -> UsageTable {
        let mut t = UsageTable::default();
        t.insert_days(rows.days);
        t.insert_periods(rows.periods);
        t
    }
}

impl From<UsageTable> for TableRows {
    fn from(t: UsageTable) -> TableRows {
        TableRows {
            days: t.days,
            periods: t.periods,
        }
    }
}

/// How many rows a load added and how many it replaced.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MergeCount {
    pub added: usize,
    pub replaced: usize,
}

impl UsageTable {
    pub fn new() -> UsageTable {
        UsageTable::default()
    }

    /// Inserts one load's day rows. Rows of the same load with the same
    /// (source, person, day) must already be summed by the parser.
    pub fn insert_days(&mut self, rows: impl IntoIterator<Item = DayRow>) -> MergeCount {
        let mut count = MergeCount::default();
        for row in rows {
            let key = (row.source, row.person.clone(), row.day);
            match self.day_index.get(&key) {
                Some(&i) => {
                    self.days[i] = row;
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
                    self.periods[i] = row;
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

    pub fn days(&self) -> &[DayRow] {
        &self.days
    }
    pub fn periods(&self) -> &[PeriodRow] {
        &self.periods
    }
    pub fn is_empty(&self) -> bool {
        self.days.is_empty() && self.periods.is_empty()
    }

    /// Removes every row of one source (e.g. before reloading it from a server).
    pub fn remove_source(&mut self, source: Source) {
        let rows = TableRows {
            days: self.days.drain(..).filter(|r| r.source != source).collect(),
            periods: self
                .periods
                .drain(..)
                .filter(|r| r.source != source)
                .collect(),
        };
        *self = UsageTable::from(rows);
    }
}
