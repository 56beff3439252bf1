"""The central viewer: opens the right view for the selected evidence item."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QLabel, QStackedWidget, QVBoxLayout, QWidget

from forensics_app.gui.snapshots import EvidenceItem, FindingItem
from forensics_app.gui.views import VIEW_FOR_KIND, EvidenceView
from forensics_app.gui.workers import WorkerPool
from forensics_app.store.artifacts import ArtifactStore

NO_CASE = ("<p style='font-size:13pt'>No case is open.</p>"
           "<p><b>File ▸ New case…</b> (Ctrl+N) or <b>File ▸ Open case…</b> (Ctrl+O);"
           " <code>forensics-app demo</code> builds a demonstration case.</p>")
PLACEHOLDER = ("<p style='font-size:13pt'>Select an evidence item to view it.</p>"
               "<p>Add files with <b>File ▸ Add evidence…</b> (Ctrl+E) or drop them on the window.</p>")


class ViewerPanel(QWidget):
    """Holds one :class:`EvidenceView` at a time, chosen from :data:`VIEW_FOR_KIND`.

    Parameters
    ----------
    pool : WorkerPool
        Passed to the views for their decoding jobs.
    views : mapping, optional
        Media kind -> view class (defaults to :data:`VIEW_FOR_KIND`).

    Signals
    -------
    view_changed(view)
        A new view (or None) is shown.
    """

    view_changed = Signal(object)

    def __init__(self, *, pool: WorkerPool, views: Mapping[str, type[EvidenceView]] | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._pool = pool
        self._views = dict(views or VIEW_FOR_KIND)
        self._artifacts: ArtifactStore | None = None
        self.current_view: EvidenceView | None = None
        self.evidence: EvidenceItem | None = None
        self._stack = QStackedWidget()
        self._placeholder = QLabel(NO_CASE)
        self._placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self._placeholder.setWordWrap(True)
        self._stack.addWidget(self._placeholder)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self._stack)

    def set_artifacts(self, artifacts: ArtifactStore | None) -> None:
        """Use another case's artifact store (closes the current view)."""
        self._artifacts = artifacts
        self.clear()

    def clear(self, message: str | None = None) -> None:
        """Close the current view and show the placeholder (or ``message``)."""
        if self.current_view is not None:
            self.current_view.dispose()
            self._stack.removeWidget(self.current_view)
            self.current_view.deleteLater()
            self.current_view = None
        self.evidence = None
        self._placeholder.setText(message or (PLACEHOLDER if self._artifacts is not None else NO_CASE))
        self._stack.setCurrentWidget(self._placeholder)
        self.view_changed.emit(None)

    def show_evidence(self, evidence: EvidenceItem, findings: Sequence[FindingItem]) -> EvidenceView | None:
        """Open the view for ``evidence`` (reusing the current one when it shows the same item)."""
        if self.current_view is not None and self.evidence is not None and self.evidence.id == evidence.id:
            self.evidence = evidence
            self.current_view.set_findings(findings)
            return self.current_view
        view_cls = self._views.get(evidence.kind)
        if view_cls is None or self._artifacts is None:
            self.clear(f"No viewer for {evidence.kind!r} evidence ({evidence.name}).")
            return None
        self.clear()
        view = view_cls(pool=self._pool, artifacts=self._artifacts)
        self._stack.addWidget(view)
        self._stack.setCurrentWidget(view)
        self.current_view = view
        self.evidence = evidence
        view.load(evidence, findings)
        self.view_changed.emit(view)
        return view

    def set_findings(self, findings: Sequence[FindingItem]) -> None:
        """Redraw the current view's findings (only those of its evidence item are kept)."""
        if self.current_view is not None and self.evidence is not None:
            self.current_view.set_findings([f for f in findings if f.evidence_id == self.evidence.id])

    def show_finding(self, finding: FindingItem) -> None:
        """Move the current view to a finding (when it shows the finding's evidence)."""
        if self.current_view is not None and self.evidence is not None and \
                self.evidence.id == finding.evidence_id:
            self.current_view.show_finding(finding)
