"""audio.bandwidth on generated audio: upsampled material, joined recordings and their clean
counterparts (planted rates, cutoffs and join times)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from forensics_app.analysis import registry
from forensics_app.analysis.audio import bandwidth as module
from forensics_app.analysis.audio.bandwidth import bandwidth
from forensics_app.analysis.audio.spectral_frames import rate_for_cutoff
from forensics_app.analysis.runner import make_spec, queue_job, run_job
from forensics_app.demo import codec_media as demo
from forensics_app.domain.errors import Cancelled
from forensics_app.domain.jobs import ProgressToken
from forensics_app.domain.media import AudioClip
from forensics_app.domain.results import AnalysisResult
from forensics_app.ingest.acquire import Outcome, add_evidence
from forensics_app.ingest.decode import decode_audio
from forensics_app.store import repo
from forensics_app.store.case import CaseStore
from forensics_app.store.schema import RunStatus

EXAMINER = "Test Examiner"
JOIN_S = 3.0


def run(clip: AudioClip, **params: object) -> AnalysisResult:
    return bandwidth(clip, params=registry.get("audio.bandwidth").resolve_params(params), progress=ProgressToken())


def analyse(path: Path, **params: object) -> AnalysisResult:
    return run(decode_audio(path), **params)


def by_label(result: AnalysisResult, label: str) -> list:
    return [f for f in result.findings if f.label == label]


def test_registered() -> None:
    info = registry.get("audio.bandwidth")
    assert info.label == "Bandwidth and resampling"
    assert {"floor_db", "min_segment_s", "min_change_octaves"} <= {p.name for p in info.params}


@pytest.mark.parametrize(("content_rate", "file_rate"), [(8000, 44100), (16000, 44100), (22050, 48000)])
def test_upsampled_material_is_traced_to_its_original_rate(tmp_path: Path, content_rate: int, file_rate: int) -> None:
    result = analyse(demo.upsampled_wav(tmp_path / "up.wav", content_rate=content_rate, file_rate=file_rate,
                                        duration_s=3.0))
    [up] = by_label(result, "Upsampled content")
    assert up.details["likely_original_rate_hz"] == content_rate
    # The cutoff is the half-amplitude point of the resampler's anti-alias filter.
    assert up.details["cutoff_hz"] == pytest.approx(content_rate / 2, rel=0.05)
    assert up.details["edge_drop_db"] >= 40.0
    assert 0.5 < up.fake_likelihood <= 0.7
    assert result.summary["likely_original_rate_hz"] == content_rate
    assert by_label(result, "Bandwidth change") == []
    lane = result.findings[0].series[0]
    assert (lane.name, lane.unit) == ("bandwidth", "Hz")
    assert np.median(lane.values) < 0.6 * content_rate  # content edge, below the 60 dB floor


def test_full_band_clean_file_is_not_flagged(tmp_path: Path) -> None:
    result = analyse(demo.program_wav(tmp_path / "clean.wav", duration_s=4.0))
    assert [f.label for f in result.findings] == ["Effective bandwidth"]
    assert result.findings[0].fake_likelihood is None
    assert result.summary["cutoff_hz"] >= 0.95 * 22050
    assert result.summary["likely_original_rate_hz"] is None
    assert np.percentile(result.findings[0].series[0].values, 5) >= 0.9 * 22050


def test_joined_recording_change_found_at_the_planted_time(tmp_path: Path) -> None:
    result = analyse(demo.joined_wav(tmp_path / "joined.wav", duration_s=7.0, join_s=JOIN_S))
    [change] = by_label(result, "Bandwidth change")
    assert change.start_s == pytest.approx(JOIN_S, abs=0.25)
    assert change.details["before_hz"] >= 0.9 * 22050
    assert 3500.0 <= change.details["after_hz"] <= 5000.0
    assert change.details["change_octaves"] < -2.0
    assert change.details["consistency"] >= 0.95
    assert 0.8 <= change.fake_likelihood <= 0.85
    # The band-limited stretch after the join is traced to 8 kHz material on its own.
    [up] = by_label(result, "Upsampled content")
    assert up.details["likely_original_rate_hz"] == 8000
    assert up.start_s == pytest.approx(JOIN_S, abs=0.25)
    # The lane shows the step.
    lane = result.findings[0].series[0]
    assert np.median(lane.values[lane.times_s < JOIN_S - 0.2]) >= 0.9 * 22050
    assert np.median(lane.values[lane.times_s > JOIN_S + 0.2]) <= 5000.0


def test_unjoined_recording_has_no_change(tmp_path: Path) -> None:
    result = analyse(demo.joined_wav(tmp_path / "unjoined.wav", duration_s=7.0, join_s=JOIN_S, limited_rate=44100))
    assert by_label(result, "Bandwidth change") == []
    assert result.summary["cutoff_changes"] == 0


def test_min_segment_parameter_hides_short_stretches(tmp_path: Path) -> None:
    # 1.5 s of full band before the join: a 2 s minimum segment cannot delimit it.
    path = demo.joined_wav(tmp_path / "short.wav", duration_s=5.0, join_s=1.5)
    assert len(by_label(analyse(path), "Bandwidth change")) == 1
    assert by_label(analyse(path, min_segment_s=2.0), "Bandwidth change") == []


def test_memory_mapped_samples_and_batch_size_give_the_same_result(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    clip = decode_audio(demo.joined_wav(tmp_path / "joined.wav", duration_s=5.0, join_s=2.0))
    reference = run(clip)
    mapped = np.lib.format.open_memmap(tmp_path / "samples.npy", mode="w+", dtype=np.float32, shape=clip.samples.shape)
    mapped[:] = clip.samples
    mapped.flush()
    readonly = np.load(tmp_path / "samples.npy", mmap_mode="r")
    monkeypatch.setattr(module, "_BATCH", 37)
    other = run(AudioClip(samples=readonly, rate=clip.rate, path=clip.path, sample_format=clip.sample_format))
    assert [(f.label, f.start_s) for f in other.findings] == [(f.label, f.start_s) for f in reference.findings]
    np.testing.assert_allclose(other.findings[0].series[0].values, reference.findings[0].series[0].values)


def test_rate_for_cutoff() -> None:
    assert rate_for_cutoff(4050.0, 44100) == 8000
    assert rate_for_cutoff(3400.0, 44100) == 8000  # telephone band
    assert rate_for_cutoff(5600.0, 44100) == 11025
    assert rate_for_cutoff(6100.0, 44100) == 12000
    assert rate_for_cutoff(17000.0, 44100) is None
    assert rate_for_cutoff(4000.0, 8000) is None  # not below the file's own rate


def test_cancel_and_progress(tmp_path: Path) -> None:
    clip = decode_audio(demo.program_wav(tmp_path / "p.wav", duration_s=8.0, channels=1))
    seen: list[float] = []
    bandwidth(clip, params=registry.get("audio.bandwidth").resolve_params(),
              progress=ProgressToken(lambda f, _m: seen.append(f)))
    assert len(seen) >= 3 and seen == sorted(seen) and seen[-1] == 1.0
    token = ProgressToken()
    token.cancel()
    with pytest.raises(Cancelled):
        bandwidth(clip, params=registry.get("audio.bandwidth").resolve_params(), progress=token)


def test_end_to_end_through_the_store(case: CaseStore, tmp_path: Path) -> None:
    added = add_evidence(case, demo.joined_wav(tmp_path / "joined.wav", duration_s=6.0, join_s=JOIN_S),
                         examiner=EXAMINER)
    assert added.outcome is Outcome.ADDED, added.reason
    run_id = queue_job(case, evidence_id=added.evidence_id, spec=make_spec("audio.bandwidth"), examiner=EXAMINER)
    outcome = run_job(case, run_id)
    assert outcome.status is RunStatus.DONE, outcome.error
    with case.session() as s:
        rows = repo.list_findings(s, evidence_id=added.evidence_id)
        labels = [r.label for r in rows]
        refs = [ref for r in rows for ref in r.artifacts.get("series", [])]
        change = next(r for r in rows if r.label == "Bandwidth change")
        assert change.start_s == pytest.approx(JOIN_S, abs=0.25)
        assert change.fake_likelihood is not None and change.fake_likelihood > 0.5
        assert repo.get_run(s, run_id).summary["cutoff_changes"] == 1
    assert labels[0] == "Effective bandwidth" and "Bandwidth change" in labels
    assert [r["name"] for r in refs] == ["bandwidth"]
    lane = case.artifacts.get_series(refs[0])
    assert lane.unit == "Hz" and lane.values.size > 100
