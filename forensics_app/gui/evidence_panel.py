"""The case browser: the open case and its evidence items with their integrity state and role."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QItemSelectionModel, QSortFilterProxyModel, Qt, Signal
from PySide6.QtGui import (
    QAction,
    QBrush,
    QColor,
    QFont,
    QFontDatabase,
    QStandardItem,
    QStandardItemModel,
)
from PySide6.QtWidgets import (
    QLabel,
    QVBoxLayout,
    QWidget,
)

from forensics_app.gui.snapshots import CaseSummary, EvidenceItem
from forensics_app.gui.tables import record_table

COLUMNS = ("ID", "Name", "Kind", "Size", "SHA-256", "Integrity", "Role")
COL_ROLE = 6
ID_ROLE = Qt.ItemDataRole.UserRole + 1
SORT_ROLE = Qt.ItemDataRole.UserRole + 2
INTEGRITY_COLORS = {
    "verified": QColor(60, 170, 90),
    "mismatch": QColor(220, 60, 60),
    "missing": QColor(220, 60, 60),
    "unverified": QColor(220, 160, 40),
}
REFERENCE_COLOR = QColor(80, 170, 255)
REFERENCE_TAG = "★ reference"
"""Role column text of an item marked as a known genuine reference (questioned items: "questioned")."""


def human_size(n: int) -> str:
    """Bytes as ``"1.2 MiB"``."""
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"


def elide_hash(digest: str) -> str:
    """``"1a2b3c4d…9f8e"``."""
    return digest if len(digest) <= 14 else f"{digest[:8]}…{digest[-4:]}"


class EvidencePanel(QWidget):
    """Case header and evidence table; the current row drives the central viewer.

    The Role column tags the items marked as known genuine references (:data:`REFERENCE_TAG`).
    Actions added with :meth:`add_context_action` make up the table's right-click menu.

    Signals
    -------
    evidence_selected(evidence_id)
        The current evidence item changed (-1 when none).
    """

    evidence_selected = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.items: dict[int, EvidenceItem] = {}
        self._quiet = False
        self.header = QLabel("No case open. File ▸ New case… or Open case…")
        self.header.setWordWrap(True)
        self.header.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.model = QStandardItemModel(0, len(COLUMNS), self)
        self.model.setHorizontalHeaderLabels(list(COLUMNS))
        self.proxy = QSortFilterProxyModel(self)
        self.proxy.setSourceModel(self.model)
        self.proxy.setSortRole(SORT_ROLE)
        self.table = record_table(self.proxy, sort_column=0, stretch_column=1, multi_select=True)
        self.table.selectionModel().currentRowChanged.connect(self._on_current_changed)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.header)
        layout.addWidget(self.table, 1)

    def set_case(self, case: CaseSummary | None) -> None:
        """Show the case header (or the no-case hint)."""
        if case is None:
            self.header.setText("No case open. File ▸ New case… or Open case…")
        else:
            self.header.setText(f"<b>{case.number}</b> — {case.title}<br>"
                                f"<small>examiner {case.examiner} · {case.root}</small>")

    def set_items(self, items: Sequence[EvidenceItem]) -> None:
        """Replace the table's rows, keeping the current evidence item selected."""
        current = self.current_id()
        self.items = {it.id: it for it in items}
        self._quiet = True
        try:
            self.model.removeRows(0, self.model.rowCount())
            for it in items:
                self.model.appendRow(self._row(it))
        finally:
            self._quiet = False
        if current is not None and current in self.items:
            self.select_evidence(current, emit=False)
        elif current is not None:
            self.evidence_selected.emit(-1)

    def _row(self, it: EvidenceItem) -> list[QStandardItem]:
        values = [
            (str(it.id), it.id),
            (f"★\u00a0{it.name}" if it.role == "reference" else it.name, it.name.lower()),
            (it.kind, it.kind),
            (human_size(it.size), it.size),
            (elide_hash(it.sha256), it.sha256),
            (it.integrity, it.integrity),
            (REFERENCE_TAG if it.role == "reference" else it.role, it.role),
        ]
        row = []
        for text, key in values:
            cell = QStandardItem(text)
            cell.setData(it.id, ID_ROLE)
            cell.setData(key, SORT_ROLE)
            cell.setEditable(False)
            row.append(cell)
        row[1].setToolTip(f"{it.name}\nstored copy: {it.path}")
        row[4].setToolTip(f"SHA-256 {it.sha256}\nMD5 {it.md5}")
        row[4].setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        color = INTEGRITY_COLORS.get(it.integrity, QColor(150, 150, 150))
        row[5].setForeground(QBrush(color))
        row[5].setBackground(QBrush(QColor(color.red(), color.green(), color.blue(), 40)))
        row[5].setToolTip({"verified": "stored copy matches its recorded SHA-256",
                           "mismatch": "stored copy no longer matches its recorded SHA-256",
                           "missing": "stored copy is missing from the case folder",
                           }.get(it.integrity, "not verified yet"))
        if it.role == "reference":
            bold = QFont()
            bold.setBold(True)
            for cell in (row[1], row[COL_ROLE]):
                cell.setFont(bold)
            row[COL_ROLE].setForeground(QBrush(REFERENCE_COLOR))
            row[COL_ROLE].setToolTip("Marked as a known genuine reference: questioned recordings are compared "
                                     "with it (Analysis ▸ Compare with reference…)")
        else:
            row[COL_ROLE].setForeground(QBrush(QColor(150, 150, 150)))
            row[COL_ROLE].setToolTip("Under examination (Analysis ▸ Mark as known genuine reference to use it as "
                                     "a reference)")
        return row

    def add_context_action(self, action: QAction | None = None) -> None:
        """Add an action to the table's right-click menu (None adds a separator)."""
        if action is None:
            action = QAction(self.table)
            action.setSeparator(True)
        self.table.setContextMenuPolicy(Qt.ContextMenuPolicy.ActionsContextMenu)
        self.table.addAction(action)

    def current_id(self) -> int | None:
        """Evidence id of the current row."""
        index = self.table.currentIndex()
        if not index.isValid():
            return None
        value = self.proxy.data(index, ID_ROLE)
        return int(value) if value is not None else None

    def selected_ids(self) -> list[int]:
        """Evidence ids of the selected rows (the current one when nothing is selected)."""
        ids = {int(self.proxy.data(i, ID_ROLE)) for i in self.table.selectionModel().selectedRows()}
        if not ids and self.current_id() is not None:
            ids = {self.current_id()}  # type: ignore[arg-type]
        return sorted(ids)

    def row_of(self, evidence_id: int) -> int:
        """Table (view) row of an evidence item, or -1."""
        for row in range(self.proxy.rowCount()):
            if self.proxy.data(self.proxy.index(row, 0), ID_ROLE) == evidence_id:
                return row
        return -1

    def select_evidence(self, evidence_id: int, *, emit: bool = True) -> bool:
        """Make an evidence item the current (and only selected) row."""
        row = self.row_of(evidence_id)
        if row < 0:
            return False
        flags = QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows
        self._quiet = not emit
        try:
            self.table.selectionModel().setCurrentIndex(self.proxy.index(row, 0), flags)
        finally:
            self._quiet = False
        self.table.scrollTo(self.proxy.index(row, 0))
        return True

    def _on_current_changed(self, current: object, _previous: object) -> None:
        if self._quiet:
            return
        eid = self.current_id()
        self.evidence_selected.emit(-1 if eid is None else eid)
