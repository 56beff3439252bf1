"""The MelGAN-style vocoder net and its mel front end (forensics_app.nets.vocoder)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from forensics_app.domain.errors import ForensicsError
from forensics_app.nets import registry
from forensics_app.nets.vocoder import (
    DEFAULT_CONFIG,
    MelFrontEnd,
    MelGANGenerator,
    mel_band_centres,
    mel_filterbank,
)

TINY = {"channels": 16, "resblock_dilations": [1, 3]}


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_output_length_is_frames_times_hop_and_bounded():
    torch.manual_seed(0)
    net = MelGANGenerator(TINY).eval()
    mel = torch.randn(2, 80, 13)
    with torch.no_grad():
        y = net(mel)
    assert y.shape == (2, 13 * 256)
    assert float(y.abs().max()) <= 1.0
    assert torch.isfinite(y).all()


def test_front_end_gives_one_frame_per_hop_and_generator_restores_length():
    fe = MelFrontEnd()
    net = MelGANGenerator(TINY).eval()
    x = torch.from_numpy(np.random.default_rng(0).standard_normal((1, 256 * 40)).astype(np.float32) * 0.1)
    with torch.no_grad():
        mel = fe(x)
        y = net(mel)
    assert mel.shape == (1, 80, 40)
    assert fe.n_frames(256 * 40) == 40
    assert y.shape == x.shape


@pytest.mark.parametrize("freq", [300.0, 1000.0, 3500.0])
def test_tone_peaks_in_the_mel_band_of_its_frequency(freq):
    rate = 16000
    t = np.arange(rate // 2) / rate
    x = torch.from_numpy((0.5 * np.sin(2 * np.pi * freq * t)).astype(np.float32))[None]
    mel = MelFrontEnd()(x)[0]  # (80, frames), natural log
    band = int(mel[:, 5:-5].mean(dim=1).argmax())
    centres = mel_band_centres()
    assert band == int(np.argmin(np.abs(centres - freq))) or abs(centres[band] - freq) < 0.6 * abs(
        centres[min(band + 1, 79)] - centres[band])
    assert float(mel[band, 5:-5].mean()) > float(mel[:, 5:-5].mean()) + 3.0  # > 3 nepers above average


def test_filterbank_matches_librosa_slaney_mel():
    librosa = pytest.importorskip("librosa")
    ours = mel_filterbank(rate=16000, n_fft=1024, n_mels=80, fmin=0.0, fmax=8000.0)
    ref = librosa.filters.mel(sr=16000, n_fft=1024, n_mels=80, fmin=0.0, fmax=8000.0)
    np.testing.assert_allclose(ours, ref, atol=1e-6)


def test_registered_as_melgan_and_built_from_config():
    net = registry.build("melgan", TINY)
    assert isinstance(net, MelGANGenerator)
    assert net.config["channels"] == 16
    n = sum(p.numel() for p in MelGANGenerator(DEFAULT_CONFIG).parameters())
    assert 300_000 <= n <= 1_000_000


def test_bad_configs_raise_clear_errors():
    with pytest.raises(ForensicsError, match="multiply"):
        MelGANGenerator({"upsample_rates": [8, 8, 2]})
    with pytest.raises(ForensicsError, match="unknown"):
        MelGANGenerator({"no_such_key": 1})
    with pytest.raises(ForensicsError, match="fmax"):
        MelFrontEnd({"fmax": 9000.0})
    with pytest.raises(ForensicsError, match="batch"):
        MelGANGenerator(TINY)(torch.zeros(80, 4))


@pytest.mark.parametrize("dilations", [[1, 3], [1, 3, 9]])
def test_receptive_field_is_within_the_declared_bound(dilations):
    torch.manual_seed(0)
    net = MelGANGenerator({**TINY, "resblock_dilations": dilations}).eval()
    mel = torch.randn(1, 80, 80)
    with torch.no_grad():
        base = net(mel)
        bumped = mel.clone()
        bumped[0, :, 40] += 3.0
        diff = (net(bumped) - base).abs()[0]
    changed = torch.nonzero(diff > 1e-7).flatten()
    reach = max(40 * 256 - int(changed.min()), int(changed.max()) - 41 * 256) / 256
    assert 0 < reach <= net.receptive_frames()
