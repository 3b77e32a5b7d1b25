//! The common pot: a transparent, append-only ledger in integer minor units (cents, or minutes
//! for an hours pot). Money comes in (inflow) and counts once another admitted member confirms
//! it; money goes out only as an expense (or a payout, which follows exactly the same rules)
//! that other admitted members approve under the charter's policy, and counts when it is paid.
//! A correction is a reversing entry, never an edit, and counts once another member confirms it.
//! Balances are derived by replaying verified entries in (time, id) order, with bounded amounts
//! and checked arithmetic; an outflow that the balance cannot cover at its turn is refused, so
//! concurrent payments on two devices can never overdraw the pot.
//!
//! These rules hold where the balance is derived, not only in the commands: an entry written by
//! a modified client without approvals or confirmation is shown, waiting, and moves no money.

use super::room::{required_text, DomainError, Resolved, RoomDoc};
use super::signed::{read_entry, signed_entry, text, Entry as _, Fields as _, Raw};
use crate::crypto::Identity;
use std::collections::{BTreeMap, BTreeSet};

/// The largest amount one entry may carry, in minor units (10^12: ten thousand million euros,
/// or about two million years of minutes). Larger (or non-positive) entries are refused by the
/// commands and never counted; every sum over entries is checked besides.
pub const MAX_AMOUNT: i64 = 1_000_000_000_000;

/// Whether `id` may name an entry whose key is also a prefix for others (`ledger:<pot>:…`,
/// `circlepay:<circle>:…`): an id holding `:` would put its range inside another's, so such ids
/// are refused by commands and ignored where read.
pub(crate) fn plain_id(id: &str) -> bool {
    !id.is_empty() && !id.contains(':')
}

/// Refuses an id holding `:` (see [`plain_id`]) before anything is looked up or written.
pub(crate) fn checked_id(field: &'static str, id: &str) -> Result<(), DomainError> {
    if plain_id(id) {
        Ok(())
    } else {
        Err(DomainError::Invalid {
            field,
            problem: "is not a valid id".into(),
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    Inflow,
    Payout,
    Expense,
    Reversal,
    /// A member's share of a dividend a passed decision paid (derived, never written).
    Dividend,
}

impl EntryKind {
    fn as_str(self) -> &'static str {
        match self {
            EntryKind::Inflow => "inflow",
            EntryKind::Payout => "payout",
            EntryKind::Expense => "expense",
            EntryKind::Reversal => "reversal",
            EntryKind::Dividend => "dividend",
        }
    }
    /// The kinds an entry may be written as (a dividend is derived from a decision).
    fn parse(s: &str) -> Option<Self> {
        [Self::Inflow, Self::Payout, Self::Expense, Self::Reversal]
            .into_iter()
            .find(|k| k.as_str() == s)
    }
}

/// A ledger entry to record: an amount in minor units (> 0), a memo, and for a reversal the id
/// of the entry it undoes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEntry {
    pub kind: EntryKind,
    pub amount: i64,
    pub memo: String,
    pub target: Option<String>,
}

impl NewEntry {
    pub fn new(kind: EntryKind, amount: i64, memo: &str) -> Self {
        Self {
            kind,
            amount,
            memo: memo.to_owned(),
            target: None,
        }
    }

    pub fn reversal(of: &str, amount: i64, memo: &str) -> Self {
        Self {
            kind: EntryKind::Reversal,
            amount,
            memo: memo.to_owned(),
            target: Some(of.to_owned()),
        }
    }
}

/// How a dividend is split among the members admitted when it is paid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Split {
    /// The same whole amount to each.
    Equal,
    /// In proportion to each member's weighted contributions (open-cooperative style), as they
    /// stood for whoever recorded the decision's outcome.
    Shares,
}

/// What a dividend decision pays: `amount` (minor units) out of pot `pot`, split by `split`.
/// It travels as the value of a `dividend` amendment: `<pot>:<amount>:<equal|shares>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dividend {
    pub pot: String,
    pub amount: i64,
    pub split: Split,
}

impl Dividend {
    pub fn encode(&self) -> String {
        let split = match self.split {
            Split::Equal => "equal",
            Split::Shares => "shares",
        };
        format!("{}:{}:{split}", self.pot, self.amount)
    }

    pub fn parse(value: &str) -> Option<Self> {
        let mut parts = value.split(':');
        let (pot, amount, split) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() || pot.len() > 100 || !plain_id(pot) {
            return None;
        }
        let amount: i64 = amount
            .parse()
            .ok()
            .filter(|a| (1..=MAX_AMOUNT).contains(a))?;
        let split = match split {
            "equal" => Split::Equal,
            "shares" => Split::Shares,
            _ => return None,
        };
        Some(Dividend {
            pot: pot.to_owned(),
            amount,
            split,
        })
    }
}

/// A dividend as the governance replay enacted it: by which decision, when its outcome was
/// recorded (and where, in the change graph), and the members admitted at that moment.
#[derive(Debug, Clone)]
pub(crate) struct EnactedDividend {
    pub decision: String,
    pub title: String,
    pub at: i64,
    pub anchor: super::signed::Anchor,
    pub recorder: String,
    pub members: BTreeSet<String>,
    pub dividend: Dividend,
}

/// A dividend's shares, worked out: (member, amount) in key order, each a whole number of minor
/// units rounded down; what rounding leaves stays in the pot.
#[derive(Debug, Clone)]
struct DividendPlan {
    enacted: EnactedDividend,
    shares: Vec<(String, i64)>,
}

/// Where a ledger entry stands after replay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryState {
    /// Counted in the balance.
    Counted,
    /// An expense (or payout) waiting for approvals: how many it has and needs.
    AwaitingApproval { approvals: usize, needed: usize },
    /// Money in (or a correction) waiting for another admitted member to confirm it.
    AwaitingConfirmation,
    /// Approved but not yet paid out.
    Approved,
    /// Undone by a later reversal entry.
    Reversed,
    /// Not counted: the reason (insufficient funds, unverified, author not admitted, ...).
    Refused(String),
}

/// One ledger line as the room sees it (derived).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerLine {
    pub id: String,
    pub kind: EntryKind,
    pub amount: i64,
    /// What it is for; for a correction, why.
    pub memo: String,
    /// For a correction, the entry it undoes.
    pub target: Option<String>,
    /// Who wrote it; for a dividend share, the member it is paid to.
    pub author: String,
    pub at: i64,
    pub state: EntryState,
}

/// A pot and its derived ledger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PotView {
    pub id: String,
    pub name: String,
    /// ISO currency code, or "hours" (amounts in minutes).
    pub unit: String,
    pub balance: i64,
    pub lines: Vec<LedgerLine>,
}

impl LedgerLine {
    /// Whether this is money out (an expense or payout) still waiting for approvals: what an
    /// approval by decision can name.
    pub fn awaits_approval(&self) -> bool {
        self.kind.is_outflow() && matches!(self.state, EntryState::AwaitingApproval { .. })
    }
}

impl PotView {
    /// Whether `amount` is far beyond what this pot has seen, so a person is asked to confirm
    /// it (a slip of the keyboard, "1000000000"): more than ten times its largest counted entry
    /// and more than 100 units (100 EUR, 100 hours); in a pot with nothing counted yet, more
    /// than 10,000 units.
    pub fn unusual(&self, amount: i64) -> bool {
        let unit = if self.unit == "hours" { 60 } else { 100 };
        let largest = self
            .lines
            .iter()
            .filter(|l| l.state == EntryState::Counted)
            .map(|l| l.amount)
            .max();
        match largest {
            Some(l) => amount > l.saturating_mul(10) && amount > 100 * unit,
            None => amount > 10_000 * unit,
        }
    }
}

signed_entry! {
    /// A pot (`pot:<id>`).
    pub(crate) struct PotEntry = "pot" {
        name: String,
        unit: String,
        at: i64,
    }
}

signed_entry! {
    /// A ledger entry (`ledger:<pot>:<id>`): its kind in `entry`. One whose pot is missing is
    /// read (and shown refused: its signature cannot verify for this pot).
    pub(crate) struct LedgerEntry = "ledger" {
        pot: String [or_default],
        entry: String,
        amount: i64,
        memo: String [or_default],
        target: String [or_default],
        at: i64,
    }
}

signed_entry! {
    /// A confirmation of money in (or of a correction) by another member. It is kept inside
    /// its pot's ledger range, right after the entry it confirms (`ledger:<pot>:<entry>/<id>`,
    /// its id `<entry>/<id>`), so one pass over the ledger reads each entry with its
    /// confirmations: no lookups, however long the ledger. Pot and entry (`target`) are
    /// signed, so a confirmation copied to another key never verifies.
    pub(crate) struct ConfirmationEntry = "confirmation" {
        pot: String,
        target: String,
        at: i64,
    }
}

/// A ledger key's id split at its first `/` (a confirmation: entry and mark), or whole (an
/// entry); `None` for an id holding `:`, which belongs to another range. One pass over the id.
fn confirmation_split(key: &str) -> Option<Option<(&str, &str)>> {
    let mut slash = None;
    for (i, b) in key.bytes().enumerate() {
        match b {
            b':' => return None,
            b'/' if slash.is_none() => slash = Some(i),
            _ => {}
        }
    }
    Some(slash.map(|i| (&key[..i], &key[i + 1..])))
}

/// A confirmation as read from the index (its reading and signature check are made once).
struct Confirmation {
    at: i64,
    author: String,
    verified: bool,
    admitted: AdmittedWhen,
}

/// Whether an entry's author was admitted when writing it, remembered with the entry for as
/// long as the index (and so membership) stays as it was: a pot of 100,000 lines asks it
/// 200,000 times per derivation otherwise.
#[derive(Default)]
struct AdmittedWhen(std::cell::Cell<Option<(u64, bool)>>);

impl AdmittedWhen {
    fn get(&self, generation: u64, ask: impl FnOnce() -> bool) -> bool {
        match self.0.get() {
            Some((g, answer)) if g == generation => answer,
            _ => {
                let answer = ask();
                self.0.set(Some((generation, answer)));
                answer
            }
        }
    }
}

/// A ledger entry as read from the index (borrowed: deriving a pot allocates per line only
/// when lines are asked for).
struct Entry<'a> {
    id: &'a str,
    kind: EntryKind,
    amount: i64,
    raw: &'a Raw,
    target: &'a str,
    author: &'a str,
    at: i64,
    verified: bool,
    /// Whether its author was an admitted member when they wrote it (their leaving or removal
    /// later changes nothing).
    author_admitted: bool,
    /// When another admitted member first confirmed it (never before its own time).
    confirmed_at: Option<i64>,
    /// The versions its author signed apart, until a confirmation says which one it confirmed
    /// (that one is the entry; unconfirmed, none counts).
    apart: Option<Vec<&'a Raw>>,
}

/// A ledger entry's typed reading, kept with the entry in the index.
struct Parsed {
    kind: EntryKind,
    amount: i64,
    at: i64,
    verified: bool,
    author: String,
    target: String,
    admitted: AdmittedWhen,
}

/// Where a pot's ledger entries live: `ledger:<pot>:<entry>`, so one pot's entries are one
/// contiguous range of the index.
fn ledger_prefix(pot: &str) -> String {
    format!("ledger:{pot}:")
}

impl RoomDoc {
    /// Opens a pot in a currency (ISO code such as "EUR") or in "hours".
    pub fn open_pot(
        &mut self,
        me: &Identity,
        name: &str,
        unit: &str,
        now_ms: i64,
    ) -> Result<String, DomainError> {
        self.require_admitted(me)?;
        let name = required_text("name", name, 60)?;
        let unit = checked_unit(unit)?;
        let pot = PotEntry {
            name,
            unit: unit.to_owned(),
            at: now_ms,
        };
        self.add_entry(me, "pot:", &pot)
    }

    /// Records an inflow (counted once another member confirms it), a payout or expense request
    /// (counted once approved and paid) of `amount` minor units (1 to [`MAX_AMOUNT`]), or a
    /// reversal of entry `target` (counted once confirmed). A payout beyond the balance is
    /// refused.
    pub fn record(
        &mut self,
        me: &Identity,
        pot: &str,
        entry: NewEntry,
        now_ms: i64,
    ) -> Result<String, DomainError> {
        let NewEntry {
            kind,
            amount,
            memo,
            target,
        } = entry;
        let memo = memo.as_str();
        checked_id("pot", pot)?;
        self.require_admitted(me)?;
        self.pot_header(pot)
            .ok_or_else(|| DomainError::NoSuchEntry(pot.to_owned()))?;
        if amount <= 0 {
            return Err(DomainError::Invalid {
                field: "amount",
                problem: "must be a positive whole number of minor units".into(),
            });
        }
        if amount > MAX_AMOUNT {
            return Err(DomainError::Invalid {
                field: "amount",
                problem: "is too large".into(),
            });
        }
        if memo.chars().count() > 200 {
            return Err(DomainError::Invalid {
                field: "memo",
                problem: "is longer than 200 characters".into(),
            });
        }
        let target = target.as_deref().unwrap_or_default();
        // Only outflows and reversals depend on the ledger so far; inflows and requests do not
        // need it replayed.
        match kind {
            EntryKind::Payout => {
                let balance = self.pot_balance(pot, now_ms);
                if amount > balance {
                    return Err(DomainError::InsufficientFunds { balance, amount });
                }
            }
            EntryKind::Reversal => {
                checked_id("target", target)?;
                if memo.trim().is_empty() {
                    return Err(DomainError::Invalid {
                        field: "reason",
                        problem: "must say why the entry is corrected".into(),
                    });
                }
                let view = self
                    .pot(pot, now_ms)
                    .ok_or_else(|| DomainError::NoSuchEntry(pot.to_owned()))?;
                let line = view
                    .lines
                    .iter()
                    .find(|l| l.id == target)
                    .ok_or_else(|| DomainError::NoSuchEntry(target.to_owned()))?;
                if line.kind == EntryKind::Reversal
                    || line.state != EntryState::Counted
                    || line.amount != amount
                {
                    return Err(DomainError::Invalid {
                        field: "target",
                        problem: "a reversal must undo one counted entry for its full amount"
                            .into(),
                    });
                }
            }
            _ => {}
        }
        let entry = LedgerEntry {
            pot: pot.to_owned(),
            entry: kind.as_str().to_owned(),
            amount,
            memo: memo.to_owned(),
            target: target.to_owned(),
            at: now_ms,
        };
        self.add_entry(me, &ledger_prefix(pot), &entry)
    }

    /// Approves someone else's expense or payout request.
    pub fn approve(
        &mut self,
        me: &Identity,
        pot: &str,
        expense: &str,
        now_ms: i64,
    ) -> Result<(), DomainError> {
        self.require_admitted(me)?;
        let line = self.outflow_line(pot, expense, now_ms)?;
        if line.author == me.public() {
            return Err(DomainError::SelfApproval);
        }
        if self.approvers(expense).contains(&me.public()) {
            return Err(DomainError::AlreadyApproved);
        }
        self.put_mark(me, "approval", expense, now_ms)
    }

    /// Pays out an approved expense or payout (refused if the balance cannot cover it).
    pub fn pay(
        &mut self,
        me: &Identity,
        pot: &str,
        expense: &str,
        now_ms: i64,
    ) -> Result<(), DomainError> {
        self.require_admitted(me)?;
        let line = self.outflow_line(pot, expense, now_ms)?;
        if line.state != EntryState::Approved {
            return Err(DomainError::NotApproved);
        }
        let balance = self.pot_balance(pot, now_ms);
        if line.amount > balance {
            return Err(DomainError::InsufficientFunds {
                balance,
                amount: line.amount,
            });
        }
        self.put_mark(me, "paid", expense, now_ms)
    }

    /// Confirms someone else's money in (or correction): from then on it counts. Money in is
    /// checked from its own entry alone, so confirming costs the same in a ledger of any length;
    /// a correction is checked against the replayed ledger (what it undoes must still count,
    /// and undoing money in must be covered). Confirming what already counts adds nothing: the
    /// first confirmation by another admitted member is the one that counts.
    pub fn confirm(
        &mut self,
        me: &Identity,
        pot: &str,
        entry: &str,
        now_ms: i64,
    ) -> Result<(), DomainError> {
        checked_id("pot", pot)?;
        checked_id("entry", entry)?;
        self.require_admitted(me)?;
        self.pot_header(pot)
            .ok_or_else(|| DomainError::NoSuchEntry(pot.to_owned()))?;
        // Read from the entry's fields directly: its typed reading is left for the next view.
        let (kind, author, amount) = self
            .entry(&format!("{}{entry}", ledger_prefix(pot)))
            .and_then(|f| {
                let e = LedgerEntry::decode(f)?;
                let verified = e.pot == pot && e.signed(self.room_id(), entry, f);
                let kind =
                    EntryKind::parse(&e.entry).filter(|k| verified && k.needs_confirmation())?;
                Some((kind, f.author()?.to_owned(), e.amount))
            })
            .ok_or_else(|| DomainError::NoSuchEntry(entry.to_owned()))?;
        if author == me.public() {
            return Err(DomainError::SelfApproval);
        }
        let waiting = DomainError::Invalid {
            field: "entry",
            problem: "is not waiting for confirmation".into(),
        };
        if !(1..=MAX_AMOUNT).contains(&amount) || !self.admitted().contains(&author) {
            return Err(waiting);
        }
        if kind == EntryKind::Reversal {
            let view = self.entry_view(pot, now_ms)?;
            let state = view.lines.iter().find(|l| l.id == entry).map(|l| &l.state);
            match state {
                Some(EntryState::AwaitingConfirmation) => {}
                Some(EntryState::Counted) => return Err(DomainError::AlreadyApproved),
                _ => return Err(waiting),
            }
            let target = self
                .entry(&format!("{}{entry}", ledger_prefix(pot)))
                .and_then(|f| text(f, "target"))
                .unwrap_or_default();
            let undone = view
                .lines
                .iter()
                .find(|l| l.id == target && l.state == EntryState::Counted)
                .ok_or_else(|| DomainError::Invalid {
                    field: "target",
                    problem: "a reversal must undo one counted entry for its full amount".into(),
                })?;
            if undone.kind == EntryKind::Inflow && undone.amount > view.balance {
                return Err(DomainError::InsufficientFunds {
                    balance: view.balance,
                    amount: undone.amount,
                });
            }
        }
        let confirmation = ConfirmationEntry {
            pot: pot.to_owned(),
            target: entry.to_owned(),
            at: now_ms,
        };
        let id = crate::crypto::entry_id(&me.public());
        let key = format!("{}{entry}/{id}", ledger_prefix(pot));
        self.put_entry(me, &key, &format!("{entry}/{id}"), &confirmation)?;
        self.commit();
        Ok(())
    }

    fn entry_view(&self, pot: &str, now_ms: i64) -> Result<PotView, DomainError> {
        checked_id("pot", pot)?;
        self.pot(pot, now_ms)
            .ok_or_else(|| DomainError::NoSuchEntry(pot.to_owned()))
    }

    /// An expense or payout line of `pot`.
    fn outflow_line(
        &self,
        pot: &str,
        expense: &str,
        now_ms: i64,
    ) -> Result<LedgerLine, DomainError> {
        self.entry_view(pot, now_ms)?
            .lines
            .into_iter()
            .find(|l| l.id == expense && l.kind.is_outflow())
            .ok_or_else(|| DomainError::NoSuchEntry(expense.to_owned()))
    }

    /// Verified approvers of an entry (any standing; the replay decides what counts).
    pub(crate) fn approvers(&self, target: &str) -> BTreeSet<String> {
        self.marks("approval")
            .into_iter()
            .filter(|m| m.target == target)
            .map(|m| m.author)
            .collect()
    }

    /// Verified confirmers of entry `entry` of `pot` (any standing; the replay decides what
    /// counts).
    pub fn confirmers(&self, pot: &str, entry: &str) -> BTreeSet<String> {
        if !plain_id(pot) || !plain_id(entry) {
            return BTreeSet::new();
        }
        self.entries(&format!("{}{entry}/", ledger_prefix(pot)))
            .filter_map(|(id, f)| {
                let c = self.read_confirmation(pot, entry, id, f)?;
                c.verified.then(|| c.author.clone())
            })
            .collect()
    }

    /// Every pot, with its ledger and derived balance.
    pub fn pots(&self, now_ms: i64) -> Vec<PotView> {
        let ctx = self.replay_context(now_ms);
        self.entries("pot:")
            .filter_map(|(id, _)| self.derive_pot(id, &ctx, true))
            .collect()
    }

    /// One pot by id.
    pub fn pot(&self, id: &str, now_ms: i64) -> Option<PotView> {
        self.derive_pot(id, &self.replay_context(now_ms), true)
    }

    /// Every pot's balance, without materialising the ledger lines: (pot id, balance).
    pub fn pot_balances(&self, now_ms: i64) -> Vec<(String, i64)> {
        let ctx = self.replay_context(now_ms);
        self.entries("pot:")
            .filter_map(|(id, _)| Some((id.to_owned(), self.derive_pot(id, &ctx, false)?.balance)))
            .collect()
    }

    /// True if some pot holds expense (or payout) `entry`, still waiting for approvals.
    pub(crate) fn is_pending_expense(&self, entry: &str, now_ms: i64) -> bool {
        self.pots(now_ms)
            .iter()
            .any(|p| p.lines.iter().any(|l| l.id == entry && l.awaits_approval()))
    }

    fn pot_balance(&self, id: &str, now_ms: i64) -> i64 {
        self.derive_pot(id, &self.replay_context(now_ms), false)
            .map_or(0, |p| p.balance)
    }

    /// A verified pot (none for an id holding `:`).
    fn pot_header(&self, id: &str) -> Option<PotEntry> {
        if !plain_id(id) {
            return None;
        }
        read_entry(self.room_id(), id, self.entry(&format!("pot:{id}"))?)
    }

    /// Each member's share of an enacted dividend, derived alike on every device: split equally,
    /// or by weighted contributions as they stood in the causal past of the outcome record
    /// (what its recorder had: a contribution or validation written later changes no share).
    /// Members with no share get no line; rounding down leaves the remainder in the pot.
    fn dividend_shares(&self, d: &EnactedDividend) -> Vec<(String, i64)> {
        self.shares_of(&d.dividend, &d.members, d.at, Some(d.anchor))
    }

    /// What a dividend would pay each admitted member if it were paid now (shown with the
    /// proposal, so members know what they agree to): (member, amount), in key order.
    pub fn dividend_preview(&self, d: &Dividend, now_ms: i64) -> Vec<(String, i64)> {
        self.shares_of(d, &self.admitted(), now_ms, None)
    }

    fn shares_of(
        &self,
        d: &Dividend,
        members: &BTreeSet<String>,
        at: i64,
        cut: Option<super::signed::Anchor>,
    ) -> Vec<(String, i64)> {
        let amount = i128::from(d.amount);
        let weights: Vec<(String, i128)> = match d.split {
            Split::Equal => members.iter().map(|m| (m.clone(), 1)).collect(),
            Split::Shares => {
                let totals = self.contribution_totals_seen(at, cut);
                members
                    .iter()
                    .filter_map(|m| {
                        let w = *totals.weighted_by_member.get(m)?;
                        (w > 0).then(|| (m.clone(), i128::from(w)))
                    })
                    .collect()
            }
        };
        let total: i128 = weights.iter().map(|(_, w)| w).sum();
        if total == 0 {
            return Vec::new();
        }
        weights
            .into_iter()
            .filter_map(|(m, w)| {
                let share = i64::try_from(amount * w / total).ok()?;
                (share > 0).then_some((m, share))
            })
            .collect()
    }

    /// What a replay needs from the rest of the room: approvals and first payment times by
    /// members admitted when they gave them, and the charter's approval count.
    fn replay_context(&self, now_ms: i64) -> ReplayContext {
        let mut approvals: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for m in self.marks("approval") {
            if self.admitted_at(&m.author, m.anchor) {
                approvals.entry(m.target).or_default().insert(m.author);
            }
        }
        let mut paid: BTreeMap<String, i64> = BTreeMap::new();
        for m in self.marks("paid") {
            if self.admitted_at(&m.author, m.anchor) {
                let first = paid.entry(m.target).or_insert(m.at);
                *first = (*first).min(m.at);
            }
        }
        let g = self.governance();
        let dividends = g
            .dividends
            .iter()
            .filter(|d| d.at <= now_ms)
            .map(|d| DividendPlan {
                shares: self.dividend_shares(d),
                enacted: d.clone(),
            })
            .collect();
        ReplayContext {
            needed: self.charter(now_ms).approvals,
            dividends,
            approved_by_decision: g.approved_expenses.clone(),
            approvals,
            paid,
        }
    }

    /// One ledger entry of pot `pot` as read from the index (its typed reading and signature
    /// check are made once and kept with the entry).
    fn read_entry<'a>(&'a self, pot: &str, entry_id: &'a str, f: &'a Raw) -> Option<Entry<'a>> {
        let p = f.parsed(|f| {
            let e = LedgerEntry::decode(f)?;
            let verified = e.pot == pot && e.signed(self.room_id(), entry_id, f);
            Some(Parsed {
                kind: EntryKind::parse(&e.entry)?,
                amount: e.amount,
                at: e.at,
                verified,
                author: f.author().unwrap_or_default().to_owned(),
                target: e.target,
                admitted: AdmittedWhen::default(),
            })
        })?;
        Some(Entry {
            id: entry_id,
            kind: p.kind,
            amount: p.amount,
            raw: f,
            target: &p.target,
            author: &p.author,
            at: p.at,
            verified: p.verified,
            author_admitted: p
                .admitted
                .get(self.index.generation(), || self.admitted_when(&p.author, f)),
            confirmed_at: None,
            apart: None,
        })
    }

    /// A confirmation `<entry>/<mark>` of pot `pot`, as read from the index.
    fn read_confirmation<'a>(
        &self,
        pot: &str,
        entry: &str,
        mark: &str,
        f: &'a Raw,
    ) -> Option<&'a Confirmation> {
        f.parsed(|f| {
            let (c, author) = (ConfirmationEntry::decode(f)?, f.author()?);
            let verified = c.pot == pot
                && c.target == entry
                && c.signed(self.room_id(), &format!("{entry}/{mark}"), f);
            Some(Confirmation {
                at: c.at,
                author: author.to_owned(),
                verified,
                admitted: AdmittedWhen::default(),
            })
        })
    }

    /// Counts confirmation `f` (`<target>/<mark>` of pot `pot`) for `entry`, if it holds: by
    /// another member, admitted when confirming. Where the entry's author signed versions apart
    /// (`Entry::apart`), the one this confirmer had becomes the entry (if they had just one).
    fn apply_confirmation<'a>(
        &'a self,
        pot: &str,
        (target, mark): (&str, &str),
        f: &'a Raw,
        entry: &mut Entry<'a>,
    ) {
        let Some(c) = self.read_confirmation(pot, target, mark, f) else {
            return;
        };
        let generation = self.index.generation();
        if !(c.verified
            && c.author != entry.author
            && c.admitted
                .get(generation, || self.admitted_when(&c.author, f)))
        {
            return;
        }
        if let Some(versions) = &entry.apart {
            let Some(seen) = self
                .seen_by(versions, f)
                .and_then(|v| self.read_entry(pot, entry.id, v))
            else {
                return;
            };
            *entry = seen;
        }
        let at = c.at.max(entry.at);
        entry.confirmed_at = Some(entry.confirmed_at.map_or(at, |was| was.min(at)));
    }

    fn derive_pot(&self, id: &str, ctx: &ReplayContext, with_lines: bool) -> Option<PotView> {
        let PotEntry { name, unit, .. } = self.pot_header(id)?;
        let prefix = ledger_prefix(id);
        // One pass: each entry, then the confirmations kept right after it (`<entry>/<id>`).
        // Keys are in order, so an entry is followed by every key it prefixes; `open` holds the
        // entries whose block the pass is still in, innermost last.
        let mut entries: Vec<Entry> = Vec::new();
        let mut open: Vec<usize> = Vec::new();
        for (key, resolved) in self.rivals(&prefix) {
            // An id holding `:` is another range's (`ledger:<pot>:<x>:…`), never this pot's.
            let Some(split) = confirmation_split(key) else {
                continue;
            };
            while open
                .last()
                .is_some_and(|&i| !key.starts_with(entries[i].id))
            {
                open.pop();
            }
            match (split, resolved) {
                (Some((target, mark)), resolved) => {
                    let Some(&i) = open.last() else { continue };
                    if entries[i].id != target {
                        continue;
                    }
                    // A confirmation only adds: each version its author signed apart counts.
                    for f in resolved.all() {
                        self.apply_confirmation(id, (target, mark), f, &mut entries[i]);
                    }
                }
                (None, resolved) if !key.is_empty() => {
                    let (f, versions) = match resolved {
                        Resolved::One(f) => (f, None),
                        Resolved::Apart(versions) => (versions[0], Some(versions)),
                        Resolved::None => continue,
                    };
                    if let Some(e) = self.read_entry(id, key, f) {
                        open.push(entries.len());
                        entries.push(Entry {
                            apart: versions,
                            ..e
                        });
                    }
                }
                _ => {}
            }
        }
        // Versions signed apart that nobody confirmed: none of them counts.
        entries.retain(|e| e.apart.is_none());
        let dividends: Vec<&DividendPlan> = ctx
            .dividends
            .iter()
            .filter(|d| d.enacted.dividend.pot == id)
            .collect();
        let (balance, lines) = replay(&entries, &dividends, ctx, with_lines);
        Some(PotView {
            id: id.to_owned(),
            name,
            unit,
            balance,
            lines,
        })
    }
}

impl EntryKind {
    /// Money out: an expense or a payout, counted once approved and paid.
    pub fn is_outflow(self) -> bool {
        matches!(self, EntryKind::Expense | EntryKind::Payout)
    }

    /// Entries another member confirms before they count: money in and corrections.
    pub fn needs_confirmation(self) -> bool {
        matches!(self, EntryKind::Inflow | EntryKind::Reversal)
    }
}

struct ReplayContext {
    needed: usize,
    /// Dividends passed decisions pay, with their shares.
    dividends: Vec<DividendPlan>,
    /// Expenses (and payouts) approved by a passed decision.
    approved_by_decision: BTreeSet<String>,
    approvals: BTreeMap<String, BTreeSet<String>>,
    paid: BTreeMap<String, i64>,
}

/// Replays a pot's entries in (time, id) order. Money in and corrections take effect when they
/// are first confirmed; expenses and payouts when they are paid.
/// A dividend is paid when its outcome was recorded, whole or not at all.
fn replay(
    entries: &[Entry],
    dividends: &[&DividendPlan],
    ctx: &ReplayContext,
    with_lines: bool,
) -> (i64, Vec<LedgerLine>) {
    let ReplayContext {
        needed,
        approvals,
        paid,
        ..
    } = ctx;
    let needed = *needed;
    // Each event: (time, id, what). Entries still waiting come last and move nothing.
    // (Dividends, by `usize::MAX - n`, sort after entries of the same time and id.)
    let mut order: Vec<(i64, &str, usize)> = Vec::new();
    for (i, e) in entries.iter().enumerate() {
        let when = if e.kind.is_outflow() {
            paid.get(e.id).copied()
        } else {
            e.confirmed_at
        };
        order.push((when.unwrap_or(i64::MAX), e.id, i));
    }
    for (n, d) in dividends.iter().enumerate() {
        order.push((d.enacted.at, &d.enacted.decision, usize::MAX - n));
    }
    order.sort();
    let mut states: Vec<EntryState> = vec![EntryState::Counted; entries.len()];
    let mut paid_out: Vec<EntryState> = vec![EntryState::Counted; dividends.len()];
    let mut effect: Vec<i64> = vec![0; entries.len()];
    let mut balance: i64 = 0;
    let refuse = |why: &str| EntryState::Refused(why.to_owned());
    for (_, _, i) in order {
        if i >= entries.len() {
            let n = usize::MAX - i;
            let total = dividends[n]
                .shares
                .iter()
                .try_fold(0i64, |sum, (_, a)| sum.checked_add(*a));
            paid_out[n] = match total {
                _ if dividends[n].shares.is_empty() => refuse("no member has a share"),
                Some(t) if t <= balance => {
                    balance -= t;
                    EntryState::Counted
                }
                _ => refuse("insufficient funds"),
            };
            continue;
        }
        let e = &entries[i];
        if !e.verified {
            states[i] = refuse("signature does not verify");
            continue;
        }
        if !(1..=MAX_AMOUNT).contains(&e.amount) {
            states[i] = refuse("amount out of range");
            continue;
        }
        if !e.author_admitted {
            states[i] = refuse("author is not an admitted member");
            continue;
        }
        if e.kind.needs_confirmation() && e.confirmed_at.is_none() {
            states[i] = EntryState::AwaitingConfirmation;
            continue;
        }
        let delta = match e.kind {
            EntryKind::Inflow => e.amount,
            EntryKind::Payout | EntryKind::Expense => {
                let approvers = approvals
                    .get(e.id)
                    .map_or(0, |a| a.iter().filter(|x| *x != e.author).count());
                if approvers < needed && !ctx.approved_by_decision.contains(e.id) {
                    states[i] = EntryState::AwaitingApproval {
                        approvals: approvers,
                        needed,
                    };
                    continue;
                }
                if !paid.contains_key(e.id) {
                    states[i] = EntryState::Approved;
                    continue;
                }
                -e.amount
            }
            // Never written: read as nothing.
            EntryKind::Dividend => {
                states[i] = refuse("amount out of range");
                continue;
            }
            EntryKind::Reversal => {
                let Some(t) = entries.iter().position(|x| x.id == e.target) else {
                    states[i] = refuse("reverses an unknown entry");
                    continue;
                };
                if states[t] != EntryState::Counted
                    || effect[t] == 0
                    || entries[t].amount != e.amount
                {
                    states[i] = refuse("nothing to reverse");
                    continue;
                }
                let undo = -effect[t];
                match balance.checked_add(undo) {
                    Some(b) if b >= 0 => {
                        balance = b;
                        states[t] = EntryState::Reversed;
                        effect[t] = 0;
                    }
                    _ => states[i] = refuse("insufficient funds"),
                }
                continue;
            }
        };
        match balance.checked_add(delta) {
            Some(b) if b >= 0 => {
                balance = b;
                effect[i] = delta;
            }
            Some(_) => states[i] = refuse("insufficient funds"),
            None => states[i] = refuse("the pot cannot hold that much"),
        }
    }
    if !with_lines {
        return (balance, Vec::new());
    }
    let mut lines: Vec<LedgerLine> = entries
        .iter()
        .zip(states)
        .map(|(e, state)| LedgerLine {
            id: e.id.to_owned(),
            kind: e.kind,
            amount: e.amount,
            memo: text(e.raw, "memo").unwrap_or_default().to_owned(),
            target: (e.kind == EntryKind::Reversal).then(|| e.target.to_owned()),
            author: e.author.to_owned(),
            at: e.at,
            state,
        })
        .collect();
    for (d, state) in dividends.iter().zip(paid_out) {
        let e = &d.enacted;
        if d.shares.is_empty() {
            lines.push(LedgerLine {
                id: format!("dividend:{}", e.decision),
                kind: EntryKind::Dividend,
                amount: e.dividend.amount,
                memo: e.title.clone(),
                target: None,
                author: e.recorder.clone(),
                at: e.at,
                state,
            });
            continue;
        }
        for (member, amount) in &d.shares {
            lines.push(LedgerLine {
                id: format!("dividend:{}:{member}", e.decision),
                kind: EntryKind::Dividend,
                amount: *amount,
                memo: e.title.clone(),
                target: None,
                author: member.clone(),
                at: e.at,
                state: state.clone(),
            });
        }
    }
    lines.sort_by(|a, b| (a.at, &a.id).cmp(&(b.at, &b.id)));
    (balance, lines)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_000_000;

    /// A room with three admitted members: ana (founder), bo and cy.
    fn room3() -> (RoomDoc, Identity, Identity, Identity) {
        let (room, mut m) = crate::domain::testing::community(3);
        let (cy, bo, ana) = (m.pop().unwrap(), m.pop().unwrap(), m.pop().unwrap());
        (room, ana, bo, cy)
    }

    fn state_of(room: &RoomDoc, pot: &str, id: &str) -> EntryState {
        room.pot(pot, NOW)
            .unwrap()
            .lines
            .into_iter()
            .find(|l| l.id == id)
            .unwrap()
            .state
    }

    /// Money in by `by`, confirmed by `confirmer`.
    fn fund(
        room: &mut RoomDoc,
        pot: &str,
        by: &Identity,
        confirmer: &Identity,
        amount: i64,
        at: i64,
    ) {
        let id = room
            .record(by, pot, NewEntry::new(EntryKind::Inflow, amount, "in"), at)
            .unwrap();
        room.confirm(confirmer, pot, &id, at).unwrap();
    }

    const HOUR: i64 = 60 * 60 * 1000;
    /// Dividend decisions open at 100 and close three days later.
    const PAID: i64 = 100 + 72 * HOUR;

    /// Decides a dividend by consent: proposed by the first of `yes`, agreed by them all,
    /// recorded at `PAID` by the first; returns the decision id.
    fn pay_dividend(room: &mut RoomDoc, yes: &[&Identity], d: &Dividend) -> String {
        let id = room
            .propose(
                yes[0],
                crate::domain::NewProposal {
                    title: "Share the surplus".into(),
                    method: crate::domain::Method::Consent,
                    options: vec![],
                    closes_at: PAID,
                    quorum_percent: 50,
                    amendment: Some(crate::domain::Amendment::new("dividend", &d.encode())),
                },
                100,
            )
            .unwrap();
        for who in yes {
            room.take_stance(who, &id, crate::domain::Stance::Agree, "", 200)
                .unwrap();
        }
        room.record_outcome(yes[0], &id, "Shared", None, PAID)
            .unwrap();
        id
    }

    fn dividend_lines(room: &RoomDoc, pot: &str) -> Vec<(String, i64, EntryState)> {
        room.pot(pot, NOW * 1_000)
            .unwrap()
            .lines
            .into_iter()
            .filter(|l| l.kind == EntryKind::Dividend)
            .map(|l| (l.author, l.amount, l.state))
            .collect()
    }

    #[test]
    fn a_dividend_pays_each_member_an_equal_share_and_the_remainder_stays() {
        let (mut room, ana, bo, cy) = room3();
        let pot = room.open_pot(&ana, "Pot", "EUR", 10).unwrap();
        fund(&mut room, &pot, &ana, &bo, 10_000, 11);
        let d = Dividend {
            pot: pot.clone(),
            amount: 10_000,
            split: Split::Equal,
        };
        assert_eq!(Dividend::parse(&d.encode()), Some(d.clone()));
        pay_dividend(&mut room, &[&ana, &bo], &d);
        let mut expected: Vec<(String, i64, EntryState)> = [&ana, &bo, &cy]
            .iter()
            .map(|m| (m.public(), 3_333, EntryState::Counted))
            .collect();
        expected.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(dividend_lines(&room, &pot), expected);
        assert_eq!(room.pot(&pot, NOW * 1_000).unwrap().balance, 1);
        // Before its outcome was recorded, nothing was paid.
        assert_eq!(room.pot(&pot, PAID - 1).unwrap().balance, 10_000);
        // A newcomer admitted afterwards gets no share of it.
        let newcomer = Identity::generate();
        let profile = crate::domain::Profile {
            name: "Nia".into(),
            ..Default::default()
        };
        room.set_profile(&newcomer, profile, PAID + 1).unwrap();
        room.vouch(&ana, &newcomer.public(), PAID + 2).unwrap();
        room.vouch(&bo, &newcomer.public(), PAID + 3).unwrap();
        assert!(room.admitted().contains(&newcomer.public()));
        assert_eq!(dividend_lines(&room, &pot).len(), 3);
    }

    #[test]
    fn a_dividend_by_contribution_shares_follows_what_its_recorder_had() {
        let (mut room, ana, bo, cy) = room3();
        let pot = room.open_pot(&ana, "Pot", "EUR", 10).unwrap();
        fund(&mut room, &pot, &ana, &bo, 1_000, 11);
        let work = |minutes: i64| crate::domain::NewContribution {
            value_type: "work".into(),
            quantity: minutes,
            description: "garden".into(),
            date: 20,
            beneficiary: None,
            reverses: None,
        };
        let c = room.log_contribution(&bo, work(90), 20).unwrap();
        room.validate_contribution(&ana, &c, 21).unwrap();
        let c = room.log_contribution(&cy, work(30), 22).unwrap();
        room.validate_contribution(&ana, &c, 23).unwrap();
        let d = Dividend {
            pot: pot.clone(),
            amount: 1_000,
            split: Split::Shares,
        };
        pay_dividend(&mut room, &[&ana, &bo], &d);
        let mut expected = vec![
            (bo.public(), 750, EntryState::Counted),
            (cy.public(), 250, EntryState::Counted),
        ];
        expected.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(dividend_lines(&room, &pot), expected);
        // Work logged and validated after the outcome changes no share of it.
        let c = room.log_contribution(&ana, work(600), PAID + 1).unwrap();
        room.validate_contribution(&bo, &c, PAID + 2).unwrap();
        assert_eq!(dividend_lines(&room, &pot), expected);
        assert_eq!(room.pot(&pot, NOW * 1_000).unwrap().balance, 0);
    }

    #[test]
    fn a_dividend_the_pot_cannot_cover_at_its_turn_pays_nobody() {
        let (mut room, ana, bo, cy) = room3();
        let pot = room.open_pot(&ana, "Pot", "EUR", 10).unwrap();
        fund(&mut room, &pot, &ana, &bo, 900, 11);
        let d = Dividend {
            pot: pot.clone(),
            amount: 900,
            split: Split::Equal,
        };
        // More than the pot holds is refused when proposed.
        let too_much = Dividend {
            amount: 901,
            ..d.clone()
        };
        assert!(matches!(
            room.propose(
                &ana,
                crate::domain::NewProposal {
                    title: "Too much".into(),
                    method: crate::domain::Method::Consent,
                    options: vec![],
                    closes_at: PAID,
                    quorum_percent: 50,
                    amendment: Some(crate::domain::Amendment::new(
                        "dividend",
                        &too_much.encode()
                    )),
                },
                100,
            ),
            Err(DomainError::InsufficientFunds { .. })
        ));
        // An expense paid before the dividend's outcome leaves too little for it.
        let exp = room
            .record(
                &cy,
                &pot,
                NewEntry::new(EntryKind::Expense, 100, "rent"),
                50,
            )
            .unwrap();
        room.approve(&ana, &pot, &exp, 51).unwrap();
        room.approve(&bo, &pot, &exp, 52).unwrap();
        pay_dividend(&mut room, &[&ana, &bo], &d);
        room.pay(&ana, &pot, &exp, 300).unwrap();
        let lines = dividend_lines(&room, &pot);
        assert_eq!(lines.len(), 3);
        assert!(lines
            .iter()
            .all(|(_, _, s)| *s == EntryState::Refused("insufficient funds".into())));
        assert_eq!(room.pot(&pot, NOW * 1_000).unwrap().balance, 800);
    }

    #[test]
    fn a_dividend_nobody_decided_moves_no_money() {
        let (mut room, ana, bo, cy) = room3();
        let pot = room.open_pot(&ana, "Pot", "EUR", 10).unwrap();
        fund(&mut room, &pot, &ana, &bo, 900, 11);
        // A ledger entry written as a dividend by a modified client is not read as one.
        forge(&mut room, &pot, "x1", &cy, "dividend", 900, "", 12);
        // A dividend decision that one member alone agreed to does not pass.
        let d = Dividend {
            pot: pot.clone(),
            amount: 900,
            split: Split::Equal,
        };
        pay_dividend(&mut room, &[&ana], &d);
        assert!(dividend_lines(&room, &pot).is_empty());
        assert_eq!(room.pot(&pot, NOW * 1_000).unwrap().balance, 900);
    }

    /// Writes a ledger entry straight into the document, as a modified client could.
    #[allow(clippy::too_many_arguments)]
    fn forge(
        room: &mut RoomDoc,
        pot: &str,
        id: &str,
        signer: &Identity,
        kind: &str,
        amount: i64,
        target: &str,
        at: i64,
    ) {
        let entry = LedgerEntry {
            pot: pot.to_owned(),
            entry: kind.to_owned(),
            amount,
            memo: String::new(),
            target: target.to_owned(),
            at,
        };
        let key = format!("ledger:{pot}:{id}");
        room.put_entry(signer, &key, id, &entry).unwrap();
        room.commit();
    }

    /// Writes a confirmation straight into the document, as a modified client could.
    fn forge_confirmation(
        room: &mut RoomDoc,
        pot: &str,
        entry: &str,
        id: &str,
        signer: &Identity,
        at: i64,
    ) {
        let confirmation = ConfirmationEntry {
            pot: pot.to_owned(),
            target: entry.to_owned(),
            at,
        };
        let key = format!("ledger:{pot}:{entry}/{id}");
        room.put_entry(signer, &key, &format!("{entry}/{id}"), &confirmation)
            .unwrap();
        room.commit();
    }

    /// Writes a mark straight into the document.
    fn forge_mark(
        room: &mut RoomDoc,
        kind: &str,
        id: &str,
        signer: &Identity,
        target: &str,
        at: i64,
    ) {
        let mark = super::super::signed::MarkFields {
            target: target.to_owned(),
            at,
        };
        room.put_fields(signer, kind, &format!("{kind}:{id}"), id, &mark)
            .unwrap();
        room.commit();
    }

    #[test]
    fn money_in_counts_once_another_member_confirms_it() {
        let (mut room, ana, bo, _) = room3();
        let pot = room.open_pot(&ana, "Common pot", "EUR", 10).unwrap();
        let dues = room
            .record(
                &ana,
                &pot,
                NewEntry::new(EntryKind::Inflow, 10_000, "dues"),
                11,
            )
            .unwrap();
        assert_eq!(room.pot(&pot, NOW).unwrap().balance, 0);
        assert_eq!(
            state_of(&room, &pot, &dues),
            EntryState::AwaitingConfirmation
        );
        assert_eq!(
            room.confirm(&ana, &pot, &dues, 12),
            Err(DomainError::SelfApproval)
        );
        room.confirm(&bo, &pot, &dues, 12).unwrap();
        assert_eq!(state_of(&room, &pot, &dues), EntryState::Counted);
        assert_eq!(room.pot(&pot, NOW).unwrap().balance, 10_000);
        // Confirming again adds nothing: it counts once.
        room.confirm(&bo, &pot, &dues, 13).unwrap();
        assert_eq!(room.pot(&pot, NOW).unwrap().balance, 10_000);
        assert!(matches!(
            room.confirm(&bo, &pot, "nope", 13),
            Err(DomainError::NoSuchEntry(_))
        ));
        assert_eq!(room.confirmers(&pot, &dues), BTreeSet::from([bo.public()]));
        // Zero, negative and oversized amounts are refused.
        for amount in [0, -5, MAX_AMOUNT + 1, i64::MAX] {
            assert!(matches!(
                room.record(&bo, &pot, NewEntry::new(EntryKind::Inflow, amount, ""), 13),
                Err(DomainError::Invalid {
                    field: "amount",
                    ..
                })
            ));
        }
        assert!(matches!(
            room.open_pot(&ana, "Bad", "euros", 14),
            Err(DomainError::Invalid { field: "unit", .. })
        ));
    }

    #[test]
    fn money_out_needs_the_expense_approvals_before_it_is_paid() {
        let (mut room, ana, bo, cy) = room3();
        let pot = room.open_pot(&ana, "Common pot", "EUR", 10).unwrap();
        fund(&mut room, &pot, &ana, &cy, 10_000, 11);
        let out = room
            .record(
                &bo,
                &pot,
                NewEntry::new(EntryKind::Payout, 2_550, "solidarity"),
                12,
            )
            .unwrap();
        assert_eq!(
            state_of(&room, &pot, &out),
            EntryState::AwaitingApproval {
                approvals: 0,
                needed: 2
            }
        );
        assert_eq!(room.pot(&pot, NOW).unwrap().balance, 10_000);
        assert_eq!(
            room.pay(&ana, &pot, &out, 13),
            Err(DomainError::NotApproved)
        );
        assert_eq!(
            room.approve(&bo, &pot, &out, 13),
            Err(DomainError::SelfApproval)
        );
        room.approve(&ana, &pot, &out, 14).unwrap();
        room.approve(&cy, &pot, &out, 15).unwrap();
        assert_eq!(state_of(&room, &pot, &out), EntryState::Approved);
        room.pay(&cy, &pot, &out, 16).unwrap();
        assert_eq!(state_of(&room, &pot, &out), EntryState::Counted);
        assert_eq!(room.pot(&pot, NOW).unwrap().balance, 7_450);
        // Asking for more than the pot holds is refused.
        assert_eq!(
            room.record(&bo, &pot, NewEntry::new(EntryKind::Payout, 7_451, ""), 17),
            Err(DomainError::InsufficientFunds {
                balance: 7_450,
                amount: 7_451
            })
        );
    }

    #[test]
    fn expenses_need_two_approvals_never_the_requesters_own() {
        let (mut room, ana, bo, cy) = room3();
        let pot = room.open_pot(&ana, "Tools", "EUR", 10).unwrap();
        fund(&mut room, &pot, &ana, &bo, 5_000, 11);
        let exp = room
            .record(
                &bo,
                &pot,
                NewEntry::new(EntryKind::Expense, 1_200, "saw blades"),
                12,
            )
            .unwrap();
        assert_eq!(
            room.approve(&bo, &pot, &exp, 13),
            Err(DomainError::SelfApproval)
        );
        assert_eq!(
            room.pay(&ana, &pot, &exp, 13),
            Err(DomainError::NotApproved)
        );
        room.approve(&ana, &pot, &exp, 14).unwrap();
        assert_eq!(
            room.approve(&ana, &pot, &exp, 15),
            Err(DomainError::AlreadyApproved)
        );
        assert_eq!(
            state_of(&room, &pot, &exp),
            EntryState::AwaitingApproval {
                approvals: 1,
                needed: 2
            }
        );
        room.approve(&cy, &pot, &exp, 16).unwrap();
        assert_eq!(state_of(&room, &pot, &exp), EntryState::Approved);
        assert_eq!(room.pot(&pot, NOW).unwrap().balance, 5_000);
        room.pay(&cy, &pot, &exp, 17).unwrap();
        assert_eq!(state_of(&room, &pot, &exp), EntryState::Counted);
        assert_eq!(room.pot(&pot, NOW).unwrap().balance, 3_800);
    }

    #[test]
    fn reversals_correct_without_editing_once_confirmed() {
        let (mut room, ana, bo, _) = room3();
        let pot = room.open_pot(&ana, "Pot", "EUR", 10).unwrap();
        let wrong = room
            .record(
                &ana,
                &pot,
                NewEntry::new(EntryKind::Inflow, 900, "typo"),
                11,
            )
            .unwrap();
        room.confirm(&bo, &pot, &wrong, 11).unwrap();
        fund(&mut room, &pot, &ana, &bo, 90, 12);
        let undo = room
            .record(&bo, &pot, NewEntry::reversal(&wrong, 900, "undo typo"), 13)
            .unwrap();
        // A correction is a claim too: it waits for someone other than its author.
        assert_eq!(room.pot(&pot, NOW).unwrap().balance, 990);
        assert_eq!(
            room.confirm(&bo, &pot, &undo, 14),
            Err(DomainError::SelfApproval)
        );
        room.confirm(&ana, &pot, &undo, 14).unwrap();
        let view = room.pot(&pot, NOW).unwrap();
        assert_eq!(view.balance, 90);
        assert_eq!(view.lines[0].state, EntryState::Reversed);
        assert_eq!(view.lines.len(), 3);
        // The correction says which entry it undoes, and why.
        let line = view.lines.iter().find(|l| l.id == undo).unwrap();
        assert_eq!(
            (line.target.as_deref(), line.memo.as_str()),
            (Some(wrong.as_str()), "undo typo")
        );
        assert_eq!(view.lines[0].target, None);
        // The same entry cannot be reversed twice, nor for another amount.
        assert!(matches!(
            room.record(&bo, &pot, NewEntry::reversal(&wrong, 900, "again"), 15),
            Err(DomainError::Invalid {
                field: "target",
                ..
            })
        ));
    }

    #[test]
    fn a_correction_needs_a_reason() {
        let (mut room, ana, bo, _) = room3();
        let pot = room.open_pot(&ana, "Pot", "EUR", 10).unwrap();
        fund(&mut room, &pot, &ana, &bo, 90, 12);
        let line = room.pot(&pot, NOW).unwrap().lines[0].id.clone();
        assert!(matches!(
            room.record(&bo, &pot, NewEntry::reversal(&line, 90, "  "), 13),
            Err(DomainError::Invalid {
                field: "reason",
                ..
            })
        ));
    }

    #[test]
    fn an_amount_far_beyond_what_the_pot_has_seen_is_unusual() {
        let (mut room, ana, bo, _) = room3();
        let pot = room.open_pot(&ana, "Pot", "EUR", 10).unwrap();
        let empty = room.pot(&pot, NOW).unwrap();
        assert!(!empty.unusual(1_000_000), "10,000 EUR in a new pot");
        assert!(empty.unusual(1_000_001));
        fund(&mut room, &pot, &ana, &bo, 20, 12);
        let view = room.pot(&pot, NOW).unwrap();
        // Largest counted: 20 EUR. Ten times that is below 100 EUR: up to 100 EUR is usual.
        assert!(!view.unusual(10_000));
        assert!(view.unusual(10_001));
        assert!(view.unusual(100_000_000_000));
        // Largest counted: 500 EUR; ten times that is the line.
        fund(&mut room, &pot, &ana, &bo, 50_000, 13);
        let view = room.pot(&pot, NOW).unwrap();
        assert!(!view.unusual(500_000));
        assert!(view.unusual(500_001));
        let hours = room.open_pot(&ana, "Hours", "hours", 14).unwrap();
        let hours = room.pot(&hours, NOW).unwrap();
        assert!(!hours.unusual(10_000 * 60));
        assert!(hours.unusual(10_000 * 60 + 1));
    }

    #[test]
    fn strangers_and_forgeries_move_no_money() {
        let (mut room, ana, bo, _) = room3();
        let pot = room.open_pot(&ana, "Pot", "EUR", 10).unwrap();
        let stranger = Identity::generate();
        assert_eq!(
            room.record(
                &stranger,
                &pot,
                NewEntry::new(EntryKind::Inflow, 100, ""),
                11
            ),
            Err(DomainError::NotAdmitted)
        );
        // A forged entry written straight into the document (as a hostile peer could).
        forge(&mut room, &pot, "f1", &stranger, "payout", 100, "", 12);
        forge_mark(&mut room, "approval", "a1", &stranger, "f1", 12);
        forge_mark(&mut room, "paid", "p1", &stranger, "f1", 12);
        fund(&mut room, &pot, &ana, &bo, 50, 13);
        let view = room.pot(&pot, NOW).unwrap();
        assert_eq!(view.balance, 50);
        assert!(matches!(view.lines[0].state, EntryState::Refused(_)));
    }

    #[test]
    fn a_payout_written_without_approvals_moves_no_money() {
        let (mut room, ana, bo, cy) = room3();
        let pot = room.open_pot(&ana, "Pot", "EUR", 10).unwrap();
        fund(&mut room, &pot, &ana, &cy, 1_000, 11);
        // Bo's modified client writes a payout to himself and marks it paid, with no approval
        // (the old rules counted it at once).
        forge(&mut room, &pot, "grab", &bo, "payout", 1_000, "", 12);
        forge_mark(&mut room, "paid", "p1", &bo, "grab", 13);
        // He approves it himself, too: that never counts.
        forge_mark(&mut room, "approval", "a1", &bo, "grab", 13);
        assert_eq!(room.pot(&pot, NOW).unwrap().balance, 1_000);
        assert_eq!(
            state_of(&room, &pot, "grab"),
            EntryState::AwaitingApproval {
                approvals: 0,
                needed: 2
            }
        );
        // With the charter's approvals (others') and a payment, it counts.
        room.approve(&ana, &pot, "grab", 14).unwrap();
        room.approve(&cy, &pot, "grab", 15).unwrap();
        assert_eq!(state_of(&room, &pot, "grab"), EntryState::Counted);
        assert_eq!(room.pot(&pot, NOW).unwrap().balance, 0);
    }

    #[test]
    fn money_in_that_nobody_else_confirmed_does_not_count() {
        let (mut room, ana, bo, cy) = room3();
        let pot = room.open_pot(&ana, "Pot", "EUR", 10).unwrap();
        // Bo claims a big inflow and confirms it himself, then asks to pay it out.
        forge(&mut room, &pot, "claim", &bo, "inflow", 50_000, "", 11);
        forge_confirmation(&mut room, &pot, "claim", "c1", &bo, 11);
        assert_eq!(room.pot(&pot, NOW).unwrap().balance, 0);
        assert_eq!(
            state_of(&room, &pot, "claim"),
            EntryState::AwaitingConfirmation
        );
        // A stranger's confirmation does not count either.
        let stranger = Identity::generate();
        forge_confirmation(&mut room, &pot, "claim", "c2", &stranger, 12);
        assert_eq!(room.pot(&pot, NOW).unwrap().balance, 0);
        // Another admitted member's does, from the time of that confirmation.
        forge_confirmation(&mut room, &pot, "claim", "c3", &cy, 20);
        assert_eq!(room.pot(&pot, NOW).unwrap().balance, 50_000);
    }

    #[test]
    fn money_in_counts_from_its_confirmation_so_it_cannot_cover_earlier_payments() {
        let (mut room, ana, bo, cy) = room3();
        let pot = room.open_pot(&ana, "Pot", "EUR", 10).unwrap();
        fund(&mut room, &pot, &ana, &bo, 100, 11);
        let exp = room
            .record(&bo, &pot, NewEntry::new(EntryKind::Expense, 100, "x"), 12)
            .unwrap();
        room.approve(&ana, &pot, &exp, 13).unwrap();
        room.approve(&cy, &pot, &exp, 13).unwrap();
        room.pay(&ana, &pot, &exp, 14).unwrap();
        // An inflow dated before the payment but confirmed after it comes after it.
        let late = room
            .record(&cy, &pot, NewEntry::new(EntryKind::Inflow, 40, "late"), 5)
            .unwrap();
        room.confirm(&ana, &pot, &late, 30).unwrap();
        let view = room.pot(&pot, NOW).unwrap();
        assert_eq!(view.balance, 40);
        assert!(view.lines.iter().all(|l| l.state == EntryState::Counted));
    }

    #[test]
    fn huge_and_negative_amounts_neither_panic_nor_distort_the_balance() {
        let (mut room, ana, bo, cy) = room3();
        let pot = room.open_pot(&ana, "Pot", "EUR", 10).unwrap();
        fund(&mut room, &pot, &ana, &bo, 500, 11);
        // Confirmed inflows of i64::MAX and i64::MIN, a negative one, and an outflow of i64::MIN
        // (which the old replay negated: a panic in debug builds, a silent inflow in release).
        for (i, (kind, amount)) in [
            ("inflow", i64::MAX),
            ("inflow", i64::MAX),
            ("inflow", -300),
            ("inflow", i64::MIN),
            ("payout", i64::MIN),
            ("expense", i64::MIN),
        ]
        .into_iter()
        .enumerate()
        {
            let id = format!("big{i}");
            forge(&mut room, &pot, &id, &bo, kind, amount, "", 20 + i as i64);
            forge_confirmation(&mut room, &pot, &id, &format!("c{i}"), &cy, 30);
            forge_mark(&mut room, "approval", &format!("a{i}"), &cy, &id, 30);
            forge_mark(&mut room, "approval", &format!("b{i}"), &ana, &id, 30);
            forge_mark(&mut room, "paid", &format!("p{i}"), &ana, &id, 31);
        }
        let view = room.pot(&pot, NOW).unwrap();
        assert_eq!(view.balance, 500);
        assert_eq!(room.pot_balances(NOW), vec![(pot.clone(), 500)]);
        let refused = view
            .lines
            .iter()
            .filter(|l| l.state == EntryState::Refused("amount out of range".into()))
            .count();
        assert_eq!(refused, 6);
        // The largest allowed amounts add up without overflow.
        for i in 0..3 {
            fund(&mut room, &pot, &ana, &bo, MAX_AMOUNT, 40 + i);
        }
        assert_eq!(room.pot(&pot, NOW).unwrap().balance, 500 + 3 * MAX_AMOUNT);
    }

    #[test]
    fn ids_holding_a_colon_are_refused_and_never_read() {
        let (mut room, ana, bo, cy) = room3();
        let pot = room.open_pot(&ana, "Pot", "EUR", 10).unwrap();
        fund(&mut room, &pot, &ana, &bo, 100, 11);
        for bad in [format!("{pot}:x"), String::new()] {
            assert!(matches!(
                room.record(&ana, &bad, NewEntry::new(EntryKind::Inflow, 5, ""), 12),
                Err(DomainError::Invalid { field: "pot", .. })
            ));
        }
        assert!(matches!(
            room.confirm(&ana, &format!("{pot}:x"), "e", 12),
            Err(DomainError::Invalid { field: "pot", .. })
        ));
        // A pot whose id is `<pot>:x` would put its ledger inside this pot's range.
        let nested = format!("{pot}:x");
        let shadow = PotEntry {
            name: "Shadow".into(),
            unit: "EUR".into(),
            at: 12,
        };
        room.put_entry(&cy, &format!("pot:{nested}"), &nested, &shadow)
            .unwrap();
        room.commit();
        forge(&mut room, &nested, "spam", &cy, "inflow", 7, "", 13);
        forge(&mut room, &pot, "y:z", &cy, "inflow", 9, "", 13);
        forge_confirmation(&mut room, &nested, "spam", "c1", &ana, 14);
        forge_confirmation(&mut room, &pot, "y:z", "c2", &ana, 14);
        let pots = room.pots(NOW);
        assert_eq!(pots.len(), 1, "the shadow pot is not listed");
        assert_eq!(pots[0].lines.len(), 1, "nothing from another range");
        assert_eq!(pots[0].balance, 100);
        assert_eq!(room.pot(&nested, NOW), None);
    }

    #[test]
    fn confirmations_count_only_for_the_entry_they_were_signed_for() {
        let (mut room, ana, bo, cy) = room3();
        let pot = room.open_pot(&ana, "Pot", "EUR", 10).unwrap();
        let dues = room
            .record(
                &ana,
                &pot,
                NewEntry::new(EntryKind::Inflow, 100, "dues"),
                11,
            )
            .unwrap();
        // Cy's entries with ids around Ana's (`<dues>-x` sorts between `<dues>` and its
        // confirmations) do not detach her confirmation.
        forge(
            &mut room,
            &pot,
            &format!("{dues}-x"),
            &cy,
            "inflow",
            7,
            "",
            11,
        );
        forge(
            &mut room,
            &pot,
            &format!("{dues}0"),
            &cy,
            "inflow",
            9,
            "",
            11,
        );
        room.confirm(&bo, &pot, &dues, 12).unwrap();
        assert_eq!(state_of(&room, &pot, &dues), EntryState::Counted);
        assert_eq!(room.pot(&pot, NOW).unwrap().balance, 100);
        // Bo's confirmation of `dues`, copied under Cy's entry, does not verify there.
        let (key, bo_confirmation) = room
            .entries(&format!("ledger:{pot}:{dues}/"))
            .next()
            .map(|(k, f)| {
                (
                    k.to_owned(),
                    f.iter()
                        .map(|(n, v)| (n.clone(), v.clone()))
                        .collect::<Vec<_>>(),
                )
            })
            .unwrap();
        use automerge::transaction::Transactable;
        let obj = room
            .doc
            .put_object(
                automerge::ROOT,
                format!("ledger:{pot}:{dues}-x/{key}"),
                automerge::ObjType::Map,
            )
            .unwrap();
        for (name, value) in bo_confirmation {
            match value {
                super::super::signed::Field::Text(t) => room.doc.put(&obj, name, t).unwrap(),
                super::super::signed::Field::Int(v) => room.doc.put(&obj, name, v).unwrap(),
            }
        }
        room.commit();
        assert_eq!(
            state_of(&room, &pot, &format!("{dues}-x")),
            EntryState::AwaitingConfirmation
        );
        // An id holding `/` is never read as a ledger entry.
        forge(&mut room, &pot, "a/b", &cy, "inflow", 5, "", 13);
        forge_confirmation(&mut room, &pot, "a/b", "c", &ana, 14);
        let view = room.pot(&pot, NOW).unwrap();
        assert!(view.lines.iter().all(|l| l.id != "a/b"));
        assert_eq!(view.balance, 100);
    }

    #[test]
    fn concurrent_payouts_cannot_overdraw_after_merging() {
        let (mut a, ana, bo, cy) = room3();
        let pot = a.open_pot(&ana, "Pot", "EUR", 10).unwrap();
        fund(&mut a, &pot, &ana, &cy, 1_000, 11);
        let x = a
            .record(&ana, &pot, NewEntry::new(EntryKind::Expense, 700, "a"), 12)
            .unwrap();
        let y = a
            .record(&bo, &pot, NewEntry::new(EntryKind::Expense, 700, "b"), 12)
            .unwrap();
        for (who, what) in [(&bo, &x), (&cy, &x), (&ana, &y), (&cy, &y)] {
            a.approve(who, &pot, what, 13).unwrap();
        }
        let mut b = RoomDoc::empty("room-1");
        let sync = crate::domain::testing::sync;
        sync(&mut a, &mut b);
        // Apart, each device pays out 700 of the 1,000: both are valid locally.
        a.pay(&ana, &pot, &x, 20).unwrap();
        b.pay(&bo, &pot, &y, 21).unwrap();
        sync(&mut a, &mut b);
        let (va, vb) = (a.pot(&pot, NOW).unwrap(), b.pot(&pot, NOW).unwrap());
        assert_eq!(va, vb);
        assert_eq!(va.balance, 300);
        let refused = va
            .lines
            .iter()
            .filter(|l| matches!(l.state, EntryState::Refused(_)))
            .count();
        assert_eq!(refused, 1);
    }
}

/// A pot's (or lending circle's) unit, trimmed: a three-letter currency code or "hours".
pub(crate) fn checked_unit(unit: &str) -> Result<&str, DomainError> {
    let unit = unit.trim();
    if unit == "hours" || (unit.len() == 3 && unit.chars().all(|c| c.is_ascii_uppercase())) {
        Ok(unit)
    } else {
        Err(DomainError::Invalid {
            field: "unit",
            problem: format!("\"{unit}\" is neither a three-letter currency code nor \"hours\""),
        })
    }
}

/// Reads an amount typed by a person into minor units, without floating point: "12", "12.5",
/// "12,50" (cents) for a currency; "90" (minutes), "1:30" or "1.5" (hours) for an hours pot.
pub fn parse_amount(text: &str, unit: &str) -> Result<i64, DomainError> {
    let bad = |problem: &str| DomainError::Invalid {
        field: "amount",
        problem: problem.into(),
    };
    let text = text.trim();
    if text.is_empty() {
        return Err(bad("must not be empty"));
    }
    let digits = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_digit());
    let number =
        |s: &str| -> Result<i64, DomainError> { s.parse::<i64>().map_err(|_| bad("is too large")) };
    let (whole, fraction, scale) = if unit == "hours" {
        if let Some((h, m)) = text.split_once(':') {
            if !digits(h) || !digits(m) || m.len() != 2 || number(m)? >= 60 {
                return Err(bad("is not a time like 1:30"));
            }
            let minutes = number(h)?
                .checked_mul(60)
                .and_then(|v| v.checked_add(number(m).unwrap_or(0)))
                .ok_or_else(|| bad("is too large"))?;
            return if minutes > 0 {
                Ok(minutes)
            } else {
                Err(bad("must be more than zero"))
            };
        }
        match text.split_once(['.', ',']) {
            // Decimal hours: 1.5 h = 90 min; at most two decimals, whole minutes only.
            Some((h, f)) => (h, f, 60),
            None => {
                if !digits(text) {
                    return Err(bad("is not a number of minutes, or hours like 1:30"));
                }
                let minutes = number(text)?;
                return if minutes > 0 {
                    Ok(minutes)
                } else {
                    Err(bad("must be more than zero"))
                };
            }
        }
    } else {
        match text.split_once(['.', ',']) {
            Some((w, f)) => (w, f, 100),
            None => (text, "", 100),
        }
    };
    if !digits(whole) || !(fraction.is_empty() || digits(fraction)) || fraction.len() > 2 {
        return Err(bad("is not an amount like 12.50 (at most two decimals)"));
    }
    let hundredths = match fraction.len() {
        0 => 0,
        1 => number(fraction)? * 10,
        _ => number(fraction)?,
    };
    let minor_fraction = hundredths * scale;
    if minor_fraction % 100 != 0 {
        return Err(bad("is not a whole number of minutes"));
    }
    let total = number(whole)?
        .checked_mul(scale)
        .and_then(|v| v.checked_add(minor_fraction / 100))
        .ok_or_else(|| bad("is too large"))?;
    if total <= 0 {
        return Err(bad("must be more than zero"));
    }
    Ok(total)
}

/// Writes minor units for people: "12.50 EUR", "1:30 h".
pub fn format_amount(minor: i64, unit: &str) -> String {
    let sign = if minor < 0 { "-" } else { "" };
    let v = minor.unsigned_abs();
    if unit == "hours" {
        format!("{sign}{}:{:02} h", v / 60, v % 60)
    } else {
        format!("{sign}{}.{:02} {unit}", v / 100, v % 100)
    }
}

#[cfg(test)]
mod amount_tests {
    use super::*;

    #[test]
    fn amounts_are_read_and_written_without_floating_point() {
        for (text, unit, minor) in [
            ("12", "EUR", 1_200),
            ("12.5", "EUR", 1_250),
            ("12,05", "EUR", 1_205),
            ("0.01", "EUR", 1),
            ("90", "hours", 90),
            ("1:30", "hours", 90),
            ("1.5", "hours", 90),
            ("2,25", "hours", 135),
        ] {
            assert_eq!(parse_amount(text, unit), Ok(minor), "{text} {unit}");
        }
        for (text, unit) in [
            ("", "EUR"),
            ("-3", "EUR"),
            ("0", "EUR"),
            ("1.234", "EUR"),
            ("1e3", "EUR"),
            ("12 EUR", "EUR"),
            ("99999999999999999999", "EUR"),
            ("1:75", "hours"),
            ("1.01", "hours"),
            ("0:00", "hours"),
        ] {
            assert!(parse_amount(text, unit).is_err(), "{text} {unit}");
        }
        assert_eq!(format_amount(1_205, "EUR"), "12.05 EUR");
        assert_eq!(format_amount(-5, "EUR"), "-0.05 EUR");
        assert_eq!(format_amount(90, "hours"), "1:30 h");
    }
}
