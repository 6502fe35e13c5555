//! The canonical table's row types (metrics.md §1).
//!
//! Every source is normalised into [`DayRow`]s (one person, one UTC day, one
//! source) or, for exports without a date column, [`PeriodRow`]s. Nothing
//! downstream of the parsers ever sees a source-specific shape.

use std::fmt;
use std::sync::Arc;

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

    /// The measures a row of this source carries unless its file says
    /// otherwise: the Enterprise Analytics API has no tokens and no cost
    /// (they stay unknown, never 0); the Admin API and telemetry carry
    /// every measure; a CSV export carries the columns it has (set by the parser).
    pub fn measures(self) -> MeasureSet {
        match self {
            Source::EnterpriseApi => MeasureSet::all()
                .difference(MeasureSet::TOKENS)
                .difference(MeasureSet::COST),
            Source::AdminApi | Source::Csv | Source::Otlp => MeasureSet::all(),
        }
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
///
/// Shared, not copied: every row of a person holds the same text (a clone
/// is a count, not an allocation), so a parser folding a million rows
/// allocates each key once.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PersonKey(Arc<str>);

impl Serialize for PersonKey {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for PersonKey {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<PersonKey, D::Error> {
        String::deserialize(d).map(|s| PersonKey(s.into()))
    }
}

impl PersonKey {
    /// An e-mail address, normalised (trimmed, lower-cased).
    pub fn email(address: &str) -> PersonKey {
        PersonKey(address.trim().to_lowercase().into())
    }
    /// An Admin API `api_actor.api_key_name`.
    pub fn api_key(name: &str) -> PersonKey {
        PersonKey(format!("api-key:{}", name.trim()).into())
    }
    /// A platform account id (`user_01…`) or account UUID.
    pub fn account(id: &str) -> PersonKey {
        PersonKey(format!("account:{}", id.trim()).into())
    }
    /// A Claude Code installation id (`user.id` in telemetry): a device, not a person.
    pub fn device(id: &str) -> PersonKey {
        PersonKey(format!("device:{}", id.trim()).into())
    }
    /// A share pseudonym ("Engineer 7KQ2XM"): stands for a person whose key is hidden.
    pub fn pseudonym(label: &str) -> PersonKey {
        PersonKey(label.into())
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
                return Some(PersonKey(format!("{prefix}{rest}").into()));
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

/// Reads and writes one counter of [`Measures`].
pub(crate) type Counter = fn(&mut Measures) -> &mut u64;

impl Measures {
    /// Every counter with the measure it belongs to (accepted and rejected
    /// edits both belong to [`MeasureSet::EDITS`]); cost is handled apart.
    pub(crate) const COUNTERS: [(MeasureSet, Counter); 11] = [
        (MeasureSet::SESSIONS, |m| &mut m.sessions),
        (MeasureSet::LINES_ADDED, |m| &mut m.lines_added),
        (MeasureSet::LINES_REMOVED, |m| &mut m.lines_removed),
        (MeasureSet::COMMITS, |m| &mut m.commits),
        (MeasureSet::PULL_REQUESTS, |m| &mut m.pull_requests),
        (MeasureSet::EDITS, |m| &mut m.edits_accepted),
        (MeasureSet::EDITS, |m| &mut m.edits_rejected),
        (MeasureSet::INPUT_TOKENS, |m| &mut m.input_tokens),
        (MeasureSet::OUTPUT_TOKENS, |m| &mut m.output_tokens),
        (MeasureSet::CACHE_READ_TOKENS, |m| &mut m.cache_read_tokens),
        (MeasureSet::CACHE_CREATION_TOKENS, |m| {
            &mut m.cache_creation_tokens
        }),
    ];

    /// The eleven counters in [`Measures::COUNTERS`]' order, which is the
    /// order every compact encoding writes them in (`rows_wire`, the
    /// server's day blobs, the page's stored table): reordering it changes
    /// those formats (a test pins it).
    pub fn counters(&self) -> [u64; 11] {
        let mut m = *self;
        Self::COUNTERS.map(|(_, c)| *c(&mut m))
    }

    /// The measures of [`Measures::counters`]' values and a cost.
    pub fn from_counters(values: [u64; 11], cost_micros: i64, cost_is_estimated: bool) -> Self {
        let mut m = Measures {
            cost_micros,
            cost_is_estimated,
            ..Measures::default()
        };
        for (v, (_, c)) in values.into_iter().zip(Self::COUNTERS) {
            *c(&mut m) = v;
        }
        m
    }

    /// Activity rule (metrics.md §2): any non-zero measure.
    pub fn is_active(&self) -> bool {
        let mut m = *self;
        self.cost_micros != 0 || Measures::COUNTERS.iter().any(|(_, c)| *c(&mut m) != 0)
    }

    /// Adds another row's measures. Sums saturate: a parser caps absurd
    /// counts, and two capped rows must not overflow (nothing panics on input).
    pub fn add(&mut self, o: &Measures) {
        let mut o = *o;
        for (_, c) in Measures::COUNTERS {
            let v = *c(&mut o);
            let into = c(self);
            *into = into.saturating_add(v);
        }
        self.cost_micros = self.cost_micros.saturating_add(o.cost_micros);
        self.cost_is_estimated |= o.cost_is_estimated;
    }

    /// Takes from `later` the measures in `present` and keeps the others
    /// (metrics.md §1: a later file replaces measure by measure; a measure it
    /// has no column for is unknown there, not 0).
    pub fn replace(&mut self, later: &Measures, present: MeasureSet) {
        let mut later = *later;
        for (measure, c) in Measures::COUNTERS {
            if present.contains(measure) {
                *c(self) = *c(&mut later);
            }
        }
        if present.contains(MeasureSet::COST) {
            self.cost_micros = later.cost_micros;
            self.cost_is_estimated = later.cost_is_estimated;
        }
    }
}

bitflags::bitflags! {
    /// Which measures a row carries: the columns its file had, or what its
    /// API records hold. A measure outside the set is unknown for the row
    /// (its value reads 0 but says nothing), so a later row of the same
    /// source and person-day that carries it replaces it, and one that does
    /// not keeps the earlier value (metrics.md §1). Serialised as a list of
    /// names (`["sessions", "lines_added"]`); rows stored without it carry
    /// every measure.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    pub struct MeasureSet: u16 {
        const SESSIONS = 1;
        const LINES_ADDED = 1 << 1;
        const LINES_REMOVED = 1 << 2;
        const COMMITS = 1 << 3;
        const PULL_REQUESTS = 1 << 4;
        /// Accepted and rejected edits together (the rate needs both), with the per-tool split.
        const EDITS = 1 << 5;
        const INPUT_TOKENS = 1 << 6;
        const OUTPUT_TOKENS = 1 << 7;
        const CACHE_READ_TOKENS = 1 << 8;
        const CACHE_CREATION_TOKENS = 1 << 9;
        /// Cost and whether it was estimated.
        const COST = 1 << 10;
    }
}

impl Default for MeasureSet {
    /// Every measure: what a row means when nothing says otherwise.
    fn default() -> MeasureSet {
        MeasureSet::all()
    }
}

impl MeasureSet {
    /// Each measure with its name, in the order of [`Measures`].
    pub const NAMES: [(MeasureSet, &'static str); 11] = [
        (MeasureSet::SESSIONS, "sessions"),
        (MeasureSet::LINES_ADDED, "lines_added"),
        (MeasureSet::LINES_REMOVED, "lines_removed"),
        (MeasureSet::COMMITS, "commits"),
        (MeasureSet::PULL_REQUESTS, "pull_requests"),
        (MeasureSet::EDITS, "edits"),
        (MeasureSet::INPUT_TOKENS, "input_tokens"),
        (MeasureSet::OUTPUT_TOKENS, "output_tokens"),
        (MeasureSet::CACHE_READ_TOKENS, "cache_read_tokens"),
        (MeasureSet::CACHE_CREATION_TOKENS, "cache_creation_tokens"),
        (MeasureSet::COST, "cost"),
    ];

    /// Any of the four token counts.
    pub const TOKENS: MeasureSet = MeasureSet::INPUT_TOKENS
        .union(MeasureSet::OUTPUT_TOKENS)
        .union(MeasureSet::CACHE_READ_TOKENS)
        .union(MeasureSet::CACHE_CREATION_TOKENS);

    /// The names of the measures in the set, e.g. `["sessions", "cost"]`.
    pub fn names(self) -> Vec<&'static str> {
        MeasureSet::NAMES
            .iter()
            .filter(|(m, _)| self.contains(*m))
            .map(|(_, n)| *n)
            .collect()
    }

    /// The measure named `name` as in [`MeasureSet::names`].
    pub fn from_measure_name(name: &str) -> Option<MeasureSet> {
        MeasureSet::NAMES
            .iter()
            .find(|(_, n)| *n == name)
            .map(|(m, _)| *m)
    }
}

impl Serialize for MeasureSet {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.names())
    }
}

impl<'de> Deserialize<'de> for MeasureSet {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<MeasureSet, D::Error> {
        let names: Vec<String> = Vec::deserialize(d)?;
        names.iter().try_fold(MeasureSet::empty(), |set, n| {
            MeasureSet::from_measure_name(n)
                .map(|m| set | m)
                .ok_or_else(|| serde::de::Error::custom(format!("unknown measure `{n}`")))
        })
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
    /// The measures this row carries (every one unless its file lacked columns).
    #[serde(default, skip_serializing_if = "MeasureSet::is_all")]
    pub present: MeasureSet,
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
            present: source.measures(),
        }
    }

    /// Adds another row's measures and breakdowns (same person, day and
    /// source, same load): the sum carries what either carried.
    pub fn absorb(&mut self, other: &DayRow) {
        self.usage_mut().absorb(other.usage());
    }

    /// A later load's row for the same person, day and source: its measures
    /// replace these measure by measure (see [`MeasureSet`]).
    pub fn update_from(&mut self, later: DayRow) {
        self.usage_mut().update_from(later.into_usage());
    }

    fn usage(&self) -> UsageRef<'_> {
        UsageRef {
            measures: &self.measures,
            models: &self.models,
            tools: &self.tools,
            present: self.present,
        }
    }

    fn usage_mut(&mut self) -> UsageMut<'_> {
        UsageMut {
            measures: &mut self.measures,
            models: &mut self.models,
            tools: &mut self.tools,
            present: &mut self.present,
        }
    }

    fn into_usage(self) -> Usage {
        Usage {
            measures: self.measures,
            models: self.models,
            tools: self.tools,
            present: self.present,
        }
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
    /// The measures this row carries (see [`DayRow::present`]).
    #[serde(default, skip_serializing_if = "MeasureSet::is_all")]
    pub present: MeasureSet,
}

impl PeriodRow {
    /// Adds another row of the same person, span and source (same load).
    pub fn absorb(&mut self, other: &PeriodRow) {
        self.usage_mut().absorb(UsageRef {
            measures: &other.measures,
            models: &other.models,
            tools: &other.tools,
            present: other.present,
        });
    }

    /// A later load's totals for the same person, span and source, measure by measure.
    pub fn update_from(&mut self, later: PeriodRow) {
        self.usage_mut().update_from(Usage {
            measures: later.measures,
            models: later.models,
            tools: later.tools,
            present: later.present,
        });
    }

    fn usage_mut(&mut self) -> UsageMut<'_> {
        UsageMut {
            measures: &mut self.measures,
            models: &mut self.models,
            tools: &mut self.tools,
            present: &mut self.present,
        }
    }
}

/// The usage parts shared by day and period rows, so that summing and
/// replacing are written once for both.
struct Usage {
    measures: Measures,
    models: Vec<ModelUsage>,
    tools: Vec<ToolDecisions>,
    present: MeasureSet,
}

#[derive(Clone, Copy)]
struct UsageRef<'a> {
    measures: &'a Measures,
    models: &'a [ModelUsage],
    tools: &'a [ToolDecisions],
    present: MeasureSet,
}

struct UsageMut<'a> {
    measures: &'a mut Measures,
    models: &'a mut Vec<ModelUsage>,
    tools: &'a mut Vec<ToolDecisions>,
    present: &'a mut MeasureSet,
}

impl UsageMut<'_> {
    fn absorb(self, o: UsageRef<'_>) {
        self.measures.add(o.measures);
        merge_models(self.models, o.models);
        merge_tools(self.tools, o.tools);
        *self.present |= o.present;
    }

    fn update_from(self, later: Usage) {
        self.measures.replace(&later.measures, later.present);
        // The per-model split belongs to tokens and cost, the per-tool split to edits.
        if later
            .present
            .intersects(MeasureSet::TOKENS | MeasureSet::COST)
        {
            *self.models = later.models;
        }
        if later.present.contains(MeasureSet::EDITS) {
            *self.tools = later.tools;
        }
        *self.present |= later.present;
    }
}

/// Adds a per-model split to another (same model: tokens and cost summed).
pub(crate) fn merge_models(into: &mut Vec<ModelUsage>, from: &[ModelUsage]) {
    for m in from {
        match into.iter_mut().find(|x| x.model == m.model) {
            Some(x) => x.add(m),
            None => into.push(m.clone()),
        }
    }
}

impl ModelUsage {
    /// Adds another entry's tokens and cost (saturating, like [`Measures::add`]).
    pub fn add(&mut self, m: &ModelUsage) {
        self.input_tokens = self.input_tokens.saturating_add(m.input_tokens);
        self.output_tokens = self.output_tokens.saturating_add(m.output_tokens);
        self.cache_read_tokens = self.cache_read_tokens.saturating_add(m.cache_read_tokens);
        self.cache_creation_tokens = self
            .cache_creation_tokens
            .saturating_add(m.cache_creation_tokens);
        self.cost_micros = self.cost_micros.saturating_add(m.cost_micros);
        self.cost_is_estimated |= m.cost_is_estimated;
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

#[cfg(test)]
mod tests {
    use super::Measures;

    /// Guards the compact formats (`rows_wire`, the server's day blobs, the
    /// page's stored table): they write the counters in this order, so a
    /// reordered `COUNTERS` would misread every stored row.
    #[test]
    fn the_counters_keep_the_order_the_stored_formats_write() {
        let m = Measures {
            sessions: 1,
            lines_added: 2,
            lines_removed: 3,
            commits: 4,
            pull_requests: 5,
            edits_accepted: 6,
            edits_rejected: 7,
            input_tokens: 8,
            output_tokens: 9,
            cache_read_tokens: 10,
            cache_creation_tokens: 11,
            cost_micros: -12,
            cost_is_estimated: true,
        };
        assert_eq!(m.counters(), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
        assert_eq!(Measures::from_counters(m.counters(), -12, true), m);
    }
}
