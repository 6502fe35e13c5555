//! Scoreboard's page: drop Claude Code exports and a roster, see the adoption
//! trend. Every figure is computed in the browser by `scoreboard-core`;
//! nothing is uploaded.
//!
//! Code map, in import order (a module imports only those above it; see
//! ARCHITECTURE.md, held by `test-support/tests/import_cycles.rs`):
//! - `engine_msg`: the messages between the page and its engine worker
//!   (`src/bin/engine_worker.rs`, which compiles the same file).
//! - `util`: formatting, the UTC clock, URL parameters, yielding, benchmark marks.
//! - `error`: the page's typed errors (fetch, storage, export).
//! - `engine`: the page's handle on the engine worker (started on the first import).
//! - `http`: every request to the server, read into `core::api` types.
//! - `live_cache`: the server's rows asked for incrementally (compact, `ETag`,
//!   cursor) and encoded for keeping in IndexedDB.
//! - `state`: plain types: the loaded data, the view (filters), the live rows,
//!   the import jobs, and `Ctx`, the signals every component reads.
//! - `storage`: IndexedDB / localStorage persistence.
//! - `loader`: files → core's parsers → the table (streamed for large files).
//! - `live`: the server's rows and source status when `scoreboard serve` serves the page.
//! - `shared_view`: opening shared snapshots (link, file, URL), and link helpers.
//! - `export`: CSV, SVG, PNG downloads; `charts` draws the SVG charts.
//! - `components`: the page, one module per panel.
//! - `app`: builds the `Ctx` (the one place), picks page or embed, loads the data.

mod app;
mod backend;
mod charts;
mod components;
mod engine;
mod engine_msg;
mod engine_state;
mod engine_store;
mod error;
mod export;
mod http;
mod idb;
mod live;
mod live_cache;
mod loader;
mod shared_view;
mod state;
mod storage;
mod table_store;
mod util;

// Two attributes, not `all(test, …)`: clippy treats only `cfg(test)` as test code.
#[cfg(test)]
#[cfg(target_arch = "wasm32")]
mod test_support;

fn main() {
    console_error_panic_hook::set_once();
    leptos::mount::mount_to_body(app::App);
}
