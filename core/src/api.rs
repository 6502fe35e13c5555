//! The HTTP wire contract: the JSON of every answer `scoreboard serve` gives
//! the page, as serde types. The server builds these and serializes them;
//! the page deserializes the same types, so the two cannot drift (issue 16).
//! `server/tests/wire_contract.rs` checks that every route's answer reads
//! back into its type with no field left over.
//!
//! Plain data only: no I/O, and nothing here computes a figure. Server-only
//! state (paths, tables, locks) stays in the server, which converts into
//! these types.
//!
//! | route | type |
//! |---|---|
//! | `GET /api/health` | [`Health`] |
//! | `GET /api/rows` | [`RowsAnswer`] |
//! | `GET /api/roster` | [`RosterAnswer`] |
//! | `GET /api/sources` | [`SourcesAnswer`] |
//! | `GET /api/telemetry/persons` | [`PersonsPage`] |
//! | `GET /api/telemetry/rollout` | [`Rollout`] |
//!
//! (`/api/report` answers [`crate::metrics::Report`]'s JSON; `/metrics` is text.)

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::coverage::{DayRange, SourceCoverage};
use crate::model::{DayRow, PeriodRow, PersonKey, Problem, Source};
use crate::parse::FileKind;
use crate::roster::{Roster, RosterEntry};

pub mod rows_wire;

/// `GET /api/health`: what kind of server this is, never any data.
///
/// Every field has a default: a static copy of the site ships an
/// `api/health` file with only `ok: false` (`public/api/health`), which the
/// page reads through this type too.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Health {
    /// True from `scoreboard serve`.
    pub ok: bool,
    pub version: String,
    pub demo: bool,
    /// Whether `/api/rows`, `/api/roster` and `/api/sources` need a credential.
    pub auth_required: bool,
    pub sources: HealthSources,
}

/// Which sources the server is configured with.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthSources {
    pub admin_api: bool,
    pub enterprise_api: bool,
    pub telemetry: bool,
    pub roster_file: bool,
    /// An exports folder is configured (issue 15).
    pub imports: bool,
}

/// The days of rows the page asks `api/rows` for: a 52-week window and
/// its reference week, with margin (the server answers at most 800 days).
pub const LIVE_DAYS: i64 = 400;

/// The range the page asks `api/rows` for on `today` (its UTC date):
/// [`LIVE_DAYS`] days ending a day past today, since the browser's clock
/// may be behind the server's. One definition, so the server can have this
/// answer made before the page asks (`scoreboard serve` keeps it warm).
pub fn live_range(today: NaiveDate) -> (NaiveDate, NaiveDate) {
    let to = today + chrono::Days::new(1);
    (to - chrono::Days::new(LIVE_DAYS as u64), to)
}

/// `GET /api/rows?from=&to=`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RowsAnswer {
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// Rows per source in this answer.
    pub counts: BTreeMap<Source, usize>,
    pub rows: Vec<DayRow>,
    /// Period rows (an export or API dump of a range, from the exports folder).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub periods: Vec<PeriodRow>,
    /// Of `rows` and `periods`, how many came from the exports folder, per
    /// source (their `source` is the file's: csv, admin-api, enterprise-api).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub imported: BTreeMap<Source, u64>,
    /// The days of `from..=to` each server source covers (metrics.md §2: the
    /// APIs the days synced successfully, telemetry its first batch to now)
    /// and how it is doing, so the page can tell no data from zero and name
    /// a source that stopped.
    pub coverage: Vec<SourceCoverage>,
    /// Where this answer leaves the asker: send it back as `?cursor=` and the
    /// next answer holds only what changed since (issue 13). Opaque; absent
    /// from servers that predate it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
    /// `None`: `rows` are every row of the range (a full replacement).
    /// `Some`: a delta against the cursor asked with, see [`RowsDelta`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delta: Option<RowsDelta>,
}

/// What a delta answer replaces: every row the asker holds inside one of
/// `replaced` goes, and the answer's `rows` (all inside those scopes) come
/// in their place. `periods`, `counts`, `imported` and `coverage` are always
/// whole. Applying it ([`RowsAnswer::apply`]) gives the rows a full answer
/// of the same moment would hold.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RowsDelta {
    pub replaced: Vec<RowScope>,
}

impl RowsDelta {
    /// Whether a row lies in one of the replaced scopes.
    pub fn matcher(&self) -> impl Fn(&DayRow) -> bool + '_ {
        use std::collections::HashSet;
        let mut days: HashSet<(Source, NaiveDate)> = HashSet::new();
        let mut persons: HashSet<(Source, &PersonKey)> = HashSet::new();
        for s in &self.replaced {
            match s {
                RowScope::Day { source, day } => days.insert((*source, *day)),
                RowScope::Person { source, person } => persons.insert((*source, person)),
            };
        }
        move |r| days.contains(&(r.source, r.day)) || persons.contains(&(r.source, &r.person))
    }
}

/// A part of the rows that changed as a whole.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "scope", rename_all = "snake_case")]
pub enum RowScope {
    /// One source's day: an Anthropic API day is fetched again as a whole
    /// (a person missing from the new fetch is gone).
    Day { source: Source, day: NaiveDate },
    /// One person's rows of one source: telemetry from a person may land on
    /// any day of the range.
    Person { source: Source, person: PersonKey },
}

impl RowsAnswer {
    /// The rows held after this answer: a full answer replaces `held`; a
    /// delta removes the rows of its scopes from `held` and adds its rows.
    /// Everything else of the answer (range, periods, counts, coverage,
    /// cursor) is whole in every answer and is taken as it is.
    pub fn apply(held: &mut Vec<DayRow>, next: &mut RowsAnswer) {
        let rows = std::mem::take(&mut next.rows);
        let Some(delta) = &next.delta else {
            *held = rows;
            return;
        };
        let inside = delta.matcher();
        held.retain(|r| !inside(r));
        held.extend(rows);
    }
}

/// `GET /api/roster`: the roster file merged with the Admin API's users.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RosterAnswer {
    pub entries: Vec<RosterEntry>,
    /// Lines of the roster file that could not be read.
    pub problems: Vec<Problem>,
    /// Aliases claimed by two people.
    pub conflicts: Vec<String>,
    pub sources: Vec<RosterSource>,
}

impl RosterAnswer {
    /// The roster to compute with: `None` when the server has none.
    pub fn roster(&self) -> Option<Roster> {
        (!self.entries.is_empty()).then(|| Roster::new(self.entries.clone()))
    }
}

/// Where the server's roster came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RosterSource {
    /// `file` or `admin-api`.
    pub name: String,
    /// The roster file's name (never its full path), for `file`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    pub entries: usize,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fetched_at: Option<DateTime<Utc>>,
}

/// `GET /api/sources`: how each source is doing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SourcesAnswer {
    pub generated_at: DateTime<Utc>,
    /// The Anthropic APIs.
    pub sources: Vec<SourceStatus>,
    pub telemetry: TelemetryPart,
    /// The server's exports folder (`serve --imports DIR`).
    pub imports: ImportsPart,
    pub digest: DigestStatus,
    pub refused: RefusalSummary,
}

/// One Anthropic source (Admin API, Enterprise Analytics API).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceStatus {
    pub source: Source,
    pub label: String,
    pub configured: bool,
    pub state: SourceState,
    pub stale: bool,
    pub syncing: bool,
    /// One or two sentences for the source bar.
    pub status_text: String,
    pub organization: Option<Organization>,
    pub last_success: Option<DateTime<Utc>>,
    pub last_attempt: Option<DateTime<Utc>>,
    pub next_sync: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub warnings: Vec<String>,
    /// Person-day rows stored for this source, and their first and last day.
    pub rows: u64,
    pub first_day: Option<NaiveDate>,
    pub last_day: Option<NaiveDate>,
    pub breaker: Option<BreakerState>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceState {
    /// No key configured.
    NotConfigured,
    /// Configured, no sync finished yet.
    Pending,
    /// The last sync succeeded recently.
    Ok,
    /// Data is stored but the latest sync failed or is long ago.
    Stale,
    /// Never synced successfully; the latest attempt failed.
    Failing,
}

impl SourceState {
    /// The wire spelling (as serde writes it), for the page's `data-state`.
    pub fn as_str(self) -> &'static str {
        match self {
            SourceState::NotConfigured => "not_configured",
            SourceState::Pending => "pending",
            SourceState::Ok => "ok",
            SourceState::Stale => "stale",
            SourceState::Failing => "failing",
        }
    }
}

/// The circuit breaker in front of an Anthropic API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BreakerState {
    Closed,
    Open,
    HalfOpen,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Organization {
    pub id: Option<String>,
    pub name: Option<String>,
}

/// `telemetry` in `/api/sources`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TelemetryPart {
    pub configured: bool,
    pub status_text: String,
    /// `null` when the server receives no telemetry.
    pub status: Option<TelemetryStatus>,
}

/// Freshness and data health of the telemetry source (computed by the
/// server's OTLP store).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TelemetryStatus {
    /// When the last metrics or logs batch was stored (server clock).
    pub last_received_at: Option<DateTime<Utc>>,
    /// Persons and devices that sent anything in the 24 hours before `now`
    /// (of those listed in `persons_seen`).
    pub people_last_24h: Vec<PersonKey>,
    /// … in the 7 days before `now`.
    pub people_last_7d: Vec<PersonKey>,
    /// How many sent anything in the 24 hours before `now`, listed or not.
    pub people_last_24h_total: u64,
    /// … in the 7 days before `now`.
    pub people_last_7d_total: u64,
    /// Everyone heard from (compare with the roster to find who never
    /// reported), the most recent 10,000 at most, by key.
    pub persons_seen: Vec<PersonSeen>,
    /// Everyone ever heard from, listed or not.
    pub persons_total: u64,
    /// `persons_seen` holds only the most recent: page through the rest
    /// with `GET /api/telemetry/persons`.
    pub persons_truncated: bool,
    /// Stored data points and api_request events that could only be tied to
    /// an installation id (no e-mail, account or configured identity attribute).
    pub unattributed_points: u64,
    /// Installation ids heard from without any person identity.
    pub unattributed_devices: u64,
    /// Data points and events refused (reported to clients as partialSuccess).
    pub rejected_points: u64,
    /// Metrics and logs requests stored (not counting re-sent duplicates).
    pub batches_received: u64,
    /// Requests whose body had been stored before (client retries), acknowledged without counting.
    pub duplicate_batches: u64,
    /// Set when the status could not be read; the other fields are then empty.
    pub error: Option<String>,
}

/// When one person (or device) was first and last heard from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonSeen {
    pub person: PersonKey,
    /// True for an installation id (`device:…`) that no e-mail or account named.
    pub device_only: bool,
    pub first_received_at: DateTime<Utc>,
    pub last_received_at: DateTime<Utc>,
}

/// `GET /api/telemetry/persons?after=&limit=`: everyone telemetry named, by key.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonsPage {
    pub persons: Vec<PersonSeen>,
    /// The key to ask `after` for the next page; `null` on the last one.
    pub next_after: Option<String>,
}

/// `imports` in `/api/sources`: the exports folder and its files. Without
/// a folder only `configured` and `status_text` are sent.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportsPart {
    pub configured: bool,
    /// The folder's name (not its path).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub folder: Option<String>,
    pub status_text: String,
    /// Rows the folder gives, per source.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rows: Option<BTreeMap<Source, u64>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot: Option<ImportsSnapshot>,
}

/// The exports folder as last read.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportsSnapshot {
    /// Bumped each time a file is added, changed or removed: a change means new rows.
    pub generation: u64,
    pub read_at: Option<DateTime<Utc>>,
    /// The files read, oldest first (the order their rows were applied in).
    pub files: Vec<ImportedFile>,
    pub skipped: Vec<Skipped>,
    /// Why the folder itself could not be listed.
    pub error: Option<String>,
}

/// One file of the exports folder as last read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportedFile {
    /// The file's name in the folder (never a full path).
    pub name: String,
    pub kind: Option<FileKind>,
    pub bytes: u64,
    pub modified: Option<DateTime<Utc>>,
    /// Person-day rows and period rows the file gave.
    pub day_rows: u64,
    pub period_rows: u64,
    /// The days the file covers.
    pub coverage: Vec<DayRange>,
    /// Why the whole file could not be used; its rows (none) are not served.
    pub error: Option<String>,
    /// Lines that could not be read (the first few; `problems_total` counts all).
    pub problems: Vec<Problem>,
    pub problems_total: u64,
    pub warnings: Vec<String>,
}

/// A file seen but not read, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Skipped {
    pub name: String,
    pub reason: String,
}

/// `digest` in `/api/sources`: the weekly digest's schedule and record.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DigestStatus {
    pub configured: bool,
    pub schedule: Option<String>,
    pub webhook_set: bool,
    /// The week posted last (Monday of the schedule's week) and the last attempt.
    #[serde(flatten)]
    pub record: DigestState,
    pub next_due: Option<DateTime<Utc>>,
    pub status_text: String,
}

/// The weekly digest's record: the week last posted and the last attempt.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DigestState {
    /// Monday of the ISO week whose digest was posted last.
    pub posted_week: Option<NaiveDate>,
    pub posted_at: Option<DateTime<Utc>>,
    pub last_attempt_at: Option<DateTime<Utc>>,
    /// The week the last attempt was for.
    pub last_week: Option<NaiveDate>,
    pub last_ok: Option<bool>,
    /// Why the last attempt failed (webhook URL redacted).
    pub last_error: Option<String>,
}

/// `refused` in `/api/sources`: refused requests.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefusalSummary {
    pub last_24h: u64,
    pub last_7d: u64,
    /// Per door and reason, most frequent first.
    pub by_reason: Vec<ReasonCount>,
    /// Per token that could be named (a revoked one included), by token id.
    pub by_token: Vec<TokenRefusals>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReasonCount {
    pub area: String,
    pub reason: String,
    pub text: String,
    pub last_24h: u64,
    pub last_7d: u64,
    pub last_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenRefusals {
    pub token_id: i64,
    /// `None` when the token has since been deleted from the table.
    pub name: Option<String>,
    pub kind: Option<String>,
    pub hint: Option<String>,
    pub revoked: bool,
    pub last_24h: u64,
    pub last_7d: u64,
    pub last_at: DateTime<Utc>,
    pub last_reason: String,
    pub last_reason_text: String,
}

/// `GET /api/telemetry/rollout`: is the telemetry roll-out working?
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rollout {
    pub generated_at: DateTime<Utc>,
    /// The server receives telemetry at all.
    pub telemetry: bool,
    /// The oldest Claude Code version this receiver was tested with.
    pub oldest_tested_version: String,
    pub tokens: Vec<TokenRollout>,
    /// Telemetry refused without a token this server knows.
    pub refused_unnamed: Vec<UnnamedRefusals>,
    pub members: Vec<MemberRollout>,
    pub unattributed: Unattributed,
}

/// One ingest token in the roll-out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenRollout {
    pub id: i64,
    pub name: String,
    pub hint: String,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
    /// When telemetry with it was last stored (`None`: never).
    pub last_received_at: Option<DateTime<Utc>>,
    pub people: u64,
    pub devices: u64,
    pub refused_24h: u64,
    pub refused_7d: u64,
    pub last_refused_at: Option<DateTime<Utc>>,
    /// The last refusal's reason (`revoked_token`, …) and in words.
    pub last_refusal_reason: Option<String>,
    pub last_refusal_text: Option<String>,
}

/// One roster member in the roll-out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberRollout {
    pub person: PersonKey,
    pub name: Option<String>,
    pub team: Option<String>,
    /// `None`: telemetry never named this person.
    pub last_received_at: Option<DateTime<Utc>>,
    pub version: Option<String>,
    /// The version is older than [`Rollout::oldest_tested_version`].
    pub version_older_than_tested: bool,
    /// Ingest token ids they sent with, most recent first.
    pub tokens: Vec<i64>,
}

/// An installation or account id no roster entry claims.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnattributedRollout {
    pub person: PersonKey,
    pub device_only: bool,
    pub first_received_at: DateTime<Utc>,
    pub last_received_at: DateTime<Utc>,
    pub version: Option<String>,
    pub tokens: Vec<i64>,
    /// What to put in the person's `aliases` cell of the roster.
    pub alias: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unattributed {
    pub total: u64,
    pub truncated: bool,
    pub items: Vec<UnattributedRollout>,
}

/// Telemetry refused for a token the server cannot name (unknown, or none sent).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnnamedRefusals {
    pub reason: String,
    pub text: String,
    pub last_24h: u64,
    pub last_7d: u64,
    pub last_at: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The page's `data-state` attribute and the JSON say the same word.
    #[test]
    fn source_state_as_str_is_its_wire_spelling() {
        for state in [
            SourceState::NotConfigured,
            SourceState::Pending,
            SourceState::Ok,
            SourceState::Stale,
            SourceState::Failing,
        ] {
            let json = serde_json::to_value(state).unwrap();
            assert_eq!(json, serde_json::Value::from(state.as_str()));
        }
    }

    /// A static copy of the site answers `api/health` from a file with only
    /// `ok: false` (and notes): the page must read it as "not live".
    #[test]
    fn static_copy_health_file_reads_as_not_live() {
        let file = include_str!("../../public/api/health");
        let h: Health = serde_json::from_str(file).unwrap();
        assert!(!h.ok);
    }
}
