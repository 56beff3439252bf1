"""Dialogs of the comparative analyses: choose a reference recording, type a transcript.

:class:`CompareDialog` lists the case's other audio evidence, the items marked as known genuine
references first (the first of them preselected); :class:`TranscriptDialog` takes the transcript
and the voice of the local speech synthesiser. Both only ask: the caller queues the analysis.
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QVBoxLayout,
    QWidget,
)

from forensics_app.gui.analyzer_params_panel import ERROR_STYLE
from forensics_app.gui.snapshots import EvidenceItem

ID_ROLE = Qt.ItemDataRole.UserRole + 1
DEFAULT_VOICE = "en-us"
COMMON_VOICES = ("en-us", "en", "en-gb-x-rp", "de", "fr-fr", "es", "it", "nl", "pl", "pt", "ru")
"""espeak-ng voices offered when the analyzer does not list its own (the box also takes any name)."""


def reference_candidates(questioned: EvidenceItem, items: Sequence[EvidenceItem]) -> list[EvidenceItem]:
    """The case's other audio items, the marked references first, then in acquisition (id) order."""
    others = [e for e in items if e.kind == "audio" and e.id != questioned.id]
    return sorted(others, key=lambda e: (e.role != "reference", e.id))


def _duration(item: EvidenceItem) -> str:
    d = item.metadata.get("duration_s")
    return f"{float(d):.1f} s" if isinstance(d, (int, float)) else "? s"


class CompareDialog(QDialog):
    """Choose the recording a questioned audio item is compared with.

    Parameters
    ----------
    questioned : EvidenceItem
        The item under examination.
    candidates : sequence of EvidenceItem
        Possible references, as :func:`reference_candidates` orders them.
    parent : QWidget, optional
        Qt parent.

    Attributes
    ----------
    list : QListWidget
        The candidates; the first marked reference is preselected (none when no item is marked).
    """

    def __init__(self, questioned: EvidenceItem, candidates: Sequence[EvidenceItem], *,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Compare with reference")
        self.setMinimumSize(560, 380)
        self.candidates = list(candidates)
        marked = [e for e in self.candidates if e.role == "reference"]
        intro = QLabel(
            f"Align <b>#{questioned.id} {questioned.name}</b> with a known genuine recording (the same speaker, "
            "or the same event) and report inserted, deleted or replaced spans, the spectral difference "
            "along the alignment and the speaker similarity per segment."
            + ("" if marked else "<br><i>No item is marked as a known genuine reference: choose one below, or "
                                 "mark it first with Analysis ▸ Mark as known genuine reference.</i>"))
        intro.setWordWrap(True)
        self.list = QListWidget()
        for e in self.candidates:
            tag = "★ reference · " if e.role == "reference" else ""
            item = QListWidgetItem(f"{tag}#{e.id} {e.name}  ({_duration(e)}, "
                                   f"{e.metadata.get('sample_rate', '?')} Hz)")
            item.setData(ID_ROLE, e.id)
            item.setToolTip(f"SHA-256 {e.sha256}\nrole: {e.role}")
            if e.role == "reference":
                font = item.font()
                font.setBold(True)
                item.setFont(font)
            self.list.addItem(item)
        if marked:
            self.list.setCurrentRow(0)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.ok_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok_button.setText("Compare")
        self.buttons.accepted.connect(self._accept_if_chosen)
        self.buttons.rejected.connect(self.reject)
        self.list.currentRowChanged.connect(lambda _row: self._update_state())
        self.list.itemDoubleClicked.connect(lambda _item: self._accept_if_chosen())
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(self.list, 1)
        layout.addWidget(self.buttons)
        self._update_state()

    def chosen_id(self) -> int | None:
        """The chosen reference's evidence id (None when none is chosen)."""
        item = self.list.currentItem()
        return None if item is None or not item.isSelected() else int(item.data(ID_ROLE))

    def choose(self, evidence_id: int) -> None:
        """Make ``evidence_id`` the chosen reference."""
        for row in range(self.list.count()):
            if self.list.item(row).data(ID_ROLE) == evidence_id:
                self.list.setCurrentRow(row)
                return
        raise KeyError(f"evidence #{evidence_id} is not offered as a reference")

    def _update_state(self) -> None:
        self.ok_button.setEnabled(self.chosen_id() is not None)

    def _accept_if_chosen(self) -> None:
        if self.chosen_id() is not None:
            self.accept()


class TranscriptDialog(QDialog):
    """Type the transcript of a questioned recording and choose the synthesiser's voice.

    Parameters
    ----------
    questioned : EvidenceItem
        The item under examination.
    voices : sequence of str, optional
        Voices offered (default :data:`COMMON_VOICES`; the box is editable unless the analyzer
        restricts the choice, see ``fixed_voices``).
    default_voice : str
        Preselected voice.
    fixed_voices : bool
        Only the offered voices may be chosen.
    parent : QWidget, optional
        Qt parent.

    Attributes
    ----------
    text : QPlainTextEdit
        The transcript (the Align button stays disabled while it is blank).
    voice_box : QComboBox
        The espeak-ng voice.
    error : QLabel
        Why the dialog cannot be accepted ("" when it can).
    """

    def __init__(self, questioned: EvidenceItem, *, voices: Sequence[str] = COMMON_VOICES,
                 default_voice: str = DEFAULT_VOICE, fixed_voices: bool = False,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Align transcript")
        self.setMinimumSize(600, 420)
        intro = QLabel(
            f"Type what is said in <b>#{questioned.id} {questioned.name}</b>. The transcript is rendered by a "
            "local speech synthesiser and aligned with the recording, word by word; poorly aligned words and "
            "implausibly regular prosody become findings, and each word can be clicked to hear it.")
        intro.setWordWrap(True)
        self.text = QPlainTextEdit()
        self.text.setPlaceholderText("the words spoken in the recording, in order")
        self.text.setTabChangesFocus(True)
        self.voice_box = QComboBox()
        self.voice_box.setEditable(not fixed_voices)
        self.voice_box.addItems(list(dict.fromkeys([default_voice, *voices])))
        self.voice_box.setCurrentText(default_voice)
        self.voice_box.setToolTip("espeak-ng voice of the local rendering (its language should match the speech)")
        form = QFormLayout()
        form.addRow("Voice", self.voice_box)
        self.error = QLabel("")
        self.error.setStyleSheet(ERROR_STYLE)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.ok_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok_button.setText("Align")
        self.buttons.accepted.connect(self._accept_if_valid)
        self.buttons.rejected.connect(self.reject)
        self.text.textChanged.connect(self._update_state)
        self.voice_box.currentTextChanged.connect(lambda _t: self._update_state())
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(self.text, 1)
        layout.addLayout(form)
        layout.addWidget(self.error)
        layout.addWidget(self.buttons)
        self._update_state()

    def transcript(self) -> str:
        """The typed transcript, whitespace collapsed."""
        return " ".join(self.text.toPlainText().split())

    def voice(self) -> str:
        """The chosen voice."""
        return self.voice_box.currentText().strip()

    def problem(self) -> str:
        """Why the dialog cannot be accepted ("" when it can)."""
        if not self.transcript():
            return "Type the transcript first."
        if not self.voice():
            return "Choose a voice."
        return ""

    def _update_state(self) -> None:
        problem = self.problem()
        self.error.setText(problem)
        self.ok_button.setEnabled(not problem)

    def _accept_if_valid(self) -> None:
        self._update_state()
        if not self.problem():
            self.accept()
