"""Render a case report to HTML, PDF or JSON and record the export in the audit trail.

One Jinja2 template (``resources/templates/report.html.j2``, autoescape on) gives the HTML; the
PDF is WeasyPrint's rendering of that same HTML with the print stylesheet (A4, the case number in
the page header, "Page X of Y" in the footer). The HTML is one self-contained file: the stylesheet
is inlined and the figures are embedded as ``data:`` URIs read back (hash-checked) from the case's
artifact store. The JSON is :meth:`ReportData.as_json`.

After the file is written, :func:`export_report` records a ``report.exported`` audit event with the
output path, the format and the SHA-256 of the file as written, so that a copy handed over later
can be matched to this export.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup

from forensics_app.domain.errors import ForensicsError, IntegrityError, NotFound
from forensics_app.ingest.hashing import sha256_file
from forensics_app.report.build import build_report
from forensics_app.report.formatting import FILTERS
from forensics_app.report.model import ReportData
from forensics_app.report.resources import REPORT_TEMPLATE, templates_dir
from forensics_app.store import audit
from forensics_app.store.case import CaseStore

#: Output formats by file suffix.
FORMATS = {".html": "html", ".htm": "html", ".pdf": "pdf", ".json": "json"}
STYLESHEET = "report.css"


def report_format(out: Path) -> str:
    """The format (``"html"``, ``"pdf"`` or ``"json"``) chosen by the suffix of ``out``.

    Raises
    ------
    ForensicsError
        For any other suffix.
    """
    fmt = FORMATS.get(Path(out).suffix.lower())
    if fmt is None:
        raise ForensicsError(
            f"{Path(out).name}: cannot export a report as {Path(out).suffix or 'a file without a suffix'}; "
            "use .html (self-contained web page), .pdf (printable) or .json (machine-readable)"
        )
    return fmt


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir())),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(FILTERS)
    return env


def render_html(report: ReportData, *, store: CaseStore, for_print: bool = False) -> str:
    """The report as one self-contained HTML document.

    Parameters
    ----------
    report : ReportData
        From :func:`~forensics_app.report.build.build_report`.
    store : CaseStore
        The case whose artifact store holds the figures (read and hash-checked).
    for_print : bool
        Mark the document as the source of a PDF (the template can omit screen-only parts).
    """
    env = _environment()
    # Our own stylesheet, inlined verbatim (escaping would break quoted font names in <style>).
    css = Markup((templates_dir() / STYLESHEET).read_text(encoding="utf-8"))
    figures: dict[str, str | None] = {}
    figure_errors: dict[str, str] = {}
    for fig in report.figures:
        try:
            png = store.artifacts.get_bytes(fig.sha256, suffix=".png", verify=True)
        except (NotFound, IntegrityError) as exc:
            figures[fig.sha256] = None
            figure_errors[fig.sha256] = str(exc)
            continue
        figures[fig.sha256] = "data:image/png;base64," + base64.b64encode(png).decode("ascii")
    template = env.get_template(REPORT_TEMPLATE)
    return template.render(r=report, css=css, figures=figures, figure_errors=figure_errors,
                           for_print=for_print)


def _import_weasyprint() -> Any:
    """Import WeasyPrint (late: it takes about a second and only PDF export needs it).

    On import WeasyPrint sets Pillow's process-wide ``ImageFile.LOAD_TRUNCATED_IMAGES = True``,
    which would make evidence probing in the same process accept truncated images. The flag is
    put back as it was.
    """
    from PIL import ImageFile

    before = ImageFile.LOAD_TRUNCATED_IMAGES
    try:
        import weasyprint
    finally:
        ImageFile.LOAD_TRUNCATED_IMAGES = before
    return weasyprint


def render_pdf(report: ReportData, *, store: CaseStore) -> bytes:
    """The report as a PDF (A4) rendered by WeasyPrint from :func:`render_html`."""
    weasyprint = _import_weasyprint()
    html = render_html(report, store=store, for_print=True)
    return weasyprint.HTML(string=html, base_url=str(templates_dir())).write_pdf()


def render_json(report: ReportData) -> str:
    """The report as indented JSON text (UTF-8)."""
    return json.dumps(report.as_json(), indent=2, ensure_ascii=False) + "\n"


def export_report(
    store: CaseStore, *, out: Path, examiner: str, evidence_ids: Sequence[int] | None = None
) -> Path:
    """Build, render and write a report; record the export in the audit trail.

    Parameters
    ----------
    store : CaseStore
        The open case.
    out : Path
        Output file; its suffix picks the format: ``.html``/``.htm``, ``.pdf`` or ``.json``. An
        existing file is replaced (each export is audited with its own SHA-256). Missing parent
        folders are created.
    examiner : str
        The examiner producing the report.
    evidence_ids : sequence of int, optional
        Report only these evidence items (default: all).

    Returns
    -------
    Path
        The absolute path of the written report.

    Raises
    ------
    ForensicsError
        Unknown suffix, an output path inside the case's evidence or artifact folders, or an
        empty examiner name (all checked before anything is verified or written).
    NotFound
        An evidence id that is not in the case.
    """
    out = Path(out).expanduser().resolve()
    fmt = report_format(out)
    for protected in (store.evidence_dir, store.artifacts_dir):
        if out.is_relative_to(protected.resolve()):
            raise ForensicsError(f"{out}: a report cannot be written inside the case's {protected.name}/ folder")
    if not examiner.strip():
        raise ForensicsError("a report needs the name of the examiner producing it")

    report = build_report(store, examiner=examiner, evidence_ids=evidence_ids)
    if fmt == "pdf":
        data = render_pdf(report, store=store)
    elif fmt == "html":
        data = render_html(report, store=store).encode("utf-8")
    else:
        data = render_json(report).encode("utf-8")

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    sha = sha256_file(out)

    with store.transaction() as s:
        audit.record(s, action="report.exported", examiner=examiner, details={
            "path": str(out),
            "format": fmt,
            "sha256": sha,
            "size": out.stat().st_size,
            "evidence_ids": [ev.evidence_id for ev in report.evidence],
            "verification_ok": report.verification_ok,
            "produced_at": report.production.produced_at,
            "figures": [fig.sha256 for fig in report.figures],
        })
    return out
