//! The server's data, loaded for an answer: the rows of a range (the
//! store's, telemetry's, the exports folder's) with what each source
//! covers, and the merged roster. `/api/rows`, `/api/roster`, `/api/report`,
//! `/metrics` and the digest all read through here; the answers' shapes
//! stay with their handlers ([`crate::api`], [`crate::feeds`]).

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, NaiveDate, Utc};
use scoreboard_core::{
    DayRange, DayRow, Freshness, PeriodRow, Problem, Roster, Source, SourceCoverage, UsageTable,
};
use scoreboard_otlp::TelemetryStatus;

use crate::error::{blocking, ApiError};
use crate::state::AppState;
use crate::store::{Store, StoreError, StoredRow};
use crate::sync::ADMIN_DIRECTORY;

/// The days an Anthropic API source synced successfully, and its last success.
pub fn sync_coverage(
    store: &Store,
    source: Source,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<SourceCoverage, crate::store::StoreError> {
    let days = store.synced_days(source, from, to)?;
    let state = store.sync_state(source)?;
    Ok(SourceCoverage {
        source,
        ranges: DayRange::normalize(days.keys().copied().map(DayRange::day).collect()),
        freshness: Some(Freshness {
            last_ok: state.last_success.map(|t| t.date_naive()),
            failing: state.last_error.is_some(),
        }),
    })
}

/// Telemetry covers its first received batch to the server's clock.
pub fn telemetry_coverage(
    status: &TelemetryStatus,
    now: DateTime<Utc>,
    from: NaiveDate,
    to: NaiveDate,
) -> SourceCoverage {
    let first = status
        .persons_seen
        .iter()
        .map(|p| p.first_received_at.date_naive())
        .min();
    let today = now.date_naive();
    SourceCoverage {
        source: Source::Otlp,
        ranges: first
            .map(|f| DayRange::clip(&[DayRange::new(f, today)], from, to))
            .unwrap_or_default(),
        freshness: Some(Freshness {
            last_ok: status.last_received_at.map(|t| t.date_naive()),
            failing: status.error.is_some(),
        }),
    }
}

/// The server's rows of `from..=to` in core's table: the exports folder's,
/// the Anthropic APIs' from the store and telemetry's, one row per source
/// and person-day, in [`AnswerRows::walk`]'s order; and the days each
/// source covers.
pub(crate) struct ServerRows {
    /// Day rows only: the periods and coverage stay apart, as an answer
    /// lists them (a report's table takes them in).
    pub table: UsageTable,
    pub periods: Vec<PeriodRow>,
    pub coverage: Vec<SourceCoverage>,
    /// Rows from the exports folder, per source.
    pub imported: BTreeMap<Source, u64>,
}

/// What `/api/report`, `/metrics` and the digest compute from: the rows
/// `/api/rows` answers, collected from [`AnswerRows::walk`] into a table,
/// so the sources' precedence (a synced or received row of the same source
/// and person-day over the file's) is decided in one place. The table
/// holds about a hundred bytes a row; no `DayRow` per row is kept.
pub(crate) async fn load_rows(
    state: &AppState,
    from: NaiveDate,
    to: NaiveDate,
    now: DateTime<Utc>,
) -> Result<ServerRows, ApiError> {
    let state = state.clone();
    blocking(move || {
        let answer = AnswerRows::read(&state, from, to, now)?;
        let mut table = UsageTable::new();
        answer.walk(None, |row| {
            table.insert_days([row.to_day_row()?]);
            Ok(())
        })?;
        Ok(ServerRows {
            table,
            periods: answer.periods,
            coverage: answer.coverage,
            imported: answer.imported,
        })
    })
    .await?
}

/// What `/api/roster` answers, before it is written: the roster file
/// merged with the Admin API's users, and where the entries came from.
pub(crate) struct ServerRoster {
    pub roster: Roster,
    /// Lines of the roster file that could not be read.
    pub problems: Vec<Problem>,
    /// The roster file's name (never its full path) and its entries.
    pub file: Option<(String, usize)>,
    /// When the Admin API's users were fetched, and how many.
    pub directory: Option<(DateTime<Utc>, usize)>,
}

impl ServerRoster {
    /// The roster reports compute with: `None` when the server has none.
    pub fn for_reports(&self) -> Option<Roster> {
        let entries = self.roster.entries();
        (!entries.is_empty()).then(|| Roster::new(entries.to_vec()))
    }
}

/// The roster file (read again when it changes, so edits show without a
/// restart) merged with the Admin API's users.
pub(crate) async fn load_roster(state: &AppState) -> Result<ServerRoster, ApiError> {
    let file = state.roster_file().clone();
    let store = state.store().clone();
    let (file_part, dir) = blocking(move || {
        let file_part = file
            .read()
            .map(|r| (r.name.clone(), r.entries.clone(), r.problems.clone()));
        (file_part, store.directory(ADMIN_DIRECTORY))
    })
    .await?;
    let dir = dir?;
    let mut problems = Vec::new();
    let mut all = Vec::new();
    let mut file_source = None;
    let mut directory = None;
    if let Some((name, entries, p)) = file_part {
        file_source = Some((name, entries.len()));
        all.extend(entries);
        problems.extend(p);
    }
    if let Some((fetched_at, entries)) = dir {
        directory = Some((fetched_at, entries.len()));
        all.extend(entries);
    }
    Ok(ServerRoster {
        roster: Roster::new(all),
        problems,
        file: file_source,
        directory,
    })
}

/// The sources the store holds (the Anthropic APIs'; telemetry has its own tables).
pub const STORE_SOURCES: [Source; 2] = [Source::AdminApi, Source::EnterpriseApi];

/// One row of an answer, as [`AnswerRows::walk`] hands it over.
pub(crate) enum AnswerRow<'a> {
    /// The store's, borrowed from SQLite for the call (no [`DayRow`] made).
    Stored(StoredRow<'a>),
    /// The exports folder's (with the live row of its person-day over it)
    /// or telemetry's.
    Held(&'a DayRow),
}

impl AnswerRow<'_> {
    /// The row, owned.
    pub(crate) fn to_day_row(&self) -> Result<DayRow, StoreError> {
        match self {
            AnswerRow::Stored(s) => s.to_day_row(),
            AnswerRow::Held(r) => Ok((*r).clone()),
        }
    }
}

/// The live row over a folder's person-day, if any.
#[derive(Clone, Copy)]
enum Over {
    None,
    /// Row `i` of [`Twins::stored`].
    Stored(usize),
    /// Row `i` of [`AnswerRows::telemetry`].
    Telemetry(usize),
}

/// The folder's person-days of the live sources, and the live rows over
/// them: the store's kept in a table's columns (about a hundred bytes a
/// row, not a `DayRow`'s heap), telemetry's by their place.
#[derive(Default)]
struct Twins {
    over: HashMap<(Source, NaiveDate), HashMap<String, Over>>,
    stored: UsageTable,
}

/// The server's rows of a range without holding them: the one place the
/// sources' precedence is applied. `/api/rows` writes its answer from
/// [`AnswerRows::walk`] as the rows come; [`load_rows`] collects the same
/// walk into a table for the reports. The store's rows are read only
/// while `walk` hands them over, and the exports folder's are made one at
/// a time from its table. What is held is telemetry's rows, the folder's
/// person-days of the live sources (Admin / Enterprise API dumps) with
/// the live rows over them (in a table's columns), and the answer's head
/// (counts, periods, imported counts, coverage): nothing per stored row.
///
/// The order: the folder's rows first, in its table's order (a live row
/// of the same source and person-day replaces the file's measure by
/// measure, [`DayRow::update_from`], and takes its place, as the page puts
/// the server's rows over the files dropped on it), then the store's rows
/// by day, source and person, then telemetry's, each without those
/// already given over a file's.
pub(crate) struct AnswerRows {
    store: std::sync::Arc<Store>,
    from: NaiveDate,
    to: NaiveDate,
    telemetry: Vec<DayRow>,
    folder: Option<std::sync::Arc<crate::imports::ImportsSnapshot>>,
    twins: Twins,
    /// Rows of the whole answer per source.
    pub counts: BTreeMap<Source, usize>,
    pub periods: Vec<PeriodRow>,
    pub imported: BTreeMap<Source, u64>,
    pub coverage: Vec<SourceCoverage>,
}

impl AnswerRows {
    /// Everything but the store's rows. Blocking.
    pub(crate) fn read(
        state: &AppState,
        from: NaiveDate,
        to: NaiveDate,
        now: DateTime<Utc>,
    ) -> Result<AnswerRows, ApiError> {
        let store = state.store().clone();
        let mut coverage = STORE_SOURCES
            .into_iter()
            .filter(|s| state.syncer().configured(*s))
            .map(|s| sync_coverage(&store, s, from, to))
            .collect::<Result<Vec<_>, _>>()?;
        let mut counts = store.row_counts(from, to)?;
        counts.retain(|s, _| STORE_SOURCES.contains(s));
        let mut telemetry = Vec::new();
        if let Some(t) = state.telemetry() {
            telemetry = t
                .day_rows(from, to)
                .map_err(|e| ApiError::internal(e.to_string()))?;
            coverage.push(telemetry_coverage(&t.status(now), now, from, to));
            for r in &telemetry {
                *counts.entry(r.source).or_insert(0) += 1;
            }
        }
        let mut rows = AnswerRows {
            store,
            from,
            to,
            telemetry,
            folder: None,
            twins: Twins::default(),
            counts,
            periods: Vec::new(),
            imported: BTreeMap::new(),
            coverage,
        };
        if let Some(folder) = state.imports().read(now) {
            rows.add_folder(folder)?;
        }
        Ok(rows)
    }

    /// The folder's counts, periods and coverage, and the live rows over
    /// its person-days (read from the store's days the folder has rows
    /// of, and from telemetry's rows).
    fn add_folder(
        &mut self,
        folder: std::sync::Arc<crate::imports::ImportsSnapshot>,
    ) -> Result<(), ApiError> {
        let live = |s: Source| STORE_SOURCES.contains(&s) || s == Source::Otlp;
        let mut file_rows: BTreeMap<Source, u64> = BTreeMap::new();
        for r in folder.rows_in(self.from, self.to) {
            *file_rows.entry(r.source).or_insert(0) += 1;
            if live(r.source) {
                self.twins
                    .over
                    .entry((r.source, r.day))
                    .or_default()
                    .insert(r.person.as_str().to_string(), Over::None);
            }
        }
        let Twins { over, stored } = &mut self.twins;
        for ((source, day), persons) in over.iter_mut() {
            if !STORE_SOURCES.contains(source) {
                continue;
            }
            self.store.visit_rows(*day, *day, &[*source], |s| {
                if let Some(slot) = persons.get_mut(s.person) {
                    *slot = Over::Stored(stored.day_count());
                    stored.insert_days([s.to_day_row()?]);
                }
                Ok(())
            })?;
        }
        for (i, r) in self.telemetry.iter().enumerate() {
            if let Some(slot) = over
                .get_mut(&(r.source, r.day))
                .and_then(|p| p.get_mut(r.person.as_str()))
            {
                *slot = Over::Telemetry(i);
            }
        }
        // A live row over a file's person-day is one row of the answer, not two.
        for ((source, _), persons) in over.iter() {
            let over = persons
                .values()
                .filter(|t| !matches!(t, Over::None))
                .count();
            if over > 0 {
                *file_rows.entry(*source).or_insert(0) -= over as u64;
            }
        }
        for (source, n) in file_rows {
            if n > 0 {
                self.imported.insert(source, n);
            }
            *self.counts.entry(source).or_insert(0) += n as usize;
        }
        self.counts.retain(|_, n| *n > 0);
        self.periods = folder.periods(self.from, self.to);
        for p in &self.periods {
            *self.imported.entry(p.source).or_insert(0) += 1;
        }
        self.coverage.extend(folder.coverage(self.from, self.to));
        self.folder = Some(folder);
        Ok(())
    }

    /// Whether a live row of this person-day goes over a file's.
    fn over_a_file(&self, source: Source, day: NaiveDate, person: &str) -> bool {
        !self.twins.over.is_empty()
            && self
                .twins
                .over
                .get(&(source, day))
                .is_some_and(|p| p.contains_key(person))
    }

    /// Hands each row of the answer to `visit`, in order; with `delta`,
    /// only the rows inside its scopes (and of the store's, only the
    /// replaced days are read). Blocking; the store's lock is held while
    /// its rows are handed over.
    pub(crate) fn walk(
        &self,
        delta: Option<&scoreboard_core::api::RowsDelta>,
        mut visit: impl FnMut(AnswerRow<'_>) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let inside = delta.map(|d| d.matcher());
        let keep = |r: &DayRow| inside.as_ref().is_none_or(|f| f(r));
        if let Some(folder) = &self.folder {
            for mut r in folder.rows_in(self.from, self.to) {
                let over = self
                    .twins
                    .over
                    .get(&(r.source, r.day))
                    .and_then(|p| p.get(r.person.as_str()));
                match over {
                    Some(Over::Stored(i)) => r.update_from(self.twins.stored.day_row(*i)),
                    Some(Over::Telemetry(i)) => r.update_from(self.telemetry[*i].clone()),
                    Some(Over::None) | None => {}
                }
                if keep(&r) {
                    visit(AnswerRow::Held(&r))?;
                }
            }
        }
        let mut stored = |s: StoredRow<'_>| {
            if self.over_a_file(s.source, s.day, s.person) {
                return Ok(());
            }
            visit(AnswerRow::Stored(s))
        };
        match delta {
            None => self
                .store
                .visit_rows(self.from, self.to, &STORE_SOURCES, &mut stored)?,
            Some(d) => {
                // The replaced source-days only, in the full answer's order.
                let mut days: Vec<(NaiveDate, &'static str, Source)> = d
                    .replaced
                    .iter()
                    .filter_map(|s| match s {
                        scoreboard_core::api::RowScope::Day { source, day }
                            if STORE_SOURCES.contains(source)
                                && *day >= self.from
                                && *day <= self.to =>
                        {
                            Some((*day, source.as_str(), *source))
                        }
                        _ => None,
                    })
                    .collect();
                days.sort();
                days.dedup();
                for (day, _, source) in days {
                    self.store.visit_rows(day, day, &[source], &mut stored)?;
                }
            }
        }
        for r in &self.telemetry {
            if !self.over_a_file(r.source, r.day, r.person.as_str()) && keep(r) {
                visit(AnswerRow::Held(r))?;
            }
        }
        Ok(())
    }
}
