"""The flat validation summary of a model that findings, run summaries and reports carry.

A model's details file (written by ``forensics-app train``) holds the full validation tables; a
run summary and the report need the headline figures: EER, Cllr, min Cllr, paired EER and the
share of pairs ranked the wrong way, and per generator and per held-out family the EER and the
paired EER. :func:`validation_summary` extracts them, with None for what was not measured.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def _m(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def validation_summary(details: Mapping[str, Any]) -> dict[str, Any]:
    """Headline validation figures of a model's details.

    Parameters
    ----------
    details : Mapping
        The model's details (``validation``, ``lofo``, ``throughput`` as written by
        :func:`forensics_app.training.develop.develop_model` or
        :func:`forensics_app.training.third_party.calibrate_imported`).

    Returns
    -------
    dict
        ``eer, cllr, min_cllr, paired_eer, pairwise_error, n_speakers`` (floats or None),
        ``per_generator`` and ``lofo`` as ``{name: {"eer", "paired_eer"}}``, ``throughput_x_rt``.
    """
    val = _m(details.get("validation"))
    overall = _m(val.get("overall"))
    paired = _m(overall.get("paired"))
    per_generator = {
        str(g.get("generator")): {"eer": g.get("eer"), "paired_eer": _m(g.get("paired")).get("eer"),
                                  "family": g.get("family")}
        for g in val.get("per_generator", []) if isinstance(g, Mapping)
    }
    lofo = {
        str(f.get("family")): {"eer": f.get("eer"), "paired_eer": _m(f.get("paired")).get("eer")}
        for f in _m(details.get("lofo")).get("families", []) if isinstance(f, Mapping) and not f.get("skipped")
    }
    cpu = _m(_m(details.get("throughput")).get("cpu"))
    return {
        "eer": overall.get("eer"), "cllr": overall.get("cllr"), "min_cllr": overall.get("min_cllr"),
        "paired_eer": paired.get("eer"), "pairwise_error": paired.get("pairwise_error"),
        "n_speakers": val.get("n_speakers"), "per_generator": per_generator, "lofo": lofo,
        "throughput_x_rt": cpu.get("x_real_time"),
    }
