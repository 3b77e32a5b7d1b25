//! One RTCPeerConnection with one ordered, reliable data channel.

use super::{log, NetConfig, Report, Reporter};
use crate::replica::Sent;
use crate::sync::{
    compact_sdp, read_channel_signal, SignalBody, CHANNEL_DATA, CHANNEL_SIGNAL, MAX_CHANNEL_MESSAGE,
};
use js_sys::{Array, Reflect, Uint8Array};
use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::{spawn_local, JsFuture};
use web_sys::{
    MessageEvent, RtcConfiguration, RtcDataChannel, RtcDataChannelEvent, RtcDataChannelState,
    RtcDataChannelType, RtcIceGatheringState, RtcPeerConnection, RtcPeerConnectionState,
    RtcSdpType, RtcSessionDescriptionInit,
};

type Callback = Closure<dyn FnMut(JsValue)>;
const CONNECT_TIMEOUT_MS: u32 = 10_000;
/// How long a connection may stay disconnected before ICE is restarted.
const RESTART_GRACE_MS: u32 = 1_000;
/// How long an ICE restart may take before the connection is rebuilt instead.
const RESTART_TIMEOUT_MS: u32 = 3_000;
/// A pairing by hand waits this long for the other device's code.
const MANUAL_TIMEOUT_MS: u32 = 15 * 60_000;

struct LinkInner {
    /// The remote device's mesh id (for a pairing by hand, a placeholder until the answer
    /// names it: see `Mesh::pair`).
    remote: String,
    /// Set for a pairing by hand: the offer or answer goes to this callback (to be shown as a
    /// code), not to the signaling transports.
    manual: Option<Rc<dyn Fn(String)>>,
    pc: RtcPeerConnection,
    channel: Option<RtcDataChannel>,
    /// The channel's flow-controlled sender (see `outbox.rs`).
    outbox: Option<super::outbox::Outbox>,
    callbacks: Vec<Callback>,
    /// When anything last arrived from the peer (ms since the epoch): see `sync::discovery`.
    last_heard: f64,
    /// Whether the owner was told this peer connected (its channel opened).
    connected: bool,
    /// This side made the offer, so it is the one to restart ICE.
    offered: bool,
    /// When the connection was started (ms since the epoch).
    started: f64,
    /// An ICE restart is under way (the keep-alive allows it more silence).
    restarting: bool,
    /// Closed: its timers do nothing any more.
    closed: bool,
    /// Where it reports what happens to it (the mesh): it never calls into the mesh.
    report: Reporter,
}

/// A connection to one remote device.
#[derive(Clone)]
pub(crate) struct PeerLink(Rc<RefCell<LinkInner>>);

thread_local! {
    /// A connection could not be made once already (said once: the mesh keeps trying).
    static WARNED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Says once per page that no peer connection can be made, and why.
fn cannot_connect(e: &JsValue) {
    if !WARNED.with(|w| w.replace(true)) {
        log(&format!(
            "tequio: cannot create a peer connection (direct connections are off; the \
             relays' mailbox still carries the room): {e:?}"
        ));
    }
}

fn new_connection(net: &NetConfig) -> Result<RtcPeerConnection, JsValue> {
    // Without WebRTC (WebKitGTK, WebRTC switched off) nothing is constructed: no exception.
    if !super::webrtc_available() {
        return Err(JsValue::from_str("this browser has no RTCPeerConnection"));
    }
    let config = RtcConfiguration::new();
    let servers = Array::new();
    if net.relay_only {
        config.set_ice_transport_policy(web_sys::RtcIceTransportPolicy::Relay);
    }
    for url in &net.ice_servers {
        let server = js_sys::Object::new();
        Reflect::set(&server, &"urls".into(), &url.as_str().into())?;
        if url.starts_with("turn") && !net.turn_username.is_empty() {
            Reflect::set(
                &server,
                &"username".into(),
                &net.turn_username.as_str().into(),
            )?;
            Reflect::set(
                &server,
                &"credential".into(),
                &net.turn_credential.as_str().into(),
            )?;
        }
        servers.push(&server);
    }
    config.set_ice_servers(&servers);
    RtcPeerConnection::new_with_configuration(&config)
}

impl PeerLink {
    fn new(config: &NetConfig, remote: &str, report: Reporter) -> Result<Self, JsValue> {
        let pc = new_connection(config)?;
        let link = PeerLink(Rc::new(RefCell::new(LinkInner {
            remote: remote.to_owned(),
            manual: None,
            pc: pc.clone(),
            channel: None,
            outbox: None,
            callbacks: Vec::new(),
            last_heard: js_sys::Date::now(),
            connected: false,
            offered: false,
            restarting: false,
            started: js_sys::Date::now(),
            closed: false,
            report,
        })));
        let me = Rc::downgrade(&link.0);
        let pc2 = pc.clone();
        link.on(
            |cb| pc.set_onconnectionstatechange(Some(cb)),
            move |_| {
                let Some(l) = me.upgrade() else {
                    return;
                };
                let link = PeerLink(l);
                match pc2.connection_state() {
                    // The path was lost (a network change, a phone waking up): the offering
                    // side restarts ICE on the same connection, keeping its channel.
                    RtcPeerConnectionState::Disconnected => link.restart_soon(),
                    RtcPeerConnectionState::Connected => link.0.borrow_mut().restarting = false,
                    // Failed or closed: a new connection is built from the next announcement.
                    RtcPeerConnectionState::Failed | RtcPeerConnectionState::Closed => {
                        link.tell(Report::Lost(link.clone()))
                    }
                    _ => {}
                }
            },
        );
        Ok(link)
    }

    /// After a moment's grace (the path often comes back by itself), restarts ICE if the
    /// connection is still disconnected and this side made the offer.
    fn restart_soon(&self) {
        if !self.0.borrow().offered {
            return;
        }
        self.later(RESTART_GRACE_MS, |link| {
            let pc = link.0.borrow().pc.clone();
            if pc.connection_state() != RtcPeerConnectionState::Disconnected
                || link.0.borrow().restarting
            {
                return;
            }
            link.0.borrow_mut().restarting = true;
            log("tequio: connection lost its path; restarting ICE");
            link.rebuild_unless_connected(RESTART_TIMEOUT_MS);
            spawn_local(async move {
                let result = async {
                    let restart: js_sys::Function =
                        Reflect::get(&pc, &"restartIce".into())?.dyn_into()?;
                    restart.call0(&pc)?;
                    let offer = JsFuture::from(pc.create_offer()).await?;
                    publish_description(&link, RtcSdpType::Offer, offer, true).await
                }
                .await;
                give_up_on_error(result, &link, "ICE restart");
            });
        });
    }

    /// Tells the mesh (outside any borrow of the link).
    fn tell(&self, report: Report) {
        let reporter = self.0.borrow().report.clone();
        reporter(report);
    }

    /// Runs `f` after `ms` if the link still exists and is not closed.
    fn later(&self, ms: u32, f: impl FnOnce(PeerLink) + 'static) {
        let link = Rc::downgrade(&self.0);
        gloo_timers::callback::Timeout::new(ms, move || {
            if let Some(link) = link.upgrade().filter(|l| !l.borrow().closed) {
                f(PeerLink(link));
            }
        })
        .forget();
    }

    /// Gives up on a restart that has not brought the connection back in time (the peer may be
    /// gone): the link is dropped, and a new one is built if the peer is still announced.
    fn rebuild_unless_connected(&self, after_ms: u32) {
        self.later(after_ms, |link| {
            let pc = link.0.borrow().pc.clone();
            if pc.connection_state() != RtcPeerConnectionState::Connected {
                link.0.borrow_mut().restarting = false;
                link.tell(Report::Lost(link.clone()));
            }
        });
    }

    /// Answers an ICE restart offer on this existing connection.
    pub(crate) fn answer_restart(&self, offer_sdp: String) {
        let link = self.clone();
        self.0.borrow_mut().restarting = true;
        spawn_local(async move {
            let result = answer_offer(&link, &offer_sdp).await;
            link.0.borrow_mut().restarting = false;
            give_up_on_error(result, &link, "ICE restart answer");
        });
    }

    /// Whether this device's offer went out over `ms` ago and no answer has come back (the
    /// offer or the answer was lost): the connection cannot open. (One answered but not open
    /// is left to its timeout, which reports the peer unreachable.)
    pub(crate) fn stalled(&self, now: f64, ms: f64) -> bool {
        let inner = self.0.borrow();
        inner.offered
            && now - inner.started > ms
            && inner.pc.remote_description().is_none()
            && !self.is_open()
    }

    pub(crate) fn is_restarting(&self) -> bool {
        self.0.borrow().restarting
    }

    /// Gives up on a connection that has not opened in time (an offer or answer lost while a
    /// signaling server was away), so the next announcement can start afresh.
    fn expire_unless_open(&self, after_ms: u32) {
        self.later(after_ms, |link| {
            if !link.is_open() {
                link.tell(Report::Unreachable(link.clone()));
            }
        });
    }

    /// The remote device's mesh id.
    pub(crate) fn remote(&self) -> String {
        self.0.borrow().remote.clone()
    }

    /// Names the remote device of a pairing by hand once its answer arrives.
    pub(crate) fn set_remote(&self, remote: &str) {
        self.0.borrow_mut().remote = remote.to_owned();
    }

    pub(crate) fn is_manual(&self) -> bool {
        self.0.borrow().manual.is_some()
    }

    /// For a pairing by hand: where its offer or answer goes (to be shown as a code).
    pub(crate) fn manual(&self) -> Option<Rc<dyn Fn(String)>> {
        self.0.borrow().manual.clone()
    }

    pub(crate) fn same(&self, other: &PeerLink) -> bool {
        Rc::ptr_eq(&self.0, &other.0)
    }

    fn on(&self, install: impl FnOnce(&js_sys::Function), f: impl FnMut(JsValue) + 'static) {
        let cb: Callback = Closure::new(f);
        install(cb.as_ref().unchecked_ref());
        self.0.borrow_mut().callbacks.push(cb);
    }

    fn attach_channel(&self, channel: RtcDataChannel) {
        channel.set_binary_type(RtcDataChannelType::Arraybuffer);
        let ch = channel.clone();
        let link = Rc::downgrade(&self.0);
        self.on(|cb| ch.set_onopen(Some(cb)), {
            let link = link.clone();
            move |_| {
                let Some(l) = link.upgrade() else {
                    return;
                };
                {
                    let mut l = l.borrow_mut();
                    l.last_heard = js_sys::Date::now();
                    l.connected = true;
                    // A pairing by hand is done: later offers (ICE restarts) go by signaling.
                    l.manual = None;
                }
                let link = PeerLink(l);
                link.tell(Report::Opened(link.clone()));
            }
        });
        self.on(|cb| ch.set_onmessage(Some(cb)), {
            let link = link.clone();
            move |event: JsValue| {
                let Some(l) = link.upgrade() else {
                    return;
                };
                l.borrow_mut().last_heard = js_sys::Date::now();
                let link = PeerLink(l);
                // The remote id is read when a message comes: a pairing by hand learns it late.
                let id = link.remote();
                let data = event.unchecked_into::<MessageEvent>().data();
                match data.dyn_into::<js_sys::ArrayBuffer>() {
                    // An empty message is a keep-alive: it only says the peer is there.
                    Ok(buffer) if buffer.byte_length() == 0 => {}
                    // Sized before a byte is copied into wasm.
                    Ok(buffer) if buffer.byte_length() as usize > MAX_CHANNEL_MESSAGE => {
                        log(&format!(
                            "tequio: data-channel message of {} bytes dropped unread",
                            buffer.byte_length()
                        ))
                    }
                    Ok(buffer) => {
                        // Sizes are checked (by the sync layer, or here for signals) before
                        // anything is decoded.
                        let mut bytes = Uint8Array::new(&buffer).to_vec();
                        match bytes[0] {
                            CHANNEL_DATA => {
                                bytes.remove(0);
                                link.tell(Report::Data(id, bytes));
                            }
                            CHANNEL_SIGNAL => match read_channel_signal(&bytes[1..]) {
                                Some((hops, text)) => link.tell(Report::Signal {
                                    text: text.to_owned(),
                                    hops,
                                    via: Some(id),
                                }),
                                None => log("tequio: malformed signal from a peer dropped"),
                            },
                            other => {
                                log(&format!("tequio: message of unknown kind {other} dropped"))
                            }
                        }
                    }
                    Err(_) => log("tequio: non-binary data-channel message dropped"),
                }
            }
        });
        self.on(
            |cb| ch.set_onclose(Some(cb)),
            move |_| {
                if let Some(l) = link.upgrade() {
                    let link = PeerLink(l);
                    link.tell(Report::Lost(link.clone()));
                }
            },
        );
        let mut inner = self.0.borrow_mut();
        inner.outbox = Some(super::outbox::Outbox::new(channel.clone()));
        inner.channel = Some(channel);
    }

    /// Starts a connection as the offering side (the mesh keeps it). With `manual`, the offer
    /// goes to it (to be shown as a pairing code) instead of the signaling transports.
    pub(crate) fn offer(
        config: &NetConfig,
        remote: String,
        manual: Option<Rc<dyn Fn(String)>>,
        report: Reporter,
    ) -> Option<PeerLink> {
        let link = match PeerLink::new(config, &remote, report) {
            Ok(l) => l,
            Err(e) => {
                cannot_connect(&e);
                return None;
            }
        };
        let timeout = if manual.is_some() {
            MANUAL_TIMEOUT_MS
        } else {
            CONNECT_TIMEOUT_MS
        };
        {
            let mut l = link.0.borrow_mut();
            l.manual = manual;
            l.offered = true;
        }
        let pc = link.0.borrow().pc.clone();
        let channel = pc.create_data_channel("tequio");
        link.attach_channel(channel);
        link.expire_unless_open(timeout);
        let made = link.clone();
        spawn_local(async move {
            let result = async {
                let offer = JsFuture::from(pc.create_offer()).await?;
                publish_description(&link, RtcSdpType::Offer, offer, false).await
            }
            .await;
            give_up_on_error(result, &link, "offer");
        });
        Some(made)
    }

    /// Answers a remote offer (the mesh keeps the link; with `manual`, the answer goes to it:
    /// see [`PeerLink::offer`]).
    pub(crate) fn answer(
        config: &NetConfig,
        remote: String,
        offer_sdp: String,
        manual: Option<Rc<dyn Fn(String)>>,
        report: Reporter,
    ) -> Option<PeerLink> {
        let link = match PeerLink::new(config, &remote, report) {
            Ok(l) => l,
            Err(e) => {
                cannot_connect(&e);
                return None;
            }
        };
        let timeout = if manual.is_some() {
            MANUAL_TIMEOUT_MS
        } else {
            CONNECT_TIMEOUT_MS
        };
        link.0.borrow_mut().manual = manual;
        let pc = link.0.borrow().pc.clone();
        {
            let me = Rc::downgrade(&link.0);
            link.on(
                |cb| pc.set_ondatachannel(Some(cb)),
                move |event: JsValue| {
                    let channel = event.unchecked_into::<RtcDataChannelEvent>().channel();
                    if let Some(l) = me.upgrade() {
                        PeerLink(l).attach_channel(channel);
                    }
                },
            );
        }
        link.expire_unless_open(timeout);
        let made = link.clone();
        spawn_local(async move {
            let result = answer_offer(&link, &offer_sdp).await;
            give_up_on_error(result, &link, "answer");
        });
        Some(made)
    }

    /// Completes an offer with the remote answer.
    pub(crate) fn accept_answer(&self, sdp: String) {
        let pc = self.0.borrow().pc.clone();
        let link = self.clone();
        spawn_local(async move {
            let init = RtcSessionDescriptionInit::new(RtcSdpType::Answer);
            init.set_sdp(&sdp);
            if let Err(e) = JsFuture::from(pc.set_remote_description(&init)).await {
                log(&format!("tequio: bad answer dropped: {e:?}"));
            }
            link.0.borrow_mut().restarting = false;
        });
    }

    pub(crate) fn was_connected(&self) -> bool {
        self.0.borrow().connected
    }

    /// Milliseconds since anything arrived from the peer.
    pub(crate) fn silent_for(&self, now: f64) -> f64 {
        now - self.0.borrow().last_heard
    }

    pub(crate) fn is_open(&self) -> bool {
        self.0
            .borrow()
            .channel
            .as_ref()
            .is_some_and(|c| c.ready_state() == RtcDataChannelState::Open)
    }

    pub(crate) fn send(&self, bytes: &[u8]) -> Sent {
        let inner = self.0.borrow();
        match inner.outbox.as_ref() {
            Some(o) => o.send(bytes),
            None => Sent::Closed,
        }
    }

    /// Bytes sent that have not gone on the wire yet (see `outbox::Outbox::unsent`).
    pub(crate) fn unsent(&self) -> usize {
        self.0.borrow().outbox.as_ref().map_or(0, |o| o.unsent())
    }

    pub(crate) fn close(&self) {
        self.0.borrow_mut().closed = true;
        let inner = self.0.borrow();
        inner.pc.set_onconnectionstatechange(None);
        inner.pc.set_ondatachannel(None);
        if let Some(o) = &inner.outbox {
            o.close();
        }
        if let Some(c) = &inner.channel {
            c.set_onopen(None);
            c.set_onmessage(None);
            c.set_onclose(None);
            c.close();
        }
        inner.pc.close();
    }
}

/// Sets a created offer or answer as the local description, waits for its candidates, and
/// hands it to the mesh for the remote peer (as a signal, or a pairing code).
async fn publish_description(
    link: &PeerLink,
    kind: RtcSdpType,
    created: JsValue,
    restart: bool,
) -> Result<(), JsValue> {
    let pc = link.0.borrow().pc.clone();
    let sdp = Reflect::get(&created, &"sdp".into())?
        .as_string()
        .unwrap_or_default();
    let init = RtcSessionDescriptionInit::new(kind);
    init.set_sdp(&sdp);
    JsFuture::from(pc.set_local_description(&init)).await?;
    let mut sdp = gathered_sdp(link).await?;
    if link.is_manual() {
        sdp = compact_sdp(&sdp);
    }
    let body = match kind {
        RtcSdpType::Offer => SignalBody::Offer { sdp, restart },
        _ => SignalBody::Answer { sdp },
    };
    if !link.0.borrow().closed {
        link.tell(Report::Describe {
            link: link.clone(),
            body,
        });
    }
    Ok(())
}

/// Sets a remote offer on the link's connection, then makes and sends the answer.
async fn answer_offer(link: &PeerLink, offer_sdp: &str) -> Result<(), JsValue> {
    let pc = link.0.borrow().pc.clone();
    let init = RtcSessionDescriptionInit::new(RtcSdpType::Offer);
    init.set_sdp(offer_sdp);
    JsFuture::from(pc.set_remote_description(&init)).await?;
    let answer = JsFuture::from(pc.create_answer()).await?;
    publish_description(link, RtcSdpType::Answer, answer, false).await
}

/// A failed negotiation drops the connection; the next announcement starts a new one.
fn give_up_on_error(result: Result<(), JsValue>, link: &PeerLink, what: &str) {
    if let Err(e) = result {
        log(&format!("tequio: {what} failed: {e:?}"));
        if !link.0.borrow().closed {
            link.tell(Report::Failed(link.clone()));
        }
    }
}

/// Waits (bounded) for ICE gathering to finish, then returns the local SDP with every candidate,
/// so one offer and one answer suffice.
async fn gathered_sdp(link: &PeerLink) -> Result<String, JsValue> {
    let pc = link.0.borrow().pc.clone();
    for _ in 0..100 {
        if pc.ice_gathering_state() == RtcIceGatheringState::Complete {
            break;
        }
        gloo_timers::future::TimeoutFuture::new(20).await;
    }
    pc.local_description()
        .map(|d| d.sdp())
        .ok_or_else(|| JsValue::from_str("no local description"))
}
