//! Small helpers: number and date formatting (display only: every figure
//! comes from `scoreboard-core`), the UTC clock, URL parameters, yielding to
//! the event loop, and the performance marks benchmarks read.

use chrono::NaiveDate;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

/// The placeholder of a figure that cannot be computed (metrics.md §6).
pub const DASH: &str = "—";

/// Today's UTC date from the browser clock (the app may read the clock; core never does).
pub fn today_utc() -> NaiveDate {
    let d = js_sys::Date::new_0();
    NaiveDate::from_ymd_opt(
        d.get_utc_full_year() as i32,
        d.get_utc_month() + 1,
        d.get_utc_date(),
    )
    .unwrap_or_default()
}

/// The page's "today": the pinned `?as_of=` when the URL has one, else the clock.
pub fn today() -> NaiveDate {
    as_of_param().unwrap_or_else(today_utc)
}

/// `?name=value` from the page URL.
pub fn url_param(name: &str) -> Option<String> {
    let search = web_sys::window()?.location().search().ok()?;
    web_sys::UrlSearchParams::new_with_str(&search)
        .ok()?
        .get(name)
}

/// An `as_of=YYYY-MM-DD` URL parameter: pins "today" for tests, benchmarks and reproducible views.
pub fn as_of_param() -> Option<NaiveDate> {
    url_param("as_of").and_then(|s| day_or_none(&s))
}

/// Core's one reader of days (`scoreboard_core::parse::parse_day`), for the
/// page's inputs and URL parameters, where a day that cannot be read is
/// simply no day. Not a parser of its own: the forms are core's.
pub fn day_or_none(s: &str) -> Option<NaiveDate> {
    scoreboard_core::parse::parse_day(s).ok()
}

/// 12345 → "12,345".
pub fn int(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

pub fn signed_int(n: i64) -> String {
    let abs = int(n.unsigned_abs());
    match n.signum() {
        1 => format!("+{abs}"),
        -1 => format!("−{abs}"),
        _ => "±0".to_string(),
    }
}

/// 1234.56 → "1,234.6": one decimal, grouped.
pub fn decimal(v: f64) -> String {
    let tenths = (v.abs() * 10.0).round() as u64;
    let sign = if v < 0.0 && tenths > 0 { "−" } else { "" };
    format!("{sign}{}.{}", int(tenths / 10), tenths % 10)
}

/// 1234.5 → "$1,234.50"; large amounts drop the cents.
pub fn usd(v: f64) -> String {
    let neg = v < 0.0;
    let a = v.abs();
    let s = if a >= 10_000.0 {
        int(a.round() as u64)
    } else {
        let cents = (a * 100.0).round() as u64;
        format!("{}.{:02}", int(cents / 100), cents % 100)
    };
    if neg {
        format!("−${s}")
    } else {
        format!("${s}")
    }
}

/// A fraction as a whole percentage, the way core writes it (`92 %`).
pub fn pct(r: f64) -> String {
    scoreboard_core::metrics::percent(r)
}

pub fn opt_pct(r: Option<f64>) -> String {
    r.map_or_else(|| DASH.to_string(), pct)
}

pub fn opt_day(d: Option<NaiveDate>) -> String {
    d.map_or_else(|| DASH.to_string(), |d| d.to_string())
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// 2026-11-09 → "9 Nov".
pub fn day_month(d: NaiveDate) -> String {
    use chrono::Datelike;
    format!(
        "{} {}",
        d.day(),
        MONTHS.get(d.month0() as usize).unwrap_or(&"")
    )
}

/// 2026-11-09 → "9 Nov 2026".
pub fn day_month_year(d: NaiveDate) -> String {
    use chrono::Datelike;
    format!("{} {}", day_month(d), d.year())
}

pub fn plural(n: u64, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{} {many}", int(n))
    }
}

pub fn bytes(n: f64) -> String {
    if n >= 1_048_576.0 {
        format!("{:.1} MB", n / 1_048_576.0)
    } else if n >= 1024.0 {
        format!("{:.0} KB", n / 1024.0)
    } else {
        format!("{n:.0} bytes")
    }
}

pub fn now_ms() -> f64 {
    web_sys::window()
        .and_then(|w| w.performance())
        .map_or(0.0, |p| p.now())
}

/// Records a benchmark mark: `performance.mark(name)` and an entry in
/// `window.__scoreboard_marks` (`{name, t, wasm_bytes}`: `t` in ms since
/// navigation, `wasm_bytes` the size of the WebAssembly memory then).
pub fn mark(name: &str) {
    let Some(w) = web_sys::window() else { return };
    if let Some(p) = w.performance() {
        let _ = p.mark(name);
    }
    let key = JsValue::from_str("__scoreboard_marks");
    let list = match js_sys::Reflect::get(&w, &key) {
        Ok(v) if v.is_instance_of::<js_sys::Array>() => v.unchecked_into::<js_sys::Array>(),
        _ => {
            let a = js_sys::Array::new();
            let _ = js_sys::Reflect::set(&w, &key, &a);
            a
        }
    };
    let entry = js_sys::Object::new();
    let _ = js_sys::Reflect::set(&entry, &"name".into(), &name.into());
    let _ = js_sys::Reflect::set(&entry, &"t".into(), &now_ms().into());
    // The WebAssembly heap (the JS heap figures do not include it).
    if let Ok(mem) = wasm_bindgen::memory().dyn_into::<js_sys::WebAssembly::Memory>() {
        if let Ok(buf) = mem.buffer().dyn_into::<js_sys::ArrayBuffer>() {
            let _ = js_sys::Reflect::set(&entry, &"wasm_bytes".into(), &buf.byte_length().into());
        }
    }
    list.push(&entry);
}

/// Keeps the engine worker's largest wasm memory seen in
/// `window.__scoreboard_engine_bytes` (read by `make bench`, which counts
/// it with the page's own: the rows live there).
pub fn engine_memory(bytes: f64) {
    let Some(w) = web_sys::window() else { return };
    let key = JsValue::from_str("__scoreboard_engine_bytes");
    let before = js_sys::Reflect::get(&w, &key)
        .ok()
        .and_then(|v| v.as_f64())
        .unwrap_or(0.0);
    let _ = js_sys::Reflect::set(&w, &key, &JsValue::from_f64(before.max(bytes)));
}

/// Lets the browser handle input and paint before the next piece of work
/// (a macrotask, so rendering and events run in between).
pub async fn yield_now() {
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        if let Some(w) = web_sys::window() {
            let _ = w.set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, 0);
        } else {
            let _ = resolve.call0(&JsValue::NULL);
        }
    });
    let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
}

/// Waits `ms` milliseconds (a timer, not a busy loop).
pub async fn sleep_ms(ms: i32) {
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        if let Some(w) = web_sys::window() {
            let _ = w.set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms);
        } else {
            let _ = resolve.call0(&JsValue::NULL);
        }
    });
    let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
}

/// Waits until the page's thread is idle (`requestIdleCallback`), at most
/// `max_ms`; a browser without it (Safari) waits a tenth of a second.
pub async fn when_idle(max_ms: u32) {
    const NO_IDLE_WAIT_MS: u32 = 100;
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        let Some(w) = web_sys::window() else {
            let _ = resolve.call0(&JsValue::NULL);
            return;
        };
        let options = web_sys::IdleRequestOptions::new();
        options.set_timeout(max_ms);
        if w.request_idle_callback_with_options(&resolve, &options)
            .is_err()
        {
            let _ = w.set_timeout_with_callback_and_timeout_and_arguments_0(
                &resolve,
                NO_IDLE_WAIT_MS.min(max_ms) as i32,
            );
        }
    });
    let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
}

/// Waits until the DOM of the last update has been painted: the next
/// animation frame, then a task, which runs once that frame's rendering is
/// done (a second frame would wait up to 16 ms more for nothing).
pub async fn next_paint() {
    next_frame().await;
    yield_now().await;
}

/// Waits for the next animation frame.
pub async fn next_frame() {
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        if let Some(w) = web_sys::window() {
            let _ = w.request_animation_frame(&resolve);
        } else {
            let _ = resolve.call0(&JsValue::NULL);
        }
    });
    let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
}

pub fn local_storage() -> Option<web_sys::Storage> {
    web_sys::window()?.local_storage().ok().flatten()
}

/// Puts `text` on the clipboard; false when the browser refuses (no permission,
/// not a secure context), so the caller can offer the text to copy by hand.
pub async fn copy_to_clipboard(text: &str) -> bool {
    match web_sys::window() {
        Some(w) => wasm_bindgen_futures::JsFuture::from(w.navigator().clipboard().write_text(text))
            .await
            .is_ok(),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_separators() {
        assert_eq!(int(0), "0");
        assert_eq!(int(999), "999");
        assert_eq!(int(1000), "1,000");
        assert_eq!(int(1234567), "1,234,567");
        assert_eq!(usd(1234.5), "$1,234.50");
        assert_eq!(usd(12345.4), "$12,345");
        assert_eq!(signed_int(-3), "−3");
    }
}
