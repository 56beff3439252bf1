"""What the views draw, prepared off the GUI thread (no Qt here).

These functions run inside :class:`~forensics_app.gui.workers.WorkerPool` jobs: they decode the
stored evidence copy, reduce it to display resolution (waveform envelope, a spectrogram with a
bounded number of columns) and return frozen dataclasses in physical units.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from forensics_app.domain.jobs import ProgressToken
from forensics_app.domain.media import VideoSource
from forensics_app.domain.results import TimeSeries
from forensics_app.ingest import decode
from forensics_app.store.artifacts import ArtifactStore

MAX_WAVEFORM_POINTS = 2_000_000
"""Longer signals are reduced to a min/max envelope of this many points."""
MAX_SPECTROGRAM_COLUMNS = 3000
"""Spectrogram columns for a whole file; the hop grows for long files."""
SPECTROGRAM_RANGE_DB = 90.0
"""Dynamic range shown below the loudest bin."""


@dataclass(frozen=True)
class Spectrogram:
    """A magnitude spectrogram in dB and where it lies in physical units.

    Attributes
    ----------
    power_db : np.ndarray
        Shape (n_freq, n_time), float32, dB relative to a full-scale sine.
    x0_s, width_s : float
        Time span covered by the columns (s), for ``ImageItem.setRect``.
    y0_hz, height_hz : float
        Frequency span covered by the rows (Hz).
    window_s, hop_s : float
        STFT window length and hop (s).
    levels : tuple of float
        Suggested (low, high) display levels in dB.
    """

    power_db: np.ndarray
    x0_s: float
    width_s: float
    y0_hz: float
    height_hz: float
    window_s: float
    hop_s: float
    levels: tuple[float, float]


@dataclass(frozen=True)
class AudioDisplay:
    """A decoded recording at display resolution.

    Attributes
    ----------
    times_s : np.ndarray
        Shape (n,), seconds.
    amplitude : np.ndarray
        Shape (n,), mono mix in full-scale units (a min/max envelope for long files).
    rate : int
        Sample rate (Hz).
    duration_s : float
        Duration (s).
    n_channels : int
        Channels in the evidence (the display shows their mean).
    spectrogram : Spectrogram
        Of the mono mix.
    """

    times_s: np.ndarray
    amplitude: np.ndarray
    rate: int
    duration_s: float
    n_channels: int
    spectrogram: Spectrogram


@dataclass(frozen=True)
class Lane:
    """One time series of a finding, drawn as a lane under the spectrogram."""

    finding_id: int
    title: str
    series: TimeSeries


@dataclass(frozen=True)
class FrameBatch:
    """Decoded video frames: ``frames[i]`` is ``(index, time_s, RGB uint8 array (h, w, 3))``."""

    frames: tuple[tuple[int, float, np.ndarray], ...]


def _window_length(rate: int) -> int:
    """A power of two near 25 ms, between 256 and 4096 samples."""
    n = 2 ** round(math.log2(max(rate, 1) * 0.025))
    return int(min(max(n, 256), 4096))


def compute_spectrogram(
    x: np.ndarray, rate: int, *, max_columns: int = MAX_SPECTROGRAM_COLUMNS,
    progress: ProgressToken | None = None,
) -> Spectrogram:
    """Hann-windowed STFT magnitude in dB with at most ``max_columns`` columns.

    Parameters
    ----------
    x : np.ndarray
        Shape (n_samples,), mono signal in full-scale units.
    rate : int
        Sample rate (Hz).
    max_columns : int
        Upper bound on the number of time columns; long signals get a larger hop (columns then
        sample the signal rather than overlap).
    progress : ProgressToken, optional
        Receives fractions and is checked for cancellation between blocks.

    Returns
    -------
    Spectrogram
    """
    nperseg = _window_length(rate)
    x = np.asarray(x, dtype=np.float32).reshape(-1)
    if x.size < nperseg:
        x = np.pad(x, (0, nperseg - x.size))
    hop = nperseg // 4
    span = x.size - nperseg
    if span // hop + 1 > max_columns:
        hop = int(math.ceil(span / max(max_columns - 1, 1)))
    starts = np.arange(0, span + 1, hop, dtype=np.int64)
    window = np.hanning(nperseg).astype(np.float32)
    scale = float(window.sum() / 2.0) ** 2  # a full-scale sine peaks at 0 dB
    offsets = np.arange(nperseg, dtype=np.int64)
    out = np.empty((nperseg // 2 + 1, starts.size), dtype=np.float32)
    block = 256
    for b in range(0, starts.size, block):
        if progress is not None:
            progress.check()
            progress.report(b / starts.size, "spectrogram")
        idx = starts[b:b + block, None] + offsets[None, :]
        spec = np.fft.rfft(x[idx] * window, axis=1)
        power = (spec.real**2 + spec.imag**2) / scale
        out[:, b:b + block] = (10.0 * np.log10(power + 1e-12)).T
    hi = float(np.max(out)) if out.size else 0.0
    hi = hi if math.isfinite(hi) else 0.0
    df = rate / nperseg
    return Spectrogram(
        power_db=out,
        x0_s=(nperseg / 2 - hop / 2) / rate,
        width_s=starts.size * hop / rate,
        y0_hz=-df / 2,
        height_hz=out.shape[0] * df,
        window_s=nperseg / rate,
        hop_s=hop / rate,
        levels=(hi - SPECTROGRAM_RANGE_DB, hi),
    )


def waveform_envelope(x: np.ndarray, rate: int, *, max_points: int = MAX_WAVEFORM_POINTS
                      ) -> tuple[np.ndarray, np.ndarray]:
    """Times (s) and amplitudes to draw; a min/max envelope when ``x`` is longer than ``max_points``.

    Returns
    -------
    times_s, amplitude : np.ndarray
        Shape (m,) each, m <= max_points.
    """
    x = np.asarray(x, dtype=np.float32).reshape(-1)
    if x.size <= max_points:
        return np.arange(x.size, dtype=np.float64) / rate, x
    per = int(math.ceil(x.size / (max_points // 2)))
    n = x.size // per
    blocks = x[: n * per].reshape(n, per)
    env = np.empty(2 * n, dtype=np.float32)
    env[0::2] = blocks.min(axis=1)
    env[1::2] = blocks.max(axis=1)
    t = (np.arange(n, dtype=np.float64) * per + per / 2) / rate
    return np.repeat(t, 2), env


def load_audio(path: Path, *, max_columns: int = MAX_SPECTROGRAM_COLUMNS,
               progress: ProgressToken | None = None) -> AudioDisplay:
    """Decode a stored audio copy and prepare its waveform and spectrogram."""
    token = progress or ProgressToken()
    token.report(0.0, "decoding")
    clip = decode.decode_audio(Path(path))
    token.check()
    mono = clip.mono()
    times, amp = waveform_envelope(mono, clip.rate)
    spec = compute_spectrogram(mono, clip.rate, max_columns=max_columns, progress=token.sub(0.2, 0.8))
    return AudioDisplay(times_s=times, amplitude=amp, rate=clip.rate, duration_s=clip.duration_s,
                        n_channels=clip.n_channels, spectrogram=spec)


def load_lanes(artifacts: ArtifactStore, findings: Iterable[tuple[int, str, Sequence[Mapping[str, str]]]]
               ) -> tuple[Lane, ...]:
    """Load every TimeSeries artifact of some findings.

    Parameters
    ----------
    artifacts : ArtifactStore
        The case's artifact store (reads are hash-checked).
    findings : iterable of (finding_id, title_prefix, series_refs)
        The references of each finding.
    """
    lanes: list[Lane] = []
    for finding_id, prefix, refs in findings:
        for ref in refs:
            ts = artifacts.get_series(dict(ref))
            unit = f" ({ts.unit})" if ts.unit else ""
            lanes.append(Lane(finding_id, f"{prefix}{ts.name}{unit}", ts))
    return tuple(lanes)


def load_image(path: Path) -> np.ndarray:
    """Decode a stored image copy to RGB uint8, shape (height, width, 3)."""
    return decode.decode_image(Path(path)).pixels


def open_video(path: Path) -> VideoSource:
    """Open a stored video copy (metadata now, frames lazily)."""
    return decode.open_video(Path(path))


def decode_frames(source: VideoSource, start: int, count: int,
                  progress: ProgressToken | None = None) -> FrameBatch:
    """Decode frames ``start`` to ``start + count - 1``.

    The reader decodes from the first frame, so the cost grows with ``start``; callers cache.
    """
    out = []
    for index, t, rgb in source.frames(start=start, stop=start + count):
        if progress is not None:
            progress.check()
        out.append((index, t, rgb))
    return FrameBatch(tuple(out))
