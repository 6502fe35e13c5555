//! Where the server gets "now": one injected clock, so tests pin time and
//! every module (handlers, refusals, snapshots) reads the same one. A leaf.

use std::sync::Arc;

use chrono::{DateTime, Utc};

/// Where handlers get "now" (tests pin it; the server uses the system clock).
pub type Clock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

/// The system clock, the server's.
pub fn system() -> Clock {
    Arc::new(Utc::now)
}
