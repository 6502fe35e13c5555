//! `scoreboard report`: files in, the same figures as the page out, as a
//! readable table or as the engine's JSON (a stable interface for scripts).

use std::fmt::Write as _;
use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::{Cell, CellAlignment, ContentArrangement, Table};
use scoreboard_core::metrics::{
    self, Change, Direction, Figure, Meaning, Report, ReportOptions, Unit, WeekCoverage, WindowSpec,
};
use scoreboard_core::parse::{self, FileKind, ImportOptions};
use scoreboard_core::week;
use scoreboard_core::{Roster, RosterEntry, UsageTable};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Table,
    Json,
    /// GitHub-flavoured Markdown, for a wiki page or a chat.
    Markdown,
    /// The weekly table as CSV (one row per ISO week).
    Csv,
}

#[derive(Debug, Clone)]
pub struct ReportRequest {
    pub roster: Option<PathBuf>,
    pub as_of: NaiveDate,
    pub window: WindowSpec,
    /// Only people of this roster team.
    pub team: Option<String>,
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
        Format::Markdown => out.write_all(render_markdown(&report).as_bytes())?,
        Format::Csv => out.write_all(scoreboard_core::share::weeks_csv(&report).as_bytes())?,
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
        warnings.extend(import.warnings.iter().map(ToString::to_string));
    }
    for path in &req.files {
        let name = display_name(path);
        // The rows go straight into a table of the file's own, then into the report's.
        let (mut import, rows) = parse::import_table(&name, &read(path)?, &opts)?;
        if import.kind == FileKind::Roster {
            have_roster = true;
            roster_entries.extend(import.roster);
        } else {
            usage_files += 1;
            problems.extend(std::mem::take(&mut import.problems));
            warnings.extend(
                std::mem::take(&mut import.warnings)
                    .into_iter()
                    .map(|w| format!("{name}: {w}")),
            );
            // Rows and the days the file covers (metrics.md §2).
            table.merge(rows);
            continue;
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
    let options = ReportOptions {
        as_of: req.as_of,
        window: req.window,
        team: req.team.clone(),
    };
    Ok(compute(
        &table,
        roster.as_ref(),
        &options,
        problems,
        warnings,
    ))
}

/// The report of `table` and `roster` with the inputs' problems and
/// warnings: one function for `scoreboard report` and the server's
/// `/api/report` and `/metrics`, so they answer the same JSON for the same data.
pub fn compute(
    table: &UsageTable,
    roster: Option<&Roster>,
    options: &ReportOptions,
    problems: Vec<scoreboard_core::Problem>,
    mut warnings: Vec<String>,
) -> Report {
    if let Some(r) = roster {
        warnings.extend(r.conflicts().iter().cloned());
    }
    let mut report = metrics::compute(table, roster, options);
    report.problems.extend(problems);
    report.warnings.extend(warnings);
    report
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

const DASH: &str = "—";

fn usd(v: f64, estimated: bool) -> String {
    format!("${v:.2}{}", if estimated { "*" } else { "" })
}

fn opt_pct(v: Option<f64>) -> String {
    v.map(metrics::percent).unwrap_or_else(|| DASH.to_string())
}

fn opt_dec(v: Option<f64>) -> String {
    v.map(|v| format!("{v:.1}"))
        .unwrap_or_else(|| DASH.to_string())
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

/// A value in the unit of its figure.
fn value(figure: Figure, v: f64, estimated: bool) -> String {
    match figure.unit() {
        Unit::Count => num(v.round() as u64),
        Unit::Rate => metrics::percent(v),
        Unit::PerEngineer => format!("{v:.1}"),
        Unit::Usd => usd(v, estimated),
    }
}

/// "▲ +3 (+27 %) good", "▼ −1.5 pts bad", "= no change", in the unit of the figure.
fn change(figure: Figure, c: &Change) -> String {
    let arrow = match c.direction {
        Direction::Up => "▲",
        Direction::Down => "▼",
        Direction::Same => "=",
    };
    let sign = if c.absolute < 0.0 { "−" } else { "+" };
    let abs = c.absolute.abs();
    let absolute = match figure.unit() {
        Unit::Count => format!("{sign}{}", num(abs.round() as u64)),
        Unit::Rate => format!("{sign}{:.1} pts", abs * 100.0),
        Unit::PerEngineer => format!("{sign}{abs:.1}"),
        Unit::Usd => format!("{sign}${abs:.2}"),
    };
    let relative = c
        .relative
        .map(|r| {
            let sign = if r < 0.0 { "−" } else { "+" };
            format!(" ({sign}{:.0} %)", r.abs() * 100.0)
        })
        .unwrap_or_default();
    let meaning = match c.meaning {
        Meaning::Good => " good",
        Meaning::Bad => " bad",
        Meaning::Neutral => "",
    };
    if c.direction == Direction::Same {
        format!("{arrow} no change")
    } else {
        format!("{arrow} {absolute}{relative}{meaning}")
    }
}

/// The window in one line: its days, its weeks and the reference week.
fn window_line(r: &Report) -> String {
    let w = &r.window;
    format!(
        "Claude Code adoption, {} to {} (UTC, ISO weeks: {} complete{}){}",
        w.from,
        w.to,
        w.complete_weeks,
        if w.current_week.is_some() {
            " + the current week, partial"
        } else {
            ""
        },
        w.reference_week
            .map(|d| format!(
                "; reference week {} ({})",
                week::iso_label(d),
                metrics::short_day(d)
            ))
            .unwrap_or_default()
    )
}

pub fn render_table(r: &Report) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "{}", window_line(r));
    if let Some(st) = &r.staleness {
        let _ = writeln!(s, "{} — {}.", st.headline, st.suggestion);
    }
    let _ = writeln!(s, "{}\n", r.summary);
    render_cards(&mut s, r);
    render_weeks(&mut s, r);
    render_teams(&mut s, r);
    render_people(&mut s, r);
    render_lists_and_notes(&mut s, r);
    s
}

/// The reference week's cards as text: a heading and (label, value, change) rows.
struct CardLines {
    heading: String,
    rows: Vec<(&'static str, String, String)>,
}

fn card_lines(r: &Report) -> Option<CardLines> {
    let k = r.kpis.as_ref()?;
    let cards = k.cards.as_ref()?;
    let estimated = k
        .week
        .figures
        .as_ref()
        .is_some_and(|f| f.totals.cost_is_estimated);
    let compared = match (cards.compared_with, &cards.why_no_comparison) {
        (Some(p), _) => format!("changes from the week of {}", metrics::short_day(p)),
        (None, Some(why)) => format!("no changes: {why}"),
        (None, None) => "no changes".to_string(),
    };
    let labels: [&'static str; 9] = [
        "Weekly active engineers",
        "  adoption",
        "Sessions",
        "  per active engineer",
        "Lines accepted",
        "  per active engineer",
        "Tool acceptance rate",
        "Cost per active engineer",
        "Not started yet",
    ];
    let rows = labels
        .into_iter()
        .zip(cards.all())
        .map(|(label, c)| {
            let shown = match (c.value, &c.why_undefined) {
                (Some(v), _) => value(c.figure, v, estimated),
                (None, Some(why)) => format!("{DASH} ({why})"),
                (None, None) => DASH.to_string(),
            };
            let delta = c
                .change
                .as_ref()
                .map(|ch| change(c.figure, ch))
                .unwrap_or_default();
            (label, shown, delta)
        })
        .collect();
    Some(CardLines {
        heading: format!("Week of {} ({compared})", metrics::short_day(cards.week)),
        rows,
    })
}

/// The six cards of the reference week with their changes.
fn render_cards(s: &mut String, r: &Report) {
    let Some(lines) = card_lines(r) else {
        return;
    };
    let _ = writeln!(s, "{}:", lines.heading);
    let mut t = new_table(&["Figure", "Value", "Change from the week before"]);
    for (label, shown, delta) in lines.rows {
        t.add_row(vec![Cell::new(label), right(shown), Cell::new(delta)]);
    }
    let _ = writeln!(s, "{t}\n");
}

/// The figure cells of one week; a week no source covers shows none.
fn week_cells(f: Option<&metrics::Figures>) -> Vec<String> {
    let Some(f) = f else {
        return (0..9).map(|_| DASH.to_string()).collect();
    };
    let t = &f.totals;
    vec![
        num(f.active_engineers),
        opt_pct(f.adoption_rate),
        num(t.sessions),
        opt_dec(f.sessions_per_active_engineer),
        num(t.lines_accepted),
        opt_dec(f.lines_per_active_engineer),
        opt_pct(t.acceptance_rate),
        usd(t.cost_usd, t.cost_is_estimated),
        f.cost_per_active_engineer_usd
            .map(|v| usd(v, t.cost_is_estimated))
            .unwrap_or_else(|| DASH.into()),
    ]
}

const WEEK_HEADERS: [&str; 11] = [
    "Week",
    "",
    "Active engineers",
    "Adoption",
    "Sessions",
    "Sessions / engineer",
    "Lines accepted",
    "Lines / engineer",
    "Acceptance",
    "Cost",
    "Cost / active engineer",
];

/// The weekly series as text rows (label, state, figures), and the reasons
/// for the undefined figures shown, each once.
fn week_rows(r: &Report) -> (Vec<Vec<String>>, Vec<String>) {
    let mut rows = Vec::new();
    let mut reasons: Vec<String> = Vec::new();
    for wf in &r.weeks {
        let f = wf.figures.as_ref();
        let figures: &[Figure] = if f.is_some() {
            &[
                Figure::AdoptionRate,
                Figure::AcceptanceRate,
                Figure::CostPerActiveEngineer,
            ]
        } else {
            &[Figure::ActiveEngineers]
        };
        for figure in figures {
            if let Some(why) = metrics::why_undefined(*figure, f) {
                let line = format!("{}: {why}", metrics::definition(*figure).label);
                if !reasons.contains(&line) {
                    reasons.push(line);
                }
            }
        }
        let state = match (&wf.coverage, wf.complete) {
            (WeekCoverage::Uncovered, _) => "no data".to_string(),
            (WeekCoverage::Partial { days, .. }, true) => format!("partial: {days} of 7 days"),
            (_, false) => "partial: in progress".to_string(),
            (WeekCoverage::Full, true) => String::new(),
        };
        let mut row = vec![wf.label.clone(), state];
        row.extend(week_cells(f));
        rows.push(row);
    }
    (rows, reasons)
}

const ESTIMATED_NOTE: &str = "* cost partly estimated from tokens × the price table";
const LIST_PRICES_NOTE: &str = "Cost is an estimate at API list prices, also on seat plans.";

fn any_cost_estimated(r: &Report) -> bool {
    r.weeks.iter().any(|w| {
        w.figures
            .as_ref()
            .is_some_and(|f| f.totals.cost_is_estimated)
    })
}

/// The weekly series, partial and uncovered weeks marked.
fn render_weeks(s: &mut String, r: &Report) {
    let mut weeks = new_table(&WEEK_HEADERS);
    let (rows, reasons) = week_rows(r);
    for row in rows {
        let mut cells = vec![Cell::new(&row[0]), Cell::new(&row[1])];
        cells.extend(row.into_iter().skip(2).map(right));
        weeks.add_row(cells);
    }
    let _ = writeln!(s, "{weeks}");
    for line in &reasons {
        let _ = writeln!(s, "  {DASH} {line}");
    }
    if any_cost_estimated(r) {
        let _ = writeln!(s, "  {ESTIMATED_NOTE}");
    }
    let _ = writeln!(s, "  {LIST_PRICES_NOTE}\n");
}

/// Teams side by side for the reference week.
fn render_teams(s: &mut String, r: &Report) {
    let tt = &r.team_table;
    let Some(week) = tt.week.filter(|_| !tt.rows.is_empty()) else {
        return;
    };
    let _ = writeln!(s, "Teams, week of {}:", metrics::short_day(week));
    let mut t = new_table(&[
        "Team",
        "Active / roster",
        "Adoption",
        "Lines / engineer",
        "Acceptance",
        "Cost / engineer",
        "Active engineers: change",
    ]);
    for row in &tt.rows {
        let w = row.week.as_ref();
        t.add_row(vec![
            Cell::new(&row.team),
            right(format!(
                "{} / {}",
                w.map_or_else(|| DASH.to_string(), |w| num(w.active_engineers)),
                num(row.roster_size)
            )),
            right(opt_pct(w.and_then(|w| w.adoption_rate))),
            right(opt_dec(w.and_then(|w| w.lines_per_active_engineer))),
            right(opt_pct(w.and_then(|w| w.acceptance_rate))),
            right(
                w.and_then(|w| w.cost_per_active_engineer_usd)
                    .map_or_else(|| DASH.to_string(), |v| usd(v, false)),
            ),
            Cell::new(
                row.changes
                    .active_engineers
                    .as_ref()
                    .map(|c| change(Figure::ActiveEngineers, c))
                    .unwrap_or_default(),
            ),
        ]);
    }
    let _ = writeln!(s, "{t}");
    match tt.not_on_roster_active {
        0 => {}
        1 => {
            let _ = writeln!(s, "  1 active person is not on the roster and in no team.");
        }
        n => {
            let _ = writeln!(
                s,
                "  {n} active people are not on the roster and in no team."
            );
        }
    }
    let _ = writeln!(s);
}

fn render_people(s: &mut String, r: &Report) {
    if r.people.is_empty() {
        return;
    }
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
    let day = |d: Option<NaiveDate>| d.map_or_else(|| DASH.to_string(), |d| d.to_string());
    for p in &r.people {
        let t = &p.totals;
        people.add_row(vec![
            Cell::new(p.person.as_str()),
            Cell::new(p.name.clone().unwrap_or_default()),
            Cell::new(p.team.clone().unwrap_or_default()),
            Cell::new(p.tier.label()),
            Cell::new(day(p.first_active)),
            Cell::new(day(p.last_active)),
            right(format!(
                "{} of {}{}",
                p.active_weeks,
                r.window.complete_weeks,
                if p.active_this_week {
                    " + this week"
                } else {
                    ""
                }
            )),
            right(num(t.sessions)),
            right(num(t.lines_accepted)),
            right(opt_pct(t.acceptance_rate)),
            right(usd(t.cost_usd, t.cost_is_estimated)),
        ]);
    }
    let _ = writeln!(s, "{people}\n");
}

fn render_lists_and_notes(s: &mut String, r: &Report) {
    let list = |keys: &[scoreboard_core::PersonKey]| {
        keys.iter()
            .map(|k| k.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let by = r
        .window
        .tier_week
        .map(|w| format!(" by the end of the week of {}", metrics::short_day(w)))
        .unwrap_or_default();
    match r.roster_size {
        None => {
            let _ = writeln!(
                s,
                "Not started yet: add a roster (--roster FILE) to see who has not started."
            );
        }
        Some(_) if r.non_starters.is_empty() => {
            let _ = writeln!(
                s,
                "Not started yet: nobody; everyone on the roster had used Claude Code{by}."
            );
        }
        Some(_) => {
            let _ = writeln!(
                s,
                "Not started yet{by} ({}): {}",
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
}

/// A table cell of GitHub-flavoured Markdown: `|` would end the cell,
/// a line break the row.
fn md_cell(text: &str) -> String {
    text.trim()
        .replace('\\', "\\\\")
        .replace('|', "\\|")
        .replace(['\n', '\r'], " ")
}

/// One Markdown table; `align_right` marks the columns of figures.
fn md_table(s: &mut String, headers: &[&str], align_right: &[bool], rows: &[Vec<String>]) {
    let row = |cells: Vec<String>| format!("| {} |", cells.join(" | "));
    let _ = writeln!(s, "{}", row(headers.iter().map(|h| md_cell(h)).collect()));
    let _ = writeln!(
        s,
        "{}",
        row(align_right
            .iter()
            .map(|r| if *r { "---:" } else { "---" }.to_string())
            .collect())
    );
    for r in rows {
        let _ = writeln!(s, "{}", row(r.iter().map(|c| md_cell(c)).collect()));
    }
    let _ = writeln!(s);
}

/// The days each source covers, e.g. "csv: 2026-10-05 to 2026-11-29".
fn coverage_line(r: &Report) -> Option<String> {
    let parts: Vec<String> = r
        .coverage
        .iter()
        .filter(|c| !c.ranges.is_empty())
        .map(|c| {
            let ranges: Vec<String> = c
                .ranges
                .iter()
                .map(|d| {
                    if d.from == d.to {
                        d.from.to_string()
                    } else {
                        format!("{} to {}", d.from, d.to)
                    }
                })
                .collect();
            format!("{} {}", c.source.as_str(), ranges.join(", "))
        })
        .collect();
    (!parts.is_empty()).then(|| parts.join("; "))
}

/// A list of people for Markdown: their keys as code, so that an e-mail
/// is not turned into a mail link and `_` is not read as emphasis.
fn md_people(keys: &[scoreboard_core::PersonKey]) -> String {
    keys.iter()
        .map(|k| format!("`{}`", k.as_str().replace('`', "'")))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The report in GitHub-flavoured Markdown: the sentence, what the data
/// covers, the reference week's cards, the weekly table, power users and
/// who has not started. Every figure is the report's, formatted as in the table.
pub fn render_markdown(r: &Report) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "## {}\n", window_line(r));
    let _ = writeln!(s, "{}\n", r.summary);
    let covers = coverage_line(r).map(|c| format!("Data covers: {c}."));
    let stale = r
        .staleness
        .as_ref()
        .map(|st| format!("**{}** — {}.", st.headline, st.suggestion));
    let coverage: Vec<String> = covers.into_iter().chain(stale).collect();
    if !coverage.is_empty() {
        let _ = writeln!(s, "{}\n", coverage.join(" "));
    }
    if let Some(lines) = card_lines(r) {
        let _ = writeln!(s, "### {}\n", lines.heading);
        let rows: Vec<Vec<String>> = lines
            .rows
            .into_iter()
            .map(|(label, shown, delta)| {
                let label = match label.strip_prefix("  ") {
                    Some(sub) => format!("↳ {sub}"),
                    None => label.to_string(),
                };
                vec![label, shown, delta]
            })
            .collect();
        md_table(
            &mut s,
            &["Figure", "Value", "Change from the week before"],
            &[false, true, false],
            &rows,
        );
    }
    let _ = writeln!(s, "### Weekly\n");
    let (rows, reasons) = week_rows(r);
    let mut align = vec![false, false];
    align.extend([true; 9]);
    let mut headers = WEEK_HEADERS;
    headers[1] = "Coverage";
    md_table(&mut s, &headers, &align, &rows);
    for line in &reasons {
        let _ = writeln!(s, "- {DASH} {line}");
    }
    if any_cost_estimated(r) {
        let _ = writeln!(s, "- \\{ESTIMATED_NOTE}");
    }
    let _ = writeln!(s, "- {LIST_PRICES_NOTE}\n");
    let by = r
        .window
        .tier_week
        .map(|w| format!(", week of {}", metrics::short_day(w)))
        .unwrap_or_default();
    let _ = writeln!(s, "### Power users ({}{by})\n", r.power_users.len());
    if r.power_users.is_empty() {
        let _ = writeln!(s, "Nobody is a power user yet.\n");
    } else {
        let _ = writeln!(s, "{}\n", md_people(&r.power_users));
    }
    match r.roster_size {
        None => {
            let _ = writeln!(
                s,
                "### Not started yet\n\nAdd a roster (`--roster FILE`) to see who has not started."
            );
        }
        Some(_) => {
            let _ = writeln!(s, "### Not started yet ({}{by})\n", r.non_starters.len());
            if r.non_starters.is_empty() {
                let _ = writeln!(s, "Nobody: everyone on the roster has used Claude Code.");
            } else {
                let _ = writeln!(s, "{}", md_people(&r.non_starters));
            }
        }
    }
    if !r.problems.is_empty() || !r.warnings.is_empty() {
        let _ = writeln!(s, "\n### Notes\n");
        if !r.problems.is_empty() {
            let _ = writeln!(s, "- {} rows could not be read.", r.problems.len());
        }
        for w in &r.warnings {
            let _ = writeln!(s, "- {}", md_cell(w));
        }
    }
    s
}

/// `START..END` (both inclusive; one day is `START..START`).
pub fn parse_period(text: &str) -> Result<(NaiveDate, NaiveDate), String> {
    let (a, b) = text
        .split_once("..")
        .ok_or_else(|| format!("{text:?} is not START..END, e.g. 2026-11-01..2026-11-30"))?;
    let (start, end) = (parse_date(a)?, parse_date(b)?);
    if start > end {
        return Err(format!("the period {start}..{end} ends before it starts"));
    }
    Ok((start, end))
}

/// A UTC day as core reads one (`YYYY-MM-DD`, or an ISO timestamp's day).
pub fn parse_date(text: &str) -> Result<NaiveDate, String> {
    parse::parse_day(text).map_err(|why| format!("{text:?} {why}"))
}

/// A person list for a chat line: at most `max` names, then "and N more".
fn md_people_capped(keys: &[scoreboard_core::PersonKey], max: usize) -> String {
    let mut s = md_people(&keys[..keys.len().min(max)]);
    if keys.len() > max {
        let _ = write!(s, " and {} more", keys.len() - max);
    }
    s
}

/// People named per list in the digest (a chat message stays short).
pub const DIGEST_NAMES: usize = 20;

/// The weekly digest as a chat message in Markdown (Slack, Mattermost and
/// Teams workflows render it): no tables, one line per card, every figure
/// the report's, formatted as in `render_markdown`; `link` is the dashboard.
pub fn render_digest(r: &Report, d: &metrics::Digest, link: Option<&str>) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "**Claude Code adoption, week of {} ({})**\n",
        metrics::short_day(d.week),
        week::iso_label(d.week)
    );
    let _ = writeln!(s, "{}\n", d.summary);
    if let Some(st) = &d.staleness {
        let _ = writeln!(s, "**{}** — {}.\n", st.headline, st.suggestion);
    }
    if let Some(lines) = card_lines(r) {
        let _ = writeln!(s, "{}:\n", lines.heading);
        for (label, shown, delta) in lines.rows {
            let label = match label.strip_prefix("  ") {
                Some(sub) => format!("    - {sub}"),
                None => format!("- {label}"),
            };
            let delta = if delta.is_empty() {
                String::new()
            } else {
                format!(" ({delta})")
            };
            let _ = writeln!(s, "{label}: **{}**{delta}", md_cell(&shown));
        }
        s.push('\n');
    }
    let _ = writeln!(
        s,
        "**Power users to celebrate ({}):** {}\n",
        d.power_users.len(),
        if d.power_users.is_empty() {
            "nobody yet.".to_string()
        } else {
            md_people_capped(&d.power_users, DIGEST_NAMES)
        }
    );
    let _ = writeln!(
        s,
        "**New starters ({}):** {}\n",
        d.new_starters.len(),
        if d.new_starters.is_empty() {
            "nobody started this week.".to_string()
        } else {
            md_people_capped(&d.new_starters, DIGEST_NAMES)
        }
    );
    if !d.teams_moved.is_empty() {
        let _ = writeln!(s, "**Teams that moved most:**\n");
        for t in &d.teams_moved {
            let mut parts = vec![format!(
                "{} of {} active",
                num(t.active_engineers),
                num(t.roster_size)
            )];
            if let Some(c) = &t.active_engineers_change {
                parts.push(format!(
                    "active engineers {}",
                    change(Figure::ActiveEngineers, c)
                ));
            }
            if let Some(c) = &t.adoption_rate_change {
                parts.push(format!("adoption {}", change(Figure::AdoptionRate, c)));
            }
            let _ = writeln!(s, "- {}: {}", md_cell(&t.team), parts.join(", "));
        }
        s.push('\n');
    }
    if let Some(list) = &d.non_starters {
        let _ = writeln!(
            s,
            "**Not started yet ({}):** {}\n",
            list.len(),
            if list.is_empty() {
                "nobody: everyone on the roster has used Claude Code.".to_string()
            } else {
                md_people_capped(list, DIGEST_NAMES)
            }
        );
    }
    if let Some(url) = link {
        let _ = writeln!(s, "[Open the dashboard]({url})");
    }
    s
}
