"""The audio view's comparison panels: the alignment matrix under the shared playhead, the residual panel.

The matrices and maps come the way the comparison analyzers store them: test analyzers registered
here compute real alignments and residuals from generated recordings (see comparison_fixtures),
the runner stores them as artifacts, and the view reads the findings back through the snapshots.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from gui.comparison_fixtures import (
    INSERT_AT_S,
    INSERT_S,
    WORDS,
    align_recordings,
    melody,
    residual_findings,
    with_insertion,
    word_alignment,
    word_recording,
    write,
)
from PySide6.QtCore import QPointF, Qt

from forensics_app.analysis import registry, runner
from forensics_app.analysis.registry import Param
from forensics_app.domain.results import AnalysisResult, Finding
from forensics_app.dsp.grids import centre_edges
from forensics_app.gui.snapshots import FindingItem, read_evidence, read_findings
from forensics_app.gui.views.audio_view import AudioView
from forensics_app.gui.workers import WorkerPool
from forensics_app.ingest.acquire import add_evidence
from forensics_app.store.case import CaseStore

WAIT = 20_000


@pytest.fixture
def analyzers(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """``test.words`` (word alignment), ``test.compare`` (reference alignment), ``test.residual``, in a
    registry of their own (the built-in analyzers are not loaded)."""
    monkeypatch.setattr(registry, "_REGISTRY", {})
    monkeypatch.setattr(registry, "_loaded", True)

    @registry.analyzer(id="test.words", version="0.1", media=["audio"], label="Word alignment test")
    def words(media: Any, *, params: Any, progress: Any) -> AnalysisResult:
        overview = word_alignment(media.mono(), media.rate)
        a, b = overview.alignments[0].row_spans_s[2]
        poor = Finding("Poorly aligned word: 'three'", 0.6, start_s=float(a), end_s=float(b),
                       details={"word": "three", "word_index": 2})
        return AnalysisResult((overview, poor))

    @registry.analyzer(id="test.compare", version="0.1", media=["audio"], label="Reference alignment test",
                       params=[Param("reference_id", 0, "Reference evidence id")], reference=True)
    def compare(media: Any, *, params: Any, progress: Any, reference: Any) -> AnalysisResult:
        return AnalysisResult(align_recordings(media.mono(), media.rate, reference.mono(), reference.rate))

    @registry.analyzer(id="test.residual", version="0.1", media=["audio"], label="Residual test")
    def residual(media: Any, *, params: Any, progress: Any) -> AnalysisResult:
        return AnalysisResult(residual_findings(media.mono(), media.rate, widths=(3, 5, 9)))

    yield


@pytest.fixture
def pool(qtbot: Any) -> Iterator[WorkerPool]:
    p = WorkerPool()
    yield p
    p.shutdown(10_000)


def _acquire(case: CaseStore, path: Path) -> int:
    added = add_evidence(case, path, examiner="Test Examiner")
    assert added.evidence_id is not None, added.reason
    return added.evidence_id


def _run(case: CaseStore, evidence_id: int, analyzer_id: str, params: dict[str, Any] | None = None) -> None:
    run_id = runner.queue_job(case, evidence_id=evidence_id, spec=runner.make_spec(analyzer_id, params),
                              examiner="Test Examiner")
    assert runner.run_job(case, run_id).error is None


def _open_view(qtbot: Any, pool: WorkerPool, case: CaseStore, evidence_id: int) -> tuple[AudioView, list[FindingItem]]:
    evidence = next(e for e in read_evidence(case) if e.id == evidence_id)
    findings = read_findings(case, evidence_id=evidence_id)
    view = AudioView(pool=pool, artifacts=case.artifacts, sink_factory=lambda wanted: None)
    qtbot.addWidget(view)
    view.resize(1200, 900)
    view.show()
    qtbot.waitExposed(view)
    view.load(evidence, findings)
    qtbot.waitUntil(lambda: view.is_loaded and view.renderer.is_current(), timeout=WAIT)
    return view, findings


def _click(qtbot: Any, graphics: Any, plot: Any, x: float, y: float) -> None:
    """A left click at data point (x, y) of ``plot``, through the widget (as the user does)."""
    scene = plot.vb.mapViewToScene(QPointF(x, y))
    qtbot.mouseClick(graphics.viewport(), Qt.MouseButton.LeftButton, pos=graphics.mapFromScene(scene))


def test_word_alignment_draws_follows_the_playhead_and_jumps_to_words(
        qtbot: Any, pool: WorkerPool, case: CaseStore, tmp_path: Path, analyzers: None) -> None:
    eid = _acquire(case, write(tmp_path / "words.wav", word_recording()))
    _run(case, eid, "test.words")
    view, findings = _open_view(qtbot, pool, case, eid)
    panel = view.alignment
    assert not panel.isVisible()  # only a selected comparison finding opens it
    overview = next(f for f in findings if f.alignment_refs)
    stored = case.artifacts.get_alignment(dict(overview.alignment_refs[0]))
    view.show_finding(overview)
    qtbot.waitUntil(lambda: panel.isVisible() and panel.layer is not None, timeout=WAIT)

    # The matrix as an image: columns at the questioned times, one row per word (row i at y = i).
    assert panel.word_rows and panel.word_axis.words == WORDS
    assert panel.image.image.shape == stored.values.shape
    rect = panel.image.mapRectToParent(panel.image.boundingRect())
    t_edges = centre_edges(stored.times_s)
    assert (rect.left(), rect.right()) == pytest.approx((t_edges[0], t_edges[-1]), abs=1e-9)
    assert (rect.top(), rect.bottom()) == pytest.approx((-0.5, len(WORDS) - 0.5), abs=1e-9)
    xs, ys = panel.path_curve.getData()
    assert np.allclose(xs, stored.path[:, 0]) and np.allclose(ys, stored.path[:, 1])
    labels = panel.word_axis.tickStrings([0.0, 2.0, 4.0], 1.0, 1.0)
    assert labels == ["one", "three", "five"]
    # The run's other finding (a poorly aligned word) is outlined at its questioned time range.
    poor = next(f for f in findings if f.label.startswith("Poorly aligned"))
    [region] = [m for m in panel._marks if hasattr(m, "getRegion")]
    assert region.getRegion() == pytest.approx((poor.start_s, poor.end_s))
    assert [panel.side_list.item(i).text().split(" ")[1] for i in range(panel.side_list.count())] == list(WORDS)

    # The shared playhead: playback moves it in the audio plots and in the matrix, and the list
    # marks the word under it.
    spans = stored.row_spans_s
    view.playback.seek(2.0)
    assert panel.playhead.isVisible() and panel.playhead.pos().x() == pytest.approx(2.0)
    assert panel.side_list.currentRow() == 3 and spans[3, 0] <= 2.0 < spans[3, 1]  # "four"
    view.playback.seek(2.2)  # between two words
    assert panel.playhead.pos().x() == pytest.approx(2.2) and panel.side_list.selectedItems() == []

    # Clicking a word in the list moves the playhead to where the word starts.
    item = panel.side_list.item(2)
    qtbot.mouseClick(panel.side_list.viewport(), Qt.MouseButton.LeftButton,
                     pos=panel.side_list.visualItemRect(item).center())
    assert view.playback.position_s == pytest.approx(spans[2, 0])
    assert all(line.pos().x() == pytest.approx(spans[2, 0]) for line in view.playhead)
    assert abs(spans[2, 0] - 1.20) < 0.05  # measured from the audio: "three" starts at 1.2 s

    # Clicking a word's tick label does the same.
    axis = panel.word_axis
    scene_y = panel.plot.vb.mapViewToScene(QPointF(0.0, 4.0)).y()
    scene = QPointF(axis.sceneBoundingRect().center().x(), scene_y)
    qtbot.mouseClick(panel.graphics.viewport(), Qt.MouseButton.LeftButton, pos=panel.graphics.mapFromScene(scene))
    assert view.playback.position_s == pytest.approx(spans[4, 0])

    # A click in the matrix moves the playhead to that questioned time.
    _click(qtbot, panel.graphics, panel.plot, 1.5, 1.0)
    assert view.playback.position_s == pytest.approx(1.5, abs=0.02)
    assert panel.playhead.pos().x() == pytest.approx(view.playback.position_s)
    assert "word 2 'two'" in panel.readout_text(0.9, 1.0) and "attention" in panel.readout_text(0.9, 1.0)


def test_reference_alignment_shows_the_path_and_the_inserted_span(
        qtbot: Any, pool: WorkerPool, case: CaseStore, tmp_path: Path, analyzers: None) -> None:
    reference = melody()
    ref_id = _acquire(case, write(tmp_path / "broadcast.wav", reference))
    q_id = _acquire(case, write(tmp_path / "leak.wav", with_insertion(reference)))
    _run(case, q_id, "test.compare", {"reference_id": ref_id})
    view, findings = _open_view(qtbot, pool, case, q_id)
    inserted = next(f for f in findings if f.label == "Inserted span")
    assert inserted.start_s == pytest.approx(INSERT_AT_S, abs=0.05)
    assert inserted.end_s == pytest.approx(INSERT_AT_S + INSERT_S, abs=0.05)

    # Selecting the departure shows the matrix its run stored (on the overview finding).
    view.show_finding(inserted)
    panel = view.alignment
    qtbot.waitUntil(lambda: panel.isVisible() and panel.layer is not None, timeout=WAIT)
    overview = next(f for f in findings if f.alignment_refs)
    assert panel.layer.finding_id == overview.id and not panel.word_rows
    m = panel.matrix
    assert m is not None and m.values.shape[1] > m.values.shape[0]  # the questioned copy is longer
    rect = panel.image.mapRectToParent(panel.image.boundingRect())
    r_edges = centre_edges(m.row_times_s)
    assert (rect.top(), rect.bottom()) == pytest.approx((r_edges[0], r_edges[-1]), abs=1e-9)
    xs, ys = panel.path_curve.getData()
    assert np.allclose(ys, np.interp(m.path[:, 1], np.arange(m.row_times_s.size), m.row_times_s))
    # The path holds the reference still across the insertion: flat at ~1.0 s reference time.
    during = (xs > INSERT_AT_S + 0.05) & (xs < INSERT_AT_S + INSERT_S - 0.05)
    assert during.any() and np.ptp(ys[during]) < 0.05 and abs(float(np.median(ys[during])) - INSERT_AT_S) < 0.05
    # ... and elsewhere runs with slope 1 (the same material).
    after = xs > INSERT_AT_S + INSERT_S + 0.2
    slope = np.polyfit(xs[after], ys[after], 1)[0]
    assert slope == pytest.approx(1.0, abs=0.05)
    regions = [mk for mk in panel._marks if hasattr(mk, "getRegion")]
    assert [r.getRegion() for r in regions] == [pytest.approx((inserted.start_s, inserted.end_s))]
    assert panel.side_list.count() == 1 and panel.side_list.item(0).text().startswith("Inserted span")
    assert "reference t = 0.500 s" in panel.readout_text(0.5, 0.5)
    # The lane of the comparison is drawn under the spectrogram like any other.
    assert [lane.series.name for lane in view.lanes] == ["reference-spectral-difference"]
    # The panel hides when closed, and a finding without a matrix leaves it alone.
    panel._close()
    assert not panel.isVisible()


def test_residual_panel_beside_the_spectrogram(qtbot: Any, pool: WorkerPool, case: CaseStore, tmp_path: Path,
                                              analyzers: None) -> None:
    eid = _acquire(case, write(tmp_path / "call.wav", melody()))
    _run(case, eid, "test.residual")
    view, findings = _open_view(qtbot, pool, case, eid)
    fg = view.finding_graphics
    qtbot.waitUntil(lambda: fg.residual.shown and len(view.lanes) == 3, timeout=WAIT)
    residual = fg.residual
    layout = view.graphics.ci
    # Its own row under the spectrogram, its colour bar in the next column, then the lanes.
    assert layout.getItem(2, 0) is residual.plot and layout.getItem(2, 1) is residual.colorbar
    assert layout.getItem(3, 0) is fg.lane_stack.plots[0]
    keys = view.controls.residual_keys()
    assert len(keys) == 3 and view.controls.residuals.isVisible() and residual.choice == keys[0]
    first = next(f for f in findings if f.label.endswith("(smooth3)"))
    stored = case.artifacts.get_map(dict(first.map_refs[0]))
    rect = residual.image.mapRectToParent(residual.image.boundingRect())
    t_edges = centre_edges(stored.times_s)
    assert (rect.left(), rect.right()) == pytest.approx((t_edges[0], t_edges[-1]), abs=1e-9)
    f_edges = centre_edges(stored.freqs_hz, floor=0.0)  # the 0 Hz row is half a row: rows are resampled
    assert (rect.top(), rect.bottom()) == pytest.approx((0.0, f_edges[-1]), abs=1e-6)
    assert residual.image.image.shape[1] == stored.values.shape[1]
    assert residual.image.image.shape[0] >= stored.values.shape[0]
    # Time-linked to the spectrogram (and opaque there, not only a translucent overlay).
    view.show_range(1.0, 2.0)
    assert residual.plot.viewRange()[0] == pytest.approx(view.spec_plot.viewRange()[0])
    assert residual.image.opacity() == 1.0 and len(view.overlay.layers) == 3
    # ... the overlay offers the maps too, but starts off: they would wash the spectrogram out
    assert view.controls.overlay_keys() == keys and not view.overlay.enabled
    assert not view.controls.overlays.isChecked()
    text = view.readout_text(1.5, 1000.0, "residual")
    assert "resynthesis-residual-smooth3" in text and text.endswith("dB")
    # Playhead line on the panel too.
    view.seek(1.25)
    assert fg.extra_plots()[0] is residual.plot and all(line.pos().x() == pytest.approx(1.25)
                                                        for line in view.playhead)
    assert len(view.playhead) == 2 + 1 + len(view.lanes)

    # Selecting another vocoder's finding shows its map in the panel and as the overlay.
    third = next(f for f in findings if f.label.endswith("(smooth9)"))
    view.show_finding(third)
    assert residual.current().finding_id == third.id
    assert view.overlay.choice == view.overlay.key_of_finding(third.id) and not view.overlay.enabled
    view.controls.overlays.setChecked(True)  # the investigator turns the overlay on
    assert [layer.finding_id for layer in view.overlay.shown_layers()] == [third.id]

    # Lanes: the FakeLikelihood lane (stored last) is among the three drawn by default.
    assert len(view._all_lanes) == 4
    assert "residual-detector" in [lane.series.name for lane in view.lanes]

    # Hiding the panel from the Residual menu gives the row back to the lanes.
    hide = next(a for a in view.controls.residuals.menu().actions() if a.data() is None)
    hide.trigger()
    assert not residual.shown and layout.getItem(2, 0) is fg.lane_stack.plots[0]
    assert len(view.playhead) == 2 + len(view.lanes)


def test_real_self_resynthesis_residual_panel_and_lanes(qtbot: Any, pool: WorkerPool, case: CaseStore,
                                                       tmp_path: Path) -> None:
    """The real analyzer's residual maps get the panel; its lanes draw through the lane mechanism."""
    if "audio.self_resynthesis" not in {a.id for a in registry.all_analyzers()}:
        pytest.skip(f"audio.self_resynthesis is not registered yet (load errors: {registry.load_errors()})")
    eid = _acquire(case, write(tmp_path / "call.wav", melody()))
    _run(case, eid, "audio.self_resynthesis", {"vocoders": "classical"})
    view, findings = _open_view(qtbot, pool, case, eid)
    residual = view.finding_graphics.residual
    qtbot.waitUntil(lambda: residual.shown and bool(view.lanes), timeout=WAIT)
    with_maps = [f for f in findings if any(r["name"].startswith("resynthesis-residual-") for r in f.map_refs)]
    assert with_maps and len(residual.layers) == len(with_maps)
    assert view.graphics.ci.getItem(2, 0) is residual.plot
    names = {lane.series.name for lane in view._all_lanes}
    assert any(n.startswith("resynthesis-lsd-") for n in names) and len(view.lanes) <= 3
    scored = [lane for lane in view._all_lanes if lane.series.unit == "FakeLikelihood"]
    assert all(lane in view.lanes for lane in scored[:3])  # detector lanes first among those drawn
