//! Shared resources and lending (Lend Engine, ValueFlows transferCustody): physical things and
//! knowledge with stewards, usage rules, condition, location and licence; bookings over time
//! intervals, where overlapping bookings are detected deterministically and shown as conflicts,
//! never dropped; loans as custody transfers (hand-over and return, each with a condition
//! note), from which the current holder and overdue loans are derived. Only the thing's steward
//! hands it over, and only its holder or steward records its return: transfers written by anyone
//! else are ignored where custody is derived. A hand-over during someone else's booking is
//! refused unless the steward overrides it knowingly, and the override stays visible.
//! A booking is cancelled by the member who made it (a signed `unbook` mark written after the
//! booking): its time is free again, and the cancellation stays in the thing's history. A
//! cancellation signed by anyone else, or not written after the booking, counts for nothing.

use super::charter::LICENCES;
use super::room::{required_text, DomainError, RoomDoc};
use super::signed::signed_entry;
use crate::crypto::Identity;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewResource {
    /// "physical" or "knowledge".
    pub kind: String,
    pub name: String,
    pub rules: String,
    pub condition: String,
    pub location: String,
    pub licence: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Booking {
    pub id: String,
    pub member: String,
    pub start: i64,
    pub end: i64,
    /// Ids of verified bookings of the same resource whose interval overlaps this one.
    pub conflicts_with: Vec<String>,
}

/// A booking its member cancelled, and when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cancellation {
    pub booking: Booking,
    pub at: i64,
}

/// One loan of a thing: its hand-over and, once back, its return, each with who, when and the
/// condition note written then.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Loan {
    pub to: String,
    pub handed_over_by: String,
    pub handed_over_at: i64,
    pub handover_note: String,
    pub due: Option<i64>,
    /// Bookings by others the hand-over overrode.
    pub overrides: Vec<String>,
    /// Who recorded the return, when, and the note then (None: still out).
    pub returned: Option<(String, i64, String)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transfer {
    pub id: String,
    /// "handover" (to `holder`) or "return".
    pub kind: String,
    pub holder: String,
    pub due: Option<i64>,
    pub note: String,
    pub by: String,
    pub at: i64,
    /// Bookings by others that this hand-over overlapped (the steward chose to override them).
    pub overrides: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceView {
    pub id: String,
    pub steward: String,
    pub resource: NewResource,
    /// Bookings that stand (cancelled ones are in `cancelled`).
    pub bookings: Vec<Booking>,
    /// Bookings cancelled by the member who made them, oldest cancellation first.
    pub cancelled: Vec<Cancellation>,
    /// The transfers that counted, oldest first.
    pub transfers: Vec<Transfer>,
    /// Who has it now (None: with its steward).
    pub holder: Option<String>,
    pub due: Option<i64>,
}

impl ResourceView {
    pub fn overdue(&self, now_ms: i64) -> bool {
        self.holder.is_some() && self.due.is_some_and(|d| d < now_ms)
    }

    /// Bookings by someone other than `holder` that a loan to `holder` from `at` until `due`
    /// (or just at `at`, with no due date) would overlap.
    pub fn conflicts_for(&self, holder: &str, at: i64, due: Option<i64>) -> Vec<Booking> {
        let end = due.unwrap_or(at).max(at.saturating_add(1));
        self.bookings
            .iter()
            .filter(|b| b.member != holder && b.start < end && at < b.end)
            .cloned()
            .collect()
    }

    /// The loan history, oldest first: each hand-over that counted with its return, if any.
    pub fn loans(&self) -> Vec<Loan> {
        let mut loans: Vec<Loan> = Vec::new();
        for t in &self.transfers {
            if t.kind == "handover" {
                loans.push(Loan {
                    to: t.holder.clone(),
                    handed_over_by: t.by.clone(),
                    handed_over_at: t.at,
                    handover_note: t.note.clone(),
                    due: t.due,
                    overrides: t.overrides.clone(),
                    returned: None,
                });
            } else if let Some(open) = loans.last_mut().filter(|l| l.returned.is_none()) {
                open.returned = Some((t.by.clone(), t.at, t.note.clone()));
            }
        }
        loans
    }
}

signed_entry! {
    /// A resource (`resource:<id>`).
    pub(crate) struct ResourceEntry = "resource" {
        kind: String,
        name: String,
        rules: String [or_default],
        condition: String [or_default],
        location: String [or_default],
        licence: String [or_default],
        at: i64,
    }
}

signed_entry! {
    /// A booking of a resource (`booking:<id>`).
    pub(crate) struct BookingEntry = "booking" {
        resource: String,
        start: i64,
        end: i64,
    }
}

signed_entry! {
    /// A hand-over or return of a resource (`transfer:<id>`): its kind in `transfer`, `due` 0
    /// for none.
    pub(crate) struct TransferEntry = "transfer" {
        resource: String,
        transfer: String,
        holder: String,
        due: i64,
        note: String [or_default],
        at: i64,
    }
}

impl TransferEntry {
    fn new(t: &Transfer, resource: &str) -> Self {
        TransferEntry {
            resource: resource.to_owned(),
            transfer: t.kind.clone(),
            holder: t.holder.clone(),
            due: t.due.unwrap_or(0),
            note: t.note.clone(),
            at: t.at,
        }
    }
}

impl RoomDoc {
    /// Registers a resource; the registering member becomes its steward.
    pub fn add_resource(
        &mut self,
        me: &Identity,
        r: NewResource,
        now_ms: i64,
    ) -> Result<String, DomainError> {
        self.require_admitted(me)?;
        if r.kind != "physical" && r.kind != "knowledge" {
            return Err(DomainError::Invalid {
                field: "kind",
                problem: "is \"physical\" or \"knowledge\"".into(),
            });
        }
        if !LICENCES.contains(&r.licence.as_str()) {
            return Err(DomainError::Invalid {
                field: "licence",
                problem: format!("must be one of {}", LICENCES.join(", ")),
            });
        }
        let r = NewResource {
            name: required_text("name", &r.name, 100)?,
            ..r
        };
        for (field, value) in [
            ("rules", &r.rules),
            ("condition", &r.condition),
            ("location", &r.location),
        ] {
            if value.chars().count() > 1000 {
                return Err(DomainError::Invalid {
                    field,
                    problem: "is longer than 1000 characters".into(),
                });
            }
        }
        let NewResource {
            kind,
            name,
            rules,
            condition,
            location,
            licence,
        } = r;
        let resource = ResourceEntry {
            kind,
            name,
            rules,
            condition,
            location,
            licence,
            at: now_ms,
        };
        self.add_entry(me, "resource:", &resource)
    }

    /// Books a physical resource for [start, end). An overlap with another booking is allowed
    /// to be written (devices may book while apart) and shows as a conflict on both.
    pub fn book(
        &mut self,
        me: &Identity,
        resource: &str,
        start: i64,
        end: i64,
    ) -> Result<String, DomainError> {
        self.require_admitted(me)?;
        let r = self
            .resource(resource)
            .ok_or_else(|| DomainError::NoSuchEntry(resource.to_owned()))?;
        if r.resource.kind != "physical" {
            return Err(DomainError::Invalid {
                field: "resource",
                problem: "only physical things are booked".into(),
            });
        }
        if end <= start {
            return Err(DomainError::Invalid {
                field: "end",
                problem: "must be after the start".into(),
            });
        }
        if let Some(b) = r.bookings.iter().find(|b| b.start < end && start < b.end) {
            return Err(DomainError::BookingConflict(b.id.clone()));
        }
        let booking = BookingEntry {
            resource: resource.to_owned(),
            start,
            end,
        };
        self.add_entry(me, "booking:", &booking)
    }

    /// Cancels a booking of `me`'s: its time is free again. Only the member who booked it
    /// cancels it.
    pub fn cancel_booking(
        &mut self,
        me: &Identity,
        booking: &str,
        now_ms: i64,
    ) -> Result<(), DomainError> {
        self.require_admitted(me)?;
        let b = self
            .resources()
            .into_iter()
            .flat_map(|r| r.bookings)
            .find(|b| b.id == booking)
            .ok_or_else(|| DomainError::NoSuchEntry(booking.to_owned()))?;
        if b.member != me.public() {
            return Err(DomainError::Invalid {
                field: "booking",
                problem: "is cancelled only by the member who made it".into(),
            });
        }
        self.put_mark(me, "unbook", booking, now_ms)
    }

    /// Hands a resource over to `holder` (until `due`), or records its return (`holder` None).
    /// Only its steward hands it over; only its holder or steward records the return. A
    /// hand-over during someone else's booking is refused with [`DomainError::BookingConflict`]
    /// unless `override_booking` says the steward has seen the conflict and goes ahead.
    #[allow(clippy::too_many_arguments)]
    pub fn transfer_custody(
        &mut self,
        me: &Identity,
        resource: &str,
        holder: Option<&str>,
        due: Option<i64>,
        note: &str,
        now_ms: i64,
        override_booking: bool,
    ) -> Result<(), DomainError> {
        self.require_admitted(me)?;
        let r = self
            .resource(resource)
            .ok_or_else(|| DomainError::NoSuchEntry(resource.to_owned()))?;
        let key = me.public();
        let t = match holder {
            Some(h) => {
                if r.steward != key {
                    return Err(DomainError::Invalid {
                        field: "holder",
                        problem: "is chosen by the thing's steward, who hands it over".into(),
                    });
                }
                if r.holder.is_some() {
                    return Err(DomainError::Invalid {
                        field: "holder",
                        problem: "it is already lent out; record its return first".into(),
                    });
                }
                if !self.admitted().contains(h) {
                    return Err(DomainError::NoSuchMember(h.to_owned()));
                }
                let conflicts = r.conflicts_for(h, now_ms, due);
                if let (Some(b), false) = (conflicts.first(), override_booking) {
                    return Err(DomainError::BookingConflict(b.id.clone()));
                }
                Transfer {
                    id: crate::crypto::entry_id(&key),
                    kind: "handover".into(),
                    holder: h.to_owned(),
                    due,
                    note: note.to_owned(),
                    by: key,
                    at: now_ms,
                    overrides: Vec::new(),
                }
            }
            None => {
                if r.holder.is_none() {
                    return Err(DomainError::Invalid {
                        field: "holder",
                        problem: "it is not lent out".into(),
                    });
                }
                if r.holder.as_deref() != Some(key.as_str()) && r.steward != key {
                    return Err(DomainError::Invalid {
                        field: "holder",
                        problem: "records its return, or its steward does".into(),
                    });
                }
                Transfer {
                    id: crate::crypto::entry_id(&key),
                    kind: "return".into(),
                    holder: String::new(),
                    due: None,
                    note: note.to_owned(),
                    by: key,
                    at: now_ms,
                    overrides: Vec::new(),
                }
            }
        };
        let entry = TransferEntry::new(&t, resource);
        self.put_entry(me, &format!("transfer:{}", t.id), &t.id, &entry)?;
        self.commit();
        Ok(())
    }

    /// Every resource with its bookings (conflicts marked), custody history and holder.
    pub fn resources(&self) -> Vec<ResourceView> {
        let admitted = self.admitted();
        // A cancellation counts when its booking's own member signed it after the booking.
        let unbooks = self.marks("unbook");
        let mut cancelled: Vec<(String, Cancellation)> = Vec::new();
        let mut bookings: Vec<(String, Booking)> = self
            .entries_of::<BookingEntry>("booking:")
            .filter(|b| admitted.contains(b.author) && b.entry.start < b.entry.end)
            .filter_map(|b| {
                let BookingEntry {
                    resource,
                    start,
                    end,
                } = b.entry;
                let booking = Booking {
                    id: b.id.to_owned(),
                    member: b.author.to_owned(),
                    start,
                    end,
                    conflicts_with: vec![],
                };
                let cancel = unbooks.iter().find(|m| {
                    m.target == b.id
                        && m.author == b.author
                        && self.index.precedes_anchor(b.raw.anchor(), m.anchor)
                });
                match cancel {
                    Some(m) => {
                        let at = m.at;
                        cancelled.push((resource, Cancellation { booking, at }));
                        None
                    }
                    None => Some((resource, booking)),
                }
            })
            .collect();
        cancelled.sort_by(|a, b| (a.1.at, &a.1.booking.id).cmp(&(b.1.at, &b.1.booking.id)));
        bookings.sort_by(|a, b| (&a.0, a.1.start, &a.1.id).cmp(&(&b.0, b.1.start, &b.1.id)));
        let snapshot = bookings.clone();
        for (res, b) in &mut bookings {
            b.conflicts_with = snapshot
                .iter()
                .filter(|(r2, o)| r2 == res && o.id != b.id && o.start < b.end && b.start < o.end)
                .map(|(_, o)| o.id.clone())
                .collect();
        }
        let mut transfers: Vec<(String, Transfer)> = self
            .entries_of::<TransferEntry>("transfer:")
            // A hand-over or return stays in the history if its author was admitted when
            // they recorded it, whether or not they are now.
            .filter(|t| self.admitted_when(t.author, t.raw))
            .map(|t| {
                let TransferEntry {
                    resource,
                    transfer,
                    holder,
                    due,
                    note,
                    at,
                } = t.entry;
                let t = Transfer {
                    id: t.id.to_owned(),
                    kind: transfer,
                    holder,
                    due: (due != 0).then_some(due),
                    note,
                    by: t.author.to_owned(),
                    at,
                    overrides: Vec::new(),
                };
                (resource, t)
            })
            .collect();
        transfers.sort_by(|a, b| (a.1.at, &a.1.id).cmp(&(b.1.at, &b.1.id)));
        self.entries_of::<ResourceEntry>("resource:")
            .map(|e| {
                let ResourceEntry {
                    kind,
                    name,
                    rules,
                    condition,
                    location,
                    licence,
                    at: _,
                } = e.entry;
                let r = NewResource {
                    kind,
                    name,
                    rules,
                    condition,
                    location,
                    licence,
                };
                let (id, steward) = (e.id.to_owned(), e.author.to_owned());
                let mut view = ResourceView {
                    steward,
                    bookings: bookings
                        .iter()
                        .filter(|(r, _)| *r == id)
                        .map(|(_, b)| b.clone())
                        .collect(),
                    cancelled: cancelled
                        .iter()
                        .filter(|(r, _)| *r == id)
                        .map(|(_, c)| c.clone())
                        .collect(),
                    id,
                    resource: r,
                    transfers: Vec::new(),
                    holder: None,
                    due: None,
                };
                // Replay custody: only the steward hands it over, only while it is home; only
                // the holder or the steward records its return, only while it is out. Anything
                // else is ignored.
                for (_, t) in transfers.iter().filter(|(r, _)| *r == view.id) {
                    let counts = match (t.kind.as_str(), &view.holder) {
                        ("handover", None) => t.by == view.steward && !t.holder.is_empty(),
                        ("return", Some(h)) => t.by == *h || t.by == view.steward,
                        _ => false,
                    };
                    if !counts {
                        continue;
                    }
                    let mut t = t.clone();
                    if t.kind == "handover" {
                        t.overrides = view
                            .conflicts_for(&t.holder, t.at, t.due)
                            .into_iter()
                            .map(|b| b.id)
                            .collect();
                        view.holder = Some(t.holder.clone());
                        view.due = t.due;
                    } else {
                        view.holder = None;
                        view.due = None;
                    }
                    view.transfers.push(t);
                }
                view
            })
            .collect()
    }

    pub fn resource(&self, id: &str) -> Option<ResourceView> {
        self.resources().into_iter().find(|r| r.id == id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn room2() -> (RoomDoc, Identity, Identity) {
        let (room, mut m) = crate::domain::testing::community(2);
        let (bo, ana) = (m.pop().unwrap(), m.pop().unwrap());
        (room, ana, bo)
    }

    fn drill() -> NewResource {
        NewResource {
            kind: "physical".into(),
            name: "Drill".into(),
            rules: "Return charged".into(),
            condition: "good".into(),
            location: "shed".into(),
            licence: "members only".into(),
        }
    }

    #[test]
    fn lending_tracks_the_holder_and_overdue_loans() {
        let (mut room, ana, bo) = room2();
        let id = room.add_resource(&ana, drill(), 10).unwrap();
        assert_eq!(room.resource(&id).unwrap().steward, ana.public());
        room.transfer_custody(
            &ana,
            &id,
            Some(&bo.public()),
            Some(1_000),
            "battery full",
            20,
            false,
        )
        .unwrap();
        assert!(room
            .transfer_custody(&ana, &id, Some(&bo.public()), None, "", 21, false)
            .is_err());
        let r = room.resource(&id).unwrap();
        assert_eq!(r.holder, Some(bo.public()));
        assert!(!r.overdue(999) && r.overdue(1_001));
        room.transfer_custody(&bo, &id, None, None, "bit worn", 30, false)
            .unwrap();
        let r = room.resource(&id).unwrap();
        assert_eq!((r.holder, r.transfers.len()), (None, 2));
        assert!(room
            .transfer_custody(&bo, &id, None, None, "", 31, false)
            .is_err());
        let mut bad = drill();
        bad.licence = "whatever".into();
        assert!(room.add_resource(&ana, bad, 40).is_err());
    }

    /// Writes a transfer straight into the document, as a modified client could.
    fn forge(room: &mut RoomDoc, resource: &str, by: &Identity, kind: &str, holder: &str, at: i64) {
        let t = Transfer {
            id: format!("t{at}"),
            kind: kind.into(),
            holder: holder.into(),
            due: None,
            note: String::new(),
            by: by.public(),
            at,
            overrides: Vec::new(),
        };
        let entry = TransferEntry::new(&t, resource);
        room.put_entry(by, &format!("transfer:{}", t.id), &t.id, &entry)
            .unwrap();
        room.commit();
    }

    #[test]
    fn only_the_steward_hands_over_and_only_the_holder_or_steward_takes_back() {
        let (mut room, m) = crate::domain::testing::community(3);
        let (ana, bo, cy) = (&m[0], &m[1], &m[2]);
        let id = room.add_resource(ana, drill(), 10).unwrap();
        // Cy is not the steward: the command refuses, and a forged hand-over is ignored.
        assert!(matches!(
            room.transfer_custody(cy, &id, Some(&cy.public()), None, "", 20, false),
            Err(DomainError::Invalid {
                field: "holder",
                ..
            })
        ));
        forge(&mut room, &id, cy, "handover", &cy.public(), 20);
        let r = room.resource(&id).unwrap();
        assert_eq!((r.holder, r.transfers.len()), (None, 0));
        // Ana lends it to Bo; Cy cannot record its return, nor can a forged return by Cy.
        room.transfer_custody(ana, &id, Some(&bo.public()), None, "", 30, false)
            .unwrap();
        assert!(matches!(
            room.transfer_custody(cy, &id, None, None, "", 31, false),
            Err(DomainError::Invalid {
                field: "holder",
                ..
            })
        ));
        forge(&mut room, &id, cy, "return", "", 31);
        assert_eq!(room.resource(&id).unwrap().holder, Some(bo.public()));
        // Ana (the steward) may take it back; so may Bo (the holder) next time.
        room.transfer_custody(ana, &id, None, None, "", 40, false)
            .unwrap();
        room.transfer_custody(ana, &id, Some(&bo.public()), None, "", 50, false)
            .unwrap();
        room.transfer_custody(bo, &id, None, None, "", 60, false)
            .unwrap();
        let r = room.resource(&id).unwrap();
        assert_eq!((r.holder, r.transfers.len()), (None, 4));
        assert!(r.transfers.iter().all(|t| t.by != cy.public()));
    }

    #[test]
    fn a_hand_over_during_someone_elses_booking_asks_first() {
        let (mut room, m) = crate::domain::testing::community(3);
        let (ana, bo, cy) = (&m[0], &m[1], &m[2]);
        let id = room.add_resource(ana, drill(), 10).unwrap();
        let booked = room.book(bo, &id, 100, 200).unwrap();
        // A loan to Cy from 50 to 150 would take it during Bo's booking.
        assert_eq!(
            room.transfer_custody(ana, &id, Some(&cy.public()), Some(150), "", 50, false),
            Err(DomainError::BookingConflict(booked.clone()))
        );
        let r = room.resource(&id).unwrap();
        assert_eq!(r.conflicts_for(&cy.public(), 50, Some(150)).len(), 1);
        assert!(r.conflicts_for(&cy.public(), 50, Some(100)).is_empty());
        assert!(
            r.conflicts_for(&bo.public(), 50, Some(150)).is_empty(),
            "Bo's own booking"
        );
        assert_eq!(
            r.conflicts_for(&cy.public(), 120, None).len(),
            1,
            "during it"
        );
        // Lending it to Bo, whose booking it is, asks nothing.
        room.transfer_custody(ana, &id, Some(&bo.public()), Some(150), "", 50, false)
            .unwrap();
        room.transfer_custody(bo, &id, None, None, "", 60, false)
            .unwrap();
        // Ana overrides knowingly: the hand-over counts and shows whose booking it overrode.
        room.transfer_custody(ana, &id, Some(&cy.public()), Some(150), "", 70, true)
            .unwrap();
        let r = room.resource(&id).unwrap();
        assert_eq!(r.holder, Some(cy.public()));
        assert_eq!(r.transfers.last().unwrap().overrides, vec![booked]);
    }

    #[test]
    fn overlapping_bookings_are_refused_locally_and_shown_when_made_apart() {
        let (mut a, ana, bo) = room2();
        let id = a.add_resource(&ana, drill(), 10).unwrap();
        a.book(&ana, &id, 100, 200).unwrap();
        assert!(matches!(
            a.book(&bo, &id, 150, 250),
            Err(DomainError::BookingConflict(_))
        ));
        a.book(&bo, &id, 200, 300).unwrap(); // touching is not overlapping
        let mut b = RoomDoc::empty("room-1");
        let sync = crate::domain::testing::sync;
        sync(&mut a, &mut b);
        let x = a.book(&ana, &id, 400, 500).unwrap();
        let y = b.book(&bo, &id, 450, 550).unwrap();
        sync(&mut a, &mut b);
        let (ra, rb) = (a.resource(&id).unwrap(), b.resource(&id).unwrap());
        assert_eq!(ra, rb);
        let get = |i: &str| {
            ra.bookings
                .iter()
                .find(|bk| bk.id == i)
                .unwrap()
                .conflicts_with
                .clone()
        };
        assert_eq!((get(&x), get(&y)), (vec![y.clone()], vec![x.clone()]));
        assert_eq!(ra.bookings.len(), 4);
    }

    const HOUR: i64 = 60 * 60 * 1000;

    #[test]
    fn a_booking_is_cancelled_by_its_member_and_its_time_is_free_again() {
        let (mut room, m) = crate::domain::testing::community(3);
        let (ana, bo, cy) = (&m[0], &m[1], &m[2]);
        let id = room.add_resource(ana, drill(), 10).unwrap();
        // Bo books 10:00 to 12:00; Cy's 11:00 to 13:00 overlaps in hours and is refused.
        let b = room.book(bo, &id, 10 * HOUR, 12 * HOUR).unwrap();
        assert_eq!(
            room.book(cy, &id, 11 * HOUR, 13 * HOUR),
            Err(DomainError::BookingConflict(b.clone()))
        );
        room.book(cy, &id, 12 * HOUR, 13 * HOUR).unwrap();
        // Nobody but Bo cancels it: the command refuses, and a signed cancellation by Ana (the
        // steward, with a modified client) counts for nothing.
        assert!(matches!(
            room.cancel_booking(ana, &b, 20),
            Err(DomainError::Invalid {
                field: "booking",
                ..
            })
        ));
        room.put_mark(ana, "unbook", &b, 20).unwrap();
        let r = room.resource(&id).unwrap();
        assert!(r.bookings.iter().any(|x| x.id == b) && r.cancelled.is_empty());
        room.cancel_booking(bo, &b, 30).unwrap();
        let r = room.resource(&id).unwrap();
        assert!(r.bookings.iter().all(|x| x.id != b));
        assert_eq!(r.cancelled.len(), 1);
        assert_eq!(
            (r.cancelled[0].booking.id.as_str(), r.cancelled[0].at),
            (b.as_str(), 30)
        );
        // The time is free again.
        room.book(cy, &id, 11 * HOUR, 12 * HOUR).unwrap();
        assert!(
            room.cancel_booking(bo, &b, 40).is_err(),
            "already cancelled"
        );
        let feed = room.activity(100);
        let lines: Vec<String> = feed.iter().map(|i| i.text()).collect();
        assert_eq!(
            lines
                .iter()
                .filter(|l| *l == "cancelled a booking of Drill")
                .count(),
            1
        );
        let line = feed
            .iter()
            .find(|i| i.text() == "cancelled a booking of Drill")
            .unwrap();
        assert_eq!(line.author, Some(bo.public()));
    }

    #[test]
    fn a_cancellation_written_before_its_booking_counts_for_nothing() {
        let (mut room, m) = crate::domain::testing::community(2);
        let (ana, bo) = (&m[0], &m[1]);
        let id = room.add_resource(ana, drill(), 10).unwrap();
        // A modified client signs a cancellation first, then writes a booking at that id.
        let b = crate::crypto::entry_id(&bo.public());
        room.put_mark(bo, "unbook", &b, 50).unwrap();
        let booking = BookingEntry {
            resource: id.clone(),
            start: 100,
            end: 200,
        };
        room.put_entry(bo, &format!("booking:{b}"), &b, &booking)
            .unwrap();
        room.commit();
        let r = room.resource(&id).unwrap();
        assert_eq!(r.bookings.len(), 1);
        assert!(r.cancelled.is_empty());
    }

    #[test]
    fn the_loan_history_pairs_each_hand_over_with_its_return_and_both_notes() {
        let (mut room, m) = crate::domain::testing::community(3);
        let (ana, bo, cy) = (&m[0], &m[1], &m[2]);
        let id = room.add_resource(ana, drill(), 10).unwrap();
        room.transfer_custody(
            ana,
            &id,
            Some(&bo.public()),
            Some(900),
            "one scratch",
            20,
            false,
        )
        .unwrap();
        room.transfer_custody(bo, &id, None, None, "clean, battery flat", 30, false)
            .unwrap();
        room.transfer_custody(ana, &id, Some(&cy.public()), None, "charged", 40, false)
            .unwrap();
        let loans = room.resource(&id).unwrap().loans();
        assert_eq!(loans.len(), 2);
        assert_eq!(
            (
                loans[0].to.as_str(),
                loans[0].handed_over_by.as_str(),
                loans[0].handed_over_at,
                loans[0].handover_note.as_str(),
                loans[0].due
            ),
            (
                bo.public().as_str(),
                ana.public().as_str(),
                20,
                "one scratch",
                Some(900)
            )
        );
        assert_eq!(
            loans[0].returned,
            Some((bo.public(), 30, "clean, battery flat".to_owned()))
        );
        assert_eq!(
            (
                loans[1].to.as_str(),
                loans[1].handover_note.as_str(),
                &loans[1].returned
            ),
            (cy.public().as_str(), "charged", &None)
        );
    }
}
