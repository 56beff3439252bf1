"""The comparative analyses of the main window: evidence roles, reference comparison, transcript alignment.

:class:`ComparisonActions` is a plain Python helper owned by
:class:`~forensics_app.gui.main_window.MainWindow` (composition). It adds to the Analysis menu and
to the evidence table's right-click menu:

- *Mark as known genuine reference* (checkable): the current evidence item's role, written by a
  small audited transaction on the worker pool (:func:`forensics_app.store.evidence_roles.set_role`);
- *Compare with reference…*: :class:`~forensics_app.gui.comparison_dialogs.CompareDialog`, then the
  ``audio.reference_comparison`` analyzer with ``{"reference_id": id}``;
- *Align transcript…*: :class:`~forensics_app.gui.comparison_dialogs.TranscriptDialog`, then the
  ``audio.transcript_alignment`` analyzer with ``{"transcript": text, "voice": voice}``.

The analyses are queued through :meth:`JobActions.run_analyses` like any other run, so they show in
the jobs panel with progress and cancel, and an error of the queueing (an unknown analyzer, a bad
reference) is shown in a message box. The comparison actions are disabled, with a tooltip saying
why, when no audio evidence item is current or their analyzer is not registered. Whether it is
registered is known once the analyzer modules are imported, which takes seconds the first time:
that import runs on the worker pool (:func:`forensics_app.gui.tasks.load_analyzers`), never on the
GUI thread, and the actions say so meanwhile.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMenu

from forensics_app.gui import tasks
from forensics_app.gui.comparison_dialogs import (
    DEFAULT_VOICE,
    CompareDialog,
    TranscriptDialog,
    reference_candidates,
)
from forensics_app.gui.snapshots import EvidenceItem

if TYPE_CHECKING:
    from forensics_app.gui.main_window import MainWindow

REFERENCE_ANALYZER = "audio.reference_comparison"
TRANSCRIPT_ANALYZER = "audio.transcript_alignment"
DEDICATED_ACTIONS = {
    REFERENCE_ANALYZER: "Analysis ▸ Compare with reference…",
    TRANSCRIPT_ANALYZER: "Analysis ▸ Align transcript…",
}
"""Analyzers that run from their own action (they need a reference or a transcript), not from
the Run analyses dialog."""
ROLE_REFERENCE = "reference"
ROLE_QUESTIONED = "questioned"


class ComparisonActions:
    """The window's evidence-role and comparison commands.

    Parameters
    ----------
    window : MainWindow
        The owning window; its state and widgets are read and updated in place.

    Attributes
    ----------
    mark_reference_action, compare_action, align_action : QAction
        Built by :meth:`build`.
    """

    def __init__(self, window: MainWindow) -> None:
        self.window = window
        self.registry_state = "unloaded"  # then "loading", then "ready"

    def build(self, menu: QMenu) -> None:
        """Add the actions to ``menu`` (the Analysis menu) and to the evidence table's context menu."""
        w = self.window
        menu.addSeparator()
        self.mark_reference_action = QAction("Mark as known &genuine reference", w)
        self.mark_reference_action.setCheckable(True)
        self.mark_reference_action.triggered.connect(self.mark_reference)
        self.compare_action = QAction("&Compare with reference…", w)
        self.compare_action.setShortcut(QKeySequence("Ctrl+Shift+C"))
        self.compare_action.triggered.connect(lambda _checked=False: self.compare_with_reference_dialog())
        self.align_action = QAction("Align &transcript…", w)
        self.align_action.setShortcut(QKeySequence("Ctrl+Shift+T"))
        self.align_action.triggered.connect(lambda _checked=False: self.align_transcript_dialog())
        menu.setToolTipsVisible(True)
        panel = w.evidence_panel
        panel.add_context_action(None)
        for action in (self.mark_reference_action, self.compare_action, self.align_action):
            menu.addAction(action)
            panel.add_context_action(action)
        panel.evidence_selected.connect(lambda _eid: self.update())
        w.evidence_changed.connect(self.update)
        w.case_changed.connect(lambda _case: self.update())
        self.update()

    # ------------------------------------------------------------------ state

    def current_item(self) -> EvidenceItem | None:
        """The evidence panel's current item."""
        w = self.window
        eid = w.evidence_panel.current_id()
        return None if eid is None else w.evidence_panel.items.get(eid)

    def load_registry(self) -> str | None:
        """Import the analyzer modules on the worker pool (once); the actions update when done.

        Returns
        -------
        str or None
            The job key (None when the registry is loaded or loading already).
        """
        if self.registry_state != "unloaded":
            return None
        self.registry_state = "loading"
        w = self.window
        key = w.pool.unique_key("analyzers")

        def done(*_args: Any) -> None:
            self.registry_state = "ready"
            self.update()

        def cancelled() -> None:
            self.registry_state = "unloaded"

        w.pool.submit(key, tasks.load_analyzers(), on_finished=done, on_failed=done, on_cancelled=cancelled,
                      interactive=True)
        return key

    def missing_analyzer(self, analyzer_id: str) -> str:
        """Why an analyzer cannot run here ("" when it is registered; a note while the analyzer
        modules are still being imported in the background)."""
        from forensics_app.analysis import registry

        if self.registry_state != "ready":
            self.load_registry()
            return "Loading the installed analyzers…"
        try:
            registry.get(analyzer_id)
        except Exception as exc:  # NotFound, or a registry that fails to load: the action says so
            return f"{analyzer_id} is not registered in this installation ({type(exc).__name__})"
        return ""

    def update(self) -> None:
        """Enable the actions for the current evidence item and say in their tooltips why not."""
        w = self.window
        item = self.current_item() if w.store is not None else None
        mark = self.mark_reference_action
        mark.setEnabled(item is not None)
        mark.setChecked(item is not None and item.role == ROLE_REFERENCE)
        if w.store is None:
            why = "Open a case first."
        elif item is None:
            why = "Select an evidence item first."
        elif item.kind != "audio":
            why = f"#{item.id} {item.name} is {item.kind}; the comparisons examine audio evidence."
        else:
            why = ""
        self._set_tip(mark, "Open a case and select an evidence item first." if item is None else
                      f"Use #{item.id} {item.name} as a known genuine recording that questioned items are "
                      "compared with (recorded in the audit trail); uncheck to make it questioned again.")
        for action, analyzer_id, what in (
                (self.compare_action, REFERENCE_ANALYZER,
                 "Align the selected recording with a known genuine reference: inserted, deleted or replaced "
                 "spans, spectral difference and speaker similarity."),
                (self.align_action, TRANSCRIPT_ANALYZER,
                 "Align a typed transcript with the selected recording, word by word.")):
            problem = why or self.missing_analyzer(analyzer_id)
            action.setEnabled(not problem)
            self._set_tip(action, problem or what)

    @staticmethod
    def _set_tip(action: QAction, text: str) -> None:
        action.setToolTip(text)
        action.setStatusTip(text)

    # ------------------------------------------------------------------ roles

    def mark_reference(self, on: bool) -> str | None:
        """Mark the current evidence item as a known genuine reference (or questioned again).

        The audited write runs on the worker pool; the evidence list reloads when it is done.

        Returns
        -------
        str or None
            The job key (None without a case or a current item).
        """
        w = self.window
        item = self.current_item()
        if w.store is None or item is None:
            w.notify("Select an evidence item first.", level="warning", title="Evidence role")
            self.update()
            return None
        role = ROLE_REFERENCE if on else ROLE_QUESTIONED
        generation = w._generation
        key = w.pool.unique_key("role")

        def done(changed: bool) -> None:
            if not w._current(generation):
                return
            w.refresh_evidence()
            text = ("marked as a known genuine reference" if on else "marked as questioned")
            w.statusBar().showMessage(f"#{item.id} {item.name} {text}" + ("" if changed else " (unchanged)"), 8000)

        def failed(message: str, tb: str) -> None:
            w.notify(f"The role of #{item.id} {item.name} could not be changed: {message}", level="error",
                     detail=tb, title="Evidence role")
            self.update()

        w.pool.submit(key, tasks.set_evidence_role(w.store, item.id, role=role, examiner=w.examiner),
                      on_finished=done, on_failed=failed, interactive=True)
        return key

    # ------------------------------------------------------------------ comparisons

    def compare_with_reference_dialog(self) -> list[str]:
        """Analysis ▸ Compare with reference…: choose the reference, then queue the comparison."""
        w = self.window
        item = self.current_item()
        if w.store is None or item is None or item.kind != "audio":
            w.notify("Select the questioned audio evidence item first.", level="warning",
                     title="Compare with reference")
            return []
        candidates = reference_candidates(item, w.evidence_items())
        if not candidates:
            w.notify("The case holds no other audio evidence to compare with: add the reference recording first.",
                     level="warning", title="Compare with reference")
            return []
        dialog = CompareDialog(item, candidates, parent=w)
        if dialog.exec() != CompareDialog.DialogCode.Accepted or dialog.chosen_id() is None:
            return []
        return self.compare_with_reference(item.id, int(dialog.chosen_id()))  # type: ignore[arg-type]

    def compare_with_reference(self, evidence_id: int, reference_id: int) -> list[str]:
        """Queue and run ``audio.reference_comparison`` of ``evidence_id`` against ``reference_id``.

        Returns
        -------
        list of str
            The job key ``"run:<run id>"`` (empty when queueing failed; the error is shown).
        """
        return self.window.job_actions.run_analyses(
            [evidence_id], [REFERENCE_ANALYZER], {REFERENCE_ANALYZER: {"reference_id": int(reference_id)}},
            title="Compare with reference")

    def _voices(self) -> tuple[list[str], str, bool]:
        """Voices the transcript analyzer offers, its default, and whether the list is closed."""
        from forensics_app.analysis import registry

        try:
            info: Any = registry.get(TRANSCRIPT_ANALYZER)
        except Exception:
            return [], DEFAULT_VOICE, False
        param = next((p for p in info.params if p.name == "voice"), None)
        if param is None:
            return [], DEFAULT_VOICE, False
        return [str(c) for c in param.choices], str(param.default or DEFAULT_VOICE), bool(param.choices)

    def align_transcript_dialog(self) -> list[str]:
        """Analysis ▸ Align transcript…: type the transcript, then queue the alignment."""
        w = self.window
        item = self.current_item()
        if w.store is None or item is None or item.kind != "audio":
            w.notify("Select the questioned audio evidence item first.", level="warning", title="Align transcript")
            return []
        choices, default, fixed = self._voices()
        kwargs: dict[str, Any] = {"default_voice": default, "fixed_voices": fixed}
        if choices:
            kwargs["voices"] = choices
        dialog = TranscriptDialog(item, parent=w, **kwargs)
        if dialog.exec() != TranscriptDialog.DialogCode.Accepted or dialog.problem():
            return []
        return self.align_transcript(item.id, dialog.transcript(), voice=dialog.voice())

    def align_transcript(self, evidence_id: int, transcript: str, *, voice: str = DEFAULT_VOICE) -> list[str]:
        """Queue and run ``audio.transcript_alignment`` of ``evidence_id`` with a transcript.

        Returns
        -------
        list of str
            The job key (empty for a blank transcript, which is refused with a warning, or when
            queueing failed).
        """
        text = " ".join(str(transcript).split())
        if not text:
            self.window.notify("The transcript is empty: type what is said in the recording.", level="warning",
                               title="Align transcript")
            return []
        return self.window.job_actions.run_analyses(
            [evidence_id], [TRANSCRIPT_ANALYZER], {TRANSCRIPT_ANALYZER: {"transcript": text, "voice": voice}},
            title="Align transcript")
