//! Room search on a 5,000-post room (with 50 pages, 50 things and 50 tasks beside): how long
//! building the index takes (once per room version) and how long a query takes (once per
//! keystroke). `cargo run --release --example bench_search [posts]`.

use std::time::Instant;
use tequio::crypto::Identity;
use tequio::domain::{NewPost, NewResource, PostKind, Profile, RoomDoc, SearchIndex, CATEGORIES};

const WORDS: [&str; 12] = [
    "ladder",
    "drill",
    "soup",
    "mañana",
    "bicycle",
    "garden",
    "café",
    "childcare",
    "paint",
    "tent",
    "ride",
    "flour",
];

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(5_000);
    let t0 = 1_700_000_000_000;
    let mut room = RoomDoc::create("bench-room", "Benchmark room", t0).expect("valid name");
    let authors: Vec<Identity> = (0..20).map(|_| Identity::generate()).collect();
    room.found(
        &authors[0],
        Profile {
            name: "Founder".into(),
            ..Profile::default()
        },
        t0,
    )
    .expect("founded");
    for i in 0..n {
        let word = WORDS[i % WORDS.len()];
        room.add_post(
            &authors[i % authors.len()],
            NewPost {
                kind: if i % 2 == 0 {
                    PostKind::Need
                } else {
                    PostKind::Offer
                },
                title: format!("Post number {i}: {}", WORDS[(i / 7) % WORDS.len()]),
                description: format!(
                    "Description of post {i}: something a neighbour needs or offers ({word}), \
                     with a few words of detail about when and where."
                ),
                category: CATEGORIES[i % CATEGORIES.len()].into(),
            },
            t0 + i as i64 * 1000,
        )
        .expect("valid post");
    }
    let founder = &authors[0];
    for i in 0..50 {
        let body = format!(
            "# Page {i}\n\n{}\n\nHow we share the {} on Saturdays.",
            "Some rules of thumb for the commons. ".repeat(20),
            WORDS[i % WORDS.len()]
        );
        room.create_page(founder, &format!("Page {i}"), &body, t0 + 1)
            .expect("page");
        room.add_resource(
            founder,
            NewResource {
                kind: "physical".into(),
                name: format!("Thing {i}: {}", WORDS[i % WORDS.len()]),
                rules: "Return it clean".into(),
                condition: "good".into(),
                location: "Shed".into(),
                licence: "CC0".into(),
            },
            t0 + 2,
        )
        .expect("thing");
        room.add_task(
            founder,
            &format!("Task {i}: fetch the {}", WORDS[i % 12]),
            1,
            t0 + 3,
        )
        .expect("task");
    }
    let now = t0 + n as i64 * 1000 + 10_000;

    let runs = 5;
    let mut derive = Vec::new();
    let mut build = Vec::new();
    let mut index = SearchIndex::default();
    for _ in 0..runs {
        let start = Instant::now();
        let posts = room.posts();
        derive.push(start.elapsed().as_secs_f64() * 1000.0);
        let start = Instant::now();
        index = SearchIndex::build_with_posts(&room, &posts, now);
        build.push(start.elapsed().as_secs_f64() * 1000.0);
    }
    println!(
        "{n} posts, {} items indexed: posts derived (as the app already does) {}, index built from them {}",
        index.len(),
        summary(&derive),
        summary(&build)
    );
    for query in [
        "l",
        "post",
        "ladder",
        "manana",
        "CAFÉ",
        "ladder saturday",
        "description neighbour detail",
        "nothing-matches-this",
    ] {
        // The first query also checks the matching posts' signatures (remembered after).
        let start = Instant::now();
        let first = index.search(&room, query);
        let cold = start.elapsed().as_secs_f64() * 1000.0;
        let mut times = Vec::new();
        for _ in 0..runs {
            let start = Instant::now();
            let found = index.search(&room, query);
            times.push(start.elapsed().as_secs_f64() * 1000.0);
            assert_eq!(found, first);
        }
        println!(
            "query {query:?}: {} shown{}; first {cold:.2} ms, then {}",
            first.hits.len(),
            if first.more { " (more match)" } else { "" },
            summary(&times)
        );
    }
}

/// "median m ms (min–max)".
fn summary(times: &[f64]) -> String {
    let mut t = times.to_vec();
    t.sort_by(f64::total_cmp);
    format!(
        "median {:.2} ms ({:.2}–{:.2})",
        t[t.len() / 2],
        t[0],
        t[t.len() - 1]
    )
}
