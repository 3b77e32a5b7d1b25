//! The commons model: pure Rust over one automerge document per room. No browser APIs, no async,
//! no UI. Commands validate their input and change the document; views are derived by functions.

mod board;
mod room;

pub use board::{NewPost, Post, PostEdit, PostKind, PostStatus, CATEGORIES};
pub use room::{DomainError, RoomDoc, SCHEMA_VERSION};
