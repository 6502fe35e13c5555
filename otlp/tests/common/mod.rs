//! Shared by the integration tests: a real receiver on 127.0.0.1 over a real
//! SQLite file, a client that replays the captured fixtures (read by
//! `scoreboard-test-support`), and what each capture must come to.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use chrono::NaiveDate;
use scoreboard_core::{DayRow, ModelUsage, PersonKey, Source, ToolDecisions};
use scoreboard_otlp::{AuthDenial, IngestAuth, IngestDecision, OtlpConfig, Receiver};
#[allow(unused_imports)] // each test binary uses some
pub use scoreboard_test_support::otlp::{capture, installation_id, scenarios, Captured, VERSIONS};

pub const TOKEN: &str = "test-token";

/// A token table like the server's: tokens can be added and revoked while running.
#[derive(Default)]
pub struct Tokens(Mutex<HashSet<String>>);

impl Tokens {
    pub fn with(token: &str) -> Arc<Tokens> {
        let t = Tokens::default();
        t.0.lock().unwrap().insert(token.to_string());
        Arc::new(t)
    }
    pub fn revoke(&self, token: &str) {
        self.0.lock().unwrap().remove(token);
    }
}

impl IngestAuth for Tokens {
    fn check(&self, bearer_token: Option<&str>) -> IngestDecision {
        match bearer_token {
            None => IngestDecision::Denied(AuthDenial::Missing, None),
            Some(t) if self.0.lock().unwrap().contains(t) => IngestDecision::Granted(None),
            Some(_) => IngestDecision::Denied(AuthDenial::Unknown, None),
        }
    }
}

pub struct Server {
    pub addr: SocketAddr,
    pub rx: Arc<Receiver>,
    pub db: PathBuf,
    pub tokens: Arc<Tokens>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
    _dir: Option<tempfile::TempDir>,
}

impl Server {
    pub async fn start() -> Server {
        Server::start_with(OtlpConfig::default()).await
    }

    pub async fn start_with(cfg: OtlpConfig) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("scoreboard.db");
        let mut s = Server::start_at(&db, cfg, Tokens::with(TOKEN)).await;
        s._dir = Some(dir);
        s
    }

    /// Opens the receiver on an existing file (a restart).
    pub async fn start_at(db: &Path, cfg: OtlpConfig, tokens: Arc<Tokens>) -> Server {
        let rx = Arc::new(Receiver::open(db, cfg, tokens.clone()).unwrap());
        let app = scoreboard_otlp::router(rx.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await
                .unwrap();
        });
        Server {
            addr,
            rx,
            db: db.to_path_buf(),
            tokens,
            stop: Some(stop),
            task: Some(task),
            _dir: None,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Stops serving and closes the receiver; keeps the temp dir alive.
    pub async fn stop(mut self) -> Option<tempfile::TempDir> {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.task.take() {
            t.await.unwrap();
        }
        self._dir.take()
    }

    pub fn rows(&self) -> Vec<DayRow> {
        self.rx
            .day_rows(
                NaiveDate::from_ymd_opt(2000, 1, 1).unwrap(),
                NaiveDate::from_ymd_opt(2100, 1, 1).unwrap(),
            )
            .unwrap()
    }
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder().build().unwrap()
}

pub struct Reply {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Vec<u8>,
}

/// Sends a captured request with its own headers and framing: chunked
/// (2.1.197) as a streamed body, sized (2.1.330) with Content-Length.
pub async fn send_captured(c: &reqwest::Client, server: &Server, req: &Captured) -> Reply {
    let mut b = c.post(server.url(&req.path));
    for (k, v) in &req.headers {
        let lk = k.to_ascii_lowercase();
        if matches!(
            lk.as_str(),
            "host" | "content-length" | "transfer-encoding" | "connection"
        ) {
            continue;
        }
        b = b.header(k.as_str(), v.as_str());
    }
    let b = if req.chunked {
        let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
            req.body.chunks(4096).map(|c| Ok(c.to_vec())).collect();
        b.body(reqwest::Body::wrap_stream(futures_util::stream::iter(
            chunks,
        )))
    } else {
        b.body(req.body.clone())
    };
    let resp = b.send().await.unwrap();
    Reply {
        status: resp.status().as_u16(),
        headers: resp.headers().clone(),
        body: resp.bytes().await.unwrap().to_vec(),
    }
}

/// Replays a whole capture in arrival order; every request must be accepted.
pub async fn replay(server: &Server, version: &str, scenario: &str) {
    let c = client();
    for req in capture(version, scenario) {
        let r = send_captured(&c, server, &req).await;
        assert_eq!(
            r.status, 200,
            "{version}/{scenario} request {} ({}) answered {}",
            req.seq, req.path, r.status
        );
    }
}

pub async fn post(
    server: &Server,
    path: &str,
    content_type: &str,
    content_encoding: Option<&str>,
    token: Option<&str>,
    body: Vec<u8>,
) -> Reply {
    let mut b = client()
        .post(server.url(path))
        .header("Content-Type", content_type);
    if let Some(e) = content_encoding {
        b = b.header("Content-Encoding", e);
    }
    if let Some(t) = token {
        b = b.header("Authorization", format!("Bearer {t}"));
    }
    let resp = b.body(body).send().await.unwrap();
    Reply {
        status: resp.status().as_u16(),
        headers: resp.headers().clone(),
        body: resp.bytes().await.unwrap().to_vec(),
    }
}

/// A JSON body with the valid token.
pub async fn post_json(server: &Server, path: &str, body: Vec<u8>) -> Reply {
    post(server, path, "application/json", None, Some(TOKEN), body).await
}

/// The installation a capture is attributed to.
pub fn device_of(version: &str, scenario: &str) -> PersonKey {
    PersonKey::device(&installation_id(version, scenario))
}

pub fn capture_day() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 22).unwrap()
}

/// What one captured session should come to.
#[derive(Debug, Clone, Default)]
pub struct Expect {
    pub sessions: u64,
    pub lines_added: u64,
    pub lines_removed: u64,
    pub commits: u64,
    /// (tool, accepted, rejected)
    pub tools: Vec<(&'static str, u64, u64)>,
    /// (model, API calls, micro-dollars per call). Each stub call used 120/42/30/10 tokens.
    pub model: Option<(&'static str, u64, i64)>,
}

impl Expect {
    pub fn row(&self, day: NaiveDate, person: PersonKey) -> DayRow {
        let mut r = DayRow::new(day, person, Source::Otlp);
        r.measures.sessions = self.sessions;
        r.measures.lines_added = self.lines_added;
        r.measures.lines_removed = self.lines_removed;
        r.measures.commits = self.commits;
        for (tool, a, rj) in &self.tools {
            r.measures.edits_accepted += a;
            r.measures.edits_rejected += rj;
            r.tools.push(ToolDecisions {
                tool: tool.to_string(),
                accepted: *a,
                rejected: *rj,
            });
        }
        if let Some((model, calls, per_call)) = self.model {
            let m = ModelUsage {
                model: model.to_string(),
                input_tokens: 120 * calls,
                output_tokens: 42 * calls,
                cache_read_tokens: 30 * calls,
                cache_creation_tokens: 10 * calls,
                cost_micros: per_call * calls as i64,
                cost_is_estimated: false,
            };
            r.measures.input_tokens = m.input_tokens;
            r.measures.output_tokens = m.output_tokens;
            r.measures.cache_read_tokens = m.cache_read_tokens;
            r.measures.cache_creation_tokens = m.cache_creation_tokens;
            r.measures.cost_micros = m.cost_micros;
            r.models.push(m);
        }
        r
    }
}

/// claude-opus-5-5 at the CLI's price: 0.0013759999999999998 USD per stub call.
pub const V330_MODEL: &str = "claude-opus-5-5";
pub const V330_CALL_MICROS: i64 = 1376;
/// 2.1.197 names its cost and token metrics with the context suffix; 0.0017275 USD per call.
pub const V197_MODEL: &str = "claude-opus-4-8[1m]";
pub const V197_CALL_MICROS: i64 = 1728;

/// The figures each capture must come to, written from the capture report
/// (otlp-capture.md) and the fixture README, not from the receiver.
pub fn expected(version: &str, scenario: &str) -> Expect {
    let (model, per_call) = if version == "claude-code-2.1.330" {
        (V330_MODEL, V330_CALL_MICROS)
    } else {
        (V197_MODEL, V197_CALL_MICROS)
    };
    let base = Expect {
        sessions: 1,
        ..Expect::default()
    };
    // A Write of a new 5-line file: 6 added, 0 removed, one accepted Write, two model calls.
    let write = Expect {
        lines_added: 6,
        tools: vec![("Write", 1, 0)],
        model: Some((model, 2, per_call)),
        ..base.clone()
    };
    match scenario {
        "hello-json-delta" | "hello-protobuf-delta" => Expect { model: Some((model, 1, per_call)), ..base },
        "write-json-delta"
        | "write-protobuf-delta"
        | "write-json-cumulative"
        | "write-protobuf-cumulative"
        | "write-json-delta-gzip"
        | "write-protobuf-delta-gzip"
        | "write-json-delta-traces"
        | "write-protobuf-delta-traces"
        | "write-json-delta-verbose"
        | "write-json-delta-retry503"
        // Replayed whole: this receiver accepts the two requests the capture server refused.
        | "write-json-delta-reject400" => write,
        "write-denied-json-delta" => Expect { tools: vec![("Write", 0, 1)], model: Some((model, 2, per_call)), ..base },
        "edit-json-delta" => Expect {
            lines_added: 2,
            lines_removed: 1,
            tools: vec![("Edit", 1, 0)],
            model: Some((model, 3, per_call)),
            ..base
        },
        "bash-commit-json-delta" => Expect { commits: 1, model: Some((model, 2, per_call)), ..base },
        "idle-json-delta" | "idle-json-cumulative" => Expect { model: Some((model, 1, per_call)), ..base },
        // The API failed: a session, no tokens, no cost.
        "apierror401-json-delta" | "apierror500-json-delta" | "noapi-json-delta" => base,
        other => panic!("no expectation written for {version}/{other}: add one"),
    }
}

/// The person a capture is attributed to.
pub fn person_of(version: &str, scenario: &str) -> PersonKey {
    if scenario == "write-json-delta-verbose" {
        // OTEL_RESOURCE_ATTRIBUTES carried user.email for this run.
        PersonKey::email("dev@example.invalid")
    } else {
        device_of(version, scenario)
    }
}

/// google.rpc.Status as a client decodes it.
#[derive(Clone, PartialEq, prost::Message)]
pub struct RpcStatus {
    #[prost(int32, tag = "1")]
    pub code: i32,
    #[prost(string, tag = "2")]
    pub message: String,
}
