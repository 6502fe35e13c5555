//! The page's panels. Each reads the shared [`crate::state::Ctx`].
//!
//! Panels the first screen does not show (below the fold, dialogs opened by a
//! click, the shared and embedded pages, live mode's set-up views) are built
//! by `#[lazy]` functions: the page's release build (`split` feature, set in
//! index.html) cuts each into its own wasm module, fetched the first time the
//! panel is shown (scripts/wasm-split.sh; ARCHITECTURE.md, "Lazily loaded
//! views"). Other builds (tests, `cargo check`) call them directly.

/// `lazily!(f(args))`: the view `f(args)` builds, where `f` is a
/// `#[cfg_attr(feature = "split", leptos::lazy)] fn … -> Build`. With the
/// split, "Loading…" shows until `f`'s module has arrived; otherwise `f` is
/// an ordinary function and is called at once.
macro_rules! lazily {
    ($f:ident($($arg:expr),* $(,)?)) => {{
        #[cfg(feature = "split")]
        let view = $crate::components::lazy_view($f($($arg),*));
        #[cfg(not(feature = "split"))]
        let view = ($f($($arg),*))();
        view
    }};
}

/// What a lazily loaded function gives: the way to build its view. The view is
/// built here, as an ordinary dynamic child of the page, not inside the load's
/// future: built there, it lived under an owner that a `Show` turning false
/// (clearing all data) disposed while its effects could still run, and the
/// page panicked ("a reactive value that has already been disposed").
pub type Build = std::rc::Rc<dyn Fn() -> leptos::prelude::AnyView>;

/// "Loading…" until `load` (a lazily loaded function's call) gives the way to
/// build the view, then the view (a slow network makes the wait visible).
#[cfg(feature = "split")]
pub fn lazy_view(
    load: impl std::future::Future<Output = Build> + 'static,
) -> leptos::prelude::AnyView {
    use leptos::prelude::*;
    let built = RwSignal::new_local(None::<Build>);
    leptos::task::spawn_local(async move {
        let build = load.await;
        // The view may be gone meanwhile (its panel closed): then nothing to show.
        let _ = built.try_set(Some(build));
    });
    (move || match built.get() {
        Some(build) => build(),
        None => view! { <p class="loading-view" role="status">"Loading…"</p> }.into_any(),
    })
    .into_any()
}

/// A section below the first screen, built `step` frames after it is
/// mounted. The dashboard appears after a file's import or a reload all at
/// once; built in one go, the first screen and every section under it made
/// one main-thread task of 60–100 ms at 100 k rows. Staged, the first screen
/// is painted first and each later section is built in a frame of its own.
#[leptos::component]
pub fn Later(step: u8, children: leptos::prelude::ChildrenFn) -> impl leptos::prelude::IntoView {
    use leptos::prelude::*;
    let shown = RwSignal::new(false);
    leptos::task::spawn_local(async move {
        for _ in 0..step {
            crate::util::next_frame().await;
        }
        // The section may be gone meanwhile (data cleared): nothing to show.
        let _ = shown.try_set(true);
        // Where each section's build starts, for `BENCH_TRACE` profiles.
        crate::util::mark(&format!("scoreboard:section-{step}"));
    });
    view! { <Show when=move || shown.get()>{children()}</Show> }
}

/// The frame, counted from the dashboard's first, in which each of its
/// sections is built (`Later`): one section a frame. Two sections built in
/// one frame (a chart and the teams table, a chart and data health, …)
/// made frames of 50-64 ms at 10 k and 100 k rows; one is 25-45 ms.
pub mod frame {
    pub const NOTES: u8 = 1;
    /// The section's head; its charts follow, one a frame.
    pub const CHARTS: u8 = 2;
    pub const TEAMS: u8 = CHARTS + super::dashboard::CHARTS.len() as u8 + 1;
    pub const DOWNLOADS: u8 = TEAMS + 1;
    /// The power users; the people's other lists and the table follow, one
    /// a frame (`people::PEOPLE_FRAMES`), then the table's rows.
    pub const PEOPLE: u8 = DOWNLOADS + 1;
    pub const HEALTH: u8 = PEOPLE + super::people::PEOPLE_FRAMES + 1;
    pub const DEFINITIONS: u8 = HEALTH + 1;
}

/// Starts fetching the modules of the dashboard's lazily loaded sections
/// (once a page's life): called when the user is about to pick files, once
/// the engine has started (`loader::warm_engine`), or else when data is on
/// its way (an import started, data read back), so they have arrived when
/// the dashboard first shows instead of all in its first frames.
pub fn preload_dashboard(ctx: crate::state::Ctx) {
    use leptos::prelude::{GetValue, SetValue};
    if ctx.jobs.dashboard_preloaded.get_value() {
        return;
    }
    ctx.jobs.dashboard_preloaded.set_value(true);
    #[cfg(feature = "split")]
    {
        leptos::task::spawn_local(async {
            dashboard::preload().await;
            teams::preload().await;
            downloads::preload().await;
            people::preload().await;
            health::preload().await;
            definitions::preload().await;
        });
    }
}

pub mod cards;
pub mod connect;
pub mod dashboard;
pub mod definitions;
pub mod dialogs;
pub mod downloads;
pub mod embed;
pub mod filters;
pub mod health;
pub mod load;
pub mod people;
pub mod rollout;
pub mod share_dialog;
pub mod shared_page;
pub mod sources;
pub mod teams;
