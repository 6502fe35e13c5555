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
//! write and an ingest token cannot read. Admin tokens read like viewers and
//! may also delete anyone's share snapshots.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::config::Config;
use crate::error::{blocking, ApiError};
use crate::refusals::{Area, Reason, Refusals};
use crate::store::{Store, StoreError, TokenKind, TokenReader};
use crate::tokens::{self, Presented};
use scoreboard_otlp::{AuthDenial, IngestDecision, IngestRefusal, RefusedIngest};

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

/// What the read gate needs, and nothing else: the app's state hands it
/// over through axum's `FromRef` (see [`crate::state`]), so this module
/// never sees the rest of the server. Cheap to clone (one `Arc`).
#[derive(Clone)]
pub struct Gate {
    inner: Arc<GateParts>,
}

struct GateParts {
    access: ReadAccess,
    /// The main listener is on a loopback address: no credential means the operator.
    loopback: bool,
    store: Arc<Store>,
    refusals: Arc<Refusals>,
    /// SHA-256 of the `/metrics`-only token, when one is configured.
    metrics_token: Option<String>,
}

impl Gate {
    pub fn new(cfg: &Config, store: Arc<Store>, refusals: Arc<Refusals>) -> Gate {
        Gate {
            inner: Arc::new(GateParts {
                access: ReadAccess::for_config(cfg),
                loopback: cfg.listen.ip().is_loopback(),
                store,
                refusals,
                metrics_token: cfg
                    .secrets
                    .metrics_token
                    .as_ref()
                    .map(|t| tokens::hash_token(t.expose())),
            }),
        }
    }
    pub fn read_access(&self) -> &ReadAccess {
        &self.inner.access
    }
    pub fn is_loopback(&self) -> bool {
        self.inner.loopback
    }
    /// Refused requests, counted (the telemetry receiver's too, when built with it).
    pub fn refusals(&self) -> &Arc<Refusals> {
        &self.inner.refusals
    }
    /// SHA-256 of the `/metrics`-only token, when one is configured.
    pub fn metrics_token(&self) -> Option<&str> {
        self.inner.metrics_token.as_deref()
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
            if store.active_token_count(TokenKind::Viewer)?
                + store.active_token_count(TokenKind::Admin)?
                > 0
            {
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

/// Who a request of the page API comes from, once the read gate let it in.
/// Handlers find it in the request's extensions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    /// No credential on a loopback listener: the person at this machine.
    Operator,
    /// No credential on a server whose reads are public (`public = true`).
    Anonymous,
    /// A viewer or admin token.
    Token { id: i64, kind: TokenKind },
    /// The identity a trusted reverse proxy put in its header.
    Identity(String),
    /// The metrics-only token (`/metrics` and nothing else).
    Scraper,
}

/// Longest identity taken from the trusted header: an e-mail or a user name.
const MAX_IDENTITY_CHARS: usize = 320;

impl Actor {
    /// The owner recorded with what this actor stores (share snapshots).
    pub fn owner(&self) -> String {
        match self {
            Actor::Operator => "operator".into(),
            Actor::Anonymous => "anonymous".into(),
            Actor::Token { id, .. } => format!("token:{id}"),
            Actor::Identity(who) => format!("identity:{who}"),
            Actor::Scraper => "scraper".into(),
        }
    }

    /// May list and delete what anyone stored: the operator at this machine
    /// or an admin token.
    pub fn manages_all(&self) -> bool {
        matches!(
            self,
            Actor::Operator
                | Actor::Token {
                    kind: TokenKind::Admin,
                    ..
                }
        )
    }

    pub fn token_id(&self) -> Option<i64> {
        match self {
            Actor::Token { id, .. } => Some(*id),
            _ => None,
        }
    }
}

/// A request the read gate refused: why, and the token it was for when known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denied {
    pub reason: Reason,
    pub token: Option<i64>,
    pub message: &'static str,
}

impl Denied {
    fn new(reason: Reason, token: Option<i64>, message: &'static str) -> Denied {
        Denied {
            reason,
            token,
            message,
        }
    }
}

const NEEDS_TOKEN: &str = "reading this server's data needs a viewer token: send `Authorization: Bearer <token>` (create one with `scoreboard token create --viewer --name NAME`)";

/// Who is asking, or why they may not. A bearer token that is sent is
/// always checked, even where no credential is needed: a wrong one is an
/// error, not something to ignore.
pub async fn resolve(state: &Gate, headers: &HeaderMap) -> Result<Actor, Denied> {
    if let ReadAccess::Gated {
        trusted_header: Some(h),
    } = state.read_access()
    {
        if let Some(v) = headers.get(h).and_then(|v| v.to_str().ok()) {
            let v = v.trim();
            if !v.is_empty() {
                if v.chars().count() > MAX_IDENTITY_CHARS {
                    return Err(Denied::new(
                        Reason::BadRequest,
                        None,
                        "the identity header is longer than any e-mail or user name",
                    ));
                }
                return Ok(Actor::Identity(v.to_string()));
            }
        }
    }
    if let Some(token) = bearer(headers).map(str::to_string) {
        if is_metrics_token(state, &token) {
            return Err(Denied::new(
                Reason::WrongTokenKind,
                None,
                "this is the metrics token, which reads /metrics only; reading the dashboard needs a viewer token",
            ));
        }
        let store = state.inner.store.clone();
        let found = blocking(move || tokens::identify(&store, &token)).await;
        return match found {
            Ok(Ok(Presented::Active(t))) if t.kind.reads() => Ok(Actor::Token {
                id: t.id,
                kind: t.kind,
            }),
            Ok(Ok(Presented::Active(t))) => Err(Denied::new(
                Reason::WrongTokenKind,
                Some(t.id),
                "this is an ingest token, which can only send telemetry; reading needs a viewer token",
            )),
            Ok(Ok(Presented::Revoked(t))) => Err(Denied::new(
                Reason::RevokedToken,
                Some(t.id),
                "this token has been revoked; ask for a new viewer token",
            )),
            Ok(Ok(Presented::Unknown)) => Err(Denied::new(
                Reason::UnknownToken,
                None,
                "this server does not know this token (it may be from another server, or mistyped)",
            )),
            Ok(Err(e)) => {
                tracing::error!(error = %e, "cannot check a viewer token");
                Err(Denied::new(
                    Reason::Busy,
                    None,
                    "the token could not be checked; try again",
                ))
            }
            Err(_) => Err(Denied::new(
                Reason::Busy,
                None,
                "the token could not be checked; try again",
            )),
        };
    }
    match state.read_access() {
        ReadAccess::Open if state.is_loopback() => Ok(Actor::Operator),
        ReadAccess::Open => Ok(Actor::Anonymous),
        ReadAccess::Gated { .. } => Err(Denied::new(Reason::MissingCredential, None, NEEDS_TOKEN)),
    }
}

/// Middleware on the read routes (and the page API's writes, which follow
/// the same gate): puts the [`Actor`] into the request, or answers 401.
pub async fn require_reader(State(state): State<Gate>, mut req: Request, next: Next) -> Response {
    let area = if req.method().is_safe() {
        Area::Read
    } else {
        Area::Write
    };
    match resolve(&state, req.headers()).await {
        Ok(actor) => {
            if let Some(id) = actor.token_id() {
                tracing::debug!(token_id = id, "request authorised by token");
            }
            req.extensions_mut().insert(actor);
            next.run(req).await
        }
        Err(d) => {
            state.refusals().record(area, d.reason, d.token, d.message);
            if d.reason == Reason::Busy {
                return ApiError::new(StatusCode::SERVICE_UNAVAILABLE, d.message).into_response();
            }
            unauthorized(d.message)
        }
    }
}

/// The configured metrics-only token (compared by SHA-256, as stored tokens are).
fn is_metrics_token(state: &Gate, presented: &str) -> bool {
    state
        .metrics_token()
        .is_some_and(|h| tokens::hash_token(presented) == h)
}

/// Middleware on `/metrics`: the metrics-only token (`SCOREBOARD_METRICS_TOKEN`)
/// lets a scraper in as [`Actor::Scraper`]; anything else goes through the
/// read gate as on every other read.
pub async fn require_metrics_reader(
    State(state): State<Gate>,
    mut req: Request,
    next: Next,
) -> Response {
    if bearer(req.headers()).is_some_and(|t| is_metrics_token(&state, t)) {
        req.extensions_mut().insert(Actor::Scraper);
        return next.run(req).await;
    }
    require_reader(State(state), req, next).await
}

fn unauthorized(message: &str) -> Response {
    let mut resp = ApiError::new(StatusCode::UNAUTHORIZED, message).into_response();
    resp.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Bearer realm=\"scoreboard\""),
    );
    resp
}

/// Ingest authorisation handed to the telemetry receiver: only active ingest
/// tokens; every refused telemetry request is counted with the others.
///
/// The receiver asks on the request's async thread, so the answer comes from
/// a cache ([`TokenAnswers`]) read on a connection of its own, never from
/// the store's connection (whose lock a long read may hold) and without a
/// hand-off to a blocking thread.
pub struct IngestTokens {
    store: Arc<Store>,
    refusals: Option<Arc<Refusals>>,
    answers: std::sync::Mutex<TokenAnswers>,
}

/// What the presented tokens were found to be, valid while nothing else
/// commits to the database file. Any commit by another connection moves
/// SQLite's `data_version`, and the next check then empties the cache: a
/// token created or revoked (by `scoreboard token` in another process, or
/// through the store) is seen by the very next request. Telemetry's own
/// commits move it too, so under load a token is looked up again about
/// once per group commit rather than once per request.
#[derive(Default)]
struct TokenAnswers {
    reader: Option<TokenReader>,
    version: Option<i64>,
    /// By the token's SHA-256 (hex). Tokens nobody knows are not kept: a
    /// client trying made-up tokens cannot grow the map.
    known: std::collections::HashMap<String, IngestDecision>,
}

/// Most tokens remembered at once; past it the cache starts again.
const MAX_REMEMBERED_TOKENS: usize = 10_000;

impl TokenAnswers {
    fn answer(&mut self, store: &Store, hash: &str) -> Result<IngestDecision, StoreError> {
        let reader = match &mut self.reader {
            Some(r) => r,
            none => none.insert(store.token_reader()?),
        };
        let version = reader.data_version()?;
        if self.version != Some(version) {
            self.known.clear();
            self.version = Some(version);
        }
        if let Some(d) = self.known.get(hash) {
            return Ok(*d);
        }
        let decision = match reader.token_by_hash(hash)? {
            Some(t) if t.revoked_at.is_some() => {
                IngestDecision::Denied(AuthDenial::Revoked, Some(t.id))
            }
            Some(t) if t.kind == TokenKind::Ingest => IngestDecision::Granted(Some(t.id)),
            Some(t) => IngestDecision::Denied(AuthDenial::WrongKind, Some(t.id)),
            None => return Ok(IngestDecision::Denied(AuthDenial::Unknown, None)),
        };
        if self.known.len() >= MAX_REMEMBERED_TOKENS {
            self.known.clear();
        }
        self.known.insert(hash.to_string(), decision);
        Ok(decision)
    }
}

impl IngestTokens {
    pub fn new(store: Arc<Store>) -> IngestTokens {
        IngestTokens {
            store,
            refusals: None,
            answers: Default::default(),
        }
    }

    /// Counts refusals in `refusals` (the server's); without it they are only logged.
    pub fn counting(store: Arc<Store>, refusals: Arc<Refusals>) -> IngestTokens {
        IngestTokens {
            store,
            refusals: Some(refusals),
            answers: Default::default(),
        }
    }
}

impl scoreboard_otlp::IngestAuth for IngestTokens {
    fn check(&self, bearer_token: Option<&str>) -> IngestDecision {
        let Some(token) = bearer_token else {
            return IngestDecision::Denied(AuthDenial::Missing, None);
        };
        let token = token.trim();
        if token.is_empty() {
            return IngestDecision::Denied(AuthDenial::Unknown, None);
        }
        let hash = tokens::hash_token(token);
        // A panic while holding the lock leaves nothing half-written that
        // matters: at worst the cache is emptied at the next commit.
        let mut answers = self.answers.lock().unwrap_or_else(|p| p.into_inner());
        match answers.answer(&self.store, &hash) {
            Ok(d) => d,
            Err(e) => {
                // The connection is opened again next time.
                *answers = TokenAnswers::default();
                tracing::error!(error = %e, "cannot check an ingest token");
                IngestDecision::Unavailable
            }
        }
    }

    fn refused(&self, r: &RefusedIngest<'_>) {
        let Some(refusals) = &self.refusals else {
            tracing::warn!(
                signal = r.signal,
                status = r.status,
                "OTLP request refused: {}",
                r.message
            );
            return;
        };
        let reason = match r.reason {
            IngestRefusal::Auth(AuthDenial::Missing) => Reason::MissingCredential,
            IngestRefusal::Auth(AuthDenial::Unknown) => Reason::UnknownToken,
            IngestRefusal::Auth(AuthDenial::Revoked) => Reason::RevokedToken,
            IngestRefusal::Auth(AuthDenial::WrongKind) => Reason::WrongTokenKind,
            IngestRefusal::UnsupportedMediaType => Reason::UnsupportedMediaType,
            IngestRefusal::TooLarge => Reason::TooLarge,
            IngestRefusal::BadRequest => Reason::BadRequest,
            IngestRefusal::SlowBody => Reason::SlowBody,
            IngestRefusal::Busy => Reason::Busy,
        };
        refusals.record(Area::Ingest, reason, r.token, r.message);
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
