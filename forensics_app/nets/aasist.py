"""AASIST: audio anti-spoofing with integrated spectro-temporal graph attention networks.

An implementation of Jung et al., "AASIST: Audio Anti-Spoofing using Integrated Spectro-Temporal
Graph Attention Networks" (ICASSP 2022), written to be weight-compatible with the official
release (clovaai/aasist, MIT licence): the state dicts of ``AASIST.pth`` and ``AASIST-L.pth``
load with ``strict=True`` and give the official scores. Behaviour kept from the official
forward pass on purpose, because the released weights were trained with it: the residual
blocks' ``bn1`` exists but is not applied (the first convolution reads the block input), the
heterogeneous layers pool with ``pool_ratios[2]`` (``pool_ratios[3]`` and ``temperatures[3]``
are unused), and the fixed sinc filters are not trained.

Pipeline for a (B, T) waveform: 70 fixed mel-spaced sinc band-pass filters (129 taps) ->
|.| and 3x3 max-pool -> six residual blocks that each max-pool time by 3 -> a spectral graph
(one node per group of 3 sinc filters, max over time) and a temporal graph (one node per
3**7 = 2187 filter-output samples, max over frequency) -> graph attention + graph pooling on
each -> two branches of heterogeneous (spectral + temporal + master node) graph attention ->
element-wise max of the branches -> read-out -> (B, 2) logits, column 0 = spoof,
column 1 = bona fide.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from forensics_app.domain.errors import ForensicsError
from forensics_app.nets.registry import architecture, resolve_config

AASIST_DEFAULTS: dict[str, Any] = {
    "nb_samp": 64600,
    "first_conv": 128,
    "filts": [70, [1, 32], [32, 32], [32, 64], [64, 64]],
    "gat_dims": [64, 32],
    "pool_ratios": [0.5, 0.7, 0.5, 0.5],
    "temperatures": [2.0, 2.0, 100.0, 100.0],
    "sample_rate": 16000,
}
"""The official AASIST ``model_config`` (plus ``sample_rate``). AASIST-L differs in ``filts``
(``[70, [1, 32], [32, 32], [32, 24], [24, 24]]``), ``gat_dims`` (``[24, 32]``) and
``pool_ratios`` (``[0.4, 0.5, 0.7, 0.5]``). ``nb_samp`` is the nominal input length (samples)
of the official training; the network accepts any length of at least :attr:`Aasist.min_samples`."""

TIME_POOL = 3 ** 7
"""Filter-output samples per temporal node: a 3x max-pool after the sinc filters and one per
residual block."""


def _hz_to_mel(hz: np.ndarray) -> np.ndarray:
    return 2595.0 * np.log10(1.0 + hz / 700.0)


def _mel_to_hz(mel: np.ndarray) -> np.ndarray:
    return 700.0 * (10.0 ** (mel / 2595.0) - 1.0)


class SincFilterBank(nn.Module):
    """Fixed band-pass filters with mel-spaced band edges (not trained).

    Parameters
    ----------
    n_filters : int
        Number of bands between 0 Hz and ``sample_rate / 2`` (equal widths in mel).
    kernel_size : int
        Taps; an even value is raised by one (symmetric filters).
    sample_rate : int
        Hz.
    """

    def __init__(self, n_filters: int, kernel_size: int, sample_rate: int) -> None:
        super().__init__()
        kernel_size += 1 - kernel_size % 2
        self.kernel_size = kernel_size
        nyquist_bins = int(sample_rate / 2) * np.linspace(0.0, 1.0, 257)  # a 512-point FFT grid
        mel = _hz_to_mel(nyquist_bins)
        self.edges_hz = _mel_to_hz(np.linspace(mel.min(), mel.max(), n_filters + 1))
        t = np.arange(kernel_size, dtype=np.float64) - (kernel_size - 1) / 2
        hi = self.edges_hz[1:, None]
        lo = self.edges_hz[:-1, None]
        ideal = (2 * hi / sample_rate) * np.sinc(2 * hi * t / sample_rate) \
            - (2 * lo / sample_rate) * np.sinc(2 * lo * t / sample_rate)
        taps = (ideal * np.hamming(kernel_size)).astype(np.float32)
        self.register_buffer("taps", torch.from_numpy(taps).unsqueeze(1), persistent=False)

    def forward(self, x: Tensor) -> Tensor:
        """(B, T) -> (B, n_filters, T - kernel_size + 1) band-passed signals."""
        return F.conv1d(x.unsqueeze(1), self.taps)


class ResidualBlock(nn.Module):
    """Two (2, 3) convolutions with batch norm and SELU, a residual path, max-pool time by 3."""

    def __init__(self, c_in: int, c_out: int, *, first: bool) -> None:
        super().__init__()
        if not first:
            # Present in the official weights but not applied by the official forward pass.
            self.bn1 = nn.BatchNorm2d(c_in)
        self.conv1 = nn.Conv2d(c_in, c_out, kernel_size=(2, 3), padding=(1, 1))
        self.bn2 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, kernel_size=(2, 3), padding=(0, 1))
        self.conv_downsample = (nn.Conv2d(c_in, c_out, kernel_size=(1, 3), padding=(0, 1))
                                if c_in != c_out else None)

    def forward(self, x: Tensor) -> Tensor:
        """(B, c_in, F, T) -> (B, c_out, F, T // 3)."""
        out = self.conv2(F.selu(self.bn2(self.conv1(x))))
        identity = self.conv_downsample(x) if self.conv_downsample is not None else x
        return F.max_pool2d(out + identity, (1, 3))


def _pairwise(x: Tensor) -> Tensor:
    """(B, N, D) -> (B, N, N, D) products of every pair of nodes."""
    return x.unsqueeze(2) * x.unsqueeze(1)


def _batch_norm_nodes(bn: nn.BatchNorm1d, x: Tensor) -> Tensor:
    return bn(x.reshape(-1, x.shape[-1])).reshape(x.shape)


def _xavier(*size: int) -> nn.Parameter:
    p = nn.Parameter(torch.empty(*size))
    nn.init.xavier_normal_(p)
    return p


class GraphAttention(nn.Module):
    """Graph attention over a fully connected graph of nodes (B, N, in_dim) -> (B, N, out_dim)."""

    def __init__(self, in_dim: int, out_dim: int, temperature: float) -> None:
        super().__init__()
        self.att_proj = nn.Linear(in_dim, out_dim)
        self.att_weight = _xavier(out_dim, 1)
        self.proj_with_att = nn.Linear(in_dim, out_dim)
        self.proj_without_att = nn.Linear(in_dim, out_dim)
        self.bn = nn.BatchNorm1d(out_dim)
        self.input_drop = nn.Dropout(0.2)
        self.temperature = float(temperature)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Returns the new node features and the attention map (B, N, N): row i's weights
        over the nodes j it aggregates (each row sums to 1)."""
        x = self.input_drop(x)
        scores = torch.tanh(self.att_proj(_pairwise(x))) @ self.att_weight  # (B, N, N, 1)
        att = torch.softmax(scores.squeeze(-1) / self.temperature, dim=-1)
        out = self.proj_with_att(att @ x) + self.proj_without_att(x)
        return F.selu(_batch_norm_nodes(self.bn, out)), att


class HeteroGraphAttention(nn.Module):
    """Graph attention over two node types and a master node.

    Edges between type-1 nodes, between type-2 nodes and across types have their own attention
    weight vectors; the master node attends to every node.
    """

    def __init__(self, in_dim: int, out_dim: int, temperature: float) -> None:
        super().__init__()
        self.proj_type1 = nn.Linear(in_dim, in_dim)
        self.proj_type2 = nn.Linear(in_dim, in_dim)
        self.att_proj = nn.Linear(in_dim, out_dim)
        self.att_projM = nn.Linear(in_dim, out_dim)
        self.att_weight11 = _xavier(out_dim, 1)
        self.att_weight22 = _xavier(out_dim, 1)
        self.att_weight12 = _xavier(out_dim, 1)
        self.att_weightM = _xavier(out_dim, 1)
        self.proj_with_att = nn.Linear(in_dim, out_dim)
        self.proj_without_att = nn.Linear(in_dim, out_dim)
        self.proj_with_attM = nn.Linear(in_dim, out_dim)
        self.proj_without_attM = nn.Linear(in_dim, out_dim)
        self.bn = nn.BatchNorm1d(out_dim)
        self.input_drop = nn.Dropout(0.2)
        self.temperature = float(temperature)

    def forward(self, x1: Tensor, x2: Tensor, master: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """(B, N1, in), (B, N2, in), (B, 1, in) -> (B, N1, out), (B, N2, out), (B, 1, out)."""
        n1, n2 = x1.shape[1], x2.shape[1]
        x = self.input_drop(torch.cat([self.proj_type1(x1), self.proj_type2(x2)], dim=1))
        # edge type per (i, j): 0 within type 1, 1 within type 2, 2 across types
        kind = torch.full((n1 + n2, n1 + n2), 2, dtype=torch.long, device=x.device)
        kind[:n1, :n1] = 0
        kind[n1:, n1:] = 1
        weights = torch.cat([self.att_weight11, self.att_weight22, self.att_weight12], dim=1)
        scores = torch.tanh(self.att_proj(_pairwise(x))) @ weights  # (B, N, N, 3)
        scores = scores.gather(-1, kind.expand(x.shape[0], -1, -1).unsqueeze(-1)).squeeze(-1)
        att = torch.softmax(scores / self.temperature, dim=-1)

        m_scores = torch.tanh(self.att_projM(x * master)) @ self.att_weightM  # (B, N, 1)
        m_att = torch.softmax(m_scores.squeeze(-1) / self.temperature, dim=-1)
        master = self.proj_with_attM(m_att.unsqueeze(1) @ x) + self.proj_without_attM(master)

        out = self.proj_with_att(att @ x) + self.proj_without_att(x)
        out = F.selu(_batch_norm_nodes(self.bn, out))
        return out[:, :n1], out[:, n1:], master


class GraphPool(nn.Module):
    """Keeps the ``ratio`` best-scored nodes, each scaled by its sigmoid score."""

    def __init__(self, ratio: float, dim: int, dropout: float = 0.3) -> None:
        super().__init__()
        self.ratio = float(ratio)
        self.proj = nn.Linear(dim, 1)
        self.drop = nn.Dropout(dropout) if dropout > 0 else nn.Identity()

    def forward(self, h: Tensor) -> tuple[Tensor, Tensor]:
        """(B, N, D) -> pooled (B, max(int(N * ratio), 1), D) in descending score order, and the
        scores (B, N) in [0, 1]."""
        scores = torch.sigmoid(self.proj(self.drop(h)))  # (B, N, 1)
        keep = max(int(h.shape[1] * self.ratio), 1)
        _, idx = torch.topk(scores, keep, dim=1)
        pooled = torch.gather(h * scores, 1, idx.expand(-1, -1, h.shape[-1]))
        return pooled, scores.squeeze(-1)


@dataclass(frozen=True)
class AasistAttention:
    """What AASIST's spectral and temporal graph attention layers attend to, for one batch.

    Importance of a node = the attention it receives in its graph attention layer (mean over
    the attending nodes) times its graph-pooling score (the gate that scales it and decides
    whether it reaches the heterogeneous layers), normalised to sum to 1 over the nodes.

    Attributes
    ----------
    spectral : Tensor, (B, n_spectral)
        Importance of each spectral node.
    temporal : Tensor, (B, n_temporal)
        Importance of each temporal node.
    spectral_attention, temporal_attention : Tensor, (B, N, N)
        The raw attention maps (row i: weights over the nodes j that node i aggregates).
    spectral_pool_score, temporal_pool_score : Tensor, (B, N)
        The graph-pooling scores in [0, 1].
    spectral_hz : ndarray, (n_spectral,)
        Centre of each spectral node's band (Hz): the middle of its three sinc filters' span.
    spectral_band_hz : ndarray, (n_spectral, 2)
        Lower and upper edge of that span (Hz).
    temporal_span_samples : ndarray, (n_temporal, 2) int64
        Nominal [start, end) input samples each temporal node summarises; the residual blocks'
        convolutions widen the receptive field by up to about one node on each side.
    """

    spectral: Tensor
    temporal: Tensor
    spectral_attention: Tensor
    temporal_attention: Tensor
    spectral_pool_score: Tensor
    temporal_pool_score: Tensor
    spectral_hz: np.ndarray
    spectral_band_hz: np.ndarray
    temporal_span_samples: np.ndarray


def _importance(att: Tensor, pool_score: Tensor) -> Tensor:
    raw = att.mean(dim=1) * pool_score
    return raw / raw.sum(dim=1, keepdim=True).clamp_min(1e-12)


@architecture("aasist")
class Aasist(nn.Module):
    """AASIST on raw 16 kHz waveforms.

    Parameters
    ----------
    config : Mapping
        The official ``model_config`` keys (see :data:`AASIST_DEFAULTS`, whose values are the
        defaults; an ``"architecture"`` key is ignored) and ``sample_rate`` (Hz).
    """

    def __init__(self, config: Mapping[str, Any] | None = None) -> None:
        super().__init__()
        cfg = resolve_config("aasist", AASIST_DEFAULTS, dict(config or {}))
        self.config = cfg
        filts, gat_dims = cfg["filts"], cfg["gat_dims"]
        pool, temps = cfg["pool_ratios"], cfg["temperatures"]
        self.sample_rate = int(cfg["sample_rate"])
        self.nb_samp = int(cfg["nb_samp"])
        self.conv_time = SincFilterBank(int(filts[0]), int(cfg["first_conv"]), self.sample_rate)
        self.n_spectral = int(filts[0]) // 3
        self.first_bn = nn.BatchNorm2d(1)
        blocks = [filts[1], filts[2], filts[3], filts[4], filts[4], filts[4]]
        self.encoder = nn.Sequential(*(nn.Sequential(ResidualBlock(int(c_in), int(c_out), first=i == 0))
                                       for i, (c_in, c_out) in enumerate(blocks)))
        emb = int(filts[-1][-1])
        g0, g1 = int(gat_dims[0]), int(gat_dims[1])
        self.pos_S = nn.Parameter(torch.randn(1, self.n_spectral, emb))
        self.master1 = nn.Parameter(torch.randn(1, 1, g0))
        self.master2 = nn.Parameter(torch.randn(1, 1, g0))
        self.GAT_layer_S = GraphAttention(emb, g0, temps[0])
        self.GAT_layer_T = GraphAttention(emb, g0, temps[1])
        self.HtrgGAT_layer_ST11 = HeteroGraphAttention(g0, g1, temps[2])
        self.HtrgGAT_layer_ST12 = HeteroGraphAttention(g1, g1, temps[2])
        self.HtrgGAT_layer_ST21 = HeteroGraphAttention(g0, g1, temps[2])
        self.HtrgGAT_layer_ST22 = HeteroGraphAttention(g1, g1, temps[2])
        self.pool_S = GraphPool(pool[0], g0)
        self.pool_T = GraphPool(pool[1], g0)
        self.pool_hS1 = GraphPool(pool[2], g1)
        self.pool_hT1 = GraphPool(pool[2], g1)
        self.pool_hS2 = GraphPool(pool[2], g1)
        self.pool_hT2 = GraphPool(pool[2], g1)
        self.drop_way = nn.Dropout(0.2)
        self.drop = nn.Dropout(0.5)
        self.out_layer = nn.Linear(5 * g1, 2)

    @property
    def min_samples(self) -> int:
        """Shortest input (samples) that yields one temporal node."""
        return TIME_POOL + self.conv_time.kernel_size - 1

    def n_temporal(self, n_samples: int) -> int:
        """Temporal graph nodes of an ``n_samples`` long input."""
        n = n_samples - self.conv_time.kernel_size + 1
        for _ in range(7):
            n //= 3
        return n

    def spectral_band_hz(self) -> np.ndarray:
        """(n_spectral, 2) lower and upper band edge (Hz) of each spectral node."""
        edges = self.conv_time.edges_hz
        j = np.arange(self.n_spectral) * 3
        return np.stack([edges[j], edges[j + 3]], axis=1)

    def temporal_span_samples(self, n_samples: int) -> np.ndarray:
        """(n_temporal, 2) nominal [start, end) input samples of each temporal node."""
        start = np.arange(self.n_temporal(n_samples), dtype=np.int64) * TIME_POOL
        return np.stack([start, start + TIME_POOL + self.conv_time.kernel_size - 1], axis=1)

    def _graphs(self, wave: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor, Tensor]:
        if wave.dim() != 2:
            raise ForensicsError(f"AASIST: expected a (batch, samples) waveform, got {tuple(wave.shape)}")
        if wave.shape[1] < self.min_samples:
            raise ForensicsError(f"AASIST: input of {wave.shape[1]} samples is shorter than the "
                                 f"minimum {self.min_samples} ({self.min_samples / self.sample_rate:.3f} s)")
        x = self.conv_time(wave).unsqueeze(1)  # (B, 1, filters, T')
        x = F.selu(self.first_bn(F.max_pool2d(x.abs(), (3, 3))))
        e = self.encoder(x).abs()  # (B, C, n_spectral, n_temporal)
        gat_s, att_s = self.GAT_layer_S(e.amax(dim=3).transpose(1, 2) + self.pos_S)
        out_s, score_s = self.pool_S(gat_s)
        gat_t, att_t = self.GAT_layer_T(e.amax(dim=2).transpose(1, 2))
        out_t, score_t = self.pool_T(gat_t)
        return out_s, out_t, att_s, score_s, att_t, score_t

    def _branch(self, out_t: Tensor, out_s: Tensor, master: Tensor, first: HeteroGraphAttention,
                second: HeteroGraphAttention, pool_t: GraphPool,
                pool_s: GraphPool) -> tuple[Tensor, Tensor, Tensor]:
        t1, s1, m1 = first(out_t, out_s, master.expand(out_t.shape[0], -1, -1))
        s1, _ = pool_s(s1)
        t1, _ = pool_t(t1)
        t_aug, s_aug, m_aug = second(t1, s1, m1)
        return self.drop_way(t1 + t_aug), self.drop_way(s1 + s_aug), self.drop_way(m1 + m_aug)

    def _head(self, out_s: Tensor, out_t: Tensor) -> Tensor:
        t1, s1, m1 = self._branch(out_t, out_s, self.master1, self.HtrgGAT_layer_ST11,
                                  self.HtrgGAT_layer_ST12, self.pool_hT1, self.pool_hS1)
        t2, s2, m2 = self._branch(out_t, out_s, self.master2, self.HtrgGAT_layer_ST21,
                                  self.HtrgGAT_layer_ST22, self.pool_hT2, self.pool_hS2)
        out_t, out_s, master = torch.maximum(t1, t2), torch.maximum(s1, s2), torch.maximum(m1, m2)
        hidden = torch.cat([out_t.abs().amax(dim=1), out_t.mean(dim=1),
                            out_s.abs().amax(dim=1), out_s.mean(dim=1), master.squeeze(1)], dim=1)
        return self.out_layer(self.drop(hidden))

    def forward(self, wave: Tensor) -> Tensor:
        """Logits of a batch of waveforms.

        Parameters
        ----------
        wave : Tensor, (B, T) float32
            Audio at ``sample_rate`` Hz in [-1, 1], ``T >= min_samples`` (the official
            models were trained on T = 64600).

        Returns
        -------
        Tensor, (B, 2)
            Logits, column 0 = spoof, column 1 = bona fide.
        """
        out_s, out_t, *_ = self._graphs(wave)
        return self._head(out_s, out_t)

    def forward_with_attention(self, wave: Tensor) -> tuple[Tensor, AasistAttention]:
        """Logits (B, 2) as :meth:`forward`, and what the graph attention layers attend to."""
        out_s, out_t, att_s, score_s, att_t, score_t = self._graphs(wave)
        logits = self._head(out_s, out_t)
        bands = self.spectral_band_hz()
        attention = AasistAttention(
            spectral=_importance(att_s, score_s), temporal=_importance(att_t, score_t),
            spectral_attention=att_s, temporal_attention=att_t,
            spectral_pool_score=score_s, temporal_pool_score=score_t,
            spectral_hz=bands.mean(axis=1), spectral_band_hz=bands,
            temporal_span_samples=self.temporal_span_samples(wave.shape[1]),
        )
        return logits, attention
