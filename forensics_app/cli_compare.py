"""Command-line comparisons: ``compare`` (questioned vs a known genuine reference), ``align``
(a typed transcript against a recording) and ``case role`` (mark a known genuine reference).

Both comparisons are analyzers like any other: the command queues one run, runs it on this thread
(hashes verified, progress on stderr when it is a terminal), and prints its findings; the run and
its findings stay in the case for the GUI and the report.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from forensics_app import cli as base

#: The analyzers behind the two commands.
COMPARE_ANALYZER = "audio.reference_comparison"
ALIGN_ANALYZER = "audio.transcript_alignment"


def _run_one(args: argparse.Namespace, *, evidence_id: int, analyzer_id: str, params: dict[str, Any]) -> int:
    """Queue and run one analyzer on one evidence item; print its findings; return the exit status."""
    from forensics_app.analysis import runner
    from forensics_app.domain.jobs import ProgressToken
    from forensics_app.store import repo
    from forensics_app.store.schema import RunStatus

    store = base._open_case(args.dir)
    try:
        examiner = base._examiner(args)
        spec = runner.make_spec(analyzer_id, params)
        run_id = runner.queue_job(store, evidence_id=evidence_id, spec=spec, examiner=examiner)
        show = base._stderr_progress(f"#{evidence_id} {analyzer_id}") if not args.json and sys.stderr.isatty() else None
        outcome = runner.run_job(store, run_id, progress=ProgressToken(show), examiner=examiner)
        with store.session() as s:
            run = repo.get_run(s, run_id)
            payload: dict[str, Any] = {
                "run": {"run_id": run.id, "evidence_id": run.evidence_id, "analyzer": run.analyzer_id,
                        "version": run.analyzer_version, "status": run.status.value, "error": run.error,
                        "params": dict(run.params), "summary": dict(run.summary or {})},
                "findings": [base.finding_json(run.evidence_id, run.analyzer_id, run.analyzer_version, f)
                             for f in repo.findings_for_run(s, run.id)],
            }
    finally:
        store.close()
    base._emit(args, payload, lambda: _text(payload))
    return base.EXIT_OK if outcome.status is RunStatus.DONE else base.EXIT_FAILED


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _text(payload: dict[str, Any]) -> str:
    run = payload["run"]
    rows = [f"run #{run['run_id']}: {run['analyzer']} on evidence #{run['evidence_id']}: {run['status']}"
            + (f" ({run['error']})" if run["error"] else "")]
    for f in payload["findings"]:
        fl = "" if f["fake_likelihood"] is None else f"  FakeLikelihood {f['fake_likelihood']:.2f}"
        where = "" if f["start_s"] is None else f"  {_seconds(f['start_s'])}-{_seconds(f['end_s'])} s"
        if f.get("reference_start_s") is not None or f.get("reference_end_s") is not None:
            where += f"  (reference {_seconds(f.get('reference_start_s'))}-{_seconds(f.get('reference_end_s'))} s)"
        rows.append(f"  {f['label']}{where}{fl}")
    return "\n".join(rows)


def cmd_compare(args: argparse.Namespace) -> int:
    """``forensics-app compare DIR --questioned ID --reference ID``."""
    if args.questioned == args.reference:
        raise base.CliError("--questioned and --reference must be different evidence items")
    return _run_one(args, evidence_id=args.questioned, analyzer_id=COMPARE_ANALYZER,
                    params={"reference_id": args.reference})


def cmd_align(args: argparse.Namespace) -> int:
    """``forensics-app align DIR --evidence ID --transcript TEXT``."""
    text = args.transcript
    if args.transcript_file:
        if text:
            raise base.CliError("give --transcript or --transcript-file, not both")
        try:
            with open(args.transcript_file, encoding="utf-8") as fh:
                text = fh.read()
        except (OSError, UnicodeDecodeError) as exc:
            raise base.CliError(f"cannot read the transcript file: {exc}") from exc
    if not text or not text.strip():
        raise base.CliError("the transcript is empty: give --transcript TEXT or --transcript-file FILE")
    params: dict[str, Any] = {"transcript": text}
    if args.voice:
        params["voice"] = args.voice
    return _run_one(args, evidence_id=args.evidence, analyzer_id=ALIGN_ANALYZER, params=params)


def cmd_case_role(args: argparse.Namespace) -> int:
    """``forensics-app case role DIR --evidence ID --role reference|questioned``."""
    from forensics_app.store import evidence_roles

    store = base._open_case(args.dir)
    try:
        changed = evidence_roles.set_role(store, args.evidence, role=args.role, examiner=base._examiner(args))
    finally:
        store.close()
    payload = {"evidence_id": args.evidence, "role": args.role, "changed": changed}
    base._emit(args, payload, lambda: f"evidence #{args.evidence} is {'now' if changed else 'already'} {args.role}")
    return base.EXIT_OK


def register(sub: Any, case_sub: Any, *, common: argparse.ArgumentParser, who: argparse.ArgumentParser) -> None:
    """Add ``compare``, ``align`` and ``case role`` to the CLI.

    Parameters
    ----------
    sub : argparse._SubParsersAction
        The top-level subparsers of :func:`forensics_app.cli.build_parser`.
    case_sub : argparse._SubParsersAction
        The subparsers of ``case``.
    common, who : argparse.ArgumentParser
        Parent parsers giving ``--json`` and ``--examiner``.
    """
    from forensics_app.store.evidence_roles import ROLES

    c = sub.add_parser("compare", help="align a questioned recording with a known genuine reference and list "
                       "inserted, deleted and replaced spans and speaker changes", parents=[common, who])
    c.add_argument("dir")
    c.add_argument("--questioned", type=int, required=True, metavar="ID", help="evidence id of the questioned item")
    c.add_argument("--reference", type=int, required=True, metavar="ID",
                   help="evidence id of the known genuine reference")
    c.set_defaults(func=cmd_compare)

    a = sub.add_parser("align", help="align a typed transcript with a recording (local espeak-ng rendering) and "
                       "flag poorly aligned or implausibly regular words", parents=[common, who])
    a.add_argument("dir")
    a.add_argument("--evidence", type=int, required=True, metavar="ID")
    a.add_argument("--transcript", metavar="TEXT", help="the words spoken, as typed by the investigator")
    a.add_argument("--transcript-file", metavar="FILE", help="read the transcript from a UTF-8 text file")
    a.add_argument("--voice", metavar="VOICE", help="espeak-ng voice of the local rendering (default en-us)")
    a.set_defaults(func=cmd_align)

    r = case_sub.add_parser("role", help="mark an evidence item as a known genuine reference (or questioned)",
                            parents=[common, who])
    r.add_argument("dir")
    r.add_argument("--evidence", type=int, required=True, metavar="ID")
    r.add_argument("--role", choices=ROLES, default="reference")
    r.set_defaults(func=cmd_case_role)
