"""Residual tracks of a whole recording, and the feature vectors the residual detector learns from.

:func:`residual_tracks` runs the selected round trips over a recording of any rate and channel
count in chunks (bounded memory: one chunk of :data:`CHUNK_S` seconds plus margins is resampled to
16 kHz mono and processed at a time), aligns each output with its input
(:mod:`.sample_align`) and computes frame residuals (:mod:`.residuals`) on one 10 ms grid for the
whole recording. Before the round trips the recording is scaled so that its speech level (95th
percentile of frame powers) is :data:`TARGET_LEVEL_DB` dBFS, peak limited to
:data:`MAX_PEAK`: the neural vocoder depends on level, and the residuals then do not.

:func:`window_features` and :func:`file_features` reduce the tracks to fixed-length vectors, laid
out as :data:`FEATURE_NAMES` (or :func:`feature_names` for a subset of round trips). Per round
trip, over the active (non-silent) frames of the window:

* ``lsd_median_db``, ``lsd_iqr_db`` – median and inter-quartile range of the frame log-spectral
  distance (dB);
* ``mcd_median_db`` – median mel-cepstral distortion (dB);
* ``phase_median`` – median phase coherence (0-1);
* ``hnr_change_median_db``, ``hnr_change_abs_median_db`` – median HNR change and median of its
  magnitude (dB);
* ``band_0_1k_db``, ``band_1_2k_db``, ``band_2_4k_db``, ``band_4_8k_db`` – median over frames of the
  mean band log-spectral distance in those ranges (dB);

and, once, ``active_fraction`` – the share of the window's frames that are not silent. Windows
with fewer than :data:`MIN_ACTIVE_FRAMES` active frames get NaN for every statistic. Everything is
deterministic: the same samples and settings give the same numbers.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from math import gcd
from typing import NamedTuple

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from scipy.signal import resample_poly

from forensics_app.domain.errors import ForensicsError
from forensics_app.domain.jobs import Progress, ProgressToken
from forensics_app.resynthesis import residuals as rs
from forensics_app.resynthesis import round_trips as rt
from forensics_app.resynthesis.sample_align import Alignment, align

#: Core chunk length (s) and margin each side (s) of the chunked processing.
CHUNK_S, MARGIN_S = 20.0, 0.5

#: Speech level the recording is scaled to (dBFS), and the largest peak allowed after scaling.
TARGET_LEVEL_DB, MAX_PEAK = -20.0, 0.99

#: A recording whose speech level is below this (dBFS) is treated as silence.
MIN_LEVEL_DB = -80.0

#: Windows with fewer active frames than this get NaN statistics.
MIN_ACTIVE_FRAMES = 10

#: Per-round-trip statistics, in feature order.
STATS = ("lsd_median_db", "lsd_iqr_db", "mcd_median_db", "phase_median", "hnr_change_median_db",
         "hnr_change_abs_median_db", "band_0_1k_db", "band_1_2k_db", "band_2_4k_db", "band_4_8k_db")

#: Band-group edges (Hz) of the ``band_*`` statistics.
BAND_GROUPS_HZ = ((0.0, 1000.0), (1000.0, 2000.0), (2000.0, 4000.0), (4000.0, 8000.1))


@contextmanager
def _quiet() -> Iterator[None]:
    """Silence numpy's 'All-NaN slice' warnings of windows without active frames."""
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        yield


def feature_names(round_trip_ids: Sequence[str] = rt.ORDER) -> tuple[str, ...]:
    """Names of the feature vector for ``round_trip_ids``: ``"<id>.<stat>"`` per round trip, then ``"active_fraction"``."""
    return tuple(f"{i}.{s}" for i in round_trip_ids for s in STATS) + ("active_fraction",)


#: The feature layout over all four built-in round trips (41 features).
FEATURE_NAMES = feature_names(rt.ORDER)


class Source16k:
    """A mono 16 kHz view of a recording of any rate and channel count, read segment by segment.

    Parameters
    ----------
    samples : np.ndarray
        Shape (n,) or (n, channels), float, at ``rate`` Hz.
    rate : int
        Sample rate (Hz).

    Attributes
    ----------
    n : int
        Length in 16 kHz samples.
    granularity : int
        Segments must start at multiples of this many 16 kHz samples (whole polyphase periods), so
        every segment lands on the same sample grid.
    """

    def __init__(self, samples: np.ndarray, *, rate: int) -> None:
        a = np.asarray(samples)
        if a.ndim == 1:
            a = a[:, None]
        if a.ndim != 2 or rate <= 0:
            raise ForensicsError(f"expected (n,) or (n, channels) samples at a positive rate, got {a.shape} at {rate}")
        self._samples, self._rate = a, int(rate)
        g = gcd(self._rate, rt.RATE)
        self._up, self._down = rt.RATE // g, self._rate // g
        self.granularity = self._up
        self.n = int(round(a.shape[0] * rt.RATE / self._rate))

    def read(self, start: int, end: int) -> np.ndarray:
        """Samples ``[start, end)`` of the 16 kHz mono signal, shape (end - start,), float32.

        ``start`` must be a multiple of :attr:`granularity`.
        """
        if start % self.granularity:
            raise ForensicsError(f"segment start {start} is not a multiple of {self.granularity}")
        if self._up == self._down:
            mono = self._samples[start:end].mean(axis=1, dtype=np.float64)
        else:
            s0 = start // self._up * self._down
            s1 = min(self._samples.shape[0], -(-end * self._down // self._up) + 64)
            mono = self._samples[s0:s1].mean(axis=1, dtype=np.float64)
        if not np.all(np.isfinite(mono)):
            raise ForensicsError(f"the audio holds NaN or infinite samples (near {start / rt.RATE:.2f} s)")
        y = mono[: end - start] if self._up == self._down else resample_poly(mono, self._up, self._down)[: end - start]
        return np.pad(y, (0, end - start - len(y))).astype(np.float32)


@dataclass(frozen=True)
class ResidualTrack:
    """One round trip's residuals over a whole recording.

    Attributes
    ----------
    round_trip : str
        Round-trip id.
    frames : FrameResiduals
        Frame residuals on the 10 ms grid of the whole recording (times in s from its start).
    alignments : tuple of Alignment
        The alignment of each chunk.
    seconds : float
        Wall-clock time spent on this round trip (synthesis, alignment and residuals), s.
    """

    round_trip: str
    frames: rs.FrameResiduals
    alignments: tuple[Alignment, ...]
    seconds: float


@dataclass(frozen=True)
class ResidualSet:
    """Every selected round trip's residuals over one recording.

    Attributes
    ----------
    tracks : dict
        Round-trip id -> :class:`ResidualTrack`, in the order run.
    duration_s : float
        Length of the recording (s).
    level_db : float
        Speech level of the recording before scaling (dBFS).
    gain_db : float
        Gain applied before the round trips (dB).
    chunks : int
        Chunks processed.
    """

    tracks: dict[str, ResidualTrack]
    duration_s: float
    level_db: float
    gain_db: float
    chunks: int


def plan_chunks(n: int, *, chunk_s: float = CHUNK_S) -> list[tuple[int, int]]:
    """Core chunks ``(start, end)`` in 16 kHz samples covering ``[0, n)``, about ``chunk_s`` long.

    Boundaries fall on the 10 ms frame grid; chunk lengths are between 2/3 and 3/2 of ``chunk_s``.
    """
    hop = rs.HOP
    count = max(1, int(round(n / (chunk_s * rt.RATE))))
    bounds = [int(round(n * k / count / hop)) * hop for k in range(count)] + [n]
    return [(a, b) for a, b in zip(bounds[:-1], bounds[1:], strict=True) if b > a]


def recording_level(source: Source16k, *, chunk_s: float = CHUNK_S,
                    progress: Progress | None = None) -> tuple[float, float]:
    """Speech level (dBFS, :func:`.residuals.speech_level_db`) and peak of the 16 kHz signal, in one
    chunked pass (``progress.check()`` before each chunk)."""
    powers, peak = [], 0.0
    for a, b in plan_chunks(source.n, chunk_s=chunk_s):
        if progress is not None:
            progress.check()
        s = a // source.granularity * source.granularity
        x = source.read(s, b)
        powers.append(rs.frame_power_db(x, first_centre=a - s))
        peak = max(peak, float(np.max(np.abs(x))) if x.size else 0.0)
    return rs.speech_level_db(np.concatenate(powers)), peak


def residual_tracks(samples: np.ndarray, *, rate: int, round_trip_ids: Sequence[str] = rt.ORDER,
                    device: str | None = None, chunk_s: float = CHUNK_S,
                    progress: Progress | None = None) -> ResidualSet:
    """Run the round trips over a recording and compute its residual tracks (see the module docstring).

    Parameters
    ----------
    samples : np.ndarray
        Shape (n,) or (n, channels), float in [-1, 1], at ``rate`` Hz (channels are averaged).
    rate : int
        Sample rate (Hz); resampled to 16 kHz chunk by chunk.
    round_trip_ids : sequence of str
        Round trips to run (:data:`.round_trips.ORDER` by default).
    device : str, optional
        Torch device of the neural vocoder; default: the workstation's compute device.
    chunk_s : float
        Core chunk length (s).
    progress : Progress, optional
        Receives a report per chunk and round trip; ``check()`` is called before each, so a
        cancel stops the work within one chunk of one round trip.

    Returns
    -------
    ResidualSet

    Raises
    ------
    ForensicsError
        The recording is shorter than :data:`.round_trips.MIN_DURATION_S`, holds NaN/inf, or is
        silent (speech level below :data:`MIN_LEVEL_DB`).
    Cancelled
        ``progress`` was cancelled.
    """
    progress = progress or ProgressToken()
    trips = [rt.get(i) for i in round_trip_ids]
    source = Source16k(samples, rate=rate)
    if source.n < rt.MIN_DURATION_S * rt.RATE:
        raise ForensicsError(f"{source.n / rt.RATE:.3f} s of audio is too short to resynthesise "
                             f"(at least {rt.MIN_DURATION_S} s)")
    level_db, peak = recording_level(source, chunk_s=chunk_s, progress=progress)
    if peak <= 0.0:
        raise ForensicsError("the audio is digital silence: there is nothing to resynthesise")
    if level_db < MIN_LEVEL_DB:
        raise ForensicsError(f"the audio holds no signal above {MIN_LEVEL_DB:.0f} dBFS (its loud frames are at "
                             f"{level_db:.0f} dBFS): there is nothing to resynthesise")
    gain_db = min(TARGET_LEVEL_DB - level_db, 20.0 * np.log10(MAX_PEAK / peak))
    gain = np.float32(10.0 ** (gain_db / 20.0))
    chunks = plan_chunks(source.n, chunk_s=chunk_s)
    parts: dict[str, list[rs.FrameResiduals]] = {t.id: [] for t in trips}
    aligned: dict[str, list[Alignment]] = {t.id: [] for t in trips}
    seconds = dict.fromkeys(parts, 0.0)
    margin = int(MARGIN_S * rt.RATE)
    steps = len(chunks) * len(trips)
    for ci, (a, b) in enumerate(chunks):
        s = max(0, a - margin) // source.granularity * source.granularity
        e = min(source.n, b + margin)
        x = source.read(s, e) * gain
        t_in = time.perf_counter()
        ref = rs.analyse(x, level_db=level_db + gain_db, first_centre=a - s)
        t_in = (time.perf_counter() - t_in) / len(trips)  # the input's analysis, shared by the round trips
        for ti, trip in enumerate(trips):
            progress.check()
            progress.report((ci * len(trips) + ti) / steps, f"chunk {ci + 1}/{len(chunks)}: {trip.label}")
            t0 = time.perf_counter() - t_in
            y, al = align(x, trip(x, device=device))
            fr = rs.compare(ref, rs.analyse(y, level_db=level_db + gain_db, first_centre=a - s))
            parts[trip.id].append(fr.take(fr.times_s < (b - s) / rt.RATE).shifted(s / rt.RATE))
            aligned[trip.id].append(al)
            seconds[trip.id] += time.perf_counter() - t0
    progress.report(1.0, "residuals computed")
    tracks = {i: ResidualTrack(round_trip=i, frames=rs.concat(parts[i]), alignments=tuple(aligned[i]),
                               seconds=seconds[i]) for i in parts}
    return ResidualSet(tracks=tracks, duration_s=source.n / rt.RATE, level_db=level_db,
                       gain_db=float(gain_db), chunks=len(chunks))


def _frame_columns(track: ResidualTrack) -> np.ndarray:
    """Per-frame statistic columns of one track, NaN where inactive: shape (n_frames, 9)."""
    f = track.frames
    centres = rs.band_centres_hz()
    groups = [f.band_lsd_db[(centres >= lo) & (centres < hi)].mean(axis=0) for lo, hi in BAND_GROUPS_HZ]
    cols = np.column_stack([f.lsd_db, f.mcd_db, f.phase_coherence, f.hnr_change_db, np.abs(f.hnr_change_db),
                            *groups]).astype(np.float64)
    cols[~f.active] = np.nan
    return cols


def _reduce(block: np.ndarray) -> np.ndarray:
    """Statistics of frame columns: block (..., n_frames, n_trips * 9) -> (..., n_trips * 10)."""
    n_trips = block.shape[-1] // 9
    med = np.nanmedian(block, axis=-2)
    q25, q75 = np.nanpercentile(block[..., 0::9], [25.0, 75.0], axis=-2)
    out = []
    for k in range(n_trips):
        m = med[..., 9 * k: 9 * k + 9]
        out += [m[..., 0:1], (q75 - q25)[..., k:k + 1], m[..., 1:]]
    return np.concatenate(out, axis=-1)


class WindowFeatures(NamedTuple):
    """Feature vectors of a recording's windows.

    Attributes
    ----------
    starts_s : np.ndarray
        Shape (n_windows,), window starts (s).
    values : np.ndarray
        Shape (n_windows, n_features), float64, columns as :func:`feature_names`; NaN statistics
        where a window holds fewer than :data:`MIN_ACTIVE_FRAMES` active frames.
    """

    starts_s: np.ndarray
    values: np.ndarray


def features_from_tracks(residual_set: ResidualSet, *, window_s: float = 2.0, hop_s: float = 1.0) -> WindowFeatures:
    """Window feature vectors from already computed tracks (see :func:`window_features`)."""
    if window_s <= 0 or hop_s <= 0:
        raise ForensicsError(f"window ({window_s} s) and hop ({hop_s} s) must be positive")
    cols = np.hstack([_frame_columns(t) for t in residual_set.tracks.values()])
    n_frames = cols.shape[0]
    frame_s = rs.HOP / rs.RATE
    win = max(1, int(round(window_s / frame_s)))
    step = max(1, int(round(hop_s / frame_s)))
    if n_frames < win:
        cols = np.vstack([cols, np.full((win - n_frames, cols.shape[1]), np.nan)])
    views = sliding_window_view(cols, win, axis=0)[::step]  # (n_windows, n_cols, win)
    active = np.isfinite(views[:, 0, :]).sum(axis=1)
    stats = np.empty((views.shape[0], cols.shape[1] // 9 * len(STATS)))
    with _quiet():
        for i in range(0, views.shape[0], 256):
            stats[i:i + 256] = _reduce(np.swapaxes(views[i:i + 256], 1, 2))
    stats[active < MIN_ACTIVE_FRAMES] = np.nan
    starts = np.arange(views.shape[0]) * step * frame_s
    return WindowFeatures(starts_s=starts, values=np.column_stack([stats, active / win]))


def file_vector(residual_set: ResidualSet) -> np.ndarray:
    """File-level feature vector from computed tracks, shape (n_features,) (see :func:`file_features`)."""
    cols = np.hstack([_frame_columns(t) for t in residual_set.tracks.values()])
    active = int(np.isfinite(cols[:, 0]).sum())
    with _quiet():
        stats = _reduce(cols)
    if active < MIN_ACTIVE_FRAMES:
        stats[:] = np.nan
    return np.concatenate([stats, [active / max(cols.shape[0], 1)]])


def window_features(samples: np.ndarray, *, rate: int, round_trip_ids: Sequence[str] = rt.ORDER,
                    window_s: float = 2.0, hop_s: float = 1.0, device: str | None = None,
                    progress: Progress | None = None) -> WindowFeatures:
    """Residual feature vectors of windows of a recording (the residual detector's input).

    Parameters
    ----------
    samples : np.ndarray
        Shape (n,) or (n, channels), float in [-1, 1], at ``rate`` Hz.
    rate : int
        Sample rate (Hz).
    round_trip_ids : sequence of str
        Round trips (default all four, giving :data:`FEATURE_NAMES`).
    window_s, hop_s : float
        Window length and hop (s), rounded to the 10 ms frame grid. A recording shorter than one
        window gives one window (its missing frames count as silent).
    device : str, optional
        Torch device of the neural vocoder.
    progress : Progress, optional
        Progress and cancel (see :func:`residual_tracks`).

    Returns
    -------
    WindowFeatures
        ``starts_s`` (n_windows,) in s and ``values`` (n_windows, len(feature_names(round_trip_ids))).
    """
    rset = residual_tracks(samples, rate=rate, round_trip_ids=round_trip_ids, device=device, progress=progress)
    return features_from_tracks(rset, window_s=window_s, hop_s=hop_s)


def file_features(samples: np.ndarray, *, rate: int, round_trip_ids: Sequence[str] = rt.ORDER,
                  device: str | None = None, progress: Progress | None = None) -> np.ndarray:
    """Residual feature vector of a whole recording, shape (len(feature_names(round_trip_ids)),).

    The statistics are taken over every active frame of the recording (arguments as
    :func:`window_features`).
    """
    rset = residual_tracks(samples, rate=rate, round_trip_ids=round_trip_ids, device=device, progress=progress)
    return file_vector(rset)
