"""LFCC front end (linear-frequency cepstral coefficients) as a torch module.

Settings follow the LFCC of the ASVspoof 2021 LA LFCC-LCNN baseline (Wang & Yamagishi, 2021):
16 kHz audio, pre-emphasis 0.97, 20 ms Hamming window (320 samples), 10 ms hop (160 samples),
512-point FFT, power spectrum, 20 triangular filters equally spaced on a linear frequency axis
from 0 Hz to the Nyquist frequency, natural log, orthonormal DCT-II keeping 20 coefficients, plus
delta and delta-delta (``(c[t+1] - c[t-1]) / 2`` with the edge frames repeated): 60 values per
frame. One deliberate difference: c0 is kept as the DCT of the log energies instead of being
replaced by the frame's log energy, so that the cepstra are a function of the log filterbank
energies alone (:meth:`Lfcc.cepstra`), which explanation maps differentiate through.

Frames are centred: frame ``k`` covers samples ``[k * hop - win/2, k * hop + win/2)`` of the
input (zero padded at the ends); a (B, T) input gives ``T // hop + 1`` frames.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from forensics_app.domain.errors import ForensicsError

LFCC_DEFAULTS: dict[str, Any] = {
    "sample_rate": 16000,
    "win_length": 320,
    "hop_length": 160,
    "n_fft": 512,
    "n_filters": 20,
    "n_ceps": 20,
    "pre_emphasis": 0.97,
    "with_deltas": True,
    "log_floor": 1e-10,
}


def linear_filterbank(*, sample_rate: int, n_fft: int, n_filters: int) -> tuple[np.ndarray, np.ndarray]:
    """Triangular filters equally spaced from 0 Hz to ``sample_rate / 2``.

    Returns
    -------
    weights : ndarray, (n_filters, n_fft // 2 + 1) float32
        Filter gains per FFT bin (peak 1 at the centre frequency).
    centres_hz : ndarray, (n_filters,) float64
        Centre frequency of each filter (Hz).
    """
    edges = np.linspace(0.0, sample_rate / 2.0, n_filters + 2)
    bins = np.arange(n_fft // 2 + 1) * sample_rate / n_fft
    lo, mid, hi = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    rising = (bins[None, :] - lo) / (mid - lo)
    falling = (hi - bins[None, :]) / (hi - mid)
    weights = np.clip(np.minimum(rising, falling), 0.0, None)
    return weights.astype(np.float32), edges[1:-1].copy()


def dct_matrix(n_out: int, n_in: int) -> np.ndarray:
    """Orthonormal DCT-II matrix, (n_out, n_in) float32: ``c = D @ x``."""
    k = np.arange(n_out)[:, None]
    n = np.arange(n_in)[None, :]
    d = np.cos(np.pi * k * (2 * n + 1) / (2 * n_in)) * np.sqrt(2.0 / n_in)
    d[0] /= np.sqrt(2.0)
    return d.astype(np.float32)


def deltas(x: Tensor) -> Tensor:
    """First-order differences over the last (time) axis: ``(x[t+1] - x[t-1]) / 2``, edges repeated."""
    padded = torch.cat([x[..., :1], x, x[..., -1:]], dim=-1)
    return (padded[..., 2:] - padded[..., :-2]) * 0.5


class Lfcc(nn.Module):
    """LFCC features of a batch of waveforms.

    Parameters
    ----------
    config : Mapping
        Keys of :data:`LFCC_DEFAULTS` (left-out keys take those values): ``sample_rate`` (Hz),
        ``win_length``, ``hop_length``, ``n_fft`` (samples), ``n_filters``, ``n_ceps``,
        ``pre_emphasis`` (0 disables), ``with_deltas``, ``log_floor`` (added to the energies
        before the log).
    """

    def __init__(self, config: Mapping[str, Any] | None = None) -> None:
        super().__init__()
        cfg = {**LFCC_DEFAULTS, **dict(config or {})}
        unknown = sorted(set(cfg) - set(LFCC_DEFAULTS))
        if unknown:
            raise ForensicsError(f"LFCC: unknown setting(s) {unknown}; known: {sorted(LFCC_DEFAULTS)}")
        self.sample_rate = int(cfg["sample_rate"])
        self.win_length = int(cfg["win_length"])
        self.hop_length = int(cfg["hop_length"])
        self.n_fft = int(cfg["n_fft"])
        self.n_filters = int(cfg["n_filters"])
        self.n_ceps = int(cfg["n_ceps"])
        self.pre_emphasis = float(cfg["pre_emphasis"])
        self.with_deltas = bool(cfg["with_deltas"])
        self.log_floor = float(cfg["log_floor"])
        if self.win_length > self.n_fft or self.n_ceps > self.n_filters:
            raise ForensicsError(f"LFCC: need win_length <= n_fft and n_ceps <= n_filters, got {cfg}")
        weights, centres = linear_filterbank(sample_rate=self.sample_rate, n_fft=self.n_fft,
                                             n_filters=self.n_filters)
        self._centres_hz = centres
        self.register_buffer("window", torch.hamming_window(self.win_length), persistent=False)
        self.register_buffer("fbank", torch.from_numpy(weights), persistent=False)
        self.register_buffer("dct", torch.from_numpy(dct_matrix(self.n_ceps, self.n_filters)),
                             persistent=False)

    @property
    def n_features(self) -> int:
        """Values per frame of :meth:`forward` (``3 * n_ceps`` with deltas)."""
        return self.n_ceps * (3 if self.with_deltas else 1)

    @property
    def centres_hz(self) -> np.ndarray:
        """Centre frequency of each filter, (n_filters,) Hz."""
        return self._centres_hz.copy()

    def n_frames(self, n_samples: int) -> int:
        """Frames of a ``n_samples`` long input."""
        return n_samples // self.hop_length + 1

    def frame_times_s(self, n_frames: int) -> np.ndarray:
        """Centre time of each frame relative to the input start, (n_frames,) s."""
        return np.arange(n_frames) * (self.hop_length / self.sample_rate)

    def log_fbank(self, wave: Tensor) -> Tensor:
        """Log linear-filterbank energies.

        Parameters
        ----------
        wave : Tensor, (B, T) float32
            Audio at ``sample_rate``, range [-1, 1].

        Returns
        -------
        Tensor, (B, n_filters, T // hop + 1) float32
            Natural log of the filter energies (power spectrum units).
        """
        if wave.dim() != 2:
            raise ForensicsError(f"LFCC: expected a (batch, samples) waveform, got shape {tuple(wave.shape)}")
        if self.pre_emphasis:
            wave = torch.cat([wave[:, :1], wave[:, 1:] - self.pre_emphasis * wave[:, :-1]], dim=1)
        half = self.n_fft // 2  # centred frames, zero padding (explicit: faster than center=True)
        spec = torch.stft(F.pad(wave, (half, half)), n_fft=self.n_fft, hop_length=self.hop_length,
                          win_length=self.win_length, window=self.window, center=False,
                          return_complex=True)
        power = spec.real.square() + spec.imag.square()
        return torch.log(torch.matmul(self.fbank, power) + self.log_floor)

    def cepstra(self, log_fbank: Tensor) -> Tensor:
        """LFCC (+ deltas) from log filterbank energies.

        Parameters
        ----------
        log_fbank : Tensor, (B, n_filters, frames)

        Returns
        -------
        Tensor, (B, n_features, frames)
            ``n_ceps`` static coefficients, then their deltas and delta-deltas when enabled.
        """
        c = torch.matmul(self.dct, log_fbank)
        if not self.with_deltas:
            return c
        d = deltas(c)
        return torch.cat([c, d, deltas(d)], dim=1)

    def forward(self, wave: Tensor) -> Tensor:
        """LFCC of ``wave`` (B, T): (B, n_features, T // hop + 1)."""
        return self.cepstra(self.log_fbank(wave))
