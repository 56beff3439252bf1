"""Image metadata: EXIF (IFD0, Exif, GPS, Interop, IFD1), XMP, ICC, JPEG tables, EXIF thumbnail.

The stored evidence file is re-read with Pillow (the decoded pixels come from the runner). What
the metadata says is reported as descriptive findings; two statements carry a FakeLikelihood:

* **EXIF thumbnail does not match the image** (0.75): cameras write a small preview of the
  picture into IFD1. Editors that keep the camera's EXIF often keep its thumbnail too, so a
  thumbnail that shows something else than the image means the pixels changed after the camera
  wrote it. The main image is reduced to the thumbnail's size (area average, RGB levels 0-255),
  a gain and offset per channel is fitted (thumbnails may be tone-mapped differently), and the
  residual is measured as a PSNR and as the mean absolute difference in each cell of a grid.
  One changed cell is enough: local edits barely move a global PSNR. The changed cells give the
  finding's region, in main-image pixels.
* **Generative-AI marker in metadata** (0.9): the metadata itself declares machine generation
  (IPTC DigitalSourceType ``trainedAlgorithmicMedia`` and kin, a known generator named as the
  creating software, or the generation-parameter text chunks some generators write).

Metadata is easy to strip or forge: its absence proves nothing and its presence is only what
the file claims about itself.
"""

from __future__ import annotations

import bisect
import html
import io
import math
import re
from collections.abc import Mapping
from typing import Any

import numpy as np
from PIL import ExifTags, Image, JpegImagePlugin, TiffImagePlugin
from scipy import ndimage

from forensics_app.analysis.registry import Param, analyzer
from forensics_app.domain.errors import AnalyzerError
from forensics_app.domain.jobs import Progress
from forensics_app.domain.media import MediaKind, StillImage
from forensics_app.domain.results import AnalysisResult, Finding, Region

THUMBNAIL_MISMATCH_LIKELIHOOD = 0.75
AI_MARKER_LIKELIHOOD = 0.9
_MAX_BYTES_SHOWN = 64  # byte values longer than this are replaced by their length
_MAX_LIST = 256  # longer value lists (TIFF strip offsets, ...) are replaced by their length
_XMP_PARSE_CHARS = 2_000_000  # fields are looked for in this much of a packet
_XMP_VALUE_CHARS = 4096  # longest field value read
_XMP_MAX_VALUES = 100  # most values kept for a repeated field (edit history)
_BLUR = 1.0  # Gaussian sigma (thumbnail pixels) applied to both sides of the thumbnail comparison

PARAMS = [
    Param("thumb_psnr_db", 24.0, "Least PSNR (after gain/offset fit) of a matching EXIF thumbnail (dB)",
          0.0, 100.0),
    Param("thumb_cell_diff", 15.0, "Largest mean absolute difference of any grid cell of a matching "
          "thumbnail (RGB levels 0-255)", 0.0, 255.0),
    Param("thumb_grid", 16, "Grid cells per side for the local thumbnail comparison", 1, 64),
    Param("max_xmp_chars", 65536, "Longest raw XMP packet kept in the details (characters)", 0, 10_000_000),
]

# IJG / JPEG Annex K tables in natural (row-major) order.
_STD_LUMA = np.array([
    16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55,
    14, 13, 16, 24, 40, 57, 69, 56, 14, 17, 22, 29, 51, 87, 80, 62,
    18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92,
    49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99], dtype=np.float64)
_STD_CHROMA = np.full(64, 99.0)
_STD_CHROMA[[0, 1, 2, 3, 8, 9, 10, 11, 16, 17, 18, 24, 25]] = [17, 18, 24, 47, 18, 21, 26, 66, 24, 26, 56,
                                                                  47, 66]

_EDITORS = ("photoshop", "lightroom", "gimp", "affinity", "pixelmator", "paint.net", "paintshop", "corel",
            "snapseed", "picsart", "facetune", "canva", "photopea", "imagemagick", "graphicsmagick",
            "luminar", "capture one", "darktable", "rawtherapee", "acdsee", "fotor", "meitu", "photoscape",
            "krita", "picasa", "photodirector", "airbrush", "remini", "faceapp", "adobe")
_GENERATORS = ("firefly", "midjourney", "dall-e", "dall·e", "dalle", "stable diffusion", "stablediffusion",
               "novelai", "comfyui", "automatic1111", "invokeai", "imagen", "leonardo.ai", "craiyon",
               "ideogram", "bing image creator", "dreamstudio", "nightcafe", "runway")
_AI_SOURCE_TYPES = ("trainedalgorithmicmedia", "compositewithtrainedalgorithmicmedia", "algorithmicmedia",
                    "compositesynthetic")
_AI_TEXT_KEYS = {"parameters", "prompt", "workflow", "dream", "sd-metadata", "invokeai_metadata",
                 "negative_prompt", "generation_data"}
_XMP_FIELDS = ("xmp:CreatorTool", "xmp:CreateDate", "xmp:ModifyDate", "xmp:MetadataDate",
               "photoshop:DateCreated", "xmpMM:DocumentID", "xmpMM:OriginalDocumentID", "xmpMM:InstanceID",
               "Iptc4xmpExt:DigitalSourceType", "stEvt:softwareAgent", "stEvt:action", "dc:creator",
               "tiff:Make", "tiff:Model", "tiff:Software", "exif:DateTimeOriginal", "photoshop:History")


# ------------------------------------------------------------------------------------ values


def _value(v: Any) -> Any:
    """A JSON-safe form of an EXIF/TIFF value (bytes: text, hex, or their length when long)."""
    if isinstance(v, TiffImagePlugin.IFDRational):
        return float(v) if v.denominator else None
    if isinstance(v, bytes):
        stripped = v.rstrip(b"\x00")
        if stripped and all(32 <= c < 127 for c in stripped) and len(stripped) <= 4 * _MAX_BYTES_SHOWN:
            return stripped.decode("ascii")
        if len(v) <= _MAX_BYTES_SHOWN:
            return v.hex()
        return f"<{len(v)} bytes>"
    if isinstance(v, str):
        return v.replace("\x00", "").strip()
    if isinstance(v, (tuple, list)):
        if len(v) > _MAX_LIST:
            return f"<{len(v)} values>"
        return [_value(x) for x in v]
    if isinstance(v, dict):
        return {str(k): _value(x) for k, x in v.items()}
    if isinstance(v, bool) or v is None:
        return v
    if isinstance(v, int):
        return v
    if isinstance(v, float):
        return v if math.isfinite(v) else None
    return str(v)


def _user_comment(v: bytes) -> str:
    """EXIF UserComment: an 8-byte character-code header, then the text."""
    code, text = v[:8].rstrip(b"\x00 ").upper(), v[8:]
    encoding = {b"ASCII": "ascii", b"UNICODE": "utf-16", b"JIS": "shift_jis"}.get(code, "latin-1")
    return text.decode(encoding, "replace").replace("\x00", "").strip()


def _named(ifd: Mapping[int, Any], names: Mapping[int, str]) -> dict[str, Any]:
    """Tag ids to names (``0xABCD`` when unknown); sub-IFD pointers are left out."""
    out: dict[str, Any] = {}
    for tag, v in sorted(ifd.items()):
        if tag in (ExifTags.IFD.Exif, ExifTags.IFD.GPSInfo, ExifTags.IFD.Interop) and not isinstance(v, dict):
            continue
        if tag == ExifTags.Base.UserComment and isinstance(v, bytes) and len(v) >= 8:
            v = _user_comment(v)[:4096]
        out[names.get(tag, f"0x{tag:04X}")] = _value(v)
    return out


def _gps_degrees(gps: Mapping[str, Any]) -> tuple[float, float] | None:
    """(latitude, longitude) in decimal degrees from a named GPS IFD, if complete."""
    try:
        def deg(dms: Any, ref: str) -> float:
            d, m, s = (float(x) for x in dms)
            value = d + m / 60.0 + s / 3600.0
            return -value if str(ref).upper().startswith(("S", "W")) else value

        lat = deg(gps["GPSLatitude"], gps.get("GPSLatitudeRef", "N"))
        lon = deg(gps["GPSLongitude"], gps.get("GPSLongitudeRef", "E"))
    except (KeyError, TypeError, ValueError):
        return None
    if not (math.isfinite(lat) and math.isfinite(lon)):
        return None
    return lat, lon


# ------------------------------------------------------------------------------------ XMP


def xmp_fields(packet: str) -> dict[str, Any]:
    """Key fields of an XMP packet, found by name in attribute or element form.

    Parameters
    ----------
    packet : str
        The raw XMP packet.

    Returns
    -------
    dict
        ``{"xmp:CreatorTool": "...", ...}``; a field that occurs several times (edit history)
        maps to a list. No XML parser is run on the untrusted packet.
    """
    packet = packet[:_XMP_PARSE_CHARS]
    out: dict[str, Any] = {}
    for name in _XMP_FIELDS:
        q = re.escape(name)
        # Bounded patterns only: a hostile packet must not make the regex engine backtrack for long.
        values = [m.group(1) for m in re.finditer(rf'\b{q}\s*=\s*"([^"<>]{{0,{_XMP_VALUE_CHARS}}})"', packet)]
        values += [m.group(1) for m in re.finditer(rf"\b{q}\s*=\s*'([^'<>]{{0,{_XMP_VALUE_CHARS}}})'", packet)]
        opens = [m.end() for m in re.finditer(rf"<{q}\b[^<>]*>", packet) if packet[m.end() - 2] != "/"]
        closes = [m.start() for m in re.finditer(rf"</{q}\s*>", packet)]
        for start in opens:
            k = bisect.bisect_left(closes, start)
            if k < len(closes):
                text = re.sub(r"<[^<>]*>", " ", packet[start:min(closes[k], start + _XMP_VALUE_CHARS)])
                values.append(" ".join(text.split()))
        values = [html.unescape(v).strip() for v in values if v.strip()]
        if values:
            out[name] = values[0] if len(values) == 1 else values[:_XMP_MAX_VALUES]
    return out


# ------------------------------------------------------------------------------------ JPEG


def _ijg_table(base: np.ndarray, quality: int) -> np.ndarray:
    scale = 5000.0 / quality if quality < 50 else 200.0 - 2.0 * quality
    return np.clip(np.floor((base * scale + 50.0) / 100.0), 1, 255)


def estimate_jpeg_quality(tables: Mapping[int, Any]) -> dict[str, Any]:
    """Closest IJG quality (1-100) to a JPEG's quantisation tables.

    Parameters
    ----------
    tables : mapping
        Pillow's ``Image.quantization``: table id to 64 values in natural order.

    Returns
    -------
    dict
        ``estimated_quality``, ``mean_abs_deviation`` (per coefficient, against the scaled
        standard tables) and ``standard_tables`` (True when they are exactly IJG tables).
    """
    if not tables:
        return {"estimated_quality": None, "mean_abs_deviation": None, "standard_tables": False}
    luma = np.asarray(tables.get(0, next(iter(tables.values()))), dtype=np.float64)[:64]
    chroma = np.asarray(tables[1], dtype=np.float64)[:64] if 1 in tables else None
    best_q, best_err = 0, math.inf
    for q in range(1, 101):
        err = float(np.abs(luma - _ijg_table(_STD_LUMA, q)).sum())
        if chroma is not None:
            err += float(np.abs(chroma - _ijg_table(_STD_CHROMA, q)).sum())
        if err < best_err:
            best_q, best_err = q, err
    n = 64 * (2 if chroma is not None else 1)
    return {"estimated_quality": best_q, "mean_abs_deviation": best_err / n, "standard_tables": best_err == 0.0,
            "tables": {str(k): [int(x) for x in v] for k, v in tables.items()}}


def _app_segments(img: Image.Image) -> list[dict[str, Any]]:
    out = []
    for marker, data in getattr(img, "applist", []):
        ident = data.split(b"\x00", 1)[0][:40]
        text = ident.decode("latin-1") if all(32 <= c < 127 for c in ident) else ident.hex()
        out.append({"marker": marker, "identifier": text, "bytes": len(data)})
    return out


# ------------------------------------------------------------------------------------ thumbnail


def _resize_rgb(rgb: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Area-average resize of an (H, W, 3) array to ``size`` = (width, height); float64 out."""
    channels = [Image.fromarray(np.ascontiguousarray(rgb[..., c], dtype=np.float32)) for c in range(3)]
    return np.stack([np.asarray(ch.resize(size, Image.Resampling.BOX), dtype=np.float64) for ch in channels],
                    axis=-1)


def compare_thumbnail(main_rgb: np.ndarray, thumb_rgb: np.ndarray, *, grid: int = 16) -> dict[str, Any]:
    """Compare an embedded thumbnail with the main image, in colour.

    Parameters
    ----------
    main_rgb : np.ndarray
        Main image, shape (H, W, 3), uint8.
    thumb_rgb : np.ndarray
        Thumbnail, shape (h, w, 3), uint8. Letterbox bars (thumbnail aspect differing from the
        image's) are cropped away; the image turned by 90 degrees either way is also tried.
    grid : int
        Cells per side of the local comparison.

    Returns
    -------
    dict
        ``psnr_db`` (after a least-squares gain/offset fit per colour channel, levels 0-255),
        ``psnr_raw_db`` (no fit), ``correlation`` (Pearson, all channels), ``max_cell_diff``
        (largest per-cell mean absolute residual over the three channels, levels 0-255),
        ``cell_diffs`` (grid x grid, row-major from the top left), ``gain`` and ``offset`` (per
        channel), ``rotation_deg`` and ``box`` (x, y, w, h of the compared part of the
        thumbnail, in thumbnail pixels).
    """
    thumb = thumb_rgb.astype(np.float64)
    th, tw = thumb.shape[:2]
    best: dict[str, Any] | None = None
    for k in (0, 1, 3):
        main = np.rot90(main_rgb, k, axes=(0, 1)) if k else main_rgb
        mh, mw = main.shape[:2]
        if k and abs(math.log((mw / mh) / (tw / th))) > 0.05:
            continue
        # Content box of the thumbnail (letterboxed when the aspects differ).
        if mw / mh >= tw / th:
            bw, bh = tw, max(1, min(th, round(tw * mh / mw)))
        else:
            bw, bh = max(1, min(tw, round(th * mw / mh))), th
        bx, by = (tw - bw) // 2, (th - bh) // 2
        # A light blur of both sides discounts resampling-filter and JPEG differences.
        t = ndimage.gaussian_filter(thumb[by:by + bh, bx:bx + bw], sigma=(_BLUR, _BLUR, 0))
        m = ndimage.gaussian_filter(_resize_rgb(main, (bw, bh)), sigma=(_BLUR, _BLUR, 0))
        resid = np.empty_like(t)
        gains, offsets = [], []
        for c in range(3):
            a = np.vstack([m[..., c].ravel(), np.ones(bw * bh)]).T
            (gain, offset), *_ = np.linalg.lstsq(a, t[..., c].ravel(), rcond=None)
            resid[..., c] = t[..., c] - (gain * m[..., c] + offset)
            gains.append(float(gain))
            offsets.append(float(offset))
        mse = float(np.mean(resid ** 2))
        mse_raw = float(np.mean((t - m) ** 2))
        sm, st = float(m.std()), float(t.std())
        corr = float(np.mean((m - m.mean()) * (t - t.mean())) / (sm * st)) if sm > 0 and st > 0 else 0.0
        g = max(1, min(grid, bw, bh))
        ys = np.linspace(0, bh, g + 1).astype(int)
        xs = np.linspace(0, bw, g + 1).astype(int)
        absr = np.abs(resid).mean(axis=-1)
        cells = np.array([[float(absr[ys[i]:ys[i + 1], xs[j]:xs[j + 1]].mean()) for j in range(g)]
                          for i in range(g)])
        result = {
            "psnr_db": 10.0 * math.log10(255.0 ** 2 / mse) if mse > 0 else 100.0,
            "psnr_raw_db": 10.0 * math.log10(255.0 ** 2 / mse_raw) if mse_raw > 0 else 100.0,
            "correlation": corr, "gain": gains, "offset": offsets,
            "max_cell_diff": float(cells.max()), "cell_diffs": cells.round(2).tolist(),
            "rotation_deg": 90 * k, "box": [bx, by, bw, bh], "_edges": (xs, ys),
        }
        if best is None or result["psnr_db"] > best["psnr_db"]:
            best = result
    assert best is not None
    return best


def _changed_region(cmp: dict[str, Any], threshold: float, main_shape: tuple[int, int]) -> Region | None:
    """Bounding box (main-image pixels) of the grid cells whose difference exceeds ``threshold``."""
    cells = np.asarray(cmp["cell_diffs"])
    hot = np.argwhere(cells > threshold)
    if hot.size == 0 or cmp["rotation_deg"]:
        return None
    xs, ys = cmp["_edges"]
    bx, by, bw, bh = cmp["box"]
    height, width = main_shape
    (i0, j0), (i1, j1) = hot.min(axis=0), hot.max(axis=0)
    x0, x1 = xs[j0] * width // bw, xs[j1 + 1] * width // bw
    y0, y1 = ys[i0] * height // bh, ys[i1 + 1] * height // bh
    return Region(int(x0), int(y0), int(x1 - x0), int(y1 - y0))


def _thumbnail(raw_exif: bytes | None, ifd1: Mapping[int, Any]) -> tuple[bytes | None, str, bool]:
    """(IFD1 JPEG thumbnail bytes or None, why not, whether IFD1 declares a JPEG thumbnail)."""
    if not ifd1:
        return None, "no IFD1", False
    off, length = ifd1.get(0x0201), ifd1.get(0x0202)
    if off is None or length is None:
        return None, "IFD1 holds no JPEG thumbnail (JPEGInterchangeFormat)", False
    if raw_exif is None:
        return None, "EXIF block not available as raw bytes", False
    tiff = re.sub(b"^(Exif\x00\x00){1,2}", b"", raw_exif)
    try:
        off, length = int(off), int(length)
    except (TypeError, ValueError):
        return None, f"thumbnail pointer is not a number ({off!r}, {length!r})", True
    if off <= 0 or length <= 0 or off + length > len(tiff):
        return None, f"thumbnail pointer out of range (offset {off}, length {length}, EXIF {len(tiff)} bytes)", True
    return tiff[off:off + length], "", True


# ------------------------------------------------------------------------------------ analyzer


def _get_ifd(exif: Image.Exif, tag: int) -> dict[int, Any]:
    """A sub-IFD, empty when absent or unreadable (Pillow raises KeyError for a missing Interop IFD)."""
    try:
        return dict(exif.get_ifd(tag))
    except Exception:  # noqa: BLE001 - damaged EXIF must not stop the rest of the report
        return {}


def _read(path: Any, max_xmp: int) -> dict[str, Any]:
    """Everything Pillow can tell about the stored file (JSON-safe, plus the raw thumbnail)."""
    with Image.open(path) as img:
        info: dict[str, Any] = {"format": img.format, "mode": img.mode, "width": img.width,
                                "height": img.height, "frames": int(getattr(img, "n_frames", 1))}
        exif = img.getexif()
        ifd0 = _named(exif, ExifTags.TAGS)
        exif_ifd = _named(_get_ifd(exif, ExifTags.IFD.Exif), ExifTags.TAGS)
        gps = _named(_get_ifd(exif, ExifTags.IFD.GPSInfo), ExifTags.GPSTAGS)
        interop = _named(_get_ifd(exif, ExifTags.IFD.Interop), ExifTags.TAGS)
        ifd1_raw = _get_ifd(exif, ExifTags.IFD.IFD1)
        info["exif"] = {k: v for k, v in (("ifd0", ifd0), ("exif", exif_ifd), ("gps", gps),
                                          ("interop", interop), ("ifd1", _named(ifd1_raw, ExifTags.TAGS)))
                        if v}
        raw = img.info.get("exif")
        info["_thumbnail"] = _thumbnail(raw if isinstance(raw, bytes) else None, ifd1_raw)
        xmp = img.info.get("xmp") or img.info.get("XML:com.adobe.xmp")
        if xmp is None and hasattr(img, "tag_v2"):
            xmp = img.tag_v2.get(700)
        if isinstance(xmp, bytes):
            xmp = xmp.decode("utf-8", "replace")
        if xmp:
            xmp = str(xmp).replace("\x00", "")
            info["xmp"] = {"fields": xmp_fields(xmp), "raw": xmp[:max_xmp], "chars": len(xmp),
                           "truncated": len(xmp) > max_xmp}
        icc = img.info.get("icc_profile")
        if icc:
            info["icc_profile"] = {"bytes": len(icc), "description": _icc_description(icc)}
        text = getattr(img, "text", None) if img.format == "PNG" else None
        if text:
            info["text_chunks"] = {str(k): _value(v)[:max(max_xmp, 1)] for k, v in text.items()}
        comment = img.info.get("comment")
        if comment:
            info["comment"] = _value(comment if isinstance(comment, (bytes, str)) else str(comment))
        if img.format == "JPEG":
            info["jpeg"] = {
                "quantization": estimate_jpeg_quality(getattr(img, "quantization", {}) or {}),
                "subsampling": {0: "4:4:4", 1: "4:2:2", 2: "4:2:0"}.get(JpegImagePlugin.get_sampling(img),
                                                                        "unknown"),
                "progressive": bool(img.info.get("progressive") or img.info.get("progression")),
                "jfif": "jfif" in img.info, "adobe": "adobe" in img.info,
                "app_segments": _app_segments(img),
            }
    return info


def _icc_description(icc: bytes) -> str | None:
    try:
        from PIL import ImageCms

        return ImageCms.getProfileDescription(ImageCms.ImageCmsProfile(io.BytesIO(icc))).strip() or None
    except Exception:  # noqa: BLE001 - a damaged profile is reported as present, undescribed
        return None


def _software_fields(info: Mapping[str, Any]) -> dict[str, str]:
    exif = info.get("exif", {})
    xmp = info.get("xmp", {}).get("fields", {})
    out: dict[str, str] = {}
    for label, value in (("EXIF Software", exif.get("ifd0", {}).get("Software")),
                         ("EXIF ProcessingSoftware", exif.get("ifd0", {}).get("ProcessingSoftware")),
                         ("XMP CreatorTool", xmp.get("xmp:CreatorTool")),
                         ("XMP softwareAgent", xmp.get("stEvt:softwareAgent"))):
        if isinstance(value, list):
            value = "; ".join(str(v) for v in value)
        if value:
            out[label] = str(value)
    return out


def _ai_markers(info: Mapping[str, Any], software: Mapping[str, str]) -> list[dict[str, str]]:
    markers = []
    source = info.get("xmp", {}).get("fields", {}).get("Iptc4xmpExt:DigitalSourceType")
    for value in source if isinstance(source, list) else [source] if source else []:
        if any(s in value.lower().replace("/", " ").split()[-1] for s in _AI_SOURCE_TYPES):
            markers.append({"field": "XMP Iptc4xmpExt:DigitalSourceType", "value": value})
    for field, value in software.items():
        hits = [g for g in _GENERATORS if g in value.lower()]
        if hits:
            markers.append({"field": field, "value": value, "generator": hits[0]})
    for key, value in info.get("text_chunks", {}).items():
        if key.lower() in _AI_TEXT_KEYS:
            markers.append({"field": f"PNG text '{key}'", "value": str(value)[:500]})
    return markers


@analyzer(id="image.metadata", version="1.0.0", media=[MediaKind.IMAGE], label="Image metadata", params=PARAMS)
def image_metadata(media: StillImage, *, params: Mapping[str, Any], progress: Progress) -> AnalysisResult:
    """EXIF, XMP, ICC, JPEG tables and the EXIF-thumbnail consistency of a still image.

    Parameters
    ----------
    media : StillImage
        Decoded pixels (H, W, 3) uint8 and the stored file, which is re-read for metadata.
    params : mapping
        See :data:`PARAMS`.
    progress : Progress
        Reported between the reading, thumbnail and reporting steps.

    Returns
    -------
    AnalysisResult
        Scored findings first (thumbnail mismatch, AI markers), then "Image metadata" with every
        field read, then descriptive findings (thumbnail matches, software, dates, GPS, C2PA,
        no metadata).
    """
    progress.check()
    progress.report(0.05, "reading metadata")
    try:
        info = _read(media.path, int(params["max_xmp_chars"]))
    except (OSError, SyntaxError, ValueError) as exc:
        raise AnalyzerError(f"image.metadata: {media.path.name} cannot be re-read ({exc})") from exc
    thumb_bytes, thumb_reason, thumb_declared = info.pop("_thumbnail")
    progress.check()
    progress.report(0.4, "comparing the EXIF thumbnail")
    scored: list[Finding] = []
    descriptive: list[Finding] = []

    psnr_thr = float(params["thumb_psnr_db"])
    cell_thr = float(params["thumb_cell_diff"])
    if thumb_bytes is not None:
        try:
            with Image.open(io.BytesIO(thumb_bytes)) as t:
                thumb = np.asarray(t.convert("RGB"), dtype=np.uint8)
        except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
            info["thumbnail"] = {"present": True, "bytes": len(thumb_bytes), "decodes": False}
            descriptive.append(Finding(label="EXIF thumbnail unreadable",
                                       details={"bytes": len(thumb_bytes), "reason": f"does not decode: {exc}"}))
        else:
            cmp = compare_thumbnail(media.pixels, thumb, grid=int(params["thumb_grid"]))
            matches = cmp["psnr_db"] >= psnr_thr and cmp["max_cell_diff"] <= cell_thr
            region = None if matches else _changed_region(cmp, cell_thr, (media.height, media.width))
            public = {k: v for k, v in cmp.items() if not k.startswith("_")}
            details = {"thumbnail_width": int(thumb.shape[1]), "thumbnail_height": int(thumb.shape[0]),
                       "bytes": len(thumb_bytes), "matches": matches, **public,
                       "thresholds": {"psnr_db": psnr_thr, "cell_diff": cell_thr}}
            info["thumbnail"] = {"present": True, **{k: v for k, v in details.items() if k != "cell_diffs"}}
            if matches:
                descriptive.append(Finding(label="EXIF thumbnail matches the image", details=details))
            else:
                scored.append(Finding(label="EXIF thumbnail does not match the image",
                                      fake_likelihood=THUMBNAIL_MISMATCH_LIKELIHOOD, region=region, details=details))
    else:
        info["thumbnail"] = {"present": False, "reason": thumb_reason}
        if thumb_declared:  # IFD1 points at a thumbnail that is not there: the EXIF was rewritten carelessly
            descriptive.append(Finding(label="EXIF thumbnail unreadable", details={"reason": thumb_reason}))
    progress.check()
    progress.report(0.8, "interpreting fields")

    software = _software_fields(info)
    markers = _ai_markers(info, software)
    if markers:
        scored.append(Finding(label="Generative-AI marker in metadata", fake_likelihood=AI_MARKER_LIKELIHOOD,
                              details={"markers": markers}))
    if software:
        editors = sorted({e for v in software.values() for e in _EDITORS if e in v.lower()})
        label = "Editing software named in metadata" if editors else "Software named in metadata"
        descriptive.append(Finding(label=label, details={"fields": software, "known_editors": editors}))

    ifd0 = info.get("exif", {}).get("ifd0", {})
    exif_ifd = info.get("exif", {}).get("exif", {})
    original, modified = exif_ifd.get("DateTimeOriginal"), ifd0.get("DateTime")
    if original and modified and str(original) != str(modified):
        descriptive.append(Finding(label="Modification date differs from capture date",
                                   details={"DateTimeOriginal": original, "DateTime": modified}))
    gps = _gps_degrees(info.get("exif", {}).get("gps", {}))
    if gps is not None:
        descriptive.append(Finding(label="GPS position in metadata",
                                   details={"latitude": gps[0], "longitude": gps[1],
                                            "gps": info["exif"]["gps"]}))
    segments = info.get("jpeg", {}).get("app_segments", [])
    c2pa = [s for s in segments if s["marker"] == "APP11"]
    if c2pa:
        descriptive.append(Finding(label="JUMBF / C2PA content credentials present",
                                   details={"segments": c2pa,
                                            "note": "content credentials are not verified by this analyzer"}))
    has_any = bool(info.get("exif") or info.get("xmp") or info.get("icc_profile") or info.get("text_chunks")
                   or info.get("comment"))
    if not has_any:
        descriptive.append(Finding(label="No metadata", details={
            "format": info["format"],
            "note": "no EXIF, XMP, ICC profile, text or comment: typical of images re-saved by web services, "
                    "screenshots, converters and generators; absence proves nothing by itself"}))

    quality = info.get("jpeg", {}).get("quantization", {})
    summary_details = {k: v for k, v in info.items()}
    overview = Finding(label="Image metadata", details=summary_details)
    progress.report(1.0, "done")
    summary = {
        "format": info["format"], "width": info["width"], "height": info["height"],
        "exif": bool(info.get("exif")), "xmp": "xmp" in info, "icc_profile": "icc_profile" in info,
        "thumbnail": info["thumbnail"].get("present", False), "thumbnail_matches": info["thumbnail"].get("matches"),
        "make": ifd0.get("Make"), "model": ifd0.get("Model"), "software": software or None,
        "jpeg_quality": quality.get("estimated_quality"), "ai_markers": len(markers),
    }
    return AnalysisResult(findings=tuple(scored + [overview] + descriptive), summary=summary)
