"""Writing generated audio: float samples to 16-bit PCM WAV, and dBFS levels."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf


def write_wav(path: Path | str, samples: np.ndarray, rate: int) -> Path:
    """Write float samples (n,) or (n, channels) in [-1, 1] as 16-bit PCM WAV (clipped to range)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), np.clip(samples, -1.0, 1.0).astype(np.float32), int(rate), subtype="PCM_16",
             format="WAV")
    return path


def level(dbfs: float) -> float:
    """Linear amplitude of a level in dBFS."""
    return float(10.0 ** (dbfs / 20.0))
