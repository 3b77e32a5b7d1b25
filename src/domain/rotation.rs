//! A new room key when a member is removed or leaves. The room link is a bearer secret: a
//! member removed by decision keeps it, and with it every device of the room, every change and
//! a voice. So when someone who holds the key in force is no longer admitted, an admitted
//! member's device writes a *rotation* (`rotation:<id>`): a fresh secret sealed to each member
//! admitted then (`crypto::seal_to`, a box per member key), naming the key it replaces by its
//! fingerprint. Devices follow the chain of rotations from the room's first secret
//! ([`RoomDoc::key_chain`]): of rotations replacing one key, the least (id, new fingerprint)
//! wins, so concurrent rotations end on one key on every device. A device without a box in
//! the rotation in force is cut off: it keeps the room as it was and learns nothing after.
//!
//! Rotations count only if signed by a member admitted where they were written; the boxes are
//! bound to the room and to the key they carry (a box moved elsewhere opens for nobody).

use super::members::Standing;
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
    /// Rotations followed from the first secret.
    pub epoch: usize,
    /// A later key is in force that this device was not given: it is no longer in the room.
    pub cut_off: bool,
    /// When cut off: the change of the rotation this device was left out of.
    pub cut_at: Option<automerge::ChangeHash>,
    /// Members given the key in force (`None` for the first secret: anyone with the link).
    pub holders: Option<BTreeSet<String>>,
    /// The keys this device held before, each with the change that wrote the rotation
    /// replacing it: the room as it was for that key ends there.
    pub former: Vec<(RoomSecret, automerge::ChangeHash)>,
}

fn context(room: &str, next: &str) -> Vec<u8> {
    format!("tequio/room-key/v1|{room}|{next}").into_bytes()
}

/// A rotation that counts: its id, and what it says.
struct Rotation {
    id: String,
    author: String,
    next: String,
    boxes: BTreeMap<String, String>,
    change: automerge::ChangeHash,
}

impl RoomDoc {
    /// Rotations that count, by the key they replace.
    fn rotations(&self) -> BTreeMap<String, Vec<Rotation>> {
        let mut by_prev: BTreeMap<String, Vec<Rotation>> = BTreeMap::new();
        for r in self.entries_of_every::<RotationEntry>("rotation:") {
            if !self.admitted_when(r.author, r.raw) {
                continue;
            }
            let Ok(boxes) = serde_json::from_str::<BTreeMap<String, String>>(&r.entry.boxes) else {
                continue;
            };
            by_prev.entry(r.entry.prev).or_default().push(Rotation {
                id: r.id.to_owned(),
                author: r.author.to_owned(),
                next: r.entry.next,
                boxes,
                change: self.index.change_of(r.raw),
            });
        }
        by_prev
    }

    /// Follows the room's keys from its first secret as far as `me` was given them.
    pub fn key_chain(&self, me: &Identity, first: &RoomSecret) -> KeyChain {
        let rotations = self.rotations();
        // A device that joined with a later key's link starts from that key: its holders are
        // those the rotation that brought it was sealed to (not "anyone with the link", which
        // would make every such newcomer renew the key again).
        let first_fingerprint = first.fingerprint();
        let holders = rotations
            .values()
            .flatten()
            .find(|r| r.next == first_fingerprint)
            .map(|r| r.boxes.keys().cloned().collect());
        let mut chain = KeyChain {
            secret: first.clone(),
            epoch: 0,
            cut_off: false,
            cut_at: None,
            holders,
            former: Vec::new(),
        };
        // Each step moves to a key with a new fingerprint; a cycle would need a hash collision,
        // but the walk is bounded anyway.
        for _ in 0..=rotations.len() {
            let fingerprint = chain.secret.fingerprint();
            let Some(winner) = rotations.get(&fingerprint).and_then(|rs| {
                rs.iter()
                    .min_by(|a, b| (&a.id, &a.next).cmp(&(&b.id, &b.next)))
            }) else {
                return chain;
            };
            let opened = winner
                .boxes
                .get(&me.public())
                .and_then(|b| from_base64url(b))
                .and_then(|b| {
                    me.open_sealed(&context(self.room_id(), &winner.next), &b)
                        .ok()
                })
                .and_then(|bytes| <[u8; 32]>::try_from(bytes).ok())
                .map(RoomSecret::from_bytes)
                .filter(|s| s.fingerprint() == winner.next);
            match opened {
                Some(secret) => {
                    let former = std::mem::replace(&mut chain.secret, secret);
                    chain.former.push((former, winner.change));
                    chain.epoch += 1;
                    chain.holders = Some(winner.boxes.keys().cloned().collect());
                }
                None => {
                    chain.cut_off = true;
                    chain.cut_at = Some(winner.change);
                    return chain;
                }
            }
        }
        chain
    }

    /// Authors of the rotations that count and replace the key with fingerprint `prev`.
    pub fn rotation_authors(&self, prev: &str) -> BTreeSet<String> {
        self.rotations()
            .remove(prev)
            .unwrap_or_default()
            .into_iter()
            .map(|r| r.author)
            .collect()
    }

    /// Whether a rotation that counts brought `secret` (a key the room moved on to).
    pub fn brought_key(&self, secret: &RoomSecret) -> bool {
        let fingerprint = secret.fingerprint();
        self.rotations()
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
        let gone: BTreeSet<String> = self
            .members()
            .into_iter()
            .filter(|m| matches!(m.standing, Standing::Removed | Standing::Left))
            .map(|m| m.key)
            .collect();
        match &chain.holders {
            None => !gone.is_empty(),
            Some(holders) => !holders.is_disjoint(&gone),
        }
    }

    /// Writes a new room key replacing `current`, sealed to every member admitted now, and
    /// returns it. Only an admitted member rotates.
    pub fn rotate_key(
        &mut self,
        me: &Identity,
        current: &RoomSecret,
        now_ms: i64,
    ) -> Result<RoomSecret, DomainError> {
        self.require_admitted(me)?;
        let next = RoomSecret::generate();
        let context = context(self.room_id(), &next.fingerprint());
        let boxes: BTreeMap<String, String> = self
            .admitted()
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
        self.add_entry(me, "rotation:", &entry)?;
        Ok(next)
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
