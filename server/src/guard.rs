//! What every request passes before a handler sees it: the `Host` check
//! that stops DNS rebinding, the same-origin check on state-changing
//! routes, and the security headers on every answer.
//!
//! **DNS rebinding.** A page on `evil.example` can re-point its own name to
//! 127.0.0.1 and then read a loopback server as if it were same-origin;
//! only the `Host` header gives it away. When reads need no credential
//! (loopback, or `public = true`), a request must name a host this server
//! answers to: an IP address (a rebinding attack needs a DNS name),
//! `localhost` or a `*.localhost` name (browsers never resolve those
//! through DNS), the host of `public_url`, or one of `allowed_hosts`.
//! Anything else gets 421.
//!
//! **Cross-site writes.** A state-changing route (`POST`/`DELETE
//! /api/snapshots`) needs the header [`WRITE_HEADER`]: a form on another
//! site cannot send it, and a script on another site cannot without a CORS
//! preflight this server never grants. `Sec-Fetch-Site` and `Origin`, when
//! the browser sends them, must say same-origin.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tower_http::set_header::SetResponseHeaderLayer;

use crate::config::Config;
use crate::error::ApiError;
use crate::refusals::{Area, Reason, Refusals};

/// The header the page sends with every state-changing request.
pub use crate::config::WRITE_HEADER;

/// The host names a server answers to when its reads are open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowedHosts {
    /// Lower-case names without a port.
    names: Vec<String>,
}

impl AllowedHosts {
    pub fn for_config(cfg: &Config) -> AllowedHosts {
        let mut names: Vec<String> = cfg
            .allowed_hosts
            .iter()
            .map(|h| h.trim().trim_end_matches('.').to_ascii_lowercase())
            .collect();
        if let Some(host) = cfg
            .public_url
            .as_deref()
            .and_then(|u| reqwest::Url::parse(u).ok())
            .and_then(|u| u.host_str().map(str::to_ascii_lowercase))
        {
            names.push(host);
        }
        names.sort();
        names.dedup();
        AllowedHosts { names }
    }

    /// Whether a `Host` value (with or without a port) is one of ours.
    pub fn allows(&self, host: &str) -> bool {
        let host = host.trim();
        let name = if let Some(rest) = host.strip_prefix('[') {
            // [v6]:port
            return rest
                .split(']')
                .next()
                .is_some_and(|ip| ip.parse::<std::net::Ipv6Addr>().is_ok());
        } else {
            host.rsplit_once(':')
                .filter(|(_, port)| port.bytes().all(|b| b.is_ascii_digit()))
                .map_or(host, |(name, _)| name)
        };
        let name = name.trim_end_matches('.').to_ascii_lowercase();
        name.parse::<std::net::IpAddr>().is_ok()
            || name == "localhost"
            || name.ends_with(".localhost")
            || self.names.contains(&name)
    }

    pub fn names(&self) -> &[String] {
        &self.names
    }
}

/// The host a request names: its `Host` header, else the authority of an
/// absolute-form target. `None` for a request with neither (HTTP/1.0 tools;
/// a browser always sends `Host`).
fn request_host(req: &Request) -> Option<String> {
    if let Some(h) = req.headers().get(header::HOST) {
        return Some(h.to_str().unwrap_or("\u{fffd}").to_string());
    }
    req.uri().authority().map(|a| a.as_str().to_string())
}

/// What the host and origin checks need: the app's state hands it over
/// through axum's `FromRef` (see [`crate::state`]). Cheap to clone.
#[derive(Clone)]
pub struct HostCheck {
    inner: Arc<HostParts>,
}

struct HostParts {
    hosts: AllowedHosts,
    /// Reads need no credential (see [`crate::auth::ReadAccess`]): then only
    /// known host names are answered.
    reads_open: bool,
    refusals: Arc<Refusals>,
}

impl HostCheck {
    pub fn new(cfg: &Config, reads_open: bool, refusals: Arc<Refusals>) -> HostCheck {
        HostCheck {
            inner: Arc::new(HostParts {
                hosts: AllowedHosts::for_config(cfg),
                reads_open,
                refusals,
            }),
        }
    }
    pub fn allowed_hosts(&self) -> &AllowedHosts {
        &self.inner.hosts
    }
}

/// Middleware on the whole app when reads are open: refuses other hosts.
pub async fn known_host(State(check): State<HostCheck>, req: Request, next: Next) -> Response {
    let state = &check.inner;
    if !state.reads_open {
        return next.run(req).await;
    }
    match request_host(&req) {
        Some(host) if !state.hosts.allows(&host) => {
            let area = if req.uri().path().starts_with("/v1/") {
                Area::Ingest
            } else if req.method().is_safe() {
                Area::Read
            } else {
                Area::Write
            };
            state.refusals.record(
                area,
                Reason::UnknownHost,
                None,
                "a request named a host this server does not answer to",
            );
            let mut listed = vec!["localhost".to_string(), "IP addresses".to_string()];
            listed.extend(state.hosts.names().iter().cloned());
            ApiError::new(
                StatusCode::MISDIRECTED_REQUEST,
                format!(
                    "this server answers to {} only. If you reach it under another name on purpose, \
                     add that name to `allowed_hosts` in its config (a web page re-pointing its own \
                     name at this server is refused the same way).",
                    listed.join(", ")
                ),
            )
            .into_response()
        }
        _ => next.run(req).await,
    }
}

/// Why a state-changing request looks cross-site, or `None` when it does
/// not. `Origin` must name the host the request was sent to, or one of
/// `hosts` (`public_url`, `allowed_hosts`: a reverse proxy may rewrite `Host`).
fn cross_site(headers: &HeaderMap, hosts: &AllowedHosts) -> Option<&'static str> {
    if headers
        .get(WRITE_HEADER)
        .and_then(|v| v.to_str().ok())
        .is_none_or(|v| v.trim().is_empty())
    {
        return Some("a change without the page's X-Scoreboard-Request header");
    }
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        if !matches!(site, "same-origin" | "none") {
            return Some("a change requested by a page of another site (Sec-Fetch-Site)");
        }
    }
    if let Some(origin) = headers.get(header::ORIGIN) {
        let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
        let origin = origin
            .to_str()
            .ok()
            .and_then(|o| reqwest::Url::parse(o).ok());
        let same = origin.as_ref().is_some_and(|o| {
            let port = o.port().map(|p| format!(":{p}")).unwrap_or_default();
            let name = o.host_str().unwrap_or_default().to_ascii_lowercase();
            host.is_some_and(|h| format!("{name}{port}").eq_ignore_ascii_case(h))
                || hosts.names.contains(&name)
        });
        if !same {
            return Some("a change requested by a page of another origin (Origin)");
        }
    }
    None
}

/// Middleware on state-changing routes of the page API.
pub async fn same_origin_writes(
    State(check): State<HostCheck>,
    req: Request,
    next: Next,
) -> Response {
    let state = &check.inner;
    if matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
        return next.run(req).await;
    }
    match cross_site(req.headers(), &state.hosts) {
        None => next.run(req).await,
        Some(why) => {
            state
                .refusals
                .record(Area::Write, Reason::CrossSite, None, why);
            ApiError::new(
                StatusCode::FORBIDDEN,
                format!(
                    "refused: {why}. Changes are made from Scoreboard's own page; a script must send \
                     `{WRITE_HEADER}: 1` from the same origin."
                ),
            )
            .into_response()
        }
    }
}

/// `Content-Security-Policy` of the API's answers: they are data, never a page.
pub const API_CSP: &str = "default-src 'none'; frame-ancestors 'none'; sandbox";
/// Of the page unless `frame_ancestors` says otherwise: it may not be
/// framed (clickjacking of the share and delete buttons).
pub const PAGE_CSP: &str = "frame-ancestors 'none'";

/// Who may show the page in a frame (`frame_ancestors`, for embeds such as
/// `/?embed=summary` in an internal platform's tab): the origins the config
/// names, already checked by `config::parse_frame_ancestors`; nobody when
/// it names none. Only the page's answers carry it: the API, telemetry and
/// everything else stay `frame-ancestors 'none'` with `X-Frame-Options: DENY`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FrameAncestors {
    origins: Vec<String>,
}

impl FrameAncestors {
    pub fn for_config(cfg: &Config) -> FrameAncestors {
        FrameAncestors {
            origins: cfg.frame_ancestors.clone(),
        }
    }

    /// The page's `Content-Security-Policy`.
    pub fn page_csp(&self) -> HeaderValue {
        if self.origins.is_empty() {
            return HeaderValue::from_static(PAGE_CSP);
        }
        // Checked origins are ASCII without spaces or semicolons; anything
        // else would fail closed.
        HeaderValue::from_str(&format!("frame-ancestors {}", self.origins.join(" ")))
            .unwrap_or(HeaderValue::from_static(PAGE_CSP))
    }

    /// `X-Frame-Options: DENY` is sent only while nobody may frame the
    /// page: it has no allow-list, and a browser that knows CSP ignores it
    /// anyway when `frame-ancestors` is present. Sending DENY next to an
    /// allow-list would only disagree with it.
    pub fn deny_all(&self) -> bool {
        self.origins.is_empty()
    }
}

/// The headers every answer carries (an answer that set its own keeps it).
pub fn security_headers<S>(router: axum::Router<S>, csp: &'static str) -> axum::Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    with_headers(router, HeaderValue::from_static(csp), true)
}

/// The page's headers: as [`security_headers`], with its framing rule.
pub fn page_headers<S>(router: axum::Router<S>, frames: &FrameAncestors) -> axum::Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    with_headers(router, frames.page_csp(), frames.deny_all())
}

fn with_headers<S>(router: axum::Router<S>, csp: HeaderValue, deny_frames: bool) -> axum::Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    let set =
        |name: HeaderName, value: HeaderValue| SetResponseHeaderLayer::if_not_present(name, value);
    let router = router
        .layer(set(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(set(header::CONTENT_SECURITY_POLICY, csp))
        .layer(set(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ))
        .layer(set(
            HeaderName::from_static("cross-origin-resource-policy"),
            HeaderValue::from_static("same-origin"),
        ));
    if deny_frames {
        router.layer(set(
            header::X_FRAME_OPTIONS,
            HeaderValue::from_static("DENY"),
        ))
    } else {
        router
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_may_be_framed_only_by_the_configured_origins() {
        let none = FrameAncestors::for_config(&Config::default());
        assert_eq!(none.page_csp(), "frame-ancestors 'none'");
        assert!(none.deny_all());
        let cfg = Config {
            frame_ancestors: vec![
                "https://platform.example.com".into(),
                "http://localhost:3000".into(),
            ],
            ..Config::default()
        };
        let some = FrameAncestors::for_config(&cfg);
        assert_eq!(
            some.page_csp(),
            "frame-ancestors https://platform.example.com http://localhost:3000"
        );
        assert!(
            !some.deny_all(),
            "no X-Frame-Options: DENY beside an allow-list"
        );
    }

    #[test]
    fn hosts_a_rebinding_page_could_use_are_not_allowed() {
        let mut cfg = Config {
            public_url: Some("https://Scoreboard.Example.com/".into()),
            ..Config::default()
        };
        cfg.allowed_hosts = vec!["dash.internal".into()];
        let h = AllowedHosts::for_config(&cfg);
        for ok in [
            "127.0.0.1:8080",
            "127.0.0.1",
            "[::1]:8080",
            "10.1.2.3",
            "localhost:8080",
            "LOCALHOST",
            "app.localhost:3000",
            "scoreboard.example.com",
            "scoreboard.example.com:443",
            "dash.internal.",
        ] {
            assert!(h.allows(ok), "{ok}");
        }
        for bad in [
            "evil.example",
            "evil.example:8080",
            "127.0.0.1.evil.example",
            "localhost.evil.example",
            "[not-an-ip]:80",
            "",
        ] {
            assert!(!h.allows(bad), "{bad}");
        }
    }

    #[test]
    fn a_write_needs_the_page_header_and_the_same_origin() {
        let hosts = AllowedHosts::for_config(&Config {
            public_url: Some("https://sb.example.com".into()),
            ..Config::default()
        });
        let cross_site = |h: &HeaderMap| cross_site(h, &hosts);
        let mut h = HeaderMap::new();
        h.insert(header::HOST, HeaderValue::from_static("127.0.0.1:8080"));
        assert!(cross_site(&h).is_some(), "no header");
        h.insert(WRITE_HEADER, HeaderValue::from_static("1"));
        assert_eq!(cross_site(&h), None, "a script on the page, old browser");
        h.insert("sec-fetch-site", HeaderValue::from_static("same-origin"));
        h.insert(
            header::ORIGIN,
            HeaderValue::from_static("http://127.0.0.1:8080"),
        );
        assert_eq!(cross_site(&h), None);
        h.insert(
            header::ORIGIN,
            HeaderValue::from_static("https://sb.example.com"),
        );
        assert_eq!(cross_site(&h), None, "behind a proxy that rewrites Host");
        h.insert(
            header::ORIGIN,
            HeaderValue::from_static("https://evil.example"),
        );
        assert!(cross_site(&h).is_some());
        h.insert(header::ORIGIN, HeaderValue::from_static("null"));
        assert!(cross_site(&h).is_some());
        h.remove(header::ORIGIN);
        h.insert("sec-fetch-site", HeaderValue::from_static("cross-site"));
        assert!(cross_site(&h).is_some());
    }
}
