"""An alignment matrix drawn as an attention map under the audio view's shared playhead.

The reference comparison aligns the questioned recording with a known genuine one; the transcript
alignment aligns it with a local rendering of a typed transcript. Both store an
:class:`~forensics_app.domain.results.AlignmentMatrix`: columns are times in the questioned
recording (x, s), rows are reference frames (y, s in the reference) or transcript words (y, one
row per word, the words as tick labels). The matrix is an image, its alignment path a line over it;
a straight path means the two follow each other. The run's other time-localised findings (inserted,
deleted or replaced spans; poorly aligned words) are outlined on the questioned time axis, and in
the reference time where they give one.

A vertical line follows the audio view's playhead. A click in the matrix moves the playhead to that
questioned time; a click on a word (its tick label, or the word list beside the matrix) moves it
to where the word starts in the questioned recording.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QFontMetrics
from PySide6.QtWidgets import (
    QGraphicsRectItem,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QSizePolicy,
    QSplitter,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from forensics_app.domain.results import AlignmentMatrix
from forensics_app.dsp.grids import centre_edges
from forensics_app.gui.snapshots import FindingItem
from forensics_app.gui.views.audio_marks import SelectionViewBox
from forensics_app.gui.views.media_data import AlignmentLayer
from forensics_app.gui.views.overlays import (
    caption_item,
    configure_plot,
    finding_color,
    shaded_range,
)
from forensics_app.gui.views.tfmap_overlay import place_grid

PLAYHEAD_PEN = (0, 255, 200)
PATH_PEN = (255, 70, 70)
MATRIX_COLORS = "viridis"
ATTENTION_UNIT = "attention"
"""Unit of matrices whose values are attention weights in [0, 1] (levels fixed to [0, 1])."""
LEVEL_PERCENTILES = (1.0, 99.0)
MAX_WORD_CHARS = 18
ROW_ROLE = Qt.ItemDataRole.UserRole + 1
TIME_ROLE = Qt.ItemDataRole.UserRole + 2


def matrix_levels(matrix: AlignmentMatrix) -> tuple[float, float]:
    """Colour levels: [0, 1] for attention, else the 1st to 99th percentile of the values."""
    if matrix.unit == ATTENTION_UNIT or not matrix.values.size:
        return 0.0, 1.0
    lo, hi = (float(x) for x in np.percentile(matrix.values, LEVEL_PERCENTILES))
    return (lo, hi) if hi > lo else (lo, lo + 1.0)


def row_coordinates(matrix: AlignmentMatrix, rows: np.ndarray) -> np.ndarray:
    """Plot y of (fractional) row indices: the row index itself for word rows, else the row's time (s).

    Parameters
    ----------
    matrix : AlignmentMatrix
        The matrix.
    rows : np.ndarray
        Row indices, any shape (floats: between two rows is interpolated).
    """
    r = np.asarray(rows, dtype=np.float64)
    if matrix.row_labels or matrix.row_times_s.size < 2:
        return r
    return np.interp(r, np.arange(matrix.row_times_s.size), matrix.row_times_s)


def _elide(word: str) -> str:
    return word if len(word) <= MAX_WORD_CHARS else word[: MAX_WORD_CHARS - 1] + "…"


class WordAxis(pg.AxisItem):
    """A left axis that labels rows with words, as many as fit, and reports clicks on a word.

    Parameters
    ----------
    on_word : callable
        ``on_word(row_index)`` when a word's label is clicked.
    """

    def __init__(self, *, on_word: Callable[[int], Any]) -> None:
        super().__init__("left")
        self.words: tuple[str, ...] = ()
        self._on_word = on_word

    def set_words(self, words: Sequence[str]) -> None:
        """Label rows 0, 1, ... with these words (empty: ordinary numeric ticks)."""
        self.words = tuple(_elide(w) for w in words)
        self.picture = None
        self.update()

    def tickValues(self, minVal: float, maxVal: float, size: float) -> list[Any]:  # noqa: N802, N803
        """Every word row in view, or every k-th one so that the labels do not overlap."""
        if not self.words:
            return super().tickValues(minVal, maxVal, size)
        lo, hi = max(math.ceil(minVal), 0), min(math.floor(maxVal), len(self.words) - 1)
        if hi < lo:
            return []
        line_px = QFontMetrics(self.font()).height() + 2
        step = max(1, math.ceil((hi - lo + 1) * line_px / max(size, 1.0)))
        return [(float(step), [float(i) for i in range(lo, hi + 1, step)])]

    def tickStrings(self, values: list[float], scale: float, spacing: float) -> list[str]:  # noqa: N802
        """The word of each row value."""
        if not self.words:
            return super().tickStrings(values, scale, spacing)
        n = len(self.words)
        return [self.words[int(round(v))] if 0 <= int(round(v)) < n else "" for v in values]

    def mouseClickEvent(self, ev: Any) -> None:  # noqa: N802 - Qt override
        """A left click on a label: the word of the row at that height."""
        view = self.linkedView()
        if not self.words or view is None or ev.button() != Qt.MouseButton.LeftButton:
            super().mouseClickEvent(ev)
            return
        row = int(round(view.mapSceneToView(ev.scenePos()).y()))
        if 0 <= row < len(self.words):
            ev.accept()
            self._on_word(row)


class AlignmentView(QWidget):
    """The attention-map panel: matrix, path, departures, playhead and a word or departure list.

    Parameters
    ----------
    parent : QWidget, optional
        Qt parent.

    Attributes
    ----------
    layer : AlignmentLayer or None
        The shown matrix.
    departures : tuple of FindingItem
        The run's other time-localised findings, outlined over the matrix.
    plot : pg.PlotItem
        x: questioned time (s); y: reference time (s) or word row.
    image : pg.ImageItem
        The matrix.
    path_curve : pg.PlotDataItem
        The alignment path.
    playhead : pg.InfiniteLine
        Follows :meth:`set_playhead`.
    side_list : QListWidget
        The words (word rows) or the departures (recording rows); a click seeks.

    Signals
    -------
    seek_requested(seconds)
        Move the shared playhead to this questioned time (s).
    hidden()
        The user closed the panel.
    """

    seek_requested = Signal(float)
    hidden = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.layer: AlignmentLayer | None = None
        self.departures: tuple[FindingItem, ...] = ()
        self._marks: list[Any] = []
        self.title = QLabel("")
        self.title.setObjectName("alignmentTitle")
        self.readout = QLabel("")
        for label in (self.title, self.readout):
            label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        close = QToolButton()
        close.setText("✕")
        close.setToolTip("Hide the alignment panel (select the finding again to show it)")
        close.clicked.connect(self._close)
        top = QHBoxLayout()
        top.addWidget(self.title, 3)
        top.addWidget(self.readout, 4)
        top.addWidget(close)

        self.graphics = pg.GraphicsLayoutWidget()
        self.graphics.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
        view_box = SelectionViewBox(on_drag=lambda *_args: None, on_click=self._on_click)
        self.word_axis = WordAxis(on_word=self.click_word)
        self.plot: pg.PlotItem = self.graphics.addPlot(row=0, col=0, viewBox=view_box,
                                                       axisItems={"left": self.word_axis})
        configure_plot(self.plot, y_label="reference recording", x_label="questioned recording", x_units="s")
        self.plot.showGrid(x=False, y=False)
        self.image = pg.ImageItem(axisOrder="row-major")
        self.image.setZValue(-10)
        self.plot.addItem(self.image)
        self.path_curve = pg.PlotDataItem(pen=pg.mkPen(PATH_PEN, width=1.5))
        self.path_curve.setZValue(15)
        self.plot.addItem(self.path_curve)
        self.playhead = pg.InfiniteLine(angle=90, movable=False, pen=pg.mkPen(PLAYHEAD_PEN, width=1))
        self.playhead.setZValue(30)
        self.playhead.setVisible(False)
        self.plot.addItem(self.playhead)
        self.colorbar = pg.ColorBarItem(values=(0.0, 1.0), colorMap=pg.colormap.get(MATRIX_COLORS),
                                        interactive=False, width=12)
        self.colorbar.setImageItem(self.image)
        self.colorbar.getAxis("right").enableAutoSIPrefix(False)
        self.graphics.addItem(self.colorbar, row=0, col=1)

        self.side_list = QListWidget()
        self.side_list.setObjectName("alignmentList")
        self.side_list.setWordWrap(True)
        self.side_list.itemClicked.connect(self._on_list_clicked)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(self.graphics)
        splitter.addWidget(self.side_list)
        splitter.setStretchFactor(0, 5)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([900, 300])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 2, 0, 0)
        layout.addLayout(top)
        layout.addWidget(splitter, 1)
        self._mouse_proxy = pg.SignalProxy(self.graphics.scene().sigMouseMoved, rateLimit=30,
                                           slot=self._on_mouse_moved)

    # ------------------------------------------------------------------ content

    @property
    def matrix(self) -> AlignmentMatrix | None:
        """The shown matrix."""
        return self.layer.matrix if self.layer is not None else None

    @property
    def word_rows(self) -> bool:
        """Whether the rows are transcript words."""
        return self.matrix is not None and bool(self.matrix.row_labels)

    def set_alignment(self, layer: AlignmentLayer | None, departures: Sequence[FindingItem] = ()) -> None:
        """Show a matrix (None clears) with its run's departures (findings with a questioned time range)."""
        self.layer = layer
        self.departures = tuple(f for f in departures if f.start_s is not None
                                and (layer is None or f.id != layer.finding_id))
        self._clear_marks()
        self.side_list.clear()
        if layer is None:
            self.image.clear()
            self.path_curve.setData([], [])
            self.title.setText("")
            self.word_axis.set_words(())
            return
        m = layer.matrix
        words = m.row_labels
        self.word_axis.set_words(words)
        self.plot.setLabel("left", m.row_axis, units=None)
        self.word_axis.enableAutoSIPrefix(False)
        y_centres = np.arange(len(words), dtype=np.float64) if words else m.row_times_s
        p = place_grid(m.values, x_centres=m.times_s, y_centres=y_centres)
        levels = matrix_levels(m)
        if p.image.size and p.x1 > p.x0 and p.y1 > p.y0:
            self.image.setImage(p.image, autoLevels=False, levels=levels)
            self.image.setRect(p.rect)
        self.colorbar.setLevels(levels)
        self.colorbar.setLabel("right", m.unit)
        path = m.path
        self.path_curve.setData(path[:, 0], row_coordinates(m, path[:, 1]))
        self.title.setText(f"<b>{layer.title}</b>")
        self.title.setToolTip(
            f"{m.values.shape[0]} rows × {m.values.shape[1]} columns, path of {path.shape[0]} points.\n"
            "Columns: time in the questioned recording; rows: "
            + ("the transcript's words (click a word to hear it)" if words else "time in the reference recording")
            + ".\nA straight, clean path means the two follow each other; kinks and gaps mark inserted, "
            "deleted or replaced material.\nThe map shows where the sequences are similar, not who spoke.")
        self._draw_departures(top=p.y1)
        self._fill_list()
        self.plot.setRange(xRange=(p.x0, p.x1), yRange=(p.y0, p.y1), padding=0)

    def _clear_marks(self) -> None:
        for item in self._marks:
            self.plot.removeItem(item)
        self._marks = []

    def _draw_departures(self, *, top: float) -> None:
        m = self.matrix
        if m is None:
            return
        for f in self.departures:
            start = float(f.start_s)  # type: ignore[arg-type]
            end = float(f.end_s) if f.end_s is not None else start
            region = shaded_range(start, end, f, fill=True)
            region.setZValue(5)
            self._marks.append(region)
            ref_a, ref_b = f.details.get("reference_start_s"), f.details.get("reference_end_s")
            if not m.row_labels and isinstance(ref_a, (int, float)) and isinstance(ref_b, (int, float)):
                box = QGraphicsRectItem(QRectF(start, float(ref_a), max(end - start, 0.0),
                                               max(float(ref_b) - float(ref_a), 0.0)))
                pen = pg.mkPen(finding_color(f.fake_likelihood, 230), width=2)
                pen.setCosmetic(True)
                box.setPen(pen)
                box.setZValue(16)
                self._marks.append(box)
            caption = caption_item(f, anchor=(0, 0))
            caption.setPos(start, top)
            caption.setZValue(20)
            self._marks.append(caption)
        for item in self._marks:
            self.plot.addItem(item)

    def _fill_list(self) -> None:
        m = self.matrix
        if m is None:
            return
        if m.row_labels:
            spans = m.row_spans_s
            for i, word in enumerate(m.row_labels):
                start = self.word_start(i)
                where = "" if spans is None else f"  {spans[i, 0]:.2f}–{spans[i, 1]:.2f} s"
                item = QListWidgetItem(f"{i + 1}. {word}{where}")
                item.setData(ROW_ROLE, i)
                item.setData(TIME_ROLE, start)
                item.setToolTip(f"Click to move the playhead to '{word}' ({start:.3f} s)")
                self.side_list.addItem(item)
            return
        for f in self.departures:
            ref_a, ref_b = f.details.get("reference_start_s"), f.details.get("reference_end_s")
            ref = "" if not isinstance(ref_a, (int, float)) else (
                f"  (reference {ref_a:.2f}–{ref_b:.2f} s)" if isinstance(ref_b, (int, float))
                else f"  (reference {ref_a:.2f} s)")
            item = QListWidgetItem(f"{f.label}  {f.start_s:.2f}–{f.end_s if f.end_s is not None else f.start_s:.2f} s"
                                   f"{ref}")
            item.setData(TIME_ROLE, float(f.start_s))  # type: ignore[arg-type]
            item.setForeground(finding_color(f.fake_likelihood))
            item.setToolTip(f"Click to move the playhead to {f.start_s:.3f} s\n{f.details_summary(300)}")
            self.side_list.addItem(item)
        if not self.departures:
            item = QListWidgetItem("No departure from the reference's path")
            item.setFlags(Qt.ItemFlag.NoItemFlags)
            self.side_list.addItem(item)

    # ------------------------------------------------------------------ playhead

    def set_playhead(self, seconds: float) -> None:
        """Move the playhead line (questioned time, s); with word rows, mark the word under it."""
        self.playhead.setPos(float(seconds))
        self.playhead.setVisible(True)
        m = self.matrix
        if m is None or not m.row_labels or m.row_spans_s is None:
            return
        inside = np.nonzero((m.row_spans_s[:, 0] <= seconds) & (seconds < m.row_spans_s[:, 1]))[0]
        blocked = self.side_list.blockSignals(True)
        if inside.size:
            self.side_list.setCurrentRow(int(inside[0]))
        else:
            self.side_list.clearSelection()
        self.side_list.blockSignals(blocked)

    def word_start(self, row: int) -> float:
        """Where word ``row`` starts in the questioned recording (s): its span, else where the path
        first reaches it."""
        m = self.matrix
        if m is None:
            raise IndexError("no alignment is shown")
        if m.row_spans_s is not None:
            return float(m.row_spans_s[row, 0])
        reached = np.nonzero(m.path[:, 1] >= row - 0.5)[0]
        return float(m.path[reached[0], 0]) if reached.size else float(m.times_s[0])

    def click_word(self, row: int) -> float:
        """Move the playhead to word ``row``'s start; returns that time (s)."""
        t = self.word_start(row)
        self.seek_requested.emit(t)
        return t

    def _on_click(self, point: QPointF) -> None:
        m = self.matrix
        if m is None or not m.times_s.size:
            return
        self.seek_requested.emit(float(min(max(point.x(), 0.0), float(m.times_s[-1]))))

    def _on_list_clicked(self, item: QListWidgetItem) -> None:
        t = item.data(TIME_ROLE)
        if t is not None:
            self.seek_requested.emit(float(t))

    def _close(self) -> None:
        self.setVisible(False)
        self.hidden.emit()

    # ------------------------------------------------------------------ readout

    def readout_text(self, x: float, y: float) -> str:
        """Cursor readout: questioned time, the row (reference time or word) and the matrix value."""
        m = self.matrix
        if m is None or not m.times_s.size:
            return ""
        col = int(np.clip(np.searchsorted(centre_edges(m.times_s), x, side="right") - 1, 0, m.times_s.size - 1))
        if m.row_labels:
            row = int(round(y))
            if not 0 <= row < len(m.row_labels):
                return f"questioned t = {x:.3f} s"
            where = f"word {row + 1} '{m.row_labels[row]}'"
        else:
            edges = centre_edges(m.row_times_s)
            row = int(np.clip(np.searchsorted(edges, y, side="right") - 1, 0, m.row_times_s.size - 1))
            where = f"reference t = {y:.3f} s"
        return f"questioned t = {x:.3f} s · {where} · {float(m.values[row, col]):.3f} {m.unit}"

    def _on_mouse_moved(self, event: Any) -> None:
        pos: QPointF = event[0]
        if self.plot.sceneBoundingRect().contains(pos):
            point = self.plot.vb.mapSceneToView(pos)
            self.readout.setText(self.readout_text(point.x(), point.y()))
