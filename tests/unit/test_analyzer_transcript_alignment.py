"""The audio.transcript_alignment analyzer on generated readings with known word times.

Questioned recordings are eSpeak NG readings in other voices than the analyzer's own en-us
rendering, at 44.1 kHz stereo with a leading silence; word times come from the reading's word
events. A reading that skips or swaps words must produce poorly-aligned-word findings at those
words; an eSpeak reading must be flagged as implausibly regular prosody.
"""

from __future__ import annotations

import importlib
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from forensics_app.analysis import registry
from forensics_app.domain.errors import AnalyzerError, Cancelled
from forensics_app.domain.jobs import ProgressToken
from forensics_app.domain.media import AudioClip
from forensics_app.domain.results import AnalysisResult
from forensics_app.training.audio_io import resample
from forensics_app.transcript.render import render
from forensics_app.transcript.text import parse_transcript

pytestmark = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed")

MODULE = importlib.import_module("forensics_app.analysis.resynthesis.transcript_alignment")
RATE = 44100
LEAD_S = 0.8
TEXT = ("The old teacher carried a heavy basket across the wooden bridge, and the children waited quietly "
        "beside the river until the evening.")


def reading(text: str, *, voice: str, speed_wpm: int, pitch: int) -> tuple[AudioClip, np.ndarray]:
    """A stereo 44.1 kHz clip of ``text`` read by eSpeak NG after LEAD_S of silence, and its word spans (s)."""
    r = render(parse_transcript(text), voice=voice, speed_wpm=speed_wpm, pitch=pitch)
    x = resample(np.concatenate([np.zeros(int(LEAD_S * r.rate), np.float32), r.samples]), src_rate=r.rate,
                 dst_rate=RATE) * 0.3
    return AudioClip(samples=np.stack([x, 0.9 * x], axis=1), rate=RATE, path=Path("questioned.wav")), r.spans_s + LEAD_S


def analyse(clip: AudioClip, progress: ProgressToken | None = None, **params: Any) -> AnalysisResult:
    info = registry.get("audio.transcript_alignment")
    resolved: Mapping[str, Any] = info.resolve_params({"transcript": TEXT, **params})
    return MODULE.transcript_alignment(clip, params=resolved, progress=progress or ProgressToken())


def poorly_aligned(result: AnalysisResult) -> dict[int, Any]:
    return {f.details["word_index"]: f for f in result.findings if f.label.startswith("Poorly aligned word")}


def test_faithful_reading_is_aligned_word_by_word_and_its_prosody_is_flagged() -> None:
    clip, truth = reading(TEXT, voice="en-gb-scotland", speed_wpm=170, pitch=55)
    fractions: list[float] = []
    result = analyse(clip, ProgressToken(lambda f, _m: fractions.append(f)))
    overview = result.findings[0]
    assert overview.label == "Transcript alignment" and overview.fake_likelihood is None
    [matrix] = overview.alignments
    words = parse_transcript(TEXT).labels
    assert matrix.name == "transcript-attention" and matrix.row_labels == words
    assert np.abs(matrix.row_spans_s - truth).max() < 0.1
    details = overview.details["words"]
    assert [d["word"] for d in details] == list(words)
    assert max(abs(d["start_s"] - t[0]) for d, t in zip(details, truth, strict=True)) < 0.1
    assert min(d["alignment_score"] for d in details) > 0.5 and not poorly_aligned(result)
    assert "who spoke" in overview.details["explanation"]
    assert overview.series and overview.series[0].name == "transcript-f0" and overview.series[0].unit == "Hz"
    regular = [f for f in result.findings if f.label == "Implausibly regular prosody"]
    assert regular, "an eSpeak reading has eSpeak's smooth pitch and proportional durations"
    assert all(f.fake_likelihood is None and f.end_s > f.start_s for f in regular)
    assert fractions == sorted(fractions) and fractions[-1] == pytest.approx(1.0)


@pytest.mark.parametrize(("voice", "speed"), [("en-gb-x-rp+m3", 150), ("en-us+m3", 190)])
def test_a_skipped_word_is_reported_at_the_right_word(voice: str, speed: int) -> None:
    clip, truth = reading(TEXT.replace("heavy ", ""), voice=voice, speed_wpm=speed, pitch=40)
    result = analyse(clip, prosody=False)
    flagged = poorly_aligned(result)
    assert set(flagged) == {5}, {i: f.details["presence"] for i, f in flagged.items()}
    finding = flagged[5]
    assert finding.label == "Poorly aligned word: 'heavy'" and finding.details["word"] == "heavy"
    # the reading goes from "a" (truth[4]) straight to "basket" (truth[5]): the finding sits at that join
    assert truth[4][0] - 0.1 <= finding.start_s <= finding.end_s <= truth[5][1] + 0.1


def test_swapped_words_are_reported() -> None:
    clip, _ = reading(TEXT.replace("wooden bridge", "bridge wooden"), voice="en+klatt", speed_wpm=160, pitch=70)
    flagged = poorly_aligned(analyse(clip, prosody=False))
    assert flagged and set(flagged) <= {9, 10}, sorted(flagged)


@pytest.mark.parametrize(("transcript", "message"), [
    ("", "empty"), ("\u202ereversed", "invisible format character"), ("...", "no word"),
])
def test_bad_transcripts_give_clear_errors(transcript: str, message: str) -> None:
    clip, _ = reading("hello there", voice="en-us", speed_wpm=175, pitch=50)
    with pytest.raises(AnalyzerError, match=message):
        analyse(clip, transcript=transcript)


def test_bad_voice_and_too_short_recording_give_clear_errors() -> None:
    clip, _ = reading("hello there", voice="en-us", speed_wpm=175, pitch=50)
    with pytest.raises(AnalyzerError, match="no voice"):
        analyse(clip, voice="zz-none")
    with pytest.raises(AnalyzerError, match="too short for the transcript"):
        analyse(clip)


def test_cancel_mid_run_raises_cancelled() -> None:
    clip, _ = reading(TEXT, voice="en+klatt", speed_wpm=160, pitch=70)
    seen: list[float] = []
    token: ProgressToken

    def on_progress(fraction: float, _message: str) -> None:
        seen.append(fraction)
        if fraction > 0.45:
            token.cancel()

    token = ProgressToken(on_progress)
    with pytest.raises(Cancelled):
        analyse(clip, token)
    assert 0.45 < max(seen) < 0.9, "cancelled in the middle, not at the end"
