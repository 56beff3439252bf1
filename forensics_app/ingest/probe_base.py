"""What every prober shares: the result type, the limits and formats it accepts, and reasons.

:class:`ProbeResult` is what :func:`forensics_app.ingest.probe.probe` returns. The limits and
format lists here are the acceptance policy that the structure checks
(:mod:`~forensics_app.ingest.structure`), the probers (:mod:`~forensics_app.ingest.probe_image`,
:mod:`~forensics_app.ingest.probe_sndfile`, :mod:`~forensics_app.ingest.probe_av`) and the
decoders (:mod:`~forensics_app.ingest.decode`) all apply.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import av

from forensics_app.domain.errors import CorruptMedia
from forensics_app.domain.media import MediaKind

# --- limits -------------------------------------------------------------------------------------

MAX_IMAGE_PIXELS = 178_956_970
"""Largest image accepted (pixels per frame); Pillow's own default refusal threshold, checked
here before decoding so that the limit does not depend on Pillow's global setting."""
MAX_CHANNELS = 256
"""More audio channels than this is taken as a damaged header."""
MIN_SAMPLE_RATE = 1_000
MAX_SAMPLE_RATE = 768_000
"""Plausible audio sample rates (Hz); outside them the header is taken as damaged."""
AUDIO_BLOCK_FRAMES = 1 << 14
"""Frames per block when libsndfile decodes audio for checking."""

# --- formats ------------------------------------------------------------------------------------

# Pillow plugins tried, in this order (JPEG also opens MPO); any other image format is not accepted.
IMAGE_FORMATS = ("JPEG", "PNG", "TIFF", "WEBP", "GIF", "BMP", "AVIF")
# libsndfile containers decoded with libsndfile; any other (MP3, MAT5, VOC...) goes to FFmpeg.
SNDFILE_FORMATS = frozenset({"WAV", "WAVEX", "RF64", "W64", "AIFF", "FLAC", "OGG", "CAF", "AU", "NIST"})


def sndfile_reads(fmt: str, subtype: str) -> bool:
    """Whether libsndfile decodes this container/subtype, at probe and at decode alike.

    MPEG audio inside WAV is left to FFmpeg: libsndfile only estimates its length.
    """
    return fmt in SNDFILE_FORMATS and not subtype.startswith("MPEG_")


# FFmpeg demuxers allowed to open evidence (AVFormatContext.format_whitelist). Everything else,
# notably text (tty, subtitles), playlists (hls, concat: they open other files), image demuxers
# and raw data, is refused before the demuxer reads its header.
FFMPEG_FORMATS = (
    "mov", "mp4", "m4a", "3gp", "3g2", "mj2", "matroska", "webm", "avi", "asf", "flv", "mpeg",
    "mpegts", "mxf", "dv", "ivf", "nut", "rm", "ogg", "h264", "hevc", "mpegvideo", "m4v",
    "wav", "w64", "aiff", "caf", "au", "flac", "mp3", "aac", "ac3", "eac3", "dts", "amr", "amrnb",
    "amrwb", "wv", "ape", "tta", "mpc", "mpc8", "truehd", "mlp", "loas", "voc",
)
# FFmpeg's MPEG audio decoders: their packets are checked against the MPEG frame header.
MPEG_AUDIO_CODECS = frozenset({"mp1", "mp1float", "mp2", "mp2float", "mp3", "mp3float"})


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


# --- helpers ------------------------------------------------------------------------------------


def reason(exc: BaseException) -> str:
    """An exception as a short reason (FFmpeg's messages carry the file name; drop it)."""
    if isinstance(exc, av.FFmpegError) and exc.strerror:
        return str(exc.strerror)
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]


def check_audio_params(name: str, what: str, rate: int, channels: int) -> None:
    """Refuse implausible channel counts and sample rates (``what`` names the format)."""
    if channels < 1 or channels > MAX_CHANNELS:
        raise CorruptMedia(f"{name}: the {what} header declares {channels} channels (implausible; damaged header?)")
    if rate < MIN_SAMPLE_RATE or rate > MAX_SAMPLE_RATE:
        raise CorruptMedia(f"{name}: the {what} header declares a sample rate of {rate} Hz (implausible; damaged header?)")
