"""Spectral difference between aligned frames, segment by segment in questioned time.

For every path step that pairs questioned speech with reference speech, the difference of the
two log-mel spectra (dB, 40 bands) is taken. The *channel difference* is its per-band median over
the shared material: a fixed equalisation, band limitation or codec colouring that applies to
the whole copy. What remains after removing it, as an RMS over bands (dB), is the *content
difference* of the step. The lane is the median content difference of the steps in each segment
of ``segment_s`` seconds of the questioned recording (NaN where a segment holds no speech paired
with reference speech). It is low (a few dB) along shared material, whatever the channel, and
high where the path crosses material that the reference does not hold.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from forensics_app.alignment.dtw import Path
from forensics_app.alignment.frontend import HOP_S, Features

__all__ = ["SpectralDifference", "spectral_difference"]


@dataclass(frozen=True)
class SpectralDifference:
    """Content and channel difference along a path.

    Attributes
    ----------
    times_s : np.ndarray
        Shape (k,), segment centres in the questioned recording (s).
    content_db : np.ndarray
        Shape (k,), median content difference per segment (dB RMS over bands; NaN where no
        speech is paired).
    band_hz : np.ndarray
        Shape (40,), mel band centres (Hz).
    channel_db : np.ndarray
        Shape (40,), questioned minus reference level per band over the shared material (dB).
    median_shared_db : float
        Median content difference of the shared steps (dB; NaN without shared steps).
    """

    times_s: np.ndarray
    content_db: np.ndarray
    band_hz: np.ndarray
    channel_db: np.ndarray
    median_shared_db: float


def spectral_difference(questioned: Features, reference: Features, path: Path, shared: np.ndarray, *,
                        segment_s: float = 0.25) -> SpectralDifference:
    """Content and channel difference (see the module docstring).

    Parameters
    ----------
    questioned, reference : Features
        Front-end features of the two recordings.
    path : Path
        Their alignment.
    shared : np.ndarray
        Shape (k,), bool: steps of shared material (from
        :func:`forensics_app.alignment.departures.matched_runs`).
    segment_s : float
        Segment length of the lane (s).

    Returns
    -------
    SpectralDifference
    """
    speech = questioned.active[path.q] & reference.active[path.r]
    q, r = path.q[speech], path.r[speech]
    diff = questioned.log_mel_db[q].astype(np.float64) - reference.log_mel_db[r].astype(np.float64)
    base = shared[speech]
    channel = np.median(diff[base], axis=0) if base.any() else np.zeros(diff.shape[1] if diff.size else 40)
    content = np.sqrt(np.mean(np.square(diff - channel), axis=1)) if diff.size else np.zeros(0)
    n_seg = max(1, int(np.ceil(questioned.n_frames * HOP_S / segment_s)))
    seg = np.minimum((q * HOP_S / segment_s).astype(np.int64), n_seg - 1)
    values = np.full(n_seg, np.nan)
    if seg.size:
        order = np.argsort(seg, kind="stable")
        bounds = np.searchsorted(seg[order], np.arange(n_seg + 1))
        for i in range(n_seg):
            a, b = bounds[i], bounds[i + 1]
            if b > a:
                values[i] = float(np.median(content[order[a:b]]))
    times = (np.arange(n_seg) + 0.5) * segment_s
    med = float(np.median(content[base])) if base.any() else float("nan")
    return SpectralDifference(times_s=times, content_db=values, band_hz=questioned.band_hz,
                              channel_db=channel.astype(np.float64), median_shared_db=med)
