"""Case folders, schema, migrations and SQLite settings."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import text

from forensics_app.domain.errors import CaseError
from forensics_app.store import db, repo
from forensics_app.store.case import CaseStore
from forensics_app.store.schema import Annotation


def test_create_lays_out_the_case_folder(case: CaseStore) -> None:
    assert (case.root / "case.db").is_file()
    assert case.evidence_dir.is_dir() and case.artifacts_dir.is_dir()
    with case.session() as s:
        info = case.case_info(s)
        assert (info.number, info.title, info.examiner) == ("T-1", "Test case", "Test Examiner")
        assert info.created.tzinfo is not None
        events = repo.list_audit(s)
    assert [e.action for e in events] == ["case.created"]


def test_sqlite_pragmas_foreign_keys_and_wal(case: CaseStore) -> None:
    with case.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"


def test_foreign_keys_are_enforced(case: CaseStore) -> None:
    with pytest.raises(Exception, match="FOREIGN KEY"):
        with case.transaction() as s:
            s.add(Annotation(evidence_id=999, label="x", author="a"))


def test_migrations_reach_head_and_reopen_is_idempotent(case: CaseStore) -> None:
    assert db.current_revision(case.engine) == db.head_revision()
    root = case.root
    case.close()
    again = CaseStore.open(root)
    with again.session() as s:
        assert len(repo.list_audit(s)) == 1  # no migration event when already at head
    again.close()


def test_create_refuses_a_non_empty_folder(tmp_path: Path) -> None:
    (tmp_path / "x.txt").write_text("x")
    with pytest.raises(CaseError, match="not empty"):
        CaseStore.create(tmp_path, title="t", examiner="e")


def test_open_refuses_a_folder_that_is_not_a_case(tmp_path: Path) -> None:
    with pytest.raises(CaseError, match="not a case folder"):
        CaseStore.open(tmp_path)
    (tmp_path / "case.db").write_bytes(b"")
    sqlite3.connect(tmp_path / "case.db").close()
    with pytest.raises(CaseError, match="not a workstation case"):
        CaseStore.open(tmp_path)


def test_transaction_rolls_back_on_error(case: CaseStore) -> None:
    with pytest.raises(RuntimeError):
        with case.transaction() as s:
            s.execute(text("UPDATE \"case\" SET title='changed'"))
            raise RuntimeError("boom")
    with case.session() as s:
        assert case.case_info(s).title == "Test case"


def test_artifacts_are_content_addressed_and_read_only(case: CaseStore) -> None:
    import numpy as np

    from forensics_app.domain.results import TimeSeries

    ts = TimeSeries("level", "dBFS", np.arange(5.0), np.linspace(-20, -3, 5))
    ref1 = case.artifacts.put_series(ts)
    ref2 = case.artifacts.put_series(ts)
    assert ref1 == ref2
    path = case.artifacts.path_for(ref1["sha256"], ".npy")
    assert path.is_file() and not (path.stat().st_mode & 0o222)
    back = case.artifacts.get_series(ref1)
    assert back.name == "level" and back.unit == "dBFS"
    np.testing.assert_allclose(back.values, ts.values)
