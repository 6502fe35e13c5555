//! Property test over the snapshot decoder (core's, which the page runs
//! too) and the server's upload: real snapshots damaged at every layer (the
//! link text, the packed bytes, the JSON inside, the file form) never panic
//! and never get more than a clear refusal. A few hundred cases in seconds.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use axum::http::StatusCode;
use base64::Engine as _;
use chrono::NaiveDate;
use common::*;
use proptest::prelude::*;
use scoreboard_core::metrics::WindowSpec;
use scoreboard_core::share::{self, Privacy, View};
use scoreboard_core::{compute, DayRow, Measures, PersonKey, ReportOptions, Source, UsageTable};
use scoreboard_server::config::{Config, Secrets};

/// A snapshot of a few people over four weeks, as JSON.
fn snapshot_json() -> String {
    let mut t = UsageTable::new();
    for (i, who) in ["ann@corp.example", "bob@corp.example", "cy@corp.example"]
        .iter()
        .enumerate()
    {
        let d = NaiveDate::from_ymd_opt(2026, 11, 3 + i as u32).unwrap();
        let mut row = DayRow::new(d, PersonKey::email(who), Source::Csv);
        row.measures = Measures {
            sessions: 2 + i as u64,
            lines_added: 40,
            cost_micros: 1_500_000,
            ..Measures::default()
        };
        t.insert_days(vec![row]);
    }
    let as_of = NaiveDate::from_ymd_opt(2026, 11, 22).unwrap();
    let report = compute(&t, None, &ReportOptions::last_weeks(as_of, 4));
    let view = View {
        window: WindowSpec::LastWeeks { weeks: 4 },
        team: None,
    };
    let s = share::make_snapshot(&report, Privacy::Names, 5, "salt", as_of, view).unwrap();
    share::encode_file(&s)
}

fn pack(json: &[u8]) -> String {
    let z = miniz_oxide::deflate::compress_to_vec_zlib(json, 6);
    format!(
        "v1.{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(z)
    )
}

fn mutate(mut b: Vec<u8>, edits: &[(usize, u8, u8)]) -> Vec<u8> {
    for (at, kind, x) in edits {
        if b.is_empty() {
            b.push(*x);
            continue;
        }
        let i = at % b.len();
        match kind % 4 {
            0 => b[i] = *x,
            1 => b.truncate(i),
            2 => b.insert(i, *x),
            _ => {
                let end = (i + usize::from(*x)).min(b.len());
                let chunk = b[i..end].to_vec();
                b.splice(i..i, chunk);
            }
        }
    }
    b
}

fn edits() -> impl Strategy<Value = Vec<(usize, u8, u8)>> {
    proptest::collection::vec((any::<usize>(), any::<u8>(), any::<u8>()), 1..8)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn damaged_links_files_and_contents_never_panic(
        e in edits(),
        layer in 0u8..4,
    ) {
        let json = snapshot_json();
        let link = share::encode_link(&share::decode_file(json.as_bytes()).unwrap());
        match layer {
            // The link text as a chat tool might mangle it.
            0 => {
                let text = String::from_utf8_lossy(&mutate(link.into_bytes(), &e)).to_string();
                let _ = share::decode_link(&text);
            }
            // The packed bytes (a valid checksum is unlikely, not impossible).
            1 => {
                // The version prefix as encode_link wrote it (the current version).
                let (version, body) = link.split_once('.').unwrap();
                let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(body).unwrap();
                let text = format!(
                    "{version}.{}",
                    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(mutate(bytes, &e))
                );
                let _ = share::decode_link(&text);
            }
            // The JSON inside a well-packed link.
            2 => {
                let _ = share::decode_link(&pack(&mutate(json.into_bytes(), &e)));
            }
            // The file form.
            _ => {
                let _ = share::decode_file(&mutate(json.into_bytes(), &e));
            }
        }
    }
}

#[tokio::test]
async fn damaged_uploads_get_a_clear_refusal_never_a_server_error() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = Config {
        data_dir: dir.path().to_path_buf(),
        secrets: Secrets::default(),
        ..Config::default()
    };
    cfg.limits.snapshot_uploads_per_minute = 1000;
    let h = Harness::new(cfg);
    let json = snapshot_json();
    use proptest::strategy::ValueTree;
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let strategy = (edits(), any::<bool>());
    let cases = (0..64).map(|_| {
        let (e, packed) = strategy.new_tree(&mut runner).unwrap().current();
        let body = mutate(json.clone().into_bytes(), &e);
        if packed {
            pack(&body).into_bytes()
        } else {
            body
        }
    });
    for body in cases {
        let (status, answer) = h
            .request(
                "POST",
                "/api/snapshots",
                &[("x-scoreboard-request", "1")],
                body,
            )
            .await;
        assert!(
            matches!(
                status,
                StatusCode::CREATED | StatusCode::BAD_REQUEST | StatusCode::PAYLOAD_TOO_LARGE
            ),
            "HTTP {status}: {answer}"
        );
    }
}
