//! What a parser tells the reader that is not an error: structured, so a
//! caller never reads English to act on it.
//!
//! Each [`Warning`] is one kind with its count and example; `Display` writes
//! the sentence the page, the CLI and the server show. A file read in parts
//! (the page streams large files) gives one warning list per part:
//! [`merge_warnings`] adds the counts of the same kind up and keeps a warning
//! about the file's columns (repeated by every part) once, as if the file had
//! been read at once.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::Field;
use crate::model::PersonKey;

/// One thing a file's reader should know. Variants that count rows merge by
/// adding; the others are about the whole file and merge only when equal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Warning {
    /// Rows of products other than Claude Code were skipped (rows per product).
    OtherProducts { rows: BTreeMap<String, u64> },
    /// Rows name their person by something that is not an e-mail; read as API key names.
    NonEmailPerson {
        rows: u64,
        column: String,
        /// The first such cell, as shown, and the key it was read as.
        example: String,
        read_as: PersonKey,
    },
    /// Rows whose cost was estimated from tokens × the price table (CSV).
    EstimatedCost { rows: u64 },
    /// Rows with tokens but no cost, for models the price table does not know.
    UnknownModels { rows: u64, models: BTreeSet<String> },
    /// Rows with tokens but neither a cost nor a model.
    TokensWithoutModel { rows: u64 },
    /// No row of the file could be used.
    NothingUsed,
    /// A column is not used, and why.
    IgnoredColumn { header: String, reason: String },
    /// Columns the alias table does not know (file order).
    UnknownColumns { headers: Vec<String> },
    /// The column mapping names a column the file does not have.
    MappingNamesMissingColumn { header: String },
    /// Two columns look like the same field; the first is used.
    DuplicateColumn {
        field: Field,
        used: String,
        ignored: String,
    },
    /// A column gives an acceptance rate instead of accepted/rejected counts.
    AcceptRateColumn { header: String },
    /// Roster: people listed more than once (merged).
    RosterDuplicates { people: u64, example: PersonKey },
    /// Admin API: person-days whose cost was estimated from the price table.
    ApiEstimatedCost { person_days: u64 },
    /// Admin API: the last page says `has_more`, later pages are not in the file.
    MorePages,
    /// Admin API: who the API did not report (seat users), see [`AdminGap`].
    AdminCoverage { gap: AdminGap },
    /// Enterprise API: the day was taken from the file's name.
    DayFromFileName { day: NaiveDate },
    /// Enterprise API: records without Claude Code metrics.
    RecordsWithoutClaudeCode { without: u64, records: u64 },
    /// Enterprise API: the file holds no records.
    NoRecords,
}

/// What an Admin API report lacks (sources.md: seat users are not reported).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AdminGap {
    NoActivity,
    OnlyApiKeys,
    OnlyPayAsYouGo,
}

impl Warning {
    /// The rows (or person-days, people, records) the warning counts, if it counts any.
    pub fn count(&self) -> Option<u64> {
        match self {
            Warning::OtherProducts { rows } => Some(rows.values().sum()),
            Warning::NonEmailPerson { rows, .. }
            | Warning::EstimatedCost { rows }
            | Warning::UnknownModels { rows, .. }
            | Warning::TokensWithoutModel { rows } => Some(*rows),
            Warning::RosterDuplicates { people, .. } => Some(*people),
            Warning::ApiEstimatedCost { person_days } => Some(*person_days),
            Warning::RecordsWithoutClaudeCode { without, .. } => Some(*without),
            _ => None,
        }
    }

    /// Adds `other` into `self` when both count the same kind of rows of one
    /// file read in parts; false when they are different warnings.
    fn absorb(&mut self, other: &Warning) -> bool {
        use Warning::*;
        match (self, other) {
            (OtherProducts { rows }, OtherProducts { rows: more }) => {
                for (product, n) in more {
                    *rows.entry(product.clone()).or_default() += n;
                }
                true
            }
            (
                NonEmailPerson { rows, column, .. },
                NonEmailPerson {
                    rows: more,
                    column: c,
                    ..
                },
            ) if column == c => {
                // The first part's example stands for the file.
                *rows += more;
                true
            }
            (EstimatedCost { rows }, EstimatedCost { rows: more })
            | (TokensWithoutModel { rows }, TokensWithoutModel { rows: more }) => {
                *rows += more;
                true
            }
            (UnknownModels { rows, models }, UnknownModels { rows: n, models: m }) => {
                *rows += n;
                models.extend(m.iter().cloned());
                true
            }
            (ApiEstimatedCost { person_days }, ApiEstimatedCost { person_days: more }) => {
                *person_days += more;
                true
            }
            (
                RecordsWithoutClaudeCode { without, records },
                RecordsWithoutClaudeCode {
                    without: w,
                    records: r,
                },
            ) => {
                *without += w;
                *records += r;
                true
            }
            // About the file (its header is in every part) or not additive: once when equal.
            (this, other) => *this == *other,
        }
    }
}

/// Adds `more` (the warnings of a later part of the same file) into `all`:
/// counts of the same kind are added, equal file-level warnings kept once,
/// order of first appearance kept. "Nothing used" is the caller's verdict on
/// the whole file, so it is dropped here (see [`Warning::NothingUsed`]).
pub fn merge_warnings(all: &mut Vec<Warning>, more: impl IntoIterator<Item = Warning>) {
    for w in more {
        if w == Warning::NothingUsed {
            continue;
        }
        if !all.iter_mut().any(|have| have.absorb(&w)) {
            all.push(w);
        }
    }
}

/// `1 row`, `2 rows`.
pub(crate) fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

fn rows(n: u64) -> String {
    plural(n, "row", "rows")
}

fn backquoted(items: impl IntoIterator<Item = impl fmt::Display>) -> String {
    items
        .into_iter()
        .map(|i| format!("`{i}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Warning::OtherProducts { rows: by_product } => {
                let list = by_product
                    .iter()
                    .map(|(p, n)| format!("{p}: {n}"))
                    .collect::<Vec<_>>()
                    .join(", ");
                write!(
                    f,
                    "skipped {} for products other than Claude Code ({list}); Scoreboard counts Claude Code only",
                    rows(by_product.values().sum())
                )
            }
            Warning::NonEmailPerson {
                rows: n,
                column,
                example,
                read_as,
            } => write!(
                f,
                "{} name the person in column `{column}` by something other than an e-mail (e.g. `{example}`); they \
                 are read as API key names (`{read_as}`). Add them as aliases in the roster to count them for a person.",
                rows(*n)
            ),
            Warning::EstimatedCost { rows: n } => write!(
                f,
                "the cost of {} is estimated from tokens × the price table, because the file gives tokens and a model \
                 but no cost; these costs are marked as estimated",
                rows(*n)
            ),
            Warning::UnknownModels { rows: n, models } => write!(
                f,
                "{} give tokens but no cost, for models the price table does not know ({}); their cost is left out \
                 (add the models to the price table to estimate it)",
                rows(*n),
                backquoted(models)
            ),
            Warning::TokensWithoutModel { rows: n } => write!(
                f,
                "{} give tokens but neither a cost nor a model; their cost is left out",
                rows(*n)
            ),
            Warning::NothingUsed => f.write_str(
                "no row of this file could be used; see the problems and warnings above",
            ),
            Warning::IgnoredColumn { header, reason } => {
                write!(f, "ignored column `{header}`: {reason}")
            }
            Warning::UnknownColumns { headers } => {
                let one = headers.len() == 1;
                write!(
                    f,
                    "ignored {} column{} Scoreboard does not recognise: {} (map {} in the column dialog if it holds a \
                     known measure)",
                    headers.len(),
                    if one { "" } else { "s" },
                    backquoted(headers),
                    if one { "it" } else { "them" },
                )
            }
            Warning::MappingNamesMissingColumn { header } => write!(
                f,
                "the column mapping names `{header}`, but the file has no such column"
            ),
            Warning::DuplicateColumn {
                field,
                used,
                ignored,
            } => write!(
                f,
                "columns `{used}` and `{ignored}` both look like {}; using `{used}` and ignoring `{ignored}`",
                field.label().to_lowercase()
            ),
            Warning::AcceptRateColumn { header } => write!(
                f,
                "column `{header}` gives an acceptance rate, not counts of accepted and rejected edits. The tool \
                 acceptance rate is a ratio of sums over counts, so this file's rate cannot be used and its edits \
                 stay unknown (edits an earlier load gave for the same days are kept); the rate comes from the \
                 Admin API, the Enterprise Analytics API or telemetry"
            ),
            Warning::RosterDuplicates { people, example } => write!(
                f,
                "{} listed more than once (e.g. {example}); the entries of each are merged",
                if *people == 1 {
                    "1 person is".to_string()
                } else {
                    format!("{people} people are")
                }
            ),
            Warning::ApiEstimatedCost { person_days } => write!(
                f,
                "{person_days} person-days had a model without estimated_cost; their cost is estimated from the price \
                 table and marked as estimated"
            ),
            Warning::MorePages => f.write_str(
                "the last page in this file says has_more: true, so the report continues on pages that are not in \
                 the file; its figures may be incomplete",
            ),
            Warning::AdminCoverage { gap } => {
                let what = match gap {
                    AdminGap::NoActivity => "The Admin API returned no Claude Code activity at all.",
                    AdminGap::OnlyApiKeys => {
                        "The Admin API returned only API-key users, no signed-in users."
                    }
                    AdminGap::OnlyPayAsYouGo => {
                        "The Admin API returned only pay-as-you-go (customer_type \"api\") users."
                    }
                };
                write!(
                    f,
                    "{what} This API does not report engineers who use Claude Code with a claude.ai Team or \
                     Enterprise seat (subscription users): a known gap of the platform (anthropics/claude-code#27780), \
                     so this is not zero adoption. For seat users, load the CSV export from claude.ai (Analytics › \
                     Claude Code) or have Claude Code send its telemetry to `scoreboard serve`; on Enterprise, the \
                     Enterprise Analytics API also reports them."
                )
            }
            Warning::DayFromFileName { day } => write!(
                f,
                "the file does not say its day; {day} is taken from its name (give a period to override)"
            ),
            Warning::RecordsWithoutClaudeCode { without, records } => write!(
                f,
                "{without} of {records} records have no claude_code_metrics (people who used other Claude products \
                 only); they give no Claude Code row"
            ),
            Warning::NoRecords => f.write_str("the file holds no records"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn products(list: &[(&str, u64)]) -> Warning {
        Warning::OtherProducts {
            rows: list.iter().map(|(p, n)| (p.to_string(), *n)).collect(),
        }
    }

    #[test]
    fn warnings_of_parts_are_merged_with_counts_added() {
        let column = Warning::IgnoredColumn {
            header: "x".into(),
            reason: "why".into(),
        };
        let mut all = vec![products(&[("Chat", 3)]), column.clone()];
        merge_warnings(&mut all, vec![products(&[("Chat", 4)]), column.clone()]);
        assert_eq!(all, vec![products(&[("Chat", 7)]), column]);
        assert_eq!(
            all[0].to_string(),
            "skipped 7 rows for products other than Claude Code (Chat: 7); Scoreboard counts Claude Code only"
        );
    }

    #[test]
    fn warnings_of_parts_that_counted_one_row_are_merged_in_the_plural() {
        let mut all = vec![Warning::EstimatedCost { rows: 1 }];
        assert!(all[0].to_string().starts_with("the cost of 1 row is"));
        merge_warnings(&mut all, vec![Warning::EstimatedCost { rows: 1 }]);
        assert_eq!(all, vec![Warning::EstimatedCost { rows: 2 }]);
        assert!(all[0].to_string().starts_with("the cost of 2 rows is"));
        let mut all = vec![products(&[("Chat", 1)])];
        merge_warnings(&mut all, vec![products(&[("Chat", 2), ("Web", 1)])]);
        assert_eq!(all[0].count(), Some(4));
        assert!(all[0]
            .to_string()
            .contains("skipped 4 rows for products other than Claude Code (Chat: 3, Web: 1)"));
    }

    /// Every part of a streamed file repeats its header, so a warning about the
    /// columns comes once per part; a 3 MB file said "ignored 18 column …".
    #[test]
    fn a_warning_about_the_columns_is_kept_once_not_added_up_over_the_parts() {
        let col = Warning::UnknownColumns {
            headers: vec!["Note".into()],
        };
        let mut all = Vec::new();
        merge_warnings(&mut all, vec![col.clone(); 18]);
        assert_eq!(all, vec![col]);
        assert_eq!(
            all[0].to_string(),
            "ignored 1 column Scoreboard does not recognise: `Note` (map it in the column dialog if it holds a known measure)"
        );
    }

    #[test]
    fn nothing_used_is_left_to_the_caller_of_a_merge() {
        let mut all = Vec::new();
        merge_warnings(&mut all, vec![Warning::NothingUsed]);
        assert!(all.is_empty());
    }
}
