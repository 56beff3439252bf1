"""How evidence file names are handled while probing: escaped in messages, hidden from decoders.

A file name is attacker-controlled text. In a message it is shown with invisible characters
escaped (:func:`display_label`); to a decoder it is not shown at all (:func:`nameless`), so that
FFmpeg and libsndfile identify content, never an extension.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO


def display_label(name: str) -> str:
    """The file name for a message: invisible characters escaped, the rest as is.

    Newlines cannot forge extra lines in logs and a right-to-left override (U+202E) cannot
    disguise an extension: they appear as ``\\n`` and ``\\u202e``.
    """
    if name.isprintable():
        return name
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in name)


class _Nameless(io.RawIOBase):
    """A read-only view of an open file with no ``name``: decoders see content only."""

    def __init__(self, fh: BinaryIO) -> None:
        super().__init__()
        self._fh = fh

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        return self._fh.readinto(buffer)

    def read(self, size: int = -1) -> bytes:
        return self._fh.read(size)

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        return self._fh.seek(offset, whence)

    def tell(self) -> int:
        return self._fh.tell()


@contextmanager
def nameless(path: Path) -> Iterator[_Nameless]:
    """Open ``path`` read-only as a file object without a ``name``."""
    with open(path, "rb") as fh:
        yield _Nameless(fh)
