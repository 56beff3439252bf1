#!/usr/bin/env bash
# Install everything the workstation needs, idempotently (fast when already up to date):
#   1. Debian packages (ffmpeg, espeak-ng, sox, Qt's X11 libraries, pango for PDF reports, ...)
#   2. a virtual environment in .venv with the pinned Python dependencies and the app (editable).
# Used by packaging/run.sh on every start; safe to run by hand. Needs network access to Debian's
# and PyPI's package archives the first time, or an offline wheelhouse (packaging/build_wheelhouse.sh)
# passed as FORENSICS_APP_WHEELHOUSE=/path/to/wheelhouse.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV=${FORENSICS_APP_VENV:-$ROOT/.venv}
APT_PACKAGES=(
  ffmpeg espeak-ng sox poppler-utils xvfb xdotool
  libxcb-icccm4 libxcb-keysyms1 libxcb-xinerama0 libxcb-cursor0 libxcb-image0 libxcb-render-util0
  libxcb-randr0 libxcb-shape0 libxcb-xkb1 libxkbcommon-x11-0 libegl1 libgl1 libglib2.0-0 libdbus-1-3
  libfontconfig1 libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core
)

log() { printf '[install] %s\n' "$*" >&2; }

install_system_packages() {
  command -v dpkg-query >/dev/null 2>&1 || { log "not a Debian system: install ${APT_PACKAGES[*]} yourself"; return 0; }
  local missing=()
  for p in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  local sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then sudo=(sudo -n); else
      log "missing Debian packages (need root to install): ${missing[*]}"; return 0; fi
  fi
  log "installing Debian packages: ${missing[*]}"
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

find_python() {
  for c in python3.11 python3; do
    if command -v "$c" >/dev/null 2>&1 && "$c" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
      echo "$c"; return 0; fi
  done
  log "Python 3.11 is required"; return 1
}

install_python_packages() {
  local stamp="$VENV/.forensics-app-installed"
  local want
  want=$(cat "$ROOT/pyproject.toml" "$ROOT/packaging/install.sh" | sha256sum | cut -d' ' -f1)
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -x "$VENV/bin/forensics-app" ]; then return 0; fi
  local py; py=$(find_python)
  [ -x "$VENV/bin/python" ] || { log "creating virtual environment in $VENV"; "$py" -m venv "$VENV"; }
  local pip=("$VENV/bin/python" -m pip install -q --disable-pip-version-check)
  if [ -n "${FORENSICS_APP_WHEELHOUSE:-}" ]; then
    pip+=(--no-index --find-links "$FORENSICS_APP_WHEELHOUSE")
  elif [ -d /opt/wheels ]; then
    pip+=(--find-links /opt/wheels)   # where this machine keeps the torch==2.13.0+cpu wheel
  fi
  log "installing Python packages (first run takes a few minutes)"
  "${pip[@]}" -e "$ROOT[dev]"
  # The GE2E speaker encoder (Apache-2.0) ships its weights inside the Resemblyzer wheel; the
  # workstation loads them from the installed package and never imports Resemblyzer itself, so
  # its dependencies (webrtcvad, which needs a compiler, and the obsolete "typing") are skipped.
  "${pip[@]}" --no-deps "Resemblyzer==0.1.4"
  echo "$want" > "$stamp"
}

install_system_packages
install_python_packages
