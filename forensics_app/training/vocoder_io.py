"""Loading the project's neural vocoder and resynthesising audio through it.

The weights file is a plain ``torch.save`` of the :class:`~forensics_app.nets.vocoder.MelGANGenerator`
state_dict (tensors only, so it loads with ``weights_only=True``). Weight normalisation is folded
into the convolution weights before saving; :func:`load_vocoder` also accepts state_dicts that still
carry weight-norm parametrizations and picks the matching layout from the key names.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from forensics_app.domain.errors import ForensicsError
from forensics_app.nets.vocoder import MelFrontEnd, MelGANGenerator, vocoder_config
from forensics_app.settings import compute_device
from forensics_app.training.audio_io import resample

#: Mel frames synthesised per network call in :func:`resynthesise` (about 8 s at 16 kHz).
CHUNK_FRAMES = 512
#: Extra frames of context each side of a chunk (more than the generator's receptive field).
CONTEXT_FRAMES = 24


def _resolve_device(device: str | None) -> torch.device:
    return torch.device(device or compute_device())


def load_vocoder(weights: Path, *, config: Mapping[str, Any] | None = None,
                 device: str | None = None) -> tuple[MelGANGenerator, MelFrontEnd]:
    """Build the vocoder and its mel front end from a weights file, in eval mode.

    Parameters
    ----------
    weights : Path
        ``torch.save``-d state_dict of a :class:`MelGANGenerator`.
    config : mapping, optional
        Architecture config (defaults of :data:`~forensics_app.nets.vocoder.DEFAULT_CONFIG`);
        ``weight_norm`` is set from the state_dict's key names.
    device : str, optional
        ``"cpu"`` / ``"cuda"``; default :func:`forensics_app.settings.compute_device`.

    Raises
    ------
    ForensicsError
        The file is missing, not a plain tensor state_dict, or does not fit the config.
    """
    weights = Path(weights)
    if not weights.is_file():
        raise ForensicsError(f"vocoder weights {weights} do not exist")
    try:
        state = torch.load(weights, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - torch raises many kinds on a bad file
        raise ForensicsError(f"vocoder weights {weights.name} do not load as a state_dict: {exc}") from exc
    if not isinstance(state, Mapping) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ForensicsError(f"vocoder weights {weights.name} are not a state_dict of tensors")
    cfg = dict(config or {})
    cfg["weight_norm"] = any(".parametrizations." in k for k in state)
    cfg = vocoder_config(cfg)
    net = MelGANGenerator(cfg)
    try:
        net.load_state_dict(state)
    except RuntimeError as exc:
        raise ForensicsError(f"vocoder weights {weights.name} do not fit the melgan config: {exc}") from exc
    dev = _resolve_device(device)
    frontend = MelFrontEnd(cfg)
    return net.eval().to(dev), frontend.eval().to(dev)


def folded_state_dict(net: MelGANGenerator) -> dict[str, torch.Tensor]:
    """The generator's state_dict with weight normalisation folded into plain ``weight`` tensors.

    The result loads into ``MelGANGenerator({**config, "weight_norm": False})``.
    """
    plain = MelGANGenerator({**net.config, "weight_norm": False})
    src = {name: m for name, m in net.named_modules()}
    with torch.no_grad():
        for name, module in plain.named_modules():
            if isinstance(module, nn.Conv1d | nn.ConvTranspose1d):
                module.weight.copy_(src[name].weight)
                module.bias.copy_(src[name].bias)
    return {k: v.detach().cpu().clone().contiguous() for k, v in plain.state_dict().items()}


def resynthesise(wave: np.ndarray, *, rate: int, net: MelGANGenerator, frontend: MelFrontEnd,
                 device: str | torch.device | None = None) -> np.ndarray:
    """Analyse ``wave`` to log mel and synthesise it again with the vocoder.

    The work is done in chunks of :data:`CHUNK_FRAMES` frames with :data:`CONTEXT_FRAMES` of
    context either side, so memory stays bounded for hour-long inputs; chunk seams are exact
    up to float rounding because each kept sample sees its whole receptive field.

    Parameters
    ----------
    wave : numpy.ndarray
        (n_samples,) mono audio in [-1, 1] at ``rate`` Hz.
    rate : int
        Sample rate of ``wave``, Hz. Other rates than the vocoder's (16 kHz) are resampled in and
        back out.
    net, frontend
        From :func:`load_vocoder`.
    device : str or torch.device, optional
        Where to run; default: where ``net`` lives.

    Returns
    -------
    numpy.ndarray
        (n_samples,) float32 resynthesis at ``rate`` Hz, same length as ``wave``.
    """
    x = np.asarray(wave, dtype=np.float32)
    if x.ndim != 1:
        raise ForensicsError(f"resynthesise expects mono (n_samples,) audio, got shape {x.shape}")
    if rate <= 0:
        raise ForensicsError(f"sample rate must be positive, got {rate}")
    n_in = len(x)
    if n_in == 0:
        return x.copy()
    if not np.all(np.isfinite(x)):
        raise ForensicsError("resynthesise: the audio holds NaN or infinite samples")
    v_rate = int(net.config["sample_rate"])
    x16 = resample(x, src_rate=int(rate), dst_rate=v_rate) if rate != v_rate else x
    hop, pad = frontend.hop, frontend.pad
    n_frames = max(1, -(-len(x16) // hop))
    x16 = np.pad(x16, (0, n_frames * hop - len(x16)))
    padded = np.pad(x16, (pad, pad), mode="reflect" if len(x16) > pad else "constant")
    dev = torch.device(device) if device is not None else next(net.parameters()).device
    out = np.empty(n_frames * hop, np.float32)
    ctx = CONTEXT_FRAMES
    with torch.inference_mode():
        for f0 in range(0, n_frames, CHUNK_FRAMES):
            f1 = min(n_frames, f0 + CHUNK_FRAMES)
            a, b = max(0, f0 - ctx), min(n_frames, f1 + ctx)
            seg = torch.from_numpy(padded[a * hop:(b - 1) * hop + frontend.n_fft]).to(dev)
            y = net(frontend.from_padded(seg[None]))[0]
            out[f0 * hop:f1 * hop] = y[(f0 - a) * hop:(f1 - a) * hop].float().cpu().numpy()
    y = out[:len(x16)] if rate == v_rate else resample(out, src_rate=v_rate, dst_rate=int(rate))
    if len(y) < n_in:
        y = np.pad(y, (0, n_in - len(y)))
    return np.ascontiguousarray(y[:n_in], dtype=np.float32)
