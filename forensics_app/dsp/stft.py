"""The short-time Fourier transform core: power spectra of windowed frames, in bounded blocks.

Frame convention (the same for every caller): frame ``k`` is *centred* on sample ``k * hop``,
i.e. at time ``t = k * hop / rate`` seconds. It covers samples
``[k * hop - win_length // 2, k * hop - win_length // 2 + win_length)``; samples before 0 or past
the end of the recording count as zero (as ``librosa.stft(center=True, pad_mode="constant")``).
A recording of ``n`` samples has ``1 + (n - 1) // hop`` frames (every frame whose centre lies in
it). The windowed frame is zero-padded at its end to ``n_fft`` samples and transformed with
``scipy.fft.rfft``; its power ``|X|**2`` is returned for the ``n_fft // 2 + 1`` bins
``f = i * rate / n_fft`` (0 Hz to Nyquist).

Frames are cut from strided views of the signal (no copy of overlapping frames), windowed into
one reused buffer and transformed in blocks of about 512 KiB, so memory stays bounded whatever
the signal length. Levels: :func:`power_to_db` with ``ref=settings.full_scale_power()`` gives dB
relative to a full-scale sine (dBFS): a sine of amplitude ``a`` centred on a bin reads
``20 log10(a)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import scipy.fft
import scipy.signal
from numpy.lib.stride_tricks import sliding_window_view

__all__ = ["STFTSettings", "WINDOWS", "stft_power", "stft_power_at", "power_to_db", "window_array",
           "default_workers", "DEFAULT_WORKERS"]

WINDOWS: dict[str, str] = {
    "hann": "hann",
    "hamming": "hamming",
    "blackman": "blackman",
    "blackmanharris": "blackmanharris",
    "rectangular": "boxcar",
}
"""Window names offered to users -> scipy.signal.get_window names (periodic windows)."""
_BLOCK_BYTES = 1 << 19
"""Windowed frames per transform block: about this many bytes of float32 input."""


@dataclass(frozen=True)
class STFTSettings:
    """How spectra are computed and shown.

    Attributes
    ----------
    window : str
        One of :data:`WINDOWS` ("hann", "hamming", "blackman", "blackmanharris", "rectangular").
    win_length : int
        Window length in samples.
    n_fft : int
        Transform size in samples (>= ``win_length``; the frame is zero-padded to it).
    hop : int
        Samples between frame centres.
    db_floor : float
        Lowest level kept, in dBFS: weaker bins (and digital silence) read this value; it is
        also the bottom of the colour scale.
    db_range : float
        Span of the colour scale in dB: levels are shown from ``db_floor`` to
        ``db_floor + db_range`` dBFS (see :attr:`levels`).
    """

    window: str = "hann"
    win_length: int = 1024
    n_fft: int = 1024
    hop: int = 256
    db_floor: float = -120.0
    db_range: float = 120.0

    def __post_init__(self) -> None:
        if self.window not in WINDOWS:
            raise ValueError(f"unknown window {self.window!r}; choose one of {', '.join(WINDOWS)}")
        if self.win_length < 2 or self.hop < 1:
            raise ValueError(f"window length ({self.win_length}) must be >= 2 and hop ({self.hop}) >= 1")
        if self.n_fft < self.win_length:
            raise ValueError(f"FFT size ({self.n_fft}) must be at least the window length ({self.win_length})")
        if not self.db_range > 0:
            raise ValueError(f"dB range must be positive, not {self.db_range}")

    @property
    def n_freqs(self) -> int:
        """Frequency bins per spectrum: ``n_fft // 2 + 1``."""
        return self.n_fft // 2 + 1

    @property
    def levels(self) -> tuple[float, float]:
        """Colour-scale limits in dBFS: ``(db_floor, db_floor + db_range)``."""
        return (self.db_floor, self.db_floor + self.db_range)

    def spectral_key(self) -> tuple[str, int, int, int]:
        """The fields that change the spectra (not how levels are shown)."""
        return (self.window, self.win_length, self.n_fft, self.hop)

    def freqs_hz(self, rate: int) -> np.ndarray:
        """Bin centre frequencies in Hz, shape (n_freqs,)."""
        return np.arange(self.n_freqs) * (float(rate) / self.n_fft)

    def n_frames(self, n_samples: int) -> int:
        """Frames of a recording of ``n_samples`` samples: ``1 + (n - 1) // hop`` (0 if empty)."""
        return 0 if n_samples <= 0 else 1 + (int(n_samples) - 1) // self.hop

    def frame_time_s(self, frame: np.ndarray | int, rate: int) -> np.ndarray | float:
        """Centre time in seconds of frame index ``frame``: ``frame * hop / rate``."""
        return np.asarray(frame) * (self.hop / float(rate)) if not np.isscalar(frame) else frame * self.hop / float(rate)

    def full_scale_power(self) -> float:
        """``|X|**2`` of a full-scale sine centred on a bin: ``(sum(window) / 2) ** 2``."""
        return float(np.sum(window_array(self.window, self.win_length), dtype=np.float64) / 2.0) ** 2


@lru_cache(maxsize=32)
def _window(name: str, length: int) -> np.ndarray:
    w = scipy.signal.get_window(WINDOWS[name], length, fftbins=True).astype(np.float32)
    w.setflags(write=False)
    return w


def window_array(name: str, length: int) -> np.ndarray:
    """The periodic window ``name`` of ``length`` samples, float32, read-only."""
    if name not in WINDOWS:
        raise ValueError(f"unknown window {name!r}; choose one of {', '.join(WINDOWS)}")
    return _window(name, int(length))


DEFAULT_WORKERS = 1
"""Threads ``scipy.fft`` uses per call unless a caller asks for more. One: the blocks are small
(about 128 frames of 1024 samples), and on the 2-core reference machine a second FFT thread made
them slower (10 min of 16 kHz audio: 0.086 s with 2 threads, 0.075 s with 1). Parallelism comes
from running renders on the worker pool; ``benchmarks/stft_throughput.py --workers N`` measures
other machines."""


def default_workers() -> int:
    """Threads given to ``scipy.fft`` when the caller passes ``workers=None``."""
    return DEFAULT_WORKERS


def _block_frames(settings: STFTSettings) -> int:
    return int(min(1024, max(16, _BLOCK_BYTES // (4 * settings.n_fft))))


def _segment(x: np.ndarray, lo: int, hi: int) -> np.ndarray:
    """``x[lo:hi]`` as float32 with zeros where the range leaves ``x``."""
    n = len(x)
    if 0 <= lo and hi <= n:
        return np.asarray(x[lo:hi], dtype=np.float32)
    seg = np.zeros(hi - lo, np.float32)
    a, b = max(lo, 0), min(hi, n)
    if b > a:
        seg[a - lo:b - lo] = x[a:b]
    return seg


def _power_rows(frames: np.ndarray, window: np.ndarray, n_fft: int, buf: np.ndarray, out: np.ndarray,
                workers: int) -> None:
    """Window ``frames`` (k, win) into ``buf``, transform, and write ``|X|**2`` into ``out`` (k, n_freqs)."""
    k = len(frames)
    b = buf[:k]
    np.multiply(frames, window, out=b)
    spec = scipy.fft.rfft(b, n=n_fft, axis=1, workers=workers, overwrite_x=True)
    # |X| then its square: faster than re**2 + im**2 (no strided temporaries), error ~1e-7 relative
    np.abs(spec, out=out)
    np.multiply(out, out, out=out)


def stft_power(x: np.ndarray, *, rate: int, settings: STFTSettings, start_frame: int = 0,
               n_frames: int | None = None, offset: int = 0, workers: int | None = None,
               out: np.ndarray | None = None) -> np.ndarray:
    """Power spectra of consecutive frames (see the module docstring for the convention).

    Parameters
    ----------
    x : np.ndarray
        Mono signal, shape (n,), any float dtype (a memory map is fine: it is read in blocks).
    rate : int
        Sample rate in Hz.
    settings : STFTSettings
        Window, window length, FFT size, hop.
    start_frame : int
        First frame index (frame ``k`` is centred on sample ``k * hop``).
    n_frames : int, optional
        Frames to compute; default: up to the last frame whose centre lies in ``x``.
    offset : int
        Index in the recording of ``x[0]``, for a caller that passes a chunk: samples outside
        ``x`` count as zero, so the chunk must cover the frames asked for (use
        ``[start_frame * hop - win_length // 2, (start_frame + n_frames - 1) * hop - win_length // 2 + win_length)``).
    workers : int, optional
        Threads for ``scipy.fft`` (default :data:`DEFAULT_WORKERS`).
    out : np.ndarray, optional
        C-contiguous float32 array of shape (n_frames, n_freqs) to write the spectra into
        (a caller computing many chunks reuses one buffer; the result is then ``out.T``).

    Returns
    -------
    np.ndarray
        float32, shape (n_freqs, n_frames): ``|rfft(window * frame, n_fft)|**2``. It is the
        transposed view of a C-ordered (n_frames, n_freqs) array (frames are computed row by row).
    """
    if rate <= 0:
        raise ValueError(f"sample rate must be positive, not {rate}")
    x = np.asarray(x)
    if x.ndim != 1:
        raise ValueError(f"stft_power needs a mono signal of shape (n,), not {x.shape}")
    hop, win_len = settings.hop, settings.win_length
    half = win_len // 2
    if n_frames is None:
        n_frames = max(0, settings.n_frames(offset + len(x)) - start_frame)
    shape = (int(n_frames), settings.n_freqs)
    if out is None:
        out = np.empty(shape, np.float32)
    elif out.shape != shape or out.dtype != np.float32 or not out.flags.c_contiguous:
        raise ValueError(f"out must be a C-contiguous float32 array of shape {shape}, not {out.dtype} {out.shape}")
    if n_frames == 0:
        return out.T
    window = window_array(settings.window, win_len)
    workers = default_workers() if workers is None else int(workers)
    block = _block_frames(settings)
    buf = np.empty((block, win_len), np.float32)
    for j0 in range(0, n_frames, block):
        j1 = min(n_frames, j0 + block)
        lo = (start_frame + j0) * hop - half - offset
        hi = (start_frame + j1 - 1) * hop - half + win_len - offset
        seg = _segment(x, lo, hi)
        frames = sliding_window_view(seg, win_len)[::hop]
        _power_rows(frames, window, settings.n_fft, buf, out[j0:j1], workers)
    return out.T


def stft_power_at(frames: np.ndarray, *, settings: STFTSettings, workers: int | None = None) -> np.ndarray:
    """Power spectra of frames already cut from the signal (any frame positions).

    Parameters
    ----------
    frames : np.ndarray
        Shape (k, win_length): the unwindowed samples of each frame (see
        :meth:`~forensics_app.ingest.audio_stream.AudioStream.read_windows` with
        ``starts = frame * hop - win_length // 2``).
    settings : STFTSettings
    workers : int, optional
        Threads for ``scipy.fft``.

    Returns
    -------
    np.ndarray
        float32, shape (n_freqs, k), as :func:`stft_power`.
    """
    frames = np.asarray(frames, dtype=np.float32)
    if frames.ndim != 2 or frames.shape[1] != settings.win_length:
        raise ValueError(f"frames must have shape (k, {settings.win_length}), not {frames.shape}")
    k = len(frames)
    out = np.empty((k, settings.n_freqs), np.float32)
    window = window_array(settings.window, settings.win_length)
    workers = default_workers() if workers is None else int(workers)
    block = _block_frames(settings)
    buf = np.empty((min(block, max(k, 1)), settings.win_length), np.float32)
    for j0 in range(0, k, block):
        j1 = min(k, j0 + block)
        _power_rows(frames[j0:j1], window, settings.n_fft, buf, out[j0:j1], workers)
    return out.T


def power_to_db(power: np.ndarray, *, ref: float = 1.0, floor_db: float | None = -120.0) -> np.ndarray:
    """``10 log10(power / ref)`` as float32, clipped below at ``floor_db`` (None: at -300 dB).

    Parameters
    ----------
    power : np.ndarray
        Any shape, non-negative.
    ref : float
        Power that reads 0 dB (``settings.full_scale_power()`` for dBFS).
    floor_db : float, optional
        Lowest value returned (zero power reads this).
    """
    floor = -300.0 if floor_db is None else float(floor_db)
    p = np.asarray(power, dtype=np.float32)
    tiny = np.float32(float(ref) * 10.0 ** (floor / 10.0)) if floor > -300.0 else np.float32(1e-30)
    db = np.log10(np.maximum(p, max(tiny, np.finfo(np.float32).tiny)))
    db *= np.float32(10.0)
    db -= np.float32(10.0 * np.log10(ref))
    np.maximum(db, np.float32(floor), out=db)
    return db
