"""What analyzers return: findings and the data behind them, in physical units.

The one score convention of the workstation: a ``fake_likelihood`` is a float in [0, 1] where
higher means more likely manipulated or synthetic. Descriptive findings (levels, metadata) carry
``None``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np


def fake_likelihood(value: float | None) -> float | None:
    """Validate a FakeLikelihood.

    Parameters
    ----------
    value : float or None
        Candidate score.

    Returns
    -------
    float or None
        The same value as a float.

    Raises
    ------
    ValueError
        If the value is NaN or outside [0, 1].
    """
    if value is None:
        return None
    v = float(value)
    if math.isnan(v) or v < 0.0 or v > 1.0:
        raise ValueError(f"fake_likelihood must be in [0, 1], got {value!r}")
    return v


@dataclass(frozen=True)
class TimeSeries:
    """A sampled quantity over time, drawn as a lane under the spectrogram or frame strip.

    Attributes
    ----------
    name : str
        Short identifier, e.g. ``"bandwidth"``.
    unit : str
        Unit of ``values`` ("Hz", "dBFS", "s", "bytes", "FakeLikelihood").
    times_s : np.ndarray
        Shape (n,), seconds from the start of the evidence, increasing.
    values : np.ndarray
        Shape (n,), float64.
    """

    name: str
    unit: str
    times_s: np.ndarray
    values: np.ndarray

    def __post_init__(self) -> None:
        t = np.asarray(self.times_s, dtype=np.float64).reshape(-1)
        v = np.asarray(self.values, dtype=np.float64).reshape(-1)
        if t.shape != v.shape:
            raise ValueError(f"TimeSeries {self.name!r}: times {t.shape} and values {v.shape} differ")
        object.__setattr__(self, "times_s", t)
        object.__setattr__(self, "values", v)


@dataclass(frozen=True)
class TimeFreqMap:
    """A quantity over time x frequency, drawn as a translucent overlay on the spectrogram.

    Used for explanation maps (what drove a detector's score) and residual heatmaps.

    Attributes
    ----------
    name : str
        Short identifier, e.g. ``"lcnn-gradcam"``.
    unit : str
        Unit of ``values`` ("relevance" for explanation maps normalised to [0, 1], "dB", ...).
    times_s : np.ndarray
        Shape (n_t,), centre of each column in seconds from the start of the evidence, increasing.
    freqs_hz : np.ndarray
        Shape (n_f,), centre of each row in Hz, increasing.
    values : np.ndarray
        Shape (n_f, n_t), float32; row 0 is the lowest frequency.
    """

    name: str
    unit: str
    times_s: np.ndarray
    freqs_hz: np.ndarray
    values: np.ndarray

    def __post_init__(self) -> None:
        t = np.asarray(self.times_s, dtype=np.float64).reshape(-1)
        f = np.asarray(self.freqs_hz, dtype=np.float64).reshape(-1)
        v = np.asarray(self.values, dtype=np.float32)
        if v.shape != (f.size, t.size):
            raise ValueError(f"TimeFreqMap {self.name!r}: values {v.shape} is not (freqs {f.size}, times {t.size})")
        if not np.all(np.isfinite(v)):
            raise ValueError(f"TimeFreqMap {self.name!r}: values are not all finite")
        object.__setattr__(self, "times_s", t)
        object.__setattr__(self, "freqs_hz", f)
        object.__setattr__(self, "values", v)


@dataclass(frozen=True)
class AlignmentMatrix:
    """How the questioned recording aligns with another sequence, drawn as an attention map.

    Columns are times in the questioned recording; rows are either frames of a reference
    recording (reference comparison) or words of a transcript (transcript alignment). A
    straight, clean path means the two follow each other; departures show inserted, deleted or
    replaced spans.

    Attributes
    ----------
    name : str
        Short identifier, e.g. ``"reference-alignment"`` or ``"transcript-attention"``.
    unit : str
        Unit of ``values`` ("cosine similarity", "attention" in [0, 1], ...).
    times_s : np.ndarray
        Shape (n_t,), centre of each column in seconds from the start of the questioned
        recording, increasing.
    row_times_s : np.ndarray
        Shape (n_r,), centre of each row in seconds in the row sequence's own time line (the
        reference recording, or the local synthetic rendering of the transcript), increasing.
    values : np.ndarray
        Shape (n_r, n_t), float32; row 0 is the first frame or word.
    path : np.ndarray
        Shape (k, 2), float64: the alignment path as (questioned time in s, row index as a
        float), in increasing order of questioned time.
    row_labels : tuple of str
        One label per row for word rows (the transcript's words); empty for recording rows.
    row_spans_s : np.ndarray or None
        Shape (n_r, 2), float64: where each row was placed in the questioned recording (start,
        end in s); given for word rows so a click on a word can move the playhead there.
    row_axis : str
        Axis title for the rows, e.g. ``"reference recording (s)"`` or ``"transcript word"``.
    """

    name: str
    unit: str
    times_s: np.ndarray
    row_times_s: np.ndarray
    values: np.ndarray
    path: np.ndarray
    row_labels: tuple[str, ...] = ()
    row_spans_s: np.ndarray | None = None
    row_axis: str = "reference recording (s)"

    def __post_init__(self) -> None:
        t = np.asarray(self.times_s, dtype=np.float64).reshape(-1)
        r = np.asarray(self.row_times_s, dtype=np.float64).reshape(-1)
        v = np.asarray(self.values, dtype=np.float32)
        p = np.asarray(self.path, dtype=np.float64).reshape(-1, 2)
        if v.shape != (r.size, t.size):
            raise ValueError(f"AlignmentMatrix {self.name!r}: values {v.shape} is not (rows {r.size}, times {t.size})")
        if not np.all(np.isfinite(v)) or not np.all(np.isfinite(p)):
            raise ValueError(f"AlignmentMatrix {self.name!r}: values or path are not all finite")
        labels = tuple(str(x) for x in self.row_labels)
        if labels and len(labels) != r.size:
            raise ValueError(f"AlignmentMatrix {self.name!r}: {len(labels)} row labels for {r.size} rows")
        spans = None
        if self.row_spans_s is not None:
            spans = np.asarray(self.row_spans_s, dtype=np.float64).reshape(-1, 2)
            if spans.shape[0] != r.size:
                raise ValueError(f"AlignmentMatrix {self.name!r}: {spans.shape[0]} row spans for {r.size} rows")
        object.__setattr__(self, "times_s", t)
        object.__setattr__(self, "row_times_s", r)
        object.__setattr__(self, "values", v)
        object.__setattr__(self, "path", p)
        object.__setattr__(self, "row_labels", labels)
        object.__setattr__(self, "row_spans_s", spans)


@dataclass(frozen=True)
class Region:
    """An axis-aligned image region in pixels (x, y from the top-left corner)."""

    x: int
    y: int
    width: int
    height: int

    def as_list(self) -> list[int]:
        """``[x, y, width, height]``."""
        return [self.x, self.y, self.width, self.height]


@dataclass(frozen=True)
class Finding:
    """One statement an analyzer makes about an evidence item.

    Attributes
    ----------
    label : str
        Short human-readable statement, e.g. ``"Clipping"`` or ``"EXIF thumbnail differs"``.
    fake_likelihood : float or None
        FakeLikelihood in [0, 1] (higher = more likely manipulated) or None when descriptive.
    start_s, end_s : float or None
        Time range in seconds, when the finding is localised in time.
    start_frame, end_frame : int or None
        Frame range (inclusive start, exclusive end) for video.
    region : Region or None
        Image region in pixels.
    details : Mapping
        JSON-serialisable measurements that back the statement.
    series : tuple of TimeSeries
        Time series stored as artifacts and drawn as lanes.
    maps : tuple of TimeFreqMap
        Time x frequency maps stored as artifacts and drawn over the spectrogram.
    alignments : tuple of AlignmentMatrix
        Alignment matrices (reference or transcript) stored as artifacts and drawn as attention
        maps under the shared playhead.
    """

    label: str
    fake_likelihood: float | None = None
    start_s: float | None = None
    end_s: float | None = None
    start_frame: int | None = None
    end_frame: int | None = None
    region: Region | None = None
    details: Mapping[str, Any] = field(default_factory=dict)
    series: tuple[TimeSeries, ...] = ()
    maps: tuple[TimeFreqMap, ...] = ()
    alignments: tuple[AlignmentMatrix, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "fake_likelihood", fake_likelihood(self.fake_likelihood))
        if self.start_s is not None and self.end_s is not None and self.end_s < self.start_s:
            raise ValueError(f"Finding {self.label!r}: end_s < start_s")


@dataclass(frozen=True)
class AnalysisResult:
    """Everything one analyzer run produced.

    Attributes
    ----------
    findings : tuple of Finding
        The statements, in the order the analyzer ranks them.
    summary : Mapping
        JSON-serialisable run-level measurements (shown in the report's methods section).
    """

    findings: tuple[Finding, ...]
    summary: Mapping[str, Any] = field(default_factory=dict)
