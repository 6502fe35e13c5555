//! The telemetry roll-out (live mode): is every machine sending, and with
//! which token? From `GET /api/telemetry/rollout`, fetched again at each
//! live refresh:
//! - the address to put in the settings: the one this browser reached the
//!   server at, and the command that checks a token from a machine;
//! - per ingest token: last used, people and installations, requests
//!   refused in the last 24 hours and 7 days with the last reason;
//! - roster members: sending (last seen, Claude Code version, tokens),
//!   never sent but active in another source (not installed), never sent
//!   and no usage anywhere (not started), split by
//!   `core::telemetry::coverage` as the source bar does;
//! - installations and account ids no roster entry claims, with the
//!   usage `core` computed for them and the alias to copy into the roster.
//!
//! It computes no figure: dates are only formatted ("3 days ago").

use chrono::{DateTime, Utc};
use leptos::prelude::*;
use scoreboard_core::api::{MemberRollout, Rollout as RolloutAnswer, TokenRollout};
use scoreboard_core::telemetry::coverage;
use scoreboard_core::PersonKey;

use crate::error::FetchError;
use crate::http::fetch_json;
use crate::live::{self, when};
use crate::state::ctx;
use crate::util::{self, int, plural, usd};

async fn fetch() -> Result<RolloutAnswer, FetchError> {
    fetch_json("api/telemetry/rollout").await
}

/// "today", "1 day ago", "12 days ago" (by this browser's clock).
fn ago(t: DateTime<Utc>) -> String {
    let days = live::now_utc().map_or(0, |now| (now - t).num_days().max(0));
    match days {
        0 => "today".to_string(),
        n => format!("{} ago", plural(n as u64, "day", "days")),
    }
}

fn token_names(ids: &[i64], tokens: &[TokenRollout]) -> String {
    ids.iter()
        .map(|id| match tokens.iter().find(|t| t.id == *id) {
            Some(t) => format!("#{id} {}", t.name),
            None => format!("#{id}"),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The server's address as this browser reached it: what engineers' settings name.
fn origin() -> String {
    web_sys::window()
        .and_then(|w| w.location().origin().ok())
        .unwrap_or_default()
}

/// Live mode's source details only: a module of its own, loaded when first shown.
#[component]
pub fn Rollout() -> impl IntoView {
    lazily!(rollout_panel())
}

#[cfg_attr(feature = "split", leptos::lazy)]
fn rollout_panel() -> super::Build {
    std::rc::Rc::new(|| view! { <RolloutPanel /> }.into_any())
}

#[component]
fn RolloutPanel() -> impl IntoView {
    let ctx = ctx();
    let answer = RwSignal::new(None::<Result<RolloutAnswer, FetchError>>);
    // Fetched again whenever the live data is refreshed.
    Effect::new(move |_| {
        let stamp = ctx
            .live
            .with(|l| l.as_ref().map(|l| (l.refreshed_at, l.error.clone())));
        if stamp.is_some() {
            leptos::task::spawn_local(async move { answer.set(Some(fetch().await)) });
        }
    });
    let endpoint = origin();
    view! {
        <section id="rollout" class="panel rollout" aria-labelledby="rollout-title">
            <h2 id="rollout-title">"Telemetry roll-out"</h2>
            <p class="explain">
                "Which tokens bring telemetry, which are refused, who on the roster sends it and who does not yet. "
                "Claude Code shows nothing when its telemetry is refused or goes to the wrong address: this is where it shows."
            </p>
            <p id="rollout-endpoint">
                "Settings for this server name the address "<code>{endpoint.clone()}</code>
                ". Check a token from an engineer's machine, the way Claude Code sends: "
                <code class="command">{format!("scoreboard token check --endpoint {endpoint} TOKEN")}</code>
            </p>
            {move || answer.with(|a| match a {
                None => view! { <p class="hint">"Loading the roll-out…"</p> }.into_any(),
                Some(Err(e)) => view! { <p class="error" id="rollout-error">{format!("The roll-out could not be loaded: {e}")}</p> }.into_any(),
                Some(Ok(a)) if !a.telemetry => view! { <p class="hint">"This server does not receive telemetry."</p> }.into_any(),
                Some(Ok(a)) => view! {
                    <Tokens tokens=a.tokens.clone()/>
                    {a.refused_unnamed.iter().map(|r| view! {
                        <p class="source-warning refused-unnamed">{format!(
                            "Telemetry refused for {}: {} in the last 24 hours, {} in the last 7 days (last {}). \
                             Machines send with a token this server never issued or none at all: install the settings of an active token.",
                            r.text, int(r.last_24h), int(r.last_7d), when(r.last_at)
                        )}</p>
                    }).collect_view()}
                    <Members answer=a.clone()/>
                    <UnattributedList answer=a.clone()/>
                }.into_any(),
            })}
        </section>
    }
}

#[component]
fn Tokens(tokens: Vec<TokenRollout>) -> impl IntoView {
    if tokens.is_empty() {
        return view! {
            <p class="hint" id="rollout-tokens">"No ingest token yet: create one with "<code>"scoreboard token create --name NAME"</code>"."</p>
        }
        .into_any();
    }
    let rows = tokens
        .into_iter()
        .map(|t| {
            let state = match t.revoked_at {
                Some(r) => format!("revoked {}", when(r)),
                None => "active".to_string(),
            };
            let last = t
                .last_received_at
                .map_or_else(|| "never".to_string(), |l| format!("{} ({})", ago(l), when(l)));
            let refusal = match (&t.last_refusal_text, t.last_refused_at) {
                (Some(text), Some(at)) => format!("{text}, {}", when(at)),
                _ => "—".to_string(),
            };
            let refused = t.refused_24h > 0;
            view! {
                <tr data-token=t.id.to_string() class:bad=refused>
                    <th scope="row">{format!("#{} {}", t.id, t.name)}<span class="hint">{format!(" {}", t.hint)}</span></th>
                    <td data-label="State" class="state">{state}</td>
                    <td data-label="Last used" class="last-used">{last}</td>
                    <td data-label="People" class="num people">{int(t.people)}</td>
                    <td data-label="Installations without e-mail" class="num devices">{int(t.devices)}</td>
                    <td data-label="Refused, 24 h" class="num refused-24h">{int(t.refused_24h)}</td>
                    <td data-label="Refused, 7 days" class="num refused-7d">{int(t.refused_7d)}</td>
                    <td data-label="Last refusal" class="last-refusal">{refusal}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <h3>"Ingest tokens"</h3>
        <div class="table-wrap">
            <table id="rollout-tokens" class="stack">
                <thead><tr>
                    <th scope="col">"Token"</th><th scope="col">"State"</th><th scope="col">"Last used"</th>
                    <th scope="col" class="num">"People"</th><th scope="col" class="num">"Installations without e-mail"</th>
                    <th scope="col" class="num">"Refused, 24 h"</th><th scope="col" class="num">"Refused, 7 days"</th>
                    <th scope="col">"Last refusal"</th>
                </tr></thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
        <p class="hint">
            "Refused requests are machines still sending with a revoked or unknown token: their usage is lost until they get the settings of an active token."
        </p>
    }
    .into_any()
}

#[component]
fn Members(answer: RolloutAnswer) -> impl IntoView {
    let ctx = ctx();
    if answer.members.is_empty() {
        return view! { <p class="hint" id="rollout-members">"No roster: the roll-out cannot say who is missing. Give the server a roster (--roster)."</p> }.into_any();
    }
    let tokens = answer.tokens.clone();
    let oldest = answer.oldest_tested_version.clone();
    let sending: Vec<MemberRollout> = answer
        .members
        .iter()
        .filter(|m| m.last_received_at.is_some())
        .cloned()
        .collect();
    let seen: Vec<PersonKey> = sending.iter().map(|m| m.person.clone()).collect();
    let silent: Vec<MemberRollout> = answer
        .members
        .iter()
        .filter(|m| m.last_received_at.is_none())
        .cloned()
        .collect();
    // Not installed (another source shows use) vs not started: core decides.
    let split = Memo::new(move |_| {
        let roster = ctx.data.with(|d| {
            ctx.live
                .with(|l| l.as_ref().and_then(|l| crate::state::report_roster(d, l)))
        });
        // No report: no source has usage, so no one is active elsewhere.
        ctx.with_report(|r| coverage(roster.as_ref(), &seen, r))
            .flatten()
            .map(|c| c.silent_but_active)
            .unwrap_or_default()
    });
    let sending_view = sending
        .into_iter()
        .map(|m| {
            let version = m.version.clone().unwrap_or_else(|| "not reported".into());
            let old = m.version_older_than_tested.then(|| {
                view! { <span class="source-warning old-version">{format!(" older than {oldest}, the oldest version tested: some figures may be missing")}</span> }
            });
            let last = m.last_received_at.map(|l| format!("{} ({})", ago(l), when(l))).unwrap_or_default();
            view! {
                <tr data-person=m.person.to_string()>
                    <th scope="row">{m.name.clone().unwrap_or_else(|| m.person.to_string())}</th>
                    <td data-label="Last telemetry" class="last-seen">{last}</td>
                    <td data-label="Claude Code" class="version">{version}{old}</td>
                    <td data-label="Tokens" class="tokens">{token_names(&m.tokens, &tokens)}</td>
                </tr>
            }
        })
        .collect_view();
    let n_sending = answer.members.len() - silent.len();
    let label = |m: &MemberRollout| m.name.clone().unwrap_or_else(|| m.person.to_string());
    let silent_list = move |installed_elsewhere: bool| {
        let active = split.get();
        let list: Vec<&MemberRollout> = silent
            .iter()
            .filter(|m| active.contains(&m.person) == installed_elsewhere)
            .collect();
        if list.is_empty() {
            return view! { <li class="hint none">"Nobody."</li> }.into_any();
        }
        list.into_iter()
            .map(|m| view! { <li data-person=m.person.to_string()>{label(m)}</li> })
            .collect_view()
            .into_any()
    };
    let not_installed = silent_list.clone();
    view! {
        <h3>"Roster"</h3>
        <p id="rollout-summary">{format!("{} of {} on the roster sent telemetry.", int(n_sending as u64), plural(answer.members.len() as u64, "person", "people"))}</p>
        <div class="table-wrap">
            <table id="rollout-sending" class="stack">
                <thead><tr>
                    <th scope="col">"Person"</th><th scope="col">"Last telemetry"</th>
                    <th scope="col">"Claude Code version"</th><th scope="col">"Tokens"</th>
                </tr></thead>
                <tbody>{sending_view}</tbody>
            </table>
        </div>
        <div class="health-grid">
            <article>
                <h4>"Not installed yet"</h4>
                <p class="hint">"Never sent telemetry, but another source (Admin API, exports) shows them using Claude Code: the settings are not on their machines."</p>
                <ul id="rollout-not-installed" class="plain">{move || not_installed(true)}</ul>
            </article>
            <article>
                <h4>"Not started"</h4>
                <p class="hint">"Never sent telemetry and no usage in any source: they have not started with Claude Code, or use it where telemetry is not installed."</p>
                <ul id="rollout-not-started" class="plain">{move || silent_list(false)}</ul>
            </article>
        </div>
    }
    .into_any()
}

#[component]
fn UnattributedList(answer: RolloutAnswer) -> impl IntoView {
    let ctx = ctx();
    let tokens = answer.tokens.clone();
    let u = answer.unattributed;
    if u.items.is_empty() {
        return view! { <p class="hint" id="rollout-unattributed">"Every installation that sends telemetry is tied to a person."</p> }.into_any();
    }
    let shown = u.items.len() as u64;
    let more = (u.total > shown).then(|| {
        view! { <p class="hint">{format!("The {} most recent of {} are listed.", int(shown), int(u.total))}</p> }
    });
    let rows = u
        .items
        .into_iter()
        .map(|d| {
            let key = d.person.clone();
            // Usage in the dashboard's window, as core computed it for this key.
            let usage = move || {
                ctx.with_report(|r| {
                    r.people.iter().find(|p| p.person == key).map(
                        |p| format!("{}, {}", plural(p.totals.sessions, "session", "sessions"), usd(p.totals.cost_usd)),
                    )
                })
                .flatten()
                // No report: no source has usage.
                .unwrap_or_else(|| "no usage in this window".to_string())
            };
            let alias = d.alias.clone();
            let copied = RwSignal::new(None::<bool>);
            let copy = move |_| {
                let text = alias.clone();
                leptos::task::spawn_local(async move {
                    copied.set(Some(util::copy_to_clipboard(&text).await));
                });
            };
            let kind = if d.device_only { "installation" } else { "account" };
            view! {
                <tr data-person=d.person.to_string()>
                    <th scope="row"><code class="alias">{d.alias.clone()}</code></th>
                    <td data-label="Kind">{kind}</td>
                    <td data-label="Last telemetry">{format!("{} ({})", ago(d.last_received_at), when(d.last_received_at))}</td>
                    <td data-label="Claude Code" class="version">{d.version.clone().unwrap_or_else(|| "not reported".into())}</td>
                    <td data-label="Tokens">{token_names(&d.tokens, &tokens)}</td>
                    <td data-label="Usage" class="usage">{usage}</td>
                    <td>
                        <button class="btn small copy-alias" on:click=copy>"Copy alias"</button>
                        {move || match copied.get() {
                            Some(true) => Some(view! { <span class="hint">" copied"</span> }.into_any()),
                            Some(false) => Some(view! { <span class="error">" select the alias and copy it"</span> }.into_any()),
                            None => None,
                        }}
                    </td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <h3>"Not tied to a person"</h3>
        <p class="hint">
            {format!("{} telemetry without an e-mail, ", plural(u.total, "installation or account sends", "installations or accounts send"))}
            "usually Claude Code signed in with an API key. Either the engineer adds "
            <code>"\"OTEL_RESOURCE_ATTRIBUTES\": \"user.email=their.name@example.com\""</code>
            " to the env block of their own ~/.claude/settings.json, or you add the alias below to their line of the roster "
            "(the aliases column, several separated by ;, e.g. "<code>"email,aliases"</code>" then "
            <code>"their.name@example.com,device:…"</code>"). The server reads the roster file again when it changes."
        </p>
        {more}
        <div class="table-wrap">
            <table id="rollout-unattributed" class="stack">
                <thead><tr>
                    <th scope="col">"Alias"</th><th scope="col">"Kind"</th><th scope="col">"Last telemetry"</th>
                    <th scope="col">"Claude Code version"</th><th scope="col">"Tokens"</th><th scope="col">"Usage in this window"</th>
                    <th scope="col"><span class="sr-only">"Copy"</span></th>
                </tr></thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
    }
    .into_any()
}
