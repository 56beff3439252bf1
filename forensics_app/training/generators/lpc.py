"""Source-filter resynthesis with linear prediction: the buzzy sound of LPC vocoders."""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from scipy.signal import lfilter

from forensics_app.training.generators.registry import GeneratorContext, generator
from forensics_app.training.generators.world import extract_f0

#: Lag-window bandwidth (Hz) that widens formant peaks slightly and keeps the recursion stable.
LAG_WINDOW_HZ = 60.0

#: Filter warm-up before each synthesis frame (s), so frames start with a settled filter state.
WARMUP_S = 0.005


def levinson(r: np.ndarray, order: int) -> tuple[np.ndarray, np.ndarray]:
    """Levinson-Durbin recursion on many frames at once.

    Parameters
    ----------
    r : ndarray, shape (frames, >= order + 1)
        Autocorrelation of each frame, lag 0 first.
    order : int
        Prediction order.

    Returns
    -------
    a : ndarray, shape (frames, order + 1)
        Inverse-filter coefficients ``A(z) = 1 + a1 z^-1 + ...`` (``a[:, 0] == 1``).
    err : ndarray, shape (frames,)
        Prediction error energy.
    """
    frames = r.shape[0]
    a = np.zeros((frames, order + 1))
    a[:, 0] = 1.0
    err = r[:, 0].copy()
    for i in range(1, order + 1):
        acc = r[:, i] + np.sum(a[:, 1:i] * r[:, i - 1 : 0 : -1], axis=1)
        k = -acc / err
        a[:, 1:i] = a[:, 1:i] + k[:, None] * a[:, i - 1 : 0 : -1]
        a[:, i] = k
        err = err * (1.0 - k * k)
    return a, err


def excitation(
    f0_frames: np.ndarray,
    frame_times: np.ndarray,
    *,
    n: int,
    rate: int,
    rng: np.random.Generator,
    noise_mix: float,
    pulse: np.ndarray,
) -> np.ndarray:
    """Mixed excitation: a pitch pulse train where voiced, white noise where not.

    Parameters
    ----------
    f0_frames, frame_times : ndarray, shape (frames,)
        f0 (Hz, 0 = unvoiced) at ``frame_times`` (s).
    n : int
        Output length (samples).
    rate : int
        Sample rate (Hz).
    rng : numpy.random.Generator
        Noise source.
    noise_mix : float
        Noise amplitude added to voiced parts (relative to the unit-power pulse train).
    pulse : ndarray, shape (k,)
        Shape of one excitation pulse (unit energy).

    Returns
    -------
    ndarray, shape (n,)
        Excitation with about unit power.
    """
    t = np.arange(n) / rate
    voiced_frames = f0_frames > 0
    if np.any(voiced_frames):
        f0 = np.interp(t, frame_times[voiced_frames], f0_frames[voiced_frames])
    else:
        f0 = np.full(n, 100.0)
    frame_voicing = np.interp(t, frame_times, voiced_frames.astype(float))
    ramp = max(1, int(0.005 * rate))
    voicing = np.convolve(frame_voicing > 0.5, np.ones(ramp) / ramp, mode="same")
    phase = np.cumsum(f0 / rate)
    at = np.flatnonzero(np.diff(np.floor(phase), prepend=0.0) > 0)
    train = np.zeros(n)
    train[at] = np.sqrt(rate / f0[at])  # unit power whatever the pitch
    train = np.convolve(train, pulse, mode="full")[:n]
    noise = rng.standard_normal(n)
    return voicing * (train + noise_mix * noise) + (1.0 - voicing) * noise


def _glottal_pulse(length: int) -> np.ndarray:
    """Derivative of a Rosenberg glottal flow pulse of ``length`` samples, unit energy."""
    rise = int(0.6 * length)
    fall = length - rise
    flow = np.concatenate([
        0.5 * (1 - np.cos(np.pi * np.arange(rise) / rise)),
        np.cos(0.5 * np.pi * np.arange(fall) / max(fall, 1)),
        [0.0],
    ])
    d = np.diff(flow)
    return d / np.sqrt(np.sum(d * d))



def frame_lpc(padded: np.ndarray, starts: np.ndarray, *, frame: int, nfft: int, order: int,
              rate: int) -> tuple[np.ndarray, np.ndarray]:
    """LPC of periodic-Hann frames: autocorrelation by FFT, Gaussian lag window, Levinson-Durbin.

    Parameters
    ----------
    padded : np.ndarray
        Shape (n,), the (pre-emphasised, padded) signal.
    starts : np.ndarray
        Shape (frames,), int: first sample of each frame.
    frame, nfft, order : int
        Frame length and FFT size (samples), prediction order.
    rate : int
        Sample rate (Hz) of the lag window.

    Returns
    -------
    a : np.ndarray
        Shape (frames, order + 1): prediction polynomials (a[:, 0] = 1).
    gain : np.ndarray
        Shape (frames,): excitation gain per frame.
    """
    window = np.hanning(frame + 1)[:-1]  # periodic Hann: overlap-adds to 1 at 50 % overlap
    frames = sliding_window_view(padded, frame)[starts] * window
    spec = np.fft.rfft(frames, nfft, axis=1)
    r = np.fft.irfft(spec.real**2 + spec.imag**2, nfft, axis=1)[:, : order + 1]
    lag = np.arange(order + 1)
    r = r * np.exp(-0.5 * (2 * np.pi * LAG_WINDOW_HZ * lag / rate) ** 2)
    r[:, 0] = r[:, 0] * (1.0 + 1e-6) + 1e-12
    a, err = levinson(r, order)
    return a, np.sqrt(np.maximum(err, 0.0) / np.sum(window**2))


@generator(
    id="lpc",
    family="vocoder",
    description="LPC source-filter resynthesis (order 16-24, pitch pulses / noise excitation, overlap-add)",
)
def lpc(wave: np.ndarray, *, rate: int, rng: np.random.Generator, context: GeneratorContext) -> np.ndarray:
    """Re-excite the frame-wise LPC envelope of ``wave`` with a synthetic source.

    Settings drawn from ``rng``: prediction order (16-24), frame length (20, 25 or 30 ms with 50 %
    overlap), pre-emphasis (0.9-0.97), pulse shape (impulse or glottal-flow derivative of 2-5 ms),
    noise mixed into voiced frames (0-0.3), f0 estimator (Harvest 90 %, else DIO), and the noise.

    Returns
    -------
    ndarray, shape (n,), float64 at ``rate`` Hz
    """
    order = int(rng.integers(16, 25))
    frame = int(round(float(rng.choice([0.020, 0.025, 0.030])) * rate)) // 2 * 2
    pre = float(rng.uniform(0.9, 0.97))
    pulse_ms = float(rng.uniform(2.0, 5.0))
    pulse = _glottal_pulse(int(pulse_ms * rate / 1000)) if rng.random() < 0.6 else np.ones(1)
    noise_mix = float(rng.uniform(0.0, 0.3))
    method = "dio" if rng.random() < 0.1 else "harvest"
    hop = frame // 2
    warm = int(WARMUP_S * rate)

    x = np.asarray(wave, dtype=np.float64)
    n = len(x)
    f0, times = extract_f0(x, rate=rate, method=method)
    emphasised = lfilter([1.0, -pre], [1.0], x)

    # Frames centred every hop, the signal padded by one frame at both ends.
    pad = frame + warm
    padded = np.concatenate([np.zeros(pad), emphasised, np.zeros(pad + frame)])
    starts = np.arange(pad - hop, pad + n, hop)
    nfft = 1 << int(np.ceil(np.log2(2 * frame)))
    a, gain = frame_lpc(padded, starts, frame=frame, nfft=nfft, order=order, rate=rate)
    window = np.hanning(frame + 1)[:-1]  # the analysis frames' periodic Hann, for overlap-add

    exc = excitation(
        f0, times + pad / rate, n=len(padded), rate=rate, rng=rng, noise_mix=noise_mix, pulse=pulse,
    )
    out = np.zeros(len(padded))
    for k, s in enumerate(starts):
        seg = lfilter([gain[k]], a[k], exc[s - warm : s + frame])[warm:]
        out[s : s + frame] += seg * window
    y = lfilter([1.0], [1.0, -pre], out[pad : pad + n])
    return y
