//! How a device finds the room's devices and looks after its connections, as a pure state
//! machine over time: when it says hello (and through whom), which devices it offers a
//! connection to, which it lets go, when a connection has gone silent, when the day's meeting
//! point moves, and what a signal from another device makes it do. The browser mesh (`net`)
//! calls [`Discovery::tick`] every half second and [`Discovery::receive`] for every signal, and
//! does what the returned [`Action`]s say; nothing here touches a browser. Its rhythm goes by
//! the time elapsed since it started (the ticks), not by the wall clock, which can jump or
//! stand still (a clock set by hand, a test's fixed time); signals and topics go by the wall
//! clock, as other devices do.
//!
//! Which devices to be connected to is [`Router`]'s; who offers to whom is
//! [`super::handshake`]'s. This adds the clock: a hello every [`ANNOUNCE_MS`] (every fifth
//! also through the peers, so devices sharing no server learn of each other), a keep-alive to
//! each open connection every [`HEARTBEAT_MS`], a connection silent for [`SILENCE_LIMIT_MS`]
//! let go, and a hello through the peers shortly after a new connection.

use super::handshake::{self, Link, OnAnnounce, OnOffer};
use super::topic::{self, Topic};
use super::{
    Reach, Router, Signal, SignalBody, SignalError, MAX_PAIRING_AGE_MS, MAX_SIGNAL_AGE_MS,
};
use crate::crypto::{Identity, RoomKey, RoomSecret};

/// How often the device says hello and looks after its connections.
pub const ANNOUNCE_MS: f64 = 4_000.0;
/// How often open connections are sent a keep-alive.
pub const HEARTBEAT_MS: f64 = 2_000.0;
/// A peer silent for longer than this (several missed keep-alives) is taken as gone.
pub const SILENCE_LIMIT_MS: f64 = 7_000.0;
/// More time for a connection restarting its network path (an ICE restart) before it is given
/// up.
pub const RESTART_GRACE_MS: f64 = 3_000.0;
/// An offer not answered after this long is started afresh when its peer is heard from.
pub const STALLED_MS: f64 = 5_000.0;
/// After a new connection, the hello through the peers waits this long (coalescing the
/// connections made meanwhile into one).
pub const FLOOD_DELAY_MS: f64 = 1_000.0;
/// Devices remembered as told that a key was replaced (then the list starts over).
const MAX_TOLD: usize = 512;
/// Of the hellos, one in this many also goes through the peers.
const THROUGH_PEERS_EVERY: u32 = 5;

/// What the device knows of one of its links now.
#[derive(Debug, Clone, PartialEq)]
pub struct PeerView {
    pub id: String,
    /// Its data channel is open.
    pub open: bool,
    /// It was made by hand (a pairing code).
    pub manual: bool,
    /// This device offered, no answer came, and the offer is older than [`STALLED_MS`].
    pub stalled: bool,
    /// It is restarting its network path.
    pub restarting: bool,
    /// How long since anything arrived from the peer (ms).
    pub silent_ms: f64,
}

/// What the mesh is to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Say hello, on every server (to everyone, or to one device so that it offers), and through
    /// the peers when `through_peers` or addressed.
    Announce {
        to: Option<String>,
        through_peers: bool,
    },
    /// Offer a connection to a device.
    Offer(String),
    /// Answer a device's offer on a new link (any link to it was dropped first).
    Answer { to: String, sdp: String },
    /// Answer an ICE restart on the link there is.
    AnswerRestart { to: String, sdp: String },
    /// Complete this device's offer (or a pairing by hand waiting for whoever answers).
    TakeAnswer { from: String, sdp: String },
    /// Let a link go; `notify`: the owner is told if the peer had connected.
    Drop { peer: String, notify: bool },
    /// Send an open link an empty keep-alive message.
    KeepAlive(String),
    /// Listen at these meeting points on the servers from now on.
    Listen(Vec<Topic>),
    /// Tell a device (by a signal addressed to it) that the key it speaks was replaced.
    TellReplaced(String),
    /// A device said the key this mesh speaks was replaced (heeded only by a device that
    /// never had the room: see [`SignalBody::Replaced`]).
    Replaced,
}

/// A signal that arrived, once checked: where to pass it on and what to do.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Heard {
    /// Connected peers to pass the signal on to, with the hops it will have made.
    pub forward: Vec<String>,
    pub hops: u8,
    pub actions: Vec<Action>,
}

/// What using a pairing code comes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PairStep {
    /// The other device's offer: answer it (on a new link), showing the answer as a code.
    Answer { from: String, sdp: String },
    /// That device is connected already.
    Already,
    /// The answer to this device's offer: complete it.
    TakeAnswer { from: String, sdp: String },
    /// The answer to an offer made in another tab of this browser: publish the code as it is
    /// (the tabs' shared channel takes it there).
    PassOn,
}

/// Why a pairing code was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PairError {
    #[error("This is not a pairing code. Copy the whole code from the other device.")]
    NotACode,
    #[error("This code does not open with this room's key: it is for another room, or it was not copied whole.")]
    OtherRoom,
    #[error("This is this device's own code: use it on the other device.")]
    Own,
    #[error("No offer from this device is waiting for this answer (it expired, or the page was reloaded). Make a new code.")]
    Expired,
}

/// One device's discovery in one room, under one room key.
pub struct Discovery {
    router: Router,
    /// This visit's device key: it signs every signal, and its hash is the device id.
    device: Identity,
    /// This device's member key: it signs for the device key in every signal but pairing codes.
    member: Identity,
    secret: RoomSecret,
    key: RoomKey,
    topics: Vec<Topic>,
    hellos: u32,
    /// When the next hello and keep-alives are due (ms elapsed since the start).
    next_hello: f64,
    next_heartbeat: f64,
    /// When the hello through the peers after new connections is due (ms elapsed).
    flood_at: Option<f64>,
    /// Devices told the key was replaced (each once; a few hundred at most).
    told: std::collections::BTreeSet<String>,
}

impl Discovery {
    /// Starts at `now` (ms, wall clock): the first hello goes out on the first tick.
    pub fn new(
        device: Identity,
        member: Identity,
        secret: &RoomSecret,
        limit: usize,
        now: f64,
    ) -> Self {
        let me = super::device_id(&device.public());
        Discovery {
            router: Router::new(me, limit),
            device,
            member,
            secret: secret.clone(),
            key: secret.room_key(),
            topics: topic::listening(secret, now as i64),
            hellos: 0,
            next_hello: 0.0,
            next_heartbeat: HEARTBEAT_MS,
            flood_at: None,
            told: Default::default(),
        }
    }

    /// This device's id.
    pub fn me(&self) -> &str {
        self.router.me()
    }

    /// The room key this discovery speaks under.
    pub fn secret(&self) -> &RoomSecret {
        &self.secret
    }

    /// Where the room meets on the servers now.
    pub fn topics(&self) -> &[Topic] {
        &self.topics
    }

    /// The router (which devices are known, bound, ignored, chosen).
    pub fn router(&self) -> &Router {
        &self.router
    }

    pub fn router_mut(&mut self) -> &mut Router {
        &mut self.router
    }

    /// Keeps to devices of these members (see [`Router::set_only`]).
    pub fn only(&mut self, members: Option<std::collections::BTreeSet<String>>) {
        self.router.set_only(members);
    }

    /// What is due `elapsed` ms after the start (at `now` on the wall clock), given the links
    /// there are.
    pub fn tick(&mut self, elapsed: f64, now: f64, peers: &[PeerView]) -> Vec<Action> {
        let mut actions = Vec::new();
        if elapsed >= self.next_heartbeat {
            self.next_heartbeat = elapsed + HEARTBEAT_MS;
            let mut lost = false;
            for p in peers.iter().filter(|p| p.open) {
                let limit = match p.restarting {
                    true => SILENCE_LIMIT_MS + RESTART_GRACE_MS,
                    false => SILENCE_LIMIT_MS,
                };
                if p.silent_ms > limit {
                    actions.push(Action::Drop {
                        peer: p.id.clone(),
                        notify: true,
                    });
                    lost = true;
                } else {
                    actions.push(Action::KeepAlive(p.id.clone()));
                }
            }
            if lost {
                actions.push(Action::Announce {
                    to: None,
                    through_peers: false,
                });
            }
        }
        if self.flood_at.is_some_and(|at| elapsed >= at) {
            self.flood_at = None;
            actions.push(Action::Announce {
                to: None,
                through_peers: true,
            });
        }
        if elapsed >= self.next_hello {
            self.next_hello = elapsed + ANNOUNCE_MS;
            self.hellos += 1;
            // The first hello goes out at once; every fifth after it also through the peers.
            let through_peers = self.hellos % THROUGH_PEERS_EVERY == 1 && self.hellos > 1;
            actions.extend(self.upkeep(now, peers, through_peers));
        }
        actions
    }

    /// Says hello, reaches the chosen devices not linked yet, and lets go of peers beyond the
    /// limit; the day's meeting point moves at midnight (UTC).
    fn upkeep(&mut self, now: f64, peers: &[PeerView], through_peers: bool) -> Vec<Action> {
        let mut actions = Vec::new();
        let topics = topic::listening(&self.secret, now as i64);
        if topics != self.topics {
            self.topics = topics.clone();
            actions.push(Action::Listen(topics));
        }
        let open: Vec<String> = peers
            .iter()
            .filter(|p| p.open)
            .map(|p| p.id.clone())
            .collect();
        for p in &open {
            self.router.heard(p, now);
        }
        self.router.expire(now);
        let linked: Vec<String> = peers.iter().map(|p| p.id.clone()).collect();
        for peer in self.router.surplus(&open) {
            actions.push(Action::Drop { peer, notify: true });
        }
        actions.push(Action::Announce {
            to: None,
            through_peers,
        });
        for reach in self.router.to_reach(&linked) {
            actions.push(match reach {
                Reach::Offer(p) => Action::Offer(p),
                Reach::AskForOffer(p) => Action::Announce {
                    to: Some(p),
                    through_peers: false,
                },
            });
        }
        actions
    }

    /// A data channel opened (`elapsed` ms after the start): a hello through the peers soon,
    /// so the new peer learns of the others and they of it.
    pub fn connected(&mut self, elapsed: f64) {
        self.flood_at.get_or_insert(elapsed + FLOOD_DELAY_MS);
    }

    /// A signal of this device's, signed for by its member key, sealed: with the meeting point
    /// to publish it at and the connected peers (of `open`) to pass it to.
    pub fn signal(
        &mut self,
        to: Option<String>,
        body: SignalBody,
        open: &[String],
        through_peers: bool,
        now: f64,
    ) -> (Topic, String, Vec<String>) {
        let signal = Signal::new(&self.device, to, body, now as i64).from_member(&self.member);
        let text = signal.seal(&self.key, &self.device);
        let via = self.router.send(&signal, open, through_peers);
        (topic::speaking(&self.secret, now as i64), text, via)
    }

    /// A pairing code: a signal of this device's with no member's signature (it would only
    /// make the QR code denser), sealed, and noted so that it is not handled if it comes back.
    pub fn code(&mut self, to: Option<String>, body: SignalBody, now: f64) -> String {
        let signal = Signal::new(&self.device, to, body, now as i64);
        self.router.send(&signal, &[], false);
        signal.seal(&self.key, &self.device)
    }

    /// A sealed signal that arrived over a server (`via` none) or from a connected peer (with
    /// the hops it has made). `Err` for one that does not open, is not fresh or is forged;
    /// `Ok(None)` for one seen before, this device's own, or from an ignored device.
    pub fn receive(
        &mut self,
        text: &str,
        hops: u8,
        via: Option<&str>,
        peers: &[PeerView],
        now: f64,
    ) -> Result<Option<Heard>, SignalError> {
        let signal = Signal::open(&self.key, text, now as i64, MAX_SIGNAL_AGE_MS)?;
        let open: Vec<String> = peers
            .iter()
            .filter(|p| p.open)
            .map(|p| p.id.clone())
            .collect();
        let Some(routing) = self.router.receive(&signal, hops, via, &open, now) else {
            return Ok(None);
        };
        // After the router heard it (new devices are heard a few a minute).
        if let Some(member) = signal.member_of() {
            self.router.bind(&signal.from, member);
        }
        if let Some(to) = &routing.park {
            self.router.park(to, text, routing.hops, now);
        }
        let mut heard = Heard {
            forward: routing.forward,
            hops: routing.hops,
            actions: Vec::new(),
        };
        if routing.handle {
            if self.router.restricted()
                && signal.body == SignalBody::Announce
                && !self.router.allowed(&signal.from)
            {
                // Under a former key, a device not given the key in force: told once, by a
                // signal, and never connected to.
                if self.told.len() >= MAX_TOLD {
                    self.told.clear();
                }
                if self.told.insert(signal.from.clone()) {
                    heard.actions.push(Action::TellReplaced(signal.from));
                }
            } else {
                heard.actions = self.handle(signal, peers, open.len());
            }
        }
        Ok(Some(heard))
    }

    fn handle(&self, signal: Signal, peers: &[PeerView], open: usize) -> Vec<Action> {
        let me = self.router.me();
        let from = signal.from;
        let view = peers.iter().find(|p| p.id == from);
        let link = |stalled: bool| {
            view.map(|p| Link {
                open: p.open,
                manual: p.manual,
                stalled: stalled && p.stalled,
            })
        };
        let mut actions = Vec::new();
        match signal.body {
            SignalBody::Announce => {
                let chosen = self.router.chosen().contains(&from);
                let (drop_stalled, action) = handshake::on_announce(me, &from, link(true), chosen);
                if drop_stalled {
                    actions.push(Action::Drop {
                        peer: from.clone(),
                        notify: false,
                    });
                }
                match action {
                    OnAnnounce::Offer => actions.push(Action::Offer(from)),
                    OnAnnounce::AskForOffer => actions.push(Action::Announce {
                        to: Some(from),
                        through_peers: false,
                    }),
                    OnAnnounce::Nothing => {}
                }
            }
            SignalBody::Offer { sdp, restart } => {
                let accepts = self.router.accepts(&from, open);
                match handshake::on_offer(me, &from, restart, link(false), accepts) {
                    OnOffer::AnswerRestart => actions.push(Action::AnswerRestart { to: from, sdp }),
                    OnOffer::AskForOffer => actions.push(Action::Announce {
                        to: Some(from),
                        through_peers: false,
                    }),
                    OnOffer::Answer => {
                        actions.push(Action::Drop {
                            peer: from.clone(),
                            notify: false,
                        });
                        actions.push(Action::Answer { to: from, sdp });
                    }
                    OnOffer::Ignore => {}
                }
            }
            SignalBody::Answer { sdp } => actions.push(Action::TakeAnswer { from, sdp }),
            SignalBody::Replaced => actions.push(Action::Replaced),
        }
        actions
    }

    /// A pairing code typed or scanned on this device (`connected`: its open peers).
    pub fn use_code(
        &self,
        code: &str,
        connected: &[String],
        now: f64,
    ) -> Result<PairStep, PairError> {
        let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
        let signal = Signal::open(&self.key, &code, now as i64, MAX_PAIRING_AGE_MS).map_err(
            |e| match e {
                SignalError::Sealed(_) => PairError::OtherRoom,
                SignalError::Stale(_) => PairError::Expired,
                _ => PairError::NotACode,
            },
        )?;
        let me = self.router.me();
        if signal.from == me {
            return Err(PairError::Own);
        }
        match signal.body {
            SignalBody::Offer { .. } if connected.contains(&signal.from) => Ok(PairStep::Already),
            SignalBody::Offer { sdp, .. } => Ok(PairStep::Answer {
                from: signal.from,
                sdp,
            }),
            // Another tab's offer: the BroadcastChannel takes the code there.
            SignalBody::Answer { .. } if signal.to.as_deref() != Some(me) => Ok(PairStep::PassOn),
            SignalBody::Answer { sdp } => Ok(PairStep::TakeAnswer {
                from: signal.from,
                sdp,
            }),
            SignalBody::Announce | SignalBody::Replaced => Err(PairError::NotACode),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sync::topic::{TOPIC_OVERLAP_MS, TOPIC_WINDOW_MS};

    const T0: f64 = 1_800_000_000_000.0;

    fn hello(through_peers: bool) -> Action {
        Action::Announce {
            to: None,
            through_peers,
        }
    }

    fn open(id: &str, silent_ms: f64) -> PeerView {
        PeerView {
            id: id.into(),
            open: true,
            manual: false,
            stalled: false,
            restarting: false,
            silent_ms,
        }
    }

    /// Two devices of one room (each of its own member), the lower id first.
    fn pair(secret: &RoomSecret) -> (Discovery, Discovery) {
        let mut both: Vec<Discovery> = (0..2)
            .map(|_| Discovery::new(Identity::generate(), Identity::generate(), secret, 20, T0))
            .collect();
        both.sort_by(|a, b| a.me().cmp(b.me()));
        let high = both.pop().unwrap();
        (both.pop().unwrap(), high)
    }

    #[test]
    fn hellos_go_every_few_seconds_and_every_fifth_also_through_the_peers() {
        let secret = RoomSecret::generate();
        let mut d = Discovery::new(Identity::generate(), Identity::generate(), &secret, 20, T0);
        let hellos = |actions: &[Action]| -> Vec<Action> {
            actions
                .iter()
                .filter(|a| matches!(a, Action::Announce { to: None, .. }))
                .cloned()
                .collect()
        };
        assert_eq!(hellos(&d.tick(0.0, T0, &[])), [hello(false)], "at once");
        assert!(hellos(&d.tick(3_999.0, T0 + 3_999.0, &[])).is_empty());
        let mut through = Vec::new();
        // The wall clock stands still (a clock set by hand, a test's fixed time): the rhythm
        // goes by the time elapsed.
        for i in 1..=10 {
            let h = hellos(&d.tick(ANNOUNCE_MS * i as f64, T0, &[]));
            assert_eq!(h.len(), 1, "one hello at {i}");
            through.push(h[0] == hello(true));
        }
        let expected: Vec<bool> = (1..=10).map(|i| i % 5 == 0).collect();
        assert_eq!(through, expected);
    }

    #[test]
    fn open_links_get_keep_alives_and_a_silent_one_is_let_go() {
        let secret = RoomSecret::generate();
        let mut d = Discovery::new(Identity::generate(), Identity::generate(), &secret, 20, T0);
        d.tick(0.0, T0, &[]);
        let quiet = PeerView {
            restarting: true,
            ..open("restarting", SILENCE_LIMIT_MS + 1_000.0)
        };
        let closed = PeerView {
            open: false,
            ..open("closed", 60_000.0)
        };
        let peers = [
            open("alive", 1_000.0),
            open("gone", SILENCE_LIMIT_MS + 1.0),
            quiet,
            closed,
        ];
        assert!(d
            .tick(HEARTBEAT_MS - 1.0, T0 + HEARTBEAT_MS - 1.0, &peers)
            .is_empty());
        let actions = d.tick(HEARTBEAT_MS, T0 + HEARTBEAT_MS, &peers);
        assert_eq!(
            actions,
            [
                Action::KeepAlive("alive".into()),
                Action::Drop {
                    peer: "gone".into(),
                    notify: true
                },
                Action::KeepAlive("restarting".into()),
                hello(false),
            ]
        );
        // Nothing more until the next beat.
        assert!(d
            .tick(HEARTBEAT_MS + 500.0, T0 + HEARTBEAT_MS + 500.0, &peers[..1])
            .is_empty());
    }

    #[test]
    fn new_connections_close_together_make_one_hello_through_the_peers() {
        let secret = RoomSecret::generate();
        let mut d = Discovery::new(Identity::generate(), Identity::generate(), &secret, 20, T0);
        d.tick(0.0, T0, &[]);
        d.connected(100.0);
        d.connected(600.0);
        assert!(d.tick(1_000.0, T0 + 1_000.0, &[]).is_empty());
        assert_eq!(d.tick(1_100.0, T0 + 1_100.0, &[]), [hello(true)]);
        assert!(d.tick(1_600.0, T0 + 1_600.0, &[]).is_empty(), "once");
    }

    #[test]
    fn the_meeting_point_moves_at_midnight() {
        let secret = RoomSecret::generate();
        let day = TOPIC_WINDOW_MS as f64;
        let before = (T0 / day).floor() * day + day - TOPIC_OVERLAP_MS as f64 - 1_000.0;
        let mut d = Discovery::new(
            Identity::generate(),
            Identity::generate(),
            &secret,
            20,
            before,
        );
        assert!(!d
            .tick(0.0, before, &[])
            .iter()
            .any(|a| matches!(a, Action::Listen(_))));
        let listen: Vec<Action> = d
            .tick(ANNOUNCE_MS, before + ANNOUNCE_MS, &[])
            .into_iter()
            .filter(|a| matches!(a, Action::Listen(_)))
            .collect();
        let now = (before + ANNOUNCE_MS) as i64;
        assert_eq!(listen, [Action::Listen(topic::listening(&secret, now))]);
        assert_eq!(d.topics().len(), 2, "today's and tomorrow's near midnight");
    }

    #[test]
    fn the_lower_id_offers_and_the_higher_answers() {
        let secret = RoomSecret::generate();
        let (mut low, mut high) = pair(&secret);
        // The higher device's hello: the lower one offers.
        let (_, text, _) = high.signal(None, SignalBody::Announce, &[], false, T0);
        let heard = low.receive(&text, 0, None, &[], T0).unwrap().unwrap();
        assert_eq!(heard.actions, [Action::Offer(high.me().into())]);
        // Heard again: nothing (seen).
        assert_eq!(low.receive(&text, 0, None, &[], T0).unwrap(), None);
        // The lower device's hello: the higher one asks for an offer.
        let (_, text, _) = low.signal(None, SignalBody::Announce, &[], false, T0);
        let heard = high.receive(&text, 0, None, &[], T0).unwrap().unwrap();
        let ask = Action::Announce {
            to: Some(low.me().into()),
            through_peers: false,
        };
        assert_eq!(heard.actions, [ask]);
        // The member key signed for the device: the router knows whose it is.
        assert!(high.router().member_of(low.me()).is_some());
        // An offer from the lower id is answered (on a new link); one from the higher is not.
        let offer = SignalBody::Offer {
            sdp: "v=0".into(),
            restart: false,
        };
        let to_high = Some(high.me().to_owned());
        let (_, text, _) = low.signal(to_high, offer.clone(), &[], false, T0 + 1.0);
        let heard = high
            .receive(&text, 0, None, &[], T0 + 1.0)
            .unwrap()
            .unwrap();
        let answer = Action::Answer {
            to: low.me().into(),
            sdp: "v=0".into(),
        };
        let dropped = Action::Drop {
            peer: low.me().into(),
            notify: false,
        };
        assert_eq!(heard.actions, [dropped, answer]);
        let to_low = Some(low.me().to_owned());
        let (_, text, _) = high.signal(to_low.clone(), offer, &[], false, T0 + 2.0);
        let heard = low.receive(&text, 0, None, &[], T0 + 2.0).unwrap().unwrap();
        let ask_low = Action::Announce {
            to: Some(high.me().into()),
            through_peers: false,
        };
        assert_eq!(heard.actions, [ask_low]);
        // An answer completes the offer it answers.
        let body = SignalBody::Answer { sdp: "a".into() };
        let (_, text, _) = high.signal(to_low, body, &[], false, T0 + 3.0);
        let heard = low.receive(&text, 0, None, &[], T0 + 3.0).unwrap().unwrap();
        let take = Action::TakeAnswer {
            from: high.me().into(),
            sdp: "a".into(),
        };
        assert_eq!(heard.actions, [take]);
        // Another room's signal, or a stale one, does not open.
        let (mut other, _) = pair(&RoomSecret::generate());
        let (_, text, _) = other.signal(None, SignalBody::Announce, &[], false, T0);
        assert!(low.receive(&text, 0, None, &[], T0).is_err());
        let (_, text, _) = high.signal(None, SignalBody::Announce, &[], false, T0);
        let late = T0 + MAX_SIGNAL_AGE_MS as f64 + 1.0;
        assert!(low.receive(&text, 0, None, &[], late).is_err());
    }

    /// Under a former key the mesh keeps to the holders of the key in force: a device of
    /// anyone else is told, once and by a signal, that the key was replaced — never offered
    /// a connection — and a holder's device is answered as usual.
    #[test]
    fn under_a_former_key_others_are_told_it_was_replaced_and_not_connected_to() {
        let secret = RoomSecret::generate();
        let (mut old, mut stranger) = pair(&secret);
        let holder = Identity::generate();
        let mut members = Discovery::new(Identity::generate(), holder.clone(), &secret, 20, T0);
        old.only(Some([holder.public()].into()));
        let (_, text, _) = stranger.signal(None, SignalBody::Announce, &[], false, T0);
        let heard = old.receive(&text, 0, None, &[], T0).unwrap().unwrap();
        assert_eq!(heard.actions, [Action::TellReplaced(stranger.me().into())]);
        let (_, text, _) = stranger.signal(None, SignalBody::Announce, &[], false, T0 + 1.0);
        let heard = old.receive(&text, 0, None, &[], T0 + 1.0).unwrap().unwrap();
        assert!(heard.actions.is_empty(), "told once");
        // The holder's device is reached (by an offer, or asked for one).
        let (_, text, _) = members.signal(None, SignalBody::Announce, &[], false, T0);
        let heard = old.receive(&text, 0, None, &[], T0).unwrap().unwrap();
        assert!(
            matches!(
                heard.actions.as_slice(),
                [Action::Offer(_)] | [Action::Announce { to: Some(_), .. }]
            ),
            "{:?}",
            heard.actions
        );
        // What the stranger hears.
        let to = Some(stranger.me().to_owned());
        let (_, text, _) = old.signal(to, SignalBody::Replaced, &[], false, T0 + 2.0);
        let heard = stranger
            .receive(&text, 0, None, &[], T0 + 2.0)
            .unwrap()
            .unwrap();
        assert_eq!(heard.actions, [Action::Replaced]);
    }

    #[test]
    fn pairing_codes_are_answered_completed_passed_on_or_refused() {
        let secret = RoomSecret::generate();
        let (mut a, mut b) = pair(&secret);
        let offer = SignalBody::Offer {
            sdp: "o".into(),
            restart: false,
        };
        let code = a.code(None, offer.clone(), T0);
        assert_eq!(
            b.use_code(&format!(" {code}\n"), &[], T0),
            Ok(PairStep::Answer {
                from: a.me().into(),
                sdp: "o".into()
            })
        );
        assert_eq!(
            b.use_code(&code, &[a.me().to_owned()], T0),
            Ok(PairStep::Already)
        );
        assert_eq!(a.use_code(&code, &[], T0), Err(PairError::Own));
        let late = T0 + MAX_PAIRING_AGE_MS as f64 + 1.0;
        assert_eq!(b.use_code(&code, &[], late), Err(PairError::Expired));
        let (mut other, _) = pair(&RoomSecret::generate());
        let foreign = other.code(None, offer, T0);
        assert_eq!(b.use_code(&foreign, &[], T0), Err(PairError::OtherRoom));
        assert_eq!(b.use_code("hello", &[], T0), Err(PairError::NotACode));
        // The answer: for this device, it completes its offer; for another tab's, passed on.
        let answer = SignalBody::Answer { sdp: "x".into() };
        let code = b.code(Some(a.me().into()), answer.clone(), T0);
        assert_eq!(
            a.use_code(&code, &[], T0),
            Ok(PairStep::TakeAnswer {
                from: b.me().into(),
                sdp: "x".into()
            })
        );
        let code = b.code(Some("another-tab".into()), answer, T0);
        assert_eq!(a.use_code(&code, &[], T0), Ok(PairStep::PassOn));
        // A code names no member (it would only make the QR code denser).
        let code = a.code(None, SignalBody::Announce, T0);
        let signal = Signal::open(&secret.room_key(), &code, T0 as i64, MAX_SIGNAL_AGE_MS).unwrap();
        assert_eq!(signal.member_of(), None);
    }
}
