"""Audio evidence: waveform, spectrogram and finding lanes on one time axis (seconds)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF
from PySide6.QtWidgets import QHBoxLayout, QLabel, QVBoxLayout, QWidget

from forensics_app.domain.jobs import ProgressToken
from forensics_app.gui.snapshots import EvidenceItem, FindingItem
from forensics_app.gui.views import media_data
from forensics_app.gui.views.media_data import AudioDisplay, Lane
from forensics_app.gui.views.overlays import (
    EvidenceView,
    add_lane,
    configure_plot,
    range_label,
    shaded_range,
)
from forensics_app.gui.workers import WorkerPool
from forensics_app.store.artifacts import ArtifactStore

COLORMAP = "inferno"
FIRST_LANE_ROW = 2


class AudioView(EvidenceView):
    """Waveform on top, spectrogram below (time in s, frequency in Hz), then one lane per series.

    All plots share the time axis: zooming or panning one moves the others. Time-localised
    findings are shaded across every plot; the cursor readout gives time and frequency.
    """

    def __init__(self, *, pool: WorkerPool, artifacts: ArtifactStore, parent: QWidget | None = None) -> None:
        super().__init__(pool=pool, artifacts=artifacts, parent=parent)
        self.data: AudioDisplay | None = None
        self.lanes: tuple[Lane, ...] = ()
        self._pending_focus: FindingItem | None = None
        self._range_items: list[tuple[pg.PlotItem, pg.GraphicsObject]] = []
        self._lane_plots: list[pg.PlotItem] = []

        self.info = QLabel("")
        self.readout = QLabel("")
        self.readout.setMinimumWidth(260)
        top = QHBoxLayout()
        top.addWidget(self.info, 1)
        top.addWidget(self.message, 1)
        top.addWidget(self.readout)

        self.graphics = pg.GraphicsLayoutWidget()
        self.graphics.ci.setSpacing(4)
        self.wave_plot: pg.PlotItem = self.graphics.addPlot(row=0, col=0)
        configure_plot(self.wave_plot, y_label="amplitude", y_units="FS")
        self.wave_plot.setMouseEnabled(x=True, y=False)
        self.wave_plot.setMinimumHeight(110)
        self.wave_plot.setMaximumHeight(160)
        self.wave_curve = self.wave_plot.plot(pen=pg.mkPen((140, 200, 255), width=1))
        self.wave_curve.setDownsampling(auto=True, method="peak")
        self.wave_curve.setClipToView(True)

        self.spec_plot: pg.PlotItem = self.graphics.addPlot(row=1, col=0)
        configure_plot(self.spec_plot, y_label="frequency", y_units="Hz", x_label="time", x_units="s")
        self.spec_plot.setXLink(self.wave_plot)
        self.spec_plot.setMinimumHeight(220)
        self.spec_image = pg.ImageItem(axisOrder="row-major")
        self.spec_image.setColorMap(pg.colormap.get(COLORMAP))
        self.spec_plot.addItem(self.spec_image)
        self.graphics.ci.layout.setRowStretchFactor(1, 4)

        self.playhead = [pg.InfiniteLine(angle=90, movable=False, pen=pg.mkPen((0, 255, 200), width=1))
                         for _ in range(2)]
        self.wave_plot.addItem(self.playhead[0])
        self.spec_plot.addItem(self.playhead[1])
        for line in self.playhead:
            line.setVisible(False)
            line.setZValue(30)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(top)
        layout.addWidget(self.graphics, 1)
        self._mouse_proxy = pg.SignalProxy(self.graphics.scene().sigMouseMoved, rateLimit=30,
                                           slot=self._on_mouse_moved)

    # ------------------------------------------------------------------ loading

    def load(self, evidence: EvidenceItem, findings: Sequence[FindingItem]) -> None:
        """Decode and prepare the recording off the GUI thread, then draw it and its findings."""
        self.evidence = evidence
        md = evidence.metadata
        self.info.setText(f"<b>#{evidence.id} {evidence.name}</b> · {md.get('sample_rate', '?')} Hz · "
                          f"{md.get('channels', '?')} ch · {float(md.get('duration_s') or 0):.2f} s")
        self.message.setText("decoding and computing the spectrogram…")
        path = evidence.path

        def job(progress: ProgressToken) -> AudioDisplay:
            return media_data.load_audio(path, progress=progress)

        self._submit(f"audio:{evidence.id}", job, self._on_audio)
        self.set_findings(findings)

    def _on_audio(self, data: AudioDisplay) -> None:
        self.data = data
        self.wave_curve.setData(data.times_s, data.amplitude)
        spec = data.spectrogram
        self.spec_image.setImage(spec.power_db, autoLevels=False, levels=spec.levels)
        self.spec_image.setRect(QRectF(spec.x0_s, spec.y0_hz, spec.width_s, spec.height_hz))
        self.wave_plot.setLimits(xMin=-0.05 * data.duration_s, xMax=1.05 * data.duration_s)
        self.wave_plot.setYRange(-1.0, 1.0, padding=0.02)
        self.spec_plot.setLimits(yMin=0.0, yMax=data.rate / 2)
        self.spec_plot.setYRange(0.0, data.rate / 2, padding=0)
        self.wave_plot.setXRange(0.0, data.duration_s, padding=0.01)
        channels = "" if data.n_channels == 1 else f" (mean of {data.n_channels} channels)"
        self.message.setText(
            f"STFT: Hann {spec.window_s * 1000:.0f} ms, hop {spec.hop_s * 1000:.1f} ms{channels}")
        self.is_loaded = True
        if self._pending_focus is not None:
            focus, self._pending_focus = self._pending_focus, None
            self.show_finding(focus)
        self.loaded.emit()

    # ----------------------------------------------------------------- findings

    def set_findings(self, findings: Sequence[FindingItem]) -> None:
        """Shade time-localised findings and load every series artifact as a lane."""
        ev_id = self.evidence.id if self.evidence is not None else None
        self.findings = tuple(f for f in findings if ev_id is None or f.evidence_id == ev_id)
        self._draw_ranges()
        self._load_lanes()

    def _on_lanes(self, lanes: tuple[Lane, ...]) -> None:
        for plot in self._lane_plots:
            self.graphics.removeItem(plot)
        self._lane_plots = []
        self.lanes = tuple(lanes)
        last = len(self.lanes) - 1
        for i, lane in enumerate(self.lanes):
            plot = add_lane(self.graphics, FIRST_LANE_ROW + i, lane, link=self.wave_plot)
            if i == last:
                plot.setLabel("bottom", "time", units="s")
                plot.getAxis("bottom").setStyle(showValues=True)
                plot.getAxis("bottom").setHeight(None)
            self._lane_plots.append(plot)
        self._draw_ranges()

    def _draw_ranges(self) -> None:
        for plot, item in self._range_items:
            plot.removeItem(item)
        self._range_items = []
        plots = [self.wave_plot, self.spec_plot, *self._lane_plots]
        for f in self.findings:
            if f.start_s is None:
                continue
            end = f.end_s if f.end_s is not None else f.start_s
            for plot in plots:
                item = shaded_range(f.start_s, end, f)
                plot.addItem(item)
                self._range_items.append((plot, item))
            label = range_label(f.start_s, f)
            label.setPos(f.start_s, 1.0)
            self.wave_plot.addItem(label)
            self._range_items.append((self.wave_plot, label))

    def show_finding(self, finding: FindingItem) -> None:
        """Zoom the time axis to a finding's range (with margins) and put the playhead at its start."""
        if finding.start_s is None:
            return
        if not self.is_loaded:
            self._pending_focus = finding
            return
        start = finding.start_s
        end = finding.end_s if finding.end_s is not None else start
        pad = max(0.25 * (end - start), 0.5)
        self.wave_plot.setXRange(max(start - pad, 0.0), end + pad, padding=0)
        for line in self.playhead:
            line.setPos(start)
            line.setVisible(True)

    def visible_time_range(self) -> tuple[float, float]:
        """The shown time range (s)."""
        (x0, x1), _ = self.wave_plot.viewRange()
        return float(x0), float(x1)

    # ------------------------------------------------------------------ readout

    def _on_mouse_moved(self, event: Any) -> None:
        pos: QPointF = event[0]
        for plot, kind in [(self.spec_plot, "spec"), (self.wave_plot, "wave"),
                           *[(p, "lane") for p in self._lane_plots]]:
            if plot.sceneBoundingRect().contains(pos):
                point = plot.vb.mapSceneToView(pos)
                self.readout.setText(self.readout_text(point.x(), point.y(), kind))
                return

    def readout_text(self, x: float, y: float, kind: str = "spec") -> str:
        """Cursor readout for a point in plot coordinates: time (s) and frequency (Hz) or value."""
        if kind == "spec":
            level = ""
            if self.data is not None:
                spec = self.data.spectrogram
                rows, cols = spec.power_db.shape
                c = int(np.floor((x - spec.x0_s) / spec.width_s * cols))
                r = int(np.floor((y - spec.y0_hz) / spec.height_hz * rows))
                if 0 <= r < rows and 0 <= c < cols:
                    level = f" · {spec.power_db[r, c]:.1f} dB"
            return f"t = {x:.3f} s · f = {max(y, 0.0):.0f} Hz{level}"
        if kind == "wave":
            return f"t = {x:.3f} s · amplitude {y:+.3f} FS"
        return f"t = {x:.3f} s · value {y:.4g}"
