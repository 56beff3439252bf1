"""ENF front end: decimation to about 1 kHz and the choice of the mains component.

1. :func:`decimate_for_enf`: one channel (or the channel mean), low-passed below 300 Hz
   (10th-order Butterworth, block by block with carried filter state, so a recording of hours is
   only ever held as float64 one block at a time) and kept every ``M``-th sample,
   ``M = rate // 1000``: about 1 kHz, enough for the 4th harmonic of 60 Hz.
2. :func:`detect_mains`: a Welch spectrum of that signal (8 s Hann segments, 0.125 Hz bins)
   gives each candidate harmonic's *prominence*: the highest bin within
   ``k*(nominal +- max_deviation_hz)`` over the median of the bins 1 to 4 Hz beyond it, in dB.
   The nominal frequency (50 or 60 Hz) with the larger best prominence is chosen.

The track itself is estimated by :mod:`forensics_app.dsp.enf`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy import signal

from forensics_app.domain.errors import AnalyzerError
from forensics_app.domain.jobs import Progress

NOMINALS_HZ = (50.0, 60.0)
"""Mains frequencies considered by the automatic choice."""


_BLOCK = 1 << 18  # input samples per block
_DECIMATED_HZ = 1000.0
_CUTOFF_HZ = 300.0


class _NoProgress:
    def report(self, fraction: float, message: str = "") -> None:
        """Ignore."""

    @property
    def cancelled(self) -> bool:
        """Never."""
        return False

    def check(self) -> None:
        """Never raises."""


@dataclass(frozen=True)
class Decimated:
    """The mono signal at about 1 kHz.

    Attributes
    ----------
    samples : np.ndarray
        Shape (m,), float32.
    rate : float
        Sample rate in Hz (``source_rate / factor``).
    factor : int
        Decimation factor.
    sos : np.ndarray
        The anti-alias filter (second-order sections at the source rate), None when not filtered.
    source_rate : int
        Rate of the source in Hz.
    """

    samples: np.ndarray
    rate: float
    factor: int
    sos: np.ndarray | None = field(repr=False)
    source_rate: int

    def delay_s(self, freq_hz: float) -> float:
        """Group delay of the anti-alias filter at ``freq_hz``, in seconds."""
        return 0.0 if self.sos is None else _group_delay_s(self.sos, freq_hz, float(self.source_rate))


@dataclass(frozen=True)
class MainsDetection:
    """Which mains component a recording carries.

    Attributes
    ----------
    nominal_hz : float or None
        The chosen nominal frequency (Hz), None when no candidate reaches the threshold.
    prominence_db : dict
        ``{nominal: [prominence of harmonic 1, 2, ...]}`` in dB (NaN above the usable band).
    harmonics : tuple of int
        Harmonics of the chosen nominal frequency that are used (prominence at least half the
        threshold, always including the most prominent one).
    threshold_db : float
        The prominence a candidate's best harmonic needed.
    resolution_hz : float
        Bin spacing of the Welch spectrum in Hz.
    """

    nominal_hz: float | None
    prominence_db: dict[float, list[float]]
    harmonics: tuple[int, ...]
    threshold_db: float
    resolution_hz: float


def _group_delay_s(sos: np.ndarray, freq_hz: float, fs: float) -> float:
    """Group delay of ``sos`` at ``freq_hz`` (s), by a central difference of the phase."""
    eps = max(1e-4, 1e-6 * fs)
    f = np.array([max(freq_hz - eps, 0.0), freq_hz + eps])
    _, h = signal.sosfreqz(sos, worN=f, fs=fs)
    dphi = np.angle(h[1] / h[0])
    return float(-dphi / (2.0 * np.pi * (f[1] - f[0])))


def _mono_block(x: np.ndarray, start: int, stop: int, channel: int) -> np.ndarray:
    """Samples ``start:stop`` of one channel (or the mean for ``channel < 0``) as float64."""
    block = np.asarray(x[start:stop])
    if block.ndim == 1:
        return block.astype(np.float64)
    if channel < 0:
        return block.mean(axis=1, dtype=np.float64)
    return block[:, channel].astype(np.float64)


def decimate_for_enf(x: np.ndarray, rate: int, *, channel: int = -1, progress: Progress | None = None,
                     span: tuple[float, float] = (0.0, 1.0)) -> Decimated:
    """Low-pass and decimate to about 1 kHz, block by block.

    Parameters
    ----------
    x : np.ndarray
        Shape (n,) or (n, channels), float (a memory map is read one block at a time).
    rate : int
        Sample rate in Hz.
    channel : int
        Channel to use; negative: the mean of all channels.
    progress : Progress, optional
        Reported over ``span`` (start, width) and checked per block.
    span : (float, float)
        Part of the progress range this step covers.

    Returns
    -------
    Decimated
        The signal at ``rate // (rate // 1000)`` Hz (the source rate when below 2 kHz).
    """
    progress = progress or _NoProgress()
    n = int(x.shape[0])
    if x.ndim == 2 and channel >= x.shape[1]:
        raise AnalyzerError(f"channel {channel} does not exist (the audio has {x.shape[1]} channels)")
    factor = max(1, int(rate // _DECIMATED_HZ))
    cutoff = min(_CUTOFF_HZ, 0.4 * rate / factor)
    sos = signal.butter(10, cutoff, fs=rate, output="sos") if factor > 1 else None
    out = np.empty((n + factor - 1) // factor, dtype=np.float32)
    block = max(factor, (_BLOCK // factor) * factor)
    zi = None
    for b0 in range(0, n, block):
        progress.check()
        y = _mono_block(x, b0, min(b0 + block, n), channel)
        if sos is not None:
            if zi is None:
                zi = signal.sosfilt_zi(sos) * y[0]
            y, zi = signal.sosfilt(sos, y, zi=zi)
        out[b0 // factor:b0 // factor + (y.size + factor - 1) // factor] = y[::factor]
        progress.report(span[0] + span[1] * min(b0 + block, n) / max(n, 1), "decimating")
    return Decimated(samples=out, rate=rate / factor, factor=factor, sos=sos, source_rate=int(rate))


def welch_psd(x: np.ndarray, fs: float, *, segment_s: float = 8.0) -> tuple[np.ndarray, np.ndarray]:
    """Welch power spectral density (Hann, 50% overlap), computed in chunks of segments.

    Parameters
    ----------
    x : np.ndarray
        Shape (m,), float.
    fs : float
        Sample rate in Hz.
    segment_s : float
        Segment length in seconds (shortened to a quarter of the signal when it is short).

    Returns
    -------
    freqs : np.ndarray
        Shape (b,), Hz.
    psd : np.ndarray
        Shape (b,), power per Hz (full scale = 1.0).
    """
    nper = int(min(round(segment_s * fs), max(len(x) // 4, 64)))
    nper = max(min(nper, len(x)), 8)
    hop = nper // 2
    win = signal.windows.hann(nper, sym=False)
    scale = 1.0 / (fs * float(np.sum(win ** 2)))
    segs = np.lib.stride_tricks.sliding_window_view(x, nper)[::hop]
    acc = np.zeros(nper // 2 + 1)
    for c0 in range(0, len(segs), 128):
        chunk = np.asarray(segs[c0:c0 + 128], dtype=np.float64)
        chunk = chunk - chunk.mean(axis=1, keepdims=True)
        acc += np.sum(np.abs(np.fft.rfft(chunk * win, axis=1)) ** 2, axis=0)
    psd = 2.0 * scale * acc / max(len(segs), 1)
    return np.fft.rfftfreq(nper, 1.0 / fs), psd


def harmonic_prominence_db(freqs: np.ndarray, psd: np.ndarray, *, nominal_hz: float, harmonics: int,
                           max_deviation_hz: float, usable_hz: float) -> list[float]:
    """Prominence (dB) of harmonics ``1..harmonics`` of ``nominal_hz`` in a power spectrum.

    The highest bin within ``k*(nominal +- max_deviation_hz)`` (widened by one bin) over the
    median of the bins 1 to 4 Hz beyond that band on both sides. NaN for harmonics above
    ``usable_hz``.
    """
    res = float(freqs[1] - freqs[0])
    out = []
    tiny = 1e-30
    for k in range(1, harmonics + 1):
        centre, half = k * nominal_hz, k * max_deviation_hz + res
        if centre + half + 4.0 >= usable_hz:
            out.append(float("nan"))
            continue
        band = (freqs >= centre - half) & (freqs <= centre + half)
        off = np.abs(freqs - centre)
        ring = (off >= half + 1.0) & (off <= half + 4.0)
        out.append(10.0 * math.log10((float(psd[band].max()) + tiny) / (float(np.median(psd[ring])) + tiny)))
    return out


def detect_mains(dec: Decimated, *, nominal_hz: float | None = None, harmonics: int = 4,
                 max_deviation_hz: float = 0.25, threshold_db: float = 6.0) -> MainsDetection:
    """Choose the nominal mains frequency and the harmonics to track.

    Parameters
    ----------
    dec : Decimated
        From :func:`decimate_for_enf`.
    nominal_hz : float, optional
        Force 50 or 60 Hz (the detection still measures both).
    harmonics : int
        Highest harmonic considered (1 to 4).
    max_deviation_hz : float
        Largest deviation of the fundamental from nominal that is searched (Hz).
    threshold_db : float
        Prominence the best harmonic must reach for the mains component to count as present.
    """
    usable = min(_CUTOFF_HZ, 0.45 * dec.rate) if dec.sos is not None else 0.45 * dec.rate
    freqs, psd = welch_psd(dec.samples, dec.rate)
    prom = {f0: harmonic_prominence_db(freqs, psd, nominal_hz=f0, harmonics=harmonics,
                                       max_deviation_hz=max_deviation_hz, usable_hz=usable)
            for f0 in NOMINALS_HZ}

    def best(values: list[float]) -> float:
        finite = [v for v in values if math.isfinite(v)]
        return max(finite) if finite else float("-inf")

    if nominal_hz is not None:
        if nominal_hz not in prom:
            prom[nominal_hz] = harmonic_prominence_db(freqs, psd, nominal_hz=nominal_hz, harmonics=harmonics,
                                                      max_deviation_hz=max_deviation_hz, usable_hz=usable)
        chosen: float | None = nominal_hz if best(prom[nominal_hz]) >= threshold_db else None
    else:
        top = max(NOMINALS_HZ, key=lambda f0: best(prom[f0]))
        chosen = top if best(prom[top]) >= threshold_db else None
    used: tuple[int, ...] = ()
    if chosen is not None:
        values = prom[chosen]
        k_best = 1 + int(np.nanargmax(values))
        used = tuple(k for k, v in enumerate(values, start=1)
                     if math.isfinite(v) and (v >= threshold_db / 2.0 or k == k_best))
    return MainsDetection(nominal_hz=chosen, prominence_db=prom, harmonics=used, threshold_db=threshold_db,
                          resolution_hz=float(freqs[1] - freqs[0]))
