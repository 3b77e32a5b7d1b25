//! WebRTC peer connections and signaling transports (browser only).
//!
//! A [`Mesh`] joins one room: it publishes sealed [`Signal`]s on every configured transport
//! (a BroadcastChannel between tabs, y-webrtc WebSocket servers across browsers), opens one
//! RTCPeerConnection with a data channel per remote device, and reports bytes and connection
//! changes through a callback. When to say hello, whom to connect to and what a signal makes it
//! do are decided by `sync::Discovery` (pure, tested natively); the mesh carries that out. It
//! knows nothing of documents: `sync::Session` does that.

pub mod mailbox;
pub mod outbox;
mod peer;
mod signaling;

use crate::crypto::{random_id, Identity, RoomSecret};
pub use crate::sync::discovery::PairError;
use crate::sync::discovery::{Action, Discovery, PairStep, PeerView, STALLED_MS};
use crate::sync::nostr::NostrKey;
use crate::sync::topic::Topic;
use crate::sync::{channel_signal, SignalBody, CHANNEL_DATA, DEFAULT_MESH_LIMIT};
use peer::PeerLink;
pub use signaling::TransportStatus;
use signaling::{Protocol, Transport};
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::{Rc, Weak};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::JsCast;

/// What the mesh tells its owner.
pub enum NetEvent {
    /// A data channel to this peer opened: start a sync session. With the member whose key
    /// signed for the peer's device, if its signals said so.
    Connected(String, Option<String>),
    /// The peer went away: drop its session.
    Disconnected(String),
    /// Bytes arrived from the peer (not yet checked in any way).
    Data(String, Vec<u8>),
    /// A device of the room was found but no direct connection to it could be made in time.
    Unreachable(String),
    /// The device came back (woke up, network back): sync sessions should resend what may
    /// have been lost meanwhile.
    Woke,
    /// A device said the room's key this mesh speaks was replaced (see
    /// `sync::SignalBody::Replaced`).
    Replaced,
}

/// Where to find peers and how to reach them.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
pub struct NetConfig {
    /// Nostr relays (`ws://` or `wss://` URLs) where devices meet through ephemeral events.
    #[serde(default)]
    pub nostr: Vec<String>,
    /// y-webrtc signaling servers (`ws://` or `wss://` URLs).
    #[serde(default)]
    pub signaling: Vec<String>,
    /// STUN/TURN URLs for crossing NATs; none are needed on one machine or a LAN.
    #[serde(default)]
    pub ice_servers: Vec<String>,
    /// The user name and credential given to `turn:`/`turns:` servers.
    #[serde(default)]
    pub turn_username: String,
    #[serde(default)]
    pub turn_credential: String,
    /// Connect only through TURN relays (hides this device's addresses; needs a TURN server).
    #[serde(default)]
    pub relay_only: bool,
    /// The most peers to be connected to at once (0: the default); the others are reached
    /// through them.
    #[serde(default)]
    pub mesh_limit: usize,
}

impl NetConfig {
    /// The configuration a device starts with, best first: the person's own settings (the
    /// device setting `net`, JSON), `config.json` as fetched now, `config.json` as last fetched
    /// (kept in the device settings, so a device that starts offline still knows where to
    /// meet). `None` when there is none of them. Unreadable settings count as none.
    pub fn at_start(
        own: Option<&str>,
        fetched: Option<NetConfig>,
        kept: Option<&str>,
    ) -> Option<NetConfig> {
        let read = |text: Option<&str>| text.and_then(|t| serde_json::from_str(t).ok());
        read(own).or(fetched).or_else(|| read(kept))
    }

    /// Checks settings typed by a person: every signaling server a WebSocket URL, every ICE
    /// server a STUN or TURN URL. Returns (field, problem) for the first that is not.
    pub fn check(&self) -> Result<(), (&'static str, String)> {
        let bad_char = |u: &str| u.chars().any(|c| c.is_whitespace() || c.is_control());
        let not_ws = |u: &&String| {
            !(u.starts_with("ws://") || u.starts_with("wss://")) || bad_char(u) || u.len() < 7
        };
        if let Some(u) = self.nostr.iter().find(not_ws) {
            return Err(("nostr", format!("{u} is not a ws:// or wss:// address")));
        }
        if let Some(u) = self.signaling.iter().find(not_ws) {
            return Err(("signaling", format!("{u} is not a ws:// or wss:// address")));
        }
        if let Some(u) = self.ice_servers.iter().find(|u| {
            !["stun:", "stuns:", "turn:", "turns:"]
                .iter()
                .any(|p| u.starts_with(p))
                || bad_char(u)
        }) {
            return Err(("ice", format!("{u} is not a stun: or turn: address")));
        }
        Ok(())
    }
}

type Handler = Rc<dyn Fn(NetEvent)>;

/// What a link or a signaling transport tells its mesh. They report; the mesh decides what to
/// do (they hold no reference to it and call none of its methods).
pub(crate) enum Report {
    /// A signal arrived: over a server (`via` none), or passed on by a peer with its hops.
    Signal {
        text: String,
        hops: u8,
        via: Option<String>,
    },
    /// A server (re)connected: say hello there.
    ServerUp,
    /// The link's data channel opened.
    Opened(PeerLink),
    /// Bytes for the room from this peer.
    Data(String, Vec<u8>),
    /// The link's channel closed, its connection failed, or a restart did not bring it back:
    /// it goes, and a new one is built from the next hello.
    Lost(PeerLink),
    /// The link did not open in time.
    Unreachable(PeerLink),
    /// Making or answering its offer failed.
    Failed(PeerLink),
    /// The link's offer or answer is ready for the remote device.
    Describe { link: PeerLink, body: SignalBody },
}

/// Where links and transports report (see [`Report`]).
pub(crate) type Reporter = Rc<dyn Fn(Report)>;

/// The id a pairing by hand goes by until the other device's answer names it.
const PAIRING: &str = "pairing-";

/// What using a pairing code did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Paired {
    /// It was an offer: the answer code is being made.
    Answering,
    /// It was the answer to this device's offer: the connection is being made.
    Connecting,
    /// It was the answer to an offer made in another tab of this browser: passed to it.
    PassedOn,
    /// That device is connected already.
    Already,
}

/// Peers whose data channel is open.
fn open_peers(peers: &HashMap<String, PeerLink>) -> Vec<String> {
    peers
        .iter()
        .filter(|(_, l)| l.is_open())
        .map(|(id, _)| id.clone())
        .collect()
}

/// What discovery needs to know of each link.
fn views(peers: &HashMap<String, PeerLink>, now: f64) -> Vec<PeerView> {
    peers
        .iter()
        .map(|(id, l)| PeerView {
            id: id.clone(),
            open: l.is_open(),
            manual: l.is_manual(),
            stalled: l.stalled(now, STALLED_MS),
            restarting: l.is_restarting(),
            silent_ms: l.silent_for(now),
        })
        .collect()
}

/// How often the mesh asks its discovery what is due (see `sync::discovery`).
const TICK_MS: u32 = 500;
/// An event listener to remove when the mesh closes: (target, event, callback).
type Listener = (web_sys::EventTarget, &'static str, Closure<dyn FnMut()>);

pub(crate) struct MeshInner {
    /// When to say hello, whom to be connected to, what a signal makes this device do (pure:
    /// see `sync::discovery`); it holds this visit's device key and the member key.
    discovery: Discovery,
    /// Time elapsed since the mesh started (ms): discovery's rhythm goes by it, whatever the
    /// wall clock does. Each tick adds the time the page's monotonic clock says passed (a tab
    /// in the background runs its timers once a second or less), at least the tick's period.
    elapsed: f64,
    /// The monotonic clock at the last tick.
    ticked_at: Option<f64>,
    config: NetConfig,
    transports: Vec<Transport>,
    peers: HashMap<String, PeerLink>,
    handler: Handler,
    closed: bool,
    /// `online` and `visibilitychange` listeners (see [`Mesh::wake`]).
    wake_listeners: Vec<Listener>,
}

/// The set of connections of this device in one room.
#[derive(Clone)]
pub struct Mesh(Rc<RefCell<MeshInner>>);

fn log(text: &str) {
    web_sys::console::warn_1(&text.into());
}

thread_local! {
    static WEBRTC: std::cell::OnceCell<bool> = const { std::cell::OnceCell::new() };
}

/// Whether this browser can make direct connections to other devices: it has
/// `RTCPeerConnection` (WebKitGTK and browsers with WebRTC switched off do not). Looked at
/// once, the first time it is asked. Without it a room still travels through the relays'
/// mailbox, just not live; the mesh still signals, but makes no connections.
pub fn webrtc_available() -> bool {
    WEBRTC.with(|known| {
        *known.get_or_init(|| {
            let Some(window) = web_sys::window() else {
                return false;
            };
            // The name `web_sys` constructs (no prefixed variant).
            js_sys::Reflect::get(&window, &"RTCPeerConnection".into())
                .is_ok_and(|v| v.is_function())
        })
    })
}

impl Mesh {
    /// Starts finding peers for the room, as a device of `member` (this device's key in the
    /// room). `handler` is called outside of any internal borrow.
    pub fn join(
        secret: &RoomSecret,
        member: Identity,
        config: NetConfig,
        handler: impl Fn(NetEvent) + 'static,
    ) -> Self {
        let limit = match config.mesh_limit {
            0 => DEFAULT_MESH_LIMIT,
            n => n,
        };
        let discovery = Discovery::new(
            Identity::generate(),
            member,
            secret,
            limit,
            js_sys::Date::now(),
        );
        let inner = Rc::new(RefCell::new(MeshInner {
            discovery,
            elapsed: 0.0,
            ticked_at: None,
            config: config.clone(),
            transports: Vec::new(),
            peers: HashMap::new(),
            handler: Rc::new(handler),
            closed: false,
            wake_listeners: Vec::new(),
        }));
        let mesh = Mesh(inner);
        let report = mesh.reporter();
        let mut transports = Vec::new();
        // The BroadcastChannel's name is fixed (it never leaves the browser).
        match signaling::broadcast_channel(&secret.signaling_topic(), report.clone()) {
            Ok(t) => transports.push(t),
            Err(e) => log(&format!("tequio: no BroadcastChannel: {e}")),
        }
        let topics = mesh.topics();
        let nostr_key = Rc::new(NostrKey::generate());
        for url in &config.nostr {
            let protocol = Protocol::Nostr {
                key: nostr_key.clone(),
                subscription: random_id()[..16].to_owned(),
            };
            let transport =
                signaling::websocket(url.clone(), protocol, topics.clone(), report.clone());
            transports.push(transport);
        }
        for url in &config.signaling {
            let transport = signaling::websocket(
                url.clone(),
                Protocol::YWebrtc,
                topics.clone(),
                report.clone(),
            );
            transports.push(transport);
        }
        mesh.0.borrow_mut().transports = transports;
        mesh.listen_for_wake();
        mesh.tick();
        mesh
    }

    /// Where this mesh's links and transports report (it holds the mesh weakly: a report
    /// after the mesh closed is dropped).
    fn reporter(&self) -> Reporter {
        let weak = self.weak();
        Rc::new(move |report| {
            if let Some(mesh) = Mesh::upgrade(&weak) {
                mesh.on_report(report);
            }
        })
    }

    /// What a link or a transport reported.
    fn on_report(&self, report: Report) {
        match report {
            Report::Signal { text, hops, via } => self.on_signal(&text, hops, via.as_deref()),
            Report::ServerUp => self.announce(None),
            Report::Opened(link) => {
                let id = link.remote();
                self.deliver_parked(&id);
                let member = self.member_of(&id);
                self.emit(NetEvent::Connected(id, member));
                self.flood_soon();
            }
            Report::Data(id, bytes) => self.emit(NetEvent::Data(id, bytes)),
            Report::Lost(link) => {
                self.drop_peer_if(&link.remote(), &link);
                self.announce(None);
            }
            Report::Unreachable(link) => {
                let remote = link.remote();
                self.drop_peer_if(&remote, &link);
                self.emit(NetEvent::Unreachable(remote));
            }
            Report::Failed(link) => self.drop_peer_if(&link.remote(), &link),
            Report::Describe { link, body } => match link.manual() {
                // A pairing offer is for whoever pastes it; an answer for the device that
                // offered.
                Some(show) => {
                    let to = matches!(body, SignalBody::Answer { .. }).then(|| link.remote());
                    show(self.seal(to, body));
                }
                None => self.publish(Some(link.remote()), body),
            },
        }
    }

    /// Offers a connection to `remote` (with `manual`, as a pairing code shown there).
    fn offer(&self, remote: String, manual: Option<Rc<dyn Fn(String)>>) {
        let config = self.0.borrow().config.clone();
        if let Some(link) = PeerLink::offer(&config, remote.clone(), manual, self.reporter()) {
            self.0.borrow_mut().peers.insert(remote, link);
        }
    }

    /// Answers `remote`'s offer on a new link.
    fn answer(&self, remote: String, sdp: String, manual: Option<Rc<dyn Fn(String)>>) {
        let config = self.0.borrow().config.clone();
        let link = PeerLink::answer(&config, remote.clone(), sdp, manual, self.reporter());
        if let Some(link) = link {
            self.0.borrow_mut().peers.insert(remote, link);
        }
    }

    fn weak(&self) -> Weak<RefCell<MeshInner>> {
        Rc::downgrade(&self.0)
    }

    fn upgrade(weak: &Weak<RefCell<MeshInner>>) -> Option<Mesh> {
        weak.upgrade().map(Mesh).filter(|m| !m.0.borrow().closed)
    }

    /// Every half second: does what discovery says is due (hellos, keep-alives, silent
    /// connections let go, peers to reach or let go, the day's meeting point).
    fn tick(&self) {
        let actions = {
            let mut inner = self.0.borrow_mut();
            let now = js_sys::Date::now();
            let views = views(&inner.peers, now);
            let monotonic = web_sys::window()
                .and_then(|w| w.performance())
                .map(|p| p.now());
            let passed = match (monotonic, inner.ticked_at) {
                (Some(now), Some(before)) => (now - before).max(f64::from(TICK_MS)),
                _ => f64::from(TICK_MS),
            };
            if inner.ticked_at.is_some() {
                inner.elapsed += passed;
            }
            inner.ticked_at = monotonic.or(Some(0.0));
            let elapsed = inner.elapsed;
            inner.discovery.tick(elapsed, now, &views)
        };
        self.run(actions);
        let weak = self.weak();
        gloo_timers::callback::Timeout::new(TICK_MS, move || {
            if let Some(mesh) = Mesh::upgrade(&weak) {
                mesh.tick();
            }
        })
        .forget();
    }

    /// Does what discovery said.
    fn run(&self, actions: Vec<Action>) {
        for action in actions {
            match action {
                Action::Announce { to, through_peers } => {
                    self.publish_with(to, SignalBody::Announce, through_peers)
                }
                Action::Offer(p) => self.offer(p, None),
                Action::Answer { to, sdp } => self.answer(to, sdp, None),
                Action::AnswerRestart { to, sdp } => {
                    let link = self.0.borrow().peers.get(&to).cloned();
                    if let Some(link) = link {
                        link.answer_restart(sdp);
                    }
                }
                Action::TakeAnswer { from, sdp } => {
                    if !self.take_answer(&from, sdp) {
                        log("tequio: answer from an unknown peer dropped");
                    }
                }
                Action::Drop { peer, notify } => self.drop_peer(&peer, notify),
                Action::KeepAlive(p) => {
                    let link = self.0.borrow().peers.get(&p).cloned();
                    if let Some(link) = link {
                        let _ = link.send(&[]);
                    }
                }
                Action::TellReplaced(to) => {
                    self.publish_with(Some(to), SignalBody::Replaced, false)
                }
                Action::Replaced => self.emit(NetEvent::Replaced),
                Action::Listen(topics) => {
                    for t in &self.0.borrow().transports {
                        t.listen(&topics);
                    }
                }
            }
        }
    }

    /// A peer connected: hands it the signals kept for it (see `Router::park`).
    fn deliver_parked(&self, peer: &str) {
        let (parked, link) = {
            let mut inner = self.0.borrow_mut();
            let parked = inner
                .discovery
                .router_mut()
                .unpark(peer, js_sys::Date::now());
            (parked, inner.peers.get(peer).cloned())
        };
        if let Some(link) = link {
            for (text, hops) in parked {
                let _ = link.send(&channel_signal(hops, &text));
            }
        }
    }

    /// A new connection: soon (coalescing the connections of the next second) say hello
    /// through the peers, so the new peer learns of the others and they of it.
    fn flood_soon(&self) {
        let mut inner = self.0.borrow_mut();
        let elapsed = inner.elapsed;
        inner.discovery.connected(elapsed);
    }

    fn announce(&self, to: Option<String>) {
        self.publish(to, SignalBody::Announce);
    }

    /// Sends a signal on every transport and, when addressed (or `through_peers`), through the
    /// connected peers, which pass it on.
    fn publish(&self, to: Option<String>, body: SignalBody) {
        self.publish_with(to, body, false);
    }

    fn publish_with(&self, to: Option<String>, body: SignalBody, through_peers: bool) {
        let (text, links) = {
            let mut inner = self.0.borrow_mut();
            let inner = &mut *inner;
            let open = open_peers(&inner.peers);
            let (topic, text, via) =
                inner
                    .discovery
                    .signal(to, body, &open, through_peers, js_sys::Date::now());
            for t in &inner.transports {
                t.publish(&topic, &text);
            }
            let links: Vec<PeerLink> = via
                .iter()
                .filter_map(|p| inner.peers.get(p).cloned())
                .collect();
            (text, links)
        };
        let bytes = channel_signal(0, &text);
        for link in links {
            let _ = link.send(&bytes);
        }
    }

    /// Handles a payload that arrived on a signaling transport (`via` none) or from a
    /// connected peer (with the hops it has made).
    fn on_signal(&self, text: &str, hops: u8, via: Option<&str>) {
        let (heard, forward) = {
            let mut inner = self.0.borrow_mut();
            let inner = &mut *inner;
            let now = js_sys::Date::now();
            let views = views(&inner.peers, now);
            let heard = match inner.discovery.receive(text, hops, via, &views, now) {
                Ok(Some(heard)) => heard,
                Ok(None) => return,
                Err(e) => {
                    log(&format!("tequio: dropped a signaling message: {e}"));
                    return;
                }
            };
            let forward: Vec<PeerLink> = heard
                .forward
                .iter()
                .filter_map(|p| inner.peers.get(p).cloned())
                .collect();
            (heard, forward)
        };
        if !forward.is_empty() {
            let bytes = channel_signal(heard.hops, text);
            for link in forward {
                let _ = link.send(&bytes);
            }
        }
        self.run(heard.actions);
    }

    /// Completes this device's offer to `from` — or a pairing by hand waiting for whoever
    /// answers, which is then known as `from`. False if there is no such offer.
    fn take_answer(&self, from: &str, sdp: String) -> bool {
        let link = {
            let mut inner = self.0.borrow_mut();
            match inner.peers.get(from) {
                Some(link) => Some(link.clone()),
                None => {
                    let waiting = inner
                        .peers
                        .iter()
                        .find(|(id, l)| id.starts_with(PAIRING) && l.is_manual() && !l.is_open())
                        .map(|(id, _)| id.clone());
                    waiting
                        .and_then(|id| inner.peers.remove(&id))
                        .inspect(|link| {
                            link.set_remote(from);
                            inner.peers.insert(from.to_owned(), link.clone());
                        })
                }
            }
        };
        match link {
            Some(link) => {
                link.accept_answer(sdp);
                true
            }
            None => false,
        }
    }

    /// A pairing code: a signal from this device, sealed (and noted, so it is not handled if
    /// it comes back).
    fn seal(&self, to: Option<String>, body: SignalBody) -> String {
        self.0
            .borrow_mut()
            .discovery
            .code(to, body, js_sys::Date::now())
    }

    /// Pairing by hand, first device: makes a connection offer and gives it to `show` as a
    /// code (once its network addresses are gathered) for the other device to use.
    pub fn pair(&self, show: impl Fn(String) + 'static) {
        let placeholder = format!("{PAIRING}{}", &random_id()[..12]);
        self.offer(placeholder, Some(Rc::new(show)));
    }

    /// Pairing by hand: uses a code from the other device. An offer is answered (the answer
    /// code goes to `show`); an answer completes this device's offer — or, if the offer was
    /// made in another tab of this browser, is passed to it.
    pub fn use_code(
        &self,
        code: &str,
        show: impl Fn(String) + 'static,
    ) -> Result<Paired, PairError> {
        let step = {
            let inner = self.0.borrow();
            let open = open_peers(&inner.peers);
            inner.discovery.use_code(code, &open, js_sys::Date::now())?
        };
        match step {
            PairStep::Already => Ok(Paired::Already),
            PairStep::Answer { from, sdp } => {
                self.drop_peer(&from, false);
                self.answer(from, sdp, Some(Rc::new(show)));
                Ok(Paired::Answering)
            }
            PairStep::PassOn => {
                let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
                let inner = self.0.borrow();
                let topic = crate::sync::topic::speaking(
                    inner.discovery.secret(),
                    js_sys::Date::now() as i64,
                );
                for t in &inner.transports {
                    t.publish(&topic, &code);
                }
                Ok(Paired::PassedOn)
            }
            PairStep::TakeAnswer { from, sdp } => {
                if self.take_answer(&from, sdp) {
                    Ok(Paired::Connecting)
                } else {
                    Err(PairError::Expired)
                }
            }
        }
    }

    fn emit(&self, event: NetEvent) {
        let handler = self.0.borrow().handler.clone();
        handler(event);
    }

    /// Forgets a peer (connection failed or closed); tells the owner if it had been told the
    /// peer connected. (Not "if the channel is open": a channel that closed on its own is
    /// already closed by the time it is dropped, and its peer must still be reported gone.)
    fn drop_peer(&self, id: &str, notify: bool) {
        let link = {
            let mut inner = self.0.borrow_mut();
            let link = inner.peers.remove(id);
            // A peer that was connected and went away is reached again once it is heard of
            // again; one never reached yet stays known, to be tried again.
            if link.as_ref().is_some_and(PeerLink::was_connected) {
                inner.discovery.router_mut().forget(id);
            }
            link
        };
        if let Some(link) = link {
            let was_connected = link.was_connected();
            link.close();
            if notify && was_connected {
                self.emit(NetEvent::Disconnected(id.to_owned()));
            }
        }
    }

    /// The room's admitted members: their devices are preferred as peers (see `Router`).
    pub fn set_admitted(&self, admitted: std::collections::BTreeSet<String>) {
        self.0
            .borrow_mut()
            .discovery
            .router_mut()
            .set_admitted(admitted);
    }

    /// Under a former room key: connects only to devices of these members (the holders of the
    /// key in force); `None` under the key in force (see `Router::set_only`).
    pub fn set_only(&self, members: Option<std::collections::BTreeSet<String>>) {
        self.0.borrow_mut().discovery.only(members);
    }

    /// Disconnects a peer (its session is gone already) and ignores it until `until` (ms): its
    /// signals are neither handled nor passed on, and it is not reached again meanwhile.
    pub fn ignore(&self, id: &str, until: f64) {
        self.drop_peer(id, false);
        self.0.borrow_mut().discovery.router_mut().ignore(id, until);
    }

    /// Forgets a peer only if `link` is still its current connection (not a newer one).
    fn drop_peer_if(&self, id: &str, link: &PeerLink) {
        let current = self.0.borrow().peers.get(id).is_some_and(|l| l.same(link));
        if current {
            self.drop_peer(id, true);
        }
    }

    /// Where the room meets on the servers now.
    fn topics(&self) -> Vec<Topic> {
        self.0.borrow().discovery.topics().to_vec()
    }

    /// The member whose key signed for the device `peer` (as its signals said).
    fn member_of(&self, peer: &str) -> Option<String> {
        self.0
            .borrow()
            .discovery
            .router()
            .member_of(peer)
            .map(str::to_owned)
    }

    /// Sends bytes to one connected peer.
    pub fn send(&self, peer: &str, bytes: &[u8]) -> crate::replica::Sent {
        let link = self.0.borrow().peers.get(peer).cloned();
        let Some(link) = link else {
            return crate::replica::Sent::Closed;
        };
        let mut framed = Vec::with_capacity(bytes.len() + 1);
        framed.push(CHANNEL_DATA);
        framed.extend_from_slice(bytes);
        link.send(&framed)
    }

    /// Bytes sent to a peer that have not gone on the wire yet (see `outbox::Outbox::unsent`);
    /// `None` if it is not a peer of this mesh.
    pub fn unsent(&self, peer: &str) -> Option<usize> {
        self.0.borrow().peers.get(peer).map(PeerLink::unsent)
    }

    /// The signaling servers and relays, and whether each is reachable now.
    pub fn transports(&self) -> Vec<TransportStatus> {
        self.0
            .borrow()
            .transports
            .iter()
            .filter_map(Transport::status)
            .collect()
    }

    /// Peers with an open data channel right now.
    pub fn connected_peers(&self) -> Vec<String> {
        open_peers(&self.0.borrow().peers)
    }

    /// A phone that slept or a network that came back: retry the signaling servers now, say
    /// hello again, and let the sync sessions resend what may have been lost. Connections that
    /// died silently meanwhile are dropped by the keep-alive within seconds and rebuilt.
    pub fn wake(&self) {
        if self.0.borrow().closed {
            return;
        }
        // Reconnecting only starts a WebSocket: nothing here calls back into the mesh yet.
        for t in &self.0.borrow().transports {
            t.wake();
        }
        self.announce(None);
        self.emit(NetEvent::Woke);
    }

    fn listen_for_wake(&self) {
        let Some(window) = web_sys::window() else {
            return;
        };
        let mut listeners = Vec::new();
        let weak = self.weak();
        let online = Closure::<dyn FnMut()>::new(move || {
            if let Some(mesh) = Mesh::upgrade(&weak) {
                mesh.wake();
            }
        });
        listeners.push((
            window.clone().unchecked_into::<web_sys::EventTarget>(),
            "online",
            online,
        ));
        if let Some(document) = window.document() {
            let weak = self.weak();
            let doc = document.clone();
            let visible = Closure::<dyn FnMut()>::new(move || {
                if doc.visibility_state() == web_sys::VisibilityState::Visible {
                    if let Some(mesh) = Mesh::upgrade(&weak) {
                        mesh.wake();
                    }
                }
            });
            listeners.push((document.unchecked_into(), "visibilitychange", visible));
        }
        for (target, event, cb) in &listeners {
            let _ = target.add_event_listener_with_callback(event, cb.as_ref().unchecked_ref());
        }
        self.0.borrow_mut().wake_listeners = listeners;
    }

    /// Closes every connection and transport.
    pub fn leave(&self) {
        let (peers, transports, listeners) = {
            let mut inner = self.0.borrow_mut();
            inner.closed = true;
            (
                std::mem::take(&mut inner.peers),
                std::mem::take(&mut inner.transports),
                std::mem::take(&mut inner.wake_listeners),
            )
        };
        for (target, event, cb) in listeners {
            let _ = target.remove_event_listener_with_callback(event, cb.as_ref().unchecked_ref());
        }
        for (_, link) in peers {
            link.close();
        }
        for t in transports {
            t.close();
        }
    }
}
