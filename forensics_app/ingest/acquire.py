"""Acquire evidence into a case, and verify stored copies.

Acquisition: copy and hash in one pass into ``evidence/.incoming``, probe the copy (the exact
bytes that were hashed), then either refuse it (copy removed, refusal audited, nothing else
changes), report a duplicate (copy removed), or move it to ``evidence/<sha[:2]>/<sha><ext>``,
make it read-only and record the Evidence row and its audit event in one transaction.
"""

from __future__ import annotations

import datetime as dt
import enum
import os
import stat
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from forensics_app.domain.errors import (
    CorruptMedia,
    ForensicsError,
    IntegrityError,
    UnsupportedMedia,
)
from forensics_app.ingest.hashing import copy_and_hash, fsync_path, sha256_file
from forensics_app.ingest.names import display_label
from forensics_app.ingest.probe import probe
from forensics_app.store import audit, repo
from forensics_app.store.case import CaseStore
from forensics_app.store.schema import Evidence

READ_ONLY = stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH


class Outcome(enum.StrEnum):
    """What happened to one file offered for acquisition."""

    ADDED = "added"
    DUPLICATE = "duplicate"
    REFUSED = "refused"
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class AcquireResult:
    """Result of :func:`add_evidence` for one file (crosses threads; no ORM objects)."""

    outcome: Outcome
    original: str
    evidence_id: int | None = None
    sha256: str | None = None
    media_kind: str | None = None
    size: int | None = None
    reason: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        """JSON form for the CLI."""
        return {
            "file": self.original,
            "outcome": self.outcome.value,
            "evidence_id": self.evidence_id,
            "media_kind": self.media_kind,
            "sha256": self.sha256,
            "size": self.size,
            "reason": self.reason,
        }


def _refuse(store: CaseStore, examiner: str, src: Path, reason: str, sha256: str | None = None) -> AcquireResult:
    with store.transaction() as s:
        audit.record(s, action="evidence.refused", examiner=examiner,
                     details={"file": str(src), "reason": reason, "sha256": sha256})
    return AcquireResult(Outcome.REFUSED, str(src), sha256=sha256, reason=reason)


def add_evidence(
    store: CaseStore,
    src: Path,
    *,
    examiner: str,
    on_progress: Callable[[float, str], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> AcquireResult:
    """Acquire one file into the case.

    Parameters
    ----------
    store : CaseStore
        The open case.
    src : Path
        File to acquire; opened read-only and never changed.
    examiner : str
        Who acquires it (recorded as acquired_by and in the audit trail).
    on_progress : callable, optional
        ``on_progress(fraction, message)`` during the copy.
    should_stop : callable, optional
        Polled during the copy; True aborts it (the partial copy is removed, nothing recorded).

    Returns
    -------
    AcquireResult
        ADDED, DUPLICATE or REFUSED with the reason. Never raises for bad media.
    """
    src = Path(src).expanduser()
    name = display_label(src.name)  # for messages only: control characters escaped
    try:
        st = src.stat()
    except OSError as exc:
        return _refuse(store, examiner, src, f"{name}: cannot be read ({exc.strerror or exc})")
    if not stat.S_ISREG(st.st_mode):
        return _refuse(store, examiner, src, f"{name}: not a regular file")
    if st.st_size == 0:
        return _refuse(store, examiner, src, f"{name}: the file is empty (0 bytes)")

    incoming = store.evidence_dir / ".incoming"
    incoming.mkdir(parents=True, exist_ok=True)
    tmp = incoming / f"{uuid.uuid4().hex}.part"
    total = max(st.st_size, 1)
    try:
        digests = copy_and_hash(
            src, tmp,
            on_progress=(lambda n: on_progress(0.9 * n / total, f"copying {name}")) if on_progress else None,
            should_stop=should_stop,
        )
    except InterruptedError:
        tmp.unlink(missing_ok=True)
        with store.transaction() as s:
            audit.record(s, action="evidence.cancelled", examiner=examiner, details={"file": str(src)})
        return AcquireResult(Outcome.CANCELLED, str(src), reason=f"{name}: acquisition cancelled by the user")
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        return _refuse(store, examiner, src, f"{name}: read failed ({exc.strerror or exc})")
    try:
        with store.transaction() as s:
            existing = repo.evidence_by_sha256(s, digests.sha256)
            if existing is not None:
                audit.record(s, action="evidence.duplicate", examiner=examiner,
                             details={"file": str(src), "sha256": digests.sha256, "evidence_id": existing.id})
                duplicate = AcquireResult(
                    Outcome.DUPLICATE, str(src), evidence_id=existing.id, sha256=digests.sha256,
                    media_kind=existing.media_kind, size=existing.size,
                    reason=(f"{name}: same content (SHA-256) as evidence #{existing.id} "
                            f"({display_label(existing.original_name)})"),
                )
            else:
                duplicate = None
        if duplicate is not None:
            return duplicate
        if on_progress:
            on_progress(0.92, f"probing {name}")
        try:
            result = probe(tmp, display_name=src.name)
        except (CorruptMedia, UnsupportedMedia) as exc:
            tmp.unlink(missing_ok=True)
            return _refuse(store, examiner, src, str(exc), digests.sha256)
        except Exception as exc:  # a decoder library failing in an unexpected way is still a refusal
            tmp.unlink(missing_ok=True)
            return _refuse(store, examiner, src, f"{name}: could not be examined ({type(exc).__name__}: {exc})",
                           digests.sha256)

        suffix = src.suffix.lower()[:12] if src.suffix.isascii() else ""
        rel = Path("evidence") / digests.sha256[:2] / f"{digests.sha256}{suffix}"
        final = store.root / rel
        final.parent.mkdir(parents=True, exist_ok=True)
        os.chmod(tmp, READ_ONLY)
        fsync_path(tmp)
        os.replace(tmp, final)
        metadata = dict(result.metadata)
        metadata["original_mtime"] = dt.datetime.fromtimestamp(st.st_mtime, dt.UTC).isoformat()
        try:
            with store.transaction() as s:
                ev = Evidence(
                    case_id=store.case_info(s).id,
                    original_name=src.name,
                    original_path=str(src.resolve()),
                    stored_path=rel.as_posix(),
                    size=digests.size,
                    sha256=digests.sha256,
                    md5=digests.md5,
                    media_kind=result.kind.value,
                    metadata_json=metadata,
                    acquired_by=examiner,
                    integrity="verified",
                    verified_at=dt.datetime.now(dt.UTC),
                )
                s.add(ev)
                s.flush()
                audit.record(s, action="evidence.added", examiner=examiner, details={
                    "evidence_id": ev.id, "file": str(src), "sha256": digests.sha256, "md5": digests.md5,
                    "size": digests.size, "media_kind": result.kind.value,
                })
                evidence_id = ev.id
        except BaseException:
            os.chmod(final, stat.S_IRUSR | stat.S_IWUSR)
            final.unlink(missing_ok=True)
            raise
        if on_progress:
            on_progress(1.0, f"added {name}")
        return AcquireResult(
            Outcome.ADDED, str(src), evidence_id=evidence_id, sha256=digests.sha256,
            media_kind=result.kind.value, size=digests.size, metadata=metadata,
        )
    finally:
        tmp.unlink(missing_ok=True)


@dataclass(frozen=True)
class EvidenceCheck:
    """Verification outcome of one stored copy."""

    evidence_id: int
    name: str
    state: str  # "verified", "mismatch" or "missing"
    expected_sha256: str
    actual_sha256: str | None


def check_evidence(store: CaseStore, evidence_id: int) -> EvidenceCheck:
    """Re-hash one stored copy and compare it with its recorded SHA-256 (no DB write)."""
    with store.session() as s:
        ev = repo.get_evidence(s, evidence_id)
        path, expected, name = store.resolve(ev.stored_path), ev.sha256, ev.original_name
    if not path.is_file():
        return EvidenceCheck(evidence_id, name, "missing", expected, None)
    actual = sha256_file(path)
    return EvidenceCheck(evidence_id, name, "verified" if actual == expected else "mismatch", expected, actual)


def require_intact(store: CaseStore, evidence_id: int, *, examiner: str, purpose: str) -> Path:
    """Verify one evidence copy before use; record and raise on failure.

    Returns
    -------
    Path
        The verified stored copy.

    Raises
    ------
    IntegrityError
        The copy is missing or its hash changed (the Evidence row is marked accordingly).
    """
    check = check_evidence(store, evidence_id)
    with store.transaction() as s:
        ev = repo.get_evidence(s, evidence_id)
        ev.integrity = check.state
        ev.verified_at = dt.datetime.now(dt.UTC)
        if check.state != "verified":
            audit.record(s, action="evidence.integrity_failed", examiner=examiner, details={
                "evidence_id": evidence_id, "state": check.state, "purpose": purpose,
                "expected_sha256": check.expected_sha256, "actual_sha256": check.actual_sha256,
            })
        path = store.resolve(ev.stored_path)
    if check.state == "missing":
        raise IntegrityError(f"evidence #{evidence_id} ({check.name}): stored copy is missing")
    if check.state == "mismatch":
        raise IntegrityError(
            f"evidence #{evidence_id} ({check.name}): stored copy no longer matches its SHA-256 "
            f"(recorded {check.expected_sha256[:16]}…, now {check.actual_sha256[:16] if check.actual_sha256 else '-'}…)"
        )
    return path


@dataclass(frozen=True)
class VerifyReport:
    """Outcome of :func:`verify_case`."""

    evidence: tuple[EvidenceCheck, ...]
    chain: audit.ChainReport

    @property
    def ok(self) -> bool:
        """Every copy intact and the audit chain unbroken."""
        return self.chain.ok and all(c.state == "verified" for c in self.evidence)

    def as_json(self) -> dict[str, Any]:
        """JSON form for the CLI and the report."""
        return {
            "ok": self.ok,
            "evidence": [c.__dict__ for c in self.evidence],
            "audit_chain": {"ok": self.chain.ok, "events": self.chain.n_events,
                            "first_broken_seq": self.chain.first_broken_seq, "reason": self.chain.reason},
        }


def verify_case(
    store: CaseStore, *, examiner: str, on_progress: Callable[[float, str], None] | None = None
) -> VerifyReport:
    """Re-hash every stored copy and check the audit chain; record the verification.

    The chain is checked before the verification event is appended, so the report describes
    the trail as found.
    """
    with store.session() as s:
        ids = [e.id for e in repo.list_evidence(s)]
        chain = audit.verify_chain(s, store.root)
    checks = []
    for i, eid in enumerate(ids):
        if on_progress:
            on_progress(i / max(len(ids), 1), f"hashing evidence #{eid}")
        checks.append(check_evidence(store, eid))
    with store.transaction() as s:
        for c in checks:
            ev = repo.get_evidence(s, c.evidence_id)
            ev.integrity = c.state
            ev.verified_at = dt.datetime.now(dt.UTC)
        report = VerifyReport(tuple(checks), chain)
        audit.record(s, action="case.verified", examiner=examiner, details={
            "ok": report.ok, "evidence_checked": len(checks),
            "failed": [c.evidence_id for c in checks if c.state != "verified"],
            "audit_chain_ok": chain.ok, "audit_first_broken_seq": chain.first_broken_seq,
        })
    if on_progress:
        on_progress(1.0, "verification finished")
    return report


__all__ = ["add_evidence", "verify_case", "require_intact", "check_evidence", "AcquireResult", "Outcome",
           "VerifyReport", "EvidenceCheck", "ForensicsError"]
