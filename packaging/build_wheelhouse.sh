#!/usr/bin/env bash
# Build an offline wheelhouse for air-gapped installation.
#   bash packaging/build_wheelhouse.sh [OUT_DIR]        (on a connected machine of the same kind)
# Copies every pinned dependency (and their dependencies) as wheels, plus the workstation's own
# wheel, into OUT_DIR (default: ./wheelhouse), writes SHA256SUMS, and an install script. On the
# air-gapped machine:
#   sha256sum -c SHA256SUMS && bash install-offline.sh
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT=$(realpath -m "${1:-$ROOT/wheelhouse}")
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null 2>&1 || PY=python3
mkdir -p "$OUT"
links=()
[ -d /opt/wheels ] && links=(--find-links /opt/wheels)

echo "building the workstation wheel"
"$PY" -m pip wheel -q --no-deps -w "$OUT" "$ROOT"
echo "building wheels of the dependencies published only as source (pyworld)"
"$PY" -m pip wheel -q --no-deps -w "$OUT" "pyworld==0.3.5"
echo "adding the Resemblyzer wheel (GE2E speaker-encoder weights; installed without its dependencies)"
"$PY" -m pip download -q --no-deps -d "$OUT" "Resemblyzer==0.1.4"
echo "downloading pinned dependencies"
"$PY" -m pip download -q "${links[@]}" --find-links "$OUT" --only-binary=:all: -d "$OUT" "$ROOT[dev]"
cp "$ROOT/packaging/forensics-app.desktop" "$OUT/"
cat > "$OUT/install-offline.sh" <<'INNER'
#!/usr/bin/env bash
# Install the workstation from this folder without any network access.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
VENV=${1:-$HOME/.local/share/forensics-app/venv}
python3.11 -m venv "$VENV"
"$VENV/bin/python" -m pip install --no-index --find-links "$HERE" forensics-app
"$VENV/bin/python" -m pip install --no-index --no-deps --find-links "$HERE" "Resemblyzer==0.1.4"
mkdir -p "$HOME/.local/share/applications"
sed "s|^Exec=forensics-app|Exec=$VENV/bin/forensics-app|; s|^TryExec=forensics-app|TryExec=$VENV/bin/forensics-app|" \
  "$HERE/forensics-app.desktop" > "$HOME/.local/share/applications/forensics-app.desktop"
echo "installed: $VENV/bin/forensics-app (Debian packages needed: ffmpeg espeak-ng sox libxcb-cursor0 libpango-1.0-0)"
INNER
chmod +x "$OUT/install-offline.sh"
(cd "$OUT" && sha256sum ./*.whl install-offline.sh forensics-app.desktop > SHA256SUMS)
echo "wheelhouse: $OUT ($(ls "$OUT"/*.whl | wc -l) wheels, $(du -sh "$OUT" | cut -f1))"
