//! The CSV downloads under the charts: the weekly series and the people
//! table, written by core (`share::weeks_csv`, `share::people_csv`).

use leptos::prelude::*;
use scoreboard_core::metrics::Report;
use scoreboard_core::share;

use crate::error::ExportError;
use crate::export;
use crate::state::ctx;

fn window_stem(r: &Report) -> String {
    format!("{}-to-{}", r.window.from, r.window.to)
}

/// CSV downloads of the weekly series and the people table.
/// Below the fold, with the export code: a module of its own, loaded when first shown.
#[component]
pub fn Downloads() -> impl IntoView {
    lazily!(downloads_panel())
}

/// Fetches [`downloads_panel`]'s module (`super::preload_dashboard`).
#[cfg(feature = "split")]
pub async fn preload() {
    __preload_downloads_panel().await;
}

#[cfg_attr(feature = "split", leptos::lazy)]
fn downloads_panel() -> super::Build {
    std::rc::Rc::new(|| view! { <DownloadsPanel /> }.into_any())
}

#[component]
fn DownloadsPanel() -> impl IntoView {
    let Some(r) = ctx().shown_report() else {
        return ().into_any();
    };
    let weeks = move |_| {
        let (name, text) = r.with(|r| {
            (
                format!("scoreboard-weeks-{}.csv", window_stem(r)),
                share::weeks_csv(r),
            )
        });
        alert_on_error(export::download_text(&name, "text/csv", &text));
    };
    let people = move |_| {
        let (name, text) = r.with(|r| {
            (
                format!("scoreboard-people-{}.csv", window_stem(r)),
                share::people_csv(r),
            )
        });
        alert_on_error(export::download_text(&name, "text/csv", &text));
    };
    let has_people = move || r.with(|r| !r.people.is_empty());
    view! {
        <section class="downloads" aria-label="Downloads">
            <span class="hint">"Download as CSV (for a spreadsheet): "</span>
            <button id="export-weeks-csv" class="btn quiet small" on:click=weeks>"Weekly figures"</button>
            <Show when=has_people>
                <button id="export-people-csv" class="btn quiet small" on:click=people>"People table"</button>
            </Show>
            <span class="hint">" Each chart has its own SVG and PNG download."</span>
        </section>
    }
    .into_any()
}

/// Tells the user, when a download could not be made, why.
pub fn alert_on_error(r: Result<(), ExportError>) {
    if let Err(e) = r {
        if let Some(w) = web_sys::window() {
            let _ = w.alert_with_message(&format!("The download could not be made: {e}"));
        }
    }
}
