//! Shared fixtures for the domain's unit tests.

use super::{Profile, RoomDoc};
use crate::crypto::Identity;
use automerge::sync::{State, SyncDoc};

/// A room ("room-1") with `n` admitted members; the first is the founder.
pub(crate) fn community(n: usize) -> (RoomDoc, Vec<Identity>) {
    let mut room = RoomDoc::create("room-1", "Commons", 0).unwrap();
    let people: Vec<Identity> = (0..n).map(|_| Identity::generate()).collect();
    let profile = |i: usize| Profile {
        name: format!("Member {i}"),
        ..Profile::default()
    };
    room.found(&people[0], profile(0), 1).unwrap();
    for (i, who) in people.iter().enumerate().skip(1) {
        room.set_profile(who, profile(i), 2).unwrap();
        // Vouch until admitted (the threshold grows with the room).
        for (t, voucher) in (3 + i as i64 * 10..).zip(&people[..i]) {
            if room.admitted().contains(&who.public()) {
                break;
            }
            room.vouch(voucher, &who.public(), t).unwrap();
        }
    }
    assert_eq!(room.admitted().len(), n);
    (room, people)
}

/// `who`'s standing in `room`, if they introduced themselves.
pub(crate) fn standing(room: &RoomDoc, who: &Identity) -> Option<super::Standing> {
    room.members()
        .into_iter()
        .find(|m| m.key == who.public())
        .map(|m| m.standing)
}

/// Runs the automerge sync protocol between two copies until neither has anything to send.
pub(crate) fn sync(a: &mut RoomDoc, b: &mut RoomDoc) {
    let (mut sa, mut sb) = (State::new(), State::new());
    for _ in 0..20 {
        let m1 = a.doc.sync().generate_sync_message(&mut sa);
        if let Some(m) = m1.clone() {
            b.doc.sync().receive_sync_message(&mut sb, m).unwrap();
        }
        let m2 = b.doc.sync().generate_sync_message(&mut sb);
        if let Some(m) = m2.clone() {
            a.doc.sync().receive_sync_message(&mut sa, m).unwrap();
        }
        if m1.is_none() && m2.is_none() {
            a.reindex();
            b.reindex();
            return;
        }
    }
    panic!("sync did not settle in 20 rounds");
}

/// What a modified client replaying an entry writes: a new map at root `key` holding exactly
/// `entry`'s fields (signature and all), in `doc` (not committed).
pub(crate) fn put_copy(doc: &mut automerge::AutoCommit, key: &str, entry: &super::signed::Raw) {
    use automerge::transaction::Transactable;
    let obj = doc
        .put_object(automerge::ROOT, key, automerge::ObjType::Map)
        .unwrap();
    for (name, value) in entry.iter() {
        match value {
            super::signed::Field::Text(t) => doc.put(&obj, name.as_str(), t.as_str()).unwrap(),
            super::signed::Field::Int(i) => doc.put(&obj, name.as_str(), *i).unwrap(),
        }
    }
}
