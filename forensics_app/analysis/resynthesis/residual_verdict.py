"""The residual detector's verdict from residual tracks the self-resynthesis analyzer already has.

The self-resynthesis analyzer computes every round trip's residuals; a catalogued detector whose
net is fed with them (front end ``"resynthesis-residuals"``, e.g. ``resynthesis-residual-v1``)
scores those tracks directly, so its calibrated verdict is stated beside the residual heatmaps
without resynthesising the recording a second time. The same detector also runs, and is fused,
in the synthetic-speech analyzer.
"""

from __future__ import annotations

import logging

import numpy as np

from forensics_app.analysis.audio.synthetic_speech import band_of, model_summary, sigmoid
from forensics_app.domain.errors import ForensicsError
from forensics_app.domain.results import Finding, TimeSeries
from forensics_app.resynthesis import features as ft

log = logging.getLogger(__name__)

#: The front end of residual detectors (see forensics_app.detectors.front_ends).
RESIDUAL_FRONT_END = "resynthesis-residuals"


def residual_verdicts(residual_set: ft.ResidualSet) -> tuple[list[Finding], list[dict], dict[str, str]]:
    """Verdict findings of every installed, calibrated residual detector on these tracks.

    Parameters
    ----------
    residual_set : ResidualSet
        The recording's residual tracks (all the round trips the detector was trained on).

    Returns
    -------
    findings : list of Finding
        One "Residual detector <id>: <band> (LLR ...)" finding per detector, with its
        FakeLikelihood lane.
    models : list of dict
        What the report states about each model (:func:`model_summary`).
    skipped : dict
        Model id -> why it gave no verdict (missing round trips, no speech, ...).
    """
    from forensics_app.detectors.detector import available_detectors, load_detector
    from forensics_app.detectors.front_ends import front_end_name
    from forensics_app.detectors.residual_front_end import scores_from_tracks
    from forensics_app.detectors.windows import file_score

    findings: list[Finding] = []
    models: list[dict] = []
    skipped: dict[str, str] = {}
    for entry in available_detectors():
        if entry.calibration is None or entry.bands is None:
            continue
        try:
            det = load_detector(entry.id)
        except ForensicsError as exc:
            skipped[entry.id] = str(exc)
            continue
        if front_end_name(det.net) != RESIDUAL_FRONT_END:
            continue
        try:
            ws = scores_from_tracks(det, residual_set, hop_s=det.hop_s)
            raw = file_score(ws)
        except ForensicsError as exc:  # missing round trips, no window with speech
            skipped[entry.id] = str(exc)
            continue
        llr = float(det.llr(raw))
        lo, hi = float(entry.bands.t_low), float(entry.bands.t_high)
        band = band_of(llr, lo, hi)
        window_llr = det.llr(ws.raw)
        centres = 0.5 * (ws.starts_s + ws.ends_s)
        lane = TimeSeries(name=entry.id, unit="FakeLikelihood", times_s=centres,
                          values=np.where(np.isfinite(window_llr), sigmoid(window_llr), np.nan))
        findings.append(Finding(
            label=f"Residual detector {entry.id}: {band} (LLR {llr:+.2f})", fake_likelihood=float(sigmoid(llr)),
            details={"model_id": entry.id, "model_sha256": entry.sha256, "llr": llr, "band": band,
                     "llr_bounds": list(det.llr_bounds),
                     "llr_before_bounds": float(det.llr(raw, bounded=False)),
                     "thresholds": {"t_low": lo, "t_high": hi},
                     "band_error_rates": (entry.details.get("bands") or {}).get("rates", {}),
                     "window_s": det.window_s, "hop_s": det.hop_s,
                     "scored_windows": int(np.isfinite(ws.raw).sum()), "windows": int(ws.raw.size),
                     "explanation": "A detector trained on this project's generated data scores the residual "
                                    "statistics of each window (how little the recording changed when re-vocoded); "
                                    "its mean score is calibrated to a likelihood ratio and placed in the bands "
                                    "measured on held-out speakers. Its model card states how much it adds to "
                                    "the other detectors."},
            series=(lane,),
        ))
        models.append(model_summary(det))
    for mid, why in skipped.items():
        log.info("residual detector %s gave no verdict: %s", mid, why)
    return findings, models, skipped
