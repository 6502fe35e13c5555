//! `scoreboard serve`: checks the settings, opens the store, starts the sync
//! loop and the listeners.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use scoreboard_core::parse::{self, FileKind, ImportOptions};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::api::app;
use crate::auth::{self, ReadAccess, StartupRefused};
use crate::config::{Config, ConfigError};
use crate::listen::{self, Gate};
use crate::refusals::Refusals;
use crate::state::AppState;
use crate::store::{Store, StoreError};
use crate::sync::Syncer;
use crate::upstream::UpstreamError;
use scoreboard_otlp::{OtlpConfig, Receiver};

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Refused(#[from] StartupRefused),
    #[error("cannot listen on {addr} (setting `{setting}`): {reason}")]
    Bind {
        setting: &'static str,
        addr: SocketAddr,
        reason: String,
    },
    #[error("cannot set up the Anthropic API client: {0}")]
    Client(#[from] UpstreamError),
    #[error(transparent)]
    Telemetry(#[from] scoreboard_otlp::OtlpError),
    #[error("the server stopped: {0}")]
    Io(#[from] std::io::Error),
}

/// Checks the files the settings name, so a typo stops start-up instead of
/// showing up later as an empty page or an empty roster.
pub fn check_files(cfg: &Config) -> Result<(), ConfigError> {
    if let Some(dist) = &cfg.dist {
        if !dist.join("index.html").is_file() {
            return Err(ConfigError::invalid(
                "dist",
                format!("{} has no index.html; build the app first (`make build`) or point --dist at the built site", dist.display()),
            ));
        }
    }
    if let Some(path) = &cfg.roster {
        let name = path.display().to_string();
        let bytes = std::fs::read(path)
            .map_err(|e| ConfigError::invalid("roster", format!("cannot read {name}: {e}")))?;
        let import = parse::roster::parse(&name, &bytes, &ImportOptions::default())
            .map_err(|e| ConfigError::invalid("roster", e.to_string()))?;
        if import.kind != FileKind::Roster {
            return Err(ConfigError::invalid(
                "roster",
                format!("{name} is a {}, not a roster", import.kind.label()),
            ));
        }
        for p in &import.problems {
            tracing::warn!(problem = %p, "roster line skipped");
        }
    }
    Ok(())
}

/// A started server. Dropping it does not stop it; call [`Running::stop`].
pub struct Running {
    pub addr: SocketAddr,
    pub otlp_addr: Option<SocketAddr>,
    pub state: AppState,
    started_at: chrono::DateTime<chrono::Utc>,
    shutdown: watch::Sender<bool>,
    tasks: Vec<JoinHandle<Result<(), std::io::Error>>>,
}

impl Running {
    /// Stops the listeners and the sync loop and waits for them.
    pub async fn stop(self) -> Result<(), ServeError> {
        let _ = self.shutdown.send(true);
        for t in self.tasks {
            t.await.map_err(std::io::Error::other)??;
        }
        let store = self.state.store().clone();
        let started = self.started_at;
        let stopped =
            tokio::task::spawn_blocking(move || store.record_stopped(started, chrono::Utc::now()))
                .await
                .map_err(std::io::Error::other)?;
        if let Err(e) = stopped {
            tracing::warn!(error = %e, "cannot record that the server stopped");
        }
        Ok(())
    }

    /// Waits until the process is asked to stop (Ctrl-C / SIGTERM), then stops.
    pub async fn until_signal(self) -> Result<(), ServeError> {
        shutdown_signal().await;
        tracing::info!("stopping");
        self.stop().await
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
}

/// The telemetry receiver, on the same database file (its own `otlp_` tables).
fn telemetry(
    cfg: &Config,
    store: &Arc<Store>,
    refusals: &Arc<Refusals>,
) -> Result<Arc<Receiver>, ServeError> {
    let otlp = OtlpConfig {
        identity_attribute: cfg.telemetry_identity_attribute.clone(),
        body_timeout: cfg.limits.body_timeout,
        ..OtlpConfig::default()
    };
    let auth = Arc::new(auth::IngestTokens::counting(
        store.clone(),
        refusals.clone(),
    ));
    Ok(Arc::new(Receiver::open(store.path(), otlp, auth)?))
}

/// The report of the server's store (synced rows, telemetry, the exports
/// folder, the roster) without serving: what `scoreboard digest` posts
/// when given no files. The message says what is wrong.
pub async fn store_report(
    cfg: &Config,
    opts: scoreboard_core::metrics::ReportOptions,
) -> Result<scoreboard_core::metrics::Report, String> {
    let db = cfg.db_path();
    if !db.is_file() {
        return Err(format!(
            "no server store at {}: give usage files, or --data-dir / --config of the server",
            db.display()
        ));
    }
    let store = Arc::new(Store::open(&db).map_err(|e| e.to_string())?);
    let syncer = Arc::new(Syncer::new(cfg, store.clone()).map_err(|e| e.to_string())?);
    let refusals = Arc::new(Refusals::new(store.clone()));
    let telemetry = telemetry(cfg, &store, &refusals).map_err(|e| e.to_string())?;
    let state = AppState::with_parts(
        cfg,
        store,
        syncer,
        Some(telemetry),
        refusals,
        Arc::new(chrono::Utc::now),
    );
    let now = state.now();
    crate::feeds::server_report(&state, opts, now)
        .await
        .map_err(|e| e.message().to_string())
}

/// What an operator should know about the settings before the first
/// request: logged as warnings at start-up.
pub fn startup_warnings(cfg: &Config) -> Vec<String> {
    let mut w = Vec::new();
    if let Some(h) = &cfg.trusted_identity_header {
        w.push(format!(
            "trusted_identity_header = {h}: any request carrying this header may read the dashboard. \
             Only your reverse proxy may reach {listen}, and it must set {h} itself on every request \
             (removing any value a client sent). Anyone who reaches {listen} directly can send it.",
            listen = cfg.listen
        ));
        if !cfg.listen.ip().is_loopback() {
            w.push(format!(
                "{listen} is not a loopback address: with trusted_identity_header set, firewall it so \
                 that only the reverse proxy can connect (or listen on 127.0.0.1 behind a proxy on this machine).",
                listen = cfg.listen
            ));
        }
    }
    if cfg.public && !cfg.listen.ip().is_loopback() {
        w.push(format!(
            "public = true: anyone who can reach {} can read the dashboard data, and store share snapshots",
            cfg.listen
        ));
    }
    w
}

/// Starts everything; returns once the listeners are bound.
pub async fn start(cfg: Config) -> Result<Running, ServeError> {
    start_with_clock(cfg, Arc::new(chrono::Utc::now)).await
}

/// [`start`] with the clock handlers and the digest's schedule read (tests
/// move it; the sync loop and the listeners keep real time).
pub async fn start_with_clock(
    cfg: Config,
    clock: crate::clock::Clock,
) -> Result<Running, ServeError> {
    check_files(&cfg)?;
    let store = Arc::new(Store::open(&cfg.db_path())?);
    auth::check_startup(&cfg, &store)?;
    for w in startup_warnings(&cfg) {
        tracing::warn!("{w}");
    }
    match ReadAccess::for_config(&cfg) {
        ReadAccess::Open => {}
        ReadAccess::Gated { trusted_header } => tracing::info!(
            identity_header = trusted_header
                .as_ref()
                .map(|h| h.as_str())
                .unwrap_or("(none)"),
            "reading the API needs a viewer token or the trusted identity header"
        ),
    }
    let syncer = Arc::new(Syncer::new(&cfg, store.clone())?);
    let refusals = Arc::new(Refusals::new(store.clone()));
    let telemetry = telemetry(&cfg, &store, &refusals)?;
    let state = AppState::with_parts(
        &cfg,
        store,
        syncer.clone(),
        Some(telemetry.clone()),
        refusals.clone(),
        clock,
    );
    let gate = Gate::new(&cfg.limits, Some(refusals.clone()));

    let bind = |setting: &'static str, addr: SocketAddr| async move {
        TcpListener::bind(addr).await.map_err(|e| ServeError::Bind {
            setting,
            addr,
            reason: e.to_string(),
        })
    };
    let listener = bind("listen", cfg.listen).await?;
    let addr = listener.local_addr()?;
    let (tx, rx) = watch::channel(false);
    let mut tasks = Vec::new();

    let wait = |mut rx: watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|stop| *stop).await;
    };
    let router = app(state.clone());
    tasks.push(tokio::spawn(listen::serve(
        listener,
        router,
        gate.clone(),
        wait(rx.clone()),
    )));
    let mut otlp_addr = None;
    if let Some(otlp) = cfg.otlp_listen {
        let l = bind("otlp_listen", otlp).await?;
        otlp_addr = Some(l.local_addr()?);
        let router = scoreboard_otlp::router(telemetry.clone()).layer(crate::api::request_trace());
        tasks.push(tokio::spawn(listen::serve(
            l,
            router,
            gate.clone(),
            wait(rx.clone()),
        )));
    }
    // What `token create` reads to print the address this server really
    // answers at (the real port, also when port 0 was asked).
    let started_at = chrono::Utc::now();
    state.store().record_serving(&crate::store::Serving {
        listen: addr,
        otlp_listen: otlp_addr,
        public_url: cfg.public_url.clone(),
        started_at,
        stopped_at: None,
    })?;
    let loop_rx = rx.clone();
    tasks.push(tokio::spawn(async move {
        syncer.run(loop_rx).await;
        Ok(())
    }));
    if state.digest().scheduled() {
        let digest_state = state.clone();
        let digest_rx = rx.clone();
        tasks.push(tokio::spawn(async move {
            crate::digest::run(digest_state, digest_rx).await;
            Ok(())
        }));
    }
    let warm_state = state.clone();
    let warm_rx = rx.clone();
    tasks.push(tokio::spawn(async move {
        crate::rows::keep_warm(warm_state, warm_rx).await;
        Ok(())
    }));
    let flush_rx = rx.clone();
    tasks.push(tokio::spawn(async move {
        refusals.run(Duration::from_secs(10), flush_rx).await;
        Ok(())
    }));

    let configured: Vec<&str> = [
        cfg.secrets.admin_api_key.is_some().then_some("admin-api"),
        cfg.secrets
            .analytics_api_key
            .is_some()
            .then_some("enterprise-api"),
        Some("otlp"),
    ]
    .into_iter()
    .flatten()
    .collect();
    tracing::info!(
        url = %format!("http://{addr}"),
        otlp = otlp_addr.map(|a| a.to_string()).unwrap_or_else(|| "on the main listener only".into()),
        sources = %configured.join(", "),
        demo = cfg.demo,
        max_connections = gate.max_connections,
        data = %cfg.db_path().display(),
        "scoreboard serve is running"
    );
    Ok(Running {
        addr,
        otlp_addr,
        state,
        started_at,
        shutdown: tx,
        tasks,
    })
}
