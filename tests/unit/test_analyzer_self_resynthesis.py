"""The self-resynthesis analyzer: the fixed-point property on the validation speakers of the shared
corpus, and its behaviour on generated media (44.1 kHz stereo, cancel, bad input)."""

from __future__ import annotations

import importlib
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from forensics_app.analysis import registry
from forensics_app.domain.errors import AnalyzerError, Cancelled
from forensics_app.domain.jobs import ProgressToken
from forensics_app.domain.media import AudioClip
from forensics_app.resynthesis import residuals as rs
from forensics_app.resynthesis import round_trips as rt
from forensics_app.training.audio_io import read_mono, resample
from forensics_app.training.corpus import list_corpus, split_speakers
from forensics_app.training.generators import GeneratorContext, get

importlib.import_module("forensics_app.analysis.resynthesis.self_resynthesis")

RATE = rt.RATE
SHARED = Path(os.environ.get("FORENSICS_APP_SHARED") or Path(__file__).resolve().parents[2].parent / "shared")
CORPUS = SHARED / "datasets" / "librispeech-train-clean-100-200spk"
WEIGHTS = Path(__file__).resolve().parents[2] / "models" / rt.VOCODER_FILE
N_SPEAKERS, EXCERPT_S = 6, 3.5
LANES = ("lsd", "mcd", "phase", "hnr")


def analyse(path: Path, **params: object) -> object:
    """Decode ``path`` and run the analyzer on it."""
    data, rate = sf.read(path, dtype="float32", always_2d=True)
    info = registry.get("audio.self_resynthesis")
    return info.func(AudioClip(samples=data, rate=rate, path=path), params=info.resolve_params(params),
                     progress=ProgressToken())


def run_on(samples: np.ndarray, rate: int, *, progress: ProgressToken | None = None, **params: object) -> object:
    info = registry.get("audio.self_resynthesis")
    a = np.asarray(samples, np.float32)
    return info.func(AudioClip(samples=a[:, None] if a.ndim == 1 else a, rate=rate, path=Path("memory.wav")),
                     params=info.resolve_params(params), progress=progress or ProgressToken())


@pytest.fixture(scope="module")
def speech(tmp_path_factory: pytest.TempPathFactory) -> np.ndarray:
    """About 4 s of espeak-ng speech decoded at 16 kHz."""
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed (Debian package espeak-ng)")
    path = tmp_path_factory.mktemp("sr") / "speech.wav"
    subprocess.run(["espeak-ng", "-v", "en-gb-x-rp+f2", "-s", "150", "-w", str(path),
                    "Helen remembered the silver lamp behind the kitchen door, and smiled."], check=True, timeout=60)
    return read_mono(path, rate=RATE)


@pytest.mark.slow
@pytest.mark.skipif(not CORPUS.is_dir(), reason=f"shared corpus {CORPUS} is absent")
@pytest.mark.skipif(not WEIGHTS.is_file(), reason=f"models/{rt.VOCODER_FILE} is not in this checkout")
def test_vocoded_speech_has_a_lower_residual_than_its_natural_source_on_validation_speakers(tmp_path):
    """WORLD-resynthesised (the randomised training generator) and neural-vocoded copies of
    natural validation speech change less when resynthesised by the same kind of vocoder."""
    validation = split_speakers(list_corpus(CORPUS)).validation
    speakers = sorted({u.speaker for u in validation})[:N_SPEAKERS]
    context = GeneratorContext(vocoder_weights=WEIGHTS)
    rows = []
    for spk in speakers:
        utt = next(u for u in validation if u.speaker == spk)
        natural = read_mono(utt.path, rate=RATE)[RATE: RATE + int(EXCERPT_S * RATE)]
        files = {"natural": natural}
        for gen in ("world", "neural"):
            files[gen] = get(gen)(natural, rate=RATE, rng=np.random.default_rng(int(spk)), context=context)
        lsd = {}
        for name, wave in files.items():
            path = tmp_path / f"{spk}-{name}.wav"
            sf.write(path, np.clip(wave, -1, 1), RATE, subtype="PCM_16")
            for vocoder in ("world", "neural"):
                if name in ("natural", vocoder):
                    res = analyse(path, vocoders=vocoder)
                    lsd[name, vocoder] = res.findings[0].details["median_lsd_db"]
        rows.append((spk, lsd))
    report = {spk: {f"{k[0]}/{k[1]}": round(v, 2) for k, v in lsd.items()} for spk, lsd in rows}
    print(report)
    for _, lsd in rows:
        assert lsd["world", "world"] < lsd["natural", "world"], report
        assert lsd["neural", "neural"] < lsd["natural", "neural"] - 2.0, report


def test_44k_stereo_file_gives_one_finding_per_vocoder_with_map_and_lanes(speech, tmp_path):
    x = np.concatenate([speech[: 2 * RATE], np.zeros(RATE, np.float32), speech[2 * RATE:]])
    x44 = resample(x, src_rate=RATE, dst_rate=44100)
    path = tmp_path / "stereo44k.wav"
    sf.write(path, np.stack([0.8 * x44, 0.4 * x44], axis=1), 44100, subtype="PCM_16")
    res = analyse(path, vocoders="all" if WEIGHTS.is_file() else "classical")
    ids = list(rt.ORDER) if WEIGHTS.is_file() else ["world", "griffinlim", "lpc"]
    residual = [f for f in res.findings if not f.label.startswith("Residual detector")]
    assert [f.label for f in residual] == [f"Self-resynthesis residual ({i})" for i in ids]
    duration = len(x) / RATE
    for f, vid in zip(residual, ids, strict=True):
        assert f.fake_likelihood is None
        (m,) = f.maps
        assert m.name == f"resynthesis-residual-{vid}" and m.unit == "dB"
        assert m.values.shape == (rs.N_BANDS, m.times_s.size) and m.values.min() >= 0.0
        assert m.times_s[0] >= 0 and m.times_s[-1] <= duration and np.all(np.diff(m.times_s) > 0)
        assert [s.name for s in f.series] == [f"resynthesis-{lane}-{vid}" for lane in LANES]
        assert [s.unit for s in f.series] == ["dB", "dB", "coherence", "dB"]
        lsd = f.series[0]
        silent = (lsd.times_s > 2.1) & (lsd.times_s < 2.9)
        assert np.all(np.isnan(lsd.values[silent])) and np.all(m.values[:, silent] == 0.0)
        assert np.isfinite(lsd.values[lsd.times_s < 1.9]).mean() > 0.8
        phase = f.series[2].values
        assert np.nanmin(phase) >= 0.0 and np.nanmax(phase) <= 1.0
        assert f.details["median_lsd_db"] > 0 and "cannot show" in f.details["explanation"]
        assert "not proof" in f.details["explanation"]
    s = res.summary
    assert s["input"] == {"rate_hz": 44100, "channels": 2, "duration_s": pytest.approx(duration, abs=1e-3)}
    assert set(s["timings_s"]) == set(ids) and set(s["medians"]) == set(ids) and s["explanation"]
    mono16 = run_on(x, RATE, vocoders="world")  # the same content at 16 kHz mono measures alike
    assert mono16.findings[0].details["median_lsd_db"] == pytest.approx(
        residual[0].details["median_lsd_db"], abs=0.75)


def test_one_vocoder_can_be_chosen_and_unknown_ones_are_refused(speech):
    res = run_on(speech, RATE, vocoders="lpc")
    assert [f.label for f in res.findings] == ["Self-resynthesis residual (lpc)"]
    with pytest.raises(AnalyzerError, match="not one of"):
        run_on(speech, RATE, vocoders="wavenet")


def test_cancel_stops_the_run_between_chunks(speech):
    x = np.tile(speech, 4)  # about 16 s: four 4 s chunks
    reports: list[float] = []

    def on_report(fraction: float, message: str) -> None:
        reports.append(fraction)
        if fraction > 0.2:
            token.cancel()

    token = ProgressToken(on_report)
    with pytest.raises(Cancelled):
        run_on(x, RATE, progress=token, vocoders="classical", chunk_s=5.0)
    assert 0.2 < max(reports) < 0.5  # it stopped at the next chunk or round trip, not at the end


@pytest.mark.parametrize(("samples", "message"), [
    (np.zeros((0, 1), np.float32), "no audio samples"),
    (np.zeros((RATE // 10, 1), np.float32), "at least 0.25 s"),
    (np.zeros((2 * RATE, 2), np.float32), "digital silence"),
    (1e-6 * np.random.default_rng(0).standard_normal((2 * RATE, 1)).astype(np.float32), "no signal above -80 dBFS"),
    (np.full((RATE, 1), np.nan, np.float32), "NaN"),
])
def test_bad_input_raises_a_clear_analyzer_error(samples, message):
    with pytest.raises(AnalyzerError, match=message):
        run_on(samples, RATE, vocoders="classical")


def test_a_third_of_a_second_is_enough(speech):
    res = run_on(speech[RATE: RATE + RATE // 3], RATE, vocoders="classical")
    assert len(res.findings) == 3 and all(f.details["active_frames"] > 10 for f in res.findings)
