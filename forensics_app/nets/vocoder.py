"""A small MelGAN / HiFi-GAN style neural vocoder: log-mel spectrogram in, 16 kHz waveform out.

The project trains it on the bona fide train speakers (:mod:`forensics_app.training.vocoder_train`)
and uses it as the ``neural`` spoof generator and for comparative resynthesis. Two modules:

* :class:`MelFrontEnd` – waveform (B, T) -> natural-log mel spectrogram (B, n_mels, T // hop),
  computed with torch ops (Hann-windowed STFT, Slaney-style mel filterbank, no file I/O).
* :class:`MelGANGenerator` (registered as architecture ``"melgan"``) – log mel (B, n_mels, F) ->
  waveform (B, F * hop) in [-1, 1]: a 7-tap input convolution, transposed-convolution upsampling
  stages whose factors multiply to ``hop`` (8 x 8 x 2 x 2 = 256 by default), each followed by a
  residual stack of dilated convolutions, and a tanh output convolution.

Both are built from a config mapping; missing keys take the values of :data:`DEFAULT_CONFIG`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn
from torch.nn import functional as F  # noqa: N812

from forensics_app.domain.errors import ForensicsError
from forensics_app.nets.registry import architecture, resolve_config

#: Defaults of every config key (front end and generator share one config).
DEFAULT_CONFIG: dict[str, Any] = {
    "sample_rate": 16000,
    "n_fft": 1024,
    "hop": 256,
    "win_length": 1024,
    "n_mels": 80,
    "fmin": 0.0,
    "fmax": 8000.0,
    "log_floor": 1e-5,
    "channels": 192,
    "upsample_rates": [8, 8, 2, 2],
    "resblock_kernel": 3,
    "resblock_dilations": [1, 3, 9],
    "weight_norm": True,
    "leaky_slope": 0.1,
}


def vocoder_config(config: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """``config`` completed with :data:`DEFAULT_CONFIG` and checked.

    Raises
    ------
    ForensicsError
        Unknown keys, or upsampling factors whose product is not ``hop``.
    """
    cfg = resolve_config("melgan", DEFAULT_CONFIG, config or {})
    cfg["upsample_rates"] = [int(r) for r in cfg["upsample_rates"]]
    cfg["resblock_dilations"] = [int(d) for d in cfg["resblock_dilations"]]
    if math.prod(cfg["upsample_rates"]) != int(cfg["hop"]):
        raise ForensicsError(
            f"vocoder upsample_rates {cfg['upsample_rates']} multiply to "
            f"{math.prod(cfg['upsample_rates'])}, not the hop {cfg['hop']}")
    if cfg["n_fft"] < cfg["win_length"] or (cfg["n_fft"] - cfg["hop"]) % 2:
        raise ForensicsError("vocoder n_fft must be >= win_length and n_fft - hop must be even")
    if not 0 <= cfg["fmin"] < cfg["fmax"] <= cfg["sample_rate"] / 2:
        raise ForensicsError(f"vocoder needs 0 <= fmin < fmax <= rate/2, got {cfg['fmin']}, {cfg['fmax']}")
    return cfg


def _hz_to_mel(f: np.ndarray) -> np.ndarray:
    """Slaney mel scale: linear below 1 kHz, logarithmic above."""
    f = np.asarray(f, np.float64)
    f_sp = 200.0 / 3
    mel = f / f_sp
    min_log_hz, min_log_mel, logstep = 1000.0, 1000.0 / f_sp, math.log(6.4) / 27.0
    return np.where(f >= min_log_hz, min_log_mel + np.log(np.maximum(f, 1e-9) / min_log_hz) / logstep, mel)


def _mel_to_hz(m: np.ndarray) -> np.ndarray:
    m = np.asarray(m, np.float64)
    f_sp = 200.0 / 3
    min_log_hz, min_log_mel, logstep = 1000.0, 1000.0 / f_sp, math.log(6.4) / 27.0
    return np.where(m >= min_log_mel, min_log_hz * np.exp(logstep * (m - min_log_mel)), f_sp * m)


def mel_filterbank(*, rate: int, n_fft: int, n_mels: int, fmin: float, fmax: float) -> np.ndarray:
    """Slaney-normalised triangular mel filters (as ``librosa.filters.mel`` with defaults).

    Returns
    -------
    numpy.ndarray
        (n_mels, n_fft // 2 + 1) float32 weights on the rfft bins.
    """
    freqs = np.linspace(0.0, rate / 2, n_fft // 2 + 1)
    edges = _mel_to_hz(np.linspace(_hz_to_mel(fmin), _hz_to_mel(fmax), n_mels + 2))
    widths = np.diff(edges)
    ramps = edges[:, None] - freqs[None, :]
    lower = -ramps[:-2] / widths[:-1, None]
    upper = ramps[2:] / widths[1:, None]
    weights = np.maximum(0.0, np.minimum(lower, upper))
    weights *= (2.0 / (edges[2:] - edges[:-2]))[:, None]
    return weights.astype(np.float32)


def mel_band_centres(config: Mapping[str, Any] | None = None) -> np.ndarray:
    """Centre frequency of each mel band of :class:`MelFrontEnd`, in Hz, shape (n_mels,)."""
    cfg = vocoder_config(config)
    edges = _mel_to_hz(np.linspace(_hz_to_mel(cfg["fmin"]), _hz_to_mel(cfg["fmax"]), cfg["n_mels"] + 2))
    return edges[1:-1]


class MelFrontEnd(nn.Module):
    """Waveform -> natural-log mel spectrogram, one frame per ``hop`` samples.

    The signal is reflect-padded by ``(n_fft - hop) / 2`` samples at each end and framed without
    centring, so a clip of ``T`` samples (a multiple of ``hop``) gives exactly ``T // hop`` frames
    and the generator's output for them is ``T`` samples long. The filterbank and window are
    non-persistent buffers: the front end has no state to save.

    Parameters
    ----------
    config : mapping, optional
        Keys ``sample_rate, n_fft, hop, win_length, n_mels, fmin, fmax, log_floor``.
    """

    def __init__(self, config: Mapping[str, Any] | None = None) -> None:
        super().__init__()
        cfg = vocoder_config(config)
        self.n_fft = int(cfg["n_fft"])
        self.hop = int(cfg["hop"])
        self.win_length = int(cfg["win_length"])
        self.log_floor = float(cfg["log_floor"])
        fb = mel_filterbank(rate=int(cfg["sample_rate"]), n_fft=self.n_fft, n_mels=int(cfg["n_mels"]),
                            fmin=float(cfg["fmin"]), fmax=float(cfg["fmax"]))
        self.register_buffer("filters", torch.from_numpy(fb), persistent=False)
        self.register_buffer("window", torch.hann_window(self.win_length), persistent=False)

    def n_frames(self, n_samples: int) -> int:
        """Frames produced for ``n_samples`` samples."""
        return (n_samples - self.hop) // self.hop + 1 if n_samples >= self.hop else 0

    def forward(self, wave: Tensor) -> Tensor:
        """(B, T) float32 waveform in [-1, 1] -> (B, n_mels, T // hop) log mel (natural log)."""
        if wave.dim() != 2:
            raise ForensicsError(f"MelFrontEnd expects (batch, samples), got shape {tuple(wave.shape)}")
        pad = self.pad
        mode = "reflect" if wave.shape[1] > pad else "constant"
        return self.from_padded(F.pad(wave.unsqueeze(1), (pad, pad), mode=mode).squeeze(1))

    @property
    def pad(self) -> int:
        """Samples of padding at each end, ``(n_fft - hop) // 2``."""
        return (self.n_fft - self.hop) // 2

    def from_padded(self, padded: Tensor) -> Tensor:
        """Log mel of an already padded (B, pad + T + pad) signal: frame ``j`` covers padded
        samples ``[j * hop, j * hop + n_fft)``. Returns (B, n_mels, T // hop)."""
        spec = torch.stft(padded, self.n_fft, hop_length=self.hop, win_length=self.win_length,
                          window=self.window, center=False, return_complex=True)
        mel = torch.matmul(self.filters, spec.abs())
        return torch.log(torch.clamp(mel, min=self.log_floor))


def _conv(c_in: int, c_out: int, k: int, *, dilation: int = 1, wn: bool) -> nn.Module:
    conv = nn.Conv1d(c_in, c_out, k, dilation=dilation, padding=dilation * (k - 1) // 2)
    return nn.utils.parametrizations.weight_norm(conv) if wn else conv


class _ResStack(nn.Module):
    """Residual dilated convolutions: x + conv1(lrelu(conv_d(lrelu(x)))) for each dilation d."""

    def __init__(self, channels: int, kernel: int, dilations: Sequence[int], *, slope: float, wn: bool) -> None:
        super().__init__()
        self.slope = slope
        self.dilated = nn.ModuleList(_conv(channels, channels, kernel, dilation=d, wn=wn) for d in dilations)
        self.pointwise = nn.ModuleList(_conv(channels, channels, 1, wn=wn) for _ in dilations)

    def forward(self, x: Tensor) -> Tensor:
        for c1, c2 in zip(self.dilated, self.pointwise, strict=True):
            y = c1(F.leaky_relu(x, self.slope))
            x = x + c2(F.leaky_relu(y, self.slope))
        return x


@architecture("melgan")
class MelGANGenerator(nn.Module):
    """Log-mel spectrogram -> waveform generator (MelGAN layout, HiFi-GAN style residual stacks).

    Parameters
    ----------
    config : mapping, optional
        See :data:`DEFAULT_CONFIG`. ``channels`` is the width after the input convolution; it halves
        at each upsampling stage (never below 8).

    Notes
    -----
    ``forward(mel: (B, n_mels, F)) -> (B, F * hop)`` float32 in [-1, 1].
    """

    def __init__(self, config: Mapping[str, Any] | None = None) -> None:
        super().__init__()
        cfg = vocoder_config(config)
        self.config = cfg
        self.hop = int(cfg["hop"])
        self.slope = float(cfg["leaky_slope"])
        wn = bool(cfg["weight_norm"])
        ch = int(cfg["channels"])
        self.conv_pre = _conv(int(cfg["n_mels"]), ch, 7, wn=wn)
        ups, stacks = [], []
        for r in cfg["upsample_rates"]:
            out = max(ch // 2, 8)
            up = nn.ConvTranspose1d(ch, out, 2 * r, stride=r, padding=r // 2 + r % 2, output_padding=r % 2)
            ups.append(nn.utils.parametrizations.weight_norm(up) if wn else up)
            stacks.append(_ResStack(out, int(cfg["resblock_kernel"]), cfg["resblock_dilations"],
                                    slope=self.slope, wn=wn))
            ch = out
        self.ups = nn.ModuleList(ups)
        self.stacks = nn.ModuleList(stacks)
        self.conv_post = _conv(ch, 1, 7, wn=wn)

    def forward(self, mel: Tensor) -> Tensor:
        """(B, n_mels, F) natural-log mel -> (B, F * hop) waveform in [-1, 1]."""
        if mel.dim() != 3:
            raise ForensicsError(f"MelGANGenerator expects (batch, mels, frames), got {tuple(mel.shape)}")
        x = self.conv_pre(mel)
        for up, stack in zip(self.ups, self.stacks, strict=True):
            x = stack(up(F.leaky_relu(x, self.slope)))
        x = self.conv_post(F.leaky_relu(x, self.slope))
        return torch.tanh(x).squeeze(1)

    def receptive_frames(self) -> int:
        """Frames of context either side that influence an output sample (a safe upper bound)."""
        k = int(self.config["resblock_kernel"])
        span = 3  # conv_pre half-width, in frames
        step = 1
        for r in self.config["upsample_rates"]:
            step *= r
            span_samples = sum(d * (k - 1) // 2 for d in self.config["resblock_dilations"]) + 1
            span += math.ceil(span_samples / step) + 1
        return span + 1
