"""Case lifecycle for the main window: create, open, show, reload, verify, report and close a case.

:class:`CaseActions` is a plain Python helper owned by
:class:`~forensics_app.gui.main_window.MainWindow` (composition); the window keeps the case state
(``store``, ``case``, ``findings``, ``last_verify_report``) and delegates its case methods here.
Opening, creating, hashing and report writing are jobs on the window's
:class:`~forensics_app.gui.workers.WorkerPool`; reads are short Sessions copying plain values
(:mod:`forensics_app.gui.snapshots`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog

from forensics_app.domain.errors import ForensicsError
from forensics_app.gui import snapshots, tasks
from forensics_app.gui.new_case_dialog import NewCaseDialog
from forensics_app.gui.verify_dialog import VerifyReportDialog
from forensics_app.store.case import CaseStore

if TYPE_CHECKING:
    from forensics_app.gui.main_window import MainWindow

log = logging.getLogger(__name__)

APP_TITLE = "Forensic Workstation"
REPORT_FILTERS = "PDF report (*.pdf);;HTML report (*.html);;JSON export (*.json)"


class CaseActions:
    """The window's case commands (File ▸ New/Open/Export report, Analysis ▸ Verify integrity).

    Parameters
    ----------
    window : MainWindow
        The owning window; its state and widgets are read and updated in place.
    """

    def __init__(self, window: MainWindow) -> None:
        self.window = window

    # ------------------------------------------------------------ open / new

    def open_case_dialog(self) -> None:
        """File ▸ Open case…: choose a case folder."""
        folder = QFileDialog.getExistingDirectory(self.window, "Open case folder")
        if folder:
            self.window.open_case(Path(folder))

    def open_case(self, root: Path) -> str:
        """Open a case folder in the background; errors are shown, never raised. Returns the job key."""
        w = self.window
        key = w.pool.unique_key("case")
        w.statusBar().showMessage(f"opening {root}…")
        w.pool.submit(key, tasks.open_case(Path(root)), on_finished=lambda store: w.set_store(store),
                      on_failed=lambda msg, tb: w.notify(f"Cannot open {root}: {msg}", level="error",
                                                         detail=tb, title="Open case"),
                      interactive=True)
        return key

    def new_case_dialog(self) -> None:
        """File ▸ New case…: ask for folder, title, examiner and number, then create it."""
        w = self.window
        dialog = NewCaseDialog(examiner=w.examiner, parent=w)
        if dialog.exec() == NewCaseDialog.DialogCode.Accepted:
            req = dialog.request()
            w.new_case(req.folder, title=req.title, examiner=req.examiner, number=req.number)

    def new_case(self, folder: Path, *, title: str, examiner: str, number: str | None = None) -> str:
        """Create a case in the background and open it. Returns the job key."""
        w = self.window
        key = w.pool.unique_key("case")
        w.pool.submit(key, tasks.create_case(Path(folder), title=title, examiner=examiner, number=number),
                      on_finished=lambda store: w.set_store(store),
                      on_failed=lambda msg, tb: w.notify(f"Cannot create the case: {msg}", level="error",
                                                         detail=tb, title="New case"),
                      interactive=True)
        return key

    # ----------------------------------------------------------- show / close

    def set_store(self, store: CaseStore, *, owned: bool = True) -> None:
        """Show an opened case (the window closes it later when ``owned``)."""
        w = self.window
        w.close_case()
        w.store = store
        w._owns_store = owned
        w._generation += 1
        try:
            w.case = snapshots.read_case(store)
        except ForensicsError as exc:
            w.notify(str(exc), level="error", title="Open case")
            w.close_case()
            return
        w.viewer.set_artifacts(store.artifacts)
        w.evidence_panel.set_case(w.case)
        w.annotations_panel.set_store(store)
        w.case_label.setText(f"case {w.case.number} · {w.case.title}")
        w.setWindowTitle(f"{APP_TITLE} — {w.case.number} {w.case.title}")
        w._update_actions()
        w.refresh()
        w.statusBar().showMessage(f"opened case {w.case.number} ({store.root})", 8000)
        w.case_changed.emit(w.case)

    def close_case(self) -> None:
        """Stop the case's jobs and close it."""
        w = self.window
        if w.store is None:
            return
        w.viewer.set_artifacts(None)
        if not w.pool.shutdown(include_interactive=False):
            log.warning("background jobs of %s did not stop in time", w.store.root)
        if w._owns_store:
            w.store.close()
        w.store, w.case, w.findings = None, None, []
        w._generation += 1
        w.annotations_panel.set_store(None)
        w.evidence_panel.set_case(None)
        w.evidence_panel.set_items([])
        w.findings_panel.set_findings([])
        w.case_label.setText("no case open")
        w.setWindowTitle(APP_TITLE)
        w._update_actions()
        w.case_changed.emit(None)

    # ----------------------------------------------------------------- reload

    def refresh(self) -> None:
        """Reload evidence and findings from the store (short reads)."""
        self.window.refresh_evidence()
        self.window.refresh_findings()

    def refresh_evidence(self) -> None:
        """Reload the evidence list (integrity colours included)."""
        w = self.window
        if w.store is None:
            return
        items = snapshots.read_evidence(w.store)
        w.evidence_panel.set_items(items)
        w.evidence_changed.emit()

    def refresh_findings(self, *, evidence_id: int | None = None) -> None:
        """Reload findings (all, or one evidence item's) and redraw the viewer's lanes."""
        w = self.window
        if w.store is None:
            return
        if evidence_id is None:
            w.findings = snapshots.read_findings(w.store)
        else:
            fresh = snapshots.read_findings(w.store, evidence_id=evidence_id)
            w.findings = [f for f in w.findings if f.evidence_id != evidence_id] + fresh
            w.findings.sort(key=lambda f: (f.evidence_id, f.analyzer_id, f.rank))
        w.findings_panel.set_findings(w.findings)
        w.viewer.set_findings(w.findings)
        w.findings_changed.emit()

    # -------------------------------------------------------------- integrity

    def verify_integrity(self) -> str | None:
        """Analysis ▸ Verify integrity: re-hash every copy and check the audit trail in the background."""
        w = self.window
        if w.store is None:
            return None
        key = w.pool.unique_key("verify")
        generation = w._generation
        w.jobs_panel.add_job(key, title="verify integrity", evidence="all")
        w.pool.submit(key, tasks.verify(w.store, examiner=w.examiner),
                      on_finished=lambda report: self._on_verified(key, generation, report),
                      on_failed=lambda msg, tb: w.notify(f"Verification could not run: {msg}",
                                                         level="error", detail=tb))
        return key

    def _on_verified(self, key: str, generation: int, report: Any) -> None:
        w = self.window
        if not w._current(generation):
            return
        w.last_verify_report = report
        failed = sum(1 for c in report.evidence if c.state != "verified")
        w.jobs_panel.set_done(key, "passed" if report.ok else
                              f"FAILED: {failed} cop(ies) changed or missing"
                              + ("" if report.chain.ok else "; audit trail broken"))
        w.refresh_evidence()
        w.statusBar().showMessage("verification passed" if report.ok else "verification FAILED", 15_000)
        dialog = VerifyReportDialog(report, parent=w)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()

    # ----------------------------------------------------------------- report

    def export_report_dialog(self) -> None:
        """File ▸ Export report…: choose where and in which format."""
        w = self.window
        if w.store is None or w.case is None:
            return
        default = str(w.store.root / f"{w.case.number}-report.pdf")
        path, chosen = QFileDialog.getSaveFileName(w, "Export report", default, REPORT_FILTERS)
        if not path:
            return
        out = Path(path)
        if out.suffix.lower() not in {".pdf", ".html", ".json"}:
            out = out.with_suffix("." + chosen.split("*.")[-1].rstrip(")") if "*." in chosen else ".pdf")
        w.export_report(out)

    def export_report(self, out: Path, *, evidence_ids: Sequence[int] | None = None) -> str | None:
        """Write the report in the background (format from the suffix). Returns the job key."""
        w = self.window
        if w.store is None:
            return None
        key = w.pool.unique_key("report")
        w.jobs_panel.add_job(key, title="export report", evidence=out.name)
        w.pool.submit(key, tasks.export_report(w.store, Path(out), examiner=w.examiner,
                                               evidence_ids=evidence_ids),
                      on_finished=lambda written: (w.jobs_panel.set_done(key, f"written: {written}"),
                                                   w.notify(f"Report written to {written}")),
                      on_failed=lambda msg, tb: w.notify(f"The report could not be exported: {msg}",
                                                         level="error", detail=tb, title="Export report"))
        return key
