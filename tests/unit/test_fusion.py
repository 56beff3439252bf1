"""Fitted linear fusion of calibrated LLRs: the fit, the fusions file and the point-by-point fusion."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

from forensics_app.detectors.fusion import (
    FITTED,
    MEAN,
    SINGLE,
    FittedFusion,
    fuse_llrs,
    read_fusions,
    valid_fusions,
    write_fusion,
)
from forensics_app.training import metrics
from forensics_app.training.calibration import Bands
from forensics_app.training.fusion_fit import fit_fusion


def _llrs(n_bona: int, n_spoof: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Columns: an informative model (classes 3 nats apart), pure noise, and a model that is wrong way round."""
    def draw(n: int, sign: float) -> np.ndarray:
        good = sign * 1.5 + rng.standard_normal(n)
        noise = 2.0 * rng.standard_normal(n)
        wrong = -sign * 0.5 + rng.standard_normal(n)
        return np.column_stack([good, noise, wrong])

    return draw(n_bona, -1.0), draw(n_spoof, 1.0)


def test_fit_weights_the_informative_model_and_not_the_noise() -> None:
    rng = np.random.default_rng(0)
    bona, spoof = _llrs(200, 600, rng)
    w, b = fit_fusion(bona, spoof)
    assert w[0] > 2.0  # the informative model carries the fusion (its LLRs are 3 nats apart, under-confident)
    assert abs(w[1]) < 0.05 * w[0] and w[2] == 0.0  # noise nearly ignored, the wrong-way model cut to zero
    assert np.all(w >= 0)
    # on fresh data from the same sources the fitted fusion beats the plain mean and the informative model alone
    tb, ts = _llrs(300, 300, np.random.default_rng(1))
    fitted = metrics.cllr(tb @ w + b, ts @ w + b)
    mean = metrics.cllr(tb.mean(axis=1), ts.mean(axis=1))
    assert fitted < mean - 0.2
    assert fitted <= metrics.cllr(tb[:, 0], ts[:, 0]) + 0.01
    # without the constraint the wrong-way model gets a negative weight
    w_free, _ = fit_fusion(bona, spoof, nonnegative=False)
    assert w_free[2] < 0.0


def test_fit_is_deterministic_and_refuses_bad_input() -> None:
    bona, spoof = _llrs(50, 80, np.random.default_rng(3))
    a, b = fit_fusion(bona, spoof), fit_fusion(bona, spoof)
    assert np.array_equal(a[0], b[0]) and a[1] == b[1]
    with pytest.raises(ValueError):
        fit_fusion(bona[:, :2], spoof)
    bad = bona.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError):
        fit_fusion(bad, spoof)


def _fusion(models: tuple[str, ...] = ("a", "b"), *, sha: dict[str, str] | None = None) -> FittedFusion:
    return FittedFusion(models=models, weights=tuple(1.0 if i == 0 else 0.25 for i in range(len(models))), bias=0.5,
                        llr_bounds=(-4.0, 3.0), bands=Bands(-2.0, 1.0), sha256=sha or {m: f"sha-{m}" for m in models},
                        fitted_on="test", validation={"n_speakers": 2})


def test_fuse_llrs_uses_the_fitted_fusion_of_exactly_the_models_that_scored() -> None:
    llrs = np.array([[1.0, 2.0, np.nan, 2.0, np.nan],
                     [-2.0, 4.0, 1.0, np.nan, np.nan],
                     [0.0, np.nan, 3.0, np.nan, np.nan]])
    fused, method = fuse_llrs(["a", "b", "c"], llrs, fusions=[_fusion()])
    # column 0: a, b, c scored, no fusion of all three -> mean; column 1: a, b -> fitted (clipped at 3)
    assert list(method) == [MEAN, FITTED, MEAN, SINGLE, "none"]
    assert fused[0] == pytest.approx(-1.0 / 3.0)
    assert fused[1] == pytest.approx(3.0)  # 2 + 0.25 * 4 + 0.5 = 3.5, limited to the upper bound
    assert fused[2] == pytest.approx(2.0) and fused[3] == pytest.approx(2.0) and np.isnan(fused[4])
    one, how = fuse_llrs(["b", "a"], np.array([-2.0, 1.0]), fusions=[_fusion()])  # order does not matter
    assert how == FITTED and float(one) == pytest.approx(1.0 - 0.5 + 0.5)
    none, how = fuse_llrs(["b", "a"], np.array([-2.0, 1.0]), fusions=[])
    assert how == MEAN and float(none) == pytest.approx(-0.5)


def test_fusions_file_round_trip_and_stale_weights_are_ignored(tmp_path: Path,
                                                             caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "fusions.json"
    write_fusion(_fusion(), path)
    write_fusion(_fusion(("a", "c")), path)
    write_fusion(_fusion(), path)  # replaces the entry of the same model set
    assert [f.models for f in read_fusions(path)] == [("a", "b"), ("a", "c")]
    assert valid_fusions({"a": "sha-a", "b": "sha-b"}, path=path) == [_fusion()]
    with caplog.at_level(logging.WARNING, logger="forensics_app.detectors.fusion"):
        assert valid_fusions({"a": "sha-a", "b": "retrained"}, path=path) == []
    assert any("weights of b changed" in r.getMessage() for r in caplog.records)
    path.write_text("{not json", encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="forensics_app.detectors.fusion"):
        assert valid_fusions({"a": "sha-a", "b": "sha-b"}, path=path) == []
    with pytest.raises(ValueError):
        FittedFusion(models=("b", "a"), weights=(1.0, 1.0), bias=0.0, llr_bounds=(-1.0, 1.0), bands=Bands(0.0, 0.0),
                     sha256={}, fitted_on="")
    with pytest.raises(ValueError):
        FittedFusion(models=("a", "b"), weights=(1.0, -0.1), bias=0.0, llr_bounds=(-1.0, 1.0),
                     bands=Bands(0.0, 0.0), sha256={}, fitted_on="")
