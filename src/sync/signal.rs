//! Signaling messages: how two devices of a room find each other and exchange WebRTC session
//! descriptions through an untrusted relay (a y-webrtc server, or a BroadcastChannel). Every
//! message is sealed with the room key, so the relay sees only an opaque topic and ciphertext.

use crate::crypto::{from_base64url, to_base64url, OpenError, RoomKey};
use serde::{Deserialize, Serialize};

/// The longest signaling payload accepted, as base64url text, checked before decoding.
pub const MAX_SIGNAL_TEXT: usize = 64 * 1024;
const CONTEXT: &[u8] = b"tequio/signal/v1";
const MAX_ID: usize = 64;

/// What a signaling message asks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum SignalBody {
    /// "I am here": sent on joining and periodically. Addressed to one peer when replying.
    Announce,
    /// A WebRTC offer (complete SDP, candidates included). `restart`: an ICE restart of the
    /// existing connection (answered on it), not a new connection.
    Offer {
        sdp: String,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        restart: bool,
    },
    /// The answer to an offer.
    Answer { sdp: String },
}

/// One signaling message between two devices (`to` empty means everyone in the room).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Signal {
    /// Random message id: the same message arriving over two transports is handled once.
    pub id: String,
    pub from: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    pub body: SignalBody,
}

/// Why a signaling payload was dropped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignalError {
    #[error("signaling payload of {0} bytes exceeds the size cap")]
    TooLarge(usize),
    #[error("signaling payload is not base64url")]
    NotBase64,
    #[error("signaling payload could not be opened: {0}")]
    Sealed(#[from] OpenError),
    #[error("signaling payload does not decode: {0}")]
    Decode(String),
    #[error("signaling payload has an oversized or empty id")]
    BadId,
}

impl Signal {
    /// Seals the message for publication; returns base64url text.
    pub fn seal(&self, key: &RoomKey) -> String {
        let json = serde_json::to_vec(self).expect("signals always serialise");
        to_base64url(&key.seal(CONTEXT, &json))
    }

    /// Checks size, opens and decodes a published payload. Never panics on any input.
    pub fn open(key: &RoomKey, text: &str) -> Result<Self, SignalError> {
        if text.len() > MAX_SIGNAL_TEXT {
            return Err(SignalError::TooLarge(text.len()));
        }
        let sealed = from_base64url(text).ok_or(SignalError::NotBase64)?;
        let json = key.open(CONTEXT, &sealed)?;
        let signal: Signal =
            serde_json::from_slice(&json).map_err(|e| SignalError::Decode(e.to_string()))?;
        let ok = |s: &str| !s.is_empty() && s.len() <= MAX_ID;
        if !ok(&signal.id) || !ok(&signal.from) || signal.to.as_deref().is_some_and(|t| !ok(t)) {
            return Err(SignalError::BadId);
        }
        Ok(signal)
    }
}

/// A session description cut down for pairing by hand, where every byte makes the QR code
/// denser: TCP candidates (a LAN pairing goes over UDP) and lines a data channel does not need
/// are left out.
pub fn compact_sdp(sdp: &str) -> String {
    let keep = |line: &&str| {
        !(line.starts_with("a=extmap-allow-mixed")
            || line.starts_with("a=msid-semantic")
            || (line.starts_with("a=candidate:") && line.contains(" tcp ")))
    };
    let mut out: String = sdp.lines().filter(keep).collect::<Vec<_>>().join("\r\n");
    out.push_str("\r\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::RoomSecret;

    #[test]
    fn signals_round_trip_and_hide_their_content() {
        let key = RoomSecret::generate().room_key();
        let offer = Signal {
            id: "m1".into(),
            from: "peer-a".into(),
            to: Some("peer-b".into()),
            body: SignalBody::Offer {
                restart: false,
                sdp: "v=0 secret-sdp".into(),
            },
        };
        let text = offer.seal(&key);
        // (Sealed text is base64: a short word like "sdp" can appear in it by chance.)
        assert!(!text.contains("peer-a") && !text.contains("secret-sdp"));
        assert_eq!(Signal::open(&key, &text), Ok(offer));
    }

    #[test]
    fn compact_sdp_keeps_what_a_data_channel_needs() {
        let sdp = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0\r\n\
                   a=extmap-allow-mixed\r\na=msid-semantic: WMS\r\n\
                   m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n\
                   a=candidate:1 1 udp 2113937151 a.local 50000 typ host generation 0\r\n\
                   a=candidate:2 1 tcp 1518280447 a.local 9 typ host tcptype active generation 0\r\n\
                   a=ice-ufrag:abcd\r\na=fingerprint:sha-256 AA:BB\r\na=sctp-port:5000\r\n";
        let short = compact_sdp(sdp);
        assert!(short.len() < sdp.len());
        for kept in [
            "v=0",
            "m=application",
            " udp ",
            "a=ice-ufrag",
            "a=fingerprint",
            "a=sctp-port",
        ] {
            assert!(short.contains(kept), "{kept}");
        }
        for dropped in [" tcp ", "extmap", "msid"] {
            assert!(!short.contains(dropped), "{dropped}");
        }
        assert!(short.ends_with("a=sctp-port:5000\r\n"));
    }

    #[test]
    fn hostile_signals_are_refused() {
        let key = RoomSecret::generate().room_key();
        let other = RoomSecret::generate().room_key();
        let s = Signal {
            id: "m".into(),
            from: "a".into(),
            to: None,
            body: SignalBody::Announce,
        };
        assert_eq!(
            Signal::open(&key, &"A".repeat(MAX_SIGNAL_TEXT + 1)),
            Err(SignalError::TooLarge(MAX_SIGNAL_TEXT + 1))
        );
        assert_eq!(
            Signal::open(&key, "not base64!"),
            Err(SignalError::NotBase64)
        );
        assert_eq!(
            Signal::open(&key, &s.seal(&other)),
            Err(SignalError::Sealed(OpenError::Unauthentic))
        );
        let junk = to_base64url(&key.seal(CONTEXT, b"{\"id\":1}"));
        assert!(matches!(
            Signal::open(&key, &junk),
            Err(SignalError::Decode(_))
        ));
        let long_id = Signal {
            from: "x".repeat(65),
            ..s
        };
        assert_eq!(
            Signal::open(&key, &long_id.seal(&key)),
            Err(SignalError::BadId)
        );
    }
}
