"""Examiner annotations on evidence, in named layers, each change audited.

An annotation marks a time range (s), a time-frequency box (s and Hz), a frame range or an image
region of one evidence item with a label and a note. :class:`AnnotationSpec` holds and checks what
an annotation says; the functions below store it and append the matching audit event
(``annotation.added``, ``annotation.updated``, ``annotation.deleted``) in the same transaction.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from forensics_app.domain.errors import ForensicsError, NotFound
from forensics_app.store import audit, repo
from forensics_app.store.case import CaseStore
from forensics_app.store.schema import Annotation, utcnow

DEFAULT_LAYER = "default"
MAX_LAYER_CHARS = 64
MAX_LABEL_CHARS = 256
MAX_AUTHOR_CHARS = 128
REGION_KEYS = ("x", "y", "width", "height")


class InvalidAnnotation(ForensicsError):
    """An annotation's values are inconsistent (negative time, band without time range, ...)."""


def _number(name: str, value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidAnnotation(f"{name} must be a number, not {value!r}")
    out = float(value)
    if not math.isfinite(out):
        raise InvalidAnnotation(f"{name} must be a finite number, not {value!r}")
    return out


def _integer(name: str, value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, float) and value.is_integer():
            return int(value)
        raise InvalidAnnotation(f"{name} must be a whole number, not {value!r}")
    return int(value)


def _pair(lo_name: str, lo: Any, hi_name: str, hi: Any) -> None:
    if (lo is None) != (hi is None):
        given, missing = (lo_name, hi_name) if hi is None else (hi_name, lo_name)
        raise InvalidAnnotation(f"{given} is given without {missing}: give both or neither")


def _text(name: str, value: Any, *, max_chars: int, required: bool) -> str:
    if not isinstance(value, str):
        raise InvalidAnnotation(f"{name} must be text, not {type(value).__name__}")
    out = value.strip()
    if required and not out:
        raise InvalidAnnotation(f"the {name} must not be empty")
    if len(out) > max_chars:
        raise InvalidAnnotation(f"the {name} is {len(out)} characters long; at most {max_chars} are allowed")
    return out


def _region(value: Any) -> dict[str, int] | None:
    if value is None:
        return None
    if not isinstance(value, Mapping) or set(value) != set(REGION_KEYS):
        raise InvalidAnnotation(f"region must have exactly the keys x, y, width, height, not {value!r}")
    out = {k: _integer(f"region {k}", value[k]) for k in REGION_KEYS}
    if out["x"] < 0 or out["y"] < 0:  # type: ignore[operator]
        raise InvalidAnnotation(f"region x and y must be >= 0 px, not ({out['x']}, {out['y']})")
    if out["width"] <= 0 or out["height"] <= 0:  # type: ignore[operator]
        raise InvalidAnnotation(
            f"region width and height must be positive, not {out['width']} x {out['height']} px")
    return out  # type: ignore[return-value]


@dataclass(frozen=True)
class AnnotationSpec:
    """What an annotation marks; leave the fields that do not apply as None.

    The values are checked on construction (:class:`InvalidAnnotation` names the problem); label
    and layer are stripped of surrounding white space, times and frequencies become floats.

    Attributes
    ----------
    label : str
        Short label (1 to 256 characters).
    note : str
        Free text.
    layer : str
        Layer name (1 to 64 characters), default ``"default"``.
    start_s, end_s : float, optional
        Time range in seconds, ``0 <= start_s <= end_s`` (both or neither).
    start_frame, end_frame : int, optional
        Frame range (end exclusive), ``0 <= start_frame <= end_frame`` (both or neither).
    low_hz, high_hz : float, optional
        Frequency band in Hz, ``0 <= low_hz < high_hz``; only together with a time range (a
        time-frequency box).
    region : dict, optional
        Image region ``{"x", "y", "width", "height"}`` in pixels (x, y >= 0; width, height > 0).

    Raises
    ------
    InvalidAnnotation
        When a value is missing, of the wrong type or out of range.
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
    layer: str = DEFAULT_LAYER

    def __post_init__(self) -> None:
        put = object.__setattr__
        put(self, "label", _text("label", self.label, max_chars=MAX_LABEL_CHARS, required=True))
        put(self, "layer", _text("layer name", self.layer, max_chars=MAX_LAYER_CHARS, required=True))
        if not isinstance(self.note, str):
            raise InvalidAnnotation(f"the note must be text, not {type(self.note).__name__}")
        for name in ("start_s", "end_s", "low_hz", "high_hz"):
            put(self, name, _number(name, getattr(self, name)))
        for name in ("start_frame", "end_frame"):
            put(self, name, _integer(name, getattr(self, name)))
        put(self, "region", _region(self.region))
        self._check_ranges()

    def _check_ranges(self) -> None:
        _pair("start_s", self.start_s, "end_s", self.end_s)
        if self.start_s is not None and self.end_s is not None:
            if self.start_s < 0:
                raise InvalidAnnotation(f"start_s must be >= 0 s, not {self.start_s}")
            if self.end_s < self.start_s:
                raise InvalidAnnotation(f"end_s ({self.end_s} s) is before start_s ({self.start_s} s)")
        _pair("low_hz", self.low_hz, "high_hz", self.high_hz)
        if self.low_hz is not None and self.high_hz is not None:
            if self.start_s is None:
                raise InvalidAnnotation("a frequency band (low_hz, high_hz) needs a time range (start_s, end_s)")
            if self.low_hz < 0:
                raise InvalidAnnotation(f"low_hz must be >= 0 Hz, not {self.low_hz}")
            if self.high_hz <= self.low_hz:
                raise InvalidAnnotation(f"high_hz ({self.high_hz} Hz) must be above low_hz ({self.low_hz} Hz)")
        _pair("start_frame", self.start_frame, "end_frame", self.end_frame)
        if self.start_frame is not None and self.end_frame is not None:
            if self.start_frame < 0:
                raise InvalidAnnotation(f"start_frame must be >= 0, not {self.start_frame}")
            if self.end_frame < self.start_frame:
                raise InvalidAnnotation(f"end_frame ({self.end_frame}) is before start_frame ({self.start_frame})")

    def fields(self) -> dict[str, Any]:
        """Column values."""
        return {k: (dict(v) if isinstance(v, dict) else v) for k, v in self.__dict__.items()}

    @classmethod
    def from_row(cls, row: Annotation) -> AnnotationSpec:
        """The spec of a stored annotation."""
        return cls(**{k: getattr(row, k) for k in cls.__dataclass_fields__})


def insert_annotation(
    session: Session, *, evidence_id: int, spec: AnnotationSpec, author: str, examiner: str,
    created: dt.datetime | None = None, source: Mapping[str, Any] | None = None,
) -> int:
    """Add an annotation and its ``annotation.added`` event inside the caller's transaction.

    Parameters
    ----------
    session : Session
        Open session (the caller commits).
    evidence_id : int
        The annotated evidence item.
    spec : AnnotationSpec
        What it says.
    author : str
        Who wrote the annotation.
    examiner : str
        Who stores it now (the author, or whoever imports it).
    created : datetime, optional
        Timezone-aware creation time (default: now).
    source : mapping, optional
        Where it came from (e.g. ``{"import_sha256": ...}``), kept in the audit event.

    Returns
    -------
    int
        The new annotation's id.

    Raises
    ------
    NotFound
        If the evidence item is not in the case.
    InvalidAnnotation
        If the author is empty or the creation time is naive.
    """
    author = _text("author", author, max_chars=MAX_AUTHOR_CHARS, required=True)
    if created is not None and created.tzinfo is None:
        raise InvalidAnnotation("the creation time must carry a time zone")
    repo.get_evidence(session, evidence_id)
    row = Annotation(evidence_id=evidence_id, author=author, **spec.fields(),
                     created=utcnow() if created is None else created.astimezone(dt.UTC))
    session.add(row)
    session.flush()
    details: dict[str, Any] = {"annotation_id": row.id, "evidence_id": evidence_id, **spec.fields(),
                               "author": author, "created": row.created}
    if source:
        details["source"] = dict(source)
    audit.record(session, action="annotation.added", examiner=examiner, details=details)
    return row.id


def add_annotation(store: CaseStore, *, evidence_id: int, spec: AnnotationSpec, author: str) -> int:
    """Store an annotation and audit it; return its id.

    Raises
    ------
    NotFound
        If the evidence item is not in the case.
    """
    with store.transaction() as s:
        return insert_annotation(s, evidence_id=evidence_id, spec=spec, author=author, examiner=author)


def update_annotation(store: CaseStore, *, annotation_id: int, spec: AnnotationSpec, author: str) -> None:
    """Replace an annotation's content; the audit event keeps the old and new values.

    The annotation keeps its original author and creation time; ``author`` is who edits it.
    """
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
        old.update(author=row.author, created=row.created)
        evidence_id = row.evidence_id
        s.delete(row)
        audit.record(s, action="annotation.deleted", examiner=author,
                     details={"annotation_id": annotation_id, "evidence_id": evidence_id, "old": old})


def query_annotations(
    session: Session, *, evidence_id: int | None = None, layers: Sequence[str] | None = None
) -> Sequence[Annotation]:
    """Annotations in id order, optionally of one evidence item and of some layers only."""
    q = select(Annotation).order_by(Annotation.id)
    if evidence_id is not None:
        q = q.where(Annotation.evidence_id == evidence_id)
    if layers is not None:
        q = q.where(Annotation.layer.in_([layer.strip() for layer in layers]))
    return session.scalars(q).all()


def list_layers(session: Session) -> list[str]:
    """The layer names in use, sorted."""
    return sorted(session.scalars(select(Annotation.layer).distinct()).all())
