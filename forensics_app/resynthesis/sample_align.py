"""Aligning a round trip's output with its input to the sample, and matching its gain.

The lag is the peak of the waveform cross-correlation within +-:data:`MAX_LAG` samples, when that
peak's normalised correlation reaches :data:`MIN_WAVEFORM_CORRELATION`: the output then keeps the
input's waveform (the neural vocoder on its own output, WORLD on WORLD speech) and the lag is
exact to the sample. A vocoder that rebuilds the phase (WORLD, LPC and Griffin-Lim on natural
speech) leaves no waveform to line up: the cross-correlation has no clear peak and its maximum
falls on a random pitch period. Then the round trip's designed latency (``nominal_lag``, 0 for
every built-in round trip, which all keep their frames centred) is used, and the alignment says
so (``method="nominal"``). The residuals that do not depend on phase use 32 ms frames, which a
lag error of a fraction of a frame barely changes. The gain makes the aligned output's energy
equal to the input's over the samples they share.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.fft

from forensics_app.domain.errors import ForensicsError

#: Largest lag searched, in samples each way (25 ms at 16 kHz).
MAX_LAG = 400

#: Below this normalised waveform correlation the nominal lag is used.
MIN_WAVEFORM_CORRELATION = 0.5



@dataclass(frozen=True)
class Alignment:
    """How a round trip's output lines up with its input.

    Attributes
    ----------
    lag : int
        Delay of the output in samples: ``output[n + lag]`` lines up with ``input[n]``.
    gain : float
        Linear factor applied to the output to match the input's energy.
    correlation : float
        Normalised waveform cross-correlation at ``lag``, in [-1, 1] (1: identical up to gain).
    method : str
        ``"waveform"`` (the cross-correlation peak) or ``"nominal"`` (the designed latency, used
        when the waveform correlation is below :data:`MIN_WAVEFORM_CORRELATION`).
    """

    lag: int
    gain: float
    correlation: float
    method: str


def _xcorr(a: np.ndarray, b: np.ndarray, max_lag: int) -> tuple[np.ndarray, np.ndarray]:
    """Cross-correlation ``c[l] = sum_n b[n + l] a[n]`` for ``l`` in ``[-max_lag, max_lag]``.

    Returns
    -------
    lags : np.ndarray
        Shape (2 * max_lag + 1,), int.
    c : np.ndarray
        Shape (2 * max_lag + 1,), float64.
    """
    n = scipy.fft.next_fast_len(len(a) + max_lag + 1, real=True)
    spec = scipy.fft.rfft(b, n) * np.conj(scipy.fft.rfft(a, n))
    full = scipy.fft.irfft(spec, n)
    lags = np.arange(-max_lag, max_lag + 1)
    return lags, full[lags % n]


def _shared_energy(x: np.ndarray, y: np.ndarray, lag: int) -> tuple[float, float]:
    """Energies of ``x[n]`` and ``y[n + lag]`` over the samples both cover."""
    n = len(x)
    lo, hi = max(0, -lag), min(n, len(y) - lag)
    if hi <= lo:
        return 0.0, 0.0
    xs, ys = x[lo:hi], y[lo + lag: hi + lag]
    return float(np.dot(xs, xs)), float(np.dot(ys, ys))


def estimate_alignment(reference: np.ndarray, output: np.ndarray, *, max_lag: int = MAX_LAG,
                       nominal_lag: int = 0) -> Alignment:
    """Lag and gain that line ``output`` up with ``reference``.

    Parameters
    ----------
    reference : np.ndarray
        Shape (n,), the round trip's input (any rate; the lag is in its samples).
    output : np.ndarray
        Shape (n,), the round trip's output, same length.
    max_lag : int
        Largest lag searched each way (samples).
    nominal_lag : int
        The round trip's designed latency (samples), used when the waveforms do not correlate.

    Returns
    -------
    Alignment
        The lag (samples), gain, correlation at the lag and method. Silent output gets gain 1.

    Raises
    ------
    ForensicsError
        The two signals differ in length or are not 1-D.
    """
    x = np.asarray(reference, dtype=np.float64)
    y = np.asarray(output, dtype=np.float64)
    if x.ndim != 1 or y.shape != x.shape:
        raise ForensicsError(f"alignment needs two 1-D signals of the same length, got {x.shape} and {y.shape}")
    max_lag = int(min(max_lag, max(len(x) - 1, 0)))
    ex, ey = float(np.dot(x, x)), float(np.dot(y, y))
    if ex <= 0.0 or ey <= 0.0:
        return Alignment(lag=0, gain=1.0, correlation=0.0, method="waveform")
    lags, c = _xcorr(x, y, max_lag)
    best = int(np.argmax(c))
    lag, method = int(lags[best]), "waveform"
    corr = float(c[best] / np.sqrt(ex * ey))
    if corr < MIN_WAVEFORM_CORRELATION:
        lag, method = int(np.clip(nominal_lag, -max_lag, max_lag)), "nominal"
        corr = float(c[lag + max_lag] / np.sqrt(ex * ey))
    sx, sy = _shared_energy(x, y, lag)
    gain = float(np.sqrt(sx / sy)) if sy > 0.0 and sx > 0.0 else 1.0
    return Alignment(lag=lag, gain=gain, correlation=corr, method=method)


def apply_alignment(output: np.ndarray, alignment: Alignment) -> np.ndarray:
    """``gain * output[n + lag]``, zero where ``n + lag`` falls outside; shape and dtype float32 as input."""
    y = np.asarray(output, dtype=np.float32)
    out = np.zeros_like(y)
    lag, n = alignment.lag, len(y)
    if lag >= 0:
        out[: n - lag] = y[lag:]
    else:
        out[-lag:] = y[: n + lag]
    return out * np.float32(alignment.gain)


def align(reference: np.ndarray, output: np.ndarray, *, max_lag: int = MAX_LAG,
          nominal_lag: int = 0) -> tuple[np.ndarray, Alignment]:
    """Align ``output`` with ``reference`` (see :func:`estimate_alignment`).

    Returns
    -------
    aligned : np.ndarray
        Shape (n,), float32: the shifted, gain-matched output.
    alignment : Alignment
        The lag, gain and correlation used.
    """
    a = estimate_alignment(reference, output, max_lag=max_lag, nominal_lag=nominal_lag)
    return apply_alignment(output, a), a
