//! Teams side by side: each roster team's figures for the reference week,
//! the change from the week before and its weekly series (for a trend line).
//! Computed over every team whatever the team filter, so the table can sit
//! next to a filtered view; people not on the roster form no team.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::changes::Change;
use super::definitions::Figure;
use super::figures::Figures;
use super::weekly::{week_figures, WeekFigures};
use super::Selection;

/// One team in one week: the figures of the team table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TeamWeek {
    /// Active roster members of the team.
    pub active_engineers: u64,
    /// active ÷ the team's roster size.
    pub adoption_rate: Option<f64>,
    pub lines_per_active_engineer: Option<f64>,
    pub acceptance_rate: Option<f64>,
    pub cost_per_active_engineer_usd: Option<f64>,
}

impl TeamWeek {
    fn of(f: &Figures) -> TeamWeek {
        TeamWeek {
            active_engineers: f.active_engineers,
            adoption_rate: f.adoption_rate,
            lines_per_active_engineer: f.lines_per_active_engineer,
            acceptance_rate: f.totals.acceptance_rate,
            cost_per_active_engineer_usd: f.cost_per_active_engineer_usd,
        }
    }
}

/// A team's changes from the week before (each `None` without a comparable week or value).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TeamChanges {
    pub active_engineers: Option<Change>,
    pub adoption_rate: Option<Change>,
    pub lines_per_active_engineer: Option<Change>,
    pub acceptance_rate: Option<Change>,
    pub cost_per_active_engineer: Option<Change>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TeamRow {
    pub team: String,
    /// Roster members in the team.
    pub roster_size: u64,
    /// The reference week; `None` without a reference week.
    pub week: Option<TeamWeek>,
    pub changes: TeamChanges,
    /// One entry per week of the report's weekly series (`None`: the week is
    /// not covered, a gap in the trend line).
    pub series: Vec<Option<TeamWeek>>,
}

/// The team table.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Teams {
    /// The reference week the rows are for.
    pub week: Option<NaiveDate>,
    pub rows: Vec<TeamRow>,
    /// People active in the reference week who are not on the roster (they form no team).
    pub not_on_roster_active: u64,
    /// Roster members without a team.
    pub roster_without_team: u64,
    /// Rows left out of a shared snapshot with names hidden: teams smaller
    /// than the sharer's smallest group.
    #[serde(default)]
    pub hidden_small_teams: u64,
}

/// Every roster team, sorted by name.
pub(crate) fn teams(sel: &Selection<'_>, weeks: &[WeekFigures], reference: Option<usize>) -> Teams {
    let Some(roster) = sel.roster else {
        return Teams::default();
    };
    // Members per team, and the resolved persons of each team.
    let mut members: BTreeMap<&str, u64> = BTreeMap::new();
    let mut without_team = 0u64;
    for e in roster.entries() {
        match e.team.as_deref() {
            Some(t) => *members.entry(t).or_default() += 1,
            None => without_team += 1,
        }
    }
    let mut persons: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for i in 0..sel.folded.persons.len() {
        if let Some(t) = sel.entry(i).and_then(|e| e.team.as_deref()) {
            persons.entry(t).or_default().push(i);
        }
    }
    let idx = |w: &WeekFigures| super::fold::week_index(w.week);
    let rows = members
        .iter()
        .map(|(&team, &size)| {
            let who = persons.get(team).map_or(&[][..], Vec::as_slice);
            let series: Vec<Option<TeamWeek>> = weeks
                .iter()
                .map(|w| {
                    w.figures.as_ref().map(|_| {
                        TeamWeek::of(&week_figures(sel, who.iter().copied(), idx(w), Some(size)))
                    })
                })
                .collect();
            let now = reference.and_then(|r| series[r].clone());
            let before = reference
                .and_then(|r| r.checked_sub(1))
                .filter(|p| weeks[*p].is_comparable())
                .and_then(|p| series[p].clone());
            TeamRow {
                team: team.to_string(),
                roster_size: size,
                changes: changes(now.as_ref(), before.as_ref()),
                week: now,
                series,
            }
        })
        .collect();
    let not_on_roster_active = reference.map_or(0, |r| {
        let w = idx(&weeks[r]);
        (0..sel.folded.persons.len())
            .filter(|&i| sel.entry(i).is_none() && sel.folded.acc[i].active_in(w))
            .count() as u64
    });
    Teams {
        week: reference.map(|r| weeks[r].week),
        rows,
        not_on_roster_active,
        roster_without_team: without_team,
        hidden_small_teams: 0,
    }
}

fn changes(now: Option<&TeamWeek>, before: Option<&TeamWeek>) -> TeamChanges {
    let (Some(n), Some(b)) = (now, before) else {
        return TeamChanges::default();
    };
    TeamChanges {
        active_engineers: Some(Change::between(
            Figure::ActiveEngineers,
            n.active_engineers as f64,
            b.active_engineers as f64,
        )),
        adoption_rate: Change::of(Figure::AdoptionRate, n.adoption_rate, b.adoption_rate),
        lines_per_active_engineer: Change::of(
            Figure::LinesPerActiveEngineer,
            n.lines_per_active_engineer,
            b.lines_per_active_engineer,
        ),
        acceptance_rate: Change::of(Figure::AcceptanceRate, n.acceptance_rate, b.acceptance_rate),
        cost_per_active_engineer: Change::of(
            Figure::CostPerActiveEngineer,
            n.cost_per_active_engineer_usd,
            b.cost_per_active_engineer_usd,
        ),
    }
}
