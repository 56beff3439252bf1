"""Container structure checks that need no decoder: declared sizes against the file.

:func:`sniff` names the format that a file's first bytes announce (used in messages and to pick
the checks); :func:`check_structure` then walks the container layout for that format: RIFF/WAVE
and AIFF data chunks, the last Ogg page, top-level ISO-BMFF (MP4/QuickTime, HEIF/AVIF) boxes and
the Matroska segment. The image probe walks PNG chunks (:func:`check_png`) and JPEG markers
(:func:`check_jpeg`); the FFmpeg probe reads MPEG audio frame headers
(:func:`mpeg_audio_frame_size`, :func:`has_xing`). Damage raises :class:`CorruptMedia`.
"""

from __future__ import annotations

import mmap
import re
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path

from forensics_app.domain.errors import CorruptMedia
from forensics_app.ingest.probe_base import check_audio_params

# --- file type ----------------------------------------------------------------------------------


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


def _mpeg_audio_sync(head: bytes) -> bool:
    """Two consecutive valid MPEG audio frame headers at the start (one alone is too weak)."""
    size = mpeg_audio_frame_size(head[:4])
    return size is not None and mpeg_audio_frame_size(head[size:size + 4]) is not None


# --- container structure ------------------------------------------------------------------------


def check_structure(path: Path, name: str, kind: str | None) -> None:
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


# --- RIFF/WAVE and AIFF -------------------------------------------------------------------------


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
            check_audio_params(name, "WAV", rate, channels)
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


# --- Ogg ----------------------------------------------------------------------------------------


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


# --- ISO-BMFF (MP4/QuickTime, HEIF/AVIF) --------------------------------------------------------


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


# --- Matroska/WebM ------------------------------------------------------------------------------


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


# --- MPEG audio (MP3) ---------------------------------------------------------------------------


def has_xing(path: Path) -> bool:
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


# --- PNG ----------------------------------------------------------------------------------------


def check_png(path: Path, name: str) -> int:
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


# --- JPEG ---------------------------------------------------------------------------------------

_JPEG_MARKER = re.compile(rb"\xff[^\x00\xd0-\xd7\xff]")
"""The next marker after entropy-coded data (0xFF00 is a stuffed byte, 0xFFD0-D7 restart markers)."""


def check_jpeg(path: Path, name: str) -> int:
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
