#!/usr/bin/env bash
# Runs Tessera under a private Xvfb, waits, saves a screenshot of the whole screen, quits.
#   scripts/screenshot.sh OUT.png [SECONDS] [-- tessera args…]
# Optional XDOTOOL="key 2 sleep 0.5 key Down" runs xdotool commands before the shot.
set -euo pipefail
out=${1:?usage: screenshot.sh OUT.png [SECONDS] [-- ARGS…]}; shift
wait_s=${1:-8}; [ $# -gt 0 ] && shift
[ "${1:-}" = "--" ] && shift
bin=${TESSERA_BIN:-target/release/tessera}
display=:$(( 90 + RANDOM % 100 ))
Xvfb "$display" -screen 0 1600x1000x24 -nolisten tcp >/dev/null 2>&1 &
xvfb=$!
trap 'kill $app $xvfb 2>/dev/null || true' EXIT
sleep 1
DISPLAY=$display XDG_RUNTIME_DIR=$(mktemp -d) "$bin" "$@" &
app=$!
sleep "$wait_s"
if [ -n "${XDOTOOL:-}" ]; then
  # shellcheck disable=SC2086
  DISPLAY=$display xdotool search --sync --onlyvisible --name Tessera windowfocus --sync $XDOTOOL || true
  sleep 1
fi
DISPLAY=$display import -window root "$out"
echo "saved $out"
