//! The installed app's catch-up with no page open (browser only): the service worker runs it
//! on Periodic Background Sync, where the browser has it (Chromium, for an installed app).
//! For each room on the device, its mailbox is read on the configured relays from where this
//! device left off; what arrives goes through the room's replica exactly as when the room is
//! open (hostile until checked) and is saved; what now needs this device's member, and did not
//! before, comes back to be shown as a notification. Nothing is written to the rooms.

use crate::crypto::{Identity, RoomSecret};
use crate::domain::RoomDoc;
use crate::i18n::{lookup, Lang};
use crate::net::mailbox::Mailbox;
use crate::net::NetConfig;
use crate::replica::{ChunkStore, PeerLinks, Replica, Sent, StoreEvent, Unwritten};
use crate::store::{RoomRecord, Store};
use std::cell::RefCell;
use std::rc::Rc;

/// How long one room's relays are waited for.
const ROOM_MS: u32 = 20_000;

/// Something that needs this device's member, to show.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Reminder {
    pub room: String,
    pub title: String,
    pub body: String,
}

/// The store writes the replica asks for, carried out after each step (the replica's port is
/// synchronous; IndexedDB is not).
#[derive(Default)]
struct Writes(Vec<Write>);

enum Write {
    Append(u64, Vec<u8>),
    Compact(u64, Vec<u8>, Vec<String>),
}

impl ChunkStore for Writes {
    fn append(&mut self, op: u64, bytes: Vec<u8>) {
        self.0.push(Write::Append(op, bytes));
    }
    fn compact(&mut self, op: u64, snapshot: Vec<u8>, replaced: Vec<String>) {
        self.0.push(Write::Compact(op, snapshot, replaced));
    }
    fn keep_facts(&mut self, _facts: String) {}
}

/// No peers in the background.
struct NoPeers;

impl PeerLinks for NoPeers {
    fn send(&mut self, _peer: &str, _sealed: &[u8]) -> Sent {
        Sent::Closed
    }
    fn queued(&self, _peer: &str) -> usize {
        0
    }
    fn drop_peer(&mut self, _peer: &str, _until: i64) {}
}

fn now_ms() -> i64 {
    js_sys::Date::now() as i64
}

/// Carries out the replica's writes, telling it how each went (which may ask for more).
async fn write(store: &Store, room: &str, replica: &mut Replica, mut writes: Writes) {
    while !writes.0.is_empty() {
        let mut next = Writes::default();
        for w in std::mem::take(&mut writes.0) {
            let event = match w {
                Write::Append(op, bytes) => {
                    let result = match store.append_chunk(room, &bytes).await {
                        Ok(key) => Ok(key),
                        Err(e) => Err(Unwritten {
                            error: e.to_string(),
                            bytes,
                        }),
                    };
                    StoreEvent::Appended { op, result }
                }
                Write::Compact(op, snapshot, replaced) => StoreEvent::Compacted {
                    op,
                    result: store
                        .compact(room, &snapshot, &replaced)
                        .await
                        .map_err(|e| e.to_string()),
                },
            };
            replica.on_store(event, &mut next);
        }
        writes = next;
    }
}

/// What needs `me` in `room`, as text in `lang`.
fn needs(room: &RoomDoc, me: &str, lang: Lang) -> Vec<String> {
    room.needs_me(me, now_ms())
        .into_iter()
        .map(|n| {
            let values: Vec<String> = n.values.clone();
            crate::i18n::fill_strings(lookup(lang, n.phrase), &values)
        })
        .collect()
}

/// Catches up one room from its relays; returns what newly needs this device's member.
async fn room(
    store: &Store,
    mut record: RoomRecord,
    config: &NetConfig,
    lang: Lang,
) -> Vec<String> {
    let (Ok(secret), Some(me)) = (
        RoomSecret::from_base64url(&record.secret),
        Identity::from_secret(&record.identity),
    ) else {
        return Vec::new();
    };
    let Ok(loaded) = store.load_room(&record.id).await else {
        return Vec::new();
    };
    let facts = store.facts(&record.id).await;
    let Ok(mut doc) = RoomDoc::load_with_facts(
        &record.id,
        loaded.chunks.iter().map(Vec::as_slice),
        facts.as_deref(),
    ) else {
        return Vec::new();
    };
    doc.pin_founder((!record.founder.is_empty()).then(|| record.founder.clone()));
    let before = needs(&doc, &me.public(), lang);
    let mut replica = Replica::new(doc, me.clone(), secret, loaded.keys);
    if replica.cut_off() {
        return Vec::new();
    }
    let arrived: Rc<RefCell<Vec<Vec<u8>>>> = Rc::default();
    let deliver = {
        let arrived = arrived.clone();
        Rc::new(move |payload: Vec<u8>| arrived.borrow_mut().push(payload))
    };
    let started = now_ms();
    let mailbox = Mailbox::open(
        replica.secret().clone(),
        &config.nostr,
        &record.relays,
        deliver,
    );
    let deadline = started + i64::from(ROOM_MS);
    loop {
        gloo_timers::future::TimeoutFuture::new(200).await;
        mailbox.tick();
        let payloads = std::mem::take(&mut *arrived.borrow_mut());
        for payload in payloads {
            let mut writes = Writes::default();
            replica.mailbox_received(&payload, now_ms(), &mut writes, &mut NoPeers);
            write(store, &record.id, &mut replica, writes).await;
        }
        // Every relay has sent what it holds (or is out of reach, or dropped).
        let done = mailbox
            .status()
            .iter()
            .all(|r| r.caught_up.is_some_and(|at| at >= started) || r.dropped_until.is_some());
        if (done && arrived.borrow().is_empty()) || now_ms() > deadline {
            break;
        }
    }
    record.relays = mailbox.marks();
    mailbox.close();
    // The record as it is now (the room may have been opened meanwhile), with the marks.
    if let Ok(rooms) = store.rooms().await {
        if let Some(mut current) = rooms.into_iter().find(|r| r.id == record.id) {
            current.relays = record.relays.clone();
            let _ = store.put_room(&current).await;
        }
    }
    let after = needs(replica.room(), &me.public(), lang);
    after.into_iter().filter(|n| !before.contains(n)).collect()
}

/// Catches up every room on this device from its relays (`config_json`: the deployment's
/// `config.json`, which the person's own network settings replace); returns the reminders to
/// show, as JSON (`[{room, title, body}]`).
pub async fn catch_up(config_json: &str) -> Result<String, String> {
    let store = Store::open("tequio").await.map_err(|e| e.to_string())?;
    let mut config: NetConfig = serde_json::from_str(config_json).unwrap_or_default();
    if let Ok(Some(text)) = store.setting(crate::ui::NET_SETTING).await {
        if let Ok(own) = serde_json::from_str::<NetConfig>(&text) {
            config = own;
        }
    }
    let lang = store
        .setting(crate::ui::LANG_SETTING)
        .await
        .ok()
        .flatten()
        .map(|tag| Lang::from_tag(&tag))
        .unwrap_or(Lang::En);
    if config.nostr.is_empty() {
        return Ok("[]".into());
    }
    let mut reminders = Vec::new();
    for record in store.rooms().await.map_err(|e| e.to_string())? {
        let name = record.name.clone();
        let id = record.id.clone();
        for body in room(&store, record, &config, lang).await {
            reminders.push(Reminder {
                room: id.clone(),
                title: if name.is_empty() {
                    "Tequio".to_owned()
                } else {
                    name.clone()
                },
                body,
            });
        }
    }
    serde_json::to_string(&reminders).map_err(|e| e.to_string())
}
