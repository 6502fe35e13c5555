#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers: a panic is a failed assertion
//! Share snapshots: privacy is applied after aggregation, links round-trip,
//! damaged links fail with a message, and old links keep opening.

use chrono::NaiveDate;
use scoreboard_core::metrics::WindowSpec;
use scoreboard_core::share::{self, Privacy, ShareError, View};
use scoreboard_core::{
    compute, DayRow, Measures, PersonKey, Report, ReportOptions, Roster, RosterEntry, Source,
    UsageTable,
};

fn d(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

fn report() -> Report {
    let mut t = UsageTable::new();
    let mut rows = Vec::new();
    for (i, who) in [
        "ann@corp.example",
        "bob@corp.example",
        "cy@corp.example",
        "dee@corp.example",
        "eve@else.example",
    ]
    .iter()
    .enumerate()
    {
        for day in ["2026-10-20", "2026-10-27", "2026-11-03", "2026-11-10"] {
            let mut r = DayRow::new(d(day), PersonKey::email(who), Source::Csv);
            r.measures = Measures {
                sessions: 1 + i as u64,
                lines_added: 10 * (i as u64 + 1),
                edits_accepted: 3,
                edits_rejected: 1,
                cost_micros: 1_250_000,
                ..Measures::default()
            };
            rows.push(r);
        }
    }
    t.insert_days(rows);
    let mut roster = Vec::new();
    for (who, name) in [
        ("ann@corp.example", "Ann Archer"),
        ("bob@corp.example", "Bob Baker"),
        ("cy@corp.example", "Cy Cooper"),
        ("dee@corp.example", "Dee Dalton"),
        ("fay@corp.example", "Fay Fisher"),
    ] {
        let mut e = RosterEntry::new(PersonKey::email(who));
        e.name = Some(name.into());
        e.team = Some("Platform".into());
        roster.push(e);
    }
    compute(
        &t,
        Some(&Roster::new(roster)),
        &ReportOptions::last_weeks(d("2026-11-22"), 4),
    )
}

fn view() -> View {
    View {
        window: WindowSpec::LastWeeks { weeks: 4 },
        team: None,
    }
}

fn snapshot(privacy: Privacy) -> share::Snapshot {
    share::make_snapshot(&report(), privacy, 5, "salt", d("2026-11-22"), view()).unwrap()
}

#[test]
fn a_link_round_trips_to_the_same_snapshot() {
    let s = snapshot(Privacy::Names);
    // The export covers 20 Oct to 10 Nov: the current week has no figures,
    // and that survives the round trip as "no figures", not as zeros.
    let current = s.report.weeks.last().unwrap();
    assert!(current.figures.is_none());
    let link = share::encode_link(&s);
    assert!(link.starts_with("v2."));
    assert_eq!(share::decode_link(&link).unwrap(), s);
    assert_eq!(
        share::decode_link(&format!("#s={link}")).unwrap(),
        s,
        "the fragment form opens too"
    );
    assert_eq!(
        share::decode_file(share::encode_file(&s).as_bytes()).unwrap(),
        s
    );
}

#[test]
fn totals_do_not_change_with_the_privacy_choice() {
    let names = snapshot(Privacy::Names);
    for privacy in [Privacy::Pseudonyms, Privacy::AggregatesOnly] {
        let s = snapshot(privacy);
        assert_eq!(s.report.weeks, names.report.weeks);
        assert_eq!(s.report.totals, names.report.totals);
        assert_eq!(s.report.tiers_by_week, names.report.tiers_by_week);
        assert_eq!(s.counts, names.counts);
    }
    assert_eq!(names.counts.non_starters, 1);
}

#[test]
fn hidden_names_leave_no_email_or_name_in_the_link_or_the_snapshot() {
    for privacy in [Privacy::Pseudonyms, Privacy::AggregatesOnly] {
        let s = snapshot(privacy);
        let json = serde_json::to_string(&s).unwrap();
        let link = share::encode_link(&s);
        for needle in ["@", "ann", "Ann Archer", "Bob", "Fay", "corp.example"] {
            assert!(
                !json.contains(needle),
                "{privacy:?}: {needle} found in {json}"
            );
            assert!(!link.contains(needle));
        }
    }
    let s = snapshot(Privacy::Pseudonyms);
    assert_eq!(s.report.people.len(), 6);
    assert!(s
        .report
        .people
        .iter()
        .all(|p| p.person.as_str().starts_with("Engineer ")));
    assert!(snapshot(Privacy::AggregatesOnly).report.people.is_empty());
}

#[test]
fn pseudonyms_are_stable_for_the_same_salt() {
    let a = snapshot(Privacy::Pseudonyms);
    let b = snapshot(Privacy::Pseudonyms);
    assert_eq!(a.report.people, b.report.people);
    let other = share::make_snapshot(
        &report(),
        Privacy::Pseudonyms,
        5,
        "other",
        d("2026-11-22"),
        view(),
    )
    .unwrap();
    assert_ne!(a.report.people[0].person, other.report.people[0].person);
}

#[test]
fn a_small_team_cannot_be_shared_with_names_hidden() {
    let v = View {
        window: WindowSpec::LastWeeks { weeks: 4 },
        team: Some("Platform".into()),
    };
    let mut r = report();
    r.roster_size = Some(3);
    let err = share::make_snapshot(
        &r,
        Privacy::AggregatesOnly,
        5,
        "s",
        d("2026-11-22"),
        v.clone(),
    )
    .unwrap_err();
    assert!(matches!(
        err,
        ShareError::GroupTooSmall {
            size: 3,
            min: 5,
            ..
        }
    ));
    assert!(share::make_snapshot(&r, Privacy::Names, 5, "s", d("2026-11-22"), v).is_ok());
}

#[test]
fn a_tampered_or_truncated_link_gives_a_clear_error() {
    let link = share::encode_link(&snapshot(Privacy::Names));
    let truncated = &link[..link.len() / 2];
    assert!(matches!(
        share::decode_link(truncated),
        Err(ShareError::Damaged(_))
    ));
    let mut tampered = link.clone().into_bytes();
    let i = tampered.len() - 10;
    tampered[i] = if tampered[i] == b'A' { b'B' } else { b'A' };
    assert!(matches!(
        share::decode_link(std::str::from_utf8(&tampered).unwrap()),
        Err(ShareError::Damaged(_))
    ));
    assert_eq!(share::decode_link("hello"), Err(ShareError::NotASnapshot));
    assert_eq!(share::decode_link("v99.abc"), Err(ShareError::TooNew(99)));
    let msg = share::decode_link(truncated).unwrap_err().to_string();
    assert!(msg.contains("damaged or cut short"), "{msg}");
}

/// Guards links already sent: a v1 link made when the format was first
/// released must keep opening. Regenerate only by adding a new fixture.
#[test]
fn a_link_made_by_snapshot_version_1_still_opens() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/share_data/v1-link.txt");
    let link = std::fs::read_to_string(path).unwrap();
    let s = share::decode_link(&link).unwrap();
    assert_eq!(s.version, 1);
    assert_eq!(s.created_on, d("2026-11-22"));
    assert_eq!(s.report.totals.figures.active_engineers, 5);
    assert!(s
        .caption()
        .starts_with("Snapshot of 2026-11-22, csv, shared with names hidden"));
}

/// Guards links made by version 2 (issue 10: coverage, cards, team table).
#[test]
fn a_link_made_by_snapshot_version_2_still_opens() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/share_data/v2-link.txt");
    let link = std::fs::read_to_string(path).unwrap();
    let s = share::decode_link(&link).unwrap();
    assert_eq!(s.version, 2);
    assert_eq!(s.report.totals.figures.active_engineers, 5);
    assert!(s.report.weeks.last().unwrap().figures.is_none());
    let cards = s.report.kpis.as_ref().unwrap().cards.as_ref().unwrap();
    assert_eq!(cards.active_engineers.value, Some(5.0));
}

#[test]
#[ignore = "writes the v2 fixture; run once when the v2 format was released"]
fn write_v2_fixture() {
    let link = share::encode_link(&snapshot(Privacy::Pseudonyms));
    std::fs::write(
        concat!(env!("CARGO_MANIFEST_DIR"), "/tests/share_data/v2-link.txt"),
        link,
    )
    .unwrap();
}

#[test]
#[ignore = "writes the v1 fixture; run once when the v1 format was released"]
fn write_v1_fixture() {
    let link = share::encode_link(&snapshot(Privacy::Pseudonyms));
    std::fs::write(
        concat!(env!("CARGO_MANIFEST_DIR"), "/tests/share_data/v1-link.txt"),
        link,
    )
    .unwrap();
}

#[test]
fn small_teams_are_merged_when_names_are_hidden() {
    // Platform has 5 people (kept); two teams of one are merged, and the
    // merged group of 2 is still too small, so their team is not shown.
    let mut r = report();
    for p in &mut r.people {
        match p.person.as_str() {
            "ann@corp.example" => p.team = Some("Solo A".into()),
            "bob@corp.example" => p.team = Some("Solo B".into()),
            _ => {}
        }
    }
    r.teams = vec!["Platform".into(), "Solo A".into(), "Solo B".into()];
    let s = share::make_snapshot(&r, Privacy::Pseudonyms, 3, "s", d("2026-11-22"), view()).unwrap();
    let json = serde_json::to_string(&s).unwrap();
    assert!(!json.contains("Solo"), "{json}");
    assert_eq!(s.report.teams, vec!["Platform".to_string()]);
    assert_eq!(
        s.report.people.iter().filter(|p| p.team.is_none()).count(),
        3
    );
    // With a threshold of 2 the merged group (2 people) is shown under one label.
    let s = share::make_snapshot(&r, Privacy::Pseudonyms, 2, "s", d("2026-11-22"), view()).unwrap();
    assert!(s.report.teams.contains(&share::SMALL_TEAMS.to_string()));
    // Names shown: teams untouched.
    let s = share::make_snapshot(&r, Privacy::Names, 3, "s", d("2026-11-22"), view()).unwrap();
    assert_eq!(s.report.teams, r.teams);
    assert_eq!(s.report.totals, r.totals);
}

#[test]
fn people_and_weeks_export_as_csv_with_undefined_figures_left_empty() {
    let r = report();
    let people = share::people_csv(&r);
    let mut lines = people.lines();
    let header = lines.next().unwrap();
    assert!(
        header.starts_with("person,name,team,on_roster,tier,"),
        "{header}"
    );
    assert_eq!(people.lines().count(), 1 + r.people.len());
    let ann = people
        .lines()
        .find(|l| l.starts_with("ann@corp.example"))
        .unwrap();
    assert!(ann.contains("Ann Archer,Platform,true,"), "{ann}");
    // 4 days × $1.25
    assert!(ann.contains(",5.00,"), "{ann}");
    let fay = people
        .lines()
        .find(|l| l.starts_with("fay@corp.example"))
        .unwrap();
    assert!(
        fay.contains(",non_starter,,,0,"),
        "an undefined rate is empty: {fay}"
    );

    let weeks = share::weeks_csv(&r);
    assert_eq!(weeks.lines().count(), 1 + r.weeks.len());
    assert!(weeks
        .lines()
        .next()
        .unwrap()
        .starts_with("week,monday,complete,active_engineers"));
    let first = weeks.lines().nth(1).unwrap();
    assert!(
        first.starts_with(&format!("{},{}", r.weeks[0].label, r.weeks[0].week)),
        "{first}"
    );
    // The same CSV from a pseudonymised snapshot carries no e-mail.
    let s = snapshot(Privacy::Pseudonyms);
    assert!(!share::people_csv(&s.report).contains('@'));
    assert_eq!(
        share::weeks_csv(&s.report),
        weeks,
        "totals never change with privacy"
    );
}
