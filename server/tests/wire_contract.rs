//! The wire contract: every JSON answer the page reads deserializes into
//! its `scoreboard_core::api` type with no field left over, and that type
//! writes back exactly the JSON that was read. A field added to an answer
//! but not to the type (or the other way round, or an enum spelled
//! differently) fails here rather than in a browser.
//!
//! The server is the real `app(state)` over a real store with real data:
//! an Admin API sync against the fake Anthropic API (usage and users), a
//! roster file, an exports folder with a good export, a broken one and a
//! file that is not an export, a captured Claude Code telemetry session
//! replayed with an ingest token, and a refused request.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use scoreboard_core::api::{
    Health, PersonsPage, Rollout, RosterAnswer, RowsAnswer, SourceState, SourcesAnswer,
};
use scoreboard_core::Source;
use scoreboard_server::store::TokenKind;
use scoreboard_server::tokens;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{json, Value};

/// The range asked for: the synced days (18–19 Nov 2026), the exports and
/// the captured telemetry session all fall inside it.
const ROWS: &str = "/api/rows?from=2026-10-01&to=2026-12-31";

/// `body` read into `T` the strict way: every field of the JSON must be
/// one `T` knows (`serde_ignored` names any it skipped), and `T` must
/// write back the same JSON (so a defaulted or flattened part cannot hide
/// a difference either).
fn strictly<T: DeserializeOwned + Serialize>(body: &str) -> Result<T, String> {
    let mut unknown = Vec::new();
    let de = &mut serde_json::Deserializer::from_str(body);
    let value: T = serde_ignored::deserialize(de, |path| unknown.push(path.to_string()))
        .map_err(|e| format!("does not read into the type: {e}"))?;
    if !unknown.is_empty() {
        return Err(format!("fields the type does not know: {unknown:?}"));
    }
    let read: Value = serde_json::from_str(body).map_err(|e| e.to_string())?;
    let written = serde_json::to_value(&value).map_err(|e| e.to_string())?;
    if read != written {
        return Err(format!(
            "the type writes other JSON than was read:\nread    {read:#}\nwritten {written:#}"
        ));
    }
    Ok(value)
}

async fn answer<T: DeserializeOwned + Serialize>(h: &Harness, uri: &str) -> T {
    let (status, body) = h.get(uri, &[]).await;
    assert!(status.is_success(), "{uri}: {status} {body}");
    strictly(&body).unwrap_or_else(|e| panic!("{uri}: {e}"))
}

const ROSTER: &str = "email,name,team\nann@acme.io,Ann A,Platform\nbob@acme.io,Bob B,Platform\n\
dee@acme.io,Dee D,Mobile\n";

const EXPORT: &str =
    "Date,Email,Sessions,Lines accepted,Accepted edits,Rejected edits,Spend (USD)\n\
2026-11-16,dee@acme.io,2,15,3,0,0.30\n\
2026-11-17,dee@acme.io,1,5,1,0,0.10\n\
2026-11-17,dee@acme.io,not-a-number,5,1,0,0.10\n";

fn upstream() -> FakeData {
    let mut d = FakeData {
        org: Some(("org-uuid-1".into(), "Acme Robotics".into())),
        ..Default::default()
    };
    d.usage.insert(
        day("2026-11-18"),
        vec![user_record(
            "2026-11-18",
            "day",
            "ann@acme.io",
            2,
            100,
            150.0,
        )],
    );
    d.usage.insert(
        day("2026-11-19"),
        vec![user_record("2026-11-19", "day", "bob@acme.io", 1, 50, 10.0)],
    );
    d.users = vec![
        json!({"id": "user_01", "email": "ann@acme.io", "name": "Ann A", "role": "developer", "added_at": "2026-10-01T00:00:00Z", "type": "user"}),
        json!({"id": "user_03", "email": "eve@acme.io", "name": "Eve E", "role": "user", "added_at": "2026-10-03T00:00:00Z", "type": "user"}),
    ];
    d
}

/// A server with every source holding something.
async fn full_server(fake: &Fake, dir: &std::path::Path) -> Harness {
    let exports = dir.join("exports");
    std::fs::create_dir_all(&exports).unwrap();
    std::fs::write(exports.join("usage.csv"), EXPORT).unwrap();
    std::fs::write(exports.join("broken.json"), "{ not json").unwrap();
    std::fs::write(exports.join("notes.pdf"), "not an export").unwrap();
    std::fs::write(dir.join("roster.csv"), ROSTER).unwrap();
    let mut config = test_config(fake, &dir.join("data"));
    std::fs::create_dir_all(&config.data_dir).unwrap();
    config.roster = Some(dir.join("roster.csv"));
    config.feeds.imports_dir = Some(exports);
    let h = Harness::with_receiver(config);
    let outcome = h.sync(Source::AdminApi, noon("2026-11-20")).await;
    assert_eq!(outcome.error, None);
    let ingest =
        tokens::create(&h.store, TokenKind::Ingest, "laptops", noon("2026-11-20")).unwrap();
    for (status, body) in h.send_session(&ingest.token).await {
        assert!(status.is_success(), "{status} {body}");
    }
    // A request from a host this server does not answer to: a refusal to count.
    let (status, _) = h.get("/api/health", &[("host", "evil.example")]).await;
    assert!(status.is_client_error());
    h
}

#[tokio::test(flavor = "multi_thread")]
async fn every_api_answer_reads_into_its_core_api_type_with_nothing_left_over() {
    let fake = Fake::start(upstream(), 10).await;
    let dir = tempfile::tempdir().unwrap();
    let h = full_server(&fake, dir.path()).await;

    let health: Health = answer(&h, "/api/health").await;
    assert!(health.ok);
    assert!(health.sources.admin_api && health.sources.telemetry);
    assert!(health.sources.roster_file && health.sources.imports);

    let rows: RowsAnswer = answer(&h, ROWS).await;
    for source in [Source::AdminApi, Source::Otlp, Source::Csv] {
        assert!(
            rows.rows.iter().any(|r| r.source == source),
            "{source:?} rows in {ROWS}"
        );
    }
    assert!(!rows.imported.is_empty());
    assert!(!rows.coverage.is_empty());

    let roster: RosterAnswer = answer(&h, "/api/roster").await;
    assert!(roster.roster().is_some());
    let from: Vec<&str> = roster.sources.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(from, ["file", "admin-api"]);

    let sources: SourcesAnswer = answer(&h, "/api/sources").await;
    let admin = sources
        .sources
        .iter()
        .find(|s| s.source == Source::AdminApi)
        .unwrap();
    assert_eq!(admin.state, SourceState::Ok);
    assert!(admin.organization.is_some());
    let telemetry = sources.telemetry.status.as_ref().unwrap();
    assert!(!telemetry.persons_seen.is_empty());
    let snapshot = sources.imports.snapshot.as_ref().unwrap();
    assert!(snapshot.files.iter().any(|f| f.problems_total > 0));
    assert!(snapshot.files.iter().any(|f| f.error.is_some()));
    assert!(!snapshot.skipped.is_empty());
    assert!(sources.refused.last_24h > 0);

    let persons: PersonsPage = answer(&h, "/api/telemetry/persons?limit=1").await;
    assert_eq!(persons.persons.len(), 1);

    let rollout: Rollout = answer(&h, "/api/telemetry/rollout").await;
    assert!(rollout.telemetry);
    assert_eq!(rollout.tokens.len(), 1);
    assert!(!rollout.members.is_empty());
}

/// The parts an unconfigured server leaves out or sends as `null` (no
/// telemetry, no exports folder, no roster) read strictly too.
#[tokio::test]
async fn a_bare_server_answers_read_into_the_same_types() {
    let fake = Fake::start(FakeData::default(), 10).await;
    let h = Harness::against_with(&fake, |c| {
        c.secrets = scoreboard_server::config::Secrets::default();
    });
    let health: Health = answer(&h, "/api/health").await;
    assert!(!health.sources.admin_api);
    let _: RowsAnswer = answer(&h, ROWS).await;
    let roster: RosterAnswer = answer(&h, "/api/roster").await;
    assert!(roster.roster().is_none());
    let sources: SourcesAnswer = answer(&h, "/api/sources").await;
    assert!(sources.telemetry.status.is_none());
    assert!(!sources.imports.configured && sources.imports.snapshot.is_none());
    let _: PersonsPage = answer(&h, "/api/telemetry/persons").await;
    let rollout: Rollout = answer(&h, "/api/telemetry/rollout").await;
    assert!(!rollout.telemetry);
}

/// The check itself: a field only one side knows fails it, whichever side.
#[tokio::test]
async fn a_field_on_one_side_only_fails_the_check() {
    let fake = Fake::start(FakeData::default(), 10).await;
    let h = Harness::against(&fake);
    let (_, body) = h.get("/api/sources", &[]).await;
    let mut extra: Value = serde_json::from_str(&body).unwrap();
    extra["telemetry"]["added_on_the_server"] = json!(1);
    let err = strictly::<SourcesAnswer>(&extra.to_string()).unwrap_err();
    assert!(err.contains("telemetry.added_on_the_server"), "{err}");

    // The digest part flattens its record: an extra field there is caught too.
    let mut flat: Value = serde_json::from_str(&body).unwrap();
    flat["digest"]["added_on_the_server"] = json!(1);
    assert!(strictly::<SourcesAnswer>(&flat.to_string()).is_err());

    let mut missing: Value = serde_json::from_str(&body).unwrap();
    missing["digest"]
        .as_object_mut()
        .unwrap()
        .remove("webhook_set");
    assert!(strictly::<SourcesAnswer>(&missing.to_string()).is_err());
}
