"""Playback: PCM conversion, resampling across blocks, the playhead with a fake sink, no device."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from PySide6.QtCore import QIODevice

from forensics_app.gui.playback import (
    NO_DEVICE,
    OutputFormat,
    PcmBlockSource,
    PlaybackController,
    qt_sink_factory,
)

RATE = 8000


def _sine(n: int, freq: float, rate: int = RATE, channels: int = 1) -> np.ndarray:
    t = np.arange(n) / rate
    x = (0.5 * np.sin(2 * np.pi * freq * t)).astype(np.float32)
    return np.repeat(x[:, None], channels, axis=1)


class FakeSink:
    """Stands in for QAudioSink: pulls bytes when the test advances its clock."""

    def __init__(self, fmt: OutputFormat) -> None:
        self.fmt = fmt
        self.device: QIODevice | None = None
        self.processed_us = 0
        self.pulled = bytearray()
        self.suspended = False
        self.starts = 0

    def start(self, device: QIODevice) -> None:
        self.device = device
        self.processed_us = 0
        self.pulled = bytearray()
        self.starts += 1

    def stop(self) -> None:
        self.device = None

    def suspend(self) -> None:
        self.suspended = True

    def resume(self) -> None:
        self.suspended = False

    def processedUSecs(self) -> int:  # noqa: N802 - Qt's name
        return self.processed_us

    def advance(self, seconds: float) -> int:
        """Play ``seconds`` of audio: read that many frames from the device, advance the clock."""
        assert self.device is not None and not self.suspended
        frame = 2 * self.fmt.channels
        want = int(round(seconds * self.fmt.rate)) * frame
        data = bytes(self.device.read(want))
        self.pulled += data
        frames = len(data) // frame
        self.processed_us += int(round(frames / self.fmt.rate * 1e6))
        return frames


def _controller(qtbot: Any, x: np.ndarray, *, out_rate: int | None = None
                ) -> tuple[PlaybackController, list[FakeSink]]:
    sinks: list[FakeSink] = []

    def factory(wanted: OutputFormat) -> tuple[FakeSink, OutputFormat]:
        fmt = OutputFormat(out_rate or wanted.rate, wanted.channels)
        sinks.append(FakeSink(fmt))
        return sinks[-1], fmt

    ctl = PlaybackController(sink_factory=factory, tick_ms=10)
    assert ctl.set_source(lambda a, b: x[a:b], rate=RATE, n_samples=x.shape[0], channels=x.shape[1])
    return ctl, sinks


def test_pcm_source_int16_and_loop() -> None:
    x = _sine(1000, 500.0)
    src = PcmBlockSource(lambda a, b: x[a:b], rate_in=RATE, n_samples=1000, fmt=OutputFormat(RATE, 2),
                         start=100, stop=400, loop=True, block=64)
    data = src.read(4 * 600)  # two passes of 300 frames, stereo int16
    pcm = np.frombuffer(data, dtype="<i2").reshape(-1, 2)
    assert pcm.shape == (600, 2)
    expected = np.rint(x[100:400, 0] * 32767).astype(np.int16)
    np.testing.assert_array_equal(pcm[:300, 0], expected)
    np.testing.assert_array_equal(pcm[300:, 1], expected)  # looped, mono copied to both channels
    once = PcmBlockSource(lambda a, b: x[a:b], rate_in=RATE, n_samples=1000, fmt=OutputFormat(RATE, 1),
                          start=0, stop=50, loop=False)
    assert len(once.read(10_000)) == 100 and once.read(10) == b"" and once.exhausted


def test_resampled_blocks_join_without_seams() -> None:
    """8 kHz -> 44.1 kHz block by block equals one whole-signal resample away from the ends."""
    from scipy.signal import resample_poly

    x = _sine(8000, 440.0)
    src = PcmBlockSource(lambda a, b: x[a:b], rate_in=RATE, n_samples=8000, fmt=OutputFormat(44_100, 1),
                         start=0, stop=8000, block=500)
    pcm = np.frombuffer(src.read(10**7), dtype="<i2").astype(np.float64) / 32767
    assert pcm.size == 44_100
    whole = resample_poly(x[:, 0].astype(np.float64), 441, 80)
    inner = slice(2000, 42_000)
    assert np.max(np.abs(pcm[inner] - whole[inner])) < 2e-4
    spec = np.abs(np.fft.rfft(pcm * np.hanning(pcm.size)))
    assert abs(np.argmax(spec) * 44_100 / pcm.size - 440.0) < 2.0


def test_play_selection_advances_playhead_and_loops(qtbot: Any) -> None:
    x = _sine(4 * RATE, 300.0)
    ctl, sinks = _controller(qtbot, x)
    sink = sinks[0]
    positions: list[float] = []
    ctl.position_changed.connect(positions.append)
    ctl.play_range(1.0, 1.5, loop=True)
    assert ctl.state == "playing" and ctl.position_s == pytest.approx(1.0)
    assert sink.advance(0.2) == int(0.2 * RATE)
    ctl.tick()
    assert ctl.position_s == pytest.approx(1.2, abs=1e-3)
    sink.advance(0.4)  # 0.6 s into a 0.5 s loop
    ctl.tick()
    assert ctl.position_s == pytest.approx(1.1, abs=1e-3)
    assert ctl.state == "playing"
    # the bytes pulled are the selection, then the selection again
    pcm = np.frombuffer(bytes(sink.pulled), dtype="<i2")
    sel = np.rint(x[int(1.0 * RATE):int(1.5 * RATE), 0] * 32767).astype(np.int16)
    np.testing.assert_array_equal(pcm[:sel.size], sel)
    np.testing.assert_array_equal(pcm[sel.size:], sel[:pcm.size - sel.size])
    # the timer moves the playhead by itself while playing
    sink.advance(0.1)
    qtbot.waitUntil(lambda: abs(ctl.position_s - 1.2) < 1e-3, timeout=2000)
    ctl.pause()
    assert ctl.state == "paused" and sink.suspended
    ctl.play()
    assert ctl.state == "playing" and not sink.suspended
    ctl.stop()
    assert ctl.state == "stopped"
    assert all(1.0 <= p < 1.5 for p in positions)


def test_unlooped_range_stops_at_its_end_and_seek(qtbot: Any) -> None:
    x = _sine(2 * RATE, 300.0)
    ctl, sinks = _controller(qtbot, x)
    sink = sinks[0]
    states: list[str] = []
    ctl.state_changed.connect(states.append)
    ctl.play_range(0.5, 0.75, loop=False)
    assert sink.advance(1.0) == int(0.25 * RATE)  # the device ends with the range
    assert sink.device is not None and sink.device.atEnd()
    ctl.tick()
    assert ctl.state == "stopped" and ctl.position_s == pytest.approx(0.75)
    assert states == ["playing", "stopped"]
    ctl.seek(1.5)
    assert ctl.position_s == pytest.approx(1.5) and ctl.state == "stopped"
    ctl.play()  # from the playhead to the end
    assert ctl.segment == pytest.approx((1.5, 2.0))
    sink.advance(0.1)
    ctl.seek(0.25)  # while playing: continue from the new time
    assert ctl.segment == pytest.approx((0.25, 2.0)) and sink.starts == 3
    sink.advance(0.5)
    ctl.tick()
    assert ctl.position_s == pytest.approx(0.75, abs=1e-3)


def test_resampling_output_keeps_time(qtbot: Any) -> None:
    """A device at 48 kHz plays an 8 kHz source: the playhead still follows seconds."""
    x = _sine(2 * RATE, 1000.0, channels=2)
    ctl, sinks = _controller(qtbot, x, out_rate=48_000)
    assert ctl.output_format == OutputFormat(48_000, 2)
    ctl.play_range(0.0, 1.0)
    assert sinks[0].advance(0.3) == int(0.3 * 48_000)
    ctl.tick()
    assert ctl.position_s == pytest.approx(0.3, abs=1e-3)


def test_without_device_the_controller_disables_itself(qtbot: Any) -> None:
    ctl = PlaybackController(sink_factory=lambda wanted: None)
    seen: list[tuple[bool, str]] = []
    ctl.availability_changed.connect(lambda ok, msg: seen.append((ok, msg)))
    x = _sine(RATE, 300.0)
    assert not ctl.set_source(lambda a, b: x[a:b], rate=RATE, n_samples=RATE, channels=1)
    assert seen == [(False, NO_DEVICE)] and ctl.message == NO_DEVICE
    ctl.play()
    ctl.play_range(0.1, 0.2, loop=True)
    assert ctl.state == "stopped"

    def broken(wanted: OutputFormat) -> None:
        raise RuntimeError("audio server crashed")

    ctl2 = PlaybackController(sink_factory=broken)
    assert not ctl2.set_source(lambda a, b: x[a:b], rate=RATE, n_samples=RATE, channels=1)
    assert "audio server crashed" in ctl2.message


def test_default_factory_never_crashes(qtbot: Any) -> None:
    from PySide6.QtMultimedia import QMediaDevices

    ctl = PlaybackController()  # QtMultimedia's default device, if there is one
    x = _sine(RATE, 300.0)
    ok = ctl.set_source(lambda a, b: x[a:b], rate=RATE, n_samples=RATE, channels=1)
    if QMediaDevices.defaultAudioOutput().isNull():
        assert not ok and ctl.message == NO_DEVICE
        assert qt_sink_factory(OutputFormat(RATE, 1)) is None
    ctl.set_source(None, rate=RATE, n_samples=0, channels=1)
    assert not ctl.available
