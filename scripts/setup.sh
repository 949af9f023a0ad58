#!/usr/bin/env bash
# Installs what Tessera needs to build, run and test on Debian/Ubuntu, when it is missing.
# Idempotent: does nothing when everything is already there.
#   scripts/setup.sh            build + run + test packages
# Uses sudo when not root. On other systems it says what to install and stops.
set -euo pipefail

# Build: C/C++ toolchain (codecs: CharLS, OpenJPEG), pkg-config, libclang (bindgen), OpenSlide,
# libjpeg-turbo's TurboJPEG (linked statically: slide tiles), clang (compiles the vendored
# OpenJPEG: its packed MQ decoder runs about 12 % faster built by clang than by GCC 12).
BUILD_PKGS="build-essential pkg-config cmake clang libclang-dev libopenslide-dev libturbojpeg0-dev"
# Run: OpenSlide, Vulkan/GL (Mesa software renderers work without a GPU), X11/Wayland client libs.
RUN_PKGS="libopenslide0 libvulkan1 mesa-vulkan-drivers libegl1 libegl-mesa0 libgl1-mesa-dri \
  libx11-6 libx11-xcb1 libxcursor1 libxi6 libxrandr2 libxkbcommon0 libxkbcommon-x11-0 \
  libwayland-client0 libwayland-cursor0 libwayland-egl1 libfontconfig1 libdbus-1-3 fonts-dejavu-core"
# Headless runs and GUI smoke tests: virtual X server, input driver, screenshots.
HEADLESS_PKGS="xvfb xauth xdotool x11-utils imagemagick"
# Tools the test-suite uses as independent readers of what Tessera writes (dcmtk;
# dicom3tools' dciodvfy validates the DICOM SEG and SR exports), the freedesktop
# validators for the desktop entry and metainfo (tests/it/packaging.rs), and Python's
# venv for the test readers below.
TEST_PKGS="dcmtk dicom3tools desktop-file-utils appstream python3-venv"

need=()
if command -v dpkg-query >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
  for p in $BUILD_PKGS $RUN_PKGS $HEADLESS_PKGS $TEST_PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need+=("$p")
  done
  if [ ${#need[@]} -gt 0 ]; then
    SUDO=""
    if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
    echo "[setup] installing: ${need[*]}"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  fi
else
  echo "[setup] this script knows Debian/Ubuntu (apt-get) only." >&2
  echo "[setup] install by hand: a C/C++ compiler, cmake, pkg-config, libclang, OpenSlide (dev), Vulkan or GL drivers, Xvfb" >&2
  exit 1
fi

# Python readers the interop tests check exports with (tests/it/interop): highdicom
# (DICOM SEG and SR) and nibabel (NIfTI), in a virtual environment under target/ that
# the tests find. Skipped quickly when they import; a failed install only warns (the
# tests then say they skip those checks).
PYVENV="${TESSERA_PYVENV:-$(dirname "$0")/../target/pyvenv}"
PY_PKGS="highdicom==0.28.2 nibabel==5.4.2"
if ! "$PYVENV/bin/python" -c "import highdicom, nibabel" >/dev/null 2>&1; then
  echo "[setup] installing Python test readers into $PYVENV: $PY_PKGS"
  if python3 -m venv "$PYVENV" && "$PYVENV/bin/pip" install -q $PY_PKGS; then
    :
  else
    echo "[setup] warning: could not install $PY_PKGS; the interop tests will skip those checks" >&2
  fi
fi

# Rust: eframe/egui 0.37 need rustc >= 1.95 (Debian's rustc is older), so use rustup.
if ! command -v cargo >/dev/null 2>&1 && [ -x "$HOME/.cargo/bin/cargo" ]; then
  export PATH="$HOME/.cargo/bin:$PATH"
fi
rust_ok() {
  command -v rustc >/dev/null 2>&1 || return 1
  local v; v=$(rustc --version | awk '{print $2}')
  [ "$(printf '%s\n1.95.0\n' "$v" | sort -V | head -n1)" = "1.95.0" ]
}
if ! rust_ok; then
  if command -v rustup >/dev/null 2>&1; then
    rustup toolchain install stable --profile minimal -c rustfmt,clippy
    rustup default stable
  else
    echo "[setup] installing Rust with rustup (https://rustup.rs)"
    command -v curl >/dev/null 2>&1 || { $SUDO apt-get install -y -qq curl ca-certificates >/dev/null; }
    curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal -c rustfmt,clippy
    export PATH="$HOME/.cargo/bin:$PATH"
  fi
fi
if command -v rustup >/dev/null 2>&1; then
  rustup component list --installed 2>/dev/null | grep -q '^rustfmt' || rustup component add rustfmt
  rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy
fi
echo "[setup] ready: $(rustc --version)"
