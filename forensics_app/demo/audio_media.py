"""Seeded audio generators: tones, noise, speech and recordings with planted defects.

Every generator writes one 16-bit PCM WAV file through libsndfile and returns its path (full
scale 1.0 is stored as 32767, i.e. 1 - 2**-15 after decoding). The same arguments give the same
samples; file bytes are reproducible for a given build of libsndfile and espeak-ng. Planted
properties: clipping (:func:`clipped_wav`), band limiting (:func:`band_limited_wav`) and a splice
(:func:`spliced_recording_wav`).
"""

from __future__ import annotations

import math
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy import signal

from forensics_app.demo.wav_io import level as _level
from forensics_app.demo.wav_io import write_wav as _write_wav
from forensics_app.domain.errors import ForensicsError

__all__ = [
    "band_limited_wav",
    "clipped_wav",
    "noise_wav",
    "speech_wav",
    "spliced_recording_wav",
    "tone_wav",
]


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
