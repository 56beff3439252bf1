"""Report content: evidence items, their findings, figures and annotations.

Part of :mod:`forensics_app.report.model` (plain frozen values, JSON-safe). Times are in seconds
from the start of the evidence, frequencies in Hz, regions in pixels, frame ranges inclusive start
and exclusive end.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from forensics_app.report.model_comparisons import ComparisonItem


@dataclass(frozen=True)
class FigureItem:
    """A figure stored content-addressed in the case's artifact store.

    Attributes
    ----------
    evidence_id : int
        Evidence item the figure belongs to.
    kind : str
        ``"series"``, ``"spectrogram"``, ``"thumbnail"``, ``"frames"``, ``"map"`` (time-frequency
        maps of a finding over the spectrogram around it), ``"alignment"`` (an alignment matrix
        drawn as an attention map) or ``"residual"`` (self-resynthesis residual heatmaps under the
        spectrogram of the same span).
    title : str
        One-line title.
    caption : str
        What is drawn, in physical units, and any limits of the drawing.
    sha256 : str
        SHA-256 of the PNG (``artifacts/<sha[:2]>/<sha>.png``).
    width_px, height_px : int
        PNG size in pixels.
    analyzer_id : str or None
        The analyzer whose output is drawn (series figures).
    run_id : int or None
        The run whose output is drawn (series and map figures).
    finding_ref : str or None
        The finding(s) drawn (map, alignment and residual figures), e.g. ``"F3"`` or ``"F2, F3"``.
    """

    evidence_id: int
    kind: str
    title: str
    caption: str
    sha256: str
    width_px: int
    height_px: int
    analyzer_id: str | None = None
    run_id: int | None = None
    finding_ref: str | None = None


@dataclass(frozen=True)
class FindingItem:
    """One finding of the newest finished run of an analyzer on an evidence item.

    Attributes
    ----------
    finding_id, run_id, rank : int
        Database ids and the analyzer's own rank of the finding within its run.
    analyzer_id, analyzer_version : str
        Provenance.
    label : str
        The analyzer's statement.
    fake_likelihood : float or None
        FakeLikelihood in [0, 1] (higher = more likely manipulated); None for descriptive
        findings (measurements, not scores).
    start_s, end_s : float or None
        Time range in seconds from the start of the evidence.
    start_frame, end_frame : int or None
        Frame range (inclusive start, exclusive end).
    region : dict or None
        Image region ``{"x", "y", "width", "height"}`` in pixels.
    details : dict
        The measurements that back the statement (JSON-safe).
    series : tuple of dict
        References ``{"kind", "name", "unit", "sha256"}`` of the time series stored with the
        finding (``.npy`` artifacts).
    maps : tuple of dict
        References ``{"kind": "tfmap", "name", "unit", "sha256", "times_sha256", "freqs_sha256"}``
        of the time x frequency maps stored with the finding (explanation maps, residual heatmaps).
    alignments : tuple of dict
        References ``{"kind": "alignment", "name", "unit", "row_axis", "row_labels", "sha256",
        "times_sha256", "rows_sha256", "path_sha256"[, "spans_sha256"]}`` of the alignment matrices
        stored with the finding (reference comparison, transcript alignment).
    ref : str
        The finding's reference within its evidence item (``"F1"`` = highest FakeLikelihood), used
        in the tables and drawn on the figures.
    """

    finding_id: int
    run_id: int
    rank: int
    analyzer_id: str
    analyzer_version: str
    label: str
    fake_likelihood: float | None
    start_s: float | None
    end_s: float | None
    start_frame: int | None
    end_frame: int | None
    region: Mapping[str, Any] | None
    details: Mapping[str, Any]
    series: tuple[Mapping[str, str], ...] = ()
    maps: tuple[Mapping[str, str], ...] = ()
    alignments: tuple[Mapping[str, Any], ...] = ()
    ref: str = ""

    @property
    def descriptive(self) -> bool:
        """True when the finding carries no FakeLikelihood."""
        return self.fake_likelihood is None


@dataclass(frozen=True)
class AnnotationItem:
    """An examiner's annotation on an evidence item.

    Attributes
    ----------
    annotation_id, evidence_id : int
        Database ids.
    label, note, author, created : str
        The annotation; ``created`` is ISO 8601 UTC.
    start_s, end_s : float or None
        Time range in seconds.
    start_frame, end_frame : int or None
        Frame range.
    low_hz, high_hz : float or None
        Frequency band in Hz.
    region : dict or None
        Image region in pixels.
    ref : str
        Reference within the report (``"A1"``...), drawn on the figures.
    layer : str
        Annotation layer.
    """

    annotation_id: int
    evidence_id: int
    label: str
    note: str
    author: str
    created: str
    start_s: float | None = None
    end_s: float | None = None
    start_frame: int | None = None
    end_frame: int | None = None
    low_hz: float | None = None
    high_hz: float | None = None
    region: Mapping[str, Any] | None = None
    ref: str = ""
    layer: str = "default"


@dataclass(frozen=True)
class EvidenceItem:
    """An evidence item, the result of its re-verification, and what the analyses found.

    Attributes
    ----------
    evidence_id : int
        Database id.
    original_name, original_path : str
        Where the file came from.
    stored_path : str
        The read-only copy, relative to the case folder.
    size : int
        Size in bytes.
    media_kind : str
        ``"audio"``, ``"video"`` or ``"image"``.
    sha256, md5 : str
        Hashes recorded at acquisition.
    acquired_at, acquired_by : str
        When (ISO 8601 UTC) and by whom the file was acquired.
    metadata : dict
        Metadata probed at acquisition (format, codec, duration in s, rate in Hz, size in px...).
    verification : str
        Result of the re-verification made for this report: ``"verified"``, ``"mismatch"`` or
        ``"missing"``.
    actual_sha256 : str or None
        SHA-256 of the stored copy as re-computed for this report (None when missing).
    findings : tuple of FindingItem
        Findings of the newest finished run of each analyzer, sorted by FakeLikelihood (highest
        first, descriptive findings last).
    run_ids : tuple of int
        The runs those findings come from.
    figures : tuple of FigureItem
        Figures drawn for this item.
    figure_notes : tuple of str
        Figures that could not be drawn, and why.
    annotations : tuple of AnnotationItem
        The examiners' annotations.
    comparisons : tuple of ComparisonItem
        Reference comparisons, transcript alignments and self-resynthesis runs on this item, with
        their tables (the figures they refer to are in ``figures``).
    """

    evidence_id: int
    original_name: str
    original_path: str
    stored_path: str
    size: int
    media_kind: str
    sha256: str
    md5: str
    acquired_at: str
    acquired_by: str
    metadata: Mapping[str, Any]
    verification: str
    actual_sha256: str | None
    findings: tuple[FindingItem, ...] = ()
    run_ids: tuple[int, ...] = ()
    figures: tuple[FigureItem, ...] = ()
    figure_notes: tuple[str, ...] = ()
    annotations: tuple[AnnotationItem, ...] = ()
    comparisons: tuple[ComparisonItem, ...] = ()

    @property
    def intact(self) -> bool:
        """True when the stored copy still matches its recorded SHA-256."""
        return self.verification == "verified"

    @property
    def max_fake_likelihood(self) -> float | None:
        """Highest FakeLikelihood among the findings (None when all are descriptive)."""
        scores = [f.fake_likelihood for f in self.findings if f.fake_likelihood is not None]
        return max(scores) if scores else None
