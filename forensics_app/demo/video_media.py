"""Seeded test video: a moving pattern with planted frame drops and duplicates.

:func:`test_video` encodes with PyAV (H.264 through libx264 when the installed FFmpeg has it,
MPEG-4 Part 2 otherwise), single-threaded, into the container named by the file suffix
(``.mp4``, ``.mkv``, ...). The same arguments give the same frames; file bytes are reproducible
for a given build of FFmpeg/x264.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from forensics_app.domain.errors import ForensicsError

__all__ = ["test_video"]


def _video_picture(index: int, *, width: int, height: int, texture: np.ndarray) -> np.ndarray:
    """The RGB picture (height, width, 3) uint8 of frame ``index`` of the moving test pattern."""
    shift = (3 * index) % texture.shape[1]
    tex = np.roll(texture, -shift, axis=1)[:height, :width]
    yy = np.linspace(0.0, 1.0, height)[:, None]
    r = 60 + 120 * yy + 0.0 * tex
    g = 40 + 0.6 * tex
    b = 200 - 120 * yy + 0.3 * tex
    img = np.stack(np.broadcast_arrays(r, g, b), axis=-1)
    # A bright square on a Lissajous path.
    side = max(8, min(width, height) // 5)
    cx = (width - side) * (0.5 + 0.45 * math.sin(2 * math.pi * index / 37.0))
    cy = (height - side) * (0.5 + 0.45 * math.sin(2 * math.pi * index / 23.0 + 1.0))
    x0, y0 = int(cx), int(cy)
    img[y0:y0 + side, x0:x0 + side] = (250, 240, 60)
    return np.clip(img, 0, 255).astype(np.uint8)


def _pick_codec(codec: str) -> str:
    for name in (codec, "libx264", "mpeg4"):
        try:
            av.codec.Codec(name, "w")
        except Exception:  # noqa: BLE001 - PyAV raises several types for unknown encoders
            continue
        return name
    raise ForensicsError(f"no usable video encoder: {codec!r}, libx264 and mpeg4 are all missing from FFmpeg")


def test_video(
    path: Path | str,
    *,
    n_frames: int = 60,
    fps: int = 25,
    width: int = 160,
    height: int = 120,
    drop_frames: Sequence[int] = (),
    duplicate_frames: Sequence[int] = (),
    with_audio: bool = False,
    codec: str = "libx264",
    seed: int = 0,
) -> Path:
    """Encode a short video of a moving pattern, with planted frame drops and duplicates.

    Frame ``i`` has presentation time ``i / fps`` seconds. Every picture differs from the one
    before (a scrolling texture and a moving square), except where planted:

    * ``drop_frames``: these indices are not encoded at all, so their timestamps are missing
      and the stream has a gap of ``len(run) + 1`` frame intervals (a dropped-frame signature).
      Dropping the last frames only shortens the video.
    * ``duplicate_frames``: these indices are encoded with the picture of the frame before them
      (their timestamps are present; frame ``i`` repeats frame ``i - 1``, chains repeat further).

    Parameters
    ----------
    path : Path
        Output file; the suffix picks the container (``.mp4``, ``.mkv``, ``.mov``, ``.avi``).
    n_frames : int
        Frames before dropping.
    fps : int
        Nominal frame rate in frames per second.
    width, height : int
        Frame size in pixels (even numbers for 4:2:0 chroma).
    drop_frames : sequence of int
        Frame indices that are left out.
    duplicate_frames : sequence of int
        Frame indices (>= 1) whose picture repeats the previous frame's.
    with_audio : bool
        Also write an AAC audio track (a 440 Hz tone at 16 kHz, mono) of the same duration.
    codec : str
        Preferred FFmpeg encoder; falls back to libx264, then mpeg4.
    seed : int
        Random seed of the texture.

    Returns
    -------
    Path
        ``path``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if width % 2 or height % 2:
        raise ForensicsError(f"test_video needs an even frame size, got {width}x{height}")
    if any(i < 1 or i >= n_frames for i in duplicate_frames):
        raise ForensicsError(f"duplicate_frames {list(duplicate_frames)} must lie in [1, {n_frames})")
    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, 200, size=(height // 4 + 1, (width + 3 * n_frames) // 4 + 2))
    texture = np.kron(coarse, np.ones((4, 4))).astype(np.float64)
    dropped = set(int(i) for i in drop_frames)
    duplicated = set(int(i) for i in duplicate_frames)
    encoder = _pick_codec(codec)
    tb = Fraction(1, int(fps))
    with av.open(str(path), mode="w") as container:
        vs = container.add_stream(encoder, rate=int(fps))
        vs.width, vs.height, vs.pix_fmt = width, height, "yuv420p"
        vs.codec_context.time_base = tb
        if encoder == "libx264":
            vs.options = {"crf": "18", "preset": "veryfast", "threads": "1"}
        else:
            vs.codec_context.thread_count = 1
            vs.codec_context.bit_rate = 40 * width * height * int(fps)  # about 1.6 bits/pixel
        audio = None
        if with_audio:
            audio = container.add_stream("aac", rate=16000, layout="mono")
        for i in range(n_frames):
            if i in dropped:
                continue
            source = i
            while source in duplicated:
                source -= 1
            frame = av.VideoFrame.from_ndarray(
                _video_picture(source, width=width, height=height, texture=texture), format="rgb24")
            frame.pts = i
            frame.time_base = tb
            for packet in vs.encode(frame):
                container.mux(packet)
        for packet in vs.encode(None):
            container.mux(packet)
        if audio is not None:
            sr = 16000
            n = int(round(n_frames / fps * sr))
            tone = (0.2 * np.sin(2 * np.pi * 440.0 * np.arange(n) / sr)).astype(np.float32)
            for start in range(0, n, 1024):
                chunk = tone[start:start + 1024][None, :]
                af = av.AudioFrame.from_ndarray(np.ascontiguousarray(chunk), format="fltp", layout="mono")
                af.sample_rate = sr
                af.pts = start
                af.time_base = Fraction(1, sr)
                for packet in audio.encode(af):
                    container.mux(packet)
            for packet in audio.encode(None):
                container.mux(packet)
    return path


test_video.__test__ = False  # a generator, not a pytest test (its name starts with "test")
