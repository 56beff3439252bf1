"""Build a case report's content from the case store (never from widget state).

:func:`build_report` first re-verifies every stored evidence copy and the audit chain with
:func:`forensics_app.ingest.acquire.verify_case` (which records a ``case.verified`` audit event),
then reads the case, the evidence, the newest finished run of each analyzer and its findings, all
other runs (failed, cancelled, superseded), the annotations and the audit trail, draws the figures
(stored content-addressed as PNG) and returns a frozen :class:`~forensics_app.report.model.ReportData`.

Sessions: every transaction begins with ``BEGIN IMMEDIATE``, so reads happen in short sessions
that are closed before anything writes (verification, figures).
"""

from __future__ import annotations

import datetime as dt
import importlib.metadata
import platform
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import forensics_app
from forensics_app import settings
from forensics_app.analysis import registry
from forensics_app.domain.errors import ForensicsError, NotFound
from forensics_app.domain.jsonable import json_safe
from forensics_app.ingest.acquire import VerifyReport, verify_case
from forensics_app.report.alignment_figures import alignment_figures_for_evidence
from forensics_app.report.comparisons import attach_figures, comparisons_for_evidence
from forensics_app.report.detector_validation import detector_validation
from forensics_app.report.figures import RunSeries, figures_for_evidence
from forensics_app.report.map_figures import map_figures_for_evidence
from forensics_app.report.model import (
    AnnotationItem,
    AuditCheck,
    AuditEventItem,
    CaseHeader,
    EvidenceItem,
    FindingItem,
    Production,
    ReportData,
    RunItem,
)
from forensics_app.report.residual_figures import residual_figures_for_evidence
from forensics_app.store import repo
from forensics_app.store.case import CaseStore
from forensics_app.store.schema import AnalysisRun, Annotation, Evidence, Finding, RunStatus

SOFTWARE_NAME = "forensics-app"

#: Libraries whose versions are stated in the report (decoding, numerics, storage, rendering).
REPORTED_LIBRARIES = ("numpy", "scipy", "soundfile", "av", "Pillow", "torch", "SQLAlchemy",
                      "matplotlib", "Jinja2", "weasyprint")

LIMITATIONS = (
    "FakeLikelihood is the workstation's single score convention: a number in [0, 1] where a higher "
    "value means that the named analyzer, at the stated version, with the stated parameters and model "
    "(identified by its SHA-256), considers manipulation or synthesis more likely. It is the output of "
    "a measurement procedure, not a verdict. Unless the model card of the model concerned states a "
    "calibration, it is not a probability that the item was manipulated, and scores of different "
    "analyzers are not on a common scale and must not be averaged or compared with each other.",
    "Findings marked \u201cdescriptive\u201d carry no score: they are measurements (signal levels, "
    "bandwidth, stream and container properties, metadata). By themselves they neither indicate nor "
    "exclude manipulation; they describe the file so that others can check and interpret it.",
    "The absence of a finding does not show that an item is authentic. Each analyzer tests only for "
    "the traces it was designed to detect. Recompression, resampling, cropping, re-recording or "
    "transmission can remove such traces, and synthesis methods that are newer than an analyzer or its "
    "training data may not be detected.",
    "All findings were computed on the stored copy identified by its SHA-256, after that hash was "
    "re-verified; the SHA-256 recorded on each run is listed in the methods section. Where this report "
    "shows a verification failure (mismatch or missing), the copy now held is not the file that was "
    "acquired, and the findings on that item describe the copy as it was when the analyses ran.",
    "Units: time ranges are seconds from the start of the stored file; frame numbers count from 0 "
    "(start inclusive, end exclusive); frequencies are in Hz; image regions are pixels from the "
    "top-left corner of the stored image, with EXIF orientation not applied.",
)


def build_report(
    store: CaseStore, *, examiner: str, evidence_ids: Sequence[int] | None = None
) -> ReportData:
    """Re-verify the case and collect everything the report states.

    Parameters
    ----------
    store : CaseStore
        The open case. Read only, except for the ``case.verified`` audit event that the
        re-verification records, the Evidence rows' integrity state, and figure PNGs added to the
        artifact store.
    examiner : str
        The examiner producing the report (recorded in the report and the audit trail).
    evidence_ids : sequence of int, optional
        Restrict the evidence, findings, runs and annotations reported to these items (acquisition
        order is kept). The whole case is re-verified either way and the whole audit trail is
        reported. Default: every evidence item.

    Returns
    -------
    ReportData
        Frozen, JSON-serialisable (:meth:`ReportData.as_json`).

    Raises
    ------
    ForensicsError
        If ``examiner`` is empty.
    NotFound
        If an evidence id is not in the case (checked before anything is recorded).
    """
    if not examiner.strip():
        raise ForensicsError("a report needs the name of the examiner producing it")
    produced_at = dt.datetime.now(dt.UTC)
    with store.session() as s:
        known = [e.id for e in repo.list_evidence(s)]
    if evidence_ids is None:
        selected = known
    else:
        wanted = set(int(i) for i in evidence_ids)
        unknown = sorted(wanted - set(known))
        if unknown:
            raise NotFound(f"evidence {', '.join(f'#{i}' for i in unknown)} not in this case "
                           f"(known: {', '.join(f'#{i}' for i in known) or 'none'})")
        selected = [i for i in known if i in wanted]

    verification = verify_case(store, examiner=examiner)
    verified_at = dt.datetime.now(dt.UTC)

    with store.session() as s:
        snap = _read(store, s, selected, verification)

    models, fusions = detector_validation(snap.methods)
    run_items = {r.run_id: r for r in snap.methods}
    checks = {c.evidence_id: c for c in verification.evidence}
    evidence: list[EvidenceItem] = []
    for item, runs in zip(snap.evidence, snap.run_series, strict=True):
        figures, notes = figures_for_evidence(store, evidence=item, runs=runs)
        maps, map_notes = map_figures_for_evidence(
            store, evidence=item, runs=runs,
            model_ids={r.run_id: [m.model_id for m in models if r.run_id in m.run_ids] for r in runs})
        aligned, aligned_notes = alignment_figures_for_evidence(store, evidence=item, runs=runs)
        residual, residual_notes = residual_figures_for_evidence(store, evidence=item, runs=runs)
        comparisons, compared, other_notes = attach_figures(
            comparisons_for_evidence(store, evidence=item, runs=runs, run_items=run_items, checks=checks),
            residual + aligned, residual_notes + aligned_notes)
        evidence.append(replace(item, figures=figures + maps + compared, figure_notes=notes + map_notes + other_notes,
                                comparisons=comparisons))

    chain = verification.chain
    reported_ok = chain.ok and all(ev.intact for ev in evidence)
    if evidence_ids is None:
        scope = f"All {len(known)} evidence item(s) of the case."
    else:
        scope = (f"Evidence item(s) {', '.join(f'#{i}' for i in selected)} of the {len(known)} in the case, "
                 "as selected by the examiner. The whole case was re-verified and the whole audit trail "
                 "is reproduced.")
    return ReportData(
        case=snap.case,
        production=_production(examiner, produced_at),
        verification_ok=reported_ok,
        verified_at=_iso(verified_at),
        evidence=tuple(evidence),
        methods=snap.methods,
        other_runs=snap.other_runs,
        audit_check=AuditCheck(ok=chain.ok, n_events=chain.n_events, first_broken_seq=chain.first_broken_seq,
                               reason=chain.reason),
        audit_trail=snap.audit_trail,
        limitations=LIMITATIONS,
        scope_note=scope,
        detector_models=models,
        detector_fusions=fusions,
    )


@dataclass(frozen=True)
class _Snapshot:
    case: CaseHeader
    evidence: tuple[EvidenceItem, ...]
    run_series: tuple[tuple[RunSeries, ...], ...]
    methods: tuple[RunItem, ...]
    other_runs: tuple[RunItem, ...]
    audit_trail: tuple[AuditEventItem, ...]


def _read(store: CaseStore, s: Any, selected: Sequence[int], verification: VerifyReport) -> _Snapshot:
    """Everything the report states, as plain values, from one read session."""
    case = store.case_info(s)
    header = CaseHeader(number=case.number, title=case.title, examiner=case.examiner,
                        created=_iso(case.created), notes=case.notes or "")
    checks = {c.evidence_id: c for c in verification.evidence}
    items: list[EvidenceItem] = []
    series: list[tuple[RunSeries, ...]] = []
    methods: list[RunItem] = []
    others: list[RunItem] = []
    n_annotations = 0  # annotation references (A1, A2, ...) run over the whole report
    for eid in selected:
        ev = repo.get_evidence(s, eid)
        check = checks.get(eid)
        latest = repo.latest_done_runs(s, eid)
        latest_ids = {r.id for r in latest}
        newest_by_analyzer = {r.analyzer_id: r.id for r in latest}
        findings: list[FindingItem] = []
        run_series: list[RunSeries] = []
        for run in latest:
            rows = repo.findings_for_run(s, run.id)
            run_findings = [_finding(f, run) for f in rows]
            findings.extend(run_findings)
            methods.append(_run(run, ev, used=True, n_findings=len(rows)))
            run_series.append(RunSeries(run_id=run.id, analyzer_id=run.analyzer_id,
                                        analyzer_version=run.analyzer_version,
                                        analyzer_label=_analyzer_meta(run.analyzer_id)[0],
                                        findings=tuple(run_findings)))
        for run in repo.list_runs(s, evidence_id=eid):
            if run.id in latest_ids:
                continue
            others.append(_run(run, ev, used=False, n_findings=len(run.findings),
                               note=_unused_note(run, newest_by_analyzer.get(run.analyzer_id))))
        findings.sort(key=_finding_order)
        findings = [replace(f, ref=f"F{i}") for i, f in enumerate(findings, start=1)]
        by_id = {f.finding_id: f for f in findings}
        run_series = [replace(rs, findings=tuple(by_id[f.finding_id] for f in rs.findings)) for rs in run_series]
        annotations = tuple(_annotation(a, f"A{n_annotations + i}")
                            for i, a in enumerate(repo.list_annotations(s, eid), start=1))
        n_annotations += len(annotations)
        items.append(_evidence(ev, check, findings, [r.id for r in latest], annotations))
        series.append(tuple(run_series))
    trail = tuple(
        AuditEventItem(seq=e.seq, time=_iso(e.time), examiner=e.examiner, action=e.action,
                       details=json_safe(e.details or {}), prev_hash=e.prev_hash, hash=e.hash)
        for e in repo.list_audit(s)
    )
    return _Snapshot(header, tuple(items), tuple(series), tuple(methods), tuple(others), trail)


def _finding_order(f: FindingItem) -> tuple[Any, ...]:
    """Highest FakeLikelihood first, descriptive findings last, then analyzer and rank."""
    fl = f.fake_likelihood
    return (fl is None, -(fl or 0.0), f.analyzer_id, f.run_id, f.rank)


def _evidence(ev: Evidence, check: Any, findings: list[FindingItem], run_ids: list[int],
              annotations: tuple[AnnotationItem, ...]) -> EvidenceItem:
    state = check.state if check is not None else (ev.integrity or "unverified")
    return EvidenceItem(
        evidence_id=ev.id, original_name=ev.original_name, original_path=ev.original_path,
        stored_path=ev.stored_path, size=int(ev.size), media_kind=ev.media_kind, sha256=ev.sha256,
        md5=ev.md5, acquired_at=_iso(ev.acquired_at), acquired_by=ev.acquired_by,
        metadata=json_safe(ev.metadata_json or {}), verification=state,
        actual_sha256=check.actual_sha256 if check is not None else None,
        findings=tuple(findings), run_ids=tuple(run_ids), annotations=annotations,
    )


def _finding(f: Finding, run: AnalysisRun) -> FindingItem:
    refs = tuple(json_safe(dict(r)) for r in (f.artifacts or {}).get("series", []))
    maps = tuple(json_safe(dict(r)) for r in (f.artifacts or {}).get("maps", []))
    alignments = tuple(json_safe(dict(r)) for r in (f.artifacts or {}).get("alignments", []))
    return FindingItem(
        finding_id=f.id, run_id=run.id, rank=f.rank, analyzer_id=run.analyzer_id,
        analyzer_version=run.analyzer_version, label=f.label, fake_likelihood=f.fake_likelihood,
        start_s=f.start_s, end_s=f.end_s, start_frame=f.start_frame, end_frame=f.end_frame,
        region=json_safe(f.region) if f.region else None, details=json_safe(f.details or {}), series=refs,
        maps=maps, alignments=alignments,
    )


def _run(run: AnalysisRun, ev: Evidence, *, used: bool, n_findings: int, note: str = "") -> RunItem:
    label, description = _analyzer_meta(run.analyzer_id)
    status = run.status.value if isinstance(run.status, RunStatus) else str(run.status)
    return RunItem(
        run_id=run.id, evidence_id=ev.id, evidence_name=ev.original_name, analyzer_id=run.analyzer_id,
        analyzer_version=run.analyzer_version, analyzer_label=label, analyzer_description=description,
        params=json_safe(run.params or {}), model_sha256=run.model_sha256, evidence_sha256=run.evidence_sha256,
        evidence_sha256_matches=run.evidence_sha256 == ev.sha256, status=status,
        queued_at=_iso(run.queued_at), started_at=_iso(run.started_at), finished_at=_iso(run.finished_at),
        examiner=run.examiner or "", error=run.error, summary=json_safe(run.summary or {}),
        n_findings=n_findings, used=used, note=note,
    )


def _unused_note(run: AnalysisRun, newest_id: int | None) -> str:
    if run.status is RunStatus.DONE:
        return f"superseded by run #{newest_id} of the same analyzer" if newest_id else "finished"
    if run.status is RunStatus.FAILED:
        return "failed"
    if run.status is RunStatus.CANCELLED:
        return "cancelled"
    return f"{run.status.value}: not finished when the report was built"


def _annotation(a: Annotation, ref: str) -> AnnotationItem:
    return AnnotationItem(
        annotation_id=a.id, evidence_id=a.evidence_id, label=a.label, note=a.note or "", author=a.author,
        created=_iso(a.created), start_s=a.start_s, end_s=a.end_s, start_frame=a.start_frame,
        end_frame=a.end_frame, low_hz=a.low_hz, high_hz=a.high_hz,
        region=json_safe(a.region) if a.region else None, ref=ref, layer=a.layer,
    )



def _analyzer_meta(analyzer_id: str) -> tuple[str, str]:
    """(label, description) from the registry; empty when the analyzer is not installed."""
    try:
        info = registry.get(analyzer_id)
    except (NotFound, ImportError):
        return "", ""
    return info.label, info.description


def _production(examiner: str, produced_at: dt.datetime) -> Production:
    libs = []
    for name in REPORTED_LIBRARIES:
        try:
            libs.append((name, importlib.metadata.version(name)))
        except importlib.metadata.PackageNotFoundError:
            libs.append((name, "not installed"))
    try:
        import av
        import soundfile

        libs.append(("FFmpeg (via av)", str(av.ffmpeg_version_info)))
        libs.append(("libsndfile", str(soundfile.__libsndfile_version__)))
    except (ImportError, AttributeError):
        pass
    return Production(
        examiner=examiner, produced_at=_iso(produced_at), software=SOFTWARE_NAME,
        software_version=forensics_app.__version__,
        python=f"{platform.python_implementation()} {platform.python_version()}",
        platform=f"{platform.system()} {platform.release()} ({platform.machine()})",
        compute_device=settings.compute_device_label(), libraries=tuple(libs),
    )


def _iso(value: dt.datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC).isoformat(timespec="microseconds")
