"""Look at the GUI as a user: build a case with audio, image and video, run an analyzer, grab PNGs.

Not a test (pytest does not collect it). Run under a display, e.g.::

    Xvfb :99 -screen 0 1600x1000x24 &
    DISPLAY=:99 QT_QPA_PLATFORM=xcb .venv/bin/python tests/gui/screenshots.py /tmp

(QT_QPA_PLATFORM=offscreen works too.) Writes gui_audio.png, gui_image.png, gui_video.png,
gui_audio_zoom.png and gui_empty.png into the given folder.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np
import soundfile as sf
from PIL import Image, ImageDraw
from PySide6.QtTest import QTest

from forensics_app.analysis import registry
from forensics_app.domain.media import AudioClip, StillImage
from forensics_app.domain.results import AnalysisResult, Finding, Region, TimeSeries
from forensics_app.gui.application import application
from forensics_app.gui.main_window import MainWindow
from forensics_app.ingest.acquire import add_evidence
from forensics_app.store.case import CaseStore


def make_media(src: Path) -> list[Path]:
    """A 6 s chirp with a spliced tone, a 640x480 JPEG, a 2 s MPEG-4 video."""
    src.mkdir(parents=True, exist_ok=True)
    rate = 16000
    t = np.arange(6 * rate) / rate
    x = 0.3 * np.sin(2 * np.pi * (200 + 300 * t) * t) + 0.05 * np.random.default_rng(0).standard_normal(t.size)
    cut = slice(int(3.5 * rate), int(4.2 * rate))
    x[cut] = 0.4 * np.sin(2 * np.pi * 2500 * t[cut])
    sf.write(src / "interview.wav", x.astype(np.float32), rate)
    img = Image.new("RGB", (640, 480), (60, 90, 140))
    draw = ImageDraw.Draw(img)
    for i in range(0, 640, 40):
        draw.line([(i, 0), (640 - i, 480)], fill=(200, 180, 90), width=3)
    draw.rectangle([300, 200, 380, 260], fill=(220, 40, 40))
    img.save(src / "photo.jpg", quality=90)
    with av.open(str(src / "doorcam.mp4"), "w") as c:
        s = c.add_stream("mpeg4", rate=Fraction(25, 1))
        s.width, s.height, s.pix_fmt = 320, 240, "yuv420p"
        for i in range(50):
            a = np.full((240, 320, 3), 30, np.uint8)
            a[100:140, (6 * i) % 300:(6 * i) % 300 + 20] = (240, 240, 80)
            for p in s.encode(av.VideoFrame.from_ndarray(a, format="rgb24")):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
    return [src / "interview.wav", src / "photo.jpg", src / "doorcam.mp4"]


def demo_analyzer(media: Any, *, params: Any, progress: Any) -> AnalysisResult:
    """Findings of every shape: time ranges with series, an image region, frame ranges."""
    progress.report(0.5)
    if isinstance(media, AudioClip):
        tt = np.linspace(0, media.duration_s, 120)
        score = np.clip(0.2 + 0.7 * np.exp(-((tt - 3.85) / 0.4) ** 2), 0, 1)
        return AnalysisResult((
            Finding("Splice: tone inserted", 0.82, start_s=3.5, end_s=4.2,
                    series=(TimeSeries("fake score", "FakeLikelihood", tt, score),
                            TimeSeries("bandwidth", "Hz", tt, 4000 + 2000 * np.sin(tt)))),
            Finding("Clipping", None, start_s=1.0, end_s=1.3, details={"samples": 12}),
        ))
    if isinstance(media, StillImage):
        return AnalysisResult((Finding("Pasted region", 0.7, region=Region(300, 200, 80, 60)),))
    return AnalysisResult((Finding("Dropped frames", 0.55, start_frame=20, end_frame=23),
                           Finding("Duplicate frame", 0.4, start_frame=35, end_frame=36)))


def wait(cond: Callable[[], bool], ms: int = 30_000) -> None:
    """Run the event loop until ``cond()`` holds."""
    end = time.monotonic() + ms / 1000
    while not cond():
        if time.monotonic() > end:
            raise TimeoutError
        QTest.qWait(50)


def main(out: Path) -> None:
    """Build the case, drive the window and save the screenshots into ``out``."""
    work = Path(tempfile.mkdtemp(prefix="gui-shots-"))
    files = make_media(work / "src")
    registry._loaded = True  # only the demo analyzer below
    registry.analyzer(id="demo.shots", version="0.1", media=["audio", "image", "video"],
                      label="Screenshot analyzer")(demo_analyzer)
    store = CaseStore.create(work / "case", title="Bank transfer fraud", examiner="J. Doe", number="2026-0412")
    ids = {}
    for f in files:
        r = add_evidence(store, f, examiner="J. Doe")
        ids[r.media_kind] = r.evidence_id
    store.close()

    application()
    empty = MainWindow(examiner="J. Doe")
    empty.resize(1600, 1000)
    empty.show()
    wait(lambda: not empty.device_label.text().endswith("…"))
    empty.grab().save(str(out / "gui_empty.png"))
    empty.close()

    win = MainWindow(examiner="J. Doe")
    win.resize(1600, 1000)
    win.show()
    win.open_case(work / "case")
    wait(lambda: win.store is not None)
    win.run_analyses(list(ids.values()), ["demo.shots"])
    win.add_files([files[0], Path(__file__)])  # a duplicate and a refused file
    wait(lambda: win.jobs_panel.active_count() == 0)
    wait(lambda: not win.device_label.text().endswith("…"))
    for kind in ("audio", "image", "video"):
        win.select_evidence(ids[kind])
        view = win.viewer.current_view
        wait(lambda v=view: v.is_loaded)
        if kind == "video":
            view.go_to(21)
            wait(lambda v=view: v.displayed_frame == 21)
        QTest.qWait(300)
        win.grab().save(str(out / f"gui_{kind}.png"))
    win.select_evidence(ids["audio"])
    audio = win.viewer.current_view
    wait(lambda: audio.is_loaded)
    audio.wave_plot.setXRange(3.3, 4.4, padding=0)
    QTest.qWait(300)
    win.grab().save(str(out / "gui_audio_zoom.png"))
    win.close()
    shutil.rmtree(work, ignore_errors=True)
    print(f"screenshots in {out}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("."))
