//! Week-over-week changes, computed once for the cards, the sentence, the
//! team table and the CLI: the reference week against the week before it,
//! when both are complete and fully covered (metrics.md §2: deltas compare
//! covered weeks only). The page formats them; it never subtracts figures.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::definitions::{why_undefined, Figure, Preferred, Unit};
use super::figures::Figures;
use super::weekly::WeekFigures;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    Up,
    Down,
    Same,
}

/// What a change means for the question "are more engineers getting more value?".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Meaning {
    Good,
    Bad,
    Neutral,
}

/// A figure's change from the week before.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Change {
    pub now: f64,
    pub before: f64,
    /// now − before (for a rate, a fraction: 0.02 = 2 percentage points).
    pub absolute: f64,
    /// absolute ÷ before; `None` when before is 0, and for rates, whose
    /// change is stated in points.
    pub relative: Option<f64>,
    pub direction: Direction,
    pub meaning: Meaning,
}

impl Change {
    /// The change of `figure` from `before` to `now`.
    pub fn between(figure: Figure, now: f64, before: f64) -> Change {
        let absolute = now - before;
        let direction = if absolute > 0.0 {
            Direction::Up
        } else if absolute < 0.0 {
            Direction::Down
        } else {
            Direction::Same
        };
        let meaning = match (figure.preferred(), direction) {
            (_, Direction::Same) | (Preferred::Neither, _) => Meaning::Neutral,
            (Preferred::Higher, Direction::Up) | (Preferred::Lower, Direction::Down) => {
                Meaning::Good
            }
            _ => Meaning::Bad,
        };
        Change {
            now,
            before,
            absolute,
            relative: (figure.unit() != Unit::Rate && before != 0.0).then(|| absolute / before),
            direction,
            meaning,
        }
    }

    /// The change when both values are defined.
    pub fn of(figure: Figure, now: Option<f64>, before: Option<f64>) -> Option<Change> {
        Some(Change::between(figure, now?, before?))
    }
}

/// One figure of the reference week, with its change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Card {
    pub figure: Figure,
    /// `None`: undefined, see `why_undefined` (shown as "—", never 0).
    pub value: Option<f64>,
    pub why_undefined: Option<String>,
    /// `None` when there is no comparable week before, or either value is undefined.
    pub change: Option<Change>,
}

/// The six cards of the first screen (weekly active engineers with
/// adoption, sessions and lines accepted with their per-engineer figures,
/// acceptance, cost per active engineer, not started yet), for the reference week.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cards {
    /// The reference week (its Monday).
    pub week: NaiveDate,
    /// The week compared with, when it is complete and fully covered.
    pub compared_with: Option<NaiveDate>,
    /// Why there are no changes, when there is no week to compare with.
    pub why_no_comparison: Option<String>,
    pub active_engineers: Card,
    pub adoption_rate: Card,
    pub sessions: Card,
    pub sessions_per_active_engineer: Card,
    pub lines_accepted: Card,
    pub lines_per_active_engineer: Card,
    pub acceptance_rate: Card,
    pub cost_per_active_engineer: Card,
    pub not_started: Card,
}

impl Cards {
    /// Every card, in the order of the first screen.
    pub fn all(&self) -> [&Card; 9] {
        [
            &self.active_engineers,
            &self.adoption_rate,
            &self.sessions,
            &self.sessions_per_active_engineer,
            &self.lines_accepted,
            &self.lines_per_active_engineer,
            &self.acceptance_rate,
            &self.cost_per_active_engineer,
            &self.not_started,
        ]
    }
}

/// The value of `figure` in `f`.
pub(crate) fn value(figure: Figure, f: &Figures) -> Option<f64> {
    match figure {
        Figure::ActiveEngineers => Some(f.active_engineers as f64),
        Figure::AdoptionRate => f.adoption_rate,
        Figure::Sessions => Some(f.totals.sessions as f64),
        Figure::SessionsPerActiveEngineer => f.sessions_per_active_engineer,
        Figure::LinesAccepted => Some(f.totals.lines_accepted as f64),
        Figure::LinesPerActiveEngineer => f.lines_per_active_engineer,
        Figure::AcceptanceRate => f.totals.acceptance_rate,
        Figure::Cost => Some(f.totals.cost_usd),
        Figure::CostPerActiveEngineer => f.cost_per_active_engineer_usd,
        Figure::NonStarters | Figure::Tiers => None,
    }
}

fn card(figure: Figure, now: &Figures, before: Option<&Figures>) -> Card {
    let v = value(figure, now);
    Card {
        figure,
        value: v,
        why_undefined: v.is_none().then(|| {
            why_undefined(figure, Some(now))
                .unwrap_or("undefined")
                .to_string()
        }),
        change: Change::of(figure, v, before.and_then(|b| value(figure, b))),
    }
}

/// Not started yet as of the reference week and the week before (`None`
/// counts: no roster).
pub(crate) struct NotStarted {
    pub now: Option<u64>,
    pub before: Option<u64>,
}

/// The cards of reference week `week`, compared with `previous` when it is
/// complete and fully covered.
pub(crate) fn cards(
    week: &WeekFigures,
    previous: Option<&WeekFigures>,
    not_started: NotStarted,
) -> Option<Cards> {
    let now = week.figures.as_ref()?;
    let before = previous.filter(|p| p.is_comparable());
    let why_no_comparison = match (previous, before) {
        (_, Some(_)) => None,
        (None, _) => Some("the week before is not in the window".to_string()),
        (Some(p), None) if !p.complete => Some("the week before is not complete".to_string()),
        (Some(_), None) => Some(
            "the week before is not fully covered by the loaded data, so no change is shown"
                .to_string(),
        ),
    };
    let b = before.and_then(|p| p.figures.as_ref());
    let ns = Figure::NonStarters;
    let not_started = Card {
        figure: ns,
        value: not_started.now.map(|n| n as f64),
        why_undefined: not_started
            .now
            .is_none()
            .then(|| "no roster is loaded".to_string()),
        change: Change::of(
            ns,
            not_started.now.map(|n| n as f64),
            not_started.before.filter(|_| b.is_some()).map(|n| n as f64),
        ),
    };
    Some(Cards {
        week: week.week,
        compared_with: before.map(|p| p.week),
        why_no_comparison,
        active_engineers: card(Figure::ActiveEngineers, now, b),
        adoption_rate: card(Figure::AdoptionRate, now, b),
        sessions: card(Figure::Sessions, now, b),
        sessions_per_active_engineer: card(Figure::SessionsPerActiveEngineer, now, b),
        lines_accepted: card(Figure::LinesAccepted, now, b),
        lines_per_active_engineer: card(Figure::LinesPerActiveEngineer, now, b),
        acceptance_rate: card(Figure::AcceptanceRate, now, b),
        cost_per_active_engineer: card(Figure::CostPerActiveEngineer, now, b),
        not_started,
    })
}

/// The reference week's cards and the weeks they come from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Kpis {
    /// The reference week (complete and fully covered, so its figures are there).
    pub week: WeekFigures,
    /// The week before, when it is complete and fully covered.
    pub previous: Option<WeekFigures>,
    /// "Not started yet" as of the reference week (0 without a roster).
    pub non_starters: u64,
    /// The cards with their changes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cards: Option<Cards>,
}
