"""Report figures of alignment matrices: attention maps of a recording against a reference or a transcript.

A finding may store :class:`~forensics_app.domain.results.AlignmentMatrix` artifacts: the
questioned recording aligned with a known genuine recording (rows are reference frames) or with a
typed transcript (rows are words). Each matrix becomes one figure: the matrix as an attention map
(questioned time on x; reference time, or the transcript's words as tick labels, on y), the
alignment path drawn over it, the other time-localised findings of the same run (departures,
flagged words, speaker changes) shaded on x and, where they state reference times or a word, on y.
The caption says in plain language what the map shows and what it cannot show.

The figures are drawn from the stored artifacts (hash-checked on read), not from the evidence copy,
so they are drawn whatever the copy's re-verification found. An artifact that is missing or fails
its hash is stated in a note; it never stops the report.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence
from dataclasses import replace

import numpy as np
from matplotlib.axes import Axes
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from forensics_app.domain.results import AlignmentMatrix
from forensics_app.dsp.grids import centre_edges
from forensics_app.report.comparison_text import alignment_texts, explanation_of
from forensics_app.report.figure_spans import FINDING_COLOR, Span, label_spans
from forensics_app.report.figures import DPI, FIG_WIDTH_IN, RunSeries, _store
from forensics_app.report.model import EvidenceItem, FigureItem, FindingItem
from forensics_app.store.case import CaseStore

#: Alignment figures per evidence item.
MAX_ALIGNMENT_FIGURES = 12
#: Drawing cap: cells per axis (larger matrices are averaged over blocks of cells).
MAX_CELLS = 700
#: Word tick labels per figure (every k-th word is labelled beyond that).
MAX_WORD_TICKS = 36
#: Longest word tick label (characters).
MAX_WORD_CHARS = 14
#: Findings whose references are written along the top edge (beyond that they are only shaded).
MAX_REF_LABELS = 16
PATH_COLOR = "#ff2bd6"
SPAN_COLOR = "#ffffff"
#: Units whose values are bounded to [0, 1] and drawn on that fixed scale.
UNIT_SCALES = {"attention": (0.0, 1.0)}


def alignment_figures_for_evidence(
    store: CaseStore, *, evidence: EvidenceItem, runs: Sequence[RunSeries]
) -> tuple[tuple[FigureItem, ...], tuple[tuple[int, str], ...]]:
    """Draw one figure per stored alignment matrix of the item's reported findings.

    Parameters
    ----------
    store : CaseStore
        Matrices are read from (and PNGs written to) its artifact store.
    evidence : EvidenceItem
        The item with its findings (references F1... assigned).
    runs : sequence of RunSeries
        The reported runs of the item and their findings.

    Returns
    -------
    figures : tuple of FigureItem
        Kind ``"alignment"``, with the run and the finding drawn.
    notes : tuple of (int, str)
        (run id, reason) for each matrix that could not be read or drawn.
    """
    figures: list[FigureItem] = []
    notes: list[tuple[int, str]] = []
    for run in runs:
        for finding in run.findings:
            for ref in finding.alignments:
                name = str(ref.get("name", "?"))
                what = f"Attention map \u201c{name}\u201d of {finding.ref} (run #{run.run_id})"
                if len(figures) >= MAX_ALIGNMENT_FIGURES:
                    notes.append((run.run_id, f"{what} not drawn (at most {MAX_ALIGNMENT_FIGURES} alignment "
                                              "figures per item); it is kept in the case and referenced in the "
                                              "JSON export."))
                    continue
                try:
                    matrix = store.artifacts.get_alignment(dict(ref))
                except Exception as exc:  # a figure must never stop a court report; the reason is stated
                    notes.append((run.run_id, f"{what} could not be drawn: its stored data could not be read "
                                              f"({type(exc).__name__}: {exc}). The findings and tables are "
                                              "not affected."))
                    continue
                try:
                    figures.append(alignment_figure(store, evidence=evidence, run=run, finding=finding,
                                                    matrix=matrix))
                except Exception as exc:  # stated, never fatal
                    notes.append((run.run_id, f"{what} could not be drawn: {type(exc).__name__}: {exc}"))
    return tuple(figures), tuple(notes)


def word_ticks(labels: Sequence[str], *, flagged: Collection[int] = (), max_ticks: int = MAX_WORD_TICKS
               ) -> tuple[list[int], list[str], int]:
    """Row indices to label, their (shortened) labels, and the step between them.

    Every word is labelled up to ``max_ticks`` words; beyond that every k-th word, k the smallest
    step that keeps at most ``max_ticks`` labels, except that a flagged word takes the place of the
    nearest regular label (unless that one is flagged too), so flagged words are named on the axis.
    """
    n = len(labels)
    step = max(1, math.ceil(n / max_ticks))
    idx = list(range(0, n, step))
    for j in sorted(i for i in set(flagged) if 0 <= i < n):
        if j not in idx:
            k = min(range(len(idx)), key=lambda k: abs(idx[k] - j))
            if idx[k] not in flagged:
                idx[k] = j
    idx = sorted(set(idx))
    text = [w if len(w) <= MAX_WORD_CHARS else w[: MAX_WORD_CHARS - 1] + "\u2026" for w in (labels[i] for i in idx)]
    return idx, text, step


def block_reduce(values: np.ndarray, centres: np.ndarray, *, axis: int, max_cells: int = MAX_CELLS
                 ) -> tuple[np.ndarray, np.ndarray, int]:
    """Average ``values`` over blocks of consecutive cells along ``axis`` so at most ``max_cells`` remain.

    Parameters
    ----------
    values : np.ndarray
        Shape (n_r, n_t).
    centres : np.ndarray
        Shape (n,) cell centres along ``axis`` (s), increasing.

    Returns
    -------
    values : np.ndarray
        Reduced matrix.
    centres : np.ndarray
        Mean centre of each block.
    block : int
        Cells per block (1 when nothing was reduced).
    """
    n = centres.size
    block = max(1, math.ceil(n / max_cells))
    if block == 1:
        return values, centres, 1
    starts = np.arange(0, n, block)
    counts = np.diff(np.append(starts, n)).astype(np.float64)
    sums = np.add.reduceat(values.astype(np.float64), starts, axis=axis)
    shape = [1, 1]
    shape[axis] = counts.size
    reduced = (sums / counts.reshape(shape)).astype(np.float32)
    return reduced, np.add.reduceat(centres, starts) / counts, block


def alignment_figure(store: CaseStore, *, evidence: EvidenceItem, run: RunSeries, finding: FindingItem,
                     matrix: AlignmentMatrix) -> FigureItem:
    """One alignment matrix as an attention map with its path and the run's findings shaded."""
    n_r, n_t = matrix.values.shape
    if n_r == 0 or n_t == 0:
        raise ValueError(f"the alignment matrix \u201c{matrix.name}\u201d is empty ({n_r} \u00d7 {n_t})")
    words = bool(matrix.row_labels)
    values, times, t_block = block_reduce(matrix.values, matrix.times_s, axis=1)
    if words:
        r_block = 1
        rows_edges = np.arange(n_r + 1, dtype=np.float64) - 0.5
    else:
        values, row_centres, r_block = block_reduce(values, matrix.row_times_s, axis=0)
        rows_edges = centre_edges(row_centres)
    lo, hi = _scale(matrix.unit, values)

    fig_h = min(max(2.6 + 0.11 * n_r, 3.6), 8.0) if words else 4.8
    fig = Figure(figsize=(FIG_WIDTH_IN, fig_h), dpi=DPI, layout="constrained")
    ax = fig.subplots()
    mesh = ax.pcolormesh(centre_edges(times), rows_edges, values, cmap="viridis", norm=Normalize(lo, hi),
                         shading="flat", rasterized=True)
    cbar = fig.colorbar(mesh, ax=ax, location="right", shrink=0.9, pad=0.01)
    cbar.set_label(matrix.unit, fontsize=7)
    cbar.ax.tick_params(labelsize=6.5)

    path = matrix.path
    path_y = path[:, 1] if words else np.interp(path[:, 1], np.arange(n_r), matrix.row_times_s)
    handles: list[Line2D | Patch] = []
    if path.shape[0]:
        (line,) = ax.plot(path[:, 0], path_y, color=PATH_COLOR, linewidth=1.1, label="alignment path")
        handles.append(line)
    if words and matrix.row_spans_s is not None:
        spans = matrix.row_spans_s
        ax.hlines(np.arange(n_r), spans[:, 0], spans[:, 1], colors=SPAN_COLOR, linewidth=2.0)
        handles.append(Line2D([], [], color=SPAN_COLOR, linewidth=2.0, label="word placed here",
                              markeredgecolor="black"))
    ax.set_xlim(float(centre_edges(times)[0]), float(centre_edges(times)[-1]))
    ax.set_ylim(float(rows_edges[0]), float(rows_edges[-1]))
    shaded = _shade_findings(ax, run=run, drawn=finding, words=words, n_rows=n_r)
    if shaded:
        handles.append(Patch(color=FINDING_COLOR, alpha=0.35, label="findings of the run"))

    ax.set_xlabel("Questioned recording (s)", fontsize=8)
    ax.set_ylabel(matrix.row_axis[:1].upper() + matrix.row_axis[1:], fontsize=8)
    ax.tick_params(labelsize=7)
    step = 1
    if words:
        flagged = {i for i in (_word_index(f) for f in run.findings) if i is not None}
        idx, labels, step = word_ticks(matrix.row_labels, flagged=flagged)
        ax.set_yticks(idx, labels, fontsize=6.5 if len(idx) > 20 else 7)
        for tick, i in zip(ax.get_yticklabels(), idx, strict=True):
            if i in flagged:
                tick.set_color(FINDING_COLOR)
                tick.set_fontweight("bold")
    if handles:
        legend = ax.legend(handles=handles, loc="upper left", fontsize=6.5, framealpha=0.85)
        legend.get_frame().set_linewidth(0.4)
    fig.suptitle(f"{finding.ref}: {finding.label} \u2014 attention map \u201c{matrix.name}\u201d", fontsize=9)

    caption = _caption(evidence=evidence, run=run, finding=finding, matrix=matrix, lo=lo, hi=hi,
                       blocks=(r_block, t_block), step=step, shaded=shaded)
    rows_title = "transcript words" if words else "reference recording"
    item = _store(store, fig, evidence_id=evidence.evidence_id, kind="alignment",
                  title=f"{finding.ref}: attention map of the questioned recording against the {rows_title}",
                  caption=caption, analyzer_id=run.analyzer_id, run_id=run.run_id)
    return replace(item, finding_ref=finding.ref)


def _scale(unit: str, values: np.ndarray) -> tuple[float, float]:
    """Colour range: fixed for bounded units within range, else the 1st to 99th percentile."""
    fixed = UNIT_SCALES.get(unit)
    v_lo, v_hi = float(np.min(values)), float(np.max(values))
    if fixed is not None and fixed[0] <= v_lo and v_hi <= fixed[1]:
        return fixed
    lo, hi = (float(x) for x in np.percentile(values, [1.0, 99.0]))
    return (lo, hi) if hi > lo else (v_lo, v_lo + 1.0)


def _word_index(f: FindingItem) -> int | None:
    value = f.details.get("word_index")
    return int(value) if isinstance(value, int) and not isinstance(value, bool) else None


def _shade_findings(ax: Axes, *, run: RunSeries, drawn: FindingItem, words: bool, n_rows: int) -> list[str]:
    """Shade the run's other time-localised findings on x, and on y where they name reference times or a word."""
    spans: list[Span] = []
    for f in run.findings:
        if f.finding_id == drawn.finding_id or f.start_s is None:
            continue
        start = f.start_s
        end = f.end_s if f.end_s is not None else start
        if end > start:
            ax.axvspan(start, end, color=FINDING_COLOR, alpha=0.22, linewidth=0)
        else:
            ax.axvline(start, color=FINDING_COLOR, alpha=0.9, linewidth=1.2, linestyle="--")
        row = _word_index(f)
        r0, r1 = f.details.get("reference_start_s"), f.details.get("reference_end_s")
        if words and row is not None and 0 <= row < n_rows:
            ax.axhspan(row - 0.5, row + 0.5, color=FINDING_COLOR, alpha=0.22, linewidth=0)
        elif not words and isinstance(r0, (int, float)) and isinstance(r1, (int, float)):
            if r1 > r0:
                ax.axhspan(float(r0), float(r1), color=FINDING_COLOR, alpha=0.22, linewidth=0)
            else:
                ax.axhline(float(r0), color=FINDING_COLOR, alpha=0.9, linewidth=1.2, linestyle="--")
        spans.append((start, end, f))
    if len(spans) <= MAX_REF_LABELS:
        t = ax.get_xlim()
        label_spans(ax, spans, axis_s=float(t[1] - t[0]), fontsize=6.5, color=FINDING_COLOR)
    return [f.ref for _, _, f in spans]


def _caption(*, evidence: EvidenceItem, run: RunSeries, finding: FindingItem, matrix: AlignmentMatrix,
             lo: float, hi: float, blocks: tuple[int, int], step: int, shaded: Sequence[str]) -> str:
    words = bool(matrix.row_labels)
    who = f"{run.analyzer_label or run.analyzer_id} ({run.analyzer_id} v{run.analyzer_version}, run #{run.run_id})"
    n_r, n_t = matrix.values.shape
    if words:
        rows = (f"the {n_r} words of the transcript, first word at the bottom"
                + (f" (every {step}{_ordinal(step)} word labelled)" if step > 1 else ""))
    else:
        rows = (f"time in the reference recording, {float(matrix.row_times_s[0]):.2f}\u2013"
                f"{float(matrix.row_times_s[-1]):.2f} s ({n_r} frames)")
    reduced = ""
    if blocks != (1, 1):
        reduced = f" Drawn averaged over blocks of {blocks[0]} \u00d7 {blocks[1]} cells (rows \u00d7 columns)."
    parts = [
        f"Finding {finding.ref} of {who} on {evidence.original_name}: \u201c{finding.label}\u201d. "
        f"Attention map \u201c{matrix.name}\u201d: horizontal axis, time in the questioned recording "
        f"({float(matrix.times_s[0]):.2f}\u2013{float(matrix.times_s[-1]):.2f} s, {n_t} columns); vertical "
        f"axis, {rows}; colour, {matrix.unit} from {lo:.3g} (dark) to {hi:.3g} (bright).{reduced} "
        f"Magenta line: the alignment path ({matrix.path.shape[0]} points)."
        + (" White bars: where each word was placed in the recording." if words and matrix.row_spans_s is not None
           else ""),
    ]
    if shaded:
        parts.append(f"Shaded in red: the other findings of the run ({', '.join(shaded)}), over their span in "
                     "the questioned recording" + (" and the row of the word they name." if words else
                                                   " and, where stated, their span in the reference "
                                                   "(dashed line: a span of no length, such as a cut or the "
                                                   "point where material was inserted)."))
    shows, cannot = alignment_texts(run.analyzer_id, word_rows=words)
    parts.append(explanation_of(finding.details) or shows)
    parts.append(cannot)
    return " ".join(parts)


def _ordinal(n: int) -> str:
    return "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
