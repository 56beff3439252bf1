"""Spectrogram settings: window, sizes, hop, dB levels and the frequency limits of the axis."""

from __future__ import annotations

from dataclasses import dataclass, replace

from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QLabel,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from forensics_app.dsp.scales import SCALES
from forensics_app.dsp.stft import WINDOWS, STFTSettings

FFT_SIZES = tuple(2**k for k in range(6, 16))
"""FFT sizes offered (64 to 32768 samples)."""


@dataclass(frozen=True)
class SpectrogramDisplay:
    """Everything that decides what the spectrogram shows.

    Attributes
    ----------
    stft : STFTSettings
        Window, window length, FFT size, hop (samples) and dB floor/range (dBFS).
    scale : str
        Frequency axis: a name in :data:`forensics_app.dsp.scales.SCALES`.
    f_min_hz, f_max_hz : float or None
        Frequency limits of the axis in Hz (None: 0 Hz, or 20 Hz for log, and Nyquist).
    colormap : str
        A pyqtgraph colour map name, or "grey".
    channel : int or None
        Channel shown and played; None for the mix (mean) of the channels.
    """

    stft: STFTSettings
    scale: str = "linear"
    f_min_hz: float | None = None
    f_max_hz: float | None = None
    colormap: str = "inferno"
    channel: int | None = None

    def with_changes(self, **changes: object) -> SpectrogramDisplay:
        """A copy with some fields replaced."""
        return replace(self, **changes)  # type: ignore[arg-type]


class SpectrogramSettingsDialog(QDialog):
    """Edit the STFT (window type and length, FFT size, hop), dB floor and range, axis and limits.

    Parameters
    ----------
    display : SpectrogramDisplay
        Current values.
    rate : int
        The recording's sample rate (Hz), for the durations shown next to sizes and the limits.
    parent : QWidget, optional
        Qt parent.
    """

    def __init__(self, *, display: SpectrogramDisplay, rate: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Spectrogram settings")
        self._display = display
        self._rate = int(rate)
        s = display.stft
        self.window = QComboBox()
        self.window.addItems(list(WINDOWS))
        self.window.setCurrentText(s.window)
        self.win_length = QSpinBox()
        self.win_length.setRange(16, 65536)
        self.win_length.setValue(s.win_length)
        self.n_fft = QComboBox()
        for n in FFT_SIZES:
            self.n_fft.addItem(str(n), n)
        if s.n_fft not in FFT_SIZES:
            self.n_fft.addItem(str(s.n_fft), s.n_fft)
        self.n_fft.setCurrentText(str(s.n_fft))
        self.hop = QSpinBox()
        self.hop.setRange(1, 65536)
        self.hop.setValue(s.hop)
        self.db_floor = QDoubleSpinBox()
        self.db_floor.setRange(-200.0, 0.0)
        self.db_floor.setSuffix(" dBFS")
        self.db_floor.setValue(s.db_floor)
        self.db_range = QDoubleSpinBox()
        self.db_range.setRange(10.0, 200.0)
        self.db_range.setSuffix(" dB")
        self.db_range.setValue(s.db_range)
        self.scale = QComboBox()
        self.scale.addItems(list(SCALES))
        self.scale.setCurrentText(display.scale)
        nyquist = self._rate / 2
        self.f_min = QDoubleSpinBox()
        self.f_min.setRange(0.0, nyquist)
        self.f_min.setSuffix(" Hz")
        self.f_min.setSpecialValueText("auto")
        self.f_min.setValue(display.f_min_hz or 0.0)
        self.f_max = QDoubleSpinBox()
        self.f_max.setRange(0.0, nyquist)
        self.f_max.setSuffix(" Hz")
        self.f_max.setSpecialValueText("Nyquist")
        self.f_max.setValue(0.0 if display.f_max_hz is None else display.f_max_hz)
        self.resolution = QLabel("")
        for w in (self.win_length, self.hop):
            w.valueChanged.connect(self._describe)
        self.n_fft.currentIndexChanged.connect(self._describe)

        form = QFormLayout()
        form.addRow("Window", self.window)
        form.addRow("Window length (samples)", self.win_length)
        form.addRow("FFT size (samples)", self.n_fft)
        form.addRow("Hop (samples)", self.hop)
        form.addRow("", self.resolution)
        form.addRow("dB floor", self.db_floor)
        form.addRow("dB range", self.db_range)
        form.addRow("Frequency axis", self.scale)
        form.addRow("Lowest frequency", self.f_min)
        form.addRow("Highest frequency", self.f_max)
        self.error = QLabel("")
        self.error.setStyleSheet("color: #e05050")
        self.error.setWordWrap(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self._accept_if_valid)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.error)
        layout.addWidget(buttons)
        self._describe()

    def _describe(self) -> None:
        r = self._rate
        win, hop, nfft = self.win_length.value(), self.hop.value(), int(self.n_fft.currentData())
        self.resolution.setText(f"window {1000 * win / r:.1f} ms · hop {1000 * hop / r:.2f} ms · "
                                f"bins {r / nfft:.2f} Hz apart")

    def problem(self) -> str:
        """Why the entered values cannot be used ("" when they can)."""
        try:
            self.display()
        except ValueError as exc:
            return str(exc)
        return ""

    def display(self) -> SpectrogramDisplay:
        """The entered settings.

        Raises
        ------
        ValueError
            Inconsistent values (FFT smaller than the window, limits in the wrong order...).
        """
        stft = STFTSettings(window=self.window.currentText(), win_length=self.win_length.value(),
                            n_fft=int(self.n_fft.currentData()), hop=self.hop.value(),
                            db_floor=self.db_floor.value(), db_range=self.db_range.value())
        f_min = self.f_min.value() or None
        f_max = self.f_max.value() or None
        if f_min is not None and f_max is not None and f_max <= f_min:
            raise ValueError(f"the highest frequency ({f_max:.0f} Hz) must exceed the lowest ({f_min:.0f} Hz)")
        return self._display.with_changes(stft=stft, scale=self.scale.currentText(), f_min_hz=f_min,
                                          f_max_hz=f_max)

    def _accept_if_valid(self) -> None:
        problem = self.problem()
        if problem:
            self.error.setText(problem)
            return
        self.accept()
