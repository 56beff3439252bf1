"""Compare a questioned recording with a reference: front end, alignment, shared material, departures.

1. Both recordings go through the common front end (:mod:`forensics_app.alignment.frontend`).
2. Their frames are aligned by banded DTW (:mod:`forensics_app.alignment.dtw`).
3. Shared material is measured at the base mismatch threshold
   (:func:`forensics_app.alignment.departures.summarise`). The recordings *share enough material
   to compare* when the shared material holds a continuous run of at least
   ``min_longest_s`` of speech (or half the questioned speech, for short clips) and covers at
   least ``min_coverage`` of the questioned speech or ``min_shared_s`` seconds. Otherwise no
   departures are looked for: with unrelated recordings every span would be one.
4. Otherwise the departure threshold adapts to how well the copy matches overall
   (:func:`forensics_app.alignment.departures.adaptive_threshold`), and departures, shared
   material and the straight-line fit are measured at that threshold.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from forensics_app.alignment import departures as dep
from forensics_app.alignment import dtw
from forensics_app.alignment.frontend import HOP_S, Features, Prepared, analyse
from forensics_app.domain.jobs import Progress

__all__ = ["ComparisonParams", "Comparison", "compare", "compare_features"]


@dataclass(frozen=True)
class ComparisonParams:
    """Settings of a comparison.

    Attributes
    ----------
    dtw : DTWParams
        Step costs of the alignment.
    departures : DepartureParams
        Departure detection; its ``threshold`` is the base threshold.
    adaptive : bool
        Raise the departure threshold for copies that match less well overall (up to 0.7).
    min_coverage : float
        Share of the questioned speech that must be shared material (unless ``min_shared_s`` is).
    min_shared_s : float
        Seconds of shared speech that suffice whatever the coverage.
    min_longest_s : float
        Longest continuous run of shared speech required (s).
    """

    dtw: dtw.DTWParams = field(default_factory=dtw.DTWParams)
    departures: dep.DepartureParams = field(default_factory=dep.DepartureParams)
    adaptive: bool = True
    min_coverage: float = 0.3
    min_shared_s: float = 5.0
    min_longest_s: float = 1.0


@dataclass(frozen=True)
class Comparison:
    """Everything the comparison measured.

    Attributes
    ----------
    questioned, reference : Prepared
        The recordings at 16 kHz, level-normalised.
    questioned_features, reference_features : Features
        Their frames.
    path : Path
        The alignment.
    base_summary : PathSummary
        Shared material at the base threshold (decides ``enough_shared``).
    enough_shared : bool
        Whether the recordings share enough material to compare.
    threshold : float
        Departure threshold used (cosine distance).
    summary : PathSummary
        Shared material and straight-line fit at ``threshold``.
    shared : np.ndarray
        Shape (k,), bool: path steps of shared material at ``threshold``.
    departures : list of Departure
        Empty unless ``enough_shared``.
    """

    questioned: Prepared
    reference: Prepared
    questioned_features: Features
    reference_features: Features
    path: dtw.Path
    base_summary: dep.PathSummary
    enough_shared: bool
    threshold: float
    summary: dep.PathSummary
    shared: np.ndarray
    departures: list[dep.Departure]


def _enough(summary: dep.PathSummary, questioned_speech_s: float, params: ComparisonParams) -> bool:
    longest_needed = min(params.min_longest_s, 0.5 * questioned_speech_s)
    return summary.longest_shared_s >= longest_needed and (
        summary.coverage >= params.min_coverage or summary.shared_s >= params.min_shared_s)


def compare_features(questioned: Prepared, q_features: Features, reference: Prepared, r_features: Features, *,
                     params: ComparisonParams | None = None, progress: Progress | None = None) -> Comparison:
    """Align two analysed recordings and find departures (steps 2-4 of the module docstring).

    Parameters
    ----------
    questioned, reference : Prepared
    q_features, r_features : Features
    params : ComparisonParams, optional
    progress : Progress, optional
        Reports the alignment levels; checked for cancel.

    Returns
    -------
    Comparison
    """
    params = params or ComparisonParams()
    aq, ar = q_features.active, r_features.active
    path = dtw.align(q_features.vectors, aq, r_features.vectors, ar, params=params.dtw, progress=progress)
    base = dep.summarise(path, aq, ar, hop_s=HOP_S, params=params.departures)
    enough = _enough(base, q_features.active_s, params)
    threshold = params.departures.threshold
    if enough and params.adaptive:
        threshold = dep.adaptive_threshold(path, aq, ar, hop_s=HOP_S, params=params.departures)
    dparams = replace(params.departures, threshold=threshold)
    summary = dep.summarise(path, aq, ar, hop_s=HOP_S, params=dparams) if threshold != params.departures.threshold \
        else base
    shared = dep.matched_runs(path, aq, ar, hop_s=HOP_S, params=dparams)
    found = dep.find_departures(path, aq, ar, hop_s=HOP_S, params=dparams) if enough else []
    return Comparison(questioned=questioned, reference=reference, questioned_features=q_features,
                      reference_features=r_features, path=path, base_summary=base, enough_shared=enough,
                      threshold=threshold, summary=summary, shared=shared, departures=found)


def compare(questioned: np.ndarray, questioned_rate: int, reference: np.ndarray, reference_rate: int, *,
            params: ComparisonParams | None = None, progress: Progress | None = None) -> Comparison:
    """Compare two recordings given as samples (any rate, channels, level).

    Parameters
    ----------
    questioned, reference : np.ndarray
        Shape (n,) or (n, channels), float samples.
    questioned_rate, reference_rate : int
        Their sample rates (Hz).
    params : ComparisonParams, optional
    progress : Progress, optional
        Checked for cancel between the stages.

    Returns
    -------
    Comparison
    """
    if progress is not None:
        progress.check()
        progress.report(0.0, "analysing the questioned recording")
    pq, fq = analyse(questioned, rate=questioned_rate)
    if progress is not None:
        progress.check()
        progress.report(0.1, "analysing the reference recording")
    pr, fr = analyse(reference, rate=reference_rate)
    return compare_features(pq, fq, pr, fr, params=params, progress=progress)
