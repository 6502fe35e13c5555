//! Enterprise Analytics API: `GET /v1/organizations/analytics/users`
//! (sources.md §3.3). Envelope `{data, next_page}` (no `has_more`); field names
//! differ from the Admin API (`*_count` suffixes).
//!
//! A record has no date of its own: the day is the request's `date`
//! parameter (single-day mode). In range mode (`starting_date`/`ending_date`)
//! the records are totals over the range and become period rows
//! ([`records_to_periods`]). Records without `claude_code_metrics` (people who
//! only used other products) give no row; records with zeros give a row of
//! zeros, which is the source saying "no Claude Code use that day".

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{
    json_records, lenient, read_records, text, FileKind, Import, ImportError, ImportOptions,
    Warning,
};
use crate::coverage::DayRange;
use crate::model::DayRow;
use crate::model::{Measures, PeriodRow, PersonKey, Problem, Source, ToolDecisions};

/// One page of `/analytics/users`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct UsersPage {
    #[serde(default)]
    pub data: Vec<UserRecord>,
    /// Cursor for the next call, `null` when done.
    #[serde(default)]
    pub next_page: Option<String>,
}

/// One person's activity for the requested day (or range).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct UserRecord {
    /// Absent on grouped rows (`group_by[]=rbac_group_id`).
    #[serde(default)]
    pub user: Option<AnalyticsUser>,
    #[serde(default)]
    pub last_activity_date: Option<String>,
    #[serde(default)]
    pub claude_code_metrics: Option<ClaudeCodeMetrics>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rbac_group_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rbac_group_name: Option<String>,
    #[serde(
        default,
        deserialize_with = "lenient::opt_count",
        skip_serializing_if = "Option::is_none"
    )]
    pub distinct_user_count: Option<u64>,
    /// The other products' metrics (`chat_metrics`, `cowork_metrics`, …), kept as sent.
    #[serde(flatten)]
    pub other: BTreeMap<String, Value>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct AnalyticsUser {
    /// `user_…`.
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub email_address: Option<String>,
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ClaudeCodeMetrics {
    #[serde(default)]
    pub core_metrics: CoreMetrics,
    /// `edit_tool`, `multi_edit_tool`, `notebook_edit_tool`, `write_tool`, or any new tool.
    #[serde(default)]
    pub tool_actions: BTreeMap<String, ToolActions>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct CoreMetrics {
    #[serde(default, deserialize_with = "lenient::count")]
    pub commit_count: u64,
    #[serde(default, deserialize_with = "lenient::count")]
    pub distinct_session_count: u64,
    #[serde(default)]
    pub lines_of_code: LinesOfCode,
    #[serde(default, deserialize_with = "lenient::count")]
    pub pull_request_count: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct LinesOfCode {
    #[serde(default, deserialize_with = "lenient::count")]
    pub added_count: u64,
    #[serde(default, deserialize_with = "lenient::count")]
    pub removed_count: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ToolActions {
    #[serde(default, deserialize_with = "lenient::count")]
    pub accepted_count: u64,
    #[serde(default, deserialize_with = "lenient::count")]
    pub rejected_count: u64,
}

impl UserRecord {
    /// The person: the e-mail, else `account:<user id>`.
    pub fn person(&self) -> Option<PersonKey> {
        let u = self.user.as_ref()?;
        if let Some(e) = u.email_address.as_deref().filter(|e| !e.trim().is_empty()) {
            return Some(PersonKey::email(e));
        }
        u.id.as_deref()
            .filter(|id| !id.trim().is_empty())
            .map(PersonKey::account)
    }
}

/// Measures and tool split of one record; `Ok(None)` when it has no Claude Code metrics.
fn record_measures(
    file: &str,
    n: usize,
    rec: &UserRecord,
) -> Result<Option<(PersonKey, Measures, Vec<ToolDecisions>)>, Problem> {
    let Some(person) = rec.person() else {
        let why = match (&rec.user, &rec.rbac_group_id) {
            (None, Some(g)) => format!(
                "is a group total (rbac group {}), not a person; fetch without group_by to get people",
                text::shown(g)
            ),
            _ => "has neither user.email_address nor user.id".to_string(),
        };
        return Err(Problem::new(
            file,
            None,
            format!("record {n} {why}; record skipped"),
        ));
    };
    let Some(cc) = &rec.claude_code_metrics else {
        return Ok(None);
    };
    let c = cc.core_metrics;
    let mut m = Measures {
        sessions: c.distinct_session_count,
        lines_added: c.lines_of_code.added_count,
        lines_removed: c.lines_of_code.removed_count,
        commits: c.commit_count,
        pull_requests: c.pull_request_count,
        ..Measures::default()
    };
    let mut tools = Vec::new();
    for (tool, a) in &cc.tool_actions {
        m.edits_accepted = m.edits_accepted.saturating_add(a.accepted_count);
        m.edits_rejected = m.edits_rejected.saturating_add(a.rejected_count);
        tools.push(ToolDecisions {
            tool: tool.clone(),
            accepted: a.accepted_count,
            rejected: a.rejected_count,
        });
    }
    Ok(Some((person, m, tools)))
}

/// Records of a single-day request → person-day rows (source enterprise-api).
/// `day` is the request's `date` parameter. Records of the same person are summed.
pub fn records_to_rows(
    file: &str,
    day: NaiveDate,
    records: &[UserRecord],
) -> (Vec<DayRow>, Vec<Problem>) {
    let mut rows: BTreeMap<PersonKey, DayRow> = BTreeMap::new();
    let mut problems = Vec::new();
    for (i, rec) in records.iter().enumerate() {
        match record_measures(file, i + 1, rec) {
            Ok(Some((person, measures, tools))) => {
                let mut row = DayRow::new(day, person.clone(), Source::EnterpriseApi);
                row.measures = measures;

                row.tools = tools;
                match rows.get_mut(&person) {
                    Some(have) => have.absorb(&row),
                    None => {
                        rows.insert(person, row);
                    }
                }
            }
            Ok(None) => {}
            Err(p) => problems.push(p),
        }
    }
    (rows.into_values().collect(), problems)
}

/// Records of a range request (`starting_date` inclusive … `ending_date`
/// exclusive) → period rows over `start..=end` (pass the last included day).
pub fn records_to_periods(
    file: &str,
    start: NaiveDate,
    end: NaiveDate,
    records: &[UserRecord],
) -> (Vec<PeriodRow>, Vec<Problem>) {
    let (days, problems) = records_to_rows(file, start, records);
    let periods = days
        .into_iter()
        .map(|d| PeriodRow {
            start,
            end,
            person: d.person,
            source: Source::EnterpriseApi,
            measures: d.measures,
            models: d.models,
            tools: d.tools,
            present: d.present,
        })
        .collect();
    (periods, problems)
}

/// The one ISO date in a file name (`users-2026-11-03.json`), if exactly one.
fn date_in_name(name: &str) -> Option<NaiveDate> {
    let bytes = name.as_bytes();
    let mut found: Vec<NaiveDate> = Vec::new();
    for i in 0..bytes.len().saturating_sub(9) {
        let window = &bytes[i..i + 10];
        let shape = window.iter().enumerate().all(|(k, b)| {
            if k == 4 || k == 7 {
                *b == b'-'
            } else {
                b.is_ascii_digit()
            }
        });
        let before_ok = i == 0 || !bytes[i - 1].is_ascii_digit();
        let after_ok = bytes.get(i + 10).is_none_or(|b| !b.is_ascii_digit());
        if shape && before_ok && after_ok {
            if let Some(d) = std::str::from_utf8(window)
                .ok()
                .and_then(|s| NaiveDate::parse_from_str(s, "%Y-%m-%d").ok())
            {
                if !found.contains(&d) {
                    found.push(d);
                }
            }
        }
    }
    match found.as_slice() {
        [d] => Some(*d),
        _ => None,
    }
}

/// Reads a saved `/analytics/users` response (a page, an array of records or
/// of pages). The day comes from, in order: the period given for the file
/// (one day → daily rows; several → period rows), a top-level `date` field,
/// a single ISO date in the file name.
pub(crate) fn import_value(
    file: &str,
    value: &Value,
    opts: &ImportOptions,
) -> Result<Import, ImportError> {
    let (items, _) = json_records(value);
    let mut import = Import::new(file, FileKind::EnterpriseApiJson);
    let records: Vec<UserRecord> = read_records(file, items, &mut import);
    let envelope_date = value
        .get("date")
        .and_then(Value::as_str)
        .and_then(|d| text::parse_day(d).ok());
    let span = match (opts.period, envelope_date, date_in_name(file)) {
        (Some(p), ..) => Some(p),
        (None, Some(d), _) => Some((d, d)),
        (None, None, Some(d)) => {
            import.warnings.push(Warning::DayFromFileName { day: d });
            Some((d, d))
        }
        (None, None, None) => None,
    };
    let (start, end) = match span {
        Some(s) => s,
        None if records.iter().all(|r| r.claude_code_metrics.is_none()) => {
            // Nothing to date: no rows either way.
            (NaiveDate::MIN, NaiveDate::MIN)
        }
        None => {
            return Err(ImportError::NeedsPeriod {
                file: file.to_string(),
                columns: Vec::new(),
            })
        }
    };
    if span.is_some() {
        import.coverage = DayRange::weekly(start, end).into_iter().collect();
    }
    import.measures = Source::EnterpriseApi.measures();
    let problems = if start == end {
        let (rows, problems) = records_to_rows(file, start, &records);
        import.rows = rows;
        problems
    } else {
        let (periods, problems) = records_to_periods(file, start, end, &records);
        import.periods = periods;
        problems
    };
    import.rows_rejected += problems.len() as u64;
    import.problems.extend(problems);
    let without = records
        .iter()
        .filter(|r| r.user.is_some() && r.claude_code_metrics.is_none())
        .count();
    if without > 0 {
        import.warnings.push(Warning::RecordsWithoutClaudeCode {
            without: without as u64,
            records: records.len() as u64,
        });
    }
    if records.is_empty() {
        import.warnings.push(Warning::NoRecords);
    }
    Ok(import)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests state their expectations by unwrapping
mod tests {
    use super::*;

    #[test]
    fn dates_in_file_names() {
        let d = NaiveDate::from_ymd_opt(2026, 11, 3);
        assert_eq!(date_in_name("users-2026-11-03.json"), d);
        assert_eq!(date_in_name("2026-11-03"), d);
        assert_eq!(date_in_name("users-2026-11-03-to-2026-11-09.json"), None);
        assert_eq!(date_in_name("users-12026-11-03.json"), None);
        assert_eq!(date_in_name("users.json"), None);
        assert_eq!(date_in_name("é-2026-11-03é"), d);
    }
}
