//! Signed entries: every entry names its author and carries the author's Ed25519 signature over
//! a canonical encoding of the entry's kind, id, the room id and its fields. An entry whose
//! signature does not verify is kept in the document but counts for nothing.

use automerge::{transaction::Transactable, AutoCommit, ObjId, ObjType, ReadDoc, ValueRef, ROOT};
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

/// Whether an entry's `sig` verifies for its `author` over `canonical`.
///
/// Views re-derive from the whole document, so each (author, signature, content) that verified
/// once is remembered by its SHA-256 digest: an Ed25519 check costs ~50 µs, a digest ~1 µs.
/// Only successes are remembered, and the digest covers everything the check covered.
pub(crate) fn verifies(fields: &BTreeMap<String, Field>, canonical: &Canonical) -> bool {
    use sha2::{Digest, Sha256};
    let (Some(author), Some(sig)) = (text(fields, "author"), text(fields, "sig")) else {
        return false;
    };
    let mut hasher = Sha256::new();
    for part in [author.as_bytes(), sig.as_bytes(), canonical.bytes()] {
        hasher.update((part.len() as u64).to_be_bytes());
        hasher.update(part);
    }
    let digest: [u8; 32] = hasher.finalize().into();
    if VERIFIED.with(|v| v.borrow().contains(&digest)) {
        return true;
    }
    let ok = verify(author, canonical.bytes(), sig);
    if ok {
        VERIFIED.with(|v| {
            let mut v = v.borrow_mut();
            if v.len() >= MAX_REMEMBERED {
                v.clear();
            }
            v.insert(digest);
        });
    }
    ok
}

const MAX_REMEMBERED: usize = 1 << 20;

thread_local! {
    static VERIFIED: std::cell::RefCell<std::collections::HashSet<[u8; 32]>> =
        std::cell::RefCell::new(std::collections::HashSet::new());
}

/// Every root entry whose key starts with `prefix`: (id after the prefix, fields).
pub(crate) fn root_entries(
    doc: &AutoCommit,
    prefix: &str,
) -> Vec<(String, BTreeMap<String, Field>)> {
    // Keys sort as strings; every key with the prefix lies between it and the prefix + U+FFFF.
    let end = format!("{prefix}\u{ffff}");
    doc.map_range(ROOT, prefix.to_owned()..end)
        .filter(|item| matches!(item.value, ValueRef::Object(ObjType::Map)))
        .map(|item| {
            let id = item.key[prefix.len()..].to_owned();
            (id, read_fields(doc, &item.id()))
        })
        .collect()
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
        self.doc.commit();
        Ok(())
    }

    /// Verified marks of `kind`, in (time, id) order.
    pub(crate) fn marks(&self, kind: &str) -> Vec<Mark> {
        let mut marks: Vec<Mark> = root_entries(&self.doc, &format!("{kind}:"))
            .into_iter()
            .filter_map(|(id, f)| {
                let (target, at, author) =
                    (text(&f, "target")?, int(&f, "at")?, text(&f, "author")?);
                verifies(&f, &mark_canonical(self.room_id(), kind, &id, target, at)).then(|| Mark {
                    at,
                    id,
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
