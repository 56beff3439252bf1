"""The shipped residual detector: catalogued, scoring real speech, and part of the fused verdict.

The recordings are made here: an espeak-ng rendering, a stretch of digital silence and the WORLD
round trip of the rendering, as an investigator might meet them.
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
from forensics_app.detectors.detector import load_detector
from forensics_app.detectors.front_ends import front_end_name
from forensics_app.detectors.fusion import fusion_for, valid_fusions
from forensics_app.detectors.weights import sha256_file
from forensics_app.domain.jobs import ProgressToken
from forensics_app.domain.media import AudioClip
from forensics_app.resynthesis import round_trips as rt

RESIDUAL = "resynthesis-residual-v1"
LCNN = "lfcc-lcnn-v1"
RATE = 16000

needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed")


@pytest.fixture(scope="module")
def recording(tmp_path_factory: pytest.TempPathFactory) -> tuple[np.ndarray, float, float]:
    """espeak speech, 3 s of digital silence, the WORLD round trip of the speech: (wave, silence start, end)."""
    path = speech_wav(tmp_path_factory.mktemp("speech") / "tts.wav", rate=RATE,
                      text="Please call me back about the transfer before noon today, it is urgent.")
    x, _ = sf.read(path, dtype="float32")
    gap = np.zeros(3 * RATE, np.float32)
    wave = np.concatenate([x, gap, rt.get("world")(x)])
    return wave, x.size / RATE, (x.size + gap.size) / RATE


def test_shipped_residual_detector_is_catalogued_with_its_measured_fusion() -> None:
    entry = catalog.get_model(RESIDUAL)
    assert entry.source == "shipped" and entry.task == "speech-detection" and entry.architecture == "residual_mlp"
    assert sha256_file(entry.weights_path) == entry.sha256
    assert entry.calibration is not None and entry.bands is not None and entry.bands.t_low <= entry.bands.t_high
    assert entry.card_path is not None and "What it adds to the fused verdict" in entry.card_path.read_text()
    fusion = entry.details["fusion_validation"][0]
    assert fusion["models"] == [LCNN, RESIDUAL]
    assert fusion["sha256"][LCNN] == catalog.get_model(LCNN).sha256
    assert set(fusion["systems"]) == {LCNN, RESIDUAL, "fused"}
    assert fusion["consistency"]["max_raw_difference"] < 1e-4
    assert fusion["fitted"]["weights"].keys() == {LCNN, RESIDUAL}


def _shas() -> dict[str, str]:
    return {m: catalog.get_model(m).sha256 for m in (LCNN, RESIDUAL)}


def test_shipped_fitted_fusion_matches_the_shipped_weights_and_was_validated() -> None:
    fitted = fusion_for([RESIDUAL, LCNN], valid_fusions(_shas()))
    assert fitted is not None, "models/fusions.json has no current fusion of lfcc-lcnn-v1 + residual"
    assert all(w >= 0 for w in fitted.weights) and fitted.bands.t_low <= fitted.bands.t_high
    systems = fitted.validation["systems"]
    lcnn = catalog.get_model(LCNN).details
    mean = catalog.get_model(RESIDUAL).details["fusion_validation"][0]["systems"]["fused"]["overall"]
    assert systems["mean"]["overall"]["cllr"] == pytest.approx(mean["cllr"], abs=1e-9)  # same rows, same scoring
    assert set(systems["fitted"]["per_generator"]) == {g["generator"] for g in lcnn["validation"]["per_generator"]}
    # fitted to minimise Cllr, it is at least as well calibrated as the mean on the validation speakers
    assert systems["fitted"]["overall"]["cllr"] <= systems["mean"]["overall"]["cllr"]


@needs_espeak
def test_scores_speech_with_bounded_llrs_and_leaves_silence_unscored(recording) -> None:  # type: ignore[no-untyped-def]
    wave, quiet_from, quiet_to = recording
    det = load_detector(RESIDUAL, device="cpu")
    assert front_end_name(det.net) == "resynthesis-residuals"
    ws = det.score_wave(wave, rate=RATE)
    silent = (ws.starts_s >= quiet_from) & (ws.ends_s <= quiet_to)
    speech = (ws.ends_s <= quiet_from) | (ws.starts_s >= quiet_to)
    assert silent.any() and speech.sum() >= 4
    assert np.all(np.isnan(ws.raw[silent]))
    llr = det.llr(ws.raw[speech])
    lo, hi = det.llr_bounds
    assert np.all(np.isfinite(llr)) and np.all((llr >= lo) & (llr <= hi))


@needs_espeak
def test_synthetic_speech_fuses_the_residual_detector_with_the_others(recording, tmp_path: Path,  # type: ignore[no-untyped-def]
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    wave, quiet_from, quiet_to = recording
    monkeypatch.setattr(catalog, "imported_models", lambda **_: [])  # "all" = the shipped detectors
    info = registry.get("audio.synthetic_speech")
    result = info.func(AudioClip(samples=wave[:, None], rate=RATE, path=tmp_path / "q.wav"),
                       params=info.resolve_params({"models": "all", "top_segments": 1}), progress=ProgressToken())
    verdict = result.findings[0]
    per_model = verdict.details["per_model"]
    assert set(per_model) >= {LCNN, RESIDUAL} and not verdict.details["not_scored"]
    fitted = fusion_for([LCNN, RESIDUAL], valid_fusions(_shas()))
    assert fitted is not None and verdict.details["fusion"] == "fitted"
    assert verdict.details["llr"] == pytest.approx(float(fitted.apply([per_model[m] for m in fitted.models])),
                                                   abs=1e-3)
    assert set(verdict.details["fusion_validation"]["systems"]) == {LCNN, RESIDUAL, "mean", "fitted"}
    assert "validated on" in result.summary["fusion"]["method"]
    lane = next(s for s in verdict.series if s.name == RESIDUAL)
    in_gap = (lane.times_s > quiet_from + 1.0) & (lane.times_s < quiet_to - 1.0)
    assert in_gap.any() and np.all(np.isnan(lane.values[in_gap]))
    assert np.isfinite(lane.values).sum() >= 4
    segments = [f for f in result.findings if f.label.startswith("Suspicious segment")]
    assert segments, "espeak speech is flagged by the fused verdict somewhere"
    maps = {m.name: m for m in segments[0].maps}
    residual_map = maps[f"{RESIDUAL} explanation"]
    assert residual_map.unit == "dB" and residual_map.values.max() > 0
    half = catalog.get_model(RESIDUAL).input_length_s / 2  # the map's window is centred inside the segment
    assert segments[0].start_s - half <= residual_map.times_s[0] <= residual_map.times_s[-1] <= segments[0].end_s + half
    assert "residual" in segments[0].details["per_model_peak"][RESIDUAL]["method"]


def test_a_model_that_cannot_score_is_left_out_of_the_fusion(tmp_path: Path) -> None:
    """A short burst in silence: LFCC-LCNN scores its window, the resynthesis finds too little speech."""
    rng = np.random.default_rng(0)
    wave = np.zeros(3 * RATE, np.float32)
    wave[-RATE // 10:] = 0.3 * rng.standard_normal(RATE // 10).astype(np.float32)
    info = registry.get("audio.synthetic_speech")
    result = info.func(AudioClip(samples=wave[:, None], rate=RATE, path=tmp_path / "burst.wav"),
                       params=info.resolve_params({"models": f"{LCNN},{RESIDUAL}", "explain": False}),
                       progress=ProgressToken())
    verdict = result.findings[0]
    assert list(verdict.details["per_model"]) == [LCNN]
    assert RESIDUAL in verdict.details["not_scored"]
    assert verdict.details["llr"] == pytest.approx(verdict.details["per_model"][LCNN], abs=1e-3)
