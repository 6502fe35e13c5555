//! The page's handle on its engine worker (`src/bin/engine_worker.rs`):
//! started on the first file import (a first visit never loads it), then
//! kept for the page's life in `Ctx::engine`. A browser that cannot run it
//! (no worker script, as in the crate's own browser tests) gets `None`, and
//! the loader reads files on the page instead.

use std::cell::RefCell;
use std::rc::Rc;

use futures::channel::mpsc;
use futures::StreamExt;
use js_sys::Array;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use scoreboard_core::api::rows_wire;
use scoreboard_core::model::DayRow;

use crate::engine_msg::{FromEngine, ToEngine};
use crate::error::JsError;
use crate::util;

/// The worker's loader, written by Trunk beside the page (unhashed: a
/// worker's name is known at run time only).
const WORKER_SCRIPT: &str = "engine_worker_loader.js";
/// Loading and warming up takes well under a second; past this the page reads files itself.
const START_TIMEOUT_MS: i32 = 30_000;

/// What the worker said, or that it stopped.
pub enum Event {
    Msg(FromEngine),
    /// A `FromEngine::Rows` chunk of import `id`, decoded, with its `left`.
    Rows(u32, Vec<DayRow>, usize),
    /// The worker failed (a script that would not load, a crash): its message.
    Failed(String),
}

/// Whether the engine was started, and how that went.
#[derive(Default)]
pub enum Slot {
    #[default]
    NotStarted,
    /// Loading and warming up (`loader::warm_engine`); an import waits for it.
    Starting,
    Running(Rc<Engine>),
    /// It could not start or it failed: files are read on the page from now on.
    Unavailable,
}

pub struct Engine {
    worker: web_sys::Worker,
    /// Where the worker's messages go: the one job reading from it (imports run one at a time).
    inbox: Rc<RefCell<Option<mpsc::UnboundedSender<Event>>>>,
    next_id: std::cell::Cell<u32>,
    _onmessage: Closure<dyn FnMut(web_sys::MessageEvent)>,
    _onerror: Closure<dyn FnMut(web_sys::Event)>,
}

impl Engine {
    /// Starts the worker and waits for its `Ready`; `None` when it does not come.
    pub async fn start() -> Option<Engine> {
        let worker = web_sys::Worker::new(WORKER_SCRIPT).ok()?;
        let inbox: Rc<RefCell<Option<mpsc::UnboundedSender<Event>>>> = Rc::default();
        let send = {
            let inbox = inbox.clone();
            move |ev: Event| {
                if let Some(tx) = inbox.borrow().as_ref() {
                    let _ = tx.unbounded_send(ev);
                }
            }
        };
        // Decoded here: each message is its own task, so a chunk of rows
        // is decoded in a short task of its own.
        let on_msg = send.clone();
        let onmessage =
            Closure::<dyn FnMut(web_sys::MessageEvent)>::new(move |e: web_sys::MessageEvent| {
                on_msg(read_message(&e.data()));
            });
        // A script that does not load fires a plain `Event`; an error thrown
        // inside the worker, an `ErrorEvent` with its message.
        let onerror = Closure::<dyn FnMut(web_sys::Event)>::new(move |e: web_sys::Event| {
            let m = e
                .dyn_ref::<web_sys::ErrorEvent>()
                .map(web_sys::ErrorEvent::message)
                .filter(|m| !m.is_empty());
            send(Event::Failed(
                m.unwrap_or_else(|| "the worker could not be loaded".into()),
            ));
        });
        worker.set_onmessage(Some(onmessage.as_ref().unchecked_ref()));
        worker.set_onerror(Some(onerror.as_ref().unchecked_ref()));
        let engine = Engine {
            worker,
            inbox,
            next_id: std::cell::Cell::new(0),
            _onmessage: onmessage,
            _onerror: onerror,
        };
        let mut events = engine.listen();
        let ready = Box::pin(async move { events.next().await });
        let timeout = Box::pin(util::sleep_ms(START_TIMEOUT_MS));
        match futures::future::select(ready, timeout).await {
            futures::future::Either::Left((Some(Event::Msg(FromEngine::Ready)), _)) => Some(engine),
            _ => {
                engine.worker.terminate();
                None
            }
        }
    }

    /// The worker's messages from now on (the previous listener hears no more).
    fn listen(&self) -> mpsc::UnboundedReceiver<Event> {
        let (tx, rx) = mpsc::unbounded();
        *self.inbox.borrow_mut() = Some(tx);
        rx
    }

    /// Posts an import of `blob`; its answers (for the returned id) come on the receiver.
    pub fn import(
        &self,
        blob: &web_sys::Blob,
        name: &str,
        opts: &scoreboard_core::parse::ImportOptions,
    ) -> Result<(u32, mpsc::UnboundedReceiver<Event>), JsError> {
        let id = self.next_id.get() + 1;
        self.next_id.set(id);
        let msg = ToEngine::Import {
            id,
            name: name.to_string(),
            period: opts.period,
            column_overrides: opts.column_overrides.clone(),
        };
        let text = serde_json::to_string(&msg).unwrap_or_default();
        let rx = self.listen();
        self.worker
            .post_message(&Array::of2(&JsValue::from_str(&text), blob))?;
        Ok((id, rx))
    }

    /// Asks the worker to stop reading the latest import (imports run one
    /// at a time): it answers `Cancelled`, or nothing more if it had ended.
    pub fn cancel_latest(&self) {
        let msg = ToEngine::Cancel {
            id: self.next_id.get(),
        };
        let text = serde_json::to_string(&msg).unwrap_or_default();
        let _ = self
            .worker
            .post_message(&Array::of1(&JsValue::from_str(&text)));
    }

    /// Ends the worker; its listener hears no more.
    pub fn stop(&self) {
        self.inbox.borrow_mut().take();
        self.worker.terminate();
    }
}

/// A message of the worker: `[json]`, or `[json, bytes]` for a chunk of rows.
fn read_message(data: &JsValue) -> Event {
    let data = Array::from(data);
    let text = data.get(0).as_string().unwrap_or_default();
    let unreadable = |why: String| Event::Failed(format!("an answer the page cannot read ({why})"));
    // `from_slice`, as the page reads stored and fetched JSON: one reader of each type.
    match serde_json::from_slice::<FromEngine>(text.as_bytes()) {
        Ok(FromEngine::Rows { id, left }) => {
            let bytes = js_sys::Uint8Array::new(&data.get(1)).to_vec();
            match rows_wire::decode(&bytes) {
                Ok(answer) => Event::Rows(id, answer.rows, left),
                Err(e) => unreadable(e.to_string()),
            }
        }
        Ok(m) => Event::Msg(m),
        Err(e) => unreadable(e.to_string()),
    }
}
