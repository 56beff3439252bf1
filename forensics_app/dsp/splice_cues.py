"""Cues of edits in audio: one streaming pass over the samples, then change detectors.

:func:`frame_pass` reads the signal (one channel or the channel mean) block by block and keeps
only compact per-frame measurements (frames ``2*hop`` long every ``hop``):

* the frame *energy* (variance, mean removed: the noise-floor cue must not see DC) in dBFS;
* the *mean* of each hop (the DC cue);
* *band energies* in ``n_bands`` log-spaced bands from 100 Hz to Nyquist, averaged over cells of
  ``cell_frames`` frames (the spectral-envelope cue);
* *waveform discontinuities*: samples where the linear-prediction residual (order ``p`` fitted on
  each 32 ms segment, Levinson-Durbin on a Hann-windowed autocorrelation) stands far above its
  neighbourhood. ``z = |e[n]| / rms(e)`` over ``n +- 15 ms`` leaving out ``n +- p``; a spike is
  kept when ``z >= spike_z`` and it is *isolated*: no other residual sample in that
  neighbourhood reaches ``1/isolation`` of it (glottal pulses and other periodic transients
  repeat; a splice does not). Each spike is then re-measured with a single predictor fitted
  around it (a predictor that changes at a segment edge can make an ordinary pulse look
  isolated) and kept only if it still passes;
* *digital silence*: runs of exactly repeated sample values (zeros or a constant) of at least
  ``min_silence`` samples, with exact start and end.

The change detectors compare a window before each boundary with a window after it
(:func:`two_window_change`), and :func:`refine_level_change` / :func:`refine_mean_change` pin the
change down to a sample.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import ndimage, signal

from forensics_app.domain.jobs import Progress

DB_FLOOR = -140.0
"""dBFS given to frames of exact digital silence (keeps the change statistics finite)."""

_BLOCK = 1 << 18
_SEGMENT_S = 0.032
_NEIGHBOURHOOD_S = 0.015


@dataclass(frozen=True)
class Spike:
    """A waveform discontinuity candidate.

    Attributes
    ----------
    index : int
        Sample index.
    value : float
        Prediction residual at the sample (full scale = 1).
    z : float
        Residual over the neighbourhood's RMS.
    isolation : float
        Residual over the largest other residual in the neighbourhood.
    local_rms : float
        The neighbourhood's residual RMS.
    """

    index: int
    value: float
    z: float
    isolation: float
    local_rms: float


@dataclass(frozen=True)
class FrameMeasures:
    """What :func:`frame_pass` keeps of a recording.

    Attributes
    ----------
    rate : int
        Sample rate (Hz).
    n_samples : int
        Samples per channel.
    hop, frame : int
        Hop and frame length in samples (frame ``i`` covers ``[i*hop, i*hop + frame)``).
    energy_db : np.ndarray
        Shape (f,): frame variance in dBFS (:data:`DB_FLOOR` for silence).
    hop_mean : np.ndarray
        Shape (f,): mean of the samples of each hop ``[i*hop, (i+1)*hop)``.
    band_db : np.ndarray
        Shape (c, b): mean band power of each cell of ``cell_frames`` frames, in dB.
    band_edges_hz : np.ndarray
        Shape (b + 1,): band edges in Hz.
    cell_frames : int
        Frames per cell.
    spikes : tuple of Spike
        Waveform discontinuity candidates.
    silences : tuple of (int, int, float)
        Runs of repeated values: (first sample, end sample exclusive, value).
    lpc_order : int
        Order of the linear predictor.
    """

    rate: int
    n_samples: int
    hop: int
    frame: int
    energy_db: np.ndarray
    hop_mean: np.ndarray
    band_db: np.ndarray
    band_edges_hz: np.ndarray
    cell_frames: int
    spikes: tuple[Spike, ...]
    silences: tuple[tuple[int, int, float], ...]
    lpc_order: int


def _mono(x: np.ndarray, start: int, stop: int, channel: int) -> np.ndarray:
    start, stop = max(start, 0), min(stop, x.shape[0])
    block = np.asarray(x[start:stop])
    if block.ndim == 1:
        return block.astype(np.float64)
    return block.mean(axis=1, dtype=np.float64) if channel < 0 else block[:, channel].astype(np.float64)


def levinson(r: np.ndarray, order: int) -> np.ndarray:
    """Prediction-error filters ``[1, a1, ..., ap]`` from autocorrelations, row by row.

    Parameters
    ----------
    r : np.ndarray
        Shape (rows, order + 1): autocorrelation at lags 0..order.
    order : int
        Predictor order.

    Returns
    -------
    np.ndarray
        Shape (rows, order + 1); rows with no energy get ``[1, 0, ..., 0]``.
    """
    rows = r.shape[0]
    a = np.zeros((rows, order + 1))
    a[:, 0] = 1.0
    err = r[:, 0] * (1.0 + 1e-9) + 1e-30
    for i in range(1, order + 1):
        acc = r[:, i] + np.sum(a[:, 1:i] * r[:, i - 1:0:-1], axis=1)
        k = np.clip(-acc / err, -0.9999, 0.9999)
        a[:, 1:i] = a[:, 1:i] + k[:, None] * a[:, i - 1:0:-1]
        a[:, i] = k
        err = err * (1.0 - k * k)
    return a


def lpc_residual(y: np.ndarray, *, order: int, segment: int) -> np.ndarray:
    """Linear-prediction residual of ``y[order:]``, with a predictor fitted per segment.

    Parameters
    ----------
    y : np.ndarray
        Shape (m,), float64; the first ``order`` samples are context only.
    order : int
        Predictor order.
    segment : int
        Samples per segment (each gets its own predictor, fitted on the segment and its context).

    Returns
    -------
    np.ndarray
        Shape (m - order,): ``e[n] = sum_k a_k y[n - k]``.
    """
    n = len(y) - order
    if n <= 0:
        return np.zeros(0)
    n_seg = (n + segment - 1) // segment
    pad = np.concatenate([y, np.zeros(n_seg * segment - n)])
    rows = np.lib.stride_tricks.sliding_window_view(pad, segment + order)[::segment][:n_seg]
    win = np.hanning(segment + order)
    spec = np.fft.rfft(rows * win, n=2 * (segment + order), axis=1)
    r = np.fft.irfft(np.abs(spec) ** 2, axis=1)[:, :order + 1]
    a = levinson(r, order)
    e = np.zeros((n_seg, segment))
    for k in range(order + 1):
        e += a[:, k:k + 1] * rows[:, order - k:order - k + segment]
    return e.reshape(-1)[:n]


def _spikes(e: np.ndarray, offset: int, lo: int, hi: int, *, reach: int, guard: int, spike_z: float,
            isolation: float, floor: float) -> list[Spike]:
    """Isolated residual spikes at positions ``[lo, hi)`` of ``e`` (``offset`` = its sample index 0)."""
    e2 = e * e
    c = np.concatenate(([0.0], np.cumsum(e2)))
    idx = np.arange(lo, hi)
    outer = c[np.minimum(idx + reach + 1, len(e))] - c[np.maximum(idx - reach, 0)]
    inner = c[np.minimum(idx + guard + 1, len(e))] - c[np.maximum(idx - guard, 0)]
    count = (np.minimum(idx + reach + 1, len(e)) - np.maximum(idx - reach, 0)) - (
        np.minimum(idx + guard + 1, len(e)) - np.maximum(idx - guard, 0))
    local = np.sqrt(np.maximum(outer - inner, 0.0) / np.maximum(count, 1))
    z = np.abs(e[lo:hi]) / np.maximum(local, floor)
    out = []
    for j in np.flatnonzero(z >= spike_z).tolist():
        i = lo + j
        around = np.concatenate([e[max(i - reach, 0):max(i - guard, 0)], e[i + guard + 1:i + reach + 1]])
        other = float(np.abs(around).max()) if around.size else 0.0
        iso = abs(float(e[i])) / max(other, floor)
        if iso >= isolation:
            out.append(Spike(index=offset + i, value=float(e[i]), z=float(z[j]), isolation=iso,
                             local_rms=float(local[j])))
    return out


def _verify(y: np.ndarray, i: int, *, order: int, reach: int, floor: float) -> tuple[float, float, float, float]:
    """Residual, z, isolation and local RMS at ``y[i]`` with ONE predictor for its whole
    neighbourhood (fitted on a Hann window of ``2 * (reach + order)`` samples centred on ``i``):
    per-segment predictors can change at a segment edge and make an ordinary pulse look isolated.
    """
    lo, hi = i - reach - 2 * order, i + reach + order + 1
    if lo < 0 or hi > len(y):
        return 0.0, 0.0, 0.0, 0.0
    seg = y[lo:hi]
    win = np.hanning(len(seg))
    spec = np.fft.rfft(seg * win, n=2 * len(seg))
    r = np.fft.irfft(np.abs(spec) ** 2)[:order + 1]
    a = levinson(r[None, :], order)[0]
    e = np.convolve(seg, a, mode="valid")  # e[k] is the residual at sample lo + order + k
    c = i - (lo + order)
    around = np.concatenate([e[max(c - reach, 0):max(c - order, 0)], e[c + order + 1:c + reach + 1]])
    local = float(np.sqrt(np.mean(around ** 2))) if around.size else 0.0
    other = float(np.abs(around).max()) if around.size else 0.0
    v = float(e[c])
    return v, abs(v) / max(local, floor), abs(v) / max(other, floor), local


def _merge_spikes(spikes: list[Spike], reach: int) -> list[Spike]:
    """Keep the strongest spike within ``reach`` samples (a step leaves a short train)."""
    out: list[Spike] = []
    for s in sorted(spikes, key=lambda q: -q.z):
        if all(abs(s.index - t.index) > reach for t in out):
            out.append(s)
    return sorted(out, key=lambda q: q.index)


def frame_pass(x: np.ndarray, rate: int, *, channel: int = -1, hop_s: float = 0.01, cell_frames: int = 5,
               n_bands: int = 16, spike_z: float = 12.0, isolation: float = 3.0, min_silence_s: float = 0.005,
               progress: Progress | None = None, span: tuple[float, float] = (0.0, 1.0)) -> FrameMeasures:
    """One pass over the samples (see the module docstring).

    Parameters
    ----------
    x : np.ndarray
        Shape (n,) or (n, channels), float (a memory map is read one block at a time).
    rate : int
        Sample rate in Hz.
    channel : int
        Channel to analyse; negative: the mean of all channels.
    hop_s : float
        Frame hop (s); frames are twice as long.
    cell_frames : int
        Frames per cell of the band energies.
    n_bands : int
        Number of log-spaced bands between 100 Hz and Nyquist.
    spike_z, isolation : float
        Thresholds of the waveform-discontinuity detector.
    min_silence_s : float
        Shortest run of repeated values that counts as digital silence (s).
    progress : Progress, optional
        Reported over ``span`` and checked per block.
    span : (float, float)
        Part of the progress range this pass covers.
    """
    n = int(x.shape[0])
    hop = max(int(round(hop_s * rate)), 4)
    frame = 2 * hop
    order = int(min(24, max(8, round(rate / 1000.0) + 4)))
    segment = max(int(round(_SEGMENT_S * rate)), 4 * order)
    reach = max(int(round(_NEIGHBOURHOOD_S * rate)), 2 * order + 4)
    min_run = max(int(round(min_silence_s * rate)), 2)
    n_frames = max((n - frame) // hop + 1, 1) if n >= frame else 1
    energy = np.full(n_frames, DB_FLOOR)
    hop_mean = np.zeros(n_frames)
    edges = np.geomspace(min(100.0, rate / 8.0), rate / 2.0, n_bands + 1)
    freqs = np.fft.rfftfreq(frame, 1.0 / rate)
    band_of = np.clip(np.searchsorted(edges, freqs, side="right") - 1, -1, n_bands)
    bands = np.zeros((freqs.size, n_bands))
    for b in range(n_bands):
        bands[band_of == b, b] = 1.0
    bands /= np.maximum(bands.sum(axis=0, keepdims=True), 1.0)
    n_cells = (n_frames + cell_frames - 1) // cell_frames
    band_pow = np.zeros((n_cells, n_bands))
    cell_count = np.zeros(n_cells)
    win = signal.windows.hann(frame, sym=False)
    win_norm = float(np.sum(win ** 2))
    spikes: list[Spike] = []
    runs: list[list[float]] = []
    prev_last: float | None = None
    block = max(cell_frames * hop, (_BLOCK // (cell_frames * hop)) * cell_frames * hop)
    floor = 10.0 ** (DB_FLOOR / 20.0)
    for b0 in range(0, max(n, 1), block):
        if progress is not None:
            progress.check()
        b1 = min(b0 + block, n)
        left = min(b0, reach + order)
        y = _mono(x, b0 - left, b1 + max(frame, reach), channel)
        core = y[left:left + (b1 - b0)]
        # Frames whose start lies in [b0, b1).
        f0, f1 = b0 // hop, min((b1 - 1) // hop + 1, n_frames)
        if f1 > f0:
            starts = np.arange(f0, f1) * hop - (b0 - left)
            short = max(0, int(starts[-1]) + frame - len(y))  # only a file shorter than one frame
            yp = np.pad(y, (0, short)) if short else y
            fr = yp[starts[:, None] + np.arange(frame)[None, :]]
            var = fr.var(axis=1)
            energy[f0:f1] = np.where(var > 0, 10.0 * np.log10(np.maximum(var, 1e-300)), DB_FLOOR)
            energy[f0:f1] = np.maximum(energy[f0:f1], DB_FLOOR)
            hops = yp[starts[:, None] + np.arange(hop)[None, :]]
            hop_mean[f0:f1] = hops.mean(axis=1)
            p = np.abs(np.fft.rfft((fr - fr.mean(axis=1, keepdims=True)) * win, axis=1)) ** 2 / win_norm
            cells = np.arange(f0, f1) // cell_frames
            np.add.at(band_pow, cells, p @ bands)
            np.add.at(cell_count, cells, 1.0)
        # Waveform discontinuities.
        e = lpc_residual(y, order=order, segment=segment)  # e[j] is sample b0 - left + order + j
        base = b0 - left + order
        lo, hi = max(b0 - base, 0), min(b1 - base, len(e))
        if hi > lo:
            for sp in _spikes(e, base, lo, hi, reach=reach, guard=order, spike_z=spike_z, isolation=isolation,
                              floor=floor):
                v, z, iso, local = _verify(y, sp.index - (b0 - left), order=order, reach=reach, floor=floor)
                if z >= spike_z and iso >= isolation:
                    spikes.append(Spike(index=sp.index, value=v, z=z, isolation=iso, local_rms=local))
        # Digital silence: runs of exactly repeated values (carried across blocks).
        if core.size:
            same = np.concatenate(([prev_last is not None and core[0] == prev_last], core[1:] == core[:-1]))
            d = np.diff(np.concatenate(([0], same.astype(np.int8), [0])))
            for s, t in zip(np.flatnonzero(d == 1).tolist(), np.flatnonzero(d == -1).tolist(), strict=True):
                start, end = b0 + s - 1, b0 + t  # the run of equal samples includes the one before
                if runs and runs[-1][1] == start + 1 and s == 0:
                    runs[-1][1] = end
                else:
                    runs.append([start, end, float(core[s]) if s < core.size else float(core[-1])])
            prev_last = float(core[-1])
        if progress is not None:
            progress.report(span[0] + span[1] * b1 / max(n, 1), "splice cues")
    band_db = 10.0 * np.log10(np.maximum(band_pow / np.maximum(cell_count, 1.0)[:, None], 1e-14))
    silences = tuple((int(s), int(e), float(v)) for s, e, v in runs if e - s >= min_run)
    return FrameMeasures(
        rate=int(rate), n_samples=n, hop=hop, frame=frame, energy_db=energy, hop_mean=hop_mean, band_db=band_db,
        band_edges_hz=edges, cell_frames=cell_frames, spikes=tuple(_merge_spikes(spikes, reach)),
        silences=silences, lpc_order=order,
    )


def two_window_change(values: np.ndarray, *, window: int, quantile: float | None) -> tuple[np.ndarray, np.ndarray]:
    """Statistic of each window before a boundary against the window after it.

    Parameters
    ----------
    values : np.ndarray
        Shape (f,) or (f, b).
    window : int
        Samples per window (even; the boundary before sample ``i`` compares ``[i - window, i)``
        with ``[i, i + window)``).
    quantile : float or None
        Percentile (0..100) per window, or None for the mean.

    Returns
    -------
    centred : np.ndarray
        The statistic over windows centred on each sample (same shape as ``values``).
    delta : np.ndarray
        ``after - before`` per boundary (same shape; NaN where a window runs off the ends).
    """
    size = max(2, int(window))
    axis_size = (size,) + (1,) * (values.ndim - 1)
    if quantile is None:
        centred = ndimage.uniform_filter(values, size=axis_size, mode="nearest", origin=0)
    else:
        centred = ndimage.percentile_filter(values, quantile, size=axis_size, mode="nearest")
    half = size // 2
    delta = np.full(values.shape, np.nan)
    f = values.shape[0]
    # An even window centred on j covers [j - half, j + half): the window before boundary i is
    # centred on i - half, the one after on i + half; both must lie inside the series.
    lo, hi = 2 * half, f - 2 * half
    if hi >= lo:
        delta[lo:hi + 1] = centred[lo + half:hi + half + 1] - centred[lo - half:hi - half + 1]
    return centred, delta


def pick_peaks(strength: np.ndarray, *, threshold: float, radius: int) -> list[int]:
    """One index per contiguous stretch where ``strength >= threshold`` (its maximum), and of
    those only the strongest within ``radius`` of each other; in order."""
    s = np.nan_to_num(strength, nan=0.0)
    above = s >= threshold
    d = np.diff(np.concatenate(([0], above.astype(np.int8), [0])))
    peaks = [a + int(np.argmax(s[a:b])) for a, b in zip(np.flatnonzero(d == 1), np.flatnonzero(d == -1), strict=True)]
    taken: list[int] = []
    for i in sorted(peaks, key=lambda k: -s[k]):
        if all(abs(i - j) > radius for j in taken):
            taken.append(i)
    return sorted(taken)


def band_energy_frames(x: np.ndarray, start: int, stop: int, *, hop: int, frame: int, band_hz: tuple[float, float],
                       channel: int = -1, rate: int | None = None) -> np.ndarray:
    """Energy (dB) in one band of the frames starting at ``start, start + hop, ...`` before ``stop``.

    Parameters
    ----------
    x : np.ndarray
        Shape (n,) or (n, channels).
    start, stop : int
        Sample range of the frame starts.
    hop, frame : int
        Hop and frame length in samples.
    band_hz : (float, float)
        Band edges in Hz.
    rate : int, optional
        Sample rate; derived from ``hop`` as 100 hops per second when not given.
    """
    rate = rate or hop * 100
    y = _mono(x, start, stop + frame, channel)
    n_frames = max((len(y) - frame) // hop + 1, 0)
    if n_frames == 0:
        return np.zeros(0)
    fr = np.lib.stride_tricks.sliding_window_view(y, frame)[::hop][:n_frames]
    win = signal.windows.hann(frame, sym=False)
    p = np.abs(np.fft.rfft((fr - fr.mean(axis=1, keepdims=True)) * win, axis=1)) ** 2 / float(np.sum(win ** 2))
    f = np.fft.rfftfreq(frame, 1.0 / rate)
    sel = (f >= band_hz[0]) & (f < band_hz[1])
    return 10.0 * np.log10(np.maximum(p[:, sel].mean(axis=1) if sel.any() else p.mean(axis=1), 1e-14))


def refine_level_change(x: np.ndarray, start: int, stop: int, *, channel: int = -1) -> int:
    """Sample in ``[start, stop)`` where the variance of the first difference changes.

    Maximises the two-segment Gaussian log-likelihood ``-(k log s1 + (m - k) log s2)`` of the
    differenced samples (differencing removes DC and most low-frequency content).
    """
    y = np.diff(_mono(x, start - 1, stop, channel))
    m = len(y)
    if m < 8:
        return (start + stop) // 2
    c = np.concatenate(([0.0], np.cumsum(y * y)))
    k = np.arange(2, m - 1)
    v1 = c[k] / k
    v2 = (c[m] - c[k]) / (m - k)
    ll = -(k * np.log(np.maximum(v1, 1e-30)) + (m - k) * np.log(np.maximum(v2, 1e-30)))
    return int(start + k[int(np.argmax(ll))])


def refine_mean_change(x: np.ndarray, start: int, stop: int, *, channel: int = -1) -> int:
    """Sample in ``[start, stop)`` where the mean changes (maximum of the centred CUSUM)."""
    y = _mono(x, start, stop, channel)
    if len(y) < 4:
        return (start + stop) // 2
    s = np.cumsum(y - y.mean())
    return int(start + 1 + int(np.argmax(np.abs(s[:-1]))))


def level_db(value: float) -> float:
    """``20*log10(|value|)`` with :data:`DB_FLOOR` for zero."""
    return 20.0 * math.log10(abs(value)) if value != 0 else DB_FLOOR
