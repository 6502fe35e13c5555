//! The page's handle on its engine, which holds the data (`engine_state`):
//! a Web Worker (`src/bin/engine_worker.rs`) started when the page has data
//! to hold (the first file import, data stored in this browser, live
//! mode; a first visit never loads it), then kept for the page's life in
//! `Ctx::engine`. A browser that cannot run it (no worker script, as in the
//! crate's own browser tests) gets the same engine on the page
//! ([`Backend::Here`]): the same requests, answered on the page's thread.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use futures::channel::mpsc;
use futures::StreamExt;
use js_sys::{Array, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use crate::engine_msg::{Message, Reply, Request, ToEngine};
use crate::engine_state::EngineState;
use crate::error::JsError;
use crate::util;

/// The worker's loader, written by Trunk beside the page (unhashed: a
/// worker's name is known at run time only).
const WORKER_SCRIPT: &str = "engine_worker_loader.js";
/// Loading and warming up takes well under a second; past this the page runs the engine itself.
const START_TIMEOUT_MS: i32 = 30_000;

/// What the worker said, or that it stopped.
pub enum Event {
    /// A message and the byte buffers posted with it.
    Msg(Message, Vec<Uint8Array>),
    /// The worker failed (a script that would not load, a crash): its message.
    Failed(String),
}

/// Whether the engine was started, and how that went.
#[derive(Default)]
pub enum Slot {
    #[default]
    NotStarted,
    /// Loading and warming up (`loader::warm_engine`); requests wait for it.
    Starting,
    Ready(Backend),
}

/// Where the engine runs.
#[derive(Clone)]
pub enum Backend {
    Worker(Rc<Engine>),
    /// On the page: no worker could be started.
    Here(Rc<RefCell<EngineState>>),
}

impl Backend {
    /// Sends `request` (with `buffers`, transferred) and waits for its reply
    /// and the buffers posted with it. `Err` when the worker failed.
    pub async fn call(
        &self,
        request: Request,
        buffers: Vec<Uint8Array>,
    ) -> Result<(Reply, Vec<Uint8Array>), String> {
        match self {
            Backend::Worker(engine) => engine.call(request, buffers).await,
            Backend::Here(state) => {
                let buffers = buffers.iter().map(Uint8Array::to_vec).collect();
                let (reply, out) = answer_here(state.clone(), request, buffers).await;
                Ok((
                    reply,
                    out.iter().map(|b| Uint8Array::from(b.as_slice())).collect(),
                ))
            }
        }
    }
}

/// The page's own engine answers `request`. With the page's `split`
/// feature this is a wasm module of its own (the table, the merge, core's
/// `compute`, the stored table's codec, `engine_store`, the compact rows decoder), fetched
/// the first time a browser that could not start the worker needs it: the
/// worker holds the same engine, so no other page carries it.
#[cfg_attr(feature = "split", leptos::lazy)]
async fn answer_here(
    state: Rc<RefCell<EngineState>>,
    request: Request,
    buffers: Vec<Vec<u8>>,
) -> (Reply, Vec<Vec<u8>>) {
    crate::engine_store::answer(state, request, buffers).await
}

pub struct Engine {
    worker: web_sys::Worker,
    /// Where each import's or call's messages go, by id (id 0: `Ready`).
    listeners: Rc<RefCell<HashMap<u32, mpsc::UnboundedSender<Event>>>>,
    next_id: std::cell::Cell<u32>,
    /// The import under way (imports run one at a time).
    importing: std::cell::Cell<u32>,
    _onmessage: Closure<dyn FnMut(web_sys::MessageEvent)>,
    _onerror: Closure<dyn FnMut(web_sys::Event)>,
}

impl Engine {
    /// Starts the worker and waits for its `Ready`; `None` when it does not come.
    pub async fn start() -> Option<Engine> {
        let worker = web_sys::Worker::new(WORKER_SCRIPT).ok()?;
        let listeners: Rc<RefCell<HashMap<u32, mpsc::UnboundedSender<Event>>>> = Rc::default();
        let on_msg = listeners.clone();
        let onmessage =
            Closure::<dyn FnMut(web_sys::MessageEvent)>::new(move |e: web_sys::MessageEvent| {
                util::mark("scoreboard:engine-message");
                match read_message(&e.data()) {
                    Ok((Message::Memory { bytes }, _)) => util::engine_memory(bytes),
                    Ok((msg, buffers)) => {
                        if let Some(tx) = on_msg.borrow().get(&msg.id()) {
                            let _ = tx.unbounded_send(Event::Msg(msg, buffers));
                        }
                    }
                    Err(why) => fail_all(&on_msg, why),
                }
            });
        // A script that does not load fires a plain `Event`; an error thrown
        // inside the worker, an `ErrorEvent` with its message.
        let on_err = listeners.clone();
        let onerror = Closure::<dyn FnMut(web_sys::Event)>::new(move |e: web_sys::Event| {
            let m = e
                .dyn_ref::<web_sys::ErrorEvent>()
                .map(web_sys::ErrorEvent::message)
                .filter(|m| !m.is_empty());
            fail_all(
                &on_err,
                m.unwrap_or_else(|| "the worker could not be loaded".into()),
            );
        });
        worker.set_onmessage(Some(onmessage.as_ref().unchecked_ref()));
        worker.set_onerror(Some(onerror.as_ref().unchecked_ref()));
        let engine = Engine {
            worker,
            listeners,
            next_id: std::cell::Cell::new(0),
            importing: std::cell::Cell::new(0),
            _onmessage: onmessage,
            _onerror: onerror,
        };
        let mut events = engine.listen(0);
        let ready = Box::pin(async move { events.next().await });
        let timeout = Box::pin(util::sleep_ms(START_TIMEOUT_MS));
        let started = matches!(
            futures::future::select(ready, timeout).await,
            futures::future::Either::Left((Some(Event::Msg(Message::Ready, _)), _))
        );
        engine.listeners.borrow_mut().remove(&0);
        if started {
            Some(engine)
        } else {
            engine.worker.terminate();
            None
        }
    }

    fn next_id(&self) -> u32 {
        let id = self.next_id.get() + 1;
        self.next_id.set(id);
        id
    }

    /// The messages for `id` from now on.
    fn listen(&self, id: u32) -> mpsc::UnboundedReceiver<Event> {
        let (tx, rx) = mpsc::unbounded();
        self.listeners.borrow_mut().insert(id, tx);
        rx
    }

    /// Posts `[json, buffers…]`, the buffers' memory transferred.
    fn post(&self, msg: &ToEngine, buffers: &[&JsValue]) -> Result<(), JsError> {
        // These types always serialise; an empty message is answered by nothing.
        let text = serde_json::to_string(msg).unwrap_or_default();
        let data = Array::of1(&JsValue::from_str(&text));
        let transfer = Array::new();
        for b in buffers {
            data.push(b);
            if let Some(a) = b.dyn_ref::<Uint8Array>() {
                transfer.push(&a.buffer());
            }
        }
        self.worker
            .post_message_with_transfer(&data, &transfer)
            .map_err(JsError::from)
    }

    /// Posts an import of `blob`; its answers (for the returned id) come on
    /// the receiver until its `Done` or `Cancelled` ([`Engine::finished`]).
    pub fn import(
        &self,
        blob: &web_sys::Blob,
        name: &str,
        opts: &scoreboard_core::parse::ImportOptions,
        head: u32,
    ) -> Result<(u32, mpsc::UnboundedReceiver<Event>), JsError> {
        let id = self.next_id();
        self.importing.set(id);
        let msg = ToEngine::Import {
            id,
            name: name.to_string(),
            period: opts.period,
            column_overrides: opts.column_overrides.clone(),
            head,
        };
        let rx = self.listen(id);
        self.post(&msg, &[blob.as_ref()])?;
        Ok((id, rx))
    }

    /// Ends the worker; its listeners hear no more.
    pub fn stop(&self) {
        self.listeners.borrow_mut().clear();
        self.worker.terminate();
    }

    /// Import or call `id` has answered for the last time: its listener goes.
    pub fn finished(&self, id: u32) {
        self.listeners.borrow_mut().remove(&id);
    }

    async fn call(
        &self,
        request: Request,
        buffers: Vec<Uint8Array>,
    ) -> Result<(Reply, Vec<Uint8Array>), String> {
        let id = self.next_id();
        let mut rx = self.listen(id);
        let refs: Vec<&JsValue> = buffers.iter().map(AsRef::as_ref).collect();
        let posted = self.post(&ToEngine::Call { id, request }, &refs);
        let answer = match posted {
            Ok(()) => rx.next().await,
            Err(e) => Some(Event::Failed(e.to_string())),
        };
        self.finished(id);
        match answer {
            Some(Event::Msg(Message::Reply { reply, .. }, buffers)) => {
                Ok((read_reply(reply).await?, buffers))
            }
            Some(Event::Failed(why)) => Err(why),
            _ => Err("the worker stopped answering".into()),
        }
    }

    /// Asks the worker to stop reading the import under way: it answers
    /// `Cancelled`, or nothing more if it had ended.
    pub fn cancel_import(&self) {
        let id = self.importing.get();
        let _ = self.post(&ToEngine::Cancel { id }, &[]);
    }
}

/// The worker failed: everyone waiting hears why.
fn fail_all(listeners: &RefCell<HashMap<u32, mpsc::UnboundedSender<Event>>>, why: String) {
    for tx in listeners.borrow().values() {
        let _ = tx.unbounded_send(Event::Failed(why.clone()));
    }
}

/// A reply of the worker read into its type. With the page's `split`
/// feature, a module of its own (serde's readers of the report, the stored
/// table's parts, the merge counts), fetched with the worker
/// ([`preload_reader`]): a first visit starts neither.
#[cfg_attr(feature = "split", leptos::lazy)]
async fn read_reply(reply: Box<serde_json::value::RawValue>) -> Result<Reply, String> {
    serde_json::from_slice(reply.get().as_bytes())
        .map_err(|e| format!("an answer the page cannot read ({e})"))
}

/// Fetches the reader of the worker's replies while the worker starts.
pub fn preload_reader() {
    #[cfg(feature = "split")]
    leptos::task::spawn_local(__preload_read_reply());
}

/// A message of the worker: `[json, buffers…]`.
fn read_message(data: &JsValue) -> Result<(Message, Vec<Uint8Array>), String> {
    let data = Array::from(data);
    let text = data.get(0).as_string().unwrap_or_default();
    // `from_slice`, as the page reads stored and fetched JSON: one reader of each type.
    let msg = serde_json::from_slice::<Message>(text.as_bytes())
        .map_err(|e| format!("an answer the page cannot read ({e})"))?;
    let buffers = (1..data.length())
        .map(|i| Uint8Array::new(&data.get(i)))
        .collect();
    Ok((msg, buffers))
}
