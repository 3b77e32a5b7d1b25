//! Criterion benchmarks for the commons model (native): `cargo bench --bench commons`.
//! Targets (issue 3): balances over 100,000 ledger entries ≤ 50 ms; a tally with 1,000
//! members ≤ 5 ms. Figures are recorded in BENCHMARKS.md.

// Criterion is a native dev-dependency; on wasm32 this target builds to an empty program.
#[cfg(not(target_arch = "wasm32"))]
mod native {
    use criterion::{criterion_group, BatchSize, Criterion, Throughput};
    use std::time::Duration;
    use tequio::crypto::Identity;
    use tequio::domain::{EntryKind, Method, NewEntry, NewProposal, Profile, RoomDoc, Stance};

    const T0: i64 = 1_700_000_000_000;

    /// A room with `n` admitted members (the first founded it), each vouched in by the earlier
    /// ones until the admission threshold is met.
    fn community(n: usize) -> (RoomDoc, Vec<Identity>) {
        let mut room = RoomDoc::create("bench-room", "Bench commons", T0).unwrap();
        let people: Vec<Identity> = (0..n).map(|_| Identity::generate()).collect();
        let profile = |i: usize| Profile {
            name: format!("Member {i}"),
            ..Profile::default()
        };
        room.found(&people[0], profile(0), T0).unwrap();
        let mut t = T0;
        for (i, who) in people.iter().enumerate().skip(1) {
            room.set_profile(who, profile(i), t).unwrap();
            for voucher in people[..i].iter().rev() {
                if room.admitted().contains(&who.public()) {
                    break;
                }
                t += 1;
                room.vouch(voucher, &who.public(), t).unwrap();
            }
        }
        assert_eq!(room.admitted().len(), n);
        (room, people)
    }

    /// A pot with `n` ledger entries: mostly inflows, each confirmed by another member (so the
    /// replay also reads `n` confirmations), with expense and payout requests mixed in.
    fn ledger_room(n: usize) -> (RoomDoc, Vec<Identity>, String, i64) {
        let (mut room, people) = community(3);
        let pot = room
            .open_pot(&people[0], "Common pot", "EUR", T0 + 10)
            .unwrap();
        let mut t = T0 + 100;
        for i in 0..n {
            t += 1;
            let me = &people[i % 3];
            let entry = match i % 50 {
                0 if i > 0 => NewEntry::new(EntryKind::Payout, 500, "payout"),
                1 => NewEntry::new(EntryKind::Expense, 700, "expense"),
                _ => NewEntry::new(EntryKind::Inflow, 1_000 + (i % 7) as i64, "inflow"),
            };
            let inflow = entry.kind == EntryKind::Inflow;
            let id = room.record(me, &pot, entry, t).unwrap();
            if inflow {
                room.confirm(&people[(i + 1) % 3], &pot, &id, t).unwrap();
            }
        }
        (room, people, pot, t + 1)
    }

    fn balances(c: &mut Criterion) {
        let (room, _, pot, now) = ledger_room(100_000);
        let mut g = c.benchmark_group("pot");
        g.sample_size(20).measurement_time(Duration::from_secs(10));
        g.throughput(Throughput::Elements(100_000));
        g.bench_function("balances over 100,000 ledger entries", |b| {
            b.iter(|| {
                let balances = room.pot_balances(now);
                assert_eq!(balances.len(), 1);
                assert_eq!(balances[0].0, pot);
                balances
            })
        });
        g.finish();
    }

    fn tally(c: &mut Criterion) {
        let (mut room, people) = community(1_000);
        let now = T0 + 1_000_000;
        let decision = room
            .propose(
                &people[0],
                NewProposal {
                    title: "Which day for the work party?".into(),
                    method: Method::Ranked,
                    options: vec!["Monday".into(), "Wednesday".into(), "Saturday".into()],
                    closes_at: now + 1_000_000,
                    quorum_percent: 50,
                    amendment: None,
                },
                now,
            )
            .unwrap();
        for (i, who) in people.iter().enumerate() {
            let ranking = match i % 3 {
                0 => vec![0, 1, 2],
                1 => vec![2, 0, 1],
                _ => vec![1, 2, 0],
            };
            room.take_stance(
                who,
                &decision,
                Stance::Ranking(ranking),
                "",
                now + 1 + i as i64,
            )
            .unwrap();
        }
        let mut g = c.benchmark_group("decision");
        g.bench_function("ranked-choice tally with 1,000 members", |b| {
            b.iter(|| {
                let d = room.decision(&decision, now + 2_000).unwrap();
                assert_eq!(d.participants, 1_000);
                d
            })
        });
        g.finish();
    }

    fn commands(c: &mut Criterion) {
        let mut g = c.benchmark_group("commands");
        g.throughput(Throughput::Elements(1));
        let (mut room, people, pot, mut now) = ledger_room(10_000);
        g.bench_function(
            "record an inflow (a pot of 10,000 entries and growing)",
            |b| {
                b.iter(|| {
                    now += 1;
                    let entry = NewEntry::new(EntryKind::Inflow, 250, "dues");
                    room.record(&people[1], &pot, entry, now).unwrap()
                })
            },
        );
        // A fresh pot, so the payouts replay 10,000 entries (the inflows above grew theirs).
        let (mut room, people, pot, mut now) = ledger_room(10_000);
        g.bench_function("record a payout (replays a pot of 10,000 entries)", |b| {
            b.iter(|| {
                now += 1;
                let entry = NewEntry::new(EntryKind::Payout, 1, "refund");
                room.record(&people[2], &pot, entry, now).unwrap()
            })
        });
        // Through the open room's core: every change is saved, sent to no one here, and the
        // room's chain of keys is followed (is the key to be renewed or granted?).
        let (room, people) = community(1_000);
        let first = tequio::crypto::RoomSecret::generate();
        let me = people[1].clone();
        let mut replica = tequio::replica::Replica::new(room, me, first, Vec::new());
        let mut store = tequio::replica::memory::MemoryStore::default();
        let mut links = tequio::replica::memory::MemoryLinks::default();
        let mut now = T0 + 1_000_000;
        let offer = |i: i64| tequio::domain::NewPost {
            kind: tequio::domain::PostKind::Offer,
            title: format!("Offer {i}"),
            description: String::new(),
            category: "Tools".into(),
        };
        g.bench_function(
            "post through the replica (1,000 members, keys followed)",
            |b| {
                b.iter(|| {
                    now += 1;
                    let post = offer(now);
                    replica
                        .command(
                            |room, me, at| room.add_post(me, post, at),
                            now,
                            &mut store,
                            &mut links,
                        )
                        .unwrap();
                    store.complete();
                })
            },
        );
        let (mut room, people) = community(1_000);
        g.bench_function("post on the document alone (1,000 members)", |b| {
            b.iter(|| {
                now += 1;
                room.add_post(&people[1], offer(now), now).unwrap()
            })
        });
        // What any view of membership after the change asks for first (the replay of who is
        // admitted, remembered until the next change): the replica's share above is this.
        g.bench_function(
            "post on the document alone, then ask who is admitted (1,000 members)",
            |b| {
                b.iter(|| {
                    now += 1;
                    room.add_post(&people[1], offer(now), now).unwrap();
                    room.is_admitted(&people[1].public())
                })
            },
        );
        g.finish();
    }

    fn load(c: &mut Criterion) {
        let (mut room, _, pot, now) = ledger_room(50_000);
        let saved = room.doc_mut().save();
        let mut g = c.benchmark_group("load");
        g.sample_size(10).measurement_time(Duration::from_secs(20));
        g.bench_function("load a room of 50,000 entries and derive its pot", |b| {
            b.iter_batched(
                || saved.clone(),
                |bytes| {
                    let loaded = RoomDoc::load_chunks("bench-room", [bytes.as_slice()]).unwrap();
                    let p = loaded.pot(&pot, now).unwrap();
                    assert_eq!(p.lines.len(), 50_000);
                    p.balance
                },
                BatchSize::LargeInput,
            )
        });
        // The same, with the facts an earlier open kept beside the document (the app's usual
        // reopen): the history is not read again.
        let facts = room.facts();
        g.bench_function(
            "load a room of 50,000 entries with its kept facts and derive its pot",
            |b| {
                b.iter_batched(
                    || saved.clone(),
                    |bytes| {
                        let loaded = RoomDoc::load_with_facts(
                            "bench-room",
                            [bytes.as_slice()],
                            Some(&facts),
                        )
                        .unwrap();
                        assert_eq!(loaded.facts_behind(), 0);
                        let p = loaded.pot(&pot, now).unwrap();
                        assert_eq!(p.lines.len(), 50_000);
                        p.balance
                    },
                    BatchSize::LargeInput,
                )
            },
        );
        g.finish();
    }

    criterion_group!(benches, balances, tally, commands, load);
}

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    native::benches();
    criterion::Criterion::default()
        .configure_from_args()
        .final_summary();
}

#[cfg(target_arch = "wasm32")]
fn main() {}
