"""The GE2E speaker encoder (Resemblyzer's weights, our network) and segment-wise speaker similarity."""

from __future__ import annotations

import importlib.util
import io
import shutil
import subprocess
import sys
import types
from collections.abc import Iterator

import numpy as np
import pytest
import soundfile as sf

from forensics_app.alignment import frontend, speaker_similarity
from forensics_app.alignment import speaker_encoder as se
from forensics_app.domain.errors import AnalyzerError
from forensics_app.training.audio_io import resample

HAVE_RESEMBLYZER = importlib.util.find_spec("resemblyzer") is not None
HAVE_ESPEAK = shutil.which("espeak-ng") is not None
needs_weights = pytest.mark.skipif(not HAVE_RESEMBLYZER, reason="Resemblyzer (GE2E weights) is not installed")
RATE = 16000


@pytest.fixture(scope="module")
def encoder() -> se.GE2EEncoder:
    if not HAVE_RESEMBLYZER:
        pytest.skip("Resemblyzer (GE2E weights) is not installed: pip install --no-deps Resemblyzer==0.1.4")
    return se.load_encoder("cpu")


@pytest.fixture(autouse=True)
def _one_thread(one_torch_thread: None) -> None:
    """torch on one CPU thread (shared 2-core machines)."""


def espeak(text: str, voice: str) -> np.ndarray:
    """eSpeak NG rendering of ``text`` at 16 kHz."""
    out = subprocess.run(["espeak-ng", "-v", voice, "--stdout", text], capture_output=True, check=True).stdout
    x, rate = sf.read(io.BytesIO(out), dtype="float32")
    return resample(x, src_rate=rate, dst_rate=RATE)


def prepared(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    p, f = frontend.analyse(x, rate=RATE)
    return p.wave, f.active


@needs_weights
def test_weights_load_strictly_into_the_network(encoder: se.GE2EEncoder) -> None:
    assert se.weights_path().name == "pretrained.pt"
    assert encoder.lstm.num_layers == 3 and encoder.lstm.hidden_size == 256 and encoder.linear.out_features == 256
    rng = np.random.default_rng(0)
    emb = se.embed(encoder, rng.random((3, se.PARTIAL_FRAMES, se.N_MELS), dtype=np.float32))
    assert emb.shape == (3, 256)
    assert np.allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-5) and emb.min() >= 0.0
    assert "resemblyzer" not in sys.modules, "the package itself is never imported"


@pytest.fixture
def upstream(monkeypatch: pytest.MonkeyPatch) -> Iterator[types.ModuleType]:
    """Resemblyzer's own VoiceEncoder, imported with a stand-in for webrtcvad (not installed)."""
    monkeypatch.setitem(sys.modules, "webrtcvad", types.ModuleType("webrtcvad"))
    try:
        import resemblyzer.voice_encoder as upstream_encoder
    except ImportError as exc:
        pytest.skip(f"Resemblyzer's own code does not import here: {exc}")
    yield upstream_encoder
    for name in [n for n in sys.modules if n == "resemblyzer" or n.startswith("resemblyzer.")]:
        sys.modules.pop(name)


@needs_weights
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_embeddings_equal_resemblyzers_own_implementation(encoder: se.GE2EEncoder,
                                                          upstream: types.ModuleType) -> None:
    rng = np.random.default_rng(1)
    t = np.arange(3 * RATE) / RATE
    wav = (0.1 * np.sin(2 * np.pi * (140 + 30 * np.sin(3 * t)) * t) + 0.01 * rng.standard_normal(t.size))
    wav = wav.astype(np.float32)
    theirs = upstream.VoiceEncoder("cpu", verbose=False)
    _, partials, wav_slices = theirs.embed_utterance(wav, return_partials=True)
    padded = np.pad(wav, (0, max(0, wav_slices[-1].stop - len(wav))))
    mel = se.mel_frames(padded)
    ours = se.embed(encoder, np.stack([mel[s.start // se.HOP:s.stop // se.HOP] for s in wav_slices]))
    np.testing.assert_allclose(ours, partials, atol=1e-5)


def test_missing_package_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None)
    with pytest.raises(AnalyzerError, match="Resemblyzer is not installed.*--no-deps"):
        se.weights_path()


@needs_weights
@pytest.mark.skipif(not HAVE_ESPEAK, reason="espeak-ng is not installed (Debian package espeak-ng)")
def test_same_voice_scores_above_the_threshold_and_another_voice_below(encoder: se.GE2EEncoder) -> None:
    reference = espeak("The old captain carried a heavy wooden basket across the narrow bridge before dawn.",
                       "en-us")
    other_text = "A quiet teacher visited the distant village after dinner and listened to the children."
    same_voice = espeak(other_text, "en-us")
    other_voice = espeak(other_text, "en-us+f3")
    voice = speaker_similarity.voice_print(encoder, *prepared(reference))
    threshold = voice.threshold()
    same = speaker_similarity.speaker_lane(encoder, *prepared(same_voice), voice)
    other = speaker_similarity.speaker_lane(encoder, *prepared(other_voice), voice)
    assert same.similarity.size >= 4 and other.similarity.size >= 4
    assert same.similarity.min() > threshold > other.similarity.max()
    assert np.median(same.similarity) - np.median(other.similarity) > 0.15
    assert not speaker_similarity.speaker_changes(same, threshold=threshold)
    (change,) = speaker_similarity.speaker_changes(other, threshold=threshold)
    assert change.start_s < 1.0 and change.end_s > len(other_voice) / RATE - 1.0
