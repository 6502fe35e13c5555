//! Summing rows of one load. Saturating, so no input can overflow a counter
//! (a panic in a debug build); a saturated figure is absurd but visible.

use crate::model::{DayRow, Measures, ModelUsage, PeriodRow, ToolDecisions};

pub(crate) fn add_measures(into: &mut Measures, o: &Measures) {
    into.sessions = into.sessions.saturating_add(o.sessions);
    into.lines_added = into.lines_added.saturating_add(o.lines_added);
    into.lines_removed = into.lines_removed.saturating_add(o.lines_removed);
    into.commits = into.commits.saturating_add(o.commits);
    into.pull_requests = into.pull_requests.saturating_add(o.pull_requests);
    into.edits_accepted = into.edits_accepted.saturating_add(o.edits_accepted);
    into.edits_rejected = into.edits_rejected.saturating_add(o.edits_rejected);
    into.input_tokens = into.input_tokens.saturating_add(o.input_tokens);
    into.output_tokens = into.output_tokens.saturating_add(o.output_tokens);
    into.cache_read_tokens = into.cache_read_tokens.saturating_add(o.cache_read_tokens);
    into.cache_creation_tokens = into
        .cache_creation_tokens
        .saturating_add(o.cache_creation_tokens);
    into.cost_micros = into.cost_micros.saturating_add(o.cost_micros);
    into.cost_is_estimated |= o.cost_is_estimated;
}

pub(crate) fn add_model(into: &mut Vec<ModelUsage>, m: &ModelUsage) {
    match into.iter_mut().find(|x| x.model == m.model) {
        Some(x) => {
            x.input_tokens = x.input_tokens.saturating_add(m.input_tokens);
            x.output_tokens = x.output_tokens.saturating_add(m.output_tokens);
            x.cache_read_tokens = x.cache_read_tokens.saturating_add(m.cache_read_tokens);
            x.cache_creation_tokens = x
                .cache_creation_tokens
                .saturating_add(m.cache_creation_tokens);
            x.cost_micros = x.cost_micros.saturating_add(m.cost_micros);
            x.cost_is_estimated |= m.cost_is_estimated;
        }
        None => into.push(m.clone()),
    }
}

pub(crate) fn add_tool(into: &mut Vec<ToolDecisions>, t: &ToolDecisions) {
    match into.iter_mut().find(|x| x.tool == t.tool) {
        Some(x) => {
            x.accepted = x.accepted.saturating_add(t.accepted);
            x.rejected = x.rejected.saturating_add(t.rejected);
        }
        None => into.push(t.clone()),
    }
}

/// Adds one row's measures, models and tools to another's.
fn add_parts(
    into: (&mut Measures, &mut Vec<ModelUsage>, &mut Vec<ToolDecisions>),
    from: (&Measures, &[ModelUsage], &[ToolDecisions]),
) {
    add_measures(into.0, from.0);
    from.1.iter().for_each(|m| add_model(into.1, m));
    from.2.iter().for_each(|t| add_tool(into.2, t));
}

pub(crate) fn add_day(into: &mut DayRow, o: &DayRow) {
    add_parts(
        (&mut into.measures, &mut into.models, &mut into.tools),
        (&o.measures, &o.models, &o.tools),
    );
}

pub(crate) fn add_period(into: &mut PeriodRow, o: &PeriodRow) {
    add_parts(
        (&mut into.measures, &mut into.models, &mut into.tools),
        (&o.measures, &o.models, &o.tools),
    );
}
