//! Source parsers: bytes in, rows and problems out.
//!
//! [`import`] recognises what a file is ([`detect_kind`]) and hands it to the
//! parser for that kind:
//! - [`usage_csv`]: the claude.ai / Console CSV exports (headers mapped by alias, see [`Field`]);
//! - [`roster`]: a roster CSV, or a plain list of e-mails;
//! - [`admin_api`]: Admin API `usage_report/claude_code` JSON (a page, an array of
//!   records, or an array of pages);
//! - [`enterprise_api`]: Enterprise Analytics API `/analytics/users` JSON.
//!
//! Nothing here panics on input. A file that cannot be read at all is an
//! [`ImportError`] naming the file and what to do; a row that cannot be read
//! is a [`Problem`] with its line number, and the other rows are kept.

pub mod admin_api;
mod columns;
pub mod enterprise_api;
mod lenient;
mod records;
pub mod roster;
#[cfg(test)]
mod scan_tests;
mod stream;
pub(crate) mod text;
pub mod usage_csv;
mod warning;

use std::collections::BTreeMap;
use std::fmt;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use columns::{normalise_header, Field, LikelyMeasure, LIKELY_MEASURE_SHARE};
pub use stream::ImportStream;
/// The one reader of a UTC day in core (ISO dates and timestamps), for the CLI, server and page too.
pub use text::parse_day;
pub use warning::{merge_warnings, AdminGap, Warning};

use crate::coverage::DayRange;
use crate::model::{DayRow, MeasureSet, PeriodRow, Problem, Source};
use crate::prices::PriceTable;
use crate::roster::RosterEntry;

/// What a file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FileKind {
    /// A Claude Code usage or spend export from claude.ai / the Console.
    UsageCsv,
    /// Who should be using Claude Code (CSV, or a plain list of e-mails).
    Roster,
    /// Admin API `usage_report/claude_code` JSON.
    AdminApiJson,
    /// Enterprise Analytics API `/v1/organizations/analytics/users` JSON.
    EnterpriseApiJson,
}

impl FileKind {
    /// The source of the rows a file of this kind gives (`None` for a roster).
    pub fn source(self) -> Option<Source> {
        match self {
            FileKind::UsageCsv => Some(Source::Csv),
            FileKind::AdminApiJson => Some(Source::AdminApi),
            FileKind::EnterpriseApiJson => Some(Source::EnterpriseApi),
            FileKind::Roster => None,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            FileKind::UsageCsv => "Claude Code usage export (CSV)",
            FileKind::Roster => "roster",
            FileKind::AdminApiJson => "Admin API Claude Code report (JSON)",
            FileKind::EnterpriseApiJson => "Enterprise Analytics API users report (JSON)",
        }
    }
}

impl fmt::Display for FileKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// What the caller knows that the file does not say.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportOptions {
    /// The UTC days (both inclusive) an export without a date column covers.
    pub period: Option<(NaiveDate, NaiveDate)>,
    /// Header text → field (`None`: ignore the column), from the column-mapping
    /// dialog. Headers are compared after [`normalise_header`]; an override
    /// beats the alias table.
    pub column_overrides: BTreeMap<String, Option<Field>>,
    /// Prices for estimating a cost where a source gives tokens but no cost.
    pub prices: PriceTable,
}

impl Default for ImportOptions {
    fn default() -> ImportOptions {
        ImportOptions {
            period: None,
            column_overrides: BTreeMap::new(),
            prices: PriceTable::builtin(),
        }
    }
}

/// One CSV column and the field it was read as (`None`: ignored).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ColumnUse {
    pub header: String,
    pub field: Option<Field>,
}

/// Everything one file gave.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Import {
    pub file: String,
    pub kind: FileKind,
    /// Person-day rows, summed per (person, day), sorted by day then person.
    pub rows: Vec<DayRow>,
    /// Per-person totals over a period (exports without a date column).
    pub periods: Vec<PeriodRow>,
    /// Roster entries (roster files only).
    pub roster: Vec<RosterEntry>,
    /// Rows or records that could not be read, with line numbers.
    pub problems: Vec<Problem>,
    /// Things the reader should know that are not errors (skipped products,
    /// estimated costs, ignored columns, coverage gaps).
    pub warnings: Vec<Warning>,
    /// Every CSV column, in file order, with the field it was read as.
    pub columns: Vec<ColumnUse>,
    /// The headers of columns that were not used.
    pub ignored_columns: Vec<String>,
    /// Unrecognised columns that hold numbers in most rows (CSV only): the
    /// page asks how to map them instead of ignoring them silently.
    pub likely_measures: Vec<LikelyMeasure>,
    /// The UTC days the file covers (metrics.md §2): a usage export from its
    /// first to its last day or the period it was given, an API dump its
    /// days. Empty for a roster.
    pub coverage: Vec<DayRange>,
    /// The measures the file carried (its columns, or what its API records
    /// hold): a later file replaces only these (metrics.md §1).
    pub measures: MeasureSet,
    /// Data rows (CSV), e-mails (plain list) or records (JSON) read.
    pub rows_read: u64,
    /// Of those, how many were rejected (each has a problem).
    pub rows_rejected: u64,
}

impl Import {
    /// An import of `file` with nothing read yet.
    pub fn new(file: &str, kind: FileKind) -> Import {
        Import {
            file: file.to_string(),
            kind,
            rows: Vec::new(),
            periods: Vec::new(),
            roster: Vec::new(),
            problems: Vec::new(),
            warnings: Vec::new(),
            columns: Vec::new(),
            ignored_columns: Vec::new(),
            likely_measures: Vec::new(),
            coverage: Vec::new(),
            measures: MeasureSet::empty(),
            rows_read: 0,
            rows_rejected: 0,
        }
    }
}

/// The first rows of a CSV file, for the app's column-mapping dialog.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CsvPreview {
    pub headers: Vec<String>,
    pub delimiter: char,
    /// 1-based line of the header.
    pub header_line: u64,
    /// Up to `max_rows` data rows, cells as written (trimmed).
    pub rows: Vec<Vec<String>>,
    /// The field each header maps to by the alias table.
    pub columns: Vec<ColumnUse>,
    /// Unrecognised columns that hold numbers in most of the preview's rows.
    pub likely_measures: Vec<LikelyMeasure>,
}

/// A file that cannot be read at all. Every message names the file and says
/// what to do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(tag = "error", rename_all = "kebab-case")]
pub enum ImportError {
    #[error(
        "{file}: no column says who the person is. A usage export or roster needs an e-mail column \
         (a header such as Email, User, Member or email_address). Columns seen: {}. \
         Rename the column, or map it as \"E-mail\" in the column dialog.",
        quoted_list(.seen)
    )]
    MissingIdentityColumn { file: String, seen: Vec<String> },
    #[error(
        "{file} does not say which days its numbers cover (it has no date column), so each row is a total \
         over the period the export was made for. Give that period: --period START..END on the command line \
         (e.g. --period 2026-11-01..2026-11-30; one day is START..START), or the period fields in the app."
    )]
    NeedsPeriod {
        file: String,
        columns: Vec<ColumnUse>,
    },
    #[error("{file}: the period {start}..{end} ends before it starts; give START..END with START on or before END")]
    InvalidPeriod {
        file: String,
        start: NaiveDate,
        end: NaiveDate,
    },
    #[error("{file} is not a file Scoreboard can read: {reason}")]
    UnknownFormat { file: String, reason: String },
    #[error("{file} is empty: it has no data rows to read")]
    Empty { file: String },
    #[error(
        "{file} is not UTF-8 text (the first bad byte is on line {line}). Export it again, or save it from \
         the spreadsheet as \"CSV UTF-8\", and load it again."
    )]
    NotUtf8 { file: String, line: u64 },
    #[error("{file} looks like JSON but cannot be read: {message}. Load the API response exactly as it was saved.")]
    InvalidJson {
        file: String,
        line: u64,
        message: String,
    },
}

fn quoted_list(items: &[String]) -> String {
    if items.is_empty() {
        return "none".to_string();
    }
    items
        .iter()
        .map(|s| format!("`{}`", text::shown(s)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Says what a file is, from its contents (the name is only used in messages).
pub fn detect_kind(file_name: &str, bytes: &[u8]) -> Result<FileKind, ImportError> {
    let text = text::decode(file_name, bytes)?;
    sniff(file_name, &text, &BTreeMap::new()).map(|s| s.kind())
}

/// Detects the kind of a file and reads it (an [`ImportStream`] fed at once).
pub fn import(file_name: &str, bytes: &[u8], opts: &ImportOptions) -> Result<Import, ImportError> {
    let mut stream = ImportStream::new(file_name, opts.clone())?;
    stream.size_hint(bytes.len());
    stream.feed(bytes);
    stream.finish()
}

/// [`import`], with the rows already in a table of the file's own
/// ([`ImportStream::finish_table`]): what a caller that keeps a
/// [`crate::UsageTable`] should use, with [`crate::UsageTable::merge`].
pub fn import_table(
    file_name: &str,
    bytes: &[u8],
    opts: &ImportOptions,
) -> Result<(Import, crate::UsageTable), ImportError> {
    let mut stream = ImportStream::new(file_name, opts.clone())?;
    stream.size_hint(bytes.len());
    stream.feed(bytes);
    stream.finish_table()
}

/// A file that is not streamed (JSON, rosters, UTF-16…), read whole.
pub(crate) fn import_whole(
    file_name: &str,
    bytes: &[u8],
    opts: &ImportOptions,
    usage_only: bool,
) -> Result<Import, ImportError> {
    let text = text::decode(file_name, bytes)?;
    // Decoded text is UTF-8 without a BOM, so the stream reads it in one go.
    let usage = |text: &str| {
        let mut stream = ImportStream::usage_csv(file_name, opts.clone())?;
        stream.feed(text.as_bytes());
        stream.finish()
    };
    if usage_only {
        return usage(&text);
    }
    match sniff(file_name, &text, &opts.column_overrides)? {
        Sniffed::Json(FileKind::EnterpriseApiJson, value) => {
            enterprise_api::import_value(file_name, &value, opts)
        }
        Sniffed::Json(_, value) => admin_api::import_value(file_name, &value, opts),
        Sniffed::PlainList => Ok(roster::parse_plain_list(file_name, &text)),
        Sniffed::Csv(FileKind::Roster) => roster::parse_csv_text(file_name, &text, opts),
        Sniffed::Csv(_) => usage(&text),
    }
}

/// Headers, delimiter, the first rows and the field each header maps to.
pub fn csv_preview(bytes: &[u8], max_rows: usize) -> Result<CsvPreview, ImportError> {
    const FILE: &str = "the file";
    let text = text::decode(FILE, bytes)?;
    let csv = read_csv(&text, Some(max_rows));
    if csv.headers.is_empty() {
        return Err(ImportError::Empty {
            file: FILE.to_string(),
        });
    }
    let mapping = columns::map_headers(&csv.headers, &BTreeMap::new());
    let likely_measures = columns::likely_measures(&mapping, csv.records.iter().map(|(_, r)| r));
    let columns = mapping.columns;
    Ok(CsvPreview {
        delimiter: char::from(csv.delimiter),
        header_line: csv.header_line,
        rows: csv
            .records
            .iter()
            .map(|(_, r)| r.iter().map(|c| c.trim().to_string()).collect())
            .collect(),
        headers: csv.headers,
        columns,
        likely_measures,
    })
}

/// How headers map to fields with the given overrides (for the column dialog).
pub fn column_uses(
    headers: &[String],
    overrides: &BTreeMap<String, Option<Field>>,
) -> Vec<ColumnUse> {
    columns::map_headers(headers, overrides).columns
}

enum Sniffed {
    Json(FileKind, Value),
    Csv(FileKind),
    PlainList,
}

impl Sniffed {
    fn kind(&self) -> FileKind {
        match self {
            Sniffed::Json(k, _) | Sniffed::Csv(k) => *k,
            Sniffed::PlainList => FileKind::Roster,
        }
    }
}

fn sniff(
    file: &str,
    text: &str,
    overrides: &BTreeMap<String, Option<Field>>,
) -> Result<Sniffed, ImportError> {
    let trimmed = text.trim_start();
    if trimmed.is_empty() {
        return Err(ImportError::Empty {
            file: file.to_string(),
        });
    }
    if trimmed.starts_with('{') || trimmed.starts_with('[') {
        let value: Value = serde_json::from_str(text).map_err(|e| ImportError::InvalidJson {
            file: file.to_string(),
            line: e.line() as u64,
            message: e.to_string(),
        })?;
        let kind = classify_json(file, &value)?;
        return Ok(Sniffed::Json(kind, value));
    }
    if roster::is_plain_list(text) {
        return Ok(Sniffed::PlainList);
    }
    let csv = read_csv(text, Some(0));
    if csv.headers.is_empty() {
        return Err(ImportError::Empty {
            file: file.to_string(),
        });
    }
    let mapping = columns::map_headers(&csv.headers, overrides);
    classify_csv(file, &csv.headers, &mapping).map(Sniffed::Csv)
}

pub(crate) fn classify_csv(
    file: &str,
    headers: &[String],
    m: &columns::Mapping,
) -> Result<FileKind, ImportError> {
    let identity = m.has(Field::Email) || m.has(Field::AccountId);
    let measures: Vec<Field> = m.index.keys().copied().filter(|f| f.is_measure()).collect();
    if identity && !measures.is_empty() {
        return Ok(FileKind::UsageCsv);
    }
    if identity {
        let usage_only: Vec<&str> = [Field::Day, Field::Model, Field::Product]
            .into_iter()
            .filter(|f| m.has(*f))
            .map(|f| m.header(f))
            .collect();
        if usage_only.is_empty() {
            return Ok(FileKind::Roster);
        }
        return Err(ImportError::UnknownFormat {
            file: file.to_string(),
            reason: format!(
                "it has a person column and {}, but no usage measure (sessions, lines accepted, commits, pull \
                 requests, edits, tokens or cost) and it is not a roster (a roster has no date, model or product \
                 column). Columns seen: {}.",
                quoted_list(&usage_only.iter().map(|s| s.to_string()).collect::<Vec<_>>()),
                quoted_list(headers)
            ),
        });
    }
    if headers.iter().any(|h| h.contains('@')) {
        return Err(ImportError::UnknownFormat {
            file: file.to_string(),
            reason: format!(
                "its first line ({}) looks like data, not a header row. Add a header row such as \
                 `email,sessions,lines_accepted` (usage) or `email,name,team` (roster).",
                quoted_list(headers)
            ),
        });
    }
    if !m.index.is_empty() {
        return Err(ImportError::MissingIdentityColumn {
            file: file.to_string(),
            seen: headers.to_vec(),
        });
    }
    Err(ImportError::UnknownFormat {
        file: file.to_string(),
        reason: format!(
            "none of its columns is one Scoreboard knows ({}). A usage export needs an e-mail column and at least \
             one measure (sessions, lines accepted, cost…); a roster needs an e-mail column; API responses are JSON.",
            quoted_list(headers)
        ),
    })
}

fn classify_record(v: &Value) -> Option<FileKind> {
    let o = v.as_object()?;
    if o.contains_key("actor") || o.contains_key("core_metrics") {
        return Some(FileKind::AdminApiJson);
    }
    let enterprise_user = o.get("user").and_then(|u| u.get("email_address")).is_some();
    if o.contains_key("claude_code_metrics") || enterprise_user {
        return Some(FileKind::EnterpriseApiJson);
    }
    None
}

fn classify_json(file: &str, v: &Value) -> Result<FileKind, ImportError> {
    let unknown = |reason: String| ImportError::UnknownFormat {
        file: file.to_string(),
        reason,
    };
    match v {
        Value::Object(o) => {
            if o.get("type").and_then(Value::as_str) == Some("error") {
                let err = o.get("error");
                let kind = err
                    .and_then(|e| e.get("type"))
                    .and_then(Value::as_str)
                    .unwrap_or("error");
                let msg = err
                    .and_then(|e| e.get("message"))
                    .and_then(Value::as_str)
                    .unwrap_or("");
                return Err(unknown(format!(
                    "it is an API error response ({kind}: {}), not usage data; fix the request and fetch again",
                    text::shown(msg)
                )));
            }
            if let Some(Value::Array(data)) = o.get("data") {
                if let Some(k) = data.iter().find_map(classify_record) {
                    return Ok(k);
                }
                if data.is_empty() {
                    // An empty page: only the Admin API envelope has `has_more`.
                    return Ok(if o.contains_key("has_more") {
                        FileKind::AdminApiJson
                    } else {
                        FileKind::EnterpriseApiJson
                    });
                }
                return Err(unknown(
                    "its `data` records have neither `actor`/`core_metrics` (Admin API Claude Code report) nor \
                     `claude_code_metrics`/`user.email_address` (Enterprise Analytics users report)"
                        .to_string(),
                ));
            }
            if let Some(k) = classify_record(v) {
                return Ok(k);
            }
            let keys: Vec<String> = o.keys().take(12).cloned().collect();
            Err(unknown(format!(
                "it is JSON with the keys {}, not an Admin API or Enterprise Analytics API response (those have a \
                 `data` array)",
                quoted_list(&keys)
            )))
        }
        Value::Array(items) => {
            let mut saw_page = false;
            for item in items {
                if let Some(Value::Array(data)) = item.get("data") {
                    saw_page = true;
                    if let Some(k) = data.iter().find_map(classify_record) {
                        return Ok(k);
                    }
                } else if let Some(k) = classify_record(item) {
                    return Ok(k);
                }
            }
            if items.is_empty() || saw_page {
                // No records at all: read as an (empty) Admin API report, which
                // says plainly what an empty answer means.
                return Ok(FileKind::AdminApiJson);
            }
            Err(unknown(
                "it is a JSON array whose items are neither Admin API records (`actor`, `core_metrics`) nor \
                 Enterprise Analytics records (`user`, `claude_code_metrics`) nor pages with a `data` array"
                    .to_string(),
            ))
        }
        other => Err(unknown(format!(
            "it is a JSON {}, not an API response object or array",
            match other {
                Value::Null => "null",
                Value::Bool(_) => "boolean",
                Value::Number(_) => "number",
                _ => "string",
            }
        ))),
    }
}

/// The data records of a JSON file: a page's `data`, a bare array of
/// records, or an array of pages (their `data` concatenated). Also says
/// whether the last page announced more pages.
pub(crate) fn json_records(v: &Value) -> (Vec<&Value>, bool) {
    fn page_more(o: &serde_json::Map<String, Value>) -> bool {
        o.get("has_more").and_then(Value::as_bool) == Some(true)
    }
    match v {
        Value::Object(o) => match o.get("data") {
            Some(Value::Array(data)) => (data.iter().collect(), page_more(o)),
            _ => (vec![v], false),
        },
        Value::Array(items) => {
            let mut out = Vec::new();
            let mut more = false;
            for item in items {
                match item.as_object().and_then(|o| o.get("data").map(|d| (o, d))) {
                    Some((o, Value::Array(data))) => {
                        out.extend(data.iter());
                        more = page_more(o);
                    }
                    _ => out.push(item),
                }
            }
            (out, more)
        }
        _ => (Vec::new(), false),
    }
}

/// A CSV file read into memory: the header and the non-blank records after
/// it, each with the 1-based line it starts on.
pub(crate) struct CsvText {
    pub delimiter: u8,
    pub header_line: u64,
    pub headers: Vec<String>,
    pub records: Vec<(u64, csv::StringRecord)>,
    /// Records the csv reader could not read (line, message).
    pub errors: Vec<(u64, String)>,
}

/// Reads a CSV text (delimiter sniffed from the header line). Blank lines and
/// lines of empty cells are skipped. `limit` caps the data records kept.
pub(crate) fn read_csv(text: &str, limit: Option<usize>) -> CsvText {
    let (delimiter, sep_line) = text::sniff_delimiter(text);
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter)
        .from_reader(text.as_bytes());
    let mut out = CsvText {
        delimiter,
        header_line: 0,
        headers: Vec::new(),
        records: Vec::new(),
        errors: Vec::new(),
    };
    let mut skip_sep = sep_line;
    let mut lines = text::LineCounter::new(text);
    for result in reader.records() {
        match result {
            Ok(record) => {
                if record.iter().all(|c| c.trim().is_empty()) {
                    continue;
                }
                let line = record.position().map_or(0, |p| lines.line_at(p.byte()));
                if skip_sep {
                    skip_sep = false;
                    if record
                        .get(0)
                        .is_some_and(|c| c.trim().to_ascii_lowercase().starts_with("sep="))
                    {
                        continue;
                    }
                }
                if out.headers.is_empty() && out.header_line == 0 {
                    out.header_line = line;
                    out.headers = record
                        .iter()
                        .map(|h| h.trim().trim_start_matches('\u{feff}').to_string())
                        .collect();
                    continue;
                }
                if limit.is_some_and(|l| out.records.len() >= l) {
                    break;
                }
                out.records.push((line, record));
            }
            Err(e) => {
                let line = e.position().map_or(0, |p| lines.line_at(p.byte()));
                out.errors.push((line, e.to_string()));
                if limit.is_some_and(|l| out.records.len() >= l) {
                    break;
                }
            }
        }
    }
    out
}

/// A period that ends before it starts is refused before anything is read.
pub(crate) fn check_period(file: &str, opts: &ImportOptions) -> Result<(), ImportError> {
    match opts.period {
        Some((start, end)) if start > end => Err(ImportError::InvalidPeriod {
            file: file.to_string(),
            start,
            end,
        }),
        _ => Ok(()),
    }
}

impl CsvText {
    /// The data rows that have as many fields as the header (extra empty
    /// fields are tolerated), with their lines. Every row counts as read; a
    /// row the reader could not read or with the wrong number of fields is a
    /// rejected row with a problem in `import`.
    pub(crate) fn rows_to_use(
        &self,
        file: &str,
        import: &mut Import,
    ) -> Vec<(u64, &csv::StringRecord)> {
        let width = self.headers.len();
        for (line, err) in &self.errors {
            import.rows_read += 1;
            import.rows_rejected += 1;
            import.problems.push(Problem::new(
                file,
                Some(*line),
                format!("cannot read this row: {err}"),
            ));
        }
        let mut good = Vec::with_capacity(self.records.len());
        for (line, record) in &self.records {
            import.rows_read += 1;
            let n = record.len();
            if n < width || record.iter().skip(width).any(|c| !c.trim().is_empty()) {
                import.rows_rejected += 1;
                import.problems.push(Problem::new(
                    file,
                    Some(*line),
                    format!(
                        "this row has {n} fields but the header (line {}) has {width}; a delimiter is missing or \
                         extra (a value containing `{}` must be in double quotes)",
                        self.header_line,
                        char::from(self.delimiter).escape_default()
                    ),
                ));
                continue;
            }
            good.push((*line, record));
        }
        good
    }
}

/// Deserialises API records one by one, so one unreadable record is a
/// problem and the others are kept. Counts them in `import`.
pub(crate) fn read_records<T: serde::de::DeserializeOwned>(
    file: &str,
    items: Vec<&Value>,
    import: &mut Import,
) -> Vec<T> {
    let mut records = Vec::with_capacity(items.len());
    for (i, item) in items.into_iter().enumerate() {
        import.rows_read += 1;
        match T::deserialize(item) {
            Ok(r) => records.push(r),
            Err(e) => {
                import.rows_rejected += 1;
                import.problems.push(Problem::new(
                    file,
                    None,
                    format!("record {}: cannot be read: {e}", i + 1),
                ));
            }
        }
    }
    records
}
