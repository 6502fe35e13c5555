//! Weekly charts, drawn as SVG by the page itself (app/CHARTS.md says why,
//! with the measured sizes): lines, bars and stacked bars over ISO weeks,
//! with axes (dates, every value axis from 0), value labels, a tooltip
//! (mouse and keyboard), partial weeks drawn dashed/pale over a hatched band
//! and labelled, weeks without figures drawn as a labelled gap (never a 0),
//! and a data-table alternative; plus the cards' small trend line
//! ([`Sparkline`]).
//!
//! The chart only draws what it is given: every value comes from core's Report.

use leptos::html::Div;
use leptos::prelude::*;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::JsCast;
use web_sys::ResizeObserver;

use crate::util::{self, DASH};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fmt {
    Count,
    Percent,
    Usd,
    /// An average per active engineer: one decimal ("12.5").
    Decimal,
}

impl Fmt {
    pub fn full(self, v: f64) -> String {
        match self {
            Fmt::Count => util::int(v.round().max(0.0) as u64),
            Fmt::Percent => util::pct(v),
            Fmt::Usd => util::usd(v),
            Fmt::Decimal => util::decimal(v),
        }
    }
    fn axis(self, v: f64) -> String {
        match self {
            Fmt::Count => compact(v),
            Fmt::Percent => format!("{:.0} %", v * 100.0),
            Fmt::Usd if v >= 1000.0 => format!("${}", compact(v)),
            Fmt::Usd if v.fract().abs() > 1e-9 && v < 10.0 => format!("${v:.1}"),
            Fmt::Usd => format!("${v:.0}"),
            Fmt::Decimal => compact(v),
        }
    }
}

fn compact(v: f64) -> String {
    let a = v.abs();
    if a >= 1e6 {
        format!("{}M", trim(v / 1e6))
    } else if a >= 1e3 {
        format!("{}k", trim(v / 1e3))
    } else {
        trim(v)
    }
}

fn trim(v: f64) -> String {
    let s = format!("{v:.1}");
    s.strip_suffix(".0").map_or(s.clone(), str::to_string)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mark {
    Line,
    Bar,
    /// A dashed reference line (e.g. the roster size).
    Reference,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub name: String,
    /// Colour class (`s-accent`, `t-power`, …); the legend shows the name too.
    pub class: &'static str,
    pub mark: Mark,
    /// One value per week of [`ChartData::weeks`]; `None` is drawn as a gap
    /// (no bar, no point, the line broken), never as 0.
    pub values: Vec<Option<f64>>,
    /// What a missing value means, written in the gap when the week has no
    /// value in any series (`no data`, `no edit decisions`, …).
    pub gap: &'static str,
}

/// One week of a chart's axis.
#[derive(Debug, Clone, PartialEq)]
pub struct AxisWeek {
    /// Axis label: the week's Monday (`9 Nov`).
    pub label: String,
    /// Tooltip and table heading (`2026-W46 · 9–15 Nov 2026`).
    pub title: String,
    /// Set when the week is drawn as partial (the current week, or a week
    /// the data covers only in part): the word written over its band.
    pub partial: Option<&'static str>,
}

/// What one chart shows. Every axis starts at 0 (rates included), so a
/// change is never magnified by a cut axis.
#[derive(Debug, Clone, PartialEq)]
pub struct ChartData {
    pub weeks: Vec<AxisWeek>,
    pub series: Vec<Series>,
    /// Bars of all series stacked per week.
    pub stacked: bool,
    pub fmt: Fmt,
}

impl ChartData {
    fn partial(&self, i: usize) -> bool {
        self.weeks.get(i).is_some_and(|w| w.partial.is_some())
    }

    /// No series has a value in week `i`: the week is a gap.
    fn empty_at(&self, i: usize) -> bool {
        self.series
            .iter()
            .all(|s| s.values.get(i).copied().flatten().is_none())
    }
}

/// A chart's size watcher and its callback (kept alive together).
type Observer = (ResizeObserver, Closure<dyn FnMut(js_sys::Array)>);

const HEIGHT: f64 = 220.0;
/// The least height a chart filling its frame is drawn at (an embed in a
/// tiny frame scrolls rather than squashing the axis to nothing).
const MIN_FILL_HEIGHT: f64 = 120.0;
const LEFT: f64 = 46.0;
const RIGHT: f64 = 14.0;
const TOP: f64 = 22.0;
const BOTTOM: f64 = 28.0;

struct Geo {
    w: f64,
    h: f64,
    n: usize,
    band: f64,
    y0: f64,
    y1: f64,
    ticks: Vec<f64>,
}

impl Geo {
    fn new(d: &ChartData, w: f64, h: f64) -> Geo {
        let n = d.weeks.len().max(1);
        let band = (w - LEFT - RIGHT) / n as f64;
        let mut hi = f64::NEG_INFINITY;
        if d.stacked {
            for i in 0..d.weeks.len() {
                let s: f64 = d
                    .series
                    .iter()
                    .filter_map(|s| s.values.get(i).copied().flatten())
                    .sum();
                hi = hi.max(s);
            }
        } else {
            for v in d
                .series
                .iter()
                .flat_map(|s| s.values.iter().copied().flatten())
            {
                hi = hi.max(v);
            }
        }
        if !hi.is_finite() {
            hi = 1.0;
        }
        let (y0, y1, ticks) = if d.fmt == Fmt::Percent {
            (0.0, 1.0, vec![0.0, 0.25, 0.5, 0.75, 1.0])
        } else {
            let hi = if hi <= 0.0 { 1.0 } else { hi };
            let step = nice_step(hi / 5.0);
            let step = if d.fmt == Fmt::Count {
                step.max(1.0)
            } else {
                step
            };
            let top = (hi / step).ceil() * step;
            let mut ticks = Vec::new();
            let mut t = 0.0;
            while t <= top + step * 1e-9 {
                ticks.push(t);
                t += step;
            }
            (0.0, top, ticks)
        };
        Geo {
            w,
            h,
            n,
            band,
            y0,
            y1,
            ticks,
        }
    }
    fn x(&self, i: usize) -> f64 {
        LEFT + self.band * (i as f64 + 0.5)
    }
    fn y(&self, v: f64) -> f64 {
        let h = self.h - TOP - BOTTOM;
        let span = if self.y1 > self.y0 {
            self.y1 - self.y0
        } else {
            1.0
        };
        TOP + (1.0 - ((v - self.y0) / span).clamp(0.0, 1.05)) * h
    }
}

fn nice_step(raw: f64) -> f64 {
    if raw <= 0.0 || !raw.is_finite() {
        return 1.0;
    }
    let mag = 10f64.powf(raw.log10().floor());
    let f = raw / mag;
    let nice = if f <= 1.0 {
        1.0
    } else if f <= 2.0 {
        2.0
    } else if f <= 2.5 {
        2.5
    } else if f <= 5.0 {
        5.0
    } else {
        10.0
    };
    nice * mag
}

fn f1(v: f64) -> String {
    format!("{v:.1}")
}

/// The width an axis date label needs (`30 Nov` at 11 px), for thinning them.
const LABEL_WIDTH: f64 = 48.0;

/// The SVG body (axes, marks, labels), drawn once per data or width change.
fn draw(d: &ChartData, g: &Geo, uid: &str) -> impl IntoView {
    let plot_bottom = g.h - BOTTOM;
    let hatch = format!("hatch-{uid}");
    let every = ((g.n as f64 * LABEL_WIDTH) / (g.w - LEFT - RIGHT))
        .ceil()
        .max(1.0) as usize;
    let mut parts: Vec<AnyView> = Vec::new();

    // Partial weeks: a hatched band, labelled.
    for (i, wk) in d.weeks.iter().enumerate() {
        if let Some(word) = wk.partial {
            let x = LEFT + g.band * i as f64;
            parts.push(
                view! {
                    <rect class="partial-band" x=f1(x) y=f1(TOP) width=f1(g.band) height=f1(plot_bottom - TOP) fill=format!("url(#{hatch})")/>
                    <text class="partial-label" x=f1(x + g.band / 2.0) y=f1(TOP - 8.0) text-anchor="middle">{word}</text>
                }
                .into_any(),
            );
        }
    }
    // Weeks without any value: a gap, said in words (or a dash where the band is narrow).
    for i in (0..d.weeks.len()).filter(|&i| d.empty_at(i)) {
        let word = d.series.first().map_or("no data", |s| s.gap);
        let text = if g.band >= 6.0 * word.len() as f64 + 6.0 {
            word
        } else {
            DASH
        };
        parts.push(
            view! { <text class="gap-label" x=f1(g.x(i)) y=f1(plot_bottom - 6.0) text-anchor="middle">{text}</text> }
                .into_any(),
        );
    }
    // Grid and value axis.
    for t in &g.ticks {
        let y = g.y(*t);
        parts.push(
            view! {
                <line class="grid" x1=f1(LEFT) x2=f1(g.w - RIGHT) y1=f1(y) y2=f1(y)/>
                <text class="tick" x=f1(LEFT - 6.0) y=f1(y + 4.0) text-anchor="end">{d.fmt.axis(*t)}</text>
            }
            .into_any(),
        );
    }
    // Week axis: dates, thinned from the latest week back when they do not fit.
    for (i, wk) in d.weeks.iter().enumerate() {
        if (g.n - 1 - i).is_multiple_of(every) {
            parts.push(
                view! { <text class="tick" class:partial=wk.partial.is_some() x=f1(g.x(i)) y=f1(plot_bottom + 16.0) text-anchor="middle">{wk.label.clone()}</text> }
                    .into_any(),
            );
        }
    }
    parts.push(view! { <line class="axis" x1=f1(LEFT) x2=f1(g.w - RIGHT) y1=f1(plot_bottom) y2=f1(plot_bottom)/> }.into_any());

    // Bars: stacked, or one series of bars.
    let bar_series: Vec<&Series> = d.series.iter().filter(|s| s.mark == Mark::Bar).collect();
    if !bar_series.is_empty() {
        let bw = (g.band * 0.66).max(2.0);
        for i in 0..d.weeks.len() {
            let partial = d.partial(i);
            let mut base = 0.0;
            for s in &bar_series {
                let Some(v) = s.values.get(i).copied().flatten() else {
                    continue;
                };
                let (from, to) = if d.stacked {
                    (base, base + v)
                } else {
                    (0.0, v)
                };
                base = to;
                let (y_top, y_bot) = (g.y(to), g.y(from));
                if y_bot - y_top <= 0.0 {
                    continue;
                }
                parts.push(
                    view! {
                        <rect class=format!("bar {}", s.class) class:partial=partial x=f1(g.x(i) - bw / 2.0) y=f1(y_top) width=f1(bw) height=f1(y_bot - y_top)/>
                    }
                    .into_any(),
                );
            }
        }
        // The value of the latest whole week, on its bar.
        if let Some(i) = (0..d.weeks.len())
            .rev()
            .find(|&i| !d.partial(i) && !d.empty_at(i))
        {
            let total: Option<f64> = if d.stacked {
                Some(
                    bar_series
                        .iter()
                        .filter_map(|s| s.values.get(i).copied().flatten())
                        .sum(),
                )
            } else {
                bar_series
                    .first()
                    .and_then(|s| s.values.get(i).copied().flatten())
            };
            if let Some(v) = total {
                parts.push(
                    view! { <text class="value-label" x=f1(g.x(i)) y=f1(g.y(v) - 5.0) text-anchor="middle">{d.fmt.full(v)}</text> }
                        .into_any(),
                );
            }
        }
    }

    // Lines: solid between whole weeks, dashed into a partial week; a
    // missing value (a gap, an undefined figure) breaks the line.
    for s in d.series.iter().filter(|s| s.mark != Mark::Bar) {
        let pts: Vec<(usize, f64)> = s
            .values
            .iter()
            .enumerate()
            .filter_map(|(i, v)| v.map(|v| (i, v)))
            .collect();
        let mut solid = String::new();
        let mut dashed = String::new();
        for w in pts.windows(2) {
            let ((i, a), (j, b)) = (w[0], w[1]);
            if j != i + 1 {
                continue;
            }
            let seg = format!(
                "M{} {}L{} {}",
                f1(g.x(i)),
                f1(g.y(a)),
                f1(g.x(j)),
                f1(g.y(b))
            );
            if d.partial(i) || d.partial(j) || s.mark == Mark::Reference {
                dashed.push_str(&seg);
            } else {
                solid.push_str(&seg);
            }
        }
        let class = s.class;
        let is_ref = s.mark == Mark::Reference;
        parts.push(
            view! {
                <path class=format!("line {class}") class:reference=is_ref d=solid fill="none"/>
                <path class=format!("line dashed {class}") class:reference=is_ref d=dashed fill="none"/>
            }
            .into_any(),
        );
        if is_ref {
            // The reference is named on the chart, at its latest value.
            if let Some((_, v)) = pts.last() {
                parts.push(
                    view! { <text class="ref-label" x=f1(LEFT + 4.0) y=f1(g.y(*v) - 5.0) text-anchor="start">{format!("{}: {}", s.name, d.fmt.full(*v))}</text> }
                        .into_any(),
                );
            }
            continue;
        }
        for (i, v) in &pts {
            parts.push(
                view! { <circle class=format!("dot {class}") class:partial=d.partial(*i) cx=f1(g.x(*i)) cy=f1(g.y(*v)) r="3"/> }
                    .into_any(),
            );
        }
        // Value label at the latest whole week.
        if let Some((i, v)) = pts.iter().rev().find(|(i, _)| !d.partial(*i)) {
            parts.push(
                view! { <text class="value-label" x=f1(g.x(*i)) y=f1(g.y(*v) - 8.0) text-anchor="middle">{d.fmt.full(*v)}</text> }
                    .into_any(),
            );
        }
    }
    view! {
        <defs>
            <pattern id=hatch patternUnits="userSpaceOnUse" width="6" height="6" patternTransform="rotate(45)">
                <line class="hatch-line" x1="0" y1="0" x2="0" y2="6"/>
            </pattern>
        </defs>
        {parts}
    }
}

/// One chart with its legend, tooltip and table toggle.
#[component]
pub fn Chart(
    /// Unique per page: used for the element ids.
    uid: &'static str,
    /// What the chart shows, for screen readers.
    label: String,
    data: Signal<ChartData>,
    /// In an embed (`?embed=trend`): as tall as its frame allows (CSS gives
    /// `.chart-plot` its height), and no table or download buttons.
    #[prop(optional)]
    embedded: bool,
) -> impl IntoView {
    let width = RwSignal::new(560.0_f64);
    let height = RwSignal::new(HEIGHT);
    let hover: RwSignal<Option<usize>> = RwSignal::new(None);
    let table = RwSignal::new(false);
    let node = NodeRef::<Div>::new();
    // The width comes from a ResizeObserver: reading clientWidth would force a
    // layout of the whole page once per chart (measured: the largest cost of
    // the first render).
    let observer: StoredValue<Option<Observer>, LocalStorage> = StoredValue::new_local(None);
    Effect::new(move |_| {
        let Some(el) = node.get() else { return };
        if observer.with_value(Option::is_some) {
            return;
        }
        let on_resize = Closure::<dyn FnMut(js_sys::Array)>::new(move |entries: js_sys::Array| {
            let Some(entry) = entries
                .get(0)
                .dyn_into::<web_sys::ResizeObserverEntry>()
                .ok()
            else {
                return;
            };
            let rect = entry.content_rect();
            let w = rect.width().floor();
            if w > 0.0 && (w - width.get_untracked()).abs() >= 1.0 {
                width.set(w);
            }
            if embedded {
                let h = rect.height().floor().max(MIN_FILL_HEIGHT);
                if (h - height.get_untracked()).abs() >= 1.0 {
                    height.set(h);
                }
            }
        });
        if let Ok(ro) = ResizeObserver::new(on_resize.as_ref().unchecked_ref()) {
            ro.observe(&el);
            observer.set_value(Some((ro, on_resize)));
        }
    });
    on_cleanup(move || {
        let _ = observer.try_with_value(|o| {
            if let Some((ro, _)) = o {
                ro.disconnect();
            }
        });
    });

    let n = move || data.with(|d| d.weeks.len());
    let on_key = move |ev: web_sys::KeyboardEvent| {
        let n = n();
        if n == 0 {
            return;
        }
        let cur = hover.get_untracked().unwrap_or(n - 1);
        let next = match ev.key().as_str() {
            "ArrowLeft" => cur.saturating_sub(1),
            "ArrowRight" => (cur + 1).min(n - 1),
            "Home" => 0,
            "End" => n - 1,
            "Escape" => {
                hover.set(None);
                return;
            }
            _ => return,
        };
        ev.prevent_default();
        hover.set(Some(next));
    };
    let aria = format!(
        "{label}. Use the left and right arrow keys for each week's values, or “Show as table”."
    );
    let table_id = format!("{uid}-table");
    view! {
        <div class="chart" class:embedded=embedded>
            <div class="chart-plot" node_ref=node>
            <svg
                id=format!("{uid}-svg")
                class="chart-svg"
                width=move || f1(width.get())
                height=move || f1(height.get())
                viewBox=move || format!("0 0 {} {}", f1(width.get()), f1(height.get()))
                role="img"
                aria-label=aria
                tabindex="0"
                on:keydown=on_key
                on:focus=move |_| hover.set(Some(n().saturating_sub(1)))
                on:blur=move |_| hover.set(None)
                on:mouseleave=move |_| hover.set(None)
            >
                {move || data.with(|d| {
                    let g = Geo::new(d, width.get(), height.get());
                    draw(d, &g, uid)
                })}
                // The hovered week: a guide line, and hit areas per week.
                {move || data.with(|d| {
                    let g = Geo::new(d, width.get(), height.get());
                    let guide = hover.get().filter(|i| *i < d.weeks.len()).map(|i| view! {
                        <line class="guide" x1=f1(g.x(i)) x2=f1(g.x(i)) y1=f1(TOP) y2=f1(g.h - BOTTOM)/>
                    });
                    let zones = (0..d.weeks.len()).map(|i| view! {
                        <rect class="hit" x=f1(LEFT + g.band * i as f64) y="0" width=f1(g.band) height=f1(g.h)
                            on:mouseenter=move |_| hover.set(Some(i))/>
                    }).collect_view();
                    view! { {guide}{zones} }
                })}
            </svg>
            </div>
            {move || hover.get().and_then(|i| data.with(|d| {
                let title = d.weeks.get(i)?.title.clone();
                let g = Geo::new(d, width.get(), height.get());
                let left = g.x(i).clamp(90.0, (g.w - 90.0).max(90.0));
                let rows = d.series.iter().rev().map(|s| {
                    let v = cell(d, s, i);
                    view! { <li><span class=format!("swatch {} {}", s.class, mark_class(s.mark))></span>{s.name.clone()}": "<strong>{v}</strong></li> }
                }).collect_view();
                Some(view! {
                    <div class="tooltip" role="status" style=format!("left:{left:.0}px")>
                        <p class="tt-title">{title}</p>
                        <ul>{rows}</ul>
                    </div>
                })
            }))}
            <div class="chart-foot">
                <ul class="legend">
                    {move || data.with(|d| d.series.iter().map(|s| view! {
                        <li><span class=format!("swatch {} {}", s.class, mark_class(s.mark))></span>{s.name.clone()}</li>
                    }).collect_view())}
                    <Show when=move || data.with(|d| d.weeks.iter().any(|w| w.partial.is_some()))>
                        <li class="partial-note"><span class="swatch partial-swatch"></span>"partial week (dashed, pale)"</li>
                    </Show>
                    <Show when=move || data.with(|d| (0..d.weeks.len()).any(|i| d.empty_at(i)))>
                        <li class="gap-note">"“—”: no figure for that week (a gap, not 0)"</li>
                    </Show>
                </ul>
                {(!embedded).then(|| view! {
                    <button class="btn quiet small" aria-expanded=move || table.get().to_string() aria-controls=table_id.clone()
                        on:click=move |_| table.update(|t| *t = !*t)>
                        {move || if table.get() { "Hide table" } else { "Show as table" }}
                    </button>
                    <ExportButtons uid label=label.clone()/>
                })}
            </div>
            <Show when=move || table.get()>
                <div class="table-wrap" id=format!("{uid}-table")>
                    <table class="chart-table stack">
                        <caption class="sr-only">{label.clone()}</caption>
                        <thead><tr>
                            <th scope="col">"Week (UTC)"</th>
                            {move || data.with(|d| d.series.iter().map(|s| view! { <th scope="col" class="num">{s.name.clone()}</th> }).collect_view())}
                        </tr></thead>
                        <tbody>
                            {move || data.with(|d| d.weeks.iter().enumerate().map(|(i, wk)| {
                                view! {
                                    <tr class:partial=wk.partial.is_some()>
                                        <th scope="row">{wk.title.clone()}</th>
                                        {d.series.iter().map(|s| view! { <td class="num" data-label=s.name.clone()>{cell(d, s, i)}</td> }).collect_view()}
                                    </tr>
                                }
                            }).collect_view())}
                        </tbody>
                    </table>
                </div>
            </Show>
        </div>
    }
}

/// A card's small trend line: one value per week, oldest first, drawn from
/// 0 to the largest value (so a small change looks small); `None` breaks
/// the line (a week without the figure is a gap, never 0). The latest
/// value and any week standing alone get a dot.
#[component]
pub fn Sparkline(values: Vec<Option<f64>>, label: String) -> impl IntoView {
    const W: f64 = 112.0;
    const H: f64 = 34.0;
    const PAD: f64 = 3.0;
    let n = values.len();
    let hi = values.iter().flatten().fold(0.0_f64, |a, &b| a.max(b));
    let hi = if hi > 0.0 { hi } else { 1.0 };
    let x = |i: usize| {
        if n <= 1 {
            W / 2.0
        } else {
            PAD + (W - 2.0 * PAD) * i as f64 / (n - 1) as f64
        }
    };
    let y = |v: f64| H - PAD - (H - 2.0 * PAD) * (v / hi).clamp(0.0, 1.0);
    let at = |i: usize| values.get(i).copied().flatten();
    let mut path = String::new();
    let mut dots = Vec::new();
    for i in 0..n {
        let Some(v) = at(i) else { continue };
        let joined = i > 0 && at(i - 1).is_some();
        path.push_str(&format!(
            "{}{} {}",
            if joined { "L" } else { "M" },
            f1(x(i)),
            f1(y(v))
        ));
        let alone = !joined && at(i + 1).is_none();
        let last = (i + 1..n).all(|j| at(j).is_none());
        if alone || last {
            dots.push(view! { <circle class="spark-dot" cx=f1(x(i)) cy=f1(y(v)) r="2.5"/> });
        }
    }
    let aria = label.clone();
    view! {
        <svg class="spark" width=f1(W) height=f1(H) viewBox=format!("0 0 {} {}", f1(W), f1(H)) role="img" aria-label=aria>
            <title>{label}</title>
            <line class="spark-base" x1=f1(PAD) x2=f1(W - PAD) y1=f1(H - PAD) y2=f1(H - PAD)/>
            <path class="spark-line" d=path fill="none"/>
            {dots}
        </svg>
    }
}

/// The chart's downloads (crate::export draws them from the SVG on screen).
#[component]
fn ExportButtons(uid: &'static str, label: String) -> impl IntoView {
    let stem = format!("scoreboard-{}", crate::export::slug(&label));
    let (l2, s2) = (label.clone(), stem.clone());
    view! {
        <span class="chart-export">
            <button class="btn quiet small" data-format="svg" aria-label=format!("Download “{label}” as SVG")
                on:click=move |_| crate::export::chart(uid, &label, crate::export::ImageFormat::Svg, &stem)>"SVG"</button>
            <button class="btn quiet small" data-format="png" aria-label=format!("Download “{l2}” as PNG")
                on:click=move |_| crate::export::chart(uid, &l2, crate::export::ImageFormat::Png, &s2)>"PNG"</button>
        </span>
    }
}

/// A series' value in week `i` as the tooltip and the table write it:
/// a missing value is "—" with what it means.
fn cell(d: &ChartData, s: &Series, i: usize) -> String {
    s.values
        .get(i)
        .copied()
        .flatten()
        .map_or_else(|| format!("{DASH} ({})", s.gap), |v| d.fmt.full(v))
}

fn mark_class(m: Mark) -> &'static str {
    match m {
        Mark::Line => "m-line",
        Mark::Bar => "m-bar",
        Mark::Reference => "m-ref",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_are_round() {
        assert_eq!(nice_step(7.5), 10.0);
        assert_eq!(nice_step(2.2), 2.5);
        assert_eq!(nice_step(130.0), 200.0);
        assert_eq!(compact(12_500.0), "12.5k");
        assert_eq!(compact(3.0), "3");
    }
}

/// The chart as the browser renders it (headless Chromium, `make test`).
// Two attributes, not `all(test, …)`: clippy treats only `cfg(test)` as test code.
#[cfg(test)]
#[cfg(target_arch = "wasm32")]
mod browser_tests {
    use super::*;
    use crate::test_support;
    use wasm_bindgen_test::wasm_bindgen_test;

    fn texts(el: &web_sys::Element, selector: &str) -> Vec<String> {
        let list = el.query_selector_all(selector).unwrap();
        (0..list.length())
            .filter_map(|i| list.item(i))
            .map(|n| n.text_content().unwrap_or_default())
            .collect()
    }

    #[wasm_bindgen_test]
    async fn a_week_without_a_figure_is_a_labelled_gap_never_a_zero() {
        let el = test_support::container();
        let data = test_support::weekly_chart(vec![Some(4.0), None, Some(6.0)]);
        let _mounted = leptos::mount::mount_to(el.clone(), move || {
            view! { <Chart uid="gap-test" label="Sessions per week".into() data=Signal::derive(move || data.clone())/> }
        });
        leptos::task::tick().await;

        // Two bars, not three: the missing week has no bar of height 0.
        assert_eq!(el.query_selector_all("rect.bar").unwrap().length(), 2);
        assert_eq!(texts(&el, ".gap-label"), vec!["no data"]);
        assert_eq!(
            texts(&el, ".gap-note").len(),
            1,
            "the legend explains the gap"
        );

        // The table alternative says the same in words.
        let toggle: web_sys::HtmlElement = el
            .query_selector("button[aria-controls='gap-test-table']")
            .unwrap()
            .expect("the table toggle")
            .unchecked_into();
        toggle.click();
        leptos::task::tick().await;
        assert_eq!(
            texts(&el, "#gap-test-table td"),
            vec!["4", "— (no data)", "6"]
        );
    }
}
