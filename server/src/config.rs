//! Settings of `scoreboard serve`: a TOML file, overridden by flags and
//! `SCOREBOARD_*` variables, plus the two secrets, which come only from the
//! environment (`ANTHROPIC_ADMIN_API_KEY`, `ANTHROPIC_ANALYTICS_API_KEY`).
//!
//! Why secrets never come from the file: a config file gets committed, copied
//! into tickets and printed; an environment variable is the one place a
//! service manager or a secret store can put a key without it being written
//! down. The file parser refuses any key-like setting outright, and it never
//! echoes the offending line (the TOML crate's own error display would).

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use axum::http::HeaderName;
use serde::Deserialize;

/// Environment variable holding the Admin API key (`sk-ant-admin01-…`).
pub const ADMIN_KEY_ENV: &str = "ANTHROPIC_ADMIN_API_KEY";
/// Environment variable holding the Enterprise Analytics API key (`read:analytics`).
pub const ANALYTICS_KEY_ENV: &str = "ANTHROPIC_ANALYTICS_API_KEY";
/// Environment variable holding the token a scraper may use for `/metrics` only.
pub const METRICS_TOKEN_ENV: &str = "SCOREBOARD_METRICS_TOKEN";
/// Environment variable holding the weekly digest's incoming-webhook URL
/// (it carries the chat's credential in its path).
pub const DIGEST_WEBHOOK_ENV: &str = "SCOREBOARD_DIGEST_WEBHOOK_URL";

pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
pub const DEFAULT_DATA_DIR: &str = "./data";
pub const DEFAULT_BASE_URL: &str = "https://api.anthropic.com";
pub const DB_FILE: &str = "scoreboard.db";

/// A credential. It has no `Display` and no `Serialize`, and its `Debug`
/// prints `[redacted]`, so it cannot reach a log line, a response or an
/// error message by accident; [`Secret::expose`] is the one way out, used
/// only where the header is built.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// `None` for an unset or blank value: an empty variable means "not configured".
    pub fn new(value: impl Into<String>) -> Option<Secret> {
        let v = value.into();
        let v = v.trim();
        if v.is_empty() {
            None
        } else {
            Some(Secret(v.to_string()))
        }
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// The shortest start of a held secret that [`Secrets::redact`] scrubs.
pub const REDACT_MIN_PREFIX: usize = 12;

/// The secrets the server holds. Read from the environment only.
#[derive(Clone, Default, Debug)]
pub struct Secrets {
    pub admin_api_key: Option<Secret>,
    pub analytics_api_key: Option<Secret>,
    // ---- feeds and digest (issue 15) ----
    /// A token that reads `/metrics` and nothing else (a Prometheus scraper's).
    pub metrics_token: Option<Secret>,
    /// Where `serve` posts the weekly digest.
    pub digest_webhook_url: Option<Secret>,
}

impl Secrets {
    pub fn from_env() -> Secrets {
        Secrets::from_lookup(|name| std::env::var(name).ok())
    }
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Secrets {
        Secrets {
            admin_api_key: get(ADMIN_KEY_ENV).and_then(Secret::new),
            analytics_api_key: get(ANALYTICS_KEY_ENV).and_then(Secret::new),
            metrics_token: get(METRICS_TOKEN_ENV).and_then(Secret::new),
            digest_webhook_url: get(DIGEST_WEBHOOK_ENV).and_then(Secret::new),
        }
    }
    /// Scrubs any text that came from upstream (error messages, error
    /// types, request ids, transport errors: they are stored, shown and
    /// logged, and an upstream could echo a key back, whole or cut short):
    /// every `sk-ant-…` token, and every run of at least
    /// [`REDACT_MIN_PREFIX`] characters that starts a held secret (the whole
    /// secret when it is shorter), become `[redacted]`.
    pub fn redact(&self, text: &str) -> String {
        let secrets: Vec<&[u8]> = [
            &self.admin_api_key,
            &self.analytics_api_key,
            &self.metrics_token,
            &self.digest_webhook_url,
        ]
        .into_iter()
        .flatten()
        .map(|s| s.0.as_bytes())
        .filter(|s| !s.is_empty())
        .collect();
        let bytes = text.as_bytes();
        let mut out = String::with_capacity(text.len());
        let mut plain_from = 0;
        let mut i = 0;
        while i < bytes.len() {
            let mut cut = 0;
            if bytes[i..].starts_with(b"sk-ant-") {
                cut = 7 + bytes[i + 7..]
                    .iter()
                    .take_while(|b| b.is_ascii_alphanumeric() || **b == b'-' || **b == b'_')
                    .count();
            }
            for s in &secrets {
                let common = bytes[i..]
                    .iter()
                    .zip(s.iter())
                    .take_while(|(a, b)| a == b)
                    .count();
                if common >= REDACT_MIN_PREFIX.min(s.len()) {
                    cut = cut.max(common);
                }
            }
            if cut > 0 {
                // Secrets and the pattern are ASCII: `i` and `i + cut` are char boundaries.
                out.push_str(&text[plain_from..i]);
                out.push_str("[redacted]");
                i += cut;
                plain_from = i;
            } else {
                i += 1;
            }
        }
        if plain_from < bytes.len() {
            out.push_str(&text[plain_from..]);
        }
        out
    }
}

/// Everything about talking to Anthropic's APIs.
#[derive(Clone, Debug, PartialEq)]
pub struct AnthropicConfig {
    /// Without a trailing slash.
    pub base_url: String,
    /// Time between two syncs of each source.
    pub sync_interval: Duration,
    /// History fetched on first start (days, counting today).
    pub backfill_days: u32,
    /// Days fetched at the same time.
    pub concurrency: usize,
    /// A request taking longer is abandoned and retried.
    pub request_timeout: Duration,
    /// Retries of one request after the first attempt.
    pub max_retries: usize,
    pub retry_min_delay: Duration,
    pub retry_max_delay: Duration,
    /// Longest `retry-after` the client is willing to honour; a longer one fails the request.
    pub retry_after_max: Duration,
    /// Consecutive failed requests that open the circuit breaker.
    pub breaker_threshold: u32,
    /// How long the breaker stays open before it lets one probe through.
    pub breaker_cooldown: Duration,
    /// `limit` sent with every list request (the APIs' maximum is 1000).
    pub page_limit: u32,
    /// Largest answer read from the API (a page of 1000 records is a few MB);
    /// past it the request fails instead of filling memory.
    pub max_response_bytes: usize,
}

impl Default for AnthropicConfig {
    fn default() -> AnthropicConfig {
        AnthropicConfig {
            base_url: DEFAULT_BASE_URL.to_string(),
            sync_interval: Duration::from_secs(15 * 60),
            backfill_days: 90,
            concurrency: 4,
            request_timeout: Duration::from_secs(30),
            max_retries: 5,
            retry_min_delay: Duration::from_secs(1),
            retry_max_delay: Duration::from_secs(60),
            retry_after_max: Duration::from_secs(300),
            breaker_threshold: 5,
            breaker_cooldown: Duration::from_secs(120),
            page_limit: 1000,
            max_response_bytes: 32 * 1024 * 1024,
        }
    }
}

/// Bounds on what clients may hold or store (ARCHITECTURE.md, "Security model").
#[derive(Clone, Debug, PartialEq)]
pub struct Limits {
    /// Open connections on each listener; past it a connection gets 503 and is closed.
    /// Lowered at start-up to fit the process's open-file limit.
    pub max_connections: usize,
    /// Open connections from one IP address on each listener.
    pub max_connections_per_ip: usize,
    /// A client must send a request's headers within this time (idle
    /// keep-alive connections included), or the connection is closed.
    pub header_timeout: Duration,
    /// A request body must arrive whole within this time (telemetry: 408;
    /// the page API: 408).
    pub body_timeout: Duration,
    /// Share snapshots one person (token, identity or the operator) may keep.
    pub snapshots_per_owner: usize,
    /// Bytes of share snapshots one person may keep.
    pub snapshot_bytes_per_owner: u64,
    /// Bytes of share snapshots the server keeps in all.
    pub snapshot_bytes_total: u64,
    /// Snapshot uploads one person may make in a minute (each is unpacked
    /// and checked; a person shares a few a day).
    pub snapshot_uploads_per_minute: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_connections: 1024,
            max_connections_per_ip: 256,
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(60),
            snapshots_per_owner: 100,
            snapshot_bytes_per_owner: 64_000_000,
            snapshot_bytes_total: 1_000_000_000,
            snapshot_uploads_per_minute: 20,
        }
    }
}

/// Headers a browser or an ordinary client sets by itself, or that proxies
/// pass on unchanged: as the trusted identity header, any of them would let
/// every client in.
const NOT_AN_IDENTITY_HEADER: [&str; 30] = [
    "accept",
    "accept-charset",
    "accept-encoding",
    "accept-language",
    "authorization",
    "cache-control",
    "connection",
    "content-encoding",
    "content-language",
    "content-length",
    "content-type",
    "cookie",
    "dnt",
    "expect",
    "forwarded",
    "host",
    "origin",
    "pragma",
    "priority",
    "range",
    "referer",
    "te",
    "transfer-encoding",
    "upgrade",
    "user-agent",
    "via",
    "x-forwarded-for",
    "x-forwarded-host",
    "x-real-ip",
    "x-requested-with",
];

/// Why `name` cannot be the trusted identity header, if it cannot.
fn identity_header_problem(name: &HeaderName) -> Option<String> {
    let n = name.as_str();
    let generic = NOT_AN_IDENTITY_HEADER.contains(&n)
        || n.starts_with("sec-")
        || n.starts_with("if-")
        || n.starts_with("accept-")
        || n.starts_with("content-")
        || n.starts_with("proxy-")
        || n.starts_with("x-forwarded-proto")
        || n.starts_with("x-forwarded-port")
        || n == WRITE_HEADER;
    generic.then(|| {
        format!(
            "{name} is sent by every browser or client (or passed on by proxies), so it would let \
             everyone read; use the header your reverse proxy sets after authenticating the user, \
             e.g. X-Forwarded-Email or X-Auth-Request-Email"
        )
    })
}

/// The effective settings of `scoreboard serve`.
#[derive(Clone, Debug)]
pub struct Config {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    pub dist: Option<PathBuf>,
    pub roster: Option<PathBuf>,
    /// Serve the read API without credentials on a non-loopback address.
    pub public: bool,
    /// The URL engineers' machines reach this server at (for the telemetry snippet).
    pub public_url: Option<String>,
    /// Header a reverse proxy sets to the authenticated user; its presence grants read access.
    pub trusted_identity_header: Option<HeaderName>,
    /// Host names (besides IP addresses, `localhost` and `public_url`'s
    /// host) a server with open reads answers to.
    pub allowed_hosts: Vec<String>,
    pub limits: Limits,
    /// Second listener for OTLP/HTTP only (the main listener also takes `/v1/*`).
    pub otlp_listen: Option<SocketAddr>,
    pub demo: bool,
    /// Telemetry attribute naming the person when Claude Code sends no e-mail
    /// or account id (e.g. `enduser.id` set through `OTEL_RESOURCE_ATTRIBUTES`).
    pub telemetry_identity_attribute: Option<String>,
    pub anthropic: AnthropicConfig,
    pub secrets: Secrets,
    /// Origins (`https://host[:port]`) whose pages may show this one in a
    /// frame (embeds, issue 15): the page's CSP `frame-ancestors`. Empty:
    /// nobody ('none').
    pub frame_ancestors: Vec<String>,
    /// The exports folder and the weekly digest (issue 15).
    pub feeds: FeedsConfig,
}

// ---- feeds and digest (issue 15) ------------------------------------------

/// The exports folder and the weekly digest's schedule. The webhook URL is a
/// secret ([`Secrets::digest_webhook_url`]), from the environment only.
#[derive(Debug, Clone, PartialEq)]
pub struct FeedsConfig {
    /// A folder of usage exports and API dumps served with the live sources.
    pub imports_dir: Option<PathBuf>,
    /// When `serve` posts the digest, e.g. "Mon 09:00 Europe/Berlin".
    pub digest_schedule: Option<crate::schedule::Schedule>,
    /// The digest names the people who have not started (off by default).
    pub digest_include_non_starters: bool,
    /// How often `serve` checks whether the digest is due (not a file
    /// setting: tests shorten it to move a fake clock along).
    pub digest_tick: Duration,
}

impl Default for FeedsConfig {
    fn default() -> FeedsConfig {
        FeedsConfig {
            imports_dir: None,
            digest_schedule: None,
            digest_include_non_starters: false,
            digest_tick: Duration::from_secs(30),
        }
    }
}

impl FeedsConfig {
    fn from_file(f: &FileConfig) -> Result<FeedsConfig, ConfigError> {
        let mut c = FeedsConfig::default();
        if let Some(d) = &f.imports_dir {
            c.imports_dir = Some(non_empty_path("imports_dir", d)?);
        }
        if let Some(s) = &f.digest_schedule {
            c.digest_schedule = Some(
                crate::schedule::Schedule::parse(s)
                    .map_err(|why| ConfigError::invalid("digest_schedule", why))?,
            );
        }
        c.digest_include_non_starters = f.digest_include_non_starters.unwrap_or(false);
        Ok(c)
    }
}

impl Default for Config {
    fn default() -> Config {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: PathBuf::from(DEFAULT_DATA_DIR),
            dist: None,
            roster: None,
            public: false,
            public_url: None,
            trusted_identity_header: None,
            allowed_hosts: Vec::new(),
            limits: Limits::default(),
            otlp_listen: None,
            demo: false,
            telemetry_identity_attribute: None,
            anthropic: AnthropicConfig::default(),
            secrets: Secrets::default(),
            frame_ancestors: Vec::new(),
            feeds: FeedsConfig::default(),
        }
    }
}

impl Config {
    pub fn db_path(&self) -> PathBuf {
        self.data_dir.join(DB_FILE)
    }

    /// Loads the file (if any), then applies overrides (flags and `SCOREBOARD_*`
    /// variables, already merged by clap), then validates everything.
    pub fn load(
        file: Option<&Path>,
        overrides: &Overrides,
        secrets: Secrets,
    ) -> Result<Config, ConfigError> {
        let file_cfg = match file {
            Some(path) => FileConfig::read(path)?,
            None => FileConfig::default(),
        };
        let mut cfg = file_cfg.into_config()?;
        overrides.apply(&mut cfg)?;
        cfg.secrets = secrets;
        Ok(cfg)
    }
}

/// Values given on the command line or through `SCOREBOARD_*` variables.
/// They win over the file.
#[derive(Clone, Debug, Default)]
pub struct Overrides {
    pub listen: Option<String>,
    pub data_dir: Option<PathBuf>,
    pub dist: Option<PathBuf>,
    pub roster: Option<PathBuf>,
    pub otlp_listen: Option<String>,
    pub base_url: Option<String>,
    pub demo: bool,
    pub public_url: Option<String>,
    /// `--frame-ancestors` / `SCOREBOARD_FRAME_ANCESTORS` (comma-separated); replaces the file's list.
    pub frame_ancestors: Option<Vec<String>>,
    /// `--imports DIR` (issue 15).
    pub imports_dir: Option<PathBuf>,
}

impl Overrides {
    fn apply(&self, cfg: &mut Config) -> Result<(), ConfigError> {
        if let Some(l) = &self.listen {
            cfg.listen = parse_addr("--listen", l)?;
        }
        if let Some(d) = &self.data_dir {
            cfg.data_dir = non_empty_path("--data-dir", d)?;
        }
        if let Some(d) = &self.dist {
            cfg.dist = Some(non_empty_path("--dist", d)?);
        }
        if let Some(r) = &self.roster {
            cfg.roster = Some(non_empty_path("--roster", r)?);
        }
        if let Some(l) = &self.otlp_listen {
            cfg.otlp_listen = Some(parse_addr("--otlp-listen", l)?);
        }
        if let Some(u) = &self.base_url {
            cfg.anthropic.base_url = parse_anthropic_url("--anthropic-base-url", u)?;
        }
        if let Some(u) = &self.public_url {
            cfg.public_url = Some(parse_base_url("--public-url", u)?);
        }
        cfg.demo |= self.demo;
        if let Some(list) = &self.frame_ancestors {
            cfg.frame_ancestors = parse_frame_ancestors("--frame-ancestors", list)?;
        }
        if let Some(d) = &self.imports_dir {
            cfg.feeds.imports_dir = Some(non_empty_path("--imports", d)?);
        }
        if cfg.otlp_listen == Some(cfg.listen) {
            return Err(ConfigError::invalid(
                "otlp_listen",
                "must differ from listen (the main listener already accepts telemetry on /v1/*)",
            ));
        }
        Ok(())
    }
}

/// A setting that cannot be used. The message always names the setting and
/// never contains a secret.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read the config file {path}: {reason}")]
    Read { path: String, reason: String },
    #[error("config file {path}, line {line}: {message}")]
    Syntax {
        path: String,
        line: usize,
        message: String,
    },
    #[error("setting `{setting}`: {reason}")]
    Invalid { setting: String, reason: String },
}

impl ConfigError {
    pub fn invalid(setting: &str, reason: impl Into<String>) -> ConfigError {
        ConfigError::Invalid {
            setting: setting.to_string(),
            reason: reason.into(),
        }
    }
}

/// The file form. Every field is optional; durations are written as
/// `"15m"`, `"30s"`, `"250ms"`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub listen: Option<String>,
    pub data_dir: Option<PathBuf>,
    pub dist: Option<PathBuf>,
    pub roster: Option<PathBuf>,
    pub public: Option<bool>,
    pub public_url: Option<String>,
    pub trusted_identity_header: Option<String>,
    pub allowed_hosts: Option<Vec<String>>,
    pub otlp_listen: Option<String>,
    pub demo: Option<bool>,
    pub anthropic: Option<FileAnthropic>,
    pub telemetry: Option<FileTelemetry>,
    pub limits: Option<FileLimits>,
    /// Embeds: origins allowed to frame the page (see [`parse_frame_ancestors`]).
    pub frame_ancestors: Option<Vec<String>>,
    // ---- feeds and digest (issue 15): see `FeedsConfig` ----
    pub imports_dir: Option<PathBuf>,
    pub digest_schedule: Option<String>,
    pub digest_include_non_starters: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileLimits {
    pub max_connections: Option<usize>,
    pub max_connections_per_ip: Option<usize>,
    pub header_timeout: Option<String>,
    pub body_timeout: Option<String>,
    pub snapshots_per_person: Option<usize>,
    pub snapshot_megabytes_per_person: Option<u64>,
    pub snapshot_megabytes_total: Option<u64>,
    pub snapshot_uploads_per_minute: Option<usize>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileTelemetry {
    pub identity_attribute: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileAnthropic {
    pub base_url: Option<String>,
    pub sync_interval: Option<String>,
    pub backfill_days: Option<u32>,
    pub concurrency: Option<usize>,
    pub request_timeout: Option<String>,
    pub max_retries: Option<usize>,
    pub retry_min_delay: Option<String>,
    pub retry_max_delay: Option<String>,
    pub retry_after_max: Option<String>,
    pub breaker_threshold: Option<u32>,
    pub breaker_cooldown: Option<String>,
    pub page_limit: Option<u32>,
}

/// Words that make a setting name look like a credential.
const SECRETISH: [&str; 5] = ["key", "token", "secret", "password", "credential"];

impl FileConfig {
    pub fn read(path: &Path) -> Result<FileConfig, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Read {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
        FileConfig::parse(&text, &path.display().to_string())
    }

    pub fn parse(text: &str, path: &str) -> Result<FileConfig, ConfigError> {
        let syntax = |e: toml::de::Error| {
            let line = e
                .span()
                .map(|s| text[..s.start.min(text.len())].lines().count().max(1))
                .unwrap_or(0);
            // `message()` is the reason alone; `Display` would quote the source line,
            // which could hold a key someone pasted into the file.
            ConfigError::Syntax {
                path: path.to_string(),
                line,
                message: e.message().to_string(),
            }
        };
        let table: toml::Table = toml::from_str(text).map_err(syntax)?;
        if table.contains_key("digest_webhook_url") {
            return Err(ConfigError::invalid(
                "digest_webhook_url",
                format!("a webhook URL carries the chat's credential and is never read from the config file; set {DIGEST_WEBHOOK_ENV} in the environment and remove this line"),
            ));
        }
        if let Some(name) = find_secretish(&table, "") {
            return Err(ConfigError::invalid(
                &name,
                format!("keys and tokens are never read from the config file; set {ADMIN_KEY_ENV} / {ANALYTICS_KEY_ENV} / {METRICS_TOKEN_ENV} in the environment and remove this line"),
            ));
        }
        toml::from_str(text).map_err(syntax)
    }

    pub fn into_config(self) -> Result<Config, ConfigError> {
        let mut c = Config {
            feeds: FeedsConfig::from_file(&self)?,
            ..Config::default()
        };
        if let Some(l) = self.listen {
            c.listen = parse_addr("listen", &l)?;
        }
        if let Some(d) = self.data_dir {
            c.data_dir = non_empty_path("data_dir", &d)?;
        }
        if let Some(d) = self.dist {
            c.dist = Some(non_empty_path("dist", &d)?);
        }
        if let Some(r) = self.roster {
            c.roster = Some(non_empty_path("roster", &r)?);
        }
        c.public = self.public.unwrap_or(false);
        if let Some(u) = self.public_url {
            c.public_url = Some(parse_base_url("public_url", &u)?);
        }
        if let Some(h) = self.trusted_identity_header {
            let name = HeaderName::from_bytes(h.trim().as_bytes()).map_err(|_| {
                ConfigError::invalid(
                    "trusted_identity_header",
                    format!("{h:?} is not a valid HTTP header name"),
                )
            })?;
            if let Some(why) = identity_header_problem(&name) {
                return Err(ConfigError::invalid("trusted_identity_header", why));
            }
            c.trusted_identity_header = Some(name);
        }
        if let Some(hosts) = self.allowed_hosts {
            for h in hosts {
                let name = h.trim().trim_end_matches('.');
                let valid = !name.is_empty()
                    && name
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
                if !valid {
                    return Err(ConfigError::invalid(
                        "allowed_hosts",
                        format!("{h:?} is not a host name such as scoreboard.internal (no scheme, no port)"),
                    ));
                }
                c.allowed_hosts.push(name.to_ascii_lowercase());
            }
        }
        if let Some(l) = self.limits {
            let d = &mut c.limits;
            let positive = |setting: &str, n: usize| {
                if n == 0 {
                    Err(ConfigError::invalid(setting, "must be at least 1"))
                } else {
                    Ok(n)
                }
            };
            if let Some(n) = l.max_connections {
                d.max_connections = positive("limits.max_connections", n)?;
            }
            if let Some(n) = l.max_connections_per_ip {
                d.max_connections_per_ip = positive("limits.max_connections_per_ip", n)?;
            }
            if let Some(t) = l.header_timeout {
                d.header_timeout =
                    parse_duration("limits.header_timeout", &t, Duration::from_millis(100))?;
            }
            if let Some(t) = l.body_timeout {
                d.body_timeout =
                    parse_duration("limits.body_timeout", &t, Duration::from_millis(100))?;
            }
            if let Some(n) = l.snapshots_per_person {
                d.snapshots_per_owner = positive("limits.snapshots_per_person", n)?;
            }
            if let Some(n) = l.snapshot_megabytes_per_person {
                d.snapshot_bytes_per_owner =
                    positive("limits.snapshot_megabytes_per_person", n as usize)? as u64
                        * 1_000_000;
            }
            if let Some(n) = l.snapshot_uploads_per_minute {
                d.snapshot_uploads_per_minute = positive("limits.snapshot_uploads_per_minute", n)?;
            }
            if let Some(n) = l.snapshot_megabytes_total {
                d.snapshot_bytes_total =
                    positive("limits.snapshot_megabytes_total", n as usize)? as u64 * 1_000_000;
            }
        }
        if let Some(l) = self.otlp_listen {
            c.otlp_listen = Some(parse_addr("otlp_listen", &l)?);
        }
        if let Some(list) = self.frame_ancestors {
            c.frame_ancestors = parse_frame_ancestors("frame_ancestors", &list)?;
        }
        c.demo = self.demo.unwrap_or(false);
        if let Some(t) = self.telemetry {
            if let Some(a) = t.identity_attribute {
                let a = a.trim();
                if a.is_empty() || a.chars().any(|ch| ch.is_whitespace() || ch.is_control()) {
                    return Err(ConfigError::invalid(
                        "telemetry.identity_attribute",
                        format!("{a:?} is not an attribute name such as enduser.id"),
                    ));
                }
                c.telemetry_identity_attribute = Some(a.to_string());
            }
        }
        if let Some(a) = self.anthropic {
            let d = &mut c.anthropic;
            if let Some(u) = a.base_url {
                d.base_url = parse_anthropic_url("anthropic.base_url", &u)?;
            }
            if let Some(s) = a.sync_interval {
                d.sync_interval =
                    parse_duration("anthropic.sync_interval", &s, Duration::from_secs(60))?;
            }
            if let Some(n) = a.backfill_days {
                if n == 0 || n > 3660 {
                    return Err(ConfigError::invalid(
                        "anthropic.backfill_days",
                        format!("{n} is out of range (1 to 3660 days)"),
                    ));
                }
                d.backfill_days = n;
            }
            if let Some(n) = a.concurrency {
                if n == 0 || n > 32 {
                    return Err(ConfigError::invalid(
                        "anthropic.concurrency",
                        format!("{n} is out of range (1 to 32)"),
                    ));
                }
                d.concurrency = n;
            }
            if let Some(s) = a.request_timeout {
                d.request_timeout =
                    parse_duration("anthropic.request_timeout", &s, Duration::from_millis(1))?;
            }
            if let Some(n) = a.max_retries {
                if n > 20 {
                    return Err(ConfigError::invalid(
                        "anthropic.max_retries",
                        format!("{n} is out of range (0 to 20)"),
                    ));
                }
                d.max_retries = n;
            }
            if let Some(s) = a.retry_min_delay {
                d.retry_min_delay =
                    parse_duration("anthropic.retry_min_delay", &s, Duration::ZERO)?;
            }
            if let Some(s) = a.retry_max_delay {
                d.retry_max_delay =
                    parse_duration("anthropic.retry_max_delay", &s, Duration::ZERO)?;
            }
            if let Some(s) = a.retry_after_max {
                d.retry_after_max =
                    parse_duration("anthropic.retry_after_max", &s, Duration::ZERO)?;
            }
            if d.retry_max_delay < d.retry_min_delay {
                return Err(ConfigError::invalid(
                    "anthropic.retry_max_delay",
                    "must not be shorter than anthropic.retry_min_delay",
                ));
            }
            if let Some(n) = a.breaker_threshold {
                if n == 0 {
                    return Err(ConfigError::invalid(
                        "anthropic.breaker_threshold",
                        "must be at least 1",
                    ));
                }
                d.breaker_threshold = n;
            }
            if let Some(s) = a.breaker_cooldown {
                d.breaker_cooldown =
                    parse_duration("anthropic.breaker_cooldown", &s, Duration::from_millis(1))?;
            }
            if let Some(n) = a.page_limit {
                if !(1..=1000).contains(&n) {
                    return Err(ConfigError::invalid(
                        "anthropic.page_limit",
                        format!("{n} is out of range (1 to 1000)"),
                    ));
                }
                d.page_limit = n;
            }
        }
        Ok(c)
    }
}

fn find_secretish(table: &toml::Table, prefix: &str) -> Option<String> {
    for (k, v) in table {
        let name = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        let lower = k.to_ascii_lowercase();
        if SECRETISH.iter().any(|w| lower.contains(w)) {
            return Some(name);
        }
        if let toml::Value::Table(t) = v {
            if let Some(found) = find_secretish(t, &name) {
                return Some(found);
            }
        }
    }
    None
}

// ---- frame_ancestors: who may show the page in a frame (embeds, issue 15) ----

/// Checks each entry of `frame_ancestors` and writes it as the browser
/// compares it (`scheme://host[:port]`, lower case, default port left out).
/// Only origins are taken: the list goes into the page's
/// `Content-Security-Policy` verbatim, so a space, `;`, `,` or quote could
/// add sources or whole directives, and a path, query, wildcard or keyword
/// would allow more than the admin meant. An empty list means nobody.
pub fn parse_frame_ancestors(setting: &str, list: &[String]) -> Result<Vec<String>, ConfigError> {
    let mut out: Vec<String> = Vec::new();
    for entry in list {
        let t = entry.trim();
        let bad = |why: &str| {
            ConfigError::invalid(
                setting,
                format!("{t:?} {why}; write an origin such as https://platform.example.com or http://localhost:3000"),
            )
        };
        if t.is_empty() {
            return Err(bad("is empty"));
        }
        if t.chars().any(|c| {
            c.is_whitespace() || c.is_control() || matches!(c, ';' | ',' | '\'' | '"' | '*')
        }) {
            return Err(bad(
                "holds a space, comma, semicolon, quote or wildcard (one origin per entry)",
            ));
        }
        let Some((scheme, rest)) = t.split_once("://") else {
            return Err(bad("is not an origin (no scheme://)"));
        };
        if !scheme.eq_ignore_ascii_case("https") && !scheme.eq_ignore_ascii_case("http") {
            return Err(bad("must start with https:// (or http://)"));
        }
        // One trailing slash is how browsers print an origin as a URL; anything after it is a path.
        let authority = rest.strip_suffix('/').unwrap_or(rest);
        if authority.is_empty() || authority.contains(['/', '?', '#', '@']) {
            return Err(bad(
                "is not an origin: no path, query, fragment or user name",
            ));
        }
        let url = reqwest::Url::parse(t).map_err(|e| bad(&format!("is not an origin ({e})")))?;
        if url.host_str().is_none_or(str::is_empty) {
            return Err(bad("names no host"));
        }
        let origin = url.origin().ascii_serialization();
        if !out.contains(&origin) {
            out.push(origin);
        }
    }
    Ok(out)
}

fn parse_addr(setting: &str, text: &str) -> Result<SocketAddr, ConfigError> {
    text.trim().parse::<SocketAddr>().map_err(|_| {
        ConfigError::invalid(
            setting,
            format!("{text:?} is not an address with a port, e.g. 127.0.0.1:8080 or [::1]:8080"),
        )
    })
}

fn non_empty_path(setting: &str, p: &Path) -> Result<PathBuf, ConfigError> {
    if p.as_os_str().is_empty() {
        return Err(ConfigError::invalid(setting, "is empty"));
    }
    Ok(p.to_path_buf())
}

fn parse_base_url(setting: &str, text: &str) -> Result<String, ConfigError> {
    let t = text.trim();
    let url = reqwest::Url::parse(t)
        .map_err(|e| ConfigError::invalid(setting, format!("{t:?} is not a URL ({e})")))?;
    if url.scheme() != "http" && url.scheme() != "https" {
        return Err(ConfigError::invalid(
            setting,
            format!("{t:?} must start with https:// (or http:// for a local test server)"),
        ));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(ConfigError::invalid(setting, "must not carry credentials"));
    }
    if url.query().is_some() {
        return Err(ConfigError::invalid(
            setting,
            format!("{t:?} must not have a query string"),
        ));
    }
    Ok(t.trim_end_matches('/').to_string())
}

/// The Anthropic API's base URL: the keys travel to it, so `https://`
/// unless it is this machine (a local test double).
fn parse_anthropic_url(setting: &str, text: &str) -> Result<String, ConfigError> {
    let t = parse_base_url(setting, text)?;
    let url = reqwest::Url::parse(&t)
        .map_err(|e| ConfigError::invalid(setting, format!("{t:?} is not a URL ({e})")))?;
    let host = url.host_str().unwrap_or_default();
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let local = host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    if url.scheme() != "https" && !local {
        return Err(ConfigError::invalid(
            setting,
            format!("{t:?} must start with https:// (the API keys are sent to it); plain http:// is accepted only for 127.0.0.1, ::1 or localhost"),
        ));
    }
    Ok(t)
}

fn parse_duration(setting: &str, text: &str, min: Duration) -> Result<Duration, ConfigError> {
    let d = humantime::parse_duration(text.trim()).map_err(|e| {
        ConfigError::invalid(
            setting,
            format!("{text:?} is not a duration such as \"15m\", \"30s\" or \"250ms\" ({e})"),
        )
    })?;
    if d < min {
        return Err(ConfigError::invalid(
            setting,
            format!(
                "{text:?} is shorter than the minimum of {}",
                humantime::format_duration(min)
            ),
        ));
    }
    Ok(d)
}

/// The header the page sends with every state-changing request
/// ([`crate::guard`] checks it; a trusted identity header may not be it).
pub const WRITE_HEADER: &str = "x-scoreboard-request";

/// What `serve` needs to post the digest.
#[derive(Clone)]
pub struct DigestSettings {
    pub schedule: Option<crate::schedule::Schedule>,
    pub webhook: Option<Secret>,
    pub include_non_starters: bool,
    pub public_url: Option<String>,
    pub retry: AnthropicConfig,
    /// Scrubs the webhook URL (and every other secret) from messages.
    pub secrets: Secrets,
    /// How often the schedule is checked.
    pub tick: Duration,
}

impl DigestSettings {
    pub fn for_config(cfg: &Config) -> DigestSettings {
        DigestSettings {
            schedule: cfg.feeds.digest_schedule,
            webhook: cfg.secrets.digest_webhook_url.clone(),
            include_non_starters: cfg.feeds.digest_include_non_starters,
            public_url: cfg.public_url.clone(),
            retry: cfg.anthropic.clone(),
            secrets: cfg.secrets.clone(),
            tick: cfg.feeds.digest_tick,
        }
    }

    /// Both a schedule and a webhook: `serve` posts.
    pub fn scheduled(&self) -> bool {
        self.schedule.is_some() && self.webhook.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_the_documentation() {
        let c = FileConfig::default().into_config().unwrap();
        assert_eq!(c.listen.to_string(), DEFAULT_LISTEN);
        assert_eq!(c.db_path(), PathBuf::from("./data/scoreboard.db"));
        assert_eq!(c.anthropic.base_url, DEFAULT_BASE_URL);
        assert_eq!(c.anthropic.backfill_days, 90);
        assert!(!c.public);
        assert!(c.otlp_listen.is_none());
    }

    #[test]
    fn a_key_in_the_file_is_refused_without_echoing_it() {
        let err = FileConfig::parse(
            "[anthropic]\nadmin_api_key = \"sk-ant-admin01-SECRET\"\n",
            "x.toml",
        )
        .unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("anthropic.admin_api_key"), "{msg}");
        assert!(!msg.contains("SECRET"), "{msg}");
    }

    #[test]
    fn a_bad_setting_is_named() {
        let f = FileConfig::parse("[anthropic]\nsync_interval = \"soon\"\n", "x.toml").unwrap();
        let msg = f.into_config().unwrap_err().to_string();
        assert!(msg.contains("anthropic.sync_interval"), "{msg}");
        let f = FileConfig::parse("listen = \"localhost\"\n", "x.toml").unwrap();
        assert!(f
            .into_config()
            .unwrap_err()
            .to_string()
            .contains("`listen`"));
        let err = FileConfig::parse("lisen = \"127.0.0.1:1\"\n", "x.toml").unwrap_err();
        assert!(err.to_string().contains("lisen"), "{err}");
        assert!(err.to_string().contains("line 1"), "{err}");
    }

    #[test]
    fn headers_every_client_sends_cannot_be_the_identity_header() {
        for h in [
            "User-Agent",
            "Accept",
            "Origin",
            "Content-Type",
            "X-Forwarded-For",
            "Referer",
            "Sec-Fetch-Site",
            "Authorization",
            "Cookie",
            "Host",
            "Accept-Language",
            "X-Scoreboard-Request",
        ] {
            let f = FileConfig::parse(&format!("trusted_identity_header = \"{h}\"\n"), "x.toml")
                .unwrap();
            let msg = f.into_config().unwrap_err().to_string();
            assert!(msg.contains("trusted_identity_header"), "{h}: {msg}");
        }
        for h in ["X-Forwarded-Email", "X-Auth-Request-Email", "Remote-User"] {
            let f = FileConfig::parse(&format!("trusted_identity_header = \"{h}\"\n"), "x.toml")
                .unwrap();
            assert!(f.into_config().is_ok(), "{h}");
        }
    }

    #[test]
    fn the_anthropic_base_url_is_https_unless_it_is_this_machine() {
        for (url, ok) in [
            ("https://api.anthropic.com", true),
            ("http://api.anthropic.com", false),
            ("http://10.0.0.8:8080", false),
            ("http://127.0.0.1:9000", true),
            ("http://[::1]:9000", true),
            ("http://localhost:9000", true),
        ] {
            let f = FileConfig::parse(&format!("[anthropic]\nbase_url = \"{url}\"\n"), "x.toml")
                .unwrap();
            let r = f.into_config();
            assert_eq!(r.is_ok(), ok, "{url}: {:?}", r.err().map(|e| e.to_string()));
        }
    }

    #[test]
    fn limits_and_allowed_hosts_are_read_and_checked() {
        let f = FileConfig::parse(
            "allowed_hosts = [\"Dash.Internal\"]\n[limits]\nmax_connections = 50\nheader_timeout = \"2s\"\nsnapshot_megabytes_total = 10\n",
            "x.toml",
        )
        .unwrap();
        let c = f.into_config().unwrap();
        assert_eq!(c.allowed_hosts, vec!["dash.internal".to_string()]);
        assert_eq!(c.limits.max_connections, 50);
        assert_eq!(c.limits.header_timeout, Duration::from_secs(2));
        assert_eq!(c.limits.snapshot_bytes_total, 10_000_000);
        let f = FileConfig::parse("allowed_hosts = [\"http://x:1\"]\n", "x.toml").unwrap();
        assert!(f.into_config().is_err());
        let f = FileConfig::parse("[limits]\nmax_connections = 0\n", "x.toml").unwrap();
        assert!(f.into_config().is_err());
    }

    #[test]
    fn frame_ancestors_take_origins_only_and_name_the_setting() {
        let f = FileConfig::parse(
            "frame_ancestors = [\"https://Platform.Example.com/\", \"http://localhost:3000\", \"https://platform.example.com:443\"]\n",
            "x.toml",
        )
        .unwrap();
        assert_eq!(
            f.into_config().unwrap().frame_ancestors,
            vec!["https://platform.example.com", "http://localhost:3000"],
            "written as the browser compares them, once each"
        );
        assert!(FileConfig::default()
            .into_config()
            .unwrap()
            .frame_ancestors
            .is_empty());
        for bad in [
            "https://a.example.com https://evil.example",
            "https://a.example.com; script-src *",
            "https://a.example.com,https://b.example.com",
            "'self'",
            "\"https://a.example.com\"",
            "https://a.example.com/dashboards",
            "https://a.example.com/?x=1",
            "https://*.example.com",
            "*",
            "platform.example.com",
            "ftp://a.example.com",
            "https://user@a.example.com",
            "",
        ] {
            let list = vec![bad.to_string()];
            let err = parse_frame_ancestors("frame_ancestors", &list)
                .expect_err(bad)
                .to_string();
            assert!(err.contains("`frame_ancestors`"), "{bad}: {err}");
        }
    }

    #[test]
    fn the_digest_webhook_is_refused_in_the_file_and_the_schedule_is_checked() {
        let e = FileConfig::parse(
            "digest_webhook_url = \"https://hooks.example.com/services/T0/B0/xyz\"\n",
            "c.toml",
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("digest_webhook_url") && e.contains(DIGEST_WEBHOOK_ENV),
            "{e}"
        );
        assert!(!e.contains("xyz"), "the URL is never echoed: {e}");
        let e = FileConfig::parse("metrics_token = \"abc\"\n", "c.toml")
            .unwrap_err()
            .to_string();
        assert!(e.contains(METRICS_TOKEN_ENV), "{e}");
        let c = FileConfig::parse(
            "imports_dir = \"exports\"\ndigest_schedule = \"Mon 09:00 Europe/Berlin\"\ndigest_include_non_starters = true\n",
            "c.toml",
        )
        .unwrap()
        .into_config()
        .unwrap();
        assert_eq!(c.feeds.imports_dir, Some(PathBuf::from("exports")));
        assert_eq!(
            c.feeds.digest_schedule.map(|s| s.to_string()).as_deref(),
            Some("Mon 09:00 Europe/Berlin")
        );
        assert!(c.feeds.digest_include_non_starters);
        let e = FileConfig::parse("digest_schedule = \"Mon 9\"\n", "c.toml")
            .unwrap()
            .into_config()
            .unwrap_err()
            .to_string();
        assert!(e.contains("digest_schedule"), "{e}");
    }

    #[test]
    fn secrets_never_print() {
        let s = Secrets::from_lookup(|n| {
            (n == ADMIN_KEY_ENV).then(|| "sk-ant-admin01-abc".to_string())
        });
        assert!(!format!("{s:?}").contains("abc"));
        assert_eq!(
            s.redact("bad key sk-ant-admin01-abc here"),
            "bad key [redacted] here"
        );
        let odd = Secrets::from_lookup(|n| {
            (n == ADMIN_KEY_ENV).then(|| "xk-live-0123456789abcdef".to_string())
        });
        assert_eq!(
            odd.redact("key xk-live-0123456789ab… refused (xk-live-0 is fine); ünïcode"),
            "key [redacted]… refused (xk-live-0 is fine); ünïcode",
            "a secret cut short is still scrubbed"
        );
        assert_eq!(
            Secrets::default().redact("another sk-ant-api03-XYZ_9-q key"),
            "another [redacted] key",
            "any Anthropic key, held or not"
        );
        assert!(Secret::new("  ").is_none());
    }
}
