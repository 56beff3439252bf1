"""The result of Verify integrity: every stored copy's hash check and the audit chain."""

from __future__ import annotations

from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from forensics_app.ingest.acquire import VerifyReport

GOOD = QColor(60, 170, 90)
BAD = QColor(220, 60, 60)


class VerifyReportDialog(QDialog):
    """Shows a :class:`VerifyReport`: a clear verdict, one row per evidence copy, the audit chain."""

    def __init__(self, report: VerifyReport, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Integrity verification")
        self.setMinimumSize(720, 360)
        self.report = report
        n_bad = sum(1 for c in report.evidence if c.state != "verified")
        if report.ok:
            verdict = (f"<h3 style='color:{GOOD.name()}'>Verification passed</h3>"
                       f"All {len(report.evidence)} stored copies match their recorded SHA-256 and the "
                       f"audit trail ({report.chain.n_events} events) is unbroken.")
        else:
            problems = []
            if n_bad:
                problems.append(f"{n_bad} of {len(report.evidence)} stored copies failed")
            if not report.chain.ok:
                problems.append(f"the audit trail is broken: {report.chain.reason}")
            verdict = (f"<h3 style='color:{BAD.name()}'>Verification FAILED</h3>" + "; ".join(problems) + ".")
        self.verdict = QLabel(verdict)
        self.verdict.setWordWrap(True)
        self.table = QTableWidget(len(report.evidence), 5)
        self.table.setHorizontalHeaderLabels(["ID", "Name", "State", "Recorded SHA-256", "Current SHA-256"])
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        for row, c in enumerate(report.evidence):
            cells = [str(c.evidence_id), c.name, c.state, c.expected_sha256, c.actual_sha256 or "—"]
            for col, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setToolTip(text)
                if col == 2:
                    item.setForeground(QBrush(GOOD if c.state == "verified" else BAD))
                self.table.setItem(row, col, item)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        chain = report.chain
        chain_text = (f"Audit trail: {chain.n_events} events, unbroken." if chain.ok else
                      f"Audit trail: BROKEN at event #{chain.first_broken_seq}: {chain.reason}")
        self.chain = QLabel(chain_text)
        self.chain.setWordWrap(True)
        self.chain.setStyleSheet(f"color: {(GOOD if chain.ok else BAD).name()}")
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        buttons.accepted.connect(self.accept)
        layout = QVBoxLayout(self)
        layout.addWidget(self.verdict)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.chain)
        layout.addWidget(buttons)
