"""Marks drawn over the audio plots: the examiner's selection and the stored annotations.

A :class:`Selection` is a time range snapped to sample boundaries, optionally with a frequency
band (a time-frequency box). Annotations are drawn in one colour per layer: time ranges as shaded
regions on the waveform and the spectrogram, time-frequency boxes as rectangles on the
spectrogram, each with its label. Frequencies go through a ``hz_to_y`` mapping so boxes follow
the spectrogram's linear, log or mel axis.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFont
from PySide6.QtWidgets import QGraphicsRectItem

from forensics_app.gui.snapshots import AnnotationItem

LAYER_PALETTE = (
    (80, 230, 140),   # green
    (230, 110, 255),  # violet
    (60, 220, 235),   # cyan
    (250, 250, 250),  # white
    (190, 240, 70),   # lime
    (255, 130, 190),  # pink
    (150, 150, 255),  # lavender
    (240, 200, 90),   # gold
)
"""Layer colours, chosen apart from the findings' yellow-to-red and blue."""
SELECTION_RGB = (255, 255, 255)

HzToY = Callable[[float], float]
"""Maps a frequency (Hz) to the spectrogram plot's y coordinate."""


def snap_to_samples(seconds: float, rate: int) -> float:
    """The sample boundary (s) nearest to ``seconds`` at ``rate`` Hz."""
    return round(float(seconds) * rate) / rate


@dataclass(frozen=True)
class Selection:
    """A selected time range (s, on sample boundaries), optionally a frequency band (Hz).

    Attributes
    ----------
    start_s, end_s : float
        ``start_s < end_s``; multiples of ``1 / rate``.
    rate : int
        Sample rate (Hz) the times are snapped to.
    low_hz, high_hz : float or None
        Band of a time-frequency box (both or neither).
    """

    start_s: float
    end_s: float
    rate: int
    low_hz: float | None = None
    high_hz: float | None = None

    @classmethod
    def snapped(cls, a_s: float, b_s: float, *, rate: int, duration_s: float,
                band: tuple[float, float] | None = None, nyquist_hz: float | None = None
                ) -> Selection | None:
        """A selection from two times in any order, clipped to the recording and snapped to samples.

        Returns None when it holds no sample.
        """
        lo, hi = sorted((float(a_s), float(b_s)))
        start = snap_to_samples(min(max(lo, 0.0), duration_s), rate)
        end = snap_to_samples(min(max(hi, 0.0), duration_s), rate)
        if end <= start:
            return None
        low = high = None
        if band is not None:
            top = nyquist_hz if nyquist_hz is not None else rate / 2
            low, high = (float(min(max(f, 0.0), top)) for f in sorted(band))
            if high <= low:
                low = high = None
        return cls(start, end, rate, low, high)

    @property
    def start_sample(self) -> int:
        """First selected sample."""
        return round(self.start_s * self.rate)

    @property
    def end_sample(self) -> int:
        """One past the last selected sample."""
        return round(self.end_s * self.rate)

    @property
    def is_box(self) -> bool:
        """Whether the selection has a frequency band."""
        return self.low_hz is not None

    def describe(self) -> str:
        """E.g. ``"1.250000-2.000000 s (12000 samples) · 300-3400 Hz"``."""
        n = self.end_sample - self.start_sample
        text = f"{self.start_s:.6f}–{self.end_s:.6f} s ({n} samples)"
        if self.is_box:
            text += f" · {self.low_hz:.0f}–{self.high_hz:.0f} Hz"
        return text


def layer_colors(layers: Sequence[str]) -> dict[str, QColor]:
    """One palette colour per layer name, in sorted order (stable across redraws)."""
    names = sorted(set(layers))
    return {name: QColor(*LAYER_PALETTE[i % len(LAYER_PALETTE)]) for i, name in enumerate(names)}


def _with_alpha(color: QColor, alpha: int) -> QColor:
    out = QColor(color)
    out.setAlpha(alpha)
    return out


def _tooltip(a: AnnotationItem) -> str:
    when = a.created.strftime("%Y-%m-%d %H:%M UTC") if a.created is not None else ""
    band = f"\n{a.low_hz:.0f}–{a.high_hz:.0f} Hz" if a.low_hz is not None and a.high_hz is not None else ""
    times = f"\n{a.start_s:.3f}–{a.end_s:.3f} s" if a.start_s is not None and a.end_s is not None else ""
    note = f"\n{a.note}" if a.note else ""
    return f"[{a.layer}] {a.label}{times}{band}{note}\n{a.author} · {when}"


def _label(text: str, color: QColor, *, anchor: tuple[float, float]) -> pg.TextItem:
    item = pg.TextItem(text, color=color, anchor=anchor, fill=pg.mkBrush(0, 0, 0, 170))
    font = QFont()
    font.setPointSize(8)
    item.setFont(font)
    item.setZValue(25)
    return item


class BoxItem(QGraphicsRectItem):
    """A rectangle in plot coordinates with a cosmetic pen (its width stays 1-2 px at any zoom)."""

    def __init__(self, rect: QRectF, color: QColor, *, fill_alpha: int = 40, width: float = 1.5,
                 dashed: bool = False) -> None:
        super().__init__(rect)
        pen = pg.mkPen(color, width=width, style=Qt.PenStyle.DashLine if dashed else Qt.PenStyle.SolidLine)
        pen.setCosmetic(True)
        self.setPen(pen)
        self.setBrush(pg.mkBrush(_with_alpha(color, fill_alpha)))
        self.setZValue(22)


def annotation_items(a: AnnotationItem, color: QColor, *, hz_to_y: HzToY, spec_top: float) -> list[tuple[str, Any]]:
    """Graphics items of one annotation, each tagged with the plot it belongs to.

    Parameters
    ----------
    a : AnnotationItem
        With ``start_s``/``end_s`` (others are skipped: returns []).
    color : QColor
        The layer's colour.
    hz_to_y : callable
        Frequency (Hz) -> spectrogram y.
    spec_top : float
        y where labels of time ranges sit on the spectrogram (its top).

    Returns
    -------
    list of (plot, item)
        ``plot`` is ``"wave"`` or ``"spec"``.
    """
    if a.start_s is None:
        return []
    start = float(a.start_s)
    end = float(a.end_s if a.end_s is not None else a.start_s)
    caption = f"{a.layer}: {a.label}" if a.layer else a.label
    tip = _tooltip(a)
    out: list[tuple[str, Any]] = []
    if a.low_hz is not None and a.high_hz is not None:
        y0, y1 = sorted((hz_to_y(float(a.low_hz)), hz_to_y(float(a.high_hz))))
        box = BoxItem(QRectF(QPointF(start, y0), QPointF(max(end, start), y1)), color)
        box.setToolTip(tip)
        out.append(("spec", box))
        label = _label(caption, color, anchor=(0, 1))
        label.setPos(start, y1)
        out.append(("spec", label))
        return out
    for plot in ("wave", "spec"):
        region = pg.LinearRegionItem(values=(start, max(end, start)), movable=False,
                                     brush=pg.mkBrush(_with_alpha(color, 45)),
                                     pen=pg.mkPen(_with_alpha(color, 220), width=1))
        region.setZValue(12)
        region.setToolTip(tip)
        out.append((plot, region))
    label = _label(caption, color, anchor=(0, 0))
    label.setPos(start, spec_top)
    out.append(("spec", label))
    return out


def selection_items(sel: Selection | None, *, hz_to_y: HzToY) -> list[tuple[str, Any]]:
    """Graphics items of the selection (none for None), tagged ``"wave"`` or ``"spec"``.

    A time range is shaded on both plots; a time-frequency box is shaded on the waveform and
    outlined (dashed) on the spectrogram.
    """
    if sel is None:
        return []
    out: list[tuple[str, Any]] = []
    for where in ("wave",) if sel.is_box else ("wave", "spec"):
        region = pg.LinearRegionItem(values=(sel.start_s, sel.end_s), movable=False,
                                     brush=pg.mkBrush(*SELECTION_RGB, 50), pen=pg.mkPen((*SELECTION_RGB, 200)))
        region.setZValue(15)
        out.append((where, region))
    if sel.is_box and sel.low_hz is not None and sel.high_hz is not None:
        y0, y1 = hz_to_y(sel.low_hz), hz_to_y(sel.high_hz)
        box = BoxItem(QRectF(sel.start_s, y0, sel.end_s - sel.start_s, y1 - y0), QColor(*SELECTION_RGB),
                      fill_alpha=30, width=1.5, dashed=True)
        out.append(("spec", box))
    return out


class SelectionViewBox(pg.ViewBox):
    """A ViewBox whose modified drags select instead of panning, and whose clicks set the playhead.

    Shift + left drag selects a time range; Ctrl + left drag (where ``box_drag`` is allowed)
    selects a time-frequency box. A plain left click reports its time.

    Parameters
    ----------
    on_drag : callable
        ``on_drag(start_point, current_point, box, finished)`` in view coordinates.
    on_click : callable
        ``on_click(point)`` for a plain left click, in view coordinates.
    box_drag : bool
        Whether Ctrl + drag makes a box here (the spectrogram) or a time range (elsewhere).
    """

    def __init__(self, *, on_drag: Callable[[QPointF, QPointF, bool, bool], None],
                 on_click: Callable[[QPointF], None], box_drag: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._on_drag = on_drag
        self._on_click = on_click
        self._box_drag = box_drag

    def mouseDragEvent(self, ev: Any, axis: int | None = None) -> None:  # noqa: N802 - Qt override
        mods = ev.modifiers()
        shift = bool(mods & Qt.KeyboardModifier.ShiftModifier)
        ctrl = bool(mods & Qt.KeyboardModifier.ControlModifier)
        if ev.button() != Qt.MouseButton.LeftButton or not (shift or ctrl):
            super().mouseDragEvent(ev, axis)
            return
        ev.accept()
        start = self.mapSceneToView(ev.buttonDownScenePos())
        here = self.mapSceneToView(ev.scenePos())
        self._on_drag(start, here, ctrl and self._box_drag, bool(ev.isFinish()))

    def mouseClickEvent(self, ev: Any) -> None:  # noqa: N802 - Qt override
        if ev.button() == Qt.MouseButton.LeftButton and not ev.modifiers():
            ev.accept()
            self._on_click(self.mapSceneToView(ev.scenePos()))
            return
        super().mouseClickEvent(ev)
