"""Fitted linear fusions of detectors' calibrated LLRs, read from ``models/fusions.json``.

A fitted fusion (FoCal / BOSARIS style linear logistic-regression fusion) states one LLR from
several detectors' calibrated LLRs::

    fused = sum_i w_i * llr_i + b

with non-negative weights ``w_i`` and offset ``b`` fitted on the calibration speakers by
:mod:`forensics_app.training.fusion_fit` (``forensics-app train fusion``) and validated on the
validation speakers. The fused LLR is limited to the widest of the models' validation-supported
bounds, and placed in the fusion's own verdict bands (chosen on the fused calibration LLRs).

``fusions.json`` holds a list of entries ``{"models": [sorted ids], "sha256": {id: sha},
"weights": {id: w}, "bias": b, "llr_bounds": [lo, hi], "bands": {...}, "fitted_on": str,
"validation": {...}}``. An entry is used only when the SHA-256 recorded for each of its models
equals the catalogued weights' SHA-256: a retrained model invalidates its fusions (a warning is
logged). :func:`fuse_llrs` uses, for each point, the fitted fusion of exactly the models that have
an LLR there, else the plain mean of those LLRs.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from forensics_app.domain.errors import ForensicsError
from forensics_app.training.calibration import Bands

log = logging.getLogger(__name__)

#: File name of the fitted fusions in a models folder.
FUSIONS_JSON = "fusions.json"

#: Per-point fusion methods returned by :func:`fuse_llrs`.
FITTED, MEAN, SINGLE, NONE = "fitted", "mean", "single model", "none"


@dataclass(frozen=True)
class FittedFusion:
    """One fitted fusion of a set of models.

    Attributes
    ----------
    models : tuple of str
        Model ids, sorted.
    weights : tuple of float
        Weight of each model's LLR, in the order of ``models`` (>= 0).
    bias : float
        Offset (nats).
    llr_bounds : tuple of float
        ``(low, high)`` limits of the fused LLR (nats).
    bands : Bands
        Verdict thresholds of the fused LLR.
    sha256 : dict
        SHA-256 of each model's weights when the fusion was fitted.
    fitted_on : str
        What the weights were fitted on.
    validation : dict
        Figures measured on the validation speakers (see :mod:`forensics_app.training.fusion_fit`).
    """

    models: tuple[str, ...]
    weights: tuple[float, ...]
    bias: float
    llr_bounds: tuple[float, float]
    bands: Bands
    sha256: dict[str, str]
    fitted_on: str
    validation: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if len(self.models) < 2 or list(self.models) != sorted(set(self.models)):
            raise ValueError(f"a fusion needs two or more distinct model ids, sorted; got {list(self.models)}")
        if len(self.weights) != len(self.models):
            raise ValueError("a fusion needs one weight per model")
        if not all(np.isfinite([*self.weights, self.bias, *self.llr_bounds])):
            raise ValueError("fusion weights, bias and bounds must be finite")
        if any(w < 0 for w in self.weights):
            raise ValueError(f"fusion weights must be >= 0, got {list(self.weights)}")
        if self.llr_bounds[0] >= self.llr_bounds[1]:
            raise ValueError(f"fusion LLR bounds must be increasing, got {list(self.llr_bounds)}")

    def apply(self, llrs: ArrayLike) -> np.ndarray:
        """Fused LLRs of the models' LLRs.

        Parameters
        ----------
        llrs : array_like
            Shape (n_models,) or (n_models, n): calibrated LLRs (nats) in the order of ``models``.

        Returns
        -------
        np.ndarray
            Shape () or (n,): ``sum_i w_i * llr_i + b`` limited to ``llr_bounds``; NaN where any
            model's LLR is NaN.
        """
        x = np.asarray(llrs, dtype=np.float64)
        if x.shape[:1] != (len(self.models),):
            raise ValueError(f"expected {len(self.models)} rows of LLRs, got shape {x.shape}")
        out = np.tensordot(np.asarray(self.weights), x, axes=(0, 0)) + self.bias
        return np.clip(out, *self.llr_bounds)

    def describe(self) -> str:
        """One line: the weights, the offset and the validation EER / Cllr."""
        terms = " + ".join(f"{w:.3f} x {m}" for m, w in zip(self.models, self.weights, strict=True))
        ov = ((self.validation.get("systems") or {}).get("fitted") or {}).get("overall") or {}
        fig = (f"; validated on {self.validation.get('n_speakers', '?')} validation speakers: EER "
               f"{100 * ov['eer']:.1f} %, Cllr {ov['cllr']:.3f} bits" if "eer" in ov and "cllr" in ov else "")
        return f"fitted linear fusion: LLR = {terms} {self.bias:+.3f} (fitted on {self.fitted_on}{fig})"

    def as_dict(self) -> dict[str, Any]:
        """JSON form (the ``fusions.json`` entry)."""
        return {"models": list(self.models), "sha256": dict(self.sha256),
                "weights": {m: float(w) for m, w in zip(self.models, self.weights, strict=True)},
                "bias": float(self.bias), "llr_bounds": [float(v) for v in self.llr_bounds],
                "bands": self.bands.as_dict(), "fitted_on": self.fitted_on, "validation": dict(self.validation)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FittedFusion:
        """Inverse of :meth:`as_dict`; raises ValueError on missing or malformed fields."""
        try:
            models = tuple(str(m) for m in data["models"])
            weights = data["weights"]
            return cls(models=models, weights=tuple(float(weights[m]) for m in models), bias=float(data["bias"]),
                       llr_bounds=(float(data["llr_bounds"][0]), float(data["llr_bounds"][1])),
                       bands=Bands.from_dict(data["bands"]), sha256={str(k): str(v) for k, v in data["sha256"].items()},
                       fitted_on=str(data.get("fitted_on", "")), validation=dict(data.get("validation") or {}))
        except (KeyError, TypeError, IndexError, AttributeError) as exc:
            raise ValueError(f"fusion entry incomplete or malformed ({exc!r})") from exc


def fusions_path(models_dir: Path | None = None) -> Path:
    """``<models_dir>/fusions.json`` (default: the shipped models folder)."""
    from forensics_app.detectors.catalog import shipped_models_dir

    return (Path(models_dir) if models_dir is not None else shipped_models_dir()) / FUSIONS_JSON


def read_fusions(path: Path) -> list[FittedFusion]:
    """Every entry of a fusions file (none when the file does not exist).

    Raises
    ------
    ForensicsError
        The file cannot be read, is not a JSON list, or an entry is malformed.
    """
    path = Path(path)
    if not path.is_file():
        return []
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ForensicsError(f"fitted fusions: {path} cannot be read ({exc})") from exc
    if not isinstance(data, list):
        raise ForensicsError(f"fitted fusions: {path} must hold a JSON list of fusion entries")
    try:
        return [FittedFusion.from_dict(d) for d in data]
    except ValueError as exc:
        raise ForensicsError(f"fitted fusions: {path}: {exc}") from exc


def write_fusion(fusion: FittedFusion, path: Path) -> None:
    """Add ``fusion`` to the fusions file, replacing an entry of the same model set (entries sorted)."""
    path = Path(path)
    kept = [f for f in read_fusions(path) if f.models != fusion.models]
    entries = sorted([*kept, fusion], key=lambda f: f.models)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps([f.as_dict() for f in entries], indent=2, allow_nan=False) + "\n", encoding="utf-8")
    tmp.replace(path)


def valid_fusions(sha256: Mapping[str, str], *, path: Path | None = None) -> list[FittedFusion]:
    """The fusions whose models all have the recorded weights.

    Parameters
    ----------
    sha256 : Mapping
        ``{model id: SHA-256}`` of the models at hand (e.g. the detectors that ran). A fusion
        naming a model listed here with another SHA-256 is ignored with a logged warning (the model
        was retrained after the fusion was fitted); one naming a model not listed is not usable.
    path : Path, optional
        The fusions file (default :func:`fusions_path`). An unreadable file is logged and ignored.
    """
    p = Path(path) if path is not None else fusions_path()
    try:
        fusions = read_fusions(p)
    except ForensicsError as exc:
        log.warning("%s; falling back to the mean of calibrated LLRs", exc)
        return []
    out = []
    for f in fusions:
        stale = [m for m in f.models if m in sha256 and sha256[m] != f.sha256.get(m)]
        if stale:
            log.warning("fitted fusion of %s in %s ignored: the weights of %s changed since it was fitted "
                        "(run forensics-app train fusion again)", "+".join(f.models), p, ", ".join(stale))
        elif all(m in sha256 for m in f.models):
            out.append(f)
    return out


def fusion_for(model_ids: Sequence[str], fusions: Sequence[FittedFusion]) -> FittedFusion | None:
    """The fusion of exactly ``model_ids`` (any order) among ``fusions``, else None."""
    key = tuple(sorted(set(model_ids)))
    return next((f for f in fusions if f.models == key), None)


def fuse_llrs(model_ids: Sequence[str], llrs: ArrayLike, *,
              fusions: Sequence[FittedFusion]) -> tuple[np.ndarray, np.ndarray]:
    """Fuse several models' LLRs point by point.

    At each point the models with a finite LLR are fused by the fitted fusion of exactly that set
    when ``fusions`` has one, else by the mean of their LLRs.

    Parameters
    ----------
    model_ids : sequence of str
        The models, in the row order of ``llrs``.
    llrs : array_like
        Shape (n_models,) (one file) or (n_models, n) (windows): calibrated LLRs (nats), NaN where a
        model has none.
    fusions : sequence of FittedFusion
        The usable fitted fusions (:func:`valid_fusions`).

    Returns
    -------
    fused : np.ndarray
        Shape () or (n,): the fused LLR, NaN where no model has one.
    method : np.ndarray
        Same shape, str: ``"fitted"``, ``"mean"``, ``"single model"`` or ``"none"`` per point.
    """
    x = np.asarray(llrs, dtype=np.float64)
    ids = list(model_ids)
    if x.ndim not in (1, 2) or x.shape[0] != len(ids):
        raise ValueError(f"expected LLRs of shape ({len(ids)},) or ({len(ids)}, n), got {x.shape}")
    scalar = x.ndim == 1
    x = x.reshape(len(ids), -1)
    finite = np.isfinite(x)
    count = finite.sum(axis=0)
    fused = np.where(count > 0, np.where(finite, x, 0.0).sum(axis=0) / np.maximum(count, 1), np.nan)
    method = np.where(count > 1, MEAN, np.where(count == 1, SINGLE, NONE)).astype(object)
    for pattern in {tuple(col) for col in finite.T.tolist() if sum(col) > 1}:
        names = [m for m, ok in zip(ids, pattern, strict=True) if ok]
        fit = fusion_for(names, fusions)
        if fit is None:
            continue
        cols = np.all(finite == np.array(pattern)[:, None], axis=0)
        order = [ids.index(m) for m in fit.models]
        fused[cols] = fit.apply(x[np.ix_(order, np.flatnonzero(cols))])
        method[cols] = FITTED
    if scalar:
        return fused[0], method[0]
    return fused, method
