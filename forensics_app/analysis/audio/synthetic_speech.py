"""Synthetic-speech detection: trained detectors side by side, localised, explained, calibrated.

Every selected detector (the project's shipped models and any imported third-party weights) scores
the recording in sliding windows (each model's own window length, every ``hop_s``), batched, on
the compute device. Raw scores become natural-log likelihood ratios (synthetic vs bona fide) through
each model's calibration, fitted on speakers it was not trained on; FakeLikelihood = sigmoid(LLR),
the posterior at equal priors.

* The hop is each model's own (``hop_s`` in its manifest entry: 0.5 s for LFCC-LCNN, half a
  window for the official AASIST files) unless ``hop_s`` is set.
* Each model is fed through the front end its architecture declares: waveform windows (LFCC-LCNN,
  AASIST) or the self-resynthesis residual statistics of each window (the residual detector, which
  pushes the recording through the WORLD, Griffin-Lim, LPC and neural round trips once).
* Windows that hold no speech energy (RMS below ``silence_dbfs`` or more than 40 dB under the
  recording's loud level) are not scored: detectors trained on speech say nothing reliable about
  silence. Neither are windows a model's front end cannot score (a residual detector's windows
  with too little active speech, NaN raw scores). Their lane values are gaps. A model with no
  scorable window is left out of the fusion and named in the verdict's details; the analysis fails
  only when no model can score the recording.
* LLRs are limited to what the validation data can support: at most ln(number of bona fide
  validation recordings) for synthetic and -ln(number of spoofed ones) for bona fide (about +-4
  to 6); the unbounded value is kept in the finding's details.
* File verdict per model: the mean raw score over the scored windows, calibrated, placed in the
  model's three bands (supports synthetic / inconclusive / supports bona fide) whose thresholds and
  error rates were measured on validation speakers.
* Fused verdict: where ``models/fusions.json`` holds a fitted fusion of exactly the models that
  scored (:mod:`forensics_app.detectors.fusion`: ``sum_i w_i * llr_i + b``, weights >= 0 fitted on
  the calibration speakers by ``forensics-app train fusion``, validated on the validation speakers,
  invalidated when a model's weights change), the fused LLR is that fusion, placed in its own bands
  (chosen on the fused calibration LLRs); per window the fitted fusion is used where all its models
  scored the window, else the mean of those that did (the weights were fitted on file LLRs and are
  applied to window LLRs unchanged). Without one, the fused LLR is the mean of
  the models' calibrated LLRs (averaging, not summing: the models saw the same training data and
  are not independent evidence), placed in the widest of the models' bands; where a model's
  details record a measured mean fusion of exactly these models, those figures are stated,
  otherwise the report says the fusion was not validated separately. The details and summary
  state the method, the weights and the validation figures.
* Suspicious segments: runs of windows whose fused LLR is above 0, ranked by their peak; each gets
  an explanation map per model of the window where that model's score peaks (integrated gradients
  for LFCC-LCNN, graph-attention weights for AASIST, the window's residual map in dB for the
  residual detector) drawn over the spectrogram.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from forensics_app.analysis.registry import Param, analyzer
from forensics_app.detectors.errors import NoScorableWindows
from forensics_app.detectors.summary import validation_summary
from forensics_app.domain.errors import AnalyzerError
from forensics_app.domain.jobs import Progress
from forensics_app.domain.media import AudioClip, MediaKind
from forensics_app.domain.results import AnalysisResult, Finding, TimeSeries

if TYPE_CHECKING:  # torch is imported only when a detector runs
    from forensics_app.detectors.detector import Detector
    from forensics_app.detectors.fusion import FittedFusion

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
    """Score one recording with one detector (window LLRs, file LLR and band).

    Raises
    ------
    AnalyzerError
        No window has speech-level energy.
    NoScorableWindows
        The model's front end scored none of the speech windows (NaN raw scores).
    """
    from forensics_app.detectors.windows import speech_windows

    ws = det.score_wave(wave, rate=rate, hop_s=hop_s, progress=progress)
    llr = det.llr(ws.raw)
    speech = speech_windows(wave, rate=rate, starts_s=ws.starts_s, ends_s=ws.ends_s, floor_dbfs=silence_dbfs)
    if not speech.any():
        raise AnalyzerError("the recording holds no window with speech-level energy "
                            f"(every window is below {silence_dbfs:.0f} dBFS RMS): nothing to score")
    mask = speech & np.isfinite(ws.raw)
    if not mask.any():
        raise NoScorableWindows(f"{det.entry.id} could score none of the {int(speech.sum())} speech window(s) "
                          "(too little active speech in each)")
    file_llr = float(det.llr(float(np.mean(ws.raw[mask]))))
    unbounded = float(det.llr(float(np.mean(ws.raw[mask])), bounded=False))
    t_low, t_high = _thresholds(det)
    return ModelScores(detector=det, starts_s=ws.starts_s, ends_s=ws.ends_s,
                       llr=np.where(mask, llr, np.nan), file_llr=file_llr, unbounded_llr=unbounded,
                       band=band_of(file_llr, t_low, t_high), padded=bool(ws.padded))


def fuse(scores: Sequence[ModelScores], fusions: Sequence[FittedFusion] = ()
         ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Fused calibrated LLR over models on the first model's window grid.

    Each model's window LLRs are interpolated onto the grid; per window, the fitted fusion of
    exactly the models with an LLR there (from ``fusions``) or else their mean
    (:func:`forensics_app.detectors.fusion.fuse_llrs`).

    Returns
    -------
    starts_s, ends_s, llr : np.ndarray
        Shape (n_windows,): the grid's windows (s) and the fused LLR (NaN where no model scored).
    method : np.ndarray
        Shape (n_windows,), str: how each window was fused ("fitted", "mean", "single model", "none").
    """
    from forensics_app.detectors.fusion import fuse_llrs

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
    fused, method = fuse_llrs([s.detector.entry.id for s in scores], np.vstack(stack), fusions=fusions)
    return base.starts_s, base.ends_s, fused, method


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


def measured_fusion(detectors: Sequence[Detector]) -> dict[str, Any] | None:
    """Validation figures of the mean-LLR fusion of exactly these models, if a model's details record them.

    A model's details may hold ``fusion_validation``: a list of ``{"models": [ids], "overall": {...},
    "per_generator": {...}, ...}`` measured on its validation speakers. The entry whose model set
    equals the ids of ``detectors`` (and whose recorded SHA-256s match the loaded weights) is
    returned, else None.
    """
    ids = {d.entry.id: d.entry.sha256 for d in detectors}
    for d in detectors:
        for rec in d.entry.details.get("fusion_validation") or []:
            if not isinstance(rec, Mapping) or set(rec.get("models", [])) != set(ids):
                continue
            shas = rec.get("sha256") or {}
            if all(shas.get(i) == sha for i, sha in ids.items()):
                return dict(rec)
    return None


def _fusion_method(n: int, figures: Mapping[str, Any] | None, fitted: FittedFusion | None = None) -> str:
    if n < 2:
        return "single model"
    if fitted is not None:
        return fitted.describe()
    if figures is None:
        return "mean of calibrated LLRs (not validated separately)"
    ov = figures.get("overall") or {}
    eer, cllr = ov.get("eer"), ov.get("cllr")
    what = (f"EER {100 * eer:.1f} %, Cllr {cllr:.3f} bits" if eer is not None and cllr is not None
            else "figures in the details")
    return (f"mean of calibrated LLRs (validated on {figures.get('n_speakers', '?')} validation speakers: {what}; "
            f"{figures.get('note', '')})").replace("; )", ")")


def _fitted_fusions(scores: Sequence[ModelScores]) -> tuple[list[FittedFusion], FittedFusion | None]:
    """The usable fitted fusions (weights unchanged since fitting) and the one of exactly the scored models."""
    from forensics_app.detectors.fusion import fusion_for, valid_fusions

    if len(scores) < 2:
        return [], None
    fusions = valid_fusions({s.detector.entry.id: s.detector.entry.sha256 for s in scores})
    return fusions, fusion_for([s.detector.entry.id for s in scores], fusions)


def _weights(fitted: FittedFusion | None) -> dict[str, Any] | None:
    if fitted is None:
        return None
    return {"weights": dict(zip(fitted.models, fitted.weights, strict=True)), "bias": fitted.bias,
            "llr_bounds": list(fitted.llr_bounds), "fitted_on": fitted.fitted_on}


def _lane(name: str, centres: np.ndarray, llr: np.ndarray) -> TimeSeries:
    scored = np.isfinite(llr)
    values = np.full(llr.shape, np.nan)
    values[scored] = sigmoid(llr[scored])
    return TimeSeries(name=name, unit="FakeLikelihood", times_s=centres, values=values)


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
    not_scored: dict[str, str] = {}
    for k, mid in enumerate(ids):
        progress.report(k / (n + 1), f"scoring with {mid}")
        det = load_detector(mid)
        try:
            scores.append(score_model(det, wave, rate, hop_s=float(params["hop_s"]) or None,
                                      silence_dbfs=float(params["silence_dbfs"]),
                                      progress=progress.sub(k / (n + 1), 0.8 / (n + 1))))
        except NoScorableWindows as exc:
            not_scored[mid] = str(exc)
    progress.check()
    if not scores:
        raise AnalyzerError("no detector could score the recording: " + "; ".join(not_scored.values()))
    n = len(scores)
    fusions, fitted = _fitted_fusions(scores)
    fusion_figures = (fitted.validation if fitted is not None
                      else measured_fusion([s.detector for s in scores]) if n > 1 else None)
    starts, ends, fused, window_method = fuse(scores, fusions)
    if fitted is not None:
        t_low, t_high = float(fitted.bands.t_low), float(fitted.bands.t_high)
    else:
        t_low = min(_thresholds(s.detector)[0] for s in scores)
        t_high = max(_thresholds(s.detector)[1] for s in scores)
    file_llrs = {s.detector.entry.id: s.file_llr for s in scores}
    fused_file = (float(fitted.apply([file_llrs[m] for m in fitted.models])) if fitted is not None
                  else float(np.mean(list(file_llrs.values()))))
    fused_band = band_of(fused_file, t_low, t_high)
    fusion_method = _fusion_method(n, fusion_figures, fitted)
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
                 "fusion": ("fitted" if fitted is not None else "mean of calibrated LLRs") if n > 1
                 else "single model",
                 "fusion_method": fusion_method, "fusion_weights": _weights(fitted),
                 "fusion_validation": fusion_figures, "not_scored": not_scored,
                 "windows_fused": {str(k): int(v) for k, v in zip(*np.unique(window_method, return_counts=True),
                                                                  strict=True)},
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
                at_peak[s.detector.entry.id]["map_unit"] = tf_map.unit
        findings.append(Finding(
            label=f"Suspicious segment {a:.2f}-{b:.2f} s (peak LLR {fused[peak]:+.2f})",
            fake_likelihood=float(sigmoid(fused[peak])), start_s=a, end_s=min(b, wave.size / rate),
            details={"peak_llr": float(fused[peak]), "peak_window_start_s": float(starts[peak]),
                     "per_model_peak": at_peak,
                     "explanation": "; ".join(f"{m}: {p['method']}" for m, p in at_peak.items() if "method" in p)
                     if params["explain"] else "not computed"},
            maps=tuple(maps),
        ))
    progress.report(1.0, "done")
    summary = {
        "models": [model_summary(s.detector) for s in scores],
        "fusion": {"method": fusion_method,
                   "bands": fitted.bands.as_dict() if fitted is not None else {"t_low": t_low, "t_high": t_high},
                   "weights": _weights(fitted), "validation": fusion_figures},
        "not_scored": not_scored,
        "device": scores[0].detector.device,
        "hop_s": {s.detector.entry.id: float(params["hop_s"]) or s.detector.hop_s for s in scores},
    }
    return AnalysisResult(findings=tuple(findings), summary=summary)
