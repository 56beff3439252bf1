"""The audio view's control strip: transport, selection, annotation and display choices."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction, QActionGroup
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QMenu,
    QPushButton,
    QSizePolicy,
    QSlider,
    QToolButton,
    QWidget,
    QWidgetAction,
)

from forensics_app.dsp.scales import SCALES

COLORMAPS = ("inferno", "viridis", "magma", "plasma", "cividis", "turbo", "grey")
"""Colour maps offered for the spectrogram (pyqtgraph names; "grey" is black to white)."""
MIX = "mix"


class AudioControlsPanel(QWidget):
    """Buttons and choices above the audio plots (the view connects them).

    Attributes
    ----------
    play, stop, play_selection, annotate, settings : QPushButton
    loop : QCheckBox
    channel, scale, colormap : QComboBox
        ``channel`` holds None (the mix) or a channel index as item data.
    playback_status, selection_label : QLabel
    lanes : QToolButton
        Menu of the finding lanes, each checkable; ``lanes_changed(shown keys)`` on a change.
    overlays : QToolButton
        Checkable: draws the chosen time-frequency map(s) over the spectrogram (``toggled(bool)``);
        its menu picks the map (``overlay_chosen(key)``) and holds :attr:`overlay_opacity`.
    overlay_opacity : QSlider
        Overlay opacity in percent, 0 to 100 (``overlay_opacity_changed(fraction)``).
    residuals : QToolButton
        Menu of the self-resynthesis residual maps shown in the panel under the spectrogram
        (``residual_chosen(key or None)``); hidden when the findings have none.
    """

    lanes_changed = Signal(object)
    overlay_chosen = Signal(str)
    overlay_opacity_changed = Signal(float)
    residual_chosen = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.play = QPushButton("▶ Play")
        self.play.setToolTip("Play from the playhead, or pause (Space)")
        self.stop = QPushButton("■ Stop")
        self.play_selection = QPushButton("▶ Selection")
        self.play_selection.setToolTip("Play the selected time range (Shift+Space)")
        self.loop = QCheckBox("Loop")
        self.loop.setToolTip("Repeat the selection while playing it")
        self.annotate = QPushButton("Annotate (A)")
        self.annotate.setToolTip("Make an annotation of the selection (A).\n"
                                 "Shift+drag selects a time range; Ctrl+drag on the spectrogram a "
                                 "time-frequency box; a click moves the playhead; Esc clears.")
        self.selection_label = QLabel("no selection")
        self.selection_label.setObjectName("selectionLabel")
        self.playback_status = QLabel("")
        self.channel = QComboBox()
        self.channel.setToolTip("Channel shown and played")
        self.channel.addItem(MIX, None)
        self.scale = QComboBox()
        self.scale.addItems(list(SCALES))
        self.scale.setToolTip("Frequency axis")
        self.colormap = QComboBox()
        self.colormap.addItems(list(COLORMAPS))
        self.colormap.setToolTip("Colour map")
        self.lanes = QToolButton()
        self.lanes.setText("Lanes")
        self.lanes.setToolTip("Choose the finding lanes drawn under the spectrogram")
        self.lanes.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.lanes.setMenu(QMenu(self.lanes))
        self._build_overlay_controls()
        self.residuals = QToolButton()
        self.residuals.setText("Residual")
        self.residuals.setToolTip("Choose the self-resynthesis residual heatmap shown in its own panel under the "
                                  "spectrogram (one per vocoder), or hide the panel")
        self.residuals.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.residuals.setMenu(QMenu(self.residuals))
        self._residual_group = QActionGroup(self)
        self._residual_group.setExclusive(True)
        self._residual_group.triggered.connect(lambda a: self.residual_chosen.emit(a.data()))
        self.set_residuals([], None)
        self.settings = QPushButton("STFT…")
        self.settings.setToolTip("Window, FFT size, hop, dB floor and range, frequency limits")
        for w in (self.play_selection, self.annotate):
            w.setEnabled(False)
        for label in (self.selection_label, self.playback_status):
            label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.channel.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        for w in (self.play, self.stop, self.play_selection, self.loop):
            layout.addWidget(w)
        layout.addWidget(self.playback_status, 2)
        layout.addWidget(self.annotate)
        layout.addWidget(self.selection_label, 3)
        self.channel_label = QLabel("Channel")
        for w in (self.channel_label, self.channel, QLabel("Axis"), self.scale, QLabel("Colours"),
                  self.colormap, self.lanes, self.overlays, self.residuals, self.settings):
            layout.addWidget(w)

    def _build_overlay_controls(self) -> None:
        self.overlays = QToolButton()
        self.overlays.setText("Overlay")
        self.overlays.setCheckable(True)
        self.overlays.setChecked(True)
        self.overlays.setPopupMode(QToolButton.ToolButtonPopupMode.MenuButtonPopup)
        self.overlays.setToolTip("Draw a finding's time-frequency map (e.g. a detector's explanation map) over "
                                 "the spectrogram; the arrow chooses the map and its opacity")
        self.overlays.setMenu(QMenu(self.overlays))
        self._overlay_group = QActionGroup(self)
        self._overlay_group.setExclusive(True)
        self._overlay_group.triggered.connect(lambda a: self.overlay_chosen.emit(str(a.data())))
        self.overlay_opacity = QSlider(Qt.Orientation.Horizontal)
        self.overlay_opacity.setRange(0, 100)
        self.overlay_opacity.setValue(70)
        self.overlay_opacity.setMinimumWidth(140)
        self.overlay_opacity.setToolTip("Opacity of the overlay (%)")
        opacity_text = QLabel("70 %")

        def opacity_changed(value: int) -> None:
            opacity_text.setText(f"{value} %")
            self.overlay_opacity_changed.emit(value / 100)

        self.overlay_opacity.valueChanged.connect(opacity_changed)
        box = QWidget()
        row = QHBoxLayout(box)
        row.setContentsMargins(8, 4, 8, 4)
        for w in (QLabel("Opacity"), self.overlay_opacity, opacity_text):
            row.addWidget(w)
        self._opacity_action = QWidgetAction(self)  # owned by the panel: survives menu.clear()
        self._opacity_action.setDefaultWidget(box)
        self.set_overlays([], None, n_maps=0)

    def set_channels(self, n_channels: int) -> None:
        """Offer the mix and each channel (the selector is hidden for mono)."""
        self.channel.blockSignals(True)
        self.channel.clear()
        self.channel.addItem(MIX, None)
        for c in range(n_channels):
            self.channel.addItem(f"channel {c + 1}", c)
        self.channel.setCurrentIndex(0)
        self.channel.blockSignals(False)
        multi = n_channels > 1
        self.channel.setVisible(multi)
        self.channel_label.setVisible(multi)

    def set_playable(self, ok: bool, message: str) -> None:
        """Enable or disable the transport; ``message`` says why it is off."""
        for w in (self.play, self.stop, self.loop):
            w.setEnabled(ok)
        self.play_selection.setEnabled(ok and self.annotate.isEnabled())
        self.playback_status.setText("" if ok else message)
        self.playback_status.setMinimumWidth(0 if ok else self.playback_status.fontMetrics().horizontalAdvance(message) + 4)
        self.playback_status.setToolTip(message)

    def set_playing(self, playing: bool) -> None:
        """Show Pause while playing."""
        self.play.setText("❚❚ Pause" if playing else "▶ Play")

    def set_selection_text(self, text: str | None) -> None:
        """Describe the selection (None: there is none)."""
        has = text is not None
        self.selection_label.setText(text if has else "no selection")
        self.annotate.setEnabled(has)
        self.play_selection.setEnabled(has and self.play.isEnabled())

    def set_lanes(self, keys: Sequence[str], shown: set[str]) -> None:
        """Offer these lanes (``"analyzer · series"``) in the Lanes menu, ``shown`` checked."""
        menu = self.lanes.menu()
        menu.clear()
        for key in keys:
            action = menu.addAction(key)
            action.setCheckable(True)
            action.setChecked(key in shown)
            action.toggled.connect(self._emit_lanes)
        self.lanes.setText(f"Lanes {len(shown)}/{len(keys)}")
        self.lanes.setEnabled(bool(keys))

    def _emit_lanes(self) -> None:
        actions = self.lanes.menu().actions()
        shown = {a.text() for a in actions if a.isChecked()}
        self.lanes.setText(f"Lanes {len(shown)}/{len(actions)}")
        self.lanes_changed.emit(shown)

    def set_overlays(self, keys: Sequence[str], current: str | None, *, n_maps: int | None = None) -> None:
        """Offer these entries in the Overlay menu, ``current`` checked; no keys disables the button.

        ``n_maps`` (the number of maps, default ``len(keys)``) is shown on the button.
        """
        menu = self.overlays.menu()
        menu.clear()
        for action in self._overlay_group.actions():
            self._overlay_group.removeAction(action)
        for key in keys:
            action = QAction(key, menu)
            action.setData(key)
            action.setCheckable(True)
            action.setChecked(key == current)
            self._overlay_group.addAction(action)
            menu.addAction(action)
        if keys:
            menu.addSeparator()
            menu.addAction(self._opacity_action)
        n = len(keys) if n_maps is None else n_maps
        self.overlays.setText(f"Overlay ({n} map{'' if n == 1 else 's'})" if keys else "Overlay")
        self.overlays.setEnabled(bool(keys))

    def overlay_keys(self) -> list[str]:
        """The maps offered in the Overlay menu."""
        return [str(a.data()) for a in self._overlay_group.actions()]

    def set_overlay_choice(self, key: str, *, on: bool = True) -> None:
        """Check ``key`` in the menu and the button (no signals: the view already shows it)."""
        for action in self._overlay_group.actions():
            action.setChecked(action.data() == key)
        self.overlays.blockSignals(True)
        self.overlays.setChecked(on)
        self.overlays.blockSignals(False)

    def set_residuals(self, keys: Sequence[str], current: str | None) -> None:
        """Offer these residual maps (and "Hide residual panel"), ``current`` checked (None: hidden).

        The button is hidden when there are none.
        """
        menu = self.residuals.menu()
        menu.clear()
        for action in self._residual_group.actions():
            self._residual_group.removeAction(action)
        for key, text in [*((k, k) for k in keys), (None, "Hide residual panel")]:
            action = QAction(text, menu)
            action.setData(key)
            action.setCheckable(True)
            action.setChecked(key == current)
            self._residual_group.addAction(action)
            menu.addAction(action)
        self.residuals.setText(f"Residual ({len(keys)})")
        self.residuals.setVisible(bool(keys))

    def residual_keys(self) -> list[str]:
        """The residual maps offered in the Residual menu."""
        return [str(a.data()) for a in self._residual_group.actions() if a.data() is not None]
