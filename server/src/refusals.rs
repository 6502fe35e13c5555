//! Refused requests: counted, persisted and shown instead of logged one by one.
//!
//! Every refusal (a bad or revoked token, an unknown `Host`, a cross-site
//! write, a body too large, a full server…) is counted in memory per UTC
//! hour, door, reason and token, and written to the `refusals` table every
//! few seconds (and before `/api/sources` answers), so a flood costs one
//! small transaction per flush, not one per request. `/api/sources` shows
//! the counts of the last 24 hours and 7 days per reason and per token.
//!
//! The log gets the first refusal of each kind in a minute, then one line
//! saying how many more there were: a flood of bad requests cannot fill
//! the disk or bury the lines that matter.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::store::{RefusalCount, Store, StoreError, TokenRecord};

/// Which door refused the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Area {
    /// Reading the page API (`GET /api/*`).
    Read,
    /// Changing something through the page API (`POST`/`DELETE /api/snapshots`).
    Write,
    /// Telemetry (`POST /v1/*`).
    Ingest,
    /// The connection itself (too many open connections).
    Connection,
}

impl Area {
    pub fn as_str(self) -> &'static str {
        match self {
            Area::Read => "read",
            Area::Write => "write",
            Area::Ingest => "ingest",
            Area::Connection => "connection",
        }
    }
}

/// Why a request was refused. The names are stable (`/api/sources`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    MissingCredential,
    UnknownToken,
    RevokedToken,
    /// A token of another kind (an ingest token reading, a viewer token sending telemetry).
    WrongTokenKind,
    /// A `Host` this server does not answer to (DNS rebinding).
    UnknownHost,
    /// A state-changing request without the page's header, or from another site.
    CrossSite,
    /// Deleting a snapshot someone else stored.
    NotOwner,
    /// A snapshot past the per-person or server-wide quota.
    OverQuota,
    /// More snapshot uploads in a minute than one person may make.
    RateLimited,
    TooLarge,
    BadRequest,
    /// A body that did not arrive within the body timeout.
    SlowBody,
    UnsupportedMediaType,
    /// Shed under load (503 + Retry-After).
    Busy,
    /// More open connections than allowed, in all or from one address.
    ConnectionLimit,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::MissingCredential => "missing_credential",
            Reason::UnknownToken => "unknown_token",
            Reason::RevokedToken => "revoked_token",
            Reason::WrongTokenKind => "wrong_token_kind",
            Reason::UnknownHost => "unknown_host",
            Reason::CrossSite => "cross_site",
            Reason::NotOwner => "not_owner",
            Reason::OverQuota => "over_quota",
            Reason::RateLimited => "rate_limited",
            Reason::TooLarge => "too_large",
            Reason::BadRequest => "bad_request",
            Reason::SlowBody => "slow_body",
            Reason::UnsupportedMediaType => "unsupported_media_type",
            Reason::Busy => "busy",
            Reason::ConnectionLimit => "connection_limit",
        }
    }

    /// The reason in plain words, for the page and the log.
    pub fn describe(name: &str) -> &'static str {
        match name {
            "missing_credential" => "no token or identity sent",
            "unknown_token" => "a token this server does not know",
            "revoked_token" => "a revoked token",
            "wrong_token_kind" => {
                "a token of the wrong kind (e.g. a viewer token sending telemetry)"
            }
            "unknown_host" => "a Host name this server does not answer to (possible DNS rebinding)",
            "cross_site" => "a change requested from another site, or without the page's header",
            "not_owner" => "deleting a snapshot someone else stored",
            "over_quota" => "a snapshot past the storage quota",
            "rate_limited" => "more snapshot uploads in a minute than allowed",
            "too_large" => "a body larger than allowed",
            "bad_request" => "a body that could not be read",
            "slow_body" => "a body that did not arrive in time",
            "unsupported_media_type" => "an unsupported Content-Type or Content-Encoding",
            "busy" => "the server was busy (asked to retry later)",
            "connection_limit" => "too many open connections",
            _ => "another reason",
        }
    }
}

/// How long a refused kind stays quiet in the log after one line.
const LOG_EVERY: Duration = Duration::from_secs(60);
/// Hours of counts kept in the database (the page shows at most 7 days).
const KEEP_HOURS: i64 = 24 * 35;

type Key = (i64, Area, Reason, Option<i64>);

#[derive(Default)]
struct Pending {
    counts: HashMap<Key, (u64, DateTime<Utc>)>,
    log: HashMap<(Area, Reason), LogState>,
}

struct LogState {
    last_line: Instant,
    suppressed: u64,
}

pub struct Refusals {
    store: Arc<Store>,
    pending: Mutex<Pending>,
    clock: crate::clock::Clock,
}

fn hour_of(t: DateTime<Utc>) -> i64 {
    t.timestamp().div_euclid(3600)
}

impl Refusals {
    pub fn new(store: Arc<Store>) -> Refusals {
        Refusals::with_clock(store, Arc::new(Utc::now))
    }

    /// Counts by `clock`'s hours (tests pin it, as they pin the API's).
    pub fn with_clock(store: Arc<Store>, clock: crate::clock::Clock) -> Refusals {
        Refusals {
            store,
            pending: Mutex::new(Pending::default()),
            clock,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Pending> {
        self.pending.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Counts one refused request. `detail` goes to the log (never a token,
    /// never a body); only the first of a kind per minute is logged.
    pub fn record(&self, area: Area, reason: Reason, token: Option<i64>, detail: &str) {
        let now = (self.clock)();
        let mut p = self.lock();
        let e = p
            .counts
            .entry((hour_of(now), area, reason, token))
            .or_insert((0, now));
        e.0 = e.0.saturating_add(1);
        e.1 = now;
        let log = p.log.entry((area, reason)).or_insert(LogState {
            // Ready to log at once.
            last_line: Instant::now() - LOG_EVERY * 2,
            suppressed: 0,
        });
        if log.last_line.elapsed() >= LOG_EVERY {
            let more = std::mem::take(&mut log.suppressed);
            log.last_line = Instant::now();
            drop(p);
            tracing::warn!(
                door = area.as_str(),
                reason = reason.as_str(),
                token_id = token,
                earlier_not_logged = more,
                "request refused: {detail} (further refusals of this kind are counted in /api/sources, logged at most once a minute)"
            );
        } else {
            log.suppressed = log.suppressed.saturating_add(1);
        }
    }

    /// Writes the pending counts (one transaction) and logs how many
    /// refusals went unlogged in the last minute.
    pub fn flush(&self) -> Result<(), StoreError> {
        let (counts, quiet) = {
            let mut p = self.lock();
            let counts = std::mem::take(&mut p.counts);
            let mut quiet = Vec::new();
            for ((area, reason), log) in p.log.iter_mut() {
                if log.suppressed > 0 && log.last_line.elapsed() >= LOG_EVERY {
                    quiet.push((*area, *reason, std::mem::take(&mut log.suppressed)));
                    log.last_line = Instant::now();
                }
            }
            (counts, quiet)
        };
        for (area, reason, n) in quiet {
            tracing::warn!(
                door = area.as_str(),
                reason = reason.as_str(),
                count = n,
                "{n} more requests refused in the last minute ({}); see /api/sources",
                Reason::describe(reason.as_str())
            );
        }
        if counts.is_empty() {
            return Ok(());
        }
        let rows: Vec<RefusalCount> = counts
            .iter()
            .map(|((hour, area, reason, token), (n, last))| RefusalCount {
                hour: *hour,
                area: area.as_str().to_string(),
                reason: reason.as_str().to_string(),
                token_id: *token,
                count: *n,
                last_at: *last,
            })
            .collect();
        let keep = hour_of((self.clock)()) - KEEP_HOURS;
        if let Err(e) = self.store.add_refusals(&rows, keep) {
            // Put them back: the next flush tries again.
            let mut p = self.lock();
            for (k, (n, last)) in counts {
                let e = p.counts.entry(k).or_insert((0, last));
                e.0 = e.0.saturating_add(n);
                e.1 = e.1.max(last);
            }
            return Err(e);
        }
        Ok(())
    }

    /// Flushes every `every` until `stop` turns true, then once more.
    pub async fn run(
        self: Arc<Self>,
        every: Duration,
        mut stop: tokio::sync::watch::Receiver<bool>,
    ) {
        loop {
            tokio::select! {
                _ = tokio::time::sleep(every) => {}
                _ = stop.wait_for(|s| *s) => break,
            }
            let me = self.clone();
            if let Ok(Err(e)) = tokio::task::spawn_blocking(move || me.flush()).await {
                tracing::error!(error = %e, "cannot store the refused-request counts");
            }
        }
        let me = self.clone();
        let _ = tokio::task::spawn_blocking(move || me.flush()).await;
    }

    /// The counts of the last 24 hours and 7 days, as of `now` (whole UTC
    /// hours: "24 hours" is the current hour and the 23 before it).
    pub fn summary(&self, now: DateTime<Utc>) -> Result<RefusalSummary, StoreError> {
        self.flush()?;
        let this_hour = hour_of(now);
        let day_from = this_hour - 23;
        let week_from = this_hour - (24 * 7 - 1);
        let counts = self.store.refusals_since(week_from)?;
        let tokens: HashMap<i64, TokenRecord> = self
            .store
            .tokens()?
            .into_iter()
            .map(|t| (t.id, t))
            .collect();
        let mut s = RefusalSummary::default();
        let mut by_reason: HashMap<(String, String), ReasonCount> = HashMap::new();
        let mut by_token: HashMap<i64, TokenRefusals> = HashMap::new();
        for c in counts.iter().filter(|c| c.hour <= this_hour) {
            let in_day = c.hour >= day_from;
            let day_n = if in_day { c.count } else { 0 };
            s.last_24h = s.last_24h.saturating_add(day_n);
            s.last_7d = s.last_7d.saturating_add(c.count);
            let r = by_reason
                .entry((c.area.clone(), c.reason.clone()))
                .or_insert_with(|| ReasonCount {
                    area: c.area.clone(),
                    reason: c.reason.clone(),
                    text: Reason::describe(&c.reason).to_string(),
                    last_24h: 0,
                    last_7d: 0,
                    last_at: c.last_at,
                });
            r.last_24h = r.last_24h.saturating_add(day_n);
            r.last_7d = r.last_7d.saturating_add(c.count);
            r.last_at = r.last_at.max(c.last_at);
            let Some(id) = c.token_id else { continue };
            let t = by_token.entry(id).or_insert_with(|| {
                let rec = tokens.get(&id);
                TokenRefusals {
                    token_id: id,
                    name: rec.map(|t| t.name.clone()),
                    kind: rec.map(|t| t.kind.as_str().to_string()),
                    hint: rec.map(|t| t.hint.clone()),
                    revoked: rec.is_some_and(|t| t.revoked_at.is_some()),
                    last_24h: 0,
                    last_7d: 0,
                    last_at: c.last_at,
                    last_reason: c.reason.clone(),
                    last_reason_text: Reason::describe(&c.reason).to_string(),
                }
            });
            t.last_24h = t.last_24h.saturating_add(day_n);
            t.last_7d = t.last_7d.saturating_add(c.count);
            if c.last_at > t.last_at {
                t.last_at = c.last_at;
                t.last_reason = c.reason.clone();
                t.last_reason_text = Reason::describe(&c.reason).to_string();
            }
        }
        s.by_reason = by_reason.into_values().collect();
        s.by_reason
            .sort_by(|a, b| b.last_7d.cmp(&a.last_7d).then(a.reason.cmp(&b.reason)));
        s.by_token = by_token.into_values().collect();
        s.by_token.sort_by_key(|t| t.token_id);
        Ok(s)
    }
}

pub use scoreboard_core::api::{ReasonCount, RefusalSummary, TokenRefusals};
