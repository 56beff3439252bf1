"""audio.splice on generated recordings with planted edits at known times, and clean counterparts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from forensics_app.analysis import registry
from forensics_app.analysis.audio import splice as module  # registers audio.splice
from forensics_app.analysis.runner import make_spec, queue_job, run_job
from forensics_app.demo import enf_media
from forensics_app.domain.errors import Cancelled
from forensics_app.domain.jobs import ProgressToken
from forensics_app.domain.media import AudioClip
from forensics_app.domain.results import AnalysisResult
from forensics_app.dsp import splice_cues
from forensics_app.ingest.acquire import Outcome, add_evidence
from forensics_app.ingest.decode import decode_audio
from forensics_app.store import repo
from forensics_app.store.case import CaseStore
from forensics_app.store.schema import RunStatus

EXAMINER = "Test Examiner"
AT = 6.37  # planted edit time (s); not a multiple of the 10 ms hop


def analyse(source: Path | AudioClip, progress: ProgressToken | None = None, **params: object) -> AnalysisResult:
    clip = decode_audio(source) if isinstance(source, Path) else source
    return module.splice(clip, params=registry.get("audio.splice").resolve_params(params),
                         progress=progress or ProgressToken())


def candidates(result: AnalysisResult) -> list:
    return [f for f in result.findings if f.fake_likelihood is not None]


def planted(tmp_path: Path, kind: str, **kwargs: object) -> Path:
    return enf_media.splice_wav(tmp_path / f"{kind}.wav", kind=kind, at_s=AT, **kwargs)


def test_registered_with_its_parameters() -> None:
    info = registry.get("audio.splice")
    assert info.label == "Edit and splice detection"
    assert {"noise_step_db", "dc_step", "discontinuity_z", "min_silence_s", "merge_s", "max_candidates"} <= {
        p.name for p in info.params}


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("rate", [8000, 16000])
def test_clean_recording_has_no_candidate(tmp_path: Path, seed: int, rate: int) -> None:
    result = analyse(planted(tmp_path, "clean", seed=seed, rate=rate))
    assert candidates(result) == []
    [overview] = result.findings
    assert overview.label == "Splice analysis"
    assert overview.details["median_noise_floor_dbfs"] == pytest.approx(-60.0, abs=1.5)


@pytest.mark.parametrize("seed", [0, 3])
def test_noise_floor_join(tmp_path: Path, seed: int) -> None:
    # -60 dBFS before, -45 dBFS after; the speech-like material runs on both sides.
    result = analyse(planted(tmp_path, "noise_floor", seed=seed))
    [cand] = candidates(result)
    assert cand.start_s == pytest.approx(AT, abs=0.05)  # measured: within 0.5 ms
    ev = cand.details["evidence"]["noise_floor"]
    assert ev["change_db"] == pytest.approx(15.0, abs=1.5)
    assert ev["floor_before_dbfs"] == pytest.approx(-60.0, abs=1.5)
    assert ev["located"] == "exposed floor"
    floor = next(s for s in result.findings[0].series if s.name == "noise_floor")
    assert floor.unit == "dBFS"
    assert np.median(floor.values[floor.times_s < AT - 1.0]) == pytest.approx(-60.0, abs=1.5)
    assert np.median(floor.values[floor.times_s > AT + 1.0]) == pytest.approx(-45.0, abs=1.5)


def test_noise_floor_join_inside_speech_is_found_less_precisely(tmp_path: Path) -> None:
    # Without a pause at the join the floor is exposed only before and after the syllables
    # around it: found, located to the nearest exposed frame (measured: within 0.3 s).
    [cand] = candidates(analyse(planted(tmp_path, "noise_floor", pause_s=0.0)))
    assert cand.start_s == pytest.approx(AT, abs=0.35)


def test_spectral_envelope_join(tmp_path: Path) -> None:
    # The same noise level on both sides, low-passed before and high-passed after.
    [cand] = candidates(analyse(planted(tmp_path, "spectral")))
    assert cand.start_s == pytest.approx(AT, abs=0.05)
    assert "spectral_envelope" in cand.details["cues"]
    assert cand.details["evidence"]["spectral_envelope"]["shape_change_db"] >= 12.0


def test_inserted_digital_silence(tmp_path: Path) -> None:
    result = analyse(planted(tmp_path, "silence", silence_s=0.2))
    [cand] = candidates(result)
    assert cand.label == "Inserted digital silence"
    assert cand.start_s == pytest.approx(AT, abs=0.001)
    assert cand.end_s == pytest.approx(AT + 0.2, abs=0.001)
    ev = cand.details["evidence"]["silence"]
    assert ev["exact_zeros"] is True and ev["duration_s"] == pytest.approx(0.2, abs=0.001)
    assert cand.fake_likelihood >= 0.8


def test_dc_step(tmp_path: Path) -> None:
    [cand] = candidates(analyse(planted(tmp_path, "dc_step", dc_step=0.03)))
    assert cand.start_s == pytest.approx(AT, abs=0.01)  # measured: within 5 ms
    ev = cand.details["evidence"]["dc_level"]
    assert ev["step"] == pytest.approx(0.03, abs=0.005)
    assert ev["z"] >= ev["z_min"]


def test_waveform_discontinuity(tmp_path: Path) -> None:
    # A 220 Hz sine cut at a quarter cycle and joined half a cycle on: a step of 0.6.
    [cand] = candidates(analyse(planted(tmp_path, "discontinuity")))
    assert cand.start_s == pytest.approx(AT, abs=0.005)
    ev = cand.details["evidence"]["discontinuity"]
    assert abs(ev["residual"]) > 0.1 and ev["z"] > 12.0 and ev["isolation"] >= 3.0


def test_continuous_sine_has_no_discontinuity(tmp_path: Path) -> None:
    rate = 8000
    t = np.arange(12 * rate) / rate
    rng = np.random.default_rng(0)
    sf.write(str(tmp_path / "sine.wav"), (0.3 * np.sin(2 * np.pi * 220.0 * t) + 1e-3 * rng.standard_normal(t.size)
                                          ).astype(np.float32), rate, subtype="PCM_16")
    assert candidates(analyse(tmp_path / "sine.wav")) == []


def test_leading_and_trailing_silence_are_descriptive(tmp_path: Path) -> None:
    rate = 8000
    x = enf_media.speech_like(4 * rate, rate, seed=5) + 1e-3 * np.random.default_rng(5).standard_normal(4 * rate)
    x = np.concatenate([np.zeros(rate // 2), x, np.zeros(rate // 4)])
    sf.write(str(tmp_path / "pad.wav"), x.astype(np.float32), rate, subtype="PCM_16")
    result = analyse(tmp_path / "pad.wav")
    assert candidates(result) == []
    lead = next(f for f in result.findings if f.label == "Leading digital silence")
    trail = next(f for f in result.findings if f.label == "Trailing digital silence")
    assert lead.start_s == 0.0 and lead.end_s == pytest.approx(0.5, abs=0.001)
    assert trail.end_s == pytest.approx(4.75, abs=0.001)


def test_candidates_are_ranked_and_capped(tmp_path: Path) -> None:
    # A sine with several planted steps of decreasing size.
    rate = 8000
    t = np.arange(10 * rate) / rate
    x = 0.3 * np.sin(2 * np.pi * 220.0 * t) + 1e-3 * np.random.default_rng(1).standard_normal(t.size)
    for k, at in enumerate((2.0, 4.0, 6.0, 8.0)):
        x[int(at * rate):] += 0.2 / (k + 1)
    sf.write(str(tmp_path / "steps.wav"), x.astype(np.float32), rate, subtype="PCM_16")
    result = analyse(tmp_path / "steps.wav", dc_step=1.0)  # leave the DC cue out
    strengths = [f.details["strength"] for f in candidates(result)]
    assert len(strengths) == 4 and strengths == sorted(strengths, reverse=True)
    assert sorted(round(f.start_s, 3) for f in candidates(result)) == [2.0, 4.0, 6.0, 8.0]
    capped = analyse(tmp_path / "steps.wav", dc_step=1.0, max_candidates=2)
    assert len(candidates(capped)) == 2 and capped.summary["candidates"] == 4
    assert [f.start_s for f in candidates(capped)] == [f.start_s for f in candidates(result)[:2]]


def test_lanes(tmp_path: Path) -> None:
    result = analyse(planted(tmp_path, "noise_floor"))
    overview = result.findings[0]
    names = [s.name for s in overview.series]
    assert names == ["splice_novelty", "noise_floor"]
    novelty = overview.series[0]
    peak_time = novelty.times_s[int(np.argmax(novelty.values))]
    assert float(novelty.values.max()) >= 1.0
    assert abs(peak_time - AT) < 1.6  # within one noise window of the join
    assert np.all(np.diff(novelty.times_s) > 0)


def test_memory_map_and_block_size_give_the_same_result(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    clip = decode_audio(planted(tmp_path, "silence"))
    reference = analyse(clip)
    mm = np.memmap(tmp_path / "x.f32", dtype=np.float32, mode="w+", shape=clip.samples.shape)
    mm[:] = clip.samples
    mm.flush()
    mapped = AudioClip(samples=np.memmap(tmp_path / "x.f32", dtype=np.float32, mode="r", shape=clip.samples.shape),
                       rate=clip.rate, path=clip.path)
    monkeypatch.setattr(splice_cues, "_BLOCK", 9000)
    small = analyse(mapped)
    assert [(f.label, f.start_s, f.end_s) for f in candidates(small)] == [
        (f.label, f.start_s, f.end_s) for f in candidates(reference)]
    np.testing.assert_allclose(small.findings[0].series[1].values, reference.findings[0].series[1].values, atol=1e-6)


def test_cancel_and_progress(tmp_path: Path) -> None:
    path = planted(tmp_path, "clean", duration_s=40.0)
    token = ProgressToken()
    token.cancel()
    with pytest.raises(Cancelled):
        analyse(path, progress=token)
    seen: list[float] = []
    analyse(path, progress=ProgressToken(lambda f, _m: seen.append(f)), )
    assert len(seen) >= 3 and seen == sorted(seen) and seen[-1] == 1.0


def test_likelihood_mapping_is_conservative() -> None:
    assert module.splice_likelihood(1.0) == pytest.approx(0.2835, abs=1e-3)
    assert module.splice_likelihood(3.0) == pytest.approx(0.632, abs=1e-3)
    assert module.splice_likelihood(100.0) == 0.9


def test_end_to_end_through_the_store(case: CaseStore, tmp_path: Path) -> None:
    src = planted(tmp_path, "silence")
    added = add_evidence(case, src, examiner=EXAMINER)
    assert added.outcome is Outcome.ADDED, added.reason
    run_id = queue_job(case, evidence_id=added.evidence_id, spec=make_spec("audio.splice"), examiner=EXAMINER)
    outcome = run_job(case, run_id)
    assert outcome.status is RunStatus.DONE, outcome.error
    with case.session() as s:
        rows = repo.list_findings(s, evidence_id=added.evidence_id)
        found = [(r.label, r.start_s, r.end_s) for r in rows]
        refs = [ref for r in rows for ref in r.artifacts.get("series", [])]
        summary = repo.get_run(s, run_id).summary
    assert found[0][0] == "Splice analysis"
    assert found[1][0] == "Inserted digital silence"
    assert found[1][1] == pytest.approx(AT, abs=0.001) and found[1][2] == pytest.approx(AT + 0.2, abs=0.001)
    assert summary["cue_counts"]["silence"] == 1
    assert [r["name"] for r in refs] == ["splice_novelty", "noise_floor"]
    floor = case.artifacts.get_series(refs[1])
    assert floor.unit == "dBFS" and floor.values.size > 500
