//! Checks an automerge sync message from a peer before automerge reads it. Automerge 0.12
//! trusts what a message says of itself: a Bloom filter that claims entries but holds no bits
//! makes the next reply divide by zero (a panic: in wasm the app dies, again on every
//! reconnect), a filter claiming billions of probes allocates gigabytes, hundreds of thousands
//! of filters cost seconds of CPU per message, and a compressed chunk can inflate to any size.
//!
//! [`check`] walks the message's bytes and accepts a strict subset of what automerge's decoder
//! accepts (the same LEB128 rules; every length compared with the bytes left before anything
//! is taken), with bounds an honest peer never nears:
//!
//! ```text
//! u8    type                0x42 | 0x43
//! uleb  heads ≤ 1024,       each 32 bytes
//! uleb  needs ≤ 1024,       each 32 bytes
//! uleb  haves ≤ 2           (an honest peer sends 0 or 1), each:
//!         uleb last_sync ≤ 1024, each 32 bytes
//!         uleb bloom length, then the filter: empty (no entries), or
//!              uleb entries 1..=2^24, uleb bits per entry 1..=32, uleb probes 1..=32,
//!              and exactly ceil(entries × bits per entry / 8) bytes of bits
//! uleb  changes ≤ 100,000,  each uleb length + bytes: storage chunks back to back
//!         (magic, checksum, type, uleb length, data); a change (type 1) as it is, a
//!         compressed change (2) and a document's compressed columns (0) inflated to count
//!         their size, at most 128 MiB in all; bundles and other types refused
//! optional: uleb flags length ≤ 8 + the flags, then nothing.
//! ```

use std::io::Read;

/// The most heads, needs or last-sync hashes a message may list.
const MAX_HASHES: u64 = 1024;
/// The most Bloom filters ("haves") a message may carry.
const MAX_HAVES: u64 = 2;
/// The most entries a Bloom filter may claim (a room of 16 million changes).
const MAX_BLOOM_ENTRIES: u64 = 1 << 24;
/// The most changes (or storage chunks) a message may carry.
const MAX_CHUNKS: u64 = 100_000;
/// The most a message's compressed chunks may inflate to, in all. An absolute cap, not a
/// ratio: an honest document of one pasted text repeated inflates a thousandfold.
const MAX_INFLATED: u64 = 128 << 20;
/// The most columns one document chunk may declare.
const MAX_COLUMNS: u64 = 1024;
/// The most actors one document chunk may list.
const MAX_ACTORS: u64 = 1 << 20;

/// Storage chunks begin with these bytes.
const MAGIC: [u8; 4] = [0x85, 0x6f, 0x4a, 0x83];

/// Why a sync message was refused before automerge read it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Invalid {
    #[error("{0}: the message ends early")]
    Truncated(&'static str),
    #[error("{0}: not a well-formed number")]
    Number(&'static str),
    #[error("unknown message type {0}")]
    Type(u8),
    #[error("{what}: {count} is more than a peer may send")]
    TooMany { what: &'static str, count: u64 },
    #[error("Bloom filter: {0}")]
    Bloom(&'static str),
    #[error("change data: {0}")]
    Chunk(&'static str),
    #[error("bytes after the end of the message")]
    Trailing,
}

/// Checks a whole (reassembled) sync message; see the module's documentation.
pub fn check(message: &[u8]) -> Result<(), Invalid> {
    let mut r = Reader(message);
    match r.byte("type")? {
        0x42 | 0x43 => {}
        other => return Err(Invalid::Type(other)),
    }
    r.hashes("heads")?;
    r.hashes("needs")?;
    let haves = r.count(MAX_HAVES, 2, "haves")?;
    for _ in 0..haves {
        r.hashes("last sync")?;
        let len = r.number("Bloom filter length")?;
        bloom(r.take(len, "Bloom filter")?)?;
    }
    let changes = r.count(MAX_CHUNKS, 1, "changes")?;
    let mut budget = Budget {
        chunks: MAX_CHUNKS,
        inflated: MAX_INFLATED,
    };
    for _ in 0..changes {
        let len = r.number("change length")?;
        // Automerge reads the changes joined, chunk after chunk.
        let mut chunks = Reader(r.take(len, "change")?);
        while !chunks.0.is_empty() {
            chunk(&mut chunks, &mut budget)?;
        }
    }
    if !r.0.is_empty() {
        let flags = r.number("flags length")?;
        if flags > 8 {
            return Err(Invalid::TooMany {
                what: "flag bytes",
                count: flags,
            });
        }
        r.take(flags, "flags")?;
        if !r.0.is_empty() {
            return Err(Invalid::Trailing);
        }
    }
    Ok(())
}

/// Checks storage chunks one after another (what a mailbox event carries: changes, or a saved
/// room), by the same rules and bounds as a message's changes.
pub fn check_chunks(bytes: &[u8]) -> Result<(), Invalid> {
    let mut budget = Budget {
        chunks: MAX_CHUNKS,
        inflated: MAX_INFLATED,
    };
    let mut chunks = Reader(bytes);
    while !chunks.0.is_empty() {
        chunk(&mut chunks, &mut budget)?;
    }
    Ok(())
}

/// The storage chunks that `bytes` (chunks one after another, as a message element carries
/// them) is made of, as they are; `None` if it is not a run of whole chunks. Used on what this
/// device made, to send a large element in parts.
pub fn split_chunks(bytes: &[u8]) -> Option<Vec<&[u8]>> {
    let mut out = Vec::new();
    let mut r = Reader(bytes);
    while !r.0.is_empty() {
        let start = r.0;
        next_chunk(&mut r).ok()?;
        out.push(&start[..start.len() - r.0.len()]);
    }
    Some(out)
}

/// What a message's chunks may still take.
struct Budget {
    chunks: u64,
    inflated: u64,
}

/// The bytes not yet read.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn byte(&mut self, what: &'static str) -> Result<u8, Invalid> {
        let (&first, rest) = self.0.split_first().ok_or(Invalid::Truncated(what))?;
        self.0 = rest;
        Ok(first)
    }

    /// An unsigned LEB128 number as automerge writes it: at most 10 bytes, none overlong.
    fn number(&mut self, what: &'static str) -> Result<u64, Invalid> {
        let mut value: u64 = 0;
        for i in 0..10 {
            let b = self.byte(what)?;
            if i == 9 && b > 1 {
                return Err(Invalid::Number(what));
            }
            value |= u64::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                if i > 0 && b == 0 {
                    return Err(Invalid::Number(what));
                }
                return Ok(value);
            }
        }
        Err(Invalid::Number(what))
    }

    fn take(&mut self, len: u64, what: &'static str) -> Result<&'a [u8], Invalid> {
        if len > self.0.len() as u64 {
            return Err(Invalid::Truncated(what));
        }
        let (taken, rest) = self.0.split_at(len as usize);
        self.0 = rest;
        Ok(taken)
    }

    /// A count of at most `max` items of at least `each` bytes, which must fit in what is left.
    fn count(&mut self, max: u64, each: u64, what: &'static str) -> Result<u64, Invalid> {
        let count = self.number(what)?;
        if count > max {
            return Err(Invalid::TooMany { what, count });
        }
        if count.saturating_mul(each) > self.0.len() as u64 {
            return Err(Invalid::Truncated(what));
        }
        Ok(count)
    }

    /// A count of change hashes, then the hashes.
    fn hashes(&mut self, what: &'static str) -> Result<(), Invalid> {
        let count = self.count(MAX_HASHES, 32, what)?;
        self.take(count * 32, what)?;
        Ok(())
    }
}

fn bloom(bytes: &[u8]) -> Result<(), Invalid> {
    if bytes.is_empty() {
        return Ok(());
    }
    let mut r = Reader(bytes);
    let entries = r.number("Bloom entries")?;
    let per_entry = r.number("Bloom bits per entry")?;
    let probes = r.number("Bloom probes")?;
    if !(1..=MAX_BLOOM_ENTRIES).contains(&entries) {
        return Err(Invalid::Bloom("entries out of range"));
    }
    if !(1..=32).contains(&per_entry) || !(1..=32).contains(&probes) {
        return Err(Invalid::Bloom("bits per entry or probes out of range"));
    }
    if r.0.len() as u64 != (entries * per_entry).div_ceil(8) {
        return Err(Invalid::Bloom("its bits do not match its size"));
    }
    Ok(())
}

/// One storage chunk's type and data: magic, checksum, type, length, data.
fn next_chunk<'a>(r: &mut Reader<'a>) -> Result<(u8, &'a [u8]), Invalid> {
    if r.take(4, "chunk magic")? != MAGIC {
        return Err(Invalid::Chunk("not a storage chunk"));
    }
    r.take(4, "chunk checksum")?;
    let kind = r.byte("chunk type")?;
    let len = r.number("chunk length")?;
    Ok((kind, r.take(len, "chunk data")?))
}

fn chunk(r: &mut Reader<'_>, budget: &mut Budget) -> Result<(), Invalid> {
    budget.chunks = budget.chunks.checked_sub(1).ok_or(Invalid::TooMany {
        what: "chunks",
        count: MAX_CHUNKS + 1,
    })?;
    let (kind, data) = next_chunk(r)?;
    match kind {
        // A change's columns are never compressed.
        1 => Ok(()),
        2 => inflate(data, budget),
        0 => document(data, budget),
        _ => Err(Invalid::Chunk("a bundle or unknown chunk from a peer")),
    }
}

/// Whether a chunk of an outgoing message (one this device made) is a whole document.
pub fn is_document(chunk: &[u8]) -> bool {
    chunk.len() > 8 && chunk[..4] == MAGIC && chunk[8] == 0
}

/// Inflates one DEFLATE stream into nothing, counting it against the budget.
fn inflate(data: &[u8], budget: &mut Budget) -> Result<(), Invalid> {
    let mut stream = flate2::read::DeflateDecoder::new(data).take(budget.inflated + 1);
    let size = std::io::copy(&mut stream, &mut std::io::sink())
        .map_err(|_| Invalid::Chunk("not a DEFLATE stream"))?;
    budget.inflated = budget
        .inflated
        .checked_sub(size)
        .ok_or(Invalid::Chunk("inflates past the cap"))?;
    Ok(())
}

/// A document chunk: its header, then its columns (those marked compressed are inflated).
fn document(data: &[u8], budget: &mut Budget) -> Result<(), Invalid> {
    let mut r = Reader(data);
    let actors = r.count(MAX_ACTORS, 1, "actors")?;
    for _ in 0..actors {
        let len = r.number("actor")?;
        r.take(len, "actor")?;
    }
    let heads = r.count(MAX_ACTORS, 32, "document heads")?;
    r.take(heads * 32, "document heads")?;
    let mut columns = Vec::new();
    for _ in 0..2 {
        let count = r.count(MAX_COLUMNS, 2, "columns")?;
        for _ in 0..count {
            let spec = r.number("column spec")?;
            columns.push((spec, r.number("column length")?));
        }
    }
    for (spec, len) in columns {
        let data = r.take(len, "column")?;
        if spec & 0x08 != 0 {
            inflate(data, budget)?;
        }
    }
    // What follows (the heads' indices) automerge checks itself.
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use automerge::sync::{State, SyncDoc};
    use automerge::{transaction::Transactable, AutoCommit, ROOT};

    /// One sync message from one document to another, kept in `out`; false when the first
    /// has nothing to say.
    fn send(
        (from, from_state): (&mut AutoCommit, &mut State),
        (to, to_state): (&mut AutoCommit, &mut State),
        out: &mut Vec<Vec<u8>>,
    ) -> bool {
        let Some(m) = from.sync().generate_sync_message(from_state) else {
            return false;
        };
        let bytes = m.encode();
        let m = automerge::sync::Message::decode(&bytes).unwrap();
        to.sync().receive_sync_message(to_state, m).unwrap();
        out.push(bytes);
        true
    }

    /// Two documents syncing: every message either sends, until both are quiet.
    fn honest_messages() -> Vec<Vec<u8>> {
        let mut a = AutoCommit::new();
        let mut text = String::new();
        for i in 0..50u64 {
            // Text that does not compress away, so some chunks travel as they are.
            text.extend((0..40).map(|j| char::from(b'a' + ((i * 7919 + j * 104_729) % 26) as u8)));
            a.put(ROOT, format!("k{i}"), text.as_str()).unwrap();
            a.commit();
        }
        let mut b = AutoCommit::new();
        b.put(ROOT, "theirs", 1).unwrap();
        b.commit();
        let (mut sa, mut sb) = (State::new(), State::new());
        let mut out = Vec::new();
        for _ in 0..10 {
            let ab = send((&mut a, &mut sa), (&mut b, &mut sb), &mut out);
            let ba = send((&mut b, &mut sb), (&mut a, &mut sa), &mut out);
            if !ab && !ba {
                break;
            }
        }
        // And the whole-document answer to a peer that has nothing.
        let mut fresh = State::new();
        let reset = [0x42, 0x00, 0x00, 0x00, 0x00, 0x02, 0x02, 0x84];
        let m = automerge::sync::Message::decode(&reset).unwrap();
        a.sync().receive_sync_message(&mut fresh, m).unwrap();
        out.extend(
            a.sync()
                .generate_sync_message(&mut fresh)
                .map(|m| m.encode()),
        );
        out
    }

    /// Changes joined one after another (as automerge's V2 messages carry them) come apart
    /// into exactly those changes; a cut run is not taken for chunks.
    #[test]
    fn joined_changes_split_into_their_chunks() {
        let mut doc = AutoCommit::new();
        for i in 0..3 {
            doc.put(ROOT, format!("k{i}"), "x".repeat(300 * (i + 1)))
                .unwrap();
            doc.commit();
        }
        let changes: Vec<Vec<u8>> = doc
            .get_changes(&[])
            .iter()
            .map(|c| c.raw_bytes().to_vec())
            .collect();
        let joined = changes.concat();
        let split = split_chunks(&joined).unwrap();
        assert_eq!(split, changes.iter().map(Vec::as_slice).collect::<Vec<_>>());
        assert_eq!(split_chunks(&joined[..joined.len() - 1]), None);
        assert_eq!(split_chunks(&[]), Some(Vec::new()));
    }

    #[test]
    fn honest_messages_pass() {
        let messages = honest_messages();
        assert!(messages.len() >= 4, "{}", messages.len());
        assert!(messages.iter().filter(|m| m.len() > 1_000).count() >= 2);
        for m in &messages {
            assert_eq!(check(m), Ok(()), "{m:?}");
        }
    }

    #[test]
    fn a_bloom_filter_with_entries_and_no_bits_is_refused() {
        // Decoded and applied by automerge, this made the next reply divide by zero.
        let message = [0x42, 0x00, 0x00, 0x01, 0x00, 0x03, 0x01, 0x00, 0x01, 0x00];
        assert!(matches!(check(&message), Err(Invalid::Bloom(_))));
        // Billions of probes (automerge allocated them: 16 GiB).
        let probes = [
            0x42, 0x00, 0x00, 0x01, 0x00, 0x08, 0x01, 0x08, 0xff, 0xff, 0xff, 0xff, 0x0f, 0xff,
        ];
        assert!(matches!(check(&probes), Err(Invalid::Bloom(_))));
    }

    #[test]
    fn counts_past_the_bounds_are_refused_before_anything_is_read() {
        // 500,000 empty filters (11 s of CPU against a room of 10,000 changes).
        let mut haves = vec![0x42, 0x00, 0x00, 0xa0, 0xc2, 0x1e];
        haves.extend(std::iter::repeat_n(0u8, 1_000_000));
        haves.push(0);
        assert!(matches!(
            check(&haves),
            Err(Invalid::TooMany { what: "haves", .. })
        ));
        // A count that claims more hashes than the message holds.
        assert!(matches!(
            check(&[0x42, 0x05, 0x00]),
            Err(Invalid::Truncated("heads"))
        ));
        // An overlong number, and a length of 2^64 - 1.
        assert!(matches!(
            check(&[0x42, 0x80, 0x00]),
            Err(Invalid::Number(_))
        ));
        let mut huge = vec![0x42, 0x00, 0x00, 0x00, 0x01];
        huge.extend([0xff; 9]);
        huge.push(0x01);
        assert!(matches!(check(&huge), Err(Invalid::Truncated("change"))));
        assert_eq!(check(&[0x41]), Err(Invalid::Type(0x41)));
        assert_eq!(check(&[]), Err(Invalid::Truncated("type")));
    }

    #[test]
    fn a_compressed_chunk_that_inflates_past_the_cap_is_refused() {
        use std::io::Write;
        let mut deflate =
            flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
        let zeros = vec![0u8; 1 << 20];
        for _ in 0..129 {
            deflate.write_all(&zeros).unwrap();
        }
        let bomb = deflate.finish().unwrap();
        assert!(bomb.len() < 200_000, "{}", bomb.len());
        let mut chunk = MAGIC.to_vec();
        chunk.extend([0; 4]);
        chunk.push(2);
        leb(&mut chunk, bomb.len() as u64);
        chunk.extend(&bomb);
        let mut message = vec![0x42, 0x00, 0x00, 0x00, 0x01];
        leb(&mut message, chunk.len() as u64);
        message.extend(&chunk);
        assert_eq!(
            check(&message),
            Err(Invalid::Chunk("inflates past the cap"))
        );
    }

    fn leb(out: &mut Vec<u8>, v: u64) {
        leb128::write::unsigned(out, v).expect("writing to memory");
    }

    /// Honest messages with bytes changed at random: whatever the check lets through,
    /// automerge reads and answers without a panic.
    #[test]
    fn altered_messages_that_pass_never_make_automerge_panic() {
        let messages = honest_messages();
        let mut target = AutoCommit::new();
        for i in 0..20 {
            target.put(ROOT, format!("t{i}"), i).unwrap();
            target.commit();
        }
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let mut passed = 0;
        for round in 0..3_000 {
            let mut m = messages[round % messages.len()].clone();
            for _ in 0..1 + next() % 4 {
                let at = (next() % m.len() as u64) as usize;
                m[at] = next() as u8;
            }
            if check(&m).is_err() {
                continue;
            }
            passed += 1;
            let Ok(decoded) = automerge::sync::Message::decode(&m) else {
                continue;
            };
            let mut doc = target.clone();
            let mut state = State::new();
            let _ = doc.sync().receive_sync_message(&mut state, decoded);
            let _ = doc.sync().generate_sync_message(&mut state);
        }
        assert!(
            passed > 100,
            "only {passed} altered messages passed the check"
        );
    }
}
