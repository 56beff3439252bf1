"""The main window: cases, acquisition, analyses with progress and cancel, views, findings."""

from __future__ import annotations

import os
import stat
import sys
import threading
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt

from forensics_app.gui import snapshots
from forensics_app.gui.findings_panel import COL_SCORE
from forensics_app.gui.main_window import DETECTING, MainWindow
from forensics_app.gui.views import AudioView, ImageView, VideoView
from forensics_app.store.case import CaseStore

WAIT = 15_000


def _terminal(window: MainWindow, keys: list[str]) -> bool:
    return all(window.jobs_panel.status(k) not in {"queued", "running"} for k in keys)


def test_open_case_lists_evidence(qtbot: Any, filled_case: Any, window: MainWindow) -> None:
    store, ids = filled_case
    window.open_case(store.root)
    qtbot.waitUntil(lambda: window.case is not None, timeout=WAIT)
    assert window.case.number == "T-1"
    assert window.evidence_panel.model.rowCount() == 3
    assert {it.kind for it in window.evidence_items()} == {"audio", "image", "video"}
    row = window.evidence_panel.row_of(ids["audio"])
    sha_index = window.evidence_panel.proxy.index(row, 4)
    assert "…" in sha_index.data()
    full = window.evidence_panel.proxy.data(sha_index, Qt.ItemDataRole.ToolTipRole)
    assert window.evidence_panel.items[ids["audio"]].sha256 in full
    assert "T-1" in window.case_label.text()
    assert window.add_evidence_action.isEnabled()


def test_bad_case_folder_is_reported_not_raised(qtbot: Any, tmp_path: Path, window: MainWindow) -> None:
    with qtbot.waitSignal(window.notified, timeout=WAIT) as blocker:
        window.open_case(tmp_path / "no-such-case")
    level, text = blocker.args
    assert level == "error" and "not a case folder" in text
    assert window.store is None
    assert not window.add_evidence_action.isEnabled()


def test_add_files_acquires_off_gui_thread_and_refuses_bad_file(
        qtbot: Any, case: CaseStore, media: dict[str, Path], window: MainWindow, monkeypatch: Any) -> None:
    from forensics_app.ingest import acquire

    threads: list[int] = []
    real = acquire.add_evidence

    def recording(*args: Any, **kwargs: Any) -> Any:
        threads.append(threading.get_ident())
        return real(*args, **kwargs)

    monkeypatch.setattr(acquire, "add_evidence", recording)
    window.set_store(case, owned=False)
    keys = window.add_files([media["audio"], media["bad"]])
    assert len(keys) == 2
    qtbot.waitUntil(lambda: _terminal(window, keys), timeout=WAIT)
    assert threads and threading.get_ident() not in threads
    assert window.jobs_panel.status(keys[0]) == "done"
    assert window.jobs_panel.status(keys[1]) == "refused"
    assert "notes.txt" in window.jobs_panel.status_text(keys[1])
    assert any(level == "info" and text.startswith("Refused") for level, text in window.messages)
    assert window.evidence_panel.model.rowCount() == 1
    # the first added item becomes current and opens its view
    assert isinstance(window.viewer.current_view, AudioView)

    dup = window.add_files([media["audio"]])
    qtbot.waitUntil(lambda: _terminal(window, dup), timeout=WAIT)
    assert window.jobs_panel.status(dup[0]) == "duplicate"
    assert window.evidence_panel.model.rowCount() == 1


def test_analysis_progress_then_cancel(qtbot: Any, filled_case: Any, test_analyzers: Any,
                                       window: MainWindow) -> None:
    store, ids = filled_case
    window.set_store(store, owned=False)
    [key] = window.run_analyses([ids["audio"]], ["test.slow"])
    assert window.jobs_panel.status(key) in {"queued", "running"}
    assert "1 running" in window.jobs_label.text()
    qtbot.waitUntil(lambda: 0 < window.jobs_panel.progress_value(key) < 100, timeout=WAIT)
    assert window.jobs_panel.status(key) == "running"
    qtbot.waitUntil(lambda: window.jobs_panel.status(key) == "done", timeout=WAIT)
    assert window.jobs_panel.progress_value(key) == 100
    assert test_analyzers.thread_ids and threading.get_ident() not in test_analyzers.thread_ids
    assert any(f.label == "Inserted tone" for f in window.findings)

    [key2] = window.run_analyses([ids["image"]], ["test.slow"])
    qtbot.waitUntil(lambda: window.jobs_panel.progress_value(key2) > 0, timeout=WAIT)
    row = window.jobs_panel._rows[key2]
    row.cancel.click()
    qtbot.waitUntil(lambda: window.jobs_panel.status(key2) == "cancelled", timeout=WAIT)
    assert window.jobs_panel.status_text(key2) == "cancelled"
    assert snapshots.read_run(store, int(key2.split(":")[1])).status == "cancelled"
    assert "none running" in window.jobs_label.text()


def test_right_view_per_media_kind(qtbot: Any, filled_case: Any, window: MainWindow) -> None:
    store, ids = filled_case
    window.set_store(store, owned=False)
    expected = {"audio": AudioView, "image": ImageView, "video": VideoView}
    for kind, cls in expected.items():
        window.select_evidence(ids[kind])
        view = window.viewer.current_view
        assert isinstance(view, cls)
        qtbot.waitUntil(lambda v=view: v.is_loaded, timeout=WAIT)
    window.select_evidence(ids["audio"])
    audio = window.viewer.current_view
    qtbot.waitUntil(lambda: audio.is_loaded, timeout=WAIT)
    spec = audio.renderer.overview
    assert spec.db.ndim == 2 and spec.db.shape[1] > 10
    rect = audio.spec_image.mapRectToParent(audio.spec_image.boundingRect())
    assert abs(rect.right() - 1.5) < 0.1  # seconds
    assert abs(rect.bottom() - 8000) < 100  # Hz (Nyquist of 16 kHz)
    assert "f = " in audio.readout_text(0.6, 3000.0)
    window.select_evidence(ids["image"])
    image = window.viewer.current_view
    qtbot.waitUntil(lambda: image.is_loaded, timeout=WAIT)
    col, row, rgb = image.pixel_at(10.5, 3.2)
    assert (col, row) == (10, 3) and len(rgb) == 3


def test_findings_table_shows_sorts_and_navigates(qtbot: Any, filled_case: Any, test_analyzers: Any,
                                                  window: MainWindow) -> None:
    store, ids = filled_case
    window.set_store(store, owned=False)
    window.select_evidence(ids["audio"])
    keys = window.run_analyses(list(ids.values()), ["test.quick"])
    assert len(keys) == 3
    qtbot.waitUntil(lambda: _terminal(window, keys), timeout=WAIT)
    assert all(window.jobs_panel.status(k) == "done" for k in keys)
    panel = window.findings_panel
    assert panel.proxy.rowCount() == 4
    labels = {f.label for f in panel.visible_findings()}
    assert {"Inserted tone", "Signal level", "Pasted region", "Frame jump"} <= labels

    panel.sort_by(COL_SCORE, descending=True)
    scores = [f.fake_likelihood for f in panel.visible_findings()]
    assert scores[0] == 0.8 and scores[-1] is None
    assert panel.proxy.index(3, COL_SCORE).data() == ""  # descriptive: blank
    panel.sort_by(COL_SCORE, descending=False)
    assert panel.visible_findings()[-1].fake_likelihood == 0.8

    # the audio view draws the finding's series as a lane and its range as shaded regions
    audio = window.viewer.current_view
    assert isinstance(audio, AudioView)
    qtbot.waitUntil(lambda: len(audio.lanes) == 1 and audio.is_loaded, timeout=WAIT)
    assert audio.lanes[0].series.unit == "dBFS"

    # double-click a video finding: the video opens at its frame
    jump = next(f for f in panel.visible_findings() if f.label == "Frame jump")
    panel.finding_activated.emit(jump)
    video = window.viewer.current_view
    assert isinstance(video, VideoView)
    assert window.evidence_panel.current_id() == ids["video"]
    qtbot.waitUntil(lambda: video.displayed_frame == 5, timeout=WAIT)

    # double-click the audio finding: the time axis zooms to it
    tone = next(f for f in panel.visible_findings() if f.label == "Inserted tone")
    panel.finding_activated.emit(tone)
    audio = window.viewer.current_view
    qtbot.waitUntil(lambda: audio.is_loaded and audio.visible_time_range()[1] < 1.3, timeout=WAIT)
    x0, x1 = audio.visible_time_range()
    assert x0 <= 0.5 and x1 >= 0.7


def test_video_steps_frames_with_keys(qtbot: Any, filled_case: Any, window: MainWindow) -> None:
    store, ids = filled_case
    window.set_store(store, owned=False)
    window.select_evidence(ids["video"])
    video = window.viewer.current_view
    assert isinstance(video, VideoView)
    qtbot.waitUntil(lambda: video.displayed_frame == 0, timeout=WAIT)
    assert video.n_frames == 24
    qtbot.keyClick(video, Qt.Key.Key_Right)
    qtbot.waitUntil(lambda: video.displayed_frame == 1, timeout=WAIT)
    assert video.slider.value() == 1
    qtbot.keyClick(video, Qt.Key.Key_PageDown)
    qtbot.waitUntil(lambda: video.displayed_frame == 11, timeout=WAIT)
    qtbot.keyClick(video, Qt.Key.Key_Left)
    qtbot.waitUntil(lambda: video.displayed_frame == 10, timeout=WAIT)
    qtbot.keyClick(video, Qt.Key.Key_End)
    qtbot.waitUntil(lambda: video.displayed_frame == 23, timeout=WAIT)
    assert "frame 23" in video.position.text()


def test_verify_integrity_reports_and_colours(qtbot: Any, filled_case: Any, window: MainWindow) -> None:
    store, ids = filled_case
    window.set_store(store, owned=False)
    key = window.verify_integrity()
    qtbot.waitUntil(lambda: window.last_verify_report is not None, timeout=WAIT)
    assert window.last_verify_report.ok
    assert window.jobs_panel.status_text(key) == "passed"

    stored = window.evidence_panel.items[ids["image"]].path
    os.chmod(stored, stat.S_IRUSR | stat.S_IWUSR)
    with open(stored, "ab") as fh:
        fh.write(b"tampered")
    window.last_verify_report = None
    window.verify_integrity()
    qtbot.waitUntil(lambda: window.last_verify_report is not None, timeout=WAIT)
    assert not window.last_verify_report.ok
    assert window.evidence_panel.items[ids["image"]].integrity == "mismatch"
    row = window.evidence_panel.row_of(ids["image"])
    assert window.evidence_panel.proxy.index(row, 5).data() == "mismatch"


def test_export_report_without_renderer_shows_error(qtbot: Any, filled_case: Any, window: MainWindow,
                                                    tmp_path: Path, monkeypatch: Any) -> None:
    store, _ = filled_case
    window.set_store(store, owned=False)
    monkeypatch.setitem(sys.modules, "forensics_app.report.render", None)  # import fails
    with qtbot.waitSignal(window.notified, timeout=WAIT) as blocker:
        key = window.export_report(tmp_path / "r.html")
    level, text = blocker.args
    assert level == "error" and "not available" in text
    assert window.jobs_panel.status(key) == "failed"


def test_status_bar_shows_device(qtbot: Any, monkeypatch: Any) -> None:
    monkeypatch.setenv("FORENSICS_APP_DEVICE", "cpu")
    win = MainWindow(examiner="Test Examiner", detect_device=True)
    qtbot.addWidget(win)
    try:
        qtbot.waitUntil(lambda: win.device_label.text() != DETECTING, timeout=WAIT)
        assert win.device_label.text().startswith("device: CPU")
    finally:
        win.close()


def test_new_case_via_window(qtbot: Any, tmp_path: Path, window: MainWindow) -> None:
    with qtbot.waitSignal(window.case_changed, timeout=WAIT):
        window.new_case(tmp_path / "new", title="Fraud call", examiner="A. Examiner", number="C-9")
    assert window.case.number == "C-9"
    assert "C-9" in window.windowTitle()
    with qtbot.waitSignal(window.notified, timeout=WAIT) as blocker:
        window.new_case(tmp_path / "new", title="Again", examiner="A. Examiner")
    assert blocker.args[0] == "error" and "not empty" in blocker.args[1]
    assert window.case.number == "C-9"
