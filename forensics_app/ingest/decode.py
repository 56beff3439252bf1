"""Decode a verified stored evidence copy into the domain media objects analyzers receive."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import av
import numpy as np
import soundfile as sf
from PIL import Image

from forensics_app.domain.errors import CorruptMedia, UnsupportedMedia
from forensics_app.domain.media import AudioClip, MediaKind, PacketInfo, StillImage, VideoSource


def decode(path: Path, kind: MediaKind | str) -> AudioClip | VideoSource | StillImage:
    """Decode ``path`` as the given media kind.

    Parameters
    ----------
    path : Path
        Stored evidence copy.
    kind : MediaKind
        As recorded at ingest.
    """
    kind = MediaKind(kind)
    if kind is MediaKind.AUDIO:
        return decode_audio(path)
    if kind is MediaKind.VIDEO:
        return open_video(path)
    if kind is MediaKind.IMAGE:
        return decode_image(path)
    raise UnsupportedMedia(f"{path.name}: unknown media kind {kind!r}")


def decode_audio(path: Path) -> AudioClip:
    """Decode audio to float32 (n_samples, n_channels); libsndfile first, FFmpeg otherwise.

    Also takes the first audio track of a video file.
    """
    try:
        data, rate = sf.read(str(path), dtype="float32", always_2d=True)
        info = sf.info(str(path))
        return AudioClip(samples=data, rate=int(rate), path=path, sample_format=info.subtype)
    except (sf.LibsndfileError, RuntimeError, TypeError):
        pass
    try:
        with av.open(str(path)) as container:
            if not container.streams.audio:
                raise UnsupportedMedia(f"{path.name}: no audio stream")
            stream = container.streams.audio[0]
            fmt = stream.codec_context.format.name if stream.codec_context.format else ""
            chunks: list[np.ndarray] = []
            rate = int(stream.codec_context.sample_rate or 0)
            for frame in container.decode(stream):
                arr = frame.to_ndarray()
                rate = rate or int(frame.sample_rate)
                if frame.format.is_planar:
                    arr = arr.T  # (channels, n) -> (n, channels)
                else:
                    arr = arr.reshape(-1, len(frame.layout.channels))
                chunks.append(_to_float32(arr))
    except av.FFmpegError as exc:
        raise CorruptMedia(f"{path.name}: audio does not decode ({exc})") from exc
    if not chunks:
        raise CorruptMedia(f"{path.name}: audio decodes to no samples")
    return AudioClip(samples=np.concatenate(chunks, axis=0), rate=rate, path=path, sample_format=fmt)


def _to_float32(arr: np.ndarray) -> np.ndarray:
    if arr.dtype == np.float32:
        return arr
    if np.issubdtype(arr.dtype, np.floating):
        return arr.astype(np.float32)
    if arr.dtype == np.uint8:
        return ((arr.astype(np.float32) - 128.0) / 128.0).astype(np.float32)
    scale = float(np.iinfo(arr.dtype).max) + 1.0
    return (arr.astype(np.float32) / scale).astype(np.float32)


def decode_image(path: Path) -> StillImage:
    """Decode an image to RGB uint8 (EXIF orientation is *not* applied: pixels as stored)."""
    try:
        with Image.open(path) as img:
            fmt = img.format or ""
            info = {k: v for k, v in img.info.items() if isinstance(v, (str, int, float, tuple))}
            rgb = img.convert("RGB")
            pixels = np.asarray(rgb, dtype=np.uint8).copy()
    except (OSError, SyntaxError, ValueError) as exc:
        raise CorruptMedia(f"{path.name}: image does not decode ({exc})") from exc
    return StillImage(pixels=pixels, path=path, format=fmt, info=info)




def open_video(path: Path) -> VideoSource:
    """Open a video lazily: metadata now, frames and packets on demand."""
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise UnsupportedMedia(f"{path.name}: no video stream")
            vs = container.streams.video[0]
            ctx = vs.codec_context
            rate = vs.average_rate or vs.guessed_rate or vs.base_rate
            fps = float(rate) if rate else 25.0
            n_frames = int(vs.frames or 0)
            if vs.duration is not None and vs.time_base is not None:
                duration = float(vs.duration * vs.time_base)
            elif container.duration is not None:
                duration = container.duration / 1_000_000
            else:
                duration = n_frames / fps if n_frames else 0.0
            if n_frames <= 0:
                n_frames = sum(1 for p in container.demux(vs) if p.size > 0)
            width, height, codec = int(ctx.width), int(ctx.height), ctx.name
    except av.FFmpegError as exc:
        raise CorruptMedia(f"{path.name}: video does not open ({exc})") from exc

    def frames(*, start: int = 0, stop: int | None = None) -> Iterator[tuple[int, float, np.ndarray]]:
        with av.open(str(path)) as c:
            stream = c.streams.video[0]
            stream.thread_type = "AUTO"
            t0 = None
            for index, frame in enumerate(c.decode(stream)):
                if stop is not None and index >= stop:
                    break
                t = float(frame.time) if frame.time is not None else index / fps
                t0 = t if t0 is None else t0
                if index >= start:
                    yield index, t - t0, frame.to_ndarray(format="rgb24")

    def packets() -> Iterator[PacketInfo]:
        with av.open(str(path)) as c:
            stream = c.streams.video[0]
            tb = stream.time_base
            for p in c.demux(stream):
                if p.size == 0 and p.pts is None:
                    continue
                yield PacketInfo(
                    pts_s=float(p.pts * tb) if p.pts is not None and tb is not None else None,
                    dts_s=float(p.dts * tb) if p.dts is not None and tb is not None else None,
                    size=int(p.size),
                    keyframe=bool(p.is_keyframe),
                )

    return VideoSource(
        path=path, fps=fps, n_frames=n_frames, width=width, height=height, duration_s=duration,
        codec=codec, frames=frames, packets=packets,
    )
