"""The GE2E speaker encoder, with the pretrained weights that ship inside the Resemblyzer wheel.

Resemblyzer (Apache-2.0) packages a GE2E encoder (Wan et al., "Generalized end-to-end loss for
speaker verification", 2018) trained on LibriSpeech, VoxCeleb 1 and 2. The workstation installs
the wheel without its dependencies and never imports the package (its ``__init__`` needs
webrtcvad): :func:`weights_path` locates ``pretrained.pt`` with :func:`importlib.util.find_spec`
and this module re-implements the small network:

* input: mel power spectra (not log) of 16 kHz audio, 25 ms Hann windows every 10 ms
  (``n_fft`` 400), 40 Slaney mel bands from 0 Hz to 8 kHz (librosa's defaults), frames
  ``(batch, 160, 40)`` = partial utterances of 1.6 s;
* a 3-layer LSTM (40 -> 256), a linear layer 256 -> 256 on the last layer's final hidden state,
  ReLU, L2 normalisation: a 256-dimensional embedding with non-negative entries, so the cosine
  similarity of two embeddings lies in [0, 1];
* the checkpoint's GE2E similarity scale and bias (``similarity_weight``, ``similarity_bias``)
  are kept as parameters so the weights load with ``strict=True``; they are not used at
  inference.

Resemblyzer's own preprocessing normalises the waveform to an RMS of -30 dBFS and removes long
silences; :mod:`forensics_app.alignment.speaker_similarity` does the same with the alignment's
speech-activity mask before calling :func:`embed`.
"""

from __future__ import annotations

import importlib.util
import threading
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
from torch import nn

from forensics_app.domain.errors import AnalyzerError

__all__ = ["RATE", "N_MELS", "PARTIAL_FRAMES", "HOP", "TARGET_DBFS", "GE2EEncoder", "weights_path",
           "load_encoder", "mel_frames", "embed"]

RATE = 16000
"""Sample rate the encoder was trained at (Hz)."""
N_MELS = 40
WINDOW = 400
"""Mel window and FFT length (samples, 25 ms)."""
HOP = 160
"""Mel hop (samples, 10 ms)."""
PARTIAL_FRAMES = 160
"""Frames in one partial utterance (1.6 s)."""
TARGET_DBFS = -30.0
"""RMS level of the speech given to the encoder (dBFS), as in Resemblyzer's preprocessing."""
HIDDEN = 256
EMBEDDING = 256
LAYERS = 3
_LOCK = threading.Lock()


class GE2EEncoder(nn.Module):
    """The GE2E network (see the module docstring)."""

    def __init__(self) -> None:
        super().__init__()
        self.lstm = nn.LSTM(N_MELS, HIDDEN, LAYERS, batch_first=True)
        self.linear = nn.Linear(HIDDEN, EMBEDDING)
        self.relu = nn.ReLU()
        self.similarity_weight = nn.Parameter(torch.tensor([10.0]))
        self.similarity_bias = nn.Parameter(torch.tensor([-5.0]))

    def forward(self, mels: torch.Tensor) -> torch.Tensor:
        """Embed partial utterances.

        Parameters
        ----------
        mels : torch.Tensor
            Shape (batch, frames, 40), float32 mel power spectra.

        Returns
        -------
        torch.Tensor
            Shape (batch, 256), unit-length embeddings.
        """
        _, (hidden, _) = self.lstm(mels)
        raw = self.relu(self.linear(hidden[-1]))
        return raw / torch.clamp(torch.norm(raw, dim=1, keepdim=True), min=1e-12)


def weights_path() -> Path:
    """``pretrained.pt`` inside the installed Resemblyzer package (the package is not imported).

    Raises
    ------
    AnalyzerError
        Resemblyzer is not installed, or its wheel lacks the weights file.
    """
    spec = importlib.util.find_spec("resemblyzer")
    if spec is None or not spec.submodule_search_locations:
        raise AnalyzerError(
            "the speaker encoder needs the GE2E weights that ship inside the Resemblyzer wheel, and "
            "Resemblyzer is not installed: install it without its dependencies "
            "(pip install --no-deps Resemblyzer==0.1.4; packaging/install.sh does this), or turn off "
            "the speaker comparison (speaker=false)")
    path = Path(list(spec.submodule_search_locations)[0]) / "pretrained.pt"
    if not path.is_file():
        raise AnalyzerError(f"the Resemblyzer package at {path.parent} has no pretrained.pt: reinstall the wheel")
    return path


@lru_cache(maxsize=4)
def _load(path: str, device: str) -> GE2EEncoder:
    checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(checkpoint, dict) or "model_state" not in checkpoint:
        raise AnalyzerError(f"{path} is not a Resemblyzer encoder checkpoint (no 'model_state')")
    model = GE2EEncoder()
    try:
        model.load_state_dict(checkpoint["model_state"], strict=True)
    except RuntimeError as exc:
        raise AnalyzerError(f"{path} does not hold the GE2E encoder this workstation expects: {exc}") from exc
    return model.to(device).eval()


def load_encoder(device: str | None = None) -> GE2EEncoder:
    """The pretrained encoder on ``device`` (loaded once per process and device).

    Parameters
    ----------
    device : str, optional
        "cuda" or "cpu"; default :func:`forensics_app.settings.compute_device`.

    Returns
    -------
    GE2EEncoder
        In eval mode.
    """
    if device is None:
        from forensics_app.settings import compute_device

        device = compute_device()
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise AnalyzerError(f"device {device!r} was asked for, but torch sees no CUDA GPU")
    with _LOCK:
        return _load(str(weights_path()), device)


def mel_frames(wave: np.ndarray) -> np.ndarray:
    """Mel power spectra as the encoder was trained on (librosa's melspectrogram, centred frames).

    Parameters
    ----------
    wave : np.ndarray
        Shape (n,), float32 at 16 kHz.

    Returns
    -------
    np.ndarray
        Shape (1 + n // 160, 40), float32.
    """
    import librosa

    mel = librosa.feature.melspectrogram(y=np.asarray(wave, np.float32), sr=RATE, n_fft=WINDOW, hop_length=HOP,
                                         n_mels=N_MELS)
    return mel.astype(np.float32).T


@torch.inference_mode()
def embed(encoder: GE2EEncoder, partials: np.ndarray, *, batch: int = 64) -> np.ndarray:
    """Embed partial utterances.

    Parameters
    ----------
    encoder : GE2EEncoder
        From :func:`load_encoder`.
    partials : np.ndarray
        Shape (k, 160, 40), float32 mel frames of 1.6 s each.
    batch : int
        Partials per forward pass.

    Returns
    -------
    np.ndarray
        Shape (k, 256), float32 unit-length embeddings.
    """
    x = np.asarray(partials, np.float32)
    if x.ndim != 3 or x.shape[2] != N_MELS:
        raise AnalyzerError(f"partial utterances must have shape (k, frames, {N_MELS}), not {x.shape}")
    device = next(encoder.parameters()).device
    out = [encoder(torch.from_numpy(x[i:i + batch]).to(device)).float().cpu().numpy()
           for i in range(0, len(x), batch)]
    return np.concatenate(out) if out else np.zeros((0, EMBEDDING), np.float32)
