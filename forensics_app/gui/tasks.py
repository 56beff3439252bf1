"""The jobs the GUI hands to :class:`~forensics_app.gui.workers.WorkerPool`.

Each factory returns a plain callable ``job(progress) -> result`` that runs on a pool thread,
opens its own Sessions through the thread-safe :class:`CaseStore`, and returns plain values (ids,
frozen dataclasses). No Qt here.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from forensics_app import settings
from forensics_app.domain.errors import Cancelled, ForensicsError
from forensics_app.domain.jobs import ProgressToken
from forensics_app.store.case import CaseStore

Job = Callable[[ProgressToken], Any]


class JobFailure(ForensicsError):
    """A job failed with a message and a traceback recorded elsewhere (e.g. on the run row).

    Parameters
    ----------
    message : str
        What went wrong, for the user.
    traceback_text : str, optional
        The original traceback, shown in the jobs panel's tooltip.
    """

    def __init__(self, message: str, *, traceback_text: str = "") -> None:
        super().__init__(message)
        self.traceback_text = traceback_text


def open_case(root: Path) -> Job:
    """Open (and migrate if needed) an existing case folder; the job returns the CaseStore."""

    def job(progress: ProgressToken) -> CaseStore:
        progress.report(0.1, f"opening {root}")
        return CaseStore.open(Path(root))

    return job


def create_case(root: Path, *, title: str, examiner: str, number: str | None) -> Job:
    """Create a new case folder; the job returns the CaseStore."""

    def job(progress: ProgressToken) -> CaseStore:
        progress.report(0.1, f"creating {root}")
        return CaseStore.create(Path(root), title=title, examiner=examiner, number=number or None)

    return job


def acquire(store: CaseStore, path: Path, *, examiner: str) -> Job:
    """Acquire one file (copy + hash + probe); the job returns an ``AcquireResult``.

    Refusals and duplicates are results, not failures. A cancelled copy raises Cancelled.
    """

    def job(progress: ProgressToken) -> Any:
        from forensics_app.ingest.acquire import Outcome, add_evidence

        progress.check()
        result = add_evidence(store, Path(path), examiner=examiner, on_progress=progress.report,
                              should_stop=lambda: progress.cancelled)
        if result.outcome is Outcome.CANCELLED:
            raise Cancelled(result.reason)
        return result

    return job


def run_analysis(store: CaseStore, run_id: int, *, examiner: str) -> Job:
    """Run one queued analysis; the job returns the ``RunOutcome`` of a finished run.

    Cancelled runs raise Cancelled, failed runs raise :class:`JobFailure` with the message and
    traceback recorded on the run.
    """

    def job(progress: ProgressToken) -> Any:
        from forensics_app.analysis import runner
        from forensics_app.store import repo
        from forensics_app.store.schema import RunStatus

        outcome = runner.run_job(store, run_id, progress=progress, examiner=examiner)
        if outcome.status is RunStatus.CANCELLED:
            raise Cancelled(outcome.error or "cancelled")
        if outcome.status is RunStatus.FAILED:
            with store.session() as s:
                tb = repo.get_run(s, run_id).traceback or ""
            raise JobFailure(outcome.error or "analysis failed", traceback_text=tb)
        if outcome.status is not RunStatus.DONE:
            raise JobFailure(outcome.error or f"run #{run_id} is {outcome.status.value}")
        return outcome

    return job


def set_evidence_role(store: CaseStore, evidence_id: int, *, role: str, examiner: str) -> Job:
    """Mark an evidence item as questioned or as a known genuine reference (audited); the job
    returns whether the role changed."""

    def job(progress: ProgressToken) -> bool:
        from forensics_app.store.evidence_roles import set_role

        progress.check()
        return set_role(store, evidence_id, role=role, examiner=examiner)

    return job


def load_analyzers() -> Job:
    """Import the analyzer modules (seconds: DSP libraries) off the GUI thread; the job returns the
    registered analyzer ids."""

    def job(progress: ProgressToken) -> list[str]:
        from forensics_app.analysis import registry

        registry.load_all()
        return [a.id for a in registry.all_analyzers()]

    return job


def verify(store: CaseStore, *, examiner: str) -> Job:
    """Re-hash every stored copy and check the audit chain; the job returns a ``VerifyReport``."""

    def job(progress: ProgressToken) -> Any:
        from forensics_app.ingest.acquire import verify_case

        return verify_case(store, examiner=examiner, on_progress=progress.report)

    return job


def export_report(store: CaseStore, out: Path, *, examiner: str,
                  evidence_ids: Sequence[int] | None = None) -> Job:
    """Export the case report (format from the suffix of ``out``); the job returns the written path.

    The report package is imported here, on the pool thread: it is heavy (Jinja2, WeasyPrint) and
    an installation without it must still open cases.
    """

    def job(progress: ProgressToken) -> Path:
        progress.report(0.05, "loading the report renderer")
        try:
            from forensics_app.report.render import export_report as render
        except ImportError as exc:
            raise JobFailure(f"report export is not available in this installation ({exc})") from exc
        progress.report(0.2, f"writing {Path(out).name}")
        written = render(store, out=Path(out), examiner=examiner,
                         evidence_ids=list(evidence_ids) if evidence_ids is not None else None)
        return Path(written)

    return job


def device_label() -> Job:
    """Detect the compute device (imports torch: seconds); the job returns a label."""

    def job(progress: ProgressToken) -> str:
        return settings.compute_device_label()

    return job
