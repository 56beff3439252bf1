"""Look at the comparison panels as a user: build a case, run the comparisons, grab PNGs.

Not a test (pytest does not collect it). Run under a display, e.g.::

    Xvfb :99 -screen 0 1600x1000x24 &
    DISPLAY=:99 QT_QPA_PLATFORM=xcb .venv/bin/python tests/gui/comparison_screenshots.py /tmp/shots

Uses the real comparison analyzers when they are registered, else the stand-ins of the GUI tests
(real alignments of generated recordings, see comparison_fixtures). Writes
cmp_reference_window.png, cmp_reference_panel.png, cmp_residual_window.png, cmp_residual_plots.png,
cmp_words_window.png, cmp_words_panel.png, cmp_compare_dialog.png and cmp_transcript_dialog.png
into the given folder.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf
from PySide6.QtTest import QTest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gui.comparison_fixtures import (  # noqa: E402
    RATE,
    align_recordings,
    residual_findings,
    word_alignment,
    word_recording,
    write,
)

from forensics_app.analysis import registry  # noqa: E402
from forensics_app.analysis.registry import Param  # noqa: E402
from forensics_app.domain.results import AnalysisResult  # noqa: E402
from forensics_app.gui.application import application  # noqa: E402
from forensics_app.gui.comparison_actions import (  # noqa: E402
    REFERENCE_ANALYZER,
    TRANSCRIPT_ANALYZER,
)
from forensics_app.gui.comparison_dialogs import (  # noqa: E402
    CompareDialog,
    TranscriptDialog,
    reference_candidates,
)
from forensics_app.gui.main_window import MainWindow  # noqa: E402
from forensics_app.ingest.acquire import add_evidence  # noqa: E402
from forensics_app.store.case import CaseStore  # noqa: E402
from forensics_app.store.evidence_roles import ROLE_REFERENCE, set_role  # noqa: E402


def wait(cond: Callable[[], bool], ms: int = 120_000) -> None:
    """Run the event loop until ``cond()`` holds."""
    end = time.monotonic() + ms / 1000
    while not cond():
        if time.monotonic() > end:
            raise TimeoutError
        QTest.qWait(50)


def speech(path: Path, text: str) -> np.ndarray:
    """espeak-ng speech at :data:`RATE` (a melody when espeak-ng is missing)."""
    from gui.comparison_fixtures import melody

    if shutil.which("espeak-ng") is None:
        return melody()
    subprocess.run(["espeak-ng", "-v", "en-us", "-s", "150", "-w", str(path), text], check=True, capture_output=True)
    x, rate = sf.read(str(path), dtype="float32")
    from forensics_app.training.audio_io import resample

    return np.asarray(resample(x, src_rate=rate, dst_rate=RATE) if rate != RATE else x, dtype=np.float32)


REAL_MODULES = ("forensics_app.analysis.resynthesis.self_resynthesis",
                "forensics_app.analysis.resynthesis.reference_comparison",
                "forensics_app.analysis.resynthesis.transcript_alignment")
RESIDUAL_ANALYZER = "audio.self_resynthesis"


def register_analyzers() -> list[str]:
    """The real comparison analyzers where their modules import, stand-ins for the others; returns
    the ids of the stand-ins."""
    import importlib

    for name in REAL_MODULES:
        try:
            importlib.import_module(name)
        except Exception as exc:  # not written yet, or broken: use the stand-in
            print(f"{name}: {type(exc).__name__}: {exc}")
    known = {a.id for a in registry.all_analyzers()}
    added = []
    if REFERENCE_ANALYZER not in known:
        @registry.analyzer(id=REFERENCE_ANALYZER, version="0.0-shots", media=["audio"], label="Reference (stand-in)",
                           params=[Param("reference_id", 0, "Reference evidence id")], reference=True)
        def compare(media: Any, *, params: Any, progress: Any, reference: Any) -> AnalysisResult:
            return AnalysisResult(align_recordings(media.mono(), media.rate, reference.mono(), reference.rate))
        added.append(REFERENCE_ANALYZER)
    if TRANSCRIPT_ANALYZER not in known:
        @registry.analyzer(id=TRANSCRIPT_ANALYZER, version="0.0-shots", media=["audio"], label="Transcript (stand-in)",
                           params=[Param("transcript", ""), Param("voice", "en-us")])
        def align(media: Any, *, params: Any, progress: Any) -> AnalysisResult:
            return AnalysisResult((word_alignment(media.mono(), media.rate),))
        added.append(TRANSCRIPT_ANALYZER)
    if RESIDUAL_ANALYZER not in known:
        @registry.analyzer(id=RESIDUAL_ANALYZER, version="0.0-shots", media=["audio"], label="Residual (stand-in)",
                           params=[Param("vocoders", "all")])
        def residual(media: Any, *, params: Any, progress: Any) -> AnalysisResult:
            return AnalysisResult(residual_findings(media.mono(), media.rate, widths=(3, 5, 9)))
        added.append(RESIDUAL_ANALYZER)
    return added


def main(out: Path) -> None:
    """Build the case, drive the window and save the screenshots into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="cmp-shots-"))
    src = work / "src"
    src.mkdir()
    ref = speech(src / "tts.wav", "the transfer was approved by the bank manager on friday morning")
    cut = int(1.4 * RATE)
    burst = 0.08 * np.random.default_rng(1).standard_normal(int(0.5 * RATE)).astype(np.float32)
    paths = [write(src / "broadcast.wav", ref), write(src / "leaked_copy.wav", np.concatenate([ref[:cut], burst, ref[cut:]])),
             write(src / "words.wav", word_recording())]
    stand_ins = register_analyzers()
    store = CaseStore.create(work / "case", title="Leaked call", examiner="J. Doe", number="2026-0512")
    ids = [add_evidence(store, p, examiner="J. Doe").evidence_id for p in paths]
    set_role(store, ids[0], role=ROLE_REFERENCE, examiner="J. Doe")
    store.close()

    application()
    win = MainWindow(examiner="J. Doe", detect_device=False)
    win.resize(1600, 1000)
    win.show()
    win.open_case(work / "case")
    wait(lambda: win.store is not None and len(win.evidence_items()) == 3)
    win.select_evidence(ids[1])
    keys = win.comparison_actions.compare_with_reference(ids[1], ids[0])
    keys += win.run_analyses([ids[1]], [RESIDUAL_ANALYZER], {RESIDUAL_ANALYZER: {"vocoders": "classical"}})
    words_text = "one two three four five"
    if TRANSCRIPT_ANALYZER not in stand_ins:  # the real one aligns speech: align the spoken broadcast
        ids[2] = ids[0]
        words_text = "the transfer was approved by the bank manager on friday morning"
    keys += win.comparison_actions.align_transcript(ids[2], words_text)
    wait(lambda: all(win.jobs_panel.status(k) not in {"queued", "running"} for k in keys), ms=600_000)
    print("jobs:", [win.jobs_panel.status(k) for k in keys], "stand-ins:", stand_ins)

    view = win.viewer.current_view
    wait(lambda: view.is_loaded)
    finding = next((f for f in win.findings if f.evidence_id == ids[1] and f.label.lower().startswith("inserted")),
                   next(f for f in win.findings if f.evidence_id == ids[1] and f.alignment_refs))
    win.show_finding(finding)
    wait(lambda: view.alignment.isVisible() and view.alignment.layer is not None)
    view.seek((finding.start_s or 0.0) + 0.1)
    QTest.qWait(600)
    win.grab().save(str(out / "cmp_reference_window.png"))
    view.alignment.grab().save(str(out / "cmp_reference_panel.png"))

    res = [f for f in win.findings if f.evidence_id == ids[1] and f.analyzer_id == RESIDUAL_ANALYZER
           and f.map_refs][-1]
    win.show_finding(res)
    QTest.qWait(800)
    win.grab().save(str(out / "cmp_residual_window.png"))
    view.graphics.grab().save(str(out / "cmp_residual_plots.png"))

    win.select_evidence(ids[2])
    words_view = win.viewer.current_view
    wait(lambda: words_view.is_loaded)
    overview = next(f for f in win.findings if f.evidence_id == ids[2] and f.alignment_refs)
    win.show_finding(overview)
    wait(lambda: words_view.alignment.isVisible() and words_view.alignment.layer is not None)
    words_view.alignment.click_word(2)
    QTest.qWait(600)
    words_view.alignment.grab().save(str(out / "cmp_words_panel.png"))
    win.grab().save(str(out / "cmp_words_window.png"))
    questioned = win.evidence_panel.items[ids[1]]
    compare = CompareDialog(questioned, reference_candidates(questioned, win.evidence_items()), parent=win)
    transcript = TranscriptDialog(questioned, parent=win)
    transcript.text.setPlainText("the transfer was approved by the bank manager on friday morning")
    for name, dialog in (("cmp_compare_dialog.png", compare), ("cmp_transcript_dialog.png", transcript)):
        dialog.show()
        QTest.qWait(300)
        dialog.grab().save(str(out / name))
        dialog.close()
    win.close()
    shutil.rmtree(work, ignore_errors=True)
    print(f"screenshots in {out}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("."))
