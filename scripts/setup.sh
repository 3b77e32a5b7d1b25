#!/usr/bin/env bash
# Installs whatever is missing to build, serve and test Tequio; quick when everything is there.
# Sourced by serve.sh and test.sh (it also puts node_modules/.bin on PATH for wasm-opt).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
export PATH="$HOME/.cargo/bin:$root/node_modules/.bin:$PATH"

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  say "adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi

trunk_version="0.21.14"
if ! trunk --version 2>/dev/null | grep -q " $trunk_version\$"; then
  say "installing trunk $trunk_version"
  cargo install --locked "trunk@$trunk_version"
fi

# wasm-bindgen-cli must match the wasm-bindgen version in Cargo.lock exactly.
wbg_version="$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)"
if ! wasm-bindgen --version 2>/dev/null | grep -q " $wbg_version\$" \
  || ! command -v wasm-bindgen-test-runner >/dev/null; then
  say "installing wasm-bindgen-cli $wbg_version"
  # Not --locked: one of its locked dependencies is no longer in the registry.
  cargo install --force "wasm-bindgen-cli@$wbg_version"
fi

if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then
  say "installing Debian's chromium and chromium-driver"
  sudo_cmd=""
  [ "$(id -u)" = 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq chromium chromium-driver >/dev/null
fi

# Firefox ESR and geckodriver for the one end-to-end flow in Firefox (tests/e2e/firefox.test.mjs);
# only when asked for (test.sh does), as serving the app does not need them.
geckodriver_version="0.37.1"
if [ "${TEQUIO_FIREFOX:-}" = 1 ]; then
  if [ ! -x /usr/bin/firefox-esr ]; then
    say "installing Debian's firefox-esr"
    sudo_cmd=""
    [ "$(id -u)" = 0 ] || sudo_cmd="sudo"
    $sudo_cmd apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq firefox-esr >/dev/null
  fi
  if [ "$(geckodriver --version 2>/dev/null | awk 'NR == 1 { print $2 }')" != "$geckodriver_version" ]; then
    say "installing geckodriver $geckodriver_version"
    cargo install --locked --force "geckodriver@$geckodriver_version"
  fi
fi

if [ ! -d node_modules/y-webrtc ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  say "installing npm packages (wasm-opt, y-webrtc signaling server, playwright-core)"
  npm ci --no-audit --no-fund --loglevel=error
fi

# A real Nostr relay for the end-to-end tests (and benchmarks), pinned with its dependencies;
# only when asked for (test.sh does), as serving the app does not need it.
if [ "${TEQUIO_NOSTR_RELAY:-}" = 1 ] \
  && { [ ! -x .venv/bin/nostr-relay ] || [ scripts/relay-requirements.txt -nt .venv/.installed ]; }; then
  say "installing the Nostr relay used by the tests (Python, into .venv)"
  if ! python3 -m venv .venv 2>/dev/null; then
    sudo_cmd=""
    [ "$(id -u)" = 0 ] || sudo_cmd="sudo"
    $sudo_cmd apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq python3-venv >/dev/null
    python3 -m venv .venv
  fi
  .venv/bin/pip install --quiet --disable-pip-version-check -r scripts/relay-requirements.txt
  touch .venv/.installed
fi
