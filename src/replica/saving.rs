//! What of the room is saved on this device, as a pure state machine: every change is appended
//! as a chunk; a failed write keeps its bytes for the next; past [`COMPACT_AFTER`] chunks the
//! room is rewritten as one. The store reports each write back as a [`StoreEvent`].

use super::{ChunkStore, StoreEvent};

/// Chunks a room may have before they are compacted into one.
pub const COMPACT_AFTER: usize = 64;

/// A chunk write that did not happen, with the bytes it was to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unwritten {
    pub error: String,
    pub bytes: Vec<u8>,
}

/// The room's saved chunks and the writes under way.
#[derive(Debug, Default)]
pub struct Saving {
    /// Keys of the chunks the room is stored in.
    keys: Vec<String>,
    /// Bytes whose write failed: written again with the next.
    unsaved: Vec<u8>,
    /// Appends under way.
    appending: usize,
    /// A compaction under way: its operation and the chunks it replaces.
    compacting: Option<(u64, Vec<String>)>,
    next_op: u64,
    error: Option<String>,
}

impl Saving {
    /// The room as loaded: stored in these chunks.
    pub fn new(keys: Vec<String>) -> Self {
        Saving {
            keys,
            ..Saving::default()
        }
    }

    fn op(&mut self) -> u64 {
        self.next_op += 1;
        self.next_op
    }

    /// Writes `fresh` (new changes) with whatever an earlier failure left unsaved, as one chunk.
    pub fn append(&mut self, fresh: Vec<u8>, store: &mut dyn ChunkStore) {
        if fresh.is_empty() && self.unsaved.is_empty() {
            return;
        }
        let mut chunk = std::mem::take(&mut self.unsaved);
        chunk.extend_from_slice(&fresh);
        self.appending += 1;
        let op = self.op();
        store.append(op, chunk);
    }

    /// Starts a compaction if the room has grown to too many chunks and nothing is unsaved:
    /// `snapshot` makes the whole room's bytes. Newer bytes must have gone out as their own
    /// chunk first (the caller appends before).
    pub fn compact(&mut self, snapshot: impl FnOnce() -> Vec<u8>, store: &mut dyn ChunkStore) {
        if self.compacting.is_some() || self.keys.len() <= COMPACT_AFTER || !self.unsaved.is_empty()
        {
            return;
        }
        let op = self.op();
        let replaced = self.keys.clone();
        self.compacting = Some((op, replaced.clone()));
        store.compact(op, snapshot(), replaced);
    }

    /// Whether a compaction is due (the caller then appends what is new and compacts).
    pub fn compaction_due(&self) -> bool {
        self.compacting.is_none() && self.keys.len() > COMPACT_AFTER && self.unsaved.is_empty()
    }

    /// A write finished. True when a compaction finished (the room's facts may be kept now).
    pub fn done(&mut self, event: StoreEvent) -> bool {
        match event {
            StoreEvent::Appended { result, .. } => {
                self.appending = self.appending.saturating_sub(1);
                match result {
                    Ok(key) => {
                        self.keys.push(key);
                        if self.unsaved.is_empty() {
                            self.error = None;
                        }
                    }
                    Err(Unwritten { error, mut bytes }) => {
                        // Kept: the next write (or a retry) writes them again.
                        bytes.extend_from_slice(&self.unsaved);
                        self.unsaved = bytes;
                        self.error = Some(error);
                    }
                }
                false
            }
            StoreEvent::Compacted { op, result } => {
                let Some((ours, replaced)) = self.compacting.take_if(|(o, _)| *o == op) else {
                    return false;
                };
                debug_assert_eq!(ours, op);
                match result {
                    Ok(key) => {
                        self.keys.retain(|k| !replaced.contains(k));
                        self.keys.push(key);
                        true
                    }
                    // Nothing is lost: the chunks it would have replaced are still there.
                    Err(_) => false,
                }
            }
        }
    }

    /// Writes under way (the header shows them as pending).
    pub fn pending(&self) -> usize {
        self.appending
    }

    /// The last write's failure, until a write succeeds with nothing left unsaved.
    pub fn error(&self) -> Option<&str> {
        self.error.as_deref()
    }

    /// Bytes waiting to be written again.
    pub fn unsaved(&self) -> usize {
        self.unsaved.len()
    }

    /// The chunks the room is stored in.
    pub fn keys(&self) -> &[String] {
        &self.keys
    }
}
