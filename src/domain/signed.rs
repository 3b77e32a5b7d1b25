//! Signed entries: every entry names its author and carries the author's Ed25519 signature over
//! a canonical encoding of the entry's kind, id, the room id and its fields. An entry whose
//! signature does not verify is kept in the document but counts for nothing.

use automerge::{transaction::Transactable, AutoCommit, ObjType, ROOT};
use std::cell::OnceCell;
use std::collections::BTreeMap;

use super::room::{DomainError, RoomDoc};
use crate::crypto::{verify, Identity};

/// An entry's content: its fields, and the bytes its author signs (room id, kind, id and every
/// field, length-prefixed so that no two entries encode alike). The same value is used to write
/// an entry and to check one read back, so what is stored is exactly what is signed.
pub(crate) struct Canonical {
    bytes: Vec<u8>,
    fields: Vec<(String, Field)>,
}

impl Canonical {
    pub fn new(room_id: &str, kind: &str, id: &str) -> Self {
        let mut c = Canonical {
            bytes: b"tequio-entry-v1".to_vec(),
            fields: Vec::new(),
        };
        for (name, value) in [("room", room_id), ("kind", kind), ("id", id)] {
            c.push(name, b's', value.as_bytes());
        }
        c
    }

    fn push(&mut self, name: &str, tag: u8, value: &[u8]) {
        for part in [name.as_bytes(), value] {
            self.bytes
                .extend_from_slice(&(part.len() as u32).to_be_bytes());
            self.bytes.extend_from_slice(part);
        }
        self.bytes.push(tag);
    }

    pub fn text(mut self, name: &str, value: &str) -> Self {
        self.push(name, b's', value.as_bytes());
        self.fields
            .push((name.to_owned(), Field::Text(value.to_owned())));
        self
    }

    pub fn int(mut self, name: &str, value: i64) -> Self {
        self.push(name, b'i', &value.to_be_bytes());
        self.fields.push((name.to_owned(), Field::Int(value)));
        self
    }

    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }
}

/// A scalar field of an entry as read back from the document.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub(crate) enum Field {
    Text(String),
    Int(i64),
}

/// One version of a root entry: the fields written into an entry map by the change that created
/// it, with its verification remembered. What later changes write into the same map does not
/// alter it (see [`Index`]).
pub(crate) struct Raw {
    fields: BTreeMap<String, Field>,
    verified: OnceCell<bool>,
    /// A module's typed reading of the entry, made the first time a view needs it.
    parsed: OnceCell<Option<Box<dyn std::any::Any>>>,
    /// Causal depth of the change that wrote this version (1 + the deepest of its deps): an
    /// entry written after another in the change graph is always deeper.
    depth: u64,
    /// The change that wrote this version.
    change: u32,
    /// When this device first read it (ms), if it arrived while the room was open here.
    seen_at: Option<i64>,
    /// Whether this is the version that counts at its key (see [`counted`]), worked out as
    /// versions are read so views need not ask again for every entry.
    counts: bool,
    /// Whether more than one version at its key claims the author its id is bound to: only
    /// a signature tells which is theirs (see `RoomDoc::entries`).
    contested: bool,
}

impl Clone for Raw {
    /// A copy with its verification kept and its typed reading left to be made again.
    fn clone(&self) -> Self {
        Raw {
            fields: self.fields.clone(),
            verified: self.verified.clone(),
            parsed: OnceCell::new(),
            depth: self.depth,
            change: self.change,
            seen_at: self.seen_at,
            counts: self.counts,
            contested: self.contested,
        }
    }
}

impl Raw {
    fn new(fields: BTreeMap<String, Field>, depth: u64, change: u32) -> Self {
        Raw {
            fields,
            verified: OnceCell::new(),
            parsed: OnceCell::new(),
            depth,
            change,
            seen_at: None,
            counts: false,
            contested: false,
        }
    }

    /// See [`Raw::contested`].
    pub fn contested(&self) -> bool {
        self.contested
    }

    /// Whether this is the version that counts at its key (not contested).
    pub fn counts(&self) -> bool {
        self.counts
    }

    /// The entry read as a `T` by `parse` (which runs once per entry and should check the
    /// signature); `None` if it does not parse. One module reads each prefix, so one `T` per
    /// entry.
    pub fn parsed<T: 'static>(&self, parse: impl FnOnce(&Raw) -> Option<T>) -> Option<&T> {
        self.parsed
            .get_or_init(|| parse(self).map(|t| Box::new(t) as Box<dyn std::any::Any>))
            .as_ref()?
            .downcast_ref()
    }

    /// The key its author signed with (not yet checked).
    pub fn author(&self) -> Option<&str> {
        text(&self.fields, "author")
    }

    /// The causal depth of the change that wrote this version.
    pub fn depth(&self) -> u64 {
        self.depth
    }

    /// Where this version sits in the change graph.
    pub fn anchor(&self) -> Anchor {
        Anchor {
            depth: self.depth,
            change: self.change,
        }
    }

    /// Order of versions at one key: causally earlier first; concurrent ones by content.
    fn order(&self, other: &Raw) -> std::cmp::Ordering {
        (self.depth, &self.fields).cmp(&(other.depth, &other.fields))
    }
}

impl std::ops::Deref for Raw {
    type Target = BTreeMap<String, Field>;
    fn deref(&self) -> &Self::Target {
        &self.fields
    }
}

/// A set of changes (see [`Index::built_after`]).
#[derive(Default)]
pub(crate) struct ChangeSet(Vec<u64>);

impl ChangeSet {
    /// Adds the changes of `other`.
    pub fn add(&mut self, other: &ChangeSet) {
        self.0.resize(self.0.len().max(other.0.len()), 0);
        self.0.iter_mut().zip(&other.0).for_each(|(a, b)| *a |= b);
    }

    /// Whether the change that wrote `entry` is in the set.
    pub fn holds(&self, entry: &Raw) -> bool {
        let n = entry.change as usize;
        self.0.get(n / 64).is_some_and(|w| w >> (n % 64) & 1 == 1)
    }
}

/// A place in the change graph (the change that wrote an entry), kept by derived views to
/// ask later what was written after it ([`Index::precedes_anchor`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Anchor {
    depth: u64,
    change: u32,
}

impl Anchor {
    /// The change's number on this device (in the order read).
    pub fn change(&self) -> u32 {
        self.change
    }
}

/// What a change did that the rules ignore: entries are facts, so a delete, an overwrite or a
/// later edit of an entry's fields changes no view, and is listed for the room to see.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Tampering {
    /// The root key it aimed at (`vouch:…`, `founder`, `posts`, …).
    pub key: String,
    pub kind: TamperKind,
    /// The change that did it (hex), and the time that change claims (ms; 0 if none).
    pub change: String,
    pub claimed_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub enum TamperKind {
    /// The key was deleted.
    Deleted,
    /// Something else was written at the key: another map by another author, or a value.
    Overwritten,
    /// A field of an entry was changed after the entry was written.
    Altered { field: String },
    /// A signed entry was copied into a change other than the one it was written in (it
    /// signs the heads it was written on: see [`put_signed`]).
    Replayed,
}

/// What [`Index`] derived from a document's history up to `heads`, to be kept beside the
/// document and read back instead of reading the whole history again: a cache, checked
/// against the document it is loaded with and ignored if it does not fit it.
#[derive(serde::Serialize, serde::Deserialize)]
pub(crate) struct Facts {
    version: u32,
    heads: Vec<String>,
    /// Every change read, in number order: (hash, depth, numbers of its deps).
    changes: Vec<(String, u64, Vec<u32>)>,
    /// By change number: latest claimed time before it, and including it.
    times: Vec<(i64, i64)>,
    /// Actors in number order (hex).
    actors: Vec<String>,
    objects: Vec<(u64, u32, String)>,
    /// Root key → versions: (fields, depth, change number).
    entries: Vec<(String, Vec<KeptVersion>)>,
    events: Vec<(String, TamperKind, String, i64)>,
    names: Vec<(u64, String, u32)>,
    posts_maps: Vec<(u64, u64, String, u32)>,
    /// Change number → changes holding an identical copy of the entry it wrote.
    copies: Vec<(u32, Vec<u32>)>,
    bodies: Vec<(String, u64, u64, String, u32)>,
    legacy_posts: Vec<LegacyPost>,
}

const FACTS_VERSION: u32 = 7;

/// Beyond this difference in depth, ancestry is looked up in marked descendants rather than
/// walked back (see [`Index::precedes_anchor`]).
const FAR: u64 = 64;

/// A post made in a posts map by a build before signed posts: where, and the fields its making
/// change wrote that its signature covers or names (kind, creation time, author, signature).
#[derive(Clone, serde::Serialize, serde::Deserialize)]
pub(crate) struct LegacyPost {
    /// The posts map it was made in ("counter@actor").
    pub map: String,
    pub id: String,
    /// The post's own map ("counter@actor").
    pub obj: String,
    depth: u64,
    change: u32,
    pub fields: BTreeMap<String, Field>,
}

/// The fields of a legacy post bound to the change that made it.
const LEGACY_BOUND: [&str; 4] = ["kind", "created_at", "author", "sig"];

/// A text object made at a page body key: (depth, counter, actor, change number).
type MadeText = (u64, u64, Vec<u8>, u32);

/// One version as kept in [`Facts`]: (fields, depth, change number, checked, first seen).
/// And whether its signature was found to hold, if it was checked (this device's own
/// finding, kept so a reopen checks no signature twice).
/// And when it first reached this device, if it arrived while the room was open here (so an
/// entry that came long after its date stays marked so after a reload).
type KeptVersion = (BTreeMap<String, Field>, u64, u32, Option<bool>, Option<i64>);

impl Facts {
    pub fn changes_len(&self) -> usize {
        self.changes.len()
    }
}

/// An entry map's object id: (counter, the actor's number in [`Index::actors`]).
type ObjKey = (u64, u32);

/// Every entry ever written at the root (maps under `kind:id` keys, and `founder`), derived
/// from the document's history: each change is read once, in causal order, and every map it
/// creates at an entry key becomes a version of that entry, holding exactly the fields that
/// change wrote into it. Nothing a later change does — deleting the key, putting something
/// else there, editing the map's fields, re-putting an older version — removes or alters a
/// version; such changes are recorded as [`Tampering`]. The result depends only on the set of
/// changes, not on the order they arrived in, so every device derives the same.
///
/// Views read this, never the document, so deriving a view costs no automerge lookups and no
/// repeated signature checks.
#[derive(Default, Clone)]
pub(crate) struct Index {
    /// Root key → its distinct versions, causally earliest first (see [`Raw::order`]).
    entries: BTreeMap<String, Vec<Raw>>,
    /// Every actor seen, numbered in the order first seen (numbers stay on this device).
    actors: std::collections::HashMap<Vec<u8>, u32>,
    /// Entry maps seen so far → their root key, so later writes into them can be recognised.
    objects: std::collections::HashMap<ObjKey, String>,
    /// Each change's number here (in the order read; a change is read after its deps), and
    /// back.
    numbers: std::collections::HashMap<automerge::ChangeHash, u32>,
    hashes: Vec<automerge::ChangeHash>,
    /// By number: each change's causal depth and its dependencies' numbers — the change
    /// graph, for [`Index::precedes`].
    graph: Vec<(u64, Vec<u32>)>,
    /// By number: the latest time claimed by an entry written before each change (in its
    /// causal past), and the same including the change's own entries.
    before: Vec<i64>,
    latest: Vec<i64>,
    /// Answers of [`Index::precedes`] already worked out, and a scratch mark per change.
    ancestry: std::cell::RefCell<std::collections::HashMap<(u32, u32), bool>>,
    visited: std::cell::RefCell<(u32, Vec<u32>)>,
    /// For changes asked about from far away: which changes descend from each (by number).
    descendants: std::cell::RefCell<std::collections::HashMap<u32, (usize, Vec<u64>)>>,
    /// Change number → other changes holding a byte-identical copy of the entry it wrote,
    /// built on the same heads (so passing `after`): whoever built on any of them had the
    /// entry (see [`Index::precedes_anchor`]). Which one a device read first decides nothing.
    copies: std::collections::HashMap<u32, Vec<u32>>,
    /// Keys of the versions read since [`Index::note_arrivals`] or [`Index::forget_arrivals`].
    arrived: Vec<String>,
    /// Deletes and values put at root keys, and late writes into entry maps, as they were
    /// seen; judged against the entries by [`Index::tampering`].
    events: Vec<(String, TamperKind, automerge::ChangeHash, i64)>,
    /// The room's own root values, every time they were written, with the depth and hash of
    /// the change that wrote them: the name, and the map that holds the board's posts (its
    /// counter and actor). The causally first of the room's own history counts (see
    /// [`Index::room_name`]).
    names: Vec<(u64, String, u32)>,
    posts_maps: Vec<(u64, u64, Vec<u8>, u32)>,
    /// Posts made in a posts map (by builds before signed posts), as their making change
    /// wrote them (see [`Index::legacy_posts`]).
    legacy_posts: Vec<LegacyPost>,
    /// Text objects made at `pagebody:<id>` keys: the one made with the page's entry is its
    /// body, whatever is put over or deletes it later (see [`Index::text_made_with`]).
    bodies: BTreeMap<String, Vec<MadeText>>,
    /// Bumped whenever an entry changes, so derived views can be remembered until then.
    generation: u64,
}

impl Index {
    /// Reads the whole history of `doc`.
    pub fn build(doc: &mut AutoCommit) -> Self {
        let mut index = Index::default();
        index.add_changes(doc, &[]);
        index
    }

    /// Reads the changes of `doc` that are not in the causal past of `since`.
    pub fn add_changes(&mut self, doc: &mut AutoCommit, since: &[automerge::ChangeHash]) {
        self.generation += 1;
        // `get_changes` lists a change after all of its dependencies.
        for change in doc.get_changes(since) {
            self.add_change(&change);
        }
    }

    /// What this index holds, as of `heads`, to keep (see [`Facts`]).
    pub fn facts(&self, heads: &[automerge::ChangeHash]) -> Facts {
        let mut changes: Vec<(String, u64, Vec<u32>)> =
            vec![(String::new(), 0, Vec::new()); self.graph.len()];
        for (hash, n) in &self.numbers {
            let (depth, deps) = &self.graph[*n as usize];
            changes[*n as usize] = (hash.to_string(), *depth, deps.clone());
        }
        let mut actors = vec![String::new(); self.actors.len()];
        for (bytes, n) in &self.actors {
            actors[*n as usize] = crate::crypto::hex(bytes);
        }
        Facts {
            version: FACTS_VERSION,
            heads: heads.iter().map(|h| h.to_string()).collect(),
            changes,
            times: self
                .before
                .iter()
                .zip(&self.latest)
                .map(|(b, l)| (*b, *l))
                .collect(),
            actors,
            objects: self
                .objects
                .iter()
                .map(|((c, a), k)| (*c, *a, k.clone()))
                .collect(),
            entries: self
                .entries
                .iter()
                .map(|(k, vs)| {
                    let vs = vs
                        .iter()
                        .map(|v| {
                            (
                                v.fields.clone(),
                                v.depth,
                                v.change,
                                v.verified.get().copied(),
                                v.seen_at,
                            )
                        })
                        .collect();
                    (k.clone(), vs)
                })
                .collect(),
            events: self
                .events
                .iter()
                .map(|(k, kind, h, at)| (k.clone(), kind.clone(), h.to_string(), *at))
                .collect(),
            names: self.names.clone(),
            copies: self.copies.iter().map(|(c, cs)| (*c, cs.clone())).collect(),
            posts_maps: self
                .posts_maps
                .iter()
                .map(|(d, c, a, n)| (*d, *c, crate::crypto::hex(a), *n))
                .collect(),
            bodies: self
                .bodies
                .iter()
                .flat_map(|(k, vs)| {
                    vs.iter()
                        .map(move |(d, c, a, n)| (k.clone(), *d, *c, crate::crypto::hex(a), *n))
                })
                .collect(),
            legacy_posts: self.legacy_posts.clone(),
        }
    }

    /// An index read back from `facts`, if they fit `doc`: every change they list is in it.
    /// The changes of `doc` after the facts' heads are then read as usual.
    pub fn from_facts(facts: Facts, doc: &mut AutoCommit) -> Option<Index> {
        use std::str::FromStr;
        if facts.version != FACTS_VERSION {
            return None;
        }
        let hash = |h: &str| automerge::ChangeHash::from_str(h).ok();
        let heads: Vec<automerge::ChangeHash> =
            facts.heads.iter().map(|h| hash(h)).collect::<Option<_>>()?;
        if heads.iter().any(|h| doc.get_change_by_hash(h).is_none()) {
            return None;
        }
        let mut index = Index::default();
        let count = facts.changes.len();
        for (n, (h, depth, deps)) in facts.changes.into_iter().enumerate() {
            if deps.iter().any(|d| *d as usize >= n) {
                return None;
            }
            let h = hash(&h)?;
            index.numbers.insert(h, n as u32);
            index.hashes.push(h);
            index.graph.push((depth, deps));
        }
        if index.numbers.len() != count || facts.times.len() != count {
            return None;
        }
        (index.before, index.latest) = facts.times.into_iter().unzip();
        for (n, a) in facts.actors.iter().enumerate() {
            index.actors.insert(crate::crypto::from_hex(a)?, n as u32);
        }
        index.objects = facts
            .objects
            .into_iter()
            .map(|(c, a, k)| ((c, a), k))
            .collect();
        for (key, versions) in facts.entries {
            let mut vs = Vec::with_capacity(versions.len());
            for (fields, depth, change, checked, seen_at) in versions {
                if change as usize >= count {
                    return None;
                }
                let mut raw = Raw::new(fields, depth, change);
                raw.seen_at = seen_at;
                if let Some(ok) = checked {
                    let _ = raw.verified.set(ok);
                }
                vs.push(raw);
            }
            mark_counted(&key, &mut vs);
            index.entries.insert(key, vs);
        }
        for (key, kind, h, at) in facts.events {
            index.events.push((key, kind, hash(&h)?, at));
        }
        index.names = facts.names;
        for (c, cs) in facts.copies {
            if c as usize >= count || cs.iter().any(|n| *n as usize >= count) {
                return None;
            }
            index.copies.insert(c, cs);
        }
        for (d, c, a, n) in facts.posts_maps {
            index
                .posts_maps
                .push((d, c, crate::crypto::from_hex(&a)?, n));
        }
        for (key, d, c, a, n) in facts.bodies {
            let actor = crate::crypto::from_hex(&a)?;
            index.bodies.entry(key).or_default().push((d, c, actor, n));
        }
        if facts
            .legacy_posts
            .iter()
            .any(|p| p.change as usize >= count)
        {
            return None;
        }
        index.legacy_posts = facts.legacy_posts;
        index.add_changes(doc, &heads);
        Some(index)
    }

    /// Notes `now` as when the versions read from change number `since` on were first read.
    pub fn note_arrivals(&mut self, since: usize, now_ms: i64) {
        for key in std::mem::take(&mut self.arrived) {
            for v in self.entries.get_mut(&key).into_iter().flatten() {
                if v.change as usize >= since && v.seen_at.is_none() {
                    v.seen_at = Some(now_ms);
                }
            }
        }
    }

    /// Forgets which versions were read last (they were written here, or loaded).
    pub fn forget_arrivals(&mut self) {
        self.arrived.clear();
    }

    /// How many changes have been read.
    pub fn changes_read(&self) -> usize {
        self.graph.len()
    }

    /// Entries (key, claimed time, first read here) that arrived more than `late_ms` after
    /// the time they claim: written long ago and kept back, or dated in the past.
    pub fn late(&self, late_ms: i64) -> Vec<(String, i64, i64)> {
        let mut out = Vec::new();
        for (key, versions) in &self.entries {
            for v in versions {
                if let (Some(at), Some(seen)) = (int(v, "at"), v.seen_at) {
                    if seen.saturating_sub(at) > late_ms {
                        out.push((key.clone(), at, seen));
                    }
                }
            }
        }
        out
    }

    fn add_change(&mut self, change: &automerge::Change) {
        use automerge::legacy::{Key, ObjectId, OpType};
        let hash = change.hash();
        let deps: Vec<u32> = change
            .deps()
            .iter()
            .filter_map(|d| self.numbers.get(d).copied())
            .collect();
        let depth = 1 + deps
            .iter()
            .map(|d| self.graph[*d as usize].0)
            .max()
            .unwrap_or(0);
        let number = self.graph.len() as u32;
        self.numbers.insert(hash, number);
        self.hashes.push(hash);
        let past = deps
            .iter()
            .map(|d| self.latest[*d as usize])
            .max()
            .unwrap_or(i64::MIN);
        self.graph.push((depth, deps));
        let decoded = change.decode();
        let next = self.actors.len() as u32;
        let actor = *self
            .actors
            .entry(decoded.actor_id.to_bytes().to_vec())
            .or_insert(next);
        let start = decoded.start_op.get();
        let claimed_at = decoded.time;
        // Maps this change creates at entry keys, with the fields it writes into them.
        let mut fresh: Vec<(ObjKey, String, BTreeMap<String, Field>)> = Vec::new();
        for (i, op) in decoded.operations.iter().enumerate() {
            match (&op.obj, &op.key, &op.action) {
                (ObjectId::Root, Key::Map(key), action) => {
                    let key = key.to_string();
                    match action {
                        OpType::Put(automerge::ScalarValue::Str(name)) if key == "name" => {
                            self.names.push((depth, name.to_string(), number));
                        }
                        OpType::Make(ObjType::Text) if key.starts_with("pagebody:") => {
                            let bytes = decoded.actor_id.to_bytes().to_vec();
                            self.bodies.entry(key).or_default().push((
                                depth,
                                start + i as u64,
                                bytes,
                                number,
                            ));
                        }
                        OpType::Make(ObjType::Map) if key == "posts" => {
                            let bytes = decoded.actor_id.to_bytes().to_vec();
                            self.posts_maps
                                .push((depth, start + i as u64, bytes, number));
                        }
                        OpType::Make(ObjType::Map) if indexed_key(&key) => {
                            fresh.push(((start + i as u64, actor), key, BTreeMap::new()));
                        }
                        OpType::Delete => {
                            self.events
                                .push((key, TamperKind::Deleted, hash, claimed_at));
                        }
                        _ if indexed_key(&key) || ROOM_KEYS.contains(&key.as_str()) => {
                            self.events
                                .push((key, TamperKind::Overwritten, hash, claimed_at));
                        }
                        _ => {}
                    }
                }
                (ObjectId::Id(obj), Key::Map(field), action) => {
                    if let OpType::Make(ObjType::Map) = action {
                        let (counter, actor_bytes) = (obj.0, obj.1.to_bytes());
                        if self
                            .posts_maps
                            .iter()
                            .any(|(_, c, a, _)| *c == counter && a == actor_bytes)
                        {
                            let own = crate::crypto::hex(decoded.actor_id.to_bytes());
                            self.legacy_posts.push(LegacyPost {
                                map: format!("{counter}@{}", crate::crypto::hex(actor_bytes)),
                                id: field.to_string(),
                                obj: format!("{}@{own}", start + i as u64),
                                depth,
                                change: number,
                                fields: BTreeMap::new(),
                            });
                            continue;
                        }
                    }
                    let making_posts = self.legacy_posts.last().is_some_and(|p| p.change == number);
                    if making_posts && LEGACY_BOUND.contains(&field.as_str()) {
                        if let OpType::Put(v) = action {
                            let obj_name =
                                format!("{}@{}", obj.0, crate::crypto::hex(obj.1.to_bytes()));
                            // Only into a post this same change made.
                            if let Some(post) = self
                                .legacy_posts
                                .iter_mut()
                                .rev()
                                .take_while(|p| p.change == number)
                                .find(|p| p.obj == obj_name)
                            {
                                if let Some(value) = field_of(v) {
                                    post.fields.insert(field.to_string(), value);
                                }
                            }
                        }
                    }
                    let Some(actor) = self.actors.get(obj.1.to_bytes()) else {
                        continue;
                    };
                    let obj: ObjKey = (obj.0, *actor);
                    if let Some((_, _, fields)) = fresh.iter_mut().find(|(o, _, _)| *o == obj) {
                        match action {
                            OpType::Put(v) => {
                                if let Some(value) = field_of(v) {
                                    fields.insert(field.to_string(), value);
                                }
                            }
                            _ => {
                                fields.remove(field.as_str());
                            }
                        }
                    } else if let Some(key) = self.objects.get(&obj) {
                        let kind = TamperKind::Altered {
                            field: field.to_string(),
                        };
                        self.events.push((key.clone(), kind, hash, claimed_at));
                    }
                }
                _ => {}
            }
        }
        let own = fresh
            .iter()
            .filter_map(|(_, _, fields)| int(fields, "at"))
            .max()
            .unwrap_or(i64::MIN);
        self.before.push(past);
        self.latest.push(past.max(own));
        let mut after: Option<String> = None;
        for (obj, key, fields) in fresh {
            self.objects.insert(obj, key.clone());
            if let Some(named) = text(&fields, "after") {
                let own = after.get_or_insert_with(|| self.heads_digest(change.deps()));
                if named != own {
                    self.events
                        .push((key, TamperKind::Replayed, hash, claimed_at));
                    continue;
                }
            }
            let versions = self.entries.entry(key.clone()).or_default();
            if let Some(same) = versions.iter_mut().find(|v| v.fields == fields) {
                if same.change == number {
                    continue;
                }
                // Copies of one version are one entry, whichever was read first: it sits at
                // the shallowest copy (then the least hash), so every device places it alike
                // (an entry written before entries signed the heads they were written on
                // could be copied anywhere; one that signs them, only beside itself).
                let (kept, kept_hash) = (same.change, self.hashes[same.change as usize]);
                if (depth, hash) < (same.depth, kept_hash) {
                    let mut others = self.copies.remove(&kept).unwrap_or_default();
                    others.push(kept);
                    self.copies.insert(number, others);
                    (same.change, same.depth) = (number, depth);
                    versions.sort_by(|a, b| a.order(b));
                    mark_counted(&key, versions);
                    self.arrived.push(key);
                } else {
                    self.copies.entry(kept).or_default().push(number);
                }
                continue;
            }
            let raw = Raw::new(fields, depth, number);
            let at = versions.partition_point(|v| v.order(&raw).is_lt());
            versions.insert(at, raw);
            mark_counted(&key, versions);
            self.arrived.push(key);
        }
    }

    /// The digest of the heads a change was written on: its dependencies, less any that is
    /// in the past of another (automerge also lists an actor's own previous change when other
    /// changes have been built on it).
    fn heads_digest(&self, deps: &[automerge::ChangeHash]) -> String {
        let anchor = |h: &automerge::ChangeHash| {
            let n = *self.numbers.get(h)?;
            Some(Anchor {
                depth: self.graph[n as usize].0,
                change: n,
            })
        };
        let anchors: Vec<Option<Anchor>> = deps.iter().map(anchor).collect();
        let heads: Vec<automerge::ChangeHash> = deps
            .iter()
            .zip(&anchors)
            .filter(|(_, a)| {
                let Some(a) = a else { return true };
                !anchors
                    .iter()
                    .flatten()
                    .any(|b| b != a && self.precedes_anchor(*a, *b))
            })
            .map(|(h, _)| *h)
            .collect();
        after_digest(&heads)
    }

    /// What changes did to entries that the rules ignore, in a stable order: deletes of any
    /// root key that ever held an entry (and of the room's own keys), values put over an
    /// entry, maps put at an entry's key by another author than the entry's, edits of an
    /// entry's fields after it was written, and names and posts maps other than the room's
    /// (`founding`: see [`Index::room_name`]).
    pub fn tampering(&self, founding: Option<&Raw>) -> Vec<Tampering> {
        let mut out: Vec<Tampering> = Vec::new();
        let mut push = |key: &str, kind: TamperKind, change: &automerge::ChangeHash, at: i64| {
            out.push(Tampering {
                key: key.to_owned(),
                kind,
                change: change.to_string(),
                claimed_at: at,
            })
        };
        for (key, kind, change, at) in &self.events {
            let entry = self.entries.contains_key(key);
            let body = self.bodies.contains_key(key);
            let counts = match kind {
                TamperKind::Deleted => entry || body || ROOM_KEYS.contains(&key.as_str()),
                TamperKind::Overwritten => entry || body || key == "posts",
                TamperKind::Altered { .. } => entry,
                TamperKind::Replayed => true,
            };
            if counts {
                push(key, kind.clone(), change, *at);
            }
        }
        for (key, versions) in &self.entries {
            if versions.first().is_some_and(|v| v.contested) {
                out.push(Tampering {
                    key: key.clone(),
                    kind: TamperKind::Overwritten,
                    change: "by a second version claiming its author".into(),
                    claimed_at: 0,
                });
            }
            let Some(first) = counted(versions).or(versions.first()) else {
                continue;
            };
            for other in versions {
                if other.author() != first.author() {
                    // Versions keep no change hash; the key and the author say enough.
                    let by = other.author().unwrap_or("?").to_owned();
                    out.push(Tampering {
                        key: key.clone(),
                        kind: TamperKind::Overwritten,
                        change: format!("by {by}"),
                        claimed_at: int(other, "at").unwrap_or(0),
                    });
                }
            }
        }
        let counted = self.room_name(founding);
        for (_, name, _) in self.names.iter().filter(|n| Some(n.1.as_str()) != counted) {
            out.push(Tampering {
                key: "name".into(),
                kind: TamperKind::Overwritten,
                change: format!("to {name}"),
                claimed_at: 0,
            });
        }
        for (key, made) in &self.bodies {
            if made.len() > 1 {
                out.push(Tampering {
                    key: key.clone(),
                    kind: TamperKind::Overwritten,
                    change: String::new(),
                    claimed_at: 0,
                });
            }
        }
        for id in self.legacy_posts_replaced() {
            out.push(Tampering {
                key: format!("posts/{id}"),
                kind: TamperKind::Overwritten,
                change: String::new(),
                claimed_at: 0,
            });
        }
        if self.posts_maps.len() > 1 {
            out.push(Tampering {
                key: "posts".into(),
                kind: TamperKind::Overwritten,
                change: String::new(),
                claimed_at: 0,
            });
        }
        out.sort();
        out.dedup();
        out
    }

    /// The room's name as first written (later writes are tampering: a room is named once) in
    /// the room's own history: before `founding`, the founder entry that counts. A history
    /// built apart from an empty document (a rival founded by someone else) writes its name
    /// as early, but not before this room's founder; with no founder yet, the causally first.
    pub fn room_name(&self, founding: Option<&Raw>) -> Option<&str> {
        let at = |(depth, _, change): &(u64, String, u32)| Anchor {
            depth: *depth,
            change: *change,
        };
        let (_, name, _) = self.first_of_the_room(&self.names, founding, at)?;
        Some(name)
    }

    /// The board's posts map as first created ("counter@actor") in the room's own history
    /// (see [`Index::room_name`]), whatever was put over it.
    pub fn posts_map(&self, founding: Option<&Raw>) -> Option<String> {
        let at = |(depth, .., change): &(u64, u64, Vec<u8>, u32)| Anchor {
            depth: *depth,
            change: *change,
        };
        let (_, counter, actor, _) = self.first_of_the_room(&self.posts_maps, founding, at)?;
        Some(format!("{counter}@{}", crate::crypto::hex(actor)))
    }

    /// The posts made in the posts map `map` ("counter@actor") by builds before signed posts,
    /// each with the kind, creation time, author and signature its making change wrote (what
    /// anyone writes into it later is not bound to it), and whether it is contested. Where
    /// more than one map was made at an id, the one in the causal past of the others counts (a
    /// post put over another replaces nothing); made apart (on an older state of the room,
    /// where the id could be known only from the real one), none is bound to an author: all
    /// are listed (by depth, then change hash), contested, for a reader to show the first that
    /// reads, without an author.
    pub fn legacy_posts(&self, map: &str) -> Vec<(&LegacyPost, bool)> {
        let mut posts: Vec<&LegacyPost> =
            self.legacy_posts.iter().filter(|p| p.map == map).collect();
        let place = |p: &LegacyPost| Anchor {
            depth: p.depth,
            change: p.change,
        };
        posts.sort_by(|a, b| {
            (&a.id, a.depth, self.hashes[a.change as usize]).cmp(&(
                &b.id,
                b.depth,
                self.hashes[b.change as usize],
            ))
        });
        let mut out = Vec::new();
        for rivals in posts.chunk_by(|a, b| a.id == b.id) {
            let first = rivals.iter().find(|p| {
                rivals
                    .iter()
                    .all(|q| self.precedes_anchor(place(p), place(q)))
            });
            match first {
                Some(p) => out.push((*p, false)),
                None => out.extend(rivals.iter().map(|p| (*p, true))),
            }
        }
        out
    }

    /// Ids at which more than one legacy post was made (see [`Index::legacy_posts`]).
    fn legacy_posts_replaced(&self) -> Vec<String> {
        let mut ids: Vec<&str> = self.legacy_posts.iter().map(|p| p.id.as_str()).collect();
        ids.sort_unstable();
        let mut out: Vec<String> = Vec::new();
        for pair in ids.windows(2) {
            if pair[0] == pair[1] && out.last().map(String::as_str) != Some(pair[0]) {
                out.push(pair[0].to_owned());
            }
        }
        out
    }

    /// The text object made at `key` (a page body: "counter@actor") in the change that wrote
    /// `with` (the page's entry: a text made anywhere else, however early, is not its body).
    pub fn text_made_with(&self, key: &str, with: &Raw) -> Option<String> {
        let (_, counter, actor, _) = self
            .bodies
            .get(key)?
            .iter()
            .filter(|b| b.3 == with.change)
            .min()?;
        Some(format!("{counter}@{}", crate::crypto::hex(actor)))
    }

    /// The first of `values` written before `founding`; with none, the first of all.
    fn first_of_the_room<'a, T: Ord>(
        &self,
        values: &'a [T],
        founding: Option<&Raw>,
        written: impl Fn(&T) -> Anchor,
    ) -> Option<&'a T> {
        let before =
            |v: &&T| founding.is_some_and(|f| self.precedes_anchor(written(v), f.anchor()));
        values
            .iter()
            .filter(before)
            .min()
            .or_else(|| values.iter().min())
    }

    /// Every version ever written at `key`, causally earliest first: for keys anyone can
    /// predict (`member:<key>`, `founder`), whose readers pick the version that counts.
    pub fn versions<'a>(&'a self, key: &str) -> impl Iterator<Item = &'a Raw> + 'a {
        self.entries.get(key).into_iter().flatten()
    }

    /// Every version at `key`, causally earliest first.
    pub fn versions_at(&self, key: &str) -> Option<&[Raw]> {
        self.entries.get(key).map(Vec::as_slice)
    }

    /// Every key under `prefix` with all of its versions (see [`RoomDoc::entries`] for the one
    /// that counts). At a key chosen at random by its writer, the causally first version is the
    /// writer's own: nobody else can have known the key before it existed — unless the writer
    /// builds on an old state of the room (hidden from the others), so a rival put at a known
    /// key can be causally "earlier". Ids made by [`crate::crypto::entry_id`] name their
    /// author, so at such a key only that author's version counts, however early a rival
    /// claims to be.
    pub fn range_versions<'a>(
        &'a self,
        prefix: &str,
    ) -> impl Iterator<Item = (&'a str, &'a [Raw])> + 'a {
        let (prefix, skip) = (prefix.to_owned(), prefix.len());
        self.entries
            .range::<str, _>((
                std::ops::Bound::Included(prefix.as_str()),
                std::ops::Bound::Unbounded,
            ))
            .take_while(move |(k, _)| k.starts_with(&prefix))
            .map(move |(k, versions)| (&k[skip..], versions.as_slice()))
    }

    /// Whether `earlier` was written in the causal past of `later` (or in the same change):
    /// whoever wrote `later` had `earlier` in their document. Claimed times can lie; this
    /// cannot. Worked out by walking `later`'s dependencies back, no deeper than `earlier`.
    /// An entry with copies is had by whoever had any of them, and was written after what any
    /// of them was written after: the answer never depends on which copy a device read first.
    pub fn precedes(&self, earlier: &Raw, later: &Raw) -> bool {
        self.precedes_anchor(earlier.anchor(), later.anchor())
    }

    /// [`Index::precedes`] for places in the change graph.
    pub fn precedes_anchor(&self, earlier: Anchor, later: Anchor) -> bool {
        if self.copies.is_empty() {
            return self.precedes_change(earlier, later);
        }
        let with_copies = |a: Anchor| {
            let copies = self.copies.get(&a.change).into_iter().flatten();
            std::iter::once(a).chain(copies.map(|c| Anchor {
                depth: self.graph[*c as usize].0,
                change: *c,
            }))
        };
        with_copies(earlier).any(|e| with_copies(later).any(|l| self.precedes_change(e, l)))
    }

    /// The changes written after `earlier` in the change graph (in changes of their own), or
    /// after a byte-identical copy of it, as bits by change number: for asking of every entry
    /// in the room without remembering a pair each (see [`Index::precedes`]).
    pub fn built_after(&self, earlier: Anchor) -> ChangeSet {
        let mut froms = vec![earlier.change];
        froms.extend(self.copies.get(&earlier.change).into_iter().flatten());
        let mut bits: Vec<u64> = Vec::new();
        for from in &froms {
            // (Marks `from` itself too, and extends the marks to changes read since.)
            self.descends_from(*from, *from);
            let all = self.descendants.borrow();
            let (_, marks) = &all[from];
            bits.resize(bits.len().max(marks.len()), 0);
            bits.iter_mut().zip(marks).for_each(|(b, m)| *b |= m);
        }
        for from in froms {
            if let Some(word) = bits.get_mut(from as usize / 64) {
                *word &= !(1 << (from % 64));
            }
        }
        ChangeSet(bits)
    }

    /// The changes in the causal past of `entry`'s change (not that change itself).
    pub fn past_of(&self, entry: &Raw) -> ChangeSet {
        let mut bits = vec![0u64; self.graph.len().div_ceil(64)];
        let mut stack: Vec<u32> = self.graph[entry.change as usize].1.clone();
        while let Some(n) = stack.pop() {
            let (word, bit) = (n as usize / 64, n % 64);
            if bits[word] >> bit & 1 == 1 {
                continue;
            }
            bits[word] |= 1 << bit;
            stack.extend(&self.graph[n as usize].1);
        }
        ChangeSet(bits)
    }

    /// Whether change `earlier` is `later` or in its causal past.
    fn precedes_change(&self, earlier: Anchor, later: Anchor) -> bool {
        let (from, to) = (earlier.change, later.change);
        let (earlier_depth, later_depth) = (earlier.depth, later.depth);
        if from == to {
            return true;
        }
        if earlier_depth >= later_depth {
            return false;
        }
        if let Some(known) = self.ancestry.borrow().get(&(from, to)) {
            return *known;
        }
        // Far apart (an admission long ago, an entry today): walking back would visit most of
        // the history, for every entry asked about. Instead, mark once every change that
        // descends from `from` (one pass in reading order, deps first) and look `to` up.
        if later_depth - earlier_depth > FAR {
            return self.descends_from(from, to);
        }
        let mut visited = self.visited.borrow_mut();
        let (stamp, marks) = &mut *visited;
        *stamp = stamp.wrapping_add(1);
        if *stamp == 0 {
            marks.iter_mut().for_each(|m| *m = 0);
            *stamp = 1;
        }
        marks.resize(self.graph.len(), 0);
        let mut stack = vec![to];
        let mut found = false;
        while let Some(n) = stack.pop() {
            if n == from {
                found = true;
                break;
            }
            let (depth, deps) = &self.graph[n as usize];
            if *depth <= earlier_depth {
                continue;
            }
            for d in deps {
                if marks[*d as usize] != *stamp {
                    marks[*d as usize] = *stamp;
                    stack.push(*d);
                }
            }
        }
        self.ancestry.borrow_mut().insert((from, to), found);
        found
    }

    /// Whether change `to` descends from change `from` (see [`Index::precedes_anchor`]): the
    /// changes descending from `from` are marked once, and the marks extended as changes are
    /// read.
    fn descends_from(&self, from: u32, to: u32) -> bool {
        let mut all = self.descendants.borrow_mut();
        let (len, bits) = all.entry(from).or_default();
        let get = |bits: &[u64], n: usize| bits.get(n / 64).is_some_and(|w| w >> (n % 64) & 1 == 1);
        for n in *len..self.graph.len() {
            let below = n as u32 == from || self.graph[n].1.iter().any(|d| get(bits, *d as usize));
            if bits.len() <= n / 64 {
                bits.push(0);
            }
            if below {
                bits[n / 64] |= 1 << (n % 64);
            }
        }
        *len = self.graph.len();
        get(bits, to as usize)
    }

    /// The latest time claimed by any entry written before `entry` (in its causal past;
    /// `i64::MIN` if none): what its writer's room had seen.
    pub fn latest_before(&self, entry: &Raw) -> i64 {
        self.before
            .get(entry.change as usize)
            .copied()
            .unwrap_or(i64::MIN)
    }

    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Moves the generation on, so views remembered by it are derived again.
    pub fn touch(&mut self) {
        self.generation += 1;
    }

    /// The change that wrote `entry`.
    pub fn change_of(&self, entry: &Raw) -> automerge::ChangeHash {
        self.hashes[entry.change as usize]
    }

    /// Keys of the entries that count whose signature was checked and does not hold (they
    /// count for nothing): as far as views have checked them so far.
    pub fn unverified(&self) -> Vec<String> {
        self.entries
            .iter()
            .filter(|(_, versions)| {
                counted(versions).is_some_and(|v| v.verified.get() == Some(&false))
            })
            .map(|(key, _)| key.clone())
            .collect()
    }
}

/// Of the versions at one key, the one marked as counting (see [`mark_counted`]; a contested
/// key has none: `RoomDoc::resolve` tells its versions apart).
fn counted(versions: &[Raw]) -> Option<&Raw> {
    versions.iter().find(|v| v.counts)
}

/// Marks which of the versions at `key` counts — at an id bound to its author, that author's
/// first; at any other, the first — and whether the key is contested: more than one version
/// claims the author its id is bound to (then none is marked here, and the reader tells them
/// apart by their signatures).
fn mark_counted(key: &str, versions: &mut [Raw]) {
    let (which, contested) = match crate::crypto::id_author(key) {
        Some(bound) => {
            let claims = |v: &Raw| v.author().is_some_and(|a| a.starts_with(bound));
            let first = versions.iter().position(claims);
            (first, versions.iter().filter(|v| claims(v)).count() > 1)
        }
        None => ((!versions.is_empty()).then_some(0), false),
    };
    for (i, v) in versions.iter_mut().enumerate() {
        v.counts = Some(i) == which && !contested;
        v.contested = contested;
    }
}

/// Root keys of the room itself (not entries) whose deletion is tampering.
const ROOM_KEYS: [&str; 4] = ["posts", "name", "schema", "created_at"];

fn field_of(v: &automerge::ScalarValue) -> Option<Field> {
    use automerge::ScalarValue as S;
    match v {
        S::Str(s) => Some(Field::Text(s.to_string())),
        S::Int(v) | S::Timestamp(v) => Some(Field::Int(*v)),
        _ => None,
    }
}

/// Root keys the index holds: module entries (`kind:id`) and the founder entry.
fn indexed_key(key: &str) -> bool {
    key.contains(':') || key == "founder"
}

pub(crate) fn text<'a>(fields: &'a BTreeMap<String, Field>, name: &str) -> Option<&'a str> {
    match fields.get(name)? {
        Field::Text(t) => Some(t),
        Field::Int(_) => None,
    }
}

pub(crate) fn int(fields: &BTreeMap<String, Field>, name: &str) -> Option<i64> {
    match fields.get(name)? {
        Field::Int(v) => Some(*v),
        Field::Text(_) => None,
    }
}

/// Writes a signed entry as a map at the root under `key`: the canonical's fields, `after`,
/// `author` and `sig`.
///
/// `after` names the heads the entry is written on (a digest of them): the entry starts a
/// change of its own (whatever was pending is committed first), whose dependencies are
/// exactly those heads, and the signature covers them. So the entry counts only in the change
/// it was written in: a copy put into another change — say one built on an old state of the
/// room, to make the entry look written before what its author had seen — is not it.
pub(crate) fn put_signed(
    doc: &mut AutoCommit,
    key: &str,
    signer: &Identity,
    canonical: Canonical,
) -> Result<(), DomainError> {
    let heads = doc.get_heads();
    let canonical = canonical.text("after", &after_digest(&heads));
    let obj = doc.put_object(ROOT, key, ObjType::Map)?;
    for (name, value) in &canonical.fields {
        match value {
            Field::Text(t) => doc.put(&obj, name.as_str(), t.as_str())?,
            Field::Int(v) => doc.put(&obj, name.as_str(), *v)?,
        }
    }
    doc.put(&obj, "author", signer.public())?;
    doc.put(&obj, "sig", signer.sign(canonical.bytes()))?;
    Ok(())
}

/// The digest of a change's dependencies an entry signs as `after` (see [`put_signed`]).
pub(crate) fn after_digest(heads: &[automerge::ChangeHash]) -> String {
    use sha2::{Digest, Sha256};
    let mut sorted: Vec<&automerge::ChangeHash> = heads.iter().collect();
    sorted.sort();
    let mut hasher = Sha256::new();
    hasher.update(b"tequio-after");
    for h in sorted {
        hasher.update(h.0);
    }
    crate::crypto::hex(&hasher.finalize()[..16])
}

/// Whether an entry's `sig` verifies for its `author` over its canonical encoding (built only
/// the first time the entry is checked; the answer is kept until the entry changes), followed
/// by the `after` it names, if any (entries written before it was signed have none; the
/// index has checked it names the change's own dependencies).
pub(crate) fn verifies(raw: &Raw, canonical: impl FnOnce() -> Canonical) -> bool {
    *raw.verified.get_or_init(|| {
        let (Some(author), Some(sig)) = (text(raw, "author"), text(raw, "sig")) else {
            return false;
        };
        let canonical = match text(raw, "after") {
            Some(after) => canonical().text("after", after),
            None => canonical(),
        };
        verify(author, canonical.bytes(), sig)
    })
}

/// The fields of a signed entry, declared once (see [`signed_entry!`]): the same list gives the
/// canonical bytes its author signs and its reading back from the document.
pub(crate) trait Fields: Sized {
    /// Adds the fields to `c`, in their signed order.
    fn encode(&self, c: Canonical) -> Canonical;
    /// Reads the same fields back; `None` if one that must be there is missing or not of its
    /// type.
    fn decode(f: &Raw) -> Option<Self>;

    /// The canonical encoding of these fields as an entry of `kind` at `id` in `room`.
    fn canonical_as(&self, room: &str, kind: &str, id: &str) -> Canonical {
        self.encode(Canonical::new(room, kind, id))
    }

    /// Whether `raw`'s signature verifies over these fields as an entry of `kind` at `id` (the
    /// answer is kept with `raw`: see [`verifies`]).
    fn signed_as(&self, room: &str, kind: &str, id: &str, raw: &Raw) -> bool {
        verifies(raw, || self.canonical_as(room, kind, id))
    }
}

/// A kind of signed entry: its fields, under one kind name.
pub(crate) trait Entry: Fields {
    /// The kind named in the canonical bytes ("vouch", "ledger", ...).
    const KIND: &'static str;

    /// The canonical encoding of this entry at `id` in `room`.
    fn canonical(&self, room: &str, id: &str) -> Canonical {
        self.canonical_as(room, Self::KIND, id)
    }

    /// Whether `raw`'s signature verifies over this entry at `id` in `room`.
    fn signed(&self, room: &str, id: &str, raw: &Raw) -> bool {
        self.signed_as(room, Self::KIND, id, raw)
    }
}

/// `raw` read as an `E` written at `id` in `room`, if it reads and its signature verifies over
/// exactly what it says.
pub(crate) fn read_entry<E: Entry>(room: &str, id: &str, raw: &Raw) -> Option<E> {
    let entry = E::decode(raw)?;
    entry.signed(room, id, raw).then_some(entry)
}

/// A verified entry read from the index: its id, its author, the entry as stored (for its
/// place in the change graph) and its fields.
pub(crate) struct Signed<'a, E> {
    pub id: &'a str,
    pub author: &'a str,
    pub raw: &'a Raw,
    pub entry: E,
}

impl<'a, E: Entry> Signed<'a, E> {
    /// `raw`, at `id` in `room`, if it reads as an `E` and verifies.
    fn read(room: &str, id: &'a str, raw: &'a Raw) -> Option<Self> {
        Some(Signed {
            id,
            author: raw.author()?,
            raw,
            entry: read_entry::<E>(room, id, raw)?,
        })
    }
}

/// Declares the fields of a kind of signed entry once: a struct with one field per signed
/// field (`String` for text, `i64` for numbers), in signed order, and its [`Fields`] (and,
/// with `= "kind"`, [`Entry`]) implementation. A field may be followed by
/// - `[or_default]`: read as empty (or 0) when missing;
/// - `[omitted_if_empty]`: not written (nor signed) when empty, read as empty when missing.
///
/// ```ignore
/// signed_entry! {
///     pub(crate) struct Vouch = "vouch" { newcomer: String, at: i64 }
/// }
/// ```
macro_rules! signed_entry {
    (
        $(#[$meta:meta])*
        $vis:vis struct $name:ident $(= $kind:literal)? {
            $( $(#[$fmeta:meta])* $field:ident : $ty:ident $([$mode:ident])? ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq)]
        $vis struct $name {
            $( $(#[$fmeta])* pub $field: $ty, )*
        }

        impl $crate::domain::signed::Fields for $name {
            fn encode(
                &self,
                c: $crate::domain::signed::Canonical,
            ) -> $crate::domain::signed::Canonical {
                $( let c = signed_entry!(@put c, self.$field, $field, $ty $(, $mode)?); )*
                c
            }

            fn decode(f: &$crate::domain::signed::Raw) -> Option<Self> {
                Some($name {
                    $( $field: signed_entry!(@get f, $field, $ty $(, $mode)?), )*
                })
            }
        }

        $(
            impl $crate::domain::signed::Entry for $name {
                const KIND: &'static str = $kind;
            }
        )?
    };
    (@put $c:ident, $v:expr, $field:ident, String $(, or_default)?) => {
        $c.text(stringify!($field), &$v)
    };
    (@put $c:ident, $v:expr, $field:ident, String, omitted_if_empty) => {
        if $v.is_empty() { $c } else { $c.text(stringify!($field), &$v) }
    };
    (@put $c:ident, $v:expr, $field:ident, i64 $(, or_default)?) => {
        $c.int(stringify!($field), $v)
    };
    (@get $f:ident, $field:ident, String) => {
        $crate::domain::signed::text($f, stringify!($field))?.to_owned()
    };
    (@get $f:ident, $field:ident, String, $mode:ident) => {
        $crate::domain::signed::text($f, stringify!($field))
            .unwrap_or_default()
            .to_owned()
    };
    (@get $f:ident, $field:ident, i64) => {
        $crate::domain::signed::int($f, stringify!($field))?
    };
    (@get $f:ident, $field:ident, i64, or_default) => {
        $crate::domain::signed::int($f, stringify!($field)).unwrap_or_default()
    };
}
pub(crate) use signed_entry;

signed_entry! {
    /// A mark: a signed entry that points at another (an approval, a validation, a claim, a
    /// sign-up, ...). Marks of every kind have these fields.
    pub(crate) struct MarkFields {
        target: String,
        at: i64,
    }
}

/// A verified mark.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Mark {
    pub at: i64,
    pub id: String,
    pub target: String,
    pub author: String,
    /// Where it was written in the change graph.
    pub anchor: Anchor,
}

impl RoomDoc {
    /// Writes `fields` as an entry of `kind` at root key `key` (`id` in what is signed),
    /// signed by `me`. Not committed.
    pub(crate) fn put_fields<F: Fields>(
        &mut self,
        me: &Identity,
        kind: &str,
        key: &str,
        id: &str,
        fields: &F,
    ) -> Result<(), DomainError> {
        let canonical = fields.canonical_as(self.room_id(), kind, id);
        put_signed(&mut self.doc, key, me, canonical)
    }

    /// Writes `entry` at root key `key` (`id` in what is signed), signed by `me`. Not
    /// committed.
    pub(crate) fn put_entry<E: Entry>(
        &mut self,
        me: &Identity,
        key: &str,
        id: &str,
        entry: &E,
    ) -> Result<(), DomainError> {
        let canonical = entry.canonical(self.room_id(), id);
        put_signed(&mut self.doc, key, me, canonical)
    }

    /// Writes `entry` under a new id bound to `me` ([`crate::crypto::entry_id`]) at
    /// `<prefix><id>`, signed by `me`, and commits.
    /// Returns the id.
    pub(crate) fn add_entry<E: Entry>(
        &mut self,
        me: &Identity,
        prefix: &str,
        entry: &E,
    ) -> Result<String, DomainError> {
        let id = crate::crypto::entry_id(&me.public());
        self.put_entry(me, &format!("{prefix}{id}"), &id, entry)?;
        self.commit();
        Ok(id)
    }

    /// Every entry under `prefix` (id: the rest of its key) that reads as an `E` and verifies.
    pub(crate) fn entries_of<'a, E: Entry>(
        &'a self,
        prefix: &str,
    ) -> impl Iterator<Item = Signed<'a, E>> + 'a {
        self.read_signed(self.entries(prefix))
    }

    /// [`RoomDoc::entries_of`] for kinds where each entry only adds (a vouch): where an
    /// author signed versions apart at one id, each counts as an entry of its own — no more
    /// than the author could do with a new id for each, and nobody can make one vanish by
    /// signing a rival to it.
    pub(crate) fn entries_of_every<'a, E: Entry>(
        &'a self,
        prefix: &str,
    ) -> impl Iterator<Item = Signed<'a, E>> + 'a {
        self.read_signed(self.every(prefix))
    }

    /// Of `entries`, those that read as an `E` and verify.
    fn read_signed<'a, E: Entry>(
        &'a self,
        entries: impl Iterator<Item = (&'a str, &'a Raw)> + 'a,
    ) -> impl Iterator<Item = Signed<'a, E>> + 'a {
        let room = self.room_id();
        entries.filter_map(move |(id, raw)| Signed::read(room, id, raw))
    }

    /// [`RoomDoc::entries`], but where an author signed versions apart at one id, each of
    /// them: for kinds whose entries only add.
    pub(crate) fn every<'a>(
        &'a self,
        prefix: &str,
    ) -> impl Iterator<Item = (&'a str, &'a Raw)> + 'a {
        self.rivals(prefix)
            .flat_map(|(id, resolved)| resolved.all().map(move |raw| (id, raw)))
    }

    /// Writes a mark of `kind` on `target`, signed by `me`.
    pub(crate) fn put_mark(
        &mut self,
        me: &Identity,
        kind: &str,
        target: &str,
        now_ms: i64,
    ) -> Result<(), DomainError> {
        let id = crate::crypto::entry_id(&me.public());
        let mark = MarkFields {
            target: target.to_owned(),
            at: now_ms,
        };
        self.put_fields(me, kind, &format!("{kind}:{id}"), &id, &mark)?;
        self.commit();
        Ok(())
    }

    /// Verified marks of `kind`, in (time, id) order. A mark only adds (an approval, a
    /// sign-up), so each version its author signed apart at one id counts as a mark of its own
    /// (see [`RoomDoc::entries_of_every`]).
    pub(crate) fn marks(&self, kind: &str) -> Vec<Mark> {
        let prefix = format!("{kind}:");
        let mut marks: Vec<Mark> = self
            .every(&prefix)
            .filter_map(|(id, f)| {
                let m = MarkFields::decode(f)?;
                let author = f.author()?;
                m.signed_as(self.room_id(), kind, id, f).then(|| Mark {
                    at: m.at,
                    id: id.to_owned(),
                    target: m.target,
                    author: author.to_owned(),
                    anchor: f.anchor(),
                })
            })
            .collect();
        marks.sort();
        marks
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_encodings_differ_by_every_part() {
        let base = Canonical::new("room", "vouch", "1").text("newcomer", "ab");
        let variants = [
            Canonical::new("room2", "vouch", "1").text("newcomer", "ab"),
            Canonical::new("room", "leave", "1").text("newcomer", "ab"),
            Canonical::new("room", "vouch", "2").text("newcomer", "ab"),
            Canonical::new("room", "vouch", "1")
                .text("newcomer", "a")
                .text("b", ""),
            Canonical::new("room", "vouch", "1").text("newcomerab", ""),
        ];
        for v in variants {
            assert_ne!(v.bytes(), base.bytes());
        }
        assert_eq!(
            Canonical::new("r", "k", "i").int("at", 5).bytes(),
            Canonical::new("r", "k", "i").int("at", 5).bytes()
        );
    }
}

#[cfg(test)]
mod facts_tests {
    use crate::domain::testing::community;
    use crate::domain::RoomDoc;

    /// Kept facts remember which signatures this device found to hold (and not), so a reopen
    /// checks none of them again, and derives the same.
    #[test]
    fn kept_facts_remember_signature_checks() {
        let (mut room, _) = community(3);
        let admitted = room.admitted();
        let checked = |room: &RoomDoc| -> Vec<(String, Option<bool>)> {
            room.entries("vouch:")
                .map(|(k, r)| (k.to_owned(), r.verified.get().copied()))
                .collect()
        };
        let before = checked(&room);
        assert!(before.iter().all(|(_, c)| *c == Some(true)));
        let facts = room.facts();
        let saved = room.doc_mut().save();
        let back = RoomDoc::load_with_facts("room-1", [saved.as_slice()], Some(&facts)).unwrap();
        assert_eq!(checked(&back), before);
        assert_eq!(back.admitted(), admitted);
        let fresh = RoomDoc::load_chunks("room-1", [saved.as_slice()]).unwrap();
        assert!(checked(&fresh).iter().all(|(_, c)| c.is_none()));
    }
}

#[cfg(test)]
mod ancestry_tests {
    use crate::domain::testing::{community, sync};
    use crate::domain::{EntryKind, NewEntry, RoomDoc};

    /// Far and near ancestry answers agree with the change graph worked out naively, across
    /// a history long enough to take the far path and with concurrent branches merged.
    #[test]
    fn ancestry_agrees_with_the_change_graph_near_and_far() {
        let (mut a, people) = community(3);
        let pot = a.open_pot(&people[0], "Pot", "EUR", 1).unwrap();
        let inflow = |room: &mut RoomDoc, who: usize, at: i64| {
            room.record(
                &people[who],
                &pot,
                NewEntry::new(EntryKind::Inflow, 1, ""),
                at,
            )
            .unwrap();
        };
        for i in 0..40 {
            inflow(&mut a, 1, 10 + i);
        }
        let mut b = RoomDoc::empty("room-1");
        sync(&mut a, &mut b);
        for i in 0..80 {
            inflow(&mut a, 1, 100 + i);
            inflow(&mut b, 2, 100 + i);
        }
        sync(&mut a, &mut b);
        for i in 0..30 {
            inflow(&mut a, 0, 300 + i);
        }
        let index = &a.index;
        let n = index.graph.len();
        // Naive: every change's ancestors, in reading order (deps come first).
        let mut below: Vec<std::collections::BTreeSet<usize>> = Vec::new();
        for (i, (_, deps)) in index.graph.iter().enumerate() {
            let mut set = std::collections::BTreeSet::from([i]);
            for d in deps {
                set.extend(below[*d as usize].iter().copied());
            }
            below.push(set);
        }
        let versions: Vec<&super::Raw> = index.entries.values().flatten().collect();
        let mut far = 0;
        for x in &versions {
            for y in &versions {
                let naive = below[y.change as usize].contains(&(x.change as usize));
                assert_eq!(index.precedes(x, y), naive, "{} → {}", x.change, y.change);
                if y.depth.saturating_sub(x.depth) > super::FAR {
                    far += 1;
                }
            }
        }
        assert!(
            far > 100 && n > 200,
            "the far path was taken ({far} pairs, {n} changes)"
        );
    }
}
