//! The accept loop of both listeners, in place of `axum::serve`, which sets
//! no header timeout and admits any number of connections.
//!
//! - **Header timeout**: a client must send a request's headers within
//!   `limits.header_timeout` (hyper's `header_read_timeout`, which also runs
//!   while a keep-alive connection sits idle), so half-sent requests and
//!   idle sockets do not stay open.
//! - **Connection caps**: at most `limits.max_connections` open connections
//!   (both listeners together), and `limits.max_connections_per_ip` from one
//!   address. One past a cap gets a short `503` with `Retry-After` and is
//!   closed; the refusal is counted. The cap is lowered at start-up to fit
//!   the process's open-file limit (raised to its hard maximum first), so
//!   the server never reaches `Too many open files` and `/api/health`
//!   keeps answering.
//! - Body deadlines are per route: the telemetry receiver's and the
//!   snapshot upload's (a stalled body holds one connection, never a slot).

use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tower::ServiceExt as _;

use crate::config::Limits;
use crate::refusals::{Area, Reason, Refusals};

/// File descriptors kept for everything but connections (SQLite and its
/// WAL, the listeners, logs, the HTTP client of the sync).
const RESERVED_FDS: u64 = 64;
/// Connections refused with an answer at the same time; past it they are just closed.
const REFUSING_AT_ONCE: usize = 64;
/// How long open connections get to finish when the server stops.
const DRAIN: Duration = Duration::from_secs(10);

/// The whole answer to a connection past a cap.
fn refusal() -> Vec<u8> {
    let body = r#"{"error":{"status":503,"message":"too many open connections to this server; retry after the Retry-After delay"}}"#;
    format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\nretry-after: 1\r\n\
         connection: close\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// Who may open a connection: the caps shared by both listeners.
pub struct Gate {
    total: Arc<Semaphore>,
    per_ip: usize,
    open: Mutex<HashMap<IpAddr, usize>>,
    refusing: Arc<Semaphore>,
    refusals: Option<Arc<Refusals>>,
    header_timeout: Duration,
    /// The cap in force after fitting the open-file limit.
    pub max_connections: usize,
}

/// One admitted connection; leaving frees its place.
pub struct Admitted {
    gate: Arc<Gate>,
    ip: IpAddr,
    _permit: OwnedSemaphorePermit,
}

impl Drop for Admitted {
    fn drop(&mut self) {
        let mut open = self.gate.open.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = open.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                open.remove(&self.ip);
            }
        }
    }
}

/// Raises the soft open-file limit to the hard one (Unix); the soft limit after.
fn open_file_limit() -> Option<u64> {
    #[cfg(unix)]
    {
        use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
        let lim = getrlimit(Resource::Nofile);
        if lim.current < lim.maximum {
            let raised = Rlimit {
                current: lim.maximum,
                maximum: lim.maximum,
            };
            if setrlimit(Resource::Nofile, raised).is_ok() {
                return lim.maximum;
            }
        }
        lim.current
    }
    #[cfg(not(unix))]
    None
}

impl Gate {
    pub fn new(limits: &Limits, refusals: Option<Arc<Refusals>>) -> Arc<Gate> {
        let mut max = limits.max_connections.max(1);
        if let Some(fds) = open_file_limit() {
            let fit = usize::try_from(fds.saturating_sub(RESERVED_FDS).max(16)).unwrap_or(max);
            if fit < max {
                tracing::warn!(
                    max_connections = fit,
                    configured = max,
                    open_file_limit = fds,
                    "the open-file limit is too low for limits.max_connections; lowered to fit (raise `ulimit -n` to allow more)"
                );
                max = fit;
            }
        }
        Arc::new(Gate {
            total: Arc::new(Semaphore::new(max)),
            per_ip: limits.max_connections_per_ip.max(1),
            open: Mutex::new(HashMap::new()),
            refusing: Arc::new(Semaphore::new(REFUSING_AT_ONCE)),
            refusals,
            header_timeout: limits.header_timeout,
            max_connections: max,
        })
    }

    fn admit(self: &Arc<Self>, ip: IpAddr) -> Option<Admitted> {
        let permit = self.total.clone().try_acquire_owned().ok()?;
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        let n = open.entry(ip).or_insert(0);
        if *n >= self.per_ip {
            return None;
        }
        *n += 1;
        Some(Admitted {
            gate: self.clone(),
            ip,
            _permit: permit,
        })
    }

    /// Answers 503 and closes, without holding a place.
    fn refuse(&self, mut stream: tokio::net::TcpStream) {
        if let Some(r) = &self.refusals {
            r.record(
                Area::Connection,
                Reason::ConnectionLimit,
                None,
                "a connection past limits.max_connections or limits.max_connections_per_ip",
            );
        }
        let Ok(permit) = self.refusing.clone().try_acquire_owned() else {
            return; // dropped: closed at once
        };
        tokio::spawn(async move {
            let _permit = permit;
            let _ = tokio::time::timeout(Duration::from_secs(1), async {
                let _ = stream.write_all(&refusal()).await;
                let _ = stream.shutdown().await;
            })
            .await;
        });
    }
}

/// Serves `app` on `listener` until `shutdown` completes, then lets open
/// connections finish (at most [`DRAIN`]).
pub async fn serve(
    listener: TcpListener,
    app: Router,
    gate: Arc<Gate>,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(gate.header_timeout)
        .keep_alive(true);
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    let mut last_error_log: Option<Instant> = None;
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    if !matches!(
                        e.kind(),
                        std::io::ErrorKind::ConnectionRefused
                            | std::io::ErrorKind::ConnectionAborted
                            | std::io::ErrorKind::ConnectionReset
                    ) {
                        // Out of file descriptors or similar: say so once a second, wait a little.
                        if last_error_log.is_none_or(|t| t.elapsed() >= Duration::from_secs(1)) {
                            tracing::error!(error = %e, "cannot accept connections");
                            last_error_log = Some(Instant::now());
                        }
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        let Some(admitted) = gate.admit(peer.ip()) else {
            gate.refuse(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let svc = app
            .clone()
            .map_request(move |mut r: hyper::Request<Incoming>| {
                r.extensions_mut().insert(ConnectInfo::<SocketAddr>(peer));
                r.map(Body::new)
            });
        let conn = http.serve_connection(TokioIo::new(stream), TowerToHyperService::new(svc));
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            let _admitted = admitted;
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "connection ended with an error");
            }
        });
    }
    drop(listener);
    if tokio::time::timeout(DRAIN, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("some connections were still open after {DRAIN:?}; closing them");
    }
    Ok(())
}
