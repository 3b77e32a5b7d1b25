//! Helpers shared by the native integration tests.
#![allow(dead_code)]

/// splitmix64: a tiny deterministic generator so schedules depend only on the seed.
pub struct Rng(pub u64);
impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    pub fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

impl Rng {
    /// A random element, if there is one.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> Option<&'a T> {
        (!items.is_empty()).then(|| &items[self.below(items.len())])
    }
}

/// Unsigned LEB128, as automerge writes lengths and counts.
pub fn leb(out: &mut Vec<u8>, v: u64) {
    leb128::write::unsigned(out, v).expect("writing to memory");
}

/// Posts an offer titled `title` through `replica` (saved to `store`, offered to `links`).
pub fn post_offer(
    replica: &mut tequio::replica::Replica,
    store: &mut tequio::replica::memory::MemoryStore,
    links: &mut tequio::replica::memory::MemoryLinks,
    title: &str,
    description: usize,
    now: i64,
) {
    let post = tequio::domain::NewPost {
        kind: tequio::domain::PostKind::Offer,
        title: title.into(),
        description: "x".repeat(description),
        category: "Tools".into(),
    };
    replica
        .command(
            |room, me, at| room.add_post(me, post, at),
            now,
            store,
            links,
        )
        .unwrap();
}
