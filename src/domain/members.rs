//! Members and trust (Karrot-style admission). A member is a device key with a profile signed by
//! that key. The founder is admitted; a newcomer is admitted once vouches from admitted members
//! reach the threshold, min(3, ceil(admitted / 2)). Members may leave. Everything here is
//! derived from signed entries, in a deterministic order, identically on every device.
//!
//! Entries live at the root under unique keys (`founder`, `member:<key>`, `vouch:<id>`,
//! `leave:<id>`), so devices that write concurrently never contend for one container.

use super::charter::{Amendment, Charter};
use super::room::{required_text, DomainError, RoomDoc};
use super::signed::{int, put_signed, text, verifies, Canonical};
use crate::crypto::{random_id, Identity};

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
    /// Removed by a decision.
    Removed,
}

/// What the governance replay derives: who is admitted, who left or was removed, vouches per
/// newcomer, the charter in force with its history, and what decisions enacted.
#[derive(Debug, Default)]
pub(crate) struct Governance {
    pub charter: Charter,
    /// Enacted charter changes in the order they applied: (decision id, enacted at, change).
    pub history: Vec<(String, i64, Amendment)>,
    pub admitted: BTreeSet<String>,
    pub left: BTreeSet<String>,
    pub removed: BTreeSet<String>,
    pub vouchers: BTreeMap<String, BTreeSet<String>>,
    /// Expense entries approved by decision.
    pub approved_expenses: BTreeSet<String>,
    /// Decisions whose outcome was recorded: whether each passed (and so enacted its change).
    pub enacted: BTreeMap<String, bool>,
}

impl Governance {
    fn enact(&mut self, decision: &str, at: i64, change: Amendment) {
        match change.key.as_str() {
            "remove" => {
                self.admitted.remove(&change.value);
                self.removed.insert(change.value);
            }
            "expense" => {
                self.approved_expenses.insert(change.value);
            }
            _ => {
                change.apply(&mut self.charter);
                self.history.push((decision.to_owned(), at, change));
            }
        }
    }
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

/// The founder entry; a starter charter, when one was chosen, is part of what is signed.
fn founder_canonical(room: &str, at: i64, charter: &str) -> Canonical {
    let c = Canonical::new(room, "founder", "founder").int("at", at);
    if charter.is_empty() {
        c
    } else {
        c.text("charter", charter)
    }
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
        self.found_with_charter(me, profile, &[], now_ms)
    }

    /// Founds the room with a starter charter: rules that hold from the start (a template's,
    /// and the purpose typed at creation). Only rule changes are accepted (no removals or
    /// expenses); they are signed with the founding and can later change only by decision.
    pub fn found_with_charter(
        &mut self,
        me: &Identity,
        profile: Profile,
        starter: &[Amendment],
        now_ms: i64,
    ) -> Result<(), DomainError> {
        self.ensure_writable()?;
        if self.founder().is_some() {
            return Err(DomainError::AlreadyFounded);
        }
        let profile = checked_profile(profile)?;
        for a in starter {
            a.validate()?;
            if matches!(a.key.as_str(), "remove" | "expense") {
                return Err(DomainError::Invalid {
                    field: "amendment",
                    problem: "a starter charter holds rules only".into(),
                });
            }
        }
        let charter = if starter.is_empty() {
            String::new()
        } else {
            let pairs: Vec<(&str, &str)> = starter
                .iter()
                .map(|a| (a.key.as_str(), a.value.as_str()))
                .collect();
            serde_json::to_string(&pairs).unwrap_or_default()
        };
        let canonical = founder_canonical(self.room_id(), now_ms, &charter);
        put_signed(&mut self.doc, "founder", me, canonical)?;
        self.write_profile(me, profile, now_ms)?;
        self.commit();
        Ok(())
    }

    /// The founder's key, if the founder entry verifies.
    pub fn founder(&self) -> Option<String> {
        self.founding().map(|(key, _, _)| key)
    }

    /// The verified founder entry: (founder's key, time, starter charter).
    fn founding(&self) -> Option<(String, i64, Vec<Amendment>)> {
        let fields = self.index.get("founder")?;
        let at = int(fields, "at")?;
        let charter = text(fields, "charter").unwrap_or_default();
        if !verifies(fields, || founder_canonical(self.room_id(), at, charter)) {
            return None;
        }
        let starter = serde_json::from_str::<Vec<(String, String)>>(charter)
            .unwrap_or_default()
            .into_iter()
            .map(|(k, v)| Amendment { key: k, value: v })
            .filter(|a| a.validate().is_ok() && !matches!(a.key.as_str(), "remove" | "expense"))
            .collect();
        Some((text(fields, "author")?.to_owned(), at, starter))
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
        self.commit();
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
            Some(Standing::Left | Standing::Removed) => {
                return Err(DomainError::NoSuchMember(newcomer.to_owned()))
            }
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
        self.commit();
        Ok(())
    }

    /// This device leaves the room: its votes and vouches no longer count from now on.
    pub fn leave(&mut self, me: &Identity, now_ms: i64) -> Result<(), DomainError> {
        self.ensure_writable()?;
        if !self.members().iter().any(|m| {
            m.key == me.public() && !matches!(m.standing, Standing::Left | Standing::Removed)
        }) {
            return Err(DomainError::NoSuchMember(me.public()));
        }
        let id = random_id();
        let canonical = leave_canonical(self.room_id(), &id, now_ms);
        put_signed(&mut self.doc, &format!("leave:{id}"), me, canonical)?;
        self.commit();
        Ok(())
    }

    fn verified_vouches(&self) -> Vec<(String, String)> {
        self.entries("vouch:")
            .filter_map(|(id, f)| {
                let id = id.to_owned();
                let newcomer = text(f, "newcomer")?;
                let canonical = vouch_canonical(self.room_id(), &id, newcomer, int(f, "at")?);
                verifies(f, || canonical)
                    .then(|| Some((text(f, "author")?.to_owned(), newcomer.to_owned())))
                    .flatten()
            })
            .collect()
    }

    /// Verified profiles by key (an unverifiable profile is not a member).
    fn profiles(&self) -> BTreeMap<String, (Profile, i64)> {
        self.entries("member:")
            .filter_map(|(key, f)| {
                let p = Profile {
                    name: text(f, "name")?.to_owned(),
                    skills: text(f, "skills").unwrap_or_default().to_owned(),
                    bio: text(f, "bio").unwrap_or_default().to_owned(),
                };
                let canonical = profile_canonical(self.room_id(), key, &p, int(f, "at")?);
                let at = int(f, "at")?;
                (text(f, "author") == Some(key) && verifies(f, || canonical))
                    .then_some((key.to_owned(), (p, at)))
            })
            .collect()
    }

    /// Everyone who introduced themselves, with their standing (derived by the governance
    /// replay: verified vouches, departures and enacted decisions in (time, id) order).
    pub fn members(&self) -> Vec<Member> {
        let g = self.governance();
        let founder = self.founder();
        let needed = g.charter.admission_threshold(g.admitted.len());
        self.profiles()
            .into_iter()
            .map(|(key, (profile, since))| {
                let standing = if g.removed.contains(&key) {
                    Standing::Removed
                } else if g.left.contains(&key) {
                    Standing::Left
                } else if g.admitted.contains(&key) {
                    Standing::Admitted
                } else {
                    let vouches = g
                        .vouchers
                        .get(&key)
                        .map_or(0, |s| s.iter().filter(|v| g.admitted.contains(*v)).count());
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

    /// The governance replay, remembered until the document changes.
    pub(crate) fn governance(&self) -> std::rc::Rc<Governance> {
        let generation = self.index.generation();
        if let Some((g, cached)) = &*self.governance_cache.borrow() {
            if *g == generation {
                return cached.clone();
            }
        }
        let g = std::rc::Rc::new(self.replay_governance());
        *self.governance_cache.borrow_mut() = Some((generation, g.clone()));
        g
    }

    /// Membership and the charter depend on each other (admitted members decide; decisions
    /// change the admission rule and remove members), so they are derived in one replay of
    /// every vouch, departure and recorded outcome in (time, id) order. A recorded outcome
    /// enacts its decision's change if the decision passed, counted with the members admitted
    /// at that moment.
    fn replay_governance(&self) -> Governance {
        enum Event<'a> {
            Vouch { author: &'a str, newcomer: &'a str },
            Leave { author: &'a str },
            Outcome { author: &'a str, decision: &'a str },
        }
        let profiles = self.profiles();
        let mut events: Vec<(i64, &str, Event)> = Vec::new();
        for (id, f) in self.entries("vouch:") {
            let (Some(newcomer), Some(at), Some(author)) =
                (text(f, "newcomer"), int(f, "at"), text(f, "author"))
            else {
                continue;
            };
            if verifies(f, || vouch_canonical(self.room_id(), id, newcomer, at)) {
                events.push((at, id, Event::Vouch { author, newcomer }));
            }
        }
        for (id, f) in self.entries("leave:") {
            let (Some(at), Some(author)) = (int(f, "at"), text(f, "author")) else {
                continue;
            };
            if verifies(f, || leave_canonical(self.room_id(), id, at)) {
                events.push((at, id, Event::Leave { author }));
            }
        }
        for (id, author, decision, at) in self.outcome_entries() {
            events.push((at, id, Event::Outcome { author, decision }));
        }
        events.sort_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));

        let mut g = Governance::default();
        if let Some((founder, at, starter)) = self.founding() {
            for rule in starter {
                g.enact("founding", at, rule);
            }
            if profiles.contains_key(&founder) {
                g.admitted.insert(founder);
            }
        }
        for (at, _, event) in events {
            match event {
                Event::Vouch { author, newcomer } => {
                    if !g.admitted.contains(author)
                        || g.admitted.contains(newcomer)
                        || g.left.contains(newcomer)
                        || g.removed.contains(newcomer)
                        || !profiles.contains_key(newcomer)
                    {
                        continue;
                    }
                    let set = g.vouchers.entry(newcomer.to_owned()).or_default();
                    set.insert(author.to_owned());
                    let counted = set.iter().filter(|v| g.admitted.contains(*v)).count();
                    if counted >= g.charter.admission_threshold(g.admitted.len()) {
                        g.admitted.insert(newcomer.to_owned());
                    }
                }
                Event::Leave { author } => {
                    g.admitted.remove(author);
                    g.left.insert(author.to_owned());
                }
                Event::Outcome { author, decision } => {
                    if !g.admitted.contains(author) || g.enacted.contains_key(decision) {
                        continue;
                    }
                    let Some(f) = self.index.get(&format!("decision:{decision}")) else {
                        continue;
                    };
                    let Some(d) = self.derive_decision(decision, f, &g.admitted, at) else {
                        continue;
                    };
                    if at < d.closes_at {
                        continue;
                    }
                    let passed = d.outcome == super::decisions::Outcome::Passed { winner: None };
                    g.enacted.insert(decision.to_owned(), passed);
                    if let (true, Some(change)) = (passed, d.amendment) {
                        g.enact(decision, at, change);
                    }
                }
            }
        }
        g
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
    use automerge::{ReadDoc, ROOT};

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
        room.commit();
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
        room.commit();
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
        room.commit();
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
        let (mut a, ana) = founded();
        let bo = Identity::generate();
        a.set_profile(&bo, profile("Bo"), 2).unwrap();
        a.vouch(&ana, &bo.public(), 3).unwrap();
        let mut b = RoomDoc::empty("room-1");
        let exchange = crate::domain::testing::sync;
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

#[cfg(test)]
mod governance_tests {
    use super::*;
    use crate::domain::testing::{community, sync};
    use crate::domain::{EntryKind, EntryState, Method, NewEntry, NewProposal, Outcome, Stance};

    /// Proposes `change` by consent (closing at 100), has everyone in `yes` agree, and records
    /// the outcome at 100. Returns the decision id.
    fn decide(room: &mut RoomDoc, yes: &[&Identity], key: &str, value: &str) -> String {
        let d = room
            .propose(
                yes[0],
                NewProposal {
                    title: format!("{key} {value}"),
                    method: Method::Consent,
                    options: vec![],
                    closes_at: 100,
                    quorum_percent: 50,
                    amendment: Some(Amendment::new(key, value)),
                },
                50,
            )
            .unwrap();
        for (i, who) in yes.iter().enumerate() {
            room.take_stance(who, &d, Stance::Agree, "", 60 + i as i64)
                .unwrap();
        }
        room.record_outcome(yes[0], &d, "Decided", None, 100)
            .unwrap();
        d
    }

    fn standing(room: &RoomDoc, who: &Identity) -> Standing {
        room.members()
            .into_iter()
            .find(|m| m.key == who.public())
            .unwrap()
            .standing
    }

    #[test]
    fn a_passed_decision_removes_a_member_and_their_voice() {
        let (mut room, p) = community(3);
        assert_eq!(
            room.propose(
                &p[0],
                NewProposal {
                    title: "Remove a stranger".into(),
                    method: Method::Consent,
                    options: vec![],
                    closes_at: 100,
                    quorum_percent: 50,
                    amendment: Some(Amendment::new("remove", "nobody")),
                },
                50
            ),
            Err(DomainError::NoSuchMember("nobody".into()))
        );
        decide(&mut room, &[&p[0], &p[1]], "remove", &p[2].public());
        assert_eq!(standing(&room, &p[2]), Standing::Removed);
        assert!(!room.admitted().contains(&p[2].public()));
        assert_eq!(
            room.open_pot(&p[2], "Mine", "EUR", 200),
            Err(DomainError::NotAdmitted)
        );
        // A removed member cannot come back by vouches.
        assert_eq!(
            room.vouch(&p[0], &p[2].public(), 201),
            Err(DomainError::NoSuchMember(p[2].public()))
        );
    }

    #[test]
    fn the_admission_rule_is_amendable() {
        let (mut room, p) = community(3);
        let newcomer = Identity::generate();
        room.set_profile(
            &newcomer,
            Profile {
                name: "New".into(),
                ..Profile::default()
            },
            10,
        )
        .unwrap();
        // Default rule: min(3, ceil(3 / 2)) = 2 vouches.
        assert_eq!(
            standing(&room, &newcomer),
            Standing::Pending {
                vouches: 0,
                needed: 2
            }
        );
        decide(&mut room, &[&p[0], &p[1]], "admission", "1");
        assert_eq!(room.charter(100).admission, 1);
        assert_eq!(
            standing(&room, &newcomer),
            Standing::Pending {
                vouches: 0,
                needed: 1
            }
        );
        room.vouch(&p[2], &newcomer.public(), 200).unwrap();
        assert_eq!(standing(&room, &newcomer), Standing::Admitted);
    }

    #[test]
    fn a_passed_decision_approves_an_expense() {
        let (mut room, p) = community(3);
        let pot = room.open_pot(&p[0], "Pot", "EUR", 10).unwrap();
        let dues = room
            .record(&p[0], &pot, NewEntry::new(EntryKind::Inflow, 900, ""), 11)
            .unwrap();
        room.confirm(&p[1], &pot, &dues, 11).unwrap();
        let expense = room
            .record(
                &p[1],
                &pot,
                NewEntry::new(EntryKind::Expense, 400, "tent"),
                12,
            )
            .unwrap();
        let state = |room: &RoomDoc| {
            room.pot(&pot, 1_000)
                .unwrap()
                .lines
                .into_iter()
                .find(|l| l.id == expense)
                .unwrap()
                .state
        };
        assert!(matches!(state(&room), EntryState::AwaitingApproval { .. }));
        decide(&mut room, &[&p[0], &p[1]], "expense", &expense);
        assert_eq!(state(&room), EntryState::Approved);
        room.pay(&p[2], &pot, &expense, 300).unwrap();
        assert_eq!(room.pot(&pot, 1_000).unwrap().balance, 500);
    }

    #[test]
    fn outcomes_recorded_on_two_devices_enact_once_and_converge() {
        let (mut a, p) = community(3);
        let d = a
            .propose(
                &p[0],
                NewProposal {
                    title: "Ask for two vouches always".into(),
                    method: Method::Consent,
                    options: vec![],
                    closes_at: 100,
                    quorum_percent: 50,
                    amendment: Some(Amendment::new("admission", "2")),
                },
                50,
            )
            .unwrap();
        a.take_stance(&p[0], &d, Stance::Agree, "", 60).unwrap();
        a.take_stance(&p[1], &d, Stance::Agree, "", 61).unwrap();
        let mut b = RoomDoc::empty("room-1");
        sync(&mut a, &mut b);
        a.record_outcome(&p[0], &d, "Two vouches", None, 120)
            .unwrap();
        b.record_outcome(&p[1], &d, "Two vouches from now on", None, 110)
            .unwrap();
        sync(&mut a, &mut b);
        assert_eq!(a.charter_history(1_000), b.charter_history(1_000));
        assert_eq!(a.charter_history(1_000).len(), 1);
        // The earlier statement is the one shown, on both devices.
        let (da, db) = (
            a.decision(&d, 1_000).unwrap(),
            b.decision(&d, 1_000).unwrap(),
        );
        assert_eq!(da, db);
        assert_eq!(da.outcome, Outcome::Passed { winner: None });
        assert_eq!(da.statement.unwrap().text, "Two vouches from now on");
    }
}
