"""Report content: comparisons of a questioned recording with a reference, a transcript, or itself.

Part of :mod:`forensics_app.report.model` (plain frozen values, JSON-safe). One
:class:`ComparisonItem` per reported run of a comparative analysis on an evidence item:

- ``"reference"``: the questioned recording aligned with a known genuine recording (a second
  evidence item of the case), with the departures from a straight alignment path (times in both
  recordings) and the speaker similarity along it;
- ``"transcript"``: a transcript typed by the investigator aligned with the recording, word by word;
- ``"resynthesis"``: the recording re-vocoded by local vocoders and compared with itself (residual
  medians per vocoder, and the residual detector's verdict when it ran).

Times are seconds from the start of the questioned evidence unless named ``reference_*`` (seconds
from the start of the reference recording).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

#: The comparison kinds, in the order the report shows them.
COMPARISON_KINDS = ("reference", "transcript", "resynthesis")


@dataclass(frozen=True)
class ReferenceItem:
    """The evidence item a questioned recording was compared with.

    Attributes
    ----------
    evidence_id : int or None
        Its id in the case (None when the run did not record it).
    name : str
        Its original file name as recorded by the run.
    sha256 : str
        SHA-256 of the reference copy that the runner verified and decoded for the comparison.
    verification : str or None
        Result of the re-verification made for this report (``"verified"``, ``"mismatch"``,
        ``"missing"``); None when the item is no longer in the case.
    sha256_matches : bool or None
        Whether ``sha256`` equals the SHA-256 recorded for that evidence item at acquisition (None
        when the item is no longer in the case).
    """

    evidence_id: int | None
    name: str
    sha256: str
    verification: str | None = None
    sha256_matches: bool | None = None


@dataclass(frozen=True)
class ComparisonRow:
    """One finding of a comparison as a table row.

    Attributes
    ----------
    ref : str
        The finding's reference in the report (``"F3"``).
    label : str
        The analyzer's statement.
    kind : str
        ``"inserted"``, ``"deleted"``, ``"replaced"`` (departures), ``"speaker"`` (speaker differs),
        ``"word"`` (poorly aligned word), ``"prosody"`` (implausibly regular prosody),
        ``"verdict"`` (residual detector) or ``"other"``.
    fake_likelihood : float or None
        FakeLikelihood in [0, 1] (higher = more likely manipulated), None when descriptive.
    start_s, end_s : float or None
        Span in the questioned recording (s); a deletion has ``start_s == end_s`` at the cut.
    reference_start_s, reference_end_s : float or None
        Span in the reference recording (s), when the analyzer states it.
    note : str
        The analyzer's plain-language explanation of the finding ("" when it gives none).
    """

    ref: str
    label: str
    kind: str
    fake_likelihood: float | None
    start_s: float | None
    end_s: float | None
    reference_start_s: float | None = None
    reference_end_s: float | None = None
    note: str = ""


@dataclass(frozen=True)
class WordRow:
    """One word of a transcript alignment.

    Attributes
    ----------
    index : int
        Position in the transcript, from 0.
    word : str
        The word as typed.
    start_s, end_s : float or None
        Where the word was placed in the questioned recording (s).
    alignment_score : float or None
        The analyzer's alignment score of the word (higher = better aligned).
    flags : tuple of str
        References of the findings that flag this word (``"F4"``...); empty when not flagged.
    """

    index: int
    word: str
    start_s: float | None
    end_s: float | None
    alignment_score: float | None
    flags: tuple[str, ...] = ()

    @property
    def flagged(self) -> bool:
        """True when a finding flags the word."""
        return bool(self.flags)


@dataclass(frozen=True)
class VocoderRow:
    """Self-resynthesis residual medians through one vocoder.

    Attributes
    ----------
    ref : str
        The per-vocoder finding's reference (``"F2"``).
    vocoder : str
        The vocoder's name (``"world"``, ``"griffinlim"``, ``"lpc"``, ``"neural"``).
    medians : dict
        The medians of each residual statistic, keyed as the analyzer names them (the numeric
        details whose key contains "median", else all numeric details).
    """

    ref: str
    vocoder: str
    medians: Mapping[str, float | None]


@dataclass(frozen=True)
class ComparisonItem:
    """One reported run of a comparative analysis on an evidence item.

    Attributes
    ----------
    kind : str
        One of :data:`COMPARISON_KINDS`.
    title : str
        Heading, e.g. ``"Comparison with reference #2 broadcast.wav"``.
    run_id : int
    analyzer_id, analyzer_version, analyzer_label : str
        Provenance.
    explanation : str
        What the comparison does, what its tables and figures show and what they cannot show.
    reference : ReferenceItem or None
        The reference recording (kind ``"reference"``).
    overview_ref : str or None
        Reference of the overview finding (alignment with the reference, transcript alignment).
    overview : dict
        The overview finding's measurements (slope, coverage, shared material in s...), without
        the per-word list.
    insufficient : str
        The analyzer's statement when the recordings share too little material to compare ("" when
        they could be compared).
    departures : tuple of ComparisonRow
        Inserted, deleted and replaced spans, with times in both recordings.
    speaker : tuple of ComparisonRow
        Spans where the speaker differs from the reference.
    speaker_similarity : dict or None
        Summary of the per-segment speaker similarity lane: ``{"unit", "segments", "median",
        "minimum", "minimum_at_s"}`` (None when the run stored no such lane).
    transcript : str
        The transcript as typed (kind ``"transcript"``).
    words : tuple of WordRow
        The transcript's words with their placement and alignment score.
    word_findings : tuple of ComparisonRow
        Poorly aligned words and implausibly regular prosody.
    vocoder_columns : tuple of str
        The statistics shown per vocoder (keys of ``VocoderRow.medians``), in table order.
    vocoders : tuple of VocoderRow
        Residual medians per vocoder (kind ``"resynthesis"``).
    verdicts : tuple of ComparisonRow
        The residual detector's verdict(s), when it ran.
    figures : tuple of str
        SHA-256 of the figures drawn for this comparison (alignment and residual figures of the
        evidence item's ``figures``).
    notes : tuple of str
        What could not be read or drawn, with the reason.
    """

    kind: str
    title: str
    run_id: int
    analyzer_id: str
    analyzer_version: str
    analyzer_label: str
    explanation: str
    reference: ReferenceItem | None = None
    overview_ref: str | None = None
    overview: Mapping[str, Any] | None = None
    insufficient: str = ""
    departures: tuple[ComparisonRow, ...] = ()
    speaker: tuple[ComparisonRow, ...] = ()
    speaker_similarity: Mapping[str, Any] | None = None
    transcript: str = ""
    words: tuple[WordRow, ...] = ()
    word_findings: tuple[ComparisonRow, ...] = ()
    vocoder_columns: tuple[str, ...] = ()
    vocoders: tuple[VocoderRow, ...] = ()
    verdicts: tuple[ComparisonRow, ...] = ()
    figures: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
