//! Rosters: a CSV with aliases, and a plain list of e-mails.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests state their expectations by unwrapping

use chrono::NaiveDate;
use scoreboard_core::parse::{self, FileKind, ImportError, ImportOptions};
use scoreboard_core::{PersonKey, Roster};

fn data(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn roster_csv_reads_names_teams_start_dates_and_typed_aliases() {
    let imp = parse::import(
        "roster_aliases.csv",
        &data("roster_aliases.csv"),
        &ImportOptions::default(),
    )
    .unwrap();
    assert_eq!(imp.kind, FileKind::Roster);
    assert!(imp.rows.is_empty() && imp.periods.is_empty());
    let people: Vec<&str> = imp.roster.iter().map(|e| e.person.as_str()).collect();
    assert_eq!(
        people,
        vec!["ana@example.com", "bo@example.com", "cy@example.com"]
    );
    let ana = &imp.roster[0];
    assert_eq!(ana.name.as_deref(), Some("Ana Lima"));
    assert_eq!(ana.team.as_deref(), Some("Platform"));
    assert_eq!(ana.start, NaiveDate::from_ymd_opt(2026, 10, 1));
    assert_eq!(
        ana.aliases,
        vec![
            PersonKey::api_key("ci-bot"),
            PersonKey::email("ana@old.example"),
            PersonKey::account("user_01ANA")
        ]
    );
    let bo = &imp.roster[1];
    assert_eq!(
        (bo.team.as_deref(), bo.start, bo.aliases.len()),
        (Some("Mobile"), None, 0)
    );
    // A bad start date keeps the person, without the date, and is reported.
    assert_eq!(imp.roster[2].start, None);
    let lines: Vec<Option<u64>> = imp.problems.iter().map(|p| p.line).collect();
    assert_eq!(
        lines,
        vec![Some(4), Some(5), Some(6)],
        "{:#?}",
        imp.problems
    );
    assert!(imp.problems[0].message.contains("not-an-email"));
    assert!(
        imp.problems[1].message.contains("01/10/2026") && imp.problems[1].message.contains("kept")
    );
    assert!(imp.problems[2].message.contains("empty"));
    assert_eq!((imp.rows_read, imp.rows_rejected), (5, 2));

    // The aliases resolve onto the person in the engine's roster.
    let roster = Roster::new(imp.roster.clone());
    assert_eq!(
        roster.resolve(&PersonKey::api_key("ci-bot")),
        PersonKey::email("ana@example.com")
    );
}

#[test]
fn plain_list_of_emails_with_comments_and_separators() {
    let imp = parse::import(
        "roster_plain.txt",
        &data("roster_plain.txt"),
        &ImportOptions::default(),
    )
    .unwrap();
    assert_eq!(imp.kind, FileKind::Roster);
    let people: Vec<&str> = imp.roster.iter().map(|e| e.person.as_str()).collect();
    assert_eq!(
        people,
        vec![
            "ana@example.com",
            "bo@example.com",
            "cy@example.com",
            "dee@example.com",
            "eve@example.com",
            // "Fay Doe <fay@example.com>, Gus <gus@example.com>": the addresses, not the names.
            "fay@example.com",
            "gus@example.com"
        ]
    );
    assert_eq!(imp.problems.len(), 1);
    assert_eq!(imp.problems[0].line, Some(5));
    assert!(imp.problems[0].message.contains("not an email"));
    assert_eq!((imp.rows_read, imp.rows_rejected), (6, 1));
}

#[test]
fn one_column_email_csv_is_a_roster() {
    let imp = parse::import(
        "r.csv",
        b"Email\nana@example.com\nbo@example.com\nana@example.com\n",
        &ImportOptions::default(),
    )
    .unwrap();
    assert_eq!(imp.kind, FileKind::Roster);
    assert_eq!(imp.roster.len(), 3);
    assert!(
        imp.warnings
            .iter()
            .map(ToString::to_string)
            .any(|w| w.contains("more than once")),
        "{:?}",
        imp.warnings
    );
}

#[test]
fn semicolon_roster_with_account_id_adds_an_account_alias() {
    let csv =
        "E-mail address;Full name;Department;Account UUID\nana@example.com;Ana;Platform;0f1e\n";
    let imp = parse::roster::parse("r.csv", csv.as_bytes(), &ImportOptions::default()).unwrap();
    assert_eq!(imp.roster[0].aliases, vec![PersonKey::account("0f1e")]);
    assert_eq!(imp.roster[0].team.as_deref(), Some("Platform"));
}

#[test]
fn roster_without_an_email_column_is_refused_with_the_columns_seen() {
    let err = parse::roster::parse(
        "r.csv",
        b"Name,Team\nAna,Platform\n",
        &ImportOptions::default(),
    )
    .unwrap_err();
    assert_eq!(
        err,
        ImportError::MissingIdentityColumn {
            file: "r.csv".into(),
            seen: vec!["Name".into(), "Team".into()]
        }
    );
}

#[test]
fn alias_typing_rule() {
    assert_eq!(
        parse::roster::parse_alias("build-key"),
        Some(PersonKey::api_key("build-key"))
    );
    assert_eq!(
        parse::roster::parse_alias("x@y.example"),
        Some(PersonKey::email("x@y.example"))
    );
    assert_eq!(
        parse::roster::parse_alias("device:abc"),
        Some(PersonKey::device("abc"))
    );
}
