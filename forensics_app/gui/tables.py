"""The read-only, sortable record tables the panels share (evidence, findings, annotations)."""

from __future__ import annotations

from PySide6.QtCore import QAbstractItemModel, Qt
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableView


def record_table(
    model: QAbstractItemModel, *, sort_column: int, stretch_column: int, multi_select: bool,
    word_wrap: bool = True,
) -> QTableView:
    """A table of rows that are selected whole and never edited in place.

    Parameters
    ----------
    model : QAbstractItemModel
        Usually a sort/filter proxy.
    sort_column : int
        Column sorted ascending at first.
    stretch_column : int
        Column that takes the remaining width; the others fit their contents.
    multi_select : bool
        Extended (Shift/Ctrl) selection instead of a single row.
    word_wrap : bool
        Whether cell text wraps.
    """
    table = QTableView()
    table.setModel(model)
    table.setSortingEnabled(True)
    table.sortByColumn(sort_column, Qt.SortOrder.AscendingOrder)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection if multi_select
                           else QAbstractItemView.SelectionMode.SingleSelection)
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.verticalHeader().hide()
    table.setAlternatingRowColors(True)
    table.setWordWrap(word_wrap)
    header = table.horizontalHeader()
    header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    header.setSectionResizeMode(stretch_column, QHeaderView.ResizeMode.Stretch)
    return table
