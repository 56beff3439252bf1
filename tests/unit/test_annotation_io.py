"""Annotation export (CSV, JSON, all layers) and import back: round trip, checks, duplicates, audit."""

from __future__ import annotations

import csv
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from media_factory import noise_png, sine_wav

from forensics_app.domain.errors import NotFound
from forensics_app.ingest.acquire import add_evidence
from forensics_app.store import audit, repo
from forensics_app.store.annotation_io import (
    COLUMNS,
    FORMAT_NAME,
    AnnotationFileError,
    AnnotationImportError,
    export_annotations,
    import_annotations,
)
from forensics_app.store.annotations import AnnotationSpec, add_annotation
from forensics_app.store.case import CaseStore

NOTE = 'quote " comma , newline\nand ünïcode'


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    src = tmp_path / "src"
    src.mkdir()
    return {"wav": sine_wav(src / "call.wav"), "png": noise_png(src / "photo.png")}


@pytest.fixture
def annotated(case: CaseStore, files: dict[str, Path]) -> dict[str, int]:
    """The case with a WAV and a PNG and five annotations in three layers."""
    ids = {k: add_evidence(case, p, examiner="Ann").evidence_id for k, p in files.items()}
    wav, png = ids["wav"], ids["png"]
    specs = [
        (wav, "Ann", AnnotationSpec(label="click", note=NOTE, start_s=0.1, end_s=0.30000000000000004)),
        (wav, "Bob", AnnotationSpec(label="hum", start_s=0.25, end_s=0.75, low_hz=45.5, high_hz=1 / 3 * 300,
                                    layer="enf")),
        (wav, "Ann", AnnotationSpec(label="speaker A", start_s=0.0, end_s=1.0, layer="speakers")),
        (wav, "Ann", AnnotationSpec(label="frames", start_frame=2, end_frame=9, layer="speakers")),
        (png, "Bob", AnnotationSpec(label="pasted", note="", region={"x": 3, "y": 4, "width": 10, "height": 7},
                                    layer="enf")),
    ]
    for eid, author, spec in specs:
        add_annotation(case, evidence_id=eid, spec=spec, author=author)
    return ids


def _content(store: CaseStore) -> list[tuple[Any, ...]]:
    """Everything an annotation says, with evidence named by content hash (ids differ between cases)."""
    with store.session() as s:
        sha = {e.id: e.sha256 for e in repo.list_evidence(s)}
        return sorted((sha[a.evidence_id], a.layer, a.label, a.note, a.author, a.created, a.start_s, a.end_s,
                       a.low_hz, a.high_hz, a.start_frame, a.end_frame, json.dumps(a.region, sort_keys=True))
                      for a in repo.list_annotations(s))


def _new_case(tmp_path: Path, files: dict[str, Path], name: str) -> CaseStore:
    store = CaseStore.create(tmp_path / name, title="second", examiner="Eve", number="T-2")
    for key in ("png", "wav"):  # reverse order: evidence ids differ from the first case
        add_evidence(store, files[key], examiner="Eve")
    return store


@pytest.mark.parametrize("suffix", [".csv", ".json"])
def test_round_trip_into_a_new_case_gives_identical_annotations(
        case: CaseStore, annotated: dict[str, int], files: dict[str, Path], tmp_path: Path, suffix: str) -> None:
    out = tmp_path / f"ann{suffix}"
    result = export_annotations(case, out=out, examiner="Ann")
    assert result.n_annotations == 5 and result.layers == ("default", "enf", "speakers")
    assert result.sha256 == hashlib.sha256(out.read_bytes()).hexdigest()
    assert not out.with_name(out.name + ".part").exists()
    with case.session() as s:
        ev = repo.list_audit(s)[-1]
        assert (ev.action, ev.details["sha256"], ev.details["n_annotations"]) == (
            "annotations.exported", result.sha256, 5)

    other = _new_case(tmp_path, files, "other")
    try:
        imported = import_annotations(other, path=out, examiner="Eve")
        assert (imported.n_rows, imported.n_imported, imported.n_duplicates) == (5, 5, 0)
        assert imported.sha256 == result.sha256 and imported.format == suffix[1:]
        assert _content(other) == _content(case)
        with other.session() as s:
            events = repo.list_audit(s)
            added = [e for e in events if e.action == "annotation.added"]
            assert len(added) == 5 and all(e.examiner == "Eve" for e in added)
            assert {e.details["source"]["import_sha256"] for e in added} == {result.sha256}
            assert {e.details["author"] for e in added} == {"Ann", "Bob"}
            summary = events[-1]
            assert summary.action == "annotations.imported" and summary.details["sha256"] == result.sha256
            assert summary.details["annotation_ids"] == list(imported.imported_ids)
            assert audit.verify_chain(s, other.root).ok
        again = import_annotations(other, path=out, examiner="Eve")
        assert (again.n_imported, again.n_duplicates) == (0, 5)
        assert _content(other) == _content(case)
    finally:
        other.close()


def test_csv_and_json_layout(case: CaseStore, annotated: dict[str, int], tmp_path: Path) -> None:
    export_annotations(case, out=tmp_path / "a.csv", examiner="Ann")
    with open(tmp_path / "a.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert tuple(rows[0]) == COLUMNS
    click = next(r for r in rows if r["label"] == "click")
    assert click["note"] == NOTE and click["end_s"] == "0.30000000000000004" and click["low_hz"] == ""
    assert click["created"].endswith("+00:00") and click["evidence_name"] == "call.wav"
    assert next(r for r in rows if r["label"] == "pasted")["region"] == "3,4,10,7"

    export_annotations(case, out=tmp_path / "a.json", examiner="Ann")
    doc = json.loads((tmp_path / "a.json").read_text(encoding="utf-8"))
    header = doc["header"]
    assert (header["format"], header["format_version"], header["case_number"], header["examiner"]) == (
        FORMAT_NAME, 1, "T-1", "Ann")
    assert header["exported_at"].endswith("+00:00")
    assert [tuple(r) for r in doc["annotations"]] == [COLUMNS] * 5
    pasted = next(r for r in doc["annotations"] if r["label"] == "pasted")
    assert pasted["region"] == {"x": 3, "y": 4, "width": 10, "height": 7} and pasted["start_s"] is None


def test_export_filters_by_evidence_and_layers(case: CaseStore, annotated: dict[str, int], tmp_path: Path) -> None:
    r = export_annotations(case, out=tmp_path / "w.json", examiner="Ann", evidence_id=annotated["wav"])
    assert r.n_annotations == 4
    r = export_annotations(case, out=tmp_path / "l.csv", examiner="Ann", layers=["enf", "speakers"])
    assert (r.n_annotations, r.layers) == (4, ("enf", "speakers"))
    r = export_annotations(case, out=tmp_path / "b.csv", examiner="Ann", evidence_id=annotated["png"],
                           layers=["enf"])
    assert r.n_annotations == 1
    with pytest.raises(NotFound):
        export_annotations(case, out=tmp_path / "x.csv", examiner="Ann", evidence_id=99)
    with pytest.raises(AnnotationFileError, match=r"\.csv or \.json"):
        export_annotations(case, out=tmp_path / "x.txt", examiner="Ann")
    with pytest.raises(AnnotationFileError, match="does not exist"):
        export_annotations(case, out=tmp_path / "nowhere" / "x.csv", examiner="Ann")


def _write_csv(path: Path, rows: list[dict[str, Any]]) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    return path


def test_invalid_rows_refuse_the_whole_import(case: CaseStore, annotated: dict[str, int], tmp_path: Path) -> None:
    with case.session() as s:
        wav = repo.get_evidence(s, annotated["wav"])
        sha, name = wav.sha256, wav.original_name
        n_before, n_audit = len(repo.list_annotations(s)), len(repo.list_audit(s))
    good = {"evidence_sha256": sha, "label": "new", "start_s": "0.5", "end_s": "0.6"}
    rows = [
        good,                                                                   # row 1: fine
        {**good, "end_s": "0.1"},                                               # row 2: end before start
        {**good, "low_hz": "100", "high_hz": "50"},                             # row 3: band upside down
        {**good, "label": ""},                                                  # row 4: no label
        {"evidence_sha256": "f" * 64, "evidence_id": "1", "evidence_name": "other.wav", "label": "x"},  # row 5
        {**good, "created": "2025-01-01T00:00:00"},                             # row 6: naive time
        {**good, "start_s": "abc"},                                             # row 7: not a number
        {**good, "layer": "L" * 65},                                            # row 8: layer too long
        {**good, "region": "1,2,3"},                                            # row 9: bad region
    ]
    path = _write_csv(tmp_path / "bad.csv", rows)
    with pytest.raises(AnnotationImportError) as info:
        import_annotations(case, path=path, examiner="Eve")
    problems = dict(info.value.problems)
    assert sorted(problems) == [2, 3, 4, 5, 6, 7, 8, 9]
    assert "before start_s" in problems[2] and "above low_hz" in problems[3]
    assert "label must not be empty" in problems[4]
    assert "no evidence with SHA-256" in problems[5] and f"is {name!r}, not 'other.wav'" in problems[5]
    assert "time zone" in problems[6] and "must be a number" in problems[7] and "at most 64" in problems[8]
    assert "x,y,width,height" in problems[9]
    message = str(info.value)
    assert "nothing was imported" in message and "row 2:" in message and "row 9:" in message
    with case.session() as s:
        assert len(repo.list_annotations(s)) == n_before and len(repo.list_audit(s)) == n_audit


def test_evidence_is_matched_by_sha256_else_by_id_and_name(
        case: CaseStore, annotated: dict[str, int], tmp_path: Path) -> None:
    wav = annotated["wav"]
    path = _write_csv(tmp_path / "hand.csv", [
        {"evidence_id": str(wav), "evidence_name": "call.wav", "label": "by id", "start_s": "0.2", "end_s": "0.4"},
        {"evidence_sha256": "0" * 64, "evidence_id": str(wav), "evidence_name": "call.wav", "label": "by id 2"},
    ])
    result = import_annotations(case, path=path, examiner="Eve")
    assert (result.n_imported, result.n_matched_by_id) == (2, 2)
    with case.session() as s:
        rows = [a for a in repo.list_annotations(s) if a.label.startswith("by id")]
        assert {(a.evidence_id, a.layer, a.author) for a in rows} == {(wav, "default", "Eve")}
    refused = _write_csv(tmp_path / "name.csv", [{"evidence_id": str(wav), "label": "no name"}])
    with pytest.raises(AnnotationImportError, match="without evidence_name"):
        import_annotations(case, path=refused, examiner="Eve")


def test_duplicates_within_the_file_are_skipped(case: CaseStore, annotated: dict[str, int], tmp_path: Path) -> None:
    with case.session() as s:
        sha = repo.get_evidence(s, annotated["wav"]).sha256
    row = {"evidence_sha256": sha, "label": "twice", "start_s": "1.5", "end_s": "2", "layer": "x"}
    path = _write_csv(tmp_path / "d.csv", [row, row, {**row, "layer": "y"}, {**row, "note": "other note"}])
    result = import_annotations(case, path=path, examiner="Eve")
    assert (result.n_rows, result.n_imported, result.n_duplicates) == (4, 2, 2)


@pytest.mark.parametrize(("content", "message"), [
    ('{"annotations": []}', "needs a header"),
    ('{"header": {"format": "forensics-app.annotations", "format_version": 9}, "annotations": []}',
     "format version 9 is not supported"),
    ('{"header": {"format": "forensics-app.annotations", "format_version": 1}, "annotations": [3]}',
     "row 1: a record must be an object"),
    ("{not json", "not valid JSON"),
])
def test_bad_json_files_are_refused(case: CaseStore, tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "f.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(AnnotationFileError, match=message):
        import_annotations(case, path=path, examiner="Eve")


def test_bad_csv_files_are_refused(case: CaseStore, tmp_path: Path) -> None:
    path = tmp_path / "f.csv"
    path.write_text("a,b\n1,2\n", encoding="utf-8")
    with pytest.raises(AnnotationFileError, match="must name at least the columns label"):
        import_annotations(case, path=path, examiner="Eve")
    path.write_bytes(b"label,evidence_id\n\xff\xfe,1\n")
    with pytest.raises(AnnotationFileError, match="not UTF-8"):
        import_annotations(case, path=path, examiner="Eve")
    with pytest.raises(AnnotationFileError, match="cannot read"):
        import_annotations(case, path=tmp_path / "missing.csv", examiner="Eve")
