"""Listening: play a recording (or a looped part of it) through QtMultimedia with a moving playhead.

The audio is never decoded whole. :class:`PcmBlockSource` reads small blocks from a sample reader
(an :class:`~forensics_app.ingest.audio_stream.AudioStream`), converts float32 to interleaved
int16 on demand and, when the output device does not take the recording's rate, resamples each
block with :func:`scipy.signal.resample_poly` (with enough context on both sides that the blocks
join without seams). :class:`PcmStreamDevice` hands those bytes to a ``QAudioSink`` in pull mode.

:class:`PlaybackController` owns the sink and the playhead: it reads the sink's
``processedUSecs()`` about 30 times a second and emits the position in seconds. The sink comes
from an injected factory, so tests drive the controller with a fake sink and a fake clock, and a
machine without an audio output device gets a controller that says so and stays disabled.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from PySide6.QtCore import QIODevice, QObject, QTimer, Signal
from scipy.signal import resample_poly

log = logging.getLogger(__name__)

SampleReader = Callable[[int, int], np.ndarray]
"""``reader(start, stop)`` -> float32 samples ``[start, stop)``, shape (n,) or (n, channels)."""

BLOCK_SAMPLES = 4096
"""Input samples converted per block (about 0.1-0.5 s): memory stays bounded by a few blocks."""
RESAMPLE_HALF_TAPS = 10
"""Half length of resample_poly's default filter, in input samples per max(up, down) / up."""
TICK_MS = 33
"""Playhead update interval (about 30 Hz)."""
NO_DEVICE = "no audio output device"

STOPPED, PLAYING, PAUSED = "stopped", "playing", "paused"


@dataclass(frozen=True)
class OutputFormat:
    """What the output device plays: sample rate (Hz) and channel count (int16 samples)."""

    rate: int
    channels: int


class AudioSinkLike(Protocol):
    """The part of ``QAudioSink`` the controller uses (a fake implements it in tests)."""

    def start(self, device: QIODevice) -> None:
        """Start pulling bytes from ``device``."""

    def stop(self) -> None:
        """Stop and drop buffered audio."""

    def suspend(self) -> None:
        """Pause (``processedUSecs`` stops growing)."""

    def resume(self) -> None:
        """Continue after :meth:`suspend`."""

    def processedUSecs(self) -> int:  # noqa: N802 - Qt's name
        """Microseconds of audio played since :meth:`start`."""


SinkFactory = Callable[[OutputFormat], "tuple[AudioSinkLike, OutputFormat] | None"]
"""``factory(wanted)`` -> (sink, format it plays) or None when there is no output device."""


def qt_sink_factory(wanted: OutputFormat) -> tuple[AudioSinkLike, OutputFormat] | None:
    """A ``QAudioSink`` on the default output device, int16, at ``wanted`` if the device takes it.

    Falls back to the device's preferred rate (the source is then resampled) and to a channel
    count the device supports. Returns None when no output device exists.
    """
    from PySide6.QtMultimedia import QAudioFormat, QAudioSink, QMediaDevices

    device = QMediaDevices.defaultAudioOutput()
    if device.isNull():
        return None
    preferred = device.preferredFormat()
    rates = [wanted.rate] if device.minimumSampleRate() <= wanted.rate <= device.maximumSampleRate() else []
    rates.append(preferred.sampleRate() or 48_000)
    low, high = device.minimumChannelCount(), device.maximumChannelCount()
    channels = [min(max(wanted.channels, low), max(high, low)), 2, 1]
    for rate in rates:
        for ch in channels:
            fmt = QAudioFormat()
            fmt.setSampleRate(int(rate))
            fmt.setChannelCount(int(ch))
            fmt.setSampleFormat(QAudioFormat.SampleFormat.Int16)
            if device.isFormatSupported(fmt):
                return QAudioSink(device, fmt), OutputFormat(int(rate), int(ch))
    return None


def _map_channels(x: np.ndarray, channels: int) -> np.ndarray:
    """(n,) or (n, c) float32 -> (n, channels): mono mix when narrowing, copies when widening."""
    x = x.reshape(x.shape[0], -1)
    c = x.shape[1]
    if c == channels:
        return x
    if channels < c or c == 1:
        mono = x.mean(axis=1, keepdims=True) if c > 1 else x
        return np.repeat(mono, channels, axis=1)
    return np.concatenate([x, np.zeros((x.shape[0], channels - c), dtype=x.dtype)], axis=1)


def to_int16_bytes(x: np.ndarray) -> bytes:
    """Float samples in full-scale units, shape (n, channels) -> interleaved little-endian int16."""
    y = np.rint(np.clip(x, -1.0, 1.0) * 32767.0).astype("<i2")
    return y.tobytes()


class PcmBlockSource:
    """Interleaved int16 bytes of samples ``[start, stop)`` of a reader, converted block by block.

    Parameters
    ----------
    reader : SampleReader
        Reads float32 input samples.
    rate_in : int
        Rate of the reader (Hz).
    n_samples : int
        Samples the reader has (context reads are clipped to ``[0, n_samples)``).
    fmt : OutputFormat
        Rate and channels of the bytes produced.
    start, stop : int
        Input sample range to play.
    loop : bool
        Start over at ``start`` after ``stop`` instead of ending.
    first : int, optional
        Sample where the first pass begins (default ``start``); later passes begin at ``start``.
    block : int
        Approximate input samples per block.
    """

    def __init__(self, reader: SampleReader, *, rate_in: int, n_samples: int, fmt: OutputFormat,
                 start: int, stop: int, loop: bool = False, first: int | None = None,
                 block: int = BLOCK_SAMPLES) -> None:
        self._reader = reader
        self._n_samples = int(n_samples)
        self.fmt = fmt
        self.start = int(min(max(start, 0), n_samples))
        self.stop = int(min(max(stop, self.start), n_samples))
        self.loop = loop
        g = math.gcd(int(rate_in), int(fmt.rate))
        self.up, self.down = int(fmt.rate) // g, int(rate_in) // g
        self.block = max(1, round(block / self.down)) * self.down
        half = math.ceil(RESAMPLE_HALF_TAPS * max(self.up, self.down) / self.up) + 1
        self.context = 0 if self.up == self.down else math.ceil(half / self.down) * self.down
        first = self.start if first is None else int(min(max(first, self.start), self.stop))
        self._offset = first - self.start
        self._buf = bytearray()
        self.exhausted = self.stop <= first
        self.error: str | None = None

    @property
    def frame_bytes(self) -> int:
        """Bytes per output frame (all channels)."""
        return 2 * self.fmt.channels

    def bytes_hint(self) -> int:
        """Bytes ready or still to come in this pass (for ``bytesAvailable``)."""
        if self.exhausted:
            return len(self._buf)
        left = self.stop - self.start - self._offset
        return len(self._buf) + math.ceil(left * self.up / self.down) * self.frame_bytes

    def read(self, max_bytes: int) -> bytes:
        """Up to ``max_bytes`` bytes (whole frames); empty once the range is played (without loop)."""
        want = max_bytes - max_bytes % self.frame_bytes
        while len(self._buf) < want and self._fill():
            pass
        out = bytes(self._buf[:want])
        del self._buf[:want]
        return out

    def _fill(self) -> bool:
        length = self.stop - self.start
        if self.exhausted:
            return False
        if self._offset >= length:
            if not self.loop:
                self.exhausted = True
                return False
            self._offset = 0
        n = min(self.block, length - self._offset)
        a = self.start + self._offset
        try:
            block = self._convert(a, n)
        except Exception as exc:  # noqa: BLE001 - a read error ends playback, never the app
            log.exception("playback read failed at sample %d", a)
            self.error = f"{type(exc).__name__}: {exc}"
            self.exhausted = True
            return False
        self._offset += n
        self._buf += to_int16_bytes(block)
        return True

    def _read_padded(self, a: int, b: int) -> np.ndarray:
        """Samples [a, b) with zeros outside the recording, shape (b - a, channels_in)."""
        lo, hi = max(a, 0), min(b, self._n_samples)
        x = np.asarray(self._reader(lo, hi), dtype=np.float32) if hi > lo else np.zeros((0, 1), np.float32)
        x = x.reshape(x.shape[0], -1)
        if lo - a or b - hi:
            x = np.pad(x, ((lo - a, b - hi), (0, 0)))
        return x

    def _convert(self, a: int, n: int) -> np.ndarray:
        """Output frames of input samples [a, a + n), shape (m, channels_out), float32."""
        if self.up == self.down:
            return _map_channels(self._read_padded(a, a + n), self.fmt.channels)
        ctx = self.context
        x = self._read_padded(a - ctx, a + n + ctx)
        y = resample_poly(x, self.up, self.down, axis=0).astype(np.float32)
        first = ctx * self.up // self.down
        m = math.ceil(n * self.up / self.down)
        return _map_channels(y[first:first + m], self.fmt.channels)


class PcmStreamDevice(QIODevice):
    """A read-only sequential ``QIODevice`` that serves a :class:`PcmBlockSource` to a sink."""

    def __init__(self, source: PcmBlockSource, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.source = source

    def readData(self, maxlen: int) -> bytes:  # noqa: N802 - Qt override
        return self.source.read(int(maxlen))

    def writeData(self, data: bytes) -> int:  # noqa: N802 - Qt override
        return -1

    def bytesAvailable(self) -> int:  # noqa: N802 - Qt override
        return self.source.bytes_hint() + super().bytesAvailable()

    def isSequential(self) -> bool:  # noqa: N802 - Qt override
        return True

    def atEnd(self) -> bool:  # noqa: N802 - Qt override
        return self.source.exhausted and self.source.bytes_hint() == 0 and super().atEnd()


class PlaybackController(QObject):
    """Play, pause, stop, play a range and loop it; report the playhead in seconds.

    Parameters
    ----------
    sink_factory : SinkFactory, optional
        Makes the output sink (default :func:`qt_sink_factory`, QtMultimedia's default device).
    tick_ms : int
        Playhead update interval while playing.
    parent : QObject, optional
        Qt parent.

    Signals
    -------
    position_changed(seconds)
        The playhead moved (while playing, and on :meth:`seek`).
    state_changed(state)
        ``"stopped"``, ``"playing"`` or ``"paused"``.
    availability_changed(available, message)
        Whether playback is possible; ``message`` says why not (e.g. "no audio output device").
    """

    position_changed = Signal(float)
    state_changed = Signal(str)
    availability_changed = Signal(bool, str)

    def __init__(self, *, sink_factory: SinkFactory | None = None, tick_ms: int = TICK_MS,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._factory = sink_factory or qt_sink_factory
        self._reader: SampleReader | None = None
        self._rate = 1
        self._n_samples = 0
        self._channels = 1
        self._sink: AudioSinkLike | None = None
        self._fmt: OutputFormat | None = None
        self._device: PcmStreamDevice | None = None
        self.available = False
        self.message = "no recording"
        self.state = STOPPED
        self.loop = False
        self._position = 0.0
        self._segment = (0.0, 0.0)  # seconds being played: [start, end)
        self._first = 0.0  # where in the segment playback began (s)
        self._looping = False
        self._timer = QTimer(self)
        self._timer.setInterval(int(tick_ms))
        self._timer.timeout.connect(self.tick)

    # ------------------------------------------------------------------ source

    def set_source(self, reader: SampleReader | None, *, rate: int, n_samples: int,
                   channels: int) -> bool:
        """Play from ``reader`` (float32 samples at ``rate`` Hz, ``channels`` wide); None detaches.

        Creates the output sink; returns whether playback is available.
        """
        self.stop()
        self._release_sink()
        self._reader = reader
        self._rate, self._n_samples, self._channels = int(rate), int(n_samples), max(int(channels), 1)
        self._position = min(self._position, self.duration_s)
        if reader is None:
            return self._set_available(False, "no recording")
        try:
            made = self._factory(OutputFormat(self._rate, min(self._channels, 2)))
        except Exception as exc:  # noqa: BLE001 - a broken audio stack disables playback only
            log.exception("cannot create the audio sink")
            return self._set_available(False, f"audio output failed: {exc}")
        if made is None:
            return self._set_available(False, NO_DEVICE)
        self._sink, self._fmt = made
        if isinstance(self._sink, QObject) and self._sink.parent() is None:
            self._sink.setParent(self)
        return self._set_available(True, f"{self._fmt.rate} Hz, {self._fmt.channels} ch")

    def _set_available(self, ok: bool, message: str) -> bool:
        self.available, self.message = ok, message
        self.availability_changed.emit(ok, message)
        return ok

    def _release_sink(self) -> None:
        if self._sink is not None:
            self._sink.stop()
            if isinstance(self._sink, QObject):
                self._sink.deleteLater()
        self._sink = None
        self._fmt = None

    @property
    def duration_s(self) -> float:
        """Length of the source (s)."""
        return self._n_samples / self._rate if self._rate else 0.0

    @property
    def output_format(self) -> OutputFormat | None:
        """What the sink plays (None without a sink)."""
        return self._fmt

    @property
    def position_s(self) -> float:
        """The playhead (s)."""
        return self._position

    @property
    def segment(self) -> tuple[float, float]:
        """Range (s) of the current or last playback."""
        return self._segment

    # ----------------------------------------------------------------- control

    def play(self) -> None:
        """Play from the playhead to the end (or resume when paused)."""
        if self.state == PAUSED:
            self._resume()
            return
        start = self._position if self._position < self.duration_s else 0.0
        self._start(start, self.duration_s, loop=False)

    def play_range(self, start_s: float, end_s: float, *, loop: bool | None = None) -> None:
        """Play ``[start_s, end_s)`` (seconds), looping it when ``loop`` (default :attr:`loop`)."""
        start_s, end_s = sorted((float(start_s), float(end_s)))
        self._start(max(start_s, 0.0), min(end_s, self.duration_s),
                    loop=self.loop if loop is None else bool(loop))

    def pause(self) -> None:
        """Pause; :meth:`play` resumes."""
        if self.state != PLAYING or self._sink is None:
            return
        self.tick()
        self._sink.suspend()
        self._timer.stop()
        self._set_state(PAUSED)

    def toggle(self) -> None:
        """Pause when playing, play otherwise."""
        if self.state == PLAYING:
            self.pause()
        else:
            self.play()

    def stop(self) -> None:
        """Stop; the playhead stays where playback stopped."""
        if self.state == STOPPED:
            return
        self.tick()
        self._halt()

    def seek(self, seconds: float) -> None:
        """Move the playhead; playback (if running) continues from there (a pause becomes a stop).

        Inside a looped range the loop goes on (from the new time to the range's end, then from
        its start); elsewhere playback continues to the end of the recording.
        """
        t = float(min(max(seconds, 0.0), self.duration_s))
        if self.state == PAUSED:
            self._halt()
        if self.state == STOPPED:
            self._set_position(t)
            return
        a, b = self._segment
        if self._looping and a <= t < b:
            self._start(a, b, loop=True, first_s=t)
        else:
            self._start(t, self.duration_s, loop=False)

    def set_loop(self, loop: bool) -> None:
        """Loop played ranges (takes effect at the next :meth:`play_range`)."""
        self.loop = bool(loop)

    # ------------------------------------------------------------------ clock

    def tick(self) -> None:
        """Read the sink's clock, move the playhead and stop at the end of an unlooped range."""
        if self.state != PLAYING or self._sink is None:
            return
        elapsed = max(self._sink.processedUSecs(), 0) / 1e6
        a, b = self._segment
        length = b - a
        device = self._device
        if device is not None and device.source.error is not None:
            self._halt()
            self._set_available(self.available, f"playback stopped: {device.source.error}")
            return
        first_pass = b - self._first
        if elapsed < first_pass:
            self._set_position(self._first + elapsed)
        elif self._looping and length > 0:
            self._set_position(a + math.fmod(elapsed - first_pass, length))
        else:
            self._set_position(b)
            self._halt()

    def _set_position(self, t: float) -> None:
        self._position = t
        self.position_changed.emit(t)

    def _set_state(self, state: str) -> None:
        if state != self.state:
            self.state = state
            self.state_changed.emit(state)

    def _start(self, start_s: float, end_s: float, *, loop: bool, first_s: float | None = None) -> None:
        if not self.available or self._sink is None or self._reader is None or self._fmt is None:
            return
        if self.state != STOPPED:
            self._sink.stop()
        a = int(round(start_s * self._rate))
        b = int(round(end_s * self._rate))
        first = a if first_s is None else int(min(max(round(first_s * self._rate), a), b))
        if b <= a or first >= b:
            return
        source = PcmBlockSource(self._reader, rate_in=self._rate, n_samples=self._n_samples,
                                fmt=self._fmt, start=a, stop=b, loop=loop, first=first)
        old = self._device
        self._device = PcmStreamDevice(source, self)
        self._device.open(QIODevice.OpenModeFlag.ReadOnly)
        if old is not None:
            old.close()
            old.deleteLater()
        self._segment = (a / self._rate, b / self._rate)
        self._first = first / self._rate
        self._looping = loop
        self._sink.start(self._device)
        error = getattr(self._sink, "error", None)
        code = error() if callable(error) else 0
        if getattr(code, "value", code) != 0:
            self._halt()
            self._set_available(False, f"audio output failed ({getattr(code, 'name', code)})")
            return
        self._set_state(PLAYING)
        self._set_position(self._first)
        self._timer.start()

    def _resume(self) -> None:
        if self._sink is None:
            return
        self._sink.resume()
        self._timer.start()
        self._set_state(PLAYING)

    def _halt(self) -> None:
        self._timer.stop()
        if self._sink is not None:
            self._sink.stop()
        if self._device is not None:
            self._device.close()
        self._set_state(STOPPED)
