//! Decisions (Loomio's methods): consent, majority, score (0–5 per option), ranked choice
//! (instant runoff) and dot vote. A proposal has options, a closing time and a quorum (a share
//! of admitted members). Each admitted member's latest stance between the proposal and its close
//! counts; tallies and outcomes are derived, with deterministic tie-breaking (the lower option
//! index wins a tie).
//!
//! Anyone holding the room link can write any signed entry with any claimed time, so the rules
//! hold where decisions are derived, not only in the commands: a decision is derived only if its
//! proposer is admitted and its texts and lists are within bounds, and a decision that carries a
//! change (a rule, a removal, an expense) passes only if it was open at least the charter's
//! `min_open_hours`, reached at least the charter's quorum, and at least two members agreed. The
//! member a removal names takes no part in its tally.

use super::charter::{Amendment, Charter};
use super::room::{required_text, DomainError, RoomDoc};
use super::signed::{int, signed_entry, text, Entry as _, Raw};
use crate::crypto::Identity;
use std::collections::{BTreeMap, BTreeSet};

const MAX_OPTIONS: usize = 20;
const MAX_SCORE: u32 = 5;
/// Longest texts, in characters; a decision or stance read with a longer one is not counted.
const MAX_TITLE: usize = 160;
const MAX_OPTION: usize = 100;
const MAX_REASON: usize = 1000;
const MAX_STATEMENT: usize = 2000;
/// Longest stance value, in bytes: `MAX_OPTIONS` numbers with their commas and tag.
const MAX_STANCE_VALUE: usize = 256;
/// Distinct agreeing members a decision that carries a change needs, at least.
const MIN_AGREEING: u64 = 2;

/// Whether `s` is at most `max` characters (bytes first: a long text is not walked).
fn within(s: &str, max: usize) -> bool {
    s.len() <= max || (s.len() <= 4 * max && s.chars().count() <= max)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Consent,
    Majority,
    Score,
    Ranked,
    /// Each member spreads up to this many dots over the options.
    Dots(u32),
}

impl Method {
    fn encode(self) -> String {
        match self {
            Method::Consent => "consent".into(),
            Method::Majority => "majority".into(),
            Method::Score => "score".into(),
            Method::Ranked => "ranked".into(),
            Method::Dots(n) => format!("dots:{n}"),
        }
    }

    pub(crate) fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "consent" => Method::Consent,
            "majority" => Method::Majority,
            "score" => Method::Score,
            "ranked" => Method::Ranked,
            _ => Method::Dots(s.strip_prefix("dots:")?.parse().ok().filter(|n| *n > 0)?),
        })
    }
}

/// A member's stance. Option indices refer to the proposal's options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stance {
    Agree,
    Abstain,
    Disagree,
    Block,
    Choose(usize),
    Scores(Vec<u32>),
    Ranking(Vec<usize>),
    Dots(Vec<u32>),
}

impl Stance {
    fn encode(&self) -> String {
        let list = |v: &[u32]| v.iter().map(u32::to_string).collect::<Vec<_>>().join(",");
        match self {
            Stance::Agree => "agree".into(),
            Stance::Abstain => "abstain".into(),
            Stance::Disagree => "disagree".into(),
            Stance::Block => "block".into(),
            Stance::Choose(i) => format!("choose:{i}"),
            Stance::Scores(v) => format!("scores:{}", list(v)),
            Stance::Ranking(v) => format!(
                "ranking:{}",
                v.iter().map(usize::to_string).collect::<Vec<_>>().join(",")
            ),
            Stance::Dots(v) => format!("dots:{}", list(v)),
        }
    }

    fn parse(s: &str) -> Option<Self> {
        fn nums<T: std::str::FromStr>(s: &str) -> Option<Vec<T>> {
            if s.is_empty() {
                return Some(Vec::new());
            }
            s.split(',').map(|x| x.parse().ok()).collect()
        }
        Some(match s {
            "agree" => Stance::Agree,
            "abstain" => Stance::Abstain,
            "disagree" => Stance::Disagree,
            "block" => Stance::Block,
            _ => {
                let (tag, rest) = s.split_once(':')?;
                match tag {
                    "choose" => Stance::Choose(rest.parse().ok()?),
                    "scores" => Stance::Scores(nums(rest)?),
                    "ranking" => Stance::Ranking(nums(rest)?),
                    "dots" => Stance::Dots(nums(rest)?),
                    _ => return None,
                }
            }
        })
    }

    /// Whether this stance is a valid answer to a proposal with `options` under `method`.
    fn fits(&self, method: Method, options: usize) -> bool {
        match (method, self) {
            (
                Method::Consent,
                Stance::Agree | Stance::Abstain | Stance::Disagree | Stance::Block,
            ) => true,
            (Method::Majority, Stance::Choose(i)) => *i < options,
            (Method::Score, Stance::Scores(v)) => {
                v.len() == options && v.iter().all(|s| *s <= MAX_SCORE)
            }
            (Method::Ranked, Stance::Ranking(v)) => {
                if v.is_empty() || v.len() > options {
                    return false;
                }
                let mut seen = vec![false; options];
                v.iter()
                    .all(|i| *i < options && !std::mem::replace(&mut seen[*i], true))
            }
            (Method::Dots(n), Stance::Dots(v)) => {
                v.len() == options
                    && v.iter()
                        .try_fold(0u32, |a, d| a.checked_add(*d))
                        .is_some_and(|t| t <= n)
            }
            _ => false,
        }
    }
}

/// What a person fills in to propose.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewProposal {
    pub title: String,
    pub method: Method,
    /// Options to choose among (ignored for consent).
    pub options: Vec<String>,
    pub closes_at: i64,
    /// Share of admitted members who must take part, in percent (0–100).
    pub quorum_percent: u32,
    /// A charter change enacted if this (consent) decision passes.
    pub amendment: Option<Amendment>,
}

/// How a decision came out (derived).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Open,
    Passed {
        winner: Option<usize>,
    },
    Rejected,
    Blocked,
    NoQuorum,
    /// Carries a change but was open less than the charter's `min_open_hours`: cannot pass.
    TooShort,
    /// Carries a change that fewer than two members agreed to: does not pass.
    TooFewAgreed,
}

/// A decision with its live tally (derived).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecisionView {
    pub id: String,
    pub title: String,
    pub method: Method,
    pub options: Vec<String>,
    pub closes_at: i64,
    pub quorum_percent: u32,
    pub amendment: Option<Amendment>,
    pub author: String,
    pub proposed_at: i64,
    /// Members whose stance counts.
    pub participants: usize,
    /// Per option (consent: agree, abstain, disagree, block): votes, points, or dots.
    pub totals: Vec<u64>,
    pub outcome: Outcome,
    /// The outcome statement that counted, if any: the first (by time and id) recorded after
    /// closing by a member admitted then (the one the governance replay enacted with).
    pub statement: Option<Statement>,
    /// True once a recorded outcome enacted this decision's change.
    pub enacted: bool,
    /// The stances that count (those the tally counted), earliest first.
    pub stances: Vec<ShownStance>,
    /// The members the tally counts among who have not answered (no stance that counts), by
    /// key.
    pub not_answered: Vec<String>,
    /// Why the decision closed before the time it was proposed with, if it did (`closes_at` is
    /// then when it closed).
    pub closed_early: Option<ClosedEarly>,
    /// From when its proposer may close it: when it was proposed, or for a decision that
    /// carries a change, the charter's minimum open time after it opened.
    pub earliest_close: i64,
}

/// How a decision came to close before its closing time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClosedEarly {
    /// Its proposer closed it (a signed closure).
    ByProposer,
    /// Every member it counts among had answered.
    AllAnswered,
}

/// A stance that counts, as the decision lists it for everyone: who, what, why and when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShownStance {
    /// The member's key.
    pub member: String,
    pub stance: Stance,
    pub reason: String,
    pub at: i64,
}

/// An outcome statement: what was decided, in words, and when to review it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    pub text: String,
    /// When to look at the decision again (0: no review planned).
    pub review_at: i64,
    pub author: String,
    pub at: i64,
}

signed_entry! {
    /// An outcome statement recorded for a decision (`outcome:<decision>:<id>`).
    pub(crate) struct OutcomeEntry = "outcome" {
        decision: String,
        statement: String,
        /// When to look at the decision again (0: no review planned).
        review: i64,
        at: i64,
    }
}

signed_entry! {
    /// Its proposer closing a decision early (`closure:<decision>:<id>`): only the stances
    /// written before it (in the change graph) count.
    pub(crate) struct ClosureEntry = "closure" {
        decision: String,
        at: i64,
    }
}

signed_entry! {
    /// A proposal (`decision:<id>`): options one per line, the amendment encoded (empty for
    /// none).
    pub(crate) struct ProposalEntry = "decision" {
        title: String,
        method: String,
        options: String,
        closes_at: i64,
        quorum: i64,
        amend: String,
        at: i64,
    }
}

impl ProposalEntry {
    pub(crate) fn new(p: &NewProposal, at: i64) -> Self {
        ProposalEntry {
            title: p.title.clone(),
            method: p.method.encode(),
            options: p.options.join("\n"),
            closes_at: p.closes_at,
            quorum: i64::from(p.quorum_percent),
            amend: p
                .amendment
                .as_ref()
                .map(Amendment::encode)
                .unwrap_or_default(),
            at,
        }
    }
}

signed_entry! {
    /// A member's stance on a decision (`stance:<decision>:<id>`), its value encoded.
    pub(crate) struct StanceEntry = "stance" {
        decision: String,
        value: String,
        reason: String,
        at: i64,
    }
}

impl StanceEntry {
    pub(crate) fn new(decision: &str, value: &str, reason: &str, at: i64) -> Self {
        StanceEntry {
            decision: decision.to_owned(),
            value: value.to_owned(),
            reason: reason.to_owned(),
            at,
        }
    }
}

/// Instant runoff: repeatedly drop the option with the fewest first preferences (ties: the
/// higher index goes) until one holds a majority of the ballots still in play.
pub fn instant_runoff(options: usize, ballots: &[Vec<usize>]) -> (Option<usize>, Vec<u64>) {
    let mut alive = vec![true; options];
    let first_round = first_preferences(options, ballots, &alive);
    loop {
        let counts = first_preferences(options, ballots, &alive);
        let in_play: u64 = counts.iter().sum();
        let standing: Vec<usize> = (0..options).filter(|i| alive[*i]).collect();
        if in_play == 0 || standing.is_empty() {
            return (None, first_round);
        }
        let leader = standing
            .iter()
            .copied()
            .max_by(|a, b| counts[*a].cmp(&counts[*b]).then(b.cmp(a)));
        if let Some(l) = leader {
            if counts[l] * 2 > in_play || standing.len() == 1 {
                return (Some(l), first_round);
            }
        }
        let loser = standing
            .iter()
            .copied()
            .min_by(|a, b| counts[*a].cmp(&counts[*b]).then(b.cmp(a)))
            .expect("standing is not empty");
        alive[loser] = false;
    }
}

fn first_preferences(options: usize, ballots: &[Vec<usize>], alive: &[bool]) -> Vec<u64> {
    let mut counts = vec![0u64; options];
    for ballot in ballots {
        if let Some(top) = ballot.iter().find(|i| alive[**i]) {
            counts[*top] += 1;
        }
    }
    counts
}

/// The lowest index among the highest totals, if any total is above zero.
fn best(totals: &[u64]) -> Option<usize> {
    let max = *totals.iter().max()?;
    (max > 0)
        .then(|| totals.iter().position(|t| *t == max))
        .flatten()
}

impl RoomDoc {
    /// Proposes a decision; returns its id.
    pub fn propose(
        &mut self,
        me: &Identity,
        p: NewProposal,
        now_ms: i64,
    ) -> Result<String, DomainError> {
        self.writable_posts()?;
        if !self.admitted().contains(&me.public()) {
            return Err(DomainError::NotAdmitted);
        }
        let title = required_text("title", &p.title, 160)?;
        let options: Vec<String> = if p.method == Method::Consent {
            Vec::new()
        } else {
            p.options
                .iter()
                .map(|o| required_text("option", o, 100))
                .collect::<Result<_, _>>()?
        };
        if p.method != Method::Consent && !(2..=MAX_OPTIONS).contains(&options.len()) {
            return Err(DomainError::Invalid {
                field: "options",
                problem: format!("there must be between 2 and {MAX_OPTIONS} options"),
            });
        }
        if p.closes_at <= now_ms {
            return Err(DomainError::Invalid {
                field: "closes_at",
                problem: "must be in the future".into(),
            });
        }
        if let Some(a) = &p.amendment {
            if p.method != Method::Consent {
                return Err(DomainError::Invalid {
                    field: "amendment",
                    problem: "a charter change is decided by consent".into(),
                });
            }
            a.validate()?;
            match a.key.as_str() {
                "remove" if !self.admitted().contains(&a.value) => {
                    return Err(DomainError::NoSuchMember(a.value.clone()))
                }
                "expense" if !self.is_pending_expense(&a.value, now_ms) => {
                    return Err(DomainError::Invalid {
                        field: "amendment",
                        problem: "names no expense waiting for approval".into(),
                    })
                }
                "dividend" => {
                    let d = super::pot::Dividend::parse(&a.value).ok_or_else(|| {
                        DomainError::Invalid {
                            field: "amendment",
                            problem: "dividend takes a pot, a whole amount and how it is split"
                                .into(),
                        }
                    })?;
                    let pot = self
                        .pot(&d.pot, now_ms)
                        .ok_or_else(|| DomainError::NoSuchEntry(d.pot.clone()))?;
                    if d.amount > pot.balance {
                        return Err(DomainError::InsufficientFunds {
                            balance: pot.balance,
                            amount: d.amount,
                        });
                    }
                }
                _ => {}
            }
        }
        if p.quorum_percent > 100 {
            return Err(DomainError::Invalid {
                field: "quorum",
                problem: "is a percentage from 0 to 100".into(),
            });
        }
        if p.amendment.is_some() {
            // The floors the derivation enforces, refused here with a clear reason.
            let charter = self.charter(now_ms);
            if p.closes_at.saturating_sub(now_ms) < charter.min_open_ms() {
                return Err(DomainError::Invalid {
                    field: "closes_at",
                    problem: "is sooner than the charter allows for a change".into(),
                });
            }
            // Where this device's clock is behind the room's, every device will count the
            // vote as opening later (see `opened_at`): say so now rather than fail at the close.
            let me_key = me.public();
            let admitted = self.admitted();
            if let Some(room_now) = self.dated_by_others(now_ms, Some(&me_key), &admitted, |_| true)
            {
                if p.closes_at.saturating_sub(room_now) < charter.min_open_ms() {
                    return Err(DomainError::Invalid {
                        field: "closes_at",
                        problem: "is sooner than the charter allows for a change: this \
                                  device's clock is behind other members' (close it later, \
                                  or set the clock)"
                            .into(),
                    });
                }
            }
            if p.quorum_percent < charter.quorum_percent {
                return Err(DomainError::Invalid {
                    field: "quorum",
                    problem: "is below the charter's quorum, which a change needs".into(),
                });
            }
        }
        let p = NewProposal {
            title,
            options,
            ..p
        };
        self.add_entry(me, "decision:", &ProposalEntry::new(&p, now_ms))
    }

    /// States (or changes) this member's stance; the latest before closing counts.
    pub fn take_stance(
        &mut self,
        me: &Identity,
        decision: &str,
        stance: Stance,
        reason: &str,
        now_ms: i64,
    ) -> Result<(), DomainError> {
        self.writable_posts()?;
        if !self.admitted().contains(&me.public()) {
            return Err(DomainError::NotAdmitted);
        }
        let d = self
            .decision(decision, now_ms)
            .ok_or_else(|| DomainError::NoSuchEntry(decision.to_owned()))?;
        if now_ms >= d.closes_at {
            return Err(DomainError::DecisionClosed);
        }
        if !stance.fits(d.method, d.options.len()) {
            return Err(DomainError::Invalid {
                field: "stance",
                problem: "does not fit this decision's method and options".into(),
            });
        }
        if reason.chars().count() > 1000 {
            return Err(DomainError::Invalid {
                field: "reason",
                problem: "is longer than 1000 characters".into(),
            });
        }
        let entry = StanceEntry::new(decision, &stance.encode(), reason, now_ms);
        self.add_entry(me, &stance_prefix(decision), &entry)?;
        Ok(())
    }

    /// Closes a decision now, before its closing time: only its proposer can, and a decision
    /// that carries a change only once it has been open the charter's minimum time.
    pub fn close_decision(
        &mut self,
        me: &Identity,
        decision: &str,
        now_ms: i64,
    ) -> Result<(), DomainError> {
        self.writable_posts()?;
        self.require_admitted(me)?;
        let d = self
            .decision(decision, now_ms)
            .ok_or_else(|| DomainError::NoSuchEntry(decision.to_owned()))?;
        if d.author != me.public() {
            return Err(DomainError::Invalid {
                field: "decision",
                problem: "can be closed early only by the member who proposed it".into(),
            });
        }
        if d.outcome != Outcome::Open {
            return Err(DomainError::DecisionClosed);
        }
        if now_ms < d.earliest_close {
            return Err(DomainError::Invalid {
                field: "decision",
                problem: "cannot close before the charter's minimum open time for a change".into(),
            });
        }
        let entry = ClosureEntry {
            decision: decision.to_owned(),
            at: now_ms,
        };
        self.add_entry(me, &format!("closure:{decision}:"), &entry)?;
        Ok(())
    }

    /// Every decision with its tally and outcome as of `now_ms`: counted with the members
    /// admitted now, under the charter in force at `now_ms` (what recording an outcome now would
    /// be replayed with); a decision whose outcome was recorded, as it was when recorded.
    pub fn decisions(&self, now_ms: i64) -> Vec<DecisionView> {
        let g = self.governance();
        let charter = self.charter(now_ms);
        self.entries("decision:")
            .filter_map(|(id, f)| self.view_decision(id, f, &g, &charter, now_ms))
            .collect()
    }

    /// A decision as the views show it. Its proposer must be admitted now, unless its outcome
    /// was recorded (by `now_ms`): it then shows what the governance replay derived when the
    /// outcome was recorded — the tally of the members admitted at that moment, and the
    /// statement that counted — and stays so, part of the room's history, whoever joins or
    /// leaves later. An outcome dated after `now_ms` is not recorded yet: the decision shows
    /// as it stands now, so a claimed time in the future closes no decision early.
    fn view_decision(
        &self,
        id: &str,
        f: &Raw,
        g: &super::members::Governance,
        charter: &Charter,
        now_ms: i64,
    ) -> Option<DecisionView> {
        let recorded = g
            .decided
            .get(id)
            .filter(|d| d.statement.as_ref().is_some_and(|s| s.at <= now_ms));
        let mut d = match recorded {
            Some(d) => d.clone(),
            None => self.derive_decision(id, f, &g.admitted, charter, now_ms, None)?,
        };
        d.enacted = g.enacted.get(id) == Some(&true) && d.amendment.is_some();
        Some(d)
    }

    /// One decision as of `now_ms`.
    /// Whether `member` has stated a stance on `decision` (a verified one).
    pub fn has_stance(&self, decision: &str, member: &str) -> bool {
        self.entries(&stance_prefix(decision)).any(|(id, f)| {
            let (Some(author), Some(value), Some(at)) =
                (text(f, "author"), text(f, "value"), int(f, "at"))
            else {
                return false;
            };
            let reason = text(f, "reason").unwrap_or_default();
            author == member
                && value.len() <= MAX_STANCE_VALUE
                && within(reason, MAX_REASON)
                && StanceEntry::new(decision, value, reason, at).signed(self.room_id(), id, f)
        })
    }

    pub fn decision(&self, id: &str, now_ms: i64) -> Option<DecisionView> {
        let f = self.entry(&format!("decision:{id}"))?;
        let g = self.governance();
        self.view_decision(id, f, &g, &self.charter(now_ms), now_ms)
    }

    /// The stances on `decision` that count as of `now_ms`, earliest first: exactly those its
    /// tally counts (signed, by a member it counts, written after the proposal and before its
    /// close, each member's latest; for a recorded outcome, those it was recorded with).
    pub fn stances_shown(&self, decision: &str, now_ms: i64) -> Vec<ShownStance> {
        self.decision(decision, now_ms)
            .map(|d| d.stances)
            .unwrap_or_default()
    }

    /// The members the tally of `decision` counts among (the member a removal names is not
    /// one) who have no stance that counts, by key.
    pub fn not_answered(&self, decision: &str, now_ms: i64) -> Vec<String> {
        self.decision(decision, now_ms)
            .map(|d| d.not_answered)
            .unwrap_or_default()
    }

    /// Records the outcome of a closed decision: a statement and an optional review date. If
    /// the decision passed and carries a change, recording its outcome enacts the change.
    pub fn record_outcome(
        &mut self,
        me: &Identity,
        decision: &str,
        statement: &str,
        review_at: Option<i64>,
        now_ms: i64,
    ) -> Result<(), DomainError> {
        self.require_admitted(me)?;
        let d = self
            .decision(decision, now_ms)
            .ok_or_else(|| DomainError::NoSuchEntry(decision.to_owned()))?;
        if d.outcome == Outcome::Open {
            return Err(DomainError::Invalid {
                field: "outcome",
                problem: "the decision is still open".into(),
            });
        }
        if d.statement.is_some() {
            return Err(DomainError::Invalid {
                field: "outcome",
                problem: "has already been recorded".into(),
            });
        }
        let statement = statement.trim();
        if statement.chars().count() > 2000 {
            return Err(DomainError::Invalid {
                field: "statement",
                problem: "is longer than 2000 characters".into(),
            });
        }
        let review_at = review_at.unwrap_or(0);
        if review_at != 0 && review_at <= now_ms {
            return Err(DomainError::Invalid {
                field: "review",
                problem: "must be in the future".into(),
            });
        }
        let outcome = OutcomeEntry {
            decision: decision.to_owned(),
            statement: statement.to_owned(),
            review: review_at,
            at: now_ms,
        };
        self.add_entry(me, &format!("outcome:{decision}:"), &outcome)?;
        Ok(())
    }

    /// Verified outcome entries: (id, author, decision, at, entry). A record only adds (the
    /// first valid one per decision counts), so each version its author signed apart at one
    /// id is a record of its own: none makes another vanish.
    pub(crate) fn outcome_entries(&self) -> Vec<(&str, &str, &str, i64, &Raw)> {
        self.every("outcome:")
            .filter_map(|(key, f)| {
                let (decision, id) = key.split_once(':')?;
                let (statement, review, at, author) = (
                    text(f, "statement")?,
                    int(f, "review")?,
                    int(f, "at")?,
                    text(f, "author")?,
                );
                (text(f, "decision") == Some(decision)
                    && within(statement, MAX_STATEMENT)
                    && OutcomeEntry {
                        decision: decision.to_owned(),
                        statement: statement.to_owned(),
                        review,
                        at,
                    }
                    .signed(self.room_id(), id, f))
                .then_some((id, author, decision, at, f))
            })
            .collect()
    }

    /// A decision tallied with the members in `admitted` under `charter` (the governance
    /// replay passes the members and charter of the moment an outcome was recorded). Not derived
    /// (None) unless it verifies, its proposer is in `admitted`, and it is within bounds.
    /// How many stance entries on `decision` were written before `outcome`, in the change
    /// graph (whoever recorded it had them): of two outcome records made without knowing of
    /// each other, the one that saw more counts.
    pub(crate) fn stances_before(&self, decision: &str, outcome: &Raw) -> usize {
        self.entries(&stance_prefix(decision))
            .filter(|(_, s)| self.index.precedes(s, outcome))
            .count()
    }

    pub(crate) fn derive_decision(
        &self,
        id: &str,
        f: &Raw,
        admitted: &BTreeSet<String>,
        charter: &Charter,
        now_ms: i64,
        cut: Option<&Raw>,
    ) -> Option<DecisionView> {
        // With `cut` (an outcome record), only what was written before it in the change graph
        // counts: a stance its recorder had not seen — whatever time it claims — cannot change
        // a recorded outcome.
        if cut.is_some_and(|outcome| !self.index.precedes(f, outcome)) {
            return None;
        }
        let author = text(f, "author")?;
        if !admitted.contains(author) {
            return None;
        }
        // Bounds first: nothing long is split, copied or hashed.
        let (title, options) = (text(f, "title")?, text(f, "options")?);
        if !within(title, MAX_TITLE) || options.len() > MAX_OPTIONS * (4 * MAX_OPTION + 1) {
            return None;
        }
        let options: Vec<String> = match options {
            "" => Vec::new(),
            o => o
                .split('\n')
                .take(MAX_OPTIONS + 1)
                .map(str::to_owned)
                .collect(),
        };
        if options.len() > MAX_OPTIONS || !options.iter().all(|o| within(o, MAX_OPTION)) {
            return None;
        }
        let method = Method::parse(text(f, "method")?)?;
        let p = NewProposal {
            title: title.to_owned(),
            method,
            options,
            closes_at: int(f, "closes_at")?,
            quorum_percent: u32::try_from(int(f, "quorum")?).ok()?,
            amendment: match text(f, "amend").unwrap_or_default() {
                "" => None,
                a => Some(Amendment::parse(a)?),
            },
        };
        let at = int(f, "at")?;
        if !ProposalEntry::new(&p, at).signed(self.room_id(), id, f) {
            return None;
        }
        // The member a removal names takes no part in it: their stance is ignored and they
        // are not counted among the members the quorum is a share of.
        let subject = p
            .amendment
            .as_ref()
            .filter(|a| a.key == "remove")
            .map(|a| a.value.as_str());
        let eligible = |who: &str| admitted.contains(who) && subject != Some(who);
        let floors = p.amendment.is_some().then(|| Floors {
            quorum_percent: charter.quorum_percent,
            min_open_ms: charter.min_open_ms(),
            opened_at: self.opened_at(f, at, admitted),
        });
        let earliest_close = floors.map_or(at, |f| f.opened_at.saturating_add(f.min_open_ms));
        let closure = self.closure_of(id, f, (author, earliest_close, p.closes_at), cut);
        // Every stance that may count, by member: verified, by a member it counts, written
        // after the proposal (and before its proposer's closure, if any), dated between the
        // proposal and its close; each member's in (time, id) order.
        type Candidate<'r> = (i64, &'r str, Stance, &'r str, &'r str, &'r Raw);
        let mut by_member: BTreeMap<&str, Vec<Candidate>> = BTreeMap::new();
        let stances: Box<dyn Iterator<Item = (&str, &Raw)>> = match cut {
            // A recorded outcome re-checks the stances its recorder had.
            Some(outcome) => Box::new(self.entries_before(&stance_prefix(id), outcome)),
            None => Box::new(self.entries(&stance_prefix(id))),
        };
        for (stance_id, s) in stances {
            let (Some(decision), Some(value), Some(stance_at), Some(author)) = (
                text(s, "decision"),
                text(s, "value"),
                int(s, "at"),
                text(s, "author"),
            ) else {
                continue;
            };
            if decision != id
                || stance_at < at
                || stance_at >= p.closes_at
                || !eligible(author)
                || value.len() > MAX_STANCE_VALUE
            {
                continue;
            }
            let reason = text(s, "reason").unwrap_or_default();
            if !within(reason, MAX_REASON) {
                continue;
            }
            let Some(stance) = Stance::parse(value).filter(|s| s.fits(method, p.options.len()))
            else {
                continue;
            };
            // A stance counts only if its author had the proposal, (for a recorded outcome)
            // only if the outcome's recorder had the stance, and (once its proposer closed
            // it) only if it was written before the closure.
            if !self.index.precedes(f, s)
                || cut.is_some_and(|o| !self.index.precedes(s, o))
                || closure.is_some_and(|(_, c)| !self.index.precedes(s, c))
            {
                continue;
            }
            by_member
                .entry(author)
                .or_default()
                .push((stance_at, stance_id, stance, reason, value, s));
        }
        for list in by_member.values_mut() {
            list.sort_by_key(|c| (c.0, c.1));
        }
        // Signatures are checked only of the stances read (a member's first and latest).
        let holds =
            |c: &&Candidate| StanceEntry::new(id, c.4, c.3, c.0).signed(self.room_id(), c.1, c.5);
        let firsts: BTreeMap<&str, i64> = by_member
            .iter()
            .filter_map(|(who, list)| Some((*who, list.iter().find(holds)?.0)))
            .collect();
        // Once every member it counts among has answered, the decision closes by itself: no
        // answer is left to change its result. It closes at the latest of their first answers
        // (for a change, no sooner than the charter's minimum open time); a stance dated after
        // that comes after the close.
        let answered_all = admitted.iter().any(|who| eligible(who))
            && admitted
                .iter()
                .filter(|who| eligible(who))
                .all(|who| firsts.contains_key(who.as_str()));
        let all_answered_at = answered_all
            .then(|| firsts.values().copied().max())
            .flatten()
            .map(|t| t.max(earliest_close))
            .filter(|t| *t < p.closes_at);
        let (mut closes_at, mut closed_early) = (p.closes_at, None);
        if let Some((t, _)) = closure {
            (closes_at, closed_early) = (t, Some(ClosedEarly::ByProposer));
        }
        if let Some(t) = all_answered_at.filter(|t| *t < closes_at) {
            (closes_at, closed_early) = (t, Some(ClosedEarly::AllAnswered));
        }
        // Each member's latest stance (dated no later than an all-answered close).
        let latest: BTreeMap<&str, &Candidate> = by_member
            .iter()
            .filter_map(|(who, list)| {
                let last = list
                    .iter()
                    .rev()
                    .filter(|c| all_answered_at.is_none_or(|t| c.0 <= t))
                    .find(holds)?;
                Some((*who, last))
            })
            .collect();
        let stances: Vec<&Stance> = latest.values().map(|c| &c.2).collect();
        let members = admitted.len() - usize::from(subject.is_some_and(|s| admitted.contains(s)));
        // What the tally counted, listed for everyone; and who it counts among but has not
        // answered.
        let mut shown: Vec<(i64, &str, ShownStance)> = latest
            .iter()
            .map(|(member, (at, stance_id, stance, reason, _, _))| {
                let s = ShownStance {
                    member: (*member).to_owned(),
                    stance: stance.clone(),
                    reason: (*reason).to_owned(),
                    at: *at,
                };
                (*at, *stance_id, s)
            })
            .collect();
        shown.sort_by_key(|(t, i, _)| (*t, *i));
        let stances_shown: Vec<ShownStance> = shown.into_iter().map(|(_, _, s)| s).collect();
        let not_answered: Vec<String> = admitted
            .iter()
            .filter(|who| eligible(who) && !latest.contains_key(who.as_str()))
            .cloned()
            .collect();
        let p = NewProposal { closes_at, ..p };
        let mut view = tally(
            id.to_owned(),
            (author.to_owned(), at),
            p,
            &stances,
            (members, floors),
            now_ms,
        );
        view.closed_early = closed_early.filter(|_| view.outcome != Outcome::Open);
        view.earliest_close = earliest_close;
        view.stances = stances_shown;
        view.not_answered = not_answered;
        Some(view)
    }
}

impl RoomDoc {
    /// The closure of decision `id` (proposal `f`) that counts, as (when, entry): signed by
    /// the proposer `author`, written after the proposal (and, with `cut`, before it), dated
    /// from `earliest` (the charter's minimum for a change) to before `closes_at`; of several,
    /// the earliest by (time, id).
    fn closure_of<'r>(
        &'r self,
        id: &str,
        f: &Raw,
        (author, earliest, closes_at): (&str, i64, i64),
        cut: Option<&Raw>,
    ) -> Option<(i64, &'r Raw)> {
        let mut found: Vec<(i64, &str, &Raw)> = self
            .every(&format!("closure:{id}:"))
            .filter_map(|(cid, c)| {
                let at = int(c, "at")?;
                (text(c, "author") == Some(author)
                    && text(c, "decision") == Some(id)
                    && (earliest..closes_at).contains(&at))
                .then_some((at, cid, c))
            })
            .filter(|(_, _, c)| {
                self.index.precedes(f, c) && cut.is_none_or(|o| self.index.precedes(c, o))
            })
            .collect();
        found.sort_by_key(|(at, cid, _)| (*at, *cid));
        found
            .into_iter()
            .find(|(at, cid, c)| {
                ClosureEntry {
                    decision: id.to_owned(),
                    at: *at,
                }
                .signed(self.room_id(), cid, c)
            })
            .map(|(at, _, c)| (at, c))
    }
}

/// How far a proposal's claimed time may trail what its writer had seen (clocks differ).
const CLOCK_SKEW_MS: i64 = 10 * 60 * 1000;

impl RoomDoc {
    /// When the proposal `f` (claiming `at`) opened, for the charter's minimum open time: no
    /// earlier than what others had signed before it. A proposal is written after everything
    /// in its causal past, so if two admitted members other than its author had signed
    /// entries dated later than it claims, it was written after the second-latest of those
    /// (give or take clock skew) and opens then: a member who dates a proposal back on the
    /// room as it stands cannot shorten its vote. Two members' dates are needed, so one member
    /// dating their own entries far ahead cannot make every later vote "too short" (as any
    /// unsigned or single date would). A proposal dated back on an older state of the room,
    /// hidden from the others, still opens when it says; it needs colluders for the quorum,
    /// and arrives marked late in Room integrity.
    fn opened_at(&self, f: &Raw, at: i64, admitted: &BTreeSet<String>) -> i64 {
        let bound = at.saturating_add(CLOCK_SKEW_MS);
        // (The index knows the latest date, checked or not, in every change's past: most
        // proposals need no more.)
        if self.index.latest_before(f) <= bound {
            return at;
        }
        let key = {
            use std::hash::{Hash, Hasher};
            let mut hasher = std::collections::hash_map::DefaultHasher::new();
            // (A change could hold more than one proposal.)
            (admitted, at).hash(&mut hasher);
            (f.anchor().change(), hasher.finish())
        };
        if let Some(known) = self.opened.borrow().get(&key) {
            return *known;
        }
        let opened = self.opened_after_others(f, at, admitted);
        self.opened.borrow_mut().insert(key, opened);
        opened
    }

    /// [`RoomDoc::opened_at`] worked out: a pass over the entries in the proposal's past.
    fn opened_after_others(&self, f: &Raw, at: i64, admitted: &BTreeSet<String>) -> i64 {
        let past = self.index.past_of(f);
        self.dated_by_others(at, f.author(), admitted, |v| past.holds(v))
            .map_or(at, |t| t.max(at))
    }

    /// Of the entries `seen` (in a writer's past) signed by admitted members other than
    /// `author` and dated later than `at` allows for clock skew, the second-latest date
    /// across two members, less the skew: the earliest the writer can have written.
    fn dated_by_others(
        &self,
        at: i64,
        author: Option<&str>,
        admitted: &BTreeSet<String>,
        seen: impl Fn(&Raw) -> bool,
    ) -> Option<i64> {
        let bound = at.saturating_add(CLOCK_SKEW_MS);
        let mut later: Vec<(i64, &str, &str, &Raw)> = self
            .index
            .range_versions("")
            .flat_map(|(key, versions)| versions.iter().map(move |v| (key, v)))
            .filter_map(|(key, v)| {
                let t = int(v, "at").filter(|t| *t > bound)?;
                let who = v
                    .author()
                    .filter(|w| Some(*w) != author && admitted.contains(*w))?;
                seen(v).then_some((t, who, key, v))
            })
            .collect();
        later.sort_by_key(|l| std::cmp::Reverse(l.0));
        let mut authors: Vec<&str> = Vec::new();
        for (t, who, key, v) in later {
            if authors.contains(&who) || !self.signature_holds(key, v) {
                continue;
            }
            authors.push(who);
            if authors.len() == 2 {
                return Some(t.saturating_sub(CLOCK_SKEW_MS));
            }
        }
        None
    }
}

/// What the charter asks of a decision that carries a change.
#[derive(Debug, Clone, Copy)]
struct Floors {
    /// The least quorum, whatever the proposal asked for.
    quorum_percent: u32,
    /// The least time between the proposal and its close.
    min_open_ms: i64,
    /// When the proposal opened, for that rule.
    opened_at: i64,
}

/// A decision's stances live at `stance:<decision>:<id>`: one range of the index each.
fn stance_prefix(decision: &str) -> String {
    format!("stance:{decision}:")
}

fn tally(
    id: String,
    (author, proposed_at): (String, i64),
    p: NewProposal,
    stances: &[&Stance],
    (admitted, floors): (usize, Option<Floors>),
    now_ms: i64,
) -> DecisionView {
    let n = p.options.len();
    let (totals, winner): (Vec<u64>, Option<usize>) = match p.method {
        Method::Consent => {
            let mut t = vec![0u64; 4];
            for s in stances {
                let i = match s {
                    Stance::Agree => 0,
                    Stance::Abstain => 1,
                    Stance::Disagree => 2,
                    _ => 3,
                };
                t[i] += 1;
            }
            (t, None)
        }
        Method::Majority => {
            let mut t = vec![0u64; n];
            for s in stances {
                if let Stance::Choose(i) = s {
                    t[*i] += 1;
                }
            }
            let w = best(&t);
            (t, w)
        }
        Method::Score | Method::Dots(_) => {
            let mut t = vec![0u64; n];
            for s in stances {
                if let Stance::Scores(v) | Stance::Dots(v) = s {
                    for (i, x) in v.iter().enumerate() {
                        t[i] += u64::from(*x);
                    }
                }
            }
            let w = best(&t);
            (t, w)
        }
        Method::Ranked => {
            let ballots: Vec<Vec<usize>> = stances
                .iter()
                .filter_map(|s| match s {
                    Stance::Ranking(v) => Some(v.clone()),
                    _ => None,
                })
                .collect();
            let (w, first) = instant_runoff(n, &ballots);
            (first, w)
        }
    };
    let participants = stances.len();
    let quorum = floors.map_or(p.quorum_percent, |f| p.quorum_percent.max(f.quorum_percent));
    let outcome = if now_ms < p.closes_at {
        Outcome::Open
    } else if floors.is_some_and(|f| p.closes_at.saturating_sub(f.opened_at) < f.min_open_ms) {
        Outcome::TooShort
    } else if (participants as u64) * 100 < u64::from(quorum) * admitted as u64 {
        Outcome::NoQuorum
    } else if p.method == Method::Consent {
        if totals[3] > 0 {
            Outcome::Blocked
        } else if totals[0] <= totals[2] {
            Outcome::Rejected
        } else if floors.is_some() && totals[0] < MIN_AGREEING {
            Outcome::TooFewAgreed
        } else {
            Outcome::Passed { winner: None }
        }
    } else {
        match winner {
            Some(w) => Outcome::Passed { winner: Some(w) },
            None => Outcome::Rejected,
        }
    };
    DecisionView {
        id,
        title: p.title,
        method: p.method,
        options: p.options,
        closes_at: p.closes_at,
        quorum_percent: p.quorum_percent,
        amendment: p.amendment,
        author,
        proposed_at,
        participants,
        totals,
        outcome,
        statement: None,
        enacted: false,
        stances: Vec::new(),
        not_answered: Vec::new(),
        closed_early: None,
        earliest_close: proposed_at,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A room with `n` admitted members; returns their identities (the first is the founder).
    fn room(n: usize) -> (RoomDoc, Vec<Identity>) {
        crate::domain::testing::community(n)
    }

    fn proposal(method: Method, options: &[&str]) -> NewProposal {
        NewProposal {
            title: "Buy a cargo bike".into(),
            method,
            options: options.iter().map(|s| s.to_string()).collect(),
            closes_at: 1_000,
            quorum_percent: 50,
            amendment: None,
        }
    }

    #[test]
    fn consent_passes_is_blocked_and_latest_stance_counts() {
        let (mut r, m) = room(4);
        let d = r
            .propose(&m[0], proposal(Method::Consent, &[]), 100)
            .unwrap();
        r.take_stance(&m[0], &d, Stance::Agree, "", 101).unwrap();
        r.take_stance(&m[1], &d, Stance::Block, "too dear", 102)
            .unwrap();
        r.take_stance(&m[2], &d, Stance::Disagree, "", 103).unwrap();
        assert_eq!(r.decision(&d, 500).unwrap().outcome, Outcome::Open);
        assert_eq!(r.decision(&d, 1_000).unwrap().outcome, Outcome::Blocked);
        // m1 changes their mind before closing: the latest stance counts, once.
        r.take_stance(&m[1], &d, Stance::Agree, "convinced", 104)
            .unwrap();
        let v = r.decision(&d, 1_000).unwrap();
        assert_eq!((v.participants, v.totals.clone()), (3, vec![2, 0, 1, 0]));
        assert_eq!(v.outcome, Outcome::Passed { winner: None });
    }

    /// The listed stances, as (member key, stance, reason, at).
    fn shown(r: &RoomDoc, d: &str, now: i64) -> Vec<(String, Stance, String, i64)> {
        r.stances_shown(d, now)
            .into_iter()
            .map(|s| (s.member, s.stance, s.reason, s.at))
            .collect()
    }

    fn keys(of: &[&Identity]) -> Vec<String> {
        let mut k: Vec<String> = of.iter().map(|m| m.public()).collect();
        k.sort();
        k
    }

    #[test]
    fn counted_stances_are_listed_with_their_reasons_a_later_one_replacing_an_earlier() {
        let (mut r, m) = room(4);
        let d = r
            .propose(&m[0], proposal(Method::Consent, &[]), 100)
            .unwrap();
        assert!(r.stances_shown(&d, 100).is_empty());
        assert_eq!(r.not_answered(&d, 100), keys(&[&m[0], &m[1], &m[2], &m[3]]));
        r.take_stance(&m[1], &d, Stance::Block, "too dear", 101)
            .unwrap();
        r.take_stance(&m[2], &d, Stance::Agree, "", 102).unwrap();
        assert_eq!(
            shown(&r, &d, 200),
            vec![
                (m[1].public(), Stance::Block, "too dear".into(), 101),
                (m[2].public(), Stance::Agree, String::new(), 102),
            ]
        );
        // Bo changes their mind: the later stance replaces the earlier one in the list.
        r.take_stance(&m[1], &d, Stance::Disagree, "still dear", 103)
            .unwrap();
        assert_eq!(
            shown(&r, &d, 200),
            vec![
                (m[2].public(), Stance::Agree, String::new(), 102),
                (m[1].public(), Stance::Disagree, "still dear".into(), 103),
            ]
        );
        assert_eq!(r.not_answered(&d, 200), keys(&[&m[0], &m[3]]));
        // The list is what the tally counts.
        let v = r.decision(&d, 200).unwrap();
        assert_eq!(v.participants, v.stances.len());
        assert!(r.stances_shown("no-such-decision", 200).is_empty());
    }

    #[test]
    fn a_forged_or_uncounted_stance_is_not_listed() {
        use automerge::{transaction::Transactable, ObjType, ROOT};
        let (mut r, m) = room(4);
        let d = r
            .propose(&m[0], proposal(Method::Consent, &[]), 100)
            .unwrap();
        // Dated before the proposal; by someone not admitted; not fitting the method; after
        // the close.
        raw_stance(&mut r, &m[1], &d, &Stance::Block, 99);
        let stranger = Identity::generate();
        raw_stance(&mut r, &stranger, &d, &Stance::Block, 101);
        raw_stance(&mut r, &m[2], &d, &Stance::Choose(0), 102);
        raw_stance(&mut r, &m[3], &d, &Stance::Block, 1_000);
        // A block claiming Member 2 as its author, with a signature that holds for nobody.
        let key = format!("{}forged", stance_prefix(&d));
        let obj = r.doc.put_object(ROOT, key.as_str(), ObjType::Map).unwrap();
        for (k, v) in [
            ("decision", d.as_str()),
            ("value", "block"),
            ("reason", "forged"),
        ] {
            r.doc.put(&obj, k, v).unwrap();
        }
        r.doc.put(&obj, "at", 103).unwrap();
        r.doc.put(&obj, "author", m[2].public()).unwrap();
        r.doc.put(&obj, "sig", "forged").unwrap();
        r.commit();
        r.take_stance(&m[0], &d, Stance::Agree, "fine", 104)
            .unwrap();
        assert_eq!(
            shown(&r, &d, 2_000),
            vec![(m[0].public(), Stance::Agree, "fine".into(), 104)]
        );
        assert_eq!(r.decision(&d, 2_000).unwrap().participants, 1);
        assert_eq!(r.not_answered(&d, 2_000), keys(&[&m[1], &m[2], &m[3]]));
    }

    #[test]
    fn the_member_a_removal_names_is_neither_listed_nor_waited_for() {
        let (mut r, m) = room(3);
        let d = r
            .propose(&m[0], change("remove", &m[2].public(), 50, LONG), 0)
            .unwrap();
        r.take_stance(&m[2], &d, Stance::Block, "not me", 1)
            .unwrap();
        r.take_stance(&m[0], &d, Stance::Agree, "", 2).unwrap();
        assert_eq!(
            shown(&r, &d, 3),
            vec![(m[0].public(), Stance::Agree, String::new(), 2)]
        );
        assert_eq!(r.not_answered(&d, 3), vec![m[1].public()]);
    }

    #[test]
    fn refusals_closed_unadmitted_and_ill_fitting_stances() {
        let (mut r, m) = room(2);
        let d = r
            .propose(&m[0], proposal(Method::Majority, &["yes", "no"]), 100)
            .unwrap();
        assert_eq!(
            r.take_stance(&m[1], &d, Stance::Choose(0), "", 1_000),
            Err(DomainError::DecisionClosed)
        );
        let stranger = Identity::generate();
        assert_eq!(
            r.take_stance(&stranger, &d, Stance::Choose(0), "", 200),
            Err(DomainError::NotAdmitted)
        );
        assert!(matches!(
            r.take_stance(&m[1], &d, Stance::Choose(2), "", 200),
            Err(DomainError::Invalid { .. })
        ));
        assert!(matches!(
            r.take_stance(&m[1], &d, Stance::Agree, "", 200),
            Err(DomainError::Invalid { .. })
        ));
        assert!(matches!(
            r.propose(&m[0], proposal(Method::Majority, &["only"]), 100),
            Err(DomainError::Invalid {
                field: "options",
                ..
            })
        ));
        let mut past = proposal(Method::Consent, &[]);
        past.closes_at = 50;
        assert!(matches!(
            r.propose(&m[0], past, 100),
            Err(DomainError::Invalid {
                field: "closes_at",
                ..
            })
        ));
        assert_eq!(
            r.propose(&stranger, proposal(Method::Consent, &[]), 100),
            Err(DomainError::NotAdmitted)
        );
    }

    #[test]
    fn majority_ties_go_to_the_lower_option_and_quorum_is_enforced() {
        let (mut r, m) = room(4);
        let d = r
            .propose(&m[0], proposal(Method::Majority, &["a", "b", "c"]), 100)
            .unwrap();
        r.take_stance(&m[0], &d, Stance::Choose(2), "", 101)
            .unwrap();
        assert_eq!(r.decision(&d, 1_000).unwrap().outcome, Outcome::NoQuorum);
        r.take_stance(&m[1], &d, Stance::Choose(1), "", 102)
            .unwrap();
        let v = r.decision(&d, 1_000).unwrap();
        assert_eq!(v.totals, vec![0, 1, 1]);
        assert_eq!(v.outcome, Outcome::Passed { winner: Some(1) });
    }

    #[test]
    fn score_and_dot_votes_sum_per_option() {
        let (mut r, m) = room(3);
        let s = r
            .propose(&m[0], proposal(Method::Score, &["x", "y"]), 100)
            .unwrap();
        r.take_stance(&m[0], &s, Stance::Scores(vec![5, 1]), "", 101)
            .unwrap();
        r.take_stance(&m[1], &s, Stance::Scores(vec![0, 4]), "", 102)
            .unwrap();
        assert!(r
            .take_stance(&m[2], &s, Stance::Scores(vec![6, 0]), "", 103)
            .is_err());
        let v = r.decision(&s, 2_000).unwrap();
        assert_eq!(
            (v.totals, v.outcome),
            (vec![5, 5], Outcome::Passed { winner: Some(0) })
        );

        let d = r
            .propose(&m[0], proposal(Method::Dots(3), &["x", "y", "z"]), 100)
            .unwrap();
        r.take_stance(&m[0], &d, Stance::Dots(vec![0, 3, 0]), "", 101)
            .unwrap();
        r.take_stance(&m[1], &d, Stance::Dots(vec![1, 0, 2]), "", 102)
            .unwrap();
        assert!(r
            .take_stance(&m[2], &d, Stance::Dots(vec![2, 2, 0]), "", 103)
            .is_err());
        let v = r.decision(&d, 2_000).unwrap();
        assert_eq!(
            (v.totals, v.outcome),
            (vec![1, 3, 2], Outcome::Passed { winner: Some(1) })
        );
    }

    #[test]
    fn instant_runoff_transfers_eliminated_preferences() {
        // First preferences: a 4, b 3, c 2 (no majority of 9). c goes; its ballots prefer b.
        let mut ballots = vec![vec![0, 1]; 4];
        ballots.extend(vec![vec![1, 0]; 3]);
        ballots.extend(vec![vec![2, 1]; 2]);
        assert_eq!(instant_runoff(3, &ballots), (Some(1), vec![4, 3, 2]));
        // Exhausted ballots drop out; an outright majority wins at once.
        assert_eq!(
            instant_runoff(2, &[vec![0], vec![0], vec![1]]),
            (Some(0), vec![2, 1])
        );
        assert_eq!(instant_runoff(2, &[]).0, None);
        // Through the room: a ranking must name distinct options.
        let (mut r, m) = room(3);
        let d = r
            .propose(&m[0], proposal(Method::Ranked, &["a", "b", "c"]), 100)
            .unwrap();
        assert!(r
            .take_stance(&m[0], &d, Stance::Ranking(vec![0, 0]), "", 101)
            .is_err());
        r.take_stance(&m[0], &d, Stance::Ranking(vec![2, 0]), "", 101)
            .unwrap();
        r.take_stance(&m[1], &d, Stance::Ranking(vec![0]), "", 102)
            .unwrap();
        r.take_stance(&m[2], &d, Stance::Ranking(vec![1, 0]), "", 103)
            .unwrap();
        // a 1, b 1, c 1: c (highest index among the lowest) goes, then b; a wins 2 to 0.
        assert_eq!(
            r.decision(&d, 2_000).unwrap().outcome,
            Outcome::Passed { winner: Some(0) }
        );
    }

    #[test]
    fn stances_of_members_who_left_no_longer_count() {
        let (mut r, m) = room(3);
        let d = r
            .propose(&m[0], proposal(Method::Consent, &[]), 100)
            .unwrap();
        r.take_stance(&m[1], &d, Stance::Block, "", 101).unwrap();
        r.take_stance(&m[0], &d, Stance::Agree, "", 102).unwrap();
        r.leave(&m[1], 103).unwrap();
        let v = r.decision(&d, 2_000).unwrap();
        assert_eq!(v.participants, 1);
        assert_eq!(v.outcome, Outcome::Passed { winner: None });
    }

    // Adversarial: a modified client writes whatever it likes, signed with its own key. The
    // rules hold where tallies and standing are derived.

    const HOUR: i64 = 60 * 60 * 1000;
    /// Open long enough for a change under the default charter (48 hours).
    const LONG: i64 = 49 * HOUR;

    /// A proposal written as a modified client would: signed, past every check of `propose`.
    fn raw_proposal(r: &mut RoomDoc, by: &Identity, p: &NewProposal, at: i64) -> String {
        r.add_entry(by, "decision:", &ProposalEntry::new(p, at))
            .unwrap()
    }

    /// A stance written directly, with any claimed time.
    fn raw_stance(r: &mut RoomDoc, by: &Identity, decision: &str, stance: &Stance, at: i64) {
        let entry = StanceEntry::new(decision, &stance.encode(), "", at);
        r.add_entry(by, &stance_prefix(decision), &entry).unwrap();
    }

    /// An outcome written directly, with any claimed time.
    fn raw_outcome(r: &mut RoomDoc, by: &Identity, decision: &str, at: i64) {
        let outcome = OutcomeEntry {
            decision: decision.to_owned(),
            statement: "done".into(),
            review: 0,
            at,
        };
        r.add_entry(by, &format!("outcome:{decision}:"), &outcome)
            .unwrap();
    }

    fn standing(r: &RoomDoc, who: &Identity) -> crate::domain::Standing {
        r.members()
            .into_iter()
            .find(|m| m.key == who.public())
            .unwrap()
            .standing
    }

    fn change(key: &str, value: &str, quorum_percent: u32, closes_at: i64) -> NewProposal {
        NewProposal {
            title: format!("{key} {value}"),
            method: Method::Consent,
            options: vec![],
            closes_at,
            quorum_percent,
            amendment: Some(Amendment::new(key, value)),
        }
    }

    /// A closure written directly, with any claimed time.
    fn raw_closure(r: &mut RoomDoc, by: &Identity, decision: &str, at: i64) {
        let entry = ClosureEntry {
            decision: decision.to_owned(),
            at,
        };
        r.add_entry(by, &format!("closure:{decision}:"), &entry)
            .unwrap();
    }

    #[test]
    fn its_proposer_closes_a_decision_early_and_what_comes_after_counts_for_nothing() {
        let (mut r, m) = room(4);
        let d = r
            .propose(&m[0], proposal(Method::Consent, &[]), 100)
            .unwrap();
        r.take_stance(&m[1], &d, Stance::Agree, "", 101).unwrap();
        r.take_stance(&m[2], &d, Stance::Agree, "", 102).unwrap();
        // Only the proposer may close it.
        assert!(matches!(
            r.close_decision(&m[1], &d, 150),
            Err(DomainError::Invalid {
                field: "decision",
                ..
            })
        ));
        // A modified client's closure signed by another member does nothing either.
        raw_closure(&mut r, &m[1], &d, 150);
        assert_eq!(r.decision(&d, 300).unwrap().outcome, Outcome::Open);
        r.close_decision(&m[0], &d, 200).unwrap();
        let v = r.decision(&d, 200).unwrap();
        assert_eq!(v.outcome, Outcome::Passed { winner: None });
        assert_eq!(
            (v.closes_at, v.closed_early),
            (200, Some(ClosedEarly::ByProposer))
        );
        // Before its closure's time it still shows open (a closure dated ahead closes nothing
        // sooner).
        assert_eq!(r.decision(&d, 199).unwrap().outcome, Outcome::Open);
        assert!(matches!(
            r.take_stance(&m[3], &d, Stance::Block, "", 201),
            Err(DomainError::DecisionClosed)
        ));
        assert!(matches!(
            r.close_decision(&m[0], &d, 201),
            Err(DomainError::DecisionClosed)
        ));
        // A block written after the closure, dated before it, does not count.
        raw_stance(&mut r, &m[3], &d, &Stance::Block, 150);
        let v = r.decision(&d, 300).unwrap();
        assert_eq!(v.outcome, Outcome::Passed { winner: None });
        assert_eq!(v.participants, 2);
        assert_eq!(v.not_answered, keys(&[&m[0], &m[3]]));
    }

    #[test]
    fn of_two_closures_the_earlier_counts_and_one_before_the_proposal_none() {
        let (mut r, m) = room(4);
        let d = r
            .propose(&m[0], proposal(Method::Consent, &[]), 100)
            .unwrap();
        raw_closure(&mut r, &m[0], &d, 50);
        assert_eq!(r.decision(&d, 300).unwrap().outcome, Outcome::Open);
        raw_closure(&mut r, &m[0], &d, 400);
        raw_closure(&mut r, &m[0], &d, 300);
        let v = r.decision(&d, 500).unwrap();
        assert_eq!(
            (v.closes_at, v.outcome),
            (300, Outcome::NoQuorum),
            "closed at the earlier"
        );
    }

    #[test]
    fn a_change_cannot_be_closed_before_the_charter_s_minimum_open_time() {
        let (mut r, m) = room(4);
        let d = r
            .propose(&m[0], change("purpose", "Tools", 50, 10 + 2 * LONG), 10)
            .unwrap();
        for who in &m[..3] {
            r.take_stance(who, &d, Stance::Agree, "", 20).unwrap();
        }
        let min = r.decision(&d, 30).unwrap().earliest_close;
        assert_eq!(min, 10 + r.charter(30).min_open_ms());
        assert!(matches!(
            r.close_decision(&m[0], &d, min - 1),
            Err(DomainError::Invalid {
                field: "decision",
                ..
            })
        ));
        // A closure dated before the minimum, written by a modified client, is ignored.
        raw_closure(&mut r, &m[0], &d, min - 1);
        assert_eq!(r.decision(&d, min).unwrap().outcome, Outcome::Open);
        r.close_decision(&m[0], &d, min).unwrap();
        let v = r.decision(&d, min).unwrap();
        assert_eq!(v.outcome, Outcome::Passed { winner: None });
        // Recording its outcome enacts it.
        r.record_outcome(&m[1], &d, "Tools", None, min + 1).unwrap();
        assert!(r.decision(&d, min + 2).unwrap().enacted);
        assert_eq!(r.charter(min + 2).purpose, "Tools");
    }

    #[test]
    fn a_decision_closes_by_itself_once_every_member_has_answered() {
        let (mut r, m) = room(3);
        let d = r
            .propose(&m[0], proposal(Method::Majority, &["Red", "Blue"]), 100)
            .unwrap();
        r.take_stance(&m[0], &d, Stance::Choose(0), "", 110)
            .unwrap();
        r.take_stance(&m[1], &d, Stance::Choose(1), "", 120)
            .unwrap();
        // Changing one's mind while others have not answered counts.
        r.take_stance(&m[0], &d, Stance::Choose(1), "", 130)
            .unwrap();
        assert_eq!(r.decision(&d, 500).unwrap().outcome, Outcome::Open);
        r.take_stance(&m[2], &d, Stance::Choose(0), "", 140)
            .unwrap();
        let v = r.decision(&d, 140).unwrap();
        assert_eq!(v.outcome, Outcome::Passed { winner: Some(1) });
        assert_eq!(
            (v.closes_at, v.closed_early),
            (140, Some(ClosedEarly::AllAnswered))
        );
        assert!(matches!(
            r.take_stance(&m[0], &d, Stance::Choose(0), "", 150),
            Err(DomainError::DecisionClosed)
        ));
        // A change of mind dated after everyone had answered does not count.
        raw_stance(&mut r, &m[0], &d, &Stance::Choose(0), 150);
        raw_stance(&mut r, &m[1], &d, &Stance::Choose(0), 151);
        let v = r.decision(&d, 500).unwrap();
        assert_eq!(v.outcome, Outcome::Passed { winner: Some(1) });
        assert_eq!(v.totals, vec![1, 2]);
    }

    #[test]
    fn a_change_everyone_answered_closes_no_sooner_than_the_charter_allows() {
        let (mut r, m) = room(3);
        let target = m[2].public();
        let d = r
            .propose(&m[0], change("remove", &target, 50, 10 + 2 * LONG), 10)
            .unwrap();
        // Everyone it counts among (not the member it would remove) agrees at once.
        r.take_stance(&m[0], &d, Stance::Agree, "", 20).unwrap();
        r.take_stance(&m[1], &d, Stance::Agree, "", 30).unwrap();
        let min = r.decision(&d, 40).unwrap().earliest_close;
        assert_eq!(r.decision(&d, min - 1).unwrap().outcome, Outcome::Open);
        let v = r.decision(&d, min).unwrap();
        assert_eq!(
            (v.outcome, v.closes_at, v.closed_early),
            (
                Outcome::Passed { winner: None },
                min,
                Some(ClosedEarly::AllAnswered)
            )
        );
    }

    /// Two members' entries are dated two hours ahead of this device's clock: a change it
    /// proposes to close just after the minimum would count as open less than that on every
    /// device, so the command says so (and a later close is accepted).
    #[test]
    fn a_change_proposed_on_a_clock_behind_the_room_s_is_refused_with_the_reason() {
        let (mut r, m) = room(3);
        let ahead = 10 * HOUR;
        r.pay_hours(&m[1], &m[2].public(), 5, "", ahead).unwrap();
        r.pay_hours(&m[2], &m[1].public(), 5, "", ahead).unwrap();
        let now = ahead - 2 * HOUR;
        let err = r
            .propose(&m[0], change("purpose", "Tools", 50, now + LONG), now)
            .unwrap_err();
        assert!(
            matches!(&err, DomainError::Invalid { field: "closes_at", problem } if problem.contains("behind")),
            "{err}"
        );
        let d = r
            .propose(&m[0], change("purpose", "Tools", 50, ahead + LONG), now)
            .unwrap();
        for (i, who) in m.iter().enumerate() {
            r.take_stance(who, &d, Stance::Agree, "", ahead + i as i64)
                .unwrap();
        }
        r.record_outcome(&m[0], &d, "Agreed", None, ahead + LONG)
            .unwrap();
        assert_eq!(r.charter(ahead + LONG).purpose, "Tools");
    }

    #[test]
    fn a_removal_open_for_a_millisecond_with_no_quorum_is_not_enacted() {
        let (mut r, m) = room(5);
        let target = m[1].public();
        let d = raw_proposal(&mut r, &m[0], &change("remove", &target, 0, 51), 50);
        for who in [&m[0], &m[2], &m[3], &m[4]] {
            raw_stance(&mut r, who, &d, &Stance::Agree, 50);
        }
        raw_outcome(&mut r, &m[0], &d, 51);
        assert_eq!(standing(&r, &m[1]), crate::domain::Standing::Admitted);
        assert!(!r.decision(&d, 100).unwrap().enacted);
    }

    #[test]
    fn the_member_being_removed_cannot_block_it_nor_count_towards_quorum() {
        let (mut r, m) = room(4);
        let d = r
            .propose(&m[0], change("remove", &m[3].public(), 50, LONG), 0)
            .unwrap();
        r.take_stance(&m[0], &d, Stance::Agree, "", 1).unwrap();
        r.take_stance(&m[1], &d, Stance::Agree, "", 2).unwrap();
        r.take_stance(&m[3], &d, Stance::Block, "not me", 3)
            .unwrap();
        let v = r.decision(&d, LONG).unwrap();
        assert_eq!(v.participants, 2);
        assert_eq!(v.outcome, Outcome::Passed { winner: None });
        r.record_outcome(&m[0], &d, "Removed", None, LONG).unwrap();
        assert_eq!(standing(&r, &m[3]), crate::domain::Standing::Removed);

        // Their taking part does not make the quorum either: 2 of the 5 others is below half.
        let (mut r, m) = room(6);
        let d = r
            .propose(&m[0], change("remove", &m[5].public(), 50, LONG), 0)
            .unwrap();
        r.take_stance(&m[0], &d, Stance::Agree, "", 1).unwrap();
        r.take_stance(&m[1], &d, Stance::Agree, "", 2).unwrap();
        r.take_stance(&m[5], &d, Stance::Abstain, "", 3).unwrap();
        r.record_outcome(&m[0], &d, "Removed?", None, LONG).unwrap();
        assert_eq!(standing(&r, &m[5]), crate::domain::Standing::Admitted);
    }

    #[test]
    fn a_decision_proposed_by_a_key_not_admitted_is_not_derived() {
        let (mut r, m) = room(3);
        let stranger = Identity::generate();
        let d = raw_proposal(&mut r, &stranger, &proposal(Method::Consent, &[]), 100);
        assert!(r.decision(&d, 200).is_none());
        assert!(r.decisions(200).iter().all(|v| v.id != d));
        // Nor does a stranger's change pass, whoever agrees.
        let c = raw_proposal(&mut r, &stranger, &change("approvals", "1", 100, LONG), 0);
        for (i, who) in m.iter().enumerate() {
            raw_stance(&mut r, who, &c, &Stance::Agree, 1 + i as i64);
        }
        raw_outcome(&mut r, &m[0], &c, LONG);
        assert_eq!(r.charter(LONG + 1).approvals, 2);
    }

    #[test]
    fn a_decision_with_ten_thousand_options_is_not_derived_and_stays_fast() {
        let (mut r, m) = room(2);
        let options: Vec<String> = (0..10_000).map(|i| format!("o{i}")).collect();
        let p = NewProposal {
            options,
            ..proposal(Method::Ranked, &[])
        };
        let d = raw_proposal(&mut r, &m[0], &p, 100);
        raw_stance(&mut r, &m[0], &d, &Stance::Ranking(vec![0]), 101);
        raw_stance(&mut r, &m[1], &d, &Stance::Ranking(vec![1]), 102);
        let start = std::time::Instant::now();
        for _ in 0..10 {
            assert!(r.decision(&d, 2_000).is_none());
            assert!(r.decisions(2_000).is_empty());
        }
        assert!(
            start.elapsed() < std::time::Duration::from_millis(500),
            "{:?}",
            start.elapsed()
        );
    }

    #[test]
    fn a_stance_dated_before_the_proposal_does_not_count() {
        let (mut r, m) = room(4);
        let d = r
            .propose(&m[0], proposal(Method::Consent, &[]), 100)
            .unwrap();
        raw_stance(&mut r, &m[1], &d, &Stance::Block, 99);
        r.take_stance(&m[0], &d, Stance::Agree, "", 101).unwrap();
        r.take_stance(&m[2], &d, Stance::Agree, "", 102).unwrap();
        let v = r.decision(&d, 1_000).unwrap();
        assert_eq!((v.participants, v.totals.clone()), (2, vec![2, 0, 0, 0]));
        assert_eq!(v.outcome, Outcome::Passed { winner: None });
    }

    #[test]
    fn one_agreeing_member_alone_cannot_pass_a_change() {
        let (mut r, m) = room(4);
        let d = r
            .propose(&m[0], change("purpose", "Mine alone", 50, LONG), 0)
            .unwrap();
        r.take_stance(&m[0], &d, Stance::Agree, "", 1).unwrap();
        for (i, who) in m.iter().enumerate().skip(1) {
            r.take_stance(who, &d, Stance::Abstain, "", 1 + i as i64)
                .unwrap();
        }
        assert_eq!(r.decision(&d, LONG).unwrap().participants, 4);
        r.record_outcome(&m[0], &d, "Passed?", None, LONG).unwrap();
        assert_eq!(r.charter(LONG + 1).purpose, "");
        assert!(!r.decision(&d, LONG + 1).unwrap().enacted);
    }

    #[test]
    fn a_change_needs_the_charters_quorum_whatever_it_asked_for() {
        // Four of six is two thirds; the proposal asked for none, the charter asks for three
        // quarters.
        let (mut r, m) = room(6);
        let raise = r
            .propose(&m[0], change("quorum_percent", "75", 50, LONG), 0)
            .unwrap();
        for (i, who) in m.iter().enumerate() {
            r.take_stance(who, &raise, Stance::Agree, "", 1 + i as i64)
                .unwrap();
        }
        r.record_outcome(&m[0], &raise, "75%", None, LONG).unwrap();
        assert_eq!(r.charter(LONG).quorum_percent, 75);
        let d = raw_proposal(
            &mut r,
            &m[0],
            &change("approvals", "1", 0, 2 * LONG),
            LONG + 1,
        );
        for (i, who) in m.iter().take(4).enumerate() {
            raw_stance(&mut r, who, &d, &Stance::Agree, LONG + 2 + i as i64);
        }
        raw_outcome(&mut r, &m[0], &d, 2 * LONG);
        assert_eq!(r.charter(2 * LONG + 1).approvals, 2);
    }

    #[test]
    fn oversized_texts_are_not_read() {
        let (mut r, m) = room(3);
        let long_title = NewProposal {
            title: "x".repeat(MAX_TITLE + 1),
            ..proposal(Method::Consent, &[])
        };
        let d = raw_proposal(&mut r, &m[0], &long_title, 100);
        assert!(r.decision(&d, 200).is_none());
        let long_option = NewProposal {
            options: vec!["a".into(), "é".repeat(MAX_OPTION + 1)],
            ..proposal(Method::Majority, &[])
        };
        let d = raw_proposal(&mut r, &m[0], &long_option, 100);
        assert!(r.decision(&d, 200).is_none());
        // A stance whose reason is too long does not count; a ranking naming an option twice
        // or more options than there are does not either.
        let d = r
            .propose(&m[0], proposal(Method::Ranked, &["a", "b"]), 100)
            .unwrap();
        let long_reason = "y".repeat(MAX_REASON + 1);
        for (who, value, reason) in [
            (&m[0], "ranking:0", long_reason.as_str()),
            (&m[1], "ranking:1,1", ""),
            (&m[2], "ranking:0,1,0", ""),
        ] {
            let entry = StanceEntry::new(&d, value, reason, 101);
            r.add_entry(who, &stance_prefix(&d), &entry).unwrap();
        }
        assert_eq!(r.decision(&d, 2_000).unwrap().participants, 0);
        assert!(!r.has_stance(&d, &m[0].public()));
    }

    #[test]
    fn a_recorded_outcome_keeps_its_tally_and_statement_whoever_joins_or_leaves_later() {
        let (mut r, m) = room(3);
        let d = r
            .propose(&m[0], change("purpose", "Gardens", 50, LONG), 0)
            .unwrap();
        r.take_stance(&m[0], &d, Stance::Agree, "", 1).unwrap();
        r.take_stance(&m[1], &d, Stance::Agree, "", 2).unwrap();
        // Someone who is not a member signs an outcome first: it is not the statement, and
        // does not stop a member from recording one.
        let stranger = Identity::generate();
        raw_outcome(&mut r, &stranger, &d, LONG);
        assert_eq!(r.decision(&d, LONG + 1).unwrap().statement, None);
        r.record_outcome(&m[2], &d, "Gardens", None, LONG + 1)
            .unwrap();
        let recorded = r.decision(&d, LONG + 2).unwrap();
        assert_eq!(recorded.outcome, Outcome::Passed { winner: None });
        assert!(recorded.enacted);
        assert_eq!(recorded.statement.as_ref().unwrap().author, m[2].public());
        // One agreeing member leaves and three newcomers are admitted: counted now, the change
        // would miss its quorum and its two agreeing members. What was recorded stays.
        r.leave(&m[1], LONG + 3).unwrap();
        for i in 0..3 {
            let who = Identity::generate();
            let profile = crate::domain::Profile {
                name: format!("New {i}"),
                ..Default::default()
            };
            r.set_profile(&who, profile, LONG + 4).unwrap();
            for voucher in [&m[0], &m[2]] {
                let _ = r.vouch(voucher, &who.public(), LONG + 5 + i);
            }
        }
        assert_eq!(r.admitted().len(), 5);
        assert_eq!(r.decision(&d, LONG + 10), Some(recorded));
        assert_eq!(r.charter(LONG + 10).purpose, "Gardens");
    }

    #[test]
    fn an_outcome_dated_in_the_future_closes_nothing_before_its_time() {
        let (mut r, m) = room(3);
        let d = r
            .propose(&m[0], change("purpose", "Gardens", 50, LONG), 0)
            .unwrap();
        r.take_stance(&m[0], &d, Stance::Agree, "", 1).unwrap();
        // A member's clock says the year 30,000: the decision is long closed there.
        let far = 900_000_000_000_000;
        r.record_outcome(&m[1], &d, "Too few", None, far).unwrap();
        let now = r.decision(&d, 2).unwrap();
        assert_eq!((now.outcome, now.statement), (Outcome::Open, None));
        // The others still answer, and record the outcome when it closes.
        r.take_stance(&m[2], &d, Stance::Agree, "", 3).unwrap();
        r.record_outcome(&m[2], &d, "Gardens", None, LONG).unwrap();
        let recorded = r.decision(&d, LONG + 1).unwrap();
        assert!(recorded.enacted);
        assert_eq!(recorded.statement.unwrap().author, m[2].public());
    }

    #[test]
    fn a_recorded_decision_stays_listed_after_its_proposer_leaves_an_open_one_does_not() {
        let (mut r, m) = room(4);
        let done = r
            .propose(&m[1], change("purpose", "Gardens", 50, LONG), 0)
            .unwrap();
        for (i, who) in m.iter().enumerate() {
            r.take_stance(who, &done, Stance::Agree, "", 1 + i as i64)
                .unwrap();
        }
        r.record_outcome(&m[0], &done, "Gardens", None, LONG)
            .unwrap();
        let open = r
            .propose(
                &m[1],
                NewProposal {
                    closes_at: 2 * LONG,
                    ..proposal(Method::Consent, &[])
                },
                LONG + 1,
            )
            .unwrap();
        r.leave(&m[1], LONG + 2).unwrap();
        let listed: Vec<String> = r.decisions(LONG + 3).into_iter().map(|d| d.id).collect();
        assert_eq!(listed, vec![done.clone()]);
        assert!(r.decision(&done, LONG + 3).unwrap().enacted);
        assert!(r.decision(&open, LONG + 3).is_none());
        assert_eq!(r.charter(LONG + 3).purpose, "Gardens");
    }
}
