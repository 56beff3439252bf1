"""Bandwidth and resampling: effective bandwidth over time, upsampling, and cutoff changes.

Method (all frequencies in Hz, times in s, levels in dB; see
:mod:`~forensics_app.analysis.audio.spectral_frames` for the spectrum scaling):

* **Per-frame bandwidth.** Frames of ``frame_s`` (Blackman-Harris window, side lobes below
  -92 dB) every ``hop_s``; the power spectrum is summed over channels and median-filtered along
  frequency over ``smooth_hz`` (this removes isolated tonal lines and single-bin noise peaks but
  keeps a band edge in place). The frame's bandwidth is the highest frequency whose smoothed
  level is within ``floor_db`` of the frame's smoothed maximum *and* at least ``snr_db`` above
  the rounding-noise floor of the file's integer sample format (16-bit PCM: about -140 dB per
  bin), so quiet frames do not count quantisation noise as content. Frames quieter than
  ``silence_dbfs`` (RMS) are left out. The ``bandwidth`` lane holds this value per frame.
* **Cutoff and resampling.** Per stretch between cutoff changes (the whole recording when there
  are none): the content edge is the median of the per-frame bandwidths; the long-term average
  spectrum (median-smoothed like the frames) gives the cutoff, the half-amplitude point below
  that edge (:func:`~forensics_app.analysis.audio.spectral_frames.refined_cutoff`), and the edge drop: its median level over 0.8 to 0.95 of
  the cutoff minus its median level from 1.05 of the cutoff to the Nyquist frequency. A cutoff
  below ``band_limited_ratio`` of the Nyquist frequency is band-limited content. When the drop
  is at least ``min_edge_drop_db`` and the cutoff lies between 0.8 and 1.06 times the Nyquist
  frequency of a standard rate below the file's
  (:func:`~forensics_app.analysis.audio.spectral_frames.rate_for_cutoff`), the content was most
  likely made at that rate and up-sampled ("Upsampled content", with
  ``likely_original_rate_hz``); otherwise "Band-limited content" (a lowpass filter or a lossy
  codec's cut: see ``audio.codec_history``).
* **Cutoff changes.** The bandwidth track (octaves, silent frames dropped) is median-filtered
  over ``track_smooth_s`` and split by binary segmentation (least squares, segments at least
  ``min_segment_s`` long). A split is kept when the medians on its two sides differ by at least
  ``min_change_octaves`` and the unfiltered frames agree with it: the consistency (the mean, over
  the two sides, of the fraction of frames that lie on their side of the midpoint between the
  medians) is at least ``min_consistency``. The change time is then refined on the unfiltered
  track to the split that misclassifies fewest frames within ``min_segment_s`` of it; a change
  whose refined time leaves a stretch shorter than ``min_segment_s`` is dropped.

FakeLikelihood (signal-forensic indicators, not calibrated detectors):

* Cutoff change (material from sources with different bandwidths joined):
  ``0.5 + 0.35 * min(1, |change| / 1 octave) * (consistency - 0.5) / 0.5``, at most 0.85.
* Upsampled content (the file is not an original capture at its declared rate: a conversion,
  not proof of an edit): ``0.5 + 0.2 * min(1, (edge_drop_db - min_edge_drop_db) / 40)``, at
  most 0.7.
* The bandwidth summary and band-limited content without a standard-rate match are
  descriptive (None).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
from scipy import ndimage

from forensics_app.analysis.audio.spectral_frames import (
    edge_bins,
    edge_drop_db,
    frame_count,
    frame_times,
    iter_spectra,
    n_fft_for,
    quantisation_floor_db,
    rate_for_cutoff,
    refined_cutoff,
    smoothed_levels_db,
    to_db,
)
from forensics_app.analysis.registry import Param, analyzer
from forensics_app.domain.errors import AnalyzerError
from forensics_app.domain.jobs import Progress
from forensics_app.domain.media import AudioClip, MediaKind
from forensics_app.domain.results import AnalysisResult, Finding, TimeSeries

ANALYZER_ID = "audio.bandwidth"
_BATCH = 256  # frames per FFT batch
_LTAS_CHUNK = 64  # frames per stored partial long-term spectrum

PARAMS = [
    Param("frame_s", 0.046, "Analysis frame length (s)", 0.005, 1.0),
    Param("hop_s", 0.023, "Hop between analysis frames (s)", 0.001, 1.0),
    Param("floor_db", 60.0, "Level below the frame's maximum that still counts as content (dB)", 10.0, 150.0),
    Param("snr_db", 10.0, "Margin above the sample format's rounding-noise floor for content (dB)", 0.0, 60.0),
    Param("smooth_hz", 250.0, "Width of the median filter along frequency (Hz)", 0.0, 5000.0),
    Param("silence_dbfs", -60.0, "Frames quieter than this RMS level are left out (dBFS)", -200.0, 0.0),
    Param("band_limited_ratio", 0.85, "A cutoff below this fraction of Nyquist is band-limited", 0.05, 1.0),
    Param("min_edge_drop_db", 25.0, "Drop across the cutoff needed to call the content upsampled (dB)",
          0.0, 150.0),
    Param("min_segment_s", 1.0, "Shortest stretch with one cutoff that a change may delimit (s)", 0.1, 600.0),
    Param("track_smooth_s", 0.25, "Median filter over the bandwidth track before segmentation (s)", 0.0, 10.0),
    Param("min_change_octaves", 0.25, "Smallest cutoff change reported (octaves)", 0.01, 10.0),
    Param("min_consistency", 0.8, "Fraction of frames that must agree with a change (0.5 to 1)", 0.5, 1.0),
    Param("max_changes", 20, "Most cutoff changes reported", 1, 1000),
]


def _odd(n: float) -> int:
    k = max(int(round(n)), 1)
    return k if k % 2 else k + 1


def _track(x: np.ndarray, *, rate: int, frame: int, hop: int, params: Mapping[str, Any], floor_q: float,
           progress: Progress) -> dict[str, Any]:
    """Per-frame bandwidth, and the power of non-silent frames summed per chunk of
    :data:`_LTAS_CHUNK` frames (for the long-term spectrum of any stretch; progress 0 to 0.9)."""
    n_fft = n_fft_for(frame)
    freqs = np.fft.rfftfreq(n_fft, d=1.0 / rate)
    median_bins = _odd(float(params["smooth_hz"]) / freqs[1]) if float(params["smooth_hz"]) > 0 else 1
    n_frames = frame_count(x.shape[0], frame=frame, hop=hop)
    n_chunks = -(-n_frames // _LTAS_CHUNK)
    bw = np.full(n_frames, np.nan)
    chunk_power = np.zeros((n_chunks, freqs.size), np.float32)
    chunk_loud = np.zeros(n_chunks, np.int64)
    abs_floor = floor_q + float(params["snr_db"])
    for b in iter_spectra(x, frame=frame, hop=hop, batch=_BATCH, progress=progress, span=0.9,
                          message="bandwidth"):
        loud = to_db(b.mean_square) >= float(params["silence_dbfs"])
        if not loud.any():
            continue
        idx = b.first + np.flatnonzero(loud)
        levels = smoothed_levels_db(b.power[loud], median_bins=median_bins)
        bw[idx] = freqs[edge_bins(levels, floor_db=float(params["floor_db"]), abs_floor_db=abs_floor)]
        p_loud = b.power[loud]
        chunk = idx // _LTAS_CHUNK
        for c in np.unique(chunk):
            sel = chunk == c
            chunk_power[c] += p_loud[sel].sum(axis=0).astype(np.float32)
            chunk_loud[c] += int(sel.sum())
    return {"freqs": freqs, "bandwidth": bw, "chunk_power": chunk_power, "chunk_loud": chunk_loud,
            "n_frames": n_frames, "n_fft": n_fft, "median_bins": median_bins, "abs_floor_db": abs_floor}


def _consistency(y: np.ndarray, k: int, a: int, b: int) -> tuple[float, float, float]:
    """(median before, median after, consistency) of a split of ``y[a:b]`` at ``k``."""
    before, after = float(np.median(y[a:k])), float(np.median(y[k:b]))
    mid = 0.5 * (before + after)
    sign = 1.0 if before > after else -1.0
    c = 0.5 * (np.mean(sign * (y[a:k] - mid) > 0) + np.mean(sign * (y[k:b] - mid) < 0))
    return before, after, float(c)


def _best_split(s: np.ndarray, a: int, b: int, m: int) -> int | None:
    """Least-squares best split of ``s[a:b]`` with both parts at least ``m`` long."""
    if b - a < 2 * m:
        return None
    seg = s[a:b]
    c1 = np.cumsum(seg)
    c2 = np.cumsum(seg * seg)
    ks = np.arange(m, b - a - m + 1)
    left_n, right_n = ks, (b - a) - ks
    left = c2[ks - 1] - c1[ks - 1] ** 2 / left_n
    right = (c2[-1] - c2[ks - 1]) - (c1[-1] - c1[ks - 1]) ** 2 / right_n
    return a + int(ks[np.argmin(left + right)])


def _refine(y: np.ndarray, k: int, a: int, b: int, m: int, before: float, after: float) -> int:
    """Split point near ``k`` that misclassifies fewest frames within ``m`` of it."""
    lo, hi = max(a + 1, k - m // 2), min(b - 1, k + m // 2)
    w0, w1 = max(a, lo - m), min(b, hi + m)
    mid = 0.5 * (before + after)
    on_after = ((y[w0:w1] - mid) * (1.0 if after > before else -1.0) > 0).astype(np.int64)
    cum = np.concatenate([[0], np.cumsum(on_after)])
    best, best_err = k, None
    for cand in range(lo, hi + 1):
        i = cand - w0
        err = cum[i] + ((w1 - w0 - i) - (cum[-1] - cum[i]))
        if best_err is None or err < best_err:
            best, best_err = cand, err
    return best


def find_changes(y: np.ndarray, *, min_len: int, smooth: int, min_change: float, min_consistency: float,
                 max_changes: int) -> list[dict[str, Any]]:
    """Change points of a track by binary segmentation (see the module docstring).

    Parameters
    ----------
    y : np.ndarray
        Shape (n,), the track (octaves), no NaN.
    min_len : int
        Shortest segment in samples of the track.
    smooth : int
        Odd median-filter width applied before the least-squares search (1 = none).
    min_change, min_consistency : float
        Acceptance thresholds.
    max_changes : int
        Most changes returned.

    Returns
    -------
    list of dict
        Sorted by index: ``index`` (first sample after the change), ``before``, ``after``
        (segment medians) and ``consistency``.
    """
    s = ndimage.median_filter(y, size=smooth, mode="nearest") if smooth > 1 else y
    found: list[dict[str, Any]] = []
    stack = [(0, y.size)]
    while stack and len(found) < max_changes:
        a, b = stack.pop()
        k = _best_split(s, a, b, min_len)
        if k is None:
            continue
        before, after, c = _consistency(y, k, a, b)
        if abs(before - after) < min_change or c < min_consistency:
            continue
        k = _refine(y, k, a, b, min_len, before, after)
        if k - a < min_len or b - k < min_len:
            continue  # the change really lies closer to an end than a segment may be short
        before, after, c = _consistency(y, k, a, b)
        found.append({"index": k, "before": before, "after": after, "consistency": c})
        stack.extend([(a, k), (k, b)])
    return sorted(found, key=lambda d: d["index"])


def _segment(tr: Mapping[str, Any], f0: int, f1: int, *, params: Mapping[str, Any], rate: int) -> dict[str, Any]:
    """Content edge, cutoff, edge drop and matching standard rate of frames ``f0 .. f1 - 1``.

    The long-term spectrum uses the chunks of :data:`_LTAS_CHUNK` frames that lie at least 75%
    inside the stretch (the most overlapping one when none does).
    """
    bw = tr["bandwidth"][f0:f1]
    bw = bw[np.isfinite(bw)]
    out: dict[str, Any] = {"content_edge_hz": None, "cutoff_hz": None, "edge_drop_db": None,
                           "likely_original_rate_hz": None, "frames_in_stretch": int(bw.size)}
    if not bw.size:
        return out
    edge = float(np.median(bw))
    c = np.arange(tr["chunk_loud"].size)
    overlap = (np.minimum((c + 1) * _LTAS_CHUNK, f1) - np.maximum(c * _LTAS_CHUNK, f0)).clip(min=0)
    size = np.minimum((c + 1) * _LTAS_CHUNK, tr["n_frames"]) - c * _LTAS_CHUNK
    use = (overlap >= 0.75 * size) & (tr["chunk_loud"] > 0)
    if not use.any():
        use = (overlap == overlap.max()) & (tr["chunk_loud"] > 0)
    out["content_edge_hz"] = edge
    if not use.any():
        return out
    ltas = smoothed_levels_db(tr["chunk_power"][use].sum(axis=0, dtype=np.float64) / tr["chunk_loud"][use].sum(),
                              median_bins=tr["median_bins"])
    cutoff = refined_cutoff(ltas, tr["freqs"], edge)
    out.update(cutoff_hz=cutoff, edge_drop_db=edge_drop_db(ltas, tr["freqs"], cutoff),
               likely_original_rate_hz=rate_for_cutoff(cutoff, rate))
    return out


def _band_limit_finding(seg: Mapping[str, Any], *, params: Mapping[str, Any], rate: int, start_s: float,
                        end_s: float) -> Finding | None:
    """"Upsampled content" / "Band-limited content" for a stretch whose cutoff is low, else None."""
    cutoff, drop = seg["cutoff_hz"], seg["edge_drop_db"]
    nyquist = rate / 2.0
    ratio = float(params["band_limited_ratio"])
    if cutoff is None or cutoff >= ratio * nyquist:
        return None
    min_drop = float(params["min_edge_drop_db"])
    original = seg["likely_original_rate_hz"]
    details = {**seg, "nyquist_hz": nyquist, "fraction_of_nyquist": cutoff / nyquist, "min_edge_drop_db": min_drop,
               "threshold_ratio": ratio, "start_s": start_s, "end_s": end_s}
    if original is not None and drop is not None and drop >= min_drop:
        return Finding(
            label="Upsampled content", fake_likelihood=upsampling_likelihood(drop, min_drop), start_s=start_s,
            end_s=end_s,
            details={**details, "original_nyquist_hz": original / 2.0,
                     "note": "content ends at the Nyquist frequency of a lower standard rate: the audio was made "
                             "or transmitted at that rate and converted up; a lossy codec's lowpass can sit at "
                             "the same place (see audio.codec_history)"})
    return Finding(
        label="Band-limited content", start_s=start_s, end_s=end_s,
        details={**details, "note": "content stops well below the Nyquist frequency without the steep edge of "
                                    "a standard-rate conversion: a lowpass filter, a lossy codec or band-limited "
                                    "source material"})


def change_likelihood(delta_octaves: float, consistency: float) -> float:
    """FakeLikelihood of a cutoff change (module docstring), in [0.5, 0.85]."""
    strength = min(1.0, abs(delta_octaves)) * min(max((consistency - 0.5) / 0.5, 0.0), 1.0)
    return 0.5 + 0.35 * strength


def upsampling_likelihood(drop_db: float, min_drop_db: float) -> float:
    """FakeLikelihood of upsampled content (module docstring), in [0.5, 0.7]."""
    return 0.5 + 0.2 * min(max((drop_db - min_drop_db) / 40.0, 0.0), 1.0)


@analyzer(id=ANALYZER_ID, version="1.0.0", media=[MediaKind.AUDIO], label="Bandwidth and resampling",
          params=PARAMS)
def bandwidth(media: AudioClip, *, params: Mapping[str, Any], progress: Progress) -> AnalysisResult:
    """Effective bandwidth over time, upsampling from a lower rate, and changes of cutoff.

    Parameters
    ----------
    media : AudioClip
        Samples of shape (n_samples, n_channels), float32 (may be a memory map); rate in Hz.
    params : mapping
        See :data:`PARAMS` (times in s, frequencies in Hz, levels in dB).
    progress : Progress
        Reported per batch of frames; cancellation is checked there.

    Returns
    -------
    AnalysisResult
        "Effective bandwidth" (descriptive, ``bandwidth`` lane in Hz), then "Upsampled content"
        or "Band-limited content" when the cutoff is low, and one "Bandwidth change" per
        cutoff change (start_s = end_s = the change time).
    """
    progress.check()
    x = media.samples
    if x.ndim != 2 or x.shape[0] == 0 or x.shape[1] == 0:
        raise AnalyzerError(f"{ANALYZER_ID}: {media.path.name} holds no samples (shape {x.shape})")
    rate = int(media.rate)
    nyquist = rate / 2.0
    frame = max(int(round(float(params["frame_s"]) * rate)), 32)
    hop = max(int(round(float(params["hop_s"]) * rate)), 1)
    floor_q = quantisation_floor_db(media.sample_format, frame=frame, n_channels=x.shape[1])
    tr = _track(x, rate=rate, frame=frame, hop=hop, params=params, floor_q=floor_q, progress=progress)
    n_frames = tr["n_frames"]
    times = frame_times(n_frames, frame=frame, hop=hop, rate=rate)
    keep = np.isfinite(tr["bandwidth"])
    loud_idx = np.flatnonzero(keep)
    bw, t_bw = tr["bandwidth"][keep], times[keep]
    bin_hz = float(tr["freqs"][1])

    changes: list[dict[str, Any]] = []
    if bw.size:
        changes = find_changes(
            np.log2(np.maximum(bw, bin_hz)),
            min_len=max(int(math.ceil(float(params["min_segment_s"]) * rate / hop)), 2),
            smooth=_odd(float(params["track_smooth_s"]) * rate / hop) if float(params["track_smooth_s"]) > 0 else 1,
            min_change=float(params["min_change_octaves"]), min_consistency=float(params["min_consistency"]),
            max_changes=int(params["max_changes"]))
    whole = _segment(tr, 0, n_frames, params=params, rate=rate)
    details = {
        **whole, "nyquist_hz": nyquist, "sample_rate_hz": rate,
        "p5_frame_hz": float(np.percentile(bw, 5)) if bw.size else None,
        "p95_frame_hz": float(np.percentile(bw, 95)) if bw.size else None,
        "frames_measured": int(bw.size), "frames_silent": int(n_frames - bw.size),
        "floor_db": float(params["floor_db"]), "content_floor_abs_db": tr["abs_floor_db"],
        "resolution_hz": bin_hz, "smoothing_bins": tr["median_bins"], "frame_s": frame / rate, "hop_s": hop / rate,
        "n_fft": tr["n_fft"], "cutoff_changes": len(changes),
    }
    findings = [Finding(label="Effective bandwidth", details=details,
                        series=(TimeSeries("bandwidth", "Hz", t_bw, bw),))]

    bounds = [0] + [int(loud_idx[c["index"]]) for c in changes] + [n_frames]
    for s0, s1 in zip(bounds[:-1], bounds[1:], strict=True):
        seg = whole if len(bounds) == 2 else _segment(tr, s0, s1, params=params, rate=rate)
        f = _band_limit_finding(seg, params=params, rate=rate, start_s=s0 * hop / rate,
                                end_s=min(((s1 - 1) * hop + frame) / rate, media.duration_s))
        if f is not None:
            findings.append(f)

    for ch in changes:
        k = ch["index"]
        t_change = 0.5 * (float(t_bw[k - 1]) + float(t_bw[k]))
        before_hz, after_hz = 2.0 ** ch["before"], 2.0 ** ch["after"]
        delta = ch["after"] - ch["before"]
        findings.append(Finding(
            label="Bandwidth change", fake_likelihood=change_likelihood(delta, ch["consistency"]),
            start_s=t_change, end_s=t_change,
            details={"time_s": t_change, "before_hz": before_hz, "after_hz": after_hz,
                     "change_hz": after_hz - before_hz, "change_octaves": delta,
                     "consistency": ch["consistency"], "min_consistency": float(params["min_consistency"]),
                     "min_change_octaves": float(params["min_change_octaves"]),
                     "min_segment_s": float(params["min_segment_s"]), "time_resolution_s": hop / rate},
        ))
    progress.report(1.0, "done")
    upsampled = [f for f in findings if f.label == "Upsampled content"]
    summary = {"cutoff_hz": whole["cutoff_hz"], "content_edge_hz": whole["content_edge_hz"], "nyquist_hz": nyquist,
               "edge_drop_db": whole["edge_drop_db"],
               "likely_original_rate_hz": upsampled[0].details["likely_original_rate_hz"] if upsampled else None,
               "cutoff_changes": len(changes),
               "change_times_s": [f.start_s for f in findings if f.label == "Bandwidth change"]}
    return AnalysisResult(findings=tuple(findings), summary=summary)
