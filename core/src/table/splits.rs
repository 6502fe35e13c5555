//! The per-model and per-tool splits of a table's day rows: each row that
//! has one points at a span of two pools of plain entries, the model and
//! tool names numbered once per table. A row's split then costs no
//! allocation of its own (a server's million rows each carry one model and
//! a few tools: as a `Vec` of entries holding their names, that was most of
//! decoding them and most of their memory). The spans are a column by row
//! number, as long as the last row with a split: a table whose rows have
//! none (most exports) holds none, one whose rows mostly have one (the
//! server's) finds a row's by its number, no hashing.

use rustc_hash::FxHashMap;

use crate::model::{ModelUsage, ToolDecisions};

#[derive(Debug, Clone, Default)]
pub(crate) struct Splits {
    /// By row number; an empty span is no split.
    spans: Vec<Span>,
    models: Vec<ModelEntry>,
    tools: Vec<ToolEntry>,
    model_names: Names,
    tool_names: Names,
    /// Pool entries no span points at any more (splits replaced by longer
    /// ones, or moved to grow): the pools are compacted when they are
    /// mostly that.
    dead: usize,
}

/// Where a row's entries are in the pools.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Span {
    model_start: u32,
    models: u32,
    tool_start: u32,
    tools: u32,
}

/// [`ModelUsage`] with its name numbered.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ModelEntry {
    pub name: u32,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cache_read_tokens: u64,
    pub cache_creation_tokens: u64,
    pub cost_micros: i64,
    pub cost_is_estimated: bool,
}

/// [`ToolDecisions`] with its name numbered.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ToolEntry {
    pub name: u32,
    pub accepted: u64,
    pub rejected: u64,
}

/// Names by number, in order of first use.
#[derive(Debug, Clone, Default)]
struct Names {
    names: Vec<Box<str>>,
    ids: FxHashMap<Box<str>, u32>,
}

impl Names {
    fn id(&mut self, name: &str) -> u32 {
        if let Some(&id) = self.ids.get(name) {
            return id;
        }
        let id = self.names.len() as u32;
        self.names.push(name.into());
        self.ids.insert(name.into(), id);
        id
    }

    fn name(&self, id: u32) -> &str {
        self.names.get(id as usize).map_or("", |n| n)
    }

    fn heap_bytes(&self) -> usize {
        let text: usize = self.names.iter().map(|n| n.len()).sum();
        self.names.capacity() * std::mem::size_of::<Box<str>>()
            + self.ids.capacity() * (std::mem::size_of::<(Box<str>, u32)>() + 1)
            + 2 * text
    }
}

impl ModelEntry {
    fn of(name: u32, m: &ModelUsage) -> ModelEntry {
        ModelEntry {
            name,
            input_tokens: m.input_tokens,
            output_tokens: m.output_tokens,
            cache_read_tokens: m.cache_read_tokens,
            cache_creation_tokens: m.cache_creation_tokens,
            cost_micros: m.cost_micros,
            cost_is_estimated: m.cost_is_estimated,
        }
    }

    fn usage(&self, model: String) -> ModelUsage {
        ModelUsage {
            model,
            input_tokens: self.input_tokens,
            output_tokens: self.output_tokens,
            cache_read_tokens: self.cache_read_tokens,
            cache_creation_tokens: self.cache_creation_tokens,
            cost_micros: self.cost_micros,
            cost_is_estimated: self.cost_is_estimated,
        }
    }
}

impl Span {
    fn is_empty(&self) -> bool {
        self.models == 0 && self.tools == 0
    }
}

impl Splits {
    /// Row `row`'s span, if it has a split.
    fn span(&self, row: u32) -> Option<&Span> {
        self.spans.get(row as usize).filter(|s| !s.is_empty())
    }

    fn put_span(&mut self, row: u32, span: Span) {
        let row = row as usize;
        if row >= self.spans.len() {
            if span.is_empty() {
                return;
            }
            self.spans.resize(row + 1, Span::default());
        }
        self.spans[row] = span;
    }

    /// Row `row`'s splits (empty when it has none).
    pub fn get(&self, row: u32) -> (Vec<ModelUsage>, Vec<ToolDecisions>) {
        let Some(s) = self.span(row) else {
            return (Vec::new(), Vec::new());
        };
        let models = self.model_span(s).iter().map(|e| {
            let name = self.model_names.name(e.name).to_string();
            e.usage(name)
        });
        let tools = self.tool_span(s).iter().map(|e| ToolDecisions {
            tool: self.tool_names.name(e.name).to_string(),
            accepted: e.accepted,
            rejected: e.rejected,
        });
        (models.collect(), tools.collect())
    }

    fn model_span(&self, s: &Span) -> &[ModelEntry] {
        let start = s.model_start as usize;
        &self.models[start..start + s.models as usize]
    }

    fn tool_span(&self, s: &Span) -> &[ToolEntry] {
        let start = s.tool_start as usize;
        &self.tools[start..start + s.tools as usize]
    }

    /// Sets row `row`'s splits (none when both are empty). A row's entries
    /// are overwritten in place when the new ones fit.
    pub fn set(&mut self, row: u32, models: &[ModelUsage], tools: &[ToolDecisions]) {
        let old = self.span(row).copied();
        if models.is_empty() && tools.is_empty() {
            if let Some(old) = old {
                self.put_span(row, Span::default());
                self.forget(old);
            }
            return;
        }
        let mut span = old.unwrap_or_default();
        if models.len() > span.models as usize {
            self.dead += span.models as usize;
            span.model_start = self.models.len() as u32;
            self.models.resize(
                self.models.len() + models.len(),
                ModelEntry::of(0, &ModelUsage::default()),
            );
        } else {
            self.dead += span.models as usize - models.len();
        }
        if tools.len() > span.tools as usize {
            self.dead += span.tools as usize;
            span.tool_start = self.tools.len() as u32;
            self.tools.resize(
                self.tools.len() + tools.len(),
                ToolEntry {
                    name: 0,
                    accepted: 0,
                    rejected: 0,
                },
            );
        } else {
            self.dead += span.tools as usize - tools.len();
        }
        span.models = models.len() as u32;
        span.tools = tools.len() as u32;
        let start = span.model_start as usize;
        for (slot, m) in self.models[start..].iter_mut().zip(models) {
            *slot = ModelEntry::of(self.model_names.id(&m.model), m);
        }
        let start = span.tool_start as usize;
        for (slot, t) in self.tools[start..].iter_mut().zip(tools) {
            *slot = ToolEntry {
                name: self.tool_names.id(&t.tool),
                accepted: t.accepted,
                rejected: t.rejected,
            };
        }
        self.put_span(row, span);
        self.compact_if_mostly_dead();
    }

    fn forget(&mut self, old: Span) {
        self.dead += (old.models + old.tools) as usize;
        self.compact_if_mostly_dead();
    }

    /// Adds `models` into row `row`'s per-model split (same model: summed,
    /// as [`crate::model::merge_models`] does).
    pub fn absorb_models(&mut self, row: u32, models: &[ModelUsage]) {
        if models.is_empty() {
            return;
        }
        let (mut have, tools) = self.get(row);
        crate::model::merge_models(&mut have, models);
        self.set(row, &have, &tools);
    }

    /// The number of a model's name, for [`Splits::push_model`].
    pub fn model_id(&mut self, name: &str) -> u32 {
        self.model_names.id(name)
    }

    /// The number of a tool's name, for [`Splits::push_tool`].
    pub fn tool_id(&mut self, name: &str) -> u32 {
        self.tool_names.id(name)
    }

    pub fn model_name(&self, id: u32) -> &str {
        self.model_names.name(id)
    }

    pub fn tool_name(&self, id: u32) -> &str {
        self.tool_names.name(id)
    }

    /// Row `row`'s entries as they are held (names by number).
    pub fn entries(&self, row: u32) -> (&[ModelEntry], &[ToolEntry]) {
        match self.span(row) {
            Some(s) => (self.model_span(s), self.tool_span(s)),
            None => (&[], &[]),
        }
    }

    /// Where the next row's entries will start ([`Splits::close_row`]).
    pub fn mark(&self) -> (usize, usize) {
        (self.models.len(), self.tools.len())
    }

    pub fn push_model(&mut self, e: ModelEntry) {
        self.models.push(e);
    }

    pub fn push_tool(&mut self, e: ToolEntry) {
        self.tools.push(e);
    }

    /// Row `row` (which had no splits) gets the entries pushed since `mark`.
    pub fn close_row(&mut self, row: u32, mark: (usize, usize)) {
        let (models, tools) = (self.models.len() - mark.0, self.tools.len() - mark.1);
        let span = Span {
            model_start: mark.0 as u32,
            models: models as u32,
            tool_start: mark.1 as u32,
            tools: tools as u32,
        };
        self.put_span(row, span);
    }

    /// Room for `rows` more rows with splits, of `models` and `tools` entries.
    pub fn reserve(&mut self, rows: usize, models: usize, tools: usize) {
        self.spans.reserve(rows);
        self.models.reserve(models);
        self.tools.reserve(tools);
    }

    /// The splits of rows renumbered: row `order[k]`'s become row `k`'s
    /// (and the pools are written again without their dead entries).
    pub fn permute(&mut self, order: &[u32]) {
        let mut out = Splits {
            model_names: std::mem::take(&mut self.model_names),
            tool_names: std::mem::take(&mut self.tool_names),
            ..Splits::default()
        };
        let (models, tools) = self.spans.iter().fold((0, 0), |(m, t), s| {
            (m + s.models as usize, t + s.tools as usize)
        });
        out.reserve(0, models, tools);
        for (k, &i) in order.iter().enumerate() {
            if let Some(s) = self.span(i) {
                out.copy_row(k as u32, self, s);
            }
        }
        *self = out;
    }

    fn copy_row(&mut self, row: u32, from: &Splits, s: &Span) {
        let mark = self.mark();
        self.models.extend_from_slice(from.model_span(s));
        self.tools.extend_from_slice(from.tool_span(s));
        self.close_row(row, mark);
    }

    fn compact_if_mostly_dead(&mut self) {
        let pooled = self.models.len() + self.tools.len();
        if self.dead < 4096 || self.dead * 2 < pooled {
            return;
        }
        let mut out = Splits {
            model_names: std::mem::take(&mut self.model_names),
            tool_names: std::mem::take(&mut self.tool_names),
            ..Splits::default()
        };
        out.spans.reserve(self.spans.len());
        for row in 0..self.spans.len() as u32 {
            if let Some(s) = self.span(row) {
                out.copy_row(row, self, s);
            }
        }
        *self = out;
    }

    /// Bytes held, from the pools' and the index's capacities.
    pub fn heap_bytes(&self) -> usize {
        self.spans.capacity() * std::mem::size_of::<Span>()
            + self.models.capacity() * std::mem::size_of::<ModelEntry>()
            + self.tools.capacity() * std::mem::size_of::<ToolEntry>()
            + self.model_names.heap_bytes()
            + self.tool_names.heap_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashMap;

    type Held = (Vec<ModelUsage>, Vec<ToolDecisions>);

    #[derive(Debug, Clone)]
    enum Op {
        Set(u32, Held),
        Absorb(u32, Vec<ModelUsage>),
        Permute(Vec<u32>),
    }

    const ROWS: u32 = 8;

    fn model() -> impl Strategy<Value = ModelUsage> + Clone {
        (0usize..3, any::<[u32; 4]>(), any::<i32>(), any::<bool>()).prop_map(|(m, t, cost, est)| {
            ModelUsage {
                model: ["opus", "sonnet", ""][m].into(),
                input_tokens: t[0].into(),
                output_tokens: t[1].into(),
                cache_read_tokens: t[2].into(),
                cache_creation_tokens: t[3].into(),
                cost_micros: cost.into(),
                cost_is_estimated: est,
            }
        })
    }

    fn op() -> impl Strategy<Value = Op> {
        let tool = (0usize..3, any::<u8>(), any::<u8>()).prop_map(|(t, a, r)| ToolDecisions {
            tool: ["Edit", "Write", "edit_tool"][t].into(),
            accepted: a.into(),
            rejected: r.into(),
        });
        let models = proptest::collection::vec(model(), 0..4);
        prop_oneof![
            (
                0..ROWS,
                models.clone(),
                proptest::collection::vec(tool, 0..4)
            )
                .prop_map(|(r, m, t)| Op::Set(r, (m, t))),
            (0..ROWS, models).prop_map(|(r, m)| Op::Absorb(r, m)),
            Just((0..ROWS).collect::<Vec<u32>>())
                .prop_shuffle()
                .prop_map(Op::Permute),
        ]
    }

    proptest! {
        /// The pools give back what a map of each row's own lists holds,
        /// whatever was replaced, merged or moved before.
        #[test]
        fn splits_read_back_as_lists_per_row(ops in proptest::collection::vec(op(), 0..40)) {
            let mut splits = Splits::default();
            let mut want: HashMap<u32, Held> = HashMap::new();
            for op in ops {
                match op {
                    Op::Set(r, (m, t)) => {
                        splits.set(r, &m, &t);
                        if m.is_empty() && t.is_empty() {
                            want.remove(&r);
                        } else {
                            want.insert(r, (m, t));
                        }
                    }
                    Op::Absorb(r, m) => {
                        splits.absorb_models(r, &m);
                        if !m.is_empty() {
                            let e = want.entry(r).or_default();
                            crate::model::merge_models(&mut e.0, &m);
                        }
                    }
                    Op::Permute(order) => {
                        splits.permute(&order);
                        want = order
                            .iter()
                            .enumerate()
                            .filter_map(|(k, i)| want.get(i).map(|h| (k as u32, h.clone())))
                            .collect();
                    }
                }
                for r in 0..ROWS {
                    prop_assert_eq!(splits.get(r), want.get(&r).cloned().unwrap_or_default());
                }
            }
        }
    }

    /// Splits replaced by longer ones leave their entries behind; the pools
    /// are written again before those are most of them.
    #[test]
    fn replaced_splits_do_not_pile_up() {
        let mut splits = Splits::default();
        let usage = |n: usize| -> Vec<ModelUsage> {
            (0..n)
                .map(|k| ModelUsage {
                    model: format!("m{k}"),
                    input_tokens: n as u64,
                    ..ModelUsage::default()
                })
                .collect()
        };
        for round in 1..=40 {
            for row in 0..1000 {
                splits.set(row, &usage(round), &[]);
            }
        }
        assert_eq!(splits.get(7).0, usage(40));
        let live = 1000 * 40;
        assert!(
            splits.models.len() <= 3 * live,
            "{} entries",
            splits.models.len()
        );
    }
}
