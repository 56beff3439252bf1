"""Residual feature vectors of a generated data set, extracted once and cached in a ``.npz`` file.

The residual detector learns from the self-resynthesis statistics of
:mod:`forensics_app.resynthesis.features`. Computing them costs about 0.1-0.2 s of CPU per second
of audio (four round trips, alignment, residuals), so :func:`build_feature_cache` extracts them
once per data set, for a centred crop of at most ``crop_s`` seconds of every recording (paired
recordings of one utterance have the same length, so their crops cover the same words), and keeps
them in a cache file outside the repository. A run that is interrupted or asked for more rows
computes only what is missing; a cache made with other settings or with resynthesis code that
computes other numbers (its :func:`code_fingerprint` differs) is recomputed from scratch.

Per recording the cache holds the file vector (statistics over every active frame of the crop)
and the window vectors of the crop (``window_s`` windows every ``hop_s``), exactly as
:func:`forensics_app.resynthesis.features.features_from_tracks` computes them for the analyzer.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from forensics_app.domain.errors import ForensicsError
from forensics_app.domain.jobs import Progress
from forensics_app.resynthesis import features as ft
from forensics_app.resynthesis import round_trips as rt

#: Longest part of a recording whose features are extracted (s), centred in the recording.
CROP_S = 4.0

#: Cache file format version (bump when the layout changes).
FORMAT = 1

#: Rows computed between two saves of the cache file.
SAVE_EVERY = 64

Row = Mapping[str, str]


@dataclass(frozen=True)
class FeatureTable:
    """Residual features of a list of recordings.

    Attributes
    ----------
    paths : tuple of str
        Manifest paths of the recordings, in row order.
    feature_names : tuple of str
        Column names (:func:`forensics_app.resynthesis.features.feature_names`).
    file_values : np.ndarray
        Shape (n_files, n_features), float64: the file vector of each crop (NaN statistics when
        it has too few active frames).
    win_values : np.ndarray
        Shape (n_windows, n_features), float64: every window vector of every crop.
    win_file : np.ndarray
        Shape (n_windows,), int64: the recording (index into ``paths``) of each window.
    win_starts_s : np.ndarray
        Shape (n_windows,), float64: window start (s) from the start of the crop.
    crop_s : np.ndarray
        Shape (n_files,), float64: length of each crop (s).
    offset_s : np.ndarray
        Shape (n_files,), float64: where each crop starts in its recording (s).
    seconds : np.ndarray
        Shape (n_files,), float64: wall-clock time of each extraction (s).
    settings : dict
        ``crop_s, window_s, hop_s, round_trips, fingerprint, format``.
    """

    paths: tuple[str, ...]
    feature_names: tuple[str, ...]
    file_values: np.ndarray
    win_values: np.ndarray
    win_file: np.ndarray
    win_starts_s: np.ndarray
    crop_s: np.ndarray
    offset_s: np.ndarray
    seconds: np.ndarray
    settings: dict[str, Any]

    def index(self, paths: Sequence[str]) -> np.ndarray:
        """Row indices of ``paths`` in this table, shape (len(paths),); NotFound-style error if absent."""
        where = {p: i for i, p in enumerate(self.paths)}
        missing = [p for p in paths if p not in where]
        if missing:
            raise ForensicsError(f"{len(missing)} recording(s) have no cached residual features "
                                 f"(first: {missing[0]})")
        return np.array([where[p] for p in paths], dtype=np.int64)

    def windows_of(self, file_index: int) -> np.ndarray:
        """Indices into ``win_values`` of one recording's windows, shape (k,)."""
        return np.flatnonzero(self.win_file == file_index)


def probe_signal(*, seconds: float = 1.5, seed: int = 0) -> np.ndarray:
    """A fixed voiced test signal at 16 kHz, shape (seconds * 16000,) float32.

    Harmonics of a 120-180 Hz glide under a two-formant envelope, seeded breath noise and a
    syllabic envelope: enough structure for every round trip to act on.
    """
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * rt.RATE)) / rt.RATE
    phase = 2 * np.pi * np.cumsum(120.0 + 40.0 * t / seconds) / rt.RATE
    harmonics = sum(np.sin(k * phase) * (np.exp(-((k * 150 - 700) / 300) ** 2) + 0.5 * np.exp(
        -((k * 150 - 1800) / 400) ** 2) + 0.02) for k in range(1, 40))
    x = harmonics * (0.55 + 0.45 * np.sin(2 * np.pi * 3.0 * t)) + 0.05 * rng.standard_normal(t.size)
    return (0.3 * x / np.max(np.abs(x))).astype(np.float32)


def code_fingerprint(round_trip_ids: Sequence[str] = rt.ORDER) -> str:
    """SHA-256 of what the resynthesis code computes: the feature names and the file vector of
    :func:`probe_signal` (rounded to 1e-5), for ``round_trip_ids``.

    Features cached under another fingerprint were computed by code that gives other numbers and
    are not reused; edits that change no number (documentation, refactoring) keep the cache.
    """
    rset = ft.residual_tracks(probe_signal(), rate=rt.RATE, round_trip_ids=round_trip_ids, device="cpu")
    h = hashlib.sha256(json.dumps(list(ft.feature_names(round_trip_ids))).encode())
    h.update(np.round(ft.file_vector(rset), 5).astype(np.float64).tobytes())
    return h.hexdigest()


def centre_crop(wave: np.ndarray, *, rate: int, crop_s: float) -> tuple[np.ndarray, float]:
    """The centred ``crop_s`` seconds of a mono recording (all of it when shorter).

    The start is rounded down to the 10 ms frame grid.

    Returns
    -------
    crop : np.ndarray
        Shape (min(n, crop_s * rate),).
    offset_s : float
        Start of the crop in the recording (s).
    """
    n = int(round(crop_s * rate))
    if wave.size <= n:
        return wave, 0.0
    hop = rate // 100
    start = (wave.size - n) // 2 // hop * hop
    return wave[start:start + n], start / rate


def _init_worker() -> None:
    """One torch and BLAS thread per worker process (the cores are shared)."""
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import torch

    torch.set_num_threads(1)


def extract_one(path: str, *, crop_s: float, window_s: float, hop_s: float,
                round_trip_ids: Sequence[str]) -> dict[str, Any]:
    """Residual features of one recording's centred crop (the unit of work of a worker).

    Parameters
    ----------
    path : str
        Audio file (any rate; mixed to mono, resampled to 16 kHz).
    crop_s, window_s, hop_s : float
        Crop length, window length and hop (s).
    round_trip_ids : sequence of str
        Round trips to run.

    Returns
    -------
    dict
        ``file`` (n_features,), ``windows`` (k, n_features), ``starts`` (k,) s, ``crop_s``,
        ``offset_s``, ``seconds`` (wall-clock time).
    """
    from forensics_app.training.audio_io import read_mono

    t0 = time.perf_counter()
    wave, offset = centre_crop(read_mono(Path(path), rate=rt.RATE), rate=rt.RATE, crop_s=crop_s)
    rset = ft.residual_tracks(wave, rate=rt.RATE, round_trip_ids=round_trip_ids, device="cpu")
    wf = ft.features_from_tracks(rset, window_s=window_s, hop_s=hop_s)
    return {"file": ft.file_vector(rset), "windows": wf.values, "starts": wf.starts_s,
            "crop_s": wave.size / rt.RATE, "offset_s": offset, "seconds": time.perf_counter() - t0}


def _settings(*, crop_s: float, window_s: float, hop_s: float, round_trip_ids: Sequence[str]) -> dict[str, Any]:
    return {"format": FORMAT, "crop_s": float(crop_s), "window_s": float(window_s), "hop_s": float(hop_s),
            "round_trips": list(round_trip_ids), "fingerprint": code_fingerprint(round_trip_ids)}


def _load(cache: Path, settings: Mapping[str, Any], log: Callable[[str], None]) -> dict[str, dict[str, Any]]:
    """Per-path results of a compatible cache file, else an empty dict."""
    if not cache.is_file():
        return {}
    with np.load(cache, allow_pickle=False) as z:
        stored = json.loads(str(z["settings"]))
        if stored != dict(settings):
            log(f"{cache}: made with other settings or resynthesis code; recomputing")
            return {}
        out = {}
        for i, p in enumerate(z["paths"].tolist()):
            w = z["win_file"] == i
            out[p] = {"file": z["file_values"][i], "windows": z["win_values"][w], "starts": z["win_starts_s"][w],
                      "crop_s": float(z["crop_s"][i]), "offset_s": float(z["offset_s"][i]),
                      "seconds": float(z["seconds"][i])}
    return out


def _table(done: Mapping[str, Mapping[str, Any]], paths: Sequence[str], settings: Mapping[str, Any]) -> FeatureTable:
    names = ft.feature_names(settings["round_trips"])
    n_feat = len(names)
    wins = [np.asarray(done[p]["windows"], np.float64).reshape(-1, n_feat) for p in paths]
    return FeatureTable(
        paths=tuple(paths), feature_names=names,
        file_values=np.array([done[p]["file"] for p in paths], np.float64).reshape(len(paths), n_feat),
        win_values=np.vstack(wins) if wins else np.empty((0, n_feat)),
        win_file=np.repeat(np.arange(len(paths), dtype=np.int64), [len(w) for w in wins]),
        win_starts_s=np.concatenate([np.asarray(done[p]["starts"], np.float64) for p in paths]) if paths
        else np.empty(0),
        crop_s=np.array([done[p]["crop_s"] for p in paths], np.float64),
        offset_s=np.array([done[p]["offset_s"] for p in paths], np.float64),
        seconds=np.array([done[p]["seconds"] for p in paths], np.float64),
        settings=dict(settings))


def _save(cache: Path, table: FeatureTable) -> None:
    cache.parent.mkdir(parents=True, exist_ok=True)
    tmp = cache.with_name(f".{cache.name}.tmp.npz")
    np.savez(tmp, settings=np.array(json.dumps(table.settings)), paths=np.array(table.paths),
             file_values=table.file_values, win_values=table.win_values, win_file=table.win_file,
             win_starts_s=table.win_starts_s, crop_s=table.crop_s, offset_s=table.offset_s, seconds=table.seconds)
    os.replace(tmp, cache)


def build_feature_cache(rows: Sequence[Row], root: Path, cache: Path, *, crop_s: float = CROP_S,
                        window_s: float = 2.0, hop_s: float = 0.5, round_trip_ids: Sequence[str] = rt.ORDER,
                        workers: int = 2, progress: Progress | None = None,
                        log: Callable[[str], None] = print) -> FeatureTable:
    """Residual features of the manifest ``rows``, computed where the cache lacks them.

    Parameters
    ----------
    rows : sequence of dict
        Manifest rows (``path`` relative to ``root``).
    root : Path
        The data set folder.
    cache : Path
        The ``.npz`` cache file (created or completed; keep it outside the repository).
    crop_s, window_s, hop_s : float
        Crop length, window length and window hop (s).
    round_trip_ids : sequence of str
        Round trips whose residuals make the features.
    workers : int
        Worker processes (started with ``spawn``; 1 computes in this process).
    progress : Progress, optional
        Reports per recording; ``check()`` between recordings raises Cancelled (what was computed
        is saved first).
    log : callable
        Receives progress lines.

    Returns
    -------
    FeatureTable
        In the order of ``rows`` (the cache file may hold more recordings).
    """
    cache = Path(cache)
    settings = _settings(crop_s=crop_s, window_s=window_s, hop_s=hop_s, round_trip_ids=round_trip_ids)
    done = _load(cache, settings, log)
    paths = [r["path"] for r in rows]
    todo = list(dict.fromkeys(p for p in paths if p not in done))
    log(f"residual features: {len(paths) - len(todo)} of {len(paths)} recordings cached, {len(todo)} to compute "
        f"with {workers} worker(s)")
    kwargs = {"crop_s": crop_s, "window_s": window_s, "hop_s": hop_s, "round_trip_ids": tuple(round_trip_ids)}
    t0 = time.perf_counter()

    def save() -> None:
        keys = list(done)
        _save(cache, _table(done, keys, settings))

    try:
        if workers <= 1:
            for k, p in enumerate(todo):
                if progress is not None:
                    progress.check()
                done[p] = extract_one(str(Path(root) / p), **kwargs)
                _step(k, todo, t0, progress, log, save)
        else:
            ctx = multiprocessing.get_context("spawn")
            with ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_init_worker) as pool:
                futures = {p: pool.submit(extract_one, str(Path(root) / p), **kwargs) for p in todo}
                try:
                    for k, p in enumerate(todo):
                        if progress is not None:
                            progress.check()
                        done[p] = futures[p].result()
                        _step(k, todo, t0, progress, log, save)
                except BaseException:
                    for f in futures.values():
                        f.cancel()
                    raise
    finally:
        if todo:
            save()
    return _table(done, paths, settings)


def _step(k: int, todo: Sequence[str], t0: float, progress: Progress | None, log: Callable[[str], None],
          save: Callable[[], None]) -> None:
    if progress is not None:
        progress.report((k + 1) / len(todo), f"residual features of {k + 1} of {len(todo)} recordings")
    if (k + 1) % SAVE_EVERY == 0 or k + 1 == len(todo):
        save()
        log(f"residual features: {k + 1}/{len(todo)} computed in {time.perf_counter() - t0:.0f} s")
