//! Pages: the room's knowledge commons. A page's body is automerge text, so concurrent edits on
//! two devices merge character by character. Every edit (and the page's creation) also writes
//! a signed version, `pagever:<id>`, naming a hash of the body as it stands in the change the
//! version is written in: what its author vouches for.
//!
//! The page shows the body its members vouched for: the text at the latest versions (by the
//! change graph; two made apart merge) by authors admitted when they wrote them, whose hash
//! holds. Text changed by anyone without such a version — any link holder can splice
//! automerge text — is not shown, and is listed as tampering; an honest edit writes the text
//! its author saw and typed, so nothing unvouched is ever vouched for by accident. Pages
//! written before versions (only `pageedit` marks) show their text as it is, as not signed.

use super::room::{required_text, DomainError, RoomDoc};
use super::signed::{put_signed, signed_entry, Entry, Raw};
use crate::crypto::Identity;
use automerge::{transaction::Transactable, ChangeHash, ObjType, ReadDoc, ROOT};

const MAX_PAGE_CHARS: usize = 100_000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageView {
    pub id: String,
    pub title: String,
    pub author: String,
    /// The body shown: at most 100,000 characters (`MAX_PAGE_CHARS`); a longer one is cut.
    pub body: String,
    /// (member, time) of every recorded edit, oldest first; the first is the creation.
    pub history: Vec<(String, i64)>,
    /// Whether the body shown is vouched for by signed versions (false only for a page
    /// written before versions, never edited since).
    pub signed: bool,
}

signed_entry! {
    /// A page's signed header (`page:<id>`); its body is the text at `pagebody:<id>`.
    pub(crate) struct PageEntry = "page" {
        title: String,
        at: i64,
    }
}

signed_entry! {
    /// A version of a page's body (`pagever:<id>`): its author vouches that the body, as it
    /// stands in the change this entry is written in, hashes to `hash` ([`text_hash`]).
    pub(crate) struct PageVersionEntry = "pagever" {
        page: String,
        hash: String,
        at: i64,
    }
}

/// The first 16 bytes of a body's SHA-256, hex.
fn text_hash(body: &str) -> String {
    use sha2::{Digest, Sha256};
    crate::crypto::hex(&Sha256::digest(body.as_bytes())[..16])
}

fn body_key(id: &str) -> String {
    format!("pagebody:{id}")
}

fn checked_body(body: &str) -> Result<(), DomainError> {
    let n = body.chars().count();
    if n > MAX_PAGE_CHARS {
        return Err(DomainError::Invalid {
            field: "body",
            problem: format!("is {n} characters long; at most {MAX_PAGE_CHARS} are allowed"),
        });
    }
    Ok(())
}

/// A body as it is shown: cut after `MAX_PAGE_CHARS` characters. Writing refuses longer
/// bodies, but a modified client can write any text (and edits made apart can merge past the
/// bound); cut where it is read, a body costs whoever renders it no more than the longest one
/// that can be written.
fn shown(mut body: String) -> String {
    if body.len() > MAX_PAGE_CHARS {
        if let Some((at, _)) = body.char_indices().nth(MAX_PAGE_CHARS) {
            body.truncate(at);
        }
    }
    body
}

impl RoomDoc {
    /// Creates a page with a title and a markdown body.
    pub fn create_page(
        &mut self,
        me: &Identity,
        title: &str,
        body: &str,
        now_ms: i64,
    ) -> Result<String, DomainError> {
        self.require_admitted(me)?;
        let title = required_text("title", title, 160)?;
        checked_body(body)?;
        let id = crate::crypto::entry_id(&me.public());
        let page = PageEntry { title, at: now_ms };
        self.put_entry(me, &format!("page:{id}"), &id, &page)?;
        let text = self.doc.put_object(ROOT, body_key(&id), ObjType::Text)?;
        self.doc.splice_text(&text, 0, 0, body)?;
        let room = self.room_id.clone();
        put_version(&mut self.doc, &room, me, &id, body, now_ms)?;
        self.commit();
        Ok(id)
    }

    /// Replaces a page's body with `body`, written by someone who started from the page as it
    /// was at `since` (the room's heads when they began editing). The edit is diffed against that
    /// text, so changes that arrived meanwhile, from other devices, are kept and merged with it.
    pub fn edit_page(
        &mut self,
        me: &Identity,
        id: &str,
        since: &[ChangeHash],
        body: &str,
        now_ms: i64,
    ) -> Result<(), DomainError> {
        self.require_admitted(me)?;
        checked_body(body)?;
        let text = match self.body_obj(id) {
            Some(obj) if self.page(id).is_some() => obj,
            _ => return Err(DomainError::NoSuchEntry(id.to_owned())),
        };
        let unknown = DomainError::Invalid {
            field: "page",
            problem: "was edited from a version this device does not have".into(),
        };
        if since.is_empty()
            || since
                .iter()
                .any(|h| self.doc.get_change_by_hash(h).is_none())
        {
            return Err(unknown);
        }
        let started_from = self.doc.text_at(&text, since).map_err(|_| unknown)?;
        let room = self.room_id.clone();
        if started_from == self.doc.text(&text)? {
            // The body becomes exactly what was typed (from the text shown, which is vouched
            // for: anything unvouched in the document's text is undone), and is vouched for.
            self.doc.update_text(&text, body)?;
            put_version(&mut self.doc, &room, me, id, body, now_ms)?;
        } else {
            // Apply the edit where it was made, vouch for it there, then merge it with what
            // happened since.
            let mut at = self.doc.fork_at(since)?;
            at.update_text(&text, body)?;
            put_version(&mut at, &room, me, id, body, now_ms)?;
            at.commit();
            self.doc.merge(&mut at)?;
        }
        self.commit();
        Ok(())
    }

    /// Every verified page by a member admitted when creating it, with the body its members
    /// vouched for (cut to `MAX_PAGE_CHARS` characters) and its history.
    pub fn pages(&self) -> Vec<PageView> {
        let mut pages = self.pages_in_full();
        for p in &mut pages {
            p.body = shown(std::mem::take(&mut p.body));
        }
        pages
    }

    /// [`RoomDoc::pages`], with bodies of any length.
    fn pages_in_full(&self) -> Vec<PageView> {
        let edits = self.marks("pageedit");
        let mut versions: std::collections::HashMap<String, Vec<(&Raw, String, &str, i64)>> =
            Default::default();
        for v in self.entries_of::<PageVersionEntry>("pagever:") {
            if self.admitted_when(v.author, v.raw) {
                let PageVersionEntry { page, hash, at } = v.entry;
                versions
                    .entry(page)
                    .or_default()
                    .push((v.raw, hash, v.author, at));
            }
        }
        self.entries_of::<PageEntry>("page:")
            .filter(|e| self.admitted_when(e.author, e.raw))
            .filter_map(|e| {
                let (id, author) = (e.id.to_owned(), e.author);
                let PageEntry { title, at } = e.entry;
                let mine = versions.remove(&id).unwrap_or_default();
                let (body, signed) = match self.body_obj(&id) {
                    Some(obj) if mine.is_empty() => (self.doc.text(&obj).ok()?, false),
                    Some(obj) => (
                        self.vouched_body(&format!("shown:{id}"), &obj, &mine)?,
                        true,
                    ),
                    None => (String::new(), false),
                };
                let mut history: Vec<(String, i64)> = vec![(author.to_owned(), at)];
                history.extend(
                    edits
                        .iter()
                        .filter(|m| m.target == id)
                        .map(|m| (m.author.clone(), m.at)),
                );
                // One version is the creation's (same author and time as the page).
                let mut later: Vec<(i64, String)> = mine
                    .iter()
                    .map(|(_, _, by, at)| (*at, (*by).to_owned()))
                    .collect();
                later.sort();
                if let Some(i) = later.iter().position(|(t, by)| *t == at && by == author) {
                    later.remove(i);
                }
                history.extend(later.into_iter().map(|(at, by)| (by, at)));
                history[1..].sort_by_key(|(_, at)| *at);
                Some(PageView {
                    title,
                    author: author.to_owned(),
                    body,
                    history,
                    id,
                    signed,
                })
            })
            .collect()
    }

    /// The body at a page's latest vouched versions: those no other vouched version follows
    /// in the change graph, whose hash holds for the text in their change.
    /// (`key`: what the answer is remembered under until the index changes.)
    fn vouched_body(
        &self,
        key: &str,
        obj: &automerge::ObjId,
        versions: &[(&Raw, String, &str, i64)],
    ) -> Option<String> {
        let mut candidates: Vec<(&Raw, &str)> = versions
            .iter()
            .map(|(r, h, _, _)| (*r, h.as_str()))
            .collect();
        candidates.sort_by_key(|(r, _)| std::cmp::Reverse(r.depth()));
        fn latest<'a>(
            index: &super::signed::Index,
            candidates: &[(&'a Raw, &str)],
        ) -> Vec<(&'a Raw, String)> {
            let mut top: Vec<(&'a Raw, String)> = Vec::new();
            for (r, h) in candidates {
                if !top.iter().any(|(t, _)| index.precedes(r, t)) {
                    top.push((*r, (*h).to_owned()));
                }
            }
            top
        }
        let mut top = latest(&self.index, &candidates);
        // The usual case: one latest version, and the document's text is what it vouched for.
        let current = self.doc.text(obj).ok()?;
        if top.len() == 1 && text_hash(&current) == top[0].1 {
            return Some(current);
        }
        let generation = self.index.generation();
        if let Some((g, body)) = self.page_bodies.borrow().get(key) {
            if *g == generation {
                return Some(body.clone());
            }
        }
        // Versions whose hash does not hold for their own change (a modified client can sign
        // anything) are left out, and the latest worked out again without them.
        loop {
            let wrong: Vec<*const Raw> = top
                .iter()
                .filter(|(r, h)| {
                    let at = [self.index.change_of(r)];
                    self.doc
                        .text_at(obj, &at)
                        .map_or(true, |t| text_hash(&t) != *h)
                })
                .map(|(r, _)| *r as *const Raw)
                .collect();
            if wrong.is_empty() {
                break;
            }
            candidates.retain(|(r, _)| !wrong.contains(&(*r as *const Raw)));
            top = latest(&self.index, &candidates);
        }
        let heads: Vec<ChangeHash> = top.iter().map(|(r, _)| self.index.change_of(r)).collect();
        let body = if heads.is_empty() {
            String::new()
        } else {
            self.doc.text_at(obj, &heads).ok()?
        };
        self.page_bodies
            .borrow_mut()
            .insert(key.to_owned(), (generation, body.clone()));
        Some(body)
    }

    /// Pages whose document text differs from what their members vouched for: changed
    /// without a signed version (listed as tampering).
    ///
    /// Text changed with a signed version by someone who has been a member but was not
    /// admitted when writing it (say, an edit made while their removal was being decided) is
    /// not shown either, but is not tampering: the rules ignored it, as they ignore any entry
    /// of theirs.
    pub(crate) fn unvouched_pages(&self) -> Vec<String> {
        let differs: Vec<(String, automerge::ObjId, String)> = self
            .pages_in_full()
            .into_iter()
            .filter(|p| p.signed)
            .filter_map(|p| {
                let obj = self.body_obj(&p.id)?;
                let text = self.doc.text(&obj).ok()?;
                (text != p.body).then_some((p.id, obj, text))
            })
            .collect();
        if differs.is_empty() {
            return Vec::new();
        }
        let mut all: std::collections::HashMap<String, Vec<(&Raw, String, &str, i64)>> =
            Default::default();
        let governance = self.governance();
        for v in self.entries_of::<PageVersionEntry>("pagever:") {
            // Only versions by someone who has been a member: a stranger's version of their
            // own splice is still tampering.
            if !governance.since.contains_key(v.author) {
                continue;
            }
            let PageVersionEntry { page, hash, at } = v.entry;
            all.entry(page)
                .or_default()
                .push((v.raw, hash, v.author, at));
        }
        differs
            .into_iter()
            .filter(|(id, obj, text)| {
                let versions = all.remove(id).unwrap_or_default();
                self.vouched_body(&format!("any member:{id}"), obj, &versions)
                    .as_ref()
                    != Some(text)
            })
            .map(|(id, _, _)| id)
            .collect()
    }

    /// A page's body: the text made with the page (in the change that wrote its entry),
    /// whatever was put over or deleted its key, or made there elsewhere in the history.
    fn body_obj(&self, id: &str) -> Option<automerge::ObjId> {
        let page = self.entry(&format!("page:{id}"))?;
        match self
            .doc
            .import(&self.index.text_made_with(&body_key(id), page)?)
            .ok()?
        {
            (obj, ObjType::Text) => Some(obj),
            _ => None,
        }
    }

    /// One page (see [`RoomDoc::pages`]).
    pub fn page(&self, id: &str) -> Option<PageView> {
        self.pages().into_iter().find(|p| p.id == id)
    }
}

/// Writes `me`'s signed version of page `id`'s body, `body` as it now stands in `doc` (an
/// entry starts its own change: the text just written is in its past).
fn put_version(
    doc: &mut automerge::AutoCommit,
    room: &str,
    me: &Identity,
    id: &str,
    body: &str,
    now_ms: i64,
) -> Result<(), DomainError> {
    let vid = crate::crypto::entry_id(&me.public());
    let version = PageVersionEntry {
        page: id.to_owned(),
        hash: text_hash(body),
        at: now_ms,
    };
    put_signed(
        doc,
        &format!("pagever:{vid}"),
        me,
        version.canonical(room, &vid),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::testing::{community, sync};

    #[test]
    fn concurrent_page_edits_merge_and_history_records_who_and_when() {
        let (mut a, m) = community(2);
        let id = a
            .create_page(&m[0], "How we lend", "Borrow for a week.", 10)
            .unwrap();
        let mut b = RoomDoc::empty("room-1");
        sync(&mut a, &mut b);
        let (ha, hb) = (a.heads(), b.heads());
        a.edit_page(&m[0], &id, &ha, "# Lending\nBorrow for a week.", 20)
            .unwrap();
        b.edit_page(&m[1], &id, &hb, "Borrow for a week. Return it clean.", 21)
            .unwrap();
        sync(&mut a, &mut b);
        let (pa, pb) = (a.page(&id).unwrap(), b.page(&id).unwrap());
        assert_eq!(pa, pb);
        assert_eq!(pa.body, "# Lending\nBorrow for a week. Return it clean.");
        let who: Vec<(String, i64)> = pa.history;
        assert_eq!(
            who,
            vec![
                (m[0].public(), 10),
                (m[0].public(), 20),
                (m[1].public(), 21)
            ]
        );
    }

    #[test]
    fn an_edit_begun_before_a_remote_change_arrived_keeps_that_change() {
        let (mut a, m) = community(2);
        let id = a
            .create_page(&m[0], "Rota", "Mon: Ana\nTue: Ben", 10)
            .unwrap();
        let mut b = RoomDoc::empty("room-1");
        sync(&mut a, &mut b);
        // Ana opens the editor; meanwhile Ben's edit arrives on her device.
        let started = a.heads();
        let hb = b.heads();
        b.edit_page(&m[1], &id, &hb, "Mon: Ana\nTue: Ben\nWed: Cy", 20)
            .unwrap();
        sync(&mut a, &mut b);
        a.edit_page(&m[0], &id, &started, "Mon: Ana and Dee\nTue: Ben", 30)
            .unwrap();
        sync(&mut a, &mut b);
        let expected = "Mon: Ana and Dee\nTue: Ben\nWed: Cy";
        assert_eq!(a.page(&id).unwrap().body, expected);
        assert_eq!(b.page(&id).unwrap().body, expected);
        // A version this device never had is refused, and nothing is written.
        let heads_before = a.heads();
        let unknown = [automerge::ChangeHash([7; 32])];
        assert!(matches!(
            a.edit_page(&m[0], &id, &unknown, "gone", 40),
            Err(DomainError::Invalid { field: "page", .. })
        ));
        assert_eq!(a.heads(), heads_before);
    }

    #[test]
    fn a_page_from_before_versions_shows_as_it_is_until_its_next_edit_signs_it() {
        let (mut room, m) = community(2);
        // What builds before versions wrote: the signed header, the text and an edit mark.
        let id = crate::crypto::entry_id(&m[0].public());
        let page = PageEntry {
            title: "Rota".into(),
            at: 10,
        };
        room.put_entry(&m[0], &format!("page:{id}"), &id, &page)
            .unwrap();
        let text = room
            .doc
            .put_object(ROOT, body_key(&id), ObjType::Text)
            .unwrap();
        room.doc.splice_text(&text, 0, 0, "Mon: Ana").unwrap();
        room.commit();
        room.put_mark(&m[1], "pageedit", &id, 11).unwrap();
        let p = room.page(&id).unwrap();
        assert_eq!((p.body.as_str(), p.signed), ("Mon: Ana", false));
        assert_eq!(p.history.len(), 2);
        let since = room.heads();
        room.edit_page(&m[1], &id, &since, "Mon: Ana\nTue: Ben", 12)
            .unwrap();
        let p = room.page(&id).unwrap();
        assert_eq!((p.body.as_str(), p.signed), ("Mon: Ana\nTue: Ben", true));
        assert_eq!(
            p.history,
            vec![
                (m[0].public(), 10),
                (m[1].public(), 11),
                (m[1].public(), 12)
            ]
        );
    }

    #[test]
    fn pages_refuse_bad_input() {
        let (mut room, m) = community(1);
        assert!(matches!(
            room.create_page(&m[0], " ", "", 1),
            Err(DomainError::Invalid { field: "title", .. })
        ));
        assert!(room
            .create_page(&m[0], "Big", &"x".repeat(MAX_PAGE_CHARS + 1), 1)
            .is_err());
        let heads = room.heads();
        assert_eq!(
            room.edit_page(&m[0], "nope", &heads, "x", 1),
            Err(DomainError::NoSuchEntry("nope".into()))
        );
        let stranger = Identity::generate();
        assert_eq!(
            room.create_page(&stranger, "Mine", "", 1),
            Err(DomainError::NotAdmitted)
        );
    }

    #[test]
    fn a_body_past_the_bound_is_cut_where_it_is_read() {
        let (mut room, m) = community(1);
        let id = room.create_page(&m[0], "Big", "small", 1).unwrap();
        // A modified client skips the bound: writes a longer body (of two-byte characters,
        // so a cut by bytes would split one) and vouches for it.
        let long = "é".repeat(MAX_PAGE_CHARS + 1_000);
        let text = room.body_obj(&id).unwrap();
        room.doc.splice_text(&text, 0, 5, &long).unwrap();
        let room_id = room.room_id.clone();
        put_version(&mut room.doc, &room_id, &m[0], &id, &long, 2).unwrap();
        room.commit();
        let p = room.page(&id).unwrap();
        assert_eq!(p.body, "é".repeat(MAX_PAGE_CHARS));
        assert!(p.signed);
        assert_eq!(room.pages(), vec![p]);
        // Cut for showing only: the text is still what its author vouched for.
        assert_eq!(room.unvouched_pages(), Vec::<String>::new());
        assert_eq!(shown("ab".into()), "ab");
        assert_eq!(shown("x".repeat(MAX_PAGE_CHARS)).len(), MAX_PAGE_CHARS);
    }
}
