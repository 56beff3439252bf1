"""The synthetic-speech analyzer fuses by a fitted fusion of exactly the models that scored, else the mean.

Two tiny LFCC-LCNNs trained in the fixture to call a 3 kHz whistle "synthetic"
(tests/unit/detector_fixtures.py) are catalogued in a temporary models folder; the fusions file
beside them is what changes between the tests.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from detector_fixtures import RATE, babble, install_tiny_detector, whistle

from forensics_app.analysis import registry
from forensics_app.analysis.audio.synthetic_speech import sigmoid
from forensics_app.detectors import catalog
from forensics_app.detectors.fusion import FUSIONS_JSON, FittedFusion, write_fusion
from forensics_app.domain.jobs import ProgressToken
from forensics_app.domain.media import AudioClip
from forensics_app.training.calibration import Bands

A, B = "tiny-a", "tiny-b"


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("models")
    install_tiny_detector(d, model_id=A, seed=0)
    install_tiny_detector(d, model_id=B, seed=1)
    return d


@pytest.fixture
def catalogued(models_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setattr(catalog, "shipped_models_dir", lambda: models_dir)
    monkeypatch.setattr(catalog, "imported_models", lambda **_: [])
    (models_dir / FUSIONS_JSON).unlink(missing_ok=True)
    yield models_dir
    (models_dir / FUSIONS_JSON).unlink(missing_ok=True)


def _clip() -> AudioClip:
    """6 s of babble with a whistle from 3 to 5 s."""
    x = babble(6 * RATE, np.random.default_rng(2))
    x[3 * RATE:5 * RATE] += whistle(2 * RATE)
    return AudioClip(samples=x[:, None].astype(np.float32), rate=RATE, path=Path("q.wav"))


def _analyse(*, explain: bool = False) -> object:
    info = registry.get("audio.synthetic_speech")
    return info.func(_clip(), params=info.resolve_params({"models": f"{A},{B}", "explain": explain}),
                     progress=ProgressToken())


def _fusion(models: tuple[str, ...], sha: dict[str, str]) -> FittedFusion:
    """Model A alone counts (weight 1), B not at all, offset +0.5; its own bands."""
    return FittedFusion(models=models, weights=tuple(1.0 if m == A else 0.0 for m in models), bias=0.5,
                        llr_bounds=(-4.0, 4.0), bands=Bands(-2.5, 2.25), sha256=sha, fitted_on="test rows",
                        validation={"n_speakers": 3, "systems": {"fitted": {"overall": {"eer": 0.1, "cllr": 0.3}}}})


def _shas() -> dict[str, str]:
    return {m: catalog.get_model(m).sha256 for m in (A, B)}


def test_fitted_fusion_of_the_scored_models_is_used(catalogued: Path) -> None:
    write_fusion(_fusion((A, B), _shas()), catalogued / FUSIONS_JSON)
    result = _analyse(explain=True)
    verdict = result.findings[0]
    per_model = verdict.details["per_model"]
    assert verdict.details["llr"] == pytest.approx(np.clip(per_model[A] + 0.5, -4.0, 4.0), abs=1e-3)
    assert verdict.details["fusion"] == "fitted"
    assert verdict.details["thresholds"] == {"t_low": -2.5, "t_high": 2.25}
    assert verdict.details["fusion_weights"]["weights"] == {A: 1.0, B: 0.0}
    assert verdict.details["fusion_validation"]["n_speakers"] == 3
    method = result.summary["fusion"]["method"]
    assert method.startswith("fitted linear fusion") and "EER 10.0 %" in method
    assert result.summary["fusion"]["bands"]["t_high"] == 2.25
    lanes = {s.name: s for s in verdict.series}
    both = np.isfinite(lanes[A].values) & np.isfinite(lanes[B].values)
    assert both.any() and verdict.details["windows_fused"]["fitted"] == int(both.sum())
    llr_a = np.log(lanes[A].values[both] / (1.0 - lanes[A].values[both]))
    assert np.allclose(lanes["fused"].values[both], sigmoid(np.clip(llr_a + 0.5, -4.0, 4.0)), atol=1e-6)


def test_without_a_fusion_of_exactly_these_models_the_mean_is_used(catalogued: Path) -> None:
    write_fusion(_fusion((A, "tiny-c"), {A: _shas()[A], "tiny-c": "0" * 64}), catalogued / FUSIONS_JSON)
    result = _analyse()
    verdict = result.findings[0]
    assert verdict.details["llr"] == pytest.approx(np.mean(list(verdict.details["per_model"].values())), abs=1e-3)
    assert verdict.details["fusion"] == "mean of calibrated LLRs" and verdict.details["fusion_weights"] is None
    assert result.summary["fusion"]["method"].startswith("mean of calibrated LLRs")
    assert "fitted" not in verdict.details["windows_fused"]


def test_a_fusion_fitted_for_other_weights_is_ignored_with_a_warning(catalogued: Path,
                                                                     caplog: pytest.LogCaptureFixture) -> None:
    write_fusion(_fusion((A, B), {**_shas(), B: "f" * 64}), catalogued / FUSIONS_JSON)
    with caplog.at_level(logging.WARNING, logger="forensics_app.detectors.fusion"):
        verdict = _analyse().findings[0]
    assert verdict.details["fusion"] == "mean of calibrated LLRs"
    assert verdict.details["llr"] == pytest.approx(np.mean(list(verdict.details["per_model"].values())), abs=1e-3)
    assert any("ignored" in r.getMessage() and B in r.getMessage() for r in caplog.records)
