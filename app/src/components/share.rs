//! The share dialog (privacy choice, link, snapshot file, server-stored
//! snapshot, live link), the read-only shared view, and the CSV downloads.

use std::sync::Arc;

use leptos::prelude::*;
use scoreboard_core::metrics::Report;
use scoreboard_core::share::{self, Privacy, ShareError, Snapshot, View, DEFAULT_MIN_GROUP};

use crate::components::{dashboard::Dashboard, definitions::DefinitionList, people::PeopleSection};
use crate::export;
use crate::share::{self as sharing, share_ctx, Opened, OpenedFrom, SharedCounts, Shown};
use crate::state::{ctx, Ctx, Data};
use crate::util::{self, int, plural};

// ---- downloads -----------------------------------------------------------------

fn window_stem(r: &Report) -> String {
    format!("{}-to-{}", r.window.from, r.window.to)
}

/// CSV downloads of the weekly series and the people table.
#[component]
pub fn Downloads() -> impl IntoView {
    let r = ctx().report;
    let weeks = move |_| {
        let (name, text) = r.with(|r| {
            (
                format!("scoreboard-weeks-{}.csv", window_stem(r)),
                share::weeks_csv(r),
            )
        });
        alert_on_error(export::download_text(&name, "text/csv", &text));
    };
    let people = move |_| {
        let (name, text) = r.with(|r| {
            (
                format!("scoreboard-people-{}.csv", window_stem(r)),
                share::people_csv(r),
            )
        });
        alert_on_error(export::download_text(&name, "text/csv", &text));
    };
    let has_people = move || r.with(|r| !r.people.is_empty());
    view! {
        <section class="downloads" aria-label="Downloads">
            <span class="hint">"Download as CSV (for a spreadsheet): "</span>
            <button id="export-weeks-csv" class="btn quiet small" on:click=weeks>"Weekly figures"</button>
            <Show when=has_people>
                <button id="export-people-csv" class="btn quiet small" on:click=people>"People table"</button>
            </Show>
            <span class="hint">" Each chart has its own SVG and PNG download."</span>
        </section>
    }
}

fn alert_on_error(r: Result<(), String>) {
    if let Err(e) = r {
        if let Some(w) = web_sys::window() {
            let _ = w.alert_with_message(&format!("The download could not be made: {e}"));
        }
    }
}

// ---- the share dialog ----------------------------------------------------------

/// The "Share…" button of the header and its dialog.
#[component]
pub fn ShareButton() -> impl IntoView {
    let open = RwSignal::new(false);
    view! {
        <button id="share-button" class="btn" on:click=move |_| open.set(true)
            aria-haspopup="dialog" aria-expanded=move || open.get().to_string()>
            "Share…"
        </button>
        <Show when=move || open.get()>
            <ShareDialog on_close=move || open.set(false)/>
        </Show>
    }
}

/// What the dialog made from the current view and the privacy choice.
#[derive(Debug, Clone, PartialEq)]
struct Made {
    snapshot: Arc<Snapshot>,
    code: String,
    url: String,
}

fn snapshot_of(c: Ctx, privacy: Privacy, min_group: u64) -> Result<Snapshot, ShareError> {
    let r = c.report.get();
    let window = c.view.with(|v| v.options(r.window.as_of).window);
    let view = View {
        window,
        team: r.window.team.clone(),
    };
    share::make_snapshot(
        &r,
        privacy,
        min_group,
        &sharing::salt(),
        util::today_utc(),
        view,
    )
}

/// The link of a snapshot (packed by the browser, so asynchronously).
async fn make(snapshot: Result<Snapshot, String>) -> Result<Made, String> {
    let snapshot = snapshot?;
    let code = sharing::encode_link(&snapshot).await?;
    let url = format!("{}#s={code}", sharing::page_base());
    Ok(Made {
        snapshot: Arc::new(snapshot),
        code,
        url,
    })
}

fn kb(n: usize) -> String {
    format!("{:.1} KB", n as f64 / 1024.0)
}

const PRIVACY_CHOICES: [(Privacy, &str, &str, &str); 3] = [
    (
        Privacy::Names,
        "share-privacy-names",
        "Names shown",
        "Everything as you see it: names, e-mails, the people table and the lists. For people who may see who is who.",
    ),
    (
        Privacy::Pseudonyms,
        "share-privacy-pseudonyms",
        "Names replaced by pseudonyms",
        "Every person becomes a stable code such as “Engineer 7KQ2XM” (the same code each time you share from this browser); e-mails and names are removed everywhere, including warnings. Figures per person stay.",
    ),
    (
        Privacy::AggregatesOnly,
        "share-privacy-aggregates",
        "Aggregates only",
        "No row per person at all: the people table is left out and lists (not started, power users, …) are shown as counts. Totals and charts are unchanged.",
    ),
];

#[component]
fn ShareDialog(on_close: impl Fn() + Clone + Send + Sync + 'static) -> impl IntoView {
    let c = ctx();
    let privacy = RwSignal::new(Privacy::Pseudonyms);
    let min_group = RwSignal::new(DEFAULT_MIN_GROUP);
    let limit = sharing::link_limit();
    let snapshot = Memo::new(move |_| {
        snapshot_of(c, privacy.get(), min_group.get()).map_err(|e| e.to_string())
    });
    // `None` while the link of the latest choice is being packed.
    let made = RwSignal::new(None::<Result<Made, String>>);
    let packing = StoredValue::new(0u64);
    Effect::new(move |_| {
        let s = snapshot.get();
        let run = packing.get_value() + 1;
        packing.set_value(run);
        made.set(None);
        leptos::task::spawn_local(async move {
            let m = make(s).await;
            // A later choice's link wins over this one.
            if packing.get_value() == run {
                made.set(Some(m));
            }
        });
    });
    let is_made = move || made.with(|m| matches!(m, Some(Ok(_))));
    let copied = RwSignal::new(None::<String>);
    let server = RwSignal::new(false);
    let stored_link = RwSignal::new(None::<Result<String, String>>);
    let stored = RwSignal::new(None::<Result<Vec<sharing::StoredSnapshot>, String>>);
    let refresh_list = move || {
        leptos::task::spawn_local(async move {
            stored.set(Some(sharing::stored_snapshots().await));
        })
    };
    leptos::task::spawn_local(async move {
        if sharing::served_by_server().await {
            server.set(true);
            refresh_list();
        }
    });
    // Any change of choice makes earlier results stale.
    Effect::new(move |_| {
        privacy.track();
        min_group.track();
        copied.set(None);
        stored_link.set(None);
    });

    let node = NodeRef::<leptos::html::Div>::new();
    Effect::new(move |_| {
        if let Some(el) = node.get() {
            let _ = el.focus();
        }
    });
    let close = on_close.clone();
    let on_key = move |ev: web_sys::KeyboardEvent| {
        if ev.key() == "Escape" {
            close();
        }
    };

    let fits = move || {
        made.with(|m| matches!(m, Some(Ok(m)) if m.url.len() - sharing::page_base().len() <= limit))
    };
    let copy = move |text: String, what: &'static str| {
        leptos::task::spawn_local(async move {
            let ok = util::copy_to_clipboard(&text).await;
            copied.set(Some(if ok {
                format!("The {what} was copied to the clipboard.")
            } else {
                "The browser did not allow copying: select the link and copy it by hand."
                    .to_string()
            }));
        });
    };
    let download = move |_| {
        if let Some(Ok(m)) = made.get_untracked() {
            let name = format!(
                "scoreboard-snapshot-{}.scoreboard.json",
                m.snapshot.created_on
            );
            alert_on_error(export::download_text(
                &name,
                "application/json",
                &share::encode_file(&m.snapshot),
            ));
        }
    };
    let store = move |_| {
        let Some(Ok(m)) = made.get_untracked() else {
            return;
        };
        stored_link.set(Some(Err("Storing…".into())));
        leptos::task::spawn_local(async move {
            let r = sharing::store_on_server(&m.code).await;
            let ok = r.is_ok();
            stored_link.set(Some(
                r.map_err(|e| format!("The server did not store it: {e}")),
            ));
            if ok {
                refresh_list();
            }
        });
    };
    let live = move || c.view.with(sharing::live_link);
    let close_btn = on_close.clone();

    view! {
        <div class="backdrop">
            <div class="dialog share-dialog" id="share-dialog" role="dialog" aria-modal="true"
                aria-labelledby="share-title" tabindex="-1" node_ref=node on:keydown=on_key>
                <h2 id="share-title">"Share this view"</h2>
                <p class="explain">
                    "A link shows a colleague this dashboard as it is now: the same weeks, team, figures, charts and tables. "
                    "It carries the figures already computed here, not your files, and opens in any browser with nothing to install. "
                    "The part after “#” is never sent to any server. The shared view is read-only."
                </p>
                <fieldset class="share-privacy">
                    <legend>"Who is named"</legend>
                    {PRIVACY_CHOICES.iter().map(|&(p, id, label, explain)| view! {
                        <div class="choice">
                            <input type="radio" name="share-privacy" id=id
                                prop:checked=move || privacy.get() == p
                                on:change=move |_| privacy.set(p)/>
                            <label for=id><strong>{label}</strong><span class="hint">{explain}</span></label>
                        </div>
                    }).collect_view()}
                </fieldset>
                <div class="share-threshold">
                    <label for="share-min-group">"Smallest group shown when names are hidden"</label>
                    <input id="share-min-group" type="number" min="2" max="100"
                        prop:value=move || min_group.get().to_string()
                        on:change=move |ev| {
                            if let Ok(n) = event_target_value(&ev).trim().parse::<u64>() {
                                min_group.set(n.clamp(2, 100));
                            }
                        }/>
                    <p class="hint">{move || format!(
                        "With names hidden, a team of fewer than {} people could point at someone: such teams are merged into one group in the people table (left out if still too small), and a view of one such team cannot be shared. Totals never change.",
                        min_group.get()
                    )}</p>
                </div>

                {move || made.get().map(|m| m.map(|m| {
                    let size = m.url.len() - sharing::page_base().len();
                    let url = m.url.clone();
                    let url2 = m.url.clone();
                    view! {
                        <p class="hint" id="share-caption">{m.snapshot.caption()}</p>
                        <Show when=fits fallback=move || view! {
                            <p id="share-too-long" class="notice" role="status">{format!(
                                "This snapshot makes a link of {}, longer than {} (links that long get cut by chat tools and mail). \
                                 Download it as a snapshot file instead: send the file (it opens when dropped on this page), or publish it \
                                 next to the page and share the page's address with ?snapshot=<the file's address>.",
                                kb(size), kb(limit))}</p>
                        }>
                            <label for="share-link">"Link"</label>
                            <div class="share-row">
                                <input id="share-link" type="text" readonly prop:value=url.clone()
                                    on:focus=move |ev| { event_target::<web_sys::HtmlInputElement>(&ev).select(); }/>
                                <button id="share-copy" class="btn primary" on:click={
                                    let url = url2.clone();
                                    move |_| copy(url.clone(), "link")
                                }>"Copy link"</button>
                            </div>
                            <p class="hint">{format!("{} of link.", kb(size))}</p>
                        </Show>
                    }.into_any()
                }).unwrap_or_else(|e| view! { <p id="share-error" class="error" role="alert">{e}</p> }.into_any()))}
                <Show when=is_made>
                    <p>
                        <button id="share-download" class="btn" on:click=download>"Download snapshot file"</button>
                        <span class="hint">" A .scoreboard.json file with the same content, for mail or for publishing next to a static copy of the page."</span>
                    </p>
                </Show>
                <p class="hint" role="status" id="share-copied">{move || copied.get()}</p>

                <Show when=move || server.get()>
                    <section class="share-server" aria-labelledby="share-server-title">
                        <h3 id="share-server-title">"On this server"</h3>
                        <p class="hint">
                            "Store the snapshot on this server under an unguessable address: the link stays short whatever the size, "
                            "and can be deleted here later. Anyone with the link can open it."
                        </p>
                        <button id="share-store" class="btn" on:click=store disabled=move || !is_made()>"Store on this server"</button>
                        {move || stored_link.get().map(|r| match r {
                            Ok(link) => {
                                let l2 = link.clone();
                                view! {
                                    <div class="share-row">
                                        <input id="share-stored-link" type="text" readonly prop:value=link/>
                                        <button class="btn" on:click=move |_| copy(l2.clone(), "link")>"Copy"</button>
                                    </div>
                                }.into_any()
                            }
                            Err(e) => view! { <p class="hint" id="share-store-status">{e}</p> }.into_any(),
                        })}
                        <h4>"Live link"</h4>
                        <p class="hint">
                            "Opens this page on this server with the same weeks and team, showing the server's data as it is when opened. "
                            "No snapshot and no privacy choice: the person needs access to this server (on a shared server, a viewer token or your sign-in proxy)."
                        </p>
                        <div class="share-row">
                            <input id="share-live-link" type="text" readonly prop:value=live/>
                            <button class="btn" on:click=move |_| copy(live(), "live link")>"Copy"</button>
                        </div>
                        <details id="share-stored" class="share-stored">
                            <summary>"Snapshots stored on this server"</summary>
                            {move || match stored.get() {
                                None => view! { <p class="hint">"Reading…"</p> }.into_any(),
                                Some(Err(e)) => view! { <p class="hint">{format!("The list could not be read: {e}")}</p> }.into_any(),
                                Some(Ok(list)) if list.is_empty() => view! { <p class="hint">"None yet."</p> }.into_any(),
                                Some(Ok(list)) => view! {
                                    <ul id="share-stored-list" class="plain">
                                        {list.into_iter().map(|s| {
                                            let id = s.id.clone();
                                            let href = format!("?snapshot=api/snapshots/{}", s.id);
                                            view! {
                                                <li data-id=s.id.clone()>
                                                    <a href=href target="_blank" rel="noopener">{s.description.clone()}</a>
                                                    <span class="hint">{format!(" stored {} ({})", s.created_at.replace('T', " ").chars().take(16).collect::<String>(), kb(s.bytes as usize))}</span>
                                                    <button class="btn quiet small" on:click=move |_| {
                                                        let id = id.clone();
                                                        leptos::task::spawn_local(async move {
                                                            if let Err(e) = sharing::delete_stored(&id).await {
                                                                stored.set(Some(Err(e)));
                                                            } else {
                                                                refresh_list();
                                                            }
                                                        });
                                                    }>"Delete"</button>
                                                </li>
                                            }
                                        }).collect_view()}
                                    </ul>
                                }.into_any(),
                            }}
                        </details>
                    </section>
                </Show>
                <div class="dialog-actions">
                    <button id="share-done" class="btn quiet" on:click=move |_| close_btn()>"Close"</button>
                </div>
            </div>
        </div>
    }
}

// ---- the shared view -----------------------------------------------------------

/// The header of a shared view: no share, no clear.
#[component]
pub fn SharedHeader() -> impl IntoView {
    view! {
        <header class="top">
            <div class="brand">
                <h1>"Scoreboard"</h1>
                <p class="tagline">"A shared snapshot of Claude Code adoption, week by week."</p>
            </div>
        </header>
    }
}

/// What the page shows instead of its own data while a snapshot is open.
#[component]
pub fn SharedPage() -> impl IntoView {
    let sc = share_ctx();
    move || {
        match sc.shown.get() {
        Shown::Own => ().into_any(),
        Shown::Loading(url) => view! {
            <p class="loading" id="share-loading">{if url.is_empty() {
                "Opening the shared snapshot…".to_string()
            } else {
                format!("Opening the shared snapshot at {url}…")
            }}</p>
        }
        .into_any(),
        Shown::Failed(message) => view! {
            <section id="share-failed" class="panel share-failed" role="alert" aria-labelledby="share-failed-title">
                <h2 id="share-failed-title">"This shared snapshot cannot be shown"</h2>
                <p id="share-failed-message">{message}</p>
                <p class="hint">"Ask the person who shared it for a new link, or for the snapshot file."</p>
                <button id="share-close" class="btn" on:click=move |_| sc.close()>"Open Scoreboard without it"</button>
            </section>
        }
        .into_any(),
        Shown::Open(opened) => view! { <SharedView opened/> }.into_any(),
    }
    }
}

fn opened_from_text(o: &OpenedFrom) -> String {
    match o {
        OpenedFrom::Link => "Opened from a link.".into(),
        OpenedFrom::Url(u) => format!("Opened from {u}."),
        OpenedFrom::File(f) => format!("Opened from the file {f}."),
    }
}

/// Makes the components below read `s`'s report instead of the page's
/// data (the shared view, and an embed of a snapshot).
pub fn provide_snapshot(s: &Snapshot) {
    let base = ctx();
    let report = Arc::new(s.report.clone());
    let shared = Ctx {
        data: RwSignal::new(Data::default()),
        view: RwSignal::new(sharing::view_state(s)),
        report: Memo::new(move |_| report.clone()),
        notice: RwSignal::new(None),
        last_batch: RwSignal::new(Vec::new()),
        ..base
    };
    provide_context(shared);
    provide_context(SharedCounts(sharing::hidden_counts(s)));
}

#[component]
fn SharedView(opened: Arc<Opened>) -> impl IntoView {
    let sc = share_ctx();
    let s = &opened.snapshot;
    provide_snapshot(s);
    let r = &s.report;
    let team = r
        .window
        .team
        .clone()
        .map_or_else(|| "all teams".to_string(), |t| format!("team {t}"));
    let shown = format!(
        "{} from {} to {} (UTC), {}, as of {}.",
        plural(r.weeks.len() as u64, "week", "weeks"),
        r.window.from,
        r.window.to,
        team,
        r.window.as_of
    );
    let aggregates = s.privacy == Privacy::AggregatesOnly;
    let counts = s.counts.clone();
    view! {
        <section id="share-banner" class="share-banner" role="note" aria-label="Shared snapshot">
            <p class="share-caption" id="share-caption-shown"><strong>{s.caption()}</strong></p>
            <p>{format!(
                "A read-only snapshot: the figures were computed by the person who shared it and cannot be changed here. {shown} {}",
                opened_from_text(&opened.from)
            )}</p>
            <button id="share-close" class="btn quiet small" on:click=move |_| sc.close()>"Open Scoreboard without this snapshot"</button>
        </section>
        <div id="dashboard" class="dashboard shared">
            <Dashboard/>
            {if aggregates {
                view! { <SharedCountsView counts/> }.into_any()
            } else {
                view! { <PeopleSection/> }.into_any()
            }}
            <SharedHealth/>
            <DefinitionList/>
        </div>
    }
}

/// Aggregates only: the people lists as counts.
#[component]
fn SharedCountsView(counts: share::ListCounts) -> impl IntoView {
    let rows = [
        ("count-people", "People in the data", counts.people),
        ("count-power-users", "Power users", counts.power_users),
        (
            "count-non-starters",
            "On the roster, not started yet",
            counts.non_starters,
        ),
        (
            "count-new",
            "Started in the latest week",
            counts.new_this_week,
        ),
        (
            "count-not-on-roster",
            "In the data, not on the roster",
            counts.not_on_roster,
        ),
        (
            "count-never-seen",
            "On the roster, never seen in any source",
            counts.roster_never_seen,
        ),
    ];
    view! {
        <section class="people-block" aria-labelledby="people-title">
            <div class="section-head">
                <h2 id="people-title">"People"</h2>
                <p class="explain">"Shared as aggregates only: no row per person, each list as a count."</p>
            </div>
            <dl class="share-counts">
                {rows.into_iter().map(|(id, label, n)| view! {
                    <div><dt>{label}</dt><dd id=id data-value=n.to_string()>{int(n)}</dd></div>
                }).collect_view()}
            </dl>
        </section>
    }
}

/// Where the snapshot's figures come from (the shared part of data health).
#[component]
fn SharedHealth() -> impl IntoView {
    let r = ctx().report;
    view! {
        <section id="health" class="panel health" aria-labelledby="health-title">
            <h2 id="health-title">"Where the figures come from"</h2>
            <table class="health-table stack">
                <thead><tr>
                    <th scope="col">"Source"</th><th scope="col">"First day"</th><th scope="col">"Last day"</th>
                    <th scope="col" class="num">"People"</th><th scope="col" class="num">"Days in gaps (no data)"</th>
                </tr></thead>
                <tbody>
                    {move || r.with(|r| r.health.sources.iter().map(|s| view! {
                        <tr>
                            <th scope="row">{s.source.as_str()}</th>
                            <td data-label="First day">{util::opt_day(s.first_day)}</td>
                            <td data-label="Last day">{util::opt_day(s.last_day)}</td>
                            <td class="num" data-label="People">{int(s.persons)}</td>
                            <td class="num" data-label="Days in gaps (no data)">{int(s.gaps.iter().map(|(a, b)| (*b - *a).num_days() as u64 + 1).sum())}</td>
                        </tr>
                    }).collect_view())}
                </tbody>
            </table>
        </section>
    }
}
