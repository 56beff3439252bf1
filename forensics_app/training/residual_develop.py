"""Develop the shipped residual detector end to end: features, training, calibration, validation, fusion.

:func:`develop_residual_model` extracts (or reuses) the self-resynthesis features of the generated
data set (:mod:`.residual_features_cache`), trains the head on the train speakers
(:mod:`.residual_train`; the hidden size is chosen on the calibration speakers), fits the score
calibration on the calibration speakers and reports the validation figures with the functions
the other detectors use (:func:`forensics_app.training.develop.calibrate_and_validate`: EER,
Cllr, min Cllr, per generator with paired figures, per channel, verdict bands), retrains without
each generator family in turn, measures the throughput, measures what the detector adds to the
fused verdict (:mod:`.residual_fusion`), and writes the weights, details JSON, model card and the
catalogue entry. Every figure is measured here.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from forensics_app.detectors import catalog
from forensics_app.detectors.detector import Detector, load_detector
from forensics_app.domain.errors import ForensicsError
from forensics_app.domain.jobs import Progress
from forensics_app.ingest.hashing import sha256_file
from forensics_app.resynthesis import features as ft
from forensics_app.resynthesis import round_trips as rt
from forensics_app.training import metrics
from forensics_app.training.audio_io import RATE, read_mono
from forensics_app.training.dataset import read_manifest
from forensics_app.training.develop import (
    calibrate_and_validate,
    dataset_summary,
    derive_limits,
    paired_figures,
    training_data_text,
)
from forensics_app.training.residual_card import fusion_summary, residual_card
from forensics_app.training.residual_features_cache import CROP_S, FeatureTable, build_feature_cache
from forensics_app.training.residual_fusion import evaluate_fusion
from forensics_app.training.residual_train import (
    TrainedHead,
    file_raw_scores,
    train_head,
    window_matrix,
)

TASK = "speech-detection"
ARCHITECTURE = "residual_mlp"
SCORE_POLARITY = ("raw = s, the head's score of a window's residual statistics (logits [s/2, -s/2]: "
                  "column 0 = spoof, column 1 = bona fide); higher = more likely synthetic")
LICENCE = "weights trained by this project on LibriSpeech (CC BY 4.0) derived data"
#: Hidden sizes tried; the one with the lowest min Cllr on the calibration speakers is kept.
HIDDEN_CANDIDATES = (0, 16, 64)
#: Seconds of validation bona fide speech the throughput is measured on.
THROUGHPUT_SECONDS = 60.0

Row = Mapping[str, str]


def residual_features(names: Sequence[str]) -> list[str]:
    """The residual statistics among ``names``: every feature except ``active_fraction``.

    The share of active frames measures pauses, not resynthesis residuals; it would let the head
    learn the pacing of the training generators (espeak pauses more) instead.
    """
    return [n for n in names if n != "active_fraction"]


def _by_split(rows: Sequence[Row]) -> dict[str, list[Row]]:
    out: dict[str, list[Row]] = {}
    for r in rows:
        out.setdefault(r["split"], []).append(r)
    return out


def _scored(rows: Sequence[Row], raw: np.ndarray) -> tuple[list[Row], np.ndarray]:
    ok = np.isfinite(raw)
    return [r for r, k in zip(rows, ok, strict=True) if k], raw[ok]


def _calibration_figures(head: TrainedHead, table: FeatureTable, rows: Sequence[Row]) -> dict[str, Any]:
    kept, raw = _scored(rows, file_raw_scores(head.net, table, rows))
    bona = np.array([r["label"] == "bonafide" for r in kept])
    return {"hidden": head.settings["hidden"], "eer": float(metrics.eer(raw[bona], raw[~bona])[0]),
            "min_cllr": float(metrics.min_cllr(raw[bona], raw[~bona])), "files": len(kept)}


def residual_lofo(*, table: FeatureTable, train: Sequence[Row], validation: Sequence[Row], features: Sequence[str],
                  main_figures: Mapping[str, Any], head_kwargs: Mapping[str, Any],
                  log: Callable[[str], None]) -> dict[str, Any]:
    """Retrain the head without each generator family; figures of the held-out family (as develop's LOFO)."""
    families = sorted({r["family"] for r in train if r["label"] == "spoof"})
    val_bona = [r for r in validation if r["label"] == "bonafide"]
    results = []
    for family in families:
        kept = [r for r in train if r["family"] != family]
        x, y = window_matrix(table, kept, features)
        head = train_head(x, y, features=features, log=log, **head_kwargs)
        held = [r for r in validation if r["label"] == "spoof" and r["family"] == family]
        subset, raw = _scored(val_bona + held, file_raw_scores(head.net, table, val_bona + held))
        n_b = sum(r["label"] == "bonafide" for r in subset)
        per_gen = []
        for gen in sorted({r["generator"] for r in held}):
            g_idx = [i for i, r in enumerate(subset) if r["generator"] == gen]
            seen = next((g for g in main_figures["per_generator"] if g["generator"] == gen), None)
            per_gen.append({"generator": gen, "paired": paired_figures(subset, raw, g_idx),
                            "eer": float(metrics.eer(raw[:n_b], raw[g_idx])[0]), "n_bonafide": n_b,
                            "n_spoof": len(g_idx), "eer_seen": seen["eer"] if seen else None})
        seen_eer = [g["eer"] for g in main_figures["per_generator"] if g["family"] == family]
        results.append({
            "family": family, "skipped": False, "generators": [g["generator"] for g in per_gen],
            "paired": paired_figures(subset, raw, list(range(n_b, len(subset)))),
            "eer": float(metrics.eer(raw[:n_b], raw[n_b:])[0]), "n_bonafide": n_b, "n_spoof": len(subset) - n_b,
            "eer_seen_mean": float(np.mean(seen_eer)) if seen_eer else None, "per_generator": per_gen,
            "steps": head.settings["steps"], "train_seconds": head.settings["train_seconds"],
        })
        log(f"leave-one-family-out {family!r}: EER {results[-1]['eer']:.3f}")
    return {"skipped": False, "minutes": 0.0, "families": results,
            "note": "each model trained to the same number of full-batch steps as the main model"}


def measure_throughput(det: Detector, rows: Sequence[Row], root: Path, *,
                       seconds: float = THROUGHPUT_SECONDS) -> dict[str, Any]:
    """Real-time factor of the residual detector on ``seconds`` of concatenated bona fide speech, CPU."""
    parts, total = [], 0
    for r in rows:
        if r["label"] == "bonafide" and r["channel"] == "clean":
            parts.append(read_mono(root / r["path"], rate=RATE))
            total += parts[-1].size
            if total >= seconds * RATE:
                break
    wave = np.concatenate(parts)[: int(seconds * RATE)]
    t0 = time.perf_counter()
    ws = det.score_wave(wave, rate=RATE)
    took = time.perf_counter() - t0
    cpu = {"device": f"CPU, {torch.get_num_threads()} torch thread(s)", "recording_s": round(wave.size / RATE, 2),
           "windows": len(ws.raw), "batch_size": len(ws.raw), "runs": 1, "seconds": round(took, 3),
           "x_real_time": round(wave.size / RATE / took, 2),
           "content": "concatenated clean bona fide validation recordings (round trips, alignment, residuals and "
                      "the head included)"}
    return {"cpu": cpu, "gpu": "not measured (no GPU used)", "window_s": det.window_s, "hop_s": det.hop_s}


def _in_memory_detector(entry_fields: Mapping[str, Any], details: Mapping[str, Any], net: torch.nn.Module,
                        weights: Path) -> Detector:
    entry = catalog.ModelEntry(
        id=str(entry_fields["id"]), task=TASK, architecture=ARCHITECTURE, weights_path=weights,
        sha256=sha256_file(weights), sample_rate=RATE, input_length_s=float(entry_fields["input_length_s"]),
        hop_s=float(entry_fields["hop_s"]), score_polarity=SCORE_POLARITY, licence=LICENCE,
        training_data=str(entry_fields["training_data"]), card_path=None, details=dict(details))
    return Detector(entry=entry, net=net, device="cpu")


def develop_residual_model(
    *,
    manifest: Path,
    model_id: str,
    cache: Path,
    out_dir: Path,
    fuse_with: Sequence[str] = ("lfcc-lcnn-v1",),
    max_train_utterances: int | None = None,
    crop_s: float = CROP_S,
    window_s: float = 2.0,
    hop_s: float = 0.5,
    seed: int = 0,
    workers: int = 2,
    progress: Progress | None = None,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Extract features, train, calibrate, validate, measure the fusion and publish the residual detector.

    Parameters
    ----------
    manifest : Path
        The generated data set's ``manifest.csv``.
    model_id : str
        Catalogue id; ``<out_dir>/<model_id>.pt|.json|.md`` are written.
    cache : Path
        The feature cache (``.npz``, outside the repository).
    out_dir : Path
        The models folder.
    fuse_with : sequence of str
        Catalogued detectors the fusion is measured with.
    max_train_utterances : int, optional
        Use the train recordings of at most this many utterances (a seeded random choice, every
        generator and channel of each kept utterance), to bound the feature extraction.
    crop_s, window_s, hop_s : float
        Centred crop per recording, window length and hop (s).
    seed : int
        Seed of the utterance choice and the head's training.
    workers : int
        Feature extraction processes.
    progress : Progress, optional
        Reports and cancellation.
    log : callable
        Receives progress lines.

    Returns
    -------
    dict
        The details written to ``<model_id>.json``.
    """
    manifest, out_dir = Path(manifest), Path(out_dir)
    root = manifest.parent
    rows = read_manifest(manifest)
    split = _by_split(rows)
    for name in ("train", "calibration", "validation"):
        if {r["label"] for r in split.get(name, [])} != {"bonafide", "spoof"}:
            raise ForensicsError(f"{manifest}: the {name} split needs bona fide and spoof rows")
    train = split["train"]
    if max_train_utterances is not None:
        utts = sorted({r["utterance"] for r in train})
        keep = set(np.random.default_rng(seed).permutation(utts)[:max_train_utterances].tolist())
        train = [r for r in train if r["utterance"] in keep]
    used = split["validation"] + split["calibration"] + train
    table = build_feature_cache(used, root, cache, crop_s=crop_s, window_s=window_s, hop_s=hop_s, workers=workers,
                                progress=progress.sub(0.0, 0.7) if progress is not None else None, log=log)
    names = residual_features(table.feature_names)
    x, y = window_matrix(table, train, names)
    head_kwargs = {"round_trips": list(table.settings["round_trips"]), "seed": seed}
    candidates = []
    for hidden in HIDDEN_CANDIDATES:
        head = train_head(x, y, features=names, hidden=hidden, log=log, **head_kwargs)
        candidates.append((head, _calibration_figures(head, table, split["calibration"])))
    head, _ = min(candidates, key=lambda c: (c[1]["min_cllr"], c[0].settings["hidden"]))
    head_kwargs["hidden"] = head.settings["hidden"]
    out_dir.mkdir(parents=True, exist_ok=True)
    weights = out_dir / f"{model_id}.pt"
    torch.save(head.state_dict, weights)

    cal_rows, cal_raw = _scored(split["calibration"], file_raw_scores(head.net, table, split["calibration"]))
    val_rows, val_raw = _scored(split["validation"], file_raw_scores(head.net, table, split["validation"]))
    calibration, bands, validation = calibrate_and_validate(cal_rows, cal_raw, val_rows, val_raw,
                                                            fitted_on="calibration speakers")
    validation["unscored_files"] = len(split["validation"]) - len(val_rows)
    lofo = residual_lofo(table=table, train=train, validation=val_rows, features=names, main_figures=validation,
                         head_kwargs=head_kwargs, log=log)
    summary = dataset_summary(manifest, used)
    entry_fields: dict[str, Any] = {
        "id": model_id, "task": TASK, "architecture": ARCHITECTURE, "file": weights.name,
        "sha256": sha256_file(weights), "sample_rate": RATE, "input_length_s": float(window_s), "hop_s": float(hop_s),
        "score_polarity": SCORE_POLARITY, "licence": LICENCE, "training_data": training_data_text(summary),
        "card": f"{model_id}.md", "details": f"{model_id}.json"}
    details: dict[str, Any] = {
        "id": model_id, "task": TASK, "architecture": ARCHITECTURE, "config": dict(head.net.config),
        "input": {"sample_rate": RATE, "window_s": window_s, "hop_s": hop_s, "front_end": "resynthesis-residuals",
                  "file_score": "mean of the scored window raw scores (windows with too little active speech "
                                "have no score)",
                  "crop_s": crop_s},
        "score_polarity": SCORE_POLARITY, "calibration": calibration, "bands": bands, "validation": validation,
        "lofo": lofo, "dataset": summary, "licence": LICENCE, "training_data": entry_fields["training_data"],
    }
    det = _in_memory_detector(entry_fields, details, head.net, weights)
    log("measuring throughput")
    details["throughput"] = measure_throughput(det, split["validation"], root)
    log("measuring the fusion on the validation speakers")
    others = [load_detector(i, device="cpu") for i in fuse_with]
    fusion = evaluate_fusion(split["validation"], root, table, det, others,
                             progress=progress.sub(0.75, 0.2) if progress is not None else None, log=log)
    details["fusion_validation"] = [fusion]
    details["training"] = {
        **head.settings, "history": head.history,
        "candidates": [c for _, c in candidates], "selected_on": "min Cllr on the calibration speakers",
        "train_utterances": len({r["utterance"] for r in train}), "train_files": len(train),
        "features": {**table.settings, "files": len(table.paths), "audio_s": round(float(table.crop_s.sum()), 1),
                     "worker_seconds": round(float(table.seconds.sum()), 1), "names": names},
    }
    details["resynthesis"] = {"round_trips": list(table.settings["round_trips"]),
                              "neural_vocoder_sha256": sha256_file(rt.neural_weights())
                              if "neural" in table.settings["round_trips"] else None,
                              "min_active_frames": ft.MIN_ACTIVE_FRAMES}
    details["limits"] = residual_limits(details)
    card = out_dir / entry_fields["card"]
    card.write_text(residual_card(details), encoding="utf-8")
    catalog.write_shipped_entry(entry_fields, details, models_dir=out_dir)
    if progress is not None:
        progress.report(1.0, f"{model_id}: validation EER {validation['overall']['eer']:.3f}")
    log(f"{model_id}: validation EER {validation['overall']['eer']:.3f}, Cllr {validation['overall']['cllr']:.3f}; "
        f"written to {out_dir}")
    return details


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.1f} %"


def residual_limits(details: Mapping[str, Any]) -> list[str]:
    """Plain-language known failure modes of the residual detector, from its measured figures."""
    generic = [x for x in derive_limits(details) if "zero-padded" not in x]
    gens = {g["generator"]: g for g in details["validation"]["per_generator"]}
    trips = ", ".join(details["resynthesis"]["round_trips"])
    out = [fusion_summary(f) for f in details.get("fusion_validation") or []]
    out += [
        f"It was trained and validated on spoofs made by the same kinds of analysis-synthesis vocoders it "
        f"resynthesises with ({trips}; the 'neural' generator and round trip are the same MelGAN vocoder). Speech "
        "from vocoders unlike these sits near none of its round trips' fixed points; how it fares there is not "
        "measured.",
    ]
    if "espeak" in gens:
        out.append(f"The only text-to-speech system in the data is espeak-ng (formant synthesis): validation EER "
                   f"{_pct(gens['espeak']['eer'])} on it. Modern neural TTS and voice conversion were not tested.")
    out.append(f"Validated on centred {details['input']['crop_s']:g} s crops of each recording; the analyzer scores "
               "whole recordings (level normalised over the whole recording), which was not validated separately.")
    out.append("Lossy codecs, band limits and noise change the residuals of bona fide and synthetic speech alike; see "
               "the per-channel figures. Windows with too little active speech get no score.")
    cpu = details["throughput"]["cpu"]
    out.append(f"It costs far more than a waveform detector: {cpu['x_real_time']:g} x real time on the CPU "
               f"({cpu['device']}), because every recording is resynthesised by four vocoders.")
    return out + generic
