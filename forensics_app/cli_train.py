"""``forensics-app train ...``: generate training data, train the vocoder and the detectors.

Each shipped model is one command; every step is seeded and cached, so re-running a command only
does what is missing::

    forensics-app train vocoder  --data DIR                 # the project's neural vocoder
    forensics-app train detector --data DIR --model lcnn    # data (cached) + train + calibrate + card
    forensics-app train detector --data DIR --model aasist
    forensics-app train detector --data DIR --model residual  # self-resynthesis residual detector
    forensics-app train calibrate-imported --data DIR --model aasist-official
    forensics-app train fusion --data DIR --models lfcc-lcnn-v1,resynthesis-residual-v1  # fitted fusion

``--data`` is a folder of bona fide speech (``speaker-chapter-utt.flac``, e.g. LibriSpeech).
Weights, details and cards are written to the repository's ``models/`` folder (``--models-dir``
to write elsewhere); the generated data set goes to the user data folder (``--work``).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from forensics_app import settings

#: The project's vocoder, used by the "neural" generator family.
VOCODER_ID = "vocoder-melgan-v1"


@dataclass(frozen=True)
class DetectorPreset:
    """How one shipped detector is built and trained."""

    model_id: str
    architecture: str
    window_s: float
    hop_s: float
    minutes: float
    lofo_minutes: float
    config: dict[str, Any] = field(default_factory=dict)
    batch_size: int = 32
    lr: float = 1e-3


#: The shipped detectors (``--model`` names).
PRESETS: dict[str, DetectorPreset] = {
    "lcnn": DetectorPreset(model_id="lfcc-lcnn-v1", architecture="lfcc_lcnn", window_s=2.0, hop_s=0.5,
                           minutes=25.0, lofo_minutes=3.0),
    # AASIST with the official AASIST-L layout but narrow residual blocks (8/8/16/16 channels),
    # on 2 s windows: about 5.5 s per training step of 16 windows on one idle CPU thread (AASIST-L
    # dims: 18 s; benchmarks/detector_throughput.py). On the 2-core development CPU, 20 minutes gave
    # 132 steps and no convergence: train it on a GPU (used automatically when present).
    "aasist": DetectorPreset(
        model_id="aasist-tiny-2s-v1", architecture="aasist", window_s=2.0, hop_s=1.0, minutes=20.0,
        lofo_minutes=0.0, batch_size=16, lr=5e-4,
        config={"nb_samp": 32000, "first_conv": 128, "filts": [70, [1, 8], [8, 8], [8, 16], [16, 16]],
                "gat_dims": [24, 32], "pool_ratios": [0.4, 0.5, 0.7, 0.5],
                "temperatures": [2.0, 2.0, 100.0, 100.0]}),
}


@dataclass(frozen=True)
class ResidualPreset:
    """How the self-resynthesis residual detector is built (features cached, head trained in seconds)."""

    model_id: str
    window_s: float
    hop_s: float
    crop_s: float
    fuse_with: tuple[str, ...]
    max_train_utterances: int | None = None


#: Residual detectors (``--model`` names); their features are cached next to the data set.
RESIDUAL_PRESETS: dict[str, ResidualPreset] = {
    "residual": ResidualPreset(model_id="resynthesis-residual-v1", window_s=2.0, hop_s=0.5, crop_s=4.0,
                               fuse_with=("lfcc-lcnn-v1",)),
}


def _log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def _progress(prefix: str) -> Any:
    from forensics_app.domain.jobs import ProgressToken

    last = [-1.0]

    def show(fraction: float, message: str) -> None:
        if fraction - last[0] >= 0.02 or fraction >= 1.0:
            last[0] = fraction
            _log(f"{prefix} {fraction * 100:5.1f}% {message}")

    return ProgressToken(show)


def _models_dir(args: argparse.Namespace) -> Path:
    from forensics_app.detectors.catalog import shipped_models_dir

    return Path(args.models_dir) if args.models_dir else shipped_models_dir()


def _work_dir(args: argparse.Namespace) -> Path:
    return Path(args.work) if args.work else settings.data_dir() / "training" / f"dataset-seed{args.seed}"


def ensure_dataset(args: argparse.Namespace) -> Path:
    """Build (or complete) the generated data set; return its manifest."""
    from forensics_app.training.dataset import build_dataset
    from forensics_app.training.generators.registry import GeneratorContext

    vocoder = _models_dir(args) / f"{VOCODER_ID}.pt"
    if not vocoder.is_file():
        raise SystemExit(f"forensics-app: error: the neural vocoder {vocoder} is missing; "
                         "train it first: forensics-app train vocoder --data DIR")
    out = _work_dir(args)
    _log(f"data set in {out} (incremental)")
    return build_dataset(data_dir=Path(args.data), out_dir=out, seed=args.seed,
                         channels_per_item=args.channels_per_item,
                         context=GeneratorContext(vocoder_weights=vocoder), workers=args.workers,
                         progress=_progress("data"))


def _threads(args: argparse.Namespace) -> None:
    if args.threads:
        import torch

        torch.set_num_threads(int(args.threads))


def cmd_train_vocoder(args: argparse.Namespace, emit: Callable[[argparse.Namespace, Any, Callable[[], str]], None]) -> int:
    from forensics_app.detectors.catalog import write_shipped_entry
    from forensics_app.detectors.weights import sha256_file
    from forensics_app.training.vocoder_card import vocoder_card
    from forensics_app.training.vocoder_train import train_vocoder

    _threads(args)
    out = _models_dir(args) / f"{VOCODER_ID}.pt"
    result = train_vocoder(data_dir=Path(args.data), out_weights=out, seed=args.seed, minutes=args.minutes,
                           device=args.device, progress=_progress("vocoder"), log=_log)
    details = {"config": result["config"], "training": {k: v for k, v in result.items() if k != "config"}}
    card = out.with_suffix(".md")
    card.write_text(vocoder_card(VOCODER_ID, details), encoding="utf-8")
    write_shipped_entry({
        "id": VOCODER_ID, "task": "vocoder", "architecture": "melgan", "file": out.name,
        "sha256": sha256_file(out), "sample_rate": 16000, "input_length_s": 0.0, "hop_s": 0.0,
        "score_polarity": "not a detector", "licence": "weights trained by this project on LibriSpeech "
        "train-clean-100 speech (CC BY 4.0)", "training_data": "bona fide train-split speakers",
        "card": card.name, "details": f"{VOCODER_ID}.json",
    }, details, models_dir=_models_dir(args))
    emit(args, details, lambda: f"vocoder trained: {out} ({result.get('steps')} steps)")
    return 0


def cmd_train_detector(args: argparse.Namespace, emit: Callable[[argparse.Namespace, Any, Callable[[], str]], None]) -> int:
    from forensics_app.training.develop import develop_model

    _threads(args)
    if args.model in RESIDUAL_PRESETS:
        return cmd_train_residual(args, emit)
    preset = PRESETS[args.model]
    manifest = Path(args.dataset) if args.dataset else ensure_dataset(args)
    details = develop_model(
        manifest=manifest, model_id=args.id or preset.model_id, architecture=preset.architecture,
        config=dict(preset.config), window_s=preset.window_s, hop_s=preset.hop_s, seed=args.seed,
        minutes=preset.minutes if args.minutes is None else args.minutes,
        lofo_minutes=preset.lofo_minutes if args.lofo_minutes is None else args.lofo_minutes,
        out_dir=_models_dir(args), device=args.device, progress=_progress(args.model), log=_log,
        batch_size=preset.batch_size, lr=preset.lr,
    )
    emit(args, details, lambda: json.dumps(details.get("validation", {}), indent=2))
    return 0


def cmd_train_residual(args: argparse.Namespace, emit: Callable[[argparse.Namespace, Any, Callable[[], str]], None]) -> int:
    """``train detector --model residual``: features (cached), head, calibration, validation, fusion, card."""
    from forensics_app.training.residual_develop import develop_residual_model

    preset = RESIDUAL_PRESETS[args.model]
    manifest = Path(args.dataset) if args.dataset else ensure_dataset(args)
    cache = Path(args.cache) if args.cache else manifest.parent / f"residual-features-crop{preset.crop_s:g}s.npz"
    details = develop_residual_model(
        manifest=manifest, model_id=args.id or preset.model_id, cache=cache, out_dir=_models_dir(args),
        fuse_with=preset.fuse_with, crop_s=preset.crop_s, window_s=preset.window_s, hop_s=preset.hop_s,
        max_train_utterances=args.max_train_utterances or preset.max_train_utterances, seed=args.seed,
        workers=args.workers, progress=_progress(args.model), log=_log)
    if preset.fuse_with:  # a retrained model changes its hash: refit the shipped fusion with it
        _fit_fusion(args, manifest=manifest, cache=cache, model_ids=[*preset.fuse_with, args.id or preset.model_id],
                    max_error=0.01)
    emit(args, details, lambda: json.dumps({"validation": details["validation"]["overall"],
                                            "fusion": details["fusion_validation"][0]["systems"]}, indent=2))
    return 0


def cmd_train_calibrate_imported(args: argparse.Namespace, emit: Callable[[argparse.Namespace, Any, Callable[[], str]], None]) -> int:
    from forensics_app.training.third_party import calibrate_imported

    _threads(args)
    manifest = Path(args.dataset) if args.dataset else ensure_dataset(args)
    details = calibrate_imported(model_id=args.model, manifest=manifest, out_dir=_models_dir(args) / "third_party",
                                 device=args.device, progress=_progress(args.model), log=_log,
                                 max_speakers=args.max_speakers)
    emit(args, details, lambda: json.dumps(details.get("validation", {}), indent=2))
    return 0


def _fit_fusion(args: argparse.Namespace, *, manifest: Path, cache: Path, model_ids: list[str],
                max_error: float) -> Any:
    """Fit, validate and write the fusion of ``model_ids``; update the cards; return the FittedFusion."""
    from forensics_app.detectors.fusion import write_fusion
    from forensics_app.training.fusion_fit import attach_to_cards, develop_fusion

    fusion = develop_fusion(manifest=manifest, cache=cache, model_ids=model_ids, max_error=max_error,
                            progress=_progress("fusion"), log=_log)
    path = _models_dir(args) / "fusions.json"
    write_fusion(fusion, path)
    cards = attach_to_cards(fusion, models_dir=_models_dir(args))
    _log(f"fitted fusion written to {path}; details and cards updated: {', '.join(cards) or 'none'}")
    return fusion


def cmd_train_fusion(args: argparse.Namespace, emit: Callable[[argparse.Namespace, Any, Callable[[], str]], None]) -> int:
    """``train fusion --models ID,ID``: fit the linear fusion on the calibration speakers, validate, write."""

    _threads(args)
    manifest = Path(args.dataset) if args.dataset else ensure_dataset(args)
    crop = RESIDUAL_PRESETS["residual"].crop_s
    cache = Path(args.cache) if args.cache else manifest.parent / f"residual-features-crop{crop:g}s.npz"
    ids = [m.strip() for m in args.models.split(",") if m.strip()]
    fusion = _fit_fusion(args, manifest=manifest, cache=cache, model_ids=ids, max_error=args.max_error)
    emit(args, fusion.as_dict(), lambda: fusion.describe() + "\n" + json.dumps(
        {k: v["overall"] for k, v in fusion.validation["systems"].items()}, indent=2))
    return 0


def register(sub: Any, *, common: argparse.ArgumentParser,
             emit: Callable[[argparse.Namespace, Any, Callable[[], str]], None]) -> None:
    """Add ``train vocoder|detector|calibrate-imported|fusion`` to the CLI."""
    t = sub.add_parser("train", help="generate training data, train the vocoder and the detectors")
    tsub = t.add_subparsers(dest="train_command", required=True)
    shared = argparse.ArgumentParser(add_help=False)
    shared.add_argument("--data", required=True, help="folder of bona fide speech (speaker-chapter-utt.flac)")
    shared.add_argument("--seed", type=int, default=0)
    shared.add_argument("--device", choices=["cpu", "cuda"], help="default: CUDA when available")
    shared.add_argument("--models-dir", help="where weights, details and cards go (default: models/)")
    shared.add_argument("--threads", type=int, help="torch CPU threads (1 when the cores are shared)")
    data = argparse.ArgumentParser(add_help=False)
    data.add_argument("--work", help="generated data set folder (default: in the user data folder)")
    data.add_argument("--dataset", help="an existing data set manifest.csv (skip generation)")
    data.add_argument("--channels-per-item", type=int, default=2)
    data.add_argument("--workers", type=int, default=2)

    c = tsub.add_parser("vocoder", help="train the project's neural vocoder", parents=[common, shared])
    c.add_argument("--minutes", type=float, default=12.0)
    c.set_defaults(func=lambda a: cmd_train_vocoder(a, emit))
    c = tsub.add_parser("detector", help="train, calibrate and validate a shipped detector",
                        parents=[common, shared, data])
    c.add_argument("--model", choices=sorted(PRESETS | RESIDUAL_PRESETS), required=True)
    c.add_argument("--id", help="model id (default: the preset's)")
    c.add_argument("--minutes", type=float, help="training budget (default: the preset's)")
    c.add_argument("--lofo-minutes", type=float, help="budget per leave-one-family-out run")
    c.add_argument("--cache", help="residual: feature cache .npz (default: next to the data set manifest)")
    c.add_argument("--max-train-utterances", type=int,
                   help="residual: train on the recordings of at most this many utterances (seeded choice)")
    c.set_defaults(func=lambda a: cmd_train_detector(a, emit))
    c = tsub.add_parser("calibrate-imported", help="calibrate and validate imported third-party weights "
                        "on the generated data", parents=[common, shared, data])
    c.add_argument("--model", required=True, help="an imported model id, e.g. aasist-official")
    c.add_argument("--max-speakers", type=int, help="score at most this many speakers per split "
                   "(third-party nets can be slow on a CPU)")
    c.set_defaults(func=lambda a: cmd_train_calibrate_imported(a, emit))
    c = tsub.add_parser("fusion", help="fit a linear fusion of calibrated detectors on the calibration speakers "
                        "and validate it", parents=[common, shared, data])
    c.add_argument("--models", required=True, help="comma-separated detector ids, e.g. "
                   "lfcc-lcnn-v1,resynthesis-residual-v1")
    c.add_argument("--cache", help="residual feature cache .npz whose crops every model is scored on "
                   "(default: next to the data set manifest)")
    c.add_argument("--max-error", type=float, default=0.01, help="target wrong-verdict share per class of the "
                   "fused bands")
    c.set_defaults(func=lambda a: cmd_train_fusion(a, emit))
