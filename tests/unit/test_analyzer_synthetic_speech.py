"""The synthetic-speech analyzer and the robustness re-scoring, with a tiny trained detector.

The detector here is an LFCC-LCNN trained in the fixture to call a 3 kHz whistle "synthetic"
(tests/unit/detector_fixtures.py); the analyzer's job (windows, silence gating, calibration,
bands, fusion, localisation, explanation maps, storage) is what is under test.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from detector_fixtures import RATE, TONE_HZ, babble, install_tiny_detector, whistle

from forensics_app.analysis import registry, runner
from forensics_app.detectors import catalog
from forensics_app.domain.errors import AnalyzerError
from forensics_app.domain.jobs import ProgressToken
from forensics_app.domain.media import AudioClip
from forensics_app.ingest.acquire import add_evidence
from forensics_app.store import repo
from forensics_app.store.case import CaseStore
from forensics_app.store.schema import RunStatus


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("models")
    install_tiny_detector(d, model_id="tiny-lcnn", seed=0)
    install_tiny_detector(d, model_id="tiny-lcnn-b", seed=1)
    return d


@pytest.fixture
def catalogued(models_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setattr(catalog, "shipped_models_dir", lambda: models_dir)
    yield models_dir


def _questioned(tmp_path: Path) -> Path:
    """12 s: 1 s of silence, babble, a whistle from 6 to 9 s."""
    rng = np.random.default_rng(5)
    n = 12 * RATE
    x = babble(n, rng)
    x[:RATE] = 0.0
    a, b = 6 * RATE, 9 * RATE
    x[a:b] += whistle(b - a)
    path = tmp_path / "questioned.wav"
    sf.write(path, x, RATE, subtype="PCM_16")
    return path


def _analyse(path: Path, **params: object) -> object:
    data, rate = sf.read(path, dtype="float32", always_2d=True)
    info = registry.get("audio.synthetic_speech")
    return info.func(AudioClip(samples=data, rate=rate, path=path), params=info.resolve_params(params),
                     progress=ProgressToken())


def test_localises_the_synthetic_span_and_explains_it(catalogued: Path, tmp_path: Path) -> None:
    result = _analyse(_questioned(tmp_path), models="tiny-lcnn")
    verdict, per_model, *segments = result.findings
    assert verdict.label.startswith("Synthetic speech verdict")
    # 3 s of whistle in 11 s of babble: the file as a whole need not look synthetic, but the
    # verdict names the segment that does.
    assert verdict.details["segments_supporting_synthetic"]
    assert "segment(s) supports synthetic" in verdict.label or verdict.details["band"] == "supports synthetic"
    lane = verdict.series[0]
    assert lane.name == "tiny-lcnn" and lane.unit == "FakeLikelihood"
    silent = lane.times_s < 0.5
    assert np.isnan(lane.values[silent]).all(), "windows in digital silence are not scored"
    inside = (lane.times_s > 7.0) & (lane.times_s < 8.0)
    outside = (lane.times_s > 2.5) & (lane.times_s < 4.5)
    assert np.nanmin(lane.values[inside]) > 0.8 > np.nanmax(lane.values[outside])
    assert segments, "the whistle span is reported as a suspicious segment"
    top = segments[0]
    assert top.start_s < 7.0 and top.end_s > 8.0 and top.start_s > 4.0 and top.end_s < 11.0
    (tf_map,) = top.maps
    assert tf_map.unit == "relevance" and 0.0 <= tf_map.values.min() and tf_map.values.max() <= 1.0
    assert top.start_s - 1e-6 <= tf_map.times_s[0] and tf_map.times_s[-1] <= top.end_s + 1e-6
    profile = tf_map.values.mean(axis=1)
    peak_hz = tf_map.freqs_hz[int(np.argmax(profile))]
    assert abs(peak_hz - TONE_HZ) < 600, f"explanation peaks at {peak_hz:.0f} Hz, not near the whistle"
    assert per_model.details["model_id"] == "tiny-lcnn" and len(per_model.details["model_sha256"]) == 64
    # 100 bona fide and 100 spoofed validation items cannot support an LR beyond 100 either way
    lo, hi = per_model.details["llr_bounds"]
    assert (lo, hi) == pytest.approx((-np.log(100), np.log(100)))
    assert np.nanmax(lane.values) <= 1 / (1 + np.exp(-hi)) + 1e-9
    assert lo <= per_model.details["llr"] <= hi
    assert result.summary["models"][0]["limits"] == ["test detector: knows only a 3 kHz whistle"]


def test_two_detectors_side_by_side_are_fused(catalogued: Path, tmp_path: Path) -> None:
    result = _analyse(_questioned(tmp_path), models="all", explain=False)
    verdict = result.findings[0]
    assert [s.name for s in verdict.series] == ["tiny-lcnn", "tiny-lcnn-b", "fused"]
    llrs = list(verdict.details["per_model"].values())
    assert verdict.details["llr"] == pytest.approx(np.mean(llrs), abs=1e-3)
    assert {m["id"] for m in result.summary["models"]} == {"tiny-lcnn", "tiny-lcnn-b"}
    segs = [f for f in result.findings if f.label.startswith("Suspicious segment")]
    assert segs and all(not f.maps for f in segs)


def test_clean_babble_is_not_called_synthetic(catalogued: Path, tmp_path: Path) -> None:
    path = tmp_path / "clean.wav"
    sf.write(path, babble(8 * RATE, np.random.default_rng(9)), RATE)
    result = _analyse(path, models="tiny-lcnn")
    assert result.findings[0].details["band"] != "supports synthetic"
    assert not [f for f in result.findings if f.label.startswith("Suspicious segment")]


def test_unknown_model_and_silence_are_refused(catalogued: Path, tmp_path: Path) -> None:
    with pytest.raises(AnalyzerError, match="unknown detector"):
        _analyse(_questioned(tmp_path), models="nope")
    silent = tmp_path / "silent.wav"
    sf.write(silent, np.zeros(3 * RATE, dtype=np.float32), RATE)
    with pytest.raises(AnalyzerError, match="no window with speech-level energy"):
        _analyse(silent, models="tiny-lcnn")


def test_no_installed_detector_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    empty = tmp_path / "empty-models"
    empty.mkdir()
    (empty / "manifest.toml").write_text("# none\n", encoding="utf-8")
    monkeypatch.setattr(catalog, "shipped_models_dir", lambda: empty)
    with pytest.raises(AnalyzerError, match="no speech detector is installed"):
        _analyse(_questioned(tmp_path))


def test_runner_stores_lanes_and_maps(catalogued: Path, case: CaseStore, tmp_path: Path) -> None:
    eid = add_evidence(case, _questioned(tmp_path), examiner="Ann").evidence_id
    run_id = runner.queue_job(case, evidence_id=eid, examiner="Ann",
                              spec=runner.make_spec("audio.synthetic_speech", {"models": "tiny-lcnn"}))
    out = runner.run_job(case, run_id)
    assert out.status is RunStatus.DONE, out
    with case.session() as s:
        fs = repo.findings_for_run(s, run_id)
        run = repo.get_run(s, run_id)
        assert run.summary["models"][0]["id"] == "tiny-lcnn"
        seg = next(f for f in fs if f.label.startswith("Suspicious segment"))
        map_ref = seg.artifacts["maps"][0]
        lane_ref = fs[0].artifacts["series"][0]
    tf_map = case.artifacts.get_map(map_ref)
    assert tf_map.values.shape == (tf_map.freqs_hz.size, tf_map.times_s.size)
    assert case.artifacts.get_series(lane_ref).name == "tiny-lcnn"


def test_robustness_rescoring_reports_every_condition(catalogued: Path, tmp_path: Path) -> None:
    path = _questioned(tmp_path)
    data, rate = sf.read(path, dtype="float32", always_2d=True)
    info = registry.get("audio.detector_robustness")
    params = info.resolve_params({"models": "tiny-lcnn", "start_s": 6.0, "end_s": 9.0})
    result = info.func(AudioClip(samples=data, rate=rate, path=path), params=params, progress=ProgressToken())
    head, *rows = result.findings
    conditions = head.details["conditions"]
    assert set(conditions) == {"original", "MP3 64 kb/s", "AAC 96 kb/s", "Opus 24 kb/s", "8 kHz round trip",
                               "noise 20 dB SNR", "noise 10 dB SNR"}
    assert conditions["original"]["band"] == "supports synthetic"
    # The whistle is at 3 kHz: a telephone-band round trip keeps it, an 8 kHz round trip (4 kHz
    # Nyquist) keeps it too; the verdict on the whistle survives at least the codecs.
    assert conditions["MP3 64 kb/s"]["band"] == "supports synthetic"
    assert (head.start_s, head.end_s) == (6.0, 9.0)
    assert len(rows) == 6 and all(r.start_s is None and r.details["segment_s"] == [6.0, 9.0] for r in rows)
    again = info.func(AudioClip(samples=data, rate=rate, path=path), params=params, progress=ProgressToken())
    assert again.findings[0].details == head.details, "re-scoring is deterministic (seeded noise)"
    with pytest.raises(AnalyzerError, match="not inside the recording"):
        info.func(AudioClip(samples=data, rate=rate, path=path),
                  params=info.resolve_params({"start_s": 11.0, "end_s": 20.0}), progress=ProgressToken())
