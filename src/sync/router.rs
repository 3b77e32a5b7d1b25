//! How a device finds and keeps its peers, as a pure state machine: which signaling messages
//! are new (the same one arrives over several transports and through several peers), which
//! ones to pass on to connected peers (so devices reach each other through a member with no
//! server at all), which peers to be connected to under a mesh limit (so the room graph stays
//! connected), and when to retry a transport that failed.
//!
//! The browser mesh (`net`) feeds it what arrives and does what it says; the simulation in
//! `tests/signaling_simulation.rs` does the same over a simulated network.

use super::{Signal, MAX_SIGNAL_TEXT};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet, HashSet, VecDeque};

/// The most times a signal is passed on from peer to peer.
pub const MAX_HOPS: u8 = 8;
/// How many peers a device connects to unless the settings say otherwise.
pub const DEFAULT_MESH_LIMIT: usize = 20;
/// A device not heard of (directly or through peers) for this long is forgotten.
pub const FORGET_AFTER_MS: f64 = 60_000.0;
/// How long a signal waits for its addressee to connect, and how many wait at most.
const PARK_MS: f64 = 10_000.0;
const MAX_PARKED: usize = 64;
/// Signal ids are remembered for as long as a signal is fresh (either way), to recognise one
/// arriving a second time; at most this many (the oldest are let go first). Letting go by count
/// opens no replay: each device's newest signals are remembered apart (see [`Mark`]).
const SEEN_MS: f64 = 2.0 * super::MAX_SIGNAL_AGE_MS as f64;
const SEEN_CAPACITY: usize = 16_384;
/// How far behind the newest signal accepted from a device (by their `sent_at`, both on that
/// device's clock) one of its signals may be and still be heard: signals go by several relays
/// and through peers, so they may arrive out of order. One further behind has been on its way
/// longer than this (its device had sent a newer one by then), longer than a connection attempt
/// waits (10 s, `CONNECT_TIMEOUT_MS` in `net::peer`; an ICE restart waits 3 s): the offer or
/// answer it carries is given up on already, and announcements come again every few seconds.
/// Refusing it means that a signal recorded and replayed once its id is let go does nothing.
/// The same holds for a pairing answer that another tab passes on (see `Mesh::use_code`): carried
/// by hand, it is refused where newer signals of its device were heard meanwhile. A device whose
/// clock is set back by more than this is not heard where it was heard until its clock catches up
/// (or [`SEEN_MS`] passes); a new visit is a new device, heard at once.
const REORDER_MS: i64 = 10_000;
/// Ids of a device's signals within [`REORDER_MS`] of its newest kept at most; past this the
/// earliest is let go and nothing sent at or before it is heard (so a device sending very many
/// signals at once loses only its own reordered ones).
const RECENT_PER_DEVICE: usize = 64;
/// Devices newly heard of per minute: more are not heard (no flooding the mesh with ids).
pub const NEW_DEVICES_PER_MINUTE: usize = 20;
/// Data-channel message kinds (first byte), chosen by the mesh.
pub const CHANNEL_DATA: u8 = 0;
pub const CHANNEL_SIGNAL: u8 = 1;

/// Exponential backoff for a signaling transport: 0.5 s, 1 s, 2 s, … up to a ceiling; back to the
/// start once the transport works again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backoff {
    next_ms: u32,
    min_ms: u32,
    max_ms: u32,
    /// Failures in a row since the transport last worked.
    pub failures: u32,
}

impl Backoff {
    pub fn new(min_ms: u32, max_ms: u32) -> Self {
        Backoff {
            next_ms: min_ms,
            min_ms,
            max_ms,
            failures: 0,
        }
    }

    /// The transport failed: how long to wait before trying again.
    pub fn failed(&mut self) -> u32 {
        let delay = self.next_ms;
        self.next_ms = self.next_ms.saturating_mul(2).min(self.max_ms);
        self.failures += 1;
        delay
    }

    /// The transport works.
    pub fn succeeded(&mut self) {
        self.next_ms = self.min_ms;
        self.failures = 0;
    }

    /// Whether the transport counts as down (failed at least once since it last worked).
    pub fn is_down(&self) -> bool {
        self.failures > 0
    }
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff::new(500, 30_000)
    }
}

/// What to do with a signal that arrived.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Routing {
    /// The signal is for this device (addressed to it, or to everyone): act on it.
    pub handle: bool,
    /// Connected peers to pass it on to, with this hop count.
    pub forward: Vec<String>,
    pub hops: u8,
    /// Addressed to a device this one cannot pass it to yet: keep it (see [`Router::park`]),
    /// as that device may be connecting right now.
    pub park: Option<String>,
}

/// What to do about one peer the device should be connected to but is not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reach {
    /// This device offers (the lower id offers).
    Offer(String),
    /// Ask the peer to offer: an announcement addressed to it.
    AskForOffer(String),
}

/// What the router remembers of one device's signals so that none is handled twice, however
/// many other signals (of any device) come between: a signal older than [`REORDER_MS`] before
/// the device's newest is refused, and of the newer ones the ids are kept. Only the device can
/// add to it (its signals are signed), so nobody else can make the router forget it.
#[derive(Debug)]
struct Mark {
    /// The newest `sent_at` accepted from the device (its clock).
    newest: i64,
    /// Signals sent at or before this are refused: their ids were let go (see
    /// [`RECENT_PER_DEVICE`]).
    floor: i64,
    /// Signals accepted (`sent_at`, id) within [`REORDER_MS`] of `newest`.
    recent: BTreeSet<(i64, String)>,
    /// When a signal of the device was last accepted (the router's clock).
    at: f64,
}

impl Mark {
    /// Whether a signal sent at `sent_at` with `id` is neither too old nor accepted already.
    fn admits(&self, sent_at: i64, id: &str) -> bool {
        sent_at > self.floor
            && sent_at >= self.newest.saturating_sub(REORDER_MS)
            && !self.recent.contains(&(sent_at, id.to_owned()))
    }

    /// Notes a signal accepted at `now` (the router's clock).
    fn accept(&mut self, sent_at: i64, id: &str, now: f64) {
        self.newest = self.newest.max(sent_at);
        self.at = now;
        self.recent.insert((sent_at, id.to_owned()));
        let oldest = self.newest.saturating_sub(REORDER_MS);
        while let Some(first) = self.recent.first() {
            if first.0 < oldest {
                self.recent.pop_first();
            } else if self.recent.len() > RECENT_PER_DEVICE {
                self.floor = self.floor.max(first.0);
                self.recent.pop_first();
            } else {
                break;
            }
        }
    }
}

/// A device's view of the room's devices and of the signals it has seen.
pub struct Router {
    me: String,
    limit: usize,
    seen: HashSet<String>,
    /// Ids seen, with when (the router's clock: the latest `now` it was given).
    seen_order: VecDeque<(String, f64)>,
    clock: f64,
    /// When devices were newly heard of (within the last minute).
    arrivals: VecDeque<f64>,
    /// Devices heard of, with when (ms).
    known: BTreeMap<String, f64>,
    /// Each device's newest signals, kept for [`SEEN_MS`] after its last one was accepted: as
    /// long as a signal it sent could still be fresh (so not dropped with `known`, a minute
    /// after it goes quiet, nor when its connection closes or it is ignored). As many as devices
    /// heard of in that time, which arrive [`NEW_DEVICES_PER_MINUTE`] a minute.
    marks: BTreeMap<String, Mark>,
    /// Signals waiting for their addressee to connect: (addressee, sealed text, hops, when).
    parked: VecDeque<(String, String, u8, f64)>,
    /// Devices dropped for misbehaving, and until when (ms) nothing of theirs is heard.
    ignored: BTreeMap<String, f64>,
    /// Devices whose member key signed for them (see `Signal::member`), by device id.
    bound: BTreeMap<String, String>,
    /// The room's admitted members (their keys), as the room says.
    admitted: std::collections::BTreeSet<String>,
    /// When set, only devices its members' keys signed for are chosen or accepted (a mesh
    /// under a former room key: the holders of the key in force).
    only: Option<std::collections::BTreeSet<String>>,
}

/// Devices of one member that count as that member's (the others count as strangers'), so one
/// member's many ids cannot take every place either.
const DEVICES_PER_MEMBER: usize = 2;

/// Devices ignored at once; past this the one ignored earliest is let go first.
const MAX_IGNORED: usize = 1_024;

impl Router {
    pub fn new(me: impl Into<String>, limit: usize) -> Self {
        Router {
            me: me.into(),
            limit: limit.max(1),
            seen: HashSet::new(),
            seen_order: VecDeque::new(),
            clock: 0.0,
            arrivals: VecDeque::new(),
            known: BTreeMap::new(),
            marks: BTreeMap::new(),
            parked: VecDeque::new(),
            ignored: BTreeMap::new(),
            bound: BTreeMap::new(),
            admitted: Default::default(),
            only: None,
        }
    }

    /// Notes that `device` is `member`'s (its member key signed for it).
    pub fn bind(&mut self, device: &str, member: &str) {
        if self.bound.len() < SEEN_CAPACITY || self.bound.contains_key(device) {
            self.bound.insert(device.to_owned(), member.to_owned());
        }
    }

    /// The member whose key signed for `device`, if its signals said so.
    pub fn member_of(&self, device: &str) -> Option<&str> {
        self.bound.get(device).map(String::as_str)
    }

    /// Connects only to devices that these members' keys signed for (`None`: to any device
    /// of the room). A mesh under a former room key keeps to the holders of the key in force:
    /// a removed member, or anyone else with the old link, is not connected to there and so
    /// learns no device's network address.
    pub fn set_only(&mut self, members: Option<std::collections::BTreeSet<String>>) {
        self.only = members;
    }

    /// Whether this mesh keeps to some members' devices (see [`Router::set_only`]).
    pub fn restricted(&self) -> bool {
        self.only.is_some()
    }

    /// Whether `device` may be connected to (see [`Router::set_only`]).
    pub fn allowed(&self, device: &str) -> bool {
        match &self.only {
            None => true,
            Some(only) => self.bound.get(device).is_some_and(|m| only.contains(m)),
        }
    }

    /// The room's admitted members now.
    pub fn set_admitted(&mut self, admitted: std::collections::BTreeSet<String>) {
        self.admitted = admitted;
    }

    /// Known devices of admitted members (at most [`DEVICES_PER_MEMBER`] each, lowest ids
    /// first): where a link holder cannot make up ids.
    fn trusted(&self) -> std::collections::BTreeSet<&String> {
        let mut per_member: BTreeMap<&String, usize> = BTreeMap::new();
        self.known
            .keys()
            .filter(|d| {
                let Some(member) = self.bound.get(*d).filter(|m| self.admitted.contains(*m)) else {
                    return false;
                };
                let n = per_member.entry(member).or_default();
                *n += 1;
                *n <= DEVICES_PER_MEMBER
            })
            .collect()
    }

    /// Ignores a device until `until` (ms): its signals are neither handled nor passed on, and
    /// it is not chosen as a peer.
    pub fn ignore(&mut self, peer: &str, until: f64) {
        self.known.remove(peer);
        self.parked.retain(|p| p.0 != peer);
        self.ignored.insert(peer.to_owned(), until);
        if self.ignored.len() > MAX_IGNORED {
            let first = self
                .ignored
                .iter()
                .min_by(|a, b| a.1.total_cmp(b.1))
                .map(|(id, _)| id.clone());
            if let Some(id) = first {
                self.ignored.remove(&id);
            }
        }
    }

    /// Whether a device is ignored at `now`.
    pub fn is_ignored(&self, peer: &str, now: f64) -> bool {
        self.ignored.get(peer).is_some_and(|until| now < *until)
    }

    pub fn me(&self) -> &str {
        &self.me
    }

    fn remember(&mut self, id: &str) -> bool {
        while self.seen_order.front().is_some_and(|(_, at)| {
            self.clock - at > SEEN_MS || self.seen_order.len() > SEEN_CAPACITY
        }) {
            if let Some((old, _)) = self.seen_order.pop_front() {
                self.seen.remove(&old);
            }
        }
        if !self.seen.insert(id.to_owned()) {
            return false;
        }
        self.seen_order.push_back((id.to_owned(), self.clock));
        true
    }

    /// This device sends a signal: notes it (so it is not handled if it comes back) and
    /// returns the connected peers to pass it to: the addressee if connected, else every peer
    /// (they pass it on), or none when `through_peers` is false for a signal to everyone.
    pub fn send(
        &mut self,
        signal: &Signal,
        connected: &[String],
        through_peers: bool,
    ) -> Vec<String> {
        self.remember(&signal.id);
        match &signal.to {
            Some(to) if connected.contains(to) => vec![to.clone()],
            Some(_) => connected.to_vec(),
            None if through_peers => connected.to_vec(),
            None => Vec::new(),
        }
    }

    /// A signal arrived over a transport (`via` none) or from a connected peer (`via`, with
    /// the hops it has made). Returns `None` for one seen before, sent by this device, or sent
    /// more than `REORDER_MS` (10 s) before the newest one heard from its device.
    pub fn receive(
        &mut self,
        signal: &Signal,
        hops: u8,
        via: Option<&str>,
        connected: &[String],
        now: f64,
    ) -> Option<Routing> {
        if signal.from == self.me || self.is_ignored(&signal.from, now) {
            return None;
        }
        self.clock = self.clock.max(now);
        self.ignored.retain(|_, until| now < *until);
        if !self.known.contains_key(&signal.from) {
            while self.arrivals.front().is_some_and(|at| now - at >= 60_000.0) {
                self.arrivals.pop_front();
            }
            if self.arrivals.len() >= NEW_DEVICES_PER_MINUTE {
                return None;
            }
        }
        if self
            .marks
            .get(&signal.from)
            .is_some_and(|mark| !mark.admits(signal.sent_at, &signal.id))
        {
            return None;
        }
        if !self.remember(&signal.id) {
            return None;
        }
        self.marks
            .entry(signal.from.clone())
            .or_insert_with(|| Mark {
                newest: signal.sent_at,
                floor: i64::MIN,
                recent: BTreeSet::new(),
                at: now,
            })
            .accept(signal.sent_at, &signal.id, now);
        if self.known.insert(signal.from.clone(), now).is_none() {
            self.arrivals.push_back(now);
        }
        let mut routing = Routing {
            handle: signal.to.as_ref().is_none_or(|to| *to == self.me),
            forward: Vec::new(),
            hops: hops.saturating_add(1),
            park: None,
        };
        if routing.hops > MAX_HOPS || signal.to.as_deref() == Some(self.me.as_str()) {
            return Some(routing);
        }
        let not_back = |p: &&String| Some(p.as_str()) != via && **p != signal.from;
        routing.forward = match &signal.to {
            // Addressed to a peer of mine: straight to it.
            Some(to) if connected.contains(to) => vec![to.clone()]
                .into_iter()
                .filter(|p| not_back(&p))
                .collect(),
            // Addressed to someone I cannot reach directly, or to everyone: on to my peers.
            _ => connected.iter().filter(not_back).cloned().collect(),
        };
        if routing.forward.is_empty() {
            routing.park = signal.to.clone();
        }
        Some(routing)
    }

    /// Keeps a signal for `to` (a few, for a few seconds) until `to` connects: the offer of a
    /// device that learnt of `to` through this one can arrive just before `to` is connected.
    pub fn park(&mut self, to: &str, sealed: &str, hops: u8, now: f64) {
        self.parked.retain(|p| now - p.3 <= PARK_MS);
        if self.parked.len() >= MAX_PARKED {
            self.parked.pop_front();
        }
        self.parked
            .push_back((to.to_owned(), sealed.to_owned(), hops, now));
    }

    /// A peer connected: the signals kept for it, with their hop counts.
    pub fn unpark(&mut self, peer: &str, now: f64) -> Vec<(String, u8)> {
        let mut out = Vec::new();
        self.parked.retain(|(to, text, hops, at)| {
            if to == peer && now - at <= PARK_MS {
                out.push((text.clone(), *hops));
                false
            } else {
                now - at <= PARK_MS
            }
        });
        out
    }

    /// Notes that a peer is there (its channel is open).
    pub fn heard(&mut self, peer: &str, now: f64) {
        if !self.is_ignored(peer, now) {
            self.known.insert(peer.to_owned(), now);
        }
    }

    /// Forgets a device whose connection closed: it is reached again only once it is heard of
    /// again (so a device that left is not offered connections for a minute).
    pub fn forget(&mut self, peer: &str) {
        self.known.remove(peer);
    }

    /// Forgets devices not heard of for a while (and whose they were), and what it kept of a
    /// device's signals once none it sent can be fresh any more.
    pub fn expire(&mut self, now: f64) {
        self.known.retain(|_, at| now - *at <= FORGET_AFTER_MS);
        self.marks.retain(|_, mark| now - mark.at <= SEEN_MS);
        let known = &self.known;
        self.bound.retain(|device, _| known.contains_key(device));
    }

    /// Devices of the room heard of lately (not this one).
    pub fn known(&self) -> impl Iterator<Item = &String> {
        self.known.keys()
    }

    /// The peers this device should be connected to: all of them up to the limit; beyond it,
    /// its two neighbours on the ring of ids (every device doing the same keeps the room
    /// connected), then the peers with the best pair score (symmetric, so the two ends of a
    /// link tend to agree).
    pub fn chosen(&self) -> Vec<String> {
        let allowed = self.known.keys().filter(|d| self.allowed(d)).count();
        if allowed <= self.limit {
            return self
                .known
                .keys()
                .filter(|d| self.allowed(d))
                .cloned()
                .collect();
        }
        // Admitted members' devices first: ids a link holder makes up (ground to sit next to
        // this device on the ring, or to score high with it) take only the places left.
        let trusted = self.trusted();
        let mut chosen = Vec::new();
        for pool in [true, false] {
            let ids: Vec<&String> = self
                .known
                .keys()
                .filter(|k| trusted.contains(k) == pool && self.allowed(k))
                .collect();
            let me = self.me.as_str();
            let successor = ids.iter().find(|k| k.as_str() > me).or(ids.first());
            let predecessor = ids.iter().rev().find(|k| k.as_str() < me).or(ids.last());
            for p in [successor, predecessor].into_iter().flatten() {
                if !chosen.contains(*p) && chosen.len() < self.limit {
                    chosen.push((*p).clone());
                }
            }
            let mut rest: Vec<(u64, &String)> = ids
                .iter()
                .filter(|k| !chosen.contains(k))
                .map(|k| (pair_score(&self.me, k), *k))
                .collect();
            rest.sort();
            for (_, k) in rest {
                if chosen.len() >= self.limit {
                    break;
                }
                chosen.push(k.clone());
            }
        }
        chosen
    }

    /// Whether to accept an offer from `peer` while connected to `connected` peers.
    pub fn accepts(&self, peer: &str, connected: usize) -> bool {
        self.allowed(peer) && (connected < self.limit || self.chosen().iter().any(|p| p == peer))
    }

    /// What to do about chosen peers that are neither connected nor being connected.
    pub fn to_reach(&self, linked: &[String]) -> Vec<Reach> {
        self.chosen()
            .into_iter()
            .filter(|p| !linked.contains(p))
            .map(|p| {
                if self.me < p {
                    Reach::Offer(p)
                } else {
                    Reach::AskForOffer(p)
                }
            })
            .collect()
    }

    /// Connected peers to let go when over the limit (those not chosen).
    pub fn surplus(&self, connected: &[String]) -> Vec<String> {
        if connected.len() <= self.limit {
            return Vec::new();
        }
        let chosen = self.chosen();
        let mut extra: Vec<String> = connected
            .iter()
            .filter(|p| !chosen.contains(p))
            .cloned()
            .collect();
        extra.truncate(connected.len() - self.limit);
        extra
    }
}

/// A score for the pair of devices, the same from both ends.
fn pair_score(a: &str, b: &str) -> u64 {
    let (lo, hi) = if a < b { (a, b) } else { (b, a) };
    let digest = Sha256::new()
        .chain_update(lo.as_bytes())
        .chain_update([0])
        .chain_update(hi.as_bytes())
        .finalize();
    u64::from_be_bytes(digest[..8].try_into().expect("8 bytes"))
}

/// A signal as carried on a data channel: `CHANNEL_SIGNAL | hops | sealed text`.
pub fn channel_signal(hops: u8, sealed: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(2 + sealed.len());
    out.push(CHANNEL_SIGNAL);
    out.push(hops);
    out.extend_from_slice(sealed.as_bytes());
    out
}

/// The largest data-channel message either kind can be (a kind byte, then a sealed data frame,
/// or hops and a signal): anything larger is dropped before it is copied out of JavaScript.
pub const MAX_CHANNEL_MESSAGE: usize = 2 + if super::MAX_SEALED_FRAME > MAX_SIGNAL_TEXT {
    super::MAX_SEALED_FRAME
} else {
    MAX_SIGNAL_TEXT
};

/// Reads a signal carried on a data channel (after its kind byte): hops and sealed text.
/// Size-capped before anything is read; never panics.
pub fn read_channel_signal(body: &[u8]) -> Option<(u8, &str)> {
    if body.is_empty() || body.len() > MAX_SIGNAL_TEXT + 1 {
        return None;
    }
    let text = std::str::from_utf8(&body[1..]).ok()?;
    Some((body[0], text))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sync::SignalBody;

    fn announce(id: &str, from: &str, to: Option<&str>) -> Signal {
        Signal {
            id: id.into(),
            from: from.into(),
            to: to.map(Into::into),
            body: SignalBody::Announce,
            key: String::new(),
            sent_at: 0,
            member: None,
        }
    }

    /// An announcement to everyone sent at `sent_at` (ms, the sender's clock).
    fn sent(id: &str, from: &str, sent_at: i64) -> Signal {
        Signal {
            sent_at,
            ..announce(id, from, None)
        }
    }

    /// When the tests' signals are sent (ms since the epoch); the router's clock starts there.
    const T: i64 = 1_800_000_000_000;

    fn at(ms: i64) -> f64 {
        (T + ms) as f64
    }

    /// `from` sends `count` signals a millisecond apart from `T + start` ms, all received at
    /// `at(start)`: how many were heard.
    fn flood(r: &mut Router, from: &str, start: i64, count: usize) -> usize {
        (0..count)
            .filter(|i| {
                let s = sent(&format!("{from}-{start}-{i}"), from, T + start + *i as i64);
                r.receive(&s, 0, None, &[], at(start)).is_some()
            })
            .count()
    }

    /// A link holder making up 1,000 device ids in a minute: 20 are heard; the next minute,
    /// 20 more. Devices already known are heard as before.
    #[test]
    fn new_device_ids_are_heard_a_few_a_minute() {
        let mut r = Router::new("me", 20);
        r.receive(&announce("s0", "friend", None), 0, None, &[], 0.0);
        let heard = |r: &mut Router, minute: f64| {
            (0..1_000)
                .filter(|i| {
                    let s = announce(&format!("m{minute}-{i}"), &format!("id{minute}-{i}"), None);
                    r.receive(&s, 0, None, &[], minute * 60_000.0 + *i as f64)
                        .is_some()
                })
                .count()
        };
        assert_eq!(heard(&mut r, 0.0), NEW_DEVICES_PER_MINUTE - 1);
        assert!(r
            .receive(&announce("s1", "friend", None), 0, None, &[], 59_000.0)
            .is_some());
        assert_eq!(heard(&mut r, 1.0), NEW_DEVICES_PER_MINUTE);
        assert!(r.known().count() <= 2 * NEW_DEVICES_PER_MINUTE);
    }

    /// A mesh under a former room key keeps to devices of the holders of the key in force: a
    /// removed member's device (or one no member signed for) is neither reached nor answered.
    #[test]
    fn under_a_former_key_only_holders_devices_are_connected_to() {
        let mut r = Router::new("m", 20);
        for (i, d) in ["holder", "removed", "unbound"].iter().enumerate() {
            r.receive(&announce(&format!("h{i}"), d, None), 0, None, &[], i as f64);
        }
        r.bind("holder", "ana");
        r.bind("removed", "cy");
        assert_eq!(r.chosen().len(), 3, "under the key in force: all");
        assert!(r.accepts("removed", 0) && r.accepts("unbound", 0));
        r.set_only(Some(["ana".to_string()].into()));
        assert_eq!(r.chosen(), ["holder"]);
        assert_eq!(
            r.to_reach(&[]),
            [Reach::AskForOffer("holder".into())],
            "the removed and the unbound are not reached"
        );
        assert!(r.accepts("holder", 0));
        assert!(!r.accepts("removed", 0) && !r.accepts("unbound", 0));
        r.set_only(None);
        assert!(r.accepts("removed", 0));
    }

    /// A link holder grinds ids to sit next to this device on the ring and to score high with
    /// it: while admitted members' devices are known, the made-up ids get no place.
    #[test]
    fn made_up_ids_do_not_push_out_admitted_members_devices() {
        let mut r = Router::new("m", 4);
        let mut admitted = std::collections::BTreeSet::new();
        for (i, d) in ["a", "c", "x", "z", "q"].iter().enumerate() {
            r.receive(&announce(&format!("h{i}"), d, None), 0, None, &[], i as f64);
            let member = format!("member-{d}");
            r.bind(d, &member);
            admitted.insert(member);
        }
        r.set_admitted(admitted.clone());
        // Ids just around "m" on the ring, and many others.
        for (i, d) in ["l", "ma", "mb", "n", "mm"].iter().enumerate() {
            r.receive(
                &announce(&format!("g{i}"), d, None),
                0,
                None,
                &[],
                10.0 + i as f64,
            );
        }
        let chosen = r.chosen();
        assert_eq!(chosen.len(), 4);
        assert!(
            chosen
                .iter()
                .all(|c| ["a", "c", "x", "z", "q"].contains(&c.as_str())),
            "{chosen:?}"
        );
        // Without the binding the ring neighbours would be the made-up ones.
        r.set_admitted(Default::default());
        assert!(r
            .chosen()
            .iter()
            .any(|c| ["l", "ma", "n"].contains(&c.as_str())));
        // One member's many devices count as at most two of theirs.
        r.set_admitted(admitted);
        for d in ["mc", "md", "me"] {
            r.receive(&announce(&format!("k{d}"), d, None), 0, None, &[], 20.0);
            r.bind(d, "member-a");
        }
        let chosen = r.chosen();
        let theirs = chosen
            .iter()
            .filter(|c| ["a", "mc", "md", "me"].contains(&c.as_str()));
        assert!(theirs.count() <= 2, "{chosen:?}");
    }

    /// A signal seen is recognised when it comes again within the time a signal is fresh,
    /// however many others came between.
    #[test]
    fn a_replayed_signal_is_recognised_within_the_window() {
        let mut r = Router::new("me", 20);
        assert!(r
            .receive(&announce("x1", "a", None), 0, None, &[], 0.0)
            .is_some());
        let heard = (1..=5_000)
            .filter(|i| {
                let s = sent(&format!("n{i}"), "a", *i);
                r.receive(&s, 0, None, &[], 1.0).is_some()
            })
            .count();
        assert_eq!(heard, 5_000);
        assert_eq!(
            r.receive(&announce("x1", "a", None), 0, None, &[], SEEN_MS - 1.0),
            None
        );
    }

    /// A known device sends more signals than the router keeps ids of, so that an offer of
    /// another device, recorded from a relay, can be replayed while still fresh: it is refused,
    /// being older than that device's newest signal; so is the newest one (its id is kept with
    /// the device), and so they are once the device has gone quiet and been forgotten.
    #[test]
    fn a_replay_is_refused_however_many_signals_came_between() {
        let mut r = Router::new("me", 20);
        let offer = sent("offer", "victim", T);
        let newest = sent("newest", "victim", T + 30_000);
        assert!(r.receive(&offer, 0, None, &[], at(0)).is_some());
        assert!(r.receive(&newest, 0, None, &[], at(30_000)).is_some());
        assert_eq!(
            flood(&mut r, "attacker", 31_000, SEEN_CAPACITY + 1),
            SEEN_CAPACITY + 1
        );
        assert!(!r.seen.contains("offer") && !r.seen.contains("newest"));
        assert_eq!(r.receive(&offer, 0, None, &[], at(60_000)), None);
        assert_eq!(r.receive(&newest, 0, None, &[], at(60_000)), None);
        // Through a peer, too.
        let peers = ["p".to_string()];
        assert_eq!(r.receive(&offer, 2, Some("p"), &peers, at(60_000)), None);
        // The victim goes quiet and is forgotten; its signals are still not heard again.
        r.expire(at(30_000) + FORGET_AFTER_MS + 1.0);
        assert!(r.known().all(|k| k != "victim"));
        assert_eq!(
            flood(&mut r, "attacker", 100_000, SEEN_CAPACITY + 1),
            SEEN_CAPACITY + 1
        );
        assert_eq!(r.receive(&offer, 0, None, &[], at(120_000)), None);
        assert_eq!(r.receive(&newest, 0, None, &[], at(120_000)), None);
        // What it sends anew is heard as before.
        assert!(r
            .receive(
                &sent("back", "victim", T + 120_000),
                0,
                None,
                &[],
                at(120_000)
            )
            .is_some());
        // Once nothing it sent can be fresh (signals are refused past `MAX_SIGNAL_AGE_MS`),
        // what was kept of it is let go.
        r.expire(at(120_000) + SEEN_MS + 1.0);
        assert!(r.marks.is_empty());
    }

    /// A device sending more signals at once than the router keeps ids of (per device): the
    /// ones it let go are not heard again, however many others came between.
    #[test]
    fn a_device_s_ids_let_go_are_not_heard_again() {
        let mut r = Router::new("me", 20);
        let first = sent("first", "busy", T);
        assert!(r.receive(&first, 0, None, &[], at(0)).is_some());
        for i in 0..RECENT_PER_DEVICE {
            let s = sent(&format!("b{i}"), "busy", T + 1);
            assert!(r.receive(&s, 0, None, &[], at(0)).is_some());
        }
        assert_eq!(
            flood(&mut r, "other", 1_000, SEEN_CAPACITY + 1),
            SEEN_CAPACITY + 1
        );
        assert!(!r.seen.contains("first"));
        assert_eq!(r.receive(&first, 0, None, &[], at(2_000)), None);
        assert!(r
            .receive(&sent("next", "busy", T + 2), 0, None, &[], at(2_000))
            .is_some());
    }

    /// Signals of one device arriving out of order (over different relays and peers) are
    /// heard within `REORDER_MS` of its newest, each once; further behind, not.
    #[test]
    fn signals_out_of_order_are_heard_within_the_allowance() {
        let mut r = Router::new("me", 20);
        assert!(r
            .receive(&sent("newest", "a", T + REORDER_MS), 0, None, &[], at(0))
            .is_some());
        let behind = sent("behind", "a", T + 1);
        let routing = r.receive(&behind, 1, Some("p"), &[], at(1)).expect("heard");
        assert!(routing.handle);
        assert_eq!(r.receive(&behind, 0, None, &[], at(2)), None, "once");
        let edge = sent("edge", "a", T);
        assert!(r.receive(&edge, 0, None, &[], at(3)).is_some());
        let too_far = sent("too-far", "a", T - 1);
        assert_eq!(r.receive(&too_far, 0, None, &[], at(4)), None);
    }

    /// Each device's signals are measured against its own newest: a device whose clock is
    /// behind another's (or that sent last a while ago) is heard as before.
    #[test]
    fn devices_do_not_affect_each_other_s_newest() {
        let mut r = Router::new("me", 20);
        assert!(r
            .receive(&sent("a1", "a", T + 60_000), 0, None, &[], at(0))
            .is_some());
        assert!(r
            .receive(&sent("b1", "b", T), 0, None, &[], at(1))
            .is_some());
        assert!(r
            .receive(&sent("b2", "b", T - REORDER_MS), 0, None, &[], at(2))
            .is_some());
        // a's own older signal is not.
        assert_eq!(r.receive(&sent("a0", "a", T), 0, None, &[], at(3)), None);
        // b's newest moving on leaves a's where it was.
        assert!(r
            .receive(&sent("b3", "b", T + 600_000), 0, None, &[], at(4))
            .is_some());
        assert!(r
            .receive(
                &sent("a2", "a", T + 60_000 - REORDER_MS),
                0,
                None,
                &[],
                at(5)
            )
            .is_some());
    }

    #[test]
    fn backoff_doubles_to_a_ceiling_and_resets_when_it_works() {
        let mut b = Backoff::new(500, 3_000);
        let delays: Vec<u32> = (0..5).map(|_| b.failed()).collect();
        assert_eq!(delays, [500, 1_000, 2_000, 3_000, 3_000]);
        assert!(b.is_down());
        b.succeeded();
        assert!(!b.is_down());
        assert_eq!(b.failed(), 500);
    }

    #[test]
    fn an_ignored_device_is_not_heard_nor_passed_on_until_its_time_is_up() {
        let mut r = Router::new("b", 20);
        let peers = vec!["c".to_string()];
        r.receive(&announce("m0", "x", None), 0, None, &peers, 0.0);
        assert!(r.known().any(|k| k == "x"));
        r.ignore("x", 1_000.0);
        assert!(!r.known().any(|k| k == "x"));
        assert_eq!(
            r.receive(&announce("m1", "x", None), 0, None, &peers, 10.0),
            None
        );
        r.heard("x", 20.0);
        assert!(r.known().all(|k| k != "x"));
        // Others are heard as before; after the time, so is x.
        assert!(r
            .receive(&announce("m2", "y", None), 0, None, &peers, 30.0)
            .is_some());
        let later = r.receive(&announce("m3", "x", None), 0, None, &peers, 1_000.0);
        assert!(later.is_some_and(|routing| routing.handle));
    }

    #[test]
    fn a_signal_is_handled_once_whatever_way_it_comes() {
        let mut r = Router::new("b", 20);
        let s = announce("m1", "a", None);
        let peers = vec!["c".to_string()];
        let first = r.receive(&s, 0, None, &peers, 0.0).expect("new");
        assert!(first.handle);
        assert_eq!(first.forward, ["c"]);
        assert_eq!(r.receive(&s, 0, None, &peers, 1.0), None);
        assert_eq!(r.receive(&s, 1, Some("c"), &peers, 2.0), None);
        let mine = announce("m2", "b", None);
        assert_eq!(r.send(&mine, &peers, true), ["c"]);
        assert!(r.send(&announce("m4", "b", None), &peers, false).is_empty());
        assert_eq!(
            r.send(&announce("m5", "b", Some("c")), &peers, false),
            ["c"]
        );
        assert_eq!(
            r.send(&announce("m6", "b", Some("x")), &peers, false),
            ["c"]
        );
        assert_eq!(r.receive(&mine, 1, Some("c"), &peers, 3.0), None);
    }

    #[test]
    fn addressed_signals_go_straight_to_a_connected_peer_and_never_back() {
        let mut r = Router::new("b", 20);
        let peers = vec!["a".to_string(), "c".to_string(), "d".to_string()];
        let to_c = announce("m1", "a", Some("c"));
        let routing = r.receive(&to_c, 0, Some("a"), &peers, 0.0).unwrap();
        assert!(!routing.handle);
        assert_eq!(routing.forward, ["c"]);
        let to_me = announce("m2", "a", Some("b"));
        assert_eq!(
            r.receive(&to_me, 0, Some("a"), &peers, 0.0).unwrap(),
            Routing {
                handle: true,
                forward: vec![],
                hops: 1,
                park: None,
            }
        );
        // Addressed to a device not connected here, with nobody else to pass it to: kept until
        // that device connects, then handed over once.
        let lone = vec!["a".to_string()];
        let to_z = announce("m4", "a", Some("z"));
        let routing = r.receive(&to_z, 0, Some("a"), &lone, 0.0).unwrap();
        assert_eq!(routing.park.as_deref(), Some("z"));
        r.park("z", "sealed-m4", routing.hops, 0.0);
        assert!(r.unpark("y", 1.0).is_empty());
        assert_eq!(r.unpark("z", 2.0), [("sealed-m4".to_string(), 1)]);
        assert!(r.unpark("z", 3.0).is_empty());
        r.park("z", "late", 1, 0.0);
        assert!(r.unpark("z", PARK_MS + 1.0).is_empty(), "too old");
        let far = announce("m3", "x", None);
        let routing = r.receive(&far, MAX_HOPS, Some("a"), &peers, 0.0).unwrap();
        assert!(routing.handle && routing.forward.is_empty());
    }

    #[test]
    fn under_the_limit_every_known_device_is_chosen_and_the_lower_id_offers() {
        let mut r = Router::new("m", 20);
        for p in ["a", "z"] {
            r.heard(p, 0.0);
        }
        assert_eq!(r.chosen(), ["a", "z"]);
        assert_eq!(
            r.to_reach(&["a".into()]),
            [Reach::Offer("z".into())],
            "m < z, so m offers"
        );
        assert_eq!(
            r.to_reach(&[]).first(),
            Some(&Reach::AskForOffer("a".into()))
        );
        r.forget("z");
        assert_eq!(r.chosen(), ["a"]);
        r.expire(FORGET_AFTER_MS + 1.0);
        assert!(r.chosen().is_empty());
    }

    #[test]
    fn over_the_limit_ring_neighbours_come_first_and_the_surplus_is_let_go() {
        let mut r = Router::new("c", 2);
        for p in ["a", "b", "d", "e", "f"] {
            r.heard(p, 0.0);
        }
        let chosen = r.chosen();
        assert_eq!(chosen, ["d", "b"]);
        assert!(r.accepts("d", 5) && !r.accepts("f", 2) && r.accepts("f", 1));
        let connected: Vec<String> = ["a", "b", "d"].map(String::from).to_vec();
        assert_eq!(r.surplus(&connected), ["a"]);
        // The ring wraps around at the ends.
        let mut first = Router::new("a", 2);
        for p in ["b", "c", "f"] {
            first.heard(p, 0.0);
        }
        assert_eq!(first.chosen(), ["b", "f"]);
    }

    #[test]
    fn channel_signals_are_capped_and_never_panic() {
        let bytes = channel_signal(3, "sealed");
        assert_eq!(bytes[0], CHANNEL_SIGNAL);
        assert_eq!(read_channel_signal(&bytes[1..]), Some((3, "sealed")));
        assert_eq!(read_channel_signal(&[]), None);
        assert_eq!(read_channel_signal(&[1, 0xff, 0xfe]), None);
        assert_eq!(read_channel_signal(&vec![0; MAX_SIGNAL_TEXT + 2]), None);
    }
}
