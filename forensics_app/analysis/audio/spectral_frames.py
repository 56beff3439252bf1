"""Frame-wise power spectra of long recordings, block by block, and the spectral edge rule.

Shared by the bandwidth and lossy-codec analyzers. Samples may be a read-only memory map of a
long recording: frames are read in batches (a few hundred frames at a time, float32), never as
one float64 copy of the whole recording, and ``progress`` is checked once per batch.

Conventions: power spectra are one-sided, ``|rfft(frame * window)|**2`` summed over channels
(so anti-phase channels cannot cancel), scaled so that a full-scale sine in one channel peaks
at 0 dB (``power / (sum(window) / 2)**2``). Levels in dB are ``10*log10(power)``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from scipy import signal

from forensics_app.domain.jobs import Progress

DB_FLOOR = -200.0
"""Level in dB reported for zero power."""

STANDARD_RATES = (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000, 88200, 96000, 176400, 192000)
"""Sample rates (Hz) that audio is commonly recorded, synthesised or transmitted at."""

_TINY = 1e-20


@dataclass(frozen=True)
class SpectraBatch:
    """A batch of consecutive analysis frames.

    Attributes
    ----------
    first : int
        Index of the batch's first frame.
    power : np.ndarray
        Shape (n_frames, n_fft // 2 + 1), float64, power summed over channels (see module doc).
    mean_square : np.ndarray
        Shape (n_frames,), mean of ``sample**2`` over the frame and all channels (unwindowed).
    """

    first: int
    power: np.ndarray
    mean_square: np.ndarray


def frame_count(n_samples: int, *, frame: int, hop: int) -> int:
    """Number of frames of ``frame`` samples every ``hop`` samples (at least 1; short input is padded)."""
    return 1 if n_samples <= frame else 1 + (n_samples - frame) // hop


def frame_times(n_frames: int, *, frame: int, hop: int, rate: int) -> np.ndarray:
    """Centre times in s of frames ``0 .. n_frames - 1``, shape (n_frames,)."""
    return (np.arange(n_frames) * hop + frame / 2.0) / float(rate)


def n_fft_for(frame: int) -> int:
    """Smallest power of two at least ``frame`` long."""
    return 1 << max(int(math.ceil(math.log2(max(frame, 2)))), 1)


def iter_spectra(
    samples: np.ndarray,
    *,
    frame: int,
    hop: int,
    window: str = "blackmanharris",
    batch: int = 256,
    progress: Progress,
    start: float = 0.0,
    span: float = 1.0,
    message: str = "spectra",
) -> Iterator[SpectraBatch]:
    """Yield power spectra of consecutive frames, ``batch`` frames at a time.

    Parameters
    ----------
    samples : np.ndarray
        Shape (n_samples, n_channels), float32 (a memory map is fine: read per batch).
    frame, hop : int
        Frame length and hop in samples.
    window : str
        scipy window name (periodic form).
    batch : int
        Frames per batch.
    progress : Progress
        Checked before each batch; reports ``start + span * done`` after each.
    start, span : float
        The share of the caller's progress range this pass covers.
    message : str
        Progress message.
    """
    n, n_ch = samples.shape
    n_frames = frame_count(n, frame=frame, hop=hop)
    n_fft = n_fft_for(frame)
    win = signal.get_window(window, frame, fftbins=True).astype(np.float32)
    scale = 1.0 / (float(win.sum()) / 2.0) ** 2
    for f0 in range(0, n_frames, batch):
        progress.check()
        f1 = min(f0 + batch, n_frames)
        s0 = f0 * hop
        s1 = (f1 - 1) * hop + frame
        block = np.asarray(samples[s0:min(s1, n)], dtype=np.float32)
        if block.shape[0] < s1 - s0:
            block = np.concatenate([block, np.zeros((s1 - s0 - block.shape[0], n_ch), np.float32)], axis=0)
        frames = np.lib.stride_tricks.sliding_window_view(block, frame, axis=0)[::hop]  # (k, ch, frame)
        ms = np.mean(np.square(frames, dtype=np.float64), axis=(1, 2))
        spec = np.fft.rfft(frames * win, n=n_fft, axis=-1)
        power = (np.square(spec.real, dtype=np.float64) + np.square(spec.imag, dtype=np.float64)).sum(axis=1)
        yield SpectraBatch(first=f0, power=power * scale, mean_square=ms)
        progress.report(start + span * f1 / n_frames, message)


def to_db(power: np.ndarray) -> np.ndarray:
    """``10*log10(power)``, zero power mapped to :data:`DB_FLOOR`."""
    return np.maximum(10.0 * np.log10(np.maximum(power, _TINY)), DB_FLOOR)


def smoothed_levels_db(power: np.ndarray, *, median_bins: int) -> np.ndarray:
    """Levels in dB median-filtered along frequency (last axis), float32.

    A running median over ``median_bins`` bins (odd; edges padded with the nearest bin) removes
    isolated tonal lines and single-bin noise peaks narrower than half the filter while keeping
    the step of a band edge in place.
    """
    levels = to_db(power).astype(np.float32)
    size = int(median_bins) | 1
    if size <= 1:
        return levels
    half = size // 2
    padded = np.pad(levels, [(0, 0)] * (levels.ndim - 1) + [(half, half)], mode="edge")
    windows = np.lib.stride_tricks.sliding_window_view(padded, size, axis=-1)
    return np.partition(windows, half, axis=-1)[..., half]


def edge_bins(levels_db: np.ndarray, *, floor_db: float, abs_floor_db: float) -> np.ndarray:
    """Per row, the highest bin whose level is within ``floor_db`` of the row's maximum.

    Parameters
    ----------
    levels_db : np.ndarray
        Shape (n_rows, n_bins), dB.
    floor_db : float
        Content is what lies no more than this far below the row's peak (dB).
    abs_floor_db : float
        Content must also lie above this absolute level (dB): the format's own noise floor
        plus a margin, so quiet frames do not count quantisation noise as content.

    Returns
    -------
    np.ndarray
        Shape (n_rows,), int bin index (0 when no bin qualifies).
    """
    threshold = np.maximum(levels_db.max(axis=-1, keepdims=True) - floor_db, abs_floor_db)
    above = levels_db >= threshold
    highest = levels_db.shape[-1] - 1 - np.argmax(above[..., ::-1], axis=-1)
    return np.where(above.any(axis=-1), highest, 0)


def format_bits(sample_format: str) -> int | None:
    """Bits per sample of an integer PCM format ("PCM_16", "s16p", "PCM_U8"); None for float/unknown."""
    m = re.search(r"(?:pcm_[su]?|^[su])(8|16|24|32)", sample_format.lower())
    return int(m.group(1)) if m else None


def quantisation_floor_db(sample_format: str, *, frame: int, window: str = "blackmanharris",
                          n_channels: int = 1) -> float:
    """Per-bin level (dB, module scaling) of the rounding noise of an integer PCM format.

    Rounding to ``bits`` leaves white noise of variance ``q**2 / 12`` with ``q = 2**-(bits-1)``;
    through the window its per-bin power is ``var * sum(w**2) / (sum(w) / 2)**2`` per channel.
    Float and unknown formats return :data:`DB_FLOOR` (no floor assumed).
    """
    bits = format_bits(sample_format)
    if bits is None:
        return DB_FLOOR
    win = signal.get_window(window, frame, fftbins=True)
    q = 2.0 ** -(bits - 1)
    per_bin = (q * q / 12.0) * float(np.sum(win**2)) / (float(win.sum()) / 2.0) ** 2 * n_channels
    return float(10.0 * math.log10(per_bin))


def rate_for_cutoff(cutoff_hz: float, file_rate: int, *, low: float = 0.8, high: float = 1.06) -> int | None:
    """The standard rate below ``file_rate`` whose Nyquist frequency explains a cutoff.

    A resampler's anti-alias filter ends the content between ``low`` and ``high`` times the
    lower rate's Nyquist frequency (windowed-sinc designs are at half amplitude right at it;
    telephone band filters stop at 0.85 of 4 kHz). Of the standard rates below ``file_rate``
    whose window holds the cutoff, the one with the Nyquist frequency closest to it (in ratio)
    is returned; None when no standard rate fits.
    """
    fits = [r for r in STANDARD_RATES if r < file_rate and low * r / 2.0 <= cutoff_hz <= high * r / 2.0]
    if not fits or cutoff_hz <= 0:
        return None
    return min(fits, key=lambda r: abs(math.log(cutoff_hz / (r / 2.0))))


def refined_cutoff(ltas_db: np.ndarray, freqs: np.ndarray, edge_hz: float, *, below_db: float = 6.0) -> float:
    """The cutoff of a long-term spectrum near a content edge.

    The content edge (where the level reaches the floor) lies up to half a filter transition
    above the filter's cutoff. The cutoff is the highest frequency at or below the edge whose
    level is no more than ``below_db`` under the passband level (the median level over 0.75 to
    0.9 of the edge frequency): the half-amplitude point, where a windowed-sinc anti-alias
    filter puts the lower rate's Nyquist frequency. Measured on programme material up-sampled
    with ``scipy.signal.resample_poly`` from 8 to 32 kHz: 1.01 to 1.03 times that frequency.
    """
    band = (freqs >= 0.75 * edge_hz) & (freqs <= 0.9 * edge_hz)
    if not band.any():
        return edge_hz
    passband = float(np.median(ltas_db[band]))
    ok = np.flatnonzero((ltas_db >= passband - below_db) & (freqs <= edge_hz))
    return float(freqs[ok[-1]]) if ok.size else edge_hz


def edge_drop_db(ltas_db: np.ndarray, freqs: np.ndarray, cutoff_hz: float) -> float | None:
    """Median level just below a cutoff (0.8 to 0.95 of it) minus the median level above it
    (1.05 of it up to the Nyquist frequency), in dB; None when either side has no bins."""
    below = (freqs >= 0.8 * cutoff_hz) & (freqs <= 0.95 * cutoff_hz)
    above = freqs >= 1.05 * cutoff_hz
    if not below.any() or not above.any():
        return None
    return float(np.median(ltas_db[below]) - np.median(ltas_db[above]))
