"""The local eSpeak NG rendering of a transcript and its word times."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from forensics_app.domain.errors import AnalyzerError, Cancelled
from forensics_app.domain.jobs import ProgressToken
from forensics_app.transcript.render import check_voice, render
from forensics_app.transcript.text import parse_transcript

pytestmark = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed")


def _loud(x: np.ndarray, rate: int, a: float, b: float) -> float:
    seg = x[int(a * rate):int(b * rate)]
    return float(np.sqrt(np.mean(seg.astype(np.float64) ** 2))) if seg.size else 0.0


def test_word_spans_are_ordered_and_hold_the_words_sound() -> None:
    r = render(parse_transcript("Quiet rivers, bright lamps. Seven horses waited."), voice="en-us")
    assert r.rate == 22050 and r.samples.dtype == np.float32 and r.words[0] == "Quiet"
    s = r.spans_s
    assert s.shape == (7, 2) and np.all(s[:, 1] > s[:, 0]) and np.all(s[1:, 0] >= s[:-1, 1] - 1e-9)
    assert s[-1, 1] <= r.duration_s + 1e-9
    # the comma and the full stop give pauses that belong to no word
    assert s[2, 0] - s[1, 1] > 0.05 and s[4, 0] - s[3, 1] > 0.05
    peak = max(_loud(r.samples, r.rate, a, b) for a, b in s)
    for a, b in s:
        assert _loud(r.samples, r.rate, a, b) > 0.05 * peak
    assert _loud(r.samples, r.rate, s[3, 1] + 0.01, s[4, 0] - 0.01) < 0.01 * peak


def test_numbers_read_as_several_words_keep_one_span() -> None:
    r = render(parse_transcript("In 1984 it rained."))
    assert r.words == ("In", "1984", "it", "rained")
    dur = r.spans_s[:, 1] - r.spans_s[:, 0]
    assert dur[1] > 2 * dur[0], "'nineteen eighty-four' lasts longer than 'in'"


def test_voice_and_rate_change_the_rendering() -> None:
    t = parse_transcript("Seven bright horses waited beside the river.")
    slow, fast = render(t, speed_wpm=120), render(t, voice="en-gb-x-rp+f3", speed_wpm=300)
    assert fast.duration_s < 0.7 * slow.duration_s and fast.voice == "en-gb-x-rp+f3"


def test_shell_metacharacters_are_just_text() -> None:
    r = render(parse_transcript("hello $(touch /tmp/pwned) `id`; echo done"))
    assert r.words[0] == "hello" and r.duration_s > 0.5


@pytest.mark.parametrize("voice", ["en us", "en-us; rm", "../../etc", ""])
def test_malformed_voice_names_are_refused(voice: str) -> None:
    with pytest.raises(AnalyzerError, match="voice"):
        check_voice(voice)


def test_unknown_voice_and_bad_settings_are_refused() -> None:
    t = parse_transcript("hello")
    with pytest.raises(AnalyzerError, match="no voice 'xx-nope'"):
        render(t, voice="xx-nope")
    with pytest.raises(AnalyzerError, match="speed_wpm 20"):
        render(t, speed_wpm=20)


def test_cancel_stops_the_rendering() -> None:
    token = ProgressToken()
    token.cancel()
    with pytest.raises(Cancelled):
        render(parse_transcript("word " * 200), progress=token)
