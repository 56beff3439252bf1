"""What the views draw, prepared off the GUI thread (no Qt here).

These functions run inside :class:`~forensics_app.gui.workers.WorkerPool` jobs: they open or
decode the stored evidence copy, reduce it to display resolution (a waveform envelope and a
spectrogram of the visible range at screen resolution, never a whole-file STFT) and return frozen
dataclasses in physical units.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from forensics_app.domain.jobs import ProgressToken
from forensics_app.domain.media import VideoSource
from forensics_app.domain.results import AlignmentMatrix, TimeFreqMap, TimeSeries
from forensics_app.dsp.envelope import waveform_envelope
from forensics_app.dsp.scales import FrequencyScale
from forensics_app.dsp.spectrogram import SpectrogramEngine, SpectrogramImage, settings_for
from forensics_app.dsp.stft import STFTSettings
from forensics_app.ingest import decode
from forensics_app.ingest.audio_stream import AudioStream, open_audio_stream
from forensics_app.store.artifacts import ArtifactStore

OVERVIEW_MAX_COLUMNS = 4096
"""Upper bound of spectrogram columns per request (a very wide screen renders no more)."""


@dataclass(frozen=True)
class AudioOpened:
    """An audio evidence copy opened for chunked reading.

    Attributes
    ----------
    stream : AudioStream
        Random access to the samples (thread-safe reads); the view closes it.
    stft : STFTSettings
        Default STFT for the rate (a window of about 64 ms, hop a quarter of it).
    """

    stream: AudioStream
    stft: STFTSettings


@dataclass(frozen=True)
class Envelope:
    """A waveform envelope at screen resolution.

    Attributes
    ----------
    t0, t1 : float
        Requested time range (s).
    times_s : np.ndarray
        Column centre times (s), shape (m,).
    mins, maxs : np.ndarray
        Per-column extremes in full-scale units, float32, shape (m,).
    """

    t0: float
    t1: float
    times_s: np.ndarray
    mins: np.ndarray
    maxs: np.ndarray

    @property
    def peak(self) -> float:
        """Largest absolute value in the envelope (0 when empty)."""
        if not len(self.mins):
            return 0.0
        return float(max(np.max(np.abs(self.mins)), np.max(np.abs(self.maxs))))


@dataclass(frozen=True)
class Lane:
    """One time series of a finding, drawn as a lane under the spectrogram."""

    finding_id: int
    title: str
    series: TimeSeries


@dataclass(frozen=True)
class MapLayer:
    """One time x frequency map of a finding, drawn as an overlay on the spectrogram.

    Attributes
    ----------
    finding_id : int
        The finding that stored the map.
    analyzer_id : str
        The analyzer of that finding.
    key : str
        Its name in the Overlay menu, ``"analyzer · map name · 1.20–2.40 s"`` (unique in a view).
    start_s, end_s : float
        The finding's time range (s), or the map's own extent when the finding has none.
    tf_map : TimeFreqMap
        The map (absolute times in s, frequencies in Hz).
    """

    finding_id: int
    analyzer_id: str
    key: str
    start_s: float
    end_s: float
    tf_map: TimeFreqMap


@dataclass(frozen=True)
class AlignmentLayer:
    """One alignment matrix of a finding (reference comparison, transcript alignment).

    Attributes
    ----------
    finding_id, run_id : int
        The finding that stored the matrix and its run (whose other findings are the departures).
    analyzer_id : str
        The analyzer of that run.
    matrix : AlignmentMatrix
        Columns in questioned time (s), rows reference frames or transcript words.
    """

    finding_id: int
    run_id: int
    analyzer_id: str
    matrix: AlignmentMatrix

    @property
    def title(self) -> str:
        """``"analyzer · matrix name (unit)"``."""
        return f"{self.analyzer_id} · {self.matrix.name} ({self.matrix.unit})"


@dataclass(frozen=True)
class FrameBatch:
    """Decoded video frames: ``frames[i]`` is ``(index, time_s, RGB uint8 array (h, w, 3))``."""

    frames: tuple[tuple[int, float, np.ndarray], ...]


def open_audio(path: Path, *, progress: ProgressToken | None = None) -> AudioOpened:
    """Open a stored audio copy for chunked reading (compressed audio is decoded once to a cache).

    Raises
    ------
    CorruptMedia, UnsupportedMedia
        Nothing decodes, or the file has no audio.
    """
    token = progress or ProgressToken()
    token.report(0.0, "opening the recording")
    stream = open_audio_stream(Path(path))
    return AudioOpened(stream=stream, stft=settings_for(stream))


def sample_reader(stream: AudioStream, *, channel: int | None = None) -> Callable[[int, int], np.ndarray]:
    """``reader(start, stop)`` -> float32 samples of all channels (n, ch), or of one channel (n,)."""
    if channel is None:
        return lambda a, b: stream.read(a, b)
    return lambda a, b: stream.read(a, b, channel=channel)


def render_spectrogram(engine: SpectrogramEngine, *, t0: float, t1: float, n_cols: int, n_rows: int,
                       scale: FrequencyScale, progress: ProgressToken | None = None) -> SpectrogramImage:
    """Render ``[t0, t1]`` seconds as ``n_rows`` x ``n_cols`` dBFS levels (see SpectrogramEngine).

    The engine reads only what the columns need and caches the image.
    """
    return engine.render(t0=t0, t1=t1, n_cols=int(min(max(n_cols, 1), OVERVIEW_MAX_COLUMNS)),
                         n_rows=int(max(n_rows, 1)), scale=scale, progress=progress)


def render_envelope(stream: AudioStream, *, t0: float, t1: float, n_cols: int,
                    channel: int | None = None) -> Envelope:
    """Per-column minimum and maximum of ``[t0, t1]`` seconds (``n_cols`` columns at most).

    Not cancellable: a long recording's min/max pyramid is built once (about a second for two
    hours) and every later request is immediate, so a superseded request is dropped, not stopped.
    """
    times, lo, hi = waveform_envelope(stream, t0=t0, t1=t1, n_cols=max(int(n_cols), 1), channel=channel)
    return Envelope(t0=float(t0), t1=float(t1), times_s=times, mins=lo, maxs=hi)


def load_lanes(artifacts: ArtifactStore, findings: Iterable[tuple[int, str, Sequence[Mapping[str, str]]]]
               ) -> tuple[Lane, ...]:
    """Load every TimeSeries artifact of some findings.

    Parameters
    ----------
    artifacts : ArtifactStore
        The case's artifact store (reads are hash-checked).
    findings : iterable of (finding_id, title_prefix, series_refs)
        The references of each finding.
    """
    lanes: list[Lane] = []
    for finding_id, prefix, refs in findings:
        for ref in refs:
            ts = artifacts.get_series(dict(ref))
            unit = f" ({ts.unit})" if ts.unit else ""
            lanes.append(Lane(finding_id, f"{prefix}{ts.name}{unit}", ts))
    return tuple(lanes)


def load_maps(artifacts: ArtifactStore,
              findings: Iterable[tuple[int, str, float | None, float | None, Sequence[Mapping[str, str]]]]
              ) -> tuple[MapLayer, ...]:
    """Load every TimeFreqMap artifact of some findings.

    Parameters
    ----------
    artifacts : ArtifactStore
        The case's artifact store (reads are hash-checked).
    findings : iterable of (finding_id, analyzer_id, start_s, end_s, map_refs)
        Each finding's time range (s, or None) and map references.
    """
    layers: list[MapLayer] = []
    seen: set[str] = set()
    for finding_id, analyzer_id, start_s, end_s, refs in findings:
        for ref in refs:
            tf_map = artifacts.get_map(dict(ref))
            t = tf_map.times_s
            a = float(start_s) if start_s is not None else float(t[0]) if t.size else 0.0
            b = float(end_s) if end_s is not None else float(t[-1]) if t.size else a
            key = f"{analyzer_id} · {tf_map.name} · {a:.2f}–{b:.2f} s"
            if key in seen:
                key = f"{key} (finding {finding_id})"
            seen.add(key)
            layers.append(MapLayer(finding_id=finding_id, analyzer_id=analyzer_id, key=key, start_s=a, end_s=b,
                                   tf_map=tf_map))
    return tuple(layers)


def load_alignments(artifacts: ArtifactStore, *, finding_id: int, run_id: int, analyzer_id: str,
                    refs: Sequence[Mapping[str, object]],
                    progress: ProgressToken | None = None) -> tuple[AlignmentLayer, ...]:
    """Load the AlignmentMatrix artifacts of one finding (hash-checked reads).

    Parameters
    ----------
    artifacts : ArtifactStore
        The case's artifact store.
    finding_id, run_id : int
        The finding and its run.
    analyzer_id : str
        The run's analyzer.
    refs : sequence of mapping
        The finding's alignment references (``FindingItem.alignment_refs``).
    """
    out = []
    for ref in refs:
        if progress is not None:
            progress.check()
        out.append(AlignmentLayer(finding_id=finding_id, run_id=run_id, analyzer_id=analyzer_id,
                                  matrix=artifacts.get_alignment(dict(ref))))
    return tuple(out)


def load_image(path: Path) -> np.ndarray:
    """Decode a stored image copy to RGB uint8, shape (height, width, 3)."""
    return decode.decode_image(Path(path)).pixels


def open_video(path: Path) -> VideoSource:
    """Open a stored video copy (metadata now, frames lazily)."""
    return decode.open_video(Path(path))


def decode_frames(source: VideoSource, start: int, count: int,
                  progress: ProgressToken | None = None) -> FrameBatch:
    """Decode frames ``start`` to ``start + count - 1``.

    The reader decodes from the first frame, so the cost grows with ``start``; callers cache.
    """
    out = []
    for index, t, rgb in source.frames(start=start, stop=start + count):
        if progress is not None:
            progress.check()
        out.append((index, t, rgb))
    return FrameBatch(tuple(out))
