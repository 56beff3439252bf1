"""The New case dialog: folder, title, examiner and case number."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)


@dataclass(frozen=True)
class NewCaseRequest:
    """What the user entered (validated for presence only; the store checks the folder)."""

    folder: Path
    title: str
    examiner: str
    number: str | None


class NewCaseDialog(QDialog):
    """Ask for a new (empty) case folder and the case's title, examiner and number.

    Parameters
    ----------
    examiner : str
        Pre-filled examiner name.
    parent : QWidget, optional
        Qt parent.
    """

    def __init__(self, *, examiner: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("New case")
        self.setMinimumWidth(520)
        self.folder = QLineEdit()
        self.folder.setPlaceholderText("an empty or new folder")
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        folder_row = QHBoxLayout()
        folder_row.addWidget(self.folder, 1)
        folder_row.addWidget(browse)
        self.title = QLineEdit()
        self.examiner = QLineEdit(examiner)
        self.number = QLineEdit()
        self.number.setPlaceholderText("generated from the date when empty")
        form = QFormLayout()
        form.addRow("Case folder", folder_row)
        form.addRow("Title", self.title)
        form.addRow("Examiner", self.examiner)
        form.addRow("Case number", self.number)
        self.error = QLabel("")
        self.error.setStyleSheet("color: #e05050")
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self._accept_if_valid)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.error)
        layout.addWidget(self.buttons)

    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Case folder")
        if folder:
            self.folder.setText(folder)

    def problem(self) -> str:
        """What is missing ("" when the form is complete)."""
        folder = self.folder.text().strip()
        if not folder:
            return "Choose a case folder."
        path = Path(folder).expanduser()
        if path.exists() and not path.is_dir():
            return f"{path} is a file, not a folder."
        if path.is_dir() and any(path.iterdir()):
            return f"{path} is not empty; a new case needs an empty or new folder."
        if not self.title.text().strip():
            return "Enter a title."
        if not self.examiner.text().strip():
            return "Enter the examiner's name."
        return ""

    def _accept_if_valid(self) -> None:
        problem = self.problem()
        if problem:
            self.error.setText(problem)
            return
        self.accept()

    def request(self) -> NewCaseRequest:
        """The entered values."""
        return NewCaseRequest(
            folder=Path(self.folder.text().strip()).expanduser(),
            title=self.title.text().strip(),
            examiner=self.examiner.text().strip(),
            number=self.number.text().strip() or None,
        )
