#!/usr/bin/env bash
# Installs the packages `make package` left in target/packages/ and runs Tessera from the
# installed files (CI runs it after `make package`; packaging/README.md):
#   .deb     control fields and file list checked (dpkg-deb); unpacked into a scratch root
#            (dpkg -x) and `tessera --version`, `tessera demo`, `tessera info` run from it.
#            With --dpkg (as root): also `dpkg -i`, the same runs from /usr/bin, `dpkg -r`.
#   tar.xz   unpacked into a scratch folder and run through its launcher while the system's
#            copy of every library in its lib/ is hidden (/dev/null bound over each, in a
#            private mount namespace): it passes only if the bundle is self-contained.
# Exit 0 when every check passes; the first failure is printed and exits 1.
set -euo pipefail
cd "$(dirname "$0")/.."

use_dpkg=no
[ "${1:-}" = "--dpkg" ] && use_dpkg=yes

packages=target/packages
pass=0
ok() {
  pass=$((pass + 1))
  echo "[install-test] ok: $*"
}
fail() {
  echo "[install-test] FAILED: $*" >&2
  exit 1
}

shopt -s nullglob
debs=("$packages"/tessera_*.deb)
bundles=("$packages"/tessera-*-linux-*.tar.xz)
[ ${#debs[@]} -eq 1 ] || fail "expected one .deb in $packages (run make package)"
[ ${#bundles[@]} -eq 1 ] || fail "expected one tar.xz bundle in $packages (run make package)"
deb=${debs[0]}
bundle=${bundles[0]}

scratch=$(mktemp -d)
installed_by_us=no
cleanup() {
  if [ "$installed_by_us" = yes ]; then dpkg -r tessera >/dev/null 2>&1 || true; fi
  rm -rf "$scratch"
}
trap cleanup EXIT

version=$(dpkg-deb --field "$deb" Version)
upstream=${version%-*}
commit=$(git rev-parse --short=10 HEAD 2>/dev/null || echo unknown)
openslide=$(dpkg-query -W -f='${Version}' libopenslide0 2>/dev/null | sed 's/[+~-].*//')

# Runs tessera --version, demo and info (argument 1: the program), outputs into the existing
# folder $2. Only the shell's redirections and tessera run here: the bundle test runs this
# where the system's copies of some common libraries are hidden.
collect() {
  local exe=$1 out=$2
  "$exe" --version >"$out/version" 2>"$out/stderr" &&
    "$exe" demo "$out/demo" >"$out/demo.out" 2>>"$out/stderr" &&
    "$exe" info --json "$out/demo" >"$out/info.json" 2>>"$out/stderr"
}

# Checks what collect wrote into folder $1 (argument 2 names the install for messages).
verify() {
  local out=$1 where=$2 first second third
  first=$(sed -n 1p "$out/version")
  second=$(sed -n 2p "$out/version")
  third=$(sed -n 3p "$out/version")
  [ "$first" = "tessera $upstream (commit $commit)" ] ||
    fail "$where: first line of --version is '$first', expected 'tessera $upstream (commit $commit)'"
  [[ "$second" == "OpenSlide $openslide"* ]] || fail "$where: '$second' is not OpenSlide $openslide"
  [[ "$third" =~ ^SQLite\ 3\.[0-9]+\.[0-9]+$ ]] || fail "$where: '$third' is not an SQLite version"
  ok "$where: --version: $(tr '\n' ';' <"$out/version")"
  grep -q '^wrote [0-9]* files' "$out/demo.out" || fail "$where: tessera demo printed: $(cat "$out/demo.out")"
  grep -q '"series"' "$out/info.json" || fail "$where: tessera info found no series: $(cat "$out/info.json")"
  ok "$where: demo + info ($(grep -o '^wrote [0-9]* files' "$out/demo.out"), info reads them back)"
}

check_runs() {
  local exe=$1 where=$2 out="$scratch/run-$RANDOM"
  mkdir -p "$out"
  collect "$exe" "$out" || fail "$where: tessera failed: $(cat "$out/stderr")"
  verify "$out" "$where"
}

# --- the .deb: control fields and contents ------------------------------------------------
depends=$(dpkg-deb --field "$deb" Depends)
for pkg in libc6 libopenslide0 libvulkan1 libegl1 libx11-6 libxkbcommon0 libwayland-client0; do
  grep -qE "(^|, )$pkg( |,|$)" <<<"$depends" || fail ".deb Depends lacks $pkg: $depends"
done
ok ".deb Depends: $depends"
contents=$(dpkg-deb --contents "$deb" | awk '{print $6}')
for f in ./usr/bin/tessera ./usr/share/man/man1/tessera.1.gz ./usr/share/man/man1/tessera-project-init.1.gz \
  ./usr/share/applications/tessera.desktop ./usr/share/mime/packages/tessera.xml \
  ./usr/share/metainfo/io.github.tessera.Tessera.metainfo.xml \
  ./usr/share/bash-completion/completions/tessera ./usr/share/zsh/vendor-completions/_tessera \
  ./usr/share/fish/vendor_completions.d/tessera.fish ./usr/share/icons/hicolor/scalable/apps/tessera.svg \
  ./usr/share/icons/hicolor/48x48/apps/tessera.png ./usr/share/icons/hicolor/512x512/apps/tessera.png \
  ./usr/share/doc/tessera/copyright; do
  grep -qxF "$f" <<<"$contents" || fail ".deb lacks $f"
done
ok ".deb contents: $(wc -l <<<"$contents") entries, $(grep -c '/man1/.*\.1\.gz$' <<<"$contents") man pages"

# --- the .deb, unpacked into a scratch root -----------------------------------------------
root="$scratch/root"
dpkg -x "$deb" "$root"
check_runs "$root/usr/bin/tessera" "dpkg -x"
gzip -dc "$root/usr/share/man/man1/tessera.1.gz" | grep -q '^\.TH tessera 1' || fail "tessera.1 has no .TH header"
if command -v groff >/dev/null; then
  for page in "$root"/usr/share/man/man1/*.1.gz; do
    warnings=$(gzip -dc "$page" | groff -man -ww -z 2>&1) || fail "$(basename "$page"): groff fails"
    [ -z "$warnings" ] || fail "$(basename "$page"): groff warns: $warnings"
  done
  ok "the man pages format without warnings (groff -ww)"
fi
bash -c "source '$root/usr/share/bash-completion/completions/tessera' && complete -p tessera" >/dev/null ||
  fail "the bash completion does not register"
ok "bash completion registers"

# --- the .deb, installed with dpkg ----------------------------------------------------------
if [ "$use_dpkg" = yes ]; then
  [ "$(id -u)" -eq 0 ] || fail "--dpkg needs root"
  if dpkg-query -W -f='${Status}' tessera 2>/dev/null | grep -q "install ok installed"; then
    fail "a tessera package is already installed here; not touching it"
  fi
  dpkg -i "$deb" >/dev/null || fail "dpkg -i (missing dependencies?)"
  installed_by_us=yes
  check_runs /usr/bin/tessera "dpkg -i"
  dpkg -r tessera >/dev/null || fail "dpkg -r"
  installed_by_us=no
  [ ! -e /usr/bin/tessera ] || fail "/usr/bin/tessera is still there after dpkg -r"
  ok "dpkg -i / dpkg -r"
fi

# --- the portable bundle -----------------------------------------------------------------------
tar -xJf "$bundle" -C "$scratch"
dir=$(find "$scratch" -maxdepth 1 -type d -name 'tessera-*-linux-*' | head -n1)
[ -x "$dir/tessera" ] && [ -x "$dir/bin/tessera" ] || fail "bundle lacks its launcher or bin/tessera"
[ -f "$dir/lib/libopenslide.so.0" ] || fail "bundle lacks lib/libopenslide.so.0"
resolved=$(LD_LIBRARY_PATH="$dir/lib" ldd "$dir/bin/tessera")
grep -q "libopenslide.so.0 => $dir/lib/libopenslide.so.0" <<<"$resolved" ||
  fail "the bundle's launcher environment does not resolve libopenslide from lib/: $resolved"
! grep -q "not found" <<<"$resolved" || fail "unresolved libraries: $(grep 'not found' <<<"$resolved")"
ok "bundle: $(find "$dir/lib" -name '*.so*' | wc -l) libraries in lib/, libopenslide resolved from lib/"

# The system's copies of the bundled libraries, hidden from a run in a private mount namespace.
hidden=()
for lib in "$dir"/lib/*.so*; do
  soname=$(basename "$lib")
  while read -r path; do
    hidden+=("$(readlink -f "$path")")
  done < <(ldconfig -p | awk -v s="$soname" '$1 == s {print $NF}')
done
if [ "$(id -u)" -eq 0 ] && unshare --mount --propagation private true 2>/dev/null; then
  export -f collect
  export dir
  out="$scratch/run-hidden"
  mkdir -p "$out"
  # mount itself needs some of the hidden libraries (libmount, libblkid, ...): it takes them
  # from the bundle, which has every library that is hidden.
  unshare --mount --propagation private bash -c '
    out=$1
    shift
    for p in "$@"; do LD_LIBRARY_PATH="$dir/lib" mount --bind /dev/null "$p" || exit 1; done
    collect "$dir/tessera" "$out"
  ' hide "$out" "${hidden[@]}" || fail "bundle with the system copies hidden: $(cat "$out/stderr" 2>/dev/null)"
  verify "$out" "bundle, system copies of ${#hidden[@]} libraries hidden"
else
  echo "[install-test] note: not root or unshare not permitted: the bundle runs with the system libraries visible"
  check_runs "$dir/tessera" "bundle"
fi

echo "install-test: $pass passed, 0 failed"
