"""Frame features for aligning two different voices saying the same words.

The synthetic rendering and the questioned recording differ in speaker, rate, level, channel and
background, so the features keep what the words share and drop the rest:

* 16 kHz mono (channels averaged, polyphase resampling);
* mel-frequency cepstra c1..c12 (25 ms Hann window, 40 mel bands 60-7600 Hz, c0 = level dropped),
  mean- and variance-normalised over the recording's *speech* frames (cepstral mean and variance
  normalisation removes the fixed spectral tilt of a voice, a microphone or a codec), with their
  first differences (regression over +-2 frames) at half weight; rows scaled to unit length so
  two frames compare by cosine;
* a soft speech probability per frame from its level: a logistic step 2 dB wide at the higher
  of (loud level - 40 dB) and (floor + 35 % of the loud-to-floor range), loud and floor being
  the 95th and 5th percentiles of the frame levels; silence carries no spectral information, so
  the frame cost (:func:`frame_cost`) compares silence with silence by this probability only.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import scipy.fft

from forensics_app.dsp.scales import hz_to_mel, mel_to_hz
from forensics_app.dsp.stft import STFTSettings, stft_power
from forensics_app.training.audio_io import resample, to_mono

#: Analysis sample rate (Hz).
RATE = 16000
#: Frame hop of the fine alignment (s).
HOP_S = 0.01
_WIN = 400
_N_FFT = 512
_N_MELS = 40
_N_CEPS = 12
#: Weight of the cepstral differences against the cepstra.
DELTA_WEIGHT = 1.0


@dataclass(frozen=True)
class FrameFeatures:
    """Per-frame features of one recording.

    Attributes
    ----------
    hop_s : float
        Frame hop (s); frame ``k`` is centred at ``k * hop_s``.
    vectors : np.ndarray
        Shape (n_frames, 24), float32, unit-length rows (normalised cepstra and deltas).
    speech : np.ndarray
        Shape (n_frames,), float32 in [0, 1]: how likely the frame holds speech (by level).
    level_db : np.ndarray
        Shape (n_frames,), float32: frame RMS level (dBFS).
    """

    hop_s: float
    vectors: np.ndarray
    speech: np.ndarray
    level_db: np.ndarray

    @property
    def n_frames(self) -> int:
        """Number of frames."""
        return int(self.speech.size)

    @property
    def times_s(self) -> np.ndarray:
        """Frame centres (s), shape (n_frames,)."""
        return np.arange(self.n_frames) * self.hop_s


def analysis_signal(samples: np.ndarray, *, rate: int) -> np.ndarray:
    """Mono float32 at :data:`RATE` from a (n,) or (n, channels) signal at ``rate`` Hz."""
    return resample(to_mono(samples), src_rate=int(rate), dst_rate=RATE)


@lru_cache(maxsize=2)
def _mel_matrix() -> np.ndarray:
    """Triangular mel filters, shape (n_mels, n_fft // 2 + 1), area-normalised."""
    freqs = np.arange(_N_FFT // 2 + 1) * RATE / _N_FFT
    edges = mel_to_hz(np.linspace(hz_to_mel(np.array(60.0)), hz_to_mel(np.array(7600.0)), _N_MELS + 2))
    lo, mid, hi = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    tri = np.maximum(0.0, np.minimum((freqs - lo) / (mid - lo), (hi - freqs) / (hi - mid)))
    return (tri / np.maximum(tri.sum(axis=1, keepdims=True), 1e-12)).astype(np.float32)


def speech_probability(level_db: np.ndarray) -> np.ndarray:
    """Soft speech/silence decision from frame levels (see the module docstring), shape as input."""
    lv = np.maximum(np.asarray(level_db, dtype=np.float64), -120.0)
    if lv.size == 0:
        return lv.astype(np.float32)
    loud, floor = np.percentile(lv, 95), np.percentile(lv, 5)
    threshold = max(loud - 40.0, floor + 0.35 * (loud - floor))
    return (1.0 / (1.0 + np.exp(-(lv - threshold) / 2.0))).astype(np.float32)


def _deltas(c: np.ndarray) -> np.ndarray:
    """Regression slope over +-2 frames, shape as ``c`` (frames, dims)."""
    p = np.pad(c, ((2, 2), (0, 0)), mode="edge")
    return (p[3:-1] - p[1:-3] + 2 * (p[4:] - p[:-4])) / 10.0


def frame_features(x: np.ndarray, *, hop_s: float = HOP_S) -> FrameFeatures:
    """Features of a mono 16 kHz signal.

    Parameters
    ----------
    x : np.ndarray
        Shape (n,), float32 at :data:`RATE` (from :func:`analysis_signal`).
    hop_s : float
        Frame hop (s).

    Returns
    -------
    FrameFeatures
        One row per frame centred at ``k * hop_s``.
    """
    hop = max(1, int(round(hop_s * RATE)))
    settings = STFTSettings(window="hann", win_length=_WIN, n_fft=_N_FFT, hop=hop)
    power = stft_power(np.asarray(x, dtype=np.float32), rate=RATE, settings=settings).T  # (frames, bins)
    full_scale = settings.full_scale_power()
    level_db = (10 * np.log10(np.maximum(power.sum(axis=1) / (full_scale * _N_FFT / 4), 1e-12))).astype(np.float32)
    mel = power @ _mel_matrix().T
    log_mel = np.log(np.maximum(mel, max(float(mel.max(initial=0.0)), 1e-20) * 1e-8))
    ceps = scipy.fft.dct(log_mel, type=2, norm="ortho", axis=1)[:, 1 : _N_CEPS + 1]
    speech = speech_probability(level_db)
    weight = speech.astype(np.float64) ** 2 + 1e-6
    mean = (ceps * weight[:, None]).sum(axis=0) / weight.sum()
    std = np.sqrt((((ceps - mean) ** 2) * weight[:, None]).sum(axis=0) / weight.sum())
    c = (ceps - mean) / np.maximum(std, 1e-6)
    v = np.concatenate([c, DELTA_WEIGHT * _deltas(c)], axis=1)
    v /= np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-9)
    return FrameFeatures(hop_s=hop / RATE, vectors=v.astype(np.float32), speech=speech, level_db=level_db)


def pooled(f: FrameFeatures, factor: int) -> FrameFeatures:
    """Average ``factor`` consecutive frames (a coarser hop); rows renormalised to unit length."""
    if factor <= 1:
        return f
    n = -(-f.n_frames // factor)
    pad = n * factor - f.n_frames

    def pool(a: np.ndarray) -> np.ndarray:
        a2 = np.concatenate([a, np.repeat(a[-1:], pad, axis=0)]) if pad else a
        return a2.reshape(n, factor, *a.shape[1:]).mean(axis=1)

    v = pool(f.vectors)
    v /= np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-9)
    return FrameFeatures(hop_s=f.hop_s * factor, vectors=v.astype(np.float32), speech=pool(f.speech).astype(np.float32),
                         level_db=pool(f.level_db).astype(np.float32))


def frame_cost(q_vector: np.ndarray, q_speech: float, s_vectors: np.ndarray, s_speech: np.ndarray) -> np.ndarray:
    """Cost of matching one questioned frame with several synthetic frames, in [0, 1] (0 = same).

    ``|p_q - p_s| + min(p_q, p_s) * (1 - cos) / 2``: silence against silence costs 0, speech
    against silence about 1, speech against speech the cosine distance of the features.

    Parameters
    ----------
    q_vector : np.ndarray
        Shape (d,), one questioned frame.
    q_speech : float
        Its speech probability.
    s_vectors : np.ndarray
        Shape (m, d), synthetic frames.
    s_speech : np.ndarray
        Shape (m,), their speech probabilities.

    Returns
    -------
    np.ndarray
        Shape (m,), float32.
    """
    cos_dist = 0.5 * (1.0 - s_vectors @ q_vector)
    return (np.abs(q_speech - s_speech) + np.minimum(q_speech, s_speech) * cos_dist).astype(np.float32)
