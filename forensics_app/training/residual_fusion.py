"""How much the residual detector adds to the fused verdict, measured on the validation speakers.

:func:`evaluate_fusion` scores the validation recordings (the same centred crops the residual
features were computed on) with every other detector through its :class:`Detector`, and with the
residual detector from the cached window vectors, then states each recording's verdict as the
synthetic-speech analyzer does (:mod:`forensics_app.analysis.audio.synthetic_speech`): per model,
the mean raw score over the windows that hold speech-level energy
(:func:`forensics_app.detectors.windows.speech_windows`) and have a score, calibrated and limited
to the model's LLR bounds; fused, the mean of the models' LLRs (a model with no scorable window is
left out). EER, Cllr and min Cllr of the stated LLRs are reported overall and per generator for
each model alone and for the fusion.

A few recordings are also scored by the residual detector's own front end from the audio
(:meth:`Detector.score_wave`); ``consistency`` records the largest difference from the cached
path, so the figures are known to be the analyzer's.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from forensics_app.detectors.detector import Detector
from forensics_app.detectors.residual_front_end import scores_from_features
from forensics_app.detectors.windows import speech_windows
from forensics_app.domain.errors import ForensicsError
from forensics_app.domain.jobs import Progress
from forensics_app.training import metrics
from forensics_app.training.audio_io import RATE, read_mono
from forensics_app.training.residual_features_cache import FeatureTable

#: Windows quieter than this RMS (dBFS) are not scored (the analyzer's default ``silence_dbfs``).
SILENCE_DBFS = -55.0

#: Name of the fused system in the figures.
FUSED = "fused"

Row = Mapping[str, str]


def _file_llr(det: Detector, wave: np.ndarray, starts: np.ndarray, ends: np.ndarray, raw: np.ndarray,
              silence_dbfs: float) -> tuple[float, float]:
    """Stated (bounded) and unbounded file LLR as the analyzer computes them; NaN when nothing is scored."""
    mask = speech_windows(wave, rate=RATE, starts_s=starts, ends_s=ends, floor_dbfs=silence_dbfs) & np.isfinite(raw)
    if not mask.any():
        return float("nan"), float("nan")
    mean = float(np.mean(raw[mask]))
    return float(det.llr(mean)), float(det.llr(mean, bounded=False))


def figures(llr: np.ndarray, rows: Sequence[Row]) -> dict[str, Any]:
    """EER, Cllr, min Cllr of file LLRs overall and per generator (unscored files count as LLR 0).

    Parameters
    ----------
    llr : np.ndarray
        Shape (n_rows,): one LLR (nats) per row, NaN where the system scored nothing.
    rows : sequence of dict
        The manifest rows (``label``, ``generator``).

    Returns
    -------
    dict
        ``overall`` and ``per_generator`` {generator: figures} (eer, cllr, min_cllr, n_bonafide,
        n_spoof; all bona fide rows against each generator's spoofs) and ``unscored``.
    """
    x = np.where(np.isfinite(llr), llr, 0.0)
    bona = np.array([r["label"] == "bonafide" for r in rows])

    def fig(spoof: np.ndarray) -> dict[str, Any]:
        b, s = x[bona], x[spoof]
        return {"eer": float(metrics.eer(b, s)[0]), "cllr": float(metrics.cllr(b, s)),
                "min_cllr": float(metrics.min_cllr(b, s)), "n_bonafide": int(b.size), "n_spoof": int(s.size)}

    gens = sorted({r["generator"] for r in rows if r["label"] == "spoof"})
    return {"overall": fig(~bona),
            "per_generator": {g: fig(np.array([r["generator"] == g for r in rows])) for g in gens},
            "unscored": int(np.sum(~np.isfinite(llr)))}


def mean_fusion(llrs: np.ndarray) -> np.ndarray:
    """The analyzer's unweighted fusion: mean over models of the finite LLRs.

    Parameters
    ----------
    llrs : np.ndarray
        Shape (n_models, n_rows), NaN where a model scored nothing.

    Returns
    -------
    np.ndarray
        Shape (n_rows,); NaN where no model scored.
    """
    count = np.isfinite(llrs).sum(axis=0)
    return np.where(count > 0, np.nansum(llrs, axis=0) / np.maximum(count, 1), np.nan)


@dataclass(frozen=True)
class ScoredRows:
    """File LLRs of several detectors on the same recordings, as the analyzer states them.

    Attributes
    ----------
    models : tuple of str
        Model ids, in row order of the arrays (the other detectors first, the residual one last).
    sha256 : dict
        SHA-256 of each model's weights.
    stated : np.ndarray
        Shape (n_models, n_rows): bounded file LLRs (nats), NaN where the model scored nothing.
    unbounded : np.ndarray
        Shape (n_models, n_rows): the same before the validation-supported bounds.
    consistency : dict
        ``recordings`` also scored by the residual detector's front end, ``max_raw_difference``.
    """

    models: tuple[str, ...]
    sha256: dict[str, str]
    stated: np.ndarray
    unbounded: np.ndarray
    consistency: dict[str, Any]


def score_rows(rows: Sequence[Row], root: Path, table: FeatureTable, residual: Detector | None,
               others: Sequence[Detector], *, silence_dbfs: float = SILENCE_DBFS, check_files: int = 3,
               progress: Progress | None = None, log: Callable[[str], None] = print) -> ScoredRows:
    """File LLRs of every model on the cached crops of ``rows`` (see the module docstring).

    Parameters
    ----------
    rows : sequence of dict
        Manifest rows; every one must be in ``table``.
    root : Path
        The data set folder.
    table : FeatureTable
        Cached residual features (crops, offsets and window vectors).
    residual : Detector or None
        The residual detector, scored from the cached window vectors (None: no residual model).
    others : sequence of Detector
        Detectors scored from the audio crops.
    silence_dbfs : float
        The analyzer's silence floor.
    check_files : int
        Recordings also scored by the residual detector's front end from the audio.
    progress : Progress, optional
        Reports per recording; ``check()`` between recordings.
    log : callable
        Receives progress lines.

    Returns
    -------
    ScoredRows
    """
    idx = table.index([r["path"] for r in rows])
    dets = [*others, *([residual] if residual is not None else [])]
    if not dets:
        raise ForensicsError("score_rows needs at least one detector")
    raw_w = (scores_from_features(residual.net, table.win_values, table.feature_names)
             if residual is not None else None)
    stated = np.full((len(dets), len(rows)), np.nan)
    unbounded = np.full_like(stated, np.nan)
    max_diff = 0.0
    checked = 0
    for k, (row, i) in enumerate(zip(rows, idx, strict=True)):
        if progress is not None:
            progress.check()
        wave = read_mono(Path(root) / row["path"], rate=RATE)
        a = int(round(table.offset_s[i] * RATE))
        crop = wave[a:a + int(round(table.crop_s[i] * RATE))]
        for m, det in enumerate(others):
            ws = det.score_wave(crop, rate=RATE)
            stated[m, k], unbounded[m, k] = _file_llr(det, crop, ws.starts_s, ws.ends_s, ws.raw, silence_dbfs)
        if residual is not None and raw_w is not None:
            w = table.win_file == i
            starts = table.win_starts_s[w]
            ends = np.minimum(starts + residual.window_s, table.crop_s[i])
            stated[-1, k], unbounded[-1, k] = _file_llr(residual, crop, starts, ends, raw_w[w], silence_dbfs)
            if checked < check_files and k % max(len(rows) // max(check_files, 1), 1) == 0:
                ws = residual.score_wave(crop, rate=RATE, hop_s=float(table.settings["hop_s"]))
                both = np.isfinite(ws.raw) & np.isfinite(raw_w[w][:len(ws.raw)])
                if len(ws.raw) == int(w.sum()) and both.any():
                    max_diff = max(max_diff, float(np.max(np.abs(ws.raw[both] - raw_w[w][both]))))
                else:
                    max_diff = float("inf")
                checked += 1
        if progress is not None:
            progress.report((k + 1) / len(rows), f"fusion: scored {k + 1} of {len(rows)} recordings")
    if residual is not None:
        log(f"fusion: front end vs cached windows, largest raw difference {max_diff:.2e} over {checked} recordings")
    return ScoredRows(models=tuple(d.entry.id for d in dets), sha256={d.entry.id: d.entry.sha256 for d in dets},
                      stated=stated, unbounded=unbounded,
                      consistency={"recordings": checked, "max_raw_difference": max_diff})


def audio_note(table: FeatureTable, silence_dbfs: float = SILENCE_DBFS) -> str:
    """What the fusion figures were measured on (the cached crops, the silence floor)."""
    return (f"the centred {float(table.settings['crop_s']):g} s crop of every validation recording (the crops "
            "the residual features were computed on); windows below "
            f"{silence_dbfs:g} dBFS RMS left out as in the analyzer; figures of the stated (bounded) LLRs")


def evaluate_fusion(rows: Sequence[Row], root: Path, table: FeatureTable, residual: Detector,
                    others: Sequence[Detector], *, silence_dbfs: float = SILENCE_DBFS, check_files: int = 3,
                    progress: Progress | None = None, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Each model alone and the mean-LLR fusion of all, on the validation rows (see the module docstring).

    Parameters
    ----------
    rows : sequence of dict
        Validation manifest rows (bona fide and spoofs).
    root : Path
        The data set folder.
    table : FeatureTable
        Cached residual features holding every row (crops, offsets and window vectors).
    residual : Detector
        The residual detector (calibrated; its net scores the cached windows).
    others : sequence of Detector
        The detectors it is fused with (e.g. ``lfcc-lcnn-v1``), scored from the audio crops.
    silence_dbfs : float
        The analyzer's silence floor.
    check_files : int
        Recordings also scored by the residual detector's front end from the audio.
    progress : Progress, optional
        Reports per recording; ``check()`` between recordings.
    log : callable
        Receives progress lines.

    Returns
    -------
    dict
        ``models`` (ids, fused order), ``sha256`` per id, ``systems`` {id or "fused": figures},
        ``overall`` and ``per_generator`` of the fusion, ``unbounded`` figures, ``n_speakers``,
        ``consistency`` and ``audio`` (what was scored).
    """
    sc = score_rows(rows, root, table, residual, others, silence_dbfs=silence_dbfs, check_files=check_files,
                    progress=progress, log=log)
    ids = list(sc.models)
    systems = {mid: figures(sc.stated[m], rows) for m, mid in enumerate(ids)}
    systems[FUSED] = figures(mean_fusion(sc.stated), rows)
    raw_systems = {mid: figures(sc.unbounded[m], rows)["overall"] for m, mid in enumerate(ids)}
    raw_systems[FUSED] = figures(mean_fusion(sc.unbounded), rows)["overall"]
    return {
        "models": ids, "sha256": dict(sc.sha256),
        "overall": systems[FUSED]["overall"], "per_generator": systems[FUSED]["per_generator"],
        "systems": systems, "unbounded": raw_systems,
        "n_speakers": len({r["speaker"] for r in rows}),
        "consistency": dict(sc.consistency),
        "audio": audio_note(table, silence_dbfs),
        "note": f"{' + '.join(ids)} on {float(table.settings['crop_s']):g} s crops",
    }
