//! Writes a room with N posts (default 5,000) as JSON `{secret, id, name, doc}` (doc: base64url
//! of the saved automerge document), for `scripts/bench.mjs` to load into a browser's IndexedDB.

use tequio::crypto::{to_base64url, RoomSecret};
use tequio::domain::{NewPost, PostKind, RoomDoc, CATEGORIES};

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(5_000);
    let secret = RoomSecret::generate();
    let name = format!("Benchmark room ({n} posts)");
    let mut room =
        RoomDoc::create(&secret.room_id(), &name, 1_700_000_000_000).expect("valid name");
    // A room where 20 members (each on one device) wrote the posts.
    let authors: Vec<tequio::crypto::Identity> = (0..20)
        .map(|_| tequio::crypto::Identity::generate())
        .collect();
    for i in 0..n {
        let kind = if i % 2 == 0 {
            PostKind::Need
        } else {
            PostKind::Offer
        };
        room.add_post(&authors[i % authors.len()], NewPost {
                kind,
                title: format!("Post number {i}"),
                description: format!("Description of post {i}: something a neighbour needs or offers, with a few words of detail."),
                category: CATEGORIES[i % CATEGORIES.len()].into(),
            },
            1_700_000_000_000 + i as i64 * 1000,
        )
        .expect("valid post");
    }
    let doc = room.doc_mut().save();
    println!(
        "{}",
        serde_json::json!({
            "secret": secret.to_base64url(),
            "id": secret.room_id(),
            "name": name,
            "doc": to_base64url(&doc),
        })
    );
}
