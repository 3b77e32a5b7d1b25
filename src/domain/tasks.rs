//! Tasks and work parties: granular work anyone admitted may self-select. A task has slots;
//! the first claims (in (time, id) order) fill them and later ones wait. Marking one's part done
//! logs a contribution for peers to validate. A work party (a tequio) has a date, place and slots
//! and may recur every N days.

use super::contributions::NewContribution;
use super::room::{required_text, DomainError, RoomDoc};
use super::signed::signed_entry;
use crate::crypto::Identity;
use std::collections::BTreeSet;

const DAY_MS: i64 = 24 * 60 * 60 * 1000;
/// Slots a task may have.
const MAX_TASK_SLOTS: i64 = 100;
/// Slots a work party may have, and how many days apart it may repeat.
const MAX_PARTY_SLOTS: usize = 500;
const MAX_EVERY_DAYS: i64 = 365;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskView {
    pub id: String,
    pub title: String,
    pub slots: usize,
    pub author: String,
    /// Members holding a slot, in claim order.
    pub claimed_by: Vec<String>,
    /// Claims beyond the slots, in order.
    pub waiting: Vec<String>,
    pub done_by: BTreeSet<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkPartyView {
    pub id: String,
    pub title: String,
    pub place: String,
    pub date: i64,
    /// Repeats every this many days (0: once).
    pub every_days: i64,
    pub slots: usize,
    pub signed_up: Vec<String>,
    pub waiting: Vec<String>,
}

impl WorkPartyView {
    /// The first occurrence at or after `now_ms` (None for a one-off party that is over).
    pub fn next_date(&self, now_ms: i64) -> Option<i64> {
        if self.date >= now_ms {
            return Some(self.date);
        }
        if self.every_days <= 0 {
            return None;
        }
        let period = self.every_days.checked_mul(DAY_MS)?;
        // Whole periods from the first date to the first one not before `now_ms`, rounded up.
        let elapsed = now_ms.checked_sub(self.date)?;
        let periods = elapsed.div_euclid(period) + i64::from(elapsed.rem_euclid(period) != 0);
        self.date.checked_add(periods.checked_mul(period)?)
    }
}

signed_entry! {
    /// A task (`task:<id>`).
    pub(crate) struct TaskEntry = "task" {
        title: String,
        slots: i64,
        at: i64,
    }
}

signed_entry! {
    /// A work party (`party:<id>`); `every_days` 0 for one that does not recur.
    pub(crate) struct PartyEntry = "party" {
        title: String,
        place: String,
        date: i64,
        every_days: i64,
        slots: i64,
        at: i64,
    }
}

impl PartyEntry {
    fn new(p: &WorkPartyView, at: i64) -> Self {
        PartyEntry {
            title: p.title.clone(),
            place: p.place.clone(),
            date: p.date,
            every_days: p.every_days,
            slots: p.slots as i64,
            at,
        }
    }
}

impl RoomDoc {
    pub fn add_task(
        &mut self,
        me: &Identity,
        title: &str,
        slots: usize,
        now_ms: i64,
    ) -> Result<String, DomainError> {
        self.require_admitted(me)?;
        let title = required_text("title", title, 160)?;
        if !(1..=MAX_TASK_SLOTS as usize).contains(&slots) {
            return Err(DomainError::Invalid {
                field: "slots",
                problem: "must be from 1 to 100".into(),
            });
        }
        let task = TaskEntry {
            title,
            slots: slots as i64,
            at: now_ms,
        };
        self.add_entry(me, "task:", &task)
    }

    pub fn claim_task(
        &mut self,
        me: &Identity,
        task: &str,
        now_ms: i64,
    ) -> Result<(), DomainError> {
        self.require_admitted(me)?;
        let t = self
            .task(task)
            .ok_or_else(|| DomainError::NoSuchEntry(task.to_owned()))?;
        if t.claimed_by.contains(&me.public()) || t.waiting.contains(&me.public()) {
            return Err(DomainError::AlreadyClaimed);
        }
        self.put_mark(me, "claim", task, now_ms)
    }

    /// Marks one's part of a task done and logs the time as a contribution to validate.
    pub fn finish_task(
        &mut self,
        me: &Identity,
        task: &str,
        minutes: i64,
        now_ms: i64,
    ) -> Result<String, DomainError> {
        self.require_admitted(me)?;
        let t = self
            .task(task)
            .ok_or_else(|| DomainError::NoSuchEntry(task.to_owned()))?;
        if !t.claimed_by.contains(&me.public()) {
            return Err(DomainError::Invalid {
                field: "task",
                problem: "claim a slot before marking it done".into(),
            });
        }
        if t.done_by.contains(&me.public()) {
            return Err(DomainError::AlreadyClaimed);
        }
        let contribution = self.log_contribution(
            me,
            NewContribution {
                value_type: "work".into(),
                quantity: minutes,
                description: format!("Task: {}", t.title),
                date: now_ms,
                beneficiary: None,
                reverses: None,
            },
            now_ms,
        )?;
        self.put_mark(me, "done", task, now_ms)?;
        Ok(contribution)
    }

    pub fn tasks(&self) -> Vec<TaskView> {
        let admitted = self.admitted();
        let claims = self.marks("claim");
        let dones = self.marks("done");
        self.entries_of::<TaskEntry>("task:")
            .filter_map(|t| {
                let id = t.id.to_owned();
                let TaskEntry { title, slots, .. } = t.entry;
                // Bounded as the command bounds it: a peer's huge count is not a task.
                (1..=MAX_TASK_SLOTS).contains(&slots).then_some(())?;
                let slots = usize::try_from(slots).ok()?;
                let mut claimants: Vec<String> = Vec::new();
                for m in claims.iter().filter(|m| m.target == id) {
                    if admitted.contains(&m.author) && !claimants.contains(&m.author) {
                        claimants.push(m.author.clone());
                    }
                }
                let waiting = claimants.split_off(slots.min(claimants.len()));
                let done_by = dones
                    .iter()
                    .filter(|m| m.target == id && claimants.contains(&m.author))
                    .map(|m| m.author.clone())
                    .collect();
                Some(TaskView {
                    title,
                    slots,
                    author: t.author.to_owned(),
                    claimed_by: claimants,
                    waiting,
                    done_by,
                    id,
                })
            })
            .collect()
    }

    /// Plans a work party; `every_days` > 0 makes it recur.
    #[allow(clippy::too_many_arguments)]
    pub fn plan_work_party(
        &mut self,
        me: &Identity,
        title: &str,
        place: &str,
        date: i64,
        every_days: i64,
        slots: usize,
        now_ms: i64,
    ) -> Result<String, DomainError> {
        self.require_admitted(me)?;
        let p = WorkPartyView {
            id: crate::crypto::entry_id(&me.public()),
            title: required_text("title", title, 160)?,
            place: required_text("place", place, 160)?,
            date,
            every_days,
            slots,
            signed_up: vec![],
            waiting: vec![],
        };
        if !(0..=MAX_EVERY_DAYS).contains(&every_days) || !(1..=MAX_PARTY_SLOTS).contains(&slots) {
            return Err(DomainError::Invalid {
                field: "slots",
                problem: "slots from 1 to 500, repeating every 0 to 365 days".into(),
            });
        }
        let party = PartyEntry::new(&p, now_ms);
        self.put_entry(me, &format!("party:{}", p.id), &p.id, &party)?;
        self.commit();
        Ok(p.id)
    }

    pub fn sign_up(&mut self, me: &Identity, party: &str, now_ms: i64) -> Result<(), DomainError> {
        self.require_admitted(me)?;
        let p = self
            .work_party(party)
            .ok_or_else(|| DomainError::NoSuchEntry(party.to_owned()))?;
        if p.signed_up.contains(&me.public()) || p.waiting.contains(&me.public()) {
            return Err(DomainError::AlreadyClaimed);
        }
        self.put_mark(me, "signup", party, now_ms)
    }

    pub fn task(&self, id: &str) -> Option<TaskView> {
        self.tasks().into_iter().find(|t| t.id == id)
    }

    pub fn work_party(&self, id: &str) -> Option<WorkPartyView> {
        self.work_parties().into_iter().find(|p| p.id == id)
    }

    pub fn work_parties(&self) -> Vec<WorkPartyView> {
        let admitted = self.admitted();
        let signups = self.marks("signup");
        self.entries_of::<PartyEntry>("party:")
            .filter_map(|e| {
                let PartyEntry {
                    title,
                    place,
                    date,
                    every_days,
                    slots,
                    at: _,
                } = e.entry;
                let mut p = WorkPartyView {
                    id: e.id.to_owned(),
                    title,
                    place,
                    date,
                    every_days,
                    slots: usize::try_from(slots).ok()?,
                    signed_up: vec![],
                    waiting: vec![],
                };
                ((0..=MAX_EVERY_DAYS).contains(&p.every_days)
                    && (1..=MAX_PARTY_SLOTS).contains(&p.slots))
                .then_some(())?;
                for m in signups.iter().filter(|m| m.target == p.id) {
                    if admitted.contains(&m.author) && !p.signed_up.contains(&m.author) {
                        p.signed_up.push(m.author.clone());
                    }
                }
                p.waiting = p.signed_up.split_off(p.slots.min(p.signed_up.len()));
                Some(p)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn room3() -> (RoomDoc, Identity, Identity, Identity) {
        let (room, mut m) = crate::domain::testing::community(3);
        let (cy, bo, ana) = (m.pop().unwrap(), m.pop().unwrap(), m.pop().unwrap());
        (room, ana, bo, cy)
    }

    #[test]
    fn slots_fill_in_claim_order_and_done_work_becomes_a_contribution() {
        let (mut room, ana, bo, cy) = room3();
        let t = room.add_task(&ana, "Paint the fence", 2, 10).unwrap();
        room.claim_task(&bo, &t, 11).unwrap();
        room.claim_task(&ana, &t, 12).unwrap();
        room.claim_task(&cy, &t, 13).unwrap();
        assert_eq!(
            room.claim_task(&cy, &t, 14),
            Err(DomainError::AlreadyClaimed)
        );
        let view = room.tasks().remove(0);
        assert_eq!(view.claimed_by, vec![bo.public(), ana.public()]);
        assert_eq!(view.waiting, vec![cy.public()]);
        assert!(
            room.finish_task(&cy, &t, 60, 20).is_err(),
            "waiting, not holding a slot"
        );
        let c = room.finish_task(&bo, &t, 90, 21).unwrap();
        assert!(room.tasks()[0].done_by.contains(&bo.public()));
        let logged = room
            .contributions(30)
            .into_iter()
            .find(|x| x.id == c)
            .unwrap();
        assert_eq!((logged.quantity, logged.counts), (90, false));
        room.validate_contribution(&ana, &c, 31).unwrap();
        assert_eq!(
            room.contribution_totals(32)
                .by_member_and_type
                .get(&(bo.public(), "work".into())),
            Some(&90)
        );
        assert!(matches!(
            room.add_task(&ana, "x", 0, 40),
            Err(DomainError::Invalid { field: "slots", .. })
        ));
    }

    #[test]
    fn work_parties_recur_and_fill_their_slots() {
        let (mut room, ana, bo, cy) = room3();
        let day = DAY_MS;
        let p = room
            .plan_work_party(
                &ana,
                "Tequio: clean the creek",
                "Creek bridge",
                10 * day,
                7,
                2,
                1,
            )
            .unwrap();
        room.sign_up(&cy, &p, 2).unwrap();
        room.sign_up(&bo, &p, 3).unwrap();
        room.sign_up(&ana, &p, 4).unwrap();
        let v = room.work_parties().remove(0);
        assert_eq!(
            (v.signed_up.len(), v.waiting.clone()),
            (2, vec![ana.public()])
        );
        assert_eq!(v.next_date(5 * day), Some(10 * day));
        assert_eq!(v.next_date(11 * day), Some(17 * day));
        assert_eq!(v.next_date(17 * day), Some(17 * day));
        let once = room
            .plan_work_party(&ana, "Harvest", "Field", 10 * day, 0, 5, 1)
            .unwrap();
        let once = room
            .work_parties()
            .into_iter()
            .find(|w| w.id == once)
            .unwrap();
        assert_eq!(once.next_date(11 * day), None);
    }

    #[test]
    fn extreme_dates_and_counts_from_a_peer_neither_panic_nor_show() {
        let (mut room, ana, _, _) = room3();
        let day = DAY_MS;
        let forge = |room: &mut RoomDoc, id: &str, date: i64, every_days: i64, slots: usize| {
            let p = WorkPartyView {
                id: id.into(),
                title: "Party".into(),
                place: "Here".into(),
                date,
                every_days,
                slots,
                signed_up: vec![],
                waiting: vec![],
            };
            let party = PartyEntry::new(&p, 1);
            room.put_entry(&ana, &format!("party:{id}"), id, &party)
                .unwrap();
            room.commit();
        };
        // A party far in the past repeating weekly: `now - date` overflowed before.
        forge(&mut room, "old", i64::MIN, 7, 5);
        forge(&mut room, "late", i64::MAX - day, 365, 5);
        forge(&mut room, "often", 0, 1_000_000, 5);
        forge(&mut room, "crowd", 0, 7, usize::MAX);
        let parties = room.work_parties();
        let ids: Vec<&str> = parties.iter().map(|p| p.id.as_str()).collect();
        assert_eq!(ids, ["late", "old"]);
        assert_eq!(parties[1].next_date(i64::MAX), None);
        assert_eq!(
            parties[1].next_date(0),
            None,
            "too far apart to count in milliseconds: no date, no panic"
        );
        assert_eq!(parties[0].next_date(i64::MAX), None);
        assert_eq!(parties[0].next_date(0), Some(i64::MAX - day));
        // A task with a slot count beyond the command's bound is not a task.
        let huge = TaskEntry {
            title: "Huge".into(),
            slots: i64::MAX,
            at: 1,
        };
        room.put_entry(&ana, "task:t1", "t1", &huge).unwrap();
        room.commit();
        assert!(room.tasks().is_empty());
    }
}
