"""The findings table: every finding of each analyzer's newest run, sortable, double-click to view."""

from __future__ import annotations

import json
from collections.abc import Sequence

from PySide6.QtCore import QModelIndex, QRegularExpression, QSortFilterProxyModel, Qt, Signal
from PySide6.QtGui import QBrush, QStandardItem, QStandardItemModel
from PySide6.QtWidgets import (
    QCheckBox,
    QHBoxLayout,
    QLabel,
    QVBoxLayout,
    QWidget,
)

from forensics_app.gui.snapshots import FindingItem
from forensics_app.gui.tables import record_table
from forensics_app.gui.views.overlays import finding_color

COLUMNS = ("Evidence", "Analyzer", "Label", "FakeLikelihood", "Start", "End", "Details")
COL_EVIDENCE, COL_ANALYZER, COL_LABEL, COL_SCORE, COL_START, COL_END, COL_DETAILS = range(7)
FINDING_ROLE = Qt.ItemDataRole.UserRole + 1
SORT_ROLE = Qt.ItemDataRole.UserRole + 2
EVIDENCE_ROLE = Qt.ItemDataRole.UserRole + 3


def _position(seconds: float | None, frame: int | None) -> tuple[str, float]:
    """Display text and sort key of a start or end (seconds preferred, else frame index)."""
    if seconds is not None:
        return f"{seconds:.3f} s", float(seconds)
    if frame is not None:
        return f"frame {frame}", float(frame)
    return "", -1.0


class FindingsPanel(QWidget):
    """Sortable table of findings; a double-click asks to show the finding in the viewer.

    Signals
    -------
    finding_activated(finding)
        A row was double-clicked (the :class:`FindingItem`).
    """

    finding_activated = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.findings: tuple[FindingItem, ...] = ()
        self.model = QStandardItemModel(0, len(COLUMNS), self)
        self.model.setHorizontalHeaderLabels(list(COLUMNS))
        self.proxy = QSortFilterProxyModel(self)
        self.proxy.setSourceModel(self.model)
        self.proxy.setSortRole(SORT_ROLE)
        self.proxy.setFilterRole(EVIDENCE_ROLE)
        self.proxy.setFilterKeyColumn(COL_EVIDENCE)
        self.table = record_table(self.proxy, sort_column=COL_EVIDENCE, stretch_column=COL_DETAILS,
                                  multi_select=False, word_wrap=False)
        self.table.doubleClicked.connect(self._on_double_clicked)
        self.only_selected = QCheckBox("Selected evidence only")
        self.only_selected.toggled.connect(lambda _on: self._apply_filter())
        self.count = QLabel("")
        bar = QHBoxLayout()
        bar.addWidget(self.only_selected)
        bar.addStretch(1)
        bar.addWidget(self.count)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(bar)
        layout.addWidget(self.table, 1)
        self._evidence_filter: int | None = None

    def set_findings(self, findings: Sequence[FindingItem]) -> None:
        """Replace the rows (the current sort order is kept)."""
        self.findings = tuple(findings)
        self.model.removeRows(0, self.model.rowCount())
        for f in self.findings:
            self.model.appendRow(self._row(f))
        self._apply_filter()

    def _row(self, f: FindingItem) -> list[QStandardItem]:
        start_text, start_key = _position(f.start_s, f.start_frame)
        end_text, end_key = _position(f.end_s, f.end_frame)
        score_text = "" if f.fake_likelihood is None else f"{f.fake_likelihood:.3f}"
        score_key = -1.0 if f.fake_likelihood is None else float(f.fake_likelihood)
        values = [
            (f"#{f.evidence_id} {f.evidence_name}", float(f.evidence_id)),
            (f.analyzer_id, f.analyzer_id),
            (f.label, f.label.lower()),
            (score_text, score_key),
            (start_text, start_key),
            (end_text, end_key),
            (f.details_summary(), f.details_summary()),
        ]
        row = []
        for text, key in values:
            cell = QStandardItem(text)
            cell.setData(f, FINDING_ROLE)
            cell.setData(key, SORT_ROLE)
            cell.setData(str(f.evidence_id), EVIDENCE_ROLE)
            cell.setEditable(False)
            row.append(cell)
        row[COL_ANALYZER].setToolTip(f"{f.analyzer_id} {f.analyzer_version} (run #{f.run_id})")
        row[COL_DETAILS].setToolTip(json.dumps(dict(f.details), indent=2, ensure_ascii=False, default=str))
        if f.fake_likelihood is not None:
            row[COL_SCORE].setForeground(QBrush(finding_color(f.fake_likelihood)))
            row[COL_SCORE].setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return row

    def set_evidence_filter(self, evidence_id: int | None) -> None:
        """The evidence item "Selected evidence only" keeps."""
        self._evidence_filter = evidence_id
        self._apply_filter()

    def _apply_filter(self) -> None:
        if self.only_selected.isChecked() and self._evidence_filter is not None:
            self.proxy.setFilterRegularExpression(QRegularExpression(f"^{self._evidence_filter}$"))
        else:
            self.proxy.setFilterRegularExpression(QRegularExpression())
        shown, total = self.proxy.rowCount(), self.model.rowCount()
        self.count.setText(f"{total} findings" if shown == total else f"{shown} of {total} findings")

    def finding_at(self, row: int) -> FindingItem | None:
        """The finding shown in table row ``row`` (after sorting and filtering)."""
        index = self.proxy.index(row, 0)
        return self.proxy.data(index, FINDING_ROLE) if index.isValid() else None

    def visible_findings(self) -> list[FindingItem]:
        """Findings in the table's current order."""
        return [f for f in (self.finding_at(r) for r in range(self.proxy.rowCount())) if f is not None]

    def sort_by(self, column: int, descending: bool = False) -> None:
        """Sort the table by a column (as clicking its header does)."""
        order = Qt.SortOrder.DescendingOrder if descending else Qt.SortOrder.AscendingOrder
        self.table.sortByColumn(column, order)

    def _on_double_clicked(self, index: QModelIndex) -> None:
        finding = self.proxy.data(index, FINDING_ROLE)
        if finding is not None:
            self.finding_activated.emit(finding)
