//! The mailbox client (`sync::postman`) against simulated Nostr relays that speak NIP-01 as
//! JSON text: they store events, answer requests newest first under their own caps, pass new
//! events to open requests, and can refuse, slow down, forget, lose and lie. Replicas that are
//! never online together catch up through them.
#![cfg(not(target_arch = "wasm32"))]

mod support;

use serde_json::{json, Value};
use std::collections::{BTreeMap, VecDeque};
use tequio::crypto::{Identity, RoomSecret};
use tequio::domain::RoomDoc;
use tequio::replica::memory::{MemoryLinks, MemoryStore};
use tequio::replica::Replica;
use tequio::sync::mailbox::{self, Plain};
use tequio::sync::postman::{
    Out, Postman, RelayMark, GARBAGE_LIMIT, LIVE_PER_MINUTE, PAGE, PER_STAMP,
};

const NOW: i64 = 1_800_000_000_000;

/// How a simulated relay misbehaves.
#[derive(Default, Clone)]
struct Faults {
    /// Answers at most this many events per request (0: no cap of its own).
    cap: usize,
    /// Every n-th event published is refused as rate-limited.
    rate_limit_every: usize,
    /// Events with content longer than this are refused.
    max_content: usize,
    /// Takes events and neither answers nor keeps them.
    silent: bool,
    /// Answers each request with this many unreadable messages first.
    garbage: usize,
    /// Reads a request's `until` as inclusive (NIP-01; some relays do not).
    inclusive: bool,
}

#[derive(Default)]
struct Relay {
    events: Vec<Value>,
    /// Open requests: (client, subscription, filter).
    subs: Vec<(usize, String, Value)>,
    /// What each client has to read.
    inbox: BTreeMap<usize, VecDeque<String>>,
    faults: Faults,
    published: usize,
}

fn matches(filter: &Value, event: &Value, inclusive: bool) -> bool {
    let kind_ok = filter["kinds"]
        .as_array()
        .is_some_and(|k| k.contains(&event["kind"]));
    let tag_ok = filter["#t"].as_array().is_some_and(|names| {
        event["tags"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t[0] == "t" && names.contains(&t[1]))
    });
    let at = event["created_at"].as_u64().unwrap();
    let since_ok = filter["since"].as_u64().is_none_or(|s| at >= s);
    let until_ok = filter["until"]
        .as_u64()
        .is_none_or(|u| at < u || (inclusive && at == u));
    kind_ok && tag_ok && since_ok && until_ok
}

impl Relay {
    fn with(faults: Faults) -> Self {
        Relay {
            faults,
            ..Relay::default()
        }
    }

    fn send(&mut self, client: usize, text: String) {
        self.inbox.entry(client).or_default().push_back(text);
    }

    fn handle(&mut self, client: usize, text: &str) {
        let msg: Value = serde_json::from_str(text).unwrap();
        match msg[0].as_str().unwrap() {
            "EVENT" if self.faults.silent => self.published += 1,
            "EVENT" => {
                let event = msg[1].clone();
                let id = event["id"].as_str().unwrap().to_owned();
                self.published += 1;
                let content = event["content"].as_str().unwrap().len();
                let refusal = if self.faults.rate_limit_every > 0
                    && self.published.is_multiple_of(self.faults.rate_limit_every)
                {
                    Some("rate-limited: slow down")
                } else if self.faults.max_content > 0 && content > self.faults.max_content {
                    Some("invalid: event too large")
                } else {
                    None
                };
                if let Some(why) = refusal {
                    self.send(client, json!(["OK", id, false, why]).to_string());
                    return;
                }
                let duplicate = self.events.iter().any(|e| e["id"] == id.as_str());
                if !duplicate {
                    self.events.push(event.clone());
                    let live: Vec<(usize, String)> = self
                        .subs
                        .iter()
                        .filter(|(_, _, f)| matches(f, &event, self.faults.inclusive))
                        .map(|(c, s, _)| (*c, s.clone()))
                        .collect();
                    for (c, sub) in live {
                        self.send(c, json!(["EVENT", sub, event]).to_string());
                    }
                }
                let why = if duplicate { "duplicate: have it" } else { "" };
                self.send(client, json!(["OK", id, true, why]).to_string());
            }
            "REQ" => {
                let sub = msg[1].as_str().unwrap().to_owned();
                for i in 0..self.faults.garbage {
                    self.send(client, format!("[\"EVENT\",\"{sub}\",{{\"id\":{i}"));
                }
                let filter = msg[2].clone();
                let inclusive = self.faults.inclusive;
                let mut found: Vec<&Value> = self
                    .events
                    .iter()
                    .filter(|e| matches(&filter, e, inclusive))
                    .collect();
                found.sort_by_key(|e| std::cmp::Reverse(e["created_at"].as_u64().unwrap()));
                let mut limit = filter["limit"].as_u64().unwrap_or(u64::MAX) as usize;
                if self.faults.cap > 0 {
                    limit = limit.min(self.faults.cap);
                }
                let answer: Vec<String> = found
                    .into_iter()
                    .take(limit)
                    .map(|e| json!(["EVENT", sub, e]).to_string())
                    .collect();
                for text in answer {
                    self.send(client, text);
                }
                self.send(client, json!(["EOSE", sub]).to_string());
                self.subs.retain(|(c, s, _)| !(*c == client && *s == sub));
                self.subs.push((client, sub, filter));
            }
            "CLOSE" => {
                let sub = msg[1].as_str().unwrap();
                self.subs.retain(|(c, s, _)| !(*c == client && s == sub));
            }
            _ => {}
        }
    }

    fn left(&mut self, client: usize) {
        self.subs.retain(|(c, _, _)| *c != client);
        self.inbox.remove(&client);
    }
}

struct Device {
    id: usize,
    replica: Replica,
    postman: Postman,
    store: MemoryStore,
    links: MemoryLinks,
    ids: u64,
}

fn urls(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("ws://relay{i}")).collect()
}

impl Device {
    fn new(
        id: usize,
        room: RoomDoc,
        secret: &RoomSecret,
        relays: usize,
        marks: &BTreeMap<String, RelayMark>,
        now: i64,
    ) -> Self {
        Device {
            id,
            replica: Replica::new(room, Identity::generate(), secret.clone(), Vec::new()),
            postman: Postman::new(secret.clone(), &urls(relays), marks, now),
            store: MemoryStore::default(),
            links: MemoryLinks::default(),
            ids: 0,
        }
    }

    fn post(&mut self, title: &str, now: i64) {
        support::post_offer(
            &mut self.replica,
            &mut self.store,
            &mut self.links,
            title,
            200,
            now,
        );
    }

    fn next_id(&mut self) -> [u8; 16] {
        self.ids += 1;
        let mut id = [0u8; 16];
        id[..8].copy_from_slice(&self.ids.to_be_bytes());
        id[8..].copy_from_slice(&(self.id as u64).to_be_bytes());
        id
    }

    fn mail(&mut self, now: i64) -> Vec<Out> {
        let mut n = 0u64;
        let me = self.id as u64;
        let plains = self.replica.take_mail(|| {
            n += 1;
            let mut id = [0u8; 16];
            id[..8].copy_from_slice(&n.to_be_bytes());
            id[8..].copy_from_slice(&(me + (now as u64) * 8).to_be_bytes());
            id
        });
        self.postman.publish(&plains, now).1
    }

    fn snapshot(&mut self, now: i64) -> Vec<Out> {
        let id = self.next_id();
        let plains = self.replica.snapshot_mail(id);
        self.postman.publish(&plains, now).1
    }

    fn posts(&self) -> Vec<String> {
        let mut titles: Vec<String> = self
            .replica
            .room()
            .posts()
            .into_iter()
            .map(|p| p.title)
            .collect();
        titles.sort();
        titles
    }
}

/// Devices connected to relays, messages carried until nothing more is said.
struct Net {
    relays: Vec<Relay>,
    /// Relays each device is connected to.
    online: BTreeMap<usize, Vec<usize>>,
    /// Relays dropped by a device, and until when.
    dropped: BTreeMap<(usize, usize), i64>,
}

impl Net {
    fn new(relays: Vec<Relay>) -> Self {
        Net {
            relays,
            online: BTreeMap::new(),
            dropped: BTreeMap::new(),
        }
    }

    fn index(url: &str) -> usize {
        url.trim_start_matches("ws://relay").parse().unwrap()
    }

    fn deliver(&mut self, device: &mut Device, outs: Vec<Out>, _now: i64) {
        for out in outs {
            match out {
                Out::Send { relay, text } => {
                    let r = Net::index(&relay);
                    if self.online[&device.id].contains(&r) {
                        self.relays[r].handle(device.id, &text);
                    }
                }
                Out::Drop { relay, until } => {
                    let r = Net::index(&relay);
                    self.dropped.insert((device.id, r), until);
                    self.online.get_mut(&device.id).unwrap().retain(|x| *x != r);
                    self.relays[r].left(device.id);
                    device.postman.disconnected(&relay);
                }
            }
        }
    }

    /// Hands the relays what the device wrote since it last did.
    fn mail(&mut self, device: &mut Device, now: i64) {
        let outs = device.mail(now);
        self.deliver(device, outs, now);
    }

    /// Connects the device to every relay (not one it dropped, until then).
    fn connect(&mut self, device: &mut Device, now: i64) {
        let all = urls(self.relays.len());
        let usable: Vec<usize> = (0..self.relays.len())
            .filter(|r| self.dropped.get(&(device.id, *r)).is_none_or(|u| now >= *u))
            .collect();
        self.online.insert(device.id, usable.clone());
        for r in usable {
            let outs = device.postman.connected(&all[r], now);
            self.deliver(device, outs, now);
        }
        self.settle(device, now);
    }

    fn disconnect(&mut self, device: &mut Device) {
        for r in self.online.remove(&device.id).unwrap_or_default() {
            self.relays[r].left(device.id);
            device.postman.disconnected(&urls(self.relays.len())[r]);
        }
    }

    /// Carries messages to the device until the relays have nothing more for it; applies what
    /// opens. Returns how many payloads were applied.
    fn settle(&mut self, device: &mut Device, now: i64) -> usize {
        let all = urls(self.relays.len());
        let mut applied = 0;
        for _ in 0..100_000 {
            let mut quiet = true;
            for r in self.online.get(&device.id).cloned().unwrap_or_default() {
                let Some(text) = self.relays[r]
                    .inbox
                    .get_mut(&device.id)
                    .and_then(VecDeque::pop_front)
                else {
                    continue;
                };
                quiet = false;
                let got = device.postman.received(&all[r], &text, now);
                for (_, payload) in got.payloads {
                    device.replica.mailbox_received(
                        &payload,
                        now,
                        &mut device.store,
                        &mut device.links,
                    );
                    applied += 1;
                }
                self.deliver(device, got.out, now);
            }
            if quiet {
                return applied;
            }
        }
        panic!("the relays never fell quiet");
    }

    /// Ticks the device for `seconds`, a second at a time, carrying what it says.
    fn run(&mut self, device: &mut Device, from: i64, seconds: i64) {
        for s in 0..seconds {
            let now = from + s * 1000;
            let outs = device.postman.tick(now);
            self.deliver(device, outs, now);
            self.settle(device, now);
        }
    }
}

const ROOM: &str = "postman-room";

fn created() -> RoomDoc {
    RoomDoc::create(ROOM, "Garden", NOW).unwrap()
}

/// The same room, read again from its saved bytes (a device opening it again).
fn reopened(room: &mut RoomDoc) -> RoomDoc {
    let saved = room.doc_mut().save();
    RoomDoc::load_chunks(ROOM, [saved.as_slice()]).unwrap()
}

fn empty() -> RoomDoc {
    RoomDoc::empty(ROOM)
}

#[test]
fn a_device_gets_the_room_from_relays_that_cap_answers_page_by_page() {
    for inclusive in [false, true] {
        gets_the_room_page_by_page(inclusive);
    }
}

fn gets_the_room_page_by_page(inclusive: bool) {
    let secret = RoomSecret::generate();
    let room = created();
    let mut net = Net::new(vec![Relay::with(Faults {
        cap: 7,
        inclusive,
        ..Faults::default()
    })]);
    let mut ana = Device::new(0, room, &secret, 1, &BTreeMap::new(), NOW);
    net.connect(&mut ana, NOW);
    for i in 0..60 {
        let now = NOW + i * 1000;
        ana.post(&format!("post {i:02}"), now);
        net.mail(&mut ana, now);
        net.run(&mut ana, now, 1);
    }
    assert_eq!(ana.postman.ledger().waiting(), 0, "every event stored");
    net.disconnect(&mut ana);
    let mut ben = Device::new(1, empty(), &secret, 1, &BTreeMap::new(), NOW);
    net.connect(&mut ben, NOW + 120_000);
    assert_eq!(ben.posts(), ana.posts());
    assert_eq!(ben.posts().len(), 60);
    let marks = ben.postman.marks();
    assert!(marks["ws://relay0"].caught_up.is_some());
}

#[test]
fn a_relay_that_says_slow_down_is_left_alone_for_a_while_and_gets_everything() {
    let secret = RoomSecret::generate();
    let room = created();
    let mut net = Net::new(vec![Relay::with(Faults {
        rate_limit_every: 3,
        ..Faults::default()
    })]);
    let mut ana = Device::new(0, room, &secret, 1, &BTreeMap::new(), NOW);
    net.connect(&mut ana, NOW);
    for i in 0..12 {
        ana.post(&format!("post {i}"), NOW);
        net.mail(&mut ana, NOW);
    }
    net.settle(&mut ana, NOW);
    let status = ana.postman.status(NOW);
    assert!(status[0].slowed_until.is_some(), "shown as slowed down");
    assert!(ana.postman.ledger().waiting() > 0);
    // Nothing goes to it while it asked to wait (2 s at first), though events wait.
    assert!(status[0].queued > 0);
    let before = net.relays[0].published;
    let outs = ana.postman.tick(NOW + 1_000);
    net.deliver(&mut ana, outs, NOW + 1_000);
    assert_eq!(net.relays[0].published, before);
    net.run(&mut ana, NOW + 1000, 600);
    assert_eq!(ana.postman.ledger().waiting(), 0);
    assert_eq!(ana.postman.ledger().reached(), Some(1));
}

#[test]
fn nothing_claims_delivery_a_relay_did_not_confirm() {
    let secret = RoomSecret::generate();
    let room = created();
    let mut net = Net::new(vec![
        Relay::with(Faults {
            silent: true,
            ..Faults::default()
        }),
        Relay::with(Faults {
            max_content: 10,
            ..Faults::default()
        }),
    ]);
    let mut ana = Device::new(0, room, &secret, 2, &BTreeMap::new(), NOW);
    net.connect(&mut ana, NOW);
    ana.post("hello", NOW);
    net.mail(&mut ana, NOW);
    net.run(&mut ana, NOW, 90);
    assert_eq!(ana.postman.ledger().reached(), Some(0));
    assert!(ana.postman.ledger().waiting() > 0);
    let refused = ana.postman.status(NOW)[1].refused.clone();
    assert_eq!(refused.as_deref(), Some("invalid: event too large"));
    // The silent relay is asked again, not counted.
    assert!(net.relays[0].published > 1);
}

#[test]
fn a_relay_that_lost_everything_is_given_it_again_by_the_next_device_online() {
    let secret = RoomSecret::generate();
    let room = created();
    let mut net = Net::new(vec![Relay::default(), Relay::default()]);
    let mut ana = Device::new(0, room, &secret, 2, &BTreeMap::new(), NOW);
    net.connect(&mut ana, NOW);
    for i in 0..5 {
        ana.post(&format!("post {i}"), NOW);
    }
    net.mail(&mut ana, NOW);
    net.settle(&mut ana, NOW);
    net.disconnect(&mut ana);
    let held: Vec<Value> = net.relays[0].events.clone();
    assert!(!held.is_empty());
    net.relays[1].events.clear();
    let mut ben = Device::new(1, empty(), &secret, 2, &BTreeMap::new(), NOW);
    net.connect(&mut ben, NOW + 60_000);
    assert_eq!(ben.posts().len(), 5);
    // The same signed events, as they were.
    let ids = |r: &Relay| {
        let mut ids: Vec<String> = r.events.iter().map(|e| e["id"].to_string()).collect();
        ids.sort();
        ids
    };
    assert_eq!(ids(&net.relays[1]), ids(&net.relays[0]));
    // A third device reading only the repaired relay gets the room.
    net.relays[0].events.clear();
    let mut cy = Device::new(2, empty(), &secret, 2, &BTreeMap::new(), NOW);
    net.connect(&mut cy, NOW + 120_000);
    assert_eq!(cy.posts().len(), 5);
}

/// Events under the room's topic that do not open with its key (a link holder knows the topic
/// too) are ignored, not held against the relay; a relay that sends unreadable messages is
/// dropped, and the room still arrives through the other.
#[test]
fn a_relay_that_sends_garbage_is_dropped_and_the_room_still_arrives() {
    let secret = RoomSecret::generate();
    let room = created();
    let mut net = Net::new(vec![
        Relay::default(),
        Relay::default(),
        Relay::with(Faults {
            garbage: GARBAGE_LIMIT,
            ..Faults::default()
        }),
    ]);
    let mut ana = Device::new(0, room, &secret, 3, &BTreeMap::new(), NOW);
    net.connect(&mut ana, NOW);
    ana.post("real", NOW);
    net.mail(&mut ana, NOW);
    net.settle(&mut ana, NOW);
    net.disconnect(&mut ana);
    // Relay 1 also holds events under the room's topic sealed with another key, well formed
    // and signed.
    let other = RoomSecret::generate();
    let topic = mailbox::publishing(&secret, NOW);
    let key = tequio::sync::nostr::NostrKey::generate();
    for i in 0..(GARBAGE_LIMIT + 5) {
        let plain = Plain {
            kind: mailbox::Kind::Changes,
            id: [i as u8; 16],
            part: 0,
            parts: 1,
            payload: vec![1, 2, 3],
        };
        let (_, msg) = key.stored_event(
            &topic,
            &plain.seal(&other.room_key()),
            (NOW / 1000) as u64,
            None,
        );
        net.relays[1].handle(99, &msg);
    }
    let mut ben = Device::new(1, empty(), &secret, 3, &BTreeMap::new(), NOW);
    net.connect(&mut ben, NOW + 60_000);
    assert_eq!(ben.posts(), vec!["real".to_owned()]);
    let status = ben.postman.status(NOW + 61_000);
    assert!(status[2].dropped_until.is_some(), "shown as dropped");
    assert!(!status[2].up);
    assert!(status[1].dropped_until.is_none(), "not the relay's fault");
    assert!(status[0].dropped_until.is_none());
}

#[test]
fn a_weekly_snapshot_lets_a_new_device_start_when_older_batches_are_gone() {
    let secret = RoomSecret::generate();
    let room = created();
    let mut net = Net::new(vec![Relay::default()]);
    let mut ana = Device::new(0, room, &secret, 1, &BTreeMap::new(), NOW);
    net.connect(&mut ana, NOW);
    for i in 0..3 {
        ana.post(&format!("old {i}"), NOW);
    }
    net.mail(&mut ana, NOW);
    net.settle(&mut ana, NOW);
    assert!(ana.postman.snapshot_due(NOW));
    let batches = net.relays[0].events.len();
    let outs = ana.snapshot(NOW);
    net.deliver(&mut ana, outs, NOW);
    net.settle(&mut ana, NOW);
    assert!(!ana.postman.snapshot_due(NOW), "one a week");
    // The relay forgets the batches; the snapshot is left.
    net.relays[0].events.drain(..batches);
    assert!(!net.relays[0].events.is_empty());
    net.disconnect(&mut ana);
    let mut ben = Device::new(1, empty(), &secret, 1, &BTreeMap::new(), NOW);
    net.connect(&mut ben, NOW + 60_000);
    assert_eq!(ben.posts(), ana.posts());
    // A device seeing this week's snapshot publishes none.
    assert!(!ben.postman.snapshot_due(NOW + 60_000));
}

#[test]
fn devices_never_online_together_converge_and_cursors_resume_where_they_left_off() {
    let secret = RoomSecret::generate();
    let room = created();
    let mut net = Net::new(vec![
        Relay::with(Faults {
            cap: 5,
            ..Faults::default()
        }),
        Relay::default(),
        Relay::with(Faults {
            rate_limit_every: 4,
            ..Faults::default()
        }),
    ]);
    let mut marks: Vec<BTreeMap<String, RelayMark>> = vec![BTreeMap::new(); 3];
    let mut docs: Vec<RoomDoc> = vec![room, empty(), empty()];
    let mut now = NOW;
    for round in 0..4 {
        for d in 0..3 {
            now += 60_000;
            let doc = std::mem::replace(&mut docs[d], empty());
            let mut device = Device::new(d, doc, &secret, 3, &marks[d], now);
            net.connect(&mut device, now);
            if device.replica.room().is_ready() {
                device.post(&format!("round {round} device {d}"), now);
                net.mail(&mut device, now);
            }
            net.run(&mut device, now, 120);
            assert_eq!(device.postman.ledger().waiting(), 0);
            marks[d] = device.postman.marks();
            net.disconnect(&mut device);
            docs[d] = reopened(device.replica.room_mut());
        }
    }
    let posts: Vec<Vec<String>> = docs
        .iter()
        .map(|d| {
            let mut t: Vec<String> = d.posts().into_iter().map(|p| p.title).collect();
            t.sort();
            t
        })
        .collect();
    // Each saw everything written up to its last opening (the last device, all of it).
    assert_eq!(
        posts.iter().map(Vec::len).collect::<Vec<_>>(),
        vec![10, 11, 12]
    );
    assert!(posts[0].iter().all(|p| posts[2].contains(p)));
    // Resumed cursors: a device asks from where it left off, not from the week before.
    let since = marks[0]["ws://relay1"].cursor.since(now);
    assert!(since > ((now / 1000) as u64).saturating_sub(24 * 3600));
}

/// What the browser keeps of the mailbox with the room between openings (see
/// `Replica::resume_mail`).
#[derive(Default, Clone)]
struct Kept {
    heads: Vec<String>,
    actors: Vec<String>,
}

/// Ben writes while no relay is reachable and closes the app; his edit reaches the relay the
/// next time he opens the room online, and Ana, opening later, gets it.
#[test]
fn what_was_written_offline_is_mailed_at_the_next_opening() {
    let secret = RoomSecret::generate();
    let mut net = Net::new(vec![Relay::default()]);
    let mut ana = Device::new(0, created(), &secret, 1, &BTreeMap::new(), NOW);
    net.connect(&mut ana, NOW);
    net.mail(&mut ana, NOW);
    net.settle(&mut ana, NOW);
    net.disconnect(&mut ana);
    let mut ana_doc = reopened(ana.replica.room_mut());

    let mut kept = Kept::default();
    let mut ben = Device::new(1, empty(), &secret, 1, &BTreeMap::new(), NOW);
    net.connect(&mut ben, NOW + 1_000);
    assert!(ben.replica.room().is_ready());
    net.disconnect(&mut ben);
    // Offline: the edit is made and queued, and nothing reaches a relay.
    ben.replica.resume_mail(&kept.heads, &kept.actors);
    kept.actors.push(ben.replica.mail_mark().1);
    ben.post("written offline", NOW + 2_000);
    net.mail(&mut ben, NOW + 2_000);
    assert_eq!(ben.postman.ledger().reached(), Some(0));
    let ben_doc = reopened(ben.replica.room_mut());

    // Reopened online.
    let later = NOW + 3_600_000;
    let mut ben = Device::new(1, ben_doc, &secret, 1, &BTreeMap::new(), later);
    ben.replica.resume_mail(&kept.heads, &kept.actors);
    net.connect(&mut ben, later);
    net.mail(&mut ben, later);
    net.settle(&mut ben, later);
    assert_eq!(ben.postman.ledger().waiting(), 0);
    assert_eq!(ben.postman.ledger().reached(), Some(1));
    // Reached a relay: kept as mailed, with only this opening's actor.
    kept = Kept {
        heads: ben.replica.mail_mark().0,
        actors: vec![ben.replica.mail_mark().1],
    };
    net.disconnect(&mut ben);

    let mut ana = Device::new(
        0,
        reopened(&mut ana_doc),
        &secret,
        1,
        &BTreeMap::new(),
        later,
    );
    net.connect(&mut ana, later + 60_000);
    assert!(ana.posts().contains(&"written offline".to_owned()));

    // The next opening mails nothing again.
    let mut ben = Device::new(
        1,
        reopened(ben.replica.room_mut()),
        &secret,
        1,
        &BTreeMap::new(),
        later,
    );
    ben.replica.resume_mail(&kept.heads, &kept.actors);
    assert!(ben.replica.take_mail(|| [0; 16]).is_empty());
}

/// A relay that floods — answering with more events than asked for, or pushing more new events
/// than any room writes — is dropped too; each event it sent was valid, and so was each of its
/// messages.
#[test]
fn a_relay_that_floods_is_dropped() {
    let secret = RoomSecret::generate();
    // One event, sent again and again (a flood need not be new to flood).
    let (mut postman, sub) = lone_postman(&secret);
    let message = json!(["EVENT", sub, forged(&secret, 1, (NOW / 1000) as u64)]).to_string();
    let mut dropped = false;
    for _ in 0..PAGE + GARBAGE_LIMIT {
        let got = postman.received(LONE_RELAY, &message, NOW);
        dropped |= got.out.iter().any(|o| matches!(o, Out::Drop { .. }));
    }
    assert!(dropped, "more than asked for");
    // A stream of new events on the open request, past what any room writes in a minute
    // (each its own content: copies of one are not new).
    let (mut postman, sub) = lone_postman(&secret);
    postman.received(LONE_RELAY, &json!(["EOSE", sub]).to_string(), NOW);
    let mut dropped_at = None;
    for i in 0..LIVE_PER_MINUTE + GARBAGE_LIMIT {
        let live = forged(&secret, i as u64, (NOW / 1000) as u64);
        let got = postman.received(
            LONE_RELAY,
            &json!(["EVENT", sub, live]).to_string(),
            NOW + i as i64,
        );
        if got.out.iter().any(|o| matches!(o, Out::Drop { .. })) {
            dropped_at.get_or_insert(i);
        }
    }
    assert_eq!(dropped_at, Some(LIVE_PER_MINUTE + GARBAGE_LIMIT - 1));
    assert!(postman.status(NOW + 1_000)[0].dropped_until.is_some());
}

const LONE_RELAY: &str = "ws://relay0";

/// A postman with one relay, connected at `NOW`, and the subscription of its first request.
fn lone_postman(secret: &RoomSecret) -> (Postman, String) {
    let mut postman = Postman::new(
        secret.clone(),
        &[LONE_RELAY.to_owned()],
        &BTreeMap::new(),
        NOW,
    );
    let asked = postman.connected(LONE_RELAY, NOW);
    let Some(Out::Send { text, .. }) = asked.first() else {
        panic!("a request")
    };
    let sub = serde_json::from_str::<Value>(text).unwrap()[1]
        .as_str()
        .unwrap()
        .to_owned();
    (postman, sub)
}

/// An event of the room's mailbox with payload `n`, as a relay may make one: its id is right,
/// its signature is not checked by readers (relays check it), its content opens.
fn forged(secret: &RoomSecret, n: u64, created_at: u64) -> Value {
    let topic = mailbox::publishing(secret, NOW);
    let plain = Plain {
        kind: mailbox::Kind::Changes,
        id: [0; 16],
        part: 0,
        parts: 1,
        payload: n.to_be_bytes().to_vec(),
    };
    forged_with(&json!({
        "pubkey": "ab".repeat(32),
        "created_at": created_at,
        "kind": topic.kind,
        "tags": [["t", topic.name]],
        "content": plain.seal(&secret.room_key()),
        "sig": "00".repeat(64),
    }))
}

/// A relay that re-signs what it holds under new ids (or replays one content for ever) makes
/// nothing count twice, and cannot keep a device paging: copies are not new.
#[test]
fn copies_of_one_content_under_new_ids_are_not_new() {
    let secret = RoomSecret::generate();
    let (mut postman, sub) = lone_postman(&secret);
    let original = forged(&secret, 7, (NOW / 1000) as u64);
    let got = postman.received(
        LONE_RELAY,
        &json!(["EVENT", sub, original]).to_string(),
        NOW,
    );
    assert_eq!(got.payloads.len(), 1);
    // The same content under other ids (another time, so another id).
    let mut payloads = 0;
    for i in 1..50u64 {
        let mut copy = original.clone();
        copy["created_at"] = json!((NOW / 1000) as u64 - i);
        let copy = forged_with(&copy);
        payloads += postman
            .received(LONE_RELAY, &json!(["EVENT", sub, copy]).to_string(), NOW)
            .payloads
            .len();
    }
    assert_eq!(payloads, 0, "a copy is read once");
    // Its answer ends: nothing new came but the first, so one page back and no more.
    let got = postman.received(LONE_RELAY, &json!(["EOSE", sub]).to_string(), NOW);
    let pages = got
        .out
        .iter()
        .filter(|o| matches!(o, Out::Send { text, .. } if text.starts_with("[\"REQ\"")))
        .count();
    assert_eq!(pages, 1);
}

/// `event` with the id its fields give it (NIP-01), as after a field changed.
fn forged_with(event: &Value) -> Value {
    use sha2::{Digest, Sha256};
    let id = Sha256::digest(
        json!([
            0,
            event["pubkey"],
            event["created_at"],
            event["kind"],
            event["tags"],
            event["content"]
        ])
        .to_string()
        .as_bytes(),
    );
    let mut event = event.clone();
    event["id"] = json!(id.iter().map(|b| format!("{b:02x}")).collect::<String>());
    event
}

/// A snapshot in more parts than a relay answers per request, all made in one second, still
/// arrives whole: its parts are stamped over several seconds, and pages go back by seconds.
#[test]
fn a_snapshot_in_more_parts_than_a_relay_answers_at_once_arrives_whole() {
    for inclusive in [false, true] {
        snapshot_in_many_parts(inclusive);
    }
}

fn snapshot_in_many_parts(inclusive: bool) {
    let secret = RoomSecret::generate();
    // A cap above the events of one second (`PER_STAMP`), below a snapshot's parts.
    const { assert!(PER_STAMP < 60) };
    let mut net = Net::new(vec![Relay::with(Faults {
        cap: 60,
        inclusive,
        ..Faults::default()
    })]);
    let mut ana = Device::new(0, created(), &secret, 1, &BTreeMap::new(), NOW);
    net.connect(&mut ana, NOW);
    for i in 0..400 {
        ana.post(&format!("post {i:03}"), NOW);
    }
    let id = ana.next_id();
    // Parts of a snapshot cut small, as a large room's would be cut.
    let saved = ana.replica.room_mut().doc_mut().save();
    let plains: Vec<Plain> = saved
        .chunks(saved.len().div_ceil(120))
        .enumerate()
        .map(|(i, piece)| Plain {
            kind: mailbox::Kind::Snapshot,
            id,
            part: i as u16,
            parts: saved.len().div_ceil(saved.len().div_ceil(120)) as u16,
            payload: piece.to_vec(),
        })
        .collect();
    assert!(plains.len() > 100);
    let outs = ana.postman.publish(&plains, NOW).1;
    net.deliver(&mut ana, outs, NOW);
    net.run(&mut ana, NOW, 40);
    assert_eq!(ana.postman.ledger().waiting(), 0);
    net.disconnect(&mut ana);
    let mut ben = Device::new(1, empty(), &secret, 1, &BTreeMap::new(), NOW);
    net.connect(&mut ben, NOW + 60_000);
    assert_eq!(ben.posts().len(), 400);
}

/// A catch-up cut short (the connection lost after the newest page) is asked for again from
/// where the last whole one ended, not from the newest event heard.
#[test]
fn an_interrupted_catch_up_is_taken_up_again_from_before_it() {
    let secret = RoomSecret::generate();
    let mut net = Net::new(vec![Relay::with(Faults {
        cap: 10,
        ..Faults::default()
    })]);
    let mut ana = Device::new(0, created(), &secret, 1, &BTreeMap::new(), NOW);
    net.connect(&mut ana, NOW);
    // Half an hour of posts: more than the margin a cursor keeps.
    for i in 0..60 {
        let now = NOW + i * 30_000;
        ana.post(&format!("post {i:02}"), now);
        net.mail(&mut ana, now);
        net.run(&mut ana, now, 1);
    }
    net.disconnect(&mut ana);
    // Ben reads the first page only, and is cut off.
    let later = NOW + 3_600_000;
    let mut ben = Device::new(1, empty(), &secret, 1, &BTreeMap::new(), later);
    net.online.insert(1, vec![0]);
    let outs = ben.postman.connected("ws://relay0", later);
    net.deliver(&mut ben, outs, later);
    for _ in 0..11 {
        let text = net.relays[0]
            .inbox
            .get_mut(&1)
            .unwrap()
            .pop_front()
            .unwrap();
        ben.postman.received("ws://relay0", &text, later);
    }
    net.disconnect(&mut ben);
    let marks = ben.postman.marks();
    // Opened again: the rest arrives.
    let mut ben = Device::new(
        1,
        reopened(ben.replica.room_mut()),
        &secret,
        1,
        &marks,
        later,
    );
    net.connect(&mut ben, later + 60_000);
    assert_eq!(ben.posts().len(), 60);
}

/// Events of another week or key (the room moved on to a new key while a page was under way)
/// are not the relay's fault: however many come, it is not dropped, and none is read.
#[test]
fn events_of_a_mailbox_no_longer_read_hold_nothing_against_the_relay() {
    let secret = RoomSecret::generate();
    let (mut postman, sub) = lone_postman(&secret);
    let former = RoomSecret::generate();
    for i in 0..(GARBAGE_LIMIT * 3) as u64 {
        let event = forged(&former, i, (NOW / 1000) as u64);
        let got = postman.received(LONE_RELAY, &json!(["EVENT", sub, event]).to_string(), NOW);
        assert!(got.payloads.is_empty());
        assert!(!got.out.iter().any(|o| matches!(o, Out::Drop { .. })));
    }
    assert!(postman.status(NOW)[0].dropped_until.is_none());
}
