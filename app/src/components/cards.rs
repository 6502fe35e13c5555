//! The answer cards: one figure of the reference week each, with its change
//! from the week before (absolute and relative, coloured by what the change
//! means and never by colour alone: ▲ ▼ and words), its definition one click
//! away, and a small trend line of the last weeks.
//!
//! A card draws a [`CardView`] and computes nothing: the values and the
//! changes are core's (`Report.kpis.cards`); [`ChangeView::of`] only writes
//! core's [`Change`] in words ("+3 (+27 %)", "−1.2 pts").

use leptos::prelude::*;
use scoreboard_core::metrics::{Change, Direction, Figure, Meaning, Unit};

use crate::charts::Sparkline;
use crate::components::definitions::Info;
use crate::util::{self, DASH};

pub fn meaning_class(m: Meaning) -> &'static str {
    match m {
        Meaning::Good => "good",
        Meaning::Bad => "bad",
        Meaning::Neutral => "neutral",
    }
}

/// The meaning in words, for screen readers and the tooltip (colour is never alone).
fn meaning_words(m: Meaning) -> &'static str {
    match m {
        Meaning::Good => "good",
        Meaning::Bad => "not good",
        Meaning::Neutral => "neither good nor bad",
    }
}

pub fn direction_class(d: Direction) -> &'static str {
    match d {
        Direction::Up => "up",
        Direction::Down => "down",
        Direction::Same => "flat",
    }
}

pub fn arrow(d: Direction) -> &'static str {
    match d {
        Direction::Up => "▲",
        Direction::Down => "▼",
        Direction::Same => "=",
    }
}

fn direction_words(d: Direction) -> &'static str {
    match d {
        Direction::Up => "Up",
        Direction::Down => "Down",
        Direction::Same => "No change",
    }
}

/// A card's change from the week before, or why there is none to show.
#[derive(Debug, Clone, PartialEq)]
pub enum CardChange {
    Shown(ChangeView),
    /// Why there is no change (empty when the card says why it has no figure).
    Missing(String),
}

/// A change as the page writes it.
#[derive(Debug, Clone, PartialEq)]
pub struct ChangeView {
    pub direction: Direction,
    pub meaning: Meaning,
    /// "+3 (+27 %)".
    pub text: String,
    /// The exact difference for tests and tools (`data-value`): a whole
    /// number for counts, four decimals otherwise.
    pub raw: String,
    /// What it is compared with: "vs week of 9 Nov".
    pub against: String,
}

impl ChangeView {
    /// Core's change of `figure`, in words.
    pub fn of(figure: Figure, c: &Change, against: String) -> ChangeView {
        let unit = figure.unit();
        ChangeView {
            direction: c.direction,
            meaning: c.meaning,
            text: change_text(unit, c),
            raw: match unit {
                Unit::Count => (c.absolute.round() as i64).to_string(),
                _ => format!("{:.4}", c.absolute),
            },
            against,
        }
    }
}

/// "+3 (+27 %)", "+$2.10 (+5 %)", "+1.5 (+12 %)", "−1.2 pts" (a relative
/// change of a rate misleads, so a rate's change is in points).
pub fn change_text(unit: Unit, c: &Change) -> String {
    if c.direction == Direction::Same {
        return "no change".to_string();
    }
    let d = c.absolute;
    let sign = if d < 0.0 { "−" } else { "+" };
    let abs = match unit {
        Unit::Count => util::signed_int(d.round() as i64),
        Unit::Rate => return format!("{sign}{:.1} pts", (d * 100.0).abs()),
        Unit::PerEngineer => format!("{sign}{:.1}", d.abs()),
        Unit::Usd => format!("{sign}{}", util::usd(d.abs())),
    };
    format!("{abs} ({})", relative(c.relative))
}

/// A relative change in whole percent ("+27 %"); from 0 there is none.
fn relative(r: Option<f64>) -> String {
    let Some(r) = r else {
        return "from 0".to_string();
    };
    let p = r * 100.0;
    let sign = if p < 0.0 { "−" } else { "+" };
    if p.abs() < 1.0 {
        format!("{sign}<1 %")
    } else {
        format!("{sign}{:.0} %", p.abs())
    }
}

/// A second figure under a card's value (adoption, per active engineer),
/// with its own definition.
#[derive(Debug, Clone, PartialEq)]
pub struct Sub {
    pub text: String,
    pub figure: Figure,
    /// Element id for tests and tools.
    pub id: &'static str,
    /// The exact figure (`data-value`), empty when undefined.
    pub raw: String,
}

/// Everything one card shows.
#[derive(Debug, Clone, PartialEq)]
pub struct CardView {
    /// Element id (`kpi-wae`, …): tests and the share link read the figures by it.
    pub id: &'static str,
    pub label: &'static str,
    /// Whose definition the (i) opens.
    pub figure: Figure,
    /// The figure as written, or "—".
    pub value: String,
    /// The exact figure for tests and tools (`data-value`), empty when undefined.
    pub raw: String,
    /// A second figure under the value, shown on every screen.
    pub sub: Option<Sub>,
    /// The change, or why there is none to show.
    pub change: CardChange,
    /// One line of context (what it counts, why it is "—"); on wide screens only.
    pub note: String,
    /// The last weeks' values, oldest first (the trend line; wide screens only).
    pub trend: Vec<Option<f64>>,
    /// The trend in words (the trend line's title).
    pub trend_label: String,
}

impl CardView {
    /// A card whose figure cannot be computed: "—" and the reason, never 0.
    pub fn undefined(
        id: &'static str,
        label: &'static str,
        figure: Figure,
        reason: &str,
    ) -> CardView {
        CardView {
            id,
            label,
            figure,
            value: DASH.into(),
            raw: String::new(),
            sub: None,
            change: CardChange::Missing(String::new()),
            note: reason.to_string(),
            trend: Vec::new(),
            trend_label: String::new(),
        }
    }
}

#[component]
pub fn KpiCard(card: CardView) -> impl IntoView {
    let (direction, meaning) = match &card.change {
        CardChange::Shown(c) => (direction_class(c.direction), meaning_class(c.meaning)),
        CardChange::Missing(_) => ("none", "none"),
    };
    let change = match card.change {
        CardChange::Shown(c) => {
            let title = format!(
                "{} from the {}: {}.",
                direction_words(c.direction),
                c.against.trim_start_matches("vs "),
                meaning_words(c.meaning)
            );
            view! {
                <p class=format!("delta {direction} {meaning}") data-value=c.raw title=title>
                    <span class="arrow" aria-hidden="true">{arrow(c.direction)}</span>" "
                    <span class="change">{c.text}</span>
                    <span class="against">" "{c.against}</span>
                    <span class="sr-only">{format!(" ({})", meaning_words(c.meaning))}</span>
                </p>
            }
            .into_any()
        }
        CardChange::Missing(why) => {
            view! { <p class="delta none" data-value="">{why}</p> }.into_any()
        }
    };
    let spark = (card.trend.iter().flatten().count() >= 2)
        .then(|| view! { <Sparkline values=card.trend label=card.trend_label/> });
    let figure = card.figure;
    view! {
        <article class="kpi" id=card.id data-direction=direction data-meaning=meaning>
            <header>
                <h3>{card.label}</h3>
                <Info figure/>
            </header>
            <div class="kpi-main">
                <p class="value" data-value=card.raw>{card.value}</p>
                {spark}
            </div>
            {card.sub.map(|s| {
                let figure = s.figure;
                view! {
                    <div class="sub" id=s.id data-value=s.raw>
                        <span>{s.text}</span>
                        <Info figure/>
                    </div>
                }
            })}
            {change}
            <p class="note">{card.note}</p>
        </article>
    }
}
