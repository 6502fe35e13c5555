//! Browser end-to-end tests for Scoreboard.
//!
//! The tests in `tests/*.rs` drive the real `scoreboard serve` binary and the site
//! Trunk built into `dist/`, in headless Chromium over WebDriver, through the small
//! [`harness`]. `make test` builds both first and passes their paths in
//! `SCOREBOARD_BIN` and `SCOREBOARD_DIST`.

pub mod embed;
pub mod harness;
pub mod telemetry;
