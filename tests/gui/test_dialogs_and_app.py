"""Dialogs, drag-and-drop, the composition root and the PySide6 work-around."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

from PySide6.QtCore import QMimeData, QObject, QPointF, Qt, QThreadPool, QUrl, Signal
from PySide6.QtGui import QDropEvent

from forensics_app.analysis import registry
from forensics_app.gui.analyzers_dialog import AnalyzersDialog, applicable
from forensics_app.gui.main_window import MainWindow
from forensics_app.gui.new_case_dialog import NewCaseDialog

WAIT = 15_000


def test_analyzers_dialog_lists_applicable_with_versions(qtbot: Any, test_analyzers: Any) -> None:
    infos = applicable(registry.all_analyzers(), ["video"])
    assert {"test.quick", "test.slow"} <= {a.id for a in infos}
    dialog = AnalyzersDialog(infos, evidence_summary="#3 clip.mp4 (video)")
    qtbot.addWidget(dialog)
    texts = [dialog.list.item(i).text() for i in range(dialog.list.count())]
    assert any("test.quick" in t and "v0.1" in t for t in texts)
    assert set(dialog.chosen_ids()) >= {"test.quick", "test.slow"}
    dialog.set_checked(["test.quick"])
    assert dialog.chosen_ids() == ["test.quick"]


def test_new_case_dialog_validates(qtbot: Any, tmp_path: Path) -> None:
    dialog = NewCaseDialog(examiner="A. Examiner")
    qtbot.addWidget(dialog)
    assert "folder" in dialog.problem()
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("x")
    dialog.folder.setText(str(tmp_path / "full"))
    assert "not empty" in dialog.problem()
    dialog.folder.setText(str(tmp_path / "new"))
    assert "title" in dialog.problem()
    dialog.title.setText("Case")
    assert dialog.problem() == ""
    req = dialog.request()
    assert req.folder == tmp_path / "new" and req.examiner == "A. Examiner" and req.number is None


def test_drop_files_adds_evidence(qtbot: Any, case: Any, media: dict[str, Path], window: MainWindow) -> None:
    window.set_store(case, owned=False)
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(media["image"])), QUrl.fromLocalFile(str(media["bad"]))])
    event = QDropEvent(QPointF(10, 10), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                       Qt.KeyboardModifier.NoModifier)
    window.dropEvent(event)
    keys = window.jobs_panel.job_keys()
    assert len(keys) == 2
    qtbot.waitUntil(lambda: all(window.jobs_panel.status(k) not in {"queued", "running"} for k in keys),
                    timeout=WAIT)
    assert sorted(window.jobs_panel.status(k) for k in keys) == ["done", "refused"]
    assert [it.kind for it in window.evidence_items()] == ["image"]


def test_findings_double_click_moves_viewer(qtbot: Any, filled_case: Any, test_analyzers: Any,
                                            window: MainWindow) -> None:
    store, ids = filled_case
    window.set_store(store, owned=False)
    keys = window.run_analyses([ids["image"]], ["test.quick"])
    qtbot.waitUntil(lambda: window.jobs_panel.status(keys[0]) == "done", timeout=WAIT)
    table = window.findings_panel.table
    rect = table.visualRect(window.findings_panel.proxy.index(0, 2))
    qtbot.mouseClick(table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())  # views need the press
    qtbot.mouseDClick(table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert window.evidence_panel.current_id() == ids["image"]
    view = window.viewer.current_view
    qtbot.waitUntil(lambda: view.is_loaded, timeout=WAIT)
    (x0, x1), (y0, y1) = view.plot.vb.viewRange()
    assert abs((x0 + x1) / 2 - 16) < 1 and abs((y0 + y1) / 2 - 10) < 1  # centred on region (8, 4, 16, 12)


def test_build_window_opens_case(qtbot: Any, filled_case: Any) -> None:
    from forensics_app.app import build_window

    store, _ = filled_case
    window = build_window(store.root, examiner="Test Examiner")
    qtbot.addWidget(window)
    try:
        qtbot.waitUntil(lambda: window.case is not None, timeout=WAIT)
        assert window.evidence_panel.model.rowCount() == 3
    finally:
        window.close()


def test_startup_does_not_import_torch() -> None:
    code = "import sys, forensics_app.app; sys.exit('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], timeout=60).returncode == 0


class _Probe(QObject):
    ping = Signal(int)


def test_pinned_pyside_keeps_references_to_true_and_none(qapp) -> None:
    # PySide6 6.12.0 dropped a reference to True on every Signal.emit() and to None on every
    # QThreadPool run: after a few thousand pyqtgraph mouse-move signals the interpreter aborted
    # ("Fatal Python error: bool_dealloc"). The pin is 6.11.3; this guards any future upgrade.
    probe = _Probe()
    probe.ping.connect(lambda _v: None)
    true_before, none_before = sys.getrefcount(True), sys.getrefcount(None)
    for i in range(2_000):
        probe.ping.emit(i)
    pool = QThreadPool()
    for _ in range(200):
        pool.start(lambda: None)
    pool.waitForDone()
    assert sys.getrefcount(True) >= true_before - 10
    assert sys.getrefcount(None) >= none_before - 10
