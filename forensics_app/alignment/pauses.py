"""Pauses that were lengthened or shortened between the reference and the questioned copy.

The alignment lets pauses stretch or shrink almost for free (two readings of the same text pause
differently), so a changed pause is never a *departure*. Between a broadcast and a "leaked" copy
of the same event, though, pauses should be identical, and a pause that grew or shrank by more
than ``min_change_s`` is worth a descriptive finding: silence inserted or cut out.

Along the path, a *pause run* is a maximal run of steps that do not pair questioned speech with
reference speech. Its pause on each side is the silent (inactive) frames that side covers in the
run; runs that overlap a departure (unmatched steps) are left to the departure.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from forensics_app.alignment.dtw import Path

MIN_CHANGE_S = 0.5
"""Smallest change of a pause's length (s) that is reported."""


@dataclass(frozen=True)
class PauseChange:
    """One pause whose length differs between the two recordings.

    Attributes
    ----------
    start_s, end_s : float
        The pause in the questioned recording (s).
    reference_start_s, reference_end_s : float
        The pause in the reference recording (s).
    questioned_s, reference_s : float
        Silence (s) each side holds in the pause.
    """

    start_s: float
    end_s: float
    reference_start_s: float
    reference_end_s: float
    questioned_s: float
    reference_s: float

    @property
    def change_s(self) -> float:
        """How much longer (> 0) or shorter (< 0) the pause is in the questioned recording (s)."""
        return self.questioned_s - self.reference_s


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    d = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(d == 1).tolist(), np.flatnonzero(d == -1).tolist(), strict=True))


def pause_changes(path: Path, aq: np.ndarray, ar: np.ndarray, *, hop_s: float, unmatched: np.ndarray,
                  min_change_s: float = MIN_CHANGE_S) -> list[PauseChange]:
    """Pauses lengthened or shortened by at least ``min_change_s``.

    Parameters
    ----------
    path : Path
        The alignment.
    aq, ar : np.ndarray
        Shape (n_q,) and (n_r,), bool: speech activity of each frame.
    hop_s : float
        Frame hop (s).
    unmatched : np.ndarray
        Shape (k,), bool: steps that belong to departures (their runs are skipped).
    min_change_s : float
        Smallest change reported (s).

    Returns
    -------
    list of PauseChange
        In questioned-time order.
    """
    paired_speech = aq[path.q] & ar[path.r]
    out: list[PauseChange] = []
    for a, b in _runs(~paired_speech):
        if unmatched[a:b].any():
            continue
        q = np.unique(path.q[a:b])
        r = np.unique(path.r[a:b])
        q_sil, r_sil = q[~aq[q]], r[~ar[r]]
        dq, dr = q_sil.size * hop_s, r_sil.size * hop_s
        if abs(dq - dr) < min_change_s:
            continue
        q_lo, q_hi = (q_sil.min(), q_sil.max() + 1) if q_sil.size else (q.min(), q.min())
        r_lo, r_hi = (r_sil.min(), r_sil.max() + 1) if r_sil.size else (r.min(), r.min())
        out.append(PauseChange(start_s=float(q_lo * hop_s), end_s=float(q_hi * hop_s),
                               reference_start_s=float(r_lo * hop_s), reference_end_s=float(r_hi * hop_s),
                               questioned_s=float(dq), reference_s=float(dr)))
    return out
