//! Weekly charts, drawn as SVG by the page itself (app/CHARTS.md says why,
//! with the measured sizes): lines, bars and stacked bars over ISO weeks,
//! with axes, value labels, a tooltip (mouse and keyboard), the current
//! partial week drawn dashed/pale over a hatched band, and a data-table
//! alternative.
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
}

impl Fmt {
    pub fn full(self, v: f64) -> String {
        match self {
            Fmt::Count => util::int(v.round().max(0.0) as u64),
            Fmt::Percent => util::pct(v),
            Fmt::Usd => util::usd(v),
        }
    }
    fn axis(self, v: f64) -> String {
        match self {
            Fmt::Count => compact(v),
            Fmt::Percent => format!("{:.0} %", v * 100.0),
            Fmt::Usd if v >= 1000.0 => format!("${}", compact(v)),
            Fmt::Usd if v.fract().abs() > 1e-9 && v < 10.0 => format!("${v:.1}"),
            Fmt::Usd => format!("${v:.0}"),
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
    /// Colour class (`s-blue`, `t-power`, …); the legend shows the name too.
    pub class: &'static str,
    pub mark: Mark,
    pub values: Vec<Option<f64>>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ChartData {
    /// Axis label per week (`W46`).
    pub labels: Vec<String>,
    /// Tooltip / table heading per week (`2026-W46, 9–15 Nov`).
    pub titles: Vec<String>,
    /// True for the current week, which is still in progress.
    pub partial: Vec<bool>,
    pub series: Vec<Series>,
    /// Bars of all series stacked per week.
    pub stacked: bool,
    pub fmt: Fmt,
    /// Start the value axis at 0 (rates may zoom in instead).
    pub zero_based: bool,
}

/// A chart's size watcher and its callback (kept alive together).
type Observer = (ResizeObserver, Closure<dyn FnMut(js_sys::Array)>);

const HEIGHT: f64 = 220.0;
const LEFT: f64 = 46.0;
const RIGHT: f64 = 14.0;
const TOP: f64 = 22.0;
const BOTTOM: f64 = 28.0;

struct Geo {
    w: f64,
    n: usize,
    band: f64,
    y0: f64,
    y1: f64,
    ticks: Vec<f64>,
}

impl Geo {
    fn new(d: &ChartData, w: f64) -> Geo {
        let n = d.labels.len().max(1);
        let band = (w - LEFT - RIGHT) / n as f64;
        let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
        if d.stacked {
            for i in 0..d.labels.len() {
                let s: f64 = d
                    .series
                    .iter()
                    .filter_map(|s| s.values.get(i).copied().flatten())
                    .sum();
                hi = hi.max(s);
            }
            lo = 0.0;
        } else {
            for v in d
                .series
                .iter()
                .flat_map(|s| s.values.iter().copied().flatten())
            {
                lo = lo.min(v);
                hi = hi.max(v);
            }
        }
        if !hi.is_finite() {
            hi = 1.0;
            lo = 0.0;
        }
        let (y0, y1, ticks) = if d.fmt == Fmt::Percent {
            let y0 = if d.zero_based {
                0.0
            } else {
                ((lo - 0.05) * 10.0).floor().clamp(0.0, 9.0) / 10.0
            };
            let step = if 1.0 - y0 > 0.5 {
                0.25
            } else if 1.0 - y0 > 0.2 {
                0.1
            } else {
                0.05
            };
            let mut ticks = Vec::new();
            let mut t = y0;
            while t <= 1.0 + 1e-9 {
                ticks.push(t);
                t += step;
            }
            (y0, 1.0, ticks)
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
        let h = HEIGHT - TOP - BOTTOM;
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

/// The SVG body (axes, marks, labels), drawn once per data or width change.
fn draw(d: &ChartData, g: &Geo, uid: &str) -> impl IntoView {
    let plot_bottom = HEIGHT - BOTTOM;
    let hatch = format!("hatch-{uid}");
    let every = ((g.n as f64 * 46.0) / (g.w - LEFT - RIGHT)).ceil().max(1.0) as usize;
    let mut parts: Vec<AnyView> = Vec::new();

    // The partial week: a hatched band with a label.
    for (i, p) in d.partial.iter().enumerate() {
        if *p {
            let x = LEFT + g.band * i as f64;
            let text = if g.band >= 56.0 { "in progress" } else { "now" };
            parts.push(
                view! {
                    <rect class="partial-band" x=f1(x) y=f1(TOP) width=f1(g.band) height=f1(plot_bottom - TOP) fill=format!("url(#{hatch})")/>
                    <text class="partial-label" x=f1(x + g.band / 2.0) y=f1(TOP - 8.0) text-anchor="middle">{text}</text>
                }
                .into_any(),
            );
        }
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
    // Week axis.
    for (i, l) in d.labels.iter().enumerate() {
        if (g.n - 1 - i).is_multiple_of(every) {
            parts.push(
                view! { <text class="tick" class:partial=d.partial.get(i).copied().unwrap_or(false) x=f1(g.x(i)) y=f1(plot_bottom + 16.0) text-anchor="middle">{l.clone()}</text> }
                    .into_any(),
            );
        }
    }
    parts.push(view! { <line class="axis" x1=f1(LEFT) x2=f1(g.w - RIGHT) y1=f1(plot_bottom) y2=f1(plot_bottom)/> }.into_any());

    // Bars: stacked, or one series of bars.
    let bar_series: Vec<&Series> = d.series.iter().filter(|s| s.mark == Mark::Bar).collect();
    if !bar_series.is_empty() {
        let bw = (g.band * 0.66).max(2.0);
        for i in 0..d.labels.len() {
            let partial = d.partial.get(i).copied().unwrap_or(false);
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
        // The value of the last complete week, on its bar.
        if let Some(i) = (0..d.labels.len())
            .rev()
            .find(|&i| !d.partial.get(i).copied().unwrap_or(false))
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

    // Lines: solid between complete weeks, dashed into the partial week; a
    // missing value (undefined figure) breaks the line.
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
            let partial = d.partial.get(i).copied().unwrap_or(false)
                || d.partial.get(j).copied().unwrap_or(false);
            let seg = format!(
                "M{} {}L{} {}",
                f1(g.x(i)),
                f1(g.y(a)),
                f1(g.x(j)),
                f1(g.y(b))
            );
            if partial || s.mark == Mark::Reference {
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
        if !is_ref {
            for (i, v) in &pts {
                let partial = d.partial.get(*i).copied().unwrap_or(false);
                parts.push(
                    view! { <circle class=format!("dot {class}") class:partial=partial cx=f1(g.x(*i)) cy=f1(g.y(*v)) r="3"/> }
                        .into_any(),
                );
            }
        }
        // Value label at the last complete week (lines only; the reference is in the legend).
        if !is_ref {
            if let Some((i, v)) = pts
                .iter()
                .rev()
                .find(|(i, _)| !d.partial.get(*i).copied().unwrap_or(false))
            {
                parts.push(
                    view! { <text class="value-label" x=f1(g.x(*i)) y=f1(g.y(*v) - 8.0) text-anchor="middle">{d.fmt.full(*v)}</text> }
                        .into_any(),
                );
            }
        } else if let Some((_, v)) = pts.last() {
            parts.push(
                view! { <text class="ref-label" x=f1(LEFT + 4.0) y=f1(g.y(*v) - 5.0) text-anchor="start">{format!("{}: {}", s.name, d.fmt.full(*v))}</text> }
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
) -> impl IntoView {
    let width = RwSignal::new(560.0_f64);
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
            let w = entry.content_rect().width().floor();
            if w > 0.0 && (w - width.get_untracked()).abs() >= 1.0 {
                width.set(w);
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

    let n = move || data.with(|d| d.labels.len());
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
        <div class="chart" node_ref=node>
            <svg
                id=format!("{uid}-svg")
                class="chart-svg"
                width=move || f1(width.get())
                height=f1(HEIGHT)
                viewBox=move || format!("0 0 {} {}", f1(width.get()), f1(HEIGHT))
                role="img"
                aria-label=aria
                tabindex="0"
                on:keydown=on_key
                on:focus=move |_| hover.set(Some(n().saturating_sub(1)))
                on:blur=move |_| hover.set(None)
                on:mouseleave=move |_| hover.set(None)
            >
                {move || data.with(|d| {
                    let g = Geo::new(d, width.get());
                    draw(d, &g, uid)
                })}
                // The hovered week: a guide line, and hit areas per week.
                {move || data.with(|d| {
                    let g = Geo::new(d, width.get());
                    let guide = hover.get().filter(|i| *i < d.labels.len()).map(|i| view! {
                        <line class="guide" x1=f1(g.x(i)) x2=f1(g.x(i)) y1=f1(TOP) y2=f1(HEIGHT - BOTTOM)/>
                    });
                    let zones = (0..d.labels.len()).map(|i| view! {
                        <rect class="hit" x=f1(LEFT + g.band * i as f64) y="0" width=f1(g.band) height=f1(HEIGHT)
                            on:mouseenter=move |_| hover.set(Some(i))/>
                    }).collect_view();
                    view! { {guide}{zones} }
                })}
            </svg>
            {move || hover.get().and_then(|i| data.with(|d| {
                let title = d.titles.get(i)?.clone();
                let g = Geo::new(d, width.get());
                let left = g.x(i).clamp(90.0, (g.w - 90.0).max(90.0));
                let rows = d.series.iter().rev().map(|s| {
                    let v = s.values.get(i).copied().flatten().map_or_else(|| DASH.to_string(), |v| d.fmt.full(v));
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
                    <Show when=move || data.with(|d| d.partial.iter().any(|p| *p))>
                        <li class="partial-note"><span class="swatch partial-swatch"></span>"week in progress (dashed, pale)"</li>
                    </Show>
                </ul>
                <button class="btn quiet small" aria-expanded=move || table.get().to_string() aria-controls=table_id.clone()
                    on:click=move |_| table.update(|t| *t = !*t)>
                    {move || if table.get() { "Hide table" } else { "Show as table" }}
                </button>
                <ExportButtons uid label=label.clone()/>
            </div>
            <Show when=move || table.get()>
                <div class="table-wrap" id=format!("{uid}-table")>
                    <table class="chart-table">
                        <caption class="sr-only">{label.clone()}</caption>
                        <thead><tr>
                            <th scope="col">"Week (UTC)"</th>
                            {move || data.with(|d| d.series.iter().map(|s| view! { <th scope="col" class="num">{s.name.clone()}</th> }).collect_view())}
                        </tr></thead>
                        <tbody>
                            {move || data.with(|d| (0..d.labels.len()).map(|i| {
                                let partial = d.partial.get(i).copied().unwrap_or(false);
                                view! {
                                    <tr class:partial=partial>
                                        <th scope="row">{d.titles.get(i).cloned().unwrap_or_default()}</th>
                                        {d.series.iter().map(|s| {
                                            let v = s.values.get(i).copied().flatten().map_or_else(|| DASH.to_string(), |v| d.fmt.full(v));
                                            view! { <td class="num">{v}</td> }
                                        }).collect_view()}
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
