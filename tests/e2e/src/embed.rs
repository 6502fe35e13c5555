//! Other origins for the embed tests: a site whose pages frame Scoreboard
//! (another port, reached as `127.0.0.1` or as `localhost`: two origins,
//! and two sites), and a sign-in proxy in front of a gated server, the way
//! oauth2-proxy and its kin work: it knows the browser by a session cookie
//! and passes the person on in an identity header.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode, Uri};
use axum::response::{Html, IntoResponse, Response};
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::TokioExecutor;

use crate::harness::{Error, Result};

async fn bind() -> Result<(tokio::net::TcpListener, SocketAddr)> {
    let where_ = Path::new("127.0.0.1:0");
    let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .await
        .map_err(|source| Error::Io {
            path: where_.to_owned(),
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| Error::Io {
        path: where_.to_owned(),
        source,
    })?;
    Ok((listener, addr))
}

/// A site's pages: (path, HTML).
type Pages = Arc<Mutex<Vec<(String, String)>>>;

/// A web site on its own port that serves the HTML pages it is given, by
/// path. Its port is known before its pages are (a server's config names
/// the site's origin before the pages can name the server).
pub struct HostSite {
    port: u16,
    pages: Pages,
    task: tokio::task::JoinHandle<()>,
}

impl HostSite {
    pub async fn start() -> Result<HostSite> {
        let (listener, addr) = bind().await?;
        let pages: Pages = Arc::default();
        let site = axum::Router::new()
            .fallback(serve_page)
            .with_state(pages.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, site).await;
        });
        Ok(HostSite {
            port: addr.port(),
            pages,
            task,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The site's origin under `host` (`127.0.0.1` or `localhost`).
    pub fn origin(&self, host: &str) -> String {
        format!("http://{host}:{}", self.port)
    }

    /// Serves `html` at `path` (starting with `/`).
    pub fn page(&self, path: &str, html: String) {
        if let Ok(mut pages) = self.pages.lock() {
            pages.push((path.to_owned(), html));
        }
    }
}

impl Drop for HostSite {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve_page(State(pages): State<Pages>, uri: Uri) -> Response {
    let found = pages.lock().ok().and_then(|p| {
        p.iter()
            .find(|(path, _)| path == uri.path())
            .map(|(_, html)| html.clone())
    });
    match found {
        Some(html) => Html(html).into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// An HTML page with one iframe per `(src, width, height)`, titled `title`.
pub fn framing_page(title: &str, frames: &[(String, u32, u32)]) -> String {
    let frames: String = frames
        .iter()
        .map(|(src, w, h)| {
            format!(
                "<iframe src=\"{src}\" width=\"{w}\" height=\"{h}\" \
                 style=\"border:1px solid #999;display:block;margin:8px 0\"></iframe>\n"
            )
        })
        .collect();
    format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>{title}</title></head>\
         <body style=\"font-family:sans-serif;margin:12px\"><h1 style=\"font-size:16px\">{title}</h1>\n{frames}</body></html>"
    )
}

/// The session cookie [`SignInProxy`] sets and reads.
pub const SESSION_COOKIE: &str = "proxy_session";

/// A sign-in proxy in front of `upstream`: `GET /sign-in` sets the session
/// cookie with the `SameSite` attribute given (as a real proxy sets it
/// after its login page); every other request is passed on, with `header`
/// set to `identity` when the cookie came with it, and removed otherwise
/// (a client can never set it itself).
pub struct SignInProxy {
    addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

#[derive(Clone)]
struct ProxyState {
    upstream: String,
    header: &'static str,
    identity: &'static str,
    same_site: &'static str,
    client: Client<HttpConnector, Body>,
}

impl SignInProxy {
    pub async fn start(
        upstream: &str,
        header: &'static str,
        identity: &'static str,
        same_site: &'static str,
    ) -> Result<SignInProxy> {
        let (listener, addr) = bind().await?;
        let state = ProxyState {
            upstream: upstream.trim_start_matches("http://").to_owned(),
            header,
            identity,
            same_site,
            client: Client::builder(TokioExecutor::new()).build_http(),
        };
        let app = axum::Router::new()
            .route("/sign-in", axum::routing::get(sign_in))
            .fallback(pass_on)
            .with_state(state);
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(SignInProxy { addr, task })
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for SignInProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn sign_in(State(s): State<ProxyState>) -> Response {
    let cookie = format!(
        "{SESSION_COOKIE}=signed-in; Path=/; HttpOnly; SameSite={}",
        s.same_site
    );
    let mut resp = Html("<!doctype html><title>Signed in</title><p id=signed-in>Signed in.</p>")
        .into_response();
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        resp.headers_mut().insert(header::SET_COOKIE, v);
    }
    resp
}

async fn pass_on(State(s): State<ProxyState>, mut req: Request) -> Response {
    let signed_in = req
        .headers()
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| {
            v.split(';')
                .any(|c| c.trim() == format!("{SESSION_COOKIE}=signed-in"))
        });
    let headers = req.headers_mut();
    headers.remove(s.header);
    if signed_in {
        headers.insert(s.header, HeaderValue::from_static(s.identity));
    }
    if let Ok(host) = HeaderValue::from_str(&s.upstream) {
        headers.insert(header::HOST, host);
    }
    let target = req
        .uri()
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_owned();
    let Ok(uri) = format!("http://{}{target}", s.upstream).parse::<Uri>() else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    *req.uri_mut() = uri;
    match s.client.request(req).await {
        Ok(resp) => resp.map(Body::new).into_response(),
        Err(e) => (StatusCode::BAD_GATEWAY, format!("proxy: {e}")).into_response(),
    }
}
