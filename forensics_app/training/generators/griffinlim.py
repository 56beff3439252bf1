"""Mel spectrogram inversion with Griffin-Lim: the phase-reconstruction artefacts of early TTS."""

from __future__ import annotations

import librosa
import numpy as np

from forensics_app.training.generators.registry import GeneratorContext, generator

#: (n_fft, hop) pairs drawn from; frames of 32-64 ms with 4x-8x overlap at 16 kHz.
FRAMINGS = ((512, 128), (1024, 256), (1024, 200), (800, 200), (1024, 160))


def mel_roundtrip_magnitude(
    x: np.ndarray, *, rate: int, n_fft: int, hop: int, n_mels: int, fmax: float, power: float,
) -> np.ndarray:
    """Linear magnitude spectrogram recovered from a mel spectrogram of ``x``.

    The inverse uses the pseudo-inverse of the mel filter bank (clipped at 0), the fast
    approximation vocoder front ends of the Tacotron era used.

    Returns
    -------
    ndarray, shape (n_fft // 2 + 1, frames), float32
    """
    stft = librosa.stft(x, n_fft=n_fft, hop_length=hop, window="hann", center=True)
    mag = np.abs(stft).astype(np.float32) ** power
    basis = librosa.filters.mel(sr=rate, n_fft=n_fft, n_mels=n_mels, fmin=0.0, fmax=fmax).astype(np.float32)
    mel = basis @ mag
    mel = np.log(np.maximum(mel, 1e-10))  # the representation an acoustic model would predict
    approx = np.linalg.pinv(basis) @ np.exp(mel)
    return np.maximum(approx, 0.0) ** (1.0 / power)


@generator(
    id="griffinlim",
    family="vocoder",
    description="Mel spectrogram (80-128 mels) inverted by pseudo-inverse and Griffin-Lim phase recovery",
)
def griffinlim(
    wave: np.ndarray, *, rate: int, rng: np.random.Generator, context: GeneratorContext,
) -> np.ndarray:
    """Pass ``wave`` through a mel spectrogram and reconstruct it with Griffin-Lim.

    Settings drawn from ``rng``: framing (n_fft 512-1024, hop 128-256), mel bands (80-128),
    upper mel frequency (7.6 or 8 kHz), magnitude or power mel, 32-64 iterations, momentum
    0.9-0.99, random or zero initial phase.

    Returns
    -------
    ndarray, shape (n,), float32 at ``rate`` Hz
    """
    n_fft, hop = FRAMINGS[int(rng.integers(len(FRAMINGS)))]
    n_mels = int(rng.integers(80, 129))
    fmax = float(rng.choice([0.475, 0.5])) * rate
    power = float(rng.choice([1.0, 2.0]))
    n_iter = int(rng.integers(32, 65))
    momentum = float(rng.uniform(0.9, 0.99))
    init = "random" if rng.random() < 0.8 else None
    seed = int(rng.integers(2**31))

    x = np.asarray(wave, dtype=np.float32)
    mag = mel_roundtrip_magnitude(x, rate=rate, n_fft=n_fft, hop=hop, n_mels=n_mels, fmax=fmax, power=power)
    y = librosa.griffinlim(
        mag, n_iter=n_iter, hop_length=hop, n_fft=n_fft, window="hann", center=True,
        length=len(x), momentum=momentum, init=init, random_state=np.random.RandomState(seed),
    )
    return y.astype(np.float32)
