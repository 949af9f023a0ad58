#!/usr/bin/env bash
# Puts `tessera bench load-once` beside the peers of ../shared/bench in ONE run (the
# figures in issue notes come from this): copies the read-only harness, adds Tessera as
# one more series peer (its volume_ms as seconds), and runs the series part only.
#   scripts/bench-peers.sh [WORKDIR]      (REPS=3 by default; needs the harness' packages)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=${1:-$root/target/bench-peers}
[ -d "$root/../shared/bench" ] || { echo "no ../shared/bench here" >&2; exit 1; }
mkdir -p "$work"
cp -rn "$root/../shared/bench" "$work/" 2>/dev/null || true
chmod -R u+w "$work/bench"
# Always patch a fresh copy of the driver (generated data and built peers are kept).
cp "$root/../shared/bench/bench.py" "$work/bench/bench.py"
python3 - "$work/bench/bench.py" <<'PY'
import sys
p = sys.argv[1]; s = open(p).read()
s = s.replace("if ONLY and ONLY not in name:", "if ONLY and not any(o in name for o in ONLY.split('|')):")
if "TESSERA_BIN" not in s:
    s = s.replace('''        tool = {"series_raw"''', '''        tess = os.environ.get("TESSERA_BIN")
        if tess:
            # Output to a file, converted after the load ends: through a pipe the converting
            # interpreter would start on the same two cores during the ~50 ms load (the
            # other peers' timers start after their interpreter is up).
            peers.append(("Tessera bench load-once (Rust, all cores)", f"{tess} bench load-once {path} > {R}/.tessera.json && python3 tessera_seconds.py < {R}/.tessera.json", "seconds"))
        tool = {"series_raw"''')
open(p, "w").write(s)
PY
# Tessera prints volume_ms; the harness takes the median of a "seconds" field.
cat > "$work/bench/tessera_seconds.py" <<'PY'
import json, sys
d = json.loads(sys.stdin.read())
d["seconds"] = d["volume_ms"] / 1000
print(json.dumps(d))
PY
(cd "$root" && cargo build --release --locked -q)
export TESSERA_BIN=$root/target/release/tessera REPS=${REPS:-3} NO_RUST=1
export ONLY=${ONLY:-"floor: memory|floor: python|raw:|jls:|jpll:|j2k:"}
exec "$work/bench/run_peers.sh"
