"""The report's content as a frozen tree of plain values.

:class:`ReportData` is what :func:`forensics_app.report.build.build_report` reads from the case
store and what every output format (HTML, PDF, JSON) is rendered from. It holds no ORM rows, no
arrays and no image bytes: only strings, numbers, booleans, None, tuples and JSON-safe dicts, so it
crosses threads freely and :meth:`ReportData.as_json` is a faithful, lossless export. Figures are
referenced by the SHA-256 of their PNG in the case's artifact store.

Times are ISO 8601 strings in UTC (``2024-05-01T12:34:56.123456+00:00``); durations and time
ranges are in seconds, frequencies in Hz, image regions in pixels, frame ranges are frame indices
(inclusive start, exclusive end).

The tree is defined by concept in :mod:`~forensics_app.report.model_evidence` (evidence, findings,
figures, annotations), :mod:`~forensics_app.report.model_comparisons` (reference comparisons,
transcript alignments, self-resynthesis) and :mod:`~forensics_app.report.model_detectors` (trained
detectors and their validation); this module holds the report as a whole, the run provenance and
the audit trail, and re-exports the rest.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from forensics_app.domain.jsonable import json_safe
from forensics_app.report.model_comparisons import (
    ComparisonItem,
    ComparisonRow,
    ReferenceItem,
    VocoderRow,
    WordRow,
)
from forensics_app.report.model_detectors import (
    DetectorFusion,
    DetectorModel,
    SubsetRates,
    VerdictBands,
)
from forensics_app.report.model_evidence import (
    AnnotationItem,
    EvidenceItem,
    FigureItem,
    FindingItem,
)

__all__ = [
    "VERIFICATION_STATES", "AnnotationItem", "AuditCheck", "AuditEventItem", "CaseHeader", "ComparisonItem",
    "ComparisonRow", "DetectorFusion", "DetectorModel", "EvidenceItem", "FigureItem", "FindingItem",
    "Production", "ReferenceItem", "ReportData", "RunItem", "SubsetRates", "VerdictBands", "VocoderRow",
    "WordRow",
]

#: The integrity states a stored evidence copy can be in after re-verification.
VERIFICATION_STATES = ("verified", "mismatch", "missing")


@dataclass(frozen=True)
class CaseHeader:
    """The case as recorded when it was opened.

    Attributes
    ----------
    number, title : str
        Case number and title.
    examiner : str
        The examiner who opened the case.
    created : str
        When the case was opened (ISO 8601, UTC).
    notes : str
        Free-text case notes.
    """

    number: str
    title: str
    examiner: str
    created: str
    notes: str


@dataclass(frozen=True)
class Production:
    """Who produced the report, when, and with what software on which machine.

    Attributes
    ----------
    examiner : str
        The examiner producing the report.
    produced_at : str
        When the report was built (ISO 8601, UTC).
    software : str
        Application name.
    software_version : str
        ``forensics_app.__version__``.
    python : str
        Python implementation and version.
    platform : str
        Operating system and architecture.
    compute_device : str
        Compute device available to analyzers, e.g. ``"CPU (16 cores)"``.
    libraries : tuple of (str, str)
        Versions of the libraries that decode media, compute and render.
    """

    examiner: str
    produced_at: str
    software: str
    software_version: str
    python: str
    platform: str
    compute_device: str
    libraries: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class RunItem:
    """One analysis run with its full provenance (the methods section).

    Attributes
    ----------
    run_id, evidence_id : int
        Database ids.
    evidence_name : str
        Original name of the evidence item.
    analyzer_id, analyzer_version : str
        What ran.
    analyzer_label, analyzer_description : str
        From the analyzer registry ("" when the analyzer is no longer installed).
    params : dict
        Parameters as resolved when the run was queued.
    model_sha256 : str or None
        SHA-256 of the model weights used, if any.
    evidence_sha256 : str
        SHA-256 of the evidence recorded on the run when it was queued.
    evidence_sha256_matches : bool
        Whether that hash equals the evidence item's recorded SHA-256.
    status : str
        ``done``, ``failed``, ``cancelled``, ``queued`` or ``running``.
    queued_at, started_at, finished_at : str or None
        ISO 8601 UTC.
    examiner : str
        Who queued the run.
    error : str or None
        Why a run failed or was cancelled.
    summary : dict
        Run-level measurements reported by the analyzer.
    n_findings : int
        Number of findings the run stored.
    used : bool
        True when the run's findings are in this report (newest finished run of its analyzer).
    note : str
        Why an unused run is not reported (failed, cancelled, superseded by run #n...).
    """

    run_id: int
    evidence_id: int
    evidence_name: str
    analyzer_id: str
    analyzer_version: str
    analyzer_label: str
    analyzer_description: str
    params: Mapping[str, Any]
    model_sha256: str | None
    evidence_sha256: str
    evidence_sha256_matches: bool
    status: str
    queued_at: str | None
    started_at: str | None
    finished_at: str | None
    examiner: str
    error: str | None
    summary: Mapping[str, Any]
    n_findings: int
    used: bool
    note: str = ""


@dataclass(frozen=True)
class AuditCheck:
    """Result of re-computing the audit hash chain (before this report's events were added).

    Attributes
    ----------
    ok : bool
        True when every link checks out.
    n_events : int
        Events examined.
    first_broken_seq : int or None
        First event that fails.
    reason : str
        Plain-language reason ("" when ok).
    """

    ok: bool
    n_events: int
    first_broken_seq: int | None
    reason: str


@dataclass(frozen=True)
class AuditEventItem:
    """One event of the audit trail.

    Attributes
    ----------
    seq : int
        Position in the chain, from 1.
    time : str
        ISO 8601 UTC.
    examiner, action : str
        Who did what.
    details : dict
        The facts recorded with the event.
    prev_hash, hash : str
        The chain links (SHA-256, hex).
    """

    seq: int
    time: str
    examiner: str
    action: str
    details: Mapping[str, Any]
    prev_hash: str
    hash: str


@dataclass(frozen=True)
class ReportData:
    """Everything a case report states, built from the case store only.

    Attributes
    ----------
    case : CaseHeader
    production : Production
    verification_ok : bool
        Every reported evidence copy re-verified and the audit chain unbroken.
    verified_at : str
        When the re-verification made for this report finished (ISO 8601 UTC).
    evidence : tuple of EvidenceItem
        The reported evidence items, in acquisition order.
    methods : tuple of RunItem
        The runs whose findings are reported.
    other_runs : tuple of RunItem
        Runs on the reported evidence whose findings are not reported (failed, cancelled,
        unfinished, or superseded by a newer run of the same analyzer), with the reason.
    audit_check : AuditCheck
    audit_trail : tuple of AuditEventItem
        The whole trail as it stood when the report was built.
    limitations : tuple of str
        Paragraphs stating what the findings do and do not show.
    scope_note : str
        Which evidence items the report covers.
    detector_models : tuple of DetectorModel
        The trained detectors used by the reported runs, with their validation (the "Detector
        validation" section); empty when no reported run used one.
    detector_fusions : tuple of DetectorFusion
        How those runs fused several detectors.
    """

    case: CaseHeader
    production: Production
    verification_ok: bool
    verified_at: str
    evidence: tuple[EvidenceItem, ...]
    methods: tuple[RunItem, ...]
    other_runs: tuple[RunItem, ...]
    audit_check: AuditCheck
    audit_trail: tuple[AuditEventItem, ...]
    limitations: tuple[str, ...]
    scope_note: str = ""
    detector_models: tuple[DetectorModel, ...] = ()
    detector_fusions: tuple[DetectorFusion, ...] = ()

    @property
    def figures(self) -> tuple[FigureItem, ...]:
        """All figures of all evidence items."""
        return tuple(fig for ev in self.evidence for fig in ev.figures)

    @property
    def failed_evidence(self) -> tuple[EvidenceItem, ...]:
        """Evidence items whose stored copy failed re-verification."""
        return tuple(ev for ev in self.evidence if not ev.intact)

    def as_json(self) -> dict[str, Any]:
        """The whole tree as plain JSON values (dicts, lists, str, finite numbers, bool, None).

        Follows the codebase's ``as_json`` convention: it returns the JSON *form*;
        ``json.dumps(report.as_json())`` gives the text.
        """
        return json_safe(_plain(self))


def _plain(value: Any) -> Any:
    """Dataclasses to dicts, tuples to lists, mappings to dicts, recursively."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value
