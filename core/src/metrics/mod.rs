//! The metrics engine: the one place where every figure is computed
//! (reference/metrics.md is the contract; section numbers refer to it).
//!
//! [`compute`] runs the parts in order, each in its own module:
//! - [`fold`]: resolve persons through the roster, pick the most
//!   authoritative source per person-day (§1), fold rows into person-weeks;
//! - [`window`]: the weeks of the window, each week's coverage (§2) and the
//!   reference week: the latest complete, fully covered week;
//! - [`weekly`]: one [`Figures`] per covered week (§3), none for a week no
//!   source covers;
//! - [`people`]: people, tiers and "not started yet" (§4), the window totals;
//! - [`changes`]: the reference week against the week before, for the cards;
//! - [`teams`]: teams side by side;
//! - [`health`]: data health, warnings and staleness (§2, §6);
//! - [`text`]: the sentence; [`definitions`]: what each figure means;
//! - [`digest`]: the weekly digest's figures, from a computed report.
//!
//! Ratios are ratios of sums and `None` when undefined; a week without data
//! has no figures at all, so nothing downstream can print its 0.

mod changes;
mod definitions;
mod digest;
mod figures;
mod fold;
mod health;
mod people;
mod teams;
mod text;
mod weekly;
mod window;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

pub use changes::{Card, Cards, Change, Direction, Kpis, Meaning};
pub use definitions::{
    definition, why_undefined, Definition, Figure, Preferred, Unit, DEFINITIONS,
};
pub use digest::{digest, Digest, TeamMove, TEAMS_MOVED};
pub use figures::{micros_to_usd, ratio, Figures, Totals};
pub use health::{DataHealth, SourceHealth, Staleness, StoppedSource};
pub use people::{PersonFigures, Tier, TierCounts, TierWeek, WindowTotals};
pub use teams::{TeamChanges, TeamRow, TeamWeek, Teams};
pub use text::{percent, short_day, summary_sentence};
pub use weekly::WeekFigures;
pub use window::{ReportOptions, WeekCoverage, Window, WindowSpec, MAX_WINDOW_WEEKS};

use crate::coverage::SourceCoverage;
use crate::model::PersonKey;
use crate::roster::{Roster, RosterEntry};
use crate::table::UsageTable;
use fold::{week_index, Folded};
use window::Span;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub window: Window,
    /// Every week of the window, oldest first.
    pub weeks: Vec<WeekFigures>,
    pub totals: WindowTotals,
    /// The reference week's cards; `None` when the window has no reference week.
    pub kpis: Option<Kpis>,
    pub people: Vec<PersonFigures>,
    /// "Not started yet" at the tier week: roster members with no activity up to its end.
    pub non_starters: Vec<PersonKey>,
    pub not_on_roster: Vec<PersonKey>,
    pub power_users: Vec<PersonKey>,
    pub new_this_week: Vec<PersonKey>,
    /// The tier chart: exactly the weeks of `weeks`.
    pub tiers_by_week: Vec<TierWeek>,
    pub roster_size: Option<u64>,
    /// The roster's team names.
    pub teams: Vec<String>,
    /// Teams side by side for the reference week (all teams, whatever the filter).
    #[serde(default)]
    pub team_table: Teams,
    /// The days each source covers, and server sources' freshness.
    #[serde(default)]
    pub coverage: Vec<SourceCoverage>,
    /// Set when the reference week is older than the latest complete week.
    #[serde(default)]
    pub staleness: Option<Staleness>,
    /// The trend in one sentence (the top of the dashboard).
    pub summary: String,
    pub health: DataHealth,
    /// Input problems; the engine leaves this empty, callers append the parsers' problems.
    pub problems: Vec<crate::model::Problem>,
    pub warnings: Vec<String>,
}

/// The people in scope and how each resolved person sits on the roster.
pub(crate) struct Selection<'a> {
    pub folded: &'a Folded,
    pub roster: Option<&'a Roster>,
    pub opts: &'a ReportOptions,
    /// The roster entry of each resolved person, by index.
    entries: Vec<Option<&'a RosterEntry>>,
    /// Indexes of the persons the team filter keeps.
    pub scoped: Vec<usize>,
    /// Roster members the team filter keeps.
    pub roster_members: Vec<&'a RosterEntry>,
    pub roster_size: Option<u64>,
    /// The window's last day.
    pub window_to: NaiveDate,
}

impl<'a> Selection<'a> {
    fn new(
        folded: &'a Folded,
        roster: Option<&'a Roster>,
        opts: &'a ReportOptions,
        window_to: NaiveDate,
    ) -> Selection<'a> {
        let team = opts.team.as_deref();
        let in_team = |e: Option<&RosterEntry>| {
            team.is_none_or(|t| e.and_then(|e| e.team.as_deref()) == Some(t))
        };
        let entries: Vec<Option<&RosterEntry>> = folded
            .persons
            .iter()
            .map(|p| roster.and_then(|r| r.entry_for(p)))
            .collect();
        let roster_members: Vec<&RosterEntry> = roster
            .map(|r| r.entries().iter().filter(|e| in_team(Some(e))).collect())
            .unwrap_or_default();
        Selection {
            folded,
            roster,
            opts,
            scoped: (0..entries.len())
                .filter(|&i| in_team(entries[i]))
                .collect(),
            roster_size: roster.map(|_| roster_members.len() as u64),
            roster_members,
            entries,
            window_to,
        }
    }

    pub fn entry(&self, i: usize) -> Option<&'a RosterEntry> {
        self.entries.get(i).copied().flatten()
    }

    pub fn on_roster(&self, i: usize) -> bool {
        self.entry(i).is_some()
    }
}

/// Computes the whole report. Pure: the same table, roster and options
/// always give the same report.
pub fn compute(table: &UsageTable, roster: Option<&Roster>, opts: &ReportOptions) -> Report {
    let mut folded = fold::fold(table, roster);
    let mut health = std::mem::take(&mut folded.health);
    let mut warnings = std::mem::take(&mut folded.warnings);
    let coverage = table.coverage();
    let covered = health::covered_days(&coverage);
    let span = window::resolve(opts, folded.first_data_day, &covered, &mut warnings);
    let window = Window::new(&span, opts);
    let sel = Selection::new(&folded, roster, opts, window.to);

    let weeks = weekly::weeks(&sel, &span, &covered);
    let people = people::people(&sel, &span);
    let never_seen = people.never_seen.len() as u64;
    let tiers_by_week = people::tiers_by_week(&sel, &span, &covered, never_seen);
    let lists = Lists::of(&people.people, roster.is_some(), span.tier);
    let reference = span
        .reference
        .and_then(|w| weeks.iter().position(|x| week_index(x.week) == w));
    let kpis = reference.map(|pos| {
        kpis(
            &sel,
            &span,
            &weeks,
            pos,
            lists.non_starters.len(),
            never_seen,
        )
    });
    let team_table = teams::teams(&sel, &weeks, reference);
    let staleness = health::staleness(&covered, &coverage, &span, opts.as_of);

    health.not_on_roster = lists.not_on_roster.clone();
    health.roster_never_seen = people.never_seen;
    health::warnings(
        health::WarningInput {
            health: &health,
            roster_conflicts: roster.map(Roster::conflicts),
            table_empty: table.is_empty(),
            staleness: staleness.as_ref(),
            first_data_day: folded.first_data_day,
            window_from: window.from,
            team_without_roster: opts.team.is_some() && roster.is_none(),
        },
        &mut warnings,
    );
    let mut report = Report {
        window,
        weeks,
        totals: people.totals,
        kpis,
        people: people.people,
        non_starters: lists.non_starters,
        not_on_roster: lists.not_on_roster,
        power_users: lists.power_users,
        new_this_week: lists.new_this_week,
        tiers_by_week,
        roster_size: sel.roster_size,
        teams: roster.map(|r| r.teams()).unwrap_or_default(),
        team_table,
        coverage,
        staleness,
        summary: String::new(),
        health,
        problems: Vec::new(),
        warnings,
    };
    report.summary = summary_sentence(&report);
    report
}

/// The named lists of the report, from the people at the tier week.
struct Lists {
    non_starters: Vec<PersonKey>,
    not_on_roster: Vec<PersonKey>,
    power_users: Vec<PersonKey>,
    new_this_week: Vec<PersonKey>,
}

impl Lists {
    fn of(people: &[PersonFigures], with_roster: bool, tier_week: i32) -> Lists {
        let keys = |f: &dyn Fn(&PersonFigures) -> bool| -> Vec<PersonKey> {
            let mut v: Vec<PersonKey> = people
                .iter()
                .filter(|p| f(p))
                .map(|p| p.person.clone())
                .collect();
            v.sort();
            v
        };
        Lists {
            non_starters: keys(&|p| p.on_roster && p.tier.not_started()),
            not_on_roster: if with_roster {
                keys(&|p| !p.on_roster)
            } else {
                Vec::new()
            },
            power_users: people
                .iter()
                .filter(|p| p.tier == Tier::Power)
                .map(|p| p.person.clone())
                .collect(),
            new_this_week: people
                .iter()
                .filter(|p| p.first_active.is_some_and(|d| week_index(d) == tier_week))
                .map(|p| p.person.clone())
                .collect(),
        }
    }
}

/// The cards of the reference week (`weeks[pos]`).
fn kpis(
    sel: &Selection<'_>,
    span: &Span,
    weeks: &[WeekFigures],
    pos: usize,
    non_starters: usize,
    never_seen: u64,
) -> Kpis {
    let week = &weeks[pos];
    let previous = pos
        .checked_sub(1)
        .map(|p| &weeks[p])
        .filter(|p| p.is_comparable());
    let not_started = changes::NotStarted {
        now: sel.roster.map(|_| non_starters as u64),
        before: sel
            .roster
            .and(previous)
            .map(|_| people::tier_counts(sel, span.tier - 1, never_seen).roster_not_started),
    };
    Kpis {
        week: week.clone(),
        previous: previous.cloned(),
        non_starters: non_starters as u64,
        cards: changes::cards(week, pos.checked_sub(1).map(|p| &weeks[p]), not_started),
    }
}
