"""Build the labelled training dataset: bona fide corpus speech and its spoofed counterparts.

For every utterance of the requested splits, every generator makes a spoof; each bona fide item
and each spoof then passes through ``channels_per_item`` channels (the first always clean, the
others drawn by :func:`~forensics_app.training.augment.sample_channel`), the same channel and
noise realisation for a spoof and its source. The result is a folder::

    <out>/manifest.csv      path,label,speaker,split,utterance,generator,family,channel,pair_id
    <out>/build.json        the settings the dataset was built with
    <out>/audio/<split>/<utterance>/<generator>-c<k>.wav     16 kHz mono 16-bit PCM

Every random choice derives from ``(seed, utterance, generator or channel index)``, so the output
does not depend on the number of worker processes or on which items were built first. Building
again into the same folder with the same settings only makes what is missing (e.g. a generator
added later).
"""

from __future__ import annotations

import csv
import hashlib
import json
import logging
import multiprocessing
import os
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from forensics_app.domain.errors import ForensicsError
from forensics_app.domain.jobs import Progress
from forensics_app.training.audio_io import RATE, read_mono, write_wav
from forensics_app.training.augment import CLEAN, Channel, apply_channel, sample_channel
from forensics_app.training.corpus import SPLITS, Utterance, list_corpus, split_speakers
from forensics_app.training.generators import GeneratorContext, all_generators, get

log = logging.getLogger(__name__)

#: Columns of ``manifest.csv``, in order.
MANIFEST_COLUMNS = ("path", "label", "speaker", "split", "utterance", "generator", "family", "channel", "pair_id")

#: ``generator`` (and ``family``) value of bona fide rows; also their ``label``.
BONAFIDE = "bonafide"

#: Version of the dataset layout and seeding scheme; a different one is never mixed into a folder.
FORMAT = 1

#: Settings that must match for an existing folder to be extended.
_PINNED_SETTINGS = ("format", "seed", "channels_per_item", "rate")

#: The manifest is rewritten after this many finished utterances (so a crash loses little).
_FLUSH_EVERY = 20


# --------------------------------------------------------------------------------------------
# Seeds


def _digest(text: str) -> int:
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "little")


def item_seed(seed: int, *parts: str | int) -> np.random.SeedSequence:
    """The seed sequence of one random decision, from the build seed and string/int tags."""
    return np.random.SeedSequence([int(seed) & 0xFFFFFFFFFFFFFFFF, *(_digest(str(p)) for p in parts)])


def generator_rng(seed: int, utterance: str, generator_id: str) -> np.random.Generator:
    """The rng a generator gets for one utterance (independent of channels and workers)."""
    return np.random.default_rng(item_seed(seed, "generate", utterance, generator_id))


def channel_for(seed: int, utterance: str, index: int) -> tuple[Channel, int]:
    """Channel ``index`` of an utterance and the seed of its noise/room realisation.

    Index 0 is always :data:`~forensics_app.training.augment.CLEAN`.

    Returns
    -------
    channel : Channel
    realisation_seed : int
        ``rng_seed`` for :func:`~forensics_app.training.augment.apply_channel`, shared by the
        bona fide item and all its spoofs.
    """
    realisation = int(item_seed(seed, "realise", utterance, index).generate_state(1, np.uint64)[0])
    if index == 0:
        return CLEAN, realisation
    return sample_channel(np.random.default_rng(item_seed(seed, "channel", utterance, index))), realisation


def pair_id(utterance: str, index: int) -> str:
    """Id linking a bona fide item to its spoofs (same utterance, same channel)."""
    return f"{utterance}-c{index}"


def _channel_index(pair: str) -> int:
    return int(pair.rsplit("-c", 1)[1])


# --------------------------------------------------------------------------------------------
# Manifest


def read_manifest(path: Path) -> list[dict[str, str]]:
    """Rows of a dataset manifest (``path`` stays relative to the manifest's folder).

    Raises
    ------
    ForensicsError
        The file is missing or its header is not :data:`MANIFEST_COLUMNS`.
    """
    path = Path(path)
    if not path.is_file():
        raise ForensicsError(f"dataset manifest {path} does not exist")
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        if tuple(reader.fieldnames or ()) != MANIFEST_COLUMNS:
            raise ForensicsError(
                f"{path} is not a dataset manifest: header {reader.fieldnames}, expected {list(MANIFEST_COLUMNS)}"
            )
        return [dict(row) for row in reader]


def audio_path(manifest: Path, row: dict[str, str]) -> Path:
    """Absolute path of a manifest row's WAV."""
    return Path(manifest).parent / row["path"]


def _row_order(row: dict[str, str]) -> tuple[Any, ...]:
    """Split, utterance, channel index, then the bona fide item before its spoofs (by id)."""
    return (
        SPLITS.index(row["split"]) if row["split"] in SPLITS else len(SPLITS),
        row["utterance"],
        _channel_index(row["pair_id"]),
        row["generator"] != BONAFIDE,
        row["generator"],
    )


def _write_manifest(path: Path, rows: list[dict[str, str]]) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=MANIFEST_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(sorted(rows, key=_row_order))
    os.replace(tmp, path)


# --------------------------------------------------------------------------------------------
# Work


@dataclass(frozen=True)
class _Task:
    """One utterance and the (generator, channel index) items of it still to make."""

    out_dir: Path
    split: str
    utterance: Utterance
    items: tuple[tuple[str, int], ...]
    seed: int
    context: GeneratorContext


def _relative_path(split: str, utterance: str, generator_id: str, index: int) -> str:
    return f"audio/{split}/{utterance}/{generator_id}-c{index}.wav"


def _run_task(task: _Task) -> list[dict[str, str]]:
    """Make and write the task's WAVs (runs in a worker process); returns their manifest rows."""
    u = task.utterance
    try:
        wave = read_mono(u.path, rate=RATE)
        sources: dict[str, np.ndarray] = {BONAFIDE: wave}
        families: dict[str, str] = {BONAFIDE: BONAFIDE}
        for gid in dict.fromkeys(g for g, _ in task.items if g != BONAFIDE):
            spec = get(gid)
            sources[gid] = spec(wave, rate=RATE, rng=generator_rng(task.seed, u.utterance, gid), context=task.context)
            families[gid] = spec.family
        rows = []
        for index in sorted({k for _, k in task.items}):
            channel, realisation = channel_for(task.seed, u.utterance, index)
            for gid, k in task.items:
                if k != index:
                    continue
                y = apply_channel(sources[gid], rate=RATE, channel=channel, rng_seed=realisation)
                rel = _relative_path(task.split, u.utterance, gid, index)
                write_wav(task.out_dir / rel, y, rate=RATE)
                rows.append({
                    "path": rel, "label": BONAFIDE if gid == BONAFIDE else "spoof", "speaker": u.speaker,
                    "split": task.split, "utterance": u.utterance, "generator": gid,
                    "family": families[gid], "channel": channel.name, "pair_id": pair_id(u.utterance, index),
                })
        return rows
    except ForensicsError as exc:
        raise ForensicsError(f"{u.utterance}: {exc}") from exc


def default_generators(context: GeneratorContext) -> tuple[str, ...]:
    """Every registered generator, less the neural family when no vocoder weights are given."""
    return tuple(
        g.id for g in all_generators() if g.family != "neural" or context.vocoder_weights is not None
    )


def _settings(*, data_dir: Path, seed: int, channels_per_item: int) -> dict[str, Any]:
    return {
        "format": FORMAT, "seed": int(seed), "channels_per_item": int(channels_per_item), "rate": RATE,
        "corpus": str(Path(data_dir).resolve()),
    }


def _load_existing(out_dir: Path, settings: dict[str, Any]) -> list[dict[str, str]]:
    build = out_dir / "build.json"
    manifest = out_dir / "manifest.csv"
    if not build.is_file():
        if manifest.exists():
            raise ForensicsError(f"{out_dir} holds a manifest.csv but no build.json; use an empty folder")
        return []
    try:
        old = json.loads(build.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ForensicsError(f"{build} is unreadable ({exc}); use an empty folder") from exc
    differing = [k for k in _PINNED_SETTINGS if old.get(k) != settings[k]]
    if differing:
        detail = ", ".join(f"{k} {old.get(k)!r} there, {settings[k]!r} asked" for k in differing)
        raise ForensicsError(f"{out_dir} holds a dataset built with other settings ({detail}); use another folder")
    if old.get("corpus") != settings["corpus"]:
        log.warning("extending %s, built from corpus %s, with %s", out_dir, old.get("corpus"), settings["corpus"])
    return read_manifest(manifest) if manifest.is_file() else []


def _write_build(out_dir: Path, settings: dict[str, Any], rows: list[dict[str, str]]) -> None:
    info = {
        **settings,
        "generators": sorted({r["generator"] for r in rows} - {BONAFIDE}),
        "splits": {s: len({r["utterance"] for r in rows if r["split"] == s}) for s in SPLITS},
        "items": len(rows),
    }
    tmp = out_dir / ".build.json.tmp"
    tmp.write_text(json.dumps(info, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(tmp, out_dir / "build.json")


def _plan(
    *,
    data_dir: Path,
    out_dir: Path,
    seed: int,
    generators: Sequence[str],
    channels_per_item: int,
    splits: Sequence[str],
    limit_per_split: int | None,
    context: GeneratorContext,
    existing: list[dict[str, str]],
) -> list[_Task]:
    """The utterances and items still to make (those listed in ``existing`` with a file are done)."""
    by_split = split_speakers(list_corpus(Path(data_dir)), seed=seed)
    assigned = {u.speaker: name for name in SPLITS for u in by_split.by_name(name)}
    for row in existing:
        if assigned.get(row["speaker"], row["split"]) != row["split"]:
            raise ForensicsError(
                f"{out_dir}: speaker {row['speaker']} is in split {row['split']!r} there but "
                f"{assigned[row['speaker']]!r} now (another corpus?); use another folder"
            )
    done = {(r["pair_id"], r["generator"]) for r in existing if (Path(out_dir) / r["path"]).is_file()}
    tasks = []
    for name in splits:
        utterances = by_split.by_name(name)
        if limit_per_split is not None:
            utterances = utterances[: max(0, int(limit_per_split))]
        for u in utterances:
            items = tuple(
                (gid, k)
                for k in range(channels_per_item)
                for gid in (BONAFIDE, *generators)
                if (pair_id(u.utterance, k), gid) not in done
            )
            if items:
                tasks.append(_Task(Path(out_dir), name, u, items, int(seed), context))
    return tasks


def build_dataset(
    *,
    data_dir: Path,
    out_dir: Path,
    seed: int = 0,
    generators: Sequence[str] | None = None,
    channels_per_item: int = 2,
    splits: Sequence[str] = SPLITS,
    limit_per_split: int | None = None,
    context: GeneratorContext | None = None,
    workers: int = 2,
    progress: Progress | None = None,
) -> Path:
    """Generate (or complete) a training dataset.

    Parameters
    ----------
    data_dir : Path
        Bona fide corpus folder (see :func:`~forensics_app.training.corpus.list_corpus`).
    out_dir : Path
        Dataset folder; created, or extended when it holds a dataset with the same settings.
    seed : int
        Seed of the speaker split and of every generator and channel choice.
    generators : sequence of str, optional
        Generator ids; default :func:`default_generators` (all but ``neural`` without weights).
    channels_per_item : int
        Channels per bona fide item and per spoof (the first one clean).
    splits : sequence of str
        Which of train / validation / calibration to build.
    limit_per_split : int, optional
        Only the first N utterances (by name) of each split (for trials and tests).
    context : GeneratorContext, optional
        Resources for the generators (the neural vocoder's weights).
    workers : int
        Worker processes (1 runs in this process). The output does not depend on it.
    progress : Progress, optional
        Receives ``report(fraction, message)``; its ``check()`` cancels between utterances
        (finished items stay in the manifest).

    Returns
    -------
    Path
        ``<out_dir>/manifest.csv``.

    Raises
    ------
    ForensicsError
        Unknown generator or split, a folder built with other settings, or a failing item.
    Cancelled
        From ``progress.check()``.
    """
    context = context or GeneratorContext()
    gens = tuple(dict.fromkeys(generators)) if generators is not None else default_generators(context)
    for gid in gens:
        get(gid)  # NotFound lists the known ids
    unknown = [s for s in splits if s not in SPLITS]
    if unknown:
        raise ForensicsError(f"unknown split(s) {unknown}; expected some of {list(SPLITS)}")
    if channels_per_item < 1:
        raise ForensicsError(f"channels_per_item must be at least 1, got {channels_per_item}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    manifest = out_dir / "manifest.csv"
    settings = _settings(data_dir=data_dir, seed=seed, channels_per_item=channels_per_item)
    existing = _load_existing(out_dir, settings)
    tasks = _plan(
        data_dir=data_dir, out_dir=out_dir, seed=seed, generators=gens, channels_per_item=channels_per_item,
        splits=splits, limit_per_split=limit_per_split, context=context, existing=existing,
    )
    fresh = {(pair_id(t.utterance.utterance, k), g) for t in tasks for g, k in t.items}
    rows = [r for r in existing if (r["pair_id"], r["generator"]) not in fresh]
    if progress is not None:
        progress.report(0.0, f"{len(tasks)} utterances to generate")

    def save() -> None:
        _write_manifest(manifest, rows)
        _write_build(out_dir, settings, rows)

    started = time.monotonic()
    done = 0

    def finished(new_rows: list[dict[str, str]], task: _Task) -> None:
        nonlocal done
        rows.extend(new_rows)
        done += 1
        if done % _FLUSH_EVERY == 0:
            save()
        if progress is not None:
            progress.report(done / len(tasks), f"{task.utterance.utterance} ({done}/{len(tasks)})")

    try:
        if workers <= 1 or len(tasks) <= 1:
            for task in tasks:
                if progress is not None:
                    progress.check()
                finished(_run_task(task), task)
        else:
            _run_pool(tasks, workers=workers, progress=progress, finished=finished)
    finally:
        save()
        log.info("dataset %s: %d utterances in %.1f s", out_dir, done, time.monotonic() - started)
    return manifest


def _run_pool(
    tasks: list[_Task], *, workers: int, progress: Progress | None, finished: Callable[[list[dict[str, str]], _Task], None],
) -> None:
    """Run tasks in spawned worker processes, checking for cancellation twice a second."""
    ctx = multiprocessing.get_context("spawn")  # safe from threaded (GUI, torch) parents
    executor = ProcessPoolExecutor(max_workers=min(workers, len(tasks)), mp_context=ctx)
    try:
        pending: dict[Future, _Task] = {executor.submit(_run_task, t): t for t in tasks}
        while pending:
            if progress is not None:
                progress.check()
            completed, _ = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
            for future in completed:
                finished(future.result(), pending.pop(future))
    finally:
        executor.shutdown(wait=True, cancel_futures=True)
