"""Lossy-codec history: traces of earlier MP3/AAC coding in audio presented as lossless.

Three kinds of trace are measured (frequencies in Hz, times in s, levels in dB; spectra as in
:mod:`~forensics_app.analysis.audio.spectral_frames`):

* **High cut.** The long-term average spectrum of the non-silent frames (``frame_s`` Blackman-
  Harris frames every ``hop_s``, median-smoothed over ``smooth_hz``) gives the content edge (the
  highest frequency within ``floor_db`` of the maximum), the cutoff below it (half-amplitude
  point, :func:`~forensics_app.analysis.audio.spectral_frames.refined_cutoff`) and the edge
  drop (level just below minus level above the cutoff). A *steep cut* has a drop of at least
  ``min_drop_db``, lies between ``min_cut_hz`` and ``max_cut_ratio`` of the Nyquist frequency
  (higher cuts are ordinary anti-alias filters) and is a *codec-typical* cut unless it sits at
  the Nyquist frequency of a standard lower rate (then it is most likely resampling). Lossy
  encoders low-pass by bit rate; this analyzer measured (stereo programme, 44.1 kHz) LAME at
  15.2 kHz for 96 kb/s, 16.5 for 128, 17.3 for 160, 18.6 for 192, 19.3 for 256 and 20.0 for
  320; FFmpeg's AAC at 12.4 kHz for 64, 15.8 for 96, 17.2 for 128, 17.9 for 160, 19.3 for 192
  and no cut at 256. The ``cutoff`` lane is the per-frame content edge.
* **Spectral holes.** The power in bands of ``hole_band_hz`` per frame (dB); a cell is a hole
  when it lies ``hole_db`` or more below the median of the same band in the two frames before
  and the two after (codecs switch bands off for one or a few blocks; stable gaps between
  harmonics and onsets do not qualify) and that median lies ``hole_db`` above the format's
  rounding-noise floor. The hole fraction counts non-silent cells from ``hole_min_hz`` up to
  0.95 of the cutoff (or of the Nyquist frequency); the ``hole_fraction`` lane gives it per
  ``hole_window_s``. Measured on broadband programme: 0 for clean audio, 0.0035 after LAME at
  96 kb/s, 0.037 at 64 kb/s; higher bit rates and AAC (which fills bands with noise) leave
  almost none.
* **Codec frame grid** (:mod:`~forensics_app.analysis.audio.codec_grid`): the AAC 1024-sample
  MDCT grid (z at least ``aac_min_z``) and the MP3 576-sample granule grid (z at least
  ``mp3_min_z`` and ratio at least ``mp3_min_ratio``), the codec's own structure and the only
  trace that names the family. Measured with the default block counts on 4-6 s of programme:
  AAC z 48-250 at 64-256 kb/s; MP3 z 8-13 at 96-160 kb/s and 5.7-7.7 at 192 kb/s (so only
  sometimes detected), not detected at 64 kb/s (z 3.4-3.6) or from 256 kb/s up; never-coded
  audio and the other codec: AAC z at most 4.4, MP3 z at most 4.0. (MP3's scale-factor-band layout is not measured as such: the
  granule grid proved the more robust MP3 trace.)

Estimate: the family is AAC or MP3 when its grid shows (the stronger one if both), otherwise
"lossy (MP3/AAC)" when a codec-typical cut or holes are present, and "other-lowpass" for a
steep cut at a standard rate's Nyquist frequency with neither holes nor a grid (reported as
descriptive, not as lossy history). The bit-rate class (for 32-48 kHz audio, assuming a stereo
encode; a mono encode at the same bit rate keeps more bandwidth and reads one class higher):
cutoff below 16 kHz or a hole fraction of at least 0.02 -> "low (<= 96 kb/s)", 16 to 18.3 kHz
-> "medium (128-160 kb/s)", above -> "high (>= 192 kb/s)"; a grid without any cut -> "high".

Evidence strength ``s`` in [0, 1]: ``min(1, s_grid + s_cut + s_holes)`` with
``s_grid = min(1, z / (2 * min_z))`` when a grid is detected, ``s_cut`` 0.175 to 0.35 for a
codec-typical cut (or any steep cut when a grid is detected) (growing with the drop from ``min_drop_db`` to ``min_drop_db + 15``) and
``s_holes = 0.4 * min(1, fraction / (10 * hole_threshold))`` when the fraction reaches
``hole_threshold``. Confidence: "high" for s >= 0.75, "medium" for s >= 0.4, else "low".

Content that reaches the Nyquist frequency (no steep cut, edge at least ``FULL_BAND_RATIO`` of
Nyquist) caps ``s`` at ``FULL_BAND_MAX_STRENGTH`` (low confidence): every MP3/AAC encoder
low-passes below Nyquist, and formant-synthesised speech (espeak-ng) was measured to show both a
granule-grid z above threshold and hole fractions of 0.02-0.03 without ever being coded.

FakeLikelihood (an indicator, not a calibrated detector): only when the file presents itself as
lossless (WAV, FLAC, AIFF... or integer PCM) does lossy history contradict it:
``0.5 + 0.3 * s`` (at most 0.8); a low-confidence result is reported as "Possible lossy-codec
history (low confidence)" without a FakeLikelihood. In a lossy container the traces are expected: None. "No
lossy-codec traces found" and "other-lowpass" are descriptive (None).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from forensics_app.analysis.audio import codec_grid
from forensics_app.analysis.audio.hole_map import HoleCounter
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

ANALYZER_ID = "audio.codec_history"
_BATCH = 256
LOSSLESS_SUFFIXES = frozenset({".wav", ".wave", ".bwf", ".rf64", ".w64", ".flac", ".aif", ".aiff", ".aifc", ".caf",
                               ".au", ".snd", ".wv", ".tta", ".ape"})
LOSSY_SUFFIXES = frozenset({".mp3", ".mp2", ".m4a", ".aac", ".ogg", ".oga", ".opus", ".wma", ".amr", ".mp4",
                            ".m4v", ".mov", ".mkv", ".webm", ".3gp", ".avi"})

PARAMS = [
    Param("frame_s", 0.0232, "Analysis frame length (s)", 0.004, 0.5),
    Param("hop_s", 0.0116, "Hop between analysis frames (s)", 0.001, 0.5),
    Param("silence_dbfs", -60.0, "Frames quieter than this RMS level are left out (dBFS)", -200.0, 0.0),
    Param("floor_db", 60.0, "Level below the maximum that still counts as content (dB)", 10.0, 150.0),
    Param("snr_db", 10.0, "Margin above the format's rounding-noise floor for content (dB)", 0.0, 60.0),
    Param("smooth_hz", 250.0, "Median filter along frequency (Hz)", 0.0, 5000.0),
    Param("min_drop_db", 30.0, "Drop across the cutoff that makes a steep cut (dB)", 5.0, 150.0),
    Param("min_cut_hz", 3000.0, "Lowest cutoff examined as a codec cut (Hz)", 500.0, 48000.0),
    Param("max_cut_ratio", 0.93, "Cuts above this fraction of Nyquist are anti-alias filters", 0.5, 1.0),
    Param("hole_db", 15.0, "Depth below the band's time neighbours that makes a hole (dB)", 3.0, 100.0),
    Param("hole_band_hz", 344.0, "Band width of the hole map (Hz)", 50.0, 5000.0),
    Param("hole_min_hz", 3000.0, "Lowest frequency of the hole count (Hz)", 0.0, 48000.0),
    Param("hole_window_s", 1.0, "Window of the hole-fraction lane (s)", 0.05, 3600.0),
    Param("hole_threshold", 0.003, "Hole fraction that counts as a trace", 0.0, 1.0),
    Param("aac_min_z", 10.0, "AAC grid z that counts as detected", 1.0, 1e6),
    Param("mp3_min_z", 6.5, "MP3 grid z that counts as detected", 1.0, 1e6),
    Param("mp3_min_ratio", 1.15, "MP3 grid ratio that counts as detected", 1.0, 100.0),
    Param("aac_frames", 32, "Blocks examined for the AAC grid", 4, 4096),
    Param("mp3_frames", 256, "Blocks examined for the MP3 grid", 4, 8192),
]


def presented_as(media: AudioClip) -> str:
    """``"lossless"``, ``"lossy"`` or ``"unknown"``: what the file's container claims to be."""
    suffix = media.path.suffix.lower()
    if suffix in LOSSY_SUFFIXES:
        return "lossy"
    if suffix in LOSSLESS_SUFFIXES or media.sample_format.upper().startswith(("PCM", "FLOAT", "DOUBLE", "ALAC")):
        return "lossless"
    return "unknown"


def _spectral_pass(x: np.ndarray, *, rate: int, frame: int, hop: int, params: Mapping[str, Any], floor_q: float,
                   progress: Progress) -> dict[str, Any]:
    """Per-frame content edge, hole counts per window and band, long-term spectrum (0 to 0.6)."""
    n_fft = n_fft_for(frame)
    freqs = np.fft.rfftfreq(n_fft, d=1.0 / rate)
    bin_hz = float(freqs[1])
    median_bins = max(int(round(float(params["smooth_hz"]) / bin_hz)) | 1, 1)
    n_frames = frame_count(x.shape[0], frame=frame, hop=hop)
    abs_floor = floor_q + float(params["snr_db"])
    holes = HoleCounter(freqs=freqs, band_hz=float(params["hole_band_hz"]), hole_db=float(params["hole_db"]),
                        floor_db=floor_q, window_frames=max(int(round(float(params["hole_window_s"]) * rate / hop)), 1),
                        n_frames=n_frames)
    edge = np.full(n_frames, np.nan)
    loud_all = np.zeros(n_frames, bool)
    long_term = np.zeros(freqs.size)
    for b in iter_spectra(x, frame=frame, hop=hop, batch=_BATCH, progress=progress, span=0.6, message="spectra"):
        k = b.power.shape[0]
        loud = to_db(b.mean_square) >= float(params["silence_dbfs"])
        loud_all[b.first:b.first + k] = loud
        holes.add(b.power, loud)
        if loud.any():
            levels = smoothed_levels_db(b.power[loud], median_bins=median_bins)
            edge[b.first + np.flatnonzero(loud)] = freqs[edge_bins(levels, floor_db=float(params["floor_db"]),
                                                                    abs_floor_db=abs_floor)]
            long_term += b.power[loud].sum(axis=0)
    holes.finish()
    n_loud = int(loud_all.sum())
    ltas = smoothed_levels_db(long_term / max(n_loud, 1), median_bins=median_bins) if n_loud else None
    return {"freqs": freqs, "edge": edge, "loud": loud_all, "ltas_db": ltas, "holes": holes, "n_frames": n_frames,
            "abs_floor_db": abs_floor, "median_bins": median_bins}


def _cut(sp: Mapping[str, Any], *, rate: int, params: Mapping[str, Any]) -> dict[str, Any]:
    """The high cut of the long-term spectrum and whether it is steep / codec-typical."""
    nyquist = rate / 2.0
    out: dict[str, Any] = {"content_edge_hz": None, "cutoff_hz": None, "edge_drop_db": None, "transition_hz": None,
                           "steep": False, "codec_typical": False, "standard_rate_hz": None}
    ltas = sp["ltas_db"]
    if ltas is None:
        return out
    freqs = sp["freqs"]
    top = int(edge_bins(ltas[None, :], floor_db=float(params["floor_db"]), abs_floor_db=sp["abs_floor_db"])[0])
    content_edge = float(freqs[top])
    cutoff = refined_cutoff(ltas, freqs, content_edge)
    drop = edge_drop_db(ltas, freqs, cutoff)
    steep = (drop is not None and drop >= float(params["min_drop_db"])
             and float(params["min_cut_hz"]) <= cutoff <= float(params["max_cut_ratio"]) * nyquist)
    standard = rate_for_cutoff(cutoff, rate) if steep else None
    out.update(content_edge_hz=content_edge, cutoff_hz=cutoff, edge_drop_db=drop,
               transition_hz=content_edge - cutoff, steep=bool(steep), codec_typical=bool(steep and standard is None),
               standard_rate_hz=standard, fraction_of_nyquist=cutoff / nyquist)
    return out


def bitrate_class(*, rate: int, cutoff_hz: float | None, steep_cut: bool, hole_fraction: float) -> str | None:
    """Bit-rate class from the cutoff and the hole fraction (module docstring); None when unknown."""
    if not 32000 <= rate <= 48000:
        return None
    if hole_fraction >= 0.02:
        return "low (<= 96 kb/s)"
    if not steep_cut or cutoff_hz is None:
        return "high (>= 192 kb/s)"
    if cutoff_hz < 16000.0:
        return "low (<= 96 kb/s)"
    if cutoff_hz < 18300.0:
        return "medium (128-160 kb/s)"
    return "high (>= 192 kb/s)"


FULL_BAND_RATIO = 0.97
"""Content edge at or above this fraction of the Nyquist frequency counts as full band."""
FULL_BAND_MAX_STRENGTH = 0.35
"""Evidence strength cap for full-band content (below the "medium" confidence level)."""


def evidence_strength(*, grid_z: float | None, grid_min_z: float, codec_cut: bool, drop_db: float | None,
                      min_drop_db: float, hole_fraction: float, hole_threshold: float) -> float:
    """Evidence strength s in [0, 1] (module docstring)."""
    s = 0.0
    if grid_z is not None:
        s += min(1.0, grid_z / (2.0 * grid_min_z))
    if codec_cut and drop_db is not None:
        s += 0.35 * min(max(0.5 + (drop_db - min_drop_db) / 30.0, 0.5), 1.0)
    if hole_threshold > 0 and hole_fraction >= hole_threshold:
        s += 0.4 * min(1.0, hole_fraction / (10.0 * hole_threshold))
    return min(1.0, s)


def confidence(strength: float) -> str:
    """"high" / "medium" / "low" for an evidence strength."""
    return "high" if strength >= 0.75 else "medium" if strength >= 0.4 else "low"


@analyzer(id=ANALYZER_ID, version="1.0.0", media=[MediaKind.AUDIO], label="Lossy-codec history", params=PARAMS)
def codec_history(media: AudioClip, *, params: Mapping[str, Any], progress: Progress) -> AnalysisResult:
    """Traces of earlier MP3/AAC coding: high cut, spectral holes and the codec's frame grid.

    Parameters
    ----------
    media : AudioClip
        Samples of shape (n_samples, n_channels), float32 (may be a memory map); rate in Hz.
    params : mapping
        See :data:`PARAMS`.
    progress : Progress
        Reported per batch of frames and grid offsets; cancellation is checked there.

    Returns
    -------
    AnalysisResult
        One finding, "Lossy-codec history" (family, bit-rate class, confidence, evidence),
        "Steep lowpass without codec traces" (family "other-lowpass") or "No lossy-codec
        traces found", carrying the lanes ``cutoff`` (Hz) and ``hole_fraction``.
    """
    progress.check()
    x = media.samples
    if x.ndim != 2 or x.shape[0] == 0 or x.shape[1] == 0:
        raise AnalyzerError(f"{ANALYZER_ID}: {media.path.name} holds no samples (shape {x.shape})")
    rate = int(media.rate)
    nyquist = rate / 2.0
    frame = max(int(round(float(params["frame_s"]) * rate)), 64)
    hop = max(int(round(float(params["hop_s"]) * rate)), 1)
    floor_q = quantisation_floor_db(media.sample_format, frame=frame, n_channels=x.shape[1])
    sp = _spectral_pass(x, rate=rate, frame=frame, hop=hop, params=params, floor_q=floor_q, progress=progress)
    cut = _cut(sp, rate=rate, params=params)

    upper = 0.95 * (cut["cutoff_hz"] if cut["steep"] else nyquist)
    hole_fraction, hole_t, hole_lane, hole_cells = sp["holes"].fractions(
        lo_hz=float(params["hole_min_hz"]), hi_hz=upper, hop_s=hop / rate, frame_s=frame / rate)
    hole_threshold = float(params["hole_threshold"])

    # Codec frame grids, examined below the content's edge.
    grid_top = min(14000.0, 0.9 * (cut["cutoff_hz"] if cut["steep"] else (cut["content_edge_hz"] or nyquist)))
    loud_starts = np.flatnonzero(sp["loud"]) * hop
    progress.report(0.6, "AAC frame grid")
    aac = codec_grid.aac_grid(x, loud_starts, rate=rate, band_hz=(2000.0, grid_top),
                              frames=int(params["aac_frames"]), progress=progress)
    progress.report(0.8, "MP3 granule grid")
    mp3 = codec_grid.mp3_grid(x, loud_starts, rate=rate, band_hz=(2000.0, grid_top),
                              frames=int(params["mp3_frames"]), progress=progress)
    aac_ok = aac is not None and aac.z >= float(params["aac_min_z"])
    mp3_ok = mp3 is not None and mp3.z >= float(params["mp3_min_z"]) and mp3.ratio >= float(params["mp3_min_ratio"])
    grid = None
    if aac_ok and mp3_ok:
        grid = aac if aac.z / float(params["aac_min_z"]) >= mp3.z / float(params["mp3_min_z"]) else mp3
    elif aac_ok or mp3_ok:
        grid = aac if aac_ok else mp3
    grid_min_z = float(params["aac_min_z"]) if grid is aac else float(params["mp3_min_z"])

    holes_found = hole_threshold > 0 and hole_fraction >= hole_threshold
    # A steep cut at a standard rate's Nyquist frequency counts as the codec's lowpass only when
    # the codec's grid shows (otherwise it is most likely resampling).
    codec_cut = cut["codec_typical"] or (cut["steep"] and grid is not None)
    lossy = grid is not None or codec_cut or holes_found
    evidence = []
    if grid is not None:
        evidence.append(f"{grid.codec} frame grid (z {grid.z:.1f}, offset {grid.offset} samples)")
    if codec_cut:
        evidence.append(f"steep high cut at {cut['cutoff_hz']:.0f} Hz (drop {cut['edge_drop_db']:.0f} dB)")
    if holes_found:
        evidence.append(f"spectral holes in {100 * hole_fraction:.2f}% of time-frequency cells")
    strength = evidence_strength(grid_z=grid.z if grid is not None else None, grid_min_z=grid_min_z,
                                 codec_cut=codec_cut, drop_db=cut["edge_drop_db"],
                                 min_drop_db=float(params["min_drop_db"]), hole_fraction=hole_fraction,
                                 hole_threshold=hole_threshold) if lossy else 0.0
    full_band = (not cut["steep"] and cut["cutoff_hz"] is not None
                 and cut["cutoff_hz"] >= FULL_BAND_RATIO * nyquist)
    if lossy and full_band:
        # MP3 and AAC encoders low-pass below the Nyquist frequency at every bit rate; content
        # that reaches it contradicts a codec history, whatever the grid or holes suggest
        # (formant-synthesised speech, for one, shows both).
        strength = min(strength, FULL_BAND_MAX_STRENGTH)
        evidence.append(f"but content reaches the Nyquist frequency ({cut['cutoff_hz']:.0f} Hz): no codec lowpass")
    if grid is not None:
        family = grid.codec
    elif lossy:
        family = "lossy (MP3/AAC)"
    elif cut["steep"]:
        family = "other-lowpass"
    else:
        family = None
    container = presented_as(media)
    details = {
        "family": family, "confidence": confidence(strength) if lossy else None, "evidence_strength": strength,
        "evidence": evidence, "presented_as": container,
        "bitrate_class": bitrate_class(rate=rate, cutoff_hz=cut["cutoff_hz"], steep_cut=cut["steep"],
                                       hole_fraction=hole_fraction) if lossy else None,
        "cut": cut, "hole_fraction": hole_fraction, "hole_cells": hole_cells, "hole_threshold": hole_threshold,
        "hole_band_hz": [float(params["hole_min_hz"]), upper], "hole_db": float(params["hole_db"]),
        "aac_grid": aac.as_dict() if aac is not None else None, "aac_detected": aac_ok,
        "mp3_grid": mp3.as_dict() if mp3 is not None else None, "mp3_detected": mp3_ok,
        "thresholds": {k: float(params[k]) for k in ("min_drop_db", "max_cut_ratio", "min_cut_hz", "aac_min_z",
                                                     "mp3_min_z", "mp3_min_ratio", "hole_threshold")},
        "sample_rate_hz": rate, "nyquist_hz": nyquist, "frame_s": frame / rate, "hop_s": hop / rate,
    }
    keep = np.isfinite(sp["edge"])
    times = frame_times(sp["n_frames"], frame=frame, hop=hop, rate=rate)
    series = (TimeSeries("cutoff", "Hz", times[keep], sp["edge"][keep]),
              TimeSeries("hole_fraction", "fraction", hole_t, hole_lane))
    if lossy and confidence(strength) == "low":
        fl, label = None, "Possible lossy-codec history (low confidence)"
    elif lossy:
        fl = 0.5 + 0.3 * strength if container == "lossless" else None
        label = "Lossy-codec history"
    elif family == "other-lowpass":
        fl, label = None, "Steep lowpass without codec traces"
        details["note"] = (f"content ends steeply at {cut['cutoff_hz']:.0f} Hz, the Nyquist frequency of "
                           f"{cut['standard_rate_hz']} Hz audio: most likely resampling, no codec structure found")
    else:
        fl, label = None, "No lossy-codec traces found"
    progress.report(1.0, "done")
    summary = {"family": family, "confidence": details["confidence"], "bitrate_class": details["bitrate_class"],
               "cutoff_hz": cut["cutoff_hz"], "hole_fraction": hole_fraction, "aac_grid_z": aac.z if aac else None,
               "mp3_grid_z": mp3.z if mp3 else None, "presented_as": container}
    return AnalysisResult(findings=(Finding(label=label, fake_likelihood=fl, details=details, series=series),),
                          summary=summary)
