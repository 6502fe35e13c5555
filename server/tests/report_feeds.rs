//! The report where other operating metrics live: `scoreboard report
//! --format markdown|csv` carry the JSON report's figures, `GET /api/report`
//! answers the CLI's JSON for the same data, and `GET /metrics` parses as
//! Prometheus text with every named series and no person in it; the Grafana
//! dashboard reads only series that exist.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{Duration, NaiveDate};
use common::{day, noon, user_record, Harness};
use scoreboard_core::parse::{self, ImportOptions};
use scoreboard_core::Source;
use scoreboard_server::auth::IngestTokens;
use scoreboard_server::config::{Config, Secrets};
use scoreboard_server::store::{DayStats, Store, SyncState};
use serde_json::{json, Value};

const AS_OF: &str = "2026-11-20";

/// Who is active when, from Mon 26 Oct to Thu 19 Nov 2026: Ann every day
/// (so every day is covered), Bob Monday to Wednesday, Dee on Tuesdays,
/// Jo once, Cy (not on the roster) on Fridays.
fn records() -> Vec<Value> {
    let mut out = Vec::new();
    let mut d = day("2026-10-26");
    while d <= day("2026-11-19") {
        let s = d.to_string();
        let dow = (d - day("2026-10-26")).num_days() % 7;
        out.push(user_record(&s, "day", "ann@acme.io", 3, 120, 250.0));
        if dow <= 2 {
            out.push(user_record(&s, "day", "bob@acme.io", 1, 40, 90.5));
        }
        if dow == 1 {
            out.push(user_record(&s, "day", "dee@acme.io", 2, 15, 30.0));
        }
        if dow == 4 {
            out.push(user_record(&s, "day", "cy@acme.io", 1, 7, 12.0));
        }
        if s == "2026-11-12" {
            out.push(user_record(&s, "day", "jo@acme.io", 1, 3, 5.0));
        }
        d += Duration::days(1);
    }
    out
}

/// Platform has 5 people; Mobile 3 and Web 2 are smaller than the share
/// links' smallest group and together make 5.
const ROSTER: &str = "email,name,team\n\
ann@acme.io,Ann A,Platform\nbob@acme.io,Bob B,Platform\neve@acme.io,Eve E,Platform\n\
fay@acme.io,Fay F,Platform\ngus@acme.io,Gus G,Platform\n\
dee@acme.io,Dee D,Mobile\nhal@acme.io,Hal H,Mobile\nian@acme.io,Ian I,Mobile\n\
jo@acme.io,Jo J,Web\nkim@acme.io,Kim K,Web\n";

struct Files {
    _dir: tempfile::TempDir,
    usage: PathBuf,
    roster: PathBuf,
    data_dir: PathBuf,
}

fn files() -> Files {
    let dir = tempfile::tempdir().unwrap();
    let usage = dir.path().join("admin_api.json");
    std::fs::write(
        &usage,
        serde_json::to_vec(&json!({"data": records(), "has_more": false, "next_page": null}))
            .unwrap(),
    )
    .unwrap();
    let roster = dir.path().join("roster.csv");
    std::fs::write(&roster, ROSTER).unwrap();
    let data_dir = dir.path().join("data");
    Files {
        usage,
        roster,
        data_dir,
        _dir: dir,
    }
}

fn cli(f: &Files, format: &str, extra: &[&str]) -> String {
    let out = common::scoreboard_command()
        .args(["report", "--format", format])
        .args(if extra.contains(&"--as-of") {
            vec![]
        } else {
            vec!["--as-of", AS_OF]
        })
        .args(extra)
        .arg("--roster")
        .arg(&f.roster)
        .arg(&f.usage)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn cli_json(f: &Files, extra: &[&str]) -> Value {
    serde_json::from_str(&cli(f, "json", extra)).unwrap()
}

/// "1,234" → 1234; "92 %" → 0.92; "$12.34*" → 12.34; "—" → None.
fn figure(cell: &str) -> Option<f64> {
    let c = cell.trim();
    if c.starts_with('—') {
        return None;
    }
    let pct = c.ends_with('%');
    let v: f64 = c
        .trim_end_matches('*')
        .trim_end_matches('%')
        .trim()
        .trim_start_matches('$')
        .replace(',', "")
        .parse()
        .unwrap_or_else(|_| panic!("not a figure: {cell:?}"));
    Some(if pct { v / 100.0 } else { v })
}

/// The Markdown table under `heading`: its rows of cells.
fn md_table(md: &str, heading: &str) -> Vec<Vec<String>> {
    let mut lines = md.lines().skip_while(|l| !l.starts_with(heading)).skip(1);
    let rows: Vec<Vec<String>> = lines
        .by_ref()
        .skip_while(|l| l.trim().is_empty())
        .take_while(|l| l.starts_with('|'))
        .map(|l| {
            l.trim()
                .trim_matches('|')
                .split(" | ")
                .map(|c| c.trim().to_string())
                .collect()
        })
        .collect();
    assert!(rows.len() > 2, "no table under {heading:?} in\n{md}");
    rows[2..].to_vec()
}

/// `shown` is `json` written to the shown precision (`tolerance`), or both are undefined.
fn same(what: &str, shown: Option<f64>, json: &Value, tolerance: f64) {
    match (shown, json.as_f64()) {
        (None, None) => {}
        // Money is rounded from exact micro-dollars; the JSON has a float.
        (Some(s), Some(j)) => assert!(
            (s - j).abs() <= tolerance + 1e-9,
            "{what}: shown {s}, JSON {j}"
        ),
        _ => panic!("{what}: shown {shown:?}, JSON {json}"),
    }
}

fn keys(md: &str, heading: &str) -> Vec<String> {
    let line = md
        .lines()
        .skip_while(|l| !l.starts_with(heading))
        .skip(1)
        .find(|l| !l.trim().is_empty())
        .unwrap();
    line.split(", ")
        .filter(|k| k.starts_with('`'))
        .map(|k| k.trim_matches('`').to_string())
        .collect()
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect()
}

#[test]
fn markdown_and_csv_reports_carry_the_json_reports_figures() {
    let f = files();
    let args = ["--weeks", "3"];
    let r = cli_json(&f, &args);
    let md = cli(&f, "markdown", &args);

    assert!(md.contains(r["summary"].as_str().unwrap()), "{md}");
    assert!(
        md.contains("Data covers: admin-api 2026-10-26 to 2026-11-19"),
        "{md}"
    );

    // The weekly table, week by week.
    let weeks = r["weeks"].as_array().unwrap();
    let rows = md_table(&md, "### Weekly");
    assert_eq!(rows.len(), weeks.len());
    for (row, w) in rows.iter().zip(weeks) {
        assert_eq!(row[0], w["label"].as_str().unwrap());
        let label = &row[0];
        same(
            &format!("{label} active"),
            figure(&row[2]),
            &w["active_engineers"],
            0.0,
        );
        same(
            &format!("{label} adoption"),
            figure(&row[3]),
            &w["adoption_rate"],
            0.005,
        );
        same(
            &format!("{label} sessions"),
            figure(&row[4]),
            &w["sessions"],
            0.0,
        );
        same(
            &format!("{label} sessions/eng"),
            figure(&row[5]),
            &w["sessions_per_active_engineer"],
            0.05,
        );
        same(
            &format!("{label} lines"),
            figure(&row[6]),
            &w["lines_accepted"],
            0.0,
        );
        same(
            &format!("{label} lines/eng"),
            figure(&row[7]),
            &w["lines_per_active_engineer"],
            0.05,
        );
        same(
            &format!("{label} acceptance"),
            figure(&row[8]),
            &w["acceptance_rate"],
            0.005,
        );
        same(
            &format!("{label} cost"),
            figure(&row[9]),
            &w["cost_usd"],
            0.005,
        );
        same(
            &format!("{label} cost/eng"),
            figure(&row[10]),
            &w["cost_per_active_engineer_usd"],
            0.005,
        );
    }

    // The reference week's cards and their changes.
    let cards = &r["kpis"]["cards"];
    assert!(md.contains(&format!("### Week of {}", "16 Nov")) || cards["week"] == "2026-11-09");
    let card_rows = md_table(&md, "### Week of");
    let names = [
        "active_engineers",
        "adoption_rate",
        "sessions",
        "sessions_per_active_engineer",
        "lines_accepted",
        "lines_per_active_engineer",
        "acceptance_rate",
        "cost_per_active_engineer",
        "not_started",
    ];
    assert_eq!(card_rows.len(), names.len());
    for (row, name) in card_rows.iter().zip(names) {
        let card = &cards[name];
        let tolerance = match name {
            "adoption_rate" | "acceptance_rate" => 0.005,
            "sessions_per_active_engineer" | "lines_per_active_engineer" => 0.05,
            _ => 0.005,
        };
        same(
            name,
            figure(row[1].split(" (").next().unwrap()),
            &card["value"],
            tolerance,
        );
        // The change: its sign and absolute amount as the JSON has it.
        match card["change"].as_object() {
            None => assert_eq!(row[2], "", "{name}: {row:?}"),
            Some(c) if c["direction"] == "same" => assert!(row[2].contains("no change")),
            Some(c) => {
                let abs = c["absolute"].as_f64().unwrap();
                let arrow = if abs > 0.0 { '▲' } else { '▼' };
                assert!(row[2].starts_with(arrow), "{name}: {row:?}");
                let amount = row[2]
                    .split_whitespace()
                    .nth(1)
                    .unwrap()
                    .replace(['+', '−', '$', ','], "");
                let amount: f64 = amount.parse().unwrap();
                let expected = if name.ends_with("_rate") {
                    abs.abs() * 100.0
                } else {
                    abs.abs()
                };
                assert!(
                    (amount - expected).abs() <= 0.05,
                    "{name}: {row:?} vs {c:?}"
                );
            }
        }
    }

    assert_eq!(keys(&md, "### Power users"), strings(&r["power_users"]));
    assert_eq!(
        keys(&md, "### Not started yet"),
        strings(&r["non_starters"])
    );
    assert!(!strings(&r["non_starters"]).is_empty());

    // CSV: one row per week, the same figures written raw.
    let csv_text = cli(&f, "csv", &args);
    let mut reader = csv::Reader::from_reader(csv_text.as_bytes());
    let headers = reader.headers().unwrap().clone();
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), weeks.len());
    for (row, w) in rows.iter().zip(weeks) {
        let cell = |name: &str| {
            let i = headers.iter().position(|h| h == name).unwrap();
            let v = &row[i];
            (!v.is_empty()).then(|| v.parse::<f64>().unwrap())
        };
        assert_eq!(&row[0], w["label"].as_str().unwrap());
        same(
            "csv active",
            cell("active_engineers"),
            &w["active_engineers"],
            0.0,
        );
        same("csv sessions", cell("sessions"), &w["sessions"], 0.0);
        same(
            "csv lines",
            cell("lines_accepted"),
            &w["lines_accepted"],
            0.0,
        );
        same(
            "csv adoption",
            cell("adoption_rate"),
            &w["adoption_rate"],
            1e-6,
        );
        same(
            "csv acceptance",
            cell("acceptance_rate"),
            &w["acceptance_rate"],
            1e-6,
        );
        same("csv cost", cell("cost_usd"), &w["cost_usd"], 0.005);
        same(
            "csv cost/eng",
            cell("cost_per_active_engineer_usd"),
            &w["cost_per_active_engineer_usd"],
            0.005,
        );
    }
}

/// A server whose store holds the rows `scoreboard report` reads from the
/// same Admin API file (through the same parser the sync uses) and whose
/// roster file is the same roster.
fn server(f: &Files, telemetry: bool) -> Harness {
    let config = Config {
        data_dir: f.data_dir.clone(),
        secrets: Secrets::default(),
        roster: Some(f.roster.clone()),
        ..Config::default()
    };
    server_with(f, config, telemetry)
}

fn server_with(f: &Files, config: Config, telemetry: bool) -> Harness {
    std::fs::create_dir_all(&f.data_dir).unwrap();
    let receiver = telemetry.then(|| {
        let store = Arc::new(Store::open(&config.db_path()).unwrap());
        Arc::new(
            scoreboard_otlp::Receiver::open(
                &config.db_path(),
                scoreboard_otlp::OtlpConfig::default(),
                Arc::new(IngestTokens::new(store)),
            )
            .unwrap(),
        )
    });
    let h = Harness::with_telemetry(config, receiver);
    let bytes = std::fs::read(&f.usage).unwrap();
    let import = parse::import("admin_api.json", &bytes, &ImportOptions::default()).unwrap();
    let mut d: NaiveDate = day("2026-10-26");
    while d <= day("2026-11-19") {
        let rows: Vec<_> = import.rows.iter().filter(|r| r.day == d).cloned().collect();
        let n = rows.len() as u64;
        let stats = DayStats {
            records: n,
            user_actor_records: n,
            non_api_records: 0,
        };
        h.store
            .replace_day(Source::AdminApi, d, &rows, &stats, noon("2026-11-20"))
            .unwrap();
        d += Duration::days(1);
    }
    h.set_now(noon(AS_OF));
    h
}

#[tokio::test(flavor = "multi_thread")]
async fn api_report_answers_the_json_of_scoreboard_report_for_the_same_data() {
    let f = files();
    let h = server(&f, false);
    let cases: [(&str, Vec<&str>); 4] = [
        ("/api/report", vec![]),
        ("/api/report?weeks=3&as_of=2026-11-20", vec!["--weeks", "3"]),
        (
            "/api/report?team=Platform&weeks=2",
            vec!["--weeks", "2", "--team", "Platform"],
        ),
        (
            "/api/report?from=2026-10-27&to=2026-11-15&as_of=2026-11-18",
            vec![
                "--from",
                "2026-10-27",
                "--to",
                "2026-11-15",
                "--as-of",
                "2026-11-18",
            ],
        ),
    ];
    for (uri, args) in cases {
        let api = h.get_json(uri).await;
        let mut cli = cli_json(&f, &args);
        // The CLI names its input file in the warnings it forwards; the server has none.
        cli["warnings"] = Value::Array(
            cli["warnings"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|w| {
                    !w.as_str()
                        .unwrap()
                        .starts_with(&f.usage.display().to_string())
                })
                .cloned()
                .collect(),
        );
        for key in cli.as_object().unwrap().keys() {
            assert_eq!(api[key], cli[key], "{uri}: {key}");
        }
        assert_eq!(api, cli, "{uri}");
    }
    let (status, body) = h.get("/api/report?weeks=0", &[]).await;
    assert_eq!(status, 400, "{body}");
    let (status, body) = h.get("/api/report?from=2026-11-01", &[]).await;
    assert_eq!(status, 400, "{body}");
}

fn grafana() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/grafana/scoreboard.json")
}

#[tokio::test(flavor = "multi_thread")]
async fn metrics_parse_as_prometheus_text_with_every_series_and_no_person() {
    let f = files();
    // The Admin API configured (a fake that is never called here) and last
    // synced yesterday at noon, so its freshness is served.
    let fake = common::Fake::start(common::FakeData::default(), 100).await;
    let mut config = common::test_config(&fake, &f.data_dir);
    config.roster = Some(f.roster.clone());
    let h = server_with(&f, config, true);
    h.store
        .put_sync_state(
            Source::AdminApi,
            &SyncState {
                last_success: Some(noon("2026-11-19")),
                ..SyncState::default()
            },
        )
        .unwrap();
    let (status, body) = h.get("/metrics", &[]).await;
    assert_eq!(status, 200, "{body}");
    println!("{body}");
    let scrape = prometheus_parse::Scrape::parse(body.lines().map(|l| Ok(l.to_string()))).unwrap();
    let value = |name: &str, labels: &[(&str, &str)]| -> Option<f64> {
        scrape
            .samples
            .iter()
            .find(|s| {
                s.metric == name
                    && labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v))
                    && s.labels.len() == labels.len()
            })
            .map(|s| match s.value {
                prometheus_parse::Value::Gauge(v)
                | prometheus_parse::Value::Counter(v)
                | prometheus_parse::Value::Untyped(v) => v,
                _ => panic!("{name}: not a number"),
            })
    };
    let report = h.get_json("/api/report").await;
    let week = &report["kpis"]["week"];
    for team in ["", "Platform", "other"] {
        for name in [
            "scoreboard_weekly_active_engineers",
            "scoreboard_roster_size",
            "scoreboard_adoption_ratio",
            "scoreboard_sessions",
            "scoreboard_lines_accepted",
            "scoreboard_acceptance_ratio",
            "scoreboard_cost_usd",
            "scoreboard_cost_per_active_engineer_usd",
            "scoreboard_non_starters",
            "scoreboard_reference_week_start_timestamp_seconds",
        ] {
            assert!(
                value(name, &[("team", team)]).is_some(),
                "{name}{{team={team:?}}} in\n{body}"
            );
        }
        for tier in [
            "power",
            "regular",
            "occasional",
            "lapsed",
            "new",
            "not_started",
        ] {
            assert!(
                value("scoreboard_people", &[("team", team), ("tier", tier)]).is_some(),
                "people {tier} of {team:?}"
            );
        }
    }
    // Everyone's figures are the report's.
    let all = |name: &str| value(name, &[("team", "")]).unwrap();
    assert_eq!(
        all("scoreboard_weekly_active_engineers"),
        week["active_engineers"].as_f64().unwrap()
    );
    assert_eq!(
        all("scoreboard_sessions"),
        week["sessions"].as_f64().unwrap()
    );
    assert_eq!(
        all("scoreboard_lines_accepted"),
        week["lines_accepted"].as_f64().unwrap()
    );
    assert_eq!(
        all("scoreboard_cost_usd"),
        week["cost_usd"].as_f64().unwrap()
    );
    assert_eq!(
        all("scoreboard_acceptance_ratio"),
        week["acceptance_rate"].as_f64().unwrap()
    );
    assert_eq!(all("scoreboard_roster_size"), 10.0);
    // Last success on 19 Nov: the end of that day was 12 hours before noon on the 20th.
    assert_eq!(
        value(
            "scoreboard_source_last_success_age_seconds",
            &[("source", "admin-api")]
        ),
        Some(12.0 * 3600.0)
    );
    assert_eq!(
        all("scoreboard_non_starters"),
        report["kpis"]["non_starters"].as_f64().unwrap()
    );
    // Mobile (3) and Web (2) are merged: no series names them.
    assert_eq!(
        value("scoreboard_roster_size", &[("team", "other")]),
        Some(5.0)
    );
    assert_eq!(
        value("scoreboard_roster_size", &[("team", "Platform")]),
        Some(5.0)
    );
    for s in &scrape.samples {
        let team = s.labels.get("team").unwrap_or("");
        assert!(["", "Platform", "other"].contains(&team), "{s:?}");
    }
    // No person: no e-mail, no roster key or name anywhere in the answer.
    assert!(!body.contains('@'), "{body}");
    for who in ["ann", "bob", "cy", "dee", "jo", "Ann A", "Dee D"] {
        assert!(
            !body
                .to_lowercase()
                .contains(&format!("\"{}", who.to_lowercase())),
            "{who} in\n{body}"
        );
    }

    // The Grafana dashboard reads only series /metrics serves.
    let dashboard: Value = serde_json::from_slice(&std::fs::read(grafana()).unwrap()).unwrap();
    let mut exprs = Vec::new();
    fn walk(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(m) => {
                if let Some(Value::String(e)) = m.get("expr") {
                    out.push(e.clone());
                }
                m.values().for_each(|v| walk(v, out));
            }
            Value::Array(a) => a.iter().for_each(|v| walk(v, out)),
            _ => {}
        }
    }
    walk(&dashboard, &mut exprs);
    assert!(exprs.len() >= 6, "{exprs:?}");
    let served: Vec<&str> = scrape.samples.iter().map(|s| s.metric.as_str()).collect();
    for e in &exprs {
        let names: Vec<&str> = e
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .filter(|w| w.starts_with("scoreboard_"))
            .collect();
        assert!(!names.is_empty(), "{e}");
        for n in names {
            assert!(
                served.contains(&n) || body.contains(&format!("# TYPE {n} ")),
                "the dashboard reads {n}, which /metrics does not serve"
            );
        }
    }
}
