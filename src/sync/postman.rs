//! The room's mailbox client, pure: what a device says to each Nostr relay and what it makes of
//! the answers. The browser (`net::mailbox`) carries the messages over WebSockets and calls
//! back here; the replica applies the payloads that come out (hostile until checked).
//!
//! - **Catch-up.** On connecting, a device asks a relay for the room's events since what it
//!   last heard from it ([`Cursor`]), at most [`PAGE`] at a time, paging back while answers
//!   bring events not seen yet; the first request stays open, so events published meanwhile arrive too. Every
//!   [`CATCH_UP_EVERY_MS`] it asks again.
//! - **Publishing.** What this device writes is sealed, signed with a throwaway key and queued
//!   for every relay; at most [`IN_FLIGHT`] events per relay await an answer, and a relay that
//!   says to slow down is left alone for a while that doubles. An event no relay answered is
//!   sent again. The [`Ledger`] records which relays said they stored what.
//! - **Repair.** Once every connected relay has sent all it holds, each is given the room's
//!   events another one had and it lacked, as they were (the same signed event).
//! - **Hostile relays.** A relay that sends what is not the room's (unreadable messages, events
//!   under the room's topic that do not open with its key, more events than asked for, more
//!   than [`LIVE_PER_MINUTE`] new ones a minute) [`GARBAGE_LIMIT`] times in a minute is dropped
//!   for [`DROPPED_MS`].

use super::mailbox::{self, Assembler, Cursor, Kind, Ledger, Plain};
use super::nostr::{self, MailMessage, NostrKey};
use super::topic::Topic;
use super::Backoff;
use crate::crypto::RoomSecret;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// The most events asked for at once (relays cap answers too: strfry at 500); an answer with
/// new events is followed by a request for those before the oldest it held.
pub const PAGE: usize = 500;
/// Events given one `created_at` second at most: the parts of a large snapshot spread over
/// several seconds (back from now, never ahead), so a relay answering fewer events per request
/// than one second holds cannot hide the rest (paging goes by seconds).
pub const PER_STAMP: usize = 50;
/// Pages asked for in one catch-up at most.
pub const MAX_PAGES: usize = 256;
/// How long a catch-up waits for every connected relay before it plans repairs and snapshots
/// with those that answered.
pub const SETTLE_MS: i64 = 30_000;
/// Events per relay sent and not yet answered.
pub const IN_FLIGHT: usize = 4;
/// Events per relay sent in one second at most.
pub const PER_SECOND: usize = 8;
/// An event a relay has not answered in this time is sent again.
pub const ANSWER_MS: i64 = 30_000;
/// How often a device asks each relay again for what came since (besides what arrives live).
pub const CATCH_UP_EVERY_MS: i64 = 10 * 60 * 1000;
/// Garbage a relay may send in [`GARBAGE_WINDOW_MS`] before it is dropped.
pub const GARBAGE_LIMIT: usize = 20;
pub const GARBAGE_WINDOW_MS: i64 = 60_000;
/// How long a relay that sent garbage is left alone.
pub const DROPPED_MS: i64 = 10 * 60 * 1000;
/// Events a relay may push on an open request in a minute, once it sent what it holds; more
/// is a flood, counted as garbage.
pub const LIVE_PER_MINUTE: usize = 600;
/// Events held as they came, to give to a relay that lacks them (bytes, in all).
pub const MAX_HELD_BYTES: usize = 32 * 1024 * 1024;

/// What a device keeps of a relay between openings.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RelayMark {
    pub cursor: Cursor,
    /// When the relay last sent everything it held for the room (ms).
    pub caught_up: Option<i64>,
}

/// What the room shows of one relay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelayStatus {
    pub url: String,
    pub up: bool,
    pub caught_up: Option<i64>,
    /// The relay said to slow down; nothing is sent to it until then (ms).
    pub slowed_until: Option<i64>,
    /// The relay sent garbage; it is left alone until then (ms).
    pub dropped_until: Option<i64>,
    /// The last reason it gave for refusing an event.
    pub refused: Option<String>,
    /// Events waiting to be sent to it or answered.
    pub queued: usize,
}

/// A message for a relay, or a relay to disconnect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Out {
    Send {
        relay: String,
        text: String,
    },
    /// The relay misbehaved: close the connection and do not reconnect before `until` (ms).
    Drop {
        relay: String,
        until: i64,
    },
}

/// What a relay's message brought.
#[derive(Debug, Default)]
pub struct Got {
    pub out: Vec<Out>,
    /// Whole payloads of the room's mailbox, for the replica (not yet checked beyond the seal).
    pub payloads: Vec<(Kind, Vec<u8>)>,
}

/// A request under way on one relay.
struct Request {
    sub: String,
    since: u64,
    /// None after this time (s), for a page back.
    until: Option<u64>,
    /// Events it brought, the oldest time among them, and how many were new.
    count: usize,
    oldest: Option<u64>,
    new: usize,
    /// The request that stays open (the first of a catch-up); the others are closed once done.
    live: bool,
    /// This page asked up to the oldest second of the one before, not a second past it.
    retry: bool,
    /// The relay sent what it holds for it (what comes now is new).
    ended: bool,
}

/// Event ids waiting to be sent to a relay, in order, each once.
#[derive(Default)]
struct Queue {
    order: VecDeque<String>,
    set: BTreeSet<String>,
}

impl Queue {
    fn push_back(&mut self, id: String) {
        if self.set.insert(id.clone()) {
            self.order.push_back(id);
        }
    }
    fn push_front(&mut self, id: String) {
        if self.set.insert(id.clone()) {
            self.order.push_front(id);
        }
    }
    fn pop_front(&mut self) -> Option<String> {
        let id = self.order.pop_front()?;
        self.set.remove(&id);
        Some(id)
    }
    fn len(&self) -> usize {
        self.order.len()
    }
}

#[derive(Default)]
struct Relay {
    up: bool,
    mark: RelayMark,
    requests: Vec<Request>,
    /// The last catch-up asked for (ms), and whether every page of it came.
    asked_at: Option<i64>,
    complete: bool,
    /// Ids of the room's events it returned or stored for this device.
    holds: BTreeSet<String>,
    /// Ids it refused for good: not given to it again.
    refused_ids: BTreeSet<String>,
    /// The newest event heard in the catch-up under way: the cursor moves there once every page
    /// came, so an interrupted catch-up is asked for again from where the last one ended.
    pending: Cursor,
    /// Pages asked for in the catch-up under way.
    pages: usize,
    /// In the catch-up under way, a page a second past the oldest brought nothing new and one
    /// up to the oldest did: the relay reads `until` as inclusive, and pages go by the oldest.
    inclusive: bool,
    queue: Queue,
    in_flight: BTreeMap<String, i64>,
    /// Sends in the current second: (second, count).
    sent: (i64, usize),
    slow: Option<Backoff>,
    slowed_until: i64,
    refused: Option<String>,
    garbage: VecDeque<i64>,
    dropped_until: i64,
    /// When events arrived on open requests in the last minute, once they had ended.
    live: VecDeque<i64>,
}

impl Relay {
    fn can_send(&self, now: i64) -> bool {
        self.up && now >= self.slowed_until && now >= self.dropped_until
    }
}

/// The room's mailbox on every relay of the device's configuration.
pub struct Postman {
    secret: RoomSecret,
    key: NostrKey,
    relays: BTreeMap<String, Relay>,
    /// Event id → the relay message publishing it: this device's events and those held to
    /// repair another relay with.
    events: BTreeMap<String, String>,
    held: usize,
    /// Ids of the room's events read (opened) in this opening, and this device's own: not
    /// opened twice.
    seen: BTreeSet<String>,
    /// Digests of the contents read: the same content under another id (a relay re-signing
    /// what it holds) is neither read, nor counted as new, nor held.
    contents: BTreeSet<[u8; 32]>,
    /// How many events were stamped with each recent second (see [`PER_STAMP`]).
    stamps: BTreeMap<u64, usize>,
    ledger: Ledger,
    assembler: Assembler,
    /// The newest snapshot heard of or published (s).
    last_snapshot: Option<u64>,
    requests: u64,
    /// The windows' topics read now, and the window they are of.
    topics: Vec<Topic>,
    /// Whether repairs were planned since relays last caught up.
    repaired: bool,
}

fn second(now: i64) -> i64 {
    now.div_euclid(1000)
}

impl Postman {
    /// The mailbox of the room under `secret` on `relays`, resuming from what was kept of each.
    pub fn new(
        secret: RoomSecret,
        relays: &[String],
        marks: &BTreeMap<String, RelayMark>,
        now: i64,
    ) -> Self {
        let relays = relays
            .iter()
            .map(|url| {
                let mark = marks.get(url).copied().unwrap_or_default();
                (
                    url.clone(),
                    Relay {
                        mark,
                        ..Relay::default()
                    },
                )
            })
            .collect();
        Postman {
            topics: mailbox::reading(&secret, now),
            secret,
            key: NostrKey::generate(),
            relays,
            events: BTreeMap::new(),
            held: 0,
            seen: BTreeSet::new(),
            contents: BTreeSet::new(),
            stamps: BTreeMap::new(),
            ledger: Ledger::default(),
            assembler: Assembler::default(),
            last_snapshot: None,
            requests: 0,
            repaired: false,
        }
    }

    /// The room moved on to a new key: its mailbox is read and written under that one now.
    pub fn set_secret(&mut self, secret: RoomSecret, now: i64) -> Vec<Out> {
        self.secret = secret;
        self.topics = mailbox::reading(&self.secret, now);
        // Another mailbox: nothing of the former one's counts for it.
        self.last_snapshot = None;
        for relay in self.relays.values_mut() {
            relay.mark = RelayMark::default();
            relay.holds.clear();
        }
        self.ask_all(now)
    }

    /// What is kept of each relay for the next opening.
    pub fn marks(&self) -> BTreeMap<String, RelayMark> {
        self.relays
            .iter()
            .map(|(url, r)| (url.clone(), r.mark))
            .collect()
    }

    /// The relay's connection opened: ask for what came since, send what waits.
    pub fn connected(&mut self, url: &str, now: i64) -> Vec<Out> {
        let Some(relay) = self.relays.get_mut(url) else {
            return Vec::new();
        };
        relay.up = true;
        let mut out = self.ask(url, now);
        out.extend(self.flush(url, now));
        out
    }

    /// The relay's connection closed: what it had not answered waits for the next one.
    pub fn disconnected(&mut self, url: &str) {
        if let Some(relay) = self.relays.get_mut(url) {
            relay.up = false;
            relay.requests.clear();
            relay.complete = false;
            let unanswered: Vec<String> =
                std::mem::take(&mut relay.in_flight).into_keys().collect();
            for id in unanswered.into_iter().rev() {
                relay.queue.push_front(id);
            }
        }
    }

    fn next_sub(&mut self) -> String {
        self.requests += 1;
        format!("mail{}", self.requests)
    }

    /// Asks `url` for the room's events since its cursor (the request stays open).
    fn ask(&mut self, url: &str, now: i64) -> Vec<Out> {
        let sub = self.next_sub();
        let Some(relay) = self.relays.get_mut(url) else {
            return Vec::new();
        };
        if !relay.up || now < relay.dropped_until {
            return Vec::new();
        }
        let since = relay.mark.cursor.since(now);
        let mut out = Vec::new();
        // A new catch-up replaces the last: its requests are closed.
        for old in relay.requests.drain(..) {
            out.push(Out::Send {
                relay: url.to_owned(),
                text: nostr::unsubscribe(&old.sub),
            });
        }
        relay.requests.push(Request {
            sub: sub.clone(),
            since,
            until: None,
            count: 0,
            oldest: None,
            new: 0,
            live: true,
            retry: false,
            ended: false,
        });
        relay.asked_at = Some(now);
        relay.complete = false;
        relay.pending = Cursor::default();
        relay.pages = 1;
        relay.inclusive = false;
        self.repaired = false;
        out.push(Out::Send {
            relay: url.to_owned(),
            text: nostr::mail_request(&sub, &self.topics, since, None, PAGE),
        });
        out
    }

    fn ask_all(&mut self, now: i64) -> Vec<Out> {
        let urls: Vec<String> = self.relays.keys().cloned().collect();
        urls.iter().flat_map(|url| self.ask(url, now)).collect()
    }

    /// This device's new mailbox events: sealed, signed and queued for every relay. Returns
    /// their ids (see [`Postman::reached_all`]) and what to send now.
    pub fn publish(&mut self, plains: &[Plain], now: i64) -> (Vec<String>, Vec<Out>) {
        let mut ids = Vec::with_capacity(plains.len());
        if plains.is_empty() {
            return (ids, Vec::new());
        }
        let topic = mailbox::publishing(&self.secret, now);
        let expires = Some(mailbox::expires(now));
        let room_key = self.secret.room_key();
        for plain in plains {
            let created_at = self.stamp(now);
            let content = plain.seal(&room_key);
            let (id, message) = self.key.stored_event(&topic, &content, created_at, expires);
            if plain.kind == Kind::Snapshot {
                self.last_snapshot = Some(created_at);
            }
            self.ledger.published(&id);
            self.seen.insert(id.clone());
            self.events.insert(id.clone(), message);
            for relay in self.relays.values_mut() {
                relay.queue.push_back(id.clone());
            }
            ids.push(id);
        }
        let urls: Vec<String> = self.relays.keys().cloned().collect();
        let out = urls.iter().flat_map(|url| self.flush(url, now)).collect();
        (ids, out)
    }

    /// The `created_at` of the next event published at `now`: this second, or the latest one
    /// before it with room (see [`PER_STAMP`]).
    fn stamp(&mut self, now: i64) -> u64 {
        let now_s = (now / 1000).max(0) as u64;
        self.stamps.retain(|at, _| at.saturating_add(3_600) > now_s);
        let mut at = now_s;
        while at > 0 && self.stamps.get(&at).is_some_and(|n| *n >= PER_STAMP) {
            at -= 1;
        }
        *self.stamps.entry(at).or_default() += 1;
        at
    }

    /// Sends what waits for `url`, as far as its limits allow.
    fn flush(&mut self, url: &str, now: i64) -> Vec<Out> {
        let Some(relay) = self.relays.get_mut(url) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        if !relay.can_send(now) {
            return out;
        }
        if relay.sent.0 != second(now) {
            relay.sent = (second(now), 0);
        }
        while relay.in_flight.len() < IN_FLIGHT && relay.sent.1 < PER_SECOND {
            let Some(id) = relay.queue.pop_front() else {
                break;
            };
            if relay.holds.contains(&id) {
                continue;
            }
            let Some(message) = self.events.get(&id) else {
                continue;
            };
            relay.in_flight.insert(id, now);
            relay.sent.1 += 1;
            out.push(Out::Send {
                relay: url.to_owned(),
                text: message.clone(),
            });
        }
        out
    }

    /// Every second or so: sends what waits, again what went unanswered, asks again for what
    /// came since, follows the week's topic.
    pub fn tick(&mut self, now: i64) -> Vec<Out> {
        let topics = mailbox::reading(&self.secret, now);
        if topics != self.topics {
            self.topics = topics;
            for relay in self.relays.values_mut() {
                relay.holds.clear();
            }
            return self.ask_all(now);
        }
        let mut out = Vec::new();
        let urls: Vec<String> = self.relays.keys().cloned().collect();
        for url in &urls {
            let relay = self.relays.get_mut(url).expect("listed");
            let late: Vec<String> = relay
                .in_flight
                .iter()
                .filter(|(_, at)| now - **at >= ANSWER_MS)
                .map(|(id, _)| id.clone())
                .collect();
            for id in late {
                relay.in_flight.remove(&id);
                relay.queue.push_back(id);
            }
            let due = relay.up
                && relay
                    .asked_at
                    .is_none_or(|at| now - at >= CATCH_UP_EVERY_MS);
            if due {
                out.extend(self.ask(url, now));
            }
            out.extend(self.flush(url, now));
        }
        // Relays that never finish answering hold no repair up for long.
        out.extend(self.repair(now));
        out
    }

    /// What a relay sent (text already size-capped by the caller).
    pub fn received(&mut self, url: &str, text: &str, now: i64) -> Got {
        let mut got = Got::default();
        if !self.relays.contains_key(url) {
            return got;
        }
        match nostr::read_mail(text, &self.topics) {
            None => self.garbage(url, now, &mut got.out),
            Some(MailMessage::Event {
                sub,
                id,
                content,
                created_at,
                event,
            }) => self.on_event(url, &sub, id, &content, created_at, event, now, &mut got),
            Some(MailMessage::EndOfStored(sub)) => self.on_end(url, &sub, now, &mut got.out),
            Some(MailMessage::Closed { sub, reason }) => {
                let relay = self.relays.get_mut(url).expect("checked");
                if relay.requests.iter().any(|r| r.sub == sub) {
                    relay.requests.retain(|r| r.sub != sub);
                    relay.refused = Some(reason);
                }
            }
            Some(MailMessage::Stored(id)) => {
                let relay = self.relays.get_mut(url).expect("checked");
                if relay.in_flight.remove(&id).is_some() {
                    relay.holds.insert(id.clone());
                    relay.slow = None;
                    self.ledger.stored(&id, url);
                }
                got.out.extend(self.flush(url, now));
            }
            Some(MailMessage::Refused {
                id,
                reason,
                slow_down,
            }) => {
                let relay = self.relays.get_mut(url).expect("checked");
                if relay.in_flight.remove(&id).is_some() {
                    if reason.starts_with("duplicate") {
                        // It has the event already.
                        relay.holds.insert(id.clone());
                        self.ledger.stored(&id, url);
                    } else if slow_down {
                        relay.queue.push_front(id);
                        let wait = relay
                            .slow
                            .get_or_insert_with(|| Backoff::new(2_000, 120_000))
                            .failed();
                        relay.slowed_until = now + i64::from(wait);
                    } else {
                        relay.refused_ids.insert(id);
                        relay.refused = Some(reason);
                    }
                }
                got.out.extend(self.flush(url, now));
            }
            Some(MailMessage::Other) | Some(MailMessage::OffTopic) => {}
        }
        got
    }

    #[allow(clippy::too_many_arguments)]
    fn on_event(
        &mut self,
        url: &str,
        sub: &str,
        id: String,
        content: &str,
        created_at: u64,
        event: String,
        now: i64,
        got: &mut Got,
    ) {
        let relay = self.relays.get_mut(url).expect("checked");
        let Some(request) = relay.requests.iter_mut().find(|r| r.sub == sub) else {
            // An answer to a request closed meanwhile: nothing to count, and it is not the
            // relay's fault.
            return;
        };
        // Outside what was asked for: not read (and it moves no page).
        if created_at < request.since || request.until.is_some_and(|u| created_at > u) {
            return;
        }
        request.count += 1;
        if !request.ended {
            // More stored events than asked for: a flood.
            if request.count > PAGE {
                return self.garbage(url, now, &mut got.out);
            }
            request.oldest = Some(request.oldest.map_or(created_at, |o| o.min(created_at)));
        }
        let ended = request.ended;
        let digest: [u8; 32] = Sha256::digest(content.as_bytes()).into();
        if self.seen.contains(&id) {
            // Read already, or this device's own. One of its own coming back with what the
            // relay holds is as good as the relay's word (not a copy passed on live).
            if !ended {
                relay.in_flight.remove(&id);
                self.ledger.stored(&id, url);
            }
            relay.holds.insert(id);
            return;
        }
        if self.contents.contains(&digest) {
            // The same content under another id: a copy, not an event of the room's.
            return;
        }
        if ended {
            // New events pushed on an open request: more than any room writes is a flood.
            relay.live.push_back(now);
            while relay.live.front().is_some_and(|at| now - at > 60_000) {
                relay.live.pop_front();
            }
            if relay.live.len() > LIVE_PER_MINUTE {
                return self.garbage(url, now, &mut got.out);
            }
        }
        // What does not open with the room key is not the room's; whoever put it under the
        // room's topic (a link holder may), it is not the relay's fault.
        let Ok(plain) = Plain::open(&self.secret.room_key(), content) else {
            return;
        };
        if let Some(request) = relay.requests.iter_mut().find(|r| r.sub == sub) {
            request.new += 1;
        }
        relay.holds.insert(id.clone());
        let now_s = (now / 1000).max(0) as u64;
        if relay.complete {
            relay.mark.cursor.heard(created_at, now_s);
        } else {
            relay.pending.heard(created_at, now_s);
        }
        self.seen.insert(id.clone());
        self.contents.insert(digest);
        if self.held + event.len() <= MAX_HELD_BYTES {
            self.held += event.len();
            self.events.insert(id, nostr::republish(&event));
        }
        if let Some((kind, payload)) = self.assembler.push(plain) {
            // A snapshot counts once it is whole (a stray part of one does not).
            if kind == Kind::Snapshot {
                let at = created_at.min(now_s);
                self.last_snapshot = Some(self.last_snapshot.map_or(at, |s| s.max(at)));
            }
            got.payloads.push((kind, payload));
        }
    }

    /// A request's stored events all came: page back if the answer was full; once every page
    /// came, the relay has caught up, and once every connected relay has, repairs are planned.
    fn on_end(&mut self, url: &str, sub: &str, now: i64, out: &mut Vec<Out>) {
        let next = self.next_sub();
        let relay = self.relays.get_mut(url).expect("checked");
        let Some(index) = relay.requests.iter().position(|r| r.sub == sub) else {
            return;
        };
        let request = &relay.requests[index];
        if request.ended {
            // Said twice: nothing more to do.
            return;
        }
        // Relays cap answers at their own limits (often below ours): page back for as long as
        // pages bring unseen events, move back, and stay within bounds. Some relays read
        // `until` as inclusive (NIP-01), others not: a page goes up to a second past the oldest
        // of the one before (the events of that second come again, and are known); if that
        // brings nothing new, once more up to the oldest itself.
        if request.retry && request.new > 0 {
            relay.inclusive = true;
        }
        let (until, retry) = match (request.new > 0, request.oldest) {
            (true, Some(oldest)) if relay.inclusive => (Some(oldest), false),
            (true, Some(oldest)) => (Some(oldest.saturating_add(1)), false),
            (false, Some(oldest)) if !request.retry && !relay.inclusive => (Some(oldest), true),
            _ => (None, false),
        };
        let page_back = relay.pages < MAX_PAGES
            && until.is_some_and(|u| request.until.is_none_or(|before| u < before));
        let (since, live) = (request.since, request.live);
        if live {
            // The open request keeps bringing new events: they count towards no page.
            let request = &mut relay.requests[index];
            request.ended = true;
            request.count = 0;
            request.new = 0;
        } else {
            out.push(Out::Send {
                relay: url.to_owned(),
                text: nostr::unsubscribe(sub),
            });
            relay.requests.remove(index);
        }
        if let (true, Some(until)) = (page_back, until) {
            relay.pages += 1;
            relay.requests.push(Request {
                sub: next.clone(),
                since,
                until: Some(until),
                count: 0,
                oldest: None,
                new: 0,
                live: false,
                retry,
                ended: false,
            });
            out.push(Out::Send {
                relay: url.to_owned(),
                text: nostr::mail_request(&next, &self.topics, since, Some(until), PAGE),
            });
            return;
        }
        if relay.requests.iter().any(|r| !r.live) {
            return;
        }
        relay.complete = true;
        relay.mark.caught_up = Some(now);
        if let Some(newest) = relay.pending.newest {
            relay.mark.cursor.heard(newest, (now / 1000).max(0) as u64);
        }
        out.extend(self.repair(now));
    }

    /// Whether the relays of this catch-up have answered: every connected one sent all it
    /// holds, or [`SETTLE_MS`] passed; with the relays that did.
    fn settled(&self, now: i64) -> Option<Vec<String>> {
        let up: Vec<(&String, &Relay)> = self
            .relays
            .iter()
            .filter(|(_, r)| r.up && now >= r.dropped_until)
            .collect();
        let complete: Vec<String> = up
            .iter()
            .filter(|(_, r)| r.complete)
            .map(|(url, _)| (*url).clone())
            .collect();
        let waited = up
            .iter()
            .filter_map(|(_, r)| r.asked_at)
            .min()
            .is_some_and(|at| now - at >= SETTLE_MS);
        (!complete.is_empty() && (complete.len() == up.len() || waited)).then_some(complete)
    }

    /// Once the relays of this catch-up answered (see [`Postman::settled`]): gives each the
    /// events another had and it lacked (those held here as they came), but none it refused.
    fn repair(&mut self, now: i64) -> Vec<Out> {
        if self.repaired {
            return Vec::new();
        }
        let Some(complete) = self.settled(now) else {
            return Vec::new();
        };
        self.repaired = true;
        if complete.len() < 2 {
            return Vec::new();
        }
        let held: BTreeMap<String, BTreeSet<String>> = complete
            .iter()
            .map(|url| (url.clone(), self.relays[url].holds.clone()))
            .collect();
        let plan: Vec<(String, Vec<String>)> = mailbox::repairs(&held)
            .into_iter()
            .map(|(url, ids)| (url.to_owned(), ids.into_iter().map(str::to_owned).collect()))
            .collect();
        let mut out = Vec::new();
        for (url, ids) in plan {
            let relay = self.relays.get_mut(&url).expect("listed");
            for id in ids {
                if self.events.contains_key(&id)
                    && !relay.refused_ids.contains(&id)
                    && !relay.in_flight.contains_key(&id)
                {
                    relay.queue.push_back(id);
                }
            }
            out.extend(self.flush(&url, now));
        }
        out
    }

    /// The relay sent something that is not the room's: a strike; too many and it is dropped.
    pub fn garbage(&mut self, url: &str, now: i64, out: &mut Vec<Out>) {
        let Some(relay) = self.relays.get_mut(url) else {
            return;
        };
        relay.garbage.push_back(now);
        while relay
            .garbage
            .front()
            .is_some_and(|at| now - at > GARBAGE_WINDOW_MS)
        {
            relay.garbage.pop_front();
        }
        if relay.garbage.len() >= GARBAGE_LIMIT && now >= relay.dropped_until {
            relay.dropped_until = now + DROPPED_MS;
            relay.garbage.clear();
            out.push(Out::Drop {
                relay: url.to_owned(),
                until: relay.dropped_until,
            });
        }
    }

    /// Whether this device should publish a snapshot of the room now: a relay has sent all it
    /// holds, and none holds one of this week (see `mailbox::snapshot_due`).
    pub fn snapshot_due(&self, now: i64) -> bool {
        self.settled(now).is_some() && mailbox::snapshot_due(self.last_snapshot, now)
    }

    /// Which relays stored which of this device's events.
    pub fn ledger(&self) -> &Ledger {
        &self.ledger
    }

    /// Whether every one of `ids` reached at least one relay.
    pub fn reached_all(&self, ids: &[String]) -> bool {
        ids.iter().all(|id| self.ledger.reached_by(id) > 0)
    }

    /// What the room shows of each relay.
    pub fn status(&self, now: i64) -> Vec<RelayStatus> {
        self.relays
            .iter()
            .map(|(url, r)| RelayStatus {
                url: url.clone(),
                up: r.up && now >= r.dropped_until,
                caught_up: r.mark.caught_up,
                slowed_until: (now < r.slowed_until).then_some(r.slowed_until),
                dropped_until: (now < r.dropped_until).then_some(r.dropped_until),
                refused: r.refused.clone(),
                queued: r.queue.len() + r.in_flight.len(),
            })
            .collect()
    }
}
