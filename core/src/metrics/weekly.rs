//! One value per ISO week (metrics.md §3), for the weeks of the window, and
//! the window-level figures over the same selection.

use serde::{Deserialize, Serialize};

use super::figures::{Active, Figures};
use super::fold::{week_index, week_monday, PersonAcc};
use super::window::{Span, WeekCoverage};
use super::Selection;
use crate::coverage::DayRange;
use crate::model::Measures;
use crate::week;

/// One ISO week of the window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WeekFigures {
    /// The week's Monday.
    pub week: chrono::NaiveDate,
    /// ISO label, e.g. `2026-W47`.
    pub label: String,
    /// False for the current week, which is still in progress.
    pub complete: bool,
    /// How much of the week the loaded sources cover.
    #[serde(default)]
    pub coverage: WeekCoverage,
    /// Drawn and labelled partial: the current week, or a week only partly covered.
    #[serde(default)]
    pub partial: bool,
    /// The week's figures; `None` when no day of the week is covered (no
    /// data is not zero: a gap, never a 0). Flattened into the week's JSON,
    /// so an uncovered week has no figure keys at all.
    #[serde(flatten)]
    pub figures: Option<Figures>,
    /// Days of the week on which at least one row of any source exists.
    pub days_with_data: u8,
}

impl WeekFigures {
    /// True when the week can be a reference: complete and fully covered.
    pub fn is_comparable(&self) -> bool {
        self.complete && self.coverage.is_full() && self.figures.is_some()
    }
}

/// The weekly series of the window, every week with its coverage.
pub(crate) fn weeks(sel: &Selection<'_>, span: &Span, covered: &[DayRange]) -> Vec<WeekFigures> {
    span.weeks()
        .map(|w| {
            let monday = week_monday(w);
            let coverage = WeekCoverage::of(covered, monday);
            let complete = week::is_complete(monday, sel.opts.as_of);
            let figures = (coverage != WeekCoverage::Uncovered)
                .then(|| week_figures(sel, sel.scoped.iter().copied(), w, sel.roster_size));
            WeekFigures {
                week: monday,
                label: week::iso_label(monday),
                complete,
                partial: !complete || !coverage.is_full(),
                coverage,
                figures,
                days_with_data: sel.folded.days_by_week.get(&w).copied().unwrap_or(0),
            }
        })
        .collect()
}

/// The figures of week `w` over the people `who`.
pub(crate) fn week_figures(
    sel: &Selection<'_>,
    who: impl Iterator<Item = usize>,
    w: i32,
    roster_size: Option<u64>,
) -> Figures {
    let mut m = Measures::default();
    let mut active = Active::default();
    for i in who {
        let a: &PersonAcc = &sel.folded.acc[i];
        let Some(pw) = a.weeks.get(&w) else { continue };
        m.add(&pw.m);
        if pw.active {
            active.engineers += 1;
            if sel.on_roster(i) {
                active.roster_members += 1;
            }
            if a.first_active.is_some_and(|d| week_index(d) == w) {
                active.new += 1;
            }
        }
    }
    Figures::new(active, roster_size, &m)
}
