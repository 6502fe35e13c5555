//! Who may read the page API, who may send telemetry, and start-up refusing
//! an open read API on a non-loopback address.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::sync::Arc;

use axum::http::{HeaderName, StatusCode};
use chrono::Utc;
use common::*;
use scoreboard_server::auth::{IngestTokens, StartupRefused};
use scoreboard_server::config::{Config, Secrets};
use scoreboard_server::serve::{self, ServeError};
use scoreboard_server::store::{Store, TokenKind};
use scoreboard_server::tokens;
use scoreboard_test_support::otlp::{sum_request, text};
use serde_json::Value;

const READS: [&str; 7] = [
    "/api/rows?from=2026-11-01&to=2026-11-20",
    "/api/report?weeks=2",
    "/metrics",
    "/api/roster",
    "/api/sources",
    "/api/telemetry/persons",
    "/api/telemetry/rollout",
];

fn offline_config(dir: &Path) -> Config {
    // No key: these tests never reach Anthropic.
    Config {
        data_dir: dir.to_path_buf(),
        secrets: Secrets::default(),
        ..Config::default()
    }
}

/// Offline settings with a built page (one `index.html`) in `dir/dist`.
fn with_page(dir: &Path) -> Config {
    let dist = dir.join("dist");
    std::fs::create_dir_all(&dist).unwrap();
    std::fs::write(
        dist.join("index.html"),
        "<!doctype html><title>Scoreboard</title>",
    )
    .unwrap();
    let mut cfg = offline_config(&dir.join("data"));
    cfg.dist = Some(dist);
    cfg
}

#[tokio::test]
async fn a_non_loopback_bind_without_viewer_auth_refuses_to_start() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = offline_config(dir.path());
    cfg.listen = "0.0.0.0:0".parse().unwrap();
    match serve::start(cfg.clone()).await {
        Err(ServeError::Refused(StartupRefused::OpenReadApi { .. })) => {}
        Err(e) => panic!("wrong error: {e}"),
        Ok(_) => panic!("started an open read API on 0.0.0.0"),
    }

    // The binary: non-zero exit, the reason on stderr, naming the ways out.
    let out = scoreboard_command()
        .args(["serve", "--listen", "0.0.0.0:0", "--data-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("refusing to start")
            && stderr.contains("viewer token")
            && stderr.contains("public = true"),
        "{stderr}"
    );

    // A viewer token, a trusted header or `public = true` each make it start.
    let store = Store::open(&cfg.db_path()).unwrap();
    tokens::create(&store, TokenKind::Viewer, "lead", Utc::now()).unwrap();
    drop(store);
    serve::start(cfg.clone())
        .await
        .unwrap()
        .stop()
        .await
        .unwrap();
    let other = tempfile::tempdir().unwrap();
    let mut proxied = offline_config(other.path());
    proxied.listen = "0.0.0.0:0".parse().unwrap();
    proxied.trusted_identity_header = Some(HeaderName::from_static("x-forwarded-email"));
    serve::start(proxied).await.unwrap().stop().await.unwrap();
    let third = tempfile::tempdir().unwrap();
    let mut public = offline_config(third.path());
    public.listen = "0.0.0.0:0".parse().unwrap();
    public.public = true;
    serve::start(public).await.unwrap().stop().await.unwrap();
}

#[tokio::test]
async fn loopback_reads_need_no_credential() {
    let dir = tempfile::tempdir().unwrap();
    let h = Harness::new(offline_config(dir.path()));
    for uri in READS {
        let (status, body) = h.get(uri, &[]).await;
        assert_eq!(status, StatusCode::OK, "{uri}: {body}");
    }
    let health = h.get_json("/api/health").await;
    assert_eq!(health["auth_required"], false);
}

#[tokio::test]
async fn viewer_tokens_gate_reads_on_a_non_loopback_address() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = offline_config(dir.path());
    cfg.listen = "0.0.0.0:8080".parse().unwrap();
    let h = Harness::new(cfg);
    let now = Utc::now();
    let viewer = tokens::create(&h.store, TokenKind::Viewer, "lead", now).unwrap();
    let ingest = tokens::create(&h.store, TokenKind::Ingest, "laptops", now).unwrap();
    let revoked = tokens::create(&h.store, TokenKind::Viewer, "old", now).unwrap();
    tokens::revoke(&h.store, revoked.record.id, now).unwrap();
    let bearer = |t: &str| format!("Bearer {t}");

    for uri in READS {
        let (status, body) = h.get(uri, &[]).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{uri} without a token");
        assert!(body.contains("viewer token"), "{body}");
        let (status, _) = h
            .get(uri, &[("authorization", &bearer(&ingest.token))])
            .await;
        assert_eq!(
            status,
            StatusCode::UNAUTHORIZED,
            "an ingest token cannot read {uri}"
        );
        let (status, _) = h
            .get(uri, &[("authorization", &bearer(&revoked.token))])
            .await;
        assert_eq!(
            status,
            StatusCode::UNAUTHORIZED,
            "a revoked token cannot read {uri}"
        );
        let (status, _) = h.get(uri, &[("authorization", "Bearer sbv_guess")]).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        let (status, body) = h
            .get(uri, &[("authorization", &bearer(&viewer.token))])
            .await;
        assert_eq!(status, StatusCode::OK, "{uri}: {body}");
    }
    // A token in the URL is not accepted: it would end up in logs and shared links.
    let (status, _) = h
        .get(&format!("/api/sources?token={}", viewer.token), &[])
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // Health stays open and says a credential is needed.
    let health = h.get_json("/api/health").await;
    assert_eq!(health["auth_required"], true);
}

#[tokio::test]
async fn the_trusted_identity_header_gates_reads() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = offline_config(dir.path());
    cfg.listen = "10.0.0.5:8080".parse().unwrap();
    cfg.trusted_identity_header = Some(HeaderName::from_static("x-forwarded-email"));
    let h = Harness::new(cfg);
    let (status, _) = h.get("/api/sources", &[]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = h.get("/api/sources", &[("x-forwarded-email", "")]).await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "an empty identity is no identity"
    );
    let (status, _) = h
        .get("/api/sources", &[("x-forwarded-email", "lead@acme.io")])
        .await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn api_and_telemetry_paths_are_never_swallowed_by_the_page() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = with_page(dir.path());
    std::fs::write(cfg.dist.as_ref().unwrap().join("app.js"), "console.log(1)").unwrap();
    cfg.demo = true;
    let h = Harness::new(cfg);
    let (status, body) = h.get("/", &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("<title>Scoreboard"));
    let (status, body) = h.get("/people/ann", &[]).await;
    assert_eq!(
        (status, body.contains("<title>Scoreboard")),
        (StatusCode::OK, true),
        "client-side routes get index.html"
    );
    let (status, body) = h.get("/app.js", &[]).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "console.log(1)"));
    for uri in ["/api/nope", "/api", "/v1/nope", "/v1"] {
        let (status, body) = h.get(uri, &[]).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{uri}");
        let v: Value = serde_json::from_str(&body)
            .unwrap_or_else(|_| panic!("{uri} answered the page: {body}"));
        assert_eq!(v["error"]["status"], 404);
    }
    let health = h.get_json("/api/health").await;
    assert_eq!(health["demo"], true, "--demo is reported");
    assert_eq!(health["ok"], true);
    // --demo stores nothing.
    let rows = h.get_json("/api/rows?from=2026-01-01&to=2026-12-31").await;
    assert_eq!(rows["rows"], serde_json::json!([]));
}

#[tokio::test]
async fn bad_ranges_are_refused_with_a_reason() {
    let dir = tempfile::tempdir().unwrap();
    let h = Harness::new(offline_config(dir.path()));
    for (uri, needle) in [
        ("/api/rows?from=2026-11-20&to=2026-11-01", "after"),
        ("/api/rows?from=yesterday", "YYYY-MM-DD"),
        ("/api/rows?from=2020-01-01&to=2026-11-20", "longer than"),
    ] {
        let (status, body) = h.get(uri, &[]).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{uri}");
        assert!(body.contains(needle), "{uri}: {body}");
    }
}

/// Offline settings and the telemetry receiver on the same file.
fn with_telemetry(dir: &Path) -> Harness {
    Harness::with_receiver(offline_config(dir))
}

/// Posts the captured session with `token`; the answers' statuses.
async fn replay_capture(h: &Harness, token: &str) -> Vec<StatusCode> {
    h.send_session(token)
        .await
        .into_iter()
        .map(|(s, _)| s)
        .collect()
}

#[tokio::test]
async fn telemetry_needs_an_ingest_token_and_its_rows_are_served() {
    let dir = tempfile::tempdir().unwrap();
    let h = with_telemetry(dir.path());
    let now = Utc::now();
    let viewer = tokens::create(&h.store, TokenKind::Viewer, "lead", now).unwrap();
    let ingest = tokens::create(&h.store, TokenKind::Ingest, "laptops", now).unwrap();

    assert!(
        replay_capture(&h, &viewer.token)
            .await
            .iter()
            .all(|s| *s == StatusCode::UNAUTHORIZED),
        "a viewer token cannot write"
    );
    assert!(replay_capture(&h, "sbi_made_up")
        .await
        .iter()
        .all(|s| *s == StatusCode::UNAUTHORIZED));
    let rows = h.get_json("/api/rows?from=2026-11-20&to=2026-11-23").await;
    assert_eq!(rows["rows"], serde_json::json!([]));

    assert!(replay_capture(&h, &ingest.token)
        .await
        .iter()
        .all(|s| *s == StatusCode::OK));
    let rows = h.get_json("/api/rows?from=2026-11-20&to=2026-11-23").await;
    assert_eq!(rows["counts"]["otlp"], 1, "{rows:#}");
    assert_eq!(rows["rows"][0]["source"], "otlp");
    let sources = h.get_json("/api/sources").await;
    assert_eq!(sources["telemetry"]["configured"], true);
    assert!(
        sources["telemetry"]["status_text"]
            .as_str()
            .unwrap()
            .starts_with("Last telemetry received at"),
        "{sources:#}"
    );
    let health = h.get_json("/api/health").await;
    assert_eq!(health["sources"]["telemetry"], true);

    // Revoking the token stops it at once.
    tokens::revoke(&h.store, ingest.record.id, now).unwrap();
    assert!(replay_capture(&h, &ingest.token)
        .await
        .iter()
        .all(|s| *s == StatusCode::UNAUTHORIZED));
}

#[tokio::test]
async fn a_rebound_host_name_cannot_read_the_loopback_api() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = with_page(dir.path());
    cfg.public_url = Some("https://scoreboard.corp.example".into());
    cfg.allowed_hosts = vec!["dash.internal".into()];
    let h = Harness::new(cfg);
    // What a page on evil.example sees after re-pointing its name at 127.0.0.1.
    for uri in READS
        .iter()
        .copied()
        .chain(["/api/snapshots", "/", "/api/health"])
    {
        let (status, body) = h.get(uri, &[("host", "evil.example:8080")]).await;
        assert_eq!(status, StatusCode::MISDIRECTED_REQUEST, "{uri}: {body}");
        assert!(!body.contains("@"), "{uri} leaked data: {body}");
    }
    let (status, _) = h
        .request(
            "DELETE",
            &format!("/api/snapshots/{}", "a".repeat(64)),
            &[("host", "evil.example"), ("x-scoreboard-request", "1")],
            Vec::new(),
        )
        .await;
    assert_eq!(status, StatusCode::MISDIRECTED_REQUEST);
    let (status, _) = h
        .request(
            "POST",
            "/v1/metrics",
            &[("host", "evil.example")],
            Vec::new(),
        )
        .await;
    assert_eq!(status, StatusCode::MISDIRECTED_REQUEST);
    // The names this server answers to.
    for host in [
        "127.0.0.1:8080",
        "localhost:8080",
        "[::1]:8080",
        "scoreboard.corp.example",
        "dash.internal:8080",
    ] {
        let (status, body) = h.get("/api/roster", &[("host", host)]).await;
        assert_eq!(status, StatusCode::OK, "{host}: {body}");
    }
}

#[tokio::test]
async fn a_gated_server_leaves_the_host_to_its_credentials() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = offline_config(dir.path());
    cfg.listen = "0.0.0.0:8080".parse().unwrap();
    let h = Harness::new(cfg);
    let viewer = tokens::create(&h.store, TokenKind::Viewer, "lead", Utc::now()).unwrap();
    let auth = format!("Bearer {}", viewer.token);
    // A proxy may pass any Host; a rebinding page has no token.
    let (status, _) = h.get("/api/roster", &[("host", "evil.example")]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = h
        .get(
            "/api/roster",
            &[("host", "internal-name"), ("authorization", &auth)],
        )
        .await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn every_answer_carries_the_security_headers() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = with_page(dir.path());
    let h = Harness::new(cfg);
    for uri in [
        "/",
        "/index.html",
        "/api/health",
        "/api/roster",
        "/api/nope",
        "/v1/nope",
    ] {
        let headers = h.get_headers(uri).await;
        let hv = |n: &str| {
            headers
                .get(n)
                .map(|v| v.to_str().unwrap().to_string())
                .unwrap_or_default()
        };
        assert_eq!(hv("x-content-type-options"), "nosniff", "{uri}");
        assert_eq!(hv("x-frame-options"), "DENY", "{uri}");
        assert!(
            hv("content-security-policy").contains("frame-ancestors 'none'"),
            "{uri}"
        );
        assert_eq!(hv("referrer-policy"), "no-referrer", "{uri}");
        if uri.starts_with("/api") {
            assert!(
                hv("content-security-policy").contains("default-src 'none'"),
                "{uri}"
            );
        }
    }
}

#[tokio::test]
async fn frame_ancestors_let_only_the_page_be_framed_and_only_by_those_origins() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = with_page(dir.path());
    cfg.frame_ancestors = vec!["https://platform.example.com".into()];
    let h = Harness::new(cfg);
    for uri in [
        "/",
        "/?embed=summary",
        "/?embed=trend&figure=sessions",
        "/index.html",
        "/api/health",
        "/api/roster",
        "/api/nope",
        "/metrics",
        "/v1/nope",
    ] {
        let headers = h.get_headers(uri).await;
        let hv = |n: &str| {
            headers
                .get(n)
                .map(|v| v.to_str().unwrap().to_string())
                .unwrap_or_default()
        };
        let csp = hv("content-security-policy");
        let page = !uri.starts_with("/api") && !uri.starts_with("/v1") && uri != "/metrics";
        if page {
            assert_eq!(csp, "frame-ancestors https://platform.example.com", "{uri}");
            assert_eq!(
                hv("x-frame-options"),
                "",
                "{uri}: DENY would disagree with the allow-list"
            );
        } else {
            assert!(csp.contains("frame-ancestors 'none'"), "{uri}: {csp}");
            assert_eq!(hv("x-frame-options"), "DENY", "{uri}");
        }
        assert_eq!(hv("x-content-type-options"), "nosniff", "{uri}");
    }
}

#[tokio::test]
async fn a_wrong_token_is_refused_even_where_no_credential_is_needed() {
    let dir = tempfile::tempdir().unwrap();
    let h = Harness::new(offline_config(dir.path()));
    let (status, _) = h
        .get("/api/roster", &[("authorization", "Bearer sbv_guess")])
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn refused_requests_are_counted_by_reason_and_token_not_logged_one_by_one() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = offline_config(dir.path());
    let store = Arc::new(Store::open(&cfg.db_path()).unwrap());
    let refusals = Arc::new(scoreboard_server::refusals::Refusals::new(store.clone()));
    let receiver = Arc::new(
        scoreboard_otlp::Receiver::open(
            &cfg.db_path(),
            scoreboard_otlp::OtlpConfig::default(),
            Arc::new(IngestTokens::counting(store.clone(), refusals.clone())),
        )
        .unwrap(),
    );
    let syncer = Arc::new(scoreboard_server::sync::Syncer::new(&cfg, store.clone()).unwrap());
    let state = scoreboard_server::state::AppState::with_parts(
        &cfg,
        store.clone(),
        syncer,
        Some(receiver),
        refusals,
        Arc::new(Utc::now),
    );
    let now = Utc::now();
    let laptops = tokens::create(&store, TokenKind::Ingest, "laptops", now).unwrap();
    let viewer = tokens::create(&store, TokenKind::Viewer, "lead", now).unwrap();
    tokens::revoke(&store, laptops.record.id, now).unwrap();
    let send = |token: String| {
        let state = state.clone();
        async move {
            use tower::ServiceExt;
            let req = axum::http::Request::post("/v1/metrics")
                .header("content-type", "application/json")
                .header("authorization", format!("Bearer {token}"))
                .body(axum::body::Body::from("{}"))
                .unwrap();
            scoreboard_server::api::app(state)
                .oneshot(req)
                .await
                .unwrap()
                .status()
        }
    };
    // 40 laptops still sending with the revoked token, one with a made-up one,
    // and a viewer token used to send.
    for _ in 0..40 {
        assert_eq!(send(laptops.token.clone()).await, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(send("sbi_made_up".into()).await, StatusCode::UNAUTHORIZED);
    assert_eq!(send(viewer.token.clone()).await, StatusCode::UNAUTHORIZED);

    let h = Harness::with_state(state, cfg);
    let v = h.get_json("/api/sources").await;
    let refused = &v["refused"];
    assert_eq!(refused["last_24h"], 42, "{refused:#}");
    let token = refused["by_token"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["token_id"] == laptops.record.id)
        .unwrap();
    assert_eq!(token["name"], "laptops");
    assert_eq!(token["revoked"], true);
    assert_eq!(
        (token["last_24h"].as_u64(), token["last_7d"].as_u64()),
        (Some(40), Some(40))
    );
    assert_eq!(token["last_reason"], "revoked_token");
    let reasons: Vec<(&str, &str, u64)> = refused["by_reason"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["area"].as_str().unwrap(),
                r["reason"].as_str().unwrap(),
                r["last_24h"].as_u64().unwrap(),
            )
        })
        .collect();
    assert!(
        reasons.contains(&("ingest", "revoked_token", 40)),
        "{reasons:?}"
    );
    assert!(
        reasons.contains(&("ingest", "unknown_token", 1)),
        "{reasons:?}"
    );
    assert!(
        reasons.contains(&("ingest", "wrong_token_kind", 1)),
        "{reasons:?}"
    );
    // Persisted: a restart keeps them.
    let store = Store::open(&h.config.db_path()).unwrap();
    let kept: u64 = store
        .refusals_since(0)
        .unwrap()
        .iter()
        .map(|c| c.count)
        .sum();
    assert_eq!(kept, 42);
}

#[test]
fn a_trusted_identity_header_warns_that_only_the_proxy_may_connect() {
    let mut cfg = Config::default();
    assert!(serve::startup_warnings(&cfg).is_empty());
    cfg.trusted_identity_header = Some(HeaderName::from_static("x-forwarded-email"));
    let w = serve::startup_warnings(&cfg).join("\n");
    assert!(
        w.contains("Only your reverse proxy may reach 127.0.0.1:8080"),
        "{w}"
    );
    cfg.listen = "0.0.0.0:8080".parse().unwrap();
    let w = serve::startup_warnings(&cfg).join("\n");
    assert!(w.contains("firewall"), "{w}");
}

#[tokio::test]
async fn one_ingest_token_cannot_make_the_rows_answer_500() {
    let dir = tempfile::tempdir().unwrap();
    let h = with_telemetry(dir.path());
    let ingest = tokens::create(&h.store, TokenKind::Ingest, "laptops", Utc::now()).unwrap();
    let auth = format!("Bearer {}", ingest.token);
    // Two delta points of 1e300 sessions, and of 5e18 input tokens, for one person-day.
    for (metric, ty, value) in [
        ("claude_code.session.count", None, 1e300),
        ("claude_code.token.usage", Some("input"), 5e18),
    ] {
        let body = sum_request(
            vec![vec![text("user.email", "mallory@corp.example")]],
            metric,
            ty,
            &[value, value],
        );
        let (status, answer) = h
            .request(
                "POST",
                "/v1/metrics",
                &[
                    ("content-type", "application/json"),
                    ("authorization", &auth),
                ],
                serde_json::to_vec(&body).unwrap(),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        assert!(answer.contains("\"rejectedDataPoints\":\"2\""), "{answer}");
    }
    let (status, body) = h.get("/api/rows?from=2026-11-19&to=2026-11-21", &[]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}
