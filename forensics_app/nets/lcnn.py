"""LFCC-LCNN: a light CNN with Max-Feature-Map activations on LFCC features.

The convolution stack follows the LCNN of the ASVspoof 2021 LA LFCC-LCNN baseline (Wang &
Yamagishi, "A comparative study on recent neural spoofing countermeasures for synthetic speech
detection", Interspeech 2021): nine convolutions (5x5, then alternating 1x1 and 3x3), each
followed by a Max-Feature-Map (MFM: the channel-wise maximum of the two halves of the
convolution's output), four 2x2 max-poolings and affine-free batch norms. Differences, for speed
on a CPU and any input length: channel counts scale with ``width`` (1.0 = the baseline's
64/96/128/64 convolution outputs), and the baseline's two BLSTM layers are replaced by a per-frame
linear layer with MFM followed by average pooling over time. Output: (B, 2) logits,
column 0 = spoof, column 1 = bona fide.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from forensics_app.nets.features import LFCC_DEFAULTS, Lfcc
from forensics_app.nets.registry import architecture, resolve_config

LCNN_DEFAULTS: dict[str, Any] = {
    "sample_rate": 16000,
    "width": 0.5,
    "hidden": 64,
    "dropout": 0.7,
    "lfcc": {},
}


class MaxFeatureMap(nn.Module):
    """Max-Feature-Map: element-wise maximum of the two halves of axis ``dim`` (channels)."""

    def __init__(self, dim: int = 1) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, x: Tensor) -> Tensor:
        a, b = x.chunk(2, dim=self.dim)
        return a.maximum(b)


def _mfm_conv(c_in: int, c_out: int, kernel: int) -> list[nn.Module]:
    return [nn.Conv2d(c_in, 2 * c_out, kernel, padding=kernel // 2), MaxFeatureMap()]


def _pool() -> nn.Module:
    return nn.MaxPool2d(2, 2, ceil_mode=True)


def _bn(c: int) -> nn.Module:
    return nn.BatchNorm2d(c, affine=False)


@architecture("lfcc_lcnn")
class LfccLcnn(nn.Module):
    """LFCC front end + LCNN back end.

    Parameters
    ----------
    config : Mapping
        ``sample_rate`` (Hz, 16000), ``width`` (channel multiplier, 0.5), ``hidden`` (per-frame
        embedding size after the convolutions, 64), ``dropout`` (before the frame embedding, 0.7),
        ``lfcc`` (overrides of :data:`forensics_app.nets.features.LFCC_DEFAULTS`).
    """

    def __init__(self, config: Mapping[str, Any] | None = None) -> None:
        super().__init__()
        cfg = resolve_config("lfcc_lcnn", LCNN_DEFAULTS, dict(config or {}))
        self.config = cfg
        self.sample_rate = int(cfg["sample_rate"])
        self.lfcc = Lfcc({**LFCC_DEFAULTS, **dict(cfg["lfcc"]), "sample_rate": self.sample_rate})

        def ch(n: int) -> int:
            return max(2, round(n * float(cfg["width"])))

        a, b, c = ch(32), ch(48), ch(64)
        self.body = nn.Sequential(
            *_mfm_conv(1, a, 5), _pool(),
            *_mfm_conv(a, a, 1), _bn(a),
            *_mfm_conv(a, b, 3), _pool(), _bn(b),
            *_mfm_conv(b, b, 1), _bn(b),
            *_mfm_conv(b, c, 3), _pool(),
            *_mfm_conv(c, c, 1), _bn(c),
            *_mfm_conv(c, a, 3), _bn(a),
            *_mfm_conv(a, a, 1), _bn(a),
            *_mfm_conv(a, a, 3), _pool(),
            nn.Dropout(float(cfg["dropout"])),
        )
        n_feat = self.lfcc.n_features
        for _ in range(4):
            n_feat = -(-n_feat // 2)
        hidden = int(cfg["hidden"])
        self.frame_embed = nn.Sequential(nn.Linear(a * n_feat, 2 * hidden),
                                         MaxFeatureMap(dim=-1))
        self.out = nn.Linear(hidden, 2)

    @property
    def freqs_hz(self) -> np.ndarray:
        """Centre frequencies of the LFCC filters, (n_filters,) Hz."""
        return self.lfcc.centres_hz

    def log_fbank(self, wave: Tensor) -> Tensor:
        """Log filterbank energies of ``wave`` (B, T): (B, n_filters, frames)."""
        return self.lfcc.log_fbank(wave)

    def forward_from_log_fbank(self, log_fbank: Tensor) -> Tensor:
        """Logits from log filterbank energies (B, n_filters, frames): (B, 2) [spoof, bona fide]."""
        feats = self.lfcc.cepstra(log_fbank)  # (B, F, T)
        # channels-last memory layout: about twice as fast on CPU for these small channel counts
        x = feats.transpose(1, 2).unsqueeze(1).contiguous(memory_format=torch.channels_last)
        x = self.body(x)  # (B, C, T', F')
        x = x.permute(0, 2, 1, 3).flatten(2)  # (B, T', C * F')
        x = self.frame_embed(x).mean(dim=1)
        return self.out(x)

    def forward(self, wave: Tensor) -> Tensor:
        """Logits of a batch of waveforms.

        Parameters
        ----------
        wave : Tensor, (B, T) float32
            Audio at ``sample_rate`` Hz in [-1, 1]; any length of at least one sample.

        Returns
        -------
        Tensor, (B, 2)
            Logits, column 0 = spoof, column 1 = bona fide.
        """
        return self.forward_from_log_fbank(self.lfcc.log_fbank(wave))
