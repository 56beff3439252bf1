"""Background work on a case's evidence for the main window: acquiring files and running analyses.

:class:`JobActions` is a plain Python helper owned by
:class:`~forensics_app.gui.main_window.MainWindow` (composition); the window delegates
``add_files``, ``run_analyses`` and their dialogs here. Each acquisition and each analysis run is
one job on the window's :class:`~forensics_app.gui.workers.WorkerPool` with a row in the jobs
panel; its callback reloads the evidence list or the findings from the store, and is ignored once
the case it was queued on has been closed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtWidgets import QFileDialog

from forensics_app.gui import tasks
from forensics_app.gui.analyzers_dialog import AnalyzersDialog, applicable
from forensics_app.gui.comparison_actions import DEDICATED_ACTIONS

if TYPE_CHECKING:
    from forensics_app.gui.main_window import MainWindow


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


class JobActions:
    """The window's evidence acquisition and analysis commands (File ▸ Add evidence, Analysis ▸ Run).

    Parameters
    ----------
    window : MainWindow
        The owning window; its state and widgets are read and updated in place.
    """

    def __init__(self, window: MainWindow) -> None:
        self.window = window

    # ------------------------------------------------------------ acquisition

    def add_evidence_dialog(self) -> None:
        """File ▸ Add evidence…: choose files to acquire."""
        files, _ = QFileDialog.getOpenFileNames(self.window, "Add evidence", "", "All files (*)")
        if files:
            self.window.add_files([Path(f) for f in files])

    def add_files(self, paths: Sequence[Path]) -> list[str]:
        """Acquire files (one background job each); the path used by the dialog and drag-and-drop.

        Returns
        -------
        list of str
            The job keys (rows of the jobs panel).
        """
        w = self.window
        if w.store is None:
            w.notify("Open or create a case before adding evidence.", level="warning")
            return []
        keys = []
        store, generation = w.store, w._generation
        for path in expand_paths(paths):
            key = w.pool.unique_key("acquire")
            w.jobs_panel.add_job(key, title="acquire", evidence=path.name)
            w.pool.submit(key, tasks.acquire(store, path, examiner=w.examiner),
                          on_finished=lambda result, k=key, g=generation: self._on_acquired(k, g, result),
                          on_failed=lambda msg, _tb, p=path: w.notify(f"{p.name}: acquisition failed: {msg}",
                                                                      level="warning"))
            keys.append(key)
        return keys

    def _on_acquired(self, key: str, generation: int, result: Any) -> None:
        from forensics_app.ingest.acquire import Outcome

        w = self.window
        if not w._current(generation):
            return
        name = Path(result.original).name
        if result.outcome is Outcome.ADDED:
            w.jobs_panel.set_done(key, f"added as #{result.evidence_id} ({result.media_kind})")
            w.statusBar().showMessage(f"{name} added as evidence #{result.evidence_id}", 8000)
            w.refresh_evidence()
            if w.evidence_panel.current_id() is None and result.evidence_id is not None:
                w.select_evidence(result.evidence_id)
        elif result.outcome is Outcome.DUPLICATE:
            w.jobs_panel.set_outcome(key, "duplicate", f"duplicate: {result.reason}")
            w.notify(f"Duplicate: {result.reason}", level="info")
        else:
            w.jobs_panel.set_outcome(key, "refused", f"refused: {result.reason}")
            w.notify(f"Refused: {result.reason}", level="info")

    # --------------------------------------------------------------- analyses

    def available_analyzers(self) -> list[Any]:
        """Every registered analyzer (an error message is shown if the registry fails to load)."""
        from forensics_app.analysis import registry

        try:
            return registry.all_analyzers()
        except Exception as exc:  # a missing or broken analyzer module must not break the GUI
            self.window.notify(f"The analyzer registry could not be loaded: {type(exc).__name__}: {exc}",
                               level="error", title="Analyzers")
            return []

    def run_analyses_dialog(self) -> None:
        """Analysis ▸ Run analyses…: choose analyzers for the selected evidence (all when none selected)."""
        w = self.window
        if w.store is None:
            return
        ids = w.evidence_panel.selected_ids() or [e.id for e in w.evidence_items()]
        items = [w.evidence_panel.items[i] for i in ids if i in w.evidence_panel.items]
        if not items:
            w.notify("The case holds no evidence yet.", level="warning")
            return
        kinds = sorted({e.kind for e in items})
        summary = (f"#{items[0].id} {items[0].name} ({items[0].kind})" if len(items) == 1
                   else f"{len(items)} evidence items ({', '.join(kinds)})")
        # comparisons need a reference or a transcript: they run from their own actions
        offered = [a for a in w.available_analyzers()
                   if a.id not in DEDICATED_ACTIONS and not getattr(a, "needs_reference", False)]
        dialog = AnalyzersDialog(applicable(offered, kinds), evidence_summary=summary, parent=w)
        if dialog.exec() == AnalyzersDialog.DialogCode.Accepted and dialog.chosen_ids():
            w.run_analyses([e.id for e in items], dialog.chosen_ids(), dialog.chosen_params())

    def rescore_selection(self) -> list[str]:
        """Analysis ▸ Re-score selection under re-encoding: robustness of the detectors' verdicts on
        the audio view's selection (the whole recording when nothing is selected)."""
        w = self.window
        evidence, view = w.viewer.evidence, w.viewer.current_view
        if w.store is None or evidence is None or evidence.kind != "audio":
            w.notify("Show an audio evidence item (and select a span) first.", level="warning",
                     title="Re-score selection")
            return []
        sel = getattr(view, "selection", None)
        params = {"start_s": sel.start_s, "end_s": sel.end_s} if sel is not None else {}
        return self.run_analyses([evidence.id], ["audio.detector_robustness"],
                                 {"audio.detector_robustness": params})

    def run_analyses(self, evidence_ids: Sequence[int], analyzer_ids: Sequence[str],
                     params: Mapping[str, Mapping[str, Any]] | None = None, *,
                     title: str = "Run analyses") -> list[str]:
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
        title : str
            Title of the message box that reports an analyzer that cannot be queued.

        Returns
        -------
        list of str
            Job keys ``"run:<run id>"``.
        """
        from forensics_app.analysis import registry, runner

        w = self.window
        if w.store is None:
            return []
        store, generation = w.store, w._generation
        params = params or {}
        specs, infos = {}, {}
        for aid in analyzer_ids:
            try:
                infos[aid] = registry.get(aid)
                specs[aid] = runner.make_spec(aid, params.get(aid))
            except Exception as exc:  # shown, never fatal
                w.notify(f"{aid}: {exc}", level="error", title=title)
        keys = []
        for eid in evidence_ids:
            item = w.evidence_panel.items.get(eid)
            if item is None:
                continue
            for aid, spec in specs.items():
                info = infos[aid]
                if item.kind not in {m.value for m in info.media}:
                    continue
                try:
                    run_id = runner.queue_job(store, evidence_id=eid, spec=spec, examiner=w.examiner)
                except Exception as exc:  # shown, never fatal
                    w.notify(f"{aid} on #{eid}: {exc}", level="error", title=title)
                    continue
                key = f"run:{run_id}"
                changed = "".join(f"\n  {name} = {spec.params[name]!r}" for name in (params.get(aid) or {}))
                w.jobs_panel.add_job(key, title=f"{aid} {info.version}", evidence=f"#{eid} {item.name}",
                                     tooltip=f"{info.label} ({aid} {info.version}), run #{run_id}"
                                     + (f"\nchanged parameters:{changed}" if changed else ""))
                w.pool.submit(key, tasks.run_analysis(store, run_id, examiner=w.examiner),
                              on_finished=lambda outcome, k=key, e=eid, g=generation:
                              self._on_run_done(k, e, g, outcome),
                              on_failed=lambda msg, _tb, a=aid, e=eid:
                              w.statusBar().showMessage(f"{a} on #{e} failed: {msg}", 15_000))
                keys.append(key)
        return keys

    def _on_run_done(self, key: str, evidence_id: int, generation: int, outcome: Any) -> None:
        w = self.window
        if not w._current(generation):
            return
        w.jobs_panel.set_done(key, f"done · {outcome.n_findings} finding(s) · run #{outcome.run_id}")
        w.refresh_findings(evidence_id=evidence_id)
        w.refresh_evidence()
