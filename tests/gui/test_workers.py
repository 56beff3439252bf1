"""The WorkerPool adapter: results, failures, cancellation and progress arrive on the GUI thread."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from forensics_app.domain.errors import CorruptMedia
from forensics_app.domain.jobs import ProgressToken
from forensics_app.gui.workers import WorkerPool


@pytest.fixture
def pool(qtbot: Any) -> Any:
    p = WorkerPool()
    yield p
    p.shutdown(5000)


def test_result_arrives_on_gui_thread_from_another_thread(qtbot: Any, pool: WorkerPool) -> None:
    gui = threading.get_ident()
    seen: dict[str, int] = {}

    def job(progress: ProgressToken) -> int:
        seen["worker"] = threading.get_ident()
        return 42

    def on_finished(result: int) -> None:
        seen["callback"] = threading.get_ident()

    with qtbot.waitSignal(pool.finished, timeout=5000) as blocker:
        pool.submit("job", job, on_finished=on_finished)
    assert blocker.args == ["job", 42]
    assert seen["worker"] != gui
    assert seen["callback"] == gui
    assert not pool.is_active("job")


def test_failure_carries_message_and_traceback(qtbot: Any, pool: WorkerPool) -> None:
    def job(progress: ProgressToken) -> None:
        raise CorruptMedia("x.wav: truncated")

    with qtbot.waitSignal(pool.failed, timeout=5000) as blocker:
        pool.submit("bad", job)
    key, message, tb = blocker.args
    assert key == "bad" and message == "x.wav: truncated" and "CorruptMedia" in tb


def test_cancel_and_progress(qtbot: Any, pool: WorkerPool) -> None:
    fractions: list[float] = []
    pool.progress.connect(lambda key, f, msg: fractions.append(f))

    def job(progress: ProgressToken) -> None:
        for i in range(200):
            progress.check()
            progress.report(i / 200, "working")
            time.sleep(0.01)

    pool.submit("long", job)
    qtbot.waitUntil(lambda: len(fractions) > 0, timeout=5000)
    with qtbot.waitSignal(pool.cancelled, timeout=5000) as blocker:
        assert pool.cancel("long")
    assert blocker.args == ["long"]
    assert 0.0 <= max(fractions) < 1.0
    assert not pool.cancel("long")


def test_duplicate_active_key_is_refused(qtbot: Any, pool: WorkerPool) -> None:
    gate = threading.Event()
    pool.submit("k", lambda progress: gate.wait(5))
    with pytest.raises(ValueError):
        pool.submit("k", lambda progress: None)
    with qtbot.waitSignal(pool.finished, timeout=5000):
        gate.set()
    assert pool.unique_key("x") != pool.unique_key("x")
