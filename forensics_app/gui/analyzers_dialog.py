"""The Run analyses dialog: the registered analyzers that fit the selected evidence, and their parameters.

The left list holds the analyzers with checkboxes (checked ones run); selecting one shows its
parameters in an :class:`~forensics_app.gui.analyzer_params_panel.AnalyzerParamsPanel` on the
right. Edits are kept per analyzer while the dialog is open. The dialog's answer is
:meth:`AnalyzersDialog.chosen_ids` and :meth:`AnalyzersDialog.chosen_params`: for each chosen
analyzer only the values that differ from its defaults (``runner.make_spec`` fills in the rest, and
the run records every resolved value), so the audit trail's ``analysis.queued`` entry and the jobs
panel show at a glance what the examiner changed.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from forensics_app.analysis.registry import AnalyzerInfo
from forensics_app.gui.analyzer_params_panel import ERROR_STYLE, AnalyzerParamsPanel


def applicable(analyzers: Iterable[AnalyzerInfo], kinds: Iterable[str]) -> list[AnalyzerInfo]:
    """Analyzers that accept at least one of the media kinds, sorted by id."""
    wanted = set(kinds)
    return sorted((a for a in analyzers if wanted & {m.value for m in a.media}), key=lambda a: a.id)


def _item_text(info: AnalyzerInfo, n_changed: int) -> str:
    kinds = ", ".join(sorted(m.value for m in info.media))
    changed = f"    ·  {n_changed} parameter(s) changed" if n_changed else ""
    return f"{info.label}    —    {info.id}  v{info.version}  ({kinds}){changed}"


class AnalyzersDialog(QDialog):
    """Choose analyzers to run on the selected evidence, and their parameters.

    Parameters
    ----------
    analyzers : sequence of AnalyzerInfo
        The registry's analyzers that fit the selected evidence's media kinds.
    evidence_summary : str
        What they will run on, e.g. ``"3 evidence items (audio, image)"``.
    parent : QWidget, optional
        Qt parent.

    Attributes
    ----------
    list : QListWidget
        The analyzers (checkable; the selected one's parameters are shown).
    params_panel : AnalyzerParamsPanel
        The parameter form.
    error : QLabel
        The first problem among the checked analyzers' parameters ("" when none).
    """

    def __init__(self, analyzers: Sequence[AnalyzerInfo], *, evidence_summary: str,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Run analyses")
        self.setMinimumSize(900, 520)
        self.analyzers = list(analyzers)
        self._infos = {a.id: a for a in self.analyzers}
        header = QLabel(f"Run on {evidence_summary}. Each analyzer runs on the items of the kinds it "
                        "examines. Select an analyzer to see and change its parameters; changed ones "
                        "are shown in bold and recorded with the run.")
        header.setWordWrap(True)
        self.list = QListWidget()
        for info in self.analyzers:
            item = QListWidgetItem(_item_text(info, 0))
            item.setData(Qt.ItemDataRole.UserRole, info.id)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Checked)
            params = "\n".join(f"  {p.name} = {p.default!r}  {p.description}" for p in info.params)
            model = f"\nmodel SHA-256 {info.model_sha256}" if info.model_sha256 else ""
            item.setToolTip(f"{info.description}{model}" + (f"\nparameters:\n{params}" if params else ""))
            self.list.addItem(item)
        if not self.analyzers:
            header.setText(f"No registered analyzer examines {evidence_summary}.")
        self.params_panel = AnalyzerParamsPanel(self.analyzers)
        all_on = QPushButton("Select all")
        all_on.clicked.connect(lambda: self._set_all(Qt.CheckState.Checked))
        all_off = QPushButton("Select none")
        all_off.clicked.connect(lambda: self._set_all(Qt.CheckState.Unchecked))
        toggles = QHBoxLayout()
        toggles.addWidget(all_on)
        toggles.addWidget(all_off)
        toggles.addStretch(1)
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addWidget(self.list, 1)
        left_layout.addLayout(toggles)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(left)
        splitter.addWidget(self.params_panel)
        splitter.setStretchFactor(0, 2)
        splitter.setStretchFactor(1, 3)
        splitter.setSizes([360, 540])
        self.error = QLabel("")
        self.error.setWordWrap(True)
        self.error.setStyleSheet(ERROR_STYLE)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.ok_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok_button.setText("Run")
        self.buttons.accepted.connect(self._accept_if_valid)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(header)
        layout.addWidget(splitter, 1)
        layout.addWidget(self.error)
        layout.addWidget(self.buttons)

        self.list.currentItemChanged.connect(self._on_current)
        self.list.itemChanged.connect(lambda _item: self._update_state())
        self.params_panel.changed.connect(self._on_params_changed)
        if self.analyzers:
            self.list.setCurrentRow(0)
        self._update_state()

    # ------------------------------------------------------------------ choice

    def _set_all(self, state: Qt.CheckState) -> None:
        for i in range(self.list.count()):
            self.list.item(i).setCheckState(state)

    def set_checked(self, analyzer_ids: Iterable[str]) -> None:
        """Check exactly these analyzers."""
        wanted = set(analyzer_ids)
        for i in range(self.list.count()):
            item = self.list.item(i)
            on = item.data(Qt.ItemDataRole.UserRole) in wanted
            item.setCheckState(Qt.CheckState.Checked if on else Qt.CheckState.Unchecked)

    def select(self, analyzer_id: str) -> None:
        """Make ``analyzer_id`` the current analyzer (its parameters are shown)."""
        for i in range(self.list.count()):
            if self.list.item(i).data(Qt.ItemDataRole.UserRole) == analyzer_id:
                self.list.setCurrentRow(i)
                return
        raise KeyError(f"{analyzer_id!r} is not offered by this dialog")

    def chosen_ids(self) -> list[str]:
        """Ids of the checked analyzers."""
        out = []
        for i in range(self.list.count()):
            item = self.list.item(i)
            if item.checkState() == Qt.CheckState.Checked:
                out.append(str(item.data(Qt.ItemDataRole.UserRole)))
        return out

    def chosen_params(self) -> dict[str, dict[str, Any]]:
        """Analyzer id -> its parameters that differ from the defaults, for each checked analyzer.

        The values are converted by ``Param.coerce`` (a number typed as text comes back a number).
        An analyzer run with its defaults maps to ``{}``. Pass the result to
        ``MainWindow.run_analyses(..., params=...)`` or ``runner.make_spec(id, params[id])``.

        Raises
        ------
        AnalyzerError
            If a checked analyzer's value is invalid (:meth:`problem` says which; the Run button
            is disabled meanwhile).
        """
        return {aid: self.params_panel.overrides(aid) for aid in self.chosen_ids()}

    def problem(self) -> str:
        """The first invalid parameter among the checked analyzers ("" when all are valid)."""
        for aid in self.chosen_ids():
            problems = self.params_panel.problems(aid)
            if problems:
                return f"{aid}: {next(iter(problems.values()))}"
        return ""

    # ------------------------------------------------------------------ reactions

    def _on_current(self, current: QListWidgetItem | None, _previous: QListWidgetItem | None) -> None:
        self.params_panel.show_analyzer(None if current is None else str(current.data(Qt.ItemDataRole.UserRole)))

    def _on_params_changed(self, analyzer_id: str) -> None:
        for i in range(self.list.count()):
            item = self.list.item(i)
            if item.data(Qt.ItemDataRole.UserRole) == analyzer_id:
                n = len(self.params_panel.changed_names(analyzer_id))
                blocked = self.list.blockSignals(True)
                item.setText(_item_text(self._infos[analyzer_id], n))
                self.list.blockSignals(blocked)
        self._update_state()

    def _update_state(self) -> None:
        problem = self.problem()
        self.error.setText(problem)
        self.ok_button.setEnabled(bool(self.analyzers) and not problem)

    def _accept_if_valid(self) -> None:
        self._update_state()
        if self.problem():
            return
        self.accept()
