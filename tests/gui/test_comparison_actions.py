"""The comparison commands of the main window: evidence roles, Compare with reference, Align transcript.

The actions queue the analyzers ``audio.reference_comparison`` and ``audio.transcript_alignment``.
Most tests run them against stand-ins registered here under those ids, in a registry of their own
(the stand-ins compute real alignments from the generated recordings, see comparison_fixtures), so
they test the GUI without the real analyzers; the last test runs the real reference comparison end
to end when it is registered.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf
from gui.comparison_fixtures import (
    INSERT_AT_S,
    RATE,
    align_recordings,
    melody,
    with_insertion,
    word_alignment,
    word_recording,
    write,
    write_png,
)
from PySide6.QtWidgets import QMessageBox

from forensics_app.analysis import registry
from forensics_app.analysis.registry import Param
from forensics_app.domain.results import AnalysisResult
from forensics_app.gui.comparison_actions import REFERENCE_ANALYZER, TRANSCRIPT_ANALYZER
from forensics_app.gui.comparison_dialogs import CompareDialog, TranscriptDialog
from forensics_app.gui.evidence_panel import COL_ROLE, REFERENCE_TAG
from forensics_app.gui.main_window import MainWindow
from forensics_app.gui.views import AudioView
from forensics_app.ingest.acquire import add_evidence
from forensics_app.store import repo
from forensics_app.store.case import CaseStore
from forensics_app.store.evidence_roles import ROLE_REFERENCE, set_role

WAIT = 30_000


@pytest.fixture
def fresh_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    """An empty registry (restored after the test); the built-in analyzers are not loaded."""
    monkeypatch.setattr(registry, "_REGISTRY", {})
    monkeypatch.setattr(registry, "_loaded", True)


@pytest.fixture
def stand_ins(fresh_registry: None) -> Iterator[list[dict[str, Any]]]:
    """Stand-ins under the real analyzers' ids; each call's params are recorded."""
    calls: list[dict[str, Any]] = []

    @registry.analyzer(id=REFERENCE_ANALYZER, version="0.0-test", media=["audio"], label="Reference (stand-in)",
                       params=[Param("reference_id", 0, "Reference evidence id")], reference=True)
    def compare(media: Any, *, params: Any, progress: Any, reference: Any) -> AnalysisResult:
        calls.append(dict(params))
        return AnalysisResult(align_recordings(media.mono(), media.rate, reference.mono(), reference.rate))

    @registry.analyzer(id=TRANSCRIPT_ANALYZER, version="0.0-test", media=["audio"], label="Transcript (stand-in)",
                       params=[Param("transcript", "", "Transcript"), Param("voice", "en-us", "espeak-ng voice")])
    def align(media: Any, *, params: Any, progress: Any) -> AnalysisResult:
        calls.append(dict(params))
        return AnalysisResult((word_alignment(media.mono(), media.rate),))

    yield calls


@pytest.fixture
def two_recordings(case: CaseStore, tmp_path: Path) -> tuple[CaseStore, dict[str, int]]:
    """A broadcast, a leaked copy with an inserted burst, a tone-word recording and a PNG."""
    ref = melody()
    paths = {"broadcast": write(tmp_path / "broadcast.wav", ref),
             "leak": write(tmp_path / "leak.wav", with_insertion(ref)),
             "words": write(tmp_path / "words.wav", word_recording()),
             "photo": write_png(tmp_path / "photo.png")}
    ids = {}
    for name, path in paths.items():
        added = add_evidence(case, path, examiner="Test Examiner")
        assert added.evidence_id is not None, added.reason
        ids[name] = added.evidence_id
    return case, ids


def _open(qtbot: Any, window: MainWindow, store: CaseStore, select: int) -> None:
    window.set_store(store, owned=False)
    qtbot.waitUntil(lambda: select in window.evidence_panel.items, timeout=WAIT)
    window.select_evidence(select)
    # the analyzer modules are imported on the worker pool, once (the actions say so meanwhile)
    qtbot.waitUntil(lambda: window.comparison_actions.registry_state == "ready"
                    or window.evidence_panel.items[select].kind != "audio", timeout=WAIT)


def _run_params(store: CaseStore, key: str) -> dict[str, Any]:
    with store.session() as s:
        return dict(repo.get_run(s, int(key.split(":")[1])).params)


def test_mark_as_reference_toggles_the_role_and_is_audited(qtbot: Any, two_recordings: Any, stand_ins: Any,
                                                           window: MainWindow) -> None:
    store, ids = two_recordings
    _open(qtbot, window, store, ids["broadcast"])
    action = window.mark_reference_action
    assert action.isEnabled() and action.isCheckable() and not action.isChecked()
    assert action in window.evidence_panel.table.actions()  # also in the evidence table's context menu
    action.trigger()  # checks it
    qtbot.waitUntil(lambda: window.evidence_panel.items[ids["broadcast"]].role == ROLE_REFERENCE, timeout=WAIT)
    panel = window.evidence_panel
    assert panel.proxy.index(panel.row_of(ids["broadcast"]), COL_ROLE).data() == REFERENCE_TAG
    assert panel.proxy.index(panel.row_of(ids["leak"]), COL_ROLE).data() == "questioned"
    assert action.isChecked()
    window.select_evidence(ids["leak"])
    assert not action.isChecked()  # follows the current item
    window.select_evidence(ids["broadcast"])
    assert action.isChecked()
    action.trigger()  # unchecks it: questioned again
    qtbot.waitUntil(lambda: window.evidence_panel.items[ids["broadcast"]].role == "questioned", timeout=WAIT)
    with store.session() as s:
        events = [e for e in repo.list_audit(s) if e.action == "evidence.role"]
    assert [(e.details["evidence_id"], e.details["from"], e.details["to"], e.examiner) for e in events] == [
        (ids["broadcast"], "questioned", "reference", "Test Examiner"),
        (ids["broadcast"], "reference", "questioned", "Test Examiner")]


def test_actions_say_why_they_are_disabled(qtbot: Any, two_recordings: Any, fresh_registry: None,
                                           window: MainWindow) -> None:
    store, ids = two_recordings
    assert not window.compare_action.isEnabled() and "Open a case" in window.compare_action.toolTip()
    _open(qtbot, window, store, ids["photo"])
    assert not window.compare_action.isEnabled() and "audio" in window.compare_action.toolTip()
    assert not window.align_action.isEnabled()
    assert window.comparison_actions.registry_state == "unloaded"  # nothing to check for an image
    window.select_evidence(ids["leak"])  # audio, but the analyzers are not registered
    assert not window.compare_action.isEnabled() and "Loading" in window.compare_action.toolTip()
    qtbot.waitUntil(lambda: window.comparison_actions.registry_state == "ready", timeout=WAIT)
    for action, aid in ((window.compare_action, REFERENCE_ANALYZER), (window.align_action, TRANSCRIPT_ANALYZER)):
        assert not action.isEnabled() and f"{aid} is not registered" in action.toolTip()
    assert window.mark_reference_action.isEnabled()  # roles need no analyzer

    @registry.analyzer(id=REFERENCE_ANALYZER, version="0.0-test", media=["audio"], label="stand-in",
                       params=[Param("reference_id", 0, "Reference evidence id")], reference=True)
    def compare(media: Any, *, params: Any, progress: Any, reference: Any) -> AnalysisResult:
        raise AssertionError("not run here")

    window.comparison_actions.update()
    assert window.compare_action.isEnabled() and not window.align_action.isEnabled()


def test_compare_dialog_preselects_the_reference_and_queues_the_comparison(
        qtbot: Any, two_recordings: Any, stand_ins: list[dict[str, Any]], window: MainWindow,
        monkeypatch: pytest.MonkeyPatch) -> None:
    store, ids = two_recordings
    set_role(store, ids["broadcast"], role=ROLE_REFERENCE, examiner="Test Examiner")
    _open(qtbot, window, store, ids["leak"])
    seen: dict[str, Any] = {}

    def fake_exec(dialog: CompareDialog) -> int:  # no modal loop: look at the offer, then press Compare
        seen["offered"] = [dialog.list.item(i).text() for i in range(dialog.list.count())]
        seen["chosen"] = dialog.chosen_id()
        seen["ok"] = dialog.ok_button.isEnabled()
        return CompareDialog.DialogCode.Accepted

    monkeypatch.setattr(CompareDialog, "exec", fake_exec)
    [key] = window.comparison_actions.compare_with_reference_dialog()
    # the marked reference first and preselected; the other audio item offered too; not the image
    assert seen["chosen"] == ids["broadcast"] and seen["ok"]
    assert seen["offered"][0].startswith(f"★ reference · #{ids['broadcast']} broadcast.wav")
    assert len(seen["offered"]) == 2 and "words.wav" in seen["offered"][1]
    assert _run_params(store, key) == {"reference_id": ids["broadcast"]}
    qtbot.waitUntil(lambda: window.jobs_panel.status(key) == "done", timeout=WAIT)
    assert stand_ins == [{"reference_id": ids["broadcast"]}]

    # The comparison's findings are listed; selecting one shows the matrix under the audio view.
    qtbot.waitUntil(lambda: any(f.label == "Inserted span" for f in window.findings), timeout=WAIT)
    inserted = next(f for f in window.findings if f.label == "Inserted span")
    assert inserted.start_s == pytest.approx(INSERT_AT_S, abs=0.05)
    view = window.viewer.current_view
    assert isinstance(view, AudioView)
    qtbot.waitUntil(lambda: view.is_loaded, timeout=WAIT)
    window.show_finding(inserted)
    qtbot.waitUntil(lambda: view.alignment.isVisible() and view.alignment.layer is not None, timeout=WAIT)
    assert view.alignment.matrix.name == "reference-alignment"

    # Queueing errors (here: the item compared with itself) are shown in a message box.
    assert window.comparison_actions.compare_with_reference(ids["leak"], ids["leak"]) == []
    level, text = window.messages[-1]
    assert level == "error" and "reference must be another evidence item" in text
    boxes = [b for b in window.findChildren(QMessageBox) if b.isVisible()]
    assert boxes and "reference must be another evidence item" in boxes[-1].text()
    assert "Traceback" not in boxes[-1].text()


def test_compare_without_another_recording_warns(qtbot: Any, case: CaseStore, tmp_path: Path, stand_ins: Any,
                                                 window: MainWindow) -> None:
    eid = add_evidence(case, write(tmp_path / "only.wav", melody()), examiner="Test Examiner").evidence_id
    _open(qtbot, window, case, eid)
    assert window.comparison_actions.compare_with_reference_dialog() == []
    assert window.messages[-1][0] == "warning" and "no other audio evidence" in window.messages[-1][1]


def test_transcript_dialog_refuses_an_empty_transcript_and_queues_the_text(
        qtbot: Any, two_recordings: Any, stand_ins: list[dict[str, Any]], window: MainWindow,
        monkeypatch: pytest.MonkeyPatch) -> None:
    store, ids = two_recordings
    _open(qtbot, window, store, ids["words"])
    assert window.align_action.isEnabled()
    seen: dict[str, Any] = {}

    def fake_exec(dialog: TranscriptDialog) -> int:
        seen["empty_ok"] = dialog.ok_button.isEnabled()
        dialog.text.setPlainText("   \n  ")
        seen["blank_ok"] = dialog.ok_button.isEnabled()
        seen["problem"] = dialog.problem()
        dialog._accept_if_valid()  # pressing Align now does nothing
        seen["result_blank"] = dialog.result()
        dialog.text.setPlainText("one two\nthree  four five")
        seen["voice"] = dialog.voice()
        seen["ok"] = dialog.ok_button.isEnabled()
        return TranscriptDialog.DialogCode.Accepted

    monkeypatch.setattr(TranscriptDialog, "exec", fake_exec)
    [key] = window.comparison_actions.align_transcript_dialog()
    assert not seen["empty_ok"] and not seen["blank_ok"] and seen["problem"] == "Type the transcript first."
    assert seen["result_blank"] == 0 and seen["ok"] and seen["voice"] == "en-us"
    assert _run_params(store, key) == {"transcript": "one two three four five", "voice": "en-us"}
    qtbot.waitUntil(lambda: window.jobs_panel.status(key) == "done", timeout=WAIT)
    assert stand_ins[-1]["transcript"] == "one two three four five"
    # a blank transcript passed directly is refused too, with a warning, and nothing is queued
    assert window.comparison_actions.align_transcript(ids["words"], " ") == []
    assert window.messages[-1][0] == "warning"


def test_run_analyses_dialog_leaves_the_comparisons_to_their_actions(
        qtbot: Any, two_recordings: Any, stand_ins: Any, window: MainWindow, monkeypatch: pytest.MonkeyPatch) -> None:
    from forensics_app.gui.analyzers_dialog import AnalyzersDialog

    @registry.analyzer(id="test.plain", version="0.1", media=["audio"], label="Plain")
    def plain(media: Any, *, params: Any, progress: Any) -> AnalysisResult:
        return AnalysisResult(())

    store, ids = two_recordings
    _open(qtbot, window, store, ids["leak"])
    offered: list[str] = []

    def fake_exec(dialog: AnalyzersDialog) -> int:
        offered.extend(a.id for a in dialog.analyzers)
        return AnalyzersDialog.DialogCode.Rejected

    monkeypatch.setattr(AnalyzersDialog, "exec", fake_exec)
    window.run_analyses_dialog()
    assert offered == ["test.plain"]  # no reference comparison with reference_id 0, no empty transcript


def _espeak(path: Path, text: str) -> np.ndarray:
    subprocess.run(["espeak-ng", "-v", "en-us", "-s", "150", "-w", str(path), text], check=True,
                   capture_output=True, timeout=30)
    x, rate = sf.read(str(path), dtype="float32")
    if rate != RATE:
        from forensics_app.training.audio_io import resample

        x = resample(x, src_rate=rate, dst_rate=RATE)
    return np.asarray(x, dtype=np.float32)


def test_real_reference_comparison_end_to_end(qtbot: Any, case: CaseStore, tmp_path: Path,
                                              window: MainWindow) -> None:
    """Compare with reference through the worker with the real analyzer, then show its matrix."""
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed")
    ids = {a.id for a in registry.all_analyzers()}
    if REFERENCE_ANALYZER not in ids:
        pytest.skip(f"{REFERENCE_ANALYZER} is not registered yet (load errors: {registry.load_errors()})")
    speech = _espeak(tmp_path / "tts.wav", "the transfer was approved by the bank manager on friday morning")
    cut = int(1.2 * RATE)
    noise = 0.05 * np.random.default_rng(1).standard_normal(int(0.5 * RATE)).astype(np.float32)
    ref_id = add_evidence(case, write(tmp_path / "reference.wav", speech), examiner="Test Examiner").evidence_id
    q_id = add_evidence(case, write(tmp_path / "questioned.wav", np.concatenate([speech[:cut], noise, speech[cut:]])),
                        examiner="Test Examiner").evidence_id
    set_role(case, ref_id, role=ROLE_REFERENCE, examiner="Test Examiner")
    _open(qtbot, window, case, q_id)
    assert window.compare_action.isEnabled(), window.compare_action.toolTip()
    [key] = window.comparison_actions.compare_with_reference(q_id, ref_id)
    qtbot.waitUntil(lambda: window.jobs_panel.status(key) not in {"queued", "running"}, timeout=240_000)
    assert window.jobs_panel.status(key) == "done"
    qtbot.waitUntil(lambda: any(f.alignment_refs for f in window.findings if f.evidence_id == q_id), timeout=WAIT)
    overview = next(f for f in window.findings if f.evidence_id == q_id and f.alignment_refs)
    view = window.viewer.current_view
    assert isinstance(view, AudioView)
    qtbot.waitUntil(lambda: view.is_loaded, timeout=WAIT)
    window.show_finding(overview)
    qtbot.waitUntil(lambda: view.alignment.isVisible() and view.alignment.layer is not None, timeout=WAIT)
    stored = case.artifacts.get_alignment(dict(overview.alignment_refs[0]))
    assert view.alignment.matrix.values.shape == stored.values.shape
    assert view.alignment.image.image is not None and view.alignment.path_curve.getData()[0].size == len(stored.path)
