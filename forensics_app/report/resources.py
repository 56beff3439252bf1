"""Locate the report templates (``resources/templates``) without absolute paths in any config.

Search order:

1. ``FORENSICS_APP_RESOURCES`` (a folder that holds ``templates/``), for installations that keep
   resources elsewhere;
2. ``resources/`` next to the ``forensics_app`` package (a source checkout or an editable install:
   ``Path(forensics_app.__file__).parent.parent / "resources"``);
3. ``resources/`` inside the PyInstaller bundle (``sys._MEIPASS``);
4. ``<prefix>/share/forensics-app/resources`` (a wheel install: pyproject's data-files);
5. ``forensics_app/resources`` as package data, through :mod:`importlib.resources` (a wheel that
   ships the resources inside the package).
"""

from __future__ import annotations

import importlib.resources
import os
import sys
from pathlib import Path

import forensics_app
from forensics_app.domain.errors import ForensicsError

REPORT_TEMPLATE = "report.html.j2"


def _candidates() -> list[Path]:
    out = []
    env = os.environ.get("FORENSICS_APP_RESOURCES")
    if env:
        out.append(Path(env))
    out.append(Path(forensics_app.__file__).resolve().parent.parent / "resources")
    bundle = getattr(sys, "_MEIPASS", None)
    if bundle:
        out.append(Path(bundle) / "resources")
    out.append(Path(sys.prefix) / "share" / "forensics-app" / "resources")
    try:
        packaged = importlib.resources.files("forensics_app") / "resources"
        if isinstance(packaged, Path):
            out.append(packaged)
    except (ModuleNotFoundError, TypeError):
        pass
    return out


def templates_dir() -> Path:
    """The folder that holds :data:`REPORT_TEMPLATE` and its stylesheet.

    Raises
    ------
    ForensicsError
        When no candidate folder holds the report template (the installation is incomplete).
    """
    tried = []
    for root in _candidates():
        folder = root / "templates"
        if (folder / REPORT_TEMPLATE).is_file():
            return folder
        tried.append(str(folder))
    raise ForensicsError(
        f"the report template {REPORT_TEMPLATE} was not found (looked in: {'; '.join(tried)}); "
        "the installation is incomplete or FORENSICS_APP_RESOURCES points to the wrong folder"
    )
