"""Seeded generators of small evidence files with known, planted properties.

Every generator writes one file and returns its path. The same arguments give the same samples,
frames and pixels (the encoders are run single-threaded); file bytes are reproducible for a
given build of libsndfile, FFmpeg/x264, libjpeg and espeak-ng.

Audio is written as 16-bit PCM WAV through libsndfile (full scale 1.0 is stored as 32767, i.e.
1 - 2**-15 after decoding). Video is encoded with PyAV (H.264 through libx264 when the installed
FFmpeg has it, MPEG-4 Part 2 otherwise) into the container named by the file suffix (``.mp4``,
``.mkv``, ...). Images are written with Pillow; the EXIF block of :func:`exif_jpeg` (IFD0, Exif
IFD, GPS IFD and IFD1 with an embedded JPEG thumbnail) is built here byte by byte, because
Pillow cannot write IFD1.
"""

from __future__ import annotations

import html
import io
import math
import shutil
import struct
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import soundfile as sf
from PIL import Image, PngImagePlugin
from scipy import signal

from forensics_app.domain.errors import ForensicsError

__all__ = [
    "band_limited_wav",
    "clipped_wav",
    "exif_jpeg",
    "noise_wav",
    "png_image",
    "speech_wav",
    "spliced_recording_wav",
    "synthetic_scene",
    "test_video",
    "tone_wav",
]


# --------------------------------------------------------------------------------------- audio


def _write_wav(path: Path | str, samples: np.ndarray, rate: int) -> Path:
    """Write float samples (n,) or (n, channels) in [-1, 1] as 16-bit PCM WAV."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), np.clip(samples, -1.0, 1.0).astype(np.float32), int(rate), subtype="PCM_16",
             format="WAV")
    return path


def _level(dbfs: float) -> float:
    """Linear amplitude of a level in dBFS."""
    return float(10.0 ** (dbfs / 20.0))


def tone_wav(
    path: Path | str,
    *,
    rate: int = 16000,
    duration_s: float = 2.0,
    frequency_hz: float = 440.0,
    amplitude: float = 0.5,
    dc_offset: float = 0.0,
    channels: int = 1,
) -> Path:
    """Write a sine tone (the same in every channel) plus an optional DC offset.

    Parameters
    ----------
    path : Path
        Output ``.wav``.
    rate : int
        Sample rate in Hz.
    duration_s : float
        Duration in seconds.
    frequency_hz : float
        Tone frequency in Hz.
    amplitude : float
        Peak amplitude (full scale = 1.0): peak level ``20*log10(amplitude)`` dBFS, RMS level
        3.01 dB lower.
    dc_offset : float
        Constant added to every sample (full scale = 1.0).
    channels : int
        Number of identical channels.

    Returns
    -------
    Path
        ``path``.
    """
    n = int(round(duration_s * rate))
    t = np.arange(n) / rate
    x = amplitude * np.sin(2 * np.pi * frequency_hz * t) + dc_offset
    return _write_wav(path, np.repeat(x[:, None], channels, axis=1), rate)


def noise_wav(
    path: Path | str, *, rate: int = 16000, duration_s: float = 2.0, level_dbfs: float = -20.0,
    seed: int = 0,
) -> Path:
    """Write white Gaussian noise (flat spectrum up to the Nyquist frequency ``rate/2``).

    Parameters
    ----------
    path : Path
        Output ``.wav``.
    rate : int
        Sample rate in Hz.
    duration_s : float
        Duration in seconds.
    level_dbfs : float
        RMS level in dBFS.
    seed : int
        Random seed.
    """
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(int(round(duration_s * rate))) * _level(level_dbfs)
    return _write_wav(path, x, rate)


def speech_wav(
    path: Path | str, *, text: str, voice: str = "en", rate: int = 16000, words_per_minute: int = 160,
) -> Path:
    """Synthesise speech with the espeak-ng command-line synthesiser.

    espeak-ng writes 22.05 kHz mono; the result is resampled (polyphase) to ``rate``.

    Parameters
    ----------
    path : Path
        Output ``.wav``.
    text : str
        What to say (passed through a file, never on the command line).
    voice : str
        espeak-ng voice name (``espeak-ng --voices`` lists them).
    rate : int
        Sample rate of the written file in Hz.
    words_per_minute : int
        Speaking rate.

    Raises
    ------
    ForensicsError
        If espeak-ng is not installed or fails.
    """
    exe = shutil.which("espeak-ng")
    if exe is None:
        raise ForensicsError(
            "espeak-ng is not installed: speech demo media needs the espeak-ng synthesiser "
            "(Debian/Ubuntu: apt-get install espeak-ng)"
        )
    if not text.strip():
        raise ForensicsError("speech_wav needs some text to say")
    with tempfile.TemporaryDirectory(prefix="forensics-speech-") as tmp:
        txt = Path(tmp) / "text.txt"
        raw = Path(tmp) / "speech.wav"
        txt.write_text(text, encoding="utf-8")
        cmd = [exe, "-v", voice, "-s", str(int(words_per_minute)), "-w", str(raw), "-f", str(txt)]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
        if proc.returncode != 0 or not raw.is_file():
            raise ForensicsError(
                f"espeak-ng failed (exit {proc.returncode}) for voice {voice!r}: {proc.stderr.strip()}"
            )
        data, src_rate = sf.read(str(raw), dtype="float64", always_2d=True)
    x = data.mean(axis=1)
    if int(src_rate) != int(rate):
        g = math.gcd(int(src_rate), int(rate))
        x = signal.resample_poly(x, int(rate) // g, int(src_rate) // g)
    return _write_wav(path, x, rate)


def spliced_recording_wav(
    path: Path | str, *, rate: int = 16000, duration_s: float = 6.0, splice_s: float = 3.0, seed: int = 0,
) -> Path:
    """Write a 'recording' made of two takes joined at ``splice_s``.

    Before the splice: a 300 Hz tone (peak 0.3), 50 Hz mains hum and low-passed room noise at
    about -50 dBFS. After it: the tone continues with a 90 degree phase jump and 1.6 dB lower,
    the hum is gone and the noise floor is high-passed and about 15 dB louder. The join is an
    abrupt cut (no cross-fade), as a careless edit would leave it.

    Parameters
    ----------
    path : Path
        Output ``.wav``.
    rate : int
        Sample rate in Hz.
    duration_s : float
        Duration in seconds.
    splice_s : float
        Time of the splice in seconds (0 < splice_s < duration_s).
    seed : int
        Random seed of the noise.
    """
    if not 0.0 < splice_s < duration_s:
        raise ForensicsError(f"splice_s={splice_s} must lie inside the recording (0, {duration_s})")
    rng = np.random.default_rng(seed)
    n = int(round(duration_s * rate))
    cut = int(round(splice_s * rate))
    t = np.arange(n) / rate
    before = t < t[cut]
    tone = np.where(before, 0.3 * np.sin(2 * np.pi * 300.0 * t),
                    0.25 * np.sin(2 * np.pi * 300.0 * t + np.pi / 2))
    hum = np.where(before, 0.01 * np.sin(2 * np.pi * 50.0 * t), 0.0)
    nyq = rate / 2.0
    b_lo = signal.butter(4, min(1500.0 / nyq, 0.99), btype="low", output="sos")
    b_hi = signal.butter(4, min(2000.0 / nyq, 0.99), btype="high", output="sos")
    noise_a = signal.sosfilt(b_lo, rng.standard_normal(n))
    noise_b = signal.sosfilt(b_hi, rng.standard_normal(n))
    noise_a *= _level(-50.0) / max(float(np.std(noise_a)), 1e-12)
    noise_b *= _level(-35.0) / max(float(np.std(noise_b)), 1e-12)
    noise = np.where(before, noise_a, noise_b)
    return _write_wav(path, tone + hum + noise, rate)


def clipped_wav(
    path: Path | str,
    *,
    rate: int = 16000,
    duration_s: float = 2.0,
    frequency_hz: float = 440.0,
    amplitude: float = 0.5,
    clip_times_s: Sequence[float] = (0.5, 1.3),
    clip_duration_s: float = 0.1,
    overdrive: float = 3.0,
) -> Path:
    """Write a sine tone that is over-driven into hard clipping during short bursts.

    During ``[t, t + clip_duration_s)`` for each ``t`` in ``clip_times_s`` the tone's amplitude is
    multiplied by ``overdrive`` and the result is clipped at full scale (+-1.0), which leaves
    flat runs of full-scale samples on every half cycle. Outside the bursts the tone stays at
    ``amplitude`` and never reaches full scale.

    Parameters
    ----------
    path : Path
        Output ``.wav``.
    rate : int
        Sample rate in Hz.
    duration_s : float
        Duration in seconds.
    frequency_hz : float
        Tone frequency in Hz.
    amplitude : float
        Peak amplitude outside the bursts (full scale = 1.0).
    clip_times_s : sequence of float
        Start times of the clipped bursts in seconds.
    clip_duration_s : float
        Length of each burst in seconds.
    overdrive : float
        Gain applied during a burst (``amplitude * overdrive`` must exceed 1 to clip).
    """
    n = int(round(duration_s * rate))
    t = np.arange(n) / rate
    gain = np.ones(n)
    for start in clip_times_s:
        gain[(t >= start) & (t < start + clip_duration_s)] = overdrive
    x = np.clip(amplitude * gain * np.sin(2 * np.pi * frequency_hz * t), -1.0, 1.0)
    return _write_wav(path, x, rate)


def band_limited_wav(
    path: Path | str,
    *,
    content_rate: int = 8000,
    file_rate: int = 44100,
    duration_s: float = 2.0,
    level_dbfs: float = -20.0,
    seed: int = 0,
) -> Path:
    """Write white noise made at ``content_rate`` and up-sampled to ``file_rate``.

    The content therefore stops at ``content_rate / 2`` (4 kHz for 8 kHz content) although the
    file's Nyquist frequency is ``file_rate / 2``: the signature of telephone-band or low-rate
    synthetic audio re-saved at a higher rate. Up-sampling is ideal (FFT zero-padding), so the
    spectrum above ``content_rate / 2`` holds only the 16-bit quantisation noise.

    Parameters
    ----------
    path : Path
        Output ``.wav``.
    content_rate : int
        Rate in Hz at which the noise is generated (its band edge is half of it).
    file_rate : int
        Sample rate of the written file in Hz.
    duration_s : float
        Duration in seconds.
    level_dbfs : float
        RMS level of the content before resampling, in dBFS.
    seed : int
        Random seed.
    """
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(int(round(duration_s * content_rate))) * _level(level_dbfs)
    if content_rate != file_rate:
        x = signal.resample(x, int(round(duration_s * file_rate)))
    return _write_wav(path, x, file_rate)


# --------------------------------------------------------------------------------------- video


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


# --------------------------------------------------------------------------------------- images


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


def _exif_block(
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
    exif = _exif_block(make=make, model=model, software=software, datetime_original=ts, width=width,
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
