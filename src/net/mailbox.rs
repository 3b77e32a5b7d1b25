//! The room's mailbox on Nostr relays, in the browser: one WebSocket per relay, reconnecting
//! with backoff, carrying what `sync::postman::Postman` says and handing back what relays send
//! (capped before it is copied into wasm). Whole payloads go to the owner (the room's runtime,
//! which gives them to the replica: hostile until checked).

use super::signaling::text_within;
use crate::crypto::RoomSecret;
use crate::sync::mailbox::{Ledger, Plain};
use crate::sync::nostr::MAX_MAIL_MESSAGE;
use crate::sync::postman::{Out, Postman, RelayMark, RelayStatus};
use crate::sync::Backoff;
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::{Rc, Weak};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{MessageEvent, WebSocket};

type Callback = Closure<dyn FnMut(JsValue)>;

/// A whole payload of the room's mailbox (changes or a saved room), not yet checked.
pub type Delivery = Rc<dyn Fn(Vec<u8>)>;

struct Socket {
    ws: Option<WebSocket>,
    callbacks: Vec<Callback>,
    backoff: Backoff,
    /// Not reconnected before this (ms): the relay misbehaved.
    dropped_until: f64,
}

struct Inner {
    postman: Postman,
    sockets: BTreeMap<String, Socket>,
    deliver: Delivery,
    closed: bool,
}

/// The room's mailbox on every configured relay.
#[derive(Clone)]
pub struct Mailbox(Rc<RefCell<Inner>>);

fn now_ms() -> i64 {
    js_sys::Date::now() as i64
}

impl Mailbox {
    /// Connects to `relays` for the room under `secret`, resuming from `marks`; whole payloads
    /// go to `deliver` (called outside of any internal borrow).
    pub fn open(
        secret: RoomSecret,
        relays: &[String],
        marks: &BTreeMap<String, RelayMark>,
        deliver: Delivery,
    ) -> Self {
        let postman = Postman::new(secret, relays, marks, now_ms());
        let sockets = relays
            .iter()
            .map(|url| {
                let socket = Socket {
                    ws: None,
                    callbacks: Vec::new(),
                    backoff: Backoff::new(1_000, 30_000),
                    dropped_until: 0.0,
                };
                (url.clone(), socket)
            })
            .collect();
        let mailbox = Mailbox(Rc::new(RefCell::new(Inner {
            postman,
            sockets,
            deliver,
            closed: false,
        })));
        for url in relays {
            mailbox.connect(url);
        }
        mailbox
    }

    fn weak(&self) -> Weak<RefCell<Inner>> {
        Rc::downgrade(&self.0)
    }

    fn upgrade(weak: &Weak<RefCell<Inner>>) -> Option<Mailbox> {
        weak.upgrade().map(Mailbox).filter(|m| !m.0.borrow().closed)
    }

    fn connect(&self, url: &str) {
        let ws = match WebSocket::new(url) {
            Ok(ws) => ws,
            Err(e) => {
                super::log(&format!("tequio: relay {url} refused: {e:?}"));
                return;
            }
        };
        let on_open: Callback = Closure::new({
            let (weak, url) = (self.weak(), url.to_owned());
            move |_| {
                if let Some(m) = Mailbox::upgrade(&weak) {
                    let outs = {
                        let mut inner = m.0.borrow_mut();
                        if let Some(s) = inner.sockets.get_mut(&url) {
                            s.backoff.succeeded();
                        }
                        inner.postman.connected(&url, now_ms())
                    };
                    m.carry(outs);
                }
            }
        });
        let on_message: Callback = Closure::new({
            let (weak, url) = (self.weak(), url.to_owned());
            move |event: JsValue| {
                let Some(m) = Mailbox::upgrade(&weak) else {
                    return;
                };
                let data = event.unchecked_into::<MessageEvent>().data();
                let now = now_ms();
                let (outs, payloads, deliver) = {
                    let mut inner = m.0.borrow_mut();
                    match text_within(&data, MAX_MAIL_MESSAGE) {
                        Ok(text) => {
                            let got = inner.postman.received(&url, &text, now);
                            let payloads: Vec<Vec<u8>> =
                                got.payloads.into_iter().map(|(_, p)| p).collect();
                            (got.out, payloads, inner.deliver.clone())
                        }
                        Err(_) => {
                            let mut outs = Vec::new();
                            inner.postman.garbage(&url, now, &mut outs);
                            (outs, Vec::new(), inner.deliver.clone())
                        }
                    }
                };
                m.carry(outs);
                for payload in payloads {
                    deliver(payload);
                }
            }
        });
        let on_close: Callback = Closure::new({
            let (weak, url) = (self.weak(), url.to_owned());
            move |_| {
                if let Some(m) = Mailbox::upgrade(&weak) {
                    m.closed_socket(&url);
                }
            }
        });
        ws.set_onopen(Some(on_open.as_ref().unchecked_ref()));
        ws.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        ws.set_onclose(Some(on_close.as_ref().unchecked_ref()));
        if let Some(s) = self.0.borrow_mut().sockets.get_mut(url) {
            s.callbacks = vec![on_open, on_message, on_close];
            s.ws = Some(ws);
        }
    }

    /// A relay's connection closed: try again after its backoff (or once it is no longer
    /// dropped).
    fn closed_socket(&self, url: &str) {
        let delay = {
            let mut inner = self.0.borrow_mut();
            inner.postman.disconnected(url);
            let Some(s) = inner.sockets.get_mut(url) else {
                return;
            };
            s.ws = None;
            let wait = f64::from(s.backoff.failed());
            (s.dropped_until - js_sys::Date::now()).max(wait)
        };
        let (weak, url) = (self.weak(), url.to_owned());
        gloo_timers::callback::Timeout::new(delay.min(f64::from(u32::MAX)) as u32, move || {
            if let Some(m) = Mailbox::upgrade(&weak) {
                let idle =
                    m.0.borrow()
                        .sockets
                        .get(&url)
                        .is_some_and(|s| s.ws.is_none());
                if idle {
                    m.connect(&url);
                }
            }
        })
        .forget();
    }

    /// Carries out what the postman said.
    fn carry(&self, outs: Vec<Out>) {
        for out in outs {
            match out {
                Out::Send { relay, text } => {
                    let ws = self
                        .0
                        .borrow()
                        .sockets
                        .get(&relay)
                        .and_then(|s| s.ws.clone());
                    if let Some(ws) = ws.filter(|ws| ws.ready_state() == WebSocket::OPEN) {
                        let _ = ws.send_with_str(&text);
                    }
                }
                Out::Drop { relay, until } => {
                    super::log(&format!(
                        "tequio: relay {relay} sent garbage: dropped a while"
                    ));
                    let ws = {
                        let mut inner = self.0.borrow_mut();
                        inner.sockets.get_mut(&relay).and_then(|s| {
                            s.dropped_until = until as f64;
                            s.ws.clone()
                        })
                    };
                    // Its close handler reconnects once `until` has passed.
                    if let Some(ws) = ws {
                        let _ = ws.close();
                    }
                }
            }
        }
    }

    /// This device's new mailbox events, for every relay.
    pub fn publish(&self, plains: &[Plain]) -> Vec<String> {
        let (ids, outs) = self.0.borrow_mut().postman.publish(plains, now_ms());
        self.carry(outs);
        ids
    }

    /// Every second: what the postman says is due.
    pub fn tick(&self) {
        let outs = self.0.borrow_mut().postman.tick(now_ms());
        self.carry(outs);
    }

    /// The network came back or the device woke: relays waiting out a backoff are tried now.
    pub fn wake(&self) {
        let idle: Vec<String> = {
            let mut inner = self.0.borrow_mut();
            let now = js_sys::Date::now();
            inner
                .sockets
                .iter_mut()
                .filter(|(_, s)| s.ws.is_none() && now >= s.dropped_until)
                .map(|(url, s)| {
                    s.backoff = Backoff::new(1_000, 30_000);
                    url.clone()
                })
                .collect()
        };
        for url in idle {
            self.connect(&url);
        }
    }

    /// The room moved on to a new key.
    pub fn set_secret(&self, secret: RoomSecret) {
        let outs = self.0.borrow_mut().postman.set_secret(secret, now_ms());
        self.carry(outs);
    }

    pub fn snapshot_due(&self) -> bool {
        self.0.borrow().postman.snapshot_due(now_ms())
    }

    /// Whether each of `ids` reached at least one relay.
    pub fn reached_all(&self, ids: &[String]) -> bool {
        self.0.borrow().postman.reached_all(ids)
    }

    /// The fewest relays any of this device's events reached, and how many reached none.
    pub fn delivery(&self) -> (Option<usize>, usize) {
        let inner = self.0.borrow();
        let ledger: &Ledger = inner.postman.ledger();
        (ledger.reached(), ledger.waiting())
    }

    pub fn marks(&self) -> BTreeMap<String, RelayMark> {
        self.0.borrow().postman.marks()
    }

    pub fn status(&self) -> Vec<RelayStatus> {
        self.0.borrow().postman.status(now_ms())
    }

    /// Closes every connection.
    pub fn close(&self) {
        let sockets = {
            let mut inner = self.0.borrow_mut();
            inner.closed = true;
            std::mem::take(&mut inner.sockets)
        };
        for (_, s) in sockets {
            if let Some(ws) = s.ws {
                ws.set_onopen(None);
                ws.set_onmessage(None);
                ws.set_onclose(None);
                let _ = ws.close();
            }
        }
    }
}
