//! The data-channel outbox between two real RTCPeerConnections in headless Chromium
//! (wasm-bindgen-test): a 50 MB sync message, split into frames under the channel's message
//! size, is handed over at once — far more than the browser's send buffer — and arrives whole,
//! reassembled, with the channel still open. Also which network configuration a device
//! starts with (`NetConfig::at_start`).
#![cfg(target_arch = "wasm32")]

use std::cell::Cell;
use std::rc::Rc;
use tequio::net::outbox::{Outbox, HIGH_WATER};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::*;
use web_sys::{
    MessageEvent, RtcDataChannel, RtcDataChannelInit, RtcDataChannelState, RtcDataChannelType,
    RtcPeerConnection, RtcPeerConnectionIceEvent, RtcSdpType, RtcSessionDescriptionInit,
};

wasm_bindgen_test_configure!(run_in_browser);

async fn sleep(ms: i32) {
    gloo_timers::future::TimeoutFuture::new(ms as u32).await;
}

/// Waits (bounded) until `check` holds.
async fn until(what: &str, limit_ms: i32, check: impl Fn() -> bool) {
    let mut waited = 0;
    while !check() {
        assert!(
            waited < limit_ms,
            "never happened within {limit_ms} ms: {what}"
        );
        sleep(10).await;
        waited += 10;
    }
}

/// Sends each ICE candidate of `from` to `to`.
fn trickle(
    from: &RtcPeerConnection,
    to: &RtcPeerConnection,
) -> Closure<dyn FnMut(RtcPeerConnectionIceEvent)> {
    let to = to.clone();
    let cb = Closure::<dyn FnMut(RtcPeerConnectionIceEvent)>::new(
        move |e: RtcPeerConnectionIceEvent| {
            if let Some(c) = e.candidate() {
                let _ = to.add_ice_candidate_with_opt_rtc_ice_candidate(Some(&c));
            }
        },
    );
    from.set_onicecandidate(Some(cb.as_ref().unchecked_ref()));
    cb
}

async fn describe(
    pc: &RtcPeerConnection,
    kind: RtcSdpType,
    promise: js_sys::Promise,
) -> RtcSessionDescriptionInit {
    let desc = JsFuture::from(promise).await.unwrap();
    let sdp = js_sys::Reflect::get(&desc, &"sdp".into())
        .unwrap()
        .as_string()
        .unwrap();
    let init = RtcSessionDescriptionInit::new(kind);
    init.set_sdp(&sdp);
    JsFuture::from(pc.set_local_description(&init))
        .await
        .unwrap();
    init
}

/// Two connections in this page joined by a negotiated data channel: (sender, receiver).
async fn connected_pair() -> (RtcDataChannel, RtcDataChannel, Vec<Box<dyn std::any::Any>>) {
    let (a, b) = (
        RtcPeerConnection::new().unwrap(),
        RtcPeerConnection::new().unwrap(),
    );
    let keep: Vec<Box<dyn std::any::Any>> =
        vec![Box::new(trickle(&a, &b)), Box::new(trickle(&b, &a))];
    let init = RtcDataChannelInit::new();
    init.set_negotiated(true);
    init.set_id(0);
    let send = a.create_data_channel_with_data_channel_dict("tequio", &init);
    let receive = b.create_data_channel_with_data_channel_dict("tequio", &init);
    let offer = describe(&a, RtcSdpType::Offer, a.create_offer()).await;
    JsFuture::from(b.set_remote_description(&offer))
        .await
        .unwrap();
    let answer = describe(&b, RtcSdpType::Answer, b.create_answer()).await;
    JsFuture::from(a.set_remote_description(&answer))
        .await
        .unwrap();
    let s = send.clone();
    until("the channel opens", 10_000, move || {
        s.ready_state() == RtcDataChannelState::Open
    })
    .await;
    let mut keep = keep;
    keep.push(Box::new((a, b)));
    (send, receive, keep)
}

#[wasm_bindgen_test]
async fn a_50_mb_message_crosses_in_frames_and_arrives_whole() {
    use std::cell::RefCell;
    use tequio::sync::{Frame, Reassembler};

    let (send, receive, _keep) = connected_pair().await;
    receive.set_binary_type(RtcDataChannelType::Arraybuffer);
    let whole: Rc<RefCell<Option<Vec<u8>>>> = Rc::default();
    let bytes_in = Rc::new(Cell::new(0usize));
    let on_message = {
        let whole = whole.clone();
        let bytes_in = bytes_in.clone();
        let mut reassembler = Reassembler::default();
        Closure::<dyn FnMut(MessageEvent)>::new(move |e: MessageEvent| {
            let Ok(buf) = e.data().dyn_into::<js_sys::ArrayBuffer>() else {
                return;
            };
            let bytes = js_sys::Uint8Array::new(&buf).to_vec();
            bytes_in.set(bytes_in.get() + bytes.len());
            let frame = Frame::decode(&bytes).expect("a well-formed frame");
            if let Some(message) = reassembler.push(frame, js_sys::Date::now() as i64) {
                *whole.borrow_mut() = Some(message);
            }
        })
    };
    receive.set_onmessage(Some(on_message.as_ref().unchecked_ref()));

    // 50 MB that no compression or repetition could shorten.
    let mut message = vec![0u8; 50 * 1024 * 1024];
    for (i, b) in message.iter_mut().enumerate() {
        *b = (i.wrapping_mul(2_654_435_761) >> 13) as u8;
    }
    let frames = Frame::split(7, &message);
    assert!(frames.len() > 800, "{} frames", frames.len());
    let outbox = Outbox::new(send.clone());
    let started = js_sys::Date::now();
    for frame in &frames {
        assert_eq!(outbox.send(frame), tequio::replica::Sent::Queued);
    }
    // The channel was never given more than the high-water mark: the rest waited.
    assert!(send.buffered_amount() <= HIGH_WATER + 64 * 1024);
    assert!(outbox.queued() > 0);
    let w = whole.clone();
    until("the whole message arrives", 120_000, move || {
        w.borrow().is_some()
    })
    .await;
    let ms = js_sys::Date::now() - started;
    web_sys::console::log_1(
        &format!(
            "50 MB in {} frames: {ms:.0} ms ({:.1} MB/s)",
            frames.len(),
            50.0 / (ms / 1000.0)
        )
        .into(),
    );
    assert!(
        whole.borrow().as_deref() == Some(&message[..]),
        "arrived intact"
    );
    assert_eq!(send.ready_state(), RtcDataChannelState::Open);
    assert_eq!(outbox.queued(), 0);
}

/// Where a device meets at start-up: the person's own settings win, then `config.json` as
/// fetched now, then the copy kept from the last fetch (a device started offline); nothing
/// readable means none, and the app fetches `config.json` again once the network is back.
#[wasm_bindgen_test]
fn the_network_configuration_at_start_prefers_own_then_fetched_then_kept() {
    use tequio::net::NetConfig;
    let config = |url: &str| NetConfig {
        signaling: vec![url.to_owned()],
        ..NetConfig::default()
    };
    let text = |c: &NetConfig| serde_json::to_string(c).unwrap();
    let (own, fetched, kept) = (
        config("ws://own"),
        config("ws://fetched"),
        config("ws://kept"),
    );
    let pick =
        |o: Option<&str>, f: Option<NetConfig>, k: Option<&str>| NetConfig::at_start(o, f, k);
    assert_eq!(
        pick(Some(&text(&own)), Some(fetched.clone()), Some(&text(&kept))),
        Some(own.clone())
    );
    assert_eq!(
        pick(None, Some(fetched.clone()), Some(&text(&kept))),
        Some(fetched.clone())
    );
    assert_eq!(pick(None, None, Some(&text(&kept))), Some(kept.clone()));
    assert_eq!(pick(None, None, None), None);
    // Unreadable settings count as none; a late config.json does not replace own settings.
    assert_eq!(pick(Some("{"), None, Some("[")), None);
    assert_eq!(pick(Some("{"), Some(fetched.clone()), None), Some(fetched));
    assert_eq!(
        pick(Some(&text(&own)), Some(config("ws://late")), None),
        Some(own)
    );
}
