//! Who may read the page API, and who may send telemetry.
//!
//! Reading: on a loopback address the page needs no credential (only this
//! machine can connect). Anywhere else, a read needs a viewer token in the
//! `Authorization: Bearer` header, or the identity header a trusted reverse
//! proxy sets, unless the operator declared the server `public = true`.
//! Tokens are taken from the header only: a token in a URL ends up in
//! browser history, proxy logs and shared links.
//!
//! Writing telemetry needs an ingest token, always; a viewer token cannot
//! write and an ingest token cannot read.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::api::{ApiError, AppState};
use crate::config::Config;
use crate::store::{Store, StoreError, TokenKind};
use crate::tokens;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadAccess {
    /// No credential needed.
    Open,
    /// A viewer token, or the trusted identity header when one is configured.
    Gated { trusted_header: Option<HeaderName> },
}

impl ReadAccess {
    pub fn for_config(cfg: &Config) -> ReadAccess {
        if cfg.public {
            return ReadAccess::Open;
        }
        // A configured identity header means a reverse proxy fronts the server:
        // then a loopback listener is reachable by whoever the proxy lets in,
        // so the gate stays on.
        if cfg.listen.ip().is_loopback() && cfg.trusted_identity_header.is_none() {
            return ReadAccess::Open;
        }
        ReadAccess::Gated {
            trusted_header: cfg.trusted_identity_header.clone(),
        }
    }

    pub fn is_open(&self) -> bool {
        matches!(self, ReadAccess::Open)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StartupRefused {
    #[error(
        "refusing to start: listening on {addr}, which is not a loopback address, would serve the read API \
         with no way to authenticate. Do one of: create a viewer token (`scoreboard token create --viewer --name NAME`), \
         set `trusted_identity_header` to the header your reverse proxy sets, set `public = true` in the config \
         to serve the data to anyone who can reach {addr}, or listen on 127.0.0.1"
    )]
    OpenReadApi { addr: SocketAddr },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Refuses a configuration that would leave the read API open (or closed
/// to everyone) on a non-loopback address.
pub fn check_startup(cfg: &Config, store: &Store) -> Result<(), StartupRefused> {
    match ReadAccess::for_config(cfg) {
        ReadAccess::Open => Ok(()),
        ReadAccess::Gated {
            trusted_header: Some(_),
        } => Ok(()),
        ReadAccess::Gated {
            trusted_header: None,
        } => {
            if store.active_token_count(TokenKind::Viewer)? > 0 {
                Ok(())
            } else {
                Err(StartupRefused::OpenReadApi { addr: cfg.listen })
            }
        }
    }
}

/// The token in `Authorization: Bearer <token>`, if the header has that form.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, rest) = v.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| rest.trim())
        .filter(|t| !t.is_empty())
}

/// Middleware on the read routes.
pub async fn require_reader(State(state): State<AppState>, req: Request, next: Next) -> Response {
    match state.read_access() {
        ReadAccess::Open => next.run(req).await,
        ReadAccess::Gated { trusted_header } => {
            if let Some(h) = trusted_header {
                if req
                    .headers()
                    .get(h)
                    .and_then(|v| v.to_str().ok())
                    .is_some_and(|v| !v.trim().is_empty())
                {
                    return next.run(req).await;
                }
            }
            let Some(token) = bearer(req.headers()).map(str::to_string) else {
                return unauthorized("reading this server's data needs a viewer token: send `Authorization: Bearer <token>` (create one with `scoreboard token create --viewer --name NAME`)");
            };
            let store = state.store().clone();
            let found = tokio::task::spawn_blocking(move || {
                tokens::check(&store, TokenKind::Viewer, &token)
            })
            .await;
            match found {
                Ok(Ok(Some(t))) => {
                    tracing::debug!(token_id = t.id, "read authorised by viewer token");
                    next.run(req).await
                }
                Ok(Ok(None)) => unauthorized("this token is not an active viewer token (it may be revoked, or be an ingest token, which can only send telemetry)"),
                Ok(Err(e)) => ApiError::internal(e.to_string()).into_response(),
                Err(e) => ApiError::internal(e.to_string()).into_response(),
            }
        }
    }
}

fn unauthorized(message: &str) -> Response {
    let mut resp = ApiError::new(StatusCode::UNAUTHORIZED, message).into_response();
    resp.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Bearer realm=\"scoreboard\""),
    );
    resp
}

/// Ingest authorisation handed to the telemetry receiver: only active ingest tokens.
pub struct IngestTokens {
    store: Arc<Store>,
}

impl IngestTokens {
    pub fn new(store: Arc<Store>) -> IngestTokens {
        IngestTokens { store }
    }

    pub fn authorize(&self, bearer: Option<&str>) -> bool {
        let Some(token) = bearer else { return false };
        match tokens::check(&self.store, TokenKind::Ingest, token) {
            Ok(found) => found.is_some(),
            Err(e) => {
                tracing::error!(error = %e, "cannot check an ingest token");
                false
            }
        }
    }
}

impl scoreboard_otlp::IngestAuth for IngestTokens {
    fn authorize(&self, bearer_token: Option<&str>) -> bool {
        IngestTokens::authorize(self, bearer_token)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_is_read_from_the_header_only() {
        let mut h = HeaderMap::new();
        assert_eq!(bearer(&h), None);
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer sbv_abc"),
        );
        assert_eq!(bearer(&h), Some("sbv_abc"));
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Basic xyz"));
        assert_eq!(bearer(&h), None);
    }

    #[test]
    fn loopback_is_open_and_anything_else_is_gated() {
        let mut c = Config::default();
        assert!(ReadAccess::for_config(&c).is_open());
        c.listen = "0.0.0.0:8080".parse().unwrap();
        assert!(!ReadAccess::for_config(&c).is_open());
        c.public = true;
        assert!(ReadAccess::for_config(&c).is_open());
        c.public = false;
        c.listen = "127.0.0.1:8080".parse().unwrap();
        c.trusted_identity_header = Some(HeaderName::from_static("x-forwarded-email"));
        assert!(!ReadAccess::for_config(&c).is_open());
    }
}
