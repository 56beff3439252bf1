"""audio.signal_stats on generated audio with known levels, clipping, DC offset and bandwidth."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from forensics_app.analysis import registry
from forensics_app.analysis.audio import signal_stats as module
from forensics_app.analysis.audio.signal_stats import positive_full_scale, signal_stats
from forensics_app.analysis.runner import make_spec, queue_job, run_job
from forensics_app.demo import media as demo
from forensics_app.domain.errors import Cancelled
from forensics_app.domain.jobs import ProgressToken
from forensics_app.domain.results import AnalysisResult
from forensics_app.ingest.acquire import Outcome, add_evidence
from forensics_app.ingest.decode import decode_audio
from forensics_app.store import repo
from forensics_app.store.case import CaseStore
from forensics_app.store.schema import RunStatus

EXAMINER = "Test Examiner"


def analyse(path: Path, **params: object) -> AnalysisResult:
    info = registry.get("audio.signal_stats")
    return signal_stats(decode_audio(path), params=info.resolve_params(params), progress=ProgressToken())


def by_label(result: AnalysisResult, label: str) -> list:
    return [f for f in result.findings if f.label == label]


def test_registered_with_its_parameters() -> None:
    info = registry.get("audio.signal_stats")
    assert info.version == "1.0.0"
    assert {"frame_s", "hop_s", "clip_threshold", "min_clip_run", "bandwidth_floor_db"} <= {p.name for p in info.params}


def test_sine_levels(tmp_path: Path) -> None:
    result = analyse(demo.tone_wav(tmp_path / "tone.wav", amplitude=0.5, frequency_hz=440.0))
    stats = result.findings[0]
    assert stats.label == "Signal statistics"
    overall = stats.details["overall"]
    assert overall["peak_dbfs"] == pytest.approx(20 * math.log10(0.5), abs=0.05)
    assert overall["rms_dbfs"] == pytest.approx(20 * math.log10(0.5 / math.sqrt(2)), abs=0.05)
    assert overall["crest_factor_db"] == pytest.approx(3.01, abs=0.05)
    assert stats.details["duration_s"] == pytest.approx(2.0)
    assert overall["clipping_ratio"] == 0.0
    assert by_label(result, "Clipping") == []
    assert by_label(result, "DC offset") == []
    # The lanes: RMS per frame stays at the tone's level, bandwidth just above 440 Hz.
    rms, bandwidth = stats.series
    assert (rms.name, rms.unit, bandwidth.name, bandwidth.unit) == ("rms", "dBFS", "bandwidth", "Hz")
    assert np.all(np.abs(rms.values - (-9.03)) < 0.3)
    assert np.all(np.diff(rms.times_s) > 0)
    assert 440.0 <= np.median(bandwidth.values) < 700.0


def test_clipping_found_at_the_planted_times(tmp_path: Path) -> None:
    times = (0.5, 1.3)
    result = analyse(demo.clipped_wav(tmp_path / "clip.wav", clip_times_s=times, clip_duration_s=0.1))
    clips = by_label(result, "Clipping")
    assert len(clips) == 2
    for finding, start in zip(clips, times, strict=True):
        assert finding.start_s == pytest.approx(start, abs=0.005)
        assert finding.end_s == pytest.approx(start + 0.1, abs=0.005)
        assert finding.fake_likelihood is None
        assert finding.details["channels"] == [0]
        assert finding.details["longest_run_samples"] >= 3
    # 440 Hz over-driven 3x: about half of each burst's samples sit at full scale.
    ratio = result.summary["clipping_ratio"]
    assert 0.03 < ratio < 0.07
    assert result.findings[0].details["overall"]["peak_dbfs"] == pytest.approx(0.0, abs=0.01)


def test_no_clipping_on_a_loud_clean_signal(tmp_path: Path) -> None:
    # A peak of 0.99 is loud but below the clipping level: nothing is reported.
    result = analyse(demo.tone_wav(tmp_path / "loud.wav", amplitude=0.99))
    assert by_label(result, "Clipping") == []
    assert result.summary["clipping_ratio"] == 0.0


def test_min_clip_run_and_threshold_parameters(tmp_path: Path) -> None:
    path = demo.clipped_wav(tmp_path / "clip.wav")
    assert by_label(analyse(path, min_clip_run=50), "Clipping") == []
    # Lowering the level to 0.9 of full scale makes the clean 0.95 tone "clip" too.
    tone = demo.tone_wav(tmp_path / "t.wav", amplitude=0.95)
    assert by_label(analyse(tone, clip_threshold=0.9), "Clipping")


def test_dc_offset_measured(tmp_path: Path) -> None:
    result = analyse(demo.tone_wav(tmp_path / "dc.wav", amplitude=0.3, dc_offset=0.05, channels=2))
    [dc] = by_label(result, "DC offset")
    assert dc.details["per_channel"] == pytest.approx([0.05, 0.05], abs=1e-3)
    per_channel = result.findings[0].details["per_channel"]
    assert [c["channel"] for c in per_channel] == [0, 1]
    assert per_channel[1]["dc_offset"] == pytest.approx(0.05, abs=1e-3)


def test_band_limited_content_found_at_the_content_nyquist(tmp_path: Path) -> None:
    result = analyse(demo.band_limited_wav(tmp_path / "bl.wav", content_rate=8000, file_rate=44100))
    [finding] = by_label(result, "Band-limited content")
    assert finding.details["bandwidth_hz"] == pytest.approx(4000.0, rel=0.05)
    assert finding.details["nyquist_hz"] == 22050.0
    assert finding.details["consistent_with_rate_hz"] == 8000
    bandwidth = result.findings[0].series[1].values
    assert np.median(bandwidth) == pytest.approx(4000.0, rel=0.05)


def test_white_noise_fills_the_band(tmp_path: Path) -> None:
    result = analyse(demo.noise_wav(tmp_path / "noise.wav", rate=44100, level_dbfs=-20.0))
    assert by_label(result, "Band-limited content") == []
    assert result.summary["bandwidth_hz"] == pytest.approx(22050.0, rel=0.02)
    assert result.summary["rms_dbfs"] == pytest.approx(-20.0, abs=0.2)


def test_silent_frames_are_left_out_of_the_bandwidth(tmp_path: Path) -> None:
    rate = 16000
    x = np.zeros(rate * 2, dtype=np.float32)
    x[rate:] = 0.3 * np.sin(2 * np.pi * 1000 * np.arange(rate) / rate)
    path = tmp_path / "half.wav"
    sf.write(str(path), x, rate, subtype="PCM_16")
    stats = analyse(path).findings[0]
    bandwidth = stats.series[1]
    assert bandwidth.times_s.min() > 0.95
    assert stats.details["bandwidth"]["frames_silent"] > 40
    assert stats.series[0].values.min() <= -120.0  # digital silence in the RMS lane


def test_spliced_recording_noise_floor_step_is_visible_in_the_rms_lane(tmp_path: Path) -> None:
    result = analyse(demo.spliced_recording_wav(tmp_path / "splice.wav", duration_s=4.0, splice_s=2.0))
    rms = result.findings[0].series[0]
    before = rms.values[(rms.times_s > 0.2) & (rms.times_s < 1.8)]
    after = rms.values[(rms.times_s > 2.2) & (rms.times_s < 3.8)]
    # The tone drops by 1.6 dB at the splice.
    assert np.median(before) - np.median(after) == pytest.approx(1.6, abs=0.4)


def test_results_do_not_depend_on_block_and_chunk_sizes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Clipping runs that straddle a block edge are joined; frame batches give the same lanes.
    path = demo.clipped_wav(tmp_path / "clip.wav", clip_times_s=(0.5, 1.3), clip_duration_s=0.1)
    reference = analyse(path)
    monkeypatch.setattr(module, "_BLOCK", 1001)
    monkeypatch.setattr(module, "_FRAMES_PER_CHUNK", 7)
    small = analyse(path)
    assert [(f.label, f.start_s, f.end_s) for f in small.findings] == [
        (f.label, f.start_s, f.end_s) for f in reference.findings]
    assert small.summary["clipping_ratio"] == reference.summary["clipping_ratio"]
    for a, b in zip(small.findings[0].series, reference.findings[0].series, strict=True):
        np.testing.assert_allclose(a.values, b.values, rtol=1e-6, atol=1e-6)


def test_positive_full_scale_of_formats() -> None:
    assert positive_full_scale("PCM_16") == 1 - 2**-15
    assert positive_full_scale("PCM_U8") == 1 - 2**-7
    assert positive_full_scale("s16p") == 1 - 2**-15
    assert positive_full_scale("FLOAT") == 1.0
    assert positive_full_scale("fltp") == 1.0


def test_cancelled_token_stops_the_analysis(tmp_path: Path) -> None:
    clip = decode_audio(demo.tone_wav(tmp_path / "t.wav"))
    token = ProgressToken()
    token.cancel()
    with pytest.raises(Cancelled):
        signal_stats(clip, params=registry.get("audio.signal_stats").resolve_params(), progress=token)


def test_progress_is_reported(tmp_path: Path) -> None:
    seen: list[float] = []
    clip = decode_audio(demo.noise_wav(tmp_path / "n.wav", duration_s=8.0))
    signal_stats(clip, params=registry.get("audio.signal_stats").resolve_params(),
                 progress=ProgressToken(lambda f, _m: seen.append(f)))
    assert len(seen) >= 3
    assert seen == sorted(seen)
    assert seen[-1] == 1.0


def test_end_to_end_through_the_store(case: CaseStore, tmp_path: Path) -> None:
    src = demo.clipped_wav(tmp_path / "clip.wav")
    added = add_evidence(case, src, examiner=EXAMINER)
    assert added.outcome is Outcome.ADDED, added.reason
    run_id = queue_job(case, evidence_id=added.evidence_id, spec=make_spec("audio.signal_stats"), examiner=EXAMINER)
    outcome = run_job(case, run_id)
    assert outcome.status is RunStatus.DONE, outcome.error
    with case.session() as s:
        rows = repo.list_findings(s, evidence_id=added.evidence_id)
        labels = [r.label for r in rows]
        refs = [ref for r in rows for ref in r.artifacts.get("series", [])]
        run = repo.get_run(s, run_id)
        assert run.summary["clipping_events"] == 2
    assert labels == ["Signal statistics", "Clipping", "Clipping"]
    assert [r["name"] for r in refs] == ["rms", "bandwidth"]
    rms = case.artifacts.get_series(refs[0])
    assert rms.unit == "dBFS" and rms.values.size > 50
