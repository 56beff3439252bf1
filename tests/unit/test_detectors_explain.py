"""Explanation maps: shapes and range, dispatch, and that they point at the evidence."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

torch = pytest.importorskip("torch")

from forensics_app.detectors.explain import Explanation, explain  # noqa: E402
from forensics_app.domain.errors import AnalyzerError, NotFound  # noqa: E402
from forensics_app.nets import registry  # noqa: E402
from forensics_app.nets.aasist import TIME_POOL  # noqa: E402

RATE = 16000
TONE_HZ = 3000.0


def _noise_batch(rng: np.random.Generator, n: int, seconds: float) -> tuple[np.ndarray, np.ndarray]:
    """Noise of random level; even items (label 0 = spoof) also carry a 3 kHz tone."""
    m = int(seconds * RATE)
    t = np.arange(m) / RATE
    x = rng.standard_normal((n, m)) * rng.uniform(0.02, 0.2, (n, 1))
    y = np.arange(n) % 2
    tone = np.sin(2 * np.pi * TONE_HZ * t + rng.uniform(0, 2 * np.pi, (n, 1))) * rng.uniform(0.02, 0.2, (n, 1))
    return (x + tone * (y == 0)[:, None]).astype(np.float32), y


@pytest.fixture(scope="module")
def tone_lcnn() -> torch.nn.Module:
    """A tiny LCNN trained for a few dozen steps to call 'noise + 3 kHz tone' spoof."""
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    net = registry.build("lfcc_lcnn", {"width": 0.125, "hidden": 16, "dropout": 0.0})
    opt = torch.optim.Adam(net.parameters(), lr=5e-3)
    for _ in range(30):
        x, y = _noise_batch(rng, 16, 0.25)
        loss = torch.nn.functional.cross_entropy(net(torch.from_numpy(x)), torch.from_numpy(y))
        opt.zero_grad()
        loss.backward()
        opt.step()
    opt.zero_grad()
    net.eval()
    x, y = _noise_batch(rng, 32, 1.0)
    with torch.no_grad():
        logits = net(torch.from_numpy(x))
    assert ((logits[:, 0] > logits[:, 1]).numpy() == (y == 0)).mean() >= 0.8
    return net


def _check_map(ex: Explanation) -> None:
    assert ex.values.dtype == np.float32 and ex.values.shape == (len(ex.freqs_hz), len(ex.times_s))
    assert ex.values.min() >= 0.0 and ex.values.max() == pytest.approx(1.0)
    assert np.all(np.diff(ex.freqs_hz) > 0) and np.all(np.diff(ex.times_s) > 0)
    assert ex.method


def test_integrated_gradients_concentrate_on_the_tone_band(tone_lcnn: torch.nn.Module, tmp_path: Path) -> None:
    x, y = _noise_batch(np.random.default_rng(7), 4, 1.0)
    path = tmp_path / "tone.wav"
    sf.write(path, x[0], RATE, subtype="PCM_16")  # a spoof (tone) window, through a real file
    wave, rate = sf.read(path, dtype="float32")
    ex = explain(tone_lcnn, "lfcc_lcnn", wave, rate=rate)
    _check_map(ex)
    assert ex.values.shape == (20, RATE // 160 + 1)
    assert ex.times_s[0] == 0.0 and ex.times_s[-1] == pytest.approx(1.0)
    mass = ex.values.sum(axis=1) / ex.values.sum()
    tone_band = int(np.argmin(np.abs(ex.freqs_hz - TONE_HZ)))
    assert int(np.argmax(mass)) == tone_band
    near = np.abs(ex.freqs_hz - TONE_HZ) < 600.0  # the tone's band and its two neighbours
    assert mass[near].sum() > 0.4  # 3 of 20 bands: 0.15 if the mass were spread evenly
    assert not tone_lcnn.training
    assert all(p.grad is None for p in tone_lcnn.parameters())


def test_lcnn_map_works_under_inference_mode(tone_lcnn: torch.nn.Module) -> None:
    x, _ = _noise_batch(np.random.default_rng(3), 1, 0.5)
    with torch.inference_mode():
        ex = explain(tone_lcnn, "lfcc_lcnn", x[0], rate=RATE, steps=4)
    _check_map(ex)


def test_aasist_map_covers_the_window() -> None:
    torch.manual_seed(0)
    net = registry.build("aasist", {"filts": [70, [1, 8], [8, 8], [8, 16], [16, 16]], "gat_dims": [16, 16]})
    net.train()
    t = np.arange(32000) / RATE
    wave = (0.3 * np.sin(2 * np.pi * 500 * t) + 0.05 * np.random.default_rng(0).standard_normal(32000))
    ex = explain(net, "aasist", wave.astype(np.float32), rate=RATE)
    _check_map(ex)
    assert not net.training
    assert ex.values.shape == (23, 14)
    # node centres, one node (2187 samples, 0.137 s) apart, from the start to the end of the window
    node_s = TIME_POOL / RATE
    assert 0 < ex.times_s[0] < node_s and 2.0 - 1.5 * node_s < ex.times_s[-1] < 2.0
    np.testing.assert_allclose(np.diff(ex.times_s), node_s)
    assert ex.freqs_hz[0] < 100 and 6500 < ex.freqs_hz[-1] < 8000
    # outer product of two importance vectors: rank one
    assert np.linalg.matrix_rank(ex.values.astype(np.float64), tol=1e-5) == 1


def test_bad_requests_raise_clear_errors(tone_lcnn: torch.nn.Module) -> None:
    with pytest.raises(NotFound, match="aasist.*lfcc_lcnn"):
        explain(tone_lcnn, "resnet", np.zeros(1600, np.float32), rate=RATE)
    with pytest.raises(AnalyzerError, match="expects 16000 Hz"):
        explain(tone_lcnn, "lfcc_lcnn", np.zeros(1600, np.float32), rate=8000)
    with pytest.raises(AnalyzerError, match="one mono window"):
        explain(tone_lcnn, "lfcc_lcnn", np.zeros((2, 1600), np.float32), rate=RATE)
    with pytest.raises(AnalyzerError, match="NaN"):
        explain(tone_lcnn, "lfcc_lcnn", np.full(1600, np.nan, np.float32), rate=RATE)
