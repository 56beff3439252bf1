"""Identify an evidence file's media kind and metadata, and refuse what cannot be read.

Probing looks at content, never at the file name: a WAV named ``.jpg`` is audio. The decoders
read the file through a nameless file object, so neither FFmpeg nor libsndfile can fall back on
the extension (the name is used only in messages). FFmpeg may only use the demuxers listed in
``FFMPEG_FORMATS`` (text, subtitle, playlist and image demuxers never open evidence) and Pillow
only the plugins in ``IMAGE_FORMATS``. A file is accepted only if it decodes from start to end:

* structure first, without a decoder: WAV/AIFF data chunks, MP4/HEIF boxes and the Matroska
  segment must fit in the file, an MP4 needs its 'moov' index, an Ogg stream must end with a
  complete end-of-stream page;
* images: the pixel count checked *before* decoding (decompression bombs), every frame decoded,
  PNG chunk CRCs and IEND checked, the JPEG marker chain walked to its EOI;
* audio: decoded in fixed-size blocks (memory stays bounded) and the decoded length compared
  with what the header declares (FLAC STREAMINFO, MP3 Xing/Info header, MP4 sample tables);
  an MPEG audio stream must not end in a partial frame; implausible channel counts or sample
  rates are refused;
* video: every packet demuxed but only the first video and audio frames and the last keyframe
  decoded; packet counts and end times compared with what the header declares.

Truncated or damaged files raise :class:`CorruptMedia`, everything else that is not audio, video
or a still image raises :class:`UnsupportedMedia`; each message names the file (control
characters escaped) and the reason. Nothing here changes global state (Pillow's limits
included), so probing is safe from worker threads.
"""

from __future__ import annotations

import io
import math
import mmap
import os
import re
import stat
import struct
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import av
import numpy as np
import soundfile as sf
from PIL import Image, UnidentifiedImageError

from forensics_app.domain.errors import CorruptMedia, UnsupportedMedia
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
def _nameless(path: Path) -> Iterator[_Nameless]:
    with open(path, "rb") as fh:
        yield _Nameless(fh)


def _label(name: str) -> str:
    """The file name for a message: invisible characters escaped, the rest as is.

    Newlines cannot forge extra lines in logs and a right-to-left override (U+202E) cannot
    disguise an extension: they appear as ``\\n`` and ``\\u202e``.
    """
    if name.isprintable():
        return name
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in name)


def _num(value: Any) -> float | None:
    if value is None:
        return None
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def _reason(exc: BaseException) -> str:
    """An exception as a short reason (FFmpeg's messages carry the file name; drop it)."""
    if isinstance(exc, av.FFmpegError) and exc.strerror:
        return str(exc.strerror)
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]


_AV_ERRORS: tuple[type[BaseException], ...] = (
    av.FFmpegError, OSError, EOFError, ValueError, AttributeError, TypeError, IndexError,
    ZeroDivisionError, OverflowError, UnicodeDecodeError,
)
_PIL_ERRORS: tuple[type[BaseException], ...] = (
    OSError, SyntaxError, ValueError, EOFError, IndexError, KeyError, TypeError, struct.error,
    ZeroDivisionError, OverflowError,
)


def sniff(head: bytes) -> str | None:
    """Name the format that the first bytes of a file announce (for messages), or None."""
    if len(head) >= 12 and head[:4] in (b"RIFF", b"RF64", b"BW64"):
        kind = head[8:12]
        return {b"WAVE": "WAV audio", b"AVI ": "AVI video", b"WEBP": "WebP image"}.get(kind, "RIFF data")
    if len(head) >= 12 and head[:4] == b"FORM" and head[8:12] in (b"AIFF", b"AIFC"):
        return "AIFF audio"
    if head[:4] == b"fLaC":
        return "FLAC audio"
    if head[:4] == b"OggS":
        return "Ogg media"
    if head[:3] == b"ID3" or _mpeg_audio_sync(head):
        return "MPEG audio (MP3)"
    if len(head) >= 12 and head[4:8] == b"ftyp" and head[8:12] in _AVIF_BRANDS:
        return "AVIF image"
    if len(head) >= 12 and head[4:8] == b"ftyp" and head[8:12] in _HEIF_BRANDS:
        return "HEIF image"
    if len(head) >= 8 and head[4:8] in (b"ftyp", b"moov", b"mdat", b"wide", b"free", b"skip"):
        return "MP4/QuickTime media"
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return "Matroska/WebM media"
    if head[:16] == b"\x30\x26\xb2\x75\x8e\x66\xcf\x11\xa6\xd9\x00\xaa\x00\x62\xce\x6c":
        return "ASF (WMA/WMV) media"
    if head[:3] == b"FLV":
        return "FLV video"
    if head[:4] == b"\x00\x00\x01\xba":
        return "MPEG program stream"
    if len(head) >= 377 and head[0] == head[188] == head[376] == 0x47:
        return "MPEG transport stream"
    if head[:4] == b"caff":
        return "CAF audio"
    if head[:3] == b"\xff\xd8\xff":
        return "JPEG image"
    if head[:8] == b"\x89PNG\r\n\x1a\n":
        return "PNG image"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "GIF image"
    if head[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
        return "TIFF image"
    if head[:2] == b"BM" and len(head) >= 26:
        return "BMP image"
    return None


_AVIF_BRANDS = {b"avif", b"avis"}
_HEIF_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1"}
_FORMAT_LABELS = {"mov": "MP4/QuickTime", "matroska": "Matroska/WebM", "mp3": "MP3", "ogg": "Ogg", "avi": "AVI",
                  "asf": "ASF (WMA/WMV)", "flv": "FLV", "mpegts": "MPEG-TS", "mpeg": "MPEG-PS", "wav": "WAV",
                  "flac": "FLAC", "aac": "AAC (ADTS)", "aiff": "AIFF", "caf": "CAF"}


def _pretty(fmt: str) -> str:
    """FFmpeg's demuxer name ("mov,mp4,m4a,3gp,3g2,mj2") as a label for messages."""
    first = fmt.split(",")[0]
    return _FORMAT_LABELS.get(first, first)


def _mpeg_audio_sync(head: bytes) -> bool:
    """Two consecutive valid MPEG audio frame headers at the start (one alone is too weak)."""
    size = mpeg_audio_frame_size(head[:4])
    return size is not None and mpeg_audio_frame_size(head[size:size + 4]) is not None


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


# --- entry point --------------------------------------------------------------------------------


def probe(path: Path, *, display_name: str | None = None) -> ProbeResult:
    """Probe a file and check that it decodes end to end.

    Parameters
    ----------
    path : Path
        File to examine (opened read-only, never changed).
    display_name : str, optional
        Name used in error messages (the original file name when probing a copy).

    Returns
    -------
    ProbeResult
        Kind and JSON-serialisable metadata.

    Raises
    ------
    CorruptMedia
        Empty, truncated or damaged media, or a header with implausible values.
    UnsupportedMedia
        Not a regular file, or not audio, video or a still image the workstation reads.
    """
    path = Path(path)
    name = _label(display_name or path.name)
    try:
        st = path.stat()
    except OSError as exc:
        raise UnsupportedMedia(f"{name}: cannot be read ({exc.strerror or exc})") from exc
    if stat.S_ISDIR(st.st_mode):
        raise UnsupportedMedia(f"{name}: is a folder, not a file")
    if not stat.S_ISREG(st.st_mode):
        raise UnsupportedMedia(f"{name}: not a regular file")
    if st.st_size == 0:
        raise CorruptMedia(f"{name}: the file is empty (0 bytes)")
    try:
        with open(path, "rb") as fh:
            head = fh.read(4096)
    except OSError as exc:
        raise CorruptMedia(f"{name}: cannot be read ({exc.strerror or exc})") from exc
    kind = sniff(head)
    try:
        _check_structure(path, name, kind)
        image = _probe_image(path, name, kind)
        if image is not None:
            return image
        audio = _probe_soundfile(path, name, kind)
        if audio is not None:
            return audio
        return _probe_av(path, name, kind)
    except MemoryError as exc:
        raise UnsupportedMedia(f"{name}: too large to examine in the available memory") from exc
    except OSError as exc:  # a read failing under a structure check (I/O error, file shrinking)
        raise CorruptMedia(f"{name}: cannot be read ({exc.strerror or exc})") from exc


# --- container structure ------------------------------------------------------------------------


def _check_structure(path: Path, name: str, kind: str | None) -> None:
    """Checks of the container layout that need no decoder (declared sizes against the file)."""
    if kind == "WAV audio":
        _check_wav_header(path, name)
        missing = _wav_data_shortfall(path)
        if missing:
            raise CorruptMedia(
                f"{name}: the WAV audio is truncated: its data chunk declares {missing} more bytes than the file holds"
            )
    elif kind == "AIFF audio":
        missing = _aiff_data_shortfall(path)
        if missing:
            raise CorruptMedia(
                f"{name}: the AIFF audio is truncated: its sound data chunk declares {missing} more bytes "
                f"than the file holds"
            )
    elif kind == "Ogg media":
        _check_ogg_end(path, name)
    elif kind == "MP4/QuickTime media":
        _check_iso_boxes(path, name)
    elif kind in ("AVIF image", "HEIF image"):
        _check_iso_boxes(path, name, index=b"meta")
    elif kind == "Matroska/WebM media":
        _check_matroska_segment(path, name)


# --- images -------------------------------------------------------------------------------------


def _probe_image(path: Path, name: str, kind: str | None) -> ProbeResult | None:
    with open(path, "rb") as fh:
        try:
            img = Image.open(fh, formats=IMAGE_FORMATS)
        except UnidentifiedImageError:
            if kind == "HEIF image":
                raise UnsupportedMedia(
                    f"{name}: HEIF/HEIC images are not supported by this workstation (no decoder installed)"
                ) from None
            if kind is not None and kind.endswith("image"):
                raise CorruptMedia(f"{name}: looks like a {kind} but its header cannot be read") from None
            return None
        except Image.DecompressionBombError as exc:
            raise UnsupportedMedia(
                f"{name}: the image is too large to examine safely (possible decompression bomb; {exc})"
            ) from exc
        except _PIL_ERRORS as exc:
            what = kind if kind is not None and kind.endswith("image") else "image"
            raise CorruptMedia(
                f"{name}: the {what} is truncated or damaged: its header cannot be read ({_reason(exc)})"
            ) from exc
        with img:
            return _check_image(img, path, name)


def _check_image(img: Image.Image, path: Path, name: str) -> ProbeResult:
    fmt = img.format or "image"
    width, height = img.size
    if width <= 0 or height <= 0:
        raise CorruptMedia(f"{name}: the {fmt} image has no pixels ({width}x{height})")
    if width * height > MAX_IMAGE_PIXELS:
        raise UnsupportedMedia(
            f"{name}: the {fmt} image is too large: it declares {width}x{height} pixels, more than the "
            f"{MAX_IMAGE_PIXELS:,} that can be examined safely (possible decompression bomb)"
        )
    mode = img.mode
    try:
        n_frames = int(getattr(img, "n_frames", 1))
        for index in range(n_frames):
            if index:
                img.seek(index)
                if img.size[0] * img.size[1] > MAX_IMAGE_PIXELS:
                    raise UnsupportedMedia(f"{name}: frame {index} of the {fmt} image is too large")
            img.load()
        if n_frames > 1:
            img.seek(0)
        exif = img.getexif()
        info = dict(img.info)
    except (UnsupportedMedia, CorruptMedia):
        raise
    except _PIL_ERRORS as exc:
        raise CorruptMedia(f"{name}: the {fmt} image is truncated or damaged ({_reason(exc)})") from exc
    meta: dict[str, Any] = {
        "container": fmt,
        "width": width,
        "height": height,
        "mode": mode,
        "frames": n_frames,
        "exif": len(exif) > 0,
        "xmp": bool(info.get("xmp") or info.get("XML:com.adobe.xmp")),
        "icc_profile": bool(info.get("icc_profile")),
    }
    tags = {k: str(exif[t]).strip("\x00 ")[:200] for k, t in _EXIF_TAGS.items() if t in exif}
    if tags:
        meta["exif_tags"] = tags
    if fmt == "PNG":
        meta["trailing_bytes"] = _check_png(path, name)
    elif fmt in ("JPEG", "MPO"):
        meta["trailing_bytes"] = _check_jpeg(path, name)
    return ProbeResult(MediaKind.IMAGE, meta)


_EXIF_TAGS = {"make": 0x010F, "model": 0x0110, "software": 0x0131, "datetime": 0x0132}


def _check_png(path: Path, name: str) -> int:
    """Walk the PNG chunks: every CRC must match and IEND must be present.

    Returns
    -------
    int
        Bytes after IEND (appended data).
    """
    size = path.stat().st_size
    with open(path, "rb") as fh:
        fh.seek(8)
        pos, index = 8, 0
        while True:
            hdr = fh.read(8)
            if len(hdr) < 8:
                raise CorruptMedia(f"{name}: the PNG image is truncated (it ends before its IEND chunk)")
            length, ctype = struct.unpack(">I4s", hdr)
            label = ctype.decode("latin-1")
            if length > 0x7FFFFFFF:
                raise CorruptMedia(f"{name}: the PNG image is damaged (chunk {label!r} has length {length})")
            if pos + 12 + length > size:
                raise CorruptMedia(
                    f"{name}: the PNG image is truncated (chunk {label!r} needs {pos + 12 + length - size} "
                    f"more bytes than the file holds)"
                )
            crc = zlib.crc32(ctype)
            left = length
            while left:
                piece = fh.read(min(left, 1 << 20))
                crc = zlib.crc32(piece, crc)
                left -= len(piece)
            (stored,) = struct.unpack(">I", fh.read(4))
            if stored != crc & 0xFFFFFFFF:
                raise CorruptMedia(
                    f"{name}: the PNG image is damaged (CRC mismatch in chunk {index} {label!r} at byte {pos})"
                )
            pos += 12 + length
            index += 1
            if ctype == b"IEND":
                return size - pos


_JPEG_MARKER = re.compile(rb"\xff[^\x00\xd0-\xd7\xff]")
"""The next marker after entropy-coded data (0xFF00 is a stuffed byte, 0xFFD0-D7 restart markers)."""


def _check_jpeg(path: Path, name: str) -> int:
    """Walk the JPEG markers of the primary image up to its EOI; returns the bytes after it.

    Segments are skipped by their declared lengths (so an embedded EXIF thumbnail is not
    mistaken for the image), scans by searching for the next marker. Data after the EOI (a
    second MPO picture, a "motion photo" video, anything appended) is allowed and counted.
    """
    with open(path, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as data:
        size = len(data)
        pos = 2  # after SOI
        while True:
            if pos + 2 > size:
                raise CorruptMedia(f"{name}: the JPEG image is truncated (it ends before its end-of-image marker)")
            if data[pos] != 0xFF:
                raise CorruptMedia(f"{name}: the JPEG image is damaged (no marker at byte {pos})")
            while pos + 2 < size and data[pos + 1] == 0xFF:
                pos += 1  # fill bytes
            marker = data[pos + 1]
            if marker == 0xD9:
                return size - (pos + 2)
            if marker == 0x01 or 0xD0 <= marker <= 0xD7:
                pos += 2
                continue
            if pos + 4 > size:
                raise CorruptMedia(f"{name}: the JPEG image is truncated (inside a marker at byte {pos})")
            length = int.from_bytes(data[pos + 2:pos + 4], "big")
            end = pos + 2 + length
            if length < 2 or end > size:
                raise CorruptMedia(
                    f"{name}: the JPEG image is truncated or damaged (segment 0xFF{marker:02X} at byte {pos} "
                    f"declares {length} bytes)"
                )
            if marker != 0xDA:
                pos = end
                continue
            found = _JPEG_MARKER.search(data, end)
            if found is None:
                raise CorruptMedia(f"{name}: the JPEG image is truncated (its scan data has no end)")
            pos = found.start()


# --- audio with libsndfile ----------------------------------------------------------------------


def _check_audio_params(name: str, what: str, rate: int, channels: int) -> None:
    if channels < 1 or channels > MAX_CHANNELS:
        raise CorruptMedia(f"{name}: the {what} header declares {channels} channels (implausible; damaged header?)")
    if rate < MIN_SAMPLE_RATE or rate > MAX_SAMPLE_RATE:
        raise CorruptMedia(f"{name}: the {what} header declares a sample rate of {rate} Hz (implausible; damaged header?)")


def _probe_soundfile(path: Path, name: str, kind: str | None) -> ProbeResult | None:
    with _nameless(path) as raw:
        try:
            snd = sf.SoundFile(raw)
        except (sf.LibsndfileError, RuntimeError, TypeError, ValueError):
            return None
        with snd:
            fmt, subtype = snd.format, snd.subtype
            if not sndfile_reads(fmt, subtype):
                return None
            rate, channels, declared = int(snd.samplerate), int(snd.channels), int(snd.frames)
            _check_audio_params(name, fmt, rate, channels)
            if declared <= 0:
                raise CorruptMedia(f"{name}: the {fmt} audio holds no samples")
            counted = 0
            peak = 0.0
            buf = np.empty((AUDIO_BLOCK_FRAMES, channels), dtype=np.float32)
            try:
                while True:
                    n = snd.buffer_read_into(buf, dtype="float32")
                    if n <= 0:
                        break
                    block = buf[:n]
                    block_peak = float(np.max(np.abs(block)))
                    if not math.isfinite(block_peak):
                        first = counted + int(np.flatnonzero(~np.isfinite(block).all(axis=1))[0])
                        raise CorruptMedia(
                            f"{name}: the {fmt} audio holds non-finite sample values (NaN/inf), "
                            f"the first at {first / rate:.4f} s (sample {first})"
                        )
                    peak = max(peak, block_peak)
                    counted += n
                    if n < AUDIO_BLOCK_FRAMES:
                        break
            except (sf.LibsndfileError, RuntimeError) as exc:
                raise CorruptMedia(
                    f"{name}: the {fmt} audio is truncated or damaged: decoding fails between "
                    f"{counted / rate:.3f} s and {(counted + AUDIO_BLOCK_FRAMES) / rate:.3f} s ({_reason(exc)})"
                ) from exc
    if counted == 0:
        raise CorruptMedia(f"{name}: the {fmt} audio decodes to no samples")
    if counted < declared:
        raise CorruptMedia(
            f"{name}: the {fmt} audio is truncated: its header declares {declared} samples "
            f"({declared / rate:.3f} s) but only {counted} ({counted / rate:.3f} s) decode"
        )
    return ProbeResult(
        MediaKind.AUDIO,
        {
            "container": fmt,
            "codec": subtype,
            "sample_rate": rate,
            "channels": channels,
            "duration_s": counted / rate,
            "samples": counted,
            "peak": round(peak, 6),
            "decoder": "libsndfile",
        },
    )


def _riff_chunks(path: Path) -> Iterator[tuple[bytes, int, int]]:
    """(id, payload offset, declared payload length) of the top-level RIFF/WAVE chunks."""
    size = path.stat().st_size
    with open(path, "rb") as fh:
        head = fh.read(12)
        if head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            return
        pos = 12
        while pos + 8 <= size:
            fh.seek(pos)
            cid, clen = struct.unpack("<4sI", fh.read(8))
            yield cid, pos + 8, clen
            pos += 8 + clen + (clen & 1)


def _wav_data_shortfall(path: Path) -> int:
    """Bytes missing from a RIFF/WAVE data chunk (0 when complete, streamed or not RIFF)."""
    size = path.stat().st_size
    for cid, offset, clen in _riff_chunks(path):
        if cid == b"data":
            if clen in (0, 0xFFFFFFFF):
                return 0  # written by a streaming recorder that never patched the header
            return max(0, offset + clen - size)
    return 0


def _check_wav_header(path: Path, name: str) -> None:
    """Refuse a RIFF/WAVE 'fmt ' chunk with implausible values before any decoder sees it."""
    with open(path, "rb") as fh:
        if fh.read(4) != b"RIFF":
            return  # RF64/BW64: left to the decoders
    for cid, offset, clen in _riff_chunks(path):
        if cid == b"fmt ":
            if clen < 16:
                raise CorruptMedia(f"{name}: the WAV 'fmt ' chunk is damaged ({clen} bytes)")
            with open(path, "rb") as fh:
                fh.seek(offset)
                raw = fh.read(16)
            if len(raw) < 16:
                raise CorruptMedia(f"{name}: the WAV audio is truncated inside its 'fmt ' chunk")
            _tag, channels, rate, _bps, _align, _bits = struct.unpack("<HHIIHH", raw)
            _check_audio_params(name, "WAV", rate, channels)
            return
        if cid == b"data":
            break
    raise CorruptMedia(f"{name}: the WAV audio has no 'fmt ' chunk before its data")


def _aiff_data_shortfall(path: Path) -> int:
    """Bytes missing from an AIFF/AIFC SSND chunk (0 when complete)."""
    size = path.stat().st_size
    with open(path, "rb") as fh:
        head = fh.read(12)
        if head[:4] != b"FORM":
            return 0
        pos = 12
        while pos + 8 <= size:
            fh.seek(pos)
            cid, clen = struct.unpack(">4sI", fh.read(8))
            if cid == b"SSND":
                return max(0, pos + 8 + clen - size)
            pos += 8 + clen + (clen & 1)
    return 0


def _check_ogg_end(path: Path, name: str) -> None:
    """The file must end exactly with a complete Ogg page that carries the end-of-stream flag.

    Candidates are tried from the end of the file; only a page header whose declared length ends
    at the end of the file counts (an "OggS" inside a page's payload does not).
    """
    size = path.stat().st_size
    with open(path, "rb") as fh:
        fh.seek(max(0, size - (1 << 17)))  # a page is at most 65,307 bytes
        tail = fh.read()
    pos = tail.rfind(b"OggS")
    while pos >= 0:
        if len(tail) - pos >= 27 and tail[pos + 4] == 0:
            nseg = tail[pos + 26]
            lacing = tail[pos + 27:pos + 27 + nseg]
            if len(lacing) == nseg and pos + 27 + nseg + sum(lacing) == len(tail):
                if not tail[pos + 5] & 0x04:
                    raise CorruptMedia(
                        f"{name}: the Ogg stream is truncated (its last page is not an end-of-stream page)"
                    )
                return
        pos = tail.rfind(b"OggS", 0, pos)
    raise CorruptMedia(f"{name}: the Ogg stream is truncated (its last page is incomplete)")


# --- FFmpeg -------------------------------------------------------------------------------------


def _probe_av(path: Path, name: str, kind: str | None) -> ProbeResult:
    with _nameless(path) as raw:
        try:
            container = av.open(raw, mode="r", metadata_errors="ignore",
                                options={"format_whitelist": ",".join(FFMPEG_FORMATS)})
        except av.error.ArgumentError as exc:
            # Either the format is not on the whitelist or its header holds invalid values.
            if kind is not None:
                raise CorruptMedia(f"{name}: looks like {kind} but cannot be opened ({_reason(exc)})") from exc
            raise UnsupportedMedia(
                f"{name}: in a format the workstation does not accept as audio, video or a still image"
            ) from exc
        except _AV_ERRORS as exc:
            raise _corrupt_or_unsupported(name, kind, _reason(exc)) from exc
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
                raise CorruptMedia(f"{name}: the {_pretty(fmt)} media cannot be read ({_reason(exc)})") from exc


def _check_iso_boxes(path: Path, name: str, *, index: bytes = b"moov") -> None:
    """Top-level ISO-BMFF boxes must fit in the file, and the index box must exist ('moov' for
    MP4/QuickTime, 'meta' for HEIF/AVIF images).

    Bytes after the last box that do not start with a box type (four printable characters) are
    taken as appended data, not as a damaged box.
    """
    what = "MP4/QuickTime file" if index == b"moov" else "HEIF/AVIF image"
    size = path.stat().st_size
    seen: list[bytes] = []
    with open(path, "rb") as fh:
        pos = 0
        while pos + 8 <= size:
            fh.seek(pos)
            box_size, box_type = struct.unpack(">I4s", fh.read(8))
            if seen and not all(32 <= b < 127 for b in box_type):
                break
            header = 8
            if box_size == 1:
                ext = fh.read(8)
                if len(ext) < 8:
                    break
                (box_size,) = struct.unpack(">Q", ext)
                header = 16
            elif box_size == 0:
                box_size = size - pos  # extends to the end of the file
            label = box_type.decode("latin-1")
            if box_size < header:
                raise CorruptMedia(f"{name}: the {what} is damaged (box {label!r} at byte {pos} has size {box_size})")
            if pos + box_size > size:
                raise CorruptMedia(
                    f"{name}: the {what} is truncated: box {label!r} at byte {pos} declares "
                    f"{box_size} bytes but only {size - pos} remain"
                )
            seen.append(box_type)
            pos += box_size
    if index not in seen and not (index == b"moov" and b"moof" in seen):
        raise CorruptMedia(f"{name}: the {what} has no {index.decode()!r} index (truncated or damaged)")


def _ebml_vint(data: bytes, pos: int, *, keep_marker: bool) -> tuple[int, int]:
    first = data[pos]
    length = 9 - first.bit_length() if first else 9
    if length > 8 or pos + length > len(data):
        raise ValueError("bad EBML variable-length integer")
    value = first if keep_marker else first & ((1 << (8 - length)) - 1)
    for b in data[pos + 1:pos + length]:
        value = (value << 8) | b
    return value, pos + length


def _check_matroska_segment(path: Path, name: str) -> None:
    """The Matroska Segment element (when its size is known) must fit in the file."""
    size = path.stat().st_size
    with open(path, "rb") as fh:
        head = fh.read(4096)
    try:
        _, pos = _ebml_vint(head, 0, keep_marker=True)  # EBML header id
        hsize, pos = _ebml_vint(head, pos, keep_marker=False)
        pos += hsize
        seg_id, pos = _ebml_vint(head, pos, keep_marker=True)
        marker = pos
        seg_size, pos = _ebml_vint(head, pos, keep_marker=False)
    except (ValueError, IndexError):
        return  # FFmpeg judges the header
    if seg_id != 0x18538067:
        return
    if seg_size == (1 << (7 * (pos - marker))) - 1:
        return  # unknown size (live recording)
    if pos + seg_size > size:
        raise CorruptMedia(
            f"{name}: the Matroska/WebM file is truncated: its segment declares {pos + seg_size} bytes "
            f"but the file holds {size}"
        )


def _seconds(stream: Any, ts: int | None) -> float | None:
    if ts is None or stream.time_base is None:
        return None
    return float(ts * stream.time_base)


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
        raise CorruptMedia(f"{name}: the {_pretty(fmt)} file cannot be read to its end ({_reason(exc)})") from exc
    return tallies


def _require_first_frame(tally: _StreamTally, name: str, what: str) -> Any:
    if tally.first_frame is None:
        detail = _reason(tally.decode_error) if tally.decode_error is not None else "no frame produced"
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
        raise CorruptMedia(f"{name}: the last keyframe ({t:.3f} s) does not decode ({_reason(exc)})") from exc
    raise CorruptMedia(f"{name}: the last keyframe does not decode (no frame produced)")


def _has_xing(path: Path) -> bool:
    """Whether an MPEG audio file starts with a Xing/Info/VBRI header (an exact length)."""
    with open(path, "rb") as fh:
        head = fh.read(1 << 16)
    start = 0
    if head[:3] == b"ID3" and len(head) >= 10:
        tag = head[6:10]
        start = 10 + ((tag[0] & 0x7F) << 21 | (tag[1] & 0x7F) << 14 | (tag[2] & 0x7F) << 7 | (tag[3] & 0x7F))
        if start >= len(head):
            with open(path, "rb") as fh:
                fh.seek(start)
                head = fh.read(1 << 12)
            start = 0
    while start + 1 < len(head) and not (head[start] == 0xFF and head[start + 1] & 0xE0 == 0xE0):
        start += 1
    window = head[start:start + 200]
    return any(tag in window for tag in (b"Xing", b"Info", b"VBRI"))


_MPEG_BITRATES = {  # kbit/s by (version is MPEG-1, layer) and index
    (True, 1): (0, 32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448),
    (True, 2): (0, 32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384),
    (True, 3): (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320),
    (False, 1): (0, 32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256),
    (False, 2): (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
    (False, 3): (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
}
_MPEG_RATES = {3: (44100, 48000, 32000), 2: (22050, 24000, 16000), 0: (11025, 12000, 8000)}


def mpeg_audio_frame_size(header: bytes) -> int | None:
    """Bytes in the MPEG audio frame that starts with ``header`` (None if not a valid header)."""
    if len(header) < 4 or header[0] != 0xFF or header[1] & 0xE0 != 0xE0:
        return None
    version = (header[1] >> 3) & 3
    layer = 4 - ((header[1] >> 1) & 3)
    br_index, sr_index, padding = header[2] >> 4, (header[2] >> 2) & 3, (header[2] >> 1) & 1
    if version == 1 or layer == 4 or br_index in (0, 15) or sr_index == 3:
        return None
    mpeg1 = version == 3
    bitrate = _MPEG_BITRATES[(mpeg1, layer)][br_index] * 1000
    rate = _MPEG_RATES[version][sr_index]
    if layer == 1:
        return (12 * bitrate // rate + padding) * 4
    if layer == 3 and not mpeg1:
        return 72 * bitrate // rate + padding
    return 144 * bitrate // rate + padding


def _check_audio_av(container: Any, stream: Any, name: str, fmt: str, path: Path) -> ProbeResult:
    ctx = stream.codec_context
    rate = int(ctx.sample_rate or 0)
    channels = int(ctx.channels or 0)
    _check_audio_params(name, _pretty(fmt), rate, channels)
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
            f"{name}: the {_pretty(fmt)} audio stops decoding after {samples / rate:.3f} s ({_reason(exc)})"
        ) from exc
    if samples == 0:
        raise CorruptMedia(f"{name}: the {_pretty(fmt)} audio stream decodes to no samples")
    actual = samples / rate
    declared_packets = int(stream.frames or 0)
    if declared_packets > 0 and packets < declared_packets:
        raise CorruptMedia(
            f"{name}: the {_pretty(fmt)} audio is truncated: it declares {declared_packets} packets but only {packets} are present"
        )
    exact = any(p in _EXACT_DURATION for p in fmt.split(",")) or (mpeg_audio and _has_xing(path))
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
