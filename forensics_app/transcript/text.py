"""The investigator's transcript: validation, normalisation and word segmentation.

The text is typed (or pasted) by a person, so it is checked before anything reads it aloud:

* it must be a string holding at least one word (a run of non-space characters with a letter or a
  digit in it); punctuation-only tokens ("--", "...") stay in the text, where they shape the
  synthetic prosody, but are not words;
* at most :data:`MAX_CHARS` characters and :data:`MAX_WORDS` words (a few minutes of speech; the
  alignment's memory grows with the product of the transcript's and the recording's lengths);
* no control characters other than tabs and line breaks (which become spaces), no bidirectional
  overrides or other invisible format characters (they could make the text shown differ from the
  text spoken), no emoji or other pictographs, private-use or unassigned code points: such
  characters cannot be read aloud, and each raises :class:`AnalyzerError` naming the character
  and its position. Harmless invisible characters that pasted text often carries (soft hyphen,
  zero-width space and joiners, byte-order mark) are dropped.

The text is never passed through a shell: :mod:`.render` hands it to libespeak-ng in memory.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from forensics_app.domain.errors import AnalyzerError

#: Longest transcript accepted (characters, after normalisation).
MAX_CHARS = 5000
#: Most words accepted (about four minutes of read speech).
MAX_WORDS = 700
#: Longest single word accepted (characters).
MAX_WORD_CHARS = 48

_DROPPED = {"\u00ad", "\u200b", "\u200c", "\u200d", "\u2060", "\ufeff"}
_WHITESPACE_CONTROLS = {"\t", "\n", "\r", "\x0b", "\x0c"}
_TOKEN = re.compile(r"\S+")


@dataclass(frozen=True)
class Word:
    """One word of the transcript.

    Attributes
    ----------
    label : str
        The word as typed, without the punctuation around it (``"Smith's"`` from ``"Smith's,"``).
    char_start, char_end : int
        Span of the whole token (punctuation included) in :attr:`Transcript.text`, end exclusive.
    """

    label: str
    char_start: int
    char_end: int


@dataclass(frozen=True)
class Transcript:
    """A validated transcript.

    Attributes
    ----------
    text : str
        The normalised text (NFC, single spaces) that is synthesised.
    words : tuple of Word
        Its words in reading order.
    """

    text: str
    words: tuple[Word, ...]

    @property
    def labels(self) -> tuple[str, ...]:
        """The words' labels."""
        return tuple(w.label for w in self.words)


def _describe(ch: str) -> str:
    name = unicodedata.name(ch, "")
    return f"U+{ord(ch):04X}" + (f" {name}" if name else "")


def _check_characters(text: str) -> str:
    """Drop harmless invisible characters, turn line breaks into spaces, refuse the rest."""
    out: list[str] = []
    for i, ch in enumerate(text):
        if ch in _DROPPED:
            continue
        if ch in _WHITESPACE_CONTROLS:
            out.append(" ")
            continue
        cat = unicodedata.category(ch)
        if cat == "Cc":
            raise AnalyzerError(f"the transcript holds a control character ({_describe(ch)}) at position {i}; "
                                "remove it and type the text again")
        if cat == "Cf":
            raise AnalyzerError(f"the transcript holds an invisible format character ({_describe(ch)}) at "
                                f"position {i}, which can make the text shown differ from the text read; remove it")
        if cat in {"Cs", "Co", "Cn"}:
            raise AnalyzerError(f"the transcript holds a character that is not text ({_describe(ch)}) at position {i}")
        if cat == "So":
            raise AnalyzerError(f"the transcript holds a symbol that cannot be read aloud ({_describe(ch)}) at "
                                f"position {i}; write it out in words")
        out.append(ch)
    return "".join(out)


def _strip_punctuation(token: str) -> str:
    """The token without leading and trailing punctuation (inner apostrophes and hyphens stay)."""
    start, end = 0, len(token)
    while start < end and not token[start].isalnum():
        start += 1
    while end > start and not token[end - 1].isalnum():
        end -= 1
    return token[start:end]


def parse_transcript(text: object) -> Transcript:
    """Validate and segment a transcript.

    Parameters
    ----------
    text : str
        The transcript as typed by the investigator.

    Returns
    -------
    Transcript
        The normalised text and its words.

    Raises
    ------
    AnalyzerError
        The transcript is not text, is empty, too long, holds no speakable word, a word longer
        than :data:`MAX_WORD_CHARS`, or a character that cannot be read aloud (see the module
        docstring); the message says which and where.
    """
    if not isinstance(text, str):
        raise AnalyzerError(f"the transcript must be text, got {type(text).__name__}")
    raw = unicodedata.normalize("NFC", text)
    if len(raw) > 4 * MAX_CHARS:
        raise AnalyzerError(f"the transcript is too long ({len(raw)} characters; at most {MAX_CHARS}): "
                            "align a shorter passage")
    clean = " ".join(_check_characters(raw).split())
    if not clean:
        raise AnalyzerError("the transcript is empty: type the words spoken in the recording")
    if len(clean) > MAX_CHARS:
        raise AnalyzerError(f"the transcript is too long ({len(clean)} characters; at most {MAX_CHARS}): "
                            "align a shorter passage")
    words: list[Word] = []
    for m in _TOKEN.finditer(clean):
        label = _strip_punctuation(m.group())
        if not label:
            continue  # punctuation only: shapes the prosody, is not a word
        if len(label) > MAX_WORD_CHARS:
            raise AnalyzerError(f"the transcript holds a {len(label)}-character word at position {m.start()} "
                                f"({label[:20]}...); words longer than {MAX_WORD_CHARS} characters cannot be read")
        words.append(Word(label=label, char_start=m.start(), char_end=m.end()))
    if not words:
        raise AnalyzerError(f"the transcript {clean[:40]!r} holds no word that can be read aloud "
                            "(no letter or digit)")
    if len(words) > MAX_WORDS:
        raise AnalyzerError(f"the transcript has {len(words)} words; at most {MAX_WORDS} can be aligned at once: "
                            "align a shorter passage")
    return Transcript(text=clean, words=tuple(words))
