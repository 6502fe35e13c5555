//! The server's tests' harness: the service without a socket over a real
//! store, settings for tests, the real binary; and (re-exported from
//! `scoreboard-test-support`) the fake of Anthropic's APIs.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::StatusCode;
use chrono::{DateTime, TimeZone, Utc};
use scoreboard_core::model::{DayRow, Measures, PersonKey};
use scoreboard_core::Source;
use scoreboard_server::api::app;
use scoreboard_server::config::{AnthropicConfig, Config, Secrets};
use scoreboard_server::state::AppState;
use scoreboard_server::store::{DayStats, Store};
use scoreboard_server::sync::{SyncOutcome, Syncer};
use serde_json::Value;

pub use scoreboard_test_support::anthropic::*;

/// 2026-11-20 12:00 UTC, a Friday: "now" in most tests.
pub fn noon(d: &str) -> DateTime<Utc> {
    Utc.from_utc_datetime(&day(d).and_hms_opt(12, 0, 0).unwrap())
}

// ---- the server side -------------------------------------------------------------

/// A port nothing listens on now (for the real binary's `--listen`).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The `scoreboard` binary with none of the caller's `SCOREBOARD_*` or
/// `ANTHROPIC_*` variables (`make test` sets SCOREBOARD_DIST, for one).
pub fn scoreboard_command() -> std::process::Command {
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_scoreboard"));
    for (k, _) in std::env::vars_os() {
        let k = k.to_string_lossy().to_string();
        if k.starts_with("SCOREBOARD_") || k.starts_with("ANTHROPIC_") {
            c.env_remove(k);
        }
    }
    c
}

/// `scoreboard serve` on 127.0.0.1:`port` with its database in `dir`.
pub fn serve_command(port: u16, dir: &Path) -> std::process::Command {
    let mut c = scoreboard_command();
    c.args([
        "serve",
        "--listen",
        &format!("127.0.0.1:{port}"),
        "--data-dir",
    ])
    .arg(dir);
    c
}

/// Settings for tests: short timeouts and backoffs, so nothing sleeps for seconds.
pub fn test_config(fake: &Fake, data_dir: &Path) -> Config {
    let anthropic = AnthropicConfig {
        base_url: fake.url(),
        sync_interval: Duration::from_secs(900),
        backfill_days: 3,
        concurrency: 4,
        request_timeout: Duration::from_millis(300),
        max_retries: 3,
        retry_min_delay: Duration::from_millis(1),
        retry_max_delay: Duration::from_millis(10),
        retry_after_max: Duration::from_secs(5),
        breaker_threshold: 50,
        breaker_cooldown: Duration::from_millis(200),
        page_limit: 1000,
        max_response_bytes: 32 * 1024 * 1024,
    };
    let secrets = Secrets::from_lookup(|n| match n {
        "ANTHROPIC_ADMIN_API_KEY" => Some(ADMIN_KEY.to_string()),
        _ => None,
    });
    Config {
        data_dir: data_dir.to_path_buf(),
        anthropic,
        secrets,
        ..Config::default()
    }
}

pub struct Harness {
    pub store: Arc<Store>,
    pub syncer: Arc<Syncer>,
    pub state: AppState,
    pub config: Config,
    now: Arc<Mutex<DateTime<Utc>>>,
    /// The data folder, when the harness made it ([`Harness::against`]).
    _dir: Option<tempfile::TempDir>,
}

impl Harness {
    /// Over a fresh data folder of its own, the Anthropic APIs being `fake`
    /// ([`test_config`]: the Admin API key).
    pub fn against(fake: &Fake) -> Harness {
        Harness::against_with(fake, |_| {})
    }

    /// As [`Harness::against`], with the settings changed by `edit` first.
    pub fn against_with(fake: &Fake, edit: impl FnOnce(&mut Config)) -> Harness {
        let dir = tempfile::tempdir().unwrap();
        let mut config = test_config(fake, dir.path());
        edit(&mut config);
        let mut h = Harness::new(config);
        h._dir = Some(dir);
        h
    }

    /// One sync of `source` at `now`.
    pub async fn sync(&self, source: Source, now: DateTime<Utc>) -> SyncOutcome {
        self.syncer.sync(source, now).await.unwrap()
    }

    /// The API's clock starts at [`noon`] of 2026-11-20; see [`Harness::set_now`].
    pub fn new(config: Config) -> Harness {
        Harness::with_telemetry(config, None)
    }

    pub fn with_telemetry(
        config: Config,
        telemetry: Option<Arc<scoreboard_otlp::Receiver>>,
    ) -> Harness {
        let store = Arc::new(Store::open(&config.db_path()).unwrap());
        let syncer = Arc::new(Syncer::new(&config, store.clone()).unwrap());
        let now = Arc::new(Mutex::new(noon("2026-11-20")));
        let clock_now = now.clone();
        let clock: scoreboard_server::clock::Clock = Arc::new(move || *clock_now.lock().unwrap());
        let state = AppState::with_clock(&config, store.clone(), syncer.clone(), telemetry, clock);
        Harness {
            store,
            syncer,
            state,
            config,
            now,
            _dir: None,
        }
    }

    /// Over `config`'s store with a telemetry receiver on the same file.
    pub fn with_receiver(config: Config) -> Harness {
        let receiver = telemetry_receiver(&config);
        Harness::with_telemetry(config, Some(receiver))
    }

    /// Around a state built elsewhere (its own clock).
    pub fn with_state(state: AppState, config: Config) -> Harness {
        let store = state.store().clone();
        let syncer = state.syncer().clone();
        Harness {
            store,
            syncer,
            state,
            config,
            now: Arc::new(Mutex::new(Utc::now())),
            _dir: None,
        }
    }

    pub fn set_now(&self, t: DateTime<Utc>) {
        *self.now.lock().unwrap() = t;
    }

    /// GET `uri` through the service (no socket); status and body text.
    pub async fn get(&self, uri: &str, headers: &[(&str, &str)]) -> (StatusCode, String) {
        self.request("GET", uri, headers, Vec::new()).await
    }

    /// Posts every request of the captured Claude Code session
    /// `claude-code-2.1.330/edit-json-delta`, as it was sent, with `token`;
    /// each answer's status and body.
    pub async fn send_session(&self, token: &str) -> Vec<(StatusCode, String)> {
        let auth = format!("Bearer {token}");
        let mut out = Vec::new();
        for req in scoreboard_test_support::otlp::capture("claude-code-2.1.330", "edit-json-delta")
        {
            let headers = [
                ("content-type", "application/json"),
                ("authorization", auth.as_str()),
            ];
            out.push(self.request("POST", &req.path, &headers, req.body).await);
        }
        out
    }

    /// The headers of GET `uri` through the service (no socket).
    pub async fn get_headers(&self, uri: &str) -> axum::http::HeaderMap {
        use tower::ServiceExt;
        let req = axum::http::Request::get(uri)
            .body(axum::body::Body::empty())
            .unwrap();
        app(self.state.clone())
            .oneshot(req)
            .await
            .unwrap()
            .headers()
            .clone()
    }

    pub async fn request(
        &self,
        method: &str,
        uri: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> (StatusCode, String) {
        let (status, _, bytes) = self.exchange(method, uri, headers, body).await;
        (status, String::from_utf8_lossy(&bytes).to_string())
    }

    /// One request through the service (no socket): status, headers and
    /// body bytes as sent.
    pub async fn exchange(
        &self,
        method: &str,
        uri: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
        use tower::ServiceExt;
        let mut req = axum::http::Request::builder().method(method).uri(uri);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let resp = app(self.state.clone())
            .oneshot(req.body(axum::body::Body::from(body)).unwrap())
            .await
            .unwrap();
        let (status, headers) = (resp.status(), resp.headers().clone());
        let bytes = http_body_util::BodyExt::collect(resp.into_body())
            .await
            .unwrap()
            .to_bytes();
        (status, headers, bytes.to_vec())
    }

    pub async fn get_json(&self, uri: &str) -> Value {
        let (status, body) = self.get(uri, &[]).await;
        assert_eq!(status, StatusCode::OK, "{uri}: {body}");
        serde_json::from_str(&body).unwrap()
    }

    /// GET with `Authorization: <auth>` (e.g. "Bearer sbv_…").
    pub async fn get_json_as(&self, uri: &str, auth: &str) -> Value {
        let (status, body) = self.get(uri, &[("authorization", auth)]).await;
        assert_eq!(status, StatusCode::OK, "{uri}: {body}");
        serde_json::from_str(&body).unwrap()
    }
}

/// The `/api/sources` entry of one source.
pub fn source_status(sources: &Value, name: &str) -> Value {
    sources["sources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["source"] == name)
        .cloned()
        .unwrap()
}

/// The telemetry receiver on `config`'s database file, its token check over
/// a store of its own, as `serve` opens it.
pub fn telemetry_receiver(config: &Config) -> Arc<scoreboard_otlp::Receiver> {
    let store = Arc::new(Store::open(&config.db_path()).unwrap());
    Arc::new(
        scoreboard_otlp::Receiver::open(
            &config.db_path(),
            scoreboard_otlp::OtlpConfig::default(),
            Arc::new(scoreboard_server::auth::IngestTokens::new(store)),
        )
        .unwrap(),
    )
}

/// Stores the Admin API's rows of `day` for `people` (e-mail, sessions),
/// as a sync would.
pub fn admin_day(h: &Harness, on: &str, people: &[(&str, u64)]) {
    let rows: Vec<DayRow> = people
        .iter()
        .map(|(p, sessions)| {
            let mut r = DayRow::new(day(on), PersonKey::email(p), Source::AdminApi);
            r.measures = Measures {
                sessions: *sessions,
                lines_added: sessions * 40,
                cost_micros: *sessions as i64 * 1_250_000,
                ..Measures::default()
            };
            r
        })
        .collect();
    let stats = DayStats {
        records: rows.len() as u64,
        user_actor_records: rows.len() as u64,
        non_api_records: 0,
    };
    h.store
        .replace_day(Source::AdminApi, day(on), &rows, &stats, Utc::now())
        .unwrap();
}

/// The sessions of `person`'s rows in an `/api/rows` answer, in its order.
pub fn sessions(a: &scoreboard_core::api::RowsAnswer, person: &str) -> Vec<u64> {
    a.rows
        .iter()
        .filter(|r| r.person.as_str() == person)
        .map(|r| r.measures.sessions)
        .collect()
}

/// Posts one captured session as `email`, `days` after it was captured.
pub async fn telemetry(h: &Harness, token: &str, email: &str, days: u64) {
    let t = scoreboard_test_support::otlp::Template::load(
        &scoreboard_test_support::otlp::fixtures(),
        "claude-code-2.1.330",
        "edit-json-delta",
    )
    .unwrap();
    let auth = format!("Bearer {token}");
    for b in t.session(
        &format!("inst-{email}"),
        &format!("s-{email}"),
        Some(email),
        days,
        false,
    ) {
        let (status, body) = h
            .request(
                "POST",
                b.path,
                &[("content-type", b.content_type), ("authorization", &auth)],
                b.body,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
}

/// Stores one row of `source` for `email` on `on`, as a sync would: 4
/// sessions, and one model's and one tool's split (what the compact
/// encoding and the store's day blobs keep apart from the measures).
pub fn split_day(h: &Harness, source: Source, on: &str, email: &str) {
    use scoreboard_core::model::{ModelUsage, ToolDecisions};
    let mut split = DayRow::new(day(on), PersonKey::email(email), source);
    split.measures.sessions = 4;
    split.measures.cost_micros = 12_345;
    split.models = vec![ModelUsage {
        model: "claude-opus-4-1".into(),
        input_tokens: 900,
        output_tokens: 30,
        cache_read_tokens: 7,
        cache_creation_tokens: 1,
        cost_micros: 12_345,
        cost_is_estimated: true,
    }];
    split.tools = vec![ToolDecisions {
        tool: "edit_tool".into(),
        accepted: 5,
        rejected: 2,
    }];
    h.store
        .replace_day(source, day(on), &[split], &DayStats::default(), Utc::now())
        .unwrap();
}
