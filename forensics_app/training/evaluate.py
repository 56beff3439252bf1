"""Evaluate a detector on a labelled manifest of recordings: EER, Cllr, min Cllr, per group.

The manifest is a CSV with at least the columns ``path`` and ``label`` (``bonafide`` or
``spoof``, any case); paths are relative to the manifest's folder or absolute. Any other column
can group the figures (``--by generator``, ``--by channel``, ...). :func:`read_eval_manifest`
checks everything before anything is scored and reports *all* offending rows in one error;
:func:`evaluate` scores every file with the caller's function (for a catalogued detector: the
mean window raw score of the file) and computes the figures overall and per group value;
:func:`write_scores` writes the per-file scores.
"""

from __future__ import annotations

import csv
import math
import os
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from forensics_app.domain.errors import Cancelled, ForensicsError, NotFound
from forensics_app.domain.jobs import Progress
from forensics_app.domain.media import MediaKind
from forensics_app.training import metrics
from forensics_app.training.calibration import (
    INCONCLUSIVE,
    SUPPORTS_BONA_FIDE,
    SUPPORTS_SYNTHETIC,
    Bands,
    Calibration,
)

__all__ = [
    "EvalRow", "ManifestProblems", "GroupStats", "EvalReport", "read_eval_manifest", "evaluate",
    "write_scores", "LABELS", "MAX_LISTED",
]

LABELS = ("bonafide", "spoof")
#: Problems listed in the error message; the rest are counted.
MAX_LISTED = 50


@dataclass(frozen=True)
class EvalRow:
    """One checked manifest row.

    Attributes
    ----------
    line : int
        Line of the CSV file (the header is line 1).
    path : Path
        The recording (absolute).
    label : str
        ``"bonafide"`` or ``"spoof"``.
    groups : Mapping[str, str]
        Values of the ``by`` columns.
    """

    line: int
    path: Path
    label: str
    groups: Mapping[str, str] = field(default_factory=dict)

    @property
    def is_spoof(self) -> bool:
        """Whether the row is labelled spoof."""
        return self.label == "spoof"


class ManifestProblems(ForensicsError):
    """An evaluation manifest has offending rows; ``problems`` lists (line, path, reason)."""

    def __init__(self, manifest: Path, problems: Sequence[tuple[int | None, str, str]]) -> None:
        self.manifest = manifest
        self.problems = list(problems)
        lines = []
        for line, path, reason in self.problems[:MAX_LISTED]:
            where = "manifest" if line is None else f"line {line}"
            lines.append(f"  {where}: {path + ': ' if path else ''}{reason}")
        more = len(self.problems) - MAX_LISTED
        if more > 0:
            lines.append(f"  ... and {more} more problem(s)")
        super().__init__(f"{manifest}: {len(self.problems)} problem(s) in the evaluation manifest; "
                         f"nothing was scored:\n" + "\n".join(lines))


def _file_problem(path: Path) -> str | None:
    """Why ``path`` cannot be evaluated, or None when it is readable, decodable audio."""
    from forensics_app.ingest.probe import probe

    if not path.exists():
        return "file not found"
    if path.is_dir():
        return "is a folder, not a file"
    if not os.access(path, os.R_OK):
        return "not readable (permission denied)"
    try:
        result = probe(path)
    except Cancelled:
        raise
    except ForensicsError as exc:
        return f"cannot be decoded ({exc})"
    if result.kind is not MediaKind.AUDIO:
        return f"is {result.kind.value}, not audio"
    return None


def _read_csv(path: Path) -> tuple[list[str], list[tuple[int, list[str]]]]:
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            reader = csv.reader(fh)
            header = next(reader, None)
            rows = [(reader.line_num, r) for r in reader]
    except FileNotFoundError as exc:
        raise NotFound(f"{path}: no such evaluation manifest") from exc
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise ForensicsError(f"{path}: cannot be read as a UTF-8 CSV file ({exc})") from exc
    if header is None:
        raise ForensicsError(f"{path}: the evaluation manifest is empty (expected a header with "
                             "'path' and 'label')")
    return [h.strip() for h in header], rows


def read_eval_manifest(path: Path, *, by: Sequence[str] = (), check_files: bool = True,
                       progress: Progress | None = None) -> list[EvalRow]:
    """Read and check an evaluation manifest.

    Parameters
    ----------
    path : Path
        The CSV file.
    by : sequence of str
        Columns the figures will be grouped by; each must be in the header.
    check_files : bool
        Probe every file (exists, readable, decodes as audio). Only tests of the parsing turn
        this off.
    progress : Progress, optional
        Reports the probing and is checked between files.

    Returns
    -------
    list of EvalRow
        In file order (blank lines skipped).

    Raises
    ------
    NotFound
        The manifest does not exist.
    ManifestProblems
        Every offending row at once (line, path, reason): missing header columns, wrong field
        count, bad label, empty path or group value, missing / unreadable / undecodable file,
        and a missing class.
    """
    path = Path(path)
    header, raw_rows = _read_csv(path)
    problems: list[tuple[int | None, str, str]] = []
    dupes = sorted({h for h in header if header.count(h) > 1})
    if dupes:
        problems.append((1, "", f"column(s) {', '.join(dupes)} appear more than once in the header"))
    for col in ("path", "label", *by):
        if col not in header:
            problems.append((1, "", f"the header has no column {col!r} (columns: {', '.join(header)})"))
    if problems:
        raise ManifestProblems(path, problems)
    i_path, i_label = header.index("path"), header.index("label")
    i_by = {col: header.index(col) for col in by}
    rows: list[EvalRow] = []
    counts = dict.fromkeys(LABELS, 0)
    data_rows = [(line, r) for line, r in raw_rows if any(c.strip() for c in r)]
    for k, (line, r) in enumerate(data_rows):
        if progress is not None:
            progress.check()
        if len(r) != len(header):
            problems.append((line, r[i_path].strip() if len(r) > i_path else "",
                             f"has {len(r)} field(s), the header has {len(header)}"))
            continue
        rel = r[i_path].strip()
        label = r[i_label].strip().lower()
        reasons = []
        if label in counts:
            counts[label] += 1
        else:
            reasons.append(f"label {r[i_label].strip()!r} is not 'bonafide' or 'spoof'")
        groups = {col: r[i].strip() for col, i in i_by.items()}
        reasons += [f"empty value in column {col!r}" for col, v in groups.items() if not v]
        file = None
        if not rel:
            reasons.append("empty path")
        else:
            file = Path(rel).expanduser()
            file = file if file.is_absolute() else path.parent / file
            if check_files:
                why = _file_problem(file)
                if why:
                    reasons.append(why)
        if reasons:
            problems.append((line, rel, "; ".join(reasons)))
        elif file is not None:
            rows.append(EvalRow(line=line, path=file.resolve(), label=label, groups=groups))
        if progress is not None:
            progress.report((k + 1) / len(data_rows), f"checked {k + 1} of {len(data_rows)} files")
    for label, name in (("bonafide", "bona fide"), ("spoof", "spoof")):
        if counts[label] == 0:
            problems.append((None, "", f"no {name} rows: the figures need both classes "
                             f"({counts['bonafide']} bonafide, {counts['spoof']} spoof rows)"))
    if problems:
        raise ManifestProblems(path, problems)
    return rows


@dataclass(frozen=True)
class GroupStats:
    """Figures of one set of rows (everything, or one value of one ``by`` column).

    Attributes
    ----------
    column, value : str or None
        The grouping (None, None for the overall figures).
    n_bona, n_spoof : int
        Items per class.
    eer : float or None
        Equal error rate of the raw scores (None when a class is missing).
    eer_threshold_raw : float or None
        Raw score at the EER.
    min_cllr : float or None
        Minimum Cllr in bits (PAV; discrimination only).
    cllr : float or None
        Cllr in bits of the calibrated LLRs (None without calibration or with one class).
    at_llr0 : dict or None
        With calibration: share of bona fide items with LLR >= 0 and of spoofs with LLR < 0
        (the equal-prior Bayes decision); a class that is absent gives None.
    verdicts : dict or None
        With bands: per class, the share of each verdict.
    note : str or None
        Why figures are missing (e.g. only one class in the group).
    against_all : dict or None
        For a group with one class only (e.g. one spoof generator): ``eer``,
        ``eer_threshold_raw``, ``min_cllr``, ``cllr`` and ``n_other`` of the group's items
        against *all* items of the other class in the manifest (the usual per-attack EER).
    """

    column: str | None
    value: str | None
    n_bona: int
    n_spoof: int
    eer: float | None
    eer_threshold_raw: float | None
    min_cllr: float | None
    cllr: float | None
    at_llr0: dict[str, float | None] | None
    verdicts: dict[str, dict[str, float] | None] | None
    note: str | None
    against_all: dict[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON form (field names as keys)."""
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


@dataclass(frozen=True)
class EvalReport:
    """Figures of an evaluation.

    Attributes
    ----------
    overall : GroupStats
    groups : dict of str to list of GroupStats
        Per ``by`` column, one entry per value (sorted).
    raw_scores : np.ndarray
        Shape (n_rows,), the per-file raw fake scores in row order.
    llr : np.ndarray or None
        Shape (n_rows,), calibrated LLRs (nats) when a calibration was given.
    """

    overall: GroupStats
    groups: dict[str, list[GroupStats]]
    raw_scores: np.ndarray
    llr: np.ndarray | None

    def as_dict(self) -> dict[str, Any]:
        """JSON form (without the per-file scores; see :func:`write_scores`)."""
        return {"overall": self.overall.as_dict(),
                "groups": {col: [g.as_dict() for g in stats] for col, stats in self.groups.items()},
                "n_files": int(self.raw_scores.size), "calibrated": self.llr is not None}


def _verdict_shares(llr: np.ndarray, bands: Bands) -> dict[str, float] | None:
    if llr.size == 0:
        return None
    v = bands.verdicts(llr)
    return {name: float(np.mean(v == name)) for name in (SUPPORTS_SYNTHETIC, INCONCLUSIVE, SUPPORTS_BONA_FIDE)}


def _pair_figures(rb: np.ndarray, rs: np.ndarray, lb: np.ndarray | None,
                  ls: np.ndarray | None) -> dict[str, float | None]:
    eer, thr = metrics.eer(rb, rs)
    return {"eer": eer, "eer_threshold_raw": thr, "min_cllr": metrics.min_cllr(rb, rs),
            "cllr": None if lb is None or ls is None else metrics.cllr(lb, ls)}


def _group_stats(column: str | None, value: str | None, sel: np.ndarray, is_spoof: np.ndarray,
                 raw: np.ndarray, llr: np.ndarray | None, bands: Bands | None) -> GroupStats:
    """Figures of the rows ``sel`` (boolean mask over all rows)."""
    b_sel, s_sel = sel & ~is_spoof, sel & is_spoof
    rb, rs = raw[b_sel], raw[s_sel]
    lb: np.ndarray | None = None
    ls: np.ndarray | None = None
    if llr is not None:
        lb, ls = llr[b_sel], llr[s_sel]
    fig: dict[str, float | None] = dict.fromkeys(("eer", "eer_threshold_raw", "min_cllr", "cllr"))
    note = against = None
    if rb.size and rs.size:
        fig = _pair_figures(rb, rs, lb, ls)
    else:
        only, other = ("bona fide", "spoof") if rb.size else ("spoof", "bona fide")
        note = f"only {only} items: no EER within the group"
        o_sel = is_spoof if rb.size else ~is_spoof
        if o_sel.any():
            lo = None if llr is None else llr[o_sel]
            against = (_pair_figures(rb, raw[o_sel], lb, lo) if rb.size
                       else _pair_figures(raw[o_sel], rs, lo, ls))
            against["n_other"] = int(o_sel.sum())
            note += f"; 'against_all' compares them with all {other} items"
    at0 = verdicts = None
    if lb is not None and ls is not None:
        at0 = {"bona_fide_as_synthetic": float(np.mean(lb >= 0.0)) if lb.size else None,
               "synthetic_as_bona_fide": float(np.mean(ls < 0.0)) if ls.size else None}
        if bands is not None:
            verdicts = {"bonafide": _verdict_shares(lb, bands), "spoof": _verdict_shares(ls, bands)}
    return GroupStats(column, value, int(rb.size), int(rs.size), fig["eer"], fig["eer_threshold_raw"],
                      fig["min_cllr"], fig["cllr"], at0, verdicts, note, against)


def _in_context(exc: ForensicsError, message: str) -> ForensicsError:
    """The same kind of error with a message naming the file (ForensicsError if it cannot be)."""
    try:
        return type(exc)(message)
    except TypeError:
        return ForensicsError(message)


def evaluate(rows: Sequence[EvalRow], *, score_fn: Callable[[Path], float],
             calibration: Calibration | None = None, by: Sequence[str] = (),
             bands: Bands | None = None, progress: Progress | None = None) -> EvalReport:
    """Score every row and compute the figures overall and per group.

    Parameters
    ----------
    rows : sequence of EvalRow
        From :func:`read_eval_manifest` (both classes present).
    score_fn : callable
        ``score_fn(path) -> float``: the file's raw fake score (higher = more synthetic).
    calibration : Calibration, optional
        Turns raw scores into LLRs for Cllr, the LLR-0 error rates and the verdict shares.
    by : sequence of str
        ``groups`` keys of the rows to break the figures down by.
    bands : Bands, optional
        Verdict thresholds (needs ``calibration``) for the verdict shares.
    progress : Progress, optional
        Reports per file; checked before each file (raises Cancelled).

    Returns
    -------
    EvalReport

    Raises
    ------
    ForensicsError
        A file could not be scored or its score is not finite (the file and line are named).
    """
    if not rows:
        raise ForensicsError("nothing to evaluate: the manifest has no rows")
    raw = np.empty(len(rows), dtype=np.float64)
    for k, row in enumerate(rows):
        if progress is not None:
            progress.check()
        try:
            value = float(score_fn(row.path))
        except Cancelled:
            raise
        except ForensicsError as exc:
            raise _in_context(exc, f"scoring {row.path} (manifest line {row.line}) failed: {exc}") from exc
        if not math.isfinite(value):
            raise ForensicsError(f"scoring {row.path} (manifest line {row.line}) gave {value}")
        raw[k] = value
        if progress is not None:
            progress.report((k + 1) / len(rows), f"scored {k + 1} of {len(rows)}: {row.path.name}")
    is_spoof = np.array([r.is_spoof for r in rows], dtype=bool)
    llr = None if calibration is None else np.asarray(calibration.llr(raw), dtype=np.float64)
    overall = _group_stats(None, None, np.ones_like(is_spoof), is_spoof, raw, llr, bands)
    groups: dict[str, list[GroupStats]] = {}
    for col in by:
        values = np.array([r.groups[col] for r in rows], dtype=object)
        groups[col] = [_group_stats(col, v, values == v, is_spoof, raw, llr, bands)
                       for v in sorted(set(values.tolist()))]
    return EvalReport(overall=overall, groups=groups, raw_scores=raw, llr=llr)


def write_scores(path: Path, rows: Sequence[EvalRow], scores: np.ndarray, *,
                 calibration: Calibration | None = None) -> Path:
    """Write the per-file scores as CSV.

    Columns: ``path`` (absolute), ``label``, ``raw_score``, ``llr`` and ``fake_likelihood``
    (empty without calibration), then the ``by`` columns of the rows. Written to a temporary
    file and renamed into place.

    Returns
    -------
    Path
        ``path``.
    """
    path = Path(path)
    scores = np.asarray(scores, dtype=np.float64).ravel()
    if scores.size != len(rows):
        raise ValueError(f"{len(rows)} rows but {scores.size} scores")
    by = list(rows[0].groups) if rows else []
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o644)
        with os.fdopen(fd, "w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh)
            w.writerow(["path", "label", "raw_score", "llr", "fake_likelihood", *by])
            for row, s in zip(rows, scores, strict=True):
                if calibration is None:
                    llr = fl = ""
                else:
                    llr = f"{calibration.llr(float(s)):.6f}"
                    fl = f"{calibration.fake_likelihood(float(s)):.6f}"
                w.writerow([str(row.path), row.label, f"{s:.6f}", llr, fl, *(row.groups[c] for c in by)])
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
