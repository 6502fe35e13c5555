//! The trend in one sentence, at the top of the dashboard and the CLI. It
//! speaks of complete, fully covered weeks only (metrics.md §2): it never
//! says "to 0" for a week the data does not cover.

use chrono::NaiveDate;

use super::changes::Change;
use super::weekly::WeekFigures;
use super::Report;

/// Formats a fraction as a whole percentage, e.g. `92 %`.
pub fn percent(r: f64) -> String {
    format!("{:.0} %", r * 100.0)
}

/// A day as people say it: `18 Nov`.
pub fn short_day(d: NaiveDate) -> String {
    d.format("%-d %b").to_string()
}

/// The trend in words, e.g. "Weekly active engineers went from 2 to 6 over
/// the last 4 weeks, tool acceptance is holding at 92 %, and 2 people have
/// not started yet."
pub fn summary_sentence(r: &Report) -> String {
    let Some(reference) = r.window.reference_week else {
        return match &r.staleness {
            Some(s) if r.weeks.iter().all(|w| w.figures.is_none()) => format!(
                "No week of this window is covered by the loaded data ({}): figures appear for the weeks the data covers.",
                s.headline
            ),
            _ => "No complete, fully covered week in this window yet: figures appear once a full week (Monday to Sunday, UTC) has data.".into(),
        };
    };
    let covered: Vec<&WeekFigures> = r
        .weeks
        .iter()
        .filter(|w| w.is_comparable() && w.week <= reference)
        .collect();
    let (Some(first), Some(last)) = (covered.first(), covered.last()) else {
        return "No complete, fully covered week in this window yet.".into();
    };
    let wae = |w: &WeekFigures| w.figures.as_ref().map_or(0, |f| f.active_engineers);
    let n = (last.week - first.week).num_days() / 7 + 1;
    let stale = r.staleness.is_some();
    let over = match (n, stale) {
        (1, false) => "in the last complete week".to_string(),
        (1, true) => format!("in the week of {}", short_day(last.week)),
        (n, false) => format!("over the last {n} weeks"),
        (n, true) => format!("over the {n} weeks to the week of {}", short_day(last.week)),
    };
    let wae = if n == 1 || wae(first) == wae(last) {
        format!("Weekly active engineers held at {} {over}", wae(last))
    } else {
        format!(
            "Weekly active engineers went from {} to {} {over}",
            wae(first),
            wae(last)
        )
    };
    let acceptance = r
        .kpis
        .as_ref()
        .and_then(|k| k.cards.as_ref())
        .map(|c| &c.acceptance_rate);
    let acc = match acceptance.map(|c| (c.value, c.change.as_ref())) {
        None | Some((None, _)) => {
            "tool acceptance cannot be computed (no edit decisions in the latest week)".to_string()
        }
        Some((Some(a), None)) => format!("tool acceptance is {}", percent(a)),
        Some((Some(_), Some(c))) => acceptance_words(c),
    };
    let starters = match r.roster_size {
        None => "add a roster to see who has not started".to_string(),
        Some(_) => match r.non_starters.len() {
            0 => "everyone on the roster has started".to_string(),
            1 => "1 person has not started yet".to_string(),
            k => format!("{k} people have not started yet"),
        },
    };
    format!("{wae}, {acc}, and {starters}.")
}

fn acceptance_words(c: &Change) -> String {
    if (c.absolute * 100.0).abs() < 2.0 {
        format!("tool acceptance is holding at {}", percent(c.now))
    } else if c.absolute > 0.0 {
        format!(
            "tool acceptance rose from {} to {}",
            percent(c.before),
            percent(c.now)
        )
    } else {
        format!(
            "tool acceptance fell from {} to {}",
            percent(c.before),
            percent(c.now)
        )
    }
}
