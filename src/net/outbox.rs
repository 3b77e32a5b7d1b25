//! Flow control for a data channel: messages wait in a queue and are handed to the channel only
//! while its send buffer holds less than `HIGH_WATER`; the channel's `bufferedamountlow` event
//! sends more. Without this, a large sync (many chunks sent at once) overfills the browser's
//! buffer (16 MB in Chromium) and the channel is closed.

use crate::replica::Sent;
use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;
use wasm_bindgen::prelude::*;
use web_sys::{RtcDataChannel, RtcDataChannelState};

/// Stop handing messages to the channel above this many buffered bytes.
pub const HIGH_WATER: u32 = 4 * 1024 * 1024;
/// Resume when the buffer drains below this.
pub const LOW_WATER: u32 = 1024 * 1024;
/// Messages waiting beyond this many bytes mean the peer cannot keep up: the send is refused
/// (and the peer dropped, see `replica`). One largest message fits, with room to spare.
pub const MAX_QUEUED: usize = crate::sync::MAX_MESSAGE + 32 * 1024 * 1024;

struct Inner {
    channel: RtcDataChannel,
    queue: VecDeque<Vec<u8>>,
    queued_bytes: usize,
}

/// The sending side of one data channel.
#[derive(Clone)]
pub struct Outbox {
    inner: Rc<RefCell<Inner>>,
    _on_low: Rc<Closure<dyn FnMut()>>,
}

impl Outbox {
    pub fn new(channel: RtcDataChannel) -> Self {
        channel.set_buffered_amount_low_threshold(LOW_WATER);
        let inner = Rc::new(RefCell::new(Inner {
            channel: channel.clone(),
            queue: VecDeque::new(),
            queued_bytes: 0,
        }));
        let weak = Rc::downgrade(&inner);
        let on_low = Closure::<dyn FnMut()>::new(move || {
            if let Some(inner) = weak.upgrade() {
                pump(&inner);
            }
        });
        channel.set_onbufferedamountlow(Some(on_low.as_ref().unchecked_ref()));
        Outbox {
            inner,
            _on_low: Rc::new(on_low),
        }
    }

    /// Queues a message and sends what the channel can take now; refused (dropped) if the
    /// channel is not open or the queue is full.
    pub fn send(&self, bytes: &[u8]) -> Sent {
        {
            let mut inner = self.inner.borrow_mut();
            if inner.channel.ready_state() != RtcDataChannelState::Open {
                return Sent::Closed;
            }
            if inner.queued_bytes + bytes.len() > MAX_QUEUED {
                return Sent::Full;
            }
            inner.queued_bytes += bytes.len();
            inner.queue.push_back(bytes.to_vec());
        }
        if pump(&self.inner) {
            Sent::Queued
        } else {
            Sent::Closed
        }
    }

    /// Bytes waiting in the queue (not yet handed to the channel).
    pub fn queued(&self) -> usize {
        self.inner.borrow().queued_bytes
    }

    /// Bytes sent through it that have not gone on the wire yet: those in the queue and those
    /// the channel buffers. The queue alone stands still while the channel drains from
    /// `HIGH_WATER` to `LOW_WATER` (half a minute on a slow link); this moves as it drains.
    pub fn unsent(&self) -> usize {
        let inner = self.inner.borrow();
        inner.queued_bytes + inner.channel.buffered_amount() as usize
    }

    /// Stops listening to the channel.
    pub fn close(&self) {
        self.inner.borrow().channel.set_onbufferedamountlow(None);
        let mut inner = self.inner.borrow_mut();
        inner.queue.clear();
        inner.queued_bytes = 0;
    }
}

/// Hands queued messages to the channel while its buffer is below the high-water mark.
fn pump(inner: &Rc<RefCell<Inner>>) -> bool {
    let mut inner = inner.borrow_mut();
    while inner.channel.buffered_amount() < HIGH_WATER {
        let Some(next) = inner.queue.pop_front() else {
            break;
        };
        inner.queued_bytes -= next.len();
        if inner.channel.send_with_u8_array(&next).is_err() {
            inner.queue.clear();
            inner.queued_bytes = 0;
            return false;
        }
    }
    true
}
