"""The audio view standalone: screen-resolution spectrograms, readout, selection, annotations."""

from __future__ import annotations

import datetime as dt
import re
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf
from PySide6.QtCore import QIODevice, QPointF, Qt

from forensics_app.gui.playback import NO_DEVICE, OutputFormat
from forensics_app.gui.snapshots import AnnotationItem, EvidenceItem
from forensics_app.gui.views import media_data
from forensics_app.gui.views.audio_marks import SelectionViewBox
from forensics_app.gui.views.audio_view import AudioView
from forensics_app.gui.workers import WorkerPool
from forensics_app.store.artifacts import ArtifactStore

RATE = 16_000
WAIT = 20_000


def sine_file(path: Path, *, seconds: float = 3.0, rate: int = RATE, freq: float = 1000.0,
              amplitude: float = 0.5) -> Path:
    t = np.arange(int(seconds * rate)) / rate
    noise = 1e-3 * np.random.default_rng(1).standard_normal(t.size)
    sf.write(str(path), (amplitude * np.sin(2 * np.pi * freq * t) + noise).astype(np.float32), rate,
             subtype="PCM_16")
    return path


def evidence(path: Path, ev_id: int = 7) -> EvidenceItem:
    return EvidenceItem(id=ev_id, name=path.name, kind="audio", size=path.stat().st_size, sha256="0" * 64,
                        md5="0" * 32, integrity="verified", path=path, metadata={})


class FakeSink:
    """A sink that plays only when the test advances it."""

    def __init__(self) -> None:
        self.device: QIODevice | None = None
        self.us = 0

    def start(self, device: QIODevice) -> None:
        self.device, self.us = device, 0

    def stop(self) -> None:
        self.device = None

    def suspend(self) -> None:
        pass

    def resume(self) -> None:
        pass

    def processedUSecs(self) -> int:  # noqa: N802 - Qt's name
        return self.us


@pytest.fixture
def pool(qtbot: Any) -> Any:
    p = WorkerPool()
    yield p
    p.shutdown(10_000)


@pytest.fixture
def make_view(qtbot: Any, pool: WorkerPool, tmp_path: Path) -> Any:
    """``make_view(path, sink_factory=...)``: an AudioView built as ViewerPanel builds it, loaded."""

    def make(path: Path, *, sink_factory: Any = lambda wanted: None, ev_id: int = 7) -> AudioView:
        view = AudioView(pool=pool, artifacts=ArtifactStore(tmp_path / "artifacts"), sink_factory=sink_factory)
        qtbot.addWidget(view)
        view.resize(1100, 650)
        view.show()
        qtbot.waitExposed(view)
        view.load(evidence(path, ev_id), [])
        qtbot.waitUntil(lambda: view.is_loaded, timeout=WAIT)
        qtbot.waitUntil(lambda: view.renderer.envelope is not None and view.renderer.is_current(),
                        timeout=WAIT)
        return view

    return make


def wait_render(qtbot: Any, view: AudioView, before: int) -> None:
    qtbot.waitUntil(lambda: view.renderer.renders_drawn > before and view.renderer._spec_key is None,
                    timeout=WAIT)


def peak_hz(image: Any) -> float:
    """Centre frequency (Hz) of the loudest row, through the image's own row edges."""
    r = int(np.argmax(image.db.mean(axis=1)))
    return float((image.row_edges_hz[r] + image.row_edges_hz[r + 1]) / 2)


def test_overview_at_pixel_size_and_peak_row_in_linear_and_mel(qtbot: Any, make_view: Any,
                                                             tmp_path: Path) -> None:
    view = make_view(sine_file(tmp_path / "tone.wav"))
    img = view.renderer.overview
    vb = view.spec_plot.vb
    assert img.db.shape == (round(vb.height()), round(vb.width()))  # screen resolution, whole file
    assert (img.t0, img.t1) == (0.0, 3.0)
    row_hz = RATE / 2 / img.n_rows
    assert abs(peak_hz(img) - 1000.0) <= row_hz
    rect = view.spec_image.mapRectToParent(view.spec_image.boundingRect())
    assert rect.right() == pytest.approx(3.0, abs=1e-6) and rect.bottom() == pytest.approx(RATE / 2, rel=1e-6)

    before = view.renderer.renders_drawn
    view.controls.scale.setCurrentText("mel")
    wait_render(qtbot, view, before)
    mel = view.renderer.overview
    assert mel.scale == "mel"
    assert abs(peak_hz(mel) - 1000.0) < 0.02 * 1000
    # the peak row sits where the axis says 1 kHz: y is in mel, the tick labelled "1k" is at 1 kHz
    r = int(np.argmax(mel.db.mean(axis=1)))
    rect = view.spec_image.mapRectToParent(view.spec_image.boundingRect())
    y_peak = rect.top() + (r + 0.5) * rect.height() / mel.n_rows
    assert view.renderer.y_to_hz(y_peak) == pytest.approx(1000.0, rel=0.02)
    ticks = view.spec_plot.getAxis("left")._tickLevels[0]
    tick_1k = next(y for y, label in ticks if label == "1k")
    assert view.renderer.y_to_hz(tick_1k) == pytest.approx(1000.0, rel=1e-9)
    assert abs(tick_1k - y_peak) < rect.height() / mel.n_rows * 2


def test_zoom_rerenders_off_the_gui_thread_at_full_detail(qtbot: Any, make_view: Any, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    view = make_view(sine_file(tmp_path / "tone.wav"))
    threads: list[int] = []
    real = media_data.render_spectrogram

    def spy(*args: Any, **kwargs: Any) -> Any:
        threads.append(threading.get_ident())
        return real(*args, **kwargs)

    monkeypatch.setattr(media_data, "render_spectrogram", spy)
    drawn: list[tuple[float, float]] = []
    view.renderer._on_spectrogram = lambda image: drawn.append((image.t0, image.t1))
    qtbot.wait(200)  # a quiet spell: the next change renders at once
    for a in (0.2, 0.6, 1.0, 1.2):  # a burst: the first renders at once, the last after a pause
        view.wave_plot.setXRange(a, a + 0.5, padding=0)
    qtbot.waitUntil(lambda: view.renderer.is_current(), timeout=WAIT)
    assert len(threads) == 2 and threading.get_ident() not in threads
    assert drawn[-1] == pytest.approx((1.2, 1.7)) and len(drawn) <= 2
    detail = view.renderer.detail
    assert detail is not None and detail.full_detail
    assert (detail.t0, detail.t1) == pytest.approx((1.2, 1.7))
    assert detail.n_cols == round(view.spec_plot.vb.width())
    assert view.renderer.detail_item.isVisible() and view.renderer.overview_item.isVisible()
    assert abs(peak_hz(detail) - 1000.0) <= RATE / 2 / detail.n_rows
    # the waveform follows: at 0.5 s in ~1000 px it is an envelope of this range
    env = view.renderer.envelope
    assert env.t0 == pytest.approx(1.2) and env.times_s[0] >= 1.2 and env.times_s[-1] <= 1.7
    assert env.maxs.max() == pytest.approx(0.5, abs=0.01)


def test_long_file_opens_with_an_overview_and_no_full_stft(qtbot: Any, make_view: Any, tmp_path: Path) -> None:
    rate, seconds = 8000, 600
    path = tmp_path / "ten_minutes.wav"
    t = np.arange(rate * seconds, dtype=np.float64) / rate
    x = 0.3 * np.sin(2 * np.pi * 440.0 * t) + 0.01 * np.random.default_rng(0).standard_normal(t.size)
    sf.write(str(path), x.astype(np.float32), rate, subtype="PCM_16")
    view = make_view(path)
    img = view.renderer.overview
    vb = view.spec_plot.vb
    assert img.db.shape == (round(vb.height()), round(vb.width()))
    assert not img.full_detail
    engine = view.renderer.engine(None)
    total_frames = engine.settings.n_frames(rate * seconds)
    computed = engine.cache_info()["frames_computed"]
    assert computed <= 4 * img.n_cols < total_frames / 5
    assert abs(peak_hz(img) - 440.0) <= rate / 2 / img.n_rows
    assert view.renderer.envelope.maxs.max() == pytest.approx(0.3, abs=0.05)
    # a 10 s zoom is rendered at full detail
    before = view.renderer.renders_drawn
    view.show_range(300.0, 310.0)
    wait_render(qtbot, view, before)
    assert view.renderer.detail.full_detail
    assert view.visible_time_range() == pytest.approx((300.0, 310.0))


def test_cursor_readout(qtbot: Any, make_view: Any, tmp_path: Path) -> None:
    view = make_view(sine_file(tmp_path / "tone.wav"))
    text = view.readout_text(1.0, 1000.0, "spec")
    assert "t = 1.0000 s" in text and "sample 16000" in text and "f = 1000 Hz" in text
    level = float(re.search(r"(-?\d+\.\d) dBFS", text).group(1))
    assert -9.0 < level < -5.0  # a 0.5 FS sine is -6 dBFS (row averaging may lower it a little)
    quiet = float(re.search(r"(-?\d+\.\d) dBFS", view.readout_text(1.0, 5000.0, "spec")).group(1))
    assert quiet < level - 40
    assert "amplitude +0.250 FS" in view.readout_text(0.5, 0.25, "wave")
    assert "sample" not in view.readout_text(-1.0, 0.0, "wave")


class _Drag:
    """What SelectionViewBox reads from a pyqtgraph drag event."""

    def __init__(self, vb: Any, a: QPointF, b: QPointF, mods: Qt.KeyboardModifier) -> None:
        self._a, self._b = vb.mapViewToScene(a), vb.mapViewToScene(b)
        self._mods = mods
        self.accepted = False

    def modifiers(self) -> Qt.KeyboardModifier:
        return self._mods

    def button(self) -> Qt.MouseButton:
        return Qt.MouseButton.LeftButton

    def buttonDownScenePos(self) -> QPointF:  # noqa: N802
        return self._a

    def scenePos(self) -> QPointF:  # noqa: N802
        return self._b

    def isFinish(self) -> bool:  # noqa: N802
        return True

    def accept(self) -> None:
        self.accepted = True


def test_selection_snaps_to_samples_and_is_annotated(qtbot: Any, make_view: Any, tmp_path: Path) -> None:
    view = make_view(sine_file(tmp_path / "tone.wav"))
    vb = view.wave_plot.vb
    assert isinstance(vb, SelectionViewBox)
    drag = _Drag(vb, QPointF(0.70001, 0.0), QPointF(0.40002, 0.0), Qt.KeyboardModifier.ShiftModifier)
    vb.mouseDragEvent(drag)
    sel = view.selection
    assert drag.accepted and sel is not None and not sel.is_box
    for t in (sel.start_s, sel.end_s):
        assert t * RATE == pytest.approx(round(t * RATE), abs=1e-6)
    assert (sel.start_sample, sel.end_sample) == (6400, 11200)
    assert "4800 samples" in view.controls.selection_label.text()

    with qtbot.waitSignal(view.annotation_requested, timeout=2000) as blocker:
        qtbot.keyClick(view.graphics, Qt.Key.Key_A)  # from the plots (the focus after a click)
    assert blocker.args == [7, sel.start_s, sel.end_s, None, None]

    # ctrl+drag on the spectrogram: a time-frequency box; its band comes back in Hz
    view.controls.scale.setCurrentText("mel")
    svb = view.spec_plot.vb
    y = view.renderer.hz_to_y
    drag = _Drag(svb, QPointF(1.0, y(3000.0)), QPointF(1.5, y(500.0)), Qt.KeyboardModifier.ControlModifier)
    svb.mouseDragEvent(drag)
    sel = view.selection
    assert sel.is_box and sel.low_hz == pytest.approx(500.0, rel=1e-6) and sel.high_hz == pytest.approx(3000.0, rel=1e-6)
    with qtbot.waitSignal(view.annotation_requested, timeout=2000) as blocker:
        view.controls.annotate.click()
    assert blocker.args[0] == 7 and blocker.args[1:3] == [1.0, 1.5]
    assert blocker.args[3] == pytest.approx(500.0) and blocker.args[4] == pytest.approx(3000.0)

    # a plain drag pans instead of selecting; Esc clears
    qtbot.keyClick(view, Qt.Key.Key_Escape)
    assert view.selection is None and not view.controls.annotate.isEnabled()
    assert not view.annotate_selection()


def test_set_annotations_draws_regions_and_boxes_per_layer(qtbot: Any, make_view: Any, tmp_path: Path) -> None:
    view = make_view(sine_file(tmp_path / "tone.wav"))
    now = dt.datetime(2026, 1, 2, 3, 4, tzinfo=dt.UTC)
    items = [
        AnnotationItem(1, 7, "edits", "cut here", "", "J. Doe", now, start_s=0.5, end_s=0.9),
        AnnotationItem(2, 7, "tones", "whistle", "at 1 kHz", "J. Doe", now, start_s=1.0, end_s=2.0,
                       low_hz=800.0, high_hz=1200.0),
        AnnotationItem(3, 8, "edits", "other evidence", "", "J. Doe", now, start_s=0.1, end_s=0.2),
        AnnotationItem(4, 7, "edits", "frames only", "", "J. Doe", now, start_frame=3, end_frame=4),
    ]
    view.set_annotations(items)
    assert [a.id for a in view.annotations] == [1, 2]
    drawn = view.annotation_graphics
    regions = [(p, i) for p, i in drawn if type(i).__name__ == "LinearRegionItem"]
    boxes = [(p, i) for p, i in drawn if type(i).__name__ == "BoxItem"]
    labels = [i for _, i in drawn if type(i).__name__ == "TextItem"]
    assert {p for p, _ in regions} == {view.wave_plot, view.spec_plot}
    assert all(i.getRegion() == pytest.approx((0.5, 0.9)) for _, i in regions)
    assert len(boxes) == 1 and boxes[0][0] is view.spec_plot
    rect = boxes[0][1].rect()
    assert (rect.left(), rect.right()) == pytest.approx((1.0, 2.0))
    assert (rect.top(), rect.bottom()) == pytest.approx((800.0, 1200.0))  # linear axis: y is Hz
    assert sorted(label.toPlainText() for label in labels) == ["edits: cut here", "tones: whistle"]
    assert regions[0][1].brush.color().rgb() != boxes[0][1].pen().color().rgb()  # one colour per layer

    view.controls.scale.setCurrentText("log")  # boxes follow the frequency axis
    box = next(i for _, i in view.annotation_graphics if type(i).__name__ == "BoxItem")
    assert view.renderer.y_to_hz(box.rect().top()) == pytest.approx(800.0)
    assert box.rect().top() == pytest.approx(np.log(800.0))
    view.set_annotations([])
    assert view.annotation_graphics == []


def test_decode_report_banner_for_a_truncated_mp3(qtbot: Any, make_view: Any, tmp_path: Path) -> None:
    import av
    from badfiles import write_av_audio

    if "libmp3lame" not in av.codecs_available:
        pytest.skip("the installed PyAV has no MP3 encoder")

    path = write_av_audio(tmp_path / "full.mp3", "libmp3lame", container="mp3", duration_s=4.0, rate=RATE)
    data = path.read_bytes()
    cut = tmp_path / "cut.mp3"
    cut.write_bytes(data[: len(data) * 6 // 10])
    view = make_view(cut)
    assert view.banner.isVisible()
    text = view.banner.text()
    assert re.search(r"decoding stopped at 2\.\d{3} s", text) and "truncated" in text
    assert view.stream.duration_s < 3.0
    clean = make_view(sine_file(tmp_path / "tone.wav"))
    assert not clean.banner.isVisible()


def test_playback_in_the_view(qtbot: Any, make_view: Any, tmp_path: Path) -> None:
    silent = make_view(sine_file(tmp_path / "a.wav"))
    assert not silent.controls.play.isEnabled()
    assert silent.controls.playback_status.text() == NO_DEVICE
    qtbot.keyClick(silent, Qt.Key.Key_Space)  # nothing to play on: no crash, stays stopped
    assert silent.playback.state == "stopped"

    sink = FakeSink()
    view = make_view(sine_file(tmp_path / "b.wav"), sink_factory=lambda wanted: (sink, OutputFormat(wanted.rate, 1)))
    assert view.controls.play.isEnabled()
    view.set_selection(1.0, 1.25)
    view.controls.loop.setChecked(True)
    view.controls.play_selection.click()
    assert view.playback.state == "playing" and sink.device is not None
    sink.device.read(2 * int(0.3 * RATE))
    sink.us = 300_000  # 0.3 s into a 0.25 s loop
    qtbot.waitUntil(lambda: abs(view.playhead[1].pos().x() - 1.05) < 1e-3, timeout=2000)
    assert all(abs(line.pos().x() - 1.05) < 1e-3 for line in view.playhead)
    assert view.controls.play.text().endswith("Pause")
    view._on_click(QPointF(2.0, 0.0))  # a click in the plot moves the playhead
    assert view.playback.position_s == pytest.approx(2.0)
    view.playback.stop()
    view.dispose()
    assert view.playback.state == "stopped"


def test_settings_dialog_and_rerender_with_new_settings(qtbot: Any, make_view: Any, tmp_path: Path) -> None:
    from forensics_app.gui.views.spectrogram_settings_dialog import SpectrogramSettingsDialog

    view = make_view(sine_file(tmp_path / "tone.wav"))
    dialog = SpectrogramSettingsDialog(display=view.display, rate=RATE, parent=view)
    qtbot.addWidget(dialog)
    dialog.window.setCurrentText("blackman")
    dialog.win_length.setValue(2048)
    assert "at least the window length" in dialog.problem()  # FFT 1024 < window 2048
    dialog.n_fft.setCurrentText("4096")
    dialog.hop.setValue(128)
    dialog.db_floor.setValue(-90.0)
    dialog.db_range.setValue(80.0)
    dialog.f_max.setValue(4000.0)
    assert dialog.problem() == ""
    display = dialog.display()
    assert display.stft.spectral_key() == ("blackman", 2048, 4096, 128)
    assert display.stft.levels == (-90.0, -10.0) and display.f_max_hz == 4000.0

    view.show_range(1.0, 1.5)
    qtbot.waitUntil(lambda: view.renderer.is_current() and view.renderer.detail is not None, timeout=WAIT)
    before = view.renderer.renders_drawn
    view.set_display(display)
    wait_render(qtbot, view, before)
    qtbot.waitUntil(lambda: view.renderer._overview_key is None and view.renderer.is_current(), timeout=WAIT)
    detail, overview = view.renderer.detail, view.renderer.overview
    assert detail.full_detail and detail.f_high_hz == pytest.approx(4000.0)
    assert detail.levels == (-90.0, -10.0) and float(detail.db.min()) >= -90.0
    assert overview.f_high_hz == pytest.approx(4000.0) and view.renderer.overview_item.isVisible()
    assert abs(peak_hz(detail) - 1000.0) <= 4000.0 / detail.n_rows
    _, (y0, y1) = view.spec_plot.viewRange()
    assert (y0, y1) == pytest.approx((0.0, 4000.0))
    assert view.renderer.engine(None).settings.spectral_key() == ("blackman", 2048, 4096, 128)


def test_channel_selector_shows_and_plays_one_channel(qtbot: Any, make_view: Any, tmp_path: Path) -> None:
    t = np.arange(2 * RATE) / RATE
    stereo = np.stack([0.5 * np.sin(2 * np.pi * 1000 * t), 0.5 * np.sin(2 * np.pi * 3000 * t)], axis=1)
    path = tmp_path / "stereo.wav"
    sf.write(str(path), stereo.astype(np.float32), RATE, subtype="PCM_16")
    wanted: list[OutputFormat] = []

    def factory(fmt: OutputFormat) -> tuple[FakeSink, OutputFormat]:
        wanted.append(fmt)
        return FakeSink(), fmt

    view = make_view(path, sink_factory=factory)
    combo = view.controls.channel
    assert combo.isVisible() and [combo.itemData(i) for i in range(combo.count())] == [None, 0, 1]
    assert wanted[-1] == OutputFormat(RATE, 2)
    before = view.renderer.renders_drawn
    combo.setCurrentIndex(2)
    wait_render(qtbot, view, before)
    assert abs(peak_hz(view.renderer.overview) - 3000.0) <= RATE / 2 / view.renderer.overview.n_rows
    assert wanted[-1] == OutputFormat(RATE, 1)  # the selected channel alone is played
    qtbot.waitUntil(lambda: view.renderer.is_current() and view.renderer.envelope is not None, timeout=WAIT)
    assert view.renderer.envelope.maxs.max() == pytest.approx(0.5, abs=0.01)


def test_lanes_menu_limits_and_chooses_the_drawn_lanes(qtbot) -> None:
    import numpy as np

    from forensics_app.domain.results import TimeSeries
    from forensics_app.gui.views.audio_view import DEFAULT_LANES, AudioView, lane_key
    from forensics_app.gui.views.media_data import Lane
    from forensics_app.gui.workers import WorkerPool
    from forensics_app.store.artifacts import ArtifactStore

    pool = WorkerPool()
    view = AudioView(pool=pool, artifacts=ArtifactStore(__import__("pathlib").Path("/nonexistent")))
    qtbot.addWidget(view)
    lanes = tuple(Lane(i, f"test.a{i} · ", TimeSeries("x", "Hz", np.arange(3.0), np.arange(3.0)))
                  for i in range(DEFAULT_LANES + 3))
    view._on_lanes(lanes)
    assert len(view.lanes) == DEFAULT_LANES
    actions = view.controls.lanes.menu().actions()
    assert len(actions) == DEFAULT_LANES + 3 and sum(a.isChecked() for a in actions) == DEFAULT_LANES
    actions[-1].setChecked(True)
    actions[0].setChecked(False)
    assert {lane_key(lane) for lane in view.lanes} == {a.text() for a in actions if a.isChecked()}
    pool.shutdown()
