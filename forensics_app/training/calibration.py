"""Score calibration (raw detector score -> LLR) and the verdict bands.

* :class:`Calibration` maps a raw fake score to a natural-log likelihood ratio
  ``llr = a * raw + b`` (synthetic vs bona fide); FakeLikelihood = ``sigmoid(llr)``, the
  posterior at equal priors.
* :func:`fit_calibration` fits ``a`` and ``b`` by prior-weighted logistic regression (Brümmer's
  linear calibration, as in the FoCal / BOSARIS toolkits): each class carries half of the total
  weight whatever its size, so the fit does not depend on the class balance of the calibration set.
  Newton's method (IRLS) in numpy on standardised scores, with a small L2 penalty on the slope so
  that perfectly separable data still give finite parameters.
* :class:`Bands` turn an LLR into "supports synthetic" / "inconclusive" / "supports bona fide";
  :func:`choose_bands` picks the thresholds on validation data for a target error rate and
  records the rates it measured.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from forensics_app.training.metrics import check_scores, eer

__all__ = [
    "Calibration", "fit_calibration", "Bands", "BandRates", "choose_bands", "sigmoid",
    "SUPPORTS_SYNTHETIC", "INCONCLUSIVE", "SUPPORTS_BONA_FIDE", "VERDICTS",
]

SUPPORTS_SYNTHETIC = "supports synthetic"
INCONCLUSIVE = "inconclusive"
SUPPORTS_BONA_FIDE = "supports bona fide"
VERDICTS = (SUPPORTS_SYNTHETIC, INCONCLUSIVE, SUPPORTS_BONA_FIDE)

#: L2 penalty on the slope in standardised-score units (weights sum to 1 over both classes).
DEFAULT_L2 = 1e-4


def sigmoid(x: ArrayLike) -> np.ndarray:
    """Numerically stable logistic function."""
    x = np.asarray(x, dtype=np.float64)
    return np.exp(-np.logaddexp(0.0, -x))


def _like_input(raw: Any, out: np.ndarray) -> Any:
    return float(out) if np.ndim(raw) == 0 else out


@dataclass(frozen=True)
class Calibration:
    """Affine map from a raw fake score to an LLR.

    Attributes
    ----------
    a : float
        Slope (LLR nats per raw-score unit); positive for a sensible detector.
    b : float
        Offset (nats).
    """

    a: float
    b: float

    def __post_init__(self) -> None:
        if not (np.isfinite(self.a) and np.isfinite(self.b)):
            raise ValueError(f"calibration parameters must be finite (a={self.a}, b={self.b})")

    def llr(self, raw: ArrayLike) -> Any:
        """LLR (nats) of raw score(s); a float for a scalar, else an array of the same shape."""
        out = self.a * np.asarray(raw, dtype=np.float64) + self.b
        return _like_input(raw, out)

    def fake_likelihood(self, raw: ArrayLike) -> Any:
        """FakeLikelihood in [0, 1] = ``sigmoid(llr(raw))`` (posterior at equal priors)."""
        out = sigmoid(self.a * np.asarray(raw, dtype=np.float64) + self.b)
        return _like_input(raw, out)

    def as_dict(self) -> dict[str, float]:
        """JSON form ``{"a": ..., "b": ...}``."""
        return {"a": float(self.a), "b": float(self.b)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Calibration:
        """Inverse of :meth:`as_dict`; raises ValueError on missing or non-numeric fields."""
        try:
            return cls(float(data["a"]), float(data["b"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"calibration must be {{'a': number, 'b': number}}, got {data!r}") from exc


def logistic_objective(x: np.ndarray, y: np.ndarray, w: np.ndarray, theta: np.ndarray, *, l2: float,
                       offset: float = 0.0) -> float:
    """Weighted logistic loss of ``x @ theta + offset`` plus ``l2 / 2 * |theta[:-1]|^2`` (bias last, not penalised).

    Shapes as in :func:`weighted_logistic_newton`.
    """
    t = x @ theta + offset
    loss = np.where(y == 1.0, np.logaddexp(0.0, -t), np.logaddexp(0.0, t))
    return float(w @ loss + 0.5 * l2 * float(theta[:-1] @ theta[:-1]))


def weighted_logistic_newton(x: np.ndarray, y: np.ndarray, w: np.ndarray, *, l2: float, offset: float = 0.0,
                             max_iter: int = 100) -> np.ndarray:
    """Minimise a weighted logistic loss plus ``l2 / 2 * |theta[:-1]|^2`` by Newton's method.

    The linear model is ``t = x @ theta + offset``; the last column of ``x`` is the bias (not
    penalised). Newton steps are backtracked (halved until the objective does not rise), as they
    can overshoot on near-separable data. Used by the calibration (one score) and by the fusion
    of several calibrated LLRs.

    Parameters
    ----------
    x : np.ndarray
        Shape (n, k), float64: features, bias column last.
    y : np.ndarray
        Shape (n,), 1.0 for the positive (spoof) class, 0.0 otherwise.
    w : np.ndarray
        Shape (n,), per-item weights of the loss (class balance).
    l2 : float
        Penalty on all coefficients but the bias.
    offset : float
        Added to every linear prediction (a prior log-odds).
    max_iter : int
        Newton iterations at most.

    Returns
    -------
    np.ndarray
        Shape (k,): the coefficients, bias last.
    """
    k = x.shape[1]
    penalty = np.diag([l2] * (k - 1) + [0.0])

    def objective(theta: np.ndarray) -> float:
        return logistic_objective(x, y, w, theta, l2=l2, offset=offset)

    theta = np.zeros(k)
    f = objective(theta)
    for _ in range(max_iter):
        p = sigmoid(x @ theta + offset)
        grad = x.T @ (w * (p - y)) + penalty @ theta
        hess = (x * (w * p * (1.0 - p))[:, None]).T @ x + penalty + 1e-12 * np.eye(k)
        step = np.linalg.solve(hess, grad)
        scale = 1.0
        while scale > 1e-8:
            cand = theta - scale * step
            f_cand = objective(cand)
            if f_cand <= f:
                break
            scale *= 0.5
        else:
            break
        converged = np.max(np.abs(cand - theta)) < 1e-10
        theta, f = cand, f_cand
        if converged:
            break
    return theta


def fit_calibration(raw_bona: ArrayLike, raw_spoof: ArrayLike, *, prior: float = 0.5,
                    l2: float = DEFAULT_L2, max_iter: int = 100) -> Calibration:
    """Fit ``llr = a * raw + b`` by prior-weighted logistic regression.

    Minimises ``P * mean_spoof log(1 + e^-(llr + logit P)) + (1 - P) * mean_bona
    log(1 + e^(llr + logit P)) + l2 / 2 * a_z^2`` where ``a_z`` is the slope on standardised
    scores. With ``P = 0.5`` each class weighs half whatever its size.

    Parameters
    ----------
    raw_bona, raw_spoof : array_like
        Raw fake scores of bona fide and spoof calibration items.
    prior : float
        Synthetic prior P of the training objective (the result is an LLR, prior-free).
    l2 : float
        Slope penalty; keeps separable data finite (1e-4 moves a non-separable fit by ~0.1 %).
    max_iter : int
        Newton iterations at most.

    Returns
    -------
    Calibration

    Raises
    ------
    ValueError
        A class is empty, a score is not finite, or all scores are equal.
    """
    b_raw, s_raw = check_scores(raw_bona, raw_spoof, what="calibration")
    if not 0.0 < prior < 1.0:
        raise ValueError(f"prior must be in (0, 1), got {prior}")
    x_all = np.concatenate([b_raw, s_raw])
    mu = float(np.mean(x_all))
    sd = float(np.std(x_all))
    if not sd > 0.0:
        raise ValueError("calibration: all raw scores are equal; a slope cannot be fitted")
    z = (x_all - mu) / sd
    y = np.concatenate([np.zeros(b_raw.size), np.ones(s_raw.size)])
    w = np.concatenate([np.full(b_raw.size, (1.0 - prior) / b_raw.size),
                        np.full(s_raw.size, prior / s_raw.size)])
    offset = float(np.log(prior / (1.0 - prior)))
    X = np.stack([z, np.ones_like(z)], axis=1)
    theta = weighted_logistic_newton(X, y, w, l2=l2, offset=offset, max_iter=max_iter)
    a_z, b_z = float(theta[0]), float(theta[1])
    return Calibration(a=a_z / sd, b=b_z - a_z * mu / sd)


@dataclass(frozen=True)
class BandRates:
    """Rates measured on the validation data when the bands were chosen (shares in [0, 1]).

    Attributes
    ----------
    max_error : float
        The target the bands were chosen for.
    n_bona, n_spoof : int
        Validation items per class.
    bona_fide_called_synthetic, spoof_called_bona_fide : float
        Wrong verdicts per class.
    inconclusive_bona_fide, inconclusive_spoof : float
        Share of each class falling between the thresholds.
    collapsed_to_eer : bool
        True when the two target thresholds crossed and both were set to the EER threshold.
    """

    max_error: float
    n_bona: int
    n_spoof: int
    bona_fide_called_synthetic: float
    spoof_called_bona_fide: float
    inconclusive_bona_fide: float
    inconclusive_spoof: float
    collapsed_to_eer: bool

    def as_dict(self) -> dict[str, Any]:
        """JSON form (field names as keys)."""
        return {k: getattr(self, k) for k in self.__dataclass_fields__}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> BandRates:
        """Inverse of :meth:`as_dict`."""
        try:
            return cls(
                max_error=float(data["max_error"]), n_bona=int(data["n_bona"]), n_spoof=int(data["n_spoof"]),
                bona_fide_called_synthetic=float(data["bona_fide_called_synthetic"]),
                spoof_called_bona_fide=float(data["spoof_called_bona_fide"]),
                inconclusive_bona_fide=float(data["inconclusive_bona_fide"]),
                inconclusive_spoof=float(data["inconclusive_spoof"]),
                collapsed_to_eer=bool(data["collapsed_to_eer"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"band rates incomplete or not numeric: {data!r}") from exc


@dataclass(frozen=True)
class Bands:
    """LLR thresholds of the three verdicts.

    ``llr >= t_high`` -> "supports synthetic", else ``llr <= t_low`` -> "supports bona fide",
    else "inconclusive". ``t_low <= t_high``.

    Attributes
    ----------
    t_low, t_high : float
        Thresholds in LLR nats.
    rates : BandRates or None
        What the thresholds did on the validation data, when known.
    """

    t_low: float
    t_high: float
    rates: BandRates | None = None

    def __post_init__(self) -> None:
        if not (np.isfinite(self.t_low) and np.isfinite(self.t_high)):
            raise ValueError(f"band thresholds must be finite (t_low={self.t_low}, t_high={self.t_high})")
        if self.t_low > self.t_high:
            raise ValueError(f"t_low ({self.t_low}) must not exceed t_high ({self.t_high})")

    def verdict(self, llr: float) -> str:
        """The verdict for one LLR (nats)."""
        if llr >= self.t_high:
            return SUPPORTS_SYNTHETIC
        if llr <= self.t_low:
            return SUPPORTS_BONA_FIDE
        return INCONCLUSIVE

    def verdicts(self, llr: ArrayLike) -> np.ndarray:
        """Verdicts of many LLRs, as an object array of the same shape."""
        x = np.asarray(llr, dtype=np.float64)
        out = np.full(x.shape, INCONCLUSIVE, dtype=object)
        out[x <= self.t_low] = SUPPORTS_BONA_FIDE
        out[x >= self.t_high] = SUPPORTS_SYNTHETIC
        return out

    def as_dict(self) -> dict[str, Any]:
        """JSON form ``{"t_low", "t_high", "rates": {...} or None}``."""
        return {"t_low": float(self.t_low), "t_high": float(self.t_high),
                "rates": None if self.rates is None else self.rates.as_dict()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Bands:
        """Inverse of :meth:`as_dict`; raises ValueError on bad fields."""
        try:
            t_low, t_high = float(data["t_low"]), float(data["t_high"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"bands must have numeric t_low and t_high, got {data!r}") from exc
        rates = data.get("rates")
        return cls(t_low, t_high, None if rates is None else BandRates.from_dict(rates))


def _above(value: float, pool: np.ndarray) -> float:
    """Midpoint between ``value`` and the next higher score in ``pool`` (or just above it)."""
    higher = pool[pool > value]
    return 0.5 * (value + float(higher.min())) if higher.size else float(np.nextafter(value, np.inf))


def _below(value: float, pool: np.ndarray) -> float:
    """Midpoint between ``value`` and the next lower score in ``pool`` (or just below it)."""
    lower = pool[pool < value]
    return 0.5 * (value + float(lower.max())) if lower.size else float(np.nextafter(value, -np.inf))


def choose_bands(llr_bona: ArrayLike, llr_spoof: ArrayLike, *, max_error: float = 0.01) -> Bands:
    """Verdict thresholds from validation LLRs for a target error rate.

    ``t_high`` is the lowest threshold at which at most ``max_error`` of the bona fide items
    score ``>= t_high``; ``t_low`` the highest at which at most ``max_error`` of the spoofs score
    ``<= t_low``. Every threshold in the open interval between two adjacent validation scores
    gives the same validation rates, so each threshold is placed halfway to the next validation
    score (rather than on a bona fide or spoof score). If the two cross (``t_low > t_high``,
    well separated classes), both are set to the EER threshold and nothing is inconclusive.

    Parameters
    ----------
    llr_bona, llr_spoof : array_like
        Calibrated LLRs (nats) of the validation items.
    max_error : float
        Target share of wrong verdicts per class, in [0, 1).

    Returns
    -------
    Bands
        With :class:`BandRates` measured on these items.
    """
    b, s = check_scores(llr_bona, llr_spoof, what="verdict bands")
    if not 0.0 <= max_error < 1.0:
        raise ValueError(f"max_error must be in [0, 1), got {max_error}")
    pool = np.concatenate([b, s])
    b_sorted, s_sorted = np.sort(b), np.sort(s)
    k_b = int(np.floor(max_error * b.size + 1e-9))  # bona items allowed at or above t_high
    k_s = int(np.floor(max_error * s.size + 1e-9))  # spoofs allowed at or below t_low
    t_high = _above(float(b_sorted[b.size - 1 - k_b]), pool)
    t_low = _below(float(s_sorted[k_s]), pool)
    collapsed = t_low > t_high
    if collapsed:
        _, t_eer = eer(b, s)
        t_low = t_high = t_eer
    bands = Bands(t_low, t_high)
    vb, vs = bands.verdicts(b), bands.verdicts(s)
    rates = BandRates(
        max_error=float(max_error), n_bona=int(b.size), n_spoof=int(s.size),
        bona_fide_called_synthetic=float(np.mean(vb == SUPPORTS_SYNTHETIC)),
        spoof_called_bona_fide=float(np.mean(vs == SUPPORTS_BONA_FIDE)),
        inconclusive_bona_fide=float(np.mean(vb == INCONCLUSIVE)),
        inconclusive_spoof=float(np.mean(vs == INCONCLUSIVE)),
        collapsed_to_eer=bool(collapsed))
    return Bands(t_low, t_high, rates)
