//! Pages: the room's knowledge commons. A page's body is automerge text, so concurrent edits on
//! two devices merge character by character; each edit also writes a signed mark, from which the
//! page's history (who changed it, when) is derived.

use super::room::{required_text, DomainError, RoomDoc};
use super::signed::signed_entry;
use crate::crypto::Identity;
use automerge::{transaction::Transactable, ChangeHash, ObjType, ReadDoc, ROOT};

const MAX_PAGE_CHARS: usize = 100_000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageView {
    pub id: String,
    pub title: String,
    pub author: String,
    pub body: String,
    /// (member, time) of every recorded edit, oldest first; the first is the creation.
    pub history: Vec<(String, i64)>,
}

signed_entry! {
    /// A page's signed header (`page:<id>`); its body is the text at `pagebody:<id>`.
    pub(crate) struct PageEntry = "page" {
        title: String,
        at: i64,
    }
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
        if started_from == self.doc.text(&text)? {
            self.doc.update_text(&text, body)?;
        } else {
            // Apply the edit where it was made, then merge it with what happened since.
            let mut at = self.doc.fork_at(since)?;
            at.update_text(&text, body)?;
            self.doc.merge(&mut at)?;
        }
        self.put_mark(me, "pageedit", id, now_ms)
    }

    /// Every verified page, with body and history.
    pub fn pages(&self) -> Vec<PageView> {
        let edits = self.marks("pageedit");
        self.entries_of::<PageEntry>("page:")
            .filter_map(|e| {
                let (id, author) = (e.id.to_owned(), e.author);
                let PageEntry { title, at } = e.entry;
                let body = match self.body_obj(&id) {
                    Some(obj) => self.doc.text(&obj).ok()?,
                    None => String::new(),
                };
                let mut history = vec![(author.to_owned(), at)];
                history.extend(
                    edits
                        .iter()
                        .filter(|m| m.target == id)
                        .map(|m| (m.author.clone(), m.at)),
                );
                Some(PageView {
                    title,
                    author: author.to_owned(),
                    body,
                    history,
                    id,
                })
            })
            .collect()
    }

    /// A page's body: the text made with the page, whatever was put over or deleted its key.
    fn body_obj(&self, id: &str) -> Option<automerge::ObjId> {
        match self
            .doc
            .import(&self.index.first_text(&body_key(id))?)
            .ok()?
        {
            (obj, ObjType::Text) => Some(obj),
            _ => None,
        }
    }

    pub fn page(&self, id: &str) -> Option<PageView> {
        self.pages().into_iter().find(|p| p.id == id)
    }
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
}
