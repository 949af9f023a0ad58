#!/usr/bin/env bash
# Puts `tessera bench tiles` beside the WSI peers of ../shared/bench in ONE run (the slide
# figures in issue notes come from this): copies the read-only harness (or reuses a copy
# with its data), adds Tessera's fast path and OpenSlide path (all cores and 1 worker) as
# WSI peers, and runs the libjpeg floor and the level-0 aligned-tile peers only.
#   scripts/bench-slide-peers.sh [WORKDIR]   (REPS=3 by default; needs the harness' packages)
#   TESSERA_BIN=… to time another build (default: target/release/tessera, built here)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=${1:-$root/target/bench-peers}
[ -d "$work/bench" ] || [ -d "$root/../shared/bench" ] || { echo "no ../shared/bench here" >&2; exit 1; }
mkdir -p "$work"
[ -d "$work/bench" ] || cp -r "$root/../shared/bench" "$work/"
chmod -R u+w "$work/bench"
python3 - "$work/bench/bench.py" <<'PY'
import sys
p = sys.argv[1]; s = open(p).read()
s = s.replace("if ONLY and ONLY not in name:", "if ONLY and not any(o in name for o in ONLY.split('|')):")
if "Tessera fast path" not in s:
    s = s.replace('''    for conc in (1, 2):''', '''    tess = os.environ.get("TESSERA_BIN")
    if tess:
        for label, extra in [("Tessera fast path, all cores", ""),
                             ("Tessera fast path, 1 worker", "--workers 1"),
                             ("Tessera fast path, all cores, 64 MiB cache", "--cache-mib 64"),
                             ("Tessera OpenSlide path, all cores", "--path openslide"),
                             ("Tessera OpenSlide path, 1 worker", "--path openslide --workers 1")]:
            r = measure(f"wsi: {label}", f"{tess} bench tiles {slide} --tiles 2000 --level 0 --seed 1 {extra}",
                        key="tiles_per_s")
            if r:
                lo, hi = min(r["samples"]), max(r["samples"])
                line(r, f"{r['median']:7.0f} tiles/s [{lo:.0f}-{hi:.0f}]  {1000 / r['median']:.2f} ms/tile  "
                        f"floor/this x{floor_tps / r['median']:4.1f}  {fmt_rss(r)}")
    for conc in (1, 2):''', 1)
open(p, "w").write(s)
PY
if [ -z "${TESSERA_BIN:-}" ]; then
  (cd "$root" && cargo build --release --locked -q)
  export TESSERA_BIN=$root/target/release/tessera
fi
export REPS=${REPS:-3} NO_RUST=1
export ONLY=${ONLY:-"floor: libjpeg|floor: 2 x libjpeg|wsi: openslide 3.4 read_region L0 aligned|wsi: openslide L0 aligned, 2 processes|wsi: pyvips|wsi: Pillow|wsi: Tessera"}
exec "$work/bench/run_peers.sh"
