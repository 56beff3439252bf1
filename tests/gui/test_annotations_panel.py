"""The annotations dock, its dialog and the main window's annotation wiring (pytest-qt, offscreen)."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QDialogButtonBox

from forensics_app.gui.annotation_dialog import AnnotationDialog
from forensics_app.gui.annotations_panel import (
    COL_AUTHOR,
    COL_BAND,
    COL_EVIDENCE,
    COL_LAYER,
    COL_TIME,
    AnnotationsPanel,
)
from forensics_app.gui.main_window import MainWindow
from forensics_app.gui.snapshots import AnnotationItem, EvidenceItem, FindingItem
from forensics_app.gui.views import ImageView
from forensics_app.gui.views.overlays import EvidenceView
from forensics_app.gui.workers import WorkerPool
from forensics_app.ingest.acquire import add_evidence
from forensics_app.store import annotations as annotation_store
from forensics_app.store import repo
from forensics_app.store.annotations import AnnotationSpec, add_annotation
from forensics_app.store.case import CaseStore

WAIT = 15_000


@pytest.fixture
def panel(qtbot: Any) -> Iterator[AnnotationsPanel]:
    pool = WorkerPool()
    widget = AnnotationsPanel(pool=pool, examiner="Panel Examiner")
    qtbot.addWidget(widget)
    yield widget
    pool.shutdown()


def _idle(qtbot: Any, panel: AnnotationsPanel) -> None:
    qtbot.waitUntil(lambda: not panel.is_busy(), timeout=WAIT)


def _annotate(store: CaseStore, ids: dict[str, int]) -> dict[str, int]:
    specs = {
        "click": (ids["audio"], AnnotationSpec(label="click", start_s=0.1, end_s=0.2, note="two\nlines")),
        "hum": (ids["audio"], AnnotationSpec(label="hum", start_s=0.25, end_s=0.75, low_hz=100, high_hz=900,
                                             layer="enf")),
        "pasted": (ids["image"], AnnotationSpec(label="pasted", region={"x": 8, "y": 4, "width": 16, "height": 12},
                                                layer="enf")),
        "jump": (ids["video"], AnnotationSpec(label="jump", start_frame=5, end_frame=7, layer="edits")),
    }
    return {name: add_annotation(store, evidence_id=eid, spec=spec, author="Ann") for name, (eid, spec) in specs.items()}


def _row_texts(panel: AnnotationsPanel, label: str) -> list[str]:
    row = next(r for r in range(panel.proxy.rowCount()) if panel.item_at(r).label == label)
    return [panel.proxy.index(row, c).data() for c in range(panel.proxy.columnCount())]


def test_panel_lists_and_filters_annotations_made_through_the_core(
        qtbot: Any, filled_case: Any, panel: AnnotationsPanel) -> None:
    store, ids = filled_case
    _annotate(store, ids)
    with qtbot.waitSignal(panel.annotations_changed, timeout=WAIT, check_params_cb=lambda items: len(items) == 4):
        panel.set_store(store)
    assert panel.model.rowCount() == 4 and panel.count.text() == "4 annotations"
    hum = _row_texts(panel, "hum")
    assert hum[COL_EVIDENCE] == f"#{ids['audio']} call.wav" and hum[COL_LAYER] == "enf"
    assert (hum[COL_TIME], hum[COL_BAND], hum[COL_AUTHOR]) == ("0.250 – 0.750 s", "100 – 900 Hz", "Ann")
    assert _row_texts(panel, "jump")[COL_TIME] == "frames 5 – 7"
    assert _row_texts(panel, "pasted")[COL_TIME] == "16×12 px at (8, 4)"
    assert [panel.layer_box.itemText(i) for i in range(panel.layer_box.count())] == [
        "All layers", "default", "edits", "enf"]

    panel.set_layer_filter("enf")
    assert sorted(a.label for a in panel.visible_items()) == ["hum", "pasted"]
    panel.set_evidence_filter(ids["audio"])
    assert len(panel.visible_items()) == 2  # "selected evidence only" is not ticked yet
    panel.only_selected.setChecked(True)
    assert [a.label for a in panel.visible_items()] == ["hum"] and panel.count.text() == "1 of 4 annotations"
    panel.set_layer_filter(None)
    assert [a.label for a in panel.visible_items()] == ["click", "hum"]
    panel.set_store(None)
    assert panel.model.rowCount() == 0 and not panel.export_button.isEnabled()


def test_edit_and_delete_through_the_panel_update_store_and_audit_off_the_gui_thread(
        qtbot: Any, filled_case: Any, panel: AnnotationsPanel, monkeypatch: pytest.MonkeyPatch) -> None:
    store, ids = filled_case
    made = _annotate(store, ids)
    threads: list[int] = []
    for name in ("update_annotation", "delete_annotation"):
        real = getattr(annotation_store, name)

        def recording(*args: Any, _real: Any = real, **kwargs: Any) -> Any:
            threads.append(threading.get_ident())
            return _real(*args, **kwargs)

        monkeypatch.setattr(annotation_store, name, recording)
    panel.set_store(store)
    _idle(qtbot, panel)

    hum = next(a for a in panel.items if a.label == "hum")
    dialog = panel.edit_dialog(hum)
    qtbot.addWidget(dialog)
    assert dialog.number_edits["low_hz"].text() == "100" and dialog.layer_box.currentText() == "enf"
    dialog.label_edit.setText("hum 50 Hz")
    dialog.layer_box.setCurrentText("mains")
    spec = dialog.spec()
    assert (spec.start_s, spec.end_s, spec.low_hz, spec.high_hz, spec.layer) == (0.25, 0.75, 100.0, 900.0, "mains")
    panel.update_annotation(hum.id, spec)
    _idle(qtbot, panel)
    qtbot.waitUntil(lambda: any(a.label == "hum 50 Hz" for a in panel.items), timeout=WAIT)
    assert [a.id for a in panel.selected_items()] == [hum.id]
    with store.session() as s:
        row = next(a for a in repo.list_annotations(s) if a.id == hum.id)
        assert (row.label, row.layer, row.author) == ("hum 50 Hz", "mains", "Ann")
        event = repo.list_audit(s)[-1]
        assert (event.action, event.examiner) == ("annotation.updated", "Panel Examiner")
        assert event.details["old"]["layer"] == "enf" and event.details["new"]["label"] == "hum 50 Hz"
    assert "mains" in panel.layers

    assert panel.select_annotation(made["click"])
    panel.delete_annotations([a.id for a in panel.selected_items()])
    _idle(qtbot, panel)
    qtbot.waitUntil(lambda: len(panel.items) == 3, timeout=WAIT)
    with store.session() as s:
        assert made["click"] not in [a.id for a in repo.list_annotations(s)]
        event = repo.list_audit(s)[-1]
        assert (event.action, event.details["old"]["label"]) == ("annotation.deleted", "click")
    assert len(threads) == 2 and threading.get_ident() not in threads


def test_dialog_accepts_only_valid_annotations(qtbot: Any) -> None:
    dialog = AnnotationDialog(evidence_label="#1 call.wav", author="Ann", layers=["enf"],
                              values={"start_s": 0.30000000000000004, "end_s": 0.5})
    qtbot.addWidget(dialog)
    dialog.show()
    ok = dialog.buttons.button(QDialogButtonBox.StandardButton.Ok)
    ok.click()
    assert dialog.isVisible() and "label must not be empty" in dialog.error.text()
    dialog.label_edit.setText("breath")
    assert dialog.spec().start_s == 0.30000000000000004  # unchanged field keeps its exact value
    dialog.number_edits["low_hz"].setText("900")
    dialog.number_edits["high_hz"].setText("100")
    assert "must be above low_hz" in dialog.problem()
    dialog.number_edits["high_hz"].setText("abc")
    assert "not a number" in dialog.problem()
    dialog.number_edits["low_hz"].setText("")
    dialog.number_edits["high_hz"].setText("")
    dialog.number_edits["start_s"].setText("")
    assert "end_s is given without start_s" in dialog.problem()
    dialog.number_edits["end_s"].setText("")
    ok.click()
    assert dialog.result() == AnnotationDialog.DialogCode.Accepted and dialog.spec().start_s is None


def test_export_and_import_round_trip_through_the_panel(
        qtbot: Any, filled_case: Any, media: dict[str, Path], tmp_path: Path, panel: AnnotationsPanel) -> None:
    store, ids = filled_case
    _annotate(store, ids)
    panel.set_store(store)
    _idle(qtbot, panel)
    before = {(a.layer, a.label, a.note, a.author, a.created, a.start_s, a.end_s, a.low_hz, a.high_hz,
               a.start_frame, a.end_frame, str(a.region)) for a in panel.items}
    out = tmp_path / "all.json"
    with qtbot.waitSignal(panel.exported, timeout=WAIT) as blocker:
        panel.export_annotations(out)
    result = blocker.args[0]
    assert result.n_annotations == 4 and result.layers == ("default", "edits", "enf")
    assert result.sha256 == hashlib.sha256(out.read_bytes()).hexdigest()
    with store.session() as s:
        assert repo.list_audit(s)[-1].details["sha256"] == result.sha256

    other = CaseStore.create(tmp_path / "other", title="other", examiner="Eve")
    for kind in ("video", "image", "audio"):
        add_evidence(other, media[kind], examiner="Eve")
    try:
        panel.set_store(other)
        _idle(qtbot, panel)
        with qtbot.waitSignal(panel.imported, timeout=WAIT) as blocker:
            panel.import_annotations(out)
        assert (blocker.args[0].n_imported, blocker.args[0].n_duplicates) == (4, 0)
        _idle(qtbot, panel)
        qtbot.waitUntil(lambda: len(panel.items) == 4, timeout=WAIT)
        after = {(a.layer, a.label, a.note, a.author, a.created, a.start_s, a.end_s, a.low_hz, a.high_hz,
                  a.start_frame, a.end_frame, str(a.region)) for a in panel.items}
        assert after == before
        names = {a.label: panel.snapshot.evidence_names[a.evidence_id] for a in panel.items}
        assert names == {"click": "call.wav", "hum": "call.wav", "pasted": "photo.png", "jump": "clip.mp4"}
        with qtbot.waitSignal(panel.imported, timeout=WAIT) as blocker:
            panel.import_annotations(out)
        assert (blocker.args[0].n_imported, blocker.args[0].n_duplicates) == (0, 4)
        _idle(qtbot, panel)
    finally:
        panel.set_store(None)
        other.close()


def test_a_refused_import_is_shown_and_imports_nothing(
        qtbot: Any, filled_case: Any, tmp_path: Path, panel: AnnotationsPanel) -> None:
    store, ids = filled_case
    panel.set_store(store)
    _idle(qtbot, panel)
    bad = tmp_path / "bad.csv"
    bad.write_text(f"evidence_id,evidence_name,label,start_s,end_s\n{ids['audio']},call.wav,ok,0,1\n"
                   f"{ids['audio']},call.wav,late,2,1\n", encoding="utf-8")
    with qtbot.waitSignal(panel.notified, timeout=WAIT) as blocker:
        panel.import_annotations(bad)
    level, text = blocker.args
    assert level == "error" and "nothing was imported" in text and "row 2: end_s" in text
    assert "row 2" in panel.status.text()
    with store.session() as s:
        assert repo.list_annotations(s) == []
    assert panel.export_annotations(tmp_path / "x.txt") is not None
    qtbot.waitUntil(lambda: ".csv or .json" in panel.status.text(), timeout=WAIT)


class RecordingView(EvidenceView):
    """Stands in for the audio view: the annotation contract (signal, set_annotations, show_range)."""

    annotation_requested = Signal(int, float, float, object, object)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.drawn: list[list[AnnotationItem]] = []
        self.ranges: list[tuple[float, float]] = []

    def load(self, evidence: EvidenceItem, findings: Sequence[FindingItem]) -> None:
        self.evidence = evidence

    def finish_loading(self) -> None:
        self.is_loaded = True
        self.loaded.emit()

    def set_findings(self, findings: Sequence[FindingItem]) -> None:
        self.findings = tuple(findings)

    def show_finding(self, finding: FindingItem) -> None:
        pass

    def set_annotations(self, items: Sequence[AnnotationItem]) -> None:
        self.drawn.append(list(items))

    def show_range(self, start_s: float, end_s: float) -> None:
        self.ranges.append((start_s, end_s))


def _accept(qtbot: Any, window: MainWindow, label: str, layer: str | None = None) -> None:
    dialog = window.annotation_dialog
    assert dialog is not None and dialog.isVisible()
    dialog.label_edit.setText(label)
    if layer is not None:
        dialog.layer_box.setCurrentText(layer)
    dialog.buttons.button(QDialogButtonBox.StandardButton.Ok).click()


def test_main_window_wires_view_requests_panel_and_navigation(
        qtbot: Any, filled_case: Any, window: MainWindow, monkeypatch: pytest.MonkeyPatch) -> None:
    store, ids = filled_case
    monkeypatch.setitem(window.viewer._views, "audio", RecordingView)
    assert window.annotations_dock.widget() is window.annotations_panel
    assert window.export_annotations_action.shortcut().toString() == "Ctrl+Shift+E"
    assert window.import_annotations_action.shortcut().toString() == "Ctrl+Shift+I"
    assert not window.export_annotations_action.isEnabled()
    window.set_store(store, owned=False)
    assert window.export_annotations_action.isEnabled() and window.import_annotations_action.isEnabled()
    _idle(qtbot, window.annotations_panel)

    window.select_evidence(ids["audio"])
    view = window.viewer.current_view
    assert isinstance(view, RecordingView) and view.drawn == [[]]
    view.finish_loading()
    view.annotation_requested.emit(ids["audio"], 0.2, 0.4, 100.0, 900.0)
    dialog = window.annotation_dialog
    assert dialog.number_edits["start_s"].text() == "0.2" and dialog.number_edits["high_hz"].text() == "900"
    _accept(qtbot, window, "tone", layer="tones")
    qtbot.waitUntil(lambda: len(window.annotations) == 1, timeout=WAIT)
    [box] = view.drawn[-1]
    assert (box.label, box.layer, box.start_s, box.end_s, box.low_hz, box.high_hz, box.author) == (
        "tone", "tones", 0.2, 0.4, 100.0, 900.0, "Test Examiner")
    view.annotation_requested.emit(ids["audio"], 1.0, 1.25, None, None)
    _accept(qtbot, window, "breath")
    qtbot.waitUntil(lambda: len(view.drawn[-1]) == 2, timeout=WAIT)
    breath = next(a for a in view.drawn[-1] if a.label == "breath")
    assert (breath.low_hz, breath.high_hz, breath.layer) == (None, None, "default")
    with store.session() as s:
        assert [e.action for e in repo.list_audit(s)[-2:]] == ["annotation.added", "annotation.added"]

    # double-click in the panel: the view shows the range (at once when loaded, else once loaded)
    panel = window.annotations_panel
    row = next(r for r in range(panel.proxy.rowCount()) if panel.item_at(r).label == "tone")
    window.annotations_dock.raise_()
    rect = panel.table.visualRect(panel.proxy.index(row, COL_LAYER))
    qtbot.mouseClick(panel.table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())  # Qt needs the press
    qtbot.mouseDClick(panel.table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert view.ranges == [(0.2, 0.4)]
    window.select_evidence(ids["image"])
    assert isinstance(window.viewer.current_view, ImageView)
    window.show_annotation(breath)
    fresh = window.viewer.current_view
    assert isinstance(fresh, RecordingView) and fresh is not view and fresh.ranges == []
    fresh.finish_loading()
    assert fresh.ranges == [(1.0, 1.25)]

    # an image region goes through the view's show_finding
    region = add_annotation(store, evidence_id=ids["image"], author="Ann",
                            spec=AnnotationSpec(label="patch", region={"x": 8, "y": 4, "width": 16, "height": 12}))
    panel.reload()
    qtbot.waitUntil(lambda: any(a.id == region for a in window.annotations), timeout=WAIT)
    window.select_evidence(ids["image"])
    image_view = window.viewer.current_view
    assert isinstance(image_view, ImageView)
    qtbot.waitUntil(lambda: image_view.is_loaded, timeout=WAIT)
    (fx0, fx1), (fy0, fy1) = image_view.plot.vb.viewRange()
    assert abs((fx0 + fx1) / 2 - 24) < 0.5  # the whole 48 x 32 px image, centred on (24, 16)
    window.show_annotation(next(a for a in window.annotations if a.id == region))
    (x0, x1), (y0, y1) = image_view.plot.vb.viewRange()
    assert x0 <= 8 and x1 >= 24 and y0 <= 4 and y1 >= 16
    assert abs((x0 + x1) / 2 - 16) < 0.5 and abs((y0 + y1) / 2 - 10) < 0.5  # now centred on the region

    window.close_case()
    assert window.annotations_panel.model.rowCount() == 0


def test_the_real_audio_view_requests_draws_and_shows_annotations(
        qtbot: Any, filled_case: Any, window: MainWindow) -> None:
    store, ids = filled_case
    window.set_store(store, owned=False)
    _idle(qtbot, window.annotations_panel)
    window.select_evidence(ids["audio"])
    view = window.viewer.current_view
    if not all(hasattr(view, name) for name in ("annotation_requested", "set_annotations", "show_range")):
        pytest.skip("the audio view does not offer the annotation contract yet")
    qtbot.waitUntil(lambda: view.is_loaded, timeout=WAIT)
    drawn: list[list[AnnotationItem]] = []
    shown: list[tuple[float, float]] = []
    draw, show = view.set_annotations, view.show_range
    view.set_annotations = lambda items: (drawn.append(list(items)), draw(items))
    view.show_range = lambda a, b: (shown.append((a, b)), show(a, b))

    view.annotation_requested.emit(ids["audio"], 0.5, 0.7, 2500.0, 3500.0)  # the planted 3 kHz burst
    _accept(qtbot, window, "inserted tone", layer="edits")
    qtbot.waitUntil(lambda: bool(drawn) and len(drawn[-1]) == 1, timeout=WAIT)
    [box] = drawn[-1]
    assert (box.label, box.layer, box.start_s, box.end_s, box.low_hz, box.high_hz) == (
        "inserted tone", "edits", 0.5, 0.7, 2500.0, 3500.0)
    window.show_annotation(box)
    assert shown == [(0.5, 0.7)]
