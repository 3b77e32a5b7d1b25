//! A new room key when a member is removed or leaves. The room link is a bearer secret: a
//! member removed by decision keeps it, and with it every device of the room, every change and
//! a voice. So when someone who holds the key in force is no longer admitted, an admitted
//! member's device writes a *rotation* (`rotation:<id>`): a fresh secret sealed to each member
//! admitted then (`crypto::seal_to`, a box per member key), naming the key it replaces by its
//! fingerprint. Devices follow the chain of rotations from the room's first secret
//! ([`RoomDoc::key_chain`]): of rotations replacing one key, the least (id, new fingerprint)
//! wins, so concurrent rotations end on one key on every device. A member admitted while a
//! rotation was written has no box in it: a device of an admitted member that holds the key
//! then writes a *grant* (a rotation entry whose new key is the one it replaces), sealing it
//! to them; the walk goes by fingerprints, so a device left out of one rotation takes up any
//! later key it was given. A device without a box for the key in force is cut off: it keeps
//! the room as it was and learns nothing after.
//!
//! Rotations count only if signed by a member admitted where they were written; the boxes are
//! bound to the room and to the key they carry (a box moved elsewhere opens for nobody).

use super::room::{DomainError, RoomDoc};
use super::signed::{signed_entry, Entry};
use crate::crypto::{from_base64url, seal_to, to_base64url, Identity, RoomSecret};
use std::collections::{BTreeMap, BTreeSet};

signed_entry! {
    /// A new room key: the fingerprint of the key it replaces and of the new one, and the new
    /// secret sealed to each member (JSON: member key → base64url box).
    pub(crate) struct RotationEntry = "rotation" {
        prev: String,
        next: String,
        boxes: String,
        at: i64,
    }
}

/// Where this device stands with the room's keys.
#[derive(Debug)]
pub struct KeyChain {
    /// The newest key this device was given (the room's first secret if none).
    pub secret: RoomSecret,
    /// Rotations followed from the first secret to the key in force.
    pub epoch: usize,
    /// A later key is in force that this device was not given: it is no longer in the room.
    pub cut_off: bool,
    /// When cut off: the change of the first rotation after `secret` (the one this device
    /// was left out of).
    pub cut_at: Option<automerge::ChangeHash>,
    /// Members given the key in force, by its rotation or a grant since (`None` for the first
    /// secret: anyone with the link).
    pub holders: Option<BTreeSet<String>>,
    /// The keys this device held before, each with the change that wrote the rotation
    /// replacing it: the room as it was for that key ends there.
    pub former: Vec<(RoomSecret, automerge::ChangeHash)>,
}

fn context(room: &str, next: &str) -> Vec<u8> {
    format!("tequio/room-key/v1|{room}|{next}").into_bytes()
}

/// A rotation (or a grant) that counts: its id, and what it says.
struct Rotation {
    id: String,
    author: String,
    next: String,
    boxes: BTreeMap<String, String>,
    change: automerge::ChangeHash,
}

/// The rotations that count, by the key they replace, and the grants, by the key they give.
/// A grant is a rotation entry whose new key is the one it replaces: the key in force sealed
/// to members who were admitted after (or while) the rotation that brought it was written.
#[derive(Default)]
struct Keys {
    rotations: BTreeMap<String, Vec<Rotation>>,
    grants: BTreeMap<String, Vec<Rotation>>,
}

impl Keys {
    /// Of the rotations replacing `fingerprint`, the one that wins.
    fn winner(&self, fingerprint: &str) -> Option<&Rotation> {
        self.rotations
            .get(fingerprint)?
            .iter()
            .min_by(|a, b| (&a.id, &a.next).cmp(&(&b.id, &b.next)))
    }

    /// Every box holding the key `fingerprint`: those of every rotation that brought it (a new
    /// key is brought by one rotation; an entry naming it otherwise adds boxes — which its
    /// author, a holder, could give by a grant anyway — and hides none) and the grants'.
    fn boxes<'a>(
        &'a self,
        fingerprint: &'a str,
    ) -> impl Iterator<Item = (&'a String, &'a String)> + 'a {
        let brought = self
            .rotations
            .values()
            .flatten()
            .filter(move |r| r.next == fingerprint);
        let grants = self.grants.get(fingerprint).into_iter().flatten();
        brought.chain(grants).flat_map(|r| r.boxes.iter())
    }

    /// Members given the key `fingerprint` (`None`: no rotation brought it, it is a link's).
    fn holders(&self, fingerprint: &str) -> Option<BTreeSet<String>> {
        let brought = self
            .rotations
            .values()
            .flatten()
            .any(|r| r.next == fingerprint);
        brought.then(|| self.boxes(fingerprint).map(|(k, _)| k.clone()).collect())
    }
}

impl RoomDoc {
    /// Rotations and grants that count.
    fn keys(&self) -> Keys {
        let mut keys = Keys::default();
        for r in self.entries_of_every::<RotationEntry>("rotation:") {
            if !self.admitted_when(r.author, r.raw) {
                continue;
            }
            let Ok(boxes) = serde_json::from_str::<BTreeMap<String, String>>(&r.entry.boxes) else {
                continue;
            };
            let grant = r.entry.prev == r.entry.next;
            let by = if grant {
                &mut keys.grants
            } else {
                &mut keys.rotations
            };
            by.entry(r.entry.prev).or_default().push(Rotation {
                id: r.id.to_owned(),
                author: r.author.to_owned(),
                next: r.entry.next,
                boxes,
                change: self.index.change_of(r.raw),
            });
        }
        keys
    }

    /// Follows the room's keys from its first secret as far as `me` was given them. The walk
    /// goes by fingerprints (public), so a device left out of one rotation — a member admitted
    /// while it was written — takes up a later key it was given, by a grant or a later rotation.
    pub fn key_chain(&self, me: &Identity, first: &RoomSecret) -> KeyChain {
        let keys = self.keys();
        let open = |fingerprint: &str| {
            let context = context(self.room_id(), fingerprint);
            keys.boxes(fingerprint)
                .filter(|(member, _)| **member == me.public())
                .filter_map(|(_, b)| from_base64url(b))
                .filter_map(|b| me.open_sealed(&context, &b).ok())
                .filter_map(|bytes| <[u8; 32]>::try_from(bytes).ok())
                .map(RoomSecret::from_bytes)
                .find(|s| s.fingerprint() == fingerprint)
        };
        let mut chain = KeyChain {
            secret: first.clone(),
            epoch: 0,
            cut_off: false,
            cut_at: None,
            holders: None,
            former: Vec::new(),
        };
        let mut fingerprint = first.fingerprint();
        // Where the room as it was for the key held ends (the first rotation past it).
        let mut left_at: Option<automerge::ChangeHash> = None;
        let mut steps = 0;
        // Each step moves to a key with a new fingerprint; a cycle would need a hash collision,
        // but the walk is bounded anyway.
        for _ in 0..=keys.rotations.len() {
            let Some(winner) = keys.winner(&fingerprint) else {
                break;
            };
            left_at.get_or_insert(winner.change);
            fingerprint = winner.next.clone();
            steps += 1;
            if let Some(secret) = open(&fingerprint) {
                let former = std::mem::replace(&mut chain.secret, secret);
                let until = left_at.take().expect("set on this step");
                chain.former.push((former, until));
                chain.epoch = steps;
            }
        }
        chain.cut_off = left_at.is_some();
        chain.cut_at = left_at;
        chain.holders = keys.holders(&fingerprint);
        chain
    }

    /// Authors of the rotations that count and replace the key with fingerprint `prev`.
    pub fn rotation_authors(&self, prev: &str) -> BTreeSet<String> {
        self.keys()
            .rotations
            .remove(prev)
            .unwrap_or_default()
            .into_iter()
            .map(|r| r.author)
            .collect()
    }

    /// Whether a rotation that counts brought `secret` (a key the room moved on to).
    pub fn brought_key(&self, secret: &RoomSecret) -> bool {
        let fingerprint = secret.fingerprint();
        self.keys()
            .rotations
            .values()
            .flatten()
            .any(|r| r.next == fingerprint)
    }

    /// Whether the key in force (as `chain` has it) is held by someone who was removed or
    /// left since: then an admitted member's device writes a new one.
    pub fn rotation_due(&self, chain: &KeyChain) -> bool {
        if chain.cut_off {
            return false;
        }
        let g = self.governance();
        let gone = |key: &String| g.removed.contains(key) || g.left.contains(key);
        match &chain.holders {
            None => !(g.removed.is_empty() && g.left.is_empty()),
            Some(holders) => holders.iter().any(gone),
        }
    }

    /// Admitted members not given the key in force (as `chain` has it) that it can be sealed
    /// to: members admitted while the rotation that brought it was written, or since (by the
    /// link of that key, or an older one). An admitted member's device grants it to them.
    pub fn grant_due(&self, chain: &KeyChain) -> BTreeSet<String> {
        let Some(holders) = chain.holders.as_ref().filter(|_| !chain.cut_off) else {
            return BTreeSet::new();
        };
        let context = context(self.room_id(), &chain.secret.fingerprint());
        let g = self.governance();
        g.admitted
            .iter()
            .filter(|m| !holders.contains(*m) && self.is_admitted(m))
            .filter(|m| seal_to(m, &context, &[0; 32]).is_some())
            .cloned()
            .collect()
    }

    /// Writes a new room key replacing `current`, sealed to every member admitted now, and
    /// returns it. Only an admitted member rotates.
    pub fn rotate_key(
        &mut self,
        me: &Identity,
        current: &RoomSecret,
        now_ms: i64,
    ) -> Result<RoomSecret, DomainError> {
        let next = RoomSecret::generate();
        self.seal_key(me, current, &next, self.admitted(), now_ms)?;
        Ok(next)
    }

    /// Seals the key in force to `members` (admitted members without it, see
    /// [`RoomDoc::grant_due`]). Only an admitted member grants.
    pub fn grant_key(
        &mut self,
        me: &Identity,
        current: &RoomSecret,
        members: BTreeSet<String>,
        now_ms: i64,
    ) -> Result<(), DomainError> {
        self.seal_key(me, current, current, members, now_ms)
    }

    fn seal_key(
        &mut self,
        me: &Identity,
        current: &RoomSecret,
        next: &RoomSecret,
        members: BTreeSet<String>,
        now_ms: i64,
    ) -> Result<(), DomainError> {
        self.require_admitted(me)?;
        let context = context(self.room_id(), &next.fingerprint());
        let boxes: BTreeMap<String, String> = members
            .into_iter()
            .filter_map(|key| {
                let sealed = seal_to(&key, &context, &next.to_bytes())?;
                Some((key, to_base64url(&sealed)))
            })
            .collect();
        let entry = RotationEntry {
            prev: current.fingerprint(),
            next: next.fingerprint(),
            boxes: serde_json::to_string(&boxes).expect("a map of strings serialises"),
            at: now_ms,
        };
        debug_assert_eq!(RotationEntry::KIND, "rotation");
        self.add_entry(me, "rotation:", &entry).map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::testing::{community, sync};
    use crate::domain::{Amendment, Method, NewProposal, Stance};

    const LONG: i64 = 10 * 24 * 3_600_000;

    /// Removes `target` by a decision all the others agree to.
    fn remove(room: &mut RoomDoc, people: &[Identity], target: &Identity, at: i64) {
        let proposal = NewProposal {
            title: "Remove".into(),
            method: Method::Consent,
            options: Vec::new(),
            closes_at: at + LONG,
            quorum_percent: 50,
            amendment: Some(Amendment::new("remove", &target.public())),
        };
        let d = room.propose(&people[0], proposal, at).unwrap();
        for who in people.iter().filter(|p| p.public() != target.public()) {
            room.take_stance(who, &d, Stance::Agree, "", at + 1)
                .unwrap();
        }
        room.record_outcome(&people[0], &d, "Removed", None, at + LONG)
            .unwrap();
    }

    #[test]
    fn a_removal_moves_the_room_to_a_key_the_removed_member_never_gets() {
        let (mut room, people) = community(3);
        let first = RoomSecret::generate();
        let chain = room.key_chain(&people[0], &first);
        assert_eq!((chain.epoch, chain.cut_off), (0, false));
        assert!(!room.rotation_due(&chain), "nobody left: nothing to do");
        remove(&mut room, &people, &people[2], 100);
        assert!(room.rotation_due(&room.key_chain(&people[0], &first)));
        // The removed member cannot rotate; an admitted one does.
        assert_eq!(
            room.rotate_key(&people[2], &first, LONG + 200).unwrap_err(),
            DomainError::NotAdmitted
        );
        let next = room.rotate_key(&people[1], &first, LONG + 200).unwrap();
        for admitted in &people[..2] {
            let chain = room.key_chain(admitted, &first);
            assert_eq!(chain.secret.to_bytes(), next.to_bytes());
            assert_eq!((chain.epoch, chain.cut_off), (1, false));
            assert!(!room.rotation_due(&chain), "done");
        }
        let removed = room.key_chain(&people[2], &first);
        assert!(removed.cut_off);
        assert_eq!(removed.secret.to_bytes(), first.to_bytes());
    }

    /// A newcomer who joined with the new link (its first key is the rotated one) is not
    /// due to renew the key: its holders are the rotation's.
    #[test]
    fn a_device_that_starts_from_a_later_key_does_not_renew_it() {
        let (mut room, people) = community(3);
        let first = RoomSecret::generate();
        remove(&mut room, &people, &people[2], 100);
        let next = room.rotate_key(&people[0], &first, LONG + 200).unwrap();
        let chain = room.key_chain(&people[1], &next);
        assert_eq!(chain.epoch, 0);
        assert!(!room.rotation_due(&chain), "{:?}", chain.holders);
    }

    /// Ana removes Cy and writes a new key while Bo admits Nia: Ana's rotation has no box for
    /// Nia. Once the two meet, Nia is an admitted member without the key in force: a device
    /// of an admitted member that holds it grants it to her, and her device takes it up (the
    /// chain walks past the rotation she was left out of). Cy stays cut off.
    #[test]
    fn a_member_admitted_while_the_key_was_renewed_is_granted_it() {
        let (mut a, people) = community(3);
        let first = RoomSecret::generate();
        let nia = Identity::generate();
        let profile = crate::domain::Profile {
            name: "Nia".into(),
            ..Default::default()
        };
        a.set_profile(&nia, profile, 50).unwrap();
        let mut b = RoomDoc::load_chunks("room-1", [a.doc_mut().save().as_slice()]).unwrap();
        remove(&mut a, &people, &people[2], 100);
        let k1 = a.rotate_key(&people[0], &first, LONG + 200).unwrap();
        for (t, voucher) in (60..).zip(&people[..2]) {
            if !b.admitted().contains(&nia.public()) {
                b.vouch(voucher, &nia.public(), t).unwrap();
            }
        }
        assert!(b.admitted().contains(&nia.public()));
        sync(&mut a, &mut b);
        assert!(a.admitted().contains(&nia.public()));
        let before_grant = RoomDoc::load_chunks("room-1", [a.doc_mut().save().as_slice()]).unwrap();
        let left_out = a.key_chain(&nia, &first);
        assert!(left_out.cut_off, "no box for her in Ana's rotation");
        let bo = a.key_chain(&people[1], &first);
        assert!(!a.rotation_due(&bo), "nobody gone holds the key");
        let due = a.grant_due(&bo);
        assert_eq!(due, BTreeSet::from([nia.public()]));
        a.grant_key(&people[1], &bo.secret, due, LONG + 300)
            .unwrap();
        let chain = a.key_chain(&nia, &first);
        assert!(!chain.cut_off);
        assert_eq!(chain.secret.to_bytes(), k1.to_bytes());
        assert_eq!(chain.former.len(), 1, "the first key, until Ana's rotation");
        assert!(a.grant_due(&a.key_chain(&people[1], &first)).is_empty());
        assert!(a.key_chain(&people[2], &first).cut_off, "Cy gets nothing");
        // A grant by someone not admitted gives nothing.
        let cy = a.key_chain(&people[2], &first);
        let granted = a.grant_key(&people[2], &cy.secret, BTreeSet::from([nia.public()]), 1);
        assert_eq!(granted.unwrap_err(), DomainError::NotAdmitted);
        // Left out of one rotation, a member takes up a later one that has a box for her.
        let mut later = before_grant;
        later.leave(&people[0], LONG + 400).unwrap();
        let bo = later.key_chain(&people[1], &first);
        assert!(later.rotation_due(&bo));
        let k2 = later
            .rotate_key(&people[1], &bo.secret, LONG + 500)
            .unwrap();
        let chain = later.key_chain(&nia, &first);
        assert_eq!((chain.cut_off, chain.epoch), (false, 2));
        assert_eq!(chain.secret.to_bytes(), k2.to_bytes());
        assert_eq!(chain.former[0].1, left_out.cut_at.unwrap());
    }

    /// An entry by an admitted member that names the key in force as its new key (replacing a
    /// fingerprint no key has, with no boxes) hides no box: before, the first such entry's
    /// boxes were taken for the key's, and every device was cut off.
    #[test]
    fn a_decoy_rotation_naming_the_key_in_force_cuts_no_one_off() {
        let (mut room, people) = community(3);
        let first = RoomSecret::generate();
        remove(&mut room, &people, &people[2], 100);
        let k1 = room.rotate_key(&people[0], &first, LONG + 200).unwrap();
        assert!(!room.key_chain(&people[1], &first).cut_off);
        let decoy = RotationEntry {
            prev: String::new(),
            next: k1.fingerprint(),
            boxes: "{}".into(),
            at: LONG + 300,
        };
        room.add_entry(&people[1], "rotation:", &decoy).unwrap();
        for p in &people[..2] {
            let chain = room.key_chain(p, &first);
            assert!(
                !chain.cut_off,
                "an admitted member's device is cut off by a decoy"
            );
        }
    }

    #[test]
    fn concurrent_rotations_end_on_one_key_everywhere() {
        let (mut a, people) = community(4);
        let first = RoomSecret::generate();
        remove(&mut a, &people, &people[3], 100);
        let mut b = RoomDoc::load_chunks("room-1", [a.doc_mut().save().as_slice()]).unwrap();
        let mut c = RoomDoc::load_chunks("room-1", [a.doc_mut().save().as_slice()]).unwrap();
        a.rotate_key(&people[0], &first, LONG + 300).unwrap();
        b.rotate_key(&people[1], &first, LONG + 301).unwrap();
        c.rotate_key(&people[2], &first, LONG + 302).unwrap();
        sync(&mut a, &mut b);
        sync(&mut b, &mut c);
        sync(&mut a, &mut b);
        let keys: Vec<[u8; 32]> = [(&a, 0), (&b, 1), (&c, 2)]
            .iter()
            .map(|(room, i)| room.key_chain(&people[*i], &first).secret.to_bytes())
            .collect();
        assert!(
            keys.iter().all(|k| *k == keys[0]),
            "one key on every device"
        );
        assert!(!a.rotation_due(&a.key_chain(&people[0], &first)));
        assert!(a.key_chain(&people[3], &first).cut_off);
    }

    #[test]
    fn a_leave_moves_the_key_on_and_a_forged_or_stranger_rotation_counts_for_nothing() {
        let (mut room, people) = community(3);
        let first = RoomSecret::generate();
        room.leave(&people[2], 50).unwrap();
        assert!(room.rotation_due(&room.key_chain(&people[0], &first)));
        // A stranger's rotation (never admitted) is not followed, though it names the key.
        let stranger = Identity::generate();
        let mut forged =
            RoomDoc::load_chunks("room-1", [room.doc_mut().save().as_slice()]).unwrap();
        let next = RoomSecret::generate();
        let context = context(forged.room_id(), &next.fingerprint());
        let boxes: BTreeMap<String, String> = people
            .iter()
            .map(|p| {
                let b = seal_to(&p.public(), &context, &next.to_bytes()).unwrap();
                (p.public(), to_base64url(&b))
            })
            .collect();
        let entry = RotationEntry {
            prev: first.fingerprint(),
            next: next.fingerprint(),
            boxes: serde_json::to_string(&boxes).unwrap(),
            at: 60,
        };
        forged.add_entry(&stranger, "rotation:", &entry).unwrap();
        let chain = forged.key_chain(&people[0], &first);
        assert_eq!(
            (chain.epoch, chain.secret.to_bytes()),
            (0, first.to_bytes())
        );
        // A box moved to another rotation opens for nobody.
        let real = room.rotate_key(&people[0], &first, 70).unwrap();
        let chain = room.key_chain(&people[1], &first);
        assert_eq!(chain.secret.to_bytes(), real.to_bytes());
        assert!(
            room.key_chain(&people[2], &first).cut_off,
            "who left is cut off"
        );
    }
}
