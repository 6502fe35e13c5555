//! Keeping the store in step with Anthropic's APIs, in the background.
//!
//! First start: every day of the configured history that is not yet stored
//! is fetched (newest first, a few days at a time). Then every
//! `sync_interval`: the two newest days are fetched again (Admin API data
//! arrives up to an hour late), and so is any older day not settled yet. A
//! day is settled once it was fetched long enough after it ended (Admin API:
//! two hours; Enterprise, whose figures are revised for a few days: four
//! days), so a server that was down for a week catches up by itself.
//!
//! A request to the HTTP API never waits for a sync: it is answered from the
//! store, and may nudge the loop when a sync is due.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration as Days, NaiveDate, Utc};
use futures_util::stream::{self, StreamExt};
use scoreboard_core::Source;
use tokio::sync::{watch, Notify};

use crate::config::{AnthropicConfig, Config, ADMIN_KEY_ENV, ANALYTICS_KEY_ENV};
use crate::store::{DayStats, Store, StoreError, SyncState};
use crate::upstream::admin::{self, DayFetch};
use crate::upstream::breaker::BreakerState;
use crate::upstream::{enterprise, Client, UpstreamError};

/// Name of the Admin API users list in the store's directory table.
pub const ADMIN_DIRECTORY: &str = "admin-api";

/// Most problems (unreadable records) kept as warnings per sync.
const MAX_PROBLEM_WARNINGS: usize = 10;

/// One source's client and schedule.
pub struct SourceSync {
    pub source: Source,
    client: Client,
    next_sync: Mutex<Option<DateTime<Utc>>>,
    running: AtomicBool,
}

impl SourceSync {
    fn new(source: Source, client: Client) -> SourceSync {
        SourceSync {
            source,
            client,
            next_sync: Mutex::new(None),
            running: AtomicBool::new(false),
        }
    }
    fn next(&self) -> Option<DateTime<Utc>> {
        *self.next_sync.lock().unwrap_or_else(|p| p.into_inner())
    }
    fn set_next(&self, t: DateTime<Utc>) {
        *self.next_sync.lock().unwrap_or_else(|p| p.into_inner()) = Some(t);
    }
    pub fn breaker_state(&self) -> BreakerState {
        self.client.breaker_state()
    }
}

pub struct Syncer {
    store: Arc<Store>,
    cfg: AnthropicConfig,
    admin: Option<SourceSync>,
    enterprise: Option<SourceSync>,
    wake: Notify,
}

/// What one sync of one source did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncOutcome {
    pub days_fetched: usize,
    pub days_failed: usize,
    pub rows_stored: usize,
    pub error: Option<String>,
}

impl Syncer {
    pub fn new(config: &Config, store: Arc<Store>) -> Result<Syncer, UpstreamError> {
        let secrets = &config.secrets;
        let admin = match &secrets.admin_api_key {
            Some(k) => Some(SourceSync::new(
                Source::AdminApi,
                Client::new(&config.anthropic, k, secrets.clone())?,
            )),
            None => None,
        };
        let enterprise = match &secrets.analytics_api_key {
            Some(k) => Some(SourceSync::new(
                Source::EnterpriseApi,
                Client::new(&config.anthropic, k, secrets.clone())?,
            )),
            None => None,
        };
        Ok(Syncer {
            store,
            cfg: config.anthropic.clone(),
            admin,
            enterprise,
            wake: Notify::new(),
        })
    }

    pub fn source(&self, source: Source) -> Option<&SourceSync> {
        match source {
            Source::AdminApi => self.admin.as_ref(),
            Source::EnterpriseApi => self.enterprise.as_ref(),
            _ => None,
        }
    }

    pub fn configured(&self, source: Source) -> bool {
        self.source(source).is_some()
    }

    /// Wakes the loop if some source's sync is due (never waits for it).
    pub fn nudge(&self, now: DateTime<Utc>) {
        let due = [&self.admin, &self.enterprise]
            .into_iter()
            .flatten()
            .any(|s| !s.running.load(Ordering::Relaxed) && s.next().is_none_or(|t| t <= now));
        if due {
            self.wake.notify_one();
        }
    }

    /// The background loop: syncs each due source, then sleeps until the next
    /// one is due, a nudge, or shutdown.
    pub async fn run(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        loop {
            let now = Utc::now();
            for s in [&self.admin, &self.enterprise].into_iter().flatten() {
                if s.next().is_none_or(|t| t <= now) {
                    // Shutdown does not wait for a long backfill: every stored day
                    // is complete (one transaction each), the rest is fetched next time.
                    let outcome = tokio::select! {
                        o = self.sync_source(s, Utc::now()) => o,
                        _ = shutdown.changed() => return,
                    };
                    let wait = if outcome.error.is_some() {
                        // Try again sooner after a failure; the breaker keeps this from hammering.
                        self.cfg.sync_interval.min(
                            self.cfg
                                .breaker_cooldown
                                .max(std::time::Duration::from_secs(30)),
                        )
                    } else {
                        self.cfg.sync_interval
                    };
                    s.set_next(Utc::now() + Days::from_std(wait).unwrap_or(Days::minutes(15)));
                }
                if *shutdown.borrow() {
                    return;
                }
            }
            let next = [&self.admin, &self.enterprise]
                .into_iter()
                .flatten()
                .filter_map(|s| s.next())
                .min();
            let sleep = match next {
                Some(t) => (t - Utc::now()).to_std().unwrap_or_default(),
                None => std::time::Duration::from_secs(3600),
            };
            tokio::select! {
                _ = tokio::time::sleep(sleep) => {}
                _ = self.wake.notified() => {}
                _ = shutdown.changed() => return,
            }
        }
    }

    /// Syncs one source now (tests; the loop uses the same path).
    pub async fn sync(&self, source: Source, now: DateTime<Utc>) -> Option<SyncOutcome> {
        let s = self.source(source)?;
        Some(self.sync_source(s, now).await)
    }

    async fn sync_source(&self, s: &SourceSync, now: DateTime<Utc>) -> SyncOutcome {
        if s.running.swap(true, Ordering::AcqRel) {
            return SyncOutcome {
                error: Some("a sync of this source is already running".into()),
                ..Default::default()
            };
        }
        let outcome = match s.source {
            Source::AdminApi => self.sync_admin(s, now).await,
            _ => self.sync_enterprise(s, now).await,
        };
        s.running.store(false, Ordering::Release);
        let outcome = outcome.unwrap_or_else(|e| SyncOutcome {
            error: Some(e.to_string()),
            ..Default::default()
        });
        match &outcome.error {
            None => {
                tracing::info!(source = %s.source, days = outcome.days_fetched, rows = outcome.rows_stored, "sync done")
            }
            Some(e) => {
                tracing::warn!(source = %s.source, error = %e, "sync failed; serving stored data")
            }
        }
        outcome
    }

    /// Days of the window not settled yet, newest first.
    fn due_days(
        &self,
        source: Source,
        first: NaiveDate,
        last: NaiveDate,
        settle: Days,
    ) -> Result<Vec<NaiveDate>, StoreError> {
        if first > last {
            return Ok(Vec::new());
        }
        let synced = self.store.synced_days(source, first, last)?;
        let mut due = Vec::new();
        let mut d = last;
        while d >= first {
            // The two newest days are always fetched again; older ones until settled.
            let newest_two = d >= last.pred_opt().unwrap_or(last);
            let settled = !newest_two
                && synced.get(&d).is_some_and(|sd| {
                    let day_end = d
                        .succ_opt()
                        .unwrap_or(d)
                        .and_hms_opt(0, 0, 0)
                        .map(|t| t.and_utc());
                    day_end.is_some_and(|end| sd.synced_at >= end + settle)
                });
            if !settled {
                due.push(d);
            }
            match d.pred_opt() {
                Some(p) => d = p,
                None => break,
            }
        }
        Ok(due)
    }

    /// Fetches `days` with bounded concurrency, storing each as it arrives.
    /// Stops starting new days once the key is refused or the breaker opens.
    async fn fetch_days<F, Fut>(
        &self,
        source: Source,
        days: Vec<NaiveDate>,
        now: DateTime<Utc>,
        fetch: F,
    ) -> (SyncOutcome, Vec<String>)
    where
        F: Fn(NaiveDate) -> Fut,
        // `Ok(None)`: the day is not available yet; skipped, not an error, not stored.
        Fut: std::future::Future<Output = Result<Option<DayFetch>, UpstreamError>>,
    {
        let stop = AtomicBool::new(false);
        let total = days.len();
        let results: Vec<(NaiveDate, Result<Option<DayFetch>, UpstreamError>)> = stream::iter(days)
            .map(|day| {
                let stop = &stop;
                let fetch = &fetch;
                async move {
                    if stop.load(Ordering::Relaxed) {
                        return (
                            day,
                            Err(UpstreamError::BreakerOpen(std::time::Duration::ZERO)),
                        );
                    }
                    let r = fetch(day).await;
                    if let Err(e) = &r {
                        if e.is_auth() || matches!(e, UpstreamError::BreakerOpen(_)) {
                            stop.store(true, Ordering::Relaxed);
                        }
                    }
                    (day, r)
                }
            })
            .buffer_unordered(self.cfg.concurrency.max(1))
            .collect()
            .await;
        let mut outcome = SyncOutcome::default();
        let mut problems = Vec::new();
        let mut first_error: Option<(NaiveDate, UpstreamError)> = None;
        for (day, r) in results {
            match r {
                Ok(None) => {}
                Ok(Some(f)) => {
                    let store = self.store.clone();
                    let n = f.rows.len();
                    let saved = tokio::task::spawn_blocking(move || {
                        store
                            .replace_day(source, day, &f.rows, &f.stats, now)
                            .map(|_| f.problems)
                    })
                    .await;
                    match saved {
                        Ok(Ok(p)) => {
                            outcome.days_fetched += 1;
                            outcome.rows_stored += n;
                            problems.extend(p.into_iter().map(|p| p.to_string()));
                        }
                        Ok(Err(e)) => {
                            outcome.days_failed += 1;
                            outcome
                                .error
                                .get_or_insert_with(|| format!("cannot store {day}: {e}"));
                        }
                        Err(e) => {
                            outcome.days_failed += 1;
                            outcome
                                .error
                                .get_or_insert_with(|| format!("cannot store {day}: {e}"));
                        }
                    }
                }
                Err(e) => {
                    outcome.days_failed += 1;
                    let replace = match &first_error {
                        None => true,
                        // Report the real cause, not the "stopped early" placeholders.
                        Some((_, UpstreamError::BreakerOpen(d))) if d.is_zero() => true,
                        Some(_) => false,
                    };
                    if replace {
                        first_error = Some((day, e));
                    }
                }
            }
        }
        if let Some((day, e)) = first_error {
            let what = if outcome.days_failed == total && total > 1 {
                format!("none of the {total} days could be fetched")
            } else if total > 1 {
                format!(
                    "{} of {total} days could not be fetched",
                    outcome.days_failed
                )
            } else {
                "the day could not be fetched".to_string()
            };
            let e = match e {
                UpstreamError::BreakerOpen(d) if d.is_zero() => {
                    "the sync stopped early after repeated failures".to_string()
                }
                e => e.to_string(),
            };
            outcome.error = Some(format!("{what} (for {day}: {e})"));
        }
        (outcome, problems)
    }

    async fn sync_admin(
        &self,
        s: &SourceSync,
        now: DateTime<Utc>,
    ) -> Result<SyncOutcome, StoreError> {
        let source = Source::AdminApi;
        let mut state = self.store.sync_state(source)?;
        state.last_attempt = Some(now);
        let mut warnings = Vec::new();

        match admin::me(&s.client).await {
            Ok(org) => {
                state.org_id = Some(org.id);
                state.org_name = Some(org.name).filter(|n| !n.trim().is_empty());
            }
            Err(e) if e.is_auth() || matches!(e, UpstreamError::BreakerOpen(_)) => {
                return self.finish(
                    source,
                    state,
                    warnings,
                    SyncOutcome {
                        error: Some(key_hint(&e, ADMIN_KEY_ENV)),
                        ..Default::default()
                    },
                );
            }
            Err(e) => warnings.push(format!(
                "could not read which organisation the key belongs to: {e}"
            )),
        }

        let today = now.date_naive();
        let first = today - Days::days(i64::from(self.cfg.backfill_days.max(1)) - 1);
        let due = self.due_days(source, first, today, Days::hours(2))?;
        let client = &s.client;
        let (outcome, problems) = self
            .fetch_days(source, due, now, |day| async move {
                admin::fetch_day(client, day).await.map(Some)
            })
            .await;
        push_problems(&mut warnings, problems);

        // The user directory is a roster source, not the data: its failure is a warning.
        if outcome.error.is_none() {
            match admin::users(client).await {
                Ok(users) => {
                    let keys = match admin::api_keys(client).await {
                        Ok(k) => k,
                        Err(e) => {
                            warnings.push(format!(
                                "could not read the organisation's API keys, so usage under an API key name is not mapped to its owner: {e}"
                            ));
                            Vec::new()
                        }
                    };
                    let entries = admin::directory(&users, &keys);
                    let store = self.store.clone();
                    if let Err(e) = store.put_directory(ADMIN_DIRECTORY, &entries, now) {
                        warnings.push(format!("could not store the organisation's users: {e}"));
                    }
                }
                Err(e) => warnings.push(format!(
                    "could not read the organisation's users (used as roster): {e}"
                )),
            }
        }

        // The platform gap, over everything stored in the window (not just this sync).
        let mut stats = DayStats::default();
        let synced = self.store.synced_days(source, first, today)?;
        for d in synced.values() {
            stats.add(&d.stats);
        }
        if !synced.is_empty() {
            if let Some(w) = admin::coverage_warning(&stats) {
                let org = match (&state.org_name, &state.org_id) {
                    (Some(n), _) => {
                        format!("Organisation \"{n}\" (the one the Admin API key belongs to): ")
                    }
                    (None, Some(id)) => {
                        format!("Organisation {id} (the one the Admin API key belongs to): ")
                    }
                    _ => String::new(),
                };
                warnings.insert(0, format!("{org}{w}"));
            }
        }
        self.finish(source, state, warnings, outcome)
    }

    async fn sync_enterprise(
        &self,
        s: &SourceSync,
        now: DateTime<Utc>,
    ) -> Result<SyncOutcome, StoreError> {
        let source = Source::EnterpriseApi;
        let mut state = self.store.sync_state(source)?;
        state.last_attempt = Some(now);
        let mut warnings = Vec::new();
        let today = now.date_naive();
        let first = (today - Days::days(i64::from(self.cfg.backfill_days.max(1)) - 1))
            .max(enterprise::earliest_day());
        // Data has at least a day's lag: today is never available.
        let last = today - Days::days(1);
        let due = self.due_days(source, first, last, Days::days(4))?;
        let client = &s.client;
        let recent = today - Days::days(4);
        let (mut outcome, problems) = self
            .fetch_days(source, due, now, |day| async move {
                match enterprise::fetch_day(client, day).await {
                    Ok(f) => Ok(Some(f)),
                    // The newest days are often "not available yet" (a 400 naming the
                    // latest available day): that is the API's lag, not a failure.
                    Err(UpstreamError::Status { status: 400, .. }) if day >= recent => Ok(None),
                    Err(e) => Err(e),
                }
            })
            .await;
        push_problems(&mut warnings, problems);
        let (rows, _, _) = self.store.row_summary(source)?;
        if rows == 0 && outcome.error.is_none() && outcome.days_fetched > 0 {
            warnings.push(
                "The Enterprise Analytics API returned no Claude Code activity for any day fetched. If people use \
                 Claude Code with their seats, check that the organisation's analytics access toggle is on."
                    .to_string(),
            );
        }
        if let Some(e) = &outcome.error {
            outcome.error = Some(if e.contains("HTTP 401") || e.contains("HTTP 403") {
                format!("{e}. Check {ANALYTICS_KEY_ENV}: it needs an Analytics API key with the read:analytics scope, created at claude.ai/analytics/api-keys")
            } else {
                e.clone()
            });
        }
        self.finish(source, state, warnings, outcome)
    }

    fn finish(
        &self,
        source: Source,
        mut state: SyncState,
        warnings: Vec<String>,
        outcome: SyncOutcome,
    ) -> Result<SyncOutcome, StoreError> {
        match &outcome.error {
            None => {
                state.last_success = state.last_attempt;
                state.last_error = None;
            }
            Some(e) => state.last_error = Some(e.clone()),
        }
        state.warnings = warnings;
        self.store.put_sync_state(source, &state)?;
        Ok(outcome)
    }

    /// The status of every Anthropic source, for `/api/sources`.
    pub fn status(&self, now: DateTime<Utc>) -> Result<Vec<SourceStatus>, StoreError> {
        [Source::AdminApi, Source::EnterpriseApi]
            .into_iter()
            .map(|src| self.source_status(src, now))
            .collect()
    }

    fn source_status(
        &self,
        source: Source,
        now: DateTime<Utc>,
    ) -> Result<SourceStatus, StoreError> {
        let st = self.store.sync_state(source)?;
        let (rows, first_day, last_day) = self.store.row_summary(source)?;
        let sync = self.source(source);
        let interval = Days::from_std(self.cfg.sync_interval).unwrap_or(Days::minutes(15));
        let env = if source == Source::AdminApi {
            ADMIN_KEY_ENV
        } else {
            ANALYTICS_KEY_ENV
        };
        let label = if source == Source::AdminApi {
            "Anthropic Admin API"
        } else {
            "Enterprise Analytics API"
        };
        let syncing = sync.is_some_and(|s| s.running.load(Ordering::Relaxed));
        let failed_last = st.last_error.is_some();
        let old = st
            .last_success
            .is_some_and(|t| now - t > interval * 2 + Days::minutes(5));
        let stale = st.last_success.is_some() && (failed_last || old);
        let when = |t: DateTime<Utc>| t.format("%Y-%m-%d %H:%M UTC").to_string();
        let (state, text) = if sync.is_none() {
            let text = if rows > 0 {
                format!(
                    "Not configured (set {env}); showing {rows} rows stored earlier, up to {}.",
                    last_day.map(|d| d.to_string()).unwrap_or_default()
                )
            } else {
                format!("Not configured: set {env} in the server's environment to use this source.")
            };
            (SourceState::NotConfigured, text)
        } else if let Some(ok) = st.last_success {
            let base = format!("Last successful sync at {}.", when(ok));
            if failed_last {
                (
                    SourceState::Stale,
                    format!(
                        "{base} The latest attempt{} failed, so the figures may be out of date: {}",
                        st.last_attempt
                            .map(|t| format!(" at {}", when(t)))
                            .unwrap_or_default(),
                        st.last_error.clone().unwrap_or_default()
                    ),
                )
            } else if old {
                (
                    SourceState::Stale,
                    format!("{base} No sync since then; the figures may be out of date."),
                )
            } else {
                let span = match (first_day, last_day) {
                    (Some(a), Some(b)) => format!(" {rows} person-days stored, {a} to {b}."),
                    _ => " No person-days stored.".to_string(),
                };
                (SourceState::Ok, format!("{base}{span}"))
            }
        } else if let Some(e) = &st.last_error {
            (
                SourceState::Failing,
                format!("No successful sync yet. The latest attempt failed: {e}"),
            )
        } else {
            (
                SourceState::Pending,
                "Waiting for the first sync.".to_string(),
            )
        };
        let next_sync = sync.and_then(|s| s.next());
        Ok(SourceStatus {
            source,
            label: label.to_string(),
            configured: sync.is_some(),
            state,
            stale,
            syncing,
            status_text: text,
            organization: st
                .org_name
                .clone()
                .or(st.org_id.clone())
                .map(|_| Organization {
                    id: st.org_id.clone(),
                    name: st.org_name.clone(),
                }),
            last_success: st.last_success,
            last_attempt: st.last_attempt,
            next_sync: if syncing { None } else { next_sync },
            last_error: st.last_error,
            warnings: st.warnings,
            rows,
            first_day,
            last_day,
            breaker: sync.map(|s| s.breaker_state()),
        })
    }
}

fn push_problems(warnings: &mut Vec<String>, problems: Vec<String>) {
    let n = problems.len();
    warnings.extend(problems.into_iter().take(MAX_PROBLEM_WARNINGS));
    if n > MAX_PROBLEM_WARNINGS {
        warnings.push(format!(
            "… and {} more records that could not be read",
            n - MAX_PROBLEM_WARNINGS
        ));
    }
}

fn key_hint(e: &UpstreamError, env: &str) -> String {
    if e.is_auth() {
        format!("{e}. Check {env}: it needs an Admin API key (sk-ant-admin01-…) of the organisation, not a workspace API key")
    } else {
        e.to_string()
    }
}

pub use scoreboard_core::api::{Organization, SourceState, SourceStatus};
