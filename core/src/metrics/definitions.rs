//! Every figure's definition, shown next to it (metrics.md: "the UI shows the
//! formula next to each number"), and why a figure shows "—".

use serde::{Deserialize, Serialize};

use super::figures::Figures;

/// The figures the dashboard shows, with their definitions (§3–§5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Figure {
    ActiveEngineers,
    AdoptionRate,
    Sessions,
    SessionsPerActiveEngineer,
    LinesAccepted,
    LinesPerActiveEngineer,
    AcceptanceRate,
    Cost,
    CostPerActiveEngineer,
    NonStarters,
    Tiers,
}

/// Which way a figure's change is good news.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Preferred {
    /// More engineers, more value per engineer, more acceptance.
    Higher,
    /// Fewer people not started.
    Lower,
    /// Cost: more is neither good nor bad.
    Neither,
}

/// How a figure's value (and its change) is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    /// A whole number of people, sessions or lines.
    Count,
    /// A fraction (0.92 = 92 %); its change is in percentage points.
    Rate,
    /// An average per active engineer (one decimal).
    PerEngineer,
    /// US dollars.
    Usd,
}

impl Figure {
    /// The snake_case name (`lines_per_active_engineer`), as serialised.
    pub fn key(self) -> &'static str {
        match self {
            Figure::ActiveEngineers => "active_engineers",
            Figure::AdoptionRate => "adoption_rate",
            Figure::Sessions => "sessions",
            Figure::SessionsPerActiveEngineer => "sessions_per_active_engineer",
            Figure::LinesAccepted => "lines_accepted",
            Figure::LinesPerActiveEngineer => "lines_per_active_engineer",
            Figure::AcceptanceRate => "acceptance_rate",
            Figure::Cost => "cost",
            Figure::CostPerActiveEngineer => "cost_per_active_engineer",
            Figure::NonStarters => "non_starters",
            Figure::Tiers => "tiers",
        }
    }

    pub fn preferred(self) -> Preferred {
        match self {
            Figure::ActiveEngineers
            | Figure::AdoptionRate
            | Figure::Sessions
            | Figure::SessionsPerActiveEngineer
            | Figure::LinesAccepted
            | Figure::LinesPerActiveEngineer
            | Figure::AcceptanceRate => Preferred::Higher,
            Figure::NonStarters => Preferred::Lower,
            Figure::Cost | Figure::CostPerActiveEngineer | Figure::Tiers => Preferred::Neither,
        }
    }

    pub fn unit(self) -> Unit {
        match self {
            Figure::AdoptionRate | Figure::AcceptanceRate => Unit::Rate,
            Figure::SessionsPerActiveEngineer | Figure::LinesPerActiveEngineer => Unit::PerEngineer,
            Figure::Cost | Figure::CostPerActiveEngineer => Unit::Usd,
            Figure::ActiveEngineers
            | Figure::Sessions
            | Figure::LinesAccepted
            | Figure::NonStarters
            | Figure::Tiers => Unit::Count,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Definition {
    pub figure: Figure,
    pub label: &'static str,
    pub formula: &'static str,
    pub numerator: &'static str,
    pub denominator: Option<&'static str>,
    pub undefined_when: Option<&'static str>,
}

pub const DEFINITIONS: [Definition; 11] = [
    Definition {
        figure: Figure::ActiveEngineers,
        label: "Weekly active engineers",
        formula: "number of distinct people active on at least one day of the ISO week (Monday–Sunday, UTC)",
        numerator: "people with any non-zero measure (sessions, lines, edits, commits, pull requests, tokens or cost) on a day of the week",
        denominator: None,
        undefined_when: Some("no loaded source covers any day of the week (a gap, never 0)"),
    },
    Definition {
        figure: Figure::AdoptionRate,
        label: "Adoption rate",
        formula: "active roster members ÷ roster size",
        numerator: "people on the roster who were active in the week",
        denominator: Some("people on the roster (of the selected team)"),
        undefined_when: Some("no roster is loaded"),
    },
    Definition {
        figure: Figure::Sessions,
        label: "Sessions",
        formula: "Σ Claude Code sessions started",
        numerator: "sessions of everyone in the selection",
        denominator: None,
        undefined_when: None,
    },
    Definition {
        figure: Figure::SessionsPerActiveEngineer,
        label: "Sessions per active engineer",
        formula: "Σ sessions ÷ weekly active engineers (a ratio of sums, not an average of per-person figures)",
        numerator: "sessions of everyone in the selection",
        denominator: Some("weekly active engineers"),
        undefined_when: Some("nobody was active"),
    },
    Definition {
        figure: Figure::LinesAccepted,
        label: "Lines accepted",
        formula: "Σ lines added by Claude Code and accepted",
        numerator: "lines added",
        denominator: None,
        undefined_when: None,
    },
    Definition {
        figure: Figure::LinesPerActiveEngineer,
        label: "Lines accepted per active engineer",
        formula: "Σ lines accepted ÷ weekly active engineers (a ratio of sums, not an average of per-person figures)",
        numerator: "lines added by Claude Code and accepted",
        denominator: Some("weekly active engineers"),
        undefined_when: Some("nobody was active"),
    },
    Definition {
        figure: Figure::AcceptanceRate,
        label: "Tool acceptance rate",
        formula: "Σ accepted edits ÷ (Σ accepted + Σ rejected edits), over Edit, MultiEdit, Write and NotebookEdit; a ratio of sums, never an average of daily rates",
        numerator: "accepted edit-tool decisions",
        denominator: Some("all edit-tool decisions (accepted + rejected)"),
        undefined_when: Some("there were no edit decisions"),
    },
    Definition {
        figure: Figure::Cost,
        label: "Cost",
        formula: "Σ estimated cost at API list prices (also on seat plans, where it is not what you pay)",
        numerator: "cost reported by the source, or tokens × the price table where the source gave none (marked estimated)",
        denominator: None,
        undefined_when: None,
    },
    Definition {
        figure: Figure::CostPerActiveEngineer,
        label: "Cost per active engineer",
        formula: "Σ cost ÷ weekly active engineers",
        numerator: "cost of the week",
        denominator: Some("weekly active engineers"),
        undefined_when: Some("nobody was active"),
    },
    Definition {
        figure: Figure::NonStarters,
        label: "Not started yet",
        formula: "roster members with no activity on or before the last day (Sunday, UTC) of the reference week; people who first used Claude Code after it count as started from their first week on. The card, the tier chart and the list use this one definition",
        numerator: "roster members (of the selected team) with no activity up to the end of the week",
        denominator: None,
        undefined_when: Some("no roster is loaded"),
    },
    Definition {
        figure: Figure::Tiers,
        label: "Engagement tiers",
        formula: "at the reference week W, from the complete weeks W−3…W: power = active all 4 weeks and in the top quarter by lines accepted (ties included); regular = active 3–4 weeks; occasional = 1–2 weeks; lapsed = active before W−3 only; new = first active after W; not started = on the roster, never active. Only weeks that are complete and fully covered by the loaded data get tiers",
        numerator: "people",
        denominator: None,
        undefined_when: Some("the week is in progress or not fully covered by the loaded data"),
    },
];

pub fn definition(figure: Figure) -> &'static Definition {
    DEFINITIONS
        .iter()
        .find(|d| d.figure == figure)
        .unwrap_or(&DEFINITIONS[0])
}

/// Why a figure of a week (or any span) shows "—" instead of a number (§6),
/// for the UI and the CLI. `None` figures: the span is not covered.
pub fn why_undefined(figure: Figure, f: Option<&Figures>) -> Option<&'static str> {
    let Some(f) = f else {
        return Some("no loaded source covers this week: no data is not zero");
    };
    let nobody = f.active_engineers == 0;
    match figure {
        Figure::AdoptionRate if f.roster_size.is_none() => {
            Some("add a roster: adoption needs to know who should be using Claude Code")
        }
        Figure::AdoptionRate if f.roster_size == Some(0) => {
            Some("nobody on the roster in this selection")
        }
        Figure::AcceptanceRate if f.totals.acceptance_rate.is_none() => {
            Some("no edit decisions (accepted or rejected) in this week")
        }
        Figure::CostPerActiveEngineer
        | Figure::LinesPerActiveEngineer
        | Figure::SessionsPerActiveEngineer
            if nobody =>
        {
            Some("nobody was active in this week")
        }
        _ => None,
    }
}
