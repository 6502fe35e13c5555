//! "Connect Claude Code": what telemetry is, how to get an ingest token,
//! and the exact settings snippet for a pasted token, with a copy button.
//! The snippet comes from `scoreboard_core::telemetry::settings_json`, the
//! same function `scoreboard token create` prints with. The pasted token
//! lives in this view only: it is neither stored nor sent anywhere.

use leptos::prelude::*;
use scoreboard_core::telemetry::settings_json;

use crate::state::ctx;
use crate::util;

/// The server's origin, where Claude Code sends its telemetry (`/v1/metrics`, `/v1/logs`).
fn origin() -> String {
    web_sys::window()
        .and_then(|w| w.location().origin().ok())
        .unwrap_or_default()
}

fn is_loopback(origin: &str) -> bool {
    origin.contains("://127.") || origin.contains("://localhost") || origin.contains("://[::1]")
}

/// What is wrong with a pasted token, if anything.
fn token_problem(token: &str) -> Option<&'static str> {
    if token.is_empty() {
        None
    } else if token.starts_with("sbv_") {
        Some("This is a viewer token: it can read the dashboard but not send telemetry. Paste an ingest token (it starts with sbi_).")
    } else if token.starts_with("sk-ant-") {
        Some("This looks like an Anthropic API key. Never put it on engineers' machines. Paste the Scoreboard ingest token printed by `scoreboard token create` (it starts with sbi_).")
    } else if !token.starts_with("sbi_") || token.len() != 68 || token.contains(char::is_whitespace)
    {
        Some("This is not a Scoreboard ingest token: those start with sbi_ followed by 64 letters and digits.")
    } else {
        None
    }
}

/// Opened by a click: a module of its own, loaded when first shown.
#[component]
pub fn Connect(open: RwSignal<bool>) -> impl IntoView {
    lazily!(connect_panel(open))
}

#[cfg_attr(feature = "split", leptos::lazy)]
fn connect_panel(open: RwSignal<bool>) -> super::Build {
    std::rc::Rc::new(move || view! { <ConnectPanel open/> }.into_any())
}

#[component]
fn ConnectPanel(open: RwSignal<bool>) -> impl IntoView {
    let ctx = ctx();
    let token = RwSignal::new(String::new());
    let endpoint = origin();
    let loopback = is_loopback(&endpoint);
    let good = move || token.with(|t| !t.is_empty() && token_problem(t).is_none());
    let snippet = {
        let endpoint = endpoint.clone();
        move || token.with(|t| settings_json(&endpoint, t))
    };
    let copy_failed = RwSignal::new(false);
    let copy = {
        let snippet = snippet.clone();
        move |_| {
            let text = snippet();
            leptos::task::spawn_local(async move {
                let copied = util::copy_to_clipboard(&text).await;
                copy_failed.set(!copied);
                if copied {
                    ctx.notice.set(Some(
                        "Copied the Claude Code settings to the clipboard.".to_string(),
                    ));
                }
            });
        }
    };
    view! {
        <section id="connect" class="panel connect" aria-labelledby="connect-title">
            <div class="sources-head">
                <h2 id="connect-title">"Connect Claude Code"</h2>
                <button class="btn quiet small" on:click=move |_| open.set(false)>"Close"</button>
            </div>
            <p class="explain">
                "Claude Code can report its own usage as OpenTelemetry: counts of sessions, lines of code added and removed, "
                "commits, pull requests, accepted and rejected edits, tokens, cost and active time. On Team plans this is the only "
                "live per-person data. Each engineer's Claude Code sends it to this server, which keeps only those counters per "
                "person and day. Prompt text, responses, file contents and tool parameters are dropped on arrival: they are never "
                "stored or logged."
            </p>
            <ol class="connect-steps">
                <li>
                    <p>
                        "On the machine that runs this server, create an ingest token (it can only send telemetry; it is shown once "
                        "and only its hash is kept):"
                    </p>
                    <pre class="command"><code>"scoreboard token create --name \"Engineering\""</code></pre>
                    <p class="hint">
                        "Use the same --data-dir (or config file) as the running server. The command also prints a macOS "
                        "configuration profile for MDM. This page cannot create tokens: it never holds admin credentials."
                    </p>
                </li>
                <li>
                    <label for="connect-token">"Paste the token here to see the settings to install:"</label>
                    <input id="connect-token" class="token-input" type="text" autocomplete="off" spellcheck="false"
                        placeholder="sbi_…"
                        prop:value=move || token.get()
                        on:input=move |ev| token.set(event_target_value(&ev).trim().to_string())/>
                    <p class="hint">"The token stays in this page: it is not stored and not sent anywhere."</p>
                    {move || token.with(|t| token_problem(t)).map(|p| view! { <p id="connect-token-problem" class="error">{p}</p> })}
                </li>
                <li>
                    <p>
                        "Install these settings: for one engineer, merge them into "<code>"~/.claude/settings.json"</code>
                        " (settings in a repository's .claude/settings.json are ignored for telemetry); for every machine, enforced, "
                        "save them as "<code>"managed-settings.json"</code>" in "
                        <code>"/Library/Application Support/ClaudeCode/"</code>" (macOS), "
                        <code>"/etc/claude-code/"</code>" (Linux) or "
                        <code>"C:\\Program Files\\ClaudeCode\\"</code>" (Windows)."
                    </p>
                    {loopback.then(|| view! {
                        <p class="source-warning">
                            {format!(
                                "This page is opened at {endpoint}, which only this machine can reach. For engineers' machines, use the \
                                 address they reach the server at: set public_url in the server's config and run the token command there, \
                                 or replace the endpoint below."
                            )}
                        </p>
                    })}
                    <Show when=good fallback=|| view! { <p class="hint">"The settings appear here once a valid token is pasted."</p> }>
                        <pre id="connect-snippet" class="snippet"><code>{snippet.clone()}</code></pre>
                        <button id="connect-copy" class="btn primary small" on:click=copy.clone()>"Copy the settings"</button>
                        <Show when=move || copy_failed.get()>
                            <p class="error">"The browser did not allow copying: select the text above and copy it."</p>
                        </Show>
                    </Show>
                </li>
                <li>
                    <p>
                        "Make sure everyone is named. Engineers signed in to Claude Code with their claude.ai account are identified by "
                        "their e-mail automatically. Engineers who use an API key send no e-mail: each of them adds "
                        <code>"\"OTEL_RESOURCE_ATTRIBUTES\": \"user.email=their.name@example.com\""</code>
                        " to the env block of their own "<code>"~/.claude/settings.json"</code>" (managed settings cannot hold a "
                        "per-person value), or you add their installation id to the roster's aliases column: the telemetry roll-out "
                        "in the details lists each unattributed installation with the alias to copy."
                    </p>
                </li>
                <li>
                    <p>
                        "Check from an engineer's machine: "<code>{format!("scoreboard token check --endpoint {endpoint} TOKEN")}</code>
                        " sends one empty request as Claude Code does and says whether it arrived and the token works. Then start "
                        <code>"claude"</code>", type a prompt; within a few minutes the telemetry roll-out in the details shows the machine "
                        "(press Refresh now). Revoke a token with "<code>"scoreboard token revoke ID"</code>" ("
                        <code>"scoreboard token list"</code>" shows the ids)."
                    </p>
                </li>
            </ol>
        </section>
    }
}
