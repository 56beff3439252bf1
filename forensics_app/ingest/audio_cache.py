"""The decoded-audio cache: float32 sample files that compressed audio is decoded into once.

An entry is two files in the cache folder, named by a key derived from the source file:

* ``<key>.f32``: the samples, float32 little-endian, interleaved, shape (n_samples, n_channels)
  (full scale = 1.0), opened later as a read-only :class:`numpy.memmap`;
* ``<key>.json``: rate (Hz), channel and sample counts, the source sample format, the decoder
  and the decode report (where and why a damaged file stopped decoding), written last.

Both are written to temporary files in the same folder and moved into place with
:func:`os.replace`, the data first: an entry whose ``.json`` exists is complete, and a reader
never sees a half-written file (a crash leaves only ``*.part`` files, removed by :func:`prune`).
Two writers racing on the same key each write their own temporary files; the last rename wins
and both results are identical.

The key is the SHA-256 of the source's resolved path, size, modification time (ns) and its
first and last 64 KiB, plus :data:`CACHE_VERSION`: a changed or replaced file gets a new entry
without hashing gigabytes of video.
"""

from __future__ import annotations

import hashlib
import json
import mmap
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import platformdirs

from forensics_app.settings import APP_NAME

CACHE_VERSION = 1
"""Bumped whenever the decoded samples for the same file could differ (decoder changes)."""
_EDGE_BYTES = 64 * 1024
DEFAULT_MAX_CACHE_BYTES = 20 * 2**30
"""Total size above which :func:`prune` removes the least recently used entries."""


def default_cache_dir() -> Path:
    """The folder decoded audio is cached in (created on first use).

    ``FORENSICS_APP_CACHE`` if set; else ``$FORENSICS_APP_HOME/cache`` when the user data
    folder was moved (tests, portable installations); else the per-user cache folder
    (``platformdirs.user_cache_dir("forensics-app")/audio``).
    """
    override = os.environ.get("FORENSICS_APP_CACHE")
    if override:
        path = Path(override)
    elif os.environ.get("FORENSICS_APP_HOME"):
        path = Path(os.environ["FORENSICS_APP_HOME"]) / "cache" / "audio"
    else:
        path = Path(platformdirs.user_cache_dir(APP_NAME, appauthor=False)) / "audio"
    path.mkdir(parents=True, exist_ok=True)
    return path


def cache_key(path: Path, *, decoder: str) -> str:
    """Key of ``path``'s decoded samples (hex SHA-256; see the module docstring)."""
    path = Path(path)
    st = path.stat()
    h = hashlib.sha256()
    h.update(f"v{CACHE_VERSION}|{decoder}|{path.resolve()}|{st.st_size}|{st.st_mtime_ns}|".encode())
    with open(path, "rb") as fh:
        h.update(fh.read(_EDGE_BYTES))
        if st.st_size > _EDGE_BYTES:
            fh.seek(max(_EDGE_BYTES, st.st_size - _EDGE_BYTES))
            h.update(fh.read(_EDGE_BYTES))
    return h.hexdigest()


@dataclass(frozen=True)
class CacheEntry:
    """A complete cache entry.

    Attributes
    ----------
    data_path : Path
        The float32 sample file, shape (n_samples, n_channels).
    meta : dict
        Its ``.json`` description (rate, n_channels, n_samples, sample_format, decoder, report).
    """

    data_path: Path
    meta: dict[str, Any]

    def open_samples(self) -> np.ndarray:
        """The samples as a read-only float32 array (n_samples, n_channels) mapped from disk."""
        return self.map()[0]

    def map(self) -> tuple[np.ndarray, mmap.mmap]:
        """The samples and the mapping behind them (see :func:`map_file`)."""
        shape = (int(self.meta["n_samples"]), int(self.meta["n_channels"]))
        return map_file(self.data_path, dtype="<f4", shape=shape, offset=0)


def map_file(path: Path, *, dtype: str, shape: tuple[int, ...], offset: int) -> tuple[np.ndarray, mmap.mmap]:
    """Map ``shape`` items of ``dtype`` at byte ``offset`` of ``path``, read-only.

    Returns the array (a plain ndarray; the mapping lives as long as any view of it) and the
    :class:`mmap.mmap` object, through which a reader can drop resident pages it no longer
    needs (``madvise(MADV_DONTNEED)``) so that sweeping a long file does not grow the resident
    set by the file's size.
    """
    count = int(np.prod(shape))
    with open(path, "rb") as fh:
        mm = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
    arr = np.frombuffer(mm, dtype=np.dtype(dtype), count=count, offset=int(offset)).reshape(shape)
    return arr, mm


def load(cache_dir: Path, key: str) -> CacheEntry | None:
    """The entry for ``key`` if it is complete and consistent, else None."""
    meta_path = Path(cache_dir) / f"{key}.json"
    data_path = Path(cache_dir) / f"{key}.f32"
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        size = data_path.stat().st_size
    except (OSError, ValueError):
        return None
    try:
        expected = int(meta["n_samples"]) * int(meta["n_channels"]) * 4
        ok = meta.get("version") == CACHE_VERSION and expected == size and int(meta["n_samples"]) > 0
    except (KeyError, TypeError, ValueError):
        return None
    if not ok:
        return None
    try:
        os.utime(meta_path)  # the entry's last use, for prune()
    except OSError:
        pass
    return CacheEntry(data_path=data_path, meta=meta)


class CacheWriter:
    """Writes one entry: append float32 blocks, then :meth:`commit` (or :meth:`abort`).

    Parameters
    ----------
    cache_dir : Path
        Cache folder (created if missing).
    key : str
        Entry key from :func:`cache_key`.
    """

    def __init__(self, cache_dir: Path, key: str) -> None:
        self._dir = Path(cache_dir)
        self._dir.mkdir(parents=True, exist_ok=True)
        self._key = key
        fd, name = tempfile.mkstemp(dir=self._dir, prefix=f"{key[:16]}-", suffix=".f32.part")
        self._tmp = Path(name)
        self._fh: BinaryIO | None = os.fdopen(fd, "wb")
        self.n_samples = 0
        self.n_channels = 0

    def append(self, block: np.ndarray) -> None:
        """Append samples of shape (n, n_channels), float32."""
        if self._fh is None:
            raise RuntimeError("the cache entry is already closed")
        if self.n_channels and block.shape[1] != self.n_channels:
            raise ValueError(f"block has {block.shape[1]} channels, the entry {self.n_channels}")
        self.n_channels = int(block.shape[1])
        self._fh.write(memoryview(np.ascontiguousarray(block, dtype="<f4")).cast("B"))
        self.n_samples += len(block)

    def commit(self, meta: dict[str, Any]) -> CacheEntry:
        """Move the samples and then their description into place; returns the entry."""
        assert self._fh is not None
        self._fh.close()
        self._fh = None
        data_path = self._dir / f"{self._key}.f32"
        meta = {**meta, "version": CACHE_VERSION, "n_samples": self.n_samples, "n_channels": self.n_channels}
        os.replace(self._tmp, data_path)
        fd, name = tempfile.mkstemp(dir=self._dir, prefix=f"{self._key[:16]}-", suffix=".json.part")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(meta, fh)
        os.replace(name, self._dir / f"{self._key}.json")
        return CacheEntry(data_path=data_path, meta=meta)

    def abort(self) -> None:
        """Drop the partial entry."""
        if self._fh is not None:
            self._fh.close()
            self._fh = None
        self._tmp.unlink(missing_ok=True)


def prune(cache_dir: Path, *, max_bytes: int = DEFAULT_MAX_CACHE_BYTES, keep: str | None = None) -> int:
    """Remove least recently used entries until the folder holds at most ``max_bytes``.

    Stale ``*.part`` files older than a day are removed as well. ``keep`` (a key) is never
    removed. An entry still mapped by a reader stays readable on POSIX systems; where the
    system refuses to delete an open file the entry is skipped. Returns the bytes freed.
    """
    cache_dir = Path(cache_dir)
    freed = 0
    now = time.time()
    entries: list[tuple[float, int, str]] = []
    try:
        listing = list(cache_dir.iterdir())
    except OSError:
        return 0
    for p in listing:
        try:
            st = p.stat()
        except OSError:
            continue
        if p.name.endswith(".part"):
            if now - st.st_mtime > 86400:
                freed += _unlink(p, st.st_size)
        elif p.suffix == ".json" and p.stem != keep:
            data = p.with_suffix(".f32")
            try:
                size = data.stat().st_size
            except OSError:
                size = 0
            entries.append((st.st_mtime, size, p.stem))
    total = sum(size for _, size, _ in entries)
    for _, size, key in sorted(entries):
        if total <= max_bytes:
            break
        removed = _unlink(cache_dir / f"{key}.json", 0)
        if removed == 0 and (cache_dir / f"{key}.json").exists():
            continue
        freed += _unlink(cache_dir / f"{key}.f32", size)
        total -= size
    return freed


def _unlink(path: Path, size: int) -> int:
    try:
        path.unlink(missing_ok=True)
    except OSError:
        return 0
    return size
