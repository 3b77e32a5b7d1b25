//! 3–5 simulated devices run random commands from every module of the commons while partitioned
//! and merged in random schedules. After healing, every device derives identical views, and the
//! invariants hold: pot balances equal the sum of their counted entries and never go negative,
//! no member is counted twice in a tally, confirmed contributions carry both signatures.
#![cfg(not(target_arch = "wasm32"))]

use automerge::sync::{State, SyncDoc};
use std::collections::BTreeSet;
use tequio::crypto::Identity;
use tequio::domain::*;

mod support;
use support::Rng;

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
            room.propose(
                me,
                NewProposal {
                    title: format!("Proposal {now}"),
                    method,
                    options: vec!["a".into(), "b".into(), "c".into()],
                    closes_at: now + 150,
                    quorum_percent: 30,
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
                    .book(me, r, now, now + 1 + rng.below(30) as i64)
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
    assert_eq!(r.pages(), first.pages(), "{at}: pages differ");
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
    for step in 0..150i64 {
        let now = 10 + step * 5;
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
    let end = 100_000;
    // Every device indexes its entries incrementally as changes arrive; a copy loaded from the
    // saved document indexes from scratch, and must derive exactly the same commons.
    let saved = rooms[0].doc_mut().save();
    let reloaded = RoomDoc::load_chunks(rooms[0].room_id(), [saved.as_slice()]).unwrap();
    let first = &rooms[0];
    for (k, r) in rooms.iter().chain([&reloaded]).enumerate().skip(1) {
        assert_same_commons(first, r, end, &format!("seed {seed}, device {k}"));
    }
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
                    "seed {seed}: money in counted without another member's confirmation"
                );
            }
        }
        let mut sum: i64 = 0;
        for l in pot.lines.iter().filter(|l| l.state == EntryState::Counted) {
            sum += match l.kind {
                EntryKind::Inflow => l.amount,
                EntryKind::Payout | EntryKind::Expense => -l.amount,
                EntryKind::Reversal => 0,
            };
        }
        assert_eq!(
            pot.balance, sum,
            "seed {seed}: balance is not the sum of its entries"
        );
        assert!(pot.balance >= 0, "seed {seed}: overdrawn pot");
    }
    for d in first.decisions(end) {
        assert!(
            d.participants <= admitted,
            "seed {seed}: more participants than members"
        );
        if d.method == Method::Consent || d.method == Method::Majority {
            assert_eq!(
                d.totals.iter().sum::<u64>(),
                d.participants as u64,
                "seed {seed}: a member counted twice"
            );
        }
    }
    for c in first.contributions(end).into_iter().filter(|c| c.confirmed) {
        assert!(
            c.beneficiary.is_some() && first.members().iter().any(|m| m.key == c.contributor),
            "seed {seed}: confirmed without both signatures"
        );
    }
    for c in first.circles() {
        for r in &c.rounds {
            let mut everyone: Vec<&String> =
                r.paid.iter().chain(&r.owing).chain([&r.receiver]).collect();
            everyone.sort();
            let before = everyone.len();
            everyone.dedup();
            assert_eq!(before, everyone.len(), "seed {seed}: someone paid twice");
            assert_eq!(
                everyone.len(),
                c.members.len(),
                "seed {seed}: a round lost a member"
            );
        }
    }
    let members = first.members();
    for m in members.iter().filter(|m| m.standing == Standing::Removed) {
        assert!(
            !first.admitted().contains(&m.key),
            "seed {seed}: a removed member is admitted"
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
        "seed {seed}: enactments and their effects disagree"
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
