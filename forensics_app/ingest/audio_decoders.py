"""Lenient block decoders for audio: libsndfile or FFmpeg (PyAV) from start to end, into a sink.

Used to fill the decoded-audio cache (:mod:`~forensics_app.ingest.audio_stream`). Each decoder
hands float32 blocks of shape (n, n_channels) (full scale = 1.0) to ``sink`` as it goes, so
memory stays bounded whatever the length, and returns a :class:`Decoded` summary. Unlike the
probe, a damaged file is not refused: decoding stops at the first damage, what decoded so far is
kept, and :attr:`Decoded.problem` says where and why. Only a file that cannot be opened at all
raises (:class:`CorruptMedia`, or :class:`UnsupportedMedia` when it holds no audio).

The FFmpeg decoder yields exactly the samples :func:`~forensics_app.ingest.decode.decode_audio`
yields for an intact file (same frames, same conversion, same skipping of MPEG tags/padding).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av
import numpy as np
import soundfile as sf

from forensics_app.domain.errors import CorruptMedia, UnsupportedMedia
from forensics_app.ingest.names import display_label
from forensics_app.ingest.probe_base import FFMPEG_FORMATS, MPEG_AUDIO_CODECS, reason
from forensics_app.ingest.structure import check_structure, has_xing, mpeg_audio_frame_size, sniff

__all__ = ["Decoded", "decode_sndfile", "decode_av", "audio_frame_to_float32", "DECODE_BLOCK"]

Sink = Callable[[np.ndarray], None]
DECODE_BLOCK = 1 << 16
"""Samples per channel per libsndfile read when decoding into the cache."""
_AV_ERRORS: tuple[type[BaseException], ...] = (
    av.FFmpegError, OSError, EOFError, ValueError, AttributeError, TypeError, IndexError,
    ZeroDivisionError, OverflowError,
)
# Containers whose header states an exact duration (a shorter decode means a cut file).
_EXACT_DURATION = {"matroska", "webm", "mov", "mp4", "m4a", "3gp", "3g2", "mj2"}


@dataclass(frozen=True)
class Decoded:
    """What a block decoder produced.

    Attributes
    ----------
    rate : int
        Sample rate in Hz.
    n_channels : int
        Channels.
    n_samples : int
        Samples per channel handed to the sink.
    sample_format : str
        Source sample format ("PCM_16", "VORBIS", "fltp", ...).
    decoder : str
        "libsndfile" or "ffmpeg".
    problem : str or None
        Why decoding stopped early (damaged file), naming the file; None when it decoded to its end.
    """

    rate: int
    n_channels: int
    n_samples: int
    sample_format: str
    decoder: str
    problem: str | None = None


class _SinkFailed(Exception):
    """The sink (not the decoder) raised: re-raised as is, never taken for damaged media."""

    def __init__(self, exc: BaseException) -> None:
        super().__init__(str(exc))
        self.exc = exc


def _guarded(sink: Sink) -> Sink:
    def call(block: np.ndarray) -> None:
        try:
            sink(block)
        except BaseException as exc:
            raise _SinkFailed(exc) from exc
    return call


def _sink_errors_pass_through(fn: Callable[[Path, Sink], Decoded]) -> Callable[[Path, Sink], Decoded]:
    """Errors of the sink (a full disk under the cache...) propagate unchanged."""
    def wrapper(path: Path, sink: Sink) -> Decoded:
        try:
            return fn(path, _guarded(sink))
        except _SinkFailed as failed:
            raise failed.exc from None
    wrapper.__doc__ = fn.__doc__
    wrapper.__name__ = fn.__name__
    return wrapper


# --- libsndfile ---------------------------------------------------------------------------------


@_sink_errors_pass_through
def decode_sndfile(path: Path, sink: Sink) -> Decoded:
    """Decode ``path`` with libsndfile in blocks of :data:`DECODE_BLOCK` samples."""
    path = Path(path)
    name = display_label(path.name)
    try:
        snd = sf.SoundFile(str(path))
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError) as exc:
        raise CorruptMedia(f"{name}: the audio cannot be opened ({reason(exc)})") from exc
    with snd:
        rate, channels, declared = int(snd.samplerate), int(snd.channels), int(snd.frames)
        fmt, subtype = snd.format, snd.subtype
        buf = np.empty((DECODE_BLOCK, channels), np.float32)
        n = 0
        problem = None
        try:
            while True:
                k = snd.buffer_read_into(buf, dtype="float32")
                if k <= 0:
                    break
                sink(buf[:k])
                n += k
                if k < DECODE_BLOCK:
                    break
        except (sf.LibsndfileError, RuntimeError) as exc:
            problem = (f"{name}: the {fmt} audio is damaged: libsndfile stops decoding after "
                       f"{n / rate:.3f} s ({reason(exc)})")
        if problem is None and n < declared:
            problem = (f"{name}: the {fmt} audio is truncated: its header declares {declared} samples "
                       f"({declared / rate:.3f} s) but only {n} ({n / rate:.3f} s) decode")
    if problem is None:
        problem = structure_problem(path, name)
    return Decoded(rate=rate, n_channels=channels, n_samples=n, sample_format=subtype, decoder="libsndfile",
                   problem=problem)


# --- FFmpeg -------------------------------------------------------------------------------------


@_sink_errors_pass_through
def decode_av(path: Path, sink: Sink) -> Decoded:
    """Decode the first audio stream of ``path`` with FFmpeg, frame by frame."""
    path = Path(path)
    name = display_label(path.name)
    try:
        container = av.open(str(path), metadata_errors="ignore",
                            options={"format_whitelist": ",".join(FFMPEG_FORMATS)})
    except _AV_ERRORS as exc:
        raise CorruptMedia(f"{name}: the audio cannot be opened ({reason(exc)}); a file cut before its "
                           f"index (e.g. an MP4 without its 'moov' box) cannot be read at all") from exc
    with container:
        if not container.streams.audio:
            raise UnsupportedMedia(f"{name}: the file holds no audio stream")
        stream = container.streams.audio[0]
        ctx = stream.codec_context
        state = _AvState(rate=int(ctx.sample_rate or 0), channels=int(ctx.channels or 0),
                         sample_format=ctx.format.name if ctx.format is not None else "")
        fmt = container.format.name
        mpeg = ctx.name in MPEG_AUDIO_CODECS
        try:
            problem = _decode_packets(container, stream, mpeg, state, sink, name)
        except _AV_ERRORS as exc:
            problem = (f"{name}: FFmpeg stops decoding the audio after {state.seconds:.3f} s ({reason(exc)})")
        if problem is None and state.n:
            problem = _truncation(container, stream, fmt, mpeg, state, path, name) or structure_problem(path, name)
    return Decoded(rate=state.rate, n_channels=state.channels, n_samples=state.n,
                   sample_format=state.sample_format, decoder="ffmpeg", problem=problem)


@dataclass
class _AvState:
    rate: int
    channels: int
    sample_format: str
    n: int = 0
    packets: int = 0
    last_mpeg: tuple[int, int | None] | None = None  # (bytes, expected frame bytes) of the last frame

    @property
    def seconds(self) -> float:
        return self.n / self.rate if self.rate else 0.0


def _decode_packets(container: Any, stream: Any, mpeg: bool, state: _AvState, sink: Sink, name: str) -> str | None:
    for packet in container.demux(stream):
        flush = packet.size == 0 and packet.pts is None and packet.dts is None
        if not flush:
            state.packets += 1
            if packet.is_corrupt:
                return (f"{name}: the audio is truncated or damaged: the packet at {state.seconds:.3f} s "
                        f"is incomplete (FFmpeg flags it corrupt)")
            if mpeg:
                head = bytes(packet)
                expected = mpeg_audio_frame_size(head[:4])
                if expected is None:
                    continue  # not an MPEG frame: tags or padding (as decode_audio skips them)
                state.last_mpeg = (len(head), expected)
        for frame in packet.decode():
            if frame.samples == 0:
                continue
            arr = audio_frame_to_float32(frame)
            if state.rate <= 0:
                state.rate = int(frame.sample_rate)
            if state.channels and arr.shape[1] != state.channels:
                return (f"{name}: the audio changes from {state.channels} to {arr.shape[1]} channels "
                        f"at {state.seconds:.3f} s")
            if frame.sample_rate and int(frame.sample_rate) != state.rate:
                return (f"{name}: the audio changes sample rate at {state.seconds:.3f} s "
                        f"({state.rate} -> {frame.sample_rate} Hz)")
            state.channels = arr.shape[1]
            sink(arr)
            state.n += len(arr)
    return None


def _truncation(container: Any, stream: Any, fmt: str, mpeg: bool, state: _AvState, path: Path,
                name: str) -> str | None:
    """Why a stream that decoded to its end is nevertheless shorter than its header says."""
    declared_packets = int(stream.frames or 0)
    if declared_packets > 0 and state.packets < declared_packets:
        return (f"{name}: the audio is truncated: the header declares {declared_packets} packets but only "
                f"{state.packets} are present ({state.seconds:.3f} s decode)")
    exact = any(p in _EXACT_DURATION for p in fmt.split(",")) or (mpeg and has_xing(path))
    declared = None
    if stream.duration is not None and stream.time_base is not None:
        declared = float(stream.duration * stream.time_base)
    elif container.duration is not None:
        declared = container.duration / 1_000_000
    if exact and declared is not None and declared - state.seconds > max(0.1, 0.01 * declared):
        return (f"{name}: the audio is truncated: its header declares {declared:.3f} s but only "
                f"{state.seconds:.3f} s decode")
    if state.last_mpeg is not None and state.last_mpeg[1] is not None and state.last_mpeg[0] < state.last_mpeg[1]:
        got, want = state.last_mpeg
        return (f"{name}: the MPEG audio is truncated: its last frame holds {got} of {want} bytes "
                f"(the file was cut at about {state.seconds:.3f} s)")
    return None


def structure_problem(path: Path, name: str) -> str | None:
    """The probe's container-structure check as a reason (None when it passes).

    This is how a cut Ogg file is recognised (no length is declared anywhere, but the last page
    must carry the end-of-stream flag), as well as WAV/AIFF data chunks and MP4 boxes or a
    Matroska segment that run past the end of the file.
    """
    try:
        with open(path, "rb") as fh:
            head = fh.read(4096)
        check_structure(path, name, sniff(head))
    except CorruptMedia as exc:
        return str(exc)
    except OSError:
        return None
    return None


# --- sample conversion --------------------------------------------------------------------------

_INT_SCALE = {np.dtype(np.int16): 32768.0, np.dtype(np.int32): 2147483648.0,
              np.dtype(np.int64): 9223372036854775808.0}


def audio_frame_to_float32(frame: Any) -> np.ndarray:
    """One decoded PyAV audio frame as float32 of shape (n_samples, n_channels).

    Handles packed (interleaved) and planar layouts of u8, s16, s32, s64, flt and dbl samples;
    integers are scaled so that full scale is 1.0 (u8 is offset binary, centred on 128).
    """
    n_channels = len(frame.layout.channels)
    arr = frame.to_ndarray()
    if frame.format.is_planar:
        arr = arr.T  # (channels, n) -> (n, channels)
    else:
        arr = arr.reshape(-1, n_channels)  # (1, n * channels) interleaved
    return _to_float32(arr)


def _to_float32(arr: np.ndarray) -> np.ndarray:
    if arr.dtype == np.float32:
        return np.ascontiguousarray(arr)
    if np.issubdtype(arr.dtype, np.floating):
        return np.ascontiguousarray(arr, dtype=np.float32)
    if arr.dtype == np.uint8:
        return ((arr.astype(np.float32) - 128.0) / 128.0).astype(np.float32)
    scale = _INT_SCALE.get(arr.dtype)
    if scale is None:
        raise CorruptMedia(f"unsupported audio sample type {arr.dtype}")
    return (arr.astype(np.float64) / scale).astype(np.float32)
