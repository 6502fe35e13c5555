//! The server's data, loaded for an answer: the rows of a range (the
//! store's, telemetry's, the exports folder's) with what each source
//! covers, and the merged roster. `/api/rows`, `/api/roster`, `/api/report`,
//! `/metrics` and the digest all read through here; the answers' shapes
//! stay with their handlers ([`crate::api`], [`crate::feeds`]).

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use scoreboard_core::{
    DayRange, DayRow, Freshness, PeriodRow, Problem, Roster, Source, SourceCoverage,
};
use scoreboard_otlp::TelemetryStatus;

use crate::error::{blocking, ApiError};
use crate::state::AppState;
use crate::store::Store;
use crate::sync::ADMIN_DIRECTORY;

/// The days an Anthropic API source synced successfully, and its last success.
pub(crate) fn sync_coverage(
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
pub(crate) fn telemetry_coverage(
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

/// The server's rows of `from..=to`: the Anthropic APIs' from the store,
/// telemetry's from its receiver, the exports folder's; and the days each
/// source covers.
pub(crate) struct ServerRows {
    pub rows: Vec<DayRow>,
    pub periods: Vec<PeriodRow>,
    pub coverage: Vec<SourceCoverage>,
    /// Rows from the exports folder, per source.
    pub imported: BTreeMap<Source, u64>,
}

/// What `/api/rows` answers, and what `/api/report` and `/metrics` compute
/// from. The exports folder's rows go in first and the store's after them
/// through core's table, so a synced day replaces a file's day of the same
/// source (as the page puts the server's rows over the files dropped on it).
pub(crate) async fn load_rows(
    state: &AppState,
    from: NaiveDate,
    to: NaiveDate,
    now: DateTime<Utc>,
) -> Result<ServerRows, ApiError> {
    let store = state.store().clone();
    let configured: Vec<Source> = [Source::AdminApi, Source::EnterpriseApi]
        .into_iter()
        .filter(|s| state.syncer().configured(*s))
        .collect();
    let imports = state.imports().clone();
    let (mut rows, mut coverage, folder) = blocking(move || {
        let rows = store.rows(from, to, &[Source::AdminApi, Source::EnterpriseApi])?;
        let coverage = configured
            .into_iter()
            .map(|s| sync_coverage(&store, s, from, to))
            .collect::<Result<Vec<_>, _>>()?;
        Ok::<_, crate::store::StoreError>((rows, coverage, imports.read(now)))
    })
    .await??;
    if let Some(t) = state.telemetry().cloned() {
        let (otlp, status) = blocking(move || (t.day_rows(from, to), t.status(now))).await?;
        rows.extend(otlp.map_err(|e| ApiError::internal(e.to_string()))?);
        coverage.push(telemetry_coverage(&status, now, from, to));
    }
    let mut periods = Vec::new();
    let mut imported = BTreeMap::new();
    if let Some(folder) = folder {
        // A synced or received row of the same source and day replaces the file's.
        let live: std::collections::HashSet<(Source, &scoreboard_core::PersonKey, NaiveDate)> =
            rows.iter().map(|r| (r.source, &r.person, r.day)).collect();
        let file_rows = folder.rows(from, to);
        for r in &file_rows {
            if !live.contains(&(r.source, &r.person, r.day)) {
                *imported.entry(r.source).or_insert(0) += 1;
            }
        }
        drop(live);
        periods = folder.periods(from, to);
        for p in &periods {
            *imported.entry(p.source).or_insert(0) += 1;
        }
        let mut table = scoreboard_core::UsageTable::new();
        table.insert_days(file_rows);
        table.insert_days(rows);
        rows = table.day_rows().collect();
        coverage.extend(folder.coverage(from, to));
    }
    Ok(ServerRows {
        rows,
        periods,
        coverage,
        imported,
    })
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
