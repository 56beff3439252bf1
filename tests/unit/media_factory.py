"""Small real media written by the tests that must not depend on the demo generators."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf
from PIL import Image


def sine_wav(path: Path, *, freq_hz: float = 440.0, amplitude: float = 0.5, duration_s: float = 1.0,
             rate: int = 16000, subtype: str = "PCM_16") -> Path:
    """A mono sine tone written with libsndfile."""
    t = np.arange(int(duration_s * rate)) / rate
    sf.write(str(path), (amplitude * np.sin(2 * np.pi * freq_hz * t)).astype(np.float32), rate, subtype=subtype)
    return path


def noise_png(path: Path, *, width: int = 64, height: int = 48, seed: int = 0) -> Path:
    """A random RGB PNG."""
    rng = np.random.default_rng(seed)
    Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8)).save(path)
    return path
