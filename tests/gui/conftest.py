"""GUI test fixtures: generated media, a case holding them, test analyzers and a main window."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

os.environ.setdefault("FORENSICS_APP_DEVICE", "cpu")  # never import torch in GUI tests

import av  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import soundfile as sf  # noqa: E402
from PIL import Image  # noqa: E402

from forensics_app.analysis import registry  # noqa: E402
from forensics_app.domain.media import AudioClip, StillImage, VideoSource  # noqa: E402
from forensics_app.domain.results import AnalysisResult, Finding, Region, TimeSeries  # noqa: E402
from forensics_app.ingest.acquire import Outcome, add_evidence  # noqa: E402
from forensics_app.store.case import CaseStore  # noqa: E402

AUDIO_S = 1.5
AUDIO_RATE = 16_000
VIDEO_FRAMES = 24
VIDEO_FPS = 12


def write_wav(path: Path, *, seconds: float = AUDIO_S, rate: int = AUDIO_RATE, freq: float = 440.0) -> Path:
    """A sine with a little noise (mono, PCM 16)."""
    t = np.arange(int(seconds * rate)) / rate
    rng = np.random.default_rng(0)
    x = 0.5 * np.sin(2 * np.pi * freq * t) + 0.01 * rng.standard_normal(t.size)
    x[int(0.5 * rate):int(0.7 * rate)] += 0.3 * np.sin(2 * np.pi * 3000 * t[int(0.5 * rate):int(0.7 * rate)])
    sf.write(str(path), x.astype(np.float32), rate, subtype="PCM_16")
    return path


def write_png(path: Path, *, width: int = 48, height: int = 32) -> Path:
    """A colour gradient."""
    x = np.linspace(0, 255, width, dtype=np.uint8)
    y = np.linspace(0, 255, height, dtype=np.uint8)
    rgb = np.zeros((height, width, 3), dtype=np.uint8)
    rgb[..., 0] = x[None, :]
    rgb[..., 1] = y[:, None]
    rgb[..., 2] = 128
    Image.fromarray(rgb).save(path)
    return path


def write_video(path: Path, *, n_frames: int = VIDEO_FRAMES, fps: int = VIDEO_FPS, width: int = 64,
                height: int = 48) -> Path:
    """MPEG-4 part 2 video; frame i shows a bar at x = 2 i."""
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("mpeg4", rate=Fraction(fps, 1))
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for i in range(n_frames):
            img = np.full((height, width, 3), 40, dtype=np.uint8)
            img[:, (2 * i) % width:(2 * i) % width + 4] = (250, 250, 60)
            frame = av.VideoFrame.from_ndarray(img, format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


@pytest.fixture
def media(tmp_path: Path) -> dict[str, Path]:
    """Generated evidence files: audio (WAV), image (PNG), video (MP4) and a bad file."""
    src = tmp_path / "seized"
    src.mkdir()
    bad = src / "notes.txt"
    bad.write_text("not media at all\n")
    return {
        "audio": write_wav(src / "call.wav"),
        "image": write_png(src / "photo.png"),
        "video": write_video(src / "clip.mp4"),
        "bad": bad,
    }


@pytest.fixture
def filled_case(case: CaseStore, media: dict[str, Path]) -> tuple[CaseStore, dict[str, int]]:
    """The ``case`` fixture with the audio, image and video acquired; returns (store, kind -> id)."""
    ids = {}
    for kind in ("audio", "image", "video"):
        result = add_evidence(case, media[kind], examiner="Test Examiner")
        assert result.outcome is Outcome.ADDED, result.reason
        assert result.evidence_id is not None
        ids[kind] = result.evidence_id
    return case, ids


@dataclass
class AnalyzerProbe:
    """What the test analyzers saw: the threads they ran on and how often they ran."""

    thread_ids: list[int] = field(default_factory=list)
    calls: int = 0


def _result_for(media: Any) -> AnalysisResult:
    if isinstance(media, AudioClip):
        t = np.linspace(0.0, media.duration_s, 30)
        return AnalysisResult(findings=(
            Finding("Inserted tone", fake_likelihood=0.8, start_s=0.5, end_s=0.7,
                    details={"freq_hz": 3000.0}, series=(TimeSeries("energy", "dBFS", t, -20 + np.sin(t)),)),
            Finding("Signal level", fake_likelihood=None, details={"rms_dbfs": -9.0}),
        ))
    if isinstance(media, StillImage):
        return AnalysisResult(findings=(
            Finding("Pasted region", fake_likelihood=0.6, region=Region(8, 4, 16, 12)),
        ))
    if isinstance(media, VideoSource):
        return AnalysisResult(findings=(
            Finding("Frame jump", fake_likelihood=0.3, start_frame=5, end_frame=7),
        ))
    raise TypeError(type(media))


@pytest.fixture
def test_analyzers(monkeypatch: pytest.MonkeyPatch) -> Iterator[AnalyzerProbe]:
    """Registers ``test.quick`` (instant) and ``test.slow`` (~3 s in 60 steps; cancellable).

    The built-in analyzer modules are not imported (``registry._loaded`` is set), so these tests do
    not depend on them.
    """
    probe = AnalyzerProbe()
    monkeypatch.setattr(registry, "_loaded", True)
    kinds = ["audio", "image", "video"]

    @registry.analyzer(id="test.quick", version="0.1", media=kinds, label="Quick test analyzer")
    def quick(media: Any, *, params: Any, progress: Any) -> AnalysisResult:
        probe.thread_ids.append(threading.get_ident())
        probe.calls += 1
        progress.report(1.0, "quick")
        return _result_for(media)

    @registry.analyzer(id="test.slow", version="0.1", media=kinds, label="Slow test analyzer")
    def slow(media: Any, *, params: Any, progress: Any) -> AnalysisResult:
        probe.thread_ids.append(threading.get_ident())
        probe.calls += 1
        steps = 60
        for i in range(steps):
            progress.check()
            time.sleep(0.05)
            progress.report((i + 1) / steps, f"step {i + 1}/{steps}")
        return _result_for(media)

    yield probe
    registry.unregister("test.quick")
    registry.unregister("test.slow")


@pytest.fixture
def window(qtbot: Any) -> Iterator[Any]:
    """A MainWindow without a case (no device detection); closed after the test."""
    from forensics_app.gui.main_window import MainWindow

    win = MainWindow(examiner="Test Examiner", detect_device=False)
    qtbot.addWidget(win)
    win.show()
    yield win
    win.close()
