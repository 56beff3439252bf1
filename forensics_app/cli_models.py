"""Command-line commands of the model catalog: ``models list``, ``models import`` and ``eval``.

``models import FILE`` accepts only third-party weights recognised by SHA-256 (the official
AASIST and AASIST-L files) and copies them read-only into the user model folder; ``models list``
shows shipped and imported models and the weights that can still be imported; ``eval`` scores a
labelled manifest of recordings with a catalogued detector and prints EER, Cllr and min Cllr,
overall and per ``--by`` column. Exit status as in :mod:`forensics_app.cli`: 0 done, 1 refused or
failed (bad manifest rows, unrecognised weights), 2 usage (unknown model id, missing file).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from forensics_app import cli as base
from forensics_app.detectors.summary import validation_summary
from forensics_app.training.calibration import Bands, Calibration

__all__ = ["register", "Scorer", "load_scorer", "cmd_models_list", "cmd_models_import", "cmd_eval"]


@dataclass(frozen=True)
class Scorer:
    """What ``eval`` needs of a detector.

    Attributes
    ----------
    model_id, sha256, source : str
        The catalogued model.
    score_file : callable
        ``score_file(path) -> float``: the file's raw fake score (mean of its window scores).
    calibration : Calibration or None
    bands : Bands or None
    """

    model_id: str
    sha256: str
    source: str
    score_file: Callable[[Path], float]
    calibration: Calibration | None
    bands: Bands | None


def load_scorer(model_id: str) -> Scorer:
    """Load a catalogued speech detector (hash-verified) as a :class:`Scorer`.

    Raises
    ------
    NotFound
        Unknown model id.
    IntegrityError
        The weights do not match their recorded SHA-256.
    """
    from forensics_app.detectors.detector import load_detector

    det = load_detector(model_id)
    e = det.entry
    return Scorer(model_id=e.id, sha256=e.sha256, source=e.source, score_file=det.score_file,
                  calibration=e.calibration, bands=e.bands)


# --------------------------------------------------------------------------- models


def _input_text(card: dict[str, Any]) -> str:
    inp = card["input"]
    if not inp["window_s"]:
        return f"{inp['sample_rate_hz']} Hz"
    return f"{inp['sample_rate_hz']} Hz, {inp['window_s']:g} s windows"


def cmd_models_list(args: argparse.Namespace) -> int:
    from forensics_app.detectors import catalog

    entries = catalog.all_models()
    cards = [e.as_card() for e in entries]
    todo = [{"id": k.id, "upstream_name": k.upstream_name, "sha256": k.sha256, "size": k.size}
            for k in catalog.importable()]

    def text() -> str:
        rows = [f"{'id':<22} {'task':<17} {'source':<9} {'architecture':<12} calibrated  "
                f"{'EER':>7} {'paired':>7}  input"]
        for c in cards:
            v = validation_summary(c) if c["validation"] else {}
            rows.append(f"{c['id']:<22} {c['task']:<17} {c['source']:<9} {c['architecture']:<12} "
                        f"{'yes' if c['calibration'] else 'no':<11} {_pct(v.get('eer')):>7} "
                        f"{_pct(v.get('paired_eer')):>7}  {_input_text(c)}")
            if c["task"] == "speech-detection":
                rows.append(f"{'':<22} polarity: {c['score_polarity']}")
        if not cards:
            rows.append("(no models)")
        if todo:
            rows.append("importable third-party weights (forensics-app models import FILE):")
            rows += [f"  {t['id']:<20} {t['upstream_name']}  SHA-256 {t['sha256']}" for t in todo]
        return "\n".join(rows)

    base._emit(args, {"models": cards, "importable": todo}, text)
    return base.EXIT_OK


def cmd_models_import(args: argparse.Namespace) -> int:
    from forensics_app.detectors import catalog

    result = catalog.import_model_file(Path(args.file), examiner=getattr(args, "examiner", None))
    payload = {"status": result.status, "message": result.message, "model": result.entry.as_card()}
    base._emit(args, payload, lambda: result.message)
    return base.EXIT_OK


# ----------------------------------------------------------------------------- eval


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.2f} %"


def _bits(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.3f} bits"


def _stats_line(g: dict[str, Any]) -> str:
    line = (f"{g['n_bona']:>5} bona fide {g['n_spoof']:>5} spoof  EER {_pct(g['eer']):>8}  "
            f"min Cllr {_bits(g['min_cllr'])}")
    if g["cllr"] is not None:
        line += f"  Cllr {_bits(g['cllr'])}"
    a = g.get("against_all")
    if a is not None:
        other = "spoof" if g["n_bona"] else "bona fide"
        line += f"  (only one class; against all {a['n_other']} {other}: EER {_pct(a['eer'])}, " \
                f"min Cllr {_bits(a['min_cllr'])})"
    elif g["note"]:
        line += f"  ({g['note']})"
    return line


def _eval_text(payload: dict[str, Any]) -> str:
    m = payload["model"]
    o = payload["overall"]
    rows = [f"model {m['id']} ({m['source']}, SHA-256 {m['sha256'][:16]}…) on {payload['manifest']}",
            f"overall  {_stats_line(o)}"]
    if o["eer_threshold_raw"] is not None:
        rows.append(f"         EER threshold (raw score) {o['eer_threshold_raw']:.4f}")
    if o["at_llr0"] is not None:
        a = o["at_llr0"]
        rows.append(f"         at LLR 0: bona fide called synthetic {_pct(a['bona_fide_as_synthetic'])}, "
                    f"spoof called bona fide {_pct(a['synthetic_as_bona_fide'])}")
    if not payload["calibrated"]:
        rows.append("         (model not calibrated: no Cllr)")
    for col, stats in payload["groups"].items():
        rows.append(f"by {col}:")
        width = max(len(str(g["value"])) for g in stats)
        rows += [f"  {str(g['value']):<{width}}  {_stats_line(g)}" for g in stats]
    if payload["scores_out"]:
        rows.append(f"per-file scores written to {payload['scores_out']}")
    return "\n".join(rows)


def cmd_eval(args: argparse.Namespace) -> int:
    from forensics_app.domain.jobs import ProgressToken
    from forensics_app.training.evaluate import (
        ManifestProblems,
        evaluate,
        read_eval_manifest,
        write_scores,
    )

    by = list(dict.fromkeys(args.by or []))
    scorer = load_scorer(args.model)
    show = not args.json and sys.stderr.isatty()
    try:
        rows = read_eval_manifest(Path(args.manifest), by=by,
                                  progress=ProgressToken(base._stderr_progress("checking") if show else None))
    except ManifestProblems as exc:
        if args.json:
            print(json.dumps({"error": str(exc), "exit_status": base.EXIT_FAILED,
                              "problems": [{"line": line, "path": p, "reason": why}
                                           for line, p, why in exc.problems]}, ensure_ascii=False))
        print(f"forensics-app: error: {exc}", file=sys.stderr)
        return base.EXIT_FAILED
    report = evaluate(rows, score_fn=scorer.score_file, calibration=scorer.calibration, by=by,
                      bands=scorer.bands if scorer.calibration is not None else None,
                      progress=ProgressToken(base._stderr_progress(f"eval {scorer.model_id}") if show else None))
    out = None
    if args.scores_out:
        out = write_scores(Path(args.scores_out), rows, report.raw_scores, calibration=scorer.calibration)
    payload = {"model": {"id": scorer.model_id, "sha256": scorer.sha256, "source": scorer.source},
               "manifest": str(Path(args.manifest)), **report.as_dict(),
               "scores_out": None if out is None else str(out)}
    base._emit(args, payload, lambda: _eval_text(payload))
    return base.EXIT_OK


# --------------------------------------------------------------------------- parser


def register(sub: Any, *, common: argparse.ArgumentParser, who: argparse.ArgumentParser) -> None:
    """Add ``models list``, ``models import`` and ``eval`` to the CLI's subcommands.

    Parameters
    ----------
    sub : argparse._SubParsersAction
        The top-level subparsers of :func:`forensics_app.cli.build_parser`.
    common, who : argparse.ArgumentParser
        Parent parsers giving ``--json`` and ``--examiner``.
    """
    m = sub.add_parser("models", help="list detector models, import third-party weights")
    msub = m.add_subparsers(dest="models_command", required=True)
    c = msub.add_parser("list", help="shipped and imported models, and importable weights", parents=[common])
    c.set_defaults(func=cmd_models_list)
    c = msub.add_parser("import", help="import recognised third-party weights (official AASIST, "
                        "AASIST-L), checked by SHA-256", parents=[common, who])
    c.add_argument("file", help="the weights file, e.g. AASIST.pth")
    c.set_defaults(func=cmd_models_import)

    e = sub.add_parser("eval", help="EER, Cllr and min Cllr of a detector on a labelled manifest",
                       parents=[common])
    e.add_argument("--model", required=True, metavar="ID", help="catalogued model id (see 'models list')")
    e.add_argument("--manifest", required=True, metavar="FILE.csv",
                   help="CSV with columns path,label (bonafide|spoof) and any grouping columns; "
                   "paths relative to the CSV's folder or absolute")
    e.add_argument("--by", action="extend", nargs="+", metavar="COL", default=[],
                   help="also report the figures per value of these columns")
    e.add_argument("--scores-out", metavar="FILE.csv", help="write the per-file scores here")
    e.set_defaults(func=cmd_eval)
