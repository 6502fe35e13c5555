//! The `scoreboard` command's library: configuration, the SQLite store, the
//! Anthropic API clients and their sync, the HTTP API the page reads, access
//! tokens, and the `report` command.

pub mod config;
pub mod store;
pub mod tokens;
pub mod upstream;
