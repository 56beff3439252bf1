"""Export every annotation layer of a case to CSV or JSON, and import such a file back.

The file layout is described in :mod:`forensics_app.store.annotation_format`.

Import
------
Each record is matched to an evidence item of the open case by SHA-256 first; only when no item
has that hash is ``evidence_id`` used, and only if that item's file name equals
``evidence_name``. Every record is checked before anything is stored: if any is invalid the whole
file is refused with :class:`AnnotationImportError`, which lists each offending row (1 = the first
record: the first line under the CSV header, the first element of the JSON list) and why.
Records equal to an annotation already in the case (or earlier in the file) on evidence, layer,
label and position (times, band, frames, region) are skipped and counted. Imported annotations
keep their author and creation time (an empty author means the importing examiner, an empty time
means now).

Audit
-----
An export appends ``annotations.exported`` (file SHA-256, format, counts, filters). An import adds,
in one transaction, the normal ``annotation.added`` event of each new annotation (examiner = the
importer, with the original author, creation time and ``source`` = file SHA-256 and row) followed by
one ``annotations.imported`` summary (file SHA-256, rows, imported, duplicates, matched by id, ids).
So each annotation's history starts with its own add event, as for one made by hand.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from forensics_app import __version__
from forensics_app.store import audit, repo
from forensics_app.store.annotation_format import (
    COLUMNS,
    FORMAT_NAME,
    FORMAT_VERSION,
    FORMATS,
    AnnotationFileError,
    ParsedRecord,
    annotation_record,
    file_format,
    iso_utc,
    parse_records,
    read_annotation_file,
    render_csv,
    render_json,
)
from forensics_app.store.annotations import (
    REGION_KEYS,
    AnnotationSpec,
    insert_annotation,
    query_annotations,
)
from forensics_app.store.case import CaseStore
from forensics_app.store.schema import Annotation, Evidence, utcnow

__all__ = [
    "COLUMNS", "FORMATS", "FORMAT_NAME", "FORMAT_VERSION", "AnnotationFileError", "AnnotationImportError",
    "ExportResult", "ImportResult", "annotation_record", "export_annotations", "file_format",
    "import_annotations", "read_annotation_file",
]
MAX_LISTED_PROBLEMS = 20


class AnnotationImportError(AnnotationFileError):
    """An import was refused because some records are invalid; nothing was imported.

    Attributes
    ----------
    problems : tuple of (int, str)
        ``(row, reason)`` for every offending record (row 1 is the first record).
    """

    def __init__(self, message: str, *, problems: Sequence[tuple[int, str]] = ()) -> None:
        super().__init__(message)
        self.problems = tuple(problems)


@dataclass(frozen=True)
class ExportResult:
    """What :func:`export_annotations` wrote.

    Attributes
    ----------
    path : Path
        The written file.
    format : str
        ``"csv"`` or ``"json"``.
    sha256 : str
        SHA-256 of the file (hex), as audited.
    n_annotations : int
        Records written.
    layers : tuple of str
        Layers present in the file, sorted.
    """

    path: Path
    format: str
    sha256: str
    n_annotations: int
    layers: tuple[str, ...]


@dataclass(frozen=True)
class ImportResult:
    """What :func:`import_annotations` did.

    Attributes
    ----------
    path : Path
        The file read.
    format : str
        ``"csv"`` or ``"json"``.
    sha256 : str
        SHA-256 of the file (hex), as audited.
    n_rows : int
        Records in the file.
    imported_ids : tuple of int
        Ids of the new annotations, in file order.
    n_duplicates : int
        Records skipped as exact duplicates.
    n_matched_by_id : int
        Imported records whose evidence was found by id and name (no SHA-256 match).
    """

    path: Path
    format: str
    sha256: str
    n_rows: int
    imported_ids: tuple[int, ...]
    n_duplicates: int
    n_matched_by_id: int

    @property
    def n_imported(self) -> int:
        """Number of annotations added."""
        return len(self.imported_ids)


def export_annotations(
    store: CaseStore, *, out: Path, examiner: str, evidence_id: int | None = None,
    layers: Sequence[str] | None = None,
) -> ExportResult:
    """Write all layers' annotations (or one evidence item's, or some layers') to CSV or JSON.

    The records are read, written and audited (``annotations.exported`` with the file's SHA-256)
    in one transaction; the file appears under its name only after the audit event is committed.

    Parameters
    ----------
    store : CaseStore
        The open case.
    out : Path
        Destination; its suffix (``.csv`` or ``.json``) picks the format. Overwritten if present.
    examiner : str
        Who exports.
    evidence_id : int, optional
        Only this evidence item's annotations.
    layers : sequence of str, optional
        Only these layers (default: every layer).

    Raises
    ------
    AnnotationFileError
        Unknown suffix or missing destination folder.
    NotFound
        ``evidence_id`` is not in the case.
    """
    out = Path(out)
    fmt = file_format(out)
    if not out.parent.is_dir():
        raise AnnotationFileError(f"{out.parent}: folder does not exist")
    part = out.with_name(out.name + ".part")
    try:
        with store.transaction() as s:
            case = store.case_info(s)
            if evidence_id is not None:
                repo.get_evidence(s, evidence_id)
            evidence = {e.id: e for e in repo.list_evidence(s)}
            rows = query_annotations(s, evidence_id=evidence_id, layers=layers)
            records = [annotation_record(a, evidence[a.evidence_id]) for a in rows]
            present = tuple(sorted({r["layer"] for r in records}))
            header = {
                "format": FORMAT_NAME, "format_version": FORMAT_VERSION, "case_number": case.number,
                "case_title": case.title, "exported_at": iso_utc(utcnow()), "examiner": examiner,
                "application": f"forensics-app {__version__}", "evidence_id": evidence_id,
                "layers": None if layers is None else list(layers), "n_annotations": len(records),
                "columns": list(COLUMNS),
            }
            data = (render_csv(records) if fmt == "csv" else render_json(records, header)).encode("utf-8")
            digest = hashlib.sha256(data).hexdigest()
            try:
                with open(part, "wb") as fh:
                    fh.write(data)
                    fh.flush()
                    os.fsync(fh.fileno())
            except OSError as exc:
                raise AnnotationFileError(f"{out}: cannot write it ({exc.strerror or exc})") from None
            audit.record(s, action="annotations.exported", examiner=examiner, details={
                "path": str(out), "format": fmt, "sha256": digest, "size": len(data),
                "n_annotations": len(records), "layers": list(present), "evidence_id": evidence_id,
                "layer_filter": None if layers is None else list(layers)})
        try:
            part.replace(out)
        except OSError as exc:  # after the commit: the audit event names a file that was not kept
            raise AnnotationFileError(f"{out}: cannot replace it ({exc.strerror or exc}); the audited "
                                      f"export (SHA-256 {digest}) was not kept") from None
    finally:
        part.unlink(missing_ok=True)
    return ExportResult(path=out, format=fmt, sha256=digest, n_annotations=len(records), layers=present)


def _position_key(evidence_id: int, spec: AnnotationSpec | Annotation) -> tuple[Any, ...]:
    """What makes two annotations exact duplicates: evidence, layer, label and position."""
    region = tuple(int(spec.region[k]) for k in REGION_KEYS) if spec.region else None
    return (evidence_id, spec.layer, spec.label, spec.start_s, spec.end_s, spec.low_hz, spec.high_hz,
            spec.start_frame, spec.end_frame, region)


def _refusal(name: str, problems: Sequence[tuple[int, str]]) -> AnnotationImportError:
    lines = [f"row {row}: {reason}" for row, reason in problems[:MAX_LISTED_PROBLEMS]]
    if len(problems) > MAX_LISTED_PROBLEMS:
        lines.append(f"… and {len(problems) - MAX_LISTED_PROBLEMS} more")
    return AnnotationImportError(f"{name}: import refused, nothing was imported; {len(problems)} invalid "
                                 "row(s):\n" + "\n".join(lines), problems=problems)


def import_annotations(store: CaseStore, *, path: Path, examiner: str) -> ImportResult:
    """Import an annotation file (CSV or JSON) into the case, all or nothing.

    Parameters
    ----------
    store : CaseStore
        The open case.
    path : Path
        The file (format from the suffix, else from its first character).
    examiner : str
        Who imports (the examiner of the audit events).

    Raises
    ------
    AnnotationImportError
        Some records are invalid or name evidence that is not in the case; ``problems`` lists them.
    AnnotationFileError
        The file cannot be read as an annotation file.
    """
    path = Path(path)
    fmt, digest, raw, header = read_annotation_file(path)
    parsed, problems = parse_records(raw)
    source = {"import_file": path.name, "import_sha256": digest}
    with store.transaction() as s:
        evidence = list(repo.list_evidence(s))
        by_sha = {e.sha256: e for e in evidence}
        by_id = {e.id: e for e in evidence}
        matched: list[tuple[ParsedRecord, Evidence, bool]] = []
        for rec in parsed:
            ev = by_sha.get(rec.evidence_sha256) if rec.evidence_sha256 else None
            by_id_match = False
            if ev is None and rec.evidence_id is not None:
                cand = by_id.get(rec.evidence_id)
                if cand is not None and rec.evidence_name and cand.original_name == rec.evidence_name:
                    ev, by_id_match = cand, True
            if ev is None:
                problems.append((rec.row, _unmatched(rec, by_id)))
                continue
            matched.append((rec, ev, by_id_match))
        if problems:
            raise _refusal(path.name, sorted(problems))
        seen = {_position_key(a.evidence_id, a) for a in query_annotations(s)}
        ids: list[int] = []
        duplicates = n_by_id = 0
        for rec, ev, by_id_match in matched:
            key = _position_key(ev.id, rec.spec)
            if key in seen:
                duplicates += 1
                continue
            seen.add(key)
            n_by_id += by_id_match
            ids.append(insert_annotation(s, evidence_id=ev.id, spec=rec.spec, author=rec.author or examiner,
                                         examiner=examiner, created=rec.created,
                                         source={**source, "row": rec.row}))
        audit.record(s, action="annotations.imported", examiner=examiner, details={
            "path": str(path), "format": fmt, "sha256": digest, "n_rows": len(raw), "n_imported": len(ids),
            "n_duplicates": duplicates, "n_matched_by_id": n_by_id, "annotation_ids": ids,
            "exported_from": {k: header.get(k) for k in ("case_number", "exported_at", "examiner")}
            if header else None})
    return ImportResult(path=path, format=fmt, sha256=digest, n_rows=len(raw), imported_ids=tuple(ids),
                        n_duplicates=duplicates, n_matched_by_id=n_by_id)


def _unmatched(rec: ParsedRecord, by_id: Mapping[int, Evidence]) -> str:
    parts = []
    if rec.evidence_sha256:
        parts.append(f"no evidence with SHA-256 {rec.evidence_sha256[:16]}… is in this case")
    if rec.evidence_id is not None:
        cand = by_id.get(rec.evidence_id)
        if cand is None:
            parts.append(f"there is no evidence #{rec.evidence_id}")
        elif not rec.evidence_name:
            parts.append(f"evidence #{rec.evidence_id} cannot be matched by id without evidence_name")
        else:
            parts.append(f"evidence #{rec.evidence_id} is {cand.original_name!r}, not {rec.evidence_name!r}")
    return "; ".join(parts)
