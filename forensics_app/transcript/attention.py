"""The word x time attention matrix of a transcript alignment.

In the manner of the guided attention of deep convolutional text-to-speech (DC-TTS), each row is
one word of the transcript and each column a moment of the questioned recording; a row holds the
word's attention: a probability distribution over the columns, saying where in the recording the
word is. It is computed from the alignment model itself (:mod:`forensics_app.transcript.hmm`):
the forward-backward posterior probability that a questioned frame belongs to the word, summed
over the frames of a column and normalised over the row. A faithful reading gives a clean
diagonal of compact blobs; a word the model could place in several spots smears or splits.

Size is bounded for storage: at most :data:`MAX_COLUMNS` columns (frames are summed into equal
columns) and one row per word (:data:`forensics_app.transcript.text.MAX_WORDS` at most).
"""

from __future__ import annotations

import numpy as np

from forensics_app.domain.jobs import Progress
from forensics_app.domain.results import AlignmentMatrix
from forensics_app.transcript.align import TAU, Alignment
from forensics_app.transcript.hmm import word_posteriors

#: Most columns of the stored matrix.
MAX_COLUMNS = 1200
#: Most points of the stored path.
MAX_PATH_POINTS = 4 * MAX_COLUMNS
#: The matrix's name in findings and artifacts.
NAME = "transcript-attention"


def attention_matrix(al: Alignment, *, progress: Progress | None = None) -> AlignmentMatrix:
    """Word x time attention of an alignment.

    Parameters
    ----------
    al : Alignment
        From :func:`forensics_app.transcript.align.align`.
    progress : Progress, optional
        Progress and cancel (the forward-backward pass).

    Returns
    -------
    AlignmentMatrix
        ``values`` shape (n_words, n_columns), each row summing to 1 (a row the model gives no
        probability stays 0); ``times_s`` column centres in the questioned recording (s);
        ``row_times_s`` each word's centre in the synthetic rendering (s); ``path`` shape (k, 2)
        of (questioned s, word index as a float) along the best path; ``row_labels`` the words;
        ``row_spans_s`` shape (n_words, 2) the words' spans in the questioned recording (s).
    """
    q = al.questioned
    n_frames = q.n_frames
    per_col = max(1, -(-n_frames // MAX_COLUMNS))
    n_cols = -(-n_frames // per_col)
    columns = np.arange(n_frames) // per_col
    mass = word_posteriors(al.graph, q, lo=al.band_lo, width=al.band_width, tau=TAU, n_words=len(al.words),
                           columns=columns, n_columns=n_cols, progress=progress)
    total = mass.sum(axis=1, keepdims=True)
    values = np.divide(mass, total, out=np.zeros_like(mass), where=total > 0)
    col_times = (np.arange(n_cols) * per_col + 0.5 * (per_col - 1)) * q.hop_s
    col_times = np.minimum(col_times, (n_frames - 1) * q.hop_s)
    rows = al.path_rows()
    step = max(1, -(-n_frames // MAX_PATH_POINTS))
    keep = np.arange(0, n_frames, step)
    path = np.column_stack([keep * q.hop_s, rows[keep]])
    return AlignmentMatrix(
        name=NAME, unit="attention", times_s=col_times, row_times_s=al.synthetic_spans_s.mean(axis=1),
        values=values.astype(np.float32), path=path, row_labels=al.words, row_spans_s=al.spans_s,
        row_axis="transcript word",
    )

