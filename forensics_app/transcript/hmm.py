"""A left-to-right hidden Markov model over the synthetic rendering, decoded in a band.

The states are the synthetic rendering's frames in order, with an optional pause state between
words (see :mod:`.align`); the observations are the questioned recording's frames. From state
``k`` the model stays, moves to ``k + 1`` or skips to ``k + 2``, so the questioned reading may be
any amount slower than the rendering and up to twice as fast, and may pause between any two words.
The emission log-likelihood of a questioned frame in a state is ``-cost / tau`` with the cost of
:func:`forensics_app.transcript.features.frame_cost` (pause states: ``PAUSE_COST`` plus
``PAUSE_SPEECH_COST`` times the frame's speech probability, so a pause absorbs silence freely and
speech only when nothing else fits).

Decoding runs in a band: at questioned frame ``t`` only the states ``lo[t] .. lo[t] + width - 1``
are considered (``lo`` non-decreasing); a full band is ``lo = 0, width = n_states``. Memory is
``n_frames * width`` (int8 back-pointers for Viterbi, float32 forward variables for the
posteriors), time is linear in the same product.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from forensics_app.domain.errors import AnalyzerError
from forensics_app.domain.jobs import Progress
from forensics_app.transcript.features import FrameFeatures, frame_cost

#: Cost of a silent questioned frame in a pause state.
PAUSE_COST = 0.05
#: Extra cost of a speech frame in a pause state (a frame matched to no word).
PAUSE_SPEECH_COST = 0.65
_NEG = -1e30
_CHECK_EVERY = 256


@dataclass(frozen=True)
class StateGraph:
    """The states of the rendering.

    Attributes
    ----------
    vectors : np.ndarray
        Shape (n_states, d), float32 unit rows (zeros for pause states).
    speech : np.ndarray
        Shape (n_states,), float32 speech probability of each state's frame.
    pause : np.ndarray
        Shape (n_states,), bool: optional pause states.
    word : np.ndarray
        Shape (n_states,), int: word index of frame states, -1 for pause states.
    position_s : np.ndarray
        Shape (n_states,), float64, non-decreasing: each state's time in the rendering (s).
    log_trans : np.ndarray
        Shape (n_states, 3), float64: log-probability of moving from a state by 0, 1 or 2.
    start, end : np.ndarray
        Shape (n_states,), bool: where a path may start and end.
    """

    vectors: np.ndarray
    speech: np.ndarray
    pause: np.ndarray
    word: np.ndarray
    position_s: np.ndarray
    log_trans: np.ndarray
    start: np.ndarray
    end: np.ndarray

    @property
    def n_states(self) -> int:
        """Number of states."""
        return int(self.speech.size)


def emission_cost(g: StateGraph, q: FrameFeatures, t: int, lo: int, hi: int) -> np.ndarray:
    """Cost of questioned frame ``t`` in states ``lo .. hi - 1``, shape (hi - lo,), float32."""
    c = frame_cost(q.vectors[t], float(q.speech[t]), g.vectors[lo:hi], g.speech[lo:hi])
    return np.where(g.pause[lo:hi], np.float32(PAUSE_COST + PAUSE_SPEECH_COST * float(q.speech[t])), c)


def _emission(g: StateGraph, q: FrameFeatures, t: int, lo: int, width: int, tau: float) -> np.ndarray:
    """Log-likelihoods for the band at ``t``, shape (width,), -inf-like outside the states."""
    hi = min(lo + width, g.n_states)
    e = np.full(width, _NEG)
    e[: hi - lo] = -emission_cost(g, q, t, lo, hi) / tau
    return e


def _padded_trans(g: StateGraph) -> np.ndarray:
    """``log_trans`` with two rows of -inf before and after: row ``k + 2`` is state ``k``."""
    out = np.full((g.n_states + 4, 3), _NEG)
    out[2 : g.n_states + 2] = g.log_trans
    return out


def _step_in(prev: np.ndarray, shift: int, trans: np.ndarray, lo: int, width: int) -> np.ndarray:
    """Candidates (3, width) for entering each band state at ``t`` from the band at ``t - 1``.

    Row ``d`` holds ``prev[state - d] + log P(state - d -> state)``; ``shift = lo[t] - lo[t - 1]``.
    """
    buf = np.full(2 * width + 2, _NEG)
    buf[2 : 2 + width] = prev
    return np.stack([buf[2 + shift - d : 2 + shift - d + width] + trans[lo + 2 - d : lo + 2 - d + width, d]
                     for d in range(3)])


def _step_out(nxt: np.ndarray, shift: int, trans: np.ndarray, lo_prev: int, width: int) -> np.ndarray:
    """Terms (3, width) for leaving each band state at ``t - 1`` into the band at ``t`` (backward pass)."""
    buf = np.full(2 * width + 2, _NEG)
    buf[width : 2 * width] = nxt
    return np.stack([buf[width - shift + d : 2 * width - shift + d] + trans[lo_prev + 2 : lo_prev + 2 + width, d]
                     for d in range(3)])


def _band_mask(mask: np.ndarray, lo: int, width: int) -> np.ndarray:
    out = np.zeros(width, bool)
    part = mask[lo : lo + width]
    out[: part.size] = part
    return out


def _check_band(g: StateGraph, lo: np.ndarray, width: int) -> None:
    if lo.ndim != 1 or lo.size == 0 or np.any(np.diff(lo) < 0) or lo[0] < 0 or width < 1:
        raise AnalyzerError("internal error: the alignment band must be non-decreasing and non-empty")
    if np.any(np.diff(lo) > width):
        raise AnalyzerError("internal error: the alignment band jumps by more than its width")


def viterbi(g: StateGraph, q: FrameFeatures, *, lo: np.ndarray, width: int, tau: float,
            progress: Progress | None = None) -> tuple[np.ndarray, float]:
    """The most likely state of every questioned frame.

    Parameters
    ----------
    g : StateGraph
        The rendering's states.
    q : FrameFeatures
        The questioned recording's frames (n_frames = lo.size).
    lo : np.ndarray
        Shape (n_frames,), int, non-decreasing: first state of the band at each frame.
    width : int
        States per band.
    tau : float
        Emission temperature (cost units).
    progress : Progress, optional
        Checked every few hundred frames.

    Returns
    -------
    states : np.ndarray
        Shape (n_frames,), int64.
    score : float
        Log-likelihood of the path (in units of 1 / tau).

    Raises
    ------
    AnalyzerError
        No path ends in an end state within the band (the band missed the alignment).
    """
    _check_band(g, lo, width)
    n = lo.size
    back = np.zeros((n, width), dtype=np.int8)
    b = np.arange(width)
    trans = _padded_trans(g)
    delta = np.where(_band_mask(g.start, int(lo[0]), width), _emission(g, q, 0, int(lo[0]), width, tau), _NEG)
    for t in range(1, n):
        if progress is not None and t % _CHECK_EVERY == 0:
            progress.check()
            progress.report(t / n)
        cands = _step_in(delta, int(lo[t] - lo[t - 1]), trans, int(lo[t]), width)
        best = np.argmax(cands, axis=0)
        back[t] = best
        delta = cands[best, b] + _emission(g, q, t, int(lo[t]), width, tau)
    final = np.where(_band_mask(g.end, int(lo[-1]), width), delta, _NEG)
    last = int(np.argmax(final))
    if final[last] <= _NEG / 2:
        raise AnalyzerError("the transcript could not be aligned to the recording (no path through the words)")
    states = np.empty(n, dtype=np.int64)
    states[-1] = lo[-1] + last
    for t in range(n - 1, 0, -1):
        states[t - 1] = states[t] - int(back[t, states[t] - lo[t]])
    return states, float(final[last])


def word_posteriors(g: StateGraph, q: FrameFeatures, *, lo: np.ndarray, width: int, tau: float, n_words: int,
                    columns: np.ndarray, n_columns: int, progress: Progress | None = None) -> np.ndarray:
    """Posterior probability that each questioned frame belongs to each word (forward-backward).

    Parameters
    ----------
    g, q, lo, width, tau
        As for :func:`viterbi`.
    n_words : int
        Words in the transcript (``g.word`` values are in ``[-1, n_words)``).
    columns : np.ndarray
        Shape (n_frames,), int: the output column each questioned frame is summed into.
    n_columns : int
        Output columns.
    progress : Progress, optional
        Checked every few hundred frames; reports the forward pass as the first half.

    Returns
    -------
    np.ndarray
        Shape (n_words, n_columns), float64: expected number of frames of each word in each
        column (a column's frames' posteriors summed; pause states count for no word).
    """
    _check_band(g, lo, width)
    n = lo.size
    b = np.arange(width)
    trans = _padded_trans(g)
    alpha = np.empty((n, width), dtype=np.float32)
    a = np.where(_band_mask(g.start, int(lo[0]), width), _emission(g, q, 0, int(lo[0]), width, tau), _NEG)
    alpha[0] = a
    for t in range(1, n):
        if progress is not None and t % _CHECK_EVERY == 0:
            progress.check()
            progress.report(0.5 * t / n)
        terms = _step_in(a, int(lo[t] - lo[t - 1]), trans, int(lo[t]), width)
        a = np.maximum(np.logaddexp.reduce(terms, axis=0) + _emission(g, q, t, int(lo[t]), width, tau), _NEG)
        alpha[t] = a
    out = np.zeros((n_words, n_columns))
    beta = np.where(_band_mask(g.end, int(lo[-1]), width), 0.0, _NEG)
    log_z = float(np.logaddexp.reduce(alpha[-1] + beta))
    if log_z <= _NEG / 2:
        raise AnalyzerError("the transcript could not be aligned to the recording (no path through the words)")
    for t in range(n - 1, -1, -1):
        if progress is not None and t % _CHECK_EVERY == 0:
            progress.check()
            progress.report(0.5 + 0.5 * (n - t) / n)
        k = lo[t] + b
        gamma = np.exp(np.minimum(alpha[t] + beta - log_z, 0.0))
        words = np.where((k < g.n_states), g.word[np.clip(k, 0, g.n_states - 1)], -1)
        keep = (words >= 0) & (gamma > 1e-6)
        if keep.any():
            np.add.at(out, (words[keep], int(columns[t])), gamma[keep])
        if t == 0:
            break
        nb = _emission(g, q, t, int(lo[t]), width, tau) + beta  # indexed by band position at t
        terms = _step_out(nb, int(lo[t] - lo[t - 1]), trans, int(lo[t - 1]), width)
        beta = np.maximum(np.logaddexp.reduce(terms, axis=0), _NEG)
    return out
