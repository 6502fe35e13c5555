//! The dashboard as an admin uses it: files picked through the real file input of the
//! built app, served by the real `scoreboard serve`, in headless Chromium.
//!
//! The page must show exactly the figures of `scoreboard report --format json` for
//! the same files (issue 3: "every figure on the page equals the `scoreboard report`
//! figure for the same input"), follow the window and team filters, name broken rows,
//! keep the data across a reload, forget it when cleared, and never send file content
//! over the network.
//!
//! The page is opened with `?as_of=2026-11-22` (the day the demo data was generated
//! for, `public/demo/manifest.json`) so that "today" is the same for the page and for
//! `scoreboard report --as-of`.

use std::{
    collections::{BTreeMap, BTreeSet},
    fs,
    path::{Path, PathBuf},
    process::Command,
    time::Duration,
};

use scoreboard_e2e::harness::{demo_file, failed, App, Result, BIN_VAR};
use serde_json::{json, Value};

/// "Today" for the page and the CLI: the demo's `as_of`.
const AS_OF: &str = "2026-11-22";
const PAGE: &str = "/?as_of=2026-11-22";
/// The usage export and the roster the demo ships (in `public/demo/`).
const DEMO_USAGE: &str = "claude_code_usage.csv";
const DEMO_ROSTER: &str = "roster.csv";
/// The window the page starts with, and `scoreboard report`'s default `--weeks`.
const DEFAULT_WEEKS: &str = "8";
/// Generous: the tests share two cores with cargo builds and with each other.
const TIMEOUT: Duration = Duration::from_secs(120);

/// The demo's usage export and roster every test starts from (absolute
/// paths: the page's file input wants them).
fn demo_files() -> Vec<PathBuf> {
    vec![demo_file(DEMO_USAGE), demo_file(DEMO_ROSTER)]
}

fn temp_dir() -> Result<tempfile::TempDir> {
    tempfile::Builder::new()
        .prefix("scoreboard-e2e-files-")
        .tempdir()
        .map_err(|e| failed(format!("cannot create a temporary directory: {e}")))
}

fn write(path: &Path, text: &str) -> Result<()> {
    fs::write(path, text).map_err(|e| failed(format!("cannot write {}: {e}", path.display())))
}

fn read(path: &Path) -> Result<String> {
    fs::read_to_string(path).map_err(|e| failed(format!("cannot read {}: {e}", path.display())))
}

/// `scoreboard report --format json --as-of AS_OF --weeks <weeks> <files>`, run in
/// `dir` (so a relative file name is reported as the page names it), parsed.
fn cli_report(dir: &Path, weeks: &str, files: &[PathBuf]) -> Result<Value> {
    let bin = std::env::var_os(BIN_VAR).ok_or_else(|| failed(format!("{BIN_VAR} is not set")))?;
    let output = Command::new(&bin)
        .current_dir(dir)
        .args([
            "report", "--format", "json", "--as-of", AS_OF, "--weeks", weeks,
        ])
        .args(files)
        .output()
        .map_err(|e| failed(format!("cannot run {}: {e}", Path::new(&bin).display())))?;
    if !output.status.success() {
        return Err(failed(format!(
            "`scoreboard report` on {files:?} failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        )));
    }
    serde_json::from_slice(&output.stdout).map_err(|e| {
        failed(format!(
            "`scoreboard report --format json` printed no JSON: {e}"
        ))
    })
}

/// Opens the page with the pinned "today", picks `files` in the file input and waits
/// until the page has imported them.
async fn load_files(app: &App, files: &[PathBuf]) -> Result<()> {
    app.find("#file-input").await?;
    let seen = app.mark_count("scoreboard:import-end").await?;
    app.upload("#file-input", files).await?;
    app.wait_for_mark("scoreboard:import-end", seen, TIMEOUT)
        .await
}

/// What the page shows, read in one go: the summary sentence, the KPI cards (raw
/// `data-value`s and the text), the people table, the non-starters and power users,
/// and the two filters.
const PAGE_STATE_JS: &str = r#"
const text = (el) => (el ? el.textContent.replace(/\s+/g, ' ').trim() : null);
const card = (id) => {
  const el = document.getElementById(id);
  if (!el) return null;
  const value = el.querySelector('.value');
  const delta = el.querySelector('.delta');
  return {
    value: value ? value.getAttribute('data-value') : null,
    text: text(value),
    delta: delta ? delta.getAttribute('data-value') : null,
  };
};
const kpis = {};
for (const id of ['kpi-wae', 'kpi-sessions', 'kpi-lines', 'kpi-acceptance', 'kpi-cost', 'kpi-nonstarters']) {
  kpis[id] = card(id);
}
const people = [...document.querySelectorAll('#people-table tbody tr[data-person]')].map((tr) => {
  const cells = {};
  for (const td of tr.querySelectorAll('td[data-col]')) {
    cells[td.getAttribute('data-col')] = { text: text(td), value: td.getAttribute('data-value') };
  }
  return { person: tr.getAttribute('data-person'), tier: tr.getAttribute('data-tier'), cells };
});
const list = (id) =>
  [...document.querySelectorAll(`#${id} li[data-person]`)].map((li) => li.getAttribute('data-person'));
const select = (id) => {
  const s = document.getElementById(id);
  return s ? { value: s.value, options: [...s.options].map((o) => o.value) } : null;
};
return {
  summary: text(document.getElementById('summary')),
  kpis,
  people,
  non_starters: list('non-starters'),
  power_users: list('power-users'),
  window: select('window-select'),
  team: select('team-select'),
};
"#;

async fn page_state(app: &App) -> Result<Value> {
    // The sections under the first screen are built a frame each after it,
    // the people table's rows a frame at a time (`aria-busy` meanwhile).
    app.wait_for_js(
        "!document.querySelector('#dashboard') || (document.querySelector('#definitions') && !document.querySelector('#people-table[aria-busy=\"true\"]'))",
        TIMEOUT,
    )
    .await?;
    app.execute(PAGE_STATE_JS, Vec::new()).await
}

/// 12345 → "12,345", the page's way of writing counts.
fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A fraction as the page and the CLI write it: "93 %".
fn percent(r: f64) -> String {
    format!("{:.0} %", r * 100.0)
}

/// Dollars as the page writes them: "$18.69", "$12,345".
fn dollars(v: f64) -> String {
    if v >= 10_000.0 {
        format!("${}", grouped(v.round() as u64))
    } else {
        let cents = (v * 100.0).round() as u64;
        format!("${}.{:02}", grouped(cents / 100), cents % 100)
    }
}

fn u64_of(v: &Value) -> Option<u64> {
    v.as_u64()
}

fn str_of(v: &Value) -> Option<&str> {
    v.as_str()
}

/// Collects "what: page shows X, the CLI says Y" lines.
#[derive(Default)]
struct Diff(Vec<String>);

impl Diff {
    fn check(&mut self, what: impl std::fmt::Display, page: &Value, want: &str) {
        if page.as_str() != Some(want) {
            self.0.push(format!(
                "{what}: the page shows {page}, the CLI says {want:?}"
            ));
        }
    }
}

const CARDS: [(&str, &str); 3] = [
    ("kpi-wae", "active_engineers"),
    ("kpi-sessions", "sessions"),
    ("kpi-lines", "lines_accepted"),
];

/// Every difference between what the page shows and the CLI's report.
fn differences(page: &Value, cli: &Value) -> Vec<String> {
    let mut d = Diff::default();
    let summary = str_of(&cli["summary"]).unwrap_or_default();
    d.check("summary sentence", &page["summary"], summary);
    kpi_differences(&mut d, &page["kpis"], cli);
    people_differences(&mut d, &page["people"], cli);

    let keys = |v: &Value| -> Vec<String> {
        v.as_array()
            .map(|a| a.iter().filter_map(str_of).map(str::to_owned).collect())
            .unwrap_or_default()
    };
    let (shown, want) = (keys(&page["non_starters"]), keys(&cli["non_starters"]));
    if shown != want {
        d.0.push(format!(
            "non-starters: the page lists {shown:?}, the CLI {want:?}"
        ));
    }
    let (shown, want) = (
        keys(&page["power_users"])
            .into_iter()
            .collect::<BTreeSet<_>>(),
        keys(&cli["power_users"])
            .into_iter()
            .collect::<BTreeSet<_>>(),
    );
    if shown != want {
        d.0.push(format!(
            "power users: the page lists {shown:?}, the CLI {want:?}"
        ));
    }
    d.0
}

/// How the page writes a figure.
type Show = fn(f64) -> String;

fn kpi_differences(d: &mut Diff, cards: &Value, cli: &Value) {
    let kpis = &cli["kpis"];
    let week = &kpis["week"];
    let previous = &kpis["previous"];
    if kpis.is_null() {
        for (id, _) in CARDS {
            d.check(format!("#{id} value"), &cards[id]["value"], "");
            d.check(format!("#{id} text"), &cards[id]["text"], "—");
        }
    }
    for (id, field) in CARDS.iter().filter(|_| !kpis.is_null()) {
        let now = u64_of(&week[field]).unwrap_or_default();
        d.check(
            format!("#{id} value"),
            &cards[id]["value"],
            &now.to_string(),
        );
        d.check(format!("#{id} text"), &cards[id]["text"], &grouped(now));
        let delta = u64_of(&previous[field])
            .map(|before| (now as i64 - before as i64).to_string())
            .unwrap_or_default();
        d.check(format!("#{id} change"), &cards[id]["delta"], &delta);
    }

    // The two figures that can be undefined ("—" with a reason, never 0).
    let undefined_able: [(&str, &str, Show); 2] = [
        ("kpi-acceptance", "acceptance_rate", percent),
        ("kpi-cost", "cost_per_active_engineer_usd", dollars),
    ];
    for (id, field, show) in undefined_able {
        match week[field].as_f64() {
            Some(now) => {
                d.check(
                    format!("#{id} value"),
                    &cards[id]["value"],
                    &format!("{now:.6}"),
                );
                d.check(format!("#{id} text"), &cards[id]["text"], &show(now));
                let delta = previous[field]
                    .as_f64()
                    .map(|before| format!("{:.4}", now - before))
                    .unwrap_or_default();
                d.check(format!("#{id} change"), &cards[id]["delta"], &delta);
            }
            None => {
                d.check(format!("#{id} value"), &cards[id]["value"], "");
                d.check(format!("#{id} text"), &cards[id]["text"], "—");
            }
        }
    }

    let nonstarters = &cards["kpi-nonstarters"];
    if cli["roster_size"].is_null() {
        d.check("#kpi-nonstarters value", &nonstarters["value"], "");
        d.check("#kpi-nonstarters text", &nonstarters["text"], "—");
    } else {
        let n = cli["non_starters"].as_array().map_or(0, Vec::len) as u64;
        d.check(
            "#kpi-nonstarters value",
            &nonstarters["value"],
            &n.to_string(),
        );
        d.check("#kpi-nonstarters text", &nonstarters["text"], &grouped(n));
        // The change: core's, roster members not started by the end of the
        // reference week vs the week before.
        let delta = kpis["cards"]["not_started"]["change"]["absolute"]
            .as_f64()
            .map(|d| (d as i64).to_string())
            .unwrap_or_default();
        d.check("#kpi-nonstarters change", &nonstarters["delta"], &delta);
    }
}

fn people_differences(d: &mut Diff, rows: &Value, cli: &Value) {
    let shown: BTreeMap<&str, &Value> = rows
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|r| Some((str_of(&r["person"])?, r)))
                .collect()
        })
        .unwrap_or_default();
    let want: BTreeMap<&str, &Value> = cli["people"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|p| Some((str_of(&p["person"])?, p)))
                .collect()
        })
        .unwrap_or_default();
    let missing: Vec<&&str> = want.keys().filter(|k| !shown.contains_key(*k)).collect();
    let extra: Vec<&&str> = shown.keys().filter(|k| !want.contains_key(*k)).collect();
    if !missing.is_empty() || !extra.is_empty() {
        d.0.push(format!(
            "people table: missing {missing:?}, not in the CLI's report {extra:?}"
        ));
    }
    let day = |v: &Value| str_of(v).unwrap_or("—").to_owned();
    for (person, p) in &want {
        let Some(row) = shown.get(person) else {
            continue;
        };
        let cell = |col: &str, part: &str| row["cells"][col][part].clone();
        d.check(
            format!("{person} tier"),
            &row["tier"],
            str_of(&p["tier"]).unwrap_or("?"),
        );
        d.check(
            format!("{person} team"),
            &cell("team", "text"),
            &day(&p["team"]),
        );
        d.check(
            format!("{person} first active"),
            &cell("first_active", "text"),
            &day(&p["first_active"]),
        );
        d.check(
            format!("{person} last active"),
            &cell("last_active", "text"),
            &day(&p["last_active"]),
        );
        let active_weeks = u64_of(&p["active_weeks"]).unwrap_or_default().to_string();
        d.check(
            format!("{person} active weeks"),
            &cell("active_weeks", "text"),
            &active_weeks,
        );
        for (col, field) in [
            ("sessions", "sessions"),
            ("lines_accepted", "lines_accepted"),
        ] {
            let n = u64_of(&p[field]).unwrap_or_default();
            d.check(
                format!("{person} {col}"),
                &cell(col, "value"),
                &n.to_string(),
            );
            d.check(
                format!("{person} {col} text"),
                &cell(col, "text"),
                &grouped(n),
            );
        }
        let (raw, text) = match p["acceptance_rate"].as_f64() {
            Some(a) => (format!("{a:.6}"), percent(a)),
            None => (String::new(), "—".to_owned()),
        };
        d.check(
            format!("{person} acceptance"),
            &cell("acceptance_rate", "value"),
            &raw,
        );
        d.check(
            format!("{person} acceptance text"),
            &cell("acceptance_rate", "text"),
            &text,
        );
        let cost = u64_of(&p["cost_micros"]).unwrap_or_default().to_string();
        d.check(
            format!("{person} cost (micro-dollars)"),
            &cell("cost", "value"),
            &cost,
        );
    }
}

/// Waits until the page shows exactly the CLI's figures; on timeout the error lists
/// the differences still seen.
async fn assert_page_matches(app: &App, what: &str, cli: &Value) -> Result<Value> {
    app.eventually(what, TIMEOUT, async |app| {
        let page = page_state(app).await?;
        let diffs = differences(&page, cli);
        Ok(if diffs.is_empty() {
            Ok(page)
        } else {
            Err(format!(
                "{} difference(s):\n  {}",
                diffs.len(),
                diffs.join("\n  ")
            ))
        })
    })
    .await
}

async fn assert_no_console_errors(app: &App) -> Result<()> {
    let errors = app.console_errors().await?;
    if errors.is_empty() {
        Ok(())
    } else {
        Err(failed(format!("the page logged errors: {errors:#?}")))
    }
}

#[tokio::test]
async fn demo_files_picked_in_the_file_input_show_the_cli_figures_for_each_window() -> Result<()> {
    let Some(app) = App::start().await? else {
        return Ok(());
    };
    app.run(async |app| {
        let files = demo_files();
        let here = Path::new(env!("CARGO_MANIFEST_DIR"));
        app.open(PAGE).await?;
        load_files(app, &files).await?;

        let cli = cli_report(here, DEFAULT_WEEKS, &files)?;
        let page = assert_page_matches(app, "the figures of `scoreboard report --weeks 8`", &cli).await?;
        assert_eq!(
            page["window"]["value"], DEFAULT_WEEKS,
            "the page starts with the last 8 weeks, as `scoreboard report` does"
        );
        // The team filter offers the roster's teams.
        let mut teams = vec![json!("")];
        teams.extend(cli["teams"].as_array().cloned().unwrap_or_default());
        assert_eq!(page["team"]["options"], Value::Array(teams), "team choices");
        // Not a vacuous comparison: the demo has power users, non-starters and a trend.
        assert!(cli["power_users"].as_array().is_some_and(|a| !a.is_empty()));
        assert!(cli["non_starters"].as_array().is_some_and(|a| !a.is_empty()));
        app.screenshot_full_page("dashboard-demo-loaded").await?;

        let mut summaries = BTreeSet::from([cli["summary"].to_string()]);
        for weeks in ["4", "12", "26"] {
            app.select("#window-select", weeks).await?;
            let cli = cli_report(here, weeks, &files)?;
            assert_page_matches(
                app,
                &format!("the figures of `scoreboard report --weeks {weeks}`"),
                &cli,
            )
            .await?;
            summaries.insert(cli["summary"].to_string());
        }
        assert_eq!(
            summaries.len(),
            4,
            "each window gives a different trend sentence, so the page really followed the window: {summaries:#?}"
        );
        assert_no_console_errors(app).await
    })
    .await
}

/// The team table as the page shows it: per team, the raw figures (`data-value`).
const TEAM_TABLE_JS: &str = r#"
return [...document.querySelectorAll('#team-table tbody tr[data-team]')].map((tr) => {
  const raw = (col) => tr.querySelector(`[data-col="${col}"]`)?.getAttribute('data-value') ?? null;
  return {
    team: tr.getAttribute('data-team'),
    roster_size: tr.querySelector('[data-col="active"]')?.getAttribute('data-roster') ?? null,
    active_engineers: raw('active'),
    adoption_rate: raw('adoption_rate'),
    lines_per_active_engineer: raw('lines_per_active_engineer'),
    acceptance_rate: raw('acceptance_rate'),
    cost_per_active_engineer_usd: raw('cost_per_active_engineer_usd'),
    active_change: tr.querySelector('[data-change="active"]')?.getAttribute('data-value') ?? null,
  };
});
"#;

/// The CLI's `team_table`, written the way the page writes it.
fn cli_team_table(cli: &Value) -> Value {
    let rows = cli["team_table"]["rows"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let fraction = |v: &Value| v.as_f64().map_or_else(String::new, |v| format!("{v:.6}"));
    Value::Array(
        rows.iter()
            .map(|r| {
                let w = &r["week"];
                json!({
                    "team": r["team"],
                    "roster_size": u64_of(&r["roster_size"]).map(|n| n.to_string()),
                    "active_engineers": u64_of(&w["active_engineers"]).map_or_else(String::new, |n| n.to_string()),
                    "adoption_rate": fraction(&w["adoption_rate"]),
                    "lines_per_active_engineer": fraction(&w["lines_per_active_engineer"]),
                    "acceptance_rate": fraction(&w["acceptance_rate"]),
                    "cost_per_active_engineer_usd": fraction(&w["cost_per_active_engineer_usd"]),
                    "active_change": r["changes"]["active_engineers"]["absolute"]
                        .as_f64()
                        .map(|d| (d.round() as i64).to_string()),
                })
            })
            .collect(),
    )
}

#[tokio::test]
async fn the_team_table_shows_each_teams_figures_of_scoreboard_report() -> Result<()> {
    let Some(app) = App::start().await? else {
        return Ok(());
    };
    app.run(async |app| {
        let files = demo_files();
        app.open(PAGE).await?;
        load_files(app, &files).await?;
        let cli = cli_report(Path::new(env!("CARGO_MANIFEST_DIR")), DEFAULT_WEEKS, &files)?;
        let want = cli_team_table(&cli);
        assert!(
            want.as_array().is_some_and(|a| a.len() >= 2),
            "the demo roster has teams: {want:#}"
        );
        app.eventually(
            "the team table of `scoreboard report`",
            TIMEOUT,
            async |app| {
                let shown = app.execute(TEAM_TABLE_JS, Vec::new()).await?;
                Ok(if shown == want {
                    Ok(())
                } else {
                    Err(format!("page: {shown:#}\ncli: {want:#}"))
                })
            },
        )
        .await?;
        let show_teams = "document.getElementById('teams').scrollIntoView(); \
             return document.documentElement.scrollWidth - window.innerWidth;";
        app.execute(show_teams, Vec::new()).await?;
        app.screenshot("teams-desktop").await?;
        // On a phone the table is a list of cards: nothing scrolls sideways.
        app.set_viewport(390, 844, true).await?;
        let overflow = app
            .eventually("the phone layout", TIMEOUT, async |app| {
                let v = app.execute(show_teams, Vec::new()).await?;
                Ok(if v.as_f64().is_some_and(|px| px <= 0.0) {
                    Ok(v)
                } else {
                    Err(format!("the page is {v} px wider than the phone"))
                })
            })
            .await?;
        app.screenshot("teams-phone").await?;
        assert!(overflow.as_f64().is_some_and(|px| px <= 0.0));
        Ok(())
    })
    .await
}

/// The demo files cut down to one team: its roster lines and its members' usage
/// lines. `scoreboard report` over these is the team's report, computed without the
/// page's team filter.
fn team_files(dir: &Path, team: &str) -> Result<Vec<PathBuf>> {
    let roster = read(&demo_file(DEMO_ROSTER))?;
    let usage = read(&demo_file(DEMO_USAGE))?;
    let cells = |line: &str| -> Result<Vec<String>> {
        // The demo files quote nothing; a quoted cell would need a real CSV reader here.
        if line.contains('"') {
            return Err(failed(format!(
                "the demo files gained quoted cells: {line}"
            )));
        }
        Ok(line.split(',').map(|c| c.trim().to_lowercase()).collect())
    };
    let mut roster_lines = roster.lines();
    let header = roster_lines.next().unwrap_or_default();
    let columns = cells(header)?;
    let position = |name: &str| {
        columns
            .iter()
            .position(|c| c == name)
            .ok_or_else(|| failed(format!("no `{name}` column in {DEMO_ROSTER}: {header}")))
    };
    let (email_at, team_at) = (position("email")?, position("team")?);
    let mut members = BTreeSet::new();
    let mut kept_roster = vec![header.to_owned()];
    for line in roster_lines {
        let c = cells(line)?;
        if c.get(team_at).map(String::as_str) == Some(team.to_lowercase().as_str()) {
            members.extend(c.get(email_at).cloned());
            kept_roster.push(line.to_owned());
        }
    }
    if members.is_empty() {
        return Err(failed(format!("nobody in team {team} in {DEMO_ROSTER}")));
    }
    let mut usage_lines = usage.lines();
    let header = usage_lines.next().unwrap_or_default();
    let email_at = cells(header)?
        .iter()
        .position(|c| c == "email")
        .ok_or_else(|| failed(format!("no `Email` column in {DEMO_USAGE}: {header}")))?;
    let mut kept_usage = vec![header.to_owned()];
    for line in usage_lines {
        if cells(line)?
            .get(email_at)
            .is_some_and(|e| members.contains(e))
        {
            kept_usage.push(line.to_owned());
        }
    }
    // The export covers its first to its last day for every team (metrics.md
    // §2): a team's lines alone must cover the same days, or the CLI would see
    // weeks the page sees covered as not covered. A row of zeros covers a day
    // without being activity.
    let days: Vec<&str> = usage.lines().skip(1).filter_map(|l| l.get(..10)).collect();
    let someone = members.iter().next().cloned().unwrap_or_default();
    let width = cells(header)?.len();
    for day in [days.iter().min(), days.iter().max()].into_iter().flatten() {
        if !kept_usage.iter().skip(1).any(|l| l.starts_with(day)) {
            let mut row = vec![day.to_string(), someone.clone()];
            row.resize(width, "0".to_string());
            kept_usage.push(row.join(","));
        }
    }
    let (roster_path, usage_path) = (dir.join("team-roster.csv"), dir.join("team-usage.csv"));
    write(&roster_path, &(kept_roster.join("\n") + "\n"))?;
    write(&usage_path, &(kept_usage.join("\n") + "\n"))?;
    Ok(vec![usage_path, roster_path])
}

#[tokio::test]
async fn team_filter_shows_that_teams_people_and_figures_only() -> Result<()> {
    let Some(app) = App::start().await? else {
        return Ok(());
    };
    app.run(async |app| {
        let files = demo_files();
        let here = Path::new(env!("CARGO_MANIFEST_DIR"));
        let everyone = cli_report(here, DEFAULT_WEEKS, &files)?;
        let teams: Vec<String> = everyone["teams"]
            .as_array()
            .map(|a| a.iter().filter_map(str_of).map(str::to_owned).collect())
            .unwrap_or_default();
        assert!(
            teams.len() >= 2,
            "the demo roster has several teams: {teams:?}"
        );
        app.open(PAGE).await?;
        load_files(app, &files).await?;
        assert_page_matches(app, "the figures for all teams", &everyone).await?;

        let dir = temp_dir()?;
        for team in [&teams[0], &teams[teams.len() - 1]] {
            app.select("#team-select", team).await?;
            let team_cli = cli_report(here, DEFAULT_WEEKS, &team_files(dir.path(), team)?)?;
            let page = assert_page_matches(
                app,
                &format!("the figures of team {team} (the CLI over that team's lines only)"),
                &team_cli,
            )
            .await?;
            let rows = page["people"].as_array().cloned().unwrap_or_default();
            let others: Vec<&Value> = rows
                .iter()
                .filter(|r| r["cells"]["team"]["text"] != team.as_str())
                .collect();
            assert!(
                others.is_empty(),
                "people of other teams shown for {team}: {others:#?}"
            );
            let all = everyone["people"].as_array().map_or(0, Vec::len);
            assert!(
                !rows.is_empty() && rows.len() < all,
                "team {team}: {} of {all} people shown",
                rows.len()
            );

            // Both filters at once.
            app.select("#window-select", "4").await?;
            let cli = cli_report(here, "4", &team_files(dir.path(), team)?)?;
            assert_page_matches(app, &format!("team {team} over the last 4 weeks"), &cli).await?;
            app.select("#window-select", DEFAULT_WEEKS).await?;
        }

        app.select("#team-select", "").await?;
        assert_page_matches(app, "all teams again", &everyone).await?;
        assert_no_console_errors(app).await
    })
    .await
}

/// Lines 3, 5, 6 and 8 are broken; lines 2, 4 and 7 are good.
const BROKEN_EXPORT: &str = "\
Date,Email,Sessions,Lines accepted,Lines removed,Commits,Pull requests,Accepted edits,Rejected edits,Spend (USD)
2026-11-10,ana.good@example.com,3,120,10,1,0,9,1,2.50
2026-13-45,bad.date@example.com,2,50,5,0,0,4,1,1.00
2026-11-11,ben.good@example.com,5,300,20,2,1,20,2,4.25
2026-11-11,,4,80,8,0,0,6,0,1.10
2026-11-12,ana.good@example.com,many,40,2,0,0,3,1,0.75
2026-11-13,cy.good@example.com,1,10,0,0,0,1,0,0.20
2026-11-13,dan.short@example.com,1,2
";
const BROKEN_NAME: &str = "broken-export.csv";
const BROKEN_LINES: [u64; 4] = [3, 5, 6, 8];

#[tokio::test]
async fn broken_rows_are_named_in_the_import_report_and_the_good_rows_still_count() -> Result<()> {
    let Some(app) = App::start().await? else {
        return Ok(());
    };
    app.run(async |app| {
        let dir = temp_dir()?;
        let path = dir.path().join(BROKEN_NAME);
        write(&path, BROKEN_EXPORT)?;
        let cli = cli_report(dir.path(), DEFAULT_WEEKS, &[PathBuf::from(BROKEN_NAME)])?;
        let problems = cli["problems"].as_array().cloned().unwrap_or_default();
        let lines: Vec<u64> = problems.iter().filter_map(|p| u64_of(&p["line"])).collect();
        assert_eq!(lines, BROKEN_LINES, "the CLI's problems: {problems:#?}");

        app.open(PAGE).await?;
        load_files(app, &[path]).await?;
        let report = format!("#import-report article.file-report[data-file=\"{BROKEN_NAME}\"]");
        app.find(&report).await?;
        let shown = app
            .execute(
                r#"
                const article = document.querySelector(arguments[0]);
                const text = (el) => (el ? el.textContent.replace(/\s+/g, ' ').trim() : null);
                return {
                  name: text(article.querySelector('.file-name')),
                  rows_read: text(article.querySelector('[data-field="rows-read"]')),
                  rows_rejected: text(article.querySelector('[data-field="rows-rejected"]')),
                  day_rows: text(article.querySelector('[data-field="day-rows"]')),
                  problems: [...article.querySelectorAll('.problem-list li[data-line]')].map((li) => ({
                    line: li.getAttribute('data-line'),
                    text: text(li),
                  })),
                  summary: text(document.querySelector('#import-report .import-summary')),
                };
                "#,
                vec![json!(report)],
            )
            .await?;
        assert_eq!(shown["name"], BROKEN_NAME, "the import report names the file");
        assert_eq!(shown["rows_read"], "7", "data rows read: {shown:#}");
        assert_eq!(shown["rows_rejected"], "4", "rows rejected: {shown:#}");
        assert_eq!(
            shown["summary"], "1 file read: 7 rows read, 4 rejected.",
            "the import report's summary"
        );
        let listed = shown["problems"].as_array().cloned().unwrap_or_default();
        assert_eq!(listed.len(), problems.len(), "one entry per broken row: {listed:#?}");
        for (entry, problem) in listed.iter().zip(&problems) {
            let line = u64_of(&problem["line"]).unwrap_or_default();
            let reason = str_of(&problem["message"]).unwrap_or_default();
            assert_eq!(entry["line"], line.to_string(), "{entry}");
            assert_eq!(
                entry["text"],
                format!("Line {line}: {reason}"),
                "line {line} is named with its reason"
            );
        }
        // The reasons are about what is wrong in each line, in the user's words.
        let texts: Vec<&str> = listed.iter().filter_map(|e| str_of(&e["text"])).collect();
        for (line, needle) in [(3, "2026-13-45"), (5, "e-mail"), (6, "many"), (8, "fields")] {
            assert!(
                texts.iter().any(|t| t.starts_with(&format!("Line {line}:")) && t.contains(needle)),
                "line {line}'s reason mentions {needle:?}: {texts:#?}"
            );
        }

        // The good rows are on the dashboard, with the CLI's figures.
        assert_page_matches(app, "the figures of the good rows", &cli).await?;
        let people: BTreeSet<String> = cli["people"]
            .as_array()
            .map(|a| a.iter().filter_map(|p| str_of(&p["person"])).map(str::to_owned).collect())
            .unwrap_or_default();
        let good = ["ana.good@example.com", "ben.good@example.com", "cy.good@example.com"];
        assert_eq!(people, good.map(str::to_owned).into(), "the good rows' people");
        assert_no_console_errors(app).await
    })
    .await
}

/// What the app keeps in IndexedDB (`app/src/storage.rs`): the stored files' names and
/// row count, or `null` when nothing is stored. Never creates the database.
async fn stored(app: &App) -> Result<Value> {
    let meta = app.stored_meta().await?;
    Ok(if meta.is_null() || meta.get("error").is_some() {
        meta
    } else {
        json!({
            "files": meta["files"].as_array().map(|f| f.iter().map(|x| x["file"].clone()).collect::<Vec<_>>()),
            "day_rows": meta["day_rows"],
            "roster": !meta["roster"].is_null(),
        })
    })
}

/// Waits until the background save has put the demo's two files in the
/// browser's storage; what is stored then.
async fn wait_until_demo_stored(app: &App) -> Result<Value> {
    let names = json!([DEMO_USAGE, DEMO_ROSTER]);
    app.eventually("the data to be saved in IndexedDB", TIMEOUT, async |app| {
        let kept = stored(app).await?;
        Ok(
            if kept["files"] == names
                && kept["roster"] == true
                && kept["day_rows"].as_u64() > Some(0)
            {
                Ok(kept)
            } else {
                Err(kept.to_string())
            },
        )
    })
    .await
}

#[tokio::test]
async fn a_reload_restores_the_dashboard_and_clearing_empties_it_for_good() -> Result<()> {
    let Some(app) = App::start().await? else {
        return Ok(());
    };
    app.run(async |app| {
        let files = demo_files();
        app.open(PAGE).await?;
        load_files(app, &files).await?;
        let cli = cli_report(Path::new(env!("CARGO_MANIFEST_DIR")), DEFAULT_WEEKS, &files)?;
        let before = assert_page_matches(app, "the demo figures", &cli).await?;

        wait_until_demo_stored(app).await?;

        app.reload().await?;
        app.wait_for_mark("scoreboard:restored", 0, TIMEOUT).await?;
        let after = app
            .eventually("the same dashboard after the reload", TIMEOUT, async |app| {
                let page = page_state(app).await?;
                Ok(if page == before {
                    Ok(page)
                } else {
                    Err(differences(&page, &cli).join("\n  "))
                })
            })
            .await?;
        assert_eq!(after, before);

        app.click("#clear-data").await?;
        app.click("#clear-data-confirm").await?;
        app.wait_for_js(
            "(document.querySelector('.notice') || {}).textContent?.includes('All data was removed from this browser')",
            TIMEOUT,
        )
        .await?;
        app.wait_for_js("!document.getElementById('dashboard')", TIMEOUT)
            .await?;
        assert_eq!(stored(app).await?, Value::Null, "IndexedDB is empty after clearing");

        app.reload().await?;
        // Mounted, and done reading the (empty) storage.
        app.wait_for_js(
            "document.getElementById('file-input') && !document.querySelector('p.loading')",
            TIMEOUT,
        )
        .await?;
        let empty = app
            .execute(
                "return { dashboard: !!document.getElementById('dashboard'), \
                 summary: !!document.getElementById('summary'), \
                 clear: !!document.getElementById('clear-data'), \
                 demo_offered: !!document.getElementById('demo-button') };",
                Vec::new(),
            )
            .await?;
        assert_eq!(
            empty,
            json!({ "dashboard": false, "summary": false, "clear": false, "demo_offered": true }),
            "after clearing and reloading, the page is empty and offers the demo"
        );
        assert_eq!(app.mark_count("scoreboard:restored").await?, 0, "nothing was restored");
        assert_eq!(stored(app).await?, Value::Null, "IndexedDB stays empty");
        assert_no_console_errors(app).await
    })
    .await
}

/// Request paths a page served by `scoreboard serve` may fetch: itself, its built
/// assets, and the server's read API (GET only, checked separately).
fn allowed_path(path: &str) -> bool {
    const ASSETS: [&str; 10] = [
        ".js",
        ".wasm",
        ".css",
        ".ico",
        ".png",
        ".svg",
        ".webmanifest",
        ".json",
        ".woff2",
        ".html",
    ];
    path == "/" || path.starts_with("/api/") || ASSETS.iter().any(|ext| path.ends_with(ext))
}

#[tokio::test]
async fn no_request_made_by_the_page_carries_file_content() -> Result<()> {
    let Some(app) = App::builder().network_log().start().await? else {
        return Ok(());
    };
    app.run(async |app| {
        // A file whose content is easy to spot anywhere it might leak.
        let marker = "leak-marker-5f1c9e@example.com";
        let dir = temp_dir()?;
        let marked = dir.path().join("marked-export.csv");
        write(
            &marked,
            &format!(
                "Date,Email,Sessions,Lines accepted,Accepted edits,Rejected edits,Spend (USD)\n\
                 2026-11-10,{marker},7,987654,3,1,1.23\n"
            ),
        )?;
        let mut files = demo_files();
        files.push(marked);
        app.open(PAGE).await?;
        load_files(app, &files).await?;
        app.find(&format!("#people-table tr[data-person=\"{marker}\"]"))
            .await?;
        // Past the background save too: everything an import sets off has happened.
        app.eventually("the data to be saved in IndexedDB", TIMEOUT, async |app| {
            let kept = stored(app).await?;
            Ok(if kept["files"].as_array().is_some_and(|f| f.len() == 3) {
                Ok(())
            } else {
                Err(kept.to_string())
            })
        })
        .await?;

        let origin = app.base_url().to_owned();
        let leaks = |url: &str| url.contains(marker) || url.contains(&marker.replace('@', "%40"));

        // Every request the browser sent for the page (and every WebSocket opened),
        // from its own network events. The browser's new-tab page at start-up is
        // not the app's.
        let mut requests = app.network_requests().await?;
        requests.retain(|r| !r.document.starts_with("chrome://"));
        assert!(
            requests.iter().any(|r| r.url.ends_with(".wasm")),
            "the network log saw the page load its WebAssembly, so it is recording: {requests:#?}"
        );
        for request in &requests {
            let path = request
                .url
                .strip_prefix(&origin)
                .filter(|rest| rest.starts_with('/'));
            assert!(
                path.is_some(),
                "a request left the server's origin {origin}: {request}"
            );
            let path = path.unwrap_or_default();
            let path = path.split(['?', '#']).next().unwrap_or_default();
            assert_eq!(request.method, "GET", "only GETs: {request}");
            assert!(!request.has_body, "no request has a body: {request}");
            assert!(allowed_path(path), "only the page, its assets and the read API: {request}");
            assert!(!leaks(&request.url), "file content in a URL: {request}");
        }

        // The same from the page's side: the Performance API's resource timings.
        let entries = app
            .execute(
                "return performance.getEntriesByType('resource').concat(performance.getEntriesByType('navigation'))\
                 .map((e) => ({ name: e.name, type: e.initiatorType || e.entryType }));",
                Vec::new(),
            )
            .await?;
        let entries = entries.as_array().cloned().unwrap_or_default();
        assert!(!entries.is_empty(), "the Performance API lists the page's requests");
        for entry in &entries {
            let url = str_of(&entry["name"]).unwrap_or_default();
            assert!(
                url.starts_with(&format!("{origin}/")),
                "a resource from another origin: {entry}"
            );
            let path = url[origin.len()..].split(['?', '#']).next().unwrap_or_default();
            assert!(allowed_path(path), "only the page, its assets and the read API: {entry}");
            assert!(!leaks(url), "file content in a URL: {entry}");
        }
        assert_no_console_errors(app).await
    })
    .await
}

/// A large usage export: 600 people over the 326 days up to `AS_OF`, each
/// active on about 7 days in 10 (about 137,000 rows, 7 MB), so the page
/// streams it through its engine worker instead of reading it at once.
fn large_export() -> String {
    usage_export(600)
}

/// A usage export of `people` over the 326 days up to `AS_OF`, each active
/// on about 7 days in 10 (about 230 rows and 12 KB a person).
fn usage_export(people: u64) -> String {
    let first = chrono::NaiveDate::from_ymd_opt(2026, 1, 1).unwrap_or_default();
    let mut csv = String::from(
        "Date,Email,Sessions,Lines accepted,Accepted edits,Rejected edits,Spend (USD)\n",
    );
    for d in 0..326u64 {
        let day = first + chrono::Days::new(d);
        for p in 0..people {
            let n = p * 31 + d * 17;
            if n % 10 >= 7 {
                continue;
            }
            csv.push_str(&format!(
                "{day},engineer{p}@example.com,{},{},{},{},{}.{:02}\n",
                1 + n % 9,
                n % 400,
                n % 23,
                n % 5,
                n % 7,
                n % 100
            ));
        }
    }
    csv
}

/// Every long task of the page's main thread from now on (the browser's
/// `longtask` entries: a task over 50 ms), in `window.__longtasks`.
const WATCH_LONG_TASKS_JS: &str = r#"
window.__longtasks = [];
new PerformanceObserver((l) => {
  for (const e of l.getEntries()) window.__longtasks.push({ start: e.startTime, duration: e.duration });
}).observe({ type: 'longtask' });
return true;
"#;

/// The long tasks that overlapped the reading of the last batch (from
/// `scoreboard:import-start` to `scoreboard:parsed`), and the count of all of them.
const LONG_TASKS_WHILE_READING_JS: &str = r#"
const last = (name) => {
  const all = performance.getEntriesByName(name);
  return all.length ? all[all.length - 1].startTime : null;
};
const start = last('scoreboard:import-start');
const end = last('scoreboard:parsed');
const tasks = window.__longtasks || [];
return {
  reading: tasks.filter((t) => t.start < end && t.start + t.duration > start),
  all: tasks,
  engine: performance.getEntriesByName('scoreboard:engine-ready').length,
  marks: (window.__scoreboard_marks || []).map((m) => `${m.name}@${Math.round(m.t)}`),
};
"#;

#[tokio::test]
async fn a_large_export_read_by_the_engine_worker_shows_the_cli_figures_and_never_freezes_the_page_while_read(
) -> Result<()> {
    let Some(app) = App::start().await? else {
        return Ok(());
    };
    app.run(async |app| {
        let dir = temp_dir()?;
        let name = "large_usage.csv";
        let path = dir.path().join(name);
        write(&path, &large_export())?;
        let cli = cli_report(dir.path(), DEFAULT_WEEKS, &[PathBuf::from(name)])?;
        assert!(
            cli["kpis"]["week"]["active_engineers"].as_u64().is_some_and(|n| n > 100),
            "not a vacuous comparison: {}",
            cli["kpis"]["week"]
        );

        app.open(PAGE).await?;
        app.execute(WATCH_LONG_TASKS_JS, Vec::new()).await?;
        load_files(app, &[path]).await?;
        app
            .eventually("the figures of `scoreboard report`", TIMEOUT, async |app| {
                let page = page_state(app).await?;
                let mut d = Diff::default();
                d.check("summary sentence", &page["summary"], str_of(&cli["summary"]).unwrap_or_default());
                kpi_differences(&mut d, &page["kpis"], &cli);
                Ok(if d.0.is_empty() { Ok(page) } else { Err(d.0.join("\n  ")) })
            })
            .await?;

        let tasks = app.execute(LONG_TASKS_WHILE_READING_JS, Vec::new()).await?;
        assert_eq!(
            tasks["engine"], 1,
            "the file was read by the engine worker (mark scoreboard:engine-ready): {tasks:#}"
        );
        // The page's own work while the file is read is a little per chunk of
        // rows (a few ms alone). Tests run side by side on two cores stretch
        // any task, so the bound here is a frozen page, not the 50 ms goal
        // `make bench` measures on a quiet machine.
        let frozen: Vec<&Value> = tasks["reading"]
            .as_array()
            .map(|a| a.iter().filter(|t| t["duration"].as_f64().unwrap_or(0.0) > 200.0).collect())
            .unwrap_or_default();
        assert!(
            frozen.is_empty(),
            "no task over 200 ms on the page while the file was read and its rows received: {tasks:#}"
        );
        // What is still on the page's thread (the report's computation) is
        // measured by `make bench`, not asserted here.
        eprintln!("long tasks after the import (all phases): {}", tasks["all"]);
        assert_no_console_errors(app).await
    })
    .await
}

#[tokio::test]
async fn cancelling_an_import_leaves_the_dashboard_and_the_stored_data_as_they_were() -> Result<()>
{
    let Some(app) = App::start().await? else {
        return Ok(());
    };
    app.run(async |app| {
        let files = demo_files();
        app.open(PAGE).await?;
        load_files(app, &files).await?;
        let cli = cli_report(Path::new(env!("CARGO_MANIFEST_DIR")), DEFAULT_WEEKS, &files)?;
        let before = assert_page_matches(app, "the demo figures", &cli).await?;
        let kept = wait_until_demo_stored(app).await?;

        // Large enough (about 690,000 rows, 35 MB) that reading it takes
        // longer than finding and clicking "Cancel".
        let dir = temp_dir()?;
        let name = "large_usage.csv";
        let path = dir.path().join(name);
        write(&path, &usage_export(3_000))?;
        let ended = app.mark_count("scoreboard:import-end").await?;
        let cancelled = app.mark_count("scoreboard:import-cancelled").await?;
        app.upload("#file-input", &[&path]).await?;
        app.click("#import-cancel").await?;
        app.wait_for_mark("scoreboard:import-cancelled", cancelled, TIMEOUT)
            .await?;
        app.wait_for_js("!document.getElementById('import-progress')", TIMEOUT)
            .await?;
        let notice = app.text(".notice").await?;
        assert!(
            notice.contains(&format!("Import cancelled: nothing from {name} was added.")),
            "the page says the import was cancelled: {notice:?}"
        );
        assert_eq!(
            app.mark_count("scoreboard:import-end").await?,
            ended,
            "nothing of the cancelled file was merged"
        );
        assert_eq!(
            page_state(app).await?,
            before,
            "the dashboard is as before the file"
        );
        assert_eq!(
            stored(app).await?,
            kept,
            "the stored data is as before the file"
        );

        app.reload().await?;
        app.wait_for_mark("scoreboard:restored", 0, TIMEOUT).await?;
        let after = app
            .eventually(
                "the same dashboard after the reload",
                TIMEOUT,
                async |app| {
                    let page = page_state(app).await?;
                    Ok(if page == before {
                        Ok(page)
                    } else {
                        Err(differences(&page, &cli).join("\n  "))
                    })
                },
            )
            .await?;
        assert_eq!(after, before);

        // The engine reads the next file as usual.
        load_files(app, &files[..1]).await?;
        assert_page_matches(app, "the demo figures after reading its usage again", &cli).await?;
        assert_no_console_errors(app).await
    })
    .await
}

/// The people table's rows and its count line, as shown.
const PEOPLE_SHOWN_JS: &str = r#"
const rows = document.querySelectorAll('#people-table tbody tr[data-person]').length;
const count = document.querySelector('.table-count');
return { rows, count: count ? count.textContent : null };
"#;

/// Guards the people table built a few rows a frame (`ROWS_A_FRAME` in
/// app/src/components/people.rs): the first page of a hundred and, after
/// "Show everyone", every person are all drawn in the end, the count line
/// never names more rows than the table holds, and a new report (another
/// window) builds everyone again instead of stopping at the first frame's rows.
#[tokio::test]
async fn the_people_table_draws_every_row_it_counts_after_show_everyone_and_a_window_change(
) -> Result<()> {
    let Some(app) = App::start().await? else {
        return Ok(());
    };
    app.run(async |app| {
        let dir = temp_dir()?;
        let path = dir.path().join("usage_130_people.csv");
        write(&path, &usage_export(130))?;
        app.open(PAGE).await?;
        load_files(app, &[path]).await?;
        app.find("#people-table").await?;
        let drawn = |n: usize| {
            format!(
                "document.querySelectorAll('#people-table tbody tr[data-person]').length === {n}"
            )
        };
        app.wait_for_js(&drawn(100), TIMEOUT).await?;
        let shown = app.execute(PEOPLE_SHOWN_JS, Vec::new()).await?;
        assert_eq!(shown["rows"], 100, "{shown}");
        assert!(
            shown["count"]
                .as_str()
                .is_some_and(|c| c.starts_with("100 of 130 people")),
            "{shown}"
        );

        app.click("#people-more").await?;
        app.wait_for_js(&drawn(130), TIMEOUT).await?;
        let shown = app.execute(PEOPLE_SHOWN_JS, Vec::new()).await?;
        assert!(
            shown["count"]
                .as_str()
                .is_some_and(|c| c.starts_with("130 of 130 people")),
            "{shown}"
        );

        // Another window: a new report, whose rows are all built again.
        let seen = app.mark_count("scoreboard:report-set").await?;
        app.select("#window-select", "52").await?;
        app.wait_for_mark("scoreboard:report-set", seen, TIMEOUT)
            .await?;
        app.wait_for_js(&drawn(130), TIMEOUT).await?;
        assert_no_console_errors(app).await
    })
    .await
}
