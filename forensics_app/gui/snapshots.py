"""Plain, immutable copies of what the GUI shows, read from the store in short sessions.

Widgets never hold ORM rows: each reader opens one Session, copies the values it needs into frozen
dataclasses and closes it. No Qt here, so the readers also run on worker threads.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from forensics_app.store import repo
from forensics_app.store.case import CaseStore
from forensics_app.store.schema import AnalysisRun, Evidence, Finding


@dataclass(frozen=True)
class CaseSummary:
    """The open case, as shown in the title and the status bar."""

    root: Path
    number: str
    title: str
    examiner: str


@dataclass(frozen=True)
class EvidenceItem:
    """One evidence row.

    Attributes
    ----------
    id : int
        Evidence id.
    name : str
        Original file name.
    kind : str
        Media kind (``"audio"``, ``"video"``, ``"image"``).
    size : int
        Bytes.
    sha256, md5 : str
        Digests of the stored copy (hex).
    integrity : str
        Last verification: ``"verified"``, ``"mismatch"``, ``"missing"`` or ``"unverified"``.
    path : Path
        Absolute path of the read-only stored copy.
    metadata : Mapping
        Probe metadata (durations in s, rates in Hz, sizes in px).
    acquired_at : datetime or None
        UTC acquisition time.
    role : str
        ``"questioned"`` or ``"reference"`` (a known genuine recording).
    """

    id: int
    name: str
    kind: str
    size: int
    sha256: str
    md5: str
    integrity: str
    path: Path
    metadata: Mapping[str, Any] = field(default_factory=dict, compare=False)
    acquired_at: dt.datetime | None = None
    role: str = "questioned"


@dataclass(frozen=True)
class FindingItem:
    """One finding of a finished run, with its provenance and artifact references.

    Attributes
    ----------
    start_s, end_s : float or None
        Time range in seconds.
    start_frame, end_frame : int or None
        Frame range (inclusive start, exclusive end).
    region : tuple of int or None
        ``(x, y, width, height)`` in pixels.
    series_refs : tuple of dict
        TimeSeries artifact references (load with ``store.artifacts.get_series``).
    map_refs : tuple of dict
        TimeFreqMap artifact references (load with ``store.artifacts.get_map``).
    alignment_refs : tuple of dict
        AlignmentMatrix artifact references (load with ``store.artifacts.get_alignment``).
    """

    id: int
    run_id: int
    evidence_id: int
    evidence_name: str
    media_kind: str
    analyzer_id: str
    analyzer_version: str
    rank: int
    label: str
    fake_likelihood: float | None
    start_s: float | None
    end_s: float | None
    start_frame: int | None
    end_frame: int | None
    region: tuple[int, int, int, int] | None
    details: Mapping[str, Any] = field(default_factory=dict, compare=False)
    series_refs: tuple[Mapping[str, str], ...] = field(default=(), compare=False)
    map_refs: tuple[Mapping[str, str], ...] = field(default=(), compare=False)
    alignment_refs: tuple[Mapping[str, Any], ...] = field(default=(), compare=False)

    @property
    def is_time_localised(self) -> bool:
        """Whether the finding has a time range in seconds."""
        return self.start_s is not None

    @property
    def is_frame_localised(self) -> bool:
        """Whether the finding has a frame range."""
        return self.start_frame is not None

    def details_summary(self, max_chars: int = 120) -> str:
        """``key=value; ...`` of the details, shortened to ``max_chars``."""
        parts = []
        for key, value in self.details.items():
            if isinstance(value, float):
                text = f"{value:.4g}"
            elif isinstance(value, (dict, list)):
                text = json.dumps(value, ensure_ascii=False, default=str)
            else:
                text = str(value)
            parts.append(f"{key}={text}")
        out = "; ".join(parts)
        return out if len(out) <= max_chars else out[: max_chars - 1] + "…"


@dataclass(frozen=True)
class RunItem:
    """The state of one analysis run."""

    id: int
    evidence_id: int
    analyzer_id: str
    analyzer_version: str
    status: str
    error: str | None


def _evidence_item(store: CaseStore, ev: Evidence) -> EvidenceItem:
    return EvidenceItem(
        id=ev.id, name=ev.original_name, kind=ev.media_kind, size=ev.size, sha256=ev.sha256, md5=ev.md5,
        integrity=ev.integrity, path=store.resolve(ev.stored_path), metadata=dict(ev.metadata_json or {}),
        acquired_at=ev.acquired_at, role=ev.role,
    )


def _finding_item(f: Finding, run: AnalysisRun, ev_name: str, kind: str) -> FindingItem:
    region = None
    if f.region:
        region = (int(f.region["x"]), int(f.region["y"]), int(f.region["width"]), int(f.region["height"]))
    refs = tuple(dict(r) for r in (f.artifacts or {}).get("series", []))
    map_refs = tuple(dict(r) for r in (f.artifacts or {}).get("maps", []))
    alignment_refs = tuple(dict(r) for r in (f.artifacts or {}).get("alignments", []))
    return FindingItem(
        id=f.id, run_id=run.id, evidence_id=run.evidence_id, evidence_name=ev_name, media_kind=kind,
        analyzer_id=run.analyzer_id, analyzer_version=run.analyzer_version, rank=f.rank, label=f.label,
        fake_likelihood=f.fake_likelihood, start_s=f.start_s, end_s=f.end_s, start_frame=f.start_frame,
        end_frame=f.end_frame, region=region, details=dict(f.details or {}), series_refs=refs,
        map_refs=map_refs, alignment_refs=alignment_refs,
    )


def read_case(store: CaseStore) -> CaseSummary:
    """The case's number, title and examiner."""
    with store.session() as s:
        case = store.case_info(s)
        return CaseSummary(root=store.root, number=case.number, title=case.title, examiner=case.examiner)


def read_evidence(store: CaseStore) -> list[EvidenceItem]:
    """Every evidence item, in acquisition order."""
    with store.session() as s:
        return [_evidence_item(store, ev) for ev in repo.list_evidence(s)]


def read_findings(store: CaseStore, *, evidence_id: int | None = None) -> list[FindingItem]:
    """Findings of each analyzer's newest finished run, per evidence item.

    Parameters
    ----------
    store : CaseStore
        The open case.
    evidence_id : int, optional
        Only this evidence item's findings.
    """
    out: list[FindingItem] = []
    with store.session() as s:
        evidence = repo.list_evidence(s) if evidence_id is None else [repo.get_evidence(s, evidence_id)]
        for ev in evidence:
            for run in repo.latest_done_runs(s, ev.id):
                out.extend(_finding_item(f, run, ev.original_name, ev.media_kind)
                           for f in repo.findings_for_run(s, run.id))
    return out


def read_run(store: CaseStore, run_id: int) -> RunItem:
    """One run's status and error."""
    with store.session() as s:
        run = repo.get_run(s, run_id)
        return RunItem(id=run.id, evidence_id=run.evidence_id, analyzer_id=run.analyzer_id,
                       analyzer_version=run.analyzer_version, status=run.status.value, error=run.error)


@dataclass(frozen=True)
class AnnotationItem:
    """One examiner annotation, as drawn by the views and listed by the annotations panel.

    Attributes
    ----------
    id, evidence_id : int
        Annotation and evidence ids.
    layer : str
        Annotation layer (a named set of annotations, e.g. "edits" or "speakers").
    label, note, author : str
        What it says and who wrote it.
    created : datetime
        UTC creation time.
    start_s, end_s : float or None
        Time range in seconds.
    low_hz, high_hz : float or None
        Frequency band in Hz (a time-frequency box together with the time range).
    start_frame, end_frame : int or None
        Frame range for video.
    region : Mapping or None
        Image region ``{"x", "y", "width", "height"}`` in pixels.
    """

    id: int
    evidence_id: int
    layer: str
    label: str
    note: str
    author: str
    created: dt.datetime
    start_s: float | None = None
    end_s: float | None = None
    low_hz: float | None = None
    high_hz: float | None = None
    start_frame: int | None = None
    end_frame: int | None = None
    region: Mapping[str, int] | None = None

    def as_finding(self) -> FindingItem:
        """A navigation-only :func:`navigation_finding` at this annotation's range, frames or region."""
        return navigation_finding(evidence_id=self.evidence_id, label=self.label, start_s=self.start_s,
                                  end_s=self.end_s, start_frame=self.start_frame, end_frame=self.end_frame,
                                  region=self.region)


def navigation_finding(*, evidence_id: int, label: str = "", start_s: float | None = None,
                       end_s: float | None = None, start_frame: int | None = None, end_frame: int | None = None,
                       region: Mapping[str, int] | None = None) -> FindingItem:
    """A FindingItem that only marks a place (run id -1), for views that navigate by ``show_finding``."""
    box = None if not region else (int(region["x"]), int(region["y"]), int(region["width"]),
                                   int(region["height"]))
    return FindingItem(id=-1, run_id=-1, evidence_id=evidence_id, evidence_name="", media_kind="",
                       analyzer_id="annotation", analyzer_version="", rank=0, label=label,
                       fake_likelihood=None, start_s=start_s, end_s=end_s, start_frame=start_frame,
                       end_frame=end_frame, region=box)


@dataclass(frozen=True)
class AnnotationsSnapshot:
    """What the annotations panel shows: every annotation, the evidence names and the layers in use."""

    items: tuple[AnnotationItem, ...]
    evidence_names: Mapping[int, str] = field(default_factory=dict)
    layers: tuple[str, ...] = ()


def read_annotations_snapshot(store: CaseStore) -> AnnotationsSnapshot:
    """Every annotation with the names of the evidence items and the sorted layer names."""
    items = tuple(read_annotations(store))
    names = {e.id: e.name for e in read_evidence(store)}
    return AnnotationsSnapshot(items=items, evidence_names=names, layers=tuple(sorted({a.layer for a in items})))


def read_annotations(store: CaseStore, *, evidence_id: int | None = None) -> list[AnnotationItem]:
    """Annotations (of one evidence item, or all), oldest first."""
    with store.session() as s:
        return [
            AnnotationItem(
                id=a.id, evidence_id=a.evidence_id, layer=a.layer,
                label=a.label, note=a.note, author=a.author, created=a.created, start_s=a.start_s,
                end_s=a.end_s, low_hz=a.low_hz, high_hz=a.high_hz, start_frame=a.start_frame,
                end_frame=a.end_frame, region=dict(a.region) if a.region else None,
            )
            for a in repo.list_annotations(s, evidence_id)
        ]
