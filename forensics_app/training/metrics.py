"""Detection metrics for synthetic-speech detectors: EER, Cllr and minimum Cllr.

Conventions
-----------
* Scores: higher = more likely synthetic (spoof). A threshold ``t`` calls an item synthetic when
  ``score >= t``.
* Error rates at a threshold: ``bona_fide_as_synthetic`` = share of bona fide items with
  ``score >= t`` (false alarm), ``synthetic_as_bona_fide`` = share of spoofs with ``score < t``
  (miss).
* LLRs are natural-log likelihood ratios, synthetic versus bona fide; Cllr is in bits.

EER method: linear interpolation between adjacent empirical operating points. The thresholds are
the distinct scores of both classes plus ``+inf``; between the last point where the miss rate is
below the false-alarm rate and the first where it is not, both rates and the threshold are
interpolated linearly to the point where the rates are equal. This is the "standard
interpolation" (not the ROC convex hull), so the EER can be slightly above the ROCCH-EER on small,
non-convex data sets.

Minimum Cllr uses the pool-adjacent-violators (PAV) algorithm: the monotone (in score) posterior
that fits the evaluation data best, with tied scores pooled, turned into LLRs by removing the
empirical prior (Brümmer and du Preez, "Application-independent evaluation of speaker detection",
Computer Speech and Language 20, 2006).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike

__all__ = ["ErrorRates", "eer", "error_rates_at", "cllr", "min_cllr", "pav_llr", "check_scores"]

_LOG2 = float(np.log(2.0))


class ErrorRates(NamedTuple):
    """Error rates of a hard decision at one threshold (shares in [0, 1])."""

    bona_fide_as_synthetic: float
    synthetic_as_bona_fide: float


def check_scores(bona: ArrayLike, spoof: ArrayLike, *, what: str = "scores") -> tuple[np.ndarray, np.ndarray]:
    """Both classes as float64 1-D arrays; refuse empty classes and non-finite values.

    Raises
    ------
    ValueError
        A class has no items, or a score is NaN (``+-inf`` is refused too, except for LLRs where
        the caller allows it by passing already-checked arrays).
    """
    b = np.asarray(bona, dtype=np.float64).ravel()
    s = np.asarray(spoof, dtype=np.float64).ravel()
    if b.size == 0 or s.size == 0:
        missing = "bona fide" if b.size == 0 else "synthetic (spoof)"
        raise ValueError(f"{what}: need items of both classes; there are no {missing} items "
                         f"({b.size} bona fide, {s.size} spoof)")
    for name, arr in (("bona fide", b), ("spoof", s)):
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"{what}: {int(np.sum(~np.isfinite(arr)))} {name} value(s) are NaN or infinite")
    return b, s


def _operating_points(b: np.ndarray, s: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Thresholds (ascending, last = +inf) and the false-alarm and miss rates at each."""
    thresholds = np.append(np.unique(np.concatenate([b, s])), np.inf)
    b_sorted = np.sort(b)
    s_sorted = np.sort(s)
    p_fa = 1.0 - np.searchsorted(b_sorted, thresholds, side="left") / b.size
    p_miss = np.searchsorted(s_sorted, thresholds, side="left") / s.size
    return thresholds, p_fa, p_miss


def eer(bona_scores: ArrayLike, spoof_scores: ArrayLike) -> tuple[float, float]:
    """Equal error rate and the threshold where it occurs.

    Parameters
    ----------
    bona_scores, spoof_scores : array_like, shape (n,), (m,)
        Detector scores, higher = more likely synthetic.

    Returns
    -------
    eer : float
        Equal error rate in [0, 1] (linear interpolation between operating points, see the
        module docstring).
    threshold : float
        Score at the equal-error point (``score >= threshold`` is called synthetic). With perfect
        separation it is the lowest spoof score.

    Raises
    ------
    ValueError
        A class is empty or a score is not finite.
    """
    b, s = check_scores(bona_scores, spoof_scores, what="EER")
    thresholds, p_fa, p_miss = _operating_points(b, s)
    d = p_miss - p_fa  # non-decreasing: -1 at the lowest threshold, +1 at +inf
    k = int(np.searchsorted(d, 0.0, side="left"))  # first index with d >= 0
    if d[k] == 0.0:
        return float(p_fa[k]), float(thresholds[k])
    # d[k - 1] < 0 < d[k]: interpolate between the two operating points.
    lam = -d[k - 1] / (d[k] - d[k - 1])
    rate = p_fa[k - 1] + lam * (p_fa[k] - p_fa[k - 1])
    hi = thresholds[k] if np.isfinite(thresholds[k]) else thresholds[k - 1]
    threshold = thresholds[k - 1] + lam * (hi - thresholds[k - 1])
    return float(rate), float(threshold)


def error_rates_at(bona_scores: ArrayLike, spoof_scores: ArrayLike, threshold: float) -> ErrorRates:
    """Error rates of the decision ``score >= threshold`` -> synthetic.

    Parameters
    ----------
    bona_scores, spoof_scores : array_like
        Scores (raw or LLR), higher = more likely synthetic.
    threshold : float
        Decision threshold in the same units.

    Returns
    -------
    ErrorRates
        Share of bona fide items called synthetic and of spoofs called bona fide.
    """
    b, s = check_scores(bona_scores, spoof_scores, what="error rates")
    t = float(threshold)
    return ErrorRates(float(np.mean(b >= t)), float(np.mean(s < t)))


def _check_llrs(llr_bona: ArrayLike, llr_spoof: ArrayLike, what: str) -> tuple[np.ndarray, np.ndarray]:
    b = np.asarray(llr_bona, dtype=np.float64).ravel()
    s = np.asarray(llr_spoof, dtype=np.float64).ravel()
    if b.size == 0 or s.size == 0:
        check_scores(b, s, what=what)  # raises the single-class message
    if np.isnan(b).any() or np.isnan(s).any():
        raise ValueError(f"{what}: LLRs contain NaN")
    return b, s


def cllr(llr_bona: ArrayLike, llr_spoof: ArrayLike) -> float:
    """Log-likelihood-ratio cost in bits.

    ``Cllr = 1/2 [mean_bona log2(1 + e^llr) + mean_spoof log2(1 + e^-llr)]``. 0 for perfect,
    confident LLRs; exactly 1 bit for a detector that always says LLR 0; above 1 for
    miscalibrated scores.

    Parameters
    ----------
    llr_bona, llr_spoof : array_like
        Natural-log LLRs (synthetic vs bona fide) of bona fide and spoof items. ``+-inf`` is
        allowed (it costs 0 or infinity).

    Returns
    -------
    float
        Cllr in bits.
    """
    b, s = _check_llrs(llr_bona, llr_spoof, "Cllr")
    c_bona = float(np.mean(np.logaddexp(0.0, b)))
    c_spoof = float(np.mean(np.logaddexp(0.0, -s)))
    return 0.5 * (c_bona + c_spoof) / _LOG2


def pav_llr(bona_scores: ArrayLike, spoof_scores: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Optimal monotone LLRs of the evaluation data (PAV), for min Cllr.

    Tied scores are pooled before PAV, so they always get the same LLR.

    Returns
    -------
    llr_bona, llr_spoof : ndarray, shape (n,), (m,)
        LLRs of the bona fide and spoof items, in their input order (may be ``+-inf``).
    """
    b, s = check_scores(bona_scores, spoof_scores, what="PAV")
    scores = np.concatenate([b, s])
    is_spoof = np.concatenate([np.zeros(b.size), np.ones(s.size)])
    uniq, inverse = np.unique(scores, return_inverse=True)
    weight = np.bincount(inverse).astype(np.float64)
    total = np.bincount(inverse, weights=is_spoof)
    # Pool adjacent violators on the distinct scores (ascending): block means must not decrease.
    means: list[float] = []
    weights: list[float] = []
    sizes: list[int] = []
    for w, t in zip(weight, total, strict=True):
        m, n_w, n = t / w, w, 1
        while means and means[-1] >= m:
            pm, pw, pn = means.pop(), weights.pop(), sizes.pop()
            m = (pm * pw + m * n_w) / (pw + n_w)
            n_w += pw
            n += pn
        means.append(m)
        weights.append(n_w)
        sizes.append(n)
    posterior = np.repeat(np.asarray(means), np.asarray(sizes))  # per distinct score
    prior_logit = np.log(s.size / b.size)
    with np.errstate(divide="ignore"):
        logit = np.log(posterior) - np.log1p(-posterior)
    llr = (logit - prior_logit)[inverse]
    return llr[: b.size], llr[b.size:]


def min_cllr(bona_scores: ArrayLike, spoof_scores: ArrayLike) -> float:
    """Minimum Cllr (bits): the Cllr after the best monotone calibration of these scores (PAV).

    It measures discrimination only; ``cllr - min_cllr`` is the calibration loss. Always
    ``<= 1`` and ``<=`` the Cllr of any monotone transform of the same scores.
    """
    lb, ls = pav_llr(bona_scores, spoof_scores)
    return cllr(lb, ls)
