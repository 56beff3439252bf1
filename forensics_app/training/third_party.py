"""Calibrate and validate imported third-party weights (the official AASIST files) on our data.

Third-party weights come with scores, not likelihood ratios, and with figures measured on someone
else's data (ASVspoof 2019 LA). Before their verdicts can be stated in a report, they are measured
here exactly as the project's own detectors are: calibration fitted on the calibration speakers,
verdict bands and validation figures (per generator, paired first) on the validation speakers of
the generated data set. Only numbers are written (``models/third_party/<id>.json``), never weights.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from forensics_app.detectors import catalog, known_weights
from forensics_app.domain.errors import ForensicsError
from forensics_app.domain.jobs import Progress
from forensics_app.training.dataset import read_manifest
from forensics_app.training.detector_train import resolve_device
from forensics_app.training.develop import (
    calibrate_and_validate,
    dataset_summary,
    score_rows,
    throughput_figures,
)


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.1f}%"


def _limit(rows: list[dict[str, str]], max_speakers: int | None) -> list[dict[str, str]]:
    if not max_speakers:
        return rows
    keep = set(sorted({r["speaker"] for r in rows})[:max_speakers])
    return [r for r in rows if r["speaker"] in keep]


def calibrate_imported(*, model_id: str, manifest: Path, out_dir: Path, device: str | None = None,
                       progress: Progress | None = None, log: Callable[[str], None] = print,
                       max_speakers: int | None = None) -> dict[str, Any]:
    """Fit calibration and bands of an imported model and measure it on the validation speakers.

    Parameters
    ----------
    model_id : str
        An imported model (e.g. ``"aasist-official"``); it must be imported first
        (``forensics-app models import FILE``).
    manifest : Path
        The generated data set's ``manifest.csv``.
    out_dir : Path
        The folder of measured third-party details (``models/third_party``).
    device : str, optional
        ``"cpu"``, ``"cuda"`` or None (CUDA when available).
    max_speakers : int, optional
        Use at most this many speakers (sorted by id) of each split; all when None.

    Returns
    -------
    dict
        The details written (calibration, bands, validation, throughput, limits).
    """
    from forensics_app.nets.registry import build

    entry = catalog.get_model(model_id)
    if entry.source != "imported":
        raise ForensicsError(f"{model_id} is not an imported third-party model")
    dev = resolve_device(device)
    net = build(entry.architecture, entry.config)
    net.load_state_dict(entry.load_state_dict(), strict=True)
    net.eval().to(dev)
    rows = read_manifest(Path(manifest))
    root = Path(manifest).parent
    cal_rows = _limit([r for r in rows if r["split"] == "calibration"], max_speakers)
    val_rows = _limit([r for r in rows if r["split"] == "validation"], max_speakers)
    window_s, hop_s = float(entry.input_length_s), float(entry.hop_s)
    log(f"scoring {len(cal_rows)} calibration and {len(val_rows)} validation recordings with {model_id}")
    cal_raw = score_rows(net, cal_rows, root, window_s=window_s, hop_s=hop_s, device=dev,
                         progress=None if progress is None else progress.sub(0.0, 0.5))
    val_raw = score_rows(net, val_rows, root, window_s=window_s, hop_s=hop_s, device=dev,
                         progress=None if progress is None else progress.sub(0.5, 0.45))
    calibration, bands, validation = calibrate_and_validate(
        cal_rows, cal_raw, val_rows, val_raw, fitted_on="calibration speakers of this project's data")
    throughput = throughput_figures(net, window_s=window_s, hop_s=hop_s, device=dev)
    overall = validation["overall"]
    details: dict[str, Any] = {
        "id": model_id,
        "input": {"sample_rate": entry.sample_rate, "window_s": window_s, "hop_s": hop_s,
                  "file_score": "mean of the window raw scores"},
        "calibration": calibration,
        "bands": bands,
        "validation": validation,
        "lofo": {"skipped": True, "reason": "third-party weights are not retrained by this project"},
        "throughput": throughput,
        "dataset": dataset_summary(Path(manifest), rows),
        "speakers_scored": {"calibration": len({r["speaker"] for r in cal_rows}),
                            "validation": len({r["speaker"] for r in val_rows})},
        "limits": [
            f"Trained by its authors on ASVspoof 2019 LA (VCTK speakers, 2019-era TTS and VC systems), "
            f"not on this project's generators: on our validation speakers its EER was "
            f"{_pct(overall.get('eer'))}; its calibration was fitted by this project on our "
            f"calibration speakers.",
            "Not retrained here, so no leave-one-family-out figure exists for it.",
            f"Window {window_s:g} s (64600 samples): segments are located only to about that length.",
        ],
    }
    path = known_weights.write_measured_details(model_id, details, models_dir=Path(out_dir).parent)
    log(f"{model_id}: validation EER {_pct(overall.get('eer'))}; written to {path}")
    return details
