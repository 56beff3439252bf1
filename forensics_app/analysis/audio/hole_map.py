"""Spectral holes in the time-frequency plane, counted while frames stream past.

A cell (frame x band) is a hole when its band power lies ``hole_db`` or more below the median
of the same band in the two frames before it and the two after it, and that median lies at
least ``hole_db`` above the rounding-noise floor of the band (so a hole can be told from the
noise floor). Lossy encoders switch bands off for a block or a few; natural sounds rarely drop
a band for a single frame between two loud ones (stable gaps between harmonics and onsets have
no loud neighbours on both sides). Counts are kept per time window and band, so the fraction
can be taken over any band range afterwards without keeping the spectra.
"""

from __future__ import annotations

import math

import numpy as np

from forensics_app.analysis.audio.spectral_frames import to_db

_CONTEXT = 2  # frames on each side of the reference


STEADY_DB = 6.0
"""A frame whose total level differs more than this from its neighbours' (dB) is not counted."""


class HoleCounter:
    """Streamed hole counts per (window, band).

    Parameters
    ----------
    freqs : np.ndarray
        Shape (n_bins,), the spectra's bin frequencies in Hz (bin 0 = DC).
    band_hz : float
        Band width in Hz (rounded to whole bins); bands start at bin 1.
    hole_db : float
        Depth of a hole in dB.
    floor_db : float
        Per-bin rounding-noise level in dB (module scaling of spectral_frames).
    window_frames : int
        Frames per counting window.
    n_frames : int
        Frames that will be added in total.
    """

    def __init__(self, *, freqs: np.ndarray, band_hz: float, hole_db: float, floor_db: float, window_frames: int,
                 n_frames: int) -> None:
        bin_hz = float(freqs[1])
        self.bins = max(int(round(band_hz / bin_hz)), 1)
        self.n_bands = max((freqs.size - 1) // self.bins, 1)
        self.centres_hz = (1 + (np.arange(self.n_bands) + 0.5) * self.bins) * bin_hz
        self.hole_db = float(hole_db)
        self.band_floor_db = float(floor_db) + 10.0 * math.log10(self.bins)
        self.window_frames = int(window_frames)
        n_windows = max(-(-n_frames // self.window_frames), 1)
        self.holes = np.zeros((n_windows, self.n_bands), np.int64)
        self.cells = np.zeros((n_windows, self.n_bands), np.int64)
        self._buf_e = np.empty((0, self.n_bands))
        self._buf_loud = np.empty(0, bool)
        self._buf_first = 0  # frame index of the buffer's first row
        self._next = 0  # first frame not yet evaluated

    def add(self, power: np.ndarray, loud: np.ndarray) -> None:
        """Add consecutive frames: power spectra (k, n_bins) and their non-silent flags (k,)."""
        k = power.shape[0]
        hi = 1 + self.n_bands * self.bins
        if power.shape[1] < hi:
            power = np.concatenate([power, np.zeros((k, hi - power.shape[1]))], axis=1)
        e = to_db(power[:, 1:hi].reshape(k, self.n_bands, self.bins).sum(axis=-1))
        self._buf_e = np.concatenate([self._buf_e, e], axis=0)
        self._buf_loud = np.concatenate([self._buf_loud, np.asarray(loud, bool)])
        self._evaluate(until=self._buf_first + self._buf_e.shape[0] - _CONTEXT)

    def finish(self) -> None:
        """Evaluate the last frames (their missing successors are replaced by the last frame)."""
        self._evaluate(until=self._buf_first + self._buf_e.shape[0])

    def _evaluate(self, *, until: int) -> None:
        n = self._buf_e.shape[0]
        rows = np.arange(self._next - self._buf_first, until - self._buf_first)
        if rows.size:
            # The buffer keeps _CONTEXT evaluated frames before the pending ones; beyond the
            # recording's ends the nearest frame stands in.
            neighbours = [np.clip(rows + d, 0, n - 1) for d in (-2, -1, 1, 2)]
            ref = np.median(np.stack([self._buf_e[i] for i in neighbours]), axis=0)
            e = self._buf_e[rows]
            hole = (e < ref - self.hole_db) & (ref >= self.band_floor_db + self.hole_db)
            # Only steady frames count: the frame and its four neighbours are all non-silent and
            # the frame's total level is within STEADY_DB of theirs. Onsets, offsets and the
            # edges of digital silence (synthetic speech, edits) are not codec band holes.
            total = to_db(np.sum(10.0 ** (self._buf_e / 10.0), axis=1))
            ref_total = np.median(np.stack([total[i] for i in neighbours]), axis=0)
            neighbours_loud = np.all(np.stack([self._buf_loud[i] for i in neighbours]), axis=0)
            steady = neighbours_loud & (np.abs(total[rows] - ref_total) <= STEADY_DB)
            loud = self._buf_loud[rows] & steady
            window = (rows + self._buf_first) // self.window_frames
            np.add.at(self.holes, window[loud], hole[loud].astype(np.int64))
            np.add.at(self.cells, window[loud], 1)
            self._next = until
        keep_from = max(self._next - self._buf_first - _CONTEXT, 0)
        self._buf_e = self._buf_e[keep_from:]
        self._buf_loud = self._buf_loud[keep_from:]
        self._buf_first += keep_from

    def fractions(self, *, lo_hz: float, hi_hz: float, hop_s: float,
                  frame_s: float) -> tuple[float, np.ndarray, np.ndarray, int]:
        """Hole fraction over bands with centres in ``[lo_hz, hi_hz]``.

        Returns
        -------
        fraction : float
            Holes / cells over the whole recording (0 when there are no cells).
        times_s, values : np.ndarray
            The per-window lane (windows without cells left out), shapes (n,).
        cells : int
            Cells counted.
        """
        sel = (self.centres_hz >= lo_hz) & (self.centres_hz <= hi_hz)
        holes = self.holes[:, sel].sum(axis=1)
        cells = self.cells[:, sel].sum(axis=1)
        total = int(cells.sum())
        fraction = float(holes.sum()) / total if total else 0.0
        ok = cells > 0
        t = (np.arange(cells.size) + 0.5) * self.window_frames * hop_s + frame_s / 2.0
        return fraction, t[ok], holes[ok] / cells[ok], total
