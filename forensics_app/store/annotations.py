"""Examiner annotations on evidence, each change audited."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from forensics_app.domain.errors import NotFound
from forensics_app.store import audit, repo
from forensics_app.store.case import CaseStore
from forensics_app.store.schema import Annotation


@dataclass(frozen=True)
class AnnotationSpec:
    """What an annotation marks; leave the fields that do not apply as None.

    Attributes
    ----------
    label : str
        Short label.
    note : str
        Free text.
    start_s, end_s : float, optional
        Time range in seconds.
    start_frame, end_frame : int, optional
        Frame range (end exclusive).
    low_hz, high_hz : float, optional
        Frequency band in Hz (a time-frequency box with start_s/end_s).
    region : dict, optional
        Image region ``{"x", "y", "width", "height"}`` in pixels.
    """

    label: str
    note: str = ""
    start_s: float | None = None
    end_s: float | None = None
    start_frame: int | None = None
    end_frame: int | None = None
    low_hz: float | None = None
    high_hz: float | None = None
    region: dict[str, int] | None = field(default=None)

    def fields(self) -> dict[str, Any]:
        """Column values."""
        return dict(self.__dict__)


def add_annotation(store: CaseStore, *, evidence_id: int, spec: AnnotationSpec, author: str) -> int:
    """Store an annotation and audit it; return its id."""
    with store.transaction() as s:
        repo.get_evidence(s, evidence_id)
        row = Annotation(evidence_id=evidence_id, author=author, **spec.fields())
        s.add(row)
        s.flush()
        audit.record(s, action="annotation.added", examiner=author,
                     details={"annotation_id": row.id, "evidence_id": evidence_id, **spec.fields()})
        return row.id


def update_annotation(store: CaseStore, *, annotation_id: int, spec: AnnotationSpec, author: str) -> None:
    """Replace an annotation's content; the audit event keeps the old and new values."""
    with store.transaction() as s:
        row = s.get(Annotation, annotation_id)
        if row is None:
            raise NotFound(f"annotation #{annotation_id} is not in this case")
        old = {k: getattr(row, k) for k in spec.fields()}
        for k, v in spec.fields().items():
            setattr(row, k, v)
        audit.record(s, action="annotation.updated", examiner=author,
                     details={"annotation_id": annotation_id, "evidence_id": row.evidence_id,
                              "old": old, "new": spec.fields()})


def delete_annotation(store: CaseStore, *, annotation_id: int, author: str) -> None:
    """Delete an annotation; the audit event keeps what it said."""
    with store.transaction() as s:
        row = s.get(Annotation, annotation_id)
        if row is None:
            raise NotFound(f"annotation #{annotation_id} is not in this case")
        old = {k: getattr(row, k) for k in AnnotationSpec.__dataclass_fields__}
        evidence_id = row.evidence_id
        s.delete(row)
        audit.record(s, action="annotation.deleted", examiner=author,
                     details={"annotation_id": annotation_id, "evidence_id": evidence_id, "old": old})
