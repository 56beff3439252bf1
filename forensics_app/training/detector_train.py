"""The training loop of the speech detectors (the architectures live in :mod:`forensics_app.nets`).

:func:`train_detector` loads the training audio once (16-bit integers, to halve the memory),
then draws class-balanced batches of random ``window_s`` crops (items shorter than a window are
zero-padded at the end, as :func:`forensics_app.detectors.windows.score_windows` pads them),
optionally with a random gain, and minimises the cross-entropy of the net's logits
(column 0 = spoof, column 1 = bona fide) with Adam and a cosine learning-rate decay after a
short linear warm-up.

Training stops after ``max_epochs`` epochs, ``max_steps`` steps or ``minutes`` of wall-clock
time, whichever comes first. The learning-rate schedule follows the furthest of the step and
time fractions, so it reaches zero by the deadline however fast the machine is. An *epoch* is
``ceil(2 * max(n_bonafide, n_spoof) / batch_size)`` steps: each item of the larger class is
drawn about once. Every random choice comes from ``seed`` (given a fixed number of steps the run
is reproducible on one device; a time budget makes the number of steps depend on the machine).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F  # noqa: N812

from forensics_app.domain.errors import ForensicsError
from forensics_app.domain.jobs import Progress
from forensics_app.nets import registry as nets
from forensics_app.training.audio_io import RATE, read_mono

#: Class index of each label in the logits.
CLASS_INDEX = {"spoof": 0, "bonafide": 1}
#: Share of the planned steps spent on the linear learning-rate warm-up.
WARMUP_FRACTION = 0.03
#: Largest gradient norm (clipped above).
MAX_GRAD_NORM = 5.0
#: Seconds between two epoch lines in the log (the first and last epochs are always logged).
LOG_EVERY_S = 20.0


@dataclass
class TrainedModel:
    """A trained detector.

    Attributes
    ----------
    net : torch.nn.Module
        The net in eval mode on the CPU.
    state_dict : dict
        Its parameters and buffers as plain CPU tensors (what is saved).
    history : list of dict
        One entry per (possibly partial) epoch: ``epoch, steps, loss, accuracy, lr, seconds``.
    steps : int
        Optimiser steps taken.
    seconds : float
        Wall-clock time of the training loop (audio loading excluded).
    settings : dict
        What was asked and what happened: sizes, device, stop reason, load time, steps/s.
    """

    net: nn.Module
    state_dict: dict[str, torch.Tensor]
    history: list[dict[str, Any]]
    steps: int
    seconds: float
    settings: dict[str, Any] = field(default_factory=dict)


def load_int16(path: Path) -> np.ndarray:
    """A training recording as (n,) int16 samples at 16 kHz mono (half the memory of float32).

    Read with :func:`forensics_app.training.audio_io.read_mono` (16-bit WAVs come back exactly).

    Raises
    ------
    CorruptMedia, UnsupportedMedia
        Missing, unreadable or empty audio.
    """
    wave = read_mono(Path(path), rate=RATE)
    return np.clip(np.round(wave * 32768.0), -32768, 32767).astype(np.int16)


def select_rows(rows: Sequence[Mapping[str, str]], *, exclude_families: Sequence[str] = ()
                ) -> tuple[list[Mapping[str, str]], list[Mapping[str, str]]]:
    """Split manifest rows into (bona fide, spoof), dropping spoofs of ``exclude_families``.

    Raises
    ------
    ForensicsError
        An unknown label, or a class left empty.
    """
    excluded = set(exclude_families)
    bona, spoof = [], []
    for row in rows:
        label = row["label"]
        if label not in CLASS_INDEX:
            raise ForensicsError(f"manifest row {row['path']} has label {label!r}; "
                                 f"expected one of {sorted(CLASS_INDEX)}")
        if label == "bonafide":
            bona.append(row)
        elif row["family"] not in excluded:
            spoof.append(row)
    if not bona or not spoof:
        raise ForensicsError(
            f"training needs both classes: {len(bona)} bona fide and {len(spoof)} spoof rows "
            f"(excluded families: {sorted(excluded) or 'none'})")
    return bona, spoof


class _ClassSampler:
    """Endless shuffled passes over one class's items (seeded)."""

    def __init__(self, n: int, rng: np.random.Generator) -> None:
        self._n = n
        self._rng = rng
        self._order = rng.permutation(n)
        self._pos = 0

    def take(self, k: int) -> np.ndarray:
        out = np.empty(k, np.int64)
        for i in range(k):
            if self._pos == self._n:
                self._order = self._rng.permutation(self._n)
                self._pos = 0
            out[i] = self._order[self._pos]
            self._pos += 1
        return out


def _crops(audio: Sequence[np.ndarray], idx: np.ndarray, win: int, rng: np.random.Generator,
           gain_db: float) -> np.ndarray:
    """(len(idx), win) float32 random crops, zero-padded at the end, with a random gain."""
    out = np.zeros((len(idx), win), np.float32)
    for j, i in enumerate(idx):
        clip = audio[i]
        start = int(rng.integers(0, len(clip) - win + 1)) if len(clip) > win else 0
        piece = clip[start:start + win]
        out[j, :len(piece)] = piece
    out *= 1.0 / 32768.0
    if gain_db > 0:
        gains = 10.0 ** (rng.uniform(-gain_db, gain_db, size=(len(idx), 1)) / 20.0)
        np.clip(out * gains.astype(np.float32), -1.0, 1.0, out=out)
    return out


def resolved_config(net: nn.Module, config: Mapping[str, Any]) -> dict[str, Any]:
    """The net's complete config (defaults filled in) when it exposes one, else ``config``."""
    full = getattr(net, "config", None)
    return dict(full) if isinstance(full, Mapping) else dict(config)


def resolve_device(device: str | None) -> str:
    """``device`` or, when None, :func:`forensics_app.settings.compute_device`.

    Raises
    ------
    ForensicsError
        "cuda" asked for where torch sees no GPU.
    """
    if device is None:
        from forensics_app.settings import compute_device

        device = compute_device()
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ForensicsError(f"device {device!r} requested but torch sees no CUDA GPU")
    return device


def _lr_factor(progress: float) -> float:
    """Linear warm-up over :data:`WARMUP_FRACTION`, then cosine decay to zero at 1."""
    if progress < WARMUP_FRACTION:
        return max(progress / WARMUP_FRACTION, 0.02)
    t = min((progress - WARMUP_FRACTION) / (1.0 - WARMUP_FRACTION), 1.0)
    return 0.5 * (1.0 + math.cos(math.pi * t))


def _report(progress: Progress | None, fraction: float, message: str) -> None:
    if progress is not None:
        progress.report(min(max(fraction, 0.0), 1.0), message)


def load_audio(rows: Sequence[Mapping[str, str]], root: Path, *, progress: Progress | None = None
               ) -> list[np.ndarray]:
    """Every row's audio (``root / row["path"]``) as int16 arrays, in row order."""
    out = []
    for k, row in enumerate(rows):
        if progress is not None and k % 32 == 0:
            progress.check()
            _report(progress, k / max(len(rows), 1), f"loading audio {k} of {len(rows)}")
        out.append(load_int16(root / row["path"]))
    return out


def train_detector(
    *,
    rows: Sequence[Mapping[str, str]],
    root: Path,
    architecture: str,
    config: Mapping[str, Any],
    window_s: float,
    seed: int,
    minutes: float,
    max_epochs: int,
    batch_size: int,
    lr: float,
    device: str | None,
    exclude_families: Sequence[str] = (),
    max_steps: int | None = None,
    gain_db: float = 6.0,
    weight_decay: float = 1e-4,
    progress: Progress | None = None,
    log: Callable[[str], None] = print,
) -> TrainedModel:
    """Train a detector net on manifest rows.

    Parameters
    ----------
    rows : sequence of dict
        Manifest rows of the train split (columns of the dataset manifest); spoofs whose
        ``family`` is in ``exclude_families`` are dropped.
    root : Path
        The manifest's folder (row paths are relative to it).
    architecture, config
        Passed to :func:`forensics_app.nets.registry.build`.
    window_s : float
        Length of the training crops in seconds (the scoring window).
    seed : int
        Seeds torch and the numpy generator of crops, gains and batch order.
    minutes : float
        Wall-clock budget of the training loop (> 0).
    max_epochs, max_steps : int
        Further stopping limits (``max_steps`` None = no step limit beyond the epochs).
    batch_size : int
        Windows per step, half bona fide and half spoof (even, at least 2).
    lr : float
        Peak Adam learning rate.
    device : str or None
        "cpu", "cuda" or None for :func:`forensics_app.settings.compute_device`.
    gain_db : float
        Random gain of each crop, uniform in +-``gain_db`` dB (0 = off; clipped to [-1, 1]).
    weight_decay : float
        Adam L2 weight decay.
    progress : Progress, optional
        Loading takes the first 10 %, training the rest; checked every step.
    log : callable
        Receives an epoch line at most every :data:`LOG_EVERY_S` seconds (and the last).

    Returns
    -------
    TrainedModel

    Raises
    ------
    ForensicsError
        Bad settings or a class with no rows; ``CorruptMedia`` for unreadable audio.
    Cancelled
        When ``progress`` is cancelled.
    """
    if minutes <= 0 or max_epochs < 1 or (max_steps is not None and max_steps < 1):
        raise ForensicsError(f"training needs minutes > 0, max_epochs >= 1 and max_steps >= 1 "
                             f"(got {minutes}, {max_epochs}, {max_steps})")
    if batch_size < 2 or batch_size % 2:
        raise ForensicsError(f"batch_size must be even and at least 2, got {batch_size}")
    if window_s <= 0 or lr <= 0:
        raise ForensicsError(f"window_s and lr must be positive, got {window_s}, {lr}")
    device = resolve_device(device)
    bona_rows, spoof_rows = select_rows(rows, exclude_families=exclude_families)
    win = int(round(window_s * RATE))

    t_load = time.perf_counter()
    load_progress = progress.sub(0.0, 0.1) if hasattr(progress, "sub") else None
    audio = load_audio([*bona_rows, *spoof_rows], root, progress=load_progress)
    bona_audio, spoof_audio = audio[:len(bona_rows)], audio[len(bona_rows):]
    load_s = time.perf_counter() - t_load
    log(f"loaded {len(bona_rows)} bona fide and {len(spoof_rows)} spoof items in {load_s:.1f} s")

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    net = nets.build(architecture, dict(config)).to(device)
    opt = torch.optim.Adam(net.parameters(), lr=lr, weight_decay=weight_decay)
    half = batch_size // 2
    samplers = (_ClassSampler(len(bona_audio), rng), _ClassSampler(len(spoof_audio), rng))
    targets = torch.tensor([CLASS_INDEX["bonafide"]] * half + [CLASS_INDEX["spoof"]] * half,
                           device=device)
    steps_per_epoch = math.ceil(2 * max(len(bona_audio), len(spoof_audio)) / batch_size)
    planned = steps_per_epoch * max_epochs
    if max_steps is not None:
        planned = min(planned, max_steps)
    budget_s = minutes * 60.0

    history: list[dict[str, Any]] = []
    step = 0
    stop = "epochs" if max_steps is None or planned < max_steps else "steps"
    t0 = time.perf_counter()
    net.train()
    epoch = 0
    last_log = -LOG_EVERY_S
    while step < planned:
        epoch += 1
        losses, correct, seen, lr_now = [], 0, 0, lr
        for _ in range(steps_per_epoch):
            if step >= planned:
                break
            elapsed = time.perf_counter() - t0
            if elapsed >= budget_s:
                stop = "time"
                break
            if progress is not None:
                progress.check()
            frac = max(step / planned, elapsed / budget_s)
            lr_now = lr * _lr_factor(frac)
            for group in opt.param_groups:
                group["lr"] = lr_now
            batch = np.concatenate([
                _crops(bona_audio, samplers[0].take(half), win, rng, gain_db),
                _crops(spoof_audio, samplers[1].take(half), win, rng, gain_db),
            ])
            logits = net(torch.from_numpy(batch).to(device))
            loss = F.cross_entropy(logits, targets)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_(net.parameters(), MAX_GRAD_NORM)
            opt.step()
            step += 1
            losses.append(float(loss.detach()))
            correct += int((logits.detach().argmax(1) == targets).sum())
            seen += batch_size
            _report(progress, 0.1 + 0.9 * max(step / planned, elapsed / budget_s),
                    f"epoch {epoch}, step {step}, loss {losses[-1]:.3f}")
        if losses:
            entry = {"epoch": epoch, "steps": step, "loss": float(np.mean(losses)),
                     "accuracy": correct / seen, "lr": lr_now,
                     "seconds": round(time.perf_counter() - t0, 3)}
            history.append(entry)
            if entry["seconds"] - last_log >= LOG_EVERY_S or step >= planned or stop == "time":
                last_log = entry["seconds"]
                log(f"epoch {epoch}: step {step}, loss {entry['loss']:.4f}, "
                    f"accuracy {entry['accuracy']:.3f}, lr {lr_now:.2e}, {entry['seconds']:.0f} s")
        if stop == "time":
            break
    seconds = time.perf_counter() - t0
    net.eval()
    net.to("cpu")
    state = {k: v.detach().cpu().clone() for k, v in net.state_dict().items()}
    settings = {
        "architecture": architecture, "config": resolved_config(net, config),
        "window_s": window_s, "seed": seed,
        "minutes": minutes, "max_epochs": max_epochs, "max_steps": max_steps,
        "batch_size": batch_size, "lr": lr, "weight_decay": weight_decay, "gain_db": gain_db,
        "optimizer": "Adam", "schedule": f"linear warm-up {WARMUP_FRACTION:.0%}, cosine to 0",
        "device": device, "exclude_families": sorted(set(exclude_families)),
        "n_bonafide": len(bona_audio), "n_spoof": len(spoof_audio),
        "steps_per_epoch": steps_per_epoch, "planned_steps": planned, "steps": step,
        "epochs": epoch, "stopped_by": stop, "load_seconds": round(load_s, 3),
        "train_seconds": round(seconds, 3),
        "steps_per_second": round(step / seconds, 4) if seconds > 0 else None,
        "torch_threads": torch.get_num_threads(),
    }
    _report(progress, 1.0, f"trained {step} steps in {seconds:.0f} s")
    return TrainedModel(net=net, state_dict=state, history=history, steps=step, seconds=seconds,
                        settings=settings)
