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
    pub values: Vec<FeedValue>,
}

impl ActivityItem {
    /// What happened, in English.
    pub fn text(&self) -> String {
        let values: Vec<&dyn std::fmt::Display> = self
            .values
            .iter()
            .map(|v| v as &dyn std::fmt::Display)
            .collect();
        crate::i18n::fill(self.phrase, &values)
    }
}

/// A value in a feed phrase, kept typed so the UI writes it the way its language does.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum FeedValue {
    /// Text as it was written (a title, a name, a round's number).
    Text(String),
    /// Money in minor units of `unit`, or minutes when `unit` is `hours`.
    Amount { minor: i64, unit: String },
    /// A contribution: a quantity of a value type (minutes for time).
    Quantity { quantity: i64, value_type: String },
}

/// In English (`1234.50 EUR`, `1:30 h`, `3 materials`).
impl std::fmt::Display for FeedValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FeedValue::Text(text) => f.write_str(text),
            FeedValue::Amount { minor, unit } => f.write_str(&super::format_amount(*minor, unit)),
            FeedValue::Quantity {
                quantity,
                value_type,
            } => f.write_str(&super::format_quantity(*quantity, value_type)),
        }
    }
}

impl From<String> for FeedValue {
    fn from(text: String) -> Self {
        FeedValue::Text(text)
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
    /// One stable key per thing waiting (`approve:<line id>`, `reply:<response id>`…), so a
    /// reminder is given once per thing however often the needs are derived. Empty for the
    /// member's own standing: nobody else did anything there to be reminded of.
    pub keys: Vec<String>,
}

impl Need {
    pub fn text(&self) -> String {
        crate::i18n::fill_strings(self.phrase, &self.values)
    }
}

/// How far ahead a decision closing or a loan falling due counts as soon.
const SOON_MS: i64 = 24 * 60 * 60 * 1000;

impl RoomDoc {
    /// What waits for the member `me` at `now_ms`: their own admission, newcomers to vouch
    /// for, open decisions they have not answered (those closing within a day apart), others'
    /// expenses to approve, contributions to validate or confirm, replies to their open posts
    /// they have not answered, and things they hold falling due within a day or past due.
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
                keys: vec![],
            });
        }
        if !self.admitted().contains(me) {
            return needs;
        }
        // One phrase for one thing, another for several; each thing named by its key.
        let mut need =
            |keys: Vec<String>, one: &'static str, many: &'static str, section: &'static str| {
                if !keys.is_empty() {
                    let (phrase, values) = if keys.len() == 1 {
                        (one, vec![])
                    } else {
                        (many, vec![keys.len().to_string()])
                    };
                    needs.push(Need {
                        phrase,
                        values,
                        section,
                        keys,
                    });
                }
            };
        let keyed = |kind: &str, id: &str| format!("{kind}:{id}");
        let pending = members
            .iter()
            .filter(|m| matches!(m.standing, super::Standing::Pending { .. }))
            .map(|m| keyed("vouch", &m.key))
            .collect();
        need(
            pending,
            phrase("A newcomer is waiting for vouches"),
            phrase("{} newcomers are waiting for vouches"),
            "members",
        );
        let decisions = self.decisions(now_ms);
        // As soon as a decision a member proposed closes, its outcome is theirs to record.
        need(
            decisions
                .iter()
                .filter(|d| d.author == me && d.outcome != super::Outcome::Open)
                .filter(|d| d.statement.is_none())
                .map(|d| keyed("outcome", &d.id))
                .collect(),
            phrase("A decision you proposed has closed: record its outcome"),
            phrase("{} decisions you proposed have closed: record their outcomes"),
            "decisions",
        );
        let (closing, unanswered): (Vec<_>, Vec<_>) = decisions
            .into_iter()
            .filter(|d| d.outcome == super::Outcome::Open)
            .filter(|d| !self.has_stance(&d.id, me))
            .partition(|d| d.closes_at.saturating_sub(now_ms) <= SOON_MS);
        need(
            unanswered.iter().map(|d| keyed("stance", &d.id)).collect(),
            phrase("A decision is waiting for your stance"),
            phrase("{} decisions are waiting for your stance"),
            "decisions",
        );
        // A second reminder, under a key of its own, as the vote is about to close.
        need(
            closing.iter().map(|d| keyed("closing", &d.id)).collect(),
            phrase("A decision closes within a day without your stance"),
            phrase("{} decisions close within a day without your stance"),
            "decisions",
        );
        let pots = self.pots(now_ms);
        let to_approve = pots
            .iter()
            .flat_map(|p| p.lines.iter())
            .filter(|l| matches!(l.state, super::EntryState::AwaitingApproval { .. }))
            .filter(|l| l.author != me && !self.approvers(&l.id).contains(me))
            .map(|l| keyed("approve", &l.id))
            .collect();
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
            .map(|l| keyed("confirm", &l.id))
            .collect();
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
            .map(|c| keyed("validate", &c.id))
            .collect();
        need(
            to_validate,
            phrase("A contribution is waiting for validation"),
            phrase("{} contributions are waiting for validation"),
            "contributions",
        );
        let to_confirm = contributions
            .iter()
            .filter(|c| c.beneficiary.as_deref() == Some(me) && !c.confirmed && !c.reversed)
            .map(|c| keyed("countersign", &c.id))
            .collect();
        need(
            to_confirm,
            phrase("Someone logged a contribution for you to confirm"),
            phrase("{} contributions for you to confirm"),
            "contributions",
        );
        need(
            self.replies_to(me, now_ms),
            phrase("Someone replied to your post"),
            phrase("{} replies to your posts"),
            "board",
        );
        let resources = self.resources();
        // A loan is named by its hand-over: the next loan of the same thing is another.
        let loan =
            |r: &super::ResourceView| r.transfers.last().map_or(String::new(), |t| t.id.clone());
        let due_soon = resources
            .iter()
            .filter(|r| r.holder.as_deref() == Some(me) && !r.overdue(now_ms))
            .filter(|r| r.due.is_some_and(|d| d.saturating_sub(now_ms) <= SOON_MS))
            .map(|r| keyed("due", &loan(r)))
            .collect();
        need(
            due_soon,
            phrase("Something you borrowed is due back within a day"),
            phrase("{} things you borrowed are due back within a day"),
            "things",
        );
        let overdue = resources
            .iter()
            .filter(|r| r.overdue(now_ms) && (r.holder.as_deref() == Some(me) || r.steward == me))
            .map(|r| keyed("overdue", &loan(r)))
            .collect();
        need(
            overdue,
            phrase("A loan you hold or steward is overdue"),
            phrase("{} loans you hold or steward are overdue"),
            "things",
        );
        needs
    }

    /// Keys of others' replies to `me`'s posts that are still open, written after `me` last
    /// replied there: answering, or closing the post, settles them.
    fn replies_to(&self, me: &str, now_ms: i64) -> Vec<String> {
        // The named author is checked first: verifying every post's signature costs too much.
        let mine: Vec<String> = self
            .posts()
            .into_iter()
            .filter(|p| p.author.as_deref() == Some(me))
            .filter(|p| !p.status.is_final() && !p.is_expired(now_ms))
            .filter(|p| self.post_signer(p).as_deref() == Some(me))
            .map(|p| p.id)
            .collect();
        let mut keys = Vec::new();
        for post in &mine {
            let replies = self.responses(Some(post));
            // Oldest first: only what came after my last reply waits for me.
            let answered = replies.iter().rposition(|r| r.author == me);
            let unanswered = replies[answered.map_or(0, |i| i + 1)..].iter();
            keys.extend(unanswered.map(|r| format!("reply:{}", r.id)));
        }
        keys
    }

    /// Everything that happened, newest first (ties: by text, so every device shows one order).
    pub fn activity(&self, now_ms: i64) -> Vec<ActivityItem> {
        let mut items: Vec<ActivityItem> = Vec::new();
        let mut push =
            |at: i64, author: Option<&str>, phrase: &'static str, values: Vec<FeedValue>| {
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
                vec![p.title.into()],
            );
        }
        for r in self.responses(None) {
            push(r.at, Some(&r.author), phrase("responded to a post"), vec![]);
        }
        for m in self.members() {
            let what = phrase("introduced themselves as {}");
            push(m.since, Some(&m.key), what, vec![m.profile.name.into()]);
        }
        for pot in self.pots(now_ms) {
            for l in &pot.lines {
                // A dividend share is news once paid.
                if l.kind == super::EntryKind::Dividend && l.state != super::EntryState::Counted {
                    continue;
                }
                let what = match l.kind {
                    super::EntryKind::Inflow => phrase("recorded money in: {} in {}"),
                    super::EntryKind::Payout => phrase("recorded money out: {} from {}"),
                    super::EntryKind::Expense => phrase("asked for an expense: {} from {}"),
                    super::EntryKind::Reversal => phrase("reversed an entry: {} in {}"),
                    super::EntryKind::Dividend => phrase("received a dividend: {} from {}"),
                };
                let amount = FeedValue::Amount {
                    minor: l.amount,
                    unit: pot.unit.clone(),
                };
                push(
                    l.at,
                    Some(&l.author),
                    what,
                    vec![amount, pot.name.clone().into()],
                );
            }
        }
        for d in self.decisions(now_ms) {
            let what = phrase("proposed: {}");
            push(
                d.proposed_at,
                Some(&d.author),
                what,
                vec![d.title.clone().into()],
            );
            match d.closed_early {
                Some(super::ClosedEarly::ByProposer) => {
                    let what = phrase("closed {} early");
                    push(
                        d.closes_at,
                        Some(&d.author),
                        what,
                        vec![d.title.clone().into()],
                    );
                }
                Some(super::ClosedEarly::AllAnswered) => {
                    let what = phrase("{} closed: everyone had answered");
                    push(d.closes_at, None, what, vec![d.title.clone().into()]);
                }
                None => {}
            }
            if let Some(st) = &d.statement {
                let what = if d.enacted {
                    phrase("recorded the outcome of {} (enacted)")
                } else {
                    phrase("recorded the outcome of {}")
                };
                push(st.at, Some(&st.author), what, vec![d.title.clone().into()]);
            }
        }
        for c in self.circles() {
            let what = phrase("started the lending circle {}");
            push(
                c.opened_at,
                Some(&c.author),
                what,
                vec![c.name.clone().into()],
            );
            for r in &c.rounds {
                for (payer, at) in r.paid.iter().zip(&r.paid_at) {
                    let what = phrase("paid into round {} of {}");
                    let values = vec![(r.index + 1).to_string().into(), c.name.clone().into()];
                    push(*at, Some(payer), what, values);
                }
            }
        }
        for c in self.contributions(now_ms) {
            let what = phrase("contributed {}");
            let values = vec![FeedValue::Quantity {
                quantity: c.quantity,
                value_type: c.value_type.clone(),
            }];
            push(c.date, Some(&c.contributor), what, values);
        }
        for r in self.resources() {
            for t in &r.transfers {
                let what = match t.kind.as_str() {
                    "handover" => phrase("lent out {}"),
                    _ => phrase("recorded the return of {}"),
                };
                push(
                    t.at,
                    Some(&t.by),
                    what,
                    vec![r.resource.name.clone().into()],
                );
            }
            for c in &r.cancelled {
                let what = phrase("cancelled a booking of {}");
                push(
                    c.at,
                    Some(&c.booking.member),
                    what,
                    vec![r.resource.name.clone().into()],
                );
            }
        }
        for task in self.tasks() {
            for (who, at) in &task.given_back {
                let what = phrase("gave back the task {}");
                push(*at, Some(who), what, vec![task.title.clone().into()]);
            }
        }
        for party in self.work_parties() {
            for (who, at) in &party.withdrawn {
                let what = phrase("withdrew from the work party {}");
                push(*at, Some(who), what, vec![party.title.clone().into()]);
            }
        }
        for page in self.pages() {
            if let Some((author, at)) = page.history.first() {
                push(
                    *at,
                    Some(author),
                    phrase("wrote the page {}"),
                    vec![page.title.clone().into()],
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
        EntryKind, FeedValue, NewContribution, NewEntry, NewPost, NewProposal, NewResource,
        PostKind, PostStatus, RoomDoc, Stance,
    };

    const DAY: i64 = 24 * 60 * 60 * 1000;
    const HOUR: i64 = 60 * 60 * 1000;

    /// What needs `who` at `now`, as English text.
    fn texts(room: &RoomDoc, who: &str, now: i64) -> Vec<String> {
        room.needs_me(who, now)
            .into_iter()
            .map(|n| n.text())
            .collect()
    }

    /// Every key of what needs `who` at `now`.
    fn keys(room: &RoomDoc, who: &str, now: i64) -> Vec<String> {
        room.needs_me(who, now)
            .into_iter()
            .flat_map(|n| n.keys)
            .collect()
    }

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
                    closes_at: 2 * DAY,
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
        assert_eq!(
            texts(&room, &b, 20),
            [
                "A decision is waiting for your stance",
                "An expense is waiting for your approval",
                "Money in is waiting for your confirmation",
                "Someone logged a contribution for you to confirm",
            ]
        );
        // Ana's own expense and contribution are not hers to approve; the decision is.
        assert_eq!(
            texts(&room, &a, 20),
            ["A decision is waiting for your stance"]
        );
        room.take_stance(bo, &d, Stance::Agree, "", 21).unwrap();
        let line = room.pots(22)[0].lines[1].id.clone();
        room.approve(bo, &pot, &line, 22).unwrap();
        let inflow = room.pots(22)[0].lines[0].id.clone();
        room.confirm(bo, &pot, &inflow, 22).unwrap();
        let c = room.contributions(22)[0].id.clone();
        room.countersign(bo, &c, 23).unwrap();
        assert!(
            texts(&room, &b, 20).is_empty(),
            "{:?}",
            texts(&room, &b, 20)
        );
        assert_eq!(
            texts(&room, "stranger", 20),
            ["Introduce yourself so the members can vouch for you"]
        );
    }

    #[test]
    fn each_thing_waiting_has_a_key_of_its_own() {
        let (mut room, m) = community(3);
        let pot = room.open_pot(&m[0], "Pot", "EUR", 10).unwrap();
        for (i, memo) in ["paint", "brushes"].into_iter().enumerate() {
            let e = NewEntry::new(EntryKind::Expense, 100, memo);
            room.record(&m[0], &pot, e, 11 + i as i64).unwrap();
        }
        let lines: Vec<String> = room.pots(20)[0]
            .lines
            .iter()
            .map(|l| l.id.clone())
            .collect();
        let bo = m[1].public();
        assert_eq!(
            texts(&room, &bo, 20),
            ["2 expenses are waiting for your approval"]
        );
        let mut expected: Vec<String> = lines.iter().map(|l| format!("approve:{l}")).collect();
        expected.sort();
        let mut got = keys(&room, &bo, 20);
        got.sort();
        assert_eq!(got, expected);
        // The same things keep the same keys whenever the needs are derived.
        let mut later = keys(&room, &bo, 5_000);
        later.sort();
        assert_eq!(later, expected);
        // Asked of others, not of the one who asked.
        assert!(keys(&room, &m[0].public(), 20).is_empty());
        // A newcomer's own standing waits, but is nothing to be reminded of.
        let newcomer = crate::crypto::Identity::generate();
        assert!(keys(&room, &newcomer.public(), 20).is_empty());
        assert_eq!(room.needs_me(&newcomer.public(), 20).len(), 1);
    }

    #[test]
    fn a_decision_closing_within_a_day_without_my_stance_is_a_second_reminder() {
        let (mut room, m) = community(2);
        let proposal = NewProposal {
            title: "Paint".into(),
            method: crate::domain::Method::Consent,
            options: vec![],
            closes_at: 3 * DAY,
            quorum_percent: 50,
            amendment: None,
        };
        let d = room.propose(&m[0], proposal, 10).unwrap();
        let bo = m[1].public();
        assert_eq!(
            texts(&room, &bo, DAY),
            ["A decision is waiting for your stance"]
        );
        assert_eq!(keys(&room, &bo, DAY), [format!("stance:{d}")]);
        let soon = 3 * DAY - HOUR;
        assert_eq!(
            texts(&room, &bo, soon),
            ["A decision closes within a day without your stance"]
        );
        assert_eq!(keys(&room, &bo, soon), [format!("closing:{d}")]);
        // Closed, or answered: nothing waits.
        assert!(keys(&room, &bo, 3 * DAY).is_empty());
        room.take_stance(&m[1], &d, Stance::Agree, "", soon)
            .unwrap();
        assert!(keys(&room, &bo, soon).is_empty());
    }

    #[test]
    fn a_closed_decision_asks_its_proposer_alone_to_record_the_outcome_until_recorded() {
        let (mut room, m) = community(3);
        let proposal = NewProposal {
            title: "Paint".into(),
            method: crate::domain::Method::Consent,
            options: vec![],
            closes_at: 3 * DAY,
            quorum_percent: 50,
            amendment: None,
        };
        let d = room.propose(&m[0], proposal, 10).unwrap();
        let (ana, bo) = (m[0].public(), m[1].public());
        room.take_stance(&m[1], &d, Stance::Agree, "", 20).unwrap();
        assert!(!keys(&room, &ana, DAY).contains(&format!("outcome:{d}")));
        // Ana closes it early: recording its outcome waits for her, and for nobody else.
        room.close_decision(&m[0], &d, DAY).unwrap();
        assert_eq!(
            texts(&room, &ana, DAY + 1),
            ["A decision you proposed has closed: record its outcome"]
        );
        assert_eq!(keys(&room, &ana, DAY + 1), [format!("outcome:{d}")]);
        assert!(!keys(&room, &bo, DAY + 1).contains(&format!("outcome:{d}")));
        assert!(room
            .activity(DAY + 1)
            .iter()
            .any(|i| i.text() == "closed Paint early" && i.author.as_deref() == Some(&*ana)));
        room.record_outcome(&m[0], &d, "We paint", None, DAY + 2)
            .unwrap();
        assert!(keys(&room, &ana, DAY + 3).is_empty());
    }

    #[test]
    fn replies_to_my_open_post_wait_until_i_answer_or_close_it() {
        let (mut room, m) = community(3);
        let (ana, bo) = (m[0].public(), m[1].public());
        let need = NewPost {
            kind: PostKind::Need,
            title: "Ladder".into(),
            description: String::new(),
            category: "Goods".into(),
        };
        let post = room.add_post(&m[0], need, 10).unwrap();
        let reply = room.respond(&m[1], &post, "I have one", 20).unwrap();
        assert_eq!(texts(&room, &ana, 30), ["Someone replied to your post"]);
        assert_eq!(keys(&room, &ana, 30), [format!("reply:{reply}")]);
        // The one who replied is not reminded of their own reply, nor is anyone else.
        assert!(keys(&room, &bo, 30).is_empty());
        assert!(keys(&room, &m[2].public(), 30).is_empty());
        room.respond(&m[0], &post, "Thanks, when?", 40).unwrap();
        assert!(keys(&room, &ana, 50).is_empty());
        let second = room.respond(&m[1], &post, "Tomorrow", 60).unwrap();
        let third = room.respond(&m[2], &post, "Mine too", 61).unwrap();
        assert_eq!(texts(&room, &ana, 70), ["2 replies to your posts"]);
        assert_eq!(
            keys(&room, &ana, 70),
            [format!("reply:{second}"), format!("reply:{third}")]
        );
        room.set_post_status(&m[0], &post, PostStatus::Fulfilled, 80)
            .unwrap();
        assert!(keys(&room, &ana, 90).is_empty());
    }

    #[test]
    fn a_loan_due_within_a_day_reminds_its_holder_then_overdue_both() {
        let (mut room, m) = community(2);
        let (ana, bo) = (m[0].public(), m[1].public());
        let thing = NewResource {
            kind: "physical".into(),
            name: "Drill".into(),
            rules: String::new(),
            condition: String::new(),
            location: String::new(),
            licence: crate::domain::LICENCES[0].into(),
        };
        let drill = room.add_resource(&m[0], thing, 10).unwrap();
        let due = 3 * DAY;
        room.transfer_custody(&m[0], &drill, Some(&bo), Some(due), "", 20, false)
            .unwrap();
        let loan = room.resource(&drill).unwrap().transfers[0].id.clone();
        assert!(keys(&room, &bo, DAY).is_empty());
        assert_eq!(
            texts(&room, &bo, due - HOUR),
            ["Something you borrowed is due back within a day"]
        );
        assert_eq!(keys(&room, &bo, due - HOUR), [format!("due:{loan}")]);
        // The steward hears of it once it is overdue, as the holder does.
        assert!(keys(&room, &ana, due - HOUR).is_empty());
        for who in [&ana, &bo] {
            assert_eq!(keys(&room, who, due + 1), [format!("overdue:{loan}")]);
        }
        room.transfer_custody(&m[1], &drill, None, None, "", due + 2, false)
            .unwrap();
        assert!(keys(&room, &bo, due + 3).is_empty());
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
        // The amount stays a number with its unit, for the UI to write in its language.
        assert_eq!(
            feed[2].values,
            [
                FeedValue::Amount {
                    minor: 500,
                    unit: "EUR".into()
                },
                FeedValue::Text("Pot".into())
            ]
        );
        assert!(feed.windows(2).all(|w| w[0].at >= w[1].at));
        assert_eq!(
            feed.iter()
                .filter(|i| i.phrase.starts_with("introduced"))
                .count(),
            3
        );
    }
}
