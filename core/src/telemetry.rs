//! Telemetry (Claude Code's OpenTelemetry) as seen by the rest of Scoreboard:
//! the settings snippet that makes Claude Code send it, and who on the
//! roster has never sent any.
//!
//! The snippet functions take the server's address and an ingest token as
//! plain string arguments and return text: `core` stores nothing and reads
//! nothing. The server's `token create` and the page's "Connect Claude Code"
//! view both call them, so the two always show the same snippet.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};

use crate::metrics::Report;
use crate::model::PersonKey;
use crate::roster::Roster;

/// The `env` block Claude Code needs to send its telemetry to `endpoint`
/// with `token`. Claude Code has no default protocol, so it is always set.
pub fn telemetry_env(endpoint: &str, token: &str) -> Vec<(&'static str, String)> {
    vec![
        ("CLAUDE_CODE_ENABLE_TELEMETRY", "1".to_string()),
        ("OTEL_METRICS_EXPORTER", "otlp".to_string()),
        ("OTEL_LOGS_EXPORTER", "otlp".to_string()),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json".to_string()),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.to_string()),
        (
            "OTEL_EXPORTER_OTLP_HEADERS",
            format!("Authorization=Bearer {token}"),
        ),
    ]
}

/// `~/.claude/settings.json` / `managed-settings.json` content: `{"env": {…}}`.
pub fn settings_json(endpoint: &str, token: &str) -> String {
    let mut env = serde_json::Map::new();
    for (k, v) in telemetry_env(endpoint, token) {
        env.insert(k.to_string(), serde_json::Value::String(v));
    }
    let doc = serde_json::json!({ "env": env });
    serde_json::to_string_pretty(&doc).unwrap_or_default()
}

/// Roster members who have never sent telemetry, split by what the other
/// sources say about them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TelemetryCoverage {
    /// Roster members (of the report's team, when one is chosen).
    pub roster_size: u64,
    /// Of those, how many sent telemetry at least once (under any of their keys).
    pub reported: u64,
    /// Never sent telemetry, yet another source (Admin API, CSV export…)
    /// shows them using Claude Code: telemetry is most likely not installed
    /// on their machine. This is the roll-out gap.
    pub silent_but_active: Vec<PersonKey>,
    /// Never sent telemetry and no usage in any source: non-starters, or
    /// people whose only usage would be telemetry that is not installed.
    pub silent_and_not_started: Vec<PersonKey>,
}

/// Compares the people telemetry was ever received from (`seen`, any key:
/// e-mail, account id, alias) with the roster. A person counts as active in
/// another source when the report lists them with any usage (first active
/// day) from a source other than telemetry. `None` without a roster.
pub fn coverage(
    roster: Option<&Roster>,
    seen: &[PersonKey],
    report: &Report,
) -> Option<TelemetryCoverage> {
    let active_elsewhere: HashSet<&PersonKey> = report
        .people
        .iter()
        .filter(|p| p.first_active.is_some() && p.sources.iter().any(|s| *s != crate::Source::Otlp))
        .map(|p| &p.person)
        .collect();
    split(
        roster,
        seen,
        report.window.team.as_deref(),
        &active_elsewhere,
    )
}

/// [`coverage`] when no usage is loaded from any source (the page then
/// has no report): no one can show use elsewhere. `team` as the view chose it.
pub fn coverage_without_usage(
    roster: Option<&Roster>,
    seen: &[PersonKey],
    team: Option<&str>,
) -> Option<TelemetryCoverage> {
    split(roster, seen, team, &HashSet::new())
}

fn split(
    roster: Option<&Roster>,
    seen: &[PersonKey],
    team: Option<&str>,
    active_elsewhere: &HashSet<&PersonKey>,
) -> Option<TelemetryCoverage> {
    let roster = roster.filter(|r| !r.is_empty())?;
    let heard: HashSet<PersonKey> = seen.iter().map(|k| roster.resolve(k)).collect();
    let mut out = TelemetryCoverage::default();
    for e in roster.entries() {
        if team.is_some() && e.team.as_deref() != team {
            continue;
        }
        out.roster_size += 1;
        if heard.contains(&e.person) {
            out.reported += 1;
        } else if active_elsewhere.contains(&e.person) {
            out.silent_but_active.push(e.person.clone());
        } else {
            out.silent_and_not_started.push(e.person.clone());
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::{compute, ReportOptions, WindowSpec};
    use crate::model::{DayRow, Measures, Source};
    use crate::roster::RosterEntry;
    use crate::table::UsageTable;
    use chrono::NaiveDate;

    fn key(s: &str) -> PersonKey {
        PersonKey::parse(s).unwrap()
    }

    #[test]
    fn the_snippet_sets_the_protocol_endpoint_and_bearer_header() {
        let s = settings_json("https://sb.example.com", "sbi_x");
        let v: serde_json::Value = serde_json::from_str(&s).unwrap();
        assert_eq!(v["env"]["CLAUDE_CODE_ENABLE_TELEMETRY"], "1");
        assert_eq!(v["env"]["OTEL_METRICS_EXPORTER"], "otlp");
        assert_eq!(v["env"]["OTEL_LOGS_EXPORTER"], "otlp");
        assert_eq!(v["env"]["OTEL_EXPORTER_OTLP_PROTOCOL"], "http/json");
        assert_eq!(
            v["env"]["OTEL_EXPORTER_OTLP_ENDPOINT"],
            "https://sb.example.com"
        );
        assert_eq!(
            v["env"]["OTEL_EXPORTER_OTLP_HEADERS"],
            "Authorization=Bearer sbi_x"
        );
    }

    #[test]
    fn never_reported_telemetry_is_split_into_rollout_gap_and_non_starters() {
        let day = NaiveDate::from_ymd_opt(2026, 3, 3).unwrap();
        let row = |p: &str, source| {
            let mut r = DayRow::new(day, key(p), source);
            r.measures = Measures {
                sessions: 1,
                ..Measures::default()
            };
            r
        };
        let mut table = UsageTable::new();
        table.insert_days([
            row("ann@x.com", Source::Otlp),
            row("bob@x.com", Source::AdminApi),
        ]);
        let mut ann = RosterEntry::new(key("ann@x.com"));
        ann.aliases.push(key("account:ann-1"));
        let roster = Roster::new(vec![
            ann,
            RosterEntry::new(key("bob@x.com")),
            RosterEntry::new(key("cy@x.com")),
        ]);
        let report = compute(
            &table,
            Some(&roster),
            &ReportOptions {
                as_of: day,
                window: WindowSpec::LastWeeks { weeks: 4 },
                team: None,
            },
        );
        // Telemetry heard from Ann under her account id only.
        let c = coverage(Some(&roster), &[key("account:ann-1")], &report).unwrap();
        assert_eq!(c.roster_size, 3);
        assert_eq!(c.reported, 1);
        assert_eq!(c.silent_but_active, vec![key("bob@x.com")]);
        assert_eq!(c.silent_and_not_started, vec![key("cy@x.com")]);
        assert!(coverage(None, &[], &report).is_none());
    }

    /// The page computes no report while no source has usage; the split it
    /// shows then is the one a report of no rows gives, team filter included.
    #[test]
    fn coverage_without_usage_is_the_split_of_a_report_of_no_rows() {
        let mut ann = RosterEntry::new(key("ann@x.com"));
        ann.team = Some("core".into());
        let mut bob = RosterEntry::new(key("bob@x.com"));
        bob.team = Some("core".into());
        let roster = Roster::new(vec![ann, bob, RosterEntry::new(key("cy@x.com"))]);
        for team in [None, Some("core")] {
            let report = compute(
                &UsageTable::new(),
                Some(&roster),
                &ReportOptions {
                    as_of: NaiveDate::from_ymd_opt(2026, 3, 3).unwrap(),
                    window: WindowSpec::LastWeeks { weeks: 4 },
                    team: team.map(str::to_string),
                },
            );
            let seen = [key("bob@x.com")];
            assert_eq!(
                coverage_without_usage(Some(&roster), &seen, team),
                coverage(Some(&roster), &seen, &report)
            );
        }
        assert!(coverage_without_usage(None, &[], None).is_none());
    }
}
