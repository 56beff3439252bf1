"""A hand-built EXIF (APP1) block: IFD0, Exif IFD, GPS IFD and IFD1 with a JPEG thumbnail.

:func:`exif_block` lays out a little-endian TIFF structure byte by byte, because Pillow cannot
write IFD1 (the embedded thumbnail). The result, starting with ``Exif\\0\\0``, is what Pillow's
JPEG writer takes as ``exif=``.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence

__all__ = ["exif_block"]


def _ascii(value: str) -> bytes:
    return value.encode("ascii", "replace") + b"\x00"


# TIFF field types: (struct code, size in bytes)
_TYPES = {1: ("B", 1), 2: ("s", 1), 3: ("H", 2), 4: ("L", 4), 5: ("LL", 8), 7: ("s", 1)}


def _field_bytes(ftype: int, value: object) -> tuple[int, bytes]:
    """(count, little-endian value bytes) of one IFD entry."""
    if ftype in (2, 7):
        data = bytes(value)  # type: ignore[arg-type]
        return len(data), data
    if ftype == 5:  # RATIONAL: one (numerator, denominator) pair or a list of pairs
        pairs = value if isinstance(value, list) else [value]
        return len(pairs), b"".join(struct.pack("<LL", *p) for p in pairs)
    values = list(value) if isinstance(value, (list, tuple)) else [value]
    code = _TYPES[ftype][0]
    return len(values), b"".join(struct.pack("<" + code, int(v)) for v in values)


def _ifd_size(entries: Sequence[tuple[int, int, object]]) -> int:
    size = 2 + 12 * len(entries) + 4
    for _tag, ftype, value in entries:
        _count, data = _field_bytes(ftype, value)
        if len(data) > 4:
            size += len(data) + (len(data) & 1)
    return size


def _ifd_bytes(entries: Sequence[tuple[int, int, object]], *, offset: int, next_ifd: int) -> bytes:
    """An IFD at ``offset`` (from the TIFF header) with its out-of-line values after it."""
    entries = sorted(entries, key=lambda e: e[0])
    head = struct.pack("<H", len(entries))
    extra = b""
    data_at = offset + 2 + 12 * len(entries) + 4
    for tag, ftype, value in entries:
        count, data = _field_bytes(ftype, value)
        if len(data) <= 4:
            head += struct.pack("<HHL", tag, ftype, count) + data.ljust(4, b"\x00")
        else:
            head += struct.pack("<HHLL", tag, ftype, count, data_at + len(extra))
            extra += data + (b"\x00" if len(data) & 1 else b"")
    return head + struct.pack("<L", next_ifd) + extra


def _dms(value: float) -> list[tuple[int, int]]:
    value = abs(value)
    deg = int(value)
    minutes = int((value - deg) * 60)
    seconds = (value - deg - minutes / 60.0) * 3600.0
    return [(deg, 1), (minutes, 1), (int(round(seconds * 1000)), 1000)]


def exif_block(
    *, make: str, model: str, software: str | None, datetime_original: str, width: int, height: int,
    gps: tuple[float, float] | None, thumbnail: bytes | None,
) -> bytes:
    """``Exif\\0\\0`` + a little-endian TIFF structure: IFD0, Exif IFD, GPS IFD, IFD1 + thumbnail."""
    ifd0: list[tuple[int, int, object]] = [
        (0x010F, 2, _ascii(make)), (0x0110, 2, _ascii(model)), (0x0112, 3, 1),
        (0x011A, 5, (72, 1)), (0x011B, 5, (72, 1)), (0x0128, 3, 2),
        (0x0132, 2, _ascii(datetime_original)), (0x0213, 3, 1), (0x8769, 4, 0),
    ]
    if software:
        ifd0.append((0x0131, 2, _ascii(software)))
    if gps is not None:
        ifd0.append((0x8825, 4, 0))
    exif_ifd: list[tuple[int, int, object]] = [
        (0x829A, 5, (1, 125)), (0x829D, 5, (28, 10)), (0x8827, 3, 100), (0x9000, 7, b"0232"),
        (0x9003, 2, _ascii(datetime_original)), (0x9004, 2, _ascii(datetime_original)),
        (0x920A, 5, (50, 10)), (0xA001, 3, 1), (0xA002, 4, width), (0xA003, 4, height),
    ]
    gps_ifd: list[tuple[int, int, object]] = []
    if gps is not None:
        lat, lon = gps
        gps_ifd = [
            (0x0000, 1, (2, 3, 0, 0)), (0x0001, 2, b"N\x00" if lat >= 0 else b"S\x00"),
            (0x0002, 5, _dms(lat)), (0x0003, 2, b"E\x00" if lon >= 0 else b"W\x00"),
            (0x0004, 5, _dms(lon)),
        ]
    ifd1: list[tuple[int, int, object]] = []
    if thumbnail is not None:
        ifd1 = [(0x0103, 3, 6), (0x011A, 5, (72, 1)), (0x011B, 5, (72, 1)), (0x0128, 3, 2),
                (0x0201, 4, 0), (0x0202, 4, len(thumbnail))]
    # Layout: header | IFD0 | Exif IFD | GPS IFD | IFD1 | thumbnail. Pointer fields are LONGs, so
    # sizes do not depend on their values: lay out first, then fill the pointers in.
    off0 = 8
    off_exif = off0 + _ifd_size(ifd0)
    off_gps = off_exif + _ifd_size(exif_ifd)
    off_ifd1 = off_gps + (_ifd_size(gps_ifd) if gps_ifd else 0)
    off_thumb = off_ifd1 + (_ifd_size(ifd1) if ifd1 else 0)

    def setv(entries: list[tuple[int, int, object]], tag: int, value: object) -> None:
        for k, (t, ftype, _v) in enumerate(entries):
            if t == tag:
                entries[k] = (t, ftype, value)

    setv(ifd0, 0x8769, off_exif)
    setv(ifd0, 0x8825, off_gps)
    setv(ifd1, 0x0201, off_thumb)
    tiff = b"II*\x00" + struct.pack("<L", off0)
    tiff += _ifd_bytes(ifd0, offset=off0, next_ifd=off_ifd1 if ifd1 else 0)
    tiff += _ifd_bytes(exif_ifd, offset=off_exif, next_ifd=0)
    if gps_ifd:
        tiff += _ifd_bytes(gps_ifd, offset=off_gps, next_ifd=0)
    if ifd1:
        tiff += _ifd_bytes(ifd1, offset=off_ifd1, next_ifd=0)
        assert len(tiff) == off_thumb
        tiff += thumbnail  # type: ignore[operator]
    return b"Exif\x00\x00" + tiff
