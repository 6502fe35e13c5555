//! `make bench` (issue 7): measures page weight, import speed in a real
//! browser with DuckDB-WASM beside it, the engine natively with polars beside
//! it, telemetry ingest, the Admin API backfill, server memory, and (issue 11)
//! memory and latency under hostile clients, and writes
//! `BENCHMARKS.md` and `bench/results.json`.
//!
//! Every part drives the real artefacts: the `scoreboard` release binary on
//! 127.0.0.1, the Trunk-built `dist/`, Debian's Chromium through chromedriver.
//! Only Anthropic's API is faked (the tests' fake from
//! `scoreboard-test-support`, faithful to `reference/sources.md`), with
//! 100 ms added to every answer.

pub mod backfill;
pub mod browser;
pub mod generate;
pub mod hostile;
pub mod ingest;
pub mod native;
pub mod proc;
pub mod report;
pub mod rows1m;
pub mod stats;
pub mod weight;

/// Errors of a benchmark part: a message a person can act on.
pub type Result<T> = std::result::Result<T, String>;

/// `e.to_string()` with some context, for `map_err`.
pub fn ctx<E: std::fmt::Display>(what: impl std::fmt::Display) -> impl FnOnce(E) -> String {
    move |e| format!("{what}: {e}")
}
