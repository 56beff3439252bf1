"""audio.levels on generated audio: planted clipping bursts (full scale and flat top), DC offset,
level and dynamic range, and their clean counterparts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from forensics_app.analysis import registry
from forensics_app.analysis.audio import levels as module
from forensics_app.analysis.audio.levels import levels
from forensics_app.analysis.runner import make_spec, queue_job, run_job
from forensics_app.demo import codec_media as demo
from forensics_app.demo import media as basic
from forensics_app.domain.errors import Cancelled
from forensics_app.domain.jobs import ProgressToken
from forensics_app.domain.results import AnalysisResult
from forensics_app.ingest.acquire import Outcome, add_evidence
from forensics_app.ingest.decode import decode_audio
from forensics_app.store import repo
from forensics_app.store.case import CaseStore
from forensics_app.store.schema import RunStatus

EXAMINER = "Test Examiner"
BURSTS = ((0.5, 0.1), (1.3, 0.05), (2.2, 0.2))


def analyse(path: Path, **params: object) -> AnalysisResult:
    return levels(decode_audio(path), params=registry.get("audio.levels").resolve_params(params),
                  progress=ProgressToken())


def by_label(result: AnalysisResult, label: str) -> list:
    return [f for f in result.findings if f.label == label]


def lane(result: AnalysisResult, name: str):
    return next(s for s in result.findings[0].series if s.name == name)


def test_registered() -> None:
    info = registry.get("audio.levels")
    assert info.label == "Level, clipping and dynamic range"
    assert {"clip_threshold", "flat_min_run", "dc_threshold", "dr_window_s"} <= {p.name for p in info.params}


@pytest.mark.parametrize(("rescale", "kind"), [(1.0, "full scale"), (0.8, "flat top")])
def test_clipping_runs_found_at_the_planted_times(tmp_path: Path, rescale: float, kind: str) -> None:
    result = analyse(demo.clipped_bursts_wav(tmp_path / "clip.wav", bursts=BURSTS, rescale=rescale))
    clips = by_label(result, "Clipping")
    assert len(clips) == len(BURSTS)
    for finding, (start, length) in zip(clips, BURSTS, strict=True):
        assert finding.start_s == pytest.approx(start, abs=0.001)
        assert finding.end_s == pytest.approx(start + length, abs=0.001)
        assert finding.details["kind"] == kind
        assert finding.details["runs"] == pytest.approx(2 * 1000 * length, abs=2)  # one per half cycle of 1 kHz
        assert finding.fake_likelihood is None
    assert result.summary["flat_top_clipping"] is (kind == "flat top")
    if kind == "flat top":
        # The clipped samples sit on one code at 0.8 of full scale: a spike in the histogram.
        candidates = result.findings[0].details["flat_top_candidates"]
        assert {round(abs(c["value"]), 3) for c in candidates} == {0.8}
        assert all(c["clipping"] and c["spike_ratio"] > 50 for c in candidates)
        assert result.summary["peak_dbfs"] == pytest.approx(20 * np.log10(0.8), abs=0.01)


@pytest.mark.parametrize("frequency_hz", [1000.0, 20.0])
def test_clean_sine_at_0_9_peak_does_not_clip(tmp_path: Path, frequency_hz: float) -> None:
    path = basic.tone_wav(tmp_path / "sine.wav", rate=44100, amplitude=0.9, frequency_hz=frequency_hz)
    result = analyse(path)
    assert by_label(result, "Clipping") == []
    assert result.summary["flat_top_clipping"] is False
    # The sine's top code is examined (and at 20 Hz even repeats) but is no histogram spike.
    assert all(c["spike_ratio"] < 0.2 for c in result.findings[0].details["flat_top_candidates"])
    assert result.summary["peak_dbfs"] == pytest.approx(20 * np.log10(0.9), abs=0.01)
    assert np.all(np.abs(lane(result, "level").values - 20 * np.log10(0.9 / np.sqrt(2))) < 0.1)


def test_dc_offset_measured(tmp_path: Path) -> None:
    result = analyse(demo.dc_offset_wav(tmp_path / "dc.wav", dc_offset=0.05))
    [dc] = by_label(result, "DC offset")
    assert dc.details["per_channel"] == pytest.approx([0.05, 0.05], abs=0.005)
    assert dc.details["threshold"] == 0.01
    for ch in (0, 1):
        values = lane(result, f"dc_offset_ch{ch}").values
        assert values.size >= 3 and np.all(np.abs(values - 0.05) < 0.005)
    clean = analyse(demo.program_wav(tmp_path / "clean.wav", duration_s=4.0))
    assert by_label(clean, "DC offset") == []
    assert np.max(np.abs(clean.summary["dc_offset"])) < 0.002


def test_level_and_dynamic_range_lanes(tmp_path: Path) -> None:
    # Alternating 0.5 s at -10 dBFS and 0.5 s at -40 dBFS (RMS), then 1 s of digital silence.
    rate = 16000
    rng = np.random.default_rng(0)
    loud, quiet = 10 ** (-10 / 20), 10 ** (-40 / 20)
    gain = np.repeat(np.tile([loud, quiet], 6), rate // 2)
    x = np.concatenate([rng.standard_normal(gain.size) * gain, np.zeros(rate)])
    path = tmp_path / "dr.wav"
    sf.write(str(path), x.astype(np.float32), rate, subtype="FLOAT")
    result = analyse(path)
    level = lane(result, "level")
    assert (level.name, level.unit) == ("level", "dBFS")
    assert np.median(level.values[(level.times_s % 1.0 > 0.1) & (level.times_s % 1.0 < 0.4) & (level.times_s < 6)]) \
        == pytest.approx(-10.0, abs=0.5)
    assert np.median(level.values[(level.times_s % 1.0 > 0.6) & (level.times_s % 1.0 < 0.9) & (level.times_s < 6)]) \
        == pytest.approx(-40.0, abs=0.5)
    assert np.all(level.values[level.times_s > 6.05] == -120.0)  # silence drawn at the floor
    dr = lane(result, "dynamic_range")
    assert dr.unit == "dB"
    assert np.all(np.abs(dr.values[dr.times_s < 5.0] - 30.0) < 2.0)
    assert result.summary["dynamic_range_median_db"] == pytest.approx(30.0, abs=2.0)


def test_block_size_does_not_change_the_result(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = demo.clipped_bursts_wav(tmp_path / "clip.wav", bursts=BURSTS, rescale=0.8)
    reference = analyse(path)
    monkeypatch.setattr(module, "_BLOCK", 1003)
    small = analyse(path)
    assert [(f.label, f.start_s, f.end_s) for f in small.findings] == [
        (f.label, f.start_s, f.end_s) for f in reference.findings]
    for a, b in zip(small.findings[0].series, reference.findings[0].series, strict=True):
        np.testing.assert_allclose(a.values, b.values, rtol=1e-9, atol=1e-9)


def test_cancel_and_progress(tmp_path: Path) -> None:
    clip = decode_audio(demo.clipped_bursts_wav(tmp_path / "c.wav", duration_s=12.0, rescale=0.8))
    seen: list[float] = []
    levels(clip, params=registry.get("audio.levels").resolve_params(), progress=ProgressToken(lambda f, _m: seen.append(f)))
    assert len(seen) >= 3 and seen == sorted(seen) and seen[-1] == 1.0
    token = ProgressToken()
    token.cancel()
    with pytest.raises(Cancelled):
        levels(clip, params=registry.get("audio.levels").resolve_params(), progress=token)


def test_end_to_end_through_the_store(case: CaseStore, tmp_path: Path) -> None:
    added = add_evidence(case, demo.clipped_bursts_wav(tmp_path / "clip.wav", bursts=BURSTS), examiner=EXAMINER)
    assert added.outcome is Outcome.ADDED, added.reason
    run_id = queue_job(case, evidence_id=added.evidence_id, spec=make_spec("audio.levels"), examiner=EXAMINER)
    outcome = run_job(case, run_id)
    assert outcome.status is RunStatus.DONE, outcome.error
    with case.session() as s:
        rows = repo.list_findings(s, evidence_id=added.evidence_id)
        labels = [r.label for r in rows]
        refs = [ref for r in rows for ref in r.artifacts.get("series", [])]
        starts = [r.start_s for r in rows if r.label == "Clipping"]
        assert repo.get_run(s, run_id).summary["clipping_events"] == 3
    assert labels == ["Level summary", "Clipping", "Clipping", "Clipping"]
    assert starts == pytest.approx([b[0] for b in BURSTS], abs=0.001)
    assert [r["name"] for r in refs] == ["level", "dynamic_range", "dc_offset"]
    level = case.artifacts.get_series(refs[0])
    assert level.unit == "dBFS" and level.values.size == 60
