"""Common front end of recording alignment: any audio -> 16 kHz mono, level, speech activity, features.

Two recordings of the same material may differ in sample rate, channel count, level, codec and
length, and hold long silences. Everything the alignment compares goes through :func:`analyse`:

1. **Signal.** Channels are averaged, the signal is resampled (polyphase) to :data:`RATE` Hz and
   scaled so that its active speech has an RMS level of :data:`TARGET_DBFS` dBFS.
2. **Frames.** Frame ``k`` is centred on sample ``k * HOP`` (``t = k * 0.01`` s), 25 ms Hann
   window, 512-point FFT (the convention of :mod:`forensics_app.dsp.stft`).
3. **Log-mel spectra.** 40 mel bands (Slaney scale, 60-7800 Hz) in dB relative to a full-scale
   sine, floored 70 dB below the recording's loud level.
4. **Speech activity.** A frame is active when its mel energy is above
   ``max(loud - 40 dB, floor + 0.35 * (loud - floor))`` (loud = 95th, floor = 10th percentile
   of the frame energies); the mask is closed over gaps up to 60 ms and widened by 30 ms.
5. **Alignment vectors.** MFCC 1-19 of the log-mel spectra (c0, the level, dropped), mean- and
   variance-normalised over the recording's active frames and scaled to unit length; an inactive
   frame is instead the unit vector of one extra "silence" dimension. The vectors of the frames
   20 ms before, at and after each frame (:data:`CONTEXT`) are stacked and scaled by
   ``1 / sqrt(3)``, so the dot product of two stacked vectors is the mean cosine similarity of
   the three frame pairs: a match needs its neighbourhood to match too, which keeps two different
   words that share one vowel from aligning. No delta features: a time-stretched copy (phase
   vocoder) smears transients, and deltas doubled its mismatch with the original (median cosine
   distance 0.29 instead of 0.13 at rate 0.9).

Per-recording normalisation removes static channel differences (level, fixed equalisation);
codec noise and band limitation change the vectors only a little.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.fft
from scipy.ndimage import binary_closing, binary_dilation

from forensics_app.domain.errors import AnalyzerError
from forensics_app.dsp.stft import STFTSettings, power_to_db, stft_power
from forensics_app.training.audio_io import resample

__all__ = ["RATE", "HOP", "HOP_S", "MAX_DURATION_S", "TARGET_DBFS", "Prepared", "Features", "prepare",
           "speech_activity", "features", "analyse", "mel_filterbank"]

RATE = 16000
"""Analysis sample rate (Hz)."""
HOP = 160
"""Samples between frame centres (10 ms)."""
HOP_S = HOP / RATE
"""Seconds between frame centres."""
MAX_DURATION_S = 1800.0
"""Longest recording the alignment accepts (s): 30 minutes, 180 000 frames."""
TARGET_DBFS = -26.0
"""RMS level of active speech after normalisation (dBFS)."""
STFT = STFTSettings(window="hann", win_length=400, n_fft=512, hop=HOP)
N_MELS = 40
FMIN_HZ, FMAX_HZ = 60.0, 7800.0
N_CEPS = 19
CONTEXT = (-2, 0, 2)
"""Frame offsets stacked into one alignment vector (frames of 10 ms)."""
DYNAMIC_RANGE_DB = 70.0
CHUNK_FRAMES = 6000
"""Frames (60 s) whose power spectra are held at once."""


@dataclass(frozen=True)
class Prepared:
    """A recording brought to the analysis format.

    Attributes
    ----------
    wave : np.ndarray
        Shape (n,), float32 at :data:`RATE` Hz, level-normalised (may exceed 1.0 for loud peaks).
    gain_db : float
        Gain applied to reach :data:`TARGET_DBFS` (dB).
    source_rate : int
        Sample rate of the evidence (Hz).
    source_channels : int
        Channel count of the evidence.
    """

    wave: np.ndarray
    gain_db: float
    source_rate: int
    source_channels: int

    @property
    def duration_s(self) -> float:
        """Duration in seconds."""
        return len(self.wave) / RATE


@dataclass(frozen=True)
class Features:
    """Frame-level description of a prepared recording (frames every :data:`HOP_S` s).

    Attributes
    ----------
    times_s : np.ndarray
        Shape (n,), centre of each frame (s).
    log_mel_db : np.ndarray
        Shape (n, 40), float32, mel band levels (dB re full-scale sine, after level normalisation).
    band_hz : np.ndarray
        Shape (40,), centre frequency of each mel band (Hz).
    energy_db : np.ndarray
        Shape (n,), float32, frame energy (dB) used by the activity mask.
    active : np.ndarray
        Shape (n,), bool, speech activity.
    vectors : np.ndarray
        Shape (n, 3 * (N_CEPS + 1)), float32, unit-length stacked alignment vectors (see the
        module docstring).
    """

    times_s: np.ndarray
    log_mel_db: np.ndarray
    band_hz: np.ndarray
    energy_db: np.ndarray
    active: np.ndarray
    vectors: np.ndarray

    @property
    def n_frames(self) -> int:
        """Number of frames."""
        return int(self.times_s.size)

    @property
    def active_s(self) -> float:
        """Seconds of speech activity."""
        return float(np.count_nonzero(self.active)) * HOP_S


def mel_filterbank() -> tuple[np.ndarray, np.ndarray]:
    """The mel filterbank of the alignment features.

    Returns
    -------
    weights : np.ndarray
        Shape (40, 257), float32, Slaney-normalised triangular filters over the FFT bins.
    centres_hz : np.ndarray
        Shape (40,), centre frequency of each band (Hz).
    """
    import librosa

    weights = librosa.filters.mel(sr=RATE, n_fft=STFT.n_fft, n_mels=N_MELS, fmin=FMIN_HZ, fmax=FMAX_HZ)
    centres = librosa.mel_frequencies(n_mels=N_MELS + 2, fmin=FMIN_HZ, fmax=FMAX_HZ)[1:-1]
    return weights.astype(np.float32), centres


def _frame_rms_db(x: np.ndarray) -> np.ndarray:
    """RMS level (dBFS) of 25 ms frames centred every 10 ms, shape (1 + (n - 1) // HOP,).

    Sums of squares are taken over blocks of 40 samples (the greatest common divisor of the hop
    and the half window), a million samples at a time, so memory stays small for long recordings.
    """
    block = 40
    half = STFT.win_length // 2
    n_frames = 1 + (len(x) - 1) // HOP
    # blocks cover [-half, n + half): frame k spans blocks (k * HOP) / block + [0, win / block)
    padded_len = int(np.ceil((len(x) + 2 * half) / block)) * block
    sums = np.zeros(padded_len // block, np.float64)
    step = block * 25000
    for a in range(-half, len(x) + half, step):
        b = min(a + step, padded_len - half)
        seg = np.zeros(b - a, np.float32)
        lo, hi = max(a, 0), min(b, len(x))
        if hi > lo:
            seg[lo - a:hi - a] = x[lo:hi]
        sums[(a + half) // block:(b + half) // block] = np.square(seg, dtype=np.float64).reshape(-1, block).sum(axis=1)
    csum = np.concatenate([[0.0], np.cumsum(sums)])
    first = np.arange(n_frames) * (HOP // block)
    ms = (csum[first + STFT.win_length // block] - csum[first]) / STFT.win_length
    return 10.0 * np.log10(np.maximum(ms, 1e-20))


def speech_activity(energy_db: np.ndarray) -> np.ndarray:
    """Speech-activity mask from frame energies (see the module docstring).

    Parameters
    ----------
    energy_db : np.ndarray
        Shape (n,), frame energies in dB (any reference).

    Returns
    -------
    np.ndarray
        Shape (n,), bool.
    """
    e = np.asarray(energy_db, dtype=np.float64)
    if e.size == 0:
        return np.zeros(0, bool)
    loud = float(np.percentile(e, 95))
    floor = float(np.percentile(e, 10))
    threshold = max(loud - 40.0, floor + 0.35 * (loud - floor))
    mask = e > threshold
    if loud - floor < 6.0:  # no dynamics at all: steady noise or a tone, not speech with pauses
        mask[:] = loud > -90.0
    mask = binary_closing(mask, structure=np.ones(7, bool)) | mask
    return binary_dilation(mask, structure=np.ones(7, bool))


def prepare(samples: np.ndarray, *, rate: int) -> Prepared:
    """Mono, 16 kHz, level-normalised copy of a recording.

    Parameters
    ----------
    samples : np.ndarray
        Shape (n,) or (n, channels), float, full scale 1.0.
    rate : int
        Sample rate of ``samples`` (Hz).

    Returns
    -------
    Prepared

    Raises
    ------
    AnalyzerError
        Empty, non-finite, silent or over-long (> :data:`MAX_DURATION_S`) recordings.
    """
    a = np.asarray(samples, dtype=np.float32)
    channels = 1 if a.ndim == 1 else int(a.shape[1])
    mono = a if a.ndim == 1 else a.mean(axis=1, dtype=np.float32)
    if mono.size == 0 or rate <= 0:
        raise AnalyzerError("the recording holds no samples")
    duration = mono.size / float(rate)
    if duration > MAX_DURATION_S:
        raise AnalyzerError(f"the recording lasts {duration / 60:.1f} min; the alignment handles at most "
                            f"{MAX_DURATION_S / 60:.0f} min per recording: cut the passage to compare first")
    if not np.all(np.isfinite(mono)):
        raise AnalyzerError("the recording holds NaN or infinite samples")
    wave = resample(mono, src_rate=int(rate), dst_rate=RATE)
    if wave.size < STFT.win_length:
        raise AnalyzerError(f"the recording is too short to compare ({duration * 1000:.0f} ms)")
    db = _frame_rms_db(wave)
    active = speech_activity(db)
    if not active.any() or float(np.max(db)) < -100.0:
        raise AnalyzerError("the recording is silent: there is nothing to compare")
    level = 10.0 * np.log10(np.mean(10.0 ** (db[active] / 10.0)))
    gain_db = TARGET_DBFS - level
    wave = (wave * np.float32(10.0 ** (gain_db / 20.0))).astype(np.float32)
    return Prepared(wave=wave, gain_db=float(gain_db), source_rate=int(rate), source_channels=channels)


def features(prepared: Prepared) -> Features:
    """Frame features of a prepared recording (see the module docstring).

    Parameters
    ----------
    prepared : Prepared
        Output of :func:`prepare`.

    Returns
    -------
    Features
    """
    wave = prepared.wave
    weights, centres = mel_filterbank()
    n_frames = STFT.n_frames(len(wave))
    mel = np.empty((n_frames, N_MELS), np.float32)
    for k0 in range(0, n_frames, CHUNK_FRAMES):  # power spectra a minute at a time: bounded memory
        k1 = min(n_frames, k0 + CHUNK_FRAMES)
        mel[k0:k1] = (weights @ stft_power(wave, rate=RATE, settings=STFT, start_frame=k0, n_frames=k1 - k0)).T
    mel_db = power_to_db(mel, ref=STFT.full_scale_power(), floor_db=-150.0)
    energy = power_to_db(mel.sum(axis=1), ref=STFT.full_scale_power(), floor_db=-150.0)
    active = speech_activity(energy)
    loud = float(np.percentile(energy[active], 95)) if active.any() else float(np.max(energy))
    mel_db = np.maximum(mel_db, np.float32(loud - DYNAMIC_RANGE_DB - 10.0 * np.log10(N_MELS)))
    ceps = scipy.fft.dct(mel_db.astype(np.float64), type=2, norm="ortho", axis=1)[:, 1:N_CEPS + 1]
    ref = ceps[active] if np.count_nonzero(active) >= 10 else ceps
    ceps = (ceps - ref.mean(axis=0)) / (ref.std(axis=0) + 1e-6)
    ceps /= np.linalg.norm(ceps, axis=1, keepdims=True) + 1e-12
    frame = np.concatenate([np.where(active[:, None], ceps, 0.0), (~active)[:, None].astype(np.float64)], axis=1)
    idx = np.arange(len(frame))
    vec = np.concatenate([frame[np.clip(idx + o, 0, len(frame) - 1)] for o in CONTEXT], axis=1)
    vec /= np.sqrt(len(CONTEXT))
    times = np.arange(mel.shape[0]) * HOP_S
    return Features(times_s=times, log_mel_db=mel_db.astype(np.float32), band_hz=centres,
                    energy_db=energy.astype(np.float32), active=active, vectors=vec.astype(np.float32))


def analyse(samples: np.ndarray, *, rate: int) -> tuple[Prepared, Features]:
    """:func:`prepare` then :func:`features`.

    Parameters
    ----------
    samples : np.ndarray
        Shape (n,) or (n, channels).
    rate : int
        Sample rate (Hz).

    Returns
    -------
    (Prepared, Features)
    """
    prepared = prepare(samples, rate=rate)
    return prepared, features(prepared)
