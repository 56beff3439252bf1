"""ENF reference logs and matching a recording's ENF track against them.

A reference log is a CSV file of ``timestamp,frequency`` rows at a regular step (grid operators
and ENF databases publish such logs, typically one value per second). Timestamps are ISO 8601
(``2024-03-05T14:00:00+00:00``, ``2024-03-05 14:00:00``; all with a zone offset or all without)
or plain numbers of seconds. A header row is allowed; an empty frequency cell (or ``nan``) marks a
missing value. Anything else (an unparseable cell, timestamps that go backwards, an irregular
step) is refused with an :class:`EnfReferenceError` that names the row.

Matching (:func:`match_reference`) resamples the track onto the reference's time grid and slides
it along the reference one step at a time. At every candidate offset it computes, over the points
both have, the *residual RMS*: the RMS of the difference between track and reference after
removing the mean difference (a recorder whose clock runs fast by ``e`` shifts the whole track
by ``e * nominal``, which must not matter). The best offset has the smallest residual RMS; it is
refined to 1/50 of a step by evaluating the residual RMS against the linearly interpolated
reference at fractional offsets within one step of it. The
residual criterion is used rather than the correlation because ENF wanders like a random walk:
mean-removed curves of a minute or less correlate well at many offsets, but only at the right
one do they also agree in amplitude (measured on generated logs: 50 of 50 segments of 20 to 60 s
found the right offset with the residual, 42 of 50 with the correlation of first differences).
Reported at the best offset: ``correlation`` (Pearson's r of the mean-removed frequencies, as the
literature reports it), ``rmse_hz`` (of the frequencies as they are), the mean difference, the
correlation of first differences and the residual RMS.

Significance: ``significance`` is a z-score of the match statistic ``-log(residual RMS)``: how far
the best offset's value lies above its values at all other candidate offsets (leaving out the
main lobe around the best: the contiguous offsets where the statistic stays above half-way
between the best and the median), in units of their standard deviation. Under no match, the best
of ``N`` roughly independent offsets reaches about ``sqrt(2 ln N)`` (3 to 3.8 measured for
unrelated logs of 10 minutes); a true match of 60 s reached 5 to 9. ``p_value`` turns the z-score
into an approximate family-wise probability: the one-sided normal tail times the number of
independent offsets (candidates divided by the main lobe's width), capped at 1.
``second_best_ratio`` is the best residual RMS over the smallest one outside the main lobe:
near 1 the match is ambiguous.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import signal, stats

from forensics_app.domain.errors import ForensicsError

_MIN_ROWS = 10
_STEP_TOLERANCE = 1e-3
_RESID_FLOOR_HZ = 1e-5  # residuals below this are treated as equal (numerical floor)  # relative deviation of a step from the median step that is still regular


class EnfReferenceError(ForensicsError):
    """An ENF reference log is unreadable or invalid, or a match is impossible."""


@dataclass(frozen=True)
class EnfReference:
    """A validated ENF reference log.

    Attributes
    ----------
    path : str
        The file it was read from.
    sha256 : str
        SHA-256 of the file's bytes (hex).
    hz : np.ndarray
        Shape (n,): frequencies in Hz, NaN where missing; row ``i`` is at ``i * step_s`` seconds
        after the first row.
    step_s : float
        Time between rows in seconds.
    start : datetime or None
        Timestamp of the first row when the log has ISO 8601 timestamps.
    start_s : float
        Timestamp of the first row in seconds when the log has numeric timestamps (else 0).
    """

    path: str
    sha256: str
    hz: np.ndarray
    step_s: float
    start: dt.datetime | None
    start_s: float

    @property
    def duration_s(self) -> float:
        """Time covered, first to last row (s)."""
        return (len(self.hz) - 1) * self.step_s


@dataclass(frozen=True)
class EnfMatch:
    """The best alignment of a track with a reference.

    Attributes
    ----------
    best_offset_s : float
        Reference time of the recording's start, in seconds after the reference's first row.
    timestamp_of_start : datetime or None
        The same as a date and time (None for numeric reference timestamps).
    correlation : float
        Pearson's r of the mean-removed track and reference at the best offset.
    rmse_hz : float
        RMS difference of the (not mean-removed) frequencies at the best whole-step offset (Hz).
    significance : float
        z-score of the best correlation among all candidate offsets (see the module docstring).
    n_points : int
        Points compared at the best offset.
    second_best_ratio : float
        Residual RMS at the best offset over the smallest residual RMS outside the main lobe
        (in (0, 1]; near 1 the match is ambiguous).
    p_value : float
        Approximate Bonferroni-bounded p-value of the match.
    n_candidates : int
        Offsets compared.
    mean_difference_hz : float
        Mean of track minus reference at the best offset (Hz): a recorder clock off by ``e``
        (relative) shifts the whole track by about ``e * nominal``.
    reference_time_s : float
        ``start_s + best_offset_s``: the start in the reference's own numeric time.
    increment_correlation : float
        Pearson's r of the first differences at the best offset.
    residual_rms_hz : float
        RMS of the mean-removed difference at the best offset (Hz): the statistic that chose it.
    """

    best_offset_s: float
    timestamp_of_start: dt.datetime | None
    correlation: float
    rmse_hz: float
    significance: float
    n_points: int
    second_best_ratio: float
    p_value: float = 1.0
    n_candidates: int = 0
    mean_difference_hz: float = 0.0
    reference_time_s: float = 0.0
    increment_correlation: float = 0.0
    residual_rms_hz: float = 0.0


def _parse_time(text: str, row: int) -> float | dt.datetime:
    try:
        return float(text)
    except ValueError:
        pass
    try:
        return dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise EnfReferenceError(f"row {row}: timestamp {text!r} is neither ISO 8601 nor a number of seconds") \
            from None


def _parse_hz(text: str, row: int) -> float:
    t = text.strip()
    if t == "" or t.lower() == "nan":
        return float("nan")
    try:
        value = float(t)
    except ValueError:
        raise EnfReferenceError(f"row {row}: frequency {text!r} is not a number") from None
    if not math.isfinite(value) or not 0.0 < value < 1000.0:
        raise EnfReferenceError(f"row {row}: frequency {value} Hz is outside (0, 1000) Hz")
    return value


def load_reference(path: Path | str) -> EnfReference:
    """Read and validate an ENF reference CSV (see the module docstring).

    Parameters
    ----------
    path : Path or str
        The CSV file: ``timestamp,frequency`` per row (further columns are ignored).

    Returns
    -------
    EnfReference

    Raises
    ------
    EnfReferenceError
        With the row number (1 = the file's first line) of the first problem.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise EnfReferenceError(f"cannot read the ENF reference {path}: {exc}") from exc
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise EnfReferenceError(f"{path.name}: not UTF-8 text ({exc})") from exc
    times: list[float | dt.datetime] = []
    hz: list[float] = []
    rows: list[int] = []
    for row, fields in enumerate(csv.reader(text.splitlines()), start=1):
        if not fields or all(not f.strip() for f in fields) or fields[0].lstrip().startswith("#"):
            continue
        if len(fields) < 2:
            raise EnfReferenceError(f"{path.name} row {row}: expected 'timestamp,frequency', got {fields!r}")
        if not times and not hz:
            try:
                float(fields[1])
            except ValueError:
                if fields[1].strip().lower() not in {"", "nan"}:
                    continue  # the header
        times.append(_parse_time(fields[0], row))
        hz.append(_parse_hz(fields[1], row))
        rows.append(row)
    if len(times) < _MIN_ROWS:
        raise EnfReferenceError(f"{path.name}: {len(times)} data rows; an ENF reference needs at least {_MIN_ROWS}")
    kinds = {type(t) for t in times}
    if len(kinds) > 1:
        first = next(r for r, t in zip(rows, times, strict=True) if type(t) is not type(times[0]))
        raise EnfReferenceError(f"{path.name} row {first}: mixes numeric and ISO 8601 timestamps")
    start: dt.datetime | None = None
    if isinstance(times[0], dt.datetime):
        aware = [t.tzinfo is not None for t in times]  # type: ignore[union-attr]
        if len(set(aware)) > 1:
            bad = rows[aware.index(not aware[0])]
            raise EnfReferenceError(f"{path.name} row {bad}: mixes timestamps with and without a zone offset")
        start = times[0]  # type: ignore[assignment]
        secs = np.array([(t - start).total_seconds() for t in times])  # type: ignore[operator]
    else:
        secs = np.array(times, dtype=np.float64)
    steps = np.diff(secs)
    if np.any(steps <= 0):
        bad = rows[int(np.flatnonzero(steps <= 0)[0]) + 1]
        raise EnfReferenceError(f"{path.name} row {bad}: timestamp does not increase")
    step = float(np.median(steps))
    irregular = np.abs(steps - step) > _STEP_TOLERANCE * step
    if irregular.any():
        i = int(np.flatnonzero(irregular)[0])
        raise EnfReferenceError(
            f"{path.name} row {rows[i + 1]}: step of {steps[i]:g} s where the log's step is {step:g} s "
            f"(a reference must be regular; mark missing values with an empty frequency instead)")
    values = np.array(hz)
    if np.isfinite(values).sum() < _MIN_ROWS:
        raise EnfReferenceError(f"{path.name}: fewer than {_MIN_ROWS} frequencies are given")
    return EnfReference(path=str(path), sha256=hashlib.sha256(data).hexdigest(), hz=values, step_s=step,
                        start=start, start_s=0.0 if start is not None else float(secs[0]))


def _on_grid(track_times_s: np.ndarray, track_hz: np.ndarray, step: float) -> tuple[float, np.ndarray]:
    """Resample a track onto a grid of ``step`` starting at its first valid time (NaN in gaps)."""
    t = np.asarray(track_times_s, dtype=np.float64)
    f = np.asarray(track_hz, dtype=np.float64)
    ok = np.isfinite(f)
    if ok.sum() < 3:
        raise EnfReferenceError("the ENF track has fewer than 3 estimates; nothing to match")
    tv, fv = t[ok], f[ok]
    grid = tv[0] + step * np.arange(int(math.floor((tv[-1] - tv[0]) / step + 1e-9)) + 1)
    out = np.interp(grid, tv, fv)
    i = np.clip(np.searchsorted(tv, grid), 1, len(tv) - 1)
    near = np.minimum(np.abs(grid - tv[i - 1]), np.abs(grid - tv[i]))
    hop = float(np.median(np.diff(t))) if len(t) > 1 else step
    out[near > max(1.5 * hop, step)] = np.nan
    return float(tv[0]), out


def _correlations(a: np.ndarray, b: np.ndarray, min_points: int) -> tuple[np.ndarray, ...]:
    """Pearson r (and point counts, mean difference, RMS difference) of ``a`` against every
    full-overlap position in ``b``, ignoring NaN, via FFT correlations."""
    ma, mb = np.isfinite(a), np.isfinite(b)
    centre = float(np.nanmean(b))
    a0 = np.where(ma, a - centre, 0.0)
    b0 = np.where(mb, b - centre, 0.0)
    wa, wb = ma.astype(np.float64), mb.astype(np.float64)

    def xc(u: np.ndarray, v: np.ndarray) -> np.ndarray:
        # out[m] = sum_j u[j] * v[m + j]
        return signal.fftconvolve(v, u[::-1], mode="valid")

    n = np.rint(xc(wa, wb))
    sa, sb = xc(a0, wb), xc(wa, b0)
    saa, sbb = xc(a0 * a0, wb), xc(wa, b0 * b0)
    sab = xc(a0, b0)
    with np.errstate(invalid="ignore", divide="ignore"):
        cov = n * sab - sa * sb
        var = (n * saa - sa * sa) * (n * sbb - sb * sb)
        r = np.where((n >= min_points) & (var > 0), cov / np.sqrt(np.maximum(var, 1e-300)), np.nan)
        mean_diff = np.where(n > 0, (sa - sb) / np.maximum(n, 1), np.nan)
        rmse = np.where(n > 0, np.sqrt(np.maximum(saa - 2 * sab + sbb, 0.0) / np.maximum(n, 1)), np.nan)
    return r, n, mean_diff, rmse


def _refine(a: np.ndarray, b: np.ndarray, m: int) -> float:
    """Fractional lag in [-1, 1] around ``m`` minimising the residual RMS, with the reference
    interpolated linearly (grid of 1/50 step)."""
    ok = np.isfinite(a)
    j = np.flatnonzero(ok).astype(np.float64)
    idx = np.arange(len(b), dtype=np.float64)
    good_b = np.isfinite(b)
    best, best_frac = np.inf, 0.0
    for frac in np.linspace(-1.0, 1.0, 101):
        pos = m + frac + j
        if pos[0] < 0 or pos[-1] > len(b) - 1:
            continue
        ref = np.interp(pos, idx[good_b], b[good_b])
        diff = a[ok] - ref
        resid = float(np.std(diff))
        if resid < best:
            best, best_frac = resid, float(frac)
    return best_frac


def smooth_reference(hz: np.ndarray, step_s: float, frame_s: float) -> np.ndarray:
    """The reference as a frame-based estimator sees it: a Hann-weighted moving average.

    Parameters
    ----------
    hz : np.ndarray
        Shape (n,): reference frequencies (NaN where missing).
    step_s : float
        Time between values (s).
    frame_s : float
        Length of the estimator's Hann window (s); the kernel is ``cos(pi*t/frame_s)**2`` sampled
        at multiples of ``step_s`` with ``|t| < frame_s/2``, normalised to unit sum.

    Returns
    -------
    np.ndarray
        Shape (n,): smoothed frequencies (missing values are left out of the average; NaN where
        no value lies under the kernel).
    """
    half = int(math.ceil(0.5 * frame_s / step_s - 1e-9)) - 1
    if half < 1:
        return np.asarray(hz, dtype=np.float64)
    t = np.arange(-half, half + 1) * step_s
    kern = np.cos(np.pi * t / frame_s) ** 2
    ok = np.isfinite(hz)
    num = np.convolve(np.where(ok, hz, 0.0), kern, mode="same")
    den = np.convolve(ok.astype(np.float64), kern, mode="same")
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0.5 * kern.sum(), num / np.maximum(den, 1e-300), np.nan)


def match_reference(track_times_s: np.ndarray, track_hz: np.ndarray, reference: EnfReference, *,
                    max_offset_s: float | None = None, min_offset_s: float | None = None,
                    min_overlap: float = 0.8, smoothing_s: float | None = None) -> EnfMatch:
    """Find the reference time at which a recording's ENF track fits best.

    Parameters
    ----------
    track_times_s : np.ndarray
        Shape (f,): frame centres of the track in seconds from the recording's start.
    track_hz : np.ndarray
        Shape (f,): ENF estimates in Hz (NaN where none).
    reference : EnfReference
        From :func:`load_reference`.
    max_offset_s, min_offset_s : float, optional
        Limit the candidate start times (s after the reference's first row).
    min_overlap : float
        Fraction of the track's points that must meet a reference value at a candidate offset.
    smoothing_s : float, optional
        The track's analysis frame length (s): the reference is first smoothed the same way
        (:func:`smooth_reference`), so that like is compared with like. Without it, comparing a
        frame-averaged track with the raw log biased the offset by 0.15 to 0.25 s in tests.

    Returns
    -------
    EnfMatch

    Raises
    ------
    EnfReferenceError
        If the track is longer than the reference, or fewer than 3 candidate offsets remain.
    """
    step = reference.step_s
    t0, a = _on_grid(track_times_s, track_hz, step)
    b = reference.hz if smoothing_s is None else smooth_reference(reference.hz, step, smoothing_s)
    if len(a) >= len(b):
        raise EnfReferenceError(f"the ENF track ({len(a) * step:.0f} s) is not shorter than the reference "
                                f"({len(b) * step:.0f} s)")
    min_points = max(4, int(math.ceil(min_overlap * np.isfinite(a).sum())))
    r_raw, n_raw, mean_diff, rmse = _correlations(a, b, min_points)
    r_inc, _, _, _ = _correlations(np.diff(a), np.diff(b), min_points - 1)
    resid = np.sqrt(np.maximum(rmse ** 2 - mean_diff ** 2, 0.0))
    offsets = np.arange(len(r_raw)) * step - t0
    allowed = np.isfinite(r_raw) & np.isfinite(resid)
    if max_offset_s is not None:
        allowed &= offsets <= max_offset_s + 1e-9
    if min_offset_s is not None:
        allowed &= offsets >= min_offset_s - 1e-9
    if allowed.sum() < 3:
        raise EnfReferenceError(f"only {int(allowed.sum())} candidate offsets remain; widen the search")
    score = np.where(allowed, -np.log(np.maximum(resid, _RESID_FLOOR_HZ)), -np.inf)
    m = int(np.argmax(score))
    frac = _refine(a, b, m)
    finite = score[allowed]
    level = 0.5 * (score[m] + float(np.median(finite)))
    lo = m
    while lo > 0 and allowed[lo - 1] and score[lo - 1] > level:
        lo -= 1
    hi = m
    while hi < len(score) - 1 and allowed[hi + 1] and score[hi + 1] > level:
        hi += 1
    others = allowed.copy()
    others[lo:hi + 1] = False
    rest = score[others]
    if rest.size >= 2 and float(np.std(rest)) > 0:
        z = (float(score[m]) - float(np.mean(rest))) / float(np.std(rest))
        second = float(resid[others][np.argmax(rest)])
    else:
        z, second = float("nan"), float("nan")
    n_indep = max(1.0, allowed.sum() / (hi - lo + 1))
    p = float(min(1.0, n_indep * stats.norm.sf(z))) if math.isfinite(z) else 1.0
    offset = float(offsets[m] + frac * step)
    stamp = reference.start + dt.timedelta(seconds=offset) if reference.start is not None else None
    return EnfMatch(
        best_offset_s=offset, timestamp_of_start=stamp, correlation=float(r_raw[m]), rmse_hz=float(rmse[m]),
        significance=float(z), n_points=int(n_raw[m]),
        second_best_ratio=float(resid[m]) / second if math.isfinite(second) and second > 0 else float("nan"),
        p_value=p, n_candidates=int(allowed.sum()), mean_difference_hz=float(mean_diff[m]),
        reference_time_s=reference.start_s + offset, increment_correlation=float(r_inc[m]),
        residual_rms_hz=float(resid[m]),
    )


@dataclass(frozen=True)
class PieceMatch:
    """The match of one piece of a track.

    Attributes
    ----------
    start_s, end_s : float
        The piece's time range in the recording (s).
    match : EnfMatch or None
        Its best match (None when it could not be matched).
    error : str
        Why it could not be matched ("" otherwise).
    """

    start_s: float
    end_s: float
    match: EnfMatch | None
    error: str = ""


def split_pieces(start_s: float, end_s: float, *, boundaries_s: tuple[float, ...] = (),
                 segment_s: float = 30.0, min_piece_s: float = 15.0) -> list[tuple[float, float]]:
    """Cut ``[start_s, end_s]`` at the given boundaries, then into pieces of about ``segment_s``.

    Pieces shorter than ``min_piece_s`` are dropped; a stretch longer than ``1.5 * segment_s``
    is divided into equal pieces no longer than ``segment_s`` (rounded).
    """
    cuts = [start_s] + sorted(b for b in boundaries_s if start_s < b < end_s) + [end_s]
    out = []
    for a, b in zip(cuts[:-1], cuts[1:], strict=True):
        n = max(1, int(round((b - a) / segment_s))) if b - a > 1.5 * segment_s else 1
        edges = np.linspace(a, b, n + 1)
        out += [(float(x), float(y)) for x, y in zip(edges[:-1], edges[1:], strict=True) if y - x >= min_piece_s]
    return out


def match_pieces(track_times_s: np.ndarray, track_hz: np.ndarray, reference: EnfReference, *,
                 pieces: list[tuple[float, float]], frame_s: float = 0.0) -> list[PieceMatch]:
    """Match each piece ``(start_s, end_s)`` of a track on its own (see :func:`match_reference`).

    Only frames whose whole window (``frame_s`` long, centred on the frame time) lies inside the
    piece are used, so a frame that straddles an edit point does not blur both pieces. Each
    match's ``best_offset_s`` is the reference time of the *recording's* start that the piece
    implies, so pieces of one continuous recording agree and pieces assembled from different
    times do not. The reference is smoothed with ``frame_s`` as in :func:`match_reference`.
    """
    t = np.asarray(track_times_s, dtype=np.float64)
    f = np.asarray(track_hz, dtype=np.float64)
    half = 0.5 * frame_s
    out = []
    for a, b in pieces:
        sel = (t - half >= a - 1e-9) & (t + half <= b + 1e-9)
        try:
            out.append(PieceMatch(a, b, match_reference(t[sel], f[sel], reference,
                                                        smoothing_s=frame_s or None)))
        except EnfReferenceError as exc:
            out.append(PieceMatch(a, b, None, str(exc)))
    return out
