"""Chunked random access to one audio track, without holding the recording in memory.

:func:`open_audio_stream` opens the first audio track of any file the probe accepts and returns
an :class:`AudioStream`: ``read(start, stop)`` returns float32 samples (full scale = 1.0) for any
sample range, ``blocks(size=...)`` walks the recording in fixed-size blocks.

Two ways in:

* **Direct**: PCM/float/µ-law/A-law in WAV, AIFF, W64, RF64, CAF, AU, NIST and FLAC are read
  in place. 16-bit, 24-bit and float WAV data is memory-mapped and converted on read (no library
  call per request: the spectrogram overview asks for thousands of short windows); the others
  are read by libsndfile with a seek per request. These are the codecs for which libsndfile's
  seek was checked sample-exact; Ogg Vorbis is not (its seek lands up to a packet away), ADPCM
  and GSM are rare and GSM cannot seek at all, so those go the second way. A file whose last
  samples do not decode (a cut FLAC) goes the second way too.
* **Decoded once**: everything else (MP3, AAC/M4A, Opus and Vorbis, the audio of a video, WAV
  with compressed codecs) is decoded from start to end in blocks, by libsndfile where the probe
  and :func:`~forensics_app.ingest.decode.decode_audio` use it, by FFmpeg (PyAV) otherwise, into
  a float32 file in the cache folder (:mod:`~forensics_app.ingest.audio_cache`), which is then
  memory-mapped. The cache is keyed by the file (path, size, mtime, head and tail bytes) and
  reused by later opens.

Damaged files: what decodes is kept and :attr:`AudioStream.decode_report` says where and why
decoding stopped (a truncated WAV whose header announces more data; a FLAC that stops decoding
mid-file; an MP3 whose Xing header or last frame shows it was cut; an MP4/Matroska stream shorter
than its header declares; a packet FFmpeg flags as incomplete; a decoder error). Only when
nothing decodes is :class:`CorruptMedia` raised (and by ``read`` when a file read in place
turns out to be damaged in the middle). A file whose index is lost (an MP4 cut before
its 'moov' box, which is written at the end unless the file was made "fast start") cannot be
opened by any demuxer: that is reported as :class:`CorruptMedia` too.
"""

from __future__ import annotations

import mmap
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

from forensics_app.domain.errors import CorruptMedia
from forensics_app.ingest import audio_cache
from forensics_app.ingest.audio_decoders import Decoded, decode_av, decode_sndfile
from forensics_app.ingest.audio_sources import (
    FAULT_AROUND,
    MappedSource,
    SndfileSource,
    Source,
    map_wav,
)
from forensics_app.ingest.names import display_label
from forensics_app.ingest.probe_base import sndfile_reads

__all__ = ["AudioStream", "DecodeReport", "open_audio_stream", "DIRECT_SUBTYPES"]

DIRECT_SUBTYPES = frozenset({"PCM_S8", "PCM_16", "PCM_24", "PCM_32", "PCM_U8", "FLOAT", "DOUBLE", "ULAW", "ALAW"})
"""libsndfile subtypes read with a seek per request (seek checked sample-exact), outside Ogg."""
_TAIL_CHECK = 4096
_READ_GROUP_GAP = 4096
"""Windows closer than this (samples) are read with one request (see read_windows)."""


@dataclass(frozen=True)
class DecodeReport:
    """Where and why decoding of a damaged file stopped.

    Attributes
    ----------
    stopped_at_s : float
        Time in seconds (from the first decoded sample) where decoding stopped.
    decoded_samples : int
        Samples per channel that decoded (and are readable).
    reason : str
        Why, in words, naming the file.
    """

    stopped_at_s: float
    decoded_samples: int
    reason: str

    def __str__(self) -> str:
        return f"decoding stopped at {self.stopped_at_s:.3f} s ({self.decoded_samples} samples): {self.reason}"


class AudioStream:
    """Random access to one audio track (see the module docstring for how it is read).

    Attributes
    ----------
    path : Path
        The file.
    rate : int
        Sample rate in Hz.
    n_channels : int
        Channel count.
    n_samples : int
        Readable samples per channel (all of them, or what decodes of a damaged file).
    duration_s : float
        ``n_samples / rate`` in seconds.
    sample_format : str
        The source sample format ("PCM_16", "FLOAT", "fltp", ...).
    decode_report : DecodeReport or None
        None for an intact file; otherwise where and why decoding stopped.
    decoder : str
        "libsndfile" or "ffmpeg".
    cached : bool
        Whether samples come from the decoded-audio cache (else read directly from the file).
    """

    def __init__(self, *, path: Path, rate: int, n_channels: int, n_samples: int, sample_format: str,
                 decoder: str, source: Source, cached: bool, cache_dir: Path | None,
                 decode_report: DecodeReport | None = None) -> None:
        self.path = path
        self.rate = int(rate)
        self.n_channels = int(n_channels)
        self.n_samples = int(n_samples)
        self.duration_s = self.n_samples / float(self.rate)
        self.sample_format = sample_format
        self.decode_report = decode_report
        self.decoder = decoder
        self.cached = cached
        self._source: Source | None = source
        self._cache_dir = cache_dir

    def __repr__(self) -> str:
        return (f"AudioStream({self.path.name!r}, rate={self.rate}, channels={self.n_channels}, "
                f"samples={self.n_samples}, decoder={self.decoder!r}, cached={self.cached})")

    # -- reading ---------------------------------------------------------------------------------

    def _check_channel(self, channel: int | None) -> None:
        if channel is not None and not 0 <= channel < self.n_channels:
            raise ValueError(f"{self.path.name}: channel {channel} out of range (0..{self.n_channels - 1})")

    def _raw(self, start: int, stop: int) -> np.ndarray:
        if self._source is None:
            raise ValueError(f"{self.path.name}: the audio stream is closed")
        start, stop = max(0, int(start)), min(self.n_samples, int(stop))
        if stop <= start:
            return np.zeros((0, self.n_channels), np.float32)
        return self._source.read(start, stop)

    def read(self, start: int, stop: int, *, channel: int | None = None) -> np.ndarray:
        """Samples ``start`` to ``stop`` (sample indices, clipped to the recording).

        Returns
        -------
        np.ndarray
            float32, shape (n, n_channels), or (n,) when ``channel`` is given; a fresh array.
        """
        self._check_channel(channel)
        data = self._raw(start, stop)
        return np.ascontiguousarray(data[:, channel]) if channel is not None else data

    def read_mono(self, start: int, stop: int) -> np.ndarray:
        """Mean over channels of samples ``start`` to ``stop``: float32, shape (n,)."""
        data = self._raw(start, stop)
        if self.n_channels == 1:
            return data[:, 0].copy()
        return data.mean(axis=1, dtype=np.float32)

    def read_windows(self, starts: np.ndarray, *, length: int, channel: int | None = None) -> np.ndarray:
        """Many equal-length windows at once (analysis frames), zero outside the recording.

        Parameters
        ----------
        starts : np.ndarray
            First sample of each window (may be negative or run past the end), shape (k,).
        length : int
            Samples per window.
        channel : int, optional
            One channel; None for the mean of the channels.

        Returns
        -------
        np.ndarray
            float32, shape (k, length). Windows closer together than a few thousand samples
            are served from one read.
        """
        self._check_channel(channel)
        starts = np.asarray(starts, dtype=np.int64).reshape(-1)
        out = np.zeros((len(starts), int(length)), np.float32)
        if not len(starts) or length <= 0:
            return out
        src = self._source
        if isinstance(src, MappedSource) and src.raw is not None:
            self._gather(src, starts, int(length), channel, out)
            return out
        order = np.argsort(starts, kind="stable")
        i = 0
        while i < len(order):
            j = i + 1
            lo = int(starts[order[i]])
            hi = lo + length
            while j < len(order) and int(starts[order[j]]) <= hi + _READ_GROUP_GAP:
                hi = max(hi, int(starts[order[j]]) + length)
                j += 1
            span = self.read(lo, hi, channel=channel) if channel is not None else self.read_mono(lo, hi)
            first = max(lo, 0)
            for k in order[i:j]:
                s = int(starts[k])
                a, b = max(s, first), min(s + length, first + len(span))
                if b > a:
                    out[k, a - s:b - s] = span[a - first:b - first]
            i = j
        return out

    def _gather(self, src: MappedSource, starts: np.ndarray, length: int, channel: int | None,
                out: np.ndarray) -> None:
        raw = src.raw
        assert raw is not None
        n = self.n_samples
        inside = (starts >= 0) & (starts + length <= n)
        idx = np.flatnonzero(inside)
        per_chunk = max(1, (1 << 22) // (length * self.n_channels))
        for c0 in range(0, len(idx), per_chunk):
            chunk = idx[c0:c0 + per_chunk]
            pos = starts[chunk][:, None] + np.arange(length)
            block = src.convert(raw[pos])  # (k, length, ch)
            src.touched(len(chunk) * (length * raw[:1].nbytes + FAULT_AROUND))
            if channel is not None:
                out[chunk] = block[..., channel]
            elif self.n_channels == 1:
                out[chunk] = block[..., 0]
            else:
                out[chunk] = block.mean(axis=-1, dtype=np.float32)
        for k in np.flatnonzero(~inside):
            s = int(starts[k])
            a, b = max(s, 0), min(s + length, n)
            if b > a:
                seg = self.read(a, b, channel=channel) if channel is not None else self.read_mono(a, b)
                out[k, a - s:b - s] = seg

    def blocks(self, *, size: int, channel: int | None = None, start: int = 0,
               stop: int | None = None) -> Iterator[tuple[int, np.ndarray]]:
        """Consecutive blocks ``(first_sample, samples)`` covering ``start`` to ``stop`` once.

        Each block holds ``size`` samples (the last may be shorter), shaped as :meth:`read`.
        """
        if size <= 0:
            raise ValueError(f"block size must be positive, not {size}")
        self._check_channel(channel)
        start = max(0, int(start))
        stop = self.n_samples if stop is None else min(self.n_samples, int(stop))
        for s in range(start, stop, size):
            yield s, self.read(s, min(s + size, stop), channel=channel)

    def as_array(self) -> np.ndarray:
        """The whole recording as a read-only float32 array (n_samples, n_channels) mapped
        from the cache file (decoded into the cache now if the stream reads the file directly).
        Nothing is loaded into memory until it is touched."""
        src = self._source
        if isinstance(src, MappedSource) and src.raw is not None and src.kind == "f32":
            return src.raw  # the cache file, or a float WAV's own data
        cache_dir = self._cache_dir or audio_cache.default_cache_dir()
        entry, _ = _cache_entry(self.path, cache_dir, "libsndfile")
        rep = entry.meta.get("report")
        if rep and self.decode_report is None:
            raise CorruptMedia(str(rep.get("reason", f"{display_label(self.path.name)}: the audio is damaged")))
        samples = entry.open_samples()
        if len(samples) != self.n_samples:
            raise CorruptMedia(f"{display_label(self.path.name)}: the audio decodes to {len(samples)} samples "
                               f"on a second pass but {self.n_samples} before (the file changed?)")
        return samples

    # -- lifetime --------------------------------------------------------------------------------

    def close(self) -> None:
        """Release the file (reads afterwards raise ValueError)."""
        if self._source is not None:
            self._source.close()
            self._source = None

    def __enter__(self) -> AudioStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# --- opening ------------------------------------------------------------------------------------


def open_audio_stream(path: Path, *, cache_dir: Path | None = None) -> AudioStream:
    """Open the first audio track of ``path`` for chunked random access.

    Parameters
    ----------
    path : Path
        Audio file or video with an audio track.
    cache_dir : Path, optional
        Where decoded audio is cached (default :func:`audio_cache.default_cache_dir`).

    Raises
    ------
    UnsupportedMedia
        The file holds no audio stream.
    CorruptMedia
        Nothing decodes.
    """
    path = Path(path)
    name = display_label(path.name)
    if not path.is_file():
        raise CorruptMedia(f"{name}: cannot be read (not a file)")
    info = _sf_info(path)
    if info is not None and sndfile_reads(info.format, info.subtype):
        if info.format != "OGG" and (info.subtype in DIRECT_SUBTYPES or info.format == "FLAC"):
            stream = _open_direct(path, cache_dir)
            if stream is not None:
                return stream
        return _open_cached(path, cache_dir, "libsndfile")
    return _open_cached(path, cache_dir, "ffmpeg")


def _sf_info(path: Path) -> Any:
    try:
        return sf.info(str(path))
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError):
        return None


_SHORT_CHUNK = re.compile(r"^(data|SSND)\s*:\s*(\d+)\s*\(should be (\d+)\)", re.MULTILINE)


def _open_direct(path: Path, cache_dir: Path | None) -> AudioStream | None:
    """Read the file in place; None when its end does not decode (then it is decoded once)."""
    name = display_label(path.name)
    try:
        snd = sf.SoundFile(str(path))
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError):
        return None
    try:
        n, rate, channels = int(snd.frames), int(snd.samplerate), int(snd.channels)
        if n <= 0:
            snd.close()
            return None
        tail = min(n, _TAIL_CHECK)
        snd.seek(n - tail)
        if len(snd.read(tail, dtype="float32", always_2d=True)) != tail:
            snd.close()
            return None
        report = None
        m = _SHORT_CHUNK.search(snd.extra_info or "")
        if m is not None and snd.format in ("WAV", "WAVEX", "AIFF", "RF64", "W64") and int(m.group(3)) < int(m.group(2)):
            report = DecodeReport(
                stopped_at_s=n / rate, decoded_samples=n,
                reason=(f"{name}: the {snd.format} file is truncated: its header announces a "
                        f"{m.group(1)} chunk of {m.group(2)} bytes but the file holds {m.group(3)}"),
            )
        subtype = snd.subtype
        source: Source
        mapped = map_wav(path, snd, n, channels)
        if mapped is not None:
            snd.close()
            source = mapped
        else:
            source = SndfileSource(snd, path.name)
        return AudioStream(path=path, rate=rate, n_channels=channels, n_samples=n, sample_format=subtype,
                           decoder="libsndfile", source=source, cached=False,
                           cache_dir=cache_dir, decode_report=report)
    except (sf.LibsndfileError, RuntimeError):
        snd.close()
        return None


def _open_cached(path: Path, cache_dir: Path | None, decoder: str) -> AudioStream:
    cache_dir = Path(cache_dir) if cache_dir is not None else audio_cache.default_cache_dir()
    entry, _ = _cache_entry(path, cache_dir, decoder)
    meta = entry.meta
    rep = meta.get("report")
    report = DecodeReport(float(rep["stopped_at_s"]), int(rep["decoded_samples"]), str(rep["reason"])) if rep else None
    return AudioStream(path=path, rate=int(meta["rate"]), n_channels=int(meta["n_channels"]),
                       n_samples=int(meta["n_samples"]), sample_format=str(meta.get("sample_format", "")),
                       decoder=str(meta["decoder"]), source=MappedSource(*_entry_map(entry)), cached=True,
                       cache_dir=cache_dir, decode_report=report)


def _entry_map(entry: audio_cache.CacheEntry) -> tuple[np.ndarray, str, mmap.mmap]:
    raw, mapping = entry.map()
    return raw, "f32", mapping


def _cache_entry(path: Path, cache_dir: Path, decoder: str) -> tuple[audio_cache.CacheEntry, bool]:
    """The cache entry for ``path`` (decoded now if missing); True when it was decoded now."""
    key = audio_cache.cache_key(path, decoder=decoder)
    entry = audio_cache.load(cache_dir, key)
    if entry is not None:
        return entry, False
    entry = _decode_into_cache(path, cache_dir, key, decoder)
    audio_cache.prune(cache_dir, keep=key)
    return entry, True


def _decode_into_cache(path: Path, cache_dir: Path, key: str, decoder: str) -> audio_cache.CacheEntry:
    """Decode ``path`` once into a new cache entry; libsndfile failures get a second try with
    FFmpeg, and the longer decode wins."""
    writer = audio_cache.CacheWriter(cache_dir, key)
    try:
        result = decode_sndfile(path, writer.append) if decoder == "libsndfile" else decode_av(path, writer.append)
    except BaseException:
        writer.abort()
        raise
    if decoder == "libsndfile" and result.problem is not None:
        alt_writer = audio_cache.CacheWriter(cache_dir, key)
        try:
            alt = decode_av(path, alt_writer.append)
        except Exception:  # noqa: BLE001 - FFmpeg cannot read it either: keep what libsndfile decoded
            alt_writer.abort()
            alt = None
        if alt is not None and alt.n_samples > result.n_samples:
            writer.abort()
            writer, result = alt_writer, alt
        elif alt is not None:
            alt_writer.abort()
    if result.n_samples == 0 or result.rate <= 0:
        writer.abort()
        why = f" ({result.problem})" if result.problem else ""
        raise CorruptMedia(f"{display_label(path.name)}: the audio decodes to no samples{why}")
    return writer.commit(_meta(result))


def _meta(result: Decoded) -> dict[str, Any]:
    report = None
    if result.problem is not None:
        report = {"stopped_at_s": result.n_samples / result.rate, "decoded_samples": result.n_samples,
                  "reason": result.problem}
    return {"rate": result.rate, "sample_format": result.sample_format, "decoder": result.decoder,
            "report": report}

