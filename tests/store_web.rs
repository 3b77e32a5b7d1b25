//! IndexedDB persistence in a real headless Chromium (wasm-bindgen-test).
#![cfg(target_arch = "wasm32")]

use tequio::crypto::RoomSecret;
use tequio::domain::{NewPost, PostKind, RoomDoc};
use tequio::store::{RoomRecord, Store};
use wasm_bindgen_test::*;

/// A fresh device key to sign with.
fn me() -> tequio::crypto::Identity {
    tequio::crypto::Identity::generate()
}

wasm_bindgen_test_configure!(run_in_browser);

fn post(title: &str) -> NewPost {
    NewPost {
        kind: PostKind::Offer,
        title: title.into(),
        description: "described".into(),
        category: "Tools".into(),
    }
}

async fn fresh_store() -> (Store, String) {
    let name = format!("tequio-test-{}", tequio::crypto::random_id());
    (Store::open(&name).await.unwrap(), name)
}

#[wasm_bindgen_test]
async fn saved_chunks_survive_reopening_the_database() {
    let (store, name) = fresh_store().await;
    let secret = RoomSecret::generate();
    let id = secret.room_id();
    let mut room = RoomDoc::create("room-1", "Tools", 1).unwrap();
    store
        .append_chunk(&id, &room.doc_mut().save_incremental())
        .await
        .unwrap();
    room.add_post(&me(), post("Ladder"), 2).unwrap();
    store
        .append_chunk(&id, &room.doc_mut().save_incremental())
        .await
        .unwrap();
    let record = RoomRecord {
        id: id.clone(),
        name: "Tools".into(),
        secret: secret.to_base64url(),
        joined_at: 1,
        last_opened: 2,
        ..RoomRecord::default()
    };
    store.put_room(&record).await.unwrap();
    drop(store);

    let reopened = Store::open(&name).await.unwrap();
    assert_eq!(reopened.rooms().await.unwrap(), vec![record]);
    let loaded = reopened.load_room(&id).await.unwrap();
    assert_eq!(loaded.chunks.len(), 2);
    let back = RoomDoc::load_chunks("room-1", loaded.chunks.iter().map(Vec::as_slice)).unwrap();
    assert_eq!(back.posts(), room.posts());
    assert_eq!(back.name().as_deref(), Some("Tools"));
}

#[wasm_bindgen_test]
async fn compaction_replaces_chunks_with_one_snapshot() {
    let (store, _) = fresh_store().await;
    let id = RoomSecret::generate().room_id();
    let mut room = RoomDoc::create("room-1", "Pantry", 1).unwrap();
    store
        .append_chunk(&id, &room.doc_mut().save_incremental())
        .await
        .unwrap();
    for i in 0..5 {
        room.add_post(&me(), post(&format!("Jar {i}")), i).unwrap();
        store
            .append_chunk(&id, &room.doc_mut().save_incremental())
            .await
            .unwrap();
    }
    let before = store.load_room(&id).await.unwrap();
    assert_eq!(before.chunks.len(), 6);
    let snapshot_key = store
        .compact(&id, &room.doc_mut().save(), &before.keys)
        .await
        .unwrap();
    let after = store.load_room(&id).await.unwrap();
    assert_eq!(after.keys, vec![snapshot_key]);
    let back = RoomDoc::load_chunks("room-1", after.chunks.iter().map(Vec::as_slice)).unwrap();
    assert_eq!(back.posts().len(), 5);
    assert_eq!(back.posts(), room.posts());
}

#[wasm_bindgen_test]
async fn two_rooms_are_kept_apart() {
    let (store, _) = fresh_store().await;
    let (a, b) = (
        RoomSecret::generate().room_id(),
        RoomSecret::generate().room_id(),
    );
    let mut room_a = RoomDoc::create("room-1", "A", 1).unwrap();
    let mut room_b = RoomDoc::create("room-1", "B", 1).unwrap();
    store
        .append_chunk(&a, &room_a.doc_mut().save())
        .await
        .unwrap();
    store
        .append_chunk(&b, &room_b.doc_mut().save())
        .await
        .unwrap();
    room_b.add_post(&me(), post("Only in B"), 3).unwrap();
    store
        .append_chunk(&b, &room_b.doc_mut().save_incremental())
        .await
        .unwrap();
    let la = store.load_room(&a).await.unwrap();
    let lb = store.load_room(&b).await.unwrap();
    assert_eq!((la.chunks.len(), lb.chunks.len()), (1, 2));
    let back_a = RoomDoc::load_chunks("room-1", la.chunks.iter().map(Vec::as_slice)).unwrap();
    assert_eq!(back_a.name().as_deref(), Some("A"));
    assert!(back_a.posts().is_empty());
    store.delete_room(&a).await.unwrap();
    assert!(store.load_room(&a).await.unwrap().chunks.is_empty());
    assert_eq!(store.load_room(&b).await.unwrap().chunks.len(), 2);
}

#[wasm_bindgen_test]
async fn settings_round_trip() {
    let (store, _) = fresh_store().await;
    assert_eq!(store.setting("name").await.unwrap(), None);
    store.set_setting("name", "\"Ana\"").await.unwrap();
    assert_eq!(
        store.setting("name").await.unwrap().as_deref(),
        Some("\"Ana\"")
    );
}

#[wasm_bindgen_test]
async fn a_backup_restores_a_room_and_merges_into_one_already_here() {
    use tequio::crypto::Identity;
    use tequio::domain::{Backup, Profile};
    let (store, _) = fresh_store().await;
    let secret = RoomSecret::generate();
    let ana = Identity::generate();
    let mut room = RoomDoc::create(&secret.room_id(), "Tools", 1).unwrap();
    let profile = Profile {
        name: "Ana".into(),
        ..Profile::default()
    };
    room.found(&ana, profile, 2).unwrap();
    room.add_post(&ana, post("Ladder"), 3).unwrap();
    let file = Backup::of(&room, &secret.to_base64url(), &ana.secret(), 4).to_json();

    // Restored on a device that never had the room: record, key and content.
    let (backup, _) = Backup::from_json(file.as_bytes()).unwrap();
    let first = store.import(&backup, 5).await.unwrap();
    assert!(!first.merged && first.kept_own_key.is_none());
    let records = store.rooms().await.unwrap();
    assert_eq!(records.len(), 1);
    assert_eq!(
        (records[0].name.as_str(), records[0].identity.as_str()),
        ("Tools", ana.secret().as_str())
    );

    // Later work on this device survives importing the older backup again.
    let loaded = store.load_room(&backup.room_id).await.unwrap();
    let mut here =
        RoomDoc::load_chunks(&backup.room_id, loaded.chunks.iter().map(Vec::as_slice)).unwrap();
    here.add_post(&ana, post("Saw"), 6).unwrap();
    store
        .append_chunk(&backup.room_id, &here.take_unsaved())
        .await
        .unwrap();
    let mut renamed = records[0].clone();
    renamed.identity = Identity::generate().secret();
    store.put_room(&renamed).await.unwrap();
    let again = store.import(&backup, 7).await.unwrap();
    assert!(again.merged, "{again:?}");
    let own = Identity::from_secret(&renamed.identity).unwrap().public();
    assert_eq!(again.kept_own_key, Some(own));
    let loaded = store.load_room(&backup.room_id).await.unwrap();
    let merged =
        RoomDoc::load_chunks(&backup.room_id, loaded.chunks.iter().map(Vec::as_slice)).unwrap();
    let mut titles: Vec<String> = merged.posts().into_iter().map(|p| p.title).collect();
    titles.sort();
    assert_eq!(titles, ["Ladder", "Saw"]);
    // This device's own key in the room is kept (said so); using the backup's is a choice.
    assert_eq!(store.rooms().await.unwrap()[0].identity, renamed.identity);
    store
        .use_identity(&backup.room_id, &ana.secret())
        .await
        .unwrap();
    assert_eq!(store.rooms().await.unwrap()[0].identity, ana.secret());
}

#[wasm_bindgen_test]
async fn kept_facts_reopen_a_room_as_its_history_does_and_go_with_it() {
    let (store, name) = fresh_store().await;
    let secret = RoomSecret::generate();
    let id = secret.room_id();
    let mut room = RoomDoc::create(&id, "Tools", 1).unwrap();
    let ana = me();
    room.found(
        &ana,
        tequio::domain::Profile {
            name: "Ana".into(),
            ..Default::default()
        },
        2,
    )
    .unwrap();
    store.append_chunk(&id, &room.take_unsaved()).await.unwrap();
    store.set_facts(&id, &room.facts()).await.unwrap();
    room.add_post(&ana, post("Ladder"), 3).unwrap();
    store.append_chunk(&id, &room.take_unsaved()).await.unwrap();
    drop(store);

    let reopened = Store::open(&name).await.unwrap();
    let facts = reopened.facts(&id).await;
    assert!(facts.is_some());
    let loaded = reopened.load_room(&id).await.unwrap();
    let back = RoomDoc::load_with_facts(
        &id,
        loaded.chunks.iter().map(Vec::as_slice),
        facts.as_deref(),
    )
    .unwrap();
    // Only the change made after the facts was read again.
    assert_eq!(back.facts_behind(), 1);
    assert_eq!(back.members(), room.members());
    assert_eq!(back.posts(), room.posts());
    // Forgetting the room forgets its facts.
    reopened.delete_room(&id).await.unwrap();
    assert_eq!(reopened.facts(&id).await, None);
}
