//! Frames: the versioned envelope, chunking and reassembly with hard size limits.

use std::collections::BTreeMap;

/// The protocol version this build speaks.
pub const PROTOCOL_VERSION: u8 = 1;
/// Frame kind: (a chunk of) an automerge sync message.
pub const KIND_SYNC: u8 = 1;
/// Bytes of frame header before the payload.
pub const FRAME_HEADER: usize = 10;
/// Payload bytes per frame: header, payload and sealing stay below 64 KiB.
pub const CHUNK_PAYLOAD: usize = 60 * 1024;
/// The largest reassembled message accepted from a peer.
pub const MAX_MESSAGE: usize = 64 * 1024 * 1024;
/// Partially received messages kept at once per peer; older ones are dropped.
const MAX_PARTIALS: usize = 4;
/// Bytes of partial messages kept per peer: one whole message. An honest peer sends one message
/// at a time over an ordered channel, so it never has more than one partial.
pub const MAX_PARTIAL_BYTES: usize = MAX_MESSAGE;
/// A partial message that gets no chunk for this long is dropped.
pub const PARTIAL_TTL_MS: i64 = 30_000;

/// Why a frame was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error("frame of {0} bytes is shorter than its header")]
    Truncated(usize),
    #[error("protocol version {0} is not supported")]
    Version(u8),
    #[error("unknown frame kind {0}")]
    Kind(u8),
    #[error("chunk {index} of {count} is out of range")]
    ChunkIndex { index: u16, count: u16 },
    #[error("a message of {0} chunks would exceed the size limit")]
    TooManyChunks(u16),
    #[error("chunk of {0} bytes is larger than a chunk may be")]
    OversizedChunk(usize),
}

/// One decoded frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame<'a> {
    pub message_id: u32,
    pub index: u16,
    pub count: u16,
    pub payload: &'a [u8],
}

impl<'a> Frame<'a> {
    /// Splits a message into frames (at least one, even for an empty message).
    pub fn split(message_id: u32, message: &[u8]) -> Vec<Vec<u8>> {
        let chunks: Vec<&[u8]> = if message.is_empty() {
            vec![&[][..]]
        } else {
            message.chunks(CHUNK_PAYLOAD).collect()
        };
        let count =
            u16::try_from(chunks.len()).expect("messages are capped far below 65535 chunks");
        chunks
            .iter()
            .enumerate()
            .map(|(index, chunk)| {
                let mut out = Vec::with_capacity(FRAME_HEADER + chunk.len());
                out.push(PROTOCOL_VERSION);
                out.push(KIND_SYNC);
                out.extend_from_slice(&message_id.to_be_bytes());
                out.extend_from_slice(&(index as u16).to_be_bytes());
                out.extend_from_slice(&count.to_be_bytes());
                out.extend_from_slice(chunk);
                out
            })
            .collect()
    }

    /// Decodes a frame, checking every field before trusting it.
    pub fn decode(bytes: &'a [u8]) -> Result<Self, FrameError> {
        if bytes.len() < FRAME_HEADER {
            return Err(FrameError::Truncated(bytes.len()));
        }
        if bytes[0] != PROTOCOL_VERSION {
            return Err(FrameError::Version(bytes[0]));
        }
        if bytes[1] != KIND_SYNC {
            return Err(FrameError::Kind(bytes[1]));
        }
        let message_id = u32::from_be_bytes([bytes[2], bytes[3], bytes[4], bytes[5]]);
        let index = u16::from_be_bytes([bytes[6], bytes[7]]);
        let count = u16::from_be_bytes([bytes[8], bytes[9]]);
        if count == 0 || index >= count {
            return Err(FrameError::ChunkIndex { index, count });
        }
        if usize::from(count) > MAX_MESSAGE.div_ceil(CHUNK_PAYLOAD) {
            return Err(FrameError::TooManyChunks(count));
        }
        let payload = &bytes[FRAME_HEADER..];
        if payload.len() > CHUNK_PAYLOAD {
            return Err(FrameError::OversizedChunk(payload.len()));
        }
        Ok(Frame {
            message_id,
            index,
            count,
            payload,
        })
    }
}

struct Partial {
    count: u16,
    chunks: BTreeMap<u16, Vec<u8>>,
    bytes: usize,
    arrival: u64,
    /// When its last chunk arrived.
    heard: i64,
}

/// Reassembles chunked messages. Tolerates duplicated and reordered chunks; bounded in memory:
/// at most [`MAX_PARTIALS`] messages and [`MAX_PARTIAL_BYTES`] bytes, each partial dropped
/// after [`PARTIAL_TTL_MS`] without a chunk.
#[derive(Default)]
pub struct Reassembler {
    partials: BTreeMap<u32, Partial>,
    arrivals: u64,
    bytes: usize,
    /// A partial message was let go (bound or age) since last asked: the peer is to resend.
    lost: bool,
}

impl Reassembler {
    /// Adds a frame that arrived at `now` (ms); returns the whole message once its last missing
    /// chunk arrives.
    pub fn push(&mut self, frame: Frame<'_>, now: i64) -> Option<Vec<u8>> {
        self.expire(now);
        if frame.count == 1 {
            return Some(frame.payload.to_vec());
        }
        self.arrivals += 1;
        let arrival = self.arrivals;
        let partial = self
            .partials
            .entry(frame.message_id)
            .or_insert_with(|| Partial {
                count: frame.count,
                chunks: BTreeMap::new(),
                bytes: 0,
                arrival,
                heard: now,
            });
        if partial.count != frame.count {
            // A frame contradicting the others of its message: drop what we had of it.
            self.remove(frame.message_id);
            return None;
        }
        partial.heard = now;
        if !partial.chunks.contains_key(&frame.index) {
            partial.bytes += frame.payload.len();
            self.bytes += frame.payload.len();
            partial.chunks.insert(frame.index, frame.payload.to_vec());
        }
        if partial.chunks.len() == usize::from(partial.count) {
            let done = self.remove(frame.message_id)?;
            let mut out = Vec::with_capacity(done.bytes);
            for chunk in done.chunks.values() {
                out.extend_from_slice(chunk);
            }
            return Some(out);
        }
        while self.partials.len() > MAX_PARTIALS || self.bytes > MAX_PARTIAL_BYTES {
            let oldest = self
                .partials
                .iter()
                .min_by_key(|(_, p)| p.arrival)
                .map(|(id, _)| *id)?;
            self.remove(oldest);
            self.lost = true;
        }
        None
    }

    fn remove(&mut self, id: u32) -> Option<Partial> {
        let gone = self.partials.remove(&id)?;
        self.bytes -= gone.bytes;
        Some(gone)
    }

    /// Drops partial messages that have had no chunk for [`PARTIAL_TTL_MS`].
    pub fn expire(&mut self, now: i64) {
        let stale: Vec<u32> = self
            .partials
            .iter()
            .filter(|(_, p)| now.saturating_sub(p.heard) > PARTIAL_TTL_MS)
            .map(|(id, _)| *id)
            .collect();
        for id in stale {
            self.remove(id);
            self.lost = true;
        }
    }

    /// Whether a partial message was let go since last asked.
    pub fn take_lost(&mut self) -> bool {
        std::mem::take(&mut self.lost)
    }

    /// Bytes held in partial messages.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Forgets every partial message (on reconnect).
    pub fn clear(&mut self) {
        self.partials.clear();
        self.bytes = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_and_reassemble_in_any_order_with_duplicates() {
        let message: Vec<u8> = (0..(CHUNK_PAYLOAD * 3 + 17))
            .map(|i| (i % 251) as u8)
            .collect();
        let frames = Frame::split(9, &message);
        assert_eq!(frames.len(), 4);
        assert!(frames
            .iter()
            .all(|f| f.len() <= FRAME_HEADER + CHUNK_PAYLOAD));
        let mut r = Reassembler::default();
        for i in [2, 0, 2, 3] {
            assert_eq!(r.push(Frame::decode(&frames[i]).unwrap(), 0), None);
        }
        assert_eq!(r.push(Frame::decode(&frames[1]).unwrap(), 0), Some(message));
        // A late duplicate starts a partial again but never completes a wrong message.
        assert_eq!(r.push(Frame::decode(&frames[1]).unwrap(), 0), None);
    }

    #[test]
    fn small_and_empty_messages_are_one_frame() {
        let frames = Frame::split(1, b"");
        assert_eq!(frames.len(), 1);
        let mut r = Reassembler::default();
        assert_eq!(r.push(Frame::decode(&frames[0]).unwrap(), 0), Some(vec![]));
    }

    #[test]
    fn malformed_frames_are_refused() {
        let good = Frame::split(1, b"abc").remove(0);
        assert_eq!(Frame::decode(&good[..5]), Err(FrameError::Truncated(5)));
        let mut bad = good.clone();
        bad[0] = 9;
        assert_eq!(Frame::decode(&bad), Err(FrameError::Version(9)));
        let mut bad = good.clone();
        bad[1] = 0;
        assert_eq!(Frame::decode(&bad), Err(FrameError::Kind(0)));
        let mut bad = good.clone();
        bad[6..10].copy_from_slice(&[0, 3, 0, 3]);
        assert_eq!(
            Frame::decode(&bad),
            Err(FrameError::ChunkIndex { index: 3, count: 3 })
        );
        let mut bad = good.clone();
        bad[6..10].copy_from_slice(&[0, 0, 0xff, 0xff]);
        assert_eq!(Frame::decode(&bad), Err(FrameError::TooManyChunks(0xffff)));
        let mut big = good;
        big.resize(FRAME_HEADER + CHUNK_PAYLOAD + 1, 0);
        assert_eq!(
            Frame::decode(&big),
            Err(FrameError::OversizedChunk(CHUNK_PAYLOAD + 1))
        );
    }

    #[test]
    fn reassembly_memory_is_bounded() {
        let mut r = Reassembler::default();
        for id in 0..100u32 {
            let frames = Frame::split(id, &vec![1u8; CHUNK_PAYLOAD + 1]);
            r.push(Frame::decode(&frames[0]).unwrap(), 0);
        }
        assert!(r.partials.len() <= MAX_PARTIALS);
        // A frame whose count contradicts its message's other frames drops that message.
        let frames = Frame::split(500, &vec![1u8; CHUNK_PAYLOAD * 2 + 1]);
        r.push(Frame::decode(&frames[0]).unwrap(), 0);
        let mut liar = frames[1].clone();
        liar[8..10].copy_from_slice(&2u16.to_be_bytes());
        assert_eq!(r.push(Frame::decode(&liar).unwrap(), 0), None);
        assert!(!r.partials.contains_key(&500));
    }

    #[test]
    fn partial_messages_are_bounded_in_bytes_and_age() {
        let mut r = Reassembler::default();
        // Three partial messages of 30 MiB each: together past one message's worth of bytes.
        let big = vec![7u8; 30 * 1024 * 1024];
        let frames: Vec<Vec<Vec<u8>>> = (0..3u32).map(|id| Frame::split(id, &big)).collect();
        for (id, all) in frames.iter().enumerate() {
            for f in &all[..all.len() - 1] {
                assert_eq!(r.push(Frame::decode(f).unwrap(), id as i64), None);
            }
            assert!(r.bytes() <= MAX_PARTIAL_BYTES, "{} bytes held", r.bytes());
        }
        // The oldest was dropped to make room: its last chunk completes nothing.
        assert_eq!(
            r.push(Frame::decode(frames[0].last().unwrap()).unwrap(), 3),
            None
        );
        // The newest completes.
        let done = r.push(Frame::decode(frames[2].last().unwrap()).unwrap(), 4);
        assert_eq!(done.as_deref(), Some(&big[..]));
        // A partial with no chunk for longer than the limit is gone, and its bytes with it.
        let msg = vec![1u8; CHUNK_PAYLOAD * 2];
        let parts = Frame::split(77, &msg);
        r.clear();
        r.push(Frame::decode(&parts[0]).unwrap(), 1_000);
        assert_eq!(r.bytes(), CHUNK_PAYLOAD);
        r.expire(1_000 + PARTIAL_TTL_MS + 1);
        assert_eq!(r.bytes(), 0);
        assert_eq!(
            r.push(
                Frame::decode(&parts[1]).unwrap(),
                1_000 + PARTIAL_TTL_MS + 2
            ),
            None
        );
    }
}
