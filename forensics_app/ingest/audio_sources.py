"""Where an :class:`~forensics_app.ingest.audio_stream.AudioStream` gets its samples from.

* :class:`SndfileSource`: libsndfile, one seek and read per request (under a lock: a
  ``SoundFile`` has one position).
* :class:`MappedSource`: a read-only memory map, either of a float32 decoded-audio cache file
  or of the PCM data chunk of a WAV file itself (16-bit, 24-bit, 32-bit float), converted to
  float32 on read exactly as libsndfile converts it (power-of-two scales; checked against
  libsndfile on the first and last samples when the file is opened). Reads through a map are
  thread-safe and cost no library call, which matters when the spectrogram overview asks for
  thousands of short windows. The resident pages of the map are dropped after every
  :data:`RESIDENT_BUDGET` bytes read (they stay in the page cache), so that sweeping a long
  recording does not grow the process's resident set by the file's size.
"""

from __future__ import annotations

import mmap
import threading
from pathlib import Path
from typing import Protocol

import numpy as np
import soundfile as sf

from forensics_app.domain.errors import CorruptMedia
from forensics_app.ingest.audio_cache import map_file
from forensics_app.ingest.names import display_label
from forensics_app.ingest.probe_base import reason

__all__ = ["Source", "SndfileSource", "MappedSource", "map_wav", "RESIDENT_BUDGET", "FAULT_AROUND"]

RESIDENT_BUDGET = 64 * 2**20
"""Bytes read from a mapped file after which its resident pages are dropped."""
FAULT_AROUND = 64 * 1024
"""Bytes a page fault may map around the touched page (counted per read)."""
_I16_SCALE = np.float32(1.0 / 32768.0)
_I24_SCALE = np.float32(1.0 / 8388608.0)


class Source(Protocol):
    def read(self, start: int, stop: int) -> np.ndarray: ...

    def close(self) -> None: ...


class SndfileSource:
    """libsndfile with a seek per read; one lock serialises seek+read across threads."""

    def __init__(self, snd: sf.SoundFile, name: str) -> None:
        self._snd = snd
        self._name = name
        self._lock = threading.Lock()

    def read(self, start: int, stop: int) -> np.ndarray:
        try:
            with self._lock:
                self._snd.seek(start)
                return self._snd.read(stop - start, dtype="float32", always_2d=True)
        except (sf.LibsndfileError, RuntimeError) as exc:
            rate = float(self._snd.samplerate)
            raise CorruptMedia(
                f"{display_label(self._name)}: the audio between {start / rate:.3f} s and {stop / rate:.3f} s "
                f"does not decode ({reason(exc)})"
            ) from exc

    def close(self) -> None:
        with self._lock:
            self._snd.close()


class MappedSource:
    """Samples memory-mapped from disk (reads are thread-safe): a float32 cache file (``kind``
    "f32"), or the PCM data chunk of a WAV read in place ("i16"; "i24" mapped as bytes (n, ch, 3)),
    converted to float32 on read exactly as libsndfile converts them (powers-of-two scales)."""

    def __init__(self, raw: np.ndarray, kind: str, mapping: mmap.mmap | None = None) -> None:
        self.raw: np.ndarray | None = raw
        self.kind = kind
        self._mapping = mapping
        self._touched = 0
        self._lock = threading.Lock()

    def touched(self, nbytes: int) -> None:
        """Count bytes read; past :data:`RESIDENT_BUDGET` the mapping's resident pages are
        dropped (they stay in the page cache), so the resident set does not grow with the file."""
        if self._mapping is None or not hasattr(mmap, "MADV_DONTNEED"):
            return
        with self._lock:
            self._touched += int(nbytes)
            if self._touched < RESIDENT_BUDGET:
                return
            self._touched = 0
            try:
                self._mapping.madvise(mmap.MADV_DONTNEED)
            except (OSError, ValueError):
                pass

    def convert(self, block: np.ndarray) -> np.ndarray:
        """Raw samples (..., ch[, 3]) -> float32 (..., ch), a fresh array."""
        if self.kind == "f32":
            return np.array(block, dtype=np.float32)
        if self.kind == "i16":
            out = block.astype(np.float32)
            out *= _I16_SCALE
            return out
        b = block.astype(np.int32)
        v = (b[..., 0] | (b[..., 1] << 8) | (b[..., 2] << 16)) << 8
        v >>= 8  # sign-extend the 24-bit value
        out = v.astype(np.float32)
        out *= _I24_SCALE
        return out

    def read(self, start: int, stop: int) -> np.ndarray:
        raw = self.raw
        if raw is None:
            raise ValueError("the audio stream is closed")
        out = self.convert(raw[start:stop])
        self.touched((stop - start) * raw[:1].nbytes + FAULT_AROUND)
        return out

    def close(self) -> None:
        self.raw = None
        self._mapping = None  # unmapped once no view of it remains


_WAV_MAPPED = {"PCM_16": ("i16", "<i2", 2), "PCM_24": ("i24", "u1", 3), "FLOAT": ("f32", "<f4", 4)}
"""WAV sample types read in place through a memory map: (kind, dtype, bytes per sample)."""
_MAP_CHECK = 256


def map_wav(path: Path, snd: sf.SoundFile, n: int, channels: int) -> MappedSource | None:
    """The PCM data of a little-endian WAV mapped in place, or None (then libsndfile reads it).

    Mapping avoids a libsndfile call per request (the spectrogram overview asks for thousands
    of short windows). The first and last samples are compared with libsndfile's decoding; any
    difference and the file is left to libsndfile.
    """
    spec = _WAV_MAPPED.get(snd.subtype)
    if spec is None or snd.format not in ("WAV", "WAVEX") or snd.endian not in ("FILE", "LITTLE"):
        return None
    offset = _riff_data_offset(path)
    if offset is None:
        return None
    kind, dtype, width = spec
    if offset + n * channels * width > path.stat().st_size:
        return None
    shape = (n, channels, 3) if kind == "i24" else (n, channels)
    try:
        raw, mapping = map_file(path, dtype=dtype, shape=shape, offset=offset)
    except (OSError, ValueError):
        return None
    src = MappedSource(raw, kind, mapping)
    k = min(n, _MAP_CHECK)
    for a in (0, n - k):
        snd.seek(a)
        if not np.array_equal(snd.read(k, dtype="float32", always_2d=True), src.read(a, a + k)):
            return None
    return src


def _riff_data_offset(path: Path) -> int | None:
    """Byte offset of the samples in a RIFF/WAVE file (after the 'data' chunk header)."""
    size = path.stat().st_size
    with open(path, "rb") as fh:
        head = fh.read(12)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            return None
        pos = 12
        for _ in range(1024):
            fh.seek(pos)
            chunk = fh.read(8)
            if len(chunk) < 8:
                return None
            length = int.from_bytes(chunk[4:8], "little")
            if chunk[:4] == b"data":
                return pos + 8
            pos += 8 + length + (length & 1)
            if pos >= size:
                return None
    return None


