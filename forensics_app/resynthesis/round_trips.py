"""Deterministic analysis-synthesis round trips at 16 kHz: the vocoders of self-resynthesis.

A round trip analyses a mono 16 kHz signal into a vocoder's parameters and synthesises it again,
with fixed settings (no random draws that change between calls), so the same input always gives
the same output. Speech that already came out of a similar vocoder sits near a fixed point of the
round trip and changes little; natural speech changes more.

Round trips register declaratively::

    @round_trip(id="world", label="WORLD vocoder")
    def world(wave: np.ndarray, *, device: str | None = None) -> np.ndarray:
        ...

Registered here, in :data:`ORDER`:

* ``world`` – WORLD (DIO + StoneMask f0, CheapTrick envelope, D4C aperiodicity, 5 ms frames).
* ``griffinlim`` – 80-band mel spectrogram (1024-point FFT, hop 256) inverted by the filter-bank
  pseudo-inverse and 32 Griffin-Lim iterations from a seeded random phase.
* ``lpc`` – order-20 LPC envelope every 12.5 ms re-excited by glottal pulses at the DIO f0 and
  seeded white noise where unvoiced.
* ``neural`` – the project's MelGAN vocoder (``models/vocoder-melgan-v1.pt``), on CUDA when
  :func:`forensics_app.settings.compute_device` says so.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import librosa
import numpy as np
import scipy.fft
from numpy.lib.stride_tricks import sliding_window_view
from scipy.signal import lfilter

from forensics_app.domain.errors import ForensicsError, NotFound
from forensics_app.training.generators.lpc import _glottal_pulse as glottal_pulse
from forensics_app.training.generators.lpc import excitation, frame_lpc
from forensics_app.training.generators.world import (
    extract_f0,
    pyworld,  # imported there with its import warning silenced
)

#: Sample rate of every round trip (Hz).
RATE = 16000

#: Order in which round trips are run and reported (and feature vectors laid out).
ORDER = ("world", "griffinlim", "lpc", "neural")

#: WORLD frame period (ms).
WORLD_FRAME_MS = 5.0

#: Griffin-Lim settings: FFT size, hop (samples), mel bands, iterations, momentum, phase seed.
GL_N_FFT, GL_HOP, GL_N_MELS, GL_ITERATIONS, GL_MOMENTUM, GL_SEED = 1024, 256, 80, 32, 0.99, 0

#: LPC settings: order, frame and hop (samples), pre-emphasis, pulse length (samples), voiced noise
#: mix, FFT size of the frame-wise synthesis filter, excitation seed.
LPC_ORDER, LPC_FRAME, LPC_HOP, LPC_PRE, LPC_PULSE, LPC_NOISE, LPC_NFFT, LPC_SEED = (
    20, 400, 200, 0.95, 48, 0.1, 1024, 0)

#: File name of the shipped neural vocoder in the models folder.
VOCODER_FILE = "vocoder-melgan-v1.pt"

#: Shortest input a round trip accepts (s).
MIN_DURATION_S = 0.1

RoundTripFunc = Callable[..., np.ndarray]

#: Serialises :func:`extract_f0`, whose content-keyed cache (shared by the WORLD and LPC round trips
#: of one chunk) is not thread-safe; analyzers run on worker threads.
_F0_LOCK = threading.Lock()


def dio_f0(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """DIO + StoneMask f0 (Hz, 0 unvoiced) and frame times (s) every :data:`WORLD_FRAME_MS`, shapes (frames,)."""
    with _F0_LOCK:
        return extract_f0(x, rate=RATE, method="dio", frame_period_ms=WORLD_FRAME_MS)


@dataclass(frozen=True)
class RoundTrip:
    """A registered round trip.

    Attributes
    ----------
    id : str
        Short id (``"world"``), used in finding labels, lane names and feature names.
    label : str
        Human-readable name for reports.
    description : str
        One line on what it does.
    classical : bool
        False for the neural vocoder (it needs torch and its weights).
    func : callable
        ``func(wave, *, device) -> ndarray``, the raw registered function.
    """

    id: str
    label: str
    description: str
    classical: bool
    func: RoundTripFunc = field(repr=False, compare=False)

    def __call__(self, wave: np.ndarray, *, device: str | None = None) -> np.ndarray:
        """Run the round trip on ``wave``.

        Parameters
        ----------
        wave : np.ndarray
            Shape (n,), mono float samples at :data:`RATE` Hz, finite.
        device : str, optional
            Torch device for the neural vocoder (``"cpu"``, ``"cuda"``); classical ones ignore it.

        Returns
        -------
        np.ndarray
            Shape (n,), float32 at :data:`RATE` Hz: the resynthesis, same length as ``wave``.

        Raises
        ------
        ForensicsError
            The input is not 1-D, holds NaN/inf, or is shorter than :data:`MIN_DURATION_S`.
        """
        x = np.asarray(wave, dtype=np.float32)
        if x.ndim != 1:
            raise ForensicsError(f"round trip {self.id!r} expects mono (n,) audio, got shape {x.shape}")
        if x.size < MIN_DURATION_S * RATE:
            raise ForensicsError(f"round trip {self.id!r}: {x.size / RATE:.3f} s of audio is too short "
                                 f"(at least {MIN_DURATION_S} s)")
        if not np.all(np.isfinite(x)):
            raise ForensicsError(f"round trip {self.id!r}: the audio holds NaN or infinite samples")
        y = np.asarray(self.func(x, device=device), dtype=np.float32).reshape(-1)
        if y.size < x.size:
            y = np.pad(y, (0, x.size - y.size))
        return np.ascontiguousarray(y[: x.size])


_REGISTRY: dict[str, RoundTrip] = {}


def round_trip(*, id: str, label: str, description: str = "",  # noqa: A002 - registry vocabulary
               classical: bool = True) -> Callable[[RoundTripFunc], RoundTripFunc]:
    """Register the decorated function as a round trip (see the module docstring)."""

    def deco(func: RoundTripFunc) -> RoundTripFunc:
        if id in _REGISTRY:
            raise ForensicsError(f"round trip {id!r} is registered twice")
        _REGISTRY[id] = RoundTrip(id=id, label=label, description=description or (func.__doc__ or "").split("\n")[0],
                                  classical=classical, func=func)
        return func

    return deco


def get(round_trip_id: str) -> RoundTrip:
    """The round trip registered as ``round_trip_id`` (raises NotFound)."""
    try:
        return _REGISTRY[round_trip_id]
    except KeyError:
        raise NotFound(f"unknown round trip {round_trip_id!r}; known: {', '.join(ids())}") from None


def ids() -> tuple[str, ...]:
    """Registered ids, those of :data:`ORDER` first in that order."""
    return tuple([i for i in ORDER if i in _REGISTRY] + sorted(set(_REGISTRY) - set(ORDER)))


def all_round_trips() -> tuple[RoundTrip, ...]:
    """Every registered round trip, in :func:`ids` order."""
    return tuple(_REGISTRY[i] for i in ids())


def select(spec: str) -> tuple[str, ...]:
    """Round-trip ids named by ``spec``: ``"all"``, ``"classical"`` or ids separated by commas.

    Raises
    ------
    NotFound
        An id is not registered.
    """
    s = spec.strip().lower()
    if s in {"", "all"}:
        return ids()
    if s == "classical":
        return tuple(i for i in ids() if _REGISTRY[i].classical)
    wanted = tuple(dict.fromkeys(w.strip() for w in s.split(",") if w.strip()))
    for w in wanted:
        get(w)
    return wanted


@round_trip(id="world", label="WORLD vocoder")
def world(wave: np.ndarray, *, device: str | None = None) -> np.ndarray:
    """WORLD analysis-synthesis: DIO + StoneMask f0, CheapTrick envelope, D4C aperiodicity, 5 ms frames."""
    del device
    x = np.ascontiguousarray(wave, dtype=np.float64)
    f0, times = dio_f0(x)
    sp = pyworld.cheaptrick(x, f0, times, RATE)
    ap = pyworld.d4c(x, f0, times, RATE)
    return pyworld.synthesize(f0, sp, ap, RATE, WORLD_FRAME_MS)[: len(x)]


def _overlap_add(frames: np.ndarray, hop: int) -> np.ndarray:
    """Overlap-add frames (n_frames, n_fft) placed every ``hop`` samples (n_fft a multiple of hop).

    Returns
    -------
    np.ndarray
        Shape (n_fft + hop * (n_frames - 1),), same dtype as ``frames``.
    """
    n_frames, n_fft = frames.shape
    k = n_fft // hop
    out = np.zeros(n_fft + hop * (n_frames - 1), dtype=frames.dtype)
    parts = frames.reshape(n_frames, k, hop)
    for j in range(k):
        out[j * hop: j * hop + n_frames * hop] += parts[:, j, :].reshape(-1)
    return out


def griffin_lim(mag: np.ndarray, *, n: int, n_fft: int = GL_N_FFT, hop: int = GL_HOP, n_iter: int = GL_ITERATIONS,
                momentum: float = GL_MOMENTUM, seed: int = GL_SEED) -> np.ndarray:
    """Fast Griffin-Lim (Perraudin, Balazs and Sondergaard 2013), as ``librosa.griffinlim`` with
    ``center=True``, in float32 with the window normalisation computed once.

    Parameters
    ----------
    mag : np.ndarray
        Shape (n_fft // 2 + 1, n_frames): target magnitudes of Hann-windowed frames centred every
        ``hop`` samples.
    n : int
        Output length (samples).
    n_fft, hop, n_iter, momentum, seed
        Frame size and hop (samples; ``n_fft`` a multiple of ``hop``), iterations, momentum, and the
        seed of the initial random phase.

    Returns
    -------
    np.ndarray
        Shape (n,), float32.
    """
    window = (np.hanning(n_fft + 1)[:-1]).astype(np.float32)
    target = np.ascontiguousarray(mag.T, dtype=np.float32)  # (n_frames, bins)
    n_frames = target.shape[0]
    wss = _overlap_add(np.tile(window * window, (n_frames, 1)), hop)
    inv = np.where(wss > 1e-6, 1.0 / np.maximum(wss, 1e-6), 0.0).astype(np.float32)
    rng = np.random.RandomState(seed)
    angles = np.exp(2j * np.pi * rng.rand(*target.shape)).astype(np.complex64)

    def istft(spec: np.ndarray) -> np.ndarray:
        return _overlap_add(scipy.fft.irfft(spec, n_fft, axis=1).astype(np.float32) * window, hop) * inv

    previous = None
    for _ in range(n_iter):
        y = istft(target * angles)
        rebuilt = scipy.fft.rfft(sliding_window_view(y, n_fft)[::hop] * window, axis=1)
        step = rebuilt if previous is None else rebuilt - (momentum / (1.0 + momentum)) * previous
        previous = rebuilt
        angles = step / np.maximum(np.abs(step), 1e-16)
    y = istft(target * angles)[n_fft // 2: n_fft // 2 + n]
    return np.pad(y, (0, n - len(y)))


@lru_cache(maxsize=1)
def _mel_bases() -> tuple[np.ndarray, np.ndarray]:
    """Mel filter bank (GL_N_MELS, bins) of the Griffin-Lim round trip and its pseudo-inverse (bins, GL_N_MELS)."""
    basis = librosa.filters.mel(sr=RATE, n_fft=GL_N_FFT, n_mels=GL_N_MELS, fmin=0.0, fmax=RATE / 2)
    return basis.astype(np.float32), np.linalg.pinv(basis).astype(np.float32)


def mel_magnitude(x: np.ndarray) -> np.ndarray:
    """Linear magnitudes recovered from the mel spectrogram of ``x``, as
    :func:`forensics_app.training.generators.griffinlim.mel_roundtrip_magnitude` (magnitude mel,
    pseudo-inverse clipped at 0) with the bases computed once.

    Returns
    -------
    np.ndarray
        Shape (GL_N_FFT // 2 + 1, 1 + len(x) // GL_HOP), float32: Hann frames centred every GL_HOP samples.
    """
    basis, inverse = _mel_bases()
    half = GL_N_FFT // 2
    padded = np.pad(np.asarray(x, dtype=np.float32), (half, half))
    window = np.hanning(GL_N_FFT + 1)[:-1].astype(np.float32)
    mag = np.abs(scipy.fft.rfft(sliding_window_view(padded, GL_N_FFT)[::GL_HOP] * window, axis=1)).T
    mel = np.maximum(basis @ mag, 1e-10)
    return np.maximum(inverse @ mel, 0.0)


@round_trip(id="griffinlim", label="Griffin-Lim mel inversion")
def griffinlim(wave: np.ndarray, *, device: str | None = None) -> np.ndarray:
    """80-band mel spectrogram inverted by pseudo-inverse and 32 fast Griffin-Lim iterations (seeded phase)."""
    del device
    x = np.asarray(wave, dtype=np.float32)
    return griffin_lim(mel_magnitude(x), n=len(x))


@round_trip(id="lpc", label="LPC source-filter vocoder")
def lpc(wave: np.ndarray, *, device: str | None = None) -> np.ndarray:
    """Order-20 LPC envelope every 12.5 ms re-excited by glottal pulses at the DIO f0 and seeded noise.

    The all-pole filter of each 25 ms frame is applied in the frequency domain to the Hann-windowed
    excitation frame (zero-padded to 1024 samples, 64 ms, so the filter's ringing is kept) and the
    frames are overlap-added: a vectorised time-varying synthesis filter.
    """
    del device
    x = np.asarray(wave, dtype=np.float64)
    n = len(x)
    f0, times = dio_f0(x)
    frame, hop, nfft = LPC_FRAME, LPC_HOP, LPC_NFFT
    emphasised = lfilter([1.0, -LPC_PRE], [1.0], x)
    pad = frame
    padded = np.concatenate([np.zeros(pad), emphasised, np.zeros(pad + nfft)])
    starts = np.arange(pad - frame // 2, pad + n, hop)
    a, gain = frame_lpc(padded, starts, frame=frame, nfft=nfft, order=LPC_ORDER, rate=RATE)
    window = np.hanning(frame + 1)[:-1]  # the analysis frames' periodic Hann, for the excitation frames
    exc = excitation(f0, times + pad / RATE, n=len(padded), rate=RATE, rng=np.random.default_rng(LPC_SEED),
                     noise_mix=LPC_NOISE, pulse=glottal_pulse(LPC_PULSE))
    exc_frames = sliding_window_view(exc, frame)[starts] * window
    filtered = np.fft.irfft(np.fft.rfft(exc_frames, nfft, axis=1) * (gain[:, None] / np.fft.rfft(a, nfft, axis=1)),
                            nfft, axis=1)
    cols = (starts[:, None] + np.arange(nfft)[None, :]).ravel()
    out = np.bincount(cols, weights=filtered.ravel(), minlength=len(padded) + nfft)  # overlap-add
    return lfilter([1.0], [1.0, -LPC_PRE], out[pad: pad + n])


def neural_weights() -> Path:
    """Path of the shipped neural vocoder weights (raises ForensicsError when absent)."""
    from forensics_app.detectors.catalog import shipped_models_dir

    path = shipped_models_dir() / VOCODER_FILE
    if not path.is_file():
        raise ForensicsError(f"the neural vocoder weights {VOCODER_FILE} are not installed in {path.parent}")
    return path


@lru_cache(maxsize=2)
def _cached_vocoder(path: str, mtime_ns: int, device: str) -> tuple[Any, Any]:
    """The vocoder of ``path`` on ``device``; the file's mtime is part of the key (replaced weights reload)."""
    from forensics_app.training.vocoder_io import load_vocoder

    del mtime_ns
    return load_vocoder(Path(path), device=device)


def neural_device(device: str | None = None) -> str:
    """``device`` or the workstation's compute device (``"cuda"`` when torch sees a GPU)."""
    from forensics_app.settings import compute_device

    return device or compute_device()


@round_trip(id="neural", label="Neural vocoder (MelGAN)", classical=False)
def neural(wave: np.ndarray, *, device: str | None = None) -> np.ndarray:
    """The project's MelGAN vocoder: 80-band log mel analysis and neural synthesis."""
    from forensics_app.training.vocoder_io import resynthesise

    dev = neural_device(device)
    path = neural_weights()
    net, frontend = _cached_vocoder(str(path), path.stat().st_mtime_ns, dev)
    return resynthesise(np.asarray(wave, dtype=np.float32), rate=RATE, net=net, frontend=frontend, device=dev)
