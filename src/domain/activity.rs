//! The activity feed (holoptism: everyone sees everything): a derived list of what happened in
//! the room, newest first, built only from entries that verified in their own module's view.

use super::room::RoomDoc;

/// One thing that happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActivityItem {
    pub at: i64,
    /// The member's key; `None` for entries that carry no author yet (board posts).
    pub author: Option<String>,
    /// What happened, in English with `{}` for the values: the UI looks it up in the
    /// translation table (every phrase is written with `phrase(…)`, which a test checks).
    pub phrase: &'static str,
    pub values: Vec<String>,
}

impl ActivityItem {
    /// What happened, in English.
    pub fn text(&self) -> String {
        crate::i18n::fill_strings(self.phrase, &self.values)
    }
}

/// Marks a feed or needs phrase for the translation table (see `crate::i18n`).
const fn phrase(english: &'static str) -> &'static str {
    english
}

/// Kinds of marks and how the feed words them.
const MARKS: [(&str, &str); 7] = [
    ("approval", phrase("approved an expense")),
    ("paid", phrase("paid an expense")),
    ("validation", phrase("validated a contribution")),
    (
        "countersign",
        phrase("confirmed a contribution as its beneficiary"),
    ),
    ("claim", phrase("claimed a task")),
    ("done", phrase("finished a task")),
    ("signup", phrase("signed up for a work party")),
];

/// Something waiting for this member, and the section where it is done.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Need {
    /// In English with `{}` for the values (see [`ActivityItem::phrase`]).
    pub phrase: &'static str,
    pub values: Vec<String>,
    pub section: &'static str,
}

impl Need {
    pub fn text(&self) -> String {
        crate::i18n::fill_strings(self.phrase, &self.values)
    }
}

impl RoomDoc {
    /// What waits for the member `me` at `now_ms`: their own admission, newcomers to vouch
    /// for, open decisions they have not answered, others' expenses to approve, contributions
    /// to validate or confirm, and things they hold past their due date.
    pub fn needs_me(&self, me: &str, now_ms: i64) -> Vec<Need> {
        let mut needs = Vec::new();
        let members = self.members();
        let own = match members.iter().find(|m| m.key == me).map(|m| &m.standing) {
            None => Some((
                phrase("Introduce yourself so the members can vouch for you"),
                vec![],
            )),
            Some(super::Standing::Pending { vouches, needed }) => Some((
                phrase("You are waiting for vouches ({} of {})"),
                vec![vouches.to_string(), needed.to_string()],
            )),
            _ => None,
        };
        if let Some((phrase, values)) = own {
            needs.push(Need {
                phrase,
                values,
                section: "members",
            });
        }
        if !self.admitted().contains(me) {
            return needs;
        }
        // One phrase for one thing, another for several.
        let mut need = |n: usize, one: &'static str, many: &'static str, section: &'static str| {
            if n > 0 {
                let (phrase, values) = if n == 1 {
                    (one, vec![])
                } else {
                    (many, vec![n.to_string()])
                };
                needs.push(Need {
                    phrase,
                    values,
                    section,
                });
            }
        };
        let pending = members
            .iter()
            .filter(|m| matches!(m.standing, super::Standing::Pending { .. }))
            .count();
        need(
            pending,
            phrase("A newcomer is waiting for vouches"),
            phrase("{} newcomers are waiting for vouches"),
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
            phrase("A decision is waiting for your stance"),
            phrase("{} decisions are waiting for your stance"),
            "decisions",
        );
        let pots = self.pots(now_ms);
        let to_approve = pots
            .iter()
            .flat_map(|p| p.lines.iter())
            .filter(|l| matches!(l.state, super::EntryState::AwaitingApproval { .. }))
            .filter(|l| l.author != me && !self.approvers(&l.id).contains(me))
            .count();
        need(
            to_approve,
            phrase("An expense is waiting for your approval"),
            phrase("{} expenses are waiting for your approval"),
            "pot",
        );
        // Money in counts once another member confirms it: others' entries are mine to confirm.
        let to_confirm = pots
            .iter()
            .flat_map(|p| p.lines.iter())
            .filter(|l| l.state == super::EntryState::AwaitingConfirmation && l.author != me)
            .count();
        need(
            to_confirm,
            phrase("Money in is waiting for your confirmation"),
            phrase("{} entries of money in are waiting for your confirmation"),
            "pot",
        );
        let contributions = self.contributions(now_ms);
        let to_validate = contributions
            .iter()
            .filter(|c| c.contributor != me && !c.validators.contains(me))
            // The beneficiary confirms rather than validates.
            .filter(|c| c.beneficiary.as_deref() != Some(me))
            .filter(|c| !c.counts && !c.reversed && c.reverses.is_none())
            .count();
        need(
            to_validate,
            phrase("A contribution is waiting for validation"),
            phrase("{} contributions are waiting for validation"),
            "contributions",
        );
        let to_confirm = contributions
            .iter()
            .filter(|c| c.beneficiary.as_deref() == Some(me) && !c.confirmed && !c.reversed)
            .count();
        need(
            to_confirm,
            phrase("Someone logged a contribution for you to confirm"),
            phrase("{} contributions for you to confirm"),
            "contributions",
        );
        let overdue = self
            .resources()
            .iter()
            .filter(|r| r.overdue(now_ms) && (r.holder.as_deref() == Some(me) || r.steward == me))
            .count();
        need(
            overdue,
            phrase("A loan you hold or steward is overdue"),
            phrase("{} loans you hold or steward are overdue"),
            "things",
        );
        needs
    }

    /// Everything that happened, newest first (ties: by text, so every device shows one order).
    pub fn activity(&self, now_ms: i64) -> Vec<ActivityItem> {
        let mut items: Vec<ActivityItem> = Vec::new();
        let mut push =
            |at: i64, author: Option<&str>, phrase: &'static str, values: Vec<String>| {
                items.push(ActivityItem {
                    at,
                    author: author.map(str::to_owned),
                    phrase,
                    values,
                });
            };
        for p in self.posts() {
            let what = match p.kind {
                super::PostKind::Need => phrase("posted a need: {}"),
                super::PostKind::Offer => phrase("posted an offer: {}"),
            };
            push(
                p.created_at,
                self.post_signer(&p).as_deref(),
                what,
                vec![p.title],
            );
        }
        for r in self.responses(None) {
            push(r.at, Some(&r.author), phrase("responded to a post"), vec![]);
        }
        for m in self.members() {
            let what = phrase("introduced themselves as {}");
            push(m.since, Some(&m.key), what, vec![m.profile.name]);
        }
        for pot in self.pots(now_ms) {
            for l in &pot.lines {
                let what = match l.kind {
                    super::EntryKind::Inflow => phrase("recorded money in: {} in {}"),
                    super::EntryKind::Payout => phrase("recorded money out: {} from {}"),
                    super::EntryKind::Expense => phrase("asked for an expense: {} from {}"),
                    super::EntryKind::Reversal => phrase("reversed an entry: {} in {}"),
                };
                let amount = super::format_amount(l.amount, &pot.unit);
                push(l.at, Some(&l.author), what, vec![amount, pot.name.clone()]);
            }
        }
        for d in self.decisions(now_ms) {
            let what = phrase("proposed: {}");
            push(d.proposed_at, Some(&d.author), what, vec![d.title.clone()]);
            if let Some(st) = &d.statement {
                let what = if d.enacted {
                    phrase("recorded the outcome of {} (enacted)")
                } else {
                    phrase("recorded the outcome of {}")
                };
                push(st.at, Some(&st.author), what, vec![d.title.clone()]);
            }
        }
        for c in self.circles() {
            let what = phrase("started the lending circle {}");
            push(c.opened_at, Some(&c.author), what, vec![c.name.clone()]);
            for r in &c.rounds {
                for (payer, at) in r.paid.iter().zip(&r.paid_at) {
                    let what = phrase("paid into round {} of {}");
                    let values = vec![(r.index + 1).to_string(), c.name.clone()];
                    push(*at, Some(payer), what, values);
                }
            }
        }
        for c in self.contributions(now_ms) {
            let what = phrase("contributed {}");
            let values = vec![super::format_quantity(c.quantity, &c.value_type)];
            push(c.date, Some(&c.contributor), what, values);
        }
        for r in self.resources() {
            for t in &r.transfers {
                let what = match t.kind.as_str() {
                    "handover" => phrase("lent out {}"),
                    _ => phrase("recorded the return of {}"),
                };
                push(t.at, Some(&t.by), what, vec![r.resource.name.clone()]);
            }
        }
        for page in self.pages() {
            if let Some((author, at)) = page.history.first() {
                push(
                    *at,
                    Some(author),
                    phrase("wrote the page {}"),
                    vec![page.title.clone()],
                );
            }
            for (author, at) in page.history.iter().skip(1) {
                push(*at, Some(author), phrase("edited a page"), vec![]);
            }
        }
        for (kind, words) in MARKS {
            for m in self.marks(kind) {
                push(m.at, Some(&m.author), words, vec![]);
            }
        }
        items.sort_by(|a, b| {
            b.at.cmp(&a.at)
                .then_with(|| a.phrase.cmp(b.phrase))
                .then_with(|| a.values.cmp(&b.values))
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
            room.needs_me(who, 20)
                .into_iter()
                .map(|n| n.text())
                .collect()
        };
        assert_eq!(
            texts(&room, &b),
            [
                "A decision is waiting for your stance",
                "An expense is waiting for your approval",
                "Money in is waiting for your confirmation",
                "Someone logged a contribution for you to confirm",
            ]
        );
        // Ana's own expense and contribution are not hers to approve; the decision is.
        assert_eq!(texts(&room, &a), ["A decision is waiting for your stance"]);
        room.take_stance(bo, &d, Stance::Agree, "", 21).unwrap();
        let line = room.pots(22)[0].lines[1].id.clone();
        room.approve(bo, &pot, &line, 22).unwrap();
        let inflow = room.pots(22)[0].lines[0].id.clone();
        room.confirm(bo, &pot, &inflow, 22).unwrap();
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
        let top: Vec<String> = feed.iter().take(4).map(|i| i.text()).collect();
        assert_eq!(
            top,
            [
                "edited a page",
                "wrote the page Rules",
                "recorded money in: 5.00 EUR in Pot",
                "posted a need: Ladder"
            ]
        );
        assert_eq!(feed[0].author, Some(m[0].public()));
        assert!(feed.windows(2).all(|w| w[0].at >= w[1].at));
        assert_eq!(
            feed.iter()
                .filter(|i| i.phrase.starts_with("introduced"))
                .count(),
            3
        );
    }
}
