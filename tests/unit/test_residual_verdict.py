"""The self-resynthesis analyzer states the shipped residual detector's verdict from its own tracks."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from forensics_app.analysis import registry
from forensics_app.demo.media import speech_wav
from forensics_app.domain.jobs import ProgressToken
from forensics_app.domain.media import AudioClip

pytestmark = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed")


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> AudioClip:
    path = speech_wav(tmp_path_factory.mktemp("v") / "s.wav", text="Please confirm the transfer before noon today.",
                      rate=16000)
    x, rate = sf.read(str(path), dtype="float32", always_2d=True)
    return AudioClip(x, rate, Path(path))


def test_verdict_comes_with_bounds_band_and_lane(clip: AudioClip, one_torch_thread: None) -> None:
    from forensics_app.detectors.detector import load_detector

    info = registry.get("audio.self_resynthesis")
    res = info.func(clip, params=info.resolve_params({}), progress=ProgressToken())
    verdicts = [f for f in res.findings if f.label.startswith("Residual detector")]
    assert len(verdicts) == 1, [f.label for f in res.findings]
    v = verdicts[0]
    det = load_detector(v.details["model_id"])
    lo, hi = det.llr_bounds
    assert lo <= v.details["llr"] <= hi and v.fake_likelihood == pytest.approx(1 / (1 + np.exp(-v.details["llr"])))
    assert v.details["band"] in v.label and v.details["model_sha256"] == det.entry.sha256
    [lane] = v.series
    assert lane.unit == "FakeLikelihood" and np.isfinite(lane.values).any()
    assert [m["id"] for m in res.summary["models"]] == [v.details["model_id"]]
    # the per-vocoder residual findings are still all there, after the verdict
    assert [f.details["round_trip"] for f in res.findings[1:]] == ["world", "griffinlim", "lpc", "neural"]


def test_no_verdict_without_the_neural_round_trip_and_it_says_why(clip: AudioClip) -> None:
    info = registry.get("audio.self_resynthesis")
    res = info.func(clip, params=info.resolve_params({"vocoders": "classical"}), progress=ProgressToken())
    assert not [f for f in res.findings if f.label.startswith("Residual detector")]
    [(model_id, why)] = res.summary["detector_not_scored"].items()
    assert model_id.startswith("resynthesis-residual") and "neural" in why
    off = info.func(clip, params=info.resolve_params({"vocoders": "classical", "detector": False}),
                    progress=ProgressToken())
    assert off.summary["detector_not_scored"] == {} and off.summary["models"] == []
