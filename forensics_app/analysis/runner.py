"""Queue and run analysis jobs.

A job is an AnalysisRun row. :func:`run_job` is the only place analyzers are called: it re-verifies
the evidence hash, decodes the stored copy, calls the analyzer with a progress token, and stores
the findings, their artifacts and the run's status in one transaction. Failures and cancellations
are recorded on the run (with the traceback) and returned, never raised: a broken analyzer cannot
take the application down. Every outcome is audited.
"""

from __future__ import annotations

import datetime as dt
import traceback
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from forensics_app.analysis import registry
from forensics_app.domain.errors import AnalyzerError, Cancelled, ForensicsError
from forensics_app.domain.jobs import JobSpec, ProgressToken
from forensics_app.domain.jsonable import json_safe
from forensics_app.domain.results import AnalysisResult
from forensics_app.ingest.acquire import require_intact
from forensics_app.ingest.decode import decode
from forensics_app.store import audit, repo
from forensics_app.store.case import CaseStore
from forensics_app.store.schema import AnalysisRun, Finding, RunStatus


def make_spec(analyzer_id: str, params: Mapping[str, Any] | None = None) -> JobSpec:
    """A validated JobSpec for an analyzer (defaults filled in)."""
    info = registry.get(analyzer_id)
    return JobSpec(info.id, info.version, info.resolve_params(params), info.model_sha256)


def queue_job(store: CaseStore, *, evidence_id: int, spec: JobSpec, examiner: str) -> int:
    """Record a queued run; return its id.

    Raises
    ------
    AnalyzerError
        If the analyzer does not accept the evidence's media kind.
    """
    info = registry.get(spec.analyzer_id)
    with store.transaction() as s:
        ev = repo.get_evidence(s, evidence_id)
        if ev.media_kind not in {m.value for m in info.media}:
            raise AnalyzerError(
                f"{info.id} examines {', '.join(sorted(m.value for m in info.media))}; "
                f"evidence #{evidence_id} ({ev.original_name}) is {ev.media_kind}"
            )
        if info.needs_reference:
            _check_reference(s, info, evidence_id, int(spec.params.get("reference_id", 0)))
        run = AnalysisRun(
            evidence_id=evidence_id, analyzer_id=spec.analyzer_id, analyzer_version=spec.analyzer_version,
            params=dict(spec.params), model_sha256=spec.model_sha256, evidence_sha256=ev.sha256,
            status=RunStatus.QUEUED, examiner=examiner,
        )
        s.add(run)
        s.flush()
        audit.record(s, action="analysis.queued", examiner=examiner, details={
            "run_id": run.id, "evidence_id": evidence_id, "analyzer": spec.analyzer_id,
            "version": spec.analyzer_version, "params": dict(spec.params),
        })
        return run.id


def _check_reference(s: Any, info: registry.AnalyzerInfo, evidence_id: int, reference_id: int) -> None:
    """Refuse a comparison whose reference is missing, the evidence itself, or of another kind."""
    if reference_id == evidence_id:
        raise AnalyzerError(f"{info.id}: the reference must be another evidence item than #{evidence_id}")
    if reference_id <= 0:
        raise AnalyzerError(f"{info.id}: choose a reference evidence item (reference_id)")
    ref = repo.get_evidence(s, reference_id)
    if ref.media_kind not in {m.value for m in info.media}:
        raise AnalyzerError(
            f"{info.id}: reference #{reference_id} ({ref.original_name}) is {ref.media_kind}, not "
            f"{', '.join(sorted(m.value for m in info.media))}"
        )


@dataclass(frozen=True)
class RunOutcome:
    """How a run ended (crosses threads)."""

    run_id: int
    status: RunStatus
    error: str | None = None
    n_findings: int = 0


def _finish(store: CaseStore, run_id: int, status: RunStatus, examiner: str, *, error: str | None = None,
            tb: str | None = None) -> RunOutcome:
    with store.transaction() as s:
        run = repo.get_run(s, run_id)
        run.status = status
        run.finished_at = dt.datetime.now(dt.UTC)
        run.error = error
        run.traceback = tb
        audit.record(s, action=f"analysis.{status.value}", examiner=examiner, details={
            "run_id": run_id, "evidence_id": run.evidence_id, "analyzer": run.analyzer_id, "error": error,
        })
    return RunOutcome(run_id, status, error)


def run_job(store: CaseStore, run_id: int, *, progress: ProgressToken | None = None,
            examiner: str | None = None) -> RunOutcome:
    """Run a queued analysis to completion (on the calling thread).

    Parameters
    ----------
    store : CaseStore
        The case; this call opens its own Sessions.
    run_id : int
        A QUEUED run from :func:`queue_job`.
    progress : ProgressToken, optional
        Receives fractions; its cancel() stops the job at the analyzer's next check.
    examiner : str, optional
        Recorded in the audit trail (defaults to whoever queued the run).
    """
    progress = progress or ProgressToken()
    with store.transaction() as s:
        run = repo.get_run(s, run_id)
        if run.status is not RunStatus.QUEUED:
            return RunOutcome(run_id, run.status, f"run #{run_id} is {run.status.value}, not queued")
        examiner = examiner or run.examiner
        if not progress.cancelled:
            run.status = RunStatus.RUNNING
            run.started_at = dt.datetime.now(dt.UTC)
        evidence_id, analyzer_id, params = run.evidence_id, run.analyzer_id, dict(run.params)
        kind = run.evidence.media_kind
        recorded_sha = run.evidence_sha256
    if progress.cancelled:
        return _finish(store, run_id, RunStatus.CANCELLED, examiner, error="cancelled before it started")
    try:
        progress.report(0.0, "verifying evidence hash")
        path = require_intact(store, evidence_id, examiner=examiner, purpose=f"analysis run #{run_id}")
        with store.session() as s:
            if repo.get_evidence(s, evidence_id).sha256 != recorded_sha:
                raise ForensicsError(f"evidence #{evidence_id} changed since run #{run_id} was queued")
        info = registry.get(analyzer_id)
        extra: dict[str, Any] = {}
        reference_record: dict[str, Any] = {}
        if info.needs_reference:
            extra["reference"], reference_record = _decode_reference(
                store, run_id, int(params["reference_id"]), examiner)
        progress.check()
        progress.report(0.02, "decoding")
        media = decode(path, kind)
        progress.check()
        result = info.func(media, params=params, progress=progress.sub(0.05, 0.9), **extra)
        if not isinstance(result, AnalysisResult):
            raise AnalyzerError(f"{analyzer_id} returned {type(result).__name__}, not an AnalysisResult")
        if reference_record:  # provenance: which reference, at which hash
            result = AnalysisResult(result.findings, {**dict(result.summary), "reference": reference_record})
        progress.check()
        progress.report(0.96, "storing findings")
        n = _store_result(store, run_id, result, examiner)
        progress.report(1.0, "done")
        return RunOutcome(run_id, RunStatus.DONE, None, n)
    except Cancelled:
        return _finish(store, run_id, RunStatus.CANCELLED, examiner, error="cancelled by the user")
    except Exception as exc:  # recorded on the run, shown to the user, never fatal
        message = str(exc) if isinstance(exc, ForensicsError) else f"{type(exc).__name__}: {exc}"
        return _finish(store, run_id, RunStatus.FAILED, examiner, error=message, tb=traceback.format_exc())


def _decode_reference(store: CaseStore, run_id: int, reference_id: int,
                      examiner: str) -> tuple[Any, dict[str, Any]]:
    """Verify the reference evidence's hash (audited), decode it, and describe it for provenance."""
    ref_path = require_intact(store, reference_id, examiner=examiner, purpose=f"reference for analysis run #{run_id}")
    with store.session() as s:
        ref = repo.get_evidence(s, reference_id)
        ref_kind = ref.media_kind
        record = {"evidence_id": reference_id, "name": ref.original_name, "sha256": ref.sha256}
    return decode(ref_path, ref_kind), record


def _store_result(store: CaseStore, run_id: int, result: AnalysisResult, examiner: str) -> int:
    """Write artifacts (content-addressed, idempotent) then findings + status in one transaction."""
    rows = []
    for rank, f in enumerate(result.findings):
        refs = [store.artifacts.put_series(ts) for ts in f.series]
        maps = [store.artifacts.put_map(m) for m in f.maps]
        alignments = [store.artifacts.put_alignment(m) for m in f.alignments]
        stored: dict[str, Any] = {}
        if refs:
            stored["series"] = refs
        if maps:
            stored["maps"] = maps
        if alignments:
            stored["alignments"] = alignments
        rows.append(Finding(
            run_id=run_id, rank=rank, label=f.label, fake_likelihood=f.fake_likelihood,
            start_s=f.start_s, end_s=f.end_s, start_frame=f.start_frame, end_frame=f.end_frame,
            region=None if f.region is None else {"x": f.region.x, "y": f.region.y,
                                                   "width": f.region.width, "height": f.region.height},
            details=json_safe(dict(f.details)), artifacts=stored,
        ))
    with store.transaction() as s:
        run = repo.get_run(s, run_id)
        s.add_all(rows)
        run.status = RunStatus.DONE
        run.finished_at = dt.datetime.now(dt.UTC)
        run.summary = json_safe(dict(result.summary))
        audit.record(s, action="analysis.done", examiner=examiner, details={
            "run_id": run_id, "evidence_id": run.evidence_id, "analyzer": run.analyzer_id,
            "version": run.analyzer_version, "findings": len(rows),
        })
    return len(rows)
