"""Discontinuities in an ENF track: frequency steps and phase jumps.

Both detectors use the same *two-sided line fit* statistic. At every candidate boundary time
``t`` a straight line is fitted (least squares) to the series in a window that ends ``gap`` before
``t`` and another to a window that starts ``gap`` after it; both are extrapolated to ``t`` and
the step is ``D(t) = after(t) - before(t)``. A smooth series (the grid's frequency drifts, and
its phase is the integral of the frequency) gives ``D`` near zero whatever its slope; a step
gives ``D`` equal to the step. The gap skips the samples that mix both sides (a frame that
straddles the boundary, the baseband filter's settling time).

The strength of a step is ``z = |D| / SE(D)``, with ``SE(D)`` the standard error of the two
extrapolated lines from their own fit residuals (``s * sqrt(1/n + (t - mean)**2 / Sxx)`` per
side): the series' local noise and wander are the yardstick, so a wiggly grid raises the bar. A
step is reported when ``z >= z_min`` and ``|D|`` is at least the absolute minimum
(``min_step``); near a step only the best-fitting boundary is kept, and its time is refined to
where the series crosses half-way between the two lines. For the frequency track the standard
error is raised to at least the robust spread of ``D`` over the rest of the recording: the grid's
own curvature makes the line extrapolations err systematically (measured: up to 0.04 Hz on a
0.02 Hz, 20 s sine), so a frequency step is judged against what the grid does elsewhere in the
same recording; this needs recordings of a minute or more.

* Frequency steps: the series is the frame-wise ENF track (Hz); the gap is half a frame.
* Phase jumps: the series is the phase residual of :class:`forensics_app.dsp.enf.EnfTrack`
  (radians of the tracked harmonic); the gap is the baseband filter's settling time; ``D`` is
  wrapped to (-pi, pi], so jumps are known modulo one cycle of the harmonic.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from forensics_app.dsp.enf import EnfTrack, phase_residual


@dataclass(frozen=True)
class EnfEvent:
    """A detected step in the ENF track or its phase.

    Attributes
    ----------
    kind : str
        ``"phase_jump"`` or ``"frequency_step"``.
    time_s : float
        Boundary time in seconds.
    step : float
        Measured step ``D``: radians of the tracked harmonic (phase) or Hz (frequency).
    z : float
        ``|step|`` over its standard error (see the module docstring).
    noise : float
        The standard error of the step (same unit as ``step``).
    min_step : float
        The absolute minimum that applied (same unit).
    z_min : float
        The z-score threshold that applied.
    window_s, gap_s : float
        Fit window and gap on each side (s).
    """

    kind: str
    time_s: float
    step: float
    z: float
    noise: float
    min_step: float
    z_min: float
    window_s: float
    gap_s: float


def two_sided_step(y: np.ndarray, valid: np.ndarray, *, window: int, gap: int,
                   min_points: int | None = None) -> np.ndarray:
    """The two-sided line-fit step ``D`` at every sample of a uniformly sampled series.

    Parameters
    ----------
    y : np.ndarray
        Shape (n,): the series, uniformly sampled.
    valid : np.ndarray
        Shape (n,): bool, samples that may be used.
    window : int
        Samples in each fit window.
    gap : int
        Samples skipped on each side of sample ``i``: ``before`` covers
        ``[i - gap - window, i - gap)``, ``after`` covers ``(i + gap, i + gap + window]``.
    min_points : int, optional
        Valid samples each window needs (default: 3/4 of the window, at least 2).

    Returns
    -------
    np.ndarray
        Shape (n,): ``after(i) - before(i)`` (NaN where a side lacks data).
    """
    n = len(y)
    out = np.full(n, np.nan)
    if n == 0:
        return out
    need = max(2, int(math.ceil(0.75 * window))) if min_points is None else min_points
    w = valid.astype(np.float64)
    wy = np.where(valid, y, 0.0) * w

    def side(offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        # Sums over samples i + m for m in ``offsets`` (local moments: no cancellation).
        lo, hi = int(offsets[0]), int(offsets[-1])
        pad = max(-lo, hi, 0)

        def corr(a: np.ndarray, kern: np.ndarray) -> np.ndarray:
            full = np.zeros(hi - lo + 1)
            full[offsets - lo] = kern
            ap = np.concatenate([np.zeros(pad), a, np.zeros(pad)])
            # res[i] = sum_m a[i + m] * kern_m
            return np.correlate(ap, full, mode="valid")[pad + lo:pad + lo + n]

        m = offsets.astype(np.float64)
        c0, c1, c2 = corr(w, np.ones_like(m)), corr(w, m), corr(w, m * m)
        cy, cmy = corr(wy, np.ones_like(m)), corr(wy, m)
        det = c0 * c2 - c1 * c1
        ok = (c0 >= need - 1e-9) & (det > 1e-9 * np.maximum(c0 * c2, 1e-300))
        safe = np.where(ok, det, 1.0)
        slope = (c0 * cmy - c1 * cy) / safe
        icpt = (cy - slope * c1) / np.where(ok, c0, 1.0)
        idx = np.arange(n)
        ok &= (idx + lo >= 0) & (idx + hi < n)
        return np.where(ok, icpt, np.nan), ok

    before, ok_b = side(np.arange(-gap - window, -gap))
    after, ok_a = side(np.arange(gap + 1, gap + window + 1))
    good = ok_b & ok_a
    out[good] = after[good] - before[good]
    return out


def _global_spread(d: np.ndarray, radius: int) -> float | None:
    """Robust spread ``1.4826 * MAD`` of the step statistic over the recording, leaving out the
    neighbourhoods (``radius``) of values beyond 5 spreads (the events themselves); None when
    fewer than 10 values remain."""
    ok = np.isfinite(d)
    for _ in range(3):
        f = d[ok]
        if f.size < 10:
            return None
        med = float(np.median(f))
        spread = 1.4826 * float(np.median(np.abs(f - med)))
        big = np.flatnonzero(ok & (np.abs(np.nan_to_num(d) - med) > 5.0 * spread))
        if big.size == 0:
            return spread
        for i in big.tolist():
            ok[max(i - radius, 0):i + radius + 1] = False
    f = d[ok]
    return 1.4826 * float(np.median(np.abs(f - np.median(f)))) if f.size >= 10 else None


def _line(y: np.ndarray, valid: np.ndarray, lo: int, hi: int, at: int) -> tuple[float, float, np.ndarray] | None:
    """Least-squares line through the valid samples ``y[lo:hi]``, evaluated at index ``at``.

    Returns (value at ``at``, its standard error, coefficients in absolute index) or None with
    fewer than four samples. The standard error is ``s * sqrt(1/n + (at - mean)**2 / Sxx)`` with
    ``s**2 = RSS / (n - 2)``.
    """
    lo, hi = max(lo, 0), min(hi, len(y))
    m = lo + np.flatnonzero(valid[lo:hi])
    if m.size < 4:
        return None
    seg = y[m]
    mc = m - float(m.mean())
    sxx = float(np.sum(mc * mc))
    if sxx <= 0:
        return None
    slope = float(np.sum(mc * (seg - seg.mean())) / sxx)
    icpt = float(seg.mean())  # value at the mean index
    resid = seg - (icpt + slope * mc)
    s2 = float(np.sum(resid * resid)) / (m.size - 2)
    dist = at - float(m.mean())
    value = icpt + slope * dist
    se = math.sqrt(s2 * (1.0 / m.size + dist * dist / sxx))
    return value, se, np.array([slope, icpt, float(m.mean())])


def _at(line: np.ndarray, n: np.ndarray) -> np.ndarray:
    return line[0] * (np.asarray(n, dtype=np.float64) - line[2]) + line[1]


def _crossing(y: np.ndarray, before: np.ndarray, after: np.ndarray, lo: int, hi: int) -> float | None:
    """Fractional index in ``[lo, hi]`` where ``y`` first crosses half-way from one line to the other."""
    lo, hi = max(lo, 0), min(hi, len(y) - 1)
    if hi <= lo:
        return None
    n = np.arange(lo, hi + 1)
    span = _at(after, n) - _at(before, n)
    with np.errstate(invalid="ignore", divide="ignore"):
        frac = (y[lo:hi + 1] - _at(before, n)) / np.where(np.abs(span) > 0, span, np.nan)
    above = frac >= 0.5
    k = np.flatnonzero(above[1:] & ~above[:-1])
    if k.size == 0:
        return None
    j = int(k[0])
    f0, f1 = frac[j], frac[j + 1]
    return lo + j + (0.5 - f0) / (f1 - f0) if f1 != f0 else float(lo + j)


def _events(kind: str, t: np.ndarray, y: np.ndarray, valid: np.ndarray, d: np.ndarray, *, min_step: float,
            z_min: float, window: int, gap: int, rate: float, floor: float, wrap: bool,
            global_scale: bool = False) -> list[EnfEvent]:
    """Boundaries where the step passes both thresholds, one per neighbourhood, located precisely.

    ``z = |D| / sqrt(se_before**2 + se_after**2 + floor**2)``: the step over the standard error
    of the two extrapolated lines (each from its own fit residuals), i.e. measured against the
    series' own local noise and wander. Near a true step ``|D|`` also stays large where a fit
    window straddles the step, but there the fit is poor and ``z`` small. Greedily by ``z``, one
    boundary is kept within two windows-plus-gaps; its time is refined to where the series
    crosses half-way between the two lines (between the fit windows), which undoes the blur of
    frames and filters.

    With ``global_scale`` the standard error is raised to at least the robust spread of ``D``
    over the whole recording (:func:`_global_spread`): the ENF frequency's own curvature makes
    straight-line extrapolation err systematically, and only the recording's other boundaries
    show how much.
    """
    passed = np.flatnonzero(np.abs(np.nan_to_num(d, nan=0.0)) >= min_step)
    spread = _global_spread(d, 2 * (window + gap)) if global_scale else None
    found: dict[int, tuple[float, float, np.ndarray, np.ndarray]] = {}
    for i in passed.tolist():
        fb = _line(y, valid, i - gap - window, i - gap, i)
        fa = _line(y, valid, i + gap + 1, i + gap + window + 1, i)
        if fb is None or fa is None:
            continue
        step = fa[0] - fb[0]
        if wrap:
            step = math.remainder(step, 2.0 * math.pi)
        se = math.sqrt(fb[1] ** 2 + fa[1] ** 2 + floor ** 2)
        if spread is not None:
            se = max(se, spread)
        z = abs(step) / se
        if z >= z_min and abs(step) >= min_step:
            found[i] = (step, se, fb[2], fa[2])
    taken: list[int] = []
    for i in sorted(found, key=lambda k: -abs(found[k][0]) / found[k][1]):
        if all(abs(i - k) > 2 * (window + gap) for k in taken):
            taken.append(i)
    out = []
    for i in sorted(taken):
        step, se, before, after = found[i]
        pos = _crossing(y, before, after, i - gap, i + gap + 1)
        time = float(np.interp(pos, np.arange(len(t)), t)) if pos is not None else float(t[i])
        out.append(EnfEvent(kind=kind, time_s=time, step=step, z=abs(step) / se, noise=se, min_step=min_step,
                            z_min=z_min, window_s=window / rate, gap_s=gap / rate))
    return out


def frequency_steps(track: EnfTrack, *, min_step_hz: float = 0.01, z_min: float = 8.0,
                    window_s: float = 4.0) -> list[EnfEvent]:
    """Abrupt steps of the ENF frequency track.

    Parameters
    ----------
    track : EnfTrack
        The estimate.
    min_step_hz : float
        Smallest step reported (Hz).
    z_min : float
        Robust z-score a step needs.
    window_s : float
        Fit window on each side (s).

    Returns
    -------
    list of EnfEvent
        Boundaries at frame centres, in time order.
    """
    hop = track.hop_s
    gap = max(int(math.ceil(0.5 * track.frame_s / hop - 1e-9)) - 1, 1)
    window = max(3, int(round(window_s / hop)))
    # Frames are centred on track times; the boundary at frame i lies at its centre, and the
    # frames whose window contains it (|centre - t| < frame/2) are skipped. Short windows keep
    # the lever arm (and so the error of extrapolating a curving ENF with a line) small.
    d = two_sided_step(track.freq_hz, track.valid, window=window, gap=gap)
    return _events("frequency_step", track.times_s, track.freq_hz, track.valid, d, min_step=min_step_hz, z_min=z_min,
                   window=window, gap=gap, rate=1.0 / hop, floor=1e-5, wrap=False, global_scale=True)


def phase_jumps(track: EnfTrack, *, min_jump_rad: float = math.radians(10.0), z_min: float = 8.0,
                window_s: float = 2.0) -> tuple[list[EnfEvent], np.ndarray, np.ndarray]:
    """Steps of the ENF phase residual (removed or inserted material).

    Two passes: the first finds candidate jumps at half the thresholds; the second recomputes
    the residual with the frames around those candidates left out of the frequency prediction
    (see :func:`forensics_app.dsp.enf.phase_residual`) and applies the full thresholds.

    Parameters
    ----------
    track : EnfTrack
        The estimate (its phase at the baseband rate).
    min_jump_rad : float
        Smallest jump reported (radians of the tracked harmonic).
    z_min : float
        Robust z-score a jump needs.
    window_s : float
        Fit window on each side (s).

    Returns
    -------
    events : list of EnfEvent
        ``step`` wrapped to (-pi, pi], in time order.
    residual : np.ndarray
        Shape (p,): the final phase residual (rad), for display.
    valid : np.ndarray
        Shape (p,): bool, where the residual is defined.
    """
    fs = track.baseband_rate
    gap = max(1, int(math.ceil(track.settle_s * fs)))
    window = max(4, int(round(window_s * fs)))
    events: list[EnfEvent] = []
    exclude: tuple[float, ...] = ()
    for strict in (False, True):
        psi, valid = phase_residual(track, exclude_s=exclude)
        d = two_sided_step(psi, valid, window=window, gap=gap)
        d = np.where(np.isfinite(d), np.angle(np.exp(1j * np.nan_to_num(d))), np.nan)
        scale = 1.0 if strict else 0.5
        events = _events("phase_jump", track.phase_times_s, psi, valid, d, min_step=scale * min_jump_rad, z_min=scale * z_min,
                         window=window, gap=gap, rate=fs, floor=1e-4, wrap=True)
        if strict or not events:
            break
        exclude = tuple(e.time_s for e in events)
    return events, psi, valid
