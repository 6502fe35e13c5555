//! [`AppState`]: what every handler shares (the store, the syncer, the
//! gates, the clock, the caches). It holds the parts and hands each route
//! module the substate it needs (`FromRef`), so the parts below it
//! ([`crate::auth`], [`crate::guard`], [`crate::snapshots`]) never import it.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use axum::extract::FromRef;
use chrono::{DateTime, Utc};
use scoreboard_otlp::Receiver;

use crate::auth::{self, ReadAccess};
use crate::clock::Clock;
use crate::config::{Config, DigestSettings, Limits};
use crate::guard::{self, AllowedHosts};
use crate::refusals::Refusals;
use crate::snapshots::SnapshotState;
use crate::store::Store;
use crate::sync::Syncer;

#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<Store>,
    syncer: Arc<Syncer>,
    /// The read gate's parts ([`auth::Gate`]).
    gate: auth::Gate,
    /// The `Host` and origin checks' parts ([`guard::HostCheck`]).
    host_check: guard::HostCheck,
    frames: guard::FrameAncestors,
    limits: Limits,
    /// The share snapshot routes' parts ([`SnapshotState`]).
    snapshots: SnapshotState,
    demo: bool,
    roster_path: Option<PathBuf>,
    roster_file: Arc<crate::roster_file::RosterFile>,
    dist: Option<PathBuf>,
    backfill_days: u32,
    telemetry: Option<Arc<Receiver>>,
    clock: Clock,
    /// The exports folder (issue 15), read again when its files change.
    imports: Arc<crate::imports::ImportsDir>,
    /// `/api/report` answers per (query, data version) (issue 15).
    report_cache: ReportCache,
    /// `/api/rows` full answers, encoded and compressed (issue 13).
    rows_cache: crate::rows::RowsCache,
    /// The weekly digest's schedule and webhook (issue 15).
    digest: Arc<DigestSettings>,
}

impl AppState {
    pub fn new(
        config: &Config,
        store: Arc<Store>,
        syncer: Arc<Syncer>,
        telemetry: Option<Arc<Receiver>>,
    ) -> AppState {
        AppState::with_clock(config, store, syncer, telemetry, crate::clock::system())
    }

    pub fn with_clock(
        config: &Config,
        store: Arc<Store>,
        syncer: Arc<Syncer>,
        telemetry: Option<Arc<Receiver>>,
        clock: Clock,
    ) -> AppState {
        let refusals = Arc::new(Refusals::with_clock(store.clone(), clock.clone()));
        AppState::with_parts(config, store, syncer, telemetry, refusals, clock)
    }

    /// Every part given: `refusals` is shared with the telemetry receiver's
    /// token check ([`auth::IngestTokens::counting`]), so its refusals are counted too.
    pub fn with_parts(
        config: &Config,
        store: Arc<Store>,
        syncer: Arc<Syncer>,
        telemetry: Option<Arc<Receiver>>,
        refusals: Arc<Refusals>,
        clock: Clock,
    ) -> AppState {
        let gate = auth::Gate::new(config, store.clone(), refusals.clone());
        let host_check =
            guard::HostCheck::new(config, gate.read_access().is_open(), refusals.clone());
        let snapshots = SnapshotState::new(
            store.clone(),
            config.limits.clone(),
            refusals,
            clock.clone(),
        );
        AppState {
            inner: Arc::new(Inner {
                store,
                syncer,
                gate,
                host_check,
                snapshots,
                frames: guard::FrameAncestors::for_config(config),
                limits: config.limits.clone(),
                demo: config.demo,
                roster_path: config.roster.clone(),
                roster_file: Arc::new(crate::roster_file::RosterFile::new(config.roster.clone())),
                dist: config.dist.clone(),
                backfill_days: config.anthropic.backfill_days,
                telemetry,
                clock,
                imports: Arc::new(crate::imports::ImportsDir::new(
                    config.feeds.imports_dir.clone(),
                )),
                report_cache: ReportCache::default(),
                rows_cache: crate::rows::RowsCache::default(),
                digest: Arc::new(DigestSettings::for_config(config)),
            }),
        }
    }
    pub fn store(&self) -> &Arc<Store> {
        &self.inner.store
    }
    pub fn syncer(&self) -> &Arc<Syncer> {
        &self.inner.syncer
    }
    pub fn read_access(&self) -> &ReadAccess {
        self.inner.gate.read_access()
    }
    pub fn allowed_hosts(&self) -> &AllowedHosts {
        self.inner.host_check.allowed_hosts()
    }
    pub fn limits(&self) -> &Limits {
        &self.inner.limits
    }
    /// Refused requests, counted (the telemetry receiver's too, when built with it).
    pub fn refusals(&self) -> &Arc<Refusals> {
        self.inner.gate.refusals()
    }
    /// The roster file, read again when it changes.
    pub fn roster_file(&self) -> &Arc<crate::roster_file::RosterFile> {
        &self.inner.roster_file
    }
    pub fn demo(&self) -> bool {
        self.inner.demo
    }
    /// A roster file is configured (whether or not it reads).
    pub fn roster_configured(&self) -> bool {
        self.inner.roster_path.is_some()
    }
    /// The built page's folder, when the server serves it.
    pub fn dist(&self) -> Option<&PathBuf> {
        self.inner.dist.as_ref()
    }
    /// Who may frame the page (embeds).
    pub fn frame_ancestors(&self) -> &guard::FrameAncestors {
        &self.inner.frames
    }
    pub fn telemetry(&self) -> Option<&Arc<Receiver>> {
        self.inner.telemetry.as_ref()
    }
    /// Days of history the Anthropic syncs keep (the page's default range).
    pub fn backfill_days(&self) -> u32 {
        self.inner.backfill_days
    }
    pub fn now(&self) -> DateTime<Utc> {
        (self.inner.clock)()
    }
    /// The exports folder (none configured: reads give `None`).
    pub fn imports(&self) -> &Arc<crate::imports::ImportsDir> {
        &self.inner.imports
    }
    pub fn digest(&self) -> &Arc<DigestSettings> {
        &self.inner.digest
    }
    pub fn report_cache(&self) -> &ReportCache {
        &self.inner.report_cache
    }
    pub fn rows_cache(&self) -> &crate::rows::RowsCache {
        &self.inner.rows_cache
    }
    /// What the rows, coverage and roster every report is computed from
    /// were at: the store's row writes, other connections' commits
    /// (telemetry), the exports folder and the roster file. Equal versions
    /// mean equal data. Blocking (one SQLite pragma, a folder listing, a `stat`).
    pub fn data_version(&self) -> Result<DataVersion, crate::store::StoreError> {
        let s = &self.inner;
        let now = self.now();
        Ok(DataVersion {
            store: s.store.version()?,
            imports: s.imports.read(now).map_or(0, |i| i.wire.generation),
            roster: s.roster_file.generation(),
        })
    }
}

impl FromRef<AppState> for auth::Gate {
    fn from_ref(s: &AppState) -> auth::Gate {
        s.inner.gate.clone()
    }
}

impl FromRef<AppState> for guard::HostCheck {
    fn from_ref(s: &AppState) -> guard::HostCheck {
        s.inner.host_check.clone()
    }
}

impl FromRef<AppState> for SnapshotState {
    fn from_ref(s: &AppState) -> SnapshotState {
        s.inner.snapshots.clone()
    }
}

/// See [`AppState::data_version`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DataVersion {
    pub store: crate::store::StoreVersion,
    pub imports: u64,
    pub roster: u64,
}

/// Reports computed at most, kept per data version.
pub const REPORT_CACHE_ENTRIES: usize = 32;

/// `/api/report` answers (JSON bytes) by query, for one data version: a
/// new version empties it; past [`REPORT_CACHE_ENTRIES`] queries the
/// oldest goes.
#[derive(Default)]
pub struct ReportCache {
    inner: Mutex<CacheInner>,
}

#[derive(Default)]
struct CacheInner {
    version: Option<DataVersion>,
    entries: VecDeque<(String, Arc<Vec<u8>>)>,
}

impl ReportCache {
    pub(crate) fn get(&self, version: DataVersion, key: &str) -> Option<Arc<Vec<u8>>> {
        let c = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if c.version != Some(version) {
            return None;
        }
        c.entries
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
    }

    pub(crate) fn put(&self, version: DataVersion, key: String, json: Arc<Vec<u8>>) {
        let mut c = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if c.version != Some(version) {
            c.version = Some(version);
            c.entries.clear();
        }
        c.entries.retain(|(k, _)| *k != key);
        if c.entries.len() >= REPORT_CACHE_ENTRIES {
            c.entries.pop_front();
        }
        c.entries.push_back((key, json));
    }

    /// Queries cached now (for tests and the bound's check).
    pub fn len(&self) -> usize {
        self.inner
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entries
            .len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
