"""SQLAlchemy 2.0 typed models of a case database (``case.db``).

Times are timezone-aware UTC. JSON columns hold JSON-serialisable dicts only. Every schema change
goes through an alembic migration in ``store/migrations/versions``.
"""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import JSON, DateTime, Enum, Float, ForeignKey, Integer, String, Text, TypeDecorator
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> dt.datetime:
    """Current time, timezone-aware UTC, to the microsecond."""
    return dt.datetime.now(dt.UTC)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """A DateTime that always comes back timezone-aware UTC (SQLite stores naive text)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(dt.UTC).replace(tzinfo=None)

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        return None if value is None else value.replace(tzinfo=dt.UTC)


class Base(DeclarativeBase):
    """Declarative base with JSON mapped for dict columns."""

    type_annotation_map = {dict[str, Any]: JSON, dt.datetime: UTCDateTime}


class RunStatus(enum.StrEnum):
    """Life cycle of an analysis run."""

    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"


class Case(Base):
    """The one case a case folder holds."""

    __tablename__ = "case"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(256))
    examiner: Mapped[str] = mapped_column(String(128))
    created: Mapped[dt.datetime] = mapped_column(default=utcnow)
    notes: Mapped[str] = mapped_column(Text, default="")


class Evidence(Base):
    """An evidence item: a stored, read-only, content-addressed copy of an acquired file."""

    __tablename__ = "evidence"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case.id", ondelete="RESTRICT"))
    original_name: Mapped[str] = mapped_column(String(512))
    original_path: Mapped[str] = mapped_column(Text)
    stored_path: Mapped[str] = mapped_column(Text)  # relative to the case folder
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    md5: Mapped[str] = mapped_column(String(32))
    media_kind: Mapped[str] = mapped_column(String(16))
    metadata_json: Mapped[dict[str, Any]] = mapped_column(default=dict)
    acquired_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    acquired_by: Mapped[str] = mapped_column(String(128))
    # Result of the last verification: "verified", "mismatch", "missing" or "unverified".
    integrity: Mapped[str] = mapped_column(String(16), default="verified")
    verified_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    # "questioned" (default) or "reference": a known genuine recording to compare others with.
    role: Mapped[str] = mapped_column(String(16), default="questioned", server_default="questioned")

    runs: Mapped[list[AnalysisRun]] = relationship(back_populates="evidence")
    annotations: Mapped[list[Annotation]] = relationship(back_populates="evidence")


class AnalysisRun(Base):
    """One analyzer run on one evidence item, with full provenance."""

    __tablename__ = "analysis_run"

    id: Mapped[int] = mapped_column(primary_key=True)
    evidence_id: Mapped[int] = mapped_column(ForeignKey("evidence.id", ondelete="RESTRICT"), index=True)
    analyzer_id: Mapped[str] = mapped_column(String(128))
    analyzer_version: Mapped[str] = mapped_column(String(32))
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    model_sha256: Mapped[str | None] = mapped_column(String(64), default=None)
    evidence_sha256: Mapped[str] = mapped_column(String(64))
    status: Mapped[RunStatus] = mapped_column(Enum(RunStatus, native_enum=False, length=16))
    queued_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    started_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    finished_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    error: Mapped[str | None] = mapped_column(Text, default=None)
    traceback: Mapped[str | None] = mapped_column(Text, default=None)
    summary: Mapped[dict[str, Any]] = mapped_column(default=dict)
    examiner: Mapped[str] = mapped_column(String(128), default="")

    evidence: Mapped[Evidence] = relationship(back_populates="runs")
    findings: Mapped[list[Finding]] = relationship(back_populates="run", cascade="all, delete-orphan")


class Finding(Base):
    """One statement of a run, with its time/frame range or image region and artifacts."""

    __tablename__ = "finding"

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("analysis_run.id", ondelete="CASCADE"), index=True)
    rank: Mapped[int] = mapped_column(Integer, default=0)
    label: Mapped[str] = mapped_column(String(256))
    fake_likelihood: Mapped[float | None] = mapped_column(Float, default=None)
    start_s: Mapped[float | None] = mapped_column(Float, default=None)
    end_s: Mapped[float | None] = mapped_column(Float, default=None)
    start_frame: Mapped[int | None] = mapped_column(Integer, default=None)
    end_frame: Mapped[int | None] = mapped_column(Integer, default=None)
    region: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # {"series": [{"kind": "timeseries", "name", "unit", "sha256"}, ...],
    #  "maps": [{"kind": "tfmap", "name", "unit", "sha256", "times_sha256", "freqs_sha256"}, ...],
    #  "alignments": [{"kind": "alignment", "name", "unit", "row_axis", "row_labels", "sha256",
    #                  "times_sha256", "rows_sha256", "path_sha256", ["spans_sha256"]}, ...]}
    artifacts: Mapped[dict[str, Any]] = mapped_column(default=dict)

    run: Mapped[AnalysisRun] = relationship(back_populates="findings")


class Annotation(Base):
    """An examiner's note on a time/frame range or image region of an evidence item.

    ``layer`` names the set of annotations it belongs to (e.g. ``"edits"``, ``"speakers"``);
    annotations made before layers existed (schema 0001) are in layer ``"default"``.
    Values are checked by :class:`forensics_app.store.annotations.AnnotationSpec`.
    """

    __tablename__ = "annotation"

    id: Mapped[int] = mapped_column(primary_key=True)
    evidence_id: Mapped[int] = mapped_column(ForeignKey("evidence.id", ondelete="RESTRICT"), index=True)
    layer: Mapped[str] = mapped_column(String(64), default="default", server_default="default")
    start_s: Mapped[float | None] = mapped_column(Float, default=None)
    end_s: Mapped[float | None] = mapped_column(Float, default=None)
    start_frame: Mapped[int | None] = mapped_column(Integer, default=None)
    end_frame: Mapped[int | None] = mapped_column(Integer, default=None)
    low_hz: Mapped[float | None] = mapped_column(Float, default=None)
    high_hz: Mapped[float | None] = mapped_column(Float, default=None)
    region: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    label: Mapped[str] = mapped_column(String(256))
    note: Mapped[str] = mapped_column(Text, default="")
    author: Mapped[str] = mapped_column(String(128))
    created: Mapped[dt.datetime] = mapped_column(default=utcnow)

    evidence: Mapped[Evidence] = relationship(back_populates="annotations")


class AuditEvent(Base):
    """One link of the hash-chained audit trail (see :mod:`forensics_app.store.audit`)."""

    __tablename__ = "audit_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, unique=True)
    time: Mapped[dt.datetime] = mapped_column(default=utcnow)
    examiner: Mapped[str] = mapped_column(String(128))
    action: Mapped[str] = mapped_column(String(64), index=True)
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
