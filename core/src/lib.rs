//! Scoreboard's core: the canonical person-day table, the source parsers and
//! the metrics engine. Pure Rust: no I/O, no clock, no credentials, no web
//! APIs; it builds for `wasm32-unknown-unknown` and natively, and it is the
//! one place where any number shown to a user is computed.
//!
//! The flow is always the same:
//! bytes → [`parse`] → [`model::DayRow`]s / [`model::PeriodRow`]s →
//! [`table::UsageTable`] (+ [`roster::Roster`]) → [`metrics::compute`] → [`metrics::Report`].

pub mod api;
pub mod coverage;
pub mod metrics;
pub mod model;
pub mod parse;
pub mod prices;
pub mod roster;
pub mod share;
pub mod table;
pub mod telemetry;
pub mod varint;
pub mod week;

pub use coverage::{DayRange, Freshness, SourceCoverage};
pub use metrics::{compute, Report, ReportOptions, WindowSpec};
pub use model::{
    DayRow, MeasureSet, Measures, MicroUsd, ModelUsage, PeriodRow, PersonKey, Problem, Source,
    ToolDecisions,
};
pub use roster::{Roster, RosterEntry};
pub use table::UsageTable;
