//! The data-channel outbox between two real RTCPeerConnections in headless Chromium
//! (wasm-bindgen-test): a burst larger than the browser's send buffer arrives whole and the
//! channel stays open.
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
async fn a_burst_bigger_than_the_send_buffer_arrives_whole() {
    let (send, receive, _keep) = connected_pair().await;
    receive.set_binary_type(RtcDataChannelType::Arraybuffer);
    let received = Rc::new(Cell::new(0usize));
    let counted = received.clone();
    let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |e: MessageEvent| {
        if let Ok(buf) = e.data().dyn_into::<js_sys::ArrayBuffer>() {
            counted.set(counted.get() + buf.byte_length() as usize);
        }
    });
    receive.set_onmessage(Some(on_message.as_ref().unchecked_ref()));

    // 24 MB in 60 KB messages, all handed over at once: more than Chromium's 16 MB send buffer.
    let outbox = Outbox::new(send.clone());
    let chunk = vec![7u8; 60 * 1024];
    let count = 24 * 1024 * 1024 / chunk.len();
    for _ in 0..count {
        assert!(outbox.send(&chunk));
    }
    // The channel was never given more than the high-water mark: the rest waited.
    assert!(send.buffered_amount() <= HIGH_WATER + chunk.len() as u32);
    assert!(outbox.queued() > 0);
    let total = count * chunk.len();
    let r = received.clone();
    until("every byte arrives", 60_000, move || r.get() == total).await;
    assert_eq!(send.ready_state(), RtcDataChannelState::Open);
    assert_eq!(outbox.queued(), 0);
}
