//! The model price table: data, not code (metrics.md §5, sources.md §7).
//!
//! It is only used to *estimate* a cost where a source gives tokens and a
//! model but no cost. The built-in table is `core/data/prices.csv`; a user can
//! load an edited copy through [`PriceTable::parse`]. Prices are kept as exact
//! integers (micro-dollars per million tokens, i.e. pico-dollars per token),
//! so an estimate is integer arithmetic with one rounding at the end.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::model::MicroUsd;

/// The text of the built-in price table.
pub const BUILTIN_PRICES_CSV: &str = include_str!("../data/prices.csv");

/// The four rates of one model, in micro-dollars per million tokens
/// (USD per million tokens × 10⁶: `$6.25` is `6_250_000`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelPrice {
    pub input: u64,
    pub output: u64,
    pub cache_read: u64,
    /// Cache creation, at the 5-minute cache write price.
    pub cache_write: u64,
}

impl ModelPrice {
    /// Cost in micro-dollars of the given token counts, rounded half up once.
    pub fn cost_micros(
        &self,
        input: u64,
        output: u64,
        cache_read: u64,
        cache_creation: u64,
    ) -> MicroUsd {
        let pico = u128::from(input) * u128::from(self.input)
            + u128::from(output) * u128::from(self.output)
            + u128::from(cache_read) * u128::from(self.cache_read)
            + u128::from(cache_creation) * u128::from(self.cache_write);
        let micros = (pico + 500_000) / 1_000_000;
        MicroUsd::try_from(micros).unwrap_or(MicroUsd::MAX)
    }
}

/// A price table could not be read. Messages name the line and what to fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PriceError {
    #[error(
        "the price table has no header line; it needs `model,input,output,cache_read,cache_write`"
    )]
    Empty,
    #[error("the price table has no `{column}` column; its header must be `model,input,output,cache_read,cache_write`")]
    MissingColumn { column: &'static str },
    #[error("price table line {line}: {message}")]
    Line { line: u64, message: String },
}

/// Model id (normalised) → prices. Build it with [`PriceTable::builtin`] or
/// [`PriceTable::parse`].
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct PriceTable {
    prices: BTreeMap<String, ModelPrice>,
}

const COLUMNS: [&str; 5] = ["model", "input", "output", "cache_read", "cache_write"];

/// Model family words that may come without the `claude-` prefix
/// (`Opus 4.8` in a spend report's model column).
const FAMILIES: [&str; 5] = ["opus", "sonnet", "haiku", "fable", "mythos"];

impl PriceTable {
    /// The table shipped with Scoreboard (`core/data/prices.csv`).
    pub fn builtin() -> PriceTable {
        // The shipped file is checked by a unit test; should it ever fail to
        // parse, an empty table (every estimate "unknown model") is the honest
        // fallback, never a panic.
        PriceTable::parse(BUILTIN_PRICES_CSV).unwrap_or_default()
    }

    /// Reads a price table: CSV with the header
    /// `model,input,output,cache_read,cache_write` (any column order, extra
    /// columns ignored), prices in USD per million tokens, `#` comment lines.
    /// A model listed twice (after normalisation) is an error, so an edited
    /// table never silently keeps the wrong row.
    pub fn parse(text: &str) -> Result<PriceTable, PriceError> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        // Comment lines become blank lines rather than using the csv reader's
        // comment option, which does not count them in line numbers.
        let text: String = text
            .split('\n')
            .map(|l| {
                if l.trim_start().starts_with('#') {
                    ""
                } else {
                    l
                }
            })
            .collect::<Vec<_>>()
            .join("\n");
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .trim(csv::Trim::All)
            .from_reader(text.as_bytes());
        let mut lines = crate::parse::text::LineCounter::new(&text);
        let mut records = reader.records();
        let header = loop {
            match records.next() {
                None => return Err(PriceError::Empty),
                Some(Err(e)) => return Err(csv_error(&e, &mut lines)),
                Some(Ok(r)) if r.iter().all(str::is_empty) => continue,
                Some(Ok(r)) => break r,
            }
        };
        let mut index = [0usize; 5];
        for (slot, column) in index.iter_mut().zip(COLUMNS) {
            *slot = header
                .iter()
                .position(|h| h.trim().eq_ignore_ascii_case(column))
                .ok_or(PriceError::MissingColumn { column })?;
        }
        let mut prices = BTreeMap::new();
        let mut seen_on: BTreeMap<String, u64> = BTreeMap::new();
        for record in records {
            let record = record.map_err(|e| csv_error(&e, &mut lines))?;
            if record.iter().all(str::is_empty) {
                continue;
            }
            let line = record.position().map_or(0, |p| lines.line_at(p.byte()));
            let cell = |i: usize| record.get(index[i]).unwrap_or("");
            let raw_model = cell(0);
            if raw_model.is_empty() {
                return Err(PriceError::Line {
                    line,
                    message: "the model column is empty".into(),
                });
            }
            let mut rates = [0u64; 4];
            for (k, rate) in rates.iter_mut().enumerate() {
                let value = cell(k + 1);
                *rate = parse_rate(value).ok_or_else(|| PriceError::Line {
                    line,
                    message: format!(
                        "`{value}` in column `{}` is not a price in USD per million tokens (write e.g. 3 or 0.30)",
                        COLUMNS[k + 1]
                    ),
                })?;
            }
            let model = PriceTable::normalise_model(raw_model);
            if let Some(first) = seen_on.get(&model) {
                return Err(PriceError::Line {
                    line,
                    message: format!("model `{raw_model}` is already listed on line {first}; keep one row per model"),
                });
            }
            seen_on.insert(model.clone(), line);
            prices.insert(
                model,
                ModelPrice {
                    input: rates[0],
                    output: rates[1],
                    cache_read: rates[2],
                    cache_write: rates[3],
                },
            );
        }
        Ok(PriceTable { prices })
    }

    /// Normalises a model id as sources write it: lower case; a trailing
    /// `[1m]`-style tag, a `-YYYYMMDD` date, `-latest`, a Vertex `@date` and the
    /// Bedrock `…anthropic.` prefix / `-v1:0` suffix are dropped; spaces, dots
    /// and underscores become `-`; a bare family (`Opus 4.8`) gets `claude-`.
    ///
    /// `claude-opus-4-8[1m]` → `claude-opus-4-8`,
    /// `claude-sonnet-4-5-20250929` → `claude-sonnet-4-5`,
    /// `Claude Opus 4.8` → `claude-opus-4-8`.
    pub fn normalise_model(id: &str) -> String {
        let mut s = id.trim().to_lowercase();
        if let Some(pos) = s.rfind("anthropic.") {
            s = s[pos + "anthropic.".len()..].to_string();
        }
        loop {
            let t = s.trim_end();
            match (t.ends_with(']'), t.rfind('[')) {
                (true, Some(open)) => s = t[..open].to_string(),
                _ => break,
            }
        }
        if let Some(at) = s.find('@') {
            s.truncate(at);
        }
        let mut out = String::with_capacity(s.len());
        for c in s.chars() {
            if c.is_alphanumeric() {
                out.push(c);
            } else if !out.is_empty() && !out.ends_with('-') {
                out.push('-');
            }
        }
        while out.ends_with('-') {
            out.pop();
        }
        loop {
            let before = out.len();
            for suffix in ["-latest"] {
                if let Some(rest) = out.strip_suffix(suffix) {
                    out.truncate(rest.len());
                }
            }
            if let Some(rest) = strip_numeric_suffix(&out) {
                let keep = rest.len();
                out.truncate(keep);
            }
            if out.len() == before {
                break;
            }
        }
        let first = out.split('-').next().unwrap_or("");
        if FAMILIES.contains(&first) {
            out.insert_str(0, "claude-");
        }
        out
    }

    /// The prices of a model, after normalising its id. Legacy ids written in
    /// the other order (`claude-haiku-3-5` for `claude-3-5-haiku`) also match.
    pub fn lookup(&self, model: &str) -> Option<&ModelPrice> {
        let key = PriceTable::normalise_model(model);
        if let Some(p) = self.prices.get(&key) {
            return Some(p);
        }
        swapped_family_order(&key).and_then(|k| self.prices.get(&k))
    }

    /// Estimated cost in micro-dollars, or `None` for a model the table does
    /// not know (the caller reports it; a price is never guessed).
    pub fn estimate_micros(
        &self,
        model: &str,
        input: u64,
        output: u64,
        cache_read: u64,
        cache_creation: u64,
    ) -> Option<MicroUsd> {
        self.lookup(model)
            .map(|p| p.cost_micros(input, output, cache_read, cache_creation))
    }

    /// The models the table knows (normalised ids), sorted.
    pub fn models(&self) -> impl Iterator<Item = (&str, &ModelPrice)> {
        self.prices.iter().map(|(k, v)| (k.as_str(), v))
    }

    pub fn len(&self) -> usize {
        self.prices.len()
    }

    pub fn is_empty(&self) -> bool {
        self.prices.is_empty()
    }
}

impl fmt::Display for ModelPrice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "input ${}, output ${}, cache read ${}, cache write ${} per million tokens",
            rate_text(self.input),
            rate_text(self.output),
            rate_text(self.cache_read),
            rate_text(self.cache_write)
        )
    }
}

fn rate_text(micros: u64) -> String {
    let whole = micros / 1_000_000;
    let frac = micros % 1_000_000;
    if frac == 0 {
        return whole.to_string();
    }
    let digits = format!("{frac:06}");
    format!("{whole}.{}", digits.trim_end_matches('0'))
}

fn csv_error(e: &csv::Error, lines: &mut crate::parse::text::LineCounter<'_>) -> PriceError {
    let line = e.position().map_or(0, |p| lines.line_at(p.byte()));
    PriceError::Line {
        line,
        message: e.to_string(),
    }
}

/// Exact decimal → micro units: `6.25` → 6_250_000. At most 6 decimals, no sign.
fn parse_rate(text: &str) -> Option<u64> {
    let t = text.trim().trim_start_matches('$').trim();
    let (whole, frac) = match t.split_once('.') {
        Some((w, f)) => (w, f),
        None => (t, ""),
    };
    if (whole.is_empty() && frac.is_empty())
        || !whole.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
        || frac.len() > 6
    {
        return None;
    }
    let whole: u64 = if whole.is_empty() {
        0
    } else {
        whole.parse().ok()?
    };
    let mut frac_micros: u64 = if frac.is_empty() {
        0
    } else {
        frac.parse().ok()?
    };
    for _ in frac.len()..6 {
        frac_micros *= 10;
    }
    whole.checked_mul(1_000_000)?.checked_add(frac_micros)
}

/// Strips one trailing `-YYYYMMDD` date or Bedrock `-vN` / `-vN-N` version.
fn strip_numeric_suffix(s: &str) -> Option<&str> {
    let (rest, last) = s.rsplit_once('-')?;
    if last.len() == 8 && last.bytes().all(|b| b.is_ascii_digit()) {
        return Some(rest);
    }
    if let Some(v) = last.strip_prefix('v') {
        if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) {
            return Some(rest);
        }
    }
    // Bedrock `-v1:0` became `-v1-0`: drop the `-0`, the `-v1` goes next round.
    if !last.is_empty() && last.bytes().all(|b| b.is_ascii_digit()) {
        if let Some((_, prev)) = rest.rsplit_once('-') {
            if prev.len() > 1
                && prev.starts_with('v')
                && prev[1..].bytes().all(|b| b.is_ascii_digit())
            {
                return Some(rest);
            }
        }
    }
    None
}

/// `claude-haiku-3-5` ↔ `claude-3-5-haiku`: the pre-4 ids put the version first.
fn swapped_family_order(key: &str) -> Option<String> {
    let rest = key.strip_prefix("claude-")?;
    let parts: Vec<&str> = rest.split('-').collect();
    let is_num = |p: &&str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
    match parts.as_slice() {
        [family, nums @ ..]
            if FAMILIES.contains(family) && !nums.is_empty() && nums.iter().all(is_num) =>
        {
            Some(format!("claude-{}-{family}", nums.join("-")))
        }
        [nums @ .., family]
            if FAMILIES.contains(family) && !nums.is_empty() && nums.iter().all(is_num) =>
        {
            Some(format!("claude-{family}-{}", nums.join("-")))
        }
        _ => None,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests state their expectations by unwrapping
mod tests {
    use super::*;

    #[test]
    fn builtin_table_parses_and_is_not_empty() {
        let t = PriceTable::parse(BUILTIN_PRICES_CSV).unwrap();
        assert!(t.len() >= 18, "{}", t.len());
    }

    #[test]
    fn rates_are_exact_integers() {
        assert_eq!(parse_rate("6.25"), Some(6_250_000));
        assert_eq!(parse_rate("0.03"), Some(30_000));
        assert_eq!(parse_rate("15"), Some(15_000_000));
        assert_eq!(parse_rate(".5"), Some(500_000));
        assert_eq!(parse_rate("-1"), None);
        assert_eq!(parse_rate("1.0000001"), None);
        assert_eq!(parse_rate(""), None);
    }

    #[test]
    fn numeric_suffixes() {
        assert_eq!(
            PriceTable::normalise_model("us.anthropic.claude-opus-4-1-20250805-v1:0"),
            "claude-opus-4-1"
        );
        assert_eq!(
            PriceTable::normalise_model("claude-opus-4@20250514"),
            "claude-opus-4"
        );
        assert_eq!(
            PriceTable::normalise_model("claude-3-5-haiku-latest"),
            "claude-3-5-haiku"
        );
    }
}
