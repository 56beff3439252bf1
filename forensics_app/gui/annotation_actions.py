"""Annotation wiring for the main window: views ↔ annotations panel ↔ navigation.

:class:`AnnotationActions` is a plain Python helper owned by
:class:`~forensics_app.gui.main_window.MainWindow` (composition). It hands the annotations panel's
items to the view that draws them, turns a view's selection gesture into a new-annotation dialog,
and moves the viewer to an annotation's (or any) time range. The window keeps the state
(``annotations``, ``annotation_dialog``) and delegates its annotation methods here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from forensics_app.gui.annotation_dialog import AnnotationDialog
from forensics_app.gui.snapshots import AnnotationItem, navigation_finding

if TYPE_CHECKING:
    from forensics_app.gui.main_window import MainWindow


class AnnotationActions:
    """The window's annotation wiring and time navigation.

    Parameters
    ----------
    window : MainWindow
        The owning window; its state and widgets are read and updated in place.
    """

    def __init__(self, window: MainWindow) -> None:
        self.window = window

    def on_annotations_changed(self, items: tuple[AnnotationItem, ...]) -> None:
        """Keep the panel's annotations and redraw them in the current view."""
        w = self.window
        w.annotations = tuple(items)
        self.push_annotations(w.viewer.current_view)
        w.annotations_changed.emit()

    def push_annotations(self, view: Any) -> None:
        """Hand the shown evidence item's annotations to a view that draws them."""
        w = self.window
        draw = getattr(view, "set_annotations", None)
        evidence = w.viewer.evidence
        if view is None or draw is None or evidence is None:
            return
        draw([a for a in w.annotations if a.evidence_id == evidence.id])

    def on_view_changed(self, view: Any) -> None:
        """Wire a new view's selection gesture to :meth:`request_annotation` and draw its annotations."""
        if view is None:
            return
        requested = getattr(view, "annotation_requested", None)
        if requested is not None:
            requested.connect(self.window.request_annotation)
        self.push_annotations(view)

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
            The (window-modal, already open) dialog, also kept as the window's
            ``annotation_dialog``; None without a case. Accepting it stores the annotation in the
            background.
        """
        w = self.window
        if w.store is None:
            return None
        item = w.evidence_panel.items.get(evidence_id)
        w.annotation_dialog = w.annotations_panel.new_annotation_dialog(
            evidence_id, evidence_label=f"#{evidence_id} {item.name if item else ''}", start_s=start_s,
            end_s=end_s, low_hz=low_hz, high_hz=high_hz, parent=w)
        return w.annotation_dialog

    def show_annotation(self, item: AnnotationItem) -> None:
        """Select the annotation's evidence and move the viewer to its time range, frames or region."""
        w = self.window
        if item.start_s is not None:
            w.show_time(item.evidence_id, item.start_s, item.end_s if item.end_s is not None else item.start_s)
            return
        if w.evidence_panel.current_id() != item.evidence_id:
            w.select_evidence(item.evidence_id)
        w.viewer.show_finding(item.as_finding())

    def show_time(self, evidence_id: int, start_s: float, end_s: float) -> bool:
        """Select an evidence item and show the time range ``start_s``..``end_s`` (s) in its view.

        Uses the view's ``show_range(start_s, end_s)`` when it has one (once the view is loaded),
        else its ``show_finding``. Returns False when the evidence cannot be shown.
        """
        w = self.window
        if w.evidence_panel.current_id() != evidence_id and not w.select_evidence(evidence_id):
            return False
        view = w.viewer.current_view
        if view is None or w.viewer.evidence is None or w.viewer.evidence.id != evidence_id:
            return False
        show_range = getattr(view, "show_range", None)
        if show_range is None:
            w.viewer.show_finding(navigation_finding(evidence_id=evidence_id, start_s=start_s, end_s=end_s))
        elif getattr(view, "is_loaded", True):
            show_range(start_s, end_s)
        else:
            def once() -> None:
                view.loaded.disconnect(once)
                show_range(start_s, end_s)

            view.loaded.connect(once)
        return True
