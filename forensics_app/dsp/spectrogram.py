"""Spectrogram images at screen resolution for any time range of a recording of any length.

:class:`SpectrogramEngine` renders the part of an :class:`~forensics_app.ingest.audio_stream.AudioStream`
that is on screen into an image of ``n_rows`` x ``n_cols`` levels (dBFS), reading only the audio
it needs. Column ``c`` of an image of ``[t0, t1]`` covers ``[t0 + c dt, t0 + (c + 1) dt)`` with
``dt = (t1 - t0) / n_cols``; STFT frames follow :mod:`forensics_app.dsp.stft` (frame ``k`` centred
at ``k * hop / rate``). Three regimes, chosen by the number of frames whose centres lie in the
range:

* **More than** :data:`MAX_FRAMES_PER_COLUMN` **frames per column** (overviews, zoomed out):
  only :data:`MAX_FRAMES_PER_COLUMN` frames per column are computed, evenly spaced across the
  column (at fractions 1/8, 3/8, 5/8, 7/8 of it for 4), and their *powers* are averaged. The
  audio read is ``n_cols * 4 * win_length`` samples, so the cost does not depend on the length
  of the recording or of the range. Tones, hum, bandwidth limits and noise floors that last a
  fraction of a column show; a click shorter than the gap between sampled frames can be missed
  (zoom in: detail is exact there). ``full_detail`` is False.
* **1 to 4 frames per column**: every frame in the range is computed and each column is the
  power average of the frames centred in it. ``full_detail`` is True.
* **Fewer frames than columns** (zoomed in): every frame is computed and each column shows the
  frame nearest to its centre time. ``full_detail`` is True.

Power is then mapped to rows by a :class:`~forensics_app.dsp.scales.FrequencyScale` and
converted to dBFS (a full-scale sine reads 0 dB), clipped at ``settings.db_floor``.

Caching: the whole-recording overview is kept per (spectral settings, channel, size, scale)
until the engine is dropped; other renders go to an LRU of ``cache_size`` tiles keyed by
(spectral settings, channel, sample range, size, scale). Cached values are unclipped levels, so
changing only the dB floor or range re-uses them. The engine is thread-safe: renders can run on
several worker threads while the GUI thread changes the settings (each render uses the settings
it started with).
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from forensics_app.domain.jobs import Progress
from forensics_app.dsp.scales import FrequencyScale
from forensics_app.dsp.stft import STFTSettings, power_to_db, stft_power, stft_power_at
from forensics_app.ingest.audio_stream import AudioStream

__all__ = ["SpectrogramEngine", "SpectrogramImage", "MAX_FRAMES_PER_COLUMN", "settings_for"]

MAX_FRAMES_PER_COLUMN = 4
"""Frames computed per column when the range holds more frames than that per column."""
_SPARSE_BLOCK_COLUMNS = 256
_DENSE_BLOCK_FRAMES = 2048
_MAX_OVERVIEWS = 4


@dataclass(frozen=True)
class SpectrogramImage:
    """A rendered spectrogram.

    Attributes
    ----------
    db : np.ndarray
        Levels in dBFS, float32, shape (n_rows, n_cols), read-only; row 0 is the lowest
        frequency, column 0 the earliest time. Clipped below at ``levels[0]``.
    t0, t1 : float
        Time span in seconds (the request clipped to the recording).
    f_low_hz, f_high_hz : float
        Frequency span in Hz (bottom edge of row 0, top edge of the last row).
    scale : str
        Frequency axis: "linear", "log" or "mel".
    full_detail : bool
        True when every STFT frame in the range contributed (see the module docstring).
    levels : tuple of float
        Colour-scale limits in dBFS (``settings.levels``).
    row_edges_hz : np.ndarray
        Row boundaries in Hz, shape (n_rows + 1,).
    frames_per_column : float
        STFT frames whose centres lie in the range, per column.
    """

    db: np.ndarray
    t0: float
    t1: float
    f_low_hz: float
    f_high_hz: float
    scale: str
    full_detail: bool
    levels: tuple[float, float] = (-120.0, 0.0)
    row_edges_hz: np.ndarray = field(default_factory=lambda: np.zeros(0), repr=False)
    frames_per_column: float = 0.0

    @property
    def n_rows(self) -> int:
        return int(self.db.shape[0])

    @property
    def n_cols(self) -> int:
        return int(self.db.shape[1])

    def column_times_s(self) -> np.ndarray:
        """Centre time in seconds of each column, shape (n_cols,)."""
        dt = (self.t1 - self.t0) / self.n_cols
        return self.t0 + (np.arange(self.n_cols) + 0.5) * dt

    def level_at(self, time_s: float, freq_hz: float) -> float | None:
        """Level in dBFS at a time and frequency (cursor readout); None outside the image."""
        if not (self.t0 <= time_s < self.t1) or not (self.f_low_hz <= freq_hz <= self.f_high_hz):
            return None
        col = min(self.n_cols - 1, int((time_s - self.t0) / (self.t1 - self.t0) * self.n_cols))
        row = int(np.clip(np.searchsorted(self.row_edges_hz, freq_hz, side="right") - 1, 0, self.n_rows - 1))
        return float(self.db[row, col])


@dataclass(frozen=True)
class _Tile:
    db: np.ndarray  # unclipped dBFS
    t0: float
    t1: float
    edges: np.ndarray
    full_detail: bool
    frames_per_column: float


class SpectrogramEngine:
    """Renders spectrogram images of one stream (see the module docstring).

    Parameters
    ----------
    stream : AudioStream
        The recording (kept open by the caller).
    settings : STFTSettings
        Window, sizes, hop and dB levels.
    channel : int, optional
        Channel to analyse; None for the mean of the channels.
    cache_size : int
        Rendered tiles kept (least recently used dropped first).
    workers : int, optional
        Threads for ``scipy.fft``.
    """

    def __init__(self, stream: AudioStream, *, settings: STFTSettings, channel: int | None = None,
                 cache_size: int = 32, workers: int | None = None) -> None:
        if channel is not None and not 0 <= channel < stream.n_channels:
            raise ValueError(f"{stream.path.name}: channel {channel} out of range (0..{stream.n_channels - 1})")
        self.stream = stream
        self._settings = settings
        self.channel = channel
        self.cache_size = int(cache_size)
        self.workers = workers
        self._lock = threading.Lock()
        self._tiles: OrderedDict[tuple[Any, ...], _Tile] = OrderedDict()
        self._overviews: OrderedDict[tuple[Any, ...], _Tile] = OrderedDict()
        self.hits = 0
        self.misses = 0
        self.frames_computed = 0

    @property
    def settings(self) -> STFTSettings:
        """Current settings (renders started earlier keep theirs)."""
        return self._settings

    def set_settings(self, settings: STFTSettings) -> None:
        """Change the settings; cached tiles of other settings stay (switching back is free)."""
        self._settings = settings

    def cache_info(self) -> dict[str, int]:
        """Cache hits, misses, tiles held, and STFT frames computed so far."""
        with self._lock:
            return {"hits": self.hits, "misses": self.misses, "tiles": len(self._tiles),
                    "overviews": len(self._overviews), "frames_computed": self.frames_computed}

    def clear_cache(self) -> None:
        """Drop every cached tile and overview."""
        with self._lock:
            self._tiles.clear()
            self._overviews.clear()

    # -- public rendering ------------------------------------------------------------------------

    def overview(self, *, n_cols: int, n_rows: int, scale: FrequencyScale,
                 progress: Progress | None = None) -> SpectrogramImage:
        """The whole recording at screen resolution (cached apart from the tile LRU)."""
        return self.render(t0=0.0, t1=self.stream.duration_s, n_cols=n_cols, n_rows=n_rows, scale=scale,
                           progress=progress)

    def render(self, *, t0: float, t1: float, n_cols: int, n_rows: int, scale: FrequencyScale,
               progress: Progress | None = None) -> SpectrogramImage:
        """Render ``[t0, t1]`` seconds (clipped to the recording) as ``n_rows`` x ``n_cols`` levels.

        Raises
        ------
        ValueError
            Empty range or size.
        Cancelled
            ``progress.check()`` raised between blocks.
        """
        settings = self._settings
        stream = self.stream
        if n_cols < 1 or n_rows < 1:
            raise ValueError(f"image size must be positive, not {n_rows} x {n_cols}")
        rate = stream.rate
        s0 = max(0, int(round(float(t0) * rate)))
        s1 = min(stream.n_samples, int(round(float(t1) * rate)))
        if s1 <= s0:
            raise ValueError(f"empty time range [{t0}, {t1}] s (the recording lasts {stream.duration_s:.3f} s)")
        freqs = settings.freqs_hz(rate)
        resolved = scale.resolved(freqs)
        whole = s0 == 0 and s1 == stream.n_samples
        key = (settings.spectral_key(), self.channel, s0, s1, int(n_cols), int(n_rows), resolved)
        store = self._overviews if whole else self._tiles
        with self._lock:
            tile = store.get(key)
            if tile is not None:
                store.move_to_end(key)
                self.hits += 1
        if tile is None:
            power, full, fpc = self._column_power(s0, s1, int(n_cols), settings, progress)
            rows = resolved.bins_to_rows(power, freqs, int(n_rows))
            tile = _Tile(db=power_to_db(rows, ref=settings.full_scale_power(), floor_db=None),
                         t0=s0 / rate, t1=s1 / rate, edges=resolved.row_edges_hz(int(n_rows)),
                         full_detail=full, frames_per_column=fpc)
            with self._lock:
                self.misses += 1
                store[key] = tile
                limit = _MAX_OVERVIEWS if whole else self.cache_size
                while len(store) > max(limit, 0):
                    store.popitem(last=False)
        db = np.maximum(tile.db, np.float32(settings.db_floor))
        db.setflags(write=False)
        return SpectrogramImage(db=db, t0=tile.t0, t1=tile.t1, f_low_hz=float(tile.edges[0]),
                                f_high_hz=float(tile.edges[-1]), scale=resolved.kind, full_detail=tile.full_detail,
                                levels=settings.levels, row_edges_hz=tile.edges,
                                frames_per_column=tile.frames_per_column)

    # -- computing -------------------------------------------------------------------------------

    def _column_power(self, s0: int, s1: int, n_cols: int, settings: STFTSettings,
                      progress: Progress | None) -> tuple[np.ndarray, bool, float]:
        """Power per column, shape (n_freqs, n_cols); whether every frame was used; frames/column."""
        hop = settings.hop
        total = settings.n_frames(self.stream.n_samples)
        width = (s1 - s0) / n_cols  # samples per column
        first = math.ceil(s0 / hop)
        last = min(total, math.ceil(s1 / hop))  # frames [first, last) are centred in the range
        fpc = max(0, last - first) / n_cols
        if fpc > MAX_FRAMES_PER_COLUMN:
            return self._sparse(s0, width, n_cols, total, settings, progress), False, fpc
        return self._dense(s0, width, n_cols, total, settings, progress), True, fpc

    def _sparse(self, s0: int, width: float, n_cols: int, total: int, settings: STFTSettings,
                progress: Progress | None) -> np.ndarray:
        m = MAX_FRAMES_PER_COLUMN
        hop, half = settings.hop, settings.win_length // 2
        out = np.empty((settings.n_freqs, n_cols), np.float32)
        offsets = (np.arange(m) + 0.5) / m
        for c0 in range(0, n_cols, _SPARSE_BLOCK_COLUMNS):
            if progress is not None:
                progress.check()
            c1 = min(n_cols, c0 + _SPARSE_BLOCK_COLUMNS)
            pos = s0 + (np.arange(c0, c1)[:, None] + offsets[None, :]) * width  # (cols, m) samples
            frames = np.clip(np.rint(pos / hop).astype(np.int64), 0, total - 1).reshape(-1)
            windows = self.stream.read_windows(frames * hop - half, length=settings.win_length, channel=self.channel)
            power = stft_power_at(windows, settings=settings, workers=self.workers)  # (F, cols * m)
            out[:, c0:c1] = power.reshape(settings.n_freqs, c1 - c0, m).mean(axis=2)
            self._count(len(frames))
            if progress is not None:
                progress.report(c1 / n_cols, "spectrogram")
        return out

    def _dense(self, s0: int, width: float, n_cols: int, total: int, settings: STFTSettings,
               progress: Progress | None) -> np.ndarray:
        hop = settings.hop
        edges = s0 + np.arange(n_cols + 1) * width  # column boundaries in samples
        k_lo = np.minimum(np.ceil(edges[:-1] / hop).astype(np.int64), total)
        k_hi = np.minimum(np.ceil(edges[1:] / hop).astype(np.int64), total)
        nearest = np.clip(np.rint((edges[:-1] + width / 2) / hop).astype(np.int64), 0, total - 1)
        ka = int(min(k_lo[0], nearest.min()))
        kb = int(max(int(k_hi[-1]), int(nearest.max()) + 1))  # frames [ka, kb)
        power = self._frames(ka, kb - ka, settings, progress)  # (F, kb - ka)
        out = np.empty((settings.n_freqs, n_cols), np.float32)
        has = k_hi > k_lo
        if has.any():
            cols = np.flatnonzero(has)
            starts = k_lo[cols] - ka
            stop = int(k_hi[cols[-1]] - ka)
            sums = np.add.reduceat(power[:, :stop], starts, axis=1)
            out[:, cols] = sums / (k_hi[cols] - k_lo[cols])[None, :].astype(np.float32)
        if not has.all():
            cols = np.flatnonzero(~has)
            out[:, cols] = power[:, nearest[cols] - ka]
        return out

    def _frames(self, first: int, count: int, settings: STFTSettings, progress: Progress | None) -> np.ndarray:
        """Every frame ``first .. first + count - 1``, shape (n_freqs, count), reading in blocks."""
        hop, half, win = settings.hop, settings.win_length // 2, settings.win_length
        out = np.empty((count, settings.n_freqs), np.float32)  # frame rows, returned transposed
        for j0 in range(0, count, _DENSE_BLOCK_FRAMES):
            if progress is not None:
                progress.check()
            j1 = min(count, j0 + _DENSE_BLOCK_FRAMES)
            lo = (first + j0) * hop - half
            hi = (first + j1 - 1) * hop - half + win
            x = (self.stream.read(lo, hi, channel=self.channel) if self.channel is not None
                 else self.stream.read_mono(lo, hi))
            stft_power(x, rate=self.stream.rate, settings=settings, start_frame=first + j0, n_frames=j1 - j0,
                       offset=max(lo, 0), workers=self.workers, out=out[j0:j1])
            self._count(j1 - j0)
            if progress is not None:
                progress.report(j1 / count, "spectrogram")
        return out.T

    def _count(self, n: int) -> None:
        with self._lock:
            self.frames_computed += int(n)


def settings_for(stream: AudioStream, **changes: Any) -> STFTSettings:
    """Default settings for a stream: a window of about 64 ms (a power of two), hop a quarter."""
    win = 1 << max(8, min(14, int(round(math.log2(0.064 * stream.rate)))))
    return replace(STFTSettings(win_length=win, n_fft=win, hop=win // 4), **changes)
