"""The single threading adapter of the GUI.

Every piece of background work (acquisition, hashing, decoding, STFT, analysis, reports) is a plain
Python callable ``fn(progress: ProgressToken) -> result`` handed to :class:`WorkerPool`. The pool
runs it on a :class:`~PySide6.QtCore.QThreadPool` and reports back through Qt signals that are
always delivered on the GUI thread. Results must be plain values (ids, frozen dataclasses, numpy
arrays), never ORM rows or widgets.

Two lanes share the adapter: ``background`` for user jobs (analyses, acquisitions) and
``interactive`` for view work (spectrograms, frame decoding) so that a queue of long analyses never
starves the viewer.
"""

from __future__ import annotations

import itertools
import logging
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import shiboken6
from PySide6.QtCore import QObject, Qt, QThreadPool, Signal, Slot

from forensics_app.domain.errors import Cancelled, ForensicsError
from forensics_app.domain.jobs import ProgressToken

log = logging.getLogger(__name__)

JobFn = Callable[[ProgressToken], Any]
"""A job: called on a pool thread with its progress token; returns a plain value."""

PROGRESS_INTERVAL_S = 0.05
"""Progress signals are throttled to at most one per job per interval (the GUI repaints at ~20 Hz)."""


@dataclass
class _Entry:
    token: ProgressToken
    interactive: bool
    on_finished: Callable[[Any], None] | None
    on_failed: Callable[[str, str], None] | None
    on_cancelled: Callable[[], None] | None
    owner: QObject | None


def error_message(exc: BaseException) -> str:
    """The user-facing text of an exception raised by a job.

    Our own errors already name the object and the reason; anything else gets its type name. An
    exception with a ``traceback_text`` attribute (see :class:`forensics_app.gui.tasks.JobFailure`)
    supplies the traceback shown for it.
    """
    if isinstance(exc, ForensicsError):
        return str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {exc}"


class WorkerPool(QObject):
    """Run plain callables off the GUI thread and report progress, results and errors as signals.

    Parameters
    ----------
    max_threads : int, optional
        Threads of the background lane (default: the ideal thread count, at least 2).
    parent : QObject, optional
        Qt parent.

    Signals
    -------
    started(job_key)
        The job began on a pool thread.
    progress(job_key, fraction, message)
        Fraction in [0, 1] of the whole job.
    finished(job_key, result)
        The job returned ``result``.
    failed(job_key, message, traceback)
        The job raised; ``message`` is meant for the user.
    cancelled(job_key)
        The job stopped because :meth:`cancel` was called (or raised Cancelled).
    """

    started = Signal(str)
    progress = Signal(str, float, str)
    finished = Signal(str, object)
    failed = Signal(str, str, str)
    cancelled = Signal(str)
    activity_changed = Signal(int)

    # Emitted from pool threads; connected with QueuedConnection to slots of this object.
    _started_from_worker = Signal(str)
    _progress_from_worker = Signal(str, float, str)
    _finished_from_worker = Signal(str, object)
    _failed_from_worker = Signal(str, str, str)
    _cancelled_from_worker = Signal(str)

    def __init__(self, *, max_threads: int | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._background = QThreadPool(self)
        self._background.setMaxThreadCount(max_threads or max(2, QThreadPool.globalInstance().maxThreadCount()))
        self._interactive = QThreadPool(self)
        self._interactive.setMaxThreadCount(2)
        self._entries: dict[str, _Entry] = {}
        self._counter = itertools.count(1)
        queued = Qt.ConnectionType.QueuedConnection
        self._started_from_worker.connect(self._deliver_started, queued)
        self._progress_from_worker.connect(self._deliver_progress, queued)
        self._finished_from_worker.connect(self._deliver_finished, queued)
        self._failed_from_worker.connect(self._deliver_failed, queued)
        self._cancelled_from_worker.connect(self._deliver_cancelled, queued)

    # ------------------------------------------------------------------ public API

    def unique_key(self, prefix: str) -> str:
        """A job key not used before in this pool, e.g. ``"spectrogram:7"``."""
        return f"{prefix}:{next(self._counter)}"

    def submit(
        self,
        job_key: str,
        fn: JobFn,
        *,
        on_finished: Callable[[Any], None] | None = None,
        on_failed: Callable[[str, str], None] | None = None,
        on_cancelled: Callable[[], None] | None = None,
        owner: QObject | None = None,
        interactive: bool = False,
    ) -> ProgressToken:
        """Queue ``fn`` on the pool.

        Parameters
        ----------
        job_key : str
            Identifies the job in every signal; must not be active already.
        fn : callable
            ``fn(progress) -> result``; runs on a pool thread and must not touch widgets.
        on_finished, on_failed, on_cancelled : callable, optional
            Called on the GUI thread before the matching signal is emitted:
            ``on_finished(result)``, ``on_failed(message, traceback)``, ``on_cancelled()``.
        owner : QObject, optional
            When given, the callbacks are skipped once this object has been deleted.
        interactive : bool
            Run on the interactive lane (view work) instead of the background lane.

        Returns
        -------
        ProgressToken
            The job's token (its ``cancel()`` is what :meth:`cancel` calls).

        Raises
        ------
        ValueError
            If a job with this key is still active.
        """
        if job_key in self._entries:
            raise ValueError(f"job {job_key!r} is already running")
        last_emit = [0.0]

        def on_report(fraction: float, message: str) -> None:
            now = time.monotonic()
            if fraction >= 1.0 or now - last_emit[0] >= PROGRESS_INTERVAL_S:
                last_emit[0] = now
                self._emit_safely(self._progress_from_worker, job_key, float(fraction), message)

        token = ProgressToken(on_report)
        self._entries[job_key] = _Entry(token, interactive, on_finished, on_failed, on_cancelled, owner)
        lane = self._interactive if interactive else self._background
        lane.start(lambda: self._execute(job_key, fn, token))
        self.activity_changed.emit(self.active_count())
        return token

    def cancel(self, job_key: str) -> bool:
        """Ask a job to stop at its next ``progress.check()``; False if it is not active."""
        entry = self._entries.get(job_key)
        if entry is None:
            return False
        entry.token.cancel()
        return True

    def cancel_all(self, *, include_interactive: bool = True) -> None:
        """Ask every active job (or only the background lane's) to stop."""
        for entry in list(self._entries.values()):
            if include_interactive or not entry.interactive:
                entry.token.cancel()

    def is_active(self, job_key: str) -> bool:
        """Whether a job is queued or running (its outcome not yet delivered)."""
        return job_key in self._entries

    def active_keys(self, *, include_interactive: bool = False) -> list[str]:
        """Keys of queued or running jobs."""
        return [k for k, e in self._entries.items() if include_interactive or not e.interactive]

    def active_count(self, *, include_interactive: bool = False) -> int:
        """Number of queued or running jobs (background lane only, by default)."""
        return len(self.active_keys(include_interactive=include_interactive))

    def wait(self, msecs: int = 30_000, *, include_interactive: bool = True) -> bool:
        """Block until the lanes are idle (for shutdown and tests); True if they are.

        Results of the finished jobs are still delivered through the event loop afterwards.
        """
        deadline = time.monotonic() + msecs / 1000
        ok = self._background.waitForDone(msecs)
        if include_interactive:
            remaining = max(0, int((deadline - time.monotonic()) * 1000))
            ok = self._interactive.waitForDone(remaining) and ok
        return ok

    def shutdown(self, msecs: int = 30_000, *, include_interactive: bool = True) -> bool:
        """Cancel the jobs and wait for their threads to finish."""
        self.cancel_all(include_interactive=include_interactive)
        return self.wait(msecs, include_interactive=include_interactive)

    # ------------------------------------------------------------- pool thread side

    def _emit_safely(self, signal: Any, *args: Any) -> None:
        try:
            signal.emit(*args)
        except RuntimeError:  # the pool object was deleted while a job finished
            log.debug("worker pool gone; dropped %s", args[:1])

    def _execute(self, job_key: str, fn: JobFn, token: ProgressToken) -> None:
        if token.cancelled:
            self._emit_safely(self._cancelled_from_worker, job_key)
            return
        self._emit_safely(self._started_from_worker, job_key)
        try:
            result = fn(token)
        except Cancelled:
            self._emit_safely(self._cancelled_from_worker, job_key)
        except BaseException as exc:  # noqa: BLE001 - every failure is reported, none is fatal
            tb = getattr(exc, "traceback_text", "") or traceback.format_exc()
            self._emit_safely(self._failed_from_worker, job_key, error_message(exc), tb)
        else:
            self._emit_safely(self._finished_from_worker, job_key, result)

    # --------------------------------------------------------------- GUI thread side

    def _alive(self, entry: _Entry | None) -> bool:
        return entry is not None and (entry.owner is None or shiboken6.isValid(entry.owner))

    def _run_callback(self, job_key: str, callback: Callable[..., None], *args: Any) -> None:
        try:
            callback(*args)
        except Exception:  # a broken callback must not break the event loop
            log.exception("callback of job %s failed", job_key)
            self.failed.emit(job_key, f"internal error while handling the result of {job_key}",
                             traceback.format_exc())

    @Slot(str)
    def _deliver_started(self, job_key: str) -> None:
        if job_key in self._entries:
            self.started.emit(job_key)

    @Slot(str, float, str)
    def _deliver_progress(self, job_key: str, fraction: float, message: str) -> None:
        if job_key in self._entries:
            self.progress.emit(job_key, fraction, message)

    @Slot(str, object)
    def _deliver_finished(self, job_key: str, result: Any) -> None:
        entry = self._entries.pop(job_key, None)
        if self._alive(entry) and entry is not None and entry.on_finished is not None:
            self._run_callback(job_key, entry.on_finished, result)
        self.finished.emit(job_key, result)
        self.activity_changed.emit(self.active_count())

    @Slot(str, str, str)
    def _deliver_failed(self, job_key: str, message: str, tb: str) -> None:
        entry = self._entries.pop(job_key, None)
        if self._alive(entry) and entry is not None and entry.on_failed is not None:
            self._run_callback(job_key, entry.on_failed, message, tb)
        self.failed.emit(job_key, message, tb)
        self.activity_changed.emit(self.active_count())

    @Slot(str)
    def _deliver_cancelled(self, job_key: str) -> None:
        entry = self._entries.pop(job_key, None)
        if self._alive(entry) and entry is not None and entry.on_cancelled is not None:
            self._run_callback(job_key, entry.on_cancelled)
        self.cancelled.emit(job_key)
        self.activity_changed.emit(self.active_count())

