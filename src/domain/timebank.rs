//! The time bank (TimeOverflow): members pay each other in minutes. Every transfer moves time
//! from its author's account to another member's, so accounts always sum to zero. An account may
//! go into debt down to a credit limit; a transfer that would pass it at its turn in (time, id)
//! order is refused, so transfers made apart can never break the limit once merged. Amounts are
//! bounded and every sum is checked where accounts are derived, so no transfer written by a
//! modified client can wrap an account around the limit.

use super::room::{DomainError, RoomDoc};
use super::signed::signed_entry;
use crate::crypto::Identity;
use std::collections::BTreeMap;

/// How far into debt an account may go, in minutes (10 hours).
pub const CREDIT_LIMIT_MINUTES: i64 = 600;

/// The most one transfer may carry, in minutes (about 70 days); larger ones never count.
pub const MAX_TRANSFER_MINUTES: i64 = 100_000;

/// A time transfer as the room sees it (derived).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HourTransfer {
    pub id: String,
    pub from: String,
    pub to: String,
    pub minutes: i64,
    pub memo: String,
    pub at: i64,
    /// False when refused at replay (past the credit limit, or not by/to admitted members).
    pub counted: bool,
}

signed_entry! {
    /// Hours given to a member (`hours:<id>`).
    pub(crate) struct HoursEntry = "hours" {
        to: String,
        minutes: i64,
        memo: String [or_default],
        at: i64,
    }
}

/// Whether an account at `balance` may pay `minutes` without passing the credit limit (checked:
/// a sum that would overflow is never within it).
fn within_limit(balance: i64, minutes: i64) -> bool {
    balance
        .checked_sub(minutes)
        .is_some_and(|left| left >= -CREDIT_LIMIT_MINUTES)
}

impl RoomDoc {
    /// Pays `minutes` of time from this member to another.
    pub fn pay_hours(
        &mut self,
        me: &Identity,
        to: &str,
        minutes: i64,
        memo: &str,
        now_ms: i64,
    ) -> Result<(), DomainError> {
        self.require_admitted(me)?;
        if to == me.public() || !self.admitted().contains(to) {
            return Err(DomainError::NoSuchMember(to.to_owned()));
        }
        if !(1..=MAX_TRANSFER_MINUTES).contains(&minutes) {
            return Err(DomainError::Invalid {
                field: "minutes",
                problem: "must be from 1 to 100000".into(),
            });
        }
        if memo.chars().count() > 200 {
            return Err(DomainError::Invalid {
                field: "memo",
                problem: "is longer than 200 characters".into(),
            });
        }
        let balance = self
            .time_accounts()
            .0
            .get(&me.public())
            .copied()
            .unwrap_or(0);
        if !within_limit(balance, minutes) {
            return Err(DomainError::OverCreditLimit {
                available: balance.saturating_add(CREDIT_LIMIT_MINUTES),
            });
        }
        let hours = HoursEntry {
            to: to.to_owned(),
            minutes,
            memo: memo.to_owned(),
            at: now_ms,
        };
        self.add_entry(me, "hours:", &hours)?;
        Ok(())
    }

    /// Every member's time balance in minutes (summing to zero) and the transfers, oldest first.
    pub fn time_accounts(&self) -> (BTreeMap<String, i64>, Vec<HourTransfer>) {
        // Whether both ends were admitted members when it was written: leaving or being
        // removed later rewrites no account.
        let mut standing: BTreeMap<String, bool> = BTreeMap::new();
        let mut transfers: Vec<HourTransfer> = self
            .entries_of::<HoursEntry>("hours:")
            .map(|e| {
                let HoursEntry {
                    to,
                    minutes,
                    memo,
                    at,
                } = e.entry;
                let (id, from) = (e.id.to_owned(), e.author);
                let both = self.admitted_when(from, e.raw) && self.admitted_at(&to, e.raw.anchor());
                standing.insert(id.clone(), both);
                HourTransfer {
                    id,
                    from: from.to_owned(),
                    to,
                    minutes,
                    memo,
                    at,
                    counted: false,
                }
            })
            .collect();
        transfers.sort_by(|a, b| (a.at, &a.id).cmp(&(b.at, &b.id)));
        let mut accounts: BTreeMap<String, i64> =
            self.admitted().into_iter().map(|m| (m, 0)).collect();
        for t in &mut transfers {
            let valid = (1..=MAX_TRANSFER_MINUTES).contains(&t.minutes)
                && t.from != t.to
                && standing.get(&t.id) == Some(&true);
            if !valid {
                continue;
            }
            let from_balance = accounts.get(&t.from).copied().unwrap_or(0);
            let to_balance = accounts.get(&t.to).copied().unwrap_or(0);
            // Both sums are checked before either account moves.
            if let (true, Some(from), Some(to)) = (
                within_limit(from_balance, t.minutes),
                from_balance.checked_sub(t.minutes),
                to_balance.checked_add(t.minutes),
            ) {
                accounts.insert(t.from.clone(), from);
                accounts.insert(t.to.clone(), to);
                t.counted = true;
            }
        }
        (accounts, transfers)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::testing::{community, sync};

    #[test]
    fn transfers_sum_to_zero_and_respect_the_credit_limit() {
        let (mut room, m) = community(3);
        room.pay_hours(&m[0], &m[1].public(), 90, "garden help", 10)
            .unwrap();
        room.pay_hours(&m[1], &m[2].public(), 30, "lift to town", 11)
            .unwrap();
        let (acc, _) = room.time_accounts();
        assert_eq!(acc[&m[0].public()], -90);
        assert_eq!(acc[&m[1].public()], 60);
        assert_eq!(acc[&m[2].public()], 30);
        assert_eq!(acc.values().sum::<i64>(), 0);
        assert!(matches!(
            room.pay_hours(&m[0], &m[1].public(), 511, "", 12),
            Err(DomainError::OverCreditLimit { available: 510 })
        ));
        assert!(room.pay_hours(&m[0], &m[0].public(), 5, "", 12).is_err());
        assert!(room.pay_hours(&m[0], &m[1].public(), 0, "", 12).is_err());
        assert_eq!(
            room.pay_hours(&Identity::generate(), &m[1].public(), 5, "", 12),
            Err(DomainError::NotAdmitted)
        );
    }

    /// Writes a transfer straight into the document, as a modified client could.
    fn forge(room: &mut RoomDoc, id: &str, from: &Identity, to: &Identity, minutes: i64, at: i64) {
        let hours = HoursEntry {
            to: to.public(),
            minutes,
            memo: String::new(),
            at,
        };
        room.put_entry(from, &format!("hours:{id}"), id, &hours)
            .unwrap();
        room.commit();
    }

    #[test]
    fn an_overflowing_transfer_cannot_get_past_the_credit_limit() {
        let (mut room, m) = community(3);
        room.pay_hours(&m[0], &m[1].public(), 510, "", 10).unwrap();
        // At -510, m0's modified client signs a transfer of i64::MAX minutes: -510 - i64::MAX
        // wrapped to a large positive balance in release builds (and panicked in debug ones).
        forge(&mut room, "wrap", &m[0], &m[2], i64::MAX, 11);
        forge(&mut room, "neg", &m[0], &m[2], i64::MIN, 12);
        forge(&mut room, "big", &m[2], &m[0], MAX_TRANSFER_MINUTES + 1, 13);
        let (acc, transfers) = room.time_accounts();
        assert_eq!(acc[&m[0].public()], -510);
        assert_eq!(acc[&m[1].public()], 510);
        assert_eq!(acc[&m[2].public()], 0);
        assert_eq!(transfers.iter().filter(|t| t.counted).count(), 1);
        // Still 90 minutes of credit left, and no more.
        assert_eq!(
            room.pay_hours(&m[0], &m[2].public(), 91, "", 14),
            Err(DomainError::OverCreditLimit { available: 90 })
        );
        room.pay_hours(&m[0], &m[2].public(), 90, "", 15).unwrap();
        assert_eq!(room.time_accounts().0[&m[0].public()], -600);
    }

    #[test]
    fn transfers_made_apart_cannot_break_the_limit_after_merging() {
        let (mut a, m) = community(3);
        let mut b = RoomDoc::empty("room-1");
        sync(&mut a, &mut b);
        a.pay_hours(&m[0], &m[1].public(), 400, "", 20).unwrap();
        b.pay_hours(&m[0], &m[2].public(), 400, "", 21).unwrap();
        sync(&mut a, &mut b);
        let (acc, transfers) = a.time_accounts();
        assert_eq!((acc.clone(), transfers.clone()), b.time_accounts());
        assert_eq!(acc[&m[0].public()], -400);
        assert_eq!(transfers.iter().filter(|t| !t.counted).count(), 1);
        assert_eq!(acc.values().sum::<i64>(), 0);
    }
}
