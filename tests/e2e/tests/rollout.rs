//! The telemetry roll-out view (issue 14) against the real server: the
//! settings `token create` prints (no --endpoint) reach the running server,
//! captured Claude Code sessions are replayed through them, a revoked
//! token keeps sending, and the page shows exactly that: the refused
//! requests against the token, who sends with which version, who never
//! did, and the installation no roster entry claims.
#![allow(clippy::expect_used, clippy::unwrap_used)] // a failed expectation is a failed test

use std::time::Duration;

use scoreboard_e2e::harness::{App, Result};
use scoreboard_e2e::telemetry::{
    create_token, fixture, open_source_details, refresh_until, replay_capture, scoreboard,
};
use scoreboard_test_support::otlp::installation_id;

const VERSION: &str = "claude-code-2.1.330";

#[tokio::test]
async fn the_rollout_view_shows_refusals_and_exactly_what_the_fixtures_sent() -> Result<()> {
    let tmp = tempfile::tempdir().expect("temp dir");
    let roster = tmp.path().join("roster.csv");
    std::fs::write(
        &roster,
        "email,name,aliases\ndev@example.invalid,Dev,\ncy@example.invalid,Cy,\n",
    )
    .unwrap();
    let Some(app) = App::builder().arg("--roster").arg(&roster).start().await? else {
        return Ok(());
    };
    app.run(async |app| {
        // The settings name the server that runs, on its (random) port.
        let (token, printed) = create_token(app.data_dir(), "laptops", None);
        assert!(
            printed.contains(&format!("\"OTEL_EXPORTER_OTLP_ENDPOINT\": \"{}\"", app.base_url())),
            "{printed}"
        );
        // An API-key user (no e-mail) and one who set user.email in OTEL_RESOURCE_ATTRIBUTES.
        for scenario in ["write-json-delta", "write-json-delta-verbose"] {
            let st = replay_capture(&fixture(VERSION, scenario), app.base_url(), &token);
            assert!(st.iter().all(|s| *s == 200), "{scenario}: {st:?}");
        }
        // The token is revoked; one more machine keeps sending with it.
        let (ok, out) = scoreboard(&["token", "revoke", "1"], app.data_dir());
        assert!(ok, "{out}");
        let refused = replay_capture(&fixture(VERSION, "hello-json-delta"), app.base_url(), &token);
        assert!(refused.iter().all(|s| *s == 401), "{refused:?}");
        let n = refused.len().to_string();

        app.open("/").await?;
        app.wait_for("#sources", Duration::from_secs(30)).await?;
        open_source_details(app).await?;
        let row = "#rollout-tokens tr[data-token=\"1\"]";
        assert_eq!(refresh_until(app, &format!("{row} .refused-24h"), &n).await?, n);
        assert_eq!(app.text(&format!("{row} .refused-7d")).await?, n);
        assert!(app.text(&format!("{row} .last-refusal")).await?.contains("a revoked token"));
        assert!(app.text(&format!("{row} .state")).await?.starts_with("revoked"));
        assert_eq!(app.text(&format!("{row} .people")).await?, "1");
        assert_eq!(app.text(&format!("{row} .devices")).await?, "1");

        // Dev sent (with the token, as 2.1.330); Cy never did and shows no usage anywhere.
        let dev = "#rollout-sending tr[data-person=\"dev@example.invalid\"]";
        assert_eq!(app.text(&format!("{dev} .version")).await?, "2.1.330");
        assert_eq!(app.text(&format!("{dev} .tokens")).await?, "#1 laptops");
        assert!(app.text(&format!("{dev} .last-seen")).await?.starts_with("today"));
        let not_started = app.execute(
            "return [...document.querySelectorAll('#rollout-not-started li[data-person]')].map(l => l.dataset.person)",
            vec![],
        ).await?;
        assert_eq!(not_started, serde_json::json!(["cy@example.invalid"]), "never sent, no usage: not started");
        assert_eq!(app.text("#rollout-not-installed").await?, "Nobody.");
        assert!(app.text("#rollout-summary").await?.starts_with("1 of 2"));

        // The API-key installation, with the alias that would tie it to a person.
        let device = format!("device:{}", installation_id(VERSION, "write-json-delta"));
        let rows = app.execute(
            "return [...document.querySelectorAll('#rollout-unattributed tbody tr')].map(r => r.dataset.person)",
            vec![],
        ).await?;
        assert_eq!(rows, serde_json::json!([device]));
        let unattributed = format!("#rollout-unattributed tr[data-person=\"{device}\"]");
        assert_eq!(app.text(&format!("{unattributed} .alias")).await?, device);
        assert_eq!(app.text(&format!("{unattributed} .version")).await?, "2.1.330");
        assert!(app.text(&format!("{unattributed} .usage")).await?.starts_with("1 session"));

        // /api/sources counts the same refusals against the token.
        let sources = app.execute_async(
            "const done = arguments[arguments.length - 1]; fetch('api/sources').then(r => r.json()).then(done)",
            vec![],
        ).await?;
        assert_eq!(sources["refused"]["by_token"][0]["last_24h"].to_string(), n, "{sources}");

        app.find("#rollout").await?;
        app.execute("document.getElementById('rollout').scrollIntoView()", vec![]).await?;
        app.screenshot("rollout").await?;
        Ok(())
    })
    .await
}
