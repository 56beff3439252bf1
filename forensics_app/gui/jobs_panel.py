"""One row per background job: what, on which evidence, status, a progress bar and a cancel button."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QProgressBar,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from forensics_app.gui.workers import WorkerPool

COLUMNS = ("Job", "Evidence", "Progress", "", "Status")
COL_JOB, COL_EVIDENCE, COL_PROGRESS, COL_CANCEL, COL_STATUS = range(5)
ACTIVE = frozenset({"queued", "running"})
STATUS_COLORS = {
    "queued": QColor(150, 150, 150),
    "running": QColor(90, 160, 255),
    "done": QColor(60, 170, 90),
    "duplicate": QColor(220, 160, 40),
    "refused": QColor(220, 60, 60),
    "failed": QColor(220, 60, 60),
    "cancelled": QColor(220, 160, 40),
}


@dataclass
class _Row:
    key: str
    status: str
    bar: QProgressBar
    cancel: QPushButton


class JobsPanel(QWidget):
    """The job list. Attach it to a :class:`WorkerPool` to follow the jobs added with :meth:`add_job`.

    Signals
    -------
    cancel_requested(job_key)
        The user pressed a row's cancel button.
    active_count_changed(n)
        Number of queued or running jobs.
    """

    cancel_requested = Signal(str)
    active_count_changed = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._rows: dict[str, _Row] = {}
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(list(COLUMNS))
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setWordWrap(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(True)  # the status, the column that matters most
        for col, width in ((COL_JOB, 120), (COL_EVIDENCE, 130), (COL_PROGRESS, 80), (COL_CANCEL, 60)):
            self.table.setColumnWidth(col, width)
        self.table.setTextElideMode(Qt.TextElideMode.ElideRight)
        clear = QPushButton("Clear finished")
        clear.clicked.connect(self.clear_finished)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(clear)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.table, 1)
        layout.addLayout(buttons)

    def attach(self, pool: WorkerPool) -> None:
        """Follow ``pool``'s signals for the rows of this panel; cancel buttons cancel on it."""
        pool.started.connect(self._on_started)
        pool.progress.connect(self.set_progress)
        pool.finished.connect(self._on_finished)
        pool.failed.connect(self.set_failed)
        pool.cancelled.connect(self.set_cancelled)
        self.cancel_requested.connect(pool.cancel)

    # ------------------------------------------------------------------ rows

    def add_job(self, job_key: str, *, title: str, evidence: str = "", tooltip: str = "") -> None:
        """Add a queued job's row at the top (``tooltip`` describes the job in full)."""
        if job_key in self._rows:
            return
        self.table.insertRow(0)
        for col, text in ((COL_JOB, title), (COL_EVIDENCE, evidence), (COL_STATUS, "")):
            item = QTableWidgetItem(text)
            item.setData(Qt.ItemDataRole.UserRole, job_key)
            item.setToolTip(tooltip if col == COL_JOB and tooltip else text)
            self.table.setItem(0, col, item)
        bar = QProgressBar()
        bar.setRange(0, 100)
        bar.setValue(0)
        bar.setTextVisible(True)
        cancel = QPushButton("Cancel")
        cancel.setToolTip("Stop this job at its next check")
        cancel.clicked.connect(lambda: self.cancel_requested.emit(job_key))
        self.table.setCellWidget(0, COL_PROGRESS, bar)
        self.table.setCellWidget(0, COL_CANCEL, cancel)
        self._rows[job_key] = _Row(job_key, "queued", bar, cancel)
        self._set_status(job_key, "queued", "queued")
        self.active_count_changed.emit(self.active_count())

    def _row_index(self, job_key: str) -> int:
        for row in range(self.table.rowCount()):
            item = self.table.item(row, COL_JOB)
            if item is not None and item.data(Qt.ItemDataRole.UserRole) == job_key:
                return row
        return -1

    def _set_status(self, job_key: str, status: str, text: str, tooltip: str = "") -> None:
        row = self._rows.get(job_key)
        index = self._row_index(job_key)
        if row is None or index < 0:
            return
        was_active = row.status in ACTIVE
        row.status = status
        item = self.table.item(index, COL_STATUS)
        item.setText(text)
        item.setToolTip(tooltip or text)
        item.setForeground(QBrush(STATUS_COLORS.get(status, QColor(200, 200, 200))))
        if status not in ACTIVE:
            row.cancel.setEnabled(False)
            if status == "done":
                row.bar.setValue(100)
        if was_active != (status in ACTIVE):
            self.active_count_changed.emit(self.active_count())

    def _on_started(self, job_key: str) -> None:
        row = self._rows.get(job_key)
        if row is not None and row.status == "queued":
            self._set_status(job_key, "running", "running")

    def set_progress(self, job_key: str, fraction: float, message: str) -> None:
        """Update a running job's bar (0–100 %) and status message."""
        row = self._rows.get(job_key)
        if row is None or row.status not in ACTIVE:
            return
        row.bar.setValue(int(round(100 * min(max(fraction, 0.0), 1.0))))
        self._set_status(job_key, "running", message or "running")

    def _on_finished(self, job_key: str, _result: object) -> None:
        row = self._rows.get(job_key)
        if row is not None and row.status in ACTIVE:  # outcome not described by the owner
            self.set_done(job_key, "done")

    def set_done(self, job_key: str, text: str = "done") -> None:
        """Mark a job finished successfully."""
        self._set_status(job_key, "done", text)

    def set_outcome(self, job_key: str, status: str, text: str) -> None:
        """Mark a job with another terminal status (``"refused"``, ``"duplicate"``)."""
        self._set_status(job_key, status, text)
        row = self._rows.get(job_key)
        if row is not None:
            row.bar.setValue(100)

    def set_failed(self, job_key: str, message: str, traceback: str = "") -> None:
        """Mark a job failed; the message is shown, the traceback is in the tooltip."""
        self._set_status(job_key, "failed", f"failed: {message}", f"{message}\n\n{traceback}".strip())

    def set_cancelled(self, job_key: str) -> None:
        """Mark a job cancelled."""
        self._set_status(job_key, "cancelled", "cancelled")

    def clear_finished(self) -> None:
        """Remove the rows of jobs that are no longer active."""
        for key, row in list(self._rows.items()):
            if row.status not in ACTIVE:
                self.table.removeRow(self._row_index(key))
                del self._rows[key]

    # --------------------------------------------------------------- queries

    def status(self, job_key: str) -> str | None:
        """A job's status keyword (``"queued"``, ``"running"``, ``"done"``, ``"failed"``, ...)."""
        row = self._rows.get(job_key)
        return row.status if row is not None else None

    def status_text(self, job_key: str) -> str:
        """The status text shown for a job."""
        index = self._row_index(job_key)
        return self.table.item(index, COL_STATUS).text() if index >= 0 else ""

    def progress_value(self, job_key: str) -> int:
        """A job's progress bar value (0–100, -1 when unknown)."""
        row = self._rows.get(job_key)
        return row.bar.value() if row is not None else -1

    def job_keys(self) -> list[str]:
        """Keys of the rows, newest first."""
        keys = []
        for row in range(self.table.rowCount()):
            item = self.table.item(row, COL_JOB)
            if item is not None:
                keys.append(str(item.data(Qt.ItemDataRole.UserRole)))
        return keys

    def active_count(self) -> int:
        """Queued or running jobs."""
        return sum(1 for r in self._rows.values() if r.status in ACTIVE)
