#!/usr/bin/env bash
# Makes the portable Linux bundle, tessera-VERSION-linux-ARCH.tar.xz, from a release binary:
#   tessera                 launcher: points the loader at lib/, then runs bin/tessera
#   bin/tessera             the binary (stripped)
#   lib/                    libopenslide.so.0 and the libraries it needs that a desktop
#                           system does not provide (the rule: SYSTEM_LIBS below)
#   share/                  desktop entry, MIME type, metainfo, icons, man pages, completions
#   licenses/               the Debian copyright file of every bundled library's package
#   BUNDLED-LIBRARIES.txt   soname, Debian package and version of each file in lib/
#   README.txt              how to run and install it, what the system must provide
# Usage: scripts/make-bundle.sh BINARY GENERATED_DIR OUT_DIR (scripts/package.sh calls it).
set -euo pipefail
cd "$(dirname "$0")/.."

bin=$1
gen=$2
out=$3

# Left to the system, never bundled. Derived from AppImage's excludelist: glibc; the C++
# runtime (GPU drivers load the system's, and an older bundled copy breaks newer drivers);
# the display stack (X11/xcb core, Wayland, GL/EGL, DRM, Vulkan: they must match the
# server and the drivers); font configuration (fontconfig reads the system's config files);
# and base libraries every distribution ships (zlib, expat). Whatever is needed only
# through one of these comes from the system too.
is_system_lib() {
  case "$1" in
    linux-vdso.so.* | ld-linux*.so.* | libc.so.* | libm.so.* | libdl.so.* | libpthread.so.* | \
      librt.so.* | libresolv.so.* | libutil.so.* | libmvec.so.* | libanl.so.*) return 0 ;;
    libstdc++.so.* | libgcc_s.so.*) return 0 ;;
    libX11.so.* | libX11-xcb.so.* | libxcb.so.* | libxcb-dri2.so.* | libxcb-dri3.so.* | \
      libGL.so.* | libEGL.so.* | libGLX.so.* | libGLdispatch.so.* | libOpenGL.so.* | \
      libglapi.so.* | libdrm.so.* | libgbm.so.* | libvulkan.so.* | libwayland-*.so.*) return 0 ;;
    libfontconfig.so.* | libfreetype.so.* | libharfbuzz.so.*) return 0 ;;
    libz.so.* | libexpat.so.* | libuuid.so.* | libgpg-error.so.* | libcom_err.so.* | libgmp.so.*) return 0 ;;
  esac
  return 1
}

needed() { readelf -d "$1" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'; }
package_of() { { dpkg -S "$1" 2>/dev/null || true; } | head -n1 | cut -d: -f1; }

version=$("$bin" --version | head -n1 | awk '{print $2}')
arch=$(uname -m)
name="tessera-$version-linux-$arch"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
root="$work/$name"
mkdir -p "$root/bin" "$root/lib" "$root/licenses"

# Where the loader finds each soname the binary pulls in, as ldd reports it.
declare -A path_of=()
while read -r soname arrow path _; do
  if [ "$arrow" = "=>" ] && [ -n "$path" ] && [ "$path" != "not" ]; then path_of[$soname]=$path; fi
done < <(ldd "$bin")

# Walk the NEEDED graph from the binary, bundling what is not left to the system.
declare -A seen=()
queue=("$bin")
manifest=()
while [ ${#queue[@]} -gt 0 ]; do
  obj=${queue[0]}
  queue=("${queue[@]:1}")
  for soname in $(needed "$obj"); do
    if [ -n "${seen[$soname]:-}" ]; then continue; fi
    seen[$soname]=1
    if is_system_lib "$soname"; then continue; fi
    src=${path_of[$soname]:-}
    if [ -z "$src" ]; then
      echo "[bundle] cannot find $soname (needed by $(basename "$obj"))" >&2
      exit 1
    fi
    real=$(readlink -f "$src")
    install -m 644 "$real" "$root/lib/$soname"
    pkg=$(package_of "$real")
    if [ -z "$pkg" ]; then pkg=$(package_of "$src"); fi
    pkgver=$(dpkg-query -W -f='${Version}' "$pkg" 2>/dev/null || echo "?")
    manifest+=("$soname $pkg $pkgver")
    if [ -n "$pkg" ] && [ -f "/usr/share/doc/$pkg/copyright" ]; then
      cp "/usr/share/doc/$pkg/copyright" "$root/licenses/$pkg.copyright"
    fi
    queue+=("$root/lib/$soname")
  done
done
if [ ! -f "$root/lib/libopenslide.so.0" ]; then
  echo "[bundle] libopenslide.so.0 is not among the binary's libraries" >&2
  exit 1
fi

strip -o "$root/bin/tessera" "$bin"
cat >"$root/tessera" <<'EOF'
#!/bin/sh
# Tessera portable bundle: load OpenSlide and its libraries from lib/ beside this script.
# Symlinks to this script work (e.g. /usr/local/bin/tessera -> /opt/tessera-…/tessera).
here=$(dirname "$(readlink -f "$0")")
LD_LIBRARY_PATH="$here/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export LD_LIBRARY_PATH
exec "$here/bin/tessera" "$@"
EOF
chmod 755 "$root/tessera"

# share/: the same files the .deb installs under /usr/share.
share="$root/share"
install -Dm 644 packaging/linux/tessera.desktop "$share/applications/tessera.desktop"
install -Dm 644 packaging/linux/tessera-mime.xml "$share/mime/packages/tessera.xml"
install -Dm 644 packaging/linux/io.github.tessera.Tessera.metainfo.xml \
  "$share/metainfo/io.github.tessera.Tessera.metainfo.xml"
install -Dm 644 assets/icons/tessera.svg "$share/icons/hicolor/scalable/apps/tessera.svg"
for size in 16 32 48 64 128 256 512; do
  install -Dm 644 "assets/icons/tessera-$size.png" "$share/icons/hicolor/${size}x${size}/apps/tessera.png"
done
mkdir -p "$share/man/man1"
for page in "$gen"/man/*.1; do
  gzip -9n <"$page" >"$share/man/man1/$(basename "$page").gz"
done
install -Dm 644 "$gen/completions/tessera.bash" "$share/bash-completion/completions/tessera"
install -Dm 644 "$gen/completions/_tessera" "$share/zsh/site-functions/_tessera"
install -Dm 644 "$gen/completions/tessera.fish" "$share/fish/vendor_completions.d/tessera.fish"

printf '%s\n' "${manifest[@]}" | sort >"$root/BUNDLED-LIBRARIES.txt"
# The newest glibc symbol version any shipped ELF file asks for: the oldest glibc it runs on.
glibc=$(objdump -T "$root/bin/tessera" "$root"/lib/*.so* 2>/dev/null |
  { grep -o 'GLIBC_[0-9][0-9.]*' || true; } | sort -uV | tail -n1 | sed 's/GLIBC_//')
system_needed=$(for soname in "${!seen[@]}"; do
  if is_system_lib "$soname"; then echo "$soname"; fi
done | sort | tr '\n' ' ')

cat >"$root/README.txt" <<EOF
Tessera $version: portable bundle for Linux ($arch)

Run:      ./tessera            (the GUI on the built-in demo study)
          ./tessera --version  (version, commit, OpenSlide and SQLite in use)
          ./tessera --help

Install for all users (as root), e.g. into /opt:
  tar -xJf $name.tar.xz -C /opt
  ln -s /opt/$name/tessera /usr/local/bin/tessera
  cp -r /opt/$name/share/. /usr/local/share/
  update-mime-database /usr/local/share/mime; update-desktop-database /usr/local/share/applications
  gtk-update-icon-cache /usr/local/share/icons/hicolor   (the last three if installed)

What is inside: bin/tessera (the program), lib/ (OpenSlide and the libraries it needs that
a desktop system may lack; see BUNDLED-LIBRARIES.txt and licenses/), and the launcher
./tessera, which puts lib/ first on LD_LIBRARY_PATH and starts bin/tessera.

What the system must provide: glibc >= $glibc, libstdc++ and libgcc_s, an X11 or Wayland
desktop, Vulkan (libvulkan1 and a driver; Mesa's lavapipe works without a GPU) or EGL/GL,
fontconfig and freetype. Libraries the binary and OpenSlide load from the system:
$system_needed
plus the ones loaded at run time: libvulkan.so.1, libEGL.so.1, libX11.so.6,
libX11-xcb.so.1, libXcursor.so.1, libXi.so.6, libxcb.so.1, libxkbcommon.so.0,
libxkbcommon-x11.so.0, libwayland-client.so.0, libwayland-egl.so.1.

OpenSlide is LGPL-2.1: the copies in lib/ can be replaced by any compatible build.
EOF

mkdir -p "$out"
rm -f "$out"/tessera-*-linux-*.tar.xz
epoch=$(git log -1 --format=%ct 2>/dev/null || date +%s)
tar -C "$work" --sort=name --owner=0 --group=0 --numeric-owner --mtime="@$epoch" -cf - "$name" |
  xz -T0 -6 >"$out/$name.tar.xz"
echo "[bundle] $out/$name.tar.xz: $(find "$root/lib" -name '*.so*' | wc -l) libraries, glibc >= $glibc"
