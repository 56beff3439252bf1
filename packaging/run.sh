#!/usr/bin/env bash
# The README's two commands:
#   bash packaging/run.sh demo   install on first use, build the demo case, open the workstation on it
#   bash packaging/run.sh test   install on first use, run the whole test suite
# and: bash packaging/run.sh gui [CASE_DIR] | cli ARGS... (any forensics-app command)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV=${FORENSICS_APP_VENV:-$ROOT/.venv}
bash "$ROOT/packaging/install.sh"
export PATH="$VENV/bin:$PATH"

cmd=${1:-demo}
shift || true
case "$cmd" in
  demo)
    if [ -z "${DISPLAY:-}" ] && [ -z "${WAYLAND_DISPLAY:-}" ] && [ "${QT_QPA_PLATFORM:-}" != "offscreen" ]; then
      echo "No display found: building the demo case without opening the window." >&2
      exec forensics-app demo --no-gui "$@"
    fi
    exec forensics-app demo "$@" ;;
  test)
    cd "$ROOT"
    export QT_QPA_PLATFORM=offscreen
    echo "== import contracts (Qt only in forensics_app/gui)"
    lint-imports
    echo "== ruff"
    ruff check forensics_app tests benchmarks
    echo "== pytest"
    set +e
    python -m pytest "$@"
    status=$?
    set -e
    # pytest exits 5 when it collected no test: that is a failure here, not a pass.
    exit $status ;;
  gui) exec forensics-app gui "$@" ;;
  cli) exec forensics-app "$@" ;;
  *) echo "usage: bash packaging/run.sh demo|test|gui [DIR]|cli ARGS..." >&2; exit 2 ;;
esac
