"""Fit a linear fusion of calibrated detectors on the calibration speakers; validate it on others.

The synthetic-speech analyzer states one verdict from several detectors. The plain mean of their
calibrated LLRs gives a weak detector the same say as a strong one. :func:`fit_fusion` fits
``fused = sum_i w_i * llr_i + b`` instead, as FoCal / BOSARIS do: prior-weighted (balanced)
logistic regression on the calibration speakers' file LLRs, each class carrying half of the
weight, so the objective is Cllr (in nats) plus a light L2 penalty on the weights. Weights are
constrained to be >= 0 (a detector's evidence is never turned around): the fit is solved exactly
by fitting every subset of models without the constraint and keeping the best feasible one.

:func:`develop_fusion` scores the calibration and validation recordings with every model as the
analyzer does (:func:`forensics_app.training.residual_fusion.score_rows`: the cached crops of
the residual features, a residual detector from its cached window vectors), fits on the
calibration rows where every model scored, chooses the fused verdict bands on the fused
calibration LLRs (:func:`forensics_app.training.calibration.choose_bands`) and reports EER, Cllr
and min Cllr on the validation speakers, overall and per generator, for each model alone, the
mean fusion and the fitted fusion. :func:`attach_to_cards` writes the fitted fusion's figures
into the residual detector's details and regenerates its card.
"""

from __future__ import annotations

import itertools
import json
import tomllib
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike

from forensics_app.detectors import catalog
from forensics_app.detectors.detector import load_detector
from forensics_app.detectors.fusion import FittedFusion, fuse_llrs
from forensics_app.domain.errors import ForensicsError
from forensics_app.domain.jobs import Progress
from forensics_app.training.calibration import (
    Bands,
    choose_bands,
    logistic_objective,
    weighted_logistic_newton,
)
from forensics_app.training.dataset import read_manifest
from forensics_app.training.residual_features_cache import (
    FORMAT,
    FeatureTable,
    build_feature_cache,
    code_fingerprint,
)
from forensics_app.training.residual_fusion import figures, mean_fusion, score_rows

#: L2 penalty on the weights (LLR scale; the class weights sum to 1): light, keeps separable data finite.
FUSION_L2 = 1e-3
#: Architectures scored from the cached residual window vectors.
RESIDUAL_ARCHITECTURES = ("residual_mlp",)
#: Names of the fused systems in the validation figures.
MEAN, FITTED = "mean", "fitted"


def _newton(x: np.ndarray, y: np.ndarray, w: np.ndarray, l2: float, max_iter: int) -> np.ndarray:
    """Minimise the weighted logistic loss + L2 on all but the last (bias) column (the calibration's solver)."""
    return weighted_logistic_newton(x, y, w, l2=l2, max_iter=max_iter)


def fit_fusion(llr_bona: ArrayLike, llr_spoof: ArrayLike, *, l2: float = FUSION_L2, nonnegative: bool = True,
               max_iter: int = 100) -> tuple[np.ndarray, float]:
    """Fit ``fused = llr @ weights + bias`` by balanced logistic regression (minimum Cllr + L2).

    Minimises ``0.5 * mean_spoof log(1 + e^-s) + 0.5 * mean_bona log(1 + e^s) + l2 / 2 * |w|^2``
    with ``s = llr @ w + b`` (the first two terms are Cllr in nats).

    Parameters
    ----------
    llr_bona, llr_spoof : array_like
        Shape (n_bona, n_models) and (n_spoof, n_models): calibrated file LLRs (nats), finite.
    l2 : float
        Penalty on the weights (not on the bias).
    nonnegative : bool
        Constrain the weights to be >= 0 (solved exactly by trying every subset of models).
    max_iter : int
        Newton iterations per fit at most.

    Returns
    -------
    weights : np.ndarray
        Shape (n_models,).
    bias : float
        Offset (nats).

    Raises
    ------
    ValueError
        A class is empty, the shapes disagree, or an LLR is not finite.
    """
    b = np.asarray(llr_bona, dtype=np.float64)
    s = np.asarray(llr_spoof, dtype=np.float64)
    if b.ndim != 2 or s.ndim != 2 or b.shape[1] != s.shape[1] or not b.shape[0] or not s.shape[0]:
        raise ValueError(f"fusion needs LLR matrices (n_bona, m) and (n_spoof, m) with items; got {b.shape}, {s.shape}")
    if not (np.all(np.isfinite(b)) and np.all(np.isfinite(s))):
        raise ValueError("fusion: every LLR must be finite")
    m = b.shape[1]
    x = np.vstack([b, s])
    y = np.concatenate([np.zeros(len(b)), np.ones(len(s))])
    w = np.concatenate([np.full(len(b), 0.5 / len(b)), np.full(len(s), 0.5 / len(s))])
    subsets = ([tuple(c) for r in range(m, -1, -1) for c in itertools.combinations(range(m), r)]
               if nonnegative else [tuple(range(m))])
    best: tuple[float, np.ndarray, float] | None = None
    for cols in subsets:
        theta = _newton(np.column_stack([x[:, list(cols)], np.ones(len(x))]), y, w, l2, max_iter)
        if nonnegative and np.any(theta[:-1] < 0):
            continue
        weights = np.zeros(m)
        weights[list(cols)] = theta[:-1]
        f = logistic_objective(np.column_stack([x, np.ones(len(x))]), y, w, np.append(weights, theta[-1]), l2=l2)
        if best is None or f < best[0] - 1e-12:
            best = (f, weights, float(theta[-1]))
    assert best is not None  # the empty subset (bias only) is always feasible
    return best[1], best[2]


def load_cached_table(rows: Sequence[dict[str, str]], root: Path, cache: Path) -> FeatureTable:
    """The residual feature table of ``rows`` from an existing cache, refusing to recompute.

    Raises
    ------
    ForensicsError
        The cache is missing, was made by other resynthesis code, or lacks some rows.
    """
    cache = Path(cache)
    if not cache.is_file():
        raise ForensicsError(f"{cache}: no residual feature cache (train detector --model residual makes it)")
    with np.load(cache, allow_pickle=False) as z:
        stored = json.loads(str(z["settings"]))
        paths = set(z["paths"].tolist())
    if stored.get("format") != FORMAT or stored.get("fingerprint") != code_fingerprint(stored["round_trips"]):
        raise ForensicsError(f"{cache} was made by other resynthesis code; rebuild it with "
                             "forensics-app train detector --model residual")
    missing = [r["path"] for r in rows if r["path"] not in paths]
    if missing:
        raise ForensicsError(f"{cache} lacks {len(missing)} of the recordings (first: {missing[0]})")
    return build_feature_cache(rows, root, cache, crop_s=stored["crop_s"], window_s=stored["window_s"],
                               hop_s=stored["hop_s"], round_trip_ids=stored["round_trips"], workers=1,
                               log=lambda _: None)


def develop_fusion(*, manifest: Path, cache: Path, model_ids: Sequence[str], max_error: float = 0.01,
                   l2: float = FUSION_L2, progress: Progress | None = None,
                   log: Callable[[str], None] = print) -> FittedFusion:
    """Score, fit on the calibration speakers, choose bands and validate a fusion of catalogued detectors.

    Parameters
    ----------
    manifest : Path
        The generated data set's ``manifest.csv`` (splits ``calibration`` and ``validation``).
    cache : Path
        The residual feature cache holding every calibration and validation recording (its crops
        are where every model is scored).
    model_ids : sequence of str
        Two or more catalogued, calibrated detectors; at most one residual detector.
    max_error : float
        Target wrong-verdict share per class of the fused bands (as the models' bands).
    l2 : float
        Weight penalty of :func:`fit_fusion`.
    progress : Progress, optional
        Reports per recording; ``check()`` between recordings.
    log : callable
        Receives progress lines.

    Returns
    -------
    FittedFusion
        With ``validation`` figures (``systems``: each model, ``mean``, ``fitted``; overall and per
        generator; ``unbounded`` overall; ``bands_on_validation``; ``calibration`` figures).
    """
    ids = sorted(set(model_ids))
    if len(ids) < 2:
        raise ForensicsError(f"a fusion needs two or more models, got {ids}")
    dets = [load_detector(i, device="cpu") for i in ids]
    for d in dets:
        if d.entry.calibration is None or d.entry.bands is None:
            raise ForensicsError(f"{d.entry.id} is not calibrated; calibrate it before fusing")
    residual = [d for d in dets if d.entry.architecture in RESIDUAL_ARCHITECTURES]
    if len(residual) > 1:
        raise ForensicsError("at most one residual detector can be fused (one feature cache)")
    others = [d for d in dets if d.entry.architecture not in RESIDUAL_ARCHITECTURES]
    root = Path(manifest).parent
    split: dict[str, list[dict[str, str]]] = {}
    for r in read_manifest(Path(manifest)):
        split.setdefault(r["split"], []).append(r)
    cal, val = split.get("calibration", []), split.get("validation", [])
    table = load_cached_table(cal + val, root, cache)
    scored = {}
    for name, rows, share in (("calibration", cal, (0.0, 0.5)), ("validation", val, (0.5, 0.5))):
        log(f"fusion: scoring {len(rows)} {name} recordings with {', '.join(ids)}")
        scored[name] = score_rows(rows, root, table, residual[0] if residual else None, others,
                                  progress=progress.sub(*share) if progress is not None else None, log=log)
    order = [scored["calibration"].models.index(i) for i in ids]
    cal_llr = scored["calibration"].stated[order]
    val_llr, val_unb = scored["validation"].stated[order], scored["validation"].unbounded[order]
    bona_c = np.array([r["label"] == "bonafide" for r in cal])
    full = np.all(np.isfinite(cal_llr), axis=0)
    weights, bias = fit_fusion(cal_llr[:, full & bona_c].T, cal_llr[:, full & ~bona_c].T, l2=l2)
    lo = min(d.llr_bounds[0] for d in dets)
    hi = max(d.llr_bounds[1] for d in dets)
    sha = {d.entry.id: d.entry.sha256 for d in dets}
    draft = FittedFusion(models=tuple(ids), weights=tuple(float(w) for w in weights), bias=bias,
                         llr_bounds=(lo, hi), bands=Bands(0.0, 0.0), sha256=sha, fitted_on="")
    fused_cal, _ = fuse_llrs(ids, cal_llr, fusions=[draft])
    fused_cal = np.where(np.isfinite(fused_cal), fused_cal, 0.0)
    bands = choose_bands(fused_cal[bona_c], fused_cal[~bona_c], max_error=max_error)
    fused_val, method = fuse_llrs(ids, val_llr, fusions=[draft])
    fused_unb = np.tensordot(weights, val_unb, axes=(0, 0)) + bias
    systems = {i: figures(val_llr[k], val) for k, i in enumerate(ids)}
    systems[MEAN] = figures(mean_fusion(val_llr), val)
    systems[FITTED] = figures(fused_val, val)
    bona_v = np.array([r["label"] == "bonafide" for r in val])
    fv = np.where(np.isfinite(fused_val), fused_val, 0.0)
    on_val = bands.verdicts(fv)
    n_cal_spk = len({r["speaker"] for r in cal})
    validation = {
        "systems": systems,
        "unbounded": {**{i: figures(val_unb[k], val)["overall"] for k, i in enumerate(ids)},
                      MEAN: figures(mean_fusion(val_unb), val)["overall"],
                      FITTED: figures(np.where(np.all(np.isfinite(val_unb), axis=0), fused_unb,
                                               mean_fusion(val_unb)), val)["overall"]},
        "bands_on_validation": {
            "bona_fide_called_synthetic": float(np.mean(on_val[bona_v] == "supports synthetic")),
            "spoof_called_bona_fide": float(np.mean(on_val[~bona_v] == "supports bona fide")),
            "inconclusive_bona_fide": float(np.mean(on_val[bona_v] == "inconclusive")),
            "inconclusive_spoof": float(np.mean(on_val[~bona_v] == "inconclusive"))},
        "calibration": {FITTED: figures(fused_cal, cal)["overall"], MEAN: figures(mean_fusion(cal_llr), cal)["overall"],
                        "rows_fitted": int(full.sum()), "rows": len(cal)},
        "n_speakers": len({r["speaker"] for r in val}),
        "fitted_rows": {"validation_fitted": int(np.sum(method == "fitted")), "validation": len(val)},
        "consistency": scored["validation"].consistency,
        "audio": (f"the centred {float(table.settings['crop_s']):g} s crop of every calibration and validation "
                  "recording (the crops the residual features were computed on); windows below -55 dBFS RMS left "
                  "out as in the analyzer; stated (bounded) LLRs; a recording some model could not score is fused "
                  "by the mean of the models that did"),
        "l2": l2, "weights_constraint": "weights >= 0",
    }
    log("fusion: fitted weights " + ", ".join(f"{i} {w:.4f}" for i, w in zip(ids, weights, strict=True))
        + f", bias {bias:+.4f}")
    return FittedFusion(models=tuple(ids), weights=draft.weights, bias=bias, llr_bounds=(lo, hi), bands=bands,
                        sha256=sha, validation=validation,
                        fitted_on=(f"the file LLRs of {int(full.sum())} calibration recordings of {n_cal_spk} "
                                   "calibration speakers (balanced logistic regression, weights >= 0, "
                                   f"L2 {l2:g})"))


def attach_to_cards(fusion: FittedFusion, *, models_dir: Path | None = None) -> list[str]:
    """Record the fitted fusion in the details of each residual detector that measured the same model set.

    Each such model's ``fusion_validation`` record gains ``fitted`` (weights, bias, figures), its
    limits and card are regenerated by the residual card code and its details rewritten.

    Returns
    -------
    list of str
        The ids of the models whose details and cards were rewritten.
    """
    from forensics_app.training.residual_card import residual_card
    from forensics_app.training.residual_develop import residual_limits

    base = Path(models_dir) if models_dir is not None else catalog.shipped_models_dir()
    tables = tomllib.loads((base / catalog.MANIFEST_TOML).read_text(encoding="utf-8")).get("model", [])
    done = []
    for entry in catalog.shipped_models(base):
        if entry.id not in fusion.models or entry.architecture not in RESIDUAL_ARCHITECTURES:
            continue
        details = dict(entry.details)
        records = details.get("fusion_validation") or []
        hit = [r for r in records if sorted(r.get("models", [])) == list(fusion.models)
               and all(r.get("sha256", {}).get(m) == fusion.sha256[m] for m in fusion.models)]
        if not hit:
            continue
        v = fusion.validation
        for r in hit:
            r["fitted"] = {"weights": fusion.as_dict()["weights"], "bias": fusion.bias, "fitted_on": fusion.fitted_on,
                           "figures": v["systems"][FITTED], "unbounded": v["unbounded"][FITTED],
                           "mean_check": v["systems"][MEAN]["overall"], "bands": fusion.bands.as_dict()}
        details["limits"] = residual_limits(details)
        table = next(t for t in tables if t.get("id") == entry.id)
        (base / str(table["card"])).write_text(residual_card(details), encoding="utf-8")
        catalog.write_shipped_entry(table, details, models_dir=base)
        done.append(entry.id)
    return done

