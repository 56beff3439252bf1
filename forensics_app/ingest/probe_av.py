"""Audio and video read by FFmpeg (PyAV), restricted to the demuxers in ``FFMPEG_FORMATS``.

Video: every packet demuxed but only the first video and audio frames and the last keyframe
decoded; packet counts and end times compared with what the header declares. Audio: every
packet decoded and the decoded length compared with the declared one (MP4 sample tables, MP3
Xing/Info header); an MPEG audio stream must not end in a partial frame.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av

from forensics_app.domain.errors import CorruptMedia, UnsupportedMedia
from forensics_app.domain.media import MediaKind
from forensics_app.ingest.names import nameless
from forensics_app.ingest.probe_base import (
    FFMPEG_FORMATS,
    MPEG_AUDIO_CODECS,
    ProbeResult,
    check_audio_params,
    reason,
)
from forensics_app.ingest.structure import has_xing, mpeg_audio_frame_size

# Demuxers that prove nothing even if they opened (defence in depth behind the whitelist).
_BOGUS_FORMATS = {"tty", "data", "bin", "txt", "lrc", "srt", "ass", "webvtt", "subviewer", "subviewer1",
                  "jacosub", "microdvd", "mpl2", "pjs", "realtext", "sami", "stl", "vplayer", "image2",
                  "image2pipe", "ffmetadata", "mpsub", "aqtitle", "scc", "hls", "concat", "ico", "apng",
                  "gif", "tedcaptions", "sup"}
# Formats whose header states an exact duration (so a shorter decode means a truncated file).
_EXACT_DURATION = {"matroska", "webm", "mov", "mp4", "m4a", "3gp", "3g2", "mj2"}
_MEDIA_SUFFIXES = {
    ".wav", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".m4a", ".aac", ".wma", ".aif", ".aiff", ".caf",
    ".mp4", ".mov", ".mkv", ".avi", ".webm", ".mpg", ".mpeg", ".m4v", ".3gp", ".ts", ".wmv", ".flv",
    ".jpg", ".jpeg", ".png", ".tif", ".tiff", ".bmp", ".gif", ".webp",
}
_FORMAT_LABELS = {"mov": "MP4/QuickTime", "matroska": "Matroska/WebM", "mp3": "MP3", "ogg": "Ogg", "avi": "AVI",
                  "asf": "ASF (WMA/WMV)", "flv": "FLV", "mpegts": "MPEG-TS", "mpeg": "MPEG-PS", "wav": "WAV",
                  "flac": "FLAC", "aac": "AAC (ADTS)", "aiff": "AIFF", "caf": "CAF"}

_AV_ERRORS: tuple[type[BaseException], ...] = (
    av.FFmpegError, OSError, EOFError, ValueError, AttributeError, TypeError, IndexError,
    ZeroDivisionError, OverflowError, UnicodeDecodeError,
)

# --- helpers ------------------------------------------------------------------------------------


def _num(value: Any) -> float | None:
    if value is None:
        return None
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def _pretty(fmt: str) -> str:
    """FFmpeg's demuxer name ("mov,mp4,m4a,3gp,3g2,mj2") as a label for messages."""
    first = fmt.split(",")[0]
    return _FORMAT_LABELS.get(first, first)


def _corrupt_or_unsupported(name: str, kind: str | None, detail: str) -> CorruptMedia | UnsupportedMedia:
    """The refusal for content that no decoder accepts."""
    if kind is not None:
        return CorruptMedia(f"{name}: looks like {kind} but cannot be read ({detail})")
    suffix = Path(name).suffix.lower()
    if suffix in _MEDIA_SUFFIXES:
        return CorruptMedia(
            f"{name}: looks like {suffix[1:].upper()} media by its name, but its content is not a "
            f"recognisable audio, video or image format"
        )
    return UnsupportedMedia(f"{name}: not audio, video or a still image that the workstation can read")


def _seconds(stream: Any, ts: int | None) -> float | None:
    if ts is None or stream.time_base is None:
        return None
    return float(ts * stream.time_base)


# --- entry point --------------------------------------------------------------------------------


def probe_av(path: Path, name: str, kind: str | None) -> ProbeResult:
    """Probe ``path`` with FFmpeg: the last resort, so it refuses instead of returning None."""
    with nameless(path) as raw:
        try:
            container = av.open(raw, mode="r", metadata_errors="ignore",
                                options={"format_whitelist": ",".join(FFMPEG_FORMATS)})
        except av.error.ArgumentError as exc:
            # Either the format is not on the whitelist or its header holds invalid values.
            if kind is not None:
                raise CorruptMedia(f"{name}: looks like {kind} but cannot be opened ({reason(exc)})") from exc
            raise UnsupportedMedia(
                f"{name}: in a format the workstation does not accept as audio, video or a still image"
            ) from exc
        except _AV_ERRORS as exc:
            raise _corrupt_or_unsupported(name, kind, reason(exc)) from exc
        with container:
            fmt = container.format.name
            if any(part in _BOGUS_FORMATS for part in fmt.split(",")):
                raise UnsupportedMedia(f"{name}: not audio, video or a still image (identified as {fmt!r})")
            videos = [s for s in container.streams.video
                      if not (s.disposition & av.stream.Disposition.attached_pic)]
            audios = list(container.streams.audio)
            if not videos and not audios:
                raise UnsupportedMedia(f"{name}: the {fmt!r} container holds no audio or video stream")
            try:
                if videos:
                    return _check_video(container, videos[0], audios, name, fmt)
                return _check_audio_av(container, audios[0], name, fmt, path)
            except (CorruptMedia, UnsupportedMedia):
                raise
            except _AV_ERRORS as exc:
                raise CorruptMedia(f"{name}: the {_pretty(fmt)} media cannot be read ({reason(exc)})") from exc


# --- video --------------------------------------------------------------------------------------


@dataclass
class _StreamTally:
    packets: int = 0
    keyframes: int = 0
    last_end: int | None = None  # pts + duration, in the stream's time base
    last_key_pts: int | None = None
    first_frame: Any = None  # the first decoded frame, for streams asked to decode one
    decode_tries: int = 0
    decode_error: BaseException | None = None


_FIRST_FRAME_PACKETS = 64
"""Packets fed to a decoder to get a first frame (decoder delay, leading non-keyframes)."""


def _demux_all(container: Any, streams: list[Any], name: str, fmt: str,
               *, first_frame_of: tuple[Any, ...] = ()) -> dict[int, _StreamTally]:
    """Read every packet of ``streams``; refuse on demuxer errors.

    Only the streams in ``first_frame_of`` are decoded, and only until their first frame, in
    this same pass (no seeking back, which raw streams do not allow).
    """
    tallies = {s.index: _StreamTally() for s in streams}
    pending = {s.index for s in first_frame_of}
    try:
        for packet in container.demux(streams):
            index = packet.stream.index
            tally = tallies[index]
            flush = packet.size == 0 and packet.pts is None and packet.dts is None
            if not flush:
                tally.packets += 1
                ts = packet.pts if packet.pts is not None else packet.dts
                if packet.is_keyframe:
                    tally.keyframes += 1
                    if ts is not None:
                        tally.last_key_pts = ts
                if packet.is_corrupt:
                    t = _seconds(packet.stream, ts)
                    where = f" at {t:.3f} s" if t is not None else ""
                    raise CorruptMedia(
                        f"{name}: the {_pretty(fmt)} file holds a truncated or corrupt {packet.stream.type} packet{where}"
                    )
                if ts is not None:
                    end = ts + (packet.duration or 0)
                    tally.last_end = end if tally.last_end is None else max(tally.last_end, end)
            if index in pending and (flush or tally.decode_tries < _FIRST_FRAME_PACKETS):
                tally.decode_tries += 1
                try:
                    frames = packet.decode()
                except _AV_ERRORS as exc:  # leading packets may lack their references
                    tally.decode_error = exc
                    frames = []
                if frames:
                    tally.first_frame = frames[0]
                    pending.discard(index)
    except CorruptMedia:
        raise
    except _AV_ERRORS as exc:
        raise CorruptMedia(f"{name}: the {_pretty(fmt)} file cannot be read to its end ({reason(exc)})") from exc
    return tallies


def _require_first_frame(tally: _StreamTally, name: str, what: str) -> Any:
    if tally.first_frame is None:
        detail = reason(tally.decode_error) if tally.decode_error is not None else "no frame produced"
        raise CorruptMedia(f"{name}: the {what} does not decode ({detail})")
    return tally.first_frame


def _check_declared_counts(streams: list[Any], tallies: dict[int, _StreamTally], name: str, fmt: str) -> None:
    for s in streams:
        declared = int(s.frames or 0)
        counted = tallies[s.index].packets
        if declared > 0 and counted < declared:
            raise CorruptMedia(
                f"{name}: the {_pretty(fmt)} file is truncated: its {s.type} stream declares {declared} "
                f"{'frames' if s.type == 'video' else 'packets'} but only {counted} are present"
            )


def _check_declared_duration(container: Any, tallies: dict[int, _StreamTally], name: str, fmt: str) -> None:
    """Packets must reach the duration that the header states (Matroska, MP4 families only)."""
    if container.duration is None or not any(p in _EXACT_DURATION for p in fmt.split(",")):
        return
    ends = [_seconds(s, t.last_end) for s in container.streams if (t := tallies.get(s.index)) is not None]
    ends = [e for e in ends if e is not None]
    if not ends:
        return
    declared = container.duration / 1_000_000
    start = (container.start_time or 0) / 1_000_000
    present = max(ends) - start
    if declared - present > max(0.25, 0.002 * declared):
        raise CorruptMedia(
            f"{name}: the {_pretty(fmt)} file is truncated: it declares {declared:.3f} s but its packets end at {present:.3f} s"
        )


def _check_video(container: Any, vs: Any, audios: list[Any], name: str, fmt: str) -> ProbeResult:
    ctx = vs.codec_context
    width, height = int(ctx.width or 0), int(ctx.height or 0)
    rate = vs.average_rate or vs.guessed_rate or vs.base_rate
    fps = float(rate) if rate else None
    streams = [vs, *audios]
    tallies = _demux_all(container, list(container.streams), name, fmt, first_frame_of=tuple(streams[:2]))
    video = tallies[vs.index]
    if video.packets == 0:
        raise CorruptMedia(f"{name}: the {_pretty(fmt)} video stream holds no frames")
    _check_declared_counts(streams, tallies, name, fmt)
    _check_declared_duration(container, tallies, name, fmt)
    first = _require_first_frame(video, name, "first video frame")
    if audios and tallies[audios[0].index].packets:
        _require_first_frame(tallies[audios[0].index], name, "first audio frame")
    last_key_checked = False
    if video.last_key_pts is not None and video.keyframes > 1:
        last_key_checked = _decode_keyframe(container, vs, video.last_key_pts, name)
    if width <= 0 or height <= 0:
        width, height = first.width, first.height
    if width <= 0 or height <= 0:
        raise CorruptMedia(f"{name}: the video frames have no pixels ({width}x{height})")
    duration = None
    if vs.duration is not None:
        duration = _seconds(vs, vs.duration)
    elif container.duration is not None:
        duration = container.duration / 1_000_000
    if duration is None and fps:
        duration = video.packets / fps
    meta: dict[str, Any] = {
        "container": fmt,
        "codec": ctx.name,
        "width": width,
        "height": height,
        "fps": _num(fps),
        "frame_count": video.packets,
        "keyframes": video.keyframes,
        "duration_s": _num(duration),
        "pixel_format": ctx.format.name if ctx.format is not None else None,
        "bit_rate": int(container.bit_rate or 0) or None,
        "last_keyframe_decoded": last_key_checked,
        "audio_track": bool(audios),
    }
    if audios:
        a = audios[0].codec_context
        meta["audio_codec"] = a.name
        meta["audio_sample_rate"] = int(a.sample_rate or 0)
        meta["audio_channels"] = int(a.channels or 0)
        meta["audio_tracks"] = len(audios)
    return ProbeResult(MediaKind.VIDEO, meta)


def _decode_keyframe(container: Any, stream: Any, pts: int, name: str) -> bool:
    """Decode one frame from the keyframe at ``pts``; False if the container cannot seek there."""
    try:
        container.seek(pts, stream=stream, backward=True, any_frame=False)
    except _AV_ERRORS:
        return False  # raw streams cannot seek: the first-frame check stands alone
    try:
        for packet in container.demux(stream):
            for _frame in packet.decode():
                return True
    except _AV_ERRORS as exc:
        t = _seconds(stream, pts)
        raise CorruptMedia(f"{name}: the last keyframe ({t:.3f} s) does not decode ({reason(exc)})") from exc
    raise CorruptMedia(f"{name}: the last keyframe does not decode (no frame produced)")


# --- audio --------------------------------------------------------------------------------------


def _check_audio_av(container: Any, stream: Any, name: str, fmt: str, path: Path) -> ProbeResult:
    ctx = stream.codec_context
    rate = int(ctx.sample_rate or 0)
    channels = int(ctx.channels or 0)
    check_audio_params(name, _pretty(fmt), rate, channels)
    mpeg_audio = ctx.name in MPEG_AUDIO_CODECS
    samples = packets = junk = 0
    last_packet = None
    try:
        for packet in container.demux(stream):
            if packet.size == 0 and packet.pts is None and packet.dts is None:
                frames = packet.decode()  # flush the decoder
            else:
                packets += 1
                if packet.is_corrupt:  # FFmpeg flags a packet cut short by the end of the file
                    raise CorruptMedia(
                        f"{name}: the {_pretty(fmt)} audio is truncated or damaged: a packet near "
                        f"{samples / rate:.3f} s is incomplete"
                    )
                if mpeg_audio and mpeg_audio_frame_size(bytes(packet)[:4]) is None:
                    junk += packet.size  # not an MPEG audio frame: padding or tags, unless audio follows
                    continue
                if junk:
                    raise CorruptMedia(
                        f"{name}: the {_pretty(fmt)} audio is damaged: {junk} bytes of undecodable data "
                        f"near {samples / rate:.3f} s"
                    )
                if mpeg_audio:
                    last_packet = packet
                frames = packet.decode()
            for frame in frames:
                samples += frame.samples
    except CorruptMedia:
        raise
    except _AV_ERRORS as exc:
        raise CorruptMedia(
            f"{name}: the {_pretty(fmt)} audio stops decoding after {samples / rate:.3f} s ({reason(exc)})"
        ) from exc
    if samples == 0:
        raise CorruptMedia(f"{name}: the {_pretty(fmt)} audio stream decodes to no samples")
    actual = samples / rate
    declared_packets = int(stream.frames or 0)
    if declared_packets > 0 and packets < declared_packets:
        raise CorruptMedia(
            f"{name}: the {_pretty(fmt)} audio is truncated: it declares {declared_packets} packets but only {packets} are present"
        )
    exact = any(p in _EXACT_DURATION for p in fmt.split(",")) or (mpeg_audio and has_xing(path))
    declared = _seconds(stream, stream.duration)
    if declared is None and container.duration is not None:
        declared = container.duration / 1_000_000
    if exact and declared is not None and declared - actual > max(0.1, 0.01 * declared):
        raise CorruptMedia(
            f"{name}: the {_pretty(fmt)} audio is truncated: its header declares {declared:.3f} s "
            f"but only {actual:.3f} s decode"
        )
    if last_packet is not None:
        data = bytes(last_packet)
        expected = mpeg_audio_frame_size(data[:4])
        if expected is not None and len(data) < expected:
            raise CorruptMedia(
                f"{name}: the MPEG audio is truncated: its last frame holds {len(data)} of {expected} bytes"
            )
    return ProbeResult(
        MediaKind.AUDIO,
        {
            "container": fmt,
            "codec": ctx.name,
            "sample_rate": rate,
            "channels": channels,
            "duration_s": actual,
            "samples": samples,
            "declared_duration_s": _num(declared),
            "bit_rate": int(container.bit_rate or 0) or None,
            "trailing_bytes": junk,
            "decoder": "ffmpeg",
        },
    )
