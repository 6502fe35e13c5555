//! People and engagement tiers (metrics.md §4), the window-level figures
//! over the same people, and "not started yet".
//!
//! "Not started yet" has one meaning everywhere (the card, the tier chart,
//! the list and the sentence): roster members with no activity on or before
//! the last day of the week it is judged at. People who first used Claude
//! Code after that week are tiered "new" and are not started as of it.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::figures::{Active, Figures, Totals};
use super::fold::{week_index, week_monday, PersonAcc};
use super::window::{Span, WeekCoverage};
use super::Selection;
use crate::coverage::DayRange;
use crate::model::{Measures, PersonKey, Source};
use crate::week;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Tier {
    Power,
    Regular,
    Occasional,
    Lapsed,
    New,
    NonStarter,
}

impl Tier {
    pub const ALL: [Tier; 6] = [
        Tier::Power,
        Tier::Regular,
        Tier::Occasional,
        Tier::Lapsed,
        Tier::New,
        Tier::NonStarter,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Tier::Power => "Power user",
            Tier::Regular => "Regular",
            Tier::Occasional => "Occasional",
            Tier::Lapsed => "Lapsed",
            // "New" at W: first active after it, so not started yet as of W.
            Tier::New => "Started later",
            Tier::NonStarter => "Not started yet",
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Tier::Power => "power",
            Tier::Regular => "regular",
            Tier::Occasional => "occasional",
            Tier::Lapsed => "lapsed",
            Tier::New => "new",
            Tier::NonStarter => "non_starter",
        }
    }

    /// No activity on or before the end of the week the tier is judged at:
    /// first active after it ("new") or never active. For a roster member,
    /// this is "not started yet".
    pub fn not_started(self) -> bool {
        matches!(self, Tier::New | Tier::NonStarter)
    }
}

/// Per-person figures (§4). Window sums cover the selected window; first and
/// last active cover all loaded data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PersonFigures {
    pub person: PersonKey,
    pub name: Option<String>,
    pub team: Option<String>,
    pub on_roster: bool,
    /// At the tier week ([`super::Window::tier_week`]).
    pub tier: Tier,
    pub first_active: Option<NaiveDate>,
    pub last_active: Option<NaiveDate>,
    /// Complete weeks of the window in which the person was active (at most
    /// the window's `complete_weeks`).
    pub active_weeks: u32,
    /// Active in the current, partial week of the window.
    #[serde(default)]
    pub active_this_week: bool,
    /// Of the four weeks W−3 … W.
    pub active_weeks_of_last_4: u32,
    /// The window's sums.
    #[serde(flatten)]
    pub totals: Totals,
    /// Lines accepted over W−3 … W (the power-user ranking value).
    pub lines_accepted_last_4: u64,
    /// First active day − roster start date, when both are known.
    pub days_to_first_use: Option<i64>,
    /// True when the person's activity in the window is known only from period totals.
    pub period_only: bool,
    pub sources: Vec<Source>,
}

/// How many people are in each tier when a given week is W.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TierCounts {
    pub power: u64,
    pub regular: u64,
    pub occasional: u64,
    pub lapsed: u64,
    /// First active after this week (roster or not): "new" at this week (§4).
    pub new: u64,
    /// On the roster and not active by the end of the tier week (one definition: `Figure::NonStarters`).
    pub non_starter: u64,
    /// "Not started yet" as of this week: roster members with no activity up
    /// to its end (the ones who start later plus the non-starters).
    #[serde(default)]
    pub roster_not_started: u64,
}

/// One bar of the tier chart: one entry per week of the weekly series, so
/// both span the same weeks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TierWeek {
    /// The week's Monday.
    pub week: NaiveDate,
    /// `None` where tiers cannot be computed (flattened: no count keys then).
    #[serde(flatten)]
    pub counts: Option<TierCounts>,
    /// Why there are no counts: the week is in progress, or not fully covered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_computable: Option<String>,
}

/// Window-level figures: the same rules over the whole window (§3, last paragraph).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct WindowTotals {
    #[serde(flatten)]
    pub figures: Figures,
    /// Persons whose only activity in the window comes from period totals
    /// (exports without dates): "active in the period".
    pub active_in_period_only: u64,
}

/// The tier of one person at week `w` (§4).
pub(crate) fn tier_at(a: &PersonAcc, w: i32, power_threshold: Option<u64>) -> Tier {
    let weeks_active = (w - 3..=w).filter(|x| a.active_in(*x)).count();
    match weeks_active {
        4 if power_threshold.is_some_and(|t| a.lines_in(w - 3, w) >= t) => return Tier::Power,
        3 | 4 => return Tier::Regular,
        1 | 2 => return Tier::Occasional,
        _ => {}
    }
    let w_start = week_monday(w - 3);
    let w_end = week::sunday_of(week_monday(w));
    // Long period rows cannot be placed in a week: active in a period that
    // touches the four weeks counts as occasional, before them as lapsed.
    let active_periods = || a.long_periods.iter().filter(|p| p.m.is_active());
    if active_periods().any(|p| p.start <= w_end && p.end >= w_start) {
        return Tier::Occasional;
    }
    if a.first_active.is_some_and(|d| d < w_start) || active_periods().any(|p| p.start < w_start) {
        return Tier::Lapsed;
    }
    if a.ever_active() {
        return Tier::New;
    }
    // Never active. Callers only list such a person when on the roster.
    Tier::NonStarter
}

/// The power-user threshold at `w`: the k-th highest lines accepted over the
/// four weeks among the n persons active in any of them, k = ⌈n/4⌉.
pub(crate) fn power_threshold<'a>(
    accs: impl Iterator<Item = &'a PersonAcc>,
    w: i32,
) -> Option<u64> {
    let mut lines: Vec<u64> = accs
        .filter(|a| (w - 3..=w).any(|x| a.active_in(x)))
        .map(|a| a.lines_in(w - 3, w))
        .collect();
    if lines.is_empty() {
        return None;
    }
    lines.sort_unstable_by(|a, b| b.cmp(a));
    lines.get(lines.len().div_ceil(4) - 1).copied()
}

/// Everything about the people of the selection.
pub(crate) struct People {
    pub people: Vec<PersonFigures>,
    pub totals: WindowTotals,
    /// Roster members (of the selection) with no row in any source.
    pub never_seen: Vec<PersonKey>,
}

/// The people list (sorted by lines accepted, then sessions, then key) and
/// the window totals.
pub(crate) fn people(sel: &Selection<'_>, span: &Span) -> People {
    let threshold = power_threshold(sel.scoped.iter().map(|&i| &sel.folded.acc[i]), span.tier);
    let mut people: Vec<PersonFigures> = Vec::new();
    let mut window_m = Measures::default();
    let mut active = Active::default();
    let mut period_only = 0u64;
    for &i in &sel.scoped {
        let a = &sel.folded.acc[i];
        if !a.ever_active() && !sel.on_roster(i) {
            continue; // only rows of zeros and not on the roster: nobody to show
        }
        let (p, m) = person(sel, span, i, threshold);
        window_m.add(&m);
        let active_in_window = p.active_weeks > 0 || p.active_this_week || p.period_only;
        if active_in_window {
            active.engineers += 1;
            active.roster_members += u64::from(p.on_roster);
            period_only += u64::from(p.period_only);
            active.new += u64::from(
                a.first_active
                    .is_some_and(|d| (span.first..=span.last).contains(&week_index(d))),
            );
        }
        people.push(p);
    }
    let never_seen = never_seen(sel);
    people.extend(never_seen.iter().map(|k| roster_only(sel, k)));
    people.sort_by(|a, b| {
        b.totals
            .lines_accepted
            .cmp(&a.totals.lines_accepted)
            .then(b.totals.sessions.cmp(&a.totals.sessions))
            .then(a.person.cmp(&b.person))
    });
    People {
        people,
        totals: WindowTotals {
            figures: Figures::new(active, sel.roster_size, &window_m),
            active_in_period_only: period_only,
        },
        never_seen,
    }
}

/// One person's figures and window sums.
fn person(
    sel: &Selection<'_>,
    span: &Span,
    i: usize,
    threshold: Option<u64>,
) -> (PersonFigures, Measures) {
    let a = &sel.folded.acc[i];
    let (window_from, window_to) = (week_monday(span.first), sel.window_to);
    let mut m = Measures::default();
    let (mut active_weeks, mut active_this_week) = (0u32, false);
    for (w, pw) in a.weeks.range(span.weeks()) {
        m.add(&pw.m);
        if pw.active && span.is_complete(*w) {
            active_weeks += 1;
        } else if pw.active {
            active_this_week = true;
        }
    }
    let mut active_by_period = false;
    for p in &a.long_periods {
        if p.start >= window_from && p.end <= window_to {
            m.add(&p.m);
            active_by_period |= p.m.is_active();
        }
    }
    let w = span.tier;
    let entry = sel.entry(i);
    let figures = PersonFigures {
        person: sel.folded.persons[i].clone(),
        name: entry.and_then(|e| e.name.clone()),
        team: entry.and_then(|e| e.team.clone()),
        on_roster: entry.is_some(),
        tier: tier_at(a, w, threshold),
        first_active: a.first_active,
        last_active: a.last_active,
        active_weeks,
        active_this_week,
        active_weeks_of_last_4: (w - 3..=w).filter(|x| a.active_in(*x)).count() as u32,
        totals: Totals::of(&m),
        lines_accepted_last_4: a.lines_in(w - 3, w),
        days_to_first_use: match (a.first_active, entry.and_then(|e| e.start)) {
            (Some(first), Some(start)) => Some((first - start).num_days()),
            _ => None,
        },
        period_only: active_by_period && active_weeks == 0 && !active_this_week,
        sources: a.sources.iter().copied().collect(),
    };
    (figures, m)
}

/// Roster members of the selection that no row of any source names.
fn never_seen(sel: &Selection<'_>) -> Vec<PersonKey> {
    let seen: std::collections::BTreeSet<&PersonKey> =
        sel.scoped.iter().map(|&i| &sel.folded.persons[i]).collect();
    sel.roster_members
        .iter()
        .filter(|e| !seen.contains(&e.person))
        .map(|e| e.person.clone())
        .collect()
}

/// A roster member with no row at all: not started, nothing to sum.
fn roster_only(sel: &Selection<'_>, key: &PersonKey) -> PersonFigures {
    let entry = sel.roster.and_then(|r| r.entry_for(key));
    PersonFigures {
        person: key.clone(),
        name: entry.and_then(|e| e.name.clone()),
        team: entry.and_then(|e| e.team.clone()),
        on_roster: true,
        tier: Tier::NonStarter,
        first_active: None,
        last_active: None,
        active_weeks: 0,
        active_this_week: false,
        active_weeks_of_last_4: 0,
        totals: Totals::default(),
        lines_accepted_last_4: 0,
        days_to_first_use: None,
        period_only: false,
        sources: Vec::new(),
    }
}

/// The tier chart: one entry per week of the window; counts where the week
/// is complete and fully covered, a reason elsewhere.
pub(crate) fn tiers_by_week(
    sel: &Selection<'_>,
    span: &Span,
    covered: &[DayRange],
    never_seen: u64,
) -> Vec<TierWeek> {
    span.weeks()
        .map(|w| {
            let monday = week_monday(w);
            let why = if !span.is_complete(w) {
                Some("the week is still in progress".to_string())
            } else {
                match WeekCoverage::of(covered, monday) {
                    WeekCoverage::Full => None,
                    WeekCoverage::Uncovered => {
                        Some("no loaded source covers this week".to_string())
                    }
                    WeekCoverage::Partial { days, .. } => Some(format!(
                        "only {days} of the week's 7 days are covered by the loaded data"
                    )),
                }
            };
            TierWeek {
                week: monday,
                counts: why.is_none().then(|| tier_counts(sel, w, never_seen)),
                not_computable: why,
            }
        })
        .collect()
}

/// Tier counts when `w` is the week tiers are judged at.
pub(crate) fn tier_counts(sel: &Selection<'_>, w: i32, never_seen: u64) -> TierCounts {
    let t = power_threshold(sel.scoped.iter().map(|&i| &sel.folded.acc[i]), w);
    let mut c = TierCounts::default();
    for &i in &sel.scoped {
        let on_roster = sel.on_roster(i);
        let tier = tier_at(&sel.folded.acc[i], w, t);
        match tier {
            Tier::Power => c.power += 1,
            Tier::Regular => c.regular += 1,
            Tier::Occasional => c.occasional += 1,
            Tier::Lapsed => c.lapsed += 1,
            // First active after w: "new" at w, roster or not, exactly as the
            // people list tiers them at W.
            Tier::New => c.new += 1,
            Tier::NonStarter => c.non_starter += u64::from(on_roster),
        }
        c.roster_not_started += u64::from(on_roster && tier.not_started());
    }
    c.non_starter += never_seen;
    c.roster_not_started += never_seen;
    c
}
