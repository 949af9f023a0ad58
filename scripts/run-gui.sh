#!/usr/bin/env bash
# Starts the Tessera GUI. Without a display (a server, a container, CI) it starts a
# virtual X server (Xvfb) so the window still opens; say so, so nobody is surprised.
set -euo pipefail
bin=${1:?usage: run-gui.sh BINARY [ARGS…]}; shift
# Window-system libraries want a private runtime folder; servers and containers often lack one.
if [ -z "${XDG_RUNTIME_DIR:-}" ]; then
  XDG_RUNTIME_DIR=$(mktemp -d "${TMPDIR:-/tmp}/tessera-runtime.XXXXXX")
  chmod 700 "$XDG_RUNTIME_DIR"
  export XDG_RUNTIME_DIR
fi
if [ -z "${DISPLAY:-}" ] && [ -z "${WAYLAND_DISPLAY:-}" ]; then
  echo "[run] no display found: opening Tessera on a virtual screen (Xvfb)." >&2
  echo "[run] on a desktop, run it from a graphical session to see the window." >&2
  exec xvfb-run -a -s "-screen 0 1600x1000x24" "$bin" "$@"
fi
exec "$bin" "$@"
