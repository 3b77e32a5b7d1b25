//! The signaling state machine (`sync::Router`) over a simulated network: devices publish
//! sealed signals on shared transports (which can be down) and pass them through the peers they
//! are connected to, the way the browser mesh does. Connections are modelled as an offer and an
//! answer; a link exists once the answer arrives.
#![cfg(not(target_arch = "wasm32"))]

use std::collections::{BTreeSet, VecDeque};
use tequio::crypto::{Identity, RoomKey, RoomSecret};
use tequio::sync::{
    device_id, handshake, Backoff, Reach, Router, Signal, SignalBody, MAX_SIGNAL_AGE_MS,
};

mod support;
use support::Rng;

struct Device {
    /// What the test calls it; its id in the mesh is its device key's hash.
    name: String,
    device: Identity,
    router: Router,
    /// Transports (by index) this device is configured with.
    transports: Vec<usize>,
    backoff: Vec<Backoff>,
    connected: Vec<String>,
    /// Offers sent, waiting for an answer.
    offering: Vec<String>,
    handled: Vec<String>,
    offers_handled: usize,
}

enum Path {
    /// Over a transport: everyone on it but the sender gets it.
    Transport(usize),
    /// Over a data channel from this peer, with its hop count.
    Peer(String, u8),
}

struct Delivery {
    to: usize,
    path: Path,
    text: String,
}

struct Net {
    key: RoomKey,
    devices: Vec<Device>,
    up: Vec<bool>,
    queue: VecDeque<Delivery>,
    rng: Rng,
    now: f64,
    next_id: u64,
}

impl Net {
    fn new(seed: u64, transports: usize, devices: &[(&str, Vec<usize>)], limit: usize) -> Self {
        Net {
            key: RoomSecret::generate().room_key(),
            devices: devices
                .iter()
                .map(|(name, ts)| {
                    let device = Identity::generate();
                    (name, device_id(&device.public()), device, ts)
                })
                .map(|(name, id, device, ts)| Device {
                    name: name.to_string(),
                    device,
                    router: Router::new(id, limit),
                    transports: ts.clone(),
                    backoff: ts.iter().map(|_| Backoff::default()).collect(),
                    connected: Vec::new(),
                    offering: Vec::new(),
                    handled: Vec::new(),
                    offers_handled: 0,
                })
                .collect(),
            up: vec![true; transports],
            queue: VecDeque::new(),
            rng: Rng(seed),
            now: 0.0,
            next_id: 0,
        }
    }

    /// A device by its id in the mesh or its name in the test.
    fn index(&self, id: &str) -> usize {
        self.devices
            .iter()
            .position(|d| d.router.me() == id || d.name == id)
            .expect("known device")
    }

    /// Device `d` sends a signal: on every transport that is up, and through its peers.
    fn send(&mut self, d: usize, to: Option<String>, body: SignalBody, through_peers: bool) {
        self.next_id += 1;
        let now = self.now as i64;
        let signal = Signal::new(&self.devices[d].device, to, body, now);
        let text = signal.seal(&self.key, &self.devices[d].device);
        let dev = &mut self.devices[d];
        let connected = dev.connected.clone();
        let peers = dev.router.send(&signal, &connected, through_peers);
        let mut on = Vec::new();
        for (slot, &t) in dev.transports.iter().enumerate() {
            if self.up[t] {
                dev.backoff[slot].succeeded();
                on.push(t);
            } else if !dev.backoff[slot].is_down() {
                dev.backoff[slot].failed();
            }
        }
        for t in on {
            for (other, o) in self.devices.iter().enumerate() {
                if other != d && o.transports.contains(&t) {
                    self.queue.push_back(Delivery {
                        to: other,
                        path: Path::Transport(t),
                        text: text.clone(),
                    });
                }
            }
        }
        for p in peers {
            let to = self.index(&p);
            self.queue.push_back(Delivery {
                to,
                path: Path::Peer(self.devices[d].router.me().to_owned(), 0),
                text: text.clone(),
            });
        }
    }

    /// One round of what every device does on its timer: announce, reach chosen peers, let go
    /// of the surplus.
    fn tick(&mut self) {
        self.now += 1_000.0;
        for d in 0..self.devices.len() {
            let now = self.now;
            let dev = &mut self.devices[d];
            for p in dev.connected.clone() {
                dev.router.heard(&p, now);
            }
            dev.router.expire(now);
            self.send(d, None, SignalBody::Announce, true);
            self.reach(d);
            let dev = &mut self.devices[d];
            for p in dev.router.surplus(&dev.connected) {
                self.disconnect(d, &p);
            }
        }
    }

    fn reach(&mut self, d: usize) {
        let dev = &self.devices[d];
        let linked: Vec<String> = dev.connected.iter().chain(&dev.offering).cloned().collect();
        for r in dev.router.to_reach(&linked) {
            match r {
                Reach::Offer(p) => {
                    self.devices[d].offering.push(p.clone());
                    let sdp = format!("offer from {}", self.devices[d].router.me());
                    self.send(
                        d,
                        Some(p),
                        SignalBody::Offer {
                            sdp,
                            restart: false,
                        },
                        false,
                    );
                }
                Reach::AskForOffer(p) => self.send(d, Some(p), SignalBody::Announce, false),
            }
        }
    }

    fn link(&mut self, a: usize, b: usize) {
        let (ia, ib) = (
            self.devices[a].router.me().to_owned(),
            self.devices[b].router.me().to_owned(),
        );
        for (x, other) in [(a, &ib), (b, &ia)] {
            let dev = &mut self.devices[x];
            dev.offering.retain(|p| p != other);
            if !dev.connected.contains(other) {
                dev.connected.push(other.clone());
            }
        }
        // Each side hands the other what it kept for it.
        for (x, y, other) in [(a, b, &ib), (b, a, &ia)] {
            let me = self.devices[x].router.me().to_owned();
            for (text, hops) in self.devices[x].router.unpark(other, self.now) {
                self.queue.push_back(Delivery {
                    to: y,
                    path: Path::Peer(me.clone(), hops),
                    text,
                });
            }
        }
    }

    fn disconnect(&mut self, a: usize, peer: &str) {
        let b = self.index(peer);
        let ia = self.devices[a].router.me().to_owned();
        self.devices[a].connected.retain(|p| p != peer);
        self.devices[b].connected.retain(|p| *p != ia);
    }

    /// Delivers queued messages (in a shuffled order, some twice) until none are left.
    fn deliver_all(&mut self) {
        let mut budget = 100_000;
        while let Some(first) = self.queue.pop_front() {
            budget -= 1;
            assert!(budget > 0, "signaling never settles");
            // Reorder: sometimes put the message back behind another.
            if self.queue.len() > 1 && self.rng.below(4) == 0 {
                self.queue.push_back(first);
                continue;
            }
            self.deliver(first);
        }
    }

    fn deliver(&mut self, msg: Delivery) {
        let d = msg.to;
        let signal = Signal::open(&self.key, &msg.text, self.now as i64, MAX_SIGNAL_AGE_MS)
            .expect("sealed by a device of the room");
        let (hops, via) = match &msg.path {
            Path::Transport(t) if !self.up[*t] => return,
            Path::Transport(_) => (0, None),
            Path::Peer(p, h) => (*h, Some(p.clone())),
        };
        if let Some(p) = &via {
            if !self.devices[d].connected.contains(p) {
                return; // The link closed while the message was on its way.
            }
        }
        let now = self.now;
        let dev = &mut self.devices[d];
        let connected = dev.connected.clone();
        let Some(routing) = dev
            .router
            .receive(&signal, hops, via.as_deref(), &connected, now)
        else {
            return;
        };
        let me = dev.router.me().to_owned();
        if let Some(to) = &routing.park {
            dev.router.park(to, &msg.text, routing.hops, now);
        }
        for p in routing.forward {
            let to = self.index(&p);
            self.queue.push_back(Delivery {
                to,
                path: Path::Peer(me.clone(), routing.hops),
                text: msg.text.clone(),
            });
        }
        if !routing.handle {
            return;
        }
        self.devices[d].handled.push(signal.id.clone());
        let from = signal.from.clone();
        match signal.body {
            SignalBody::Announce => self.reach(d),
            SignalBody::Offer { restart, .. } => {
                // The mesh's own rules (`sync::handshake`), on what this device knows.
                self.devices[d].offers_handled += 1;
                let dev = &self.devices[d];
                let link = dev.connected.contains(&from).then_some(handshake::Link {
                    open: true,
                    ..handshake::Link::default()
                });
                let accepts = dev.router.accepts(&from, dev.connected.len());
                match handshake::on_offer(&me, &from, restart, link, accepts) {
                    handshake::OnOffer::Answer if link.is_none() => {
                        let sdp = format!("answer from {me}");
                        self.send(d, Some(from), SignalBody::Answer { sdp }, false);
                    }
                    handshake::OnOffer::AskForOffer => {
                        self.send(d, Some(from), SignalBody::Announce, false)
                    }
                    _ => {}
                }
            }
            SignalBody::Answer { .. } => {
                if self.devices[d].offering.contains(&from) {
                    let other = self.index(&from);
                    self.link(d, other);
                }
            }
            // Every device here speaks the one key.
            SignalBody::Replaced => {}
        }
    }

    fn run(&mut self, rounds: usize) {
        for _ in 0..rounds {
            self.tick();
            self.deliver_all();
        }
    }

    fn connected(&self, a: &str, b: &str) -> bool {
        let (ia, ib) = (self.index(a), self.index(b));
        let (a, b) = (self.devices[ia].router.me(), self.devices[ib].router.me());
        self.devices[ia].connected.iter().any(|p| p == b)
            && self.devices[ib].connected.iter().any(|p| p == a)
    }

    /// Whether every device can reach every other over the links.
    fn graph_connected(&self) -> bool {
        let mut seen = BTreeSet::from([0usize]);
        let mut todo = vec![0usize];
        while let Some(d) = todo.pop() {
            for p in &self.devices[d].connected {
                let i = self.index(p);
                if seen.insert(i) {
                    todo.push(i);
                }
            }
        }
        seen.len() == self.devices.len()
    }
}

#[test]
fn a_peer_found_on_two_transports_is_connected_once() {
    for seed in 0..20 {
        let mut net = Net::new(seed, 2, &[("a", vec![0, 1]), ("b", vec![0, 1])], 20);
        net.run(3);
        assert!(net.connected("a", "b"), "seed {seed}");
        for dev in &net.devices {
            assert_eq!(dev.connected.len(), 1, "seed {seed}: one link, not two");
            let unique: BTreeSet<&String> = dev.handled.iter().collect();
            assert_eq!(
                unique.len(),
                dev.handled.len(),
                "seed {seed}: handled twice"
            );
        }
        // Every signal crossed both transports, yet the higher id handled the one offer once.
        let answerer = net.devices.iter().max_by_key(|d| d.router.me().to_owned());
        assert_eq!(answerer.unwrap().offers_handled, 1, "seed {seed}");
    }
}

#[test]
fn a_transport_that_is_down_backs_off_and_the_others_carry_the_room() {
    let mut net = Net::new(7, 2, &[("a", vec![0, 1]), ("b", vec![0, 1])], 20);
    net.up[0] = false;
    net.run(3);
    assert!(net.connected("a", "b"));
    let a = &net.devices[0];
    assert!(a.backoff[0].is_down() && !a.backoff[1].is_down());
    net.up[0] = true;
    net.run(1);
    assert!(
        !net.devices[0].backoff[0].is_down(),
        "back up once it works"
    );
}

#[test]
fn devices_with_no_common_server_connect_by_signaling_through_a_member() {
    for seed in 0..20 {
        // a only knows server 0, c only server 1; b knows both.
        let mut net = Net::new(
            seed,
            2,
            &[("a", vec![0]), ("b", vec![0, 1]), ("c", vec![1])],
            20,
        );
        net.run(2);
        assert!(
            net.connected("a", "b") && net.connected("b", "c"),
            "seed {seed}"
        );
        // Every server goes away; a and c still meet, through b alone.
        net.up = vec![false, false];
        net.run(3);
        assert!(
            net.connected("a", "c"),
            "seed {seed}: a and c met through b"
        );
    }
}

#[test]
fn six_devices_with_a_mesh_limit_of_two_stay_one_connected_room() {
    for seed in 0..20 {
        let mut rng = Rng(seed + 100);
        let ids: Vec<String> = (0..6).map(|_| format!("{:016x}", rng.next())).collect();
        let devices: Vec<(&str, Vec<usize>)> = ids.iter().map(|i| (i.as_str(), vec![0])).collect();
        let mut net = Net::new(seed, 1, &devices, 2);
        net.run(8);
        assert!(net.graph_connected(), "seed {seed}: the room is split");
        for dev in &net.devices {
            assert!(
                dev.connected.len() <= 2,
                "seed {seed}: {} has {} links",
                dev.router.me(),
                dev.connected.len()
            );
        }
        // With the server gone, the links alone keep the room whole (and nobody churns).
        net.up = vec![false];
        let before: Vec<Vec<String>> = net.devices.iter().map(|d| d.connected.clone()).collect();
        net.run(5);
        assert!(net.graph_connected(), "seed {seed}");
        let after: Vec<Vec<String>> = net.devices.iter().map(|d| d.connected.clone()).collect();
        assert_eq!(
            before, after,
            "seed {seed}: links changed with nothing happening"
        );
    }
}

#[test]
fn an_offer_that_reaches_the_bridge_before_its_addressee_is_kept_until_it_connects() {
    for seed in 0..20 {
        let mut net = Net::new(
            seed,
            2,
            &[("a", vec![0]), ("b", vec![0, 1]), ("c", vec![1])],
            20,
        );
        // c's server is away at first: a and b connect, c is alone.
        net.up[1] = false;
        net.run(2);
        assert!(
            net.connected("a", "b") && !net.connected("b", "c"),
            "seed {seed}"
        );
        // c's server comes back: b hears c and passes its hello to a, whose offer to c reaches
        // b before b is connected to c. b keeps it and hands it over once c connects; a never
        // offers twice (an offer lost on the way would leave a waiting for ever here).
        net.up[1] = true;
        net.run(2);
        assert!(
            net.connected("a", "c"),
            "seed {seed}: a's offer to c was lost at b"
        );
        assert!(net.devices[0].offering.is_empty(), "seed {seed}");
    }
}
