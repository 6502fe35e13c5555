//! Calls to Anthropic's APIs: one [`Client`] per key, each with its own
//! circuit breaker, retrying transient failures with exponential backoff and
//! jitter (honouring `retry-after`), never retrying a request the API
//! rejected on its merits (other 4xx).

pub mod admin;
pub mod breaker;
pub mod enterprise;
pub mod paginate;

use std::sync::Arc;
use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use reqwest::header::{HeaderMap, HeaderValue};
use serde::de::DeserializeOwned;

use crate::config::{AnthropicConfig, Secret, Secrets};
use breaker::{Breaker, BreakerState};

pub const ANTHROPIC_VERSION: &str = "2023-06-01";

/// How much of an error answer is read for its message.
const ERROR_BODY_BYTES: usize = 64 * 1024;

pub fn user_agent() -> String {
    format!(
        "Scoreboard/{} (scoreboard-server; Claude Code adoption dashboard)",
        env!("CARGO_PKG_VERSION")
    )
}

/// Why a call to Anthropic failed. Messages are written for the person
/// reading the source status, and never contain a key.
#[derive(Debug, Clone, thiserror::Error)]
pub enum UpstreamError {
    #[error("the Anthropic API answered HTTP {status} ({kind}): {message}{}", request_id.as_deref().map(|r| format!(" [request-id {r}]")).unwrap_or_default())]
    Status {
        status: u16,
        /// `error.type` of the body, e.g. `rate_limit_error`; `unknown` when absent.
        kind: String,
        message: String,
        request_id: Option<String>,
        retry_after: Option<Duration>,
    },
    #[error("the Anthropic API did not answer within {}", humantime::format_duration(*.0))]
    Timeout(Duration),
    #[error("cannot reach the Anthropic API: {0}")]
    Connect(String),
    #[error("the Anthropic API sent an answer Scoreboard cannot read: {0}")]
    Decode(String),
    #[error("calls to the Anthropic API are paused after repeated failures; the next try is in about {}s", .0.as_secs().max(1))]
    BreakerOpen(Duration),
    #[error("the Anthropic API answered HTTP {status}, a redirect{}; Scoreboard never follows redirects with an API key: check anthropic.base_url", .location.as_deref().map(|l| format!(" to {l}")).unwrap_or_default())]
    Redirect {
        status: u16,
        /// Scheme and host only: a path or query could carry anything.
        location: Option<String>,
    },
    #[error("the Anthropic API sent an answer larger than {} MB; it was not read", .0 / (1024 * 1024))]
    TooLarge(usize),
}

impl UpstreamError {
    /// Worth trying again: rate limiting, overload, server errors, timeouts, network.
    pub fn is_retryable(&self) -> bool {
        match self {
            UpstreamError::Status { status, .. } => *status == 429 || *status >= 500,
            UpstreamError::Timeout(_) | UpstreamError::Connect(_) => true,
            UpstreamError::Decode(_)
            | UpstreamError::BreakerOpen(_)
            | UpstreamError::Redirect { .. }
            | UpstreamError::TooLarge(_) => false,
        }
    }
    pub fn status(&self) -> Option<u16> {
        match self {
            UpstreamError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }
    fn retry_after(&self) -> Option<Duration> {
        match self {
            UpstreamError::Status { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
    /// The key was refused: no point going on with the rest of a sync.
    pub fn is_auth(&self) -> bool {
        matches!(self.status(), Some(401) | Some(403))
    }
}

/// One API key's connection to Anthropic.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    base: String,
    cfg: AnthropicConfig,
    breaker: Arc<Breaker>,
    secrets: Secrets,
}

impl Client {
    /// `secrets` is every secret the server holds, used to scrub upstream messages.
    pub fn new(
        cfg: &AnthropicConfig,
        key: &Secret,
        secrets: Secrets,
    ) -> Result<Client, UpstreamError> {
        let mut headers = HeaderMap::new();
        let mut key_value = HeaderValue::from_str(key.expose()).map_err(|_| {
            UpstreamError::Connect(
                "the API key contains characters that cannot be sent in a header".into(),
            )
        })?;
        key_value.set_sensitive(true);
        headers.insert("x-api-key", key_value);
        headers.insert(
            "anthropic-version",
            HeaderValue::from_static(ANTHROPIC_VERSION),
        );
        let http = reqwest::Client::builder()
            .user_agent(user_agent())
            .default_headers(headers)
            // reqwest's default policy drops `Authorization` on a redirect to
            // another host, but not `x-api-key`: a 3xx would deliver the key
            // to wherever it points. The API never redirects; refuse them all.
            .redirect(reqwest::redirect::Policy::none())
            .timeout(cfg.request_timeout)
            .connect_timeout(cfg.request_timeout.min(Duration::from_secs(10)))
            .build()
            .map_err(|e| UpstreamError::Connect(e.without_url().to_string()))?;
        Ok(Client {
            http,
            base: cfg.base_url.trim_end_matches('/').to_string(),
            cfg: cfg.clone(),
            breaker: Arc::new(Breaker::new(cfg.breaker_threshold, cfg.breaker_cooldown)),
            secrets,
        })
    }

    pub fn breaker_state(&self) -> BreakerState {
        self.breaker.state()
    }

    pub fn config(&self) -> &AnthropicConfig {
        &self.cfg
    }

    /// GET `path` with `query`, retried as configured, decoded as `T`.
    pub async fn get_json<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<T, UpstreamError> {
        let backoff = ExponentialBuilder::default()
            .with_min_delay(self.cfg.retry_min_delay)
            .with_max_delay(self.cfg.retry_max_delay)
            .with_max_times(self.cfg.max_retries)
            .with_jitter();
        let max_after = self.cfg.retry_after_max;
        let body = (|| self.attempt(path, query))
            .retry(backoff)
            .when(UpstreamError::is_retryable)
            .adjust(move |e, next| {
                // Out of retries: stop, whatever the server asked for.
                let next = next?;
                match e.retry_after() {
                    // The server said when; wait that long (at least as long as our own backoff).
                    Some(after) if after <= max_after => Some(after.max(next)),
                    Some(_) => None,
                    None => Some(next),
                }
            })
            .notify(|e, wait| {
                tracing::warn!(path, wait_ms = wait.as_millis() as u64, error = %e, "Anthropic API call failed; retrying");
            })
            .await?;
        serde_json::from_slice(&body)
            .map_err(|e| UpstreamError::Decode(self.secrets.redact(&format!("{path}: {e}"))))
    }

    async fn attempt(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<Vec<u8>, UpstreamError> {
        if let Err(refused) = self.breaker.acquire() {
            return Err(UpstreamError::BreakerOpen(refused.retry_in));
        }
        let result = self.send(path, query).await;
        match &result {
            Ok(_) => self.breaker.on_success(),
            Err(e) if e.is_retryable() => self.breaker.on_failure(),
            Err(_) => self.breaker.on_neutral(),
        }
        result
    }

    async fn send(&self, path: &str, query: &[(&str, String)]) -> Result<Vec<u8>, UpstreamError> {
        let url = format!("{}{}", self.base, path);
        let resp = self
            .http
            .get(&url)
            .query(query)
            .send()
            .await
            .map_err(|e| self.transport_error(e))?;
        let status = resp.status();
        if status.is_redirection() {
            let location = resp
                .headers()
                .get(reqwest::header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|l| reqwest::Url::parse(l).ok())
                .map(|u| {
                    self.secrets.redact(&format!(
                        "{}://{}",
                        u.scheme(),
                        u.host_str().unwrap_or("?")
                    ))
                });
            return Err(UpstreamError::Redirect {
                status: status.as_u16(),
                location,
            });
        }
        let headers = resp.headers().clone();
        // An error's body is only read for its message: a little is plenty.
        let cap = if status.is_success() {
            self.cfg.max_response_bytes
        } else {
            ERROR_BODY_BYTES
        };
        let body = self.read_capped(resp, cap, status.is_success()).await?;
        if status.is_success() {
            return Ok(body);
        }
        let request_id = headers
            .get("request-id")
            .and_then(|v| v.to_str().ok())
            .map(|r| self.scrub(r, 128));
        let retry_after = headers
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|s| s.trim().parse::<f64>().ok())
            .filter(|s| s.is_finite() && *s >= 0.0)
            .map(Duration::from_secs_f64);
        let (kind, message) = error_body(&body);
        Err(UpstreamError::Status {
            status: status.as_u16(),
            kind: self.scrub(&kind, 64),
            message: self.scrub(&message, 1000),
            request_id,
            retry_after,
        })
    }

    /// Upstream text made safe to store, show and log: secrets scrubbed,
    /// control characters dropped, at most `max` characters.
    fn scrub(&self, text: &str, max: usize) -> String {
        let clean: String = text.chars().filter(|c| !c.is_control()).collect();
        let red = self.secrets.redact(&clean);
        if red.chars().count() > max {
            let mut cut: String = red.chars().take(max).collect();
            cut.push('…');
            cut
        } else {
            red
        }
    }

    /// Reads a body up to `cap` bytes. Past it: an error for an answer we
    /// need whole, the first `cap` bytes for an error's message.
    async fn read_capped(
        &self,
        mut resp: reqwest::Response,
        cap: usize,
        whole: bool,
    ) -> Result<Vec<u8>, UpstreamError> {
        if whole && resp.content_length().is_some_and(|n| n > cap as u64) {
            return Err(UpstreamError::TooLarge(cap));
        }
        let mut body = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(|e| self.transport_error(e))? {
            if body.len() + chunk.len() > cap {
                if whole {
                    return Err(UpstreamError::TooLarge(cap));
                }
                body.extend_from_slice(&chunk[..cap - body.len()]);
                break;
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }

    fn transport_error(&self, e: reqwest::Error) -> UpstreamError {
        if e.is_timeout() {
            return UpstreamError::Timeout(self.cfg.request_timeout);
        }
        // Without the URL: it holds nothing secret today, but query strings
        // are not the place to find out later that one does.
        let mut causes = String::new();
        let mut src = std::error::Error::source(&e);
        while let Some(s) = src {
            causes.push_str(": ");
            causes.push_str(&s.to_string());
            src = s.source();
        }
        let chain = format!("{}{}", e.without_url(), causes);
        UpstreamError::Connect(self.scrub(&chain, 1000))
    }
}

/// `{"type":"error","error":{"type":…,"message":…}}`; anything else is summarised.
fn error_body(body: &[u8]) -> (String, String) {
    let v: Option<serde_json::Value> = serde_json::from_slice(body).ok();
    let kind = v
        .as_ref()
        .and_then(|v| v.pointer("/error/type"))
        .and_then(|t| t.as_str())
        .unwrap_or("unknown")
        .to_string();
    let message = match v
        .as_ref()
        .and_then(|v| v.pointer("/error/message"))
        .and_then(|m| m.as_str())
    {
        Some(m) => m.to_string(),
        None => {
            let text = String::from_utf8_lossy(body);
            let t: String = text.chars().take(200).collect();
            if t.trim().is_empty() {
                "no error message".to_string()
            } else {
                t
            }
        }
    };
    (kind, message)
}
