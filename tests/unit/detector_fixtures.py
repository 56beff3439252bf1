"""A tiny real detector for tests: an LFCC-LCNN trained in seconds to call a 3 kHz whistle "spoof".

The trained shipped weights are not what these tests examine (the analyzer's windows, gating,
calibration, fusion, segments, maps and storage are), so a small net trained on a synthetic task
stands in: noise-like "speech" is bona fide, the same with a steady 3 kHz tone is spoof.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from forensics_app.detectors import catalog
from forensics_app.nets.registry import build

RATE = 16000
TONE_HZ = 3000.0
CONFIG = {"width": 0.25, "hidden": 16, "dropout": 0.0}


def babble(n: int, rng: np.random.Generator) -> np.ndarray:
    """Speech-like noise: pink-ish noise with a syllabic (4 Hz) envelope, RMS about -20 dBFS."""
    white = rng.standard_normal(n)
    pink = np.cumsum(white)
    pink -= np.convolve(pink, np.ones(64) / 64, mode="same")
    env = 0.6 + 0.4 * np.sin(2 * np.pi * 4.0 * np.arange(n) / RATE + rng.uniform(0, 6.28))
    x = pink * env
    return (0.1 * x / (np.sqrt(np.mean(x**2)) + 1e-12)).astype(np.float32)


def whistle(n: int, *, level: float = 0.05) -> np.ndarray:
    """The "synthetic artefact": a steady 3 kHz tone."""
    return (level * np.sin(2 * np.pi * TONE_HZ * np.arange(n) / RATE)).astype(np.float32)


def train_tiny_lcnn(*, steps: int = 60, seed: int = 0) -> torch.nn.Module:
    """An LFCC-LCNN that separates babble from babble + whistle (2 s windows)."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    net = build("lfcc_lcnn", CONFIG)
    opt = torch.optim.Adam(net.parameters(), lr=3e-3)
    n = 2 * RATE
    net.train()
    for _ in range(steps):
        bona = [babble(n, rng) for _ in range(4)]
        spoof = [babble(n, rng) + whistle(n) for _ in range(4)]
        x = torch.from_numpy(np.stack(bona + spoof))
        y = torch.tensor([1] * 4 + [0] * 4)  # column 0 = spoof, 1 = bona fide
        loss = torch.nn.functional.cross_entropy(net(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    net.eval()
    return net


def install_tiny_detector(models_dir: Path, *, model_id: str = "tiny-lcnn", seed: int = 0) -> Path:
    """Train the tiny net and catalogue it in ``models_dir`` like a shipped model."""
    models_dir.mkdir(parents=True, exist_ok=True)
    manifest = models_dir / "manifest.toml"
    if not manifest.exists():
        manifest.write_text("# test models\n", encoding="utf-8")
    net = train_tiny_lcnn(seed=seed)
    weights = models_dir / f"{model_id}.pt"
    torch.save({k: v.detach().clone() for k, v in net.state_dict().items()}, weights)
    details = {
        "config": CONFIG,
        "calibration": {"a": 1.0, "b": 0.0},
        "bands": {"t_low": -1.0, "t_high": 1.0, "rates": {
            "max_error": 0.01, "n_bona": 100, "n_spoof": 100, "bona_fide_called_synthetic": 0.0,
            "spoof_called_bona_fide": 0.0, "inconclusive_bona_fide": 0.05, "inconclusive_spoof": 0.05,
            "collapsed_to_eer": False}},
        "validation": {"overall": {"eer": 0.0, "paired": {"eer": 0.0}}, "per_generator": [], "n_speakers": 2},
        "limits": ["test detector: knows only a 3 kHz whistle"],
    }
    catalog.write_shipped_entry({
        "id": model_id, "task": "speech-detection", "architecture": "lfcc_lcnn", "file": weights.name,
        "sample_rate": RATE, "input_length_s": 2.0, "hop_s": 0.5,
        "score_polarity": "logits[:, 0] = spoof", "licence": "test", "training_data": "synthetic",
        "card": "", "details": f"{model_id}.json",
    }, details, models_dir=models_dir)
    return weights
