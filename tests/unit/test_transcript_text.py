"""Transcript validation: what the investigator types is checked before anything reads it aloud."""

from __future__ import annotations

import pytest

from forensics_app.domain.errors import AnalyzerError
from forensics_app.transcript.text import MAX_CHARS, MAX_WORDS, parse_transcript


def test_words_are_the_tokens_without_surrounding_punctuation() -> None:
    t = parse_transcript("  In 1984,\nDr. Smith's e-mail -- cost $3.50 ...  ")
    assert t.text == "In 1984, Dr. Smith's e-mail -- cost $3.50 ..."
    assert t.labels == ("In", "1984", "Dr", "Smith's", "e-mail", "cost", "3.50")
    first = t.words[1]
    assert t.text[first.char_start:first.char_end] == "1984,"


def test_harmless_invisible_characters_are_dropped() -> None:
    t = parse_transcript("zero\u200bwidth soft\u00adhyphen\ufeff")
    assert t.labels == ("zerowidth", "softhyphen")


@pytest.mark.parametrize(("text", "message"), [
    ("", "empty"),
    ("   \n\t ", "empty"),
    ("... -- !!", "no word"),
    ("hello\x07world", "control character (U+0007"),
    ("pay \u202eevil\u202c now", "invisible format character (U+202E"),
    ("good \U0001F600 morning", "cannot be read aloud (U+1F600"),
    ("private \ue000 use", "not text (U+E000"),
    ("x" * 60, "60-character word"),
    ("word " * (MAX_WORDS + 1), f"at most {MAX_WORDS}"),
    ("ab " * (MAX_CHARS // 2), f"at most {MAX_CHARS}"),
])
def test_bad_transcripts_are_refused_with_a_clear_message(text: str, message: str) -> None:
    with pytest.raises(AnalyzerError, match="transcript") as err:
        parse_transcript(text)
    assert message in str(err.value)


def test_a_transcript_must_be_text() -> None:
    with pytest.raises(AnalyzerError, match="must be text"):
        parse_transcript(b"bytes")
