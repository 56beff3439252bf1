"""Screen-resolution rendering of the audio view: spectrogram images and the waveform envelope.

:class:`AudioRenderer` watches the shown time range and asks the worker pool for the spectrogram
and the envelope of exactly what is on screen, at the plots' pixel sizes: at once for a single
change, and about 80 ms after the last change of a burst (drag, scroll). A newer request cancels
the older one and only the newest result is drawn. The
whole-recording image (the overview) stays under the detail image, so zooming or panning never
shows a blank plot while the detail is computed. Nothing here computes on the GUI thread.

Frequencies are drawn in the units of the scale's axis (Hz for linear, ln Hz for log, mel for
mel; see :data:`forensics_app.dsp.scales.SCALES`): :meth:`AudioRenderer.hz_to_y` and
:meth:`AudioRenderer.y_to_hz` convert, and the left axis gets ticks labelled in Hz.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt, QTimer

from forensics_app.domain.jobs import ProgressToken
from forensics_app.dsp.scales import SCALES, FrequencyScale
from forensics_app.dsp.spectrogram import SpectrogramEngine, SpectrogramImage
from forensics_app.gui.views import media_data
from forensics_app.gui.views.media_data import Envelope
from forensics_app.gui.views.spectrogram_settings_dialog import SpectrogramDisplay
from forensics_app.gui.workers import JobFn
from forensics_app.ingest.audio_stream import AudioStream

DEBOUNCE_MS = 80
"""Quiet time after the last range change before the visible range is re-rendered."""
NICE_HZ = tuple(m * 10**e for e in range(0, 6) for m in (1, 2, 5))
"""Candidate tick frequencies of the log and mel axes (1 Hz to 500 kHz)."""
MIN_TICK_SPACING_PX = 28
TILE_CACHE = 12
"""Rendered ranges each engine keeps (an image of 1600 x 600 px is about 4 MB)."""

Submit = Callable[[str, JobFn, Callable[[Any], None]], str]
"""``submit(prefix, job, on_finished) -> job key`` (the view's pool adapter)."""


def colormap(name: str) -> pg.ColorMap:
    """A pyqtgraph colour map by name; "grey" is black to white."""
    if name in ("grey", "gray"):
        return pg.ColorMap(pos=np.array([0.0, 1.0]), color=np.array([[0, 0, 0, 255], [255, 255, 255, 255]]))
    return pg.colormap.get(name)


def hz_label(hz: float) -> str:
    """``"500"``, ``"1k"``, ``"2.5k"`` (Hz)."""
    if hz >= 1000:
        k = hz / 1000
        return f"{k:.0f}k" if abs(k - round(k)) < 1e-9 else f"{k:g}k"
    return f"{hz:.0f}"


@dataclass(frozen=True)
class RenderRequest:
    """One spectrogram request: time range (s), image size (px) and axis."""

    t0: float
    t1: float
    n_cols: int
    n_rows: int
    scale: FrequencyScale
    stft_key: tuple[Any, ...]
    channel: int | None


class AudioRenderer:
    """Keeps the spectrogram and waveform of an audio view at screen resolution.

    Parameters
    ----------
    wave_plot, spec_plot : pg.PlotItem
        The (x-linked) waveform and spectrogram plots.
    submit : Submit
        Runs a job on the interactive lane; returns its key.
    cancel : callable
        ``cancel(job_key)`` asks a job to stop.
    on_spectrogram, on_envelope : callable, optional
        Called after a new image or envelope is drawn.
    debounce_ms : int
        Quiet time before re-rendering.
    """

    def __init__(self, *, wave_plot: pg.PlotItem, spec_plot: pg.PlotItem, submit: Submit,
                 cancel: Callable[[str], bool], on_spectrogram: Callable[[SpectrogramImage], None] | None = None,
                 on_envelope: Callable[[Envelope], None] | None = None,
                 debounce_ms: int = DEBOUNCE_MS) -> None:
        self.wave_plot = wave_plot
        self.spec_plot = spec_plot
        self._submit = submit
        self._cancel = cancel
        self._on_spectrogram = on_spectrogram
        self._on_envelope = on_envelope
        self.stream: AudioStream | None = None
        self.display: SpectrogramDisplay | None = None
        self._engines: dict[int | None, SpectrogramEngine] = {}
        self.scale: FrequencyScale | None = None
        self.overview: SpectrogramImage | None = None
        self.detail: SpectrogramImage | None = None
        self.envelope: Envelope | None = None
        self.last_request: RenderRequest | None = None
        self.renders_drawn = 0
        self._spec_key: str | None = None
        self._overview_key: str | None = None
        self._overview_request: RenderRequest | None = None
        self._wave_key: str | None = None
        self._spec_gen = 0
        self._wave_gen = 0
        self._drawn_request: RenderRequest | None = None
        self._drawn_wave: tuple[float, float, int, int | None] | None = None

        self.overview_item = pg.ImageItem(axisOrder="row-major")
        self.detail_item = pg.ImageItem(axisOrder="row-major")
        for z, item in ((-20, self.overview_item), (-10, self.detail_item)):
            item.setZValue(z)
            spec_plot.addItem(item)
        self.detail_item.setVisible(False)
        self.wave_curve = wave_plot.plot(pen=pg.mkPen((140, 200, 255), width=1))
        self._wave_lo = pg.PlotDataItem(pen=pg.mkPen((140, 200, 255), width=1))
        self._wave_hi = pg.PlotDataItem(pen=pg.mkPen((140, 200, 255), width=1))
        self.wave_fill = pg.FillBetweenItem(self._wave_lo, self._wave_hi, brush=pg.mkBrush(140, 200, 255, 110))
        for item in (self._wave_lo, self._wave_hi, self.wave_fill):
            wave_plot.addItem(item)
        self._debounce_s = debounce_ms / 1000
        self._last_schedule = -math.inf
        self._timer = QTimer(spec_plot)
        self._timer.setSingleShot(True)
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.setInterval(int(debounce_ms))
        self._timer.timeout.connect(self.render_now)
        wave_plot.sigXRangeChanged.connect(lambda *_: self.schedule())
        spec_plot.vb.sigResized.connect(lambda *_: (self.update_ticks(), self.schedule()))

    # ------------------------------------------------------------------ set-up

    def attach(self, stream: AudioStream, display: SpectrogramDisplay) -> None:
        """Render ``stream`` with ``display`` settings (the first render starts at once)."""
        self.stream = stream
        self._engines.clear()
        self.set_display(display, immediately=True)

    def engine(self, channel: int | None = None) -> SpectrogramEngine:
        """The (cached) engine of a channel (None: the mix)."""
        if self.stream is None or self.display is None:
            raise RuntimeError("no recording attached")
        eng = self._engines.get(channel)
        if eng is None:
            eng = SpectrogramEngine(self.stream, settings=self.display.stft, channel=channel,
                                    cache_size=TILE_CACHE)
            self._engines[channel] = eng
        eng.set_settings(self.display.stft)
        return eng

    def set_display(self, display: SpectrogramDisplay, *, immediately: bool = False) -> None:
        """Apply new settings: colours and levels now, then re-render."""
        if self.stream is None:
            return
        self.display = display
        freqs = display.stft.freqs_hz(self.stream.rate)
        self.scale = FrequencyScale(display.scale, display.f_min_hz, display.f_max_hz).resolved(freqs)
        cmap = colormap(display.colormap)
        for item in (self.overview_item, self.detail_item):
            item.setColorMap(cmap)
            item.setLevels(display.stft.levels)
        y0, y1 = self.hz_to_y(self.scale.f_min_hz), self.hz_to_y(self.scale.f_max_hz)
        self.spec_plot.setLimits(yMin=y0, yMax=y1)
        self.spec_plot.setYRange(y0, y1, padding=0)
        self.update_ticks()
        if self.overview is not None and (self.overview.scale != display.scale
                                          or self._drawn_request is None
                                          or self._drawn_request.scale != self.scale
                                          or self._drawn_request.channel != display.channel
                                          or self._drawn_request.stft_key != display.stft.spectral_key()):
            # the old images are in another geometry or of other data: do not leave them up
            self.overview_item.setVisible(False)
            self.detail_item.setVisible(False)
        self._drawn_request = None
        self._drawn_wave = None
        self.schedule(immediately=immediately)

    # -------------------------------------------------------------- axis units

    def hz_to_y(self, hz: float) -> float:
        """Spectrogram y coordinate of a frequency (Hz), clipped to the axis limits."""
        if self.scale is None:
            return float(hz)
        fwd, _ = SCALES[self.scale.kind]
        f = min(max(float(hz), float(self.scale.f_min_hz)), float(self.scale.f_max_hz))
        return float(fwd(np.float64(f)))

    def y_to_hz(self, y: float) -> float:
        """Frequency (Hz) of a spectrogram y coordinate (clipped to the axis limits)."""
        if self.scale is None:
            return float(y)
        fwd, inv = SCALES[self.scale.kind]
        lo, hi = fwd(np.float64(self.scale.f_min_hz)), fwd(np.float64(self.scale.f_max_hz))
        return float(inv(np.float64(min(max(float(y), lo), hi))))

    def update_ticks(self) -> None:
        """Hz ticks for log and mel axes (rows are not linear in Hz); automatic ticks for linear."""
        axis = self.spec_plot.getAxis("left")
        if self.scale is None or self.scale.kind == "linear":
            axis.setTicks(None)
            axis.enableAutoSIPrefix(True)
            self.spec_plot.setLabel("left", "frequency", units="Hz")
            return
        axis.enableAutoSIPrefix(False)
        self.spec_plot.setLabel("left", f"frequency (Hz, {self.scale.kind} axis)", units="")
        lo, hi = float(self.scale.f_min_hz), float(self.scale.f_max_hz)
        height = max(self.spec_plot.vb.height(), 100.0)
        y0, y1 = self.hz_to_y(lo), self.hz_to_y(hi)
        px_per_y = height / max(y1 - y0, 1e-12)
        major: list[tuple[float, str]] = []
        last = -math.inf
        for f in (lo, *[f for f in NICE_HZ if lo < f < hi]):
            y = self.hz_to_y(f)
            if (y - last) * px_per_y >= MIN_TICK_SPACING_PX and (y1 - y) * px_per_y >= MIN_TICK_SPACING_PX / 2:
                major.append((y, hz_label(f)))
                last = y
        major.append((y1, hz_label(hi)))
        minor = [(self.hz_to_y(m * 10**e), "") for e in range(0, 6) for m in range(1, 10)
                 if lo < m * 10**e < hi]
        axis.setTicks([major, minor])

    # ------------------------------------------------------------------ requests

    def schedule(self, *, immediately: bool = False) -> None:
        """Re-render the shown range: at once after a quiet spell, else when changes pause.

        The first change after :data:`DEBOUNCE_MS` without changes (a click, one wheel step, a
        jump to a finding) renders immediately; a burst of changes (dragging, scrolling) renders
        once more :data:`DEBOUNCE_MS` after the last one. Each render cancels the one before.
        """
        if self.stream is None:
            return
        now = time.monotonic()
        quiet = now - self._last_schedule >= self._debounce_s and not self._timer.isActive()
        self._last_schedule = now
        if immediately or quiet:
            self.render_now()
        self._timer.start()  # trailing render (skipped when the range did not change again)

    def _pixels(self, plot: pg.PlotItem) -> tuple[float, float]:
        vb = plot.vb
        ratio = vb.scene().views()[0].devicePixelRatioF() if vb.scene() and vb.scene().views() else 1.0
        return max(vb.width() * ratio, 1.0), max(vb.height() * ratio, 1.0)

    def visible_span(self) -> tuple[float, float, float, float]:
        """Shown range (x0, x1) and its part inside the recording (t0, t1), in seconds."""
        (x0, x1), _ = self.wave_plot.viewRange()
        dur = self.stream.duration_s if self.stream is not None else 0.0
        return float(x0), float(x1), max(float(x0), 0.0), min(float(x1), dur)

    def current_request(self) -> RenderRequest | None:
        """The spectrogram request for what is on screen now (None when nothing is)."""
        if self.stream is None or self.display is None or self.scale is None:
            return None
        x0, x1, t0, t1 = self.visible_span()
        if t1 <= t0 or x1 <= x0:
            return None
        width, height = self._pixels(self.spec_plot)
        n_cols = max(1, int(round(width * (t1 - t0) / (x1 - x0))))
        n_cols = min(n_cols, max(1, int(round((t1 - t0) * self.stream.rate))) * 4,
                     media_data.OVERVIEW_MAX_COLUMNS)
        return RenderRequest(t0=t0, t1=t1, n_cols=n_cols, n_rows=max(1, int(round(height))), scale=self.scale,
                             stft_key=self.display.stft.spectral_key(), channel=self.display.channel)

    def is_current(self) -> bool:
        """Whether what is drawn is what the screen asks for (no render pending or running)."""
        req = self.current_request()
        return (req is not None and req == self._drawn_request and self._spec_key is None
                and not self._timer.isActive())

    def render_now(self) -> None:
        """Submit the spectrogram and envelope jobs for the shown range (unless already drawn)."""
        self._request_spectrogram()
        self._request_envelope()

    def _request_spectrogram(self) -> None:
        req = self.current_request()
        if req is None or req == self._drawn_request or (req == self.last_request and self._spec_key):
            return
        if self._spec_key is not None:
            self._cancel(self._spec_key)
        self._spec_gen += 1
        gen = self._spec_gen
        self.last_request = req
        engine = self.engine(req.channel)

        def job(progress: ProgressToken) -> SpectrogramImage:
            return media_data.render_spectrogram(engine, t0=req.t0, t1=req.t1, n_cols=req.n_cols,
                                                 n_rows=req.n_rows, scale=req.scale, progress=progress)

        self._spec_key = self._submit("spectrogram", job, lambda img: self._spectrogram_done(gen, req, img))

    def _request_envelope(self) -> None:
        if self.stream is None or self.display is None:
            return
        x0, x1, t0, t1 = self.visible_span()
        if t1 <= t0 or x1 <= x0:
            return
        width, _ = self._pixels(self.wave_plot)
        n_cols = max(1, int(round(width * (t1 - t0) / (x1 - x0))))
        key = (t0, t1, n_cols, self.display.channel)
        if key == self._drawn_wave:
            return
        self._wave_gen += 1
        gen = self._wave_gen
        stream, channel = self.stream, self.display.channel

        def job(progress: ProgressToken) -> Envelope:
            return media_data.render_envelope(stream, t0=t0, t1=t1, n_cols=n_cols, channel=channel)

        self._wave_key = self._submit("envelope", job, lambda env: self._envelope_done(gen, key, env))

    # ------------------------------------------------------------------ drawing

    def _spectrogram_done(self, gen: int, req: RenderRequest, image: SpectrogramImage) -> None:
        if gen != self._spec_gen:
            return  # superseded while it ran
        self._spec_key = None
        self._drawn_request = req
        if self._is_whole(req):
            self._draw_overview(req, image)
            self.detail = None
            self.detail_item.setVisible(False)
        else:
            self.detail = image
            self._draw(self.detail_item, image)
            self._ensure_overview()
        self.renders_drawn += 1
        if self._on_spectrogram is not None:
            self._on_spectrogram(image)

    def _is_whole(self, req: RenderRequest) -> bool:
        return self.stream is not None and req.t0 <= 0.0 and req.t1 >= self.stream.duration_s

    def _draw(self, item: pg.ImageItem, image: SpectrogramImage) -> None:
        item.setImage(image.db, autoLevels=False, levels=image.levels)
        y0, y1 = self.hz_to_y(image.f_low_hz), self.hz_to_y(image.f_high_hz)
        item.setRect(QRectF(image.t0, y0, image.t1 - image.t0, y1 - y0))
        item.setVisible(True)

    def _draw_overview(self, req: RenderRequest, image: SpectrogramImage) -> None:
        self.overview = image
        self._overview_request = req
        self._draw(self.overview_item, image)

    def _whole_request(self) -> RenderRequest | None:
        if self.stream is None or self.display is None or self.scale is None:
            return None
        width, height = self._pixels(self.spec_plot)
        return RenderRequest(t0=0.0, t1=self.stream.duration_s, n_cols=min(int(round(width)), media_data.OVERVIEW_MAX_COLUMNS),
                             n_rows=max(1, int(round(height))), scale=self.scale,
                             stft_key=self.display.stft.spectral_key(), channel=self.display.channel)

    def _ensure_overview(self) -> None:
        """While zoomed in, bring the overview under the detail up to date (after a settings change)."""
        want = self._whole_request()
        if want is None or self._overview_key is not None:
            return
        have = self._overview_request
        if have is not None and self.overview_item.isVisible() and (have.scale, have.stft_key, have.channel) == (
                want.scale, want.stft_key, want.channel):
            return
        engine = self.engine(want.channel)

        def job(progress: ProgressToken) -> SpectrogramImage:
            return media_data.render_spectrogram(engine, t0=want.t0, t1=want.t1, n_cols=want.n_cols,
                                                 n_rows=want.n_rows, scale=want.scale, progress=progress)

        def done(image: SpectrogramImage) -> None:
            self._overview_key = None
            if want == self._whole_request():
                self._draw_overview(want, image)
            else:
                self._ensure_overview()

        self._overview_key = self._submit("overview", job, done)

    def _envelope_done(self, gen: int, key: tuple[float, float, int, int | None], env: Envelope) -> None:
        if gen != self._wave_gen:
            return
        self._wave_key = None
        self._drawn_wave = key
        self.envelope = env
        if len(env.times_s) and np.array_equal(env.mins, env.maxs):
            # one column per sample: draw the samples as a line
            self.wave_curve.setData(env.times_s, env.mins)
            self._wave_lo.setData([], [])
            self._wave_hi.setData([], [])
            self.wave_fill.setVisible(False)
        else:
            self.wave_curve.setData([], [])
            self._wave_lo.setData(env.times_s, env.mins)
            self._wave_hi.setData(env.times_s, env.maxs)
            self.wave_fill.setVisible(True)
        if self._on_envelope is not None:
            self._on_envelope(env)

    def level_at(self, time_s: float, freq_hz: float) -> float | None:
        """Level (dBFS) shown at a time and frequency: from the detail image, else the overview."""
        for image in (self.detail, self.overview):
            if image is not None and self._visible(image):
                level = image.level_at(time_s, freq_hz)
                if level is not None:
                    return level
        return None

    def _visible(self, image: SpectrogramImage) -> bool:
        item = self.detail_item if image is self.detail else self.overview_item
        return bool(item.isVisible())

    def stop(self) -> None:
        """Stop the timer and cancel outstanding renders."""
        self._timer.stop()
        for key in (self._spec_key, self._wave_key, self._overview_key):
            if key is not None:
                self._cancel(key)
        self._spec_key = self._wave_key = self._overview_key = None
