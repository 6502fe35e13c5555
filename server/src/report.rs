//! `scoreboard report`: files in, the same figures as the page out, as a
//! readable table or as the engine's JSON (a stable interface for scripts).

use std::fmt::Write as _;
use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::{Cell, CellAlignment, ContentArrangement, Table};
use scoreboard_core::metrics::{self, Figure, Report, ReportOptions, WindowSpec};
use scoreboard_core::parse::{self, FileKind, ImportOptions};
use scoreboard_core::{Roster, RosterEntry, UsageTable};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Table,
    Json,
}

#[derive(Debug, Clone)]
pub struct ReportRequest {
    pub roster: Option<PathBuf>,
    pub as_of: NaiveDate,
    pub weeks: u32,
    pub period: Option<(NaiveDate, NaiveDate)>,
    pub format: Format,
    pub files: Vec<PathBuf>,
}

/// Input that cannot give a report. The message says which file and why.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("cannot read {file}: {reason}")]
    Read { file: String, reason: String },
    #[error("{0}")]
    Import(#[from] parse::ImportError),
    #[error("{file} is a {kind}, not a roster; pass it without --roster")]
    NotARoster { file: String, kind: String },
    #[error("no usage data in {files}{why}")]
    NoUsage { files: String, why: String },
    #[error("cannot write the report: {0}")]
    Write(#[from] std::io::Error),
}

fn display_name(p: &Path) -> String {
    p.display().to_string()
}

fn read(p: &Path) -> Result<Vec<u8>, ReportError> {
    std::fs::read(p).map_err(|e| ReportError::Read {
        file: display_name(p),
        reason: e.to_string(),
    })
}

/// Loads, computes and writes the report.
pub fn run(req: &ReportRequest, out: &mut dyn Write) -> Result<Report, ReportError> {
    let report = build(req)?;
    match req.format {
        Format::Json => {
            serde_json::to_writer_pretty(&mut *out, &report).map_err(std::io::Error::other)?;
            writeln!(out)?;
        }
        Format::Table => out.write_all(render_table(&report).as_bytes())?,
    }
    Ok(report)
}

pub fn build(req: &ReportRequest) -> Result<Report, ReportError> {
    let opts = ImportOptions {
        period: req.period,
        ..ImportOptions::default()
    };
    let mut table = UsageTable::new();
    let mut roster_entries: Vec<RosterEntry> = Vec::new();
    let mut have_roster = false;
    let mut usage_files = 0usize;
    let mut problems = Vec::new();
    let mut warnings = Vec::new();

    if let Some(path) = &req.roster {
        let name = display_name(path);
        let import = parse::roster::parse(&name, &read(path)?, &opts)?;
        if import.kind != FileKind::Roster {
            return Err(ReportError::NotARoster {
                file: name,
                kind: import.kind.label().to_string(),
            });
        }
        have_roster = true;
        roster_entries.extend(import.roster);
        problems.extend(import.problems);
        warnings.extend(import.warnings);
    }
    for path in &req.files {
        let name = display_name(path);
        let import = parse::import(&name, &read(path)?, &opts)?;
        if import.kind == FileKind::Roster {
            have_roster = true;
            roster_entries.extend(import.roster);
        } else {
            usage_files += 1;
            table.insert_days(import.rows);
            table.insert_periods(import.periods);
        }
        problems.extend(import.problems);
        warnings.extend(import.warnings.into_iter().map(|w| format!("{name}: {w}")));
    }
    if table.is_empty() {
        let files: Vec<String> = req.files.iter().map(|p| display_name(p)).collect();
        let why = if usage_files == 0 {
            ": only a roster was given; add a usage export or an API report".to_string()
        } else if !problems.is_empty() {
            format!(": every row was rejected, e.g. {}", problems[0])
        } else if !warnings.is_empty() {
            format!(". {}", warnings.join(" "))
        } else {
            String::new()
        };
        return Err(ReportError::NoUsage {
            files: files.join(", "),
            why,
        });
    }
    let roster = have_roster.then(|| Roster::new(roster_entries));
    if let Some(r) = &roster {
        warnings.extend(r.conflicts().iter().cloned());
    }
    let options = ReportOptions {
        as_of: req.as_of,
        window: WindowSpec::LastWeeks { weeks: req.weeks },
        team: None,
    };
    let mut report = metrics::compute(&table, roster.as_ref(), &options);
    report.problems.extend(problems);
    report.warnings.extend(warnings);
    Ok(report)
}

fn num(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn usd(v: f64, estimated: bool) -> String {
    format!("${v:.2}{}", if estimated { "*" } else { "" })
}

fn opt_pct(v: Option<f64>) -> String {
    v.map(metrics::percent).unwrap_or_else(|| "—".to_string())
}

fn right(s: String) -> Cell {
    Cell::new(s).set_alignment(CellAlignment::Right)
}

fn new_table(headers: &[&str]) -> Table {
    let mut t = Table::new();
    t.load_style(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_header(headers.to_vec());
    t
}

pub fn render_table(r: &Report) -> String {
    let mut s = String::new();
    let w = &r.window;
    let _ = writeln!(
        s,
        "Claude Code adoption, {} to {} (UTC, ISO weeks){}",
        w.from,
        w.to,
        w.reference_week
            .map(|d| format!("; reference week {}", scoreboard_core::week::iso_label(d)))
            .unwrap_or_default()
    );
    let _ = writeln!(s, "{}\n", r.summary);

    let mut weeks = new_table(&[
        "Week",
        "",
        "Active engineers",
        "Adoption",
        "Sessions",
        "Lines accepted",
        "Acceptance",
        "Cost",
        "Cost / active engineer",
    ]);
    let mut reasons: Vec<String> = Vec::new();
    let mut note = |figure: Figure, wf: &metrics::WeekFigures| {
        if let Some(why) = metrics::why_undefined(figure, wf) {
            let line = format!("{}: {why}", metrics::definition(figure).label);
            if !reasons.contains(&line) {
                reasons.push(line);
            }
        }
    };
    for wf in &r.weeks {
        note(Figure::AdoptionRate, wf);
        note(Figure::AcceptanceRate, wf);
        note(Figure::CostPerActiveEngineer, wf);
        weeks.add_row(vec![
            Cell::new(&wf.label),
            Cell::new(if wf.complete { "" } else { "partial" }),
            right(num(wf.active_engineers)),
            right(opt_pct(wf.adoption_rate)),
            right(num(wf.sessions)),
            right(num(wf.lines_accepted)),
            right(opt_pct(wf.acceptance_rate)),
            right(usd(wf.cost_usd, wf.cost_is_estimated)),
            right(
                wf.cost_per_active_engineer_usd
                    .map(|v| usd(v, wf.cost_is_estimated))
                    .unwrap_or_else(|| "—".into()),
            ),
        ]);
    }
    let _ = writeln!(s, "{weeks}");
    for line in &reasons {
        let _ = writeln!(s, "  — {line}");
    }
    if r.weeks.iter().any(|w| w.cost_is_estimated) {
        let _ = writeln!(s, "  * cost partly estimated from tokens × the price table");
    }
    let _ = writeln!(
        s,
        "  Cost is an estimate at API list prices, also on seat plans.\n"
    );

    if !r.people.is_empty() {
        let mut people = new_table(&[
            "Person",
            "Name",
            "Team",
            "Tier",
            "First active",
            "Last active",
            "Active weeks",
            "Sessions",
            "Lines accepted",
            "Acceptance",
            "Cost",
        ]);
        for p in &r.people {
            people.add_row(vec![
                Cell::new(p.person.as_str()),
                Cell::new(p.name.clone().unwrap_or_default()),
                Cell::new(p.team.clone().unwrap_or_default()),
                Cell::new(p.tier.label()),
                Cell::new(
                    p.first_active
                        .map(|d| d.to_string())
                        .unwrap_or_else(|| "—".into()),
                ),
                Cell::new(
                    p.last_active
                        .map(|d| d.to_string())
                        .unwrap_or_else(|| "—".into()),
                ),
                right(p.active_weeks.to_string()),
                right(num(p.sessions)),
                right(num(p.lines_accepted)),
                right(opt_pct(p.acceptance_rate)),
                right(usd(p.cost_usd, p.cost_is_estimated)),
            ]);
        }
        let _ = writeln!(s, "{people}\n");
    }
    let list = |keys: &[scoreboard_core::PersonKey]| {
        keys.iter()
            .map(|k| k.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    match r.roster_size {
        None => {
            let _ = writeln!(
                s,
                "Not started: add a roster (--roster FILE) to see who has not started."
            );
        }
        Some(_) if r.non_starters.is_empty() => {
            let _ = writeln!(
                s,
                "Not started: nobody; everyone on the roster has used Claude Code."
            );
        }
        Some(_) => {
            let _ = writeln!(
                s,
                "Not started ({}): {}",
                r.non_starters.len(),
                list(&r.non_starters)
            );
        }
    }
    if !r.not_on_roster.is_empty() {
        let _ = writeln!(
            s,
            "Not on the roster ({}): {}",
            r.not_on_roster.len(),
            list(&r.not_on_roster)
        );
    }
    if !r.problems.is_empty() {
        let _ = writeln!(s, "\nRows that could not be read ({}):", r.problems.len());
        for p in &r.problems {
            let _ = writeln!(s, "  {p}");
        }
    }
    if !r.warnings.is_empty() {
        let _ = writeln!(s, "\nWarnings:");
        for w in &r.warnings {
            let _ = writeln!(s, "  {w}");
        }
    }
    s
}

/// `START..END` (both inclusive; one day is `START..START`).
pub fn parse_period(text: &str) -> Result<(NaiveDate, NaiveDate), String> {
    let (a, b) = text
        .split_once("..")
        .ok_or_else(|| format!("{text:?} is not START..END, e.g. 2026-11-01..2026-11-30"))?;
    let day = |s: &str| {
        NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
            .map_err(|_| format!("{s:?} is not a date written YYYY-MM-DD"))
    };
    let (start, end) = (day(a)?, day(b)?);
    if start > end {
        return Err(format!("the period {start}..{end} ends before it starts"));
    }
    Ok((start, end))
}

pub fn parse_date(text: &str) -> Result<NaiveDate, String> {
    NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
        .map_err(|_| format!("{text:?} is not a date written YYYY-MM-DD"))
}
