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

/// The secrets the server holds. Read from the environment only.
#[derive(Clone, Default, Debug)]
pub struct Secrets {
    pub admin_api_key: Option<Secret>,
    pub analytics_api_key: Option<Secret>,
}

impl Secrets {
    pub fn from_env() -> Secrets {
        Secrets::from_lookup(|name| std::env::var(name).ok())
    }
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Secrets {
        Secrets {
            admin_api_key: get(ADMIN_KEY_ENV).and_then(Secret::new),
            analytics_api_key: get(ANALYTICS_KEY_ENV).and_then(Secret::new),
        }
    }
    /// Replaces every occurrence of a held secret in `text` (upstream error
    /// messages are stored and shown; an upstream could echo a key back).
    pub fn redact(&self, text: &str) -> String {
        let mut out = text.to_string();
        for s in [&self.admin_api_key, &self.analytics_api_key]
            .into_iter()
            .flatten()
        {
            if !s.0.is_empty() {
                out = out.replace(&s.0, "[redacted]");
            }
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
        }
    }
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
    /// Second listener for OTLP/HTTP only (the main listener also takes `/v1/*`).
    pub otlp_listen: Option<SocketAddr>,
    pub demo: bool,
    /// Telemetry attribute naming the person when Claude Code sends no e-mail
    /// or account id (e.g. `enduser.id` set through `OTEL_RESOURCE_ATTRIBUTES`).
    pub telemetry_identity_attribute: Option<String>,
    pub anthropic: AnthropicConfig,
    pub secrets: Secrets,
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
            otlp_listen: None,
            demo: false,
            telemetry_identity_attribute: None,
            anthropic: AnthropicConfig::default(),
            secrets: Secrets::default(),
        }
    }
}

impl Config {
    pub fn db_path(&self) -> PathBuf {
        self.data_dir.join(DB_FILE)
    }

    /// The base URL telemetry should be sent to, as far as this server knows it.
    pub fn telemetry_endpoint(&self) -> String {
        if let Some(u) = &self.public_url {
            return u.trim_end_matches('/').to_string();
        }
        format!("http://{}", self.otlp_listen.unwrap_or(self.listen))
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
            cfg.anthropic.base_url = parse_base_url("--anthropic-base-url", u)?;
        }
        if let Some(u) = &self.public_url {
            cfg.public_url = Some(parse_base_url("--public-url", u)?);
        }
        cfg.demo |= self.demo;
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
    pub otlp_listen: Option<String>,
    pub demo: Option<bool>,
    pub anthropic: Option<FileAnthropic>,
    pub telemetry: Option<FileTelemetry>,
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
        if let Some(name) = find_secretish(&table, "") {
            return Err(ConfigError::invalid(
                &name,
                format!("keys and tokens are never read from the config file; set {ADMIN_KEY_ENV} / {ANALYTICS_KEY_ENV} in the environment and remove this line"),
            ));
        }
        toml::from_str(text).map_err(syntax)
    }

    pub fn into_config(self) -> Result<Config, ConfigError> {
        let mut c = Config::default();
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
            if name == axum::http::header::AUTHORIZATION
                || name == axum::http::header::COOKIE
                || name == axum::http::header::HOST
            {
                return Err(ConfigError::invalid("trusted_identity_header", format!("{name} cannot be the identity header; use the header your reverse proxy sets, e.g. X-Forwarded-Email")));
            }
            c.trusted_identity_header = Some(name);
        }
        if let Some(l) = self.otlp_listen {
            c.otlp_listen = Some(parse_addr("otlp_listen", &l)?);
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
                d.base_url = parse_base_url("anthropic.base_url", &u)?;
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
    fn secrets_never_print() {
        let s = Secrets::from_lookup(|n| {
            (n == ADMIN_KEY_ENV).then(|| "sk-ant-admin01-abc".to_string())
        });
        assert!(!format!("{s:?}").contains("abc"));
        assert_eq!(
            s.redact("bad key sk-ant-admin01-abc here"),
            "bad key [redacted] here"
        );
        assert!(Secret::new("  ").is_none());
    }
}
