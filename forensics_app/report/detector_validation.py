"""Detector validation stated in run summaries: the models, their calibration and error rates.

A run's summary may list ``"models"`` (the detectors it ran, each with its SHA-256, calibration,
verdict bands and validation figures) and ``"fusion"``; :func:`detector_validation` turns those of
the reported runs into :class:`~forensics_app.report.model_detectors.DetectorModel` and
:class:`~forensics_app.report.model_detectors.DetectorFusion` entries, one per distinct model
description. Missing or malformed values become None: nothing here fails a report.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from forensics_app.domain.jsonable import canonical_json
from forensics_app.report.model import RunItem
from forensics_app.report.model_detectors import (
    DetectorFusion,
    DetectorModel,
    SubsetRates,
    VerdictBands,
)


def detector_validation(runs: Sequence[RunItem]) -> tuple[tuple[DetectorModel, ...], tuple[DetectorFusion, ...]]:
    """The detectors and fusions stated in the summaries of reported runs, one entry per distinct one.

    A run's summary may hold ``"models"`` (a list of model descriptions: id, sha256, architecture,
    source, window_s, hop_s, calibration {a, b}, bands {t_low, t_high, rates}, validation {eer,
    cllr, min_cllr, paired_eer, per_generator, lofo}, limits, card) and ``"fusion"`` (method,
    bands). Missing or malformed values become None; nothing here fails the report.
    """
    models: dict[str, DetectorModel] = {}
    fusions: dict[str, DetectorFusion] = {}
    for run in runs:
        summary = run.summary if isinstance(run.summary, Mapping) else {}
        entries = summary.get("models")
        if not isinstance(entries, list):
            continue
        for entry in entries:
            if not isinstance(entry, Mapping):
                continue
            key = canonical_json([run.analyzer_id, entry])
            have = models.get(key)
            if have is None:
                models[key] = _detector_model(run.analyzer_id, entry, run)
            else:
                models[key] = replace(have, run_ids=(*have.run_ids, run.run_id),
                                      evidence_ids=tuple(dict.fromkeys((*have.evidence_ids, run.evidence_id))))
        fusion = summary.get("fusion")
        if isinstance(fusion, Mapping) and len(entries) > 1:
            key = canonical_json([run.analyzer_id, fusion])
            have_f = fusions.get(key)
            fusions[key] = (replace(have_f, run_ids=(*have_f.run_ids, run.run_id)) if have_f is not None else
                            DetectorFusion(analyzer_id=run.analyzer_id, method=str(fusion.get("method") or ""),
                                           bands=_bands(fusion.get("bands")), run_ids=(run.run_id,)))
    return tuple(models.values()), tuple(fusions.values())


def _detector_model(analyzer_id: str, m: Mapping[str, Any], run: RunItem) -> DetectorModel:
    cal = _mapping(m.get("calibration"))
    val = _mapping(m.get("validation"))
    limits = m.get("limits")
    return DetectorModel(
        analyzer_id=analyzer_id, model_id=str(m.get("id") or "?"), sha256=str(m.get("sha256") or ""),
        architecture=str(m.get("architecture") or ""), source=str(m.get("source") or ""),
        window_s=_num(m.get("window_s")), hop_s=_num(m.get("hop_s")),
        calibration_a=_num(cal.get("a")), calibration_b=_num(cal.get("b")), bands=_bands(m.get("bands")),
        eer=_num(val.get("eer")), cllr=_num(val.get("cllr")), min_cllr=_num(val.get("min_cllr")),
        paired_eer=_num(val.get("paired_eer")), per_generator=_subsets(val.get("per_generator")),
        lofo=_subsets(val.get("lofo")),
        limits=tuple(str(x) for x in limits) if isinstance(limits, list) else (),
        card=_text(m.get("card")), licence=_text(m.get("licence")), training_data=_text(m.get("training_data")),
        run_ids=(run.run_id,), evidence_ids=(run.evidence_id,),
    )


def _bands(value: Any) -> VerdictBands | None:
    if not isinstance(value, Mapping):
        return None
    rates = _mapping(value.get("rates"))
    return VerdictBands(
        t_low=_num(value.get("t_low")), t_high=_num(value.get("t_high")),
        # key names of forensics_app.training.calibration.BandRates.as_dict
        bonafide_called_synthetic=_num(rates.get("bona_fide_called_synthetic")),
        spoof_called_bonafide=_num(rates.get("spoof_called_bona_fide")),
        inconclusive_bonafide=_num(rates.get("inconclusive_bona_fide")),
        inconclusive_spoof=_num(rates.get("inconclusive_spoof")),
    )


def _subsets(value: Any) -> tuple[SubsetRates, ...]:
    if not isinstance(value, Mapping):
        return ()
    return tuple(SubsetRates(name=str(name), eer=_num(_mapping(v).get("eer")),
                             paired_eer=_num(_mapping(v).get("paired_eer")))
                 for name, v in sorted(value.items()))


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _num(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def _text(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)
