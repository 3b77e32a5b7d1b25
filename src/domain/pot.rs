//! The common pot: a transparent, append-only ledger in integer minor units (cents, or minutes
//! for an hours pot). Money comes in (inflow) and goes out as payouts or as expenses that other
//! admitted members approve under the charter's policy before they are paid. A correction is a
//! reversing entry, never an edit. Balances are derived by replaying verified entries in
//! (time, id) order; an outflow that the balance cannot cover at its turn is refused, so
//! concurrent payouts on two devices can never overdraw the pot.

use super::room::{required_text, DomainError, RoomDoc};
use super::signed::{int, put_signed, text, verifies, Canonical};
use crate::crypto::{random_id, Identity};
use std::collections::{BTreeMap, BTreeSet};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    Inflow,
    Payout,
    Expense,
    Reversal,
}

impl EntryKind {
    fn as_str(self) -> &'static str {
        match self {
            EntryKind::Inflow => "inflow",
            EntryKind::Payout => "payout",
            EntryKind::Expense => "expense",
            EntryKind::Reversal => "reversal",
        }
    }
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

/// Where a ledger entry stands after replay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryState {
    /// Counted in the balance.
    Counted,
    /// An expense waiting for approvals: how many it has and needs.
    AwaitingApproval { approvals: usize, needed: usize },
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
    pub memo: String,
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

fn pot_canonical(room: &str, id: &str, name: &str, unit: &str, at: i64) -> Canonical {
    Canonical::new(room, "pot", id)
        .text("name", name)
        .text("unit", unit)
        .int("at", at)
}

#[allow(clippy::too_many_arguments)]
fn entry_canonical(
    room: &str,
    id: &str,
    pot: &str,
    kind: &str,
    amount: i64,
    memo: &str,
    target: &str,
    at: i64,
) -> Canonical {
    Canonical::new(room, "ledger", id)
        .text("pot", pot)
        .text("entry", kind)
        .int("amount", amount)
        .text("memo", memo)
        .text("target", target)
        .int("at", at)
}

/// A ledger entry as read from the index (borrowed: deriving a pot allocates per line only
/// when lines are asked for).
struct Entry<'a> {
    id: &'a str,
    kind: EntryKind,
    amount: i64,
    raw: &'a super::signed::Raw,
    target: &'a str,
    author: &'a str,
    at: i64,
    verified: bool,
}

/// A ledger entry's typed reading, kept with the entry in the index.
struct Parsed {
    kind: EntryKind,
    amount: i64,
    at: i64,
    verified: bool,
    author: String,
    target: String,
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
        let id = random_id();
        let canonical = pot_canonical(self.room_id(), &id, &name, unit, now_ms);
        put_signed(&mut self.doc, &format!("pot:{id}"), me, canonical)?;
        self.commit();
        Ok(id)
    }

    /// Records an inflow, payout or expense request of `amount` minor units (> 0), or a reversal
    /// of entry `target`. Outflows beyond the balance are refused.
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
        self.require_admitted(me)?;
        self.pot_header(pot)
            .ok_or_else(|| DomainError::NoSuchEntry(pot.to_owned()))?;
        if amount <= 0 {
            return Err(DomainError::Invalid {
                field: "amount",
                problem: "must be a positive whole number of minor units".into(),
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
        let id = random_id();
        let canonical = entry_canonical(
            self.room_id(),
            &id,
            pot,
            kind.as_str(),
            amount,
            memo,
            target,
            now_ms,
        );
        put_signed(
            &mut self.doc,
            &format!("{}{id}", ledger_prefix(pot)),
            me,
            canonical,
        )?;
        self.commit();
        Ok(id)
    }

    /// Approves someone else's expense request.
    pub fn approve(
        &mut self,
        me: &Identity,
        pot: &str,
        expense: &str,
        now_ms: i64,
    ) -> Result<(), DomainError> {
        self.require_admitted(me)?;
        let line = self.expense_line(pot, expense, now_ms)?;
        if line.author == me.public() {
            return Err(DomainError::SelfApproval);
        }
        if self.approvers(expense).contains(&me.public()) {
            return Err(DomainError::AlreadyApproved);
        }
        self.put_mark(me, "approval", expense, now_ms)
    }

    /// Pays out an approved expense (refused if the balance cannot cover it).
    pub fn pay(
        &mut self,
        me: &Identity,
        pot: &str,
        expense: &str,
        now_ms: i64,
    ) -> Result<(), DomainError> {
        self.require_admitted(me)?;
        let line = self.expense_line(pot, expense, now_ms)?;
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

    fn expense_line(
        &self,
        pot: &str,
        expense: &str,
        now_ms: i64,
    ) -> Result<LedgerLine, DomainError> {
        self.pot(pot, now_ms)
            .and_then(|p| {
                p.lines
                    .into_iter()
                    .find(|l| l.id == expense && l.kind == EntryKind::Expense)
            })
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

    /// True if some pot holds expense `entry`, still waiting for approvals.
    pub(crate) fn is_pending_expense(&self, entry: &str, now_ms: i64) -> bool {
        self.pots(now_ms).iter().any(|p| {
            p.lines.iter().any(|l| {
                l.id == entry
                    && l.kind == EntryKind::Expense
                    && matches!(l.state, EntryState::AwaitingApproval { .. })
            })
        })
    }

    fn pot_balance(&self, id: &str, now_ms: i64) -> i64 {
        self.derive_pot(id, &self.replay_context(now_ms), false)
            .map_or(0, |p| p.balance)
    }

    /// A verified pot's name and unit.
    fn pot_header(&self, id: &str) -> Option<(&str, &str)> {
        let f = self.index.get(&format!("pot:{id}"))?;
        let (name, unit, at) = (text(f, "name")?, text(f, "unit")?, int(f, "at")?);
        verifies(f, || pot_canonical(self.room_id(), id, name, unit, at)).then_some((name, unit))
    }

    /// What a replay needs from the rest of the room: admitted members, counted approvals,
    /// first payment times, and the charter's approval count.
    fn replay_context(&self, now_ms: i64) -> ReplayContext {
        let admitted = self.admitted();
        let mut approvals: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for m in self.marks("approval") {
            if admitted.contains(&m.author) {
                approvals.entry(m.target).or_default().insert(m.author);
            }
        }
        let mut paid: BTreeMap<String, i64> = BTreeMap::new();
        for m in self.marks("paid") {
            if admitted.contains(&m.author) {
                let first = paid.entry(m.target).or_insert(m.at);
                *first = (*first).min(m.at);
            }
        }
        ReplayContext {
            needed: self.charter(now_ms).approvals,
            approved_by_decision: self.governance().approved_expenses.clone(),
            admitted,
            approvals,
            paid,
        }
    }

    fn derive_pot(&self, id: &str, ctx: &ReplayContext, with_lines: bool) -> Option<PotView> {
        let (name, unit) = self.pot_header(id)?;
        let prefix = ledger_prefix(id);
        let entries: Vec<Entry> = self
            .entries(&prefix)
            .filter_map(|(entry_id, f)| {
                let p = f.parsed(|f| {
                    let (kind, amount, at) = (text(f, "entry")?, int(f, "amount")?, int(f, "at")?);
                    let (memo, target) = (
                        text(f, "memo").unwrap_or_default(),
                        text(f, "target").unwrap_or_default(),
                    );
                    let verified = text(f, "pot") == Some(id)
                        && verifies(f, || {
                            entry_canonical(
                                self.room_id(),
                                entry_id,
                                id,
                                kind,
                                amount,
                                memo,
                                target,
                                at,
                            )
                        });
                    Some(Parsed {
                        kind: EntryKind::parse(kind)?,
                        amount,
                        at,
                        verified,
                        author: text(f, "author").unwrap_or_default().to_owned(),
                        target: target.to_owned(),
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
                })
            })
            .collect();
        let (balance, lines) = replay(&entries, ctx, with_lines);
        Some(PotView {
            id: id.to_owned(),
            name: name.to_owned(),
            unit: unit.to_owned(),
            balance,
            lines,
        })
    }
}

struct ReplayContext {
    needed: usize,
    /// Expenses approved by a passed decision.
    approved_by_decision: BTreeSet<String>,
    admitted: BTreeSet<String>,
    approvals: BTreeMap<String, BTreeSet<String>>,
    paid: BTreeMap<String, i64>,
}

/// Replays a pot's entries in (time, id) order; an expense takes effect when it is paid.
fn replay(entries: &[Entry], ctx: &ReplayContext, with_lines: bool) -> (i64, Vec<LedgerLine>) {
    let ReplayContext {
        needed,
        admitted,
        approvals,
        paid,
        ..
    } = ctx;
    let needed = *needed;
    // Each event: (time, id, what). Expenses move money at their payment time.
    let mut order: Vec<(i64, &str, usize)> = Vec::new();
    for (i, e) in entries.iter().enumerate() {
        let when = if e.kind == EntryKind::Expense {
            paid.get(e.id).copied().unwrap_or(i64::MAX)
        } else {
            e.at
        };
        order.push((when, e.id, i));
    }
    order.sort();
    let mut states: Vec<EntryState> = vec![EntryState::Counted; entries.len()];
    let mut effect: Vec<i64> = vec![0; entries.len()];
    let mut balance: i64 = 0;
    for (_, _, i) in order {
        let e = &entries[i];
        if !e.verified {
            states[i] = EntryState::Refused("signature does not verify".into());
            continue;
        }
        if !admitted.contains(e.author) {
            states[i] = EntryState::Refused("author is not an admitted member".into());
            continue;
        }
        let delta = match e.kind {
            EntryKind::Inflow => e.amount,
            EntryKind::Payout => -e.amount,
            EntryKind::Expense => {
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
            EntryKind::Reversal => {
                let Some(t) = entries.iter().position(|x| x.id == e.target) else {
                    states[i] = EntryState::Refused("reverses an unknown entry".into());
                    continue;
                };
                if states[t] != EntryState::Counted
                    || effect[t] == 0
                    || entries[t].amount != e.amount
                {
                    states[i] = EntryState::Refused("nothing to reverse".into());
                    continue;
                }
                states[t] = EntryState::Reversed;
                let undo = -effect[t];
                effect[t] = 0;
                match balance.checked_add(undo) {
                    Some(b) if b >= 0 => {
                        balance = b;
                        continue;
                    }
                    _ => {
                        states[t] = EntryState::Counted;
                        effect[t] = -undo;
                        states[i] = EntryState::Refused("insufficient funds".into());
                        continue;
                    }
                }
            }
        };
        match balance.checked_add(delta) {
            Some(b) if b >= 0 => {
                balance = b;
                effect[i] = delta;
            }
            _ => states[i] = EntryState::Refused("insufficient funds".into()),
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
            author: e.author.to_owned(),
            at: e.at,
            state,
        })
        .collect();
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

    #[test]
    fn inflows_payouts_and_balances() {
        let (mut room, ana, bo, _) = room3();
        let pot = room.open_pot(&ana, "Common pot", "EUR", 10).unwrap();
        room.record(
            &ana,
            &pot,
            NewEntry::new(EntryKind::Inflow, 10_000, "dues"),
            11,
        )
        .unwrap();
        room.record(
            &bo,
            &pot,
            NewEntry::new(EntryKind::Payout, 2_550, "solidarity"),
            12,
        )
        .unwrap();
        let view = room.pot(&pot, NOW).unwrap();
        assert_eq!(view.balance, 7_450);
        assert_eq!(view.lines.len(), 2);
        assert!(view.lines.iter().all(|l| l.state == EntryState::Counted));
        // Overspending is refused, as are zero and negative amounts.
        assert_eq!(
            room.record(&bo, &pot, NewEntry::new(EntryKind::Payout, 7_451, ""), 13),
            Err(DomainError::InsufficientFunds {
                balance: 7_450,
                amount: 7_451
            })
        );
        assert!(matches!(
            room.record(&bo, &pot, NewEntry::new(EntryKind::Inflow, 0, ""), 13),
            Err(DomainError::Invalid {
                field: "amount",
                ..
            })
        ));
        assert!(matches!(
            room.record(&bo, &pot, NewEntry::new(EntryKind::Inflow, -5, ""), 13),
            Err(DomainError::Invalid {
                field: "amount",
                ..
            })
        ));
        assert!(matches!(
            room.open_pot(&ana, "Bad", "euros", 14),
            Err(DomainError::Invalid { field: "unit", .. })
        ));
    }

    #[test]
    fn expenses_need_two_approvals_never_the_requesters_own() {
        let (mut room, ana, bo, cy) = room3();
        let pot = room.open_pot(&ana, "Tools", "EUR", 10).unwrap();
        room.record(&ana, &pot, NewEntry::new(EntryKind::Inflow, 5_000, ""), 11)
            .unwrap();
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
        let line = |room: &RoomDoc| {
            room.pot(&pot, NOW)
                .unwrap()
                .lines
                .into_iter()
                .find(|l| l.id == exp)
                .unwrap()
        };
        assert_eq!(
            line(&room).state,
            EntryState::AwaitingApproval {
                approvals: 1,
                needed: 2
            }
        );
        room.approve(&cy, &pot, &exp, 16).unwrap();
        assert_eq!(line(&room).state, EntryState::Approved);
        assert_eq!(room.pot(&pot, NOW).unwrap().balance, 5_000);
        room.pay(&cy, &pot, &exp, 17).unwrap();
        assert_eq!(line(&room).state, EntryState::Counted);
        assert_eq!(room.pot(&pot, NOW).unwrap().balance, 3_800);
    }

    #[test]
    fn reversals_correct_without_editing() {
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
        room.record(
            &ana,
            &pot,
            NewEntry::new(EntryKind::Inflow, 90, "right"),
            12,
        )
        .unwrap();
        room.record(&bo, &pot, NewEntry::reversal(&wrong, 900, "undo typo"), 13)
            .unwrap();
        let view = room.pot(&pot, NOW).unwrap();
        assert_eq!(view.balance, 90);
        assert_eq!(view.lines[0].state, EntryState::Reversed);
        assert_eq!(view.lines.len(), 3);
        // The same entry cannot be reversed twice, nor for another amount.
        assert!(room
            .record(&bo, &pot, NewEntry::reversal(&wrong, 900, ""), 14)
            .is_err());
    }

    #[test]
    fn strangers_and_forgeries_move_no_money() {
        let (mut room, ana, _, _) = room3();
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
        let canonical = entry_canonical("room-1", "f1", &pot, "payout", 100, "", "", 12);
        put_signed(
            &mut room.doc,
            &format!("ledger:{pot}:f1"),
            &stranger,
            canonical,
        )
        .unwrap();
        room.commit();
        room.record(&ana, &pot, NewEntry::new(EntryKind::Inflow, 50, ""), 13)
            .unwrap();
        let view = room.pot(&pot, NOW).unwrap();
        assert_eq!(view.balance, 50);
        assert!(matches!(view.lines[0].state, EntryState::Refused(_)));
    }

    #[test]
    fn concurrent_payouts_cannot_overdraw_after_merging() {
        let (mut a, ana, bo, _) = room3();
        let pot = a.open_pot(&ana, "Pot", "EUR", 10).unwrap();
        a.record(&ana, &pot, NewEntry::new(EntryKind::Inflow, 1_000, ""), 11)
            .unwrap();
        let mut b = RoomDoc::empty("room-1");
        let sync = crate::domain::testing::sync;
        sync(&mut a, &mut b);
        // Apart, each device pays out 700 of the 1,000: both are valid locally.
        a.record(&ana, &pot, NewEntry::new(EntryKind::Payout, 700, "a"), 20)
            .unwrap();
        b.record(&bo, &pot, NewEntry::new(EntryKind::Payout, 700, "b"), 21)
            .unwrap();
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
