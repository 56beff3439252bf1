"""Copy a file and hash it in one streaming pass.

The source is opened read-only (with O_NOATIME where the OS allows, so not even its access time
changes). Each chunk is hashed with SHA-256 on the calling thread while MD5 and the write to the
destination run on two helper threads; hashlib and file writes release the GIL, so the three
proceed in parallel and the copy costs one read of the source. Durability (fsync) is the
caller's step: :func:`fsync_path`.
"""

from __future__ import annotations

import hashlib
import os
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

CHUNK = 4 << 20
MAX_IN_FLIGHT = 4


@dataclass(frozen=True)
class Digests:
    """Hashes and size of a byte stream."""

    sha256: str
    md5: str
    size: int


def open_readonly(path: Path) -> int:
    """Open ``path`` for reading only, without updating its access time when permitted."""
    flags = os.O_RDONLY | getattr(os, "O_CLOEXEC", 0)
    noatime = getattr(os, "O_NOATIME", 0)
    if noatime:
        try:
            return os.open(path, flags | noatime)
        except PermissionError:
            pass
    return os.open(path, flags)


def copy_and_hash(
    src: Path,
    dst: Path | None,
    *,
    md5: bool = True,
    chunk_size: int = CHUNK,
    on_progress: Callable[[int], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> Digests:
    """Stream ``src`` into ``dst`` (if given) while computing SHA-256 and MD5.

    Parameters
    ----------
    src : Path
        File to read (never written).
    dst : Path or None
        New file to create (must not exist); None to hash only.
    md5 : bool
        Also compute MD5 (for legacy tools); when False the md5 field is "".
    chunk_size : int
        Read size in bytes.
    on_progress : callable, optional
        Called with the number of bytes read so far.
    should_stop : callable, optional
        Polled between chunks; when it returns True the copy stops with InterruptedError and
        the partial destination is removed.

    Returns
    -------
    Digests
    """
    sha = hashlib.sha256()
    mdh = hashlib.md5(usedforsecurity=False) if md5 else None
    fd = open_readonly(src)
    out = None
    md5_pool = ThreadPoolExecutor(1, thread_name_prefix="md5") if mdh else None
    write_pool = ThreadPoolExecutor(1, thread_name_prefix="write") if dst is not None else None
    pending: deque[Future[object]] = deque()
    total = 0
    try:
        if dst is not None:
            out = open(dst, "xb", buffering=0)
        with os.fdopen(fd, "rb", buffering=0, closefd=True) as fh:
            fd = -1
            while True:
                if should_stop is not None and should_stop():
                    raise InterruptedError(f"copy of {src} was stopped")
                data = fh.read(chunk_size)
                if not data:
                    break
                total += len(data)
                if md5_pool is not None and mdh is not None:
                    pending.append(md5_pool.submit(mdh.update, data))
                if write_pool is not None and out is not None:
                    pending.append(write_pool.submit(out.write, data))
                sha.update(data)
                while len(pending) > 2 * MAX_IN_FLIGHT:
                    pending.popleft().result()
                if on_progress is not None:
                    on_progress(total)
        while pending:
            pending.popleft().result()
        if out is not None:
            out.flush()
    except BaseException:
        for fut in pending:
            fut.cancel()
        if out is not None:
            out.close()
            out = None
            if dst is not None:
                dst.unlink(missing_ok=True)
        raise
    finally:
        if fd >= 0:
            os.close(fd)
        for pool in (md5_pool, write_pool):
            if pool is not None:
                pool.shutdown(wait=True)
        if out is not None:
            out.close()
    return Digests(sha.hexdigest(), mdh.hexdigest() if mdh else "", total)


def fsync_path(path: Path) -> None:
    """Flush a written file (and its folder entry) to stable storage."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    dfd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)


def sha256_file(path: Path) -> str:
    """SHA-256 of a file (hex), read-only."""
    fd = open_readonly(path)
    with os.fdopen(fd, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()
