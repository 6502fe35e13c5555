//! The weekly digest's figures (issue 15): what a chat message about the
//! reference week says, taken from an already computed [`Report`] so it
//! shows the page's numbers: the sentence, the cards with their changes,
//! power users to celebrate, the teams that moved most, new starters and,
//! when asked for, who has not started.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::changes::{Cards, Change};
use super::health::Staleness;
use super::Report;
use crate::model::PersonKey;

/// Teams listed as "moved most".
pub const TEAMS_MOVED: usize = 3;

/// One team's move from the week before to the reference week.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TeamMove {
    pub team: String,
    /// Active roster members of the team in the reference week.
    pub active_engineers: u64,
    pub roster_size: u64,
    pub active_engineers_change: Option<Change>,
    pub adoption_rate_change: Option<Change>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Digest {
    /// The reference week (its Monday).
    pub week: NaiveDate,
    pub summary: String,
    /// The reference week's cards with their changes.
    pub cards: Option<Cards>,
    pub power_users: Vec<PersonKey>,
    /// People whose first active day falls in the reference week.
    pub new_starters: Vec<PersonKey>,
    /// The teams whose adoption moved most (then active engineers), largest first.
    pub teams_moved: Vec<TeamMove>,
    /// Roster members not started yet; `None` unless asked for (or without a roster).
    pub non_starters: Option<Vec<PersonKey>>,
    /// Set when the reference week is older than the latest complete week.
    pub staleness: Option<Staleness>,
}

/// The digest of `report`'s reference week; `None` when the report has
/// none (no complete week is fully covered), so nothing is posted about a
/// week without data.
pub fn digest(report: &Report, include_non_starters: bool) -> Option<Digest> {
    let kpis = report.kpis.as_ref()?;
    let week = kpis.week.week;
    let mut moved: Vec<TeamMove> = report
        .team_table
        .rows
        .iter()
        .filter_map(|row| {
            let w = row.week.as_ref()?;
            let moved = |c: &Option<Change>| c.as_ref().is_some_and(|c| c.absolute != 0.0);
            if !moved(&row.changes.adoption_rate) && !moved(&row.changes.active_engineers) {
                return None;
            }
            Some(TeamMove {
                team: row.team.clone(),
                active_engineers: w.active_engineers,
                roster_size: row.roster_size,
                active_engineers_change: row.changes.active_engineers.clone(),
                adoption_rate_change: row.changes.adoption_rate.clone(),
            })
        })
        .collect();
    let size = |c: &Option<Change>| c.as_ref().map_or(0.0, |c| c.absolute.abs());
    moved.sort_by(|a, b| {
        size(&b.adoption_rate_change)
            .total_cmp(&size(&a.adoption_rate_change))
            .then(size(&b.active_engineers_change).total_cmp(&size(&a.active_engineers_change)))
            .then(a.team.cmp(&b.team))
    });
    moved.truncate(TEAMS_MOVED);
    Some(Digest {
        week,
        summary: report.summary.clone(),
        cards: kpis.cards.clone(),
        power_users: report.power_users.clone(),
        new_starters: report.new_this_week.clone(),
        teams_moved: moved,
        non_starters: (include_non_starters && report.roster_size.is_some())
            .then(|| report.non_starters.clone()),
        staleness: report.staleness.clone(),
    })
}
