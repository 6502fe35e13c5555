//! Every figure's definition one click (or hover) away, from core's
//! `DEFINITIONS`: formula, numerator, denominator, when it is undefined.

use leptos::prelude::*;
use scoreboard_core::metrics::{definition, Definition, Figure, DEFINITIONS};

/// The id of a definition on the page (`def-acceptance_rate`).
fn anchor(f: Figure) -> &'static str {
    match f {
        Figure::ActiveEngineers => "def-active_engineers",
        Figure::AdoptionRate => "def-adoption_rate",
        Figure::Sessions => "def-sessions",
        Figure::SessionsPerActiveEngineer => "def-sessions_per_active_engineer",
        Figure::LinesPerActiveEngineer => "def-lines_per_active_engineer",
        Figure::LinesAccepted => "def-lines_accepted",
        Figure::AcceptanceRate => "def-acceptance_rate",
        Figure::Cost => "def-cost",
        Figure::CostPerActiveEngineer => "def-cost_per_active_engineer",
        Figure::NonStarters => "def-non_starters",
        Figure::Tiers => "def-tiers",
    }
}

fn body(d: &'static Definition) -> impl IntoView {
    view! {
        <dl class="def-body">
            <div><dt>"Formula"</dt><dd>{d.formula}</dd></div>
            <div><dt>"Counts"</dt><dd>{d.numerator}</dd></div>
            {d.denominator.map(|x| view! { <div><dt>"Divided by"</dt><dd>{x}</dd></div> })}
            {d.undefined_when.map(|x| view! { <div><dt>"Shown as “—” when"</dt><dd>{x}</dd></div> })}
        </dl>
    }
}

/// A small "i" that opens the definition of a figure (hover shows the formula).
#[component]
pub fn Info(figure: Figure) -> impl IntoView {
    let d = definition(figure);
    view! {
        <details class="info">
            <summary title=d.formula aria-label=format!("How is “{}” counted?", d.label)>
                <span aria-hidden="true">"i"</span>
            </summary>
            <div class="popover" role="note">
                <p class="def-title">{d.label}</p>
                {body(d)}
            </div>
        </details>
    }
}

/// All definitions, at the foot of the dashboard.
/// Below the fold: its code is a module of its own, loaded when it is first shown.
#[component]
pub fn DefinitionList() -> impl IntoView {
    lazily!(definition_panel())
}

/// Fetches [`definition_panel`]'s module (`super::preload_dashboard`).
#[cfg(feature = "split")]
pub async fn preload() {
    __preload_definition_panel().await;
}

#[cfg_attr(feature = "split", leptos::lazy)]
fn definition_panel() -> super::Build {
    std::rc::Rc::new(|| view! { <DefinitionPanel /> }.into_any())
}

#[component]
fn DefinitionPanel() -> impl IntoView {
    view! {
        <section id="definitions" class="panel definitions" aria-labelledby="definitions-title">
            <h2 id="definitions-title">"How every figure is counted"</h2>
            <p class="explain">
                "All figures follow one set of rules, the same in this page and in the `scoreboard report` command. "
                "Weeks are ISO weeks (Monday to Sunday, UTC). Rates are ratios of sums over the period, never averages "
                "of daily rates. A figure that cannot be computed shows “—” and says why, instead of 0."
            </p>
            <div class="def-grid">
                {DEFINITIONS.iter().map(|d| view! {
                    <article class="def" id=anchor(d.figure)>
                        <h3>{d.label}</h3>
                        {body(d)}
                    </article>
                }).collect_view()}
            </div>
        </section>
    }
}
