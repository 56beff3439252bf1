"""The model card of the project's neural vocoder, written from its measured training figures."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def _rows(d: Mapping[str, Any], prefix: str = "") -> list[str]:
    out = []
    for k, v in d.items():
        if isinstance(v, Mapping):
            out += _rows(v, f"{prefix}{k}.")
        elif isinstance(v, float):
            out.append(f"| {prefix}{k} | {v:.4g} |")
        elif isinstance(v, list | tuple):
            out.append(f"| {prefix}{k} | {', '.join(str(x) for x in v)} |")
        else:
            out.append(f"| {prefix}{k} | {v} |")
    return out


def vocoder_card(model_id: str, details: Mapping[str, Any]) -> str:
    """Markdown card: purpose, architecture, training data, measured figures, limits.

    Parameters
    ----------
    model_id : str
        The manifest id.
    details : Mapping
        ``{"config": ..., "training": ...}`` as returned by ``train_vocoder``.
    """
    lines = [
        f"# {model_id}: the project's neural vocoder",
        "",
        "A small MelGAN-style generator (log-mel spectrogram, 80 bands, hop 256 at 16 kHz, to waveform)",
        "trained by this project. It is **not** a detector. It is used (1) as the `neural` spoof",
        "generator family when the detectors' training data is generated, because real deepfakes come",
        "out of neural vocoders, and (2) for self-resynthesis in comparative analysis.",
        "",
        "## Training data",
        "",
        "Bona fide read speech of the *train* split speakers of LibriSpeech train-clean-100 (200-speaker",
        "subset, CC BY 4.0), speaker-disjoint from the validation and calibration speakers, seed 0.",
        "",
        "## Configuration",
        "",
        "| key | value |",
        "|---|---|",
        *_rows(details.get("config", {})),
        "",
        "## Training and validation figures (measured by `forensics-app train vocoder`)",
        "",
        "| figure | value |",
        "|---|---|",
        *_rows(details.get("training", {})),
        "",
        "## Limits",
        "",
        "- Trained for minutes on a CPU, not days on GPUs, with spectral losses only (no discriminator):",
        "  its output keeps the spectral envelope but is noise-excited (whisper-like; harmonics mostly",
        "  lost), far below production vocoders (HiFi-GAN, BigVGAN). Detectors trained on its output",
        "  learn *a* neural-vocoder signature, not every one; a fluent modern vocoder is a different",
        "  and harder case.",
        "- Speech at 16 kHz only; no speaker conditioning.",
        "",
        "## Licence",
        "",
        "Weights trained by this project on LibriSpeech (CC BY 4.0) derived data; attribution: LibriSpeech",
        "(c) 2014 Vassil Panayotov et al.",
    ]
    return "\n".join(lines) + "\n"
