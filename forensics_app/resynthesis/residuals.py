"""Per-frame and per-band residuals between a signal and its aligned resynthesis.

Frames: 32 ms (512 samples at 16 kHz) Hann windows centred every 10 ms (:data:`HOP`), each
zero-padded to a 1024-point FFT. Frame ``k`` is centred on sample ``first_centre + k * HOP`` of
the input. For each frame:

* **log-spectral distance** (dB): the RMS over FFT bins of the difference of the two log power
  spectra, overall (``lsd_db``) and per band (``band_lsd_db``, :data:`N_BANDS` mel-spaced bands
  from 0 Hz to 8 kHz). Bins are floored at :data:`FLOOR_DB` below the recording's speech level, so
  inaudible bins do not dominate.
* **mel-cepstral distortion** (dB): ``10 / ln 10 * sqrt(2 * sum_d (c_d - c'_d) ** 2)`` over
  cepstral coefficients 1-24 of a 40-band mel log-amplitude spectrum.
* **phase coherence** (0-1): ``|sum_k X_k conj(Y_k)| / sum_k |X_k| |Y_k|``, the magnitude-weighted
  mean resultant length of the per-bin phase differences. 1 when the output keeps the input's phase
  structure, near 0 when the phase was rebuilt.
* **harmonic-to-noise ratio change** (dB): HNR of the output minus HNR of the input, each from the
  peak of the window-corrected normalised autocorrelation at lags of 2-14 ms (500-71 Hz)
  (Boersma 1993), limited to +-30 dB.

Frames whose input power is more than :data:`SILENCE_DB` below the speech level are marked
inactive (``active`` False); their values are still computed but statistics leave them out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import lru_cache

import librosa
import numpy as np
import scipy.fft
from numpy.lib.stride_tricks import sliding_window_view

from forensics_app.domain.errors import ForensicsError
from forensics_app.dsp.scales import hz_to_mel, mel_to_hz

#: Sample rate (Hz), frame length, hop and FFT size (samples).
RATE, FRAME, HOP, N_FFT = 16000, 512, 160, 1024

#: Residual map bands (mel-spaced, 0 Hz to Nyquist).
N_BANDS = 32

#: Mel bands and cepstral coefficients (c1..c24) of the mel-cepstral distortion.
N_MELS_MCD, N_CEPS = 40, 24

#: Frames more than this many dB below the speech level are inactive (silence).
SILENCE_DB = 40.0

#: Spectral bins are floored this many dB below the speech level.
FLOOR_DB = 70.0

#: HNR search range (lags in samples: 500 Hz to 71 Hz) and limit (dB).
HNR_MIN_LAG, HNR_MAX_LAG, HNR_LIMIT_DB = 32, 225, 30.0

#: Percentile of frame powers that defines the speech level.
LEVEL_PERCENTILE = 95.0

_MCD_SCALE = 10.0 / np.log(10.0) * np.sqrt(2.0)


@dataclass(frozen=True)
class FrameResiduals:
    """Residuals of one round trip, frame by frame.

    Attributes
    ----------
    times_s : np.ndarray
        Shape (n_frames,), frame centres in seconds from the start of the input.
    active : np.ndarray
        Shape (n_frames,), bool: False for silent frames (left out of statistics).
    band_lsd_db : np.ndarray
        Shape (N_BANDS, n_frames), float32: log-spectral distance per band (dB).
    lsd_db : np.ndarray
        Shape (n_frames,): log-spectral distance over all bins (dB).
    mcd_db : np.ndarray
        Shape (n_frames,): mel-cepstral distortion (dB).
    phase_coherence : np.ndarray
        Shape (n_frames,): phase coherence in [0, 1].
    hnr_change_db : np.ndarray
        Shape (n_frames,): HNR of the output minus HNR of the input (dB).
    """

    times_s: np.ndarray
    active: np.ndarray
    band_lsd_db: np.ndarray
    lsd_db: np.ndarray
    mcd_db: np.ndarray
    phase_coherence: np.ndarray
    hnr_change_db: np.ndarray

    @property
    def n_frames(self) -> int:
        """Number of frames."""
        return int(self.times_s.size)

    def take(self, keep: np.ndarray) -> FrameResiduals:
        """The frames selected by the boolean or index array ``keep``."""
        return FrameResiduals(times_s=self.times_s[keep], active=self.active[keep],
                              band_lsd_db=self.band_lsd_db[:, keep], lsd_db=self.lsd_db[keep],
                              mcd_db=self.mcd_db[keep], phase_coherence=self.phase_coherence[keep],
                              hnr_change_db=self.hnr_change_db[keep])

    def shifted(self, offset_s: float) -> FrameResiduals:
        """The same frames with ``offset_s`` seconds added to their times."""
        return replace(self, times_s=self.times_s + offset_s)


def concat(parts: Sequence[FrameResiduals]) -> FrameResiduals:
    """Frames of ``parts`` one after another (chunks of one recording, in time order)."""
    if not parts:
        raise ForensicsError("no residual frames to concatenate")
    return FrameResiduals(
        times_s=np.concatenate([p.times_s for p in parts]),
        active=np.concatenate([p.active for p in parts]),
        band_lsd_db=np.concatenate([p.band_lsd_db for p in parts], axis=1),
        lsd_db=np.concatenate([p.lsd_db for p in parts]),
        mcd_db=np.concatenate([p.mcd_db for p in parts]),
        phase_coherence=np.concatenate([p.phase_coherence for p in parts]),
        hnr_change_db=np.concatenate([p.hnr_change_db for p in parts]),
    )


@lru_cache(maxsize=1)
def _constants() -> dict[str, np.ndarray]:
    """Window, band-averaging matrix, MCD filter bank and DCT, window autocorrelation."""
    window = np.hanning(FRAME + 1)[:-1]
    n_bins = N_FFT // 2 + 1
    freqs = np.arange(n_bins) * RATE / N_FFT
    edges = mel_to_hz(np.linspace(0.0, hz_to_mel(RATE / 2), N_BANDS + 1))
    band = np.clip(np.searchsorted(edges, freqs, side="right") - 1, 0, N_BANDS - 1)
    bands = np.zeros((N_BANDS, n_bins))
    bands[band, np.arange(n_bins)] = 1.0
    bands = (bands / np.maximum(bands.sum(axis=1, keepdims=True), 1.0)).astype(np.float32)
    mel = librosa.filters.mel(sr=RATE, n_fft=N_FFT, n_mels=N_MELS_MCD, fmin=0.0, fmax=RATE / 2).astype(np.float32)
    dct = scipy.fft.dct(np.eye(N_MELS_MCD), type=2, norm="ortho", axis=0)[1:N_CEPS + 1].astype(np.float32)
    w_ac = scipy.fft.irfft(np.abs(scipy.fft.rfft(window, N_FFT)) ** 2, N_FFT)
    return {"window": window, "bands": bands, "edges": edges, "mel": mel, "dct": dct,
            "w_ac": w_ac[: HNR_MAX_LAG + 1] / w_ac[0]}


def band_edges_hz() -> np.ndarray:
    """Edges of the :data:`N_BANDS` residual bands in Hz, shape (N_BANDS + 1,)."""
    return _constants()["edges"].copy()


def band_centres_hz() -> np.ndarray:
    """Centre (mean of the edges) of each residual band in Hz, shape (N_BANDS,)."""
    e = _constants()["edges"]
    return 0.5 * (e[:-1] + e[1:])


def frame_centres(n: int, *, first_centre: int = 0) -> np.ndarray:
    """Sample indices of the frame centres ``first_centre + k * HOP`` inside ``[0, n)``, shape (n_frames,)."""
    if n <= first_centre:
        return np.zeros(0, dtype=np.int64)
    return np.arange(first_centre, n, HOP, dtype=np.int64)


def _frames(x: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """Frames of FRAME samples centred on ``centres`` (zeros beyond the ends), shape (n_frames, FRAME)."""
    half = FRAME // 2
    padded = np.concatenate([np.zeros(half), np.asarray(x, dtype=np.float64), np.zeros(half)])
    return sliding_window_view(padded, FRAME)[centres]


def frame_power_db(x: np.ndarray, *, first_centre: int = 0) -> np.ndarray:
    """Window-weighted mean power of each frame of ``x`` in dB (re full-scale 1.0), shape (n_frames,)."""
    w = _constants()["window"]
    fr = _frames(x, frame_centres(len(x), first_centre=first_centre)) * w
    return 10.0 * np.log10(np.maximum(np.sum(fr * fr, axis=1) / np.sum(w * w), 1e-20))


def speech_level_db(frame_db: np.ndarray) -> float:
    """Speech level: the :data:`LEVEL_PERCENTILE` percentile of frame powers (dB); -200 for no frames."""
    return float(np.percentile(frame_db, LEVEL_PERCENTILE)) if frame_db.size else -200.0


@dataclass(frozen=True)
class SpectralAnalysis:
    """What the residuals need of one signal, frame by frame (computed once per input, reused for
    every round trip's output).

    Attributes
    ----------
    centres : np.ndarray
        Shape (n_frames,), int: frame centres (samples).
    level_db : float
        Speech level the floor and silence mask refer to (dB).
    spectrum : np.ndarray
        Shape (n_frames, N_FFT // 2 + 1), complex64: windowed spectra.
    log_power_db : np.ndarray
        Shape (n_frames, N_FFT // 2 + 1), float32: power per bin (dB), floored.
    log_mel : np.ndarray
        Shape (n_frames, N_MELS_MCD), float32: natural-log mel amplitudes, floored.
    hnr_db : np.ndarray
        Shape (n_frames,): harmonic-to-noise ratio (dB).
    frame_db : np.ndarray
        Shape (n_frames,): frame power (dB).
    """

    centres: np.ndarray
    level_db: float
    spectrum: np.ndarray
    log_power_db: np.ndarray
    log_mel: np.ndarray
    hnr_db: np.ndarray
    frame_db: np.ndarray


def _hnr_db(power: np.ndarray) -> np.ndarray:
    """HNR of each frame (dB) from its power spectrum (n_frames, bins), shape (n_frames,)."""
    ac = scipy.fft.irfft(power, N_FFT, axis=1)[:, : HNR_MAX_LAG + 1]
    r = ac[:, HNR_MIN_LAG:] / np.maximum(ac[:, :1], 1e-30) / _constants()["w_ac"][HNR_MIN_LAG:]
    peak = np.clip(r.max(axis=1), 1e-3, 1.0 - 1e-3)
    return np.clip(10.0 * np.log10(peak / (1.0 - peak)), -HNR_LIMIT_DB, HNR_LIMIT_DB)


def analyse(x: np.ndarray, *, level_db: float, first_centre: int = 0) -> SpectralAnalysis:
    """Spectral analysis of ``x`` (shape (n,), :data:`RATE` Hz) on frames from ``first_centre`` every :data:`HOP`.

    ``level_db`` is the recording's speech level (dB, :func:`speech_level_db`): bins are floored
    :data:`FLOOR_DB` below it.
    """
    c = _constants()
    centres = frame_centres(len(x), first_centre=first_centre)
    frames = (_frames(x, centres) * c["window"]).astype(np.float32)
    spec = scipy.fft.rfft(frames, N_FFT, axis=1)
    power = (spec.real**2 + spec.imag**2) / np.float32(np.sum(c["window"] ** 2))
    floor = np.float32(10.0 ** ((level_db - FLOOR_DB) / 10.0))
    return SpectralAnalysis(
        centres=centres, level_db=float(level_db), spectrum=spec,
        log_power_db=10.0 * np.log10(np.maximum(power, floor)),
        log_mel=0.5 * np.log(np.maximum(power @ c["mel"].T, floor)),
        hnr_db=_hnr_db(power),
        frame_db=10.0 * np.log10(np.maximum(2.0 * power.sum(axis=1, dtype=np.float64) / N_FFT, 1e-20)),
    )


def compare(reference: SpectralAnalysis, output: SpectralAnalysis) -> FrameResiduals:
    """Frame residuals between the analyses of an input and its aligned resynthesis (same frames)."""
    if not np.array_equal(reference.centres, output.centres) or reference.level_db != output.level_db:
        raise ForensicsError("residuals need the input and the output analysed on the same frames and level")
    c = _constants()
    ldiff2 = (reference.log_power_db - output.log_power_db) ** 2
    band_lsd = np.sqrt(c["bands"] @ ldiff2.T).astype(np.float32)
    lsd = np.sqrt(ldiff2.mean(axis=1, dtype=np.float64))
    mcd = _MCD_SCALE * np.sqrt(np.sum(((reference.log_mel - output.log_mel) @ c["dct"].T) ** 2, axis=1,
                                      dtype=np.float64))
    sx, sy = reference.spectrum, output.spectrum
    cross = np.abs(np.sum(sx * np.conj(sy), axis=1, dtype=np.complex128))
    weight = np.sum(np.abs(sx) * np.abs(sy), axis=1, dtype=np.float64)
    coherence = np.where(weight > 0.0, cross / np.maximum(weight, 1e-30), 0.0)
    return FrameResiduals(times_s=reference.centres / RATE,
                          active=reference.frame_db >= reference.level_db - SILENCE_DB,
                          band_lsd_db=band_lsd, lsd_db=lsd, mcd_db=mcd,
                          phase_coherence=np.clip(coherence, 0.0, 1.0),
                          hnr_change_db=(output.hnr_db - reference.hnr_db).astype(np.float64))


def residual_frames(reference: np.ndarray, output: np.ndarray, *, level_db: float | None = None,
                    first_centre: int = 0) -> FrameResiduals:
    """Residuals between ``reference`` and its aligned resynthesis ``output`` (see the module docstring).

    Parameters
    ----------
    reference : np.ndarray
        Shape (n,), the round trip's input at :data:`RATE` Hz.
    output : np.ndarray
        Shape (n,), the aligned, gain-matched output (:func:`..sample_align.align`).
    level_db : float, optional
        Speech level of the whole recording (dB, :func:`speech_level_db` of :func:`frame_power_db`),
        so the silence mask and the spectral floor do not change from chunk to chunk; default:
        measured on ``reference``.
    first_centre : int
        Sample index of the first frame centre (frames every :data:`HOP` samples from there).

    Returns
    -------
    FrameResiduals
        Times are ``centre / RATE`` seconds from the start of ``reference``.
    """
    x = np.asarray(reference, dtype=np.float64)
    y = np.asarray(output, dtype=np.float64)
    if x.ndim != 1 or y.shape != x.shape:
        raise ForensicsError(f"residuals need two 1-D signals of the same length, got {x.shape} and {y.shape}")
    if level_db is None:
        level_db = speech_level_db(frame_power_db(x, first_centre=first_centre))
    return compare(analyse(x, level_db=level_db, first_centre=first_centre),
                   analyse(y, level_db=level_db, first_centre=first_centre))
