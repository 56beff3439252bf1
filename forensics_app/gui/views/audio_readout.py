"""The audio view's cursor readout: what lies under the mouse, in physical units.

:class:`CursorReadout` is a plain Python helper owned by
:class:`~forensics_app.gui.views.audio_view.AudioView` (composition): it follows the mouse over the
view's plots (rate-limited) and writes the time, the sample index and, depending on the plot, the
amplitude, the frequency and level of the spectrogram pixel with the overlay maps' values, the
residual of the residual panel, or a lane's value into the view's readout label.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF

if TYPE_CHECKING:
    from forensics_app.gui.views.audio_view import AudioView

RATE_LIMIT_HZ = 30


class CursorReadout:
    """Cursor readout of one audio view.

    Parameters
    ----------
    view : AudioView
        The owning view (its plots, recording, renderer, overlay and findings graphics are read).
    """

    def __init__(self, view: AudioView) -> None:
        self.view = view
        self._proxy = pg.SignalProxy(view.graphics.scene().sigMouseMoved, rateLimit=RATE_LIMIT_HZ,
                                     slot=self._on_mouse_moved)

    def _plots(self) -> list[tuple[pg.PlotItem, str]]:
        v = self.view
        residual = v.finding_graphics.residual.plot
        return [(v.spec_plot, "spec"), (v.wave_plot, "wave"),
                *[(p, "residual" if p is residual else "lane") for p in v.finding_graphics.extra_plots()]]

    def _on_mouse_moved(self, event: Any) -> None:
        pos: QPointF = event[0]
        for plot, kind in self._plots():
            if plot.sceneBoundingRect().contains(pos):
                point = plot.vb.mapSceneToView(pos)
                self.view.readout.setText(self.text(point.x(), point.y(), kind))
                return

    def text(self, x: float, y: float, kind: str = "spec") -> str:
        """Readout for a point (x in s, y in the plot's units) of a plot of ``kind``.

        ``kind`` is ``"spec"``, ``"wave"``, ``"residual"`` or ``"lane"``.
        """
        v = self.view
        sample = ""
        if v.stream is not None:
            n = int(np.floor(x * v.stream.rate))
            if 0 <= n < v.stream.n_samples:
                sample = f" · sample {n}"
        head = f"t = {x:.4f} s{sample}"
        if kind == "spec":
            hz = max(v.renderer.y_to_hz(y), 0.0)
            level = v.renderer.level_at(x, hz)
            db = "" if level is None else f" · {level:.1f} dBFS"
            return f"{head} · f = {hz:.0f} Hz{db}{v.overlay.readout(x, hz)}"
        if kind == "wave":
            return f"{head} · amplitude {y:+.3f} FS"
        if kind == "residual":
            return f"{head}{v.finding_graphics.residual.readout(x, y)}"
        return f"{head} · value {y:.4g}"
