"""The annotation file format (CSV and JSON): writing records and reading them back, checked.

Both formats carry one record per annotation with the keys of :data:`COLUMNS`: ``evidence_id``,
``evidence_sha256``, ``evidence_name``, ``layer``, ``label``, ``note``, ``author``, ``created``
(ISO 8601, UTC, microseconds), ``start_s``, ``end_s`` (s), ``low_hz``, ``high_hz`` (Hz),
``start_frame``, ``end_frame`` and ``region``. Absent values are empty cells (CSV) or ``null``
(JSON). A region is ``"x,y,width,height"`` in CSV and ``{"x", "y", "width", "height"}`` in JSON
(pixels). Numbers are written in Python's shortest round-trip form, so an export read back gives
the same floats. The JSON file is ``{"header": {...}, "annotations": [...]}``; its header names the
format (:data:`FORMAT_NAME`, :data:`FORMAT_VERSION`), the case number and title, the export time
and the examiner. A CSV file read back needs at least the columns ``label`` and
``evidence_sha256`` or ``evidence_id``; other columns may be missing (an empty layer means
``"default"``) and unknown columns are ignored.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from forensics_app.domain.errors import ForensicsError
from forensics_app.store.annotations import (
    DEFAULT_LAYER,
    REGION_KEYS,
    AnnotationSpec,
    InvalidAnnotation,
)
from forensics_app.store.schema import Annotation, Evidence

FORMAT_NAME = "forensics-app.annotations"
FORMAT_VERSION = 1
COLUMNS = ("evidence_id", "evidence_sha256", "evidence_name", "layer", "label", "note", "author",
           "created", "start_s", "end_s", "low_hz", "high_hz", "start_frame", "end_frame", "region")
FORMATS = {".csv": "csv", ".json": "json"}
MAX_FILE_BYTES = 256 * 1024 * 1024
_EXTRA = "__extra_values__"  # where csv.DictReader puts cells beyond the header


class AnnotationFileError(ForensicsError):
    """An annotation file cannot be written or read (format, encoding, structure)."""


def iso_utc(value: dt.datetime) -> str:
    """ISO 8601 text of a UTC time to the microsecond, e.g. ``2026-01-02T03:04:05.000006+00:00``."""
    return value.astimezone(dt.UTC).isoformat(timespec="microseconds")


def annotation_record(row: Annotation, evidence: Evidence) -> dict[str, Any]:
    """The export record of a stored annotation (keys :data:`COLUMNS`, JSON-ready values)."""
    return {
        "evidence_id": evidence.id, "evidence_sha256": evidence.sha256, "evidence_name": evidence.original_name,
        "layer": row.layer, "label": row.label, "note": row.note or "", "author": row.author,
        "created": iso_utc(row.created), "start_s": row.start_s, "end_s": row.end_s, "low_hz": row.low_hz,
        "high_hz": row.high_hz, "start_frame": row.start_frame, "end_frame": row.end_frame,
        "region": {k: int(row.region[k]) for k in REGION_KEYS} if row.region else None,
    }


def _csv_cell(key: str, value: Any) -> str:
    if value is None:
        return ""
    if key == "region":
        return ",".join(str(int(value[k])) for k in REGION_KEYS)
    if isinstance(value, float):
        return repr(value)
    return str(value)


def render_csv(records: Sequence[Mapping[str, Any]]) -> str:
    """CSV text (header :data:`COLUMNS`, one line per record)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(COLUMNS)
    for rec in records:
        writer.writerow([_csv_cell(k, rec.get(k)) for k in COLUMNS])
    return buf.getvalue()


def render_json(records: Sequence[Mapping[str, Any]], header: Mapping[str, Any]) -> str:
    """JSON text ``{"header": ..., "annotations": [...]}``."""
    return json.dumps({"header": dict(header), "annotations": [dict(r) for r in records]},
                      indent=2, ensure_ascii=False) + "\n"


def file_format(path: Path) -> str:
    """``"csv"`` or ``"json"`` from the file suffix.

    Raises
    ------
    AnnotationFileError
        For any other suffix.
    """
    fmt = FORMATS.get(Path(path).suffix.lower())
    if fmt is None:
        raise AnnotationFileError(f"{Path(path).name}: annotation files end in .csv or .json")
    return fmt


@dataclass(frozen=True)
class ParsedRecord:
    """One checked record of an annotation file, not yet matched to evidence.

    Attributes
    ----------
    row : int
        Record number (1 = the first record).
    evidence_id : int or None
        ``evidence_id`` as written (used only when no evidence has the SHA-256).
    evidence_sha256, evidence_name : str
        As written ("" when absent); the hash in lower case.
    author : str
        "" when absent.
    created : datetime or None
        UTC; None when absent.
    spec : AnnotationSpec
        What the annotation says.
    """

    row: int
    evidence_id: int | None
    evidence_sha256: str
    evidence_name: str
    author: str
    created: dt.datetime | None
    spec: AnnotationSpec


def _number(key: str, value: Any) -> float | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise InvalidAnnotation(f"{key} must be a number, not {value!r}")
    if isinstance(value, (int, float)):
        return float(value)
    try:
        return float(str(value).strip())
    except ValueError:
        raise InvalidAnnotation(f"{key} must be a number, not {value!r}") from None


def _whole(key: str, value: Any) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    try:
        return int(str(value).strip())
    except ValueError:
        raise InvalidAnnotation(f"{key} must be a whole number, not {value!r}") from None


def _region(value: Any) -> dict[str, int] | None:
    if value is None or value == "":
        return None
    if isinstance(value, Mapping):
        return {k: _whole(f"region {k}", v) for k, v in value.items()}  # type: ignore[misc]
    parts = value.split(",") if isinstance(value, str) else value
    if not isinstance(parts, list | tuple) or len(parts) != len(REGION_KEYS):
        raise InvalidAnnotation(f"region must be x,y,width,height, not {value!r}")
    return {k: _whole(f"region {k}", v) for k, v in zip(REGION_KEYS, parts, strict=True)}  # type: ignore[misc]


def _created(value: Any) -> dt.datetime | None:
    if value is None or value == "":
        return None
    try:
        when = dt.datetime.fromisoformat(str(value).strip())
    except ValueError:
        raise InvalidAnnotation(f"created {value!r} is not an ISO 8601 time") from None
    if when.tzinfo is None:
        raise InvalidAnnotation(f"created {value!r} has no time zone (write it in UTC, e.g. ...+00:00)")
    return when.astimezone(dt.UTC)


def _text(key: str, value: Any) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InvalidAnnotation(f"{key} must be text, not {value!r}")
    return value


def parse_record(row: int, rec: Mapping[str, Any]) -> ParsedRecord:
    """Check one raw record (CSV strings or JSON values).

    Raises
    ------
    InvalidAnnotation
        Naming the first problem found.
    """
    sha = _text("evidence_sha256", rec.get("evidence_sha256")).strip().lower()
    if sha and (len(sha) != 64 or any(c not in "0123456789abcdef" for c in sha)):
        raise InvalidAnnotation(f"evidence_sha256 {sha!r} is not a SHA-256 (64 hex digits)")
    evidence_id = _whole("evidence_id", rec.get("evidence_id"))
    if not sha and evidence_id is None:
        raise InvalidAnnotation("neither evidence_sha256 nor evidence_id is given")
    spec = AnnotationSpec(
        label=_text("label", rec.get("label")), note=_text("note", rec.get("note")),
        layer=_text("layer", rec.get("layer")).strip() or DEFAULT_LAYER,
        start_s=_number("start_s", rec.get("start_s")), end_s=_number("end_s", rec.get("end_s")),
        low_hz=_number("low_hz", rec.get("low_hz")), high_hz=_number("high_hz", rec.get("high_hz")),
        start_frame=_whole("start_frame", rec.get("start_frame")),
        end_frame=_whole("end_frame", rec.get("end_frame")), region=_region(rec.get("region")),
    )
    return ParsedRecord(row=row, evidence_id=evidence_id, evidence_sha256=sha,
                   evidence_name=_text("evidence_name", rec.get("evidence_name")),
                   author=_text("author", rec.get("author")).strip(), created=_created(rec.get("created")),
                   spec=spec)


def _csv_records(text: str) -> list[dict[str, Any]]:
    reader = csv.DictReader(io.StringIO(text, newline=""), restkey=_EXTRA)
    fields = set(reader.fieldnames or ())
    if "label" not in fields or not fields & {"evidence_sha256", "evidence_id"}:
        raise AnnotationFileError("the CSV header must name at least the columns label and evidence_sha256 "
                                  f"(or evidence_id); it has {sorted(fields) or 'no columns'}")
    return [dict(r) for r in reader]


def _json_records(text: str) -> tuple[list[Any], dict[str, Any]]:
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise AnnotationFileError(f"not valid JSON: {exc}") from None
    header = doc.get("header") if isinstance(doc, dict) else None
    if not isinstance(header, dict) or header.get("format") != FORMAT_NAME:
        raise AnnotationFileError(f"not an annotation export: the JSON needs a header with format {FORMAT_NAME!r}")
    version = header.get("format_version")
    if not isinstance(version, int) or not 1 <= version <= FORMAT_VERSION:
        raise AnnotationFileError(f"format version {version!r} is not supported (this version reads 1 to "
                                  f"{FORMAT_VERSION})")
    records = doc.get("annotations")
    if not isinstance(records, list):
        raise AnnotationFileError("the JSON has no list of annotations")
    return records, header


def read_annotation_file(path: Path) -> tuple[str, str, list[Any], dict[str, Any]]:
    """Read an annotation file without checking its records.

    Returns
    -------
    tuple
        ``(format, sha256, records, header)``: records are dicts (JSON elements may be anything;
        :func:`parse_record` checks them); ``header`` is empty for CSV.

    Raises
    ------
    AnnotationFileError
        Unreadable, too large, not UTF-8, or not one of the two formats.
    """
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise AnnotationFileError(f"{path.name}: {size:,d} bytes is too large for an annotation file")
        data = path.read_bytes()
    except OSError as exc:
        raise AnnotationFileError(f"{path}: cannot read it ({exc.strerror or exc})") from None
    digest = hashlib.sha256(data).hexdigest()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise AnnotationFileError(f"{path.name}: not UTF-8 text (byte {exc.start})") from None
    fmt = FORMATS.get(path.suffix.lower()) or ("json" if text.lstrip().startswith("{") else "csv")
    try:
        if fmt == "json":
            records, header = _json_records(text)
            return fmt, digest, records, header
        return fmt, digest, _csv_records(text), {}
    except AnnotationFileError as exc:
        raise AnnotationFileError(f"{path.name}: {exc}") from None
    except csv.Error as exc:
        raise AnnotationFileError(f"{path.name}: not valid CSV ({exc})") from None


def parse_records(records: Sequence[Any]) -> tuple[list[ParsedRecord], list[tuple[int, str]]]:
    """Check every raw record; return the good ones and ``(row, reason)`` for each bad one."""
    parsed: list[ParsedRecord] = []
    problems: list[tuple[int, str]] = []
    for row, rec in enumerate(records, start=1):
        if not isinstance(rec, dict):
            problems.append((row, f"a record must be an object, not {type(rec).__name__}"))
            continue
        if rec.get(_EXTRA):
            problems.append((row, f"{len(rec[_EXTRA])} value(s) more than the header has columns"))
            continue
        try:
            parsed.append(parse_record(row, rec))
        except InvalidAnnotation as exc:
            problems.append((row, str(exc)))
    return parsed, problems
