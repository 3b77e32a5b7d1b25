//! The room document: schema version, name and creation time at the root, one map per module.

use super::signed::{Index, Raw};
use automerge::{
    transaction::Transactable, AutoCommit, ObjType, ReadDoc, ScalarValue, Value, ROOT,
};

/// The schema this build writes. A room carrying a newer one is opened read-only; an older one
/// is migrated (see [`RoomDoc::migrate`]).
/// 1: the first board. 2: posts carry their author's signature; module entries at the root.
pub const SCHEMA_VERSION: u64 = 3;
pub(crate) const POSTS: &str = "posts";
const MAX_NAME_CHARS: usize = 80;

/// Why a command was refused. Nothing is written when a command returns an error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DomainError {
    #[error("{field}: {problem}")]
    Invalid {
        field: &'static str,
        problem: String,
    },
    #[error("the room has not arrived from a peer yet")]
    NotReady,
    #[error("no post with id {0}")]
    NoSuchPost(String),
    #[error("a {from} post cannot become {to}")]
    BadTransition { from: String, to: String },
    #[error("this room already has a founder")]
    AlreadyFounded,
    #[error("only admitted members can do this")]
    NotAdmitted,
    #[error("no member with key {0}")]
    NoSuchMember(String),
    #[error("this member is already admitted")]
    AlreadyAdmitted,
    #[error("you have already vouched for this member")]
    AlreadyVouched,
    #[error("no entry with id {0}")]
    NoSuchEntry(String),
    #[error("the pot holds {balance}; {amount} cannot be paid out of it")]
    InsufficientFunds { balance: i64, amount: i64 },
    #[error("you cannot approve your own request")]
    SelfApproval,
    #[error("you have already approved this")]
    AlreadyApproved,
    #[error("this expense is not approved yet")]
    NotApproved,
    #[error("only the beneficiary can countersign")]
    NotBeneficiary,
    #[error("the resource is already booked then (booking {0})")]
    BookingConflict(String),
    #[error("you have already signed up for this")]
    AlreadyClaimed,
    #[error("this would take your time account past its credit limit: {available} minutes left")]
    OverCreditLimit { available: i64 },
    #[error("this decision is closed")]
    DecisionClosed,
    #[error("the room document is damaged: {0}")]
    Document(String),
}

impl From<automerge::AutomergeError> for DomainError {
    fn from(e: automerge::AutomergeError) -> Self {
        DomainError::Document(e.to_string())
    }
}

/// Checks a required single-line text field and returns it trimmed.
pub(crate) fn required_text(
    field: &'static str,
    value: &str,
    max_chars: usize,
) -> Result<String, DomainError> {
    let value = value.trim();
    if value.is_empty() {
        return Err(DomainError::Invalid {
            field,
            problem: "must not be empty".into(),
        });
    }
    let chars = value.chars().count();
    if chars > max_chars {
        return Err(DomainError::Invalid {
            field,
            problem: format!("is {chars} characters long; at most {max_chars} are allowed"),
        });
    }
    if value.chars().any(|c| c.is_control()) {
        return Err(DomainError::Invalid {
            field,
            problem: "must be a single line without control characters".into(),
        });
    }
    Ok(value.to_owned())
}

/// What the versions at a key come to (see [`RoomDoc::resolve`]).
pub(crate) enum Resolved<'a> {
    /// This one counts.
    One(&'a Raw),
    /// None counts.
    None,
    /// The author signed these apart (none in the causal past of all the others): none
    /// counts unless a reader knows which one others relied on.
    Apart(Vec<&'a Raw>),
}

impl<'a> Resolved<'a> {
    /// The version that counts, if one does.
    pub(crate) fn one(self) -> Option<&'a Raw> {
        match self {
            Resolved::One(v) => Some(v),
            Resolved::Apart(_) | Resolved::None => None,
        }
    }

    /// Every version it holds: the one that counts, or those signed apart (for readers of
    /// entries that only add, where each counts).
    pub(crate) fn all(self) -> impl Iterator<Item = &'a Raw> {
        // (No allocation for the usual single version.)
        let (one, apart) = match self {
            Resolved::One(v) => (Some(v), Vec::new()),
            Resolved::Apart(versions) => (None, versions),
            Resolved::None => (None, Vec::new()),
        };
        one.into_iter().chain(apart)
    }
}

/// One room: the automerge document every device holds a full copy of.
pub struct RoomDoc {
    pub(crate) doc: AutoCommit,
    /// The id derived from the room secret: every signature in the room covers it, so an entry
    /// copied from another room never verifies here.
    pub(crate) room_id: String,
    /// Heads already persisted (by whoever stores this document): see [`RoomDoc::take_unsaved`].
    saved_heads: Vec<automerge::ChangeHash>,
    /// The module entries, kept in step with the document (see [`RoomDoc::reindex`]).
    pub(crate) index: Index,
    /// The heads the index reflects.
    indexed_heads: Vec<automerge::ChangeHash>,
    /// The last governance replay and the index generation it was made at.
    /// Post signatures already checked (see `board.rs`).
    pub(crate) post_checks: std::cell::RefCell<std::collections::HashMap<Vec<u8>, bool>>,
    /// Page bodies worked out from their vouched versions, by page, with the index's
    /// generation they hold for.
    pub(crate) page_bodies: std::cell::RefCell<std::collections::HashMap<String, (u64, String)>>,
    /// [`RoomDoc::tampering`] with the index's generation it holds for (the header asks on
    /// every change; it walks every entry and page).
    tamper_cache: std::cell::RefCell<Option<(u64, Vec<super::signed::Tampering>)>>,
    /// The founder this device accepts (a key, or a prefix of one, from the join link or
    /// from the first founder seen); `None` until known.
    pub(crate) pinned_founder: Option<String>,
    /// How many changes were read at load beyond the facts it was given (all of them
    /// when none fitted): see [`RoomDoc::facts_behind`].
    facts_behind: usize,
    pub(crate) governance_cache:
        std::cell::RefCell<Option<(u64, std::rc::Rc<super::members::Governance>)>>,
    /// When proposals opened, by the change that wrote them and the members counted (see
    /// `decisions.rs`): the causal past of a change never changes, so neither does this.
    pub(crate) opened: std::cell::RefCell<std::collections::HashMap<(u32, u64), i64>>,
    /// Set while the governance replay runs (see [`RoomDoc::built_on`]).
    pub(crate) replaying: std::cell::Cell<bool>,
    /// [`RoomDoc::built_on`]'s answers for every key with versions signed apart (the
    /// version's place among the key's versions), with the index's generation they hold for.
    built_on_cache: std::cell::RefCell<Option<(u64, std::collections::HashMap<String, usize>)>>,
}

/// Mutable access to the document for the sync and store layers; the room's index catches up
/// with whatever changed when this is dropped.
pub struct DocMut<'a>(&'a mut RoomDoc);

impl std::ops::Deref for DocMut<'_> {
    type Target = AutoCommit;
    fn deref(&self) -> &AutoCommit {
        &self.0.doc
    }
}

impl std::ops::DerefMut for DocMut<'_> {
    fn deref_mut(&mut self) -> &mut AutoCommit {
        &mut self.0.doc
    }
}

impl Drop for DocMut<'_> {
    fn drop(&mut self) {
        self.0.reindex();
        // A room that arrived from an older build is migrated as soon as it is here.
        // (Should it fail, the room stays at its old version, which this build still reads.)
        let _ = self.0.migrate();
    }
}

impl RoomDoc {
    /// A new room created on this device.
    pub fn create(room_id: &str, name: &str, now_ms: i64) -> Result<Self, DomainError> {
        let name = required_text("name", name, MAX_NAME_CHARS)?;
        let mut doc = AutoCommit::new();
        doc.put(ROOT, "schema", SCHEMA_VERSION)?;
        doc.put(ROOT, "name", name)?;
        doc.put(ROOT, "created_at", ScalarValue::Timestamp(now_ms))?;
        doc.put_object(ROOT, POSTS, ObjType::Map)?;
        doc.commit();
        Ok(Self::indexed(doc, room_id, Vec::new()))
    }

    /// A room joined by link: empty until a peer sends it.
    pub fn empty(room_id: &str) -> Self {
        Self::indexed(AutoCommit::new(), room_id, Vec::new())
    }

    fn indexed(
        mut doc: AutoCommit,
        room_id: &str,
        saved_heads: Vec<automerge::ChangeHash>,
    ) -> Self {
        let index = Index::build(&mut doc);
        Self::with_index(doc, room_id, saved_heads, index)
    }

    fn with_index(
        mut doc: AutoCommit,
        room_id: &str,
        saved_heads: Vec<automerge::ChangeHash>,
        index: Index,
    ) -> Self {
        Self {
            indexed_heads: doc.get_heads(),
            governance_cache: Default::default(),
            replaying: Default::default(),
            opened: Default::default(),
            built_on_cache: Default::default(),
            pinned_founder: None,
            facts_behind: 0,
            post_checks: Default::default(),
            page_bodies: Default::default(),
            tamper_cache: Default::default(),
            doc,
            room_id: room_id.to_owned(),
            saved_heads,
            index,
        }
    }

    /// This room with `other` merged in, as a copy: to see what a merge would bring before
    /// making it. Reads only the changes `other` adds (the index is copied, not rebuilt).
    pub fn trial_merge(&mut self, other: &mut AutoCommit) -> Option<RoomDoc> {
        let mut doc = self.doc.fork();
        doc.merge(other).ok()?;
        let mut trial = Self::with_index(doc, &self.room_id, Vec::new(), self.index.clone());
        trial.indexed_heads = self.indexed_heads.clone();
        trial.pinned_founder = self.pinned_founder.clone();
        trial.reindex();
        Some(trial)
    }

    /// Brings a room written by an older build up to [`SCHEMA_VERSION`]; returns whether it
    /// changed anything. Devices may migrate the same room concurrently: the migration change
    /// is written by an actor derived from the room, the versions and the heads it starts
    /// from, at time 0, so two devices migrating from the same state write the byte-identical
    /// change (one change once synced), and from different states write the same values.
    ///
    /// 1 → 2: nothing moves — posts written before signatures stay, shown as unverified —
    /// but the version is raised so that builds that would write unsigned posts stop writing.
    /// 2 → 3: nothing moves either: posts become signed entries (`post:`), and those in the
    /// `posts` map stay readable as legacy posts; the version tells earlier builds, which
    /// would see none of the new posts, that a newer version wrote the room.
    pub fn migrate(&mut self) -> Result<bool, DomainError> {
        self.reindex();
        let Some(from) = self.schema_version() else {
            return Ok(false);
        };
        if from >= SCHEMA_VERSION || !self.is_ready() {
            return Ok(false);
        }
        use sha2::{Digest, Sha256};
        let heads = self.doc.get_heads();
        let mut hasher = Sha256::new();
        hasher.update(b"tequio-migration");
        hasher.update((self.room_id.len() as u64).to_be_bytes());
        hasher.update(self.room_id.as_bytes());
        hasher.update(from.to_be_bytes());
        hasher.update(SCHEMA_VERSION.to_be_bytes());
        for head in &heads {
            hasher.update(head.0);
        }
        let digest = hasher.finalize();
        let own = self.doc.get_actor().clone();
        self.doc.set_actor(automerge::ActorId::from(&digest[..16]));
        let written = self.doc.put(ROOT, "schema", SCHEMA_VERSION);
        self.doc.commit_with(
            automerge::transaction::CommitOptions::default()
                .with_time(0)
                .with_message(format!("migrate schema {from} to {SCHEMA_VERSION}")),
        );
        self.doc.set_actor(own);
        written?;
        self.reindex();
        Ok(true)
    }

    /// Commits the pending change and brings the index up to date.
    pub(crate) fn commit(&mut self) {
        self.doc.commit();
        self.reindex();
        self.index.forget_arrivals();
    }

    /// Reads the changes applied since the last call into the index: the cost follows the
    /// size of the new changes, not of the room.
    pub(crate) fn reindex(&mut self) {
        let heads = self.doc.get_heads();
        if heads == self.indexed_heads {
            return;
        }
        self.index.add_changes(&mut self.doc, &self.indexed_heads);
        self.indexed_heads = heads;
    }

    /// Entries at the root whose key starts with `prefix`: (rest of the key, entry). Where
    /// the author signed versions apart, the one others built on (see [`RoomDoc::built_on`]).
    pub(crate) fn entries<'a>(
        &'a self,
        prefix: &str,
    ) -> impl Iterator<Item = (&'a str, &'a Raw)> + 'a {
        let prefix = prefix.to_owned();
        self.rivals(&prefix)
            .filter_map(move |(id, resolved)| match resolved {
                Resolved::Apart(versions) => {
                    Some((id, self.built_on(&format!("{prefix}{id}"), &versions)?))
                }
                resolved => Some((id, resolved.one()?)),
            })
    }

    /// The entry at root `key` that counts (see [`RoomDoc::entries`]).
    pub(crate) fn entry(&self, key: &str) -> Option<&Raw> {
        match self.resolve(key, self.index.versions_at(key)?) {
            Resolved::Apart(versions) => self.built_on(key, &versions),
            resolved => resolved.one(),
        }
    }

    /// Of an author's versions of `key` signed apart, the one another member built on: a
    /// version counts once an admitted member other than its author signs an entry after it
    /// and after none of its rivals (so had it alone). An author cannot swap or withdraw what
    /// others relied on by signing a rival on an older state: nobody had the rival. Where
    /// members built on different versions (a colluder building on the rival), the causally
    /// first of those counts; where nobody built on any, none counts (nobody relied on it).
    /// The views that read entries apart from this rule (the ledger, by who confirmed which;
    /// outcomes, by what their writer had; entries that only add, each version) do not ask.
    ///
    /// The governance replay, which the admission check depends on, never asks (none counts
    /// then).
    pub(crate) fn built_on<'v>(&self, key: &str, versions: &[&'v Raw]) -> Option<&'v Raw> {
        if self.replaying.get() {
            return None;
        }
        let generation = self.index.generation();
        let fresh = matches!(&*self.built_on_cache.borrow(), Some((g, _)) if *g == generation);
        if !fresh {
            let all = self.built_on_every_key();
            *self.built_on_cache.borrow_mut() = Some((generation, all));
        }
        let cache = self.built_on_cache.borrow();
        let (_, known) = cache.as_ref()?;
        known.get(key).and_then(|i| versions.get(*i)).copied()
    }

    /// [`RoomDoc::built_on`] for every key with versions signed apart, in one pass over the
    /// room's entries per 256 such keys (each entry is asked which versions it was written
    /// after): what a modified client signing many rivals costs stays a few passes.
    fn built_on_every_key(&self) -> std::collections::HashMap<String, usize> {
        let apart: Vec<(&str, Vec<&Raw>)> = self
            .index
            .range_versions("")
            .filter_map(|(key, versions)| match self.resolve(key, versions) {
                Resolved::Apart(rivals) => Some((key, rivals)),
                _ => None,
            })
            .collect();
        let mut found = std::collections::HashMap::new();
        for chunk in apart.chunks(256) {
            // Per key, the changes written after each version; and all of them together.
            let after: Vec<Vec<super::signed::ChangeSet>> = chunk
                .iter()
                .map(|(_, rivals)| {
                    rivals
                        .iter()
                        .map(|v| self.index.built_after(v.anchor()))
                        .collect()
                })
                .collect();
            let mut any = super::signed::ChangeSet::default();
            after.iter().flatten().for_each(|set| any.add(set));
            let mut witnessed: Vec<Vec<bool>> =
                chunk.iter().map(|(_, r)| vec![false; r.len()]).collect();
            for (witness_key, list) in self.index.range_versions("") {
                for w in list.iter().filter(|w| any.holds(w)) {
                    for (k, (_, rivals)) in chunk.iter().enumerate() {
                        let mut sets = after[k].iter().enumerate().filter(|(_, s)| s.holds(w));
                        let (Some((i, _)), None) = (sets.next(), sets.next()) else {
                            continue;
                        };
                        if witnessed[k][i] {
                            continue;
                        }
                        let Some(witness) = rivals[i]
                            .author()
                            .and_then(|author| w.author().filter(|a| *a != author))
                        else {
                            continue;
                        };
                        witnessed[k][i] =
                            self.signature_holds(witness_key, w) && self.admitted_when(witness, w);
                    }
                }
            }
            for (k, (key, _)) in chunk.iter().enumerate() {
                if let Some(i) = witnessed[k].iter().position(|w| *w) {
                    found.insert((*key).to_owned(), i);
                }
            }
        }
        found
    }

    /// Of the versions at `key`, the one that counts: the first, or at an id bound to its
    /// author the author's first — and where a rival claims that author too, the one whose
    /// signature holds (a forgery, however early, never hides the real entry). Where the author
    /// signed more than one (no honest client does), the one in the causal past of all the
    /// others counts: a later one is an overwrite. Versions signed apart (a modified client
    /// writing a second one on an older state, to swap an entry others relied on) leave none
    /// that counts here; a reader that knows who relied on which picks it with
    /// [`RoomDoc::rivals`]. Either way the others are listed.
    pub(crate) fn resolve<'a>(&self, key: &str, versions: &'a [Raw]) -> Resolved<'a> {
        if let Some(v) = versions.iter().find(|v| v.counts()) {
            return Resolved::One(v);
        }
        if !versions.first().is_some_and(Raw::contested) {
            return Resolved::None;
        }
        let signed = self.signed_by_bound_author(key, versions);
        match self.first_of(&signed) {
            Some(v) => Resolved::One(v),
            None if signed.is_empty() => Resolved::None,
            None => Resolved::Apart(signed),
        }
    }

    /// Of `versions`, the one in the causal past of every other, if any.
    fn first_of<'v>(&self, versions: &[&'v Raw]) -> Option<&'v Raw> {
        versions
            .iter()
            .find(|v| {
                versions
                    .iter()
                    .all(|w| std::ptr::eq(**v, *w) || self.index.precedes(v, w))
            })
            .copied()
    }

    /// The versions at a contested `key` whose signature by the author its id names holds.
    fn signed_by_bound_author<'v>(&self, key: &str, versions: &'v [Raw]) -> Vec<&'v Raw> {
        let Some(bound) = crate::crypto::id_author(key) else {
            return Vec::new();
        };
        versions
            .iter()
            .filter(|v| v.author().is_some_and(|a| a.starts_with(bound)))
            .filter(|v| self.signature_holds(key, v))
            .collect()
    }

    /// [`RoomDoc::entries`] with what [`RoomDoc::resolve`] says of each key.
    pub(crate) fn rivals<'a>(
        &'a self,
        prefix: &str,
    ) -> impl Iterator<Item = (&'a str, Resolved<'a>)> + 'a {
        let prefix = prefix.to_owned();
        self.index
            .range_versions(&prefix)
            .map(move |(id, versions)| {
                // The key is spelled out only where rivals contest it (the rare case).
                match versions.iter().find(|v| v.counts()) {
                    Some(v) => (id, Resolved::One(v)),
                    None => (id, self.resolve(&format!("{prefix}{id}"), versions)),
                }
            })
    }

    /// [`RoomDoc::entries`] as they stood for whoever wrote `cut` (an outcome record): where
    /// an author signed versions apart at a key, the one in `cut`'s causal past.
    pub(crate) fn entries_before<'a>(
        &'a self,
        prefix: &str,
        cut: &'a Raw,
    ) -> impl Iterator<Item = (&'a str, &'a Raw)> + 'a {
        self.rivals(prefix)
            .filter_map(move |(id, resolved)| Some((id, self.as_seen_by(resolved, cut)?)))
    }

    /// [`RoomDoc::entry`] as it stood for whoever wrote `cut`: where the author signed
    /// versions apart, the one in `cut`'s causal past.
    pub(crate) fn entry_before(&self, key: &str, cut: &Raw) -> Option<&Raw> {
        self.as_seen_by(self.resolve(key, self.index.versions_at(key)?), cut)
    }

    /// The version that counts, or of versions signed apart the one `cut`'s writer had.
    fn as_seen_by<'v>(&self, resolved: Resolved<'v>, cut: &Raw) -> Option<&'v Raw> {
        match resolved {
            Resolved::Apart(versions) => self.seen_by(&versions, cut),
            resolved => resolved.one(),
        }
    }

    /// Of an author's versions signed apart, the one `cut`'s writer had (if they had one).
    pub(crate) fn seen_by<'v>(&self, versions: &[&'v Raw], cut: &Raw) -> Option<&'v Raw> {
        let before: Vec<&Raw> = versions
            .iter()
            .copied()
            .filter(|v| self.index.precedes(v, cut))
            .collect();
        match before[..] {
            [one] => Some(one),
            _ => None,
        }
    }

    /// Loads a room from its saved bytes (a snapshot and/or incremental chunks, in any order).
    pub fn load_chunks<'a>(
        room_id: &str,
        chunks: impl IntoIterator<Item = &'a [u8]>,
    ) -> Result<Self, DomainError> {
        Self::load_with_facts(room_id, chunks, None)
    }

    /// [`RoomDoc::load_chunks`], reading what an earlier [`RoomDoc::facts`] kept of the
    /// room's history instead of reading that history again (only what came after it). Facts
    /// that do not fit the document (damaged, or of another room or version) are ignored and
    /// the whole history is read: the result is the same either way.
    pub fn load_with_facts<'a>(
        room_id: &str,
        chunks: impl IntoIterator<Item = &'a [u8]>,
        facts: Option<&str>,
    ) -> Result<Self, DomainError> {
        let mut doc = AutoCommit::new();
        for chunk in chunks {
            doc.load_incremental(chunk)?;
        }
        let saved_heads = doc.get_heads();
        let facts = facts.and_then(|f| serde_json::from_str::<super::signed::Facts>(f).ok());
        let listed = facts.as_ref().map_or(0, super::signed::Facts::changes_len);
        let index = facts.and_then(|f| Index::from_facts(f, &mut doc));
        let mut room = match index {
            Some(index) => {
                let read = index.changes_read();
                let mut room = Self::with_index(doc, room_id, saved_heads, index);
                room.facts_behind = read.saturating_sub(listed);
                room
            }
            None => {
                let mut room = Self::indexed(doc, room_id, saved_heads);
                room.facts_behind = usize::MAX;
                room
            }
        };
        room.index.forget_arrivals();
        room.migrate()?;
        Ok(room)
    }

    /// The changes not yet persisted, as one chunk for storage (empty if there are none), and
    /// marks them persisted. The first chunk of a room is a compact snapshot.
    pub fn take_unsaved(&mut self) -> Vec<u8> {
        let heads = self.doc.get_heads();
        if heads == self.saved_heads {
            return Vec::new();
        }
        let bytes = if self.saved_heads.is_empty() {
            self.doc.save()
        } else {
            self.doc.save_after(&self.saved_heads)
        };
        self.saved_heads = heads;
        bytes
    }

    /// The room's id (derived from its secret).
    /// The heads of the document as last indexed (every command and every `doc_mut` ends by
    /// indexing): a version to come back to, e.g. where a page editor started.
    pub fn heads(&self) -> Vec<automerge::ChangeHash> {
        self.indexed_heads.clone()
    }

    /// Accepts only the founder `pin` names (a key or a fingerprint of one: see
    /// [`crate::domain::members::pin_matches`]); views re-derive.
    pub fn pin_founder(&mut self, pin: Option<String>) {
        if self.pinned_founder != pin {
            self.pinned_founder = pin;
            *self.governance_cache.borrow_mut() = None;
            // Views remembered by the index's generation depend on membership too.
            self.index.touch();
        }
    }

    pub fn pinned_founder(&self) -> Option<&str> {
        self.pinned_founder.as_deref()
    }

    /// What changes did to this room's entries that its rules ignore (see
    /// [`crate::domain::signed::Index`]).
    pub fn tampering(&self) -> Vec<super::signed::Tampering> {
        let generation = self.index.generation();
        if let Some((g, known)) = &*self.tamper_cache.borrow() {
            if *g == generation {
                return known.clone();
            }
        }
        let out = self.derive_tampering();
        *self.tamper_cache.borrow_mut() = Some((generation, out.clone()));
        out
    }

    fn derive_tampering(&self) -> Vec<super::signed::Tampering> {
        let mut out = self.index.tampering(self.founder_entry());
        for page in self.unvouched_pages() {
            out.push(super::signed::Tampering {
                key: format!("pagebody:{page}"),
                kind: super::signed::TamperKind::Altered {
                    field: "text".into(),
                },
                change: String::new(),
                claimed_at: 0,
            });
        }
        out.sort();
        out
    }

    /// Notes `now_ms` as when the changes read since `since` were first read here (the
    /// runtime calls this after applying a peer's message), so entries that arrive long after
    /// the time they claim can be shown as such.
    /// `since` is [`RoomDoc::changes_read`] from before the message was applied.
    pub fn note_arrivals(&mut self, since: usize, now_ms: i64) {
        self.reindex();
        self.index.note_arrivals(since, now_ms);
    }

    /// What the index derived from this room's history, to keep beside its saved bytes and
    /// hand to [`RoomDoc::load_with_facts`] (JSON).
    pub fn facts(&self) -> String {
        serde_json::to_string(&self.index.facts(&self.indexed_heads)).unwrap_or_default()
    }

    /// How many changes were read at load beyond the facts it was given (`usize::MAX` when
    /// there were none, or they did not fit): worth keeping new facts when large.
    pub fn facts_behind(&self) -> usize {
        self.facts_behind
    }

    /// How many changes the index has read (a mark for [`RoomDoc::note_arrivals`]).
    pub fn changes_read(&self) -> usize {
        self.index.changes_read()
    }

    /// Entries that reached this device (while the room was open) more than a day after the
    /// time they claim: (key, claimed time, when first read here).
    /// Entries (keys) whose signature does not hold, so they count for nothing: forged, or
    /// altered before this device first read them. Reads every view once to check every
    /// entry a view reads, so it is meant for the Room integrity view, not every change.
    pub fn unverified_entries(&self, now_ms: i64) -> Vec<String> {
        let _ = (self.members(), self.decisions(now_ms), self.pots(now_ms));
        let _ = (self.resources(), self.tasks(), self.work_parties());
        let _ = (
            self.time_accounts(),
            self.circles(),
            self.contributions(now_ms),
        );
        let _ = (self.pages(), self.responses(None), self.charter(now_ms));
        for post in self.posts() {
            let _ = self.post_signer(&post);
        }
        self.index.unverified()
    }

    /// Entries whose signature the views derived so far found not to hold (see
    /// [`RoomDoc::unverified_entries`]): cheap, for the header's warning.
    pub fn unverified_so_far(&self) -> usize {
        self.index.unverified().len()
    }

    pub fn late_entries(&self) -> Vec<(String, i64, i64)> {
        const DAY_MS: i64 = 24 * 3_600_000;
        self.index.late(DAY_MS)
    }

    pub fn room_id(&self) -> &str {
        &self.room_id
    }

    /// The underlying document, for the sync and store layers.
    pub fn doc(&self) -> &AutoCommit {
        &self.doc
    }

    /// Mutable access for syncing and saving; the index catches up when the guard is dropped.
    pub fn doc_mut(&mut self) -> DocMut<'_> {
        DocMut(self)
    }

    /// True once the room's root (name and modules) exists on this device.
    pub fn is_ready(&self) -> bool {
        self.name().is_some() && self.posts_obj().is_some()
    }

    pub fn schema_version(&self) -> Option<u64> {
        match self.doc.get(ROOT, "schema").ok()??.0 {
            Value::Scalar(s) => match s.as_ref() {
                ScalarValue::Uint(v) => Some(*v),
                ScalarValue::Int(v) => u64::try_from(*v).ok(),
                _ => None,
            },
            _ => None,
        }
    }

    /// True when this build may write to the room. The `schema` value is not signed, so it
    /// decides nothing: a room whose schema is newer than this build's still works here
    /// (entries this build cannot read are not counted by it); the app offers an update.
    pub fn is_writable(&self) -> bool {
        self.is_ready()
    }

    /// A schema newer than this build's, as written in the room (advice to update the app).
    pub fn newer_schema(&self) -> Option<u64> {
        self.schema_version().filter(|v| *v > SCHEMA_VERSION)
    }

    /// The room's name as first written, in the history its founder entry belongs to: nobody
    /// renames a room by writing over it, nor by merging in a history of their own.
    pub fn name(&self) -> Option<String> {
        self.index
            .room_name(self.founder_entry())
            .map(str::to_owned)
    }

    pub fn created_at(&self) -> Option<i64> {
        read_i64(&self.doc, &ROOT, "created_at")
    }

    /// The board's posts map as first created in the room's own history (see
    /// [`RoomDoc::name`]): deleting it, putting another over it, or merging in a rival history,
    /// changes nothing.
    pub(crate) fn posts_obj(&self) -> Option<automerge::ObjId> {
        match self
            .doc
            .import(&self.index.posts_map(self.founder_entry())?)
            .ok()?
        {
            (id, ObjType::Map) => Some(id),
            _ => None,
        }
    }

    /// Checks the room can be written by this build and returns the posts map.
    pub(crate) fn writable_posts(&self) -> Result<automerge::ObjId, DomainError> {
        self.posts_obj().ok_or(DomainError::NotReady)
    }
}

pub(crate) fn read_i64(doc: &AutoCommit, obj: &automerge::ObjId, key: &str) -> Option<i64> {
    match doc.get(obj, key).ok()??.0 {
        Value::Scalar(s) => match s.as_ref() {
            ScalarValue::Timestamp(v) | ScalarValue::Int(v) => Some(*v),
            ScalarValue::Uint(v) => i64::try_from(*v).ok(),
            _ => None,
        },
        _ => None,
    }
}

/// A string scalar's text.
pub(crate) fn scalar_str<'a>(s: &'a automerge::ScalarValueRef<'_>) -> Option<&'a str> {
    match s {
        automerge::ScalarValueRef::Str(text) => Some(text),
        _ => None,
    }
}

/// An integer or timestamp scalar as i64 (anything else, or out of range: `None`).
pub(crate) fn scalar_i64(s: &automerge::ScalarValueRef<'_>) -> Option<i64> {
    use automerge::ScalarValueRef as S;
    match s {
        S::Timestamp(v) | S::Int(v) => Some(*v),
        S::Uint(v) => i64::try_from(*v).ok(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::Identity;

    #[test]
    fn a_created_room_has_its_root_and_a_joined_one_waits() {
        let room = RoomDoc::create("room-1", "  Tool library  ", 1_700_000_000_000).unwrap();
        assert!(room.is_ready() && room.is_writable());
        assert_eq!(room.name().as_deref(), Some("Tool library"));
        assert_eq!(room.schema_version(), Some(SCHEMA_VERSION));
        assert_eq!(room.created_at(), Some(1_700_000_000_000));
        let empty = RoomDoc::empty("room-1");
        assert!(!empty.is_ready() && !empty.is_writable());
        assert_eq!(empty.name(), None);
    }

    #[test]
    fn room_names_are_validated() {
        assert!(matches!(
            RoomDoc::create("room-1", "   ", 0),
            Err(DomainError::Invalid { field: "name", .. })
        ));
        assert!(RoomDoc::create("room-1", &"x".repeat(81), 0).is_err());
        assert!(RoomDoc::create("room-1", "a\u{7}b", 0).is_err());
        assert!(RoomDoc::create("room-1", &"é".repeat(80), 0).is_ok());
    }

    #[test]
    fn a_room_round_trips_through_saved_chunks() {
        let mut room = RoomDoc::create("room-1", "Garden", 5).unwrap();
        let first = room.doc_mut().save_incremental();
        room.doc_mut().put(ROOT, "name", "Garden commons").unwrap();
        let second = room.doc_mut().save_incremental();
        // Order does not matter: automerge queues changes until their dependencies arrive.
        let loaded = RoomDoc::load_chunks("room-1", [second.as_slice(), first.as_slice()]).unwrap();
        // A room is named once: the later write is listed, not obeyed.
        assert_eq!(loaded.name().as_deref(), Some("Garden"));
        assert_eq!(loaded.tampering().len(), 1);
        assert!(RoomDoc::load_chunks("room-1", [&b"not a document"[..]]).is_err());
    }

    #[test]
    fn unsaved_changes_are_taken_once_and_load_back() {
        let mut room = RoomDoc::create("room-1", "Garden", 5).unwrap();
        let first = room.take_unsaved();
        assert!(!first.is_empty());
        assert!(room.take_unsaved().is_empty());
        room.doc_mut().put(ROOT, "name", "Garden commons").unwrap();
        let second = room.take_unsaved();
        assert!(!second.is_empty() && second.len() < first.len());
        let mut loaded =
            RoomDoc::load_chunks("room-1", [first.as_slice(), second.as_slice()]).unwrap();
        assert_eq!(loaded.heads(), room.heads());
        // What was loaded counts as saved.
        assert!(loaded.take_unsaved().is_empty());
    }

    #[test]
    fn an_unsigned_schema_or_name_decides_nothing() {
        use crate::domain::testing::community;
        let (mut room, people) = community(2);
        room.doc_mut()
            .put(ROOT, "schema", SCHEMA_VERSION + 97)
            .unwrap();
        room.doc_mut().put(ROOT, "name", "Mallory's room").unwrap();
        room.doc_mut().put(ROOT, "posts", "gone").unwrap();
        assert!(room.is_ready() && room.is_writable());
        assert_eq!(room.newer_schema(), Some(SCHEMA_VERSION + 97));
        assert_eq!(room.name().as_deref(), Some("Commons"));
        let newcomer = Identity::generate();
        let profile = crate::domain::Profile {
            name: "Newcomer".into(),
            ..Default::default()
        };
        room.set_profile(&newcomer, profile, 10).unwrap();
        room.vouch(&people[0], &newcomer.public(), 11).unwrap();
        let keys: Vec<String> = room.tampering().into_iter().map(|t| t.key).collect();
        assert!(keys.len() >= 2, "{:?}", room.tampering());
        assert!(keys.contains(&"name".to_owned()) && keys.contains(&"posts".to_owned()));
    }

    /// A room as a build of schema 1 wrote it.
    fn version_1_room() -> RoomDoc {
        let mut room = RoomDoc::create("room-1", "Old garden", 5).unwrap();
        room.doc.put(ROOT, "schema", 1u64).unwrap();
        let posts = room.posts_obj().unwrap();
        let post = room.doc.put_object(&posts, "p1", ObjType::Map).unwrap();
        room.doc.put(&post, "kind", "offer").unwrap();
        room.doc.put(&post, "title", "Ladder").unwrap();
        room.doc.commit();
        room
    }

    #[test]
    fn devices_migrating_the_same_room_write_the_same_change() {
        let mut old = version_1_room();
        let bytes = old.doc.save();
        let mut a = RoomDoc::load_chunks("room-1", [bytes.as_slice()]).unwrap();
        let mut b = RoomDoc::load_chunks("room-1", [bytes.as_slice()]).unwrap();
        assert_eq!(a.schema_version(), Some(SCHEMA_VERSION));
        assert!(a.is_writable());
        // Byte-identical migration: the same heads without exchanging anything.
        assert_eq!(a.doc.get_heads(), b.doc.get_heads());
        assert_ne!(a.doc.get_heads(), old.doc.get_heads());
        // Posts written before signatures stay, shown as unverified.
        let post = a.post("p1").unwrap();
        assert_eq!(post.title, "Ladder");
        assert_eq!(a.post_signer(&post), None);
        // Migrating twice changes nothing.
        assert!(!a.migrate().unwrap());
        crate::domain::testing::sync(&mut a, &mut b);
        assert_eq!(a.doc.get_heads(), b.doc.get_heads());
    }

    #[test]
    fn devices_migrating_different_states_converge() {
        let mut a = version_1_room();
        let mut b = RoomDoc::empty("room-1");
        b.doc.merge(&mut a.doc).unwrap();
        // B has one more old-version change than A when each migrates.
        b.doc.put(ROOT, "name", "Old garden commons").unwrap();
        b.doc.commit();
        assert!(a.migrate().unwrap());
        assert!(b.migrate().unwrap());
        crate::domain::testing::sync(&mut a, &mut b);
        assert_eq!(a.doc.get_heads(), b.doc.get_heads());
        assert_eq!(a.schema_version(), Some(SCHEMA_VERSION));
        assert_eq!(b.schema_version(), Some(SCHEMA_VERSION));
        assert_eq!(a.posts(), b.posts());
        assert_eq!(a.name(), b.name());
    }

    #[test]
    fn a_room_from_an_older_build_is_migrated_when_it_arrives_by_sync() {
        let mut old = version_1_room();
        let mut joined = RoomDoc::empty("room-1");
        crate::domain::testing::sync(&mut old, &mut joined);
        // The sync helper drives the document directly; the runtime goes through `doc_mut`,
        // whose guard migrates what arrived.
        drop(joined.doc_mut());
        assert_eq!(joined.schema_version(), Some(SCHEMA_VERSION));
        assert!(!joined.take_unsaved().is_empty());
    }

    #[test]
    fn the_index_follows_big_batches_and_ignores_tampered_fields() {
        use crate::domain::{EntryKind, NewEntry, TamperKind};
        let (mut a, people) = crate::domain::testing::community(3);
        let pot = a.open_pot(&people[0], "Pot", "EUR", 10).unwrap();
        for i in 0..80 {
            a.record(
                &people[1],
                &pot,
                NewEntry::new(EntryKind::Inflow, 10, ""),
                20 + i,
            )
            .unwrap();
        }
        // One batch of many changes.
        let mut b = RoomDoc::empty("room-1");
        crate::domain::testing::sync(&mut a, &mut b);
        assert_eq!(b.pot(&pot, 1_000), a.pot(&pot, 1_000));
        let before = b.pot(&pot, 1_000).unwrap();
        // A peer alters a field of a signed entry: the entry stays as it was signed.
        let line = before.lines[3].id.clone();
        let key = format!("ledger:{pot}:{line}");
        let obj = match a.doc.get(ROOT, &key).unwrap() {
            Some((Value::Object(ObjType::Map), obj)) => obj,
            _ => panic!("no entry"),
        };
        a.doc.put(&obj, "amount", 10_000i64).unwrap();
        a.commit();
        crate::domain::testing::sync(&mut a, &mut b);
        let view = b.pot(&pot, 1_000).unwrap();
        assert_eq!(view, before);
        let kept = view.lines.iter().find(|l| l.id == line).unwrap();
        assert_eq!(kept.amount, 10);
        assert_eq!(
            b.tampering()
                .into_iter()
                .map(|t| (t.key, t.kind))
                .collect::<Vec<_>>(),
            vec![(
                key,
                TamperKind::Altered {
                    field: "amount".into()
                }
            )]
        );
        // Exactly what a device indexing from scratch derives.
        let fresh = RoomDoc::load_chunks("room-1", [b.doc.save().as_slice()]).unwrap();
        assert_eq!(fresh.pot(&pot, 1_000), Some(view));
        assert_eq!(fresh.tampering(), b.tampering());
        assert_eq!(a.pot(&pot, 1_000), fresh.pot(&pot, 1_000));
    }
}
