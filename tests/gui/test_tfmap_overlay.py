"""Time-frequency map overlays in the audio view: placement, on/off, opacity, menu, finding selection.

The maps come the way the synthetic-speech analyzer stores them: a test analyzer registered here
returns findings with TimeFreqMaps, the runner stores them as artifacts, and the view reads the
findings back through the GUI snapshots.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf

from forensics_app.analysis import registry, runner
from forensics_app.domain.results import AnalysisResult, Finding, TimeFreqMap
from forensics_app.gui.snapshots import FindingItem, read_evidence, read_findings
from forensics_app.gui.views.audio_view import AudioView
from forensics_app.gui.views.tfmap_overlay import (
    ALL_EXPLANATIONS,
    OVERLAY_Z,
    centre_edges,
    overlay_lut,
    place_map,
)
from forensics_app.gui.workers import WorkerPool
from forensics_app.ingest.acquire import add_evidence
from forensics_app.store.case import CaseStore

WAIT = 20_000
ANALYZER = "test.maps"
SECONDS = 3.0
RATE = 16_000


def write_wav(path: Path) -> Path:
    """A harmonic tone with a little noise (mono PCM 16, :data:`SECONDS` at :data:`RATE`)."""
    t = np.arange(int(SECONDS * RATE)) / RATE
    x = sum(0.2 / k * np.sin(2 * np.pi * 150 * k * t) for k in range(1, 8))
    x = x + 0.005 * np.random.default_rng(0).standard_normal(t.size)
    sf.write(str(path), x.astype(np.float32), RATE, subtype="PCM_16")
    return path


def relevance_map(name: str, t0: float, t1: float, *, n_t: int = 40, n_f: int = 64,
                  f_max: float = 8000.0) -> TimeFreqMap:
    """A map of relevance in [0, 1]: a blob at the middle of ``[t0, t1]`` around 3 kHz."""
    times = np.linspace(t0, t1, n_t)
    freqs = (np.arange(n_f) + 0.5) * f_max / n_f
    blob = np.exp(-((times[None, :] - (t0 + t1) / 2) / 0.15) ** 2 - ((freqs[:, None] - 3000) / 800) ** 2)
    return TimeFreqMap(name=name, unit="relevance", times_s=times, freqs_hz=freqs, values=blob / blob.max())


@pytest.fixture
def map_analyzer(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """``test.maps``: a verdict without a map, a segment with two maps (two detectors), one with one."""
    monkeypatch.setattr(registry, "_loaded", True)

    @registry.analyzer(id=ANALYZER, version="0.1", media=["audio"], label="Map test analyzer")
    def maps(media: Any, *, params: Any, progress: Any) -> AnalysisResult:
        return AnalysisResult(findings=(
            Finding("Synthetic speech verdict: inconclusive", fake_likelihood=0.5),
            Finding("Suspicious segment 0.50-1.00 s", fake_likelihood=0.8, start_s=0.5, end_s=1.0,
                    maps=(relevance_map("lcnn explanation", 0.5, 1.0),
                          relevance_map("aasist explanation", 0.6, 1.1, n_f=32))),
            Finding("Suspicious segment 1.80-2.60 s", fake_likelihood=0.7, start_s=1.8, end_s=2.6,
                    maps=(relevance_map("lcnn explanation", 1.8, 2.6, n_t=20),)),
        ))

    yield
    registry.unregister(ANALYZER)


@pytest.fixture
def pool(qtbot: Any) -> Iterator[WorkerPool]:
    p = WorkerPool()
    yield p
    p.shutdown(10_000)


def _case_with_maps(case: CaseStore, tmp_path: Path, *, analyse: bool = True) -> tuple[Any, list[FindingItem]]:
    wav = write_wav(tmp_path / "speech.wav")
    added = add_evidence(case, wav, examiner="Test Examiner")
    assert added.evidence_id is not None, added.reason
    if analyse:
        run_id = runner.queue_job(case, evidence_id=added.evidence_id, spec=runner.make_spec(ANALYZER),
                                  examiner="Test Examiner")
        assert runner.run_job(case, run_id).error is None
    evidence = next(e for e in read_evidence(case) if e.id == added.evidence_id)
    return evidence, read_findings(case, evidence_id=added.evidence_id)


def _open_view(qtbot: Any, pool: WorkerPool, case: CaseStore, evidence: Any,
               findings: list[FindingItem]) -> AudioView:
    view = AudioView(pool=pool, artifacts=case.artifacts, sink_factory=lambda wanted: None)
    qtbot.addWidget(view)
    view.resize(1100, 650)
    view.show()
    qtbot.waitExposed(view)
    view.load(evidence, findings)
    qtbot.waitUntil(lambda: view.is_loaded and view.renderer.is_current(), timeout=WAIT)
    qtbot.waitUntil(lambda: len(view.overlay.layers) == sum(len(f.map_refs) for f in findings), timeout=WAIT)
    return view


def _item_rect(item: Any) -> Any:
    return item.mapRectToParent(item.boundingRect())


def test_overlay_is_placed_at_the_maps_time_and_frequency_extent(qtbot: Any, pool: WorkerPool, case: CaseStore,
                                                                tmp_path: Path, map_analyzer: None) -> None:
    evidence, findings = _case_with_maps(case, tmp_path)
    view = _open_view(qtbot, pool, case, evidence, findings)
    seg = next(f for f in findings if f.start_s == 0.5)
    stored = case.artifacts.get_map(dict(seg.map_refs[0]))
    key = f"{ANALYZER} · lcnn explanation · 0.50–1.00 s"
    item = view.overlay.items[key]
    assert item.getViewBox() is view.spec_plot.vb  # drawn in the spectrogram's view box
    assert view.spec_image.zValue() < item.zValue() == OVERLAY_Z < view.playhead[1].zValue()
    t_edges, f_edges = centre_edges(stored.times_s), centre_edges(stored.freqs_hz, floor=0.0)
    rect = _item_rect(item)
    assert (rect.left(), rect.right()) == pytest.approx((t_edges[0], t_edges[-1]), abs=1e-9)
    assert (rect.top(), rect.bottom()) == pytest.approx((0.0, 8000.0), abs=1e-6)  # y grows upwards
    assert item.image.shape == stored.values.shape and item.isVisible()
    # Three explanation maps: "all" (shown first), the first segment's pair, then each map.
    assert view.controls.overlay_keys() == [
        ALL_EXPLANATIONS, f"{ANALYZER} · all maps · 0.50–1.00 s", key,
        f"{ANALYZER} · aasist explanation · 0.50–1.00 s", f"{ANALYZER} · lcnn explanation · 1.80–2.60 s"]
    assert view.controls.overlays.isEnabled() and view.overlay.choice == ALL_EXPLANATIONS
    assert view.controls.overlays.text() == "Overlay (3 maps)"
    assert all(i.isVisible() for i in view.overlay.items.values())
    # The readout names the map value under the cursor (the blob peaks at 0.75 s, 3 kHz).
    value = re.search(r"lcnn explanation: (\d\.\d\d) relevance", view.readout_text(0.75, 3000.0))
    assert value is not None and float(value.group(1)) >= 0.9
    assert "relevance" not in view.readout_text(0.1, 3000.0)  # no map there

    # Zoom follows: the item stays in data coordinates.
    view.show_range(0.4, 1.2)
    assert _item_rect(item).left() == pytest.approx(t_edges[0], abs=1e-9)

    # On the mel axis the rows are resampled and the rect spans the mel values of the Hz edges.
    before = view.renderer.renders_drawn
    view.controls.scale.setCurrentText("mel")
    qtbot.waitUntil(lambda: view.renderer.renders_drawn > before, timeout=WAIT)
    rect = _item_rect(item)
    assert rect.top() == pytest.approx(view.renderer.hz_to_y(f_edges[0]), rel=1e-6)
    assert rect.bottom() == pytest.approx(view.renderer.hz_to_y(f_edges[-1]), rel=1e-6)
    assert item.image.shape[0] >= stored.values.shape[0]
    peak_row = int(np.argmax(item.image.max(axis=1)))
    y_peak = rect.top() + (peak_row + 0.5) * rect.height() / item.image.shape[0]
    assert view.renderer.y_to_hz(y_peak) == pytest.approx(3000.0, abs=200.0)  # blob still at 3 kHz


def test_toggle_opacity_choice_and_finding_selection(qtbot: Any, pool: WorkerPool, case: CaseStore,
                                                     tmp_path: Path, map_analyzer: None) -> None:
    evidence, findings = _case_with_maps(case, tmp_path)
    view = _open_view(qtbot, pool, case, evidence, findings)
    first, second = sorted((f for f in findings if f.map_refs), key=lambda f: f.start_s)
    k1a, k1b, k2 = (layer.key for layer in view.overlay.layers)
    group = view.overlay.key_of_finding(first.id)
    assert group == f"{ANALYZER} · all maps · 0.50–1.00 s" and view.overlay.key_of_finding(second.id) == k2
    items = view.overlay.items
    c = view.controls

    c.overlays.setChecked(False)  # the button is the on/off toggle
    assert not any(item.isVisible() for item in items.values())
    c.overlays.setChecked(True)
    assert all(item.isVisible() for item in items.values())

    c.overlay_opacity.setValue(30)
    assert all(item.opacity() == pytest.approx(0.30) for item in items.values())
    c.overlay_opacity.setValue(100)
    assert items[k1a].opacity() == pytest.approx(1.0)

    action = next(a for a in c.overlays.menu().actions() if a.data() == k2)
    action.trigger()  # pick one map in the menu
    assert view.overlay.choice == k2 and items[k2].isVisible()
    assert not items[k1a].isVisible() and not items[k1b].isVisible()

    # Selecting a finding with maps (the findings panel calls show_finding) shows its maps, even
    # when the overlay was switched off, and zooms to the segment.
    c.overlays.setChecked(False)
    view.show_finding(first)
    assert view.overlay.choice == group and c.overlays.isChecked()
    assert items[k1a].isVisible() and items[k1b].isVisible() and not items[k2].isVisible()
    assert [a.data() for a in c.overlays.menu().actions() if a.isChecked()] == [group]
    x0, x1 = view.visible_time_range()
    assert x0 <= 0.5 and x1 >= 1.0
    # A finding without a map leaves the overlay as it is.
    verdict = next(f for f in findings if not f.map_refs)
    view.show_finding(verdict)
    assert view.overlay.choice == group
    view.show_finding(second)
    assert view.overlay.choice == k2 and items[k2].isVisible() and not items[k1a].isVisible()

    # The transparent end of the colour map: value 0 has alpha 0, value 1 is opaque.
    lut = overlay_lut()
    assert lut.shape == (256, 4) and lut[0, 3] == 0 and lut[-1, 3] == 255


def test_finding_shown_while_its_maps_load(qtbot: Any, pool: WorkerPool, case: CaseStore, tmp_path: Path,
                                           map_analyzer: None) -> None:
    evidence, findings = _case_with_maps(case, tmp_path)
    second = max((f for f in findings if f.map_refs), key=lambda f: f.start_s)
    view = AudioView(pool=pool, artifacts=case.artifacts, sink_factory=lambda wanted: None)
    qtbot.addWidget(view)
    view.load(evidence, findings)
    view.show_finding(second)  # the maps are read on a worker: not there yet
    assert view.overlay.layers == ()
    qtbot.waitUntil(lambda: len(view.overlay.layers) == 3, timeout=WAIT)
    assert view.overlay.choice == view.overlay.key_of_finding(second.id)
    assert [layer.finding_id for layer in view.overlay.shown_layers()] == [second.id]


def test_view_without_maps_offers_no_overlay(qtbot: Any, pool: WorkerPool, case: CaseStore,
                                            tmp_path: Path) -> None:
    evidence, findings = _case_with_maps(case, tmp_path, analyse=False)
    view = _open_view(qtbot, pool, case, evidence, findings)
    assert view.controls.overlay_keys() == []
    assert not view.controls.overlays.isEnabled()
    assert view.overlay.items == {} and view.overlay.keys() == []
    assert [a for a in view.controls.overlays.menu().actions() if not a.isSeparator()] == []


def test_place_map_resamples_uneven_columns() -> None:
    times = np.array([1.0, 1.1, 1.2, 1.5])  # last column wider
    m = TimeFreqMap(name="m", unit="dB", times_s=times, freqs_hz=np.array([100.0, 300.0]),
                    values=np.arange(8, dtype=np.float32).reshape(2, 4))
    p = place_map(m)
    assert (p.x0, p.x1) == pytest.approx((0.95, 1.65))
    assert (p.y0, p.y1) == pytest.approx((0.0, 400.0))
    assert p.image.shape[0] == 2 and p.image.shape[1] >= 64
    # Nearest cell: the last 0.3 s of 0.7 s belong to column 3.
    assert np.mean(p.image[0] == 3) == pytest.approx((1.65 - 1.35) / 0.7, abs=0.03)
