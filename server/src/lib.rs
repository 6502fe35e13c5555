//! The `scoreboard` command's library: configuration, the SQLite store, the
//! Anthropic API clients and their sync, the HTTP API the page reads, access
//! tokens, and the `report` command.
//!
//! Code map:
//! - [`config`]: settings (TOML + flags + `SCOREBOARD_*`), secrets from the environment only.
//! - [`store`]: the SQLite file (rows per source, sync state, directory, tokens,
//!   share snapshots): all of the server's SQL.
//! - [`upstream`]: HTTP client for Anthropic's APIs (retries, breaker) and the
//!   Admin / Enterprise endpoints.
//! - [`sync`]: the background backfill and periodic syncs; source status.
//! - [`error`]: `ApiError` and `blocking()`; [`state`]: `AppState` and the
//!   substates it hands the gates and snapshots (`FromRef`); [`clock`]: the injected "now".
//! - [`load`]: the rows and roster every answer reads.
//! - [`api`]: `fn app(state) -> Router`: `/api/*`, the page, telemetry routes.
//! - [`auth`]: who may read (`ReadAccess`), who is asking (`Actor`), who may send telemetry.
//! - [`guard`]: the `Host` allow-list, same-origin writes, security headers.
//! - [`listen`]: the accept loop: header timeout, connection caps.
//! - [`refusals`]: refused requests counted per reason and token, logged at a bounded rate.
//! - [`tokens`]: hashed ingest/viewer tokens and the telemetry snippets.
//! - [`report`]: `scoreboard report` (and the digest's Markdown).
//! - [`imports`]: the exports folder (`serve --imports DIR`), read again when it changes.
//! - [`digest`]: the weekly digest: `scoreboard digest` and `serve`'s schedule.
//! - [`snapshots`]: frozen share snapshots stored under unguessable ids.
//! - [`serve`], [`cli`]: start-up and the command line.
//!
//! Invariants: keys live in [`config::Secret`] (no Display, redacted Debug)
//! and reach only the `x-api-key` header; a request is never blocked on a
//! sync; a failed sync leaves stored rows untouched and says so in the status.

// Tests may unwrap: a panic there is a failed test, not a crash on input.
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

pub mod api;
pub mod auth;
pub mod check;
pub mod cli;
pub mod clock;
pub mod config;
pub mod digest;
pub mod endpoint;
pub mod error;
pub mod feeds;
pub mod guard;
pub mod imports;
pub mod listen;
pub mod load;
pub mod refusals;
pub mod report;
pub mod rollout;
pub mod roster_file;
pub mod rows;
pub mod schedule;
pub mod serve;
pub mod snapshots;
pub mod state;
pub mod store;
pub mod sync;
pub mod tokens;
pub mod upstream;
