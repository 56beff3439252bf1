"""Decode a verified stored evidence copy into the domain media objects analyzers receive.

The reader for each file is chosen as at acquisition (:mod:`forensics_app.ingest.probe`):
libsndfile for the containers it handles completely (WAV, FLAC, Ogg...), FFmpeg (PyAV) for the
rest (MP3, AAC/M4A, the audio track of a video, video itself), Pillow for images. Decoding
failures raise :class:`CorruptMedia` with the file name and the reason.

Long audio is not decoded into memory: beyond :data:`MAX_IN_MEMORY_BYTES` the clip's samples are
a read-only map of the decoded-audio cache (:mod:`~forensics_app.ingest.audio_stream`).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import av
import numpy as np
import soundfile as sf
from PIL import Image

from forensics_app.domain.errors import CorruptMedia, UnsupportedMedia
from forensics_app.domain.media import AudioClip, MediaKind, PacketInfo, StillImage, VideoSource
from forensics_app.ingest.audio_decoders import audio_frame_to_float32
from forensics_app.ingest.audio_stream import open_audio_stream
from forensics_app.ingest.probe import (
    IMAGE_FORMATS,
    MAX_IMAGE_PIXELS,
    MPEG_AUDIO_CODECS,
    mpeg_audio_frame_size,
    sndfile_reads,
)

_AV_ERRORS: tuple[type[BaseException], ...] = (av.FFmpegError, OSError, EOFError, ValueError, AttributeError)
_PIL_ERRORS: tuple[type[BaseException], ...] = (OSError, SyntaxError, ValueError, EOFError, IndexError, KeyError)


def decode(path: Path, kind: MediaKind | str) -> AudioClip | VideoSource | StillImage:
    """Decode ``path`` as the given media kind.

    Parameters
    ----------
    path : Path
        Stored evidence copy.
    kind : MediaKind
        As recorded at ingest.
    """
    try:
        kind = MediaKind(kind)
    except ValueError:
        raise UnsupportedMedia(f"{Path(path).name}: unknown media kind {kind!r}") from None
    if kind is MediaKind.AUDIO:
        return decode_audio(path)
    if kind is MediaKind.VIDEO:
        return open_video(path)
    return decode_image(path)


# --- audio --------------------------------------------------------------------------------------

MAX_IN_MEMORY_BYTES = 64 * 2**20
"""Decoded audio larger than this (float32 bytes, all channels) is not read into memory:
:func:`decode_audio` then returns a read-only view mapped from the decoded-audio cache."""


def decode_audio(path: Path, *, max_in_memory_bytes: int | None = None,
                 cache_dir: Path | None = None) -> AudioClip:
    """Decode audio to float32 samples of shape (n_samples, n_channels), full scale = 1.0.

    libsndfile reads what ``probe.sndfile_reads`` allows (WAV, FLAC, Ogg...); everything else (MP3,
    AAC, Opus in Matroska, the first audio track of a video...) is decoded with FFmpeg, keeping
    the native sample rate and channel count.

    Short recordings (at most ``max_in_memory_bytes`` of float32 samples, as announced by the
    header) are decoded into memory as a writable array. Longer ones, and FFmpeg streams whose
    header announces no duration, are decoded once in blocks into the decoded-audio cache
    (:mod:`~forensics_app.ingest.audio_stream`) and ``samples`` is a read-only view mapped from
    that file: the same values, but nothing is held in memory until an analyzer touches it.

    Parameters
    ----------
    path : Path
        Stored evidence copy.
    max_in_memory_bytes : int, optional
        Threshold in bytes (default :data:`MAX_IN_MEMORY_BYTES`).
    cache_dir : Path, optional
        Decoded-audio cache folder (default: the per-user cache).

    Raises
    ------
    UnsupportedMedia
        The file has no audio stream.
    CorruptMedia
        The audio does not decode, or (long files) does not decode to its end: analyzers are
        given complete audio or none. :func:`~forensics_app.ingest.audio_stream.open_audio_stream`
        is the lenient reader that keeps what a damaged file yields.
    """
    path = Path(path)
    limit = MAX_IN_MEMORY_BYTES if max_in_memory_bytes is None else int(max_in_memory_bytes)
    try:
        info = sf.info(str(path))
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError):
        info = None
    if info is not None and sndfile_reads(info.format, info.subtype):
        if int(info.frames) * int(info.channels) * 4 > limit:
            return _decode_audio_mapped(path, cache_dir)
        try:
            data, rate = sf.read(str(path), dtype="float32", always_2d=True)
        except (sf.LibsndfileError, RuntimeError) as exc:
            raise CorruptMedia(f"{path.name}: audio does not decode ({exc})") from exc
        return AudioClip(samples=data, rate=int(rate), path=path, sample_format=info.subtype)
    clip = _decode_audio_av(path, limit)
    return clip if clip is not None else _decode_audio_mapped(path, cache_dir)


def _decode_audio_mapped(path: Path, cache_dir: Path | None) -> AudioClip:
    """Decode through the audio stream's cache; the samples are a read-only memory map."""
    with open_audio_stream(path, cache_dir=cache_dir) as stream:
        if stream.decode_report is not None:
            raise CorruptMedia(f"{path.name}: audio does not decode to its end ({stream.decode_report})")
        samples = stream.as_array()
        rate, sample_format = stream.rate, stream.sample_format
    return AudioClip(samples=samples, rate=rate, path=path, sample_format=sample_format)


def _decode_audio_av(path: Path, limit: int) -> AudioClip | None:
    """Decode with FFmpeg into memory; None (nothing decoded) when the header announces more
    than ``limit`` bytes of float32 samples, or no duration at all."""
    try:
        with av.open(str(path), metadata_errors="ignore") as container:
            if not container.streams.audio:
                raise UnsupportedMedia(f"{path.name}: the file holds no audio stream")
            stream = container.streams.audio[0]
            ctx = stream.codec_context
            sample_format = ctx.format.name if ctx.format is not None else ""
            rate = int(ctx.sample_rate or 0)
            channels = int(ctx.channels or 0)
            mpeg_audio = ctx.name in MPEG_AUDIO_CODECS
            expected = _expected_samples(container, stream, rate)
            if expected <= 0 or expected * max(channels, 1) * 4 > limit:
                return None
            chunks = _SampleBuffer(expected)
            for frame in _decoded_frames(container, stream, mpeg_audio):
                if frame.samples == 0:
                    continue
                rate = rate or int(frame.sample_rate)
                arr = audio_frame_to_float32(frame)
                if channels and arr.shape[1] != channels:
                    raise CorruptMedia(
                        f"{path.name}: the audio changes from {channels} to {arr.shape[1]} channels mid-stream"
                    )
                channels = arr.shape[1]
                if frame.sample_rate and int(frame.sample_rate) != rate:
                    raise CorruptMedia(
                        f"{path.name}: the audio changes sample rate mid-stream ({rate} -> {frame.sample_rate} Hz)"
                    )
                chunks.append(arr)
    except (CorruptMedia, UnsupportedMedia):
        raise
    except _AV_ERRORS as exc:
        raise CorruptMedia(f"{path.name}: audio does not decode ({exc})") from exc
    if not chunks.n or rate <= 0:
        raise CorruptMedia(f"{path.name}: the audio decodes to no samples")
    return AudioClip(samples=chunks.result(), rate=rate, path=path, sample_format=sample_format)


def _expected_samples(container: Any, stream: Any, rate: int) -> int:
    """Samples per channel that the header announces (0 if unknown), plus a little headroom."""
    seconds = None
    if stream.duration is not None and stream.time_base is not None:
        seconds = float(stream.duration * stream.time_base)
    elif container.duration is not None:
        seconds = container.duration / 1_000_000
    if not seconds or seconds <= 0 or rate <= 0:
        return 0
    return int(min(seconds, 24 * 3600) * rate * 1.02) + rate


class _SampleBuffer:
    """Decoded audio appended in place: one allocation when the length is announced (no list of
    chunks concatenated at the end, which would hold the audio twice)."""

    def __init__(self, capacity: int) -> None:
        self._capacity = capacity
        self._buf: np.ndarray | None = None
        self.n = 0

    def append(self, block: np.ndarray) -> None:
        if self._buf is None:
            self._buf = np.empty((max(self._capacity, len(block)), block.shape[1]), np.float32)
        if self.n + len(block) > len(self._buf):
            grown = np.empty((max(self.n + len(block), int(len(self._buf) * 1.5)), self._buf.shape[1]), np.float32)
            grown[:self.n] = self._buf[:self.n]
            self._buf = grown
        self._buf[self.n:self.n + len(block)] = block
        self.n += len(block)

    def result(self) -> np.ndarray:
        assert self._buf is not None
        out = self._buf[:self.n]
        return out.copy() if self.n < 0.9 * len(self._buf) else out


def _decoded_frames(container: Any, stream: Any, mpeg_audio: bool) -> Iterator[Any]:
    """Decoded frames of ``stream``; for MPEG audio, packets that are not frames (padding or tags
    after the last frame, which the probe accepted) are skipped."""
    for packet in container.demux(stream):
        if mpeg_audio and packet.size and mpeg_audio_frame_size(bytes(packet)[:4]) is None:
            continue
        yield from packet.decode()


# --- images -------------------------------------------------------------------------------------


def decode_image(path: Path) -> StillImage:
    """Decode an image to RGB uint8 of shape (height, width, 3).

    The first frame only; pixels as stored (EXIF orientation is *not* applied). Palette images
    are expanded, alpha is dropped (not composited), CMYK is converted, 16-bit and 32-bit
    greyscale are scaled to 8 bits (not clipped), float images are scaled from [0, 1].

    Raises
    ------
    UnsupportedMedia
        Not an image format the workstation reads, or too many pixels.
    CorruptMedia
        The image does not decode.
    """
    path = Path(path)
    try:
        with Image.open(path, formats=IMAGE_FORMATS) as img:
            fmt = img.format or ""
            w, h = img.size
            if w * h > MAX_IMAGE_PIXELS:
                raise UnsupportedMedia(f"{path.name}: the image has {w}x{h} pixels, too many to decode safely")
            info = {k: v for k, v in img.info.items() if isinstance(v, (str, int, float, tuple))}
            img.load()
            pixels = image_to_rgb8(img)
    except UnsupportedMedia:
        raise
    except Image.DecompressionBombError as exc:
        raise UnsupportedMedia(f"{path.name}: image too large to decode safely ({exc})") from exc
    except _PIL_ERRORS as exc:
        raise CorruptMedia(f"{path.name}: image does not decode ({exc})") from exc
    return StillImage(pixels=pixels, path=path, format=fmt, info=info)


def image_to_rgb8(img: Image.Image) -> np.ndarray:
    """A loaded Pillow image as a contiguous RGB uint8 array (height, width, 3)."""
    mode = img.mode
    if mode in ("RGB",):
        return np.array(img, dtype=np.uint8)
    if mode.startswith("I") or mode == "F":
        grey = _grey_to_uint8(np.asarray(img), mode)
        return np.repeat(grey[:, :, None], 3, axis=2)
    if mode == "P" and "transparency" in img.info:
        img = img.convert("RGBA")
    return np.array(img.convert("RGB"), dtype=np.uint8)


def _grey_to_uint8(arr: np.ndarray, mode: str) -> np.ndarray:
    """Scale a high-bit-depth greyscale array to uint8 (16-bit: /257; 32-bit int: by its range)."""
    if mode == "F" or np.issubdtype(arr.dtype, np.floating):
        a = np.nan_to_num(arr.astype(np.float64), nan=0.0, posinf=0.0, neginf=0.0)
        top = 1.0 if a.size == 0 or a.max() <= 1.0 else float(a.max())
        return np.clip(np.rint(a / top * 255.0), 0, 255).astype(np.uint8)
    a = arr.astype(np.int64)
    if mode.startswith("I;16") or (a.size and a.min() >= 0 and a.max() <= 0xFFFF and a.max() > 0xFF):
        return np.clip((a + 128) // 257, 0, 255).astype(np.uint8)
    if a.size and a.min() >= 0 and a.max() <= 0xFF:
        return a.astype(np.uint8)
    lo, hi = (int(a.min()), int(a.max())) if a.size else (0, 1)
    span = max(hi - lo, 1)
    return ((a - lo) * 255 // span).astype(np.uint8)


# --- video --------------------------------------------------------------------------------------


def _video_stream(container: Any, name: str) -> Any:
    """The first real video stream (cover art / attached pictures are skipped)."""
    for s in container.streams.video:
        if not (s.disposition & av.stream.Disposition.attached_pic):
            return s
    raise UnsupportedMedia(f"{name}: the file holds no video stream")


class _SeekMissed(Exception):
    """A seek did not land on or before the wanted frame."""


def open_video(path: Path) -> VideoSource:
    """Open a video lazily: metadata now, frames and packets on demand.

    ``frames(start=, stop=)`` yields ``(index, time_s, rgb)`` with time relative to the first
    frame and ``rgb`` of shape (height, width, 3) uint8; ``packets()`` yields one
    :class:`PacketInfo` per coded frame in decoding order. Neither holds more than one frame.
    """
    path = Path(path)
    try:
        with av.open(str(path), metadata_errors="ignore") as container:
            vs = _video_stream(container, path.name)
            index = vs.index
            ctx = vs.codec_context
            rate = vs.average_rate or vs.guessed_rate or vs.base_rate
            fps = float(rate) if rate else 25.0
            n_frames = int(vs.frames or 0)
            if vs.duration is not None and vs.time_base is not None:
                duration = float(vs.duration * vs.time_base)
            elif container.duration is not None:
                duration = container.duration / 1_000_000
            else:
                duration = 0.0
            if n_frames <= 0:
                n_frames = sum(1 for p in container.demux(vs) if p.size > 0)
            if duration <= 0.0 and n_frames:
                duration = n_frames / fps
            width, height, codec = int(ctx.width), int(ctx.height), ctx.name
    except UnsupportedMedia:
        raise
    except _AV_ERRORS as exc:
        raise CorruptMedia(f"{path.name}: video does not open ({exc})") from exc

    pts_index: list[int] = []  # sorted presentation timestamps (stream time base), built lazily

    def presentation_order() -> list[int]:
        if not pts_index:
            with av.open(str(path), metadata_errors="ignore") as c:
                pts = [p.pts for p in c.demux(c.streams[index]) if p.pts is not None and p.size > 0]
            pts_index.extend(sorted(pts))
        return pts_index

    def sequential(start: int, stop: int | None) -> Iterator[tuple[int, float, np.ndarray]]:
        with av.open(str(path), metadata_errors="ignore") as c:
            stream = c.streams[index]
            stream.thread_type = "AUTO"
            t0 = None
            for i, frame in enumerate(c.decode(stream)):
                if stop is not None and i >= stop:
                    break
                t = float(frame.time) if frame.time is not None else i / fps
                t0 = t if t0 is None else t0
                if i >= start:
                    yield i, t - t0, frame.to_ndarray(format="rgb24")

    def seeking(start: int, stop: int | None) -> Iterator[tuple[int, float, np.ndarray]] | None:
        """Seek to the keyframe before ``start`` and decode from there (None if not possible)."""
        order = presentation_order()
        if start >= len(order) or len(set(order)) != len(order):
            return None
        position = {pts: i for i, pts in enumerate(order)}

        def run() -> Iterator[tuple[int, float, np.ndarray]]:
            started = False
            with av.open(str(path), metadata_errors="ignore") as c:
                stream = c.streams[index]
                stream.thread_type = "AUTO"
                tb = stream.time_base
                c.seek(order[start], stream=stream, backward=True, any_frame=False)
                for frame in c.decode(stream):
                    i = position.get(frame.pts) if frame.pts is not None else None
                    if not started and (i is None or i > start):
                        raise _SeekMissed  # landed past the frame (or off the index): decode from 0
                    if i is None:
                        raise CorruptMedia(f"{path.name}: a frame's timestamp is not in the stream's index")
                    started = started or i >= start
                    if stop is not None and i >= stop:
                        break
                    if i >= start:
                        yield i, float((frame.pts - order[0]) * tb), frame.to_ndarray(format="rgb24")

        return run()

    def frames(*, start: int = 0, stop: int | None = None) -> Iterator[tuple[int, float, np.ndarray]]:
        if start < 0 or (stop is not None and stop < start):
            raise ValueError(f"bad frame range start={start}, stop={stop}")
        try:
            it = seeking(start, stop) if start > 0 else None
            if it is not None:
                try:
                    first = next(it)
                except StopIteration:
                    return
                except _SeekMissed:
                    it = None
                else:
                    yield first
                    yield from it
                    return
            yield from sequential(start, stop)
        except _AV_ERRORS as exc:
            raise CorruptMedia(f"{path.name}: video frames do not decode ({exc})") from exc

    def packets() -> Iterator[PacketInfo]:
        try:
            with av.open(str(path), metadata_errors="ignore") as c:
                stream = c.streams[index]
                tb = stream.time_base
                for p in c.demux(stream):
                    if p.size == 0 and p.pts is None and p.dts is None:
                        continue  # flush packet
                    yield PacketInfo(
                        pts_s=float(p.pts * tb) if p.pts is not None and tb is not None else None,
                        dts_s=float(p.dts * tb) if p.dts is not None and tb is not None else None,
                        size=int(p.size),
                        keyframe=bool(p.is_keyframe),
                    )
        except _AV_ERRORS as exc:
            raise CorruptMedia(f"{path.name}: video packets cannot be read ({exc})") from exc

    return VideoSource(
        path=path, fps=fps, n_frames=n_frames, width=width, height=height, duration_s=duration,
        codec=codec, frames=frames, packets=packets,
    )
