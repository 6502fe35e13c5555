//! One source-day's person rows as one compact BLOB (`day_rows.rows`,
//! migration 7): a sync writes a whole day at a time (`replace_day`), and
//! `/api/rows` reads whole days, so a year of 3,000 engineers is ~730
//! SQLite rows to step through instead of a million, and no JSON is parsed.
//!
//! Layout, every number a LEB128 varint (core's [`varint`], as the compact
//! rows answer writes them): the format byte [`FORMAT`]; the row count;
//! then per row, in person order: the person key (its length and UTF-8
//! bytes); sessions, lines added, lines removed, commits, pull requests,
//! edits accepted, edits rejected, input, output, cache-read and
//! cache-creation tokens, cost in micro-dollars (zigzag) and the estimated
//! flag; then the length in bytes of the row's splits and the splits: the
//! model count, per model its name, four token counts, cost (zigzag) and
//! flag; the tool count, per tool its name, accepted and rejected. A row
//! without splits has length 0 and nothing after it. Names are read in
//! place (borrowed from SQLite's buffer): reading allocates nothing.

use scoreboard_core::varint::{self, put, unzigzag, zigzag, VarintError};
use scoreboard_core::{DayRow, Measures, ModelUsage, ToolDecisions};

use super::StoreError;

/// The layout's version, the blob's first byte.
const FORMAT: u8 = 1;

fn put_name(out: &mut Vec<u8>, s: &str) {
    put(out, s.len() as u64);
    out.extend_from_slice(s.as_bytes());
}

fn put_splits(out: &mut Vec<u8>, models: &[ModelUsage], tools: &[ToolDecisions]) {
    put(out, models.len() as u64);
    for m in models {
        put_name(out, &m.model);
        for v in [
            m.input_tokens,
            m.output_tokens,
            m.cache_read_tokens,
            m.cache_creation_tokens,
            zigzag(m.cost_micros),
            u64::from(m.cost_is_estimated),
        ] {
            put(out, v);
        }
    }
    put(out, tools.len() as u64);
    for t in tools {
        put_name(out, &t.tool);
        put(out, t.accepted);
        put(out, t.rejected);
    }
}

/// The blob of one source-day's rows, given in person order, one per person.
pub(super) fn encode_day(rows: &[&DayRow]) -> Vec<u8> {
    let mut out = Vec::with_capacity(8 + rows.len() * 96);
    out.push(FORMAT);
    put(&mut out, rows.len() as u64);
    let mut splits = Vec::new();
    for r in rows {
        put_name(&mut out, r.person.as_str());
        let m = &r.measures;
        for v in m
            .counters()
            .into_iter()
            .chain([zigzag(m.cost_micros), u64::from(m.cost_is_estimated)])
        {
            put(&mut out, v);
        }
        splits.clear();
        if !(r.models.is_empty() && r.tools.is_empty()) {
            put_splits(&mut splits, &r.models, &r.tools);
        }
        put(&mut out, splits.len() as u64);
        out.extend_from_slice(&splits);
    }
    out
}

/// One model's split, its name borrowed from the blob.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ModelSplit<'a> {
    pub model: &'a str,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cache_read_tokens: u64,
    pub cache_creation_tokens: u64,
    pub cost_micros: i64,
    pub cost_is_estimated: bool,
}

impl ModelSplit<'_> {
    pub fn to_usage(self) -> ModelUsage {
        ModelUsage {
            model: self.model.to_string(),
            input_tokens: self.input_tokens,
            output_tokens: self.output_tokens,
            cache_read_tokens: self.cache_read_tokens,
            cache_creation_tokens: self.cache_creation_tokens,
            cost_micros: self.cost_micros,
            cost_is_estimated: self.cost_is_estimated,
        }
    }
}

/// One entry of a row's splits: a model's, or a tool's (name, accepted, rejected).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Split<'a> {
    Model(ModelSplit<'a>),
    Tool(&'a str, u64, u64),
}

/// A stored row's model and tool splits, borrowed (empty: none).
#[derive(Debug, Clone, Copy, Default)]
pub struct Splits<'a>(&'a [u8]);

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    #[inline]
    fn next(&mut self) -> Result<u64, StoreError> {
        varint::take(&mut self.0).map_err(|e| match e {
            VarintError::CutOff => corrupt("a number is cut off"),
            VarintError::TooLarge => corrupt("a number does not fit 64 bits"),
        })
    }

    fn take(&mut self) -> Result<&'a [u8], StoreError> {
        let n = usize::try_from(self.next()?).unwrap_or(usize::MAX);
        if n > self.0.len() {
            return Err(corrupt("a part runs past the end"));
        }
        let (part, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(part)
    }

    fn name(&mut self) -> Result<&'a str, StoreError> {
        std::str::from_utf8(self.take()?).map_err(|_| corrupt("a name is not UTF-8"))
    }

    fn flag(&mut self) -> Result<bool, StoreError> {
        match self.next()? {
            0 => Ok(false),
            1 => Ok(true),
            v => Err(corrupt(&format!("{v} where a flag is"))),
        }
    }
}

fn corrupt(why: &str) -> StoreError {
    StoreError::Corrupt(format!("a stored day's rows: {why}"))
}

impl<'a> Splits<'a> {
    /// Hands each model and then each tool to `visit`, in stored order.
    pub fn visit(self, mut visit: impl FnMut(Split<'a>)) -> Result<(), StoreError> {
        if self.0.is_empty() {
            return Ok(());
        }
        let mut r = Reader(self.0);
        for _ in 0..r.next()? {
            visit(Split::Model(ModelSplit {
                model: r.name()?,
                input_tokens: r.next()?,
                output_tokens: r.next()?,
                cache_read_tokens: r.next()?,
                cache_creation_tokens: r.next()?,
                cost_micros: unzigzag(r.next()?),
                cost_is_estimated: r.flag()?,
            }));
        }
        for _ in 0..r.next()? {
            visit(Split::Tool(r.name()?, r.next()?, r.next()?));
        }
        if !r.0.is_empty() {
            return Err(corrupt("bytes follow a row's last tool"));
        }
        Ok(())
    }

    /// The splits as a [`DayRow`] holds them.
    pub fn to_vecs(self) -> Result<(Vec<ModelUsage>, Vec<ToolDecisions>), StoreError> {
        let (mut models, mut tools) = (Vec::new(), Vec::new());
        self.visit(|s| match s {
            Split::Model(m) => models.push(m.to_usage()),
            Split::Tool(tool, accepted, rejected) => tools.push(ToolDecisions {
                tool: tool.to_string(),
                accepted,
                rejected,
            }),
        })?;
        Ok((models, tools))
    }
}

/// One person's row of a stored day, borrowed from the blob.
#[derive(Debug, Clone, Copy)]
pub(super) struct PackedRow<'a> {
    pub person: &'a str,
    pub measures: Measures,
    pub splits: Splits<'a>,
}

/// Hands each row of a day's blob to `visit`, in stored (person) order.
pub(super) fn visit_day<'a>(
    blob: &'a [u8],
    mut visit: impl FnMut(PackedRow<'a>) -> Result<(), StoreError>,
) -> Result<(), StoreError> {
    let Some((format, rest)) = blob.split_first() else {
        return Err(corrupt("it is empty"));
    };
    if *format != FORMAT {
        return Err(corrupt(&format!(
            "format {format}, not {FORMAT} (written by a newer Scoreboard?)"
        )));
    }
    let mut r = Reader(rest);
    for _ in 0..r.next()? {
        let person = r.name()?;
        let mut counters = [0u64; 11];
        for v in &mut counters {
            *v = r.next()?;
        }
        let cost = unzigzag(r.next()?);
        let measures = Measures::from_counters(counters, cost, r.flag()?);
        let splits = Splits(r.take()?);
        visit(PackedRow {
            person,
            measures,
            splits,
        })?;
    }
    if !r.0.is_empty() {
        return Err(corrupt("bytes follow its last row"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;
    use proptest::prelude::*;
    use scoreboard_core::{PersonKey, Source};

    fn arb_row() -> impl Strategy<Value = DayRow> {
        (
            "[a-z]{1,8}",
            any::<[u64; 11]>(),
            any::<i64>(),
            any::<bool>(),
            proptest::collection::vec(
                (".{0,12}", any::<[u64; 4]>(), any::<i64>(), any::<bool>()),
                0..4,
            ),
            proptest::collection::vec((".{0,12}", any::<u64>(), any::<u64>()), 0..5),
        )
            .prop_map(|(p, c, cost, est, models, tools)| {
                let day = NaiveDate::from_ymd_opt(2026, 3, 1).unwrap_or_default();
                let mut r = DayRow::new(
                    day,
                    PersonKey::email(&format!("{p}@x.io")),
                    Source::AdminApi,
                );
                let m = &mut r.measures;
                (
                    m.sessions,
                    m.lines_added,
                    m.lines_removed,
                    m.commits,
                    m.pull_requests,
                ) = (c[0], c[1], c[2], c[3], c[4]);
                (
                    m.edits_accepted,
                    m.edits_rejected,
                    m.input_tokens,
                    m.output_tokens,
                ) = (c[5], c[6], c[7], c[8]);
                (m.cache_read_tokens, m.cache_creation_tokens) = (c[9], c[10]);
                (m.cost_micros, m.cost_is_estimated) = (cost, est);
                r.models = models
                    .into_iter()
                    .map(|(model, t, cost, est)| ModelUsage {
                        model,
                        input_tokens: t[0],
                        output_tokens: t[1],
                        cache_read_tokens: t[2],
                        cache_creation_tokens: t[3],
                        cost_micros: cost,
                        cost_is_estimated: est,
                    })
                    .collect();
                r.tools = tools
                    .into_iter()
                    .map(|(tool, accepted, rejected)| ToolDecisions {
                        tool,
                        accepted,
                        rejected,
                    })
                    .collect();
                r
            })
    }

    proptest! {
        #[test]
        fn any_rows_of_a_day_read_back_as_written(rows in proptest::collection::vec(arb_row(), 0..6)) {
            let blob = encode_day(&rows.iter().collect::<Vec<_>>());
            let mut back = Vec::new();
            visit_day(&blob, |p| {
                let (models, tools) = p.splits.to_vecs()?;
                back.push((p.person.to_string(), p.measures, models, tools));
                Ok(())
            }).map_err(|e| TestCaseError::fail(e.to_string()))?;
            let want: Vec<_> = rows.into_iter()
                .map(|r| (r.person.as_str().to_string(), r.measures, r.models, r.tools))
                .collect();
            prop_assert_eq!(back, want);
        }

        #[test]
        fn a_damaged_blob_is_an_error_never_a_panic(
            rows in proptest::collection::vec(arb_row(), 1..4),
            cut in any::<prop::sample::Index>(),
            flip in any::<prop::sample::Index>(),
            byte in any::<u8>(),
        ) {
            let blob = encode_day(&rows.iter().collect::<Vec<_>>());
            let visit = |b: &[u8]| visit_day(b, |p| p.splits.to_vecs().map(|_| ()));
            prop_assert!(visit(&blob[..cut.index(blob.len())]).is_err());
            let mut damaged = blob.clone();
            let i = flip.index(damaged.len());
            damaged[i] = byte;
            let _ = visit(&damaged);
        }
    }
}
