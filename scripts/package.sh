#!/usr/bin/env bash
# Builds Tessera's Linux packages into target/packages/ (`make package`):
#   tessera_VERSION-1_ARCH.deb                   cargo-deb: binary, man pages, completions,
#                                                desktop entry, MIME type, metainfo, icons
#   tessera-VERSION-linux-ARCH.tar.xz            portable bundle: OpenSlide and the libraries
#                                                it needs in lib/, a launcher that points the
#                                                loader at them
# What is in each and why: packaging/README.md. Needs scripts/setup.sh's packages (it runs
# from `make package`, which runs setup first); installs cargo-deb once if it is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

CARGO=${CARGO:-cargo}
CARGO_DEB_VERSION=3.8.0
target_dir=${CARGO_TARGET_DIR:-target}
out=target/packages
gen=target/packaging # generated assets: the paths are named in Cargo.toml [package.metadata.deb]

say() { echo "[package] $*"; }
started=$(date +%s)
lap() { echo "[package] $1: $(($(date +%s) - $2)) s"; }

# 1. cargo-deb, pinned, installed into ~/.cargo/bin once.
t=$(date +%s)
if ! "$CARGO" deb --version 2>/dev/null | grep -qx "cargo-deb $CARGO_DEB_VERSION"; then
  say "installing cargo-deb $CARGO_DEB_VERSION (once)"
  "$CARGO" install cargo-deb --version "$CARGO_DEB_VERSION" --locked
  lap "cargo install cargo-deb" "$t"
fi

# 2. The release binary.
t=$(date +%s)
"$CARGO" build --release --locked
lap "cargo build --release" "$t"
bin="$target_dir/release/tessera"
version=$("$bin" --version | head -n1 | awk '{print $2}')
say "built $("$bin" --version | tr '\n' ' ')"

# 3. Man pages and completions, generated from the CLI definition.
rm -rf "$gen"
mkdir -p "$gen/completions"
"$bin" manpages --out "$gen/man"
"$bin" completions bash >"$gen/completions/tessera.bash"
"$bin" completions zsh >"$gen/completions/_tessera"
"$bin" completions fish >"$gen/completions/tessera.fish"

# 4. The .deb. `$auto` in depends runs dpkg-shlibdeps; cargo-deb strips the binary and
#    gzips the man pages.
t=$(date +%s)
mkdir -p "$out"
rm -f "$out"/tessera_*.deb
"$CARGO" deb --no-build --output "$out/"
lap "cargo deb" "$t"

# 5. The portable bundle.
t=$(date +%s)
scripts/make-bundle.sh "$bin" "$gen" "$out"
lap "bundle" "$t"

say "artefacts:"
ls -l "$out"/tessera_*.deb "$out"/tessera-*.tar.xz
say "done in $(($(date +%s) - started)) s"
