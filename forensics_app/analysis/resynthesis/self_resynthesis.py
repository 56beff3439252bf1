"""Self-resynthesis: re-vocode the questioned audio and compare it with itself.

The recording (any rate, any channel count) is mixed to mono, resampled to 16 kHz and pushed,
chunk by chunk, through local analysis-synthesis vocoders (:mod:`forensics_app.resynthesis.round_trips`:
WORLD, Griffin-Lim, LPC and the project's neural vocoder). Each output is aligned with the input
to the sample and gain-matched, and per-frame and per-band residuals are measured on a 10 ms grid
(:mod:`forensics_app.resynthesis.residuals`).

One descriptive finding per vocoder, labelled "Self-resynthesis residual (<vocoder>)", carries

* a time x frequency map ``resynthesis-residual-<vocoder>`` (dB): the log-spectral distance in 32
  mel-spaced bands, averaged over the active frames of each column;
* lanes ``resynthesis-lsd-<vocoder>`` (dB), ``resynthesis-mcd-<vocoder>`` (dB),
  ``resynthesis-phase-<vocoder>`` (coherence, 0-1) and ``resynthesis-hnr-<vocoder>`` (dB change);
  silent columns are gaps (NaN) in the lanes and 0 in the map;
* the medians of each statistic over the active frames in ``details``, with the alignment and the
  time spent.

No FakeLikelihood is stated here: turning the statistics into a calibrated score is the job of
the trained residual detector.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from forensics_app.analysis.registry import Param, analyzer
from forensics_app.analysis.resynthesis.residual_verdict import residual_verdicts
from forensics_app.domain.errors import AnalyzerError, Cancelled, ForensicsError
from forensics_app.domain.jobs import Progress
from forensics_app.domain.media import AudioClip, MediaKind
from forensics_app.domain.results import AnalysisResult, Finding, TimeFreqMap, TimeSeries
from forensics_app.resynthesis import features as ft
from forensics_app.resynthesis import residuals as rs
from forensics_app.resynthesis import round_trips as rt

#: Shortest recording analysed (s).
MIN_DURATION_S = 0.25

#: Most columns in a residual map or lane (longer recordings get wider columns).
MAX_COLUMNS = 20000

VOCODER_CHOICES = ("all", "classical", *rt.ORDER)

PARAMS = [
    Param("vocoders", "all", "Vocoders to resynthesise with: 'all', 'classical' (no neural) or one id",
          choices=VOCODER_CHOICES),
    Param("chunk_s", ft.CHUNK_S, "Length of the chunks processed at a time (s)", 5.0, 300.0),
    Param("column_s", 0.05, "Time resolution of the residual map and lanes (s)", 0.01, 10.0),
    Param("detector", True, "State the calibrated verdict of the installed residual detector(s) (needs all "
                            "four vocoders)"),
]

EXPLANATION = (
    "Each vocoder analysed the recording and synthesised it again. The map shows, for each moment and "
    "frequency band, how far (in dB) the resynthesis departs from the recording; the lanes show the "
    "log-spectral distance, the mel-cepstral distortion, how well the resynthesis keeps the phase "
    "(1 = kept) and how much it changes the harmonic-to-noise ratio. Speech that already came out of a "
    "similar vocoder sits near a fixed point of that vocoder and changes little: a dark map, a low "
    "distance and, for the neural vocoder, a phase coherence near 1. Natural speech changes more. "
    "What it cannot show: a low residual is not proof of synthesis (clean, steady voices also resynthesise "
    "well) and a high residual is not proof of natural speech (a vocoder unlike these four, noise, "
    "reverberation or a codec leave their own differences). Frames more than "
    f"{rs.SILENCE_DB:.0f} dB below the recording's speech level are left out (gaps in the lanes). "
    "These are measurements, not a verdict: no likelihood of synthesis is stated here."
)


def _vocoders(spec: str) -> tuple[list[str], dict[str, str]]:
    """Round-trip ids to run and the ones skipped (id -> reason)."""
    try:
        wanted = list(rt.select(spec))
    except ForensicsError as exc:
        raise AnalyzerError(str(exc)) from exc
    skipped: dict[str, str] = {}
    if "neural" in wanted:
        try:
            rt.neural_weights()
        except ForensicsError as exc:
            if spec.strip().lower() == "neural":
                raise AnalyzerError(str(exc)) from exc
            wanted.remove("neural")
            skipped["neural"] = str(exc)
    return wanted, skipped


def _pool(values: np.ndarray, active: np.ndarray, k: int) -> np.ndarray:
    """Mean over the active frames of each run of ``k`` frames, NaN where none is active.

    Parameters
    ----------
    values : np.ndarray
        Shape (..., n_frames).
    active : np.ndarray
        Shape (n_frames,), bool.
    k : int
        Frames per column.

    Returns
    -------
    np.ndarray
        Shape (..., ceil(n_frames / k)), float64.
    """
    n = active.size
    pad = -n % k
    v = np.where(active, values, 0.0)
    v = np.pad(v, [(0, 0)] * (v.ndim - 1) + [(0, pad)])
    cnt = np.pad(active.astype(np.float64), (0, pad)).reshape(-1, k).sum(axis=1)
    tot = v.reshape(*v.shape[:-1], -1, k).sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(cnt > 0, tot / cnt, np.nan)


def _median(values: np.ndarray, active: np.ndarray) -> float | None:
    return float(np.median(values[active])) if active.any() else None


def _finding(track: ft.ResidualTrack, *, column_frames: int, duration_s: float) -> Finding:
    """The finding of one round trip: map, lanes and medians."""
    f, vid = track.frames, track.round_trip
    trip = rt.get(vid)
    k = column_frames
    times = _pool(f.times_s, np.ones(f.n_frames, bool), k)
    band_map = np.nan_to_num(_pool(f.band_lsd_db.astype(np.float64), f.active, k), nan=0.0)
    lanes = (
        TimeSeries(f"resynthesis-lsd-{vid}", "dB", times, _pool(f.lsd_db, f.active, k)),
        TimeSeries(f"resynthesis-mcd-{vid}", "dB", times, _pool(f.mcd_db, f.active, k)),
        TimeSeries(f"resynthesis-phase-{vid}", "coherence", times, _pool(f.phase_coherence, f.active, k)),
        TimeSeries(f"resynthesis-hnr-{vid}", "dB", times, _pool(f.hnr_change_db, f.active, k)),
    )
    tf_map = TimeFreqMap(name=f"resynthesis-residual-{vid}", unit="dB", times_s=times,
                         freqs_hz=rs.band_centres_hz(), values=band_map)
    al = track.alignments
    waveform = [a for a in al if a.method == "waveform"]
    medians = {
        "median_lsd_db": _median(f.lsd_db, f.active),
        "median_mcd_db": _median(f.mcd_db, f.active),
        "median_phase_coherence": _median(f.phase_coherence, f.active),
        "median_hnr_change_db": _median(f.hnr_change_db, f.active),
    }
    details: dict[str, Any] = {
        "round_trip": vid, "vocoder": trip.label, "method": trip.description, **medians,
        "active_frames": int(f.active.sum()), "frames": f.n_frames,
        "masked_fraction": float(1.0 - f.active.mean()) if f.n_frames else 1.0,
        "alignment": {
            "chunks": len(al), "waveform_aligned_chunks": len(waveform),
            "lags_samples": [a.lag for a in al], "gains_db": [round(float(20 * np.log10(a.gain)), 3) for a in al],
            "correlations": [round(a.correlation, 4) for a in al],
        },
        "seconds": round(track.seconds, 3),
        "x_real_time": round(duration_s / track.seconds, 2) if track.seconds > 0 else None,
        "explanation": EXPLANATION,
    }
    return Finding(label=f"Self-resynthesis residual ({vid})", fake_likelihood=None, details=details,
                   series=lanes, maps=(tf_map,))


@analyzer(id="audio.self_resynthesis", version="1.0.0", media=[MediaKind.AUDIO],
          label="Self-resynthesis residuals", params=PARAMS,
          description="Re-vocode the audio with WORLD, Griffin-Lim, LPC and the neural vocoder and map "
                      "what changes (residual heatmaps and lanes)")
def self_resynthesis(media: AudioClip, *, params: Mapping[str, Any], progress: Progress) -> AnalysisResult:
    """Resynthesise the recording with each selected vocoder and report the residuals."""
    samples = np.asarray(media.samples)
    rate = int(media.rate)
    if samples.ndim != 2 or samples.shape[0] == 0:
        raise AnalyzerError("the recording holds no audio samples: nothing to resynthesise")
    duration = samples.shape[0] / rate
    if duration < MIN_DURATION_S:
        raise AnalyzerError(f"the recording is {duration:.3f} s long; self-resynthesis needs at least "
                            f"{MIN_DURATION_S} s")
    ids, skipped = _vocoders(str(params["vocoders"]))
    if not ids:
        raise AnalyzerError(f"no vocoder is available: {'; '.join(skipped.values())}")
    try:
        rset = ft.residual_tracks(samples, rate=rate, round_trip_ids=ids, chunk_s=float(params["chunk_s"]),
                                  progress=progress.sub(0.0, 0.9))
    except Cancelled:
        raise
    except ForensicsError as exc:
        raise AnalyzerError(f"self-resynthesis: {exc}") from exc
    progress.check()
    frame_s = rs.HOP / rs.RATE
    column_s = max(float(params["column_s"]), rset.duration_s / MAX_COLUMNS)
    k = max(1, int(round(column_s / frame_s)))
    findings = []
    for i, track in enumerate(rset.tracks.values()):
        progress.report(0.9 + 0.1 * i / len(rset.tracks), f"maps of {track.round_trip}")
        findings.append(_finding(track, column_frames=k, duration_s=rset.duration_s))
    verdicts, models, not_scored = residual_verdicts(rset) if params["detector"] else ([], [], {})
    findings = verdicts + findings
    progress.report(1.0, "done")
    total = sum(t.seconds for t in rset.tracks.values())
    summary = {
        "vocoders": ids, "skipped": skipped,
        "medians": {f.details["round_trip"]: {m: f.details[m] for m in
                                              ("median_lsd_db", "median_mcd_db", "median_phase_coherence",
                                               "median_hnr_change_db")} for f in findings
                    if "round_trip" in f.details},
        "timings_s": {t.round_trip: round(t.seconds, 3) for t in rset.tracks.values()},
        "x_real_time": {t.round_trip: round(rset.duration_s / t.seconds, 2) if t.seconds > 0 else None
                        for t in rset.tracks.values()},
        "total_seconds": round(total, 3),
        "device": rt.neural_device() if "neural" in ids else "cpu",
        "input": {"rate_hz": rate, "channels": int(samples.shape[1]), "duration_s": round(duration, 3)},
        "analysis_rate_hz": rt.RATE, "chunks": rset.chunks, "chunk_s": float(params["chunk_s"]),
        "speech_level_dbfs": round(rset.level_db, 2), "gain_db": round(rset.gain_db, 2),
        "frame": {"length_s": rs.FRAME / rs.RATE, "hop_s": frame_s, "bands": rs.N_BANDS,
                  "silence_db_below_speech_level": rs.SILENCE_DB},
        "column_s": k * frame_s,
        "explanation": EXPLANATION,
        "models": models, "detector_not_scored": not_scored,
    }
    return AnalysisResult(findings=tuple(findings), summary=summary)
