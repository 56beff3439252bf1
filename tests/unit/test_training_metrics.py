"""EER, Cllr and min Cllr against hand-computed cases and known properties."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import norm

from forensics_app.training import metrics


def test_eer_hand_computed_exact_crossing() -> None:
    # Thresholds 0,1,2,2.5,3,...: at t=3 one bona fide (3) scores >= t and one spoof (2.5) < t.
    e, thr = metrics.eer([0, 1, 2, 3], [2.5, 3.5, 4, 5])
    assert e == pytest.approx(0.25) and thr == pytest.approx(3.0)
    assert metrics.error_rates_at([0, 1, 2, 3], [2.5, 3.5, 4, 5], thr) == (0.25, 0.25)


def test_eer_hand_computed_interpolated() -> None:
    # Operating points at t=1.5: (fa 1/3, miss 0); at t=2: (fa 1/3, miss 1/2). Linear
    # interpolation meets miss = fa = 1/3 two thirds of the way, at threshold 1.5 + 2/3 * 0.5.
    e, thr = metrics.eer([0, 1, 2], [1.5, 3])
    assert e == pytest.approx(1 / 3)
    assert thr == pytest.approx(1.5 + (2 / 3) * 0.5)


def test_eer_perfect_separation_is_zero_and_threshold_separates() -> None:
    bona = np.array([-3.0, -2.0, -1.5])
    spoof = np.array([0.5, 2.0, 7.0])
    e, thr = metrics.eer(bona, spoof)
    assert e == 0.0 and thr == 0.5
    assert metrics.error_rates_at(bona, spoof, thr) == (0.0, 0.0)
    # Reversed polarity is as wrong as it gets.
    assert metrics.eer(spoof, bona)[0] == 1.0


def test_eer_of_identical_distributions_is_about_half() -> None:
    rng = np.random.default_rng(1)
    e, _ = metrics.eer(rng.normal(size=4000), rng.normal(size=4000))
    assert e == pytest.approx(0.5, abs=0.03)


def test_eer_of_gaussians_matches_theory_and_ignores_monotone_maps() -> None:
    rng = np.random.default_rng(2)
    bona, spoof = rng.normal(0.0, 1.0, 20000), rng.normal(2.0, 1.0, 20000)
    e, thr = metrics.eer(bona, spoof)
    assert e == pytest.approx(norm.cdf(-1.0), abs=0.01)  # d' = 2: EER = Phi(-d'/2)
    assert thr == pytest.approx(1.0, abs=0.05)
    e2, thr2 = metrics.eer(np.exp(bona), np.exp(spoof))
    assert e2 == pytest.approx(e, abs=1e-4)


def test_single_class_and_non_finite_scores_are_refused() -> None:
    with pytest.raises(ValueError, match="both classes.*no synthetic"):
        metrics.eer([0.1, 0.2], [])
    with pytest.raises(ValueError, match="no bona fide"):
        metrics.cllr([], [1.0])
    with pytest.raises(ValueError, match="both classes"):
        metrics.min_cllr([0.3], np.array([]))
    with pytest.raises(ValueError, match="NaN or infinite"):
        metrics.eer([0.0, np.nan], [1.0])


def test_cllr_of_all_zero_llrs_is_exactly_one_bit() -> None:
    assert metrics.cllr(np.zeros(7), np.zeros(3)) == 1.0
    # Constant scores carry no information: the best monotone calibration cannot do better.
    assert metrics.min_cllr(np.full(5, 0.3), np.full(9, 0.3)) == pytest.approx(1.0)


def test_cllr_of_calibrated_well_separated_llrs_is_near_zero() -> None:
    # Gaussian LLRs with variance 2 * |mean| are perfectly calibrated.
    rng = np.random.default_rng(3)
    mu = 30.0
    llr_b = rng.normal(-mu, np.sqrt(2 * mu), 5000)
    llr_s = rng.normal(mu, np.sqrt(2 * mu), 5000)
    assert metrics.cllr(llr_b, llr_s) < 0.01
    # Calibrated LLRs lose almost nothing to the optimum; a bad scale loses a lot.
    mu = 2.0
    llr_b = rng.normal(-mu, np.sqrt(2 * mu), 20000)
    llr_s = rng.normal(mu, np.sqrt(2 * mu), 20000)
    c, cmin = metrics.cllr(llr_b, llr_s), metrics.min_cllr(llr_b, llr_s)
    assert c - cmin < 0.01
    assert metrics.cllr(5 * llr_b, 5 * llr_s) > c + 0.3
    assert metrics.min_cllr(5 * llr_b, 5 * llr_s) == pytest.approx(cmin)


def test_cllr_hand_computed() -> None:
    # bona LLR ln(3): log2(1 + 3) = 2 bits; spoof LLR ln(3): log2(1 + 1/3) bits.
    c = metrics.cllr([np.log(3.0)], [np.log(3.0)])
    assert c == pytest.approx(0.5 * (2.0 + np.log2(4 / 3)))
    assert metrics.cllr([-np.inf], [np.inf]) == 0.0


def test_pav_hand_computed_and_ties_pooled() -> None:
    # Labels in score order b s b s: PAV posteriors 0, .5, .5, 1 -> LLRs -inf, 0, 0, +inf.
    lb, ls = metrics.pav_llr([0.0, 2.0], [1.0, 3.0])
    assert lb.tolist() == [-np.inf, 0.0] and ls.tolist() == [0.0, np.inf]
    assert metrics.min_cllr([0.0, 2.0], [1.0, 3.0]) == pytest.approx(0.5)
    # Tied scores of both classes get one LLR.
    lb, ls = metrics.pav_llr([0.0, 1.0, 1.0], [1.0, 2.0])
    assert lb[1] == lb[2] == ls[0]
    assert metrics.min_cllr([-2.0, -1.0], [1.0, 5.0]) == 0.0


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_min_cllr_never_exceeds_cllr(seed: int) -> None:
    rng = np.random.default_rng(seed)
    bona = rng.normal(-1.0, 1.5, 300)
    spoof = rng.normal(1.0, 1.0, 200)
    for a, b in [(1.0, 0.0), (3.0, 2.0), (0.2, -1.0)]:
        llr_b, llr_s = a * bona + b, a * spoof + b
        assert metrics.min_cllr(llr_b, llr_s) <= metrics.cllr(llr_b, llr_s) + 1e-12
    assert 0.0 <= metrics.min_cllr(bona, spoof) <= 1.0
