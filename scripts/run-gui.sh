#!/usr/bin/env bash
# Starts the Tessera GUI. Without a display (a server, a container, CI) it starts a
# virtual X server (Xvfb) so the window still opens; say so, so nobody is surprised.
set -euo pipefail
bin=${1:?usage: run-gui.sh BINARY [ARGS…]}; shift
if [ -z "${DISPLAY:-}" ] && [ -z "${WAYLAND_DISPLAY:-}" ]; then
  echo "[run] no display found: opening Tessera on a virtual screen (Xvfb)." >&2
  echo "[run] on a desktop, run it from a graphical session to see the window." >&2
  exec xvfb-run -a -s "-screen 0 1600x1000x24" "$bin" "$@"
fi
exec "$bin" "$@"
