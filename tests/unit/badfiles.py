"""Real media (and real damage to it) generated for the probe and decode tests.

Everything is written here with numpy + soundfile, PyAV and Pillow; no external data.
Files are kept tiny so that the whole suite stays fast.
"""

from __future__ import annotations

import struct
import zlib
from fractions import Fraction
from functools import cache
from pathlib import Path

import av
import numpy as np
import soundfile as sf
from PIL import Image

# --- capabilities -------------------------------------------------------------------------------


@cache
def has_encoder(name: str) -> bool:
    """Whether the installed PyAV (its bundled FFmpeg) can encode with ``name``."""
    try:
        av.codec.Codec(name, "w")
    except Exception:  # noqa: BLE001 - UnknownCodecError and friends
        return False
    return True


def first_encoder(*names: str) -> str | None:
    """The first of ``names`` that the installed PyAV can encode with."""
    return next((n for n in names if has_encoder(n)), None)


# --- signals ------------------------------------------------------------------------------------


def tone(*, duration_s: float = 0.5, rate: int = 16000, channels: int = 1, amplitude: float = 0.5) -> np.ndarray:
    """A float32 test signal of shape (n, channels): one sine per channel (440 Hz, 660 Hz...)."""
    t = np.arange(int(round(duration_s * rate))) / rate
    cols = [amplitude * np.sin(2 * np.pi * (440.0 + 220.0 * c) * t) for c in range(channels)]
    return np.stack(cols, axis=1).astype(np.float32)


def write_sf(path: Path, *, duration_s: float = 0.5, rate: int = 16000, channels: int = 1,
             fmt: str | None = None, subtype: str | None = None) -> Path:
    """Audio written with libsndfile (WAV, FLAC, OGG/VORBIS, OGG/OPUS, AIFF...)."""
    sf.write(str(path), tone(duration_s=duration_s, rate=rate, channels=channels), rate, format=fmt, subtype=subtype)
    return path


_LAYOUTS = {1: "mono", 2: "stereo", 6: "5.1"}


def write_av_audio(path: Path, codec: str, *, container: str | None = None, duration_s: float = 0.5,
                   rate: int = 16000, channels: int = 1, bit_rate: int | None = None,
                   options: dict[str, str] | None = None) -> Path:
    """Audio encoded with PyAV/FFmpeg (MP3, AAC in M4A, Opus, PCM in WAV...).

    The encoder's preferred sample format is used; the signal is converted to it here.
    """
    x = tone(duration_s=duration_s, rate=rate, channels=channels)
    layout = _LAYOUTS[channels]
    with av.open(str(path), "w", format=container, options=options or {}) as out:
        stream = out.add_stream(codec, rate=rate, layout=layout)
        if bit_rate:
            stream.bit_rate = bit_rate
        fmt = stream.codec_context.codec.audio_formats[0].name
        stream.format = fmt
        frame_size = 960 if "opus" in codec else 1024
        for start in range(0, len(x), frame_size):
            block = x[start:start + frame_size]
            frame = av.AudioFrame.from_ndarray(_to_sample_format(block, fmt), format=fmt, layout=layout)
            frame.sample_rate = rate
            frame.pts = start
            frame.time_base = Fraction(1, rate)
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return path


def _to_sample_format(block: np.ndarray, fmt: str) -> np.ndarray:
    """(n, channels) float32 in [-1, 1] -> the array PyAV wants for ``fmt`` (planar or packed)."""
    base = fmt.rstrip("p")
    planar = fmt.endswith("p")
    if base == "s16":
        data = np.round(block * 32767).astype(np.int16)
    elif base == "s32":
        data = np.round(block.astype(np.float64) * 2147483647).astype(np.int32)
    elif base == "u8":
        data = np.round(block * 127 + 128).astype(np.uint8)
    elif base == "dbl":
        data = block.astype(np.float64)
    else:
        data = block.astype(np.float32)
    return np.ascontiguousarray(data.T) if planar else data.reshape(1, -1)


def write_av_video(path: Path, codec: str, *, container: str | None = None, frames: int = 20, fps: int = 25,
                   width: int = 64, height: int = 48, gop: int = 10, audio: str | None = None,
                   options: dict[str, str] | None = None) -> Path:
    """A small moving-bar video (optionally with a sine audio track) encoded with PyAV."""
    with av.open(str(path), "w", format=container, options=options or {}) as out:
        vs = out.add_stream(codec, rate=fps)
        vs.width, vs.height, vs.pix_fmt = width, height, "yuv420p"
        vs.codec_context.gop_size = gop
        if codec.startswith("libx26"):
            vs.options = {"preset": "ultrafast", "g": str(gop), "bf": "0"}
        aus = None
        if audio:
            aus = out.add_stream(audio, rate=16000, layout="mono")
            aus.format = aus.codec_context.codec.audio_formats[0].name
        for i in range(frames):
            img = np.zeros((height, width, 3), np.uint8)
            img[:, (3 * i) % width] = 255
            img[..., 1] = (8 * i) % 256
            for packet in vs.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                out.mux(packet)
        for packet in vs.encode(None):
            out.mux(packet)
        if aus is not None:
            x = tone(duration_s=frames / fps, rate=16000)
            fmt = aus.format.name
            for start in range(0, len(x), 1024):
                frame = av.AudioFrame.from_ndarray(_to_sample_format(x[start:start + 1024], fmt), format=fmt,
                                                   layout="mono")
                frame.sample_rate, frame.pts, frame.time_base = 16000, start, Fraction(1, 16000)
                for packet in aus.encode(frame):
                    out.mux(packet)
            for packet in aus.encode(None):
                out.mux(packet)
    return path


def noise_rgb(width: int = 64, height: int = 48, seed: int = 0) -> np.ndarray:
    """Random RGB uint8 pixels (height, width, 3)."""
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


def write_image(path: Path, fmt: str, *, mode: str = "RGB", width: int = 64, height: int = 48, **save) -> Path:
    """An image written by Pillow in ``fmt`` (JPEG, PNG, TIFF, WEBP, GIF, BMP)."""
    img = Image.fromarray(noise_rgb(width, height))
    if mode != "RGB":
        img = img.convert(mode)
    img.save(path, format=fmt, **save)
    return path


# --- damage -------------------------------------------------------------------------------------


def cut(src: Path, dst: Path, fraction: float = 0.5) -> Path:
    """Copy the first ``fraction`` of ``src`` to ``dst`` (a truncated file)."""
    data = src.read_bytes()
    dst.write_bytes(data[:int(len(data) * fraction)])
    return dst


def flip_byte(src: Path, dst: Path, offset: int) -> Path:
    """Copy ``src`` to ``dst`` with one byte inverted."""
    data = bytearray(src.read_bytes())
    data[offset] ^= 0xFF
    dst.write_bytes(bytes(data))
    return dst


def png_chunk(ctype: bytes, payload: bytes) -> bytes:
    """One PNG chunk with a correct CRC."""
    return struct.pack(">I", len(payload)) + ctype + payload + struct.pack(">I", zlib.crc32(ctype + payload))


def png_with_size(path: Path, width: int, height: int) -> Path:
    """A tiny PNG whose header declares ``width`` x ``height`` RGB pixels (an image bomb)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    body = png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", zlib.compress(b"\x00" * 4096)) + png_chunk(b"IEND", b"")
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + body)
    return path


def png_chunk_offsets(data: bytes) -> dict[bytes, tuple[int, int]]:
    """(offset of the length field, payload length) of the first chunk of each type."""
    pos, found = 8, {}
    while pos + 8 <= len(data):
        length, ctype = struct.unpack(">I4s", data[pos:pos + 8])
        found.setdefault(ctype, (pos, length))
        pos += 12 + length
    return found


def wav_bytes(*, channels: int = 1, rate: int = 16000, bits: int = 16, n_bytes: int = 3200,
              data_size: int | None = None, fmt_tag: int = 1) -> bytes:
    """A PCM RIFF/WAVE file built by hand, with any header values (sane or not)."""
    align = max(channels * bits // 8, 1) & 0xFFFF
    fmt = struct.pack("<HHIIHH", fmt_tag, channels, rate, (rate * align) & 0xFFFFFFFF, align, bits)
    data = np.random.default_rng(0).integers(-1000, 1000, n_bytes // 2).astype("<i2").tobytes()
    body = b"WAVE" + b"fmt " + struct.pack("<I", 16) + fmt
    body += b"data" + struct.pack("<I", len(data) if data_size is None else data_size) + data
    return b"RIFF" + struct.pack("<I", len(body)) + body


def iso_boxes(data: bytes) -> list[tuple[bytes, int, int]]:
    """Top-level (type, offset, size) boxes of an MP4 file."""
    pos, boxes = 0, []
    while pos + 8 <= len(data):
        size, btype = struct.unpack(">I4s", data[pos:pos + 8])
        if size == 1:
            (size,) = struct.unpack(">Q", data[pos + 8:pos + 16])
        elif size == 0:
            size = len(data) - pos
        boxes.append((btype, pos, size))
        pos += size
    return boxes
