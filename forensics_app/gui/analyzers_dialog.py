"""The Run analyses dialog: the registered analyzers that fit the selected evidence, with checkboxes."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from forensics_app.analysis.registry import AnalyzerInfo


def applicable(analyzers: Iterable[AnalyzerInfo], kinds: Iterable[str]) -> list[AnalyzerInfo]:
    """Analyzers that accept at least one of the media kinds, sorted by id."""
    wanted = set(kinds)
    return sorted((a for a in analyzers if wanted & {m.value for m in a.media}), key=lambda a: a.id)


class AnalyzersDialog(QDialog):
    """Choose analyzers to run on the selected evidence.

    Parameters
    ----------
    analyzers : sequence of AnalyzerInfo
        The registry's analyzers that fit the selected evidence's media kinds.
    evidence_summary : str
        What they will run on, e.g. ``"3 evidence items (audio, image)"``.
    parent : QWidget, optional
        Qt parent.
    """

    def __init__(self, analyzers: Sequence[AnalyzerInfo], *, evidence_summary: str,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Run analyses")
        self.setMinimumSize(560, 360)
        self.analyzers = list(analyzers)
        header = QLabel(f"Run on {evidence_summary}. Each analyzer runs on the items of the kinds it "
                        "examines, with its default parameters.")
        header.setWordWrap(True)
        self.list = QListWidget()
        for info in self.analyzers:
            kinds = ", ".join(sorted(m.value for m in info.media))
            item = QListWidgetItem(f"{info.label}    —    {info.id}  v{info.version}  ({kinds})")
            item.setData(Qt.ItemDataRole.UserRole, info.id)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Checked)
            params = "\n".join(f"  {p.name} = {p.default!r}  {p.description}" for p in info.params)
            model = f"\nmodel SHA-256 {info.model_sha256}" if info.model_sha256 else ""
            item.setToolTip(f"{info.description}{model}" + (f"\nparameters:\n{params}" if params else ""))
            self.list.addItem(item)
        if not self.analyzers:
            header.setText(f"No registered analyzer examines {evidence_summary}.")
        all_on = QPushButton("Select all")
        all_on.clicked.connect(lambda: self._set_all(Qt.CheckState.Checked))
        all_off = QPushButton("Select none")
        all_off.clicked.connect(lambda: self._set_all(Qt.CheckState.Unchecked))
        toggles = QHBoxLayout()
        toggles.addWidget(all_on)
        toggles.addWidget(all_off)
        toggles.addStretch(1)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Run")
        buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(bool(self.analyzers))
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(header)
        layout.addWidget(self.list, 1)
        layout.addLayout(toggles)
        layout.addWidget(buttons)

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

    def chosen_ids(self) -> list[str]:
        """Ids of the checked analyzers."""
        out = []
        for i in range(self.list.count()):
            item = self.list.item(i)
            if item.checkState() == Qt.CheckState.Checked:
                out.append(str(item.data(Qt.ItemDataRole.UserRole)))
        return out
