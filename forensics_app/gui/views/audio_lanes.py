"""The finding lanes under the audio view's spectrogram: which are drawn, and their plots.

Every :class:`~forensics_app.domain.results.TimeSeries` of the shown findings is a lane. A long
analysis can store many (levels per band, one per detector, one per vocoder...), so only
:data:`DEFAULT_LANES` are drawn when a recording opens, FakeLikelihood lanes (the detectors'
scores) first; the Lanes menu shows the others.
"""

from __future__ import annotations

from collections.abc import Iterable

import pyqtgraph as pg

from forensics_app.gui.views.media_data import Lane
from forensics_app.gui.views.overlays import add_lane

DEFAULT_LANES = 3
"""Lanes drawn when a recording opens; the Lanes menu shows the others."""
SCORE_UNIT = "FakeLikelihood"


def lane_key(lane: Lane) -> str:
    """The name of a lane in the Lanes menu: ``"analyzer · series"``."""
    return f"{lane.title}{lane.series.name}"


def default_shown(lanes: Iterable[Lane], n: int = DEFAULT_LANES) -> set[str]:
    """Keys of the lanes drawn by default: the first ``n``, FakeLikelihood lanes before the others
    (a stable sort: otherwise in the order the findings stored them)."""
    scored_first = sorted(lanes, key=lambda lane: lane.series.unit != SCORE_UNIT)
    return {lane_key(lane) for lane in scored_first[:n]}


class LaneStack:
    """The lane plots of one audio view, one row each in its graphics layout.

    Parameters
    ----------
    graphics : pg.GraphicsLayoutWidget
        The view's plot layout (column 0).
    link : pg.PlotItem
        The plot whose time axis the lanes follow.

    Attributes
    ----------
    all_lanes : tuple of Lane
        Every lane of the shown findings.
    chosen : set of str or None
        The user's choice in the Lanes menu (None: :func:`default_shown`).
    lanes : tuple of Lane
        The lanes drawn, in the findings' order.
    plots : list of pg.PlotItem
        Their plots, top to bottom.
    """

    def __init__(self, graphics: pg.GraphicsLayoutWidget, *, link: pg.PlotItem) -> None:
        self.graphics = graphics
        self.link = link
        self.all_lanes: tuple[Lane, ...] = ()
        self.chosen: set[str] | None = None
        self.lanes: tuple[Lane, ...] = ()
        self.plots: list[pg.PlotItem] = []

    def keys(self) -> list[str]:
        """Menu entries of every lane, in the findings' order."""
        return [lane_key(lane) for lane in self.all_lanes]

    def shown_keys(self) -> set[str]:
        """Keys of the lanes to draw."""
        return set(self.chosen) if self.chosen is not None else default_shown(self.all_lanes)

    def set_lanes(self, lanes: Iterable[Lane]) -> None:
        """Replace the lanes (the user's choice, if any, is kept); call :meth:`draw` afterwards."""
        self.all_lanes = tuple(lanes)

    def choose(self, shown: Iterable[str]) -> None:
        """The lanes the user checked in the Lanes menu; call :meth:`draw` afterwards."""
        self.chosen = set(shown)

    def remove(self) -> None:
        """Take the lane plots out of the layout."""
        for plot in self.plots:
            self.graphics.removeItem(plot)
        self.plots = []
        self.lanes = ()

    def draw(self, first_row: int) -> list[pg.PlotItem]:
        """Draw the shown lanes from layout row ``first_row`` down; the last one carries the time axis.

        Returns
        -------
        list of pg.PlotItem
            The new plots, top to bottom.
        """
        self.remove()
        shown = self.shown_keys()
        self.lanes = tuple(lane for lane in self.all_lanes if lane_key(lane) in shown)
        last = len(self.lanes) - 1
        for i, lane in enumerate(self.lanes):
            plot = add_lane(self.graphics, first_row + i, lane, link=self.link)
            if i == last:
                plot.setLabel("bottom", "time", units="s")
                plot.getAxis("bottom").setStyle(showValues=True)
                plot.getAxis("bottom").setHeight(None)
            self.plots.append(plot)
        return list(self.plots)
