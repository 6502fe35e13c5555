//! The questions the importer asks: which field each column holds, and which
//! days an export without dates covers.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use leptos::prelude::*;
use scoreboard_core::parse::{CsvPreview, Field};

use crate::state::{ctx, Answer, MappingWhy, Question};
use crate::util;

fn answer(a: Answer) {
    let ctx = ctx();
    if let Some(tx) = ctx.answer.try_update_value(Option::take).flatten() {
        let _ = tx.send(a);
    }
    ctx.question.set(None);
}

#[component]
pub fn Dialogs() -> impl IntoView {
    let ctx = ctx();
    move || {
        ctx.question.get().map(|q| match q {
            Question::Mapping {
                file,
                message,
                preview,
                choice,
                why,
            } => lazily!(mapping_dialog(file, message, preview, choice, why)),
            Question::Period {
                file,
                message,
                from,
                to,
                retry,
            } => lazily!(period_dialog(file, message, from, to, retry)),
        })
    }
}

/// Asked only when a file's columns are not recognised: a module of its own.
#[cfg_attr(feature = "split", leptos::lazy)]
fn mapping_dialog(
    file: String,
    message: String,
    preview: CsvPreview,
    choice: BTreeMap<String, Option<Field>>,
    why: MappingWhy,
) -> super::Build {
    std::rc::Rc::new(move || {
        let (file, message, preview, choice, why) = (
            file.clone(),
            message.clone(),
            preview.clone(),
            choice.clone(),
            why.clone(),
        );
        view! { <MappingDialog file message preview choice why/> }.into_any()
    })
}

/// Asked only when a file's period is unclear: a module of its own.
#[cfg_attr(feature = "split", leptos::lazy)]
fn period_dialog(
    file: String,
    message: String,
    from: NaiveDate,
    to: NaiveDate,
    retry: bool,
) -> super::Build {
    std::rc::Rc::new(move || {
        let (file, message) = (file.clone(), message.clone());
        view! { <PeriodDialog file message from to retry/> }.into_any()
    })
}

/// The modal frame of a question: focus moves into it when it opens, and
/// Escape answers as the dialog's second button does (skip, keep, cancel).
#[component]
fn Frame(id: &'static str, title: String, children: Children) -> impl IntoView {
    let node = NodeRef::<leptos::html::Div>::new();
    Effect::new(move |_| {
        if let Some(el) = node.get() {
            let _ = el.focus();
        }
    });
    let title_id = format!("{id}-title");
    let labelled_by = title_id.clone();
    view! {
        <div class="backdrop">
            <div class="dialog" role="dialog" tabindex="-1" node_ref=node aria-modal="true"
                aria-labelledby=labelled_by id=id
                on:keydown=move |ev: web_sys::KeyboardEvent| if ev.key() == "Escape" { answer(Answer::Skip) }>
                <h2 id=title_id>{title}</h2>
                {children()}
            </div>
        </div>
    }
}

fn field_key(f: Option<Field>) -> &'static str {
    f.map_or("", Field::key)
}

/// "the column `A` holds" / "the columns `A` and `B` hold".
fn columns_hold(headers: &[String]) -> String {
    let quoted: Vec<String> = headers.iter().map(|h| format!("“{h}”")).collect();
    match quoted.as_slice() {
        [one] => format!("the column {one} holds"),
        [rest @ .., last] => format!("the columns {} and {last} hold", rest.join(", ")),
        [] => String::new(),
    }
}

/// The column dialog: what each column of a CSV file holds. It opens when a
/// file's columns cannot be placed, when a file has columns of numbers the
/// importer does not recognise, and for "Map columns again".
#[component]
fn MappingDialog(
    file: String,
    message: String,
    preview: CsvPreview,
    choice: BTreeMap<String, Option<Field>>,
    why: MappingWhy,
) -> impl IntoView {
    let choice = RwSignal::new(choice);
    let headers = preview.headers.clone();
    let has_person = move || {
        choice.with(|c| {
            c.values()
                .any(|f| matches!(f, Some(Field::Email) | Some(Field::AccountId)))
        })
    };
    let rows = preview.rows.clone();
    let sample = move |col: usize| -> String {
        rows.iter()
            .filter_map(|r| r.get(col))
            .filter(|c| !c.is_empty())
            .take(3)
            .cloned()
            .collect::<Vec<_>>()
            .join(" · ")
    };
    let likely = match &why {
        MappingWhy::LikelyMeasures(l) => l.clone(),
        _ => Vec::new(),
    };
    let likely_share = move |h: &str| {
        likely
            .iter()
            .find(|l| l.header == h)
            .map(|l| (l.numeric_share * 100.0).round())
    };
    let remember = "Your choice is remembered for the next file with the same headers when you apply it, not when you skip.";
    let (title, explain, apply_label, skip_label) = match &why {
        MappingWhy::Required => (
            format!("Which column is which in {file}?"),
            format!(
                "Scoreboard could not place all of this file's columns by their names. Say what each column holds; \
                 columns set to “Ignore” are not read. {remember}"
            ),
            "Read the file with these columns",
            "Skip this file",
        ),
        MappingWhy::LikelyMeasures(l) => {
            let names: Vec<String> = l.iter().map(|m| m.header.clone()).collect();
            (
                format!("Columns not recognised in {file}"),
                format!(
                    "The file was read, but {} numbers in most rows under a name Scoreboard does not know. \
                     If it is a measure, say which (sessions, lines accepted, cost…); otherwise leave it on \
                     “Ignore this column”. Applying reads the file again with your choice. {remember}",
                    columns_hold(&names)
                ),
                "Read the file with these columns",
                "Keep the file without them",
            )
        }
        MappingWhy::Again => (
            format!("Map the columns of {file} again"),
            "The file is read again from the copy this page keeps, and the figures become those of loading it with \
             these columns. (Where the page keeps no copy of an earlier file of the same kind, a measure this file \
             no longer reads keeps its earlier value; the import report says which.) Your choice is remembered for \
             the next file with the same headers when you apply it, not when you cancel."
                .to_string(),
            "Read the file again with these columns",
            "Cancel",
        ),
    };
    let show_message = !message.is_empty();
    let message_class = if why == MappingWhy::Again {
        "error"
    } else {
        "hint"
    };
    let apply = move |_| answer(Answer::Mapping(choice.get_untracked()));
    view! {
        <Frame id="mapping-dialog" title=title>
                <p class="explain">{explain}</p>
                {show_message.then(|| view! { <p class=message_class><strong>"What the importer said: "</strong>{message.clone()}</p> })}
                <div class="table-wrap">
                    <table class="mapping stack">
                        <thead><tr><th scope="col">"Column in the file"</th><th scope="col">"First values"</th><th scope="col">"Read as"</th></tr></thead>
                        <tbody>
                            {headers.iter().enumerate().map(|(i, h)| {
                                let h2 = h.clone();
                                let h3 = h.clone();
                                let id = format!("map-col-{i}");
                                let share = likely_share(h);
                                view! {
                                    <tr data-header=h.clone() class:likely=share.is_some()>
                                        <th scope="row">
                                            <label for=id.clone()>{h.clone()}</label>
                                            {share.map(|p| view! { <span class="likely-note">{format!("numbers in {p} % of rows: a measure?")}</span> })}
                                        </th>
                                        <td class="sample" data-label="First values">{sample(i)}</td>
                                        <td data-label="Read as">
                                            <select id=id
                                                on:change=move |ev| {
                                                    let v = event_target_value(&ev);
                                                    choice.update(|c| { c.insert(h2.clone(), Field::from_key(&v)); });
                                                }
                                                prop:value=move || field_key(choice.with(|c| c.get(&h3).copied().flatten()))
                                            >
                                                <option value="">"Ignore this column"</option>
                                                {Field::ALL.iter().map(|f| view! { <option value=f.key()>{f.label()}</option> }).collect_view()}
                                            </select>
                                        </td>
                                    </tr>
                                }
                            }).collect_view()}
                        </tbody>
                    </table>
                </div>
                <Show when=move || !has_person()>
                    <p class="hint" role="alert">"Choose the column that says who the person is (“E-mail (person)” or “Account id”)."</p>
                </Show>
                <div class="dialog-actions">
                    <button id="mapping-apply" class="btn primary" on:click=apply disabled=move || !has_person()>{apply_label}</button>
                    <button id="mapping-skip" class="btn quiet" on:click=move |_| answer(Answer::Skip)>{skip_label}</button>
                </div>
        </Frame>
    }
}

#[component]
fn PeriodDialog(
    file: String,
    message: String,
    from: NaiveDate,
    to: NaiveDate,
    retry: bool,
) -> impl IntoView {
    // The first time, the explanation above says it all; after a rejected
    // period, the importer's message says what was wrong.
    let show_message = retry;
    let from_s = RwSignal::new(from.to_string());
    let to_s = RwSignal::new(to.to_string());
    let parsed = move || match (
        util::day_or_none(&from_s.get()),
        util::day_or_none(&to_s.get()),
    ) {
        (Some(a), Some(b)) if a <= b => Some((a, b)),
        _ => None,
    };
    let apply = move |_| {
        if let Some((a, b)) = parsed() {
            answer(Answer::Period(a, b));
        }
    };
    view! {
        <Frame id="period-dialog" title=format!("Which days does {file} cover?")>
                <p class="explain">
                    "This export has no date column: each row is a person's total over the period the export was made for. "
                    "Give that period (UTC days, both included). The suggestion is this month to date (as of the page's date). "
                    "Totals over more than one week count for the whole window, never spread over days by guesswork."
                </p>
                {show_message.then(|| view! { <p class="error">{message.clone()}</p> })}
                <div class="period-fields">
                    <label>"From " <input id="period-from" type="date" prop:value=move || from_s.get()
                        on:input=move |ev| from_s.set(event_target_value(&ev))/></label>
                    <label>"To " <input id="period-to" type="date" prop:value=move || to_s.get()
                        on:input=move |ev| to_s.set(event_target_value(&ev))/></label>
                </div>
                <Show when=move || parsed().is_none()>
                    <p class="hint" role="alert">"Give two dates, the first on or before the second."</p>
                </Show>
                <div class="dialog-actions">
                    <button id="period-apply" class="btn primary" on:click=apply disabled=move || parsed().is_none()>"Read the file for this period"</button>
                    <button id="period-skip" class="btn quiet" on:click=move |_| answer(Answer::Skip)>"Skip this file"</button>
                </div>
        </Frame>
    }
}
