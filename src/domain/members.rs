//! Members and trust (Karrot-style admission). A member is a device key with a profile signed by
//! that key. The founder is admitted; a newcomer is admitted once vouches from admitted members
//! reach the threshold, min(3, ceil(admitted / 2)). Members may leave. Everything here is
//! derived from signed entries, in a deterministic order, identically on every device.
//!
//! Entries live at the root under unique keys (`founder`, `member:<key>`, `vouch:<id>`,
//! `leave:<id>`), so devices that write concurrently never contend for one container.

use super::charter::{Amendment, Charter};
use super::room::{required_text, DomainError, RoomDoc};
use super::signed::{int, read_entry, signed_entry, text, Entry as _, Fields as _};
use crate::crypto::Identity;

use std::collections::{BTreeMap, BTreeSet};

const MAX_NAME: usize = 60;
/// How far past everything its writer had seen an outcome may be dated (a year).
const AHEAD_MS: i64 = 366 * 24 * 3_600_000;
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
    /// Dividends paid by decision, in the order their outcomes were recorded.
    pub dividends: Vec<super::pot::EnactedDividend>,
    /// Decisions whose outcome was recorded: whether each passed (and so enacted its change).
    pub enacted: BTreeMap<String, bool>,
    /// Where each member who was ever admitted was admitted, and where they left or were
    /// removed: what they wrote counts if written between the two (see
    /// [`RoomDoc::admitted_when`]).
    pub since: BTreeMap<String, super::signed::Anchor>,
    pub until: BTreeMap<String, super::signed::Anchor>,
    /// Decisions whose outcome was recorded, as derived when it was: the tally of what the
    /// outcome record counted (the stances written before it) with the members admitted then,
    /// and the outcome statement that counted.
    pub decided: BTreeMap<String, super::decisions::DecisionView>,
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

/// Whether `key` is the founder `pin` names: the whole key, or a prefix of it of at least 16
/// characters (a join link carries a short fingerprint).
pub fn pin_matches(pin: &str, key: &str) -> bool {
    pin.len() >= 16 && key.starts_with(pin)
}

/// The admission threshold for a room with `admitted` admitted members.
pub fn admission_threshold(admitted: usize) -> usize {
    3.min(admitted.div_ceil(2)).max(1)
}

signed_entry! {
    /// A member's profile, at `member:<key>` (its id is the key).
    pub(crate) struct ProfileEntry = "profile" {
        name: String,
        skills: String [or_default],
        bio: String [or_default],
        at: i64,
    }
}

signed_entry! {
    /// An admitted member vouches for a newcomer (`vouch:<id>`).
    pub(crate) struct VouchEntry = "vouch" {
        newcomer: String,
        at: i64,
    }
}

signed_entry! {
    /// A member leaves (`leave:<id>`).
    pub(crate) struct LeaveEntry = "leave" {
        at: i64,
    }
}

signed_entry! {
    /// The founder entry (`founder`, its id too); a starter charter, when one was chosen, is
    /// part of what is signed.
    pub(crate) struct FounderEntry = "founder" {
        at: i64,
        charter: String [omitted_if_empty],
    }
}

/// Whether `c` is an invisible format character (zero-width spaces and joiners, bidi
/// controls and isolates, word joiners, the byte-order mark, the soft hyphen, ...): such
/// characters let one name pass for another, so names never keep them.
fn invisible(c: char) -> bool {
    matches!(c,
        '\u{00AD}' | '\u{061C}' | '\u{180E}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}'
        | '\u{2060}'..='\u{2064}' | '\u{2066}'..='\u{206F}' | '\u{FEFF}' | '\u{FFF9}'..='\u{FFFB}'
        | '\u{E0001}' | '\u{E0020}'..='\u{E007F}')
}

/// A name as shown: without invisible format characters (see [`invisible`]).
pub(crate) fn visible_name(name: &str) -> String {
    name.chars().filter(|c| !invisible(*c)).collect()
}

fn checked_profile(p: Profile) -> Result<Profile, DomainError> {
    let name = required_text("name", &visible_name(&p.name), MAX_NAME)?;
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
        if self.founder().is_some() || !self.founder_claims().is_empty() {
            return Err(DomainError::AlreadyFounded);
        }
        let profile = checked_profile(profile)?;
        for a in starter {
            a.validate()?;
            if matches!(a.key.as_str(), "remove" | "expense" | "dividend") {
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
        let founder = FounderEntry {
            at: now_ms,
            charter,
        };
        self.put_entry(me, "founder", "founder", &founder)?;
        self.write_profile(me, profile, now_ms)?;
        self.commit();
        Ok(())
    }

    /// The founder's key, if the founder entry verifies.
    pub fn founder(&self) -> Option<String> {
        self.founding().map(|(key, _, _)| key)
    }

    /// The verified founder entry: (founder's key, time, starter charter). The founder is
    /// written once: if more than one founder entry verifies, the one by the founder pinned
    /// on this device (by the join link, or the first seen) counts, and with no pin the
    /// causally first.
    fn founding(&self) -> Option<(String, i64, Vec<Amendment>)> {
        let fields = self.founder_entry()?;
        let FounderEntry { at, charter } = FounderEntry::decode(fields)?;
        let starter = serde_json::from_str::<Vec<(String, String)>>(&charter)
            .unwrap_or_default()
            .into_iter()
            .map(|(k, v)| Amendment { key: k, value: v })
            .filter(|a| {
                a.validate().is_ok() && !matches!(a.key.as_str(), "remove" | "expense" | "dividend")
            })
            .collect();
        Some((fields.author()?.to_owned(), at, starter))
    }

    /// The founder entry that counts (see `founding`).
    pub(crate) fn founder_entry(&self) -> Option<&super::signed::Raw> {
        let verified = |fields: &&super::signed::Raw| {
            read_entry::<FounderEntry>(self.room_id(), "founder", fields).is_some()
        };
        let mut candidates = self.index.versions("founder").filter(verified);
        match &self.pinned_founder {
            Some(pin) => candidates.find(|f| f.author().is_some_and(|a| pin_matches(pin, a))),
            None => candidates.next(),
        }
    }

    /// Every verified founder entry's author, causally first first (more than one means
    /// someone tried to take the room over; only the pinned one counts).
    pub fn founder_claims(&self) -> Vec<String> {
        let mut keys: Vec<String> = self
            .index
            .versions("founder")
            .filter(|f| read_entry::<FounderEntry>(self.room_id(), "founder", f).is_some())
            .filter_map(|f| f.author().map(str::to_owned))
            .collect();
        keys.dedup();
        keys
    }

    fn write_profile(&mut self, me: &Identity, p: Profile, now_ms: i64) -> Result<(), DomainError> {
        let key = me.public();
        let profile = ProfileEntry {
            name: p.name,
            skills: p.skills,
            bio: p.bio,
            at: now_ms,
        };
        self.put_entry(me, &format!("member:{key}"), &key, &profile)
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
        let vouch = VouchEntry {
            newcomer: newcomer.to_owned(),
            at: now_ms,
        };
        self.add_entry(me, "vouch:", &vouch)?;
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
        self.add_entry(me, "leave:", &LeaveEntry { at: now_ms })?;
        Ok(())
    }

    fn verified_vouches(&self) -> Vec<(String, String)> {
        self.entries_of_every::<VouchEntry>("vouch:")
            .map(|v| (v.author.to_owned(), v.entry.newcomer))
            .collect()
    }

    /// Verified profiles by key (an unverifiable profile is not a member). A profile is
    /// mutable by design: of every version its owner signed, the latest by the owner's own
    /// time counts, so re-putting an older version (a rollback) changes nothing.
    fn profiles(&self) -> BTreeMap<String, (Profile, i64)> {
        self.index
            .range_versions("member:")
            .filter_map(|(key, versions)| {
                versions
                    .iter()
                    .filter_map(|f| {
                        let p = ProfileEntry::decode(f)?;
                        (f.author() == Some(key) && p.signed(self.room_id(), key, f)).then(|| {
                            let ProfileEntry {
                                name,
                                skills,
                                bio,
                                at,
                            } = p;
                            (Profile { name, skills, bio }, at)
                        })
                    })
                    .max_by(|a, b| {
                        (a.1, &a.0.name, &a.0.skills, &a.0.bio).cmp(&(
                            b.1,
                            &b.0.name,
                            &b.0.skills,
                            &b.0.bio,
                        ))
                    })
                    .map(|(mut p, at)| {
                        // Signed as written; shown without what would let it pass for another.
                        p.name = visible_name(&p.name);
                        (key.to_owned(), (p, at))
                    })
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
        // (Entries read during the replay resolve no rival versions by who built on them:
        // that asks who was admitted, which is what the replay works out.)
        let was = self.replaying.replace(true);
        let g = std::rc::Rc::new(self.replay_governance());
        self.replaying.set(was);
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
            Vouch {
                author: &'a str,
                newcomer: &'a str,
                raw: &'a super::signed::Raw,
            },
            Leave {
                author: &'a str,
                raw: &'a super::signed::Raw,
            },
            Outcome {
                author: &'a str,
                decision: &'a str,
                raw: &'a super::signed::Raw,
            },
        }
        let profiles = self.profiles();
        let mut events: Vec<(i64, &str, Event)> = Vec::new();
        for v in self.entries_of_every::<VouchEntry>("vouch:") {
            let (author, raw) = (v.author, v.raw);
            // Borrowed from the index, where the vouch was read.
            let Some(newcomer) = text(raw, "newcomer") else {
                continue;
            };
            let event = Event::Vouch {
                author,
                newcomer,
                raw,
            };
            events.push((v.entry.at, v.id, event));
        }
        for l in self.entries_of_every::<LeaveEntry>("leave:") {
            let event = Event::Leave {
                author: l.author,
                raw: l.raw,
            };
            events.push((l.entry.at, l.id, event));
        }
        // One outcome record counts per decision: the first valid one replayed (a record
        // written after it is ignored: an outcome is recorded once). Of records made without
        // knowing of each other, one that saw fewer stances gives way to one that saw more.
        let mut outcomes: BTreeMap<&str, Vec<(&str, i64, &super::signed::Raw)>> = BTreeMap::new();
        for (id, author, decision, at, raw) in self.outcome_entries() {
            outcomes
                .entry(decision)
                .or_default()
                .push((author, at, raw));
            let event = Event::Outcome {
                author,
                decision,
                raw,
            };
            events.push((at, id, event));
        }
        // In the order of the change graph: an event is replayed after everything that was
        // written before it (its depth is greater), whatever time it claims; claimed times
        // only order events at the same depth, then ids.
        let depth = |e: &Event| match e {
            Event::Vouch { raw, .. } | Event::Leave { raw, .. } | Event::Outcome { raw, .. } => {
                raw.depth()
            }
        };
        events.sort_by(|a, b| (depth(&a.2), a.0, a.1).cmp(&(depth(&b.2), b.0, b.1)));

        let mut g = Governance::default();
        // Where each admitted member was admitted (the founder entry, or the vouch that
        // completed their admission): what they sign counts only if written after that, in
        // the change graph — a claimed time cannot place it earlier.
        let mut admitted_by: BTreeMap<String, &super::signed::Raw> = BTreeMap::new();
        // Vouches by members not (yet) admitted when replayed; they count if their author is
        // admitted later and the vouch was written after that admission.
        let mut waiting: BTreeMap<&str, Vec<(&str, &super::signed::Raw)>> = BTreeMap::new();
        if let Some((founder, at, starter)) = self.founding() {
            for rule in starter {
                g.enact("founding", at, rule);
            }
            let entry = self
                .index
                .versions("founder")
                .find(|f| f.author() == Some(founder.as_str()));
            if let (true, Some(entry)) = (profiles.contains_key(&founder), entry) {
                admitted_by.insert(founder.clone(), entry);
                g.admitted.insert(founder);
            }
        }
        for (at, _, event) in events {
            match event {
                Event::Vouch {
                    author,
                    newcomer,
                    raw,
                } => {
                    let mut queue = vec![(author, newcomer, raw)];
                    while let Some((author, newcomer, raw)) = queue.pop() {
                        if g.left.contains(author) || g.removed.contains(author) {
                            continue;
                        }
                        let Some(since) = admitted_by
                            .get(author)
                            .filter(|_| g.admitted.contains(author))
                        else {
                            waiting.entry(author).or_default().push((newcomer, raw));
                            continue;
                        };
                        if !self.index.precedes(since, raw)
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
                        // The threshold is the one the voucher could see: of the members
                        // admitted now, those whose admission was in the vouch's past. A vouch
                        // dated back to when the room was small, but written after others
                        // joined, needs what the room needs now; members admitted by vouches
                        // that did not know of later ones are never pushed back.
                        // (The rule stops growing past a few members: count no further.)
                        let enough = (g.charter.admission as usize).max(6);
                        let seen = g
                            .admitted
                            .iter()
                            .filter(|m| {
                                admitted_by
                                    .get(*m)
                                    .is_some_and(|since| self.index.precedes(since, raw))
                            })
                            .take(enough)
                            .count();
                        if counted >= g.charter.admission_threshold(seen) {
                            g.admitted.insert(newcomer.to_owned());
                            admitted_by.insert(newcomer.to_owned(), raw);
                            for (next, r) in waiting.remove(newcomer).unwrap_or_default() {
                                queue.push((newcomer, next, r));
                            }
                        }
                    }
                }
                Event::Leave { author, raw } => {
                    if g.admitted.remove(author) {
                        g.until.insert(author.to_owned(), raw.anchor());
                    }
                    g.left.insert(author.to_owned());
                }
                Event::Outcome {
                    author,
                    decision,
                    raw,
                } => {
                    if !g.admitted.contains(author) || g.enacted.contains_key(decision) {
                        continue;
                    }
                    if !admitted_by
                        .get(author)
                        .is_some_and(|since| self.index.precedes(since, raw))
                    {
                        continue;
                    }
                    // The proposal as its recorder had it (should its author have signed
                    // another version apart, that one changes nothing recorded).
                    let Some(f) = self.entry_before(&format!("decision:{decision}"), raw) else {
                        continue;
                    };
                    // An outcome dated more than a year after anything its writer had seen
                    // comes from a clock far in the future: it closes nothing early.
                    if at > self.index.latest_before(raw).saturating_add(AHEAD_MS) {
                        continue;
                    }
                    let Some(mut d) =
                        self.derive_decision(decision, f, &g.admitted, &g.charter, at, Some(raw))
                    else {
                        continue;
                    };
                    // (When it closed: its closing time, or earlier if its proposer closed it
                    // or everyone had answered.)
                    if at < d.closes_at {
                        continue;
                    }
                    let seen = self.stances_before(decision, raw);
                    let better_informed = outcomes.get(decision).into_iter().flatten().any(
                        |(other_author, other_at, other)| {
                            !std::ptr::eq(*other, raw)
                                && g.admitted.contains(*other_author)
                                && *other_at >= d.closes_at
                                && !self.index.precedes(other, raw)
                                && !self.index.precedes(raw, other)
                                && self.stances_before(decision, other) > seen
                        },
                    );
                    if better_informed {
                        continue;
                    }
                    d.statement = Some(super::decisions::Statement {
                        text: text(raw, "statement").unwrap_or_default().to_owned(),
                        review_at: int(raw, "review").unwrap_or_default(),
                        author: author.to_owned(),
                        at,
                    });
                    let passed = d.outcome == super::decisions::Outcome::Passed { winner: None };
                    g.enacted.insert(decision.to_owned(), passed);
                    let change = d.amendment.clone();
                    let title = d.title.clone();
                    g.decided.insert(decision.to_owned(), d);
                    if let (true, Some(change)) = (passed, change) {
                        if change.key == "remove" && g.admitted.contains(&change.value) {
                            g.until.insert(change.value.clone(), raw.anchor());
                        }
                        if change.key == "dividend" {
                            // Paid to the members admitted as its outcome is recorded.
                            if let Some(dividend) = super::pot::Dividend::parse(&change.value) {
                                g.dividends.push(super::pot::EnactedDividend {
                                    decision: decision.to_owned(),
                                    title,
                                    at,
                                    anchor: raw.anchor(),
                                    recorder: author.to_owned(),
                                    members: g.admitted.clone(),
                                    dividend,
                                });
                            }
                        } else {
                            g.enact(decision, at, change);
                        }
                    }
                }
            }
        }
        g.since = admitted_by
            .into_iter()
            .map(|(member, raw)| (member, raw.anchor()))
            .collect();
        g
    }

    /// Whether `author` was an admitted member when `entry` was written: their admission is
    /// in the entry's causal past, and their departure (leaving, or removal by decision), if
    /// any, is not before it — the entry was in the past of the departure. So leaving or being
    /// removed never rewrites what a member did while admitted, and nothing they write after
    /// (or claim to have written without knowing of their departure) counts.
    pub(crate) fn admitted_when(&self, author: &str, entry: &super::signed::Raw) -> bool {
        self.admitted_at(author, entry.anchor())
    }

    /// [`RoomDoc::admitted_when`] for a place in the change graph.
    pub(crate) fn admitted_at(&self, author: &str, at: super::signed::Anchor) -> bool {
        let g = self.governance();
        let Some(since) = g.since.get(author) else {
            return false;
        };
        self.index.precedes_anchor(*since, at)
            && g.until
                .get(author)
                .is_none_or(|until| self.index.precedes_anchor(at, *until))
    }

    /// Whether `key` is an admitted member's (without reading every profile).
    pub fn is_admitted(&self, key: &str) -> bool {
        let g = self.governance();
        g.admitted.contains(key) && !g.removed.contains(key) && !g.left.contains(key)
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
    use super::super::signed::put_signed;
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

    use crate::domain::testing::standing;

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
        let vouch = |at| VouchEntry {
            newcomer: bo.public(),
            at,
        };
        let forged = vouch(3).canonical("room-1", "x1");
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
        let replayed = vouch(4).canonical("room-2", "x2");
        put_signed(&mut room.doc, "vouch:x2", &ana, replayed).unwrap();
        room.commit();
        assert!(matches!(
            standing(&room, &bo),
            Some(Standing::Pending { .. })
        ));
        // A profile whose text was altered after signing keeps its signed text.
        let obj = room
            .doc
            .get(ROOT, format!("member:{}", bo.public()))
            .unwrap()
            .unwrap()
            .1;
        room.doc.put(&obj, "name", "Bob the admin").unwrap();
        room.commit();
        let bo_now = room.members().into_iter().find(|m| m.key == bo.public());
        assert_eq!(bo_now.map(|m| m.profile.name), Some("Bo".to_owned()));
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
        // Each vouch is weighed against the room its author saw (two admitted members:
        // threshold 1); neither knew of the other, so both newcomers are admitted.
        assert_eq!(a.admitted().len(), 4);
    }
}

#[cfg(test)]
mod governance_tests {
    use super::*;
    use crate::domain::testing::{community, sync};
    use crate::domain::{EntryKind, EntryState, Method, NewEntry, NewProposal, Outcome, Stance};

    /// When `decide`'s decisions close: proposed at 50 and open the charter's least time for a
    /// change (48 hours).
    const CLOSES: i64 = 50 + 48 * 60 * 60 * 1000;

    /// Proposes `change` by consent (closing at `CLOSES`), has everyone in `yes` agree, and
    /// records the outcome at `CLOSES`. Returns the decision id.
    fn decide(room: &mut RoomDoc, yes: &[&Identity], key: &str, value: &str) -> String {
        let d = room
            .propose(
                yes[0],
                NewProposal {
                    title: format!("{key} {value}"),
                    method: Method::Consent,
                    options: vec![],
                    closes_at: CLOSES,
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
        room.record_outcome(yes[0], &d, "Decided", None, CLOSES)
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
        assert_eq!(room.charter(CLOSES).admission, 1);
        assert_eq!(
            standing(&room, &newcomer),
            Standing::Pending {
                vouches: 0,
                needed: 1
            }
        );
        room.vouch(&p[2], &newcomer.public(), CLOSES + 100).unwrap();
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
                    closes_at: CLOSES,
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
        a.record_outcome(&p[0], &d, "Two vouches", None, CLOSES + 20)
            .unwrap();
        b.record_outcome(&p[1], &d, "Two vouches from now on", None, CLOSES + 10)
            .unwrap();
        sync(&mut a, &mut b);
        let later = CLOSES + 1_000;
        assert_eq!(a.charter_history(later), b.charter_history(later));
        assert_eq!(a.charter_history(later).len(), 1);
        // The earlier statement is the one shown, on both devices.
        let (da, db) = (
            a.decision(&d, later).unwrap(),
            b.decision(&d, later).unwrap(),
        );
        assert_eq!(da, db);
        assert_eq!(da.outcome, Outcome::Passed { winner: None });
        assert_eq!(da.statement.unwrap().text, "Two vouches from now on");
    }
}
