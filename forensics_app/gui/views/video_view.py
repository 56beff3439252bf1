"""Video evidence: a frame viewer with a slider, keyboard stepping and a strip of frame findings."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt, Signal
from PySide6.QtGui import QKeyEvent, QMouseEvent
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QSlider, QVBoxLayout, QWidget

from forensics_app.domain.jobs import ProgressToken
from forensics_app.domain.media import VideoSource
from forensics_app.gui.snapshots import EvidenceItem, FindingItem
from forensics_app.gui.views import media_data
from forensics_app.gui.views.media_data import FrameBatch, Lane
from forensics_app.gui.views.overlays import (
    EvidenceView,
    add_lane,
    caption_item,
    configure_plot,
    finding_caption,
    finding_color,
    shaded_range,
)
from forensics_app.gui.workers import WorkerPool
from forensics_app.store.artifacts import ArtifactStore

BATCH = 8
"""Frames decoded per request (the neighbours of the requested frame are cached too)."""
CACHE_BYTES = 256 * 1024 * 1024
"""Upper bound of the decoded-frame cache."""
STEP_KEYS = {
    Qt.Key.Key_Right: 1,
    Qt.Key.Key_Left: -1,
    Qt.Key.Key_PageDown: 10,
    Qt.Key.Key_PageUp: -10,
}


class VideoView(EvidenceView):
    """Frame viewer: slider over frames, frame index and time, frame-localised findings marked.

    Keys: Right/Left step one frame, PageDown/PageUp ten frames, Home/End jump to the ends.
    Frames are decoded off the GUI thread in small batches and cached.

    Signals
    -------
    frame_shown(index)
        A decoded frame is on screen.
    """

    frame_shown = Signal(int)

    def __init__(self, *, pool: WorkerPool, artifacts: ArtifactStore, parent: QWidget | None = None) -> None:
        super().__init__(pool=pool, artifacts=artifacts, parent=parent)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.source: VideoSource | None = None
        self.current_frame = 0
        self.displayed_frame: int | None = None
        self._cache: OrderedDict[int, tuple[float, np.ndarray]] = OrderedDict()
        self._cache_bytes = 0
        self._in_flight = False
        self._pending_focus: FindingItem | None = None
        self._strip_items: list[Any] = []
        self._lane_plots: list[pg.PlotItem] = []

        self.info = QLabel("")
        self.position = QLabel("")
        self.position.setMinimumWidth(240)
        top = QHBoxLayout()
        top.addWidget(self.info, 1)
        top.addWidget(self.message, 1)
        top.addWidget(self.position)

        self.graphics = pg.GraphicsLayoutWidget()
        self.graphics.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.frame_plot: pg.PlotItem = self.graphics.addPlot(row=0, col=0)
        self.frame_plot.invertY(True)
        self.frame_plot.setAspectLocked(True, ratio=1.0)
        self.frame_plot.hideAxis("bottom")
        self.frame_plot.hideAxis("left")
        self.frame_plot.hideButtons()
        self.image = pg.ImageItem(axisOrder="row-major")
        self.frame_plot.addItem(self.image)
        self.graphics.ci.layout.setRowStretchFactor(0, 5)

        self.strip: pg.PlotItem = self.graphics.addPlot(row=1, col=0)
        configure_plot(self.strip, y_label="findings", x_label="frame")
        self.strip.getAxis("bottom").enableAutoSIPrefix(False)
        self.strip.getAxis("left").setStyle(showValues=False)
        self.strip.setMouseEnabled(x=True, y=False)
        self.strip.setYRange(0, 1, padding=0)
        self.strip.setMinimumHeight(70)
        self.strip.setMaximumHeight(90)
        self.cursor = pg.InfiniteLine(angle=90, movable=True, pen=pg.mkPen((0, 255, 200), width=2))
        self.cursor.setZValue(30)
        self.cursor.sigPositionChangeFinished.connect(lambda line: self.go_to(int(round(line.value()))))
        self.strip.addItem(self.cursor)

        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.slider.setRange(0, 0)
        self.slider.setPageStep(10)
        self.slider.valueChanged.connect(self.go_to)
        back = QPushButton("◀")
        back.setToolTip("Previous frame (Left)")
        back.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        back.clicked.connect(lambda: self.step(-1))
        forward = QPushButton("▶")
        forward.setToolTip("Next frame (Right)")
        forward.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        forward.clicked.connect(lambda: self.step(1))
        controls = QHBoxLayout()
        controls.addWidget(back)
        controls.addWidget(self.slider, 1)
        controls.addWidget(forward)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(top)
        layout.addWidget(self.graphics, 1)
        layout.addLayout(controls)

    # ------------------------------------------------------------------ loading

    @property
    def n_frames(self) -> int:
        """Frames in the video (0 until it is opened)."""
        return self.source.n_frames if self.source is not None else 0

    @property
    def fps(self) -> float:
        """Declared frame rate (frames per second)."""
        return self.source.fps if self.source is not None else 25.0

    def load(self, evidence: EvidenceItem, findings: Sequence[FindingItem]) -> None:
        """Open the stored copy off the GUI thread, then show frame 0."""
        self.evidence = evidence
        md = evidence.metadata
        self.info.setText(f"<b>#{evidence.id} {evidence.name}</b> · {md.get('codec', '')} · "
                          f"{md.get('width', '?')} × {md.get('height', '?')} px · "
                          f"{float(md.get('fps') or 0):.3g} fps")
        self.message.setText("opening…")
        path = evidence.path

        def job(progress: ProgressToken) -> VideoSource:
            return media_data.open_video(path)

        self._submit(f"video:{evidence.id}", job, self._on_source)
        self.set_findings(findings)

    def _on_source(self, source: VideoSource) -> None:
        self.source = source
        last = max(source.n_frames - 1, 0)
        self.slider.blockSignals(True)
        self.slider.setRange(0, last)
        self.slider.blockSignals(False)
        self.strip.setLimits(xMin=-0.5, xMax=last + 0.5)
        self.strip.setXRange(-0.5, last + 0.5, padding=0)
        self.message.setText("")
        self.is_loaded = True
        self.set_findings(self.findings)
        target = 0
        if self._pending_focus is not None:
            focus, self._pending_focus = self._pending_focus, None
            target = self._frame_of(focus) or 0
        self.go_to(target)

    # ----------------------------------------------------------------- stepping

    def step(self, delta: int) -> None:
        """Move ``delta`` frames (clamped to the video)."""
        self.go_to(self.current_frame + delta)

    def go_to(self, index: int) -> None:
        """Show frame ``index`` (decoded off the GUI thread unless cached)."""
        if self.source is None:
            return
        index = int(min(max(index, 0), max(self.n_frames - 1, 0)))
        backwards = index < self.current_frame
        self.current_frame = index
        if self.slider.value() != index:
            self.slider.blockSignals(True)
            self.slider.setValue(index)
            self.slider.blockSignals(False)
        self.cursor.setValue(index)
        self._update_position()
        if index in self._cache:
            self._cache.move_to_end(index)
            self._display(index)
        elif not self._in_flight:
            self._request(max(index - BATCH + 1, 0) if backwards else index)

    def _request(self, start: int) -> None:
        source = self.source
        if source is None:
            return
        self._in_flight = True

        def job(progress: ProgressToken) -> FrameBatch:
            return media_data.decode_frames(source, start, BATCH, progress)

        self._submit("frames", job, self._on_frames)

    def _on_frames(self, batch: FrameBatch) -> None:
        self._in_flight = False
        for index, t, rgb in batch.frames:
            if index not in self._cache:
                self._cache[index] = (t, rgb)
                self._cache_bytes += rgb.nbytes
        while self._cache_bytes > CACHE_BYTES and len(self._cache) > BATCH:
            _, (_, old) = self._cache.popitem(last=False)
            self._cache_bytes -= old.nbytes
        if self.current_frame in self._cache:
            self._display(self.current_frame)
        elif batch.frames:
            self._request(self.current_frame)
        else:
            self.message.setText(f"frame {self.current_frame} could not be decoded")

    def _display(self, index: int) -> None:
        t, rgb = self._cache[index]
        first = self.displayed_frame is None
        h, w = rgb.shape[:2]
        self.image.setImage(rgb, autoLevels=False, levels=(0, 255))
        self.image.setRect(QRectF(0, 0, w, h))
        if first:
            self.frame_plot.vb.setRange(QRectF(0, 0, w, h), padding=0.01)
        self.displayed_frame = index
        self._update_position(t)
        self.frame_shown.emit(index)

    def findings_at(self, index: int) -> list[FindingItem]:
        """The findings whose frame range contains frame ``index``."""
        out = []
        for f in self.findings:
            start = self._frame_of(f)
            if start is None:
                continue
            if f.end_frame is not None:
                end = int(f.end_frame)
            elif f.end_s is not None:
                end = int(round(f.end_s * self.fps)) + 1
            else:
                end = start + 1
            if start <= index < max(end, start + 1):
                out.append(f)
        return out

    def _update_position(self, t: float | None = None) -> None:
        t = self.current_frame / self.fps if t is None else t
        here = self.findings_at(self.current_frame)
        marks = "".join(f" · <span style='color:{finding_color(f.fake_likelihood).name()}'>"
                        f"{finding_caption(f)}</span>" for f in here)
        self.position.setText(f"frame {self.current_frame} / {max(self.n_frames - 1, 0)} · "
                              f"t = {t:.3f} s{marks}")

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt override
        """Right/Left: ±1 frame; PageDown/PageUp: ±10 frames; Home/End: first/last frame."""
        key = event.key()
        if key in STEP_KEYS:
            self.step(STEP_KEYS[key])
        elif key == Qt.Key.Key_Home:
            self.go_to(0)
        elif key == Qt.Key.Key_End:
            self.go_to(self.n_frames - 1)
        else:
            super().keyPressEvent(event)
            return
        event.accept()

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt override
        """Clicking the view gives it the keyboard."""
        self.setFocus()
        super().mousePressEvent(event)

    # ----------------------------------------------------------------- findings

    def _frame_of(self, f: FindingItem) -> int | None:
        if f.start_frame is not None:
            return int(f.start_frame)
        if f.start_s is not None:
            return int(round(f.start_s * self.fps))
        return None

    def set_findings(self, findings: Sequence[FindingItem]) -> None:
        """Mark frame-localised (and time-localised) findings on the strip; series become lanes."""
        ev_id = self.evidence.id if self.evidence is not None else None
        self.findings = tuple(f for f in findings if ev_id is None or f.evidence_id == ev_id)
        for item in self._strip_items:
            self.strip.removeItem(item)
        self._strip_items = []
        for f in self.findings:
            start = self._frame_of(f)
            if start is None:
                continue
            if f.end_frame is not None:
                end = float(f.end_frame) - 0.5
            elif f.end_s is not None:
                end = f.end_s * self.fps
            else:
                end = start + 0.5
            item = shaded_range(start - 0.5, max(end, start + 0.5), f)
            label = caption_item(f, anchor=(0, 0))
            label.setPos(start - 0.5, 1.0)
            for it in (item, label):
                self.strip.addItem(it)
                self._strip_items.append(it)
        self._load_lanes()

    def _on_lanes(self, lanes: tuple[Lane, ...]) -> None:
        for plot in self._lane_plots:
            self.graphics.removeItem(plot)
        self._lane_plots = [add_lane(self.graphics, 2 + i, lane, x_scale=self.fps, link=self.strip, height=60)
                            for i, lane in enumerate(lanes)]

    def show_finding(self, finding: FindingItem) -> None:
        """Go to a finding's first frame."""
        frame = self._frame_of(finding)
        if frame is None:
            return
        if not self.is_loaded:
            self._pending_focus = finding
            return
        self.go_to(frame)
