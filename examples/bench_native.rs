//! Native timings of the hot paths behind the browser figures: loading a 5,000-post room,
//! deriving its board, and syncing it to an empty peer. Run with `--release`.

use std::time::Instant;
use tequio::crypto::RoomSecret;
use tequio::domain::{NewPost, PostKind, RoomDoc};
use tequio::sync::Session;

fn main() {
    let mut room = RoomDoc::create("room-1", "Bench", 0).unwrap();
    // A room where 20 members (each on one device) wrote the posts.
    let authors: Vec<tequio::crypto::Identity> = (0..20)
        .map(|_| tequio::crypto::Identity::generate())
        .collect();
    for i in 0..5000usize {
        room.add_post(&authors[i % authors.len()], NewPost {
                kind: PostKind::Need,
                title: format!("Post number {i}"),
                description: format!("Description of post {i}: something a neighbour needs or offers, with a few words of detail."),
                category: "Goods".into(),
            },
            i as i64,
        )
        .unwrap();
    }
    let bytes = room.doc_mut().save();
    println!("saved document: {} bytes", bytes.len());
    let t = Instant::now();
    let loaded = RoomDoc::load_chunks("room-1", [bytes.as_slice()]).unwrap();
    println!("load: {:?}", t.elapsed());
    let t = Instant::now();
    let posts = loaded.posts();
    println!("posts(): {:?} for {}", t.elapsed(), posts.len());
    let key = RoomSecret::generate().room_key();
    let (mut a, mut b) = (room, RoomDoc::empty("room-1"));
    let (mut sa, mut sb) = (Session::new(key.clone()), Session::new(key));
    let t = Instant::now();
    let mut rounds = 0;
    loop {
        let out_b = sb.outgoing(&mut b.doc_mut(), 0);
        let out_a = sa.outgoing(&mut a.doc_mut(), 0);
        if out_a.is_empty() && out_b.is_empty() {
            break;
        }
        rounds += 1;
        for f in out_b {
            sa.receive(&mut a.doc_mut(), &f, 0).unwrap();
        }
        for f in out_a {
            sb.receive(&mut b.doc_mut(), &f, 0).unwrap();
        }
    }
    println!(
        "sync to an empty peer: {:?} in {rounds} rounds",
        t.elapsed()
    );
}
