"""Identify an evidence file's media kind and metadata, and refuse what cannot be read.

Probing looks at content, never at the file name: a WAV named ``.jpg`` is audio. A file is
accepted only if it decodes from start to end (images fully, audio fully, video by demuxing every
packet and decoding the first and last frames), so truncated or damaged files are refused at
acquisition with the reason, instead of failing later inside an analysis.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import av
import soundfile as sf
from PIL import Image, UnidentifiedImageError

from forensics_app.domain.errors import CorruptMedia, UnsupportedMedia
from forensics_app.domain.media import MediaKind

# ffmpeg demuxers that "succeed" on arbitrary bytes (text, raw data) and so prove nothing.
_BOGUS_FORMATS = {"tty", "data", "bin", "txt", "lrc", "srt", "ass", "webvtt", "subviewer", "subviewer1",
                  "jacosub", "microdvd", "mpl2", "pjs", "realtext", "sami", "stl", "vplayer", "image2",
                  "image2pipe", "ffmetadata", "mpsub", "aqtitle", "scc"}
_MEDIA_SUFFIXES = {
    ".wav", ".flac", ".ogg", ".opus", ".mp3", ".m4a", ".aac", ".wma", ".aif", ".aiff",
    ".mp4", ".mov", ".mkv", ".avi", ".webm", ".mpg", ".mpeg", ".m4v", ".3gp", ".ts", ".wmv",
    ".jpg", ".jpeg", ".png", ".tif", ".tiff", ".bmp", ".gif", ".webp",
}
MAX_IMAGE_PIXELS = 400_000_000  # refuse decompression bombs past 400 megapixels


@dataclass(frozen=True)
class ProbeResult:
    """Media kind and the metadata recorded in the Evidence row.

    Attributes
    ----------
    kind : MediaKind
    metadata : dict
        JSON-serialisable: container/format, codec, sample rate (Hz), channels, duration (s),
        width/height (px), fps, frame count, audio track presence, EXIF presence.
    """

    kind: MediaKind
    metadata: dict[str, Any] = field(default_factory=dict)


def _num(value: Any) -> float | None:
    if value is None:
        return None
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def probe(path: Path, *, display_name: str | None = None) -> ProbeResult:
    """Probe a file and check that it decodes end to end.

    Parameters
    ----------
    path : Path
        File to examine (opened read-only).
    display_name : str, optional
        Name used in error messages (the original file name when probing a copy).

    Raises
    ------
    CorruptMedia
        Empty, truncated or damaged media.
    UnsupportedMedia
        Not audio, video or a still image.
    """
    name = display_name or path.name
    size = path.stat().st_size
    if size == 0:
        raise CorruptMedia(f"{name}: the file is empty (0 bytes)")
    image = _probe_image(path, name)
    if image is not None:
        return image
    audio = _probe_soundfile(path, name)
    if audio is not None:
        return audio
    return _probe_av(path, name)


def _probe_image(path: Path, name: str) -> ProbeResult | None:
    Image.MAX_IMAGE_PIXELS = MAX_IMAGE_PIXELS
    try:
        with Image.open(path) as img:
            fmt = img.format or "unknown"
            width, height = img.size
            mode = img.mode
            n_frames = int(getattr(img, "n_frames", 1))
            exif = img.getexif()
            has_exif = len(exif) > 0
            has_xmp = bool(img.info.get("xmp") or img.info.get("XML:com.adobe.xmp"))
            icc = bool(img.info.get("icc_profile"))
            try:
                img.load()
            except (OSError, SyntaxError, ValueError) as exc:
                raise CorruptMedia(f"{name}: the {fmt} image is truncated or damaged ({exc})") from exc
    except UnidentifiedImageError:
        return None
    except Image.DecompressionBombError as exc:
        raise UnsupportedMedia(f"{name}: image too large to examine safely ({exc})") from exc
    except CorruptMedia:
        raise
    except (OSError, SyntaxError, ValueError) as exc:
        # Identified as an image by its header but unreadable.
        raise CorruptMedia(f"{name}: image header could not be read ({exc})") from exc
    if width <= 0 or height <= 0:
        raise CorruptMedia(f"{name}: image has no pixels ({width}x{height})")
    return ProbeResult(
        MediaKind.IMAGE,
        {
            "container": fmt,
            "width": width,
            "height": height,
            "mode": mode,
            "frames": n_frames,
            "exif": has_exif,
            "xmp": has_xmp,
            "icc_profile": icc,
        },
    )


def _probe_soundfile(path: Path, name: str) -> ProbeResult | None:
    try:
        info = sf.info(str(path))
    except (sf.LibsndfileError, RuntimeError, TypeError):
        return None
    if info.frames <= 0 or info.samplerate <= 0:
        raise CorruptMedia(f"{name}: the {info.format} audio holds no samples")
    declared = int(info.frames)
    counted = 0
    try:
        with sf.SoundFile(str(path)) as fh:
            for block in fh.blocks(blocksize=1 << 16, dtype="float32", always_2d=True):
                counted += block.shape[0]
    except (sf.LibsndfileError, RuntimeError) as exc:
        raise CorruptMedia(
            f"{name}: {info.format} audio stops decoding after {counted / info.samplerate:.3f} s ({exc})"
        ) from exc
    if counted < declared:
        raise CorruptMedia(
            f"{name}: {info.format} audio is truncated: header declares {declared} samples "
            f"({declared / info.samplerate:.3f} s) but only {counted} decode"
        )
    header_short = _wav_data_shortfall(path, info)
    if header_short:
        raise CorruptMedia(f"{name}: WAV data chunk is truncated ({header_short} bytes missing)")
    return ProbeResult(
        MediaKind.AUDIO,
        {
            "container": info.format,
            "codec": info.subtype,
            "sample_rate": int(info.samplerate),
            "channels": int(info.channels),
            "duration_s": counted / info.samplerate,
            "samples": counted,
            "decoder": "libsndfile",
        },
    )


def _wav_data_shortfall(path: Path, info: Any) -> int:
    """Bytes missing from a RIFF/WAVE data chunk (0 when complete or not WAV)."""
    if info.format not in {"WAV", "WAVEX"}:
        return 0
    size = path.stat().st_size
    with open(path, "rb") as fh:
        head = fh.read(12)
        if head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            return 0
        pos = 12
        while pos + 8 <= size:
            fh.seek(pos)
            hdr = fh.read(8)
            cid, clen = hdr[:4], int.from_bytes(hdr[4:8], "little")
            if cid == b"data":
                if clen in (0, 0xFFFFFFFF):
                    return 0
                return max(0, pos + 8 + clen - size)
            pos += 8 + clen + (clen & 1)
    return 0


def _probe_av(path: Path, name: str) -> ProbeResult:
    try:
        container = av.open(str(path), mode="r", metadata_errors="ignore")
    except (av.FFmpegError, UnicodeDecodeError, ValueError) as exc:
        if path.suffix.lower() in _MEDIA_SUFFIXES:
            raise CorruptMedia(f"{name}: looks like {path.suffix} media but cannot be opened ({exc})") from exc
        raise UnsupportedMedia(
            f"{name}: not audio, video or a still image that the workstation can read"
        ) from exc
    with container:
        fmt = container.format.name
        if fmt in _BOGUS_FORMATS or fmt.split(",")[0] in _BOGUS_FORMATS:
            raise UnsupportedMedia(f"{name}: not audio, video or a still image (identified as '{fmt}')")
        videos = [s for s in container.streams.video if not (s.disposition & av.stream.Disposition.attached_pic)]
        audios = list(container.streams.audio)
        if not videos and not audios:
            raise UnsupportedMedia(f"{name}: container '{fmt}' holds no audio or video stream")
        if videos:
            return _check_video(container, videos[0], audios, name, fmt)
        return _check_audio_av(container, audios[0], name, fmt)


def _stream_seconds(stream: Any, ts: int | None) -> float | None:
    if ts is None or stream.time_base is None:
        return None
    return float(ts * stream.time_base)


def _check_video(container: Any, vs: Any, audios: list[Any], name: str, fmt: str) -> ProbeResult:
    ctx = vs.codec_context
    width, height = int(ctx.width or 0), int(ctx.height or 0)
    rate = vs.average_rate or vs.guessed_rate or vs.base_rate
    fps = float(rate) if rate else None
    n_packets = 0
    n_key = 0
    last_pts = None
    errors: list[str] = []
    try:
        for packet in container.demux(vs):
            if packet.size == 0 and packet.pts is None:
                continue  # flush packet
            n_packets += 1
            n_key += int(packet.is_keyframe)
            if packet.pts is not None:
                last_pts = packet.pts if last_pts is None else max(last_pts, packet.pts)
    except av.FFmpegError as exc:
        errors.append(str(exc))
    if n_packets == 0:
        raise CorruptMedia(f"{name}: the {fmt} video stream holds no frames")
    if errors:
        t = _stream_seconds(vs, last_pts)
        where = f" after {t:.3f} s" if t is not None else ""
        raise CorruptMedia(f"{name}: video demuxing failed{where} ({errors[0]})")
    decoded = _decode_video_edges(container, vs, name)
    if width <= 0 or height <= 0:
        height, width = decoded.shape[:2]
    duration = None
    if vs.duration is not None:
        duration = _stream_seconds(vs, vs.duration)
    elif container.duration is not None:
        duration = container.duration / 1_000_000
    if duration is None and fps:
        duration = n_packets / fps
    meta: dict[str, Any] = {
        "container": fmt,
        "codec": ctx.name,
        "width": width,
        "height": height,
        "fps": _num(fps),
        "frame_count": n_packets,
        "keyframes": n_key,
        "duration_s": _num(duration),
        "pixel_format": ctx.format.name if ctx.format is not None else None,
        "audio_track": bool(audios),
    }
    if audios:
        a = audios[0].codec_context
        meta["audio_codec"] = a.name
        meta["audio_sample_rate"] = int(a.sample_rate or 0)
        meta["audio_channels"] = int(a.channels or 0)
    return ProbeResult(MediaKind.VIDEO, meta)


def _decode_video_edges(container: Any, vs: Any, name: str) -> Any:
    """Decode the first frame (and check that decoding works at all)."""
    container.seek(0)
    try:
        for frame in container.decode(vs):
            return frame.to_ndarray(format="rgb24")
    except av.FFmpegError as exc:
        raise CorruptMedia(f"{name}: the first video frame does not decode ({exc})") from exc
    raise CorruptMedia(f"{name}: no video frame decodes")


def _check_audio_av(container: Any, stream: Any, name: str, fmt: str) -> ProbeResult:
    ctx = stream.codec_context
    rate = int(ctx.sample_rate or 0)
    samples = 0
    try:
        for frame in container.decode(stream):
            samples += frame.samples
            rate = rate or int(frame.sample_rate)
    except av.FFmpegError as exc:
        where = samples / rate if rate else 0.0
        raise CorruptMedia(f"{name}: {fmt}/{ctx.name} audio stops decoding after {where:.3f} s ({exc})") from exc
    if samples == 0 or rate <= 0:
        raise CorruptMedia(f"{name}: the {fmt} audio stream decodes to no samples")
    declared = None
    if stream.duration is not None and stream.time_base is not None:
        declared = float(stream.duration * stream.time_base)
    actual = samples / rate
    if declared is not None and declared - actual > max(0.5, 0.05 * declared):
        raise CorruptMedia(
            f"{name}: {fmt}/{ctx.name} audio is truncated: declares {declared:.3f} s but {actual:.3f} s decode"
        )
    return ProbeResult(
        MediaKind.AUDIO,
        {
            "container": fmt,
            "codec": ctx.name,
            "sample_rate": rate,
            "channels": int(ctx.channels or 0),
            "duration_s": actual,
            "samples": samples,
            "bit_rate": int(container.bit_rate or 0) or None,
            "decoder": "ffmpeg",
        },
    )


