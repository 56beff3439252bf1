"""The copy-and-hash pass: same digests as hashlib, originals untouched, clean abort."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from forensics_app.ingest.hashing import copy_and_hash, sha256_file


@pytest.mark.parametrize("size", [1, 4095, (4 << 20) + 17, (9 << 20)])
def test_digests_match_hashlib_and_copy_is_identical(tmp_path: Path, size: int) -> None:
    data = os.urandom(size)
    src = tmp_path / "src.bin"
    src.write_bytes(data)
    os.chmod(src, 0o444)
    before = src.stat()
    dst = tmp_path / "dst.bin"
    seen: list[int] = []
    d = copy_and_hash(src, dst, on_progress=seen.append)
    assert d.sha256 == hashlib.sha256(data).hexdigest()
    assert d.md5 == hashlib.md5(data).hexdigest()
    assert d.size == size
    assert dst.read_bytes() == data
    assert seen[-1] == size
    after = src.stat()
    assert (after.st_mtime_ns, after.st_size, after.st_mode) == (before.st_mtime_ns, before.st_size, before.st_mode)
    assert sha256_file(dst) == d.sha256


def test_hash_only_and_no_md5(tmp_path: Path) -> None:
    src = tmp_path / "a"
    src.write_bytes(b"abc")
    d = copy_and_hash(src, None, md5=False)
    assert d.sha256 == hashlib.sha256(b"abc").hexdigest() and d.md5 == ""


def test_existing_destination_is_never_overwritten(tmp_path: Path) -> None:
    src, dst = tmp_path / "a", tmp_path / "b"
    src.write_bytes(b"new")
    dst.write_bytes(b"old")
    with pytest.raises(FileExistsError):
        copy_and_hash(src, dst)
    assert dst.read_bytes() == b"old"


def test_stop_removes_the_partial_copy(tmp_path: Path) -> None:
    src, dst = tmp_path / "a", tmp_path / "b"
    src.write_bytes(os.urandom(3 << 20))
    calls = iter([False, True])
    with pytest.raises(InterruptedError):
        copy_and_hash(src, dst, chunk_size=1 << 20, should_stop=lambda: next(calls, True))
    assert not dst.exists()
