//! The room's rules against a link holder running a modified client: raw automerge changes
//! (deletes, overwrites, rollbacks, forged founders, field edits, wipes) written the way such a
//! client could, each test stating the secure outcome and that the attempt is listed as
//! tampering.

use super::members::Standing;
use super::signed::{put_signed, Canonical, TamperKind};
use super::testing::{community, put_copy, standing, sync};
use super::{
    Amendment, EntryKind, Method, NewEntry, NewPost, NewProposal, PostKind, Profile, RoomDoc,
    Stance,
};
use crate::crypto::Identity;
use automerge::{
    transaction::Transactable, AutoCommit, ChangeHash, ObjType, ReadDoc, ScalarValue, Value, ROOT,
};

const HOUR: i64 = 3_600_000;

/// A modified client writing straight into a room's document, one change per call.
struct Hostile<'a>(&'a mut RoomDoc);

impl Hostile<'_> {
    fn delete(&mut self, key: &str) {
        self.0.doc.delete(ROOT, key).unwrap();
        self.0.commit();
    }

    /// One change that deletes every key at the root.
    fn wipe(&mut self) {
        let keys: Vec<String> = self.0.doc.keys(ROOT).collect();
        for key in keys {
            self.0.doc.delete(ROOT, key.as_str()).unwrap();
        }
        self.0.commit();
    }

    fn alter(&mut self, key: &str, field: &str, value: ScalarValue) {
        let obj = match self.0.doc.get(ROOT, key).unwrap() {
            Some((Value::Object(ObjType::Map), obj)) => obj,
            _ => panic!("no entry at {key}"),
        };
        self.0.doc.put(&obj, field, value).unwrap();
        self.0.commit();
    }

    /// Puts a copy of the entry's current fields back as a new map (a replay of what was
    /// signed), after `edit` has had its way with the copy.
    fn reput(&mut self, key: &str, edit: impl FnOnce(&mut Vec<(String, ScalarValue)>)) {
        let obj = match self.0.doc.get(ROOT, key).unwrap() {
            Some((Value::Object(ObjType::Map), obj)) => obj,
            _ => panic!("no entry at {key}"),
        };
        let mut fields: Vec<(String, ScalarValue)> = self
            .0
            .doc
            .map_range(&obj, ..)
            .filter_map(|item| match item.value {
                automerge::ValueRef::Scalar(s) => Some((item.key.to_string(), owned(&s)?)),
                _ => None,
            })
            .collect();
        edit(&mut fields);
        let new = self.0.doc.put_object(ROOT, key, ObjType::Map).unwrap();
        for (name, value) in fields {
            self.0.doc.put(&new, name.as_str(), value).unwrap();
        }
        self.0.commit();
    }

    /// Writes an entry signed by `signer` at `key`.
    fn signed(&mut self, key: &str, signer: &Identity, canonical: Canonical) {
        put_signed(&mut self.0.doc, key, signer, canonical).unwrap();
        self.0.commit();
    }
}

fn owned(s: &automerge::ScalarValueRef<'_>) -> Option<ScalarValue> {
    use automerge::ScalarValueRef as S;
    Some(match s {
        S::Str(t) => ScalarValue::Str(t.to_string().into()),
        S::Int(v) => ScalarValue::Int(*v),
        S::Timestamp(v) => ScalarValue::Timestamp(*v),
        S::Uint(v) => ScalarValue::Uint(*v),
        _ => return None,
    })
}

/// The room as it was founded (its first change): a branch from it is causally "earlier"
/// than anything written since.
fn founding(room: &mut RoomDoc) -> Vec<ChangeHash> {
    vec![room.doc.get_changes(&[])[0].hash()]
}

/// A modified client's branch: `write` writes on the room as it stood at `heads` (hidden
/// from the others; it may read `room`), then the branch is merged into `room`. Returns a
/// device that received the branch alone, before anything else.
fn on_branch(
    room: &mut RoomDoc,
    heads: &[ChangeHash],
    write: impl FnOnce(&mut AutoCommit, &RoomDoc),
) -> RoomDoc {
    let mut branch = room.doc.fork_at(heads).unwrap();
    write(&mut branch, room);
    branch.commit();
    let mut early = RoomDoc::empty("room-1");
    early.doc.merge(&mut branch.clone()).unwrap();
    early.commit();
    room.doc.merge(&mut branch).unwrap();
    room.commit();
    early
}

/// [`on_branch`] writing one entry at `key`, signed by `signer`.
fn signed_apart(
    room: &mut RoomDoc,
    heads: &[ChangeHash],
    key: &str,
    signer: &Identity,
    canonical: Canonical,
) -> RoomDoc {
    on_branch(room, heads, |branch, _| {
        put_signed(branch, key, signer, canonical).unwrap();
    })
}

/// A forgery: a map at `key` with `fields`, claiming `author`, with a signature that holds
/// for nobody.
fn put_forged(doc: &mut AutoCommit, key: &str, fields: &[(&str, ScalarValue)], author: &str) {
    let obj = doc.put_object(ROOT, key, ObjType::Map).unwrap();
    for (name, value) in fields {
        doc.put(&obj, *name, value.clone()).unwrap();
    }
    doc.put(&obj, "author", author).unwrap();
    doc.put(&obj, "sig", "forged").unwrap();
}

/// A pot holding one inflow of 500 by `people[1]`, confirmed by `people[0]`, written after
/// the room moved on from the heads returned (a branch from them is causally "earlier" than
/// the line): (pot, line, those heads).
fn confirmed_line(room: &mut RoomDoc, people: &[Identity]) -> (String, String, Vec<ChangeHash>) {
    let pot = room.open_pot(&people[0], "Pot", "EUR", 10).unwrap();
    let old_heads = room.heads();
    room.open_pot(&people[0], "Tools", "EUR", 11).unwrap();
    let line = record_line(room, &people[1], &pot, EntryKind::Inflow, 500, 12);
    room.confirm(&people[0], &pot, &line, 13).unwrap();
    (pot, line, old_heads)
}

/// Records a ledger line of `amount` in `pot` through the honest command; returns its id.
fn record_line(
    room: &mut RoomDoc,
    who: &Identity,
    pot: &str,
    kind: EntryKind,
    amount: i64,
    at: i64,
) -> String {
    room.record(who, pot, NewEntry::new(kind, amount, ""), at)
        .unwrap()
}

/// An inflow of `amount` into `pot`, as a modified client would sign it.
fn inflow(pot: &str, amount: i64, at: i64) -> super::pot::LedgerEntry {
    super::pot::LedgerEntry {
        pot: pot.to_owned(),
        entry: "inflow".into(),
        amount,
        memo: String::new(),
        target: String::new(),
        at,
    }
}

fn keys_tampered(room: &RoomDoc) -> Vec<String> {
    room.tampering().into_iter().map(|t| t.key).collect()
}

/// A removal decided properly: proposed, open three days, agreed by everyone but the subject,
/// and its outcome recorded. Returns the decision id.
fn remove(room: &mut RoomDoc, people: &[Identity], who: &Identity) -> String {
    let t0 = 1_000;
    let d = room
        .propose(
            &people[0],
            NewProposal {
                title: "Remove".into(),
                method: Method::Consent,
                options: vec![],
                closes_at: t0 + 72 * HOUR,
                quorum_percent: 50,
                amendment: Some(Amendment::new("remove", &who.public())),
            },
            t0,
        )
        .unwrap();
    for (i, p) in people.iter().enumerate() {
        if p.public() != who.public() {
            room.take_stance(p, &d, Stance::Agree, "", t0 + 1 + i as i64)
                .unwrap();
        }
    }
    room.record_outcome(&people[0], &d, "Removed", None, t0 + 73 * HOUR)
        .unwrap();
    d
}

#[test]
fn a_forged_founder_takes_nothing_over() {
    let (mut room, people) = community(3);
    let mallory = Identity::generate();
    let profile = Profile {
        name: "Mallory".into(),
        ..Profile::default()
    };
    room.set_profile(&mallory, profile, 5).unwrap();
    let forged = Canonical::new("room-1", "founder", "founder")
        .int("at", 0)
        .text("charter", "[[\"admission\",\"1\"]]");
    Hostile(&mut room).signed("founder", &mallory, forged);
    assert_eq!(room.founder(), Some(people[0].public()));
    assert_eq!(room.admitted().len(), 3);
    assert!(!room.admitted().contains(&mallory.public()));
    assert_eq!(room.founder_claims().len(), 2);
    assert!(keys_tampered(&room).contains(&"founder".to_owned()));
    // Deleting the founder entry changes nothing either.
    Hostile(&mut room).delete("founder");
    assert_eq!(room.founder(), Some(people[0].public()));
    assert_eq!(room.admitted().len(), 3);
}

#[test]
fn a_founder_from_a_forged_history_loses_to_the_pinned_one() {
    let (mut honest, people) = community(2);
    // Mallory builds a rival history from nothing (same room id), founded by herself, and
    // merges it in: both founder entries verify and neither is causally first.
    let mallory = Identity::generate();
    let mut rival = RoomDoc::create("room-1", "Commons", 0).unwrap();
    let profile = Profile {
        name: "Mallory".into(),
        ..Profile::default()
    };
    rival.found(&mallory, profile, 1).unwrap();
    let mut joined = RoomDoc::empty("room-1");
    joined.pin_founder(Some(people[0].public()[..16].to_owned()));
    sync(&mut honest, &mut joined);
    sync(&mut rival, &mut joined);
    assert_eq!(joined.founder(), Some(people[0].public()));
    assert_eq!(joined.admitted(), honest.admitted());
    // Pinned to the other key, the same history derives the other founder: the pin decides.
    joined.pin_founder(Some(mallory.public()));
    assert_eq!(joined.founder(), Some(mallory.public()));
}

#[test]
fn a_rival_history_neither_renames_the_room_nor_replaces_its_board() {
    let (mut honest, people) = community(2);
    honest.pin_founder(Some(people[0].public()));
    let offer = |title: &str| NewPost {
        kind: PostKind::Offer,
        title: title.into(),
        description: String::new(),
        category: "Goods".into(),
    };
    let post = honest.add_post(&people[1], offer("Ladder"), 5).unwrap();
    // Mallory's history from nothing is written as early as the room's: its name sorts first,
    // and its posts map is made by an actor that sorts first.
    let mallory = Identity::generate();
    let mut rival = loop {
        let rival = RoomDoc::create("room-1", "A rival", 0).unwrap();
        if rival.doc.get_actor() < honest.doc.get_actor() {
            break rival;
        }
    };
    let profile = Profile {
        name: "Mallory".into(),
        ..Profile::default()
    };
    rival.found(&mallory, profile, 1).unwrap();
    rival.add_post(&mallory, offer("Free money"), 2).unwrap();
    sync(&mut rival, &mut honest);
    assert_eq!(honest.name().as_deref(), Some("Commons"));
    // The room's posts are as they were; Mallory's own post is hers (signed by her key, as
    // any link holder may post), not a board put in place of the room's.
    let posts = honest.posts();
    let ladder = posts.iter().find(|p| p.id == post).unwrap();
    assert_eq!(ladder.title, "Ladder");
    assert_eq!(honest.post_signer(ladder), Some(people[1].public()));
    assert!(posts
        .iter()
        .filter(|p| p.id != post)
        .all(|p| honest.post_signer(p) == Some(mallory.public())));
    assert!(keys_tampered(&honest).contains(&"name".to_owned()));
    // Pinned to Mallory, the same document is her room, name and board.
    honest.pin_founder(Some(mallory.public()));
    assert_eq!(honest.name().as_deref(), Some("A rival"));
    assert!(honest.posts().iter().any(|p| p.title == "Free money"));
}

#[test]
fn deleting_an_outcome_or_vouches_undoes_nothing() {
    let (mut room, people) = community(4);
    let d = remove(&mut room, &people, &people[3]);
    assert_eq!(standing(&room, &people[3]), Some(Standing::Removed));
    let outcome = room
        .entries(&format!("outcome:{d}:"))
        .map(|(id, _)| format!("outcome:{d}:{id}"))
        .next()
        .unwrap();
    let members = room.members();
    let mut hostile = Hostile(&mut room);
    hostile.delete(&outcome);
    hostile.delete(&format!("decision:{d}"));
    let vouches: Vec<String> = hostile
        .0
        .entries("vouch:")
        .map(|(id, _)| format!("vouch:{id}"))
        .collect();
    for v in &vouches {
        hostile.delete(v);
    }
    assert_eq!(room.members(), members);
    assert_eq!(standing(&room, &people[3]), Some(Standing::Removed));
    let tampered = keys_tampered(&room);
    assert!(tampered.contains(&outcome));
    assert!(vouches.iter().all(|v| tampered.contains(v)));
}

#[test]
fn one_change_deleting_every_key_empties_nothing() {
    let (mut room, people) = community(3);
    let pot = room.open_pot(&people[0], "Pot", "EUR", 10).unwrap();
    record_line(&mut room, &people[1], &pot, EntryKind::Inflow, 500, 11);
    let before = (room.members(), room.pot(&pot, 100), room.name());
    Hostile(&mut room).wipe();
    assert!(room.is_ready() && room.is_writable());
    assert_eq!((room.members(), room.pot(&pot, 100), room.name()), before);
    let tampered = keys_tampered(&room);
    for key in ["posts", "name", "founder"] {
        assert!(tampered.contains(&key.to_owned()), "{key} not listed");
    }
    // The room goes on: a new entry after the wipe counts.
    record_line(&mut room, &people[2], &pot, EntryKind::Inflow, 5, 12);
    assert_eq!(room.pot(&pot, 100).unwrap().lines.len(), 2);
}

#[test]
fn overwriting_or_altering_a_ledger_line_changes_nothing() {
    let (mut room, people) = community(3);
    let pot = room.open_pot(&people[0], "Pot", "EUR", 10).unwrap();
    let line = record_line(&mut room, &people[1], &pot, EntryKind::Inflow, 500, 11);
    let key = format!("ledger:{pot}:{line}");
    let before = room.pot(&pot, 100);
    let mut hostile = Hostile(&mut room);
    hostile.alter(&key, "amount", ScalarValue::Int(5));
    hostile.alter(&key, "sig", ScalarValue::Str("x".into()));
    // The same id, signed by someone else (a modified client can sign its own version).
    let mallory = &people[2];
    let canonical = Canonical::new("room-1", "ledger", &line).int("amount", 1);
    hostile.signed(&key, mallory, canonical);
    hostile.reput(&key, |f| {
        f.retain(|(n, _)| n != "sig");
    });
    assert_eq!(room.pot(&pot, 100), before);
    let kinds: Vec<TamperKind> = room
        .tampering()
        .into_iter()
        .filter(|t| t.key == key)
        .map(|t| t.kind)
        .collect();
    assert!(kinds.contains(&TamperKind::Overwritten));
    assert!(kinds.contains(&TamperKind::Altered {
        field: "amount".into()
    }));
}

#[test]
fn a_rolled_back_profile_keeps_its_latest_signed_version() {
    let (mut room, people) = community(2);
    let key = format!("member:{}", people[1].public());
    let old = room.doc.get(ROOT, key.as_str()).unwrap().unwrap().1;
    let old_fields: Vec<(String, ScalarValue)> = room
        .doc
        .map_range(&old, ..)
        .filter_map(|i| match i.value {
            automerge::ValueRef::Scalar(s) => Some((i.key.to_string(), owned(&s)?)),
            _ => None,
        })
        .collect();
    let renamed = Profile {
        name: "Bea".into(),
        ..Profile::default()
    };
    room.set_profile(&people[1], renamed, 50).unwrap();
    // Mallory puts the older signed profile back.
    Hostile(&mut room).reput(&key, |f| *f = old_fields);
    let name = |room: &RoomDoc| {
        room.members()
            .into_iter()
            .find(|m| m.key == people[1].public())
            .map(|m| m.profile.name)
    };
    assert_eq!(name(&room), Some("Bea".to_owned()));
    // The copy is listed as what it is; the honest update is not tampering.
    let kinds: Vec<TamperKind> = room
        .tampering()
        .into_iter()
        .filter(|t| t.key == key)
        .map(|t| t.kind)
        .collect();
    assert_eq!(kinds, vec![TamperKind::Replayed]);
}

#[test]
fn every_device_derives_the_same_whatever_order_changes_arrive_in() {
    let (mut a, people) = community(3);
    let pot = a.open_pot(&people[0], "Pot", "EUR", 10).unwrap();
    let line = record_line(&mut a, &people[1], &pot, EntryKind::Inflow, 500, 11);
    a.confirm(&people[0], &pot, &line, 12).unwrap();
    let mut b = RoomDoc::empty("room-1");
    sync(&mut a, &mut b);
    // Concurrently: A records more, B (hostile) deletes and alters.
    let more = record_line(&mut a, &people[2], &pot, EntryKind::Inflow, 7, 12);
    a.confirm(&people[0], &pot, &more, 13).unwrap();
    let key = format!("ledger:{pot}:{line}");
    Hostile(&mut b).alter(&key, "amount", ScalarValue::Int(1));
    Hostile(&mut b).delete(&key);
    sync(&mut a, &mut b);
    assert_eq!(a.pot(&pot, 100), b.pot(&pot, 100));
    assert_eq!(a.pot(&pot, 100).unwrap().balance, 507);
    assert_eq!(a.tampering(), b.tampering());
    // A reload derives the same from the saved bytes.
    let saved = b.doc.save();
    let reloaded = RoomDoc::load_chunks("room-1", [saved.as_slice()]).unwrap();
    assert_eq!(reloaded.pot(&pot, 100), a.pot(&pot, 100));
    assert_eq!(reloaded.tampering(), a.tampering());
    assert_eq!(reloaded.members(), a.members());
}

/// The vouch for `newcomer` that counts: (its id, the entry).
fn vouch_for<'a>(room: &'a RoomDoc, newcomer: &str) -> (String, &'a super::signed::Raw) {
    room.entries("vouch:")
        .find(|(_, f)| super::signed::text(f, "newcomer") == Some(newcomer))
        .map(|(id, f)| (id.to_owned(), f))
        .unwrap()
}

fn vouch_canonical(id: &str, newcomer: &str, at: i64) -> Canonical {
    Canonical::new("room-1", "vouch", id)
        .text("newcomer", newcomer)
        .int("at", at)
}

fn introduce(room: &mut RoomDoc, name: &str, at: i64) -> Identity {
    let who = Identity::generate();
    let profile = Profile {
        name: name.into(),
        ..Profile::default()
    };
    room.set_profile(&who, profile, at).unwrap();
    who
}

#[test]
fn a_vouch_written_before_its_author_was_admitted_never_counts() {
    let (mut room, people) = community(1);
    let bo = introduce(&mut room, "Bo", 2);
    let cy = introduce(&mut room, "Cy", 3);
    // Bo, still pending, signs a vouch for Cy dated long after anything else.
    Hostile(&mut room).signed(
        "vouch:early",
        &bo,
        vouch_canonical("early", &cy.public(), 9_000),
    );
    room.vouch(&people[0], &bo.public(), 5).unwrap();
    assert_eq!(standing(&room, &bo), Some(Standing::Admitted));
    assert!(matches!(
        standing(&room, &cy),
        Some(Standing::Pending { vouches: 0, .. })
    ));
}

#[test]
fn vouches_from_outside_the_room_s_history_admit_nobody() {
    let (mut room, people) = community(3);
    let puppet = introduce(&mut room, "Puppet", 10);
    // Two members sign vouches in a change that depends on nothing (written into an empty
    // document and merged in), dated just after their own admission.
    let mut outside = RoomDoc::empty("room-1");
    for (i, voucher) in people[1..].iter().enumerate() {
        let id = format!("outside{i}");
        let canonical = vouch_canonical(&id, &puppet.public(), 30);
        Hostile(&mut outside).signed(&format!("vouch:{id}"), voucher, canonical);
    }
    sync(&mut outside, &mut room);
    assert!(matches!(
        standing(&room, &puppet),
        Some(Standing::Pending { .. })
    ));
    assert_eq!(room.admitted().len(), 3);
}

#[test]
fn a_vouch_written_after_its_author_s_admission_counts_whatever_its_clock_says() {
    let (mut room, people) = community(1);
    let bo = introduce(&mut room, "Bo", 2);
    let cy = introduce(&mut room, "Cy", 3);
    room.vouch(&people[0], &bo.public(), 100).unwrap();
    // Bo's clock is behind: the vouch claims a time before Bo's own admission.
    room.vouch(&bo, &cy.public(), 50).unwrap();
    assert_eq!(standing(&room, &cy), Some(Standing::Admitted));
}

/// A proposal to change the charter's purpose, open three days from `t0`, agreed by the first
/// `agree` members. Returns (decision id, its closing time).
fn purpose_decision(room: &mut RoomDoc, people: &[Identity], agree: usize) -> (String, i64) {
    let t0 = 1_000;
    let closes = t0 + 72 * HOUR;
    let d = room
        .propose(
            &people[0],
            NewProposal {
                title: "Purpose".into(),
                method: Method::Consent,
                options: vec![],
                closes_at: closes,
                quorum_percent: 50,
                amendment: Some(Amendment::new("purpose", "Share tools")),
            },
            t0,
        )
        .unwrap();
    for (i, p) in people.iter().take(agree).enumerate() {
        room.take_stance(p, &d, Stance::Agree, "", t0 + 1 + i as i64)
            .unwrap();
    }
    (d, closes)
}

fn outcome_of(room: &RoomDoc, d: &str) -> super::Outcome {
    room.decision(d, i64::MAX / 2).unwrap().outcome
}

#[test]
fn a_stance_dated_before_the_close_but_written_after_the_outcome_changes_nothing() {
    let (mut room, people) = community(4);
    let (d, closes) = purpose_decision(&mut room, &people, 3);
    room.record_outcome(&people[0], &d, "Agreed", None, closes + 1)
        .unwrap();
    assert_eq!(room.charter(closes + 2).purpose, "Share tools");
    let passed = outcome_of(&room, &d);
    // Afterwards, a member blocks it with a stance that claims to predate the close.
    room.take_stance(&people[3], &d, Stance::Block, "too late", closes - 1)
        .unwrap();
    assert_eq!(outcome_of(&room, &d), passed);
    assert_eq!(room.charter(closes + 3).purpose, "Share tools");
    // Recording the outcome again, now that the block is there, changes nothing either.
    room.record_outcome(&people[3], &d, "Blocked after all", None, closes + 1)
        .unwrap_or_default();
    assert_eq!(outcome_of(&room, &d), passed);
    assert_eq!(room.charter(closes + 3).purpose, "Share tools");
}

#[test]
fn of_outcomes_recorded_without_knowing_of_each_other_the_better_informed_counts() {
    let (mut a, people) = community(4);
    let (d, closes) = purpose_decision(&mut a, &people, 0);
    let mut b = RoomDoc::empty("room-1");
    sync(&mut a, &mut b);
    // On A everyone answers and the outcome is recorded; B, seeing no stance, records first
    // (by its claimed time) that the decision failed.
    for (i, p) in people.iter().take(3).enumerate() {
        a.take_stance(p, &d, Stance::Agree, "", 2_000 + i as i64)
            .unwrap();
    }
    a.record_outcome(&people[0], &d, "Agreed", None, closes + 50)
        .unwrap();
    b.record_outcome(&people[1], &d, "No quorum", None, closes)
        .unwrap();
    sync(&mut a, &mut b);
    for room in [&a, &b] {
        assert_eq!(room.charter(closes + 100).purpose, "Share tools");
        assert_eq!(outcome_of(room, &d), outcome_of(&a, &d));
    }
}

#[test]
fn a_stance_written_without_the_proposal_does_not_count() {
    let (mut room, people) = community(4);
    let (d, closes) = purpose_decision(&mut room, &people, 2);
    // Two more agreeing stances from outside the room's history (a change with no past).
    let mut outside = RoomDoc::empty("room-1");
    for (i, p) in people[2..].iter().enumerate() {
        let id = format!("s{i}");
        let canonical = Canonical::new("room-1", "stance", &id)
            .text("decision", &d)
            .text("value", "agree")
            .text("reason", "")
            .int("at", 1_500);
        Hostile(&mut outside).signed(&format!("stance:{d}:{id}"), p, canonical);
    }
    sync(&mut outside, &mut room);
    let view = room.decision(&d, closes + 1).unwrap();
    assert_eq!(view.participants, 2);
    // The same entry written in the room's history (after the proposal) counts.
    let canonical = Canonical::new("room-1", "stance", "s9")
        .text("decision", &d)
        .text("value", "agree")
        .text("reason", "")
        .int("at", 1_500);
    Hostile(&mut room).signed(&format!("stance:{d}:s9"), &people[2], canonical);
    assert_eq!(room.decision(&d, closes + 1).unwrap().participants, 3);
}

#[test]
fn an_entry_that_arrives_long_after_its_claimed_time_is_marked_late() {
    let (mut a, people) = community(2);
    let mut b = RoomDoc::empty("room-1");
    sync(&mut a, &mut b);
    const DAY: i64 = 24 * HOUR;
    let pot = a.open_pot(&people[0], "Pot", "EUR", 100 * DAY).unwrap();
    let line = record_line(&mut a, &people[1], &pot, EntryKind::Inflow, 5, DAY);
    let since = b.changes_read();
    sync(&mut a, &mut b);
    b.note_arrivals(since, 100 * DAY + 5);
    let late: Vec<String> = b.late_entries().into_iter().map(|(k, _, _)| k).collect();
    assert_eq!(late, vec![format!("ledger:{pot}:{line}")]);
    // What was written here, or loaded from storage, is never marked.
    assert!(a.late_entries().is_empty());
    // Reloaded with the facts kept beside it, the mark stays.
    let facts = b.facts();
    let saved = b.doc.save();
    let back = RoomDoc::load_with_facts("room-1", [saved.as_slice()], Some(&facts)).unwrap();
    assert_eq!(back.late_entries(), b.late_entries());
}

#[test]
fn names_lose_invisible_characters_however_they_were_written() {
    let (mut room, _) = community(1);
    let honest = introduce(&mut room, "A\u{202E}na\u{200B}", 5);
    // A modified client signs a profile with the characters kept.
    let forger = Identity::generate();
    let canonical = Canonical::new("room-1", "profile", &forger.public())
        .text("name", "An\u{2060}a")
        .text("skills", "")
        .text("bio", "")
        .int("at", 6);
    Hostile(&mut room).signed(&format!("member:{}", forger.public()), &forger, canonical);
    let names: Vec<String> = room
        .members()
        .into_iter()
        .filter(|m| m.key == honest.public() || m.key == forger.public())
        .map(|m| m.profile.name)
        .collect();
    assert_eq!(names, vec!["Ana".to_owned(), "Ana".to_owned()]);
}

#[test]
fn vouches_dated_back_to_a_small_room_neither_admit_puppets_nor_push_members_back() {
    // The founder at 1, A admitted at 5; B, C and D admitted later with the vouches the room
    // needed then.
    let (mut room, people) = community(1);
    let a = introduce(&mut room, "A", 2);
    room.vouch(&people[0], &a.public(), 5).unwrap();
    let mut honest = vec![people[0].clone(), a.clone()];
    for (i, name) in ["B", "C", "D"].into_iter().enumerate() {
        let who = introduce(&mut room, name, 90 + i as i64);
        for (j, voucher) in honest.iter().enumerate() {
            if room.admitted().contains(&who.public()) {
                break;
            }
            room.vouch(voucher, &who.public(), 100 * (i as i64 + 1) + j as i64)
                .unwrap();
        }
        assert!(room.admitted().contains(&who.public()));
        honest.push(who);
    }
    let before = room.admitted();
    // Now A vouches for puppets with times just after A's own admission.
    let puppets: Vec<Identity> = (0..3)
        .map(|i| introduce(&mut room, &format!("S{i}"), 400))
        .collect();
    for (i, s) in puppets.iter().enumerate() {
        let canonical = vouch_canonical(&format!("back{i}"), &s.public(), 6 + i as i64);
        Hostile(&mut room).signed(&format!("vouch:back{i}"), &a, canonical);
    }
    assert_eq!(room.admitted(), before);
    for s in &puppets {
        assert!(matches!(standing(&room, s), Some(Standing::Pending { .. })));
    }
}

#[test]
fn facts_kept_beside_the_document_derive_exactly_what_its_history_does() {
    let (mut room, people) = community(3);
    let pot = room.open_pot(&people[0], "Pot", "EUR", 10).unwrap();
    record_line(&mut room, &people[1], &pot, EntryKind::Inflow, 500, 11);
    Hostile(&mut room).delete("founder");
    let facts = room.facts();
    // More happens after the facts were kept: honest entries and tampering.
    let line = record_line(&mut room, &people[2], &pot, EntryKind::Inflow, 7, 12);
    Hostile(&mut room).alter(
        &format!("ledger:{pot}:{line}"),
        "amount",
        ScalarValue::Int(1),
    );
    let saved = room.doc.save();
    let full = RoomDoc::load_chunks("room-1", [saved.as_slice()]).unwrap();
    let kept = RoomDoc::load_with_facts("room-1", [saved.as_slice()], Some(&facts)).unwrap();
    for loaded in [&full, &kept] {
        assert_eq!(loaded.members(), room.members());
        assert_eq!(loaded.pot(&pot, 100), room.pot(&pot, 100));
        assert_eq!(loaded.tampering(), room.tampering());
        assert_eq!(loaded.founder(), Some(people[0].public()));
    }
    // Facts that do not fit (damaged, or of another document) are ignored.
    let other = community(1).0.facts();
    for bad in [
        "{",
        "",
        other.as_str(),
        &facts.replace("\"heads\":[\"", "\"heads\":[\"00"),
    ] {
        let loaded = RoomDoc::load_with_facts("room-1", [saved.as_slice()], Some(bad)).unwrap();
        assert_eq!(loaded.tampering(), room.tampering());
        assert_eq!(loaded.pot(&pot, 100), room.pot(&pot, 100));
    }
}

#[test]
fn leaving_the_room_rewrites_no_history() {
    let (mut room, people) = community(3);
    // Time bank: 300 minutes from p1 to p2, then p1 leaves.
    room.pay_hours(&people[1], &people[2].public(), 300, "", 20)
        .unwrap();
    // Pot: p1 puts money in, p2 confirms it.
    let pot = room.open_pot(&people[0], "Pot", "EUR", 21).unwrap();
    let line = record_line(&mut room, &people[1], &pot, EntryKind::Inflow, 900, 22);
    room.confirm(&people[2], &pot, &line, 23).unwrap();
    // Contributions: p1's work for p2, countersigned by p2.
    let work = room
        .log_contribution(
            &people[1],
            super::NewContribution {
                value_type: "work".into(),
                quantity: 120,
                description: "Fixed the roof".into(),
                date: 24,
                beneficiary: Some(people[2].public()),
                reverses: None,
            },
            24,
        )
        .unwrap();
    room.countersign(&people[2], &work, 25).unwrap();
    let before = (
        room.time_accounts().0.get(&people[2].public()).copied(),
        room.pot(&pot, 100).unwrap().balance,
        room.contributions(100),
    );
    assert_eq!(before.0, Some(300));
    assert_eq!(before.1, 900);
    room.leave(&people[1], 30).unwrap();
    let after = (
        room.time_accounts().0.get(&people[2].public()).copied(),
        room.pot(&pot, 100).unwrap().balance,
        room.contributions(100),
    );
    assert_eq!(after, before);
    // What p1 writes after leaving does not count (a modified client can still sign it).
    let canonical = Canonical::new("room-1", "hours", "late")
        .text("to", &people[2].public())
        .int("minutes", 60)
        .text("memo", "")
        .int("at", 31);
    Hostile(&mut room).signed("hours:late", &people[1], canonical);
    assert_eq!(room.time_accounts().0.get(&people[2].public()), Some(&300));
}

#[test]
fn deleting_or_overwriting_a_page_body_loses_no_page() {
    let (mut room, people) = community(2);
    let page = room
        .create_page(&people[0], "Rules", "Return tools clean.", 5)
        .unwrap();
    let key = format!("pagebody:{page}");
    Hostile(&mut room).delete(&key);
    assert_eq!(room.page(&page).unwrap().body, "Return tools clean.");
    let other = room
        .doc
        .put_object(ROOT, key.as_str(), ObjType::Text)
        .unwrap();
    room.doc.splice_text(&other, 0, 0, "Vandalised").unwrap();
    room.commit();
    assert_eq!(room.page(&page).unwrap().body, "Return tools clean.");
    // The page can still be edited, and both attempts are listed.
    let since = room.heads();
    room.edit_page(&people[1], &page, &since, "Return tools clean and dry.", 6)
        .unwrap();
    assert_eq!(
        room.page(&page).unwrap().body,
        "Return tools clean and dry."
    );
    let kinds: Vec<TamperKind> = room
        .tampering()
        .into_iter()
        .filter(|t| t.key == key)
        .map(|t| t.kind)
        .collect();
    assert!(kinds.contains(&TamperKind::Deleted) && kinds.contains(&TamperKind::Overwritten));
    // And a reload with the kept facts reads the same body.
    let facts = room.facts();
    let saved = room.doc.save();
    let back = RoomDoc::load_with_facts("room-1", [saved.as_slice()], Some(&facts)).unwrap();
    assert_eq!(back.page(&page), room.page(&page));
}

/// A modified client that learned an entry's id writes its own entry at that key from the
/// room as it was before (a fork from old heads, merged later): causally "earlier" than the
/// real one. Ids name their author, so the rival is not the entry, however early it claims
/// to be, and nothing derived changes — on a device that receives it first too.
#[test]
fn a_rival_written_from_an_old_state_at_a_known_id_replaces_nothing() {
    use super::signed::Entry;
    let (mut room, people) = community(3);
    let (pot, line, old_heads) = confirmed_line(&mut room, &people);
    let before = room.pot(&pot, 100);
    assert_eq!(before.as_ref().unwrap().lines.len(), 1);
    let key = format!("ledger:{pot}:{line}");
    // Mallory (a member) signs her own line at that id, on a fork from before it existed.
    let rival = inflow(&pot, 900_000, 12);
    // A device that receives the rival before the real line derives the same.
    let mut early = signed_apart(
        &mut room,
        &old_heads,
        &key,
        &people[2],
        rival.canonical("room-1", &line),
    );
    assert_eq!(room.pot(&pot, 100), before);
    sync(&mut early, &mut room);
    assert_eq!(early.pot(&pot, 100), before);
    assert!(keys_tampered(&room).contains(&key));
    assert_eq!(early.tampering(), room.tampering());
}

/// A modified client copies a signed entry, byte for byte, into a change built on an old
/// state of the room: the vouch that admitted a member, now looking written before its
/// author was admitted. An entry signs the heads it was written on, so the copy is not it —
/// on a device that receives the copy before the original too — and it is listed.
#[test]
fn a_signed_entry_copied_into_an_older_state_of_the_room_is_not_it() {
    let (mut room, people) = community(3);
    let admitted = room.admitted();
    let newcomer = people[2].public();
    let (id, _) = vouch_for(&room, &newcomer);
    let key = format!("vouch:{id}");
    let founded = founding(&mut room);
    let mut early = on_branch(&mut room, &founded, |branch, room| {
        put_copy(branch, &key, room.entry(&key).unwrap());
    });
    sync(&mut early, &mut room);
    assert_eq!(room.admitted(), admitted);
    assert_eq!(early.admitted(), admitted);
    let kinds: Vec<TamperKind> = early
        .tampering()
        .into_iter()
        .filter(|t| t.key == key)
        .map(|t| t.kind)
        .collect();
    assert_eq!(kinds, vec![TamperKind::Replayed]);
    assert_eq!(early.tampering(), room.tampering());
}

/// Entries whose signature does not hold count for nothing and are listed; an honest room
/// lists none.
#[test]
fn forged_entries_are_listed_as_unverified_and_count_for_nothing() {
    use super::pot::LedgerEntry;
    use super::signed::Entry;
    let (mut room, people) = community(3);
    let pot = room.open_pot(&people[0], "Pot", "EUR", 10).unwrap();
    let post = room
        .add_post(
            &people[1],
            NewPost {
                kind: PostKind::Offer,
                title: "Ladder".into(),
                description: String::new(),
                category: "Goods".into(),
            },
            11,
        )
        .unwrap();
    room.respond(&people[2], &post, "Mine?", 12).unwrap();
    assert_eq!(room.unverified_entries(100), Vec::<String>::new());
    let before = room.pot(&pot, 100);
    // A ledger line and a vouch in Ana's name that she never signed: one carries Bo's
    // signature, the other none that holds.
    let id = crate::crypto::entry_id(&people[0].public());
    let line = LedgerEntry {
        pot: pot.clone(),
        entry: "inflow".into(),
        amount: 7_000,
        memo: String::new(),
        target: String::new(),
        at: 13,
    };
    let sig = people[1].sign(line.canonical("room-1", &id).bytes());
    let ledger = format!("ledger:{pot}:{id}");
    let forged = format!("vouch:{}", crate::crypto::entry_id(&people[0].public()));
    let obj = room
        .doc
        .put_object(ROOT, ledger.as_str(), ObjType::Map)
        .unwrap();
    for (k, v) in [
        ("pot", pot.as_str()),
        ("entry", "inflow"),
        ("memo", ""),
        ("target", ""),
    ] {
        room.doc.put(&obj, k, v).unwrap();
    }
    room.doc.put(&obj, "amount", 7_000).unwrap();
    room.doc.put(&obj, "at", 13).unwrap();
    room.doc.put(&obj, "author", people[0].public()).unwrap();
    room.doc.put(&obj, "sig", sig).unwrap();
    let obj = room
        .doc
        .put_object(ROOT, forged.as_str(), ObjType::Map)
        .unwrap();
    room.doc.put(&obj, "newcomer", "stranger").unwrap();
    room.doc.put(&obj, "at", 14).unwrap();
    room.doc.put(&obj, "author", people[0].public()).unwrap();
    room.doc.put(&obj, "sig", "forged").unwrap();
    room.commit();
    assert_eq!(room.admitted().len(), 3);
    let after = room.pot(&pot, 100).unwrap();
    assert_eq!(after.balance, before.unwrap().balance);
    assert!(after
        .lines
        .iter()
        .all(|l| matches!(l.state, super::pot::EntryState::Refused(_))));
    assert_eq!(room.unverified_entries(100), vec![ledger, forged]);
}

/// Anyone holding the link can splice a page's automerge text: the page shows what its
/// members vouched for, lists the change, and the next honest edit writes exactly what its
/// author saw and typed. A version whose hash does not hold, or by someone not admitted, is
/// not vouching.
#[test]
fn text_spliced_into_a_page_without_a_signed_version_is_not_shown() {
    use super::pages::PageVersionEntry;
    use super::signed::Entry;
    let (mut room, people) = community(2);
    let page = room
        .create_page(&people[0], "Rules", "Return tools clean.", 5)
        .unwrap();
    let body = |room: &RoomDoc| room.page(&page).unwrap().body;
    let key = format!("pagebody:{page}");
    let text = match room.doc.get(ROOT, key.as_str()).unwrap() {
        Some((Value::Object(ObjType::Text), obj)) => obj,
        _ => panic!("no body"),
    };
    room.doc.splice_text(&text, 0, 0, "Never ").unwrap();
    room.commit();
    assert_eq!(body(&room), "Return tools clean.");
    assert!(room.tampering().iter().any(|t| t.key == key
        && t.kind
            == TamperKind::Altered {
                field: "text".into()
            }));
    // A stranger's version vouches for nothing; nor does a member's whose hash is wrong.
    let stranger = Identity::generate();
    for (who, hash) in [(&stranger, "x"), (&people[1], "00")] {
        let vid = crate::crypto::entry_id(&who.public());
        let v = PageVersionEntry {
            page: page.clone(),
            hash: hash.into(),
            at: 6,
        };
        Hostile(&mut room).signed(&format!("pagever:{vid}"), who, v.canonical("room-1", &vid));
    }
    assert_eq!(body(&room), "Return tools clean.");
    // The honest editor edits what is shown: the splice is gone, the edit is vouched for.
    let since = room.heads();
    room.edit_page(&people[1], &page, &since, "Return tools clean and dry.", 7)
        .unwrap();
    assert_eq!(body(&room), "Return tools clean and dry.");
    assert!(!room.tampering().iter().any(|t| t.key == key));
    // History lists who signed versions (the stranger is not there); the one whose hash was
    // wrong is listed, though it changed nothing (checking every version's hash would read
    // the text at every edit).
    let history: Vec<String> = room
        .page(&page)
        .unwrap()
        .history
        .into_iter()
        .map(|h| h.0)
        .collect();
    assert_eq!(history[0], people[0].public());
    assert!(!history.contains(&stranger.public()));
    assert_eq!(history.last(), Some(&people[1].public()));
}

/// A link holder puts, at the key of a member's vouch, a map claiming that member as author
/// with a signature that does not hold, from an old state of the room (so it is causally
/// "first"). The real vouch is told from it by its signature: nothing changes, on a device
/// that receives the forgery first too, and the attempt is listed.
#[test]
fn a_forgery_claiming_an_entry_s_author_hides_nothing() {
    let (mut room, people) = community(3);
    let admitted = room.admitted();
    let newcomer = people[2].public();
    let (id, vouch) = vouch_for(&room, &newcomer);
    let (key, author) = (format!("vouch:{id}"), vouch.author().unwrap().to_owned());
    let founded = founding(&mut room);
    let mut early = on_branch(&mut room, &founded, |branch, _| {
        let fields = [("newcomer", newcomer.as_str().into()), ("at", 0.into())];
        put_forged(branch, &key, &fields, &author);
    });
    sync(&mut early, &mut room);
    assert_eq!(room.admitted(), admitted);
    assert_eq!(early.admitted(), admitted);
    assert!(keys_tampered(&room).contains(&key));
    assert_eq!(early.tampering(), room.tampering());
    assert!(room.unverified_entries(100).is_empty());
}

/// A text object made at a page's body key in a change built on an old state of the room
/// (so it is causally "first") is not the page's body: the body is the text made with the
/// page's entry.
#[test]
fn a_text_made_early_at_a_page_s_body_key_is_not_its_body() {
    let (mut room, people) = community(2);
    let page = room
        .create_page(&people[0], "Rules", "Return tools clean.", 5)
        .unwrap();
    let key = format!("pagebody:{page}");
    let founded = founding(&mut room);
    on_branch(&mut room, &founded, |branch, _| {
        let text = branch
            .put_object(ROOT, key.as_str(), ObjType::Text)
            .unwrap();
        branch.splice_text(&text, 0, 0, "Vandalised").unwrap();
    });
    assert_eq!(room.page(&page).unwrap().body, "Return tools clean.");
    let since = room.heads();
    room.edit_page(&people[1], &page, &since, "Return tools clean and dry.", 6)
        .unwrap();
    assert_eq!(
        room.page(&page).unwrap().body,
        "Return tools clean and dry."
    );
}

/// A member signs a second version of their own entry, at its id, on a fork from before it.
/// Swapping a confirmed 500 for 900,000 neither counts the 900,000 nor takes the 500 away
/// (the confirmation names the version its writer had), a version signed after the first is
/// an overwrite, and a second stance version cannot change an outcome already recorded: the
/// outcome re-checks the stances its recorder had.
#[test]
fn an_author_signing_two_versions_of_an_entry_swaps_nothing_others_relied_on() {
    use super::decisions::StanceEntry;
    use super::signed::Entry;
    let (mut room, people) = community(4);
    let (pot, line, old_heads) = confirmed_line(&mut room, &people);
    let swapped = inflow(&pot, 900_000, 12);
    let key = format!("ledger:{pot}:{line}");
    signed_apart(
        &mut room,
        &old_heads,
        &key,
        &people[1],
        swapped.canonical("room-1", &line),
    );
    // The confirmer had the 500: that is the line, and it stays in the balance.
    assert_eq!(room.pot(&pot, 100).unwrap().balance, 500);
    assert!(keys_tampered(&room).contains(&key));
    // A third version, written after both: an overwrite, the confirmed one still counts.
    let mut later = swapped.clone();
    later.amount = 1;
    Hostile(&mut room).signed(&key, &people[1], later.canonical("room-1", &line));
    assert_eq!(room.pot(&pot, 100).unwrap().balance, 500);

    // An unconfirmed line, then a second version signed after it: the first counts (it is
    // waiting for confirmation as it was written), the second is listed.
    let waiting = record_line(&mut room, &people[1], &pot, EntryKind::Inflow, 70, 14);
    let waiting_key = format!("ledger:{pot}:{waiting}");
    let mut second = swapped.clone();
    second.amount = 7_000;
    Hostile(&mut room).signed(
        &waiting_key,
        &people[1],
        second.canonical("room-1", &waiting),
    );
    room.confirm(&people[2], &pot, &waiting, 15).unwrap();
    assert_eq!(room.pot(&pot, 100).unwrap().balance, 570);
    assert!(keys_tampered(&room).contains(&waiting_key));

    // A decided outcome, then a second version of an agreeing stance, dated in its window.
    // (Two of four agree: exactly the quorum, so losing a stance would undo it.)
    let (d, closes) = purpose_decision(&mut room, &people, 2);
    room.record_outcome(&people[0], &d, "Agreed", None, closes + 1)
        .unwrap();
    let passed = outcome_of(&room, &d);
    assert_eq!(passed, super::Outcome::Passed { winner: None });
    let (stance_key, stance_id) = room
        .entries(&format!("stance:{d}:"))
        .find(|(_, f)| f.author() == Some(people[1].public().as_str()))
        .map(|(id, _)| (format!("stance:{d}:{id}"), id.to_owned()))
        .unwrap();
    let block = StanceEntry::new(&d, "block", "changed my mind", 1_004);
    let founded = founding(&mut room);
    signed_apart(
        &mut room,
        &founded,
        &stance_key,
        &people[1],
        block.canonical("room-1", &stance_id),
    );
    assert_eq!(outcome_of(&room, &d), passed);
    assert_eq!(room.charter(closes + 3).purpose, "Share tools");
}

/// A byte-for-byte copy of the vouch that admitted a member, put into a change built on the
/// same heads as the real one (so it passes the heads it signs), served first to a device: the
/// member's later entries were written on the real vouch, not the copy, and still count there —
/// whoever built on either copy had the entry.
#[test]
fn a_copy_of_an_entry_beside_the_real_one_changes_nothing_on_a_device_that_read_it_first() {
    let (mut room, people) = community(2);
    let newcomer = people[1].public();
    let (id, vouch) = vouch_for(&room, &newcomer);
    let (key, change) = (format!("vouch:{id}"), room.index.change_of(vouch));
    let deps = room
        .doc
        .get_change_by_hash(&change)
        .unwrap()
        .deps()
        .to_vec();
    // The newcomer writes a ledger line after being admitted.
    let pot = room.open_pot(&people[0], "Pot", "EUR", 10).unwrap();
    record_line(&mut room, &people[1], &pot, EntryKind::Inflow, 500, 11);
    let before = room.pot(&pot, 100);
    let mut early = on_branch(&mut room, &deps, |branch, room| {
        put_copy(branch, &key, room.entry(&key).unwrap());
    });
    sync(&mut early, &mut room);
    assert_eq!(early.admitted(), room.admitted());
    assert_eq!(early.pot(&pot, 100), before);
    assert_eq!(room.pot(&pot, 100), before);
}

/// A voucher signs a second version of the vouch that admitted a member, at its id, on a fork
/// from before it (naming the same member, dated otherwise): the member stays admitted — a
/// vouch only adds, so each version the voucher signed counts as a vouch of its own, and a
/// rival version cannot make one vanish. The second version is listed.
#[test]
fn a_voucher_signing_a_rival_version_of_a_vouch_unadmits_nobody() {
    let (mut room, people) = community(3);
    let newcomer = people[1].public();
    let (id, _) = vouch_for(&room, &newcomer);
    let key = format!("vouch:{id}");
    let admitted = room.admitted();
    let founded = founding(&mut room);
    signed_apart(
        &mut room,
        &founded,
        &key,
        &people[0],
        vouch_canonical(&id, &newcomer, 4_000),
    );
    assert_eq!(room.admitted(), admitted);
    assert!(keys_tampered(&room).contains(&key));
}

/// The proposer of a removal signs a second version of the proposal, at its id, on a fork from
/// before it, and the member who recorded the outcome a second version of the record: the
/// removal stays enacted — the record re-reads the proposal its writer had, and a record only
/// adds. Both rivals are listed.
#[test]
fn rival_versions_of_a_decided_proposal_or_its_record_undo_nothing() {
    use super::decisions::{OutcomeEntry, ProposalEntry};
    use super::signed::Entry;
    let (mut room, people) = community(4);
    let old_heads = room.heads();
    let d = remove(&mut room, &people, &people[3]);
    assert!(!room.admitted().contains(&people[3].public()));
    let charter = room.charter(2_000_000_000).clone();
    let rival = ProposalEntry::new(
        &NewProposal {
            title: "Remove".into(),
            method: Method::Consent,
            options: vec![],
            closes_at: 1_000 + 72 * HOUR,
            quorum_percent: 100,
            amendment: Some(Amendment::new("remove", &people[3].public())),
        },
        1_000,
    );
    let record_key = room
        .entries(&format!("outcome:{d}:"))
        .map(|(id, _)| format!("outcome:{d}:{id}"))
        .next()
        .unwrap();
    let record_id = record_key.rsplit(':').next().unwrap().to_owned();
    let rival_record = OutcomeEntry {
        decision: d.clone(),
        statement: "Never mind".into(),
        review: 0,
        at: 1_000 + 80 * HOUR,
    };
    let key = format!("decision:{d}");
    on_branch(&mut room, &old_heads, |branch, _| {
        put_signed(branch, &key, &people[0], rival.canonical("room-1", &d)).unwrap();
        let record = rival_record.canonical("room-1", &record_id);
        put_signed(branch, &record_key, &people[0], record).unwrap();
    });
    assert!(!room.admitted().contains(&people[3].public()));
    assert_eq!(room.charter(2_000_000_000), charter);
    let tampered = keys_tampered(&room);
    assert!(tampered.contains(&key) && tampered.contains(&record_key));
}

/// A forgery put at an approval's id, claiming its author, on a fork from before it: the
/// approval still counts (marks are read through the same rule as every entry: at an id bound
/// to its author, the version whose signature holds). Before, it hid the approval.
#[test]
fn a_forgery_at_an_approval_s_id_hides_no_approval() {
    let (mut room, people) = community(3);
    let pot = room.open_pot(&people[0], "Pot", "EUR", 10).unwrap();
    let expense = record_line(&mut room, &people[0], &pot, EntryKind::Expense, 40, 11);
    room.approve(&people[1], &pot, &expense, 12).unwrap();
    assert_eq!(room.approvers(&expense).len(), 1);
    let (key, author) = room
        .entries("approval:")
        .map(|(id, f)| (format!("approval:{id}"), f.author().unwrap().to_owned()))
        .next()
        .unwrap();
    let founded = founding(&mut room);
    on_branch(&mut room, &founded, |branch, _| {
        let fields = [("target", expense.as_str().into()), ("at", 0.into())];
        put_forged(branch, &key, &fields, &author);
    });
    assert_eq!(
        room.approvers(&expense),
        [people[1].public()].into_iter().collect()
    );
    assert!(keys_tampered(&room).contains(&key));
}

/// Entries that only add, signed twice apart by their author: a confirmation of money in, and
/// a member's leaving. Each version counts as its own, so the second version makes neither
/// vanish: the confirmed 500 stays in the balance, and the member who left stays gone.
#[test]
fn a_rival_version_of_a_confirmation_or_a_leave_undoes_neither() {
    use super::members::LeaveEntry;
    use super::pot::ConfirmationEntry;
    use super::signed::Entry;
    let (mut room, people) = community(4);
    let (pot, line, old_heads) = confirmed_line(&mut room, &people);
    room.leave(&people[3], 14).unwrap();
    assert_eq!(room.pot(&pot, 100).unwrap().balance, 500);
    assert_eq!(standing(&room, &people[3]), Some(Standing::Left));
    let ledger = format!("ledger:{pot}:{line}/");
    let confirmation = room
        .entries(&ledger)
        .map(|(mark, _)| mark.to_owned())
        .next()
        .unwrap();
    let leave = room
        .entries("leave:")
        .map(|(id, _)| id.to_owned())
        .next()
        .unwrap();
    on_branch(&mut room, &old_heads, |branch, _| {
        let rival = ConfirmationEntry {
            pot: pot.clone(),
            target: line.clone(),
            at: 900,
        };
        let id = format!("{line}/{confirmation}");
        put_signed(
            branch,
            &format!("{ledger}{confirmation}"),
            &people[0],
            rival.canonical("room-1", &id),
        )
        .unwrap();
        let rival = LeaveEntry { at: 900 };
        let key = format!("leave:{leave}");
        put_signed(branch, &key, &people[3], rival.canonical("room-1", &leave)).unwrap();
    });
    assert_eq!(room.pot(&pot, 100).unwrap().balance, 500);
    assert_eq!(standing(&room, &people[3]), Some(Standing::Left));
    let tampered = keys_tampered(&room);
    assert!(tampered.contains(&format!("{ledger}{confirmation}")));
    assert!(tampered.contains(&format!("leave:{leave}")));
}

/// A member pays another an hour, the payee passes half of it on, and the payer then signs a
/// rival version of the payment — to someone else, on an older state of the room: the payment
/// the payee built on counts, and so does what they did with it. The rival is listed.
#[test]
fn a_payer_signing_a_rival_version_of_a_payment_takes_back_nothing_built_on() {
    use super::signed::Entry;
    use super::timebank::HoursEntry;
    let hours = |to: String, minutes: i64, at: i64| HoursEntry {
        to,
        minutes,
        memo: String::new(),
        at,
    };
    let (mut room, people) = community(4);
    let old_heads = room.heads();
    room.pay_hours(&people[0], &people[1].public(), 60, "garden", 10)
        .unwrap();
    let (_, transfers) = room.time_accounts();
    let id = transfers[0].id.clone();
    room.pay_hours(&people[1], &people[2].public(), 30, "lift", 11)
        .unwrap();
    let counted = |room: &RoomDoc| {
        let (accounts, transfers) = room.time_accounts();
        let counted: Vec<_> = transfers.into_iter().filter(|t| t.counted).collect();
        (accounts, counted)
    };
    let before = counted(&room);
    let key = format!("hours:{id}");
    // A stranger holding the link "builds on" the rival: only members' entries count as
    // having relied on a version (else a throwaway key would pick the rival).
    let stranger = Identity::generate();
    let early = on_branch(&mut room, &old_heads, |branch, _| {
        let rival = hours(people[3].public(), 600, 9);
        put_signed(branch, &key, &people[0], rival.canonical("room-1", &id)).unwrap();
        branch.commit();
        let own = crate::crypto::entry_id(&stranger.public());
        let witness = hours(people[0].public(), 1, 9);
        let canonical = witness.canonical("room-1", &own);
        put_signed(branch, &format!("hours:{own}"), &stranger, canonical).unwrap();
    });
    assert_eq!(counted(&room), before);
    assert_eq!(room.time_accounts().0[&people[1].public()], 30);
    assert!(keys_tampered(&room).contains(&key));
    // A device that had the rival first derives the same once it has the rest.
    let mut early = early;
    sync(&mut early, &mut room);
    assert_eq!(counted(&early), before);

    // Nobody built on either version of a second payment: neither counts, and a member who
    // writes after both (having had them both) makes neither count.
    let old_heads = room.heads();
    room.pay_hours(&people[0], &people[2].public(), 45, "", 20)
        .unwrap();
    let second = room
        .time_accounts()
        .1
        .into_iter()
        .find(|t| t.minutes == 45)
        .unwrap()
        .id;
    let key = format!("hours:{second}");
    on_branch(&mut room, &old_heads, |branch, _| {
        let rival = hours(people[3].public(), 45, 20);
        put_signed(branch, &key, &people[0], rival.canonical("room-1", &second)).unwrap();
    });
    room.pay_hours(&people[2], &people[1].public(), 5, "", 21)
        .unwrap();
    let (accounts, transfers) = room.time_accounts();
    assert!(transfers.iter().all(|t| t.id != second));
    assert_eq!(accounts[&people[0].public()], -60);
    assert_eq!(accounts[&people[3].public()], 0);
}

/// The member who opened a pot signs a rival version of its header (another name and unit)
/// on the room as it was founded: the pot others recorded and confirmed money in stays as
/// they had it, with its balance.
#[test]
fn a_rival_version_of_a_pot_s_header_loses_no_pot() {
    use super::pot::PotEntry;
    use super::signed::Entry;
    let (mut room, people) = community(4);
    let (pot, _, _) = confirmed_line(&mut room, &people);
    let key = format!("pot:{pot}");
    let founded = founding(&mut room);
    on_branch(&mut room, &founded, |branch, _| {
        let rival = PotEntry {
            name: "Mine".into(),
            unit: "XXX".into(),
            at: 1,
        };
        put_signed(branch, &key, &people[0], rival.canonical("room-1", &pot)).unwrap();
    });
    let view = room.pot(&pot, 100).unwrap();
    assert_eq!((view.name.as_str(), view.balance), ("Pot", 500));
    assert!(keys_tampered(&room).contains(&key));
}

/// A change to the charter proposed as if three days ago, on the room as it stands (where two
/// other members have signed entries dated today), closing an hour from now, agreed at once by
/// its author and a colluder: the vote was open an hour, not three days — it cannot pass.
/// One member dating their own entries far ahead, on the other hand, does not make an honest
/// vote "too short".
#[test]
fn a_proposal_dated_back_on_the_room_as_it_stands_is_not_open_longer() {
    use super::decisions::ProposalEntry;
    let (mut room, people) = community(4);
    let now = 100 * HOUR;
    room.pay_hours(&people[1], &people[2].public(), 5, "", now)
        .unwrap();
    room.pay_hours(&people[2], &people[1].public(), 5, "", now + 1)
        .unwrap();
    let change = NewProposal {
        title: "Purpose".into(),
        method: Method::Consent,
        options: vec![],
        closes_at: now + HOUR,
        quorum_percent: 50,
        amendment: Some(Amendment::new("purpose", "Ours now")),
    };
    let id = crate::crypto::entry_id(&people[0].public());
    let proposal = ProposalEntry::new(&change, now - 72 * HOUR);
    room.put_entry(&people[0], &format!("decision:{id}"), &id, &proposal)
        .unwrap();
    room.commit();
    for p in [&people[0], &people[3]] {
        room.take_stance(p, &id, Stance::Agree, "", now + 2)
            .unwrap();
    }
    let _ = room.record_outcome(&people[0], &id, "Agreed", None, now + HOUR + 1);
    assert_eq!(outcome_of(&room, &id), super::Outcome::TooShort);
    assert_ne!(room.charter(now + 2 * HOUR).purpose, "Ours now");

    // A member signs an entry dated a year ahead; an honest change proposed after it still
    // passes after its three days.
    room.pay_hours(
        &people[3],
        &people[1].public(),
        5,
        "",
        now + 365 * 24 * HOUR,
    )
    .unwrap();
    let t0 = now + 2 * HOUR;
    let honest = room
        .propose(
            &people[1],
            NewProposal {
                closes_at: t0 + 72 * HOUR,
                amendment: Some(Amendment::new("purpose", "Share tools")),
                ..change
            },
            t0,
        )
        .unwrap();
    for (i, p) in people.iter().enumerate().take(3) {
        room.take_stance(p, &honest, Stance::Agree, "", t0 + 1 + i as i64)
            .unwrap();
    }
    room.record_outcome(&people[1], &honest, "Agreed", None, t0 + 72 * HOUR + 1)
        .unwrap();
    assert_eq!(
        outcome_of(&room, &honest),
        super::Outcome::Passed { winner: None }
    );
    assert_eq!(room.charter(t0 + 73 * HOUR).purpose, "Share tools");
}

/// An entry as builds before entries signed their heads wrote it (no `after`): any copy of it
/// verifies, wherever it is put.
fn put_legacy_vouch(doc: &mut AutoCommit, id: &str, by: &Identity, newcomer: &str, at: i64) {
    let obj = doc
        .put_object(ROOT, format!("vouch:{id}").as_str(), ObjType::Map)
        .unwrap();
    doc.put(&obj, "newcomer", newcomer).unwrap();
    doc.put(&obj, "at", at).unwrap();
    doc.put(&obj, "author", by.public()).unwrap();
    let sig = by.sign(vouch_canonical(id, newcomer, at).bytes());
    doc.put(&obj, "sig", sig).unwrap();
}

/// A room's founder admitted Bo with a vouch written before vouches signed their heads; a
/// modified client copies that vouch into the room as it was founded (before the founder
/// was admitted). Bo stays admitted, and a device that read the copy first derives the same
/// as one that read the original first: a copied entry sits where its shallowest copy is, and
/// was written after whatever any copy was written after.
#[test]
fn a_copy_of_an_old_unanchored_entry_moves_nobody_on_any_device() {
    let (mut room, people) = community(1);
    let bo = introduce(&mut room, "Bo", 2);
    put_legacy_vouch(&mut room.doc, "old", &people[0], &bo.public(), 5);
    room.commit();
    let cy = introduce(&mut room, "Cy", 6);
    room.vouch(&bo, &cy.public(), 7).unwrap();
    assert_eq!(standing(&room, &bo), Some(Standing::Admitted));
    assert_eq!(standing(&room, &cy), Some(Standing::Admitted));
    let members = room.members();
    let founded = founding(&mut room);
    let mut early = on_branch(&mut room, &founded, |branch, _| {
        put_legacy_vouch(branch, "old", &people[0], &bo.public(), 5);
    });
    assert_eq!(room.members(), members);
    sync(&mut early, &mut room);
    assert_eq!(early.members(), members);
}
