//! One search over the whole room: posts, things, pages, decisions, members and tasks, on the
//! device. An index is built once per room version from the room's derived views (so it holds
//! only what the room counts: signed entries as their authors signed them, no tampered text,
//! no post by someone gone written after they left, no departed member) and queried per
//! keystroke without deriving anything again.
//!
//! Matching folds case and accents ("mañana" finds "manana" and the reverse, "cafe" finds
//! "café"); every word of the query must be found (in the title or the text); results whose
//! title holds every word come first, then those whose title holds some, then the rest.

use super::{Post, RoomDoc, Standing};

/// Results a query returns at most.
pub const MAX_RESULTS: usize = 50;
/// Characters of text shown around a match.
const SNIPPET_CHARS: usize = 120;
/// Characters of context before a match.
const BEFORE_MATCH: usize = 40;
/// Words of a query looked for at most (the rest are ignored).
const MAX_WORDS: usize = 8;

/// What a result is: also the order kinds are listed in within a rank.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SearchKind {
    Page,
    Post,
    Thing,
    Task,
    Decision,
    Member,
}

impl SearchKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SearchKind::Page => "page",
            SearchKind::Post => "post",
            SearchKind::Thing => "thing",
            SearchKind::Task => "task",
            SearchKind::Decision => "decision",
            SearchKind::Member => "member",
        }
    }

    /// The room section that shows this kind (its route slug).
    pub fn section(self) -> &'static str {
        match self {
            SearchKind::Page => "pages",
            SearchKind::Post => "board",
            SearchKind::Thing => "things",
            SearchKind::Task => "tasks",
            SearchKind::Decision => "decisions",
            SearchKind::Member => "members",
        }
    }
}

/// One result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchHit {
    pub kind: SearchKind,
    pub id: String,
    pub title: String,
    /// Some of the text around the first word found there ("…" where it was cut); empty when
    /// every word is in the title and the text has nothing to add.
    pub snippet: String,
    /// Where to go, inside the room: `<section>/<id>` (e.g. `pages/<id>`).
    pub route: String,
    /// Whether the title holds every word of the query.
    pub in_title: bool,
}

/// What a query found: the best [`MAX_RESULTS`], and whether more matched.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SearchResults {
    pub hits: Vec<SearchHit>,
    /// More items match than are shown (their posts' signatures not yet checked: a query
    /// matching 5,000 posts checks only those it shows).
    pub more: bool,
}

/// One searchable item: its text as shown and folded.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Item {
    kind: SearchKind,
    id: String,
    title: String,
    body: String,
    title_folded: String,
    body_folded: String,
    /// For a post: the post, whose signature is checked only if it matches.
    post: Option<Post>,
}

/// The room's searchable text, folded once: build it when the room changes, query it as often
/// as needed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SearchIndex {
    items: Vec<Item>,
}

impl SearchIndex {
    /// Builds the index from `room` (deriving its posts).
    pub fn build(room: &RoomDoc, now_ms: i64) -> Self {
        Self::build_with_posts(room, &room.posts(), now_ms)
    }

    /// Builds the index from `room` with its posts already derived (`room.posts()`), as the
    /// app keeps them.
    pub fn build_with_posts(room: &RoomDoc, posts: &[Post], now_ms: i64) -> Self {
        let mut index = SearchIndex::default();
        for page in room.pages() {
            index.push(
                SearchKind::Page,
                page.id,
                page.title,
                (page.body, String::new()),
                None,
            );
        }
        for post in posts {
            // The category and tags are found, but not shown in the snippet.
            let also = std::iter::once(&post.category)
                .chain(&post.tags)
                .map(String::as_str)
                .collect::<Vec<_>>()
                .join("\n");
            index.push(
                SearchKind::Post,
                post.id.clone(),
                post.title.clone(),
                (post.description.clone(), also),
                Some(post.clone()),
            );
        }
        for thing in room.resources() {
            let r = thing.resource;
            let body = [r.rules, r.condition, r.location]
                .into_iter()
                .filter(|s| !s.is_empty())
                .collect::<Vec<_>>()
                .join("\n");
            index.push(
                SearchKind::Thing,
                thing.id,
                r.name,
                (body, String::new()),
                None,
            );
        }
        for task in room.tasks() {
            index.push(
                SearchKind::Task,
                task.id,
                task.title,
                Default::default(),
                None,
            );
        }
        for party in room.work_parties() {
            index.push(
                SearchKind::Task,
                party.id,
                party.title,
                (party.place, String::new()),
                None,
            );
        }
        for d in room.decisions(now_ms) {
            let mut body = d.options.join("\n");
            if let Some(s) = d.statement {
                body.push('\n');
                body.push_str(&s.text);
            }
            index.push(
                SearchKind::Decision,
                d.id,
                d.title,
                (body, String::new()),
                None,
            );
        }
        for m in room.members() {
            if matches!(m.standing, Standing::Left | Standing::Removed) {
                continue;
            }
            let p = m.profile;
            let body = [p.skills, p.bio]
                .into_iter()
                .filter(|s| !s.is_empty())
                .collect::<Vec<_>>()
                .join("\n");
            index.push(
                SearchKind::Member,
                m.key,
                p.name,
                (body, String::new()),
                None,
            );
        }
        index
    }

    fn push(
        &mut self,
        kind: SearchKind,
        id: String,
        title: String,
        // The text shown in snippets, and more text found but not shown.
        (body, also): (String, String),
        post: Option<Post>,
    ) {
        let mut body_folded = fold(&body);
        if !also.is_empty() {
            body_folded.push('\n');
            body_folded.push_str(&fold(&also));
        }
        self.items.push(Item {
            kind,
            title_folded: fold(&title),
            body_folded,
            id,
            title,
            body,
            post,
        });
    }

    /// How many items the index holds.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The items holding every word of `query`, best first, at most [`MAX_RESULTS`]. A post
    /// is found only if its signature holds (checked for the posts shown only, and remembered
    /// by `room`); an empty query finds nothing.
    pub fn search(&self, room: &RoomDoc, query: &str) -> SearchResults {
        let words: Vec<String> = fold(query)
            .split_whitespace()
            .take(MAX_WORDS)
            .map(str::to_owned)
            .collect();
        if words.is_empty() {
            return SearchResults::default();
        }
        // (rank, position in the index): 0 every word in the title, 1 some, 2 none.
        let mut found: Vec<(u8, usize)> = Vec::new();
        for (at, item) in self.items.iter().enumerate() {
            let mut in_title = 0;
            let all = words.iter().all(|w| {
                if item.title_folded.contains(w.as_str()) {
                    in_title += 1;
                    true
                } else {
                    item.body_folded.contains(w.as_str())
                }
            });
            if all {
                let rank = match in_title {
                    n if n == words.len() => 0,
                    0 => 2,
                    _ => 1,
                };
                found.push((rank, at));
            }
        }
        found.sort_by_key(|&(rank, at)| (rank, self.items[at].kind, at));
        let mut results = SearchResults::default();
        for (rank, at) in found {
            if results.hits.len() == MAX_RESULTS {
                results.more = true;
                break;
            }
            let item = &self.items[at];
            if let Some(post) = &item.post {
                if room.post_signer(post).is_none() {
                    continue;
                }
            }
            results.hits.push(SearchHit {
                kind: item.kind,
                id: item.id.clone(),
                title: item.title.clone(),
                snippet: snippet(&item.body, &words, rank == 0),
                route: format!("{}/{}", item.kind.section(), item.id),
                in_title: rank == 0,
            });
        }
        results
    }
}

/// A character as search compares it: lowercase, without its accent; `None` for a combining
/// accent written on its own (as in a decomposed "é").
fn fold_char(c: char) -> Option<char> {
    if ('\u{300}'..='\u{36f}').contains(&c) {
        return None;
    }
    let c = c.to_lowercase().next().unwrap_or(c);
    Some(match c {
        'à'..='å' | 'ā' | 'ă' | 'ą' => 'a',
        'ç' | 'ć' | 'ĉ' | 'ċ' | 'č' => 'c',
        'ď' | 'đ' => 'd',
        'è'..='ë' | 'ē' | 'ĕ' | 'ė' | 'ę' | 'ě' => 'e',
        'ĝ' | 'ğ' | 'ġ' | 'ģ' => 'g',
        'ĥ' | 'ħ' => 'h',
        'ì'..='ï' | 'ĩ' | 'ī' | 'ĭ' | 'į' | 'ı' => 'i',
        'ĵ' => 'j',
        'ķ' => 'k',
        'ĺ' | 'ļ' | 'ľ' | 'ŀ' | 'ł' => 'l',
        'ñ' | 'ń' | 'ņ' | 'ň' => 'n',
        'ò'..='ö' | 'ø' | 'ō' | 'ŏ' | 'ő' => 'o',
        'ŕ' | 'ŗ' | 'ř' => 'r',
        'ś' | 'ŝ' | 'ş' | 'š' => 's',
        'ţ' | 'ť' | 'ŧ' => 't',
        'ù'..='ü' | 'ũ' | 'ū' | 'ŭ' | 'ů' | 'ű' | 'ų' => 'u',
        'ŵ' => 'w',
        'ý' | 'ÿ' | 'ŷ' => 'y',
        'ź' | 'ż' | 'ž' => 'z',
        other => other,
    })
}

/// `text` as search compares it (see [`fold_char`]).
pub fn fold(text: &str) -> String {
    text.chars().filter_map(fold_char).collect()
}

/// Up to [`SNIPPET_CHARS`] of `body` around the first word of `words` found there, on one
/// line; the start of the body when every word was in the title (or none is in the body).
fn snippet(body: &str, words: &[String], all_in_title: bool) -> String {
    // Each folded character with the byte where its character starts in `body`.
    let folded: Vec<(char, usize)> = body
        .char_indices()
        .filter_map(|(at, c)| fold_char(c).map(|f| (f, at)))
        .collect();
    let found = if all_in_title {
        None
    } else {
        words
            .iter()
            .filter_map(|w| {
                let w: Vec<char> = w.chars().collect();
                folded
                    .windows(w.len())
                    .position(|win| win.iter().map(|(c, _)| *c).eq(w.iter().copied()))
            })
            .min()
    };
    let chars: Vec<char> = body.chars().collect();
    let mut start_char = 0;
    if let Some(at) = found.map(|i| body[..folded[i].1].chars().count()) {
        // Some context before the match, from the start of a word.
        start_char = at.saturating_sub(BEFORE_MATCH);
        while start_char > 0 && start_char < at && !chars[start_char - 1].is_whitespace() {
            start_char += 1;
        }
    }
    let mut out = String::new();
    if start_char > 0 {
        out.push('…');
    }
    let mut taken = 0;
    let mut space = false;
    let mut chars = chars.into_iter().skip(start_char);
    for c in chars.by_ref() {
        if c.is_whitespace() {
            space = !out.is_empty() && !out.ends_with('…');
            continue;
        }
        if space {
            out.push(' ');
            taken += 1;
            space = false;
        }
        out.push(c);
        taken += 1;
        if taken >= SNIPPET_CHARS {
            break;
        }
    }
    if chars.any(|c| !c.is_whitespace()) {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::signed::{put_signed, Canonical};
    use crate::domain::testing::community;
    use crate::domain::{NewPost, NewResource, PostKind, Profile};

    fn need(title: &str, description: &str) -> NewPost {
        NewPost {
            kind: PostKind::Need,
            title: title.into(),
            description: description.into(),
            category: "Goods".into(),
        }
    }

    fn find(room: &RoomDoc, query: &str) -> Vec<(SearchKind, String)> {
        SearchIndex::build(room, 1_000)
            .search(room, query)
            .hits
            .into_iter()
            .map(|h| (h.kind, h.id))
            .collect()
    }

    #[test]
    fn folding_drops_case_and_accents() {
        assert_eq!(fold("Mañana CAFÉ Ñandú"), "manana cafe nandu");
        // A decomposed "é" (e + combining acute) folds the same as the composed one.
        assert_eq!(fold("cafe\u{301}s"), "cafes");
        assert_eq!(fold("Ålesund Łódź"), "alesund lodz");
    }

    #[test]
    fn finds_a_page_and_a_post_with_where_to_go() {
        let (mut room, people) = community(2);
        let page = room
            .create_page(
                &people[0],
                "Lending rules",
                "Return every drill with its battery charged.",
                5,
            )
            .unwrap();
        let post = room
            .add_post(&people[1], need("Ladder", "For the gutter on Friday"), 6)
            .unwrap();
        let index = SearchIndex::build(&room, 10);
        let found = index.search(&room, "battery");
        assert_eq!((found.hits.len(), found.more), (1, false));
        let hit = &found.hits[0];
        assert_eq!(
            (hit.kind, hit.id.as_str(), hit.title.as_str()),
            (SearchKind::Page, page.as_str(), "Lending rules")
        );
        assert_eq!(hit.route, format!("pages/{page}"));
        assert!(hit.snippet.contains("battery charged"), "{}", hit.snippet);
        let found = index.search(&room, "GUTTER");
        assert_eq!(found.hits.len(), 1);
        assert_eq!(found.hits[0].kind, SearchKind::Post);
        assert_eq!(found.hits[0].route, format!("board/{post}"));
        // Nothing for a word that is nowhere, and nothing for an empty query.
        assert_eq!(index.search(&room, "bicycle"), SearchResults::default());
        assert_eq!(index.search(&room, "   "), SearchResults::default());
    }

    #[test]
    fn every_word_must_match_and_title_matches_come_first() {
        let (mut room, people) = community(1);
        let body = room
            .add_post(
                &people[0],
                need("Help moving", "Need a ladder and a van on Saturday"),
                5,
            )
            .unwrap();
        let title = room
            .add_post(&people[0], need("Ladder wanted", "Tall one"), 6)
            .unwrap();
        room.add_post(&people[0], need("Van", "Saturday only"), 7)
            .unwrap();
        assert_eq!(
            find(&room, "ladder"),
            vec![
                (SearchKind::Post, title.clone()),
                (SearchKind::Post, body.clone())
            ]
        );
        // Both words: only the post holding both.
        assert_eq!(
            find(&room, "ladder saturday"),
            vec![(SearchKind::Post, body)]
        );
    }

    #[test]
    fn accents_are_folded_both_ways() {
        let (mut room, people) = community(1);
        let page = room
            .create_page(
                &people[0],
                "Café del barrio",
                "Abrimos mañana a las ocho.",
                5,
            )
            .unwrap();
        let post = room
            .add_post(&people[0], need("Pan para manana", "Para el desayuno"), 6)
            .unwrap();
        assert_eq!(find(&room, "cafe"), vec![(SearchKind::Page, page.clone())]);
        assert_eq!(find(&room, "CAFÉ"), vec![(SearchKind::Page, page.clone())]);
        assert_eq!(
            find(&room, "mañana"),
            vec![
                (SearchKind::Post, post.clone()),
                (SearchKind::Page, page.clone())
            ]
        );
        assert_eq!(
            find(&room, "manana"),
            vec![(SearchKind::Post, post), (SearchKind::Page, page)]
        );
        // A post's category is found, but its snippet is its description.
        let hits = SearchIndex::build(&room, 10)
            .search(&room, "goods desayuno")
            .hits;
        assert_eq!(hits[0].snippet, "Para el desayuno");
        // The snippet shows the text as written.
        let index = SearchIndex::build(&room, 10);
        let hits = index.search(&room, "manana ocho").hits;
        assert!(hits[0].snippet.contains("mañana a las ocho"), "{:?}", hits);
    }

    #[test]
    fn finds_things_tasks_decisions_and_members() {
        let (mut room, people) = community(2);
        room.set_profile(
            &people[1],
            Profile {
                name: "Rosa".into(),
                skills: "carpentry, bicycles".into(),
                bio: String::new(),
            },
            20,
        )
        .unwrap();
        let thing = room
            .add_resource(
                &people[0],
                NewResource {
                    kind: "physical".into(),
                    name: "Circular saw".into(),
                    rules: "Wear goggles".into(),
                    condition: "good".into(),
                    location: "Shed".into(),
                    licence: "CC0".into(),
                },
                21,
            )
            .unwrap();
        let task = room
            .add_task(&people[0], "Oil the saw blades", 1, 22)
            .unwrap();
        let decision = room
            .propose(
                &people[0],
                crate::domain::NewProposal {
                    title: "Buy a second saw".into(),
                    method: crate::domain::Method::Consent,
                    options: vec![],
                    closes_at: 10_000_000,
                    quorum_percent: 0,
                    amendment: None,
                },
                23,
            )
            .unwrap();
        let kinds: Vec<SearchKind> = find(&room, "saw").into_iter().map(|h| h.0).collect();
        assert_eq!(
            kinds,
            vec![SearchKind::Thing, SearchKind::Task, SearchKind::Decision]
        );
        assert_eq!(find(&room, "goggles"), vec![(SearchKind::Thing, thing)]);
        assert_eq!(find(&room, "blades"), vec![(SearchKind::Task, task)]);
        assert_eq!(
            find(&room, "second"),
            vec![(SearchKind::Decision, decision)]
        );
        assert_eq!(
            find(&room, "bicycles"),
            vec![(SearchKind::Member, people[1].public())]
        );
    }

    #[test]
    fn results_are_capped_and_say_there_are_more() {
        let (mut room, people) = community(1);
        for i in 0..MAX_RESULTS + 5 {
            room.add_post(&people[0], need(&format!("Jar {i}"), "glass"), 5 + i as i64)
                .unwrap();
        }
        let found = SearchIndex::build(&room, 1_000).search(&room, "jar");
        assert_eq!(found.hits.len(), MAX_RESULTS);
        assert!(found.more);
        let found = SearchIndex::build(&room, 1_000).search(&room, "jar 54");
        assert_eq!((found.hits.len(), found.more), (1, false));
    }

    #[test]
    fn snippets_are_cut_around_the_match() {
        let long = format!("{} the word is here {}", "a ".repeat(100), "b ".repeat(100));
        let s = snippet(&long, &["word".into()], false);
        assert!(s.starts_with('…') && s.ends_with('…'), "{s}");
        assert!(s.contains("the word is here"));
        assert!(s.chars().count() <= SNIPPET_CHARS + 2);
        assert_eq!(snippet("Short\n\ntext", &["x".into()], false), "Short text");
        // The context starts at a word's start.
        let text = format!("{}unbroken words before the match", "x".repeat(30));
        assert_eq!(
            snippet(&text, &["match".into()], false),
            "…words before the match"
        );
    }

    #[test]
    fn text_put_over_a_post_by_someone_else_is_not_found() {
        use automerge::{transaction::Transactable, ObjType, ReadDoc, Value, ROOT};
        let (mut room, people) = community(2);
        let post = room
            .add_post(&people[0], need("Ladder", "For the gutter"), 5)
            .unwrap();
        // A modified client edits the post's title and description in place, unsigned.
        let key = format!("post:{post}");
        let obj = match room.doc.get(ROOT, key.as_str()).unwrap() {
            Some((Value::Object(ObjType::Map), obj)) => obj,
            _ => panic!("no post"),
        };
        for field in ["title", "description"] {
            room.doc.put(&obj, field, "Free bitcoin here").unwrap();
        }
        room.commit();
        assert!(!room.tampering().is_empty());
        assert!(find(&room, "bitcoin").is_empty());
        assert_eq!(find(&room, "gutter"), vec![(SearchKind::Post, post)]);
    }

    /// A post's fields as a modified client would sign them for `room`, at `id`.
    fn post_canonical(room: &str, id: &str, title: &str, at: i64) -> Canonical {
        Canonical::new(room, "post", id)
            .text("kind", "need")
            .text("title", title)
            .text("description", "")
            .text("category", "Goods")
            .text("tags", "")
            .text("urgency", "normal")
            .int("expires_at", 0)
            .int("created_at", at)
    }

    #[test]
    fn a_post_whose_signature_does_not_hold_is_not_found() {
        let (mut room, people) = community(1);
        // Signed for another room: the board shows it as unverified; search does not find it.
        let id = crate::crypto::entry_id(&people[0].public());
        let canonical = post_canonical("room-2", &id, "Forged ladder", 5);
        put_signed(&mut room.doc, &format!("post:{id}"), &people[0], canonical).unwrap();
        room.commit();
        assert!(room.posts().iter().any(|p| p.id == id));
        assert!(find(&room, "forged").is_empty());
        // The same post signed for this room is found.
        let id = crate::crypto::entry_id(&people[0].public());
        let canonical = post_canonical("room-1", &id, "Honest ladder", 6);
        put_signed(&mut room.doc, &format!("post:{id}"), &people[0], canonical).unwrap();
        room.commit();
        assert_eq!(find(&room, "ladder"), vec![(SearchKind::Post, id)]);
    }

    #[test]
    fn posts_and_profiles_of_members_gone_are_not_found() {
        let (mut room, people) = community(3);
        room.set_profile(
            &people[2],
            Profile {
                name: "Pedro".into(),
                skills: "welding".into(),
                bio: String::new(),
            },
            30,
        )
        .unwrap();
        let before = room
            .add_post(&people[2], need("Gloves", "Leather ones"), 31)
            .unwrap();
        assert_eq!(find(&room, "welding").len(), 1);
        room.leave(&people[2], 40).unwrap();
        // A modified client still signs posts after leaving: the board hides them, so does
        // search; the member is no longer found either.
        let late = crate::crypto::entry_id(&people[2].public());
        let canonical = post_canonical("room-1", &late, "Goggles", 41);
        put_signed(
            &mut room.doc,
            &format!("post:{late}"),
            &people[2],
            canonical,
        )
        .unwrap();
        room.commit();
        assert!(find(&room, "goggles").is_empty());
        assert!(find(&room, "welding").is_empty());
        // What was posted before leaving stays, as on the board.
        assert_eq!(find(&room, "gloves"), vec![(SearchKind::Post, before)]);
    }
}
