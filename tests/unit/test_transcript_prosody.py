"""Prosody regularity: natural speech is not flagged, eSpeak NG speech is.

The natural-speech test needs the shared LibriSpeech excerpt (validation speakers of
forensics_app.training.corpus.split_speakers) and skips without it; the corpus has no transcripts,
so it tests the pitch measure on fixed windows, not the alignment.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from forensics_app.training.audio_io import read_mono, resample
from forensics_app.transcript import prosody
from forensics_app.transcript.render import render
from forensics_app.transcript.text import parse_transcript

SHARED = Path(os.environ.get("FORENSICS_APP_SHARED") or Path(__file__).resolve().parents[2].parent / "shared")
CORPUS = SHARED / "datasets" / "librispeech-train-clean-100-200spk"
HAVE_ESPEAK = shutil.which("espeak-ng") is not None
SENTENCE = ("The old teacher carried a heavy basket across the wooden bridge, and the children waited quietly "
            "beside the river until the evening.")


def _windows(track: prosody.PitchTrack, length_s: float) -> list[tuple[float, int]]:
    end = float(track.times_s[-1])
    return [prosody.smoothness(track, a, a + length_s) for a in np.arange(0.0, end - length_s + 1e-9, length_s)]


@pytest.mark.skipif(not CORPUS.is_dir(), reason=f"shared corpus not present at {CORPUS}")
def test_natural_speech_is_not_implausibly_regular() -> None:
    from forensics_app.training.corpus import list_corpus, split_speakers

    speakers = split_speakers(list_corpus(CORPUS)).validation[:4]
    judged = 0
    for utterance in speakers:
        track = prosody.pitch_track(read_mono(utterance.path)[: 16000 * 8], rate=16000)
        for d2, voiced in [*_windows(track, 2.5), prosody.smoothness(track, 0.0, 8.0)]:
            assert not prosody.pitch_too_smooth(d2, voiced), f"{utterance.utterance}: {d2:.2f} cents flagged"
            judged += voiced >= prosody.MIN_VOICED_FRAMES
    assert judged >= 8, "enough windows had pitch to judge"


@pytest.mark.skipif(not HAVE_ESPEAK, reason="espeak-ng is not installed")
@pytest.mark.parametrize("voice", ["en-us", "en-gb-x-rp"])
def test_espeak_speech_is_implausibly_regular(voice: str) -> None:
    r = render(parse_transcript(SENTENCE), voice=voice)
    track = prosody.pitch_track(resample(r.samples, src_rate=r.rate, dst_rate=16000), rate=16000)
    d2, voiced = prosody.smoothness(track, 0.0, r.duration_s)
    assert prosody.pitch_too_smooth(d2, voiced), f"{voice}: {d2:.2f} cents over {voiced} frames"


def test_duration_spread_separates_rescaled_from_varied_timing() -> None:
    synthetic = np.array([[0.0, 0.2], [0.2, 0.5], [0.55, 0.7], [0.7, 1.1], [1.1, 1.3], [1.3, 1.6]])
    rescaled = synthetic * 1.3 + 0.4
    assert prosody.duration_spread(rescaled, synthetic) < 1e-9
    varied = rescaled.copy()
    varied[:, 1] = varied[:, 0] + (synthetic[:, 1] - synthetic[:, 0]) * np.array([0.8, 1.6, 1.0, 0.7, 1.4, 1.1])
    assert prosody.duration_spread(varied, synthetic) > 2 * prosody.DURATION_SPREAD_THRESHOLD


def test_phrases_end_at_pauses_and_short_tails_join() -> None:
    starts = np.array([0, 0.3, 0.6, 0.9, 1.2, 1.5, 1.8, 2.1, 2.4, 2.7, 4.0, 4.3, 4.6, 4.9, 5.2, 5.5])
    spans = np.column_stack([starts, starts + 0.25])
    assert prosody.phrases(spans) == [(0, 10), (10, 16)]  # 8 + a 2-word tail joined; a 1.05 s pause


def test_phrase_prosody_flags_a_rescaled_smooth_reading() -> None:
    t = np.arange(0, 3.0, prosody.PITCH_HOP_S)
    track = prosody.PitchTrack(times_s=t, f0_hz=120.0 + 20.0 * t)  # a straight glide: no frame-to-frame wobble
    synthetic = np.column_stack([np.arange(6) * 0.4, np.arange(6) * 0.4 + 0.35])
    spans = synthetic * 1.2 + 0.2
    [phrase] = prosody.phrase_prosody(track, spans, synthetic, np.ones(6, bool))
    assert phrase.pitch_d2_cents < 0.5 and phrase.duration_spread < 1e-9 and len(phrase.reasons) == 2
    rough = prosody.PitchTrack(times_s=t, f0_hz=track.f0_hz * 2 ** (np.random.default_rng(0).normal(0, 0.1, t.size) / 12))
    varied = spans.copy()
    varied[:, 1] = varied[:, 0] + 0.35 * np.array([0.7, 1.5, 1.0, 0.8, 1.3, 1.1])
    [natural] = prosody.phrase_prosody(rough, varied, synthetic, np.ones(6, bool))
    assert natural.reasons == ()
    [monotonous] = prosody.phrase_prosody(track, varied, synthetic, np.ones(6, bool))
    assert monotonous.duration_spread > prosody.DURATION_SPREAD_NATURAL and monotonous.reasons == (), \
        "smooth pitch alone is not trusted when the timing is natural"


@pytest.mark.skipif(not HAVE_ESPEAK, reason="espeak-ng is not installed")
def test_pitch_is_tracked_in_blocks_that_join_seamlessly(monkeypatch: pytest.MonkeyPatch) -> None:
    from forensics_app.domain.errors import Cancelled
    from forensics_app.domain.jobs import ProgressToken

    r = render(parse_transcript(SENTENCE), voice="en-us+m3")
    x = resample(r.samples, src_rate=r.rate, dst_rate=16000)
    whole = prosody.pitch_track(x, rate=16000, start_s=0.5, end_s=4.5)
    monkeypatch.setattr(prosody, "PITCH_BLOCK_S", 1.0)
    blocks = prosody.pitch_track(x, rate=16000, start_s=0.5, end_s=4.5)
    assert blocks.times_s[0] == pytest.approx(0.5) and np.allclose(np.diff(blocks.times_s), prosody.PITCH_HOP_S)
    np.testing.assert_allclose(blocks.times_s, whole.times_s)
    both = (whole.f0_hz > 0) & (blocks.f0_hz > 0)
    assert np.mean((whole.f0_hz > 0) == (blocks.f0_hz > 0)) > 0.95
    assert np.median(np.abs(np.log2(whole.f0_hz[both] / blocks.f0_hz[both]))) < 0.01
    token = ProgressToken()
    token.cancel()
    with pytest.raises(Cancelled):
        prosody.pitch_track(x, rate=16000, progress=token)
