//! Downloads: the people table and the weekly series as CSV (written by
//! core's `share::people_csv` / `weeks_csv`), each chart as SVG or PNG,
//! and snapshot files.
//!
//! A chart is exported from the SVG on screen: its styles come from the
//! page's CSS, so each element's computed colours and fonts are written
//! onto a copy, with the title and the legend added; the PNG is that SVG
//! drawn onto a canvas at twice the size.

use std::fmt::Write as _;

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

use crate::error::{ExportError, JsError};
use crate::util;

/// Offers `text` as a file download.
pub fn download_text(name: &str, mime: &str, text: &str) -> Result<(), ExportError> {
    let url = blob_url(mime, text)?;
    click_link(&url, name)?;
    // Long enough for the browser to read it; the URL is freed afterwards.
    leptos::task::spawn_local(async move {
        util::sleep_ms(60_000).await;
        let _ = web_sys::Url::revoke_object_url(&url);
    });
    Ok(())
}

/// A `blob:` URL holding `text` (the caller revokes it).
pub fn blob_url(mime: &str, text: &str) -> Result<String, JsError> {
    let parts = js_sys::Array::of1(&JsValue::from_str(text));
    let opts = web_sys::BlobPropertyBag::new();
    opts.set_type(mime);
    let blob = web_sys::Blob::new_with_str_sequence_and_options(&parts, &opts)?;
    Ok(web_sys::Url::create_object_url_with_blob(&blob)?)
}

fn click_link(href: &str, name: &str) -> Result<(), JsError> {
    let doc = web_sys::window()
        .and_then(|w| w.document())
        .ok_or_else(|| JsError::new("no document"))?;
    let a: web_sys::HtmlAnchorElement = doc
        .create_element("a")?
        .dyn_into()
        .map_err(|_| JsError::new("not a link"))?;
    a.set_href(href);
    a.set_download(name);
    a.click();
    Ok(())
}

/// A file name part from a title: `Weekly active engineers` → `weekly-active-engineers`.
pub fn slug(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    out.trim_end_matches('-').to_string()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageFormat {
    Svg,
    Png,
}

/// Downloads the chart `uid` (its `<svg id="{uid}-svg">`) with `title`.
pub fn chart(uid: &str, title: &str, format: ImageFormat, file_stem: &str) {
    let uid = uid.to_string();
    let title = title.to_string();
    let stem = file_stem.to_string();
    leptos::task::spawn_local(async move {
        let result = async {
            let (svg, w, h) = chart_svg(&uid, &title)?;
            match format {
                ImageFormat::Svg => download_text(&format!("{stem}.svg"), "image/svg+xml", &svg),
                ImageFormat::Png => {
                    let png = svg_to_png(&svg, w, h).await?;
                    Ok(click_link(&png, &format!("{stem}.png"))?)
                }
            }
        }
        .await;
        if let Err(e) = result {
            if let Some(w) = web_sys::window() {
                let _ = w.alert_with_message(&format!("The chart could not be exported: {e}"));
            }
        }
    });
}

/// Computed style properties written onto the exported copy.
const STYLE_PROPS: [&str; 14] = [
    "fill",
    "fill-opacity",
    "stroke",
    "stroke-width",
    "stroke-dasharray",
    "stroke-opacity",
    "stroke-linecap",
    "stroke-linejoin",
    "opacity",
    "font-family",
    "font-size",
    "font-weight",
    "display",
    "visibility",
];

const TITLE_H: f64 = 30.0;
const LEGEND_ROW_H: f64 = 20.0;

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn transparent(c: &str) -> bool {
    c.is_empty() || c == "transparent" || c == "rgba(0, 0, 0, 0)"
}

/// The standalone SVG of a chart, and its width and height.
fn chart_svg(uid: &str, title: &str) -> Result<(String, f64, f64), ExportError> {
    let w = web_sys::window().ok_or_else(|| JsError::new("no window"))?;
    let doc = w.document().ok_or_else(|| JsError::new("no document"))?;
    let svg = doc
        .get_element_by_id(&format!("{uid}-svg"))
        .ok_or(ExportError::ChartMissing)?;
    let width: f64 = svg
        .get_attribute("width")
        .and_then(|v| v.parse().ok())
        .unwrap_or(560.0);
    let height: f64 = svg
        .get_attribute("height")
        .and_then(|v| v.parse().ok())
        .unwrap_or(220.0);
    let copy: web_sys::Element = svg
        .clone_node_with_deep(true)
        .map_err(JsError::from)?
        .dyn_into()
        .map_err(|_| JsError::new("not an element"))?;
    let originals = svg.query_selector_all("*").map_err(JsError::from)?;
    let copies = copy.query_selector_all("*").map_err(JsError::from)?;
    for i in 0..originals.length().min(copies.length()) {
        let (Some(o), Some(c)) = (originals.item(i), copies.item(i)) else {
            continue;
        };
        let (Ok(o), Ok(c)) = (
            o.dyn_into::<web_sys::Element>(),
            c.dyn_into::<web_sys::Element>(),
        ) else {
            continue;
        };
        let Ok(Some(style)) = w.get_computed_style(&o) else {
            continue;
        };
        let mut inline = String::new();
        for p in STYLE_PROPS {
            if let Ok(v) = style.get_property_value(p) {
                if !v.is_empty() {
                    let _ = write!(inline, "{p}:{v};");
                }
            }
        }
        let _ = c.set_attribute("style", &inline);
    }
    // The hover zones and the guide line are for the screen only.
    if let Ok(list) = copy.query_selector_all(".hit, .guide") {
        for i in 0..list.length() {
            if let Some(n) = list.item(i) {
                if let Some(parent) = n.parent_node() {
                    let _ = parent.remove_child(&n);
                }
            }
        }
    }
    for a in ["tabindex", "role", "aria-label", "id", "class"] {
        let _ = copy.remove_attribute(a);
    }
    let _ = copy.set_attribute("x", "0");
    let _ = copy.set_attribute("y", &TITLE_H.to_string());
    let body = web_sys::XmlSerializer::new()
        .and_then(|s| s.serialize_to_string(&copy))
        .map_err(JsError::from)?;

    let chart_box = svg.closest(".chart").ok().flatten();
    let root_style = w.get_computed_style(&svg).ok().flatten();
    let fg = root_style
        .as_ref()
        .and_then(|s| s.get_property_value("color").ok())
        .filter(|c| !transparent(c))
        .unwrap_or_else(|| "#222".into());
    let font = root_style
        .as_ref()
        .and_then(|s| s.get_property_value("font-family").ok())
        .unwrap_or_else(|| "sans-serif".into());
    // The first opaque background behind the chart (the card, then the page).
    let mut bg = "#ffffff".to_string();
    let mut el = Some(svg.clone());
    while let Some(e) = el {
        if let Some(c) = w
            .get_computed_style(&e)
            .ok()
            .flatten()
            .and_then(|s| s.get_property_value("background-color").ok())
        {
            if !transparent(&c) {
                bg = c;
                break;
            }
        }
        el = e.parent_element();
    }

    // The legend, from the one under the chart.
    let mut legend: Vec<(String, String)> = Vec::new();
    if let Some(items) = chart_box
        .as_ref()
        .and_then(|b| b.query_selector_all(".legend li").ok())
    {
        for i in 0..items.length() {
            let Some(li) = items
                .item(i)
                .and_then(|n| n.dyn_into::<web_sys::Element>().ok())
            else {
                continue;
            };
            let text = li.text_content().unwrap_or_default();
            let colour = li
                .query_selector(".swatch")
                .ok()
                .flatten()
                .and_then(|s| w.get_computed_style(&s).ok().flatten())
                .map(|s| {
                    let b = s.get_property_value("background-color").unwrap_or_default();
                    if transparent(&b) {
                        s.get_property_value("border-top-color").unwrap_or_default()
                    } else {
                        b
                    }
                })
                .unwrap_or_default();
            legend.push((text, colour));
        }
    }
    // Legend items flow in rows across the width.
    let mut rows: Vec<Vec<(f64, &(String, String))>> = vec![Vec::new()];
    let mut x = 12.0;
    for item in &legend {
        let w_item = 24.0 + item.0.chars().count() as f64 * 6.6 + 16.0;
        if x + w_item > width && x > 12.0 {
            rows.push(Vec::new());
            x = 12.0;
        }
        if let Some(r) = rows.last_mut() {
            r.push((x, item));
        }
        x += w_item;
    }
    let legend_h = if legend.is_empty() {
        0.0
    } else {
        rows.len() as f64 * LEGEND_ROW_H + 6.0
    };
    let total_h = TITLE_H + height + legend_h;
    let mut out = String::new();
    let _ = write!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{total_h}" viewBox="0 0 {width} {total_h}" font-family="{}">"#,
        xml_escape(&font)
    );
    let _ = write!(out, "<title>{}</title>", xml_escape(title));
    let _ = write!(out, r#"<rect width="100%" height="100%" fill="{bg}"/>"#);
    let _ = write!(
        out,
        r#"<text x="12" y="20" font-size="15" font-weight="600" fill="{fg}">{}</text>"#,
        xml_escape(title)
    );
    out.push_str(&body);
    for (row_i, row) in rows.iter().enumerate() {
        let y = TITLE_H + height + 4.0 + row_i as f64 * LEGEND_ROW_H;
        for (x, (text, colour)) in row {
            let colour = if colour.is_empty() { &fg } else { colour };
            let _ = write!(
                out,
                r#"<rect x="{x}" y="{}" width="14" height="10" rx="2" fill="{colour}"/><text x="{}" y="{}" font-size="12" fill="{fg}">{}</text>"#,
                y + 3.0,
                x + 20.0,
                y + 12.0,
                xml_escape(text)
            );
        }
    }
    out.push_str("</svg>");
    Ok((out, width, total_h))
}

/// Draws `svg` onto a canvas at twice its size; a `data:image/png` URL.
async fn svg_to_png(svg: &str, width: f64, height: f64) -> Result<String, ExportError> {
    let doc = web_sys::window()
        .and_then(|w| w.document())
        .ok_or_else(|| JsError::new("no document"))?;
    let img = web_sys::HtmlImageElement::new().map_err(JsError::from)?;
    let loaded = js_sys::Promise::new(&mut |resolve, reject| {
        img.set_onload(Some(&resolve));
        img.set_onerror(Some(&reject));
    });
    let src = format!(
        "data:image/svg+xml;charset=utf-8,{}",
        String::from(js_sys::encode_uri_component(svg))
    );
    img.set_src(&src);
    JsFuture::from(loaded)
        .await
        .map_err(|_| ExportError::NotDrawn)?;
    let canvas: web_sys::HtmlCanvasElement = doc
        .create_element("canvas")
        .map_err(JsError::from)?
        .dyn_into()
        .map_err(|_| ExportError::NoCanvas)?;
    let scale = 2.0;
    canvas.set_width((width * scale).round() as u32);
    canvas.set_height((height * scale).round() as u32);
    let ctx: web_sys::CanvasRenderingContext2d = canvas
        .get_context("2d")
        .map_err(JsError::from)?
        .ok_or(ExportError::NoCanvas)?
        .dyn_into()
        .map_err(|_| ExportError::NoCanvas)?;
    ctx.scale(scale, scale).map_err(JsError::from)?;
    ctx.draw_image_with_html_image_element_and_dw_and_dh(&img, 0.0, 0.0, width, height)
        .map_err(JsError::from)?;
    Ok(canvas
        .to_data_url_with_type("image/png")
        .map_err(JsError::from)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_file_name_safe() {
        assert_eq!(slug("Weekly active engineers"), "weekly-active-engineers");
        assert_eq!(
            slug("Cost / active engineer (USD)"),
            "cost-active-engineer-usd"
        );
    }
}

/// Downloads as the browser makes them (headless Chromium, `make test`).
// Two attributes, not `all(test, …)`: clippy treats only `cfg(test)` as test code.
#[cfg(test)]
#[cfg(target_arch = "wasm32")]
mod browser_tests {
    use super::*;
    use crate::charts::Chart;
    use crate::test_support;
    use leptos::prelude::*;
    use wasm_bindgen_test::wasm_bindgen_test;

    #[wasm_bindgen_test]
    async fn a_downloaded_csv_holds_exactly_the_text_given() {
        let text = "person,team\nzoë@example.com,“Platform”, naïve\n";
        let url = blob_url("text/csv", text).unwrap();
        let bytes = crate::http::fetch_bytes(&url).await.unwrap();
        let _ = web_sys::Url::revoke_object_url(&url);
        assert_eq!(String::from_utf8(bytes).unwrap(), text);
    }

    #[wasm_bindgen_test]
    async fn an_exported_chart_is_a_standalone_svg_with_title_legend_and_styles() {
        let el = test_support::container();
        let data = test_support::weekly_chart(vec![Some(3.0), Some(5.0)]);
        let _mounted = leptos::mount::mount_to(el, move || {
            view! { <Chart uid="export-test" label="Sessions".into() data=Signal::derive(move || data.clone())/> }
        });
        leptos::task::tick().await;

        let title = "Sessions & people <per week>";
        let (svg, width, height) = chart_svg("export-test", title).unwrap();
        assert!(svg.starts_with(r#"<svg xmlns="http://www.w3.org/2000/svg""#));
        assert!(svg.contains("<title>Sessions &amp; people &lt;per week&gt;</title>"));
        // The page's styles are written onto the copy; screen-only parts are gone.
        assert!(svg.contains("style=\"fill:"));
        assert!(!svg.contains("class=\"hit\"") && !svg.contains("class=\"guide\""));
        assert!(svg.contains(">Sessions</text>"), "the legend: {svg}");
        assert!(height > 220.0 && width > 0.0);
        // The PNG is that SVG drawn by the browser: it must be one it can read.
        let png = svg_to_png(&svg, width, height).await.unwrap();
        assert!(png.starts_with("data:image/png;base64,"));
    }

    #[wasm_bindgen_test]
    fn exporting_a_chart_that_is_not_on_the_page_says_so() {
        let e = chart_svg("no-such-chart", "x").unwrap_err();
        assert_eq!(e, ExportError::ChartMissing);
        assert_eq!(e.to_string(), "the chart is not on the page");
    }
}
