"""The report's content as a frozen tree of plain values.

:class:`ReportData` is what :func:`forensics_app.report.build.build_report` reads from the case
store and what every output format (HTML, PDF, JSON) is rendered from. It holds no ORM rows, no
arrays and no image bytes: only strings, numbers, booleans, None, tuples and JSON-safe dicts, so it
crosses threads freely and :meth:`ReportData.as_json` is a faithful, lossless export. Figures are
referenced by the SHA-256 of their PNG in the case's artifact store.

Times are ISO 8601 strings in UTC (``2024-05-01T12:34:56.123456+00:00``); durations and time
ranges are in seconds, frequencies in Hz, image regions in pixels, frame ranges are frame indices
(inclusive start, exclusive end).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from forensics_app.domain.jsonable import json_safe

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
class FigureItem:
    """A figure stored content-addressed in the case's artifact store.

    Attributes
    ----------
    evidence_id : int
        Evidence item the figure belongs to.
    kind : str
        ``"series"``, ``"spectrogram"``, ``"thumbnail"``, ``"frames"`` or ``"map"`` (time-frequency
        maps of a finding over the spectrogram around it).
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
        The finding drawn (map figures), e.g. ``"F3"``.
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
        of the time x frequency maps stored with the finding (explanation maps).
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

    @property
    def intact(self) -> bool:
        """True when the stored copy still matches its recorded SHA-256."""
        return self.verification == "verified"

    @property
    def max_fake_likelihood(self) -> float | None:
        """Highest FakeLikelihood among the findings (None when all are descriptive)."""
        scores = [f.fake_likelihood for f in self.findings if f.fake_likelihood is not None]
        return max(scores) if scores else None


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
class SubsetRates:
    """A detector's validation error rates on part of its validation data.

    Attributes
    ----------
    name : str
        A generator (``"griffinlim"``...) or the family held out of training (``"vocoder"``...).
    eer : float or None
        Equal error rate (fraction, 0 to 1).
    paired_eer : float or None
        EER over pairs of a synthetic item and the bona fide item it was made from (same speaker,
        words and channel): how well the detector separates what differs only by the synthesis.
    """

    name: str
    eer: float | None
    paired_eer: float | None


@dataclass(frozen=True)
class VerdictBands:
    """Thresholds on the calibrated LLR and the error rates measured for them on validation data.

    Attributes
    ----------
    t_low, t_high : float or None
        LLR <= ``t_low``: "supports bona fide"; LLR >= ``t_high``: "supports synthetic"; between:
        "inconclusive" (natural-log likelihood ratios, synthetic vs bona fide).
    bonafide_called_synthetic : float or None
        Fraction of bona fide validation items in the "supports synthetic" band.
    spoof_called_bonafide : float or None
        Fraction of synthetic validation items in the "supports bona fide" band.
    inconclusive_bonafide, inconclusive_spoof : float or None
        Fractions of bona fide and of synthetic validation items in the "inconclusive" band.
    """

    t_low: float | None
    t_high: float | None
    bonafide_called_synthetic: float | None = None
    spoof_called_bonafide: float | None = None
    inconclusive_bonafide: float | None = None
    inconclusive_spoof: float | None = None


@dataclass(frozen=True)
class DetectorModel:
    """A trained detector used by reported runs, with its calibration and validation figures.

    One entry per distinct model description: runs that used the same model with the same
    figures share it (``run_ids``).

    Attributes
    ----------
    analyzer_id : str
        The analyzer that ran the model.
    model_id, sha256 : str
        Catalogue id and SHA-256 of the weights file.
    architecture : str
        Network architecture (e.g. ``"lcnn"``, ``"aasist"``).
    source : str
        ``"shipped"`` (trained for this software) or ``"imported"`` (third-party weights).
    window_s, hop_s : float or None
        Scoring window and hop (s).
    calibration_a, calibration_b : float or None
        ``LLR = a * raw + b``, fitted on speakers the model was not trained on.
    bands : VerdictBands or None
        Verdict thresholds and their validation error rates.
    eer, cllr, min_cllr, paired_eer : float or None
        Validation equal error rate (fraction), log-likelihood-ratio cost and its minimum after
        ideal recalibration (bits), and the paired EER.
    per_generator : tuple of SubsetRates
        EER per synthesis method of the validation data.
    lofo : tuple of SubsetRates
        Leave-one-family-out: EER on each generator family when that family was held out of
        training (how the detector may fare on unseen synthesis methods).
    limits : tuple of str
        The model's stated limits.
    card, licence, training_data : str or None
        Where the model card is; licence and training data from the catalogue, when stated.
    run_ids, evidence_ids : tuple of int
        The reported runs that used the model and their evidence items.
    """

    analyzer_id: str
    model_id: str
    sha256: str
    architecture: str
    source: str
    window_s: float | None
    hop_s: float | None
    calibration_a: float | None
    calibration_b: float | None
    bands: VerdictBands | None
    eer: float | None
    cllr: float | None
    min_cllr: float | None
    paired_eer: float | None
    per_generator: tuple[SubsetRates, ...] = ()
    lofo: tuple[SubsetRates, ...] = ()
    limits: tuple[str, ...] = ()
    card: str | None = None
    licence: str | None = None
    training_data: str | None = None
    run_ids: tuple[int, ...] = ()
    evidence_ids: tuple[int, ...] = ()


@dataclass(frozen=True)
class DetectorFusion:
    """How reported runs of ``analyzer_id`` fused detectors: ``method`` as the analyzer states it,
    the fused verdict's ``bands`` (error rates where measured) and the ``run_ids``."""

    analyzer_id: str
    method: str
    bands: VerdictBands | None
    run_ids: tuple[int, ...] = ()


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
