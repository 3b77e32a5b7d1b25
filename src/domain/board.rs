//! Needs and offers: the mutual-aid board (ValueFlows intents).
//!
//! A post is one signed entry, `post:<id>`, holding all of it (kind, title, description,
//! category, tags, urgency, expiry, creation time) at an id that names its author
//! ([`crate::crypto::entry_id`]). Only its author changes it: an edit is a new signed version
//! (`postver:<id>`, the whole post again, numbered in its author's own sequence) and a status
//! change a signed `poststatus:` entry. The board shows each post's latest version by its
//! author, so nothing anyone else writes can change what a post says or where it stands.
//!
//! Rooms written before signed posts keep their posts in a `posts` map, signed over kind, id
//! and creation time only; they stay readable ([`Post::legacy`]) and their author's next edit
//! signs all of it.

use super::room::{required_text, scalar_i64, scalar_str, DomainError, RoomDoc};
use super::signed::{signed_entry, verifies, Entry, Field, Fields, LegacyPost, Raw};
use crate::crypto::Identity;
use automerge::{transaction::Transactable, ObjType, ReadDoc, ScalarValue, ValueRef};
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

/// Changes to a post; `None` leaves a field (or all the details) as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PostEdit {
    pub title: Option<String>,
    pub description: Option<String>,
    pub category: Option<String>,
    pub details: Option<PostDetails>,
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
    /// The key the post names as its author — as written, not yet checked: checking 5,000
    /// signatures on every change would cost seconds, so the check is
    /// [`RoomDoc::post_signer`], made for the posts actually shown.
    pub author: Option<String>,
    /// A legacy post's signature (over its kind, id and creation time).
    pub signature: Option<String>,
    /// Written by a build before signed posts, in the `posts` map.
    pub legacy: bool,
    /// Whether the text shown is signed by the author: always, except for a legacy post its
    /// author has not edited since.
    pub signed_text: bool,
    /// The version shown, in its author's sequence (0: as first posted).
    pub seq: i64,
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

/// What a post says: everything its author may change, signed whole in every version.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Content {
    title: String,
    description: String,
    category: String,
    tags: Vec<String>,
    urgency: Urgency,
    expires_at: Option<i64>,
}

impl Content {
    /// Checks what a person typed (a clear error for each field) and normalises it.
    fn checked(
        title: &str,
        description: &str,
        category: &str,
        details: &PostDetails,
    ) -> Result<Self, DomainError> {
        let title = required_text("title", title, MAX_TITLE)?;
        let category = required_text("category", category, MAX_CATEGORY)?;
        let description = description_text(description)?;
        let tags = checked_tags(&details.tags)?;
        if details.expires_at.is_some_and(|t| t <= 0) {
            return Err(DomainError::Invalid {
                field: "expires_at",
                problem: "must be a time after 1970".into(),
            });
        }
        Ok(Content {
            title,
            description,
            category,
            tags,
            urgency: details.urgency,
            expires_at: details.expires_at,
        })
    }

    /// Reads a version's content as written, within the same bounds a command keeps (and
    /// already in the form a command writes): anything else counts for nothing.
    fn read(
        title: &str,
        description: &str,
        category: &str,
        tags: &str,
        urgency: &str,
        expires_at: i64,
    ) -> Option<Self> {
        let details = PostDetails {
            tags: tags
                .split(',')
                .filter(|t| !t.is_empty())
                .map(str::to_owned)
                .collect(),
            urgency: Urgency::parse(urgency)?,
            expires_at: (expires_at != 0).then_some(expires_at),
        };
        let content = Content::checked(title, description, category, &details).ok()?;
        (content.title == title
            && content.description == description
            && content.category == category
            && content.tags.join(",") == tags)
            .then_some(content)
    }
}

signed_entry! {
    /// A post as its author first wrote it (`post:<id>`, at an id bound to the author): all of
    /// it (tags joined by commas, `expires_at` 0 for none).
    pub(crate) struct PostFields = "post" {
        kind: String,
        title: String,
        description: String,
        category: String,
        tags: String,
        urgency: String,
        expires_at: i64,
        created_at: i64,
    }
}

signed_entry! {
    /// A later version of a post by its author (`postver:<id>`): the whole post again, and its
    /// place in the author's own sequence (the post itself is 0).
    pub(crate) struct VersionFields = "postver" {
        post: String,
        seq: i64,
        title: String,
        description: String,
        category: String,
        tags: String,
        urgency: String,
        expires_at: i64,
        at: i64,
    }
}

signed_entry! {
    /// A post as builds before signed posts wrote it (schema 2 and earlier, in the `posts`
    /// map): signed over its kind, id and creation time only.
    pub(crate) struct LegacyPostFields = "post" {
        kind: String,
        created_at: i64,
    }
}

signed_entry! {
    /// A status its author gave a post (`poststatus:<id>`).
    pub(crate) struct StatusFields = "poststatus" {
        post: String,
        status: String,
        at: i64,
    }
}

signed_entry! {
    /// A member's reply to a post (`response:<id>`).
    pub(crate) struct ResponseFields = "response" {
        post: String,
        text: String,
        at: i64,
    }
}

/// A post as its author first signed it, read.
struct PostEntry {
    kind: PostKind,
    content: Content,
    created_at: i64,
}

impl PostEntry {
    fn read(f: &Raw) -> Option<Self> {
        let e = PostFields::decode(f)?;
        Some(PostEntry {
            kind: PostKind::parse(&e.kind)?,
            content: Content::read(
                &e.title,
                &e.description,
                &e.category,
                &e.tags,
                &e.urgency,
                e.expires_at,
            )?,
            created_at: e.created_at,
        })
    }

    fn fields(&self) -> PostFields {
        let c = &self.content;
        PostFields {
            kind: self.kind.as_str().to_owned(),
            title: c.title.clone(),
            description: c.description.clone(),
            category: c.category.clone(),
            tags: c.tags.join(","),
            urgency: c.urgency.as_str().to_owned(),
            expires_at: c.expires_at.unwrap_or(0),
            created_at: self.created_at,
        }
    }
}

/// A later version of a post, read.
struct PostVersion {
    post: String,
    seq: i64,
    content: Content,
    at: i64,
}

impl PostVersion {
    fn read(f: &Raw) -> Option<Self> {
        let v = VersionFields::decode(f)?;
        Some(PostVersion {
            content: Content::read(
                &v.title,
                &v.description,
                &v.category,
                &v.tags,
                &v.urgency,
                v.expires_at,
            )?,
            post: v.post,
            seq: v.seq,
            at: v.at,
        })
    }

    fn fields(&self) -> VersionFields {
        let c = &self.content;
        VersionFields {
            post: self.post.clone(),
            seq: self.seq,
            title: c.title.clone(),
            description: c.description.clone(),
            category: c.category.clone(),
            tags: c.tags.join(","),
            urgency: c.urgency.as_str().to_owned(),
            expires_at: c.expires_at.unwrap_or(0),
            at: self.at,
        }
    }
}

/// What the board needs to derive statuses: each post's signed status changes as
/// (time, entry id, author, status), and who wrote an edit mark on which post (read only if
/// some post needs it: most posts are open, or have signed statuses).
struct StatusEvidence {
    signed: HashMap<String, Vec<(i64, String, String, PostStatus)>>,
    edited_by: std::cell::OnceCell<BTreeSet<(String, String)>>,
}

/// Every post's later versions: post id → (version id, author, version), verified.
type Versions<'a> = HashMap<&'a str, Vec<(&'a str, &'a str, &'a PostVersion)>>;

impl RoomDoc {
    /// The entry a signed post counts as (see [`RoomDoc::entries`]: its author's version at
    /// its key, told from rivals by its signature); `None` at an id not bound to an author
    /// (no build writes one).
    fn post_entry(&self, id: &str) -> Option<(&Raw, &PostEntry)> {
        crate::crypto::id_author(id)?;
        let raw = self.entry(&format!("post:{id}"))?;
        Some((raw, raw.parsed(PostEntry::read)?))
    }

    /// Whether a legacy post's signature holds; each answer is remembered by everything it
    /// covered, since the board is read in full on every change.
    fn legacy_signature_holds(
        &self,
        id: &str,
        kind: PostKind,
        created_at: i64,
        author: &str,
        sig: &str,
    ) -> bool {
        let canonical = LegacyPostFields {
            kind: kind.as_str().to_owned(),
            created_at,
        }
        .canonical(&self.room_id, id);
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

    /// The verified signer of a post: its author's key if the post's signature holds for this
    /// post in this room; `None` for a forgery, or a post written before signatures, which the
    /// board shows as unverified. Checked for the posts shown (5,000 checks on every change
    /// would cost seconds); the text shown is always signed by this signer, unless the post
    /// is [`Post::legacy`] and never edited since.
    pub fn post_signer(&self, post: &Post) -> Option<String> {
        if !post.legacy {
            let (raw, entry) = self.post_entry(&post.id)?;
            return verifies(raw, || entry.fields().canonical(&self.room_id, &post.id))
                .then(|| raw.author().map(str::to_owned))
                .flatten();
        }
        let (author, sig) = (post.author.as_deref()?, post.signature.as_deref()?);
        self.legacy_signature_holds(&post.id, post.kind, post.created_at, author, sig)
            .then(|| author.to_owned())
    }

    /// Refuses anyone but the post's verified author (a post without a valid signature has no
    /// author this build can recognise, so nobody may change it here).
    fn require_post_author(&self, me: &Identity, id: &str) -> Result<Post, DomainError> {
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
        let id = crate::crypto::entry_id(&me.public());
        let entry = StatusFields {
            post: post.to_owned(),
            status: status.as_str().to_owned(),
            at: now_ms,
        };
        self.put_entry(me, &format!("poststatus:{id}"), &id, &entry)
    }

    /// The first change by the author with this build pins a legacy post's status in a signed
    /// entry (from then on the unsigned `status` field is never read for it).
    fn pin_status(&mut self, me: &Identity, post: &Post, now_ms: i64) -> Result<(), DomainError> {
        if !post.legacy {
            return Ok(());
        }
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
        for s in self.entries_of::<StatusFields>("poststatus:") {
            let Some(parsed) = PostStatus::parse(&s.entry.status) else {
                continue;
            };
            signed.entry(s.entry.post).or_default().push((
                s.entry.at,
                s.id.to_owned(),
                s.author.to_owned(),
                parsed,
            ));
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
    /// - with none, open — except for a legacy post whose author changed it with an earlier
    ///   build (its edit mark is the only trace such builds left): the map's status then;
    /// - a legacy post with no author at all (written before signatures) shows the map's
    ///   status, and is shown as unverified.
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
            if !post.legacy || !edited_by.contains(&(post.id.clone(), author.to_owned())) {
                post.status = PostStatus::Open;
            }
        }
    }

    /// Every well-formed, verified later version of a post, by post.
    fn post_versions(&self) -> Versions<'_> {
        let mut out: Versions = HashMap::new();
        for (id, raw) in self.entries("postver:") {
            let (Some(v), Some(author)) = (raw.parsed(PostVersion::read), raw.author()) else {
                continue;
            };
            if v.seq > 0 && verifies(raw, || v.fields().canonical(&self.room_id, id)) {
                out.entry(v.post.as_str())
                    .or_default()
                    .push((id, author, v));
            }
        }
        out
    }

    /// Applies the latest version by the post's author (by their own sequence; then time and
    /// id, should they ever write two alike): versions by anyone else are not theirs to write.
    fn settle_content(&self, post: &mut Post, versions: &Versions) {
        let Some(author) = post.author.as_deref() else {
            return;
        };
        let latest = versions
            .get(post.id.as_str())
            .into_iter()
            .flatten()
            .filter(|(_, by, _)| *by == author)
            .max_by(|a, b| (a.2.seq, a.2.at, a.0).cmp(&(b.2.seq, b.2.at, b.0)));
        if let Some((_, _, v)) = latest {
            let c = &v.content;
            post.title = c.title.clone();
            post.description = c.description.clone();
            post.category = c.category.clone();
            post.tags = c.tags.clone();
            post.urgency = c.urgency;
            post.expires_at = c.expires_at;
            post.updated_at = v.at;
            post.seq = v.seq;
            post.signed_text = true;
        }
    }

    /// Who changed a post and when: its author's versions, oldest first (and, for a legacy
    /// post, the edit marks earlier builds left).
    pub fn post_edits(&self, id: &str) -> Vec<(String, i64)> {
        let Some(post) = self.post(id) else {
            return Vec::new();
        };
        let mut out: Vec<(i64, i64, String)> = self
            .post_versions()
            .remove(id)
            .unwrap_or_default()
            .into_iter()
            .filter(|(_, by, _)| Some(*by) == post.author.as_deref())
            .map(|(_, by, v)| (v.seq, v.at, by.to_owned()))
            .collect();
        if post.legacy {
            out.extend(
                self.marks("postedit")
                    .into_iter()
                    .filter(|m| m.target == id)
                    .map(|m| (0, m.at, m.author)),
            );
        }
        out.sort();
        out.into_iter().map(|(_, at, by)| (by, at)).collect()
    }

    /// Posts a need or an offer and returns its id: one signed entry holding all of it.
    pub fn add_post(
        &mut self,
        me: &Identity,
        post: NewPost,
        now_ms: i64,
    ) -> Result<String, DomainError> {
        self.add_post_with(me, post, PostDetails::default(), now_ms)
    }

    /// Posts a need or an offer with its tags, urgency and expiry.
    pub fn add_post_with(
        &mut self,
        me: &Identity,
        post: NewPost,
        details: PostDetails,
        now_ms: i64,
    ) -> Result<String, DomainError> {
        self.writable_posts()?;
        let content = Content::checked(&post.title, &post.description, &post.category, &details)?;
        let id = crate::crypto::entry_id(&me.public());
        let entry = PostEntry {
            kind: post.kind,
            content,
            created_at: now_ms,
        };
        self.put_entry(me, &format!("post:{id}"), &id, &entry.fields())?;
        self.commit();
        Ok(id)
    }

    /// Edits a post (its author only): writes the whole post again as a signed version, the
    /// next in its author's sequence. Details, if given, are checked before anything is written.
    pub fn edit_post(
        &mut self,
        me: &Identity,
        id: &str,
        edit: PostEdit,
        now_ms: i64,
    ) -> Result<(), DomainError> {
        let post = self.require_post_author(me, id)?;
        let details = edit.details.unwrap_or_else(|| PostDetails {
            tags: post.tags.clone(),
            urgency: post.urgency,
            expires_at: post.expires_at,
        });
        let content = Content::checked(
            edit.title.as_deref().unwrap_or(&post.title),
            edit.description.as_deref().unwrap_or(&post.description),
            edit.category.as_deref().unwrap_or(&post.category),
            &details,
        )?;
        let version = PostVersion {
            post: id.to_owned(),
            seq: post.seq.checked_add(1).ok_or(DomainError::Invalid {
                field: "post",
                problem: "has been edited too many times".into(),
            })?,
            content,
            at: now_ms,
        };
        let vid = crate::crypto::entry_id(&me.public());
        self.put_entry(me, &format!("postver:{vid}"), &vid, &version.fields())?;
        self.pin_status(me, &post, now_ms)?;
        self.commit();
        Ok(())
    }

    /// Moves a post along open → matched → fulfilled / withdrawn (its author only), signed.
    /// A legacy post's map field is kept in step for earlier builds, which read only that.
    pub fn set_post_status(
        &mut self,
        me: &Identity,
        id: &str,
        to: PostStatus,
        now_ms: i64,
    ) -> Result<(), DomainError> {
        let post = self.require_post_author(me, id)?;
        if !post.status.may_become(to) {
            return Err(DomainError::BadTransition {
                from: post.status.as_str().into(),
                to: to.as_str().into(),
            });
        }
        if post.legacy {
            let obj = self.legacy_obj(id)?;
            self.doc.put(&obj, "status", to.as_str())?;
            self.doc
                .put(&obj, "updated_at", ScalarValue::Timestamp(now_ms))?;
        }
        self.put_status(me, id, to, now_ms)?;
        self.commit();
        Ok(())
    }

    fn legacy_obj(&self, id: &str) -> Result<automerge::ObjId, DomainError> {
        self.writable_posts()?;
        self.legacy_post(id)
            .and_then(|(made, _)| self.doc.import_obj(&made.obj).ok())
            .ok_or_else(|| DomainError::NoSuchPost(id.to_owned()))
    }

    /// The posts made in the room's posts map by builds before signed posts (see
    /// [`crate::domain::signed::Index::legacy_posts`]), with whether each is contested.
    fn legacy_posts(&self) -> Vec<(&LegacyPost, bool)> {
        match self.index.posts_map(self.founder_entry()) {
            Some(map) => self.index.legacy_posts(&map),
            None => Vec::new(),
        }
    }

    fn legacy_post(&self, id: &str) -> Option<(&LegacyPost, bool)> {
        self.legacy_posts().into_iter().find(|(p, _)| p.id == id)
    }

    /// The legacy posts as the board shows them: of contested rivals at one id, the first
    /// that reads.
    fn read_legacy_posts(&self) -> Vec<Post> {
        let mut out: Vec<Post> = Vec::new();
        for (made, contested) in self.legacy_posts() {
            if out.last().is_some_and(|p| p.id == made.id) {
                continue;
            }
            out.extend(self.read_legacy(made, contested));
        }
        out
    }

    /// Number of posts on the board (cheap; reads no post content).
    pub fn post_count(&self) -> usize {
        let mut legacy: Vec<&str> = self
            .legacy_posts()
            .into_iter()
            .map(|(p, _)| p.id.as_str())
            .collect();
        legacy.dedup();
        let legacy = legacy.len();
        let signed = self
            .entries("post:")
            .filter(|(id, _)| crate::crypto::id_author(id).is_some())
            .count();
        signed + legacy
    }

    /// One post, or `None` if it does not exist or is malformed.
    pub fn post(&self, id: &str) -> Option<Post> {
        let mut post = match self.post_entry(id) {
            Some((raw, entry)) => signed_post(id, raw, entry),
            None => self
                .legacy_posts()
                .into_iter()
                .filter(|(made, _)| made.id == id)
                .find_map(|(made, contested)| self.read_legacy(made, contested))?,
        };
        self.settle_content(&mut post, &self.post_versions());
        self.settle_status(&mut post, &self.status_evidence());
        Some(post)
    }

    /// Reads a legacy post in one pass over its fields (the board reads thousands of them).
    /// Its kind, creation time, author and signature are those its making change wrote (a
    /// contested one has no author); the rest was never signed and is read as it stands.
    fn read_legacy(&self, made: &LegacyPost, contested: bool) -> Option<Post> {
        let doc = &self.doc;
        let (id, obj) = (made.id.as_str(), &doc.import_obj(&made.obj).ok()?);
        let (mut kind, mut title, mut description, mut category) = (None, None, None, None);
        let (mut status, mut created_at, mut updated_at) = (PostStatus::Open, 0, 0);
        let (mut tags, mut urgency, mut expires_at) = (Vec::new(), Urgency::Normal, None);
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
                                .take(10)
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
                ("description", ValueRef::Object(ObjType::Text)) => {
                    description = doc.text(item.id()).ok()
                }
                _ => {}
            }
        }
        // What the signature covers or names is what the making change wrote: an author and
        // signature put there later (to take the post over with one's own valid legacy
        // signature) or a kind or time altered (to make it fail) change nothing.
        let bound = |name: &str| made.fields.get(name);
        kind = match bound("kind") {
            Some(Field::Text(k)) => PostKind::parse(k),
            _ => kind,
        };
        if let Some(Field::Int(t)) = bound("created_at") {
            created_at = *t;
        }
        let (author, sig) = match (contested, bound("author"), bound("sig")) {
            (false, Some(Field::Text(a)), Some(Field::Text(s))) => {
                (Some(a.clone()), Some(s.clone()))
            }
            _ => (None, None),
        };
        let bounded = |t: String, max: usize| t.chars().take(max).collect::<String>();
        Some(Post {
            author,
            signature: sig,
            id: id.to_owned(),
            kind: kind?,
            title: bounded(title?, MAX_TITLE),
            description: bounded(description.unwrap_or_default(), MAX_DESCRIPTION),
            category: bounded(category.unwrap_or_default(), MAX_CATEGORY),
            status,
            created_at,
            updated_at,
            tags,
            urgency,
            expires_at,
            legacy: true,
            signed_text: false,
            seq: 0,
        })
    }

    /// Checks tags, urgency and expiry without writing anything.
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

    /// Sets a post's tags, urgency and expiry (its author only; a new signed version).
    pub fn set_post_details(
        &mut self,
        me: &Identity,
        id: &str,
        details: PostDetails,
        now_ms: i64,
    ) -> Result<(), DomainError> {
        let edit = PostEdit {
            details: Some(details),
            ..PostEdit::default()
        };
        self.edit_post(me, id, edit, now_ms)
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
    /// A post is one signed entry (`post:<id>`, at an id naming its author) and the later
    /// versions its author signed (`postver:`); its status comes from its author's signed
    /// `poststatus:` entries. Nothing anyone else writes changes what a post says or where it
    /// stands: rival entries at its key, deletes and overwrites are ignored (and listed as
    /// tampering), versions and statuses by others are not its author's. Signatures of the
    /// posts themselves are checked for the posts shown ([`RoomDoc::post_signer`]).
    ///
    /// Posts from builds before signed posts (the `posts` map, [`Post::legacy`]) are read as
    /// they were: only their kind and creation time are signed, so until their author edits
    /// them (which signs all of it) their text is not vouched for, and the board says so.
    /// Whether `author` left or was removed, and `raw` is not in the past of that.
    fn wrote_after_departing(&self, author: &str, raw: &Raw) -> bool {
        let g = self.governance();
        g.until
            .get(author)
            .is_some_and(|until| !self.index.precedes_anchor(raw.anchor(), *until))
    }

    pub fn posts(&self) -> Vec<Post> {
        let evidence = self.status_evidence();
        let versions = self.post_versions();
        let mut out: Vec<Post> = Vec::new();
        let mut signed: std::collections::HashSet<&str> = Default::default();
        for (id, raw) in self.entries("post:") {
            if crate::crypto::id_author(id).is_none() {
                continue;
            }
            // A member who left or was removed posts nothing after (or without knowing of) it:
            // the board shows posts by anyone with the link, but not by someone gone.
            if raw
                .author()
                .is_some_and(|author| self.wrote_after_departing(author, raw))
            {
                continue;
            }
            if let Some(entry) = raw.parsed(PostEntry::read) {
                signed.insert(id);
                out.push(signed_post(id, raw, entry));
            }
        }
        out.extend(
            self.read_legacy_posts()
                .into_iter()
                .filter(|post| !signed.contains(post.id.as_str())),
        );
        for post in &mut out {
            self.settle_content(post, &versions);
            self.settle_status(post, &evidence);
        }
        out.sort_by(|a, b| {
            b.created_at
                .cmp(&a.created_at)
                .then_with(|| a.id.cmp(&b.id))
        });
        out
    }
}

/// A signed post as first written (before later versions and statuses are applied).
fn signed_post(id: &str, raw: &Raw, entry: &PostEntry) -> Post {
    let c = &entry.content;
    Post {
        id: id.to_owned(),
        kind: entry.kind,
        title: c.title.clone(),
        description: c.description.clone(),
        category: c.category.clone(),
        status: PostStatus::Open,
        created_at: entry.created_at,
        updated_at: entry.created_at,
        tags: c.tags.clone(),
        urgency: c.urgency,
        expires_at: c.expires_at,
        author: raw.author().map(str::to_owned),
        signature: None,
        legacy: false,
        signed_text: true,
        seq: 0,
    }
}

#[cfg(test)]
mod tests {
    use super::super::signed::{put_signed, text};
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

    fn retitle(title: &str) -> PostEdit {
        PostEdit {
            title: Some(title.into()),
            ..PostEdit::default()
        }
    }

    /// A post as builds of schema 2 wrote it: a map in `posts`, signed over its kind, id and
    /// creation time (`signer` None: written before signatures).
    fn legacy_post(room: &mut RoomDoc, signer: Option<&Identity>, title: &str, at: i64) -> String {
        let id = crate::crypto::random_id();
        let posts = room.posts_obj().unwrap();
        let doc = &mut room.doc;
        let obj = doc.put_object(&posts, id.as_str(), ObjType::Map).unwrap();
        doc.put(&obj, "kind", "offer").unwrap();
        doc.put(&obj, "title", title).unwrap();
        let text = doc.put_object(&obj, "description", ObjType::Text).unwrap();
        doc.splice_text(&text, 0, 0, "old words").unwrap();
        doc.put(&obj, "category", "Tools").unwrap();
        doc.put(&obj, "status", "open").unwrap();
        doc.put(&obj, "created_at", ScalarValue::Timestamp(at))
            .unwrap();
        if let Some(me) = signer {
            let canonical = LegacyPostFields {
                kind: "offer".into(),
                created_at: at,
            }
            .canonical("room-1", &id);
            doc.put(&obj, "author", me.public()).unwrap();
            doc.put(&obj, "sig", me.sign(canonical.bytes())).unwrap();
        }
        room.commit();
        id
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
        assert!(list.iter().all(|p| p.signed_text && !p.legacy));
        assert_eq!(room.post_count(), 2);

        room.edit_post(
            &me(),
            &a,
            PostEdit {
                title: Some("Long ladder".into()),
                description: Some("A sturdy ladder, 4 m".into()),
                ..PostEdit::default()
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
            (p.category.as_str(), p.updated_at, p.created_at, p.seq),
            ("Tools", 30, 10, 1)
        );
        assert_eq!(room.posts()[1], p);
    }

    #[test]
    fn posts_carry_their_signer_and_forgeries_show_unverified() {
        let mut room = RoomDoc::create("room-1", "Tools", 0).unwrap();
        let ana = me();
        let id = room.add_post(&ana, offer("Ladder"), 10).unwrap();
        assert_eq!(crate::crypto::id_author(&id), Some(&ana.public()[..12]));
        let signer = |room: &RoomDoc, id: &str| room.post_signer(&room.post(id).unwrap());
        assert_eq!(signer(&room, &id), Some(ana.public()));
        room.edit_post(&ana, &id, retitle("Long ladder"), 11)
            .unwrap();
        assert_eq!(room.post_edits(&id), vec![(ana.public(), 11)]);
        assert_eq!(signer(&room, &id), Some(ana.public()));
        // A post signed for another room does not verify here.
        let entry = PostEntry {
            kind: PostKind::Offer,
            content: Content::checked("Drill", "", "Tools", &PostDetails::default()).unwrap(),
            created_at: 12,
        };
        let other = crate::crypto::entry_id(&ana.public());
        let canonical = entry.fields().canonical("room-2", &other);
        put_signed(&mut room.doc, &format!("post:{other}"), &ana, canonical).unwrap();
        room.commit();
        assert_eq!(signer(&room, &other), None);
        // So does one written at an id that names someone else: it is not shown at all.
        let bo = crate::crypto::Identity::generate();
        let stolen = crate::crypto::entry_id(&bo.public());
        let canonical = entry.fields().canonical("room-1", &stolen);
        put_signed(&mut room.doc, &format!("post:{stolen}"), &ana, canonical).unwrap();
        room.commit();
        assert!(room.post(&stolen).is_none());
    }

    #[test]
    fn rival_entries_at_a_post_s_id_change_nothing_however_early_they_claim_to_be() {
        let mut room = RoomDoc::create("room-1", "Street", 1).unwrap();
        let (ana, bo) = (me(), crate::crypto::Identity::generate());
        let start = room.doc_mut().get_heads();
        let id = room.add_post(&ana, offer("Ladder"), 10).unwrap();
        let before = room.posts();
        // Bo learns the id, then writes rivals from the room as it was before the post: his
        // own signed post, and one claiming Ana's key with a signature that does not hold.
        let mut fork = room.doc_mut().fork_at(&start).unwrap();
        let entry = PostEntry {
            kind: PostKind::Need,
            content: Content::checked("Mine", "", "Tools", &PostDetails::default()).unwrap(),
            created_at: 5,
        };
        let canonical = entry.fields().canonical("room-1", &id);
        put_signed(&mut fork, &format!("post:{id}"), &bo, canonical).unwrap();
        fork.commit();
        room.doc_mut().merge(&mut fork).unwrap();
        room.commit();
        assert_eq!(room.posts(), before);
        let mut fork = room.doc_mut().fork_at(&start).unwrap();
        let obj = fork
            .put_object(automerge::ROOT, format!("post:{id}"), ObjType::Map)
            .unwrap();
        for (k, v) in [("kind", "need"), ("title", "Forged"), ("description", "")] {
            fork.put(&obj, k, v).unwrap();
        }
        for (k, v) in [("category", "Tools"), ("tags", ""), ("urgency", "normal")] {
            fork.put(&obj, k, v).unwrap();
        }
        fork.put(&obj, "expires_at", 0).unwrap();
        fork.put(&obj, "created_at", 4).unwrap();
        fork.put(&obj, "author", ana.public()).unwrap();
        fork.put(&obj, "sig", "bad").unwrap();
        fork.commit();
        room.doc_mut().merge(&mut fork).unwrap();
        room.commit();
        let after = room.posts();
        assert_eq!(after, before);
        assert_eq!(room.post_signer(&after[0]), Some(ana.public()));
        assert!(room
            .tampering()
            .iter()
            .any(|t| t.key == format!("post:{id}")));
        // Nor does deleting the post or writing over its fields.
        room.doc_mut()
            .delete(automerge::ROOT, format!("post:{id}"))
            .unwrap();
        room.commit();
        assert_eq!(room.posts(), before);
    }

    #[test]
    fn the_latest_version_by_the_author_counts_and_nobody_else_s() {
        let mut room = RoomDoc::create("room-1", "Street", 1).unwrap();
        let (ana, bo) = (me(), crate::crypto::Identity::generate());
        let id = room.add_post(&ana, offer("Ladder"), 10).unwrap();
        room.edit_post(&ana, &id, retitle("Long ladder"), 20)
            .unwrap();
        room.edit_post(&ana, &id, retitle("Longest ladder"), 15)
            .unwrap();
        // Her own sequence orders her versions, whatever her clock said.
        assert_eq!(room.post(&id).unwrap().title, "Longest ladder");
        // A version Bo signs is not hers, whatever sequence number it claims.
        let version = PostVersion {
            post: id.clone(),
            seq: 99,
            content: Content::checked("Free", "", "Tools", &PostDetails::default()).unwrap(),
            at: 30,
        };
        let vid = crate::crypto::entry_id(&bo.public());
        let canonical = version.fields().canonical("room-1", &vid);
        put_signed(&mut room.doc, &format!("postver:{vid}"), &bo, canonical).unwrap();
        room.commit();
        assert_eq!(room.post(&id).unwrap().title, "Longest ladder");
        // Putting back one of her older versions (a rollback) changes nothing either.
        let old: Vec<(String, String)> = room
            .entries("postver:")
            .filter(|(_, f)| text(f, "title") == Some("Long ladder"))
            .map(|(k, f)| (k.to_owned(), text(f, "sig").unwrap().to_owned()))
            .collect();
        assert_eq!(old.len(), 1);
        let (key, _) = &old[0];
        let key = format!("postver:{key}");
        let mut copy = room.doc.fork();
        crate::domain::testing::put_copy(&mut copy, &key, room.entry(&key).unwrap());
        room.doc.merge(&mut copy).unwrap();
        room.commit();
        assert_eq!(room.post(&id).unwrap().title, "Longest ladder");
        assert_eq!(
            room.post_edits(&id),
            vec![(ana.public(), 20), (ana.public(), 15)]
        );
    }

    #[test]
    fn oversized_or_malformed_versions_count_for_nothing() {
        let mut room = RoomDoc::create("room-1", "Street", 1).unwrap();
        let ana = me();
        let id = room.add_post(&ana, offer("Ladder"), 10).unwrap();
        let huge = Content {
            title: "x".repeat(MAX_TITLE + 1),
            description: String::new(),
            category: "Tools".into(),
            tags: Vec::new(),
            urgency: Urgency::Normal,
            expires_at: None,
        };
        let version = PostVersion {
            post: id.clone(),
            seq: 1,
            content: huge,
            at: 11,
        };
        let vid = crate::crypto::entry_id(&ana.public());
        let canonical = version.fields().canonical("room-1", &vid);
        put_signed(&mut room.doc, &format!("postver:{vid}"), &ana, canonical).unwrap();
        room.commit();
        assert_eq!(room.post(&id).unwrap().title, "Ladder");
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
        assert!(not_author(room.edit_post(
            &bo,
            &id,
            retitle("Mine now"),
            11
        )));
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
        // A signed status entry by Bo is his, not the author's: ignored.
        room.put_status(&bo, &id, PostStatus::Withdrawn, 12)
            .unwrap();
        room.commit();
        assert_eq!(status(&room), PostStatus::Open);
        room.set_post_status(&ana, &id, PostStatus::Matched, 13)
            .unwrap();
        assert_eq!(status(&room), PostStatus::Matched);
        room.set_post_status(&ana, &id, PostStatus::Fulfilled, 14)
            .unwrap();
        assert_eq!(status(&room), PostStatus::Fulfilled);
        // A final status stays final, whatever is signed after it.
        room.put_status(&ana, &id, PostStatus::Open, 15).unwrap();
        room.commit();
        assert_eq!(status(&room), PostStatus::Fulfilled);
        assert_eq!(room.posts()[0].status, PostStatus::Fulfilled);
    }

    #[test]
    fn legacy_posts_stay_readable_and_their_author_s_edit_signs_them() {
        let mut room = RoomDoc::create("room-1", "Street", 1).unwrap();
        let (ana, bo) = (me(), crate::crypto::Identity::generate());
        let id = legacy_post(&mut room, Some(&ana), "Ladder", 10);
        let p = room.post(&id).unwrap();
        assert!(p.legacy && !p.signed_text);
        assert_eq!(
            (p.title.as_str(), p.description.as_str()),
            ("Ladder", "old words")
        );
        assert_eq!(room.post_signer(&p), Some(ana.public()));
        // Bo's modified client writes "withdrawn" into the map, with an edit mark of his own:
        // not the author's status.
        let obj = room.legacy_obj(&id).unwrap();
        room.doc.put(&obj, "status", "withdrawn").unwrap();
        room.commit();
        room.put_mark(&bo, "postedit", &id, 11).unwrap();
        assert_eq!(room.post(&id).unwrap().status, PostStatus::Open);
        // An earlier build of Ana's wrote her status into the map, with her edit mark.
        room.put_mark(&ana, "postedit", &id, 12).unwrap();
        assert_eq!(room.post(&id).unwrap().status, PostStatus::Withdrawn);
        room.doc.put(&obj, "status", "matched").unwrap();
        room.commit();
        assert!(!room.post(&id).unwrap().status.is_final());
        // Her edit with this build signs the whole post and pins its status.
        room.edit_post(&ana, &id, retitle("Long ladder"), 13)
            .unwrap();
        let p = room.post(&id).unwrap();
        assert!(p.legacy && p.signed_text);
        assert_eq!(
            (p.title.as_str(), p.description.as_str(), p.status),
            ("Long ladder", "old words", PostStatus::Matched)
        );
        room.doc.put(&obj, "status", "open").unwrap();
        room.doc.put(&obj, "title", "Rewritten").unwrap();
        room.commit();
        let p = room.post(&id).unwrap();
        assert_eq!(
            (p.title.as_str(), p.status),
            ("Long ladder", PostStatus::Matched)
        );
        // Bo cannot edit it, and his versions are not Ana's.
        assert!(room.edit_post(&bo, &id, retitle("Mine"), 14).is_err());
        // Nor can he take it over by writing his own key and a valid legacy signature into
        // it, even as the actor that made it (actor ids prove nothing): the author and
        // signature are those the post's making change wrote. Nor by putting his own post
        // over it, nor make it vanish by deleting it.
        let canonical = LegacyPostFields {
            kind: "offer".into(),
            created_at: 10,
        }
        .canonical("room-1", &id);
        let mut his = room.doc.fork();
        his.set_actor(room.doc.get_actor().clone());
        his.put(&obj, "author", bo.public()).unwrap();
        his.put(&obj, "sig", bo.sign(canonical.bytes())).unwrap();
        his.put(&obj, "created_at", 11).unwrap();
        his.commit();
        room.doc.merge(&mut his).unwrap();
        room.commit();
        assert!(room.edit_post(&bo, &id, retitle("Mine"), 15).is_err());
        let p = room.post(&id).unwrap();
        assert_eq!(p.author, Some(ana.public()));
        assert_eq!(room.post_signer(&p), Some(ana.public()));
        let posts = room.posts_obj().unwrap();
        let over = room
            .doc
            .put_object(&posts, id.as_str(), ObjType::Map)
            .unwrap();
        room.doc.put(&over, "kind", "offer").unwrap();
        room.doc.put(&over, "title", "Mine").unwrap();
        room.doc.put(&over, "created_at", 10).unwrap();
        room.doc.put(&over, "author", bo.public()).unwrap();
        room.doc
            .put(&over, "sig", bo.sign(canonical.bytes()))
            .unwrap();
        room.commit();
        let p = room.post(&id).unwrap();
        assert_eq!(
            (p.title.as_str(), p.author.clone()),
            ("Long ladder", Some(ana.public()))
        );
        assert!(room
            .tampering()
            .iter()
            .any(|t| t.key == format!("posts/{id}")));
        room.doc.delete(&posts, id.as_str()).unwrap();
        room.commit();
        assert_eq!(room.post(&id).unwrap().author, Some(ana.public()));
        // Put on the room as it was before the post (where its id could only be known from
        // the real one), his post is not the author's, and neither is bound: none has one.
        let first = room.doc.get_changes(&[])[0].hash();
        let mut apart = room.doc.fork_at(&[first]).unwrap();
        let over = apart.put_object(&posts, id.as_str(), ObjType::Map).unwrap();
        apart.put(&over, "kind", "offer").unwrap();
        apart.put(&over, "created_at", 10).unwrap();
        apart.put(&over, "author", bo.public()).unwrap();
        apart.put(&over, "sig", bo.sign(canonical.bytes())).unwrap();
        apart.commit();
        room.doc.merge(&mut apart).unwrap();
        room.commit();
        assert_eq!(room.post(&id).unwrap().author, None);
        assert_eq!(room.posts().len(), 1);
        // A post from before signatures shows unverified, as it was.
        let old = legacy_post(&mut room, None, "Old", 15);
        let p = room.post(&old).unwrap();
        assert_eq!((p.title.as_str(), room.post_signer(&p)), ("Old", None));
        assert_eq!(room.posts().len(), 2);
        assert_eq!(room.post_count(), 2);
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
        let junk = format!("post:{}", crate::crypto::entry_id(&me().public()));
        room.doc_mut()
            .put(automerge::ROOT, junk.as_str(), "x")
            .unwrap();
        let odd = room
            .doc_mut()
            .put_object(automerge::ROOT, "post:unbound", ObjType::Map)
            .unwrap();
        room.doc_mut().put(&odd, "kind", "offer").unwrap();
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

impl RoomDoc {
    /// Replies to a post ("I can lend mine", "still needed?").
    pub fn respond(
        &mut self,
        me: &crate::crypto::Identity,
        post: &str,
        text: &str,
        now_ms: i64,
    ) -> Result<String, DomainError> {
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
        let entry = ResponseFields {
            post: post.to_owned(),
            text: text.to_owned(),
            at: now_ms,
        };
        self.add_entry(me, "response:", &entry)
    }

    /// Verified responses by members admitted when they wrote them, oldest first; all posts'
    /// when `post` is None.
    pub fn responses(&self, post: Option<&str>) -> Vec<Response> {
        let mut out: Vec<Response> = self
            .entries_of::<ResponseFields>("response:")
            .filter(|r| {
                post.is_none_or(|want| want == r.entry.post)
                    && r.entry.text.chars().count() <= 1000
                    && self.admitted_when(r.author, r.raw)
            })
            .map(|r| Response {
                id: r.id.to_owned(),
                author: r.author.to_owned(),
                post: r.entry.post,
                text: r.entry.text,
                at: r.entry.at,
            })
            .collect();
        out.sort_by(|a, b| (a.at, &a.id).cmp(&(b.at, &b.id)));
        out
    }
}

#[cfg(test)]
mod departure_tests {
    use super::*;
    use crate::domain::testing::community;

    fn offer(title: &str) -> NewPost {
        NewPost {
            kind: PostKind::Offer,
            title: title.into(),
            description: String::new(),
            category: "Goods".into(),
        }
    }

    /// A member who left keeps what they posted while in the room; what their device (or a
    /// modified one) posts after shows nowhere.
    #[test]
    fn a_departed_member_s_later_posts_do_not_show() {
        let (mut room, m) = community(3);
        room.add_post(&m[2], offer("before leaving"), 10).unwrap();
        room.leave(&m[2], 20).unwrap();
        let _ = room.add_post(&m[2], offer("after leaving"), 30);
        room.add_post(&m[0], offer("by a member"), 40).unwrap();
        let titles: Vec<String> = room.posts().into_iter().map(|p| p.title).collect();
        assert_eq!(titles, ["by a member", "before leaving"]);
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
