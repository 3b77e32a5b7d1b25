//! The open room on this device, as the page sees it: a shell around `replica::Replica` (the
//! document, its saves and its peers' sync sessions, pure Rust) that wires it to IndexedDB
//! (`IdbChunks`), to the WebRTC mesh (`MeshLinks`) and to the view. Every change, local or from
//! a peer, goes through the replica: document → IndexedDB → peers → view.

use super::t;
use crate::crypto::{Identity, RoomSecret};
use crate::domain::{DomainError, Post, RoomDoc};
use crate::net::mailbox::Mailbox;
use crate::net::{Mesh, NetConfig, NetEvent};
pub use crate::replica::PeerState;
use crate::replica::{
    ChunkStore, KeyEvent, Outcome, PeerLinks, Replica, Sent, StoreEvent, Unwritten,
};
use crate::store::{RoomRecord, Store};
use leptos::prelude::*;
use std::cell::RefCell;
use std::rc::{Rc, Weak};

/// What the room page shows; rebuilt from the document after every change.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RoomView {
    pub name: Option<String>,
    pub ready: bool,
    pub writable: bool,
    /// The room says a newer version of Tequio wrote to it (unsigned, so only advice).
    pub newer_schema: bool,
    pub posts: Vec<Post>,
    pub peers: usize,
    /// Each connected peer (short id), whether we both hold the same document, and when that
    /// was last known to be so.
    pub peer_sync: Vec<PeerState>,
    /// Devices found since the last successful connection that could not be reached directly.
    pub unreachable: usize,
    pub pending_saves: usize,
    pub save_error: Option<String>,
    /// The room moved on to a key this device was not given (its member was removed or left):
    /// nothing written after reaches it.
    pub cut_off: bool,
    /// The room has not arrived, and a device under the link's key said that key was replaced
    /// (the room moved on to a key this link does not give).
    pub replaced: bool,
    /// How many changes the room's rules ignored (deletes, overwrites, edits of signed
    /// entries): listed under Members → Room integrity.
    pub tampered: usize,
    /// The room's mailbox on Nostr relays, as this device knows it.
    pub mail: MailView,
    /// Bumped whenever the document changes: sections derive their own views from the room
    /// (through [`RoomHandle::read`]) when this moves, and only while they are shown.
    pub version: u64,
}

/// What the header says of the mailbox: never more than the relays said.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MailView {
    /// Relays configured (none: no mailbox).
    pub relays: usize,
    /// The fewest relays any of this device's events of this opening reached (none published
    /// yet: `None`).
    pub reached: Option<usize>,
    /// This device's events no relay has said it stored yet.
    pub waiting: usize,
}

struct Runtime {
    record: RoomRecord,
    replica: Replica,
    /// The mesh of the room key in force and of former keys still heard (see
    /// `replica::KeyEvent`), each with its key's fingerprint.
    meshes: Vec<(String, Mesh)>,
    config: NetConfig,
    store: Store,
    /// A room-list summary update is scheduled (see [`RoomHandle::update_record`]).
    summary_due: bool,
    view: RwSignal<RoomView>,
    /// Calls the replica's `tick` every second while the room is open.
    ticker: Option<gloo_timers::callback::Interval>,
    /// The room's mailbox on the configured Nostr relays (none configured: none).
    mailbox: Option<Mailbox>,
    /// This device's changes handed to the mailbox and not yet known to have reached a relay:
    /// the heads they reach up to (hex) and their events' ids, oldest first.
    unmailed: std::collections::VecDeque<(Vec<String>, Vec<String>)>,
    /// Something may have been written here since the mailbox was last given this device's
    /// changes.
    mail_due: bool,
    /// Seconds ticked, to keep the mailbox's marks with the room now and then.
    ticks: u64,
}

/// How many of this device's actors of earlier openings are remembered for the mailbox.
const MAIL_ACTORS: usize = 64;

/// A handle on the open room, cheap to clone into event handlers.
#[derive(Clone)]
pub struct RoomHandle(Rc<RefCell<Runtime>>);

/// How long after moving on to a new key devices are still met under the former one. The key
/// the one in force replaced is kept as long as that one is in force: a member away across the
/// last rotation, or on a rival key that lost, meets the room there whenever it comes back.
const FORMER_KEY_MS: i64 = 7 * 24 * 60 * 60 * 1000;

/// Above this many changes read beyond the kept facts at open, new facts are kept.
const FACTS_BEHIND: usize = 200;

fn now_ms() -> i64 {
    js_sys::Date::now() as i64
}

/// A random id for a mailbox payload.
fn mail_id() -> [u8; 16] {
    let mut id = [0u8; 16];
    crate::crypto::random_bytes(&mut id);
    id
}

fn warn(text: &str) {
    web_sys::console::warn_1(&format!("tequio: {text}").into());
}

/// IndexedDB behind the replica's store port: each write runs in the background and reports
/// back to the open room (if it is still open).
struct IdbChunks {
    store: Store,
    room_id: String,
    owner: Weak<RefCell<Runtime>>,
}

impl IdbChunks {
    fn report(owner: &Weak<RefCell<Runtime>>, event: StoreEvent) {
        if let Some(rt) = owner.upgrade() {
            RoomHandle(rt).on_store(event);
        }
    }
}

impl ChunkStore for IdbChunks {
    fn append(&mut self, op: u64, bytes: Vec<u8>) {
        let (store, id, owner) = (self.store.clone(), self.room_id.clone(), self.owner.clone());
        leptos::task::spawn_local(async move {
            let result = match store.append_chunk(&id, &bytes).await {
                Ok(key) => Ok(key),
                Err(e) => Err(Unwritten {
                    error: e.to_string(),
                    bytes,
                }),
            };
            Self::report(&owner, StoreEvent::Appended { op, result });
        });
    }

    fn compact(&mut self, op: u64, snapshot: Vec<u8>, replaced: Vec<String>) {
        let (store, id, owner) = (self.store.clone(), self.room_id.clone(), self.owner.clone());
        leptos::task::spawn_local(async move {
            let result = store
                .compact(&id, &snapshot, &replaced)
                .await
                .map_err(|e| e.to_string());
            Self::report(&owner, StoreEvent::Compacted { op, result });
        });
    }

    fn keep_facts(&mut self, facts: String) {
        let (store, id) = (self.store.clone(), self.room_id.clone());
        leptos::task::spawn_local(async move {
            if let Err(e) = store.set_facts(&id, &facts).await {
                warn(&format!("facts not kept: {e}"));
            }
        });
    }
}

/// The WebRTC mesh behind the replica's links port. Sending is synchronous (nothing calls
/// back); peers to drop are noted and dropped once the replica is no longer borrowed.
struct MeshLinks {
    meshes: Vec<Mesh>,
    dropped: Vec<(String, i64)>,
}

impl PeerLinks for MeshLinks {
    fn send(&mut self, peer: &str, sealed: &[u8]) -> Sent {
        // A device id belongs to one mesh (one key): the others do not know it.
        for mesh in &self.meshes {
            match mesh.send(peer, sealed) {
                Sent::Closed => continue,
                sent => return sent,
            }
        }
        Sent::Closed
    }

    fn queued(&self, peer: &str) -> usize {
        self.meshes
            .iter()
            .find_map(|mesh| mesh.unsent(peer))
            .unwrap_or(0)
    }

    fn drop_peer(&mut self, peer: &str, until: i64) {
        self.dropped.push((peer.to_owned(), until));
    }
}

impl RoomHandle {
    /// Loads the room from IndexedDB and starts looking for its peers.
    pub async fn open(store: Store, record: RoomRecord, config: NetConfig) -> Result<Self, String> {
        let secret = RoomSecret::from_base64url(&record.secret).map_err(|e| e.to_string())?;
        let mut record = record;
        let me = match Identity::from_secret(&record.identity) {
            Some(me) => me,
            // A damaged key is not replaced: a new one would silently make this device a
            // stranger to the room it was a member of.
            None if !record.identity.is_empty() => {
                return Err(t("this device's key for the room is damaged. Restore a backup of the room to get it back (the room's data is kept as it is).").to_string());
            }
            None => {
                // A room saved before identities: give this device its key now and keep it.
                let me = Identity::generate();
                record.identity = me.secret();
                store
                    .put_room(&record)
                    .await
                    .map_err(|e| tr!("this device's key could not be saved: {}", e))?;
                me
            }
        };
        let loaded = store
            .load_room(&record.id)
            .await
            .map_err(|e| e.to_string())?;
        let facts = store.facts(&record.id).await;
        let mut room = RoomDoc::load_with_facts(
            &record.id,
            loaded.chunks.iter().map(Vec::as_slice),
            facts.as_deref(),
        )
        .map_err(|e| tr!("the saved room could not be read: {}", e))?;
        room.pin_founder((!record.founder.is_empty()).then(|| record.founder.clone()));
        let replica = Replica::new(room, me, secret, loaded.keys);
        let handle = RoomHandle(Rc::new(RefCell::new(Runtime {
            record,
            replica,
            meshes: Vec::new(),
            config,
            store,
            summary_due: false,
            view: RwSignal::new(RoomView::default()),
            ticker: None,
            mailbox: None,
            unmailed: std::collections::VecDeque::new(),
            mail_due: true,
            ticks: 0,
        })));
        let current = handle.0.borrow().replica.secret().clone();
        handle.join_mesh(&current);
        // Former keys still heard: devices that were away when the key changed learn of the
        // new one there (they are served the room as it was when it changed).
        let former: Vec<RoomSecret> = {
            let mut rt = handle.0.borrow_mut();
            let now = now_ms();
            let replaced = rt.replica.replaced_key().map(RoomSecret::to_base64url);
            rt.record
                .former_keys
                .retain(|(s, until)| *until > now || Some(s) == replaced.as_ref());
            if let Some(replaced) = replaced {
                // Moved on while the room was closed (or before former keys were kept).
                if !rt.record.former_keys.iter().any(|(s, _)| *s == replaced) {
                    rt.record.former_keys.push((replaced, now + FORMER_KEY_MS));
                }
            }
            rt.record
                .former_keys
                .iter()
                .filter_map(|(s, _)| RoomSecret::from_base64url(s).ok())
                .collect()
        };
        for secret in former {
            handle.join_mesh(&secret);
        }
        handle.open_mailbox();
        let weak = Rc::downgrade(&handle.0);
        let ticker = gloo_timers::callback::Interval::new(1_000, move || {
            if let Some(rt) = weak.upgrade() {
                let handle = RoomHandle(rt);
                handle.act(|replica, _, links| replica.tick(now_ms(), links));
                handle.tick_mail();
            }
        });
        handle.0.borrow_mut().ticker = Some(ticker);
        handle.refresh();
        handle.update_record();
        if handle.0.borrow().replica.room().facts_behind() > FACTS_BEHIND {
            handle.act(|replica, store, _| store.keep_facts(replica.room().facts()));
        }
        Ok(handle)
    }

    /// Starts finding the room's devices under `secret` (a new mesh; the others stay).
    fn join_mesh(&self, secret: &RoomSecret) {
        let key = secret.fingerprint();
        let weak = Rc::downgrade(&self.0);
        let (config, member) = {
            let rt = self.0.borrow();
            (rt.config.clone(), rt.replica.me().clone())
        };
        let fingerprint = key.clone();
        let mesh = Mesh::join(secret, member, config, move |event| {
            if let Some(rt) = weak.upgrade() {
                RoomHandle(rt).on_net(&fingerprint, event);
            }
        });
        self.0.borrow_mut().meshes.push((key, mesh));
    }

    /// Connects to the configured Nostr relays for the room's mailbox: what arrives there goes
    /// through the replica like a peer's changes.
    fn open_mailbox(&self) {
        let (secret, relays, marks) = {
            let rt = self.0.borrow();
            (
                rt.replica.secret().clone(),
                rt.config.nostr.clone(),
                rt.record.relays.clone(),
            )
        };
        if relays.is_empty() {
            return;
        }
        // This device's changes not known to have reached a relay are mailed again; this
        // opening's actor is remembered (in the record saved now, in the background: a full
        // disk keeps no room from opening — at worst, this opening's changes are not mailed
        // again at the next).
        {
            let mut rt = self.0.borrow_mut();
            let rt = &mut *rt;
            rt.replica
                .resume_mail(&rt.record.mail_heads, &rt.record.mail_actors);
            let actor = rt.replica.mail_mark().1;
            if !rt.record.mail_actors.contains(&actor) {
                rt.record.mail_actors.push(actor);
                let excess = rt.record.mail_actors.len().saturating_sub(MAIL_ACTORS);
                rt.record.mail_actors.drain(..excess);
            }
            rt.unmailed.clear();
            rt.mail_due = true;
        }
        self.save_record();
        let weak = Rc::downgrade(&self.0);
        let deliver = Rc::new(move |payload: Vec<u8>| {
            if let Some(rt) = weak.upgrade() {
                RoomHandle(rt).on_mail(&payload);
            }
        });
        let mailbox = Mailbox::open(secret, &relays, &marks, deliver);
        let mut rt = self.0.borrow_mut();
        rt.view.update(|v| v.mail.relays = relays.len());
        rt.mailbox = Some(mailbox);
    }

    /// A whole payload from the mailbox: checked and applied by the replica.
    fn on_mail(&self, payload: &[u8]) {
        let outcome = self
            .act(|replica, store, links| replica.mailbox_received(payload, now_ms(), store, links));
        if outcome == Outcome::Changed {
            self.after_change();
        }
    }

    /// Every second: hands the mailbox what this device wrote (and the week's snapshot when
    /// due), keeps with the room how far it reached, and shows it.
    fn tick_mail(&self) {
        let Some(mailbox) = self.0.borrow().mailbox.clone() else {
            return;
        };
        mailbox.tick();
        let mut rt = self.0.borrow_mut();
        let rt = &mut *rt;
        rt.ticks += 1;
        if std::mem::take(&mut rt.mail_due) || rt.ticks.is_multiple_of(30) {
            let plains = rt.replica.take_mail(mail_id);
            if !plains.is_empty() {
                let ids = mailbox.publish(&plains);
                rt.unmailed.push_back((rt.replica.mail_mark().0, ids));
            }
        }
        let room_ready = rt.replica.room().is_ready() && !rt.replica.cut_off();
        if room_ready && mailbox.snapshot_due() {
            let plains = rt.replica.snapshot_mail(mail_id());
            mailbox.publish(&plains);
        }
        let mut keep = false;
        while rt
            .unmailed
            .front()
            .is_some_and(|(_, ids)| mailbox.reached_all(ids))
        {
            let (heads, _) = rt.unmailed.pop_front().expect("checked");
            rt.record.mail_heads = heads;
            rt.record.mail_actors = vec![rt.replica.mail_mark().1];
            keep = true;
        }
        // What was last heard from each relay is kept now and then, not each second.
        if rt.ticks.is_multiple_of(10) {
            let marks = mailbox.marks();
            if marks != rt.record.relays {
                rt.record.relays = marks;
                keep = true;
            }
        }
        let (reached, waiting) = mailbox.delivery();
        let mail = MailView {
            relays: rt.config.nostr.len(),
            reached,
            waiting,
        };
        if rt.view.with_untracked(|v| v.mail != mail) {
            rt.view.update(|v| v.mail = mail);
        }
        if keep {
            let (store, record) = (rt.store.clone(), rt.record.clone());
            leptos::task::spawn_local(async move {
                if let Err(e) = store.put_room(&record).await {
                    warn(&format!("the mailbox's progress was not kept: {e}"));
                }
            });
        }
    }

    /// Each relay of the room's mailbox as this device knows it.
    pub fn mail_status(&self) -> Vec<crate::sync::postman::RelayStatus> {
        let mailbox = self.0.borrow().mailbox.clone();
        mailbox.map(|m| m.status()).unwrap_or_default()
    }

    /// Replaces the network configuration (it arrived after the room opened: the device
    /// started without one and the network came back). Meshes hold their transports from the
    /// start, so each is left and joined again under the same key, with the configured ones.
    pub fn set_config(&self, config: NetConfig) {
        let (old, secrets) = {
            let mut rt = self.0.borrow_mut();
            if rt.config == config {
                return;
            }
            rt.config = config;
            // The keys the meshes speak: the one in force and former ones still heard.
            let known: Vec<RoomSecret> = std::iter::once(rt.replica.secret().clone())
                .chain(
                    rt.record
                        .former_keys
                        .iter()
                        .filter_map(|(s, _)| RoomSecret::from_base64url(s).ok()),
                )
                .collect();
            let old = std::mem::take(&mut rt.meshes);
            let secrets: Vec<RoomSecret> = old
                .iter()
                .filter_map(|(key, _)| known.iter().find(|s| s.fingerprint() == *key).cloned())
                .collect();
            (old, secrets)
        };
        for (_, mesh) in old {
            // Leaving reports no disconnection: the replica is told here its peers are gone.
            for peer in mesh.connected_peers() {
                self.act(|replica, _, _| replica.disconnected(&peer));
            }
            mesh.leave();
        }
        for secret in &secrets {
            self.join_mesh(secret);
        }
        // The mailbox reads and writes on the relays of the new configuration: what the old one
        // had not had confirmed is handed to the new one again (from what the record says
        // reached a relay).
        let mailbox = self.0.borrow_mut().mailbox.take();
        if let Some(mailbox) = mailbox {
            let mut rt = self.0.borrow_mut();
            let rt = &mut *rt;
            rt.record.relays = mailbox.marks();
            mailbox.close();
        }
        self.open_mailbox();
        self.refresh();
    }

    /// The mesh of the room key in force.
    fn mesh(&self) -> Option<Mesh> {
        let rt = self.0.borrow();
        let key = rt.replica.secret().fingerprint();
        rt.meshes
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, m)| m.clone())
    }

    /// Runs `f` on the replica with its ports, then does what must wait until the replica is no
    /// longer borrowed: dropping misbehaving peers, logging what it refused, following a new
    /// room key.
    fn act<T>(&self, f: impl FnOnce(&mut Replica, &mut IdbChunks, &mut MeshLinks) -> T) -> T {
        let (out, dropped, notices, meshes, keys) = {
            let mut rt = self.0.borrow_mut();
            let rt = &mut *rt;
            let mut store = IdbChunks {
                store: rt.store.clone(),
                room_id: rt.record.id.clone(),
                owner: Rc::downgrade(&self.0),
            };
            let meshes: Vec<Mesh> = rt.meshes.iter().map(|(_, m)| m.clone()).collect();
            let mut links = MeshLinks {
                meshes: meshes.clone(),
                dropped: Vec::new(),
            };
            let out = f(&mut rt.replica, &mut store, &mut links);
            (
                out,
                links.dropped,
                rt.replica.take_notices(),
                meshes,
                rt.replica.take_key_events(),
            )
        };
        for notice in notices {
            warn(&notice);
        }
        for mesh in &meshes {
            for (peer, until) in &dropped {
                mesh.ignore(peer, *until as f64);
            }
        }
        for event in keys {
            match event {
                // The room's devices are found under the new key now; devices still on the
                // former one are served the room as it was (see `replica`) while this stays open.
                KeyEvent::Moved { secret, former } => {
                    self.join_mesh(&secret);
                    let mailbox = self.0.borrow().mailbox.clone();
                    if let Some(mailbox) = mailbox {
                        mailbox.set_secret(secret.clone());
                    }
                    let until = now_ms() + FORMER_KEY_MS;
                    self.0
                        .borrow_mut()
                        .record
                        .former_keys
                        .push((former.to_base64url(), until));
                    self.save_record();
                }
                KeyEvent::CutOff => {
                    let view = self.0.borrow().view;
                    view.update(|v| v.cut_off = true);
                }
            }
        }
        out
    }

    pub fn view(&self) -> RwSignal<RoomView> {
        self.0.borrow().view
    }

    /// Reads the room (for a section's derived view) with this device's key.
    pub fn read<T>(&self, f: impl FnOnce(&RoomDoc, &Identity) -> T) -> T {
        let rt = self.0.borrow();
        f(rt.replica.room(), rt.replica.me())
    }

    /// This device's public key in the room.
    pub fn my_key(&self) -> String {
        self.0.borrow().replica.me().public()
    }

    /// The verified signer of a post (see `RoomDoc::post_signer`).
    pub fn post_signer(&self, post: &Post) -> Option<String> {
        self.0.borrow().replica.room().post_signer(post)
    }

    /// The whole room as a backup file's content (with this device's key in it).
    pub fn backup(&self) -> crate::domain::Backup {
        let rt = self.0.borrow();
        crate::domain::Backup::of(
            rt.replica.room(),
            &rt.replica.first_secret().to_base64url(),
            &rt.replica.me().secret(),
            now_ms(),
        )
    }

    /// The room's id and this device's store (for what a section reads directly).
    pub fn store(&self) -> (String, Store) {
        let rt = self.0.borrow();
        (rt.record.id.clone(), rt.store.clone())
    }

    /// The signaling servers and relays of this room's connections, and whether each is up.
    pub fn transports(&self) -> Vec<crate::net::TransportStatus> {
        self.mesh().map(|m| m.transports()).unwrap_or_default()
    }

    /// Pairing by hand: makes this device's offer code (see `Mesh::pair`).
    pub fn pair(&self, show: impl Fn(String) + 'static) {
        if let Some(m) = self.mesh() {
            m.pair(show);
        }
    }

    /// Pairing by hand: uses the other device's code (see `Mesh::use_code`).
    pub fn use_code(
        &self,
        code: &str,
        show: impl Fn(String) + 'static,
    ) -> Result<crate::net::Paired, crate::net::PairError> {
        match self.mesh() {
            Some(m) => m.use_code(code, show),
            None => Err(crate::net::PairError::Expired),
        }
    }

    /// The room link's fragment (`#/join/…`), with the founder's fingerprint once known.
    pub fn link_fragment(&self) -> String {
        let rt = self.0.borrow();
        crate::crypto::join_fragment(
            rt.replica.secret(),
            rt.replica.room().founder().as_deref(),
            &rt.record.id,
        )
    }

    /// Runs a domain command; on success the change is saved, sent to peers and shown.
    pub fn command<T>(
        &self,
        f: impl FnOnce(&mut RoomDoc, &Identity, i64) -> Result<T, DomainError>,
    ) -> Result<T, DomainError> {
        let out = self.act(|replica, store, links| replica.command(f, now_ms(), store, links))?;
        // Written here and not yet at any relay: the header says so until a relay has it.
        {
            let rt = self.0.borrow();
            if rt.mailbox.is_some() {
                rt.view.update(|v| v.mail.waiting = v.mail.waiting.max(1));
            }
        }
        self.after_change();
        Ok(out)
    }

    /// Tries again to save what a failed write left unsaved.
    pub fn retry_save(&self) {
        self.act(|replica, store, _| replica.retry_save(store));
        self.refresh_saving();
    }

    pub fn close(&self) {
        let (meshes, ticker, mailbox) = {
            let mut rt = self.0.borrow_mut();
            (
                std::mem::take(&mut rt.meshes),
                rt.ticker.take(),
                rt.mailbox.take(),
            )
        };
        drop(ticker);
        if let Some(mailbox) = mailbox {
            self.0.borrow_mut().record.relays = mailbox.marks();
            mailbox.close();
            self.save_record();
        }
        for (_, mesh) in meshes {
            mesh.leave();
        }
        // The room list should show what was here when the room was left.
        if self.summarise() {
            self.save_record();
        }
    }

    fn after_change(&self) {
        self.0.borrow_mut().mail_due = true;
        self.update_record();
        self.refresh();
    }

    fn on_store(&self, event: StoreEvent) {
        self.act(|replica, store, _| replica.on_store(event, store));
        self.refresh_saving();
    }

    /// Shows writes under way and the last failure (nothing else changed).
    fn refresh_saving(&self) {
        let rt = self.0.borrow();
        let saving = rt.replica.saving();
        let (pending, error) = (saving.pending(), saving.error().map(str::to_owned));
        rt.view.update(|v| {
            v.pending_saves = pending;
            v.save_error = error;
        });
    }

    fn on_net(&self, key: &str, event: NetEvent) {
        let now = now_ms();
        match event {
            NetEvent::Connected(peer, member) => {
                let view = self.0.borrow().view;
                view.update(|v| v.unreachable = 0);
                self.act(|replica, _, links| {
                    replica.connected(&peer, key, member.as_deref(), now, links)
                });
            }
            NetEvent::Woke => {
                let mailbox = self.0.borrow().mailbox.clone();
                if let Some(mailbox) = mailbox {
                    mailbox.wake();
                }
                self.act(|replica, _, links| replica.woke(now, links))
            }
            NetEvent::Replaced => {
                // Heeded only while nothing of the room is here: a device that has the room
                // follows the keys its document holds, not what another device says.
                let rt = self.0.borrow();
                if !rt.replica.room().is_ready() && key == rt.replica.secret().fingerprint() {
                    rt.view.update(|v| v.replaced = true);
                }
            }
            NetEvent::Unreachable(_) => {
                let view = self.0.borrow().view;
                view.update(|v| v.unreachable += 1);
            }
            NetEvent::Disconnected(peer) => self.act(|replica, _, _| replica.disconnected(&peer)),
            NetEvent::Data(peer, bytes) => {
                let outcome = self.act(|replica, store, links| {
                    replica.received(&peer, &bytes, now, store, links)
                });
                if outcome == Outcome::Changed {
                    self.after_change();
                    return;
                }
            }
        }
        self.refresh_peers();
    }

    fn refresh_peers(&self) {
        let (peers, states, view) = {
            let mut rt = self.0.borrow_mut();
            let rt = &mut *rt;
            let states = rt.replica.peer_states(now_ms());
            (states.len(), states, rt.view)
        };
        view.update(|v| {
            v.peers = peers;
            v.peer_sync = states;
        });
    }

    /// Keeps the room list's name in step with the document (a joined room learns its name).
    /// Keeps the room list's record in step: the name at once; members, last activity and
    /// unread count at most every 1.5 s (deriving the feed costs more than a change).
    fn update_record(&self) {
        let name_changed = {
            let mut rt = self.0.borrow_mut();
            // Trust on first use: a room joined by a link without the founder's mark accepts
            // the first founder it sees, and no other after that.
            let rt = &mut *rt;
            let pinned = match rt.replica.room().founder() {
                Some(founder) if rt.record.founder.is_empty() => {
                    rt.replica.room_mut().pin_founder(Some(founder.clone()));
                    rt.record.founder = founder;
                    true
                }
                _ => false,
            };
            match rt.replica.room().name() {
                Some(name) if name != rt.record.name => {
                    rt.record.name = name;
                    true
                }
                _ => pinned,
            }
        };
        if name_changed {
            self.save_record();
        }
        if std::mem::replace(&mut self.0.borrow_mut().summary_due, true) {
            return;
        }
        let weak = Rc::downgrade(&self.0);
        gloo_timers::callback::Timeout::new(1_500, move || {
            if let Some(rt) = weak.upgrade() {
                let handle = RoomHandle(rt);
                handle.0.borrow_mut().summary_due = false;
                if handle.summarise() {
                    handle.save_record();
                }
            }
        })
        .forget();
    }

    /// Recomputes the room-list summary; whether it changed.
    fn summarise(&self) -> bool {
        let mut rt = self.0.borrow_mut();
        let rt = &mut *rt;
        let me = rt.replica.me().public();
        let feed = rt.replica.room().activity(now_ms());
        let seen = rt.record.seen_at;
        let summary = (
            rt.replica.room().admitted().len(),
            feed.iter().map(|i| i.at).max().unwrap_or(0),
            feed.iter()
                .filter(|i| i.at > seen && i.author.as_deref() != Some(me.as_str()))
                .count(),
        );
        let r = &mut rt.record;
        if (r.members, r.last_activity, r.unread) == summary {
            return false;
        }
        (r.members, r.last_activity, r.unread) = summary;
        true
    }

    fn save_record(&self) {
        let (store, record) = {
            let rt = self.0.borrow();
            (rt.store.clone(), rt.record.clone())
        };
        leptos::task::spawn_local(async move {
            if let Err(e) = store.put_room(&record).await {
                web_sys::console::warn_1(&format!("tequio: room list not updated: {}", e).into());
            }
        });
    }

    /// When activity was last seen on the room's home (items after it are new).
    pub fn seen_at(&self) -> i64 {
        self.0.borrow().record.seen_at
    }

    /// Marks everything up to `at` as seen.
    pub fn mark_seen(&self, at: i64) {
        {
            let mut rt = self.0.borrow_mut();
            if at <= rt.record.seen_at {
                return;
            }
            rt.record.seen_at = at;
        }
        self.summarise();
        self.save_record();
    }

    fn refresh(&self) {
        let states = self.0.borrow_mut().replica.peer_states(now_ms());
        let rt = self.0.borrow();
        let peers = states.len();
        let room = rt.replica.room();
        let saving = rt.replica.saving();
        let cut_off = rt.replica.cut_off();
        // Membership first: it checks every governance entry, so a forged vouch or outcome
        // always counts among the unverified below.
        let admitted = room.admitted();
        let current = rt.replica.secret().fingerprint();
        let holders = rt.replica.holders().cloned().unwrap_or_default();
        for (key, mesh) in &rt.meshes {
            mesh.set_admitted(admitted.clone());
            // Under a former key, only the holders of the key in force are connected to.
            mesh.set_only((*key != current).then(|| holders.clone()));
        }
        let (name, ready, writable, posts, tampered) = (
            room.name(),
            room.is_ready(),
            room.is_writable(),
            room.posts(),
            room.tampering().len()
                + room.founder_claims().len().saturating_sub(1)
                + room.unverified_so_far(),
        );
        let (pending_saves, save_error) = (saving.pending(), saving.error().map(str::to_owned));
        rt.view.update(|v| {
            v.name = name;
            v.ready = ready;
            v.writable = writable;
            v.newer_schema = room.newer_schema().is_some();
            v.cut_off = cut_off;
            // Another device's word that the key was replaced counts only while nothing of the
            // room is here (a link holder could say so of a room that did not move on).
            v.replaced &= !ready;
            v.pending_saves = pending_saves;
            v.save_error = save_error;
            v.tampered = tampered;
            v.posts = posts;
            v.peers = peers;
            v.peer_sync = states;
            v.version += 1;
        });
    }
}
