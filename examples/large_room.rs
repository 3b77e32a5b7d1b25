//! Writes a room backup file (the app's own format, restored from its start page) holding about
//! `MB` megabytes of posts (default 10): 4,000-character descriptions of random text, written by
//! 20 members. Used by `scripts/bench.mjs`.
//! Usage: cargo run --example large_room -- <file> [MB]

use tequio::crypto::{random_bytes, to_base64url, Identity, RoomSecret};
use tequio::domain::{Backup, NewPost, PostKind, RoomDoc, CATEGORIES};

const DESCRIPTION: usize = 4_000;

fn main() {
    let mut args = std::env::args().skip(1);
    let path = args.next().expect("usage: large_room <file> [MB]");
    let mb: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(10);
    let secret = RoomSecret::generate();
    let name = format!("Large room ({mb} MB)");
    let mut room = RoomDoc::create(&secret.room_id(), &name, 1_700_000_000_000).expect("name");
    let authors: Vec<Identity> = (0..20).map(|_| Identity::generate()).collect();
    let posts = (mb * 1_000_000).div_ceil(DESCRIPTION);
    let mut noise = vec![0u8; DESCRIPTION * 3 / 4];
    for i in 0..posts {
        random_bytes(&mut noise);
        let description: String = to_base64url(&noise).chars().take(DESCRIPTION).collect();
        let post = NewPost {
            kind: if i % 2 == 0 {
                PostKind::Need
            } else {
                PostKind::Offer
            },
            title: format!("Large post {i}"),
            description,
            category: CATEGORIES[i % CATEGORIES.len()].into(),
        };
        let at = 1_700_000_000_000 + i as i64 * 1000;
        room.add_post(&authors[i % authors.len()], post, at)
            .expect("valid post");
    }
    let me = Identity::generate();
    let backup = Backup::of(
        &room,
        &secret.to_base64url(),
        &me.secret(),
        1_800_000_000_000,
    );
    let json = backup.to_json();
    std::fs::write(&path, &json).expect("write the backup");
    let doc_bytes = room.doc_mut().save().len();
    eprintln!(
        "{posts} posts, document {doc_bytes} bytes, backup {} bytes",
        json.len()
    );
    println!(
        "{}",
        serde_json::json!({
            "id": secret.room_id(),
            "secret": secret.to_base64url(),
            "posts": posts,
            "doc_bytes": doc_bytes,
        })
    );
}
