"""audio.enf on generated recordings with planted mains hum, cuts and a reference log."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from forensics_app.analysis import registry
from forensics_app.analysis.audio import enf as module  # registers audio.enf
from forensics_app.analysis.runner import make_spec, queue_job, run_job
from forensics_app.demo import enf_media
from forensics_app.domain.errors import AnalyzerError, Cancelled
from forensics_app.domain.jobs import ProgressToken
from forensics_app.domain.media import AudioClip
from forensics_app.domain.results import AnalysisResult
from forensics_app.dsp import enf as enf_dsp
from forensics_app.dsp import enf_mains
from forensics_app.ingest.acquire import Outcome, add_evidence
from forensics_app.ingest.decode import decode_audio
from forensics_app.store import repo
from forensics_app.store.case import CaseStore
from forensics_app.store.schema import RunStatus

EXAMINER = "Test Examiner"


def analyse(source: Path | AudioClip, progress: ProgressToken | None = None, **params: object) -> AnalysisResult:
    clip = decode_audio(source) if isinstance(source, Path) else source
    return module.enf(clip, params=registry.get("audio.enf").resolve_params(params), progress=progress or ProgressToken())


def by_label(result: AnalysisResult, label: str) -> list:
    return [f for f in result.findings if f.label == label]


def lane(result: AnalysisResult, name: str):
    [track] = by_label(result, "ENF track")
    return next(s for s in track.series if s.name == name)


@pytest.fixture(scope="module")
def hum50(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return enf_media.hum_wav(tmp_path_factory.mktemp("enf") / "hum50.wav", duration_s=40.0, seed=1)


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, np.ndarray]:
    path = tmp_path_factory.mktemp("ref") / "grid.csv"
    return path, enf_media.enf_reference_csv(path, duration_s=600.0, seed=11)


def test_registered_with_its_parameters() -> None:
    info = registry.get("audio.enf")
    assert info.label == "Electrical network frequency"
    assert {"nominal_hz", "frame_s", "hop_s", "reference_csv", "phase_jump_deg", "event_z"} <= {
        p.name for p in info.params}
    assert info.resolve_params()["reference_csv"] == ""


def test_50_hz_track_lanes(hum50: Path) -> None:
    result = analyse(hum50)
    [track] = result.findings
    assert track.label == "ENF track" and track.fake_likelihood is None
    assert track.details["nominal_hz"] == 50.0 and track.details["harmonics_used"] == [1, 2, 3, 4]
    freq = lane(result, "enf_frequency")
    assert freq.unit == "Hz"
    inner = (freq.times_s > 3.0) & (freq.times_s < 37.0)
    rms = float(np.sqrt(np.mean((freq.values[inner] - enf_media.sine_enf(freq.times_s[inner])) ** 2)))
    assert rms < 0.005  # measured: 0.0003 Hz
    snr = lane(result, "enf_snr")
    assert snr.unit == "dB" and np.median(snr.values) > 30.0
    phase = lane(result, "enf_phase_residual")
    assert phase.unit == "rad" and phase.values.size > 100
    assert np.ptp(phase.values) < 0.5  # flat: no edit
    assert result.summary["mains_hz"] == 50.0 and result.summary["tracked_fraction"] == 1.0


def test_60_hz_is_detected_automatically(tmp_path: Path) -> None:
    path = enf_media.hum_wav(tmp_path / "hum60.wav", duration_s=40.0, nominal_hz=60.0, seed=2)
    result = analyse(path)
    assert result.summary["mains_hz"] == 60.0
    freq = lane(result, "enf_frequency")
    inner = (freq.times_s > 3.0) & (freq.times_s < 37.0)
    truth = enf_media.sine_enf(freq.times_s[inner], nominal_hz=60.0)
    assert float(np.sqrt(np.mean((freq.values[inner] - truth) ** 2))) < 0.005
    # Forcing 50 Hz on a 60 Hz recording finds no 50 Hz component.
    forced = analyse(path, nominal_hz="50")
    [none] = forced.findings
    assert none.label == "No mains component"
    assert none.details["prominence_db"]["60"][0] > 30.0


def test_cut_is_flagged_and_the_uncut_recording_is_not(tmp_path: Path, hum50: Path) -> None:
    cut = (21.0, 2.0137)  # about 2 s removed from the middle
    result = analyse(enf_media.hum_wav(tmp_path / "cut.wav", duration_s=40.0, seed=1, remove=cut))
    [jump] = by_label(result, "ENF phase jump")
    assert jump.start_s == pytest.approx(cut[0], abs=0.5)  # measured: within 0.03 s
    assert 0.4 <= jump.fake_likelihood <= 0.8
    details = jump.details
    assert abs(details["jump_deg"]) > 45.0 and details["z"] >= details["z_min"]
    assert details["harmonic"] == 1 and details["equivalent_shift_ms"] == pytest.approx(
        details["jump_rad"] / (2 * math.pi * 50.0) * 1000.0)
    assert result.summary["phase_jumps"] == 1
    clean = analyse(hum50)
    assert [f for f in clean.findings if f.fake_likelihood is not None] == []


def test_no_hum_gives_no_mains_component(tmp_path: Path) -> None:
    result = analyse(enf_media.hum_wav(tmp_path / "none.wav", duration_s=30.0, harmonics=(0.0,)))
    [finding] = result.findings
    assert finding.label == "No mains component"
    assert finding.fake_likelihood is None and finding.series == ()
    assert finding.details["nominal_hz"] is None
    best = max(v for f0 in ("50", "60") for v in finding.details["prominence_db"][f0] if v is not None)
    assert best < finding.details["min_prominence_db"]
    assert finding.details["best_line_snr_db"] == pytest.approx(best)
    assert result.summary["tracked_fraction"] == 0.0


def test_reference_dates_the_recording(tmp_path: Path, reference: tuple[Path, np.ndarray]) -> None:
    ref_path, hz = reference
    offset = 312.6
    rec = enf_media.hum_from_reference_wav(tmp_path / "rec.wav", reference_hz=hz, pieces=((offset, 60.0),), seed=11)
    result = analyse(rec, reference_csv=str(ref_path))
    [match] = by_label(result, "ENF reference match")
    assert match.fake_likelihood is None
    d = match.details
    assert d["best_offset_s"] == pytest.approx(offset, abs=1.0)
    assert d["p_value"] < 1e-6 and d["significance_z"] > 6.0
    assert d["reference"]["sha256"] == __import__("hashlib").sha256(ref_path.read_bytes()).hexdigest()
    start = d["timestamp_of_start"]
    assert start.isoformat().startswith("2024-03-05T14:05:12")  # 14:00:00 + 312.6 s
    assert all(p["matched"] and abs(p["implied_start_offset_s"] - offset) < 1.0 for p in d["pieces"])
    assert by_label(result, "ENF reference: parts match at different times") == []
    assert result.summary["reference_sha256"] == d["reference"]["sha256"]


def test_reference_exposes_assembled_parts(tmp_path: Path, reference: tuple[Path, np.ndarray]) -> None:
    ref_path, hz = reference
    rec = enf_media.hum_from_reference_wav(tmp_path / "edit.wav", reference_hz=hz,
                                           pieces=((100.0, 45.0), (400.0, 45.0)), seed=11)
    result = analyse(rec, reference_csv=str(ref_path))
    [edit] = by_label(result, "ENF reference: parts match at different times")
    assert edit.start_s == pytest.approx(45.0, abs=1.0)
    assert edit.fake_likelihood >= 0.5
    assert edit.details["before"]["implied_start_offset_s"] == pytest.approx(100.0, abs=1.0)
    assert edit.details["after"]["implied_start_offset_s"] == pytest.approx(400.0 - 45.0, abs=1.0)
    assert edit.details["offset_difference_s"] == pytest.approx(255.0, abs=2.0)


def test_bad_reference_is_refused_with_the_row(tmp_path: Path, hum50: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("timestamp,hz\n" + "".join(f"{i},50.0\n" for i in range(20)) + "20,fifty\n", encoding="utf-8")
    with pytest.raises(AnalyzerError, match="row 22"):
        analyse(hum50, reference_csv=str(bad))
    with pytest.raises(AnalyzerError, match="cannot read"):
        analyse(hum50, reference_csv=str(tmp_path / "missing.csv"))


def test_too_short_is_said_not_failed(tmp_path: Path) -> None:
    result = analyse(enf_media.hum_wav(tmp_path / "short.wav", duration_s=5.0))
    [finding] = result.findings
    assert finding.label == "Too short for ENF analysis" and finding.fake_likelihood is None
    assert finding.details["duration_s"] == pytest.approx(5.0) and finding.details["required_s"] == 8.0


def test_memory_map_and_block_size_give_the_same_result(tmp_path: Path, hum50: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    clip = decode_audio(hum50)
    reference_result = analyse(clip)
    mm = np.memmap(tmp_path / "x.f32", dtype=np.float32, mode="w+", shape=clip.samples.shape)
    mm[:] = clip.samples
    mm.flush()
    mapped = AudioClip(samples=np.memmap(tmp_path / "x.f32", dtype=np.float32, mode="r", shape=clip.samples.shape),
                       rate=clip.rate, path=clip.path)
    monkeypatch.setattr(enf_dsp, "_BLOCK", 4099)
    monkeypatch.setattr(enf_mains, "_BLOCK", 10007)
    small = analyse(mapped)
    a, b = lane(reference_result, "enf_frequency"), lane(small, "enf_frequency")
    np.testing.assert_allclose(a.values, b.values, atol=1e-7)
    np.testing.assert_allclose(lane(reference_result, "enf_phase_residual").values,
                               lane(small, "enf_phase_residual").values, atol=1e-5)


def test_cancel_and_progress(hum50: Path) -> None:
    token = ProgressToken()
    token.cancel()
    with pytest.raises(Cancelled):
        analyse(hum50, progress=token)
    seen: list[float] = []
    analyse(hum50, progress=ProgressToken(lambda f, _m: seen.append(f)))
    assert len(seen) >= 5 and seen == sorted(seen) and seen[-1] == 1.0


def test_end_to_end_through_the_store(case: CaseStore, tmp_path: Path) -> None:
    src = enf_media.hum_wav(tmp_path / "cut.wav", duration_s=40.0, seed=4, remove=(18.0, 2.0137))
    added = add_evidence(case, src, examiner=EXAMINER)
    assert added.outcome is Outcome.ADDED, added.reason
    run_id = queue_job(case, evidence_id=added.evidence_id, spec=make_spec("audio.enf"), examiner=EXAMINER)
    outcome = run_job(case, run_id)
    assert outcome.status is RunStatus.DONE, outcome.error
    with case.session() as s:
        rows = repo.list_findings(s, evidence_id=added.evidence_id)
        labels = [r.label for r in rows]
        refs = [ref for r in rows for ref in r.artifacts.get("series", [])]
        events = [(r.label, r.start_s, r.fake_likelihood) for r in rows[1:]]
        summary = repo.get_run(s, run_id).summary
    assert labels[0] == "ENF track" and "ENF phase jump" in labels
    # The cut also steps the planted curve by 0.012 Hz, which may be reported as a discontinuity.
    assert set(labels[1:]) <= {"ENF phase jump", "ENF frequency discontinuity"}
    assert all(t == pytest.approx(18.0, abs=1.5) and 0.4 <= fl <= 0.8 for _, t, fl in events)
    assert next(t for label, t, _ in events if label == "ENF phase jump") == pytest.approx(18.0, abs=0.5)
    assert summary["mains_hz"] == 50.0
    assert [r["name"] for r in refs] == ["enf_frequency", "enf_snr", "enf_phase_residual"]
    freq = case.artifacts.get_series(refs[0])
    assert freq.unit == "Hz" and freq.values.size > 30
    away = np.abs(freq.times_s - 18.0) > 2.5  # frames straddling the cut blend both sides
    assert np.all(np.abs(freq.values[away] - 50.0) < 0.025)
