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
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
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
    change: automerge::ChangeHash,
}

impl Raw {
    fn new(fields: BTreeMap<String, Field>, depth: u64, change: automerge::ChangeHash) -> Self {
        Raw {
            fields,
            verified: OnceCell::new(),
            parsed: OnceCell::new(),
            depth,
            change,
        }
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

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum TamperKind {
    /// The key was deleted.
    Deleted,
    /// Something else was written at the key: another map by another author, or a value.
    Overwritten,
    /// A field of an entry was changed after the entry was written.
    Altered { field: String },
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
#[derive(Default)]
pub(crate) struct Index {
    /// Root key → its distinct versions, causally earliest first (see [`Raw::order`]).
    entries: BTreeMap<String, Vec<Raw>>,
    /// Every actor seen, numbered in the order first seen (numbers stay on this device).
    actors: std::collections::HashMap<Vec<u8>, u32>,
    /// Entry maps seen so far → their root key, so later writes into them can be recognised.
    objects: std::collections::HashMap<ObjKey, String>,
    /// Each change's causal depth and dependencies: the change graph, for [`Index::precedes`].
    graph: std::collections::HashMap<automerge::ChangeHash, (u64, Vec<automerge::ChangeHash>)>,
    /// Answers of [`Index::precedes`] already worked out.
    ancestry: std::cell::RefCell<
        std::collections::HashMap<(automerge::ChangeHash, automerge::ChangeHash), bool>,
    >,
    /// Deletes and values put at root keys, and late writes into entry maps, as they were
    /// seen; judged against the entries by [`Index::tampering`].
    events: Vec<(String, TamperKind, automerge::ChangeHash, i64)>,
    /// The room's own root values, every time they were written, with the depth and hash of
    /// the change that wrote them: the name, and the map that holds the board's posts (its
    /// counter and actor). The causally first of the room's own history counts (see
    /// [`Index::room_name`]).
    names: Vec<(u64, String, automerge::ChangeHash)>,
    posts_maps: Vec<(u64, u64, Vec<u8>, automerge::ChangeHash)>,
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

    fn add_change(&mut self, change: &automerge::Change) {
        use automerge::legacy::{Key, ObjectId, OpType};
        let hash = change.hash();
        let depth = 1 + change
            .deps()
            .iter()
            .filter_map(|d| self.graph.get(d).map(|(depth, _)| *depth))
            .max()
            .unwrap_or(0);
        self.graph.insert(hash, (depth, change.deps().to_vec()));
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
                            self.names.push((depth, name.to_string(), hash));
                        }
                        OpType::Make(ObjType::Map) if key == "posts" => {
                            let bytes = decoded.actor_id.to_bytes().to_vec();
                            self.posts_maps.push((depth, start + i as u64, bytes, hash));
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
        for (obj, key, fields) in fresh {
            self.objects.insert(obj, key.clone());
            let versions = self.entries.entry(key).or_default();
            if versions.iter().any(|v| v.fields == fields) {
                continue;
            }
            let raw = Raw::new(fields, depth, hash);
            let at = versions.partition_point(|v| v.order(&raw).is_lt());
            versions.insert(at, raw);
        }
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
            let counts = match kind {
                TamperKind::Deleted => entry || ROOM_KEYS.contains(&key.as_str()),
                TamperKind::Overwritten => entry || key == "posts",
                TamperKind::Altered { .. } => entry,
            };
            if counts {
                push(key, kind.clone(), change, *at);
            }
        }
        for (key, versions) in &self.entries {
            let Some(first) = versions.first() else {
                continue;
            };
            for other in &versions[1..] {
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
        let at = |(depth, _, hash): &(u64, String, automerge::ChangeHash)| (*depth, *hash);
        let (_, name, _) = self.first_of_the_room(&self.names, founding, at)?;
        Some(name)
    }

    /// The board's posts map as first created ("counter@actor") in the room's own history
    /// (see [`Index::room_name`]), whatever was put over it.
    pub fn posts_map(&self, founding: Option<&Raw>) -> Option<String> {
        let at = |(depth, .., hash): &(u64, u64, Vec<u8>, automerge::ChangeHash)| (*depth, *hash);
        let (_, counter, actor, _) = self.first_of_the_room(&self.posts_maps, founding, at)?;
        Some(format!("{counter}@{}", crate::crypto::hex(actor)))
    }

    /// The first of `values` written before `founding`; with none, the first of all.
    fn first_of_the_room<'a, T: Ord>(
        &self,
        values: &'a [T],
        founding: Option<&Raw>,
        written: impl Fn(&T) -> (u64, automerge::ChangeHash),
    ) -> Option<&'a T> {
        let before = |v: &&T| {
            founding.is_some_and(|f| self.change_precedes(written(v), (f.depth, f.change)))
        };
        values
            .iter()
            .filter(before)
            .min()
            .or_else(|| values.iter().min())
    }

    /// Every entry whose key starts with `prefix`: (the key after the prefix, the entry as
    /// first written). At a key chosen at random by its writer, the causally first version is
    /// the writer's own: nobody else can have known the key before it existed.
    pub fn range<'a>(&'a self, prefix: &str) -> impl Iterator<Item = (&'a str, &'a Raw)> + 'a {
        let (prefix, skip) = (prefix.to_owned(), prefix.len());
        self.entries
            .range::<str, _>((
                std::ops::Bound::Included(prefix.as_str()),
                std::ops::Bound::Unbounded,
            ))
            .take_while(move |(k, _)| k.starts_with(&prefix))
            .filter_map(move |(k, versions)| Some((&k[skip..], versions.first()?)))
    }

    /// Every version ever written at `key`, causally earliest first: for keys anyone can
    /// predict (`member:<key>`, `founder`), whose readers pick the version that counts.
    pub fn versions<'a>(&'a self, key: &str) -> impl Iterator<Item = &'a Raw> + 'a {
        self.entries.get(key).into_iter().flatten()
    }

    /// Every key under `prefix` with all of its versions.
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
    pub fn precedes(&self, earlier: &Raw, later: &Raw) -> bool {
        self.change_precedes((earlier.depth, earlier.change), (later.depth, later.change))
    }

    /// [`Index::precedes`] for two changes, each given by (depth, hash).
    fn change_precedes(
        &self,
        (earlier_depth, from): (u64, automerge::ChangeHash),
        (later_depth, to): (u64, automerge::ChangeHash),
    ) -> bool {
        if from == to {
            return true;
        }
        if earlier_depth >= later_depth {
            return false;
        }
        if let Some(known) = self.ancestry.borrow().get(&(from, to)) {
            return *known;
        }
        let mut seen = std::collections::HashSet::new();
        let mut stack = vec![to];
        let mut found = false;
        while let Some(hash) = stack.pop() {
            if hash == from {
                found = true;
                break;
            }
            let Some((depth, deps)) = self.graph.get(&hash) else {
                continue;
            };
            if *depth <= earlier_depth {
                continue;
            }
            for d in deps {
                if seen.insert(*d) {
                    stack.push(*d);
                }
            }
        }
        self.ancestry.borrow_mut().insert((from, to), found);
        found
    }

    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// The entry at `key` as first written.
    pub fn get(&self, key: &str) -> Option<&Raw> {
        self.entries.get(key)?.first()
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

/// Writes a signed entry as a map at the root under `key`: the canonical's fields, `author`
/// and `sig`.
pub(crate) fn put_signed(
    doc: &mut AutoCommit,
    key: &str,
    signer: &Identity,
    canonical: Canonical,
) -> Result<(), DomainError> {
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

/// Whether an entry's `sig` verifies for its `author` over its canonical encoding (built only
/// the first time the entry is checked; the answer is kept until the entry changes).
pub(crate) fn verifies(raw: &Raw, canonical: impl FnOnce() -> Canonical) -> bool {
    *raw.verified.get_or_init(|| {
        let (Some(author), Some(sig)) = (text(raw, "author"), text(raw, "sig")) else {
            return false;
        };
        verify(author, canonical().bytes(), sig)
    })
}

/// The canonical bytes of a mark: a signed entry that points at another (an approval, a
/// validation, a claim, a sign-up, ...).
pub(crate) fn mark_canonical(room: &str, kind: &str, id: &str, target: &str, at: i64) -> Canonical {
    Canonical::new(room, kind, id)
        .text("target", target)
        .int("at", at)
}

/// A verified mark.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Mark {
    pub at: i64,
    pub id: String,
    pub target: String,
    pub author: String,
}

impl RoomDoc {
    /// Writes a mark of `kind` on `target`, signed by `me`.
    pub(crate) fn put_mark(
        &mut self,
        me: &Identity,
        kind: &str,
        target: &str,
        now_ms: i64,
    ) -> Result<(), DomainError> {
        let id = crate::crypto::random_id();
        let canonical = mark_canonical(self.room_id(), kind, &id, target, now_ms);
        put_signed(&mut self.doc, &format!("{kind}:{id}"), me, canonical)?;
        self.commit();
        Ok(())
    }

    /// Verified marks of `kind`, in (time, id) order.
    pub(crate) fn marks(&self, kind: &str) -> Vec<Mark> {
        let prefix = format!("{kind}:");
        let mut marks: Vec<Mark> = self
            .index
            .range(&prefix)
            .filter_map(|(id, f)| {
                let (target, at, author) = (text(f, "target")?, int(f, "at")?, text(f, "author")?);
                verifies(f, || mark_canonical(self.room_id(), kind, id, target, at)).then(|| Mark {
                    at,
                    id: id.to_owned(),
                    target: target.to_owned(),
                    author: author.to_owned(),
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
