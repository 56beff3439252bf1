"""The annotation dialog: label, layer, note, and time range / frequency band of one annotation."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QVBoxLayout,
    QWidget,
)

from forensics_app.gui.snapshots import AnnotationItem
from forensics_app.store.annotations import (
    DEFAULT_LAYER,
    MAX_LAYER_CHARS,
    AnnotationSpec,
    InvalidAnnotation,
)

NUMBER_FIELDS = ("start_s", "end_s", "low_hz", "high_hz")
KEPT_FIELDS = ("start_frame", "end_frame", "region")


def spec_values(item: AnnotationItem) -> dict[str, Any]:
    """The :class:`AnnotationSpec` keyword values of a listed annotation."""
    return {
        "label": item.label, "note": item.note, "layer": item.layer, "start_s": item.start_s, "end_s": item.end_s,
        "low_hz": item.low_hz, "high_hz": item.high_hz, "start_frame": item.start_frame,
        "end_frame": item.end_frame, "region": dict(item.region) if item.region else None,
    }


def format_number(value: float | None) -> str:
    """Text of a time (s) or frequency (Hz) for editing: up to 6 decimals, no trailing zeros."""
    if value is None:
        return ""
    return f"{value:.6f}".rstrip("0").rstrip(".") or "0"


class AnnotationDialog(QDialog):
    """Ask for an annotation's label, layer and note, and let the examiner adjust its range and band.

    Frame ranges and image regions are shown and kept as they are. Empty time or band fields mean
    "none". The dialog accepts only values that make a valid :class:`AnnotationSpec`.

    Parameters
    ----------
    evidence_label : str
        What is annotated, e.g. ``"#3 call.wav"``.
    author : str
        Shown as the author (a new annotation's examiner, or the original author when editing).
    layers : sequence of str
        Existing layer names offered in the layer box (a new name may be typed).
    values : mapping, optional
        Initial :class:`AnnotationSpec` keyword values (``label``, ``layer``, ``start_s``...).
    title : str
        Window title.
    parent : QWidget, optional
        Qt parent.
    """

    def __init__(self, *, evidence_label: str, author: str, layers: Sequence[str] = (),
                 values: Mapping[str, Any] | None = None, title: str = "New annotation",
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.setMinimumWidth(460)
        values = dict(values or {})
        self._kept = {k: values.get(k) for k in KEPT_FIELDS}
        self._original: dict[str, tuple[str, float | None]] = {}

        self.label_edit = QLineEdit(str(values.get("label") or ""))
        self.label_edit.setPlaceholderText("e.g. splice, breath, hum, speaker A")
        self.layer_box = QComboBox()
        self.layer_box.setEditable(True)
        names = list(dict.fromkeys([DEFAULT_LAYER, *layers]))
        self.layer_box.addItems(names)
        self.layer_box.setCurrentText(str(values.get("layer") or DEFAULT_LAYER))
        self.layer_box.lineEdit().setMaxLength(MAX_LAYER_CHARS)
        self.note_edit = QPlainTextEdit(str(values.get("note") or ""))
        self.note_edit.setTabChangesFocus(True)
        self.note_edit.setFixedHeight(90)
        self.number_edits: dict[str, QLineEdit] = {}
        for name in NUMBER_FIELDS:
            edit = QLineEdit(format_number(values.get(name)))
            edit.setPlaceholderText("none")
            self._original[name] = (edit.text(), values.get(name))
            self.number_edits[name] = edit

        form = QFormLayout()
        form.addRow("Evidence", QLabel(evidence_label))
        form.addRow("Author", QLabel(author))
        form.addRow("Label", self.label_edit)
        form.addRow("Layer", self.layer_box)
        form.addRow("Note", self.note_edit)
        form.addRow("Time (s)", self._pair("start_s", "end_s"))
        form.addRow("Band (Hz)", self._pair("low_hz", "high_hz"))
        kept = self._kept_text()
        if kept:
            form.addRow("Position", QLabel(kept))
        self.error = QLabel("")
        self.error.setStyleSheet("color: #e05050")
        self.error.setWordWrap(True)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self._accept_if_valid)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.error)
        layout.addWidget(self.buttons)
        self.label_edit.setFocus()

    def _pair(self, low: str, high: str) -> QWidget:
        box = QWidget()
        row = QHBoxLayout(box)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.number_edits[low])
        row.addWidget(QLabel("to"))
        row.addWidget(self.number_edits[high])
        return box

    def _kept_text(self) -> str:
        parts = []
        if self._kept["start_frame"] is not None:
            parts.append(f"frames {self._kept['start_frame']} to {self._kept['end_frame']}")
        region = self._kept["region"]
        if region:
            parts.append(f"region {region['width']}×{region['height']} px at ({region['x']}, {region['y']})")
        return "; ".join(parts)

    def _number(self, name: str) -> float | None:
        text = self.number_edits[name].text().strip()
        original_text, original_value = self._original[name]
        if text == original_text:
            return original_value  # unchanged: keep the stored value to the last bit
        if not text:
            return None
        try:
            return float(text)
        except ValueError:
            raise InvalidAnnotation(f"{name} {text!r} is not a number") from None

    def spec(self) -> AnnotationSpec:
        """The entered annotation.

        Raises
        ------
        InvalidAnnotation
            When the values do not make a valid annotation.
        """
        numbers = {name: self._number(name) for name in NUMBER_FIELDS}
        return AnnotationSpec(label=self.label_edit.text(), note=self.note_edit.toPlainText(),
                              layer=self.layer_box.currentText(), **numbers, **self._kept)

    def problem(self) -> str:
        """Why the values are not accepted ("" when they are)."""
        try:
            self.spec()
        except InvalidAnnotation as exc:
            return str(exc)
        return ""

    def _accept_if_valid(self) -> None:
        problem = self.problem()
        if problem:
            self.error.setText(problem)
            return
        self.accept()
