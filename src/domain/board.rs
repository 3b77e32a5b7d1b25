//! Needs and offers: the mutual-aid board (ValueFlows intents).
//!
//! A post is a map under `posts/<id>`; its description is automerge text so that concurrent edits
//! on two devices merge character by character.
//!
//! Only a post's author edits it or moves its status. The commands check it; the status is also
//! derived from signed `poststatus` entries by the post's author, so a status written into the
//! post's map by anyone else is ignored. The map's text fields (title, description, category,
//! tags, urgency, expiry) are not signed, so a modified client can still rewrite them: see
//! [`RoomDoc::posts`] for exactly what the derivation can and cannot vouch for.

use super::room::{required_text, scalar_i64, scalar_str, DomainError, RoomDoc};
use super::signed::{put_signed, text, verifies, Canonical};
use crate::crypto::Identity;
use automerge::{transaction::Transactable, ObjType, ReadDoc, ScalarValue, Value, ValueRef};
use std::collections::{BTreeSet, HashMap};

/// Categories the board suggests; a post may name any other.
pub const CATEGORIES: [&str; 8] = [
    "Goods",
    "Services",
    "Skills",
    "Time",
    "Space",
    "Food",
    "Transport",
    "Other",
];

const MAX_TITLE: usize = 120;
const MAX_CATEGORY: usize = 40;
const MAX_DESCRIPTION: usize = 4000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PostKind {
    Need,
    Offer,
}

impl PostKind {
    pub fn as_str(self) -> &'static str {
        match self {
            PostKind::Need => "need",
            PostKind::Offer => "offer",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "need" => Some(PostKind::Need),
            "offer" => Some(PostKind::Offer),
            _ => None,
        }
    }
}

/// Open → matched → fulfilled or withdrawn. Fulfilled and withdrawn are final.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PostStatus {
    Open,
    Matched,
    Fulfilled,
    Withdrawn,
}

impl PostStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            PostStatus::Open => "open",
            PostStatus::Matched => "matched",
            PostStatus::Fulfilled => "fulfilled",
            PostStatus::Withdrawn => "withdrawn",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [Self::Open, Self::Matched, Self::Fulfilled, Self::Withdrawn]
            .into_iter()
            .find(|s| s.as_str() == text)
    }

    pub fn is_final(self) -> bool {
        matches!(self, PostStatus::Fulfilled | PostStatus::Withdrawn)
    }

    /// Whether a post in this status may move to `to`.
    pub fn may_become(self, to: PostStatus) -> bool {
        use PostStatus::*;
        matches!(
            (self, to),
            (Open, Matched) | (Matched, Open) | (Open | Matched, Fulfilled | Withdrawn)
        )
    }
}

/// What a person fills in to post a need or an offer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPost {
    pub kind: PostKind,
    pub title: String,
    pub description: String,
    pub category: String,
}

/// Changes to a post's text fields; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PostEdit {
    pub title: Option<String>,
    pub description: Option<String>,
    pub category: Option<String>,
}

/// A post as the board shows it (a derived view; never stored in this form).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Post {
    pub id: String,
    pub kind: PostKind,
    pub title: String,
    pub description: String,
    pub category: String,
    pub status: PostStatus,
    pub created_at: i64,
    pub updated_at: i64,
    /// Lowercase tags, for filtering and matching.
    pub tags: Vec<String>,
    pub urgency: Urgency,
    /// After this time the post is shown as expired (it stays on the board).
    pub expires_at: Option<i64>,
    /// The key the post names as its author, and the signature it carries — as written, not
    /// yet checked: checking 5,000 signatures on every change would cost seconds, so the check
    /// is [`RoomDoc::post_signer`], made for the posts actually shown.
    pub author: Option<String>,
    pub signature: Option<String>,
}

impl Post {
    /// Whether the post has passed its expiry (derived; never stored).
    pub fn is_expired(&self, now_ms: i64) -> bool {
        self.expires_at.is_some_and(|t| t <= now_ms)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum Urgency {
    Low,
    #[default]
    Normal,
    High,
}

impl Urgency {
    pub fn as_str(self) -> &'static str {
        match self {
            Urgency::Low => "low",
            Urgency::Normal => "normal",
            Urgency::High => "high",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [Self::Low, Self::Normal, Self::High]
            .into_iter()
            .find(|u| u.as_str() == text)
    }
}

/// The optional details of a post: tags, urgency and expiry.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PostDetails {
    pub tags: Vec<String>,
    pub urgency: Urgency,
    pub expires_at: Option<i64>,
}

/// A suggested pairing of an open need with an open offer, with its score (2 for the same
/// category, plus 1 per shared tag).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Match {
    pub need: String,
    pub offer: String,
    pub score: u32,
}

fn checked_tags(tags: &[String]) -> Result<Vec<String>, DomainError> {
    let mut out: Vec<String> = Vec::new();
    for tag in tags {
        let tag = tag.trim().to_lowercase();
        if tag.is_empty()
            || tag.chars().count() > 30
            || tag.contains(',')
            || tag.chars().any(char::is_control)
        {
            return Err(DomainError::Invalid {
                field: "tags",
                problem: format!("\"{tag}\" is not a tag: 1 to 30 characters, no commas"),
            });
        }
        if !out.contains(&tag) {
            out.push(tag);
        }
    }
    if out.len() > 10 {
        return Err(DomainError::Invalid {
            field: "tags",
            problem: "at most 10 tags".into(),
        });
    }
    Ok(out)
}

fn description_text(value: &str) -> Result<String, DomainError> {
    let chars = value.chars().count();
    if chars > MAX_DESCRIPTION {
        return Err(DomainError::Invalid {
            field: "description",
            problem: format!("is {chars} characters long; at most {MAX_DESCRIPTION} are allowed"),
        });
    }
    Ok(value.trim_end().to_owned())
}

fn post_canonical(room: &str, id: &str, kind: &str, created_at: i64) -> Canonical {
    Canonical::new(room, "post", id)
        .text("kind", kind)
        .int("created_at", created_at)
}

/// A status its author gave a post, signed (`poststatus:<id>`).
fn status_canonical(room: &str, id: &str, post: &str, status: &str, at: i64) -> Canonical {
    Canonical::new(room, "poststatus", id)
        .text("post", post)
        .text("status", status)
        .int("at", at)
}

/// What the board needs to derive statuses: each post's signed status changes as
/// (time, entry id, author, status), and who wrote an edit mark on which post (read only if
/// some post needs it: most posts are open, or have signed statuses).
struct StatusEvidence {
    signed: HashMap<String, Vec<(i64, String, String, PostStatus)>>,
    edited_by: std::cell::OnceCell<BTreeSet<(String, String)>>,
}

impl RoomDoc {
    /// Whether a post's signature holds; each answer is remembered by everything it covered,
    /// since the board is read in full on every change.
    fn post_signature_holds(
        &self,
        id: &str,
        kind: PostKind,
        created_at: i64,
        author: &str,
        sig: &str,
    ) -> bool {
        let canonical = post_canonical(&self.room_id, id, kind.as_str(), created_at);
        let mut key = canonical.bytes().to_vec();
        for part in [author, sig] {
            key.extend_from_slice(&(part.len() as u32).to_be_bytes());
            key.extend_from_slice(part.as_bytes());
        }
        if let Some(ok) = self.post_checks.borrow().get(&key) {
            return *ok;
        }
        let ok = crate::crypto::verify(author, canonical.bytes(), sig);
        let mut checks = self.post_checks.borrow_mut();
        if checks.len() > 200_000 {
            checks.clear();
        }
        checks.insert(key, ok);
        ok
    }

    /// The verified signer of a post: its author's key if the signature holds for this post in
    /// this room; `None` for a post written before signatures or altered after signing, which
    /// the board shows as unverified.
    pub fn post_signer(&self, post: &Post) -> Option<String> {
        let (author, sig) = (post.author.as_deref()?, post.signature.as_deref()?);
        self.post_signature_holds(&post.id, post.kind, post.created_at, author, sig)
            .then(|| author.to_owned())
    }

    /// Refuses anyone but the post's verified author (a post without a valid signature has no
    /// author this build can recognise, so nobody may change it here).
    fn require_post_author(&self, me: &Identity, id: &str) -> Result<Post, DomainError> {
        self.post_obj(id)?;
        let post = self
            .post(id)
            .ok_or_else(|| DomainError::NoSuchPost(id.to_owned()))?;
        if self.post_signer(&post).as_deref() != Some(me.public().as_str()) {
            return Err(DomainError::Invalid {
                field: "post",
                problem: "can only be changed by its author".into(),
            });
        }
        Ok(post)
    }

    /// Writes the status `me` (the author) gives a post, signed.
    fn put_status(
        &mut self,
        me: &Identity,
        post: &str,
        status: PostStatus,
        now_ms: i64,
    ) -> Result<(), DomainError> {
        let id = crate::crypto::random_id();
        let canonical = status_canonical(&self.room_id, &id, post, status.as_str(), now_ms);
        put_signed(&mut self.doc, &format!("poststatus:{id}"), me, canonical)
    }

    /// The first change by the author with this build pins the post's status in a signed entry
    /// (from then on the unsigned `status` field is never read for it).
    fn pin_status(&mut self, me: &Identity, post: &Post, now_ms: i64) -> Result<(), DomainError> {
        let evidence = self.status_evidence();
        let me_key = me.public();
        let pinned = evidence
            .signed
            .get(&post.id)
            .is_some_and(|list| list.iter().any(|(_, _, author, _)| *author == me_key));
        if pinned {
            return Ok(());
        }
        self.put_status(me, &post.id, post.status, now_ms)
    }

    fn status_evidence(&self) -> StatusEvidence {
        let mut signed: HashMap<String, Vec<(i64, String, String, PostStatus)>> = HashMap::new();
        for (id, f) in self.entries("poststatus:") {
            let (Some(post), Some(status), Some(at), Some(author)) = (
                text(f, "post"),
                text(f, "status"),
                super::signed::int(f, "at"),
                text(f, "author"),
            ) else {
                continue;
            };
            let Some(parsed) = PostStatus::parse(status) else {
                continue;
            };
            if verifies(f, || status_canonical(&self.room_id, id, post, status, at)) {
                signed.entry(post.to_owned()).or_default().push((
                    at,
                    id.to_owned(),
                    author.to_owned(),
                    parsed,
                ));
            }
        }
        for list in signed.values_mut() {
            list.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
        }
        StatusEvidence {
            signed,
            edited_by: std::cell::OnceCell::new(),
        }
    }

    /// A post's status as its author set it:
    /// - the status its author's signed entries lead to, from open, one allowed step at a time;
    /// - with none, the map's status if the author changed the post with an earlier build (its
    ///   edit mark is the only trace such builds left), else open: a status written into the map
    ///   by anyone else is not the author's;
    /// - a post with no author at all (written before signatures) shows the map's status, and is
    ///   shown as unverified.
    fn settle_status(&self, post: &mut Post, evidence: &StatusEvidence) {
        let Some(author) = post.author.as_deref() else {
            return;
        };
        let mine: Vec<PostStatus> = evidence
            .signed
            .get(&post.id)
            .map(|list| {
                list.iter()
                    .filter(|(_, _, a, _)| a == author)
                    .map(|(_, _, _, s)| *s)
                    .collect()
            })
            .unwrap_or_default();
        if !mine.is_empty() {
            post.status =
                mine.into_iter().fold(
                    PostStatus::Open,
                    |now, to| {
                        if now.may_become(to) {
                            to
                        } else {
                            now
                        }
                    },
                );
        } else if post.status != PostStatus::Open {
            let edited_by = evidence.edited_by.get_or_init(|| {
                self.marks("postedit")
                    .into_iter()
                    .map(|m| (m.target, m.author))
                    .collect()
            });
            if !edited_by.contains(&(post.id.clone(), author.to_owned())) {
                post.status = PostStatus::Open;
            }
        }
    }

    /// Who edited a post and when (verified edit marks, oldest first).
    pub fn post_edits(&self, id: &str) -> Vec<(String, i64)> {
        self.marks("postedit")
            .into_iter()
            .filter(|m| m.target == id)
            .map(|m| (m.author, m.at))
            .collect()
    }

    /// Posts a need or an offer and returns its id.
    /// The post is signed by `me` (kind, id, room and creation time); edits are signed marks.
    pub fn add_post(
        &mut self,
        me: &Identity,
        post: NewPost,
        now_ms: i64,
    ) -> Result<String, DomainError> {
        let posts = self.writable_posts()?;
        let title = required_text("title", &post.title, MAX_TITLE)?;
        let category = required_text("category", &post.category, MAX_CATEGORY)?;
        let description = description_text(&post.description)?;
        let id = crate::crypto::random_id();
        let doc = &mut self.doc;
        let obj = doc.put_object(&posts, id.as_str(), ObjType::Map)?;
        doc.put(&obj, "kind", post.kind.as_str())?;
        doc.put(&obj, "title", title)?;
        let text = doc.put_object(&obj, "description", ObjType::Text)?;
        doc.splice_text(&text, 0, 0, &description)?;
        doc.put(&obj, "category", category)?;
        doc.put(&obj, "status", PostStatus::Open.as_str())?;
        doc.put(&obj, "created_at", ScalarValue::Timestamp(now_ms))?;
        doc.put(&obj, "updated_at", ScalarValue::Timestamp(now_ms))?;
        let canonical = post_canonical(&self.room_id, &id, post.kind.as_str(), now_ms);
        let doc = &mut self.doc;
        doc.put(&obj, "author", me.public())?;
        doc.put(&obj, "sig", me.sign(canonical.bytes()))?;
        self.commit();
        Ok(id)
    }

    fn post_obj(&self, id: &str) -> Result<automerge::ObjId, DomainError> {
        let posts = self.writable_posts()?;
        match self.doc.get(&posts, id)? {
            Some((Value::Object(ObjType::Map), obj)) => Ok(obj),
            _ => Err(DomainError::NoSuchPost(id.to_owned())),
        }
    }

    /// Edits a post's title, description or category. The description is diffed into the text
    /// object, so a concurrent edit elsewhere in it survives.
    pub fn edit_post(
        &mut self,
        me: &Identity,
        id: &str,
        edit: PostEdit,
        now_ms: i64,
    ) -> Result<(), DomainError> {
        let obj = self.post_obj(id)?;
        let post = self.require_post_author(me, id)?;
        let title = edit
            .title
            .map(|t| required_text("title", &t, MAX_TITLE))
            .transpose()?;
        let category = edit
            .category
            .map(|c| required_text("category", &c, MAX_CATEGORY))
            .transpose()?;
        let description = edit.description.map(|d| description_text(&d)).transpose()?;
        let doc = &mut self.doc;
        if let Some(title) = title {
            doc.put(&obj, "title", title)?;
        }
        if let Some(category) = category {
            doc.put(&obj, "category", category)?;
        }
        if let Some(description) = description {
            match doc.get(&obj, "description")? {
                Some((Value::Object(ObjType::Text), text)) => {
                    doc.update_text(&text, description)?
                }
                _ => {
                    let text = doc.put_object(&obj, "description", ObjType::Text)?;
                    doc.splice_text(&text, 0, 0, &description)?;
                }
            }
        }
        doc.put(&obj, "updated_at", ScalarValue::Timestamp(now_ms))?;
        self.pin_status(me, &post, now_ms)?;
        self.put_mark(me, "postedit", id, now_ms)
    }

    /// Moves a post along open → matched → fulfilled / withdrawn (its author only). The status
    /// is signed; the map's field is kept in step for earlier builds, which read only that.
    pub fn set_post_status(
        &mut self,
        me: &Identity,
        id: &str,
        to: PostStatus,
        now_ms: i64,
    ) -> Result<(), DomainError> {
        let obj = self.post_obj(id)?;
        let from = self.require_post_author(me, id)?.status;
        if !from.may_become(to) {
            return Err(DomainError::BadTransition {
                from: from.as_str().into(),
                to: to.as_str().into(),
            });
        }
        self.doc.put(&obj, "status", to.as_str())?;
        self.doc
            .put(&obj, "updated_at", ScalarValue::Timestamp(now_ms))?;
        self.put_status(me, id, to, now_ms)?;
        self.put_mark(me, "postedit", id, now_ms)
    }

    /// Number of posts on the board (cheap; reads no post content).
    pub fn post_count(&self) -> usize {
        self.posts_obj().map_or(0, |p| self.doc.length(&p))
    }

    /// One post, or `None` if it does not exist or is malformed.
    pub fn post(&self, id: &str) -> Option<Post> {
        let posts = self.posts_obj()?;
        let mut post = match self.doc.get(&posts, id).ok()?? {
            (Value::Object(ObjType::Map), obj) => self.read_post(id, &obj)?,
            _ => return None,
        };
        self.settle_status(&mut post, &self.status_evidence());
        Some(post)
    }

    /// Reads a post in one pass over its fields (the board reads thousands of them).
    fn read_post(&self, id: &str, obj: &automerge::ObjId) -> Option<Post> {
        let doc = &self.doc;
        let (mut kind, mut title, mut description, mut category) = (None, None, None, None);
        let (mut status, mut created_at, mut updated_at) = (PostStatus::Open, 0, 0);
        let (mut tags, mut urgency, mut expires_at) = (Vec::new(), Urgency::Normal, None);
        let (mut author, mut sig) = (None, None);
        for item in doc.map_range(obj, ..) {
            match (item.key.as_ref(), &item.value) {
                ("kind", ValueRef::Scalar(s)) => kind = scalar_str(s).and_then(PostKind::parse),
                ("title", ValueRef::Scalar(s)) => title = scalar_str(s).map(str::to_owned),
                ("category", ValueRef::Scalar(s)) => category = scalar_str(s).map(str::to_owned),
                ("status", ValueRef::Scalar(s)) => {
                    status = scalar_str(s)
                        .and_then(PostStatus::parse)
                        .unwrap_or(PostStatus::Open)
                }
                ("created_at", ValueRef::Scalar(s)) => created_at = scalar_i64(s).unwrap_or(0),
                ("tags", ValueRef::Scalar(s)) => {
                    tags = scalar_str(s)
                        .map(|t| {
                            t.split(',')
                                .filter(|x| !x.is_empty())
                                .map(str::to_owned)
                                .collect()
                        })
                        .unwrap_or_default()
                }
                ("urgency", ValueRef::Scalar(s)) => {
                    urgency = scalar_str(s).and_then(Urgency::parse).unwrap_or_default()
                }
                ("expires_at", ValueRef::Scalar(s)) => {
                    expires_at = scalar_i64(s).filter(|t| *t > 0)
                }
                ("updated_at", ValueRef::Scalar(s)) => updated_at = scalar_i64(s).unwrap_or(0),
                ("author", ValueRef::Scalar(s)) => author = scalar_str(s).map(str::to_owned),
                ("sig", ValueRef::Scalar(s)) => sig = scalar_str(s).map(str::to_owned),
                ("description", ValueRef::Object(ObjType::Text)) => {
                    description = doc.text(item.id()).ok()
                }
                _ => {}
            }
        }
        let kind = kind?;
        Some(Post {
            author,
            signature: sig,
            id: id.to_owned(),
            kind,
            title: title?,
            description: description.unwrap_or_default(),
            category: category.unwrap_or_default(),
            status,
            created_at,
            updated_at,
            tags,
            urgency,
            expires_at,
        })
    }

    /// Checks tags, urgency and expiry without writing anything (so an edit that also changes
    /// the title can refuse bad details before anything is written).
    pub fn check_post_details(&self, details: &PostDetails) -> Result<(), DomainError> {
        checked_tags(&details.tags)?;
        if details.expires_at.is_some_and(|t| t <= 0) {
            return Err(DomainError::Invalid {
                field: "expires_at",
                problem: "must be a time after 1970".into(),
            });
        }
        Ok(())
    }

    /// Sets a post's tags, urgency and expiry.
    pub fn set_post_details(
        &mut self,
        me: &Identity,
        id: &str,
        details: PostDetails,
        now_ms: i64,
    ) -> Result<(), DomainError> {
        let obj = self.post_obj(id)?;
        let post = self.require_post_author(me, id)?;
        self.check_post_details(&details)?;
        let tags = checked_tags(&details.tags)?;
        self.doc.put(&obj, "tags", tags.join(","))?;
        self.doc.put(&obj, "urgency", details.urgency.as_str())?;
        self.doc
            .put(&obj, "expires_at", details.expires_at.unwrap_or(0))?;
        self.doc
            .put(&obj, "updated_at", ScalarValue::Timestamp(now_ms))?;
        self.pin_status(me, &post, now_ms)?;
        self.put_mark(me, "postedit", id, now_ms)
    }

    /// Matching suggestions: open, unexpired needs paired with open, unexpired offers that share
    /// a category or tags; best first, then by ids so every device lists them alike.
    pub fn matches(&self, now_ms: i64) -> Vec<Match> {
        let live: Vec<Post> = self
            .posts()
            .into_iter()
            .filter(|p| p.status == PostStatus::Open && !p.is_expired(now_ms))
            .collect();
        let mut out = Vec::new();
        for need in live.iter().filter(|p| p.kind == PostKind::Need) {
            for offer in live.iter().filter(|p| p.kind == PostKind::Offer) {
                let shared = need.tags.iter().filter(|t| offer.tags.contains(t)).count() as u32;
                let score = if need.category == offer.category {
                    2
                } else {
                    0
                } + shared;
                if score > 0 {
                    out.push(Match {
                        need: need.id.clone(),
                        offer: offer.id.clone(),
                        score,
                    });
                }
            }
        }
        out.sort_by(|a, b| {
            b.score
                .cmp(&a.score)
                .then_with(|| (&a.need, &a.offer).cmp(&(&b.need, &b.offer)))
        });
        out
    }

    /// The board: every well-formed post, newest first (ties broken by id, so every device
    /// shows the same order). Entries a peer wrote in a shape this build does not know are skipped.
    ///
    /// What the derivation vouches for: a post's kind, id and creation time (signed, see
    /// [`RoomDoc::post_signer`]) and its status (see `settle_status`: only its author's). What
    /// it cannot: the title, description, category, tags, urgency, expiry and `updated_at` are
    /// unsigned fields, so anyone holding the link can still rewrite them without a trace, and
    /// the post still shows as verified; a post's status can still be set by anyone when its
    /// author last changed it with a build older than this one (the map's status is read then).
    /// Deleting a post, the whole board, or the signed status entries is not detected either.
    pub fn posts(&self) -> Vec<Post> {
        let Some(posts) = self.posts_obj() else {
            return Vec::new();
        };
        let evidence = self.status_evidence();
        let mut out: Vec<Post> = self
            .doc
            .map_range(&posts, ..)
            .filter_map(|item| match item.value {
                ValueRef::Object(ObjType::Map) => self.read_post(&item.key, &item.id()),
                _ => None,
            })
            .map(|mut post| {
                self.settle_status(&mut post, &evidence);
                post
            })
            .collect();
        out.sort_by(|a, b| {
            b.created_at
                .cmp(&a.created_at)
                .then_with(|| a.id.cmp(&b.id))
        });
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// This test's device key (one per test: each runs on its own thread).
    fn me() -> crate::crypto::Identity {
        thread_local! {
            static ME: crate::crypto::Identity = crate::crypto::Identity::generate();
        }
        ME.with(Clone::clone)
    }

    fn offer(title: &str) -> NewPost {
        NewPost {
            kind: PostKind::Offer,
            title: title.into(),
            description: "A sturdy ladder, 3 m".into(),
            category: "Tools".into(),
        }
    }

    fn sync_pair(a: &mut RoomDoc, b: &mut RoomDoc) {
        crate::domain::testing::sync(a, b)
    }

    #[test]
    fn posting_editing_and_listing() {
        let mut room = RoomDoc::create("room-1", "Street", 1).unwrap();
        let a = room.add_post(&me(), offer("Ladder"), 10).unwrap();
        let b = room
            .add_post(
                &me(),
                NewPost {
                    kind: PostKind::Need,
                    title: "Help moving".into(),
                    description: String::new(),
                    category: "Services".into(),
                },
                20,
            )
            .unwrap();
        let list = room.posts();
        assert_eq!(
            list.iter().map(|p| p.id.as_str()).collect::<Vec<_>>(),
            [b.as_str(), a.as_str()]
        );
        assert_eq!(list[1].kind, PostKind::Offer);
        assert_eq!(list[1].status, PostStatus::Open);
        assert_eq!(list[1].description, "A sturdy ladder, 3 m");
        assert_eq!(room.post_count(), 2);

        room.edit_post(
            &me(),
            &a,
            PostEdit {
                title: Some("Long ladder".into()),
                description: Some("A sturdy ladder, 4 m".into()),
                category: None,
            },
            30,
        )
        .unwrap();
        let p = room.post(&a).unwrap();
        assert_eq!(
            (p.title.as_str(), p.description.as_str()),
            ("Long ladder", "A sturdy ladder, 4 m")
        );
        assert_eq!(
            (p.category.as_str(), p.updated_at, p.created_at),
            ("Tools", 30, 10)
        );
    }

    #[test]
    fn posts_carry_their_signer_and_forgeries_show_unverified() {
        let mut room = RoomDoc::create("room-1", "Tools", 0).unwrap();
        let ana = me();
        let id = room.add_post(&ana, offer("Ladder"), 10).unwrap();
        let signer = |room: &RoomDoc, id: &str| room.post_signer(&room.post(id).unwrap());
        assert_eq!(signer(&room, &id), Some(ana.public()));
        room.edit_post(
            &ana,
            &id,
            PostEdit {
                title: Some("Long ladder".into()),
                ..Default::default()
            },
            11,
        )
        .unwrap();
        assert_eq!(room.post_edits(&id), vec![(ana.public(), 11)]);
        // A peer rewrites what the signature covers: the post stays, unverified.
        let obj = room.post_obj(&id).unwrap();
        room.doc.put(&obj, "kind", "need").unwrap();
        room.commit();
        assert_eq!(room.post(&id).unwrap().kind, PostKind::Need);
        assert_eq!(signer(&room, &id), None);
        // A signature made for the same post in another room does not verify here.
        let mine = room.add_post(&ana, offer("Drill"), 12).unwrap();
        assert_eq!(signer(&room, &mine), Some(ana.public()));
        let sig = ana.sign(post_canonical("room-2", &mine, "offer", 12).bytes());
        let obj = room.post_obj(&mine).unwrap();
        room.doc.put(&obj, "sig", sig).unwrap();
        room.commit();
        assert_eq!(signer(&room, &mine), None);
    }

    #[test]
    fn invalid_posts_are_refused_and_write_nothing() {
        let mut room = RoomDoc::create("room-1", "Street", 1).unwrap();
        let heads = room.doc_mut().get_heads();
        let err = room.add_post(&me(), offer("   "), 2).unwrap_err();
        assert!(matches!(err, DomainError::Invalid { field: "title", .. }));
        let mut long = offer("ok");
        long.description = "x".repeat(4001);
        assert!(matches!(
            room.add_post(&me(), long, 2),
            Err(DomainError::Invalid {
                field: "description",
                ..
            })
        ));
        let mut no_cat = offer("ok");
        no_cat.category = String::new();
        assert!(room.add_post(&me(), no_cat, 2).is_err());
        assert_eq!(room.doc_mut().get_heads(), heads);
        assert_eq!(
            room.edit_post(&me(), "nope", PostEdit::default(), 3),
            Err(DomainError::NoSuchPost("nope".into()))
        );
        assert_eq!(
            RoomDoc::empty("room-1").add_post(&me(), offer("x"), 1),
            Err(DomainError::NotReady)
        );
    }

    #[test]
    fn status_moves_forward_and_final_states_stay_final() {
        let mut room = RoomDoc::create("room-1", "Street", 1).unwrap();
        let id = room.add_post(&me(), offer("Ladder"), 10).unwrap();
        room.set_post_status(&me(), &id, PostStatus::Matched, 11)
            .unwrap();
        room.set_post_status(&me(), &id, PostStatus::Fulfilled, 12)
            .unwrap();
        assert_eq!(room.post(&id).unwrap().status, PostStatus::Fulfilled);
        assert!(matches!(
            room.set_post_status(&me(), &id, PostStatus::Open, 13),
            Err(DomainError::BadTransition { .. })
        ));
        let other = room.add_post(&me(), offer("Drill"), 14).unwrap();
        room.set_post_status(&me(), &other, PostStatus::Withdrawn, 15)
            .unwrap();
        assert!(room
            .set_post_status(&me(), &other, PostStatus::Matched, 16)
            .is_err());
    }

    #[test]
    fn only_the_author_edits_a_post_or_moves_its_status() {
        let mut room = RoomDoc::create("room-1", "Street", 1).unwrap();
        let (ana, bo) = (me(), crate::crypto::Identity::generate());
        let id = room.add_post(&ana, offer("Ladder"), 10).unwrap();
        let not_author = |r| matches!(r, Err(DomainError::Invalid { field: "post", .. }));
        assert!(not_author(room.set_post_status(
            &bo,
            &id,
            PostStatus::Withdrawn,
            11
        )));
        let edit = PostEdit {
            title: Some("Mine now".into()),
            ..PostEdit::default()
        };
        assert!(not_author(room.edit_post(&bo, &id, edit, 11)));
        assert!(not_author(room.set_post_details(
            &bo,
            &id,
            PostDetails::default(),
            11
        )));
        let p = room.post(&id).unwrap();
        assert_eq!((p.title.as_str(), p.status), ("Ladder", PostStatus::Open));
        room.set_post_status(&ana, &id, PostStatus::Matched, 12)
            .unwrap();
        assert_eq!(room.post(&id).unwrap().status, PostStatus::Matched);
    }

    #[test]
    fn a_status_written_by_anyone_but_the_author_is_ignored() {
        let mut room = RoomDoc::create("room-1", "Street", 1).unwrap();
        let (ana, bo) = (me(), crate::crypto::Identity::generate());
        let id = room.add_post(&ana, offer("Ladder"), 10).unwrap();
        let status = |room: &RoomDoc| room.post(&id).unwrap().status;
        // Bo's modified client writes "withdrawn" into the post's map, with an edit mark of his
        // own: the old derivation showed the post withdrawn.
        let obj = room.post_obj(&id).unwrap();
        room.doc.put(&obj, "status", "withdrawn").unwrap();
        room.commit();
        room.put_mark(&bo, "postedit", &id, 11).unwrap();
        assert_eq!(status(&room), PostStatus::Open);
        assert_eq!(room.posts()[0].status, PostStatus::Open);
        // A signed status entry by Bo is his, not the author's: ignored too.
        room.put_status(&bo, &id, PostStatus::Withdrawn, 12)
            .unwrap();
        room.commit();
        assert_eq!(status(&room), PostStatus::Open);
        // The author's signed status counts, and from then on the map's field is never read.
        room.set_post_status(&ana, &id, PostStatus::Matched, 13)
            .unwrap();
        let obj = room.post_obj(&id).unwrap();
        room.doc.put(&obj, "status", "open").unwrap();
        room.commit();
        assert_eq!(status(&room), PostStatus::Matched);
        room.set_post_status(&ana, &id, PostStatus::Fulfilled, 14)
            .unwrap();
        assert_eq!(status(&room), PostStatus::Fulfilled);
        // A final status stays final, whatever is signed after it.
        room.put_status(&ana, &id, PostStatus::Open, 15).unwrap();
        room.commit();
        assert_eq!(status(&room), PostStatus::Fulfilled);
    }

    #[test]
    fn statuses_set_by_earlier_builds_stay_readable() {
        let mut room = RoomDoc::create("room-1", "Street", 1).unwrap();
        let ana = me();
        let id = room.add_post(&ana, offer("Ladder"), 10).unwrap();
        // An earlier build: the author's status went into the map, with her edit mark.
        let obj = room.post_obj(&id).unwrap();
        room.doc.put(&obj, "status", "withdrawn").unwrap();
        room.commit();
        room.put_mark(&ana, "postedit", &id, 11).unwrap();
        assert_eq!(room.post(&id).unwrap().status, PostStatus::Withdrawn);
        // Unsigned posts from before signatures keep the map's status (shown as unverified).
        let posts = room.posts_obj().unwrap();
        let old = room.doc.put_object(&posts, "old", ObjType::Map).unwrap();
        for (k, v) in [("kind", "need"), ("title", "Old"), ("status", "matched")] {
            room.doc.put(&old, k, v).unwrap();
        }
        room.commit();
        let p = room.post("old").unwrap();
        assert_eq!(
            (p.status, room.post_signer(&p)),
            (PostStatus::Matched, None)
        );
    }

    #[test]
    fn an_edit_pins_the_status_so_the_map_field_is_no_longer_read() {
        let mut room = RoomDoc::create("room-1", "Street", 1).unwrap();
        let ana = me();
        let id = room.add_post(&ana, offer("Ladder"), 10).unwrap();
        room.edit_post(
            &ana,
            &id,
            PostEdit {
                title: Some("Long ladder".into()),
                ..PostEdit::default()
            },
            11,
        )
        .unwrap();
        // Ana's edit mark exists now; the field still does not decide.
        let obj = room.post_obj(&id).unwrap();
        room.doc.put(&obj, "status", "withdrawn").unwrap();
        room.commit();
        assert_eq!(room.post(&id).unwrap().status, PostStatus::Open);
    }

    #[test]
    fn concurrent_description_edits_merge_by_character() {
        let mut a = RoomDoc::create("room-1", "Street", 1).unwrap();
        let id = a.add_post(&me(), offer("Ladder"), 10).unwrap();
        let mut b = RoomDoc::empty("room-1");
        sync_pair(&mut a, &mut b);
        assert_eq!(b.posts(), a.posts());
        let edit = |d: &str| PostEdit {
            description: Some(d.into()),
            ..PostEdit::default()
        };
        a.edit_post(&me(), &id, edit("Please: A sturdy ladder, 3 m"), 20)
            .unwrap();
        b.edit_post(&me(), &id, edit("A sturdy ladder, 3 m, in the shed"), 21)
            .unwrap();
        sync_pair(&mut a, &mut b);
        let merged = a.post(&id).unwrap().description;
        assert_eq!(merged, "Please: A sturdy ladder, 3 m, in the shed");
        assert_eq!(b.post(&id).unwrap().description, merged);
    }

    #[test]
    fn details_expiry_and_matching_suggestions() {
        let mut room = RoomDoc::create("room-1", "Street", 1).unwrap();
        let need = room
            .add_post(
                &me(),
                NewPost {
                    kind: PostKind::Need,
                    title: "Need a ladder".into(),
                    description: String::new(),
                    category: "Tools".into(),
                },
                10,
            )
            .unwrap();
        let ladder = room.add_post(&me(), offer("Ladder"), 11).unwrap();
        let drill = room
            .add_post(
                &me(),
                NewPost {
                    kind: PostKind::Offer,
                    title: "Drill".into(),
                    description: String::new(),
                    category: "Goods".into(),
                },
                12,
            )
            .unwrap();
        let details = |tags: &[&str], expires_at| PostDetails {
            tags: tags.iter().map(|t| t.to_string()).collect(),
            urgency: Urgency::High,
            expires_at,
        };
        room.set_post_details(&me(), &need, details(&["Height", "roof"], Some(500)), 13)
            .unwrap();
        room.set_post_details(&me(), &drill, details(&["roof"], None), 14)
            .unwrap();
        let p = room.post(&need).unwrap();
        assert_eq!(
            (p.tags.clone(), p.urgency),
            (
                vec!["height".to_string(), "roof".to_string()],
                Urgency::High
            )
        );
        assert!(!p.is_expired(499) && p.is_expired(500));
        let m = room.matches(100);
        assert_eq!(
            m,
            vec![
                Match {
                    need: need.clone(),
                    offer: ladder.clone(),
                    score: 2
                },
                Match {
                    need: need.clone(),
                    offer: drill.clone(),
                    score: 1
                },
            ]
        );
        assert!(
            room.matches(600).is_empty(),
            "an expired need is not matched"
        );
        room.set_post_status(&me(), &ladder, PostStatus::Withdrawn, 15)
            .unwrap();
        assert_eq!(room.matches(100).len(), 1);
        assert!(matches!(
            room.set_post_details(&me(), &need, details(&["a,b"], None), 16),
            Err(DomainError::Invalid { field: "tags", .. })
        ));
        let many: Vec<String> = (0..11).map(|i| format!("t{i}")).collect();
        assert!(room
            .set_post_details(
                &me(),
                &need,
                PostDetails {
                    tags: many,
                    ..PostDetails::default()
                },
                16
            )
            .is_err());
    }

    #[test]
    fn malformed_entries_from_a_peer_are_skipped() {
        let mut room = RoomDoc::create("room-1", "Street", 1).unwrap();
        room.add_post(&me(), offer("Ladder"), 10).unwrap();
        let posts = room.posts_obj().unwrap();
        room.doc_mut().put(&posts, "junk", 42).unwrap();
        let odd = room
            .doc_mut()
            .put_object(&posts, "odd", ObjType::Map)
            .unwrap();
        room.doc_mut().put(&odd, "kind", "gift").unwrap();
        assert_eq!(room.posts().len(), 1);
    }
}

/// A member's reply to a need or an offer (signed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub id: String,
    pub post: String,
    pub author: String,
    pub text: String,
    pub at: i64,
}

fn response_canonical(
    room: &str,
    id: &str,
    post: &str,
    text: &str,
    at: i64,
) -> super::signed::Canonical {
    super::signed::Canonical::new(room, "response", id)
        .text("post", post)
        .text("text", text)
        .int("at", at)
}

impl RoomDoc {
    /// Replies to a post ("I can lend mine", "still needed?").
    pub fn respond(
        &mut self,
        me: &crate::crypto::Identity,
        post: &str,
        text: &str,
        now_ms: i64,
    ) -> Result<String, DomainError> {
        use super::signed::put_signed;
        self.require_admitted(me)?;
        if self.post(post).is_none() {
            return Err(DomainError::NoSuchPost(post.to_owned()));
        }
        let text = text.trim();
        if text.is_empty() || text.chars().count() > 1000 {
            return Err(DomainError::Invalid {
                field: "response",
                problem: "must be 1 to 1000 characters".into(),
            });
        }
        let id = crate::crypto::random_id();
        let canonical = response_canonical(self.room_id(), &id, post, text, now_ms);
        put_signed(&mut self.doc, &format!("response:{id}"), me, canonical)?;
        self.commit();
        Ok(id)
    }

    /// Verified responses by admitted members, oldest first; all posts' when `post` is None.
    pub fn responses(&self, post: Option<&str>) -> Vec<Response> {
        use super::signed::{int, text, verifies};
        let admitted = self.admitted();
        let mut out: Vec<Response> = self
            .entries("response:")
            .filter_map(|(id, f)| {
                let id = id.to_owned();
                let (p, body, at, author) = (
                    text(f, "post")?,
                    text(f, "text")?,
                    int(f, "at")?,
                    text(f, "author")?,
                );
                (post.is_none_or(|want| want == p)
                    && admitted.contains(author)
                    && verifies(f, || response_canonical(self.room_id(), &id, p, body, at)))
                .then(|| Response {
                    id,
                    post: p.to_owned(),
                    author: author.to_owned(),
                    text: body.to_owned(),
                    at,
                })
            })
            .collect();
        out.sort_by(|a, b| (a.at, &a.id).cmp(&(b.at, &b.id)));
        out
    }
}

#[cfg(test)]
mod response_tests {
    use super::*;
    use crate::crypto::Identity;
    use crate::domain::testing::community;

    #[test]
    fn admitted_members_respond_to_posts() {
        let (mut room, m) = community(2);
        let post = room
            .add_post(
                &m[0],
                NewPost {
                    kind: PostKind::Need,
                    title: "Ladder".into(),
                    description: String::new(),
                    category: "Goods".into(),
                },
                10,
            )
            .unwrap();
        room.respond(&m[1], &post, "I can lend mine", 11).unwrap();
        room.respond(&m[0], &post, "Thanks!", 12).unwrap();
        let r = room.responses(Some(&post));
        assert_eq!(
            r.iter().map(|x| x.text.as_str()).collect::<Vec<_>>(),
            ["I can lend mine", "Thanks!"]
        );
        assert_eq!(r[0].author, m[1].public());
        assert_eq!(
            room.respond(&Identity::generate(), &post, "hi", 13),
            Err(DomainError::NotAdmitted)
        );
        assert!(room.respond(&m[0], &post, "  ", 13).is_err());
        assert_eq!(
            room.respond(&m[0], "nope", "hi", 13),
            Err(DomainError::NoSuchPost("nope".into()))
        );
    }
}
