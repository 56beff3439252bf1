"""Synthetic-speech detection: trained detectors side by side, localised, explained, calibrated.

Every selected detector (the project's shipped models and any imported third-party weights) scores
the recording in sliding windows (each model's own window length, every ``hop_s``), batched, on
the compute device. Raw scores become natural-log likelihood ratios (synthetic vs bona fide) through
each model's calibration, fitted on speakers it was not trained on; FakeLikelihood = sigmoid(LLR),
the posterior at equal priors.

* The hop is each model's own (``hop_s`` in its manifest entry: 0.5 s for LFCC-LCNN, half a
  window for the official AASIST files) unless ``hop_s`` is set.
* Windows that hold no speech energy (RMS below ``silence_dbfs`` or more than 40 dB under the
  recording's loud level) are not scored: detectors trained on speech say nothing reliable about
  silence. Their lane values are gaps.
* LLRs are limited to what the validation data can support: at most ln(number of bona fide
  validation recordings) for synthetic and -ln(number of spoofed ones) for bona fide (about +-4
  to 6); the unbounded value is kept in the finding's details.
* File verdict per model: the mean raw score over the scored windows, calibrated, placed in the
  model's three bands (supports synthetic / inconclusive / supports bona fide) whose thresholds and
  error rates were measured on validation speakers.
* Fused verdict: the mean of the models' calibrated LLRs (averaging, not summing: the models saw
  the same training data and are not independent evidence), placed in the widest of the models'
  bands. The fusion itself has not been validated separately; the report says so.
* Suspicious segments: runs of windows whose fused LLR is above 0, ranked by their peak; each gets
  an explanation map per model of the window where that model's score peaks (integrated gradients
  for LFCC-LCNN, graph-attention weights for AASIST) drawn over the spectrogram.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from forensics_app.analysis.registry import Param, analyzer
from forensics_app.detectors.summary import validation_summary
from forensics_app.domain.errors import AnalyzerError
from forensics_app.domain.jobs import Progress
from forensics_app.domain.media import AudioClip, MediaKind
from forensics_app.domain.results import AnalysisResult, Finding, TimeSeries

if TYPE_CHECKING:  # torch is imported only when a detector runs
    from forensics_app.detectors.detector import Detector

BANDS = ("supports synthetic", "inconclusive", "supports bona fide")

PARAMS = [
    Param("models", "all", "Detector model ids, comma-separated, or 'all' (every installed detector)"),
    Param("hop_s", 0.0, "Window hop (s); 0 = each model's own (its manifest hop_s)", 0.0, 10.0),
    Param("top_segments", 3, "Suspicious segments to report and explain", 0, 20),
    Param("explain", True, "Compute explanation maps for the suspicious segments"),
    Param("silence_dbfs", -55.0, "Windows quieter than this RMS (dBFS) are not scored", -120.0, 0.0),
]


def sigmoid(x: np.ndarray | float) -> np.ndarray:
    """Logistic function, numerically safe for large |x|."""
    x = np.asarray(x, dtype=np.float64)
    return np.exp(-np.logaddexp(0.0, -x))


@dataclass(frozen=True)
class ModelScores:
    """One detector's window scores on one recording."""

    detector: Detector
    starts_s: np.ndarray
    ends_s: np.ndarray
    llr: np.ndarray  # NaN where the window was not scored (silence)
    file_llr: float
    unbounded_llr: float
    band: str
    padded: bool

    @property
    def centres_s(self) -> np.ndarray:
        """Window centres (s)."""
        return 0.5 * (self.starts_s + self.ends_s)


def select_models(spec: str) -> list[str]:
    """Model ids named by the ``models`` parameter (``"all"`` = every calibrated installed detector)."""
    from forensics_app.detectors.detector import available_detectors

    entries = available_detectors()
    installed = [e.id for e in entries]
    ready = [e.id for e in entries if e.calibration is not None and e.bands is not None]
    if not ready:
        raise AnalyzerError("no speech detector is installed: the shipped models are missing from "
                            "models/ and none has been imported and calibrated "
                            "(forensics-app models import FILE; forensics-app train calibrate-imported)")
    if spec.strip().lower() in {"", "all"}:
        return ready
    wanted = [s.strip() for s in spec.split(",") if s.strip()]
    unknown = [w for w in wanted if w not in installed]
    if unknown:
        raise AnalyzerError(f"unknown detector(s) {unknown}; installed: {installed}")
    uncalibrated = [w for w in wanted if w not in ready]
    if uncalibrated:
        raise AnalyzerError(f"detector(s) {uncalibrated} have no calibration on validation data yet, so "
                            "their scores cannot be stated as likelihood ratios; run "
                            "forensics-app train calibrate-imported --model ID first")
    return wanted


def _speech_mask(wave: np.ndarray, rate: int, starts: np.ndarray, ends: np.ndarray,
                 floor_dbfs: float) -> np.ndarray:
    """True for windows with enough energy to be speech (see the module docstring)."""
    rms = np.empty(starts.size)
    for i, (a, b) in enumerate(zip(starts, ends, strict=True)):
        seg = wave[int(a * rate):max(int(b * rate), int(a * rate) + 1)]
        rms[i] = float(np.sqrt(np.mean(np.square(seg, dtype=np.float64)))) if seg.size else 0.0
    db = 20 * np.log10(np.maximum(rms, 1e-12))
    loud = np.percentile(db, 95) if db.size else 0.0
    return (db >= floor_dbfs) & (db >= loud - 40.0)


def band_of(llr: float, t_low: float, t_high: float) -> str:
    """The verdict band of an LLR."""
    if llr >= t_high:
        return BANDS[0]
    if llr <= t_low:
        return BANDS[2]
    return BANDS[1]


def _thresholds(det: Detector) -> tuple[float, float]:
    bands = det.entry.bands
    if bands is None:
        raise AnalyzerError(f"model {det.entry.id} has no validated verdict bands")
    return float(bands.t_low), float(bands.t_high)


def score_model(det: Detector, wave: np.ndarray, rate: int, *, hop_s: float | None, silence_dbfs: float,
                progress: Progress) -> ModelScores:
    """Score one recording with one detector (window LLRs, file LLR and band)."""
    ws = det.score_wave(wave, rate=rate, hop_s=hop_s, progress=progress)
    llr = det.llr(ws.raw)
    mask = _speech_mask(wave, rate, ws.starts_s, ws.ends_s, silence_dbfs)
    if not mask.any():
        raise AnalyzerError("the recording holds no window with speech-level energy "
                            f"(every window is below {silence_dbfs:.0f} dBFS RMS): nothing to score")
    file_llr = float(det.llr(float(np.mean(ws.raw[mask]))))
    unbounded = float(det.llr(float(np.mean(ws.raw[mask])), bounded=False))
    t_low, t_high = _thresholds(det)
    return ModelScores(detector=det, starts_s=ws.starts_s, ends_s=ws.ends_s,
                       llr=np.where(mask, llr, np.nan), file_llr=file_llr, unbounded_llr=unbounded,
                       band=band_of(file_llr, t_low, t_high), padded=bool(ws.padded))


def fuse(scores: Sequence[ModelScores]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean calibrated LLR over models on the first model's window grid.

    Returns
    -------
    starts_s, ends_s, llr : np.ndarray
        The grid's windows and the fused LLR (NaN where no model scored).
    """
    base = scores[0]
    grid = base.centres_s
    stack = []
    for s in scores:
        ok = np.isfinite(s.llr)
        if ok.sum() >= 2:
            v = np.interp(grid, s.centres_s[ok], s.llr[ok], left=np.nan, right=np.nan)
            v = np.where(np.isfinite(base.llr), v, np.nan)
        else:
            v = np.where(np.isfinite(base.llr), s.llr[ok][0] if ok.any() else np.nan, np.nan)
        stack.append(v)
    arr = np.vstack(stack)
    finite = np.isfinite(arr)
    count = finite.sum(axis=0)
    total = np.where(finite, arr, 0.0).sum(axis=0)
    fused = np.where(count > 0, total / np.maximum(count, 1), np.nan)
    return base.starts_s, base.ends_s, fused


def segments(starts: np.ndarray, ends: np.ndarray, llr: np.ndarray, *, top: int) -> list[tuple[float, float, int]]:
    """Runs of windows with fused LLR > 0, ranked by peak: ``(start_s, end_s, peak_index)``."""
    runs: list[tuple[float, float, int]] = []
    i, n = 0, llr.size
    while i < n:
        if np.isfinite(llr[i]) and llr[i] > 0:
            j = i
            while j + 1 < n and np.isfinite(llr[j + 1]) and llr[j + 1] > 0:
                j += 1
            peak = i + int(np.argmax(llr[i:j + 1]))
            runs.append((float(starts[i]), float(ends[j]), peak))
            i = j + 1
        else:
            i += 1
    runs.sort(key=lambda r: -llr[r[2]])
    return runs[:top]


def model_summary(det: Detector) -> dict[str, Any]:
    """What the report states about a model: identity, calibration, bands and validation."""
    e = det.entry
    details = dict(e.details or {})
    return {
        "id": e.id, "sha256": e.sha256, "architecture": e.architecture, "source": e.source,
        "window_s": e.input_length_s, "hop_s": e.hop_s, "licence": e.licence,
        "training_data": e.training_data, "score_polarity": e.score_polarity,
        "calibration": details.get("calibration"), "bands": details.get("bands"),
        "validation": validation_summary(details), "limits": list(details.get("limits", [])),
        "card": str(e.card_path.name) if e.card_path else None,
    }


def _lane(name: str, centres: np.ndarray, llr: np.ndarray) -> TimeSeries:
    return TimeSeries(name=name, unit="FakeLikelihood", times_s=centres,
                      values=np.where(np.isfinite(llr), sigmoid(llr), np.nan))


@analyzer(id="audio.synthetic_speech", version="1.0.0", media=[MediaKind.AUDIO],
          label="Synthetic speech detectors", params=PARAMS,
          description="Trained detectors side by side: window scores, calibrated verdicts, "
                      "suspicious segments with explanation maps")
def synthetic_speech(media: AudioClip, *, params: Mapping[str, Any], progress: Progress) -> AnalysisResult:
    """Score a recording with each selected detector, fuse, localise and explain."""
    from forensics_app.detectors.detector import load_detector

    ids = select_models(str(params["models"]))
    wave = np.asarray(media.mono(), dtype=np.float32)
    rate = int(media.rate)
    if wave.size < rate * 0.2:
        raise AnalyzerError(f"the recording is {wave.size / rate:.2f} s long; detectors need at least 0.2 s")
    n = len(ids)
    scores: list[ModelScores] = []
    for k, mid in enumerate(ids):
        progress.report(k / (n + 1), f"scoring with {mid}")
        det = load_detector(mid)
        scores.append(score_model(det, wave, rate, hop_s=float(params["hop_s"]) or None,
                                  silence_dbfs=float(params["silence_dbfs"]),
                                  progress=progress.sub(k / (n + 1), 0.8 / (n + 1))))
    progress.check()
    starts, ends, fused = fuse(scores)
    t_low = min(_thresholds(s.detector)[0] for s in scores)
    t_high = max(_thresholds(s.detector)[1] for s in scores)
    fused_file = float(np.mean([s.file_llr for s in scores]))
    fused_band = band_of(fused_file, t_low, t_high)
    centres = 0.5 * (starts + ends)
    lanes = tuple(_lane(s.detector.entry.id, s.centres_s, s.llr) for s in scores)
    lanes += (_lane("fused", centres, fused),) if n > 1 else ()
    per_model = {s.detector.entry.id: round(s.file_llr, 4) for s in scores}
    runs = segments(starts, ends, fused, top=int(params["top_segments"]))
    strong = [r for r in runs if fused[r[2]] >= t_high]
    local = (f"; {len(strong)} segment(s) {BANDS[0]}" if strong and fused_band != BANDS[0] else "")
    findings = [Finding(
        label=f"Synthetic speech verdict: {fused_band} (LLR {fused_file:+.2f}){local}",
        fake_likelihood=float(sigmoid(fused_file)),
        details={"band": fused_band, "llr": fused_file, "per_model": per_model,
                 "thresholds": {"t_low": t_low, "t_high": t_high},
                 "fusion": "mean of calibrated LLRs" if n > 1 else "single model",
                 "scored_windows": int(np.isfinite(fused).sum()), "windows": int(fused.size),
                 "segments_supporting_synthetic": [[a, b] for a, b, _ in strong]},
        series=lanes,
    )]
    for s in scores:
        e = s.detector.entry
        lo, hi = _thresholds(s.detector)
        findings.append(Finding(
            label=f"{e.id}: {s.band} (LLR {s.file_llr:+.2f})", fake_likelihood=float(sigmoid(s.file_llr)),
            details={"model_id": e.id, "model_sha256": e.sha256, "llr": s.file_llr, "band": s.band,
                     "llr_bounds": list(s.detector.llr_bounds), "llr_before_bounds": s.unbounded_llr,
                     "thresholds": {"t_low": lo, "t_high": hi},
                     "band_error_rates": (e.details.get("bands") or {}).get("rates", {}),
                     "window_s": s.detector.window_s, "padded": s.padded,
                     "scored_windows": int(np.isfinite(s.llr).sum())},
        ))
    for r, (a, b, peak) in enumerate(runs):
        progress.report((n + r / max(len(runs), 1)) / (n + 1), f"explaining segment {r + 1}")
        progress.check()
        maps = []
        at_peak = {}
        for s in scores:
            inside = (s.centres_s >= a) & (s.centres_s <= b) & np.isfinite(s.llr)
            if not inside.any():
                continue
            idx = np.flatnonzero(inside)[int(np.argmax(s.llr[inside]))]
            at_peak[s.detector.entry.id] = {"window_start_s": float(s.starts_s[idx]),
                                            "llr": float(s.llr[idx])}
            if params["explain"]:
                tf_map, method = s.detector.explain(wave, rate=rate, start_s=float(s.starts_s[idx]),
                                                    name=f"{s.detector.entry.id} explanation")
                maps.append(tf_map)
                at_peak[s.detector.entry.id]["method"] = method
        findings.append(Finding(
            label=f"Suspicious segment {a:.2f}-{b:.2f} s (peak LLR {fused[peak]:+.2f})",
            fake_likelihood=float(sigmoid(fused[peak])), start_s=a, end_s=min(b, wave.size / rate),
            details={"peak_llr": float(fused[peak]), "peak_window_start_s": float(starts[peak]),
                     "per_model_peak": at_peak,
                     "explanation": "integrated gradients (LFCC-LCNN) / graph-attention weights "
                                    "(AASIST) of the peak window" if params["explain"] else "not computed"},
            maps=tuple(maps),
        ))
    progress.report(1.0, "done")
    summary = {
        "models": [model_summary(s.detector) for s in scores],
        "fusion": {"method": "mean of calibrated LLRs (not validated separately)" if n > 1 else "single model",
                   "bands": {"t_low": t_low, "t_high": t_high}},
        "device": scores[0].detector.device,
        "hop_s": {s.detector.entry.id: float(params["hop_s"]) or s.detector.hop_s for s in scores},
    }
    return AnalysisResult(findings=tuple(findings), summary=summary)
