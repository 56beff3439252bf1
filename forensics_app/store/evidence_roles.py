"""Evidence roles: questioned items and known genuine references.

An investigator marks an evidence item as a known genuine *reference* (the same speaker, or the
same event: a broadcast against a "leaked" copy); questioned items are compared with it by the
reference-comparison analyzer. The role is a label on the evidence row; the evidence itself is
never touched. Every change is audited.
"""

from __future__ import annotations

from forensics_app.domain.errors import CaseError
from forensics_app.store import audit, repo
from forensics_app.store.case import CaseStore

#: An item under examination (the default).
ROLE_QUESTIONED = "questioned"
#: A known genuine recording that questioned items are compared with.
ROLE_REFERENCE = "reference"
ROLES = (ROLE_QUESTIONED, ROLE_REFERENCE)


def set_role(store: CaseStore, evidence_id: int, *, role: str, examiner: str) -> bool:
    """Mark an evidence item as questioned or as a known genuine reference.

    Parameters
    ----------
    store : CaseStore
        The case.
    evidence_id : int
        The evidence item.
    role : {"questioned", "reference"}
        Its new role.
    examiner : str
        Recorded in the audit trail.

    Returns
    -------
    bool
        True when the role changed (an audit event was written), False when it already had it.

    Raises
    ------
    CaseError
        For an unknown role.
    NotFound
        For an unknown evidence id.
    """
    if role not in ROLES:
        raise CaseError(f"unknown evidence role {role!r}; expected one of {list(ROLES)}")
    with store.transaction() as s:
        ev = repo.get_evidence(s, evidence_id)
        if ev.role == role:
            return False
        previous, ev.role = ev.role, role
        audit.record(s, action="evidence.role", examiner=examiner, details={
            "evidence_id": evidence_id, "sha256": ev.sha256, "from": previous, "to": role,
        })
    return True


def references(store: CaseStore) -> list[int]:
    """Ids of the evidence items marked as references, in acquisition order."""
    with store.session() as s:
        return [ev.id for ev in repo.list_evidence(s) if ev.role == ROLE_REFERENCE]
