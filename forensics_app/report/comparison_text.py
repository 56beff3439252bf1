"""Plain-language texts of the report's comparisons: what each map and table shows and cannot show.

The comparative analyses (reference comparison, transcript alignment, self-resynthesis) are read
by people who are not signal-processing specialists. Their figures and report sections carry these
fixed texts, keyed by analyzer id; an analyzer may add its own explanation of a finding in
``details["explanation"]``, which the captions then use in place of the fixed "what it shows"
text. The "what it cannot show" texts are always stated.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

REFERENCE_ANALYZER = "audio.reference_comparison"
TRANSCRIPT_ANALYZER = "audio.transcript_alignment"
RESYNTHESIS_ANALYZER = "audio.self_resynthesis"

#: Prefix of the names of self-resynthesis residual maps (``"resynthesis-residual-<vocoder>"``).
RESIDUAL_MAP_PREFIX = "resynthesis-residual-"

REFERENCE_MAP_SHOWS = (
    "Each cell compares a short frame of the questioned recording (horizontal axis) with a short frame "
    "of the reference recording (vertical axis); bright cells are similar. The line is the alignment "
    "path through the map. A straight diagonal means the same material in the same order (its slope "
    "is the speed of one recording against the other: 1 for the same speed). A horizontal run of the "
    "path (questioned time advancing while reference time stands still) marks material that is only in "
    "the questioned recording (inserted); a vertical jump marks reference material that is missing from "
    "it (deleted); a stretch where the path leaves the bright diagonal marks material that differs "
    "(replaced)."
)
REFERENCE_MAP_CANNOT = (
    "The map cannot say which of the two recordings is the original, who edited either of them or "
    "why, and a departure can also come from a difference in the recording itself (noise, a dropout, "
    "a cough, a different microphone) rather than an edit."
)
TRANSCRIPT_MAP_SHOWS = (
    "Each row is a word of the typed transcript (the first word at the bottom), each column a moment of "
    "the questioned recording; bright cells mark where a local synthetic rendering of the word "
    "(espeak-ng) matches the recording. The line is the alignment path and the white bars mark where "
    "each word was placed. A faithful reading of the transcript gives a clean staircase rising from "
    "left to right; a word whose row is dim, smeared or off that staircase aligned poorly."
)
TRANSCRIPT_MAP_CANNOT = (
    "The map shows where each typed word was found, not who spoke it, and not whether the speech is "
    "genuine; a poor alignment can also come from an error in the transcript, an accent, noise or "
    "overlapping speech."
)
RESIDUAL_LOGIC = (
    "Speech that has already been through a vocoder sits near a fixed point of similar vocoders and "
    "changes little when it is re-vocoded; natural speech changes more. Low residuals over the speech "
    "are therefore consistent with earlier vocoding."
)
RESIDUAL_SHOWS = (
    "Self-resynthesis: the questioned audio was passed through local analysis-synthesis vocoders, each "
    "output was aligned with the input to the sample, and the change of level per frequency band and "
    "frame is drawn in dB (dark: little change; bright: large change). " + RESIDUAL_LOGIC
)
RESIDUAL_CANNOT = (
    "The residual cannot tell which vocoder or system produced the speech, nor prove that one did: "
    "codecs, band limiting, noise and reverberation also change it, and silent or very quiet frames "
    "carry no information."
)

REFERENCE_SECTION = (
    "The questioned recording was aligned with a recording that the investigator marked as a known "
    "genuine reference. Where both carry the same material in the same order the alignment path is a "
    "straight diagonal; the departures listed below are spans where it is not: material present only in "
    "the questioned recording (inserted), reference material missing from it (deleted: a cut at one "
    "instant of the questioned recording), or material that differs (replaced), with times in both "
    "recordings. Speaker similarity compares the two voices segment by segment with an offline speaker "
    "encoder. " + REFERENCE_MAP_CANNOT
)
TRANSCRIPT_SECTION = (
    "The transcript typed by the investigator was rendered locally as synthetic speech (espeak-ng) and "
    "aligned with the questioned recording word by word. The table gives where each typed word was "
    "placed in the recording and how well it aligned (alignment score: higher is better); words that "
    "the analyzer flagged are marked. " + TRANSCRIPT_MAP_CANNOT
)
RESYNTHESIS_SECTION = (
    "The questioned recording was re-vocoded with local analysis-synthesis vocoders and each output "
    "was compared with the input. Speech that already went through a vocoder sits near a fixed point "
    "and changes little when re-vocoded; natural speech changes more. The table gives the median "
    "residual statistics per vocoder (lower: the recording changed less). " + RESIDUAL_CANNOT
)


def explanation_of(details: Mapping[str, Any]) -> str | None:
    """The analyzer's own plain-language explanation of a finding (``details["explanation"]``)."""
    value = details.get("explanation")
    return value.strip() if isinstance(value, str) and value.strip() else None


def is_residual_map(ref: Mapping[str, Any]) -> bool:
    """True for a stored map reference of a self-resynthesis residual heatmap.

    The name is the prefix plus one round-trip id (``"resynthesis-residual-world"``); explanation
    maps of the residual *detector* (``"resynthesis-residual-v1 explanation"``) are not residual
    heatmaps of the recording and are drawn with the other explanation maps.
    """
    name = str(ref.get("name", ""))
    rest = name[len(RESIDUAL_MAP_PREFIX):]
    return name.startswith(RESIDUAL_MAP_PREFIX) and bool(rest) and all(c.isalnum() or c in "_." for c in rest)


def alignment_texts(analyzer_id: str, *, word_rows: bool) -> tuple[str, str]:
    """(what the attention map shows, what it cannot show): by analyzer id, else by the kind of rows."""
    if analyzer_id == TRANSCRIPT_ANALYZER or (word_rows and analyzer_id != REFERENCE_ANALYZER):
        return TRANSCRIPT_MAP_SHOWS, TRANSCRIPT_MAP_CANNOT
    return REFERENCE_MAP_SHOWS, REFERENCE_MAP_CANNOT
