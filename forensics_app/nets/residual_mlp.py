"""The residual detector's head: standardisation and a small MLP over self-resynthesis statistics.

Input: one feature vector per window, the self-resynthesis residual statistics of
:mod:`forensics_app.resynthesis.features` (log-spectral distance, mel-cepstral distortion, phase
coherence, HNR change and band residuals of each round trip), in the order named by the
``features`` config key. The vectors are standardised with the training set's mean and scale
(stored as buffers with the weights), then mapped by an MLP (``hidden`` units, tanh) or, with
``hidden`` 0, a linear layer, to one score ``s``. Output: (B, 2) logits ``[s / 2, -s / 2]``
(column 0 = spoof, column 1 = bona fide), so the raw score ``logit0 - logit1`` is ``s``, the
convention of every speech detector.

The class declares ``front_end = "resynthesis-residuals"``: the detector machinery
(:mod:`forensics_app.detectors.front_ends`) feeds it residual feature vectors of windows rather
than waveforms.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import Tensor, nn

from forensics_app.domain.errors import ForensicsError
from forensics_app.nets.registry import architecture, resolve_config

RESIDUAL_DEFAULTS: dict[str, Any] = {
    "features": [],
    "round_trips": ["world", "griffinlim", "lpc", "neural"],
    "hidden": 16,
    "dropout": 0.1,
}


@architecture("residual_mlp")
class ResidualMlp(nn.Module):
    """Standardise + MLP head over residual feature vectors.

    Parameters
    ----------
    config : Mapping
        ``features`` (names of the input columns, in order; required), ``round_trips`` (the round
        trips whose residuals the features come from), ``hidden`` (hidden units; 0 = logistic
        regression), ``dropout``. The window the statistics are taken over is the catalogue
        entry's ``input_length_s``.

    Attributes
    ----------
    front_end : str
        ``"resynthesis-residuals"``: what the detector machinery must feed this net.
    mean, scale : Tensor
        Buffers of shape (n_features,): the standardisation (saved with the weights).
    """

    front_end = "resynthesis-residuals"

    def __init__(self, config: Mapping[str, Any] | None = None) -> None:
        super().__init__()
        cfg = resolve_config("residual_mlp", RESIDUAL_DEFAULTS, dict(config or {}))
        names = [str(n) for n in cfg["features"]]
        if not names:
            raise ForensicsError("architecture 'residual_mlp': config 'features' must name the input columns")
        if len(set(names)) != len(names):
            raise ForensicsError("architecture 'residual_mlp': config 'features' names a column twice")
        hidden = int(cfg["hidden"])
        if hidden < 0:
            raise ForensicsError(f"architecture 'residual_mlp': hidden must be >= 0, got {hidden}")
        cfg["features"] = names
        cfg["round_trips"] = [str(r) for r in cfg["round_trips"]]
        self.config = cfg
        n = len(names)
        self.register_buffer("mean", torch.zeros(n))
        self.register_buffer("scale", torch.ones(n))
        if hidden == 0:
            self.head: nn.Module = nn.Linear(n, 1)
        else:
            self.head = nn.Sequential(nn.Linear(n, hidden), nn.Tanh(), nn.Dropout(float(cfg["dropout"])),
                                      nn.Linear(hidden, 1))

    @property
    def feature_names(self) -> tuple[str, ...]:
        """Names of the input columns, in order."""
        return tuple(self.config["features"])

    @property
    def round_trips(self) -> tuple[str, ...]:
        """Round trips whose residuals the features are computed from."""
        return tuple(self.config["round_trips"])

    def set_standardisation(self, mean: Sequence[float] | Tensor, scale: Sequence[float] | Tensor) -> None:
        """Store the training set's feature mean and scale, each shape (n_features,)."""
        m = torch.as_tensor(mean, dtype=torch.float32).reshape(-1)
        s = torch.as_tensor(scale, dtype=torch.float32).reshape(-1)
        if m.numel() != self.mean.numel() or s.numel() != self.scale.numel():
            raise ForensicsError(f"standardisation needs {self.mean.numel()} values, got {m.numel()} and {s.numel()}")
        if not (torch.isfinite(m).all() and torch.isfinite(s).all() and (s > 0).all()):
            raise ForensicsError("standardisation must be finite with positive scales")
        self.mean.copy_(m)
        self.scale.copy_(s)

    def score(self, features: Tensor) -> Tensor:
        """Raw fake score of each vector: (B, n_features) float32 -> (B,) (higher = more likely synthetic)."""
        if features.dim() != 2 or features.shape[1] != self.mean.numel():
            raise ForensicsError(f"residual_mlp expects (batch, {self.mean.numel()}) features, "
                                 f"got {tuple(features.shape)}")
        return self.head((features - self.mean) / self.scale).squeeze(-1)

    def forward(self, features: Tensor) -> Tensor:
        """Logits of a batch of feature vectors.

        Parameters
        ----------
        features : Tensor, (B, n_features) float32
            Finite residual statistics in the order of :attr:`feature_names`.

        Returns
        -------
        Tensor, (B, 2)
            ``[s / 2, -s / 2]``: column 0 = spoof, column 1 = bona fide.
        """
        s = self.score(features)
        return torch.stack([0.5 * s, -0.5 * s], dim=1)
