"""What the audio view draws for the findings: ranges, lanes, maps, residual panel, alignment panel.

:class:`AudioFindings` is a plain Python helper owned by
:class:`~forensics_app.gui.views.audio_view.AudioView` (composition). Under the waveform (row 0)
and the spectrogram (row 1) of the view's plot layout it stacks, when there is one, the
self-resynthesis residual panel (:class:`~forensics_app.gui.views.residual_panel.ResidualPanel`)
and then the finding lanes (:class:`~forensics_app.gui.views.audio_lanes.LaneStack`), all sharing the
time axis. It loads the findings' artifacts off the GUI thread (the view's ``_submit``): the time
series (lanes), the time-frequency maps (the spectrogram overlay and the residual panel) and, when
the investigator selects a finding of a comparison run, its alignment matrix (the
:class:`~forensics_app.gui.views.alignment_view.AlignmentView` under the plots).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import pyqtgraph as pg
from PySide6.QtCore import QTimer

from forensics_app.domain.jobs import ProgressToken
from forensics_app.gui.snapshots import FindingItem
from forensics_app.gui.views import media_data
from forensics_app.gui.views.alignment_view import AlignmentView
from forensics_app.gui.views.audio_lanes import LaneStack
from forensics_app.gui.views.audio_marks import SelectionViewBox
from forensics_app.gui.views.media_data import AlignmentLayer, Lane, MapLayer
from forensics_app.gui.views.overlays import range_label, shaded_range
from forensics_app.gui.views.residual_panel import ResidualPanel

if TYPE_CHECKING:
    from forensics_app.gui.views.audio_view import AudioView

FIRST_EXTRA_ROW = 2
"""Layout row under the spectrogram: the residual panel (when shown), then the lanes."""
ALIGNMENT_HEIGHT = 240
"""Height (px) the alignment panel gets at least when it opens."""


class AudioFindings:
    """The findings layer of one audio view.

    Parameters
    ----------
    view : AudioView
        The owning view; its plots, controls, overlay and job submission are used in place.

    Attributes
    ----------
    lane_stack : LaneStack
        The lanes under the spectrogram.
    residual : ResidualPanel
        The residual heatmap panel (in the layout while a residual map is chosen).
    alignment : AlignmentView
        The attention-map panel (hidden until a finding with an alignment is selected).
    """

    def __init__(self, view: AudioView) -> None:
        self.view = view
        self.lane_stack = LaneStack(view.graphics, link=view.wave_plot)
        self.residual = ResidualPanel(view_box=SelectionViewBox(on_drag=view._on_drag, on_click=view._on_click))
        self.residual.plot.setXLink(view.wave_plot)
        self.alignment = AlignmentView()
        self.alignment.setVisible(False)
        self.alignment.setMinimumHeight(180)
        self._range_items: list[tuple[pg.PlotItem, Any]] = []
        self._residual_in_layout = False
        self._maps_gen = 0
        self._pending_map_finding: int | None = None
        self._alignment_gen = 0
        self._overlay_defaulted = False

    # ------------------------------------------------------------------ rows

    def extra_plots(self) -> list[pg.PlotItem]:
        """The plots under the spectrogram, top to bottom (residual panel, lanes)."""
        return ([self.residual.plot] if self._residual_in_layout else []) + list(self.lane_stack.plots)

    def relayout(self) -> None:
        """Rebuild the rows under the spectrogram (after lanes or the residual choice changed)."""
        graphics = self.view.graphics
        if self._residual_in_layout:
            graphics.removeItem(self.residual.plot)
            graphics.removeItem(self.residual.colorbar)
            self._residual_in_layout = False
        self.lane_stack.remove()
        row = FIRST_EXTRA_ROW
        if self.residual.shown:
            graphics.addItem(self.residual.plot, row=row, col=0)
            graphics.addItem(self.residual.colorbar, row=row, col=1)
            graphics.ci.layout.setRowStretchFactor(row, 2)
            self._residual_in_layout = True
            row += 1
        self.lane_stack.draw(row)
        bottom = self.residual.plot.getAxis("bottom")
        last = self._residual_in_layout and not self.lane_stack.plots
        bottom.setStyle(showValues=last)
        bottom.setHeight(None if last else 8)
        self.residual.plot.setLabel("bottom", "time" if last else None, units="s" if last else None)
        self.view._reset_playheads(self.extra_plots())
        self.view.fit_plots()
        self.draw_ranges()

    # ------------------------------------------------------------------ findings

    def set_findings(self, findings: Sequence[FindingItem]) -> None:
        """Shade the findings' ranges and load their lanes and maps; an alignment of a finding that
        is gone (a newer run replaced it) is hidden."""
        self.draw_ranges()
        self.view._load_lanes()
        self.load_maps()
        layer = self.alignment.layer
        if layer is not None and all(f.id != layer.finding_id for f in findings):
            self.alignment.set_alignment(None)
            self.alignment.setVisible(False)

    def draw_ranges(self) -> None:
        """Shade every time-localised finding on every plot (edges only over the images)."""
        v = self.view
        for plot, item in self._range_items:
            plot.removeItem(item)
        self._range_items = []
        images = (v.spec_plot, self.residual.plot)
        for f in v.findings:
            if f.start_s is None:
                continue
            end = f.end_s if f.end_s is not None else f.start_s
            for plot in [v.wave_plot, v.spec_plot, *self.extra_plots()]:
                item = shaded_range(f.start_s, end, f, fill=plot not in images)
                plot.addItem(item)
                self._range_items.append((plot, item))
            label = range_label(f.start_s, f)
            label.setPos(f.start_s, 1.0)
            v.wave_plot.addItem(label)
            self._range_items.append((v.wave_plot, label))

    # ------------------------------------------------------------------ lanes

    def on_lanes(self, lanes: Sequence[Lane]) -> None:
        """Lanes loaded: offer them in the Lanes menu and draw the shown ones."""
        self.lane_stack.set_lanes(lanes)
        self.view.controls.set_lanes(self.lane_stack.keys(), self.lane_stack.shown_keys())
        self.relayout()

    def choose_lanes(self, shown: set[str]) -> None:
        """The user's choice in the Lanes menu."""
        self.lane_stack.choose(shown)
        self.relayout()

    # ------------------------------------------------------------------ maps

    def load_maps(self) -> None:
        """Load the findings' time-frequency maps off the GUI thread, then offer them."""
        self._maps_gen += 1
        gen = self._maps_gen
        with_maps = [(f.id, f.analyzer_id, f.start_s, f.end_s, f.map_refs) for f in self.view.findings if f.map_refs]
        if not with_maps:
            self.on_maps(gen, ())
            return
        artifacts = self.view._artifacts

        def job(progress: ProgressToken) -> tuple[MapLayer, ...]:
            return media_data.load_maps(artifacts, with_maps)

        self.view._submit("maps", job, lambda layers: self.on_maps(gen, layers))

    def on_maps(self, gen: int, layers: tuple[MapLayer, ...]) -> None:
        """Maps loaded: the overlay offers all of them, the residual panel the residual maps."""
        if gen != self._maps_gen:
            return  # findings changed while loading
        c = self.view.controls
        overlay = self.view.overlay
        overlay.set_layers(layers)
        was_shown = self.residual.shown
        self.residual.set_layers(layers)
        residual_keys = set(self.residual.keys())
        if layers and not self._overlay_defaulted:
            # residual maps have their own panel: drawn over the spectrogram too they would wash it
            # out, so the overlay starts with another map, or off (the Overlay button turns it on)
            self._overlay_defaulted = True
            if overlay.choice in residual_keys:
                others = [k for k in overlay.keys() if k not in residual_keys]
                if others:
                    overlay.choose(others[0])
                else:
                    overlay.set_enabled(False)
        c.set_overlays(overlay.keys(), overlay.choice, n_maps=len(layers))
        if overlay.choice is not None:
            c.set_overlay_choice(overlay.choice, on=overlay.enabled)
        c.set_residuals(self.residual.keys(), self.residual.choice)
        if self.residual.shown or was_shown:
            self.relayout()
        pending, self._pending_map_finding = self._pending_map_finding, None
        if pending is not None:
            self._show_finding_maps(pending)

    def choose_residual(self, key: str | None) -> None:
        """Show a residual map in the panel (None hides the panel)."""
        self.residual.choose(key)
        self.view.controls.set_residuals(self.residual.keys(), self.residual.choice)
        self.relayout()

    def place_overlay(self) -> None:
        """Put the overlay maps on the spectrogram's current frequency axis (linear, log or mel)."""
        scale = self.view.renderer.scale
        self.view.overlay.set_axis(None if scale is None or scale.kind == "linear" else self.view.renderer.hz_to_y)

    def _show_finding_maps(self, finding_id: int) -> None:
        v = self.view
        key = v.overlay.key_of_finding(finding_id)
        residual = self.residual.key_of_finding(finding_id)
        if key is not None:  # a residual finding's map goes to its panel; the overlay only follows
            v.overlay.choose(key)
            v.overlay.set_enabled(v.overlay.enabled or residual is None)
            v.controls.set_overlay_choice(key, on=v.overlay.enabled)
        if residual is not None:
            if residual != self.residual.choice:
                self.choose_residual(residual)
            QTimer.singleShot(0, lambda: self.reveal(self.residual.plot))  # once the layout has settled

    def reveal(self, plot: pg.PlotItem) -> None:
        """Scroll the plot area so that ``plot`` is in view (the plots scroll when space is short)."""
        graphics = self.view.graphics
        if plot.scene() is not graphics.scene():
            return
        rect = graphics.mapFromScene(plot.sceneBoundingRect()).boundingRect()
        self.view.plots_area.ensureVisible(rect.center().x(), rect.center().y(), 0, rect.height() // 2 + 4)

    # ------------------------------------------------------------------ selection

    def show_finding(self, finding: FindingItem) -> None:
        """Show a selected finding's maps (overlay, residual panel) and its run's alignment matrix."""
        if finding.map_refs:
            if self.view.overlay.key_of_finding(finding.id) is None:
                self._pending_map_finding = finding.id  # its maps are still loading
            else:
                self._show_finding_maps(finding.id)
        self.show_alignment_of(finding)

    def alignment_source(self, finding: FindingItem) -> FindingItem | None:
        """The finding whose alignment matrix goes with ``finding``: itself, or the finding of the
        same run that stored one (a departure belongs to its comparison's matrix)."""
        if finding.alignment_refs:
            return finding
        return next((f for f in self.view.findings if f.run_id == finding.run_id and f.alignment_refs), None)

    def show_alignment_of(self, finding: FindingItem) -> str | None:
        """Load the alignment matrix of ``finding``'s run off the GUI thread and show it; returns
        the job key (None when the run stored no matrix)."""
        source = self.alignment_source(finding)
        if source is None:
            return None
        self._alignment_gen += 1
        gen = self._alignment_gen
        departures = tuple(f for f in self.view.findings
                           if f.run_id == source.run_id and f.id != source.id and f.start_s is not None)
        artifacts = self.view._artifacts
        fid, run_id, analyzer_id, refs = source.id, source.run_id, source.analyzer_id, source.alignment_refs

        def job(progress: ProgressToken) -> tuple[AlignmentLayer, ...]:
            return media_data.load_alignments(artifacts, finding_id=fid, run_id=run_id, analyzer_id=analyzer_id,
                                              refs=refs, progress=progress)

        return self.view._submit("alignment", job, lambda layers: self._on_alignment(gen, layers, departures))

    def _on_alignment(self, gen: int, layers: tuple[AlignmentLayer, ...],
                      departures: tuple[FindingItem, ...]) -> None:
        if gen != self._alignment_gen or not layers:
            return
        self.alignment.set_alignment(layers[0], departures)
        if not self.alignment.isVisible():
            self.alignment.setVisible(True)
            splitter = self.view.splitter  # the plots keep what they need, the matrix gets the rest
            total = sum(splitter.sizes())
            spare = total - self.view.graphics.minimumHeight()
            panel = min(max(spare, ALIGNMENT_HEIGHT), max(total // 2, ALIGNMENT_HEIGHT))
            splitter.setSizes([max(total - panel, 0), panel])
        head = self.view.playhead[0]
        if head.isVisible():
            self.alignment.set_playhead(float(head.pos().x()))
