//! What a file is, clear errors for what it is not, the CSV preview, and a
//! property test that no input makes `import` panic.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests state their expectations by unwrapping

use proptest::prelude::*;
use scoreboard_core::parse::{
    self, csv_preview, detect_kind, Field, FileKind, ImportError, ImportOptions,
};

fn data(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn every_sample_file_is_detected_as_its_kind() {
    let cases = [
        ("daily_semicolon_bom.csv", FileKind::UsageCsv),
        ("daily_tab.tsv", FileKind::UsageCsv),
        ("garbage_rows.csv", FileKind::UsageCsv),
        ("period_totals.csv", FileKind::UsageCsv),
        ("spend_report.csv", FileKind::UsageCsv),
        ("accept_rate_only.csv", FileKind::UsageCsv),
        ("only_header.csv", FileKind::UsageCsv),
        ("roster_aliases.csv", FileKind::Roster),
        ("roster_plain.txt", FileKind::Roster),
        ("admin_page.json", FileKind::AdminApiJson),
        ("admin_array.json", FileKind::AdminApiJson),
        ("admin_pages.json", FileKind::AdminApiJson),
        ("admin_empty.json", FileKind::AdminApiJson),
        ("enterprise_users.json", FileKind::EnterpriseApiJson),
    ];
    for (name, kind) in cases {
        assert_eq!(detect_kind(name, &data(name)), Ok(kind), "{name}");
    }
    assert_eq!(
        FileKind::AdminApiJson.to_string(),
        "Admin API Claude Code report (JSON)"
    );
}

fn reason(err: ImportError) -> String {
    match err {
        ImportError::UnknownFormat { reason, .. } => reason,
        other => panic!("expected UnknownFormat, got {other:?}"),
    }
}

#[test]
fn files_that_are_not_usage_data_get_a_reason_naming_what_was_seen() {
    let r = reason(detect_kind("no_header.csv", &data("no_header.csv")).unwrap_err());
    assert!(r.contains("looks like data") && r.contains("header"), "{r}");
    let r = reason(detect_kind("x.csv", b"Foo,Bar\n1,2\n").unwrap_err());
    assert!(r.contains("`Foo`") && r.contains("`Bar`"), "{r}");
    let r = reason(detect_kind("x.csv", b"Email,Date\na@example.com,2026-11-03\n").unwrap_err());
    assert!(
        r.contains("`Date`") && r.contains("no usage measure"),
        "{r}"
    );
    let err = detect_kind("x.json", br#"{"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key"},"request_id":"req_1"}"#)
        .unwrap_err();
    assert!(err.to_string().contains("x.json"));
    let r = reason(err);
    assert!(
        r.contains("authentication_error") && r.contains("invalid x-api-key"),
        "{r}"
    );
    let r = reason(detect_kind("x.json", br#"{"foo":1,"bar":[]}"#).unwrap_err());
    assert!(r.contains("`foo`"), "{r}");
    let r = reason(detect_kind("x.json", b"[1,2,3]").unwrap_err());
    assert!(r.contains("array"), "{r}");
    let r = reason(detect_kind("x.xlsx", b"PK\x03\x04\x14\x00\x06\x00").unwrap_err());
    assert!(r.contains("xlsx"), "{r}");
    let r = reason(detect_kind("x.bin", b"\x00\x01\x02garbage").unwrap_err());
    assert!(r.contains("binary"), "{r}");
}

#[test]
fn broken_json_and_non_utf8_text_are_clear_errors() {
    let err = detect_kind("cut.json", br#"{"data": [ {"date": "2026-09-01""#).unwrap_err();
    assert!(
        matches!(&err, ImportError::InvalidJson { file, line: 1, .. } if file == "cut.json"),
        "{err:?}"
    );
    let err = parse::import(
        "latin1.csv",
        b"Email,Date,Sessions\na@example.com,2026-11-03,1\nJos\xe9@example.com,2026-11-03,1\n",
        &ImportOptions::default(),
    )
    .unwrap_err();
    assert_eq!(
        err,
        ImportError::NotUtf8 {
            file: "latin1.csv".into(),
            line: 3
        }
    );
    assert!(err.to_string().contains("CSV UTF-8"));
}

#[test]
fn preview_gives_headers_delimiter_rows_and_fields() {
    let p = csv_preview(&data("daily_semicolon_bom.csv"), 2).unwrap();
    assert_eq!(p.delimiter, ';');
    assert_eq!(p.header_line, 1);
    assert_eq!(
        p.headers,
        vec![
            "Email",
            "Date",
            "Sessions",
            "Lines accepted",
            "Spend (USD)",
            "Favourite colour"
        ]
    );
    assert_eq!(p.rows.len(), 2);
    assert_eq!(p.rows[1][5], "red; green");
    assert_eq!(p.columns[4].field, Some(Field::CostUsd));
    assert_eq!(p.columns[5].field, None);
    assert!(matches!(
        csv_preview(b"", 5),
        Err(ImportError::Empty { .. })
    ));
}

#[test]
fn headers_are_normalised_ignoring_case_spaces_and_punctuation() {
    assert_eq!(parse::normalise_header(" Spend (USD) "), "spendusd");
    assert_eq!(
        parse::normalise_header("total_lines-accepted"),
        "totallinesaccepted"
    );
    assert_eq!(parse::normalise_header("\u{feff}E-mail"), "email");
    assert_eq!(
        Field::from_header("Lines of code accepted"),
        Some(Field::LinesAdded)
    );
    assert_eq!(Field::ALL.len(), 23);
    assert_eq!(
        serde_json::to_string(&Field::CacheReadTokens).unwrap(),
        "\"cache_read_tokens\""
    );
}

fn check_no_panic(bytes: &[u8]) {
    let opts = ImportOptions::default();
    let _ = parse::import("fuzz.csv", bytes, &opts);
    let _ = detect_kind("fuzz.csv", bytes);
    let _ = csv_preview(bytes, 3);
    let mut with_period = opts.clone();
    with_period.period = chrono::NaiveDate::from_ymd_opt(2026, 11, 1)
        .zip(chrono::NaiveDate::from_ymd_opt(2026, 11, 30));
    let _ = parse::import("fuzz-2026-11-03.json", bytes, &with_period);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn no_byte_input_makes_import_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        check_no_panic(&bytes);
    }

    #[test]
    fn no_csv_like_input_makes_import_panic(
        header in prop::sample::select(vec![
            "email,date,sessions,lines accepted,cost_usd,model,input_tokens,product\n",
            "Member;Spend (USD);start date;end date;Edits accepted;Edits rejected\n",
            "email,name,team,start_date,aliases\n",
            "User\tDay\tAccept rate\ttotal_prompt_tokens\tModel\n",
        ]),
        body in "[a-z@.,;\t\n\"0-9$%: \\-eE+\\[\\]]{0,300}",
    ) {
        check_no_panic(format!("{header}{body}").as_bytes());
    }

    #[test]
    fn no_json_like_input_makes_import_panic(
        prefix in prop::sample::select(vec![
            "{\"data\":[{\"date\":\"2026-09-01\",\"actor\":{\"type\":\"user_actor\",\"email_address\":",
            "[{\"user\":{\"email_address\":\"a@b.c\"},\"claude_code_metrics\":{\"core_metrics\":",
            "{\"data\":[],\"has_more\":",
            "[{\"data\":[{\"core_metrics\":{\"num_sessions\":",
        ]),
        body in "[a-z0-9\"{}\\[\\]:,.\\-eE ]{0,200}",
    ) {
        check_no_panic(format!("{prefix}{body}").as_bytes());
    }
}
