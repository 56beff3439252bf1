"""torchaudio's pure-Python transforms import and run on the CPU build of torch."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")


def test_transforms_work_on_cpu() -> None:
    from forensics_app.nets.torchaudio_cpu import import_torchaudio

    ta = import_torchaudio()
    rate = 16000
    t = torch.arange(rate) / rate
    x = torch.sin(2 * np.pi * 1000.0 * t).unsqueeze(0)
    spec = ta.transforms.Spectrogram(n_fft=512, hop_length=256, power=2.0)(x)
    peak_bin = int(spec[0].mean(dim=1).argmax())
    assert abs(peak_bin * rate / 512 - 1000.0) < rate / 512
    assert ta.transforms.LFCC(sample_rate=rate, n_lfcc=20)(x).shape[1] == 20
    assert ta.transforms.MelSpectrogram(sample_rate=rate, n_mels=40)(x).shape[1] == 40
    y = ta.transforms.Resample(rate, 8000)(x)
    assert y.shape[-1] == 8000
