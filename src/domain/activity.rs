//! The activity feed (holoptism: everyone sees everything): a derived list of what happened in
//! the room, newest first, built only from entries that verified in their own module's view.

use super::room::RoomDoc;

/// One thing that happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActivityItem {
    pub at: i64,
    /// The member's key; `None` for entries that carry no author yet (board posts).
    pub author: Option<String>,
    pub what: String,
}

/// Kinds of marks and how the feed words them.
const MARKS: [(&str, &str); 8] = [
    ("approval", "approved an expense"),
    ("paid", "paid an expense"),
    ("validation", "validated a contribution"),
    ("countersign", "confirmed a contribution as its beneficiary"),
    ("claim", "claimed a task"),
    ("done", "finished a task"),
    ("signup", "signed up for a work party"),
    ("pageedit", "edited a page"),
];

impl RoomDoc {
    /// Everything that happened, newest first (ties: by text, so every device shows one order).
    pub fn activity(&self, now_ms: i64) -> Vec<ActivityItem> {
        let mut items: Vec<ActivityItem> = Vec::new();
        let mut push = |at: i64, author: Option<&str>, what: String| {
            items.push(ActivityItem {
                at,
                author: author.map(str::to_owned),
                what,
            });
        };
        for p in self.posts() {
            push(
                p.created_at,
                self.post_signer(&p).as_deref(),
                format!("posted a {}: {}", p.kind.as_str(), p.title),
            );
        }
        for r in self.responses(None) {
            push(r.at, Some(&r.author), "responded to a post".to_owned());
        }
        for m in self.members() {
            push(
                m.since,
                Some(&m.key),
                format!("introduced themselves as {}", m.profile.name),
            );
        }
        for pot in self.pots(now_ms) {
            for l in &pot.lines {
                let what = format!(
                    "recorded {:?} of {} {} in {}",
                    l.kind, l.amount, pot.unit, pot.name
                )
                .to_lowercase();
                push(l.at, Some(&l.author), what);
            }
        }
        for d in self.decisions(now_ms) {
            push(
                d.proposed_at,
                Some(&d.author),
                format!("proposed: {}", d.title),
            );
        }
        for d in self.decisions(now_ms) {
            if let Some(st) = &d.statement {
                let what = if d.enacted {
                    format!("recorded the outcome of {} (enacted)", d.title)
                } else {
                    format!("recorded the outcome of {}", d.title)
                };
                push(st.at, Some(&st.author), what);
            }
        }
        for c in self.circles() {
            push(
                c.opened_at,
                Some(&c.author),
                format!("started the lending circle {}", c.name),
            );
            for r in &c.rounds {
                for (payer, at) in r.paid.iter().zip(&r.paid_at) {
                    push(
                        *at,
                        Some(payer),
                        format!("paid into round {} of {}", r.index + 1, c.name),
                    );
                }
            }
        }
        for c in self.contributions(now_ms) {
            push(
                c.date,
                Some(&c.contributor),
                format!("contributed {} of {}", c.quantity, c.value_type),
            );
        }
        for r in self.resources() {
            for t in &r.transfers {
                let what = match t.kind.as_str() {
                    "handover" => format!("lent out {}", r.resource.name),
                    _ => format!("recorded the return of {}", r.resource.name),
                };
                push(t.at, Some(&t.by), what);
            }
        }
        for page in self.pages() {
            if let Some((author, at)) = page.history.first() {
                push(*at, Some(author), format!("wrote the page {}", page.title));
            }
        }
        for (kind, words) in MARKS {
            for m in self.marks(kind) {
                push(m.at, Some(&m.author), words.to_owned());
            }
        }
        items.sort_by(|a, b| {
            b.at.cmp(&a.at)
                .then_with(|| a.what.cmp(&b.what))
                .then_with(|| a.author.cmp(&b.author))
        });
        items
    }
}

#[cfg(test)]
mod tests {
    use crate::domain::testing::community;
    use crate::domain::{EntryKind, NewEntry, NewPost, PostKind};

    #[test]
    fn the_feed_shows_everything_newest_first() {
        let (mut room, m) = community(3);
        room.add_post(
            &m[0],
            NewPost {
                kind: PostKind::Need,
                title: "Ladder".into(),
                description: String::new(),
                category: "Goods".into(),
            },
            100,
        )
        .unwrap();
        let pot = room.open_pot(&m[0], "Pot", "EUR", 110).unwrap();
        room.record(&m[1], &pot, NewEntry::new(EntryKind::Inflow, 500, ""), 120)
            .unwrap();
        let page = room.create_page(&m[2], "Rules", "Be kind", 130).unwrap();
        let heads = room.heads();
        room.edit_page(&m[0], &page, &heads, "Be kind.", 140)
            .unwrap();
        let feed = room.activity(1_000);
        let top: Vec<&str> = feed.iter().take(4).map(|i| i.what.as_str()).collect();
        assert_eq!(
            top,
            [
                "edited a page",
                "wrote the page Rules",
                "recorded inflow of 500 eur in pot",
                "posted a need: Ladder"
            ]
        );
        assert_eq!(feed[0].author, Some(m[0].public()));
        assert!(feed.windows(2).all(|w| w[0].at >= w[1].at));
        assert_eq!(
            feed.iter()
                .filter(|i| i.what.starts_with("introduced"))
                .count(),
            3
        );
    }
}
