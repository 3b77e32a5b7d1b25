//! Signaling messages: how two devices of a room find each other and exchange WebRTC session
//! descriptions through an untrusted relay (a y-webrtc server, or a BroadcastChannel). Every
//! message is sealed with the room key, so the relay sees only an opaque topic and ciphertext.
//!
//! Inside the seal every signal is signed by its sender's *device key*, a key pair made for
//! each visit, and a device's id is the hash of that key ([`device_id`]): a link holder cannot
//! speak as another device (and so cannot cut its connections with forged offers). Signals
//! carry the time they were sent; one older than [`MAX_SIGNAL_AGE_MS`] (or as far ahead) is
//! refused, so sealed signals recorded and replayed later do nothing (within the window the
//! router knows their ids, and each device's newest signal: see `Router`).

use crate::crypto::{from_base64url, to_base64url, verify, Identity, OpenError, RoomKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The longest signaling payload accepted, as base64url text, checked before decoding.
pub const MAX_SIGNAL_TEXT: usize = 64 * 1024;
/// How old (or how far ahead, for clocks that differ) a signal may be: as far as the room's
/// entries allow clocks to differ.
pub const MAX_SIGNAL_AGE_MS: i64 = 10 * 60_000;
/// How old a pairing code may be when it is used (it is carried by hand).
pub const MAX_PAIRING_AGE_MS: i64 = 30 * 60_000;
const CONTEXT: &[u8] = b"tequio/signal/v2";
const MAX_ID: usize = 64;
/// Length of a signature as base64url text (64 bytes), which opens a sealed signal.
const SIGNATURE_TEXT: usize = 86;

/// A device's id in the room's mesh: the first 22 characters of the base64url SHA-256 of its
/// device key (132 bits).
pub fn device_id(public: &str) -> String {
    let bytes = from_base64url(public).unwrap_or_default();
    let mut id = to_base64url(&Sha256::digest(&bytes));
    id.truncate(22);
    id
}

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
    /// "The room this key opened has moved on to a new key": sent, under a key the sender has
    /// moved on from, to a device that was not given the new one (instead of a connection, so
    /// it learns no network address). Only a device that never had the room heeds it.
    Replaced,
}

/// One signaling message between two devices (`to` empty means everyone in the room).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Signal {
    /// Random message id: the same message arriving over two transports is handled once.
    pub id: String,
    /// The sender's device id: [`device_id`] of `key`.
    pub from: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    pub body: SignalBody,
    /// The sender's device key (base64url Ed25519), which signed the signal.
    pub key: String,
    /// When it was sent (ms since the epoch, the sender's clock).
    pub sent_at: i64,
    /// The member key of the person whose device this is, and its signature over the device
    /// key (see [`Signal::member_of`]): devices of admitted members are preferred as peers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub member: Option<(String, String)>,
}

const DEVICE_OF: &[u8] = b"tequio/device-of/v1";

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
    #[error("signal not signed by the device it names")]
    Forged,
    #[error("signal sent {0} s from now: replayed, or a clock far off")]
    Stale(i64),
}

impl Signal {
    /// A new signal from `device`, sent at `now` (ms), with a random id.
    pub fn new(device: &Identity, to: Option<String>, body: SignalBody, now: i64) -> Self {
        let key = device.public();
        Signal {
            id: crate::crypto::random_id(),
            from: device_id(&key),
            to,
            body,
            key,
            sent_at: now,
            member: None,
        }
    }

    /// Says whose device sent it: `member` signs the device key.
    pub fn from_member(mut self, member: &Identity) -> Self {
        let signature = member.sign(&[DEVICE_OF, self.key.as_bytes()].concat());
        self.member = Some((member.public(), signature));
        self
    }

    /// The member key that signed for the sending device, if one did and its signature holds.
    pub fn member_of(&self) -> Option<&str> {
        let (member, signature) = self.member.as_ref()?;
        verify(
            member,
            &[DEVICE_OF, self.key.as_bytes()].concat(),
            signature,
        )
        .then_some(member.as_str())
    }

    /// Signs the message with `device` (whose key it names) and seals it for publication;
    /// returns base64url text.
    pub fn seal(&self, key: &RoomKey, device: &Identity) -> String {
        let json = serde_json::to_vec(self).expect("signals always serialise");
        let mut signed = [CONTEXT, &json].concat();
        let signature = device.sign(&signed);
        debug_assert_eq!(signature.len(), SIGNATURE_TEXT);
        signed.splice(..CONTEXT.len(), signature.into_bytes());
        to_base64url(&key.seal(CONTEXT, &signed))
    }

    /// Checks size, opens, decodes and verifies a published payload, received at `now` (ms);
    /// refused if sent more than `max_age` ms before or after. Never panics on any input.
    pub fn open(key: &RoomKey, text: &str, now: i64, max_age: i64) -> Result<Self, SignalError> {
        if text.len() > MAX_SIGNAL_TEXT {
            return Err(SignalError::TooLarge(text.len()));
        }
        let sealed = from_base64url(text).ok_or(SignalError::NotBase64)?;
        let plain = key.open(CONTEXT, &sealed)?;
        if plain.len() < SIGNATURE_TEXT {
            return Err(SignalError::Forged);
        }
        let (signature, json) = plain.split_at(SIGNATURE_TEXT);
        let signal: Signal =
            serde_json::from_slice(json).map_err(|e| SignalError::Decode(e.to_string()))?;
        let ok = |s: &str| !s.is_empty() && s.len() <= MAX_ID;
        if !ok(&signal.id) || !ok(&signal.from) || signal.to.as_deref().is_some_and(|t| !ok(t)) {
            return Err(SignalError::BadId);
        }
        let signature = std::str::from_utf8(signature).map_err(|_| SignalError::Forged)?;
        if signal.from != device_id(&signal.key)
            || !verify(&signal.key, &[CONTEXT, json].concat(), signature)
        {
            return Err(SignalError::Forged);
        }
        let age = now.saturating_sub(signal.sent_at);
        if age.saturating_abs() > max_age {
            return Err(SignalError::Stale(-age / 1_000));
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

    const NOW: i64 = 1_800_000_000_000;

    #[test]
    fn signals_round_trip_and_hide_their_content() {
        let key = RoomSecret::generate().room_key();
        let device = Identity::generate();
        let offer = Signal::new(
            &device,
            Some("peer-b".into()),
            SignalBody::Offer {
                restart: false,
                sdp: "v=0 secret-sdp".into(),
            },
            NOW,
        );
        assert_eq!(offer.from, device_id(&device.public()));
        assert_eq!(offer.from.len(), 22);
        let text = offer.seal(&key, &device);
        // (Sealed text is base64: a short word like "sdp" can appear in it by chance.)
        assert!(!text.contains(&offer.from) && !text.contains("secret-sdp"));
        assert_eq!(
            Signal::open(&key, &text, NOW + 1_000, MAX_SIGNAL_AGE_MS),
            Ok(offer)
        );
    }

    /// A link holder cannot speak as another device: not with the other's id and its own key
    /// (the id is the key's hash), nor with the other's id and key (it cannot sign for it).
    #[test]
    fn a_signal_in_another_device_s_name_is_refused() {
        let key = RoomSecret::generate().room_key();
        let (victim, attacker) = (Identity::generate(), Identity::generate());
        let victim_id = device_id(&victim.public());
        let offer = SignalBody::Offer {
            restart: false,
            sdp: "v=0".into(),
        };
        let mut own_key = Signal::new(&attacker, None, offer.clone(), NOW);
        own_key.from = victim_id.clone();
        let mut their_key = Signal::new(&attacker, None, offer, NOW);
        their_key.from = victim_id;
        their_key.key = victim.public();
        for forged in [own_key, their_key] {
            assert_eq!(
                Signal::open(&key, &forged.seal(&key, &attacker), NOW, MAX_SIGNAL_AGE_MS),
                Err(SignalError::Forged)
            );
        }
        // Nor by changing what the victim signed: a sealed signal re-sealed with one field
        // altered no longer verifies.
        let genuine = Signal::new(&victim, None, SignalBody::Announce, NOW);
        let plain = key
            .open(
                CONTEXT,
                &from_base64url(&genuine.seal(&key, &victim)).unwrap(),
            )
            .unwrap();
        let altered = String::from_utf8(plain)
            .unwrap()
            .replace("\"announce\"", "\"answer\",\"sdp\":\"x\"");
        let resealed = to_base64url(&key.seal(CONTEXT, altered.as_bytes()));
        assert_eq!(
            Signal::open(&key, &resealed, NOW, MAX_SIGNAL_AGE_MS),
            Err(SignalError::Forged)
        );
    }

    /// A device says whose it is with its member's signature over its key; a claim copied
    /// from another device, or made up, names nobody.
    #[test]
    fn a_device_says_whose_it_is_and_nobody_borrows_that() {
        let key = RoomSecret::generate().room_key();
        let (device, member, other) = (
            Identity::generate(),
            Identity::generate(),
            Identity::generate(),
        );
        let signal = Signal::new(&device, None, SignalBody::Announce, NOW).from_member(&member);
        let opened =
            Signal::open(&key, &signal.seal(&key, &device), NOW, MAX_SIGNAL_AGE_MS).unwrap();
        assert_eq!(opened.member_of(), Some(member.public().as_str()));
        // The claim moved to another device's signal (which that device signs): names nobody.
        let mut borrowed = Signal::new(&other, None, SignalBody::Announce, NOW);
        borrowed.member = opened.member.clone();
        assert_eq!(borrowed.member_of(), None);
        let mut made_up = Signal::new(&other, None, SignalBody::Announce, NOW);
        made_up.member = Some((member.public(), "x".repeat(86)));
        assert_eq!(made_up.member_of(), None);
        assert_eq!(
            Signal::new(&other, None, SignalBody::Announce, NOW).member_of(),
            None
        );
    }

    /// Recorded and replayed after the window, or dated far ahead: refused.
    #[test]
    fn a_signal_outside_the_time_window_is_refused() {
        let key = RoomSecret::generate().room_key();
        let device = Identity::generate();
        let text = Signal::new(&device, None, SignalBody::Announce, NOW).seal(&key, &device);
        let late = NOW + MAX_SIGNAL_AGE_MS + 1;
        assert_eq!(
            Signal::open(&key, &text, late, MAX_SIGNAL_AGE_MS),
            Err(SignalError::Stale(-600))
        );
        let early = NOW - MAX_SIGNAL_AGE_MS - 1;
        assert!(matches!(
            Signal::open(&key, &text, early, MAX_SIGNAL_AGE_MS),
            Err(SignalError::Stale(600))
        ));
        assert!(Signal::open(&key, &text, late, MAX_PAIRING_AGE_MS).is_ok());
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
        let device = Identity::generate();
        let s = Signal::new(&device, None, SignalBody::Announce, NOW);
        let open = |text: &str| Signal::open(&key, text, NOW, MAX_SIGNAL_AGE_MS);
        assert_eq!(
            open(&"A".repeat(MAX_SIGNAL_TEXT + 1)),
            Err(SignalError::TooLarge(MAX_SIGNAL_TEXT + 1))
        );
        assert_eq!(open("not base64!"), Err(SignalError::NotBase64));
        assert_eq!(
            open(&s.seal(&other, &device)),
            Err(SignalError::Sealed(OpenError::Unauthentic))
        );
        let mut junk = "s".repeat(SIGNATURE_TEXT).into_bytes();
        junk.extend_from_slice(b"{\"id\":1}");
        let junk = to_base64url(&key.seal(CONTEXT, &junk));
        assert!(matches!(open(&junk), Err(SignalError::Decode(_))));
        let short = to_base64url(&key.seal(CONTEXT, b"{}"));
        assert_eq!(open(&short), Err(SignalError::Forged));
        let long_id = Signal {
            to: Some("x".repeat(65)),
            ..s
        };
        assert_eq!(open(&long_id.seal(&key, &device)), Err(SignalError::BadId));
    }
}
