//! Writes a room backup (the app's own format) that a link holder with a modified client has
//! tampered with: a room of three admitted members with a pot, after which one raw change
//! deletes the vouches, the room's name and the board, another alters a ledger line's amount,
//! another puts a value over a member's profile, and another forges a vouch. Restored through the start page, the room
//! must show exactly what was signed and list the tampering. Used by `tests/e2e/integrity.test.mjs`.
//! Usage: cargo run --example tampered_room -- <file>
//! Prints what the honest room holds, as JSON.

use automerge::{transaction::Transactable, ReadDoc, Value, ROOT};
use tequio::crypto::{Identity, RoomSecret};
use tequio::domain::{Backup, EntryKind, NewEntry, Profile, RoomDoc};

const T0: i64 = 1_700_000_000_000;

fn main() {
    let path = std::env::args()
        .nth(1)
        .expect("usage: tampered_room <file>");
    let secret = RoomSecret::generate();
    let mut room = RoomDoc::create(&secret.room_id(), "Tool shed", T0).expect("name");
    let people: Vec<Identity> = (0..3).map(|_| Identity::generate()).collect();
    let names = ["Ana", "Bo", "Cy"];
    let profile = |i: usize| Profile {
        name: names[i].into(),
        ..Profile::default()
    };
    room.found(&people[0], profile(0), T0).expect("found");
    room.set_profile(&people[1], profile(1), T0 + 1)
        .expect("profile");
    room.vouch(&people[0], &people[1].public(), T0 + 2)
        .expect("vouch");
    room.set_profile(&people[2], profile(2), T0 + 3)
        .expect("profile");
    room.vouch(&people[0], &people[2].public(), T0 + 4)
        .expect("vouch");
    assert_eq!(room.admitted().len(), 3);
    let pot = room
        .open_pot(&people[0], "Common pot", "EUR", T0 + 10)
        .expect("pot");
    let line = room
        .record(
            &people[1],
            &pot,
            NewEntry::new(EntryKind::Inflow, 2_500, "dues"),
            T0 + 11,
        )
        .expect("inflow");
    // Money in counts once another member confirms it.
    room.confirm(&people[2], &pot, &line, T0 + 12)
        .expect("confirm");
    let honest = room.pot(&pot, T0 + 100).expect("pot view");

    // What a modified client writes.
    let vouches: Vec<String> = room
        .doc()
        .keys(ROOT)
        .filter(|k| k.starts_with("vouch:"))
        .collect();
    {
        let mut doc = room.doc_mut();
        for key in &vouches {
            doc.delete(ROOT, key.as_str()).expect("delete");
        }
        doc.delete(ROOT, "name").expect("delete");
        doc.delete(ROOT, "posts").expect("delete");
        doc.commit();
        let key = format!("ledger:{pot}:{line}");
        let Ok(Some((Value::Object(_), obj))) = doc.get(ROOT, key.as_str()) else {
            panic!("no ledger line");
        };
        doc.put(&obj, "amount", 999_999i64).expect("alter");
        doc.commit();
        let bo = format!("member:{}", people[1].public());
        doc.put(ROOT, bo.as_str(), "gone").expect("overwrite");
        doc.commit();
        // A vouch in the founder's name that she never signed, for a key nobody knows.
        let forged = doc
            .put_object(ROOT, "vouch:forged", automerge::ObjType::Map)
            .expect("forge");
        doc.put(&forged, "newcomer", "stranger").expect("forge");
        doc.put(&forged, "at", T0 + 50).expect("forge");
        doc.put(&forged, "author", people[0].public())
            .expect("forge");
        doc.put(&forged, "sig", "forged").expect("forge");
        doc.commit();
    }
    assert_eq!(
        room.admitted().len(),
        3,
        "the tampering must change nothing"
    );
    assert_eq!(room.pot(&pot, T0 + 100), Some(honest.clone()));
    let tampered = room.tampering().len();
    assert!(tampered >= vouches.len() + 3);
    let unverified = room.unverified_entries(T0 + 100);
    assert_eq!(unverified, vec!["vouch:forged".to_owned()]);

    let backup = Backup::of(&room, &secret.to_base64url(), &people[0].secret(), T0 + 200);
    std::fs::write(&path, backup.to_json()).expect("write the backup");
    println!(
        "{}",
        serde_json::json!({
            "id": secret.room_id(),
            "name": "Tool shed",
            "members": names,
            "balance": honest.balance,
            "tampered": tampered,
            "unverified": unverified,
        })
    );
}
