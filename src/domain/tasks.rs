//! Tasks and work parties: granular work anyone admitted may self-select. A task has slots;
//! the first claims (in (time, id) order) fill them and later ones wait. Marking one's part done
//! logs a contribution for peers to validate. A work party (a tequio) has a date, place and slots
//! and may recur every N days.
//!
//! Corrections: a member gives a task back (a signed `giveback` mark) and withdraws from a work
//! party (a signed `withdraw` mark). Each cancels that member's own claims or sign-ups written
//! before it in the change graph, so the slot is open again; one signed by anyone else cancels
//! nothing, and claiming or signing up again afterwards counts anew.

use super::contributions::NewContribution;
use super::room::{required_text, DomainError, RoomDoc};
use super::signed::{signed_entry, Anchor, Mark};
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
    /// Members who gave it back, and when (each give-back that cancelled a claim).
    pub given_back: Vec<(String, i64)>,
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
    /// Members who withdrew, and when (each withdrawal that cancelled a sign-up).
    pub withdrawn: Vec<(String, i64)>,
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

/// Members whose claim or sign-up stands, with where it was written, in order; and the
/// corrections that cancelled something, as (author, time).
type Standing = (Vec<(String, Anchor)>, Vec<(String, i64)>);

/// Of `marks` (claims or sign-ups, in (time, id) order) on `target`, the first that stands per
/// admitted author, in order, with where it was written: a mark stands unless a correction by
/// its own author on the same target was written after it. Also the corrections that cancelled
/// something, as (author, time).
fn standing(
    room: &RoomDoc,
    admitted: &BTreeSet<String>,
    marks: &[Mark],
    corrections: &[Mark],
    target: &str,
) -> Standing {
    let corrections: Vec<&Mark> = corrections.iter().filter(|c| c.target == target).collect();
    let cancelled = |m: &Mark| {
        corrections
            .iter()
            .any(|c| c.author == m.author && room.index.precedes_anchor(m.anchor, c.anchor))
    };
    let mut stands: Vec<(String, Anchor)> = Vec::new();
    for m in marks.iter().filter(|m| m.target == target) {
        if admitted.contains(&m.author)
            && !stands.iter().any(|(a, _)| *a == m.author)
            && !cancelled(m)
        {
            stands.push((m.author.clone(), m.anchor));
        }
    }
    let undone = corrections
        .iter()
        .filter(|c| {
            marks.iter().any(|m| {
                m.target == target
                    && m.author == c.author
                    && room.index.precedes_anchor(m.anchor, c.anchor)
            })
        })
        .map(|c| (c.author.clone(), c.at))
        .collect();
    (stands, undone)
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

    /// Gives a task back: `me`'s claim no longer holds a slot (or a place on its waiting list),
    /// so the slot is open for others. Not once `me` marked their part done.
    pub fn give_back_task(
        &mut self,
        me: &Identity,
        task: &str,
        now_ms: i64,
    ) -> Result<(), DomainError> {
        self.require_admitted(me)?;
        let t = self
            .task(task)
            .ok_or_else(|| DomainError::NoSuchEntry(task.to_owned()))?;
        let key = me.public();
        if !t.claimed_by.contains(&key) && !t.waiting.contains(&key) {
            return Err(DomainError::Invalid {
                field: "task",
                problem: "is given back only by a member who took it on".into(),
            });
        }
        if t.done_by.contains(&key) {
            return Err(DomainError::Invalid {
                field: "task",
                problem: "is done: your time is logged as a contribution".into(),
            });
        }
        self.put_mark(me, "giveback", task, now_ms)
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
        let givebacks = self.marks("giveback");
        self.entries_of::<TaskEntry>("task:")
            .filter_map(|t| {
                let id = t.id.to_owned();
                let TaskEntry { title, slots, .. } = t.entry;
                // Bounded as the command bounds it: a peer's huge count is not a task.
                (1..=MAX_TASK_SLOTS).contains(&slots).then_some(())?;
                let slots = usize::try_from(slots).ok()?;
                let (mut stands, given_back) = standing(self, &admitted, &claims, &givebacks, &id);
                let waiting: Vec<String> = stands
                    .split_off(slots.min(stands.len()))
                    .into_iter()
                    .map(|(m, _)| m)
                    .collect();
                // Done counts for a slot holder's claim that stands, written after it.
                let done_by = dones
                    .iter()
                    .filter(|m| m.target == id)
                    .filter(|m| {
                        stands.iter().any(|(a, claim)| {
                            *a == m.author && self.index.precedes_anchor(*claim, m.anchor)
                        })
                    })
                    .map(|m| m.author.clone())
                    .collect();
                let claimants = stands.into_iter().map(|(m, _)| m).collect();
                Some(TaskView {
                    title,
                    slots,
                    author: t.author.to_owned(),
                    claimed_by: claimants,
                    waiting,
                    done_by,
                    given_back,
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
            withdrawn: vec![],
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

    /// Withdraws `me`'s sign-up for a work party: the place is free again.
    pub fn withdraw_sign_up(
        &mut self,
        me: &Identity,
        party: &str,
        now_ms: i64,
    ) -> Result<(), DomainError> {
        self.require_admitted(me)?;
        let p = self
            .work_party(party)
            .ok_or_else(|| DomainError::NoSuchEntry(party.to_owned()))?;
        let key = me.public();
        if !p.signed_up.contains(&key) && !p.waiting.contains(&key) {
            return Err(DomainError::Invalid {
                field: "party",
                problem: "is withdrawn from only by a member who signed up".into(),
            });
        }
        self.put_mark(me, "withdraw", party, now_ms)
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
        let withdrawals = self.marks("withdraw");
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
                    withdrawn: vec![],
                };
                ((0..=MAX_EVERY_DAYS).contains(&p.every_days)
                    && (1..=MAX_PARTY_SLOTS).contains(&p.slots))
                .then_some(())?;
                let (stands, withdrawn) = standing(self, &admitted, &signups, &withdrawals, &p.id);
                p.signed_up = stands.into_iter().map(|(m, _)| m).collect();
                p.withdrawn = withdrawn;
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
                withdrawn: vec![],
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

    #[test]
    fn a_task_given_back_is_open_again_and_only_its_taker_gives_it_back() {
        let (mut room, ana, bo, cy) = room3();
        let t = room.add_task(&ana, "Fix the gate", 1, 10).unwrap();
        room.claim_task(&bo, &t, 11).unwrap();
        room.claim_task(&cy, &t, 12).unwrap();
        assert_eq!(room.task(&t).unwrap().waiting, vec![cy.public()]);
        // Ana never took it on: the command refuses, and her signed give-back (a modified
        // client) frees nothing.
        assert!(matches!(
            room.give_back_task(&ana, &t, 13),
            Err(DomainError::Invalid { field: "task", .. })
        ));
        room.put_mark(&ana, "giveback", &t, 13).unwrap();
        let v = room.task(&t).unwrap();
        assert_eq!(
            (v.claimed_by.clone(), v.given_back.len()),
            (vec![bo.public()], 0)
        );
        // Bo gives it back: Cy moves up from the waiting list; the feed says so, signed by Bo.
        room.give_back_task(&bo, &t, 20).unwrap();
        let v = room.task(&t).unwrap();
        assert_eq!(v.claimed_by, vec![cy.public()]);
        assert!(v.waiting.is_empty());
        assert_eq!(v.given_back, vec![(bo.public(), 20)]);
        let feed = room.activity(100);
        let line = feed
            .iter()
            .find(|i| i.text() == "gave back the task Fix the gate")
            .unwrap();
        assert_eq!(line.author, Some(bo.public()));
        // Cy gives it back too: the task is open, and Ana takes it on.
        room.give_back_task(&cy, &t, 21).unwrap();
        assert!(room.task(&t).unwrap().claimed_by.is_empty());
        room.claim_task(&ana, &t, 22).unwrap();
        assert_eq!(room.task(&t).unwrap().claimed_by, vec![ana.public()]);
        // Bo may take it on again later: his new claim counts (after Ana's, who holds the slot).
        room.claim_task(&bo, &t, 23).unwrap();
        assert_eq!(room.task(&t).unwrap().waiting, vec![bo.public()]);
        // Once done, one's part is not given back.
        room.finish_task(&ana, &t, 30, 24).unwrap();
        assert!(room.give_back_task(&ana, &t, 25).is_err());
    }

    #[test]
    fn a_give_back_written_before_the_claim_frees_nothing() {
        let (mut room, ana, bo, _) = room3();
        let t = room.add_task(&ana, "Sweep", 1, 10).unwrap();
        // A modified client writes the give-back first (with a later claimed time), then claims.
        room.put_mark(&bo, "giveback", &t, 99).unwrap();
        room.claim_task(&bo, &t, 11).unwrap();
        let v = room.task(&t).unwrap();
        assert_eq!(v.claimed_by, vec![bo.public()]);
        assert!(v.given_back.is_empty());
    }

    #[test]
    fn a_sign_up_is_withdrawn_by_its_member_only_and_the_place_is_free() {
        let (mut room, ana, bo, cy) = room3();
        let p = room
            .plan_work_party(&ana, "Clean the creek", "Bridge", 10 * DAY_MS, 0, 1, 1)
            .unwrap();
        room.sign_up(&bo, &p, 2).unwrap();
        room.sign_up(&cy, &p, 3).unwrap();
        assert!(matches!(
            room.withdraw_sign_up(&ana, &p, 4),
            Err(DomainError::Invalid { field: "party", .. })
        ));
        // Ana never signed up: her signed withdrawal (a modified client) frees no place.
        room.put_mark(&ana, "withdraw", &p, 4).unwrap();
        let v = room.work_party(&p).unwrap();
        assert_eq!(
            (v.signed_up.clone(), v.withdrawn.len()),
            (vec![bo.public()], 0)
        );
        room.withdraw_sign_up(&bo, &p, 5).unwrap();
        let v = room.work_party(&p).unwrap();
        assert_eq!(v.signed_up, vec![cy.public()]);
        assert_eq!(v.withdrawn, vec![(bo.public(), 5)]);
        assert!(
            room.withdraw_sign_up(&bo, &p, 6).is_err(),
            "not signed up any more"
        );
        let feed = room.activity(100);
        let line = feed
            .iter()
            .find(|i| i.text() == "withdrew from the work party Clean the creek")
            .unwrap();
        assert_eq!(line.author, Some(bo.public()));
        // Signing up again counts anew.
        room.sign_up(&bo, &p, 7).unwrap();
        assert_eq!(room.work_party(&p).unwrap().waiting, vec![bo.public()]);
    }
}
