"""A case folder: ``case.db``, ``evidence/`` (read-only copies), ``artifacts/``, ``audit.head``."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from forensics_app.domain.errors import CaseError
from forensics_app.store import audit, db
from forensics_app.store.artifacts import ArtifactStore
from forensics_app.store.schema import Case

DB_NAME = "case.db"


class CaseStore:
    """An open case folder.

    Use :meth:`create` or :meth:`open`; sessions come from :meth:`session`. Thread-safe: every
    thread opens its own Session from the shared engine.
    """

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self.engine = db.make_engine(self.db_path)
        self._sessions = db.session_factory(self.engine)
        self.artifacts = ArtifactStore(self.artifacts_dir)

    @property
    def db_path(self) -> Path:
        """``case.db``."""
        return self.root / DB_NAME

    @property
    def evidence_dir(self) -> Path:
        """Folder of stored evidence copies."""
        return self.root / "evidence"

    @property
    def artifacts_dir(self) -> Path:
        """Folder of content-addressed artifacts."""
        return self.root / "artifacts"

    @classmethod
    def create(
        cls, root: Path, *, title: str, examiner: str, number: str | None = None, notes: str = ""
    ) -> CaseStore:
        """Create a new case folder (the folder may exist but must be empty).

        Raises
        ------
        CaseError
            If the folder already holds files.
        """
        root = Path(root)
        if root.exists() and any(root.iterdir()):
            raise CaseError(f"{root}: folder is not empty; a new case needs an empty or new folder")
        if not title.strip():
            raise CaseError("a case needs a title")
        if not examiner.strip():
            raise CaseError("a case needs an examiner name")
        root.mkdir(parents=True, exist_ok=True)
        (root / "evidence").mkdir()
        (root / "artifacts").mkdir()
        store = cls(root)
        db.upgrade(store.engine)
        created = dt.datetime.now(dt.UTC)
        number = number or created.strftime("CASE-%Y%m%d-%H%M%S")
        with store.session() as s:
            s.add(Case(number=number, title=title, examiner=examiner, created=created, notes=notes))
            audit.record(s, action="case.created", examiner=examiner,
                         details={"number": number, "title": title, "schema": db.head_revision()})
            s.commit()
            audit.write_head(store.root, s)
        return store

    @classmethod
    def open(cls, root: Path) -> CaseStore:
        """Open an existing case folder, migrating its database to the current schema.

        Raises
        ------
        CaseError
            If the folder is not a case.
        """
        root = Path(root)
        if not (root / DB_NAME).is_file():
            raise CaseError(f"{root}: not a case folder (no {DB_NAME})")
        store = cls(root)
        before = db.current_revision(store.engine)
        if before is None:
            raise CaseError(f"{root}: {DB_NAME} is not a workstation case database")
        if before != db.head_revision():
            db.upgrade(store.engine)
            with store.session() as s:
                audit.record(s, action="case.migrated", examiner=store.case_info(s).examiner,
                             details={"from": before, "to": db.head_revision()})
                s.commit()
                audit.write_head(store.root, s)
        return store

    def session(self) -> Session:
        """A new Session (use as a context manager)."""
        return self._sessions()

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A Session whose work is committed on success, rolled back on error.

        The audit head file is refreshed after the commit.
        """
        with self._sessions() as s:
            try:
                yield s
                s.commit()
            except BaseException:
                s.rollback()
                raise
            audit.write_head(self.root, s)

    def case_info(self, session: Session) -> Case:
        """The case row."""
        case = session.scalars(select(Case).limit(1)).first()
        if case is None:
            raise CaseError(f"{self.root}: case database holds no case")
        return case

    def resolve(self, stored_path: str) -> Path:
        """Absolute path of a stored evidence copy from its case-relative path."""
        return self.root / stored_path

    def close(self) -> None:
        """Dispose of the engine's connections."""
        self.engine.dispose()
