"""Detectors from the workstation: run them, then re-score the selected span under re-encoding."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf
from detector_fixtures import RATE, babble, install_tiny_detector, whistle

from forensics_app.detectors import catalog
from forensics_app.gui.main_window import MainWindow
from forensics_app.gui.views import AudioView
from forensics_app.ingest.acquire import add_evidence
from forensics_app.store.case import CaseStore

WAIT = 60_000


@pytest.fixture
def tiny_models(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    d = tmp_path / "models"
    install_tiny_detector(d, model_id="tiny-lcnn")
    monkeypatch.setattr(catalog, "shipped_models_dir", lambda: d)
    return d


def test_detectors_then_rescore_selection(qtbot: Any, case: CaseStore, tmp_path: Path, tiny_models: Path,
                                          window: MainWindow) -> None:
    x = babble(10 * RATE, np.random.default_rng(3))
    x[5 * RATE:8 * RATE] += whistle(3 * RATE)
    sf.write(tmp_path / "call.wav", x, RATE, subtype="PCM_16")
    eid = add_evidence(case, tmp_path / "call.wav", examiner="Ann").evidence_id
    window.set_store(case, owned=False)
    qtbot.waitUntil(lambda: eid in window.evidence_panel.items, timeout=WAIT)
    window.select_evidence(eid)
    qtbot.waitUntil(lambda: isinstance(window.viewer.current_view, AudioView)
                    and window.viewer.current_view.is_loaded, timeout=WAIT)

    keys = window.run_analyses([eid], ["audio.levels", "audio.synthetic_speech"])
    qtbot.waitUntil(lambda: all(window.jobs_panel.status(k) == "done" for k in keys), timeout=WAIT)
    qtbot.waitUntil(lambda: any(f.label.startswith("Suspicious segment") for f in window.findings), timeout=WAIT)
    view = window.viewer.current_view
    qtbot.waitUntil(lambda: any(lane.series.name == "tiny-lcnn" for lane in view.lanes), timeout=WAIT)
    # of the many lanes (levels: several dBFS lanes), the detector's FakeLikelihood lane is among
    # the three shown by default
    assert len(view._all_lanes) > 3 and len(view.lanes) == 3
    seg = next(f for f in window.findings if f.label.startswith("Suspicious segment"))
    assert seg.map_refs and seg.start_s < 6.5 and seg.end_s > 7.0

    window.viewer.current_view.set_selection(5.0, 8.0)
    [key] = window.job_actions.rescore_selection()
    qtbot.waitUntil(lambda: window.jobs_panel.status(key) == "done", timeout=WAIT)
    qtbot.waitUntil(lambda: any("under re-encoding" in f.label for f in window.findings), timeout=WAIT)
    head = next(f for f in window.findings if "under re-encoding" in f.label)
    assert (head.start_s, head.end_s) == pytest.approx((5.0, 8.0), abs=1e-3)
    assert "supports synthetic" in head.label


def test_rescore_without_audio_warns(qtbot: Any, window: MainWindow) -> None:
    assert window.job_actions.rescore_selection() == []
    assert any(level == "warning" for level, _text in window.messages)
