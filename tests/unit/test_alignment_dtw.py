"""Banded coarse-to-fine DTW: exact against a plain recursion, bounded, and departures from its path."""

from __future__ import annotations

import numpy as np
import pytest

from forensics_app.alignment import departures, dtw
from forensics_app.domain.errors import AnalyzerError

HOP_S = 0.01


def unit_rows(n: int, d: int, rng: np.random.Generator) -> np.ndarray:
    v = rng.standard_normal((n, d)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def smooth_sequence(n: int, rng: np.random.Generator, d: int = 12) -> np.ndarray:
    """Unit vectors of white noise smoothed over 6 frames: neighbours alike (cosine about 0.8), frames
    60 ms apart unrelated, as speech frames are."""
    white = rng.standard_normal((n + 5, d))
    v = np.stack([white[k:k + n] for k in range(6)]).mean(axis=0)
    return (v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float32)


def plain_dtw_total(vq: np.ndarray, aq: np.ndarray, vr: np.ndarray, ar: np.ndarray, p: dtw.DTWParams) -> float:
    """The three-state recursion of the dtw module docstring over the full matrix, in plain Python."""
    n, m = len(vq), len(vr)
    inf = float("inf")
    acc = np.full((3, n, m), inf)
    for i in range(n):
        for j in range(m):
            if aq[i] and ar[j]:
                c = 1.0 - float(vq[i] @ vr[j])
            else:
                c = 1.0 if (aq[i] or ar[j]) else 0.0
            if i == 0 and j == 0:
                acc[0, i, j] = c
            elif i > 0 and j > 0:
                acc[0, i, j] = acc[:, i - 1, j - 1].min() + c
            for state, (pi, pj), active in ((1, (i - 1, j), aq[i]), (2, (i, j - 1), ar[j])):
                if pi < 0 or pj < 0:
                    continue
                first = min(c, p.gap) + p.step_penalty if active else p.silence_gap
                again = p.gap + p.step_penalty if active else p.silence_gap
                other = 2 if state == 1 else 1
                acc[state, i, j] = min(acc[0, pi, pj] + first, acc[other, pi, pj] + first, acc[state, pi, pj] + again)
    return float(acc[:, n - 1, m - 1].min())


def test_banded_kernel_equals_the_plain_recursion() -> None:
    rng = np.random.default_rng(1)
    params = dtw.DTWParams()
    for n, m in ((23, 31), (40, 17)):
        vq, vr = unit_rows(n, 6, rng), unit_rows(m, 6, rng)
        aq, ar = rng.random(n) > 0.2, rng.random(m) > 0.2
        path = dtw.align(vq, aq, vr, ar, params=params)
        assert path.total == pytest.approx(plain_dtw_total(vq, aq, vr, ar, params), rel=1e-5)
        assert (path.q[0], path.r[0], path.q[-1], path.r[-1]) == (0, 0, n - 1, m - 1)
        dq, dr = np.diff(path.q), np.diff(path.r)
        assert np.all((dq >= 0) & (dq <= 1) & (dr >= 0) & (dr <= 1) & (dq + dr >= 1))
        expected = np.where((dq == 1) & (dr == 1), dtw.DIAG, np.where(dq == 1, dtw.QUESTIONED, dtw.REFERENCE))
        assert np.array_equal(path.step[1:], expected)


def test_coarse_to_fine_finds_the_full_alignment_with_an_insertion(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(2)
    ref = smooth_sequence(900, rng)
    q = np.concatenate([ref[:400], smooth_sequence(150, rng), ref[400:]])  # 1.5 s inserted at 4.0 s
    aq, ar = np.ones(len(q), bool), np.ones(len(ref), bool)
    full = dtw.align(q, aq, ref, ar)
    monkeypatch.setattr(dtw, "FULL_CELLS", 20_000)
    banded = dtw.align(q, aq, ref, ar)
    assert banded.band_cells < 0.1 * len(q) * len(ref)
    assert banded.total == pytest.approx(full.total, rel=1e-4)
    found = departures.find_departures(banded, aq, ar, hop_s=HOP_S)
    assert [d.kind for d in found] == ["inserted"]
    assert found[0].start_s == pytest.approx(4.0, abs=0.1) and found[0].end_s == pytest.approx(5.5, abs=0.1)
    assert found[0].reference_start_s == found[0].reference_end_s == pytest.approx(4.0, abs=0.1)
    summary = departures.summarise(banded, aq, ar, hop_s=HOP_S)
    assert summary.slope == pytest.approx(1.0, abs=0.01)
    assert summary.reference_coverage > 0.95


def test_a_band_beyond_the_limit_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(3)
    v = smooth_sequence(200, rng)
    monkeypatch.setattr(dtw, "MAX_BAND_CELLS", 1000)
    with pytest.raises(AnalyzerError, match="million cells"):
        dtw.align(v, np.ones(200, bool), v, np.ones(200, bool))


def test_pauses_stretch_freely_and_deleted_speech_is_found() -> None:
    rng = np.random.default_rng(4)
    ref = smooth_sequence(800, rng)
    ar = np.ones(800, bool)
    ar[300:330] = False  # a pause in the reference
    ref[~ar] = 0.0
    # questioned: the pause is 3 s longer, and reference 6.0-6.5 s is cut out
    q = np.concatenate([ref[:315], np.zeros((300, ref.shape[1]), np.float32), ref[315:600], ref[650:]])
    aq = np.concatenate([ar[:315], np.zeros(300, bool), ar[315:600], ar[650:]])
    path = dtw.align(q, aq, ref, ar)
    found = departures.find_departures(path, aq, ar, hop_s=HOP_S)
    assert [d.kind for d in found] == ["deleted"]
    d = found[0]
    assert d.start_s == d.end_s == pytest.approx(9.0, abs=0.1)
    assert d.reference_start_s == pytest.approx(6.0, abs=0.1) and d.reference_end_s == pytest.approx(6.5, abs=0.1)
    summary = departures.summarise(path, aq, ar, hop_s=HOP_S)
    assert summary.coverage > 0.95 and summary.slope == pytest.approx(1.0, abs=0.02)
