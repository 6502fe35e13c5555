//! The `scoreboard` command line as a user runs it: `report` with its
//! hand-worked numbers and exit codes, `token`, and `serve` refusing bad
//! settings by name.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::Value;

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/report")
        .join(name)
}

fn scoreboard(args: &[&str]) -> Output {
    common::scoreboard_command().args(args).output().unwrap()
}

fn scoreboard_strs(args: &[String]) -> Output {
    scoreboard(&args.iter().map(String::as_str).collect::<Vec<_>>())
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).to_string()
}

fn report_args<'a>(files: &'a [String], extra: &[&'a str]) -> Vec<&'a str> {
    let mut a = vec!["report", "--as-of", "2026-11-20", "--weeks", "2"];
    a.extend_from_slice(extra);
    a.extend(files.iter().map(String::as_str));
    a
}

fn example_files() -> Vec<String> {
    ["usage.csv", "admin_api.json"]
        .iter()
        .map(|f| data(f).display().to_string())
        .collect()
}

/// Hand-worked (see tests/data/report): W45 Ann+Bob, W46 Ann (CSV and her
/// API key `ann-laptop`, a roster alias) + Cy (not on the roster), W47 Bob.
#[test]
fn report_json_has_the_stable_keys_and_the_hand_worked_numbers() {
    let roster = data("roster.csv").display().to_string();
    let files = example_files();
    let out = scoreboard(&report_args(
        &files,
        &["--roster", &roster, "--format", "json"],
    ));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    for key in [
        "window",
        "weeks",
        "people",
        "non_starters",
        "not_on_roster",
        "problems",
        "warnings",
    ] {
        assert!(r.get(key).is_some(), "missing key {key}");
    }
    assert_eq!(r["window"]["from"], "2026-11-02");
    assert_eq!(r["window"]["to"], "2026-11-20");
    assert_eq!(r["window"]["reference_week"], "2026-11-09");

    let week = |monday: &str| {
        r["weeks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|w| w["week"] == monday)
            .cloned()
            .unwrap()
    };
    let w45 = week("2026-11-02");
    assert_eq!(w45["complete"], true);
    assert_eq!(w45["active_engineers"], 2);
    assert!((w45["adoption_rate"].as_f64().unwrap() - 2.0 / 3.0).abs() < 1e-9);
    assert_eq!(w45["sessions"], 3);
    assert_eq!(w45["lines_accepted"], 120);
    assert!((w45["acceptance_rate"].as_f64().unwrap() - 10.0 / 12.0).abs() < 1e-9);
    assert!((w45["cost_usd"].as_f64().unwrap() - 2.0).abs() < 1e-9);
    assert!((w45["cost_per_active_engineer_usd"].as_f64().unwrap() - 1.0).abs() < 1e-9);
    let w46 = week("2026-11-09");
    assert_eq!(w46["active_engineers"], 2);
    assert!((w46["adoption_rate"].as_f64().unwrap() - 1.0 / 3.0).abs() < 1e-9);
    assert_eq!(w46["sessions"], 6);
    assert_eq!(w46["lines_accepted"], 290);
    assert!((w46["acceptance_rate"].as_f64().unwrap() - 20.0 / 24.0).abs() < 1e-9);
    assert!((w46["cost_usd"].as_f64().unwrap() - 3.0).abs() < 1e-9);
    assert!((w46["cost_per_active_engineer_usd"].as_f64().unwrap() - 1.5).abs() < 1e-9);
    let w47 = week("2026-11-16");
    assert_eq!(w47["complete"], false);
    assert_eq!(w47["active_engineers"], 1);

    assert_eq!(r["non_starters"], serde_json::json!(["dee@acme.io"]));
    assert_eq!(r["not_on_roster"], serde_json::json!(["cy@acme.io"]));
    let ann = r["people"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["person"] == "ann@acme.io")
        .unwrap();
    assert_eq!(ann["sessions"], 7, "her API key's session counts for her");
    assert_eq!(ann["tier"], "occasional");
    assert_eq!(r["problems"], serde_json::json!([]));
    assert!(r["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .any(|w| w.as_str().unwrap().contains("only API-key users")));
}

#[test]
fn report_table_is_readable_and_names_non_starters() {
    let roster = data("roster.csv").display().to_string();
    let files = example_files();
    let out = scoreboard(&report_args(&files, &["--roster", &roster]));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let t = text(&out.stdout);
    assert!(
        t.contains("2026-W46") && t.contains("67 %") && t.contains("$1.50"),
        "{t}"
    );
    assert!(
        t.contains("Not started yet by the end of the week of 9 Nov (1): dee@acme.io"),
        "{t}"
    );
    assert!(t.contains("Not on the roster (1): cy@acme.io"), "{t}");

    // Without a roster, adoption is "—" with the reason, never 0 %.
    let out = scoreboard(&report_args(&files, &[]));
    let t = text(&out.stdout);
    assert!(t.contains("add a roster"), "{t}");
    assert!(!t.contains(" 0 %"), "{t}");
}

fn stale_args(format: &str) -> Vec<String> {
    let mut a: Vec<String> = [
        "report",
        "--as-of",
        "2026-12-02",
        "--weeks",
        "4",
        "--format",
        format,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    a.push("--roster".into());
    a.push(data("stale_roster.csv").display().to_string());
    a.push(data("stale.csv").display().to_string());
    a
}

/// Issue 10, hand-worked (tests/data/report/stale.csv, data ending Wed 18
/// Nov, opened on 2 Dec): W45 ann+bob, W46 ann+bob+cy (the reference week,
/// the latest complete and fully covered one), W47 covered Mon–Wed only,
/// W48 and the current W49 not covered at all: no figures, never 0.
#[test]
fn report_json_on_stale_data_names_the_newest_day_and_has_no_figures_for_uncovered_weeks() {
    let args = stale_args("json");
    let out = scoreboard_strs(&args);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["window"]["reference_week"], "2026-11-09");
    assert_eq!(r["window"]["complete_weeks"], 4);
    let weeks = r["weeks"].as_array().unwrap();
    assert_eq!(weeks.len(), 5);
    assert_eq!(weeks[2]["coverage"]["state"], "partial");
    assert_eq!(weeks[2]["coverage"]["days"], 3);
    assert_eq!(weeks[2]["partial"], true);
    for w in &weeks[3..] {
        assert_eq!(w["coverage"]["state"], "uncovered");
        assert!(w.get("active_engineers").is_none(), "{w}");
        assert!(w.get("sessions").is_none(), "{w}");
    }
    let tiers = r["tiers_by_week"].as_array().unwrap();
    assert_eq!(
        tiers.len(),
        weeks.len(),
        "the tier chart spans the same weeks"
    );
    assert!(tiers[3]["not_computable"].is_string());

    let cards = &r["kpis"]["cards"];
    assert_eq!(cards["week"], "2026-11-09");
    assert_eq!(cards["compared_with"], "2026-11-02");
    let wae = &cards["active_engineers"]["change"];
    assert_eq!(
        (wae["now"].as_f64(), wae["before"].as_f64()),
        (Some(3.0), Some(2.0))
    );
    assert_eq!(wae["relative"].as_f64(), Some(0.5));
    assert_eq!(
        (wae["direction"].as_str(), wae["meaning"].as_str()),
        (Some("up"), Some("good"))
    );
    // Lines per active engineer: 300 / 3 = 100 against 120 / 2 = 60.
    let lines = &cards["lines_per_active_engineer"]["change"];
    assert_eq!(
        (lines["now"].as_f64(), lines["before"].as_f64()),
        (Some(100.0), Some(60.0))
    );
    // Cost per active engineer $6 / 3 = $2 against $2 / 2 = $1: up, and neutral.
    let cost = &cards["cost_per_active_engineer"]["change"];
    assert_eq!(
        (cost["now"].as_f64(), cost["meaning"].as_str()),
        (Some(2.0), Some("neutral"))
    );
    // Not started yet: dee (cy started in W46) against cy and dee: fewer is good.
    let ns = &cards["not_started"];
    assert_eq!(ns["value"].as_f64(), Some(1.0));
    assert_eq!(ns["change"]["meaning"], "good");
    assert_eq!(r["non_starters"], serde_json::json!(["dee@acme.io"]));

    let st = &r["staleness"];
    assert_eq!(st["newest_covered_day"], "2026-11-18");
    assert_eq!(st["days_ago"], 14);
    assert_eq!(st["headline"], "newest data: 18 Nov, 14 days ago");

    let teams = r["team_table"]["rows"].as_array().unwrap();
    let mobile = &teams[0];
    assert_eq!(mobile["team"], "Mobile");
    assert_eq!(mobile["week"]["active_engineers"], 1);
    assert_eq!(mobile["week"]["acceptance_rate"], Value::Null);
    let platform = &teams[1];
    assert_eq!(
        platform["week"]["lines_per_active_engineer"].as_f64(),
        Some(120.0)
    );
    assert_eq!(
        platform["week"]["cost_per_active_engineer_usd"].as_f64(),
        Some(1.5)
    );
    assert_eq!(platform["changes"]["active_engineers"]["direction"], "same");
}

#[test]
fn report_table_on_stale_data_leads_with_the_newest_day_and_never_says_to_0() {
    let out = scoreboard_strs(&stale_args("table"));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let t = text(&out.stdout);
    let lines: Vec<&str> = t.lines().collect();
    assert_eq!(
        lines[1],
        "newest data: 18 Nov, 14 days ago — export the weeks since (19 Nov to 1 Dec) from claude.ai \
         (Analytics › Claude Code) and load the file."
    );
    assert_eq!(
        lines[2],
        "Weekly active engineers went from 2 to 3 over the 2 weeks to the week of 9 Nov, tool \
         acceptance rose from 83 % to 91 %, and 1 person has not started yet."
    );
    assert!(!t.contains("to 0"), "{t}");
    for needle in [
        "Week of 9 Nov (changes from the week of 2 Nov):",
        "▲ +1 (+50 %) good",
        "▲ +40.0 (+67 %) good",
        "▲ +7.6 pts good",
        "▲ +$1.00 (+100 %)",
        "▼ −1 (−50 %) good",
        "partial: 3 of 7 days",
        "no data",
        "Teams, week of 9 Nov:",
        "2 / 2",
        "3 of 4",
    ] {
        assert!(t.contains(needle), "missing {needle:?} in\n{t}");
    }
    let w48 = lines.iter().find(|l| l.contains("2026-W48")).unwrap();
    assert!(w48.contains("no data") && !w48.contains(" 0 "), "{w48}");
}

#[test]
fn report_exits_2_with_the_reason_on_unusable_input() {
    let garbage = data("garbage.csv").display().to_string();
    let missing = data("no-such-file.csv").display().to_string();
    let totals = data("totals_no_date.csv").display().to_string();
    let roster = data("roster.csv").display().to_string();
    for (args, needle) in [
        (vec!["report", garbage.as_str()], "garbage.csv"),
        (vec!["report", missing.as_str()], "no-such-file.csv"),
        (vec!["report", totals.as_str()], "--period"),
        (vec!["report", roster.as_str()], "only a roster"),
        (
            vec![
                "report",
                "--period",
                "2026-11-30..2026-11-01",
                totals.as_str(),
            ],
            "ends before it starts",
        ),
        (
            vec!["report", "--as-of", "last friday", totals.as_str()],
            "YYYY-MM-DD",
        ),
    ] {
        let out = scoreboard(&args);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: {}",
            text(&out.stderr)
        );
        assert!(
            text(&out.stderr).contains(needle),
            "{args:?}: {}",
            text(&out.stderr)
        );
        assert!(out.stdout.is_empty(), "{args:?}");
    }
    // With the period, the same export is usable.
    let out = scoreboard(&[
        "report",
        "--as-of",
        "2026-11-20",
        "--period",
        "2026-11-02..2026-11-08",
        &totals,
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
}

#[test]
fn token_create_prints_the_token_once_with_the_settings_and_stores_only_its_hash() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let out = scoreboard(&[
        "token",
        "create",
        "--name",
        "platform",
        "--data-dir",
        d,
        "--endpoint",
        "https://sb.acme.io",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let t = text(&out.stdout);
    let token = t
        .split_whitespace()
        .find(|w| w.starts_with("sbi_"))
        .unwrap()
        .to_string();
    for needle in [
        "\"CLAUDE_CODE_ENABLE_TELEMETRY\": \"1\"",
        "\"OTEL_METRICS_EXPORTER\": \"otlp\"",
        "\"OTEL_LOGS_EXPORTER\": \"otlp\"",
        "\"OTEL_EXPORTER_OTLP_PROTOCOL\": \"http/json\"",
        "\"OTEL_EXPORTER_OTLP_ENDPOINT\": \"https://sb.acme.io\"",
        "managed-settings.json",
        "<string>com.anthropic.claudecode</string>",
    ] {
        assert!(t.contains(needle), "missing {needle} in\n{t}");
    }
    assert!(t.contains(&format!(
        "\"OTEL_EXPORTER_OTLP_HEADERS\": \"Authorization=Bearer {token}\""
    )));

    let db = std::fs::read(dir.path().join("scoreboard.db")).unwrap();
    let wal = std::fs::read(dir.path().join("scoreboard.db-wal")).unwrap_or_default();
    for bytes in [db, wal] {
        assert!(
            !bytes.windows(token.len()).any(|w| w == token.as_bytes()),
            "the clear token is stored"
        );
    }

    let out = scoreboard(&[
        "token",
        "create",
        "--viewer",
        "--name",
        "lead",
        "--data-dir",
        d,
    ]);
    assert!(text(&out.stdout).contains("sbv_"));
    let list = text(&scoreboard(&["token", "list", "--data-dir", d]).stdout);
    assert!(
        list.contains("ingest") && list.contains("viewer") && list.contains("platform"),
        "{list}"
    );
    assert!(!list.contains(&token), "list never shows a token");

    let out = scoreboard(&[
        "token",
        "create",
        "--admin",
        "--name",
        "ops",
        "--data-dir",
        d,
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("sba_") && text(&out.stdout).contains("delete anyone's"));

    let out = scoreboard(&["token", "rotate", "1", "--data-dir", d]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("Token #1 is revoked"));
    let out = scoreboard(&["token", "revoke", "1", "--data-dir", d]);
    assert!(!out.status.success(), "already revoked by the rotation");
    let out = scoreboard(&["token", "revoke", "4", "--data-dir", d]);
    assert!(out.status.success(), "{}", text(&out.stderr));
}

#[test]
fn serve_help_documents_every_setting() {
    let out = scoreboard(&["serve", "--help"]);
    let h = text(&out.stdout);
    for needle in [
        "--config",
        "--listen",
        "--dist",
        "--data-dir",
        "--demo",
        "--otlp-listen",
        "--roster",
        "SCOREBOARD_LISTEN",
        "ANTHROPIC_ADMIN_API_KEY",
        "ANTHROPIC_ANALYTICS_API_KEY",
        "listen =",
        "data_dir =",
        "roster =",
        "public =",
        "trusted_identity_header =",
        "otlp_listen =",
        "base_url =",
        "sync_interval =",
        "backfill_days =",
        "request_timeout =",
        "max_retries =",
        "breaker_threshold =",
        "breaker_cooldown =",
        "identity_attribute =",
        "allowed_hosts =",
        "max_connections =",
        "header_timeout =",
        "body_timeout =",
        "snapshots_per_person =",
        "RUST_LOG",
    ] {
        assert!(h.contains(needle), "serve --help does not mention {needle}");
    }
}

#[test]
fn serve_refuses_a_bad_setting_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("scoreboard.toml");
    let d = dir.path().to_str().unwrap();
    let cases: [(&str, &str); 4] = [
        (
            "[anthropic]\nsync_interval = \"soon\"\n",
            "anthropic.sync_interval",
        ),
        ("listen = \"localhost\"\n", "listen"),
        (
            "[anthropic]\nadmin_api_key = \"sk-ant-admin01-INFILE\"\n",
            "anthropic.admin_api_key",
        ),
        ("roster = \"/no/such/roster.csv\"\n", "roster"),
    ];
    for (content, setting) in cases {
        std::fs::write(&cfg, content).unwrap();
        let out = scoreboard(&["serve", "--config", cfg.to_str().unwrap(), "--data-dir", d]);
        let err = text(&out.stderr);
        assert!(!out.status.success(), "{content}");
        assert!(err.contains(&format!("`{setting}`")), "{content}: {err}");
        assert!(
            !err.contains("INFILE"),
            "a key from the file is echoed: {err}"
        );
    }
    let out = scoreboard(&["serve", "--listen", "nowhere", "--data-dir", d]);
    assert!(
        text(&out.stderr).contains("`--listen`"),
        "{}",
        text(&out.stderr)
    );
    let out = scoreboard(&["serve", "--dist", d, "--data-dir", d]);
    assert!(
        text(&out.stderr).contains("`dist`") && text(&out.stderr).contains("index.html"),
        "{}",
        text(&out.stderr)
    );
}
