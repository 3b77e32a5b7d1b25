//! The room's mailbox driven natively: replicas that are never online together publish what
//! they write as sealed events to a simulated relay and catch up from it, with hostile events
//! among the genuine ones.
#![cfg(not(target_arch = "wasm32"))]

mod support;

use support::leb;
use tequio::crypto::{Identity, RoomKey, RoomSecret};
use tequio::domain::{Profile, RoomDoc};
use tequio::replica::memory::{MemoryLinks, MemoryStore};
use tequio::replica::{Outcome, Replica};
use tequio::sync::mailbox::{self, Assembler, Cursor, Kind, Plain};
use tequio::sync::topic::Topic;

const NOW: i64 = 1_800_000_000_000;

/// One stored event as a relay keeps it.
struct Event {
    created_at: u64,
    topic: Topic,
    content: String,
}

/// A relay: keeps every event, returns those on the asked topics since a time.
#[derive(Default)]
struct Relay {
    events: Vec<Event>,
}

impl Relay {
    fn publish(&mut self, secret: &RoomSecret, plains: &[Plain], now: i64) {
        let topic = mailbox::publishing(secret, now);
        for p in plains {
            self.events.push(Event {
                created_at: (now / 1000) as u64,
                topic: topic.clone(),
                content: p.seal(&secret.room_key()),
            });
        }
    }

    fn since<'a>(&'a self, topics: &'a [Topic], since: u64) -> impl Iterator<Item = &'a Event> {
        self.events
            .iter()
            .filter(move |e| topics.contains(&e.topic) && e.created_at >= since)
    }
}

struct Device {
    replica: Replica,
    store: MemoryStore,
    links: MemoryLinks,
    cursor: Cursor,
    assembler: Assembler,
    ids: u64,
}

impl Device {
    fn new(room: RoomDoc, secret: &RoomSecret) -> Device {
        Device {
            replica: Replica::new(room, Identity::generate(), secret.clone(), Vec::new()),
            store: MemoryStore::default(),
            links: MemoryLinks::default(),
            cursor: Cursor::default(),
            assembler: Assembler::default(),
            ids: 0,
        }
    }

    fn post(&mut self, title: &str, now: i64) {
        support::post_offer(
            &mut self.replica,
            &mut self.store,
            &mut self.links,
            title,
            300,
            now,
        );
    }

    fn send(&mut self, relay: &mut Relay, secret: &RoomSecret, now: i64) -> usize {
        let ids = &mut self.ids;
        let plains = self.replica.take_mail(|| {
            *ids += 1;
            let mut id = [0u8; 16];
            id[..8].copy_from_slice(&ids.to_be_bytes());
            id
        });
        relay.publish(secret, &plains, now);
        plains.len()
    }

    /// Catches up from the relay: every event since the cursor, opened, put together and
    /// applied. Returns the outcomes of the whole payloads.
    fn catch_up(&mut self, relay: &Relay, secret: &RoomSecret, now: i64) -> Vec<Outcome> {
        let key: RoomKey = secret.room_key();
        let topics = mailbox::reading(secret, now);
        let mut outcomes = Vec::new();
        for event in relay.since(&topics, self.cursor.since(now)) {
            self.cursor.heard(event.created_at, (now / 1000) as u64);
            let Ok(plain) = Plain::open(&key, &event.content) else {
                continue;
            };
            if let Some((_, payload)) = self.assembler.push(plain) {
                outcomes.push(self.replica.mailbox_received(
                    &payload,
                    now,
                    &mut self.store,
                    &mut self.links,
                ));
            }
        }
        outcomes
    }

    fn titles(&self) -> Vec<String> {
        let mut t: Vec<String> = self
            .replica
            .room()
            .posts()
            .into_iter()
            .map(|p| p.title)
            .collect();
        t.sort();
        t
    }
}

/// Ana writes and closes; Ben, never online with her, opens the link later and gets the whole
/// room from the relay alone; what Ben writes reaches Ana's device the next time it opens.
#[test]
fn members_never_online_together_share_the_room_through_the_relay() {
    let secret = RoomSecret::generate();
    let mut relay = Relay::default();
    let mut ana = Device::new(RoomDoc::create("room-1", "Commons", 0).unwrap(), &secret);
    for i in 0..40 {
        ana.post(&format!("post {i}"), NOW + i);
    }
    let events = ana.send(&mut relay, &secret, NOW + 100);
    assert!(events >= 1);
    assert!(
        ana.send(&mut relay, &secret, NOW + 101) == 0,
        "nothing new: nothing sent"
    );

    // A day later Ben opens the link; Ana is gone.
    let later = NOW + 24 * 3_600_000;
    let mut ben = Device::new(RoomDoc::empty("room-1"), &secret);
    let outcomes = ben.catch_up(&relay, &secret, later);
    assert!(outcomes.contains(&Outcome::Changed), "{outcomes:?}");
    assert!(ben.replica.room().is_ready());
    assert_eq!(ben.titles(), ana.titles());
    ben.post("from Ben", later + 1);
    ben.send(&mut relay, &secret, later + 2);

    // Ana opens again the next week: what came since her last look.
    let next_week = later + 6 * 24 * 3_600_000;
    ana.catch_up(&relay, &secret, next_week);
    assert!(ana.titles().contains(&"from Ben".to_string()));
    assert_eq!(
        ana.replica.room_mut().doc_mut().get_heads(),
        ben.replica.room_mut().doc_mut().get_heads()
    );
}

/// A change too large for one event (a long page: more than the event's largest payload,
/// `MAX_PAYLOAD`, once compressed) goes in parts and arrives whole.
#[test]
fn a_change_larger_than_an_event_arrives_in_parts() {
    let secret = RoomSecret::generate();
    let mut relay = Relay::default();
    let mut ana = Device::new(RoomDoc::create("room-1", "Commons", 0).unwrap(), &secret);
    let profile = Profile {
        name: "Ana".into(),
        ..Profile::default()
    };
    ana.replica
        .command(
            |room, me, at| room.found(me, profile, at),
            NOW + 1,
            &mut ana.store,
            &mut ana.links,
        )
        .unwrap();
    // Random text from 64 characters: it does not compress below two events' size.
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let text: String = (0..90_000)
        .map(|_| {
            x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            char::from(ALPHABET[(x >> 58) as usize])
        })
        .collect();
    ana.replica
        .command(
            |room, me, at| room.create_page(me, "Handbook", &text, at),
            NOW + 2,
            &mut ana.store,
            &mut ana.links,
        )
        .unwrap();
    let events = ana.send(&mut relay, &secret, NOW + 3);
    assert!(
        events >= 3,
        "the page's change went in parts: {events} events"
    );
    let mut ben = Device::new(RoomDoc::empty("room-1"), &secret);
    ben.catch_up(&relay, &secret, NOW + 10);
    let pages = ben.replica.room().pages();
    assert_eq!(pages.len(), 1);
    assert_eq!(pages[0].body, text);
}

/// Among the genuine events: another room's, garbage, and a deflate bomb sealed with the room
/// key (a link holder's). Each is refused; the room arrives whole all the same.
#[test]
fn hostile_events_on_the_relay_are_refused_and_the_room_still_arrives() {
    let secret = RoomSecret::generate();
    let mut relay = Relay::default();
    let mut ana = Device::new(RoomDoc::create("room-1", "Commons", 0).unwrap(), &secret);
    ana.post("genuine", NOW + 1);
    // A link holder's events first: a bomb (a compressed change inflating past the cap), and
    // bytes that are no chunks at all, both sealed with the room key.
    let mut bomb = vec![0x85, 0x6f, 0x4a, 0x83, 0, 0, 0, 0, 2];
    let deflated = {
        use std::io::Write;
        let mut d = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
        let zeros = vec![0u8; 1 << 20];
        for _ in 0..129 {
            d.write_all(&zeros).unwrap();
        }
        d.finish().unwrap()
    };
    leb(&mut bomb, deflated.len() as u64);
    bomb.extend(&deflated);
    let hostile = [
        mailbox::parts(Kind::Changes, &bomb, [1; 16]),
        mailbox::parts(Kind::Changes, b"not automerge at all", [2; 16]),
    ]
    .concat();
    relay.publish(&secret, &hostile, NOW + 2);
    // Another room's event, and garbage content, on the same topic.
    let other = RoomSecret::generate();
    let topic = mailbox::publishing(&secret, NOW + 2);
    relay.events.push(Event {
        created_at: (NOW / 1000) as u64,
        topic: topic.clone(),
        content: mailbox::parts(Kind::Changes, b"x", [4; 16])[0].seal(&other.room_key()),
    });
    relay.events.push(Event {
        created_at: (NOW / 1000) as u64,
        topic,
        content: "%%%not base64%%%".into(),
    });
    ana.send(&mut relay, &secret, NOW + 3);

    let mut ben = Device::new(RoomDoc::empty("room-1"), &secret);
    let outcomes = ben.catch_up(&relay, &secret, NOW + 10);
    let refused = outcomes
        .iter()
        .filter(|o| matches!(o, Outcome::Refused(_)))
        .count();
    assert_eq!(refused, 2, "{outcomes:?}");
    assert_eq!(ben.titles(), ["genuine"]);
}

/// A relay that may drop every n-th event it is sent, refuse large ones, and forget.
#[derive(Default)]
struct Unreliable {
    relay: Relay,
    drop_every: Option<usize>,
    refuse_over: Option<usize>,
    sent: usize,
}

impl Unreliable {
    fn accept(&mut self, event: Event) -> bool {
        self.sent += 1;
        if self.drop_every.is_some_and(|n| self.sent.is_multiple_of(n))
            || self
                .refuse_over
                .is_some_and(|max| event.content.len() > max)
        {
            return false;
        }
        if !self.relay.events.iter().any(|e| e.content == event.content) {
            self.relay.events.push(event);
        }
        true
    }

    fn forget_everything(&mut self) {
        self.relay.events.clear();
    }
}

/// Publishes to every relay (each may refuse or drop it).
fn publish_all(relays: &mut [Unreliable], secret: &RoomSecret, plains: &[Plain], now: i64) {
    let topic = mailbox::publishing(secret, now);
    for p in plains {
        let content = p.seal(&secret.room_key());
        for r in relays.iter_mut() {
            r.accept(Event {
                created_at: (now / 1000) as u64,
                topic: topic.clone(),
                content: content.clone(),
            });
        }
    }
}

/// What an online device does: catch up from every relay, publish what it wrote, a snapshot
/// if none was seen this week, and give each relay what another holds.
fn online(device: &mut Device, relays: &mut [Unreliable], secret: &RoomSecret, now: i64) {
    let topics = mailbox::reading(secret, now);
    for r in relays.iter() {
        // Both windows from each relay every time (a cursor of its own, fresh).
        let mut cursor = Cursor::default();
        let key = secret.room_key();
        for event in r.relay.since(&topics, cursor.since(now)) {
            cursor.heard(event.created_at, (now / 1000) as u64);
            if let Ok(plain) = Plain::open(&key, &event.content) {
                if let Some((_, payload)) = device.assembler.push(plain) {
                    device.replica.mailbox_received(
                        &payload,
                        now,
                        &mut device.store,
                        &mut device.links,
                    );
                }
            }
        }
    }
    let ids = &mut device.ids;
    let mut next_id = || {
        *ids += 1;
        let mut id = [0u8; 16];
        id[..8].copy_from_slice(&ids.to_be_bytes());
        id
    };
    let mail = device.replica.take_mail(&mut next_id);
    publish_all(relays, secret, &mail, now);
    let last_snapshot = relays
        .iter()
        .flat_map(|r| r.relay.since(&topics, 0))
        .filter(|e| {
            Plain::open(&secret.room_key(), &e.content).is_ok_and(|p| p.kind == Kind::Snapshot)
        })
        .map(|e| e.created_at)
        .max();
    if mailbox::snapshot_due(last_snapshot, now) {
        let snapshot = device.replica.snapshot_mail(next_id());
        publish_all(relays, secret, &snapshot, now);
    }
    // Repair: what one relay holds, every other is given.
    let held: std::collections::BTreeMap<String, std::collections::BTreeSet<String>> = relays
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let ids = r
                .relay
                .since(&topics, 0)
                .map(|e| e.content.clone())
                .collect();
            (i.to_string(), ids)
        })
        .collect();
    let plan: Vec<(usize, Vec<Event>)> = mailbox::repairs(&held)
        .into_iter()
        .map(|(relay, missing)| {
            let events = missing
                .into_iter()
                .filter_map(|content| {
                    relays
                        .iter()
                        .flat_map(|r| r.relay.events.iter())
                        .find(|e| e.content == content)
                        .map(|e| Event {
                            created_at: e.created_at,
                            topic: e.topic.clone(),
                            content: e.content.clone(),
                        })
                })
                .collect();
            (relay.parse().unwrap(), events)
        })
        .collect();
    for (i, events) in plan {
        for e in events {
            relays[i].accept(e);
        }
    }
}

/// Three relays — one drops every third event, one refuses events over 20 KB and later forgets
/// everything, one keeps all then forgets — and three members never online together: each
/// catches up, publishes, snapshots and repairs when online; every device ends with the same
/// room, and no relay is needed for good.
#[test]
fn members_converge_over_relays_that_drop_refuse_and_forget() {
    let secret = RoomSecret::generate();
    let mut relays = vec![
        Unreliable::default(),
        Unreliable {
            drop_every: Some(3),
            ..Unreliable::default()
        },
        Unreliable {
            refuse_over: Some(20_000),
            ..Unreliable::default()
        },
    ];
    let day = 24 * 3_600_000;
    let mut ana = Device::new(RoomDoc::create("room-1", "Commons", 0).unwrap(), &secret);
    for i in 0..30 {
        ana.post(&format!("Ana {i}"), NOW + i);
    }
    online(&mut ana, &mut relays, &secret, NOW + 100);

    let mut ben = Device::new(RoomDoc::empty("room-1"), &secret);
    online(&mut ben, &mut relays, &secret, NOW + day);
    assert_eq!(
        ben.titles(),
        ana.titles(),
        "Ben got the room from the relays"
    );
    for i in 0..10 {
        ben.post(&format!("Ben {i}"), NOW + day + 1 + i);
    }
    online(&mut ben, &mut relays, &secret, NOW + day + 100);

    // The relay that kept everything forgets it.
    relays[0].forget_everything();
    let mut cy = Device::new(RoomDoc::empty("room-1"), &secret);
    online(&mut cy, &mut relays, &secret, NOW + 2 * day);
    cy.post("Cy", NOW + 2 * day + 1);
    online(&mut cy, &mut relays, &secret, NOW + 2 * day + 100);
    // Then the one that refused large events forgets too.
    relays[2].forget_everything();
    online(&mut ana, &mut relays, &secret, NOW + 3 * day);
    online(&mut ben, &mut relays, &secret, NOW + 3 * day + 10);
    online(&mut cy, &mut relays, &secret, NOW + 3 * day + 20);

    let heads: Vec<_> = [&mut ana, &mut ben, &mut cy]
        .into_iter()
        .map(|d| d.replica.room_mut().doc_mut().get_heads())
        .collect();
    assert!(
        heads.iter().all(|h| *h == heads[0]),
        "every device holds the same room"
    );
    assert_eq!(ana.titles().len(), 30 + 10 + 1);
    // A device that has nothing gets the room from what is left on the relays.
    let mut dee = Device::new(RoomDoc::empty("room-1"), &secret);
    online(&mut dee, &mut relays, &secret, NOW + 3 * day + 30);
    assert_eq!(dee.titles(), ana.titles());
}
