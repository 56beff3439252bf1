"""The Run analyses dialog's parameter form, and parameters from the GUI to the stored run."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QCheckBox, QComboBox, QDoubleSpinBox, QLineEdit, QSpinBox
from sqlalchemy import select

from forensics_app.analysis import registry
from forensics_app.analysis.registry import Param
from forensics_app.domain.errors import AnalyzerError
from forensics_app.domain.media import AudioClip
from forensics_app.domain.results import AnalysisResult, Finding
from forensics_app.gui.analyzers_dialog import AnalyzersDialog
from forensics_app.gui.main_window import MainWindow
from forensics_app.ingest.acquire import Outcome, add_evidence
from forensics_app.store import repo
from forensics_app.store.case import CaseStore
from forensics_app.store.schema import AuditEvent

WAIT = 15_000
AID = "test.params"
OTHER = "test.params_other"
PARAMS = [
    Param("window_s", 0.5, "Analysis window (s)", 0.01, 10.0),
    Param("count", 3, "Peaks reported", 1, 100),
    Param("mode", "fast", "Search mode", choices=("fast", "exact")),
    Param("robust", False, "Use the robust estimator"),
    Param("label", "x", "Free-text label"),
    Param("reference_csv", "", "Reference log (CSV); empty = none"),
    Param("gain", 1.0, "Gain (no bounds: typed as text)"),
]
DEFAULTS = {p.name: p.default for p in PARAMS}


@pytest.fixture
def seen() -> Iterator[list[dict[str, Any]]]:
    """Registers ``test.params`` (audio; records the params it is called with) and ``test.params_other``."""
    calls: list[dict[str, Any]] = []
    mp = pytest.MonkeyPatch()
    mp.setattr(registry, "_loaded", True)  # the built-in analyzers are not needed here

    @registry.analyzer(id=AID, version="0.3", media=["audio"], label="Parameter test analyzer", params=PARAMS)
    def with_params(media: AudioClip, *, params: Any, progress: Any) -> AnalysisResult:
        calls.append(dict(params))
        progress.report(1.0, "done")
        peak = float(np.max(np.abs(media.samples)))
        return AnalysisResult(findings=(Finding("Peak", fake_likelihood=None, details={"peak": peak}),))

    @registry.analyzer(id=OTHER, version="0.1", media=["audio"], label="Other test analyzer",
                       params=[Param("threshold", 0.2, "Threshold", 0.0, 1.0)])
    def other(media: AudioClip, *, params: Any, progress: Any) -> AnalysisResult:
        return AnalysisResult(findings=())

    yield calls
    registry.unregister(AID)
    registry.unregister(OTHER)
    mp.undo()


def _dialog(qtbot: Any) -> AnalyzersDialog:
    dialog = AnalyzersDialog([registry.get(AID), registry.get(OTHER)], evidence_summary="#1 call.wav (audio)")
    qtbot.addWidget(dialog)
    return dialog


def test_form_shows_params_with_their_defaults(qtbot: Any, seen: Any) -> None:
    dialog = _dialog(qtbot)
    panel = dialog.params_panel
    assert panel.current_id == AID  # the first analyzer is selected on opening
    window = panel.editor("window_s")
    assert isinstance(window, QDoubleSpinBox)
    assert (window.value(), window.minimum(), window.maximum()) == (0.5, 0.01, 10.0)
    assert window.text() == "0.5"  # no trailing zeros
    count = panel.editor("count")
    assert isinstance(count, QSpinBox) and (count.value(), count.minimum(), count.maximum()) == (3, 1, 100)
    mode = panel.editor("mode")
    assert isinstance(mode, QComboBox) and mode.currentText() == "fast" and mode.count() == 2
    robust = panel.editor("robust")
    assert isinstance(robust, QCheckBox) and not robust.isChecked()
    label = panel.editor("label")
    assert isinstance(label, QLineEdit) and label.text() == "x"
    gain = panel.editor("gain")
    assert isinstance(gain, QLineEdit) and gain.text() == "1.0"
    assert isinstance(panel.editor("reference_csv"), QLineEdit)
    assert panel.path_button("reference_csv") is not None and panel.path_button("label") is None
    assert panel.values(AID) == DEFAULTS
    assert dialog.ok_button.isEnabled() and dialog.problem() == ""
    assert dialog.chosen_params() == {AID: {}, OTHER: {}}


def test_edited_values_come_back_and_are_kept_per_analyzer(qtbot: Any, seen: Any, tmp_path: Path) -> None:
    log = tmp_path / "enf_reference.csv"
    log.write_text("timestamp,frequency\n0,50.0\n")
    dialog = _dialog(qtbot)
    panel = dialog.params_panel
    panel.editor("window_s").setValue(2.5)
    qtbot.keyClicks(panel.editor("label"), " case 7")
    panel.editor("mode").setCurrentIndex(1)
    panel.editor("robust").setChecked(True)
    panel.editor("gain").setText("0.75")
    panel.choose_path = lambda param, current: str(log)  # stands in for the file dialog
    qtbot.mouseClick(panel.path_button("reference_csv"), Qt.MouseButton.LeftButton)
    assert panel.editor("reference_csv").text() == str(log)
    expected = {"window_s": 2.5, "label": "x case 7", "mode": "exact", "robust": True, "gain": 0.75,
                "reference_csv": str(log)}
    assert dialog.chosen_params()[AID] == expected  # only the changed values, converted
    assert "6 parameter(s) changed" in dialog.list.item(0).text()

    dialog.select(OTHER)  # edits survive moving to another analyzer and back
    assert panel.current_id == OTHER
    panel.editor("threshold").setValue(0.4)
    dialog.select(AID)
    assert panel.editor("window_s").value() == 2.5 and panel.editor("label").text() == "x case 7"
    assert dialog.chosen_params() == {AID: expected, OTHER: {"threshold": 0.4}}

    qtbot.mouseClick(panel.defaults_button, Qt.MouseButton.LeftButton)  # resets the shown analyzer only
    assert panel.values(AID) == DEFAULTS and panel.editor("window_s").value() == 0.5
    assert panel.editor("label").text() == "x" and not panel.editor("robust").isChecked()
    assert dialog.chosen_params() == {AID: {}, OTHER: {"threshold": 0.4}}
    assert "changed" not in dialog.list.item(0).text()

    dialog.set_checked([OTHER])
    assert dialog.chosen_ids() == [OTHER] and dialog.chosen_params() == {OTHER: {"threshold": 0.4}}


def test_invalid_values_disable_run_with_a_message(qtbot: Any, seen: Any, tmp_path: Path) -> None:
    dialog = _dialog(qtbot)
    panel = dialog.params_panel
    panel.set_value(AID, "window_s", 0.001)  # below the minimum (the spin box itself would clamp)
    assert not dialog.ok_button.isEnabled()
    assert "below the minimum 0.01" in dialog.error.text() and dialog.error.text().startswith(AID)
    assert "below the minimum" in panel.error_text("window_s")
    with pytest.raises(AnalyzerError):
        dialog.chosen_params()
    qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)
    assert dialog.result() != AnalyzersDialog.DialogCode.Accepted

    panel.editor("window_s").setValue(1.0)  # the examiner corrects it in the field
    assert dialog.ok_button.isEnabled() and panel.error_text("window_s") == "" and dialog.error.text() == ""

    panel.editor("gain").setText("loud")  # a number param without bounds is typed as text
    assert not dialog.ok_button.isEnabled()
    assert "'loud' is not a float" in panel.error_text("gain") and "gain" in dialog.error.text()
    dialog.set_checked([OTHER])  # an unchecked analyzer's problems do not block the others
    assert dialog.ok_button.isEnabled()
    dialog.set_checked([AID, OTHER])
    assert not dialog.ok_button.isEnabled()
    panel.editor("gain").setText("2e-3")
    assert dialog.ok_button.isEnabled()

    panel.editor("reference_csv").setText(str(tmp_path / "missing.csv"))  # file params must exist
    assert not dialog.ok_button.isEnabled() and "no file" in panel.error_text("reference_csv")
    panel.editor("reference_csv").setText("")
    assert dialog.ok_button.isEnabled()
    assert dialog.chosen_params()[AID] == {"window_s": 1.0, "gain": 0.002}
    qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)
    assert dialog.result() == AnalyzersDialog.DialogCode.Accepted


def test_builtin_analyzer_forms_round_trip_their_defaults(qtbot: Any) -> None:
    """Every built-in parameter's editor shows its default exactly (no rounding by the spin boxes)."""
    infos = registry.all_analyzers()
    assert "audio.enf" in {a.id for a in infos}
    dialog = AnalyzersDialog(infos, evidence_summary="all kinds")
    qtbot.addWidget(dialog)
    panel = dialog.params_panel
    for info in infos:
        dialog.select(info.id)
        for p in info.params:
            editor = panel.editor(p.name)
            if isinstance(editor, QSpinBox | QDoubleSpinBox):
                assert (editor.value(), editor.minimum(), editor.maximum()) == (p.default, p.minimum, p.maximum), p
        assert panel.overrides(info.id) == {}, info.id
    # the ENF analyzer's reference log gets a file chooser; its p-value threshold keeps 1e-12 resolution
    dialog.select("audio.enf")
    assert panel.path_button("reference_csv") is not None
    assert panel.editor("reference_max_p").text() == "0.01"
    assert isinstance(panel.editor("nominal_hz"), QComboBox)
    assert dialog.ok_button.isEnabled()


@pytest.fixture
def audio_case(case: CaseStore, media: dict[str, Path]) -> tuple[CaseStore, int]:
    result = add_evidence(case, media["audio"], examiner="Test Examiner")
    assert result.outcome is Outcome.ADDED and result.evidence_id is not None
    return case, result.evidence_id


def _run_params(store: CaseStore, key: str) -> dict[str, Any]:
    with store.session() as s:
        return dict(repo.get_run(s, int(key.split(":")[1])).params)


def test_run_analyses_records_changed_params(qtbot: Any, seen: list[dict[str, Any]], audio_case: Any,
                                             window: MainWindow) -> None:
    store, eid = audio_case
    window.set_store(store, owned=False)
    [changed] = window.run_analyses([eid], [AID], {AID: {"window_s": 2.5, "label": "case 7", "count": "9"}})
    [default] = window.run_analyses([eid], [AID])  # params omitted: the defaults
    qtbot.waitUntil(lambda: all(window.jobs_panel.status(k) == "done" for k in (changed, default)), timeout=WAIT)
    expected = {**DEFAULTS, "window_s": 2.5, "label": "case 7", "count": 9}
    assert _run_params(store, changed) == expected
    assert _run_params(store, default) == DEFAULTS
    assert sorted(seen, key=lambda p: p["window_s"]) == [DEFAULTS, expected]  # what the analyzer received
    with store.session() as s:
        queued = [e.details for e in s.scalars(select(AuditEvent).where(AuditEvent.action == "analysis.queued"))]
    assert expected in [d["params"] for d in queued]

    assert window.run_analyses([eid], [AID], {AID: {"window_s": 99.0}}) == []  # above the maximum: not queued
    assert "above the maximum" in window.messages[-1][1]


def test_dialog_choice_reaches_the_run(qtbot: Any, seen: list[dict[str, Any]], audio_case: Any,
                                       window: MainWindow, monkeypatch: pytest.MonkeyPatch) -> None:
    """Analysis ▸ Run analyses…: what the examiner edits in the dialog is what the run records."""
    store, eid = audio_case
    window.set_store(store, owned=False)
    window.select_evidence(eid)
    opened: list[AnalyzersDialog] = []

    def fake_exec(dialog: AnalyzersDialog) -> int:  # no modal loop: edit the form, then press Run
        opened.append(dialog)
        dialog.set_checked([AID])
        dialog.select(AID)
        dialog.params_panel.editor("count").setValue(7)
        dialog.params_panel.editor("robust").setChecked(True)
        return AnalyzersDialog.DialogCode.Accepted

    monkeypatch.setattr(AnalyzersDialog, "exec", fake_exec)
    window.run_analyses_dialog()
    assert len(opened) == 1
    [key] = window.jobs_panel.job_keys()
    qtbot.waitUntil(lambda: window.jobs_panel.status(key) == "done", timeout=WAIT)
    assert _run_params(store, key) == {**DEFAULTS, "count": 7, "robust": True}
