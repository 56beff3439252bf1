"""Level, clipping and dynamic range over time.

Definitions (full scale = 1.0; dBFS = ``20*log10(value)``; times in s):

* **Level lane** (``level``, dBFS): RMS of non-overlapping frames of ``frame_s`` over all
  channels; frames quieter than ``silence_floor_dbfs`` (digital silence) are drawn at that floor
  so the lane stays readable.
* **Dynamic range lane** (``dynamic_range``, dB): in windows of ``dr_window_s`` every
  ``dr_hop_s``, the ``dr_high_percentile`` minus the ``dr_low_percentile`` percentile of the
  frame levels, frames at the silence floor left out (a window with fewer than half its frames
  above the floor has no value).
* **DC offset**: the mean of each channel over the recording, and over windows of
  ``dc_window_s`` as lanes (``dc_offset``, or ``dc_offset_chN`` per channel of multichannel
  audio). A "DC offset" finding is made when a channel's mean exceeds ``dc_threshold``.
* **Full-scale clipping**: runs of at least ``min_clip_run`` consecutive samples at or beyond
  ``clip_threshold`` times full scale (the positive full scale is the format's largest code,
  e.g. 1 - 2**-15 for 16-bit PCM).
* **Flat-top clipping** (clipped, then scaled down so the peak is below full scale): for each
  channel and polarity whose extreme value lies below the clipping level, the samples exactly
  equal to that extreme. It is clipping when (a) at least ``flat_min_samples`` of them lie in
  runs of at least ``flat_min_run`` consecutive samples and (b) the extreme value holds at
  least ``flat_spike_ratio`` times as many samples as the band just inside it (the 1% of the
  extreme's magnitude below it). A sampled sine has about 0.06 times as many samples at its
  top code as in that band, a clipped one hundreds of times more.
* Clipping runs on any channel closer than ``clip_merge_s`` are merged into one "Clipping"
  finding (start_s, end_s, with the samples, runs, longest run and the level).

All findings are descriptive (``fake_likelihood`` None): clipping, DC offset and level describe
the recording chain, not whether the content was manipulated.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from forensics_app.analysis.audio.signal_stats import positive_full_scale
from forensics_app.analysis.registry import Param, analyzer
from forensics_app.domain.errors import AnalyzerError
from forensics_app.domain.jobs import Progress
from forensics_app.domain.media import AudioClip, MediaKind
from forensics_app.domain.results import AnalysisResult, Finding, TimeSeries

ANALYZER_ID = "audio.levels"
_BLOCK = 1 << 18  # samples per block (rounded to whole frames)
_MAX_DC_LANES = 8

PARAMS = [
    Param("frame_s", 0.05, "Frame of the short-term RMS level (s)", 0.001, 10.0),
    Param("silence_floor_dbfs", -120.0, "Level lane floor for silent frames (dBFS)", -300.0, -20.0),
    Param("clip_threshold", 0.999, "Clipping level as a fraction of full scale", 0.5, 1.0),
    Param("min_clip_run", 3, "Consecutive samples at the clipping level that count as clipping", 1, 100_000),
    Param("clip_merge_s", 0.05, "Clipping runs closer than this are reported as one (s)", 0.0, 60.0),
    Param("flat_min_run", 3, "Consecutive samples at the extreme value that make a flat top", 2, 100_000),
    Param("flat_min_samples", 20, "Samples in flat-top runs needed to report flat-top clipping", 1, 10**9),
    Param("flat_spike_ratio", 2.0, "Samples at the extreme / samples in the 1% band inside it", 0.1, 1e6),
    Param("flat_min_level", 0.01, "Extremes smaller than this are not examined for flat tops", 0.0, 1.0),
    Param("dc_threshold", 0.01, "DC offset above which a finding is made (full scale = 1)", 0.0, 1.0),
    Param("dc_window_s", 1.0, "Window of the DC offset lane (s)", 0.01, 3600.0),
    Param("dr_window_s", 3.0, "Window of the dynamic range lane (s)", 0.1, 3600.0),
    Param("dr_hop_s", 1.0, "Hop of the dynamic range lane (s)", 0.01, 3600.0),
    Param("dr_high_percentile", 95.0, "High percentile of frame levels for the dynamic range", 50.0, 100.0),
    Param("dr_low_percentile", 10.0, "Low percentile of frame levels for the dynamic range", 0.0, 50.0),
    Param("max_clip_findings", 100, "Most clipping findings listed (the rest are counted)", 1, 100_000),
]


def _db(value: float, floor: float = -200.0) -> float:
    return 20.0 * math.log10(value) if value > 0 else floor


def _runs(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start and end (exclusive) indices of the True runs of a 1-D boolean mask."""
    edges = np.diff(np.concatenate(([False], mask, [False])).astype(np.int8))
    return np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)


class _RunCollector:
    """Runs of a per-sample condition over consecutive blocks (runs across block edges join)."""

    def __init__(self) -> None:
        self.runs: list[list[int]] = []

    def add(self, mask: np.ndarray, offset: int) -> None:
        starts, ends = _runs(mask)
        for s, e in zip((starts + offset).tolist(), (ends + offset).tolist(), strict=True):
            if self.runs and self.runs[-1][1] == s:
                self.runs[-1][1] = e
            else:
                self.runs.append([s, e])

    def at_least(self, n: int) -> list[tuple[int, int]]:
        return [(s, e) for s, e in self.runs if e - s >= n]


def _level_pass(x: np.ndarray, *, frame: int, clip_pos: float, clip_neg: float, progress: Progress,
                span: float) -> dict[str, Any]:
    """Sums, extremes (and how often they occur), frame RMS/means and full-scale clip runs."""
    n, n_ch = x.shape
    block = max(_BLOCK // frame, 1) * frame
    n_frames = -(-n // frame)
    frame_ms = np.empty(n_frames)
    frame_mean = np.empty((n_frames, n_ch))
    total, total_sq = np.zeros(n_ch), np.zeros(n_ch)
    hi, lo = np.full(n_ch, -np.inf), np.full(n_ch, np.inf)
    hi_count, lo_count = np.zeros(n_ch, np.int64), np.zeros(n_ch, np.int64)
    clips = [_RunCollector() for _ in range(n_ch)]
    for b0 in range(0, n, block):
        progress.check()
        xb = np.asarray(x[b0:b0 + block], dtype=np.float64)
        total += xb.sum(axis=0)
        total_sq += np.square(xb).sum(axis=0)
        f0, nb = b0 // frame, xb.shape[0]
        whole = nb // frame
        if whole:
            fr = xb[:whole * frame].reshape(whole, frame, n_ch)
            frame_ms[f0:f0 + whole] = np.square(fr).mean(axis=(1, 2))
            frame_mean[f0:f0 + whole] = fr.mean(axis=1)
        if nb % frame:
            tail = xb[whole * frame:]
            frame_ms[f0 + whole] = np.square(tail).mean()
            frame_mean[f0 + whole] = tail.mean(axis=0)
        bmax, bmin = xb.max(axis=0), xb.min(axis=0)
        for ch in range(n_ch):
            col = xb[:, ch]
            if bmax[ch] > hi[ch]:
                hi[ch], hi_count[ch] = bmax[ch], int(np.count_nonzero(col == bmax[ch]))
            elif bmax[ch] == hi[ch]:
                hi_count[ch] += int(np.count_nonzero(col == bmax[ch]))
            if bmin[ch] < lo[ch]:
                lo[ch], lo_count[ch] = bmin[ch], int(np.count_nonzero(col == bmin[ch]))
            elif bmin[ch] == lo[ch]:
                lo_count[ch] += int(np.count_nonzero(col == bmin[ch]))
            clips[ch].add((col >= clip_pos) | (col <= -clip_neg), b0)
        progress.report(span * min(b0 + block, n) / n, "levels and clipping")
    return {"sum": total, "sum_sq": total_sq, "max": hi, "min": lo, "max_count": hi_count, "min_count": lo_count,
            "frame_ms": frame_ms, "frame_mean": frame_mean, "clips": clips, "block": block}


def _flat_top_pass(x: np.ndarray, candidates: list[tuple[int, float]], *, block: int, progress: Progress,
                   start: float, span: float) -> dict[tuple[int, float], dict[str, Any]]:
    """Runs of samples exactly at each candidate (channel, extreme value), and the band count."""
    n = x.shape[0]
    runs = {c: _RunCollector() for c in candidates}
    exact = dict.fromkeys(candidates, 0)
    band = dict.fromkeys(candidates, 0)
    for b0 in range(0, n, block):
        progress.check()
        xb = np.asarray(x[b0:b0 + block])
        for ch, value in candidates:
            col = xb[:, ch]
            mask = col == np.float32(value)
            runs[(ch, value)].add(mask, b0)
            exact[(ch, value)] += int(mask.sum())
            mag = abs(value)
            inside = (col * np.sign(value) >= 0.99 * mag) & ~mask
            band[(ch, value)] += int(inside.sum())
        progress.report(start + span * min(b0 + block, n) / n, "flat-top clipping")
    return {c: {"runs": runs[c], "exact": exact[c], "band": band[c]} for c in candidates}


def _merge(runs: list[tuple[int, int, int, str, float]], gap: int) -> list[dict[str, Any]]:
    """Merge (start, end, channel, kind, level) sample runs closer than ``gap`` samples."""
    groups: list[dict[str, Any]] = []
    for start, end, ch, kind, level in sorted(runs):
        if groups and start <= groups[-1]["end"] + gap:
            g = groups[-1]
            g["end"] = max(g["end"], end)
            g["channels"].add(ch)
            g["kinds"].add(kind)
            g["levels"].add(level)
            g["samples"] += end - start
            g["runs"] += 1
            g["longest"] = max(g["longest"], end - start)
        else:
            groups.append({"start": start, "end": end, "channels": {ch}, "kinds": {kind}, "levels": {level},
                           "samples": end - start, "runs": 1, "longest": end - start})
    return groups


def _window_lane(values: np.ndarray, *, size: int, hop: int, reduce: Any) -> tuple[np.ndarray, np.ndarray]:
    """Apply ``reduce`` to windows of ``size`` frames every ``hop`` frames; (window starts, values)."""
    if values.shape[0] < size:
        size = values.shape[0]
    starts = np.arange(0, values.shape[0] - size + 1, hop)
    windows = np.lib.stride_tricks.sliding_window_view(values, size, axis=0)[starts]
    return starts, reduce(windows)


def _dynamic_range(level_db: np.ndarray, *, floor: float, size: int, hop: int, high: float,
                   low: float) -> tuple[np.ndarray, np.ndarray]:
    """Per window: high minus low percentile of the frame levels above the floor (NaN if mostly silent)."""
    def reduce(w: np.ndarray) -> np.ndarray:
        live = np.where(w > floor, w, np.nan)
        enough = np.isfinite(live).sum(axis=1) >= 0.5 * w.shape[1]
        out = np.full(w.shape[0], np.nan)
        if enough.any():
            p = np.nanpercentile(live[enough], [high, low], axis=1)
            out[enough] = p[0] - p[1]
        return out
    return _window_lane(level_db, size=size, hop=hop, reduce=reduce)


@analyzer(id=ANALYZER_ID, version="1.0.0", media=[MediaKind.AUDIO], label="Level, clipping and dynamic range",
          params=PARAMS)
def levels(media: AudioClip, *, params: Mapping[str, Any], progress: Progress) -> AnalysisResult:
    """Level, dynamic range and DC offset over time; full-scale and flat-top clipping runs.

    Parameters
    ----------
    media : AudioClip
        Samples of shape (n_samples, n_channels), float32 (may be a memory map); rate in Hz.
    params : mapping
        See :data:`PARAMS`.
    progress : Progress
        Reported per block of samples; cancellation is checked there.

    Returns
    -------
    AnalysisResult
        "Level summary" (lanes ``level`` dBFS, ``dynamic_range`` dB and ``dc_offset`` per
        channel), one "Clipping" finding per merged run, and "DC offset" when it applies.
    """
    progress.check()
    x = media.samples
    if x.ndim != 2 or x.shape[0] == 0 or x.shape[1] == 0:
        raise AnalyzerError(f"{ANALYZER_ID}: {media.path.name} holds no samples (shape {x.shape})")
    rate = int(media.rate)
    n, n_ch = x.shape
    frame = max(int(round(float(params["frame_s"]) * rate)), 1)
    full_pos = positive_full_scale(media.sample_format)
    threshold = float(params["clip_threshold"])
    clip_pos, clip_neg = threshold * full_pos, threshold

    lv = _level_pass(x, frame=frame, clip_pos=clip_pos, clip_neg=clip_neg, progress=progress, span=0.8)
    min_run = int(params["min_clip_run"])
    runs: list[tuple[int, int, int, str, float]] = [
        (s, e, ch, "full scale", threshold) for ch in range(n_ch) for s, e in lv["clips"][ch].at_least(min_run)]

    # Flat tops: extremes below the clipping level that occur often enough to be worth a look.
    flat_min_samples = int(params["flat_min_samples"])
    candidates = []
    for ch in range(n_ch):
        for value, count, limit in ((lv["max"][ch], lv["max_count"][ch], clip_pos),
                                    (lv["min"][ch], lv["min_count"][ch], clip_neg)):
            if float(params["flat_min_level"]) <= abs(value) < limit and count >= flat_min_samples:
                candidates.append((ch, float(value)))
    flat: list[dict[str, Any]] = []
    if candidates:
        found = _flat_top_pass(x, candidates, block=lv["block"], progress=progress, start=0.8, span=0.15)
        for (ch, value), res in found.items():
            flat_runs = res["runs"].at_least(int(params["flat_min_run"]))
            in_runs = sum(e - s for s, e in flat_runs)
            ratio = res["exact"] / max(res["band"], 1)
            accepted = in_runs >= flat_min_samples and ratio >= float(params["flat_spike_ratio"])
            flat.append({"channel": ch, "value": value, "value_dbfs": _db(abs(value)), "samples_at_value": res["exact"],
                         "samples_in_runs": in_runs, "runs": len(flat_runs), "band_samples": res["band"],
                         "spike_ratio": ratio, "clipping": accepted})
            if accepted:
                runs += [(s, e, ch, "flat top", value) for s, e in flat_runs]

    floor = float(params["silence_floor_dbfs"])
    n_frames = lv["frame_ms"].size
    frame_t = (np.arange(n_frames) * frame + np.minimum(frame, n - np.arange(n_frames) * frame) / 2.0) / rate
    level_db = np.maximum(10.0 * np.log10(np.maximum(lv["frame_ms"], 1e-300)), floor)
    dr_size = max(int(round(float(params["dr_window_s"]) * rate / frame)), 1)
    dr_hop = max(int(round(float(params["dr_hop_s"]) * rate / frame)), 1)
    dr_start, dr = _dynamic_range(level_db, floor=floor, size=dr_size, hop=dr_hop,
                                  high=float(params["dr_high_percentile"]), low=float(params["dr_low_percentile"]))
    dr_t = (dr_start * frame + min(dr_size, n_frames) * frame / 2.0) / rate
    dr_ok = np.isfinite(dr)
    dc_size = max(int(round(float(params["dc_window_s"]) * rate / frame)), 1)
    dc_start, dc_lane = _window_lane(lv["frame_mean"], size=dc_size, hop=dc_size,
                                     reduce=lambda w: w.mean(axis=-1))  # (windows, channels)
    dc_t = (dc_start * frame + min(dc_size, n_frames) * frame / 2.0) / rate

    dc = lv["sum"] / n
    rms = np.sqrt(lv["sum_sq"] / n)
    peak = np.maximum(lv["max"], -lv["min"])
    rms_all = float(np.sqrt(lv["sum_sq"].sum() / (n * n_ch)))
    peak_all = float(peak.max())
    groups = _merge(runs, int(round(float(params["clip_merge_s"]) * rate)))
    clipped = np.zeros(n_ch, np.int64)
    for s, e, ch, _kind, _level in runs:
        clipped[ch] += e - s
    live = level_db[level_db > floor]
    series = [TimeSeries("level", "dBFS", frame_t, level_db),
              TimeSeries("dynamic_range", "dB", dr_t[dr_ok], dr[dr_ok])]
    series += [TimeSeries("dc_offset" if n_ch == 1 else f"dc_offset_ch{ch}", "FS", dc_t, dc_lane[:, ch])
               for ch in range(min(n_ch, _MAX_DC_LANES))]
    details = {
        "duration_s": media.duration_s, "sample_rate_hz": rate, "channels": n_ch,
        "sample_format": media.sample_format, "positive_full_scale": full_pos,
        "peak_dbfs": _db(peak_all), "rms_dbfs": _db(rms_all),
        "crest_factor_db": _db(peak_all) - _db(rms_all) if rms_all > 0 else None,
        "per_channel": [{"channel": ch, "peak": float(peak[ch]), "peak_dbfs": _db(float(peak[ch])),
                         "max": float(lv["max"][ch]), "min": float(lv["min"][ch]), "rms_dbfs": _db(float(rms[ch])),
                         "dc_offset": float(dc[ch]), "clipped_samples": int(clipped[ch]),
                         "clipping_ratio": float(clipped[ch]) / n} for ch in range(n_ch)],
        "clipping_events": len(groups), "clipped_samples": int(clipped.sum()),
        "clipping_ratio": float(clipped.sum()) / (n * n_ch), "flat_top_candidates": flat,
        "dynamic_range_db": {"median": float(np.median(dr[dr_ok])) if dr_ok.any() else None,
                             "max": float(dr[dr_ok].max()) if dr_ok.any() else None,
                             "window_s": dr_size * frame / rate, "hop_s": dr_hop * frame / rate,
                             "high_percentile": float(params["dr_high_percentile"]),
                             "low_percentile": float(params["dr_low_percentile"])},
        "loudness_range_db": float(np.percentile(live, 95) - np.percentile(live, 10)) if live.size else None,
        "silent_frames": int(n_frames - live.size), "frame_s": frame / rate, "silence_floor_dbfs": floor,
        "dc_window_s": dc_size * frame / rate,
    }
    findings = [Finding(label="Level summary", details=details, series=tuple(series))]
    max_clip = int(params["max_clip_findings"])
    for g in groups[:max_clip]:
        findings.append(Finding(
            label="Clipping", start_s=g["start"] / rate, end_s=g["end"] / rate,
            details={"kind": " + ".join(sorted(g["kinds"])), "channels": sorted(g["channels"]),
                     "levels": sorted(g["levels"]), "clipped_samples": g["samples"], "runs": g["runs"],
                     "longest_run_samples": g["longest"], "longest_run_s": g["longest"] / rate,
                     "clip_threshold": threshold, "min_clip_run": min_run,
                     "merge_s": float(params["clip_merge_s"])},
        ))
    dc_threshold = float(params["dc_threshold"])
    if float(np.abs(dc).max()) > dc_threshold:
        findings.append(Finding(
            label="DC offset",
            details={"per_channel": [float(v) for v in dc], "max_abs": float(np.abs(dc).max()),
                     "max_abs_dbfs": _db(float(np.abs(dc).max())), "threshold": dc_threshold,
                     "window_min": [float(v) for v in dc_lane.min(axis=0)],
                     "window_max": [float(v) for v in dc_lane.max(axis=0)], "window_s": dc_size * frame / rate},
        ))
    progress.report(1.0, "done")
    summary = {"peak_dbfs": details["peak_dbfs"], "rms_dbfs": details["rms_dbfs"], "clipping_events": len(groups),
               "clipping_events_listed": min(len(groups), max_clip), "clipping_ratio": details["clipping_ratio"],
               "flat_top_clipping": any(f["clipping"] for f in flat), "dc_offset": [float(v) for v in dc],
               "dynamic_range_median_db": details["dynamic_range_db"]["median"]}
    return AnalysisResult(findings=tuple(findings), summary=summary)
