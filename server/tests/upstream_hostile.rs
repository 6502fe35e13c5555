//! An upstream (or whatever `anthropic.base_url` points at) that redirects,
//! echoes the key back in odd places, or answers without end cannot take
//! the key elsewhere, leak it, or fill the server's memory.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use scoreboard_core::Source;
use scoreboard_server::config::Secrets;

const USAGE: &str = USAGE_PATH;
const ME: &str = ME_PATH;

#[tokio::test]
async fn api_keys_never_follow_a_redirect_to_another_host() {
    let elsewhere = Fake::start(FakeData::default(), 1000).await;
    let fake = Fake::start(FakeData::default(), 1000).await;
    fake.add_rule(Rule::on(ME, Fault::Redirect(elsewhere.url())).always());
    fake.add_rule(Rule::on(USAGE, Fault::Redirect(elsewhere.url())).always());
    let h = Harness::against(&fake);
    let outcome = h.sync(Source::AdminApi, noon("2026-11-20")).await;
    assert!(
        elsewhere.hits().is_empty(),
        "the redirect target was called: {:?}",
        elsewhere.hits()
    );
    let err = outcome.error.unwrap();
    assert!(
        err.contains("redirect") && err.contains("anthropic.base_url"),
        "{err}"
    );
    assert_eq!(
        fake.count(USAGE, Some("2026-11-20")),
        1,
        "a redirect is not retried"
    );
}

#[tokio::test]
async fn a_key_echoed_in_the_message_type_or_request_id_is_scrubbed_everywhere() {
    // A key of no known shape, so only matching the held secret can catch it.
    const KEY: &str = "corp-proxy-key-SECRETSECRET-0123456789";
    let fake = Fake::start(FakeData::default(), 1000).await;
    fake.add_rule(Rule::on(ME, Fault::EchoKeyEverywhere).always());
    let h = Harness::against_with(&fake, |cfg| {
        cfg.secrets =
            Secrets::from_lookup(|n| (n == "ANTHROPIC_ADMIN_API_KEY").then(|| KEY.to_string()));
    });
    let outcome = h.sync(Source::AdminApi, noon("2026-11-20")).await;
    let err = outcome.error.unwrap();
    assert!(err.contains("403") && err.contains("[redacted]"), "{err}");
    let sources = h.get("/api/sources", &[]).await.1;
    for text in [&err, &sources] {
        // The whole key, and the 20 characters the upstream cut it to.
        assert!(!text.contains("SECRET"), "{text}");
        assert!(!text.contains(&KEY[..13]), "{text}");
    }
}

#[tokio::test]
async fn an_endless_upstream_answer_is_not_read_whole() {
    let fake = Fake::start(FakeData::default(), 1000).await;
    fake.add_rule(Rule::on(ME, Fault::HugeBody(50 * 1024 * 1024)).always());
    let h = Harness::against_with(&fake, |cfg| {
        cfg.anthropic.max_response_bytes = 1024 * 1024;
    });
    h.syncer.sync(Source::AdminApi, noon("2026-11-20")).await;
    let state = h.store.sync_state(Source::AdminApi).unwrap();
    let warnings = state.warnings.join(" ");
    assert!(
        warnings.contains("larger than 1 MB")
            || state
                .last_error
                .unwrap_or_default()
                .contains("larger than 1 MB"),
        "{warnings}"
    );
}
