//! In-memory adapters of the replica's ports, for native tests and tools: a store whose writes
//! complete when the test says (and fail when it says), and links that queue what is sent for
//! the test to deliver.

use super::{ChunkStore, PeerLinks, Sent, StoreEvent, Unwritten};
use std::collections::{BTreeMap, VecDeque};

enum Write {
    Append(u64, Vec<u8>),
    Compact(u64, Vec<u8>, Vec<String>),
}

/// Chunks in a map; writes wait in a queue until [`MemoryStore::complete`].
#[derive(Default)]
pub struct MemoryStore {
    chunks: BTreeMap<String, Vec<u8>>,
    queue: VecDeque<Write>,
    next_key: u64,
    /// Appends still to fail (as a full disk would).
    pub fail_appends: usize,
    /// The facts last kept.
    pub facts: Option<String>,
}

impl MemoryStore {
    /// Carries out the writes waiting, in order; what each reports back.
    pub fn complete(&mut self) -> Vec<StoreEvent> {
        let mut events = Vec::new();
        while let Some(write) = self.queue.pop_front() {
            events.push(match write {
                Write::Append(op, bytes) if self.fail_appends > 0 => {
                    self.fail_appends -= 1;
                    StoreEvent::Appended {
                        op,
                        result: Err(Unwritten {
                            error: "the storage quota is exceeded".into(),
                            bytes,
                        }),
                    }
                }
                Write::Append(op, bytes) => StoreEvent::Appended {
                    op,
                    result: Ok(self.put(bytes)),
                },
                Write::Compact(op, snapshot, replaced) => {
                    for key in &replaced {
                        self.chunks.remove(key);
                    }
                    StoreEvent::Compacted {
                        op,
                        result: Ok(self.put(snapshot)),
                    }
                }
            });
        }
        events
    }

    fn put(&mut self, bytes: Vec<u8>) -> String {
        self.next_key += 1;
        let key = format!("{:08}", self.next_key);
        self.chunks.insert(key.clone(), bytes);
        key
    }

    /// Writes waiting.
    pub fn waiting(&self) -> usize {
        self.queue.len()
    }

    /// The stored chunks, in the order written, with their keys.
    pub fn chunks(&self) -> (Vec<String>, Vec<Vec<u8>>) {
        (
            self.chunks.keys().cloned().collect(),
            self.chunks.values().cloned().collect(),
        )
    }
}

impl ChunkStore for MemoryStore {
    fn append(&mut self, op: u64, bytes: Vec<u8>) {
        self.queue.push_back(Write::Append(op, bytes));
    }

    fn compact(&mut self, op: u64, snapshot: Vec<u8>, replaced: Vec<String>) {
        self.queue.push_back(Write::Compact(op, snapshot, replaced));
    }

    fn keep_facts(&mut self, facts: String) {
        self.facts = Some(facts);
    }
}

/// What a replica sent and whom it dropped, for the test to deliver and inspect.
#[derive(Default)]
pub struct MemoryLinks {
    /// Frames sent: (to, sealed bytes).
    pub sent: VecDeque<(String, Vec<u8>)>,
    /// Peers dropped for misbehaving, and until when they are ignored.
    pub dropped: Vec<(String, i64)>,
    /// Peers whose queue is full: sends to them fail.
    pub full: Vec<String>,
    /// The most bytes a peer's frames in `sent` may come to (none: no bound); a send past it
    /// fails, as the browser's outbox does past `net::outbox::MAX_QUEUED`.
    pub max_queued: Option<usize>,
}

impl PeerLinks for MemoryLinks {
    fn send(&mut self, peer: &str, sealed: &[u8]) -> Sent {
        let past_bound = self
            .max_queued
            .is_some_and(|max| self.queued(peer) + sealed.len() > max);
        if past_bound || self.full.iter().any(|p| p == peer) {
            return Sent::Full;
        }
        self.sent.push_back((peer.to_owned(), sealed.to_vec()));
        Sent::Queued
    }

    fn queued(&self, peer: &str) -> usize {
        self.sent
            .iter()
            .filter(|(to, _)| to == peer)
            .map(|(_, bytes)| bytes.len())
            .sum()
    }

    fn drop_peer(&mut self, peer: &str, until: i64) {
        self.dropped.push((peer.to_owned(), until));
    }
}
