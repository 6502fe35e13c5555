//! The claude.ai / Console CSV exports: awkward files, row problems with
//! exact line numbers, period files, spend reports, cost rules.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests state their expectations by unwrapping

use chrono::NaiveDate;
use scoreboard_core::parse::{self, Field, FileKind, Import, ImportError, ImportOptions};
use scoreboard_core::{DayRow, PersonKey, Source};

fn data(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn day(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

fn import(name: &str) -> Import {
    parse::import(name, &data(name), &ImportOptions::default()).unwrap()
}

fn with_period(start: &str, end: &str) -> ImportOptions {
    ImportOptions {
        period: Some((day(start), day(end))),
        ..ImportOptions::default()
    }
}

fn row<'a>(imp: &'a Import, d: &str, person: &str) -> &'a DayRow {
    imp.rows
        .iter()
        .find(|r| r.day == day(d) && r.person.as_str() == person)
        .unwrap_or_else(|| panic!("no row {d} {person} in {:#?}", imp.rows))
}

#[test]
fn bom_semicolons_thousands_and_dollars_are_read() {
    let imp = import("daily_semicolon_bom.csv");
    assert_eq!(imp.kind, FileKind::UsageCsv);
    assert_eq!(imp.problems, vec![]);
    assert_eq!((imp.rows_read, imp.rows_rejected), (4, 0));
    assert_eq!(imp.rows.len(), 3);
    assert!(imp.rows.iter().all(|r| r.source == Source::Csv));
    // Two rows of ana on 2026-11-03 (a date and a timestamp) are summed; the e-mail is lower-cased.
    let ana = row(&imp, "2026-11-03", "ana@example.com");
    assert_eq!(ana.measures.sessions, 4);
    assert_eq!(ana.measures.lines_added, 1_240); // "1 234" + 6
    assert_eq!(ana.measures.cost_micros, 13_500_000); // $12.50 + $1.00
    assert!(!ana.measures.cost_is_estimated);
    let bo = row(&imp, "2026-11-03", "bo@example.com");
    assert_eq!(
        (
            bo.measures.sessions,
            bo.measures.lines_added,
            bo.measures.cost_micros
        ),
        (2, 40, 750_000)
    );
    let ana4 = row(&imp, "2026-11-04", "ana@example.com");
    assert_eq!(
        (ana4.measures.lines_added, ana4.measures.cost_micros),
        (2_000, 1_234_560_000)
    );
    // Sorted by day, then person.
    let order: Vec<(NaiveDate, &str)> = imp
        .rows
        .iter()
        .map(|r| (r.day, r.person.as_str()))
        .collect();
    assert_eq!(
        order,
        vec![
            (day("2026-11-03"), "ana@example.com"),
            (day("2026-11-03"), "bo@example.com"),
            (day("2026-11-04"), "ana@example.com")
        ]
    );
    assert_eq!(imp.ignored_columns, vec!["Favourite colour".to_string()]);
    assert!(
        imp.warnings
            .iter()
            .map(ToString::to_string)
            .any(|w| w.contains("Favourite colour")),
        "{:?}",
        imp.warnings
    );
    let fields: Vec<Option<Field>> = imp.columns.iter().map(|c| c.field).collect();
    assert_eq!(
        fields,
        vec![
            Some(Field::Email),
            Some(Field::Day),
            Some(Field::Sessions),
            Some(Field::LinesAdded),
            Some(Field::CostUsd),
            None
        ]
    );
}

#[test]
fn tab_file_timestamp_day_is_its_utc_date() {
    let imp = import("daily_tab.tsv");
    assert_eq!(imp.problems, vec![]);
    // 2026-11-03T23:30:00-05:00 is 2026-11-04 04:30 UTC.
    let d4 = row(&imp, "2026-11-04", "dev@example.com");
    assert_eq!((d4.measures.sessions, d4.measures.lines_added), (3, 30));
    let d3 = row(&imp, "2026-11-03", "dev@example.com");
    assert_eq!((d3.measures.sessions, d3.measures.lines_added), (5, 50));
}

#[test]
fn garbage_rows_are_problems_with_exact_line_numbers_and_good_rows_are_kept() {
    let imp = import("garbage_rows.csv");
    let lines: Vec<Option<u64>> = imp.problems.iter().map(|p| p.line).collect();
    assert_eq!(
        lines,
        vec![Some(5), Some(6), Some(8), Some(9), Some(13)],
        "{:#?}",
        imp.problems
    );
    let msg = |line: u64| {
        imp.problems
            .iter()
            .find(|p| p.line == Some(line))
            .unwrap()
            .message
            .clone()
    };
    assert!(
        msg(5).contains("e-mail") && msg(5).contains("empty"),
        "{}",
        msg(5)
    );
    assert!(
        msg(6).contains("03/11/2026") && msg(6).contains("`Date`"),
        "{}",
        msg(6)
    );
    assert!(
        msg(8).contains("many") && msg(8).contains("`Sessions`"),
        "{}",
        msg(8)
    );
    assert!(
        msg(9).contains("3 fields") && msg(9).contains("has 5"),
        "{}",
        msg(9)
    );
    assert!(
        msg(13).contains("-2") && msg(13).contains("negative"),
        "{}",
        msg(13)
    );
    assert!(imp.problems.iter().all(|p| p.file == "garbage_rows.csv"));
    assert_eq!((imp.rows_read, imp.rows_rejected), (9, 5));
    let people: Vec<&str> = imp.rows.iter().map(|r| r.person.as_str()).collect();
    assert_eq!(
        people,
        vec![
            "ana@example.com",
            "bo@example.com",
            "fay@example.com",
            "hal@example.com"
        ]
    );
    assert_eq!(
        row(&imp, "2026-11-03", "bo@example.com")
            .measures
            .lines_added,
        80
    );
    assert_eq!(
        row(&imp, "2026-11-04", "hal@example.com")
            .measures
            .lines_added,
        1_500
    );
    assert_eq!(imp.ignored_columns, vec!["Notes".to_string()]);
    // Display gives file:line: message.
    assert!(imp.problems[0]
        .to_string()
        .starts_with("garbage_rows.csv:5: "));
}

#[test]
fn period_file_without_period_asks_for_one() {
    let err = parse::import(
        "period_totals.csv",
        &data("period_totals.csv"),
        &ImportOptions::default(),
    )
    .unwrap_err();
    match &err {
        ImportError::NeedsPeriod { file, columns } => {
            assert_eq!(file, "period_totals.csv");
            let fields: Vec<Option<Field>> = columns.iter().map(|c| c.field).collect();
            assert_eq!(
                fields,
                vec![
                    Some(Field::Email),
                    Some(Field::LinesAdded),
                    Some(Field::PullRequests),
                    None
                ]
            );
        }
        other => panic!("{other:?}"),
    }
    let text = err.to_string();
    assert!(
        text.contains("period_totals.csv") && text.contains("--period"),
        "{text}"
    );
}

#[test]
fn period_file_with_period_gives_period_rows() {
    let imp = parse::import(
        "period_totals.csv",
        &data("period_totals.csv"),
        &with_period("2026-11-01", "2026-11-30"),
    )
    .unwrap();
    assert!(imp.rows.is_empty());
    let got: Vec<(&str, u64, u64)> = imp
        .periods
        .iter()
        .map(|p| {
            (
                p.person.as_str(),
                p.measures.lines_added,
                p.measures.pull_requests,
            )
        })
        .collect();
    // A non-e-mail member is an API key name.
    assert_eq!(
        got,
        vec![
            ("ana@example.com", 1_200, 3),
            ("api-key:ci-bot", 50, 1),
            ("bo@example.com", 0, 0)
        ]
    );
    assert!(imp
        .periods
        .iter()
        .all(|p| p.start == day("2026-11-01") && p.end == day("2026-11-30")));
    assert_eq!(imp.ignored_columns, vec!["last_active".to_string()]);
    assert!(
        imp.warnings
            .iter()
            .map(ToString::to_string)
            .any(|w| w.contains("last_active") && w.contains("not a day")),
        "{:?}",
        imp.warnings
    );
    assert!(
        imp.warnings
            .iter()
            .map(ToString::to_string)
            .any(|w| w.contains("api-key:ci-bot")),
        "{:?}",
        imp.warnings
    );
}

#[test]
fn period_columns_in_the_file_give_each_row_its_period() {
    let csv = "Email,Start date,End date,Sessions\nana@example.com,2026-11-02,2026-11-08,4\nana@example.com,2026-11-09,2026-11-15,1\nbo@example.com,2026-11-09,2026-11-02,1\n";
    let imp = parse::import("weekly.csv", csv.as_bytes(), &ImportOptions::default()).unwrap();
    let got: Vec<(NaiveDate, NaiveDate, u64)> = imp
        .periods
        .iter()
        .map(|p| (p.start, p.end, p.measures.sessions))
        .collect();
    assert_eq!(
        got,
        vec![
            (day("2026-11-02"), day("2026-11-08"), 4),
            (day("2026-11-09"), day("2026-11-15"), 1)
        ]
    );
    assert_eq!(imp.problems.len(), 1);
    assert_eq!(imp.problems[0].line, Some(4));
    assert!(imp.problems[0].message.contains("ends before it starts"));
}

#[test]
fn spend_report_rows_per_person_and_model_are_summed_keeping_the_model_split() {
    let imp = parse::import(
        "spend_report.csv",
        &data("spend_report.csv"),
        &with_period("2026-11-01", "2026-11-30"),
    )
    .unwrap();
    assert_eq!(imp.problems, vec![]);
    assert_eq!(imp.periods.len(), 2);
    let ana = &imp.periods[0];
    assert_eq!(ana.person.as_str(), "ana@example.com");
    assert_eq!(
        (ana.measures.input_tokens, ana.measures.output_tokens),
        (150_000, 25_000)
    );
    assert_eq!(ana.measures.cost_micros, 1_550_000); // net spend $1.25 + $0.30, not gross
    assert!(!ana.measures.cost_is_estimated);
    let models: Vec<(&str, u64, u64, i64)> = ana
        .models
        .iter()
        .map(|m| {
            (
                m.model.as_str(),
                m.input_tokens,
                m.output_tokens,
                m.cost_micros,
            )
        })
        .collect();
    assert_eq!(
        models,
        vec![
            ("claude-opus-4-8", 100_000, 20_000, 1_250_000),
            ("claude-sonnet-4-5-20250929", 50_000, 5_000, 300_000)
        ]
    );
    let bo = &imp.periods[1];
    assert_eq!(
        (
            bo.person.as_str(),
            bo.measures.input_tokens,
            bo.measures.cost_micros
        ),
        ("bo@example.com", 1_000, 2_000)
    );
    // Product filter: Chat and Cowork rows are skipped and counted in a warning, not problems.
    assert!(
        imp.warnings
            .iter()
            .map(ToString::to_string)
            .any(|w| w.contains("skipped 2 rows")
                && w.contains("Chat: 1")
                && w.contains("Cowork: 1")),
        "{:?}",
        imp.warnings
    );
    assert_eq!(imp.rows_read, 5);
    assert_eq!(imp.rows_rejected, 0);
    assert_eq!(
        imp.ignored_columns,
        vec![
            "model_family".to_string(),
            "total_requests".to_string(),
            "total_gross_spend_usd".to_string()
        ]
    );
    assert!(
        imp.warnings
            .iter()
            .map(ToString::to_string)
            .any(|w| w.contains("using `total_net_spend_usd`")),
        "{:?}",
        imp.warnings
    );
}

#[test]
fn daily_spend_rows_for_the_same_person_and_day_are_summed() {
    let imp = import("spend_daily.csv");
    assert_eq!(imp.rows.len(), 2);
    let d3 = row(&imp, "2026-11-03", "ana@example.com");
    assert_eq!(
        (
            d3.measures.input_tokens,
            d3.measures.output_tokens,
            d3.measures.cost_micros
        ),
        (6_000, 600, 2_250_000)
    );
    let models: Vec<(&str, u64, i64)> = d3
        .models
        .iter()
        .map(|m| (m.model.as_str(), m.input_tokens, m.cost_micros))
        .collect();
    assert_eq!(
        models,
        vec![
            ("claude-opus-4-8", 4_000, 2_000_000),
            ("claude-sonnet-4-5", 2_000, 250_000)
        ]
    );
    // `claude_code` is Claude Code too.
    assert_eq!(
        row(&imp, "2026-11-04", "ana@example.com")
            .measures
            .cost_micros,
        10_000
    );
    assert!(
        imp.warnings
            .iter()
            .map(ToString::to_string)
            .any(|w| w.contains("skipped 1 row ") && w.contains("Chat: 1")),
        "{:?}",
        imp.warnings
    );
}

#[test]
fn tokens_and_model_without_cost_are_estimated_and_marked() {
    let imp = import("tokens_no_cost.csv");
    let ana = row(&imp, "2026-11-03", "ana@example.com");
    // Opus 4.8: 52000×$5 + 9000×$25 + 410000×$0.50 + 30000×$6.25 per million = $0.8775.
    // Sonnet 4.5: 1,000,000×$3 + 100,000×$15 per million = $4.50.
    assert_eq!(ana.measures.cost_micros, 877_500 + 4_500_000);
    assert!(ana.measures.cost_is_estimated);
    let models: Vec<(&str, i64, bool)> = ana
        .models
        .iter()
        .map(|m| (m.model.as_str(), m.cost_micros, m.cost_is_estimated))
        .collect();
    assert_eq!(
        models,
        vec![
            ("claude-opus-4-8[1m]", 877_500, true),
            ("claude-sonnet-4-5-20250929", 4_500_000, true)
        ]
    );
    // Unknown model: no guess, no cost, reported.
    let bo = row(&imp, "2026-11-03", "bo@example.com");
    assert_eq!(
        (bo.measures.cost_micros, bo.measures.cost_is_estimated),
        (0, false)
    );
    assert!(
        imp.warnings
            .iter()
            .map(ToString::to_string)
            .any(|w| w.contains("`gpt-5`") && w.contains("left out")),
        "{:?}",
        imp.warnings
    );
    let cy = row(&imp, "2026-11-03", "cy@example.com");
    assert_eq!(
        (cy.measures.input_tokens, cy.measures.cost_micros),
        (1_000, 0)
    );
    assert!(
        imp.warnings
            .iter()
            .map(ToString::to_string)
            .any(|w| w.contains("neither a cost nor a model")),
        "{:?}",
        imp.warnings
    );
    assert!(
        imp.warnings
            .iter()
            .map(ToString::to_string)
            .any(|w| w.contains("2 rows is estimated")),
        "{:?}",
        imp.warnings
    );
}

#[test]
fn cost_is_never_estimated_when_the_file_gives_one() {
    let imp = import("tokens_some_cost.csv");
    let ana = row(&imp, "2026-11-03", "ana@example.com");
    assert_eq!(
        (ana.measures.cost_micros, ana.measures.cost_is_estimated),
        (500_000, false)
    );
    assert_eq!(
        (ana.models[0].cost_micros, ana.models[0].cost_is_estimated),
        (500_000, false)
    );
    // A given zero is a cost too.
    let cy = row(&imp, "2026-11-03", "cy@example.com");
    assert_eq!(
        (cy.measures.cost_micros, cy.measures.cost_is_estimated),
        (0, false)
    );
    // Only the empty cell is filled from the table: 1,000,000 × $1 per million.
    let bo = row(&imp, "2026-11-03", "bo@example.com");
    assert_eq!(
        (bo.measures.cost_micros, bo.measures.cost_is_estimated),
        (1_000_000, true)
    );
}

#[test]
fn a_rate_without_counts_is_not_turned_into_counts() {
    let imp = import("accept_rate_only.csv");
    assert_eq!(imp.problems, vec![]);
    for r in &imp.rows {
        assert_eq!(
            (r.measures.edits_accepted, r.measures.edits_rejected),
            (0, 0)
        );
    }
    assert_eq!(
        row(&imp, "2026-11-03", "ana@example.com").measures.sessions,
        2
    );
    assert!(
        imp.warnings
            .iter()
            .map(ToString::to_string)
            .any(|w| w.contains("Suggestion accept rate") && w.contains("rate, not counts")),
        "{:?}",
        imp.warnings
    );
}

#[test]
fn edit_counts_are_used_when_the_file_gives_both() {
    let imp = import("edit_counts.csv");
    let ana = row(&imp, "2026-11-03", "ana@example.com");
    assert_eq!(
        (ana.measures.edits_accepted, ana.measures.edits_rejected),
        (50, 5)
    );
    assert!(
        !imp.warnings
            .iter()
            .map(ToString::to_string)
            .any(|w| w.contains("rate, not counts")),
        "{:?}",
        imp.warnings
    );
}

#[test]
fn accepted_edits_without_rejected_are_not_counted() {
    let imp = import("accepted_only.csv");
    let ana = row(&imp, "2026-11-03", "ana@example.com");
    assert_eq!((ana.measures.edits_accepted, ana.measures.sessions), (0, 2));
    assert_eq!(
        imp.ignored_columns,
        vec!["Suggestions accepted".to_string()]
    );
    assert!(
        imp.warnings
            .iter()
            .map(ToString::to_string)
            .any(|w| w.contains("needs both counts")),
        "{:?}",
        imp.warnings
    );
}

#[test]
fn missing_identity_column_names_the_file_and_the_columns_seen() {
    let err = parse::import(
        "missing_identity.csv",
        &data("missing_identity.csv"),
        &ImportOptions::default(),
    )
    .unwrap_err();
    assert_eq!(
        err,
        ImportError::MissingIdentityColumn {
            file: "missing_identity.csv".into(),
            seen: vec![
                "Name".into(),
                "Date".into(),
                "Sessions".into(),
                "Lines accepted".into()
            ],
        }
    );
    let text = err.to_string();
    assert!(
        text.contains("missing_identity.csv")
            && text.contains("`Lines accepted`")
            && text.contains("Email"),
        "{text}"
    );
}

#[test]
fn column_overrides_map_and_ignore_columns() {
    let csv = "Contributor,Sessions,Lines,Date\nana@example.com,3,10,2026-11-03\n";
    let err = parse::import("x.csv", csv.as_bytes(), &ImportOptions::default()).unwrap_err();
    assert!(
        matches!(err, ImportError::MissingIdentityColumn { .. }),
        "{err:?}"
    );
    let mut opts = ImportOptions::default();
    opts.column_overrides
        .insert("contributor".into(), Some(Field::Email));
    opts.column_overrides.insert("Sessions".into(), None);
    let imp = parse::import("x.csv", csv.as_bytes(), &opts).unwrap();
    let r = row(&imp, "2026-11-03", "ana@example.com");
    assert_eq!((r.measures.sessions, r.measures.lines_added), (0, 10));
    assert_eq!(imp.ignored_columns, vec!["Sessions".to_string()]);
}

#[test]
fn quoted_delimiters_and_blank_lines_keep_line_numbers_right() {
    let csv = "\n\nEmail,Date,Sessions,Note\n\n\"ana@example.com\",2026-11-03,\"1,234\",\"a, b\nc\"\n\nbo@example.com,2026-11-03,x,\n";
    let imp = parse::import("q.csv", csv.as_bytes(), &ImportOptions::default()).unwrap();
    assert_eq!(
        row(&imp, "2026-11-03", "ana@example.com").measures.sessions,
        1_234
    );
    assert_eq!(imp.problems.len(), 1);
    assert_eq!(imp.problems[0].line, Some(8));
}

#[test]
fn excel_sep_line_and_crlf_are_understood() {
    let csv = "sep=;\r\nEmail;Date;Sessions\r\nana@example.com;2026-11-03;2\r\nbo@example.com;2026-11-03;bad\r\n";
    let imp = parse::import("x.csv", csv.as_bytes(), &ImportOptions::default()).unwrap();
    assert_eq!(
        row(&imp, "2026-11-03", "ana@example.com").measures.sessions,
        2
    );
    assert_eq!(imp.problems[0].line, Some(4));
}

#[test]
fn utf16_spreadsheet_text_is_decoded() {
    let text = "Email\tDate\tSessions\r\nana@example.com\t2026-11-03\t7\r\n";
    let mut bytes = vec![0xFF, 0xFE];
    for unit in text.encode_utf16() {
        bytes.extend_from_slice(&unit.to_le_bytes());
    }
    let imp = parse::import("u16.txt", &bytes, &ImportOptions::default()).unwrap();
    assert_eq!(
        row(&imp, "2026-11-03", "ana@example.com").measures.sessions,
        7
    );
}

#[test]
fn typed_keys_in_the_user_column_are_kept_and_empty_email_falls_back_to_account() {
    let csv = "User,account_uuid,Date,Sessions\naccount:user_01X,,2026-11-03,1\n,uuid-9,2026-11-03,2\nDEV@example.com,uuid-1,2026-11-03,3\n\"Dev Name <dev@example.com>\",,2026-11-03,4\n";
    let imp = parse::import("x.csv", csv.as_bytes(), &ImportOptions::default()).unwrap();
    let people: Vec<&str> = imp.rows.iter().map(|r| r.person.as_str()).collect();
    assert_eq!(
        people,
        vec!["account:user_01X", "account:uuid-9", "dev@example.com"]
    );
    assert!(imp
        .rows
        .iter()
        .all(|r| r.person != PersonKey::api_key("account:user_01X")));
    // "Dev Name <dev@example.com>" is the same person as DEV@example.com.
    assert_eq!(imp.rows[2].measures.sessions, 7);
    // Typed keys are not reported as unmatched API key names.
    assert!(
        !imp.warnings
            .iter()
            .map(ToString::to_string)
            .any(|w| w.contains("API key names")),
        "{:?}",
        imp.warnings
    );
}

#[test]
fn header_only_and_empty_files_are_clear_errors() {
    for (name, bytes) in [
        ("only_header.csv", data("only_header.csv")),
        ("empty.csv", Vec::new()),
        ("blank.csv", b"\n \n\t\n".to_vec()),
        ("bom.csv", b"\xef\xbb\xbf".to_vec()),
    ] {
        let err = parse::import(name, &bytes, &ImportOptions::default()).unwrap_err();
        assert_eq!(err, ImportError::Empty { file: name.into() });
        assert!(err.to_string().contains(name));
    }
}

#[test]
fn a_period_that_ends_before_it_starts_is_refused() {
    let err = parse::import(
        "p.csv",
        &data("period_totals.csv"),
        &with_period("2026-11-30", "2026-11-01"),
    )
    .unwrap_err();
    assert!(matches!(err, ImportError::InvalidPeriod { .. }), "{err:?}");
}

#[test]
fn usage_csv_parse_reads_bytes_directly() {
    let imp = parse::usage_csv::parse(
        "daily_tab.tsv",
        &data("daily_tab.tsv"),
        &ImportOptions::default(),
    )
    .unwrap();
    assert_eq!(imp.rows.len(), 2);
}

#[test]
fn import_serialises_to_json() {
    let imp = import("daily_semicolon_bom.csv");
    let json = serde_json::to_value(&imp).unwrap();
    assert_eq!(json["kind"], "usage-csv");
    assert_eq!(json["columns"][0]["field"], "email");
    assert_eq!(json["rows"][0]["cost_micros"], 13_500_000);
}

#[test]
fn crlf_file_with_blank_lines_reports_physical_lines() {
    // csv's own Position::line is early after blank lines and stuck on CRLF; the lines here are physical.
    let csv = "Email,Date,Sessions\r\n\r\nana@example.com,2026-11-03,1\r\n\r\n\r\nbo@example.com,2026-11-03,oops\r\ncy@example.com,2026-11-03,\"two\r\n\"\r\ndee@example.com,bad,1\r\n";
    let imp = parse::import("crlf.csv", csv.as_bytes(), &ImportOptions::default()).unwrap();
    let lines: Vec<Option<u64>> = imp.problems.iter().map(|p| p.line).collect();
    assert_eq!(
        lines,
        vec![Some(6), Some(7), Some(9)],
        "{:#?}",
        imp.problems
    );
    assert_eq!(imp.rows.len(), 1);
}

/// Issue 10: a column the importer does not know that holds numbers in most
/// rows is reported (name, samples, share of numbers) so the page can ask
/// how to map it; it is still ignored and warned about as before. A text
/// column and a mostly-empty one are not reported.
#[test]
fn an_unrecognised_column_of_numbers_is_reported_as_a_likely_measure() {
    let text = "Date;E-mail;Conversations;Lines accepted;Notes;Rarely\n\
                2026-11-16;ann@x.com;4;120;fine;\n\
                2026-11-17;ann@x.com;2;80;ok;3\n\
                2026-11-17;bob@x.com;1 200;10;n/a;\n\
                2026-11-18;bob@x.com;n/a;0;;\n";
    let imp = parse::import("thin.csv", text.as_bytes(), &ImportOptions::default()).unwrap();
    assert_eq!(imp.likely_measures.len(), 1, "{:?}", imp.likely_measures);
    let m = &imp.likely_measures[0];
    assert_eq!(m.header, "Conversations");
    assert_eq!(m.samples, vec!["4", "2", "1 200"]);
    assert!((m.numeric_share - 0.75).abs() < 1e-9, "3 of 4 rows");
    assert!(imp.ignored_columns.contains(&"Conversations".to_string()));
    assert!(imp
        .warnings
        .iter()
        .map(ToString::to_string)
        .any(|w| w.contains("`Conversations`") && w.contains("does not recognise")));

    // The column dialog's preview says the same about its first rows.
    let preview = parse::csv_preview(text.as_bytes(), 6).unwrap();
    assert_eq!(preview.likely_measures, imp.likely_measures);

    // Mapped by hand, it is no longer unknown.
    let opts = ImportOptions {
        column_overrides: [("Conversations".to_string(), Some(Field::Sessions))].into(),
        ..ImportOptions::default()
    };
    let mapped = parse::import("thin.csv", text.as_bytes(), &opts);
    assert!(mapped.is_ok_and(|i| i.likely_measures.is_empty()));
}

/// metrics.md §1 and §2: an import says which measures its file carried and
/// which days it covers (first to last day).
#[test]
fn an_import_says_which_measures_it_carried_and_which_days_it_covers() {
    let text = "date,email,lines accepted\n2026-11-17,ann@x.com,10\n2026-11-19,bob@x.com,0\n";
    let imp = parse::import("thin.csv", text.as_bytes(), &ImportOptions::default()).unwrap();
    assert_eq!(imp.measures.names(), vec!["lines_added"]);
    assert!(imp.rows.iter().all(|r| r.present == imp.measures));
    assert_eq!(
        imp.coverage,
        vec![scoreboard_core::DayRange::new(
            day("2026-11-17"),
            day("2026-11-19")
        )]
    );
    // Tokens and a model without a cost column: the cost is estimated, so carried.
    let text = "date,email,model,input tokens,output tokens\n2026-11-17,ann@x.com,claude-sonnet-4-5,1000,100\n";
    let imp = parse::import("tokens.csv", text.as_bytes(), &ImportOptions::default()).unwrap();
    assert!(imp.measures.contains(scoreboard_core::MeasureSet::COST));
    assert!(imp.rows[0].measures.cost_is_estimated);
}
