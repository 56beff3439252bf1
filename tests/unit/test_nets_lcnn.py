"""LFCC front end and LFCC-LCNN: feature layout, tone localisation, shapes, any input length."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from forensics_app.domain.errors import ForensicsError  # noqa: E402
from forensics_app.nets import registry  # noqa: E402
from forensics_app.nets.features import Lfcc, dct_matrix  # noqa: E402
from forensics_app.nets.lcnn import LfccLcnn  # noqa: E402

RATE = 16000
TINY = {"width": 0.25, "hidden": 16}


def _tone(freq: float, seconds: float = 0.5, amp: float = 0.5) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


@pytest.mark.parametrize("freq", [440.0, 1000.0, 3000.0, 6500.0])
def test_log_fbank_of_a_tone_peaks_in_the_tone_band(freq: float) -> None:
    lfcc = Lfcc()
    x = torch.from_numpy(_tone(freq)).unsqueeze(0)
    fb = lfcc.log_fbank(x)
    assert fb.shape == (1, 20, 8000 // 160 + 1)
    peak = int(fb[0, :, 5:-5].mean(dim=1).argmax())
    assert peak == int(np.argmin(np.abs(lfcc.centres_hz - freq)))
    spacing = lfcc.centres_hz[1] - lfcc.centres_hz[0]
    assert abs(lfcc.centres_hz[peak] - freq) <= spacing / 2
    feats = lfcc(x)
    assert feats.shape == (1, 60, fb.shape[2])
    # static part = orthonormal DCT of the log energies; c0 is their scaled mean
    torch.testing.assert_close(feats[0, 0], fb[0].mean(dim=0) * np.sqrt(20.0), rtol=1e-4, atol=1e-3)
    np.testing.assert_allclose(dct_matrix(20, 20) @ dct_matrix(20, 20).T, np.eye(20), atol=1e-5)
    assert np.allclose(lfcc.frame_times_s(3), [0.0, 0.01, 0.02])


def test_lfcc_rejects_bad_settings_and_shapes() -> None:
    with pytest.raises(ForensicsError, match="unknown setting"):
        Lfcc({"n_mels": 40})
    with pytest.raises(ForensicsError, match="batch, samples"):
        Lfcc().log_fbank(torch.zeros(16000))


def test_lcnn_output_shape_and_any_length() -> None:
    torch.manual_seed(0)
    net = registry.build("lfcc_lcnn", TINY).eval()
    assert isinstance(net, LfccLcnn)
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for n in (1, 400, 8000, 32000, 50001):
            out = net(0.1 * torch.randn(3, n, generator=gen))
            assert out.shape == (3, 2) and torch.isfinite(out).all()
        x = 0.1 * torch.randn(4, 32000, generator=gen)
        full = net(x)
        torch.testing.assert_close(net(x[2:3]), full[2:3], rtol=1e-4, atol=1e-5)  # no batch mixing
        torch.testing.assert_close(net.forward_from_log_fbank(net.log_fbank(x)), full)
        # global average pooling: a stationary signal scores alike at any length
        noise = 0.1 * torch.randn(1, 4 * RATE, generator=gen)
        scores = [float(net(noise[:, :n])[0, 0] - net(noise[:, :n])[0, 1]) for n in (RATE, 2 * RATE, 4 * RATE)]
        assert max(scores) - min(scores) < 0.1 * (1 + abs(scores[0]))


def test_lcnn_width_scales_parameters_and_default_config() -> None:
    small = registry.build("lfcc_lcnn", TINY)
    default = registry.build("lfcc_lcnn")
    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    assert count(small) < count(default)
    assert default.config["width"] == 0.5 and default.sample_rate == RATE
    assert len(default.freqs_hz) == 20
    with pytest.raises(ForensicsError, match="unknown config key"):
        registry.build("lfcc_lcnn", {"channels": 8})
