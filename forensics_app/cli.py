"""Command-line interface: the same code paths as the GUI, for batch work and scripting.

Every command takes ``--json`` and exits non-zero on failure: 1 when something was refused, failed
or did not verify, 2 for usage errors (unknown case folder, analyzer or evidence id).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from forensics_app import __version__, settings
from forensics_app.domain.errors import ForensicsError, NotFound

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2


class CliError(Exception):
    """A usage problem reported to the user with exit status 2."""


def _emit(args: argparse.Namespace, payload: Any, text: Callable[[], str]) -> None:
    if args.json:
        print(json.dumps(payload, indent=2, ensure_ascii=False))
    else:
        out = text()
        if out:
            print(out)


def _open_case(path: str):  # -> CaseStore (imported lazily to keep --help fast)
    from forensics_app.store.case import CaseStore

    return CaseStore.open(Path(path))


def _examiner(args: argparse.Namespace) -> str:
    return getattr(args, "examiner", None) or settings.examiner_name()


# --------------------------------------------------------------------------- case


def cmd_case_new(args: argparse.Namespace) -> int:
    from forensics_app.store.case import CaseStore

    store = CaseStore.create(Path(args.dir), title=args.title, examiner=args.examiner,
                             number=args.number, notes=args.notes or "")
    with store.session() as s:
        case = store.case_info(s)
        payload = {"case_dir": str(store.root), "number": case.number, "title": case.title,
                   "examiner": case.examiner, "created": case.created.isoformat()}
    store.close()
    _emit(args, payload, lambda: f"created case {payload['number']} '{payload['title']}' in {payload['case_dir']}")
    return EXIT_OK


def cmd_case_add(args: argparse.Namespace) -> int:
    from forensics_app.ingest.acquire import Outcome, add_evidence

    store = _open_case(args.dir)
    results = [add_evidence(store, Path(f), examiner=_examiner(args)) for f in args.files]
    store.close()
    lines = []
    for r in results:
        if r.outcome is Outcome.ADDED:
            lines.append(f"added      #{r.evidence_id}  {r.media_kind:<5}  {r.sha256}  {r.original}")
        elif r.outcome is Outcome.DUPLICATE:
            lines.append(f"duplicate  #{r.evidence_id}  {r.media_kind:<5}  {r.sha256}  {r.reason}")
        else:
            lines.append(f"REFUSED    {r.original}: {r.reason}")
    _emit(args, {"results": [r.as_json() for r in results]}, lambda: "\n".join(lines))
    return EXIT_FAILED if any(r.outcome is Outcome.REFUSED for r in results) else EXIT_OK


def cmd_case_list(args: argparse.Namespace) -> int:
    from forensics_app.store import repo

    store = _open_case(args.dir)
    with store.session() as s:
        case = store.case_info(s)
        items = [{
            "evidence_id": e.id, "name": e.original_name, "media_kind": e.media_kind, "size": e.size,
            "sha256": e.sha256, "md5": e.md5, "integrity": e.integrity,
            "acquired_at": e.acquired_at.isoformat(), "acquired_by": e.acquired_by,
            "metadata": e.metadata_json, "role": e.role,
        } for e in repo.list_evidence(s)]
        header = {"number": case.number, "title": case.title, "examiner": case.examiner,
                  "created": case.created.isoformat(), "notes": case.notes}
    store.close()

    def text() -> str:
        rows = [f"case {header['number']}: {header['title']} (examiner {header['examiner']})"]
        rows += [f"#{i['evidence_id']:<4} {i['media_kind']:<5} {i['size']:>12,d} B  {i['integrity']:<10} "
                 f"{i['sha256']}  {i['name']}" + ("  [reference]" if i["role"] == "reference" else "")
                 for i in items]
        return "\n".join(rows)

    _emit(args, {"case": header, "evidence": items}, text)
    return EXIT_OK


# ------------------------------------------------------------------- analyzers


def cmd_analyzers(args: argparse.Namespace) -> int:
    from forensics_app.analysis import registry

    infos = registry.all_analyzers()
    errors = registry.load_errors()
    _emit(args, {"analyzers": [a.as_json() for a in infos], "load_errors": errors}, lambda: "\n".join(
        [f"{a.id:<28} {a.version:<8} {','.join(sorted(m.value for m in a.media)):<12} {a.label}" for a in infos]
        + [f"NOT LOADED: {name}: {err}" for name, err in errors.items()]))
    return EXIT_FAILED if errors else EXIT_OK


def _parse_params(items: Sequence[str]) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    for item in items:
        key, sep, value = item.partition("=")
        analyzer_id, dot, name = key.rpartition(".")
        if not sep or not dot or not analyzer_id or not name:
            raise CliError(f"--param {item!r}: expected ANALYZER_ID.NAME=VALUE")
        out.setdefault(analyzer_id, {})[name] = value
    return out


def cmd_analyze(args: argparse.Namespace) -> int:
    from forensics_app.analysis import registry, runner
    from forensics_app.domain.jobs import ProgressToken
    from forensics_app.domain.media import MediaKind
    from forensics_app.store import repo
    from forensics_app.store.schema import RunStatus

    params = _parse_params(args.param or [])
    store = _open_case(args.dir)
    examiner = _examiner(args)
    with store.session() as s:
        all_ids = {e.id: e.media_kind for e in repo.list_evidence(s)}
    evidence_ids = args.evidence or sorted(all_ids)
    missing = [i for i in evidence_ids if i not in all_ids]
    if missing:
        raise NotFound(f"no evidence {missing} in this case; known ids: {sorted(all_ids)}")
    chosen = [registry.get(a) for a in args.analyzer] if args.analyzer else None
    for aid in params:
        registry.get(aid)
    plan: list[tuple[int, str]] = []
    for eid in evidence_ids:
        kind = MediaKind(all_ids[eid])
        infos = chosen if chosen is not None else registry.for_media(kind)
        applicable = [a for a in infos if kind in a.media]
        if chosen is not None and not applicable:
            raise CliError(f"none of the chosen analyzers examines {kind.value} (evidence #{eid})")
        plan += [(eid, a.id) for a in applicable]
    outcomes = []
    for eid, aid in plan:
        spec = runner.make_spec(aid, params.get(aid))
        run_id = runner.queue_job(store, evidence_id=eid, spec=spec, examiner=examiner)
        token = ProgressToken(_stderr_progress(f"#{eid} {aid}") if not args.json and sys.stderr.isatty() else None)
        outcomes.append(runner.run_job(store, run_id, progress=token, examiner=examiner))
    findings: list[dict[str, Any]] = []
    runs: list[dict[str, Any]] = []
    with store.session() as s:
        for o in outcomes:
            run = repo.get_run(s, o.run_id)
            runs.append({"run_id": run.id, "evidence_id": run.evidence_id, "analyzer": run.analyzer_id,
                         "version": run.analyzer_version, "status": run.status.value, "error": run.error})
            for f in repo.findings_for_run(s, run.id):
                findings.append(finding_json(run.evidence_id, run.analyzer_id, run.analyzer_version, f))
    store.close()

    def text() -> str:
        rows = [f"run #{r['run_id']}: {r['analyzer']} on evidence #{r['evidence_id']}: {r['status']}"
                + (f" ({r['error']})" if r["error"] else "") for r in runs]
        for f in findings:
            fl = "" if f["fake_likelihood"] is None else f"  FakeLikelihood {f['fake_likelihood']:.2f}"
            where = ""
            if f["start_s"] is not None:
                where = f"  {f['start_s']:.3f}-{f['end_s']:.3f} s"
            elif f["start_frame"] is not None:
                where = f"  frames {f['start_frame']}-{f['end_frame']}"
            rows.append(f"  #{f['evidence_id']} {f['analyzer']}: {f['label']}{where}{fl}")
        return "\n".join(rows)

    _emit(args, {"runs": runs, "findings": findings}, text)
    return EXIT_OK if all(o.status is RunStatus.DONE for o in outcomes) else EXIT_FAILED


def finding_json(evidence_id: int, analyzer_id: str, version: str, f: Any) -> dict[str, Any]:
    """JSON form of a stored Finding row for the CLI."""
    return {
        "evidence_id": evidence_id, "analyzer": analyzer_id, "analyzer_version": version, "run_id": f.run_id,
        "label": f.label, "fake_likelihood": f.fake_likelihood, "start_s": f.start_s, "end_s": f.end_s,
        "start_frame": f.start_frame, "end_frame": f.end_frame, "region": f.region, "details": f.details,
        "series": [r["name"] for r in (f.artifacts or {}).get("series", [])],
        "maps": [r["name"] for r in (f.artifacts or {}).get("maps", [])],
        "alignments": [r["name"] for r in (f.artifacts or {}).get("alignments", [])],
        **{key: (f.details or {})[key] for key in ("reference_start_s", "reference_end_s")
           if key in (f.details or {})},
    }


def _stderr_progress(prefix: str) -> Callable[[float, str], None]:
    def show(fraction: float, message: str) -> None:
        sys.stderr.write(f"\r{prefix}: {fraction * 100:5.1f}% {message[:50]:<50}")
        if fraction >= 1.0:
            sys.stderr.write("\n")
        sys.stderr.flush()

    return show


# ---------------------------------------------------------------- report, verify


def cmd_report(args: argparse.Namespace) -> int:
    from forensics_app.report.render import export_report

    store = _open_case(args.dir)
    out = export_report(store, out=Path(args.out), examiner=_examiner(args), evidence_ids=args.evidence or None)
    from forensics_app.ingest.hashing import sha256_file

    payload = {"report": str(out), "sha256": sha256_file(out)}
    with store.session() as s:
        from forensics_app.store import repo

        bad = [e.id for e in repo.list_evidence(s) if e.integrity != "verified"]
    store.close()
    payload["integrity_failures"] = bad
    _emit(args, payload, lambda: f"report written to {out} (SHA-256 {payload['sha256']})"
          + (f"\nWARNING: evidence {bad} failed re-verification; the report says so" if bad else ""))
    return EXIT_FAILED if bad else EXIT_OK


def cmd_verify(args: argparse.Namespace) -> int:
    from forensics_app.ingest.acquire import verify_case

    store = _open_case(args.dir)
    report = verify_case(store, examiner=_examiner(args))
    store.close()

    def text() -> str:
        rows = []
        for c in report.evidence:
            line = f"{c.state.upper():<9} #{c.evidence_id} {c.name}"
            if c.state == "mismatch":
                line += f" (recorded {c.expected_sha256}, now {c.actual_sha256})"
            rows.append(line)
        ch = report.chain
        rows.append(f"audit chain: {'intact' if ch.ok else 'BROKEN'} ({ch.n_events} events)"
                    + ("" if ch.ok else f": first broken link #{ch.first_broken_seq}: {ch.reason}"))
        rows.append("verification " + ("passed" if report.ok else "FAILED"))
        return "\n".join(rows)

    _emit(args, report.as_json(), text)
    return EXIT_OK if report.ok else EXIT_FAILED


# ----------------------------------------------------------------- annotations


def _annotation_text(r: dict[str, Any]) -> str:
    where = ""
    if r["start_s"] is not None:
        where = f"  {r['start_s']:.3f}-{r['end_s']:.3f} s"
        if r["low_hz"] is not None:
            where += f"  {r['low_hz']:.6g}-{r['high_hz']:.6g} Hz"
    elif r["start_frame"] is not None:
        where = f"  frames {r['start_frame']}-{r['end_frame']}"
    elif r["region"]:
        g = r["region"]
        where = f"  region {g['width']}x{g['height']}+{g['x']}+{g['y']} px"
    note = f"  — {r['note']}" if r["note"] else ""
    return (f"#{r['id']:<4} evidence #{r['evidence_id']:<3} [{r['layer']}] {r['label']}{where}"
            f"  ({r['author']}, {r['created']}){note}")


def cmd_annotations_list(args: argparse.Namespace) -> int:
    from forensics_app.store import repo
    from forensics_app.store.annotation_io import annotation_record
    from forensics_app.store.annotations import query_annotations

    store = _open_case(args.dir)
    with store.session() as s:
        if args.evidence is not None:
            repo.get_evidence(s, args.evidence)
        evidence = {e.id: e for e in repo.list_evidence(s)}
        items = [{"id": a.id, **annotation_record(a, evidence[a.evidence_id])}
                 for a in query_annotations(s, evidence_id=args.evidence, layers=args.layer)]
    store.close()
    _emit(args, {"annotations": items}, lambda: "\n".join(_annotation_text(r) for r in items)
          or "no annotations")
    return EXIT_OK


def cmd_annotations_add(args: argparse.Namespace) -> int:
    from forensics_app.store import repo
    from forensics_app.store.annotation_io import annotation_record
    from forensics_app.store.annotations import AnnotationSpec, InvalidAnnotation, add_annotation
    from forensics_app.store.schema import Annotation

    try:
        spec = AnnotationSpec(label=args.label, note=args.note or "", layer=args.layer, start_s=args.start,
                              end_s=args.end, low_hz=args.low_hz, high_hz=args.high_hz)
    except InvalidAnnotation as exc:
        raise CliError(str(exc)) from exc
    store = _open_case(args.dir)
    aid = add_annotation(store, evidence_id=args.evidence, spec=spec, author=_examiner(args))
    with store.session() as s:
        row = s.get(Annotation, aid)
        item = {"id": aid, **annotation_record(row, repo.get_evidence(s, args.evidence))}
    store.close()
    _emit(args, item, lambda: "added " + _annotation_text(item))
    return EXIT_OK


def cmd_annotations_export(args: argparse.Namespace) -> int:
    from forensics_app.store.annotation_io import (
        AnnotationFileError,
        export_annotations,
        file_format,
    )

    try:
        file_format(Path(args.out))
    except AnnotationFileError as exc:
        raise CliError(str(exc)) from exc
    store = _open_case(args.dir)
    r = export_annotations(store, out=Path(args.out), examiner=_examiner(args), evidence_id=args.evidence,
                           layers=args.layer)
    store.close()
    payload = {"path": str(r.path), "format": r.format, "sha256": r.sha256, "n_annotations": r.n_annotations,
               "layers": list(r.layers)}
    _emit(args, payload, lambda: f"{r.n_annotations} annotation(s) in layer(s) {', '.join(r.layers) or '-'} "
          f"written to {r.path} (SHA-256 {r.sha256})")
    return EXIT_OK


def cmd_annotations_import(args: argparse.Namespace) -> int:
    from forensics_app.store.annotation_io import AnnotationImportError, import_annotations

    store = _open_case(args.dir)
    try:
        r = import_annotations(store, path=Path(args.file), examiner=_examiner(args))
    except AnnotationImportError as exc:
        if args.json:
            print(json.dumps({"error": str(exc), "exit_status": EXIT_FAILED,
                              "problems": [{"row": row, "reason": why} for row, why in exc.problems]},
                             ensure_ascii=False))
        print(f"forensics-app: error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    finally:
        store.close()
    payload = {"path": str(r.path), "format": r.format, "sha256": r.sha256, "n_rows": r.n_rows,
               "n_imported": r.n_imported, "n_duplicates": r.n_duplicates, "n_matched_by_id": r.n_matched_by_id,
               "annotation_ids": list(r.imported_ids)}
    _emit(args, payload, lambda: f"imported {r.n_imported} of {r.n_rows} annotation(s) from {r.path}; "
          f"{r.n_duplicates} duplicate(s) skipped" + (f"; {r.n_matched_by_id} matched by evidence id and name "
                                                       "(no SHA-256 match)" if r.n_matched_by_id else ""))
    return EXIT_OK


# ------------------------------------------------------------------- demo, gui


def cmd_demo(args: argparse.Namespace) -> int:
    from forensics_app.demo.build import build_demo_case

    result = build_demo_case(rebuild=args.rebuild, examiner=_examiner(args),
                             on_message=None if args.json else (lambda m: print(m, file=sys.stderr)))
    payload = result.as_json()
    if args.no_gui:
        _emit(args, payload, lambda: f"demo case: {result.case_dir}\nreport:    {result.report_pdf}\n"
              f"           {result.report_html}")
        return EXIT_OK
    from forensics_app.app import launch

    return launch(result.case_dir)


def cmd_gui(args: argparse.Namespace) -> int:
    from forensics_app.app import launch

    return launch(Path(args.dir) if args.dir else None)


# ---------------------------------------------------------------------- parser


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for tests and documentation)."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--json", action="store_true", help="machine-readable output")
    who = argparse.ArgumentParser(add_help=False)
    who.add_argument("--examiner", help="who performs the action (default: $FORENSICS_APP_EXAMINER or login)")

    p = argparse.ArgumentParser(prog="forensics-app", description="Offline forensic workstation for "
                                "synthetic and manipulated media.")
    p.add_argument("--version", action="version", version=f"forensics-app {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    case = sub.add_parser("case", help="create a case, add evidence, list a case")
    csub = case.add_subparsers(dest="case_command", required=True)
    c = csub.add_parser("new", help="create a case folder", parents=[common])
    c.add_argument("dir")
    c.add_argument("--title", required=True)
    c.add_argument("--examiner", required=True)
    c.add_argument("--number", help="case number (default: CASE-<date>-<time>)")
    c.add_argument("--notes")
    c.set_defaults(func=cmd_case_new)
    c = csub.add_parser("add", help="acquire evidence files (copy, hash, probe)", parents=[common, who])
    c.add_argument("dir")
    c.add_argument("files", nargs="+")
    c.set_defaults(func=cmd_case_add)
    c = csub.add_parser("list", help="show a case and its evidence", parents=[common])
    c.add_argument("dir")
    c.set_defaults(func=cmd_case_list)

    a = sub.add_parser("analyzers", help="list analyzers", parents=[common])
    a.set_defaults(func=cmd_analyzers)

    a = sub.add_parser("analyze", help="run analyzers and print findings", parents=[common, who])
    a.add_argument("dir")
    a.add_argument("--evidence", type=int, action="append", help="evidence id (repeatable; default: all)")
    a.add_argument("--analyzer", action="append", help="analyzer id (repeatable; default: all that apply)")
    a.add_argument("--param", action="append", metavar="ANALYZER.NAME=VALUE", help="analyzer parameter")
    a.set_defaults(func=cmd_analyze)

    r = sub.add_parser("report", help="export the case report (.pdf, .html or .json)", parents=[common, who])
    r.add_argument("dir")
    r.add_argument("--out", required=True)
    r.add_argument("--evidence", type=int, action="append", help="limit to these evidence ids")
    r.set_defaults(func=cmd_report)

    v = sub.add_parser("verify", help="re-hash every evidence copy and check the audit chain",
                       parents=[common, who])
    v.add_argument("dir")
    v.set_defaults(func=cmd_verify)

    n = sub.add_parser("annotations", help="list, add, export and import annotations")
    nsub = n.add_subparsers(dest="annotations_command", required=True)
    c = nsub.add_parser("list", help="list annotations", parents=[common])
    c.add_argument("dir")
    c.add_argument("--evidence", type=int, help="only this evidence id")
    c.add_argument("--layer", action="append", help="only this layer (repeatable)")
    c.set_defaults(func=cmd_annotations_list)
    c = nsub.add_parser("add", help="annotate a time range or time-frequency box", parents=[common, who])
    c.add_argument("dir")
    c.add_argument("--evidence", type=int, required=True)
    c.add_argument("--label", required=True)
    c.add_argument("--layer", default="default")
    c.add_argument("--note", default="")
    c.add_argument("--start", type=float, metavar="S", help="start time (s)")
    c.add_argument("--end", type=float, metavar="S", help="end time (s)")
    c.add_argument("--low-hz", type=float, metavar="F", help="low edge of the band (Hz; needs --start/--end)")
    c.add_argument("--high-hz", type=float, metavar="F", help="high edge of the band (Hz)")
    c.set_defaults(func=cmd_annotations_add)
    c = nsub.add_parser("export", help="export all layers (.csv or .json)", parents=[common, who])
    c.add_argument("dir")
    c.add_argument("--out", required=True, help="FILE.csv or FILE.json")
    c.add_argument("--evidence", type=int, help="only this evidence id")
    c.add_argument("--layer", action="extend", nargs="+", help="only these layers (default: all)")
    c.set_defaults(func=cmd_annotations_export)
    c = nsub.add_parser("import", help="import an annotation export (all or nothing)", parents=[common, who])
    c.add_argument("dir")
    c.add_argument("file")
    c.set_defaults(func=cmd_annotations_import)

    d = sub.add_parser("demo", help="build the demo case and open it", parents=[common, who])
    d.add_argument("--no-gui", action="store_true", help="only build it and print where it is")
    d.add_argument("--rebuild", action="store_true", help="rebuild even if a demo case exists")
    d.set_defaults(func=cmd_demo)

    g = sub.add_parser("gui", help="open the workstation", parents=[common])
    g.add_argument("dir", nargs="?")
    g.set_defaults(func=cmd_gui)

    from forensics_app import cli_compare, cli_models, cli_train

    cli_compare.register(sub, csub, common=common, who=who)
    cli_models.register(sub, common=common, who=who)
    cli_train.register(sub, common=common, emit=_emit)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``forensics-app``; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except (CliError, NotFound) as exc:
        return _fail(args, str(exc), EXIT_USAGE)
    except ForensicsError as exc:
        code = EXIT_USAGE if type(exc).__name__ in {"CaseError", "AnalyzerError"} else EXIT_FAILED
        return _fail(args, str(exc), code)


def _fail(args: argparse.Namespace, message: str, code: int) -> int:
    if getattr(args, "json", False):
        print(json.dumps({"error": message, "exit_status": code}, ensure_ascii=False))
    print(f"forensics-app: error: {message}", file=sys.stderr)
    return code


if __name__ == "__main__":
    raise SystemExit(main())
