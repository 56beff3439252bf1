"""Develop a shipped speech detector end to end: train, calibrate, validate, measure, publish.

:func:`develop_model` trains a registered architecture on the train speakers of a generated data
set, scores the validation and calibration speakers with the same windowed routine the analyzer
uses (:func:`forensics_app.detectors.windows.score_windows`, file score = mean window score),
fits the score calibration on the calibration speakers, chooses the verdict bands on the
validation speakers, reports the validation figures per generator (paired figures first), per
channel and leave-one-family-out, measures the throughput, and writes the weights, the details
JSON, the model card and the catalogue entry. Every figure in the outputs is measured here.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from forensics_app.detectors import catalog
from forensics_app.detectors.windows import file_score, score_windows
from forensics_app.domain.errors import ForensicsError
from forensics_app.domain.jobs import Progress
from forensics_app.ingest.hashing import sha256_file
from forensics_app.training import calibration as cal_mod
from forensics_app.training import metrics
from forensics_app.training.audio_io import RATE, read_mono
from forensics_app.training.dataset import read_manifest
from forensics_app.training.detector_train import resolve_device, train_detector
from forensics_app.training.model_card import model_card

TASK = "speech-detection"
SCORE_POLARITY = "logits[:, 0] = spoof, logits[:, 1] = bona fide; raw = logit0 - logit1"
LICENCE = "weights trained by this project on LibriSpeech (CC BY 4.0) derived data"
#: Length of the recording the throughput is measured on (s).
THROUGHPUT_SECONDS = 60.0
#: Largest error rate allowed for each verdict band (chosen on the validation speakers).
BAND_MAX_ERROR = 0.01
#: A throughput run longer than this (s) is not repeated.
SLOW_RUN_S = 15.0
#: Windows per forward pass when scoring the validation and calibration speakers.
SCORE_BATCH = 32

Row = Mapping[str, str]

#: Condition of items whose channel is the identity.
CLEAN = "clean"
#: Condition of every item whose channel is not the identity.
DEGRADED = "degraded"
#: A channel condition needs this many bona fide validation items to be named a failure mode.
MIN_CONDITION_ITEMS = 5


def channel_conditions(channel: str) -> list[str]:
    """The conditions a manifest ``channel`` name belongs to.

    Channel names chain step labels with ``+`` (``"reverb-0.4s+pinknoise-25dB+mp3-64k"``); each
    random chain is nearly unique, so figures are reported per *condition*: ``"clean"``, or
    ``"degraded"`` plus the kind of every step (the label's leading word, noise colours
    merged: ``["degraded", "reverb", "noise", "mp3"]``).
    """
    if channel == CLEAN:
        return [CLEAN]
    kinds = []
    for step in re.split(r"\+(?=[a-z])", channel):  # "gain+3dB" is one step
        m = re.match(r"[a-z][a-z0-9]*", step)
        kind = m.group(0) if m else step
        kind = "noise" if kind.endswith("noise") else kind
        if kind not in kinds:
            kinds.append(kind)
    return [DEGRADED, *kinds]


def _condition_order(names: set[str]) -> list[str]:
    head = [c for c in (CLEAN, DEGRADED) if c in names]
    return head + sorted(names - {CLEAN, DEGRADED})


def _sub(progress: Progress | None, start: float, span: float) -> Progress | None:
    return progress.sub(start, span) if progress is not None and hasattr(progress, "sub") else None


def score_rows(net: nn.Module, rows: Sequence[Row], root: Path, *, window_s: float, hop_s: float,
               device: str, progress: Progress | None = None) -> np.ndarray:
    """File-level raw scores (mean window score) of manifest rows, shape (len(rows),) float64."""
    out = np.empty(len(rows), np.float64)
    for k, row in enumerate(rows):
        if progress is not None:
            progress.check()
        wave = read_mono(root / row["path"], rate=RATE)
        ws = score_windows(net, wave, rate=RATE, window_s=window_s, hop_s=hop_s,
                           batch_size=SCORE_BATCH, device=device)
        out[k] = file_score(ws)
        if progress is not None and (k % 16 == 15 or k == len(rows) - 1):
            progress.report((k + 1) / len(rows), f"scored {k + 1} of {len(rows)} recordings")
    return out


# --- figures -------------------------------------------------------------------------------------


def _eer(bona: np.ndarray, spoof: np.ndarray) -> dict[str, Any]:
    """EER figures of raw scores; None values when a class is empty."""
    if len(bona) == 0 or len(spoof) == 0:
        return {"eer": None, "threshold_raw": None, "n_bonafide": len(bona), "n_spoof": len(spoof)}
    e, thr = metrics.eer(np.asarray(bona, np.float64), np.asarray(spoof, np.float64))
    return {"eer": float(e), "threshold_raw": float(thr), "n_bonafide": int(len(bona)),
            "n_spoof": int(len(spoof))}


def paired_figures(rows: Sequence[Row], raw: np.ndarray, spoof_idx: Sequence[int]
                   ) -> dict[str, Any]:
    """Figures over matched pairs: each spoof against its own bona fide source (same pair_id).

    Returns
    -------
    dict
        ``n_pairs``, ``eer`` over the matched spoofs and their sources only, and
        ``pairwise_error``: the share of pairs where the spoof does not score above its source.
    """
    source = {row["pair_id"]: i for i, row in enumerate(rows) if row["label"] == "bonafide"}
    pairs = [(source[rows[i]["pair_id"]], i) for i in spoof_idx if rows[i]["pair_id"] in source]
    if not pairs:
        return {"n_pairs": 0, "eer": None, "pairwise_error": None}
    b_idx = sorted({b for b, _ in pairs})
    s_idx = [s for _, s in pairs]
    figures = _eer(raw[b_idx], raw[s_idx])
    wrong = np.mean([raw[s] <= raw[b] for b, s in pairs])
    return {"n_pairs": len(pairs), "eer": figures["eer"], "pairwise_error": float(wrong)}


def _band_shares(llr: np.ndarray, bands: cal_mod.Bands) -> dict[str, float | None]:
    """Shares of LLRs in each verdict band."""
    if len(llr) == 0:
        return {"supports_synthetic": None, "inconclusive": None, "supports_bonafide": None}
    v = bands.verdicts(llr)
    return {"supports_synthetic": float(np.mean(v == cal_mod.SUPPORTS_SYNTHETIC)),
            "inconclusive": float(np.mean(v == cal_mod.INCONCLUSIVE)),
            "supports_bonafide": float(np.mean(v == cal_mod.SUPPORTS_BONA_FIDE))}


def validation_figures(rows: Sequence[Row], raw: np.ndarray, llr: np.ndarray,
                       bands: cal_mod.Bands) -> dict[str, Any]:
    """Validation figures: per generator (paired first), overall, per channel condition.

    Channel figures are per condition (:func:`channel_conditions`): an item counts in every
    condition its channel chain contains.

    Parameters
    ----------
    rows : sequence of dict
        The validation rows.
    raw, llr : numpy.ndarray
        (len(rows),) raw file scores and calibrated LLRs.
    bands : Bands
        The verdict thresholds (``t_low``, ``t_high``).
    """
    is_bona = np.array([r["label"] == "bonafide" for r in rows])
    bona_idx = np.flatnonzero(is_bona)
    spoof_idx = np.flatnonzero(~is_bona)
    cond_of = [channel_conditions(r["channel"]) for r in rows]
    conditions = _condition_order({c for cs in cond_of for c in cs})

    def in_condition(idx: Sequence[int], cond: str) -> list[int]:
        return [int(i) for i in idx if cond in cond_of[i]]

    generators = sorted({(r["family"], r["generator"]) for r in rows if r["label"] == "spoof"})
    per_generator = []
    for family, gen in generators:
        g_idx = [i for i in spoof_idx if rows[i]["generator"] == gen]
        per_condition = {}
        for cond in conditions:
            cb, cs = in_condition(bona_idx, cond), in_condition(g_idx, cond)
            if cb and cs:
                per_condition[cond] = _eer(raw[cb], raw[cs])["eer"]
        per_generator.append({
            "generator": gen, "family": family,
            "paired": paired_figures(rows, raw, g_idx),
            **_eer(raw[bona_idx], raw[g_idx]),
            "verdicts": _band_shares(llr[g_idx], bands),
            "eer_per_channel": per_condition,
        })
    overall = {
        **_eer(raw[bona_idx], raw[spoof_idx]),
        "paired": paired_figures(rows, raw, spoof_idx),
        "cllr": float(metrics.cllr(llr[bona_idx], llr[spoof_idx])),
        "min_cllr": float(metrics.min_cllr(llr[bona_idx], llr[spoof_idx])),
        "verdicts_bonafide": _band_shares(llr[bona_idx], bands),
        "verdicts_spoof": _band_shares(llr[spoof_idx], bands),
    }
    per_channel_all = []
    for cond in conditions:
        cb, cs = in_condition(bona_idx, cond), in_condition(spoof_idx, cond)
        per_channel_all.append({"channel": cond, **_eer(raw[cb], raw[cs]),
                                "paired": paired_figures(rows, raw, cs)})
    return {"per_generator": per_generator, "overall": overall, "per_channel": per_channel_all,
            "n_speakers": len({r["speaker"] for r in rows})}


# --- data set summary ----------------------------------------------------------------------------


def dataset_summary(manifest: Path, rows: Sequence[Row]) -> dict[str, Any]:
    """Manifest SHA-256, counts per split and generator, speakers per split, generator families."""
    counts: dict[str, dict[str, int]] = {}
    speakers: dict[str, set[str]] = {}
    families: dict[str, str] = {}
    for r in rows:
        split = counts.setdefault(r["split"], {})
        split[r["generator"]] = split.get(r["generator"], 0) + 1
        speakers.setdefault(r["split"], set()).add(r["speaker"])
        if r["label"] == "spoof":
            families[r["generator"]] = r["family"]
    return {
        "manifest": manifest.name, "manifest_sha256": sha256_file(manifest),
        "counts": {s: dict(sorted(c.items())) for s, c in sorted(counts.items())},
        "speakers": {s: len(v) for s, v in sorted(speakers.items())},
        "generators": [{"id": g, "family": f}
                       for g, f in sorted(families.items(), key=lambda x: (x[1], x[0]))],
        "channels": dict(Counter(c for r in rows for c in channel_conditions(r["channel"]))
                         .most_common()),
        "distinct_channels": len({r["channel"] for r in rows}),
    }


def training_data_text(summary: Mapping[str, Any]) -> str:
    """One line for the catalogue's ``training_data`` field."""
    gens = ", ".join(f"{g['id']} ({g['family']})" for g in summary["generators"])
    n_train = summary["speakers"].get("train", 0)
    return (f"LibriSpeech-derived bona fide speech of {n_train} train speakers and its spoofed "
            f"counterparts made by this project's generators: {gens}; "
            f"{summary['distinct_channels']} channel chains ({', '.join(summary['channels'])}); "
            f"manifest sha256 {summary['manifest_sha256'][:16]}…")


# --- throughput ----------------------------------------------------------------------------------


def measure_throughput(net: nn.Module, *, window_s: float, hop_s: float, device: str,
                       seconds: float = THROUGHPUT_SECONDS, repeats: int = 2) -> dict[str, Any]:
    """Real-time factor of scoring a ``seconds`` recording (features included) on ``device``.

    The recording is seeded noise with harmonic tones (speed does not depend on content). The
    best of ``repeats`` timed runs after one warm-up window is reported (a single run when one
    takes longer than :data:`SLOW_RUN_S`).
    """
    rng = np.random.default_rng(0)
    t = np.arange(int(seconds * RATE)) / RATE
    wave = 0.1 * np.sin(2 * np.pi * 140 * t) + 0.02 * rng.standard_normal(len(t))
    wave = wave.astype(np.float32)
    score_windows(net, wave[:int(window_s * RATE)], rate=RATE, window_s=window_s, hop_s=hop_s,
                  device=device)
    best = float("inf")
    n_windows = runs = 0
    for _ in range(max(repeats, 1)):
        t0 = time.perf_counter()
        ws = score_windows(net, wave, rate=RATE, window_s=window_s, hop_s=hop_s,
                           batch_size=SCORE_BATCH, device=device)
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - t0)
        n_windows = len(ws.raw)
        runs += 1
        if best > SLOW_RUN_S:
            break
    label = (f"CUDA: {torch.cuda.get_device_name(0)}" if device.startswith("cuda")
             else f"CPU, {torch.get_num_threads()} torch thread(s)")
    return {"device": label, "recording_s": seconds, "windows": n_windows,
            "batch_size": SCORE_BATCH, "runs": runs, "seconds": round(best, 4), "x_real_time": round(seconds / best, 2)}


def throughput_figures(net: nn.Module, *, window_s: float, hop_s: float, device: str
                       ) -> dict[str, Any]:
    """CPU throughput always; GPU throughput when ``device`` is CUDA, else "not measured"."""
    gpu: Any = "not measured (no GPU used)"
    if device.startswith("cuda"):
        gpu = measure_throughput(net, window_s=window_s, hop_s=hop_s, device=device)
    cpu = measure_throughput(net, window_s=window_s, hop_s=hop_s, device="cpu")
    return {"cpu": cpu, "gpu": gpu, "window_s": window_s, "hop_s": hop_s}


# --- leave one family out ------------------------------------------------------------------------


def leave_one_family_out(*, rows: Sequence[Row], root: Path, validation: Sequence[Row],
                         main_figures: Mapping[str, Any], train_kwargs: Mapping[str, Any],
                         minutes: float, window_s: float, hop_s: float, device: str,
                         progress: Progress | None, log: Callable[[str], None]) -> dict[str, Any]:
    """Retrain without each generator family in turn; figures of the held-out family.

    Returns
    -------
    dict
        ``skipped`` (bool), ``minutes`` and per family ``family, generators, eer, paired,
        per_generator, eer_seen`` (the main model's EER on the same family, for contrast).
    """
    families = sorted({r["family"] for r in rows if r["label"] == "spoof"})
    if minutes <= 0:
        return {"skipped": True, "reason": "lofo_minutes is 0: leave-one-family-out not run",
                "minutes": 0.0, "families": []}
    val_bona = [r for r in validation if r["label"] == "bonafide"]
    results = []
    for k, family in enumerate(families):
        step = _sub(progress, k / len(families), 1.0 / len(families))
        if len(families) < 2:
            results.append({"family": family, "skipped": True,
                            "reason": "the only spoof family in the data: nothing left to "
                                      "train on"})
            continue
        log(f"leave-one-family-out: training without {family!r}")
        model = train_detector(rows=rows, root=root, exclude_families=[family], minutes=minutes,
                               device=device, progress=_sub(step, 0.0, 0.8), log=log,
                               **train_kwargs)
        held = [r for r in validation if r["label"] == "spoof" and r["family"] == family]
        subset = val_bona + held
        raw = score_rows(model.net, subset, root, window_s=window_s, hop_s=hop_s, device=device,
                         progress=_sub(step, 0.8, 0.2))
        n_b = len(val_bona)
        per_gen = []
        for gen in sorted({r["generator"] for r in held}):
            g_idx = [n_b + i for i, r in enumerate(held) if r["generator"] == gen]
            seen = next((g for g in main_figures["per_generator"] if g["generator"] == gen), None)
            per_gen.append({"generator": gen, "paired": paired_figures(subset, raw, g_idx),
                            **_eer(raw[:n_b], raw[g_idx]),
                            "eer_seen": seen["eer"] if seen else None})
        seen_idx = [g["eer"] for g in main_figures["per_generator"]
                    if g["family"] == family and g["eer"] is not None]
        results.append({
            "family": family, "skipped": False, "generators": [g["generator"] for g in per_gen],
            "paired": paired_figures(subset, raw, list(range(n_b, len(subset)))),
            **_eer(raw[:n_b], raw[n_b:]),
            "eer_seen_mean": float(np.mean(seen_idx)) if seen_idx else None,
            "per_generator": per_gen, "steps": model.steps,
            "train_seconds": round(model.seconds, 1),
        })
        log(f"leave-one-family-out {family!r}: EER {results[-1]['eer']}")
    return {"skipped": False, "minutes": minutes, "families": results}


# --- known failure modes -------------------------------------------------------------------------


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.1f} %"


def _condition_phrase(c: Mapping[str, Any]) -> str:
    what = {CLEAN: "clean items", DEGRADED: "items passed through any channel"}.get(
        c["channel"], f"items whose channel includes {c['channel']}")
    return f"{what} ({c['n_bonafide']} bona fide, {c['n_spoof']} spoofs)"


def derive_limits(details: Mapping[str, Any]) -> list[str]:
    """Plain-language known failure modes derived from the measured figures."""
    val = details["validation"]
    limits: list[str] = []
    gens = [g for g in val["per_generator"] if g["eer"] is not None]
    if gens:
        worst = max(gens, key=lambda g: (g["eer"], g["paired"]["pairwise_error"] or 0.0))
        if worst["eer"] > 0 or (worst["paired"]["pairwise_error"] or 0.0) > 0:
            limits.append(
                f"Weakest on the {worst['generator']} generator ({worst['family']} family): "
                f"validation EER {_pct(worst['eer'])}; in "
                f"{_pct(worst['paired']['pairwise_error'])} of its pairs the spoof did not score above its own bona fide source.")
        else:
            limits.append(f"No validation errors at the EER threshold on any generator; with "
                          f"{val['overall']['n_bonafide']} bona fide validation recordings, error "
                          f"rates below {_pct(1 / max(val['overall']['n_bonafide'], 1))} cannot be "
                          f"resolved.")
        missed = max(gens, key=lambda g: g["verdicts"]["supports_bonafide"] or 0.0)
        share = missed["verdicts"]["supports_bonafide"] or 0.0
        if share > 0:
            limits.append(f"{_pct(share)} of validation {missed['generator']} spoofs fell in the "
                          f"'supports bona fide' band.")
    chans = [c for c in val["per_channel"]
             if c["eer"] is not None and c["n_bonafide"] >= MIN_CONDITION_ITEMS]
    if len(chans) > 1:
        worst_c = max(chans, key=lambda c: c["eer"])
        best_c = min(chans, key=lambda c: c["eer"])
        if worst_c["eer"] > best_c["eer"]:
            limits.append(
                f"Channel matters: EER {_pct(worst_c['eer'])} on {_condition_phrase(worst_c)} "
                f"against {_pct(best_c['eer'])} on {_condition_phrase(best_c)}.")
    for fam in details["lofo"].get("families", []):
        if fam.get("skipped") or fam.get("eer") is None:
            continue
        seen = fam.get("eer_seen_mean")
        if seen is None or fam["eer"] > seen:
            limits.append(
                f"Unseen generator families: trained without the {fam['family']} family, the EER "
                f"on it was {_pct(fam['eer'])} (seen in training: {_pct(seen)}); expect weaker "
                f"results on generator types absent from training.")
    if details["lofo"].get("skipped"):
        limits.append("Generalisation to unseen generator families was not measured "
                      "(leave-one-family-out skipped).")
    inc = val["overall"]["verdicts_spoof"]["inconclusive"]
    if inc:
        limits.append(f"{_pct(inc)} of validation spoofs and "
                      f"{_pct(val['overall']['verdicts_bonafide']['inconclusive'])} of bona fide "
                      f"recordings were reported inconclusive.")
    ds = details["dataset"]
    limits.append(
        f"Validated only on {val['n_speakers']} LibriSpeech read-English speakers and this "
        f"project's generators ({', '.join(g['id'] for g in ds['generators'])}); other languages, "
        f"conversational speech and other synthesis systems were not tested.")
    limits.append(
        f"Recordings shorter than {details['input']['window_s']:g} s are zero-padded to one "
        f"window; such short items were not part of the validation.")
    return limits


def calibrate_and_validate(cal_rows: Sequence[Row], cal_raw: np.ndarray, val_rows: Sequence[Row],
                           val_raw: np.ndarray, *, fitted_on: str
                           ) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """Fit the calibration on the calibration rows, then bands and figures on the validation rows.

    Parameters
    ----------
    cal_rows, val_rows : sequence of dict
        Manifest rows of the calibration and validation speakers.
    cal_raw, val_raw : numpy.ndarray
        Their raw file scores, shape (len(rows),).
    fitted_on : str
        What the calibration was fitted on (recorded).

    Returns
    -------
    calibration, bands, validation : dict
        Details entries: calibration {a, b, fitted_on, counts, cllr, min_cllr}, bands (thresholds
        and their validation rates) and :func:`validation_figures`.
    """
    cal_bona = np.array([r["label"] == "bonafide" for r in cal_rows])
    val_bona = np.array([r["label"] == "bonafide" for r in val_rows])
    calibration = cal_mod.fit_calibration(cal_raw[cal_bona], cal_raw[~cal_bona])
    cal_llr, val_llr = calibration.llr(cal_raw), calibration.llr(val_raw)
    bands = cal_mod.choose_bands(val_llr[val_bona], val_llr[~val_bona], max_error=BAND_MAX_ERROR)
    return (
        {**calibration.as_dict(), "fitted_on": fitted_on,
         "n_bonafide": int(cal_bona.sum()), "n_spoof": int((~cal_bona).sum()),
         "cllr": float(metrics.cllr(cal_llr[cal_bona], cal_llr[~cal_bona])),
         "min_cllr": float(metrics.min_cllr(cal_llr[cal_bona], cal_llr[~cal_bona]))},
        {**bands.as_dict(), "chosen_on": "validation speakers"},
        validation_figures(val_rows, val_raw, val_llr, bands),
    )


# --- the whole run -------------------------------------------------------------------------------


def develop_model(
    *,
    manifest: Path,
    model_id: str,
    architecture: str,
    config: Mapping[str, Any],
    window_s: float,
    hop_s: float,
    seed: int,
    minutes: float,
    lofo_minutes: float,
    out_dir: Path,
    device: str | None = None,
    max_epochs: int = 1000,
    batch_size: int = 32,
    lr: float = 1e-3,
    progress: Progress | None = None,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Train, calibrate, validate and publish one detector.

    Parameters
    ----------
    manifest : Path
        The generated data set's ``manifest.csv``.
    model_id : str
        Catalogue id; files ``<out_dir>/<model_id>.pt|.json|.md`` are written.
    architecture, config
        A registered net architecture and its config.
    window_s, hop_s : float
        Training crop / scoring window and the scoring hop, in seconds.
    seed : int
        Seed of the main and the leave-one-family-out trainings.
    minutes, lofo_minutes : float
        Training budget of the main model and of each leave-one-family-out model
        (``lofo_minutes`` 0 skips leave-one-family-out, which is recorded).
    out_dir : Path
        The models folder.
    device : str, optional
        "cpu", "cuda" or None (CUDA when available).
    max_epochs, batch_size, lr
        Passed to :func:`forensics_app.training.detector_train.train_detector`.
    progress : Progress, optional
        Reports and cancellation.
    log : callable
        Receives progress lines.

    Returns
    -------
    dict
        The details written to ``<model_id>.json``.
    """
    manifest = Path(manifest)
    root = manifest.parent
    out_dir = Path(out_dir)
    device = resolve_device(device)
    rows = read_manifest(manifest)
    by_split: dict[str, list[Row]] = {}
    for r in rows:
        by_split.setdefault(r["split"], []).append(r)
    for split in ("train", "validation", "calibration"):
        labels = {r["label"] for r in by_split.get(split, [])}
        if labels != {"bonafide", "spoof"}:
            raise ForensicsError(f"{manifest}: the {split} split needs bona fide and spoof rows, "
                                 f"has {sorted(labels) or 'none'}")
    train_kwargs = {"architecture": architecture, "config": dict(config), "window_s": window_s,
                    "seed": seed, "max_epochs": max_epochs, "batch_size": batch_size, "lr": lr}

    log(f"training {model_id} ({architecture}) for up to {minutes:g} min on {device}")
    model = train_detector(rows=by_split["train"], root=root, minutes=minutes, device=device,
                           progress=_sub(progress, 0.0, 0.45), log=log, **train_kwargs)
    out_dir.mkdir(parents=True, exist_ok=True)
    weights = out_dir / f"{model_id}.pt"
    torch.save(model.state_dict, weights)  # now: the slow steps below cannot lose the training
    log(f"weights saved to {weights}")

    log("scoring the calibration and validation speakers")
    cal_rows, val_rows = by_split["calibration"], by_split["validation"]
    cal_raw = score_rows(model.net, cal_rows, root, window_s=window_s, hop_s=hop_s, device=device,
                         progress=_sub(progress, 0.45, 0.05))
    val_raw = score_rows(model.net, val_rows, root, window_s=window_s, hop_s=hop_s, device=device,
                         progress=_sub(progress, 0.50, 0.05))
    calibration, bands, validation = calibrate_and_validate(cal_rows, cal_raw, val_rows, val_raw,
                                                            fitted_on="calibration speakers")

    lofo = leave_one_family_out(rows=by_split["train"], root=root, validation=val_rows,
                                main_figures=validation, train_kwargs=train_kwargs,
                                minutes=lofo_minutes, window_s=window_s, hop_s=hop_s, device=device,
                                progress=_sub(progress, 0.55, 0.40), log=log)
    log("measuring throughput")
    throughput = throughput_figures(model.net, window_s=window_s, hop_s=hop_s, device=device)
    model.net.to("cpu")

    summary = dataset_summary(manifest, rows)
    details: dict[str, Any] = {
        "id": model_id, "task": TASK, "architecture": architecture,
        "config": model.settings["config"],
        "input": {"sample_rate": RATE, "window_s": window_s, "hop_s": hop_s,
                  "file_score": "mean of the window raw scores"},
        "score_polarity": SCORE_POLARITY,
        "calibration": calibration,
        "bands": bands,
        "validation": validation,
        "lofo": lofo,
        "throughput": throughput,
        "training": {**model.settings, "history": model.history},
        "dataset": summary,
        "licence": LICENCE,
        "training_data": training_data_text(summary),
    }
    details["limits"] = derive_limits(details)
    card = out_dir / f"{model_id}.md"
    card.write_text(model_card(details), encoding="utf-8")
    catalog.write_shipped_entry({
        "id": model_id, "task": TASK, "architecture": architecture, "file": weights.name,
        "sha256": sha256_file(weights), "sample_rate": RATE, "input_length_s": float(window_s),
        "hop_s": float(hop_s), "score_polarity": SCORE_POLARITY, "licence": LICENCE,
        "training_data": details["training_data"], "card": card.name,
        "details": f"{model_id}.json",
    }, details, models_dir=out_dir)
    if progress is not None:
        progress.report(1.0, f"{model_id}: validation EER {_pct(validation['overall']['eer'])}")
    log(f"{model_id}: validation EER {_pct(validation['overall']['eer'])}, "
        f"Cllr {validation['overall']['cllr']:.3f}; written to {out_dir}")
    return details
