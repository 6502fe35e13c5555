//! The window of weeks and the team: every figure, chart and table follows them.

use leptos::prelude::*;
use scoreboard_core::week;

use crate::state::{ctx, WindowChoice, WINDOW_CHOICES};
use crate::util;

#[component]
pub fn Filters() -> impl IntoView {
    let ctx = ctx();
    let view_ = ctx.view;
    let Some(report) = ctx.shown_report() else {
        return ().into_any();
    };
    let on_window = move |ev| {
        let v = event_target_value(&ev);
        if let Some(choice) = WindowChoice::from_key(&v) {
            view_.update(|s| {
                s.window = choice;
                if choice == WindowChoice::Custom && s.from.is_none() {
                    // Start the custom range from what is shown now.
                    let w = &report.get_untracked().window;
                    s.from = Some(w.from);
                    s.to = Some(w.to);
                }
            });
        }
    };
    let on_team = move |ev| {
        let v = event_target_value(&ev);
        view_.update(|s| s.team = if v.is_empty() { None } else { Some(v) });
    };
    let teams = move || report.with(|r| r.teams.clone());
    let no_teams = move || teams().is_empty();
    let custom = move || view_.with(|s| s.window == WindowChoice::Custom);
    let shown = move || {
        report.with(|r| {
            let w = &r.window;
            let first = week::iso_label(w.from);
            let last = week::iso_label(w.to);
            let partial = r.weeks.last().is_some_and(|x| !x.complete);
            format!(
                "{} ({} to {}{}), {} to {} UTC",
                if first == last {
                    first.clone()
                } else {
                    format!("{first} – {last}")
                },
                w.from,
                w.to,
                if partial {
                    ", the last week still in progress"
                } else {
                    ""
                },
                util::plural(r.weeks.len() as u64, "week", "weeks"),
                w.as_of
            )
        })
    };
    let shown_short = move || {
        report.with(|r| {
            let w = &r.window;
            // "Last 8 weeks" means 8 complete weeks; the week in progress is
            // shown too (drawn as partial), and this line says so.
            let complete = r.weeks.iter().filter(|x| x.complete).count() as u64;
            let in_progress = if complete < r.weeks.len() as u64 {
                " and the week in progress"
            } else {
                ""
            };
            format!(
                "Showing {}{in_progress} from {} to {}, as of {} (UTC).",
                util::plural(complete, "complete week", "complete weeks"),
                w.from,
                w.to,
                w.as_of
            )
        })
    };
    view! {
        <section class="filters" aria-label="What the dashboard shows">
            <div class="filter">
                <label for="window-select">"Weeks"</label>
                <select id="window-select" on:change=on_window prop:value=move || view_.with(|s| s.window.key())>
                    {WINDOW_CHOICES.iter().map(|(c, key, label)| view! {
                        <option value=*key selected=move || view_.with(|s| s.window == *c)>{*label}</option>
                    }).collect_view()}
                </select>
            </div>
            <Show when=custom>
                <div class="filter">
                    <label for="window-from">"From"</label>
                    <input id="window-from" type="date"
                        prop:value=move || view_.with(|s| s.from.map(|d| d.to_string()).unwrap_or_default())
                        on:change=move |ev| { let d = util::day_or_none(&event_target_value(&ev)); view_.update(|s| s.from = d); }/>
                </div>
                <div class="filter">
                    <label for="window-to">"To"</label>
                    <input id="window-to" type="date"
                        prop:value=move || view_.with(|s| s.to.map(|d| d.to_string()).unwrap_or_default())
                        on:change=move |ev| { let d = util::day_or_none(&event_target_value(&ev)); view_.update(|s| s.to = d); }/>
                </div>
            </Show>
            <div class="filter">
                <label for="team-select">"Team"</label>
                <select id="team-select" on:change=on_team disabled=no_teams
                    title=move || if no_teams() { "Load a roster with a team column to filter by team" } else { "" }
                    prop:value=move || view_.with(|s| s.team.clone().unwrap_or_default())>
                    <option value="">"All teams"</option>
                    {move || teams().into_iter().map(|t| {
                        let t2 = t.clone();
                        view! { <option value=t.clone() selected=move || view_.with(|s| s.team.as_deref() == Some(t2.as_str()))>{t.clone()}</option> }
                    }).collect_view()}
                </select>
            </div>
            <p class="window-shown" title=shown>{shown_short}</p>
        </section>
    }
    .into_any()
}
