"""Self-resynthesis residual heatmaps as their own panel under the audio view's spectrogram.

The self-resynthesis analyzer stores, per vocoder, a time x frequency map of how much each band
changed when the recording was pushed through that vocoder (``"resynthesis-residual-<vocoder>"``,
in dB). Drawn translucent over the spectrogram it hides the picture it explains, so the audio view
also shows it opaque in a panel of its own, one row under the spectrogram, sharing its time axis:
the same instant is at the same x in both. Its frequency axis is linear in Hz. One map is shown at
a time (the Residual menu, or the map of a self-resynthesis finding the investigator selects).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyqtgraph as pg

from forensics_app.dsp.grids import centre_edges
from forensics_app.gui.views.media_data import MapLayer
from forensics_app.gui.views.overlays import configure_plot
from forensics_app.gui.views.tfmap_overlay import Placement, place_map

RESIDUAL_PREFIX = "resynthesis-residual-"
"""Name prefix of residual maps (the vocoder's name follows)."""
RESIDUAL_UNIT = "dB"
SEQUENTIAL_MAP = "CET-L3"
"""Colours of residuals of one sign (black through red and yellow to white: apart from inferno)."""
DIVERGING_MAP = "CET-D1"
"""Colours of signed residuals (blue below 0 dB, white at 0, red above)."""
LEVEL_PERCENTILES = (1.0, 99.0)
"""Colour levels span these percentiles of the map: a few extreme cells do not wash out the rest."""


def is_residual(layer: MapLayer) -> bool:
    """Whether a map is a self-resynthesis residual map (name prefix and unit dB)."""
    name = layer.tf_map.name
    rest = name[len(RESIDUAL_PREFIX):]
    # "resynthesis-residual-<round trip>"; not the residual detector's "<model id> explanation" maps
    return (name.startswith(RESIDUAL_PREFIX) and bool(rest) and all(c.isalnum() or c in "_." for c in rest)
            and layer.tf_map.unit == RESIDUAL_UNIT)


def residual_levels(values: np.ndarray) -> tuple[tuple[float, float], bool]:
    """Colour levels (dB) of a residual map and whether they are signed (symmetric about 0 dB).

    Parameters
    ----------
    values : np.ndarray
        The map, any shape, in dB.

    Returns
    -------
    (lo, hi), signed
        ``lo < hi``; ``signed`` when the map has cells clearly on both sides of 0 dB, in which case
        ``lo == -hi``.
    """
    v = np.asarray(values, dtype=np.float64).reshape(-1)
    if not v.size:
        return (0.0, 1.0), False
    lo, hi = (float(x) for x in np.percentile(v, LEVEL_PERCENTILES))
    if lo < 0.0 < hi:
        m = max(-lo, hi)
        return (-m, m), True
    return ((lo, hi) if hi > lo else (lo, lo + 1.0)), False


class ResidualPanel:
    """A time x frequency panel showing one residual map.

    Parameters
    ----------
    view_box : pg.ViewBox, optional
        The plot's view box (the audio view passes one whose clicks move the playhead).

    Attributes
    ----------
    plot : pg.PlotItem
        The panel; the audio view puts it into its layout and links its time axis.
    colorbar : pg.ColorBarItem
        The colour scale (dB); the audio view puts it beside the plot, in a column of its own so
        that every plot of the column keeps the same width (the time axes stay aligned).
    image : pg.ImageItem
        The shown map.
    layers : tuple of MapLayer
        Every residual map of the shown findings.
    choice : str or None
        Key of the shown map (None: the panel is hidden).
    placement : Placement or None
        Where the shown map is drawn.
    """

    def __init__(self, *, view_box: pg.ViewBox | None = None) -> None:
        self.plot = pg.PlotItem(viewBox=view_box)
        configure_plot(self.plot, y_label="frequency", y_units="Hz")
        self.plot.setMouseEnabled(x=True, y=False)
        self.plot.showGrid(x=False, y=False)
        self.plot.setMinimumHeight(120)
        self.plot.enableAutoRange(x=False)
        self.image = pg.ImageItem(axisOrder="row-major")
        self.image.setZValue(-10)
        self.plot.addItem(self.image)
        self.colorbar = pg.ColorBarItem(values=(0.0, 1.0), colorMap=pg.colormap.get(SEQUENTIAL_MAP),
                                        label="residual (dB)", interactive=False, width=12)
        self.colorbar.setImageItem(self.image)  # the view puts it in the layout's next column
        self.colorbar.getAxis("right").enableAutoSIPrefix(False)
        self.layers: tuple[MapLayer, ...] = ()
        self.choice: str | None = None
        self.placement: Placement | None = None
        self._user_hid = False

    @property
    def shown(self) -> bool:
        """Whether a map is chosen (the panel belongs in the layout)."""
        return self.choice is not None

    def keys(self) -> list[str]:
        """The Residual menu's entries (layer keys)."""
        return [layer.key for layer in self.layers]

    def set_layers(self, layers: Sequence[MapLayer]) -> None:
        """Keep the residual maps among ``layers``; the choice is kept when it still exists, else
        the first map is shown (unless the user hid the panel)."""
        self.layers = tuple(layer for layer in layers if is_residual(layer))
        keys = self.keys()
        if self.choice not in keys:
            self.choice = None if self._user_hid or not keys else keys[0]
        self._draw()

    def choose(self, key: str | None) -> None:
        """Show one map (a key of :meth:`keys`), or hide the panel (None)."""
        self._user_hid = key is None
        self.choice = key if key in self.keys() else None
        self._draw()

    def key_of_finding(self, finding_id: int) -> str | None:
        """The first residual map of a finding (None when it has none)."""
        return next((layer.key for layer in self.layers if layer.finding_id == finding_id), None)

    def current(self) -> MapLayer | None:
        """The shown map's layer."""
        return next((layer for layer in self.layers if layer.key == self.choice), None)

    def _draw(self) -> None:
        layer = self.current()
        self.placement = None
        if layer is None:
            self.image.clear()
            return
        m = layer.tf_map
        p = self.placement = place_map(m)
        (lo, hi), signed = residual_levels(m.values)
        cmap = pg.colormap.get(DIVERGING_MAP if signed else SEQUENTIAL_MAP)
        if p.image.size and p.x1 > p.x0 and p.y1 > p.y0:
            self.image.setImage(p.image, autoLevels=False, levels=(lo, hi))
            self.image.setRect(p.rect)
        self.colorbar.setColorMap(cmap)
        self.colorbar.setLevels((lo, hi))
        vocoder = m.name[len(RESIDUAL_PREFIX):] if m.name.startswith(RESIDUAL_PREFIX) else m.name
        self.plot.setTitle(f"<span style='font-size:8pt'>self-resynthesis residual · {vocoder} · "
                           f"{layer.analyzer_id} (finding {layer.finding_id})</span>")
        self.image.setToolTip(f"{layer.key}\nper-band change (dB) when the recording is re-synthesised "
                              f"by {vocoder}; small = the recording sits near that vocoder's fixed point")
        self.plot.setYRange(p.y0, p.y1, padding=0)

    def readout(self, time_s: float, freq_hz: float) -> str:
        """``" · residual world: 3.2 dB"`` for the point under the cursor ("" outside the map)."""
        layer = self.current()
        if layer is None:
            return ""
        m = layer.tf_map
        t_edges, f_edges = centre_edges(m.times_s), centre_edges(m.freqs_hz, floor=0.0)
        if not (t_edges[0] <= time_s < t_edges[-1] and f_edges[0] <= freq_hz < f_edges[-1]):
            return ""
        col = int(np.clip(np.searchsorted(t_edges, time_s, side="right") - 1, 0, m.times_s.size - 1))
        row = int(np.clip(np.searchsorted(f_edges, freq_hz, side="right") - 1, 0, m.freqs_hz.size - 1))
        return f" · f = {freq_hz:.0f} Hz · {m.name}: {float(m.values[row, col]):.2f} {m.unit}"
