#!/usr/bin/env bash
# Installs what is missing, builds the release app, starts the y-webrtc signaling server on
# 127.0.0.1 and serves the app configured to use it. Open the printed URL in two browsers.
# Ports: APP_PORT (default 8080), SIGNAL_PORT (default 4444).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
app_port="${APP_PORT:-8080}"
signal_port="${SIGNAL_PORT:-4444}"

say "building the release app"
trunk build --release

PORT="$signal_port" node scripts/signaling-server.mjs &
signal_pid=$!
trap 'kill $signal_pid 2>/dev/null' EXIT INT TERM
say "signaling server on ws://127.0.0.1:$signal_port"
say "open http://127.0.0.1:$app_port/ (Ctrl-C stops both servers)"
node scripts/static-server.mjs dist "$app_port" "{\"signaling\":[\"ws://127.0.0.1:$signal_port\"],\"ice_servers\":[]}"
