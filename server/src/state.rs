//! [`AppState`]: what every handler shares (the store, the syncer, the
//! gates, the clock, the caches). It holds the parts and hands each route
//! module the substate it needs (`FromRef`), so the parts below it
//! ([`crate::auth`], [`crate::guard`], [`crate::snapshots`]) never import it.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::body::Bytes;

use axum::extract::FromRef;
use chrono::{DateTime, NaiveDate, Utc};
use scoreboard_otlp::Receiver;

use crate::auth::{self, ReadAccess};
use crate::clock::Clock;
use crate::config::{Config, DigestSettings, Limits};
use crate::error::ApiError;
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
    rows_cache: RowsCache,
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
                rows_cache: RowsCache::default(),
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
    pub fn rows_cache(&self) -> &RowsCache {
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

/// Full answers kept at most (the newest; all of one data version).
pub const ROWS_CACHE_ENTRIES: usize = 2;
/// A full answer whose body is larger than this is served but not kept
/// (a 1 M-row compact answer is ~34 MB; a JSON answer is never larger,
/// [`ROWS_MAX_JSON_BODY`]).
pub const ROWS_CACHE_MAX_BODY: usize = 128 << 20;
/// A JSON `/api/rows` answer larger than this is refused (`413`, naming
/// the limit and how to ask for less: a shorter range or the compact
/// encoding, about a twentieth of the size), so JSON's making holds at
/// most this much text: about 180,000 rows (730 B a row). Every JSON
/// answer served can be kept.
pub const ROWS_MAX_JSON_BODY: usize = ROWS_CACHE_MAX_BODY;
/// What a full answer is kept by: equal keys mean equal answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FullKey {
    pub(crate) version: DataVersion,
    pub(crate) from: NaiveDate,
    pub(crate) to: NaiveDate,
    /// Telemetry's coverage runs to the server's today.
    pub(crate) today: NaiveDate,
    pub(crate) compact: bool,
}

/// One full answer: its body, and the same compressed, each made once.
pub struct FullAnswer {
    pub(crate) body: Bytes,
    pub(crate) brotli: tokio::sync::OnceCell<Bytes>,
    pub(crate) gzip: tokio::sync::OnceCell<Bytes>,
}

type Slot = Arc<tokio::sync::OnceCell<Arc<FullAnswer>>>;

/// `/api/rows` full answers by [`FullKey`]: a reload or a second page on
/// an unchanged store costs no SQLite read, no encoding and no compression.
/// At most [`ROWS_CACHE_ENTRIES`] answers of the newest data version are
/// kept (a new version drops the older ones), none over
/// [`ROWS_CACHE_MAX_BODY`]. Single flight: askers of one key while it is
/// being made wait for that one making, and a failed making is not kept.
#[derive(Default)]
pub struct RowsCache {
    slots: Mutex<VecDeque<(FullKey, Slot)>>,
    made: AtomicU64,
}

impl RowsCache {
    /// Full answers made so far (cache misses; for tests and the bench).
    pub fn made(&self) -> u64 {
        self.made.load(Ordering::Relaxed)
    }

    /// Answers kept now, and their bytes (body and compressed copies).
    pub fn held(&self) -> (usize, usize) {
        let slots = self.lock();
        let bytes = slots
            .iter()
            .filter_map(|(_, s)| s.get())
            .map(|a| {
                a.body.len()
                    + a.brotli.get().map_or(0, Bytes::len)
                    + a.gzip.get().map_or(0, Bytes::len)
            })
            .sum();
        (slots.len(), bytes)
    }

    /// Whether the answer of `key` is kept (made, or being made).
    pub(crate) fn holds(&self, key: FullKey) -> bool {
        self.lock().iter().any(|(k, _)| *k == key)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<(FullKey, Slot)>> {
        self.slots.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn slot(&self, key: FullKey) -> Slot {
        let mut slots = self.lock();
        if let Some((_, s)) = slots.iter().find(|(k, _)| *k == key) {
            return s.clone();
        }
        // Versions only grow: an answer of another version is never asked again.
        slots.retain(|(k, _)| k.version == key.version);
        if slots.len() >= ROWS_CACHE_ENTRIES {
            slots.pop_front();
        }
        let s = Slot::default();
        slots.push_back((key, s.clone()));
        s
    }

    fn forget(&self, key: FullKey, slot: &Slot) {
        self.lock()
            .retain(|(k, s)| !(*k == key && Arc::ptr_eq(s, slot)));
    }

    pub(crate) async fn full<F, Fut>(
        &self,
        key: FullKey,
        make: F,
    ) -> Result<Arc<FullAnswer>, ApiError>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<Bytes, ApiError>>,
    {
        let slot = self.slot(key);
        let made = slot
            .get_or_try_init(|| async {
                self.made.fetch_add(1, Ordering::Relaxed);
                let body = make().await?;
                Ok::<_, ApiError>(Arc::new(FullAnswer {
                    body,
                    brotli: Default::default(),
                    gzip: Default::default(),
                }))
            })
            .await;
        match made {
            Ok(answer) => {
                if answer.body.len() > ROWS_CACHE_MAX_BODY {
                    self.forget(key, &slot);
                }
                Ok(answer.clone())
            }
            Err(e) => {
                self.forget(key, &slot);
                Err(e)
            }
        }
    }
}
