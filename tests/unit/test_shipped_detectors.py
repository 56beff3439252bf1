"""The shipped detector itself: catalogued with the hash of its file, and it hears espeak-ng.

Unlike the other detector tests (a tiny net trained in the test), this one runs the weights in
models/ on text-to-speech that the test synthesises, as an investigator would.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from forensics_app.analysis import registry
from forensics_app.demo.audio_media import speech_wav
from forensics_app.detectors import catalog
from forensics_app.detectors.weights import sha256_file
from forensics_app.domain.jobs import ProgressToken
from forensics_app.domain.media import AudioClip

SHIPPED = "lfcc-lcnn-v1"


def test_shipped_detector_is_catalogued_with_its_files_hash() -> None:
    entry = catalog.get_model(SHIPPED)
    assert entry.source == "shipped" and entry.task == "speech-detection"
    assert sha256_file(entry.weights_path) == entry.sha256
    assert entry.calibration is not None and entry.bands is not None
    assert entry.bands.t_low < entry.bands.t_high
    assert entry.card_path is not None and entry.card_path.is_file()


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed")
def test_shipped_detector_calls_espeak_speech_synthetic(tmp_path: Path) -> None:
    path = speech_wav(tmp_path / "tts.wav", text="Please call me back about the transfer before noon "
                      "today, it is urgent and I cannot wait much longer.", rate=16000)
    data, rate = sf.read(path, dtype="float32", always_2d=True)
    info = registry.get("audio.synthetic_speech")
    result = info.func(AudioClip(samples=data, rate=rate, path=path),
                       params=info.resolve_params({"models": SHIPPED, "explain": False}), progress=ProgressToken())
    verdict = result.findings[0]
    assert verdict.details["band"] == "supports synthetic", verdict.label
    lane = verdict.series[0]
    assert np.nanmedian(lane.values) > 0.5


REPO = Path(__file__).resolve().parents[2]
CORPUS = REPO.parent / "shared" / "datasets" / "librispeech-train-clean-100-200spk"


@pytest.mark.skipif(not CORPUS.is_dir(), reason=f"the LibriSpeech subset is not present at {CORPUS}")
def test_shipped_detector_does_not_call_held_out_real_speech_synthetic() -> None:
    from forensics_app.training.corpus import list_corpus, split_speakers

    held_out = split_speakers(list_corpus(CORPUS), seed=0).validation[:3]
    info = registry.get("audio.synthetic_speech")
    for utt in held_out:
        data, rate = sf.read(utt.path, dtype="float32", always_2d=True)
        result = info.func(AudioClip(samples=data, rate=rate, path=utt.path),
                           params=info.resolve_params({"models": SHIPPED, "explain": False}),
                           progress=ProgressToken())
        assert result.findings[0].details["band"] != "supports synthetic", (utt.utterance, result.findings[0].label)
