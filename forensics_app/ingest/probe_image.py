"""Still images: opened with Pillow's accepted plugins only and decoded frame by frame.

The pixel count is checked *before* decoding (decompression bombs) against
:data:`~forensics_app.ingest.probe_base.MAX_IMAGE_PIXELS`, without touching Pillow's global
limit; every frame is decoded; PNG chunk CRCs and the JPEG marker chain are walked by
:mod:`~forensics_app.ingest.structure`.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any

from PIL import Image, UnidentifiedImageError

from forensics_app.domain.errors import CorruptMedia, UnsupportedMedia
from forensics_app.domain.media import MediaKind
from forensics_app.ingest.probe_base import IMAGE_FORMATS, MAX_IMAGE_PIXELS, ProbeResult, reason
from forensics_app.ingest.structure import check_jpeg, check_png

_PIL_ERRORS: tuple[type[BaseException], ...] = (
    OSError, SyntaxError, ValueError, EOFError, IndexError, KeyError, TypeError, struct.error,
    ZeroDivisionError, OverflowError,
)


def probe_image(path: Path, name: str, kind: str | None) -> ProbeResult | None:
    """Probe ``path`` with Pillow; None when it is no image that Pillow or the sniffer knows."""
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
                f"{name}: the {what} is truncated or damaged: its header cannot be read ({reason(exc)})"
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
        raise CorruptMedia(f"{name}: the {fmt} image is truncated or damaged ({reason(exc)})") from exc
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
        meta["trailing_bytes"] = check_png(path, name)
    elif fmt in ("JPEG", "MPO"):
        meta["trailing_bytes"] = check_jpeg(path, name)
    return ProbeResult(MediaKind.IMAGE, meta)


_EXIF_TAGS = {"make": 0x010F, "model": 0x0110, "software": 0x0131, "datetime": 0x0132}
