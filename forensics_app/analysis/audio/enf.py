"""Electrical network frequency (ENF): the mains hum's track, its breaks, and dating by reference.

Method (details in :mod:`forensics_app.dsp.enf`, :mod:`forensics_app.dsp.enf_events` and
:mod:`forensics_app.dsp.enf_reference`):

1. The audio (one channel or the channel mean) is low-passed and decimated to about 1 kHz block
   by block. A Welch spectrum gives each harmonic's *prominence* over its neighbourhood; with
   ``nominal_hz = "auto"`` the nominal frequency (50 or 60 Hz) whose best harmonic among the
   first ``harmonics`` is more prominent is chosen. Below ``min_prominence_db`` the finding is
   "No mains component", with the measured prominences: no track is made up.
2. Each used harmonic is shifted to 0 Hz, low-passed and decimated to about 25 Hz; per frame
   (``frame_s``, every ``hop_s``) the peak frequency is found on a fine grid with a parabolic
   refinement, and harmonics are combined with weights ``SNR * k**2``. Frames where no harmonic
   reaches ``min_snr_db`` have no estimate. When fewer than ``min_tracked_fraction`` of the
   frames have one, the finding is again "No mains component".
3. Events: *frequency discontinuities* (steps of the track) and *phase jumps* (steps of the phase
   residual, e.g. where material was removed or inserted), each by a two-sided line fit; a step
   counts when it is at least the absolute minimum (``frequency_step_hz``, ``phase_jump_deg``)
   and its z-score reaches ``event_z``: the step over its standard error from the local fits,
   for frequency steps at least the spread of the statistic over the rest of the recording (the
   grid's own wander). Measured on generated hum: a removed span leaving a 100 degree jump was
   located within 0.03 s and its size within 3 degrees; frequency steps need a minute or more of
   recording and, with the default 0.01 Hz minimum, are reliable from about 0.05 Hz.
4. Reference (``reference_csv``, a path; relative paths are taken from the working folder): the
   track is matched against the log (its SHA-256 is recorded); the match dates the recording.
   The track is also cut at the events and into pieces of about ``segment_s``, and each piece is
   matched alone: pieces that match at different times expose an edit.

FakeLikelihood (conservative, only for findings that indicate manipulation):

* Phase jumps and frequency discontinuities: ``0.4 + 0.4 * (1 - exp(-(z / event_z - 1)))``: 0.4
  at the threshold, 0.65 at twice it, never above 0.8, because recorder drop-outs, buffer
  glitches and grid events also break the ENF.
* Pieces matching the reference at different times: ``min(0.85, 0.5 + 0.05 * log10(alpha / p))``
  with ``p`` the larger p-value of the two disagreeing pieces and ``alpha`` = ``reference_max_p``.

Descriptive findings (the track, the reference match, no mains component) carry None.
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
from forensics_app.dsp import enf as enf_dsp
from forensics_app.dsp.enf_events import EnfEvent, frequency_steps, phase_jumps
from forensics_app.dsp.enf_reference import (
    EnfMatch,
    EnfReference,
    EnfReferenceError,
    PieceMatch,
    load_reference,
    match_pieces,
    match_reference,
    split_pieces,
)

PHASE_LANE_HZ = 4.0
"""Rate of the stored phase-residual lane (Hz)."""

PARAMS = [
    Param("nominal_hz", "auto", "Nominal mains frequency: auto (50 or 60 Hz by prominence), 50 or 60",
          choices=("auto", "50", "60")),
    Param("harmonics", 4, "Highest harmonic of the mains frequency considered", 1, 4),
    Param("frame_s", 4.0, "ENF analysis frame (s)", 2.0, 16.0),
    Param("hop_s", 1.0, "Hop between ENF frames (s)", 0.25, 4.0),
    Param("max_deviation_hz", 0.25, "Largest deviation from nominal searched (Hz)", 0.05, 0.5),
    Param("min_snr_db", 10.0, "SNR a harmonic needs in a frame to contribute (dB)", 0.0, 60.0),
    Param("min_prominence_db", 6.0, "Prominence the best harmonic needs for a mains component (dB)", 3.0, 60.0),
    Param("min_tracked_fraction", 0.25, "Fraction of frames that must carry an estimate", 0.0, 1.0),
    Param("phase_jump_deg", 10.0, "Smallest phase jump reported (degrees of the tracked harmonic)", 1.0, 180.0),
    Param("frequency_step_hz", 0.01, "Smallest ENF frequency step reported (Hz)", 0.0005, 1.0),
    Param("event_z", 8.0, "z-score (step over its standard error) a phase jump or frequency step needs",
          3.0, 1000.0),
    Param("reference_csv", "", "ENF reference log (CSV of timestamp,frequency); empty = none"),
    Param("reference_max_p", 0.01, "p-value a reference match needs to count", 1e-12, 0.5),
    Param("segment_s", 30.0, "Length of the pieces matched alone against the reference (s)", 10.0, 3600.0),
    Param("channel", -1, "Channel analysed (-1 = mean of all channels)", -1, 255),
]


def _event_likelihood(z: float, z_min: float) -> float:
    """The conservative mapping of a step's z-score (see the module docstring)."""
    return float(min(0.8, 0.4 + 0.4 * (1.0 - math.exp(-(z / z_min - 1.0)))))


def _finite(values: np.ndarray) -> np.ndarray:
    return values[np.isfinite(values)]


def _local_snr(track: enf_dsp.EnfTrack, time_s: float) -> float | None:
    near = np.abs(track.times_s - time_s) <= track.frame_s
    vals = track.snr_db[near]
    vals = vals[np.isfinite(vals)]
    return float(np.median(vals)) if vals.size else None


def _event_finding(ev: EnfEvent, track: enf_dsp.EnfTrack) -> Finding:
    common = {"z": ev.z, "z_min": ev.z_min, "noise": ev.noise, "fit_window_s": ev.window_s, "gap_s": ev.gap_s,
              "local_snr_db": _local_snr(track, ev.time_s), "nominal_hz": track.nominal_hz}
    if ev.kind == "phase_jump":
        k = track.phase_harmonic
        details = {
            "time_s": ev.time_s, "jump_rad": ev.step, "jump_deg": math.degrees(ev.step), "harmonic": k,
            "jump_fundamental_deg_mod": math.degrees(ev.step / k),
            "equivalent_shift_ms": 1000.0 * ev.step / (2.0 * math.pi * k * track.nominal_hz),
            "min_jump_deg": math.degrees(ev.min_step), "unit_of_noise": "rad", **common,
            "note": f"jump measured on harmonic {k}, known modulo 360 degrees of that harmonic",
        }
        label = "ENF phase jump"
    else:
        details = {"time_s": ev.time_s, "step_hz": ev.step, "min_step_hz": ev.min_step, "unit_of_noise": "Hz",
                   **common}
        label = "ENF frequency discontinuity"
    return Finding(label=label, fake_likelihood=_event_likelihood(ev.z, ev.z_min), start_s=ev.time_s,
                   end_s=ev.time_s, details=details)


def _match_details(m: EnfMatch, reference_start: Any) -> dict[str, Any]:
    return {
        "best_offset_s": m.best_offset_s, "timestamp_of_start": m.timestamp_of_start,
        "reference_start": reference_start, "reference_time_s": m.reference_time_s,
        "correlation": m.correlation, "rmse_hz": m.rmse_hz, "residual_rms_hz": m.residual_rms_hz,
        "mean_difference_hz": m.mean_difference_hz, "increment_correlation": m.increment_correlation,
        "significance_z": m.significance, "p_value": m.p_value, "n_points": m.n_points,
        "n_candidates": m.n_candidates, "second_best_ratio": m.second_best_ratio,
    }


def _piece_row(p: PieceMatch, max_p: float) -> dict[str, Any]:
    row: dict[str, Any] = {"start_s": p.start_s, "end_s": p.end_s}
    if p.match is None:
        row.update({"matched": False, "error": p.error})
    else:
        row.update({"matched": p.match.p_value <= max_p, "implied_start_offset_s": p.match.best_offset_s,
                    "p_value": p.match.p_value, "significance_z": p.match.significance,
                    "residual_rms_hz": p.match.residual_rms_hz, "correlation": p.match.correlation})
    return row


def _load(params: Mapping[str, Any]) -> EnfReference | None:
    """The reference log named by ``reference_csv`` (None when empty); bad logs raise early."""
    path = str(params["reference_csv"]).strip()
    if not path:
        return None
    try:
        return load_reference(path)
    except EnfReferenceError as exc:
        raise AnalyzerError(f"audio.enf: ENF reference: {exc}") from exc


def _reference_findings(track: enf_dsp.EnfTrack, ref: EnfReference, params: Mapping[str, Any],
                        events: list[EnfEvent], duration_s: float) -> tuple[list[Finding], dict[str, Any]]:
    """Match the track (whole, and piece by piece) against the reference log."""
    max_p = float(params["reference_max_p"])
    ref_info = {"path": ref.path, "sha256": ref.sha256, "rows": int(ref.hz.size), "step_s": ref.step_s,
                "start": ref.start, "duration_s": ref.duration_s,
                "median_hz": float(np.nanmedian(ref.hz)), "max_p": max_p}
    if abs(ref_info["median_hz"] - track.nominal_hz) > 1.0:
        raise AnalyzerError(f"audio.enf: the reference's median frequency {ref_info['median_hz']:.3f} Hz does not "
                            f"fit the recording's {track.nominal_hz:g} Hz mains component")
    findings: list[Finding] = []
    try:
        whole = match_reference(track.times_s, track.freq_hz, ref, smoothing_s=track.frame_s)
    except EnfReferenceError as exc:
        findings.append(Finding(label="ENF reference: no match", details={"reference": ref_info, "reason": str(exc)}))
        return findings, {"reference_sha256": ref.sha256, "reference_matched": False}
    details = {"reference": ref_info, **_match_details(whole, ref.start), "matched": whole.p_value <= max_p}
    pieces = split_pieces(0.0, duration_s, boundaries_s=tuple(e.time_s for e in events),
                          segment_s=float(params["segment_s"]), min_piece_s=min(15.0, float(params["segment_s"])))
    results = match_pieces(track.times_s, track.freq_hz, ref, pieces=pieces, frame_s=track.frame_s)
    details["pieces"] = [_piece_row(p, max_p) for p in results]
    label = "ENF reference match" if whole.p_value <= max_p else "ENF reference: no significant match"
    findings.append(Finding(label=label, start_s=max(0.0, float(track.times_s[0] - track.frame_s / 2)),
                            end_s=duration_s, details=details))
    # Pieces that match at different times (clusters of implied start offsets).
    tol = max(2.0, 2.0 * ref.step_s)
    good = [p for p in results if p.match is not None and p.match.p_value <= max_p]
    clusters: list[list[PieceMatch]] = []
    for p in sorted(good, key=lambda q: q.match.best_offset_s):  # type: ignore[union-attr]
        if clusters and p.match.best_offset_s - clusters[-1][-1].match.best_offset_s <= tol:  # type: ignore[union-attr]
            clusters[-1].append(p)
        else:
            clusters.append([p])
    if len(clusters) >= 2:
        ordered = sorted(good, key=lambda q: q.start_s)
        for prev, nxt in zip(ordered[:-1], ordered[1:], strict=True):
            gap = abs(nxt.match.best_offset_s - prev.match.best_offset_s)  # type: ignore[union-attr]
            if gap <= tol:
                continue
            p_worst = max(prev.match.p_value, nxt.match.p_value)  # type: ignore[union-attr]
            fl = min(0.85, 0.5 + 0.05 * math.log10(max_p / max(p_worst, 1e-300)))
            findings.append(Finding(
                label="ENF reference: parts match at different times", fake_likelihood=max(0.5, fl),
                start_s=prev.end_s, end_s=max(prev.end_s, nxt.start_s),
                details={"before": _piece_row(prev, max_p), "after": _piece_row(nxt, max_p),
                         "offset_difference_s": gap, "tolerance_s": tol, "reference_sha256": ref.sha256,
                         "max_p": max_p, "p_worst": p_worst},
            ))
    return findings, {"reference_sha256": ref.sha256, "reference_matched": whole.p_value <= max_p,
                      "timestamp_of_start": whole.timestamp_of_start, "reference_offset_s": whole.best_offset_s}


def _lanes(track: enf_dsp.EnfTrack, psi: np.ndarray, valid: np.ndarray) -> tuple[TimeSeries, ...]:
    v = track.valid
    step = max(1, int(round(track.baseband_rate / PHASE_LANE_HZ)))
    keep = np.zeros(len(psi), dtype=bool)
    keep[::step] = True
    keep &= valid & (track.phase_times_s >= 0)
    return (
        TimeSeries("enf_frequency", "Hz", track.times_s[v], track.freq_hz[v]),
        TimeSeries("enf_snr", "dB", track.times_s, np.clip(track.snr_db, -100.0, 200.0)),
        TimeSeries("enf_phase_residual", "rad", track.phase_times_s[keep], psi[keep]),
    )


@analyzer(id="audio.enf", version="1.0.0", media=[MediaKind.AUDIO], label="Electrical network frequency",
          params=PARAMS)
def enf(media: AudioClip, *, params: Mapping[str, Any], progress: Progress) -> AnalysisResult:
    """The mains hum's frequency and phase over time, their breaks, and dating by a reference log.

    Parameters
    ----------
    media : AudioClip
        Samples of shape (n_samples, n_channels), float32 (a memory map is read block by block);
        rate in Hz.
    params : mapping
        See :data:`PARAMS` (times in s, frequencies in Hz, levels in dB).
    progress : Progress
        Reported per block and per chunk of frames; cancellation is checked there.

    Returns
    -------
    AnalysisResult
        "ENF track" (lanes ``enf_frequency`` in Hz, ``enf_snr`` in dB, ``enf_phase_residual`` in
        rad) or "No mains component"; "ENF phase jump" and "ENF frequency discontinuity"
        findings (time, strength, evidence); with a reference, "ENF reference match" (or "no
        significant match"/"no match") and "ENF reference: parts match at different times".
        A recording shorter than two frames gives "Too short for ENF analysis".
    """
    progress.check()
    x = media.samples
    if x.ndim != 2 or x.shape[0] == 0:
        raise AnalyzerError(f"audio.enf: {media.path.name} holds no samples (shape {x.shape})")
    channel = int(params["channel"])
    if channel >= x.shape[1]:
        raise AnalyzerError(f"audio.enf: channel {channel} does not exist ({x.shape[1]} channels)")
    frame_s, hop_s = float(params["frame_s"]), float(params["hop_s"])
    ref = _load(params)
    if media.duration_s < 2.0 * frame_s:
        # Not an error: "analyse everything" on a short clip must not leave a failed run behind.
        progress.report(1.0, "done")
        return AnalysisResult(findings=(Finding(label="Too short for ENF analysis", details={
            "duration_s": media.duration_s, "required_s": 2.0 * frame_s, "frame_s": frame_s}),),
            summary={"duration_s": media.duration_s, "sample_rate_hz": media.rate, "mains_hz": None})
    dec = enf_dsp.decimate_for_enf(x, int(media.rate), channel=channel, progress=progress, span=(0.0, 0.4))
    forced = None if params["nominal_hz"] == "auto" else float(params["nominal_hz"])
    det = enf_dsp.detect_mains(dec, nominal_hz=forced, harmonics=int(params["harmonics"]),
                               max_deviation_hz=float(params["max_deviation_hz"]),
                               threshold_db=float(params["min_prominence_db"]))
    progress.report(0.45, "mains component")
    detection = {
        "nominal_hz": det.nominal_hz, "nominal_choice": params["nominal_hz"],
        "prominence_db": {f"{k:g}": v for k, v in det.prominence_db.items()},
        "min_prominence_db": det.threshold_db, "spectrum_resolution_hz": det.resolution_hz,
        "harmonics_used": list(det.harmonics), "decimated_rate_hz": dec.rate, "channel": channel,
        "best_line_snr_db": max((v for vals in det.prominence_db.values() for v in vals if math.isfinite(v)),
                                default=None),
        "reference_sha256": ref.sha256 if ref is not None else None,
    }
    summary: dict[str, Any] = {"duration_s": media.duration_s, "sample_rate_hz": media.rate,
                               "mains_hz": det.nominal_hz}
    if det.nominal_hz is None:
        progress.report(1.0, "done")
        return AnalysisResult(findings=(Finding(label="No mains component", details={
            **detection, "reason": "no harmonic of 50 or 60 Hz stands out of its neighbourhood by "
                                   f"{det.threshold_db:g} dB (best_line_snr_db: the most prominent line's "
                                   "level over the median of the spectrum 1 to 4 Hz beside it)"}),), summary={**summary, "tracked_fraction": 0.0})
    track = enf_dsp.estimate_track(dec, nominal_hz=det.nominal_hz, harmonics=det.harmonics, frame_s=frame_s,
                                   hop_s=hop_s, max_deviation_hz=float(params["max_deviation_hz"]),
                                   min_snr_db=float(params["min_snr_db"]), progress=progress, span=(0.45, 0.45))
    tracked = float(track.valid.mean()) if track.valid.size else 0.0
    snr_med = float(np.median(track.snr_db)) if track.snr_db.size else float("nan")
    summary.update({"tracked_fraction": tracked, "median_snr_db": snr_med})
    if tracked < float(params["min_tracked_fraction"]) or track.valid.sum() < 3:
        progress.report(1.0, "done")
        return AnalysisResult(findings=(Finding(label="No mains component", details={
            **detection, "tracked_fraction": tracked, "median_snr_db": snr_med,
            "min_tracked_fraction": float(params["min_tracked_fraction"]), "min_snr_db": float(params["min_snr_db"]),
            "reason": f"a mains line stands out in the long-term spectrum but only {100 * tracked:.0f}% of the "
                      f"frames reach {float(params['min_snr_db']):g} dB SNR"}),), summary=summary)
    progress.check()
    jumps, psi, psi_valid = phase_jumps(track, min_jump_rad=math.radians(float(params["phase_jump_deg"])),
                                        z_min=float(params["event_z"]))
    steps = frequency_steps(track, min_step_hz=float(params["frequency_step_hz"]), z_min=float(params["event_z"]))
    progress.report(0.93, "ENF events")
    f_ok = _finite(track.freq_hz)
    track_details = {
        **detection, "frames": int(track.valid.size), "tracked_fraction": tracked, "median_snr_db": snr_med,
        "frame_s": track.frame_s, "hop_s": track.hop_s, "min_snr_db": float(params["min_snr_db"]),
        "max_deviation_hz": float(params["max_deviation_hz"]),
        "frequency_hz": {"median": float(np.median(f_ok)), "min": float(f_ok.min()), "max": float(f_ok.max()),
                         "std": float(np.std(f_ok))},
        "harmonic_median_snr_db": {str(k): float(np.median(track.harmonic_snr_db[:, i]))
                                   for i, k in enumerate(track.harmonics)},
        "phase_harmonic": track.phase_harmonic, "baseband_rate_hz": track.baseband_rate,
        "filter_settle_s": track.settle_s, "phase_jumps": len(jumps), "frequency_steps": len(steps),
    }
    findings = [Finding(label="ENF track", start_s=max(0.0, float(track.times_s[0] - track.frame_s / 2)),
                        end_s=min(media.duration_s, float(track.times_s[-1] + track.frame_s / 2)), details=track_details,
                        series=_lanes(track, psi, psi_valid))]
    events = sorted(jumps + steps, key=lambda e: e.time_s)
    findings += [_event_finding(ev, track) for ev in events]
    if ref is not None:
        progress.check()
        ref_findings, ref_summary = _reference_findings(track, ref, params, events, media.duration_s)
        findings += ref_findings
        summary.update(ref_summary)
    summary.update({"phase_jumps": len(jumps), "frequency_steps": len(steps),
                    "median_frequency_hz": track_details["frequency_hz"]["median"]})
    progress.report(1.0, "done")
    return AnalysisResult(findings=tuple(findings), summary=summary)
