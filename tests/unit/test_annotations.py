"""Annotations are stored in layers, checked, editable, and every change is in the audit trail."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from media_factory import sine_wav

from forensics_app.domain.errors import ForensicsError, NotFound
from forensics_app.ingest.acquire import add_evidence
from forensics_app.store import audit, repo
from forensics_app.store.annotations import (
    AnnotationSpec,
    InvalidAnnotation,
    add_annotation,
    delete_annotation,
    insert_annotation,
    list_layers,
    query_annotations,
    update_annotation,
)
from forensics_app.store.case import CaseStore


@pytest.fixture
def wav_id(case: CaseStore, tmp_path: Path) -> int:
    result = add_evidence(case, sine_wav(tmp_path / "a.wav"), examiner="Ann")
    assert result.evidence_id is not None
    return result.evidence_id


def test_annotation_life_cycle_is_audited(case: CaseStore, wav_id: int) -> None:
    eid = wav_id
    aid = add_annotation(case, evidence_id=eid, author="Ann",
                         spec=AnnotationSpec(label="breath", note="odd", start_s=0.2, end_s=0.4, low_hz=100, high_hz=900))
    update_annotation(case, annotation_id=aid, author="Bob", spec=AnnotationSpec(label="breath?", start_s=0.2, end_s=0.5))
    with case.session() as s:
        row = repo.list_annotations(s, eid)[0]
        assert (row.label, row.end_s, row.low_hz, row.author, row.layer) == ("breath?", 0.5, None, "Ann", "default")
        events = repo.list_audit(s)
        assert [e.action for e in events[-2:]] == ["annotation.added", "annotation.updated"]
        assert events[-2].details["layer"] == "default" and events[-2].details["author"] == "Ann"
        assert events[-1].details["old"]["label"] == "breath" and events[-1].examiner == "Bob"
    delete_annotation(case, annotation_id=aid, author="Ann")
    with case.session() as s:
        assert repo.list_annotations(s, eid) == []
        assert repo.list_audit(s)[-1].details["old"]["label"] == "breath?"
        assert repo.list_audit(s)[-1].details["old"]["author"] == "Ann"
        assert audit.verify_chain(s, case.root).ok
    with pytest.raises(NotFound):
        delete_annotation(case, annotation_id=aid, author="Ann")
    with pytest.raises(NotFound):
        add_annotation(case, evidence_id=999, author="Ann", spec=AnnotationSpec(label="x"))
    with pytest.raises(NotFound):
        update_annotation(case, annotation_id=aid, author="Ann", spec=AnnotationSpec(label="x"))


def test_layers_are_stored_edited_and_listed(case: CaseStore, wav_id: int) -> None:
    a = add_annotation(case, evidence_id=wav_id, author="Ann",
                       spec=AnnotationSpec(label="cut", start_s=0.1, end_s=0.1, layer="  edits "))
    add_annotation(case, evidence_id=wav_id, author="Ann", spec=AnnotationSpec(label="speaker A", start_s=0, end_s=1,
                                                                               layer="speakers"))
    add_annotation(case, evidence_id=wav_id, author="Ann", spec=AnnotationSpec(label="hum", start_s=0, end_s=1))
    with case.session() as s:
        assert list_layers(s) == ["default", "edits", "speakers"]
        assert [r.label for r in query_annotations(s, layers=["edits", "speakers"])] == ["cut", "speaker A"]
        assert [r.label for r in query_annotations(s, evidence_id=wav_id, layers=["default"])] == ["hum"]
    update_annotation(case, annotation_id=a, author="Bob",
                      spec=AnnotationSpec(label="cut", start_s=0.1, end_s=0.1, layer="splices"))
    with case.session() as s:
        assert list_layers(s) == ["default", "speakers", "splices"]
        ev = repo.list_audit(s)[-1]
        assert (ev.details["old"]["layer"], ev.details["new"]["layer"]) == ("edits", "splices")
        row = next(r for r in repo.list_annotations(s) if r.id == a)
        assert AnnotationSpec.from_row(row) == AnnotationSpec(label="cut", start_s=0.1, end_s=0.1, layer="splices")


def test_values_are_normalised() -> None:
    spec = AnnotationSpec(label=" click ", start_s=1, end_s=2, low_hz=10, high_hz=20, start_frame=3, end_frame=3)
    assert (spec.label, spec.layer) == ("click", "default")
    assert isinstance(spec.start_s, float) and isinstance(spec.high_hz, float)
    assert AnnotationSpec(label="r", region={"x": 0, "y": 0, "width": 2.0, "height": 1}).region == {
        "x": 0, "y": 0, "width": 2, "height": 1}
    assert AnnotationSpec(label="point", start_s=0.0, end_s=0.0).end_s == 0.0  # an instant is allowed


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"label": "  "}, "label must not be empty"),
    ({"label": "x" * 257}, "at most 256"),
    ({"label": "x", "layer": ""}, "layer name must not be empty"),
    ({"label": "x", "layer": "L" * 65}, "at most 64"),
    ({"label": "x", "start_s": 1.0}, "start_s is given without end_s"),
    ({"label": "x", "end_s": 1.0}, "end_s is given without start_s"),
    ({"label": "x", "start_s": -0.5, "end_s": 1.0}, "start_s must be >= 0"),
    ({"label": "x", "start_s": 2.0, "end_s": 1.0}, "is before start_s"),
    ({"label": "x", "start_s": float("nan"), "end_s": 1.0}, "finite"),
    ({"label": "x", "start_s": "1", "end_s": 2.0}, "must be a number"),
    ({"label": "x", "start_s": True, "end_s": 2.0}, "must be a number"),
    ({"label": "x", "low_hz": 10.0, "high_hz": 20.0}, "needs a time range"),
    ({"label": "x", "start_s": 0.0, "end_s": 1.0, "low_hz": 10.0}, "low_hz is given without high_hz"),
    ({"label": "x", "start_s": 0.0, "end_s": 1.0, "low_hz": 20.0, "high_hz": 20.0}, "must be above low_hz"),
    ({"label": "x", "start_s": 0.0, "end_s": 1.0, "low_hz": -1.0, "high_hz": 20.0}, "low_hz must be >= 0"),
    ({"label": "x", "start_frame": -1, "end_frame": 3}, "start_frame must be >= 0"),
    ({"label": "x", "start_frame": 4, "end_frame": 3}, "is before start_frame"),
    ({"label": "x", "start_frame": 1.5, "end_frame": 3}, "whole number"),
    ({"label": "x", "region": {"x": 0, "y": 0, "width": 0, "height": 5}}, "must be positive"),
    ({"label": "x", "region": {"x": -1, "y": 0, "width": 3, "height": 5}}, "must be >= 0 px"),
    ({"label": "x", "region": {"x": 0, "y": 0, "w": 3, "h": 5}}, "exactly the keys"),
])
def test_invalid_specs_are_refused_with_a_clear_message(kwargs: dict, message: str) -> None:
    with pytest.raises(InvalidAnnotation, match=message) as info:
        AnnotationSpec(**kwargs)
    assert isinstance(info.value, ForensicsError)


def test_insert_keeps_author_and_created_and_audits_the_importer(case: CaseStore, wav_id: int) -> None:
    when = dt.datetime(2025, 3, 4, 5, 6, 7, 891011, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    with case.transaction() as s:
        aid = insert_annotation(s, evidence_id=wav_id, spec=AnnotationSpec(label="x"), author="Carol",
                                examiner="Dan", created=when, source={"import_sha256": "ab" * 32})
    with case.session() as s:
        row = repo.list_annotations(s)[0]
        assert (row.id, row.author, row.created) == (aid, "Carol", when.astimezone(dt.UTC))
        ev = repo.list_audit(s)[-1]
        assert (ev.action, ev.examiner, ev.details["author"]) == ("annotation.added", "Dan", "Carol")
        assert ev.details["source"]["import_sha256"] == "ab" * 32
    with case.transaction() as s, pytest.raises(InvalidAnnotation, match="time zone"):
        insert_annotation(s, evidence_id=wav_id, spec=AnnotationSpec(label="x"), author="C", examiner="D",
                          created=dt.datetime(2025, 1, 1))
    with case.transaction() as s, pytest.raises(InvalidAnnotation, match="author must not be empty"):
        insert_annotation(s, evidence_id=wav_id, spec=AnnotationSpec(label="x"), author=" ", examiner="D")
