"""Case reports built from the case store only: content, figures, and HTML / PDF / JSON renderings.

Public API:

- :func:`build_report` re-verifies the case and returns a frozen :class:`ReportData`;
- :func:`export_report` writes ``.html``, ``.pdf`` or ``.json`` and audits the export;
- :func:`render_html`, :func:`render_pdf`, :func:`render_json` render a ReportData.
"""

from forensics_app.report.build import build_report
from forensics_app.report.model import ReportData
from forensics_app.report.render import export_report, render_html, render_json, render_pdf

__all__ = ["build_report", "export_report", "render_html", "render_json", "render_pdf", "ReportData"]
