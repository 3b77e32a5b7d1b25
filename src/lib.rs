//! Tequio: a local-first commons app. `domain`, `crypto` and `sync` are pure Rust and tested
//! natively; `store`, `net`, `ui` and `background` are the browser edge and exist only on wasm32.

#[cfg(target_arch = "wasm32")]
pub mod background;
pub mod browser;
pub mod crypto;
pub mod domain;
pub mod i18n;
pub mod markdown;
#[cfg(target_arch = "wasm32")]
pub mod net;
pub mod qr;
pub mod replica;
#[cfg(target_arch = "wasm32")]
pub mod store;
pub mod sync;
#[cfg(target_arch = "wasm32")]
pub mod ui;
