"""video.stream_summary on generated videos with planted dropped and duplicated frames."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from forensics_app.analysis import registry
from forensics_app.analysis.runner import make_spec, queue_job, run_job
from forensics_app.analysis.video.stream_summary import stream_summary
from forensics_app.demo import media as demo
from forensics_app.domain.errors import Cancelled
from forensics_app.domain.jobs import ProgressToken
from forensics_app.domain.results import AnalysisResult, Finding
from forensics_app.ingest.acquire import Outcome, add_evidence
from forensics_app.ingest.decode import open_video
from forensics_app.store import repo
from forensics_app.store.case import CaseStore
from forensics_app.store.schema import RunStatus

EXAMINER = "Test Examiner"


def analyse(path: Path, **params: object) -> AnalysisResult:
    info = registry.get("video.stream_summary")
    return stream_summary(open_video(path), params=info.resolve_params(params), progress=ProgressToken())


def of(result: AnalysisResult, label: str) -> list[Finding]:
    return [f for f in result.findings if f.label == label]


@pytest.mark.parametrize("suffix", [".mp4", ".mkv"])
def test_clean_video_is_regular(tmp_path: Path, suffix: str) -> None:
    result = analyse(demo.test_video(tmp_path / f"clean{suffix}", n_frames=40, fps=25))
    timing = result.findings[0]
    assert timing.label == "Frame timing"
    assert of(result, "Dropped frames") == [] and of(result, "Duplicated frames") == []
    t = timing.details["timing"]
    assert t["frames"] == 40
    assert t["nominal_interval_s"] == pytest.approx(0.04, abs=1e-4)
    assert t["interval_std_s"] == pytest.approx(0.0, abs=1e-3)
    assert t["regular"] is True
    assert timing.details["keyframes"]["frame_indices"][0] == 0
    assert timing.details["duplicates"]["decoded_frames"] == 40
    names = {s.name: s for s in timing.series}
    assert set(names) == {"packet_size", "frame_interval", "frame_difference"}
    assert names["packet_size"].unit == "bytes" and names["packet_size"].values.size == 40
    assert np.all(names["packet_size"].values > 0)
    assert names["frame_interval"].values == pytest.approx(np.full(39, 0.04), abs=1e-4)
    # The moving pattern changes every frame well above the duplicate threshold.
    assert names["frame_difference"].values.min() > 5.0


@pytest.mark.parametrize("suffix", [".mp4", ".mkv"])
def test_dropped_frames_found_at_the_planted_indices(tmp_path: Path, suffix: str) -> None:
    result = analyse(demo.test_video(tmp_path / f"drops{suffix}", n_frames=50, drop_frames=(10, 11, 30)))
    drops = of(result, "Dropped frames")
    assert [d.details["missing_nominal_indices"] for d in drops] == [[10, 11], [30]]
    assert [d.details["missing_frames"] for d in drops] == [2, 1]
    first = drops[0]
    assert first.start_s == pytest.approx(9 * 0.04, abs=1e-3)
    assert first.end_s == pytest.approx(12 * 0.04, abs=1e-3)
    assert (first.start_frame, first.end_frame) == (9, 11)  # decoded frames either side of the gap
    assert result.summary["missing_frames"] == 3
    # The container's average rate is lowered by the gaps; the nominal rate is not.
    assert result.summary["nominal_fps"] == pytest.approx(25.0, rel=1e-3)
    assert result.findings[0].details["timing"]["regular"] is False


def test_duplicated_frames_found_at_the_planted_indices(tmp_path: Path) -> None:
    result = analyse(demo.test_video(tmp_path / "dups.mp4", n_frames=50, duplicate_frames=(20, 35, 36)))
    dups = of(result, "Duplicated frames")
    assert [d.details["frames"] for d in dups] == [[20], [35, 36]]
    assert [(d.start_frame, d.end_frame) for d in dups] == [(20, 21), (35, 37)]
    assert dups[1].details["repeats_frame"] == 34
    assert dups[0].start_s == pytest.approx(20 * 0.04, abs=1e-3)
    assert all(d.details["max_difference"] < 0.5 for d in dups)
    assert of(result, "Dropped frames") == []


def test_drops_and_duplicates_together_with_audio(tmp_path: Path) -> None:
    path = demo.test_video(tmp_path / "both.mkv", n_frames=50, drop_frames=(5,), duplicate_frames=(25,),
                           with_audio=True)
    result = analyse(path)
    [drop] = of(result, "Dropped frames")
    [dup] = of(result, "Duplicated frames")
    assert drop.details["missing_nominal_indices"] == [5]
    # Decoded index 24 is original frame 25 (one frame before it was dropped).
    assert dup.details["frames"] == [24]
    assert dup.details["nominal_indices"] == [25]


def test_duplicate_detection_can_be_switched_off(tmp_path: Path) -> None:
    result = analyse(demo.test_video(tmp_path / "d.mp4", n_frames=30, duplicate_frames=(10,)),
                     detect_duplicates=False)
    assert of(result, "Duplicated frames") == []
    assert {s.name for s in result.findings[0].series} == {"packet_size", "frame_interval"}


def test_cancelled_token_stops_the_analysis(tmp_path: Path) -> None:
    video = open_video(demo.test_video(tmp_path / "v.mp4", n_frames=10))
    token = ProgressToken()
    token.cancel()
    with pytest.raises(Cancelled):
        stream_summary(video, params=registry.get("video.stream_summary").resolve_params(), progress=token)


def test_cancel_during_decoding(tmp_path: Path) -> None:
    video = open_video(demo.test_video(tmp_path / "v.mp4", n_frames=30))
    token = ProgressToken(lambda f, _m: token.cancel() if f > 0.5 else None)
    with pytest.raises(Cancelled):
        stream_summary(video, params=registry.get("video.stream_summary").resolve_params(), progress=token)


def test_end_to_end_through_the_store(case: CaseStore, tmp_path: Path) -> None:
    src = demo.test_video(tmp_path / "evidence.mp4", n_frames=40, drop_frames=(12,), duplicate_frames=(30,))
    added = add_evidence(case, src, examiner=EXAMINER)
    assert added.outcome is Outcome.ADDED, added.reason
    assert added.media_kind == "video"
    run_id = queue_job(case, evidence_id=added.evidence_id, spec=make_spec("video.stream_summary"),
                       examiner=EXAMINER)
    outcome = run_job(case, run_id)
    assert outcome.status is RunStatus.DONE, outcome.error
    with case.session() as s:
        rows = repo.list_findings(s, evidence_id=added.evidence_id)
        assert [r.label for r in rows] == ["Frame timing", "Dropped frames", "Duplicated frames"]
        assert rows[1].details["missing_nominal_indices"] == [12]
        assert (rows[2].start_frame, rows[2].end_frame) == (29, 30)
        refs = rows[0].artifacts["series"]
    series = {ref["name"]: case.artifacts.get_series(ref) for ref in refs}
    assert set(series) == {"packet_size", "frame_interval", "frame_difference"}
    assert series["frame_interval"].values.max() == pytest.approx(0.08, abs=1e-3)
    assert series["packet_size"].values.size == 39
