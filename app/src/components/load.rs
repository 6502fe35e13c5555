//! Loading data: the "Add files" button (the page's one file input), files
//! dropped anywhere on the page (with a drop overlay), the first visit's
//! introduction with the demo, the one-line demo banner, progress, and the
//! import report behind the "n files loaded" link.

use leptos::prelude::*;
use scoreboard_core::parse::FileKind;

use crate::loader;
use crate::shared_view::{share_ctx, Shown};
use crate::state::{ctx, FileReport, Input, Origin};
use crate::storage;
use crate::util::{self, int, plural};

fn files_of(list: Option<web_sys::FileList>) -> Vec<Input> {
    let Some(list) = list else { return Vec::new() };
    (0..list.length())
        .filter_map(|i| list.get(i))
        .map(Input::File)
        .collect()
}

/// Whether the files panel (the import report and the list of files) is
/// open. Provided by `App`; the link under the sentence toggles it, and a
/// batch with a file that failed or rows rejected opens it.
#[derive(Clone, Copy)]
pub struct FilesPanelOpen(pub RwSignal<bool>);

impl FilesPanelOpen {
    pub fn provide() {
        provide_context(FilesPanelOpen(RwSignal::new(false)));
    }
}

fn panel_open() -> RwSignal<bool> {
    expect_context::<FilesPanelOpen>().0
}

/// Nothing to show yet: nothing dropped and no usage rows from `scoreboard serve`.
pub fn nothing_loaded(c: crate::state::Ctx) -> bool {
    c.data.with(|d| d.is_empty())
        && !c
            .live
            .with(|l| l.as_ref().is_some_and(crate::state::Live::has_rows))
}

/// The header's "Add files" button: a label for the page's one file input
/// (visually hidden, still focusable; the label shows its focus).
#[component]
pub fn AddFiles() -> impl IntoView {
    let ctx = ctx();
    let input_ref = NodeRef::<leptos::html::Input>::new();
    let on_change = move |_| {
        if let Some(input) = input_ref.get() {
            let files = files_of(input.files());
            // Picking the same file again must fire `change` again.
            input.set_value("");
            loader::start(ctx, files, Origin::Files);
        }
    };
    view! {
        <span class="add-files" on:pointerenter=move |_| loader::warm_engine(ctx) on:focusin=move |_| loader::warm_engine(ctx)>
            <input
                id="file-input"
                class="file-input"
                type="file"
                multiple=true
                accept=".csv,.tsv,.txt,.json,text/csv,application/json"
                node_ref=input_ref
                on:change=on_change
            />
            <label for="file-input" class="btn primary" title="Claude Code usage exports (CSV), a roster (CSV with e-mail, name, team), Admin API JSON; or drop them anywhere on the page">
                "Add files"
            </label>
        </span>
    }
}

/// Files dropped anywhere on the page are imported; while they are dragged
/// over it, an overlay says so. A shared snapshot shown read-only takes no
/// files (`share::listen` refuses them before this runs).
#[component]
pub fn DropOverlay() -> impl IntoView {
    let ctx = ctx();
    let sc = share_ctx();
    let dragging = RwSignal::new(false);
    let own = move || sc.shown.with_untracked(|s| *s == Shown::Own);
    let carries_files = |ev: &web_sys::DragEvent| {
        ev.data_transfer()
            .is_some_and(|dt| dt.types().includes(&"Files".into(), 0))
    };
    let over = move |ev: web_sys::DragEvent| {
        if own() && carries_files(&ev) {
            loader::warm_engine(ctx);
            // Without this the browser would open the file instead of dropping it here.
            ev.prevent_default();
            if !dragging.get_untracked() {
                dragging.set(true);
            }
        }
    };
    let handles = vec![
        window_event_listener(leptos::ev::dragenter, over),
        window_event_listener(leptos::ev::dragover, over),
        window_event_listener(leptos::ev::dragleave, move |ev: web_sys::DragEvent| {
            // Leaving the window, not just moving between elements.
            if ev.related_target().is_none() {
                dragging.set(false);
            }
        }),
        window_event_listener(leptos::ev::drop, move |ev: web_sys::DragEvent| {
            dragging.set(false);
            if !own() {
                return;
            }
            ev.prevent_default();
            let files = files_of(ev.data_transfer().and_then(|dt| dt.files()));
            loader::start(ctx, files, Origin::Files);
        }),
    ];
    // Mounted once per page (App), but never twice: a drop must import once.
    on_cleanup(move || handles.into_iter().for_each(|h| h.remove()));
    view! {
        <Show when=move || dragging.get()>
            <div id="drop-overlay" class="drop-overlay" aria-hidden="true">
                <p>"Drop the files to add them"</p>
                <p class="hint">"Usage exports (CSV), a roster, Admin API JSON. They are read in this browser, not uploaded."</p>
            </div>
        </Show>
    }
}

/// The first visit: what the page does, what to drop, and the demo.
#[component]
pub fn Intro() -> impl IntoView {
    let ctx = ctx();
    view! {
        <section id="load" class="load empty" aria-labelledby="load-title">
            <div class="intro">
                <h2 id="load-title">"See how your engineers are taking up Claude Code"</h2>
                <p>
                    "Export the Claude Code usage CSV (on claude.ai: Analytics › Claude Code › Export; API users: the "
                    "Console's Claude Code page), add a roster of who should be using it, and drop both here. Scoreboard shows the weekly trend, who uses it "
                    "most and who has not started. Everything is computed in this browser; your files are not uploaded."
                </p>
            </div>
            <label for="file-input" class="dropzone"
                on:pointerenter=move |_| loader::warm_engine(ctx) on:focusin=move |_| loader::warm_engine(ctx)>
                <span class="drop-title">"Drop files anywhere on this page, or choose them"</span>
                <span class="drop-help">
                    "Claude Code usage exports (CSV), a roster (CSV with e-mail, name, team), Admin API JSON. "
                    "Several at once is fine; a later export updates the same days instead of counting them twice."
                </span>
                <span class="btn primary" aria-hidden="true">"Choose files…"</span>
            </label>
            <div class="load-more">
                <div class="demo">
                    <button id="demo-button" class="btn" on:click=move |_| loader::load_demo(ctx, false)>
                        "Try with demo data"
                    </button>
                    <span class="hint">"40 invented engineers in 4 teams over 16 weeks."</span>
                </div>
                <PasteRoster/>
            </div>
            <FilesPanel/>
        </section>
    }
}

/// The demo in one line.
#[component]
pub fn DemoLine() -> impl IntoView {
    let ctx = ctx();
    move || {
        ctx.data.with(|d| d.demo.clone()).map(|d| {
            view! {
                <p id="demo-banner" class="demo-banner" role="note">
                    <strong>"Demo data"</strong>
                    <span class="demo-long">{format!(": invented people at example.com, as of {} (UTC). Add your own files to replace them.", util::day_month_year(d.as_of))}</span>
                    <span class="demo-short">{format!(", invented people, as of {}.", util::day_month_year(d.as_of))}</span>
                </p>
            }
        })
    }
}

/// "n files loaded" under the sentence: opens the import report.
#[component]
pub fn FilesToggle() -> impl IntoView {
    let ctx = ctx();
    let open = panel_open();
    let loaded = move || {
        ctx.data
            .with(|d| d.files.iter().filter(|f| f.error.is_none()).count() as u64)
    };
    let failed = move || {
        ctx.data
            .with(|d| d.files.iter().filter(|f| f.error.is_some()).count() as u64)
    };
    view! {
        <Show when=move || loaded() + failed() != 0>
            <button id="files-loaded" class="linkish" aria-expanded=move || open.get().to_string()
                aria-controls="files-panel" on:click=move |_| open.update(|o| *o = !*o)>
                {move || plural(loaded(), "file loaded", "files loaded")}
                {move || (failed() > 0).then(|| format!(", {} not", failed()))}
                <span aria-hidden="true">{move || if open.get() { " ▾" } else { " ▸" }}</span>
            </button>
        </Show>
    }
}

/// The files panel: the latest batch's import report (or, after a reload,
/// every file loaded), adding more, and a roster to paste.
#[component]
pub fn FilesPanel() -> impl IntoView {
    let ctx = ctx();
    let open = panel_open();
    // A batch that needs the reader's attention opens the panel by itself.
    Effect::new(move |_| {
        let idx = ctx.last_batch.get();
        let attention = ctx.data.with_untracked(|d| {
            idx.iter()
                .filter_map(|&i| d.files.get(i))
                .any(|f| f.error.is_some() || f.problems_total > 0)
        });
        if attention {
            open.set(true);
        }
    });
    let shown = move || open.get() && ctx.data.with(|d| !d.files.is_empty());
    let earlier = move || {
        let batch = ctx.last_batch.get();
        ctx.data.with(|d| {
            d.files
                .iter()
                .enumerate()
                .filter(|(i, _)| !batch.contains(i))
                .map(|(_, f)| f.clone())
                .collect::<Vec<_>>()
        })
    };
    view! {
        <Show when=shown>
            <section id="files-panel" class="files-panel" aria-label="Files loaded">
                <ImportReport/>
                // The files outside the latest batch (after a reload: all), so
                // every file's columns can be mapped again from here.
                <Show when=move || !earlier().is_empty()>
                    <details class="all-files">
                        <summary>{move || {
                            let n = earlier().len();
                            if ctx.last_batch.with(Vec::is_empty) { format!("Every file loaded ({n})") } else { format!("Files loaded before ({n})") }
                        }}</summary>
                        {move || earlier().into_iter().rev().map(|f| view! { <FileReportView report=f/> }).collect_view()}
                    </details>
                </Show>
                <div class="files-actions">
                    <PasteRoster/>
                    <a href="#health" class="hint">"Data health: coverage, gaps and every file"</a>
                    <button class="btn quiet small" on:click=move |_| open.set(false)>"Close"</button>
                </div>
            </section>
        </Show>
    }
}

#[component]
fn PasteRoster() -> impl IntoView {
    let ctx = ctx();
    let text = RwSignal::new(String::new());
    let add = move |_| {
        let t = text.get_untracked();
        if t.trim().is_empty() {
            return;
        }
        text.set(String::new());
        loader::start(
            ctx,
            vec![Input::Bytes {
                name: "Pasted roster".into(),
                bytes: t.into_bytes(),
            }],
            Origin::PastedRoster,
        );
    };
    view! {
        <details class="paste">
            <summary>"Or paste the roster as a list of e-mails"</summary>
            <p class="hint">
                "One e-mail per line (or separated by commas). They are added to the roster; "
                "a roster file with names and teams gives more (team filter, names in the tables)."
            </p>
            <label for="roster-paste" class="sr-only">"Roster e-mails"</label>
            <textarea
                id="roster-paste"
                rows="4"
                placeholder="ada@example.com\nben@example.com"
                prop:value=move || text.get()
                on:input=move |ev| text.set(event_target_value(&ev))
            ></textarea>
            <button id="roster-paste-add" class="btn" on:click=add disabled=move || text.with(|t| t.trim().is_empty())>
                "Add to roster"
            </button>
        </details>
    }
}

#[component]
pub fn ProgressView() -> impl IntoView {
    let ctx = ctx();
    view! {
        <div class="progress" role="status" aria-live="polite">
            {move || ctx.progress.get().map(|p| {
                let pct = if p.total > 0.0 { (p.done / p.total * 100.0).clamp(0.0, 100.0) } else { 0.0 };
                view! {
                    <p>
                        <strong>{p.stage}</strong>": "{p.file.clone()}
                        {(p.count > 1).then(|| format!(" (file {} of {})", p.index, p.count))}
                        {(p.total > 1.0).then(|| format!(" · {} of {}", util::bytes(p.done), util::bytes(p.total)))}
                    </p>
                    <progress id="import-progress" max="100" value=format!("{pct:.0}")>{format!("{pct:.0} %")}</progress>
                    {p.cancellable.then(|| view! {
                        <button id="import-cancel" class="btn quiet small" on:click=move |_| loader::cancel(ctx)
                            title="Stop reading these files; nothing from them is added">"Cancel"</button>
                    })}
                }
            })}
        </div>
    }
}

/// The import report of the latest batch (all loads are listed in data health).
#[component]
fn ImportReport() -> impl IntoView {
    let ctx = ctx();
    let reports = move || {
        let idx = ctx.last_batch.get();
        ctx.data.with(|d| {
            idx.iter()
                .filter_map(|&i| d.files.get(i).cloned())
                .collect::<Vec<_>>()
        })
    };
    let summary = move || {
        let r = reports();
        let failed = r.iter().filter(|f| f.error.is_some()).count() as u64;
        let read: u64 = r.iter().map(|f| f.rows_read).sum();
        let rejected: u64 = r.iter().map(|f| f.rows_rejected).sum();
        let mut s = format!(
            "{} read: {} read, {} rejected.",
            plural(r.len() as u64, "file", "files"),
            plural(read, "row", "rows"),
            int(rejected)
        );
        if failed > 0 {
            s.push_str(&format!(
                " {} could not be loaded.",
                plural(failed, "file", "files")
            ));
        }
        s
    };
    // The details open by themselves only when something needs the reader's attention.
    let attention = move || {
        reports()
            .iter()
            .any(|f| f.error.is_some() || f.problems_total > 0 || !f.ignored_columns.is_empty())
    };
    view! {
        <Show when=move || !ctx.last_batch.with(Vec::is_empty)>
            <section id="import-report" class="import-report" aria-labelledby="import-title">
                <h3 id="import-title">"Import report of the latest files"</h3>
                <p class="import-summary">{summary}</p>
                <details class="import-details" open=attention>
                    <summary>"Per file: rows read, rows rejected and why, columns not used"</summary>
                    {move || reports().into_iter().map(|r| view! { <FileReportView report=r open=true/> }).collect_view()}
                </details>
            </section>
        </Show>
    }
}

/// "Map columns again" for a CSV file the page keeps a copy of, or why not.
fn map_again(r: &FileReport) -> Option<AnyView> {
    if r.error.is_some() || r.columns.is_empty() {
        return None; // not read, or JSON / a pasted list: no columns to map
    }
    let ctx = ctx();
    Some(match r.kept.clone().filter(|k| storage::kept_file(ctx, k).is_some()) {
        Some(key) => view! {
            <p class="map-again-line">
                <button class="btn small map-again" on:click=move |_| loader::map_again(ctx, key.clone())>
                    "Map columns again"
                </button>
                <span class="hint">" Change what a column is read as; the figures follow."</span>
            </p>
        }
        .into_any(),
        None => view! {
            <p class="hint map-again-line">{format!(
                "To map this file's columns again, add it again: the page keeps a copy only of files up to {} ({} in all).",
                util::bytes(storage::KEEP_FILE_LIMIT as f64),
                util::bytes(storage::KEEP_TOTAL_LIMIT as f64)
            )}</p>
        }
        .into_any(),
    })
}

fn kind_label(k: Option<FileKind>) -> &'static str {
    k.map_or("not read", FileKind::label)
}

/// One file's import report.
#[component]
pub fn FileReportView(report: FileReport, #[prop(optional)] open: bool) -> impl IntoView {
    let r = report;
    let failed = r.error.is_some();
    let status = if failed {
        "not loaded"
    } else if r.rows_rejected > 0 {
        "loaded, some rows rejected"
    } else {
        "loaded"
    };
    let more_problems = r.problems_total.saturating_sub(r.problems.len() as u64);
    let used: Vec<String> = r
        .columns
        .iter()
        .filter_map(|c| c.field.map(|f| format!("{} → {}", c.header, f.label())))
        .collect();
    let covers = match (r.first_day, r.last_day) {
        (Some(a), Some(b)) => Some(format!("{a} to {b} (UTC)")),
        _ => None,
    };
    let is_roster = r.kind == Some(FileKind::Roster);
    view! {
        <article class="file-report" class:failed=failed data-file=r.file.clone()>
            <h4>
                <span class="file-name">{r.file.clone()}</span>
                <span class="badge" class:bad=failed>{status}</span>
            </h4>
            <p class="file-kind">{kind_label(r.kind)}{format!(" · {} · {:.1} s", util::bytes(r.bytes as f64), r.millis / 1000.0)}</p>
            {r.error.clone().map(|e| view! { <p class="error" role="alert">{e}</p> })}
            <Show when=move || !failed>
                <dl class="facts">
                    <div><dt>"Rows read"</dt><dd data-field="rows-read">{int(r.rows_read)}</dd></div>
                    <div><dt>"Rows rejected"</dt><dd data-field="rows-rejected">{int(r.rows_rejected)}</dd></div>
                    {(!is_roster).then(|| view! {
                        <div><dt>"Person-days"</dt><dd data-field="day-rows">{format!("{} ({} new, {} replaced earlier ones)", int(r.day_rows + r.period_rows), int(r.added), int(r.replaced))}</dd></div>
                    })}
                    {is_roster.then(|| view! { <div><dt>"People"</dt><dd data-field="roster-entries">{int(r.roster_entries)}</dd></div> })}
                    {covers.clone().map(|c| view! { <div><dt>"Days covered"</dt><dd>{c}</dd></div> })}
                    {r.period.map(|(a, b)| view! { <div><dt>"Period given"</dt><dd>{format!("{a} to {b} (UTC)")}</dd></div> })}
                </dl>
            </Show>
            {(!r.ignored_columns.is_empty()).then(|| view! {
                <p class="ignored" data-field="columns-ignored">
                    <strong>"Columns ignored: "</strong>{r.ignored_columns.join(", ")}
                </p>
            })}
            {map_again(&r)}
            {(!used.is_empty()).then(|| view! {
                <details class="columns"><summary>{format!("Columns used ({})", used.len())}</summary>
                    <ul>{used.into_iter().map(|u| view! { <li>{u}</li> }).collect_view()}</ul>
                </details>
            })}
            {(!r.problems.is_empty()).then(|| view! {
                <details class="problems" open=open>
                    <summary>{format!("Rejected or problem rows ({})", int(r.problems_total))}</summary>
                    <ol class="problem-list">
                        {r.problems.iter().map(|p| {
                            let line = p.line.map(|l| l.to_string()).unwrap_or_default();
                            let where_ = p.line.map_or_else(|| "File".to_string(), |l| format!("Line {l}"));
                            view! { <li data-line=line><strong>{where_}</strong>": "{p.message.clone()}</li> }
                        }).collect_view()}
                    </ol>
                    {(more_problems > 0).then(|| view! { <p class="hint">{format!("… and {} more.", plural(more_problems, "problem", "problems"))}</p> })}
                </details>
            })}
            {(!r.warnings.is_empty()).then(|| view! {
                <ul class="warnings">{r.warnings.iter().map(|w| view! { <li>{w.clone()}</li> }).collect_view()}</ul>
            })}
            {(!r.notes.is_empty()).then(|| view! {
                <ul class="notes">{r.notes.iter().map(|w| view! { <li>{w.clone()}</li> }).collect_view()}</ul>
            })}
        </article>
    }
}
