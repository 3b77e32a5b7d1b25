//! Contributions: open value accounting (Sensorica, ValueFlows work events). A member logs a
//! contribution of a value type the charter defines, as an integer quantity (minutes, or units
//! of the type); peers validate it after the fact; the beneficiary's countersignature makes it
//! confirmed. A correction is a new entry that reverses another. A contribution counts once it
//! has at least one validation by an admitted member who is neither its contributor nor its
//! beneficiary, or is confirmed by a beneficiary other than the contributor. Quantities are
//! bounded where read. Totals and shares are derived, weighted by the charter, in integers with
//! checked sums.

use super::room::{DomainError, RoomDoc};
use super::signed::{signed_entry, Entry as _, Fields as _};
use crate::crypto::Identity;
use std::collections::{BTreeMap, BTreeSet};

/// The largest quantity one contribution may carry (minutes, or units): larger ones never count.
pub const MAX_QUANTITY: i64 = 10_000_000;

/// What a member logs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewContribution {
    pub value_type: String,
    /// Minutes for time, or units of the value type; always positive.
    pub quantity: i64,
    pub description: String,
    /// When the work was done (ms since the epoch).
    pub date: i64,
    /// The member it benefited, who may countersign.
    pub beneficiary: Option<String>,
    /// The contribution this entry corrects (reverses).
    pub reverses: Option<String>,
}

/// A contribution as the room sees it (derived).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContributionView {
    pub id: String,
    pub contributor: String,
    pub value_type: String,
    pub quantity: i64,
    pub description: String,
    pub date: i64,
    pub beneficiary: Option<String>,
    pub reverses: Option<String>,
    pub validators: BTreeSet<String>,
    pub confirmed: bool,
    pub reversed: bool,
    /// Whether it counts in totals (verified, by an admitted member, of a charter value type,
    /// with a quantity from 1 to [`MAX_QUANTITY`], validated or confirmed, not reversed, not
    /// itself a correction).
    pub counts: bool,
}

/// Derived totals: raw quantities per member and type, weighted points (quantity × weight %),
/// and each member's share of all weighted points in basis points (1/100 of a percent).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContributionTotals {
    pub by_member_and_type: BTreeMap<(String, String), i64>,
    pub weighted_by_member: BTreeMap<String, i64>,
    pub weighted_by_type: BTreeMap<String, i64>,
    pub share_basis_points: BTreeMap<String, i64>,
}

/// Whether a value type is measured in time (its quantities are minutes): work, care and
/// knowledge shared. Other types (money, materials, any the charter adds) count whole units.
pub fn is_time(value_type: &str) -> bool {
    matches!(value_type, "work" | "care" | "knowledge")
}

/// A quantity as people read it: `1:30 h` for time, `3 materials` otherwise.
pub fn format_quantity(quantity: i64, value_type: &str) -> String {
    if is_time(value_type) {
        super::format_amount(quantity, "hours")
    } else {
        format!("{quantity} {value_type}")
    }
}

/// Reads a quantity typed for a value type: hours (`1:30`, `1.5`, minutes) for time, a
/// positive whole number otherwise.
pub fn parse_quantity(text: &str, value_type: &str) -> Result<i64, DomainError> {
    if is_time(value_type) {
        return super::parse_amount(text, "hours");
    }
    match text.trim().parse::<i64>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(DomainError::Invalid {
            field: "quantity",
            problem: format!("is not a whole number of {value_type} above zero"),
        }),
    }
}

/// The sum kept under `key`, or 0.
fn sum_of<K: Ord>(map: &BTreeMap<K, i64>, key: &K) -> i64 {
    map.get(key).copied().unwrap_or(0)
}

signed_entry! {
    /// A contribution (`contribution:<id>`): `beneficiary` and `reverses` empty for none.
    pub(crate) struct ContributionEntry = "contribution" {
        value_type: String,
        quantity: i64,
        description: String [or_default],
        date: i64,
        beneficiary: String [or_default],
        reverses: String [or_default],
        at: i64,
    }
}

impl ContributionEntry {
    fn new(c: &NewContribution, at: i64) -> Self {
        ContributionEntry {
            value_type: c.value_type.clone(),
            quantity: c.quantity,
            description: c.description.clone(),
            date: c.date,
            beneficiary: c.beneficiary.clone().unwrap_or_default(),
            reverses: c.reverses.clone().unwrap_or_default(),
            at,
        }
    }
}

impl RoomDoc {
    /// Logs a contribution (or a correction reversing one of one's own).
    pub fn log_contribution(
        &mut self,
        me: &Identity,
        c: NewContribution,
        now_ms: i64,
    ) -> Result<String, DomainError> {
        self.require_admitted(me)?;
        if !self.charter(now_ms).value_types.contains_key(&c.value_type) {
            return Err(DomainError::Invalid {
                field: "value_type",
                problem: format!("\"{}\" is not a value type of the charter", c.value_type),
            });
        }
        if c.quantity <= 0 {
            return Err(DomainError::Invalid {
                field: "quantity",
                problem: "must be a positive whole number".into(),
            });
        }
        if c.quantity > MAX_QUANTITY {
            return Err(DomainError::Invalid {
                field: "quantity",
                problem: "is too large".into(),
            });
        }
        if c.description.chars().count() > 1000 {
            return Err(DomainError::Invalid {
                field: "description",
                problem: "is longer than 1000 characters".into(),
            });
        }
        let existing = self.contributions(now_ms);
        if let Some(b) = &c.beneficiary {
            if !self.members().iter().any(|m| &m.key == b) || *b == me.public() {
                return Err(DomainError::NoSuchMember(b.clone()));
            }
        }
        if let Some(target) = &c.reverses {
            let t = existing
                .iter()
                .find(|x| &x.id == target)
                .ok_or_else(|| DomainError::NoSuchEntry(target.clone()))?;
            if t.contributor != me.public() || t.reversed || t.reverses.is_some() {
                return Err(DomainError::Invalid {
                    field: "reverses",
                    problem: "only your own, not yet corrected contribution can be reversed".into(),
                });
            }
        }
        self.add_entry(me, "contribution:", &ContributionEntry::new(&c, now_ms))
    }

    /// A peer validates someone else's contribution (its beneficiary confirms it instead).
    pub fn validate_contribution(
        &mut self,
        me: &Identity,
        target: &str,
        now_ms: i64,
    ) -> Result<(), DomainError> {
        self.require_admitted(me)?;
        let c = self
            .contribution(target, now_ms)
            .ok_or_else(|| DomainError::NoSuchEntry(target.to_owned()))?;
        if c.contributor == me.public() {
            return Err(DomainError::SelfApproval);
        }
        if c.beneficiary.as_deref() == Some(me.public().as_str()) {
            return Err(DomainError::Invalid {
                field: "validation",
                problem: "is for others: as its beneficiary, confirm it instead".into(),
            });
        }
        if c.validators.contains(&me.public()) {
            return Err(DomainError::AlreadyApproved);
        }
        self.put_mark(me, "validation", target, now_ms)
    }

    /// The beneficiary countersigns: the contribution becomes confirmed.
    pub fn countersign(
        &mut self,
        me: &Identity,
        target: &str,
        now_ms: i64,
    ) -> Result<(), DomainError> {
        self.require_admitted(me)?;
        let c = self
            .contribution(target, now_ms)
            .ok_or_else(|| DomainError::NoSuchEntry(target.to_owned()))?;
        if c.beneficiary.as_deref() != Some(me.public().as_str()) || c.contributor == me.public() {
            return Err(DomainError::NotBeneficiary);
        }
        if c.confirmed {
            return Err(DomainError::AlreadyApproved);
        }
        self.put_mark(me, "countersign", target, now_ms)
    }

    /// Every contribution, oldest work first.
    pub fn contributions(&self, now_ms: i64) -> Vec<ContributionView> {
        self.contributions_seen(now_ms, None)
    }

    /// [`RoomDoc::contributions`] as whoever wrote at `cut` had them (with `cut`): only
    /// contributions, validations and countersignatures in its causal past.
    pub(crate) fn contributions_seen(
        &self,
        now_ms: i64,
        cut: Option<super::signed::Anchor>,
    ) -> Vec<ContributionView> {
        let seen = |a: super::signed::Anchor| cut.is_none_or(|c| self.index.precedes_anchor(a, c));
        // Validations, countersignatures and contributions count if their authors were
        // admitted when they wrote them: leaving later rewrites no one's contributions.
        let types = self.charter(now_ms).value_types;
        let mut validators: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for m in self.marks("validation") {
            if seen(m.anchor) && self.admitted_at(&m.author, m.anchor) {
                validators.entry(m.target).or_default().insert(m.author);
            }
        }
        let countersigned: BTreeSet<(String, String)> = self
            .marks("countersign")
            .into_iter()
            .filter(|m| seen(m.anchor) && self.admitted_at(&m.author, m.anchor))
            .map(|m| (m.target, m.author))
            .collect();
        let mut list: Vec<ContributionView> = self
            .entries("contribution:")
            .filter(|(_, f)| seen(f.anchor()))
            .filter_map(|(id, f)| {
                let entry = ContributionEntry::decode(f)?;
                let verified = entry.signed(self.room_id(), id, f);
                let id = id.to_owned();
                let contributor = f.author()?.to_owned();
                let opt = |s: String| (!s.is_empty()).then_some(s);
                let c = NewContribution {
                    value_type: entry.value_type,
                    quantity: entry.quantity,
                    description: entry.description,
                    date: entry.date,
                    beneficiary: opt(entry.beneficiary),
                    reverses: opt(entry.reverses),
                };
                // Neither the contributor nor the beneficiary validates: they are the parties.
                let mut v = validators.get(&id).cloned().unwrap_or_default();
                v.remove(&contributor);
                if let Some(b) = &c.beneficiary {
                    v.remove(b);
                }
                // Confirmed: the contributor's signature and the beneficiary's both verify, and
                // they are two people.
                let confirmed = verified
                    && c.beneficiary.as_ref().is_some_and(|b| {
                        *b != contributor && countersigned.contains(&(id.clone(), b.clone()))
                    });
                let counts = verified
                    && (1..=MAX_QUANTITY).contains(&c.quantity)
                    && self.admitted_when(&contributor, f)
                    && types.contains_key(&c.value_type)
                    && c.reverses.is_none()
                    && (confirmed || !v.is_empty());
                Some(ContributionView {
                    id,
                    contributor,
                    value_type: c.value_type,
                    quantity: c.quantity,
                    description: c.description,
                    date: c.date,
                    beneficiary: c.beneficiary,
                    reverses: if verified { c.reverses } else { None },
                    validators: v,
                    confirmed,
                    reversed: false,
                    counts,
                })
            })
            .collect();
        // A verified correction by the same contributor reverses its target.
        let reversals: BTreeSet<(String, String)> = list
            .iter()
            .filter_map(|c| Some((c.reverses.clone()?, c.contributor.clone())))
            .collect();
        for c in &mut list {
            if reversals.contains(&(c.id.clone(), c.contributor.clone())) {
                c.reversed = true;
                c.counts = false;
            }
        }
        list.sort_by(|a, b| (a.date, &a.id).cmp(&(b.date, &b.id)));
        list
    }

    pub fn contribution(&self, id: &str, now_ms: i64) -> Option<ContributionView> {
        self.contributions(now_ms).into_iter().find(|c| c.id == id)
    }

    /// Totals per member and per value type, weighted by the charter. Every sum is checked: a
    /// contribution that would overflow one is left out of all of them, never wrapped or clipped.
    pub fn contribution_totals(&self, now_ms: i64) -> ContributionTotals {
        self.contribution_totals_seen(now_ms, None)
    }

    /// [`RoomDoc::contribution_totals`] of [`RoomDoc::contributions_seen`].
    pub(crate) fn contribution_totals_seen(
        &self,
        now_ms: i64,
        cut: Option<super::signed::Anchor>,
    ) -> ContributionTotals {
        let weights = self.charter(now_ms).value_types;
        let mut t = ContributionTotals::default();
        for c in self
            .contributions_seen(now_ms, cut)
            .into_iter()
            .filter(|c| c.counts)
        {
            let weight = i64::from(*weights.get(&c.value_type).unwrap_or(&0));
            let raw_key = (c.contributor.clone(), c.value_type.clone());
            let sums = c.quantity.checked_mul(weight).and_then(|weighted| {
                Some((
                    sum_of(&t.by_member_and_type, &raw_key).checked_add(c.quantity)?,
                    sum_of(&t.weighted_by_member, &c.contributor).checked_add(weighted)?,
                    sum_of(&t.weighted_by_type, &c.value_type).checked_add(weighted)?,
                ))
            });
            let Some((raw, member, kind)) = sums else {
                continue;
            };
            t.by_member_and_type.insert(raw_key, raw);
            t.weighted_by_member.insert(c.contributor, member);
            t.weighted_by_type.insert(c.value_type, kind);
        }
        let total: i128 = t.weighted_by_member.values().map(|v| i128::from(*v)).sum();
        if total > 0 {
            for (member, w) in &t.weighted_by_member {
                let bp = i128::from(*w) * 10_000 / total;
                t.share_basis_points
                    .insert(member.clone(), i64::try_from(bp).unwrap_or(i64::MAX));
            }
        }
        t
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
    fn quantities_are_time_for_time_types_and_whole_units_otherwise() {
        assert_eq!(parse_quantity("1:30", "care"), Ok(90));
        assert_eq!(parse_quantity(" 3 ", "materials"), Ok(3));
        assert!(parse_quantity("1.5", "materials").is_err());
        assert!(parse_quantity("0", "money").is_err());
        assert_eq!(format_quantity(90, "work"), "1:30 h");
        assert_eq!(format_quantity(3, "materials"), "3 materials");
    }

    fn work(minutes: i64, beneficiary: Option<&Identity>) -> NewContribution {
        NewContribution {
            value_type: "work".into(),
            quantity: minutes,
            description: "fixed the bike rack".into(),
            date: 100,
            beneficiary: beneficiary.map(Identity::public),
            reverses: None,
        }
    }

    #[test]
    fn validated_and_confirmed_contributions_count() {
        let (mut room, ana, bo, cy) = room3();
        let unvalidated = room.log_contribution(&bo, work(30, None), 10).unwrap();
        let validated = room.log_contribution(&bo, work(90, None), 11).unwrap();
        let confirmed = room
            .log_contribution(&cy, work(60, Some(&ana)), 12)
            .unwrap();
        assert_eq!(
            room.validate_contribution(&bo, &validated, 13),
            Err(DomainError::SelfApproval)
        );
        room.validate_contribution(&ana, &validated, 14).unwrap();
        assert_eq!(
            room.validate_contribution(&ana, &validated, 15),
            Err(DomainError::AlreadyApproved)
        );
        assert_eq!(
            room.countersign(&bo, &confirmed, 16),
            Err(DomainError::NotBeneficiary)
        );
        room.countersign(&ana, &confirmed, 17).unwrap();
        let list = room.contributions(20);
        let get = |id: &str| list.iter().find(|c| c.id == id).unwrap();
        assert!(!get(&unvalidated).counts);
        assert!(get(&validated).counts);
        assert!(get(&confirmed).confirmed && get(&confirmed).counts);

        let t = room.contribution_totals(20);
        assert_eq!(
            t.by_member_and_type.get(&(bo.public(), "work".into())),
            Some(&90)
        );
        assert_eq!(t.weighted_by_type.get("work"), Some(&(150 * 100)));
        // Bo 90 of 150 weighted minutes: 60.00 %; Cy 40.00 %.
        assert_eq!(t.share_basis_points.get(&bo.public()), Some(&6_000));
        assert_eq!(t.share_basis_points.get(&cy.public()), Some(&4_000));
    }

    /// Writes a contribution straight into the document, as a modified client could.
    fn forge(room: &mut RoomDoc, id: &str, by: &Identity, c: &NewContribution) {
        let entry = ContributionEntry::new(c, 10);
        room.put_entry(by, &format!("contribution:{id}"), id, &entry)
            .unwrap();
        room.commit();
    }

    /// Writes a mark straight into the document.
    fn forge_mark(room: &mut RoomDoc, kind: &str, id: &str, by: &Identity, target: &str) {
        let mark = crate::domain::signed::MarkFields {
            target: target.to_owned(),
            at: 11,
        };
        room.put_fields(by, kind, &format!("{kind}:{id}"), id, &mark)
            .unwrap();
        room.commit();
    }

    #[test]
    fn nobody_confirms_or_validates_their_own_contribution() {
        let (mut room, ana, bo, cy) = room3();
        // Bo's modified client names himself as the beneficiary and countersigns: the old rules
        // counted that as confirmed.
        forge(&mut room, "own", &bo, &work(600, Some(&bo)));
        forge_mark(&mut room, "countersign", "c1", &bo, "own");
        forge_mark(&mut room, "validation", "v1", &bo, "own");
        let own = room.contribution("own", 20).unwrap();
        assert!(!own.confirmed && !own.counts && own.validators.is_empty());
        assert!(room.contribution_totals(20).weighted_by_member.is_empty());
        // Work for Ana that only Ana "validates" does not count either: she confirms instead.
        let for_ana = room
            .log_contribution(&bo, work(60, Some(&ana)), 12)
            .unwrap();
        forge_mark(&mut room, "validation", "v2", &ana, &for_ana);
        assert!(!room.contribution(&for_ana, 20).unwrap().counts);
        assert!(matches!(
            room.validate_contribution(&ana, &for_ana, 13),
            Err(DomainError::Invalid {
                field: "validation",
                ..
            })
        ));
        // A third member's validation counts, for both.
        room.validate_contribution(&cy, &for_ana, 14).unwrap();
        forge_mark(&mut room, "validation", "v3", &cy, "own");
        assert!(room.contribution(&for_ana, 20).unwrap().counts);
        assert!(room.contribution("own", 20).unwrap().counts);
        assert_eq!(
            room.contribution_totals(20)
                .by_member_and_type
                .get(&(bo.public(), "work".into())),
            Some(&660)
        );
    }

    #[test]
    fn huge_quantities_neither_panic_nor_take_the_shares() {
        let (mut room, ana, bo, cy) = room3();
        let fair = room.log_contribution(&cy, work(60, None), 10).unwrap();
        room.validate_contribution(&ana, &fair, 11).unwrap();
        for (i, quantity) in [i64::MAX, MAX_QUANTITY + 1, -60, i64::MIN]
            .into_iter()
            .enumerate()
        {
            let id = format!("big{i}");
            forge(&mut room, &id, &bo, &work(quantity, None));
            forge_mark(&mut room, "validation", &format!("v{i}"), &ana, &id);
        }
        assert!(room
            .contributions(20)
            .iter()
            .filter(|c| c.contributor == bo.public())
            .all(|c| !c.counts));
        let t = room.contribution_totals(20);
        assert_eq!(t.share_basis_points.get(&cy.public()), Some(&10_000));
        assert_eq!(t.share_basis_points.get(&bo.public()), None);
        // The largest quantity allowed counts, and is refused one above.
        let most = room
            .log_contribution(&bo, work(MAX_QUANTITY, None), 12)
            .unwrap();
        room.validate_contribution(&ana, &most, 13).unwrap();
        assert!(room.contribution(&most, 20).unwrap().counts);
        assert!(matches!(
            room.log_contribution(&bo, work(MAX_QUANTITY + 1, None), 14),
            Err(DomainError::Invalid {
                field: "quantity",
                ..
            })
        ));
    }

    #[test]
    fn corrections_reverse_and_bad_input_is_refused() {
        let (mut room, ana, bo, _) = room3();
        let wrong = room.log_contribution(&bo, work(600, None), 10).unwrap();
        room.validate_contribution(&ana, &wrong, 11).unwrap();
        let mut fix = work(600, None);
        fix.reverses = Some(wrong.clone());
        assert!(
            room.log_contribution(&ana, fix.clone(), 12).is_err(),
            "only one's own entry"
        );
        room.log_contribution(&bo, fix.clone(), 12).unwrap();
        assert!(
            room.log_contribution(&bo, fix, 13).is_err(),
            "reversed once"
        );
        assert!(room.contribution_totals(20).weighted_by_member.is_empty());

        let mut bad = work(0, None);
        assert!(matches!(
            room.log_contribution(&bo, bad.clone(), 14),
            Err(DomainError::Invalid {
                field: "quantity",
                ..
            })
        ));
        bad.quantity = 5;
        bad.value_type = "vibes".into();
        assert!(matches!(
            room.log_contribution(&bo, bad, 14),
            Err(DomainError::Invalid {
                field: "value_type",
                ..
            })
        ));
        assert!(
            room.log_contribution(&bo, work(5, Some(&bo)), 14).is_err(),
            "own beneficiary"
        );
        let stranger = Identity::generate();
        assert_eq!(
            room.log_contribution(&stranger, work(5, None), 14),
            Err(DomainError::NotAdmitted)
        );
    }
}
