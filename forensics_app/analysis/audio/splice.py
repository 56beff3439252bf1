"""Edit and splice detection: abrupt changes of noise floor, DC level, spectral envelope and
waveform, and inserted digital silence.

Cues (measurements in :mod:`forensics_app.dsp.splice_cues`; frames of ``2*hop`` every 10 ms):

* **Noise floor**: the ``noise_quantile`` percentile of the frame energies (dBFS) in a window of
  ``noise_window_s`` before each boundary against the window after it; fires at a change of at
  least ``noise_step_db``. Located at the last (rising floor) or first (falling floor) frame on
  the quiet side that lies below the mid-level, then to the sample by a two-segment
  variance change point. Joins inside continuous loud material (no frame exposes the floor near
  the join) are located only to the nearest exposed frame.
* **DC level**: mean of the samples in ``dc_window_s`` before against after; fires when the step
  is at least ``dc_step`` (full scale = 1) *and* its robust z-score among all boundaries reaches
  ``change_z``. Located by the CUSUM maximum.
* **Spectral envelope**: per band (16 log-spaced bands), the ``noise_quantile`` percentile of the
  band energy over ``spectral_window_s`` before against after (band floors more than 30 dB below
  the window's loudest band floor are raised to that depth: where the noise does not reach a
  band, passing speech alone would move its percentile); the *shape change* is the RMS over
  bands of the differences after removing their mean (a level change alone is the noise-floor
  cue). Fires at ``spectral_step_db``; located like the noise floor in the most-changed band.
* **Waveform discontinuity**: an isolated spike of the linear-prediction residual at least
  ``discontinuity_z`` times the residual RMS around it, with no other residual within
  ``1/isolation`` of it in +-15 ms (a step or kink in the waveform: a cut mid-cycle).
* **Digital silence**: runs of exactly repeated sample values (zeros or a constant) of at least
  ``min_silence_s``, with exact start and end. Runs touching the file's start or end are
  reported as descriptive findings only.

Each cue's *strength* is its measurement over its threshold (at least 1 when it fires; for the DC
cue the smaller of the step and z-score ratios). Cues within ``merge_s`` of each other (or inside
or at the edges of a silence run) form one candidate; its strength is the sum over its cues of
``min(strength, 5)``; candidates are ranked by strength and at most ``max_candidates`` are
listed. FakeLikelihood (conservative): ``min(0.9, 1 - exp(-strength / 3))``: 0.28 for one cue at
its threshold, 0.63 at a total of 3, never above 0.9, because benign events (a recorder's
automatic gain, a door closing, a device switching) also change levels abruptly.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from forensics_app.analysis.registry import Param, analyzer
from forensics_app.domain.errors import AnalyzerError
from forensics_app.domain.jobs import Progress
from forensics_app.domain.media import AudioClip, MediaKind
from forensics_app.domain.results import AnalysisResult, Finding, TimeSeries
from forensics_app.dsp import splice_cues as sc

MAX_LANE_POINTS = 100_000
_CAP = 5.0
_PRECISION = {"discontinuity": 0, "silence": 1, "dc_level": 2, "noise_floor": 3, "spectral_envelope": 4}

PARAMS = [
    Param("noise_window_s", 1.5, "Window before/after each boundary for the noise floor (s)", 0.2, 10.0),
    Param("noise_quantile", 5.0, "Percentile of frame energies taken as the noise floor", 1.0, 50.0),
    Param("noise_step_db", 6.0, "Noise-floor change that counts (dB)", 1.0, 80.0),
    Param("dc_window_s", 0.25, "Window before/after each boundary for the DC level (s)", 0.02, 5.0),
    Param("dc_step", 0.005, "DC step that counts (full scale = 1)", 1e-5, 1.0),
    Param("spectral_window_s", 1.5, "Window before/after each boundary for the spectral envelope (s)", 0.2, 10.0),
    Param("spectral_step_db", 6.0, "Spectral-shape change that counts (RMS over bands, dB)", 1.0, 80.0),
    Param("change_z", 8.0, "Robust z-score a DC step needs among all boundaries", 2.0, 1000.0),
    Param("discontinuity_z", 12.0, "Prediction-residual spike over its neighbourhood's RMS", 4.0, 1e6),
    Param("isolation", 3.0, "Spike over the largest other residual within 15 ms", 1.0, 1000.0),
    Param("min_silence_s", 0.005, "Shortest run of repeated sample values reported (s)", 0.0005, 60.0),
    Param("merge_s", 0.02, "Cues closer than this form one candidate (s)", 0.0, 1.0),
    Param("max_candidates", 50, "Most candidates listed (the rest are counted)", 1, 100_000),
    Param("channel", -1, "Channel analysed (-1 = mean of all channels)", -1, 255),
]


def splice_likelihood(strength: float) -> float:
    """The conservative mapping of a candidate's strength (see the module docstring)."""
    return float(min(0.9, 1.0 - math.exp(-strength / 3.0)))


def _floor_frame(series: np.ndarray, i: int, half: int, mid: float, rising: bool) -> int | None:
    """Boundary frame of a floor change near ``i``: after the last frame below ``mid`` (rising)
    or at the first one (falling), searched over the window on the quiet side."""
    n = len(series)
    if rising:
        lo, hi = max(i - 2 * half, 0), min(i + half, n)
        below = np.flatnonzero(series[lo:hi] < mid)
        return None if below.size == 0 else lo + int(below[-1]) + 1
    lo, hi = max(i - half, 0), min(i + 2 * half, n)
    below = np.flatnonzero(series[lo:hi] < mid)
    return None if below.size == 0 else lo + int(below[0])


_BAND_DEPTH_DB = 30.0  # band floors deeper than this below the loudest band's are clamped
_MASKED = 1000.0  # stand-in level (dB) for frames in digital silence: never the low percentile


def _masked_change(values: np.ndarray, masked: np.ndarray, *, window: int, quantile: float
                   ) -> tuple[np.ndarray, np.ndarray]:
    """:func:`sc.two_window_change` with silent frames left out of the percentile (a window
    that is almost all silence has no floor: its boundaries get NaN)."""
    v = np.where(masked.reshape((-1,) + (1,) * (values.ndim - 1)), _MASKED, values)
    floor, delta = sc.two_window_change(v, window=window, quantile=quantile)
    half = max(2, int(window)) // 2
    bad = floor >= _MASKED / 2
    before = np.roll(bad, half, axis=0)
    after = np.roll(bad, -half, axis=0)
    delta = np.where(before | after, np.nan, delta)
    return np.where(bad, np.nan, floor), delta


def _noise_floor_cues(fm: sc.FrameMeasures, x: np.ndarray, params: Mapping[str, Any], channel: int,
                      silent: np.ndarray) -> tuple[list[dict[str, Any]], np.ndarray, np.ndarray]:
    hop, rate = fm.hop, fm.rate
    window = max(2, int(round(float(params["noise_window_s"]) * rate / hop)))
    half = window // 2
    q = float(params["noise_quantile"])
    thr = float(params["noise_step_db"])
    floor, delta = _masked_change(fm.energy_db, silent, window=window, quantile=q)
    strength = np.abs(delta) / thr
    cues = []
    for i in sc.pick_peaks(strength, threshold=1.0, radius=window):
        before, after = float(floor[i - half]), float(floor[i + half])
        rising = after > before
        j = _floor_frame(np.where(silent, _MASKED, fm.energy_db), i, half, 0.5 * (before + after), rising)
        # Frame j's start is the boundary; frames are 2 hops long and overlap by one.
        coarse = (j * hop + (hop if rising else hop // 2)) if j is not None else i * hop
        sample = sc.refine_level_change(x, coarse - 2 * hop, coarse + 2 * hop, channel=channel)
        cues.append({"cue": "noise_floor", "sample": sample, "strength": float(strength[i]), "evidence": {
            "floor_before_dbfs": before, "floor_after_dbfs": after, "change_db": after - before,
            "threshold_db": thr, "window_s": window * hop / rate, "quantile": q,
            "located": "exposed floor" if j is not None else "window boundary (floor not exposed near the join)",
        }})
    return cues, floor, strength


def _dc_cues(fm: sc.FrameMeasures, x: np.ndarray, params: Mapping[str, Any], channel: int
             ) -> tuple[list[dict[str, Any]], np.ndarray]:
    hop, rate = fm.hop, fm.rate
    window = max(2, int(round(float(params["dc_window_s"]) * rate / hop)))
    thr, z_min = float(params["dc_step"]), float(params["change_z"])
    _, delta = sc.two_window_change(fm.hop_mean, window=window, quantile=None)
    fin = delta[np.isfinite(delta)]
    if fin.size < 4:
        return [], np.zeros_like(delta)
    med = float(np.median(fin))
    spread = max(1.4826 * float(np.median(np.abs(fin - med))), 1e-9)
    z = np.abs(np.nan_to_num(delta - med)) / spread
    strength = np.minimum(np.abs(np.nan_to_num(delta)) / thr, z / z_min)
    cues = []
    for i in sc.pick_peaks(strength, threshold=1.0, radius=window):
        sample = sc.refine_mean_change(x, (i - window // 2) * hop, (i + window // 2) * hop, channel=channel)
        cues.append({"cue": "dc_level", "sample": sample, "strength": float(strength[i]), "evidence": {
            "step": float(delta[i]), "step_dbfs": sc.level_db(float(delta[i])), "z": float(z[i]),
            "threshold": thr, "z_min": z_min, "noise": spread, "window_s": window * hop / rate,
        }})
    return cues, strength


def _spectral_cues(fm: sc.FrameMeasures, x: np.ndarray, params: Mapping[str, Any], channel: int,
                   silent_cells: np.ndarray) -> tuple[list[dict[str, Any]], np.ndarray]:
    hop, rate, cf = fm.hop, fm.rate, fm.cell_frames
    window = max(2, int(round(float(params["spectral_window_s"]) * rate / (hop * cf))))
    half = window // 2
    q, thr = float(params["noise_quantile"]), float(params["spectral_step_db"])
    floor, delta = _masked_change(fm.band_db, silent_cells, window=window, quantile=q)
    # Bands far below the loudest band's floor (a band the noise does not reach, where only
    # quantisation noise or passing speech sets the percentile) are raised to a common depth.
    top = np.where(np.isfinite(floor), floor, -np.inf).max(axis=1, keepdims=True)
    floor = np.where(np.isfinite(floor), np.maximum(floor, top - _BAND_DEPTH_DB), np.nan)
    shifted = np.full(floor.shape, np.nan)
    if len(floor) > 2 * half:
        shifted[half:len(floor) - half] = floor[2 * half:] - floor[:len(floor) - 2 * half]
    delta = np.where(np.isfinite(delta), shifted, np.nan)
    dev = delta - delta.mean(axis=1, keepdims=True)
    shape = np.sqrt(np.mean(dev ** 2, axis=1))
    strength = np.nan_to_num(shape) / thr
    cues = []
    for i in sc.pick_peaks(strength, threshold=1.0, radius=window):
        b = int(np.argmax(np.abs(dev[i])))
        before, after = float(floor[i - half, b]), float(floor[i + half, b])
        rising = after > before
        # Locate in the most-changed band: first among cells, then among frames computed anew.
        mid = 0.5 * (before + after)
        j = _floor_frame(np.where(silent_cells, _MASKED, fm.band_db[:, b]), i, half, mid, rising)
        sample = int((j if j is not None else i) * cf * hop)
        lo_f = max(sample // hop - 2 * cf, 0)
        per_frame = sc.band_energy_frames(x, lo_f * hop, (lo_f + 4 * cf) * hop, hop=hop, frame=fm.frame,
                                          band_hz=(fm.band_edges_hz[b], fm.band_edges_hz[b + 1]), channel=channel,
                                          rate=rate)
        k = _floor_frame(per_frame, 2 * cf, 2 * cf, mid, rising)
        if j is not None and k is not None:
            sample = (lo_f + k) * hop + (hop if rising else hop // 2)
        cues.append({"cue": "spectral_envelope", "sample": int(sample), "strength": float(strength[i]),
                     "evidence": {
                         "shape_change_db": float(shape[i]), "threshold_db": thr, "window_s": window * cf * hop / rate,
                         "most_changed_band_hz": [float(fm.band_edges_hz[b]), float(fm.band_edges_hz[b + 1])],
                         "band_change_db": [float(v) for v in delta[i]],
                         "located": "exposed floor" if j is not None else "window boundary",
                     }})
    return cues, np.repeat(strength, cf)[:len(fm.energy_db)]


def _merge(cues: list[dict[str, Any]], silences: list[tuple[int, int, float]], rate: int,
           merge: int) -> list[dict[str, Any]]:
    """Group cues into candidates (silence runs absorb the cues at and inside their edges)."""
    cands: list[dict[str, Any]] = []
    rest = []
    for s, e, v in silences:
        cands.append({"start": s, "end": e, "cues": [{"cue": "silence", "sample": s, "strength": 0.0, "evidence": {
            "start_s": s / rate, "end_s": e / rate, "duration_s": (e - s) / rate, "value": v,
            "exact_zeros": v == 0.0}}]})
    for c in cues:
        home = next((k for k in cands if k["start"] - merge <= c["sample"] <= k["end"] + merge), None)
        if home is not None:
            home["cues"].append(c)
        else:
            rest.append(c)
    for c in sorted(rest, key=lambda q: q["sample"]):
        if cands and "silence" not in {k["cue"] for k in cands[-1]["cues"]} and c["sample"] - cands[-1]["end"] <= merge:
            cands[-1]["cues"].append(c)
            cands[-1]["end"] = max(cands[-1]["end"], c["sample"])
        else:
            cands.append({"start": c["sample"], "end": c["sample"], "cues": [c]})
    return cands


def _candidate_finding(cand: dict[str, Any], rate: int, min_silence_s: float) -> tuple[float, Finding]:
    best: dict[str, dict[str, Any]] = {}
    for c in cand["cues"]:
        if c["cue"] == "silence":
            c["strength"] = c["evidence"]["duration_s"] / min_silence_s
        if c["cue"] not in best or c["strength"] > best[c["cue"]]["strength"]:
            best[c["cue"]] = c
    strength = float(sum(min(c["strength"], _CAP) for c in best.values()))
    anchor = min(best.values(), key=lambda c: _PRECISION[c["cue"]])
    silent = "silence" in best
    start = cand["start"] / rate if silent else anchor["sample"] / rate
    end = cand["end"] / rate if silent else start
    label = "Inserted digital silence" if silent else "Splice candidate"
    details = {
        "time_s": start, "strength": strength, "cues": sorted(best),
        "evidence": {name: {"time_s": c["sample"] / rate, "strength": c["strength"], **c["evidence"]}
                     for name, c in best.items()},
        "strength_rule": f"sum over cues of min(measured/threshold, {_CAP:g})",
    }
    return strength, Finding(label=label, fake_likelihood=splice_likelihood(strength), start_s=start, end_s=end,
                             details=details)


def _pool(values: np.ndarray, times: np.ndarray, how: str) -> tuple[np.ndarray, np.ndarray]:
    k = max(1, int(math.ceil(len(values) / MAX_LANE_POINTS)))
    if k == 1:
        return times, values
    n = (len(values) // k) * k
    v = values[:n].reshape(-1, k)
    return times[:n].reshape(-1, k).mean(axis=1), (v.max(axis=1) if how == "max" else v.mean(axis=1))


@analyzer(id="audio.splice", version="1.0.0", media=[MediaKind.AUDIO], label="Edit and splice detection",
          params=PARAMS)
def splice(media: AudioClip, *, params: Mapping[str, Any], progress: Progress) -> AnalysisResult:
    """Abrupt changes of noise floor, DC level, spectral envelope and waveform; digital silence.

    Parameters
    ----------
    media : AudioClip
        Samples of shape (n_samples, n_channels), float32 (a memory map is read block by block);
        rate in Hz.
    params : mapping
        See :data:`PARAMS` (times in s, levels in dB or full scale).
    progress : Progress
        Reported per block; cancellation is checked there.

    Returns
    -------
    AnalysisResult
        "Splice analysis" (lanes ``splice_novelty``, the largest cue strength per frame, and
        ``noise_floor`` in dBFS), then candidates ranked by strength ("Splice candidate",
        "Inserted digital silence"), and descriptive "Leading/Trailing digital silence".
    """
    progress.check()
    x = media.samples
    if x.ndim != 2 or x.shape[0] == 0:
        raise AnalyzerError(f"audio.splice: {media.path.name} holds no samples (shape {x.shape})")
    channel = int(params["channel"])
    if channel >= x.shape[1]:
        raise AnalyzerError(f"audio.splice: channel {channel} does not exist ({x.shape[1]} channels)")
    rate = int(media.rate)
    min_sil = float(params["min_silence_s"])
    fm = sc.frame_pass(x, rate, channel=channel, spike_z=float(params["discontinuity_z"]),
                       isolation=float(params["isolation"]), min_silence_s=min_sil, progress=progress,
                       span=(0.0, 0.8))
    progress.check()
    silent = np.zeros(len(fm.energy_db), dtype=bool)
    for s, e, _ in fm.silences:
        silent[max(s - fm.frame, 0) // fm.hop:e // fm.hop + 1] = True
    silent_cells = np.zeros(len(fm.band_db), dtype=bool)
    silent_cells[np.flatnonzero(silent) // fm.cell_frames] = True
    nf_cues, floor, nf_strength = _noise_floor_cues(fm, x, params, channel, silent)
    dc_cues, dc_strength = _dc_cues(fm, x, params, channel)
    sp_cues, sp_strength = _spectral_cues(fm, x, params, channel, silent_cells)
    progress.report(0.9, "change points")
    thr_z = float(params["discontinuity_z"])
    disc_cues = [{"cue": "discontinuity", "sample": s.index, "strength": s.z / thr_z, "evidence": {
        "residual": s.value, "z": s.z, "isolation": s.isolation, "local_rms": s.local_rms,
        "threshold_z": thr_z, "min_isolation": float(params["isolation"]), "lpc_order": fm.lpc_order}}
        for s in fm.spikes]
    interior = [r for r in fm.silences if r[0] > 0 and r[1] < fm.n_samples]
    edges = [r for r in fm.silences if r[0] == 0 or r[1] >= fm.n_samples]
    merge = int(round(float(params["merge_s"]) * rate))
    cands = _merge(nf_cues + dc_cues + sp_cues + disc_cues, interior, rate, merge)
    ranked = sorted((_candidate_finding(c, rate, min_sil) for c in cands), key=lambda sf: -sf[0])
    cap = int(params["max_candidates"])

    n_f = len(fm.energy_db)
    times = (np.arange(n_f) * fm.hop + fm.frame / 2.0) / rate
    novelty = np.nanmax(np.vstack([np.nan_to_num(nf_strength), np.nan_to_num(dc_strength),
                                   np.nan_to_num(sp_strength)[:n_f]]), axis=0)
    for c in disc_cues:
        i = min(c["sample"] // fm.hop, n_f - 1)
        novelty[i] = max(novelty[i], c["strength"])
    for s, e, _ in interior:
        novelty[s // fm.hop:min(e // fm.hop + 1, n_f)] = np.maximum(
            novelty[s // fm.hop:min(e // fm.hop + 1, n_f)], min(((e - s) / rate) / min_sil, _CAP))
    t_nov, v_nov = _pool(novelty, times, "max")
    fl_ok = np.isfinite(floor)
    t_fl, v_fl = _pool(floor[fl_ok], times[fl_ok], "mean")
    summary = {
        "duration_s": media.duration_s, "sample_rate_hz": rate, "candidates": len(ranked),
        "candidates_listed": min(len(ranked), cap), "cue_counts": {
            "noise_floor": len(nf_cues), "dc_level": len(dc_cues), "spectral_envelope": len(sp_cues),
            "discontinuity": len(disc_cues), "silence": len(interior)},
        "median_noise_floor_dbfs": float(np.median(floor[fl_ok])) if fl_ok.any() else None,
        "strongest": ranked[0][0] if ranked else 0.0,
    }
    overview = Finding(label="Splice analysis", details={
        **summary, "channel": channel, "hop_s": fm.hop / rate, "frame_s": fm.frame / rate, "lpc_order": fm.lpc_order,
        "params": dict(params)}, series=(
        TimeSeries("splice_novelty", "strength", t_nov, v_nov),
        TimeSeries("noise_floor", "dBFS", t_fl, v_fl)))
    findings = [overview] + [f for _, f in ranked[:cap]]
    for s, e, v in edges:
        findings.append(Finding(
            label="Leading digital silence" if s == 0 else "Trailing digital silence", start_s=s / rate,
            end_s=e / rate, details={"start_s": s / rate, "end_s": e / rate, "duration_s": (e - s) / rate, "value": v}))
    progress.report(1.0, "done")
    return AnalysisResult(findings=tuple(findings), summary=summary)
