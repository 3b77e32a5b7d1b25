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

/// Something waiting for this member, and the section where it is done.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Need {
    pub text: String,
    pub section: &'static str,
}

impl RoomDoc {
    /// What waits for the member `me` at `now_ms`: their own admission, newcomers to vouch
    /// for, open decisions they have not answered, others' expenses to approve, contributions
    /// to validate or confirm, and things they hold past their due date.
    pub fn needs_me(&self, me: &str, now_ms: i64) -> Vec<Need> {
        let mut needs = Vec::new();
        let mut need = |n: usize, one: &str, many: String, section: &'static str| {
            if n > 0 {
                let text = if n == 1 { one.to_owned() } else { many };
                needs.push(Need { text, section });
            }
        };
        let members = self.members();
        match members.iter().find(|m| m.key == me).map(|m| &m.standing) {
            None => need(
                1,
                "Introduce yourself so the members can vouch for you",
                String::new(),
                "members",
            ),
            Some(super::Standing::Pending { vouches, needed }) => need(
                1,
                &format!("You are waiting for vouches ({vouches} of {needed})"),
                String::new(),
                "members",
            ),
            _ => {}
        }
        if !self.admitted().contains(me) {
            return needs;
        }
        let pending = members
            .iter()
            .filter(|m| matches!(m.standing, super::Standing::Pending { .. }))
            .count();
        need(
            pending,
            "A newcomer is waiting for vouches",
            format!("{pending} newcomers are waiting for vouches"),
            "members",
        );
        let unanswered = self
            .decisions(now_ms)
            .into_iter()
            .filter(|d| d.outcome == super::Outcome::Open)
            .filter(|d| !self.has_stance(&d.id, me))
            .count();
        need(
            unanswered,
            "A decision is waiting for your stance",
            format!("{unanswered} decisions are waiting for your stance"),
            "decisions",
        );
        let to_approve = self
            .pots(now_ms)
            .iter()
            .flat_map(|p| p.lines.iter())
            .filter(|l| matches!(l.state, super::EntryState::AwaitingApproval { .. }))
            .filter(|l| l.author != me && !self.approvers(&l.id).contains(me))
            .count();
        need(
            to_approve,
            "An expense is waiting for your approval",
            format!("{to_approve} expenses are waiting for your approval"),
            "pot",
        );
        let contributions = self.contributions(now_ms);
        let to_validate = contributions
            .iter()
            .filter(|c| c.contributor != me && !c.validators.contains(me))
            .filter(|c| !c.counts && !c.reversed && c.reverses.is_none())
            .count();
        need(
            to_validate,
            "A contribution is waiting for validation",
            format!("{to_validate} contributions are waiting for validation"),
            "contributions",
        );
        let to_confirm = contributions
            .iter()
            .filter(|c| c.beneficiary.as_deref() == Some(me) && !c.confirmed && !c.reversed)
            .count();
        need(
            to_confirm,
            "Someone logged a contribution for you to confirm",
            format!("{to_confirm} contributions for you to confirm"),
            "contributions",
        );
        let overdue = self
            .resources()
            .iter()
            .filter(|r| r.overdue(now_ms) && (r.holder.as_deref() == Some(me) || r.steward == me))
            .count();
        need(
            overdue,
            "A loan you hold or steward is overdue",
            format!("{overdue} loans you hold or steward are overdue"),
            "things",
        );
        needs
    }

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
                    "recorded {:?} of {} in {}",
                    l.kind,
                    super::format_amount(l.amount, &pot.unit),
                    pot.name
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
    use crate::domain::{
        EntryKind, NewContribution, NewEntry, NewPost, NewProposal, PostKind, Stance,
    };

    #[test]
    fn what_needs_me_follows_what_is_waiting_and_clears_when_done() {
        let (mut room, m) = community(3);
        let [ana, bo, _] = [&m[0], &m[1], &m[2]];
        let (a, b) = (ana.public(), bo.public());
        assert!(room.needs_me(&a, 10).is_empty());
        let d = room
            .propose(
                ana,
                NewProposal {
                    title: "Paint".into(),
                    method: crate::domain::Method::Consent,
                    options: vec![],
                    closes_at: 1_000,
                    quorum_percent: 50,
                    amendment: None,
                },
                10,
            )
            .unwrap();
        let pot = room.open_pot(ana, "Pot", "EUR", 11).unwrap();
        room.record(ana, &pot, NewEntry::new(EntryKind::Inflow, 5_000, "in"), 12)
            .unwrap();
        room.record(
            ana,
            &pot,
            NewEntry::new(EntryKind::Expense, 1_000, "paint"),
            13,
        )
        .unwrap();
        room.log_contribution(
            ana,
            NewContribution {
                value_type: "work".into(),
                quantity: 60,
                description: "sanding".into(),
                date: 14,
                beneficiary: Some(b.clone()),
                reverses: None,
            },
            14,
        )
        .unwrap();
        let texts = |room: &crate::domain::RoomDoc, who: &str| -> Vec<String> {
            room.needs_me(who, 20).into_iter().map(|n| n.text).collect()
        };
        assert_eq!(
            texts(&room, &b),
            [
                "A decision is waiting for your stance",
                "An expense is waiting for your approval",
                "A contribution is waiting for validation",
                "Someone logged a contribution for you to confirm",
            ]
        );
        // Ana's own expense and contribution are not hers to approve; the decision is.
        assert_eq!(texts(&room, &a), ["A decision is waiting for your stance"]);
        room.take_stance(bo, &d, Stance::Agree, "", 21).unwrap();
        let line = room.pots(22)[0].lines[1].id.clone();
        room.approve(bo, &pot, &line, 22).unwrap();
        let c = room.contributions(22)[0].id.clone();
        room.countersign(bo, &c, 23).unwrap();
        assert!(texts(&room, &b).is_empty(), "{:?}", texts(&room, &b));
        assert_eq!(
            texts(&room, "stranger"),
            ["Introduce yourself so the members can vouch for you"]
        );
    }

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
                "recorded inflow of 5.00 eur in pot",
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
