"""Composition root of the desktop application: settings, QApplication, MainWindow, optional case.

``forensics-app gui [DIR]`` and ``forensics-app demo`` call :func:`launch`; the
``forensics-app-gui`` script calls :func:`main`. Qt is reached only through :mod:`forensics_app.gui`
(an import-linter contract). torch is not imported here: the compute device is detected in the
background once the window is up.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from forensics_app import __version__, settings
from forensics_app.gui.application import application, run_event_loop
from forensics_app.gui.main_window import MainWindow


def build_window(case_dir: Path | None = None, *, examiner: str | None = None) -> MainWindow:
    """Create the QApplication if needed and a MainWindow, opening ``case_dir`` when given.

    Parameters
    ----------
    case_dir : Path, optional
        Case folder opened in the background; errors are shown in the window.
    examiner : str, optional
        Who works at the station (default :func:`forensics_app.settings.examiner_name`).
    """
    application()
    window = MainWindow(examiner=examiner or settings.examiner_name())
    if case_dir is not None:
        window.open_case(Path(case_dir))
    return window


def launch(case_dir: Path | None = None) -> int:
    """Open the workstation (on ``case_dir`` if given) and run the event loop.

    Parameters
    ----------
    case_dir : Path, optional
        A case folder to open at start-up; errors (not a case, unreadable) are shown in the window.

    Returns
    -------
    int
        The exit status of the event loop.
    """
    window = build_window(case_dir)
    window.show()
    return run_event_loop()


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``forensics-app-gui [CASE_DIR]``."""
    parser = argparse.ArgumentParser(prog="forensics-app-gui", description="Open the forensic workstation.")
    parser.add_argument("case_dir", nargs="?", help="case folder to open")
    parser.add_argument("--version", action="version", version=f"forensics-app {__version__}")
    args = parser.parse_args(list(argv) if argv is not None else None)
    return launch(Path(args.case_dir) if args.case_dir else None)


if __name__ == "__main__":
    raise SystemExit(main())
