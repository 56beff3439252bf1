"""Time x frequency maps drawn translucent over the audio view's spectrogram.

A :class:`~forensics_app.domain.results.TimeFreqMap` (a detector's explanation map, a residual
heatmap) is drawn as a pyqtgraph ImageItem placed with ``setRect`` at the map's true extent: x in
seconds from the start of the evidence, y in the spectrogram's axis units (Hz on the linear axis;
on the log and mel axes the rows are resampled so that each map row lands on its frequencies).
The colour map runs from blue through cyan to white (apart from every spectrogram colour map) with
an alpha ramp: a value of 0 is fully transparent, so only what the map marks tints the spectrogram;
the item's opacity scales the whole map.

Stacking in the spectrogram plot: above the spectrogram images (z -20 and -10), below the
finding ranges (10), the selection and annotations, and the playhead (30). The items live in the
plot's view box, so they follow zoom and pan.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF

from forensics_app.domain.results import TimeFreqMap
from forensics_app.dsp.grids import centre_edges
from forensics_app.gui.views.media_data import MapLayer

OVERLAY_Z = -5
"""Above the spectrogram images, under every mark (ranges, selection, annotations, playhead)."""
DEFAULT_OPACITY = 0.7
EXPLANATION_UNIT = "relevance"
"""Unit of explanation maps (values in [0, 1]); other units are scaled to their own range."""
ALL_EXPLANATIONS = "All explanation maps"
"""The Overlay menu entry that shows every map whose unit is :data:`EXPLANATION_UNIT`."""
MIN_WARPED_ROWS = 128
MAX_WARPED_ROWS = 1024
ALPHA_GAMMA = 0.6
"""Alpha = value ** gamma: faint relevance stays visible, zero stays transparent."""

HzToY = Callable[[float], float]


def overlay_colormap() -> pg.ColorMap:
    """Blue through cyan to white: apart from the spectrogram's colour maps (inferno, viridis, grey...)."""
    return pg.ColorMap(pos=np.array([0.0, 0.5, 1.0]),
                       color=np.array([[0, 80, 255, 255], [0, 225, 255, 255], [230, 255, 255, 255]]))


def overlay_lut(n: int = 256) -> np.ndarray:
    """RGBA lookup table, shape (n, 4) uint8: :func:`overlay_colormap` with alpha rising from 0 to 255."""
    rgb = overlay_colormap().getLookupTable(0.0, 1.0, n, alpha=False)
    alpha = np.round(255 * np.linspace(0.0, 1.0, n) ** ALPHA_GAMMA).astype(np.uint8)
    return np.column_stack([np.asarray(rgb, dtype=np.uint8)[:, :3], alpha])


def map_levels(tf_map: TimeFreqMap) -> tuple[float, float]:
    """Colour levels: [0, 1] for relevance, else the map's own minimum and maximum."""
    if tf_map.unit == EXPLANATION_UNIT or not tf_map.values.size:
        return 0.0, 1.0
    lo, hi = float(np.min(tf_map.values)), float(np.max(tf_map.values))
    return (lo, hi) if hi > lo else (lo, lo + 1.0)


def _uniform(edges: np.ndarray) -> bool:
    d = np.diff(edges)
    return bool(d.size and np.all(d > 0) and np.allclose(d, d[0], rtol=1e-3, atol=0.0))


def _nearest_cells(edges: np.ndarray, n_out: int) -> np.ndarray:
    """Index of the source cell under each of ``n_out`` equal cells spanning ``edges``."""
    u0, u1 = float(edges[0]), float(edges[-1])
    centres = u0 + (np.arange(n_out) + 0.5) * (u1 - u0) / n_out
    return np.clip(np.searchsorted(edges, centres, side="right") - 1, 0, edges.size - 2)


@dataclass(frozen=True)
class Placement:
    """A map ready for an ImageItem: rows equally spaced in the plot's y units.

    Attributes
    ----------
    image : np.ndarray
        float32, shape (rows, cols); row 0 is the lowest frequency.
    x0, x1 : float
        Time extent (s) of the columns' outer edges.
    y0, y1 : float
        Extent in the plot's y units of the rows' outer edges (``y0 < y1``; equal when the map lies
        outside the axis).
    """

    image: np.ndarray
    x0: float
    x1: float
    y0: float
    y1: float

    @property
    def rect(self) -> QRectF:
        """``QRectF(x0, y0, x1 - x0, y1 - y0)`` for ``ImageItem.setRect``."""
        return QRectF(self.x0, self.y0, self.x1 - self.x0, self.y1 - self.y0)


def place_grid(values: np.ndarray, *, x_centres: np.ndarray, y_centres: np.ndarray,
               y_floor: float | None = None, y_of: HzToY | None = None) -> Placement:
    """Where and how a sampled grid (a map, an alignment matrix) is drawn in a plot.

    Parameters
    ----------
    values : np.ndarray
        Shape (n_y, n_x); row 0 is the lowest y.
    x_centres : np.ndarray
        Shape (n_x,), increasing column centres in the plot's x units (s).
    y_centres : np.ndarray
        Shape (n_y,), increasing row centres (Hz, s or row index).
    y_floor : float, optional
        Clips the lowest row edge (0 Hz for frequencies).
    y_of : callable, optional
        Row coordinate to the plot's y coordinate (a frequency axis scale); None: identity.

    Returns
    -------
    Placement
        Columns and rows are resampled (nearest cell) only when they are not already equally
        spaced in x and y units.
    """
    t_edges = centre_edges(x_centres)
    r_edges = centre_edges(y_centres, floor=y_floor)
    y_edges = r_edges if y_of is None else np.array([y_of(float(f)) for f in r_edges])
    if not _uniform(t_edges):
        cols = min(max(2 * values.shape[1], 64), 4096)
        values = values[:, _nearest_cells(t_edges, cols)]
    if y_edges[-1] > y_edges[0] and not _uniform(y_edges):
        rows = min(max(2 * values.shape[0], MIN_WARPED_ROWS), MAX_WARPED_ROWS)
        values = values[_nearest_cells(y_edges, rows), :]
    return Placement(image=np.ascontiguousarray(values, dtype=np.float32), x0=float(t_edges[0]),
                     x1=float(t_edges[-1]), y0=float(y_edges[0]), y1=float(y_edges[-1]))


def place_map(tf_map: TimeFreqMap, *, hz_to_y: HzToY | None = None) -> Placement:
    """Where and how a map is drawn on a spectrogram axis.

    Parameters
    ----------
    tf_map : TimeFreqMap
        Times in s (column centres), frequencies in Hz (row centres), values (n_f, n_t).
    hz_to_y : callable, optional
        Frequency (Hz) to the plot's y coordinate (clipped to the axis); None for a linear Hz axis.

    Returns
    -------
    Placement
        See :func:`place_grid` (rows clipped at 0 Hz).
    """
    return place_grid(tf_map.values, x_centres=tf_map.times_s, y_centres=tf_map.freqs_hz, y_floor=0.0,
                      y_of=hz_to_y)


class TimeFreqOverlay:
    """The map overlays of one spectrogram plot: which map is shown, on or off, and how opaque.

    Parameters
    ----------
    plot : pg.PlotItem
        The spectrogram plot.
    opacity : float
        Initial opacity in [0, 1].

    Attributes
    ----------
    layers : tuple of MapLayer
        Every map of the shown evidence's findings.
    items : dict of str to pg.ImageItem
        One image item per layer key.
    choice : str or None
        A layer key or :data:`ALL_EXPLANATIONS`.
    enabled : bool
        Whether the chosen map(s) are drawn.
    opacity : float
        Opacity of the drawn maps in [0, 1].
    """

    def __init__(self, plot: pg.PlotItem, *, opacity: float = DEFAULT_OPACITY) -> None:
        self.plot = plot
        self.layers: tuple[MapLayer, ...] = ()
        self.items: dict[str, pg.ImageItem] = {}
        self.placements: dict[str, Placement] = {}
        self.choice: str | None = None
        self.enabled = True
        self.opacity = float(np.clip(opacity, 0.0, 1.0))
        self._hz_to_y: HzToY | None = None
        self._lut = overlay_lut()

    # ------------------------------------------------------------------ content

    def set_layers(self, layers: Sequence[MapLayer]) -> None:
        """Replace the maps; keep the choice when it still exists, else show the explanation maps."""
        self.clear()
        self.layers = tuple(layers)
        for layer in self.layers:
            item = pg.ImageItem(axisOrder="row-major")
            item.setZValue(OVERLAY_Z)
            item.setToolTip(f"{layer.key}\n{layer.tf_map.unit}")
            self.plot.addItem(item)
            self.items[layer.key] = item
        keys = self.keys()
        if self.choice not in keys:
            self.choice = keys[0] if keys else None
        self._place_all()

    def clear(self) -> None:
        """Remove every overlay item from the plot."""
        for item in self.items.values():
            self.plot.removeItem(item)
        self.items = {}
        self.placements = {}
        self.layers = ()

    def groups(self) -> dict[str, tuple[MapLayer, ...]]:
        """The maps of each finding that has several (one per detector), by menu entry.

        Entries read ``"analyzer · all maps · 1.20–2.40 s"``.
        """
        by_finding: dict[int, list[MapLayer]] = {}
        for layer in self.layers:
            by_finding.setdefault(layer.finding_id, []).append(layer)
        out: dict[str, tuple[MapLayer, ...]] = {}
        for finding_id, group in by_finding.items():
            if len(group) >= 2:
                first = group[0]
                key = f"{first.analyzer_id} · all maps · {first.start_s:.2f}–{first.end_s:.2f} s"
                out[f"{key} (finding {finding_id})" if key in out else key] = tuple(group)
        return out

    def keys(self) -> list[str]:
        """The menu entries: :data:`ALL_EXPLANATIONS` (with two or more explanation maps), then per
        finding the entry of all its maps (when it has several) followed by each of its maps."""
        n_expl = sum(1 for layer in self.layers if layer.tf_map.unit == EXPLANATION_UNIT)
        out = [ALL_EXPLANATIONS] if n_expl >= 2 else []
        group_of = {group[0].finding_id: key for key, group in self.groups().items()}
        done: set[int] = set()
        for layer in self.layers:
            if layer.finding_id in group_of and layer.finding_id not in done:
                out.append(group_of[layer.finding_id])
                done.add(layer.finding_id)
            out.append(layer.key)
        return out

    def key_of_finding(self, finding_id: int) -> str | None:
        """The entry showing all of a finding's maps (None when it has none)."""
        for key, group in self.groups().items():
            if group[0].finding_id == finding_id:
                return key
        return next((layer.key for layer in self.layers if layer.finding_id == finding_id), None)

    def shown_layers(self) -> tuple[MapLayer, ...]:
        """The layers drawn now (none when disabled)."""
        if not self.enabled or self.choice is None:
            return ()
        if self.choice == ALL_EXPLANATIONS:
            return tuple(layer for layer in self.layers if layer.tf_map.unit == EXPLANATION_UNIT)
        group = self.groups().get(self.choice)
        if group is not None:
            return group
        return tuple(layer for layer in self.layers if layer.key == self.choice)

    # ------------------------------------------------------------------ choices

    def choose(self, key: str) -> None:
        """Show one map (a layer key) or :data:`ALL_EXPLANATIONS`."""
        if key in self.keys():
            self.choice = key
            self._update_visibility()

    def set_enabled(self, on: bool) -> None:
        """Draw the chosen map(s), or hide every overlay."""
        self.enabled = bool(on)
        self._update_visibility()

    def set_opacity(self, opacity: float) -> None:
        """Opacity of every overlay, in [0, 1]."""
        self.opacity = float(np.clip(opacity, 0.0, 1.0))
        for item in self.items.values():
            item.setOpacity(self.opacity)

    def set_axis(self, hz_to_y: HzToY | None) -> None:
        """Re-place the maps for another frequency axis (None: linear in Hz)."""
        self._hz_to_y = hz_to_y
        self._place_all()

    # ------------------------------------------------------------------ drawing

    def _place_all(self) -> None:
        self.placements = {}
        for layer in self.layers:
            item = self.items[layer.key]
            p = place_map(layer.tf_map, hz_to_y=self._hz_to_y)
            self.placements[layer.key] = p
            if p.image.size and p.y1 > p.y0 and p.x1 > p.x0:
                item.setImage(p.image, autoLevels=False, levels=map_levels(layer.tf_map), lut=self._lut)
                item.setRect(p.rect)
            item.setOpacity(self.opacity)
        self._update_visibility()

    def _update_visibility(self) -> None:
        shown = {layer.key for layer in self.shown_layers()}
        for key, item in self.items.items():
            p = self.placements.get(key)
            drawable = p is not None and p.image.size > 0 and p.y1 > p.y0 and p.x1 > p.x0
            item.setVisible(key in shown and drawable)

    def readout(self, time_s: float, freq_hz: float) -> str:
        """``" · <map>: 0.73 relevance"`` for each shown map under a point ("" when none)."""
        parts = []
        for layer in self.shown_layers():
            m = layer.tf_map
            t_edges, f_edges = centre_edges(m.times_s), centre_edges(m.freqs_hz, floor=0.0)
            if t_edges[0] <= time_s < t_edges[-1] and f_edges[0] <= freq_hz < f_edges[-1]:
                col = int(np.clip(np.searchsorted(t_edges, time_s, side="right") - 1, 0, m.times_s.size - 1))
                row = int(np.clip(np.searchsorted(f_edges, freq_hz, side="right") - 1, 0, m.freqs_hz.size - 1))
                value = float(m.values[row, col])
                text = f"{value:.2f}" if m.unit == EXPLANATION_UNIT else f"{value:.4g}"
                parts.append(f" · {m.name}: {text} {m.unit}")
        return "".join(parts)
