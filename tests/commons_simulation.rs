//! 3–5 simulated devices run random commands from every module of the commons while partitioned
//! and merged in random schedules. After healing, every device derives identical views, and the
//! invariants hold: pot balances equal the sum of their counted entries and never go negative,
//! no member is counted twice in a tally, confirmed contributions carry both signatures.
//!
//! Then the same with a hostile device among them (Mallory: see `Mallory::attack`), which writes
//! raw automerge changes, entries signed by her own key at others' keys, a rival history, and
//! honest commands with absurd claimed times. Honest devices never panic, agree on every view
//! and on the tampering listed, keep the real founder, name and board, keep what they saw
//! decided, and derive the same from a reload; her raw writes change no view at all (a twin
//! world of the same devices without her changes derives the same). `COMMONS_SEED` sets the
//! first seed, `COMMONS_SCHEDULES` the number of honest schedules and
//! `COMMONS_HOSTILE_SCHEDULES` that of each hostile test. Keys and ids are random, so a seed
//! replays its schedule (who does what, when, partitions) but not byte for byte.
#![cfg(not(target_arch = "wasm32"))]

use automerge::sync::{State, SyncDoc};
use automerge::{
    transaction::Transactable, AutoCommit, ObjType, ReadDoc, ScalarValue, Value, ROOT,
};
use std::collections::{BTreeMap, BTreeSet};
use tequio::crypto::Identity;
use tequio::domain::*;

mod support;
use support::Rng;

/// Simulated time between steps: an hour, so a change (open at least 48 hours) closes 48 steps
/// after it is proposed.
const STEP: i64 = 60 * 60 * 1000;

fn sync(a: &mut RoomDoc, b: &mut RoomDoc) {
    let (mut sa, mut sb) = (State::new(), State::new());
    for _ in 0..30 {
        let m1 = a.doc_mut().sync().generate_sync_message(&mut sa);
        if let Some(m) = m1.clone() {
            b.doc_mut().sync().receive_sync_message(&mut sb, m).unwrap();
        }
        let m2 = b.doc_mut().sync().generate_sync_message(&mut sb);
        if let Some(m) = m2.clone() {
            a.doc_mut().sync().receive_sync_message(&mut sa, m).unwrap();
        }
        if m1.is_none() && m2.is_none() {
            return;
        }
    }
    panic!("sync did not settle");
}

fn pair<T>(v: &mut [T], i: usize, j: usize) -> (&mut T, &mut T) {
    assert!(i < j);
    let (left, right) = v.split_at_mut(j);
    (&mut left[i], &mut right[0])
}

/// One random command by device `who` at time `now`; refusals are part of the rules.
fn act(rng: &mut Rng, room: &mut RoomDoc, me: &Identity, people: &[Identity], now: i64) {
    let other = rng.pick(people).unwrap().public();
    let pots: Vec<String> = room.pots(now).into_iter().map(|p| p.id).collect();
    // Members often answer a change open before them: a change needs the charter's quorum and
    // two members who agree.
    if rng.below(3) == 0 {
        let unanswered = room.decisions(now).into_iter().find(|d| {
            d.outcome == Outcome::Open
                && d.amendment.is_some()
                && !room.has_stance(&d.id, &me.public())
        });
        if let Some(d) = unanswered {
            let stance = [
                Stance::Agree,
                Stance::Agree,
                Stance::Disagree,
                Stance::Block,
            ];
            let _ = room.take_stance(me, &d.id, stance[rng.below(4)].clone(), "", now);
            return;
        }
    }
    let _ = match rng.below(15) {
        0 => {
            let pending: Vec<String> = room
                .members()
                .into_iter()
                .filter(|m| matches!(m.standing, Standing::Pending { .. }))
                .map(|m| m.key)
                .collect();
            match rng.pick(&pending) {
                Some(p) => room.vouch(me, p, now),
                None => Ok(()),
            }
        }
        1 if pots.len() < 2 => room.open_pot(me, "Pot", "EUR", now).map(drop),
        2 | 3 => match rng.pick(&pots) {
            Some(pot) => {
                let kind = [EntryKind::Inflow, EntryKind::Payout, EntryKind::Expense][rng.below(3)];
                room.record(
                    me,
                    pot,
                    NewEntry::new(kind, 1 + rng.below(500) as i64, "sim"),
                    now,
                )
                .map(drop)
            }
            None => Ok(()),
        },
        4 | 14 => {
            // What waits for someone: money in for another member's confirmation, money out
            // for approvals and then a payment.
            let lines: Vec<(String, LedgerLine)> = room
                .pots(now)
                .into_iter()
                .flat_map(|p| {
                    p.lines
                        .into_iter()
                        .filter(|l| l.state != EntryState::Counted)
                        .map(move |l| (p.id.clone(), l))
                })
                .collect();
            match rng.pick(&lines) {
                Some((pot, l)) => match l.state {
                    EntryState::AwaitingConfirmation => room.confirm(me, pot, &l.id, now),
                    EntryState::Approved => room.pay(me, pot, &l.id, now),
                    _ => room.approve(me, pot, &l.id, now),
                },
                None => Ok(()),
            }
        }
        5 => {
            // Some proposals carry a change that passing (and recording the outcome) enacts.
            let amendment = match rng.below(6) {
                0 => Some(Amendment::new("admission", &rng.below(3).to_string())),
                1 => Some(Amendment::new("approvals", &(1 + rng.below(2)).to_string())),
                2 => Some(Amendment::new("remove", &other)),
                3 => Some(Amendment::new("purpose", &format!("Purpose {now}"))),
                _ => None,
            };
            let method = if amendment.is_some() {
                Method::Consent
            } else {
                [Method::Consent, Method::Majority, Method::Ranked][rng.below(3)]
            };
            // A change stays open the charter's least time and asks at least its quorum.
            let charter = room.charter(now);
            let (closes_at, quorum_percent) = match amendment {
                Some(_) => (
                    now.saturating_add(charter.min_open_ms()),
                    charter.quorum_percent,
                ),
                None => (now.saturating_add(30 * STEP), 30),
            };
            room.propose(
                me,
                NewProposal {
                    title: format!("Proposal {now}"),
                    method,
                    options: vec!["a".into(), "b".into(), "c".into()],
                    closes_at,
                    quorum_percent,
                    amendment,
                },
                now,
            )
            .map(drop)
        }
        6 if rng.below(2) == 0 => {
            let closed: Vec<DecisionView> = room
                .decisions(now)
                .into_iter()
                .filter(|d| d.outcome != Outcome::Open && d.statement.is_none())
                .collect();
            match rng.pick(&closed) {
                Some(d) => room.record_outcome(me, &d.id, "sim outcome", None, now),
                None => Ok(()),
            }
        }
        6 | 7 => {
            let open: Vec<DecisionView> = room
                .decisions(now)
                .into_iter()
                .filter(|d| d.outcome == Outcome::Open)
                .collect();
            match rng.pick(&open) {
                Some(d) => {
                    let stance = match d.method {
                        Method::Consent => [
                            Stance::Agree,
                            Stance::Agree,
                            Stance::Agree,
                            Stance::Disagree,
                            Stance::Abstain,
                            Stance::Block,
                        ][rng.below(6)]
                        .clone(),
                        Method::Ranked => Stance::Ranking(
                            vec![rng.below(3), (rng.below(2) + 1 + rng.below(1)) % 3]
                                .into_iter()
                                .collect::<BTreeSet<_>>()
                                .into_iter()
                                .collect(),
                        ),
                        _ => Stance::Choose(rng.below(3)),
                    };
                    room.take_stance(me, &d.id, stance, "", now)
                }
                None => Ok(()),
            }
        }
        8 => room
            .log_contribution(
                me,
                NewContribution {
                    value_type: "work".into(),
                    quantity: 1 + rng.below(120) as i64,
                    description: "sim".into(),
                    date: now,
                    beneficiary: Some(other.clone()),
                    reverses: None,
                },
                now,
            )
            .map(drop),
        9 => {
            let ids: Vec<(String, Option<String>)> = room
                .contributions(now)
                .into_iter()
                .map(|c| (c.id, c.beneficiary))
                .collect();
            match rng.pick(&ids) {
                Some((id, Some(b))) if *b == me.public() => room.countersign(me, id, now),
                Some((id, _)) => room.validate_contribution(me, id, now),
                None => Ok(()),
            }
        }
        10 => {
            let tasks: Vec<String> = room.tasks().into_iter().map(|t| t.id).collect();
            match rng.pick(&tasks) {
                Some(t) if rng.below(2) == 0 => room.claim_task(me, t, now),
                Some(t) => room.finish_task(me, t, 30, now).map(drop),
                None => room.add_task(me, "Sweep", 2, now).map(drop),
            }
        }
        11 => {
            let res: Vec<String> = room.resources().into_iter().map(|r| r.id).collect();
            match rng.pick(&res) {
                Some(r) => room
                    .book(me, r, now, now.saturating_add(1 + rng.below(30) as i64))
                    .map(drop),
                None => room
                    .add_resource(
                        me,
                        NewResource {
                            kind: "physical".into(),
                            name: "Drill".into(),
                            rules: String::new(),
                            condition: String::new(),
                            location: String::new(),
                            licence: "CC0".into(),
                        },
                        now,
                    )
                    .map(drop),
            }
        }
        12 => {
            let pages: Vec<PageView> = room.pages();
            match rng.pick(&pages) {
                Some(p) => {
                    let mut body = p.body.clone();
                    body.insert_str(
                        rng.below(body.len() + 1).min(body.len()),
                        &format!("[{now}]"),
                    );
                    // Keep to char boundaries: bodies here are ASCII.
                    let heads = room.heads();
                    room.edit_page(me, &p.id, &heads, &body, now)
                }
                None => room.create_page(me, "Notes", "start", now).map(drop),
            }
        }
        13 => {
            let circles = room.circles();
            match rng.pick(&circles) {
                Some(c) if rng.below(4) != 0 => {
                    room.pay_into_circle(me, &c.id, rng.below(c.rounds.len()), now)
                }
                _ => {
                    let members: Vec<String> = room.admitted().into_iter().collect();
                    room.open_circle(
                        me,
                        NewCircle {
                            name: format!("Circle {now}"),
                            unit: "EUR".into(),
                            amount: 100,
                            period_days: 7,
                            starts_at: now,
                            members,
                        },
                        now,
                    )
                    .map(drop)
                }
            }
        }
        _ => room
            .add_post(
                me,
                NewPost {
                    kind: PostKind::Offer,
                    title: format!("Offer {now}"),
                    description: String::new(),
                    category: "Goods".into(),
                },
                now,
            )
            .map(drop),
    };
}

fn assert_same_commons(first: &RoomDoc, r: &RoomDoc, end: i64, at: &str) {
    assert_same_views(first, r, end, at, true);
}

/// [`assert_same_commons`]; page bodies are compared only if `page_bodies`.
fn assert_same_views(first: &RoomDoc, r: &RoomDoc, end: i64, at: &str, page_bodies: bool) {
    assert_eq!(r.members(), first.members(), "{at}: members differ");
    assert_eq!(r.charter(end), first.charter(end), "{at}: charters differ");
    assert_eq!(
        r.charter_history(end),
        first.charter_history(end),
        "{at}: charter histories differ"
    );
    assert_eq!(r.pots(end), first.pots(end), "{at}: pots differ");
    assert_eq!(
        r.pot_balances(end),
        first.pot_balances(end),
        "{at}: balances differ"
    );
    assert_eq!(
        r.decisions(end),
        first.decisions(end),
        "{at}: decisions differ"
    );
    assert_eq!(
        r.contributions(end),
        first.contributions(end),
        "{at}: contributions differ"
    );
    assert_eq!(r.resources(), first.resources(), "{at}: resources differ");
    assert_eq!(r.tasks(), first.tasks(), "{at}: tasks differ");
    assert_eq!(r.circles(), first.circles(), "{at}: lending circles differ");
    let pages = |room: &RoomDoc| {
        let mut pages = room.pages();
        if !page_bodies {
            pages.iter_mut().for_each(|p| p.body.clear());
        }
        pages
    };
    assert_eq!(pages(r), pages(first), "{at}: pages differ");
    assert_eq!(
        r.activity(end),
        first.activity(end),
        "{at}: activity differs"
    );
}

/// Runs one schedule; returns how many decisions enacted a change, how many lending-circle
/// payments counted, and how many pot entries counted (money in once confirmed by another
/// member, money out once approved and paid).
fn run(seed: u64) -> (usize, usize, usize) {
    let mut rng = Rng(seed);
    let n = 3 + rng.below(3);
    let people: Vec<Identity> = (0..n).map(|_| Identity::generate()).collect();
    let mut rooms: Vec<RoomDoc> =
        vec![RoomDoc::create("sim-room", "Simulated commons", 0).unwrap()];
    rooms[0]
        .found(
            &people[0],
            Profile {
                name: "P0".into(),
                ..Profile::default()
            },
            1,
        )
        .unwrap();
    rooms.extend((1..n).map(|_| RoomDoc::empty("sim-room")));
    for i in 1..n {
        let (a, b) = pair(&mut rooms, 0, i);
        sync(a, b);
        rooms[i]
            .set_profile(
                &people[i],
                Profile {
                    name: format!("P{i}"),
                    ..Profile::default()
                },
                2,
            )
            .unwrap();
    }
    let mut cut: BTreeSet<(usize, usize)> = BTreeSet::new();
    for step in 0..300i64 {
        let now = 10 + step * STEP;
        match rng.below(10) {
            0 => {
                let (i, j) = (rng.below(n), rng.below(n));
                if i != j {
                    let p = (i.min(j), i.max(j));
                    if !cut.remove(&p) {
                        cut.insert(p);
                    }
                }
            }
            1 | 2 => {
                let (i, j) = (rng.below(n), rng.below(n));
                let p = (i.min(j), i.max(j));
                if i != j && !cut.contains(&p) {
                    let (a, b) = pair(&mut rooms, p.0, p.1);
                    sync(a, b);
                }
            }
            _ => {
                let who = rng.below(n);
                act(&mut rng, &mut rooms[who], &people[who], &people, now);
            }
        }
    }
    // Heal: everyone syncs with everyone, twice around.
    for _ in 0..2 {
        for i in 0..n {
            for j in i + 1..n {
                let (a, b) = pair(&mut rooms, i, j);
                sync(a, b);
            }
        }
    }
    let end = 400 * STEP;
    // Every device indexes its entries incrementally as changes arrive; a copy loaded from the
    // saved document indexes from scratch, and must derive exactly the same commons.
    let saved = rooms[0].doc_mut().save();
    let reloaded = RoomDoc::load_chunks(rooms[0].room_id(), [saved.as_slice()]).unwrap();
    let first = &rooms[0];
    for (k, r) in rooms.iter().chain([&reloaded]).enumerate().skip(1) {
        assert_same_commons(first, r, end, &format!("seed {seed}, device {k}"));
    }
    invariants(first, end, &format!("seed {seed}"))
}

/// The invariants every device's commons keeps: pot balances are the sum of their counted
/// lines and never negative, nobody is counted twice, confirmed contributions carry both
/// signatures, lending-circle rounds hold every member once, removed members are not admitted,
/// and enactments match their effects. Returns how many decisions enacted a change, how many
/// lending-circle payments counted and how many pot entries counted.
fn invariants(first: &RoomDoc, end: i64, at: &str) -> (usize, usize, usize) {
    let admitted = first.admitted().len();
    for pot in first.pots(end) {
        for l in pot.lines.iter().filter(|l| l.state == EntryState::Counted) {
            // Nothing moves money on its author's word alone.
            if l.kind.needs_confirmation() {
                assert!(
                    first
                        .confirmers(&pot.id, &l.id)
                        .iter()
                        .any(|c| *c != l.author),
                    "{at}: money in counted without another member's confirmation"
                );
            }
        }
        let mut sum: i64 = 0;
        for l in pot.lines.iter().filter(|l| l.state == EntryState::Counted) {
            sum += match l.kind {
                EntryKind::Inflow => l.amount,
                EntryKind::Payout | EntryKind::Expense | EntryKind::Dividend => -l.amount,
                EntryKind::Reversal => 0,
            };
        }
        assert_eq!(
            pot.balance, sum,
            "{at}: balance is not the sum of its entries"
        );
        assert!(pot.balance >= 0, "{at}: overdrawn pot");
    }
    // A decision whose outcome was recorded keeps the tally of the members admitted then.
    let ever = first.members().len();
    for d in first.decisions(end) {
        let members = if d.statement.is_some() {
            ever
        } else {
            admitted
        };
        assert!(
            d.participants <= members,
            "{at}: more participants than members"
        );
        if d.method == Method::Consent || d.method == Method::Majority {
            assert_eq!(
                d.totals.iter().sum::<u64>(),
                d.participants as u64,
                "{at}: a member counted twice"
            );
        }
    }
    for c in first.contributions(end).into_iter().filter(|c| c.confirmed) {
        assert!(
            c.beneficiary.is_some() && first.members().iter().any(|m| m.key == c.contributor),
            "{at}: confirmed without both signatures"
        );
    }
    for c in first.circles() {
        for r in &c.rounds {
            let mut everyone: Vec<&String> =
                r.paid.iter().chain(&r.owing).chain([&r.receiver]).collect();
            everyone.sort();
            let before = everyone.len();
            everyone.dedup();
            assert_eq!(before, everyone.len(), "{at}: someone paid twice");
            assert_eq!(
                everyone.len(),
                c.members.len(),
                "{at}: a round lost a member"
            );
        }
    }
    let members = first.members();
    for m in members.iter().filter(|m| m.standing == Standing::Removed) {
        assert!(
            !first.admitted().contains(&m.key),
            "{at}: a removed member is admitted"
        );
    }
    let enacted = first
        .decisions(end)
        .into_iter()
        .filter(|d| d.enacted)
        .count();
    assert_eq!(
        first.charter_history(end).len()
            + members
                .iter()
                .filter(|m| m.standing == Standing::Removed)
                .count(),
        first
            .decisions(end)
            .iter()
            .filter(|d| d.enacted && d.amendment.as_ref().is_some_and(|a| a.key != "expense"))
            .count(),
        "{at}: enactments and their effects disagree"
    );
    let payments = first
        .circles()
        .iter()
        .flat_map(|c| &c.rounds)
        .map(|r| r.paid.len())
        .sum();
    let counted = first
        .pots(end)
        .iter()
        .flat_map(|p| &p.lines)
        .filter(|l| l.state == EntryState::Counted)
        .count();
    (enacted, payments, counted)
}

#[test]
fn every_device_derives_the_same_commons_after_partitions_heal() {
    let runs: u64 = std::env::var("COMMONS_SCHEDULES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(40);
    let base: u64 = std::env::var("COMMONS_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0xC0_0105);
    let (enacted, payments, counted) = (base..base + runs)
        .map(run)
        .fold((0, 0, 0), |a, b| (a.0 + b.0, a.1 + b.1, a.2 + b.2));
    // The schedules must reach the paths they are meant to test.
    assert!(enacted > 0, "no schedule enacted a decision");
    assert!(payments > 0, "no schedule paid into a lending circle");
    assert!(counted > 0, "no schedule counted a pot entry");
    eprintln!(
        "{runs} schedules, {enacted} decisions enacted, {payments} circle payments, \
         {counted} pot entries counted"
    );
}

// ---------------------------------------------------------------------------------------------
// A hostile device. Anyone holding the room link can run a modified client and write any
// automerge change. Mallory holds the room and, while partitioned, writes straight into her copy
// of the document (through `doc_mut`, the way such a client could) and runs honest commands with
// claimed times no honest clock would give; her changes reach the honest devices when they sync.

/// An entry map's scalar fields, as read from the document.
type Fields = Vec<(String, ScalarValue)>;

/// The name the honest founder gave the room.
const ROOM_NAME: &str = "Simulated commons";

/// The root keys of the document as it stands.
fn root_keys(room: &RoomDoc) -> Vec<String> {
    room.doc().keys(ROOT).collect()
}

/// Root keys of entries (`kind:id`, `founder`) whose current value is a map.
fn entry_maps(room: &RoomDoc) -> Vec<String> {
    let doc = room.doc();
    root_keys(room)
        .into_iter()
        .filter(|k| k.contains(':') || k == "founder")
        .filter(|k| {
            matches!(
                doc.get(ROOT, k.as_str()),
                Ok(Some((Value::Object(ObjType::Map), _)))
            )
        })
        .collect()
}

/// The scalar fields of the map at root `key` (the current winner, as a reader of the document
/// sees it), if it is a map.
fn fields(room: &RoomDoc, key: &str) -> Option<Fields> {
    let doc = room.doc();
    let Some((Value::Object(ObjType::Map), obj)) = doc.get(ROOT, key).ok().flatten() else {
        return None;
    };
    let names: Vec<String> = doc.keys(&obj).collect();
    Some(
        names
            .into_iter()
            .filter_map(|name| match doc.get(&obj, name.as_str()).ok()??.0 {
                Value::Scalar(s) => Some((name, s.into_owned())),
                _ => None,
            })
            .collect(),
    )
}

/// Writes one change straight into the document, as a modified client would.
fn raw(
    room: &mut RoomDoc,
    write: impl FnOnce(&mut AutoCommit) -> Result<(), automerge::AutomergeError>,
) {
    let mut doc = room.doc_mut();
    write(&mut doc).expect("a raw write");
    doc.commit();
}

/// Puts a map holding `fields` at root `key`.
fn put_map(room: &mut RoomDoc, key: &str, fields: &Fields) {
    raw(room, |doc| {
        let obj = doc.put_object(ROOT, key, ObjType::Map)?;
        for (name, value) in fields {
            doc.put(&obj, name.as_str(), value.clone())?;
        }
        Ok(())
    });
}

/// A value no honest client writes there.
fn junk(rng: &mut Rng, people: &[Identity]) -> ScalarValue {
    match rng.below(8) {
        0 => ScalarValue::Int(rng.next() as i64),
        1 => ScalarValue::Int(0),
        2 => ScalarValue::Str("forged".into()),
        3 => ScalarValue::Str(rng.pick(people).unwrap().public().into()),
        4 => ScalarValue::Timestamp(i64::MAX),
        5 => ScalarValue::Null,
        6 => ScalarValue::Boolean(true),
        _ => ScalarValue::Uint(u64::MAX),
    }
}

/// A claimed time no honest clock gives: long before the room, or far in its future.
fn absurd_time(rng: &mut Rng, now: i64) -> (&'static str, i64) {
    let backdated = [
        i64::MIN,
        i64::MIN / 2,
        -1,
        0,
        1,
        3,
        now - 1_000 * STEP,
        now / 2,
    ];
    let future = [now + 100_000 * STEP, i64::MAX / 2, i64::MAX - 1, i64::MAX];
    if rng.below(2) == 0 {
        ("backdated", backdated[rng.below(backdated.len())])
    } else {
        ("far-future", future[rng.below(future.len())])
    }
}

/// Root key prefixes of the entries the governance replay reads in claimed-time order.
const GOVERNANCE: [&str; 4] = ["vouch:", "leave:", "stance:", "outcome:"];

/// The attacks that must change no view: whatever they write, every honest device derives what
/// it would have derived without them.
const RAW_ATTACKS: [&str; 7] = [
    "delete", "wipe", "alter", "scalar", "rollback", "foreign", "splice",
];

struct Mallory {
    me: Identity,
    room: RoomDoc,
    /// Entry maps as Mallory saw them over time, to put back later (rollbacks).
    seen: Vec<(String, Fields)>,
    /// A history she builds from nothing, founded by herself, and merges in.
    rival: Option<RoomDoc>,
    /// How many attacks of each kind she made.
    made: BTreeMap<&'static str, usize>,
    /// Whether her misdated commands may write the governance entries known to rewrite decided
    /// outcomes (see [`Mode::MisdatedGovernance`]).
    misdates_governance: bool,
}

impl Mallory {
    fn new(room: RoomDoc, misdates_governance: bool) -> Self {
        Mallory {
            me: Identity::generate(),
            room,
            seen: Vec::new(),
            rival: None,
            made: BTreeMap::new(),
            misdates_governance,
        }
    }

    /// Remembers entry maps as they are now: every profile, and a few others.
    fn look(&mut self, rng: &mut Rng) {
        let keys = entry_maps(&self.room);
        let mut pick: Vec<&String> = keys.iter().filter(|k| k.starts_with("member:")).collect();
        for _ in 0..3 {
            pick.extend(rng.pick(&keys));
        }
        for key in pick {
            if let Some(f) = fields(&self.room, key) {
                if !self.seen.iter().any(|(k, s)| k == key && *s == f) && self.seen.len() < 400 {
                    self.seen.push((key.clone(), f));
                }
            }
        }
    }

    /// One attack, chosen at random (only those in [`RAW_ATTACKS`] if `raw_only`); `everyone`
    /// are the identities her commands may name.
    fn attack(
        &mut self,
        rng: &mut Rng,
        everyone: &[Identity],
        real_founder: &str,
        now: i64,
        raw_only: bool,
    ) {
        let kinds: &[&'static str] = if raw_only {
            &RAW_ATTACKS
        } else {
            &[
                "delete", "wipe", "alter", "scalar", "rollback", "foreign", "rival", "absurd",
                "absurd", "absurd", "member", "member", "member",
            ]
        };
        let mut kind = kinds[rng.below(kinds.len())];
        // A wipe now and then; the room would be all tampering otherwise.
        if kind == "wipe" && rng.below(4) != 0 {
            kind = "delete";
        }
        let keys = root_keys(&self.room);
        let entries = entry_maps(&self.room);
        let done = match kind {
            "delete" => match rng.pick(&keys) {
                // Now and then one of the room's own keys.
                Some(_) if rng.below(6) == 0 => {
                    let key = ["founder", "posts", "name", "schema", "created_at"][rng.below(5)];
                    let present = keys.iter().any(|k| k == key);
                    if present {
                        raw(&mut self.room, |doc| doc.delete(ROOT, key));
                    }
                    present
                }
                Some(key) => {
                    raw(&mut self.room, |doc| doc.delete(ROOT, key.as_str()));
                    true
                }
                None => false,
            },
            "wipe" => {
                raw(&mut self.room, |doc| {
                    for key in &keys {
                        doc.delete(ROOT, key.as_str())?;
                    }
                    Ok(())
                });
                !keys.is_empty()
            }
            "alter" => match rng.pick(&entries) {
                Some(key) => {
                    let current = fields(&self.room, key).unwrap_or_default();
                    let field = match rng.pick(&current) {
                        Some((name, _)) if rng.below(4) != 0 => name.clone(),
                        _ => ["amount", "at", "author", "sig", "target", "kind"][rng.below(6)]
                            .to_owned(),
                    };
                    let value = junk(rng, everyone);
                    let delete = rng.below(5) == 0;
                    let obj = match self.room.doc().get(ROOT, key.as_str()) {
                        Ok(Some((Value::Object(ObjType::Map), obj))) => obj,
                        _ => unreachable!("an entry map"),
                    };
                    raw(&mut self.room, |doc| {
                        if delete {
                            doc.delete(&obj, field.as_str())
                        } else {
                            doc.put(&obj, field.as_str(), value)
                        }
                    });
                    true
                }
                None => false,
            },
            "splice" => {
                // Text spliced into a page's body, as any link holder can.
                let bodies: Vec<automerge::ObjId> = self
                    .room
                    .doc()
                    .keys(ROOT)
                    .filter(|k| k.starts_with("pagebody:"))
                    .filter_map(|k| match self.room.doc().get(ROOT, k.as_str()) {
                        Ok(Some((Value::Object(ObjType::Text), obj))) => Some(obj),
                        _ => None,
                    })
                    .collect();
                match rng.pick(&bodies).cloned() {
                    Some(obj) => {
                        let len = self.room.doc().length(&obj);
                        let at = rng.below(len + 1);
                        let del = rng.below(len - at + 1).min(5) as isize;
                        raw(&mut self.room, |doc| {
                            doc.splice_text(&obj, at, del, "Mallory was here")
                        });
                        true
                    }
                    None => false,
                }
            }
            "scalar" => {
                let targets: Vec<String> = entries
                    .iter()
                    .cloned()
                    .chain(["name", "posts", "founder"].map(str::to_owned))
                    .collect();
                let key = rng.pick(&targets).unwrap().clone();
                let value = match key.as_str() {
                    "name" if rng.below(2) == 0 => ScalarValue::Str("Mallory's room".into()),
                    _ => junk(rng, everyone),
                };
                if key == "posts" && rng.below(2) == 0 {
                    // Another posts map, holding a post of hers.
                    raw(&mut self.room, |doc| {
                        let posts = doc.put_object(ROOT, "posts", ObjType::Map)?;
                        let post = doc.put_object(&posts, "fake", ObjType::Map)?;
                        doc.put(&post, "kind", "offer")?;
                        doc.put(&post, "title", "Free money")
                    });
                } else {
                    raw(&mut self.room, |doc| doc.put(ROOT, key.as_str(), value));
                }
                true
            }
            "rollback" => {
                // Prefer a version that is no longer the current one: a real rollback.
                let stale: Vec<(String, Fields)> = self
                    .seen
                    .iter()
                    .filter(|(k, f)| fields(&self.room, k).as_ref() != Some(f))
                    .cloned()
                    .collect();
                let pool = if stale.is_empty() { &self.seen } else { &stale };
                match rng.pick(pool).cloned() {
                    Some((key, f)) => {
                        put_map(&mut self.room, &key, &f);
                        true
                    }
                    None => false,
                }
            }
            "foreign" => self.foreign(rng, everyone, &entries, now),
            "rival" => {
                self.rival(rng, everyone, real_founder, now);
                true
            }
            "absurd" => {
                let (label, at) = absurd_time(rng, now);
                kind = label;
                // Run on a copy of her document first, to see what it writes.
                let saved = self.room.doc_mut().save_nocompress();
                let mut copy = RoomDoc::load_chunks("sim-room", [saved.as_slice()]).unwrap();
                let (heads, keys) = (copy.heads(), root_keys(&copy));
                match rng.below(30) {
                    0 => {
                        let _ = copy.leave(&self.me, at);
                    }
                    1 | 2 => {
                        let profile = Profile {
                            name: format!("Mallory {at}"),
                            ..Profile::default()
                        };
                        let _ = copy.set_profile(&self.me, profile, at);
                    }
                    _ => act(rng, &mut copy, &self.me, everyone, at),
                }
                // Misdated governance entries are known to rewrite decided outcomes (see
                // `Mode::MisdatedGovernance`): withheld unless that is what is tested.
                let written: Vec<String> = root_keys(&copy)
                    .into_iter()
                    .filter(|k| !keys.contains(k))
                    .collect();
                let rewrites = |k: &String| match label {
                    "backdated" => GOVERNANCE.iter().any(|g| k.starts_with(g)),
                    _ => k.starts_with("outcome:"),
                };
                if written.iter().any(rewrites) && !self.misdates_governance {
                    kind = "misdated governance, withheld";
                    true
                } else {
                    let changes = copy.doc_mut().get_changes(&heads);
                    // Counted only if her client wrote something (refusals write nothing).
                    let wrote = !changes.is_empty();
                    self.room.doc_mut().apply_changes(changes).unwrap();
                    wrote
                }
            }
            _ => {
                let before = self.room.heads();
                act(rng, &mut self.room, &self.me, everyone, now);
                self.room.heads() != before
            }
        };
        if done {
            *self.made.entry(kind).or_default() += 1;
        }
    }

    /// An entry signed by Mallory's own key, written by an honest command on a copy of her
    /// document, put at the key of someone else's entry.
    fn foreign(
        &mut self,
        rng: &mut Rng,
        everyone: &[Identity],
        entries: &[String],
        now: i64,
    ) -> bool {
        let mut others: Vec<&String> = entries
            .iter()
            .filter(|k| **k != format!("member:{}", self.me.public()))
            .collect();
        if others.is_empty() {
            return false;
        }
        let saved = self.room.doc_mut().save_nocompress();
        let mut fork = RoomDoc::load_chunks(self.room.room_id(), [saved.as_slice()]).unwrap();
        let before: BTreeSet<String> = root_keys(&fork).into_iter().collect();
        let own = format!("member:{}", self.me.public());
        let written = if rng.below(3) == 0 {
            act(rng, &mut fork, &self.me, everyone, now);
            root_keys(&fork)
                .into_iter()
                .filter(|k| !before.contains(k) && fields(&fork, k).is_some())
                .collect::<Vec<_>>()
        } else {
            let profile = Profile {
                name: format!("Mallory {now}"),
                ..Profile::default()
            };
            fork.set_profile(&self.me, profile, now).unwrap();
            vec![own]
        };
        let Some(Some(signed)) = rng.pick(&written).map(|k| fields(&fork, k)) else {
            return false;
        };
        // Mostly someone's profile: the one key anyone can predict.
        let profiles: Vec<&String> = others
            .iter()
            .copied()
            .filter(|k| k.starts_with("member:"))
            .collect();
        if !profiles.is_empty() && rng.below(2) == 0 {
            others = profiles;
        }
        let victim = (*rng.pick(&others).unwrap()).clone();
        put_map(&mut self.room, &victim, &signed);
        true
    }

    /// Builds (or extends) a history of her own from an empty room with the same id, founded by
    /// herself, and merges it into her copy.
    fn rival(&mut self, rng: &mut Rng, everyone: &[Identity], real_founder: &str, now: i64) {
        let me = &self.me;
        let rival = self.rival.get_or_insert_with(|| {
            // A name that sorts before the real one, written as early as the real one.
            let mut rival = RoomDoc::create("sim-room", "A rival commons", 0).unwrap();
            let profile = Profile {
                name: "Founder".into(),
                ..Profile::default()
            };
            let starter = [
                Amendment::new("admission", "1"),
                Amendment::new("quorum_percent", "0"),
                Amendment::new("min_open_hours", "1"),
            ];
            rival.found_with_charter(me, profile, &starter, 1).unwrap();
            rival
        });
        // In her own history she is the only member, and decides alone.
        for _ in 0..3 {
            match rng.below(4) {
                0 => {
                    let removal = NewProposal {
                        title: "Remove the founder".into(),
                        method: Method::Consent,
                        options: vec![],
                        closes_at: 5,
                        quorum_percent: 0,
                        amendment: Some(Amendment::new("remove", real_founder)),
                    };
                    if let Ok(d) = rival.propose(me, removal, 3) {
                        let _ = rival.take_stance(me, &d, Stance::Agree, "", 4);
                        let _ = rival.record_outcome(me, &d, "Removed", None, 6);
                    }
                }
                _ => {
                    // Dated as the room's own entries, or (misdating governance) up to 300
                    // steps back: stances then land in the windows of decisions already
                    // decided in the room (see `Mode::MisdatedGovernance`).
                    let back = if self.misdates_governance {
                        rng.below(300) as i64
                    } else {
                        0
                    };
                    act(rng, rival, me, everyone, now - back * STEP)
                }
            }
        }
        let mut theirs = rival.doc_mut();
        let mut mine = self.room.doc_mut();
        mine.merge(&mut theirs).unwrap();
    }
}

/// What honest devices saw settled when every device, Mallory's included, had synced:
/// decisions whose outcome was recorded, enacted charter changes, removed members, posts on the
/// board. None of it may change afterwards, whatever arrives later.
#[derive(Default)]
struct Settled {
    /// Decision id → (outcome, whether it enacted its change, the outcome statement).
    decisions: BTreeMap<String, (Outcome, bool, Option<Statement>)>,
    history: Vec<(String, i64, Amendment)>,
    removed: BTreeSet<String>,
    posts: BTreeSet<String>,
}

impl Settled {
    /// Checks that what was settled still holds on `room`, then records what is settled now.
    fn observe(&mut self, room: &RoomDoc, now: i64, at: &str) {
        self.check(room, now, at);
        for d in room.decisions(now) {
            if d.statement.is_some() {
                self.decisions
                    .entry(d.id.clone())
                    .or_insert((d.outcome, d.enacted, d.statement));
            }
        }
        for h in room.charter_history(now) {
            if !self.history.contains(&h) {
                self.history.push(h);
            }
        }
        for m in room.members() {
            if m.standing == Standing::Removed {
                self.removed.insert(m.key);
            }
        }
        self.posts.extend(room.posts().into_iter().map(|p| p.id));
    }

    fn check(&self, room: &RoomDoc, now: i64, at: &str) {
        for (id, (outcome, enacted, statement)) in &self.decisions {
            let d = room.decision(id, now);
            let d = d.unwrap_or_else(|| panic!("{at}: decision {id}, decided, is gone"));
            assert_eq!(
                (&d.outcome, d.enacted, &d.statement),
                (outcome, *enacted, statement),
                "{at}: the recorded outcome of decision {id} changed"
            );
        }
        let history = room.charter_history(now);
        for h in &self.history {
            assert!(history.contains(h), "{at}: enacted change {h:?} undone");
        }
        let members = room.members();
        for key in &self.removed {
            assert!(
                members
                    .iter()
                    .any(|m| m.key == *key && m.standing == Standing::Removed),
                "{at}: removed member {key} is back"
            );
        }
        let posts: BTreeSet<String> = room.posts().into_iter().map(|p| p.id).collect();
        assert!(self.posts.is_subset(&posts), "{at}: posts left the board");
    }
}

/// Every view honest devices compare, plus the room's own name, founder and board.
fn assert_same_room(first: &RoomDoc, r: &RoomDoc, end: i64, at: &str) {
    assert_same_room_views(first, r, end, at, true);
}

fn assert_same_room_views(first: &RoomDoc, r: &RoomDoc, end: i64, at: &str, page_bodies: bool) {
    assert_same_views(first, r, end, at, page_bodies);
    assert_eq!(r.name(), first.name(), "{at}: room names differ");
    assert_eq!(r.founder(), first.founder(), "{at}: founders differ");
    assert_eq!(r.posts(), first.posts(), "{at}: boards differ");
}

/// Honest devices of a run with Mallory: every device's copy (`rooms`), and in a twin run the
/// same devices in a world Mallory never reaches (`shadow`), where their commands are run and
/// from which their changes are copied into `rooms`.
struct World {
    rooms: Vec<RoomDoc>,
    shadow: Option<Vec<RoomDoc>>,
}

impl World {
    /// The copy honest commands run on.
    fn acting(&mut self, who: usize) -> &mut RoomDoc {
        match &mut self.shadow {
            Some(shadow) => &mut shadow[who],
            None => &mut self.rooms[who],
        }
    }

    /// Copies what a command wrote in the shadow into the device Mallory reaches.
    fn settle_command(&mut self, who: usize, before: &[automerge::ChangeHash]) {
        if let Some(shadow) = &mut self.shadow {
            let changes = shadow[who].doc_mut().get_changes(before);
            self.rooms[who].doc_mut().apply_changes(changes).unwrap();
        }
    }

    fn sync_honest(&mut self, i: usize, j: usize) {
        let (a, b) = pair(&mut self.rooms, i, j);
        sync(a, b);
        if let Some(shadow) = &mut self.shadow {
            let (a, b) = pair(shadow, i, j);
            sync(a, b);
        }
    }

    /// Device `i` syncs with Mallory; in a twin run, honest changes she relayed reach its
    /// shadow too (hers never do).
    fn sync_mallory(&mut self, i: usize, mallory: &mut Mallory) {
        let before = self.rooms[i].heads();
        sync(&mut self.rooms[i], &mut mallory.room);
        if let Some(shadow) = &mut self.shadow {
            let hers = mallory.room.doc().get_actor().clone();
            let changes: Vec<automerge::Change> = self.rooms[i]
                .doc_mut()
                .get_changes(&before)
                .into_iter()
                .filter(|c| *c.actor_id() != hers)
                .collect();
            shadow[i].doc_mut().apply_changes(changes).unwrap();
        }
    }
}

#[derive(Default)]
struct HostileStats {
    enacted: usize,
    /// Decided decisions whose outcome was checked to stay as it was.
    settled: usize,
    made: BTreeMap<&'static str, usize>,
    tampered: usize,
    /// How Mallory stood at the end of each schedule.
    standing: BTreeMap<&'static str, usize>,
}

/// Everyone, Mallory included, syncs with everyone, twice around.
fn heal(world: &mut World, mallory: &mut Mallory, n: usize) {
    for _ in 0..2 {
        for i in 0..n {
            for j in i + 1..n {
                world.sync_honest(i, j);
            }
            world.sync_mallory(i, mallory);
        }
    }
}

/// After a heal: honest devices agree with each other (tampering included), and in a twin run
/// each with its twin.
fn check_heal(world: &World, now: i64, at: &str) {
    let first = &world.rooms[0];
    for (k, r) in world.rooms.iter().enumerate().skip(1) {
        let label = format!("{at}, device {k}");
        assert_same_room(first, r, now, &label);
        assert_eq!(
            r.tampering(),
            first.tampering(),
            "{label}: tampering differs"
        );
    }
    for (k, (r, twin)) in world
        .rooms
        .iter()
        .zip(world.shadow.iter().flatten())
        .enumerate()
    {
        let label = format!("{at}, device {k} and its twin");
        assert_same_room(twin, r, now, &label);
        assert!(
            twin.tampering().is_empty(),
            "{label}: honest tampering? {:?}",
            twin.tampering()
        );
    }
}

/// A member moving decisions and admissions along: records the outcome of a closed decision,
/// answers an open one, or vouches for a newcomer.
fn govern(rng: &mut Rng, room: &mut RoomDoc, me: &Identity, now: i64) {
    let decisions = room.decisions(now);
    let unrecorded: Vec<&DecisionView> = decisions
        .iter()
        .filter(|d| d.outcome != Outcome::Open && d.statement.is_none())
        .collect();
    if let Some(d) = rng.pick(&unrecorded) {
        let _ = room.record_outcome(me, &d.id, "decided", None, now);
        return;
    }
    let unanswered: Vec<&DecisionView> = decisions
        .iter()
        .filter(|d| d.outcome == Outcome::Open && !room.has_stance(&d.id, &me.public()))
        .collect();
    if let Some(d) = rng.pick(&unanswered) {
        let stance = match d.method {
            Method::Consent => {
                [Stance::Agree, Stance::Agree, Stance::Agree, Stance::Block][rng.below(4)].clone()
            }
            Method::Ranked => Stance::Ranking(vec![rng.below(3)]),
            _ => Stance::Choose(rng.below(3)),
        };
        let _ = room.take_stance(me, &d.id, stance, "", now);
        return;
    }
    let pending: Vec<String> = room
        .members()
        .into_iter()
        .filter(|m| matches!(m.standing, Standing::Pending { .. }))
        .map(|m| m.key)
        .collect();
    if let Some(p) = rng.pick(&pending) {
        let _ = room.vouch(me, p, now);
    }
}

/// What Mallory may do in a schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Only [`RAW_ATTACKS`], holding no membership: every honest view must be what the same
    /// devices derive without her changes (a twin world the honest devices also run in).
    Twin,
    /// Every attack, as a member the honest devices may admit, except the misdated governance
    /// entries of [`Mode::MisdatedGovernance`].
    Hostile,
    /// [`Mode::Hostile`], and her backdated commands may vouch, leave, take stances and record
    /// outcomes, and her far-future ones record outcomes. (These rewrote decided outcomes
    /// while the replay ordered entries by the time they claim; it now follows the change
    /// graph, a recorded outcome counts only what was written before it, and one dated far
    /// past everything its writer had seen closes nothing.)
    MisdatedGovernance,
}

/// One schedule with Mallory.
fn run_hostile(seed: u64, mode: Mode) -> HostileStats {
    let twin = mode == Mode::Twin;
    let at = |what: &str| format!("seed {seed} ({mode:?}): {what}");
    let mut rng = Rng(seed);
    let n = 3 + rng.below(3);
    let people: Vec<Identity> = (0..n).map(|_| Identity::generate()).collect();
    let real_founder = people[0].public();
    let mut founding = RoomDoc::create("sim-room", ROOM_NAME, 0).unwrap();
    founding
        .found(
            &people[0],
            Profile {
                name: "P0".into(),
                ..Profile::default()
            },
            1,
        )
        .unwrap();
    let mut rooms = vec![founding];
    rooms.extend((1..n).map(|_| RoomDoc::empty("sim-room")));
    for r in &mut rooms {
        r.pin_founder(Some(real_founder.clone()));
    }
    for i in 1..n {
        let (a, b) = pair(&mut rooms, 0, i);
        sync(a, b);
        rooms[i]
            .set_profile(
                &people[i],
                Profile {
                    name: format!("P{i}"),
                    ..Profile::default()
                },
                2,
            )
            .unwrap();
    }
    let mut mallory = Mallory::new(RoomDoc::empty("sim-room"), mode == Mode::MisdatedGovernance);
    sync(&mut rooms[0], &mut mallory.room);
    // Everyone honest commands may name: in a twin run the honest devices never hear of her.
    let mut everyone: Vec<Identity> = people.clone();
    if !twin {
        let profile = Profile {
            name: "Mallory".into(),
            ..Profile::default()
        };
        mallory.room.set_profile(&mallory.me, profile, 2).unwrap();
        everyone.push(mallory.me.clone());
    }
    let mut world = World {
        shadow: twin.then(|| {
            rooms
                .iter_mut()
                .map(|r| {
                    let saved = r.doc_mut().save();
                    let mut copy = RoomDoc::load_chunks("sim-room", [saved.as_slice()]).unwrap();
                    copy.pin_founder(Some(real_founder.clone()));
                    copy
                })
                .collect()
        }),
        rooms,
    };
    let mut settled = Settled::default();
    // Device n is Mallory's.
    let mut cut: BTreeSet<(usize, usize)> = BTreeSet::new();
    for step in 0..300i64 {
        let now = 10 + step * STEP;
        if step > 0 && step % 75 == 0 {
            // Everyone meets, Mallory included: the honest devices agree, and what they see
            // decided now stays decided, whatever Mallory writes later.
            heal(&mut world, &mut mallory, n);
            check_heal(&world, now, &at(&format!("step {step}")));
            // In a twin run, the world Mallory never reaches.
            let honest = world.shadow.as_ref().map_or(&world.rooms[0], |s| &s[0]);
            settled.observe(honest, now, &at(&format!("step {step}")));
        }
        match rng.below(20) {
            0 | 1 => {
                let (i, j) = (rng.below(n + 1), rng.below(n + 1));
                if i != j {
                    let p = (i.min(j), i.max(j));
                    if !cut.remove(&p) {
                        cut.insert(p);
                    }
                }
            }
            2..=5 => {
                let (i, j) = (rng.below(n + 1), rng.below(n + 1));
                let p = (i.min(j), i.max(j));
                if i != j && !cut.contains(&p) {
                    if p.1 == n {
                        mallory.look(&mut rng);
                        world.sync_mallory(p.0, &mut mallory);
                        mallory.look(&mut rng);
                        if let Some(shadow) = &world.shadow {
                            let label = at(&format!("step {step}, device {} and its twin", p.0));
                            assert_same_room(&shadow[p.0], &world.rooms[p.0], now, &label);
                        }
                    } else {
                        world.sync_honest(p.0, p.1);
                    }
                }
            }
            6..=9 => mallory.attack(&mut rng, &everyone, &real_founder, now, twin),
            10 | 11 => {
                // Governance moves along faster than with the commands of `act` alone.
                let who = rng.below(n);
                let before = world.acting(who).heads();
                govern(&mut rng, world.acting(who), &people[who], now);
                world.settle_command(who, &before);
            }
            12 => {
                // Profiles change, so that putting an older one back is a rollback.
                let who = rng.below(n);
                let before = world.acting(who).heads();
                let profile = Profile {
                    name: format!("P{who} at {step}"),
                    ..Profile::default()
                };
                let _ = world.acting(who).set_profile(&people[who], profile, now);
                world.settle_command(who, &before);
            }
            _ => {
                let who = rng.below(n);
                let before = world.acting(who).heads();
                act(&mut rng, world.acting(who), &people[who], &everyone, now);
                world.settle_command(who, &before);
            }
        }
    }
    heal(&mut world, &mut mallory, n);
    let end = 400 * STEP;
    check_heal(&world, end, &at("end"));
    // A copy loaded from the saved document (pinned to the founder the device knows, as the app
    // does) derives the same, tampering included.
    let saved = world.rooms[0].doc_mut().save();
    let mut reloaded = RoomDoc::load_chunks("sim-room", [saved.as_slice()]).unwrap();
    reloaded.pin_founder(Some(real_founder.clone()));
    let first = &world.rooms[0];
    assert_same_room(first, &reloaded, end, &at("reloaded"));
    assert_eq!(
        reloaded.tampering(),
        first.tampering(),
        "{}: tampering differs",
        at("reloaded")
    );
    for (k, r) in world.rooms.iter().enumerate() {
        let label = at(&format!("device {k}"));
        assert_eq!(r.founder(), Some(real_founder.clone()), "{label}: founder");
        assert_eq!(r.name().as_deref(), Some(ROOM_NAME), "{label}: room name");
        assert!(!r.tampering().is_empty(), "{label}: tampering not listed");
    }
    let (enacted, _, _) = invariants(first, end, &at("invariants"));
    settled.observe(first, end, &at("end"));
    let settled_decisions = settled.decisions.len();
    let standing = first
        .members()
        .into_iter()
        .find(|m| m.key == mallory.me.public())
        .map_or("unknown", |m| match m.standing {
            Standing::Admitted => "admitted",
            Standing::Pending { .. } => "pending",
            Standing::Left => "left",
            Standing::Removed => "removed",
        });
    HostileStats {
        enacted,
        settled: settled_decisions,
        made: mallory.made,
        standing: BTreeMap::from([(standing, 1)]),
        tampered: first.tampering().len(),
    }
}

fn hostile_schedules(default: u64) -> (u64, u64) {
    let runs: u64 = std::env::var("COMMONS_HOSTILE_SCHEDULES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default);
    let base: u64 = std::env::var("COMMONS_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0xC0_0105);
    (base, runs)
}

fn run_all_hostile(mode: Mode, default: u64) -> HostileStats {
    let (base, runs) = hostile_schedules(default);
    let mut total = HostileStats::default();
    for seed in base..base + runs {
        let s = run_hostile(seed, mode);
        total.enacted += s.enacted;
        total.settled += s.settled;
        total.tampered += s.tampered;
        for (k, v) in s.made {
            *total.made.entry(k).or_default() += v;
        }
        for (k, v) in s.standing {
            *total.standing.entry(k).or_default() += v;
        }
    }
    eprintln!(
        "{runs} {mode:?} schedules: {} decisions enacted, {} decided and checked, {} tampering \
         listed, Mallory {:?}, attacks {:?}",
        total.enacted, total.settled, total.tampered, total.standing, total.made
    );
    total
}

#[test]
fn a_hostile_device_s_raw_writes_change_no_honest_view() {
    let total = run_all_hostile(Mode::Twin, 8);
    for kind in RAW_ATTACKS {
        assert!(
            total.made.get(kind).is_some_and(|n| *n > 0),
            "no {kind} attack made"
        );
    }
}

#[test]
fn honest_devices_agree_and_keep_what_was_decided_whatever_a_hostile_device_writes() {
    let total = run_all_hostile(Mode::Hostile, 12);
    for kind in ["rival", "backdated", "far-future", "foreign", "rollback"] {
        assert!(
            total.made.get(kind).is_some_and(|n| *n > 0),
            "no {kind} attack made"
        );
    }
    assert!(total.enacted > 0, "no schedule enacted a decision");
}

/// See [`Mode::MisdatedGovernance`]: the replay follows the change graph, so misdated entries
/// rewrite nothing decided.
#[test]
fn decided_outcomes_stay_whatever_a_member_misdates() {
    run_all_hostile(Mode::MisdatedGovernance, 16);
}

// ---------------------------------------------------------------------------------------------
// The rewrites `Mode::MisdatedGovernance` found while the governance replay ordered vouches,
// departures, stances and outcomes by the time they claim (which a client chooses), one by one:
// each failed then and holds now that the replay follows the change graph.

/// A room with `n` admitted members (the first its founder), built by honest commands.
fn community(n: usize) -> (RoomDoc, Vec<Identity>) {
    let people: Vec<Identity> = (0..n).map(|_| Identity::generate()).collect();
    let mut room = RoomDoc::create("sim-room", ROOM_NAME, 0).unwrap();
    let profile = |i: usize| Profile {
        name: format!("P{i}"),
        ..Profile::default()
    };
    room.found(&people[0], profile(0), 1).unwrap();
    for (i, who) in people.iter().enumerate().skip(1) {
        room.set_profile(who, profile(i), 2).unwrap();
        for (t, voucher) in (3 + i as i64 * 10..).zip(&people[..i]) {
            if !room.admitted().contains(&who.public()) {
                room.vouch(voucher, &who.public(), t).unwrap();
            }
        }
    }
    assert_eq!(room.admitted().len(), n);
    (room, people)
}

/// Another device's copy of `room` as it stands.
fn copy_of(room: &mut RoomDoc) -> RoomDoc {
    let saved = room.doc_mut().save();
    RoomDoc::load_chunks(room.room_id(), [saved.as_slice()]).unwrap()
}

fn proposal(amendment: Amendment, at: i64) -> NewProposal {
    NewProposal {
        title: format!("{} {}", amendment.key, amendment.value),
        method: Method::Consent,
        options: vec![],
        closes_at: at + 49 * STEP,
        quorum_percent: 50,
        amendment: Some(amendment),
    }
}

#[test]
fn a_stance_written_after_the_outcome_was_recorded_changes_nothing() {
    let (mut room, people) = community(3);
    let t0 = 100 * STEP;
    let change = proposal(Amendment::new("purpose", "Gardens"), t0);
    let d = room.propose(&people[0], change, t0).unwrap();
    // A device holding the proposal (an offline member's, or a modified client's copy from
    // before the outcome: the document cannot tell them apart).
    let mut other = copy_of(&mut room);
    room.take_stance(&people[0], &d, Stance::Agree, "", t0 + 1)
        .unwrap();
    room.take_stance(&people[1], &d, Stance::Agree, "", t0 + 2)
        .unwrap();
    let t1 = t0 + 50 * STEP;
    room.record_outcome(&people[0], &d, "Gardens", None, t1)
        .unwrap();
    let decided = room.decision(&d, t1).unwrap();
    assert!(decided.enacted);
    // Days later, a block dated inside the decision's window arrives.
    other
        .take_stance(&people[2], &d, Stance::Block, "", t0 + 3)
        .unwrap();
    sync(&mut room, &mut other);
    assert_eq!(room.charter(t1 + 100 * STEP).purpose, "Gardens");
    assert_eq!(room.decision(&d, t1 + 100 * STEP), Some(decided));
}

#[test]
fn a_departure_dated_before_its_author_was_admitted_undoes_no_admission() {
    let (mut room, people) = community(2);
    let cy = Identity::generate();
    let profile = Profile {
        name: "Cy".into(),
        ..Profile::default()
    };
    room.set_profile(&cy, profile, 100).unwrap();
    room.vouch(&people[1], &cy.public(), 101).unwrap();
    assert!(room.admitted().contains(&cy.public()));
    // The member who vouched for Cy leaves, her clock saying 1970.
    room.leave(&people[1], 0).unwrap();
    assert!(
        room.admitted().contains(&cy.public()),
        "a departure dated before its author's admission undid the admissions she vouched for"
    );
}

#[test]
fn an_outcome_dated_in_the_far_future_removes_nobody_before_the_decision_closes() {
    let (mut room, people) = community(4);
    let t0 = 100 * STEP;
    let removal = proposal(Amendment::new("remove", &people[3].public()), t0);
    let d = room.propose(&people[0], removal, t0).unwrap();
    room.take_stance(&people[0], &d, Stance::Agree, "", t0 + 1)
        .unwrap();
    room.take_stance(&people[1], &d, Stance::Agree, "", t0 + 2)
        .unwrap();
    // A member whose clock says the year 30,000 records the outcome: the decision is closed
    // there, and passed with the stances taken so far.
    room.record_outcome(&people[1], &d, "Removed", None, 900_000_000_000_000)
        .unwrap();
    let standing = |room: &RoomDoc| {
        let members = room.members();
        members
            .into_iter()
            .find(|m| m.key == people[3].public())
            .unwrap()
            .standing
    };
    assert_eq!(
        standing(&room),
        Standing::Admitted,
        "removed while the decision is still open"
    );
}
