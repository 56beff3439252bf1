"""Schema migrations: a case made by an older version opens, migrates and is audited."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text

from forensics_app.store import audit, db, repo
from forensics_app.store.case import DB_NAME, CaseStore
from forensics_app.store.schema import Base


def _case_at_0001(root: Path) -> None:
    """A case folder whose database was made by schema 0001, with one annotation."""
    root.mkdir()
    (root / "evidence").mkdir()
    (root / "artifacts").mkdir()
    engine = db.make_engine(root / DB_NAME)
    command.upgrade(db.alembic_config(engine), "0001")
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO \"case\" (id, number, title, examiner, created, notes) "
                          "VALUES (1, 'OLD-1', 'old case', 'Olga', '2025-01-01 10:00:00.000000', '')"))
        conn.execute(text(
            "INSERT INTO evidence (id, case_id, original_name, original_path, stored_path, size, sha256, md5, "
            "media_kind, metadata_json, acquired_at, acquired_by, integrity) VALUES (1, 1, 'a.wav', '/x/a.wav', "
            "'evidence/a.wav', 10, :sha, :md5, 'audio', '{}', '2025-01-01 10:01:00.000000', 'Olga', 'verified')"),
            {"sha": "a" * 64, "md5": "b" * 32})
        conn.execute(text(
            "INSERT INTO annotation (id, evidence_id, start_s, end_s, low_hz, high_hz, label, note, author, created) "
            "VALUES (1, 1, 0.25, 0.5, 100.0, 900.0, 'click', 'old note', 'Olga', '2025-01-01 10:02:00.000000')"))
    assert db.current_revision(engine) == "0001"
    assert "layer" not in {c["name"] for c in inspect(engine).get_columns("annotation")}
    engine.dispose()


def test_a_0001_case_opens_migrates_and_audits(tmp_path: Path) -> None:
    root = tmp_path / "old"
    _case_at_0001(root)
    store = CaseStore.open(root)
    try:
        assert db.current_revision(store.engine) == db.head_revision()
        with store.session() as s:
            [row] = repo.list_annotations(s)
            assert (row.label, row.layer, row.start_s, row.high_hz, row.note) == ("click", "default", 0.25, 900.0,
                                                                                   "old note")
            assert repo.get_evidence(s, 1).role == "questioned"
            [event] = repo.list_audit(s)
            assert event.action == "case.migrated" and event.examiner == "Olga"
            assert event.details == {"from": "0001", "to": db.head_revision()}
            assert audit.verify_chain(s, store.root).ok
    finally:
        store.close()
    again = CaseStore.open(root)  # at head: no second migration event
    with again.session() as s:
        assert len(repo.list_audit(s)) == 1
    again.close()


def test_downgrade_to_0001_and_back(tmp_path: Path) -> None:
    store = CaseStore.create(tmp_path / "c", title="t", examiner="e")
    cfg = db.alembic_config(store.engine)
    command.downgrade(cfg, "0001")
    assert "layer" not in {c["name"] for c in inspect(store.engine).get_columns("annotation")}
    with store.engine.connect() as conn:  # the drift check below would notice the missing column
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert sorted((d[0], d[2], d[3].name) for d in diff) == [
        ("add_column", "annotation", "layer"), ("add_column", "evidence", "role")]
    command.upgrade(cfg, "head")
    cols = {c["name"]: c for c in inspect(store.engine).get_columns("annotation")}
    assert cols["layer"]["nullable"] is False and "default" in str(cols["layer"]["default"])
    store.close()


def test_models_match_the_migrations(case: CaseStore) -> None:
    with case.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []
