"""Shared drawing helpers of the views: finding colours, shaded ranges, lanes and a base class."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QFont
from PySide6.QtWidgets import QLabel, QWidget

from forensics_app.domain.jobs import ProgressToken
from forensics_app.gui.snapshots import EvidenceItem, FindingItem
from forensics_app.gui.views.media_data import Lane, load_lanes
from forensics_app.gui.workers import JobFn, WorkerPool
from forensics_app.store.artifacts import ArtifactStore

LEFT_AXIS_WIDTH = 72
"""Every plot of a view gets the same left axis width so their time axes line up."""
LANE_LABEL_CHARS = 14
"""Longest lane axis label (the lane's unit) before it is shortened."""
DESCRIPTIVE_RGB = (90, 160, 255)
"""Colour of findings without a FakeLikelihood."""


def finding_color(fake_likelihood: float | None, alpha: int = 255) -> QColor:
    """Blue for descriptive findings; yellow (0) to red (1) by FakeLikelihood otherwise."""
    if fake_likelihood is None:
        return QColor(*DESCRIPTIVE_RGB, alpha)
    f = float(np.clip(fake_likelihood, 0.0, 1.0))
    return QColor(255, int(220 * (1.0 - f)), 40, alpha)


def finding_caption(f: FindingItem) -> str:
    """Short caption: label and score."""
    score = "" if f.fake_likelihood is None else f" ({f.fake_likelihood:.2f})"
    return f"{f.label}{score}"


def configure_plot(plot: pg.PlotItem, *, y_label: str, y_units: str | None = None,
                   x_label: str | None = None, x_units: str | None = None) -> None:
    """Label the axes and fix the left axis width so stacked plots align."""
    plot.setLabel("left", y_label, units=y_units)
    plot.getAxis("left").setWidth(LEFT_AXIS_WIDTH)
    if x_label is None:
        plot.getAxis("bottom").setStyle(showValues=False)
        plot.getAxis("bottom").setHeight(8)
    else:
        plot.setLabel("bottom", x_label, units=x_units)
    plot.showGrid(x=True, y=True, alpha=0.15)
    plot.hideButtons()


def shaded_range(start: float, end: float, f: FindingItem, *, fill: bool = True) -> pg.LinearRegionItem:
    """A non-movable shaded x range for a finding (in the plot's x units); edges only without ``fill``
    (over a spectrogram, where stacked shading would hide the picture)."""
    color = finding_color(f.fake_likelihood, 60 if fill else 0)
    edge = finding_color(f.fake_likelihood, 200)
    item = pg.LinearRegionItem(values=(start, max(end, start)), movable=False, brush=color,
                               pen=pg.mkPen(edge, width=1))
    item.setZValue(10)
    item.setToolTip(f"{finding_caption(f)}\n{f.analyzer_id} {f.analyzer_version}\n{f.details_summary(300)}")
    return item


def caption_item(f: FindingItem, *, anchor: tuple[float, float]) -> pg.TextItem:
    """A finding's caption in its colour on a dark backing (readable over any image)."""
    return pg.TextItem(finding_caption(f), color=finding_color(f.fake_likelihood), anchor=anchor,
                       fill=pg.mkBrush(0, 0, 0, 170))


def range_label(x: float, f: FindingItem) -> pg.TextItem:
    """A caption drawn at the start of a finding's range."""
    text = caption_item(f, anchor=(0, 0))
    font = QFont()
    font.setPointSize(8)
    text.setFont(font)
    text.setPos(x, 0)
    text.setZValue(20)
    return text


def add_lane(layout: pg.GraphicsLayoutWidget, row: int, lane: Lane, *, x_scale: float = 1.0,
             link: pg.PlotItem | None = None, height: int = 80) -> pg.PlotItem:
    """Add one time-series lane as a plot in ``layout`` at ``row``.

    Parameters
    ----------
    x_scale : float
        Multiplies the series times (s) into the plot's x units (1 for seconds, fps for frames).
    link : PlotItem, optional
        Plot whose x axis this lane follows.
    """
    plot = layout.addPlot(row=row, col=0)
    # the title names the series; the axis gives its unit (a long name would overflow a low lane)
    unit = lane.series.unit or lane.series.name
    configure_plot(plot, y_label=unit if len(unit) <= LANE_LABEL_CHARS else unit[: LANE_LABEL_CHARS - 1] + "…",
                   y_units=None)
    plot.getAxis("left").enableAutoSIPrefix(False)
    plot.setTitle(f"<span style='font-size:8pt'>{lane.title}</span>")
    plot.setMinimumHeight(height)
    plot.setMaximumHeight(height + 40)
    plot.setMouseEnabled(x=True, y=False)
    plot.enableAutoRange(x=False)  # the x range follows the linked plot, never the lane's data
    x = lane.series.times_s * x_scale
    plot.plot(x, lane.series.values, pen=pg.mkPen((120, 220, 160), width=1.5),
              stepMode=None, connect="finite")
    if lane.series.unit == "FakeLikelihood":
        plot.setYRange(0.0, 1.0, padding=0.05)
    else:
        plot.enableAutoRange(axis="y")
    if link is not None:
        plot.setXLink(link)
    return plot


class EvidenceView(QWidget):
    """Base of the per-media views: loads one evidence item off the GUI thread and draws findings.

    Parameters
    ----------
    pool : WorkerPool
        Where decoding and preparation run.
    artifacts : ArtifactStore
        The case's artifacts (time-series lanes).
    parent : QWidget, optional
        Qt parent.

    Signals
    -------
    loaded()
        The media is drawn.
    load_failed(message)
        The media could not be decoded.
    """

    loaded = Signal()
    load_failed = Signal(str)

    def __init__(self, *, pool: WorkerPool, artifacts: ArtifactStore, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._pool = pool
        self._artifacts = artifacts
        self._jobs: set[str] = set()
        self.evidence: EvidenceItem | None = None
        self.findings: tuple[FindingItem, ...] = ()
        self.is_loaded = False
        self.message = QLabel("")
        self.message.setObjectName("viewMessage")
        self.message.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)

    def load(self, evidence: EvidenceItem, findings: Sequence[FindingItem]) -> None:
        """Start loading ``evidence`` and draw ``findings`` once it is shown."""
        raise NotImplementedError

    def set_findings(self, findings: Sequence[FindingItem]) -> None:
        """Replace the drawn findings (those of this evidence item)."""
        raise NotImplementedError

    def show_finding(self, finding: FindingItem) -> None:
        """Move to a finding's time, frame or region."""
        raise NotImplementedError

    def dispose(self) -> None:
        """Cancel this view's outstanding jobs (before it is deleted)."""
        for key in list(self._jobs):
            self._pool.cancel(key)
        self._jobs.clear()

    def _submit(self, prefix: str, fn: JobFn, on_finished: Callable[[Any], None]) -> str:
        """Run ``fn`` on the interactive lane; ``on_finished(result)`` runs on the GUI thread."""
        key = self._pool.unique_key(prefix)
        self._jobs.add(key)

        def done(result: Any) -> None:
            self._jobs.discard(key)
            on_finished(result)

        def failed(message: str, _tb: str) -> None:
            self._jobs.discard(key)
            self._show_error(message)

        def cancelled() -> None:
            self._jobs.discard(key)

        self._pool.submit(key, fn, on_finished=done, on_failed=failed, on_cancelled=cancelled,
                          owner=self, interactive=True)
        return key

    def _load_lanes(self) -> None:
        """Load the series artifacts of :attr:`findings` off the GUI thread, then call ``_on_lanes``."""
        with_series = [(f.id, f"{f.analyzer_id} · ", f.series_refs) for f in self.findings if f.series_refs]
        if not with_series:
            self._on_lanes(())
            return
        artifacts = self._artifacts

        def job(progress: ProgressToken) -> tuple[Lane, ...]:
            return load_lanes(artifacts, with_series)

        self._submit("lanes", job, self._on_lanes)

    def _on_lanes(self, lanes: tuple[Lane, ...]) -> None:
        """Draw loaded lanes (views that show lanes override this)."""

    def _show_error(self, message: str) -> None:
        self.message.setText(f"<span style='color:#e05050'>{message}</span>")
        self.load_failed.emit(message)
