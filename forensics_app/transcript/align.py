"""Align a transcript's synthetic rendering to the questioned recording, word by word.

1. Both recordings become speaker-robust frame features every 10 ms
   (:mod:`forensics_app.transcript.features`), whatever their rate, channels and level.
2. The rendering's frames inside each word's span become the states of a left-to-right model,
   with an optional pause state before, between and after the words (the rendering's own pauses
   are dropped: a reader need not pause where eSpeak does, and may pause where it does not); see
   :mod:`forensics_app.transcript.hmm`.
3. Coarse to fine: when the recording and the rendering are long, a first Viterbi pass on
   40-100 ms frames over all states finds the rough path; the 10 ms pass then only considers the
   states within :data:`BAND_S` of it. Short inputs are decoded at 10 ms over all states at once.
4. Each questioned frame gets a state, so each word a span: from its first to its last frame.
   Leading and trailing silence or noise go to the outer pause states.

Per word the alignment keeps the mean frame cost along the path; whether the word is really
there is tested separately (:mod:`forensics_app.transcript.presence`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from forensics_app.domain.errors import AnalyzerError
from forensics_app.domain.jobs import Progress, ProgressToken
from forensics_app.transcript.features import FrameFeatures, analysis_signal, frame_features, pooled
from forensics_app.transcript.hmm import StateGraph, emission_cost, viterbi
from forensics_app.transcript.render import Rendering

#: Half-width of the fine band around the coarse path (s of questioned time).
BAND_S = 1.0
#: Extra states on each side of the fine band.
BAND_MARGIN = 40
#: Inputs up to this many (questioned frames x states) are decoded at 10 ms in one full pass.
FULL_BAND_CELLS = 4_000_000
#: Largest coarse pass (questioned frames x states); longer inputs are refused.
COARSE_CELLS = 30_000_000
#: Emission temperature (cost units): the scale of the model's frame log-likelihoods.
TAU = 0.1
_LOG_WORD = np.log([0.3, 0.5, 0.2])
_LOG_PAUSE = np.log([0.9, 0.08, 0.02])


@dataclass(frozen=True)
class Alignment:
    """Where each word of the transcript lies in the questioned recording.

    Attributes
    ----------
    words : tuple of str
        The transcript's words.
    spans_s : np.ndarray
        Shape (n_words, 2): start and end of each word in the questioned recording (s).
    synthetic_spans_s : np.ndarray
        Shape (n_words, 2): the same words in the synthetic rendering (s).
    questioned : FrameFeatures
        The questioned recording's 10 ms frames.
    graph : StateGraph
        The rendering's states (10 ms).
    states : np.ndarray
        Shape (n_frames,), int: the state of each questioned frame on the best path.
    band_lo : np.ndarray
        Shape (n_frames,), int: first state of the decoding band at each frame.
    band_width : int
        States per band.
    path_cost : np.ndarray
        Shape (n_frames,): frame cost along the path (0 = identical, 1 = speech against silence).
    word_cost : np.ndarray
        Shape (n_words,): mean path cost over each word's frames (NaN for a word given no frame).
    word_frames : np.ndarray
        Shape (n_words,), int: questioned frames assigned to each word.
    """

    words: tuple[str, ...]
    spans_s: np.ndarray
    synthetic_spans_s: np.ndarray
    questioned: FrameFeatures
    graph: StateGraph
    states: np.ndarray
    band_lo: np.ndarray
    band_width: int
    path_cost: np.ndarray
    word_cost: np.ndarray
    word_frames: np.ndarray

    @property
    def hop_s(self) -> float:
        """Questioned frame hop (s)."""
        return self.questioned.hop_s

    def path_rows(self) -> np.ndarray:
        """Row coordinate (word index as a float) of each questioned frame on the path.

        A frame in word ``w`` reads ``w - 0.5`` at the word's first state to ``w + 0.5`` at its
        last; a frame in the pause between words ``w - 1`` and ``w`` reads ``w - 0.5``.

        Returns
        -------
        np.ndarray
            Shape (n_frames,), float64.
        """
        g = self.graph
        ks = np.flatnonzero(g.word >= 0)  # word states, in order
        wk = g.word[ks]
        n = len(self.words)
        first, last = np.zeros(n, np.int64), np.zeros(n, np.int64)
        present, at = np.unique(wk, return_index=True)
        first[present] = ks[at]
        last[present] = ks[np.searchsorted(wk, present, side="right") - 1]
        word = g.word[self.states]
        rows = np.empty(self.states.size)
        speech = word >= 0
        w, k = word[speech], self.states[speech]
        rows[speech] = w - 0.5 + (k - first[w] + 0.5) / (last[w] - first[w] + 1)
        j = np.searchsorted(ks, self.states[~speech])  # the next word state after each pause
        rows[~speech] = np.where(j < ks.size, wk[np.minimum(j, ks.size - 1)], n) - 0.5
        return rows


def build_graph(f: FrameFeatures, spans_s: np.ndarray) -> StateGraph:
    """States of a rendering: each word's frames, with a pause state before, between and after words.

    Parameters
    ----------
    f : FrameFeatures
        The rendering's frames.
    spans_s : np.ndarray
        Shape (n_words, 2): each word's span in the rendering (s).

    Returns
    -------
    StateGraph
    """
    times = f.times_s
    d = f.vectors.shape[1]
    idx: list[int] = []
    word: list[int] = []
    for w, (a, b) in enumerate(np.asarray(spans_s, dtype=np.float64)):
        ks = np.flatnonzero((times >= a) & (times < b))
        if ks.size == 0:
            ks = np.array([min(int(round(0.5 * (a + b) / f.hop_s)), f.n_frames - 1)])
        idx += [-1] + ks.tolist()
        word += [-1] + [w] * ks.size
    idx.append(-1)
    word.append(-1)
    ia, wa = np.array(idx), np.array(word)
    pause = ia < 0
    frames = np.where(pause, 0, ia)
    vectors = np.where(pause[:, None], np.zeros((1, d), np.float32), f.vectors[frames])
    speech = np.where(pause, 0.0, f.speech[frames]).astype(np.float32)
    pos = np.where(pause, np.nan, frames * f.hop_s)
    nxt = np.append(pos[1:], np.nan)
    prv = np.insert(pos[:-1], 0, np.nan)
    pos[pause] = np.where(np.isnan(prv[pause]), nxt[pause], np.where(np.isnan(nxt[pause]), prv[pause],
                                                                   0.5 * (prv[pause] + nxt[pause])))
    pos = np.maximum.accumulate(np.nan_to_num(pos, nan=0.0))
    log_trans = np.where(pause[:, None], _LOG_PAUSE[None, :], _LOG_WORD[None, :])
    start = np.zeros(ia.size, bool)
    end = np.zeros(ia.size, bool)
    start[:2] = True
    end[-2:] = True
    return StateGraph(vectors=vectors.astype(np.float32), speech=speech, pause=pause, word=wa, position_s=pos,
                      log_trans=log_trans, start=start, end=end)


def _coarse_band(q: FrameFeatures, s: FrameFeatures, spans_s: np.ndarray, fine: StateGraph,
                 progress: Progress) -> tuple[np.ndarray, int]:
    """Fine band (lo per questioned frame, width) from a coarse full-band Viterbi pass."""
    factor = next((k for k in (4, 6, 8, 10) if (q.n_frames / k) * (fine.n_states / k) <= COARSE_CELLS), 0)
    if not factor:
        raise AnalyzerError(
            f"the recording ({q.n_frames * q.hop_s:.0f} s) and the transcript (about "
            f"{fine.n_states * q.hop_s:.0f} s read aloud) are too long to align together; "
            "align a shorter passage against an excerpt of the recording")
    qc, sc = pooled(q, factor), pooled(s, factor)
    coarse = build_graph(sc, spans_s)
    states, _ = viterbi(coarse, qc, lo=np.zeros(qc.n_frames, np.int64), width=coarse.n_states, tau=TAU,
                        progress=progress)
    pos = coarse.position_s[states]
    reach = max(1, int(round(BAND_S / qc.hop_s)))
    t_c = np.minimum(np.arange(q.n_frames) // factor, qc.n_frames - 1)
    padded = np.pad(pos, reach, mode="edge")
    windows = np.lib.stride_tricks.sliding_window_view(padded, 2 * reach + 1)
    lo_pos, hi_pos = windows.min(axis=1)[t_c], windows.max(axis=1)[t_c]
    lo = np.searchsorted(fine.position_s, lo_pos, side="left") - BAND_MARGIN
    hi = np.searchsorted(fine.position_s, hi_pos, side="right") + BAND_MARGIN
    lo = np.maximum.accumulate(np.clip(lo, 0, fine.n_states - 1))
    hi = np.minimum(np.maximum.accumulate(hi), fine.n_states)
    width = int(min(max(int(np.max(hi - lo)), 1), fine.n_states))
    lo = np.minimum(lo, fine.n_states - width)
    lo = np.maximum.accumulate(lo)
    return lo.astype(np.int64), width


def align(samples: np.ndarray, rate: int, rendering: Rendering, *, progress: Progress | None = None) -> Alignment:
    """Align a rendering to a questioned recording.

    Parameters
    ----------
    samples : np.ndarray
        Questioned audio, shape (n,) or (n, channels), float32, any level.
    rate : int
        Its sample rate (Hz).
    rendering : Rendering
        The transcript read by eSpeak NG (:func:`forensics_app.transcript.render.render`).
    progress : Progress, optional
        Progress and cancel.

    Returns
    -------
    Alignment

    Raises
    ------
    AnalyzerError
        The recording holds no sound, is too short for the transcript, or it and the transcript are
        too long to align together.
    """
    progress = progress or ProgressToken()
    x = analysis_signal(samples, rate=rate)
    if x.size < 0.1 * 16000 or not np.any(np.abs(x) > 1e-5):
        raise AnalyzerError("the recording is shorter than 0.1 s or silent: there is no speech to align")
    q = frame_features(x)
    progress.check()
    s = frame_features(analysis_signal(rendering.samples, rate=rendering.rate))
    graph = build_graph(s, rendering.spans_s)
    word_states = int(np.count_nonzero(graph.word >= 0))
    if 2 * q.n_frames < word_states:
        raise AnalyzerError(
            f"the recording ({q.n_frames * q.hop_s:.1f} s) is too short for the transcript: read aloud by the "
            f"synthesiser its words take {word_states * q.hop_s:.1f} s, and the alignment allows a reading at most "
            "twice as fast")
    progress.report(0.05, "aligning")
    if q.n_frames * graph.n_states <= FULL_BAND_CELLS:
        lo, width = np.zeros(q.n_frames, np.int64), graph.n_states
        fine_progress = progress.sub(0.05, 0.9)
    else:
        lo, width = _coarse_band(q, s, rendering.spans_s, graph, progress.sub(0.05, 0.3))
        fine_progress = progress.sub(0.35, 0.6)
    states, _ = viterbi(graph, q, lo=lo, width=width, tau=TAU, progress=fine_progress)
    path_cost = np.array([emission_cost(graph, q, t, int(k), int(k) + 1)[0] for t, k in enumerate(states)],
                         dtype=np.float64)
    progress.report(0.97, "word spans")
    n = len(rendering.words)
    fw = graph.word[states]
    spans = np.zeros((n, 2))
    cost = np.full(n, np.nan)
    frames = np.bincount(fw[fw >= 0], minlength=n)
    hop = q.hop_s
    for w in range(n):
        ts = np.flatnonzero(fw == w)
        if ts.size:
            spans[w] = (max(ts[0] - 0.5, 0.0) * hop, (ts[-1] + 0.5) * hop)  # frames are centred on k * hop
            cost[w] = float(path_cost[ts].mean())
        else:  # squeezed out: a zero-length span where the path passed the word
            before = np.flatnonzero((fw >= 0) & (fw < w))
            at = (before[-1] + 0.5) * hop if before.size else 0.0
            spans[w] = (at, at)
    spans[:, 1] = np.minimum(spans[:, 1], q.n_frames * hop)
    return Alignment(words=rendering.words, spans_s=spans, synthetic_spans_s=np.asarray(rendering.spans_s),
                     questioned=q, graph=graph, states=states, band_lo=lo, band_width=width, path_cost=path_cost,
                     word_cost=cost, word_frames=frames)
