//! What the tests of several crates share, so each exists once:
//!
//! - [`anthropic`]: a fake of Anthropic's Admin API and Enterprise Analytics
//!   API on 127.0.0.1, faithful to `reference/sources.md` §1 and §3, with
//!   scripted faults and a log of every request; and the records it serves.
//! - [`otlp`]: Claude Code's OTLP requests: the captured sessions of
//!   `fixtures/otlp/`, decoded, restamped as other people and days, encoded
//!   again (JSON or protobuf, gzip or not), and protobuf exports built from
//!   scratch.
//! - [`rng`]: the small deterministic generator the load tests and
//!   benchmarks draw from, so a run can be replayed.
//!
//! Used by server, otlp and e2e tests and by `bench/`; never by core, otlp,
//! server or app themselves, so it is in no release build.
// A broken fake or fixture is a failed test (or benchmark), said at once.
#![allow(clippy::unwrap_used, clippy::expect_used)]

pub mod anthropic;
pub mod otlp;
pub mod rng;
