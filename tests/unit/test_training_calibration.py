"""Linear score calibration and the verdict bands."""

from __future__ import annotations

import numpy as np
import pytest

from forensics_app.training import metrics
from forensics_app.training.calibration import (
    INCONCLUSIVE,
    SUPPORTS_BONA_FIDE,
    SUPPORTS_SYNTHETIC,
    Bands,
    Calibration,
    choose_bands,
    fit_calibration,
    sigmoid,
)


def gaussian_scores(rng: np.random.Generator, n_bona: int, n_spoof: int, *, mu0: float = 0.0,
                    mu1: float = 2.0, sd: float = 1.5) -> tuple[np.ndarray, np.ndarray]:
    return rng.normal(mu0, sd, n_bona), rng.normal(mu1, sd, n_spoof)


def true_map(mu0: float = 0.0, mu1: float = 2.0, sd: float = 1.5) -> tuple[float, float]:
    """Equal-variance Gaussians: the LLR is exactly affine in the score."""
    return (mu1 - mu0) / sd**2, -(mu1**2 - mu0**2) / (2 * sd**2)


def test_fit_recovers_a_known_affine_map() -> None:
    rng = np.random.default_rng(0)
    bona, spoof = gaussian_scores(rng, 20000, 20000)
    a, b = true_map()
    cal = fit_calibration(bona, spoof)
    assert cal.a == pytest.approx(a, rel=0.03) and cal.b == pytest.approx(b, abs=0.03)
    # The same scores in other units: the fitted map follows.
    cal2 = fit_calibration(3 * bona + 5, 3 * spoof + 5)
    assert cal2.a == pytest.approx(cal.a / 3, rel=1e-4)
    assert cal2.llr(3 * 1.7 + 5) == pytest.approx(cal.llr(1.7), abs=1e-3)
    # Calibrated LLRs cost about the PAV optimum.
    c = metrics.cllr(cal.llr(bona), cal.llr(spoof))
    assert c - metrics.min_cllr(bona, spoof) < 0.01 and c < 1.0


def test_fit_does_not_depend_on_the_class_balance() -> None:
    rng = np.random.default_rng(1)
    bona, spoof = gaussian_scores(rng, 30000, 3000)
    a, b = true_map()
    cal = fit_calibration(bona, spoof)
    assert cal.a == pytest.approx(a, rel=0.06) and cal.b == pytest.approx(b, abs=0.08)


def test_separable_scores_give_finite_confident_llrs() -> None:
    cal = fit_calibration([-3.0, -2.0, -1.0], [1.0, 2.0, 4.0])
    assert np.isfinite(cal.a) and np.isfinite(cal.b) and cal.a > 0
    assert cal.llr(-1.0) < -3.0 and cal.llr(1.0) > 3.0
    assert cal.llr(-100.0) < 0 < cal.llr(100.0)


def test_fit_refuses_one_class_and_constant_scores() -> None:
    with pytest.raises(ValueError, match="both classes"):
        fit_calibration([0.1, 0.2], [])
    with pytest.raises(ValueError, match="all raw scores are equal"):
        fit_calibration([1.0, 1.0], [1.0])


def test_calibration_values_and_dict_round_trip() -> None:
    cal = Calibration(a=2.0, b=-1.0)
    assert cal.llr(1.5) == 2.0 and isinstance(cal.llr(1.5), float)
    assert cal.fake_likelihood(0.5) == 0.5
    x = np.array([-50.0, 0.0, 3.0, 800.0])
    fl = cal.fake_likelihood(x)
    assert fl.shape == (4,) and np.all((fl >= 0) & (fl <= 1)) and fl[-1] == 1.0
    np.testing.assert_allclose(fl, 1 / (1 + np.exp(-(2 * x - 1))))
    assert Calibration.from_dict({**cal.as_dict(), "fitted_on": "calibration speakers"}) == cal
    with pytest.raises(ValueError, match="calibration must be"):
        Calibration.from_dict({"a": "x"})
    with pytest.raises(ValueError, match="finite"):
        Calibration(float("nan"), 0.0)
    assert sigmoid(-800.0) == 0.0 and sigmoid(800.0) == 1.0


def test_band_verdicts_and_validation() -> None:
    bands = Bands(-1.0, 2.0)
    assert bands.verdict(2.0) == SUPPORTS_SYNTHETIC
    assert bands.verdict(1.99) == INCONCLUSIVE
    assert bands.verdict(-1.0) == SUPPORTS_BONA_FIDE
    assert bands.verdicts([-5, 0, 5]).tolist() == [SUPPORTS_BONA_FIDE, INCONCLUSIVE, SUPPORTS_SYNTHETIC]
    with pytest.raises(ValueError, match="must not exceed"):
        Bands(1.0, 0.0)


def test_chosen_bands_honour_the_error_target_on_validation_data() -> None:
    rng = np.random.default_rng(4)
    bona, spoof = gaussian_scores(rng, 3000, 2000)
    cal = fit_calibration(*gaussian_scores(rng, 3000, 3000))
    lb, ls = cal.llr(bona), cal.llr(spoof)
    bands = choose_bands(lb, ls, max_error=0.01)
    r = bands.rates
    assert r is not None and not r.collapsed_to_eer and bands.t_low < bands.t_high
    assert r.bona_fide_called_synthetic <= 0.01 and r.spoof_called_bona_fide <= 0.01
    assert np.mean(lb >= bands.t_high) == r.bona_fide_called_synthetic
    assert np.mean(ls <= bands.t_low) == r.spoof_called_bona_fide
    assert r.inconclusive_bona_fide == pytest.approx(np.mean((lb > bands.t_low) & (lb < bands.t_high)))
    assert r.inconclusive_spoof == pytest.approx(np.mean((ls > bands.t_low) & (ls < bands.t_high)))
    # The thresholds are the tightest: one validation score further and the target is broken.
    assert np.mean(lb >= lb[lb < bands.t_high].max()) > 0.01
    assert np.mean(ls <= ls[ls > bands.t_low].min()) > 0.01
    # And they generalise to fresh data from the same distributions (within sampling error).
    nb, ns = gaussian_scores(rng, 20000, 20000)
    assert np.mean(cal.llr(nb) >= bands.t_high) < 0.02
    assert np.mean(cal.llr(ns) <= bands.t_low) < 0.02
    again = Bands.from_dict({**bands.as_dict(), "chosen_on": "validation speakers"})
    assert again == bands


def test_crossed_bands_collapse_to_the_eer_threshold() -> None:
    rng = np.random.default_rng(5)
    lb, ls = rng.normal(-8, 1, 500), rng.normal(8, 1, 500)
    bands = choose_bands(lb, ls, max_error=0.01)
    _, t_eer = metrics.eer(lb, ls)
    assert bands.t_low == bands.t_high == t_eer
    r = bands.rates
    assert r.collapsed_to_eer and r.inconclusive_bona_fide == r.inconclusive_spoof == 0.0
    assert r.bona_fide_called_synthetic == 0.0 and r.spoof_called_bona_fide == 0.0


def test_choose_bands_refuses_bad_targets() -> None:
    with pytest.raises(ValueError, match="max_error"):
        choose_bands([0.0, 1.0], [2.0], max_error=1.0)
    with pytest.raises(ValueError, match="both classes"):
        choose_bands([], [2.0])
