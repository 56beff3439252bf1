"""The workstation's main window: docks for evidence, findings and jobs around the central viewer.

The window never computes: opening cases, acquisition, hashing, analyses, reports and view
preparation are jobs on the :class:`~forensics_app.gui.workers.WorkerPool`. Reads from the store
are short Sessions that copy plain values (:mod:`forensics_app.gui.snapshots`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction, QCloseEvent, QDragEnterEvent, QDropEvent, QKeySequence
from PySide6.QtWidgets import QDockWidget, QFileDialog, QLabel, QMainWindow, QMessageBox, QWidget

from forensics_app import settings
from forensics_app.domain.errors import ForensicsError
from forensics_app.gui import snapshots, tasks
from forensics_app.gui.analyzers_dialog import AnalyzersDialog, applicable
from forensics_app.gui.annotation_dialog import AnnotationDialog
from forensics_app.gui.annotations_panel import AnnotationsPanel
from forensics_app.gui.evidence_panel import EvidencePanel
from forensics_app.gui.findings_panel import FindingsPanel
from forensics_app.gui.jobs_panel import JobsPanel
from forensics_app.gui.new_case_dialog import NewCaseDialog
from forensics_app.gui.snapshots import (
    AnnotationItem,
    CaseSummary,
    EvidenceItem,
    FindingItem,
    navigation_finding,
)
from forensics_app.gui.verify_dialog import VerifyReportDialog
from forensics_app.gui.viewer_panel import ViewerPanel
from forensics_app.gui.workers import WorkerPool
from forensics_app.store.case import CaseStore

log = logging.getLogger(__name__)

APP_TITLE = "Forensic Workstation"
REPORT_FILTERS = "PDF report (*.pdf);;HTML report (*.html);;JSON export (*.json)"
DETECTING = "device: detecting…"


def expand_paths(paths: Iterable[Path]) -> list[Path]:
    """Files to acquire: files as given, folders replaced by the files inside them (sorted)."""
    out: list[Path] = []
    for p in paths:
        p = Path(p)
        if p.is_dir():
            out.extend(sorted(q for q in p.rglob("*") if q.is_file() and not q.name.startswith(".")))
        else:
            out.append(p)
    return out


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
        self.verify_action = self._action(analysis_menu, "&Verify integrity", self.verify_integrity,
                                          "Ctrl+Shift+V", "Re-hash every stored copy and check the audit trail")
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

    # ------------------------------------------------------------------ cases

    def _current(self, generation: int) -> bool:
        return generation == self._generation and self.store is not None

    def open_case_dialog(self) -> None:
        """File ▸ Open case…: choose a case folder."""
        folder = QFileDialog.getExistingDirectory(self, "Open case folder")
        if folder:
            self.open_case(Path(folder))

    def open_case(self, root: Path) -> str:
        """Open a case folder in the background; errors are shown, never raised. Returns the job key."""
        key = self.pool.unique_key("case")
        self.statusBar().showMessage(f"opening {root}…")
        self.pool.submit(key, tasks.open_case(Path(root)), on_finished=lambda store: self.set_store(store),
                         on_failed=lambda msg, tb: self.notify(f"Cannot open {root}: {msg}", level="error",
                                                               detail=tb, title="Open case"),
                         interactive=True)
        return key

    def new_case_dialog(self) -> None:
        """File ▸ New case…: ask for folder, title, examiner and number, then create it."""
        dialog = NewCaseDialog(examiner=self.examiner, parent=self)
        if dialog.exec() == NewCaseDialog.DialogCode.Accepted:
            req = dialog.request()
            self.new_case(req.folder, title=req.title, examiner=req.examiner, number=req.number)

    def new_case(self, folder: Path, *, title: str, examiner: str, number: str | None = None) -> str:
        """Create a case in the background and open it. Returns the job key."""
        key = self.pool.unique_key("case")
        self.pool.submit(key, tasks.create_case(Path(folder), title=title, examiner=examiner, number=number),
                         on_finished=lambda store: self.set_store(store),
                         on_failed=lambda msg, tb: self.notify(f"Cannot create the case: {msg}", level="error",
                                                               detail=tb, title="New case"),
                         interactive=True)
        return key

    def set_store(self, store: CaseStore, *, owned: bool = True) -> None:
        """Show an opened case (the window closes it later when ``owned``)."""
        self.close_case()
        self.store = store
        self._owns_store = owned
        self._generation += 1
        try:
            self.case = snapshots.read_case(store)
        except ForensicsError as exc:
            self.notify(str(exc), level="error", title="Open case")
            self.close_case()
            return
        self.viewer.set_artifacts(store.artifacts)
        self.evidence_panel.set_case(self.case)
        self.annotations_panel.set_store(store)
        self.case_label.setText(f"case {self.case.number} · {self.case.title}")
        self.setWindowTitle(f"{APP_TITLE} — {self.case.number} {self.case.title}")
        self._update_actions()
        self.refresh()
        self.statusBar().showMessage(f"opened case {self.case.number} ({store.root})", 8000)
        self.case_changed.emit(self.case)

    def close_case(self) -> None:
        """Stop the case's jobs and close it."""
        if self.store is None:
            return
        self.viewer.set_artifacts(None)
        if not self.pool.shutdown(include_interactive=False):
            log.warning("background jobs of %s did not stop in time", self.store.root)
        if self._owns_store:
            self.store.close()
        self.store, self.case, self.findings = None, None, []
        self._generation += 1
        self.annotations_panel.set_store(None)
        self.evidence_panel.set_case(None)
        self.evidence_panel.set_items([])
        self.findings_panel.set_findings([])
        self.case_label.setText("no case open")
        self.setWindowTitle(APP_TITLE)
        self._update_actions()
        self.case_changed.emit(None)

    def refresh(self) -> None:
        """Reload evidence and findings from the store (short reads)."""
        self.refresh_evidence()
        self.refresh_findings()

    def refresh_evidence(self) -> None:
        """Reload the evidence list (integrity colours included)."""
        if self.store is None:
            return
        items = snapshots.read_evidence(self.store)
        self.evidence_panel.set_items(items)
        self.evidence_changed.emit()

    def refresh_findings(self, *, evidence_id: int | None = None) -> None:
        """Reload findings (all, or one evidence item's) and redraw the viewer's lanes."""
        if self.store is None:
            return
        if evidence_id is None:
            self.findings = snapshots.read_findings(self.store)
        else:
            fresh = snapshots.read_findings(self.store, evidence_id=evidence_id)
            self.findings = [f for f in self.findings if f.evidence_id != evidence_id] + fresh
            self.findings.sort(key=lambda f: (f.evidence_id, f.analyzer_id, f.rank))
        self.findings_panel.set_findings(self.findings)
        self.viewer.set_findings(self.findings)
        self.findings_changed.emit()

    # --------------------------------------------------------------- evidence

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

    def add_evidence_dialog(self) -> None:
        """File ▸ Add evidence…: choose files to acquire."""
        files, _ = QFileDialog.getOpenFileNames(self, "Add evidence", "", "All files (*)")
        if files:
            self.add_files([Path(f) for f in files])

    def add_files(self, paths: Sequence[Path]) -> list[str]:
        """Acquire files (one background job each); the path used by the dialog and drag-and-drop.

        Returns
        -------
        list of str
            The job keys (rows of the jobs panel).
        """
        if self.store is None:
            self.notify("Open or create a case before adding evidence.", level="warning")
            return []
        keys = []
        store, generation = self.store, self._generation
        for path in expand_paths(paths):
            key = self.pool.unique_key("acquire")
            self.jobs_panel.add_job(key, title="acquire", evidence=path.name)
            self.pool.submit(key, tasks.acquire(store, path, examiner=self.examiner),
                             on_finished=lambda result, k=key, g=generation: self._on_acquired(k, g, result),
                             on_failed=lambda msg, _tb, p=path: self.notify(f"{p.name}: acquisition failed: {msg}",
                                                                           level="warning"))
            keys.append(key)
        return keys

    def _on_acquired(self, key: str, generation: int, result: Any) -> None:
        from forensics_app.ingest.acquire import Outcome

        if not self._current(generation):
            return
        name = Path(result.original).name
        if result.outcome is Outcome.ADDED:
            self.jobs_panel.set_done(key, f"added as #{result.evidence_id} ({result.media_kind})")
            self.statusBar().showMessage(f"{name} added as evidence #{result.evidence_id}", 8000)
            self.refresh_evidence()
            if self.evidence_panel.current_id() is None and result.evidence_id is not None:
                self.select_evidence(result.evidence_id)
        elif result.outcome is Outcome.DUPLICATE:
            self.jobs_panel.set_outcome(key, "duplicate", f"duplicate: {result.reason}")
            self.notify(f"Duplicate: {result.reason}", level="info")
        else:
            self.jobs_panel.set_outcome(key, "refused", f"refused: {result.reason}")
            self.notify(f"Refused: {result.reason}", level="info")

    # ------------------------------------------------------------ annotations

    def _on_annotations_changed(self, items: tuple[AnnotationItem, ...]) -> None:
        self.annotations = tuple(items)
        self._push_annotations(self.viewer.current_view)
        self.annotations_changed.emit()

    def _push_annotations(self, view: Any) -> None:
        """Hand the shown evidence item's annotations to a view that draws them."""
        draw = getattr(view, "set_annotations", None)
        evidence = self.viewer.evidence
        if view is None or draw is None or evidence is None:
            return
        draw([a for a in self.annotations if a.evidence_id == evidence.id])

    def _on_view_changed(self, view: Any) -> None:
        if view is None:
            return
        requested = getattr(view, "annotation_requested", None)
        if requested is not None:
            requested.connect(self.request_annotation)
        self._push_annotations(view)

    def request_annotation(self, evidence_id: int, start_s: float, end_s: float, low_hz: Any = None,
                           high_hz: Any = None) -> AnnotationDialog | None:
        """Ask for label, layer and note of a selection in a view, then store it (the views' gesture).

        Parameters
        ----------
        evidence_id : int
            The annotated evidence item.
        start_s, end_s : float
            Selected time range (s).
        low_hz, high_hz : float or None
            Selected frequency band (Hz); None for a pure time region.

        Returns
        -------
        AnnotationDialog or None
            The (window-modal, already open) dialog, also kept as :attr:`annotation_dialog`; None
            without a case. Accepting it stores the annotation in the background.
        """
        if self.store is None:
            return None
        item = self.evidence_panel.items.get(evidence_id)
        self.annotation_dialog = self.annotations_panel.new_annotation_dialog(
            evidence_id, evidence_label=f"#{evidence_id} {item.name if item else ''}", start_s=start_s,
            end_s=end_s, low_hz=low_hz, high_hz=high_hz, parent=self)
        return self.annotation_dialog

    def show_annotation(self, item: AnnotationItem) -> None:
        """Select the annotation's evidence and move the viewer to its time range, frames or region."""
        if item.start_s is not None:
            self.show_time(item.evidence_id, item.start_s, item.end_s if item.end_s is not None else item.start_s)
            return
        if self.evidence_panel.current_id() != item.evidence_id:
            self.select_evidence(item.evidence_id)
        self.viewer.show_finding(item.as_finding())

    def show_time(self, evidence_id: int, start_s: float, end_s: float) -> bool:
        """Select an evidence item and show the time range ``start_s``..``end_s`` (s) in its view.

        Uses the view's ``show_range(start_s, end_s)`` when it has one (once the view is loaded),
        else its ``show_finding``. Returns False when the evidence cannot be shown.
        """
        if self.evidence_panel.current_id() != evidence_id and not self.select_evidence(evidence_id):
            return False
        view = self.viewer.current_view
        if view is None or self.viewer.evidence is None or self.viewer.evidence.id != evidence_id:
            return False
        show_range = getattr(view, "show_range", None)
        if show_range is None:
            self.viewer.show_finding(navigation_finding(evidence_id=evidence_id, start_s=start_s, end_s=end_s))
        elif getattr(view, "is_loaded", True):
            show_range(start_s, end_s)
        else:
            def once() -> None:
                view.loaded.disconnect(once)
                show_range(start_s, end_s)

            view.loaded.connect(once)
        return True

    # --------------------------------------------------------------- analyses

    def available_analyzers(self) -> list[Any]:
        """Every registered analyzer (an error message is shown if the registry fails to load)."""
        from forensics_app.analysis import registry

        try:
            return registry.all_analyzers()
        except Exception as exc:  # a missing or broken analyzer module must not break the GUI
            self.notify(f"The analyzer registry could not be loaded: {type(exc).__name__}: {exc}",
                        level="error", title="Analyzers")
            return []

    def run_analyses_dialog(self) -> None:
        """Analysis ▸ Run analyses…: choose analyzers for the selected evidence (all when none selected)."""
        if self.store is None:
            return
        ids = self.evidence_panel.selected_ids() or [e.id for e in self.evidence_items()]
        items = [self.evidence_panel.items[i] for i in ids if i in self.evidence_panel.items]
        if not items:
            self.notify("The case holds no evidence yet.", level="warning")
            return
        kinds = sorted({e.kind for e in items})
        summary = (f"#{items[0].id} {items[0].name} ({items[0].kind})" if len(items) == 1
                   else f"{len(items)} evidence items ({', '.join(kinds)})")
        dialog = AnalyzersDialog(applicable(self.available_analyzers(), kinds), evidence_summary=summary,
                                 parent=self)
        if dialog.exec() == AnalyzersDialog.DialogCode.Accepted and dialog.chosen_ids():
            self.run_analyses([e.id for e in items], dialog.chosen_ids(), dialog.chosen_params())

    def run_analyses(self, evidence_ids: Sequence[int], analyzer_ids: Sequence[str],
                     params: Mapping[str, Mapping[str, Any]] | None = None) -> list[str]:
        """Queue each analyzer on each evidence item of a kind it examines, and run them in the background.

        Parameters
        ----------
        evidence_ids : sequence of int
            Evidence to examine (ids not in the evidence panel are skipped).
        analyzer_ids : sequence of str
            Registered analyzer ids.
        params : mapping, optional
            Analyzer id -> parameter name -> value (values as the CLI's ``--param`` or
            :meth:`AnalyzersDialog.chosen_params` give them); an analyzer missing here runs with
            its defaults. Every run records its resolved parameters (``AnalysisRun.params``). An
            invalid value is reported once and that analyzer is not queued.

        Returns
        -------
        list of str
            Job keys ``"run:<run id>"``.
        """
        from forensics_app.analysis import registry, runner

        if self.store is None:
            return []
        store, generation = self.store, self._generation
        params = params or {}
        specs, infos = {}, {}
        for aid in analyzer_ids:
            try:
                infos[aid] = registry.get(aid)
                specs[aid] = runner.make_spec(aid, params.get(aid))
            except Exception as exc:  # shown, never fatal
                self.notify(f"{aid}: {exc}", level="error", title="Run analyses")
        keys = []
        for eid in evidence_ids:
            item = self.evidence_panel.items.get(eid)
            if item is None:
                continue
            for aid, spec in specs.items():
                info = infos[aid]
                if item.kind not in {m.value for m in info.media}:
                    continue
                try:
                    run_id = runner.queue_job(store, evidence_id=eid, spec=spec, examiner=self.examiner)
                except Exception as exc:  # shown, never fatal
                    self.notify(f"{aid} on #{eid}: {exc}", level="error", title="Run analyses")
                    continue
                key = f"run:{run_id}"
                changed = "".join(f"\n  {name} = {spec.params[name]!r}" for name in (params.get(aid) or {}))
                self.jobs_panel.add_job(key, title=f"{aid} {info.version}", evidence=f"#{eid} {item.name}",
                                        tooltip=f"{info.label} ({aid} {info.version}), run #{run_id}"
                                        + (f"\nchanged parameters:{changed}" if changed else ""))
                self.pool.submit(key, tasks.run_analysis(store, run_id, examiner=self.examiner),
                                 on_finished=lambda outcome, k=key, e=eid, g=generation:
                                 self._on_run_done(k, e, g, outcome),
                                 on_failed=lambda msg, _tb, a=aid, e=eid:
                                 self.statusBar().showMessage(f"{a} on #{e} failed: {msg}", 15_000))
                keys.append(key)
        return keys

    def _on_run_done(self, key: str, evidence_id: int, generation: int, outcome: Any) -> None:
        if not self._current(generation):
            return
        self.jobs_panel.set_done(key, f"done · {outcome.n_findings} finding(s) · run #{outcome.run_id}")
        self.refresh_findings(evidence_id=evidence_id)
        self.refresh_evidence()

    # -------------------------------------------------------------- integrity

    def verify_integrity(self) -> str | None:
        """Analysis ▸ Verify integrity: re-hash every copy and check the audit trail in the background."""
        if self.store is None:
            return None
        key = self.pool.unique_key("verify")
        generation = self._generation
        self.jobs_panel.add_job(key, title="verify integrity", evidence="all")
        self.pool.submit(key, tasks.verify(self.store, examiner=self.examiner),
                         on_finished=lambda report: self._on_verified(key, generation, report),
                         on_failed=lambda msg, tb: self.notify(f"Verification could not run: {msg}",
                                                               level="error", detail=tb))
        return key

    def _on_verified(self, key: str, generation: int, report: Any) -> None:
        if not self._current(generation):
            return
        self.last_verify_report = report
        failed = sum(1 for c in report.evidence if c.state != "verified")
        self.jobs_panel.set_done(key, "passed" if report.ok else
                                 f"FAILED: {failed} cop(ies) changed or missing"
                                 + ("" if report.chain.ok else "; audit trail broken"))
        self.refresh_evidence()
        self.statusBar().showMessage("verification passed" if report.ok else "verification FAILED", 15_000)
        dialog = VerifyReportDialog(report, parent=self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()

    # ----------------------------------------------------------------- report

    def export_report_dialog(self) -> None:
        """File ▸ Export report…: choose where and in which format."""
        if self.store is None or self.case is None:
            return
        default = str(self.store.root / f"{self.case.number}-report.pdf")
        path, chosen = QFileDialog.getSaveFileName(self, "Export report", default, REPORT_FILTERS)
        if not path:
            return
        out = Path(path)
        if out.suffix.lower() not in {".pdf", ".html", ".json"}:
            out = out.with_suffix("." + chosen.split("*.")[-1].rstrip(")") if "*." in chosen else ".pdf")
        self.export_report(out)

    def export_report(self, out: Path, *, evidence_ids: Sequence[int] | None = None) -> str | None:
        """Write the report in the background (format from the suffix). Returns the job key."""
        if self.store is None:
            return None
        key = self.pool.unique_key("report")
        self.jobs_panel.add_job(key, title="export report", evidence=out.name)
        self.pool.submit(key, tasks.export_report(self.store, Path(out), examiner=self.examiner,
                                                  evidence_ids=evidence_ids),
                         on_finished=lambda written: (self.jobs_panel.set_done(key, f"written: {written}"),
                                                      self.notify(f"Report written to {written}")),
                         on_failed=lambda msg, tb: self.notify(f"The report could not be exported: {msg}",
                                                               level="error", detail=tb, title="Export report"))
        return key

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
