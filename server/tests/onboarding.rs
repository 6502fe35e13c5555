//! Telemetry onboarding that cannot fail silently (issue 14), with the real
//! binary: the settings `token create` prints name the server that really
//! runs, and `token check` says what is wrong for each way it can fail.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::{Child, Output, Stdio};
use std::time::{Duration, Instant};

use common::{free_port, scoreboard_command, serve_command};
use scoreboard_core::{DayRow, Source};
use scoreboard_test_support::otlp::capture;
use serde_json::Value;

struct Serve {
    child: Child,
    base: String,
    dir: tempfile::TempDir,
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Serve {
    /// `scoreboard serve` on a port that is not the default, with `extra` flags.
    async fn start(extra: &[&str]) -> Serve {
        Serve::start_on(free_port(), extra).await
    }

    async fn start_on(port: u16, extra: &[&str]) -> Serve {
        let dir = tempfile::tempdir().unwrap();
        let child = serve_command(port, dir.path())
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::from(
                std::fs::File::create(dir.path().join("serve.err")).unwrap(),
            ))
            .spawn()
            .unwrap();
        let s = Serve {
            child,
            base: format!("http://127.0.0.1:{port}"),
            dir,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(r) = reqwest::get(format!("{}/api/health", s.base)).await {
                if r.status().is_success() {
                    return s;
                }
            }
            let err = std::fs::read_to_string(s.dir.path().join("serve.err")).unwrap_or_default();
            assert!(Instant::now() < deadline, "serve did not come up:\n{err}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn token(&self, args: &[&str]) -> Output {
        scoreboard_command()
            .arg("token")
            .args(args)
            .arg("--data-dir")
            .arg(self.dir.path())
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }

    /// `token create`; its stdout and the token it printed.
    fn create(&self, name: &str) -> (String, String) {
        let out = self.token(&["create", "--name", name]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        let stdout = text(&out.stdout);
        let token = stdout
            .lines()
            .map(str::trim)
            .find(|l| l.starts_with("sbi_"))
            .unwrap()
            .to_string();
        (stdout, token)
    }

    async fn json(&self, path: &str) -> Value {
        reqwest::get(format!("{}{path}", self.base))
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).to_string()
}

/// The first JSON settings block printed (`{` … `}` on lines of their own).
fn settings_env(printed: &str) -> serde_json::Map<String, Value> {
    let mut lines = printed.lines().skip_while(|l| *l != "{");
    let mut doc = String::new();
    for l in lines.by_ref() {
        doc.push_str(l);
        doc.push('\n');
        if l == "}" {
            break;
        }
    }
    let v: Value = serde_json::from_str(&doc).unwrap();
    v["env"].as_object().unwrap().clone()
}

/// Replays a capture through installed settings as Claude Code does: each
/// request to `OTEL_EXPORTER_OTLP_ENDPOINT` + its path, with the headers of
/// `OTEL_EXPORTER_OTLP_HEADERS` (split on `,`, then on the first `=`) and
/// the content type its protocol gives. Returns the answers' statuses.
async fn replay_through(env: &serde_json::Map<String, Value>, scenario: &str) -> Vec<u16> {
    let endpoint = env["OTEL_EXPORTER_OTLP_ENDPOINT"].as_str().unwrap();
    assert_eq!(env["OTEL_EXPORTER_OTLP_PROTOCOL"], "http/json");
    let headers = env["OTEL_EXPORTER_OTLP_HEADERS"].as_str().unwrap();
    let client = reqwest::Client::new();
    let mut statuses = Vec::new();
    for req in capture("claude-code-2.1.330", scenario) {
        let mut b = client
            .post(format!("{endpoint}{}", req.path))
            .header("Content-Type", "application/json")
            .header("User-Agent", "OTel-OTLP-Exporter-JavaScript/0.208.0");
        for item in headers.split(',') {
            let (k, v) = item.split_once('=').unwrap();
            b = b.header(k.trim(), v.trim());
        }
        statuses.push(b.body(req.body).send().await.unwrap().status().as_u16());
    }
    statuses
}

async fn otlp_rows(s: &Serve) -> Vec<DayRow> {
    let v = s.json("/api/rows?from=2026-11-01&to=2026-11-30").await;
    let rows: Vec<DayRow> = serde_json::from_value(v["rows"].clone()).unwrap();
    rows.into_iter()
        .filter(|r| r.source == Source::Otlp)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn printed_settings_reach_a_server_on_a_non_default_port() {
    let s = Serve::start(&[]).await;
    let (printed, _) = s.create("Engineering");
    let env = settings_env(&printed);
    assert_eq!(
        env["OTEL_EXPORTER_OTLP_ENDPOINT"],
        s.base.as_str(),
        "{printed}"
    );
    assert!(printed.contains("chosen because"), "{printed}");
    assert!(printed.contains("is running there"), "{printed}");
    assert!(
        printed.contains("WARNING") && printed.contains("only reachable from this machine"),
        "a loopback address is flagged: {printed}"
    );
    assert!(printed.contains("OTEL_RESOURCE_ATTRIBUTES"), "{printed}");
    let statuses = replay_through(&env, "write-json-delta").await;
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    let rows = otlp_rows(&s).await;
    assert_eq!(rows.len(), 1, "{rows:#?}");
    assert_eq!(rows[0].measures.lines_added, 6);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn printed_settings_use_public_url_when_the_server_has_one() {
    let port = free_port();
    // The machine under a name (not the address it listens on): the snippet
    // must say public_url, as the server was started with it.
    let public = format!("http://localhost:{port}");
    let s = Serve::start_on(port, &["--public-url", &public]).await;
    let (printed, _) = s.create("Engineering");
    let env = settings_env(&printed);
    assert_eq!(
        env["OTEL_EXPORTER_OTLP_ENDPOINT"],
        public.as_str(),
        "{printed}"
    );
    assert!(printed.contains("public_url"), "{printed}");
    assert!(replay_through(&env, "hello-json-delta")
        .await
        .iter()
        .all(|s| *s == 200));
    assert_eq!(otlp_rows(&s).await.len(), 1);
}

fn check(s: &Serve, endpoint: Option<&str>, token: &str) -> (bool, String) {
    let mut args = vec!["check"];
    if let Some(e) = endpoint {
        args.extend(["--endpoint", e]);
    }
    args.push(token);
    let out = s.token(&args);
    (
        out.status.success(),
        format!("{}{}", text(&out.stdout), text(&out.stderr)),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_check_says_what_is_wrong_for_each_outcome() {
    let s = Serve::start(&[]).await;
    let (_, token) = s.create("Engineering");

    // ok, with the endpoint chosen as `create` chooses it, and nothing stored.
    let (ok, out) = check(&s, None, &token);
    assert!(ok, "{out}");
    assert!(out.contains("OK:") && out.contains(&s.base), "{out}");
    let (ok, out) = check(&s, Some(&s.base), &token);
    assert!(ok && out.starts_with("OK:"), "{out}");
    let sources = s.json("/api/sources").await;
    assert_eq!(sources["telemetry"]["status"]["batches_received"], 0);
    assert!(sources["telemetry"]["status"]["last_received_at"].is_null());
    assert!(otlp_rows(&s).await.is_empty());

    // unknown token
    let unknown = format!("sbi_{}", "0".repeat(64));
    let (ok, out) = check(&s, Some(&s.base), &unknown);
    assert!(!ok && out.contains("unknown token"), "{out}");

    // revoked token, and its refusal is counted against it
    let revoked = s.token(&["revoke", "1"]);
    assert!(revoked.status.success(), "{}", text(&revoked.stderr));
    let (ok, out) = check(&s, Some(&s.base), &token);
    assert!(!ok && out.contains("revoked token"), "{out}");
    let sources = s.json("/api/sources").await;
    let by_token = &sources["refused"]["by_token"][0];
    assert_eq!(by_token["token_id"], 1, "{sources:#}");
    assert_eq!(by_token["last_reason"], "revoked_token");

    // unreachable
    let nowhere = format!("http://127.0.0.1:{}", free_port());
    let (ok, out) = check(&s, Some(&nowhere), &token);
    assert!(
        !ok && out.contains("unreachable") && out.contains("refused"),
        "{out}"
    );

    // wrong path: the full signal URL given as the endpoint
    let (ok, out) = check(&s, Some(&format!("{}/v1/metrics", s.base)), &token);
    assert!(!ok && out.contains("wrong path"), "{out}");
    assert!(out.contains(&format!("Use {} instead", s.base)), "{out}");
}

/// The receiver used to open and close the database file after the
/// server's connection was open, which drops the process's POSIX locks:
/// that connection then kept an old snapshot, so a token created (or
/// revoked) after the first telemetry request was never seen.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_created_or_revoked_while_the_server_runs_take_effect_at_once() {
    let s = Serve::start(&[]).await;
    let (_, first) = s.create("first");
    assert!(check(&s, Some(&s.base), &first).0);
    let (_, second) = s.create("second");
    let (ok, out) = check(&s, Some(&s.base), &second);
    assert!(ok, "a token created after the first request: {out}");
    assert!(s.token(&["revoke", "2"]).status.success());
    let (ok, out) = check(&s, Some(&s.base), &second);
    assert!(!ok && out.contains("revoked token"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rollout_view_lists_tokens_members_and_unattributed_installations() {
    let dir = tempfile::tempdir().unwrap();
    let roster = dir.path().join("roster.csv");
    std::fs::write(
        &roster,
        "email,name,aliases\ndev@example.invalid,Dev,\ncy@example.invalid,Cy,\n",
    )
    .unwrap();
    let s = Serve::start(&["--roster", roster.to_str().unwrap()]).await;
    let (printed, _) = s.create("Engineering");
    let env = settings_env(&printed);
    // An API-key user without an e-mail, and one who set
    // OTEL_RESOURCE_ATTRIBUTES=user.email=… as the instructions say.
    for scenario in ["write-json-delta", "write-json-delta-verbose"] {
        let st = replay_through(&env, scenario).await;
        assert!(st.iter().all(|s| *s == 200), "{scenario}: {st:?}");
    }
    let r = s.json("/api/telemetry/rollout").await;
    assert_eq!(r["telemetry"], true);
    let token = &r["tokens"][0];
    assert_eq!(token["id"], 1, "{r:#}");
    assert_eq!(
        (token["people"].as_u64(), token["devices"].as_u64()),
        (Some(1), Some(1))
    );
    assert!(token["last_received_at"].is_string());
    assert_eq!(token["refused_7d"], 0);
    let members = r["members"].as_array().unwrap();
    assert_eq!(members.len(), 2);
    let dev = &members[0];
    assert_eq!(dev["person"], "dev@example.invalid");
    assert_eq!(dev["version"], "2.1.330");
    assert_eq!(dev["version_older_than_tested"], false);
    assert_eq!(dev["tokens"], serde_json::json!([1]));
    assert!(
        members[1]["last_received_at"].is_null(),
        "Cy never sent: {r:#}"
    );
    assert_eq!(r["unattributed"]["total"], 1);
    let device = r["unattributed"]["items"][0].clone();
    let alias = device["alias"].as_str().unwrap().to_string();
    assert!(alias.starts_with("device:"), "{device}");
    assert_eq!(device["version"], "2.1.330");

    // The admin maps the installation onto Cy in the roster file: the
    // server reads the file again, without a restart.
    std::fs::write(
        &roster,
        format!("email,name,aliases\ndev@example.invalid,Dev,\ncy@example.invalid,Cy,{alias}\n"),
    )
    .unwrap();
    let r = s.json("/api/telemetry/rollout").await;
    assert_eq!(r["unattributed"]["total"], 0, "{r:#}");
    assert_eq!(r["members"][1]["version"], "2.1.330");
    assert!(r["members"][1]["last_received_at"].is_string());
    let roster_answer = s.json("/api/roster").await;
    assert_eq!(roster_answer["entries"][1]["aliases"][0], alias.as_str());

    // A machine keeps sending after the token is revoked: counted against it.
    assert!(s.token(&["revoke", "1"]).status.success());
    let st = replay_through(&env, "hello-json-delta").await;
    assert!(st.iter().all(|s| *s == 401), "{st:?}");
    let r = s.json("/api/telemetry/rollout").await;
    let token = &r["tokens"][0];
    assert_eq!(token["refused_24h"], st.len(), "{r:#}");
    assert_eq!(token["last_refusal_reason"], "revoked_token");
    assert!(token["revoked_at"].is_string());
    assert_eq!(r["refused_unnamed"], serde_json::json!([]));

    // A token this server never issued cannot be named: counted apart.
    let mut stranger = env.clone();
    stranger.insert(
        "OTEL_EXPORTER_OTLP_HEADERS".into(),
        Value::String(format!("Authorization=Bearer sbi_{}", "1".repeat(64))),
    );
    let st = replay_through(&stranger, "hello-json-delta").await;
    let r = s.json("/api/telemetry/rollout").await;
    assert_eq!(r["refused_unnamed"][0]["reason"], "unknown_token", "{r:#}");
    assert_eq!(r["refused_unnamed"][0]["last_24h"], st.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_check_reads_an_installed_settings_file_as_claude_code_does() {
    let s = Serve::start(&[]).await;
    let (printed, _) = s.create("Engineering");
    let file = s.dir.path().join("managed-settings.json");
    let env = settings_env(&printed);
    std::fs::write(&file, serde_json::json!({ "env": env }).to_string()).unwrap();
    let out = s.token(&["check", "--settings", file.to_str().unwrap()]);
    let said = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "{said}");
    assert!(
        said.contains(&format!("endpoint {}", s.base)) && said.contains("OK:"),
        "{said}"
    );
    // Settings that would send nothing are a failure even where the token works.
    let mut grpc = env.clone();
    grpc.insert(
        "OTEL_EXPORTER_OTLP_PROTOCOL".into(),
        Value::String("grpc".into()),
    );
    std::fs::write(&file, serde_json::json!({ "env": grpc }).to_string()).unwrap();
    let out = s.token(&["check", "--settings", file.to_str().unwrap()]);
    let said = text(&out.stdout);
    assert!(
        !out.status.success() && said.contains("PROBLEM (settings)"),
        "{said}"
    );
}
