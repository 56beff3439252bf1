"""Electrical network frequency (ENF): the mains hum's frequency and phase over time.

After :mod:`forensics_app.dsp.enf_mains` has decimated the audio to about 1 kHz and chosen the
mains component, :func:`estimate_track` shifts each used harmonic ``k`` to 0 Hz (complex
heterodyne at ``k*nominal``), low-passes it (8th-order Butterworth, a few Hz) and decimates it to
about 25 Hz, block by block. Per frame (``frame_s`` long, symmetric Hann window, every
``hop_s``) the DFT is evaluated on a grid over ``+-k*max_deviation_hz`` (step
``1/(4*frame_s)``), refined on a grid 8 times finer around the maximum and interpolated with a
parabola through the log power of the three best points (resolution well below 1 mHz at useful
SNR). The harmonic's frequency estimate is ``nominal + f_peak/k``. Its SNR is the line's power
over the noise power in one analysis bandwidth (``noise = (frame power - line power) * ENBW / B``,
with the window's equivalent noise bandwidth ENBW and the low-pass filter's noise bandwidth B).
Harmonics with an SNR of at least ``min_snr_db`` whose estimates agree within 0.01 Hz of their
weighted median are averaged with weights ``SNR * k**2`` (the inverse of the Cramer-Rao variance
of ``f_peak/k``). Frames with no such harmonic, or whose peak lies on the edge of the search
band, have no estimate (NaN): a track is never invented.

The *phase residual* (:func:`phase_residual`) is the phase of the strongest harmonic's baseband
signal after removing the phase that the estimated frequency track accounts for; it stays flat
in a continuous recording and steps where material was removed or inserted. All times are
corrected for the filters' group delays. Event detection on the track is in
:mod:`forensics_app.dsp.enf_events`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import signal

from forensics_app.domain.errors import AnalyzerError
from forensics_app.domain.jobs import Progress
from forensics_app.dsp.enf_mains import (
    NOMINALS_HZ,
    Decimated,
    MainsDetection,
    _group_delay_s,
    _NoProgress,
    decimate_for_enf,
    detect_mains,
)

__all__ = [
    "NOMINALS_HZ",
    "Decimated",
    "EnfTrack",
    "MainsDetection",
    "baseband",
    "decimate_for_enf",
    "detect_mains",
    "estimate_track",
    "phase_residual",
]

_BLOCK = 1 << 18  # decimated samples per block of the baseband pass
_BASEBAND_HZ = 25.0
_AGREE_HZ = 0.01  # harmonic estimates further than this from their weighted median are left out
_FRAMES_PER_CHUNK = 256


@dataclass(frozen=True)
class EnfTrack:
    """An ENF estimate over time.

    Attributes
    ----------
    nominal_hz : float
        Nominal mains frequency in Hz.
    harmonics : tuple of int
        Harmonics used, shape (h,).
    times_s : np.ndarray
        Shape (f,): frame centres in seconds from the start.
    freq_hz : np.ndarray
        Shape (f,): the combined fundamental frequency estimate in Hz, NaN where none.
    snr_db : np.ndarray
        Shape (f,): the best harmonic's SNR in dB per frame.
    harmonic_freq_hz : np.ndarray
        Shape (f, h): each harmonic's estimate of the fundamental in Hz (NaN below the SNR).
    harmonic_snr_db : np.ndarray
        Shape (f, h): each harmonic's SNR in dB.
    frame_s, hop_s : float
        Frame length and hop in seconds.
    phase_harmonic : int
        The harmonic whose phase gives the residual.
    phase_times_s : np.ndarray
        Shape (p,): times of the baseband samples in seconds.
    phase_rad : np.ndarray
        Shape (p,): phase of ``phase_harmonic`` relative to ``k * nominal_hz`` in radians,
        wrapped to (-pi, pi] (see :func:`phase_residual`).
    baseband_rate : float
        Rate of the baseband samples in Hz.
    settle_s : float
        Time the baseband filter takes to settle after a step (s): events closer together than
        this blur into each other.
    """

    nominal_hz: float
    harmonics: tuple[int, ...]
    times_s: np.ndarray
    freq_hz: np.ndarray
    snr_db: np.ndarray
    harmonic_freq_hz: np.ndarray
    harmonic_snr_db: np.ndarray
    frame_s: float
    hop_s: float
    phase_harmonic: int
    phase_times_s: np.ndarray
    phase_rad: np.ndarray
    baseband_rate: float
    settle_s: float

    @property
    def valid(self) -> np.ndarray:
        """Shape (f,): frames with an estimate."""
        return np.isfinite(self.freq_hz)


def baseband(dec: Decimated, *, centre_hz: float, cutoff_hz: float,
             progress: Progress | None = None) -> tuple[np.ndarray, float, float, np.ndarray]:
    """Shift ``centre_hz`` to 0 Hz, low-pass and decimate to about 25 Hz.

    Returns
    -------
    z : np.ndarray
        Shape (p,), complex128: the analytic component around ``centre_hz`` (amplitude = half
        the real sinusoid's peak amplitude times the filter gain at the offset frequency).
    fs : float
        Its rate in Hz.
    delay_s : float
        Group delay of both filters at the centre frequency (subtract from sample times).
    sos : np.ndarray
        The baseband low-pass filter (second-order sections at the decimated rate).
    """
    progress = progress or _NoProgress()
    x = dec.samples
    factor = max(1, int(round(dec.rate / _BASEBAND_HZ)))
    sos = signal.butter(8, cutoff_hz, fs=dec.rate, output="sos")
    step = centre_hz / dec.rate
    out = np.empty((len(x) + factor - 1) // factor, dtype=np.complex128)
    block = max(factor, (_BLOCK // factor) * factor)
    zi = np.zeros((sos.shape[0], 2), dtype=np.complex128)
    for b0 in range(0, len(x), block):
        progress.check()
        idx = np.arange(b0, min(b0 + block, len(x)), dtype=np.float64)
        mixed = x[b0:b0 + idx.size].astype(np.float64) * np.exp(-2j * np.pi * np.mod(idx * step, 1.0))
        y, zi = signal.sosfilt(sos, mixed, zi=zi)
        out[b0 // factor:b0 // factor + (y.size + factor - 1) // factor] = y[::factor]
    delay = dec.delay_s(centre_hz) + _group_delay_s(sos, 0.0, dec.rate)
    return out, dec.rate / factor, delay, sos


def _noise_bandwidth_hz(sos: np.ndarray, fs: float) -> float:
    """Two-sided equivalent noise bandwidth of a low-pass filter normalised to unit DC gain (Hz)."""
    f, h = signal.sosfreqz(sos, worN=8192, fs=fs)
    p = np.abs(h) ** 2 / max(float(np.abs(h[0]) ** 2), 1e-30)
    return float(2.0 * np.trapezoid(p, f))


def _settle_s(sos: np.ndarray, fs: float) -> float:
    """Time after which the filter's step response stays within 2% of its final value (s)."""
    n = int(10 * fs)
    step = signal.sosfilt(sos, np.ones(n))
    bad = np.flatnonzero(np.abs(step - step[-1]) > 0.02 * abs(step[-1]))
    return float((bad[-1] + 1) / fs) if bad.size else 0.0


def _frame_estimates(z: np.ndarray, fs: float, *, n_frame: int, n_hop: int, half_band: float, k: int,
                     noise_bw: float, progress: Progress, span: tuple[float, float]) -> tuple[np.ndarray, ...]:
    """Per-frame peak offset (Hz at baseband), complex amplitude at the peak and SNR (dB)."""
    frames = np.lib.stride_tricks.sliding_window_view(z, n_frame)[::n_hop]
    n_frames = frames.shape[0]
    win = signal.windows.hann(n_frame, sym=True)  # centred on (n_frame - 1) / 2
    centre = (n_frame - 1) / 2.0
    rel = (np.arange(n_frame) - centre) / fs
    step = 1.0 / (4.0 * n_frame / fs)
    grid = np.arange(-half_band, half_band + step / 2, step)
    basis = (win[:, None] * np.exp(-2j * np.pi * rel[:, None] * grid[None, :])).astype(np.complex128)
    fine_steps = np.linspace(-1.0, 1.0, 17) * step
    sw = float(win.sum())
    enbw = n_frame * float(np.sum(win ** 2)) / sw ** 2 * fs / n_frame
    offset = np.full(n_frames, np.nan)
    amp = np.full(n_frames, np.nan + 0j)
    snr = np.full(n_frames, -np.inf)
    for c0 in range(0, n_frames, _FRAMES_PER_CHUNK):
        progress.check()
        chunk = np.asarray(frames[c0:c0 + _FRAMES_PER_CHUNK])
        power = np.abs(chunk @ basis) ** 2
        g = np.argmax(power, axis=1)
        inside = (g > 0) & (g < grid.size - 1)
        fine_f = grid[g][:, None] + fine_steps[None, :]  # (c, 17)
        kern = win[None, None, :] * np.exp(-2j * np.pi * fine_f[:, :, None] * rel[None, None, :])
        fine_p = np.abs(np.einsum("cfn,cn->cf", kern, chunk)) ** 2
        j = np.clip(np.argmax(fine_p, axis=1), 1, fine_steps.size - 2)
        rows = np.arange(len(chunk))
        lp = np.log(fine_p[rows[:, None], j[:, None] + np.array([-1, 0, 1])[None, :]] + 1e-300)
        denom = lp[:, 0] - 2.0 * lp[:, 1] + lp[:, 2]
        shift = np.where(denom < 0, 0.5 * (lp[:, 0] - lp[:, 2]) / np.where(denom < 0, denom, -1.0), 0.0)
        f_hat = fine_f[rows, j] + np.clip(shift, -1.0, 1.0) * (fine_steps[1] - fine_steps[0])
        a = np.einsum("cn,cn->c", win[None, :] * np.exp(-2j * np.pi * f_hat[:, None] * rel[None, :]), chunk) / sw
        p_line = np.abs(a) ** 2
        p_tot = np.sum(win[None, :] * np.abs(chunk) ** 2, axis=1) / sw
        p_noise = np.maximum(p_tot - p_line, 1e-30 * np.maximum(p_tot, 1e-300)) * enbw / noise_bw
        s = 10.0 * np.log10(np.maximum(p_line, 1e-300) / np.maximum(p_noise, 1e-300))
        sl = slice(c0, c0 + len(chunk))
        offset[sl] = np.where(inside, f_hat, np.nan)
        amp[sl] = a
        snr[sl] = s
        progress.report(span[0] + span[1] * min(c0 + _FRAMES_PER_CHUNK, n_frames) / n_frames,
                        f"ENF frames, harmonic {k}")
    return offset, amp, snr


def _combine(est: np.ndarray, snr_db: np.ndarray, harmonics: tuple[int, ...], min_snr_db: float) -> np.ndarray:
    """Weighted mean over agreeing harmonics (weights ``SNR * k**2``), NaN where none qualifies."""
    k2 = np.asarray(harmonics, dtype=np.float64) ** 2
    ok = np.isfinite(est) & (snr_db >= min_snr_db)
    w = np.where(ok, 10.0 ** (np.clip(snr_db, -50, 100) / 10.0) * k2[None, :], 0.0)
    out = np.full(est.shape[0], np.nan)
    for i in np.flatnonzero(ok.any(axis=1)):
        e, wi = est[i, ok[i]], w[i, ok[i]]
        order = np.argsort(e)
        cum = np.cumsum(wi[order])
        med = e[order][np.searchsorted(cum, cum[-1] / 2.0)]
        keep = np.abs(e - med) <= _AGREE_HZ
        out[i] = float(np.sum(e[keep] * wi[keep]) / np.sum(wi[keep]))
    return out


def estimate_track(dec: Decimated, *, nominal_hz: float, harmonics: tuple[int, ...], frame_s: float = 4.0,
                   hop_s: float = 1.0, max_deviation_hz: float = 0.25, min_snr_db: float = 10.0,
                   progress: Progress | None = None, span: tuple[float, float] = (0.0, 1.0)) -> EnfTrack:
    """Estimate the ENF track and the phase residual (see the module docstring).

    Parameters
    ----------
    dec : Decimated
        From :func:`decimate_for_enf`.
    nominal_hz : float
        Nominal mains frequency (Hz).
    harmonics : tuple of int
        Harmonics to combine (from :func:`detect_mains`).
    frame_s, hop_s : float
        Analysis frame length and hop in seconds.
    max_deviation_hz : float
        Search band around the nominal frequency (Hz, of the fundamental).
    min_snr_db : float
        SNR a harmonic needs in a frame to contribute.
    progress : Progress, optional
        Reported over ``span`` and checked per chunk of frames.
    span : (float, float)
        Part of the progress range this step covers.

    Raises
    ------
    AnalyzerError
        If the recording is shorter than one frame or no harmonic is given.
    """
    progress = progress or _NoProgress()
    if not harmonics:
        raise AnalyzerError("no mains harmonic to track")
    per = span[1] / (len(harmonics) + 0.5)
    est, snrs, bases = [], [], []
    fs_b = delay0 = 0.0
    settle = 0.0
    for i, k in enumerate(harmonics):
        half_band = k * max_deviation_hz
        cutoff = max(3.0, 1.5 * half_band + 0.5)
        z, fs_b, delay, sos = baseband(dec, centre_hz=k * nominal_hz, cutoff_hz=cutoff, progress=progress)
        n_frame = int(round(frame_s * fs_b))
        n_hop = max(int(round(hop_s * fs_b)), 1)
        if len(z) < n_frame:
            raise AnalyzerError(f"the recording ({len(dec.samples) / dec.rate:.1f} s) is shorter than one ENF "
                                f"frame ({frame_s} s)")
        off, _, snr = _frame_estimates(z, fs_b, n_frame=n_frame, n_hop=n_hop, half_band=half_band, k=k,
                                         noise_bw=_noise_bandwidth_hz(sos, dec.rate), progress=progress,
                                         span=(span[0] + i * per, per))
        est.append(nominal_hz + off / k)
        snrs.append(snr)
        bases.append((z, delay))
        if i == 0:
            delay0 = delay
            settle = _settle_s(sos, dec.rate)
        settle = max(settle, _settle_s(sos, dec.rate))
    est_a, snr_a = np.stack(est, axis=1), np.stack(snrs, axis=1)
    ok_a = np.where(snr_a >= min_snr_db, est_a, np.nan)
    freq = _combine(ok_a, snr_a, harmonics, min_snr_db)
    n_frames = est_a.shape[0]
    times = (np.arange(n_frames) * n_hop + (n_frame - 1) / 2.0) / fs_b - delay0
    best_snr = snr_a.max(axis=1)
    # Phase of the harmonic with the highest median SNR.
    h_ref = int(np.argmax(np.median(snr_a, axis=0)))
    z, delay = bases[h_ref]
    progress.report(span[0] + span[1], "ENF track")
    return EnfTrack(
        nominal_hz=float(nominal_hz), harmonics=tuple(harmonics), times_s=times, freq_hz=freq, snr_db=best_snr,
        harmonic_freq_hz=ok_a, harmonic_snr_db=snr_a, frame_s=n_frame / fs_b, hop_s=n_hop / fs_b,
        phase_harmonic=harmonics[h_ref], phase_times_s=np.arange(len(z)) / fs_b - delay,
        phase_rad=np.angle(z), baseband_rate=fs_b, settle_s=settle,
    )


def _nearest_distance(t: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """Distance from each of ``t`` to the nearest of the sorted ``ref``."""
    if len(ref) == 1:
        return np.abs(t - ref[0])
    i = np.clip(np.searchsorted(ref, t), 1, len(ref) - 1)
    return np.minimum(np.abs(t - ref[i - 1]), np.abs(t - ref[i]))


def phase_residual(track: EnfTrack, *, exclude_s: tuple[float, ...] = ()) -> tuple[np.ndarray, np.ndarray]:
    """The unwrapped phase of the tracked harmonic minus what the frequency track accounts for.

    ``psi[n] = sum over m <= n of wrap(theta[m] - theta[m-1] - 2*pi*k*(f(t) - nominal)/fs)``,
    with ``f(t)`` the frequency track interpolated linearly between frame centres. Samples
    farther than 1.5 hops from a frame with an estimate are not valid and add nothing.

    Parameters
    ----------
    track : EnfTrack
        The estimate.
    exclude_s : tuple of float
        Times (s) of suspected jumps: the frames whose window contains one (plus one hop) are
        left out of the interpolated frequency, because a phase jump inside a frame biases that
        frame's frequency estimate and the bias would otherwise be integrated into ``psi``.

    Returns
    -------
    psi : np.ndarray
        Shape (p,): radians of the tracked harmonic.
    valid : np.ndarray
        Shape (p,): bool.
    """
    times, freq = track.times_s, track.freq_hz.copy()
    for t in exclude_s:
        freq[np.abs(times - t) < 0.5 * track.frame_s] = np.nan
    keep = np.isfinite(freq)
    t_b = track.phase_times_s
    valid = np.zeros(t_b.size, dtype=bool)
    dev = np.zeros(t_b.size)
    if not keep.any():  # everything excluded: fall back on the whole track
        keep, freq = track.valid, track.freq_hz
    if keep.any():
        dev = np.interp(t_b, times[keep], freq[keep]) - track.nominal_hz
        valid = _nearest_distance(t_b, times[track.valid]) <= 1.5 * track.hop_s + 1e-9
    pred = 2.0 * np.pi * track.phase_harmonic * 0.5 * (dev[1:] + dev[:-1]) / track.baseband_rate
    r = np.angle(np.exp(1j * (np.diff(track.phase_rad) - pred)))
    r = np.where(valid[1:] & valid[:-1], r, 0.0)
    return np.concatenate(([0.0], np.cumsum(r))), valid
