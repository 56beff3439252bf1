"""Audio evidence: waveform, spectrogram and finding lanes on one time axis (seconds).

Recordings of any length open at once: the recording is opened for chunked reading, and what is
on screen is rendered at screen resolution for the visible range by
:class:`~forensics_app.gui.views.audio_render.AudioRenderer` off the GUI thread (an overview first,
detail as the user zooms). The view adds listening (:class:`~forensics_app.gui.playback.PlaybackController`
with a playhead on every plot), selections snapped to samples and drawn annotations. What it draws
for the findings (ranges, lanes, map overlays, the residual panel and the alignment panel) is
handled by :class:`~forensics_app.gui.views.audio_findings.AudioFindings`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pyqtgraph as pg
from PySide6.QtCore import QPointF, Qt, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QScrollArea,
    QSizePolicy,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from forensics_app.domain.jobs import ProgressToken
from forensics_app.dsp.spectrogram import SpectrogramImage
from forensics_app.gui.playback import PlaybackController, SinkFactory
from forensics_app.gui.snapshots import AnnotationItem, EvidenceItem, FindingItem
from forensics_app.gui.views import media_data
from forensics_app.gui.views.audio_controls import AudioControlsPanel
from forensics_app.gui.views.audio_findings import AudioFindings
from forensics_app.gui.views.audio_lanes import DEFAULT_LANES, lane_key
from forensics_app.gui.views.audio_marks import (
    Selection,
    SelectionViewBox,
    annotation_items,
    layer_colors,
    selection_items,
)
from forensics_app.gui.views.audio_readout import CursorReadout
from forensics_app.gui.views.audio_render import AudioRenderer
from forensics_app.gui.views.media_data import AudioOpened, Lane
from forensics_app.gui.views.overlays import EvidenceView, configure_plot
from forensics_app.gui.views.spectrogram_settings_dialog import (
    SpectrogramDisplay,
    SpectrogramSettingsDialog,
)
from forensics_app.gui.views.tfmap_overlay import TimeFreqOverlay
from forensics_app.gui.workers import WorkerPool
from forensics_app.ingest.audio_stream import AudioStream
from forensics_app.store.artifacts import ArtifactStore

PLAYHEAD_PEN = (0, 255, 200)
BANNER_STYLE = ("background:#5a1e1e; color:#ffd0d0; border:1px solid #c04040; border-radius:3px;"
                "padding:3px 6px")

__all__ = ["DEFAULT_LANES", "AudioView", "lane_key"]


class AudioView(EvidenceView):
    """Waveform on top, spectrogram below (time in s, frequency in Hz), then one lane per series.

    All plots share the time axis. Time-frequency maps of the findings (explanation maps, residual
    heatmaps) are drawn over the spectrogram (:class:`~forensics_app.gui.views.tfmap_overlay.TimeFreqOverlay`),
    chosen in the Overlay menu or by showing a finding that has maps; a self-resynthesis residual
    map also gets a panel of its own under the spectrogram. Showing a finding of a reference
    comparison or transcript alignment opens its alignment matrix under the plots, with the same
    playhead. Shift+drag selects a time range (snapped to samples), Ctrl+drag on the spectrogram a
    time-frequency box; a click moves the playhead; Space plays or pauses, Shift+Space plays the
    selection, A asks to annotate it, Esc clears it.

    Parameters
    ----------
    pool : WorkerPool
        Runs the opening and rendering jobs.
    artifacts : ArtifactStore
        The case's artifacts (finding lanes).
    sink_factory : SinkFactory, optional
        Audio output for playback (default: QtMultimedia's default device).
    parent : QWidget, optional
        Qt parent.

    Signals
    -------
    annotation_requested(evidence_id, start_s, end_s, low_hz, high_hz)
        "Annotate selection": times in s on sample boundaries; the band in Hz or None.
    selection_changed(selection)
        A :class:`Selection` or None.
    """

    annotation_requested = Signal(int, float, float, object, object)
    selection_changed = Signal(object)

    def __init__(self, *, pool: WorkerPool, artifacts: ArtifactStore, sink_factory: SinkFactory | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(pool=pool, artifacts=artifacts, parent=parent)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.stream: AudioStream | None = None
        self.display: SpectrogramDisplay | None = None
        self.annotations: tuple[AnnotationItem, ...] = ()
        self.selection: Selection | None = None
        self._pending_range: tuple[float, float, float | None] | None = None
        self.annotation_graphics: list[tuple[pg.PlotItem, Any]] = []

        self.info = QLabel("")
        self.readout = QLabel("")
        for label in (self.info, self.message, self.readout):
            label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        top = QHBoxLayout()
        top.setSpacing(16)
        top.addWidget(self.info, 3)
        top.addWidget(self.message, 3)
        top.addWidget(self.readout, 4)
        self.banner = QLabel("")
        self.banner.setObjectName("decodeBanner")
        self.banner.setStyleSheet(BANNER_STYLE)
        self.banner.setWordWrap(True)
        self.banner.setVisible(False)
        self.controls = AudioControlsPanel()

        self.graphics = pg.GraphicsLayoutWidget()
        self.graphics.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
        self.graphics.ci.setSpacing(4)
        wave_vb = SelectionViewBox(on_drag=self._on_drag, on_click=self._on_click, box_drag=False)
        self.wave_plot: pg.PlotItem = self.graphics.addPlot(row=0, col=0, viewBox=wave_vb)
        configure_plot(self.wave_plot, y_label="amplitude", y_units="FS")
        self.wave_plot.setMouseEnabled(x=True, y=False)
        self.wave_plot.setMinimumHeight(110)
        self.wave_plot.setMaximumHeight(160)
        spec_vb = SelectionViewBox(on_drag=self._on_drag, on_click=self._on_click, box_drag=True)
        self.spec_plot: pg.PlotItem = self.graphics.addPlot(row=1, col=0, viewBox=spec_vb)
        configure_plot(self.spec_plot, y_label="frequency", y_units="Hz", x_label="time", x_units="s")
        self.spec_plot.setMouseEnabled(x=True, y=False)
        self.spec_plot.showGrid(x=False, y=False)  # the image is the content; a grid costs ~15 ms a paint
        self.spec_plot.setXLink(self.wave_plot)
        self.spec_plot.setMinimumHeight(220)
        self.graphics.ci.layout.setRowStretchFactor(1, 4)

        self.renderer = AudioRenderer(wave_plot=self.wave_plot, spec_plot=self.spec_plot,
                                      submit=self._submit, cancel=self._pool.cancel,
                                      on_spectrogram=self._on_spectrogram)
        self.spec_image = self.renderer.overview_item
        self.overlay = TimeFreqOverlay(self.spec_plot, opacity=self.controls.overlay_opacity.value() / 100)
        self.wave_curve = self.renderer.wave_curve
        self.playhead: list[pg.InfiniteLine] = []
        for plot in (self.wave_plot, self.spec_plot):
            self._add_playhead(plot)
        self._sel_items: list[tuple[pg.PlotItem, Any]] = []
        self.finding_graphics = AudioFindings(self)
        self.alignment = self.finding_graphics.alignment
        self.alignment.seek_requested.connect(self.seek)

        self.playback = PlaybackController(sink_factory=sink_factory, parent=self)
        self.playback.position_changed.connect(self._on_playhead)
        self.playback.state_changed.connect(lambda s: self.controls.set_playing(s == "playing"))
        self.playback.availability_changed.connect(self.controls.set_playable)
        self.controls.set_playable(False, "opening…")
        c = self.controls
        c.play.clicked.connect(self.playback.toggle)
        c.stop.clicked.connect(self.playback.stop)
        c.play_selection.clicked.connect(self.play_selection)
        c.loop.toggled.connect(self.playback.set_loop)
        c.annotate.clicked.connect(self.annotate_selection)
        c.settings.clicked.connect(self.edit_settings)
        c.scale.currentTextChanged.connect(lambda kind: self._change_display(scale=kind))
        c.colormap.currentTextChanged.connect(lambda name: self._change_display(colormap=name))
        c.channel.currentIndexChanged.connect(lambda i: self._change_display(channel=c.channel.itemData(i)))
        c.overlays.toggled.connect(self.overlay.set_enabled)
        c.overlay_chosen.connect(self.overlay.choose)
        c.overlay_opacity_changed.connect(self.overlay.set_opacity)
        c.lanes_changed.connect(self.finding_graphics.choose_lanes)
        c.residual_chosen.connect(self.finding_graphics.choose_residual)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(top)
        layout.addWidget(self.banner)
        layout.addWidget(self.controls)
        # the plots scroll when their rows need more height than there is (many lanes, the
        # alignment panel open): no row is ever squeezed below its minimum or cut off
        self.plots_area = QScrollArea()
        self.plots_area.setWidgetResizable(True)
        self.plots_area.setFrameShape(QFrame.Shape.NoFrame)
        self.plots_area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.plots_area.setWidget(self.graphics)
        self.splitter = QSplitter(Qt.Orientation.Vertical)
        self.splitter.addWidget(self.plots_area)
        self.splitter.addWidget(self.alignment)
        self.splitter.setStretchFactor(0, 1)
        self.splitter.setStretchFactor(1, 0)
        self.splitter.setChildrenCollapsible(False)
        layout.addWidget(self.splitter, 1)
        self.fit_plots()
        self.cursor = CursorReadout(self)

    def _add_playhead(self, plot: pg.PlotItem) -> None:
        line = pg.InfiniteLine(angle=90, movable=False, pen=pg.mkPen(PLAYHEAD_PEN, width=1))
        line.setZValue(30)
        line.setVisible(False)
        plot.addItem(line)
        self.playhead.append(line)

    def fit_plots(self) -> None:
        """Give the plot area the height its rows need at least (it scrolls when there is less)."""
        self.graphics.setMinimumHeight(int(self.graphics.ci.minimumHeight()) + 8)

    def _reset_playheads(self, extra_plots: Sequence[pg.PlotItem]) -> None:
        """Playhead lines on the waveform, the spectrogram and these plots under them."""
        self.playhead = self.playhead[:2]
        for plot in extra_plots:
            self._add_playhead(plot)
            self.playhead[-1].setPos(self.playhead[0].pos().x())
            self.playhead[-1].setVisible(self.playhead[0].isVisible())

    @property
    def lanes(self) -> tuple[Lane, ...]:
        """The lanes drawn under the spectrogram."""
        return self.finding_graphics.lane_stack.lanes

    @property
    def _all_lanes(self) -> tuple[Lane, ...]:
        return self.finding_graphics.lane_stack.all_lanes

    # ------------------------------------------------------------------ loading

    def load(self, evidence: EvidenceItem, findings: Sequence[FindingItem]) -> None:
        """Open the recording off the GUI thread, then draw its overview and its findings."""
        self.evidence = evidence
        md = evidence.metadata
        self.info.setText(f"<b>#{evidence.id} {evidence.name}</b> · {md.get('sample_rate', '?')} Hz · "
                          f"{md.get('channels', '?')} ch · {float(md.get('duration_s') or 0):.2f} s")
        self.message.setText("opening the recording…")
        path = evidence.path

        def job(progress: ProgressToken) -> AudioOpened:
            return media_data.open_audio(path, progress=progress)

        self._submit(f"audio:{evidence.id}", job, self._on_opened)
        self.set_findings(findings)

    def _on_opened(self, opened: AudioOpened) -> None:
        if self.evidence is None:  # disposed meanwhile
            opened.stream.close()
            return
        stream = self.stream = opened.stream
        dur = stream.duration_s
        self.info.setText(f"<b>#{self.evidence.id} {self.evidence.name}</b> · {stream.rate} Hz · "
                          f"{stream.n_channels} ch · {dur:.3f} s · {stream.sample_format}")
        report = stream.decode_report
        self.banner.setVisible(report is not None)
        if report is not None:
            self.banner.setText(f"⚠ {report}")
        self.controls.set_channels(stream.n_channels)
        self.display = SpectrogramDisplay(stft=opened.stft, scale=self.controls.scale.currentText(),
                                          colormap=self.controls.colormap.currentText())
        min_span = max(32 / stream.rate, 1e-3)
        self.wave_plot.setLimits(xMin=-0.02 * dur, xMax=1.02 * dur, minXRange=min_span)
        self.wave_plot.setYRange(-1.0, 1.0, padding=0.02)
        pending, self._pending_range = self._pending_range, None
        if pending is not None:
            self._apply_range(*pending)
        else:
            self.wave_plot.setXRange(0.0, dur, padding=0)
        self._set_playback_source()
        self.renderer.attach(stream, self.display)
        self.finding_graphics.place_overlay()
        self._draw_annotations()

    def _on_spectrogram(self, image: SpectrogramImage) -> None:
        s = self.display.stft if self.display is not None else None
        if s is not None and self.stream is not None:
            r = self.stream.rate
            detail = "full detail" if image.full_detail else "overview"
            self.message.setText(f"{s.window} {1000 * s.win_length / r:.0f} ms · FFT {s.n_fft} · hop {s.hop} · {detail}")
            self.message.setToolTip(
                f"STFT: {s.window} window of {s.win_length} samples, FFT {s.n_fft}, hop {s.hop} samples; "
                f"levels {s.db_floor:.0f} to {s.db_floor + s.db_range:.0f} dBFS; {image.scale} axis; "
                f"{image.frames_per_column:.2f} STFT frames per column"
                + ("" if image.full_detail else " (a few sampled per column: zoom in for every frame)"))
        if not self.is_loaded:
            self.is_loaded = True
            self.loaded.emit()

    def dispose(self) -> None:
        """Stop playback and rendering, cancel jobs and close the recording."""
        self.renderer.stop()
        self.playback.set_source(None, rate=1, n_samples=0, channels=1)
        super().dispose()
        if self.stream is not None:
            self.stream.close()
        self.evidence = None

    # ----------------------------------------------------------------- settings

    def _change_display(self, **changes: Any) -> None:
        if self.display is None:
            return
        self.display = self.display.with_changes(**changes)
        if "channel" in changes:
            self._set_playback_source()
        self.renderer.set_display(self.display)
        self.finding_graphics.place_overlay()
        self._draw_annotations()

    def set_display(self, display: SpectrogramDisplay) -> None:
        """Use other spectrogram settings (the controls follow)."""
        if self.display is None:
            return
        c = self.controls
        for combo, value in ((c.scale, display.scale), (c.colormap, display.colormap)):
            combo.blockSignals(True)
            combo.setCurrentText(value)
            combo.blockSignals(False)
        c.channel.blockSignals(True)
        c.channel.setCurrentIndex(max(c.channel.findData(display.channel), 0))
        c.channel.blockSignals(False)
        channel_changed = display.channel != self.display.channel
        self.display = display
        if channel_changed:
            self._set_playback_source()
        self.renderer.set_display(display)
        self.finding_graphics.place_overlay()
        self._draw_annotations()

    def edit_settings(self) -> None:
        """Open the spectrogram settings dialog; OK re-renders."""
        if self.display is None or self.stream is None:
            return
        dialog = SpectrogramSettingsDialog(display=self.display, rate=self.stream.rate, parent=self)
        if dialog.exec():
            self.set_display(dialog.display())

    # ----------------------------------------------------------------- playback

    def _set_playback_source(self) -> None:
        stream = self.stream
        if stream is None or self.display is None:
            return
        channel = self.display.channel
        reader = media_data.sample_reader(stream, channel=channel)
        channels = stream.n_channels if channel is None else 1
        self.playback.set_source(reader, rate=stream.rate, n_samples=stream.n_samples, channels=channels)

    def play_selection(self) -> None:
        """Play the selection (looped when Loop is on); without one, play from the playhead."""
        if self.selection is None:
            self.playback.play()
            return
        self.playback.play_range(self.selection.start_s, self.selection.end_s,
                                 loop=self.controls.loop.isChecked())

    def _on_playhead(self, t: float) -> None:
        for line in self.playhead:
            line.setPos(t)
            line.setVisible(True)
        self.alignment.set_playhead(t)
        if self.playback.state == "playing":
            x0, x1 = self.visible_time_range()
            if not x0 <= t <= x1:  # page along with the playhead
                span = x1 - x0
                self.wave_plot.setXRange(t - 0.05 * span, t + 0.95 * span, padding=0)

    def _on_click(self, point: QPointF) -> None:
        if self.stream is None:
            return
        t = min(max(point.x(), 0.0), self.stream.duration_s)
        self.playback.seek(t)
        self._on_playhead(self.playback.position_s)

    def seek(self, seconds: float) -> None:
        """Move the playhead to ``seconds`` (e.g. from the alignment panel); the time axis pans to
        show it when it is out of view."""
        if self.stream is None:
            return
        self.playback.seek(min(max(float(seconds), 0.0), self.stream.duration_s))
        t = self.playback.position_s
        x0, x1 = self.visible_time_range()
        if not x0 <= t <= x1:
            span = x1 - x0
            self.wave_plot.setXRange(t - 0.5 * span, t + 0.5 * span, padding=0)
        self._on_playhead(t)

    # ---------------------------------------------------------------- selection

    def _on_drag(self, start: QPointF, here: QPointF, box: bool, finished: bool) -> None:
        band = (self.renderer.y_to_hz(start.y()), self.renderer.y_to_hz(here.y())) if box else None
        self.set_selection(start.x(), here.x(), band=band)

    def set_selection(self, start_s: float, end_s: float, *, band: tuple[float, float] | None = None
                      ) -> Selection | None:
        """Select ``[start_s, end_s]`` (snapped to samples), optionally a band (Hz); returns it."""
        if self.stream is None:
            return None
        sel = Selection.snapped(start_s, end_s, rate=self.stream.rate, duration_s=self.stream.duration_s,
                                band=band, nyquist_hz=self.stream.rate / 2)
        self._show_selection(sel)
        return sel

    def clear_selection(self) -> None:
        """Remove the selection."""
        self._show_selection(None)

    def _show_selection(self, sel: Selection | None) -> None:
        for plot, item in self._sel_items:
            plot.removeItem(item)
        self._sel_items = []
        self.selection = sel
        plots = {"wave": self.wave_plot, "spec": self.spec_plot}
        for where, item in selection_items(sel, hz_to_y=self.renderer.hz_to_y):
            plots[where].addItem(item)
            self._sel_items.append((plots[where], item))
        self.controls.set_selection_text(sel.describe() if sel is not None else None)
        self.selection_changed.emit(sel)

    def annotate_selection(self) -> bool:
        """Emit :attr:`annotation_requested` for the selection; False when there is none."""
        if self.selection is None or self.evidence is None:
            return False
        s = self.selection
        self.annotation_requested.emit(int(self.evidence.id), float(s.start_s), float(s.end_s),
                                       s.low_hz, s.high_hz)
        return True

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt override
        key, mods = event.key(), event.modifiers()
        if key == Qt.Key.Key_Space and mods & Qt.KeyboardModifier.ShiftModifier:
            self.play_selection()
        elif key == Qt.Key.Key_Space:
            if self.playback.available:
                self.playback.toggle()
        elif key == Qt.Key.Key_A and not mods & ~Qt.KeyboardModifier.KeypadModifier:
            self.annotate_selection()
        elif key == Qt.Key.Key_Escape:
            self.clear_selection()
        else:
            super().keyPressEvent(event)
            return
        event.accept()

    # -------------------------------------------------------------- annotations

    def set_annotations(self, items: Sequence[AnnotationItem]) -> None:
        """Draw annotations (those of this evidence item with a time range), one colour per layer."""
        ev_id = self.evidence.id if self.evidence is not None else None
        self.annotations = tuple(a for a in items if (ev_id is None or a.evidence_id == ev_id)
                                 and a.start_s is not None)
        self._draw_annotations()

    def _draw_annotations(self) -> None:
        for plot, item in self.annotation_graphics:
            plot.removeItem(item)
        self.annotation_graphics = []
        if not self.annotations:
            return
        colors = layer_colors([a.layer for a in self.annotations])
        _, (_, spec_top) = self.spec_plot.viewRange()
        plots = {"wave": self.wave_plot, "spec": self.spec_plot}
        for a in self.annotations:
            for where, item in annotation_items(a, colors[a.layer], hz_to_y=self.renderer.hz_to_y,
                                                spec_top=spec_top):
                plots[where].addItem(item)
                self.annotation_graphics.append((plots[where], item))
        if self.selection is not None:
            self._show_selection(self.selection)

    # ----------------------------------------------------------------- findings

    def set_findings(self, findings: Sequence[FindingItem]) -> None:
        """Shade time-localised findings, load every series artifact as a lane and every map."""
        ev_id = self.evidence.id if self.evidence is not None else None
        self.findings = tuple(f for f in findings if ev_id is None or f.evidence_id == ev_id)
        self.finding_graphics.set_findings(self.findings)

    def _on_lanes(self, lanes: tuple[Lane, ...]) -> None:
        self.finding_graphics.on_lanes(lanes)

    def show_finding(self, finding: FindingItem) -> None:
        """Zoom the time axis to a finding's range (with margins) and put the playhead at its start.

        A finding with time-frequency maps also shows its maps (as the overlay, and a residual map
        in the residual panel); a finding of a comparison run shows the run's alignment matrix.
        """
        self.finding_graphics.show_finding(finding)
        if finding.start_s is None:
            return
        start = finding.start_s
        end = finding.end_s if finding.end_s is not None else start
        pad = max(0.25 * (end - start), 0.5)
        self._go_to(max(start - pad, 0.0), end + pad, playhead=start)

    def show_range(self, start_s: float, end_s: float) -> None:
        """Zoom the time axis to ``[start_s, end_s]`` seconds (e.g. an annotation's range)."""
        a, b = sorted((float(start_s), float(end_s)))
        if b - a <= 0:
            b = a + 0.01
        self._go_to(a, b, playhead=None)

    def _go_to(self, a: float, b: float, *, playhead: float | None) -> None:
        if self.stream is None:
            self._pending_range = (a, b, playhead)
            return
        self._apply_range(a, b, playhead)

    def _apply_range(self, a: float, b: float, playhead: float | None) -> None:
        self.wave_plot.setXRange(a, b, padding=0)
        if playhead is not None:
            self.playback.seek(playhead)
            self._on_playhead(playhead)

    def visible_time_range(self) -> tuple[float, float]:
        """The shown time range (s)."""
        (x0, x1), _ = self.wave_plot.viewRange()
        return float(x0), float(x1)

    # ------------------------------------------------------------------ readout

    def readout_text(self, x: float, y: float, kind: str = "spec") -> str:
        """Cursor readout for a point in plot coordinates.

        Time (s) and sample index everywhere; on the spectrogram the frequency (Hz, mapped through
        the axis scale) and the level (dBFS) of the pixel under the cursor; on the residual panel the
        frequency and the residual (dB). See :class:`~forensics_app.gui.views.audio_readout.CursorReadout`.
        """
        return self.cursor.text(x, y, kind)
