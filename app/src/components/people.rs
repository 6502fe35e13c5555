//! People: the power users (to celebrate), who has not started (with their
//! e-mails to copy), who started this week, and the sortable, searchable table.

use std::cmp::Ordering;
use std::collections::HashMap;
use std::sync::Arc;

use leptos::prelude::*;
use scoreboard_core::metrics::{Figure, PersonFigures, Report, Tier};
use scoreboard_core::PersonKey;

use crate::components::definitions::Info;
use crate::components::Later;
use crate::state::ctx;
use crate::util::{self, int, opt_day, opt_pct, DASH};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Col {
    Person,
    Team,
    Tier,
    FirstActive,
    LastActive,
    ActiveWeeks,
    Sessions,
    Lines,
    Acceptance,
    Cost,
}

/// (column, `data-col`, heading, numeric)
const COLS: [(Col, &str, &str, bool); 10] = [
    (Col::Person, "person", "Person", false),
    (Col::Team, "team", "Team", false),
    (Col::Tier, "tier", "Tier", false),
    (Col::FirstActive, "first_active", "First active", false),
    (Col::LastActive, "last_active", "Last active", false),
    (Col::ActiveWeeks, "active_weeks", "Active weeks", true),
    (Col::Sessions, "sessions", "Sessions", true),
    (Col::Lines, "lines_accepted", "Lines accepted", true),
    (Col::Acceptance, "acceptance_rate", "Acceptance", true),
    (Col::Cost, "cost", "Cost", true),
];

fn tier_rank(t: Tier) -> usize {
    Tier::ALL.iter().position(|x| *x == t).unwrap_or(0)
}

/// Missing values sort last in both directions.
fn opt_cmp<T: PartialOrd>(a: Option<T>, b: Option<T>, desc: bool) -> Ordering {
    match (a, b) {
        (Some(a), Some(b)) => {
            let o = a.partial_cmp(&b).unwrap_or(Ordering::Equal);
            if desc {
                o.reverse()
            } else {
                o
            }
        }
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    }
}

fn compare(a: &PersonFigures, b: &PersonFigures, col: Col, desc: bool) -> Ordering {
    let by = match col {
        Col::Person => opt_cmp(
            Some(display_name(a).to_lowercase()),
            Some(display_name(b).to_lowercase()),
            desc,
        ),
        Col::Team => opt_cmp(a.team.clone(), b.team.clone(), desc),
        Col::Tier => opt_cmp(Some(tier_rank(a.tier)), Some(tier_rank(b.tier)), desc),
        Col::FirstActive => opt_cmp(a.first_active, b.first_active, desc),
        Col::LastActive => opt_cmp(a.last_active, b.last_active, desc),
        Col::ActiveWeeks => opt_cmp(Some(a.active_weeks), Some(b.active_weeks), desc),
        Col::Sessions => opt_cmp(Some(a.totals.sessions), Some(b.totals.sessions), desc),
        Col::Lines => opt_cmp(
            Some(a.totals.lines_accepted),
            Some(b.totals.lines_accepted),
            desc,
        ),
        Col::Acceptance => opt_cmp(a.totals.acceptance_rate, b.totals.acceptance_rate, desc),
        Col::Cost => opt_cmp(Some(a.totals.cost_micros), Some(b.totals.cost_micros), desc),
    };
    by.then_with(|| a.person.cmp(&b.person))
}

fn display_name(p: &PersonFigures) -> String {
    p.name.clone().unwrap_or_else(|| p.person.to_string())
}

/// The people of a list (power users, non-starters…), looked up once.
fn people_of<'a>(
    r: &'a Report,
    keys: &[PersonKey],
    limit: usize,
) -> Vec<(PersonKey, Option<&'a PersonFigures>)> {
    let index: HashMap<&PersonKey, &PersonFigures> =
        r.people.iter().map(|p| (&p.person, p)).collect();
    keys.iter()
        .take(limit)
        .map(|k| (k.clone(), index.get(k).copied()))
        .collect()
}

/// Lists show this many people at first; "Show all" lifts it.
const LIST_LIMIT: usize = 50;

fn more_button(total: usize, limit: RwSignal<usize>) -> impl IntoView {
    (total > limit.get()).then(|| {
        view! {
            <button class="btn quiet small" on:click=move |_| limit.set(usize::MAX)>
                {format!("Show all {}", int(total as u64))}
            </button>
        }
    })
}

fn tier_badge(t: Tier) -> impl IntoView {
    view! { <span class=format!("tier t-{}", t.as_str())>{t.label()}</span> }
}

/// Below the fold: its code is a module of its own, loaded when it is first shown.
#[component]
pub fn PeopleSection() -> impl IntoView {
    lazily!(people_panel())
}

/// Fetches [`people_panel`]'s module (`super::preload_dashboard`).
#[cfg(feature = "split")]
pub async fn preload() {
    __preload_people_panel().await;
}

#[cfg_attr(feature = "split", leptos::lazy)]
fn people_panel() -> super::Build {
    std::rc::Rc::new(|| view! { <PeoplePanel /> }.into_any())
}

/// The frame, after the section's own, in which the table is built (its
/// two other lists come in the two before).
const TABLE_STEP: u8 = 3;
/// The frames after its own that the people section takes: its two other
/// lists, the table, then the rest of the table's first page of rows.
pub const PEOPLE_FRAMES: u8 = TABLE_STEP + (PAGE / ROWS_A_FRAME) as u8 - 1;

#[component]
fn PeoplePanel() -> impl IntoView {
    view! {
        <section class="people-block" aria-labelledby="people-title">
            <div class="section-head">
                <h2 id="people-title">"People"</h2>
                <p class="explain">
                    "Who uses Claude Code and how much, in the selected weeks and team. Tiers are judged on the four "
                    "complete weeks up to the latest one."
                </p>
            </div>
            // One list a frame (`Later`): built together they made one long task.
            <div class="lists">
                <PowerUsers/>
                <Later step=1><NonStarters/></Later>
                <Later step=2><NewThisWeek/></Later>
            </div>
            <Later step=TABLE_STEP><PeopleTable/></Later>
        </section>
    }
}

#[component]
fn PowerUsers() -> impl IntoView {
    let ctx = ctx();
    let Some(r) = ctx.shown_report() else {
        return ().into_any();
    };
    let limit = RwSignal::new(LIST_LIMIT);
    view! {
        <article class="list-card celebrate" aria-labelledby="power-title">
            <header><h3 id="power-title">"Power users"</h3><Info figure=Figure::Tiers/></header>
            <p class="explain">"Active in each of the last 4 weeks and in the top quarter by lines accepted. Thank them, and ask them to show others how they work."</p>
            <ul id="power-users" class="people-list">
                {move || r.with(|r| {
                    if r.power_users.is_empty() {
                        return view! { <li class="empty">"Nobody yet: it takes 4 complete weeks of steady use."</li> }.into_any();
                    }
                    // Ranked by the figure shown next to each name.
                    let mut list: Vec<&PersonFigures> = people_of(r, &r.power_users, usize::MAX).into_iter().filter_map(|(_, p)| p).collect();
                    list.sort_by(|a, b| b.lines_accepted_last_4.cmp(&a.lines_accepted_last_4).then_with(|| a.person.cmp(&b.person)));
                    list.into_iter().take(limit.get()).map(|p| view! {
                        <li data-person=p.person.to_string()>
                            <span class="who">{display_name(p)}</span>
                            {p.team.clone().map(|t| view! { <span class="team">{t}</span> })}
                            <span class="what">{format!("{} lines accepted in the last 4 weeks", int(p.lines_accepted_last_4))}</span>
                        </li>
                    }).collect_view().into_any()
                })}
            </ul>
            {move || r.with(|r| more_button(r.power_users.len(), limit))}
        </article>
    }
    .into_any()
}

#[component]
fn NonStarters() -> impl IntoView {
    let ctx = ctx();
    let Some(r) = ctx.shown_report() else {
        return ().into_any();
    };
    let emails = move || {
        r.with(|r| {
            r.non_starters
                .iter()
                .filter(|k| k.is_email())
                .map(|k| k.to_string())
                .collect::<Vec<_>>()
        })
    };
    let fallback = RwSignal::new(false);
    let limit = RwSignal::new(LIST_LIMIT);
    let copy = move |_| {
        let list = emails().join(", ");
        let n = emails().len() as u64;
        leptos::task::spawn_local(async move {
            if util::copy_to_clipboard(&list).await {
                fallback.set(false);
                ctx.notice.set(Some(format!(
                    "Copied {} to the clipboard.",
                    util::plural(n, "e-mail address", "e-mail addresses")
                )));
            } else {
                fallback.set(true);
            }
        });
    };
    view! {
        <article class="list-card" aria-labelledby="nonstarters-title">
            <header><h3 id="nonstarters-title">"Not started yet"</h3><Info figure=Figure::NonStarters/></header>
            {move || r.with(|r| match r.roster_size {
                None => view! { <p class="explain">"Load a roster (a CSV of e-mails, or paste them above) to see who has not started."</p> }.into_any(),
                Some(_) => view! { <p class="explain">"On the roster, and no Claude Code activity by the end of the reference week. A friendly note or a pairing session often helps."</p> }.into_any(),
            })}
            <ul id="non-starters" class="people-list">
                {move || r.with(|r| {
                    if r.roster_size.is_some() && r.non_starters.is_empty() {
                        return view! { <li class="empty">"Everyone on the roster has started."</li> }.into_any();
                    }
                    people_of(r, &r.non_starters, limit.get()).into_iter().map(|(k, p)| {
                        view! {
                            <li data-person=k.to_string()>
                                <span class="who">{p.and_then(|p| p.name.clone()).unwrap_or_else(|| k.to_string())}</span>
                                {p.and_then(|p| p.team.clone()).map(|t| view! { <span class="team">{t}</span> })}
                                {p.and_then(|p| p.name.as_ref()).map(|_| view! { <span class="what">{k.to_string()}</span> })}
                            </li>
                        }
                    }).collect_view().into_any()
                })}
            </ul>
            {move || r.with(|r| more_button(r.non_starters.len(), limit))}
            <Show when=move || !emails().is_empty()>
                <button id="copy-non-starters" class="btn" on:click=copy>
                    {move || format!("Copy their e-mails ({})", emails().len())}
                </button>
            </Show>
            <Show when=move || fallback.get()>
                <label class="hint" for="non-starters-emails">"The browser did not allow copying; select the addresses here:"</label>
                <textarea id="non-starters-emails" readonly rows="3" prop:value=move || emails().join(", ")></textarea>
            </Show>
        </article>
    }
    .into_any()
}

#[component]
fn NewThisWeek() -> impl IntoView {
    let ctx = ctx();
    let Some(r) = ctx.shown_report() else {
        return ().into_any();
    };
    let limit = RwSignal::new(LIST_LIMIT);
    view! {
        <article class="list-card" aria-labelledby="new-title">
            <header><h3 id="new-title">"Started in the latest week"</h3></header>
            <p class="explain">"First active day in the latest complete week. Welcome them."</p>
            <ul id="new-this-week" class="people-list">
                {move || r.with(|r| {
                    if r.new_this_week.is_empty() {
                        return view! { <li class="empty">"Nobody new in the latest complete week."</li> }.into_any();
                    }
                    people_of(r, &r.new_this_week, limit.get()).into_iter().filter_map(|(_, p)| p).map(|p| view! {
                        <li data-person=p.person.to_string()>
                            <span class="who">{display_name(p)}</span>
                            {p.team.clone().map(|t| view! { <span class="team">{t}</span> })}
                            <span class="what">{format!("first active {}", opt_day(p.first_active))}
                                {p.days_to_first_use.map(|d| format!(", {} after their start date", util::plural(d.max(0) as u64, "day", "days")))}</span>
                        </li>
                    }).collect_view().into_any()
                })}
            </ul>
            {move || r.with(|r| more_button(r.new_this_week.len(), limit))}
        </article>
    }
    .into_any()
}

const PAGE: usize = 100;
/// Rows built a frame: a page of a hundred built at once was one long
/// main-thread task (60–150 ms at 100 k rows), and a frame of 50 took
/// 49–55 ms at 1 M rows (half of it the table's layout) while the engine
/// saved the data on the other core.
const ROWS_A_FRAME: usize = 25;

#[component]
fn PeopleTable() -> impl IntoView {
    let ctx = ctx();
    let Some(r) = ctx.shown_report() else {
        return ().into_any();
    };
    let sort = RwSignal::new((Col::Lines, true));
    let search = RwSignal::new(String::new());
    let limit = RwSignal::new(PAGE);
    // The shown people as indexes into the report's, sorted: no person's
    // figures copied (thousands of them at a large organisation's size).
    let rows = Memo::new(move |_| {
        let q = search.get().trim().to_lowercase();
        let (col, desc) = sort.get();
        r.with(|r| {
            let people = &r.people;
            let mut list: Vec<usize> = (0..people.len())
                .filter(|&i| {
                    let p = &people[i];
                    q.is_empty()
                        || p.person.as_str().contains(&q)
                        || p.name
                            .as_deref()
                            .is_some_and(|n| n.to_lowercase().contains(&q))
                        || p.team
                            .as_deref()
                            .is_some_and(|t| t.to_lowercase().contains(&q))
                        || p.tier.label().to_lowercase().contains(&q)
                })
                .collect();
            list.sort_by(|&a, &b| compare(&people[a], &people[b], col, desc));
            list
        })
    });
    // How many rows of which report are built: a frame adds ROWS_A_FRAME
    // until the page (or everyone, once asked) is drawn, and a new report
    // (every filter change, every live refresh) starts again from the first
    // ROWS_A_FRAME, its rows being all new.
    let report_id = Memo::new(move |_| r.with(|r| Arc::as_ptr(r) as usize));
    let grown = RwSignal::new((report_id.get_untracked(), ROWS_A_FRAME));
    let built = move || match grown.get() {
        (id, n) if id == report_id.get() => n,
        _ => ROWS_A_FRAME,
    };
    Effect::new(move |_| {
        let want = limit.get().min(rows.with(Vec::len));
        let (id, have) = (report_id.get(), built());
        if have < want {
            leptos::task::spawn_local(async move {
                util::next_frame().await;
                let _ = grown.try_set((id, have + ROWS_A_FRAME));
            });
        }
    });
    let total = move || r.with(|r| r.people.len());
    let more = move || rows.with(Vec::len) > limit.get();
    let estimated = move || r.with(|r| r.people.iter().any(|p| p.totals.cost_is_estimated));
    view! {
        <article class="table-card" aria-labelledby="table-title">
            <header class="table-head">
                <h3 id="table-title">"Everyone in the data"</h3>
                <div class="search">
                    <label for="people-search">"Search"</label>
                    <input id="people-search" type="search" placeholder="name, e-mail, team or tier"
                        prop:value=move || search.get()
                        on:input=move |ev| { search.set(event_target_value(&ev)); limit.set(PAGE); }/>
                </div>
            </header>
            <p class="explain">
                "Sums cover the selected weeks; first and last active cover all loaded data. "
                <span class="wide-only">"Select a column heading to sort. "</span>
                {move || if estimated() { "Costs marked * are partly estimated from tokens × the price table." } else { "" }}
            </p>
            <div class="sort-narrow">
                <label for="people-sort">"Sort by"</label>
                <select id="people-sort" prop:value=move || sort_key(sort.get())
                    on:change=move |ev| if let Some(s) = sort_from_key(&event_target_value(&ev)) { sort.set(s) }>
                    {COLS.iter().map(|&(_, key, label, numeric)| view! {
                        <option value=key>{format!("{label}{}", if numeric { " (highest first)" } else { "" })}</option>
                    }).collect_view()}
                </select>
            </div>
            <div class="table-wrap">
                // Busy while its rows are still being built, a frame at a time.
                <table id="people-table" class="people stack"
                    aria-busy=move || (built() < limit.get().min(rows.with(Vec::len))).to_string()>
                    <thead>
                        <tr>
                            {COLS.iter().map(|&(col, key, label, numeric)| {
                                let aria = move || match sort.get() {
                                    (c, true) if c == col => "descending",
                                    (c, false) if c == col => "ascending",
                                    _ => "none",
                                };
                                view! {
                                    <th scope="col" class:num=numeric data-col=key aria-sort=aria>
                                        <button class="sort" on:click=move |_| sort.update(|s| {
                                            *s = if s.0 == col { (col, !s.1) } else { (col, numeric) };
                                        })>
                                            {label}
                                            <span class="sort-mark" aria-hidden="true">{move || match aria() {
                                                "descending" => " ▼",
                                                "ascending" => " ▲",
                                                _ => "",
                                            }}</span>
                                        </button>
                                    </th>
                                }
                            }).collect_view()}
                        </tr>
                    </thead>
                    <tbody>
                        // Keyed by the person's place in this report, so a frame's
                        // growth builds only its new rows; a new report builds all.
                        <For
                            each=move || {
                                let shown = limit.get().min(built());
                                let report = r.with(|r| Arc::as_ptr(r) as usize);
                                rows.with(|rows| rows.iter().take(shown).map(|&i| (i, report)).collect::<Vec<_>>())
                            }
                            key=|k| *k
                            children=move |(i, _)| r.with_untracked(|r| person_row(&r.people[i]))
                        />
                    </tbody>
                </table>
            </div>
            <p class="table-count">
                {move || {
                    let shown = rows.with(Vec::len).min(limit.get()).min(built());
                    let matching = rows.with(Vec::len);
                    if matching == total() {
                        format!("{} of {}.", int(shown as u64), util::plural(total() as u64, "person", "people"))
                    } else {
                        format!("{} of {} matching (of {}).", int(shown as u64), int(matching as u64), int(total() as u64))
                    }
                }}
                <Show when=more>
                    <button id="people-more" class="btn quiet small" on:click=move |_| limit.set(usize::MAX)>"Show everyone"</button>
                </Show>
            </p>
        </article>
    }
    .into_any()
}

/// The sort as the narrow screen's select names it: the column's key
/// (numbers highest first, words A to Z, as a first click on the heading sorts).
fn sort_key((col, _): (Col, bool)) -> &'static str {
    COLS.iter()
        .find(|(c, ..)| *c == col)
        .map_or("lines_accepted", |(_, key, ..)| key)
}

fn sort_from_key(key: &str) -> Option<(Col, bool)> {
    COLS.iter()
        .find(|(_, k, ..)| *k == key)
        .map(|&(col, _, _, numeric)| (col, numeric))
}

/// The heading of a column, written before its value where the table is
/// shown as a list of cards (narrow screens).
fn label_of(col: Col) -> &'static str {
    COLS.iter()
        .find(|(c, ..)| *c == col)
        .map_or("", |(_, _, label, _)| label)
}

/// An e-mail that may wrap only after its "@" and at its dots, never inside a word.
pub fn email_view(e: &str) -> impl IntoView {
    let mut parts: Vec<AnyView> = Vec::new();
    let mut word = String::new();
    for c in e.chars() {
        if c == '@' || c == '.' {
            parts.push(std::mem::take(&mut word).into_any());
            parts.push(view! { <wbr/> }.into_any());
        }
        word.push(c);
    }
    parts.push(word.into_any());
    parts
}

fn person_row(p: &PersonFigures) -> impl IntoView {
    let cost = if p.totals.cost_is_estimated {
        format!("{} *", util::usd(p.totals.cost_usd))
    } else {
        util::usd(p.totals.cost_usd)
    };
    let not_on_roster = !p.on_roster;
    view! {
        <tr data-person=p.person.to_string() data-tier=p.tier.as_str()>
            <td data-col="person">
                <span class="who">{match &p.name {
                    Some(n) => n.clone().into_any(),
                    None => email_view(p.person.as_str()).into_any(),
                }}</span>
                {p.name.as_ref().map(|_| view! { <span class="email">{email_view(p.person.as_str())}</span> })}
                {not_on_roster.then(|| view! { <span class="flag">"not on roster"</span> })}
            </td>
            <td data-col="team" data-label=label_of(Col::Team)>{p.team.clone().unwrap_or_else(|| DASH.to_string())}</td>
            <td data-col="tier" data-label=label_of(Col::Tier)>{tier_badge(p.tier)}</td>
            <td data-col="first_active" data-label=label_of(Col::FirstActive)>{opt_day(p.first_active)}</td>
            <td data-col="last_active" data-label=label_of(Col::LastActive)>{opt_day(p.last_active)}</td>
            <td data-col="active_weeks" class="num" data-label=label_of(Col::ActiveWeeks)>{p.active_weeks}</td>
            <td data-col="sessions" class="num" data-label=label_of(Col::Sessions) data-value=p.totals.sessions.to_string()>{int(p.totals.sessions)}</td>
            <td data-col="lines_accepted" class="num" data-label=label_of(Col::Lines) data-value=p.totals.lines_accepted.to_string()>{int(p.totals.lines_accepted)}</td>
            <td data-col="acceptance_rate" class="num" data-label=label_of(Col::Acceptance)
                data-value=p.totals.acceptance_rate.map(|a| format!("{a:.6}")).unwrap_or_default()
                title=p.totals.acceptance_rate.is_none().then_some("no edit decisions in these weeks")>{opt_pct(p.totals.acceptance_rate)}</td>
            <td data-col="cost" class="num" data-label=label_of(Col::Cost) data-value=p.totals.cost_micros.to_string()>{cost}</td>
        </tr>
    }
}
