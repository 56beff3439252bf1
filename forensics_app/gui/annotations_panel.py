"""The annotations dock: every annotation of the open case, filtered by layer and evidence, with edit,
delete, export of all layers and import.

All store work (reads, edits, deletions, export, import) runs on the
:class:`~forensics_app.gui.workers.WorkerPool`; the table shows frozen
:class:`~forensics_app.gui.snapshots.AnnotationItem` copies.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from PySide6.QtCore import (
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
    Signal,
)
from PySide6.QtGui import QKeySequence, QShortcut, QStandardItem, QStandardItemModel
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from forensics_app.domain.jobs import ProgressToken
from forensics_app.gui.annotation_dialog import AnnotationDialog, spec_values
from forensics_app.gui.snapshots import (
    AnnotationItem,
    AnnotationsSnapshot,
    read_annotations_snapshot,
)
from forensics_app.gui.tables import record_table
from forensics_app.gui.workers import WorkerPool
from forensics_app.store import annotation_io
from forensics_app.store import annotations as annotation_store
from forensics_app.store.annotations import DEFAULT_LAYER, AnnotationSpec
from forensics_app.store.case import CaseStore

COLUMNS = ("Evidence", "Layer", "Label", "Time", "Band", "Note", "Author", "Created")
COL_EVIDENCE, COL_LAYER, COL_LABEL, COL_TIME, COL_BAND, COL_NOTE, COL_AUTHOR, COL_CREATED = range(8)
ITEM_ROLE = Qt.ItemDataRole.UserRole + 1
SORT_ROLE = Qt.ItemDataRole.UserRole + 2
ALL_LAYERS = "All layers"
FILE_FILTERS = "CSV (*.csv);;JSON (*.json)"


def position_text(item: AnnotationItem) -> tuple[str, float]:
    """Display text and sort key of where an annotation is (time, frames or region)."""
    if item.start_s is not None:
        return f"{item.start_s:.3f} – {item.end_s:.3f} s", float(item.start_s)
    if item.start_frame is not None:
        return f"frames {item.start_frame} – {item.end_frame}", float(item.start_frame)
    if item.region:
        r = item.region
        return f"{r['width']}×{r['height']} px at ({r['x']}, {r['y']})", -1.0
    return "", -2.0


def band_text(item: AnnotationItem) -> tuple[str, float]:
    """Display text and sort key of an annotation's frequency band."""
    if item.low_hz is None:
        return "", -1.0
    return f"{item.low_hz:.6g} – {item.high_hz:.6g} Hz", float(item.low_hz)


class _Filter(QSortFilterProxyModel):
    """Keeps the rows of one layer and/or one evidence item."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.layer: str | None = None
        self.evidence_id: int | None = None

    def set_filter(self, *, layer: str | None, evidence_id: int | None) -> None:
        self.beginFilterChange()
        self.layer, self.evidence_id = layer, evidence_id
        self.endFilterChange(QSortFilterProxyModel.Direction.Rows)

    def filterAcceptsRow(self, source_row: int, source_parent: QModelIndex | QPersistentModelIndex) -> bool:  # noqa: N802
        item = self.sourceModel().index(source_row, 0, source_parent).data(ITEM_ROLE)
        if item is None:
            return False
        if self.layer is not None and item.layer != self.layer:
            return False
        return self.evidence_id is None or item.evidence_id == self.evidence_id


class AnnotationsPanel(QWidget):
    """Table of the open case's annotations with layer and evidence filters, edit, delete, export, import.

    Parameters
    ----------
    pool : WorkerPool
        Runs every store read and write.
    examiner : str
        Who edits, deletes, exports and imports (the audit trail's examiner).
    parent : QWidget, optional
        Qt parent.

    Signals
    -------
    annotations_changed(items)
        The annotations were reloaded (a tuple of every :class:`AnnotationItem` of the case).
    annotation_activated(item)
        A row was double-clicked (the :class:`AnnotationItem`).
    notified(level, text)
        Something to tell the user (``"info"``, ``"warning"`` or ``"error"``).
    exported(result)
        An export finished (:class:`~forensics_app.store.annotation_io.ExportResult`).
    imported(result)
        An import finished (:class:`~forensics_app.store.annotation_io.ImportResult`).
    """

    annotations_changed = Signal(object)
    annotation_activated = Signal(object)
    notified = Signal(str, str)
    exported = Signal(object)
    imported = Signal(object)

    def __init__(self, *, pool: WorkerPool, examiner: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.pool = pool
        self.examiner = examiner
        self.store: CaseStore | None = None
        self.snapshot = AnnotationsSnapshot(items=())
        self._jobs: set[str] = set()
        self._reload_generation = 0
        self._evidence_filter: int | None = None
        self._select_after_reload: int | None = None

        self.model = QStandardItemModel(0, len(COLUMNS), self)
        self.model.setHorizontalHeaderLabels(list(COLUMNS))
        self.proxy = _Filter(self)
        self.proxy.setSourceModel(self.model)
        self.proxy.setSortRole(SORT_ROLE)
        self.table = record_table(self.proxy, sort_column=COL_TIME, stretch_column=COL_NOTE, multi_select=True,
                                  word_wrap=False)
        self.table.doubleClicked.connect(self._on_double_clicked)
        self.table.selectionModel().selectionChanged.connect(lambda *_: self._update_buttons())

        self.layer_box = QComboBox()
        self.layer_box.addItem(ALL_LAYERS)
        self.layer_box.setMinimumContentsLength(12)
        self.layer_box.currentTextChanged.connect(lambda _t: self._apply_filter())
        self.only_selected = QCheckBox("Selected evidence only")
        self.only_selected.toggled.connect(lambda _on: self._apply_filter())
        self.edit_button = QPushButton("Edit…")
        self.edit_button.setToolTip("Edit the selected annotation (F2)")
        self.edit_button.clicked.connect(self.edit_selected)
        self.delete_button = QPushButton("Delete…")
        self.delete_button.setToolTip("Delete the selected annotations (Del)")
        self.delete_button.clicked.connect(self.delete_selected)
        self.export_button = QPushButton("Export…")
        self.export_button.setToolTip("Export every layer to CSV or JSON")
        self.export_button.clicked.connect(self.export_dialog)
        self.import_button = QPushButton("Import…")
        self.import_button.setToolTip("Import annotations from a CSV or JSON export")
        self.import_button.clicked.connect(self.import_dialog)
        self.count = QLabel("")
        self.status = QLabel("")
        self.status.setWordWrap(True)
        bar = QHBoxLayout()
        bar.addWidget(QLabel("Layer"))
        bar.addWidget(self.layer_box)
        bar.addWidget(self.only_selected)
        bar.addStretch(1)
        bar.addWidget(self.count)
        for button in (self.edit_button, self.delete_button, self.export_button, self.import_button):
            bar.addWidget(button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(bar)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.status)
        for keys, slot in ((QKeySequence.StandardKey.Delete, self.delete_selected),
                           (QKeySequence(Qt.Key.Key_F2), self.edit_selected)):
            shortcut = QShortcut(QKeySequence(keys), self.table)
            shortcut.setContext(Qt.ShortcutContext.WidgetShortcut)
            shortcut.activated.connect(slot)
        self._update_buttons()

    # ----------------------------------------------------------------- state

    @property
    def items(self) -> tuple[AnnotationItem, ...]:
        """Every annotation of the case (unfiltered)."""
        return self.snapshot.items

    @property
    def layers(self) -> tuple[str, ...]:
        """Layer names in use."""
        return self.snapshot.layers

    def is_busy(self) -> bool:
        """Whether a read or write of this panel is still running."""
        return bool(self._jobs)

    def set_store(self, store: CaseStore | None) -> None:
        """Show another case's annotations (None: no case)."""
        self.store = store
        self._show(AnnotationsSnapshot(items=()))
        self.status.setText("")
        if store is not None:
            self.reload()

    def set_evidence_filter(self, evidence_id: int | None) -> None:
        """The evidence item that "Selected evidence only" keeps."""
        self._evidence_filter = evidence_id
        self._apply_filter()

    def set_layer_filter(self, layer: str | None) -> None:
        """Show one layer (None: all layers)."""
        self.layer_box.setCurrentText(ALL_LAYERS if layer is None else layer)

    # ------------------------------------------------------------------ jobs

    def _submit(self, name: str, work: Callable[[CaseStore], Any], on_done: Callable[[Any], None],
                *, failure: str) -> str | None:
        store = self.store
        if store is None:
            self._report("warning", "Open a case first.")
            return None
        key = self.pool.unique_key(f"annotations-{name}")
        self._jobs.add(key)

        def job(progress: ProgressToken) -> Any:
            progress.check()
            return work(store)

        def finished(result: Any) -> None:
            self._jobs.discard(key)
            if self.store is store:
                on_done(result)

        def failed(message: str, tb: str) -> None:
            self._jobs.discard(key)
            if self.store is store:
                self._report("error", f"{failure}: {message}")

        self.pool.submit(key, job, on_finished=finished, on_failed=failed,
                         on_cancelled=lambda: self._jobs.discard(key), owner=self, interactive=True)
        return key

    def reload(self) -> str | None:
        """Re-read the annotations in the background. Returns the job key."""
        self._reload_generation += 1
        generation = self._reload_generation

        def done(snap: AnnotationsSnapshot) -> None:
            if generation == self._reload_generation:
                self._show(snap)

        return self._submit("reload", read_annotations_snapshot, done, failure="The annotations could not be read")

    def add_annotation(self, evidence_id: int, spec: AnnotationSpec) -> str | None:
        """Store a new annotation by the examiner, then reload and select it. Returns the job key."""
        examiner = self.examiner

        def work(store: CaseStore) -> int:
            return annotation_store.add_annotation(store, evidence_id=evidence_id, spec=spec, author=examiner)

        def done(annotation_id: int) -> None:
            self._select_after_reload = annotation_id
            self._report("info", f"annotation #{annotation_id} '{spec.label}' added to layer '{spec.layer}'")
            self.reload()

        return self._submit("add", work, done, failure="The annotation could not be added")

    def update_annotation(self, annotation_id: int, spec: AnnotationSpec) -> str | None:
        """Replace an annotation's content (audited), then reload. Returns the job key."""
        examiner = self.examiner

        def work(store: CaseStore) -> int:
            annotation_store.update_annotation(store, annotation_id=annotation_id, spec=spec, author=examiner)
            return annotation_id

        def done(_: int) -> None:
            self._select_after_reload = annotation_id
            self._report("info", f"annotation #{annotation_id} updated")
            self.reload()

        return self._submit("update", work, done, failure=f"Annotation #{annotation_id} could not be updated")

    def delete_annotations(self, annotation_ids: Sequence[int]) -> str | None:
        """Delete annotations (one audit event each, one transaction each), then reload."""
        ids, examiner = list(annotation_ids), self.examiner

        def work(store: CaseStore) -> int:
            for annotation_id in ids:
                annotation_store.delete_annotation(store, annotation_id=annotation_id, author=examiner)
            return len(ids)

        def done(n: int) -> None:
            self._report("info", f"{n} annotation(s) deleted")
            self.reload()

        return self._submit("delete", work, done, failure="The annotations could not be deleted")

    def export_annotations(self, out: Path, *, evidence_id: int | None = None,
                           layers: Sequence[str] | None = None) -> str | None:
        """Export (all layers by default) to ``out`` (.csv or .json) in the background."""
        examiner = self.examiner

        def work(store: CaseStore) -> annotation_io.ExportResult:
            return annotation_io.export_annotations(store, out=Path(out), examiner=examiner,
                                                    evidence_id=evidence_id, layers=layers)

        def done(result: annotation_io.ExportResult) -> None:
            self._report("info", f"{result.n_annotations} annotation(s) in {len(result.layers)} layer(s) "
                         f"exported to {result.path.name} (SHA-256 {result.sha256[:16]}…)")
            self.exported.emit(result)

        return self._submit("export", work, done, failure="The annotations could not be exported")

    def import_annotations(self, path: Path) -> str | None:
        """Import a CSV or JSON export (all or nothing) in the background, then reload."""
        examiner = self.examiner

        def work(store: CaseStore) -> annotation_io.ImportResult:
            return annotation_io.import_annotations(store, path=Path(path), examiner=examiner)

        def done(result: annotation_io.ImportResult) -> None:
            self._report("info", f"imported {result.n_imported} of {result.n_rows} annotation(s) from "
                         f"{result.path.name}; {result.n_duplicates} duplicate(s) skipped")
            self.imported.emit(result)
            self.reload()

        return self._submit("import", work, done, failure=f"{Path(path).name} was not imported")

    # ------------------------------------------------------------- dialogs

    def new_annotation_dialog(self, evidence_id: int, *, evidence_label: str, start_s: float | None = None,
                              end_s: float | None = None, low_hz: float | None = None,
                              high_hz: float | None = None, parent: QWidget | None = None) -> AnnotationDialog:
        """Open (window-modal, not blocking) the dialog for a new annotation of a selection.

        The layer box starts on the layer the panel shows (``"default"`` when it shows all).
        Accepting the dialog stores the annotation through :meth:`add_annotation`.
        """
        shown = self.layer_box.currentText()
        values = {"start_s": start_s, "end_s": end_s, "low_hz": low_hz, "high_hz": high_hz,
                  "layer": shown if shown in self.layers else DEFAULT_LAYER}
        dialog = AnnotationDialog(evidence_label=evidence_label, author=self.examiner, layers=self.layers,
                                  values=values, parent=parent or self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.accepted.connect(lambda: self.add_annotation(evidence_id, dialog.spec()))
        dialog.open()
        return dialog

    def edit_dialog(self, item: AnnotationItem) -> AnnotationDialog:
        """The dialog that edits ``item`` (not shown)."""
        name = self.snapshot.evidence_names.get(item.evidence_id, "")
        return AnnotationDialog(evidence_label=f"#{item.evidence_id} {name}", author=item.author,
                                layers=self.layers, values=spec_values(item),
                                title=f"Edit annotation #{item.id}", parent=self)

    def edit_selected(self) -> None:
        """Edit the current annotation in a dialog."""
        selected = self.selected_items()
        if not selected:
            return
        dialog = self.edit_dialog(selected[0])
        if dialog.exec() == AnnotationDialog.DialogCode.Accepted:
            self.update_annotation(selected[0].id, dialog.spec())

    def delete_selected(self) -> None:
        """Delete the selected annotations after confirmation."""
        selected = self.selected_items()
        if not selected:
            return
        what = (f"annotation #{selected[0].id} '{selected[0].label}'" if len(selected) == 1
                else f"{len(selected)} annotations")
        answer = QMessageBox.question(self, "Delete annotations",
                                      f"Delete {what}? The audit trail keeps what they said.")
        if answer == QMessageBox.StandardButton.Yes:
            self.delete_annotations([a.id for a in selected])

    def export_dialog(self) -> None:
        """Choose a .csv or .json file and export every layer to it."""
        if self.store is None:
            return
        default = str(self.store.root / "annotations.csv")
        path, chosen = QFileDialog.getSaveFileName(self, "Export all annotation layers", default, FILE_FILTERS)
        if not path:
            return
        out = Path(path)
        if out.suffix.lower() not in annotation_io.FORMATS:
            out = out.with_suffix(".json" if "json" in chosen.lower() else ".csv")
        self.export_annotations(out)

    def import_dialog(self) -> None:
        """Choose an annotation export and import it."""
        if self.store is None:
            return
        path, _ = QFileDialog.getOpenFileName(self, "Import annotations", str(self.store.root),
                                              f"Annotation exports (*.csv *.json);;{FILE_FILTERS}")
        if path:
            self.import_annotations(Path(path))

    # ------------------------------------------------------------------ table

    def _show(self, snap: AnnotationsSnapshot) -> None:
        self.snapshot = snap
        layer = self.layer_box.currentText()
        self.layer_box.blockSignals(True)
        self.layer_box.clear()
        self.layer_box.addItems([ALL_LAYERS, *snap.layers])
        self.layer_box.setCurrentText(layer if layer in snap.layers else ALL_LAYERS)
        self.layer_box.blockSignals(False)
        self.model.removeRows(0, self.model.rowCount())
        for item in snap.items:
            self.model.appendRow(self._row(item, snap.evidence_names.get(item.evidence_id, "")))
        self._apply_filter()
        if self._select_after_reload is not None:
            self.select_annotation(self._select_after_reload)
            self._select_after_reload = None
        self.annotations_changed.emit(snap.items)

    def _row(self, a: AnnotationItem, evidence_name: str) -> list[QStandardItem]:
        time_text, time_key = position_text(a)
        band, band_key = band_text(a)
        created = a.created.astimezone().strftime("%Y-%m-%d %H:%M:%S")
        values = [
            (f"#{a.evidence_id} {evidence_name}", float(a.evidence_id)),
            (a.layer, a.layer.lower()),
            (a.label, a.label.lower()),
            (time_text, time_key),
            (band, band_key),
            (a.note.replace("\n", " ⏎ "), a.note.lower()),
            (a.author, a.author.lower()),
            (created, a.created.timestamp()),
        ]
        row = []
        for text, key in values:
            cell = QStandardItem(text)
            cell.setData(a, ITEM_ROLE)
            cell.setData(key, SORT_ROLE)
            cell.setEditable(False)
            row.append(cell)
        row[COL_NOTE].setToolTip(a.note)
        row[COL_CREATED].setToolTip(f"{a.created.isoformat()} (UTC); annotation #{a.id}")
        return row

    def _apply_filter(self) -> None:
        layer = self.layer_box.currentText()
        evidence = self._evidence_filter if self.only_selected.isChecked() else None
        self.proxy.set_filter(layer=None if layer in ("", ALL_LAYERS) else layer, evidence_id=evidence)
        shown, total = self.proxy.rowCount(), self.model.rowCount()
        self.count.setText(f"{total} annotations" if shown == total else f"{shown} of {total} annotations")
        self._update_buttons()

    def _update_buttons(self) -> None:
        has_case = self.store is not None
        n = len(self.table.selectionModel().selectedRows())
        self.edit_button.setEnabled(n == 1)
        self.delete_button.setEnabled(n >= 1)
        self.export_button.setEnabled(has_case)
        self.import_button.setEnabled(has_case)

    def item_at(self, row: int) -> AnnotationItem | None:
        """The annotation in table row ``row`` (after sorting and filtering)."""
        index = self.proxy.index(row, 0)
        return self.proxy.data(index, ITEM_ROLE) if index.isValid() else None

    def visible_items(self) -> list[AnnotationItem]:
        """Annotations in the table's current order and filter."""
        return [a for a in (self.item_at(r) for r in range(self.proxy.rowCount())) if a is not None]

    def selected_items(self) -> list[AnnotationItem]:
        """The selected annotations, in table order."""
        rows = sorted(i.row() for i in self.table.selectionModel().selectedRows())
        return [a for a in (self.item_at(r) for r in rows) if a is not None]

    def select_annotation(self, annotation_id: int) -> bool:
        """Make an annotation the current (and only selected) row, if it is shown."""
        for row, item in enumerate(self.visible_items()):
            if item.id == annotation_id:
                self.table.selectRow(row)
                self.table.scrollTo(self.proxy.index(row, 0))
                return True
        return False

    def _on_double_clicked(self, index: QModelIndex) -> None:
        item = self.proxy.data(index, ITEM_ROLE)
        if item is not None:
            self.annotation_activated.emit(item)

    def _report(self, level: str, text: str) -> None:
        color = {"error": "#e05050", "warning": "#d0a030"}.get(level, "palette(text)")
        body = html.escape(text).replace("\n", "<br>")
        self.status.setText(f"<span style='color:{color}'>{body}</span>")
        self.status.setToolTip(text)
        self.notified.emit(level, text)
