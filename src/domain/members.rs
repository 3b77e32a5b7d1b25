//! Members and trust (Karrot-style admission). A member is a device key with a profile signed by
//! that key. The founder is admitted; a newcomer is admitted once vouches from admitted members
//! reach the threshold, min(3, ceil(admitted / 2)). Members may leave. Everything here is
//! derived from signed entries, in a deterministic order, identically on every device.
//!
//! Entries live at the root under unique keys (`founder`, `member:<key>`, `vouch:<id>`,
//! `leave:<id>`), so devices that write concurrently never contend for one container.

use super::room::{required_text, DomainError, RoomDoc};
use super::signed::{int, put_signed, read_fields, root_entries, text, verifies, Canonical};
use crate::crypto::{random_id, Identity};
use automerge::{ObjType, ReadDoc, Value, ROOT};
use std::collections::{BTreeMap, BTreeSet};

const MAX_NAME: usize = 60;
const MAX_SKILLS: usize = 200;
const MAX_BIO: usize = 500;

/// What a member says about themselves.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Profile {
    pub name: String,
    pub skills: String,
    pub bio: String,
}

/// Where a member stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Standing {
    Admitted,
    /// Waiting for vouches: how many admitted members vouched, and how many are needed now.
    Pending {
        vouches: usize,
        needed: usize,
    },
    Left,
}

/// A member as the room sees them (derived).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub key: String,
    pub profile: Profile,
    pub standing: Standing,
    pub founder: bool,
    /// When the profile was last written.
    pub since: i64,
}

/// The admission threshold for a room with `admitted` admitted members.
pub fn admission_threshold(admitted: usize) -> usize {
    3.min(admitted.div_ceil(2)).max(1)
}

fn profile_canonical(room: &str, key: &str, p: &Profile, at: i64) -> Canonical {
    Canonical::new(room, "profile", key)
        .text("name", &p.name)
        .text("skills", &p.skills)
        .text("bio", &p.bio)
        .int("at", at)
}

fn vouch_canonical(room: &str, id: &str, newcomer: &str, at: i64) -> Canonical {
    Canonical::new(room, "vouch", id)
        .text("newcomer", newcomer)
        .int("at", at)
}

fn leave_canonical(room: &str, id: &str, at: i64) -> Canonical {
    Canonical::new(room, "leave", id).int("at", at)
}

fn founder_canonical(room: &str, at: i64) -> Canonical {
    Canonical::new(room, "founder", "founder").int("at", at)
}

fn checked_profile(p: Profile) -> Result<Profile, DomainError> {
    let name = required_text("name", &p.name, MAX_NAME)?;
    let limit = |field: &'static str, value: &str, max: usize| -> Result<String, DomainError> {
        let n = value.chars().count();
        if n > max {
            return Err(DomainError::Invalid {
                field,
                problem: format!("is {n} characters long; at most {max} are allowed"),
            });
        }
        Ok(value.trim().to_owned())
    };
    Ok(Profile {
        name,
        skills: limit("skills", &p.skills, MAX_SKILLS)?,
        bio: limit("bio", &p.bio, MAX_BIO)?,
    })
}

enum Event {
    Vouch { author: String, newcomer: String },
    Leave { author: String },
}

impl RoomDoc {
    fn ensure_writable(&self) -> Result<(), DomainError> {
        self.writable_posts().map(|_| ())
    }

    /// Refuses unless the room is writable and `me` is an admitted member.
    pub(crate) fn require_admitted(&self, me: &Identity) -> Result<(), DomainError> {
        self.ensure_writable()?;
        if self.admitted().contains(&me.public()) {
            Ok(())
        } else {
            Err(DomainError::NotAdmitted)
        }
    }

    /// Makes `me` the room's founder (its first admitted member). Done once, by the creator.
    pub fn found(
        &mut self,
        me: &Identity,
        profile: Profile,
        now_ms: i64,
    ) -> Result<(), DomainError> {
        self.ensure_writable()?;
        if self.founder().is_some() {
            return Err(DomainError::AlreadyFounded);
        }
        let profile = checked_profile(profile)?;
        let canonical = founder_canonical(self.room_id(), now_ms);
        put_signed(&mut self.doc, "founder", me, canonical)?;
        self.write_profile(me, profile, now_ms)?;
        self.doc.commit();
        Ok(())
    }

    /// The founder's key, if the founder entry verifies.
    pub fn founder(&self) -> Option<String> {
        let obj = match self.doc.get(ROOT, "founder").ok()?? {
            (Value::Object(ObjType::Map), obj) => obj,
            _ => return None,
        };
        let fields = read_fields(&self.doc, &obj);
        let canonical = founder_canonical(self.room_id(), int(&fields, "at")?);
        verifies(&fields, &canonical).then(|| text(&fields, "author").map(str::to_owned))?
    }

    fn write_profile(&mut self, me: &Identity, p: Profile, now_ms: i64) -> Result<(), DomainError> {
        let key = me.public();
        let canonical = profile_canonical(self.room_id(), &key, &p, now_ms);
        put_signed(&mut self.doc, &format!("member:{key}"), me, canonical)
    }

    /// Introduces this device to the room, or updates its profile.
    pub fn set_profile(
        &mut self,
        me: &Identity,
        profile: Profile,
        now_ms: i64,
    ) -> Result<(), DomainError> {
        self.ensure_writable()?;
        let profile = checked_profile(profile)?;
        self.write_profile(me, profile, now_ms)?;
        self.doc.commit();
        Ok(())
    }

    /// An admitted member vouches for a pending newcomer.
    pub fn vouch(&mut self, me: &Identity, newcomer: &str, now_ms: i64) -> Result<(), DomainError> {
        self.ensure_writable()?;
        let members = self.members();
        let find = |key: &str| members.iter().find(|m| m.key == key);
        if find(&me.public()).map(|m| &m.standing) != Some(&Standing::Admitted) {
            return Err(DomainError::NotAdmitted);
        }
        match find(newcomer).map(|m| &m.standing) {
            None => return Err(DomainError::NoSuchMember(newcomer.to_owned())),
            Some(Standing::Admitted) => return Err(DomainError::AlreadyAdmitted),
            Some(Standing::Left) => return Err(DomainError::NoSuchMember(newcomer.to_owned())),
            Some(Standing::Pending { .. }) => {}
        }
        if self
            .verified_vouches()
            .iter()
            .any(|(author, n)| *author == me.public() && n == newcomer)
        {
            return Err(DomainError::AlreadyVouched);
        }
        let id = random_id();
        let canonical = vouch_canonical(self.room_id(), &id, newcomer, now_ms);
        put_signed(&mut self.doc, &format!("vouch:{id}"), me, canonical)?;
        self.doc.commit();
        Ok(())
    }

    /// This device leaves the room: its votes and vouches no longer count from now on.
    pub fn leave(&mut self, me: &Identity, now_ms: i64) -> Result<(), DomainError> {
        self.ensure_writable()?;
        if !self
            .members()
            .iter()
            .any(|m| m.key == me.public() && m.standing != Standing::Left)
        {
            return Err(DomainError::NoSuchMember(me.public()));
        }
        let id = random_id();
        let canonical = leave_canonical(self.room_id(), &id, now_ms);
        put_signed(&mut self.doc, &format!("leave:{id}"), me, canonical)?;
        self.doc.commit();
        Ok(())
    }

    fn verified_vouches(&self) -> Vec<(String, String)> {
        root_entries(&self.doc, "vouch:")
            .into_iter()
            .filter_map(|(id, f)| {
                let newcomer = text(&f, "newcomer")?;
                let canonical = vouch_canonical(self.room_id(), &id, newcomer, int(&f, "at")?);
                verifies(&f, &canonical)
                    .then(|| Some((text(&f, "author")?.to_owned(), newcomer.to_owned())))
                    .flatten()
            })
            .collect()
    }

    /// Verified profiles by key (an unverifiable profile is not a member).
    fn profiles(&self) -> BTreeMap<String, (Profile, i64)> {
        root_entries(&self.doc, "member:")
            .into_iter()
            .filter_map(|(key, f)| {
                let p = Profile {
                    name: text(&f, "name")?.to_owned(),
                    skills: text(&f, "skills").unwrap_or_default().to_owned(),
                    bio: text(&f, "bio").unwrap_or_default().to_owned(),
                };
                let canonical = profile_canonical(self.room_id(), &key, &p, int(&f, "at")?);
                let at = int(&f, "at")?;
                (text(&f, "author") == Some(key.as_str()) && verifies(&f, &canonical))
                    .then_some((key, (p, at)))
            })
            .collect()
    }

    /// Everyone who introduced themselves, with their standing (derived by replaying verified
    /// vouches and departures in (time, id) order).
    pub fn members(&self) -> Vec<Member> {
        let profiles = self.profiles();
        let founder = self.founder().filter(|f| profiles.contains_key(f));
        let mut events: Vec<(i64, String, Event)> = Vec::new();
        for (id, f) in root_entries(&self.doc, "vouch:") {
            let (Some(newcomer), Some(at)) = (text(&f, "newcomer"), int(&f, "at")) else {
                continue;
            };
            if verifies(&f, &vouch_canonical(self.room_id(), &id, newcomer, at)) {
                let author = text(&f, "author").unwrap_or_default().to_owned();
                events.push((
                    at,
                    id,
                    Event::Vouch {
                        author,
                        newcomer: newcomer.to_owned(),
                    },
                ));
            }
        }
        for (id, f) in root_entries(&self.doc, "leave:") {
            let Some(at) = int(&f, "at") else { continue };
            if verifies(&f, &leave_canonical(self.room_id(), &id, at)) {
                let author = text(&f, "author").unwrap_or_default().to_owned();
                events.push((at, id, Event::Leave { author }));
            }
        }
        events.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));

        let mut admitted: BTreeSet<String> = founder.iter().cloned().collect();
        let mut left: BTreeSet<String> = BTreeSet::new();
        let mut vouchers: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (_, _, event) in events {
            match event {
                Event::Vouch { author, newcomer } => {
                    if !admitted.contains(&author)
                        || admitted.contains(&newcomer)
                        || left.contains(&newcomer)
                        || !profiles.contains_key(&newcomer)
                    {
                        continue;
                    }
                    let set = vouchers.entry(newcomer.clone()).or_default();
                    set.insert(author);
                    let counted = set.iter().filter(|v| admitted.contains(*v)).count();
                    if counted >= admission_threshold(admitted.len()) {
                        admitted.insert(newcomer);
                    }
                }
                Event::Leave { author } => {
                    admitted.remove(&author);
                    left.insert(author);
                }
            }
        }
        let needed = admission_threshold(admitted.len());
        profiles
            .into_iter()
            .map(|(key, (profile, since))| {
                let standing = if left.contains(&key) {
                    Standing::Left
                } else if admitted.contains(&key) {
                    Standing::Admitted
                } else {
                    let vouches = vouchers
                        .get(&key)
                        .map_or(0, |s| s.iter().filter(|v| admitted.contains(*v)).count());
                    Standing::Pending { vouches, needed }
                };
                Member {
                    founder: founder.as_deref() == Some(key.as_str()),
                    key,
                    profile,
                    standing,
                    since,
                }
            })
            .collect()
    }

    /// Keys of the members admitted now.
    pub fn admitted(&self) -> BTreeSet<String> {
        self.members()
            .into_iter()
            .filter(|m| m.standing == Standing::Admitted)
            .map(|m| m.key)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use automerge::transaction::Transactable;

    fn profile(name: &str) -> Profile {
        Profile {
            name: name.into(),
            skills: "carpentry".into(),
            bio: String::new(),
        }
    }

    fn founded() -> (RoomDoc, Identity) {
        let mut room = RoomDoc::create("room-1", "Commons", 0).unwrap();
        let ana = Identity::generate();
        room.found(&ana, profile("Ana"), 1).unwrap();
        (room, ana)
    }

    fn standing(room: &RoomDoc, who: &Identity) -> Option<Standing> {
        room.members()
            .into_iter()
            .find(|m| m.key == who.public())
            .map(|m| m.standing)
    }

    #[test]
    fn threshold_follows_the_charter_default() {
        let t: Vec<usize> = (1..=8).map(admission_threshold).collect();
        assert_eq!(t, [1, 1, 2, 2, 3, 3, 3, 3]);
    }

    #[test]
    fn the_founder_is_admitted_and_newcomers_need_vouches() {
        let (mut room, ana) = founded();
        assert_eq!(room.founder(), Some(ana.public()));
        assert_eq!(standing(&room, &ana), Some(Standing::Admitted));
        assert_eq!(
            room.found(&ana, profile("Ana"), 2),
            Err(DomainError::AlreadyFounded)
        );

        let (bo, cy, di) = (
            Identity::generate(),
            Identity::generate(),
            Identity::generate(),
        );
        room.set_profile(&bo, profile("Bo"), 2).unwrap();
        assert_eq!(
            standing(&room, &bo),
            Some(Standing::Pending {
                vouches: 0,
                needed: 1
            })
        );
        // A pending member's vouch does not count.
        room.set_profile(&cy, profile("Cy"), 3).unwrap();
        assert_eq!(
            room.vouch(&bo, &cy.public(), 4),
            Err(DomainError::NotAdmitted)
        );
        room.vouch(&ana, &bo.public(), 5).unwrap();
        assert_eq!(standing(&room, &bo), Some(Standing::Admitted));
        assert_eq!(
            room.vouch(&ana, &bo.public(), 6),
            Err(DomainError::AlreadyAdmitted)
        );
        // With two admitted members the threshold is one; with three it is two.
        room.vouch(&bo, &cy.public(), 7).unwrap();
        assert_eq!(standing(&room, &cy), Some(Standing::Admitted));
        room.set_profile(&di, profile("Di"), 8).unwrap();
        room.vouch(&ana, &di.public(), 9).unwrap();
        assert_eq!(
            standing(&room, &di),
            Some(Standing::Pending {
                vouches: 1,
                needed: 2
            })
        );
        assert_eq!(
            room.vouch(&ana, &di.public(), 10),
            Err(DomainError::AlreadyVouched)
        );
        room.vouch(&cy, &di.public(), 11).unwrap();
        assert_eq!(room.admitted().len(), 4);
        assert_eq!(
            room.vouch(&ana, "nobody", 12),
            Err(DomainError::NoSuchMember("nobody".into()))
        );
    }

    #[test]
    fn leaving_removes_standing_and_future_vouches_do_not_count() {
        let (mut room, ana) = founded();
        let bo = Identity::generate();
        room.set_profile(&bo, profile("Bo"), 2).unwrap();
        room.vouch(&ana, &bo.public(), 3).unwrap();
        room.leave(&bo, 4).unwrap();
        assert_eq!(standing(&room, &bo), Some(Standing::Left));
        assert_eq!(room.admitted(), BTreeSet::from([ana.public()]));
        assert!(room.leave(&Identity::generate(), 5).is_err());
    }

    #[test]
    fn forged_and_replayed_entries_count_for_nothing() {
        let (mut room, ana) = founded();
        let bo = Identity::generate();
        room.set_profile(&bo, profile("Bo"), 2).unwrap();
        // A vouch "by Ana" signed by someone else.
        let mallory = Identity::generate();
        let forged = vouch_canonical("room-1", "x1", &bo.public(), 3);
        put_signed(&mut room.doc, "vouch:x1", &mallory, forged).unwrap();
        room.doc
            .put(
                &room.doc.get(ROOT, "vouch:x1").unwrap().unwrap().1,
                "author",
                ana.public(),
            )
            .unwrap();
        assert!(matches!(
            standing(&room, &bo),
            Some(Standing::Pending { .. })
        ));
        // A genuine vouch by Ana, but signed for another room.
        let replayed = vouch_canonical("room-2", "x2", &bo.public(), 4);
        put_signed(&mut room.doc, "vouch:x2", &ana, replayed).unwrap();
        assert!(matches!(
            standing(&room, &bo),
            Some(Standing::Pending { .. })
        ));
        // A profile whose text was altered after signing is not a member at all.
        let obj = room
            .doc
            .get(ROOT, format!("member:{}", bo.public()))
            .unwrap()
            .unwrap()
            .1;
        room.doc.put(&obj, "name", "Bob the admin").unwrap();
        assert_eq!(standing(&room, &bo), None);
    }

    #[test]
    fn profiles_are_validated() {
        let (mut room, _) = founded();
        let bo = Identity::generate();
        assert!(matches!(
            room.set_profile(&bo, profile("  "), 2),
            Err(DomainError::Invalid { field: "name", .. })
        ));
        let mut long = profile("Bo");
        long.bio = "x".repeat(501);
        assert!(matches!(
            room.set_profile(&bo, long, 2),
            Err(DomainError::Invalid { field: "bio", .. })
        ));
        assert!(room.members().iter().all(|m| m.key != bo.public()));
    }

    #[test]
    fn admission_is_the_same_on_every_device_after_concurrent_vouches() {
        use automerge::sync::{State, SyncDoc};
        let (mut a, ana) = founded();
        let bo = Identity::generate();
        a.set_profile(&bo, profile("Bo"), 2).unwrap();
        a.vouch(&ana, &bo.public(), 3).unwrap();
        let mut b = RoomDoc::empty("room-1");
        let (mut sa, mut sb) = (State::new(), State::new());
        let mut exchange = |a: &mut RoomDoc, b: &mut RoomDoc| {
            for _ in 0..10 {
                if let Some(m) = a.doc.sync().generate_sync_message(&mut sa) {
                    b.doc.sync().receive_sync_message(&mut sb, m).unwrap();
                }
                if let Some(m) = b.doc.sync().generate_sync_message(&mut sb) {
                    a.doc.sync().receive_sync_message(&mut sa, m).unwrap();
                }
            }
        };
        exchange(&mut a, &mut b);
        let (cy, di) = (Identity::generate(), Identity::generate());
        a.set_profile(&cy, profile("Cy"), 4).unwrap();
        b.set_profile(&di, profile("Di"), 4).unwrap();
        a.vouch(&ana, &cy.public(), 5).unwrap();
        b.vouch(&bo, &di.public(), 5).unwrap();
        exchange(&mut a, &mut b);
        assert_eq!(a.members(), b.members());
        // Ordered by (time, id): the first vouch admits its newcomer at threshold 1; the second
        // then needs 2 of 3 admitted members.
        assert_eq!(a.admitted().len(), 3);
    }
}
