//! Admin API: `GET /v1/organizations/usage_report/claude_code` (sources.md §1)
//! and the member and key lists of the same API (§1.8).
//!
//! The serde types here are the wire format; the server's Admin API client
//! deserialises pages with them, and [`records_to_rows`] turns records into
//! the canonical table. The API is read tolerantly: dates in both forms
//! (`2026-09-01`, `2026-09-01T00:00:00Z`), `tool_actions` as an open map,
//! counts that arrive as floats, strings or `null`, a cost amount as a number
//! or a decimal string, an unknown actor type.
//!
//! `estimated_cost.amount` is in **cents** (`1025` = $10.25); it is converted
//! once, with [`cents_to_micros`].

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{
    json_records, lenient, read_records, text, AdminGap, FileKind, Import, ImportError,
    ImportOptions, Warning,
};
use crate::coverage::DayRange;
use crate::model::{
    cents_to_micros, merge_models, DayRow, MeasureSet, ModelUsage, PersonKey, Problem, Source,
    ToolDecisions,
};
use crate::prices::PriceTable;
use crate::roster::RosterEntry;

/// One page of the Claude Code usage report.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct UsagePage {
    #[serde(default)]
    pub data: Vec<UsageRecord>,
    #[serde(default)]
    pub has_more: bool,
    /// Cursor for the next call (`page=`), `null` when done.
    #[serde(default)]
    pub next_page: Option<String>,
}

/// One actor's Claude Code activity on one UTC day.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UsageRecord {
    /// `YYYY-MM-DD` or an RFC 3339 timestamp (`2026-09-01T00:00:00Z`); see [`UsageRecord::day`].
    pub date: String,
    pub actor: Actor,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organization_id: Option<String>,
    /// `api` (pay-as-you-go) or `subscription` (Pro/Team/Enterprise seats).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_type: Option<String>,
    /// `team` or `enterprise`; `null` for API customers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subscription_type: Option<String>,
    /// Free-form: `vscode`, `iTerm.app`, `tmux`…
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub terminal_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_remote: Option<bool>,
    #[serde(default)]
    pub core_metrics: CoreMetrics,
    /// Tool name (`edit_tool`, `multi_edit_tool`, `write_tool`,
    /// `notebook_edit_tool`, or any new one) → decisions.
    #[serde(default)]
    pub tool_actions: BTreeMap<String, ToolAction>,
    #[serde(default)]
    pub model_breakdown: Vec<ModelBreakdown>,
}

/// The actor, tagged on `type`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Actor {
    /// Signed in with OAuth (claude.ai or Console login).
    UserActor { email_address: String },
    /// Authenticated with an API key; this is the key's name, not its id.
    ApiActor { api_key_name: String },
    /// An actor type this version does not know; the record is reported, not read.
    #[serde(other)]
    Unknown,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct CoreMetrics {
    #[serde(default, deserialize_with = "lenient::count")]
    pub num_sessions: u64,
    #[serde(default)]
    pub lines_of_code: LinesOfCode,
    #[serde(default, deserialize_with = "lenient::count")]
    pub commits_by_claude_code: u64,
    #[serde(default, deserialize_with = "lenient::count")]
    pub pull_requests_by_claude_code: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct LinesOfCode {
    #[serde(default, deserialize_with = "lenient::count")]
    pub added: u64,
    #[serde(default, deserialize_with = "lenient::count")]
    pub removed: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ToolAction {
    #[serde(default, deserialize_with = "lenient::count")]
    pub accepted: u64,
    #[serde(default, deserialize_with = "lenient::count")]
    pub rejected: u64,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ModelBreakdown {
    pub model: String,
    #[serde(default)]
    pub tokens: Tokens,
    /// Absent only in unusual responses; the cost is then estimated from the price table.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub estimated_cost: Option<EstimatedCost>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Tokens {
    #[serde(default, deserialize_with = "lenient::count")]
    pub input: u64,
    #[serde(default, deserialize_with = "lenient::count")]
    pub output: u64,
    #[serde(default, deserialize_with = "lenient::count")]
    pub cache_read: u64,
    #[serde(default, deserialize_with = "lenient::count")]
    pub cache_creation: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EstimatedCost {
    #[serde(default = "usd")]
    pub currency: String,
    /// Minor units: **US cents** (`1025` = $10.25).
    #[serde(deserialize_with = "lenient::amount")]
    pub amount: f64,
}

fn usd() -> String {
    "USD".to_string()
}

impl UsageRecord {
    /// The record's UTC day (both date forms the API uses are accepted).
    pub fn day(&self) -> Option<NaiveDate> {
        text::parse_day(&self.date).ok()
    }

    /// The person key of the actor: e-mail, or `api-key:<name>`.
    pub fn person(&self) -> Option<PersonKey> {
        match &self.actor {
            Actor::UserActor { email_address } if !email_address.trim().is_empty() => {
                Some(PersonKey::email(email_address))
            }
            Actor::ApiActor { api_key_name } if !api_key_name.trim().is_empty() => {
                Some(PersonKey::api_key(api_key_name))
            }
            _ => None,
        }
    }
}

/// Turns records into person-day rows (source admin-api), summing several
/// records of the same (day, actor), e.g. one per terminal type. A record
/// without `estimated_cost` gets a cost estimated from the built-in price
/// table; see [`records_to_rows_with_prices`].
pub fn records_to_rows(file: &str, records: &[UsageRecord]) -> (Vec<DayRow>, Vec<Problem>) {
    records_to_rows_with_prices(file, records, &PriceTable::builtin())
}

/// [`records_to_rows`] with a given price table (only used where a model
/// entry has no `estimated_cost`; a cost the API gives is never replaced).
pub fn records_to_rows_with_prices(
    file: &str,
    records: &[UsageRecord],
    prices: &PriceTable,
) -> (Vec<DayRow>, Vec<Problem>) {
    let mut rows: BTreeMap<(NaiveDate, PersonKey), DayRow> = BTreeMap::new();
    let mut problems = Vec::new();
    for (i, rec) in records.iter().enumerate() {
        let n = i + 1;
        let Some(day) = rec.day() else {
            problems.push(Problem::new(
                file,
                None,
                format!(
                    "record {n}: date `{}` is not a date (YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ); record skipped",
                    text::shown(&rec.date)
                ),
            ));
            continue;
        };
        let Some(person) = rec.person() else {
            let why = match &rec.actor {
                Actor::UserActor { .. } => "its user_actor has an empty email_address",
                Actor::ApiActor { .. } => "its api_actor has an empty api_key_name",
                Actor::Unknown => "its actor type is not user_actor or api_actor",
            };
            problems.push(Problem::new(
                file,
                None,
                format!("record {n} ({day}): {why}; record skipped"),
            ));
            continue;
        };
        let mut row = DayRow::new(day, person, Source::AdminApi);
        let m = &mut row.measures;
        m.sessions = rec.core_metrics.num_sessions;
        m.lines_added = rec.core_metrics.lines_of_code.added;
        m.lines_removed = rec.core_metrics.lines_of_code.removed;
        m.commits = rec.core_metrics.commits_by_claude_code;
        m.pull_requests = rec.core_metrics.pull_requests_by_claude_code;
        for (tool, action) in &rec.tool_actions {
            m.edits_accepted = m.edits_accepted.saturating_add(action.accepted);
            m.edits_rejected = m.edits_rejected.saturating_add(action.rejected);
            row.tools.push(ToolDecisions {
                tool: tool.clone(),
                accepted: action.accepted,
                rejected: action.rejected,
            });
        }
        for mb in &rec.model_breakdown {
            let t = mb.tokens;
            let (cost_micros, estimated) = match &mb.estimated_cost {
                Some(c) if c.currency.trim().eq_ignore_ascii_case("USD") => {
                    (cents_to_micros(c.amount), false)
                }
                Some(c) => {
                    problems.push(Problem::new(
                        file,
                        None,
                        format!(
                            "record {n} ({day}, {}): the cost of model `{}` is in {}, not USD; that cost is left out",
                            row.person,
                            text::shown(&mb.model),
                            text::shown(&c.currency)
                        ),
                    ));
                    (0, false)
                }
                None => match prices.estimate_micros(
                    &mb.model,
                    t.input,
                    t.output,
                    t.cache_read,
                    t.cache_creation,
                ) {
                    Some(micros) => (micros, true),
                    None => {
                        problems.push(Problem::new(
                            file,
                            None,
                            format!(
                                "record {n} ({day}, {}): model `{}` has no estimated_cost and the price table does \
                                 not know it; its cost is left out",
                                row.person,
                                text::shown(&mb.model)
                            ),
                        ));
                        (0, false)
                    }
                },
            };
            let usage = ModelUsage {
                model: mb.model.clone(),
                input_tokens: t.input,
                output_tokens: t.output,
                cache_read_tokens: t.cache_read,
                cache_creation_tokens: t.cache_creation,
                cost_micros,
                cost_is_estimated: estimated,
            };
            let m = &mut row.measures;
            m.input_tokens = m.input_tokens.saturating_add(t.input);
            m.output_tokens = m.output_tokens.saturating_add(t.output);
            m.cache_read_tokens = m.cache_read_tokens.saturating_add(t.cache_read);
            m.cache_creation_tokens = m.cache_creation_tokens.saturating_add(t.cache_creation);
            m.cost_micros = m.cost_micros.saturating_add(cost_micros);
            m.cost_is_estimated |= estimated;
            merge_models(&mut row.models, std::slice::from_ref(&usage));
        }
        match rows.get_mut(&(day, row.person.clone())) {
            Some(have) => have.absorb(&row),
            None => {
                rows.insert((day, row.person.clone()), row);
            }
        }
    }
    (rows.into_values().collect(), problems)
}

/// The platform gap (metrics.md §6, sources.md §2): the report only covers
/// pay-as-you-go (API key / Console login) usage. When it has no `user_actor`
/// rows, or only `customer_type: "api"` rows, this says in plain words that
/// claude.ai seat users are missing and where their usage can come from.
pub fn coverage_warning(records: &[UsageRecord]) -> Option<String> {
    coverage_gap(records).map(|gap| Warning::AdminCoverage { gap }.to_string())
}

fn coverage_gap(records: &[UsageRecord]) -> Option<AdminGap> {
    let any_user = records
        .iter()
        .any(|r| matches!(r.actor, Actor::UserActor { .. }));
    let only_api = !records.is_empty()
        && records
            .iter()
            .all(|r| r.customer_type.as_deref() == Some("api"));
    if any_user && !only_api {
        return None;
    }
    Some(if records.is_empty() {
        AdminGap::NoActivity
    } else if !any_user {
        AdminGap::OnlyApiKeys
    } else {
        AdminGap::OnlyPayAsYouGo
    })
}

/// Reads an Admin API dump: a page, an array of records or an array of pages.
pub(crate) fn import_value(
    file: &str,
    value: &Value,
    opts: &ImportOptions,
) -> Result<Import, ImportError> {
    let (items, more) = json_records(value);
    let mut import = Import::new(file, FileKind::AdminApiJson);
    let records: Vec<UsageRecord> = read_records(file, items, &mut import);
    let (rows, problems) = records_to_rows_with_prices(file, &records, &opts.prices);
    // Records skipped by `records_to_rows` (bad date, no actor) are rejected rows too.
    import.rows_rejected += records
        .iter()
        .filter(|r| r.day().is_none() || r.person().is_none())
        .count() as u64;
    // A dump covers the days from its first to its last record (a day without
    // records inside it is a day nobody used Claude Code, as the API reports it).
    let days: Vec<NaiveDate> = records.iter().filter_map(UsageRecord::day).collect();
    import.coverage = DayRange::span(days);
    import.measures = MeasureSet::all();
    import.rows = rows;
    import.problems.extend(problems);
    let estimated = import
        .rows
        .iter()
        .filter(|r| r.measures.cost_is_estimated)
        .count();
    if estimated > 0 {
        import.warnings.push(Warning::ApiEstimatedCost {
            person_days: estimated as u64,
        });
    }
    if more {
        import.warnings.push(Warning::MorePages);
    }
    import
        .warnings
        .extend(coverage_gap(&records).map(|gap| Warning::AdminCoverage { gap }));
    Ok(import)
}

/// A page of the Admin API lists that page by id (`after_id=last_id`),
/// unlike the usage report's `next_page` cursor.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct IdPage<T> {
    #[serde(default = "Vec::new")]
    pub data: Vec<T>,
    #[serde(default)]
    pub first_id: Option<String>,
    #[serde(default)]
    pub last_id: Option<String>,
    #[serde(default)]
    pub has_more: bool,
}

/// `GET /v1/organizations/users`: Console (platform) members.
pub type UsersPage = IdPage<User>;

/// `GET /v1/organizations/api_keys`.
pub type ApiKeysPage = IdPage<ApiKey>;

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct User {
    /// `user_01…`.
    pub id: String,
    #[serde(default)]
    pub email: String,
    #[serde(default)]
    pub name: Option<String>,
    /// `user`, `developer`, `billing`, `admin`, `claude_code_user`.
    #[serde(default)]
    pub role: String,
    /// RFC 3339.
    #[serde(default)]
    pub added_at: String,
    #[serde(rename = "type", default)]
    pub kind: String,
}

impl User {
    /// A roster entry: the e-mail, the name, `added_at` as the start date and
    /// the account id as an alias. `None` without a usable e-mail.
    pub fn roster_entry(&self) -> Option<RosterEntry> {
        if !text::is_email(&self.email) {
            return None;
        }
        let mut e = RosterEntry::new(PersonKey::email(&self.email));
        e.name = self
            .name
            .as_deref()
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(str::to_string);
        e.start = text::parse_day(&self.added_at).ok();
        if !self.id.trim().is_empty() {
            e.aliases.push(PersonKey::account(&self.id));
        }
        Some(e)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ApiKey {
    pub id: String,
    /// The name `api_actor.api_key_name` reports.
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub created_at: String,
    #[serde(default)]
    pub created_by: Option<CreatedBy>,
    #[serde(default)]
    pub expires_at: Option<String>,
    #[serde(default)]
    pub partial_key_hint: Option<String>,
    /// `active`, `inactive`, `archived`, `expired`.
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub workspace_id: Option<String>,
    #[serde(rename = "type", default)]
    pub kind: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct CreatedBy {
    pub id: String,
    #[serde(rename = "type", default)]
    pub kind: String,
}
