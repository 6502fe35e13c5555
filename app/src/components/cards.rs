//! The answer cards: one figure of the reference week each, with its change
//! from the week before (absolute and relative, coloured by what the change
//! means and never by colour alone: ▲ ▼ and words), its definition one click
//! away, and a small trend line of the last weeks.
//!
//! A card draws a [`CardView`] and computes nothing. `dashboard::cards`
//! fills the views from core's `Report`; the change is built by
//! [`Change::between`] from two of core's figures until core gives a change
//! of its own (value, relative change, meaning), which then fills the same
//! fields.

use leptos::prelude::*;
use scoreboard_core::metrics::Figure;

use crate::charts::Sparkline;
use crate::components::definitions::Info;
use crate::util::{self, DASH};

/// What a rise of a figure means for the question "are more engineers
/// getting more value?".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Meaning {
    Good,
    Bad,
    /// Neither: cost is shown neutral, more spend is not worse by itself.
    Neutral,
}

impl Meaning {
    fn class(self) -> &'static str {
        match self {
            Meaning::Good => "good",
            Meaning::Bad => "bad",
            Meaning::Neutral => "neutral",
        }
    }

    /// The meaning in words, for screen readers and the tooltip (colour is never alone).
    fn words(self) -> &'static str {
        match self {
            Meaning::Good => "good",
            Meaning::Bad => "not good",
            Meaning::Neutral => "neither good nor bad",
        }
    }

    fn opposite(self) -> Meaning {
        match self {
            Meaning::Good => Meaning::Bad,
            Meaning::Bad => Meaning::Good,
            Meaning::Neutral => Meaning::Neutral,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Up,
    Down,
    Flat,
}

impl Direction {
    fn of(d: f64) -> Direction {
        if d > 1e-9 {
            Direction::Up
        } else if d < -1e-9 {
            Direction::Down
        } else {
            Direction::Flat
        }
    }

    fn class(self) -> &'static str {
        match self {
            Direction::Up => "up",
            Direction::Down => "down",
            Direction::Flat => "flat",
        }
    }

    fn arrow(self) -> &'static str {
        match self {
            Direction::Up => "▲",
            Direction::Down => "▼",
            Direction::Flat => "=",
        }
    }

    fn words(self) -> &'static str {
        match self {
            Direction::Up => "Up",
            Direction::Down => "Down",
            Direction::Flat => "No change",
        }
    }
}

/// How a figure is written in a change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// People, sessions, lines: "+3 (+27 %)".
    Count,
    /// A rate: the change in percentage points, "−1.2 pts" (a relative change of a rate misleads).
    Rate,
    /// US dollars: "+$2.10 (+5 %)".
    Usd,
}

/// A card's change from the week before.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub direction: Direction,
    pub meaning: Meaning,
    /// "+3 (+27 %)".
    pub text: String,
    /// The exact difference for tests and tools (`data-value`).
    pub raw: String,
    /// What it is compared with: "vs week of 9 Nov".
    pub against: String,
}

impl Change {
    /// The change from `before` to `now`; `rise` is what a rise means for
    /// this figure. `raw` is the difference as tools read it.
    pub fn between(
        now: f64,
        before: f64,
        unit: Unit,
        rise: Meaning,
        raw: String,
        against: String,
    ) -> Change {
        let d = now - before;
        // What counts as no change: the figure as written, after rounding.
        let shown = match unit {
            Unit::Count => d.round(),
            Unit::Rate => (d * 1000.0).round(),
            Unit::Usd => (d * 100.0).round(),
        };
        let direction = Direction::of(shown);
        let meaning = match direction {
            Direction::Up => rise,
            Direction::Down => rise.opposite(),
            Direction::Flat => Meaning::Neutral,
        };
        let sign = if d < 0.0 { "−" } else { "+" };
        let abs = match unit {
            Unit::Count => util::signed_int(d.round() as i64),
            Unit::Rate => format!("{sign}{:.1} pts", (d * 100.0).abs()),
            Unit::Usd => format!("{sign}{}", util::usd(d.abs())),
        };
        let text = match (unit, direction) {
            (_, Direction::Flat) => "no change".to_string(),
            (Unit::Rate, _) => abs,
            (_, _) => format!("{abs} ({})", relative(d, before)),
        };
        Change {
            direction,
            meaning,
            text,
            raw,
            against,
        }
    }
}

/// A relative change in whole percent ("+27 %"); from 0 there is none.
fn relative(d: f64, before: f64) -> String {
    if before.abs() < 1e-12 {
        return "from 0".to_string();
    }
    let r = d / before.abs() * 100.0;
    let sign = if r < 0.0 { "−" } else { "+" };
    if r.abs() < 1.0 {
        format!("{sign}<1 %")
    } else {
        format!("{sign}{:.0} %", r.abs())
    }
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
    /// A second figure under the value, shown on every screen (adoption).
    pub sub: Option<String>,
    /// The change, or why there is none to show.
    pub change: Result<Change, String>,
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
            change: Err(String::new()),
            note: reason.to_string(),
            trend: Vec::new(),
            trend_label: String::new(),
        }
    }
}

#[component]
pub fn KpiCard(card: CardView) -> impl IntoView {
    let (direction, meaning) = match &card.change {
        Ok(c) => (c.direction.class(), c.meaning.class()),
        Err(_) => ("none", "none"),
    };
    let change = match card.change {
        Ok(c) => {
            let title = format!(
                "{} from the {}: {}.",
                c.direction.words(),
                c.against.trim_start_matches("vs "),
                c.meaning.words()
            );
            view! {
                <p class=format!("delta {direction} {meaning}") data-value=c.raw title=title>
                    <span class="arrow" aria-hidden="true">{c.direction.arrow()}</span>" "
                    <span class="change">{c.text}</span>
                    <span class="against">" "{c.against}</span>
                    <span class="sr-only">{format!(" ({})", c.meaning.words())}</span>
                </p>
            }
            .into_any()
        }
        Err(why) => view! { <p class="delta none" data-value="">{why}</p> }.into_any(),
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
            {card.sub.map(|s| view! { <p class="sub">{s}</p> })}
            {change}
            <p class="note">{card.note}</p>
        </article>
    }
}
