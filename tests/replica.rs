//! The open room's core (`replica`) driven natively: several replicas over in-memory links and
//! stores, and a hostile key holder among them that writes sealed frames by hand.
#![cfg(not(target_arch = "wasm32"))]

use std::collections::BTreeMap;
use tequio::crypto::{Identity, RoomSecret};
use tequio::domain::{Amendment, Method, NewProposal, Profile, Stance};
use tequio::domain::{NewPost, PostKind, RoomDoc};
use tequio::replica::memory::{MemoryLinks, MemoryStore};
use tequio::replica::ChunkStore;
use tequio::replica::{KeyEvent, Limits, Outcome, Replica, IGNORE_MS};
mod support;
use support::leb;
use tequio::sync::{Frame, Rejected, Session, DATA_CONTEXT, MAX_SEALED_FRAME, RESTARTS_PER_MINUTE};

struct Node {
    id: String,
    replica: Replica,
    store: MemoryStore,
    links: MemoryLinks,
}

/// Honest replicas (and the ids of hostile ones) linked in memory; frames move when delivered.
struct Net {
    secret: RoomSecret,
    nodes: Vec<Node>,
    /// Open links: (device, the name it knows its peer by) → (peer, the name the peer knows
    /// it by). A replica's name on a link is its id and the key the link speaks
    /// (`A@1a2b3c`); a hostile device is known by its id.
    links: BTreeMap<(String, String), (String, String)>,
    /// Frames honest replicas sent to devices that are not replicas (the hostile ones).
    to_others: Vec<(String, String, Vec<u8>)>,
    /// Peers dropped, and until when they are ignored.
    dropped: Vec<(String, i64)>,
    /// Replicas told the room moved on to a key they were not given.
    cut_off: Vec<String>,
    now: i64,
    /// Replicas that moved on do not meet the others under the new key (to see one link alone).
    no_meet: bool,
}

fn post(title: &str) -> NewPost {
    NewPost {
        kind: PostKind::Offer,
        title: title.into(),
        description: "x".repeat(200),
        category: "Tools".into(),
    }
}

impl Net {
    /// A founder's replica (with `posts` posts) and `joiners` replicas of an empty room.
    fn new(posts: usize, joiners: usize) -> Net {
        let secret = RoomSecret::generate();
        let mut founder = RoomDoc::create("room-1", "Commons", 0).unwrap();
        let me = Identity::generate();
        for i in 0..posts {
            founder
                .add_post(&me, post(&format!("post {i}")), i as i64)
                .unwrap();
        }
        let mut nodes = vec![node("A", founder, me, &secret)];
        for j in 0..joiners {
            let id = ["B", "C", "D", "E"][j];
            nodes.push(node(
                id,
                RoomDoc::empty("room-1"),
                Identity::generate(),
                &secret,
            ));
        }
        Net::of(secret, nodes)
    }

    /// Replicas of one room, each with its member's key.
    fn of(secret: RoomSecret, nodes: Vec<Node>) -> Net {
        Net {
            secret,
            nodes,
            links: BTreeMap::new(),
            to_others: Vec::new(),
            dropped: Vec::new(),
            cut_off: Vec::new(),
            now: 1_000,
            no_meet: false,
        }
    }

    fn index(&self, id: &str) -> Option<usize> {
        self.nodes.iter().position(|n| n.id == id)
    }

    /// The name `id` goes by on a link under its current key (its id if it has no replica).
    fn label(&self, id: &str) -> String {
        match self.index(id) {
            Some(i) => format!("{id}@{}", &self.key_of(i)[..6]),
            None => id.to_owned(),
        }
    }

    fn key_of(&self, i: usize) -> String {
        self.nodes[i].replica.secret().fingerprint()
    }

    /// Opens a link between two devices (either may be a hostile id with no replica) under
    /// the key of the one that is a replica.
    fn link(&mut self, a: &str, b: &str) {
        let key = self
            .index(a)
            .or(self.index(b))
            .map(|i| self.key_of(i))
            .expect("one of them is a replica");
        self.link_under(a, b, &key);
    }

    /// Opens a link between two devices under the key with fingerprint `key` (one they may
    /// have moved on from).
    fn link_under(&mut self, a: &str, b: &str, key: &str) {
        let name = |id: &str| match self.index(id) {
            Some(_) => format!("{id}@{}", &key[..6]),
            None => id.to_owned(),
        };
        let (la, lb) = (name(a), name(b));
        self.links
            .insert((a.into(), lb.clone()), (b.into(), la.clone()));
        self.links
            .insert((b.into(), la.clone()), (a.into(), lb.clone()));
        let now = self.now;
        // Each side learns who signed for the other's device (a hostile id: nobody).
        let member = |id: &str| self.index(id).map(|j| self.nodes[j].replica.me().public());
        let (ma, mb) = (member(a), member(b));
        for (me, other, theirs) in [(a, &lb, mb), (b, &la, ma)] {
            if let Some(i) = self.index(me) {
                let n = &mut self.nodes[i];
                n.replica
                    .connected(other, key, theirs.as_deref(), now, &mut n.links);
            }
        }
    }

    /// Closes the link `a` knows as `peer`.
    fn unlink(&mut self, a: &str, peer: &str) {
        let Some((b, a_there)) = self.links.remove(&(a.to_owned(), peer.to_owned())) else {
            return;
        };
        self.links.remove(&(b.clone(), a_there.clone()));
        for (me, other) in [(a, peer), (b.as_str(), a_there.as_str())] {
            if let Some(i) = self.index(me) {
                self.nodes[i].replica.disconnected(other);
            }
        }
    }

    /// Replica `i` moved on to a new key: as a new mesh would, it links with every replica
    /// under that key that it has no link with under it yet.
    fn meet_under_new_key(&mut self, i: usize) {
        let key = self.key_of(i);
        let me = self.nodes[i].id.clone();
        let label = self.label(&me);
        for j in 0..self.nodes.len() {
            let other = self.nodes[j].id.clone();
            let there = self.label(&other);
            if j != i
                && self.key_of(j) == key
                && !self.links.contains_key(&(me.clone(), there.clone()))
                && !self.links.contains_key(&(other.clone(), label.clone()))
            {
                self.link(&me, &other);
            }
        }
    }

    /// Links of `a` to `b` (any key).
    fn linked(&self, a: &str, b: &str) -> bool {
        self.links.iter().any(|((x, _), (y, _))| x == a && y == b)
    }

    /// A frame from `from` (any device) to replica `to`.
    fn receive(&mut self, from: &str, to: &str, bytes: &[u8]) -> Outcome {
        let now = self.now;
        let i = self.index(to).expect("a replica");
        let n = &mut self.nodes[i];
        n.replica
            .received(from, bytes, now, &mut n.store, &mut n.links)
    }

    /// Delivers frames, completes writes and follows drops until nothing moves.
    fn settle(&mut self) {
        for _ in 0..10_000 {
            let mut moved = false;
            for i in 0..self.nodes.len() {
                let n = &mut self.nodes[i];
                for event in n.store.complete() {
                    n.replica.on_store(event, &mut n.store);
                    moved = true;
                }
                let from = n.id.clone();
                for event in n.replica.take_key_events() {
                    moved = true;
                    match event {
                        KeyEvent::Moved { .. } if self.no_meet => {}
                        KeyEvent::Moved { .. } => self.meet_under_new_key(i),
                        KeyEvent::CutOff => self.cut_off.push(from.clone()),
                    }
                }
                let n = &mut self.nodes[i];
                for (peer, until) in std::mem::take(&mut n.links.dropped) {
                    assert!(until >= self.now);
                    self.dropped.push((peer.clone(), until));
                    self.unlink(&from, &peer);
                    moved = true;
                }
                let sent: Vec<_> = self.nodes[i].links.sent.drain(..).collect();
                for (peer, bytes) in sent {
                    moved = true;
                    let Some((to, me_there)) = self.links.get(&(from.clone(), peer)).cloned()
                    else {
                        continue; // the link is gone
                    };
                    match self.index(&to) {
                        Some(_) => {
                            let outcome = self.receive(&me_there, &to, &bytes);
                            assert!(
                                !matches!(outcome, Outcome::Refused(_)),
                                "{from} → {to}: an honest frame was refused: {outcome:?}"
                            );
                        }
                        None => self.to_others.push((from.clone(), to, bytes)),
                    }
                }
            }
            if !moved {
                return;
            }
        }
        panic!("no quiescence");
    }

    /// The bytes of replica `i`'s changes, uncompressed (what answers in changes carry).
    fn change_bytes(&mut self, i: usize) -> usize {
        self.nodes[i]
            .replica
            .room_mut()
            .doc_mut()
            .get_changes(&[])
            .iter()
            .map(|c| c.raw_bytes().len())
            .sum()
    }

    fn heads(&mut self, i: usize) -> Vec<automerge::ChangeHash> {
        self.nodes[i].replica.room_mut().doc_mut().get_heads()
    }

    /// Runs a command on replica `i` at the network's time.
    fn command<T>(
        &mut self,
        i: usize,
        f: impl FnOnce(&mut RoomDoc, &Identity, i64) -> Result<T, tequio::domain::DomainError>,
    ) -> T {
        let now = self.now;
        let n = &mut self.nodes[i];
        n.replica
            .command(f, now, &mut n.store, &mut n.links)
            .unwrap()
    }

    fn write(&mut self, i: usize, title: &str) {
        let now = self.now;
        let n = &mut self.nodes[i];
        n.replica
            .command(
                |room, me, at| room.add_post(me, post(title), at),
                now,
                &mut n.store,
                &mut n.links,
            )
            .unwrap();
    }

    /// Seals `message` in frames as a key holder would.
    fn frames(&self, id: u32, message: &[u8]) -> Vec<Vec<u8>> {
        let key = self.secret.room_key();
        Frame::split(id, message)
            .iter()
            .map(|f| key.seal(DATA_CONTEXT, f))
            .collect()
    }
}

fn node(id: &str, room: RoomDoc, me: Identity, secret: &RoomSecret) -> Node {
    Node {
        id: id.into(),
        replica: Replica::new(room, me, secret.clone(), Vec::new()),
        store: MemoryStore::default(),
        links: MemoryLinks::default(),
    }
}

fn assert_converged(net: &mut Net) {
    let first = net.heads(0);
    for i in 1..net.nodes.len() {
        assert_eq!(net.heads(i), first, "{} differs", net.nodes[i].id);
    }
}

#[test]
fn replicas_converge_over_memory_links_and_what_is_saved_reopens_as_the_room() {
    let mut net = Net::new(30, 2);
    net.link("A", "B");
    net.link("B", "C");
    net.settle();
    assert_converged(&mut net);
    net.write(2, "from C");
    net.write(0, "from A");
    net.settle();
    assert_converged(&mut net);
    assert_eq!(net.nodes[2].replica.room().posts().len(), 32);
    for n in &mut net.nodes {
        let (_, chunks) = n.store.chunks();
        let reopened =
            RoomDoc::load_with_facts("room-1", chunks.iter().map(Vec::as_slice), None).unwrap();
        assert_eq!(reopened.posts(), n.replica.room().posts(), "{}", n.id);
        assert_eq!(n.replica.saving().pending(), 0);
        let states = n.replica.peer_states(net.now);
        assert!(states.iter().all(|s| s.up_to_date), "{}: {states:?}", n.id);
    }
}

#[test]
fn a_failed_write_keeps_its_bytes_and_the_next_write_saves_them() {
    let mut net = Net::new(0, 0);
    net.nodes[0].store.fail_appends = 1;
    net.write(0, "lost?");
    net.settle();
    let n = &mut net.nodes[0];
    assert!(n
        .replica
        .saving()
        .error()
        .is_some_and(|e| e.contains("quota")));
    assert!(n.replica.saving().unsaved() > 0);
    n.replica.retry_save(&mut n.store);
    net.settle();
    let n = &mut net.nodes[0];
    assert_eq!(n.replica.saving().error(), None);
    assert_eq!(n.replica.saving().unsaved(), 0);
    let (_, chunks) = n.store.chunks();
    let reopened =
        RoomDoc::load_with_facts("room-1", chunks.iter().map(Vec::as_slice), None).unwrap();
    assert_eq!(reopened.posts().len(), 1);
}

#[test]
fn many_writes_are_compacted_into_one_chunk_and_a_write_during_compaction_survives() {
    let mut net = Net::new(0, 0);
    for i in 0..=tequio::replica::COMPACT_AFTER {
        net.write(0, &format!("post {i}"));
        net.settle();
    }
    // The compaction is written; a change made before it completes is its own chunk.
    assert!(net.nodes[0].store.waiting() == 0);
    net.write(0, "made while compacting");
    let n = &mut net.nodes[0];
    let (keys, chunks) = n.store.chunks();
    assert!(keys.len() <= 3, "{} chunks after compaction", keys.len());
    net.settle();
    let n = &mut net.nodes[0];
    let (_, chunks_after) = n.store.chunks();
    assert!(chunks_after.len() > chunks.len() || chunks_after.len() == 1);
    let reopened =
        RoomDoc::load_with_facts("room-1", chunks_after.iter().map(Vec::as_slice), None).unwrap();
    assert_eq!(reopened.posts().len(), tequio::replica::COMPACT_AFTER + 2);
    assert!(n.store.facts.is_some(), "facts are kept after a compaction");
}

/// A key holder's crafted messages: each refused unread, the sender dropped after three and
/// ignored for a while; nobody panics and the honest replicas keep syncing.
#[test]
fn a_hostile_replica_is_refused_dropped_and_the_others_keep_syncing() {
    let mut net = Net::new(20, 2);
    net.link("A", "B");
    net.link("A", "H");
    net.link("C", "H");
    net.settle();
    assert!(net.nodes[1].replica.room().is_ready(), "B has the room");
    let zero_bit_bloom = [0x42, 0x00, 0x00, 0x01, 0x00, 0x03, 0x01, 0x00, 0x01, 0x00];
    let huge_probes = [
        0x42, 0x00, 0x00, 0x01, 0x00, 0x06, 0x01, 0x08, 0xff, 0xff, 0xff, 0x0f,
    ];
    let mut many_haves = vec![0x42, 0x00, 0x00, 0x88, 0x27];
    many_haves.extend(std::iter::repeat_n([0x00, 0x00], 5_000).flatten());
    let attacks: Vec<(&str, Vec<u8>)> = vec![
        ("zero-bit bloom", zero_bit_bloom.to_vec()),
        ("huge probe count", huge_probes.to_vec()),
        ("5,000 haves", many_haves),
        ("deflate bomb", deflate_bomb()),
    ];
    for (to, (what, message)) in ["A", "A", "C", "C"].iter().zip(attacks) {
        let frames = net.frames(7, &message);
        let outcomes: Vec<Outcome> = frames.iter().map(|f| net.receive("H", to, f)).collect();
        assert!(
            matches!(
                outcomes.last(),
                Some(Outcome::Refused(Rejected::Invalid(_)))
            ),
            "{what}: {outcomes:?}"
        );
        // Refused unread: the honest replicas still answer and sync.
        net.write(1, what);
        net.settle();
    }
    // Not sealed with the key, and larger than a frame may be.
    assert!(matches!(
        net.receive("H", "A", b"not sealed"),
        Outcome::Refused(Rejected::Sealed(_))
    ));
    assert!(matches!(
        net.receive("H", "C", &vec![0u8; MAX_SEALED_FRAME + 1]),
        Outcome::Refused(Rejected::TooLarge(_))
    ));
    net.settle();
    for n in &net.nodes {
        assert!(
            !n.replica.peers().any(|p| p == "H"),
            "{} still has a session with the attacker",
            n.id
        );
    }
    assert!(
        !net.links.keys().any(|(a, _)| a == "H"),
        "links to H closed"
    );
    assert!(net
        .dropped
        .iter()
        .all(|(_, until)| *until == net.now + IGNORE_MS));
    // Ignored for ten minutes: the drops said until when.
    let notices = net.nodes[0].replica.take_notices();
    assert!(
        notices.iter().any(|n| n.contains("disconnected H")),
        "{notices:?}"
    );
    // The honest ones kept syncing meanwhile.
    net.link("B", "C");
    net.settle();
    net.write(2, "after the attack");
    net.settle();
    assert_converged(&mut net);
    assert_eq!(net.nodes[0].replica.room().posts().len(), 20 + 4 + 1);
}

/// Sync resets in a flood: answered a few times a minute, never refused (the peer is honest
/// as far as anyone can tell), and the room is not saved anew for each.
#[test]
fn a_reset_flood_costs_a_few_answers_a_minute() {
    let mut net = Net::new(200, 0);
    net.link("A", "H");
    net.settle();
    // Answers go as changes (not the saved document): the room's changes, uncompressed.
    let whole: usize = net.change_bytes(0);
    net.to_others.clear();
    let first = net.nodes[0].replica.room_mut().doc_mut().get_changes(&[])[0].hash();
    let mut reset = vec![0x42, 0x01];
    reset.extend_from_slice(&first.0);
    reset.extend_from_slice(&[0x00, 0x01, 0x00, 0x00, 0x00, 0x02, 0x02, 0x85]);
    for i in 0..200u32 {
        net.now += 300; // 200 resets in a minute
        let frames = net.frames(100 + i, &reset);
        assert_eq!(net.receive("H", "A", &frames[0]), Outcome::Unchanged);
        net.settle();
    }
    let sent: usize = net.to_others.iter().map(|(_, _, b)| b.len()).sum();
    assert!(
        sent <= (RESTARTS_PER_MINUTE + 1) * whole * 11 / 10,
        "{sent} bytes answered 200 resets (the room is {whole})"
    );
    // The first answer is the saved document (compressed); the others, changes.
    assert!(
        sent >= (RESTARTS_PER_MINUTE - 1) * whole,
        "{sent} (the room is {whole})"
    );
}

/// A key holder's 39 bytes: the victim's own heads (so automerge forgets what it sent: the
/// peer has it all) and an empty Bloom filter since no sync at all (so the peer has nothing).
/// Each made automerge answer with every change of the room again: 200 such messages in a
/// minute made the victim send 201 copies of it. What was sent stays sent now (and answers
/// carrying a large share of the room are paced).
#[test]
fn an_empty_filter_with_the_victim_s_heads_does_not_make_it_resend_the_room() {
    let mut net = Net::new(200, 0);
    net.link("A", "H");
    net.settle();
    let room: usize = net.change_bytes(0);
    let heads = net.heads(0);
    let mut message = vec![0x42];
    leb(&mut message, heads.len() as u64);
    for head in &heads {
        message.extend_from_slice(&head.0);
    }
    // No needs; one have: no last sync, an empty filter; no changes.
    message.extend_from_slice(&[0x00, 0x01, 0x00, 0x00, 0x00]);
    assert_eq!(message.len(), 7 + 32 * heads.len());
    for i in 0..200u32 {
        net.now += 300; // 200 in a minute
        let frames = net.frames(100 + i, &message);
        assert_eq!(net.receive("H", "A", &frames[0]), Outcome::Unchanged);
        net.settle();
    }
    // What went to H: its first sync (the room, once) and the answers to the 200.
    let sent: usize = net.to_others.iter().map(|(_, _, b)| b.len()).sum();
    assert!(
        sent < 2 * room,
        "{sent} bytes sent for a room of {room} ({} copies)",
        sent / room
    );
}

/// Partial messages that never complete, from several attackers: bounded in all (here with a
/// bound of 2 MiB; per peer, `sync::Reassembler` holds one message's worth), and dropped when
/// they go quiet.
#[test]
fn partial_messages_from_attackers_stay_within_the_bounds() {
    let mut net = Net::new(0, 0);
    let bound = 2 * 1024 * 1024;
    let n = net.nodes.remove(0);
    net.nodes.push(Node {
        replica: n.replica.with_limits(Limits {
            partial_total: bound,
            ..Limits::default()
        }),
        ..n
    });
    let attackers = ["H1", "H2", "H3"];
    for h in attackers {
        net.link("A", h);
    }
    net.settle();
    let chunk = vec![9u8; tequio::sync::CHUNK_PAYLOAD];
    for (k, h) in attackers.iter().enumerate() {
        // The largest message there may be (1,093 chunks) announced, 1 MiB of it sent.
        let key = net.secret.room_key();
        let count = tequio::sync::MAX_MESSAGE.div_ceil(tequio::sync::CHUNK_PAYLOAD) as u16;
        for index in 0..18u16 {
            let mut frame = vec![1, 1];
            frame.extend_from_slice(&(k as u32).to_be_bytes());
            frame.extend_from_slice(&index.to_be_bytes());
            frame.extend_from_slice(&count.to_be_bytes());
            frame.extend_from_slice(&chunk);
            let sealed = key.seal(DATA_CONTEXT, &frame);
            assert_eq!(net.receive(h, "A", &sealed), Outcome::Unchanged);
            assert!(net.nodes[0].replica.partial_bytes() <= bound);
        }
    }
    assert!(net.nodes[0].replica.partial_bytes() > 0);
    let notices = net.nodes[0].replica.take_notices();
    assert!(
        notices
            .iter()
            .any(|n| n.contains("partial messages dropped")),
        "{notices:?}"
    );
    // Half a minute without a chunk: gone.
    net.now += 31_000;
    let n = &mut net.nodes[0];
    n.replica.tick(net.now, &mut n.links);
    assert_eq!(n.replica.partial_bytes(), 0);
}

/// A peer that never reads what it is sent: dropped once its queue is full, not waited on.
#[test]
fn a_peer_that_does_not_read_is_dropped() {
    let mut net = Net::new(5, 1);
    net.link("A", "H");
    net.link("A", "B");
    net.nodes[0].links.full.push("H".into());
    net.write(0, "news");
    net.settle();
    assert!(!net.nodes[0].replica.peers().any(|p| p == "H"));
    assert!(net
        .dropped
        .iter()
        .any(|(p, until)| p == "H" && *until == net.now + tequio::replica::SLOW_PEER_IGNORE_MS));
    assert_converged(&mut net);
}

/// A's room (200 posts) with small bounds: parts of 16 KiB, and a link that holds at most
/// 64 KiB for a peer — as in the browser, where a peer's outbox holds the largest message and
/// 32 MiB, and parts are 8 MiB. A room larger than that bound is to reach B all the same.
fn room_larger_than_the_link() -> (Net, usize) {
    let mut net = Net::new(200, 1);
    let a = net.nodes.remove(0);
    net.nodes.insert(
        0,
        Node {
            replica: a.replica.with_limits(Limits {
                part_bytes: 16 * 1024,
                ..Limits::default()
            }),
            links: MemoryLinks {
                max_queued: Some(64 * 1024),
                ..MemoryLinks::default()
            },
            ..a
        },
    );
    let room: usize = net.change_bytes(0);
    assert!(
        room > 64 * 1024 + 32 * 1024,
        "the room ({room} bytes) passes the bound"
    );
    net.link("A", "B");
    (net, room)
}

/// One second on a link from replica `slow` that reads `bytes` of what it holds (the oldest
/// first; one frame at least, if any): those are delivered, everything else moves as in
/// [`Net::settle`], then every replica ticks.
fn a_second_of_slow_reading(net: &mut Net, slow: usize, bytes: usize) {
    net.now += 1_000;
    let mut budget = bytes;
    let mut moving: Vec<(usize, String, Vec<u8>)> = Vec::new();
    while budget > 0 {
        let Some((peer, frame)) = net.nodes[slow].links.sent.pop_front() else {
            break;
        };
        budget = budget.saturating_sub(frame.len());
        moving.push((slow, peer, frame));
    }
    loop {
        for i in 0..net.nodes.len() {
            let n = &mut net.nodes[i];
            for event in n.store.complete() {
                n.replica.on_store(event, &mut n.store);
            }
            net.dropped.extend(std::mem::take(&mut n.links.dropped));
            if i != slow {
                moving.extend(n.links.sent.drain(..).map(|(p, f)| (i, p, f)));
            }
        }
        if moving.is_empty() {
            break;
        }
        for (i, peer, frame) in std::mem::take(&mut moving) {
            let from = net.nodes[i].id.clone();
            if let Some((to, me_there)) = net.links.get(&(from, peer)).cloned() {
                let outcome = net.receive(&me_there, &to, &frame);
                assert!(!matches!(outcome, Outcome::Refused(_)), "{outcome:?}");
            }
        }
    }
    let now = net.now;
    for n in &mut net.nodes {
        n.replica.tick(now, &mut n.links);
        net.dropped.extend(std::mem::take(&mut n.links.dropped));
    }
}

/// A new device on a slow link gets a room larger than what its link may hold: the parts go
/// as the link drains. Before, all went at once, overfilled the link, and the new device was
/// dropped as not reading — never to get the room.
#[test]
fn a_room_larger_than_the_link_holds_reaches_a_slow_reader() {
    let (mut net, room) = room_larger_than_the_link();
    let b = net.label("B");
    // 16 KiB a second: the room takes a few seconds, and a part is always on its way.
    for _ in 0..60 {
        a_second_of_slow_reading(&mut net, 0, 16 * 1024);
        assert!(
            tequio::replica::PeerLinks::queued(&net.nodes[0].links, &b) <= 64 * 1024,
            "within the bound"
        );
        if net.nodes[1].replica.room().posts().len() == 200 {
            break;
        }
    }
    assert!(net.dropped.is_empty(), "dropped: {:?}", net.dropped);
    assert_eq!(
        net.nodes[1].replica.room().posts(),
        net.nodes[0].replica.room().posts(),
        "B has the room of {room} bytes"
    );
    let notices = net.nodes[0].replica.take_notices();
    assert!(notices.is_empty(), "{notices:?}");
}

/// The same link stops reading: what it holds does not drain, the parts still to go wait,
/// and once nothing was read for `NOT_READING_MS` the peer is dropped for not reading.
#[test]
fn a_link_that_stops_reading_is_dropped_after_a_while() {
    let (mut net, _) = room_larger_than_the_link();
    a_second_of_slow_reading(&mut net, 0, 16 * 1024);
    let stopped = net.now;
    let b = net.label("B");
    let mut dropped_at = None;
    for _ in 0..60 {
        a_second_of_slow_reading(&mut net, 0, 0);
        if !net.nodes[0].replica.peers().any(|p| *p == b) {
            dropped_at = Some(net.now);
            break;
        }
    }
    let dropped_at = dropped_at.expect("B dropped");
    assert!(
        dropped_at >= stopped + tequio::sync::NOT_READING_MS
            && dropped_at <= stopped + tequio::sync::NOT_READING_MS + 2_000,
        "dropped {} ms after it stopped reading",
        dropped_at - stopped
    );
    assert!(net
        .dropped
        .iter()
        .any(|(p, until)| *p == b && *until == dropped_at + tequio::replica::SLOW_PEER_IGNORE_MS));
}

const DAY: i64 = 24 * 3_600_000;

/// Replicas `ids` of one room whose members (one per replica) are all admitted.
fn members(ids: &[&str]) -> (Net, RoomSecret) {
    let secret = RoomSecret::generate();
    let people: Vec<Identity> = ids.iter().map(|_| Identity::generate()).collect();
    let mut room = RoomDoc::create("room-1", "Commons", 0).unwrap();
    let profile = |name: &str| Profile {
        name: name.into(),
        ..Profile::default()
    };
    room.found(&people[0], profile(ids[0]), 1).unwrap();
    for (i, id) in ids.iter().enumerate().skip(1) {
        room.set_profile(&people[i], profile(id), 2).unwrap();
        for (t, voucher) in (3 + i as i64 * 10..).zip(&people[..i]) {
            if room.admitted().contains(&people[i].public()) {
                break;
            }
            room.vouch(voucher, &people[i].public(), t).unwrap();
        }
    }
    assert_eq!(room.admitted().len(), ids.len());
    let saved = room.doc_mut().save();
    let nodes = ids
        .iter()
        .zip(&people)
        .map(|(id, me)| {
            // What the device had saved already: the room as it was set up.
            let copy = RoomDoc::load_chunks("room-1", [saved.as_slice()]).unwrap();
            let mut store = MemoryStore::default();
            store.append(0, saved.clone());
            store.complete();
            let keys = store.chunks().0;
            Node {
                id: id.to_string(),
                replica: Replica::new(copy, me.clone(), secret.clone(), keys),
                store,
                links: MemoryLinks::default(),
            }
        })
        .collect();
    (Net::of(secret.clone(), nodes), secret)
}

/// Replica `target`'s member is removed by a decision the replicas `agree` take part in
/// (the first proposes and records the outcome when it closes).
fn remove(net: &mut Net, target: usize, agree: &[usize]) {
    let decision = propose_removal(net, target, agree);
    net.now += 8 * DAY;
    net.command(agree[0], |room, me, at| {
        room.record_outcome(me, &decision, "Removed", None, at)
    });
    net.settle();
}

/// The first of `agree` proposes to remove replica `target`'s member and all of `agree`
/// agree; the decision's id.
fn propose_removal(net: &mut Net, target: usize, agree: &[usize]) -> String {
    net.now = net.now.max(10 * DAY);
    let key = net.nodes[target].replica.me().public();
    let decision = net.command(agree[0], |room, me, at| {
        let proposal = NewProposal {
            title: "Remove".into(),
            method: Method::Consent,
            options: Vec::new(),
            closes_at: at + 7 * DAY,
            quorum_percent: 50,
            amendment: Some(Amendment::new("remove", &key)),
        };
        room.propose(me, proposal, at)
    });
    net.settle();
    for &i in agree {
        let d = decision.clone();
        net.command(i, |room, me, at| {
            room.take_stance(me, &d, Stance::Agree, "", at)
        });
        net.settle();
    }
    decision
}

/// A, B, C and D, all admitted and linked; D goes away, then C is removed by A and B.
fn removed_while_d_was_away() -> (Net, RoomSecret) {
    let (mut net, secret) = members(&["A", "B", "C", "D"]);
    for (a, b) in [("A", "B"), ("A", "C"), ("B", "C"), ("A", "D")] {
        net.link(a, b);
    }
    net.settle();
    let d = net.label("D");
    net.unlink("A", &d);
    remove(&mut net, 2, &[0, 1]);
    (net, secret)
}

fn titles(net: &Net, i: usize) -> Vec<String> {
    net.nodes[i]
        .replica
        .room()
        .posts()
        .into_iter()
        .map(|p| p.title)
        .collect()
}

/// Strong removal over the replicas: C is removed by decision; the room moves on to a key
/// C is not given; A and B keep syncing under it, C receives nothing written after and what
/// C writes after counts nowhere.
#[test]
fn a_removed_member_s_device_gets_nothing_new_and_its_writes_count_nowhere() {
    let (mut net, secret) = members(&["A", "B", "C"]);
    for (a, b) in [("A", "B"), ("A", "C"), ("B", "C")] {
        net.link(a, b);
    }
    net.settle();
    assert!(net.cut_off.is_empty());
    remove(&mut net, 2, &[0, 1]);

    // A and B moved on to one new key; C was cut off and keeps the first.
    let (ka, kb, kc) = (net.key_of(0), net.key_of(1), net.key_of(2));
    assert_eq!(ka, kb);
    assert_ne!(ka, secret.fingerprint());
    assert_eq!(kc, secret.fingerprint());
    assert_eq!(net.cut_off, ["C"]);
    assert!(net.nodes[2].replica.cut_off());

    // Written after the removal: reaches B, not C.
    net.now += 1_000;
    net.write(0, "after the removal");
    net.settle();
    assert!(titles(&net, 1).contains(&"after the removal".to_string()));
    assert!(!titles(&net, 2).contains(&"after the removal".to_string()));
    // What C writes now reaches neither A's nor B's room (only the frozen copy of the room as
    // it was, which C's links are still served from).
    net.write(2, "from the removed member");
    net.settle();
    for i in [0, 1] {
        assert!(!titles(&net, i).contains(&"from the removed member".to_string()));
    }
    assert!(
        net.linked("A", "C"),
        "C's old links stay, serving the room as it was"
    );
    // A and B hold the same room.
    assert_eq!(net.heads(0), net.heads(1));
}

/// A member whose device was away when the key changed learns of the new key from a device
/// still met under the former one — also after that device reopened the room — and then
/// gets what was written after; the removed member's device, met the same way, does not.
#[test]
fn a_member_away_when_the_key_changed_catches_up_and_the_removed_one_still_does_not() {
    let (mut net, secret) = removed_while_d_was_away();
    assert_ne!(net.key_of(0), secret.fingerprint());
    assert_eq!(net.key_of(3), secret.fingerprint(), "D was away");
    net.now += 1_000;
    net.write(0, "while D was away");
    net.settle();

    // A closes and reopens the room: what was saved, with the keys followed from the first.
    let (keys, chunks) = net.nodes[0].store.chunks();
    let mut reopened = RoomDoc::load_chunks("room-1", chunks.iter().map(Vec::as_slice)).unwrap();
    assert_eq!(reopened.doc_mut().get_heads(), net.heads(0));
    let me = net.nodes[0].replica.me().clone();
    net.nodes[0].replica = Replica::new(reopened, me, secret.clone(), keys);
    for peer in net.nodes[0].replica.peers().cloned().collect::<Vec<_>>() {
        net.nodes[0].replica.disconnected(&peer);
    }
    net.links.retain(|(a, _), (b, _)| a != "A" && b != "A");
    assert_eq!(net.key_of(0), net.key_of(1), "the key in force again");

    // D comes back and meets A under the key it knows (A listens there for a while).
    let old = secret.fingerprint();
    net.link_under("A", "D", &old);
    net.settle();
    assert_eq!(net.key_of(3), net.key_of(0), "D moved on");
    assert!(titles(&net, 3).contains(&"while D was away".to_string()));

    // C meets the reopened A the same way: it gets the room as it was, nothing after.
    net.link_under("A", "C", &old);
    net.write(2, "C again");
    net.settle();
    assert!(!titles(&net, 2).contains(&"while D was away".to_string()));
    assert!(!titles(&net, 0).contains(&"C again".to_string()));
    assert_eq!(net.heads(0), net.heads(3));
}

/// Two members record the removal while their devices are apart: each writes a new key and
/// moves to it. Met again under the former key, they end on one key (the rival rotation is
/// taken from the room as it was into the room) and sync under it.
#[test]
fn rotations_written_apart_end_on_one_key_through_the_former_key() {
    let (mut net, secret) = members(&["A", "B", "C"]);
    for (a, b) in [("A", "B"), ("A", "C"), ("B", "C")] {
        net.link(a, b);
    }
    net.settle();
    // The decision, agreed by A and B; then A and B are apart (C is on its own too).
    let decision = propose_removal(&mut net, 2, &[0, 1]);
    for (a, b) in [("A", "B"), ("A", "C"), ("B", "C")] {
        let peer = net.label(b);
        net.unlink(a, &peer);
    }
    net.now += 8 * DAY;
    for i in [0, 1] {
        let d = decision.clone();
        net.command(i, |room, me, at| {
            room.record_outcome(me, &d, "Removed", None, at)
        });
    }
    net.settle();
    let (ka, kb) = (net.key_of(0), net.key_of(1));
    assert!(
        ka != kb && ka != secret.fingerprint(),
        "each moved to its own key"
    );

    // They meet under the key they both had.
    let old = secret.fingerprint();
    net.link_under("A", "B", &old);
    net.settle();
    assert_eq!(net.key_of(0), net.key_of(1), "one key on both");
    net.write(1, "under the one key");
    net.settle();
    assert!(titles(&net, 0).contains(&"under the one key".to_string()));
    assert!(net.nodes[2].replica.room().posts().is_empty());
}

/// The removed member's device stays online, and a member who was away meets it first, under
/// the key both still have: it learns of the new key there, but nothing the removed member
/// wrote after the removal comes with it (an honest app that is cut off serves the room only
/// as it was).
#[test]
fn a_cut_off_device_passes_on_nothing_written_after_its_removal() {
    let (mut net, secret) = removed_while_d_was_away();
    assert!(net.nodes[2].replica.cut_off());
    net.now += 1_000;
    net.write(2, "written by C after the removal");
    net.write(0, "written by A after the removal");
    net.settle();

    // D meets only C, under the first key.
    let old = secret.fingerprint();
    net.link_under("C", "D", &old);
    net.settle();
    // D moved on (and, under the new key, met A and B).
    assert_eq!(net.key_of(3), net.key_of(0));
    let d = titles(&net, 3);
    assert!(
        d.contains(&"written by A after the removal".to_string()),
        "{d:?}"
    );
    assert!(
        !d.contains(&"written by C after the removal".to_string()),
        "{d:?}"
    );
    assert!(!titles(&net, 0).contains(&"written by C after the removal".to_string()));
}

/// The removed member makes its post look like it came with a rotation (a change that writes
/// a `rotation:` key) and offers it under the first key: rivals are vetted in a trial merge,
/// and this one counts for nothing, so the post reaches no room.
#[test]
fn a_made_up_rotation_carries_nothing_into_the_room() {
    use automerge::transaction::Transactable;
    let (mut net, secret) = members(&["A", "B", "C"]);
    for (a, b) in [("A", "B"), ("A", "C"), ("B", "C")] {
        net.link(a, b);
    }
    net.settle();
    remove(&mut net, 2, &[0, 1]);
    assert!(net.nodes[2].replica.cut_off());
    net.write(2, "smuggled by C");
    {
        let room = net.nodes[2].replica.room_mut();
        let mut doc = room.doc_mut();
        doc.put(automerge::ROOT, "rotation:junk", "x").unwrap();
        doc.commit();
    }
    // A modified app serves C's whole room (an honest one that is cut off would not), and a
    // stranger with the old link (Ex, never a member) is linked with A under it too.
    let mut c_doc = net.nodes[2].replica.room_mut().doc_mut().fork();
    let c = net.label("C");
    net.unlink("A", &c);
    net.link_under("A", "Cx", &secret.fingerprint());
    net.link_under("A", "Ex", &secret.fingerprint());
    net.settle();
    let mut e_doc = automerge::AutoCommit::new();
    let (mut c_session, mut e_session) = (
        Session::new(secret.room_key()),
        Session::new(secret.room_key()),
    );
    for round in 0..20 {
        for frame in c_session.outgoing(&mut c_doc, net.now) {
            net.receive("Cx", "A", &frame);
        }
        for frame in e_session.outgoing(&mut e_doc, net.now) {
            net.receive("Ex", "A", &frame);
        }
        if round == 10 {
            // A writes: every session of A's has something to send.
            net.write(0, "later, by A");
        }
        net.settle();
        for (_, to, frame) in std::mem::take(&mut net.to_others) {
            let _ = match to.as_str() {
                "Cx" => c_session.receive(&mut c_doc, &frame, net.now),
                _ => e_session.receive(&mut e_doc, &frame, net.now),
            };
        }
    }
    assert!(!titles(&net, 0).contains(&"smuggled by C".to_string()));
    // A read nothing C sent under the old key (its session there is read-only), so the room
    // as it was, which A serves to Ex, does not carry it either.
    let e_room = RoomDoc::load_chunks("room-1", [e_doc.save().as_slice()]).unwrap();
    assert_eq!(e_room.admitted().len(), 2, "Ex got the room as it was");
    let e_titles: Vec<String> = e_room.posts().into_iter().map(|p| p.title).collect();
    assert!(e_titles.is_empty(), "{e_titles:?}");
}

/// A, B, C (admitted) and N (Nia, with a profile), with Ana's vouch for Nia; Ana (with Cy)
/// records Cy's removal and moves on while Bo (with Nia) admits Nia. Returns the first key.
fn nia_left_out() -> (Net, RoomSecret) {
    let (mut net, secret) = members(&["A", "B", "C"]);
    let saved = net.nodes[0].replica.room_mut().doc_mut().save();
    let nia = node(
        "N",
        RoomDoc::load_chunks("room-1", [saved.as_slice()]).unwrap(),
        Identity::generate(),
        &secret,
    );
    net.nodes.push(nia);
    let profile = Profile {
        name: "Nia".into(),
        ..Profile::default()
    };
    net.command(3, |room, me, at| room.set_profile(me, profile, at));
    for (a, b) in [("A", "B"), ("A", "C"), ("B", "C"), ("B", "N")] {
        net.link(a, b);
    }
    net.settle();
    let decision = propose_removal(&mut net, 2, &[0, 1]);
    let nia_key = net.nodes[3].replica.me().public();
    let k = nia_key.clone();
    net.command(0, |room, me, at| room.vouch(me, &k, at));
    net.settle();
    for (a, b) in [("A", "B"), ("B", "C")] {
        let peer = net.label(b);
        net.unlink(a, &peer);
    }
    net.now += 8 * DAY;
    net.command(0, |room, me, at| {
        room.record_outcome(me, &decision, "Removed", None, at)
    });
    net.settle();
    let k = nia_key.clone();
    net.command(1, |room, me, at| room.vouch(me, &k, at));
    net.settle();
    assert!(net.nodes[1].replica.room().admitted().contains(&nia_key));
    assert_ne!(net.key_of(0), secret.fingerprint(), "Ana moved on");
    assert_eq!(net.key_of(1), secret.fingerprint(), "Bo has not heard");
    (net, secret)
}

/// Ana records Cy's removal and writes a new key while Bo, apart from her, admits Nia: Ana's
/// rotation has no box for Nia, so Nia's device is cut off when it learns of it. Once Ana and
/// Bo meet, Nia is an admitted member without the key in force: a device of an admitted member
/// grants it to her, her device (still under the first key) is sent the room because her
/// member holds the key now, takes the key up and syncs with Ana and Bo under it. Cy still
/// gets nothing.
#[test]
fn a_member_admitted_while_the_key_was_renewed_gets_it_and_the_room() {
    let (mut net, secret) = nia_left_out();

    // Ana and Bo meet under the first key (Ana listens there for a while).
    net.link_under("A", "B", &secret.fingerprint());
    net.settle();
    assert_eq!(net.key_of(1), net.key_of(0), "Bo moved on");
    assert_eq!(
        net.key_of(3),
        net.key_of(0),
        "Nia was given the key and moved on"
    );
    assert!(!net.nodes[3].replica.cut_off());
    net.now += 1_000;
    net.write(0, "to all but Cy");
    net.write(3, "from Nia");
    net.settle();
    assert!(titles(&net, 3).contains(&"to all but Cy".to_string()));
    assert!(titles(&net, 0).contains(&"from Nia".to_string()));
    assert!(net.nodes[2].replica.cut_off());
    assert!(!titles(&net, 2).contains(&"to all but Cy".to_string()));
}

/// A compressed change chunk that inflates past the cap (a 129 MiB run of zeros).
fn deflate_bomb() -> Vec<u8> {
    use std::io::Write;
    let mut deflate = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..129 {
        deflate.write_all(&zeros).unwrap();
    }
    let bomb = deflate.finish().unwrap();
    let mut chunk = vec![0x85, 0x6f, 0x4a, 0x83, 0, 0, 0, 0, 2];
    leb(&mut chunk, bomb.len() as u64);
    chunk.extend(&bomb);
    let mut message = vec![0x42, 0x00, 0x00, 0x00, 0x01];
    leb(&mut message, chunk.len() as u64);
    message.extend(&chunk);
    message
}

/// Nia's device is cut off (left out of Ana's rotation) and linked, under the first key, with
/// Cy's modified client; Bo grants Nia the key and sends her device the room under the first
/// key; her device takes the grant and moves on. What it serves Cy under the first key is the
/// room as it was, read only: before, a device cut off took the room into the copy it served,
/// and Cy read Ana's post written after his removal.
#[test]
fn a_granted_device_s_copy_of_the_room_as_it_was_leaks_nothing_to_the_removed_member() {
    let (mut net, secret) = nia_left_out();
    let old = secret.fingerprint();
    // Bo and Nia part; Nia meets Cy's honest device under the first key: Cy serves the room
    // as it was (up to Ana's rotation) and Nia's device learns it is cut off.
    let n = net.label("N");
    net.unlink("B", &n);
    net.link_under("C", "N", &old);
    net.settle();
    assert!(net.nodes[3].replica.cut_off(), "Nia's device is cut off");
    // Cy's modified client also connects to Nia's device under the first key (her device's
    // key in force: any link holder may connect there).
    net.link_under("N", "Cx", &old);
    net.settle();
    // Ana writes after the removal, then meets Bo under the first key: Bo moves on and grants.
    net.now += 1_000;
    net.write(0, "secret after the removal");
    net.settle();
    net.link_under("A", "B", &old);
    net.settle();
    assert_eq!(net.key_of(1), net.key_of(0), "Bo moved on");
    // Bo meets Nia's device again under the first key: her member holds the key in force.
    net.link_under("B", "N", &old);
    net.settle();
    assert_eq!(net.key_of(3), net.key_of(0), "Nia moved on");
    // Cx, a raw session, keeps syncing with Nia's device under the first key.
    let mut cx_doc = automerge::AutoCommit::new();
    let mut cx = Session::new(secret.room_key());
    for _ in 0..20 {
        for frame in cx.outgoing(&mut cx_doc, net.now) {
            net.receive("Cx", "N", &frame);
        }
        net.settle();
        for (_, to, frame) in std::mem::take(&mut net.to_others) {
            if to == "Cx" {
                let _ = cx.receive(&mut cx_doc, &frame, net.now);
            }
        }
        net.now += 1_000;
    }
    let cx_room = RoomDoc::load_chunks("room-1", [cx_doc.save().as_slice()]).unwrap();
    let got: Vec<String> = cx_room.posts().into_iter().map(|p| p.title).collect();
    assert!(
        !got.contains(&"secret after the removal".to_string()),
        "the removed member's device read a post written after its removal: {got:?}"
    );
}

/// Nia's device, cut off, is sent the room by Ana (Nia's member holds the key now, by Bo's
/// grant) under the first key: it takes in only the grant's past, and its session with Ana
/// starts over on the room. Ana's session had sent a post concurrent with the grant and keeps
/// it as sent; Nia's device names it as needed and gets it. Before, the two answered each
/// other for ever.
#[test]
fn a_session_started_over_on_one_side_gets_what_the_other_sent_before() {
    let (mut net, secret) = nia_left_out();
    let old = secret.fingerprint();
    net.now += 1_000;
    net.write(0, "by Ana after the rotation");
    net.settle();
    // Nia's device learns of the rotation from Cy's (serving the room as it was): cut off.
    let n = net.label("N");
    net.unlink("B", &n);
    net.link_under("C", "N", &old);
    net.settle();
    assert!(net.nodes[3].replica.cut_off());
    let c = net.label("C");
    net.unlink("N", &c);
    // Bo learns of it from Cy's device too, moves on and grants Nia the key; then meets Ana
    // under the new key (Ana gets the grant, Bo Ana's post).
    net.link_under("B", "C", &old);
    net.settle();
    assert_eq!(net.key_of(1), net.key_of(0), "Bo moved on");
    assert!(titles(&net, 1).contains(&"by Ana after the rotation".to_string()));
    // Only now Ana's device meets Nia's, under the first key (and, to see that link alone,
    // Nia's device does not meet anyone under the new key).
    net.no_meet = true;
    net.link_under("A", "N", &old);
    let settled = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| net.settle()));
    assert_eq!(net.key_of(3), net.key_of(0), "Nia moved on");
    assert!(
        settled.is_ok() && titles(&net, 3).contains(&"by Ana after the rotation".to_string()),
        "quiesced: {}; Nia has {:?}",
        settled.is_ok(),
        titles(&net, 3)
    );
}

/// A stranger with the old link ("Ex", never a member) posts to Cy's cut-off device, and D, a
/// member away during the rotation, meets Cy's device first under the old key. Before, a
/// device cut off took what anyone sent into the copy it served, and the post reached Ana's
/// room through D; now it takes nothing from devices of members not given the new key.
#[test]
fn a_stranger_s_post_does_not_reach_the_room_through_a_cut_off_device() {
    let (mut net, secret) = removed_while_d_was_away();
    assert!(net.nodes[2].replica.cut_off());
    let old = secret.fingerprint();
    net.link_under("C", "Ex", &old);
    net.settle();
    let mut ex_doc = automerge::AutoCommit::new();
    let mut ex = Session::new(secret.room_key());
    let rounds = |net: &mut Net, ex_doc: &mut automerge::AutoCommit, ex: &mut Session| {
        for _ in 0..10 {
            for frame in ex.outgoing(ex_doc, net.now) {
                net.receive("Ex", "C", &frame);
            }
            net.settle();
            for (_, to, frame) in std::mem::take(&mut net.to_others) {
                if to == "Ex" {
                    let _ = ex.receive(ex_doc, &frame, net.now);
                }
            }
        }
    };
    rounds(&mut net, &mut ex_doc, &mut ex);
    let mut ex_room = RoomDoc::load_chunks("room-1", [ex_doc.save().as_slice()]).unwrap();
    assert!(ex_room.is_ready(), "Ex got the room as it was");
    ex_room
        .add_post(
            &Identity::generate(),
            post("a stranger's post after the rotation"),
            net.now,
        )
        .unwrap();
    let mut ex_doc = ex_room.doc_mut().fork();
    rounds(&mut net, &mut ex_doc, &mut ex);
    // D meets only Cy's device, under the first key.
    net.link_under("C", "D", &old);
    net.settle();
    assert_eq!(net.key_of(3), net.key_of(0), "D moved on");
    assert!(
        !titles(&net, 0).contains(&"a stranger's post after the rotation".to_string()),
        "a link holder's post written after the rotation is in Ana's room: {:?}",
        titles(&net, 0)
    );
}
