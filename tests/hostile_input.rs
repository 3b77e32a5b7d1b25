//! Property tests: whatever bytes a peer, a relay or a pasted link supplies, decoding returns an
//! error or a value — it never panics and never changes the document unless the input was a
//! genuine sync message.
#![cfg(not(target_arch = "wasm32"))]

mod support;

use proptest::prelude::*;
use tequio::crypto::{parse_join_link, to_base64url, RoomSecret};
use tequio::domain::RoomDoc;
use tequio::sync::{
    nostr, read_channel_signal, Frame, Reassembler, Session, Signal, DATA_CONTEXT,
    MAX_SIGNAL_AGE_MS,
};

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn frames_from_random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        if let Ok(frame) = Frame::decode(&bytes) {
            prop_assert!(frame.index < frame.count);
            let mut r = Reassembler::default();
            let _ = r.push(frame, 0);
        }
    }

    #[test]
    fn sealed_garbage_never_reaches_the_document(
        plain in proptest::collection::vec(any::<u8>(), 0..300),
        as_frame in any::<bool>(),
    ) {
        let secret = RoomSecret::from_bytes([3; 32]);
        let key = secret.room_key();
        let mut room = RoomDoc::create("room-1", "Target", 0).unwrap();
        let heads = room.doc_mut().get_heads();
        // Garbage sealed with the right key: it authenticates, then must fail to decode.
        let payload = if as_frame { Frame::split(7, &plain).remove(0) } else { plain };
        let sealed = key.seal(DATA_CONTEXT, &payload);
        let mut session = Session::new(key);
        let _ = session.receive(&mut room.doc_mut(), &sealed, 0);
        prop_assert_eq!(room.doc_mut().get_heads(), heads);
    }

    #[test]
    fn unsealed_random_bytes_are_refused(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        let key = RoomSecret::from_bytes([4; 32]).room_key();
        let mut room = RoomDoc::create("room-1", "Target", 0).unwrap();
        let mut session = Session::new(key);
        prop_assert!(session.receive(&mut room.doc_mut(), &bytes, 0).is_err());
    }

    #[test]
    fn signaling_text_never_panics(text in ".{0,200}", bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let key = RoomSecret::from_bytes([5; 32]).room_key();
        prop_assert!(Signal::open(&key, &text, 0, MAX_SIGNAL_AGE_MS).is_err());
        prop_assert!(Signal::open(&key, &to_base64url(&bytes), 0, MAX_SIGNAL_AGE_MS).is_err());
    }

    #[test]
    fn relay_and_peer_signal_messages_never_panic(
        text in ".{0,300}",
        bytes in proptest::collection::vec(any::<u8>(), 0..300),
        sub in "[a-z]{0,4}",
    ) {
        // Whatever a Nostr relay sends: JSON-ish garbage or events of every shape.
        let topics = [tequio::sync::topic::Topic { name: "topic".into(), kind: 21430 }];
        let _ = nostr::read(&text, "s", &topics);
        let shaped = format!(r#"["EVENT","{sub}",{{"kind":21430,"tags":[["t","topic"]],"content":{text:?},"id":"{sub}"}}]"#);
        let _ = nostr::read(&shaped, "s", &topics);
        // Whatever a peer sends on its data channel as a passed-on signal.
        if let Some((_, sealed)) = read_channel_signal(&bytes) {
            let key = RoomSecret::from_bytes([5; 32]).room_key();
            prop_assert!(Signal::open(&key, sealed, 0, MAX_SIGNAL_AGE_MS).is_err());
        }
    }

    #[test]
    fn join_links_never_panic(text in ".{0,120}") {
        let _ = parse_join_link(&text);
        let _ = parse_join_link(&format!("https://x.test/#/join/{text}"));
    }
}

/// One piece of a sync message a key holder makes up: a change hash that the victim has (by
/// index into its changes) or does not.
#[derive(Debug, Clone)]
enum Hash {
    Known(usize),
    Made([u8; 32]),
}

fn hash() -> impl Strategy<Value = Hash> {
    prop_oneof![
        (0usize..64).prop_map(Hash::Known),
        any::<[u8; 32]>().prop_map(Hash::Made),
    ]
}

/// A Bloom filter's bytes: empty, or entries, bits per entry, probes and bits, each in or
/// well out of the ranges automerge writes.
fn bloom() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        Just(Vec::new()),
        (
            prop_oneof![0u64..40, Just(1 << 25), Just(u64::from(u32::MAX))],
            prop_oneof![0u64..40, Just(u64::from(u32::MAX))],
            prop_oneof![0u64..40, Just(u64::from(u32::MAX))],
            proptest::collection::vec(any::<u8>(), 0..64),
        )
            .prop_map(|(entries, per_entry, probes, bits)| {
                let mut out = Vec::new();
                for v in [entries, per_entry, probes] {
                    support::leb(&mut out, v);
                }
                out.extend(bits);
                out
            }),
    ]
}

/// What a made-up message carries: heads, needs, haves (last sync and filter), changes (real
/// ones from another copy of the room, some altered), flags.
#[derive(Debug, Clone)]
struct Made {
    v2: bool,
    heads: Vec<Hash>,
    need: Vec<Hash>,
    have: Vec<(Vec<Hash>, Vec<u8>)>,
    changes: Vec<(usize, Option<(usize, u8)>)>,
    flags: Option<Vec<u8>>,
}

fn made() -> impl Strategy<Value = Made> {
    (
        any::<bool>(),
        proptest::collection::vec(hash(), 0..4),
        proptest::collection::vec(hash(), 0..3),
        proptest::collection::vec((proptest::collection::vec(hash(), 0..3), bloom()), 0..3),
        proptest::collection::vec(
            (
                0usize..64,
                proptest::option::of((0usize..4096, any::<u8>())),
            ),
            0..6,
        ),
        proptest::option::of(proptest::collection::vec(any::<u8>(), 0..6)),
    )
        .prop_map(|(v2, heads, need, have, changes, flags)| Made {
            v2,
            heads,
            need,
            have,
            changes,
            flags,
        })
}

/// The room a key holder attacks, and another copy of it with changes of its own (whose
/// changes the attacker sends, as they are or altered).
fn rooms() -> (RoomDoc, Vec<Vec<u8>>) {
    use tequio::domain::{NewPost, PostKind};
    let me = tequio::crypto::Identity::generate();
    let mut victim = RoomDoc::create("room-1", "Target", 0).unwrap();
    let post = |t: &str| NewPost {
        kind: PostKind::Offer,
        title: t.into(),
        description: "a description long enough to be compressed ".repeat(8),
        category: "Tools".into(),
    };
    for i in 0..4 {
        victim.add_post(&me, post(&format!("mine {i}")), i).unwrap();
    }
    let mut other = RoomDoc::load_chunks("room-1", [victim.doc_mut().save().as_slice()]).unwrap();
    for i in 0..4 {
        other
            .add_post(&me, post(&format!("theirs {i}")), 10 + i)
            .unwrap();
    }
    let changes = other
        .doc_mut()
        .get_changes(&[])
        .iter()
        .map(|c| c.raw_bytes().to_vec())
        .collect();
    (victim, changes)
}

fn encode(m: &Made, known: &[[u8; 32]], changes: &[Vec<u8>]) -> Vec<u8> {
    let hash = |h: &Hash| match h {
        Hash::Known(i) => known[i % known.len()],
        Hash::Made(b) => *b,
    };
    let hashes = |out: &mut Vec<u8>, hs: &[Hash]| {
        support::leb(out, hs.len() as u64);
        for h in hs {
            out.extend(hash(h));
        }
    };
    let mut out = vec![if m.v2 { 0x43 } else { 0x42 }];
    hashes(&mut out, &m.heads);
    hashes(&mut out, &m.need);
    support::leb(&mut out, m.have.len() as u64);
    for (last_sync, bloom) in &m.have {
        hashes(&mut out, last_sync);
        support::leb(&mut out, bloom.len() as u64);
        out.extend(bloom);
    }
    support::leb(&mut out, m.changes.len() as u64);
    for (i, alter) in &m.changes {
        let mut change = changes[i % changes.len()].clone();
        if let Some((at, byte)) = alter {
            let at = at % change.len();
            change[at] ^= byte | 1;
        }
        support::leb(&mut out, change.len() as u64);
        out.extend(change);
    }
    if let Some(flags) = &m.flags {
        support::leb(&mut out, flags.len() as u64);
        out.extend(flags);
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(384))]

    /// Structurally made sync messages from a key holder — real hashes and real changes,
    /// filters of every shape, altered changes, flags — never make the session panic, in
    /// what it receives or in what it answers next; a refused one changes nothing.
    #[test]
    fn made_up_sync_messages_from_a_key_holder_never_panic(made in made()) {
        let key = RoomSecret::from_bytes([6; 32]).room_key();
        let (mut victim, changes) = rooms();
        let known: Vec<[u8; 32]> =
            victim.doc_mut().get_changes(&[]).iter().map(|c| c.hash().0).collect();
        let message = encode(&made, &known, &changes);
        let heads = victim.doc_mut().get_heads();
        let mut session = Session::new(key.clone());
        let mut refused = false;
        for frame in Frame::split(1, &message) {
            let sealed = key.seal(DATA_CONTEXT, &frame);
            refused |= session.receive(&mut victim.doc_mut(), &sealed, 0).is_err();
        }
        if refused {
            prop_assert_eq!(victim.doc_mut().get_heads(), heads);
        }
        let _ = session.outgoing(&mut victim.doc_mut(), 0);
        let _ = session.outgoing(&mut victim.doc_mut(), 1);
    }
}

/// A genuine backup file (a founded room with a post), to mutate.
fn genuine_backup() -> (Vec<u8>, Vec<u8>) {
    use tequio::crypto::Identity;
    use tequio::domain::{Backup, NewPost, PostKind, Profile};
    let secret = RoomSecret::generate();
    let mut room = RoomDoc::create(&secret.room_id(), "Commons", 0).unwrap();
    let ana = Identity::generate();
    let profile = Profile {
        name: "Ana".into(),
        ..Profile::default()
    };
    room.found(&ana, profile, 1).unwrap();
    let post = NewPost {
        kind: PostKind::Offer,
        title: "Ladder".into(),
        description: "x".into(),
        category: "Tools".into(),
    };
    room.add_post(&ana, post, 2).unwrap();
    let backup = Backup::of(&room, &secret.to_base64url(), &ana.secret(), 3);
    (backup.to_json().into_bytes(), backup.document.clone())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Whatever a backup file holds — random bytes, a genuine file with bytes flipped, cut
    /// short or its document replaced by random or damaged bytes — reading it returns the room
    /// or an error, and never panics.
    #[test]
    fn backups_of_any_shape_never_panic(
        noise in proptest::collection::vec(any::<u8>(), 0..300),
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..8),
        cut in any::<prop::sample::Index>(),
        how in 0u8..4,
    ) {
        let (json, document) = genuine_backup();
        let bytes = match how {
            0 => noise.clone(),
            1 => {
                let mut b = json.clone();
                for (at, byte) in &flips {
                    let i = at.index(b.len());
                    b[i] = *byte;
                }
                b
            }
            2 => json[..cut.index(json.len() + 1)].to_vec(),
            _ => {
                // The document field replaced by damaged or random bytes.
                let mut damaged = document.clone();
                for (at, byte) in &flips {
                    let i = at.index(damaged.len());
                    damaged[i] ^= *byte;
                }
                damaged.truncate(cut.index(damaged.len() + 1).max(1));
                damaged.extend(&noise);
                let text = String::from_utf8(json.clone()).unwrap();
                let original = to_base64url(&document);
                text.replace(&original, &to_base64url(&damaged)).into_bytes()
            }
        };
        let _ = tequio::domain::Backup::from_json(&bytes);
    }
}
