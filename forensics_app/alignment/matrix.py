"""The similarity matrix of two recordings at display size, and the path drawn on it.

The full frame-by-frame matrix of two recordings of several minutes has billions of cells; the
map stored for display is at most :data:`MAX_SIDE` x :data:`MAX_SIDE`. Each recording's frames are
grouped into equal bins of ``ceil(n / MAX_SIDE)`` consecutive frames; a bin's vector is the mean
of its *speech* frames' alignment vectors, scaled to unit length, and a cell is the cosine
similarity of a questioned bin and a reference bin (0 where either bin holds no speech, so that
pauses do not light up as matching each other). Recordings up to 6 s (600 frames) are shown frame
by frame; longer ones are averaged over bins, which blurs single phonemes but keeps the diagonal
of shared material.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from forensics_app.alignment.dtw import Path
from forensics_app.alignment.frontend import HOP_S, Features

__all__ = ["MAX_SIDE", "MAX_PATH_POINTS", "DisplayMatrix", "display_matrix"]

MAX_SIDE = 600
"""Most columns (questioned bins) and rows (reference bins) of the stored map."""
MAX_PATH_POINTS = 4000
"""Most path points stored with the map."""


@dataclass(frozen=True)
class DisplayMatrix:
    """A bounded similarity map with the alignment path.

    Attributes
    ----------
    times_s : np.ndarray
        Shape (n_t,), centre of each questioned bin (s).
    row_times_s : np.ndarray
        Shape (n_r,), centre of each reference bin (s).
    values : np.ndarray
        Shape (n_r, n_t), float32 cosine similarity in [-1, 1].
    path : np.ndarray
        Shape (k, 2): (questioned time in s, reference row index as a float), non-decreasing in
        questioned time.
    frames_per_column, frames_per_row : int
        Frames (10 ms) averaged into each questioned bin and each reference bin.
    """

    times_s: np.ndarray
    row_times_s: np.ndarray
    values: np.ndarray
    path: np.ndarray
    frames_per_column: int
    frames_per_row: int


def _pool(features: Features, per_bin: int) -> tuple[np.ndarray, np.ndarray]:
    """Unit mean vectors of the speech frames of each bin, and the bin centre times (s)."""
    n = features.n_frames
    n_bins = int(np.ceil(n / per_bin))
    v = np.where(features.active[:, None], features.vectors, 0.0).astype(np.float64)
    pad = n_bins * per_bin - n
    if pad:
        v = np.concatenate([v, np.zeros((pad, v.shape[1]))])
    pooled = v.reshape(n_bins, per_bin, -1).sum(axis=1)
    norm = np.linalg.norm(pooled, axis=1, keepdims=True)
    pooled = np.divide(pooled, norm, out=np.zeros_like(pooled), where=norm > 0)
    first = np.arange(n_bins) * per_bin
    last = np.minimum(first + per_bin, n) - 1
    return pooled, 0.5 * (first + last) * HOP_S


def display_matrix(questioned: Features, reference: Features, path: Path) -> DisplayMatrix:
    """The bounded map and the path on it (see the module docstring).

    Parameters
    ----------
    questioned, reference : Features
        Front-end features (frames every 10 ms).
    path : Path
        Their alignment, in frames.

    Returns
    -------
    DisplayMatrix
    """
    fq = max(1, int(np.ceil(questioned.n_frames / MAX_SIDE)))
    fr = max(1, int(np.ceil(reference.n_frames / MAX_SIDE)))
    pq, tq = _pool(questioned, fq)
    pr, tr = _pool(reference, fr)
    values = np.clip(pr @ pq.T, -1.0, 1.0).astype(np.float32)  # (n_r, n_t)
    keep = np.unique(np.linspace(0, path.q.size - 1, min(path.q.size, MAX_PATH_POINTS)).round().astype(np.int64))
    rows = (path.r[keep] - 0.5 * (fr - 1)) / fr
    points = np.stack([path.q[keep] * HOP_S, rows], axis=1).astype(np.float64)
    return DisplayMatrix(times_s=tq, row_times_s=tr, values=values, path=points, frames_per_column=fq,
                         frames_per_row=fr)
