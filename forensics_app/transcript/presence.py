"""Is each word really there? A local test of the word read as written against the word left out.

A forced alignment always places every word somewhere, even a word the reader skipped, replaced
or moved: it is squeezed into the neighbouring audio. So for every word ``w`` the stretch of the
questioned recording from its left neighbour to its right neighbour (as aligned, plus
:data:`MARGIN_S` either side) is aligned twice with the same model
(:mod:`forensics_app.transcript.hmm`): once with the words ``w - 1, w, w + 1`` and once with
``w - 1, w + 1`` only. The *presence* of the word is the difference of the two best paths' costs
(in frame-cost units: 1 = a frame of speech matched with silence) divided by the number of
questioned frames the first alignment gives ``w`` (at least :data:`MIN_FRAMES`):

* a word read as written fits its audio much better than the pause/garbage state or the
  neighbours stretched over it would: presence about 0.2-0.5;
* a skipped word has no audio of its own: leaving it out costs nothing, keeping it forces its
  frames onto the neighbours' audio: presence near or below 0;
* a replaced or moved word fits its audio hardly better than the garbage state: presence near 0.

A word is *poorly aligned* when its presence is below :data:`PRESENCE_THRESHOLD`, or below
:data:`SHORT_PRESENCE_THRESHOLD` for words shorter than :data:`SHORT_WORD_S` in the rendering
(function words such as "a" and "the" carry little sound and their presence is noisier).
Measured against the en-us rendering (features of :mod:`forensics_app.transcript.features`):

* natural speech, the 8 GRID corpus clips (48 words, 26 of them short): none flagged; but the
  presence of the correct word beat that of a wrong word put in its place (another colour,
  letter, digit, ...) with an AUC of 0.74 only, so on natural speech a replaced word is often
  *not* flagged (skipped and moved words were measured on eSpeak readings only, below);
* eSpeak renderings in 6 other voices and rates (207 words read as written): 2 flagged (1 %);
  11 of 12 skipped words flagged; of 12 swapped word pairs, 11 had at least one word flagged.
"""

from __future__ import annotations

import numpy as np

from forensics_app.domain.errors import AnalyzerError
from forensics_app.domain.jobs import Progress
from forensics_app.transcript.align import TAU, Alignment
from forensics_app.transcript.features import FrameFeatures
from forensics_app.transcript.hmm import StateGraph, viterbi

#: Fewest frames a word's gain is divided by (a word squeezed into fewer counts as this many).
MIN_FRAMES = 5
#: Context either side of the neighbours' aligned spans (s).
MARGIN_S = 0.1
#: Presence below this flags a word as poorly aligned (cost units per synthetic frame).
PRESENCE_THRESHOLD = -0.05
#: Words shorter than this in the rendering (s) use :data:`SHORT_PRESENCE_THRESHOLD`.
SHORT_WORD_S = 0.2
#: Presence threshold of short words.
SHORT_PRESENCE_THRESHOLD = -0.12
#: Width of the logistic that turns presence into an alignment score (cost units per frame).
SCORE_SCALE = 0.05


def subgraph(g: StateGraph, keep: np.ndarray) -> StateGraph:
    """The states ``keep`` (increasing indices) of ``g``, starting at the first two, ending at the last two."""
    start = np.zeros(keep.size, bool)
    end = np.zeros(keep.size, bool)
    start[:2] = True
    end[-2:] = True
    return StateGraph(vectors=g.vectors[keep], speech=g.speech[keep], pause=g.pause[keep], word=g.word[keep],
                      position_s=g.position_s[keep], log_trans=g.log_trans[keep], start=start, end=end)


def _frames(q: FrameFeatures, a: int, b: int) -> FrameFeatures:
    return FrameFeatures(hop_s=q.hop_s, vectors=q.vectors[a:b], speech=q.speech[a:b], level_db=q.level_db[a:b])


def _best_path(g: StateGraph, q: FrameFeatures) -> tuple[float, np.ndarray]:
    """Cost and states of the best path through all of ``g`` (infinite cost when the stretch is too short)."""
    try:
        states, score = viterbi(g, q, lo=np.zeros(q.n_frames, np.int64), width=g.n_states, tau=TAU)
    except AnalyzerError:
        return np.inf, np.zeros(0, np.int64)
    return -score * TAU, states


def word_presence(al: Alignment, *, progress: Progress | None = None) -> np.ndarray:
    """Presence of every word (see the module docstring).

    Parameters
    ----------
    al : Alignment
        The global alignment.
    progress : Progress, optional
        Progress and cancel (checked per word).

    Returns
    -------
    np.ndarray
        Shape (n_words,), float64: cost of the stretch without the word minus cost with it,
        per synthetic frame of the word. Higher means more clearly present.
    """
    g, q = al.graph, al.questioned
    n = len(al.words)
    ks = np.flatnonzero(g.word >= 0)
    first = np.array([ks[np.searchsorted(g.word[ks], w)] for w in range(n)])
    last = np.array([ks[np.searchsorted(g.word[ks], w, side="right") - 1] for w in range(n)])
    margin = int(round(MARGIN_S / q.hop_s))
    out = np.zeros(n)
    for w in range(n):
        if progress is not None:
            progress.check()
            progress.report(w / max(n, 1))
        lo_w, hi_w = max(w - 1, 0), min(w + 1, n - 1)
        a_state, b_state = first[lo_w] - 1, last[hi_w] + 1  # the pause states around the stretch
        a = max(int(al.spans_s[lo_w, 0] / q.hop_s) - margin, 0)
        b = min(int(np.ceil(al.spans_s[hi_w, 1] / q.hop_s)) + margin, q.n_frames)
        if b - a < 2:
            b = min(a + 2, q.n_frames)
            a = max(b - 2, 0)
        segment = _frames(q, a, b)
        with_word = np.arange(a_state, b_state + 1)
        without = with_word[(with_word < first[w]) | (with_word > last[w] + 1)]
        sub = subgraph(g, with_word)
        cost_with, states = _best_path(sub, segment)
        cost_without = _best_path(subgraph(g, without), segment)[0]
        gain = cost_without - cost_with if np.isfinite(cost_with) else -np.inf
        frames = max(int(np.count_nonzero(sub.word[states] == w)), MIN_FRAMES)
        out[w] = float(np.clip(gain, -1e3, 1e3)) / frames
    return out


def thresholds(synthetic_spans_s: np.ndarray) -> np.ndarray:
    """Presence threshold of each word, shape (n_words,), from its duration in the rendering."""
    d = synthetic_spans_s[:, 1] - synthetic_spans_s[:, 0]
    return np.where(d < SHORT_WORD_S, SHORT_PRESENCE_THRESHOLD, PRESENCE_THRESHOLD)


def alignment_scores(presence: np.ndarray, threshold: np.ndarray) -> np.ndarray:
    """Presence as a score in [0, 1]: 0.5 at the word's threshold, higher = better aligned."""
    z = np.clip((presence - threshold) / SCORE_SCALE, -50.0, 50.0)
    return 1.0 / (1.0 + np.exp(-z))
