//! The room's mailbox on Nostr relays, as pure functions: how the changes a device makes are
//! packed into stored events that a member who comes online later can fetch, with nothing of
//! Tequio's own deployed. This module says what an event holds and where it lies; the browser
//! publishes and fetches (`net`), the replica applies what opens (hostile until checked).
//!
//! - **Where.** Each week (a [`MAILBOX_WINDOW_MS`] window) the mailbox lies under a topic and
//!   a *regular* (stored) event kind derived from the room key and the window, apart from
//!   signaling's: nothing fixed marks a room or Tequio. A device reads the current window and
//!   the one before; a snapshot of the room is published in every window a member is online,
//!   so nothing older is needed.
//! - **What.** The content of an event is a [`Plain`] (a batch of changes, or one part of a
//!   snapshot or of a change too large for one event), padded to one of [`BUCKETS`] and sealed
//!   with the room key: a relay learns a topic, a kind, a throwaway key, a time and one of four
//!   sizes. The largest bucket keeps an event well under common relay limits (strfry's 64 KiB).
//! - **When.** Times are the device's, never ahead of it (relays refuse events from the
//!   future); a device asks each relay for what came since it last heard from it, less a
//!   margin ([`Cursor`]).

use super::topic::Topic;
use crate::crypto::{from_base64url, to_base64url, RoomKey, RoomSecret, SEAL_OVERHEAD};
use std::collections::BTreeMap;

/// How long the mailbox stays under one topic.
pub const MAILBOX_WINDOW_MS: i64 = 7 * 24 * 60 * 60 * 1000;
/// Sizes an event's plaintext is padded to (bytes). The largest, sealed and in base64 with the
/// event around it, stays under 64 KiB.
pub const BUCKETS: [usize; 4] = [1024, 4 * 1024, 16 * 1024, 45 * 1024];
/// The largest plaintext of one event.
pub const MAX_PLAIN: usize = BUCKETS[BUCKETS.len() - 1];
/// What a plaintext holds before its payload: version, kind, id, part, parts, payload length.
pub const HEADER: usize = 1 + 1 + 16 + 2 + 2 + 4;
/// The largest payload of one event.
pub const MAX_PAYLOAD: usize = MAX_PLAIN - HEADER;
/// The longest event content read (a sealed largest bucket, in base64): longer is dropped
/// before it is decoded.
pub const MAX_CONTENT: usize = (MAX_PLAIN + SEAL_OVERHEAD).div_ceil(3) * 4;
/// The most parts one payload may come in (a 64 MiB message: as large as a peer's).
pub const MAX_PARTS: u16 = (super::MAX_MESSAGE / MAX_PAYLOAD + 1) as u16;
/// How far back from the newest event heard from a relay the next request starts (s): events
/// arrive out of order, and devices' clocks differ.
pub const CURSOR_MARGIN_S: u64 = 15 * 60;

const VERSION: u8 = 1;
const CONTEXT: &[u8] = b"tequio/mailbox/v1";

/// Event kinds other software gives a meaning to (NIP-01 regular range), which a mailbox never
/// uses: a relay may treat them specially.
const ASSIGNED: [(u32, u32); 14] = [
    (1021, 1022),
    (1040, 1040),
    (1059, 1063),
    (1111, 1111),
    (1311, 1311),
    (1617, 1633),
    (1971, 1985),
    (2003, 2004),
    (2022, 2022),
    (4550, 4550),
    (5000, 7376),
    (9041, 9041),
    (9467, 9467),
    (9734, 9802),
];

/// What an event of the mailbox holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    /// Changes (automerge change chunks, one after another).
    Changes = 0,
    /// A saved room (automerge document chunk): what a device that has nothing needs.
    Snapshot = 1,
}

/// The plaintext of one event: a payload, or one part of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plain {
    pub kind: Kind,
    /// Names the payload its parts belong to (random).
    pub id: [u8; 16],
    pub part: u16,
    pub parts: u16,
    pub payload: Vec<u8>,
}

/// Why an event's content was not taken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MailboxError {
    #[error("content of {0} bytes is larger than any event of the mailbox")]
    TooLarge(usize),
    #[error("content is not base64")]
    NotBase64,
    #[error("does not open with the room key")]
    Sealed,
    #[error("padded to {0} bytes, not a size the mailbox uses")]
    NotABucket(usize),
    #[error("malformed: {0}")]
    Malformed(&'static str),
}

/// Where the mailbox lies during window `window`: a topic and a regular event kind, derived
/// from the room key and the window.
pub fn topic(secret: &RoomSecret, window: i64) -> Topic {
    let key = secret.mailbox_key(window);
    let name = crate::crypto::hex(&key[..16]);
    let assigned = |kind: &u32| ASSIGNED.iter().any(|(a, b)| (*a..=*b).contains(kind));
    // The first of the key's next 16-bit draws that is no one else's kind (8 draws: the odds
    // that all land on assigned kinds are below one in a million; then the first free one).
    let kind = key[16..32]
        .chunks(2)
        .map(|d| 1000 + u32::from(u16::from_be_bytes([d[0], d[1]])) % 9000)
        .find(|k| !assigned(k))
        .unwrap_or(1000);
    Topic { name, kind }
}

fn window_of(now_ms: i64) -> i64 {
    now_ms.div_euclid(MAILBOX_WINDOW_MS)
}

/// The topic to publish at at `now_ms`.
pub fn publishing(secret: &RoomSecret, now_ms: i64) -> Topic {
    topic(secret, window_of(now_ms))
}

/// The topics to read at `now_ms`: the window before and the current one.
pub fn reading(secret: &RoomSecret, now_ms: i64) -> Vec<Topic> {
    let window = window_of(now_ms);
    vec![topic(secret, window - 1), topic(secret, window)]
}

/// When an event published at `now_ms` may be deleted by relays (s; NIP-40): once no device
/// reads its window any more (devices read the window before and the current one), with a
/// window's grace.
pub fn expires(now_ms: i64) -> u64 {
    ((window_of(now_ms) + 3) * MAILBOX_WINDOW_MS / 1000) as u64
}

/// Whether this device should publish a snapshot of the room at `now_ms`: none was seen in
/// this window (`last_snapshot`: when the newest snapshot heard of was made, s). One per window
/// keeps every room readable from the two windows devices read.
pub fn snapshot_due(last_snapshot: Option<u64>, now_ms: i64) -> bool {
    let window_start = (window_of(now_ms) * MAILBOX_WINDOW_MS / 1000) as u64;
    last_snapshot.is_none_or(|at| at < window_start)
}

/// Events to publish again so that every relay holds what any of them holds: for each relay,
/// the events (by id) another relay had and it did not. `held` is, per relay, the ids of the
/// room's events it returned for the windows read. A room never depends on one relay.
pub fn repairs(
    held: &BTreeMap<String, std::collections::BTreeSet<String>>,
) -> BTreeMap<&str, Vec<&str>> {
    let all: std::collections::BTreeSet<&str> =
        held.values().flatten().map(String::as_str).collect();
    held.iter()
        .map(|(relay, has)| {
            let missing: Vec<&str> = all
                .iter()
                .copied()
                .filter(|id| !has.contains(*id))
                .collect();
            (relay.as_str(), missing)
        })
        .filter(|(_, missing)| !missing.is_empty())
        .collect()
}

/// Which of this device's events reached which relays: what the header says ("sent to N
/// relays", "waiting to reach a relay") and never more than the relays said.
#[derive(Debug, Default)]
pub struct Ledger {
    /// Event id → the relays that said they stored it.
    events: BTreeMap<String, std::collections::BTreeSet<String>>,
}

impl Ledger {
    /// An event of this device's was published (to be acknowledged).
    pub fn published(&mut self, id: &str) {
        self.events.entry(id.to_owned()).or_default();
    }

    /// A relay said it stored an event (an `OK` true); an id never published here is ignored.
    pub fn stored(&mut self, id: &str, relay: &str) {
        if let Some(relays) = self.events.get_mut(id) {
            relays.insert(relay.to_owned());
        }
    }

    /// The fewest relays any of this device's events reached (`None`: nothing published yet).
    /// Zero means something is still waiting to reach a relay.
    pub fn reached(&self) -> Option<usize> {
        self.events.values().map(|relays| relays.len()).min()
    }

    /// How many relays said they stored the event (none for an id not published here).
    pub fn reached_by(&self, id: &str) -> usize {
        self.events.get(id).map_or(0, |relays| relays.len())
    }

    /// Events no relay has said it stored yet.
    pub fn waiting(&self) -> usize {
        self.events.values().filter(|r| r.is_empty()).count()
    }
}

/// The smallest bucket `len` bytes fit in (`None` past the largest).
pub fn bucket(len: usize) -> Option<usize> {
    BUCKETS.iter().copied().find(|b| len <= *b)
}

impl Plain {
    fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(HEADER + self.payload.len());
        out.push(VERSION);
        out.push(self.kind as u8);
        out.extend_from_slice(&self.id);
        out.extend_from_slice(&self.part.to_be_bytes());
        out.extend_from_slice(&self.parts.to_be_bytes());
        out.extend_from_slice(&(self.payload.len() as u32).to_be_bytes());
        out.extend_from_slice(&self.payload);
        out
    }

    fn decode(bytes: &[u8]) -> Result<Plain, MailboxError> {
        if bytes.len() < HEADER {
            return Err(MailboxError::Malformed("shorter than its header"));
        }
        if bytes[0] != VERSION {
            return Err(MailboxError::Malformed("unknown version"));
        }
        let kind = match bytes[1] {
            0 => Kind::Changes,
            1 => Kind::Snapshot,
            _ => return Err(MailboxError::Malformed("unknown kind")),
        };
        let id: [u8; 16] = bytes[2..18].try_into().expect("16 bytes");
        let part = u16::from_be_bytes([bytes[18], bytes[19]]);
        let parts = u16::from_be_bytes([bytes[20], bytes[21]]);
        let len = u32::from_be_bytes([bytes[22], bytes[23], bytes[24], bytes[25]]) as usize;
        if parts == 0 || parts > MAX_PARTS || part >= parts {
            return Err(MailboxError::Malformed("part numbers"));
        }
        let payload = bytes[HEADER..]
            .get(..len)
            .ok_or(MailboxError::Malformed("payload longer than the event"))?;
        if bytes[HEADER + len..].iter().any(|b| *b != 0) {
            return Err(MailboxError::Malformed("padding that is not zeros"));
        }
        Ok(Plain {
            kind,
            id,
            part,
            parts,
            payload: payload.to_vec(),
        })
    }

    /// The event content: padded to its bucket, sealed with the room key, in base64url.
    pub fn seal(&self, key: &RoomKey) -> String {
        let mut plain = self.encode();
        let size = bucket(plain.len()).expect("payloads are cut to fit the largest bucket");
        plain.resize(size, 0);
        to_base64url(&key.seal(CONTEXT, &plain))
    }

    /// Reads an event's content (hostile until checked): size-capped before it is decoded,
    /// opened with the room key, a bucket's size, well formed.
    pub fn open(key: &RoomKey, content: &str) -> Result<Plain, MailboxError> {
        if content.len() > MAX_CONTENT {
            return Err(MailboxError::TooLarge(content.len()));
        }
        let sealed = from_base64url(content).ok_or(MailboxError::NotBase64)?;
        let plain = key
            .open(CONTEXT, &sealed)
            .map_err(|_| MailboxError::Sealed)?;
        if !BUCKETS.contains(&plain.len()) {
            return Err(MailboxError::NotABucket(plain.len()));
        }
        Plain::decode(&plain)
    }
}

/// Packs `chunks` (automerge change chunks, each whole) into event plaintexts of kind
/// `Changes`: as many chunks per event as fit; a chunk too large for one event goes alone, in
/// parts. `ids` gives each payload its random id.
pub fn batch(chunks: &[Vec<u8>], mut ids: impl FnMut() -> [u8; 16]) -> Vec<Plain> {
    let mut out = Vec::new();
    let mut current: Vec<u8> = Vec::new();
    for chunk in chunks {
        let alone = chunk.len() > MAX_PAYLOAD;
        if !current.is_empty() && (alone || current.len() + chunk.len() > MAX_PAYLOAD) {
            out.extend(parts(Kind::Changes, &std::mem::take(&mut current), ids()));
        }
        if alone {
            out.extend(parts(Kind::Changes, chunk, ids()));
        } else {
            current.extend_from_slice(chunk);
        }
    }
    if !current.is_empty() {
        out.extend(parts(Kind::Changes, &current, ids()));
    }
    out
}

/// `payload` (a snapshot, or one change too large for an event) in parts under one id.
pub fn parts(kind: Kind, payload: &[u8], id: [u8; 16]) -> Vec<Plain> {
    let pieces: Vec<&[u8]> = payload.chunks(MAX_PAYLOAD).collect();
    let parts = pieces.len().max(1) as u16;
    if pieces.is_empty() {
        return vec![Plain {
            kind,
            id,
            part: 0,
            parts: 1,
            payload: Vec::new(),
        }];
    }
    pieces
        .into_iter()
        .enumerate()
        .map(|(i, piece)| Plain {
            kind,
            id,
            part: i as u16,
            parts,
            payload: piece.to_vec(),
        })
        .collect()
}

/// Payloads arriving in parts, put back together. Bounded: at most [`MAX_PENDING_BYTES`] held
/// in all (twice the largest message); past it, the payload that has waited longest is let go:
/// parts that never complete would otherwise hold memory without end.
#[derive(Default)]
pub struct Assembler {
    pending: BTreeMap<[u8; 16], Pending>,
    held: usize,
    arrivals: u64,
}

/// Bytes of payloads in parts held at once.
pub const MAX_PENDING_BYTES: usize = 2 * super::MAX_MESSAGE;
/// What holding one part costs besides its payload (counted against [`MAX_PENDING_BYTES`]).
const PART_COST: usize = 64;

struct Pending {
    kind: Kind,
    parts: u16,
    got: BTreeMap<u16, Vec<u8>>,
    first: u64,
}

impl Assembler {
    /// Takes one plaintext; returns the whole payload once every part is in.
    pub fn push(&mut self, plain: Plain) -> Option<(Kind, Vec<u8>)> {
        if plain.parts == 1 {
            return Some((plain.kind, plain.payload));
        }
        self.arrivals += 1;
        let arrivals = self.arrivals;
        let entry = self.pending.entry(plain.id).or_insert(Pending {
            kind: plain.kind,
            parts: plain.parts,
            got: BTreeMap::new(),
            first: arrivals,
        });
        // Parts of one id must agree on what they are parts of.
        if entry.kind != plain.kind || entry.parts != plain.parts {
            return None;
        }
        if entry.got.contains_key(&plain.part) {
            return None;
        }
        // Each part costs its bookkeeping too: parts with nothing in them are not free.
        self.held += plain.payload.len() + PART_COST;
        entry.got.insert(plain.part, plain.payload);
        if entry.got.len() == usize::from(entry.parts) {
            let done = self.pending.remove(&plain.id)?;
            self.held -= done
                .got
                .values()
                .map(|p| p.len() + PART_COST)
                .sum::<usize>();
            let payload: Vec<u8> = done.got.into_values().flatten().collect();
            return Some((done.kind, payload));
        }
        while self.held > MAX_PENDING_BYTES {
            let oldest = self
                .pending
                .iter()
                .min_by_key(|(_, p)| p.first)
                .map(|(id, _)| *id)?;
            if let Some(p) = self.pending.remove(&oldest) {
                self.held -= p.got.values().map(|p| p.len() + PART_COST).sum::<usize>();
            }
        }
        None
    }

    /// Bytes held in payloads not complete yet.
    pub fn held(&self) -> usize {
        self.held
    }
}

/// What a device last heard from one relay's mailbox: where its next request starts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Cursor {
    /// The newest `created_at` of an event of the room heard from the relay (s).
    pub newest: Option<u64>,
}

impl Cursor {
    /// An event of the room created at `created_at` (s) was heard. Times from the future (a
    /// device's clock ahead, or a made-up event) move the cursor no further than `now_s`.
    pub fn heard(&mut self, created_at: u64, now_s: u64) {
        let at = created_at.min(now_s);
        self.newest = Some(self.newest.map_or(at, |n| n.max(at)));
    }

    /// Where the next request starts (s): a margin before the newest event heard, and never
    /// before the start of the window before the current one (nothing older is read).
    pub fn since(&self, now_ms: i64) -> u64 {
        let oldest = ((window_of(now_ms) - 1) * MAILBOX_WINDOW_MS).max(0) as u64 / 1000;
        self.newest
            .map_or(oldest, |n| n.saturating_sub(CURSOR_MARGIN_S))
            .max(oldest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 24 * 60 * 60 * 1000;

    fn counter() -> impl FnMut() -> [u8; 16] {
        let mut n = 0u8;
        move || {
            n += 1;
            [n; 16]
        }
    }

    #[test]
    fn each_week_has_its_own_topic_and_a_stored_kind_no_one_else_uses() {
        let secret = RoomSecret::generate();
        let weeks: Vec<Topic> = (0..300).map(|w| topic(&secret, 2_900 + w)).collect();
        let names: std::collections::BTreeSet<&str> =
            weeks.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names.len(), weeks.len());
        for t in &weeks {
            assert!((1000..10_000).contains(&t.kind), "a regular (stored) kind");
            assert!(
                !ASSIGNED.iter().any(|(a, b)| (*a..=*b).contains(&t.kind)),
                "{}",
                t.kind
            );
        }
        let kinds: std::collections::BTreeSet<u32> = weeks.iter().map(|t| t.kind).collect();
        assert!(kinds.len() > 250, "kinds move too: {}", kinds.len());
        // Apart from signaling's meeting points, and from another room's.
        let now = 1_800_000_000_000;
        assert_ne!(
            publishing(&secret, now),
            crate::sync::topic::speaking(&secret, now)
        );
        assert_ne!(
            publishing(&secret, now),
            publishing(&RoomSecret::generate(), now)
        );
        // Read: the week before and this one; published: this one.
        let read = reading(&secret, now);
        assert_eq!(read[1], publishing(&secret, now));
        assert_eq!(read[0], publishing(&secret, now - MAILBOX_WINDOW_MS));
        assert_eq!(reading(&secret, now + 6 * DAY).len(), 2);
    }

    #[test]
    fn changes_are_batched_under_the_cap_and_come_back_whole() {
        let chunks: Vec<Vec<u8>> = [10usize, 20_000, 30_000, 5, 100_000, 7, 46_000]
            .iter()
            .enumerate()
            .map(|(i, n)| vec![i as u8 + 1; *n])
            .collect();
        let plains = batch(&chunks, counter());
        assert!(plains.iter().all(|p| p.payload.len() <= MAX_PAYLOAD));
        assert!(plains.len() < chunks.len() + 3, "small chunks share events");
        let key = RoomSecret::generate().room_key();
        let mut assembler = Assembler::default();
        let mut back: Vec<u8> = Vec::new();
        for p in &plains {
            let content = p.seal(&key);
            assert!(content.len() <= MAX_CONTENT);
            let opened = Plain::open(&key, &content).unwrap();
            assert_eq!(&opened, p);
            if let Some((kind, payload)) = assembler.push(opened) {
                assert_eq!(kind, Kind::Changes);
                back.extend(payload);
            }
        }
        assert_eq!(back, chunks.concat(), "every byte, in order");
        assert_eq!(assembler.held(), 0);
    }

    #[test]
    fn sizes_fall_in_four_buckets_and_the_largest_fits_a_64k_event() {
        let key = RoomSecret::generate().room_key();
        let mut lengths = std::collections::BTreeSet::new();
        for n in [
            0usize,
            1,
            500,
            998,
            999,
            3_000,
            10_000,
            20_000,
            40_000,
            MAX_PAYLOAD,
        ] {
            let plain = Plain {
                kind: Kind::Changes,
                id: [7; 16],
                part: 0,
                parts: 1,
                payload: vec![1; n],
            };
            lengths.insert(plain.seal(&key).len());
        }
        assert_eq!(lengths.len(), BUCKETS.len(), "{lengths:?}");
        // The event around the largest: a few hundred bytes of JSON.
        assert!(*lengths.last().unwrap() + 1_024 < 64 * 1024);
    }

    #[test]
    fn a_snapshot_comes_in_parts_in_any_order_and_duplicates_are_ignored() {
        let snapshot: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        let mut plains = parts(Kind::Snapshot, &snapshot, [9; 16]);
        assert_eq!(plains.len(), snapshot.len().div_ceil(MAX_PAYLOAD));
        plains.reverse();
        let again = plains[0].clone();
        let mut assembler = Assembler::default();
        let mut done = None;
        for (i, p) in plains.into_iter().enumerate() {
            if i == 1 {
                assert_eq!(assembler.push(again.clone()), None, "a duplicate part");
            }
            if let Some(whole) = assembler.push(p) {
                done = Some(whole);
            }
        }
        assert_eq!(done, Some((Kind::Snapshot, snapshot)));
    }

    #[test]
    fn what_a_relay_sends_is_checked_before_it_is_read() {
        let key = RoomSecret::generate().room_key();
        let plain = Plain {
            kind: Kind::Changes,
            id: [1; 16],
            part: 0,
            parts: 1,
            payload: b"changes".to_vec(),
        };
        let content = plain.seal(&key);
        let other = RoomSecret::generate().room_key();
        assert_eq!(Plain::open(&other, &content), Err(MailboxError::Sealed));
        assert_eq!(Plain::open(&key, "!!"), Err(MailboxError::NotBase64));
        let huge = "A".repeat(MAX_CONTENT + 1);
        assert_eq!(
            Plain::open(&key, &huge),
            Err(MailboxError::TooLarge(MAX_CONTENT + 1))
        );
        // Sealed with the room key but not padded to a bucket, or ill-formed inside.
        let unpadded = to_base64url(&key.seal(CONTEXT, &plain.encode()));
        assert!(matches!(
            Plain::open(&key, &unpadded),
            Err(MailboxError::NotABucket(_))
        ));
        let seal_padded = |mut bytes: Vec<u8>| {
            bytes.resize(BUCKETS[0], 0);
            to_base64url(&key.seal(CONTEXT, &bytes))
        };
        let mut bad_parts = plain.encode();
        bad_parts[20..22].copy_from_slice(&0u16.to_be_bytes());
        let mut too_long = plain.encode();
        too_long[22..26].copy_from_slice(&5_000u32.to_be_bytes());
        let mut junk_padding = plain.encode();
        junk_padding.resize(BUCKETS[0], 0);
        junk_padding[BUCKETS[0] - 1] = 1;
        for bytes in [vec![9; 10], bad_parts, too_long, junk_padding] {
            assert!(matches!(
                Plain::open(&key, &seal_padded(bytes)),
                Err(MailboxError::Malformed(_))
            ),);
        }
    }

    #[test]
    fn parts_held_at_once_are_bounded() {
        let mut assembler = Assembler::default();
        let piece = vec![0u8; MAX_PAYLOAD];
        // Many payloads, each missing its last part: the oldest are let go.
        for id in 0..4_000u16 {
            let mut name = [0u8; 16];
            name[..2].copy_from_slice(&id.to_be_bytes());
            let plain = Plain {
                kind: Kind::Snapshot,
                id: name,
                part: 0,
                parts: 2,
                payload: piece.clone(),
            };
            assert_eq!(assembler.push(plain), None);
            assert!(assembler.held() <= MAX_PENDING_BYTES);
        }
        // A part claiming another count for a known id is not taken.
        let mut name = [0u8; 16];
        name[..2].copy_from_slice(&3_999u16.to_be_bytes());
        let odd = Plain {
            kind: Kind::Snapshot,
            id: name,
            part: 1,
            parts: 3,
            payload: vec![1],
        };
        assert_eq!(assembler.push(odd), None);
    }

    #[test]
    fn events_expire_once_no_device_reads_their_week() {
        let secret = RoomSecret::generate();
        let now = 1_800_000_000_000i64;
        let at = expires(now) as i64 * 1000;
        // Still read the week after (as the week before); no longer when it expires.
        assert!(reading(&secret, now + MAILBOX_WINDOW_MS).contains(&publishing(&secret, now)));
        assert!(!reading(&secret, at).contains(&publishing(&secret, now)));
        assert!(at <= now + 3 * MAILBOX_WINDOW_MS);
        let key = crate::sync::nostr::NostrKey::generate();
        let (_, event) =
            key.stored_event(&publishing(&RoomSecret::generate(), now), "c", 1, Some(9));
        assert!(event.contains(r#"["expiration","9"]"#), "{event}");
    }

    #[test]
    fn a_snapshot_is_due_once_a_week() {
        let now = 1_800_000_000_000i64;
        let start = (now.div_euclid(MAILBOX_WINDOW_MS) * MAILBOX_WINDOW_MS / 1000) as u64;
        assert!(snapshot_due(None, now));
        assert!(snapshot_due(Some(start - 1), now), "last week's");
        assert!(!snapshot_due(Some(start), now));
        assert!(!snapshot_due(Some(start + 100), now + 1_000));
        assert!(snapshot_due(Some(start + 100), now + MAILBOX_WINDOW_MS));
    }

    #[test]
    fn every_relay_is_given_what_another_holds() {
        let set = |ids: &[&str]| ids.iter().map(|s| s.to_string()).collect();
        let held: BTreeMap<String, std::collections::BTreeSet<String>> = [
            ("wss://a".to_string(), set(&["1", "2", "3"])),
            ("wss://b".to_string(), set(&["1"])),
            ("wss://c".to_string(), set(&[])),
            ("wss://d".to_string(), set(&["1", "2", "3"])),
        ]
        .into();
        let plan = repairs(&held);
        assert_eq!(plan.len(), 2, "a and d hold everything");
        assert_eq!(plan["wss://b"], ["2", "3"]);
        assert_eq!(plan["wss://c"], ["1", "2", "3"]);
        assert!(repairs(&BTreeMap::new()).is_empty());
    }

    #[test]
    fn the_ledger_claims_no_delivery_a_relay_did_not_confirm() {
        let mut ledger = Ledger::default();
        assert_eq!(ledger.reached(), None);
        ledger.published("e1");
        ledger.published("e2");
        assert_eq!((ledger.reached(), ledger.waiting()), (Some(0), 2));
        ledger.stored("e1", "wss://a");
        ledger.stored("e1", "wss://b");
        ledger.stored("made-up", "wss://a");
        assert_eq!((ledger.reached(), ledger.waiting()), (Some(0), 1));
        ledger.stored("e2", "wss://b");
        assert_eq!((ledger.reached(), ledger.waiting()), (Some(1), 0));
        ledger.stored("e2", "wss://b");
        assert_eq!(ledger.reached(), Some(1), "one relay, said twice");
    }

    #[test]
    fn a_cursor_starts_a_margin_back_and_no_earlier_than_the_week_before() {
        let now = 1_800_000_000_000i64;
        let week_before =
            ((now.div_euclid(MAILBOX_WINDOW_MS) - 1) * MAILBOX_WINDOW_MS) as u64 / 1000;
        let mut cursor = Cursor::default();
        assert_eq!(cursor.since(now), week_before, "nothing heard: both weeks");
        let now_s = now as u64 / 1000;
        cursor.heard(now_s - 3_600, now_s);
        cursor.heard(now_s - 7_200, now_s);
        assert_eq!(cursor.since(now), now_s - 3_600 - CURSOR_MARGIN_S);
        // An event dated in the future moves it to now at most.
        cursor.heard(now_s + 86_400, now_s);
        assert_eq!(cursor.since(now), now_s - CURSOR_MARGIN_S);
        // Heard long ago: no earlier than the week before.
        let mut old = Cursor::default();
        old.heard(1_000, now_s);
        assert_eq!(old.since(now), week_before);
    }
}
