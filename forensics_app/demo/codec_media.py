"""Seeded generators for the signal-forensic analyzers: broadband programme material, lossy
round trips, upsampled and joined recordings, clipped and offset audio.

Every generator writes a 16-bit PCM WAV through libsndfile and returns its path; the same
arguments give the same samples (the encoders run single-threaded). Planted properties:

* :func:`program_wav`: broadband "programme" (coloured noise whose power falls 2.1 dB per octave,
  a harmonic tone series on 220 Hz and a speech-like 300-3400 Hz band modulated at 4 Hz), with
  content up to the Nyquist frequency.
* :func:`lossy_roundtrip_wav`: the programme through a real MP3 (LAME) or AAC (FFmpeg) encoder
  and decoder via PyAV, written back to WAV (the lossy history a "lossless" file can hide);
  :func:`lossy_file` writes the coded stream itself (``.mp3`` / ``.aac``).
* :func:`upsampled_wav`: programme made at a low rate (8 kHz) and up-sampled with
  ``scipy.signal.resample_poly``: content ends at the low rate's Nyquist frequency.
* :func:`joined_wav`: full-band programme, then from ``join_s`` material that was band-limited
  by a trip through a lower rate: the cutoff changes at a known time.
* :func:`clipped_bursts_wav`: a tone over-driven into clipping during known bursts, optionally
  scaled down afterwards (flat tops below full scale).
* :func:`dc_offset_wav`: programme plus a constant DC offset.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from pathlib import Path

import av
import numpy as np
from scipy import signal

from forensics_app.demo.wav_io import write_wav as _write_wav
from forensics_app.domain.errors import ForensicsError

__all__ = [
    "CODECS",
    "clipped_bursts_wav",
    "dc_offset_wav",
    "encode_lossy",
    "joined_wav",
    "lossy_file",
    "lossy_roundtrip",
    "lossy_roundtrip_wav",
    "program_signal",
    "program_wav",
    "upsampled_wav",
]

CODECS = {"mp3": ("libmp3lame", "mp3", 1152), "aac": ("aac", "adts", 1024)}
"""Codec name -> (PyAV encoder, container format, samples per encoder frame)."""

_AAC_PRIMING = 1024
"""Samples of encoder delay that FFmpeg's AAC encoder puts before the signal (ADTS keeps no
record of it, so the round trip trims it)."""


def _mono_program(rate: int, n: int, rng: np.random.Generator) -> np.ndarray:
    """One channel of programme, unnormalised, shape (n,)."""
    white = rng.standard_normal(n)
    spec = np.fft.rfft(white)
    f = np.fft.rfftfreq(n, d=1.0 / rate)
    f[0] = f[1] if n > 1 else 1.0
    spec /= (f / 100.0) ** 0.35  # amplitude ~ f**-0.35: power falls 2.1 dB per octave
    noise = np.fft.irfft(spec, n)
    noise *= 0.05 / max(float(np.std(noise)), 1e-12)
    t = np.arange(n) / rate
    tones = np.zeros(n)
    for k in range(1, 12):
        if 220.0 * k < 0.45 * rate:
            tones += (0.05 / k) * np.sin(2 * np.pi * 220.0 * k * t + k)
    hi = min(3400.0, 0.45 * rate)
    sos = signal.butter(4, [300.0, hi], btype="band", fs=rate, output="sos")
    speech = signal.sosfilt(sos, rng.standard_normal(n))
    speech *= 0.15 / max(float(np.std(speech)), 1e-12)
    envelope = (0.5 * (1.0 + np.sin(2 * np.pi * 4.0 * t))) ** 2
    return noise + tones + speech * envelope


def program_signal(*, rate: int = 44100, duration_s: float = 6.0, channels: int = 2, seed: int = 0,
                   peak: float = 0.8) -> np.ndarray:
    """Broadband programme material (see the module docstring).

    Parameters
    ----------
    rate : int
        Sample rate in Hz.
    duration_s : float
        Duration in s.
    channels : int
        1 or more; channels share 80% of their material and differ in the rest (like stereo).
    seed : int
        Random seed.
    peak : float
        Peak amplitude of the result (full scale 1.0).

    Returns
    -------
    np.ndarray
        Shape (n_samples, channels), float64.
    """
    rng = np.random.default_rng(seed)
    n = int(round(duration_s * rate))
    common = _mono_program(rate, n, rng)
    if channels == 1:
        x = common[:, None]
    else:
        x = np.stack([0.8 * common + 0.35 * _mono_program(rate, n, rng) for _ in range(channels)], axis=1)
    x = x - x.mean(axis=0)
    return x * (peak / max(float(np.abs(x).max()), 1e-12))


def program_wav(path: Path | str, *, rate: int = 44100, duration_s: float = 6.0, channels: int = 2,
                seed: int = 0) -> Path:
    """Write :func:`program_signal` (peak 0.8) as 16-bit WAV; returns ``path``."""
    return _write_wav(path, program_signal(rate=rate, duration_s=duration_s, channels=channels, seed=seed), rate)


def encode_lossy(samples: np.ndarray, *, rate: int, codec: str, bitrate: int) -> bytes:
    """Encode float samples as an MP3 (LAME, CBR) or ADTS AAC (FFmpeg AAC-LC) stream via PyAV.

    Parameters
    ----------
    samples : np.ndarray
        Shape (n, channels), float in [-1, 1]; 1 or 2 channels.
    rate : int
        Sample rate in Hz.
    codec : str
        ``"mp3"`` or ``"aac"``.
    bitrate : int
        Bit rate in bit/s (e.g. 128000).

    Returns
    -------
    bytes
        The coded file (``.mp3`` or ``.aac``).
    """
    if codec not in CODECS:
        raise ForensicsError(f"unknown codec {codec!r}; known: {sorted(CODECS)}")
    encoder, fmt, frame = CODECS[codec]
    x = np.ascontiguousarray(np.asarray(samples, dtype=np.float32).T)  # (ch, n)
    n_ch, n = x.shape
    layout = {1: "mono", 2: "stereo"}.get(n_ch)
    if layout is None:
        raise ForensicsError(f"encode_lossy takes 1 or 2 channels, not {n_ch}")
    buf = io.BytesIO()
    with av.open(buf, "w", format=fmt) as out:
        stream = out.add_stream(encoder, rate=int(rate), layout=layout)
        stream.bit_rate = int(bitrate)
        stream.codec_context.thread_count = 1
        for i in range(0, n, frame):
            chunk = av.AudioFrame.from_ndarray(np.ascontiguousarray(x[:, i:i + frame]), format="fltp", layout=layout)
            chunk.sample_rate = int(rate)
            chunk.pts = i
            for packet in stream.encode(chunk):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return buf.getvalue()


def lossy_roundtrip(samples: np.ndarray, *, rate: int, codec: str, bitrate: int) -> np.ndarray:
    """Encode float samples with a lossy codec (:func:`encode_lossy`) and decode them again.

    Returns
    -------
    np.ndarray
        Shape (n, channels), float32, time-aligned with the input (encoder delay removed: the
        MP3 decoder honours LAME's gapless header, FFmpeg's 1024 AAC priming samples are cut).
    """
    n, n_ch = np.asarray(samples).shape
    data = encode_lossy(samples, rate=rate, codec=codec, bitrate=bitrate)
    parts = []
    with av.open(io.BytesIO(data)) as inp:
        for decoded in inp.decode(audio=0):
            parts.append(decoded.to_ndarray().reshape(n_ch, -1))
    y = np.concatenate(parts, axis=1).T
    skip = _AAC_PRIMING if codec == "aac" else 0
    y = y[skip:skip + n]
    if y.shape[0] < n:
        y = np.concatenate([y, np.zeros((n - y.shape[0], n_ch), np.float32)], axis=0)
    return y.astype(np.float32)


def lossy_file(path: Path | str, *, codec: str = "mp3", bitrate: int = 128000, rate: int = 44100,
               duration_s: float = 6.0, channels: int = 2, seed: int = 0) -> Path:
    """Write :func:`program_signal` as a coded ``.mp3`` / ``.aac`` file (a lossy container)."""
    x = program_signal(rate=rate, duration_s=duration_s, channels=channels, seed=seed)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(encode_lossy(x, rate=rate, codec=codec, bitrate=bitrate))
    return path


def lossy_roundtrip_wav(path: Path | str, *, codec: str = "mp3", bitrate: int = 128000, rate: int = 44100,
                        duration_s: float = 6.0, channels: int = 2, seed: int = 0) -> Path:
    """Write :func:`program_signal` after a lossy round trip, as a 16-bit WAV.

    The file is the same programme as :func:`program_wav` with the same arguments, encoded by
    ``codec`` at ``bitrate`` bit/s, decoded and aligned: a "lossless" file with lossy history.
    """
    x = program_signal(rate=rate, duration_s=duration_s, channels=channels, seed=seed)
    return _write_wav(path, lossy_roundtrip(x, rate=rate, codec=codec, bitrate=bitrate), rate)


def _resample(x: np.ndarray, from_rate: int, to_rate: int) -> np.ndarray:
    """Polyphase resampling along axis 0 (Kaiser-windowed FIR, scipy's default)."""
    g = math.gcd(int(from_rate), int(to_rate))
    return signal.resample_poly(x, int(to_rate) // g, int(from_rate) // g, axis=0)


def upsampled_wav(path: Path | str, *, content_rate: int = 8000, file_rate: int = 44100, duration_s: float = 4.0,
                  channels: int = 1, seed: int = 0) -> Path:
    """Write programme generated at ``content_rate`` and up-sampled to ``file_rate``.

    Its content ends at ``content_rate / 2`` (4 kHz for 8 kHz material) although the file's
    Nyquist frequency is ``file_rate / 2``.
    """
    x = program_signal(rate=content_rate, duration_s=duration_s, channels=channels, seed=seed, peak=0.7)
    return _write_wav(path, _resample(x, content_rate, file_rate), file_rate)


def joined_wav(path: Path | str, *, rate: int = 44100, duration_s: float = 8.0, join_s: float = 3.0,
               limited_rate: int = 8000, channels: int = 1, seed: int = 0) -> Path:
    """Write two recordings joined at ``join_s``: full band, then band-limited.

    The first part is :func:`program_signal` at ``rate``; from ``join_s`` on, another take of
    programme (seed + 1) that went down to ``limited_rate`` and back up (its content ends at
    ``limited_rate / 2``, 4 kHz by default), at the same RMS level. The join is an abrupt cut.
    With ``limited_rate == rate`` both parts are full band (the unjoined counterpart).
    """
    if not 0.0 < join_s < duration_s:
        raise ForensicsError(f"join_s={join_s} must lie inside the recording (0, {duration_s})")
    n = int(round(duration_s * rate))
    cut = int(round(join_s * rate))
    a = program_signal(rate=rate, duration_s=duration_s, channels=channels, seed=seed, peak=0.7)
    b = program_signal(rate=rate, duration_s=duration_s, channels=channels, seed=seed + 1, peak=0.7)
    if limited_rate != rate:
        b = _resample(_resample(b, rate, limited_rate), limited_rate, rate)[:n]
        b *= float(np.std(a)) / max(float(np.std(b)), 1e-12)
    return _write_wav(path, np.concatenate([a[:cut], b[cut:]], axis=0), rate)


def clipped_bursts_wav(
    path: Path | str,
    *,
    rate: int = 44100,
    duration_s: float = 3.0,
    frequency_hz: float = 1000.0,
    amplitude: float = 0.5,
    bursts: Sequence[tuple[float, float]] = ((0.5, 0.1), (1.3, 0.05), (2.2, 0.2)),
    overdrive: float = 3.0,
    rescale: float = 1.0,
    noise_dbfs: float = -70.0,
    seed: int = 0,
) -> Path:
    """Write a tone (plus faint noise) that is over-driven into clipping during known bursts.

    During each ``(start_s, length_s)`` burst the tone's gain is ``overdrive``; the signal is
    then hard-clipped at +-1.0 and finally multiplied by ``rescale``. With ``rescale < 1`` the
    clipped samples sit exactly at ``+-rescale`` (one 16-bit code): clipped-then-normalised
    audio whose peak is below full scale.

    Parameters
    ----------
    path : Path
        Output ``.wav`` (mono).
    rate : int
        Sample rate in Hz.
    duration_s : float
        Duration in s.
    frequency_hz : float
        Tone frequency in Hz.
    amplitude : float
        Tone peak outside the bursts (full scale 1.0); ``amplitude * overdrive`` must exceed 1.
    bursts : sequence of (start_s, length_s)
        The planted clipping bursts in s.
    overdrive : float
        Gain during a burst.
    rescale : float
        Gain applied after clipping.
    noise_dbfs : float
        RMS level of added white noise (before clipping) in dBFS.
    seed : int
        Random seed of the noise.
    """
    rng = np.random.default_rng(seed)
    n = int(round(duration_s * rate))
    t = np.arange(n) / rate
    gain = np.full(n, amplitude)
    for start, length in bursts:
        gain[(t >= start) & (t < start + length)] = amplitude * overdrive
    x = gain * np.sin(2 * np.pi * frequency_hz * t) + rng.standard_normal(n) * 10.0 ** (noise_dbfs / 20.0)
    return _write_wav(path, np.clip(x, -1.0, 1.0) * rescale, rate)


def dc_offset_wav(path: Path | str, *, dc_offset: float = 0.05, rate: int = 44100, duration_s: float = 4.0,
                  channels: int = 2, seed: int = 0) -> Path:
    """Write :func:`program_signal` (peak 0.5) plus a constant ``dc_offset`` (full scale 1.0)."""
    x = program_signal(rate=rate, duration_s=duration_s, channels=channels, seed=seed, peak=0.5)
    return _write_wav(path, x + dc_offset, rate)
