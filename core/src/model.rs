//! The canonical table's row types (metrics.md §1).
//!
//! Every source is normalised into [`DayRow`]s (one person, one UTC day, one
//! source) or, for exports without a date column, [`PeriodRow`]s. Nothing
//! downstream of the parsers ever sees a source-specific shape.

use std::fmt;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// Where a row came from. The order of [`Source::precedence`] decides which
/// row wins when several sources report the same person-day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Source {
    /// Admin API `usage_report/claude_code`.
    AdminApi,
    /// Enterprise Analytics API `/v1/organizations/analytics/users`.
    EnterpriseApi,
    /// CSV exports from the claude.ai / Console analytics pages.
    Csv,
    /// OpenTelemetry pushed by each engineer's Claude Code.
    Otlp,
}

impl Source {
    pub const ALL: [Source; 4] = [
        Source::AdminApi,
        Source::EnterpriseApi,
        Source::Csv,
        Source::Otlp,
    ];

    /// Higher wins: server-side daily totals beat client-reported telemetry
    /// (admin-api = enterprise-api > csv > otlp).
    pub fn precedence(self) -> u8 {
        match self {
            Source::AdminApi | Source::EnterpriseApi => 3,
            Source::Csv => 2,
            Source::Otlp => 1,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Source::AdminApi => "admin-api",
            Source::EnterpriseApi => "enterprise-api",
            Source::Csv => "csv",
            Source::Otlp => "otlp",
        }
    }

    pub fn parse(s: &str) -> Option<Source> {
        Source::ALL.into_iter().find(|src| src.as_str() == s)
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A typed person key: a lower-cased, trimmed e-mail when the source has
/// one, otherwise `api-key:<name>`, `account:<id>` or `device:<id>`.
/// The roster's aliases map non-e-mail keys onto e-mails.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PersonKey(String);

impl PersonKey {
    /// An e-mail address, normalised (trimmed, lower-cased).
    pub fn email(address: &str) -> PersonKey {
        PersonKey(address.trim().to_lowercase())
    }
    /// An Admin API `api_actor.api_key_name`.
    pub fn api_key(name: &str) -> PersonKey {
        PersonKey(format!("api-key:{}", name.trim()))
    }
    /// A platform account id (`user_01…`) or account UUID.
    pub fn account(id: &str) -> PersonKey {
        PersonKey(format!("account:{}", id.trim()))
    }
    /// A Claude Code installation id (`user.id` in telemetry): a device, not a person.
    pub fn device(id: &str) -> PersonKey {
        PersonKey(format!("device:{}", id.trim()))
    }
    /// A share pseudonym ("Engineer 7KQ2XM"): stands for a person whose key is hidden.
    pub fn pseudonym(label: &str) -> PersonKey {
        PersonKey(label.to_string())
    }
    /// Reads a key as written in a roster alias or a stored row: a typed key
    /// (`api-key:`, `account:`, `device:`) is kept as typed, anything else is
    /// taken as an e-mail. An empty string gives `None`.
    pub fn parse(text: &str) -> Option<PersonKey> {
        let t = text.trim();
        if t.is_empty() {
            return None;
        }
        for prefix in ["api-key:", "account:", "device:"] {
            if let Some(rest) = t.strip_prefix(prefix) {
                let rest = rest.trim();
                if rest.is_empty() {
                    return None;
                }
                return Some(PersonKey(format!("{prefix}{rest}")));
            }
        }
        Some(PersonKey::email(t))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
    pub fn is_email(&self) -> bool {
        !self.0.starts_with("api-key:")
            && !self.0.starts_with("account:")
            && !self.0.starts_with("device:")
    }
}

impl fmt::Display for PersonKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One micro-dollar is USD × 10⁻⁶. Money is never a float in storage.
pub type MicroUsd = i64;

/// Converts a USD amount given as a float (telemetry, CSV) at the boundary.
pub fn usd_to_micros(usd: f64) -> MicroUsd {
    (usd * 1_000_000.0).round() as MicroUsd
}

/// Converts US cents (Admin API `estimated_cost.amount`) at the boundary.
pub fn cents_to_micros(cents: f64) -> MicroUsd {
    (cents * 10_000.0).round() as MicroUsd
}

/// The measures of one row. Every field is a sum; none is a ratio.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Measures {
    pub sessions: u64,
    /// "Lines accepted" on the dashboard.
    pub lines_added: u64,
    pub lines_removed: u64,
    pub commits: u64,
    pub pull_requests: u64,
    /// Summed over all edit tools (Edit, MultiEdit, Write, NotebookEdit).
    pub edits_accepted: u64,
    pub edits_rejected: u64,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cache_read_tokens: u64,
    pub cache_creation_tokens: u64,
    pub cost_micros: MicroUsd,
    /// True when any part of `cost_micros` was estimated from tokens × a price table.
    pub cost_is_estimated: bool,
}

impl Measures {
    /// Activity rule (metrics.md §2): any non-zero measure.
    pub fn is_active(&self) -> bool {
        self.sessions != 0
            || self.lines_added != 0
            || self.lines_removed != 0
            || self.commits != 0
            || self.pull_requests != 0
            || self.edits_accepted != 0
            || self.edits_rejected != 0
            || self.input_tokens != 0
            || self.output_tokens != 0
            || self.cache_read_tokens != 0
            || self.cache_creation_tokens != 0
            || self.cost_micros != 0
    }

    /// Adds another row's measures. Sums saturate: a parser caps absurd
    /// counts, and two capped rows must not overflow (nothing panics on input).
    pub fn add(&mut self, o: &Measures) {
        self.sessions = self.sessions.saturating_add(o.sessions);
        self.lines_added = self.lines_added.saturating_add(o.lines_added);
        self.lines_removed = self.lines_removed.saturating_add(o.lines_removed);
        self.commits = self.commits.saturating_add(o.commits);
        self.pull_requests = self.pull_requests.saturating_add(o.pull_requests);
        self.edits_accepted = self.edits_accepted.saturating_add(o.edits_accepted);
        self.edits_rejected = self.edits_rejected.saturating_add(o.edits_rejected);
        self.input_tokens = self.input_tokens.saturating_add(o.input_tokens);
        self.output_tokens = self.output_tokens.saturating_add(o.output_tokens);
        self.cache_read_tokens = self.cache_read_tokens.saturating_add(o.cache_read_tokens);
        self.cache_creation_tokens = self
            .cache_creation_tokens
            .saturating_add(o.cache_creation_tokens);
        self.cost_micros = self.cost_micros.saturating_add(o.cost_micros);
        self.cost_is_estimated |= o.cost_is_estimated;
    }
}

/// Tokens and cost of one model within a row.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ModelUsage {
    pub model: String,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cache_read_tokens: u64,
    pub cache_creation_tokens: u64,
    pub cost_micros: MicroUsd,
    pub cost_is_estimated: bool,
}

/// Accepted and rejected decisions of one edit tool within a row.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ToolDecisions {
    /// As the source names it (`edit_tool`, `Write`, …).
    pub tool: String,
    pub accepted: u64,
    pub rejected: u64,
}

/// One person, one UTC day, one source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DayRow {
    pub day: NaiveDate,
    pub person: PersonKey,
    pub source: Source,
    #[serde(flatten)]
    pub measures: Measures,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub models: Vec<ModelUsage>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tools: Vec<ToolDecisions>,
}

impl DayRow {
    pub fn new(day: NaiveDate, person: PersonKey, source: Source) -> DayRow {
        DayRow {
            day,
            person,
            source,
            measures: Measures::default(),
            models: Vec::new(),
            tools: Vec::new(),
        }
    }

    /// Adds another row's measures and breakdowns (same person, day, source).
    pub fn absorb(&mut self, other: &DayRow) {
        self.measures.add(&other.measures);
        merge_models(&mut self.models, &other.models);
        merge_tools(&mut self.tools, &other.tools);
    }
}

/// Per-person totals over a period, from an export without a date column.
/// `start..=end` are UTC days, both inclusive.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeriodRow {
    pub start: NaiveDate,
    pub end: NaiveDate,
    pub person: PersonKey,
    pub source: Source,
    #[serde(flatten)]
    pub measures: Measures,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub models: Vec<ModelUsage>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tools: Vec<ToolDecisions>,
}

impl PeriodRow {
    pub fn absorb(&mut self, other: &PeriodRow) {
        self.measures.add(&other.measures);
        merge_models(&mut self.models, &other.models);
        merge_tools(&mut self.tools, &other.tools);
    }
}

pub(crate) fn merge_models(into: &mut Vec<ModelUsage>, from: &[ModelUsage]) {
    for m in from {
        match into.iter_mut().find(|x| x.model == m.model) {
            Some(x) => {
                x.input_tokens = x.input_tokens.saturating_add(m.input_tokens);
                x.output_tokens = x.output_tokens.saturating_add(m.output_tokens);
                x.cache_read_tokens = x.cache_read_tokens.saturating_add(m.cache_read_tokens);
                x.cache_creation_tokens = x
                    .cache_creation_tokens
                    .saturating_add(m.cache_creation_tokens);
                x.cost_micros = x.cost_micros.saturating_add(m.cost_micros);
                x.cost_is_estimated |= m.cost_is_estimated;
            }
            None => into.push(m.clone()),
        }
    }
}

pub(crate) fn merge_tools(into: &mut Vec<ToolDecisions>, from: &[ToolDecisions]) {
    for t in from {
        match into.iter_mut().find(|x| x.tool == t.tool) {
            Some(x) => {
                x.accepted = x.accepted.saturating_add(t.accepted);
                x.rejected = x.rejected.saturating_add(t.rejected);
            }
            None => into.push(t.clone()),
        }
    }
}

/// Something wrong with the input, kept next to the rows that were read.
/// A problem never stops the other rows from being used.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Problem {
    /// The file (or source) name as the user knows it.
    pub file: String,
    /// 1-based line number in the file, when the problem has one.
    pub line: Option<u64>,
    pub message: String,
}

impl Problem {
    pub fn new(file: &str, line: Option<u64>, message: impl Into<String>) -> Problem {
        Problem {
            file: file.to_string(),
            line,
            message: message.into(),
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{}: {}", self.file, line, self.message),
            None => write!(f, "{}: {}", self.file, self.message),
        }
    }
}
