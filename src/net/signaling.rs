//! Signaling transports: a BroadcastChannel between tabs of one browser, and WebSocket
//! connections to y-webrtc signaling servers (subscribe / unsubscribe / publish / ping), which
//! reconnect on their own when a server goes away and comes back.

use super::{log, Mesh, MeshInner};
use crate::sync::MAX_SIGNAL_TEXT;
use std::cell::RefCell;
use std::rc::{Rc, Weak};
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

pub(crate) struct Socket {
    url: String,
    topic: String,
    mesh: Weak<RefCell<MeshInner>>,
    ws: Option<WebSocket>,
    callbacks: Vec<Callback>,
    retry_ms: u32,
    closed: bool,
}

impl Transport {
    pub(crate) fn publish(&self, topic: &str, text: &str) {
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
                    let msg = serde_json::json!({"type": "publish", "topic": topic, "data": text});
                    let _ = ws.send_with_str(&msg.to_string());
                }
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
                    s.retry_ms = 500;
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
                        let msg = serde_json::json!({"type": "unsubscribe", "topics": [s.topic]});
                        let _ = ws.send_with_str(&msg.to_string());
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

/// Tabs of one browser meet on a BroadcastChannel named after the room's opaque topic.
pub(crate) fn broadcast_channel(mesh: &Mesh) -> Result<Transport, String> {
    let topic = mesh.0.borrow().topic.clone();
    let channel = BroadcastChannel::new(&topic).map_err(|e| format!("{e:?}"))?;
    let weak = mesh.weak();
    let on_message: Callback = Closure::new(move |event: JsValue| {
        let data = event.unchecked_into::<MessageEvent>().data();
        match (data.as_string(), Mesh::upgrade(&weak)) {
            (Some(text), Some(mesh)) => mesh.on_signal(&text),
            (None, _) => log("tequio: non-text BroadcastChannel message dropped"),
            _ => {}
        }
    });
    channel.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    Ok(Transport::Broadcast {
        channel,
        _on_message: on_message,
    })
}

/// A y-webrtc signaling server at `url`.
pub(crate) fn websocket(mesh: &Mesh, url: String) -> Transport {
    let socket = Rc::new(RefCell::new(Socket {
        url,
        topic: mesh.0.borrow().topic.clone(),
        mesh: mesh.weak(),
        ws: None,
        callbacks: Vec::new(),
        retry_ms: 500,
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
            let mesh = {
                let mut s = socket.borrow_mut();
                s.retry_ms = 500;
                if let Some(ws) = &s.ws {
                    let msg = serde_json::json!({"type": "subscribe", "topics": [s.topic]});
                    let _ = ws.send_with_str(&msg.to_string());
                }
                s.mesh.clone()
            };
            if let Some(mesh) = Mesh::upgrade(&mesh) {
                mesh.announce(None);
            }
        }
    });
    let on_message: Callback = Closure::new({
        let weak_socket = weak_socket.clone();
        move |event: JsValue| {
            let Some(socket) = weak_socket.upgrade() else {
                return;
            };
            let Some(text) = event.unchecked_into::<MessageEvent>().data().as_string() else {
                return log("tequio: non-text signaling message dropped");
            };
            // The envelope adds a little JSON around a capped payload; cap before parsing.
            if text.len() > MAX_SIGNAL_TEXT + 1024 {
                return log("tequio: oversized signaling message dropped");
            }
            let Ok(msg) = serde_json::from_str::<serde_json::Value>(&text) else {
                return log("tequio: signaling message that is not JSON dropped");
            };
            let (topic, mesh) = {
                let s = socket.borrow();
                (s.topic.clone(), s.mesh.clone())
            };
            if msg["type"] == "publish" && msg["topic"] == topic.as_str() {
                if let (Some(data), Some(mesh)) = (msg["data"].as_str(), Mesh::upgrade(&mesh)) {
                    mesh.on_signal(data);
                }
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
            let delay = s.retry_ms;
            s.retry_ms = (s.retry_ms * 2).min(3_000);
            delay
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

/// Keeps the connection alive as the y-webrtc protocol expects.
fn schedule_ping(socket: &Rc<RefCell<Socket>>) {
    let weak = Rc::downgrade(socket);
    gloo_timers::callback::Timeout::new(20_000, move || {
        let Some(socket) = weak.upgrade() else { return };
        let s = socket.borrow();
        if s.closed {
            return;
        }
        if let Some(ws) =
            s.ws.as_ref()
                .filter(|ws| ws.ready_state() == WebSocket::OPEN)
        {
            let _ = ws.send_with_str(r#"{"type":"ping"}"#);
        }
        drop(s);
        schedule_ping(&socket);
    })
    .forget();
}
