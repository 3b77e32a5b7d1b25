//! The installed app's catch-up with no page open (browser only): the service worker runs it
//! on Periodic Background Sync, where the browser has it (Chromium, for an installed app).
//! For each room on the device, its mailbox is read on the configured relays from where this
//! device left off; what arrives goes through the room's replica exactly as when the room is
//! open (hostile until checked) and is saved; what needs this device's member and was not
//! reminded of before (the keys `ui::reminders` keeps) comes back to be shown as a
//! notification, if reminders are on. The only changes it may write are the replica's own
//! (following the room's keys); its actor is kept with the room, so the next opening mails
//! them.

use crate::crypto::{Identity, RoomSecret};
use crate::domain::RoomDoc;
use crate::i18n::{lookup, Lang};
use crate::net::mailbox::Mailbox;
use crate::net::NetConfig;
use crate::replica::{ChunkStore, PeerLinks, Replica, Sent, StoreEvent, Unwritten};
use crate::store::{RoomRecord, Store};
use std::cell::RefCell;
use std::collections::BTreeSet;
use std::rc::Rc;

/// How long one room's relays are waited for.
const ROOM_MS: u32 = 20_000;

/// Something that needs this device's member, to show (as `ui::reminders` shows it).
#[derive(Debug, Clone, serde::Serialize)]
pub struct Reminder {
    pub title: String,
    pub body: String,
    /// One per room and kind of thing: a newer count replaces the older.
    pub tag: String,
    /// Where a click opens the app.
    pub link: String,
}

/// What the catch-up found: reminders to show, and how many things wait in all (the badge).
#[derive(Debug, Default, serde::Serialize)]
pub struct Found {
    pub reminders: Vec<Reminder>,
    pub badge: usize,
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

/// What needs `me` in `room` and was not reminded of (`known` keys) as reminders in `lang`;
/// with the keys of everything that waits now, and how many things wait.
fn reminders(
    room: &RoomDoc,
    id: &str,
    me: &str,
    known: &BTreeSet<String>,
    lang: Lang,
) -> (Vec<Reminder>, BTreeSet<String>, usize) {
    let needs = room.needs_me(me, now_ms());
    let title = room.name().unwrap_or_else(|| "Tequio".into());
    let fresh = needs
        .iter()
        .filter(|n| n.keys.iter().any(|k| !known.contains(k)))
        .map(|n| {
            let kind = n.keys[0].split(':').next().unwrap_or_default();
            Reminder {
                title: title.clone(),
                body: crate::i18n::fill_strings(lookup(lang, n.phrase), &n.values),
                tag: format!("tequio/{id}/{kind}"),
                link: format!("#/room/{id}/{}", n.section),
            }
        })
        .collect();
    let count = needs.iter().map(|n| n.keys.len()).sum();
    let now = needs.into_iter().flat_map(|n| n.keys).collect();
    (fresh, now, count)
}

/// Catches up one room from its relays; returns what needs this device's member and was not
/// reminded of (`notify`: remembered as reminded), and how many things wait.
async fn room(
    store: &Store,
    mut record: RoomRecord,
    config: &NetConfig,
    lang: Lang,
    notify: bool,
) -> (Vec<Reminder>, usize) {
    let nothing = (Vec::new(), 0);
    let (Ok(secret), Some(me)) = (
        RoomSecret::from_base64url(&record.secret),
        Identity::from_secret(&record.identity),
    ) else {
        return nothing;
    };
    let Ok(loaded) = store.load_room(&record.id).await else {
        return nothing;
    };
    let facts = store.facts(&record.id).await;
    let Ok(mut doc) = RoomDoc::load_with_facts(
        &record.id,
        loaded.chunks.iter().map(Vec::as_slice),
        facts.as_deref(),
    ) else {
        return nothing;
    };
    doc.pin_founder((!record.founder.is_empty()).then(|| record.founder.clone()));
    let mut replica = Replica::new(doc, me.clone(), secret, loaded.keys);
    if replica.cut_off() {
        return nothing;
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
    // The record as it is now (the room may have been opened meanwhile), with the marks and
    // this run's actor.
    if let Ok(rooms) = store.rooms().await {
        if let Some(mut current) = rooms.into_iter().find(|r| r.id == record.id) {
            current.relays = record.relays.clone();
            let actor = replica.mail_mark().1;
            if !current.mail_actors.contains(&actor) {
                current.mail_actors.push(actor);
                let excess = current.mail_actors.len().saturating_sub(64);
                current.mail_actors.drain(..excess);
            }
            let _ = store.put_room(&current).await;
        }
    }
    let key = crate::ui::reminders::reminded_setting(&record.id);
    let known: BTreeSet<String> = match store.setting(&key).await {
        Ok(Some(text)) => serde_json::from_str(&text).unwrap_or_default(),
        _ => BTreeSet::new(),
    };
    let (fresh, now, count) = reminders(replica.room(), &record.id, &me.public(), &known, lang);
    if !notify {
        return (Vec::new(), count);
    }
    // Reminded of now: the page does not remind of them again (only what waits is kept).
    if now != known {
        if let Ok(text) = serde_json::to_string(&now) {
            let _ = store.set_setting(&key, &text).await;
        }
    }
    (fresh, count)
}

/// Catches up every room on this device from its relays (`config_json`: the deployment's
/// `config.json`, which the person's own network settings replace); returns what to show, as
/// JSON (see [`Found`]): reminders only if the person turned them on.
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
    let notify = store
        .setting(crate::ui::reminders::REMINDERS_SETTING)
        .await
        .ok()
        .flatten()
        .as_deref()
        == Some("on");
    let mut found = Found::default();
    if !config.nostr.is_empty() {
        for record in store.rooms().await.map_err(|e| e.to_string())? {
            let (reminders, count) = room(&store, record, &config, lang, notify).await;
            found.reminders.extend(reminders);
            found.badge += count;
        }
    }
    serde_json::to_string(&found).map_err(|e| e.to_string())
}
