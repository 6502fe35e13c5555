//! The figures of a group of people over a span of days (a week, the
//! window, one team's week), with the ratio rules of metrics.md §3: every
//! ratio is a ratio of sums and `None` when its denominator is 0.

use serde::{Deserialize, Serialize};

use crate::model::{Measures, MicroUsd};

/// Σ num ÷ Σ den, `None` when the denominator is zero (never 0 % or 100 %).
pub fn ratio(num: u64, den: u64) -> Option<f64> {
    if den == 0 {
        None
    } else {
        Some(num as f64 / den as f64)
    }
}

pub fn micros_to_usd(m: MicroUsd) -> f64 {
    m as f64 / 1_000_000.0
}

/// The sums of the measures the dashboard reports, over any set of
/// person-days. One type for the week, the window and the person, so the
/// measures → figures mapping is written once; flattened into their JSON.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Totals {
    pub sessions: u64,
    /// Σ lines added: "lines accepted".
    pub lines_accepted: u64,
    pub lines_removed: u64,
    pub commits: u64,
    pub pull_requests: u64,
    pub edits_accepted: u64,
    pub edits_rejected: u64,
    /// Σ accepted ÷ (Σ accepted + Σ rejected); `None` when there were no decisions.
    pub acceptance_rate: Option<f64>,
    pub cost_micros: MicroUsd,
    pub cost_usd: f64,
    /// True when any part of the cost was estimated from tokens × the price table.
    pub cost_is_estimated: bool,
}

impl Totals {
    pub fn of(m: &Measures) -> Totals {
        Totals {
            sessions: m.sessions,
            lines_accepted: m.lines_added,
            lines_removed: m.lines_removed,
            commits: m.commits,
            pull_requests: m.pull_requests,
            edits_accepted: m.edits_accepted,
            edits_rejected: m.edits_rejected,
            acceptance_rate: ratio(
                m.edits_accepted,
                m.edits_accepted.saturating_add(m.edits_rejected),
            ),
            cost_micros: m.cost_micros,
            cost_usd: micros_to_usd(m.cost_micros),
            cost_is_estimated: m.cost_is_estimated,
        }
    }
}

/// Who was active in a span and what they did, with the per-engineer ratios.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Figures {
    /// Distinct people active on at least one day of the span.
    pub active_engineers: u64,
    /// Active people who are on the roster (the adoption numerator).
    #[serde(default)]
    pub active_roster_members: u64,
    /// People on the roster (of the selected team); `None` without a roster.
    #[serde(default)]
    pub roster_size: Option<u64>,
    /// active_roster_members ÷ roster_size; `None` without a roster.
    #[serde(default)]
    pub adoption_rate: Option<f64>,
    #[serde(flatten)]
    pub totals: Totals,
    /// Σ cost ÷ active engineers; `None` when nobody was active.
    #[serde(default)]
    pub cost_per_active_engineer_usd: Option<f64>,
    /// Σ lines accepted ÷ active engineers; `None` when nobody was active.
    #[serde(default)]
    pub lines_per_active_engineer: Option<f64>,
    /// Σ sessions ÷ active engineers; `None` when nobody was active.
    #[serde(default)]
    pub sessions_per_active_engineer: Option<f64>,
    /// People whose first active day (in all loaded data) falls in the span.
    #[serde(default)]
    pub new_engineers: u64,
}

/// Who was active, counted by the caller over the span.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Active {
    pub engineers: u64,
    pub roster_members: u64,
    pub new: u64,
}

impl Figures {
    pub(crate) fn new(active: Active, roster_size: Option<u64>, m: &Measures) -> Figures {
        let per = |n: u64| ratio(n, active.engineers);
        Figures {
            active_engineers: active.engineers,
            active_roster_members: active.roster_members,
            roster_size,
            adoption_rate: roster_size.and_then(|n| ratio(active.roster_members, n)),
            totals: Totals::of(m),
            cost_per_active_engineer_usd: (active.engineers != 0)
                .then(|| micros_to_usd(m.cost_micros) / active.engineers as f64),
            lines_per_active_engineer: per(m.lines_added),
            sessions_per_active_engineer: per(m.sessions),
            new_engineers: active.new,
        }
    }
}
