"""Still-image evidence: pixels at their true aspect, zoomable to single pixels, with finding regions."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF
from PySide6.QtWidgets import (
    QGraphicsRectItem,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from forensics_app.domain.jobs import ProgressToken
from forensics_app.gui.snapshots import EvidenceItem, FindingItem
from forensics_app.gui.views import media_data
from forensics_app.gui.views.overlays import (
    EvidenceView,
    caption_item,
    finding_caption,
    finding_color,
)
from forensics_app.gui.workers import WorkerPool
from forensics_app.store.artifacts import ArtifactStore


class ImageView(EvidenceView):
    """Image in pixel coordinates (x right, y down, locked aspect) with a pixel readout (x, y, RGB)."""

    def __init__(self, *, pool: WorkerPool, artifacts: ArtifactStore, parent: QWidget | None = None) -> None:
        super().__init__(pool=pool, artifacts=artifacts, parent=parent)
        self.pixels: np.ndarray | None = None
        self._pending_focus: FindingItem | None = None
        self._region_items: list[Any] = []

        self.info = QLabel("")
        self.readout = QLabel("")
        self.readout.setMinimumWidth(260)
        fit = QPushButton("Fit")
        fit.setToolTip("Show the whole image")
        fit.clicked.connect(self.fit)
        actual = QPushButton("1:1")
        actual.setToolTip("One image pixel per screen pixel")
        actual.clicked.connect(self.actual_pixels)
        top = QHBoxLayout()
        top.addWidget(self.info, 1)
        top.addWidget(self.message, 1)
        top.addWidget(self.readout)
        top.addWidget(fit)
        top.addWidget(actual)

        self.graphics = pg.GraphicsLayoutWidget()
        self.plot: pg.PlotItem = self.graphics.addPlot()
        self.plot.setLabel("bottom", "x", units="px")
        self.plot.setLabel("left", "y", units="px")
        self.plot.getAxis("bottom").enableAutoSIPrefix(False)
        self.plot.getAxis("left").enableAutoSIPrefix(False)
        self.plot.invertY(True)
        self.plot.setAspectLocked(True, ratio=1.0)
        self.plot.hideButtons()
        self.image = pg.ImageItem(axisOrder="row-major")
        self.plot.addItem(self.image)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(top)
        layout.addWidget(self.graphics, 1)
        self._mouse_proxy = pg.SignalProxy(self.graphics.scene().sigMouseMoved, rateLimit=30,
                                           slot=self._on_mouse_moved)

    def load(self, evidence: EvidenceItem, findings: Sequence[FindingItem]) -> None:
        """Decode the stored copy off the GUI thread, then draw it and its regions."""
        self.evidence = evidence
        md = evidence.metadata
        self.info.setText(f"<b>#{evidence.id} {evidence.name}</b> · {md.get('container', '')} · "
                          f"{md.get('width', '?')} × {md.get('height', '?')} px")
        self.message.setText("decoding…")
        path = evidence.path

        def job(progress: ProgressToken) -> np.ndarray:
            return media_data.load_image(path)

        self._submit(f"image:{evidence.id}", job, self._on_pixels)
        self.set_findings(findings)

    def _on_pixels(self, pixels: np.ndarray) -> None:
        self.pixels = pixels
        h, w = pixels.shape[:2]
        self.image.setImage(pixels, autoLevels=False, levels=(0, 255))
        self.image.setRect(QRectF(0, 0, w, h))
        self.plot.setLimits(xMin=-0.5 * w, xMax=1.5 * w, yMin=-0.5 * h, yMax=1.5 * h,
                            minXRange=4, minYRange=4)
        self.message.setText("")
        self.is_loaded = True
        self.fit()
        if self._pending_focus is not None:
            focus, self._pending_focus = self._pending_focus, None
            self.show_finding(focus)
        self.loaded.emit()

    def set_findings(self, findings: Sequence[FindingItem]) -> None:
        """Draw each finding's region as a rectangle with its caption."""
        ev_id = self.evidence.id if self.evidence is not None else None
        self.findings = tuple(f for f in findings if ev_id is None or f.evidence_id == ev_id)
        for item in self._region_items:
            self.plot.removeItem(item)
        self._region_items = []
        for f in self.findings:
            if f.region is None:
                continue
            x, y, w, h = f.region
            rect = QGraphicsRectItem(x, y, w, h)
            pen = pg.mkPen(finding_color(f.fake_likelihood), width=2)
            pen.setCosmetic(True)
            rect.setPen(pen)
            rect.setBrush(pg.mkBrush(finding_color(f.fake_likelihood, 40)))
            rect.setZValue(10)
            rect.setToolTip(f"{finding_caption(f)}\n{f.analyzer_id}\n{f.details_summary(300)}")
            label = caption_item(f, anchor=(0, 1))
            label.setPos(x, y)
            label.setZValue(20)
            for item in (rect, label):
                self.plot.addItem(item)
                self._region_items.append(item)

    def show_finding(self, finding: FindingItem) -> None:
        """Zoom to a finding's region (with a margin)."""
        if finding.region is None:
            return
        if not self.is_loaded:
            self._pending_focus = finding
            return
        x, y, w, h = finding.region
        pad = max(w, h) * 0.5 + 4
        self.plot.vb.setRange(QRectF(x - pad, y - pad, w + 2 * pad, h + 2 * pad), padding=0)

    def fit(self) -> None:
        """Show the whole image."""
        if self.pixels is not None:
            h, w = self.pixels.shape[:2]
            self.plot.vb.setRange(QRectF(0, 0, w, h), padding=0.02)

    def actual_pixels(self) -> None:
        """Zoom so that one image pixel covers one screen pixel, keeping the centre."""
        vb = self.plot.vb
        (x0, x1), (y0, y1) = vb.viewRange()
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
        rect = vb.boundingRect()
        w, h = max(rect.width(), 1.0), max(rect.height(), 1.0)
        vb.setRange(QRectF(cx - w / 2, cy - h / 2, w, h), padding=0)

    def pixel_at(self, x: float, y: float) -> tuple[int, int, tuple[int, ...]] | None:
        """``(column, row, RGB)`` of the pixel under image coordinates (x, y), or None outside."""
        if self.pixels is None:
            return None
        col, row = int(np.floor(x)), int(np.floor(y))
        h, w = self.pixels.shape[:2]
        if not (0 <= col < w and 0 <= row < h):
            return None
        return col, row, tuple(int(v) for v in self.pixels[row, col])

    def _on_mouse_moved(self, event: Any) -> None:
        pos: QPointF = event[0]
        if not self.plot.sceneBoundingRect().contains(pos):
            return
        point = self.plot.vb.mapSceneToView(pos)
        hit = self.pixel_at(point.x(), point.y())
        if hit is None:
            self.readout.setText("")
            return
        col, row, rgb = hit
        self.readout.setText(f"x = {col}, y = {row} · RGB {rgb}")
