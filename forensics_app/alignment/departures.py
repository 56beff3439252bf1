"""Where an alignment path leaves shared material: inserted, deleted and replaced spans.

Along the path every step has a *mismatch*: the local cost of its cell (cosine distance of the
two frames, see :mod:`forensics_app.alignment.dtw`), except that a one-sided step over an
inactive frame (a pause stretched or shrunk) counts 0. The mismatch is smoothed with a running
median of :data:`SMOOTH_STEPS` steps. Steps above ``threshold`` are *unmatched*, and so are runs
of more than :data:`MAX_HOLD_STEPS` one-sided steps over speech (one recording holds a frame
while the other advances more than 80 ms of speech: no tempo change does that, inserted or
deleted material does, even where it happens to resemble the frame held).

Unmatched runs with less than ``min_span_s`` of speech on both sides are noise and cleared. A
matched island between two unmatched runs that pairs less than ``min_island_s`` of speech with
speech joins them (chance matches of a shared phoneme). Each unmatched run is then classified by
the speech its originally unmatched steps cover on each side (a shared phoneme inside an
inserted word must not make it a replacement):

* unmatched speech on both sides (each at least ``min_side_s`` and 40 % of the other side):
  **replaced**;
* mostly questioned speech: **inserted** (the reference time is the point where it was inserted:
  the run's first reference frame);
* mostly reference speech: **deleted** (the questioned time is the point of the cut, the run's
  first questioned frame: a zero-length span).

Matched runs pairing at least ``min_island_s`` of speech are *shared material*: its total
(``shared_s``), its share of the questioned speech (``coverage``) and its longest run say
whether the two recordings hold the same material at all.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import median_filter

from forensics_app.alignment.dtw import QUESTIONED, REFERENCE, Path

__all__ = ["Departure", "DepartureParams", "PathSummary", "adaptive_threshold", "mismatch", "unmatched_steps",
           "matched_runs",
           "find_departures", "summarise", "SMOOTH_STEPS"]

SMOOTH_STEPS = 9
"""Running-median width along the path (steps; 90 ms on the diagonal)."""
MAX_HOLD_STEPS = 8
"""Longest run of one-sided steps over speech that still counts as time warping (steps)."""


@dataclass(frozen=True)
class DepartureParams:
    """Thresholds of departure detection.

    Attributes
    ----------
    threshold : float
        Smoothed mismatch (cosine distance) above which a step is unmatched.
    min_span_s : float
        Least speech (s) a departure must hold on at least one side.
    min_side_s : float
        Least unmatched speech (s) on *both* sides for a departure to count as a replacement.
    min_island_s : float
        Matched runs pairing less speech than this (s) do not count as shared material, and
        between two unmatched runs they join them into one departure: unrelated speech of one
        voice matches by chance for a phoneme or two.
    """

    threshold: float = 0.5
    min_span_s: float = 0.12
    min_side_s: float = 0.1
    min_island_s: float = 0.4


@dataclass(frozen=True)
class Departure:
    """One departure of the questioned recording from the reference.

    Attributes
    ----------
    kind : str
        "inserted", "deleted" or "replaced".
    start_s, end_s : float
        Span in the questioned recording (s); equal for a deletion (the cut).
    reference_start_s, reference_end_s : float
        Span in the reference (s); equal for an insertion (where it was inserted).
    questioned_speech_s, reference_speech_s : float
        Active speech inside each span (s).
    mismatch : float
        Mean smoothed mismatch (cosine distance) of the run's steps.
    """

    kind: str
    start_s: float
    end_s: float
    reference_start_s: float
    reference_end_s: float
    questioned_speech_s: float
    reference_speech_s: float
    mismatch: float


@dataclass(frozen=True)
class PathSummary:
    """What the path says about the two recordings as a whole.

    Attributes
    ----------
    shared_s : float
        Questioned speech matched to reference material (s).
    coverage : float
        ``shared_s`` over all questioned speech, in [0, 1].
    reference_coverage : float
        Share of the reference speech matched to questioned material, in [0, 1].
    slope : float or None
        Reference seconds per questioned second over the matched material (1 = same speed,
        0.9 = the questioned copy is played 10 % slower); None without matched runs of 0.5 s.
    path_deviation_s : float or None
        RMS distance (s, in the reference) of matched steps from the straight line through them.
    median_mismatch : float
        Median mismatch of matched active steps (cosine distance).
    longest_shared_s : float
        Speech (s) paired by the longest run of shared material.
    """

    shared_s: float
    coverage: float
    reference_coverage: float
    slope: float | None
    path_deviation_s: float | None
    median_mismatch: float
    longest_shared_s: float


def adaptive_threshold(path: Path, aq: np.ndarray, ar: np.ndarray, *, hop_s: float,
                       params: DepartureParams | None = None, margin: float = 0.4, cap: float = 0.7) -> float:
    """Mismatch threshold for departures, raised where the shared material matches less well.

    A copy that went through a harsh channel (phase-vocoder time stretching, heavy coding) has a
    raised mismatch everywhere; a departure must stand out from that. The threshold is the median
    smoothed mismatch of the speech-to-speech steps of the shared material found at the base
    threshold (``params.threshold``) plus ``margin``, kept within ``[params.threshold, cap]``.

    Returns
    -------
    float
        Threshold in cosine-distance units.
    """
    params = params or DepartureParams()
    shared = matched_runs(path, aq, ar, hop_s=hop_s, params=params) & _speech_steps(path, aq, ar)
    if not shared.any():
        return params.threshold
    sm = mismatch(path, aq, ar)
    return float(np.clip(np.median(sm[shared]) + margin, params.threshold, cap))


def mismatch(path: Path, aq: np.ndarray, ar: np.ndarray) -> np.ndarray:
    """Per-step mismatch, smoothed (see the module docstring).

    Parameters
    ----------
    path : Path
        The alignment.
    aq, ar : np.ndarray
        Shapes (n,), (m,), bool speech activity of the questioned and reference frames.

    Returns
    -------
    np.ndarray
        Shape (k,), float64.
    """
    m = path.cost.astype(np.float64).copy()
    q_hold = (path.step == QUESTIONED) & aq[path.q]
    r_hold = (path.step == REFERENCE) & ar[path.r]
    m[(path.step == QUESTIONED) & ~aq[path.q]] = 0.0
    m[(path.step == REFERENCE) & ~ar[path.r]] = 0.0
    sm = median_filter(m, size=SMOOTH_STEPS, mode="nearest")
    for hold in (q_hold, r_hold):
        for a, b in _runs(hold):
            if b - a > MAX_HOLD_STEPS:
                sm[a:b] = np.maximum(sm[a:b], 1.0)
    return sm


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """[start, stop) of each run of True."""
    d = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(d == 1).tolist(), np.flatnonzero(d == -1).tolist(), strict=True))


def _speech_steps(path: Path, aq: np.ndarray, ar: np.ndarray) -> np.ndarray:
    """Steps that pair questioned speech with reference speech, shape (k,), bool."""
    return aq[path.q] & ar[path.r]


def unmatched_steps(path: Path, aq: np.ndarray, ar: np.ndarray, *, hop_s: float,
                    params: DepartureParams) -> tuple[np.ndarray, np.ndarray]:
    """Unmatched steps: runs with less than ``min_span_s`` of speech on both sides are cleared, then
    short matched islands between the remaining runs are absorbed.

    Returns
    -------
    unmatched : np.ndarray
        Shape (k,), bool.
    smoothed : np.ndarray
        Shape (k,), float64 smoothed mismatch.
    """
    sm = mismatch(path, aq, ar)
    bad = sm > params.threshold
    for a, b in _runs(bad):  # blips: too little speech on either side to be a departure
        uq, ur = np.unique(path.q[a:b]), np.unique(path.r[a:b])
        if max(np.count_nonzero(aq[uq]), np.count_nonzero(ar[ur])) * hop_s < params.min_span_s:
            bad[a:b] = False
    speech = _speech_steps(path, aq, ar)
    for a, b in _runs(~bad):
        if a > 0 and b < bad.size and np.count_nonzero(speech[a:b]) * hop_s < params.min_island_s:
            bad[a:b] = True
    return bad, sm


def matched_runs(path: Path, aq: np.ndarray, ar: np.ndarray, *, hop_s: float,
                 params: DepartureParams) -> np.ndarray:
    """Steps of shared material: matched runs holding at least ``min_island_s`` of speech on both sides.

    Returns
    -------
    np.ndarray
        Shape (k,), bool.
    """
    bad, _ = unmatched_steps(path, aq, ar, hop_s=hop_s, params=params)
    matched = ~bad
    speech = _speech_steps(path, aq, ar)
    for a, b in _runs(matched):
        if np.count_nonzero(speech[a:b]) * hop_s < params.min_island_s:
            matched[a:b] = False
    return matched


def find_departures(path: Path, aq: np.ndarray, ar: np.ndarray, *, hop_s: float,
                    params: DepartureParams | None = None) -> list[Departure]:
    """Inserted, deleted and replaced spans along a path.

    Parameters
    ----------
    path : Path
        The alignment (frames every ``hop_s`` s in both recordings).
    aq, ar : np.ndarray
        Shapes (n,), (m,), bool speech activity.
    hop_s : float
        Frame hop (s).
    params : DepartureParams, optional

    Returns
    -------
    list of Departure
        In order of questioned time.
    """
    params = params or DepartureParams()
    bad, sm = unmatched_steps(path, aq, ar, hop_s=hop_s, params=params)
    raw = sm > params.threshold
    out = []
    for a, b in _runs(bad):
        q, r = path.q[a:b], path.r[a:b]
        uq, ur = np.unique(q), np.unique(r)
        q_act, r_act = uq[aq[uq]], ur[ar[ur]]
        if max(q_act.size, r_act.size) * hop_s < params.min_span_s:
            continue
        # what each side lacks: speech on the steps that were unmatched before islands were absorbed
        rq, rr = np.unique(q[raw[a:b]]), np.unique(r[raw[a:b]])
        q_only, r_only = np.count_nonzero(aq[rq]) * hop_s, np.count_nonzero(ar[rr]) * hop_s
        if min(q_only, r_only) >= max(params.min_side_s, 0.4 * max(q_only, r_only)):
            kind = "replaced"
        elif q_only >= r_only:
            kind = "inserted"
        else:
            kind = "deleted"
        if kind == "deleted":
            qs = qe = float(q[0]) * hop_s
        else:
            qs, qe = (q_act[0] - 0.5) * hop_s, (q_act[-1] + 0.5) * hop_s
        if kind == "inserted":
            rs = re_ = float(r[0]) * hop_s
        else:
            rs, re_ = (r_act[0] - 0.5) * hop_s, (r_act[-1] + 0.5) * hop_s
        out.append(Departure(kind=kind, start_s=max(float(qs), 0.0), end_s=max(float(qe), 0.0),
                             reference_start_s=max(float(rs), 0.0), reference_end_s=max(float(re_), 0.0),
                             questioned_speech_s=q_act.size * hop_s, reference_speech_s=r_act.size * hop_s,
                             mismatch=float(np.mean(sm[a:b]))))
    return out


def _long_holds(path: Path) -> np.ndarray:
    """Steps in runs of more than :data:`MAX_HOLD_STEPS` one-sided steps of one kind, shape (k,), bool."""
    out = np.zeros(path.step.size, bool)
    for kind in (QUESTIONED, REFERENCE):
        for a, b in _runs(path.step == kind):
            if b - a > MAX_HOLD_STEPS:
                out[a:b] = True
    return out


def _straight_fit(path: Path, matched: np.ndarray, hop_s: float) -> tuple[float | None, float | None]:
    """Slope (reference s per questioned s) and RMS deviation (s) from straight lines.

    The matched steps are cut into segments at long holds (a pause stretched or shrunk by more
    than 80 ms moves the line, not its slope); segments of 0.5 s or more give the slope as
    ``sum(delta r) / sum(delta q)``, and each segment's own line (that slope, through its mean)
    gives the deviation.
    """
    segments = [(a, b) for a, b in _runs(matched & ~_long_holds(path))
                if (path.q[b - 1] - path.q[a]) * hop_s >= 0.5]
    dq = sum(float(path.q[b - 1] - path.q[a]) for a, b in segments)
    dr = sum(float(path.r[b - 1] - path.r[a]) for a, b in segments)
    if dq <= 0:
        return None, None
    slope = dr / dq
    dev = []
    for a, b in segments:
        qq, rr = path.q[a:b].astype(np.float64), path.r[a:b].astype(np.float64)
        dev.append(rr - (np.mean(rr) + slope * (qq - np.mean(qq))))
    return slope, float(np.sqrt(np.mean(np.square(np.concatenate(dev))))) * hop_s


def summarise(path: Path, aq: np.ndarray, ar: np.ndarray, *, hop_s: float,
              params: DepartureParams | None = None) -> PathSummary:
    """Shared material, coverage and straightness of a path (see :class:`PathSummary`).

    Only matched runs that pair at least ``min_island_s`` of speech count as shared material
    (:func:`matched_runs`): chance matches of single phonemes occur between unrelated recordings.
    """
    params = params or DepartureParams()
    matched = matched_runs(path, aq, ar, hop_s=hop_s, params=params)
    on_q = matched & aq[path.q]
    shared_q = np.unique(path.q[on_q])
    shared_r = np.unique(path.r[matched & ar[path.r]])
    total_q = max(int(np.count_nonzero(aq)), 1)
    total_r = max(int(np.count_nonzero(ar)), 1)
    slope, deviation = _straight_fit(path, matched, hop_s)
    speech = _speech_steps(path, aq, ar)
    med = float(np.median(path.cost[matched & speech])) if np.any(matched & speech) else float("nan")
    longest = max((np.count_nonzero(speech[a:b]) for a, b in _runs(matched)), default=0) * hop_s
    return PathSummary(shared_s=shared_q.size * hop_s, coverage=shared_q.size / total_q,
                       reference_coverage=shared_r.size / total_r, slope=slope, path_deviation_s=deviation,
                       median_mismatch=med, longest_shared_s=float(longest))
