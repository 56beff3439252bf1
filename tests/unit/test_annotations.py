"""Annotations are stored, editable, and every change is in the audit trail."""

from __future__ import annotations

from pathlib import Path

import pytest
from media_factory import sine_wav

from forensics_app.domain.errors import NotFound
from forensics_app.ingest.acquire import add_evidence
from forensics_app.store import audit, repo
from forensics_app.store.annotations import (
    AnnotationSpec,
    add_annotation,
    delete_annotation,
    update_annotation,
)
from forensics_app.store.case import CaseStore


def test_annotation_life_cycle_is_audited(case: CaseStore, tmp_path: Path) -> None:
    eid = add_evidence(case, sine_wav(tmp_path / "a.wav"), examiner="Ann").evidence_id
    aid = add_annotation(case, evidence_id=eid, author="Ann",
                         spec=AnnotationSpec(label="breath", note="odd", start_s=0.2, end_s=0.4, low_hz=100, high_hz=900))
    update_annotation(case, annotation_id=aid, author="Bob", spec=AnnotationSpec(label="breath?", start_s=0.2, end_s=0.5))
    with case.session() as s:
        row = repo.list_annotations(s, eid)[0]
        assert (row.label, row.end_s, row.low_hz, row.author) == ("breath?", 0.5, None, "Ann")
        events = repo.list_audit(s)
        assert [e.action for e in events[-2:]] == ["annotation.added", "annotation.updated"]
        assert events[-1].details["old"]["label"] == "breath" and events[-1].examiner == "Bob"
    delete_annotation(case, annotation_id=aid, author="Ann")
    with case.session() as s:
        assert repo.list_annotations(s, eid) == []
        assert repo.list_audit(s)[-1].details["old"]["label"] == "breath?"
        assert audit.verify_chain(s, case.root).ok
    with pytest.raises(NotFound):
        delete_annotation(case, annotation_id=aid, author="Ann")
    with pytest.raises(NotFound):
        add_annotation(case, evidence_id=999, author="Ann", spec=AnnotationSpec(label="x"))
