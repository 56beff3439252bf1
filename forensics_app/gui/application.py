"""The QApplication of the workstation: names, style and pyqtgraph defaults (created once)."""

from __future__ import annotations

import sys

import pyqtgraph as pg
from PySide6.QtWidgets import QApplication

from forensics_app import __version__

ORGANIZATION = "forensics-app"
APPLICATION = "Forensic Workstation"
STYLE = "Fusion"


def application() -> QApplication:
    """The process's QApplication, created on first use with name, organisation and style."""
    app = QApplication.instance()
    if app is None:
        app = QApplication(sys.argv[:1])
        app.setApplicationName(APPLICATION)
        app.setApplicationDisplayName(APPLICATION)
        app.setOrganizationName(ORGANIZATION)
        app.setApplicationVersion(__version__)
        app.setStyle(STYLE)
    pg.setConfigOptions(antialias=False, imageAxisOrder="row-major")
    assert isinstance(app, QApplication)
    return app


def run_event_loop() -> int:
    """Run the application's event loop until the last window closes; its exit status."""
    return int(application().exec())
