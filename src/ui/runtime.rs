//! The open room on this device: its document, its saves and its peers. Every change, local or
//! from a peer, goes through here: document → IndexedDB → peers → view.

use crate::crypto::{Identity, RoomSecret};
use crate::domain::{DomainError, Post, RoomDoc};
use crate::net::{Mesh, NetConfig, NetEvent};
use crate::store::{RoomRecord, Store, COMPACT_AFTER};
use crate::sync::{Received, Session};
use leptos::prelude::*;
use std::cell::RefCell;
use std::collections::HashMap;
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
    /// How many changes the room's rules ignored (deletes, overwrites, edits of signed
    /// entries): listed under Members → Room integrity.
    pub tampered: usize,
    /// Bumped whenever the document changes: sections derive their own views from the room
    /// (through [`RoomHandle::read`]) when this moves, and only while they are shown.
    pub version: u64,
}

/// One connected peer as the room header shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct PeerState {
    pub id: String,
    pub up_to_date: bool,
    pub synced_at: Option<i64>,
}

struct Runtime {
    record: RoomRecord,
    /// This device's key in the room: it signs every entry written here.
    me: Identity,
    secret: RoomSecret,
    room: RoomDoc,
    sessions: HashMap<String, Session>,
    /// When each peer was last known to hold exactly what this device holds.
    synced_at: HashMap<String, i64>,
    mesh: Option<Mesh>,
    store: Store,
    chunk_keys: Vec<String>,
    unsaved: Vec<u8>,
    compacting: bool,
    /// A room-list summary update is scheduled (see [`RoomHandle::update_record`]).
    summary_due: bool,
    view: RwSignal<RoomView>,
}

/// A handle on the open room, cheap to clone into event handlers.
#[derive(Clone)]
pub struct RoomHandle(Rc<RefCell<Runtime>>);

/// Above this many changes read beyond the kept facts at open, new facts are kept.
const FACTS_BEHIND: usize = 200;

fn now_ms() -> i64 {
    js_sys::Date::now() as i64
}

impl RoomHandle {
    /// Loads the room from IndexedDB and starts looking for its peers.
    pub async fn open(store: Store, record: RoomRecord, config: NetConfig) -> Result<Self, String> {
        let secret = RoomSecret::from_base64url(&record.secret).map_err(|e| e.to_string())?;
        let mut record = record;
        let me = match Identity::from_secret(&record.identity) {
            Some(me) => me,
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
        let handle = RoomHandle(Rc::new(RefCell::new(Runtime {
            record,
            me,
            secret: secret.clone(),
            room,
            sessions: HashMap::new(),
            synced_at: HashMap::new(),
            mesh: None,
            store,
            chunk_keys: loaded.keys,
            unsaved: Vec::new(),
            compacting: false,
            summary_due: false,
            view: RwSignal::new(RoomView::default()),
        })));
        let weak = Rc::downgrade(&handle.0);
        let mesh = Mesh::join(&secret, config, move |event| {
            if let Some(rt) = weak.upgrade() {
                RoomHandle(rt).on_net(event);
            }
        });
        handle.0.borrow_mut().mesh = Some(mesh);
        handle.refresh();
        handle.update_record();
        if handle.0.borrow().room.facts_behind() > FACTS_BEHIND {
            handle.keep_facts();
        }
        Ok(handle)
    }

    pub fn view(&self) -> RwSignal<RoomView> {
        self.0.borrow().view
    }

    /// Reads the room (for a section's derived view) with this device's key.
    pub fn read<T>(&self, f: impl FnOnce(&RoomDoc, &Identity) -> T) -> T {
        let rt = self.0.borrow();
        f(&rt.room, &rt.me)
    }

    /// This device's public key in the room.
    pub fn my_key(&self) -> String {
        self.0.borrow().me.public()
    }

    /// The verified signer of a post (see `RoomDoc::post_signer`).
    pub fn post_signer(&self, post: &Post) -> Option<String> {
        self.0.borrow().room.post_signer(post)
    }

    /// The whole room as a backup file's content (with this device's key in it).
    pub fn backup(&self) -> crate::domain::Backup {
        let rt = self.0.borrow();
        crate::domain::Backup::of(
            &rt.room,
            &rt.secret.to_base64url(),
            &rt.me.secret(),
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
        let mesh = self.0.borrow().mesh.clone();
        mesh.map(|m| m.transports()).unwrap_or_default()
    }

    /// Pairing by hand: makes this device's offer code (see `Mesh::pair`).
    pub fn pair(&self, show: impl Fn(String) + 'static) {
        let mesh = self.0.borrow().mesh.clone();
        if let Some(m) = mesh {
            m.pair(show);
        }
    }

    /// Pairing by hand: uses the other device's code (see `Mesh::use_code`).
    pub fn use_code(
        &self,
        code: &str,
        show: impl Fn(String) + 'static,
    ) -> Result<crate::net::Paired, crate::net::PairError> {
        let mesh = self.0.borrow().mesh.clone();
        match mesh {
            Some(m) => m.use_code(code, show),
            None => Err(crate::net::PairError::Expired),
        }
    }

    /// The room link's fragment (`#/join/…`), with the founder's fingerprint once known.
    pub fn link_fragment(&self) -> String {
        let rt = self.0.borrow();
        crate::crypto::join_fragment(&rt.secret, rt.room.founder().as_deref())
    }

    /// Runs a domain command; on success the change is saved, sent to peers and shown.
    pub fn command<T>(
        &self,
        f: impl FnOnce(&mut RoomDoc, &Identity, i64) -> Result<T, DomainError>,
    ) -> Result<T, DomainError> {
        let out = {
            let mut rt = self.0.borrow_mut();
            let rt = &mut *rt;
            f(&mut rt.room, &rt.me, now_ms())?
        };
        self.after_change();
        Ok(out)
    }

    /// Tries again to save what a failed write left unsaved.
    pub fn retry_save(&self) {
        self.persist();
        self.refresh();
    }

    pub fn close(&self) {
        let mesh = self.0.borrow_mut().mesh.take();
        if let Some(mesh) = mesh {
            mesh.leave();
        }
        // The room list should show what was here when the room was left.
        if self.summarise() {
            self.save_record();
        }
    }

    fn after_change(&self) {
        self.persist();
        self.update_record();
        self.pump_all();
        self.refresh();
    }

    fn on_net(&self, event: NetEvent) {
        match event {
            NetEvent::Connected(peer) => {
                let view = self.0.borrow().view;
                view.update(|v| v.unreachable = 0);
                let key = self.0.borrow().secret.room_key();
                self.0
                    .borrow_mut()
                    .sessions
                    .insert(peer.clone(), Session::new(key));
                self.pump(&peer);
            }
            NetEvent::Woke => {
                for session in self.0.borrow_mut().sessions.values_mut() {
                    session.retry();
                }
                self.pump_all();
            }
            NetEvent::Unreachable(_) => {
                let view = self.0.borrow().view;
                view.update(|v| v.unreachable += 1);
            }
            NetEvent::Disconnected(peer) => {
                let mut rt = self.0.borrow_mut();
                rt.sessions.remove(&peer);
                rt.synced_at.remove(&peer);
            }
            NetEvent::Data(peer, bytes) => {
                let result = {
                    let mut rt = self.0.borrow_mut();
                    let rt = &mut *rt;
                    let since = rt.room.changes_read();
                    let result = match rt.sessions.get_mut(&peer) {
                        Some(session) => session.receive(&mut rt.room.doc_mut(), &bytes),
                        None => return,
                    };
                    rt.room.note_arrivals(since, now_ms());
                    result
                };
                match result {
                    Ok(Received::Applied { changed: true }) => self.after_change(),
                    Ok(_) => {
                        self.pump(&peer);
                        self.refresh_peers();
                    }
                    Err(e) => {
                        web_sys::console::warn_1(
                            &format!("tequio: dropped a message from a peer: {}", e).into(),
                        );
                    }
                }
                return;
            }
        }
        self.refresh_peers();
    }

    fn refresh_peers(&self) {
        let (peers, states, view) = {
            let mut rt = self.0.borrow_mut();
            let rt = &mut *rt;
            let peers = rt.mesh.as_ref().map_or(0, |m| m.connected_peers().len());
            (peers, peer_states(rt), rt.view)
        };
        view.update(|v| {
            v.peers = peers;
            v.peer_sync = states;
        });
    }

    fn pump(&self, peer: &str) {
        let (frames, mesh) = {
            let mut rt = self.0.borrow_mut();
            let rt = &mut *rt;
            let frames = match rt.sessions.get_mut(peer) {
                Some(s) => s.outgoing(&mut rt.room.doc_mut()),
                None => return,
            };
            (frames, rt.mesh.clone())
        };
        if let Some(mesh) = mesh {
            for frame in frames {
                mesh.send(peer, &frame);
            }
        }
    }

    fn pump_all(&self) {
        let peers: Vec<String> = self.0.borrow().sessions.keys().cloned().collect();
        for p in peers {
            self.pump(&p);
        }
    }

    /// Keeps the room list's name in step with the document (a joined room learns its name).
    /// Keeps the room list's record in step: the name at once; members, last activity and
    /// unread count at most every 1.5 s (deriving the feed costs more than a change).
    fn update_record(&self) {
        let name_changed = {
            let mut rt = self.0.borrow_mut();
            // Trust on first use: a room joined by a link without the founder's mark accepts
            // the first founder it sees, and no other after that.
            let pinned = match rt.room.founder() {
                Some(founder) if rt.record.founder.is_empty() => {
                    rt.room.pin_founder(Some(founder.clone()));
                    rt.record.founder = founder;
                    true
                }
                _ => false,
            };
            match rt.room.name() {
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
        let me = rt.me.public();
        let feed = rt.room.activity(now_ms());
        let seen = rt.record.seen_at;
        let summary = (
            rt.room.admitted().len(),
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

    /// Writes every change not yet saved as one chunk. The view counts the write as pending
    /// until IndexedDB reports the transaction complete.
    fn persist(&self) {
        let (store, room_id, mut chunk) = {
            let mut rt = self.0.borrow_mut();
            let fresh = rt.room.take_unsaved();
            if fresh.is_empty() && rt.unsaved.is_empty() {
                return;
            }
            let mut chunk = std::mem::take(&mut rt.unsaved);
            chunk.extend_from_slice(&fresh);
            rt.view.update(|v| v.pending_saves += 1);
            (rt.store.clone(), rt.record.id.clone(), chunk)
        };
        let weak = Rc::downgrade(&self.0);
        leptos::task::spawn_local(async move {
            let result = store.append_chunk(&room_id, &chunk).await;
            let Some(rt) = weak.upgrade() else { return };
            let handle = RoomHandle(rt);
            {
                let mut rt = handle.0.borrow_mut();
                rt.view.update(|v| v.pending_saves -= 1);
                match result {
                    Ok(key) => {
                        rt.chunk_keys.push(key);
                        if rt.unsaved.is_empty() {
                            rt.view.update(|v| v.save_error = None);
                        }
                    }
                    Err(e) => {
                        // Keep the bytes: the next save (or "retry") writes them again.
                        chunk.extend_from_slice(&rt.unsaved);
                        rt.unsaved = chunk;
                        rt.view.update(|v| v.save_error = Some(e.to_string()));
                    }
                }
            }
            handle.maybe_compact();
        });
    }

    /// Keeps what the room's index derived from its history beside its saved bytes, so the
    /// next open reads only what came after.
    fn keep_facts(&self) {
        let (store, id, facts) = {
            let rt = self.0.borrow();
            (rt.store.clone(), rt.record.id.clone(), rt.room.facts())
        };
        leptos::task::spawn_local(async move {
            if let Err(e) = store.set_facts(&id, &facts).await {
                web_sys::console::warn_1(&format!("tequio: facts not kept: {}", e).into());
            }
        });
    }

    fn maybe_compact(&self) {
        let (store, room_id, snapshot, keys) = {
            let mut rt = self.0.borrow_mut();
            if rt.compacting || rt.chunk_keys.len() <= COMPACT_AFTER || !rt.unsaved.is_empty() {
                return;
            }
            rt.compacting = true;
            let keys = rt.chunk_keys.clone();
            // Anything newer than the saved chunks goes out as its own chunk first.
            drop(rt);
            self.persist();
            let mut rt = self.0.borrow_mut();
            let snapshot = rt.room.doc_mut().save();
            (rt.store.clone(), rt.record.id.clone(), snapshot, keys)
        };
        let weak = Rc::downgrade(&self.0);
        leptos::task::spawn_local(async move {
            let result = store.compact(&room_id, &snapshot, &keys).await;
            let Some(rt) = Weak::upgrade(&weak) else {
                return;
            };
            let mut rt = rt.borrow_mut();
            rt.compacting = false;
            match result {
                Ok(key) => {
                    rt.chunk_keys.retain(|k| !keys.contains(k));
                    rt.chunk_keys.push(key);
                    drop(rt);
                    RoomHandle(Weak::upgrade(&weak).expect("held above")).keep_facts();
                }
                Err(e) => {
                    web_sys::console::warn_1(&format!("tequio: compaction failed: {}", e).into())
                }
            }
        });
    }

    fn refresh(&self) {
        let states = peer_states(&mut self.0.borrow_mut());
        let rt = self.0.borrow();
        let peers = rt.mesh.as_ref().map_or(0, |m| m.connected_peers().len());
        // Membership first: it checks every governance entry, so a forged vouch or outcome
        // always counts among the unverified below.
        let _ = rt.room.admitted();
        let (name, ready, writable, posts, tampered) = (
            rt.room.name(),
            rt.room.is_ready(),
            rt.room.is_writable(),
            rt.room.posts(),
            rt.room.tampering().len()
                + rt.room.founder_claims().len().saturating_sub(1)
                + rt.room.unverified_so_far(),
        );
        rt.view.update(|v| {
            v.name = name;
            v.ready = ready;
            v.writable = writable;
            v.newer_schema = rt.room.newer_schema().is_some();
            v.tampered = tampered;
            v.posts = posts;
            v.peers = peers;
            v.peer_sync = states;
            v.version += 1;
        });
    }
}

/// Compares each connected peer's last reported heads with the document, remembering when
/// each was last seen up to date.
fn peer_states(rt: &mut Runtime) -> Vec<PeerState> {
    let now = now_ms();
    let mut states: Vec<PeerState> = Vec::new();
    for (peer, session) in rt.sessions.iter() {
        let up_to_date = session.status(&mut rt.room.doc_mut()).up_to_date();
        if up_to_date {
            rt.synced_at.insert(peer.clone(), now);
        }
        states.push(PeerState {
            id: peer.chars().take(8).collect(),
            up_to_date,
            synced_at: rt.synced_at.get(peer).copied(),
        });
    }
    states.sort_by(|a, b| a.id.cmp(&b.id));
    states
}
