//! Sealed boxes to a member's key: how a new room secret reaches exactly the members who are
//! to have it. Anyone can seal to a member's public key; only the holder of its secret opens.
//!
//! A member's X25519 key is its Ed25519 key converted (the Montgomery form of the same point,
//! the scalar its signing key expands to), so every admitted member can be sealed to at once
//! with the key the room already knows and its profile already signs — no second key to
//! publish, and none missing for members who joined before this existed. Using one key pair
//! for signatures and for a KEM like this one is analysed in "On using the same key pair for
//! Ed25519 and an X25519 based KEM" (ePrint 2021/509).
//!
//! Box: ephemeral X25519 public `E` (32 bytes) ‖ XChaCha20-Poly1305 of the message (nonce
//! first) under HKDF-SHA256(shared secret, salt `E ‖ R`, info "tequio/box/v1"), bound to a
//! context. A shared secret of all zeros (a recipient key of small order) is refused.

use super::{from_base64url, random_bytes, Identity, OpenError, RoomKey};
use curve25519_dalek::MontgomeryPoint;
use ed25519_dalek::VerifyingKey;
use hkdf::Hkdf;
use sha2::Sha256;

const INFO: &[u8] = b"tequio/box/v1";
const POINT: usize = 32;

/// The X25519 form of a member's Ed25519 public key (base64url), if it is a valid key.
fn montgomery(public: &str) -> Option<MontgomeryPoint> {
    let bytes: [u8; 32] = from_base64url(public)?.try_into().ok()?;
    Some(VerifyingKey::from_bytes(&bytes).ok()?.to_montgomery())
}

fn box_key(
    shared: MontgomeryPoint,
    ephemeral: &MontgomeryPoint,
    to: &MontgomeryPoint,
) -> Option<RoomKey> {
    if shared.0 == [0; 32] {
        return None;
    }
    let salt = [ephemeral.0, to.0].concat();
    let hk = Hkdf::<Sha256>::new(Some(&salt), &shared.0);
    let mut key = [0u8; 32];
    hk.expand(INFO, &mut key)
        .expect("32 bytes is a valid HKDF-SHA256 output length");
    Some(RoomKey::from_bytes(key))
}

/// Seals `message` (bound to `context`) so that only the holder of `public`'s secret opens it;
/// `None` if `public` is not a usable key.
pub fn seal_to(public: &str, context: &[u8], message: &[u8]) -> Option<Vec<u8>> {
    let to = montgomery(public)?;
    let mut secret = [0u8; 32];
    random_bytes(&mut secret);
    let ephemeral = MontgomeryPoint::mul_base_clamped(secret);
    let key = box_key(to.mul_clamped(secret), &ephemeral, &to)?;
    let mut out = ephemeral.0.to_vec();
    out.extend(key.seal(context, message));
    Some(out)
}

impl Identity {
    /// Opens a box sealed to this key by [`seal_to`] with the same context.
    pub fn open_sealed(&self, context: &[u8], sealed: &[u8]) -> Result<Vec<u8>, OpenError> {
        if sealed.len() < POINT {
            return Err(OpenError::TooShort(sealed.len()));
        }
        let (ephemeral, rest) = sealed.split_at(POINT);
        let ephemeral = MontgomeryPoint(ephemeral.try_into().expect("split at 32"));
        let me = montgomery(&self.public()).ok_or(OpenError::Unauthentic)?;
        let shared = ephemeral.mul_clamped(self.scalar_bytes());
        let key = box_key(shared, &ephemeral, &me).ok_or(OpenError::Unauthentic)?;
        key.open(context, rest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONTEXT: &[u8] = b"tequio/test-box";

    #[test]
    fn only_the_member_a_box_is_sealed_to_opens_it() {
        let (ana, ben) = (Identity::generate(), Identity::generate());
        let sealed = seal_to(&ana.public(), CONTEXT, b"new room secret").unwrap();
        assert_eq!(
            ana.open_sealed(CONTEXT, &sealed).unwrap(),
            b"new room secret"
        );
        assert_eq!(
            ben.open_sealed(CONTEXT, &sealed),
            Err(OpenError::Unauthentic)
        );
        // Bound to its context, and to its ephemeral key: altered, it opens for nobody.
        assert!(ana.open_sealed(b"other", &sealed).is_err());
        let mut altered = sealed.clone();
        altered[3] ^= 1;
        assert!(ana.open_sealed(CONTEXT, &altered).is_err());
        let mut altered = sealed.clone();
        *altered.last_mut().unwrap() ^= 1;
        assert!(ana.open_sealed(CONTEXT, &altered).is_err());
        assert!(ana.open_sealed(CONTEXT, &sealed[..20]).is_err());
        // Two boxes of one message differ (fresh ephemeral key and nonce).
        assert_ne!(
            seal_to(&ana.public(), CONTEXT, b"x"),
            seal_to(&ana.public(), CONTEXT, b"x")
        );
    }

    #[test]
    fn nothing_is_sealed_to_a_key_that_is_not_one() {
        assert_eq!(seal_to("not a key", CONTEXT, b"x"), None);
        // The identity point (small order): every shared secret would be zero.
        let mut identity_point = [0u8; 32];
        identity_point[0] = 1;
        assert_eq!(
            seal_to(&crate::crypto::to_base64url(&identity_point), CONTEXT, b"x"),
            None
        );
    }
}
