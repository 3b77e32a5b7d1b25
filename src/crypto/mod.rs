//! Room secrets, key derivation and authenticated encryption. Pure Rust: no browser APIs, no I/O.
//!
//! A room is identified by a 32-byte secret that travels only in the room link's fragment. From it,
//! HKDF-SHA256 derives the public room id, the opaque signaling topic and the 32-byte key that
//! seals every envelope with XChaCha20-Poly1305 under a random 24-byte nonce.

mod identity;
mod kx;
mod link;

pub use identity::{verify, Identity};
pub use kx::seal_to;
pub use link::{join_fragment, parse_join_link, JoinLink, JoinLinkError, FOUNDER_MARK};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hkdf::Hkdf;
use sha2::Sha256;

/// Length of a room secret in bytes.
pub const SECRET_LEN: usize = 32;
/// Length of the random nonce prefixed to every sealed message.
pub const NONCE_LEN: usize = 24;
/// Bytes a sealed message adds to its plaintext: nonce plus Poly1305 tag.
pub const SEAL_OVERHEAD: usize = NONCE_LEN + 16;

/// Fills `buf` from the operating system's (or the browser's) CSPRNG.
pub fn random_bytes(buf: &mut [u8]) {
    // A failing system CSPRNG leaves no safe way to continue: no key may come from anything else.
    getrandom::fill(buf).expect("the system random number generator is unavailable");
}

/// A random identifier as 32 lowercase hex digits (128 bits).
pub fn random_id() -> String {
    let mut bytes = [0u8; 16];
    random_bytes(&mut bytes);
    hex(&bytes)
}

/// Characters of the author's key an entry id ends with (72 bits: nobody can grind a key that
/// shares them).
pub const ID_KEY_CHARS: usize = 12;

/// A new entry id bound to its author: 16 random hex digits, `.`, and the first
/// [`ID_KEY_CHARS`] characters of the author's public key. An entry at such an id counts only if
/// that author signed it, so nobody who learns the id can put a rival entry in its place.
pub fn entry_id(author_key: &str) -> String {
    let mut bytes = [0u8; 8];
    random_bytes(&mut bytes);
    let key: String = author_key.chars().take(ID_KEY_CHARS).collect();
    format!("{}.{key}", hex(&bytes))
}

/// The author prefix an id is bound to ([`entry_id`]), if it is a bound id: what follows its
/// last `.`, when that is exactly [`ID_KEY_CHARS`] base64url characters.
pub fn id_author(id: &str) -> Option<&str> {
    let (_, key) = id.rsplit_once('.')?;
    (key.len() == ID_KEY_CHARS
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
    .then_some(key)
}

/// Bytes as lowercase hex digits.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Hex digits back to bytes (`None` for an odd length or anything not a hex digit).
pub fn from_hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) || !text.is_ascii() {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).ok())
        .collect()
}

/// The secret a room link carries. Whoever holds it can read and write the room.
#[derive(Clone, PartialEq, Eq)]
pub struct RoomSecret([u8; SECRET_LEN]);

impl std::fmt::Debug for RoomSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RoomSecret(..)")
    }
}

impl RoomSecret {
    /// A fresh secret from the CSPRNG.
    pub fn generate() -> Self {
        let mut bytes = [0u8; SECRET_LEN];
        random_bytes(&mut bytes);
        Self(bytes)
    }

    pub fn from_bytes(bytes: [u8; SECRET_LEN]) -> Self {
        Self(bytes)
    }

    /// The secret as unpadded base64url, the form used in links and storage.
    pub fn to_base64url(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.0)
    }

    /// Parses the unpadded base64url form; anything but exactly 32 bytes is refused.
    pub fn from_base64url(text: &str) -> Result<Self, JoinLinkError> {
        let bytes = URL_SAFE_NO_PAD
            .decode(text.trim())
            .map_err(|_| JoinLinkError::NotBase64)?;
        let bytes: [u8; SECRET_LEN] = bytes
            .try_into()
            .map_err(|b: Vec<u8>| JoinLinkError::WrongLength(b.len()))?;
        Ok(Self(bytes))
    }

    fn derive(&self, label: &str) -> [u8; 32] {
        let hk = Hkdf::<Sha256>::new(Some(b"tequio room v1"), &self.0);
        let mut out = [0u8; 32];
        hk.expand(label.as_bytes(), &mut out)
            .expect("32 bytes is a valid HKDF-SHA256 output length");
        out
    }

    /// The room's public identifier (hex), used as the storage key. Reveals nothing of the secret.
    pub fn room_id(&self) -> String {
        hex(&self.derive("room id")[..16])
    }

    /// The opaque name of the channel where tabs of one browser meet (never leaves it).
    pub fn signaling_topic(&self) -> String {
        format!("tequio-{}", hex(&self.derive("signaling topic")))
    }

    /// 32 bytes that only holders of the secret can compute for time window `window`: where
    /// the room's devices meet on servers during it (see `sync::topic`).
    pub fn window_key(&self, window: i64) -> [u8; 32] {
        self.derive(&format!("meeting point {window}"))
    }

    /// The key naming where the room's mailbox lies during window `window` (see
    /// `sync::mailbox`): apart from the meeting points of signaling.
    pub fn mailbox_key(&self, window: i64) -> [u8; 32] {
        self.derive(&format!("mailbox {window}"))
    }

    /// A public name for this secret (16 bytes of a one-way derivation, hex): which key a
    /// rotation replaces and which it brings, without revealing either.
    pub fn fingerprint(&self) -> String {
        hex(&self.derive("fingerprint")[..16])
    }

    /// The 32 secret bytes (to seal them to a member: see `seal_to`).
    pub fn to_bytes(&self) -> [u8; SECRET_LEN] {
        self.0
    }

    /// The key that seals every signaling payload and data-channel envelope of the room.
    pub fn room_key(&self) -> RoomKey {
        RoomKey(self.derive("envelope key"))
    }
}

/// Why a sealed message was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OpenError {
    #[error("sealed message of {0} bytes is shorter than nonce and tag")]
    TooShort(usize),
    #[error("sealed message failed authentication (wrong key or tampered)")]
    Unauthentic,
}

/// A 32-byte XChaCha20-Poly1305 key.
#[derive(Clone)]
pub struct RoomKey([u8; 32]);

impl RoomKey {
    /// A key from its bytes (derived elsewhere in this module).
    pub(crate) fn from_bytes(bytes: [u8; 32]) -> Self {
        RoomKey(bytes)
    }

    /// Encrypts and authenticates `plaintext`, binding it to `context` (associated data, e.g. the
    /// channel it is meant for). Output: nonce ‖ ciphertext ‖ tag.
    pub fn seal(&self, context: &[u8], plaintext: &[u8]) -> Vec<u8> {
        let mut nonce = [0u8; NONCE_LEN];
        random_bytes(&mut nonce);
        let cipher = XChaCha20Poly1305::new((&self.0).into());
        let sealed = cipher
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: plaintext,
                    aad: context,
                },
            )
            .expect("XChaCha20-Poly1305 encryption cannot fail for in-memory buffers");
        let mut out = Vec::with_capacity(NONCE_LEN + sealed.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        out
    }

    /// Verifies and decrypts what [`RoomKey::seal`] produced under the same key and context.
    pub fn open(&self, context: &[u8], sealed: &[u8]) -> Result<Vec<u8>, OpenError> {
        if sealed.len() < SEAL_OVERHEAD {
            return Err(OpenError::TooShort(sealed.len()));
        }
        let (nonce, body) = sealed.split_at(NONCE_LEN);
        let cipher = XChaCha20Poly1305::new((&self.0).into());
        cipher
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: body,
                    aad: context,
                },
            )
            .map_err(|_| OpenError::Unauthentic)
    }
}

/// Encodes bytes as unpadded base64url (signaling payloads travel as JSON strings).
pub fn to_base64url(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Decodes unpadded base64url; `None` for anything malformed.
pub fn from_base64url(text: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(text).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_random_and_round_trip_through_base64url() {
        let a = RoomSecret::generate();
        let b = RoomSecret::generate();
        assert_ne!(a, b);
        let text = a.to_base64url();
        assert_eq!(text.len(), 43);
        assert!(!text.contains('=') && !text.contains('+') && !text.contains('/'));
        assert_eq!(RoomSecret::from_base64url(&text).unwrap(), a);
    }

    #[test]
    fn derivations_are_stable_distinct_and_do_not_leak_the_secret() {
        let s = RoomSecret::from_bytes([7u8; 32]);
        assert_eq!(s.room_id(), s.clone().room_id());
        assert_eq!(s.room_id().len(), 32);
        assert!(!s.signaling_topic().contains(&s.room_id()));
        assert!(!s.signaling_topic().contains(&s.to_base64url()));
        let other = RoomSecret::from_bytes([8u8; 32]);
        assert_ne!(s.room_id(), other.room_id());
        assert_ne!(s.signaling_topic(), other.signaling_topic());
    }

    #[test]
    fn sealed_messages_open_only_with_the_right_key_and_context() {
        let key = RoomSecret::from_bytes([1u8; 32]).room_key();
        let sealed = key.seal(b"ctx", b"hello commons");
        assert_eq!(sealed.len(), 13 + SEAL_OVERHEAD);
        assert_eq!(key.open(b"ctx", &sealed).unwrap(), b"hello commons");
        // Two seals of the same text differ (random nonce).
        assert_ne!(key.seal(b"ctx", b"hello commons"), sealed);

        let wrong = RoomSecret::from_bytes([2u8; 32]).room_key();
        assert_eq!(wrong.open(b"ctx", &sealed), Err(OpenError::Unauthentic));
        assert_eq!(key.open(b"other", &sealed), Err(OpenError::Unauthentic));
        for i in 0..sealed.len() {
            let mut tampered = sealed.clone();
            tampered[i] ^= 0x40;
            assert_eq!(
                key.open(b"ctx", &tampered),
                Err(OpenError::Unauthentic),
                "byte {i}"
            );
        }
        assert_eq!(
            key.open(b"ctx", &sealed[..39]),
            Err(OpenError::TooShort(39))
        );
        assert_eq!(key.open(b"ctx", &[]), Err(OpenError::TooShort(0)));
    }
}
