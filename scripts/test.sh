#!/usr/bin/env bash
# Installs what is missing, then runs every check: formatting, clippy (native and wasm32),
# native tests, wasm-bindgen tests in headless Chromium, and the end-to-end tests against the
# release build with the real signaling server and a real Nostr relay (one flow in Firefox ESR).
set -euo pipefail
export TEQUIO_NOSTR_RELAY=1 TEQUIO_FIREFOX=1
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"

say "cargo fmt --check"
cargo fmt --all -- --check

say "clippy (native)"
cargo clippy --all-targets -- -D warnings
say "clippy (wasm32)"
cargo clippy --target wasm32-unknown-unknown --all-targets -- -D warnings

say "native tests"
cargo test

say "wasm tests in headless Chromium (IndexedDB, components, data-channel flow control)"
CHROMEDRIVER=/usr/bin/chromedriver WASM_BINDGEN_TEST_TIMEOUT=120 \
  cargo test --target wasm32-unknown-unknown --test store_web --test components_web --test net_web

say "release build"
trunk build --release

say "end-to-end tests"
node --test --test-concurrency=1 tests/e2e/

say "screenshots of every screen (360 px and 1280 px): $(pwd)/target/screenshots"
