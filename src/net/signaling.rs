//! Signaling transports: a BroadcastChannel between tabs of one browser, and WebSocket
//! connections to y-webrtc signaling servers (subscribe / unsubscribe / publish / ping) and to
//! Nostr relays (ephemeral events, see `sync::nostr`), which reconnect on their own with
//! backoff when a server goes away and comes back.

use super::{log, Report, Reporter};
use crate::sync::nostr::{self, NostrKey, RelayMessage};
use crate::sync::topic::Topic;
use crate::sync::{Backoff, MAX_SIGNAL_TEXT};
use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{BroadcastChannel, MessageEvent, WebSocket};

type Callback = Closure<dyn FnMut(JsValue)>;

pub(crate) enum Transport {
    Broadcast {
        channel: BroadcastChannel,
        _on_message: Callback,
    },
    Socket(Rc<RefCell<Socket>>),
}

/// The protocol spoken over a WebSocket.
pub(crate) enum Protocol {
    YWebrtc,
    /// A Nostr relay: events signed with this visit's throwaway key, read on one subscription.
    Nostr {
        key: Rc<NostrKey>,
        subscription: String,
    },
}

pub(crate) struct Socket {
    url: String,
    protocol: Protocol,
    /// The topics listened on (they change daily: see `sync::topic`).
    topics: Vec<Topic>,
    /// Where it reports signals and reconnections (the mesh).
    report: Reporter,
    ws: Option<WebSocket>,
    callbacks: Vec<Callback>,
    backoff: Backoff,
    closed: bool,
}

/// The message (re)subscribing to `topics`; for y-webrtc, first leaving `old` ones.
fn subscription(protocol: &Protocol, topics: &[Topic], old: &[Topic]) -> Vec<String> {
    match protocol {
        Protocol::YWebrtc => {
            let names = |ts: &[Topic]| ts.iter().map(|t| t.name.clone()).collect::<Vec<_>>();
            let mut out = Vec::new();
            let gone: Vec<Topic> = old
                .iter()
                .filter(|t| !topics.contains(t))
                .cloned()
                .collect();
            if !gone.is_empty() {
                out.push(
                    serde_json::json!({"type": "unsubscribe", "topics": names(&gone)}).to_string(),
                );
            }
            out.push(serde_json::json!({"type": "subscribe", "topics": names(topics)}).to_string());
            out
        }
        Protocol::Nostr { subscription, .. } => {
            let now = (js_sys::Date::now() / 1000.0) as u64;
            // A minute back: the relay's clock may be behind this one. A REQ with the same
            // subscription id replaces the one before (NIP-01).
            vec![nostr::subscribe(
                subscription,
                topics,
                now.saturating_sub(60),
            )]
        }
    }
}

impl Transport {
    /// Listens on `topics` from now on (the day's topic changed).
    pub(crate) fn listen(&self, topics: &[Topic]) {
        if let Transport::Socket(socket) = self {
            let mut s = socket.borrow_mut();
            if s.topics == topics {
                return;
            }
            let old = std::mem::replace(&mut s.topics, topics.to_vec());
            if let Some(ws) =
                s.ws.as_ref()
                    .filter(|ws| ws.ready_state() == WebSocket::OPEN)
            {
                for msg in subscription(&s.protocol, topics, &old) {
                    let _ = ws.send_with_str(&msg);
                }
            }
        }
    }

    pub(crate) fn publish(&self, topic: &Topic, text: &str) {
        match self {
            Transport::Broadcast { channel, .. } => {
                let _ = channel.post_message(&JsValue::from_str(text));
            }
            Transport::Socket(socket) => {
                let socket = socket.borrow();
                if let Some(ws) = socket
                    .ws
                    .as_ref()
                    .filter(|ws| ws.ready_state() == WebSocket::OPEN)
                {
                    let msg = match &socket.protocol {
                        Protocol::YWebrtc => serde_json::json!(
                            {"type": "publish", "topic": topic.name, "data": text}
                        )
                        .to_string(),
                        Protocol::Nostr { key, .. } => {
                            let now = (js_sys::Date::now() / 1000.0) as u64;
                            key.event(topic, text, now)
                        }
                    };
                    let _ = ws.send_with_str(&msg);
                }
            }
        }
    }

    /// Which server this is and whether it is down (failed since it last worked); none for
    /// the BroadcastChannel.
    pub(crate) fn status(&self) -> Option<TransportStatus> {
        match self {
            Transport::Broadcast { .. } => None,
            Transport::Socket(socket) => {
                let s = socket.borrow();
                Some(TransportStatus {
                    url: s.url.clone(),
                    nostr: matches!(s.protocol, Protocol::Nostr { .. }),
                    up: s
                        .ws
                        .as_ref()
                        .is_some_and(|ws| ws.ready_state() == WebSocket::OPEN),
                    failures: s.backoff.failures,
                })
            }
        }
    }

    /// The device woke up or came back online: a server connection waiting out its backoff is
    /// tried again now.
    pub(crate) fn wake(&self) {
        if let Transport::Socket(socket) = self {
            let idle = {
                let mut s = socket.borrow_mut();
                if s.closed || s.ws.is_some() {
                    false
                } else {
                    s.backoff = server_backoff();
                    true
                }
            };
            if idle {
                connect(socket);
            }
        }
    }

    pub(crate) fn close(self) {
        match self {
            Transport::Broadcast { channel, .. } => {
                channel.set_onmessage(None);
                channel.close();
            }
            Transport::Socket(socket) => {
                let mut s = socket.borrow_mut();
                s.closed = true;
                if let Some(ws) = s.ws.take() {
                    if ws.ready_state() == WebSocket::OPEN {
                        let msg = match &s.protocol {
                            Protocol::YWebrtc => {
                                let names: Vec<&str> =
                                    s.topics.iter().map(|t| t.name.as_str()).collect();
                                serde_json::json!({"type": "unsubscribe", "topics": names})
                                    .to_string()
                            }
                            Protocol::Nostr { subscription, .. } => {
                                nostr::unsubscribe(subscription)
                            }
                        };
                        let _ = ws.send_with_str(&msg);
                    }
                    ws.set_onopen(None);
                    ws.set_onmessage(None);
                    ws.set_onclose(None);
                    ws.set_onerror(None);
                    let _ = ws.close();
                }
            }
        }
    }
}

/// A message's text, if it is text of at most `max` bytes: its length is read before the
/// text is copied into wasm (a JavaScript string of more UTF-16 units than `max` is more
/// than `max` bytes too).
pub(crate) fn text_within(data: &JsValue, max: usize) -> Result<String, &'static str> {
    let text = data
        .dyn_ref::<js_sys::JsString>()
        .ok_or("tequio: non-text message dropped")?;
    if text.length() as usize > max {
        return Err("tequio: oversized message dropped unread");
    }
    let text = String::from(text);
    if text.len() > max {
        return Err("tequio: oversized message dropped");
    }
    Ok(text)
}

/// Tabs of one browser meet on a BroadcastChannel named after the room's opaque (fixed)
/// topic: it never leaves the browser.
pub(crate) fn broadcast_channel(topic: &str, report: Reporter) -> Result<Transport, String> {
    let channel = BroadcastChannel::new(topic).map_err(|e| format!("{e:?}"))?;
    let on_message: Callback = Closure::new(move |event: JsValue| {
        let data = event.unchecked_into::<MessageEvent>().data();
        match text_within(&data, MAX_SIGNAL_TEXT) {
            Ok(text) => report(Report::Signal {
                text,
                hops: 0,
                via: None,
            }),
            Err(why) => log(why),
        }
    });
    channel.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    Ok(Transport::Broadcast {
        channel,
        _on_message: on_message,
    })
}

/// Retries of a server that went away: from half a second, doubling up to 8 s.
fn server_backoff() -> Backoff {
    Backoff::new(500, 8_000)
}

/// What the settings show of a signaling server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransportStatus {
    pub url: String,
    pub nostr: bool,
    pub up: bool,
    /// Connection attempts failed in a row.
    pub failures: u32,
}

/// A y-webrtc signaling server or a Nostr relay at `url`.
pub(crate) fn websocket(
    url: String,
    protocol: Protocol,
    topics: Vec<Topic>,
    report: Reporter,
) -> Transport {
    let socket = Rc::new(RefCell::new(Socket {
        url,
        protocol,
        topics,
        report,
        ws: None,
        callbacks: Vec::new(),
        backoff: server_backoff(),
        closed: false,
    }));
    connect(&socket);
    schedule_ping(&socket);
    Transport::Socket(socket)
}

fn connect(socket: &Rc<RefCell<Socket>>) {
    let url = socket.borrow().url.clone();
    let ws = match WebSocket::new(&url) {
        Ok(ws) => ws,
        Err(e) => {
            log(&format!("tequio: signaling server {url} refused: {e:?}"));
            return;
        }
    };
    let weak_socket = Rc::downgrade(socket);
    let on_open: Callback = Closure::new({
        let weak_socket = weak_socket.clone();
        move |_| {
            let Some(socket) = weak_socket.upgrade() else {
                return;
            };
            let report = {
                let mut s = socket.borrow_mut();
                s.backoff.succeeded();
                if let Some(ws) = &s.ws {
                    for msg in subscription(&s.protocol, &s.topics, &[]) {
                        let _ = ws.send_with_str(&msg);
                    }
                }
                s.report.clone()
            };
            report(Report::ServerUp);
        }
    });
    let on_message: Callback = Closure::new({
        let weak_socket = weak_socket.clone();
        move |event: JsValue| {
            let Some(socket) = weak_socket.upgrade() else {
                return;
            };
            // The envelope adds a little JSON around a capped payload; capped before it is
            // copied, let alone parsed.
            let data = event.unchecked_into::<MessageEvent>().data();
            let text = match text_within(&data, nostr::MAX_RELAY_MESSAGE) {
                Ok(text) => text,
                Err(why) => return log(why),
            };
            let s = socket.borrow();
            let data = match &s.protocol {
                Protocol::YWebrtc => {
                    let Ok(msg) = serde_json::from_str::<serde_json::Value>(&text) else {
                        return log("tequio: signaling message that is not JSON dropped");
                    };
                    match (&msg["type"], msg["topic"].as_str(), msg["data"].as_str()) {
                        (t, Some(topic), Some(data))
                            if t == "publish" && s.topics.iter().any(|x| x.name == topic) =>
                        {
                            Some(data.to_owned())
                        }
                        _ => None,
                    }
                }
                Protocol::Nostr { subscription, .. } => {
                    match nostr::read(&text, subscription, &s.topics) {
                        Some(RelayMessage::Signal(data)) => Some(data),
                        Some(RelayMessage::Refused(why)) => {
                            log(&format!("tequio: relay {} refused: {why}", s.url));
                            None
                        }
                        _ => None,
                    }
                }
            };
            let report = s.report.clone();
            drop(s);
            if let Some(text) = data {
                report(Report::Signal {
                    text,
                    hops: 0,
                    via: None,
                });
            }
        }
    });
    let on_close: Callback = Closure::new(move |_| {
        let Some(socket) = weak_socket.upgrade() else {
            return;
        };
        let delay = {
            let mut s = socket.borrow_mut();
            if s.closed {
                return;
            }
            s.ws = None;
            s.backoff.failed()
        };
        let weak = Rc::downgrade(&socket);
        gloo_timers::callback::Timeout::new(delay, move || {
            if let Some(socket) = weak.upgrade() {
                // Not if closed, nor if a wake-up (see `Transport::wake`) reconnected already.
                let idle = {
                    let s = socket.borrow();
                    !s.closed && s.ws.is_none()
                };
                if idle {
                    connect(&socket);
                }
            }
        })
        .forget();
    });
    ws.set_onopen(Some(on_open.as_ref().unchecked_ref()));
    ws.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    ws.set_onclose(Some(on_close.as_ref().unchecked_ref()));
    let mut s = socket.borrow_mut();
    s.callbacks = vec![on_open, on_message, on_close];
    s.ws = Some(ws);
}

/// Keeps the connection alive as the y-webrtc protocol expects (Nostr relays have no ping:
/// the periodic announcements keep those connections busy).
fn schedule_ping(socket: &Rc<RefCell<Socket>>) {
    let weak = Rc::downgrade(socket);
    gloo_timers::callback::Timeout::new(20_000, move || {
        let Some(socket) = weak.upgrade() else { return };
        let s = socket.borrow();
        if s.closed {
            return;
        }
        if let Some(ws) = s.ws.as_ref().filter(|ws| {
            ws.ready_state() == WebSocket::OPEN && matches!(s.protocol, Protocol::YWebrtc)
        }) {
            let _ = ws.send_with_str(r#"{"type":"ping"}"#);
        }
        drop(s);
        schedule_ping(&socket);
    })
    .forget();
}
