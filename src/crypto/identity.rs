//! Device identities: one Ed25519 key pair per device per room (so rooms cannot be linked through
//! a key). Public keys and signatures travel as unpadded base64url text inside the document.

use super::{from_base64url, random_bytes, to_base64url};
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};

/// This device's key pair in one room.
#[derive(Clone)]
pub struct Identity(SigningKey);

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Identity({})", self.public())
    }
}

impl Identity {
    /// A fresh key pair from the CSPRNG.
    pub fn generate() -> Self {
        let mut secret = [0u8; 32];
        random_bytes(&mut secret);
        Self(SigningKey::from_bytes(&secret))
    }

    /// Restores a key pair from its stored 32-byte secret (base64url).
    pub fn from_secret(text: &str) -> Option<Self> {
        let bytes: [u8; 32] = from_base64url(text)?.try_into().ok()?;
        Some(Self(SigningKey::from_bytes(&bytes)))
    }

    /// The 32-byte secret as base64url, for this device's own storage only.
    pub fn secret(&self) -> String {
        to_base64url(&self.0.to_bytes())
    }

    /// The public key as base64url: how members are named in the document.
    pub fn public(&self) -> String {
        to_base64url(self.0.verifying_key().as_bytes())
    }

    /// The scalar this key's secret expands to (for X25519: see `kx`).
    pub(crate) fn scalar_bytes(&self) -> [u8; 32] {
        self.0.to_scalar_bytes()
    }

    /// Signs `message`; the signature as base64url.
    pub fn sign(&self, message: &[u8]) -> String {
        to_base64url(&self.0.sign(message).to_bytes())
    }
}

/// Checks a base64url signature by a base64url public key. Malformed keys or signatures are
/// simply not valid; nothing here panics.
///
/// Strict where it matters for a room: a key of small order (which would verify signatures
/// nobody made) is refused once, when read; `s` must be canonical and `R` must be the exact
/// encoding the check recomputes, so nobody but the key's holder can make a second valid
/// signature for what was signed (a signature is one value, or none). Unlike
/// `verify_strict`, an `R` of small order is not refused: only the key's holder can sign
/// with one, it verifies alike on every device, and refusing it would cost every check a
/// point decompression (a tenth of a room's first open).
pub fn verify(public: &str, message: &[u8], signature: &str) -> bool {
    use ed25519_dalek::Verifier;
    let Some(key) = verifying_key(public) else {
        return false;
    };
    let Some(sig) = from_base64url(signature).and_then(|b| Signature::from_slice(&b).ok()) else {
        return false;
    };
    key.verify(message, &sig).is_ok()
}

/// Keys read so far, by their base64url text: a room's entries come from a few members, and
/// reading a key (decompressing its point) costs a fifth of checking a signature. Bounded: a
/// room of more keys than this starts again.
const KEYS_KEPT: usize = 4096;

thread_local! {
    static KEYS: std::cell::RefCell<std::collections::HashMap<String, Option<VerifyingKey>>> =
        std::cell::RefCell::new(std::collections::HashMap::new());
}

fn verifying_key(public: &str) -> Option<VerifyingKey> {
    if let Some(known) = KEYS.with(|k| k.borrow().get(public).copied()) {
        return known;
    }
    let key = from_base64url(public)
        .and_then(|b| <[u8; 32]>::try_from(b).ok())
        .and_then(|b| VerifyingKey::from_bytes(&b).ok())
        .filter(|k| !k.is_weak());
    KEYS.with(|k| {
        let mut k = k.borrow_mut();
        if k.len() >= KEYS_KEPT {
            k.clear();
        }
        k.insert(public.to_owned(), key);
    });
    key
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_verify_only_for_their_key_and_message() {
        let me = Identity::generate();
        let other = Identity::generate();
        assert_ne!(me.public(), other.public());
        let sig = me.sign(b"vouch for ana");
        assert!(verify(&me.public(), b"vouch for ana", &sig));
        assert!(!verify(&me.public(), b"vouch for bob", &sig));
        assert!(!verify(&other.public(), b"vouch for ana", &sig));
        assert!(!verify("not a key", b"vouch for ana", &sig));
        assert!(!verify(&me.public(), b"vouch for ana", "bad"));
        assert!(!verify(
            &me.public(),
            b"vouch for ana",
            &other.sign(b"vouch for ana")
        ));
    }

    /// A key of small order (here the identity point) verifies "signatures" anyone can make
    /// for any message: [1]B − [k]·0 = B, so R = B with s = 1 fits every message. Refused.
    /// And a valid signature with `l` added to its `s` (the same point, another encoding) is
    /// not a second signature.
    #[test]
    fn no_signature_holds_for_a_small_order_key_nor_with_s_out_of_range() {
        let mut identity = [0u8; 32];
        identity[0] = 1;
        let mut forged = [0x66u8; 64];
        forged[0] = 0x58;
        forged[32..].fill(0);
        forged[32] = 1;
        let (key, sig) = (to_base64url(&identity), to_base64url(&forged));
        assert!(!verify(&key, b"any message", &sig));
        assert!(!verify(&key, b"another", &sig));

        let me = Identity::generate();
        let good = from_base64url(&me.sign(b"vouch")).unwrap();
        assert!(verify(&me.public(), b"vouch", &to_base64url(&good)));
        const L: [u8; 32] = [
            0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9,
            0xde, 0x14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
        ];
        let mut other = good.clone();
        let mut carry = 0u16;
        for (b, l) in other[32..].iter_mut().zip(L) {
            let sum = u16::from(*b) + u16::from(l) + carry;
            *b = sum as u8;
            carry = sum >> 8;
        }
        assert!(!verify(&me.public(), b"vouch", &to_base64url(&other)));
    }

    #[test]
    fn an_identity_round_trips_through_its_secret() {
        let me = Identity::generate();
        let back = Identity::from_secret(&me.secret()).unwrap();
        assert_eq!(back.public(), me.public());
        assert!(Identity::from_secret("short").is_none());
    }
}
