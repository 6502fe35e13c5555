//! Which address the telemetry settings name: the one engineers' machines
//! can really reach. `token create` and `token check` cannot ask the
//! running server, so they read what `serve` recorded in the store
//! ([`crate::store::Serving`]) and say which address they chose and why.
//!
//! Order: `--endpoint`; `public_url` (the config's, else the one the last
//! `serve` ran with); the address of the running or last-run server (its
//! telemetry listener when it has one); the configured listen address.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream};
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::config::Config;
use crate::store::Serving;

/// What chose the address (named apart from the HTTP `Origin` header that
/// guard.rs checks).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChosenBy {
    Flag,
    PublicUrl,
    Running,
    LastRun,
    Configured,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// No trailing slash: Claude Code appends `/v1/metrics`.
    pub url: String,
    pub chosen_by: ChosenBy,
    /// One sentence: which address and why.
    pub why: String,
    /// Only this machine can reach it.
    pub loopback: bool,
}

/// How long `token create` waits to see whether the recorded server answers.
const PROBE_TIMEOUT: Duration = Duration::from_millis(500);

/// Whether something accepts connections at `addr` (a wildcard address is
/// tried on loopback).
pub fn answers(addr: SocketAddr) -> bool {
    let mut a = addr;
    if a.ip().is_unspecified() {
        a.set_ip(match a.ip() {
            IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::LOCALHOST),
        });
    }
    TcpStream::connect_timeout(&a, PROBE_TIMEOUT).is_ok()
}

/// This machine's name, for a server listening on every address.
fn host_name() -> Option<String> {
    #[cfg(unix)]
    {
        let u = rustix::system::uname();
        let n = u.nodename().to_string_lossy().trim().to_string();
        (!n.is_empty() && n != "(none)").then_some(n)
    }
    #[cfg(not(unix))]
    None
}

/// The URL of a bound address. A wildcard address (0.0.0.0, ::) is not one
/// a client can use: this machine's name stands for it.
fn url_of(addr: SocketAddr) -> (String, Option<String>) {
    if addr.ip().is_unspecified() {
        if let Some(h) = host_name() {
            return (
                format!("http://{h}:{}", addr.port()),
                Some(format!(
                    "it listens on every address ({addr}), so this machine's name {h} stands for it; \
                     if engineers' machines reach it under another name, set public_url"
                )),
            );
        }
    }
    (format!("http://{addr}"), None)
}

fn is_loopback_url(url: &str) -> bool {
    let Ok(u) = reqwest::Url::parse(url) else {
        return false;
    };
    let Some(h) = u.host_str() else {
        return false;
    };
    let h = h.trim_start_matches('[').trim_end_matches(']');
    match h.parse::<IpAddr>() {
        Ok(ip) => ip.is_loopback(),
        Err(_) => {
            let d = h.to_ascii_lowercase();
            d == "localhost" || d.ends_with(".localhost")
        }
    }
}

fn when(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M UTC").to_string()
}

/// Chooses the endpoint. `recorded` is what the last `serve` on this
/// database wrote; `answers` tells whether it still accepts connections.
pub fn choose(
    flag: Option<&str>,
    cfg: &Config,
    recorded: Option<&Serving>,
    answers: &dyn Fn(SocketAddr) -> bool,
) -> Result<Endpoint, String> {
    let made = |url: String, chosen_by, why: String| Endpoint {
        loopback: is_loopback_url(&url),
        url,
        chosen_by,
        why,
    };
    if let Some(u) = flag {
        let url = reqwest::Url::parse(u.trim())
            .map_err(|e| format!("--endpoint {u:?} is not a URL ({e})"))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(format!(
                "--endpoint {u:?} must start with http:// or https://"
            ));
        }
        let url = url.as_str().trim_end_matches('/').to_string();
        return Ok(made(
            url,
            ChosenBy::Flag,
            "given with --endpoint".to_string(),
        ));
    }
    if let Some(u) = &cfg.public_url {
        return Ok(made(
            u.trim_end_matches('/').to_string(),
            ChosenBy::PublicUrl,
            "public_url in the settings".to_string(),
        ));
    }
    if let Some(r) = recorded {
        if let Some(u) = &r.public_url {
            return Ok(made(
                u.trim_end_matches('/').to_string(),
                ChosenBy::PublicUrl,
                format!(
                    "the public_url the server started at {} was given",
                    when(r.started_at)
                ),
            ));
        }
        let addr = r.otlp_listen.unwrap_or(r.listen);
        let which = if r.otlp_listen.is_some() {
            "its telemetry listener (otlp_listen)"
        } else {
            "its address"
        };
        let (url, note) = url_of(addr);
        let running = r.stopped_at.is_none() && answers(addr);
        let (chosen_by, mut why) = if running {
            (
                ChosenBy::Running,
                format!(
                    "{which}: the server using this database is running there (started {})",
                    when(r.started_at)
                ),
            )
        } else {
            let state = match r.stopped_at {
                Some(t) => format!("stopped {}", when(t)),
                None => "not answering now".to_string(),
            };
            (
                ChosenBy::LastRun,
                format!(
                    "{which} when the server using this database last ran (started {}, {state})",
                    when(r.started_at)
                ),
            )
        };
        if let Some(n) = note {
            why.push_str("; ");
            why.push_str(&n);
        }
        return Ok(made(url, chosen_by, why));
    }
    let addr = cfg.otlp_listen.unwrap_or(cfg.listen);
    let (url, note) = url_of(addr);
    let mut why =
        "the configured listen address: no server has run on this database yet".to_string();
    if let Some(n) = note {
        why.push_str("; ");
        why.push_str(&n);
    }
    Ok(made(url, ChosenBy::Configured, why))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> Config {
        Config::load(None, &Default::default(), Default::default()).unwrap()
    }

    fn serving(listen: &str, public_url: Option<&str>, stopped: bool) -> Serving {
        Serving {
            listen: listen.parse().unwrap(),
            otlp_listen: None,
            public_url: public_url.map(str::to_string),
            started_at: Utc::now(),
            stopped_at: stopped.then(Utc::now),
        }
    }

    #[test]
    fn the_endpoint_is_chosen_flag_then_public_url_then_recorded_then_configured() {
        let yes = |_| true;
        let c = cfg();
        let r = serving("127.0.0.1:18810", None, false);
        let e = choose(Some("https://sb.example.com/"), &c, Some(&r), &yes).unwrap();
        assert_eq!(
            (e.url.as_str(), e.chosen_by),
            ("https://sb.example.com", ChosenBy::Flag)
        );
        assert!(!e.loopback);
        let e = choose(None, &c, Some(&r), &yes).unwrap();
        assert_eq!(
            (e.url.as_str(), e.chosen_by),
            ("http://127.0.0.1:18810", ChosenBy::Running)
        );
        assert!(e.loopback);
        let e = choose(None, &c, Some(&r), &|_| false).unwrap();
        assert_eq!(e.chosen_by, ChosenBy::LastRun);
        assert!(e.why.contains("not answering"), "{}", e.why);
        let stopped = serving("127.0.0.1:18810", None, true);
        let e = choose(None, &c, Some(&stopped), &yes).unwrap();
        assert_eq!(e.chosen_by, ChosenBy::LastRun);
        let public = serving("127.0.0.1:18810", Some("https://dash.example.com"), false);
        let e = choose(None, &c, Some(&public), &yes).unwrap();
        assert_eq!(
            (e.url.as_str(), e.chosen_by),
            ("https://dash.example.com", ChosenBy::PublicUrl)
        );
        let e = choose(None, &c, None, &yes).unwrap();
        assert_eq!(
            (e.url.as_str(), e.chosen_by),
            ("http://127.0.0.1:8080", ChosenBy::Configured)
        );
        let mut with_url = cfg();
        with_url.public_url = Some("https://conf.example.com".into());
        let e = choose(None, &with_url, Some(&r), &yes).unwrap();
        assert_eq!(e.url, "https://conf.example.com");
        assert!(choose(Some("ftp://x"), &c, None, &yes).is_err());
    }

    #[test]
    fn a_wildcard_listen_address_is_named_by_this_machine() {
        let r = serving("0.0.0.0:4318", None, false);
        let e = choose(None, &cfg(), Some(&r), &|_| true).unwrap();
        if host_name().is_some() {
            assert!(!e.url.contains("0.0.0.0"), "{}", e.url);
            assert!(e.why.contains("every address"), "{}", e.why);
        }
    }
}
