"""Audio signal statistics: levels, clipping, DC offset and effective bandwidth.

Definitions (full scale = 1.0; levels in dBFS are ``20*log10(value)``):

* **Peak level**: largest ``|sample|``. **RMS level**: ``sqrt(mean(sample**2))`` relative to
  full-scale DC, so a full-scale sine reads -3.01 dBFS.
* **Clipping**: runs of at least ``min_clip_run`` consecutive samples whose magnitude is at or
  above ``clip_threshold`` times full scale (positive full scale is the format's largest code,
  e.g. 1 - 2**-15 for 16-bit PCM). The clipping ratio is the fraction of all samples (all
  channels) that lie in such runs. Runs on any channel closer than ``clip_merge_s`` are merged
  into one finding.
* **DC offset**: the mean of each channel over the whole clip.
* **Effective bandwidth**: per frame (4-term Blackman-Harris window, side lobes below -92 dB,
  ``frame_s`` long, every ``hop_s``), the
  power spectrum summed over channels is compared with its own maximum; the bandwidth is the
  highest frequency whose level is within ``bandwidth_floor_db`` of that maximum. Frames
  quieter than ``silence_dbfs`` (RMS) are left out. The clip's bandwidth is the same rule
  applied to the long-term average spectrum of the non-silent frames: the highest frequency
  at which the recording ever carries content. Content that stops far below the Nyquist
  frequency (``band_limited_ratio``) is reported as band-limited: typical of audio made or
  transmitted at a lower sample rate (telephone, codecs, many speech synthesisers) and
  re-saved at a higher one.

All findings are descriptive (``fake_likelihood`` None): they describe the signal's condition
and history, not whether it is synthetic.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

import numpy as np
from scipy import signal

from forensics_app.analysis.registry import Param, analyzer
from forensics_app.domain.errors import AnalyzerError
from forensics_app.domain.jobs import Progress
from forensics_app.domain.media import AudioClip, MediaKind
from forensics_app.domain.results import AnalysisResult, Finding, TimeSeries

DB_FLOOR = -200.0
"""dBFS reported for a value of exactly zero."""

_BLOCK = 1 << 18  # samples per block of the level/clipping pass
_FRAMES_PER_CHUNK = 256  # frames per FFT batch
_STANDARD_RATES = (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000, 88200, 96000, 192000)

PARAMS = [
    Param("frame_s", 0.04, "Analysis frame length for the level and bandwidth lanes (s)", 0.005, 1.0),
    Param("hop_s", 0.02, "Hop between analysis frames (s)", 0.001, 1.0),
    Param("clip_threshold", 0.999, "Clipping level as a fraction of full scale", 0.5, 1.0),
    Param("min_clip_run", 3, "Consecutive samples at or above the clipping level that count as clipping",
          1, 10_000),
    Param("clip_merge_s", 0.05, "Clipping runs closer than this are reported as one (s)", 0.0, 10.0),
    Param("dc_threshold", 0.01, "DC offset above which a finding is made (full scale = 1)", 0.0, 1.0),
    Param("bandwidth_floor_db", 60.0, "Level below the spectrum's maximum that still counts as content (dB)",
          10.0, 150.0),
    Param("band_limited_ratio", 0.8, "Content stopping below this fraction of Nyquist is band-limited",
          0.05, 1.0),
    Param("silence_dbfs", -60.0, "Frames quieter than this RMS level are left out of the bandwidth (dBFS)",
          -200.0, 0.0),
    Param("max_clip_findings", 100, "Most clipping findings listed (the rest are counted in the summary)",
          1, 100_000),
]


def _db(value: float) -> float:
    """``20*log10(value)`` in dB, :data:`DB_FLOOR` for zero."""
    return 20.0 * math.log10(value) if value > 0 else DB_FLOOR


def positive_full_scale(sample_format: str) -> float:
    """Largest positive sample value the source format can hold (full scale = 1.0).

    Parameters
    ----------
    sample_format : str
        Format as recorded by the decoder: libsndfile subtypes (``"PCM_16"``, ``"PCM_U8"``,
        ``"FLOAT"``) or FFmpeg sample formats (``"s16"``, ``"s32p"``, ``"fltp"``).

    Returns
    -------
    float
        ``1 - 2**-(bits - 1)`` for integer PCM, 1.0 for floating point or unknown formats.
    """
    fmt = sample_format.lower()
    m = re.search(r"(?:pcm_[su]?|^[su])(8|16|24|32)", fmt)
    if m is None:
        return 1.0
    return 1.0 - 2.0 ** -(int(m.group(1)) - 1)


def _runs(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start and end (exclusive) indices of the True runs of a 1-D boolean mask."""
    edges = np.diff(np.concatenate(([False], mask, [False])).astype(np.int8))
    return np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)


def _merge_runs(runs: list[tuple[int, int, int]], gap: int) -> list[dict[str, Any]]:
    """Merge (start, end, channel) sample runs that lie within ``gap`` samples of each other."""
    groups: list[dict[str, Any]] = []
    for start, end, ch in sorted(runs):
        if groups and start <= groups[-1]["end"] + gap:
            g = groups[-1]
            g["end"] = max(g["end"], end)
            g["channels"].add(ch)
            g["samples"] += end - start
            g["runs"] += 1
            g["longest"] = max(g["longest"], end - start)
        else:
            groups.append({"start": start, "end": end, "channels": {ch}, "samples": end - start, "runs": 1,
                           "longest": end - start})
    return groups


def _level_pass(x: np.ndarray, *, pos_level: float, neg_level: float, min_run: int,
                progress: Progress) -> dict[str, Any]:
    """Per-channel sums, peaks and clipping runs, block by block (progress 0 to 0.3)."""
    n, n_ch = x.shape
    total = np.zeros(n_ch)
    total_sq = np.zeros(n_ch)
    peak = np.zeros(n_ch)
    raw_runs: list[list[list[int]]] = [[] for _ in range(n_ch)]
    for b0 in range(0, n, _BLOCK):
        progress.check()
        block = x[b0:b0 + _BLOCK].astype(np.float64)
        total += block.sum(axis=0)
        total_sq += np.square(block).sum(axis=0)
        peak = np.maximum(peak, np.abs(block).max(axis=0))
        for ch in range(n_ch):
            col = block[:, ch]
            starts, ends = _runs((col >= pos_level) | (col <= -neg_level))
            for s, e in zip((starts + b0).tolist(), (ends + b0).tolist(), strict=True):
                if raw_runs[ch] and raw_runs[ch][-1][1] == s:  # continues across the block edge
                    raw_runs[ch][-1][1] = e
                else:
                    raw_runs[ch].append([s, e])
        progress.report(0.3 * min(b0 + _BLOCK, n) / n, "levels and clipping")
    runs = [(s, e, ch) for ch in range(n_ch) for s, e in raw_runs[ch] if e - s >= min_run]
    clipped = np.zeros(n_ch, dtype=np.int64)
    for s, e, ch in runs:
        clipped[ch] += e - s
    return {"sum": total, "sum_sq": total_sq, "peak": peak, "runs": runs, "clipped": clipped}


def _highest_within(level_db: np.ndarray, floor_db: float) -> int:
    """Index of the highest bin whose level is within ``floor_db`` of the maximum."""
    above = np.flatnonzero(level_db >= level_db.max() - floor_db)
    return int(above[-1]) if above.size else 0


def _frame_pass(x: np.ndarray, *, rate: int, frame: int, hop: int, floor_db: float, silence_dbfs: float,
                progress: Progress) -> dict[str, Any]:
    """Frame-wise RMS and bandwidth plus the long-term spectrum (progress 0.3 to 1.0)."""
    n, n_ch = x.shape
    if n < frame:
        x = np.concatenate([x, np.zeros((frame - n, n_ch), dtype=x.dtype)], axis=0)
    n_fft = 1 << max(int(math.ceil(math.log2(frame))), 1)
    freqs = np.fft.rfftfreq(n_fft, d=1.0 / rate)
    window = signal.windows.blackmanharris(frame, sym=False).astype(np.float32)
    frames = np.lib.stride_tricks.sliding_window_view(x, frame, axis=0)[::hop]  # (n_frames, ch, frame)
    n_frames = frames.shape[0]
    times = (np.arange(n_frames) * hop + frame / 2.0) / rate
    rms_db = np.empty(n_frames)
    bw = np.full(n_frames, np.nan)
    long_term = np.zeros(freqs.size)
    n_loud = 0
    tiny = np.finfo(np.float64).tiny
    for c0 in range(0, n_frames, _FRAMES_PER_CHUNK):
        progress.check()
        chunk = np.asarray(frames[c0:c0 + _FRAMES_PER_CHUNK], dtype=np.float32)
        ms = np.mean(np.square(chunk, dtype=np.float64), axis=(1, 2))
        rms_db[c0:c0 + len(chunk)] = 10.0 * np.log10(np.maximum(ms, 1e-20))
        spec = np.fft.rfft(chunk * window, n=n_fft, axis=-1)
        power = (spec.real.astype(np.float64) ** 2 + spec.imag.astype(np.float64) ** 2).sum(axis=1)
        loud = rms_db[c0:c0 + len(chunk)] >= silence_dbfs
        if loud.any():
            long_term += power[loud].sum(axis=0)
            n_loud += int(loud.sum())
            level = 10.0 * np.log10(power[loud] + tiny)
            top = level >= (level.max(axis=1, keepdims=True) - floor_db)
            highest = freqs.size - 1 - np.argmax(top[:, ::-1], axis=1)
            bw[c0 + np.flatnonzero(loud)] = freqs[highest]
        progress.report(0.3 + 0.7 * min(c0 + _FRAMES_PER_CHUNK, n_frames) / n_frames, "spectrum and bandwidth")
    long_term_bw = None
    if n_loud:
        long_term_bw = float(freqs[_highest_within(10.0 * np.log10(long_term / n_loud + tiny), floor_db)])
    return {"times": times, "rms_db": rms_db, "bandwidth": bw, "long_term_bw": long_term_bw,
            "n_loud": n_loud, "n_frames": n_frames, "n_fft": n_fft, "bin_hz": float(freqs[1])}


def _consistent_rate(bandwidth_hz: float, file_rate: int, bin_hz: float) -> int | None:
    """Smallest standard sample rate below the file's whose Nyquist covers the bandwidth.

    The measured edge lies a few bins above the true one (window leakage), hence the tolerance.
    """
    tolerance = max(0.03 * bandwidth_hz, 4.0 * bin_hz)
    for r in _STANDARD_RATES:
        if r >= file_rate:
            return None
        if r / 2.0 >= bandwidth_hz - tolerance:
            return r
    return None


@analyzer(id="audio.signal_stats", version="1.0.0", media=[MediaKind.AUDIO], label="Audio signal statistics",
          params=PARAMS)
def signal_stats(media: AudioClip, *, params: Mapping[str, Any], progress: Progress) -> AnalysisResult:
    """Levels, clipping, DC offset and effective bandwidth of an audio clip.

    Parameters
    ----------
    media : AudioClip
        Samples of shape (n_samples, n_channels), float32, full scale 1.0; rate in Hz.
    params : mapping
        See :data:`PARAMS` (frame and hop in s, thresholds as fractions of full scale or dB).
    progress : Progress
        Reported per block and per batch of frames; cancellation is checked there.

    Returns
    -------
    AnalysisResult
        Findings: "Signal statistics" (with the ``rms`` lane in dBFS and the ``bandwidth`` lane
        in Hz), one "Clipping" finding per merged run (start_s, end_s), "DC offset" and
        "Band-limited content" when they apply. All descriptive.
    """
    progress.check()
    x = np.asarray(media.samples)
    if x.ndim != 2 or x.shape[0] == 0 or x.shape[1] == 0:
        raise AnalyzerError(f"audio.signal_stats: {media.path.name} holds no samples (shape {x.shape})")
    rate = int(media.rate)
    n, n_ch = x.shape
    frame = max(int(round(float(params["frame_s"]) * rate)), 16)
    hop = max(int(round(float(params["hop_s"]) * rate)), 1)
    full_pos = positive_full_scale(media.sample_format)
    threshold = float(params["clip_threshold"])
    floor_db = float(params["bandwidth_floor_db"])
    nyquist = rate / 2.0

    lv = _level_pass(x, pos_level=threshold * full_pos, neg_level=threshold, min_run=int(params["min_clip_run"]),
                     progress=progress)
    fr = _frame_pass(x, rate=rate, frame=frame, hop=hop, floor_db=floor_db,
                     silence_dbfs=float(params["silence_dbfs"]), progress=progress)

    dc = lv["sum"] / n
    rms = np.sqrt(lv["sum_sq"] / n)
    channels = [
        {"channel": ch, "peak": float(lv["peak"][ch]), "peak_dbfs": _db(float(lv["peak"][ch])),
         "rms": float(rms[ch]), "rms_dbfs": _db(float(rms[ch])), "dc_offset": float(dc[ch]),
         "clipped_samples": int(lv["clipped"][ch]), "clipping_ratio": float(lv["clipped"][ch]) / n}
        for ch in range(n_ch)
    ]
    peak_all = float(lv["peak"].max())
    rms_all = float(np.sqrt(lv["sum_sq"].sum() / (n * n_ch)))
    overall = {
        "peak_dbfs": _db(peak_all), "rms_dbfs": _db(rms_all),
        "crest_factor_db": _db(peak_all) - _db(rms_all) if rms_all > 0 else None,
        "dc_offset": float(dc.mean()), "max_abs_dc_offset": float(np.abs(dc).max()),
        "clipped_samples": int(lv["clipped"].sum()),
        "clipping_ratio": float(lv["clipped"].sum()) / (n * n_ch),
    }
    bw_frames = fr["bandwidth"][np.isfinite(fr["bandwidth"])]
    bandwidth = {
        "long_term_hz": fr["long_term_bw"],
        "median_frame_hz": float(np.median(bw_frames)) if bw_frames.size else None,
        "p95_frame_hz": float(np.percentile(bw_frames, 95)) if bw_frames.size else None,
        "nyquist_hz": nyquist,
        "floor_db": floor_db,
        "frames_measured": int(bw_frames.size),
        "frames_silent": int(fr["n_frames"] - fr["n_loud"]),
        "resolution_hz": fr["bin_hz"],
    }
    details = {
        "duration_s": media.duration_s, "sample_rate_hz": rate, "channels": n_ch,
        "sample_format": media.sample_format, "positive_full_scale": full_pos,
        "overall": overall, "per_channel": channels, "bandwidth": bandwidth,
        "frame_s": frame / rate, "hop_s": hop / rate, "n_fft": fr["n_fft"],
    }
    keep = np.isfinite(fr["bandwidth"])
    series = (
        TimeSeries("rms", "dBFS", fr["times"], np.maximum(fr["rms_db"], DB_FLOOR)),
        TimeSeries("bandwidth", "Hz", fr["times"][keep], fr["bandwidth"][keep]),
    )
    findings: list[Finding] = [Finding(label="Signal statistics", details=details, series=series)]

    groups = _merge_runs(lv["runs"], int(round(float(params["clip_merge_s"]) * rate)))
    max_clip = int(params["max_clip_findings"])
    for g in groups[:max_clip]:
        findings.append(Finding(
            label="Clipping", start_s=g["start"] / rate, end_s=g["end"] / rate,
            details={"channels": sorted(g["channels"]), "clipped_samples": g["samples"], "runs": g["runs"],
                     "longest_run_samples": g["longest"], "longest_run_s": g["longest"] / rate,
                     "level": threshold},
        ))

    dc_threshold = float(params["dc_threshold"])
    if float(np.abs(dc).max()) > dc_threshold:
        findings.append(Finding(
            label="DC offset",
            details={"per_channel": [float(v) for v in dc], "max_abs": float(np.abs(dc).max()),
                     "max_abs_dbfs": _db(float(np.abs(dc).max())), "threshold": dc_threshold},
        ))

    lt = fr["long_term_bw"]
    ratio = float(params["band_limited_ratio"])
    if lt is not None and lt < ratio * nyquist:
        findings.append(Finding(
            label="Band-limited content",
            details={"bandwidth_hz": lt, "nyquist_hz": nyquist, "fraction_of_nyquist": lt / nyquist,
                     "consistent_with_rate_hz": _consistent_rate(lt, rate, fr["bin_hz"]), "threshold_ratio": ratio,
                     "median_frame_hz": bandwidth["median_frame_hz"]},
        ))

    progress.report(1.0, "done")
    summary = {
        "duration_s": media.duration_s, "sample_rate_hz": rate, "channels": n_ch,
        "peak_dbfs": overall["peak_dbfs"], "rms_dbfs": overall["rms_dbfs"],
        "clipping_ratio": overall["clipping_ratio"], "clipping_events": len(groups),
        "clipping_events_listed": min(len(groups), max_clip), "max_abs_dc_offset": overall["max_abs_dc_offset"],
        "bandwidth_hz": lt, "nyquist_hz": nyquist,
    }
    return AnalysisResult(findings=tuple(findings), summary=summary)
