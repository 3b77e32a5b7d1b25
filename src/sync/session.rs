//! One sync session with one remote peer over one connection. A new connection gets a new
//! session, so sync state is reset on every reconnect.

use super::frame::{Frame, FrameError, Reassembler, CHUNK_PAYLOAD, FRAME_HEADER, MAX_MESSAGE};
use crate::crypto::{OpenError, RoomKey, SEAL_OVERHEAD};
use automerge::sync::{Message, MessageFlags, MessageVersion, State, SyncDoc};
use automerge::{AutoCommit, ChangeHash, ReadDoc};
use std::collections::VecDeque;

/// The largest sealed data-channel message accepted; anything larger is dropped unread.
pub const MAX_SEALED_FRAME: usize = FRAME_HEADER + CHUNK_PAYLOAD + SEAL_OVERHEAD;
/// Associated data binding every sealed data-channel message to its purpose.
pub const DATA_CONTEXT: &[u8] = b"tequio/data/v1";
const CONTEXT: &[u8] = DATA_CONTEXT;

/// Why an incoming message was dropped. Nothing of it reached the document.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejected {
    #[error("message of {0} bytes exceeds the size cap")]
    TooLarge(usize),
    #[error("message could not be opened: {0}")]
    Sealed(#[from] OpenError),
    #[error("bad frame: {0}")]
    Frame(#[from] FrameError),
    #[error("sync message refused unread: {0}")]
    Invalid(#[from] super::wire::Invalid),
    #[error("not an automerge sync message: {0}")]
    Decode(String),
    #[error("sync message refused by the document: {0}")]
    Apply(String),
}

/// Requests to start over (a sync reset: send me everything again) answered per peer and
/// minute; later ones wait. An honest peer makes one each time its device wakes, at most every
/// [`RETRY_EVERY_MS`].
pub const RESTARTS_PER_MINUTE: usize = 3;
/// How often this side asks to start over after a silence.
pub const RETRY_EVERY_MS: i64 = 20_000;
/// The whole document (automerge's save) goes to one peer at most this often; in between, a
/// peer that asks for everything again is sent changes, without saving the room anew.
pub const WHOLE_DOC_EVERY_MS: i64 = 60_000;
/// A sync message larger than this goes as several, each with some of its changes in causal
/// order: a room of any size reaches a new device (a whole document in one message could
/// pass what a peer accepts, [`MAX_MESSAGE`]).
pub const PART_BYTES: usize = 8 * 1024 * 1024;
/// An answer carrying more than this share of the room's change bytes (here a quarter) is
/// large: a new device's first sync, the answer to a peer that asked to start over — or to a
/// message made for this side to send again what it sent (a peer's own heads and an empty
/// Bloom filter did: every change, each time). At most [`LARGE_ANSWERS_PER_MINUTE`] go to a
/// peer a minute; a later one waits (see [`Session::held_back`]), and nothing after it goes.
pub const LARGE_ANSWER_SHARE: usize = 4;
/// Answers within one frame are never large, whatever the room's size (in a small room each
/// is a large share of it): small updates never wait.
pub const LARGE_ANSWER_FLOOR: usize = CHUNK_PAYLOAD;
/// Large answers to one peer a minute: an honest one needs one for its first sync, and one
/// each time it asks to start over, which it does at most every [`RETRY_EVERY_MS`].
pub const LARGE_ANSWERS_PER_MINUTE: usize = (MINUTE_MS / RETRY_EVERY_MS) as usize;
/// The parts of a large message are handed to the link while it holds less than this many
/// parts' worth for the peer (one being read, the next ready, so the link never idles); the
/// others wait in the session. All at once, a room larger than the link's queue (see
/// `net::outbox::MAX_QUEUED`) overfilled it, and the new device was dropped as not reading.
pub const PARTS_AHEAD: usize = 2;
/// Parts waiting this long for a link that reads nothing of what it holds: the peer does not
/// read. As long as the peer's side keeps a partial message without a new chunk
/// (`frame::PARTIAL_TTL_MS`): it has let ours go by then anyway.
pub const NOT_READING_MS: i64 = super::frame::PARTIAL_TTL_MS;
/// Refused messages within [`STRIKE_WINDOW_MS`] after which the peer is to be dropped.
pub const STRIKES_TO_DROP: usize = 3;
pub const STRIKE_WINDOW_MS: i64 = 10 * 60_000;
const MINUTE_MS: i64 = 60_000;

/// What an accepted message did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Received {
    /// A chunk of a larger message; nothing applied yet.
    Partial,
    /// A whole sync message was applied; `changed` tells whether the document gained changes.
    Applied { changed: bool },
}

/// Where one peer and this device stand, as far as the last messages tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PeerSync {
    /// Every change the peer last said it has is here.
    pub have_theirs: bool,
    /// The peer has every change here (known only once `have_theirs`).
    pub they_have_mine: bool,
}

impl PeerSync {
    /// Both hold the same document.
    pub fn up_to_date(self) -> bool {
        self.have_theirs && self.they_have_mine
    }
}

/// Sync state and framing for one remote peer.
pub struct Session {
    key: RoomKey,
    state: State,
    reassembler: Reassembler,
    next_message_id: u32,
    /// When requests to start over were last answered (within the last minute).
    restarts: VecDeque<i64>,
    /// The peer asked to start over and has not been answered yet.
    restart_pending: bool,
    /// When the whole document was last sent.
    whole_doc_at: Option<i64>,
    /// When messages from the peer were refused (within [`STRIKE_WINDOW_MS`]).
    strikes: VecDeque<i64>,
    /// When this side last asked to start over.
    retried_at: Option<i64>,
    /// See [`PART_BYTES`].
    part_bytes: usize,
    /// A partly received message was let go: the peer is to be asked to resend.
    resend_due: bool,
    /// Messages made and not yet handed to the link, encoded: the parts of one message that
    /// are still to go (see [`PARTS_AHEAD`]).
    waiting: VecDeque<Vec<u8>>,
    /// Parts wait for a link without room, which held this many bytes and has read none of
    /// them since then (ms).
    stalled: Option<(usize, i64)>,
    /// The message waiting is a large answer (see [`LARGE_ANSWER_SHARE`]) not yet sent.
    large_waiting: bool,
    /// When large answers went (within the last minute).
    large_sent: VecDeque<i64>,
    /// The room's change bytes, and the heads they were counted at (see
    /// [`Session::room_bytes`]).
    room_bytes: Option<(Vec<ChangeHash>, usize)>,
}

impl Session {
    pub fn new(key: RoomKey) -> Self {
        Self {
            key,
            state: State::new(),
            reassembler: Reassembler::default(),
            next_message_id: 0,
            restarts: VecDeque::new(),
            restart_pending: false,
            whole_doc_at: None,
            strikes: VecDeque::new(),
            retried_at: None,
            part_bytes: PART_BYTES,
            resend_due: false,
            waiting: VecDeque::new(),
            stalled: None,
            large_waiting: false,
            large_sent: VecDeque::new(),
            room_bytes: None,
        }
    }

    /// Parts smaller than [`PART_BYTES`] (tests).
    pub fn with_part_bytes(mut self, bytes: usize) -> Self {
        self.part_bytes = bytes;
        self
    }

    /// A session that never applies what the peer sends (and says so, so an honest peer sends
    /// no changes): for a peer that may only read the room as it was.
    pub fn read_only(mut self) -> Self {
        self.state.set_read_only(true);
        self
    }

    /// The sealed frames to send now (`now` in ms), if the peer is missing anything (or must
    /// learn our heads): all of them, as to a link that takes everything (tests, simulations;
    /// the replica uses [`Session::outgoing_queued`]).
    pub fn outgoing(&mut self, doc: &mut AutoCommit, now: i64) -> Vec<Vec<u8>> {
        self.outgoing_within(doc, now, usize::MAX)
    }

    /// The sealed frames to send now over a link that holds `queued` bytes for the peer
    /// already. The parts of a large message go while it holds less than [`PARTS_AHEAD`]
    /// parts' worth; the others wait here for it to drain (see [`Session::held_back`]), and
    /// nothing new is made meanwhile. If it does not drain (see [`Session::not_reading`]),
    /// the peer does not read.
    pub fn outgoing_queued(
        &mut self,
        doc: &mut AutoCommit,
        now: i64,
        queued: usize,
    ) -> Vec<Vec<u8>> {
        let room = (PARTS_AHEAD * self.part_bytes).saturating_sub(queued);
        let frames = self.outgoing_within(doc, now, room);
        self.stalled = match self.stalled {
            _ if room > 0 || self.waiting.is_empty() => None,
            // The link read none of what it held since.
            Some((before, since)) if queued >= before => Some((before, since)),
            _ => Some((queued, now)),
        };
        frames
    }

    /// Parts have waited [`NOT_READING_MS`] for a link that read nothing of what it holds:
    /// the peer does not read (it is to be dropped).
    pub fn not_reading(&self, now: i64) -> bool {
        self.stalled
            .is_some_and(|(_, since)| now.saturating_sub(since) >= NOT_READING_MS)
    }

    /// Frames of the messages waiting, up to about `room` bytes (past it by one part at most;
    /// none if `room` is 0); a new message is made once none waits.
    fn outgoing_within(&mut self, doc: &mut AutoCommit, now: i64, room: usize) -> Vec<Vec<u8>> {
        if self.waiting.is_empty() && room > 0 {
            self.make(doc, now);
        }
        if self.large_waiting {
            forget_before(&mut self.large_sent, now - MINUTE_MS);
            if self.large_sent.len() >= LARGE_ANSWERS_PER_MINUTE {
                return Vec::new();
            }
            self.large_sent.push_back(now);
            self.large_waiting = false;
        }
        let mut room = room;
        let mut frames = Vec::new();
        while room > 0 {
            let Some(encoded) = self.waiting.pop_front() else {
                break;
            };
            let id = self.next_message_id;
            self.next_message_id = self.next_message_id.wrapping_add(1);
            for frame in Frame::split(id, &encoded) {
                let sealed = self.key.seal(CONTEXT, &frame);
                room = room.saturating_sub(sealed.len());
                frames.push(sealed);
            }
        }
        frames
    }

    /// Makes the next message for the peer, if it is missing anything (or must learn our
    /// heads), and puts it in parts in the waiting line.
    fn make(&mut self, doc: &mut AutoCommit, now: i64) {
        if self.restart_pending {
            // Answering a sync reset sends everything again: a few times a minute at most.
            forget_before(&mut self.restarts, now - MINUTE_MS);
            if self.restarts.len() >= RESTARTS_PER_MINUTE {
                return;
            }
            self.restarts.push_back(now);
            self.restart_pending = false;
        }
        // Within a minute of sending the whole document, automerge is kept from saving and
        // sending it again (it does so for a peer that says it has nothing, or lacks a third of
        // the changes): seen as a peer without whole-document messages, it is sent changes.
        let hold_back = self
            .whole_doc_at
            .is_some_and(|at| now.saturating_sub(at) < WHOLE_DOC_EVERY_MS)
            && !self.state.needs_reset;
        let capabilities = if hold_back {
            self.state.their_capabilities.as_mut().map(std::mem::take)
        } else {
            None
        };
        let message = doc.sync().generate_sync_message(&mut self.state);
        if let (Some(caps), Some(mine)) = (capabilities, self.state.their_capabilities.as_mut()) {
            *mine = caps;
        }
        let Some(message) = message else {
            return;
        };
        let document = message.changes.iter().any(super::wire::is_document);
        if document {
            self.whole_doc_at = Some(now);
        }
        let carried: usize = message.changes.iter().map(<[u8]>::len).sum();
        self.large_waiting = carried > LARGE_ANSWER_FLOOR
            && carried.saturating_mul(LARGE_ANSWER_SHARE) > self.room_bytes(doc);
        self.waiting
            .extend(in_parts(message, document, doc, self.part_bytes));
    }

    /// The bytes of the room's changes: counted once, then what came since added (a device
    /// passing on a large room part by part counts each part, not the room each time).
    fn room_bytes(&mut self, doc: &mut AutoCommit) -> usize {
        let heads = doc.get_heads();
        let (at, counted) = self.room_bytes.take().unwrap_or_default();
        let bytes = if at == heads {
            counted
        } else {
            let since = doc.get_changes(&at);
            counted + since.iter().map(|c| c.raw_bytes().len()).sum::<usize>()
        };
        self.room_bytes = Some((heads, bytes));
        bytes
    }

    /// Checks, opens, reassembles and applies one message from the peer, arrived at `now`
    /// (ms). A refused message counts a strike against the peer (see [`Session::misbehaving`]).
    pub fn receive(
        &mut self,
        doc: &mut AutoCommit,
        sealed: &[u8],
        now: i64,
    ) -> Result<Received, Rejected> {
        let result = self.receive_checked(doc, sealed, now);
        if result.is_err() {
            self.strikes.push_back(now);
        }
        result
    }

    fn receive_checked(
        &mut self,
        doc: &mut AutoCommit,
        sealed: &[u8],
        now: i64,
    ) -> Result<Received, Rejected> {
        if sealed.len() > MAX_SEALED_FRAME {
            return Err(Rejected::TooLarge(sealed.len()));
        }
        let plain = self.key.open(CONTEXT, sealed)?;
        let frame = Frame::decode(&plain)?;
        let Some(message) = self.reassembler.push(frame, now) else {
            return Ok(Received::Partial);
        };
        if message.len() > MAX_MESSAGE {
            return Err(Rejected::TooLarge(message.len()));
        }
        // Automerge trusts what a message says of itself: checked first (see `wire`).
        super::wire::check(&message)?;
        let mut message = Message::decode(&message).map_err(|e| Rejected::Decode(e.to_string()))?;
        // A hash listed twice is a set's one member: automerge panics fetching a needed change
        // listed twice (any key holder's 70 bytes ended the app), so lists are made sets.
        for list in [&mut message.heads, &mut message.need] {
            list.sort();
            list.dedup();
        }
        for have in &mut message.have {
            have.last_sync.sort();
            have.last_sync.dedup();
        }
        // Asking to start over makes this side send everything again (see `outgoing`).
        let reset = message
            .flags
            .is_some_and(|f| f.contains(MessageFlags::SYNC_RESET));
        if reset {
            self.restart_pending = true;
        }
        // What was sent stays sent unless the peer asks to start over (answered a few times a
        // minute, see `outgoing`): within one connection a peer loses nothing. Automerge
        // forgets what it sent once the peer's heads include it, and sends it again to a peer
        // that then says it lacks it — a peer's own heads and an empty Bloom filter made it
        // send every change again, for each 39-byte message. (The session keeps the hash of
        // every change it sent on the connection then: 32 bytes a change.)
        let sent = (!reset).then(|| std::mem::take(&mut self.state.sent_hashes));
        // What the peer names as needed is sent again though sent before: it says it lacks it
        // (its session started over on another copy). Bounded like any answer (see `outgoing`).
        let needed = message.need.clone();
        // Automerge takes a message with no heads for a peer that lost its data, and starts
        // over: it sends the whole room again. Such a message has only crossed this side's
        // answer on the way (both sides speak first when a connection opens).
        let last_sent = (message.heads.is_empty() && sent.as_ref().is_some_and(|s| !s.is_empty()))
            .then(|| self.state.last_sent_heads.clone());
        // A peer that does not know what this side last took as shared answers with its heads
        // and an empty summary (automerge's reset message). If it holds changes this side
        // lacks, this side would keep naming the same last sync and the peer keep answering
        // so, for ever (seen when one side of a connection started its session over): this
        // side forgets what it took as shared, so its next summary covers everything.
        let lost_track = message.need.is_empty()
            && message.changes.is_empty()
            && matches!(message.have.as_slice(), [have] if have.last_sync.is_empty()
                && have.bloom.to_bytes().is_empty())
            && !message
                .heads
                .iter()
                .all(|h| doc.get_change_by_hash(h).is_some());
        let before = doc.get_heads();
        let applied = doc.sync().receive_sync_message(&mut self.state, message);
        if lost_track {
            self.state.shared_heads.clear();
        }
        if let Some(mut sent) = sent {
            for hash in &needed {
                sent.remove(hash);
            }
            self.state.sent_hashes = sent;
        }
        if let Some(heads) = last_sent {
            self.state.last_sent_heads = heads;
        }
        applied.map_err(|e| Rejected::Apply(e.to_string()))?;
        Ok(Received::Applied {
            changed: doc.get_heads() != before,
        })
    }

    /// Whether the peer has had [`STRIKES_TO_DROP`] messages refused within
    /// [`STRIKE_WINDOW_MS`] of `now`: it is to be disconnected and ignored for a while.
    pub fn misbehaving(&mut self, now: i64) -> bool {
        forget_before(&mut self.strikes, now - STRIKE_WINDOW_MS);
        self.strikes.len() >= STRIKES_TO_DROP
    }

    /// Something waits to go out: the answer to a request to start over, for
    /// [`RESTARTS_PER_MINUTE`] to allow it, a large answer, for
    /// [`LARGE_ANSWERS_PER_MINUTE`], or parts of a message, for the link to drain.
    pub fn held_back(&self) -> bool {
        self.restart_pending || !self.waiting.is_empty()
    }

    /// Bytes held in partly received messages.
    pub fn partial_bytes(&self) -> usize {
        self.reassembler.bytes()
    }

    /// Lets go partly received messages that have had no chunk for a while. When a partly
    /// received message was let go (it went quiet, or memory was short), the
    /// peer is asked to start over so that it sends it again: whether it was asked now (then
    /// the caller sends what [`Session::outgoing`] has).
    pub fn expire_partials(&mut self, now: i64) -> bool {
        self.reassembler.expire(now);
        if self.reassembler.take_lost() {
            self.resend_due = true;
        }
        self.resend_due && self.retry(now) && {
            self.resend_due = false;
            true
        }
    }

    /// Forgets partly received messages (memory is short); the peer is asked to resend.
    pub fn drop_partials(&mut self) {
        self.reassembler.clear();
        self.resend_due = true;
    }

    /// Compares the heads the peer last reported with this document. Honest by construction:
    /// until the peer has said what it has, neither side counts as complete.
    pub fn status(&self, doc: &mut AutoCommit) -> PeerSync {
        let Some(theirs) = &self.state.their_heads else {
            return PeerSync::default();
        };
        let doc = doc.document();
        let have_theirs = theirs.iter().all(|h| doc.get_change_by_hash(h).is_some());
        // Every change here is an ancestor of (or one of) their heads: nothing to send.
        let they_have_mine = have_theirs && doc.get_changes_meta(theirs).is_empty();
        PeerSync {
            have_theirs,
            they_have_mine,
        }
    }

    /// After a silence (a message may have been lost): forget what we think was sent and ask
    /// the peer to do the same, so the next exchange resends whatever is missing. At most
    /// every [`RETRY_EVERY_MS`] (the peer accepts only a few such requests a minute); whether
    /// it was done.
    pub fn retry(&mut self, now: i64) -> bool {
        if self
            .retried_at
            .is_some_and(|at| now.saturating_sub(at) < RETRY_EVERY_MS)
        {
            return false;
        }
        self.retried_at = Some(now);
        self.state.sent_hashes.clear();
        self.state.in_flight = false;
        self.state.have_responded = false;
        self.state.last_sent_heads.clear();
        self.state.needs_reset = true;
        self.reassembler.clear();
        true
    }
}

/// `message` encoded, as one message or, past `limit` bytes of changes, as several: the changes it
/// carries (a whole document's as its changes, in causal order) in groups of at most `limit`
/// bytes (a single larger change goes alone), each with the same heads; the last also with
/// what the peer is asked for and told this device has. Receiving them in order is receiving
/// the one message.
fn in_parts(message: Message, document: bool, doc: &mut AutoCommit, limit: usize) -> Vec<Vec<u8>> {
    let carried: usize = message.changes.iter().map(<[u8]>::len).sum();
    if carried <= limit {
        return vec![message.encode()];
    }
    let changes: Vec<Vec<u8>> = if document {
        doc.get_changes(&[])
            .iter()
            .map(|c| c.raw_bytes().to_vec())
            .collect()
    } else {
        // An element may hold many changes one after another (automerge's V2 messages do):
        // split into its chunks, so each part stays within the limit.
        message
            .changes
            .iter()
            .flat_map(|element| match super::wire::split_chunks(element) {
                Some(chunks) => chunks.into_iter().map(<[u8]>::to_vec).collect(),
                None => vec![element.to_vec()],
            })
            .collect()
    };
    let mut groups: Vec<Vec<Vec<u8>>> = vec![Vec::new()];
    let mut size = 0;
    for change in changes {
        let last = groups.last_mut().expect("one group at least");
        if !last.is_empty() && (size + change.len() > limit || last.len() >= 50_000) {
            groups.push(Vec::new());
            size = 0;
        }
        size += change.len();
        groups.last_mut().expect("one group at least").push(change);
    }
    let count = groups.len();
    groups
        .into_iter()
        .enumerate()
        .map(|(i, changes)| {
            let last = i + 1 == count;
            Message {
                heads: message.heads.clone(),
                need: if last {
                    message.need.clone()
                } else {
                    Vec::new()
                },
                have: if last {
                    message.have.clone()
                } else {
                    Vec::new()
                },
                changes: changes.into(),
                flags: message.flags,
                version: MessageVersion::V1,
            }
            .encode()
        })
        .collect()
}

/// Drops the times at or before `before` from the front of an ordered queue.
fn forget_before(times: &mut VecDeque<i64>, before: i64) {
    while times.front().is_some_and(|at| *at <= before) {
        times.pop_front();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn post(title: &str) -> NewPost {
        NewPost {
            kind: PostKind::Offer,
            title: title.into(),
            description: String::new(),
            category: "Tools".into(),
        }
    }

    #[test]
    fn status_says_up_to_date_only_when_both_sides_hold_the_same_changes() {
        let secret = RoomSecret::generate();
        let mut a = RoomDoc::create("room-1", "Tools", 1).unwrap();
        let mut b = RoomDoc::empty("room-1");
        let (mut sa, mut sb) = (
            Session::new(secret.room_key()),
            Session::new(secret.room_key()),
        );
        // Nothing heard yet: not known to be up to date.
        assert_eq!(sa.status(&mut a.doc_mut()), PeerSync::default());
        exchange(&mut a, &mut sa, &mut b, &mut sb);
        assert!(sa.status(&mut a.doc_mut()).up_to_date());
        assert!(sb.status(&mut b.doc_mut()).up_to_date());
        // A change made here: the peer lacks it until the next exchange.
        a.add_post(&me(), post("Ladder"), 2).unwrap();
        let s = sa.status(&mut a.doc_mut());
        assert!(s.have_theirs && !s.they_have_mine);
        // The peer's view: it still believes it is complete until A's message arrives.
        let frames = sa.outgoing(&mut a.doc_mut(), 0);
        for f in frames {
            sb.receive(&mut b.doc_mut(), &f, 0).unwrap();
        }
        let s = sb.status(&mut b.doc_mut());
        assert!(s.have_theirs, "B now has what A said it has");
        exchange(&mut a, &mut sa, &mut b, &mut sb);
        assert!(
            sa.status(&mut a.doc_mut()).up_to_date() && sb.status(&mut b.doc_mut()).up_to_date()
        );
        // The peer reports a change this device lacks.
        b.add_post(&me(), post("Saw"), 3).unwrap();
        for f in sb.outgoing(&mut b.doc_mut(), 0) {
            let before = sa.status(&mut a.doc_mut());
            assert!(before.up_to_date() || !before.have_theirs);
            sa.receive(&mut a.doc_mut(), &f, 0).unwrap();
        }
        exchange(&mut a, &mut sa, &mut b, &mut sb);
        assert!(
            sa.status(&mut a.doc_mut()).up_to_date() && sb.status(&mut b.doc_mut()).up_to_date()
        );
    }

    /// A fresh device key to sign with.
    fn me() -> crate::crypto::Identity {
        crate::crypto::Identity::generate()
    }
    use crate::crypto::RoomSecret;
    use crate::domain::{NewPost, PostKind, RoomDoc};

    fn exchange(a: &mut RoomDoc, sa: &mut Session, b: &mut RoomDoc, sb: &mut Session) -> usize {
        exchange_seeing(a, sa, b, sb, |_| {})
    }

    /// [`exchange`], showing `seen` each frame A sends.
    fn exchange_seeing(
        a: &mut RoomDoc,
        sa: &mut Session,
        b: &mut RoomDoc,
        sb: &mut Session,
        mut seen: impl FnMut(&[u8]),
    ) -> usize {
        let mut frames = 0;
        for _ in 0..50 {
            let out_a = sa.outgoing(&mut a.doc_mut(), 0);
            let out_b = sb.outgoing(&mut b.doc_mut(), 0);
            if out_a.is_empty() && out_b.is_empty() {
                return frames;
            }
            frames += out_a.len() + out_b.len();
            for f in out_a {
                seen(&f);
                sb.receive(&mut b.doc_mut(), &f, 0).unwrap();
            }
            for f in out_b {
                sa.receive(&mut a.doc_mut(), &f, 0).unwrap();
            }
        }
        panic!("no quiescence");
    }

    /// Three copies of a room with one post by `author`.
    fn three_copies(author: &crate::crypto::Identity) -> [RoomDoc; 3] {
        let mut base = RoomDoc::create("room-1", "Tools", 1).unwrap();
        base.add_post(author, post("base"), 2).unwrap();
        let saved = base.doc_mut().save();
        [(); 3].map(|_| RoomDoc::load_chunks("room-1", [saved.as_slice()]).unwrap())
    }

    /// One side of a connection starts its session over, read only, on an older copy that has
    /// a change the other lacks (a device serving the room as it was): the other side's last
    /// sync names a change that copy does not have. Before, the two answered each other with
    /// the same two messages for ever; now the other side starts its summary over and gets
    /// the change.
    #[test]
    fn a_peer_that_lost_track_of_the_last_sync_gets_what_it_lacks() {
        let secret = RoomSecret::generate();
        let author = me();
        let [mut n, mut room, mut older] = three_copies(&author);
        room.add_post(&author, post("in the room"), 3).unwrap();
        older
            .add_post(&author, post("only in the older copy"), 3)
            .unwrap();
        let mut sn = Session::new(secret.room_key());
        let mut sr = Session::new(secret.room_key());
        exchange(&mut n, &mut sn, &mut room, &mut sr);
        let mut so = Session::new(secret.room_key()).read_only();
        exchange(&mut n, &mut sn, &mut older, &mut so);
        n.reindex();
        let titles: Vec<String> = n.posts().into_iter().map(|p| p.title).collect();
        assert!(
            titles.contains(&"only in the older copy".to_string()),
            "{titles:?}"
        );
        assert_eq!(older.posts().len(), 2, "read only: took nothing");
    }

    /// One side of a connection starts its session over (the replica's `settle`: a device cut
    /// off that took up a key moves from the room as it was to the room) on a copy that lacks
    /// changes the other side sent to its old session. The other side keeps what it sent as
    /// sent within a connection, but sends again what the peer names as needed: before, those
    /// changes never came again and the two answered each other for ever.
    #[test]
    fn a_peer_that_started_over_without_a_reset_gets_what_it_was_sent_before() {
        let secret = RoomSecret::generate();
        let author = me();
        let [mut bo, mut frozen, mut room] = three_copies(&author);
        bo.add_post(&author, post("sent to the old session"), 3)
            .unwrap();
        let mut sb = Session::new(secret.room_key());
        let mut old = Session::new(secret.room_key());
        exchange(&mut bo, &mut sb, &mut frozen, &mut old);
        frozen.reindex();
        assert_eq!(frozen.posts().len(), 2);
        // The same connection, this side's session started over on the room.
        let mut new = Session::new(secret.room_key());
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            exchange(&mut bo, &mut sb, &mut room, &mut new)
        }));
        room.reindex();
        let titles: Vec<String> = room.posts().into_iter().map(|p| p.title).collect();
        assert!(
            result.is_ok() && titles.contains(&"sent to the old session".to_string()),
            "quiesced: {}, room has {titles:?}",
            result.is_ok()
        );
    }

    #[test]
    fn a_large_room_reaches_a_new_peer_in_chunks_below_64k() {
        let key = RoomSecret::generate().room_key();
        let mut a = big_room(600);
        let mut b = RoomDoc::empty("room-1");
        let (mut sa, mut sb) = (Session::new(key.clone()), Session::new(key));
        let mut largest = 0;
        exchange_seeing(&mut a, &mut sa, &mut b, &mut sb, |f| {
            largest = largest.max(f.len())
        });
        assert!(largest < 64 * 1024, "largest frame {largest}");
        assert!(largest > 60 * 1024, "the room should have needed chunking");
        assert_eq!(b.posts(), a.posts());
        assert_eq!(b.posts().len(), 600);
    }

    /// A room whose one sync message would pass the part size reaches a new peer as several
    /// messages, none past the part size by more than one change.
    #[test]
    fn a_room_larger_than_a_part_reaches_a_new_peer_in_parts() {
        let key = RoomSecret::generate().room_key();
        let mut a = big_room(600);
        let largest_change = a
            .doc_mut()
            .get_changes(&[])
            .iter()
            .map(|c| c.raw_bytes().len())
            .max()
            .unwrap();
        let part = 64 * 1024;
        let whole = a.doc_mut().save().len();
        assert!(whole > 2 * part, "the room ({whole} bytes) needs parts");
        let mut b = RoomDoc::empty("room-1");
        let mut sa = Session::new(key.clone()).with_part_bytes(part);
        let mut sb = Session::new(key.clone());
        let mut sizes: std::collections::BTreeMap<u32, usize> = Default::default();
        exchange_seeing(&mut a, &mut sa, &mut b, &mut sb, |f| {
            let plain = key.open(CONTEXT, f).unwrap();
            let frame = Frame::decode(&plain).unwrap();
            *sizes.entry(frame.message_id).or_default() += frame.payload.len();
        });
        assert_eq!(b.posts(), a.posts());
        // Sent once: the new peer's first messages cross the answer, and do not make this
        // side send the room again (they did: 601,883 bytes for a room of 412,139).
        let changes: usize = a
            .doc_mut()
            .get_changes(&[])
            .iter()
            .map(|c| c.raw_bytes().len())
            .sum();
        let total: usize = sizes.values().sum();
        assert!(
            total < changes + changes / 10,
            "{total} bytes for {changes}: {sizes:?}"
        );
        let parts = sizes.values().filter(|s| **s > part / 2).count();
        assert!(parts >= 3, "sent as {parts} large messages: {sizes:?}");

        assert!(
            sizes.values().all(|s| *s <= part + largest_change + 4096),
            "{sizes:?}"
        );
    }

    /// Frames of a large message lost on the way (the partial message is let go after half a
    /// minute): the receiver asks to start over, and the room arrives after all. Before, the
    /// two sides went back and forth for ever with the new device empty.
    #[test]
    fn a_message_lost_in_part_is_sent_again() {
        let key = RoomSecret::generate().room_key();
        // B holds the room as it was; what A wrote since crosses in a message of many frames.
        let mut a = big_room(100);
        let mut b = RoomDoc::empty("room-1");
        let mut sa = Session::new(key.clone());
        let mut sb = Session::new(key.clone());
        exchange(&mut a, &mut sa, &mut b, &mut sb);
        for i in 0..120 {
            let description = (0..8).map(|_| crate::crypto::random_id()).collect();
            let new = NewPost {
                description,
                ..post(&format!("Later {i}"))
            };
            a.add_post(&me(), new, 1_000 + i).unwrap();
        }
        let mut lost = 0;
        let mut now = 0;
        // A round a second; B's tick lets quiet partial messages go, as the replica's does.
        for _ in 0..200 {
            now += 1_000;
            sb.expire_partials(now);
            let out_a = sa.outgoing(&mut a.doc_mut(), now);
            let out_b = sb.outgoing(&mut b.doc_mut(), now);
            if out_a.is_empty() && out_b.is_empty() && b.posts().len() == a.posts().len() {
                break;
            }
            for f in out_a {
                let plain = key.open(CONTEXT, &f).unwrap();
                let frame = Frame::decode(&plain).unwrap();
                if frame.count > 1 && frame.index == 1 && lost < 1 {
                    lost += 1;
                    continue;
                }
                sb.receive(&mut b.doc_mut(), &f, now).unwrap();
            }
            for f in out_b {
                sa.receive(&mut a.doc_mut(), &f, now).unwrap();
            }
        }
        assert_eq!(lost, 1);
        assert_eq!(b.posts(), a.posts());
    }

    #[test]
    fn hostile_messages_are_rejected_and_change_nothing() {
        let secret = RoomSecret::generate();
        let key = secret.room_key();
        let mut doc = RoomDoc::create("room-1", "Room", 0).unwrap();
        let heads = doc.doc_mut().get_heads();
        let mut s = Session::new(key.clone());
        let huge = vec![0u8; MAX_SEALED_FRAME + 1];
        assert_eq!(
            s.receive(&mut doc.doc_mut(), &huge, 0),
            Err(Rejected::TooLarge(huge.len()))
        );
        assert!(matches!(
            s.receive(&mut doc.doc_mut(), b"short", 0),
            Err(Rejected::Sealed(_))
        ));
        let other = RoomSecret::generate().room_key();
        let foreign = other.seal(CONTEXT, &Frame::split(0, b"x")[0]);
        assert_eq!(
            s.receive(&mut doc.doc_mut(), &foreign, 0),
            Err(Rejected::Sealed(OpenError::Unauthentic))
        );
        let garbage = key.seal(CONTEXT, &Frame::split(0, b"\x42garbage")[0]);
        assert!(matches!(
            s.receive(&mut doc.doc_mut(), &garbage, 0),
            Err(Rejected::Invalid(_))
        ));
        let not_a_frame = key.seal(CONTEXT, b"\x07");
        assert!(matches!(
            s.receive(&mut doc.doc_mut(), &not_a_frame, 0),
            Err(Rejected::Frame(_))
        ));
        assert_eq!(doc.doc_mut().get_heads(), heads);
    }

    /// A link holder's 10-byte message: a Bloom filter that claims an entry but holds no bits.
    /// Automerge applied it, and the next reply divided by zero — a panic, in wasm the end of
    /// the app, again on every reconnect. Refused unread now; the session still answers.
    #[test]
    fn a_bloom_filter_with_no_bits_is_refused_and_the_session_keeps_answering() {
        let key = RoomSecret::generate().room_key();
        let mut room = RoomDoc::create("room-1", "Target", 0).unwrap();
        let message = [0x42, 0x00, 0x00, 0x01, 0x00, 0x03, 0x01, 0x00, 0x01, 0x00];
        let sealed = key.seal(CONTEXT, &Frame::split(0, &message)[0]);
        let mut s = Session::new(key.clone());
        assert!(matches!(
            s.receive(&mut room.doc_mut(), &sealed, 0),
            Err(Rejected::Invalid(super::super::wire::Invalid::Bloom(_)))
        ));
        assert!(!s.outgoing(&mut room.doc_mut(), 0).is_empty());
        // And an honest peer still syncs through it.
        let mut b = RoomDoc::empty("room-1");
        let mut sb = Session::new(key);
        exchange(&mut room, &mut s, &mut b, &mut sb);
        assert_eq!(b.name(), room.name());
    }

    /// A room of `n` posts with long descriptions.
    fn big_room(n: i64) -> RoomDoc {
        let mut room = RoomDoc::create("room-1", "Target", 0).unwrap();
        for i in 0..n {
            let description = (0..8).map(|_| crate::crypto::random_id()).collect();
            room.add_post(
                &me(),
                NewPost {
                    description,
                    ..post(&format!("Need {i}"))
                },
                i,
            )
            .unwrap();
        }
        room
    }

    /// What one received message makes the session send back: bytes, and whether it carried
    /// the whole document.
    fn answer(s: &mut Session, room: &mut RoomDoc, message: &[u8], now: i64) -> usize {
        let key = s.key.clone();
        let sealed = key.seal(CONTEXT, &Frame::split(now as u32, message)[0]);
        s.receive(&mut room.doc_mut(), &sealed, now).unwrap();
        s.outgoing(&mut room.doc_mut(), now)
            .iter()
            .map(Vec::len)
            .sum()
    }

    /// Eight bytes saying "I have nothing" (empty heads, whole-document messages understood):
    /// each made automerge save the room and send all of it. The whole document now goes at
    /// most once a minute; the other answers are small.
    #[test]
    fn a_peer_claiming_to_have_nothing_gets_the_whole_room_once_a_minute() {
        let mut room = big_room(300);
        let whole = room.doc_mut().save().len();
        let mut s = Session::new(RoomSecret::generate().room_key());
        let empty = [0x42, 0x00, 0x00, 0x00, 0x00, 0x02, 0x02, 0x84];
        let sent: Vec<usize> = (0..100)
            .map(|i| answer(&mut s, &mut room, &empty, i * 590))
            .collect();
        let total: usize = sent.iter().sum();
        assert!(
            sent[0] > whole,
            "the first answer is the room ({} of {whole})",
            sent[0]
        );
        assert!(
            total < whole + 100 * 1024,
            "100 requests in a minute cost {total} bytes (the room is {whole})"
        );
        // A minute later the whole document may go again.
        assert!(answer(&mut s, &mut room, &empty, 60_000 + 100 * 590) > whole);
    }

    /// A peer's own heads and an empty Bloom filter since no sync (39 bytes): automerge took
    /// the heads to mean the peer has everything sent, forgot it, then read the filter as
    /// the peer having nothing, and sent every change again — each time. What was sent stays
    /// sent now: the answers are small.
    #[test]
    fn a_peer_s_heads_with_an_empty_filter_get_nothing_sent_again() {
        let key = RoomSecret::generate().room_key();
        let mut room = big_room(100);
        let mut b = RoomDoc::empty("room-1");
        let mut s = Session::new(key.clone());
        let mut sb = Session::new(key);
        exchange(&mut room, &mut s, &mut b, &mut sb);
        let heads = room.doc_mut().get_heads();
        let mut message = vec![0x42, heads.len() as u8];
        for head in &heads {
            message.extend_from_slice(&head.0);
        }
        message.extend_from_slice(&[0x00, 0x01, 0x00, 0x00, 0x00]);
        let sent: usize = (0..20)
            .map(|i| answer(&mut s, &mut room, &message, 1_000 + i))
            .sum();
        assert!(sent < 20 * 1024, "{sent} bytes sent again");
        // A request to start over is still answered with what the peer lacks.
        let first = room.doc_mut().get_changes(&[])[0].hash();
        let mut reset = vec![0x42, 0x01];
        reset.extend_from_slice(&first.0);
        reset.extend_from_slice(&[0x00, 0x01, 0x00, 0x00, 0x00, 0x02, 0x02, 0x85]);
        let whole = room.doc_mut().save().len();
        assert!(answer(&mut s, &mut room, &reset, 2_000) > whole / 2);
    }

    /// A sync reset with a filter of nothing: everything again, each time. Answered three
    /// times a minute; the next answer waits for the window, then goes out.
    #[test]
    fn sync_resets_are_answered_a_few_times_a_minute_and_the_rest_wait() {
        let mut room = big_room(300);
        let whole = room.doc_mut().save().len();
        let mut s = Session::new(RoomSecret::generate().room_key());
        // Heads: the room's first change (known to any link holder); one empty filter; reset.
        let first = room.doc_mut().get_changes(&[]).first().unwrap().hash();
        let mut reset = vec![0x42, 0x01];
        reset.extend_from_slice(&first.0);
        reset.extend_from_slice(&[0x00, 0x01, 0x00, 0x00, 0x00, 0x02, 0x02, 0x85]);
        let big: Vec<i64> = (0..50)
            .map(|i| i * 1_000)
            .filter(|&at| answer(&mut s, &mut room, &reset, at) > whole / 2)
            .collect();
        assert_eq!(big.len(), RESTARTS_PER_MINUTE, "answered at {big:?}");
        assert!(s.held_back());
        // Nothing more until the first answer leaves the window; then the held answer goes.
        assert!(s.outgoing(&mut room.doc_mut(), 59_000).is_empty());
        let later: usize = s
            .outgoing(&mut room.doc_mut(), 60_000)
            .iter()
            .map(Vec::len)
            .sum();
        assert!(later > whole / 2, "held answer: {later} bytes");
        assert!(!s.held_back());
    }

    /// Large answers (here each carries a value larger than the room was before) go to a
    /// peer three times a minute; the fourth waits until the first is a minute old (nothing
    /// after it goes meanwhile), then goes. Small ones never wait.
    #[test]
    fn large_answers_go_a_few_times_a_minute_and_the_next_waits() {
        use automerge::transaction::Transactable;
        let key = RoomSecret::generate().room_key();
        let (mut a, mut b) = (AutoCommit::new(), AutoCommit::new());
        let (mut sa, mut sb) = (Session::new(key.clone()), Session::new(key));
        // One round each way at `now`: what A sent (bytes).
        let round =
            |a: &mut AutoCommit, sa: &mut Session, b: &mut AutoCommit, sb: &mut Session, now| {
                let out: Vec<Vec<u8>> = sa.outgoing(a, now);
                for f in &out {
                    sb.receive(b, f, now).unwrap();
                }
                for f in sb.outgoing(b, now) {
                    sa.receive(a, &f, now).unwrap();
                }
                out.iter().map(Vec::len).sum::<usize>()
            };
        let write = |a: &mut AutoCommit, name: &str, bytes: usize| {
            let mut value = vec![0u8; bytes];
            crate::crypto::random_bytes(&mut value);
            a.put(automerge::ROOT, name, value).unwrap();
            a.commit();
        };
        write(&mut a, "small", 100);
        for now in 0..3 {
            round(&mut a, &mut sa, &mut b, &mut sb, now);
        }
        let mut size = 100 * 1024;
        for (i, now) in [1_000, 2_000, 3_000].into_iter().enumerate() {
            write(&mut a, &format!("large {i}"), size);
            assert!(
                round(&mut a, &mut sa, &mut b, &mut sb, now) > size,
                "large {i} went"
            );
            // Small updates in between go at once.
            write(&mut a, &format!("small {i}"), 100);
            let small = round(&mut a, &mut sa, &mut b, &mut sb, now);
            assert!(small > 0 && small < LARGE_ANSWER_FLOOR);
            size *= 2;
        }
        write(&mut a, "large 3", size);
        assert_eq!(round(&mut a, &mut sa, &mut b, &mut sb, 4_000), 0);
        assert!(sa.held_back());
        write(&mut a, "small 3", 100);
        assert_eq!(round(&mut a, &mut sa, &mut b, &mut sb, 60_999), 0, "waits");
        assert!(round(&mut a, &mut sa, &mut b, &mut sb, 61_000) > size);
        assert!(!sa.held_back());
        for now in 61_001..61_010 {
            round(&mut a, &mut sa, &mut b, &mut sb, now);
        }
        assert_eq!(b.get_heads(), a.get_heads());
        // The room's bytes, counted as it grew, are its bytes.
        let all: usize = a.get_changes(&[]).iter().map(|c| c.raw_bytes().len()).sum();
        assert_eq!(sa.room_bytes(&mut a), all);
    }

    #[test]
    fn a_peer_whose_messages_keep_being_refused_is_to_be_dropped() {
        let key = RoomSecret::generate().room_key();
        let mut room = RoomDoc::create("room-1", "Target", 0).unwrap();
        let mut s = Session::new(key.clone());
        let bad = key.seal(CONTEXT, &Frame::split(0, b"\x42garbage")[0]);
        for at in [0, 1_000] {
            assert!(s.receive(&mut room.doc_mut(), &bad, at).is_err());
            assert!(!s.misbehaving(at));
        }
        // Honest traffic in between does not count against it.
        let mut b = RoomDoc::empty("room-1");
        let mut sb = Session::new(key);
        exchange(&mut room, &mut s, &mut b, &mut sb);
        assert!(!s.misbehaving(2_000));
        assert!(s.receive(&mut room.doc_mut(), &bad, 3_000).is_err());
        assert!(s.misbehaving(3_000));
        // Strikes are forgotten after their window.
        assert!(!s.misbehaving(1_000 + STRIKE_WINDOW_MS));
    }

    #[test]
    fn retries_are_spaced() {
        let mut s = Session::new(RoomSecret::generate().room_key());
        assert!(s.retry(0));
        assert!(!s.retry(RETRY_EVERY_MS - 1));
        assert!(s.retry(RETRY_EVERY_MS));
    }

    /// A need that lists one of this device's changes twice: automerge panicked fetching it
    /// (`MissingOps`), on the next answer — a 70-byte message from any key holder. Found by
    /// the made-up-message property test; the lists are sets now.
    #[test]
    fn a_change_needed_twice_is_sent_once_and_nothing_panics() {
        let key = RoomSecret::generate().room_key();
        let mut room = big_room(3);
        let wanted = room.doc_mut().get_changes(&[])[1].hash();
        let mut message = vec![0x42, 0x00, 0x02];
        message.extend(wanted.0);
        message.extend(wanted.0);
        message.extend([0x00, 0x00]);
        let mut s = Session::new(key.clone());
        let sealed = key.seal(CONTEXT, &Frame::split(0, &message)[0]);
        s.receive(&mut room.doc_mut(), &sealed, 0).unwrap();
        let answer = s.outgoing(&mut room.doc_mut(), 0);
        let plain = key.open(CONTEXT, &answer[0]).unwrap();
        let sent = Message::decode(Frame::decode(&plain).unwrap().payload).unwrap();
        assert_eq!(sent.changes.len(), 1, "the needed change, once");
    }

    #[test]
    fn reconnecting_with_fresh_sessions_catches_up() {
        let key = RoomSecret::generate().room_key();
        let mut a = RoomDoc::create("room-1", "Room", 0).unwrap();
        let mut b = RoomDoc::empty("room-1");
        let (mut sa, mut sb) = (Session::new(key.clone()), Session::new(key.clone()));
        exchange(&mut a, &mut sa, &mut b, &mut sb);
        let post = |t: &str| NewPost {
            kind: PostKind::Offer,
            title: t.into(),
            description: String::new(),
            category: "Time".into(),
        };
        a.add_post(&me(), post("from a"), 1).unwrap();
        b.add_post(&me(), post("from b"), 2).unwrap();
        let (mut sa, mut sb) = (Session::new(key.clone()), Session::new(key));
        assert!(exchange(&mut a, &mut sa, &mut b, &mut sb) > 0);
        assert_eq!(a.posts(), b.posts());
        assert_eq!(a.posts().len(), 2);
    }
}
