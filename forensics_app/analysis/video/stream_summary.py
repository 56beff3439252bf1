"""Video stream summary: timestamps, packet sizes, keyframes, dropped and duplicated frames.

Two passes over the stored file:

1. **Packets** (demuxed, not decoded): presentation timestamps sorted into display order, coded
   sizes and keyframe flags. The nominal frame interval is the median interval between
   consecutive timestamps (the declared average rate of a stream with gaps is itself lowered by
   the gaps, so it is reported but not trusted). An interval longer than ``gap_factor`` nominal
   intervals is a gap: ``round(interval / nominal) - 1`` frames are missing there. Empty packets
   (AVI's skip markers) carry no picture and are left out of the timestamps.
2. **Frames** (decoded one at a time, reduced to grey thumbnails ``analysis_width`` pixels wide):
   the mean absolute difference between consecutive thumbnails (grey levels 0-255). A frame
   whose difference is at most ``duplicate_threshold`` and at most ``duplicate_relative`` times
   the median difference repeats the previous picture (a duplicated frame: frame-rate padding,
   a freeze inserted by an edit, or a splice point). A completely static video is therefore
   reported as duplicates throughout.

Times are seconds from the first displayed frame. Frame indices count decoded frames in display
order from 0. Findings are descriptive (``fake_likelihood`` None): dropped and duplicated frames
also arise in capture and transcoding, but they localise where an edit may have happened.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import cv2
import numpy as np

from forensics_app.analysis.registry import Param, analyzer
from forensics_app.domain.errors import AnalyzerError
from forensics_app.domain.jobs import Progress
from forensics_app.domain.media import MediaKind, VideoSource
from forensics_app.domain.results import AnalysisResult, Finding, TimeSeries

PARAMS = [
    Param("gap_factor", 1.5, "An interval longer than this many nominal frame intervals is a gap (dropped frames)",
          1.05, 1000.0),
    Param("detect_duplicates", True, "Decode every frame to find repeated pictures"),
    Param("analysis_width", 64, "Width of the grey thumbnails compared for duplicates (px)", 8, 4096),
    Param("duplicate_threshold", 0.5, "Mean absolute difference (grey levels 0-255) at or below which a frame "
          "repeats the previous one", 0.0, 255.0),
    Param("duplicate_relative", 0.2, "A repeat must also differ by at most this fraction of the median difference",
          0.0, 1.0),
    Param("max_findings", 200, "Most dropped/duplicated-frame findings of each kind listed", 1, 1_000_000),
]

_PACKETS_SHARE = 0.2  # progress fraction spent on the packet pass


def _small_grey(rgb: np.ndarray, width: int) -> np.ndarray:
    """RGB (H, W, 3) uint8 -> grey float32 (h, width), area-averaged, aspect kept."""
    h, w = rgb.shape[:2]
    width = max(1, min(width, w))
    height = max(1, round(h * width / w))
    grey = cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2GRAY)
    return cv2.resize(grey, (width, height), interpolation=cv2.INTER_AREA).astype(np.float32)


def _packet_pass(media: VideoSource, progress: Progress) -> dict[str, Any]:
    """Timestamps (display order), sizes and keyframes from the demuxer."""
    pts: list[float] = []
    sizes: list[int] = []
    keys: list[bool] = []
    n_empty = 0
    n_no_pts = 0
    expected = max(media.n_frames, 1)
    for i, p in enumerate(media.packets()):
        progress.check()
        if p.size == 0:
            n_empty += 1
            continue
        t = p.pts_s if p.pts_s is not None else p.dts_s
        if t is None:
            n_no_pts += 1
            t = math.nan
        pts.append(float(t))
        sizes.append(int(p.size))
        keys.append(bool(p.keyframe))
        if i % 16 == 0:
            progress.report(_PACKETS_SHARE * min(i / expected, 1.0), "reading packets")
    t = np.asarray(pts, dtype=np.float64)
    if n_no_pts:  # no usable timestamps: fall back to the declared rate, in decoding order
        t = np.arange(len(pts)) / media.fps
    order = np.argsort(t, kind="stable")
    return {"times": t[order], "sizes": np.asarray(sizes, dtype=np.float64)[order],
            "keyframes": np.asarray(keys, dtype=bool)[order], "n_empty": n_empty, "n_no_pts": n_no_pts}


def _timing(times: np.ndarray, declared_fps: float, gap_factor: float) -> dict[str, Any]:
    """Interval statistics and gaps of sorted timestamps (s)."""
    intervals = np.diff(times)
    positive = intervals[intervals > 0]
    declared = 1.0 / declared_fps if declared_fps > 0 else None
    nominal = float(np.median(positive)) if positive.size else (declared or 0.0)
    gaps = np.flatnonzero(intervals > gap_factor * nominal) if nominal > 0 else np.array([], dtype=int)
    regular = np.ones(intervals.size, dtype=bool)
    regular[gaps] = False
    regular &= intervals > 0
    body = intervals[regular]
    stats = {
        "frames": int(times.size),
        "nominal_interval_s": nominal,
        "nominal_fps": 1.0 / nominal if nominal > 0 else None,
        "declared_fps": declared_fps,
        "declared_interval_s": declared,
        "interval_mean_s": float(intervals.mean()) if intervals.size else None,
        "interval_std_s": float(intervals.std()) if intervals.size else None,
        "interval_min_s": float(intervals.min()) if intervals.size else None,
        "interval_max_s": float(intervals.max()) if intervals.size else None,
        "jitter_s": float(body.std()) if body.size else None,
        "jitter_ratio": float(body.std() / nominal) if body.size and nominal > 0 else None,
        "repeated_timestamps": int(np.count_nonzero(intervals == 0)),
        "gaps": int(gaps.size),
    }
    stats["regular"] = bool(gaps.size == 0 and stats["repeated_timestamps"] == 0
                            and (stats["jitter_ratio"] or 0.0) < 0.05)
    return {"intervals": intervals, "gaps": gaps, "nominal": nominal, "stats": stats}


def _frame_pass(media: VideoSource, *, width: int, progress: Progress) -> dict[str, np.ndarray]:
    """Mean absolute difference of each decoded frame's grey thumbnail to the previous one."""
    prev = None
    idx: list[int] = []
    times: list[float] = []
    diffs: list[float] = []
    n_decoded = 0
    expected = max(media.n_frames, 1)
    for index, t, rgb in media.frames():
        progress.check()
        small = _small_grey(rgb, width)
        if prev is not None and prev.shape == small.shape:
            idx.append(index)
            times.append(float(t))
            diffs.append(float(np.abs(small - prev).mean()))
        prev = small
        n_decoded += 1
        progress.report(_PACKETS_SHARE + (1.0 - _PACKETS_SHARE) * min(n_decoded / expected, 1.0),
                        f"comparing frame {index}")
    return {"index": np.asarray(idx, dtype=np.int64), "times": np.asarray(times, dtype=np.float64),
            "diff": np.asarray(diffs, dtype=np.float64), "decoded": np.asarray(n_decoded)}


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """(start, end exclusive) positions of the True runs of a 1-D mask."""
    edges = np.diff(np.concatenate(([0], mask.astype(np.int8), [0])))
    return list(zip(np.flatnonzero(edges == 1).tolist(), np.flatnonzero(edges == -1).tolist(), strict=True))


@analyzer(id="video.stream_summary", version="1.0.0", media=[MediaKind.VIDEO], label="Video stream summary",
          params=PARAMS)
def stream_summary(media: VideoSource, *, params: Mapping[str, Any], progress: Progress) -> AnalysisResult:
    """Frame timing, packet sizes, keyframes, dropped and duplicated frames of a video stream.

    Parameters
    ----------
    media : VideoSource
        Opened video; its packet reader (no decoding) and frame reader (RGB frames, one at a
        time) are used.
    params : mapping
        See :data:`PARAMS`.
    progress : Progress
        Checked for cancellation at every packet and every decoded frame.

    Returns
    -------
    AnalysisResult
        "Frame timing" (lanes: ``packet_size`` in bytes, ``frame_interval`` in s and, when frames
        are compared, ``frame_difference`` in grey levels), then one "Dropped frames" finding per
        timestamp gap and one "Duplicated frames" finding per run of repeated pictures.
    """
    progress.check()
    pk = _packet_pass(media, progress)
    times_abs = pk["times"]
    if times_abs.size == 0:
        raise AnalyzerError(f"video.stream_summary: {media.path.name} has no video packets")
    t0 = float(times_abs[0])
    times = times_abs - t0
    tm = _timing(times, float(media.fps), float(params["gap_factor"]))
    nominal = tm["nominal"]
    max_findings = int(params["max_findings"])

    key_idx = np.flatnonzero(pk["keyframes"])
    gop = np.diff(key_idx)
    sizes = pk["sizes"]
    details: dict[str, Any] = {
        "codec": media.codec, "width": media.width, "height": media.height,
        "declared_frames": media.n_frames, "duration_s": media.duration_s,
        "packets": int(sizes.size), "empty_packets": pk["n_empty"], "packets_without_pts": pk["n_no_pts"],
        "first_pts_s": t0, "timing": tm["stats"],
        "keyframes": {"count": int(key_idx.size), "frame_indices": key_idx.tolist()[:1000],
                      "times_s": times[key_idx].round(6).tolist()[:1000],
                      "gop_mean": float(gop.mean()) if gop.size else None,
                      "gop_min": int(gop.min()) if gop.size else None,
                      "gop_max": int(gop.max()) if gop.size else None},
        "packet_bytes": {"total": int(sizes.sum()), "mean": float(sizes.mean()),
                         "keyframe_mean": float(sizes[key_idx].mean()) if key_idx.size else None,
                         "max": int(sizes.max()), "min": int(sizes.min()),
                         "bitrate_bps": float(8 * sizes.sum() / (times[-1] + nominal))
                         if times[-1] + nominal > 0 else None},
    }
    series = [TimeSeries("packet_size", "bytes", times, sizes)]
    if times.size > 1:
        series.append(TimeSeries("frame_interval", "s", times[1:], tm["intervals"]))

    dropped: list[Finding] = []
    missing_total = 0
    for g in tm["gaps"].tolist():
        interval = float(tm["intervals"][g])
        n_missing = max(int(round(interval / nominal)) - 1, 1)
        missing_total += n_missing
        if len(dropped) >= max_findings:
            continue
        first = int(round(times[g] / nominal)) + 1
        dropped.append(Finding(
            label="Dropped frames", start_s=float(times[g]), end_s=float(times[g + 1]),
            start_frame=g, end_frame=g + 2,
            details={"missing_frames": n_missing, "gap_s": interval, "nominal_interval_s": nominal,
                     "frame_before": g, "frame_after": g + 1,
                     "missing_nominal_indices": list(range(first, first + n_missing))},
        ))

    duplicated: list[Finding] = []
    dup_stats: dict[str, Any] = {"checked": False}
    if bool(params["detect_duplicates"]):
        fr = _frame_pass(media, width=int(params["analysis_width"]), progress=progress)
        diff = fr["diff"]
        median = float(np.median(diff)) if diff.size else 0.0
        thr_abs = float(params["duplicate_threshold"])
        thr = min(thr_abs, float(params["duplicate_relative"]) * median) if median > 0 else thr_abs
        is_dup = diff <= thr
        runs = _runs(is_dup)
        dup_stats = {"checked": True, "decoded_frames": int(fr["decoded"]), "median_difference": median,
                     "threshold": thr, "duplicated_frames": int(is_dup.sum()), "runs": len(runs),
                     "analysis_width": int(params["analysis_width"])}
        if diff.size:
            series.append(TimeSeries("frame_difference", "grey levels", fr["times"], diff))
        for a, b in runs[:max_findings]:
            frames = fr["index"][a:b]
            duplicated.append(Finding(
                label="Duplicated frames", start_s=float(fr["times"][a]),
                end_s=float(fr["times"][b - 1] + nominal), start_frame=int(frames[0]), end_frame=int(frames[-1]) + 1,
                details={"frames": frames.tolist(), "repeats_frame": int(frames[0]) - 1, "count": int(b - a),
                         "nominal_indices": [int(round(x / nominal)) if nominal > 0 else None
                                             for x in fr["times"][a:b]],
                         "max_difference": float(diff[a:b].max()), "threshold": thr},
            ))
    details["duplicates"] = dup_stats
    details["dropped"] = {"gaps": int(tm["gaps"].size), "missing_frames": missing_total}

    progress.report(1.0, "done")
    overview = Finding(label="Frame timing", details=details, series=tuple(series))
    summary = {
        "codec": media.codec, "width": media.width, "height": media.height, "packets": int(sizes.size),
        "nominal_fps": tm["stats"]["nominal_fps"], "declared_fps": float(media.fps),
        "regular_timing": tm["stats"]["regular"], "keyframes": int(key_idx.size),
        "gaps": int(tm["gaps"].size), "missing_frames": missing_total,
        "duplicate_runs": dup_stats.get("runs"), "duplicated_frames": dup_stats.get("duplicated_frames"),
    }
    return AnalysisResult(findings=(overview, *dropped, *duplicated), summary=summary)
