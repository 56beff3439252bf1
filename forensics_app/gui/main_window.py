"""The workstation's main window: docks for evidence, findings, annotations and jobs around the central viewer.

The window owns the widgets, menus, status bar and selection wiring, and the case state (``store``,
``case``, ``findings``, ``annotations``). Its commands live in helpers it owns:
:class:`~forensics_app.gui.case_actions.CaseActions` (case lifecycle, integrity, report),
:class:`~forensics_app.gui.job_actions.JobActions` (acquisition and analysis runs),
:class:`~forensics_app.gui.comparison_actions.ComparisonActions` (evidence roles, reference
comparison, transcript alignment) and :class:`~forensics_app.gui.annotation_actions.AnnotationActions`
(annotation wiring and time navigation); the window's methods of the same names delegate to them. The window never computes:
opening cases, acquisition, hashing, analyses, reports and view preparation are jobs on the
:class:`~forensics_app.gui.workers.WorkerPool`. Reads from the store are short Sessions that copy
plain values (:mod:`forensics_app.gui.snapshots`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction, QCloseEvent, QDragEnterEvent, QDropEvent, QKeySequence
from PySide6.QtWidgets import QDockWidget, QLabel, QMainWindow, QMessageBox, QWidget

from forensics_app import settings
from forensics_app.gui import tasks
from forensics_app.gui.annotation_actions import AnnotationActions
from forensics_app.gui.annotation_dialog import AnnotationDialog
from forensics_app.gui.annotations_panel import AnnotationsPanel
from forensics_app.gui.case_actions import APP_TITLE, REPORT_FILTERS, CaseActions
from forensics_app.gui.comparison_actions import ComparisonActions
from forensics_app.gui.evidence_panel import EvidencePanel
from forensics_app.gui.findings_panel import FindingsPanel
from forensics_app.gui.job_actions import JobActions, expand_paths
from forensics_app.gui.jobs_panel import JobsPanel
from forensics_app.gui.snapshots import AnnotationItem, CaseSummary, EvidenceItem, FindingItem
from forensics_app.gui.viewer_panel import ViewerPanel
from forensics_app.gui.workers import WorkerPool
from forensics_app.store.case import CaseStore

__all__ = ["APP_TITLE", "DETECTING", "REPORT_FILTERS", "MainWindow", "expand_paths"]

DETECTING = "device: detecting…"


class MainWindow(QMainWindow):
    """Case browser, central viewer, findings and jobs.

    Parameters
    ----------
    examiner : str, optional
        Who works at the station (default :func:`forensics_app.settings.examiner_name`).
    detect_device : bool
        Detect the compute device in the background at start-up (imports torch).
    parent : QWidget, optional
        Qt parent.

    Signals
    -------
    case_changed(summary)
        A case was opened (:class:`CaseSummary`) or closed (None).
    evidence_changed()
        The evidence list was reloaded.
    findings_changed()
        The findings were reloaded.
    annotations_changed()
        The annotations were reloaded (and handed to the current view).
    notified(level, text)
        A message was shown to the user (``"info"``, ``"warning"`` or ``"error"``).
    """

    case_changed = Signal(object)
    evidence_changed = Signal()
    findings_changed = Signal()
    annotations_changed = Signal()
    notified = Signal(str, str)

    def __init__(self, *, examiner: str | None = None, detect_device: bool = True,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.examiner = examiner or settings.examiner_name()
        self.pool = WorkerPool(parent=self)
        self.store: CaseStore | None = None
        self.case: CaseSummary | None = None
        self.findings: list[FindingItem] = []
        self.annotations: tuple[AnnotationItem, ...] = ()
        self.annotation_dialog: AnnotationDialog | None = None
        self.last_verify_report: Any = None
        self.messages: list[tuple[str, str]] = []
        self._owns_store = False
        self._generation = 0
        self.case_actions = CaseActions(self)
        self.job_actions = JobActions(self)
        self.annotation_actions = AnnotationActions(self)
        self.comparison_actions = ComparisonActions(self)

        self.setWindowTitle(APP_TITLE)
        self.setAcceptDrops(True)
        self.resize(1500, 950)
        self.viewer = ViewerPanel(pool=self.pool)
        self.setCentralWidget(self.viewer)
        self.evidence_panel = EvidencePanel()
        self.findings_panel = FindingsPanel()
        self.jobs_panel = JobsPanel()
        self.jobs_panel.attach(self.pool)
        self.annotations_panel = AnnotationsPanel(pool=self.pool, examiner=self.examiner)
        self.evidence_dock = self._dock("Evidence", self.evidence_panel, Qt.DockWidgetArea.LeftDockWidgetArea)
        self.findings_dock = self._dock("Findings", self.findings_panel, Qt.DockWidgetArea.BottomDockWidgetArea)
        self.jobs_dock = self._dock("Jobs", self.jobs_panel, Qt.DockWidgetArea.BottomDockWidgetArea)
        self.annotations_dock = self._dock("Annotations", self.annotations_panel,
                                           Qt.DockWidgetArea.BottomDockWidgetArea)
        self.splitDockWidget(self.findings_dock, self.jobs_dock, Qt.Orientation.Horizontal)
        self.tabifyDockWidget(self.findings_dock, self.annotations_dock)
        self.findings_dock.raise_()
        self.resizeDocks([self.evidence_dock], [500], Qt.Orientation.Horizontal)
        self.resizeDocks([self.findings_dock, self.jobs_dock], [820, 680], Qt.Orientation.Horizontal)
        self.resizeDocks([self.findings_dock], [250], Qt.Orientation.Vertical)

        self.evidence_panel.evidence_selected.connect(self._on_evidence_selected)
        self.findings_panel.finding_activated.connect(self.show_finding)
        self.jobs_panel.active_count_changed.connect(self._on_active_jobs)
        self.annotations_panel.annotations_changed.connect(self._on_annotations_changed)
        self.annotations_panel.annotation_activated.connect(self.show_annotation)
        self.annotations_panel.notified.connect(
            lambda level, text: self.notify(text, level=level, title="Annotations"))
        self.viewer.view_changed.connect(self._on_view_changed)

        self.device_label = QLabel(DETECTING)
        self.case_label = QLabel("no case open")
        self.jobs_label = QLabel("jobs: none running")
        for label in (self.case_label, self.jobs_label, self.device_label):
            self.statusBar().addPermanentWidget(label)
        self._build_menus()
        self._update_actions()
        if detect_device:
            self.pool.submit("device", tasks.device_label(), on_finished=self._on_device,
                             on_failed=lambda msg, _tb: self.device_label.setText(f"device: unknown ({msg})"),
                             interactive=True)

    # --------------------------------------------------------------- building

    def _dock(self, title: str, widget: QWidget, area: Qt.DockWidgetArea) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(f"{title.lower()}Dock")
        dock.setWidget(widget)
        dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable
                         | QDockWidget.DockWidgetFeature.DockWidgetFloatable
                         | QDockWidget.DockWidgetFeature.DockWidgetClosable)
        self.addDockWidget(area, dock)
        return dock

    def _action(self, menu: Any, text: str, slot: Callable[[], Any], shortcut: Any = None,
                tip: str = "") -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        action.setStatusTip(tip)
        action.triggered.connect(lambda _checked=False: slot())
        menu.addAction(action)
        return action

    def _build_menus(self) -> None:
        bar = self.menuBar()
        file_menu = bar.addMenu("&File")
        self.new_case_action = self._action(file_menu, "&New case…", self.new_case_dialog,
                                            QKeySequence.StandardKey.New, "Create a case in an empty folder")
        self.open_case_action = self._action(file_menu, "&Open case…", self.open_case_dialog,
                                             QKeySequence.StandardKey.Open, "Open a case folder")
        file_menu.addSeparator()
        self.add_evidence_action = self._action(file_menu, "Add &evidence…", self.add_evidence_dialog,
                                                "Ctrl+E", "Acquire files into the case (copy + hash)")
        self.export_action = self._action(file_menu, "Export &report…", self.export_report_dialog,
                                          "Ctrl+R", "Write the case report (PDF, HTML or JSON)")
        file_menu.addSeparator()
        self._action(file_menu, "&Quit", self.close, QKeySequence.StandardKey.Quit)
        analysis_menu = bar.addMenu("&Analysis")
        self.run_action = self._action(analysis_menu, "&Run analyses…", self.run_analyses_dialog,
                                       "Ctrl+Shift+A", "Run analyzers on the selected evidence")
        self.rescore_action = self._action(
            analysis_menu, "Re-score &selection under re-encoding", self.job_actions.rescore_selection,
            "Ctrl+Shift+R", "Re-score the selected span after MP3/AAC/Opus, 8 kHz and noise: is the verdict stable?")
        self.verify_action = self._action(analysis_menu, "&Verify integrity", self.verify_integrity,
                                          "Ctrl+Shift+V", "Re-hash every stored copy and check the audit trail")
        self.comparison_actions.build(analysis_menu)
        c = self.comparison_actions
        self.mark_reference_action, self.compare_action, self.align_action = (
            c.mark_reference_action, c.compare_action, c.align_action)
        annotations_menu = bar.addMenu("A&nnotations")
        self.export_annotations_action = self._action(
            annotations_menu, "&Export all layers…", self.annotations_panel.export_dialog, "Ctrl+Shift+E",
            "Write every annotation layer to one CSV or JSON file")
        self.import_annotations_action = self._action(
            annotations_menu, "&Import…", self.annotations_panel.import_dialog, "Ctrl+Shift+I",
            "Read annotations back from a CSV or JSON export")
        view_menu = bar.addMenu("&View")
        for dock in (self.evidence_dock, self.findings_dock, self.annotations_dock, self.jobs_dock):
            view_menu.addAction(dock.toggleViewAction())
        help_menu = bar.addMenu("&Help")
        self._action(help_menu, "&About", self._about)

    def _update_actions(self) -> None:
        has_case = self.store is not None
        for action in (self.add_evidence_action, self.export_action, self.run_action, self.verify_action,
                       self.export_annotations_action, self.import_annotations_action):
            action.setEnabled(has_case)

    # -------------------------------------------------------------- messages

    def notify(self, text: str, *, level: str = "info", detail: str = "", title: str = "") -> None:
        """Tell the user something without blocking: status bar for info, a window-modal box otherwise."""
        self.messages.append((level, text))
        self.statusBar().showMessage(text, 15_000)
        if level != "info":
            icon = QMessageBox.Icon.Critical if level == "error" else QMessageBox.Icon.Warning
            box = QMessageBox(icon, title or APP_TITLE, text, QMessageBox.StandardButton.Ok, self)
            if detail:
                box.setDetailedText(detail)
            box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
            box.open()
        self.notified.emit(level, text)

    def _about(self) -> None:
        QMessageBox.about(self, APP_TITLE, "<b>Forensic Workstation</b><br>Offline examination of "
                          "suspected synthetic or manipulated audio, video and images.")

    def _on_device(self, label: str) -> None:
        self.device_label.setText(f"device: {label}")

    def _on_active_jobs(self, n: int) -> None:
        self.jobs_label.setText("jobs: none running" if n == 0 else f"jobs: {n} running")

    # ------------------------------------------------- cases (CaseActions)

    def _current(self, generation: int) -> bool:
        return generation == self._generation and self.store is not None

    def open_case_dialog(self) -> None:
        """File ▸ Open case…: choose a case folder."""
        self.case_actions.open_case_dialog()

    def open_case(self, root: Path) -> str:
        """Open a case folder in the background; errors are shown, never raised. Returns the job key."""
        return self.case_actions.open_case(root)

    def new_case_dialog(self) -> None:
        """File ▸ New case…: ask for folder, title, examiner and number, then create it."""
        self.case_actions.new_case_dialog()

    def new_case(self, folder: Path, *, title: str, examiner: str, number: str | None = None) -> str:
        """Create a case in the background and open it. Returns the job key."""
        return self.case_actions.new_case(folder, title=title, examiner=examiner, number=number)

    def set_store(self, store: CaseStore, *, owned: bool = True) -> None:
        """Show an opened case (the window closes it later when ``owned``)."""
        self.case_actions.set_store(store, owned=owned)

    def close_case(self) -> None:
        """Stop the case's jobs and close it."""
        self.case_actions.close_case()

    def refresh(self) -> None:
        """Reload evidence and findings from the store (short reads)."""
        self.case_actions.refresh()

    def refresh_evidence(self) -> None:
        """Reload the evidence list (integrity colours included)."""
        self.case_actions.refresh_evidence()

    def refresh_findings(self, *, evidence_id: int | None = None) -> None:
        """Reload findings (all, or one evidence item's) and redraw the viewer's lanes."""
        self.case_actions.refresh_findings(evidence_id=evidence_id)

    def verify_integrity(self) -> str | None:
        """Analysis ▸ Verify integrity: re-hash every copy and check the audit trail in the background."""
        return self.case_actions.verify_integrity()

    def export_report_dialog(self) -> None:
        """File ▸ Export report…: choose where and in which format."""
        self.case_actions.export_report_dialog()

    def export_report(self, out: Path, *, evidence_ids: Sequence[int] | None = None) -> str | None:
        """Write the report in the background (format from the suffix). Returns the job key."""
        return self.case_actions.export_report(out, evidence_ids=evidence_ids)

    # ------------------------------------------------------------- selection

    def evidence_items(self) -> list[EvidenceItem]:
        """The evidence shown in the evidence panel."""
        return list(self.evidence_panel.items.values())

    def select_evidence(self, evidence_id: int) -> bool:
        """Make an evidence item current (its view opens in the viewer)."""
        return self.evidence_panel.select_evidence(evidence_id)

    def _on_evidence_selected(self, evidence_id: int) -> None:
        item = self.evidence_panel.items.get(evidence_id)
        self.findings_panel.set_evidence_filter(item.id if item else None)
        self.annotations_panel.set_evidence_filter(item.id if item else None)
        if item is None:
            self.viewer.clear()
            return
        self.viewer.show_evidence(item, [f for f in self.findings if f.evidence_id == item.id])

    def show_finding(self, finding: FindingItem) -> None:
        """Select the finding's evidence and move the viewer to its time, frame or region."""
        if self.evidence_panel.current_id() != finding.evidence_id:
            self.select_evidence(finding.evidence_id)
        self.viewer.show_finding(finding)

    # ------------------------------------------ acquisition and analyses (JobActions)

    def add_evidence_dialog(self) -> None:
        """File ▸ Add evidence…: choose files to acquire."""
        self.job_actions.add_evidence_dialog()

    def add_files(self, paths: Sequence[Path]) -> list[str]:
        """Acquire files (one background job each); returns the job keys (see :meth:`JobActions.add_files`)."""
        return self.job_actions.add_files(paths)

    def available_analyzers(self) -> list[Any]:
        """Every registered analyzer (an error message is shown if the registry fails to load)."""
        return self.job_actions.available_analyzers()

    def run_analyses_dialog(self) -> None:
        """Analysis ▸ Run analyses…: choose analyzers for the selected evidence (all when none selected)."""
        self.job_actions.run_analyses_dialog()

    def run_analyses(self, evidence_ids: Sequence[int], analyzer_ids: Sequence[str],
                     params: Mapping[str, Mapping[str, Any]] | None = None) -> list[str]:
        """Queue and run analyzers on evidence; returns job keys ``"run:<run id>"``.

        See :meth:`JobActions.run_analyses` for the parameters.
        """
        return self.job_actions.run_analyses(evidence_ids, analyzer_ids, params)

    # ---------------------------------------------- annotations (AnnotationActions)

    def _on_annotations_changed(self, items: tuple[AnnotationItem, ...]) -> None:
        self.annotation_actions.on_annotations_changed(items)

    def _on_view_changed(self, view: Any) -> None:
        self.annotation_actions.on_view_changed(view)

    def request_annotation(self, evidence_id: int, start_s: float, end_s: float, low_hz: Any = None,
                           high_hz: Any = None) -> AnnotationDialog | None:
        """Open the new-annotation dialog for a selection (s, Hz); see :meth:`AnnotationActions.request_annotation`."""
        return self.annotation_actions.request_annotation(evidence_id, start_s, end_s, low_hz, high_hz)

    def show_annotation(self, item: AnnotationItem) -> None:
        """Select the annotation's evidence and move the viewer to its time range, frames or region."""
        self.annotation_actions.show_annotation(item)

    def show_time(self, evidence_id: int, start_s: float, end_s: float) -> bool:
        """Select an evidence item and show ``start_s``..``end_s`` (s) in its view; False if it cannot."""
        return self.annotation_actions.show_time(evidence_id, start_s, end_s)

    # ---------------------------------------------------------- drag and drop

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802 - Qt override
        """Accept local files."""
        if event.mimeData().hasUrls() and any(u.isLocalFile() for u in event.mimeData().urls()):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802 - Qt override
        """Acquire the dropped files."""
        paths = [Path(u.toLocalFile()) for u in event.mimeData().urls() if u.isLocalFile()]
        if paths:
            event.acceptProposedAction()
            self.add_files(paths)

    # ----------------------------------------------------------------- close

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt override
        """Cancel running jobs, wait for them, and close the case."""
        self.pool.shutdown()
        self.viewer.clear()
        if self.store is not None and self._owns_store:
            self.store.close()
        self.store = None
        super().closeEvent(event)
