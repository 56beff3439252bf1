"""What the long-recording benchmarks share: the two-hour test WAV, the full-STFT baseline, memory readings.

Imported by ``benchmarks/long_recording.py`` and ``benchmarks/audio_view_open.py`` (run as scripts
from the repository root: their folder is on ``sys.path``).
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import numpy as np
import soundfile as sf

from forensics_app.dsp.stft import STFTSettings, stft_power
from forensics_app.ingest.audio_stream import open_audio_stream


def status_kb(field: str) -> int | None:
    """A field of /proc/self/status in kB (None where unavailable)."""
    try:
        text = Path("/proc/self/status").read_text()
    except OSError:
        return None
    m = re.search(rf"^{field}:\s+(\d+)\s+kB", text, re.MULTILINE)
    return int(m.group(1)) if m else None


def reset_hwm() -> bool:
    """Reset VmHWM to the current RSS (Linux ``clear_refs`` 5); False without permission."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def write_recording(path: Path, *, hours: float, rate: int, seed: int = 0) -> int:
    """Write the test WAV in one-minute blocks; returns the sample count."""
    n = int(hours * 3600 * rate)
    rng = np.random.default_rng(seed)
    block = 60 * rate
    with sf.SoundFile(str(path), "w", samplerate=rate, channels=1, subtype="PCM_16") as fh:
        for s in range(0, n, block):
            t = np.arange(s, min(n, s + block)) / rate
            x = 0.02 * rng.standard_normal(len(t)) + 0.1 * np.sin(2 * np.pi * 1000.0 * t)
            x += 0.05 * np.sin(2 * np.pi * (300.0 + 2500.0 * (t / (hours * 3600))) * t)  # slow sweep
            burst = (t % 60.0) < 0.5
            x[burst] += 0.3 * np.sin(2 * np.pi * 3000.0 * t[burst])
            fh.write(x.astype(np.float32))
    return n


def full_stft_seconds(path: Path, settings: STFTSettings) -> tuple[float, int]:
    """Every STFT frame of the file, computed in blocks through the stream; returns (seconds, frames)."""
    t = time.perf_counter()
    block_frames = 4096
    with open_audio_stream(path) as stream:
        total = settings.n_frames(stream.n_samples)
        col_max = np.zeros(settings.n_freqs, np.float32)
        half = settings.win_length // 2
        for f0 in range(0, total, block_frames):
            n = min(block_frames, total - f0)
            lo = f0 * settings.hop - half
            hi = (f0 + n - 1) * settings.hop - half + settings.win_length
            x = stream.read_mono(lo, hi)
            p = stft_power(x, rate=stream.rate, settings=settings, start_frame=f0, n_frames=n, offset=max(lo, 0))
            np.maximum(col_max, p.max(axis=1), out=col_max)
    return time.perf_counter() - t, total
