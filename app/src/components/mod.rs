//! The page's panels. Each reads the shared [`crate::state::Ctx`].
//!
//! Panels the first screen does not show (below the fold, dialogs opened by a
//! click, the shared and embedded pages, live mode's set-up views) are built
//! by `#[lazy]` functions: the page's release build (`split` feature, set in
//! index.html) cuts each into its own wasm module, fetched the first time the
//! panel is shown (scripts/wasm-split.sh; ARCHITECTURE.md, "Lazily loaded
//! views"). Other builds (tests, `cargo check`) call them directly.

/// `lazily!(f(args))`: the view `f(args)` builds, where `f` is a
/// `#[cfg_attr(feature = "split", leptos::lazy)] fn … -> AnyView`. With the
/// split, "Loading…" shows until `f`'s module has arrived; otherwise `f` is
/// an ordinary function and is called at once.
macro_rules! lazily {
    ($f:ident($($arg:expr),* $(,)?)) => {{
        #[cfg(feature = "split")]
        let view = $crate::components::lazy_view($f($($arg),*));
        #[cfg(not(feature = "split"))]
        let view = $f($($arg),*);
        view
    }};
}

/// The view a lazily loaded function resolves to, in a `Suspense` whose
/// fallback says that it is on its way (a slow network makes it visible).
#[cfg(feature = "split")]
pub fn lazy_view(
    load: impl std::future::Future<Output = leptos::prelude::AnyView> + 'static,
) -> leptos::prelude::AnyView {
    use leptos::prelude::*;
    // The page is single-threaded; `Suspend` asks for a `Send` future.
    let load = send_wrapper::SendWrapper::new(load);
    view! {
        <Suspense fallback=|| view! { <p class="loading-view" role="status">"Loading…"</p> }>
            {Suspend::new(load)}
        </Suspense>
    }
    .into_any()
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
