//! 2–5 simulated peers edit a room while the network reorders, duplicates and drops messages
//! and partitions heal; every schedule must end with identical documents on every peer.
//! Each schedule is driven by a seed, printed when it fails, so a failure can be replayed.
#![cfg(not(target_arch = "wasm32"))]

use std::collections::{BTreeSet, HashMap};
use tequio::crypto::{RoomKey, RoomSecret};
use tequio::domain::{NewPost, PostEdit, PostKind, PostStatus, RoomDoc};
use tequio::sync::{Received, Session};

mod support;
use support::Rng;

/// The key every peer signs with: one person on several devices, since only a post's author
/// may edit it or move its status, and concurrent edits of one post are what is simulated.
fn me() -> tequio::crypto::Identity {
    static ME: std::sync::OnceLock<tequio::crypto::Identity> = std::sync::OnceLock::new();
    ME.get_or_init(tequio::crypto::Identity::generate).clone()
}

struct InFlight {
    from: usize,
    to: usize,
    epoch: u64,
    bytes: Vec<u8>,
}

struct Net {
    key: RoomKey,
    rooms: Vec<RoomDoc>,
    sessions: HashMap<(usize, usize), Session>,
    /// Connection epoch per unordered pair: a frame from an older connection is never delivered.
    epochs: HashMap<(usize, usize), u64>,
    cut: BTreeSet<(usize, usize)>,
    queue: Vec<InFlight>,
    /// The simulated clock (ms): sessions pace resets and whole-document answers by it.
    now: i64,
}

fn pair(a: usize, b: usize) -> (usize, usize) {
    (a.min(b), a.max(b))
}

impl Net {
    fn new(peers: usize) -> Self {
        let key = RoomSecret::generate().room_key();
        let mut rooms = vec![RoomDoc::create("room-1", "Simulated commons", 0).unwrap()];
        rooms.extend((1..peers).map(|_| RoomDoc::empty("room-1")));
        let mut net = Net {
            key,
            rooms,
            sessions: HashMap::new(),
            epochs: HashMap::new(),
            cut: BTreeSet::new(),
            queue: Vec::new(),
            now: 0,
        };
        for a in 0..peers {
            for b in a + 1..peers {
                net.connect(a, b);
            }
        }
        net
    }

    fn connect(&mut self, a: usize, b: usize) {
        *self.epochs.entry(pair(a, b)).or_default() += 1;
        self.sessions.insert((a, b), Session::new(self.key.clone()));
        self.sessions.insert((b, a), Session::new(self.key.clone()));
    }

    fn pump(&mut self, from: usize) {
        for to in 0..self.rooms.len() {
            if to == from || self.cut.contains(&pair(from, to)) {
                continue;
            }
            let session = self.sessions.get_mut(&(from, to)).unwrap();
            let epoch = self.epochs[&pair(from, to)];
            for bytes in session.outgoing(&mut self.rooms[from].doc_mut(), self.now) {
                self.queue.push(InFlight {
                    from,
                    to,
                    epoch,
                    bytes,
                });
            }
        }
    }

    fn deliver(&mut self, m: InFlight, seed: u64) {
        if self.cut.contains(&pair(m.from, m.to)) || self.epochs[&pair(m.from, m.to)] != m.epoch {
            return; // the connection it was sent on is gone
        }
        let session = self.sessions.get_mut(&(m.to, m.from)).unwrap();
        let result = session.receive(&mut self.rooms[m.to].doc_mut(), &m.bytes, self.now);
        assert!(
            matches!(result, Ok(Received::Applied { .. } | Received::Partial)),
            "seed {seed}: a genuine message was refused: {result:?}"
        );
        self.pump(m.to);
    }

    fn edit(&mut self, rng: &mut Rng, now: i64) {
        let who = rng.below(self.rooms.len());
        let room = &mut self.rooms[who];
        if !room.is_writable() {
            return;
        }
        let posts = room.posts();
        match rng.below(4) {
            0 | 1 if posts.is_empty() || rng.chance(50) => {
                let kind = if rng.chance(50) {
                    PostKind::Need
                } else {
                    PostKind::Offer
                };
                room.add_post(
                    &me(),
                    NewPost {
                        kind,
                        title: format!("post by {who} at {now}"),
                        description: format!("from {who}"),
                        category: "Goods".into(),
                    },
                    now,
                )
                .unwrap();
            }
            2 if !posts.is_empty() => {
                let p = &posts[rng.below(posts.len())];
                let at = rng.below(p.description.chars().count() + 1);
                let mut d: String = p.description.chars().take(at).collect();
                d.push_str(&format!("<{who}>"));
                d.extend(p.description.chars().skip(at));
                room.edit_post(
                    &me(),
                    &p.id,
                    PostEdit {
                        description: Some(d),
                        ..Default::default()
                    },
                    now,
                )
                .unwrap();
            }
            _ if !posts.is_empty() => {
                let p = &posts[rng.below(posts.len())];
                let to = [
                    PostStatus::Matched,
                    PostStatus::Fulfilled,
                    PostStatus::Withdrawn,
                ][rng.below(3)];
                // Refused transitions are part of the domain's rules; ignore them here.
                let _ = room.set_post_status(&me(), &p.id, to, now);
            }
            _ => {}
        }
        self.pump(who);
    }

    fn settle(&mut self, seed: u64) -> usize {
        for (a, b) in std::mem::take(&mut self.cut) {
            self.connect(a, b);
        }
        // The timeouts fire a while after the last step: every session may ask to start over.
        self.now += tequio::sync::RETRY_EVERY_MS;
        for s in self.sessions.values_mut() {
            assert!(s.retry(self.now));
        }
        let mut delivered = 0;
        for round in 0.. {
            assert!(round < 200, "seed {seed}: no quiescence after 200 rounds");
            // Answers held back by the sessions' pacing go out as the clock moves on.
            self.now += 5_000;
            for p in 0..self.rooms.len() {
                self.pump(p);
            }
            if self.queue.is_empty() && !self.sessions.values().any(Session::held_back) {
                return delivered;
            }
            for m in std::mem::take(&mut self.queue) {
                delivered += 1;
                self.deliver(m, seed);
            }
        }
        unreachable!()
    }
}

fn run_schedule(seed: u64) {
    let mut rng = Rng(seed);
    let peers = 2 + rng.below(4);
    let mut net = Net::new(peers);
    for p in 0..peers {
        net.pump(p);
    }
    for step in 0..150i64 {
        net.now = step * 1_000;
        match rng.below(100) {
            0..=24 => net.edit(&mut rng, step),
            25..=74 if !net.queue.is_empty() => {
                let i = rng.below(net.queue.len());
                let m = net.queue.swap_remove(i); // random pick: reordering
                if rng.chance(8) {
                    continue; // dropped
                }
                if rng.chance(8) {
                    let copy = InFlight {
                        bytes: m.bytes.clone(),
                        ..m
                    };
                    net.queue.push(m); // duplicated: delivered now and again later
                    net.deliver(copy, seed);
                } else {
                    net.deliver(m, seed);
                }
            }
            75..=84 => {
                let (a, b) = (rng.below(peers), rng.below(peers));
                if a != b {
                    let p = pair(a, b);
                    if !net.cut.remove(&p) {
                        net.cut.insert(p);
                    } else {
                        net.connect(a, b); // healed: a new connection, fresh sessions
                        net.pump(a);
                        net.pump(b);
                    }
                }
            }
            85..=94 => {
                // A timeout fires on one side: retry.
                let (a, b) = (rng.below(peers), rng.below(peers));
                if a != b {
                    net.sessions.get_mut(&(a, b)).unwrap().retry(net.now);
                    net.pump(a);
                }
            }
            _ => {
                let p = rng.below(peers);
                net.pump(p);
            }
        }
    }
    net.settle(seed);
    let first_heads = net.rooms[0].doc_mut().get_heads();
    let first_posts = net.rooms[0].posts();
    for p in 1..peers {
        assert_eq!(
            net.rooms[p].doc_mut().get_heads(),
            first_heads,
            "seed {seed}: peer {p} heads differ"
        );
        assert_eq!(
            net.rooms[p].posts(),
            first_posts,
            "seed {seed}: peer {p} board differs"
        );
    }
    assert!(
        net.rooms.iter().all(RoomDoc::is_ready),
        "seed {seed}: a peer never received the room"
    );
}

#[test]
fn peers_converge_under_reordering_duplication_loss_and_partitions() {
    let runs: u64 = std::env::var("SIM_SCHEDULES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(300);
    let base: u64 = std::env::var("SIM_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x7e9_0001);
    for seed in base..base + runs {
        run_schedule(seed);
    }
}
