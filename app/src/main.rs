//! Scoreboard's page: drop Claude Code exports and a roster, see the adoption
//! trend. Every figure is computed in the browser by `scoreboard-core`;
//! nothing is uploaded.
//!
//! Code map:
//! - `state`: the loaded data, the view (filters), the report memo, dialogs.
//! - `live`: the server's rows and source status when `scoreboard serve` serves the page.
//! - `loader`: files → core's parsers → the table (streamed for large files).
//! - `storage`: IndexedDB / localStorage persistence.
//! - `components`: the page, one module per panel; `charts` draws the SVG charts.
//! - `share`: opening shared snapshots (link, file, URL); `export`: CSV, SVG, PNG downloads.
//! - `util`: formatting, the UTC clock, yielding, benchmark marks.

mod app;
mod charts;
mod components;
mod export;
mod live;
mod live_cache;
mod loader;
mod share;
mod state;
mod storage;
mod util;

// Two attributes, not `all(test, …)`: clippy treats only `cfg(test)` as test code.
#[cfg(test)]
#[cfg(target_arch = "wasm32")]
mod test_support;

fn main() {
    console_error_panic_hook::set_once();
    leptos::mount::mount_to_body(app::App);
}
