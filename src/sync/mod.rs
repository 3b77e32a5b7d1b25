//! The peer protocol as a pure state machine, for any reliable transport (a WebRTC data channel
//! in the browser, a simulated network in tests). No I/O: it turns received bytes into document
//! changes and tells the caller what to send.
//!
//! Wire format of one data-channel message: `seal(key, "tequio/data/v1", frame)` where a frame is
//! `version u8 | kind u8 | message id u32 | chunk index u16 | chunk count u16 | payload`. An
//! automerge sync message larger than [`CHUNK_PAYLOAD`] is split across several frames so that
//! every sealed message stays below 64 KiB. Sizes are checked before anything is decoded.

pub mod discovery;
mod frame;
pub mod handshake;
pub mod mailbox;
pub mod nostr;
pub mod postman;
mod router;
mod session;
mod signal;
pub mod topic;
pub mod wire;

pub use frame::{Frame, FrameError, Reassembler, CHUNK_PAYLOAD, FRAME_HEADER, MAX_MESSAGE};
pub use router::{
    channel_signal, read_channel_signal, Backoff, Reach, Router, Routing, CHANNEL_DATA,
    CHANNEL_SIGNAL, DEFAULT_MESH_LIMIT, MAX_CHANNEL_MESSAGE, MAX_HOPS,
};
pub use session::{
    PeerSync, Received, Rejected, Session, DATA_CONTEXT, LARGE_ANSWERS_PER_MINUTE,
    LARGE_ANSWER_FLOOR, LARGE_ANSWER_SHARE, MAX_SEALED_FRAME, NOT_READING_MS, PARTS_AHEAD,
    PART_BYTES, RESTARTS_PER_MINUTE, RETRY_EVERY_MS, STRIKES_TO_DROP, STRIKE_WINDOW_MS,
    WHOLE_DOC_EVERY_MS,
};
pub use signal::{
    compact_sdp, device_id, Signal, SignalBody, SignalError, MAX_PAIRING_AGE_MS, MAX_SIGNAL_AGE_MS,
    MAX_SIGNAL_TEXT,
};
