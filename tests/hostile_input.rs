//! Property tests: whatever bytes a peer, a relay or a pasted link supplies, decoding returns an
//! error or a value — it never panics and never changes the document unless the input was a
//! genuine sync message.
#![cfg(not(target_arch = "wasm32"))]

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
