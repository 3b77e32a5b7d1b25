//! Lending circles (rotating savings): a fixed group of members each pays a fixed amount every
//! period, and each round one member, in rotation order, receives what the others paid. The
//! schedule — who receives each round, when it is due, who has paid — is derived, never stored,
//! from circles opened and payments made by admitted members, with bounded amounts and checked
//! arithmetic (a circle whose schedule would overflow is not shown).

use super::pot::{checked_id, plain_id, MAX_AMOUNT};
use super::room::{required_text, DomainError, RoomDoc};
use super::signed::{signed_entry, Entry as _, Fields as _};
use crate::crypto::Identity;
use std::collections::BTreeSet;

const DAY_MS: i64 = 24 * 60 * 60 * 1000;
const MAX_CIRCLE: usize = 60;

/// A circle to start: members in rotation order (the first receives the first round).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCircle {
    pub name: String,
    /// ISO currency code or "hours".
    pub unit: String,
    /// What each member pays each round, in minor units.
    pub amount: i64,
    pub period_days: i64,
    pub starts_at: i64,
    pub members: Vec<String>,
}

/// One round of a circle (derived).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Round {
    pub index: usize,
    pub receiver: String,
    pub due_at: i64,
    /// Members who paid into this round, in payment order, and when each paid.
    pub paid: Vec<String>,
    pub paid_at: Vec<i64>,
    /// Members who still owe this round.
    pub owing: Vec<String>,
    /// What the receiver gets once everyone has paid: amount × (members − 1).
    pub total: i64,
}

/// A lending circle and its schedule (derived).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CircleView {
    pub id: String,
    pub name: String,
    pub unit: String,
    pub amount: i64,
    pub period_days: i64,
    pub starts_at: i64,
    pub members: Vec<String>,
    pub rounds: Vec<Round>,
    pub author: String,
    pub opened_at: i64,
}

impl CircleView {
    /// The round due next at `now_ms` (the last one once all are past).
    pub fn current_round(&self, now_ms: i64) -> usize {
        let period = self.period_days.clamp(1, 366) * DAY_MS;
        let elapsed = now_ms.saturating_sub(self.starts_at).max(0) / period;
        usize::try_from(elapsed)
            .unwrap_or(usize::MAX)
            .min(self.rounds.len().saturating_sub(1))
    }
}

/// Whether a circle's schedule can be worked out: every round's due date and total fit in an
/// i64 (a circle starting near the end of time, or paying near i64::MAX a round, does not).
fn schedule_fits(c: &NewCircle) -> bool {
    let rounds = c.members.len().saturating_sub(1) as i64;
    rounds
        .checked_mul(c.period_days)
        .and_then(|d| d.checked_mul(DAY_MS))
        .and_then(|span| c.starts_at.checked_add(span))
        .is_some()
        && c.amount.checked_mul(rounds).is_some()
}

signed_entry! {
    /// A lending circle (`circle:<id>`): its members one per line.
    pub(crate) struct CircleEntry = "circle" {
        name: String,
        unit: String,
        amount: i64,
        period_days: i64,
        starts_at: i64,
        members: String,
        at: i64,
    }
}

impl CircleEntry {
    fn new(c: &NewCircle, at: i64) -> Self {
        CircleEntry {
            name: c.name.clone(),
            unit: c.unit.clone(),
            amount: c.amount,
            period_days: c.period_days,
            starts_at: c.starts_at,
            members: c.members.join("\n"),
            at,
        }
    }
}

signed_entry! {
    /// A member's payment into a round of a circle (`circlepay:<circle>:<id>`).
    pub(crate) struct PaymentEntry = "circlepay" {
        circle: String,
        round: i64,
        at: i64,
    }
}

fn invalid(field: &'static str, problem: &str) -> DomainError {
    DomainError::Invalid {
        field,
        problem: problem.into(),
    }
}

/// The rounds of a circle with every payment still owed: `None` when its numbers are out of
/// range or a due date or total would overflow.
fn schedule(c: &NewCircle) -> Option<Vec<Round>> {
    let sound = (1..=MAX_AMOUNT).contains(&c.amount)
        && (1..=366).contains(&c.period_days)
        && (2..=MAX_CIRCLE).contains(&c.members.len());
    if !sound {
        return None;
    }
    let total = c.amount.checked_mul(c.members.len() as i64 - 1)?;
    let period = c.period_days.checked_mul(DAY_MS)?;
    c.members
        .iter()
        .enumerate()
        .map(|(i, receiver)| {
            Some(Round {
                index: i,
                receiver: receiver.clone(),
                due_at: c.starts_at.checked_add(period.checked_mul(i as i64)?)?,
                paid: Vec::new(),
                paid_at: Vec::new(),
                owing: Vec::new(),
                total,
            })
        })
        .collect()
}

impl RoomDoc {
    /// Starts a lending circle among admitted members; returns its id.
    pub fn open_circle(
        &mut self,
        me: &Identity,
        c: NewCircle,
        now_ms: i64,
    ) -> Result<String, DomainError> {
        self.require_admitted(me)?;
        let name = required_text("name", &c.name, 60)?;
        let unit = super::pot::checked_unit(&c.unit)?.to_owned();
        if c.amount <= 0 {
            return Err(invalid(
                "amount",
                "must be a positive whole number of minor units",
            ));
        }
        if c.amount > MAX_AMOUNT {
            return Err(invalid("amount", "is too large"));
        }
        if !(1..=366).contains(&c.period_days) {
            return Err(invalid("period", "must be from 1 to 366 days"));
        }
        if !(2..=MAX_CIRCLE).contains(&c.members.len()) {
            return Err(invalid(
                "members",
                &format!("a circle needs from 2 to {MAX_CIRCLE} members"),
            ));
        }
        if !schedule_fits(&c) {
            return Err(invalid("start", "is too far in the past or the future"));
        }
        if c.members.iter().collect::<BTreeSet<_>>().len() != c.members.len() {
            return Err(invalid("members", "lists someone twice"));
        }
        let admitted = self.admitted();
        if let Some(m) = c.members.iter().find(|m| !admitted.contains(*m)) {
            return Err(DomainError::NoSuchMember(m.clone()));
        }
        let c = NewCircle { name, unit, ..c };
        if schedule(&c).is_none() {
            return Err(invalid("start", "is too far in the future"));
        }
        self.add_entry(me, "circle:", &CircleEntry::new(&c, now_ms))
    }

    /// Records that `me` paid their share of round `round` (counted from 0).
    pub fn pay_into_circle(
        &mut self,
        me: &Identity,
        circle: &str,
        round: usize,
        now_ms: i64,
    ) -> Result<(), DomainError> {
        checked_id("circle", circle)?;
        self.require_admitted(me)?;
        let view = self
            .circle(circle)
            .ok_or_else(|| DomainError::NoSuchEntry(circle.to_owned()))?;
        let r = view
            .rounds
            .get(round)
            .ok_or_else(|| invalid("round", "is not a round of this circle"))?;
        let key = me.public();
        if !view.members.contains(&key) {
            return Err(DomainError::NoSuchMember(key));
        }
        if r.receiver == key {
            return Err(invalid("round", "is the round you receive"));
        }
        if r.paid.contains(&key) {
            return Err(DomainError::AlreadyClaimed);
        }
        let payment = PaymentEntry {
            circle: circle.to_owned(),
            round: round as i64,
            at: now_ms,
        };
        self.add_entry(me, &format!("circlepay:{circle}:"), &payment)?;
        Ok(())
    }

    /// Every lending circle with its schedule.
    pub fn circles(&self) -> Vec<CircleView> {
        let admitted = self.admitted();
        self.entries("circle:")
            .filter_map(|(id, _)| self.derive_circle(id, &admitted))
            .collect()
    }

    /// One circle by id.
    pub fn circle(&self, id: &str) -> Option<CircleView> {
        self.derive_circle(id, &self.admitted())
    }

    /// A circle opened by an admitted member, with the payments admitted members made into it.
    fn derive_circle(&self, id: &str, admitted: &BTreeSet<String>) -> Option<CircleView> {
        if !plain_id(id) {
            return None;
        }
        let f = self.entry(&format!("circle:{id}"))?;
        let entry = CircleEntry::decode(f)?;
        let c = NewCircle {
            name: entry.name.clone(),
            unit: entry.unit.clone(),
            amount: entry.amount,
            period_days: entry.period_days,
            starts_at: entry.starts_at,
            members: entry.members.split('\n').map(str::to_owned).collect(),
        };
        let author = f.author()?;
        if !admitted.contains(author) || !schedule_fits(&c) {
            return None;
        }
        let mut rounds = schedule(&c)?;
        if !entry.signed(self.room_id(), id, f) {
            return None;
        }
        // Payments in (time, id) order; the first by each member for each round counts.
        let mut payments: Vec<(i64, &str, usize, &str)> = self
            .entries_of::<PaymentEntry>(&format!("circlepay:{id}:"))
            .filter(|p| plain_id(p.id) && p.entry.circle == id && admitted.contains(p.author))
            .filter_map(|p| {
                let round = usize::try_from(p.entry.round).ok()?;
                Some((p.entry.at, p.id, round, p.author))
            })
            .collect();
        payments.sort();
        for (paid_at, _, round, payer) in payments {
            let Some(r) = rounds.get_mut(round) else {
                continue;
            };
            if r.receiver != payer
                && c.members.iter().any(|m| m == payer)
                && !r.paid.iter().any(|p| p == payer)
            {
                r.paid.push(payer.to_owned());
                r.paid_at.push(paid_at);
            }
        }
        for r in &mut rounds {
            r.owing = c
                .members
                .iter()
                .filter(|m| **m != r.receiver && !r.paid.contains(m))
                .cloned()
                .collect();
        }
        Some(CircleView {
            id: id.to_owned(),
            name: c.name,
            unit: c.unit,
            amount: c.amount,
            period_days: c.period_days,
            starts_at: c.starts_at,
            members: c.members,
            rounds,
            author: author.to_owned(),
            opened_at: entry.at,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::testing::{community, sync};

    fn circle_of(members: &[&Identity]) -> NewCircle {
        NewCircle {
            name: "Spring circle".into(),
            unit: "EUR".into(),
            amount: 5_000,
            period_days: 30,
            starts_at: 1_000,
            members: members.iter().map(|m| m.public()).collect(),
        }
    }

    #[test]
    fn the_schedule_rotates_and_tracks_who_has_paid() {
        let (mut room, p) = community(3);
        let id = room
            .open_circle(&p[0], circle_of(&[&p[1], &p[0], &p[2]]), 10)
            .unwrap();
        room.pay_into_circle(&p[0], &id, 0, 20).unwrap();
        let c = room.circle(&id).unwrap();
        assert_eq!(c.rounds.len(), 3);
        assert_eq!(c.rounds[0].receiver, p[1].public());
        assert_eq!(c.rounds[1].receiver, p[0].public());
        assert_eq!(c.rounds[2].due_at, 1_000 + 2 * 30 * DAY_MS);
        assert_eq!(c.rounds[0].paid, vec![p[0].public()]);
        assert_eq!(c.rounds[0].owing, vec![p[2].public()]);
        assert_eq!(c.rounds[0].total, 10_000);
        assert_eq!(c.current_round(0), 0);
        assert_eq!(c.current_round(1_000 + 31 * DAY_MS), 1);
        assert_eq!(c.current_round(i64::MAX), 2);
        // Refusals: paying twice, paying the round you receive, a round that does not exist.
        assert_eq!(
            room.pay_into_circle(&p[0], &id, 0, 21),
            Err(DomainError::AlreadyClaimed)
        );
        assert!(matches!(
            room.pay_into_circle(&p[1], &id, 0, 22),
            Err(DomainError::Invalid { field: "round", .. })
        ));
        assert!(matches!(
            room.pay_into_circle(&p[2], &id, 3, 23),
            Err(DomainError::Invalid { field: "round", .. })
        ));
    }

    #[test]
    fn a_circle_whose_schedule_runs_past_the_end_of_time_is_refused_and_never_derived() {
        let (mut room, p) = community(2);
        let late = NewCircle {
            starts_at: i64::MAX - DAY_MS,
            ..circle_of(&[&p[0], &p[1]])
        };
        let dear = NewCircle {
            amount: i64::MAX,
            members: vec![p[0].public(), p[1].public(), "c".into()],
            ..circle_of(&[])
        };
        for c in [&late, &dear] {
            assert!(matches!(
                room.open_circle(&p[0], c.clone(), 10),
                Err(DomainError::Invalid { .. })
            ));
            // Signed and written by a modified client, it is not shown, and nothing panics.
            room.add_entry(&p[0], "circle:", &CircleEntry::new(c, 10))
                .unwrap();
        }
        assert!(room.circles().is_empty());
        // A circle from the start of time is shown: its current round is its last.
        let early = NewCircle {
            starts_at: i64::MIN,
            ..circle_of(&[&p[0], &p[1]])
        };
        let id = room.open_circle(&p[0], early, 10).unwrap();
        assert_eq!(room.circle(&id).unwrap().current_round(i64::MAX), 1);
    }

    #[test]
    fn circles_refuse_bad_input() {
        let (mut room, p) = community(2);
        let stranger = Identity::generate();
        let bad = [
            NewCircle {
                amount: 0,
                ..circle_of(&[&p[0], &p[1]])
            },
            NewCircle {
                period_days: 0,
                ..circle_of(&[&p[0], &p[1]])
            },
            NewCircle {
                unit: "euros".into(),
                ..circle_of(&[&p[0], &p[1]])
            },
            circle_of(&[&p[0]]),
            circle_of(&[&p[0], &p[0]]),
        ];
        for c in bad {
            assert!(
                matches!(
                    room.open_circle(&p[0], c.clone(), 10),
                    Err(DomainError::Invalid { .. })
                ),
                "{c:?}"
            );
        }
        assert_eq!(
            room.open_circle(&p[0], circle_of(&[&p[0], &stranger]), 10),
            Err(DomainError::NoSuchMember(stranger.public()))
        );
        assert_eq!(
            room.open_circle(&stranger, circle_of(&[&p[0], &p[1]]), 10),
            Err(DomainError::NotAdmitted)
        );
        assert!(room.circles().is_empty());
    }

    /// Writes a circle straight into the document, as a modified client could.
    fn forge(room: &mut RoomDoc, id: &str, by: &Identity, c: &NewCircle) {
        room.put_entry(by, &format!("circle:{id}"), id, &CircleEntry::new(c, 10))
            .unwrap();
        room.commit();
    }

    #[test]
    fn circles_with_overflowing_numbers_or_by_strangers_are_not_shown() {
        let (mut room, p) = community(3);
        let stranger = Identity::generate();
        let base = circle_of(&[&p[0], &p[1], &p[2]]);
        // Each of these overflowed (a panic in debug builds, a wrong schedule in release).
        forge(
            &mut room,
            "amount",
            &p[0],
            &NewCircle {
                amount: i64::MAX,
                ..base.clone()
            },
        );
        forge(
            &mut room,
            "start",
            &p[0],
            &NewCircle {
                starts_at: i64::MAX - 1,
                ..base.clone()
            },
        );
        // This one's schedule fits, but its current round was found by an overflowing subtraction.
        forge(
            &mut room,
            "past",
            &p[0],
            &NewCircle {
                starts_at: i64::MIN,
                ..base.clone()
            },
        );
        forge(&mut room, "theirs", &stranger, &base);
        forge(&mut room, "a:b", &p[0], &base);
        forge(&mut room, "fine", &p[0], &base);
        let ids: Vec<String> = room.circles().into_iter().map(|c| c.id).collect();
        assert_eq!(ids, ["fine", "past"]);
        assert_eq!(room.circle("fine").unwrap().current_round(i64::MAX), 2);
        assert_eq!(room.circle("fine").unwrap().current_round(i64::MIN), 0);
        assert_eq!(room.circle("past").unwrap().current_round(i64::MAX), 2);
        assert!(matches!(
            room.open_circle(
                &p[0],
                NewCircle {
                    amount: MAX_AMOUNT + 1,
                    ..base.clone()
                },
                10
            ),
            Err(DomainError::Invalid {
                field: "amount",
                ..
            })
        ));
        assert!(matches!(
            room.open_circle(
                &p[0],
                NewCircle {
                    starts_at: i64::MAX - 1,
                    ..base
                },
                10
            ),
            Err(DomainError::Invalid { .. })
        ));
        assert!(matches!(
            room.pay_into_circle(&p[1], "fine:x", 0, 11),
            Err(DomainError::Invalid {
                field: "circle",
                ..
            })
        ));
        // A stranger's payment into a real round does not count.
        let payment = PaymentEntry {
            circle: "fine".into(),
            round: 1,
            at: 12,
        };
        room.put_entry(&stranger, "circlepay:fine:pay1", "pay1", &payment)
            .unwrap();
        room.commit();
        assert!(room.circle("fine").unwrap().rounds[1].paid.is_empty());
    }

    #[test]
    fn payments_made_apart_count_once() {
        let (mut a, p) = community(3);
        let id = a
            .open_circle(&p[0], circle_of(&[&p[0], &p[1], &p[2]]), 10)
            .unwrap();
        let mut b = RoomDoc::empty("room-1");
        sync(&mut a, &mut b);
        // The same member pays round 0 on two devices before they sync.
        a.pay_into_circle(&p[1], &id, 0, 20).unwrap();
        b.pay_into_circle(&p[1], &id, 0, 21).unwrap();
        sync(&mut a, &mut b);
        assert_eq!(a.circles(), b.circles());
        assert_eq!(a.circle(&id).unwrap().rounds[0].paid, vec![p[1].public()]);
    }
}
