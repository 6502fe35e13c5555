//! The page: the header (Add files, Share, Clear), one-line status (demo or
//! live sources), then the answer first (filters, sentence, cards), and
//! below it the notes, charts, people, data health and definitions. The
//! first visit, with nothing loaded, explains itself and offers the demo.

use leptos::prelude::*;

use crate::backend;
use crate::components::embed::{self, Embed};
use crate::components::load::{
    nothing_loaded, AddFiles, DemoLine, DropOverlay, FilesPanelOpen, Intro, ProgressView,
};
use crate::components::share_dialog::ShareButton;
use crate::components::shared_page::{SharedHeader, SharedPage};
use crate::components::{
    dashboard::{Dashboard, Primer},
    definitions::DefinitionList,
    dialogs::Dialogs,
    filters::Filters,
    frame,
    health::Health,
    people::PeopleSection,
    sources::SourceBar,
    Later,
};
use crate::live;
use crate::loader;
use crate::shared_view::{self, ShareCtx, Shown};
use crate::state::{Ctx, Data, Jobs, KeptFiles, Live, ViewState};
use crate::storage;
use crate::util;

/// The page's state, wired: the report follows the view, the data the user
/// loaded and the server's rows ([`backend::follow_report`]), as of the pinned
/// `?as_of=`, the demo's day, or today. The one place a [`Ctx`] is made (a
/// snapshot's read-only copy is [`Ctx::showing`]).
pub fn new_ctx(view: ViewState) -> Ctx {
    let data = RwSignal::new(Data::default());
    let live = RwSignal::new(None::<Live>);
    let view = RwSignal::new(view);
    let as_of = Memo::new(move |_| {
        let live_rows = live.with(|l| l.as_ref().is_some_and(Live::has_rows));
        data.with(|d| backend::as_of(d, live_rows))
    });
    let ctx = Ctx {
        data,
        view,
        report: RwSignal::new(None),
        report_ready: RwSignal::new(false),
        progress: RwSignal::new(None),
        question: RwSignal::new(None),
        answer: StoredValue::new(None),
        last_batch: RwSignal::new(Vec::new()),
        notice: RwSignal::new(None),
        restored: RwSignal::new(false),
        fonts_wanted: RwSignal::new(false),
        live,
        jobs: Jobs::new(),
        kept: StoredValue::new_local(KeptFiles::default()),
        engine: StoredValue::new_local(Default::default()),
    };
    backend::follow_report(ctx, as_of);
    ctx
}

#[component]
pub fn App() -> impl IntoView {
    // `?embed=…`: one view for another site's frame, nothing else; its view
    // comes from the URL alone, never the one remembered from the full page.
    let embed = embed::requested();
    let (view, note) = match embed {
        Some(_) => embed::view_from_params(),
        // A live share link's `?window=…&team=…` wins over the remembered view.
        None => (
            shared_view::view_from_url()
                .or_else(storage::load_view)
                .unwrap_or_default(),
            None,
        ),
    };
    let ctx = new_ctx(view);
    provide_context(ctx);
    // A shared snapshot in the URL (#s=…, ?snapshot=…) replaces the page's own data.
    let sc = ShareCtx::provide();
    if let Some(kind) = embed {
        // Nothing is saved back from an embed.
        let ready = RwSignal::new(false);
        leptos::task::spawn_local(async move {
            load(ctx, sc).await;
            backend::report_settled(ctx).await;
            ready.set(true);
        });
        return view! { <Embed kind note ready/> }.into_any();
    }
    FilesPanelOpen::provide();

    leptos::task::spawn_local(load(ctx, sc));
    // Data on its way: the dashboard's sections are fetched meanwhile.
    Effect::new(move |_| {
        if ctx.progress.with(Option::is_some) || !nothing_loaded(ctx) {
            crate::components::preload_dashboard(ctx);
        }
    });

    // The view survives a reload.
    Effect::new(move |_| ctx.view.with(storage::save_view));

    let has_data = move || !nothing_loaded(ctx);
    view! {
        <a class="skip" href="#dashboard">"Skip to the dashboard"</a>
        <Show when=move || sc.shown.with(|s| *s == Shown::Own)
            fallback=|| view! { <SharedHeader/><main><SharedPage/></main> }>
        <Header/>
        <main>
            <Notice/>
            <ProgressView/>
            <DemoLine/>
            <SourceBar/>
            <Dialogs/>
            <Show
                when=has_data
                fallback=move || view! {
                    <Show when=move || ctx.restored.get()
                        fallback=|| view! { <p class="loading">"Opening the data kept in this browser…"</p> }>
                        <Intro/>
                    </Show>
                }
            >
                // No report yet: being computed, or the first one failed
                // (the notice above says why).
                <Show when=move || ctx.report_ready.get() && ctx.report.with(Option::is_some)
                    fallback=move || (!ctx.report_ready.get()).then(|| view! {
                        <p class="loading" id="computing">"Computing the figures…"</p>
                    })>
                    <div id="dashboard" class="dashboard">
                        <Filters/>
                        <Dashboard/>
                        <Later step=frame::PEOPLE><PeopleSection/></Later>
                        <Later step=frame::HEALTH><Health/></Later>
                        <Later step=frame::DEFINITIONS><DefinitionList/></Later>
                    </div>
                </Show>
            </Show>
        </main>
        </Show>
        // Outside the shared view's switch: mounted once, so a drop is read once.
        <DropOverlay/>
        // Laid out unseen from the user's move to pick files until a
        // dashboard shows (`dashboard::Primer`).
        {move || (ctx.fonts_wanted.get() && ctx.report.with(Option::is_none)).then(Primer)}
        <footer class="foot">
            <p>
                "Scoreboard computes every figure in this browser from the files you load; nothing is uploaded. "
                "Dates are UTC days; weeks run Monday to Sunday (ISO weeks)."
            </p>
        </footer>
    }
    .into_any()
}

/// Where the page's data comes from, in order: what this browser kept, a
/// shared snapshot in the URL (which then replaces everything), the rows of
/// `scoreboard serve` (live mode), and the demo when the server runs with
/// `--demo` (or the URL asks for it) and nothing else has data. The page
/// and every embed load the same way, so an embed shows what the page
/// shows at the same address.
pub async fn load(ctx: Ctx, sc: ShareCtx) {
    match storage::load(ctx).await {
        Ok(Some(data)) => {
            ctx.data.set(data);
            util::mark("scoreboard:restored");
        }
        Ok(None) => {}
        Err(e) => ctx.notice.set(Some(format!(
            "The data kept in this browser could not be read back: {e}"
        ))),
    }
    ctx.restored.set(true);
    if sc.active() {
        return;
    }
    // Served by `scoreboard serve`: its rows first (live mode), then the
    // demo only when neither the browser nor the server has any data.
    let health = live::probe().await;
    let server_demo = health.as_ref().is_some_and(|h| h.demo);
    if let Some(h) = health {
        live::start(ctx, h).await;
    }
    let live_rows = ctx
        .live
        .with_untracked(|l| l.as_ref().is_some_and(Live::has_rows));
    let empty = ctx.data.with_untracked(Data::is_empty);
    if empty && !live_rows && (util::url_param("demo").is_some() || server_demo) {
        loader::load_demo(ctx, true);
    } else if !empty || live_rows {
        backend::report_settled(ctx).await;
        util::next_paint().await;
        util::mark("scoreboard:rendered");
    }
}

#[component]
fn Header() -> impl IntoView {
    let ctx = crate::state::ctx();
    let confirming = RwSignal::new(false);
    let clear = move |_| {
        confirming.set(false);
        leptos::task::spawn_local(async move {
            // The page first, so nothing left in memory can be saved back afterwards.
            loader::reset_engine(ctx).await;
            ctx.data.set(Data::default());
            ctx.last_batch.set(Vec::new());
            ctx.view.set(Default::default());
            let result = storage::clear_all(ctx).await;
            ctx.notice.set(Some(match result {
                Ok(()) => "All data was removed from this browser.".to_string(),
                Err(e) => format!(
                    "The page was cleared, but the browser's storage could not be emptied: {e}"
                ),
            }));
        });
    };
    let own_data = move || ctx.data.with(|d| !d.is_empty() || !d.files.is_empty());
    // Sharing needs the figures: not while the first report is computed.
    let dashboard =
        move || !nothing_loaded(ctx) && ctx.report_ready.get() && ctx.report.with(Option::is_some);
    view! {
        <header class="top">
            <div class="brand">
                <h1>"Scoreboard"</h1>
                <p class="tagline">"Claude Code adoption across your engineering team, week by week."</p>
            </div>
            <div class="top-actions">
                <AddFiles/>
                <Show when=dashboard>
                    <ShareButton/>
                </Show>
                <Show when=own_data>
                    <button id="clear-data" class="btn quiet" on:click=move |_| confirming.set(true)
                        aria-expanded=move || confirming.get().to_string()
                        title="Remove everything Scoreboard keeps in this browser">
                        "Clear"<span class="wide-only">" all data"</span>
                    </button>
                </Show>
            </div>
        </header>
        <Show when=move || confirming.get()>
            <ClearConfirm on_yes=clear on_no=move || confirming.set(false)/>
        </Show>
    }
}

#[component]
fn ClearConfirm(
    on_yes: impl Fn(web_sys::MouseEvent) + 'static,
    on_no: impl Fn() + 'static,
) -> impl IntoView {
    let yes = NodeRef::<leptos::html::Button>::new();
    Effect::new(move |_| {
        if let Some(b) = yes.get() {
            let _ = b.focus();
        }
    });
    view! {
        <div class="confirm" role="alertdialog" aria-labelledby="clear-title">
            <p id="clear-title">
                "Remove everything Scoreboard keeps in this browser: the loaded usage data, the roster, "
                "the import reports and the remembered column mappings? Your original files are not touched."
            </p>
            <button id="clear-data-confirm" class="btn danger" node_ref=yes on:click=on_yes>"Yes, remove everything"</button>
            <button class="btn quiet" on:click=move |_| on_no()>"Cancel"</button>
        </div>
    }
}

#[component]
fn Notice() -> impl IntoView {
    let ctx = crate::state::ctx();
    view! {
        <Show when=move || ctx.notice.with(Option::is_some)>
            <div class="notice" role="status">
                <p>{move || ctx.notice.get().unwrap_or_default()}</p>
                <button class="btn quiet small" on:click=move |_| ctx.notice.set(None) aria-label="Dismiss this message">"Dismiss"</button>
            </div>
        </Show>
    }
}
