//! What the browser tests (`#[wasm_bindgen_test]`, run in headless Chromium by
//! `make test` through scripts/wasm-test-runner.sh) share: the page's state as
//! the app builds it, a place in the document to mount components, and files
//! as a user's drop gives them.
//!
//! All browser tests of the crate run in one page, one after another, with a
//! fresh browser profile per run: IndexedDB and localStorage start empty, but
//! what one test stores is seen by the next, so tests that store clear first.

use std::cell::RefCell;
use std::rc::Rc;

use leptos::prelude::{Set, SetValue, Update};
use scoreboard_core::UsageTable;
use wasm_bindgen::JsCast;

use crate::engine::{Backend, Slot};
use crate::engine_state::EngineState;
use crate::state::Ctx;

wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

/// The page's state as `App` makes it, with the stored data already read back
/// (found empty), so an import merges at once instead of waiting for it. The
/// engine runs on the page, as where no worker can start (these tests have
/// no worker script).
pub fn ctx() -> Ctx {
    // What `mount_to_body` does first: background work (a save) can be spawned.
    let _ = any_spawner::Executor::init_wasm_bindgen();
    let ctx = crate::app::new_ctx(Default::default());
    ctx.restored.set(true);
    ctx.engine
        .set_value(Slot::Ready(Backend::Here(Rc::new(RefCell::new(
            EngineState::default(),
        )))));
    ctx
}

/// The page's engine (the one [`ctx`] starts).
fn engine(ctx: Ctx) -> Rc<RefCell<EngineState>> {
    match crate::backend::running(ctx) {
        Some(Backend::Here(state)) => state,
        _ => panic!("the test's engine runs on the page"),
    }
}

/// The user's table as the engine holds it.
pub fn held(ctx: Ctx) -> UsageTable {
    engine(ctx).borrow().own().clone()
}

/// Makes `table` the user's table, in the engine and in the data's count.
pub fn hold(ctx: Ctx, table: UsageTable) {
    let info = engine(ctx).borrow_mut().set_own(table);
    ctx.data.update(|d| d.table = info);
}

/// An empty `<div>` at the end of the document's body, to mount a component in.
pub fn container() -> web_sys::HtmlElement {
    let doc = document();
    let div = doc.create_element("div").expect("a div");
    doc.body()
        .expect("a body")
        .append_child(&div)
        .expect("appended");
    div.unchecked_into()
}

pub fn document() -> web_sys::Document {
    web_sys::window()
        .and_then(|w| w.document())
        .expect("the test page's document")
}

/// A file as a drop or the file picker hands it to the page.
pub fn file(name: &str, text: &str) -> web_sys::File {
    let parts = js_sys::Array::of1(&text.into());
    web_sys::File::new_with_str_sequence(&parts, name).expect("a File")
}

/// A bar chart of `values`, one per week from 2026-W40 (sessions, counts).
pub fn weekly_chart(values: Vec<Option<f64>>) -> crate::charts::ChartData {
    use crate::charts::{AxisWeek, ChartData, Fmt, Mark, Series};
    ChartData {
        weeks: (0..values.len())
            .map(|i| AxisWeek {
                label: format!("week {}", 40 + i),
                title: format!("2026-W{}", 40 + i),
                partial: None,
            })
            .collect(),
        series: vec![Series {
            name: "Sessions".into(),
            class: "s-accent",
            mark: Mark::Bar,
            values,
            gap: "no data",
        }],
        stacked: false,
        fmt: Fmt::Count,
    }
}
