//! One open room on one device, as pure Rust: the document, this device's key, a sync session
//! per connected peer, what is saved and what is not. It does its I/O through two small ports,
//! [`ChunkStore`] (IndexedDB in the browser) and [`PeerLinks`] (WebRTC data channels), whose
//! completions come back as calls ([`Replica::on_store`], [`Replica::received`]…), so the same
//! code runs in the browser and in native tests over [`memory`] adapters.
//!
//! Peers are hostile until checked: their messages go through [`Session::receive`] (sizes,
//! seal, frame, wire check), a peer whose messages keep being refused is dropped and ignored for
//! [`IGNORE_MS`], and the bytes held in partly received messages are bounded per peer and in
//! all ([`MAX_PARTIAL_TOTAL`]).

pub mod memory;
mod saving;

pub use saving::{Saving, Unwritten, COMPACT_AFTER};

use crate::crypto::{Identity, RoomSecret};
use crate::domain::{DomainError, KeyChain, RoomDoc};
use crate::sync::{Received, Rejected, Session};
use automerge::AutoCommit;
use std::collections::BTreeMap;

/// Where the room's bytes are kept. Writes are asynchronous: each reports back through
/// [`Replica::on_store`] with the same `op`.
pub trait ChunkStore {
    /// Appends `bytes` as a new chunk of the room.
    fn append(&mut self, op: u64, bytes: Vec<u8>);
    /// Writes `snapshot` as one chunk in place of the chunks `replaced`.
    fn compact(&mut self, op: u64, snapshot: Vec<u8>, replaced: Vec<String>);
    /// Keeps what the room's index derived (a cache beside the chunks; best effort).
    fn keep_facts(&mut self, facts: String);
}

/// A write of [`ChunkStore`] finished.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreEvent {
    Appended {
        op: u64,
        result: Result<String, Unwritten>,
    },
    Compacted {
        op: u64,
        result: Result<String, String>,
    },
}

/// What became of a frame handed to [`PeerLinks::send`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sent {
    Queued,
    /// The peer's queue is full: it does not read what it is sent.
    Full,
    /// No open connection to the peer.
    Closed,
}

/// The room's connections to other devices.
pub trait PeerLinks {
    /// Sends one sealed frame to a connected peer.
    fn send(&mut self, peer: &str, sealed: &[u8]) -> Sent;
    /// Bytes sent to the peer that wait to go (0 if it is not connected): the parts of a
    /// large message go as this drains (see [`Session::outgoing_queued`]).
    fn queued(&self, peer: &str) -> usize;
    /// Disconnects a peer that misbehaved and ignores it until `until` (ms).
    fn drop_peer(&mut self, peer: &str, until: i64);
}

/// How long a peer dropped for misbehaving is ignored.
pub const IGNORE_MS: i64 = 10 * 60_000;
/// How long a peer dropped for not reading what it is sent is ignored.
pub const SLOW_PEER_IGNORE_MS: i64 = 60_000;
/// Bytes of partly received messages held for all peers together; past it, the peer holding
/// the most loses its partial messages.
pub const MAX_PARTIAL_TOTAL: usize = 128 * 1024 * 1024;
/// Bounds on what peers can make this device hold, and on what it sends at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Bytes of partly received messages, all peers together.
    pub partial_total: usize,
    /// The size of the parts a large message goes in (see [`crate::sync::PART_BYTES`]).
    pub part_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            partial_total: MAX_PARTIAL_TOTAL,
            part_bytes: crate::sync::PART_BYTES,
        }
    }
}

/// Notices kept for the shell to log (the oldest go first).
const MAX_NOTICES: usize = 64;

/// One connected peer as the room header shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct PeerState {
    /// The first characters of its device id.
    pub id: String,
    pub up_to_date: bool,
    /// When it was last known to hold exactly what this device holds.
    pub synced_at: Option<i64>,
    /// The member whose key signed for the device, as its signals said.
    pub member: Option<String>,
}

struct Peer {
    session: Session,
    synced_at: Option<i64>,
    /// The fingerprint of the room key its connection speaks.
    key: String,
    /// The member whose key signed for the peer's device (as its signals said).
    member: Option<String>,
    /// What the session syncs.
    syncs: Syncs,
}

/// What a peer's session syncs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Syncs {
    /// The room.
    Room,
    /// The room as it was for a former key, read only: nothing the peer sends is taken.
    Frozen,
    /// For a device cut off, with a device of a member given the key in force: what it sends
    /// is taken into a copy of its own (never served to anyone else), where this device looks
    /// for a key it was given since (a grant, a later rotation with a box for it) or a rival
    /// rotation that counts.
    Inbox,
}

/// A key the room used before the one in force. Peers still on it whose member holds the key in
/// force sync the room; the others are sent the room as it was when this device moved on
/// (`frozen`), read only: a member who has not moved on yet learns of the new key that way;
/// one who was removed gets nothing newer and counts for nothing.
struct Former {
    secret: RoomSecret,
    /// Where the room as it was for this key ends: the change of the rotation that replaced
    /// it, or the heads when this device left a key that lost to a rival.
    until: Vec<automerge::ChangeHash>,
    /// The room up to `until`, made when a peer first connects under this key; never
    /// written to.
    frozen: Option<AutoCommit>,
    /// A device cut off: what holders' devices sent under this key (see [`Syncs::Inbox`]).
    inbox: Option<AutoCommit>,
}

/// What changed about the room's key, for the shell to act on.
#[derive(Debug, Clone)]
pub enum KeyEvent {
    /// The room moved on to a new key: connections under it are to be made (those under the
    /// former key may stay, see [`Replica::connected`]).
    Moved {
        secret: RoomSecret,
        former: RoomSecret,
    },
    /// The room moved on to a key this device was not given: it is no longer in the room.
    CutOff,
}

/// What a message from a peer did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The document gained changes (saved and passed on already).
    Changed,
    /// Accepted; nothing new.
    Unchanged,
    /// Refused: nothing of it reached the document.
    Refused(Rejected),
    /// Not from a connected peer (ignored).
    Unknown,
}

/// The open room.
pub struct Replica {
    room: RoomDoc,
    me: Identity,
    /// The room's first secret (its first link's): where the chain of keys starts.
    first: RoomSecret,
    /// The key in force as far as this device was given it.
    chain: KeyChain,
    former: BTreeMap<String, Former>,
    key_events: Vec<KeyEvent>,
    peers: BTreeMap<String, Peer>,
    saving: Saving,
    limits: Limits,
    notices: Vec<String>,
    /// The room's heads when this device last handed its changes to the mailbox (none yet:
    /// every change of this device's since the room was opened — a room created here, all of
    /// it).
    mailed: Vec<automerge::ChangeHash>,
    /// This device's actors of earlier openings whose changes after `mailed` may not have
    /// reached a relay (see [`Replica::resume_mail`]).
    mail_actors: Vec<automerge::ActorId>,
}

impl Replica {
    /// The room as loaded from `keys` chunks, with this device's key and the room's first
    /// secret; the key in force is found by following the room's rotations.
    pub fn new(room: RoomDoc, me: Identity, first: RoomSecret, keys: Vec<String>) -> Self {
        let chain = room.key_chain(&me, &first);
        let mut former = formers(&chain);
        cut(&chain, &mut former);
        Replica {
            room,
            me,
            first,
            chain,
            former,
            key_events: Vec::new(),
            peers: BTreeMap::new(),
            saving: Saving::new(keys),
            limits: Limits::default(),
            notices: Vec::new(),
            mailed: Vec::new(),
            mail_actors: Vec::new(),
        }
    }

    /// The changes this device wrote since it last asked (those of the document's actor in
    /// this opening), as mailbox event plaintexts (each device publishes what it wrote; `ids`
    /// names each payload). Under a key this device was
    /// not given, nothing: the room moved on without it.
    pub fn take_mail(&mut self, ids: impl FnMut() -> [u8; 16]) -> Vec<crate::sync::mailbox::Plain> {
        if self.chain.cut_off {
            return Vec::new();
        }
        let mut doc = self.room.doc_mut();
        let me = doc.get_actor().clone();
        let mine = |a: &automerge::ActorId| *a == me || self.mail_actors.contains(a);
        let chunks: Vec<Vec<u8>> = doc
            .get_changes(&self.mailed)
            .into_iter()
            .filter(|c| mine(c.actor_id()))
            .map(|c| c.raw_bytes().to_vec())
            .collect();
        self.mailed = doc.get_heads();
        crate::sync::mailbox::batch(&chunks, ids)
    }

    /// Resumes the mailbox where an earlier opening left it: `heads` (hex), up to which every
    /// change this device wrote reached a relay, and `actors` (hex), this device's actors of
    /// openings since. Their changes after those heads are mailed again; anything unreadable
    /// or unknown here is passed over (at worst, more is mailed again).
    pub fn resume_mail(&mut self, heads: &[String], actors: &[String]) {
        let mut doc = self.room.doc_mut();
        self.mailed = heads
            .iter()
            .filter_map(|h| h.parse::<automerge::ChangeHash>().ok())
            .filter(|h| doc.get_change_by_hash(h).is_some())
            .collect();
        self.mail_actors = actors
            .iter()
            .filter_map(|a| a.parse::<automerge::ActorId>().ok())
            .collect();
    }

    /// Where the mailbox stands: the heads up to which changes were handed to it (hex), and
    /// this opening's actor (hex), to keep with the room (see [`Replica::resume_mail`]).
    pub fn mail_mark(&self) -> (Vec<String>, String) {
        let actor = self.room.doc().get_actor().to_hex_string();
        (self.mailed.iter().map(|h| h.to_string()).collect(), actor)
    }

    /// The whole room as mailbox event plaintexts (a snapshot, in parts), for the week's
    /// snapshot (see `mailbox::snapshot_due`). Under a key this device was not given, nothing.
    pub fn snapshot_mail(&mut self, id: [u8; 16]) -> Vec<crate::sync::mailbox::Plain> {
        if self.chain.cut_off {
            return Vec::new();
        }
        let saved = self.room.doc_mut().save();
        crate::sync::mailbox::parts(crate::sync::mailbox::Kind::Snapshot, &saved, id)
    }

    /// A payload from the room's mailbox (changes, or a saved room), whole — hostile until
    /// checked: its chunks go through the same checks as a peer's before the document reads
    /// them. Under a key this device was not given, nothing is taken.
    pub fn mailbox_received(
        &mut self,
        payload: &[u8],
        now: i64,
        store: &mut dyn ChunkStore,
        links: &mut dyn PeerLinks,
    ) -> Outcome {
        if self.chain.cut_off {
            return Outcome::Unknown;
        }
        if let Err(e) = crate::sync::wire::check_chunks(payload) {
            self.notice(format!("dropped a mailbox event: {e}"));
            return Outcome::Refused(Rejected::Invalid(e));
        }
        let since = self.room.changes_read();
        let before = self.room.doc_mut().get_heads();
        let loaded = self.room.doc_mut().load_incremental(payload);
        self.room.note_arrivals(since, now);
        match loaded {
            Err(e) => {
                self.notice(format!("dropped a mailbox event: {e}"));
                Outcome::Refused(Rejected::Apply(e.to_string()))
            }
            Ok(_) if self.room.doc_mut().get_heads() == before => Outcome::Unchanged,
            Ok(_) => {
                self.changed(now, store, links);
                Outcome::Changed
            }
        }
    }

    /// Other bounds than the defaults (tests use small ones).
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    pub fn room(&self) -> &RoomDoc {
        &self.room
    }

    /// The document, for what is not a change (pinning the founder).
    pub fn room_mut(&mut self) -> &mut RoomDoc {
        &mut self.room
    }

    pub fn me(&self) -> &Identity {
        &self.me
    }

    /// The room key in force (as far as this device was given it).
    pub fn secret(&self) -> &RoomSecret {
        &self.chain.secret
    }

    /// Members given the key in force (`None`: the room's first key, anyone with its link).
    pub fn holders(&self) -> Option<&std::collections::BTreeSet<String>> {
        self.chain.holders.as_ref()
    }

    /// The key this device held before the one in force (`None` if it never moved on). Devices
    /// away when the room moved on, or that moved on to a rival key that lost, are met there.
    pub fn replaced_key(&self) -> Option<&RoomSecret> {
        self.chain.former.last().map(|(secret, _)| secret)
    }

    /// The room's first secret.
    pub fn first_secret(&self) -> &RoomSecret {
        &self.first
    }

    /// Whether the room moved on to a key this device was not given.
    pub fn cut_off(&self) -> bool {
        self.chain.cut_off
    }

    /// What changed about the room's key since last asked.
    pub fn take_key_events(&mut self) -> Vec<KeyEvent> {
        std::mem::take(&mut self.key_events)
    }

    /// Runs a domain command at `now`; on success the change is saved and sent to every peer.
    pub fn command<T>(
        &mut self,
        f: impl FnOnce(&mut RoomDoc, &Identity, i64) -> Result<T, DomainError>,
        now: i64,
        store: &mut dyn ChunkStore,
        links: &mut dyn PeerLinks,
    ) -> Result<T, DomainError> {
        let out = f(&mut self.room, &self.me, now)?;
        self.changed(now, store, links);
        Ok(out)
    }

    fn changed(&mut self, now: i64, store: &mut dyn ChunkStore, links: &mut dyn PeerLinks) {
        self.persist(store);
        self.follow_keys(now, store);
        let peers: Vec<String> = self.peers.keys().cloned().collect();
        for peer in peers {
            self.pump(&peer, now, links);
        }
    }

    /// After a change: moves on to a new room key if the room did, and writes one if someone
    /// who holds the key in force was removed or left (and this device's member may).
    fn follow_keys(&mut self, now: i64, store: &mut dyn ChunkStore) {
        for _ in 0..2 {
            let chain = self.room.key_chain(&self.me, &self.first);
            if chain.cut_off && !self.chain.cut_off {
                self.notice("the room moved on to a key this device was not given".into());
                self.key_events.push(KeyEvent::CutOff);
                cut(&chain, &mut self.former);
            }
            if chain.secret.fingerprint() != self.chain.secret.fingerprint() {
                let former = std::mem::replace(&mut self.chain, chain);
                for (key, entry) in formers(&self.chain) {
                    self.former.entry(key).or_insert(entry);
                }
                // A key left for a rival that won is a former key too: its peers get the room
                // as it was when this device left it, never the room.
                let heads = self.room.doc_mut().get_heads();
                self.former
                    .entry(former.secret.fingerprint())
                    .or_insert(Former {
                        secret: former.secret.clone(),
                        until: heads,
                        frozen: None,
                        inbox: None,
                    });
                // What was taken while cut off is in the room now, or was not for it.
                for f in self.former.values_mut() {
                    f.inbox = None;
                }
                self.key_events.push(KeyEvent::Moved {
                    secret: self.chain.secret.clone(),
                    former: former.secret,
                });
            } else {
                self.chain = chain;
            }
            if !self.room.is_admitted(&self.me.public()) {
                return;
            }
            if !self.room.rotation_due(&self.chain) {
                // Members admitted without the key in force (while it was renewed) are given it.
                let due = self.room.grant_due(&self.chain);
                if !due.is_empty() {
                    match self.room.grant_key(&self.me, &self.chain.secret, due, now) {
                        Ok(()) => self.persist(store),
                        Err(e) => self.notice(format!("the room key could not be granted: {e}")),
                    }
                    self.chain = self.room.key_chain(&self.me, &self.first);
                }
                return;
            }
            match self.room.rotate_key(&self.me, &self.chain.secret, now) {
                Ok(_) => self.persist(store),
                Err(e) => {
                    self.notice(format!("the room key could not be renewed: {e}"));
                    return;
                }
            }
        }
    }

    /// A data channel to `peer` opened under the room key with fingerprint `key` (the key in
    /// force, or a former one), to a device `member` signed for: a new sync session starts.
    /// Under a key this device never had, nothing happens.
    pub fn connected(
        &mut self,
        peer: &str,
        key: &str,
        member: Option<&str>,
        now: i64,
        links: &mut dyn PeerLinks,
    ) {
        let Some(syncs) = self.syncs(key, member) else {
            return;
        };
        let Some(session) = self.session(key, syncs) else {
            return;
        };
        self.peers.insert(
            peer.to_owned(),
            Peer {
                session,
                synced_at: None,
                key: key.to_owned(),
                member: member.map(str::to_owned),
                syncs,
            },
        );
        self.pump(peer, now, links);
    }

    /// What a peer under the key `key`, whose device `member` signed for, syncs; `None` for a
    /// key this device never had. Under a former key, a member given the key in force — who
    /// has not moved on yet, or was granted the key while this device was away — is in the
    /// room; anyone else (a removed member, a stranger with an old link) only gets the room as
    /// it was. A device cut off syncs the room as it was with everyone, read only, except
    /// with the devices of members given the key in force (see [`Syncs::Inbox`]).
    fn syncs(&self, key: &str, member: Option<&str>) -> Option<Syncs> {
        let former = self.former.contains_key(key);
        if !former && key != self.chain.secret.fingerprint() {
            return None;
        }
        if !former {
            return Some(Syncs::Room);
        }
        let holder = match (member, &self.chain.holders) {
            (Some(member), Some(holders)) => holders.contains(member),
            _ => false,
        };
        Some(match (holder, self.chain.cut_off) {
            (true, false) => Syncs::Room,
            (true, true) => Syncs::Inbox,
            (false, _) => Syncs::Frozen,
        })
    }

    /// A new session under the key `key` (read only with the room as it was).
    fn session(&self, key: &str, syncs: Syncs) -> Option<Session> {
        let secret = match self.former.get(key) {
            Some(former) => &former.secret,
            None if key == self.chain.secret.fingerprint() => &self.chain.secret,
            None => return None,
        };
        let session = Session::new(secret.room_key()).with_part_bytes(self.limits.part_bytes);
        Some(match syncs {
            Syncs::Frozen => session.read_only(),
            Syncs::Room | Syncs::Inbox => session,
        })
    }

    /// Checks that a peer's session still syncs what it should (the room's keys may have
    /// moved on since it connected): a session that changes what it syncs starts over; a peer
    /// under a key this device never had is dropped.
    fn settle(&mut self, peer: &str, now: i64, links: &mut dyn PeerLinks) -> Option<Syncs> {
        let p = self.peers.get(peer)?;
        let (key, member, was) = (p.key.clone(), p.member.clone(), p.syncs);
        let Some(syncs) = self.syncs(&key, member.as_deref()) else {
            // Under a key this device never moved on from (a rival's it never held): closed.
            self.peers.remove(peer);
            links.drop_peer(peer, now);
            return None;
        };
        if syncs != was {
            let session = self.session(&key, syncs)?;
            let p = self.peers.get_mut(peer)?;
            p.session = session;
            p.syncs = syncs;
        }
        Some(syncs)
    }

    /// The peer went away.
    pub fn disconnected(&mut self, peer: &str) {
        self.peers.remove(peer);
    }

    /// Peers with a sync session.
    pub fn peers(&self) -> impl Iterator<Item = &String> {
        self.peers.keys()
    }

    /// The device came back (woke, network back): sessions ask their peers to resend what may
    /// have been lost meanwhile.
    pub fn woke(&mut self, now: i64, links: &mut dyn PeerLinks) {
        let peers: Vec<String> = self.peers.keys().cloned().collect();
        for peer in peers {
            if let Some(p) = self.peers.get_mut(&peer) {
                p.session.retry(now);
            }
            self.pump(&peer, now, links);
        }
    }

    /// Every second or so: answers a session held back go out once their time comes, parts
    /// of a large message as the link drains (a peer whose link does not is dropped), and
    /// partial messages gone quiet are dropped.
    pub fn tick(&mut self, now: i64, links: &mut dyn PeerLinks) {
        let mut due: Vec<String> = Vec::new();
        for (id, p) in self.peers.iter_mut() {
            if p.session.expire_partials(now) || p.session.held_back() {
                due.push(id.clone());
            }
        }
        let held = due;
        for peer in held {
            self.pump(&peer, now, links);
        }
    }

    /// One message from a peer (hostile until checked).
    pub fn received(
        &mut self,
        peer: &str,
        bytes: &[u8],
        now: i64,
        store: &mut dyn ChunkStore,
        links: &mut dyn PeerLinks,
    ) -> Outcome {
        let Some(syncs) = self.settle(peer, now, links) else {
            return Outcome::Unknown;
        };
        let Some(p) = self.peers.get_mut(peer) else {
            return Outcome::Unknown;
        };
        let result = match syncs {
            Syncs::Room => {
                let since = self.room.changes_read();
                let result = p.session.receive(&mut self.room.doc_mut(), bytes, now);
                self.room.note_arrivals(since, now);
                result
            }
            Syncs::Frozen => {
                // Read only: the session takes nothing into the copy.
                let Some(frozen) = copy(&mut self.former, &p.key, syncs, &mut self.room) else {
                    return Outcome::Unknown;
                };
                unchanged(p.session.receive(frozen, bytes, now))
            }
            Syncs::Inbox => {
                let Some(inbox) = copy(&mut self.former, &p.key, syncs, &mut self.room) else {
                    return Outcome::Unknown;
                };
                let before = inbox.get_heads();
                let result = unchanged(p.session.receive(inbox, bytes, now));
                let rotations: Vec<automerge::ChangeHash> = inbox
                    .get_changes(&before)
                    .iter()
                    .filter(|c| puts_rotation(c))
                    .map(|c| c.hash())
                    .collect();
                let rival = match rotations.is_empty() {
                    true => None,
                    false => inbox.fork_at(&rotations).ok(),
                };
                let key = p.key.clone();
                if let Some(mut rival) = rival {
                    if self.brings_key(&mut rival, &key) {
                        let heads = self.room.doc_mut().get_heads();
                        if self.room.doc_mut().merge(&mut rival).is_ok()
                            && self.room.doc_mut().get_heads() != heads
                        {
                            self.changed(now, store, links);
                            return Outcome::Changed;
                        }
                    }
                }
                result
            }
        };
        match result {
            Ok(Received::Applied { changed: true }) => {
                self.changed(now, store, links);
                Outcome::Changed
            }
            Ok(Received::Partial) => {
                self.bound_partials(peer);
                Outcome::Unchanged
            }
            Ok(Received::Applied { changed: false }) => {
                self.pump(peer, now, links);
                Outcome::Unchanged
            }
            Err(e) => {
                let misbehaving = self
                    .peers
                    .get_mut(peer)
                    .is_some_and(|p| p.session.misbehaving(now));
                self.notice(format!("dropped a message from {}: {e}", short(peer)));
                if misbehaving {
                    self.notice(format!(
                        "disconnected {}: too many refused messages",
                        short(peer)
                    ));
                    self.peers.remove(peer);
                    links.drop_peer(peer, now + IGNORE_MS);
                }
                Outcome::Refused(e)
            }
        }
    }

    /// Whether `rival` (a rotation's change and its past, met under the former key `key`)
    /// brings this device a key it was given (a grant or a rotation with a box for its member)
    /// or a rotation of `key` that counts — signed, by a member admitted where it was
    /// written — and whose author is admitted in the room as it stands here. Anything else
    /// that only looks like a rotation (a removed member's, one made up to carry other
    /// changes along) brings nothing into the room.
    fn brings_key(&mut self, rival: &mut AutoCommit, key: &str) -> bool {
        let admitted = self.room.admitted();
        let known = self.room.rotation_authors(key);
        let Some(trial) = self.room.trial_merge(rival) else {
            return false;
        };
        let chain = trial.key_chain(&self.me, &self.first);
        let given = !chain.cut_off
            && (self.chain.cut_off
                || chain.secret.fingerprint() != self.chain.secret.fingerprint());
        let counts = given
            || trial
                .rotation_authors(key)
                .difference(&known)
                .any(|author| admitted.contains(author));
        if !counts {
            self.notice(
                "a rotation from a former key's peer was not taken: it does not count".into(),
            );
        }
        counts
    }

    /// Keeps the bytes of partly received messages within the limit.
    fn bound_partials(&mut self, peer: &str) {
        if self.partial_bytes() <= self.limits.partial_total {
            return;
        }
        let largest = self
            .peers
            .iter()
            .max_by_key(|(_, p)| p.session.partial_bytes())
            .map(|(id, _)| id.clone());
        if let Some(p) = largest.as_ref().and_then(|id| self.peers.get_mut(id)) {
            p.session.drop_partials();
        }
        self.notice(format!(
            "partial messages dropped: past {} bytes held (from {} now)",
            self.limits.partial_total,
            short(peer)
        ));
    }

    /// Bytes held in partly received messages, all peers together.
    pub fn partial_bytes(&self) -> usize {
        self.peers.values().map(|p| p.session.partial_bytes()).sum()
    }

    fn pump(&mut self, peer: &str, now: i64, links: &mut dyn PeerLinks) {
        let Some(syncs) = self.settle(peer, now, links) else {
            return;
        };
        let Some(p) = self.peers.get_mut(peer) else {
            return;
        };
        let queued = links.queued(peer);
        let copied = match syncs {
            Syncs::Room => None,
            Syncs::Frozen | Syncs::Inbox => {
                Some(copy(&mut self.former, &p.key, syncs, &mut self.room))
            }
        };
        let frames = match copied {
            None => p
                .session
                .outgoing_queued(&mut self.room.doc_mut(), now, queued),
            Some(Some(copy)) => p.session.outgoing_queued(copy, now, queued),
            Some(None) => return,
        };
        if p.session.not_reading(now) {
            return self.not_reading(peer, now, links);
        }
        for frame in frames {
            match links.send(peer, &frame) {
                Sent::Queued => {}
                Sent::Closed => return,
                Sent::Full => return self.not_reading(peer, now, links),
            }
        }
    }

    /// Drops a peer whose queue is full or does not drain, not just the frame: the session
    /// would wait for it forever.
    fn not_reading(&mut self, peer: &str, now: i64, links: &mut dyn PeerLinks) {
        self.notice(format!("disconnected {}: it does not read", short(peer)));
        self.peers.remove(peer);
        links.drop_peer(peer, now + SLOW_PEER_IGNORE_MS);
    }

    /// Writes what is not saved yet, then compacts if the room has too many chunks.
    fn persist(&mut self, store: &mut dyn ChunkStore) {
        self.saving.append(self.room.take_unsaved(), store);
    }

    /// A write finished.
    pub fn on_store(&mut self, event: StoreEvent, store: &mut dyn ChunkStore) {
        if let StoreEvent::Compacted { result: Err(e), .. } = &event {
            self.notice(format!("compaction failed: {e}"));
        }
        if self.saving.done(event) {
            store.keep_facts(self.room.facts());
        }
        if self.saving.compaction_due() {
            // Anything newer than the saved chunks goes out as its own chunk first.
            self.persist(store);
            let room = &mut self.room;
            self.saving.compact(|| room.doc_mut().save(), store);
        }
    }

    /// Tries again to write what a failed write left unsaved.
    pub fn retry_save(&mut self, store: &mut dyn ChunkStore) {
        self.persist(store);
    }

    /// What is saved and what is not.
    pub fn saving(&self) -> &Saving {
        &self.saving
    }

    /// Each connected peer: whether both hold the same document, and since when.
    pub fn peer_states(&mut self, now: i64) -> Vec<PeerState> {
        let mut states: Vec<PeerState> = Vec::new();
        let current = self.chain.secret.fingerprint();
        for (id, p) in self.peers.iter_mut() {
            if p.syncs != Syncs::Room && p.key != current {
                continue; // still on a former key: not in the room with this device
            }
            let up_to_date = p.session.status(&mut self.room.doc_mut()).up_to_date();
            if up_to_date {
                p.synced_at = Some(now);
            }
            states.push(PeerState {
                id: short(id),
                up_to_date,
                synced_at: p.synced_at,
                member: p.member.clone(),
            });
        }
        states.sort_by(|a, b| a.id.cmp(&b.id));
        states
    }

    fn notice(&mut self, text: String) {
        if self.notices.len() >= MAX_NOTICES {
            self.notices.remove(0);
        }
        self.notices.push(text);
    }

    /// What was refused or went wrong since last asked (for the log).
    pub fn take_notices(&mut self) -> Vec<String> {
        std::mem::take(&mut self.notices)
    }
}

/// Whether a change writes a rotation entry (a root key `rotation:…`).
fn puts_rotation(change: &automerge::Change) -> bool {
    use automerge::legacy::{Key, ObjectId};
    change.decode().operations.iter().any(|op| {
        op.obj == ObjectId::Root && matches!(&op.key, Key::Map(k) if k.starts_with("rotation:"))
    })
}

/// The former keys of `chain`, by fingerprint.
fn formers(chain: &KeyChain) -> BTreeMap<String, Former> {
    chain
        .former
        .iter()
        .map(|(secret, until)| {
            let entry = Former {
                secret: secret.clone(),
                until: vec![*until],
                frozen: None,
                inbox: None,
            };
            (secret.fingerprint(), entry)
        })
        .collect()
}

/// A device cut off serves the room only as it was at the rotation it was left out of, under
/// the key it still has: what it writes after does not spread from it (a modified app can, but
/// its entries count for nothing).
fn cut(chain: &KeyChain, former: &mut BTreeMap<String, Former>) {
    if let Some(until) = chain.cut_at {
        former.insert(
            chain.secret.fingerprint(),
            Former {
                secret: chain.secret.clone(),
                until: vec![until],
                frozen: None,
                inbox: None,
            },
        );
    }
}

/// A copy of the room as it was under the former key `key`, made from it the first time it is
/// asked for: the one served read only (`Syncs::Frozen`), or what a device cut off took from
/// holders' devices (`Syncs::Inbox`).
fn copy<'a>(
    former: &'a mut BTreeMap<String, Former>,
    key: &str,
    syncs: Syncs,
    room: &mut RoomDoc,
) -> Option<&'a mut AutoCommit> {
    let f = former.get_mut(key)?;
    let slot = match syncs {
        Syncs::Inbox => &mut f.inbox,
        Syncs::Frozen | Syncs::Room => &mut f.frozen,
    };
    if slot.is_none() {
        *slot = room.doc_mut().fork_at(&f.until).ok();
    }
    slot.as_mut()
}

/// A message taken into a copy, not the room: the room did not change.
fn unchanged(result: Result<Received, Rejected>) -> Result<Received, Rejected> {
    result.map(|r| match r {
        Received::Applied { .. } => Received::Applied { changed: false },
        partial => partial,
    })
}

fn short(id: &str) -> String {
    id.chars().take(8).collect()
}
