"""The report's comparison sections: reference comparisons, transcript alignments, self-resynthesis.

:func:`comparisons_for_evidence` turns the reported runs of the comparative analyzers on an evidence
item into :class:`~forensics_app.report.model_comparisons.ComparisonItem` entries: the reference
recording (name, evidence id, the SHA-256 the runner verified, and its re-verification for this
report), the departures with times in both recordings and the speaker similarity; the transcript
and its words with their placement and score (flagged words marked); the residual medians per
vocoder and the residual detector's verdict. :func:`attach_figures` then gives each comparison its
alignment and residual figures and notes.

A run is recognised by its analyzer id (:data:`~forensics_app.report.comparison_text.REFERENCE_ANALYZER`
...) or, for other analyzers that follow the same output contract, by what it stored: a
``"reference"`` in its summary, word rows or a ``"words"`` list, residual maps. Everything is read
from the store; malformed values are skipped, and an unreadable series is stated in a note.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from forensics_app.ingest.acquire import EvidenceCheck
from forensics_app.report import comparison_text as text
from forensics_app.report.figures import RunSeries
from forensics_app.report.model import RunItem
from forensics_app.report.model_comparisons import (
    COMPARISON_KINDS,
    ComparisonItem,
    ComparisonRow,
    ReferenceItem,
    VocoderRow,
    WordRow,
)
from forensics_app.report.model_evidence import EvidenceItem, FigureItem, FindingItem
from forensics_app.store.case import CaseStore

#: Departure kinds stated by the reference comparison in ``details["kind"]``.
DEPARTURE_KINDS = ("inserted", "deleted", "replaced", "pause_lengthened", "pause_shortened")
SPEAKER_SERIES = "speaker-similarity"
_VOCODER_IN_LABEL = re.compile(r"\(([^()]+)\)\s*$")


def comparison_kind(run: RunSeries, item: RunItem | None) -> str | None:
    """``"reference"``, ``"transcript"``, ``"resynthesis"`` or None (not a comparison)."""
    by_id = {text.REFERENCE_ANALYZER: "reference", text.TRANSCRIPT_ANALYZER: "transcript",
             text.RESYNTHESIS_ANALYZER: "resynthesis"}
    if run.analyzer_id in by_id:
        return by_id[run.analyzer_id]
    if item is not None and isinstance(item.summary.get("reference"), Mapping):
        return "reference"
    if any(isinstance(f.details.get("words"), list) or any(a.get("row_labels") for a in f.alignments)
           for f in run.findings):
        return "transcript"
    if any(f.alignments for f in run.findings):
        return "reference"
    if any(text.is_residual_map(m) for f in run.findings for m in f.maps):
        return "resynthesis"
    return None


def comparisons_for_evidence(
    store: CaseStore, *, evidence: EvidenceItem, runs: Sequence[RunSeries], run_items: Mapping[int, RunItem],
    checks: Mapping[int, EvidenceCheck],
) -> tuple[ComparisonItem, ...]:
    """The comparisons of one evidence item, in :data:`COMPARISON_KINDS` order then run order.

    Parameters
    ----------
    store : CaseStore
        Series artifacts (speaker similarity) are read from its artifact store.
    evidence : EvidenceItem
        The item with its findings (references F1... assigned).
    runs : sequence of RunSeries
        Its reported runs.
    run_items : mapping of run id to RunItem
        Parameters and summaries of the reported runs.
    checks : mapping of evidence id to EvidenceCheck
        The re-verification made for this report (every evidence item of the case).
    """
    out: list[ComparisonItem] = []
    verdicts = tuple(_row(f, "verdict") for f in evidence.findings if f.label.startswith("Residual detector"))
    for run in runs:
        item = run_items.get(run.run_id)
        kind = comparison_kind(run, item)
        base: dict[str, Any] = {"kind": kind, "run_id": run.run_id, "analyzer_id": run.analyzer_id,
                                "analyzer_version": run.analyzer_version, "analyzer_label": run.analyzer_label}
        if kind == "reference":
            out.append(_reference(store, run, item, checks, base))
        elif kind == "transcript":
            out.append(_transcript(run, item, base))
        elif kind == "resynthesis":
            out.append(_resynthesis(run, verdicts, base))
    out.sort(key=lambda c: COMPARISON_KINDS.index(c.kind))
    return tuple(out)


def attach_figures(
    comparisons: Sequence[ComparisonItem], figures: Sequence[FigureItem], notes: Sequence[tuple[int, str]]
) -> tuple[tuple[ComparisonItem, ...], tuple[FigureItem, ...], tuple[str, ...]]:
    """Give each comparison the figures and notes of its run.

    Returns
    -------
    comparisons : tuple of ComparisonItem
        With ``figures`` (SHA-256 of their PNGs) and ``notes`` filled in.
    figures : tuple of FigureItem
        All the figures, those of the comparisons first, in comparison order (the report shows
        them in that order after the item's other figures).
    notes : tuple of str
        Notes of runs that are not comparisons (shown with the item's figure notes).
    """
    out, ordered = [], []
    runs = {c.run_id for c in comparisons}
    for c in comparisons:
        mine = [f for f in figures if f.run_id == c.run_id]
        ordered.extend(mine)
        out.append(replace(c, figures=tuple(f.sha256 for f in mine),
                           notes=c.notes + tuple(n for rid, n in notes if rid == c.run_id)))
    ordered.extend(f for f in figures if f.run_id not in runs)
    return tuple(out), tuple(ordered), tuple(n for rid, n in notes if rid not in runs)


# --------------------------------------------------------------------------------------------


def _reference(store: CaseStore, run: RunSeries, item: RunItem | None, checks: Mapping[int, EvidenceCheck],
               base: dict[str, Any]) -> ComparisonItem:
    summary = item.summary if item is not None else {}
    ref = summary.get("reference") if isinstance(summary.get("reference"), Mapping) else {}
    reference = None
    if ref:
        eid = ref.get("evidence_id")
        eid = int(eid) if isinstance(eid, int) and not isinstance(eid, bool) else None
        check = checks.get(eid) if eid is not None else None
        reference = ReferenceItem(
            evidence_id=eid, name=str(ref.get("name") or ""), sha256=str(ref.get("sha256") or ""),
            verification=check.state if check is not None else None,
            sha256_matches=(check.expected_sha256 == ref.get("sha256")) if check is not None else None)
    overview = _first(run.findings, lambda f: bool(f.alignments)) or _first(
        run.findings, lambda f: f.label.startswith("Alignment with reference"))
    short = _first(run.findings, lambda f: f.label.startswith("Too little shared material"))
    notes: list[str] = []
    similarity = None
    for f in run.findings:
        for sref in f.series:
            if sref.get("name") == SPEAKER_SERIES and similarity is None:
                try:
                    similarity = _similarity(store.artifacts.get_series(dict(sref)))
                except Exception as exc:  # stated, never fatal
                    notes.append(f"The speaker-similarity lane of {f.ref} could not be read "
                                 f"({type(exc).__name__}: {exc}).")
    speaker = overview.details.get("speaker") if overview else None
    if similarity is None and isinstance(speaker, Mapping) and isinstance(speaker.get("skipped"), str):
        notes.append(f"Speaker similarity was not computed: {speaker['skipped']}.")
    title = "Comparison with a reference recording"
    if reference is not None:
        title = (f"Comparison with reference #{reference.evidence_id} {reference.name}"
                 if reference.evidence_id is not None else f"Comparison with reference {reference.name}")
    return ComparisonItem(
        **base, title=title, explanation=text.REFERENCE_SECTION, reference=reference,
        overview_ref=overview.ref if overview else None, overview=_scalars(overview.details) if overview else None,
        insufficient=_statement(short) if short else "",
        departures=_by_time(_row(f, str(f.details["kind"])) for f in run.findings
                            if f.details.get("kind") in DEPARTURE_KINDS),
        speaker=_by_time(_row(f, "speaker") for f in run.findings if f.label.startswith("Speaker differs")),
        speaker_similarity=similarity, notes=tuple(notes),
    )


def _transcript(run: RunSeries, item: RunItem | None, base: dict[str, Any]) -> ComparisonItem:
    overview = (_first(run.findings, lambda f: isinstance(f.details.get("words"), list))
                or _first(run.findings, lambda f: bool(f.alignments)))
    flagged = [f for f in run.findings if isinstance(f.details.get("word_index"), int) or
               f.label.startswith(("Poorly aligned word", "Implausibly regular prosody"))]
    flags: dict[int, list[str]] = {}
    for f in flagged:
        idx = f.details.get("word_index")
        if isinstance(idx, int) and not isinstance(idx, bool):
            flags.setdefault(idx, []).append(f.ref)
    words = []
    entries = overview.details.get("words") if overview else None
    for i, w in enumerate(entries if isinstance(entries, list) else []):
        if not isinstance(w, Mapping):
            continue
        words.append(WordRow(index=i, word=str(w.get("word", "")), start_s=_num(w.get("start_s")),
                             end_s=_num(w.get("end_s")), alignment_score=_num(w.get("alignment_score")),
                             flags=tuple(flags.get(i, ()))))
    params = item.params if item is not None else {}
    return ComparisonItem(
        **base, title="Transcript alignment", explanation=text.TRANSCRIPT_SECTION,
        overview_ref=overview.ref if overview else None, overview=_scalars(overview.details) if overview else None,
        transcript=str(params.get("transcript") or ""), words=tuple(words),
        word_findings=_by_time(_row(f, "word" if f.label.startswith("Poorly aligned") else
                                    "prosody" if f.label.startswith("Implausibly regular") else "other")
                               for f in flagged),
    )


def _resynthesis(run: RunSeries, verdicts: tuple[ComparisonRow, ...], base: dict[str, Any]) -> ComparisonItem:
    rows: list[VocoderRow] = []
    columns: dict[str, None] = {}
    for f in run.findings:
        residual = [m for m in f.maps if text.is_residual_map(m)]
        if not residual and not f.label.startswith("Self-resynthesis residual"):
            continue
        numeric = {k: _num(v) for k, v in f.details.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
        medians = {k: v for k, v in numeric.items() if "median" in k} or numeric
        columns.update(dict.fromkeys(medians))
        rows.append(VocoderRow(ref=f.ref, vocoder=_vocoder(f, residual), medians=medians))
    return ComparisonItem(**base, title="Self-resynthesis", explanation=text.RESYNTHESIS_SECTION,
                          vocoder_columns=tuple(columns), vocoders=tuple(rows), verdicts=verdicts)


def _vocoder(f: FindingItem, residual: Sequence[Mapping[str, Any]]) -> str:
    named = f.details.get("vocoder")
    if isinstance(named, str) and named:
        return named
    match = _VOCODER_IN_LABEL.search(f.label)
    if match:
        return match.group(1)
    if residual:
        return str(residual[0].get("name", ""))[len(text.RESIDUAL_MAP_PREFIX):]
    return f.label


def _similarity(series: Any) -> dict[str, Any] | None:
    values = np.asarray(series.values, dtype=np.float64)
    finite = np.isfinite(values)
    if not finite.any():
        return None
    v, t = values[finite], np.asarray(series.times_s, dtype=np.float64)[finite]
    i = int(np.argmin(v))
    return {"unit": series.unit, "segments": int(v.size), "median": float(np.median(v)),
            "minimum": float(v[i]), "minimum_at_s": float(t[i])}


def _row(f: FindingItem, kind: str) -> ComparisonRow:
    return ComparisonRow(ref=f.ref, label=f.label, kind=kind, fake_likelihood=f.fake_likelihood,
                         start_s=f.start_s, end_s=f.end_s,
                         reference_start_s=_num(f.details.get("reference_start_s")),
                         reference_end_s=_num(f.details.get("reference_end_s")),
                         note=text.explanation_of(f.details) or "")


def _by_time(rows: Iterable[ComparisonRow]) -> tuple[ComparisonRow, ...]:
    return tuple(sorted(rows, key=lambda r: (r.start_s is None, r.start_s or 0.0, r.ref)))


def _statement(f: FindingItem) -> str:
    """The finding's label with its explanation, else with its scalar measurements."""
    said = text.explanation_of(f.details)
    if said:
        return f"{f.label} ({f.ref}): {said}"
    figures = "; ".join(f"{k} {v:.6g}" if isinstance(v, float) else f"{k} {v}"
                        for k, v in _scalars(f.details).items())
    return f"{f.label} ({f.ref})" + (f": {figures}." if figures else ".")


def _scalars(details: Mapping[str, Any]) -> dict[str, Any]:
    """The scalar measurements of a finding's details (no lists or mappings, no explanation texts)."""
    return {str(k): v for k, v in details.items()
            if not str(k).endswith("explanation") and (v is None or isinstance(v, (bool, int, float, str)))}


def _first(findings: Sequence[FindingItem], test: Any) -> FindingItem | None:
    return next((f for f in findings if test(f)), None)


def _num(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None
