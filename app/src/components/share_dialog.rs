//! The share dialog: the privacy choice, the link, the snapshot file, a
//! snapshot stored on the server, and the live link. What a link opens is
//! `components::shared_page`.

use std::sync::Arc;

use leptos::prelude::*;
use scoreboard_core::share::{self, Privacy, ShareError, Snapshot, View, DEFAULT_MIN_GROUP};
use scoreboard_core::Report;

use crate::components::downloads::alert_on_error;
use crate::error::{FetchError, JsError};
use crate::export;
use crate::shared_view as sharing;
use crate::state::{ctx, Ctx};
use crate::util;

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
            {lazily!(share_dialog(open))}
        </Show>
    }
}

/// Opened by a click, with the snapshot code: a module of its own, loaded when first opened.
#[cfg_attr(feature = "split", leptos::lazy)]
fn share_dialog(open: RwSignal<bool>) -> super::Build {
    std::rc::Rc::new(move || view! { <ShareDialog on_close=move || open.set(false)/> }.into_any())
}

/// Where storing the snapshot on the server stands.
#[derive(Debug, Clone, PartialEq)]
enum Storing {
    Sent,
    /// The stored snapshot's link.
    Stored(String),
    Failed(FetchError),
}

/// What the dialog made from the current view and the privacy choice.
#[derive(Debug, Clone, PartialEq)]
struct Made {
    snapshot: Arc<Snapshot>,
    code: String,
    url: String,
}

fn snapshot_of(
    c: Ctx,
    report: Signal<Arc<Report>>,
    privacy: Privacy,
    min_group: u64,
) -> Result<Snapshot, ShareError> {
    let r = report.get();
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

/// Why the dialog has no link to offer.
#[derive(Debug, thiserror::Error)]
enum LinkError {
    /// The view cannot be shared as chosen (e.g. one team too small to hide names).
    #[error("{0}")]
    Snapshot(Arc<ShareError>),
    /// The browser could not pack the snapshot.
    #[error("the browser could not pack the link: {0}")]
    Pack(#[from] JsError),
}

/// The link of a snapshot (packed by the browser, so asynchronously).
async fn make(snapshot: Result<Snapshot, Arc<ShareError>>) -> Result<Made, LinkError> {
    let snapshot = snapshot.map_err(LinkError::Snapshot)?;
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
    let Some(report) = c.shown_report() else {
        return ().into_any();
    };
    let privacy = RwSignal::new(Privacy::Pseudonyms);
    let min_group = RwSignal::new(DEFAULT_MIN_GROUP);
    let limit = sharing::link_limit();
    let snapshot = Memo::new(move |_| {
        snapshot_of(c, report, privacy.get(), min_group.get()).map_err(Arc::new)
    });
    // `None` while the link of the latest choice is being packed.
    let made = RwSignal::new(None::<Result<Made, Arc<LinkError>>>);
    let packing = StoredValue::new(0u64);
    Effect::new(move |_| {
        let s = snapshot.get();
        let run = packing.get_value() + 1;
        packing.set_value(run);
        made.set(None);
        leptos::task::spawn_local(async move {
            let m = make(s).await.map_err(Arc::new);
            // A later choice's link wins over this one.
            if packing.get_value() == run {
                made.set(Some(m));
            }
        });
    });
    let is_made = move || made.with(|m| matches!(m, Some(Ok(_))));
    let copied = RwSignal::new(None::<String>);
    let server = RwSignal::new(false);
    let stored_link = RwSignal::new(None::<Storing>);
    let stored = RwSignal::new(None::<Result<Vec<sharing::StoredSnapshot>, FetchError>>);
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
        stored_link.set(Some(Storing::Sent));
        leptos::task::spawn_local(async move {
            match sharing::store_on_server(&m.code).await {
                Ok(link) => {
                    stored_link.set(Some(Storing::Stored(link)));
                    refresh_list();
                }
                Err(e) => stored_link.set(Some(Storing::Failed(e))),
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
                }).unwrap_or_else(|e| view! { <p id="share-error" class="error" role="alert">{e.to_string()}</p> }.into_any()))}
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
                            Storing::Stored(link) => {
                                let l2 = link.clone();
                                view! {
                                    <div class="share-row">
                                        <input id="share-stored-link" type="text" readonly prop:value=link/>
                                        <button class="btn" on:click=move |_| copy(l2.clone(), "link")>"Copy"</button>
                                    </div>
                                }.into_any()
                            }
                            Storing::Sent => view! { <p class="hint" id="share-store-status">"Storing…"</p> }.into_any(),
                            Storing::Failed(e) => view! {
                                <p class="hint" id="share-store-status">{format!("The server did not store it: {e}")}</p>
                            }.into_any(),
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
    .into_any()
}
