"""Training, saving, loading and resynthesis of the neural vocoder, and the ``neural`` generator."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from forensics_app.domain.errors import Cancelled, ForensicsError
from forensics_app.domain.jobs import ProgressToken
from forensics_app.nets.vocoder import MelFrontEnd, MelGANGenerator
from forensics_app.training import vocoder_io
from forensics_app.training.generators import GeneratorContext, get
from forensics_app.training.vocoder_io import folded_state_dict, load_vocoder, resynthesise
from forensics_app.training.vocoder_train import log_spectral_distance, train_vocoder

RATE = 16000
TINY = {"channels": 32, "resblock_dilations": [1, 3]}


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _harmonic(f0: float, seconds: float, rng: np.random.Generator) -> np.ndarray:
    """A voiced-speech-like signal: harmonics with vibrato, formant-ish tilt, syllable envelope."""
    t = np.arange(int(seconds * RATE)) / RATE
    f = f0 * (1 + 0.05 * np.sin(2 * np.pi * 3.0 * t))
    phase = 2 * np.pi * np.cumsum(f) / RATE
    x = sum((1.0 / k) * np.sin(k * phase + rng.uniform(0, 2 * np.pi)) for k in range(1, 20) if k * f0 < 7000)
    env = 0.5 + 0.5 * np.sin(2 * np.pi * 2.5 * t) ** 2
    x = x * env + 0.003 * rng.standard_normal(len(t))
    return (0.8 * x / np.max(np.abs(x))).astype(np.float32)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("corpus")
    rng = np.random.default_rng(1)
    for i, f0 in enumerate((110.0, 140.0, 180.0, 210.0, 95.0, 230.0)):
        sf.write(folder / f"{100 + i}-1-000{i}.wav", _harmonic(f0, 1.5, rng), RATE, subtype="PCM_16")
    return folder


@pytest.fixture(scope="module")
def trained(corpus, tmp_path_factory):
    out = tmp_path_factory.mktemp("weights") / "voc.pt"
    lines: list[str] = []
    result = train_vocoder(data_dir=corpus, out_weights=out, seed=3, minutes=0.5, max_steps=30,
                           device="cpu", config=TINY, log=lines.append, learning_rate=3e-3,
                           batch_size=2)
    return out, result, lines


def test_training_lowers_the_validation_stft_loss(trained):
    out, result, lines = trained
    before, after = result["validation_initial"], result["validation"]
    assert result["steps"] >= 4
    assert after["n_utterances"] == 1 and after["utterances"]
    # real improvement, not noise: the log-magnitude STFT loss falls by a fifth, LSD by > 3 dB
    assert after["mr_stft_log_mag"] < 0.8 * before["mr_stft_log_mag"]
    assert after["mr_stft_sc"] < before["mr_stft_sc"]
    assert after["lsd_db"] < before["lsd_db"] - 3.0
    assert np.isfinite(list(result["final_losses"].values())).all()
    assert result["config"]["weight_norm"] is False and result["config"]["channels"] == 32
    assert result["train_speakers"] == 4
    assert any("steps" in line for line in lines)


def test_weights_are_plain_tensors_and_load(trained):
    out, result, _ = trained
    state = torch.load(out, weights_only=True)
    assert all(isinstance(v, torch.Tensor) for v in state.values())
    assert not any("parametrizations" in k for k in state)
    import hashlib
    assert hashlib.sha256(out.read_bytes()).hexdigest() == result["weights_sha256"]
    net, fe = load_vocoder(out, config=result["config"], device="cpu")
    assert isinstance(net, MelGANGenerator) and isinstance(fe, MelFrontEnd) and not net.training


def test_folded_weights_give_the_same_output():
    torch.manual_seed(0)
    wn = MelGANGenerator({**TINY, "weight_norm": True}).eval()
    plain = MelGANGenerator({**TINY, "weight_norm": False}).eval()
    plain.load_state_dict(folded_state_dict(wn))
    mel = torch.randn(1, 80, 12)
    with torch.no_grad():
        torch.testing.assert_close(plain(mel), wn(mel), atol=1e-5, rtol=1e-4)


def test_resynthesis_keeps_length_and_chunks_seamlessly(trained, monkeypatch):
    out, result, _ = trained
    net, fe = load_vocoder(out, config=result["config"], device="cpu")
    x = _harmonic(150.0, 2.0, np.random.default_rng(5))[:31_999]  # not a multiple of the hop
    whole = resynthesise(x, rate=RATE, net=net, frontend=fe)
    assert whole.shape == x.shape and whole.dtype == np.float32
    assert vocoder_io.CONTEXT_FRAMES >= MelGANGenerator().receptive_frames()
    monkeypatch.setattr(vocoder_io, "CHUNK_FRAMES", 20)
    chunked = resynthesise(x, rate=RATE, net=net, frontend=fe)
    np.testing.assert_allclose(chunked, whole, atol=1e-5)
    # other rates go through the vocoder at 16 kHz and come back at their own rate
    x22 = x[:22_050]
    y22 = resynthesise(x22, rate=22_050, net=net, frontend=fe)
    assert y22.shape == x22.shape
    assert resynthesise(x[:100], rate=RATE, net=net, frontend=fe).shape == (100,)
    assert log_spectral_distance(x, whole) < result["validation_initial"]["lsd_db"]


def test_train_vocoder_is_cancellable_and_writes_nothing(corpus, tmp_path):
    token = ProgressToken()
    token.cancel()
    out = tmp_path / "never.pt"
    with pytest.raises(Cancelled):
        train_vocoder(data_dir=corpus, out_weights=out, minutes=0.05, device="cpu", config=TINY,
                      progress=token, log=lambda s: None)
    assert not out.exists()


def test_load_vocoder_rejects_missing_or_foreign_files(tmp_path):
    with pytest.raises(ForensicsError, match="do not exist"):
        load_vocoder(tmp_path / "missing.pt", device="cpu")
    bad = tmp_path / "bad.pt"
    torch.save({"conv.weight": torch.zeros(3)}, bad)
    with pytest.raises(ForensicsError, match="do not fit"):
        load_vocoder(bad, device="cpu")


def test_neural_generator_needs_weights_and_resynthesises(trained, tmp_path):
    out, result, _ = trained
    gen = get("neural")
    assert gen.family == "neural"
    x = _harmonic(120.0, 0.6, np.random.default_rng(7))
    rng = np.random.default_rng(0)
    with pytest.raises(ForensicsError, match="vocoder weights"):
        gen(x, rate=RATE, rng=rng, context=GeneratorContext())
    with pytest.raises(ForensicsError, match="do not exist"):
        gen(x, rate=RATE, rng=rng, context=GeneratorContext(vocoder_weights=tmp_path / "none.pt"))
    # the generator loads the default architecture config: save tiny weights? no - a default-size
    # net with folded random weights stands in for the trained file here
    default = tmp_path / "default.pt"
    torch.manual_seed(0)
    torch.save(folded_state_dict(MelGANGenerator()), default)
    y = gen(x, rate=RATE, rng=rng, context=GeneratorContext(vocoder_weights=default))
    assert y.shape == x.shape and np.isfinite(y).all()
    assert np.max(np.abs(y)) == pytest.approx(np.max(np.abs(x)), rel=1e-3)
