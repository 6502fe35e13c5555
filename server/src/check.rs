//! `scoreboard token check`: sends one telemetry request the way Claude
//! Code does and says in plain words what came back.
//!
//! The request is an empty metrics export (`{"resourceMetrics":[]}`) with
//! Claude Code's headers (`Content-Type: application/json`, the bearer
//! token, OpenTelemetry JS's `User-Agent`) to `<endpoint>/v1/metrics`, the
//! URL Claude Code builds from `OTEL_EXPORTER_OTLP_ENDPOINT`. It goes
//! through the same door as real telemetry (host check, proxy, token
//! check), and Scoreboard's receiver stores nothing for an export without
//! a resource: no row, no "last received", no batch counted. A refused
//! token is counted like any refusal, which is what an admin wants to see.

use std::time::Duration;

use reqwest::StatusCode;

/// What the check found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The server took the request with this token.
    Ok,
    /// The server knows the token and it was revoked.
    Revoked,
    /// The server does not know the token (mistyped, from another server, or deleted).
    Unknown,
    /// A viewer or admin token: it cannot send telemetry.
    WrongKind,
    /// Nothing answered at that address (refused, no such name, timed out).
    Unreachable,
    /// The TLS handshake failed (certificate, or http/https mixed up).
    Tls,
    /// Something answered, but there is no OTLP receiver on that path.
    WrongPath,
    /// The address redirects elsewhere; Claude Code does not follow it.
    Redirect,
    /// Something other than an OTLP receiver answered (a proxy, a web page).
    NotOtlp,
    /// The server or a proxy in front is busy or cannot reach the server.
    Unavailable,
}

/// The outcome in words: a first line, then what to do.
#[derive(Debug, Clone)]
pub struct Report {
    pub verdict: Verdict,
    pub lines: Vec<String>,
}

impl Report {
    fn new(verdict: Verdict, lines: Vec<String>) -> Report {
        Report { verdict, lines }
    }
    pub fn text(&self) -> String {
        let mut s = self.lines.join("\n");
        s.push('\n');
        s
    }
}

/// The `User-Agent` of Claude Code's exporter (OpenTelemetry JS), so a
/// proxy that filters clients treats the check as it treats Claude Code.
const CLAUDE_CODE_USER_AGENT: &str = "OTel-OTLP-Exporter-JavaScript/0.208.0";
const TIMEOUT: Duration = Duration::from_secs(10);
/// The body of an empty metrics export: nothing to store.
const EMPTY_EXPORT: &str = r#"{"resourceMetrics":[]}"#;

/// Every message in an error's chain, lower-cased, to tell causes apart.
fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

fn transport_failure(endpoint: &str, target: &str, e: &reqwest::Error) -> Report {
    let text = chain(e);
    let lower = text.to_ascii_lowercase();
    let tls = ["certificate", "tls", "handshake", "corrupt message", "ssl"]
        .iter()
        .any(|k| lower.contains(k));
    if tls {
        let mut lines = vec![format!(
            "PROBLEM (TLS): the secure connection to {endpoint} failed: {text}"
        )];
        if endpoint.starts_with("https://") && lower.contains("corrupt message") {
            lines.push(
                "The server answered without TLS: if it serves plain HTTP, use an http:// endpoint."
                    .into(),
            );
        } else {
            lines.push(
                "Claude Code checks certificates the same way: the server (or its proxy) needs a \
                 certificate machines trust, or each machine needs the CA (NODE_EXTRA_CA_CERTS)."
                    .into(),
            );
        }
        return Report::new(Verdict::Tls, lines);
    }
    let why = if e.is_timeout() {
        format!(
            "no answer within {} seconds (a firewall dropping the connection?)",
            TIMEOUT.as_secs()
        )
    } else if lower.contains("dns") || lower.contains("lookup") || lower.contains("resolve") {
        "the server's name does not resolve from this machine".to_string()
    } else if lower.contains("refused") {
        "the connection was refused: nothing listens on that address and port".to_string()
    } else {
        text.clone()
    };
    Report::new(
        Verdict::Unreachable,
        vec![
            format!("PROBLEM (unreachable): {target} could not be reached: {why}."),
            "Claude Code would lose its telemetry the same way, silently. Check the address \
             (`scoreboard token create` prints the one the server uses), that `scoreboard serve` \
             runs, and that this machine may connect to it."
                .into(),
        ],
    )
}

/// The receiver's own error message, when the body is its OTLP status JSON.
fn receiver_message(body: &[u8]) -> Option<String> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    v.get("message")?.as_str().map(str::to_string)
}

/// Asks `<endpoint>/v1/metrics` with `token`, as Claude Code would.
pub async fn run(endpoint: &str, token: &str) -> Report {
    let endpoint = endpoint.trim().trim_end_matches('/');
    let target = format!("{endpoint}/v1/metrics");
    let client = match reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(TIMEOUT)
        .user_agent(CLAUDE_CODE_USER_AGENT)
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            return Report::new(
                Verdict::Unreachable,
                vec![format!("PROBLEM: cannot set up an HTTP client: {e}")],
            )
        }
    };
    let sent = client
        .post(&target)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header(
            reqwest::header::AUTHORIZATION,
            format!("Bearer {}", token.trim()),
        )
        .body(EMPTY_EXPORT)
        .send()
        .await;
    let resp = match sent {
        Ok(r) => r,
        Err(e) => return transport_failure(endpoint, &target, &e),
    };
    let status = resp.status();
    let location = resp
        .headers()
        .get(reqwest::header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let content_type = resp
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    let body = resp.bytes().await.unwrap_or_default();
    let from_receiver = receiver_message(&body);
    let path_hint = if endpoint.ends_with("/v1/metrics") || endpoint.ends_with("/v1") {
        format!(
            "The endpoint must be the server's base address: Claude Code appends /v1/metrics itself. \
             Use {} instead.",
            endpoint
                .trim_end_matches("/metrics")
                .trim_end_matches("/v1")
        )
    } else {
        "The endpoint must be the server's base address (Claude Code appends /v1/metrics); a proxy \
         in front must pass /v1/metrics, /v1/logs and /v1/traces through to Scoreboard."
            .to_string()
    };
    match status {
        s if s.is_success() && content_type.starts_with("text/html") => Report::new(
            Verdict::NotOtlp,
            vec![
                format!("PROBLEM (not Scoreboard): {target} answered {s} with a web page, not a telemetry receiver."),
                "A proxy's login page or another site is in the way; Claude Code would count this as \
                 delivered and its data would be lost."
                    .into(),
            ],
        ),
        s if s.is_success() => Report::new(
            Verdict::Ok,
            vec![
                format!("OK: {target} accepted a telemetry request with this token ({s})."),
                "Claude Code with these settings reaches the server and its token is valid. Nothing was \
                 stored (the request was an empty export)."
                    .into(),
            ],
        ),
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
            let msg = from_receiver.unwrap_or_default();
            let (verdict, first) = if msg.contains("revoked") {
                (
                    Verdict::Revoked,
                    "PROBLEM (revoked token): the server knows this token, and it was revoked.".to_string(),
                )
            } else if msg.contains("cannot send telemetry") {
                (
                    Verdict::WrongKind,
                    "PROBLEM (wrong kind of token): this is a viewer or admin token; telemetry needs an \
                     ingest token (sbi_…)."
                        .to_string(),
                )
            } else if msg.contains("ingestion token") {
                (
                    Verdict::Unknown,
                    "PROBLEM (unknown token): the server does not know this token: mistyped, cut short, \
                     or created on another server (another --data-dir)."
                        .to_string(),
                )
            } else {
                (
                    Verdict::NotOtlp,
                    format!(
                        "PROBLEM (proxy): {target} answered {status} without Scoreboard's message: a proxy \
                         in front asks for its own credentials."
                    ),
                )
            };
            let mut lines = vec![first];
            if verdict != Verdict::NotOtlp {
                lines.push(
                    "The server reached, but refuses this token: Claude Code's telemetry is dropped. \
                     Create a new token (`scoreboard token create`) and install its settings."
                        .into(),
                );
            } else {
                lines.push(
                    "Let /v1/* through to Scoreboard without the proxy's login: Claude Code sends only \
                     the Scoreboard token."
                        .into(),
                );
            }
            Report::new(verdict, lines)
        }
        StatusCode::NOT_FOUND | StatusCode::METHOD_NOT_ALLOWED => Report::new(
            Verdict::WrongPath,
            vec![
                format!("PROBLEM (wrong path): {target} answered {status}: no telemetry receiver there."),
                path_hint,
            ],
        ),
        s if s.is_redirection() => Report::new(
            Verdict::Redirect,
            vec![
                format!(
                    "PROBLEM (redirect): {target} answered {s} and sends clients to {}.",
                    location.as_deref().unwrap_or("another address")
                ),
                "Claude Code's exporter does not follow redirects: put the address it redirects to \
                 (often the https:// one) in the settings."
                    .into(),
            ],
        ),
        StatusCode::TOO_MANY_REQUESTS
        | StatusCode::BAD_GATEWAY
        | StatusCode::SERVICE_UNAVAILABLE
        | StatusCode::GATEWAY_TIMEOUT => {
            let who = if from_receiver.is_some() {
                "the server is busy; Claude Code retries such answers, so nothing is lost yet"
            } else {
                "no Scoreboard message: a proxy in front could not reach the server"
            };
            Report::new(
                Verdict::Unavailable,
                vec![format!("PROBLEM (unavailable): {target} answered {status}: {who}.")],
            )
        }
        s => Report::new(
            Verdict::NotOtlp,
            vec![
                format!(
                    "PROBLEM: {target} answered {s}{}.",
                    from_receiver
                        .map(|m| format!(": {m}"))
                        .unwrap_or_else(|| " without Scoreboard's message (a proxy?)".into())
                ),
                path_hint,
            ],
        ),
    }
}

/// What a Claude Code settings file (`managed-settings.json`,
/// `~/.claude/settings.json`) makes Claude Code send: read as Claude Code
/// reads its `env` block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FromSettings {
    pub endpoint: String,
    pub token: String,
    /// Settings that would stop Claude Code sending at all.
    pub problems: Vec<String>,
}

/// Reads the telemetry settings out of a settings file's text.
pub fn from_settings(name: &str, text: &[u8]) -> Result<FromSettings, String> {
    let doc: serde_json::Value =
        serde_json::from_slice(text).map_err(|e| format!("{name} is not JSON: {e}"))?;
    let env = doc
        .get("env")
        .and_then(|e| e.as_object())
        .ok_or_else(|| format!("{name} has no \"env\" block: it sets no telemetry"))?;
    let get = |k: &str| {
        env.get(k)
            .and_then(|v| v.as_str())
            .map(str::trim)
            .filter(|v| !v.is_empty())
    };
    let mut problems = Vec::new();
    if get("CLAUDE_CODE_ENABLE_TELEMETRY") != Some("1") {
        problems.push(
            "CLAUDE_CODE_ENABLE_TELEMETRY is not \"1\": Claude Code sends no telemetry".to_string(),
        );
    }
    if !get("OTEL_METRICS_EXPORTER").is_some_and(|v| v.split(',').any(|x| x.trim() == "otlp")) {
        problems
            .push("OTEL_METRICS_EXPORTER does not include otlp: no metrics are sent".to_string());
    }
    match get("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL").or(get("OTEL_EXPORTER_OTLP_PROTOCOL")) {
        Some("http/json" | "http/protobuf") => {}
        Some(p) => problems.push(format!(
            "the protocol is {p}: Scoreboard receives OTLP over HTTP (http/json or http/protobuf)"
        )),
        None => problems.push(
            "OTEL_EXPORTER_OTLP_PROTOCOL is not set: Claude Code has no default and sends nothing"
                .to_string(),
        ),
    }
    // A per-signal endpoint is a full URL; the generic one gets /v1/metrics appended.
    let endpoint = match get("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT") {
        Some(full) => full
            .trim_end_matches('/')
            .trim_end_matches("/v1/metrics")
            .to_string(),
        None => get("OTEL_EXPORTER_OTLP_ENDPOINT")
            .ok_or_else(|| format!("{name} sets no OTEL_EXPORTER_OTLP_ENDPOINT"))?
            .to_string(),
    };
    // Per-signal headers are merged over the generic ones; each is `k=v`, split on `,`.
    let mut bearer = None;
    for var in [
        "OTEL_EXPORTER_OTLP_HEADERS",
        "OTEL_EXPORTER_OTLP_METRICS_HEADERS",
    ] {
        for item in get(var).unwrap_or_default().split(',') {
            if let Some((k, v)) = item.split_once('=') {
                if k.trim().eq_ignore_ascii_case("authorization") {
                    bearer = v
                        .trim()
                        .strip_prefix("Bearer ")
                        .map(|t| t.trim().to_string());
                }
            }
        }
    }
    let token = bearer.ok_or_else(|| {
        format!("{name} sends no `Authorization=Bearer <token>` in OTEL_EXPORTER_OTLP_HEADERS")
    })?;
    Ok(FromSettings {
        endpoint,
        token,
        problems,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_are_read_as_claude_code_reads_them() {
        let printed = scoreboard_core::telemetry::settings_json("https://sb.example.com", "sbi_x");
        let s = from_settings("settings.json", printed.as_bytes()).unwrap();
        assert_eq!(s.endpoint, "https://sb.example.com");
        assert_eq!(s.token, "sbi_x");
        assert!(s.problems.is_empty(), "{:?}", s.problems);
        let per_signal =
            br#"{"env": {"CLAUDE_CODE_ENABLE_TELEMETRY": "1", "OTEL_METRICS_EXPORTER": "otlp",
            "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
            "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT": "https://m.example.com/v1/metrics",
            "OTEL_EXPORTER_OTLP_HEADERS": "x-team=a, Authorization=Bearer sbi_y"}}"#;
        let s = from_settings("managed-settings.json", per_signal).unwrap();
        assert_eq!(
            (s.endpoint.as_str(), s.token.as_str()),
            ("https://m.example.com", "sbi_y")
        );
        assert_eq!(s.problems.len(), 1);
        assert!(s.problems[0].contains("grpc"));
        assert!(from_settings("x", br#"{"env": {}}"#).is_err());
    }
}
