"""The hash-chained audit trail.

Each :class:`~forensics_app.store.schema.AuditEvent` stores the hash of the event before it and its
own SHA-256 over a canonical JSON form of (seq, time, examiner, action, details, prev_hash).
Editing a row breaks its own hash; deleting or inserting a row breaks the next row's link or the
sequence. The newest seq and hash are also written to ``audit.head`` beside ``case.db``, so that
deleting events from the end of the chain is detected too.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from forensics_app.domain.jsonable import canonical_json, json_safe
from forensics_app.store.schema import AuditEvent, utcnow

GENESIS = "0" * 64
HEAD_FILE = "audit.head"




def event_hash(
    *, seq: int, time: dt.datetime, examiner: str, action: str, details: dict[str, Any], prev_hash: str
) -> str:
    """SHA-256 (hex) of an event's canonical form."""
    body = {
        "seq": seq,
        "time": time.astimezone(dt.UTC).isoformat(timespec="microseconds"),
        "examiner": examiner,
        "action": action,
        "details": details,
        "prev_hash": prev_hash,
    }
    return hashlib.sha256(canonical_json(body).encode("utf-8")).hexdigest()


def record(
    session: Session, *, action: str, examiner: str, details: dict[str, Any] | None = None
) -> AuditEvent:
    """Append an event to the chain inside the caller's transaction (the caller commits).

    Parameters
    ----------
    session : Session
        Open session; its transaction began with BEGIN IMMEDIATE, so no other writer can
        append between reading the last link and inserting this one.
    action : str
        Dotted verb, e.g. ``"evidence.added"``.
    examiner : str
        Who did it.
    details : dict, optional
        JSON-serialisable facts (file names, hashes, ids, reasons).
    """
    last = session.scalars(select(AuditEvent).order_by(AuditEvent.seq.desc()).limit(1)).first()
    seq = 1 if last is None else last.seq + 1
    prev = GENESIS if last is None else last.hash
    details = json_safe(details or {})
    time = utcnow()
    ev = AuditEvent(
        seq=seq,
        time=time,
        examiner=examiner,
        action=action,
        details=details,
        prev_hash=prev,
        hash=event_hash(seq=seq, time=time, examiner=examiner, action=action, details=details, prev_hash=prev),
    )
    session.add(ev)
    session.flush()
    return ev


def write_head(case_dir: Path, session: Session) -> None:
    """Write the newest event's seq and hash to ``audit.head`` (after a commit)."""
    last = session.scalars(select(AuditEvent).order_by(AuditEvent.seq.desc()).limit(1)).first()
    if last is None:
        return
    tmp = case_dir / (HEAD_FILE + ".tmp")
    tmp.write_text(f"{last.seq} {last.hash}\n", encoding="ascii")
    tmp.replace(case_dir / HEAD_FILE)


@dataclass(frozen=True)
class ChainReport:
    """Outcome of :func:`verify_chain`.

    Attributes
    ----------
    ok : bool
        True when every link checks out.
    n_events : int
        Events examined.
    first_broken_seq : int or None
        Sequence number of the first event that fails (or the seq expected where one is missing).
    reason : str
        Plain-language explanation of the first failure ("" when ok).
    """

    ok: bool
    n_events: int
    first_broken_seq: int | None = None
    reason: str = ""


def verify_chain(session: Session, case_dir: Path | None = None) -> ChainReport:
    """Recompute every link of the chain and name the first broken one.

    Parameters
    ----------
    session : Session
        Open session on the case database.
    case_dir : Path, optional
        Case folder; when given, the chain's end is also checked against ``audit.head``.
    """
    events = session.scalars(select(AuditEvent).order_by(AuditEvent.seq)).all()
    prev = GENESIS
    expected_seq = 1
    for ev in events:
        if ev.seq != expected_seq:
            return ChainReport(
                False, len(events), expected_seq,
                f"audit event #{expected_seq} is missing (next stored event is #{ev.seq}): events were deleted",
            )
        if ev.prev_hash != prev:
            return ChainReport(
                False, len(events), ev.seq,
                f"audit event #{ev.seq} ({ev.action}) does not link to the event before it: "
                "an earlier event was altered, removed or inserted",
            )
        recomputed = event_hash(
            seq=ev.seq, time=ev.time, examiner=ev.examiner, action=ev.action,
            details=ev.details, prev_hash=ev.prev_hash,
        )
        if recomputed != ev.hash:
            return ChainReport(
                False, len(events), ev.seq,
                f"audit event #{ev.seq} ({ev.action}) was altered after it was recorded (its hash no longer matches)",
            )
        prev = ev.hash
        expected_seq += 1
    if case_dir is not None and (case_dir / HEAD_FILE).exists():
        parts = (case_dir / HEAD_FILE).read_text(encoding="ascii").split()
        head_seq, head_hash = int(parts[0]), parts[1]
        last_seq = expected_seq - 1
        if head_seq > last_seq:
            return ChainReport(
                False, len(events), last_seq + 1,
                f"audit events #{last_seq + 1} to #{head_seq} are missing from the end of the chain",
            )
        if head_seq == last_seq and head_hash != prev:
            return ChainReport(
                False, len(events), last_seq,
                f"audit event #{last_seq} does not match the recorded head of the chain",
            )
    return ChainReport(True, len(events))
