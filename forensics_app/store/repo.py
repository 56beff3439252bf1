"""Queries and small writes on a case database; functions take a Session, never open one."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from forensics_app.domain.errors import NotFound
from forensics_app.store.schema import (
    AnalysisRun,
    Annotation,
    AuditEvent,
    Evidence,
    Finding,
    RunStatus,
)


def get_evidence(session: Session, evidence_id: int) -> Evidence:
    """Evidence row by id; NotFound if absent."""
    ev = session.get(Evidence, evidence_id)
    if ev is None:
        raise NotFound(f"evidence #{evidence_id} is not in this case")
    return ev


def evidence_by_sha256(session: Session, sha256: str) -> Evidence | None:
    """Evidence row with this content hash, if any."""
    return session.scalars(select(Evidence).where(Evidence.sha256 == sha256)).first()


def list_evidence(session: Session) -> Sequence[Evidence]:
    """All evidence, in acquisition order."""
    return session.scalars(select(Evidence).order_by(Evidence.id)).all()


def get_run(session: Session, run_id: int) -> AnalysisRun:
    """Run row by id; NotFound if absent."""
    run = session.get(AnalysisRun, run_id)
    if run is None:
        raise NotFound(f"analysis run #{run_id} is not in this case")
    return run


def list_runs(
    session: Session, *, evidence_id: int | None = None, status: RunStatus | None = None
) -> Sequence[AnalysisRun]:
    """Runs, oldest first, optionally for one evidence item or status."""
    q = select(AnalysisRun).order_by(AnalysisRun.id)
    if evidence_id is not None:
        q = q.where(AnalysisRun.evidence_id == evidence_id)
    if status is not None:
        q = q.where(AnalysisRun.status == status)
    return session.scalars(q).all()


def latest_done_runs(session: Session, evidence_id: int) -> list[AnalysisRun]:
    """The newest finished run of each analyzer on an evidence item."""
    newest: dict[str, AnalysisRun] = {}
    for run in list_runs(session, evidence_id=evidence_id, status=RunStatus.DONE):
        newest[run.analyzer_id] = run
    return sorted(newest.values(), key=lambda r: r.analyzer_id)


def findings_for_run(session: Session, run_id: int) -> Sequence[Finding]:
    """A run's findings in the analyzer's rank order."""
    return session.scalars(select(Finding).where(Finding.run_id == run_id).order_by(Finding.rank)).all()


def list_findings(session: Session, *, evidence_id: int | None = None, latest_only: bool = True) -> list[Finding]:
    """Findings of finished runs (by default only each analyzer's newest run per evidence)."""
    if latest_only:
        evidence_ids = [evidence_id] if evidence_id is not None else [e.id for e in list_evidence(session)]
        out: list[Finding] = []
        for eid in evidence_ids:
            for run in latest_done_runs(session, eid):
                out.extend(findings_for_run(session, run.id))
        return out
    q = select(Finding).join(AnalysisRun).where(AnalysisRun.status == RunStatus.DONE)
    if evidence_id is not None:
        q = q.where(AnalysisRun.evidence_id == evidence_id)
    return list(session.scalars(q.order_by(Finding.run_id, Finding.rank)).all())


def list_annotations(session: Session, evidence_id: int | None = None) -> Sequence[Annotation]:
    """Annotations, optionally of one evidence item."""
    q = select(Annotation).order_by(Annotation.id)
    if evidence_id is not None:
        q = q.where(Annotation.evidence_id == evidence_id)
    return session.scalars(q).all()


def list_audit(session: Session) -> Sequence[AuditEvent]:
    """The audit trail in order."""
    return session.scalars(select(AuditEvent).order_by(AuditEvent.seq)).all()
