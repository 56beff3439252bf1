"""16 kHz mono audio in and out for the training data.

Everything the detectors train on is mono float32 at :data:`RATE` in [-1, 1]; this module is the
one place that reads corpus files into that form and writes WAVs (16-bit PCM) back.
"""

from __future__ import annotations

import os
from math import gcd
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy.signal import resample_poly

from forensics_app.domain.errors import CorruptMedia, ForensicsError, UnsupportedMedia

#: Sample rate of every training waveform (Hz).
RATE = 16000


def resample(wave: np.ndarray, *, src_rate: int, dst_rate: int) -> np.ndarray:
    """Polyphase resampling of a mono signal.

    Parameters
    ----------
    wave : ndarray, shape (n,)
        Samples at ``src_rate``.
    src_rate, dst_rate : int
        Sample rates (Hz).

    Returns
    -------
    ndarray, shape (round(n * dst_rate / src_rate),), float32
    """
    x = np.asarray(wave, dtype=np.float32)
    if src_rate <= 0 or dst_rate <= 0:
        raise ForensicsError(f"sample rates must be positive, got {src_rate} -> {dst_rate}")
    if src_rate == dst_rate:
        return x.copy()
    g = gcd(int(src_rate), int(dst_rate))
    up, down = int(dst_rate) // g, int(src_rate) // g
    y = resample_poly(x.astype(np.float64), up, down)
    n = int(round(len(x) * dst_rate / src_rate))
    return y[:n].astype(np.float32)


def to_mono(samples: np.ndarray) -> np.ndarray:
    """Average the channels of a (n,) or (n, channels) array into a float32 (n,) signal."""
    a = np.asarray(samples, dtype=np.float32)
    if a.ndim == 2:
        a = a.mean(axis=1)
    if a.ndim != 1:
        raise ForensicsError(f"expected a (n,) or (n, channels) signal, got shape {a.shape}")
    return np.ascontiguousarray(a, dtype=np.float32)


def read_mono(path: Path, *, rate: int = RATE) -> np.ndarray:
    """Read an audio file as mono float32 at ``rate``.

    Parameters
    ----------
    path : Path
        FLAC, WAV, OGG or MP3 (whatever libsndfile reads).
    rate : int
        Output sample rate (Hz); the file is resampled when it differs.

    Returns
    -------
    ndarray, shape (n,), float32 in [-1, 1]

    Raises
    ------
    UnsupportedMedia
        The file is not a format libsndfile reads.
    CorruptMedia
        The file is missing, damaged or holds no samples.
    """
    path = Path(path)
    if not path.is_file():
        raise CorruptMedia(f"audio file {path} does not exist")
    try:
        data, src_rate = sf.read(str(path), dtype="float32", always_2d=True)
    except sf.LibsndfileError as exc:
        message = str(exc).lower()
        if "format" in message and "recogni" in message:
            raise UnsupportedMedia(f"{path.name}: not an audio format this reader knows ({exc})") from exc
        raise CorruptMedia(f"{path.name}: cannot decode ({exc})") from exc
    if data.shape[0] == 0:
        raise CorruptMedia(f"{path.name}: holds no audio samples")
    return resample(to_mono(data), src_rate=int(src_rate), dst_rate=rate)


def write_wav(path: Path, wave: np.ndarray, *, rate: int = RATE) -> Path:
    """Write a mono 16-bit PCM WAV, atomically (a temporary file renamed into place).

    Samples outside [-1, 1] are clipped. Parent folders are created.

    Parameters
    ----------
    path : Path
        Destination ``.wav``.
    wave : ndarray, shape (n,)
        Mono samples.
    rate : int
        Sample rate (Hz).
    """
    path = Path(path)
    x = to_mono(wave)
    if not np.all(np.isfinite(x)):
        raise ForensicsError(f"refusing to write {path.name}: the signal holds NaN or infinity")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        sf.write(str(tmp), np.clip(x, -1.0, 1.0), int(rate), subtype="PCM_16", format="WAV")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def peak(wave: np.ndarray) -> float:
    """Largest absolute sample value (0 for an empty signal)."""
    a = np.asarray(wave)
    return float(np.max(np.abs(a))) if a.size else 0.0


def match_peak(wave: np.ndarray, *, target_peak: float) -> np.ndarray:
    """Scale ``wave`` so that its peak equals ``target_peak`` (silence stays silence).

    Returns
    -------
    ndarray, shape (n,), float32
    """
    x = np.asarray(wave, dtype=np.float32)
    p = peak(x)
    if p <= 0.0 or target_peak <= 0.0:
        return x.copy()
    return (x * np.float32(target_peak / p)).astype(np.float32)


def fit_length(wave: np.ndarray, n: int) -> np.ndarray:
    """Crop or zero-pad ``wave`` at its end to exactly ``n`` samples (float32)."""
    x = np.asarray(wave, dtype=np.float32)
    if len(x) >= n:
        return x[:n].copy()
    return np.concatenate([x, np.zeros(n - len(x), dtype=np.float32)])
