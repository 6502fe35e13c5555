//! Bytes → text, and the cell readers every CSV parser shares: numbers with
//! thousands separators and `$`, ISO dates and timestamps, e-mail checks.

use std::borrow::Cow;

use chrono::{DateTime, NaiveDate, NaiveDateTime};

use super::ImportError;

/// Decodes a file's bytes: UTF-8 (with or without BOM) or UTF-16 with a BOM
/// (spreadsheets' "Unicode text"). Anything else is a clear error, never a
/// guess at a legacy code page.
pub(crate) fn decode(file: &str, bytes: &[u8]) -> Result<String, ImportError> {
    if let Some(kind) = binary_kind(bytes) {
        return Err(ImportError::UnknownFormat {
            file: file.to_string(),
            reason: kind.to_string(),
        });
    }
    if let Some(rest) = bytes.strip_prefix(&[0xFF, 0xFE]) {
        return decode_utf16(file, rest, u16::from_le_bytes);
    }
    if let Some(rest) = bytes.strip_prefix(&[0xFE, 0xFF]) {
        return decode_utf16(file, rest, u16::from_be_bytes);
    }
    let bytes = bytes.strip_prefix(&[0xEF, 0xBB, 0xBF]).unwrap_or(bytes);
    if bytes.contains(&0) {
        return Err(ImportError::UnknownFormat {
            file: file.to_string(),
            reason: "it contains binary data (NUL bytes), not text".to_string(),
        });
    }
    match std::str::from_utf8(bytes) {
        Ok(s) => Ok(s.to_string()),
        Err(e) => {
            let upto = e.valid_up_to();
            let line = 1 + bytes[..upto].iter().filter(|&&b| b == b'\n').count() as u64;
            Err(ImportError::NotUtf8 {
                file: file.to_string(),
                line,
            })
        }
    }
}

fn decode_utf16(file: &str, bytes: &[u8], word: fn([u8; 2]) -> u16) -> Result<String, ImportError> {
    let units: Vec<u16> = bytes
        .chunks(2)
        .map(|c| word([c[0], *c.get(1).unwrap_or(&0)]))
        .collect();
    let mut out = String::with_capacity(units.len());
    let mut line = 1u64;
    for c in char::decode_utf16(units) {
        match c {
            Ok('\0') => {
                return Err(ImportError::UnknownFormat {
                    file: file.to_string(),
                    reason: "it contains binary data (NUL characters), not text".to_string(),
                })
            }
            Ok(c) => {
                if c == '\n' {
                    line += 1;
                }
                out.push(c);
            }
            Err(_) => {
                return Err(ImportError::NotUtf8 {
                    file: file.to_string(),
                    line,
                })
            }
        }
    }
    Ok(out)
}

/// Recognises common non-text files by their first bytes, to say what they are.
pub(crate) fn binary_kind(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(b"PK\x03\x04") {
        Some("it is a zip archive or a spreadsheet (.xlsx), not CSV; open it and save it as \"CSV UTF-8\", or export CSV again")
    } else if bytes.starts_with(&[0x1F, 0x8B]) {
        Some("it is gzip-compressed; unpack it first")
    } else if bytes.starts_with(b"%PDF") {
        Some("it is a PDF, not CSV or JSON")
    } else if bytes.starts_with(&[0xD0, 0xCF, 0x11, 0xE0]) {
        Some("it is an old Excel (.xls) file, not CSV; open it and save it as \"CSV UTF-8\"")
    } else {
        None
    }
}

/// The first line that holds something (a header, or an e-mail in a plain list).
pub(crate) fn first_content_line(text: &str) -> Option<&str> {
    text.lines().map(str::trim).find(|l| !l.is_empty())
}

/// Picks the delimiter from the header line: the most frequent of `,` `;`
/// and tab outside quotes (comma on a tie or when there is none). Excel's
/// `sep=;` first line is honoured; the second value says the file has one.
pub(crate) fn sniff_delimiter(text: &str) -> (u8, bool) {
    let Some(first) = first_content_line(text) else {
        return (b',', false);
    };
    if let Some(rest) = first
        .strip_prefix("sep=")
        .or_else(|| first.strip_prefix("SEP="))
    {
        let d = match rest.trim_matches('"') {
            "\\t" | "\t" => Some(b'\t'),
            r if r.len() == 1 && r.is_ascii() => r.bytes().next(),
            _ => None,
        };
        if let Some(d) = d {
            return (d, true);
        }
    }
    let mut counts = [0usize; 3];
    let mut quoted = false;
    for c in first.chars() {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => counts[0] += 1,
            ';' if !quoted => counts[1] += 1,
            '\t' if !quoted => counts[2] += 1,
            _ => {}
        }
    }
    let delims = [b',', b';', b'\t'];
    let mut best = 0;
    for i in 1..3 {
        if counts[i] > counts[best] {
            best = i;
        }
    }
    (delims[best], false)
}

/// A cell that says "nothing here": empty, a dash, n/a.
pub(crate) fn is_blank(cell: &str) -> bool {
    let t = cell.trim();
    // Most cells are numbers; no blank word starts with a digit.
    if t.as_bytes().first().is_some_and(u8::is_ascii_digit) {
        return false;
    }
    t.is_empty()
        || matches!(t, "-" | "–" | "—")
        || ["n/a", "na", "null", "none", "nan"]
            .iter()
            .any(|w| t.eq_ignore_ascii_case(w))
}

/// Strips `$`, `USD`, spaces and thousands separators; keeps sign, digits,
/// one `.` decimal point and an exponent. `1,234.5` / `1 234,5` / `1.234,5`
/// / `$1,234` all work; a single comma followed by 1–2 digits is a decimal
/// comma, followed by 3 digits a thousands separator.
fn clean_number(cell: &str) -> Result<Cow<'_, str>, String> {
    let plain = cell.trim();
    if is_plain_number(plain) {
        // Nothing to strip or reinterpret: the rules below would return it unchanged.
        return Ok(Cow::Borrowed(plain));
    }
    let mut t = plain.to_string();
    if t.contains('%') {
        return Err("is a percentage, not a number".to_string());
    }
    for sym in ["US$", "USD", "usd", "$"] {
        t = t.replace(sym, "");
    }
    let t: String = t
        .chars()
        .filter(|c| {
            !c.is_whitespace() && !matches!(c, '\u{a0}' | '\u{202f}' | '\u{2009}' | '\'' | '’')
        })
        .collect();
    if t.is_empty() {
        return Err("is not a number".to_string());
    }
    let commas = t.matches(',').count();
    let dots = t.matches('.').count();
    let cleaned = if commas > 0 && dots > 0 {
        // The later of the two is the decimal separator.
        let (last_comma, last_dot) = (t.rfind(',').unwrap_or(0), t.rfind('.').unwrap_or(0));
        if last_dot > last_comma {
            t.replace(',', "")
        } else {
            t.replace('.', "").replace(',', ".")
        }
    } else if commas == 1 {
        let after = t.rsplit(',').next().unwrap_or("");
        if after.len() == 3 {
            t.replace(',', "")
        } else {
            t.replace(',', ".")
        }
    } else if commas > 1 {
        let groups: Vec<&str> = t.split(',').collect();
        if groups[1..].iter().all(|g| g.len() == 3) {
            t.replace(',', "")
        } else {
            return Err("has commas that are not thousands separators".to_string());
        }
    } else if dots > 1 {
        let groups: Vec<&str> = t.split('.').collect();
        if groups[1..].iter().all(|g| g.len() == 3) {
            t.replace('.', "")
        } else {
            return Err("is not a number".to_string());
        }
    } else {
        t
    };
    let cleaned = cleaned
        .strip_prefix('+')
        .map(str::to_string)
        .unwrap_or(cleaned);
    if !cleaned
        .chars()
        .all(|c| c.is_ascii_digit() || matches!(c, '.' | '-' | 'e' | 'E' | '+'))
    {
        return Err("is not a number".to_string());
    }
    Ok(Cow::Owned(cleaned))
}

/// `123`, `-4`, `12.50`: an optional minus, digits, at most one `.` with
/// digits on both sides. [`clean_number`] returns such text as it is, so it
/// can skip its allocations (the common case: a million-row export has
/// millions of such cells).
fn is_plain_number(t: &str) -> bool {
    let b = t.strip_prefix('-').unwrap_or(t).as_bytes();
    let (int, frac) = match b.iter().position(|&c| c == b'.') {
        Some(i) => (&b[..i], Some(&b[i + 1..])),
        None => (b, None),
    };
    !int.is_empty()
        && int.iter().all(u8::is_ascii_digit)
        && frac.is_none_or(|f| !f.is_empty() && f.iter().all(u8::is_ascii_digit))
}

/// A count: whole and not negative. Blank cells read as 0.
pub(crate) fn parse_count(cell: &str) -> Result<u64, String> {
    if let Some(n) = plain_count(cell.as_bytes()) {
        return Ok(n);
    }
    if is_blank(cell) {
        return Ok(0);
    }
    let t = clean_number(cell)?;
    if let Ok(n) = t.parse::<u64>() {
        return Ok(n);
    }
    let v: f64 = t.parse().map_err(|_| "is not a number".to_string())?;
    if !v.is_finite() {
        return Err("is not a number".to_string());
    }
    if v < 0.0 {
        return Err("is negative".to_string());
    }
    if v.fract() != 0.0 {
        return Err("is not a whole number".to_string());
    }
    // `as` saturates for values beyond u64::MAX.
    Ok(v as u64)
}

/// Up to 19 ASCII digits and nothing else (almost every count cell), read
/// without the checks the general reader needs.
fn plain_count(b: &[u8]) -> Option<u64> {
    if b.is_empty() || b.len() > 19 {
        return None;
    }
    b.iter().try_fold(0u64, |n, &c| {
        c.is_ascii_digit().then(|| n * 10 + u64::from(c - b'0'))
    })
}

/// A US-dollar amount in micro-dollars, as `parse_usd` then `usd_to_micros`
/// give it. `12.34` (up to 9 digits, a point and up to 6 decimals: almost
/// every cost cell) is read exactly without a float; for such a number the
/// float route gives the same integer.
pub(crate) fn parse_usd_micros(cell: &str) -> Result<Option<i64>, String> {
    let b = cell.as_bytes();
    let (int, frac) = match b.iter().position(|&c| c == b'.') {
        Some(i) => (&b[..i], &b[i + 1..]),
        None => (b, &b[..0]),
    };
    if (1..=9).contains(&int.len())
        && frac.len() <= 6
        && (!frac.is_empty() || int.len() == b.len())
        && int.iter().chain(frac).all(u8::is_ascii_digit)
    {
        let digits = |d: &[u8]| d.iter().fold(0i64, |n, &c| n * 10 + i64::from(c - b'0'));
        let scale = 10i64.pow(6 - frac.len() as u32);
        return Ok(Some(digits(int) * 1_000_000 + digits(frac) * scale));
    }
    Ok(parse_usd(cell)?.map(crate::model::usd_to_micros))
}

/// A US-dollar amount (may be negative, e.g. a refund). `None` for a blank cell.
pub(crate) fn parse_usd(cell: &str) -> Result<Option<f64>, String> {
    if is_blank(cell) {
        return Ok(None);
    }
    let t = clean_number(cell)?;
    let v: f64 = t
        .parse()
        .map_err(|_| "is not an amount in US dollars".to_string())?;
    if !v.is_finite() {
        return Err("is not an amount in US dollars".to_string());
    }
    Ok(Some(v))
}

/// A UTC day written as text: the one reader of days in the project (files,
/// API records, the CLI's `--from`/`--to`, the read API's `from`/`to`, the
/// stores' own columns, the page's inputs and URL), so every door takes the
/// same forms. An ISO date (`YYYY-MM-DD`, also `YYYY/MM/DD`, zero-padding
/// optional) or timestamp; a timestamp's day is its UTC date (one without a
/// zone is taken as UTC, as every source reports UTC). Surrounding blanks are
/// ignored. The error says what was expected, for the caller to name the field.
pub fn parse_day(cell: &str) -> Result<NaiveDate, String> {
    let t = cell.trim();
    let err = || "is not an ISO date (YYYY-MM-DD) or timestamp (YYYY-MM-DDTHH:MM:SSZ)".to_string();
    if t.is_empty() {
        return Err("is empty; a date is needed".to_string());
    }
    if t.len() == 10 {
        if let Some(d) = iso_day(t.as_bytes()) {
            return Ok(d);
        }
        for fmt in ["%Y-%m-%d", "%Y/%m/%d"] {
            if let Ok(d) = NaiveDate::parse_from_str(t, fmt) {
                return Ok(d);
            }
        }
        return Err(err());
    }
    if let Ok(dt) = DateTime::parse_from_rfc3339(t) {
        return Ok(dt.naive_utc().date());
    }
    let with_t = t.replacen(' ', "T", 1);
    if let Ok(dt) = DateTime::parse_from_rfc3339(&with_t) {
        return Ok(dt.naive_utc().date());
    }
    let mut naive = with_t.as_str();
    for suffix in ["Z", "z", "TUTC", "UTC", " UTC", "GMT", " GMT"] {
        if let Some(rest) = naive.strip_suffix(suffix) {
            naive = rest.trim_end();
            break;
        }
    }
    let naive = naive.trim_end_matches('T');
    for fmt in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M"] {
        if let Ok(dt) = NaiveDateTime::parse_from_str(naive, fmt) {
            return Ok(dt.date());
        }
    }
    for fmt in ["%Y-%m-%d", "%Y/%m/%d"] {
        if let Ok(d) = NaiveDate::parse_from_str(naive, fmt) {
            return Ok(d);
        }
    }
    Err(err())
}

/// `YYYY-MM-DD` read directly (the form almost every row has); `None` sends
/// the cell through the general parser, which also words the error.
pub(crate) fn iso_day(b: &[u8]) -> Option<NaiveDate> {
    let digits = |r: std::ops::Range<usize>| -> Option<u32> {
        b.get(r)?.iter().try_fold(0u32, |n, &c| {
            c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0'))
        })
    };
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let year = i32::try_from(digits(0..4)?).ok()?;
    NaiveDate::from_ymd_opt(year, digits(5..7)?, digits(8..10)?)
}

/// Loose e-mail check for identities: one `@` with text on both sides, a dot
/// in the domain, no spaces.
pub(crate) fn is_email(s: &str) -> bool {
    let t = s.trim();
    let Some((local, domain)) = t.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && !domain.is_empty()
        && !domain.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !t
            .chars()
            .any(|c| c.is_whitespace() || matches!(c, ',' | ';' | '<' | '>' | '"'))
}

/// The address in `Ana Lima <ana@example.com>` or `mailto:ana@example.com`;
/// `None` when the text is not written that way.
pub(crate) fn email_in(s: &str) -> Option<&str> {
    let t = s.trim();
    if let (Some(open), Some(close)) = (t.rfind('<'), t.rfind('>')) {
        if open < close {
            let inner = t[open + 1..close].trim();
            if inner.contains('@') {
                return Some(inner.strip_prefix("mailto:").unwrap_or(inner));
            }
        }
    }
    t.strip_prefix("mailto:").map(str::trim)
}

/// Shortens a cell for a message, so a pasted megabyte never floods the UI.
pub(crate) fn shown(cell: &str) -> String {
    const MAX: usize = 60;
    let t = cell.trim();
    if t.chars().count() <= MAX {
        t.to_string()
    } else {
        let cut: String = t.chars().take(MAX).collect();
        format!("{cut}…")
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests state their expectations by unwrapping
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn counts_with_separators_and_symbols() {
        assert_eq!(parse_count("1,234"), Ok(1234));
        assert_eq!(parse_count("1 234"), Ok(1234));
        assert_eq!(parse_count("1\u{a0}234"), Ok(1234));
        assert_eq!(parse_count("1,234,567"), Ok(1_234_567));
        assert_eq!(parse_count("1.234.567"), Ok(1_234_567));
        assert_eq!(parse_count("12.0"), Ok(12));
        assert_eq!(parse_count("1.2E+03"), Ok(1200));
        assert_eq!(parse_count(""), Ok(0));
        assert_eq!(parse_count("-"), Ok(0));
        assert!(parse_count("12.5").is_err());
        assert!(parse_count("-3").is_err());
        assert!(parse_count("abc").is_err());
        assert!(parse_count("NaN").is_ok()); // blank marker
        assert!(parse_count("inf").is_err());
        assert!(parse_count("92%").is_err());
    }

    /// The exact reading of plain amounts gives what the float route gives.
    #[test]
    fn plain_amounts_read_exactly_as_the_float_route_reads_them() {
        for cell in [
            "0",
            "12",
            "12.3",
            "12.34",
            "0.000001",
            "999999999.999999",
            "1.005",
            "4.35",
            "0.07",
            "123456789.123456",
            "5.",
            ".5",
            "1234567890.5",
            "12.3456789",
        ] {
            let float = parse_usd(cell).map(|v| v.map(crate::model::usd_to_micros));
            assert_eq!(parse_usd_micros(cell), float, "{cell}");
        }
        let mut x = 7u64;
        for _ in 0..200_000 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let int = (x >> 20) % 1_000_000_000;
            let places = (x % 7) as usize;
            let frac = (x >> 5) % 10u64.pow(places as u32);
            let cell = if places == 0 {
                int.to_string()
            } else {
                format!("{int}.{frac:0places$}")
            };
            let float = parse_usd(&cell).map(|v| v.map(crate::model::usd_to_micros));
            assert_eq!(parse_usd_micros(&cell), float, "{cell}");
        }
    }

    #[test]
    fn dollar_amounts() {
        assert_eq!(parse_usd("$1,234.50"), Ok(Some(1234.5)));
        assert_eq!(parse_usd("12,50"), Ok(Some(12.5)));
        assert_eq!(parse_usd("1.234,50"), Ok(Some(1234.5)));
        assert_eq!(parse_usd("USD 3.10"), Ok(Some(3.1)));
        assert_eq!(parse_usd("-2.00"), Ok(Some(-2.0)));
        assert_eq!(parse_usd(""), Ok(None));
        assert!(parse_usd("€3").is_err());
        assert!(parse_usd("1e999").is_err());
    }

    /// Every form some reader of days took before there was one (the CSV and
    /// API parsers, the CLI, the read API's `from`/`to`, the stores, the
    /// page's date inputs and `as_of` URL parameter): the one reader takes
    /// them all.
    #[test]
    fn parse_day_takes_every_form_any_reader_of_days_took() {
        let accepted = [
            // ISO day: files, API records, CLI, read API, stores, page inputs.
            ("2026-11-03", "2026-11-03"),
            // Blanks around it: the read API and the page trimmed.
            (" 2026-11-03 ", "2026-11-03"),
            ("\t2026-11-03\n", "2026-11-03"),
            // Unpadded month and day: chrono's `%Y-%m-%d` (read API, page, stores) took them.
            ("2026-1-3", "2026-01-03"),
            // Slashes: the CSV exports.
            ("2026/11/03", "2026-11-03"),
            ("2026/1/3", "2026-01-03"),
            // Timestamps (Admin API records, CSV exports): their UTC day.
            ("2026-11-03T00:00:00Z", "2026-11-03"),
            ("2026-11-03T10:00:00z", "2026-11-03"),
            ("2026-11-03T10:00:00.123Z", "2026-11-03"),
            ("2026-11-03T23:30:00-05:00", "2026-11-04"),
            ("2026-11-03 23:30:00+00:00", "2026-11-03"),
            ("2026-11-03T01:00:00+02:00", "2026-11-02"),
            // Timestamps without a zone, or with a named UTC: taken as UTC.
            ("2026-11-03 10:00:00", "2026-11-03"),
            ("2026-11-03T10:00:00.123", "2026-11-03"),
            ("2026-11-03T10:00", "2026-11-03"),
            ("2026-11-03 10:00:00 UTC", "2026-11-03"),
            ("2026-11-03 10:00:00 GMT", "2026-11-03"),
            ("2026-11-03T10:00:00UTC", "2026-11-03"),
            // Leap day.
            ("2024-02-29", "2024-02-29"),
        ];
        for (text, day) in accepted {
            assert_eq!(parse_day(text), Ok(d(day)), "{text:?}");
        }
        let refused = [
            "",
            "   ",
            "11/03/2026",
            "03.11.2026",
            "2026-13-03",
            "2026-02-29",
            "2026-00-10",
            "2026-1a-10",
            "20261103",
            "yesterday",
        ];
        for text in refused {
            assert!(parse_day(text).is_err(), "{text:?}");
        }
    }

    #[test]
    fn plain_cells_read_the_same_on_the_fast_path() {
        // The shortcut for plain numbers and `YYYY-MM-DD` must agree with the general rules.
        assert_eq!(parse_count(" 42 "), Ok(42));
        assert_eq!(parse_count("007"), Ok(7));
        assert_eq!(parse_count("18446744073709551615"), Ok(u64::MAX));
        assert!(parse_count("-0.5").is_err());
        assert_eq!(parse_count("1."), Ok(1));
        assert_eq!(parse_count(".0"), Ok(0));
        assert_eq!(parse_usd("4.70"), Ok(Some(4.7)));
        assert_eq!(parse_usd("-0.25"), Ok(Some(-0.25)));
        assert_eq!(parse_usd("1.234"), Ok(Some(1.234)));
        assert_eq!(parse_day("2024-02-29"), Ok(d("2024-02-29")));
        assert!(parse_day("2026-02-29").is_err());
        assert!(parse_day("2026-00-10").is_err());
        assert!(parse_day("2026-1a-10").is_err());
        assert!(is_plain_number("12.50") && is_plain_number("-3") && !is_plain_number("1,234"));
        assert!(!is_plain_number("") && !is_plain_number("-") && !is_plain_number("1.2.3"));
    }

    #[test]
    fn delimiter_sniffing() {
        assert_eq!(sniff_delimiter("a;b;c\n1;2;3"), (b';', false));
        assert_eq!(sniff_delimiter("a\tb\tc"), (b'\t', false));
        assert_eq!(sniff_delimiter("\"a;x\",b,c"), (b',', false));
        assert_eq!(sniff_delimiter("sep=;\na;b"), (b';', true));
        assert_eq!(sniff_delimiter("email"), (b',', false));
    }

    #[test]
    fn display_name_and_mailto_forms() {
        assert_eq!(
            email_in("Ana Lima <ana@example.com>"),
            Some("ana@example.com")
        );
        assert_eq!(email_in("mailto:ana@example.com"), Some("ana@example.com"));
        assert_eq!(email_in("ana@example.com"), None);
        assert_eq!(email_in("a > b < c"), None);
    }

    #[test]
    fn emails() {
        assert!(is_email("Dev@Example.com"));
        assert!(!is_email("ci-bot"));
        assert!(!is_email("a@b"));
        assert!(!is_email("a b@c.com"));
    }
}

/// 1-based physical line numbers of CSV records.
///
/// `csv::Position::line` (csv 1.4) is taken before the reader skips the
/// previous record's terminator and any blank lines, so it is one or more
/// lines early after a blank line, and it does not advance on CRLF files. The
/// byte offset has the same origin; this walks from it past line breaks to
/// the record's first character and counts the breaks before it (`\n`,
/// `\r\n` and a lone `\r` each count once; a quoted newline counts too).
/// Records arrive in order, so the walk is incremental: linear overall.
pub(crate) struct LineCounter<'a> {
    bytes: &'a [u8],
    pos: usize,
    line: u64,
}

impl<'a> LineCounter<'a> {
    pub(crate) fn new(text: &'a str) -> LineCounter<'a> {
        LineCounter {
            bytes: text.as_bytes(),
            pos: 0,
            line: 1,
        }
    }

    /// The line of the record whose `csv::Position::byte` is `byte`.
    pub(crate) fn line_at(&mut self, byte: u64) -> u64 {
        let len = self.bytes.len();
        let mut start = usize::try_from(byte).unwrap_or(len).min(len);
        while start < len && matches!(self.bytes[start], b'\n' | b'\r') {
            start += 1;
        }
        if start < self.pos {
            self.pos = 0;
            self.line = 1;
        }
        while self.pos < start {
            match self.bytes[self.pos] {
                b'\n' => self.line += 1,
                b'\r' if self.bytes.get(self.pos + 1) != Some(&b'\n') => self.line += 1,
                _ => {}
            }
            self.pos += 1;
        }
        self.line
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests state their expectations by unwrapping
mod line_tests {
    use super::LineCounter;

    fn lines(text: &str) -> Vec<(u64, String)> {
        let mut counter = LineCounter::new(text);
        let mut r = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(text.as_bytes());
        r.records()
            .map(|rec| {
                let rec = rec.unwrap();
                let byte = rec.position().unwrap().byte();
                (counter.line_at(byte), rec.get(0).unwrap().to_string())
            })
            .collect()
    }

    #[test]
    fn blank_lines_crlf_and_quoted_newlines_are_counted() {
        let got = lines("\n\na,b\r\n\r\nc,\"d\r\n\ne\"\n\nm,1\rn,2\r\r\nz");
        let want = [(3, "a"), (5, "c"), (9, "m"), (10, "n"), (12, "z")];
        assert_eq!(got, want.map(|(l, s)| (l, s.to_string())).to_vec());
    }
}
