"""The parameter form of the Run analyses dialog: one analyzer's :class:`Param` list as editable fields.

Each parameter gets the editor its type calls for: a spin box for a number with both bounds
(QSpinBox for int, QDoubleSpinBox for float), a check box for a bool, a combo box for a value with
choices, a line edit otherwise (strings, and numbers without both bounds, whose text is converted
by :meth:`Param.coerce`). A string parameter whose name ends in ``_csv``, ``_path`` or ``_file``
names an input file: it gets a "…" button that opens a file chooser, and a non-empty value must
name an existing file or folder.

The panel keeps the entered values of every analyzer it has been given (not only the one shown),
so an investigator can move between analyzers without losing edits. The values it keeps are the
raw entries (a line edit's text, a spin box's number); :meth:`AnalyzerParamsPanel.problems` checks
them with :meth:`Param.coerce` and :meth:`AnalyzerParamsPanel.overrides` returns them converted.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

from PySide6.QtCore import QLocale, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QStackedWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from forensics_app.analysis.registry import AnalyzerInfo, Param
from forensics_app.domain.errors import AnalyzerError

FILE_SUFFIXES = ("_csv", "_path", "_file")
"""A string parameter whose name ends in one of these names an input file."""

INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1
MAX_DECIMALS = 15
ERROR_STYLE = "color: #e05050"


def is_file_param(param: Param) -> bool:
    """Whether ``param`` is a string naming an input file (gets a file chooser)."""
    return isinstance(param.default, str) and not param.choices and param.name.endswith(FILE_SUFFIXES)


def param_problem(param: Param, value: Any) -> str:
    """What is wrong with ``value`` for ``param`` ("" when it is valid).

    The value must pass :meth:`Param.coerce`; a non-empty file parameter must also name an
    existing path (relative paths are taken from the working folder, as the analyzers do).
    """
    try:
        out = param.coerce(value)
    except AnalyzerError as exc:
        return str(exc)
    if is_file_param(param) and str(out).strip() and not Path(str(out).strip()).exists():
        return f"parameter {param.name!r}: no file {str(out).strip()!r}"
    return ""


def _decimals(param: Param) -> int:
    """Decimals a float spin box needs: those of the default and bounds, plus three, at most 15."""
    needed = 0
    for v in (param.default, param.minimum, param.maximum):
        if v is not None and float(v) != 0.0:
            exponent = Decimal(repr(float(v))).as_tuple().exponent
            needed = max(needed, -int(exponent)) if isinstance(exponent, int) else needed
    return min(max(needed + 3, 4), MAX_DECIMALS)


class _FloatSpinBox(QDoubleSpinBox):
    """A QDoubleSpinBox that shows no trailing zeros (``0.01``, not ``0.010000000000``)."""

    def textFromValue(self, value: float) -> str:  # noqa: N802 - Qt override
        text = f"{value:.{self.decimals()}f}"
        return text.rstrip("0").rstrip(".") if "." in text else text


def _editor_kind(param: Param) -> str:
    """``"bool"``, ``"choice"``, ``"int"``, ``"float"`` (spin boxes) or ``"text"`` (a line edit)."""
    if isinstance(param.default, bool):
        return "bool"
    if param.choices:
        return "choice"
    bounded = param.minimum is not None and param.maximum is not None
    if isinstance(param.default, int) and bounded and INT32_MIN <= param.minimum <= param.maximum <= INT32_MAX:
        return "int"
    if isinstance(param.default, float) and bounded:
        return "float"
    return "text"


def _text_of(value: Any) -> str:
    return repr(value) if isinstance(value, float) else str(value)


class AnalyzerParamsPanel(QWidget):
    """Edit the parameters of the analyzers in the Run analyses dialog, one analyzer at a time.

    Parameters
    ----------
    analyzers : sequence of AnalyzerInfo
        The analyzers whose parameters can be edited.
    parent : QWidget, optional
        Qt parent.

    Attributes
    ----------
    choose_path : callable
        ``choose_path(param, current) -> str`` asks for a file ("" when cancelled); the "…"
        buttons call it (a QFileDialog by default; tests replace it).
    """

    changed = Signal(str)
    """An analyzer's values changed (its id)."""

    def __init__(self, analyzers: Sequence[AnalyzerInfo], *, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._infos = {a.id: a for a in analyzers}
        self._values: dict[str, dict[str, Any]] = {
            a.id: {p.name: p.default for p in a.params} for a in analyzers
        }
        self._pages: dict[str, QWidget] = {}
        self._editors: dict[str, dict[str, QWidget]] = {}
        self._names: dict[str, dict[str, QLabel]] = {}
        self._errors: dict[str, dict[str, QLabel]] = {}
        self._path_buttons: dict[str, dict[str, QToolButton]] = {}
        self._current: str | None = None
        self.choose_path: Callable[[Param, str], str] = self._choose_path_dialog

        self.title = QLabel("Select an analyzer to see its parameters.")
        self.title.setWordWrap(True)
        self.stack = QStackedWidget()
        self._empty = QLabel("")
        self.stack.addWidget(self._empty)
        self.defaults_button = QPushButton("Defaults")
        self.defaults_button.setToolTip("Reset this analyzer's parameters to their defaults")
        self.defaults_button.clicked.connect(lambda: self.reset(self._current) if self._current else None)
        self.defaults_button.setEnabled(False)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(self.defaults_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.title)
        layout.addWidget(self.stack, 1)
        layout.addLayout(row)

    # ------------------------------------------------------------------ state

    @property
    def current_id(self) -> str | None:
        """The analyzer whose form is shown (None when none is)."""
        return self._current

    def show_analyzer(self, analyzer_id: str | None) -> None:
        """Show the form of ``analyzer_id`` (None or an unknown id: show nothing)."""
        info = self._infos.get(analyzer_id or "")
        self._current = info.id if info else None
        self.defaults_button.setEnabled(bool(info and info.params))
        if info is None:
            self.title.setText("Select an analyzer to see its parameters.")
            self.stack.setCurrentWidget(self._empty)
            return
        self.title.setText(f"<b>{info.label}</b> ({info.id} v{info.version})"
                           + ("" if info.params else "<br>This analyzer has no parameters."))
        if info.id not in self._pages:
            self._pages[info.id] = self._build_page(info)
            self.stack.addWidget(self._pages[info.id])
        self.stack.setCurrentWidget(self._pages[info.id])

    def editor(self, name: str, *, analyzer_id: str | None = None) -> QWidget:
        """The editor of parameter ``name`` (of the shown analyzer unless ``analyzer_id`` is given)."""
        aid = self._page_for(analyzer_id)
        return self._editors[aid][name]

    def path_button(self, name: str, *, analyzer_id: str | None = None) -> QToolButton | None:
        """The "…" file-chooser button of parameter ``name`` (None for non-file parameters)."""
        aid = self._page_for(analyzer_id)
        return self._path_buttons[aid].get(name)

    def error_text(self, name: str, *, analyzer_id: str | None = None) -> str:
        """The inline error shown under parameter ``name`` ("" when none)."""
        aid = self._page_for(analyzer_id)
        return self._errors[aid][name].text()

    def values(self, analyzer_id: str) -> dict[str, Any]:
        """The raw entered values of an analyzer (a line edit's text, a spin box's number), by name."""
        return dict(self._values[analyzer_id])

    def set_value(self, analyzer_id: str, name: str, value: Any) -> None:
        """Enter ``value`` as if typed: kept as given (not clamped by the editor), then validated.

        Raises
        ------
        KeyError
            If the analyzer or parameter is unknown.
        """
        if name not in self._values[analyzer_id]:
            raise KeyError(f"{analyzer_id} has no parameter {name!r}")
        self._values[analyzer_id][name] = value
        if analyzer_id in self._pages:
            param = self._param(analyzer_id, name)
            self._show_value(self._editors[analyzer_id][name], param, value)
        self._after_change(analyzer_id)

    def reset(self, analyzer_id: str) -> None:
        """Reset one analyzer's parameters to their defaults."""
        info = self._infos[analyzer_id]
        self._values[analyzer_id] = {p.name: p.default for p in info.params}
        if analyzer_id in self._pages:
            for p in info.params:
                self._show_value(self._editors[analyzer_id][p.name], p, p.default)
        self._after_change(analyzer_id)

    def problems(self, analyzer_id: str) -> dict[str, str]:
        """Parameter name -> what is wrong with its entered value (empty when all are valid)."""
        info = self._infos[analyzer_id]
        out = {}
        for p in info.params:
            message = param_problem(p, self._values[analyzer_id][p.name])
            if message:
                out[p.name] = message
        return out

    def changed_names(self, analyzer_id: str) -> list[str]:
        """Names of the parameters whose entered value is not the default (invalid ones included)."""
        out = []
        for p in self._infos[analyzer_id].params:
            try:
                if p.coerce(self._values[analyzer_id][p.name]) != p.default:
                    out.append(p.name)
            except AnalyzerError:
                out.append(p.name)
        return out

    def overrides(self, analyzer_id: str) -> dict[str, Any]:
        """The analyzer's entered values that differ from the defaults, converted by :meth:`Param.coerce`.

        Raises
        ------
        AnalyzerError
            If a value is invalid (see :meth:`problems`).
        """
        problems = self.problems(analyzer_id)
        if problems:
            raise AnalyzerError(f"{analyzer_id}: " + "; ".join(problems.values()))
        info = self._infos[analyzer_id]
        resolved = info.resolve_params(self._values[analyzer_id])
        defaults = {p.name: p.default for p in info.params}
        return {name: v for name, v in resolved.items() if v != defaults[name]}

    # ------------------------------------------------------------------ building

    def _page_for(self, analyzer_id: str | None) -> str:
        aid = analyzer_id or self._current
        if aid is None:
            raise KeyError("no analyzer is shown")
        if aid not in self._pages:
            self._pages[aid] = self._build_page(self._infos[aid])
            self.stack.addWidget(self._pages[aid])
        return aid

    def _param(self, analyzer_id: str, name: str) -> Param:
        return next(p for p in self._infos[analyzer_id].params if p.name == name)

    def _build_page(self, info: AnalyzerInfo) -> QWidget:
        form_widget = QWidget()
        form = QFormLayout(form_widget)
        self._editors[info.id], self._names[info.id] = {}, {}
        self._errors[info.id], self._path_buttons[info.id] = {}, {}
        for p in info.params:
            editor = self._make_editor(info.id, p)
            self._editors[info.id][p.name] = editor
            field = QWidget()
            column = QVBoxLayout(field)
            column.setContentsMargins(0, 0, 0, 0)
            column.setSpacing(1)
            if is_file_param(p):
                button = QToolButton()
                button.setText("…")
                button.setToolTip("Choose a file")
                button.clicked.connect(lambda _=False, a=info.id, q=p: self._on_choose_path(a, q))
                self._path_buttons[info.id][p.name] = button
                line = QHBoxLayout()
                line.addWidget(editor, 1)
                line.addWidget(button)
                column.addLayout(line)
            else:
                column.addWidget(editor)
            bounds = ""
            if p.minimum is not None or p.maximum is not None:
                bounds = f"  [{'' if p.minimum is None else p.minimum} … {'' if p.maximum is None else p.maximum}]"
            note = QLabel(f"{p.description}{bounds}  (default {p.default!r})")
            note.setWordWrap(True)
            note.setStyleSheet("color: gray; font-size: small")
            column.addWidget(note)
            error = QLabel("")
            error.setWordWrap(True)
            error.setStyleSheet(ERROR_STYLE)
            error.setVisible(False)
            column.addWidget(error)
            self._errors[info.id][p.name] = error
            name = QLabel(p.name)
            name.setToolTip(p.description)
            self._names[info.id][p.name] = name
            form.addRow(name, field)
            editor.setToolTip(p.description)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setWidget(form_widget)
        self._refresh_marks(info.id)
        return scroll

    def _make_editor(self, analyzer_id: str, p: Param) -> QWidget:
        kind = _editor_kind(p)
        value = self._values[analyzer_id][p.name]

        def store(v: Any, a: str = analyzer_id, n: str = p.name) -> None:
            self._values[a][n] = v
            self._after_change(a)

        editor: QWidget
        if kind == "bool":
            editor = QCheckBox()
            editor.toggled.connect(lambda on: store(bool(on)))
        elif kind == "choice":
            editor = QComboBox()
            for c in p.choices:
                editor.addItem(str(c))
            editor.currentIndexChanged.connect(lambda i, q=p: store(q.choices[i]) if 0 <= i < len(q.choices) else None)
        elif kind == "int":
            editor = QSpinBox()
            editor.setRange(int(p.minimum), int(p.maximum))  # type: ignore[arg-type]
            editor.setStepType(QAbstractSpinBox.StepType.AdaptiveDecimalStepType)
            editor.valueChanged.connect(lambda v: store(int(v)))
        elif kind == "float":
            editor = _FloatSpinBox()
            editor.setLocale(QLocale.c())  # one decimal point for every examiner's locale
            editor.setDecimals(_decimals(p))
            editor.setRange(float(p.minimum), float(p.maximum))  # type: ignore[arg-type]
            editor.setStepType(QAbstractSpinBox.StepType.AdaptiveDecimalStepType)
            editor.valueChanged.connect(lambda v: store(float(v)))
        else:
            editor = QLineEdit()
            if is_file_param(p):
                editor.setPlaceholderText("none")
            editor.textChanged.connect(lambda text: store(text))
        editor.setObjectName(f"param:{p.name}")
        self._show_value(editor, p, value)
        return editor

    @staticmethod
    def _show_value(editor: QWidget, p: Param, value: Any) -> None:
        """Put ``value`` into ``editor`` without emitting its change signal (the caller stored it)."""
        blocked = editor.blockSignals(True)
        try:
            if isinstance(editor, QCheckBox):
                try:
                    editor.setChecked(bool(p.coerce(value)))
                except AnalyzerError:
                    pass
            elif isinstance(editor, QComboBox):
                if value in p.choices:
                    editor.setCurrentIndex(p.choices.index(value))
            elif isinstance(editor, (QSpinBox, QDoubleSpinBox)):
                try:
                    editor.setValue(float(value) if isinstance(editor, QDoubleSpinBox) else int(value))
                except (TypeError, ValueError):
                    pass
            elif isinstance(editor, QLineEdit):
                editor.setText(_text_of(value))
        finally:
            editor.blockSignals(blocked)

    # ------------------------------------------------------------------ reactions

    def _after_change(self, analyzer_id: str) -> None:
        if analyzer_id in self._pages:
            self._refresh_marks(analyzer_id)
        self.changed.emit(analyzer_id)

    def _refresh_marks(self, analyzer_id: str) -> None:
        """Inline errors under invalid fields; changed parameters' names in bold."""
        problems = self.problems(analyzer_id)
        changed = set(self.changed_names(analyzer_id))
        for p in self._infos[analyzer_id].params:
            error = self._errors[analyzer_id][p.name]
            error.setText(problems.get(p.name, ""))
            error.setVisible(p.name in problems)
            font = self._names[analyzer_id][p.name].font()
            font.setBold(p.name in changed)
            self._names[analyzer_id][p.name].setFont(font)

    def _on_choose_path(self, analyzer_id: str, p: Param) -> None:
        chosen = self.choose_path(p, str(self._values[analyzer_id][p.name]))
        if chosen:
            self.set_value(analyzer_id, p.name, chosen)

    def _choose_path_dialog(self, p: Param, current: str) -> str:
        suffix = p.name.rsplit("_", 1)[-1]
        filters = "CSV files (*.csv);;All files (*)" if suffix == "csv" else "All files (*)"
        start = str(Path(current).parent) if current.strip() else ""
        path, _ = QFileDialog.getOpenFileName(self, f"{p.name}: {p.description}", start, filters)
        return str(Path(path).resolve()) if path else ""
