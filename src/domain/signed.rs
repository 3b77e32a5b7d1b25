//! Signed entries: every entry names its author and carries the author's Ed25519 signature over
//! a canonical encoding of the entry's kind, id, the room id and its fields. An entry whose
//! signature does not verify is kept in the document but counts for nothing.

use automerge::{transaction::Transactable, AutoCommit, ObjId, ObjType, ReadDoc, ValueRef, ROOT};
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
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Field {
    Text(String),
    Int(i64),
}

/// The scalar fields of one entry map (anything else is ignored).
pub(crate) fn read_fields(doc: &AutoCommit, obj: &ObjId) -> BTreeMap<String, Field> {
    doc.map_range(obj, ..)
        .filter_map(|item| {
            let value = match &item.value {
                ValueRef::Scalar(automerge::ScalarValueRef::Str(s)) => Field::Text(s.to_string()),
                ValueRef::Scalar(automerge::ScalarValueRef::Int(v))
                | ValueRef::Scalar(automerge::ScalarValueRef::Timestamp(v)) => Field::Int(*v),
                _ => return None,
            };
            Some((item.key.to_string(), value))
        })
        .collect()
}

/// One root entry as read from the document, with its verification remembered: entries are
/// re-read whenever a change touches them, so the answer stays right for what is held here.
#[derive(Default)]
pub(crate) struct Raw {
    fields: BTreeMap<String, Field>,
    verified: OnceCell<bool>,
    /// A module's typed reading of the entry, made the first time a view needs it.
    parsed: OnceCell<Option<Box<dyn std::any::Any>>>,
}

impl Raw {
    fn new(fields: BTreeMap<String, Field>) -> Self {
        Raw {
            fields,
            verified: OnceCell::new(),
            parsed: OnceCell::new(),
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
}

impl std::ops::Deref for Raw {
    type Target = BTreeMap<String, Field>;
    fn deref(&self) -> &Self::Target {
        &self.fields
    }
}

/// Every map at the root whose key holds a `:` (module entries), read once and kept in step
/// with the document by [`RoomDoc`]'s incremental re-indexing. Views read this, never the
/// document, so deriving a view costs no automerge lookups and no repeated signature checks.
#[derive(Default)]
pub(crate) struct Index {
    entries: BTreeMap<String, Raw>,
    /// Each entry map's object id (as automerge prints it) → its root key, so an operation on
    /// an entry's field can be traced to the entry.
    objects: std::collections::HashMap<String, String>,
    /// Bumped whenever an entry changes, so derived views can be remembered until then.
    generation: u64,
}

impl Index {
    /// Reads every entry of `doc`.
    pub fn build(doc: &AutoCommit) -> Self {
        let mut index = Index::default();
        for item in doc.map_range(ROOT, ..) {
            if indexed_key(&item.key) && matches!(item.value, ValueRef::Object(ObjType::Map)) {
                let fields = read_fields(doc, &item.id());
                index
                    .objects
                    .insert(item.id().to_string(), item.key.to_string());
                index.entries.insert(item.key.to_string(), Raw::new(fields));
            }
        }
        index
    }

    /// Re-reads every entry of `doc`, keeping what is known (signature checks, typed readings)
    /// about entries whose fields are unchanged.
    pub fn rebuild(&mut self, doc: &AutoCommit) {
        let mut fresh = Index::build(doc);
        for (key, raw) in fresh.entries.iter_mut() {
            if let Some(old) = self.entries.remove(key) {
                if old.fields == raw.fields {
                    *raw = old;
                }
            }
        }
        fresh.generation = self.generation + 1;
        *self = fresh;
    }

    /// Re-reads the root keys in `touched` from `doc`.
    pub fn refresh<'a>(&mut self, doc: &AutoCommit, touched: impl IntoIterator<Item = &'a str>) {
        self.generation += 1;
        for key in touched {
            if !indexed_key(key) {
                continue;
            }
            match doc.get(ROOT, key) {
                Ok(Some((automerge::Value::Object(ObjType::Map), obj))) => {
                    self.objects.insert(obj.to_string(), key.to_owned());
                    let raw = Raw::new(read_fields(doc, &obj));
                    self.entries.insert(key.to_owned(), raw);
                }
                _ => {
                    self.entries.remove(key);
                }
            }
        }
    }

    /// Every entry whose key starts with `prefix`: (the key after the prefix, entry).
    pub fn range<'a>(&'a self, prefix: &str) -> impl Iterator<Item = (&'a str, &'a Raw)> + 'a {
        let (prefix, skip) = (prefix.to_owned(), prefix.len());
        self.entries
            .range::<str, _>((
                std::ops::Bound::Included(prefix.as_str()),
                std::ops::Bound::Unbounded,
            ))
            .take_while(move |(k, _)| k.starts_with(&prefix))
            .map(move |(k, raw)| (&k[skip..], raw))
    }

    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// The root key of the entry map with this object id.
    pub fn key_of(&self, object: &str) -> Option<&str> {
        self.objects.get(object).map(String::as_str)
    }

    pub fn get(&self, key: &str) -> Option<&Raw> {
        self.entries.get(key)
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
