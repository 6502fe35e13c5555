//! Rosters: who should be using Claude Code.
//!
//! Two shapes are read:
//! - a CSV with an e-mail column and optional name, team, start (or
//!   seat-assigned) date, aliases and account id columns;
//! - a plain list of e-mails, one or more per line, separated by commas,
//!   semicolons or white space; `#` starts a comment.
//!
//! Aliases are other keys that are the same person, separated by `;` (or
//! `,`): an alias with a type prefix (`api-key:`, `account:`, `device:`) is
//! kept as typed, one containing `@` is an e-mail, anything else is an API key
//! name (`ci-bot` → `api-key:ci-bot`). An account id column adds
//! `account:<id>` as an alias.

use std::collections::BTreeMap;

use super::columns::map_headers;
use super::text::{is_blank, is_email, parse_day, shown};
use super::{read_csv, text, Field, FileKind, Import, ImportError, ImportOptions, Warning};
use crate::model::{PersonKey, Problem};
use crate::roster::RosterEntry;

/// Reads a roster file: a plain list of e-mails or a roster CSV.
pub fn parse(file_name: &str, bytes: &[u8], opts: &ImportOptions) -> Result<Import, ImportError> {
    let text = text::decode(file_name, bytes)?;
    if text.trim().is_empty() {
        return Err(ImportError::Empty {
            file: file_name.to_string(),
        });
    }
    if is_plain_list(&text) {
        return Ok(parse_plain_list(file_name, &text));
    }
    parse_csv_text(file_name, &text, opts)
}

/// Reads one alias as written in a roster (see the module documentation).
pub fn parse_alias(text: &str) -> Option<PersonKey> {
    let t = text.trim().trim_matches('"').trim();
    if t.is_empty() {
        return None;
    }
    if ["api-key:", "account:", "device:"]
        .iter()
        .any(|p| t.starts_with(p))
    {
        return PersonKey::parse(t);
    }
    if t.contains('@') {
        return Some(PersonKey::email(t));
    }
    Some(PersonKey::api_key(t))
}

fn strip_comment(line: &str) -> &str {
    line.split('#').next().unwrap_or("")
}

/// The entries of a plain-list line. A line written as a mail client copies
/// addresses (`Ana Lima <ana@example.com>, Bo <bo@example.com>`) gives the
/// addresses in angle brackets; any other line is split on `,` `;` and spaces.
fn tokens(line: &str) -> Vec<&str> {
    let line = strip_comment(line);
    let bracketed: Vec<&str> = line
        .split('<')
        .skip(1)
        .filter_map(|part| part.split_once('>').map(|(inside, _)| inside.trim()))
        .filter(|inside| inside.contains('@'))
        .collect();
    if !bracketed.is_empty() {
        return bracketed;
    }
    line.split(|c: char| c == ',' || c == ';' || c.is_whitespace())
        .map(|t| t.trim_matches(|c| matches!(c, '"' | '\'' | '<' | '>')))
        .filter(|t| !t.is_empty())
        .collect()
}

/// True when the first line that holds something is only e-mail addresses.
pub(crate) fn is_plain_list(text: &str) -> bool {
    let Some(first) = text.lines().map(tokens).find(|t| !t.is_empty()) else {
        return false;
    };
    first.iter().all(|t| t.contains('@'))
}

pub(crate) fn parse_plain_list(file: &str, text: &str) -> Import {
    let mut import = Import::new(file, FileKind::Roster);
    // A "row" of a plain list is a line that holds something; the good
    // e-mails of a line with a bad token are kept.
    for (i, line) in text.lines().enumerate() {
        let line_no = i as u64 + 1;
        let mut bad: Vec<&str> = Vec::new();
        let mut any = false;
        for token in tokens(line) {
            any = true;
            if is_email(token) {
                import
                    .roster
                    .push(RosterEntry::new(PersonKey::email(token)));
            } else {
                bad.push(token);
            }
        }
        if any {
            import.rows_read += 1;
        }
        if !bad.is_empty() {
            import.rows_rejected += 1;
            import.problems.push(Problem::new(
                file,
                Some(line_no),
                format!(
                    "`{}` is not an e-mail address; a plain roster lists e-mails, separated by new lines, commas, \
                     semicolons or spaces (`#` starts a comment)",
                    shown(&bad.join(" "))
                ),
            ));
        }
    }
    import.warnings.extend(duplicate_warning(&import.roster));
    import
}

pub(crate) fn parse_csv_text(
    file: &str,
    text: &str,
    opts: &ImportOptions,
) -> Result<Import, ImportError> {
    let csv = read_csv(text, None);
    if csv.headers.is_empty() {
        return Err(ImportError::Empty {
            file: file.to_string(),
        });
    }
    let mut m = map_headers(&csv.headers, &opts.column_overrides);
    if !m.has(Field::Email) {
        return Err(ImportError::MissingIdentityColumn {
            file: file.to_string(),
            seen: csv.headers.clone(),
        });
    }
    let used = [
        Field::Email,
        Field::AccountId,
        Field::Name,
        Field::Team,
        Field::StartDate,
        Field::Aliases,
    ];
    let unused: Vec<Field> = m
        .index
        .keys()
        .copied()
        .filter(|f| !used.contains(f))
        .collect();
    for f in unused {
        m.drop_field(f, "a roster does not use it");
    }
    if csv.records.is_empty() && csv.errors.is_empty() {
        return Err(ImportError::Empty {
            file: file.to_string(),
        });
    }
    let mut import = Import::new(file, FileKind::Roster);
    for (line, record) in csv.rows_to_use(file, &mut import) {
        let cell = |f: Field| {
            m.col(f)
                .and_then(|i| record.get(i))
                .map(str::trim)
                .filter(|v| !is_blank(v))
        };
        let email_header = m.header(Field::Email);
        let person = match cell(Field::Email).map(|v| text::email_in(v).unwrap_or(v)) {
            None => Err(format!("the e-mail in column `{email_header}` is empty")),
            Some(v) if !is_email(v) => Err(format!(
                "`{}` in column `{email_header}` is not an e-mail address",
                shown(v)
            )),
            Some(v) => Ok(PersonKey::email(v)),
        };
        let person = match person {
            Ok(p) => p,
            Err(why) => {
                import.rows_rejected += 1;
                import.problems.push(Problem::new(file, Some(line), why));
                continue;
            }
        };
        let mut entry = RosterEntry::new(person);
        entry.name = cell(Field::Name).map(str::to_string);
        entry.team = cell(Field::Team).map(str::to_string);
        if let Some(v) = cell(Field::StartDate) {
            match parse_day(v) {
                Ok(d) => entry.start = Some(d),
                Err(why) => import.problems.push(Problem::new(
                    file,
                    Some(line),
                    format!(
                        "start date `{}` in column `{}` {why}; {} is kept without a start date",
                        shown(v),
                        m.header(Field::StartDate),
                        entry.person
                    ),
                )),
            }
        }
        let mut aliases: Vec<PersonKey> = Vec::new();
        if let Some(v) = cell(Field::AccountId) {
            aliases.push(PersonKey::account(v));
        }
        if let Some(v) = cell(Field::Aliases) {
            aliases.extend(v.split([';', ',']).filter_map(parse_alias));
        }
        for a in aliases {
            if a != entry.person && !entry.aliases.contains(&a) {
                entry.aliases.push(a);
            }
        }
        import.roster.push(entry);
    }
    import.problems.sort_by_key(|p| p.line);
    import.warnings = m.warnings.clone();
    import.warnings.extend(duplicate_warning(&import.roster));
    import.columns = m.columns;
    import.ignored_columns = m.ignored;
    Ok(import)
}

fn duplicate_warning(entries: &[RosterEntry]) -> Option<Warning> {
    let mut counts: BTreeMap<&PersonKey, u64> = BTreeMap::new();
    for e in entries {
        *counts.entry(&e.person).or_default() += 1;
    }
    let mut dups = counts.iter().filter(|(_, n)| **n > 1).map(|(k, _)| *k);
    let example = dups.next()?.clone();
    Some(Warning::RosterDuplicates {
        people: 1 + dups.count() as u64,
        example,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests state their expectations by unwrapping
mod tests {
    use super::*;

    #[test]
    fn aliases_follow_the_typing_rule() {
        assert_eq!(parse_alias("ci-bot"), Some(PersonKey::api_key("ci-bot")));
        assert_eq!(
            parse_alias(" Jane@Old.example "),
            Some(PersonKey::email("jane@old.example"))
        );
        assert_eq!(
            parse_alias("account:user_01ABC"),
            Some(PersonKey::account("user_01ABC"))
        );
        assert_eq!(
            parse_alias("api-key:laptop"),
            Some(PersonKey::api_key("laptop"))
        );
        assert_eq!(parse_alias("  "), None);
    }

    #[test]
    fn plain_list_detection() {
        assert!(is_plain_list("# team\n\na@x.com\nb@y.com"));
        assert!(is_plain_list("a@x.com, b@y.com; c@z.com"));
        assert!(!is_plain_list("email,name\na@x.com,A"));
        assert!(!is_plain_list("a@x.com,12"));
        assert!(is_plain_list("Ana Lima <ana@x.com>, Bo <bo@y.com>"));
    }
}
