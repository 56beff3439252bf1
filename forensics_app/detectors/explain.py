"""Explanation maps: which time-frequency regions of one window drive a detector's score.

Each architecture registers its explainer with :func:`explainer`; :func:`explain` dispatches by
architecture name. Every map is an :class:`Explanation` of relevance in [0, 1] over frequency
(Hz) and time (s, relative to the window start).

- ``lfcc_lcnn``: integrated gradients (Sundararajan et al., 2017) of the raw fake score
  ``logit_spoof - logit_bonafide`` with respect to the log linear-filterbank energies that the
  LFCC are computed from. Baseline: the same window with each frame's log spectrum smoothed to
  its first three cepstral coefficients (the frame's loudness, spectral tilt and gross curvature
  are kept; finer detail such as harmonics, formant peaks, narrow-band artefacts and sharp band
  edges is removed). A flat or silent baseline would credit the steep low-frequency tilt of the
  pre-emphasised spectrum; a per-band time average would miss stationary artefacts. The map
  therefore shows where spectral detail pushes the score towards "synthetic". Positive
  attributions only, lightly smoothed (Gaussian, 0.5 band x 1.5 frames), scaled so the maximum
  is 1.
- ``aasist``: the outer product of AASIST's temporal and spectral node importances (attention
  received in the graph attention layers times the graph-pooling gate; see
  :class:`forensics_app.nets.aasist.AasistAttention`), on the nodes' band centres (Hz) and time
  span centres (s), scaled so the maximum is 1. It shows where the model looks, not the sign of
  the evidence.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from scipy.ndimage import gaussian_filter
from torch import nn

from forensics_app.domain.errors import AnalyzerError, NotFound
from forensics_app.nets.features import dct_matrix


@dataclass(frozen=True)
class Explanation:
    """A relevance map of one window.

    Attributes
    ----------
    values : ndarray, (n_f, n_t) float32
        Relevance in [0, 1] (1 = the most relevant cell of this window).
    freqs_hz : ndarray, (n_f,) float64
        Frequency of each row (Hz), ascending.
    times_s : ndarray, (n_t,) float64
        Time of each column (s) relative to the window start, ascending.
    method : str
        How the map was computed (for reports).
    """

    values: np.ndarray
    freqs_hz: np.ndarray
    times_s: np.ndarray
    method: str


Explainer = Callable[..., Explanation]
_EXPLAINERS: dict[str, Explainer] = {}


def explainer(architecture: str) -> Callable[[Explainer], Explainer]:
    """Register the decorated function as the explainer of ``architecture``.

    It is called as ``func(net, wave, *, rate)`` and returns an :class:`Explanation`.
    """

    def decorate(func: Explainer) -> Explainer:
        _EXPLAINERS[architecture] = func
        return func

    return decorate


def explain(net: nn.Module, architecture: str, wave: np.ndarray, *, rate: int,
            **options: Any) -> Explanation:
    """The explanation map of one window for a net of a registered architecture.

    Parameters
    ----------
    net : nn.Module
        The detector (left in eval mode).
    architecture : str
        Its architecture name in :mod:`forensics_app.nets.registry`.
    wave : ndarray, (T,) float32
        The window, mono, at ``rate`` Hz (the net's sample rate), range [-1, 1].
    rate : int
        Hz.
    **options
        Passed to the architecture's explainer (e.g. ``steps`` for ``lfcc_lcnn``).

    Raises
    ------
    NotFound
        No explainer for ``architecture``.
    AnalyzerError
        Bad window (not 1-D, empty, not finite) or a rate other than the net's.
    """
    try:
        func = _EXPLAINERS[architecture]
    except KeyError:
        raise NotFound(f"no explanation method for architecture {architecture!r}; known: "
                       f"{', '.join(sorted(_EXPLAINERS))}") from None
    return func(net, wave, rate=rate, **options)


def _window_tensor(net: nn.Module, wave: np.ndarray, rate: int) -> torch.Tensor:
    x = np.asarray(wave, dtype=np.float32)
    if x.ndim != 1 or x.size == 0:
        raise AnalyzerError(f"explanation needs one mono window, got an array of shape {x.shape}")
    if not np.all(np.isfinite(x)):
        raise AnalyzerError("explanation window contains NaN or infinite samples")
    expected = int(getattr(net, "sample_rate", rate))
    if int(rate) != expected:
        raise AnalyzerError(f"window at {rate} Hz; the detector expects {expected} Hz (resample first)")
    net.eval()
    device = next(net.parameters()).device
    return torch.from_numpy(x).to(device).unsqueeze(0)


def _unit_range(a: np.ndarray) -> np.ndarray:
    a = np.clip(np.nan_to_num(a.astype(np.float64)), 0.0, None)
    top = float(a.max()) if a.size else 0.0
    return (a / top if top > 0 else np.zeros_like(a)).astype(np.float32)


@explainer("lfcc_lcnn")
def explain_lcnn(net: nn.Module, wave: np.ndarray, *, rate: int, steps: int = 16,
                 envelope_coeffs: int = 3) -> Explanation:
    """Integrated-gradients map of an LFCC-LCNN over log filterbank energies.

    Parameters
    ----------
    net : forensics_app.nets.lcnn.LfccLcnn
        Needs ``log_fbank``, ``forward_from_log_fbank``, ``freqs_hz`` and ``lfcc``.
    wave : ndarray, (T,) float32
        One window at ``rate`` Hz.
    rate : int
        Hz; must be the net's ``sample_rate``.
    steps : int
        Points on the straight path from the baseline (midpoint rule), computed as one batch.
    envelope_coeffs : int
        Cepstral coefficients (c0 ...) kept in the baseline's smoothed spectral envelope.

    Returns
    -------
    Explanation
        (n_filters, frames): rows at the filter centre frequencies (Hz), columns at the frame
        centres (s).
    """
    if steps < 1 or envelope_coeffs < 1:
        raise AnalyzerError(f"integrated gradients need steps >= 1 and envelope_coeffs >= 1, "
                            f"got {steps} and {envelope_coeffs}")
    with torch.inference_mode(False):  # gradients are needed even if the caller disabled them
        return _integrated_gradients(net, _window_tensor(net, wave, rate), steps, envelope_coeffs)


def _integrated_gradients(net: nn.Module, x: torch.Tensor, steps: int, keep: int) -> Explanation:
    with torch.no_grad():
        target = net.log_fbank(x)  # (1, F, T)
        lifter = torch.from_numpy(dct_matrix(min(keep, target.shape[1]), target.shape[1]))
        lifter = lifter.to(target.device)
        baseline = lifter.T @ (lifter @ target)  # spectral envelope of each frame
        delta = target - baseline
        alphas = (torch.arange(steps, dtype=target.dtype, device=target.device) + 0.5) / steps
        path = baseline + alphas[:, None, None] * delta  # (steps, F, T)
    path.requires_grad_(True)
    with torch.enable_grad():
        logits = net.forward_from_log_fbank(path)
        score = (logits[:, 0] - logits[:, 1]).sum()
        (grad,) = torch.autograd.grad(score, path)
    attribution = (delta[0] * grad.mean(dim=0)).detach().cpu().numpy()
    smoothed = gaussian_filter(np.clip(attribution, 0.0, None), sigma=(0.5, 1.5), mode="nearest")
    return Explanation(
        values=_unit_range(smoothed),
        freqs_hz=np.asarray(net.freqs_hz, dtype=np.float64),
        times_s=net.lfcc.frame_times_s(attribution.shape[1]).astype(np.float64),
        method=f"integrated gradients ({steps} steps) of the fake score over log filterbank "
               f"energies; baseline: each frame's {keep}-coefficient cepstral envelope; "
               "positive part",
    )


@explainer("aasist")
def explain_aasist(net: nn.Module, wave: np.ndarray, *, rate: int) -> Explanation:
    """Graph-attention map of an AASIST net: temporal x spectral node importance.

    Parameters
    ----------
    net : forensics_app.nets.aasist.Aasist
        Needs ``forward_with_attention``.
    wave : ndarray, (T,) float32
        One window at ``rate`` Hz, at least ``net.min_samples`` long.
    rate : int
        Hz; must be the net's ``sample_rate``.

    Returns
    -------
    Explanation
        (spectral nodes, temporal nodes): rows at the nodes' band centres (Hz), columns at the
        centres of the nodes' nominal time spans (s).
    """
    x = _window_tensor(net, wave, rate)
    if x.shape[1] < net.min_samples:
        raise AnalyzerError(f"AASIST needs windows of at least {net.min_samples} samples, "
                            f"got {x.shape[1]}")
    with torch.no_grad():
        _, att = net.forward_with_attention(x)
    spectral = att.spectral[0].cpu().numpy().astype(np.float64)
    temporal = att.temporal[0].cpu().numpy().astype(np.float64)
    return Explanation(
        values=_unit_range(np.outer(spectral, temporal)),
        freqs_hz=np.asarray(att.spectral_hz, dtype=np.float64),
        times_s=att.temporal_span_samples.mean(axis=1) / float(rate),
        method="AASIST graph attention: temporal x spectral node importance "
               "(attention received x graph-pooling score)",
    )
