"""Seeded generators for the ENF and splice analyzers: mains hum, ENF reference logs, edits.

Every ``*_wav`` generator writes one 16-bit PCM WAV file (full scale 1.0 = 32767) and returns its
path; :func:`enf_reference_csv` writes a CSV log and returns the frequencies it wrote. The same
arguments give the same samples. The planted ground truth is always an argument of the generator
(a frequency curve, a join time, a removed span), so tests assert against what they asked for:

* Mains hum whose frequency follows a known curve (:func:`hum_wav`, :func:`sine_enf`), optionally
  with a span removed (an edit that leaves a phase jump in the hum).
* An ENF reference log (an Ornstein-Uhlenbeck random walk around the nominal frequency, one value
  per ``step_s``, ISO 8601 timestamps) and recordings whose hum follows that log from known
  offsets (:func:`enf_reference_csv`, :func:`hum_from_reference_wav`).
* Speech-like material (:func:`speech_like`): additive harmonic voicing with moving formants,
  syllable envelopes, pauses and fricative bursts. Everything is smooth (no sample steps), so a
  clean recording holds no waveform discontinuity.
* Recordings with planted edits for the splice analyzer: two noise floors joined at a known time,
  inserted digital silence, a DC step, a sine cut mid-cycle, and the clean counterpart
  (:func:`splice_wav`).
"""

from __future__ import annotations

import csv
import datetime as dt
import math
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from scipy import signal

from forensics_app.demo.wav_io import level as _level
from forensics_app.demo.wav_io import write_wav as _write_wav
from forensics_app.domain.errors import ForensicsError

__all__ = [
    "enf_reference_csv",
    "hum_from_reference_wav",
    "hum_wav",
    "sine_enf",
    "speech_like",
    "splice_wav",
    "synthesize_hum",
]

SPLICE_KINDS = ("clean", "noise_floor", "spectral", "silence", "dc_step", "discontinuity")
"""Edits :func:`splice_wav` can plant."""


def sine_enf(t: np.ndarray, *, nominal_hz: float = 50.0, deviation_hz: float = 0.02,
             period_s: float = 20.0) -> np.ndarray:
    """The smooth test curve ``nominal + deviation * sin(2*pi*t/period)`` in Hz.

    Parameters
    ----------
    t : np.ndarray
        Times in seconds, any shape.
    nominal_hz, deviation_hz, period_s : float
        Nominal frequency (Hz), peak deviation (Hz) and period of the deviation (s).

    Returns
    -------
    np.ndarray
        Instantaneous frequency in Hz, the shape of ``t``.
    """
    return nominal_hz + deviation_hz * np.sin(2.0 * np.pi * np.asarray(t, dtype=np.float64) / period_s)


def synthesize_hum(freq_hz: np.ndarray, rate: int, *, amplitudes: Sequence[float] = (1.0, 0.5, 0.35, 0.25),
                   phase0: float = 0.0, seed: int = 0) -> np.ndarray:
    """Mains hum (a fundamental and harmonics) following an instantaneous frequency.

    Parameters
    ----------
    freq_hz : np.ndarray
        Shape (n,): instantaneous fundamental frequency per sample, in Hz.
    rate : int
        Sample rate in Hz.
    amplitudes : sequence of float
        Peak amplitude of harmonic 1, 2, ... (full scale = 1.0); harmonics at or above the Nyquist
        frequency are left out.
    phase0 : float
        Phase of the fundamental at sample 0 (rad); each harmonic gets a seeded random offset.
    seed : int
        Seed of the harmonics' phase offsets.

    Returns
    -------
    np.ndarray
        Shape (n,), float64.
    """
    rng = np.random.default_rng(seed)
    freq_hz = np.asarray(freq_hz, dtype=np.float64)
    # Phase in cycles, integrated with the trapezoid rule so that it is exact for smooth curves.
    cycles = np.concatenate(([0.0], np.cumsum(0.5 * (freq_hz[1:] + freq_hz[:-1])) / rate))
    cycles = cycles - np.floor(cycles[0])
    out = np.zeros(freq_hz.size)
    offsets = rng.uniform(0.0, 2.0 * np.pi, len(amplitudes))
    for k, amp in enumerate(amplitudes, start=1):
        if amp == 0.0 or k * float(freq_hz.max()) >= rate / 2.0:
            continue
        out += amp * np.sin(2.0 * np.pi * k * np.mod(cycles, 1.0) + k * phase0 + (offsets[k - 1] if k > 1 else 0.0))
    return out


def _smooth_noise(n: int, rate: int, rng: np.random.Generator, cutoff_hz: float) -> np.ndarray:
    """Low-passed Gaussian noise with unit standard deviation (a smooth random curve)."""
    sos = signal.butter(2, min(cutoff_hz / (rate / 2.0), 0.99), output="sos")
    y = signal.sosfiltfilt(sos, rng.standard_normal(n + 2 * rate))[rate:rate + n]
    return y / max(float(np.std(y)), 1e-12)


def _syllable_envelope(n: int, rate: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Voicing and frication envelopes: raised-cosine syllables, short gaps, phrase pauses."""
    voiced = np.zeros(n)
    fric = np.zeros(n)
    t = int(0.15 * rate)
    in_phrase = 0
    while t < n:
        length = int(rng.uniform(0.12, 0.30) * rate)
        seg = np.sin(np.pi * np.arange(length) / length) ** 2 * rng.uniform(0.5, 1.0)
        end = min(t + length, n)
        voiced[t:end] = np.maximum(voiced[t:end], seg[:end - t])
        if rng.random() < 0.35:  # a fricative onset
            flen = int(rng.uniform(0.04, 0.09) * rate)
            f0 = max(t - flen // 2, 0)
            fseg = np.sin(np.pi * np.arange(flen) / flen) ** 2 * rng.uniform(0.3, 0.7)
            fend = min(f0 + flen, n)
            fric[f0:fend] = np.maximum(fric[f0:fend], fseg[:fend - f0])
        in_phrase += 1
        gap = rng.uniform(0.04, 0.12)
        if in_phrase >= rng.integers(4, 9):
            gap = rng.uniform(0.3, 0.7)
            in_phrase = 0
        t = end + int(gap * rate)
    return voiced, fric


def _formant_gain(freq: np.ndarray, formants: Sequence[np.ndarray], bandwidths: Sequence[float]) -> np.ndarray:
    """Magnitude of a cascade of resonances (a vowel's spectral envelope) at ``freq`` (Hz)."""
    gain = np.ones_like(freq)
    for fc, bw in zip(formants, bandwidths, strict=True):
        gain *= 1.0 / np.sqrt(1.0 + ((freq - fc) / (bw / 2.0)) ** 2) + 0.02
    return gain


def speech_like(n: int, rate: int, *, level_dbfs: float = -26.0, seed: int = 0,
                min_f0_hz: float = 100.0) -> np.ndarray:
    """Seeded speech-like material: voiced syllables with moving formants, fricatives, pauses.

    The voicing is additive synthesis (harmonics of a smoothly gliding fundamental between
    ``min_f0_hz`` and about 1.8 times it, each harmonic weighted by a moving three-formant
    envelope), shaped by raised-cosine syllable envelopes (120-300 ms, gaps of 40-120 ms, a
    300-700 ms pause every 4-8 syllables); fricatives are band-passed noise bursts. Nothing in it
    steps from one sample to the next.

    Parameters
    ----------
    n : int
        Number of samples.
    rate : int
        Sample rate in Hz.
    level_dbfs : float
        RMS level of the active (non-pause) parts in dBFS.
    seed : int
        Random seed.
    min_f0_hz : float
        Lowest fundamental frequency in Hz.

    Returns
    -------
    np.ndarray
        Shape (n,), float64.
    """
    rng = np.random.default_rng(seed)
    f0 = min_f0_hz * (1.4 + 0.3 * np.tanh(_smooth_noise(n, rate, rng, 1.5)))
    cycles = np.cumsum(f0) / rate
    f1 = 500.0 + 200.0 * np.tanh(_smooth_noise(n, rate, rng, 3.0))
    f2 = 1500.0 + 500.0 * np.tanh(_smooth_noise(n, rate, rng, 3.0))
    f3 = 2600.0 + 300.0 * np.tanh(_smooth_noise(n, rate, rng, 2.0))
    voiced_env, fric_env = _syllable_envelope(n, rate, rng)
    voice = np.zeros(n)
    nyq = rate / 2.0
    for h in range(1, int(0.45 * rate / min_f0_hz) + 1):
        fh = h * f0
        weight = _formant_gain(fh, (f1, f2, f3), (120.0, 180.0, 250.0)) / h
        weight = np.where(fh < 0.45 * rate, weight, 0.0)
        if not weight.any():
            break
        voice += weight * np.sin(2.0 * np.pi * h * cycles + h * 0.7)
    voice *= voiced_env
    lo, hi = min(2000.0, 0.3 * rate), min(4000.0, 0.45 * rate)
    sos = signal.butter(4, [lo / nyq, hi / nyq], btype="band", output="sos")
    fric = signal.sosfilt(sos, rng.standard_normal(n)) * fric_env
    x = voice / max(float(np.std(voice[voiced_env > 0.3])), 1e-12) + 0.5 * fric / max(
        float(np.std(fric[fric_env > 0.3])) if (fric_env > 0.3).any() else 1.0, 1e-12)
    active = (voiced_env + fric_env) > 0.3
    rms = float(np.sqrt(np.mean(x[active] ** 2))) if active.any() else 1.0
    return x * (_level(level_dbfs) / rms)


def hum_wav(
    path: Path | str,
    *,
    rate: int = 2000,
    duration_s: float = 40.0,
    frequency: Callable[[np.ndarray], np.ndarray] | None = None,
    nominal_hz: float = 50.0,
    hum_dbfs: float = -35.0,
    harmonics: Sequence[float] = (1.0, 0.5, 0.35, 0.25),
    noise_dbfs: float = -55.0,
    speech_dbfs: float | None = -26.0,
    remove: tuple[float, float] | None = None,
    seed: int = 0,
) -> Path:
    """Write a recording with mains hum whose frequency follows a known curve.

    Parameters
    ----------
    path : Path
        Output ``.wav``.
    rate : int
        Sample rate in Hz.
    duration_s : float
        Duration of the written file in seconds (after any removal).
    frequency : callable, optional
        ``frequency(t)`` gives the hum's fundamental in Hz at times ``t`` (s, of the original,
        uncut recording); default :func:`sine_enf` around ``nominal_hz``.
    nominal_hz : float
        Nominal mains frequency in Hz (used by the default curve).
    hum_dbfs : float
        RMS level of the fundamental in dBFS; harmonics are scaled by ``harmonics``.
    harmonics : sequence of float
        Relative amplitudes of harmonics 1, 2, ...; ``0`` leaves a harmonic out.
    noise_dbfs : float
        RMS level of white noise in dBFS.
    speech_dbfs : float or None
        RMS level of active speech-like material in dBFS (None: no speech).
    remove : (start_s, length_s), optional
        Cut ``length_s`` seconds out of the original recording at ``start_s`` (an edit: the hum's
        phase jumps by ``2*pi*frac(integral of f over the removed span)``). The file is then
        ``duration_s`` long; the cut lies at ``start_s`` in the file.
    seed : int
        Random seed of noise and speech.
    """
    cut = remove or (0.0, 0.0)
    total = duration_s + cut[1]
    n = int(round(total * rate))
    t = np.arange(n) / rate
    curve = frequency or (lambda tt: sine_enf(tt, nominal_hz=nominal_hz))
    amps = [a * _level(hum_dbfs) * math.sqrt(2.0) for a in harmonics]
    x = synthesize_hum(curve(t), rate, amplitudes=amps, seed=seed)
    rng = np.random.default_rng(seed + 1)
    x += rng.standard_normal(n) * _level(noise_dbfs)
    if speech_dbfs is not None:
        x += speech_like(n, rate, level_dbfs=speech_dbfs, seed=seed + 2)
    if remove is not None:
        if not 0.0 < cut[0] < duration_s or cut[1] <= 0.0:
            raise ForensicsError(f"remove={remove} must cut a positive span inside the recording")
        a = int(round(cut[0] * rate))
        b = a + int(round(cut[1] * rate))
        x = np.concatenate([x[:a], x[b:]])
    return _write_wav(path, x[:int(round(duration_s * rate))], rate)


def enf_reference_csv(
    path: Path | str,
    *,
    duration_s: float = 600.0,
    step_s: float = 1.0,
    nominal_hz: float = 50.0,
    start: dt.datetime = dt.datetime(2024, 3, 5, 14, 0, 0, tzinfo=dt.UTC),
    step_std_hz: float = 0.003,
    reversion: float = 0.02,
    seed: int = 0,
    iso: bool = True,
) -> np.ndarray:
    """Write an ENF reference log: one frequency per ``step_s`` as ``timestamp,frequency`` rows.

    The deviation from nominal is an Ornstein-Uhlenbeck random walk:
    ``d[i] = (1 - reversion) * d[i-1] + N(0, step_std_hz)`` (stationary standard deviation
    ``step_std_hz / sqrt(1 - (1 - reversion)**2)``, about 0.015 Hz by default).

    Parameters
    ----------
    path : Path
        Output ``.csv`` (header ``timestamp,frequency_hz``).
    duration_s : float
        Length of the log in seconds.
    step_s : float
        Time between rows in seconds.
    nominal_hz : float
        Nominal mains frequency in Hz.
    start : datetime
        Timestamp of the first row.
    step_std_hz : float
        Standard deviation of the random walk's step in Hz.
    reversion : float
        Mean reversion per step (0 = pure random walk).
    seed : int
        Random seed.
    iso : bool
        Write ISO 8601 timestamps (True) or seconds since ``start`` (False).

    Returns
    -------
    np.ndarray
        Shape (n_rows,): the frequencies written, in Hz (row ``i`` is at ``start + i*step_s``).
    """
    rng = np.random.default_rng(seed)
    n = int(round(duration_s / step_s))
    d = np.empty(n)
    d[0] = rng.normal(0.0, step_std_hz / math.sqrt(max(1.0 - (1.0 - reversion) ** 2, 1e-9)))
    steps = rng.normal(0.0, step_std_hz, n)
    for i in range(1, n):
        d[i] = (1.0 - reversion) * d[i - 1] + steps[i]
    hz = np.round(nominal_hz + d, 4)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["timestamp", "frequency_hz"])
        for i, f in enumerate(hz):
            stamp = (start + dt.timedelta(seconds=i * step_s)).isoformat() if iso else f"{i * step_s:.3f}"
            w.writerow([stamp, f"{f:.4f}"])
    return hz


def hum_from_reference_wav(
    path: Path | str,
    *,
    reference_hz: np.ndarray,
    step_s: float = 1.0,
    pieces: Sequence[tuple[float, float]] = ((120.0, 60.0),),
    rate: int = 2000,
    hum_dbfs: float = -35.0,
    noise_dbfs: float = -55.0,
    speech_dbfs: float | None = -26.0,
    seed: int = 0,
) -> Path:
    """Write a recording whose hum follows an ENF reference log from known offsets.

    The reference is interpolated linearly (row ``i`` holds the frequency at ``i*step_s``). Each
    piece ``(offset_s, length_s)`` contributes ``length_s`` seconds of hum following the reference
    from ``offset_s`` on (with the phase it would have had in a continuous recording); several
    pieces are butt-joined, as an edit that assembles material recorded at different times.

    Parameters
    ----------
    path : Path
        Output ``.wav``.
    reference_hz : np.ndarray
        Shape (n_rows,): the reference frequencies in Hz (from :func:`enf_reference_csv`).
    step_s : float
        Time between reference rows in seconds.
    pieces : sequence of (offset_s, length_s)
        Offsets into the reference (s from its first row) and lengths (s) of the joined pieces.
    rate : int
        Sample rate in Hz.
    hum_dbfs, noise_dbfs, speech_dbfs : float
        Levels as in :func:`hum_wav`.
    seed : int
        Random seed of noise and speech.
    """
    ref = np.asarray(reference_hz, dtype=np.float64)
    ref_t = np.arange(ref.size) * step_s
    parts = []
    for offset, length in pieces:
        if offset < 0 or offset + length > ref_t[-1]:
            raise ForensicsError(f"piece ({offset}, {length}) lies outside the reference (0..{ref_t[-1]} s)")
        # Integrate from the reference's start so the phase is that of one continuous grid.
        t_full = np.arange(int(round((offset + length) * rate))) / rate
        hum = synthesize_hum(np.interp(t_full, ref_t, ref), rate,
                             amplitudes=[a * _level(hum_dbfs) * math.sqrt(2.0) for a in (1.0, 0.5, 0.35, 0.25)],
                             seed=seed)
        parts.append(hum[int(round(offset * rate)):])
    x = np.concatenate(parts)
    rng = np.random.default_rng(seed + 1)
    x += rng.standard_normal(x.size) * _level(noise_dbfs)
    if speech_dbfs is not None:
        x += speech_like(x.size, rate, level_dbfs=speech_dbfs, seed=seed + 2)
    return _write_wav(path, x, rate)


def splice_wav(
    path: Path | str,
    *,
    kind: str,
    rate: int = 8000,
    duration_s: float = 12.0,
    at_s: float = 6.0,
    speech_dbfs: float = -24.0,
    noise_dbfs: float = -60.0,
    second_noise_dbfs: float = -45.0,
    silence_s: float = 0.2,
    dc_step: float = 0.03,
    tone_hz: float = 220.0,
    pause_s: float = 0.3,
    seed: int = 0,
) -> Path:
    """Write speech-like material over stationary noise with one planted edit at ``at_s``.

    Editors cut in pauses: the speech fades out (20 ms raised-cosine ramps) over ``pause_s``
    centred on ``at_s`` in every kind, the clean one included; ``pause_s = 0`` puts the edit
    inside running speech.

    Kinds (:data:`SPLICE_KINDS`):

    * ``"clean"``: one continuous take (the counterpart that must not fire).
    * ``"noise_floor"``: the noise floor is ``noise_dbfs`` before ``at_s`` and
      ``second_noise_dbfs`` after it (two takes joined; the speech continues).
    * ``"spectral"``: the same noise level on both sides, low-passed (below 1 kHz) before and
      high-passed (above 2 kHz) after: the floor's spectral envelope changes.
    * ``"silence"``: ``silence_s`` of exact digital zeros inserted at ``at_s`` (the file grows by
      ``silence_s``).
    * ``"dc_step"``: ``dc_step`` (full scale = 1) added from ``at_s`` on.
    * ``"discontinuity"``: a sine tone (``tone_hz``, peak 0.3) plus the noise, cut at ``at_s``
      at a quarter cycle and joined to the same tone half a cycle on (a sample step of 0.6
      at the join); no speech.

    Parameters
    ----------
    path : Path
        Output ``.wav``.
    kind : str
        One of :data:`SPLICE_KINDS`.
    rate : int
        Sample rate in Hz.
    duration_s : float
        Duration in seconds (before an inserted silence).
    at_s : float
        Time of the edit in seconds.
    speech_dbfs, noise_dbfs, second_noise_dbfs : float
        Levels in dBFS (RMS of active speech; RMS of the noise before and after a noise-floor
        join).
    silence_s, dc_step, tone_hz : float
        Size of the planted silence (s), DC step (full scale) and the discontinuity's tone (Hz).
    pause_s : float
        Length of the pause in the speech around the edit (s).
    seed : int
        Random seed.
    """
    if kind not in SPLICE_KINDS:
        raise ForensicsError(f"unknown splice kind {kind!r}; known: {', '.join(SPLICE_KINDS)}")
    if not 0.0 < at_s < duration_s:
        raise ForensicsError(f"at_s={at_s} must lie inside the recording (0, {duration_s})")
    rng = np.random.default_rng(seed)
    n = int(round(duration_s * rate))
    cut = int(round(at_s * rate))
    noise = rng.standard_normal(n) * _level(noise_dbfs)
    if kind == "discontinuity":
        t = np.arange(n) / rate
        # Before the cut the tone sits at a quarter cycle at sample ``cut``; afterwards it jumps on by half a cycle.
        phase = 2.0 * np.pi * tone_hz * (t - t[cut]) + np.pi / 2.0
        phase[cut:] += np.pi
        return _write_wav(path, 0.3 * np.sin(phase) + noise, rate)
    x = speech_like(n, rate, level_dbfs=speech_dbfs, seed=seed + 1)
    if pause_s > 0:
        t = np.arange(n) / rate
        ramp = 0.02
        dist = np.abs(t - at_s) - pause_s / 2.0  # < 0 inside the pause
        gain = np.clip(dist / ramp, 0.0, 1.0)
        x *= np.sin(0.5 * np.pi * gain) ** 2
    if kind == "noise_floor":
        noise[cut:] *= _level(second_noise_dbfs - noise_dbfs)
    elif kind == "spectral":
        nyq = rate / 2.0
        lo = signal.sosfilt(signal.butter(6, 1000.0 / nyq, output="sos"), rng.standard_normal(n))
        hi = signal.sosfilt(signal.butter(6, 2000.0 / nyq, btype="high", output="sos"), rng.standard_normal(n))
        noise = np.concatenate([lo[:cut] / np.std(lo), hi[cut:] / np.std(hi)]) * _level(second_noise_dbfs)
    x = x + noise
    if kind == "dc_step":
        x[cut:] += dc_step
    if kind == "silence":
        x = np.concatenate([x[:cut], np.zeros(int(round(silence_s * rate))), x[cut:]])
    return _write_wav(path, x, rate)
