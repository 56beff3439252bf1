"""Transcript alignment accuracy on generated ground truth: every word within 100 ms of its known time.

The questioned recordings are eSpeak NG readings that differ from the aligner's own en-us rendering
in voice (accent and voice variant), rate, pitch, sample rate (44.1 kHz), channels and level, with
a leading silence and pauses inserted between some words. Known word times come either from
per-word renderings concatenated at known offsets (independent of eSpeak's word events) or from
the questioned reading's own word events shifted by the inserted pauses.
"""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from forensics_app.domain.errors import AnalyzerError, Cancelled
from forensics_app.domain.jobs import ProgressToken
from forensics_app.training.audio_io import resample
from forensics_app.transcript import align as align_mod
from forensics_app.transcript.render import render
from forensics_app.transcript.text import parse_transcript

pytestmark = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed")

RATE = 44100
CONTENT = ("Seven bright horses crossed Henry's quiet garden slowly, while eleven children waited beside "
           "distant mountains until evening.")
SENTENCE = ("The old teacher carried a heavy basket across the wooden bridge, and the children waited quietly "
            "beside the river until the evening.")


def word_by_word(text: str, *, voice: str, pauses: dict[int, float], lead_s: float) -> tuple[np.ndarray, np.ndarray]:
    """Each word rendered alone, trimmed, and concatenated with 20 ms gaps (longer ones in ``pauses``).

    Returns stereo 44.1 kHz samples (n, 2) and the known word spans (n_words, 2) in s.
    """
    words = parse_transcript(text).labels
    pieces, spans = [np.zeros(int(lead_s * 22050), np.float32)], []
    pos = pieces[0].size
    for i, w in enumerate(words):
        r = render(parse_transcript(w), voice=voice, speed_wpm=200, pitch=60)
        a, b = (r.spans_s[0] * r.rate).astype(int)
        spans.append((pos / r.rate, (pos + b - a) / r.rate))
        gap = np.zeros(int(pauses.get(i + 1, 0.02) * r.rate), np.float32)
        pieces += [r.samples[a:b], gap]
        pos += b - a + gap.size
    y = resample(np.concatenate(pieces), src_rate=22050, dst_rate=RATE) * 0.4
    return np.stack([y, 0.7 * y], axis=1), np.array(spans)


def sentence_reading(text: str, *, voice: str, speed_wpm: int, pitch: int, pauses: dict[int, float],
                     lead_s: float) -> tuple[np.ndarray, np.ndarray]:
    """The whole text read in one go; silence inserted before the words in ``pauses``.

    Returns mono 44.1 kHz samples (n,) and the word spans (n_words, 2) from the reading's word
    events, shifted by the inserted silence.
    """
    r = render(parse_transcript(text), voice=voice, speed_wpm=speed_wpm, pitch=pitch)
    x, truth = r.samples, r.spans_s + lead_s
    pieces, prev = [np.zeros(int(lead_s * r.rate), np.float32)], 0
    for w, pause in sorted(pauses.items()):
        cut = int(0.5 * (r.spans_s[w - 1, 1] + r.spans_s[w, 0]) * r.rate)
        pieces += [x[prev:cut], np.zeros(int(pause * r.rate), np.float32)]
        truth[w:] += int(pause * r.rate) / r.rate
        prev = cut
    pieces.append(x[prev:])
    return resample(np.concatenate(pieces), src_rate=r.rate, dst_rate=RATE) * 0.25, truth


def _errors(samples: np.ndarray, text: str, truth: np.ndarray) -> np.ndarray:
    al = align_mod.align(samples, RATE, render(parse_transcript(text), voice="en-us"))
    assert al.words == parse_transcript(text).labels
    return np.abs(al.spans_s - truth).max(axis=1)


def test_word_by_word_reading_in_another_accent_and_voice() -> None:
    y, truth = word_by_word(CONTENT, voice="en-gb-x-rp+f3", pauses={4: 0.45, 11: 0.8}, lead_s=1.2)
    err = _errors(y, CONTENT, truth)
    assert err.max() < 0.1, f"word errors (ms): {np.round(err * 1000)}"


@pytest.mark.parametrize(("voice", "speed", "pitch"), [("en+klatt", 150, 75), ("en-gb-scotland+m3", 210, 30)])
def test_sentence_reading_at_another_rate_and_pitch(voice: str, speed: int, pitch: int) -> None:
    y, truth = sentence_reading(SENTENCE, voice=voice, speed_wpm=speed, pitch=pitch,
                                pauses={3: 0.4, 8: 0.7, 16: 0.3}, lead_s=0.9)
    err = _errors(y, SENTENCE, truth)
    assert err.max() < 0.1, f"word errors (ms): {np.round(err * 1000)}"


def test_coarse_to_fine_band_gives_the_same_accuracy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(align_mod, "FULL_BAND_CELLS", 0)  # force the coarse pass and the 10 ms band
    y, truth = sentence_reading(SENTENCE, voice="en+klatt", speed_wpm=160, pitch=70, pauses={5: 1.5, 12: 2.0},
                                lead_s=3.0)
    al = align_mod.align(np.concatenate([y, np.zeros(3 * RATE, np.float32)]), RATE, render(parse_transcript(SENTENCE)))
    assert al.band_width < al.graph.n_states, "the fine pass ran in a band"
    assert np.abs(al.spans_s - truth).max() < 0.1


def test_path_rows_climb_through_the_words() -> None:
    y, _ = sentence_reading(CONTENT, voice="en+klatt", speed_wpm=170, pitch=50, pauses={6: 0.5}, lead_s=0.5)
    al = align_mod.align(y, RATE, render(parse_transcript(CONTENT)))
    rows = al.path_rows()
    assert np.all(np.diff(rows) >= -1e-9) and rows[0] == -0.5 and rows[-1] <= len(al.words) - 0.5
    centre = al.spans_s.mean(axis=1)
    frames = np.round(centre / al.hop_s).astype(int)
    assert np.all(np.abs(rows[frames] - np.arange(len(al.words))) < 0.5)


def test_recordings_that_cannot_hold_the_transcript_are_refused() -> None:
    rendering = render(parse_transcript(SENTENCE))
    with pytest.raises(AnalyzerError, match="silent"):
        align_mod.align(np.zeros((RATE, 2), np.float32), RATE, rendering)
    short = resample(rendering.samples[: rendering.rate], src_rate=rendering.rate, dst_rate=RATE)
    with pytest.raises(AnalyzerError, match="too short for the transcript"):
        align_mod.align(short, RATE, rendering)


def test_cancel_stops_the_alignment() -> None:
    y, _ = sentence_reading(SENTENCE, voice="en+klatt", speed_wpm=170, pitch=50, pauses={}, lead_s=0.5)
    token = ProgressToken()
    token.cancel()
    with pytest.raises(Cancelled):
        align_mod.align(y, RATE, render(parse_transcript(SENTENCE)), progress=token)
