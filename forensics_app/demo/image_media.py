"""Seeded still images: a camera-like scene as JPEG (EXIF, XMP, ICC, planted edits) or PNG.

Images are written with Pillow; the same arguments give the same pixels, and file bytes are
reproducible for a given build of libjpeg/zlib. The EXIF block of :func:`exif_jpeg` comes from
:mod:`forensics_app.demo.exif_writer`. Planted edits: a copy-move region and an EXIF thumbnail
that no longer matches its image.
"""

from __future__ import annotations

import html
import io
import struct
from collections.abc import Mapping
from pathlib import Path

import numpy as np
from PIL import Image, PngImagePlugin

from forensics_app.demo.exif_writer import exif_block
from forensics_app.domain.errors import ForensicsError

__all__ = ["exif_jpeg", "png_image", "synthetic_scene"]


def synthetic_scene(*, width: int = 640, height: int = 480, seed: int = 0) -> np.ndarray:
    """A camera-like RGB scene: sky and ground gradients, a few objects and sensor noise.

    A red disc of radius ``0.12 * height`` is centred at ``(0.62 * width, 0.55 * height)``;
    :func:`exif_jpeg` paints it out when asked for an edited image.

    Returns
    -------
    np.ndarray
        Shape (height, width, 3), uint8 RGB.
    """
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float64)
    v = yy / max(height - 1, 1)
    horizon = 0.45 * height
    sky = np.stack([90 + 80 * v, 140 + 70 * v, 230 - 30 * v], axis=-1)
    ground = np.stack([70 + 40 * v, 120 - 30 * v, 50 + 10 * v], axis=-1)
    img = np.where((yy < horizon)[..., None], sky, ground)
    # grass texture: coarse random blobs
    coarse = rng.normal(0.0, 12.0, size=(height // 8 + 1, width // 8 + 1))
    blobs = np.kron(coarse, np.ones((8, 8)))[:height, :width]
    img += np.where(yy >= horizon, blobs, 0.0)[..., None]
    # a grey building, a dark tree trunk, a yellow sun
    bx0, bx1, by0 = int(0.08 * width), int(0.30 * width), int(0.25 * height)
    img[by0:int(0.75 * height), bx0:bx1] = (150, 150, 155)
    for wy in range(by0 + 10, int(0.7 * height) - 10, 24):
        for wx in range(bx0 + 8, bx1 - 16, 22):
            img[wy:wy + 12, wx:wx + 10] = (40, 50, 80)
    img[int(0.3 * height):int(0.8 * height), int(0.84 * width):int(0.88 * width)] = (80, 50, 30)
    sun = (xx - 0.8 * width) ** 2 + (yy - 0.15 * height) ** 2 < (0.07 * height) ** 2
    img[sun] = (255, 230, 90)
    disc = (xx - 0.62 * width) ** 2 + (yy - 0.55 * height) ** 2 < (0.12 * height) ** 2
    img[disc] = (200, 30, 40)
    img += rng.normal(0.0, 3.0, size=img.shape)
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)



def _xmp_packet(*, creator_tool: str | None, digital_source_type: str | None, create_date: str) -> bytes:
    attrs = [f'xmp:CreateDate="{html.escape(create_date)}"']
    if creator_tool:
        attrs.append(f'xmp:CreatorTool="{html.escape(creator_tool)}"')
    if digital_source_type:
        attrs.append(f'Iptc4xmpExt:DigitalSourceType="{html.escape(digital_source_type)}"')
    body = (
        '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>\n'
        '<x:xmpmeta xmlns:x="adobe:ns:meta/">\n'
        ' <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">\n'
        '  <rdf:Description rdf:about="" xmlns:xmp="http://ns.adobe.com/xap/1.0/"\n'
        '    xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/"\n'
        f'    {" ".join(attrs)}/>\n'
        " </rdf:RDF>\n</x:xmpmeta>\n"
        '<?xpacket end="w"?>'
    )
    return body.encode("utf-8")


def _copy_move(pixels: np.ndarray, region: tuple[int, int, int, int],
               source: tuple[int, int] | None = None) -> np.ndarray:
    """Copy a block from ``source`` (x, y) onto ``region`` (x, y, width, height); return a new array.

    Without ``source``, the block half the image width or height away (left, right, down or up)
    whose content differs most from the destination is copied, so the edit changes the picture.
    """
    x, y, w, h = (int(v) for v in region)
    height, width = pixels.shape[:2]
    if w <= 0 or h <= 0 or x < 0 or y < 0 or x + w > width or y + h > height:
        raise ForensicsError(f"pasted_region {region} does not fit a {width}x{height} image")
    dst = pixels[y:y + h, x:x + w].astype(np.int16)
    if source is not None:
        candidates = [(int(source[0]), int(source[1]))]
    else:
        candidates = [(x + dx, y + dy) for dx, dy in ((width // 2, 0), (-(width // 2), 0), (0, height // 2),
                                                      (0, -(height // 2)))]
    best: tuple[float, int, int] | None = None
    for sx, sy in candidates:
        inside = 0 <= sx and sx + w <= width and 0 <= sy and sy + h <= height
        disjoint = abs(sx - x) >= w or abs(sy - y) >= h
        if inside and disjoint:
            change = float(np.abs(pixels[sy:sy + h, sx:sx + w].astype(np.int16) - dst).mean())
            if best is None or change > best[0]:
                best = (change, sx, sy)
    if best is None:
        where = f"from {source}" if source is not None else "from elsewhere"
        raise ForensicsError(f"pasted_region {region} cannot be copied {where} in a {width}x{height} image "
                             "(the source must lie inside the image and not overlap the destination)")
    _change, sx, sy = best
    out = pixels.copy()
    out[y:y + h, x:x + w] = pixels[sy:sy + h, sx:sx + w]
    return out


def _paint_out_disc(pixels: np.ndarray, *, seed: int) -> np.ndarray:
    """Cover the scene's red disc with grass-like fill (an object removal)."""
    height, width = pixels.shape[:2]
    r = int(0.14 * height)
    cx, cy = int(0.62 * width), int(0.55 * height)
    x0, x1, y0, y1 = max(cx - r, 0), min(cx + r, width), max(cy - r, 0), min(cy + r, height)
    rng = np.random.default_rng(seed + 1)
    fill = np.array([85.0, 105.0, 55.0]) + rng.normal(0.0, 6.0, size=(y1 - y0, x1 - x0, 3))
    out = pixels.copy()
    out[y0:y1, x0:x1] = np.clip(np.rint(fill), 0, 255).astype(np.uint8)
    return out


def exif_jpeg(
    path: Path | str,
    *,
    width: int = 640,
    height: int = 480,
    with_thumbnail: bool = True,
    thumbnail_matches: bool = True,
    software: str | None = None,
    pasted_region: tuple[int, int, int, int] | None = None,
    paste_source: tuple[int, int] | None = None,
    make: str = "DemoCam",
    model: str = "DC-1",
    datetime_original: str = "2024:05:17 10:42:07",
    gps: tuple[float, float] | None = None,
    creator_tool: str | None = None,
    digital_source_type: str | None = None,
    icc_profile: bool = False,
    quality: int = 90,
    seed: int = 0,
) -> Path:
    """Write a camera-like JPEG with EXIF (and optionally an embedded EXIF thumbnail, XMP, ICC).

    The EXIF block holds IFD0 (Make, Model, DateTime, Software if given), the Exif IFD
    (DateTimeOriginal, exposure, pixel dimensions), a GPS IFD when ``gps`` is given and, with
    ``with_thumbnail``, IFD1 with a JPEG thumbnail of at most 160x160 pixels (aspect kept).

    Edits, in the order a forger would make them:

    * ``pasted_region`` = (x, y, width, height): a copy-move edit; the block is copied from
      ``paste_source`` or, by default, from the same-sized block half the image width or height
      away (left, right, down or up) whose content differs most from what it covers.
    * ``thumbnail_matches=False``: the main image is edited *after* the thumbnail was made, as
      when an editor keeps the camera's EXIF. The edit is the copy-move above if one is given,
      otherwise the red disc of :func:`synthetic_scene` is painted out. With
      ``thumbnail_matches=True`` the thumbnail is made from the final (possibly edited) image.

    Parameters
    ----------
    path : Path
        Output ``.jpg``.
    width, height : int
        Image size in pixels.
    with_thumbnail : bool
        Embed an EXIF thumbnail (IFD1, JPEGInterchangeFormat).
    thumbnail_matches : bool
        Whether the thumbnail shows the final image.
    software : str, optional
        EXIF Software tag (e.g. ``"Adobe Photoshop 25.0 (Windows)"``).
    pasted_region : tuple of int, optional
        Copy-move destination (x, y, width, height) in pixels.
    paste_source : tuple of int, optional
        Top-left corner (x, y) in pixels of the copied block (must not overlap the destination).
    make, model : str
        EXIF Make and Model.
    datetime_original : str
        EXIF DateTimeOriginal / DateTime, ``"YYYY:MM:DD HH:MM:SS"``.
    gps : tuple of float, optional
        (latitude, longitude) in decimal degrees.
    creator_tool : str, optional
        If given (or ``digital_source_type`` is), an XMP packet with xmp:CreatorTool and
        xmp:CreateDate is embedded.
    digital_source_type : str, optional
        IPTC DigitalSourceType URI written into the XMP packet.
    icc_profile : bool
        Embed an sRGB ICC profile.
    quality : int
        JPEG quality (libjpeg scale 1-95) of the main image.
    seed : int
        Random seed of the scene.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    original = synthetic_scene(width=width, height=height, seed=seed)
    edited = original
    if pasted_region is not None:
        edited = _copy_move(original, pasted_region, paste_source)
    elif not thumbnail_matches:
        edited = _paint_out_disc(original, seed=seed)
    thumb_bytes = None
    if with_thumbnail:
        source = edited if thumbnail_matches else original
        thumb = Image.fromarray(source)
        thumb.thumbnail((160, 160), Image.Resampling.LANCZOS)
        buf = io.BytesIO()
        thumb.save(buf, format="JPEG", quality=85)
        thumb_bytes = buf.getvalue()
    ts = datetime_original
    exif = exif_block(make=make, model=model, software=software, datetime_original=ts, width=width,
                      height=height, gps=gps, thumbnail=thumb_bytes)
    kwargs: dict[str, object] = {"quality": int(quality), "exif": exif}
    if creator_tool or digital_source_type:
        iso = ts.replace(":", "-", 2).replace(" ", "T")
        kwargs["xmp"] = _xmp_packet(creator_tool=creator_tool, digital_source_type=digital_source_type,
                                    create_date=iso)
    if icc_profile:
        from PIL import ImageCms

        icc = bytearray(ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes())
        icc[24:36] = struct.pack(">6H", 2024, 1, 1, 0, 0, 0)  # lcms stamps "now": keep bytes reproducible
        kwargs["icc_profile"] = bytes(icc)
    Image.fromarray(edited).save(path, format="JPEG", **kwargs)
    return path


def png_image(
    path: Path | str,
    *,
    width: int = 256,
    height: int = 192,
    text: Mapping[str, str] | None = None,
    seed: int = 0,
) -> Path:
    """Write a PNG of :func:`synthetic_scene`, optionally with tEXt chunks.

    Without ``text`` the file carries no metadata at all (no EXIF, XMP, ICC or text), like an
    image stripped by a web service. ``text`` = ``{"parameters": "..."}`` imitates the
    generation parameters some image generators write.

    Parameters
    ----------
    path : Path
        Output ``.png``.
    width, height : int
        Image size in pixels.
    text : mapping of str to str, optional
        tEXt chunks (Latin-1 keys, up to 79 characters).
    seed : int
        Random seed of the scene.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    info = None
    if text:
        info = PngImagePlugin.PngInfo()
        for key, value in text.items():
            info.add_text(key, value)
    Image.fromarray(synthetic_scene(width=width, height=height, seed=seed)).save(
        path, format="PNG", pnginfo=info)
    return path
