"""Dynamic time warping of two feature sequences in bounded memory (coarse to fine, banded).

The questioned recording's frames ``i`` (0..n-1) are aligned with the reference's frames ``j``
(0..m-1). The path runs from (0, 0) to (n-1, m-1) with three kinds of step:

* ``DIAG`` (i-1, j-1) -> (i, j): both advance; costs ``c(i, j)``.
* ``QUESTIONED`` (i-1, j) -> (i, j): only the questioned recording advances (its frame ``i`` is
  stretched over reference frame ``j``, or is inserted material).
* ``REFERENCE`` (i, j-1) -> (i, j): only the reference advances (compression, or deleted
  material).

Local cost ``c(i, j)`` is the cosine distance ``1 - v_i . w_j`` of two active frames, 0 for two
inactive frames (silence matches silence) and 1 for an active frame against an inactive one.

One-sided steps over an active frame: the *first* of a run costs ``min(c, gap) + step_penalty``
(a tempo difference: one frame stretched by a step); each *further* step of the same kind costs
``gap + step_penalty`` whatever ``c`` is. Holding one frame while the other recording advances
through speech is therefore never cheaper than crossing unmatched material, so inserted or
deleted speech is crossed by a one-sided run at its true place, and a phoneme that happens to
resemble the held frame cannot pull the path away. Tempo ratios between 1/2 and 2 need no
consecutive one-sided steps. A one-sided step over an *inactive* frame costs only
``silence_gap``: pauses stretch and shrink freely, so a long inserted silence does not bend the
path. The recursion keeps three accumulated costs per cell, one per kind of step that entered
it (exact, not a greedy approximation of the run rule).

Memory: the cost matrix is never built. Both sequences are halved (mean of frame pairs) until
``n * m <= FULL_CELLS``; that level is aligned in full; each finer level is aligned only inside
a band of :data:`RADIUS` frames around the coarser path projected onto it. A band cell takes 13
bytes (three float32 costs and one byte of back-pointers); above :data:`MAX_BAND_CELLS` cells an
AnalyzerError says so. Measured on LibriSpeech speech: 29 minutes against 29 minutes (the front
end allows 30) took 5.2 million cells at the finest level and 4-9 s for the whole comparison
(front end included) on the 2-core reference machine; 5 minutes against 5 minutes about 2 s.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np

from forensics_app.domain.errors import AnalyzerError
from forensics_app.domain.jobs import Progress

__all__ = ["DIAG", "QUESTIONED", "REFERENCE", "DTWParams", "Path", "align", "local_costs",
           "FULL_CELLS", "MAX_BAND_CELLS", "RADIUS"]

DIAG, QUESTIONED, REFERENCE = 0, 1, 2
FULL_CELLS = 4_000_000
"""Largest level aligned without a band (cells): 52 MB of working memory."""
MAX_BAND_CELLS = 30_000_000
"""Largest band of one level (cells, about 390 MB); larger alignments raise AnalyzerError."""
RADIUS = 12
"""Half-width of the band around the projected coarser path (frames of the finer level)."""


@dataclass(frozen=True)
class DTWParams:
    """Step costs of the alignment (cosine-distance units).

    Attributes
    ----------
    gap : float
        Cost of a one-sided step over an active frame that continues a run of such steps, and
        the most the first one costs (before the step penalty).
    silence_gap : float
        Cost of a one-sided step over an inactive frame.
    step_penalty : float
        Added to each one-sided step over an active frame (prefers the diagonal in ties).
    """

    gap: float = 0.6
    silence_gap: float = 0.01
    step_penalty: float = 0.05


@dataclass(frozen=True)
class Path:
    """An alignment path.

    Attributes
    ----------
    q : np.ndarray
        Shape (k,), int64, questioned frame of each step, non-decreasing.
    r : np.ndarray
        Shape (k,), int64, reference frame of each step, non-decreasing.
    step : np.ndarray
        Shape (k,), int8, :data:`DIAG`, :data:`QUESTIONED` or :data:`REFERENCE` (the first
        step is DIAG).
    cost : np.ndarray
        Shape (k,), float32, local cost ``c(q, r)`` of each cell (uncapped).
    total : float
        Accumulated cost of the path.
    band_cells : int
        Cells evaluated at the finest level.
    """

    q: np.ndarray
    r: np.ndarray
    step: np.ndarray
    cost: np.ndarray
    total: float
    band_cells: int


@numba.njit(cache=True, nogil=True)
def _cost(vq: np.ndarray, vr: np.ndarray, aq: np.ndarray, ar: np.ndarray, i: int, j: int) -> float:
    if aq[i] and ar[j]:
        s = 0.0
        for d in range(vq.shape[1]):
            s += vq[i, d] * vr[j, d]
        return 1.0 - s
    if aq[i] or ar[j]:
        return 1.0
    return 0.0


@numba.njit(cache=True, nogil=True)
def _dtw_band(vq, vr, aq, ar, lo, hi, off, gap, silence_gap, step_penalty):
    n = vq.shape[0]
    total = off[n]
    acc = np.full((3, total), np.inf, np.float32)
    back = np.zeros(total, np.uint8)  # 2 bits per state: the state of the predecessor cell
    for i in range(n):
        for j in range(lo[i], hi[i]):
            k = off[i] + j - lo[i]
            c = _cost(vq, vr, aq, ar, i, j)
            packed = 0
            if i == 0 and j == 0:
                acc[DIAG, k] = c
            elif i > 0 and j > 0 and lo[i - 1] <= j - 1 < hi[i - 1]:
                kp = off[i - 1] + j - 1 - lo[i - 1]
                s_best = DIAG
                for s in (QUESTIONED, REFERENCE):
                    if acc[s, kp] < acc[s_best, kp]:
                        s_best = s
                acc[DIAG, k] = acc[s_best, kp] + c
                packed |= s_best
            for s_new in (QUESTIONED, REFERENCE):
                if s_new == QUESTIONED:
                    if i == 0 or not (lo[i - 1] <= j < hi[i - 1]):
                        continue
                    kp = off[i - 1] + j - lo[i - 1]
                    active = aq[i]
                else:
                    if j <= lo[i]:
                        continue
                    kp = k - 1
                    active = ar[j]
                first = min(c, gap) + step_penalty if active else silence_gap
                again = gap + step_penalty if active else silence_gap
                s_best = DIAG
                best = acc[DIAG, kp] + first
                other = REFERENCE if s_new == QUESTIONED else QUESTIONED
                v = acc[other, kp] + first
                if v < best:
                    best, s_best = v, other
                v = acc[s_new, kp] + again
                if v < best:
                    best, s_best = v, s_new
                acc[s_new, k] = best
                packed |= s_best << (2 * s_new)
            back[k] = packed
    return acc, back


@numba.njit(cache=True, nogil=True)
def _backtrack(acc, back, lo, off, n, m):
    qs = np.empty(n + m, np.int64)
    rs = np.empty(n + m, np.int64)
    st = np.empty(n + m, np.int8)
    i, j, k = n - 1, m - 1, 0
    last = off[n] - 1
    state = DIAG
    for s in (QUESTIONED, REFERENCE):
        if acc[s, last] < acc[state, last]:
            state = s
    while True:
        cell = off[i] + j - lo[i]
        qs[k] = i
        rs[k] = j
        st[k] = state
        k += 1
        if i == 0 and j == 0:
            break
        prev = (back[cell] >> (2 * state)) & 3
        if state == DIAG:
            i -= 1
            j -= 1
        elif state == QUESTIONED:
            i -= 1
        else:
            j -= 1
        if i < 0 or j < 0 or j < lo[i] or j >= lo[i] + off[i + 1] - off[i]:
            return qs[:0], rs[:0], st[:0]
        state = prev
    st[k - 1] = DIAG
    return qs[:k][::-1].copy(), rs[:k][::-1].copy(), st[:k][::-1].copy()


@numba.njit(cache=True, nogil=True)
def _path_costs(vq, vr, aq, ar, qs, rs):
    out = np.empty(qs.size, np.float32)
    for k in range(qs.size):
        out[k] = _cost(vq, vr, aq, ar, qs[k], rs[k])
    return out


def local_costs(vq: np.ndarray, vr: np.ndarray, aq: np.ndarray, ar: np.ndarray, q: np.ndarray,
                r: np.ndarray) -> np.ndarray:
    """Local cost ``c(q[k], r[k])`` of given cells (see the module docstring).

    Parameters
    ----------
    vq, vr : np.ndarray
        Shapes (n, d) and (m, d), float32 unit vectors.
    aq, ar : np.ndarray
        Shapes (n,) and (m,), bool activity.
    q, r : np.ndarray
        Shape (k,), int64 cell indices.

    Returns
    -------
    np.ndarray
        Shape (k,), float32.
    """
    return _path_costs(np.ascontiguousarray(vq, np.float32), np.ascontiguousarray(vr, np.float32),
                       np.asarray(aq, np.bool_), np.asarray(ar, np.bool_),
                       np.asarray(q, np.int64), np.asarray(r, np.int64))


def _halve(v: np.ndarray, a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pool frame pairs: mean vector (re-normalised) and activity of the majority (ties: active)."""
    n = v.shape[0]
    if n % 2:
        v = np.concatenate([v, v[-1:]])
        a = np.concatenate([a, a[-1:]])
    pv = v[0::2] + v[1::2]
    pv /= np.linalg.norm(pv, axis=1, keepdims=True) + 1e-12
    pa = a[0::2] | a[1::2]
    pv[~pa] = 0.0
    return pv.astype(np.float32), pa


def _band_from_path(qc: np.ndarray, rc: np.ndarray, n: int, m: int, radius: int) -> tuple[np.ndarray, np.ndarray]:
    """Row windows [lo, hi) of the finer level from a path of the level with half the frames."""
    n_c = int(qc.max()) + 1
    rmin = np.full(n_c, np.iinfo(np.int64).max, np.int64)
    rmax = np.full(n_c, -1, np.int64)
    np.minimum.at(rmin, qc, rc)
    np.maximum.at(rmax, qc, rc)
    i = np.arange(n)
    ic = np.minimum(i // 2, n_c - 1)
    # a fine row sees the coarse rows around it, so consecutive windows always overlap
    lo_c = np.minimum(rmin[ic], rmin[np.maximum(ic - 1, 0)])
    hi_c = np.maximum(rmax[ic], rmax[np.minimum(ic + 1, n_c - 1)])
    lo = np.clip(2 * lo_c - radius, 0, m - 1)
    hi = np.clip(2 * hi_c + 2 + radius, 1, m)
    lo = np.minimum.accumulate(lo[::-1])[::-1]  # non-decreasing from the end: still covers the path
    hi = np.maximum.accumulate(hi)
    lo[0] = 0
    hi[-1] = m
    return lo.astype(np.int64), hi.astype(np.int64)


def _run_level(vq: np.ndarray, vr: np.ndarray, aq: np.ndarray, ar: np.ndarray, lo: np.ndarray,
               hi: np.ndarray, params: DTWParams) -> tuple[np.ndarray, np.ndarray, np.ndarray, float, int]:
    n, m = vq.shape[0], vr.shape[0]
    off = np.zeros(n + 1, np.int64)
    np.cumsum(hi - lo, out=off[1:])
    cells = int(off[-1])
    if cells > MAX_BAND_CELLS:
        raise AnalyzerError(
            f"aligning {n} x {m} frames needs a band of {cells / 1e6:.0f} million cells, more than the "
            f"{MAX_BAND_CELLS / 1e6:.0f} million this workstation allows: the recordings are too long or "
            "too different to align in full; cut the passages to compare")
    acc, back = _dtw_band(vq, vr, aq, ar, lo, hi, off, params.gap, params.silence_gap, params.step_penalty)
    q, r, s = _backtrack(acc, back, lo, off, n, m)
    if q.size == 0:
        raise AnalyzerError("the alignment found no path through its band (internal error)")
    return q, r, s, float(acc[:, -1].min()), cells


def align(vq: np.ndarray, aq: np.ndarray, vr: np.ndarray, ar: np.ndarray, *,
          params: DTWParams | None = None, progress: Progress | None = None) -> Path:
    """Align two feature sequences (coarse to fine; see the module docstring).

    Parameters
    ----------
    vq, vr : np.ndarray
        Shapes (n, d) and (m, d): unit-length feature vectors of the questioned and reference
        frames (zero where inactive).
    aq, ar : np.ndarray
        Shapes (n,) and (m,), bool speech activity.
    params : DTWParams, optional
        Step costs.
    progress : Progress, optional
        Reports per level; checked for cancel between levels.

    Returns
    -------
    Path

    Raises
    ------
    AnalyzerError
        Empty sequences, mismatched dimensions, or a band above :data:`MAX_BAND_CELLS`.
    """
    params = params or DTWParams()
    vq = np.ascontiguousarray(vq, np.float32)
    vr = np.ascontiguousarray(vr, np.float32)
    aq = np.ascontiguousarray(aq, np.bool_)
    ar = np.ascontiguousarray(ar, np.bool_)
    if vq.ndim != 2 or vr.ndim != 2 or vq.shape[1] != vr.shape[1] or not len(vq) or not len(vr):
        raise AnalyzerError(f"cannot align feature sequences of shapes {vq.shape} and {vr.shape}")
    if aq.shape != (len(vq),) or ar.shape != (len(vr),):
        raise AnalyzerError("activity masks do not match the feature sequences")
    pyramid = [(vq, aq, vr, ar)]
    while len(pyramid[-1][0]) * len(pyramid[-1][2]) > FULL_CELLS and min(len(pyramid[-1][0]), len(pyramid[-1][2])) > 8:
        a, b, c, d = pyramid[-1]
        pyramid.append((*_halve(a, b), *_halve(c, d)))
    n_levels = len(pyramid)
    q = r = None
    s = np.zeros(0, np.int8)
    total, cells = 0.0, 0
    for level in range(n_levels - 1, -1, -1):
        if progress is not None:
            progress.check()
            progress.report((n_levels - 1 - level) / n_levels, f"aligning (level {n_levels - level} of {n_levels})")
        lq, laq, lr, lar = pyramid[level]
        n, m = len(lq), len(lr)
        if q is None:
            lo, hi = np.zeros(n, np.int64), np.full(n, m, np.int64)
        else:
            lo, hi = _band_from_path(q, r, n, m, RADIUS)
        q, r, s, total, cells = _run_level(lq, lr, laq, lar, lo, hi, params)
    if progress is not None:
        progress.report(1.0, "aligned")
    return Path(q=q, r=r, step=s, cost=local_costs(vq, vr, aq, ar, q, r), total=total, band_cells=cells)
